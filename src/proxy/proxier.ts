// The service proxy (kube-proxy, nftables mode) as a component: it watches Services and
// EndpointSlices through shared informers and keeps one nftables table in step with
// them. Level-triggered: an event only marks the world dirty; a sync renders the whole
// table from the informers' caches and replaces it in one `nft -f` transaction. What
// must hold:
//   - Syncs run one at a time, at most once per minSyncPeriod (the first change after a
//     quiet spell goes at once), and at least once per syncPeriod (repairing a table
//     someone else changed or deleted).
//   - After a restart the first sync lists what the table holds and deletes what is no
//     longer wanted; nothing is kept in memory that the API and the table cannot rebuild.
//   - A failed transaction leaves the previous rules in place; the next sync retries
//     with a fresh listing of the table.
//   - The time from an object change to its rules being live is measured
//     (kubeproxy_network_programming_duration_seconds; EndpointSlices carry the trigger
//     time of the pod change in endpoints.kubernetes.io/last-change-trigger-time) and
//     logged for every sync that applied changes.
//   - Health (src/proxy/healthcheck.ts): a change queued and not live within
//     healthTimeout makes the proxy unhealthy; every successful sync (applied or
//     unchanged) marks it updated and re-syncs the healthCheckNodePort listeners and their
//     local endpoint counts, as kube-proxy does after its transaction. A failed transaction
//     leaves them as they were. Listeners and the healthz server close when the proxier stops.

import type { KObject } from '../api/object.ts';
import type { SharedInformerFactory } from '../client/factory.ts';
import type { EventRecorder } from '../client/events.ts';
import type { Informer } from '../client/informer.ts';
import { ref } from '../client/resources.ts';
import type { Logger } from '../client/util.ts';
import type { AddressInfo } from 'node:net';
import { ProxyHealth, ProxyHealthzServer, ServiceHealthServer, type HealthCheckService } from './healthcheck.ts';
import { healthCheckNodePort, LABEL_SERVICE_NAME, localReadyEndpoints, servicePorts, type ServicePort } from './model.ts';
import { listTable, NftMissingError, nftRunner, type NftRunner } from './nft.ts';
import { removeScript, renderRuleset, type RenderOptions, type TableContents } from './render.ts';

export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';
/** Services (and their slices) with this label are left to another proxy, as upstream. */
export const LABEL_SERVICE_PROXY_NAME = 'service.kubernetes.io/service-proxy-name';
export const LABEL_HEADLESS = 'service.kubernetes.io/headless';

export interface ProxierOptions extends Omit<RenderOptions, 'table' | 'comment'> {
  factory: SharedInformerFactory;
  /** The cluster's name; the table is skiff-<clusterName> unless `table` is given. */
  clusterName: string;
  table?: string;
  /** Shortest time between syncs (default 1000 ms, kube-proxy's nftables default). */
  minSyncPeriodMs?: number;
  /** Longest time between syncs (default 30 000 ms). */
  syncPeriodMs?: number;
  nft?: NftRunner;
  log?: Logger;
  /**
   * Serve /healthz and /livez here (kube-proxy --healthz-bind-address, upstream default
   * 0.0.0.0:10256; off when unset). Port 0 picks a free port: see healthzAddress().
   * Also watches this node for the autoscaler's deletion taint (/healthz nodeEligible).
   */
  healthzBindAddress?: string;
  /** Where healthCheckNodePort listeners bind; default: all addresses. */
  healthCheckBindAddresses?: string[];
  /** Queued changes not live within this time make the proxy unhealthy (default 2 × syncPeriod, as kube-proxy). */
  healthTimeoutMs?: number;
  /** Events (FailedToStartServiceHealthcheck); none when unset. */
  recorder?: EventRecorder;
}

export function tableName(clusterName: string): string {
  return clusterName.startsWith('skiff-') ? clusterName : `skiff-${clusterName}`;
}

/** Seconds buckets of kube-proxy's sync and network-programming histograms. */
const SYNC_BUCKETS = [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384];
const NP_BUCKETS = [0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 25, 30, 45, 60];

