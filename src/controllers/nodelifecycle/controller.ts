// The node lifecycle controller (upstream's pkg/controller/nodelifecycle), in four parts:
//
//   - Health monitoring, every nodeMonitorPeriod: a node whose kubelet has neither
//     renewed its Lease in kube-node-lease nor posted a new Ready heartbeat for
//     nodeMonitorGracePeriod (40 s; nodeStartupGracePeriod for a node that never
//     posted) gets Ready, MemoryPressure, DiskPressure and PIDPressure set to Unknown
//     ("Kubelet stopped posting node status."), a NodeNotReady event, and its pods'
//     Ready condition set to False.
//   - NoExecute tainting: a node observed NotReady gets node.kubernetes.io/not-ready,
//     an Unknown one node.kubernetes.io/unreachable (the two are exclusive), through a
//     per-zone rate limiter (evictionLimiterQPS); a zone wholly down taints at the
//     healthy rate, a partially disrupted zone slower or not at all, and when every
//     zone is down the controller assumes its own network is at fault: it removes
//     these taints and stops ("master disruption mode"). A node Ready again loses them.
//     The taint-eviction controller (tainteviction.ts) then evicts the pods.
//   - NoSchedule tainting from conditions (TaintNodesByCondition): Ready False/Unknown,
//     memory/disk/PID pressure, network unavailable, and spec.unschedulable (cordon)
//     each map to a NoSchedule taint, added and removed as the conditions change.
//   - Pods bound to a node already not ready are marked NotReady as they arrive.
//
// Health bookkeeping (when a heartbeat was last seen) is local time in this process, as
// upstream: a restarted controller gives every node a fresh grace period.

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { keyOf, sleep, splitKey } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { RateLimitedTimedQueue, TokenBucket } from './ratelimit.ts';
import {
  markPodsNotReady,
  matchTaint,
  NOT_READY_TAINT,
  type NodeCondition,
  nodeCondition,
  POD_NODE_NAME_INDEX,
  podNodeNameIndex,
  recordNodeEvent,
  recordNodeStatusChange,
  rfc3339,
  swapNodeControllerTaint,
  type Taint,
  taintExists,
  TAINT_NODE_DISK_PRESSURE,
  TAINT_NODE_MEMORY_PRESSURE,
  TAINT_NODE_NETWORK_UNAVAILABLE,
  TAINT_NODE_NOT_READY,
  TAINT_NODE_PID_PRESSURE,
  TAINT_NODE_UNREACHABLE,
  TAINT_NODE_UNSCHEDULABLE,
  UNREACHABLE_TAINT,
  zoneKey,
} from './taints.ts';

const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const LABEL_NODE_EXCLUDE_DISRUPTION = 'node.kubernetes.io/exclude-disruption';
const NODE_UPDATE_WORKERS = 8;
const POD_UPDATE_WORKERS = 4;

/** Which condition status means which NoSchedule taint. */
const CONDITION_TAINTS: Record<string, Record<string, string>> = {
  Ready: { False: TAINT_NODE_NOT_READY, Unknown: TAINT_NODE_UNREACHABLE },
  MemoryPressure: { True: TAINT_NODE_MEMORY_PRESSURE },
  DiskPressure: { True: TAINT_NODE_DISK_PRESSURE },
  NetworkUnavailable: { True: TAINT_NODE_NETWORK_UNAVAILABLE },
  PIDPressure: { True: TAINT_NODE_PID_PRESSURE },
};
const CONDITION_TAINT_KEYS = new Set(Object.values(CONDITION_TAINTS).flatMap((m) => Object.values(m)));

/** Beta labels kept equal to their GA twins (upstream's labelReconcileInfo). */
const LABEL_RECONCILE: [string, string][] = [
  ['kubernetes.io/os', 'beta.kubernetes.io/os'],
  ['kubernetes.io/arch', 'beta.kubernetes.io/arch'],
];

type ZoneState = 'Initial' | 'Normal' | 'FullDisruption' | 'PartialDisruption';

