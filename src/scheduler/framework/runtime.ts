// The framework of one profile (upstream's frameworkImpl): builds the profile's plugins
// from the registry, orders them per extension point (multiPoint expansion as upstream:
// plugins re-configured at a specific point first, then multiPoint ones, then the other
// specific ones), and runs the extension points. It is also the Handle plugins get.
//
// Extension points run in the order configured; Filter stops at a node's first failure;
// Score sums normalized scores times weights. Scores must land in [0, 100] after
// normalization, or the cycle fails with an error, as upstream.

import type { Client } from '../../client/types.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Logger } from '../../client/util.ts';
import type { Pod } from './api.ts';
import { EXTENSION_POINTS, type ExtensionPoint, type PluginRef, type ResolvedProfile } from '../config.ts';
import type { Registry } from '../plugins/registry.ts';
import { NOT_IMPLEMENTED } from '../plugins/registry.ts';
import {
  CycleState,
  NodeToStatus,
  PreFilterResult,
  type BindPlugin,
  type ClusterEventWithHint,
  type ClusterListers,
  type EnqueueExtensions,
  type FilterPlugin,
  type Handle,
  type NodeInfoLister,
  type Plugin,
  type PodNominator,
  type PostBindPlugin,
  type PostFilterPlugin,
  type PostFilterResult,
  type PreBindPlugin,
  type PreEnqueuePlugin,
  type PreFilterPlugin,
  type PreScorePlugin,
  type PermitPlugin,
  type QueueSortPlugin,
  type ReservePlugin,
  type ScorePlugin,
  type WaitingPod,
} from './interface.ts';
import { MAX_NODE_SCORE, MIN_NODE_SCORE, Status, errorStatus } from './status.ts';
import type { NodeInfo, PodInfo } from './types.ts';

const METHOD: Record<ExtensionPoint, string> = {
  preEnqueue: 'preEnqueue',
  queueSort: 'less',
  preFilter: 'preFilter',
  filter: 'filter',
  postFilter: 'postFilter',
  preScore: 'preScore',
  score: 'score',
  reserve: 'reserve',
  permit: 'permit',
  preBind: 'preBind',
  bind: 'bind',
  postBind: 'postBind',
};

function implementsPoint(p: Plugin, point: ExtensionPoint): boolean {
  return typeof (p as unknown as Record<string, unknown>)[METHOD[point]] === 'function';
}

export interface FrameworkDeps {
  registry: Registry;
  client?: Client;
  recorder: EventRecorder;
  listers: ClusterListers;
  nominator: PodNominator;
  snapshot: () => NodeInfoLister;
  priorityOf: (pod: Pod) => number;
  preemptionPolicyOf: (pod: Pod) => string;
  log: Logger;
}

export interface PreFilterOutcome {
  result: PreFilterResult | undefined;
  status: Status | undefined;
  /** Plugins that rejected the pod or narrowed the nodes. */
  unschedulablePlugins: Set<string>;
}

class WaitingPodImpl implements WaitingPod {
  readonly pod: PodInfo;
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private settle!: (s: Status | undefined) => void;
  readonly done: Promise<Status | undefined>;
  private finished = false;

  constructor(pod: PodInfo, plugins: Map<string, number>) {
    this.pod = pod;
    this.done = new Promise((r) => (this.settle = r));
    for (const [name, ms] of plugins) {
      const t = setTimeout(() => this.reject(name, `rejected due to timeout after waiting ${ms / 1000}s at plugin ${name}`), ms);
      t.unref();
      this.pending.set(name, t);
    }
  }

  allow(plugin: string): void {
    const t = this.pending.get(plugin);
    if (t) clearTimeout(t);
    this.pending.delete(plugin);
    if (this.pending.size === 0) this.finish(undefined);
  }

  reject(plugin: string, message: string): void {
    this.finish(new Status('Unschedulable', [message], { plugin }));
  }

  private finish(s: Status | undefined): void {
    if (this.finished) return;
    this.finished = true;
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    this.settle(s);
  }
}

export class Framework implements Handle {
  readonly profileName: string;
  readonly percentageOfNodesToScore: number | undefined;
  readonly listers: ClusterListers;
  readonly client: Client | undefined;
  readonly recorder: EventRecorder;
  readonly nominator: PodNominator;
  readonly log: Logger;
  private readonly deps: FrameworkDeps;

