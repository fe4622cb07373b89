// The scheduling framework's extension points: one small interface per point, as
// upstream's framework/interface.go. A plugin implements the points it needs and is
// registered by name (plugins/registry.ts); profiles enable plugins per point.
//
// Results are Status values where `undefined` means success. Hot-path points (Filter,
// Score) are synchronous; points that talk to the API (PreBind, Bind) are async.
// Plugins keep per-cycle data in the CycleState, never in themselves: one plugin
// instance serves every cycle of its profile.

import type { Client } from '../../client/types.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Lister } from '../../client/indexer.ts';
import type { Logger } from '../../client/util.ts';
import type { KObject } from '../../api/object.ts';
import type { Pod } from './api.ts';
import type { NodeInfo, PodInfo } from './types.ts';
import { Status } from './status.ts';

// ---- cycle state ----------------------------------------------------------------------

/** Per-plugin data in a cycle; clone() copies what preemption's dry runs may change. */
export interface StateData {
  clone(): StateData;
}

export class CycleState {
  private readonly data = new Map<string, StateData>();
  /** PreFilter plugins that returned Skip: their Filter is not run this cycle. */
  skipFilterPlugins = new Set<string>();
  /** PreScore plugins that returned Skip: their Score is not run this cycle. */
  skipScorePlugins = new Set<string>();

  read<T extends StateData>(key: string): T | undefined {
    return this.data.get(key) as T | undefined;
  }

  write(key: string, v: StateData): void {
    this.data.set(key, v);
  }

  delete(key: string): void {
    this.data.delete(key);
  }

  clone(): CycleState {
    const c = new CycleState();
    for (const [k, v] of this.data) c.data.set(k, v.clone());
    c.skipFilterPlugins = this.skipFilterPlugins;
    c.skipScorePlugins = this.skipScorePlugins;
    return c;
  }
}

/**
 * A plugin's handle on its entry in the cycle state, remembering the last state it saw:
 * per-node extension points read it once per cycle instead of once per node.
 */
export class StateRef<T extends StateData> {
  readonly key: string;
  private state: CycleState | undefined;
  private value: T | undefined;
  constructor(key: string) {
    this.key = key;
  }
  get(state: CycleState): T | undefined {
    if (state !== this.state) {
      this.state = state;
      this.value = state.read<T>(this.key);
    }
    return this.value;
  }
  set(state: CycleState, v: T): void {
    state.write(this.key, v);
    this.state = state;
    this.value = v;
  }
}

// ---- results ----------------------------------------------------------------------------

/** PreFilter's answer that only some nodes can fit (nil = all nodes). */
export class PreFilterResult {
  readonly nodeNames: ReadonlySet<string>;
  constructor(nodeNames: Iterable<string>) {
    this.nodeNames = new Set(nodeNames);
  }
  /** The intersection of two results (undefined = all nodes). */
  static merge(a: PreFilterResult | undefined, b: PreFilterResult | undefined): PreFilterResult | undefined {
    if (!a) return b;
    if (!b) return a;
    return new PreFilterResult([...a.nodeNames].filter((n) => b.nodeNames.has(n)));
  }
}

/**
 * Why each node was rejected, with one status standing for every node not listed
 * (framework.NodeToStatus). Nodes that passed are not listed.
 */
export class NodeToStatus {
  // Recorded as a list (one push per rejected node on the hot path); the map is built on first lookup.
  private readonly names: string[] = [];
  private readonly list: Status[] = [];
  private map: Map<string, Status> | undefined;
  absentNodesStatus: Status = new Status('UnschedulableAndUnresolvable');

  get(node: string): Status {
    return this.byName().get(node) ?? this.absentNodesStatus;
  }

  set(node: string, s: Status): void {
    if (this.map) {
      if (this.map.has(node)) {
        this.list[this.names.indexOf(node)] = s;
        this.map.set(node, s);
        return;
      }
      this.map.set(node, s);
    }
    this.names.push(node);
    this.list.push(s);
  }

  get size(): number {
    return this.names.length;
  }

  /** Every listed node's status. */
  values(): readonly Status[] {
    return this.list;
  }

  private byName(): Map<string, Status> {
    if (!this.map) {
      this.map = new Map();
      for (let i = 0; i < this.names.length; i++) this.map.set(this.names[i], this.list[i]);
    }
    return this.map;
  }

  /** Nodes of `all` whose status has `code` (absent ones count through absentNodesStatus). */
  nodesForStatusCode(all: readonly NodeInfo[], code: Status['code']): NodeInfo[] {
    const out: NodeInfo[] = [];
    const absentMatches = this.absentNodesStatus.code === code;
    const m = this.byName();
    for (const n of all) {
      const s = m.get(n.name);
      if (s ? s.code === code : absentMatches) out.push(n);
    }
    return out;
  }
}