export interface NodeLifecycleControllerOptions {
  /** How often node health is checked (--node-monitor-period; 5 s). */
  nodeMonitorPeriodMs?: number;
  /** How long a node may stay silent before it is Unknown (--node-monitor-grace-period; 40 s). */
  nodeMonitorGracePeriodMs?: number;
  /** The same for a node that never posted its status (--node-startup-grace-period; 60 s). */
  nodeStartupGracePeriodMs?: number;
  /** Nodes tainted per second in a healthy zone (--node-eviction-rate; 0.1). */
  evictionLimiterQPS?: number;
  /** The rate in a partially disrupted zone of a large cluster (--secondary-node-eviction-rate; 0.01). */
  secondaryEvictionLimiterQPS?: number;
  /** Nodes above which a cluster is large (--large-cluster-size-threshold; 50). */
  largeClusterThreshold?: number;
  /** Fraction of not-ready nodes (at least 3) that makes a zone partially disrupted (--unhealthy-zone-threshold; 0.55). */
  unhealthyZoneThreshold?: number;
  /** How often queued nodes are tainted (upstream's NodeEvictionPeriod; 100 ms). */
  nodeEvictionPeriodMs?: number;
}

interface HealthObservation {
  observed: NodeCondition;
  current: NodeCondition | undefined;
  health: NodeHealth;
  /** Whether the health entry took this node's conditions in this observation. */
  taken: boolean;
  now: number;
  /** The grace period has passed: the node's conditions must be set Unknown. */
  write: boolean;
}

interface NodeHealth {
  probeTimestamp: number;
  readyTransitionTimestamp: number;
  /** The node's conditions when last observed. */
  conditions: NodeCondition[] | undefined;
  /** renewTime (ms) of the lease when last observed. */
  leaseRenew?: number;
  /**
   * What the last observation saw, when the node had posted a Ready condition: the
   * informer's node and lease objects (replaced, never changed, on every update) and the
   * observation made of them. A pass that finds the same node object has nothing to fold
   * in but a renewed lease.
   */
  seen?: { node: KObject; lease: KObject | undefined; observed: NodeCondition; current: NodeCondition };
}

interface Informers {
  nodes: Informer;
  pods: Informer;
  leases: Informer;
}

/**
 * The node lifecycle controller. start() builds a fresh instance for each term of the
 * manager's leadership: node health is observed afresh, as after a restart upstream.
 */
export function nodeLifecycleController(opts: NodeLifecycleControllerOptions = {}): Controller {
  return { name: 'nodelifecycle', start: (ctx, signal) => new NodeLifecycleController(ctx, opts).run(signal) };
}

export class NodeLifecycleController {
  private readonly ctx: ControllerContext;
  private readonly inf: Informers;
  private readonly recorder: EventRecorder;
  private signal: AbortSignal = new AbortController().signal;
  private readonly o: Required<NodeLifecycleControllerOptions>;
  private readonly known = new Map<string, KObject>();
  private readonly health = new Map<string, NodeHealth>();
  private readonly zoneStates = new Map<string, ZoneState>();
  private readonly zoneTainters = new Map<string, RateLimitedTimedQueue>();
  private readonly nodesToRetry = new Set<string>();
  private readonly nodeQueue = new RateLimitingQueue<string>({ name: 'node_lifecycle_controller' });
  private readonly podQueue = new RateLimitingQueue<string>({ name: 'node_lifecycle_controller_pods' });