  readonly plugins = new Map<string, Plugin>();
  preEnqueuePlugins: PreEnqueuePlugin[] = [];
  queueSortPlugin!: QueueSortPlugin;
  preFilterPlugins: PreFilterPlugin[] = [];
  filterPlugins: FilterPlugin[] = [];
  postFilterPlugins: PostFilterPlugin[] = [];
  preScorePlugins: PreScorePlugin[] = [];
  scorePlugins: { plugin: ScorePlugin; weight: number }[] = [];
  reservePlugins: ReservePlugin[] = [];
  permitPlugins: PermitPlugin[] = [];
  preBindPlugins: PreBindPlugin[] = [];
  bindPlugins: BindPlugin[] = [];
  postBindPlugins: PostBindPlugin[] = [];
  /** Per plugin: the cluster events that may make pods it rejected schedulable. */
  readonly enqueueExtensions = new Map<string, ClusterEventWithHint[]>();
  private readonly waitingPods = new Map<string, WaitingPodImpl>();

  constructor(profile: ResolvedProfile, deps: FrameworkDeps) {
    this.profileName = profile.schedulerName;
    this.percentageOfNodesToScore = profile.percentageOfNodesToScore;
    this.listers = deps.listers;
    this.client = deps.client;
    this.recorder = deps.recorder;
    this.nominator = deps.nominator;
    this.log = deps.log;
    this.deps = deps;
    this.build(profile);
  }

  // ---- construction ----

  private build(profile: ResolvedProfile): void {
    const pl = profile.plugins;
    const needed = new Set<string>();
    for (const point of [...EXTENSION_POINTS, 'multiPoint'] as const) for (const e of pl[point].enabled ?? []) needed.add(e.name);
    for (const name of needed) {
      const factory = this.deps.registry.get(name);
      if (!factory) {
        if (NOT_IMPLEMENTED.has(name)) {
          this.log('plugin not implemented by skiff; left out', { profile: this.profileName, plugin: name });
          continue;
        }
        throw new Error(`profile "${this.profileName}": plugin "${name}" does not exist`);
      }
      const p = factory(profile.pluginConfig.get(name) ?? {}, this);
      this.plugins.set(name, p);
      if (typeof (p as unknown as EnqueueExtensions).eventsToRegister === 'function') this.enqueueExtensions.set(name, (p as unknown as EnqueueExtensions).eventsToRegister());
    }
    const lists = {} as Record<ExtensionPoint, Plugin[]>;
    for (const point of EXTENSION_POINTS) lists[point] = this.orderFor(point, pl[point].enabled ?? [], new Set((pl[point].disabled ?? []).map((d) => d.name)), pl.multiPoint.enabled ?? []);
    this.preEnqueuePlugins = lists.preEnqueue as PreEnqueuePlugin[];
    if (lists.queueSort.length !== 1) throw new Error(`only one queue sort plugin required for profile with scheduler name "${this.profileName}", but got ${lists.queueSort.length}`);
    this.queueSortPlugin = lists.queueSort[0] as QueueSortPlugin;
    this.preFilterPlugins = lists.preFilter as PreFilterPlugin[];
    this.filterPlugins = lists.filter as FilterPlugin[];
    this.postFilterPlugins = lists.postFilter as PostFilterPlugin[];
    this.preScorePlugins = lists.preScore as PreScorePlugin[];
    this.reservePlugins = lists.reserve as ReservePlugin[];
    this.permitPlugins = lists.permit as PermitPlugin[];
    this.preBindPlugins = lists.preBind as PreBindPlugin[];
    this.bindPlugins = lists.bind as BindPlugin[];
    this.postBindPlugins = lists.postBind as PostBindPlugin[];
    if (this.bindPlugins.length === 0) throw new Error(`at least one bind plugin is needed for profile with scheduler name "${this.profileName}"`);
    // Weights: the score point's own entry wins over multiPoint's; 0 or unset means 1.
    const weights = new Map<string, number>();
    for (const e of [...(pl.score.enabled ?? []), ...(pl.multiPoint.enabled ?? [])]) {
      if (weights.has(e.name)) continue;
      weights.set(e.name, e.weight ? e.weight : 1);
    }
    this.scorePlugins = (lists.score as ScorePlugin[]).map((p) => ({ plugin: p, weight: weights.get(p.name) ?? 1 }));
  }

