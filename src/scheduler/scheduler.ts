// The scheduler: informers feed the cache (nodes, bound pods) and the queue (pending pods
// of this scheduler's profiles); one loop pops a pod and runs its scheduling cycle; the
// binding cycle runs asynchronously, as upstream's scheduleOne.
//
// The scheduling cycle is synchronous, from the snapshot to Permit: informer events
// cannot interleave with it (they run between cycles), so the snapshot taken at its
// start is what every plugin sees, and the assumed pod is in the cache before the next
// cycle begins. The loop yields to the event loop every few milliseconds so bindings,
// watches and timers keep flowing while the queue is busy.
//
// Pods are this scheduler's when spec.schedulerName names one of its profiles; pods with
// spec.nodeName (static/mirror pods, pods placed by hand) never enter the queue. Pods
// naming another scheduler are ignored (they stay Pending if none runs).

import type { KObject } from '../api/object.ts';
import { EventBroadcaster, type EventRecorder } from '../client/events.ts';
import { SharedInformerFactory } from '../client/factory.ts';
import { stripManagedFields, type Informer } from '../client/informer.ts';
import type { Lister } from '../client/indexer.ts';
import { ref } from '../client/resources.ts';
import type { Client } from '../client/types.ts';
import type { Logger } from '../client/util.ts';
import { isStatusError } from '../api/errors.ts';
import type { Node, Pod, PodCondition } from './framework/api.ts';
import { isTerminal, schedulerNameOf } from './framework/api.ts';
import { ERR_NO_NODES_AVAILABLE, fitErrorMessage } from './framework/fiterror.ts';
import { ActionType, CycleState, NodeToStatus, type ClusterEvent, type ClusterListers, type QueuedPodInfo } from './framework/interface.ts';
import { Framework } from './framework/runtime.ts';
import { Status, unresolvable } from './framework/status.ts';
import { PodInfo, Resource, type NodeInfo } from './framework/types.ts';
import { Cache, Snapshot } from './internal/cache.ts';
import { SchedulingQueue, type RequeueDecision } from './internal/queue.ts';
import { resolveConfiguration, type ResolvedConfiguration } from './config.ts';
import { DefaultPreemption } from './plugins/defaultpreemption.ts';
import { inTreeRegistry, type Registry } from './plugins/registry.ts';

/** Upstream's minFeasibleNodesToFind and minFeasibleNodesPercentageToFind. */
export const MIN_FEASIBLE_NODES_TO_FIND = 100;
export const MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5;
/** validation.NoteLengthLimit: longer event messages are cut with " ...". */
const NOTE_LENGTH_LIMIT = 1024;

/**
 * numFeasibleNodesToFind: every node below 100; else `percentage` of them (0 = adaptive:
 * 50% − nodes/125, at least 5%), at least 100.
 */
export function numFeasibleNodesToFind(percentage: number, numAllNodes: number): number {
  if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) return numAllNodes;
  let p = percentage;
  if (p === 0) {
    p = 50 - Math.trunc(numAllNodes / 125);
    if (p < MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND) p = MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND;
  }
  const n = Math.trunc((numAllNodes * p) / 100);
  return n < MIN_FEASIBLE_NODES_TO_FIND ? MIN_FEASIBLE_NODES_TO_FIND : n;
}

/** The built-in PriorityClasses, known even before the informer has them. */
const SYSTEM_PRIORITY_CLASSES: Record<string, number> = {
  'system-node-critical': 2000001000,
  'system-cluster-critical': 2000000000,
};

export interface Diagnosis {
  statuses: NodeToStatus;
  unschedulablePlugins: Set<string>;
  pendingPlugins: Set<string>;
  preFilterMsg: string;
  postFilterMsg: string;
}

/** Why a scheduling cycle ended without a node. */
export interface CycleFailure {
  status: Status;
  message: string;
  diagnosis?: Diagnosis;
  /** undefined: keep the pod's nomination; '' clears it; a name nominates. */
  nominatedNodeName?: string;
}

export interface ScheduleResult {
  suggestedHost: string;
  evaluatedNodes: number;
  feasibleNodes: number;
}

export interface SchedulerOptions {
  client: Client;
  config?: ResolvedConfiguration;
  /** Share informers with other components of this process; one is made (and started by run) otherwise. */
  factory?: SharedInformerFactory;
  /** Events go through this broadcaster (one is made otherwise). */
  broadcaster?: EventBroadcaster;
  /** Out-of-tree plugins join the in-tree ones. */
  registry?: Registry;
  log?: Logger;
  /** API writes of the binding cycle in flight at once (default 64). */
  bindConcurrency?: number;
  /** Milliseconds of scheduling before yielding to the event loop (default 5). */
  timeSliceMs?: number;
}

