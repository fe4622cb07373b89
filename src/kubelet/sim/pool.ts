// A pool of simulated nodes in one process: each registers a Node, renews its Lease in
// kube-node-lease and reports NodeStatus at the kubelet's cadence, and drives the pods
// bound to it through the kubelet's phases and conditions with the simulated runtime.
//
// What keeps a thousand nodes cheap:
//   - two timer wheels (heartbeats, pod timers) for every node (no per-node intervals);
//     heartbeats due within upstream's renewal jitter run together;
//   - one pod informer for the whole pool (field selector spec.nodeName!=, i.e. every
//     scheduled pod), indexed by node, not one watch per node;
//   - writes only when something changed: pod status is compared before it is written,
//     node status is posted when it changed or every 5 minutes, leases every 10 s.
//
// Every write goes through the node's own Client (in-process: its own identity,
// system:node:<name>), so a pool behaves as N kubelets would on the wire.
// Level-triggered: a pod's status is recomputed from the pod as the informer has it and
// the runtime's state; a conflict or failure only requeues the pod.

import { isObject, jsonEqual, type KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import { Informer, stripManagedFields } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import { keyOf, sleep, type Logger } from '../../client/util.ts';
import {
  healthyNodeConditions,
  initialNode,
  LEASE_RENEW_INTERVAL_MS,
  mergeNodeConditions,
  nodeConditionsChanged,
  nodeLease,
  NODE_LEASE_NAMESPACE,
  NODE_STATUS_REPORT_FREQUENCY_MS,
  rfc3339,
  microTime,
  type NodeCondition,
} from '../nodestatus.ts';
import { generatePodStatus } from '../podstatus.ts';
import { TimerWheel, type WheelTask } from './wheel.ts';
import { PodCIDRAllocator, PodIPAllocator, cidrContains, parseIPv4, simNodeIP, suggestClusterCidr } from './ipam.ts';
import { SimPodRuntime } from './runtime.ts';
import { hostname, release } from 'node:os';
import { createHash } from 'node:crypto';

export const SIM_RUNTIME_VERSION = 'sim://skiff-0.1.0';
export const SIM_NODE_LABEL = 'sim.skiff.dev/node';

export interface SimNodeResources {
  cpu: string;
  memory: string;
  pods: string;
  'ephemeral-storage': string;
  [name: string]: string;
}

/** A typical small cloud VM; allocatable as a kubelet with default eviction thresholds reports it. */
export const DEFAULT_CAPACITY: SimNodeResources = {
  cpu: '4',
  memory: '16Gi',
  pods: '110',
  'ephemeral-storage': '100Gi',
  'hugepages-1Gi': '0',
  'hugepages-2Mi': '0',
};
export const DEFAULT_ALLOCATABLE: SimNodeResources = {
  cpu: '4',
  // 16Gi less the 100Mi memory.available hard eviction threshold.
  memory: '16674816Ki',
  pods: '110',
  // 90%: less the 10% nodefs.available threshold.
  'ephemeral-storage': '96636764160',
  'hugepages-1Gi': '0',
  'hugepages-2Mi': '0',
};

export interface SimPoolOptions {
  /** Client for the shared pod informer and for node listing. */
  client: Client;
  /** Client a node writes with (its own identity in-process); defaults to `client`. */
  clientFor?: (nodeName: string) => Client;
  /** Node names are prefix + index (default "sim-"). */
  namePrefix?: string;
  /** Cluster pod range the nodes' podCIDRs come from (default 10.244.0.0/16). */
  clusterCIDR?: string;
  /** Size of each node's podCIDR (default 24). */
  nodeCIDRMaskSize?: number;
  /** Zones the nodes are spread over, round-robin (default sim-a, sim-b, sim-c). */
  zones?: string[];
  region?: string;
  instanceType?: string;
  capacity?: Partial<SimNodeResources>;
  allocatable?: Partial<SimNodeResources>;
  /** Extra node labels and taints. */
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  /** Writes in flight at once (registrations, pod status writes). Default 32. */
  concurrency?: number;
  /** Heartbeat cadence (default: upstream's 10 s lease renewal, 5 minute status report). */
  leaseRenewIntervalMs?: number;
  nodeStatusReportFrequencyMs?: number;
  log?: Logger;
}

interface SimNode {
  name: string;
  index: number;
  client: Client;
  podCIDR: string;
  ipam: PodIPAllocator;
  internalIP: string;
  uid?: string;
  /**
   * The lease as last written, without managedFields: a renewal sent without them keeps the
   * server's (as the kubelet's, which sends back what it got, ends up with), and each of
   * a thousand nodes holds a smaller copy between renewals.
   */
  lease?: KObject;
  conditions?: NodeCondition[];
  /** nodeConditionsChanged(conditions, HEALTHY), kept as conditions are set. */
  conditionsChanged: boolean;
  lastReportAt: number;
  registered: boolean;
  stopped: boolean;
  heartbeat?: WheelTask;
  failures: number;
}

interface SimPodRecord {
  uid: string;
  node: SimNode;
  runtime: SimPodRuntime;
  podIP?: string;
  /** The pod's IP is held in the node's allocator. */
  holdsIP: boolean;
  timer?: WheelTask;
  /** The object our last status write returned (newer than the informer's until the watch catches up). */
  written?: KObject;
  deleteSent: boolean;
}

export interface SimPoolStats {
  nodes: number;
  readyNodes: number;
  pods: number;
  leaseRenewals: number;
  nodeStatusReports: number;
  podStatusWrites: number;
  podDeletes: number;
  conflicts: number;
  errors: number;
}

const BY_NODE = 'spec.nodeName';
/** The lease controller's jitter factor (component-helpers' lease controller). */
const LEASE_RENEW_JITTER = 0.04;
const HEALTHY = healthyNodeConditions();

/**
 * Heartbeats per wakeup the phases aim for. A wakeup that renews 40 leases (1,000 nodes
 * spread over every 400 ms tick) finds the process cold: caches, branch predictors and the
 * write batch are all small, and each renewal costs about a third more than in a batch of
 * 250 (bench:idle, 1,000 nodes, side by side: 1.59-1.74% of a core spread over 26 ticks,
 * 1.28-1.30% in 4 phases). Larger batches gained nothing more.
 */
const HEARTBEAT_BATCH = 250;

/**
 * The phases per renew interval for a pool of `nodes` nodes: about HEARTBEAT_BATCH nodes
 * each, rounded up to a power of two so that the phases of a smaller pool are among those
 * of a larger one (a pool that grows keeps its batches).
 */
export function heartbeatPhases(nodes: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(nodes / HEARTBEAT_BATCH))));
}