export interface PostFilterResult {
  /** The node the pod is nominated to; '' clears a nomination; undefined keeps it. */
  nominatedNodeName?: string;
}

// ---- cluster events (what can make an unschedulable pod schedulable) ------------------

export const ActionType = {
  Add: 1,
  Delete: 2,
  UpdateNodeAllocatable: 4,
  UpdateNodeLabel: 8,
  UpdateNodeTaint: 16,
  UpdateNodeCondition: 32,
  UpdateNodeAnnotation: 64,
  UpdatePodLabel: 128,
  UpdatePodScaleDown: 256,
  UpdatePodTolerations: 512,
  UpdatePodSchedulingGatesEliminated: 1024,
  /** Any other update. */
  UpdateOther: 2048,
} as const;
export const UPDATE_ANY = 4 | 8 | 16 | 32 | 64 | 128 | 256 | 512 | 1024 | 2048;
export const ACTION_ALL = 1 | 2 | UPDATE_ANY;

export type EventResource =
  | 'Node'
  /** A pod bound to a node (or assumed). */
  | 'AssignedPod'
  /** The pod being considered changed itself. */
  | 'UnscheduledPod'
  | 'PersistentVolume'
  | 'PersistentVolumeClaim'
  | 'StorageClass'
  | 'Namespace'
  | 'PodDisruptionBudget'
  | 'WildCard';

export interface ClusterEvent {
  resource: EventResource;
  /** Bits of ActionType. */
  actionType: number;
  label?: string;
}

export type QueueingHint = 'Queue' | 'Skip';

/** Whether `event` (from oldObj to newObj) may make `pod` schedulable for this plugin. */
export type QueueingHintFn = (pod: PodInfo, oldObj: KObject | undefined, newObj: KObject | undefined) => QueueingHint;

export interface ClusterEventWithHint {
  event: ClusterEvent;
  /** Without one, every matching event requeues. */
  hint?: QueueingHintFn;
}

// ---- extension points --------------------------------------------------------------------

export interface Plugin {
  readonly name: string;
}

/** Gates a pod before it enters the active queue (e.g. schedulingGates). */
export interface PreEnqueuePlugin extends Plugin {
  preEnqueue(pod: PodInfo): Status | undefined;
}

/** Orders the active queue. Exactly one per profile; every profile must use the same. */
export interface QueueSortPlugin extends Plugin {
  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean;
}

/** The events that may make pods this plugin rejected schedulable (EnqueueExtensions). */
export interface EnqueueExtensions {
  eventsToRegister(): ClusterEventWithHint[];
}

export interface PreFilterExtensions {
  /** Accounts for `toAdd` joining `nodeInfo` in this cycle's state (nominated pods, preemption). */
  addPod(state: CycleState, pod: PodInfo, toAdd: PodInfo, nodeInfo: NodeInfo): Status | undefined;
  removePod(state: CycleState, pod: PodInfo, toRemove: PodInfo, nodeInfo: NodeInfo): Status | undefined;
}