export interface SchedulerStats {
  attempts: number;
  scheduled: number;
  unschedulable: number;
  errors: number;
  bindingsInFlight: number;
  /** Milliseconds spent in synchronous scheduling cycles (snapshot to Permit, failure handling included). */
  cycleMs: number;
}

class Semaphore {
  private available: number;
  private readonly waiters: (() => void)[] = [];
  constructor(n: number) {
    this.available = n;
  }
  async acquire(): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return;
    }
    await new Promise<void>((r) => this.waiters.push(r));
  }
  release(): void {
    const w = this.waiters.shift();
    if (w) w();
    else this.available++;
  }
}

export class Scheduler {
  readonly cache = new Cache();
  readonly snapshot = new Snapshot();
  readonly queue: SchedulingQueue;
  readonly profiles = new Map<string, Framework>();
  readonly config: ResolvedConfiguration;
  readonly factory: SharedInformerFactory;
  readonly broadcaster: EventBroadcaster;
  private readonly ownsFactory: boolean;
  private readonly ownsBroadcaster: boolean;
  private readonly client: Client;
  private readonly log: Logger;
  private readonly recorders = new Map<string, EventRecorder>();
  private readonly podInformer: Informer<Pod>;
  private readonly listers: ClusterListers;
  private readonly bindSem: Semaphore;
  private readonly writeSem = new Semaphore(16);
  private readonly timeSliceMs: number;
  private nextStartNodeIndex = 0;
  /** Event resources and actions some plugin registered for (others are not worth a queue scan). */
  private readonly interesting = new Map<string, number>();
  private readonly counters = { attempts: 0, scheduled: 0, unschedulable: 0, errors: 0, bindingsInFlight: 0, cycleMs: 0 };
  private readonly bindings = new Set<Promise<void>>();
  private stopping: AbortSignal | undefined;
  /** Called after every successful binding (benchmarks, tests). */
  onScheduled: ((pod: Pod, node: string, latencyMs: number) => void) | undefined;

