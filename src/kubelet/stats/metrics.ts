// The kubelet's Prometheus endpoints: /metrics/resource (what metrics-server scrapes,
// derived from the Summary's CPU and memory figures, upstream's stable names) and
// /metrics (the kubelet's own: pods and containers running, pod start durations, HTTP
// requests served, node name, process start time).

import type { KObject } from '../../api/object.ts';
import type { Summary } from './summary.ts';

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  const e = Object.entries(l);
  return e.length ? `{${e.map(([k, v]) => `${k}="${esc(v)}"`).join(',')}}` : '';
}

/** Go's %g-like float text Prometheus clients print (1e+09 style exponents are accepted as is). */
function num(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toPrecision(15)));
}

const ms = (t: string) => Date.parse(t);

/**
 * /metrics/resource from a summary (as upstream's resource metrics collector): every
 * sample carries the timestamp (ms) of the reading it comes from; containers and pods
 * without a CPU or memory reading are left out; scrape_error is 1 when the summary
 * could not be produced.
 */
export function renderResourceMetrics(summary: Summary | undefined): string {
  const out: string[] = [];
  const family = (name: string, help: string, type: string, rows: string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows);
  };
  const node = summary?.node;
  const pods = summary?.pods ?? [];
  const cRows = (f: (c: Summary['pods'][0]['containers'][0], p: Summary['pods'][0]) => string | undefined) =>
    pods.flatMap((p) => p.containers.map((c) => f(c, p)).filter((x): x is string => x !== undefined));
  const cl = (c: { name: string }, p: Summary['pods'][0]) => labels({ container: c.name, namespace: p.podRef.namespace, pod: p.podRef.name });
  const pl = (p: Summary['pods'][0]) => labels({ namespace: p.podRef.namespace, pod: p.podRef.name });

  family('container_cpu_usage_seconds_total', '[STABLE] Cumulative cpu time consumed by the container in core-seconds', 'counter',
    cRows((c, p) => (c.cpu?.usageCoreNanoSeconds === undefined ? undefined : `container_cpu_usage_seconds_total${cl(c, p)} ${num(c.cpu.usageCoreNanoSeconds / 1e9)} ${ms(c.cpu.time)}`)));
  family('container_memory_working_set_bytes', '[STABLE] Current working set of the container in bytes', 'gauge',
    cRows((c, p) => (c.memory?.workingSetBytes === undefined ? undefined : `container_memory_working_set_bytes${cl(c, p)} ${c.memory.workingSetBytes} ${ms(c.memory.time)}`)));
  family('container_start_time_seconds', '[STABLE] Start time of the container since unix epoch in seconds', 'gauge',
    cRows((c, p) => `container_start_time_seconds${cl(c, p)} ${num(ms(c.startTime) / 1000)} ${ms(c.startTime)}`));
  family('node_cpu_usage_seconds_total', '[STABLE] Cumulative cpu time consumed by the node in core-seconds', 'counter',
    node?.cpu?.usageCoreNanoSeconds === undefined ? [] : [`node_cpu_usage_seconds_total ${num(node.cpu.usageCoreNanoSeconds / 1e9)} ${ms(node.cpu.time)}`]);
  family('node_memory_working_set_bytes', '[STABLE] Current working set of the node in bytes', 'gauge',
    node?.memory?.workingSetBytes === undefined ? [] : [`node_memory_working_set_bytes ${node.memory.workingSetBytes} ${ms(node.memory.time)}`]);
  family('pod_cpu_usage_seconds_total', '[STABLE] Cumulative cpu time consumed by the pod in core-seconds', 'counter',
    pods.flatMap((p) => (p.cpu?.usageCoreNanoSeconds === undefined ? [] : [`pod_cpu_usage_seconds_total${pl(p)} ${num(p.cpu.usageCoreNanoSeconds / 1e9)} ${ms(p.cpu.time)}`])));
  family('pod_memory_working_set_bytes', '[STABLE] Current working set of the pod in bytes', 'gauge',
    pods.flatMap((p) => (p.memory?.workingSetBytes === undefined ? [] : [`pod_memory_working_set_bytes${pl(p)} ${p.memory.workingSetBytes} ${ms(p.memory.time)}`])));
  const err = summary ? 0 : 1;
  family('resource_scrape_error', '[STABLE] 1 if there was an error while getting container metrics, 0 otherwise', 'gauge', [`resource_scrape_error ${err}`]);
  family('scrape_error', '[ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise', 'gauge', [`scrape_error ${err}`]);
  return out.join('\n') + '\n';
}

/** Upstream's kubelet_pod_start_duration_seconds buckets. */
export const POD_START_BUCKETS = [0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  readonly buckets: number[];

  constructor(buckets: number[]) {
    this.buckets = buckets;
    this.counts = new Array(buckets.length).fill(0);
  }

  observe(v: number): void {
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
    this.sum += v;
    this.count++;
  }

  render(name: string): string[] {
    return [
      ...this.buckets.map((b, i) => `${name}_bucket{le="${b}"} ${this.counts[i]}`),
      `${name}_bucket{le="+Inf"} ${this.count}`,
      `${name}_sum ${num(this.sum)}`,
      `${name}_count ${this.count}`,
    ];
  }
}