  private orderFor(point: ExtensionPoint, enabled: PluginRef[], disabled: Set<string>, multiPoint: PluginRef[]): Plugin[] {
    const specific: string[] = [];
    for (const e of enabled) {
      const p = this.plugins.get(e.name);
      if (!p) continue;
      if (!implementsPoint(p, point)) throw new Error(`plugin "${e.name}" does not extend ${point} plugin`);
      if (specific.includes(e.name)) throw new Error(`plugin "${e.name}" already registered as "${point}"`);
      specific.push(e.name);
    }
    if (disabled.has('*')) return specific.map((n) => this.plugins.get(n)!);
    const overrides = new Set<string>();
    const multi: string[] = [];
    for (const e of multiPoint) {
      const p = this.plugins.get(e.name);
      if (!p || !implementsPoint(p, point) || disabled.has(e.name)) continue;
      if (specific.includes(e.name)) {
        overrides.add(e.name);
        continue;
      }
      if (multi.includes(e.name)) throw new Error(`plugin "${e.name}" already registered as "${point}"`);
      multi.push(e.name);
    }
    const order = [...specific.filter((n) => overrides.has(n)), ...multi, ...specific.filter((n) => !overrides.has(n))];
    return order.map((n) => this.plugins.get(n)!);
  }

  // ---- Handle ----

  snapshot(): NodeInfoLister {
    return this.deps.snapshot();
  }

  priorityOf(pod: Pod): number {
    return this.deps.priorityOf(pod);
  }

  preemptionPolicyOf(pod: Pod): string {
    return this.deps.preemptionPolicyOf(pod);
  }

  getWaitingPod(uid: string): WaitingPod | undefined {
    return this.waitingPods.get(uid);
  }

  hasPostFilterPlugins(): boolean {
    return this.postFilterPlugins.length > 0;
  }

  hasScorePlugins(): boolean {
    return this.scorePlugins.length > 0;
  }

  // ---- extension points ----

  runPreEnqueuePlugins(pi: PodInfo): Status | undefined {
    for (const p of this.preEnqueuePlugins) {
      const s = p.preEnqueue(pi);
      if (s) return s.withPlugin(p.name);
    }
    return undefined;
  }

  runPreFilterPlugins(state: CycleState, pi: PodInfo, nodes: readonly NodeInfo[]): PreFilterOutcome {
    let result: PreFilterResult | undefined;
    let returnStatus: Status | undefined;
    const unschedulablePlugins = new Set<string>();
    const pluginsWithNodes: string[] = [];
    for (const p of this.preFilterPlugins) {
      let r: Status | PreFilterResult | undefined;
      try {
        r = p.preFilter(state, pi, nodes);
      } catch (e) {
        return { result: undefined, status: errorStatus(e).withPlugin(p.name), unschedulablePlugins };
      }
      if (r instanceof Status) {
        if (r.code === 'Skip') {
          state.skipFilterPlugins.add(p.name);
          continue;
        }
        r.withPlugin(p.name);
        if (r.code === 'UnschedulableAndUnresolvable') {
          unschedulablePlugins.add(p.name);
          return { result: undefined, status: r, unschedulablePlugins };
        }
        if (r.code === 'Unschedulable') {
          // Keep running the others: preemption needs their state.
          unschedulablePlugins.add(p.name);
          returnStatus = r;
          continue;
        }
        return { result: undefined, status: new Status('Error', [`running PreFilter plugin "${p.name}": ${r.message}`], { plugin: p.name, error: r.error }), unschedulablePlugins };
      }
      if (r instanceof PreFilterResult) {
        pluginsWithNodes.push(p.name);
        unschedulablePlugins.add(p.name);
        result = PreFilterResult.merge(result, r);
        if (result && result.nodeNames.size === 0) {
          const msg = pluginsWithNodes.length === 1 ? `node(s) didn't satisfy plugin ${pluginsWithNodes[0]}` : `node(s) didn't satisfy plugin(s) [${pluginsWithNodes.join(' ')}] simultaneously`;
          return { result, status: new Status('UnschedulableAndUnresolvable', [msg]), unschedulablePlugins };
        }
      }
    }
    if (!returnStatus) {
      // Only plugins that rejected count as unschedulable ones when nothing was rejected.
      for (const n of [...unschedulablePlugins]) if (!pluginsWithNodes.includes(n)) unschedulablePlugins.delete(n);
    }
    return { result, status: returnStatus, unschedulablePlugins };
  }

  /** The filter plugins not skipped this cycle (computed once per cycle for the per-node loop). */
  activeFilters(state: CycleState): FilterPlugin[] {
    if (state.skipFilterPlugins.size === 0) return this.filterPlugins;
    return this.filterPlugins.filter((p) => !state.skipFilterPlugins.has(p.name));
  }

