// PodTopologySpread: pods matching a constraint's selector are spread over the values
// of its topologyKey (zones, hostnames, ...).
//   - whenUnsatisfiable: DoNotSchedule filters: placing the pod on a node must keep
//     (matching pods in the node's domain + 1 if the pod matches itself) − (the fewest
//     in any eligible domain) ≤ maxSkew; with fewer eligible domains than minDomains the
//     fewest counts as 0. A node without the topology label does not fit at all.
//   - ScheduleAnyway scores: fewer matching pods in the node's domain is better, each
//     constraint weighted by log(number of domains + 2).
//   - Pods without constraints get the default ones (args.defaultConstraints, or the
//     system defaults: hostname maxSkew 3 and zone maxSkew 5, ScheduleAnyway) with a
//     selector built from the Services, ReplicationControllers, ReplicaSets and
//     StatefulSets that select the pod; none → no spreading.
//   - nodeAffinityPolicy (default Honor) counts only nodes matching the pod's node
//     affinity; nodeTaintsPolicy (default Ignore) Honor skips nodes with untolerated taints.
//   - matchLabelKeys add `key in (pod's value)` to the selector.

import { labelSelectorFromAPI, type LabelSelector } from '../../api/selectors.ts';
import type { ClusterEventWithHint, CycleState, EnqueueExtensions, FilterPlugin, Handle, PreFilterExtensions, PreFilterPlugin, PreScorePlugin, ScorePlugin, StateData } from '../framework/interface.ts';
import { ActionType, StateRef } from '../framework/interface.ts';
import type { LabelSelectorSpec, Node, Pod, TopologySpreadConstraint } from '../framework/api.ts';
import { LABEL_HOSTNAME, LABEL_ZONE } from '../framework/api.ts';
import { MAX_NODE_SCORE, Status, skip, unresolvable, unschedulable } from '../framework/status.ts';
import { doNotScheduleTaints, findUntoleratedTaint, type NodeInfo, type PodInfo } from '../framework/types.ts';
import { idiv, requiredNodeAffinityOf, type RequiredNodeAffinity } from './helper.ts';
import { names } from './names.ts';

export const ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints";
export const ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + ' (missing required label)';

export interface PodTopologySpreadArgs {
  defaultConstraints?: TopologySpreadConstraint[];
  defaultingType?: 'System' | 'List';
}

export const SYSTEM_DEFAULT_CONSTRAINTS: TopologySpreadConstraint[] = [
  { topologyKey: LABEL_HOSTNAME, whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 3 },
  { topologyKey: LABEL_ZONE, whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 5 },
];

interface Constraint {
  maxSkew: number;
  topologyKey: string;
  selector: LabelSelector;
  minDomains: number;
  honorNodeAffinity: boolean;
  honorNodeTaints: boolean;
}

function matchNodeInclusionPolicies(c: Constraint, pod: Pod, node: Node, nodeInfo: NodeInfo, aff: RequiredNodeAffinity): boolean {
  if (c.honorNodeAffinity && !aff.match(node)) return false;
  if (c.honorNodeTaints && findUntoleratedTaint(nodeInfo.taints, pod.spec.tolerations, doNotScheduleTaints)) return false;
  return true;
}

function nodeLabelsMatchSpreadConstraints(labels: Record<string, string>, constraints: readonly Constraint[]): boolean {
  for (const c of constraints) if (!Object.hasOwn(labels, c.topologyKey)) return false;
  return true;
}

/** Matching pods of `namespace` on a node, not counting terminating ones. */
function countPodsMatchSelector(pods: readonly PodInfo[], selector: LabelSelector, namespace: string): number {
  let n = 0;
  for (const p of pods) {
    if (p.pod.metadata.deletionTimestamp || p.namespace !== namespace) continue;
    if (selector.matches(p.labels)) n++;
  }
  return n;
}

interface CriticalPath {
  value: string;
  num: number;
}

type Aggregate = ReadonlyMap<string, { nodes: number; count: number }>;

/**
 * Matching pods per topology value of one constraint: a shared aggregate (domains are its
 * keys: values of eligible nodes) plus this cycle's own changes (nominated pods, preemption).
 */
class Counts {
  private readonly base: Aggregate;
  private delta: Map<string, number> | undefined;
  constructor(base: Aggregate, delta?: Map<string, number>) {
    this.base = base;
    this.delta = delta;
  }
  get(value: string): number {
    return (this.base.get(value)?.count ?? 0) + (this.delta?.get(value) ?? 0);
  }
  /** Eligible domains. */
  get domains(): number {
    return this.base.size;
  }
  add(value: string, d: number): number {
    this.delta ??= new Map();
    this.delta.set(value, (this.delta.get(value) ?? 0) + d);
    return this.get(value);
  }
  *values(): IterableIterator<string> {
    yield* this.base.keys();
  }
  clone(): Counts {
    return new Counts(this.base, this.delta ? new Map(this.delta) : undefined);
  }
}