  constructor(opts: SchedulerOptions) {
    this.client = opts.client;
    this.config = opts.config ?? resolveConfiguration({});
    this.log = opts.log ?? (() => {});
    this.ownsFactory = !opts.factory;
    // Cached objects without managedFields, as kube-scheduler's informers keep them.
    this.factory = opts.factory ?? new SharedInformerFactory(opts.client, { log: this.log, transform: stripManagedFields });
    this.ownsBroadcaster = !opts.broadcaster;
    this.broadcaster = opts.broadcaster ?? new EventBroadcaster(opts.client, { log: this.log });
    this.bindSem = new Semaphore(opts.bindConcurrency ?? 64);
    this.timeSliceMs = opts.timeSliceMs ?? 5;

    const f = this.factory;
    this.podInformer = f.informerFor<Pod>(ref.pods, { fieldSelector: 'status.phase!=Succeeded,status.phase!=Failed' });
    const nodeInformer = f.informerFor<Node>(ref.nodes);
    const inf = (r: typeof ref.pods) => f.informerFor(r);
    const informers = {
      namespaces: inf(ref.namespaces),
      services: inf(ref.services),
      replicationcontrollers: inf(ref.replicationcontrollers),
      replicasets: inf(ref.replicasets),
      statefulsets: inf(ref.statefulsets),
      poddisruptionbudgets: inf(ref.poddisruptionbudgets),
      persistentvolumeclaims: inf(ref.persistentvolumeclaims),
      persistentvolumes: inf(ref.persistentvolumes),
      storageclasses: inf(ref.storageclasses),
      priorityclasses: inf(ref.priorityclasses),
    };
    this.listers = { pods: this.podInformer.lister as Lister<Pod>, ...Object.fromEntries(Object.entries(informers).map(([k, v]) => [k, v.lister])) };

    const registry = new Map(inTreeRegistry());
    for (const [k, v] of opts.registry ?? []) registry.set(k, v);
    for (const p of this.config.profiles) {
      const fwk = new Framework(p, {
        registry,
        client: this.client,
        recorder: this.recorderFor(p.schedulerName),
        listers: this.listers,
        nominator: { nominatedPodsForNode: (n) => this.queue.nominatedPodsForNode(n) },
        snapshot: () => this.snapshot,
        priorityOf: (pod) => this.priorityOf(pod),
        preemptionPolicyOf: (pod) => this.preemptionPolicyOf(pod),
        log: this.log,
      });
      this.profiles.set(p.schedulerName, fwk);
      for (const pl of fwk.plugins.values()) {
        if (pl instanceof DefaultPreemption) {
          pl.onPreemptionDone = (pi) => {
            if (this.queue.whereIs(pi.key) === 'gated') this.queue.activate([pi.key]);
          };
        }
      }
      for (const events of fwk.enqueueExtensions.values()) {
        for (const e of events) this.interesting.set(e.event.resource, (this.interesting.get(e.event.resource) ?? 0) | e.event.actionType);
      }
    }
    const first = this.profiles.values().next().value!;
    this.queue = new SchedulingQueue({
      less: (a, b) => first.queueSortPlugin.less(a, b),
      preEnqueue: (pi) => this.profiles.get(schedulerNameOf(pi.pod))?.runPreEnqueuePlugins(pi),
      requeue: (qp, ev, o, n) => this.requeueDecision(qp, ev, o, n),
      podInitialBackoffMs: this.config.podInitialBackoffSeconds * 1000,
      podMaxBackoffMs: this.config.podMaxBackoffSeconds * 1000,
      isUnassigned: (pod) => {
        const cur = this.podInformer.lister.get(pod.metadata.namespace, pod.metadata.name!);
        return !!cur && !cur.spec?.nodeName;
      },
    });

    this.podInformer.addEventHandler({
      onAdd: (p) => this.onPodAdd(p),
      onUpdate: (o, n) => this.onPodUpdate(o, n),
      onDelete: (p) => this.onPodDelete(p),
    });
    nodeInformer.addEventHandler({
      onAdd: (n) => {
        this.cache.addNode(n);
        this.moveAll({ resource: 'Node', actionType: ActionType.Add }, undefined, n);
      },
      onUpdate: (o, n) => {
        this.cache.updateNode(n);
        const a = nodeChange(o, n);
        if (a) this.moveAll({ resource: 'Node', actionType: a }, o, n);
      },
      onDelete: (n) => {
        this.cache.removeNode(n.metadata.name!);
        this.moveAll({ resource: 'Node', actionType: ActionType.Delete }, n, undefined);
      },
    });
    const watchOnly = (inf: Informer, resource: ClusterEvent['resource']) =>
      inf.addEventHandler({
        onAdd: (o) => this.moveAll({ resource, actionType: ActionType.Add }, undefined, o),
        onUpdate: (o, n) => {
          if (o.metadata.resourceVersion !== n.metadata.resourceVersion) this.moveAll({ resource, actionType: ActionType.UpdateOther }, o, n);
        },
        onDelete: (o) => this.moveAll({ resource, actionType: ActionType.Delete }, o, undefined),
      });
    const forgetDefaultClass = () => (this.defaultClass = null);
    informers.priorityclasses.addEventHandler({ onAdd: forgetDefaultClass, onUpdate: forgetDefaultClass, onDelete: forgetDefaultClass });
    watchOnly(informers.persistentvolumeclaims, 'PersistentVolumeClaim');
    watchOnly(informers.persistentvolumes, 'PersistentVolume');
    watchOnly(informers.storageclasses, 'StorageClass');
    watchOnly(informers.namespaces, 'Namespace');
    watchOnly(informers.poddisruptionbudgets, 'PodDisruptionBudget');
  }

  // ---- priorities ----

  priorityOf(pod: Pod): number {
    if (typeof pod.spec?.priority === 'number') return pod.spec.priority;
    // The Priority admission plugin may not have run: resolve the class as it would.
    const name = pod.spec?.priorityClassName;
    const classes = this.listers.priorityclasses;
    if (name) {
      const pc = classes?.get(undefined, name);
      if (pc && typeof pc.value === 'number') return pc.value;
      return SYSTEM_PRIORITY_CLASSES[name] ?? 0;
    }
    return this.globalDefaultClass()?.value ?? 0;
  }

  preemptionPolicyOf(pod: Pod): string {
    if (pod.spec?.preemptionPolicy) return pod.spec.preemptionPolicy;
    const name = pod.spec?.priorityClassName;
    const pc = name ? this.listers.priorityclasses?.get(undefined, name) : this.globalDefaultClass();
    return (pc?.preemptionPolicy as string | undefined) ?? 'PreemptLowerPriority';
  }

  /** null: not computed since the PriorityClasses last changed. */
  private defaultClass: KObject | undefined | null = null;

  private globalDefaultClass(): KObject | undefined {
    if (this.defaultClass !== null) return this.defaultClass;
    let best: KObject | undefined;
    for (const pc of this.listers.priorityclasses?.list() ?? []) {
      if (pc.globalDefault !== true) continue;
      if (!best || pc.value < best.value) best = pc;
    }
    this.defaultClass = best;
    return best;
  }

  private readonly priorityResolver = (pod: Pod) => this.priorityOf(pod);

  private podInfo(pod: Pod): PodInfo {
    return new PodInfo(pod, this.priorityResolver);
  }

  private recorderFor(schedulerName: string): EventRecorder {
    let r = this.recorders.get(schedulerName);
    if (!r) this.recorders.set(schedulerName, (r = this.broadcaster.newRecorder({ component: schedulerName })));
    return r;
  }