  /** Registers informers and handlers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, opts: NodeLifecycleControllerOptions = {}) {
    this.ctx = ctx;
    this.o = {
      nodeMonitorPeriodMs: opts.nodeMonitorPeriodMs ?? 5000,
      nodeMonitorGracePeriodMs: opts.nodeMonitorGracePeriodMs ?? 40_000,
      nodeStartupGracePeriodMs: opts.nodeStartupGracePeriodMs ?? 60_000,
      evictionLimiterQPS: opts.evictionLimiterQPS ?? 0.1,
      secondaryEvictionLimiterQPS: opts.secondaryEvictionLimiterQPS ?? 0.01,
      largeClusterThreshold: opts.largeClusterThreshold ?? 50,
      unhealthyZoneThreshold: opts.unhealthyZoneThreshold ?? 0.55,
      nodeEvictionPeriodMs: opts.nodeEvictionPeriodMs ?? 100,
    };
    this.recorder = ctx.recorder('node-controller');
    const inf: Informers = (this.inf = {
      nodes: ctx.factory.informerFor(ref.nodes),
      pods: ctx.factory.informerFor(ref.pods),
      // Cluster-wide, as upstream's shared lease informer: one watch shared with the other
      // controllers that watch leases (the garbage collector), read in kube-node-lease only.
      leases: ctx.factory.informerFor(ref.leases),
    });
    inf.pods.addIndexers({ [POD_NODE_NAME_INDEX]: podNodeNameIndex });
    inf.nodes.addEventHandler({
      onAdd: (n) => this.nodeQueue.add(n.metadata.name!),
      onUpdate: (_o, n) => this.nodeQueue.add(n.metadata.name!),
      onDelete: (n) => this.nodesToRetry.delete(n.metadata.name!),
    });
    inf.pods.addEventHandler({
      onAdd: (p) => {
        if (p.spec?.nodeName) this.podQueue.add(keyOf(p));
      },
      onUpdate: (o, p) => {
        if (p.spec?.nodeName && p.spec.nodeName !== o.spec?.nodeName) this.podQueue.add(keyOf(p));
      },
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    const synced = await Promise.all(Object.values(this.inf).map((i) => i.waitForSync(signal)));
    if (!synced.every(Boolean)) return;
    const log = this.ctx.log;
    await Promise.all([
      runWorkers(this.nodeQueue, NODE_UPDATE_WORKERS, (name) => this.nodeProcessingPass(name), signal, { log }),
      runWorkers(this.podQueue, POD_UPDATE_WORKERS, (key) => this.processPod(key), signal, { log }),
      this.every(this.o.nodeEvictionPeriodMs, () => this.doNoExecuteTaintingPass()),
      this.every(this.o.nodeMonitorPeriodMs, () => this.monitorNodeHealth()),
    ]);
  }

  /** Runs `fn`, then waits `ms`, until aborted (wait.Until). */
  private async every(ms: number, fn: () => Promise<void>): Promise<void> {
    const { ctx, signal } = this;
    while (!signal.aborted) {
      try {
        await fn();
      } catch (e) {
        if (!signal.aborted) ctx.log('node lifecycle pass failed', { error: String((e as Error)?.message ?? e) });
      }
      await sleep(ms, signal);
    }
  }

  // ---- NoSchedule taints and labels -------------------------------------------------

  private async nodeProcessingPass(name: string): Promise<void> {
    await this.doNoScheduleTaintingPass(name);
    await this.reconcileNodeLabels(name);
  }

  private async doNoScheduleTaintingPass(name: string): Promise<void> {
    const { ctx, inf, signal } = this;
    const node = inf.nodes.lister.get(undefined, name);
    if (!node) return;
    const want: Taint[] = [];
    for (const c of (node.status?.conditions ?? []) as NodeCondition[]) {
      const key = CONDITION_TAINTS[c.type]?.[c.status];
      if (key) want.push({ key, effect: 'NoSchedule' });
    }
    if (node.spec?.unschedulable) want.push({ key: TAINT_NODE_UNSCHEDULABLE, effect: 'NoSchedule' });
    const have = ((node.spec?.taints ?? []) as Taint[]).filter(
      (t) => t.effect === 'NoSchedule' && (t.key === TAINT_NODE_UNSCHEDULABLE || CONDITION_TAINT_KEYS.has(t.key)),
    );
    const add = want.filter((w) => !have.some((h) => matchTaint(h, w)));
    const del = have.filter((h) => !want.some((w) => matchTaint(h, w)));
    if (!add.length && !del.length) return;
    if (!(await swapNodeControllerTaint(ctx.client, node, { add, remove: del, signal, log: ctx.log }))) {
      throw new Error(`failed to swap taints of node ${name}`);
    }
  }