/** The sum of per-node contributions, without a snapshot cache. */
function aggregateNodes(nodes: readonly NodeInfo[], contribution: (n: NodeInfo) => readonly (readonly [string, number])[] | undefined): Aggregate {
  const totals = new Map<string, { nodes: number; count: number }>();
  for (const n of nodes) {
    for (const [k, c] of contribution(n) ?? []) {
      let t = totals.get(k);
      if (!t) totals.set(k, (t = { nodes: 0, count: 0 }));
      t.nodes++;
      t.count += c;
    }
  }
  return totals;
}

class PreFilterState implements StateData {
  constraints: Constraint[];
  /** Per constraint: the two domains with the fewest matches (paths[0] the minimum). */
  criticalPaths: [CriticalPath, CriticalPath][];
  tpValueToMatchNum: Counts[];

  constructor(constraints: Constraint[], paths: [CriticalPath, CriticalPath][], counts: Counts[]) {
    this.constraints = constraints;
    this.criticalPaths = paths;
    this.tpValueToMatchNum = counts;
  }

  clone(): StateData {
    return new PreFilterState(
      this.constraints,
      this.criticalPaths.map(([a, b]) => [{ ...a }, { ...b }]),
      this.tpValueToMatchNum.map((m) => m.clone()),
    );
  }

  minMatchNum(i: number, minDomains: number): number {
    if (this.tpValueToMatchNum[i].domains < minDomains) return 0;
    return this.criticalPaths[i][0].num;
  }
}

function newCriticalPaths(): [CriticalPath, CriticalPath] {
  return [
    { value: '', num: 2 ** 31 - 1 },
    { value: '', num: 2 ** 31 - 1 },
  ];
}

function updateCriticalPaths(p: [CriticalPath, CriticalPath], value: string, num: number): void {
  let i = -1;
  if (value === p[0].value) i = 0;
  else if (value === p[1].value) i = 1;
  if (i >= 0) {
    p[i].num = num;
    if (p[0].num > p[1].num) {
      const t = p[0];
      p[0] = p[1];
      p[1] = t;
    }
  } else if (num < p[0].num) {
    p[1] = p[0];
    p[0] = { value, num };
  } else if (num < p[1].num) {
    p[1] = { value, num };
  }
}

class PreScoreState implements StateData {
  constraints: Constraint[] = [];
  ignoredNodes = new Set<string>();
  topologyValueToPodCounts: Map<string, number>[] = [];
  topologyNormalizingWeight: number[] = [];
  clone(): StateData {
    return this;
  }
}

const PRE_FILTER_KEY = 'PreFilter' + names.PodTopologySpread;
const PRE_SCORE_KEY = 'PreScore' + names.PodTopologySpread;