export interface PreFilterPlugin extends Plugin {
  /** Computes the cycle's state; a PreFilterResult narrows the nodes; Skip disables this plugin's Filter. */
  preFilter(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Status | PreFilterResult | undefined;
  preFilterExtensions?(): PreFilterExtensions | undefined;
}

export interface FilterPlugin extends Plugin {
  filter(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | undefined;
}

export interface PostFilterPlugin extends Plugin {
  /** Runs when no node fits (preemption). Success means the pod may fit later (nominated). */
  postFilter(state: CycleState, pod: PodInfo, statuses: NodeToStatus): { result?: PostFilterResult; status?: Status };
}

export interface PreScorePlugin extends Plugin {
  /** Skip disables this plugin's Score this cycle. */
  preScore(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[]): Status | undefined;
}

export interface ScorePlugin extends Plugin {
  /** An integer score for one feasible node (normalized after all nodes are scored). */
  score(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): number;
  /** Rescales `scores` (index-aligned with `nodes`) into [0, 100] in place. */
  normalizeScore?(state: CycleState, pod: PodInfo, nodes: readonly NodeInfo[], scores: Float64Array): Status | undefined;
}

export interface ReservePlugin extends Plugin {
  reserve(state: CycleState, pod: PodInfo, nodeName: string): Status | undefined;
  /** Undoes reserve; must be idempotent and never fail. */
  unreserve(state: CycleState, pod: PodInfo, nodeName: string): void;
}

export interface PermitPlugin extends Plugin {
  /** Success, a rejection, or Wait (status.timeoutMs) until allowed or rejected through the handle. */
  permit(state: CycleState, pod: PodInfo, nodeName: string): Status | undefined;
}

export interface PreBindPlugin extends Plugin {
  preBind(state: CycleState, pod: PodInfo, nodeName: string, signal: AbortSignal): Promise<Status | undefined>;
}

export interface BindPlugin extends Plugin {
  /** Skip passes the pod to the next bind plugin. */
  bind(state: CycleState, pod: PodInfo, nodeName: string, signal: AbortSignal): Promise<Status | undefined>;
}

export interface PostBindPlugin extends Plugin {
  postBind(state: CycleState, pod: PodInfo, nodeName: string): void;
}

// ---- queue entries ------------------------------------------------------------------------

/** A pod in the scheduling queue (framework.QueuedPodInfo). */
export interface QueuedPodInfo {
  podInfo: PodInfo;
  /** When the pod was added to the queue (or last failed): queue-sort tie-breaker and backoff base. */
  timestamp: number;
  /** Scheduling attempts so far. */
  attempts: number;
  /** First time the pod was popped (for latency), 0 before. */
  initialAttemptTimestamp: number;
  /** Plugins that rejected the pod in its last attempt. */
  unschedulablePlugins: Set<string>;
  /** Plugins that said Pending (PreEnqueue gates included). */
  pendingPlugins: Set<string>;
  /** PreEnqueue rejected it: it waits in the unschedulable pool without counting an attempt. */
  gated: boolean;
  /** The queue's scheduling cycle when the pod was last popped. */
  cycle: number;
}

// ---- what plugins can use --------------------------------------------------------------

/** The nodes of the cycle's snapshot (framework.SharedLister.NodeInfos). */
export interface NodeInfoLister {
  list(): readonly NodeInfo[];
  get(name: string): NodeInfo | undefined;
  havePodsWithAffinityList(): readonly NodeInfo[];
  havePodsWithRequiredAntiAffinityList(): readonly NodeInfo[];
  numNodes(): number;
  /**
   * Sums per-node [key, count] contributions over every node, kept up to date across
   * cycles under `key` (see internal/cache.ts). Absent in listers that cannot cache.
   */
  aggregate?(key: string, contribution: (n: NodeInfo) => readonly (readonly [string, number])[] | undefined): ReadonlyMap<string, { nodes: number; count: number }>;
}

/** Informer caches plugins read (all optional: a profile without the informer sees nothing). */
export interface ClusterListers {
  pods?: Lister<Pod>;
  namespaces?: Lister;
  services?: Lister;
  replicationcontrollers?: Lister;
  replicasets?: Lister;
  statefulsets?: Lister;
  poddisruptionbudgets?: Lister;
  persistentvolumeclaims?: Lister;
  persistentvolumes?: Lister;
  storageclasses?: Lister;
  priorityclasses?: Lister;
}

export interface PodNominator {
  /** Pods nominated to `nodeName` (status.nominatedNodeName or this scheduler's own nomination). */
  nominatedPodsForNode(nodeName: string): readonly PodInfo[];
}

/** framework.Handle: what a plugin gets from its profile. */
export interface Handle {
  readonly profileName: string;
  snapshot(): NodeInfoLister;
  readonly listers: ClusterListers;
  /** Undefined in unit tests that never write. */
  readonly client: Client | undefined;
  readonly recorder: EventRecorder;
  readonly nominator: PodNominator;
  readonly log: Logger;
  /** A pod's priority: spec.priority, else its PriorityClass's value. */
  priorityOf(pod: Pod): number;
  /** A pod's preemptionPolicy: spec.preemptionPolicy, else its PriorityClass's. */
  preemptionPolicyOf(pod: Pod): string;
  runFilterPluginsWithNominatedPods(state: CycleState, pod: PodInfo, nodeInfo: NodeInfo): Status | undefined;
  runPreFilterExtensionAddPod(state: CycleState, pod: PodInfo, toAdd: PodInfo, nodeInfo: NodeInfo): Status | undefined;
  runPreFilterExtensionRemovePod(state: CycleState, pod: PodInfo, toRemove: PodInfo, nodeInfo: NodeInfo): Status | undefined;
  /** Pods waiting at Permit: allow or reject them. */
  getWaitingPod(uid: string): WaitingPod | undefined;
}

export interface WaitingPod {
  readonly pod: PodInfo;
  allow(plugin: string): void;
  reject(plugin: string, message: string): void;
}

/** Builds a plugin from its args (pluginConfig, defaulted) and the profile's handle. */
export type PluginFactory = (args: unknown, handle: Handle) => Plugin;