  // ---- informer handlers ----

  private responsibleFor(pod: Pod): boolean {
    return this.profiles.has(schedulerNameOf(pod));
  }

  private onPodAdd(pod: Pod): void {
    if (pod.spec?.nodeName) {
      if (isTerminal(pod)) return;
      const pi = this.podInfo(pod);
      this.cache.addPod(pi);
      this.moveAll({ resource: 'AssignedPod', actionType: ActionType.Add }, undefined, pod);
      return;
    }
    if (this.responsibleFor(pod) && !isTerminal(pod)) this.queue.add(this.podInfo(pod));
  }

  private onPodUpdate(old: Pod, pod: Pod): void {
    const oldAssigned = !!old.spec?.nodeName;
    const newAssigned = !!pod.spec?.nodeName && !isTerminal(pod);
    if (newAssigned) {
      if (!oldAssigned) {
        // Bound: leaves the queue, joins the cache (confirming an assumed pod).
        this.queue.delete(old);
        this.cache.addOrUpdatePod(pod, () => this.podInfo(pod));
        this.moveAll({ resource: 'AssignedPod', actionType: ActionType.Add }, undefined, pod);
      } else {
        this.cache.addOrUpdatePod(pod, () => this.podInfo(pod));
        const a = assignedPodChange(old, pod);
        if (a) this.moveAll({ resource: 'AssignedPod', actionType: a }, old, pod);
      }
      return;
    }
    if (oldAssigned) {
      this.cache.removePod(old.metadata.uid ?? '');
      this.moveAll({ resource: 'AssignedPod', actionType: ActionType.Delete }, old, undefined);
      return;
    }
    const oldMine = this.responsibleFor(old);
    const newMine = this.responsibleFor(pod) && !isTerminal(pod);
    if (newMine && old.metadata.resourceVersion === pod.metadata.resourceVersion) return;
    if (newMine && this.cache.isAssumed(pod.metadata.uid ?? '')) return;
    if (newMine && oldMine) this.queue.update(old, this.podInfo(pod));
    else if (newMine) this.queue.add(this.podInfo(pod));
    else if (oldMine) this.queue.delete(old);
  }

  private onPodDelete(pod: Pod): void {
    if (pod.spec?.nodeName) {
      this.cache.removePod(pod.metadata.uid ?? '');
      this.moveAll({ resource: 'AssignedPod', actionType: ActionType.Delete }, pod, undefined);
      return;
    }
    this.queue.delete(pod);
    for (const fwk of this.profiles.values()) fwk.getWaitingPod(pod.metadata.uid ?? '')?.reject('', 'removed');
  }

  private moveAll(event: ClusterEvent, oldObj: KObject | undefined, newObj: KObject | undefined, preCheck?: (pi: PodInfo) => boolean): void {
    const reg = (this.interesting.get(event.resource) ?? 0) | (this.interesting.get('WildCard') ?? 0);
    if ((reg & event.actionType) === 0) return;
    this.queue.moveAllToActiveOrBackoffQueue(event, oldObj, newObj, preCheck);
  }

  /** isPodWorthRequeuing: the hints of the plugins that rejected the pod, for this event. */
  private requeueDecision(qp: QueuedPodInfo, event: ClusterEvent, oldObj: KObject | undefined, newObj: KObject | undefined): RequeueDecision {
    const rejectors = new Set([...qp.unschedulablePlugins, ...qp.pendingPlugins]);
    if (rejectors.size === 0 || event.resource === 'WildCard') return 'QueueAfterBackoff';
    const fwk = this.profiles.get(schedulerNameOf(qp.podInfo.pod));
    if (!fwk) return 'Skip';
    let decision: RequeueDecision = 'Skip';
    for (const plugin of rejectors) {
      for (const e of fwk.enqueueExtensions.get(plugin) ?? []) {
        if (e.event.resource !== event.resource && e.event.resource !== 'WildCard') continue;
        if ((e.event.actionType & event.actionType) === 0) continue;
        let hint: 'Queue' | 'Skip' = 'Queue';
        try {
          if (e.hint) hint = e.hint(qp.podInfo, oldObj, newObj);
        } catch {
          hint = 'Queue';
        }
        if (hint === 'Skip') continue;
        if (qp.pendingPlugins.has(plugin)) return 'QueueImmediately';
        decision = 'QueueAfterBackoff';
      }
    }
    return decision;
  }

  // ---- running ----