/**
 * When a newly registered node first renews its lease (ms, same clock as `now`). Nodes
 * registered together would renew together forever, and real kubelets boot at different
 * times, so the first renewal lands somewhere in the interval after the next (by `index`);
 * then on the first heartbeat tick from there that starts one of the pool's phases. Later
 * renewals come one interval after the last completed, which the wheel rounds up to the
 * end of a tick: `renewMs` plus one tick, a whole number of ticks. So a node keeps its
 * phase, and the nodes of a phase renew in one wakeup, while each renews 10 to 10.4 s
 * after the last as upstream's kubelet does.
 */
export function firstRenewalAt(o: { now: number; index: number; nodes: number; renewMs: number; tickMs: number }): number {
  const period = Math.ceil(o.renewMs / o.tickMs) + 1;
  const step = period / Math.min(heartbeatPhases(o.nodes), period);
  const earliest = Math.ceil((o.now + o.renewMs * (1 + ((o.index * 0.6180339887) % 1))) / o.tickMs);
  const r = earliest % period;
  return (earliest - r + Math.round(Math.ceil(r / step) * step)) * o.tickMs;
}

/** Resolves when `fn` has run for every item, at most `limit` at a time. */
async function forEachLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function rvNumber(o: KObject | undefined): bigint {
  try {
    return BigInt(o?.metadata?.resourceVersion ?? '0');
  } catch {
    return 0n;
  }
}