  private async reconcileNodeLabels(name: string): Promise<void> {
    const { ctx, inf, signal } = this;
    const node = inf.nodes.lister.get(undefined, name);
    if (!node) return;
    const labels = node.metadata.labels ?? {};
    const patch: Record<string, string> = {};
    for (const [primary, secondary] of LABEL_RECONCILE) {
      const v = labels[primary];
      if (v !== undefined && labels[secondary] !== v) patch[secondary] = v;
    }
    if (!Object.keys(patch).length) return;
    await ctx.client.patch(ref.nodes, undefined, name, 'merge', { metadata: { labels: patch } }, { signal });
  }

  // ---- health ---------------------------------------------------------------------

  private zoneTainter(node: KObject): RateLimitedTimedQueue {
    const zone = zoneKey(node);
    let q = this.zoneTainters.get(zone);
    if (!q) {
      q = new RateLimitedTimedQueue(new TokenBucket(this.o.evictionLimiterQPS, 1));
      this.zoneTainters.set(zone, q);
    }
    return q;
  }

  private addZone(node: KObject): void {
    const zone = zoneKey(node);
    if (!this.zoneStates.has(zone)) this.zoneStates.set(zone, 'Initial');
    this.zoneTainter(node);
  }

  private async monitorNodeHealth(): Promise<void> {
    const { ctx, inf, recorder, signal } = this;
    const nodes = inf.nodes.lister.list();
    const names = new Set(nodes.map((n) => n.metadata.name!));
    for (const node of nodes) {
      const name = node.metadata.name!;
      if (!this.known.has(name)) {
        recordNodeEvent(recorder, { node, type: 'Normal', reason: 'RegisteredNode', message: `Registered Node ${name} in Controller` });
        this.known.set(name, node);
        this.addZone(node);
        await this.markNodeAsReachable(node);
      } else if (!this.zoneStates.has(zoneKey(node))) {
        this.addZone(node);
      }
    }
    for (const [name, node] of this.known) {
      if (names.has(name)) continue;
      recordNodeEvent(recorder, { node, type: 'Normal', reason: 'RemovingNode', message: `Removing Node ${name} from Controller` });
      this.known.delete(name);
      this.health.delete(name);
    }

    const zoneConditions = new Map<string, (NodeCondition | undefined)[]>();
    const addZoneCondition = (node: KObject, c: NodeCondition | undefined) => {
      if (node.metadata.labels?.[LABEL_NODE_EXCLUDE_DISRUPTION] !== undefined) return;
      const z = zoneKey(node);
      const list = zoneConditions.get(z);
      if (list) list.push(c);
      else zoneConditions.set(z, [c]);
    };
    // Most passes find every node Ready, heartbeating and untainted: for those the pass has
    // nothing to write, and it runs here without a promise per node. The rest take the
    // general path below.
    const rest: KObject[] = [];
    const observations = new Map<KObject, HealthObservation>();
    for (const node of nodes) {
      const name = node.metadata.name!;
      const h = this.observeNodeHealth(node);
      if (
        h.write ||
        h.observed.status !== 'True' ||
        h.current?.status !== 'True' ||
        (node.spec?.taints as Taint[] | undefined)?.length ||
        this.nodesToRetry.has(name)
      ) {
        rest.push(node);
        observations.set(node, h);
        continue;
      }
      addZoneCondition(node, h.current);
      // processTaintBaseEviction of a Ready node without taints: markNodeAsReachable drops any pending tainting.
      this.zoneTainter(node).remove(name);
    }
    await forEachLimit(rest, async (cached) => {
      if (signal.aborted) return;
      // The informer's copy is read, never written: tryUpdateNodeHealth clones it only when
      // it must write the node's status.
      let node: KObject | undefined = cached;
      let result: { observed: NodeCondition; current: NodeCondition | undefined } | undefined;
      for (let attempt = 0; attempt < 5 && node && !result; attempt++) {
        try {
          // The first attempt goes on from this pass's observation; a retry observes the node it re-read.
          const r = await this.tryUpdateNodeHealth(node, attempt === 0 ? observations.get(cached) : undefined);
          result = r;
          node = r.node;
        } catch (e) {
          if (signal.aborted) return;
          ctx.log('node health update failed; re-reading the node', { node: node.metadata.name, error: String((e as Error).message) });
          try {
            node = await ctx.client.get(ref.nodes, undefined, node.metadata.name!, { signal });
          } catch {
            node = undefined;
          }
        }
      }
      if (!node || !result) {
        ctx.log('Update health of Node from Controller error, Skipping - no pods will be evicted', { node: cached.metadata.name });
        return;
      }
      addZoneCondition(node, result.current);
      const { observed, current } = result;
      const name = node.metadata.name!;
      if (current) {
        await this.processTaintBaseEviction(node, observed);
        const needsRetry = this.nodesToRetry.has(name);
        const becameNotReady = current.status !== 'True' && observed.status === 'True';
        if (becameNotReady) recordNodeStatusChange(recorder, { node, newStatus: 'NodeNotReady' });
        if (becameNotReady || (needsRetry && observed.status !== 'True')) {
          const pods = inf.pods.lister.byIndex(POD_NODE_NAME_INDEX, name);
          try {
            await markPodsNotReady(ctx.client, { recorder, pods, nodeName: name, signal });
          } catch (e) {
            ctx.log('unable to mark all pods NotReady on node; queuing for retry', { node: name, error: String((e as Error).message) });
            this.nodesToRetry.add(name);
            return;
          }
        }
      }
      this.nodesToRetry.delete(name);
    });
    await this.handleDisruption(zoneConditions, nodes);
  }