  /** Starts informers (when owned), waits for them, and schedules until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    this.stopping = signal;
    if (this.ownsFactory) this.factory.start(signal);
    if (!(await this.factory.waitForSync(signal))) return;
    this.queue.run(signal);
    this.log('scheduler started', { profiles: [...this.profiles.keys()].join(','), nodes: this.cache.nodeCount() });
    try {
      await this.loop(signal);
    } finally {
      await Promise.allSettled([...this.bindings]);
      if (this.ownsBroadcaster) this.broadcaster.shutdown();
    }
  }

  /** Resolves once informers have synced (for callers that start the factory themselves). */
  async waitForCacheSync(signal?: AbortSignal): Promise<boolean> {
    return this.factory.waitForSync(signal);
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const sliceEnd = performance.now() + this.timeSliceMs;
      let qp: QueuedPodInfo | undefined;
      while (!signal.aborted && (qp = this.queue.tryPop())) {
        this.scheduleOne(qp);
        if (performance.now() >= sliceEnd) break;
      }
      if (signal.aborted) break;
      if (this.queue.hasActive()) await new Promise((r) => setImmediate(r));
      else await this.queue.waitForPod(signal);
    }
  }

  /** Schedules pods until the queue has none active (tests drive the scheduler synchronously with this). */
  scheduleAvailable(): number {
    let n = 0;
    let qp: QueuedPodInfo | undefined;
    while ((qp = this.queue.tryPop())) {
      this.scheduleOne(qp);
      n++;
    }
    return n;
  }

  /** Resolves when every binding started so far has finished. */
  async settleBindings(): Promise<void> {
    while (this.bindings.size > 0) await Promise.allSettled([...this.bindings]);
  }

  stats(): SchedulerStats {
    return { ...this.counters };
  }

  /** Prometheus text: attempts by result, pending pods by queue, bindings in flight. */
  metricsText(): string {
    const q = this.queue.stats();
    const c = this.counters;
    return [
      '# HELP scheduler_schedule_attempts_total Number of attempts to schedule pods, by the result.',
      '# TYPE scheduler_schedule_attempts_total counter',
      `scheduler_schedule_attempts_total{result="scheduled"} ${c.scheduled}`,
      `scheduler_schedule_attempts_total{result="unschedulable"} ${c.unschedulable}`,
      `scheduler_schedule_attempts_total{result="error"} ${c.errors}`,
      '# HELP scheduler_pending_pods Number of pending pods, by the queue type.',
      '# TYPE scheduler_pending_pods gauge',
      `scheduler_pending_pods{queue="active"} ${q.active}`,
      `scheduler_pending_pods{queue="backoff"} ${q.backoff}`,
      `scheduler_pending_pods{queue="unschedulable"} ${q.unschedulable}`,
      `scheduler_pending_pods{queue="gated"} ${q.gated}`,
      '# HELP scheduler_goroutines Bindings in flight.',
      '# TYPE scheduler_goroutines gauge',
      `scheduler_goroutines{operation="binding"} ${c.bindingsInFlight}`,
      '',
    ].join('\n');
  }

  // ---- one pod ----

  scheduleOne(qp: QueuedPodInfo): void {
    const t = performance.now();
    try {
      this.scheduleOneInner(qp);
    } finally {
      this.counters.cycleMs += performance.now() - t;
    }
  }

  private scheduleOneInner(qp: QueuedPodInfo): void {
    const pi = qp.podInfo;
    const pod = pi.pod;
    const fwk = this.profiles.get(schedulerNameOf(pod));
    if (!fwk) {
      this.queue.done(pi.key);
      return;
    }
    if (pod.metadata.deletionTimestamp) {
      fwk.recorder.eventf(pod, 'Warning', 'FailedScheduling', 'skip schedule deleting pod: %v/%v', pi.namespace, pi.name);
      this.queue.done(pi.key);
      return;
    }
    if (this.cache.isAssumed(pi.uid)) {
      this.queue.done(pi.key);
      return;
    }
    const start = performance.now();
    this.counters.attempts++;
    const state = new CycleState();
    let result: ScheduleResult | CycleFailure;
    try {
      result = this.schedulingCycle(state, fwk, pi);
    } catch (e) {
      result = { status: new Status('Error', [String((e as Error)?.message ?? e)]), message: String((e as Error)?.message ?? e), nominatedNodeName: '' };
    }
    if ('status' in result) {
      this.handleSchedulingFailure(fwk, qp, result);
      return;
    }
    const host = result.suggestedHost;
    // Assume: the next cycle already sees the pod on its node.
    const assumed = pi.assumedOn(host);
    this.cache.assumePod(assumed);
    this.queue.deleteNominatedPodIfExists(pod);
    const reserve = fwk.runReservePluginsReserve(state, assumed, host);
    if (reserve) {
      fwk.runReservePluginsUnreserve(state, assumed, host);
      this.cache.forgetPod(assumed.uid);
      this.handleSchedulingFailure(fwk, qp, this.singleNodeFailure(reserve, host));
      return;
    }
    const permit = fwk.runPermitPlugins(state, assumed, host);
    if (permit && permit.code !== 'Wait') {
      fwk.runReservePluginsUnreserve(state, assumed, host);
      this.cache.forgetPod(assumed.uid);
      this.handleSchedulingFailure(fwk, qp, this.singleNodeFailure(permit, host));
      return;
    }
    this.counters.bindingsInFlight++;
    const b = this.bindingCycle(fwk, state, qp, assumed, host, start).finally(() => {
      this.counters.bindingsInFlight--;
      this.bindings.delete(b);
    });
    this.bindings.add(b);
  }

  private singleNodeFailure(s: Status, host: string): CycleFailure {
    if (!s.isRejected()) return { status: s, message: s.message, nominatedNodeName: '' };
    const statuses = new NodeToStatus();
    statuses.set(host, s);
    const diagnosis: Diagnosis = { statuses, unschedulablePlugins: new Set([s.plugin]), pendingPlugins: new Set(), preFilterMsg: '', postFilterMsg: '' };
    return { status: s, message: fitErrorMessage({ numAllNodes: 1, statuses }), diagnosis, nominatedNodeName: '' };
  }

  /** Finds a node for the pod, or why there is none (running PostFilter when none fits). */
  schedulingCycle(state: CycleState, fwk: Framework, pi: PodInfo): ScheduleResult | CycleFailure {
    this.cache.updateSnapshot(this.snapshot);
    const numAll = this.snapshot.numNodes();
    if (numAll === 0) return { status: unresolvable(ERR_NO_NODES_AVAILABLE), message: ERR_NO_NODES_AVAILABLE, nominatedNodeName: '' };
    const { feasible, diagnosis } = this.findNodesThatFitPod(state, fwk, pi);
    if (feasible.length === 0) {
      let nominated: string | undefined;
      if (fwk.hasPostFilterPlugins()) {
        const pf = fwk.runPostFilterPlugins(state, pi, diagnosis.statuses);
        diagnosis.postFilterMsg = pf.status?.message ?? '';
        if (pf.status?.code === 'Error') this.log('PostFilter failed', { pod: pi.key, error: pf.status.message });
        nominated = pf.result?.nominatedNodeName;
      } else nominated = '';
      const message = fitErrorMessage({ numAllNodes: numAll, statuses: diagnosis.statuses, preFilterMsg: diagnosis.preFilterMsg, postFilterMsg: diagnosis.postFilterMsg });
      return { status: new Status('Unschedulable', [message]), message, diagnosis, nominatedNodeName: nominated };
    }
    if (feasible.length === 1) return { suggestedHost: feasible[0].name, evaluatedNodes: 1 + diagnosis.statuses.size, feasibleNodes: 1 };
    const pre = fwk.runPreScorePlugins(state, pi, feasible);
    if (pre) throw new Error(pre.message);
    const totals = fwk.hasScorePlugins() ? fwk.runScorePlugins(state, pi, feasible) : new Float64Array(feasible.length).fill(1);
    return { suggestedHost: feasible[selectHost(totals)].name, evaluatedNodes: feasible.length + diagnosis.statuses.size, feasibleNodes: feasible.length };
  }

  private findNodesThatFitPod(state: CycleState, fwk: Framework, pi: PodInfo): { feasible: NodeInfo[]; diagnosis: Diagnosis } {
    const diagnosis: Diagnosis = { statuses: new NodeToStatus(), unschedulablePlugins: new Set(), pendingPlugins: new Set(), preFilterMsg: '', postFilterMsg: '' };
    const all = this.snapshot.list();
    const pre = fwk.runPreFilterPlugins(state, pi, all);
    diagnosis.unschedulablePlugins = pre.unschedulablePlugins;
    if (pre.status) {
      if (!pre.status.isRejected()) throw new Error(pre.status.message);
      diagnosis.statuses.absentNodesStatus = pre.status;
      diagnosis.preFilterMsg = pre.status.message;
      if (pre.status.code === 'Pending') diagnosis.pendingPlugins.add(pre.status.plugin);
      return { feasible: [], diagnosis };
    }
    const filters = fwk.activeFilters(state);
    // A nominated node (from an earlier preemption) is tried first: likely the only fit.
    const nnn = pi.pod.status?.nominatedNodeName;
    if (nnn) {
      const n = this.snapshot.get(nnn);
      if (n) {
        const feasible = this.findNodesThatPassFilters(state, fwk, pi, diagnosis, [n], filters, false);
        if (feasible.length > 0) return { feasible, diagnosis };
      }
    }
    let nodes: readonly NodeInfo[] = all;
    if (pre.result) {
      nodes = [...pre.result.nodeNames].map((n) => this.snapshot.get(n)).filter((n): n is NodeInfo => !!n);
      diagnosis.statuses.absentNodesStatus = unresolvable(`node(s) didn't satisfy plugin(s) [${[...pre.unschedulablePlugins].sort().join(' ')}]`);
    }
    const feasible = this.findNodesThatPassFilters(state, fwk, pi, diagnosis, nodes, filters, true);
    return { feasible, diagnosis };
  }

  private findNodesThatPassFilters(
    state: CycleState,
    fwk: Framework,
    pi: PodInfo,
    diagnosis: Diagnosis,
    nodes: readonly NodeInfo[],
    filters: ReturnType<Framework['activeFilters']>,
    advanceStart: boolean,
  ): NodeInfo[] {
    const numAll = nodes.length;
    if (numAll === 0) return [];
    const pct = fwk.percentageOfNodesToScore ?? this.config.percentageOfNodesToScore;
    const numToFind = fwk.hasScorePlugins() ? numFeasibleNodesToFind(pct, numAll) : 1;
    const feasible: NodeInfo[] = [];
    const startAt = this.nextStartNodeIndex % numAll;
    let processed = 0;
    for (let i = 0; i < numAll; i++) {
      const n = nodes[(startAt + i) % numAll];
      processed++;
      const s = filters.length === 0 ? undefined : fwk.runFilterPluginsWithNominatedPods(state, pi, n, filters);
      if (s === undefined) {
        feasible.push(n);
        if (feasible.length >= numToFind) break;
        continue;
      }
      if (s.code === 'Error') throw new Error(`running "${s.plugin}" filter plugin: ${s.message}`);
      diagnosis.statuses.set(n.name, s);
      if (s.plugin) {
        if (s.code === 'Pending') diagnosis.pendingPlugins.add(s.plugin);
        else diagnosis.unschedulablePlugins.add(s.plugin);
      }
    }
    if (advanceStart) {
      const all = this.snapshot.numNodes();
      if (all > 0) this.nextStartNodeIndex = (this.nextStartNodeIndex + processed) % all;
    }
    return feasible;
  }

  // ---- binding ----

  private async bindingCycle(fwk: Framework, state: CycleState, qp: QueuedPodInfo, assumed: PodInfo, host: string, start: number): Promise<void> {
    const signal = this.stopping ?? new AbortController().signal;
    let s = await fwk.waitOnPermit(assumed);
    if (!s) {
      // From here a failure is not "unschedulable": the pod retries after backoff.
      this.queue.done(assumed.key);
      s = await fwk.runPreBindPlugins(state, assumed, host, signal);
      if (!s) {
        await this.bindSem.acquire();
        try {
          s = await fwk.runBindPlugins(state, assumed, host, signal);
        } finally {
          this.bindSem.release();
        }
      }
      this.cache.finishBinding(assumed.uid);
    }
    if (s) {
      this.handleBindingCycleError(fwk, state, qp, assumed, host, s);
      return;
    }
    this.counters.scheduled++;
    fwk.recorder.eventf(assumed.pod, 'Normal', 'Scheduled', 'Successfully assigned %v/%v to %v', assumed.namespace, assumed.name, host);
    fwk.runPostBindPlugins(state, assumed, host);
    this.onScheduled?.(assumed.pod, host, performance.now() - start);
  }

  private handleBindingCycleError(fwk: Framework, state: CycleState, qp: QueuedPodInfo, assumed: PodInfo, host: string, s: Status): void {
    fwk.runReservePluginsUnreserve(state, assumed, host);
    this.cache.forgetPod(assumed.uid);
    // What the assumed pod held is free again: as if it were deleted.
    this.moveAll({ resource: 'AssignedPod', actionType: ActionType.Delete }, assumed.pod, undefined, (p) => p.uid !== assumed.uid);
    const failure = s.isRejected() ? this.singleNodeFailure(s, host) : { status: s, message: s.message, nominatedNodeName: '' };
    this.handleSchedulingFailure(fwk, qp, failure);
  }

  /** Records why the pod did not get a node: queue, nomination, event, PodScheduled condition. */
  private handleSchedulingFailure(fwk: Framework, qp: QueuedPodInfo, f: CycleFailure): void {
    const pod = qp.podInfo.pod;
    const reason = f.status.isRejected() ? 'Unschedulable' : 'SchedulerError';
    if (reason === 'Unschedulable') this.counters.unschedulable++;
    else {
      this.counters.errors++;
      this.log('error scheduling pod; retrying', { pod: qp.podInfo.key, error: f.message });
    }
    qp.unschedulablePlugins = f.diagnosis?.unschedulablePlugins ?? new Set();
    qp.pendingPlugins = f.diagnosis?.pendingPlugins ?? new Set();
    const cached = this.podInformer.lister.get(pod.metadata.namespace, pod.metadata.name!);
    let current = pod;
    if (!cached || cached.metadata.uid !== pod.metadata.uid) {
      this.queue.done(qp.podInfo.key);
    } else if (cached.spec?.nodeName) {
      this.queue.done(qp.podInfo.key);
    } else {
      current = cached;
      if (cached !== pod) qp.podInfo = this.podInfo(cached);
      this.queue.addUnschedulableIfNotPresent(qp);
    }
    this.queue.addNominatedPod(qp.podInfo, f.nominatedNodeName);
    if (!cached) return;
    const msg = truncateMessage(f.message);
    fwk.recorder.event(pod, 'Warning', 'FailedScheduling', msg);
    this.updatePodStatus(current, { type: 'PodScheduled', status: 'False', reason, message: f.message }, f.nominatedNodeName);
  }

  /** Patches the PodScheduled condition and nominatedNodeName when they changed (upstream's updatePod). */
  private updatePodStatus(pod: Pod, condition: PodCondition, nominatedNodeName: string | undefined): void {
    const old = (pod.status?.conditions ?? []).find((c) => c.type === condition.type);
    const conditionChanged = !old || old.status !== condition.status || old.reason !== condition.reason || old.message !== condition.message;
    const nnnChanged = nominatedNodeName !== undefined && (pod.status?.nominatedNodeName ?? '') !== nominatedNodeName;
    if (!conditionChanged && !nnnChanged) return;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const status: Record<string, unknown> = {};
    if (conditionChanged) {
      status.conditions = [{ ...condition, lastProbeTime: null, lastTransitionTime: old && old.status === condition.status ? old.lastTransitionTime : now }];
    }
    if (nnnChanged) status.nominatedNodeName = nominatedNodeName || null;
    void (async () => {
      await this.writeSem.acquire();
      try {
        await this.client.patch(ref.pods, pod.metadata.namespace, pod.metadata.name!, 'strategic', { status }, { subresource: 'status' });
      } catch (e) {
        if (!(isStatusError(e) && e.code === 404)) this.log('error updating pod status', { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, error: String((e as Error)?.message ?? e) });
      } finally {
        this.writeSem.release();
      }
    })();
  }
}