export class PodTopologySpread implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.PodTopologySpread;
  private readonly handle: Handle | undefined;
  private readonly defaultConstraints: TopologySpreadConstraint[];
  private readonly systemDefaulted: boolean;
  private readonly preFilterRef = new StateRef<PreFilterState>(PRE_FILTER_KEY);
  private readonly errLabel = unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH).withPlugin(names.PodTopologySpread);
  private readonly errSkew = unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH).withPlugin(names.PodTopologySpread);

  constructor(args: PodTopologySpreadArgs = {}, handle?: Handle) {
    this.handle = handle;
    const type = args.defaultingType ?? 'System';
    if (type === 'System') {
      if (args.defaultConstraints?.length) throw new Error('PodTopologySpread: defaultConstraints: Invalid value: when .defaultingType is "System"');
      this.defaultConstraints = SYSTEM_DEFAULT_CONSTRAINTS;
      this.systemDefaulted = true;
    } else {
      this.defaultConstraints = args.defaultConstraints ?? [];
      this.systemDefaulted = false;
    }
  }

  // ---- constraints ----

  private toConstraint(c: TopologySpreadConstraint, selector: LabelSelector): Constraint {
    return {
      maxSkew: c.maxSkew,
      topologyKey: c.topologyKey,
      selector,
      minDomains: c.minDomains ?? 1,
      honorNodeAffinity: (c.nodeAffinityPolicy ?? 'Honor') === 'Honor',
      honorNodeTaints: (c.nodeTaintsPolicy ?? 'Ignore') === 'Honor',
    };
  }

  private filterConstraints(list: readonly TopologySpreadConstraint[], podLabels: Record<string, string>, action: string): Constraint[] {
    const out: Constraint[] = [];
    for (const c of list) {
      if (c.whenUnsatisfiable !== action) continue;
      let spec: LabelSelectorSpec | null | undefined = c.labelSelector;
      const extra: Record<string, string> = {};
      for (const k of c.matchLabelKeys ?? []) if (Object.hasOwn(podLabels, k)) extra[k] = podLabels[k];
      if (spec && Object.keys(extra).length) spec = { ...spec, matchLabels: { ...(spec.matchLabels ?? {}), ...extra } };
      out.push(this.toConstraint(c, labelSelectorFromAPI(spec)));
    }
    return out;
  }

  /** The pod's constraints for `action`, or the defaults when it has none. */
  private constraintsFor(pi: PodInfo, action: 'DoNotSchedule' | 'ScheduleAnyway'): Constraint[] {
    const own = pi.pod.spec.topologySpreadConstraints ?? [];
    if (own.length > 0) return this.filterConstraints(own, pi.labels, action);
    return this.buildDefaultConstraints(pi, action);
  }

  private buildDefaultConstraints(pi: PodInfo, action: string): Constraint[] {
    const defaults = this.defaultConstraints.filter((c) => c.whenUnsatisfiable === action);
    if (defaults.length === 0) return [];
    const selector = this.defaultSelector(pi.pod);
    if (!selector || selector.empty) return [];
    return defaults.map((c) => this.toConstraint(c, selector));
  }

  /** helper.DefaultSelector: what the pod's Services and controller select. */
  private defaultSelector(pod: Pod): LabelSelector | undefined {
    const l = this.handle?.listers;
    if (!l) return undefined;
    const ns = pod.metadata.namespace ?? '';
    const labels = pod.metadata.labels ?? {};
    const matchLabels: Record<string, string> = {};
    for (const svc of l.services?.list(ns) ?? []) {
      const sel = svc.spec?.selector as Record<string, string> | undefined;
      if (!sel) continue;
      let ok = true;
      for (const [k, v] of Object.entries(sel)) if (labels[k] !== v) ok = false;
      if (ok) Object.assign(matchLabels, sel);
    }
    const matchExpressions: { key: string; operator: string; values?: string[] }[] = [];
    const owner = (pod.metadata.ownerReferences ?? []).find((o) => o.controller);
    if (owner) {
      if (owner.apiVersion === 'v1' && owner.kind === 'ReplicationController') {
        const rc = l.replicationcontrollers?.get(ns, owner.name);
        if (rc?.spec?.selector) Object.assign(matchLabels, rc.spec.selector);
      } else if (owner.apiVersion === 'apps/v1' && (owner.kind === 'ReplicaSet' || owner.kind === 'StatefulSet')) {
        const obj = (owner.kind === 'ReplicaSet' ? l.replicasets : l.statefulsets)?.get(ns, owner.name);
        const sel = obj?.spec?.selector as LabelSelectorSpec | undefined;
        if (sel) {
          for (const [k, v] of Object.entries(sel.matchLabels ?? {})) matchExpressions.push({ key: k, operator: 'In', values: [v] });
          matchExpressions.push(...(sel.matchExpressions ?? []));
        }
      }
    }
    try {
      return labelSelectorFromAPI({ matchLabels, matchExpressions });
    } catch {
      return undefined;
    }
  }

  // ---- filter ----

  /**
   * Matching pods per value of `c.topologyKey` over the nodes eligible for the pod (all
   * constraint keys present, inclusion policies met), kept incrementally by the snapshot
   * when it can (only nodes changed since the last cycle are recounted).
   */
  private countByDomain(c: Constraint, constraints: readonly Constraint[], pi: PodInfo, nodes: readonly NodeInfo[]): Aggregate {
    const aff = requiredNodeAffinityOf(pi.pod);
    const contribution = (n: NodeInfo): [string, number][] | undefined => {
      if (!nodeLabelsMatchSpreadConstraints(n.labels, constraints)) return undefined;
      if (!matchNodeInclusionPolicies(c, pi.pod, n.node!, n, aff)) return undefined;
      return [[n.labels[c.topologyKey], countPodsMatchSelector(n.pods, c.selector, pi.namespace)]];
    };
    const snap = this.handle?.snapshot();
    if (!snap?.aggregate || snap.list() !== nodes) return aggregateNodes(nodes, contribution);
    const key = [
      'pts',
      pi.namespace,
      c.topologyKey,
      constraints.map((x) => x.topologyKey).join(','),
      c.selector.nothing ? '<nothing>' : c.selector.toString(),
      c.honorNodeAffinity ? JSON.stringify([pi.pod.spec.nodeSelector ?? null, pi.pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? null]) : '',
      c.honorNodeTaints ? JSON.stringify(pi.pod.spec.tolerations ?? null) : '',
    ].join('\x00');
    return snap.aggregate(key, contribution);
  }

  preFilter(state: CycleState, pi: PodInfo, nodes: readonly NodeInfo[]): Status | undefined {
    const constraints = this.constraintsFor(pi, 'DoNotSchedule');
    if (constraints.length === 0) return skip();
    const counts = constraints.map((c) => new Counts(this.countByDomain(c, constraints, pi, nodes)));
    const paths = constraints.map((_c, i) => {
      const p = newCriticalPaths();
      for (const v of counts[i].values()) updateCriticalPaths(p, v, counts[i].get(v));
      return p;
    });
    this.preFilterRef.set(state, new PreFilterState(constraints, paths, counts));
    return undefined;
  }

  preFilterExtensions(): PreFilterExtensions {
    return {
      addPod: (state, pod, toAdd, nodeInfo) => this.updateWithPod(state, toAdd, pod, nodeInfo, 1),
      removePod: (state, pod, toRemove, nodeInfo) => this.updateWithPod(state, toRemove, pod, nodeInfo, -1),
    };
  }

  private updateWithPod(state: CycleState, updated: PodInfo, preemptor: PodInfo, nodeInfo: NodeInfo, delta: number): undefined {
    const s = state.read<PreFilterState>(PRE_FILTER_KEY);
    const node = nodeInfo.node;
    if (!s || updated.namespace !== preemptor.namespace || !node) return undefined;
    if (!nodeLabelsMatchSpreadConstraints(nodeInfo.labels, s.constraints)) return undefined;
    const aff = requiredNodeAffinityOf(preemptor.pod);
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i];
      if (!c.selector.matches(updated.labels)) continue;
      if (!matchNodeInclusionPolicies(c, preemptor.pod, node, nodeInfo, aff)) continue;
      const v = nodeInfo.labels[c.topologyKey];
      updateCriticalPaths(s.criticalPaths[i], v, s.tpValueToMatchNum[i].add(v, delta));
    }
    return undefined;
  }

  filter(state: CycleState, pi: PodInfo, nodeInfo: NodeInfo): Status | undefined {
    const s = this.preFilterRef.get(state);
    if (!s || s.constraints.length === 0) return undefined;
    const labels = nodeInfo.labels;
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i];
      if (!Object.hasOwn(labels, c.topologyKey)) return this.errLabel;
      const minMatch = s.minMatchNum(i, c.minDomains);
      const self = c.selector.matches(pi.labels) ? 1 : 0;
      const matchNum = s.tpValueToMatchNum[i].get(labels[c.topologyKey]);
      if (matchNum + self - minMatch > c.maxSkew) return this.errSkew;
    }
    return undefined;
  }

  // ---- score ----

  preScore(state: CycleState, pi: PodInfo, filtered: readonly NodeInfo[]): Status | undefined {
    const all = this.handle?.snapshot().list() ?? filtered;
    if (all.length === 0) return skip();
    const s = new PreScoreState();
    // Only non-default constraints require every node to carry all topology keys.
    const requireAll = (pi.pod.spec.topologySpreadConstraints ?? []).length > 0 || !this.systemDefaulted;
    s.constraints = this.constraintsFor(pi, 'ScheduleAnyway');
    if (s.constraints.length === 0) return skip();
    s.topologyValueToPodCounts = s.constraints.map(() => new Map());
    const topoSize = s.constraints.map(() => 0);
    for (const n of filtered) {
      if (requireAll && !nodeLabelsMatchSpreadConstraints(n.labels, s.constraints)) {
        s.ignoredNodes.add(n.name);
        continue;
      }
      for (let i = 0; i < s.constraints.length; i++) {
        const c = s.constraints[i];
        if (c.topologyKey === LABEL_HOSTNAME) continue;
        const v = n.labels[c.topologyKey];
        if (!s.topologyValueToPodCounts[i].has(v)) {
          s.topologyValueToPodCounts[i].set(v, 0);
          topoSize[i]++;
        }
      }
    }
    s.topologyNormalizingWeight = s.constraints.map((c, i) => {
      const size = c.topologyKey === LABEL_HOSTNAME ? filtered.length - s.ignoredNodes.size : topoSize[i];
      return Math.log(size + 2);
    });
    const aff = requiredNodeAffinityOf(pi.pod);
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i];
      // Per-node counts for hostname are taken at Score.
      if (c.topologyKey === LABEL_HOSTNAME) continue;
      const contribution = (n: NodeInfo): [string, number][] | undefined => {
        if (requireAll && !nodeLabelsMatchSpreadConstraints(n.labels, s.constraints)) return undefined;
        if (!matchNodeInclusionPolicies(c, pi.pod, n.node!, n, aff)) return undefined;
        const v = n.labels[c.topologyKey];
        if (v === undefined) return undefined;
        return [[v, countPodsMatchSelector(n.pods, c.selector, pi.namespace)]];
      };
      const snap = this.handle?.snapshot();
      const agg =
        snap?.aggregate && snap.list() === all
          ? snap.aggregate(
              [
                'pts-score',
                pi.namespace,
                c.topologyKey,
                requireAll ? s.constraints.map((x) => x.topologyKey).join(',') : '',
                c.selector.nothing ? '<nothing>' : c.selector.toString(),
                c.honorNodeAffinity ? JSON.stringify([pi.pod.spec.nodeSelector ?? null, pi.pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution ?? null]) : '',
                c.honorNodeTaints ? JSON.stringify(pi.pod.spec.tolerations ?? null) : '',
              ].join('\x00'),
              contribution,
            )
          : aggregateNodes(all, contribution);
      const m = s.topologyValueToPodCounts[i];
      for (const v of [...m.keys()]) m.set(v, agg.get(v)?.count ?? 0);
    }
    state.write(PRE_SCORE_KEY, s);
    return undefined;
  }

  score(state: CycleState, pi: PodInfo, nodeInfo: NodeInfo): number {
    const s = state.read<PreScoreState>(PRE_SCORE_KEY);
    if (!s || s.ignoredNodes.has(nodeInfo.name)) return 0;
    let score = 0;
    for (let i = 0; i < s.constraints.length; i++) {
      const c = s.constraints[i];
      const v = nodeInfo.labels[c.topologyKey];
      if (v === undefined) continue;
      const cnt = c.topologyKey === LABEL_HOSTNAME ? countPodsMatchSelector(nodeInfo.pods, c.selector, pi.namespace) : (s.topologyValueToPodCounts[i].get(v) ?? 0);
      score += cnt * s.topologyNormalizingWeight[i] + (c.maxSkew - 1);
    }
    return Math.round(score);
  }

  normalizeScore(state: CycleState, _pi: PodInfo, nodes: readonly NodeInfo[], scores: Float64Array): Status | undefined {
    const s = state.read<PreScoreState>(PRE_SCORE_KEY);
    if (!s) return undefined;
    let min = Number.MAX_SAFE_INTEGER;
    let max = 0;
    for (let i = 0; i < scores.length; i++) {
      if (s.ignoredNodes.has(nodes[i].name)) continue;
      if (scores[i] < min) min = scores[i];
      if (scores[i] > max) max = scores[i];
    }
    for (let i = 0; i < scores.length; i++) {
      if (s.ignoredNodes.has(nodes[i].name)) scores[i] = 0;
      else if (max === 0) scores[i] = MAX_NODE_SCORE;
      else scores[i] = idiv(MAX_NODE_SCORE * (max + min - scores[i]), max);
    }
    return undefined;
  }

  // ---- events ----

  eventsToRegister(): ClusterEventWithHint[] {
    const podMatches = (pod: PodInfo, other: Pod | undefined) => {
      if (!other || (other.metadata.namespace ?? '') !== pod.namespace) return false;
      const constraints = [...this.constraintsFor(pod, 'DoNotSchedule'), ...this.constraintsFor(pod, 'ScheduleAnyway')];
      const labels = other.metadata.labels ?? {};
      return constraints.some((c) => c.selector.matches(labels));
    };
    return [
      {
        event: { resource: 'AssignedPod', actionType: ActionType.Add | ActionType.Delete | ActionType.UpdatePodLabel },
        hint: (pod, oldObj, newObj) => (podMatches(pod, oldObj as Pod) || podMatches(pod, newObj as Pod) ? 'Queue' : 'Skip'),
      },
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.Delete | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint },
        hint: (pod, oldObj, newObj) => {
          const keys = (pod.pod.spec.topologySpreadConstraints ?? []).map((c) => c.topologyKey);
          const has = (n: Node | undefined) => !!n && keys.every((k) => Object.hasOwn(n.metadata.labels ?? {}, k));
          return has(oldObj as Node) || has(newObj as Node) ? 'Queue' : 'Skip';
        },
      },
    ];
  }
}