class Histogram {
  readonly buckets: number[];
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(buckets: number[]) {
    this.buckets = buckets;
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
  render(name: string, help: string): string[] {
    const out = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
    this.buckets.forEach((b, i) => out.push(`${name}_bucket{le="${b}"} ${this.counts[i]}`));
    out.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${this.sum}`, `${name}_count ${this.count}`);
    return out;
  }
}

export interface SyncResult {
  applied: boolean;
  /** Render + nft time. */
  seconds: number;
  stats: ReturnType<typeof renderRuleset>['stats'];
}

export class Proxier {
  readonly table: string;
  private readonly opts: ProxierOptions;
  private readonly runner: NftRunner;
  private readonly log: Logger;
  private readonly services: Informer;
  private readonly slices: Informer;
  /** What the table holds as far as we know; undefined: list it before the next sync. */
  private known: TableContents | undefined;
  private lastScript = '';
  private lastSyncAt = 0;
  private dirty = true;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = 0;
  private running: Promise<void> | undefined;
  private signal: AbortSignal | undefined;
  /** Change times (ms since the epoch) not yet live. */
  private pending: number[] = [];
  private readonly syncHist = new Histogram(SYNC_BUCKETS);
  private readonly npHist = new Histogram(NP_BUCKETS);
  private syncFailures = 0;
  private lastSuccess = 0;
  private lastStats: SyncResult['stats'] | undefined;
  private resolveReady!: () => void;
  private rejectReady!: (e: unknown) => void;
  /** Resolves after the first successful sync following the informers' sync; rejects when nft is missing. */
  readonly ready: Promise<void>;
  private stopped: Promise<void> | undefined;
  /** The proxy's health, as /healthz and the service health checks report it. */
  readonly health: ProxyHealth;
  /** The healthCheckNodePort listeners. */
  readonly serviceHealth: ServiceHealthServer;
  private healthz: ProxyHealthzServer | undefined;

  /** Registers the informers on opts.factory (start() starts the factory). */
  constructor(opts: ProxierOptions) {
    this.opts = opts;
    this.table = opts.table ?? tableName(opts.clusterName);
    this.runner = opts.nft ?? nftRunner();
    this.log = opts.log ?? (() => {});
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {});
    const selector = `!${LABEL_SERVICE_PROXY_NAME},!${LABEL_HEADLESS}`;
    this.services = opts.factory.informerFor(ref.services, { labelSelector: selector });
    this.slices = opts.factory.informerFor(ref.endpointslices, { labelSelector: selector });
    this.slices.addIndexers({ 'proxy.service': (s) => (s.metadata.labels?.[LABEL_SERVICE_NAME] ? [`${s.metadata.namespace}/${s.metadata.labels[LABEL_SERVICE_NAME]}`] : []) });
    const onService = () => this.changed(Date.now());
    const onSlice = (s: KObject) => this.changed(triggerTime(s) ?? Date.now());
    this.services.addEventHandler({ onAdd: onService, onUpdate: (o, n) => o !== n && onService(), onDelete: onService });
    this.slices.addEventHandler({ onAdd: onSlice, onUpdate: (o, n) => o !== n && onSlice(n), onDelete: () => this.changed(Date.now()) });
    this.health = new ProxyHealth({ healthTimeoutMs: opts.healthTimeoutMs ?? 2 * (opts.syncPeriodMs ?? 30_000) });
    this.serviceHealth = new ServiceHealthServer({
      nodeName: opts.nodeName,
      bindAddresses: opts.healthCheckBindAddresses,
      recorder: opts.recorder,
      log: this.log,
      proxyHealthy: () => this.health.isHealthy(),
    });
    if (opts.healthzBindAddress !== undefined) {
      // Only this node, as kube-proxy's node informer.
      const nodes = opts.factory.informerFor(ref.nodes, { fieldSelector: `metadata.name=${opts.nodeName}` });
      const onNode = (n: KObject) => this.health.syncNode(n);
      nodes.addEventHandler({ onAdd: onNode, onUpdate: (_, n) => onNode(n), onDelete: onNode });
    }
  }

  /** Where /healthz listens, once it does (undefined without healthzBindAddress). */
  healthzAddress(): Promise<AddressInfo> | undefined {
    return this.healthz?.listening;
  }

  /** Starts informers and the sync loop until `signal` aborts (the rules stay: removeAll() is for reset). */
  start(signal: AbortSignal): void {
    if (this.stopped) return;
    this.signal = signal;
    if (this.opts.healthzBindAddress !== undefined) this.healthz = new ProxyHealthzServer(this.opts.healthzBindAddress, this.health, signal, { log: this.log });
    this.stopped = (async () => {
      this.opts.factory.start(signal);
      if (await this.opts.factory.waitForSync(signal)) {
        // As kube-proxy's sync loop: healthy from its start, before the first sync ends.
        this.health.updated();
        this.schedule(0);
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
        if (this.timer) clearTimeout(this.timer);
        await this.running;
      }
      await this.serial;
      await this.serviceHealth.close();
      await this.healthz?.closed();
    })();
  }

  async done(): Promise<void> {
    await this.stopped;
  }

  private changed(at: number): void {
    this.pending.push(at);
    this.dirty = true;
    if (!this.signal || this.signal.aborted || !this.services.hasSynced() || !this.slices.hasSynced()) return;
    this.health.queuedUpdate();
    const min = this.opts.minSyncPeriodMs ?? 1000;
    this.schedule(Math.max(0, this.lastSyncAt + min - Date.now()));
  }

  private schedule(delayMs: number): void {
    if (this.signal?.aborted) return;
    const due = Date.now() + delayMs;
    if (this.timer) {
      // Keep an earlier deadline.
      if (this.timerDue <= due) return;
      clearTimeout(this.timer);
    }
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.loopOnce();
    }, delayMs);
    this.timer.unref?.();
  }

  private async loopOnce(): Promise<void> {
    if (this.running) {
      // One sync at a time: come back when this one ends.
      await this.running;
      if (this.dirty) this.schedule(0);
      return;
    }
    const force = !this.dirty;
    const p = this.syncNow({ force }).then(
      () => {},
      (e) => {
        this.syncFailures++;
        this.known = undefined;
        if (e instanceof NftMissingError) this.rejectReady(e);
        this.log('sync failed', { table: this.table, error: String((e as Error).message ?? e) });
      },
    );
    this.running = p;
    await p;
    this.running = undefined;
    if (this.signal?.aborted) return;
    const min = this.opts.minSyncPeriodMs ?? 1000;
    if (this.dirty) this.schedule(Math.max(min, 100));
    else this.schedule(this.opts.syncPeriodMs ?? 30_000);
  }

  /** The ServicePorts the caches describe now. */
  servicePorts(): ServicePort[] {
    const out: ServicePort[] = [];
    for (const svc of this.services.lister.list()) {
      const slices = this.slices.lister.byIndex('proxy.service', `${svc.metadata.namespace}/${svc.metadata.name}`);
      out.push(...servicePorts(svc, slices));
    }
    return out;
  }

  /**
   * Renders the table from the caches and applies it (skipped when unchanged, unless
   * `force`). Exposed for tests and benchmarks; the loop calls it.
   */
  syncNow(opts: { force?: boolean } = {}): Promise<SyncResult> {
    // One transaction at a time, whoever asks (the loop, a test, a benchmark).
    const p = this.serial.then(() => this.sync(opts));
    this.serial = p.catch(() => {});
    return p;
  }

  private serial: Promise<unknown> = Promise.resolve();

  private async sync(opts: { force?: boolean }): Promise<SyncResult> {
    const t0 = performance.now();
    const startedAt = Date.now();
    this.dirty = false;
    const changes = this.pending;
    this.pending = [];
    try {
      if (!this.known) {
        const listed = await listTable(this.runner, this.table);
        this.known = listed.contents;
        if (!listed.exists) this.lastScript = '';
      }
      const sps = this.servicePorts();
      const ruleset = renderRuleset(sps, { ...this.opts, table: this.table, comment: `skiff service proxy of cluster ${this.opts.clusterName}; rebuilt from the API on every sync` });
      const script = ruleset.script(this.known);
      this.lastStats = ruleset.stats;
      if (script === this.lastScript && !opts.force) {
        this.finishChanges(changes, startedAt, false);
        await this.synced(sps);
        this.resolveReady();
        return { applied: false, seconds: (performance.now() - t0) / 1000, stats: ruleset.stats };
      }
      if (this.opts.localhostNodePorts ?? true) await this.runner.sysctl('net/ipv4/conf/all/route_localnet', '1').catch((e) => this.log('cannot set route_localnet; NodePorts on 127.0.0.1 will not answer', { error: String(e.message ?? e) }));
      await this.runner.nft(['-f', '-'], script);
      this.known = { chains: ruleset.chains, sets: ruleset.sets, maps: ruleset.maps };
      // The next identical render must not re-apply the deletions it just made.
      this.lastScript = ruleset.script(this.known);
      const seconds = (performance.now() - t0) / 1000;
      this.lastSyncAt = Date.now();
      this.lastSuccess = this.lastSyncAt;
      this.syncHist.observe(seconds);
      this.finishChanges(changes, startedAt, true, seconds, ruleset.stats);
      await this.synced(sps);
      this.resolveReady();
      return { applied: true, seconds, stats: ruleset.stats };
    } catch (e) {
      // The changes are not live yet: they count again at the next sync.
      this.pending = [...changes, ...this.pending];
      this.dirty = true;
      this.lastSyncAt = Date.now();
      throw e;
    }
  }

  /** After a successful sync: health updated, health check listeners and counts follow the caches. */
  private async synced(sps: ServicePort[]): Promise<void> {
    this.health.updated();
    // Changes that arrived during this sync are not live yet: they stay queued.
    if (this.pending.length) this.health.queuedUpdate();
    if (this.signal?.aborted) return;
    const wanted: HealthCheckService[] = [];
    for (const svc of this.services.lister.list()) {
      const port = healthCheckNodePort(svc);
      if (port) wanted.push({ namespace: svc.metadata.namespace ?? '', name: svc.metadata.name ?? '', uid: svc.metadata.uid, port });
    }
    try {
      await this.serviceHealth.syncServices(wanted);
      this.serviceHealth.syncEndpoints(localReadyEndpoints(sps, this.opts.nodeName));
    } catch (e) {
      // The rules are live; a health check problem must not undo that.
      this.log('error syncing healthcheck services', { error: String((e as Error).message ?? e) });
    }
  }

  private finishChanges(changes: number[], startedAt: number, applied: boolean, seconds?: number, stats?: SyncResult['stats']): void {
    if (!changes.length) return;
    const now = Date.now();
    let max = 0;
    for (const t of changes) {
      const d = Math.max(0, now - Math.min(t, startedAt)) / 1000;
      this.npHist.observe(d);
      if (d > max) max = d;
    }
    if (applied) {
      this.log('rules live', { table: this.table, where: this.runner.where, changes: changes.length, maxChangeToLiveMs: Math.round(max * 1000), syncMs: Math.round((seconds ?? 0) * 1000), servicePorts: stats?.servicePorts, endpoints: stats?.endpoints, rules: stats?.rules });
    }
  }

  /** Deletes the table (skiff reset). Stop the proxier first, or the next sync recreates it. */
  async removeAll(): Promise<void> {
    await removeAll({ clusterName: this.opts.clusterName, table: this.table, nft: this.runner });
    this.known = undefined;
    this.lastScript = '';
  }

  /** Prometheus text with kube-proxy's metric names. */
  metricsText(): string {
    const lines = [
      ...this.syncHist.render('kubeproxy_sync_proxy_rules_duration_seconds', 'SyncProxyRules latency in seconds (render + nft -f).'),
      ...this.npHist.render('kubeproxy_network_programming_duration_seconds', 'In-cluster network programming latency in seconds: from an object change to its rules being live.'),
      '# HELP kubeproxy_sync_proxy_rules_last_timestamp_seconds The last time proxy rules were successfully synced.',
      '# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge',
      `kubeproxy_sync_proxy_rules_last_timestamp_seconds ${this.lastSuccess / 1000}`,
      '# HELP kubeproxy_sync_proxy_rules_nftables_sync_failures_total Cumulative proxy nftables sync failures.',
      '# TYPE kubeproxy_sync_proxy_rules_nftables_sync_failures_total counter',
      `kubeproxy_sync_proxy_rules_nftables_sync_failures_total ${this.syncFailures}`,
      '# HELP kubeproxy_sync_proxy_rules_nftables_objects Chains, rules and map/set elements in the table after the last render.',
      '# TYPE kubeproxy_sync_proxy_rules_nftables_objects gauge',
      `kubeproxy_sync_proxy_rules_nftables_objects{kind="chains"} ${this.lastStats?.chains ?? 0}`,
      `kubeproxy_sync_proxy_rules_nftables_objects{kind="rules"} ${this.lastStats?.rules ?? 0}`,
      `kubeproxy_sync_proxy_rules_nftables_objects{kind="elements"} ${this.lastStats?.elements ?? 0}`,
      '# HELP kubeproxy_healthz_total Cumulative proxy healthz HTTP status',
      '# TYPE kubeproxy_healthz_total counter',
      `kubeproxy_healthz_total{code="200"} ${this.health.served.healthz[200]}`,
      `kubeproxy_healthz_total{code="503"} ${this.health.served.healthz[503]}`,
      '# HELP kubeproxy_livez_total Cumulative proxy livez HTTP status',
      '# TYPE kubeproxy_livez_total counter',
      `kubeproxy_livez_total{code="200"} ${this.health.served.livez[200]}`,
      `kubeproxy_livez_total{code="503"} ${this.health.served.livez[503]}`,
    ];
    return lines.join('\n') + '\n';
  }
}

function triggerTime(s: KObject): number | undefined {
  const v = s.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME];
  const t = v ? Date.parse(v) : NaN;
  return Number.isFinite(t) ? t : undefined;
}

/** Deletes the table (skiff reset, kube-proxy --cleanup). Idempotent. */
export async function removeAll(opts: { clusterName: string; table?: string; nft?: NftRunner }): Promise<void> {
  const runner = opts.nft ?? nftRunner();
  await runner.nft(['-f', '-'], removeScript(opts.table ?? tableName(opts.clusterName)));
}

/** Creates and starts a proxier. */
export function startProxier(opts: ProxierOptions, signal: AbortSignal): Proxier {
  const p = new Proxier(opts);
  p.start(signal);
  return p;
}