/** Highest total; ties broken uniformly at random (reservoir sampling, as upstream's selectHost). */
export function selectHost(totals: Float64Array): number {
  let best = 0;
  let ties = 1;
  for (let i = 1; i < totals.length; i++) {
    if (totals[i] > totals[best]) {
      best = i;
      ties = 1;
    } else if (totals[i] === totals[best]) {
      ties++;
      if (Math.random() * ties < 1) best = i;
    }
  }
  return best;
}

export function truncateMessage(m: string): string {
  if (Buffer.byteLength(m) <= NOTE_LENGTH_LIMIT) return m;
  const suffix = ' ...';
  return Buffer.from(m).subarray(0, NOTE_LENGTH_LIMIT - suffix.length).toString() + suffix;
}

function sameJSON(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** nodeSchedulingPropertiesChange: the kinds of change scheduling cares about (0 = none). */
export function nodeChange(o: Node, n: Node): number {
  let a = 0;
  if (!sameJSON(o.status?.allocatable, n.status?.allocatable)) a |= ActionType.UpdateNodeAllocatable;
  if (!sameJSON(o.metadata.labels, n.metadata.labels)) a |= ActionType.UpdateNodeLabel;
  if (!sameJSON(o.spec?.taints, n.spec?.taints) || !!o.spec?.unschedulable !== !!n.spec?.unschedulable) a |= ActionType.UpdateNodeTaint;
  const conds = (x: Node) => (x.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`).join(',');
  if (conds(o) !== conds(n)) a |= ActionType.UpdateNodeCondition;
  if (!sameJSON(o.metadata.annotations, n.metadata.annotations)) a |= ActionType.UpdateNodeAnnotation;
  return a;
}

/** What changed on an assigned pod that may help others: labels, or smaller requests. */
export function assignedPodChange(o: Pod, n: Pod): number {
  let a = 0;
  if (!sameJSON(o.metadata.labels, n.metadata.labels)) a |= ActionType.UpdatePodLabel;
  const res = (p: Pod) => [p.spec.containers, p.spec.initContainers, p.spec.overhead].map((x) => JSON.stringify(x ?? null)).join();
  if (res(o) !== res(n) && isScaleDown(new PodInfo(o).requests, new PodInfo(n).requests)) a |= ActionType.UpdatePodScaleDown;
  if (n.metadata.deletionTimestamp && !o.metadata.deletionTimestamp) a |= ActionType.UpdateOther;
  return a;
}

function isScaleDown(o: Resource, n: Resource): boolean {
  return n.milliCPU < o.milliCPU || n.memory < o.memory || n.ephemeralStorage < o.ephemeralStorage;
}