  /**
   * The first half of tryUpdateNodeHealth: folds the node's latest heartbeat (Ready
   * condition or Lease) into the health map, and tells whether the grace period has passed
   * (`write`: its conditions must be set Unknown). Reads `node`, never writes it.
   */
  private observeNodeHealth(node: KObject): HealthObservation {
    const { inf } = this;
    const name = node.metadata.name!;
    const now = Date.now();
    let health = this.health.get(name);
    const lease = inf.leases.lister.get(NODE_LEASE_NAMESPACE, name);
    const seen = health?.seen;
    if (health && seen && seen.node === node) {
      // The node is the one the last pass observed: its conditions are the health entry's
      // already (the general path below would change nothing), so only a renewed lease
      // and the clock can have moved.
      if (lease !== seen.lease) {
        this.observeLease(health, lease, now);
        seen.lease = lease;
      }
      return { observed: seen.observed, current: seen.current, health, taken: false, now, write: now > health.probeTimestamp + this.o.nodeMonitorGracePeriodMs };
    }
    const created = Date.parse(node.metadata.creationTimestamp ?? '') || now;
    let current = nodeCondition(node, 'Ready');
    let observed: NodeCondition;
    let grace: number;
    // `node` may be the informer's copy: read only (a private clone is taken before a write).
    const status: NonNullable<KObject['status']> = node.status ?? {};
    // Whether the health entry took this node's conditions in this pass.
    let taken = false;
    if (!current) {
      // Never posted: a made-up Unknown condition dated at creation, and the startup grace period.
      observed = { type: 'Ready', status: 'Unknown', lastHeartbeatTime: node.metadata.creationTimestamp, lastTransitionTime: node.metadata.creationTimestamp };
      grace = this.o.nodeStartupGracePeriodMs;
      if (health) health.conditions = status.conditions;
      else health = { conditions: status.conditions, probeTimestamp: created, readyTransitionTimestamp: created };
      taken = true;
    } else {
      observed = { ...current };
      grace = this.o.nodeMonitorGracePeriodMs;
    }
    const saved = health ? nodeCondition({ metadata: {}, status: { conditions: health.conditions } }, 'Ready') : undefined;
    if (!health) {
      health = { conditions: status.conditions, probeTimestamp: now, readyTransitionTimestamp: now };
      taken = true;
    } else if (!saved && current) {
      health = { conditions: status.conditions, probeTimestamp: now, readyTransitionTimestamp: now, leaseRenew: health.leaseRenew };
      taken = true;
    } else if (saved && !current) {
      health = { conditions: status.conditions, probeTimestamp: now, readyTransitionTimestamp: now, leaseRenew: health.leaseRenew };
      taken = true;
    } else if (saved && current && saved.lastHeartbeatTime !== current.lastHeartbeatTime) {
      const transition = saved.lastTransitionTime !== current.lastTransitionTime ? now : health.readyTransitionTimestamp;
      health = { conditions: status.conditions, probeTimestamp: now, readyTransitionTimestamp: transition, leaseRenew: health.leaseRenew };
      taken = true;
    }
    this.observeLease(health, lease, now);
    // The fast path above holds while this node object stays: health's conditions are its own now.
    health.seen = current ? { node, lease, observed, current } : undefined;
    this.health.set(name, health);

    return { observed, current, health, taken, now, write: now > health.probeTimestamp + grace };
  }