/**
 * How long a pod took to start, as upstream's kubelet_pod_start_duration_seconds: from the
 * kubelet first seeing it (status.startTime, which the kubelet sets then) to every
 * regular container running (the latest startedAt). Undefined until all run.
 */
export function podStartSeconds(pod: KObject): number | undefined {
  const st = (pod.status ?? {}) as { startTime?: string; containerStatuses?: { state?: { running?: { startedAt?: string } } }[] };
  const n = ((pod.spec as { containers?: unknown[] } | undefined)?.containers ?? []).length;
  const started = (st.containerStatuses ?? []).map((c) => c.state?.running?.startedAt).filter((t): t is string => !!t);
  if (!st.startTime || n === 0 || started.length < n) return undefined;
  const end = Math.max(...started.map((t) => Date.parse(t)));
  const begin = Date.parse(st.startTime);
  if (!Number.isFinite(end) || !Number.isFinite(begin)) return undefined;
  return Math.max(0, (end - begin) / 1000);
}

export interface RuntimeCounts {
  runningPods: number;
  /** container_state → count: created, running, exited, unknown. */
  containers: Record<string, number>;
}

/** The kubelet's own /metrics. */
export class KubeletMetrics {
  readonly #nodeName: string;
  readonly #started = Date.now();
  readonly #podStart = new Histogram(POD_START_BUCKETS);
  /** Pods already observed in the histogram (by uid), each once. */
  readonly #seen = new Set<string>();
  readonly #http = new Map<string, number>();

  constructor(nodeName: string) {
    this.#nodeName = nodeName;
  }

  /**
   * Observes the start duration of each pod that started while this kubelet ran (a pod
   * adopted after a restart was seen first by an earlier kubelet: left out, as upstream).
   */
  observePods(pods: KObject[]): void {
    const live = new Set<string>();
    for (const p of pods) {
      const uid = p.metadata.uid ?? '';
      live.add(uid);
      if (this.#seen.has(uid)) continue;
      const startTime = Date.parse(((p.status ?? {}) as { startTime?: string }).startTime ?? '');
      // status.startTime has second precision: allow for the truncation.
      if (!Number.isFinite(startTime) || startTime < this.#started - 1000) {
        this.#seen.add(uid);
        continue;
      }
      const s = podStartSeconds(p);
      if (s === undefined) continue;
      this.#seen.add(uid);
      this.#podStart.observe(s);
    }
    for (const uid of this.#seen) if (!live.has(uid)) this.#seen.delete(uid);
  }

  /** One served request; `path` is the first segment of the URL path, as upstream labels it. */
  request(method: string, urlPath: string, longRunning: boolean): void {
    const root = urlPath.split('/').filter(Boolean)[0] ?? '';
    const k = `${method}\0${root}\0${longRunning}`;
    this.#http.set(k, (this.#http.get(k) ?? 0) + 1);
  }

  render(rt: RuntimeCounts | undefined): string {
    const out: string[] = [];
    const family = (name: string, help: string, type: string, rows: string[]) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows);
    family('kubelet_http_requests_total', '[ALPHA] Number of the http requests received since the server started', 'counter',
      [...this.#http].map(([k, v]) => {
        const [method, path, longRunning] = k.split('\0');
        return `kubelet_http_requests_total${labels({ long_running: longRunning, method, path, server_type: 'readwrite' })} ${v}`;
      }));
    family('kubelet_node_name', '[ALPHA] The node\'s name. The count is always 1.', 'gauge', [`kubelet_node_name${labels({ node: this.#nodeName })} 1`]);
    family('kubelet_pod_start_duration_seconds', '[ALPHA] Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run', 'histogram',
      this.#podStart.render('kubelet_pod_start_duration_seconds'));
    if (rt) {
      family('kubelet_running_containers', '[ALPHA] Number of containers currently running', 'gauge',
        Object.entries(rt.containers).sort().map(([state, n]) => `kubelet_running_containers${labels({ container_state: state })} ${n}`));
      family('kubelet_running_pods', '[ALPHA] Number of pods that have a running pod sandbox', 'gauge', [`kubelet_running_pods ${rt.runningPods}`]);
    }
    family('process_start_time_seconds', '[ALPHA] Start time of the process since unix epoch in seconds.', 'gauge', [`process_start_time_seconds ${num(Math.floor(performance.timeOrigin) / 1000)}`]);
    family('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', [`process_resident_memory_bytes ${process.memoryUsage().rss}`]);
    const cpu = process.cpuUsage();
    family('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', 'counter', [`process_cpu_seconds_total ${num((cpu.user + cpu.system) / 1e6)}`]);
    return out.join('\n') + '\n';
  }
}