/** Key order-independent JSON, to compare a computed status with the stored one. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const keys = Object.keys(v as object)
      .filter((k) => (v as any)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as any)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

function internalIPOf(node: KObject): string | undefined {
  return (node.status?.addresses ?? []).find((a: { type: string }) => a.type === 'InternalIP')?.address;
}

function hashID(name: string, what: string): string {
  return createHash('sha256').update(`${what}/${name}`).digest('hex').slice(0, 32);
}

function uuidFrom(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export class SimPool {
  private readonly opts: SimPoolOptions;
  private readonly client: Client;
  private readonly log: Logger;
  /** Pod timers. */
  readonly wheel = new TimerWheel({ tickMs: 100 });
  /**
   * Heartbeats (lease renewals, status reports, their retries). Its tick is upstream's
   * jitter: the kubelet's lease controller waits renewInterval plus up to 4% between
   * renewals (wait.JitterUntil(sync, 10s, 0.04)), and a task here runs at most one tick
   * after it is due, so renewals come 10 to 10.4 s apart as upstream's do (in practice
   * near the top of that range). Running every renewal due in one tick together lets
   * them share one commit and one wakeup instead of one per 100 ms.
   */
  readonly heartbeats: TimerWheel;
  private readonly nodes = new Map<string, SimNode>();
  private readonly pods = new Map<string, SimPodRecord>();
  private readonly cidrs: PodCIDRAllocator;
  private readonly informer: Informer;
  private readonly queue = new RateLimitingQueue<string>({ name: 'sim-pods' });
  private readonly renewMs: number;
  private readonly reportMs: number;
  private nextIndex = 0;
  private nextIP = 0;
  private readonly nodeIPs = new Set<string>();
  private signal?: AbortSignal;
  private existingNodes?: Map<string, KObject>;
  private readonly counters = { leaseRenewals: 0, nodeStatusReports: 0, podStatusWrites: 0, podDeletes: 0, conflicts: 0, errors: 0 };
  private workers?: Promise<void>;
  private stopper?: AbortController;

  constructor(opts: SimPoolOptions) {
    this.opts = opts;
    this.client = opts.client;
    this.log = opts.log ?? (() => {});
    this.cidrs = new PodCIDRAllocator(opts.clusterCIDR ?? '10.244.0.0/16', opts.nodeCIDRMaskSize ?? 24);
    this.renewMs = opts.leaseRenewIntervalMs ?? LEASE_RENEW_INTERVAL_MS;
    this.reportMs = opts.nodeStatusReportFrequencyMs ?? NODE_STATUS_REPORT_FREQUENCY_MS;
    this.heartbeats = new TimerWheel({ tickMs: Math.max(1, Math.floor(this.renewMs * LEASE_RENEW_JITTER)) });
    this.informer = new Informer(this.client, ref.pods, {
      fieldSelector: 'spec.nodeName!=',
      indexers: { [BY_NODE]: (p) => [p.spec?.nodeName ?? ''] },
      log: this.log,
    });
    this.informer.addEventHandler({
      onAdd: (p) => this.onPod(p),
      onUpdate: (_old, p) => this.onPod(p),
      onDelete: (p) => this.onPodDeleted(p),
    });
  }

  /** Starts the pod informer and workers until `signal` aborts or close(); resolves once the informer has synced. */
  async start(signal: AbortSignal): Promise<void> {
    const own = new AbortController();
    this.stopper = own;
    signal.addEventListener('abort', () => own.abort(), { once: true });
    if (signal.aborted) own.abort();
    signal = own.signal;
    this.signal = signal;
    signal.addEventListener(
      'abort',
      () => {
        this.wheel.stop();
        this.heartbeats.stop();
      },
      { once: true },
    );
    this.informer.start(signal);
    this.workers = runWorkers(this.queue, this.opts.concurrency ?? 32, (key) => this.syncPod(key), signal, { log: this.log });
    await this.informer.waitForSync(signal);
  }

  /** Names of the pool's nodes. */
  nodeNames(): string[] {
    return [...this.nodes.keys()];
  }

  stats(): SimPoolStats {
    let ready = 0;
    for (const n of this.nodes.values()) if (n.registered && !n.stopped) ready++;
    return { nodes: this.nodes.size, readyNodes: ready, pods: this.pods.size, ...this.counters };
  }

  /**
   * Registers `count` more nodes (names continue from the last index) and resolves once
   * every one has its Node and Lease. Throws when the pod range cannot give each a podCIDR.
   */
  async addNodes(count: number): Promise<string[]> {
    if (!this.signal) throw new Error('SimPool.start() first');
    if (!this.existingNodes) {
      this.existingNodes = new Map();
      let cont: string | undefined;
      do {
        const page = await this.client.list(ref.nodes, undefined, { limit: 500, continue: cont });
        for (const n of page.items) {
          this.existingNodes.set(n.metadata.name!, n);
          if (n.spec?.podCIDR) this.cidrs.occupy(n.spec.podCIDR);
          const ip = internalIPOf(n);
          if (ip) this.nodeIPs.add(ip);
        }
        cont = page.metadata.continue || undefined;
      } while (cont);
    }
    const prefix = this.opts.namePrefix ?? 'sim-';
    const planned: SimNode[] = [];
    const fresh = [];
    for (let i = 0; i < count; i++) {
      const index = this.nextIndex++;
      const name = `${prefix}${index}`;
      const existing = this.existingNodes.get(name)?.spec?.podCIDR as string | undefined;
      if (existing) planned.push(this.makeNode(name, index, existing, internalIPOf(this.existingNodes.get(name)!)));
      else fresh.push({ name, index });
    }
    if (fresh.length > this.cidrs.free) {
      this.nextIndex -= count;
      throw new Error(
        `the pod range ${this.opts.clusterCIDR ?? '10.244.0.0/16'} has ${this.cidrs.free} free /${this.cidrs.maskSize} subnets, ` +
          `too few for ${fresh.length} more simulated nodes: use a larger range, e.g. ${suggestClusterCidr(this.nodes.size + count, this.cidrs.maskSize)}`,
      );
    }
    for (const f of fresh) planned.push(this.makeNode(f.name, f.index, this.cidrs.allocate()!));
    for (const n of planned) this.nodes.set(n.name, n);
    await forEachLimit(planned, this.opts.concurrency ?? 32, (n) => this.register(n));
    return planned.map((n) => n.name);
  }

  /** The node's own address from before, else the next one no node of the cluster uses. */
  private nodeIP(previous: string | undefined): string {
    if (previous) return previous;
    for (;;) {
      const ip = simNodeIP(this.nextIP++);
      if (!this.nodeIPs.has(ip)) {
        this.nodeIPs.add(ip);
        return ip;
      }
    }
  }

  private makeNode(name: string, index: number, podCIDR: string, previousIP?: string): SimNode {
    return {
      name,
      index,
      client: this.opts.clientFor?.(name) ?? this.client,
      podCIDR,
      ipam: new PodIPAllocator(podCIDR),
      internalIP: this.nodeIP(previousIP),
      lastReportAt: 0,
      conditionsChanged: true,
      registered: false,
      stopped: false,
      failures: 0,
    };
  }

  private nodeObject(n: SimNode, now: number): KObject {
    const zones = this.opts.zones ?? ['sim-a', 'sim-b', 'sim-c'];
    const labels: Record<string, string> = {
      'node.kubernetes.io/instance-type': this.opts.instanceType ?? 'sim.large',
      'topology.kubernetes.io/region': this.opts.region ?? 'sim',
      [SIM_NODE_LABEL]: 'true',
      ...this.opts.labels,
    };
    if (zones.length) labels['topology.kubernetes.io/zone'] = zones[n.index % zones.length];
    return initialNode(
      {
        name: n.name,
        labels,
        taints: this.opts.taints,
        capacity: { ...DEFAULT_CAPACITY, ...this.opts.capacity } as Record<string, string>,
        allocatable: { ...DEFAULT_ALLOCATABLE, ...(this.opts.allocatable ?? this.opts.capacity) } as Record<string, string>,
        addresses: [
          { type: 'InternalIP', address: n.internalIP },
          { type: 'Hostname', address: n.name },
        ],
        podCIDR: n.podCIDR,
        nodeInfo: {
          machineID: hashID(n.name, 'machine-id'),
          systemUUID: uuidFrom(hashID(n.name, 'system-uuid')),
          bootID: uuidFrom(hashID(`${n.name}/${now}`, 'boot-id')),
          kernelVersion: release(),
          osImage: `Skiff simulated node (on ${hostname()})`,
          containerRuntimeVersion: SIM_RUNTIME_VERSION,
        },
      },
      now,
    );
  }

  /** Creates (or takes over) the Node, then the Lease, retrying until it succeeds or the pool stops; then the node's pods are synced. */
  private async register(n: SimNode): Promise<void> {
    for (;;) {
      if (this.signal?.aborted) return;
      const now = Date.now();
      try {
        let node: KObject;
        try {
          node = await n.client.create(ref.nodes, undefined, this.nodeObject(n, now));
        } catch (e) {
          if (!isStatusError(e) || e.code !== 409) throw e;
          // Registered before (a restarted pool): report status as a restarted kubelet does.
          node = await this.reportStatus(n, now, true);
        }
        n.uid = node.metadata.uid;
        this.setConditions(n, node.status?.conditions);
        n.lastReportAt = now;
        this.counters.nodeStatusReports++;
        await this.renewLease(n, now);
        break;
      } catch (e) {
        this.counters.errors++;
        n.failures++;
        this.log('node registration failed; retrying', { node: n.name, error: String((e as Error)?.message ?? e) });
        await sleep(Math.min(200 * 2 ** (n.failures - 1), 7000), this.signal);
      }
    }
    n.registered = true;
    n.failures = 0;
    this.scheduleHeartbeatAt(n, firstRenewalAt({ now: this.heartbeats.now(), index: n.index, nodes: this.nodes.size, renewMs: this.renewMs, tickMs: this.heartbeats.tickMs }));
    for (const p of this.informer.lister.byIndex(BY_NODE, n.name)) this.queue.add(keyOf(p));
  }

  private retry(n: SimNode, fn: () => Promise<void>): void {
    n.failures++;
    // The kubelet lease controller's back-off: 200 ms doubling to 7 s.
    const delay = Math.min(200 * 2 ** (n.failures - 1), 7000);
    n.heartbeat = this.heartbeats.after(delay, () => void fn());
  }

  /** GETs the Node and patches its conditions (heartbeats now; transitions where the status changed). */
  private async reportStatus(n: SimNode, now: number, adoptSpec = false): Promise<KObject> {
    const current = await n.client.get(ref.nodes, undefined, n.name);
    if (adoptSpec && current.spec?.podCIDR && current.spec.podCIDR !== n.podCIDR) {
      // The node already has a range (it was registered before): keep it.
      this.cidrs.release(n.podCIDR);
      this.cidrs.occupy(current.spec.podCIDR);
      n.podCIDR = current.spec.podCIDR;
      n.ipam = new PodIPAllocator(n.podCIDR);
    } else if (adoptSpec && !current.spec?.podCIDR) {
      await n.client.patch(ref.nodes, undefined, n.name, 'merge', { spec: { podCIDR: n.podCIDR, podCIDRs: [n.podCIDR] } });
    }
    const conditions = mergeNodeConditions(current.status?.conditions, HEALTHY, { now });
    const patch: Record<string, unknown> = { conditions };
    if (adoptSpec) {
      const fresh = this.nodeObject(n, now).status;
      Object.assign(patch, { capacity: fresh.capacity, allocatable: fresh.allocatable, addresses: fresh.addresses, nodeInfo: fresh.nodeInfo, daemonEndpoints: fresh.daemonEndpoints });
    }
    const node = await n.client.patch(ref.nodes, undefined, n.name, 'strategic', { status: patch }, { subresource: 'status' });
    this.setConditions(n, node.status?.conditions);
    return node;
  }

  private setConditions(n: SimNode, conditions: NodeCondition[] | undefined): void {
    n.conditions = conditions;
    n.conditionsChanged = nodeConditionsChanged(conditions, HEALTHY);
  }

  private async renewLease(n: SimNode, now: number): Promise<void> {
    const leases = ref.leases;
    if (n.lease) {
      // The node's own copy, renewed in place: the request carries it as text, so nothing
      // else holds it.
      const lease = n.lease;
      lease.spec.holderIdentity = n.name;
      lease.spec.renewTime = microTime(now);
      try {
        const got = await n.client.update(leases, NODE_LEASE_NAMESPACE, lease);
        // Stored as sent (the usual case), only the new resourceVersion is kept: a renewal
        // leaves one string to outlive it rather than a whole decoded lease per node.
        if (storedAsSent(got, lease)) lease.metadata.resourceVersion = got.metadata.resourceVersion;
        else n.lease = stripManagedFields(got);
        this.counters.leaseRenewals++;
        return;
      } catch (e) {
        if (!isStatusError(e) || (e.code !== 409 && e.code !== 404)) throw e;
        if (e.code === 409) this.counters.conflicts++;
        n.lease = undefined;
      }
    }
    try {
      n.lease = stripManagedFields(await n.client.create(leases, NODE_LEASE_NAMESPACE, nodeLease({ name: n.name, uid: n.uid }, now)));
    } catch (e) {
      if (!isStatusError(e) || e.code !== 409) throw e;
      const current = await n.client.get(leases, NODE_LEASE_NAMESPACE, n.name);
      const fresh = nodeLease({ name: n.name, uid: n.uid }, now);
      n.lease = stripManagedFields(await n.client.update(leases, NODE_LEASE_NAMESPACE, { ...current, metadata: { ...current.metadata, ownerReferences: fresh.metadata.ownerReferences }, spec: { ...current.spec, ...fresh.spec } }));
    }
    this.counters.leaseRenewals++;
  }

  private scheduleHeartbeat(n: SimNode, delayMs: number): void {
    this.scheduleHeartbeatAt(n, this.heartbeats.now() + delayMs);
  }

  /** At an absolute time: a tick-aligned one (a phase's) lands in that very tick. */
  private scheduleHeartbeatAt(n: SimNode, at: number): void {
    this.heartbeats.cancel(n.heartbeat);
    n.heartbeat = this.heartbeats.at(at, () => void this.heartbeat(n));
  }

  /** Every renew interval: the lease; the status when it changed or is due (every 5 minutes). */
  private async heartbeat(n: SimNode): Promise<void> {
    if (n.stopped || this.signal?.aborted) return;
    const now = Date.now();
    try {
      await this.renewLease(n, now);
      // The kubelet posts status when it changed (someone else rewrote a condition we own) or is due.
      if (now - n.lastReportAt >= this.reportMs || n.conditionsChanged) {
        await this.reportStatus(n, now);
        n.lastReportAt = now;
        this.counters.nodeStatusReports++;
      }
      n.failures = 0;
      if (!n.stopped) this.scheduleHeartbeat(n, this.renewMs);
    } catch (e) {
      this.counters.errors++;
      if (isStatusError(e) && e.code === 404) {
        // The Node was deleted: a kubelet cannot recreate it without restarting; startNode() does.
        this.log('node was deleted; its heartbeats stop', { node: n.name });
        n.stopped = true;
        n.registered = false;
        return;
      }
      if (n.stopped) return;
      this.log('heartbeat failed; retrying', { node: n.name, error: String((e as Error)?.message ?? e) });
      this.retry(n, () => this.heartbeat(n));
    }
  }

  /**
   * Stops a node as if its kubelet died: no more lease renewals, status reports or pod
   * updates. Its Lease goes stale; the Node and its pods are left as they were.
   */
  stopNode(name: string): void {
    const n = this.mustNode(name);
    n.stopped = true;
    this.heartbeats.cancel(n.heartbeat);
    n.heartbeat = undefined;
  }

  /** Restarts a stopped node: lease and status at once (re-registering a deleted Node), then its pods are synced. */
  async startNode(name: string): Promise<void> {
    const n = this.mustNode(name);
    if (!n.stopped) return;
    n.stopped = false;
    n.failures = 0;
    if (!n.registered) {
      n.lease = undefined;
      await this.register(n);
      return;
    }
    const now = Date.now();
    try {
      await this.reportStatus(n, now);
      n.lastReportAt = now;
      this.counters.nodeStatusReports++;
      await this.renewLease(n, now);
      this.scheduleHeartbeat(n, this.renewMs);
    } catch (e) {
      this.counters.errors++;
      this.log('node restart: heartbeat failed; retrying', { node: n.name, error: String((e as Error)?.message ?? e) });
      this.retry(n, () => this.heartbeat(n));
    }
    for (const p of this.informer.lister.byIndex(BY_NODE, n.name)) this.queue.add(keyOf(p));
  }

  isStopped(name: string): boolean {
    return this.mustNode(name).stopped;
  }

  private mustNode(name: string): SimNode {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`no simulated node ${name}`);
    return n;
  }

  // ---- pods ----

  private onPod(p: KObject): void {
    const n = this.nodes.get(p.spec?.nodeName);
    if (!n) return;
    const key = keyOf(p);
    // Addresses of pods running before a restart stay theirs.
    const ip = p.status?.podIP;
    if (!this.pods.has(key) && ip && !p.spec?.hostNetwork && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed') {
      const num = parseIPv4(ip);
      if (num !== undefined && cidrContains(n.ipam.cidr, num)) n.ipam.occupy(ip);
    }
    this.queue.add(key);
  }

  private onPodDeleted(p: KObject): void {
    const key = keyOf(p);
    const rec = this.pods.get(key);
    if (rec && rec.uid === p.metadata.uid) this.forget(key, rec);
  }

  private forget(key: string, rec: SimPodRecord): void {
    this.wheel.cancel(rec.timer);
    this.releaseIP(rec);
    this.pods.delete(key);
  }

  private releaseIP(rec: SimPodRecord): void {
    if (rec.holdsIP && rec.podIP) rec.node.ipam.release(rec.podIP);
    rec.holdsIP = false;
  }

  /** The pod as we last know it: the informer's, or our own write's answer if that is newer. */
  private current(key: string, rec: SimPodRecord | undefined): KObject | undefined {
    const i = key.indexOf('/');
    const cached = this.informer.lister.get(key.slice(0, i), key.slice(i + 1));
    if (!cached) return undefined;
    if (rec?.written && rec.written.metadata.uid === cached.metadata.uid && rvNumber(rec.written) > rvNumber(cached)) return rec.written;
    if (rec) rec.written = undefined;
    return cached;
  }

  private async syncPod(key: string): Promise<void> {
    let rec = this.pods.get(key);
    const pod = this.current(key, rec);
    if (!pod) {
      if (rec) this.forget(key, rec);
      return;
    }
    if (rec && rec.uid !== pod.metadata.uid) {
      this.forget(key, rec);
      rec = undefined;
    }
    const node = this.nodes.get(pod.spec?.nodeName);
    if (!node || node.stopped || !node.registered) return;
    const now = Date.now();
    if (!rec) {
      rec = { uid: pod.metadata.uid!, node, runtime: new SimPodRuntime(pod, now), holdsIP: false, deleteSent: false };
      this.pods.set(key, rec);
    } else {
      rec.runtime.update(pod);
    }
    const phase = pod.status?.phase;
    const finished = phase === 'Succeeded' || phase === 'Failed';
    const deleting = pod.metadata.deletionTimestamp !== undefined;

    if (deleting && !finished) {
      const grace = (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
      const deadline = Date.parse(pod.metadata.deletionTimestamp!);
      rec.runtime.requestStop((Number.isNaN(deadline) ? now + grace : deadline) - grace, grace);
    }
    if (finished) {
      // The kubelet never changes a terminal phase; all that is left is removal once deleted.
      this.releaseIP(rec);
      this.wheel.cancel(rec.timer);
      if (deleting) await this.deletePod(pod, rec);
      return;
    }

    if (!rec.podIP && !rec.runtime.terminal) {
      if (pod.spec?.hostNetwork) rec.podIP = node.internalIP;
      else {
        const have = pod.status?.podIP as string | undefined;
        const num = have ? parseIPv4(have) : undefined;
        if (have && num !== undefined && cidrContains(node.ipam.cidr, num)) {
          node.ipam.occupy(have);
          rec.podIP = have;
        } else rec.podIP = node.ipam.allocate();
        if (!rec.podIP) {
          this.log('no pod IP left on node; retrying', { node: node.name, pod: key });
          this.schedulePod(key, rec, now + 10_000);
          return;
        }
        rec.holdsIP = true;
      }
    }

    rec.runtime.advance(now);
    const s = rec.runtime.statuses(now);
    const status = generatePodStatus(pod, { ...s, startTime: rfc3339(rec.runtime.acceptedAt), hostIP: node.internalIP, podIP: rec.podIP, now: rfc3339(now) });
    if (rec.runtime.terminal) this.releaseIP(rec);
    if (canonical(status) !== canonical(pod.status ?? {})) {
      try {
        rec.written = await node.client.update(ref.pods, pod.metadata.namespace, { ...pod, status }, { subresource: 'status' });
        this.counters.podStatusWrites++;
      } catch (e) {
        if (isStatusError(e) && e.code === 409) {
          // Someone else wrote the pod: look again once the informer has their version.
          this.counters.conflicts++;
          this.schedulePod(key, rec, now + 100);
          return;
        }
        if (isStatusError(e) && e.code === 404) return;
        throw e;
      }
    }
    if (rec.runtime.terminal && deleting) {
      await this.deletePod(rec.written ?? pod, rec);
      return;
    }
    this.schedulePod(key, rec, rec.runtime.nextEventAt(now));
  }

  /** Removes a pod whose containers have stopped: DELETE with grace 0 and a UID precondition, as the status manager does. */
  private async deletePod(pod: KObject, rec: SimPodRecord): Promise<void> {
    if (rec.deleteSent) return;
    rec.deleteSent = true;
    this.wheel.cancel(rec.timer);
    try {
      await rec.node.client.delete(ref.pods, pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
      this.counters.podDeletes++;
    } catch (e) {
      if (isStatusError(e) && (e.code === 404 || e.code === 409)) return;
      rec.deleteSent = false;
      throw e;
    }
  }

  private schedulePod(key: string, rec: SimPodRecord, at: number): void {
    this.wheel.cancel(rec.timer);
    rec.timer = undefined;
    if (at === Infinity) return;
    rec.timer = this.wheel.at(at, () => this.queue.add(key));
  }

  /** Stops every node's heartbeats and pod work (the Nodes and Leases stay, as when kubelets stop). */
  async close(): Promise<void> {
    this.stopper?.abort();
    this.wheel.stop();
    this.heartbeats.stop();
    this.queue.shutDown();
    await this.workers;
    await this.informer.done();
  }
}

/**
 * Whether the server's answer `got` to a write of `sent` is `sent` as it was, apart from the
 * resourceVersion and the managedFields the server keeps.
 */
export function storedAsSent(got: KObject, sent: KObject): boolean {
  if (!isObject(got.metadata) || !isObject(sent.metadata)) return false;
  const { resourceVersion: _got, managedFields: _fields, ...gotMeta } = got.metadata;
  const { resourceVersion: _sent, managedFields: _sentFields, ...sentMeta } = sent.metadata;
  return jsonEqual({ ...got, metadata: gotMeta }, { ...sent, metadata: sentMeta });
}