  runFilterPlugins(state: CycleState, pi: PodInfo, nodeInfo: NodeInfo, filters: readonly FilterPlugin[] = this.activeFilters(state)): Status | undefined {
    for (let i = 0; i < filters.length; i++) {
      const p = filters[i];
      const s = p.filter(state, pi, nodeInfo);
      if (s !== undefined) {
        // Plugins may return a shared status that already names them (no allocation per rejected node).
        if (s.plugin !== p.name) s.plugin = p.name;
        return s;
      }
    }
    return undefined;
  }

  /**
   * Filters with the node's nominated pods of equal or higher priority counted as if
   * running (so lower-priority pods do not take the room preemption made), and then,
   * if that passed and such pods existed, without them (for pod affinity to them).
   */
  runFilterPluginsWithNominatedPods(state: CycleState, pi: PodInfo, nodeInfo: NodeInfo, filters?: readonly FilterPlugin[]): Status | undefined {
    const f = filters ?? this.activeFilters(state);
    const nominated = this.nominator.nominatedPodsForNode(nodeInfo.name);
    if (nominated.length === 0) return this.runFilterPlugins(state, pi, nodeInfo, f);
    let added = false;
    let stateToUse = state;
    let nodeToUse = nodeInfo;
    for (const np of nominated) {
      if (np.priority < pi.priority || np.uid === pi.uid) continue;
      if (!added) {
        stateToUse = state.clone();
        nodeToUse = nodeInfo.clone();
        added = true;
      }
      nodeToUse.addPod(np);
      const s = this.runPreFilterExtensionAddPod(stateToUse, pi, np, nodeToUse);
      if (s) return s;
    }
    const s1 = this.runFilterPlugins(stateToUse, pi, nodeToUse, f);
    if (s1 || !added) return s1;
    return this.runFilterPlugins(state, pi, nodeInfo, f);
  }

  runPreFilterExtensionAddPod(state: CycleState, pi: PodInfo, toAdd: PodInfo, nodeInfo: NodeInfo): Status | undefined {
    for (const p of this.preFilterPlugins) {
      if (state.skipFilterPlugins.has(p.name)) continue;
      const ext = p.preFilterExtensions?.();
      if (!ext) continue;
      const s = ext.addPod(state, pi, toAdd, nodeInfo);
      if (s) return new Status('Error', [`running AddPod on PreFilter plugin "${p.name}": ${s.message}`], { plugin: p.name });
    }
    return undefined;
  }

  runPreFilterExtensionRemovePod(state: CycleState, pi: PodInfo, toRemove: PodInfo, nodeInfo: NodeInfo): Status | undefined {
    for (const p of this.preFilterPlugins) {
      if (state.skipFilterPlugins.has(p.name)) continue;
      const ext = p.preFilterExtensions?.();
      if (!ext) continue;
      const s = ext.removePod(state, pi, toRemove, nodeInfo);
      if (s) return new Status('Error', [`running RemovePod on PreFilter plugin "${p.name}": ${s.message}`], { plugin: p.name });
    }
    return undefined;
  }

  /** PostFilter plugins in order until one succeeds (or errors). */
  runPostFilterPlugins(state: CycleState, pi: PodInfo, m: NodeToStatus): { result?: PostFilterResult; status: Status | undefined } {
    const reasons: string[] = [];
    let rejectorPlugin = '';
    let result: PostFilterResult | undefined;
    for (const p of this.postFilterPlugins) {
      const r = p.postFilter(state, pi, m);
      if (!r.status) return { result: r.result, status: undefined };
      if (r.status.code === 'UnschedulableAndUnresolvable') return { result: r.result, status: r.status.withPlugin(p.name) };
      if (!r.status.isRejected()) return { result: r.result, status: r.status.withPlugin(p.name) };
      reasons.push(...r.status.reasons);
      if (!rejectorPlugin) rejectorPlugin = p.name;
      if (r.result) result = r.result;
    }
    return { result, status: new Status('Unschedulable', reasons, { plugin: rejectorPlugin }) };
  }

  runPreScorePlugins(state: CycleState, pi: PodInfo, nodes: readonly NodeInfo[]): Status | undefined {
    for (const p of this.preScorePlugins) {
      let s: Status | undefined;
      try {
        s = p.preScore(state, pi, nodes);
      } catch (e) {
        return errorStatus(e).withPlugin(p.name);
      }
      if (!s) continue;
      if (s.code === 'Skip') {
        state.skipScorePlugins.add(p.name);
        continue;
      }
      return new Status('Error', [`running PreScore plugin "${p.name}": ${s.message}`], { plugin: p.name });
    }
    return undefined;
  }