  /** A renewed lease is a heartbeat too. */
  private observeLease(health: NodeHealth, lease: KObject | undefined, now: number): void {
    const renew = lease ? Date.parse(lease.spec?.renewTime ?? '') : NaN;
    if (Number.isFinite(renew) && (health.leaseRenew === undefined || health.leaseRenew < renew)) {
      health.leaseRenew = renew;
      health.probeTimestamp = now;
    }
  }

  /**
   * Folds the node's latest heartbeat (Ready condition or Lease) into the health map and,
   * past the grace period, sets its conditions Unknown. Returns the Ready condition as
   * observed before and as it is now. Throws when the status write fails.
   */
  private async tryUpdateNodeHealth(
    node: KObject,
    obs = this.observeNodeHealth(node),
  ): Promise<{ observed: NodeCondition; current: NodeCondition | undefined; node: KObject }> {
    const { ctx, signal } = this;
    const name = node.metadata.name!;
    const { observed, health, taken, now } = obs;
    let current = obs.current;
    if (obs.write) {
      node = structuredClone(node);
      node.status ??= {};
      // The health entry shares the conditions it was taken from, as it did the clone's before.
      if (taken) health.conditions = node.status.conditions;
      const ts = rfc3339(now);
      const conds: NodeCondition[] = (node.status.conditions ??= []);
      for (const type of ['Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure']) {
        const c = conds.find((x) => x.type === type);
        if (!c) {
          conds.push({
            type,
            status: 'Unknown',
            reason: 'NodeStatusNeverUpdated',
            message: 'Kubelet never posted node status.',
            lastHeartbeatTime: node.metadata.creationTimestamp,
            lastTransitionTime: ts,
          });
        } else if (c.status !== 'Unknown') {
          c.status = 'Unknown';
          c.reason = 'NodeStatusUnknown';
          c.message = 'Kubelet stopped posting node status.';
          c.lastTransitionTime = ts;
        }
      }
      current = nodeCondition(node, 'Ready');
      if (JSON.stringify(current) !== JSON.stringify(observed)) {
        const written = await ctx.client.update(ref.nodes, undefined, node, { subresource: 'status', signal });
        // Later writes in this pass (taints) start from what the server holds now.
        node.metadata = written.metadata;
        node.spec = written.spec;
        node.status = written.status;
        this.health.set(name, { conditions: node.status.conditions, probeTimestamp: health.probeTimestamp, readyTransitionTimestamp: Date.now(), leaseRenew: health.leaseRenew });
      }
    }
    return { observed, current, node };
  }

