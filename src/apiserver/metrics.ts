// Prometheus text exposition for the apiserver: request counts and latency histograms
// by verb and resource, with upstream's metric names.

const BUCKETS = [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');
}

export class ApiMetrics {
  // Keyed by the raw label values joined with \0; labels are escaped only when rendered.
  private readonly requests = new Map<string, number>();
  private readonly durations = new Map<string, Histogram>();
  private readonly started = Date.now();
  inflight = 0;

  observe(l: { verb: string; group: string; version: string; resource: string; subresource: string; scope: string; code: number }, seconds: number): void {
    const base = `${l.verb}\0${l.group}\0${l.version}\0${l.resource}\0${l.subresource}\0${l.scope}`;
    const reqKey = `${base}\0${l.code}`;
    this.requests.set(reqKey, (this.requests.get(reqKey) ?? 0) + 1);
    // Watches are long-lived: upstream excludes them from the latency histogram.
    if (l.verb === 'WATCH') return;
    let h = this.durations.get(base);
    if (!h) this.durations.set(base, (h = { counts: new Array(BUCKETS.length).fill(0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]) h.counts[i]++;
    h.sum += seconds;
    h.count++;
  }

  render(extra: string[] = []): string {
    const out: string[] = [];
    out.push('# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, dry run value, group, version, resource, scope, component, and HTTP response code.');
    out.push('# TYPE apiserver_request_total counter');
    for (const [k, v] of this.requests) {
      const [verb, group, version, resource, subresource, scope, code] = k.split('\0');
      out.push(`apiserver_request_total{${labelText({ verb, group, version, resource, subresource, scope, component: 'apiserver', code })}} ${v}`);
    }
    out.push('# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb, dry run value, group, version, resource, subresource, scope and component.');
    out.push('# TYPE apiserver_request_duration_seconds histogram');
    for (const [raw, h] of this.durations) {
      const [verb, group, version, resource, subresource, scope] = raw.split('\0');
      const k = labelText({ verb, group, version, resource, subresource, scope, component: 'apiserver' });
      for (let i = 0; i < BUCKETS.length; i++) out.push(`apiserver_request_duration_seconds_bucket{${k},le="${BUCKETS[i]}"} ${h.counts[i]}`);
      out.push(`apiserver_request_duration_seconds_bucket{${k},le="+Inf"} ${h.count}`);
      out.push(`apiserver_request_duration_seconds_sum{${k}} ${h.sum}`);
      out.push(`apiserver_request_duration_seconds_count{${k}} ${h.count}`);
    }
    out.push('# HELP apiserver_current_inflight_requests Maximal number of currently used inflight request limit of this apiserver per request kind in last second.');
    out.push('# TYPE apiserver_current_inflight_requests gauge');
    out.push(`apiserver_current_inflight_requests{request_kind="all"} ${this.inflight}`);
    out.push('# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.');
    out.push('# TYPE process_start_time_seconds gauge');
    out.push(`process_start_time_seconds ${Math.floor(this.started / 1000)}`);
    const mem = process.memoryUsage();
    out.push('# HELP process_resident_memory_bytes Resident memory size in bytes.');
    out.push('# TYPE process_resident_memory_bytes gauge');
    out.push(`process_resident_memory_bytes ${mem.rss}`);
    out.push(...extra);
    return out.join('\n') + '\n';
  }
}