  /** Weighted sums of normalized scores, index-aligned with `nodes`. */
  runScorePlugins(state: CycleState, pi: PodInfo, nodes: readonly NodeInfo[]): Float64Array {
    const n = nodes.length;
    const totals = new Float64Array(n);
    const scores = new Float64Array(n);
    for (const { plugin, weight } of this.scorePlugins) {
      if (state.skipScorePlugins.has(plugin.name)) continue;
      for (let i = 0; i < n; i++) scores[i] = plugin.score(state, pi, nodes[i]);
      if (plugin.normalizeScore) {
        const s = plugin.normalizeScore(state, pi, nodes, scores);
        if (s) throw new Error(`running Normalize on Score plugin "${plugin.name}": ${s.message}`);
      }
      for (let i = 0; i < n; i++) {
        const v = scores[i];
        if (v > MAX_NODE_SCORE || v < MIN_NODE_SCORE) {
          throw new Error(`plugin "${plugin.name}" returns an invalid score ${v}, it should in the range of [${MIN_NODE_SCORE}, ${MAX_NODE_SCORE}] after normalizing`);
        }
        totals[i] += v * weight;
      }
    }
    return totals;
  }

  runReservePluginsReserve(state: CycleState, pi: PodInfo, nodeName: string): Status | undefined {
    for (const p of this.reservePlugins) {
      const s = p.reserve(state, pi, nodeName);
      if (s) return s.withPlugin(p.name);
    }
    return undefined;
  }

  /** In reverse order, as upstream. */
  runReservePluginsUnreserve(state: CycleState, pi: PodInfo, nodeName: string): void {
    for (let i = this.reservePlugins.length - 1; i >= 0; i--) {
      try {
        this.reservePlugins[i].unreserve(state, pi, nodeName);
      } catch (e) {
        this.log('unreserve failed', { plugin: this.reservePlugins[i].name, pod: pi.key, error: String(e) });
      }
    }
  }

  /** Success, a rejection, or Wait (the pod then waits in waitOnPermit). */
  runPermitPlugins(state: CycleState, pi: PodInfo, nodeName: string): Status | undefined {
    const waits = new Map<string, number>();
    for (const p of this.permitPlugins) {
      const s = p.permit(state, pi, nodeName);
      if (!s) continue;
      if (s.code === 'Wait') {
        waits.set(p.name, Math.min(s.timeoutMs || 15 * 60_000, 15 * 60_000));
        continue;
      }
      if (s.isRejected()) return s.withPlugin(p.name);
      return new Status('Error', [`running Permit plugin "${p.name}": ${s.message}`], { plugin: p.name });
    }
    if (waits.size > 0) {
      this.waitingPods.set(pi.uid, new WaitingPodImpl(pi, waits));
      return new Status('Wait');
    }
    return undefined;
  }

  async waitOnPermit(pi: PodInfo): Promise<Status | undefined> {
    const w = this.waitingPods.get(pi.uid);
    if (!w) return undefined;
    try {
      return await w.done;
    } finally {
      this.waitingPods.delete(pi.uid);
    }
  }

  async runPreBindPlugins(state: CycleState, pi: PodInfo, nodeName: string, signal: AbortSignal): Promise<Status | undefined> {
    for (const p of this.preBindPlugins) {
      const s = await p.preBind(state, pi, nodeName, signal);
      if (s) return new Status(s.code === 'Error' ? 'Error' : s.code, [`running PreBind plugin "${p.name}": ${s.message}`], { plugin: p.name, error: s.error });
    }
    return undefined;
  }

  async runBindPlugins(state: CycleState, pi: PodInfo, nodeName: string, signal: AbortSignal): Promise<Status | undefined> {
    for (const p of this.bindPlugins) {
      const s = await p.bind(state, pi, nodeName, signal);
      if (s && s.code === 'Skip') continue;
      if (s) return new Status(s.code, [`running Bind plugin "${p.name}": ${s.message}`], { plugin: p.name, error: s.error });
      return undefined;
    }
    return new Status('Error', ['all bind plugins skipped the pod']);
  }

  runPostBindPlugins(state: CycleState, pi: PodInfo, nodeName: string): void {
    for (const p of this.postBindPlugins) p.postBind(state, pi, nodeName);
  }
}

export { CycleState, NodeToStatus };