  private async processTaintBaseEviction(node: KObject, observed: NodeCondition): Promise<void> {
    const { ctx, signal } = this;
    const taints = node.spec?.taints as Taint[] | undefined;
    switch (observed.status) {
      case 'False':
        if (taintExists(taints, UNREACHABLE_TAINT)) {
          // Already unreachable: swap at once rather than through the rate limiter.
          if (!(await swapNodeControllerTaint(ctx.client, node, { add: [NOT_READY_TAINT], remove: [UNREACHABLE_TAINT], signal, log: ctx.log }))) {
            ctx.log('Failed to instantly swap UnreachableTaint to NotReadyTaint. Will try again in the next cycle', { node: node.metadata.name });
          }
        } else this.markNodeForTainting(node, 'False');
        break;
      case 'Unknown':
        if (taintExists(taints, NOT_READY_TAINT)) {
          if (!(await swapNodeControllerTaint(ctx.client, node, { add: [UNREACHABLE_TAINT], remove: [NOT_READY_TAINT], signal, log: ctx.log }))) {
            ctx.log('Failed to instantly swap NotReadyTaint to UnreachableTaint. Will try again in the next cycle', { node: node.metadata.name });
          }
        } else this.markNodeForTainting(node, 'Unknown');
        break;
      case 'True':
        await this.markNodeAsReachable(node);
        break;
    }
  }

  private markNodeForTainting(node: KObject, status: 'False' | 'Unknown'): boolean {
    const q = this.zoneTainter(node);
    const taints = node.spec?.taints as Taint[] | undefined;
    if (status === 'False' && !taintExists(taints, NOT_READY_TAINT)) q.remove(node.metadata.name!);
    if (status === 'Unknown' && !taintExists(taints, UNREACHABLE_TAINT)) q.remove(node.metadata.name!);
    return q.add(node.metadata.name!, node.metadata.uid ?? '');
  }

  /** Removes the NoExecute taints and any pending tainting; true if the node was queued for tainting. */
  private async markNodeAsReachable(node: KObject): Promise<boolean> {
    const { ctx, signal } = this;
    const taints = node.spec?.taints as Taint[] | undefined;
    // Every Ready node comes here on every pass: nothing is allocated when it has no taint.
    const remove = taints?.length ? [UNREACHABLE_TAINT, NOT_READY_TAINT].filter((t) => taintExists(taints, t)) : [];
    if (remove.length && !(await swapNodeControllerTaint(ctx.client, node, { add: [], remove, signal, log: ctx.log }))) {
      ctx.log('Failed to remove taints from node. Will retry in next iteration', { node: node.metadata.name });
    }
    return this.zoneTainter(node).remove(node.metadata.name!);
  }

  private async doNoExecuteTaintingPass(): Promise<void> {
    const { ctx, inf, signal } = this;
    for (const q of [...this.zoneTainters.values()]) {
      await q.try(async (v) => {
        const node = inf.nodes.lister.get(undefined, v.value);
        if (!node) return [true];
        const ready = nodeCondition(node, 'Ready');
        if (!ready) return [false, 50];
        let add: Taint;
        let opposite: Taint;
        if (ready.status === 'False') [add, opposite] = [NOT_READY_TAINT, UNREACHABLE_TAINT];
        else if (ready.status === 'Unknown') [add, opposite] = [UNREACHABLE_TAINT, NOT_READY_TAINT];
        // Ready again: nothing to taint.
        else return [true];
        return [await swapNodeControllerTaint(ctx.client, node, { add: [add], remove: [opposite], signal, log: ctx.log }), 0];
      });
    }
  }

  private computeZoneState(conds: (NodeCondition | undefined)[]): [number, ZoneState] {
    let ready = 0;
    let notReady = 0;
    for (const c of conds) {
      if (c?.status === 'True') ready++;
      else notReady++;
    }
    if (ready === 0 && notReady > 0) return [notReady, 'FullDisruption'];
    if (notReady > 2 && notReady / (notReady + ready) >= this.o.unhealthyZoneThreshold) return [notReady, 'PartialDisruption'];
    return [notReady, 'Normal'];
  }

  private setLimiterInZone(zone: string, o: { size: number; state: ZoneState }): void {
    const { size: zoneSize, state } = o;
    const q = this.zoneTainters.get(zone);
    if (!q) return;
    switch (state) {
      case 'Normal':
        q.swapLimiter(this.o.evictionLimiterQPS);
        break;
      case 'PartialDisruption':
        // ReducedQPSFunc: large clusters slow down, small ones stop.
        q.swapLimiter(zoneSize > this.o.largeClusterThreshold ? this.o.secondaryEvictionLimiterQPS : 0);
        break;
      case 'FullDisruption':
        // HealthyQPSFunc: a zone wholly down is tainted at the normal rate.
        q.swapLimiter(this.o.evictionLimiterQPS);
        break;
    }
  }

  private async handleDisruption(zoneConditions: Map<string, (NodeCondition | undefined)[]>, nodes: KObject[]): Promise<void> {
    const { ctx } = this;
    const newStates = new Map<string, ZoneState>();
    let allAreFullyDisrupted = true;
    for (const [zone, conds] of zoneConditions) {
      const [, state] = this.computeZoneState(conds);
      if (state !== 'FullDisruption') allAreFullyDisrupted = false;
      newStates.set(zone, state);
      if (!this.zoneStates.has(zone)) this.zoneStates.set(zone, 'Initial');
    }
    let allWasFullyDisrupted = true;
    for (const [zone, state] of [...this.zoneStates]) {
      if (!zoneConditions.has(zone)) {
        this.zoneStates.delete(zone);
        continue;
      }
      if (state !== 'FullDisruption') {
        allWasFullyDisrupted = false;
        break;
      }
    }
    if (allAreFullyDisrupted && allWasFullyDisrupted) return;
    if (allAreFullyDisrupted) {
      ctx.log('Controller detected that all Nodes are not-Ready. Entering master disruption mode');
      for (const node of nodes) await this.markNodeAsReachable(node);
      for (const zone of this.zoneStates.keys()) this.zoneTainters.get(zone)?.swapLimiter(0);
      for (const zone of this.zoneStates.keys()) this.zoneStates.set(zone, 'FullDisruption');
      return;
    }
    if (allWasFullyDisrupted) {
      ctx.log('Controller detected that some Nodes are Ready. Exiting master disruption mode');
      const now = Date.now();
      for (const node of nodes) {
        const h = this.health.get(node.metadata.name!);
        if (h) {
          h.probeTimestamp = now;
          h.readyTransitionTimestamp = now;
        }
      }
      for (const zone of [...this.zoneStates.keys()]) {
        const state = newStates.get(zone) ?? 'Normal';
        this.setLimiterInZone(zone, { size: zoneConditions.get(zone)?.length ?? 0, state });
        this.zoneStates.set(zone, state);
      }
      return;
    }
    for (const [zone, state] of [...this.zoneStates]) {
      const next = newStates.get(zone);
      if (!next || next === state) continue;
      ctx.log('Controller detected that zone is now in new state', { zone, newState: next });
      this.setLimiterInZone(zone, { size: zoneConditions.get(zone)?.length ?? 0, state: next });
      this.zoneStates.set(zone, next);
    }
  }

  /** A pod bound to a node that is not Ready is NotReady too. */
  private async processPod(key: string): Promise<void> {
    const { ctx, inf, recorder, signal } = this;
    const { namespace, name } = splitKey(key);
    const pod = inf.pods.lister.get(namespace, name);
    if (!pod) return;
    const nodeName = pod.spec?.nodeName;
    const health = this.health.get(nodeName);
    if (!health) return;
    if (!inf.nodes.lister.get(undefined, nodeName)) throw new Error(`node ${nodeName} of pod ${key} is not in the cache yet`);
    const ready = nodeCondition({ metadata: {}, status: { conditions: health.conditions } }, 'Ready');
    if (!ready || ready.status === 'True') return;
    try {
      await markPodsNotReady(ctx.client, { recorder, pods: [pod], nodeName, signal });
    } catch (e) {
      if (isStatusError(e) && e.code === 404) return;
      throw e;
    }
  }
}

/** Runs `fn` over `items`, NODE_UPDATE_WORKERS at a time (workqueue.ParallelizeUntil). */
async function forEachLimit<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(NODE_UPDATE_WORKERS, items.length) }, worker));
}
