// InterPodAffinity: pods placed relative to other pods by topology domain.
//   Filter, with the incoming pod's required terms and existing pods' required terms:
//   - affinity: the node's domain (for every term's topologyKey) must hold a pod matching
//     all the terms; the first pod of a group that matches its own terms may go anywhere
//     no matching pod exists yet ("node(s) didn't match pod affinity rules",
//     UnschedulableAndUnresolvable);
//   - anti-affinity: no pod in the node's domain may match a term ("node(s) didn't match
//     pod anti-affinity rules");
//   - existing pods' anti-affinity: no existing pod whose required anti-affinity matches
//     the incoming pod may share a domain with the node ("node(s) didn't satisfy existing
//     pods anti-affinity rules").
//   Score: preferred terms of the incoming pod (+weight for affinity, −weight for
//   anti-affinity) and of existing pods towards it (their required affinity at
//   hardPodAffinityWeight), summed per domain, then scaled to [0, 100] by min and max.
// Namespaces: a term applies to its namespaces, the pod's own by default, plus those its
// namespaceSelector picks.

import type { Lister } from '../../client/indexer.ts';
import type { ClusterEventWithHint, CycleState, EnqueueExtensions, FilterPlugin, Handle, PreFilterExtensions, PreFilterPlugin, PreScorePlugin, ScorePlugin, StateData } from '../framework/interface.ts';
import { ActionType, StateRef } from '../framework/interface.ts';
import type { Pod } from '../framework/api.ts';
import { MAX_NODE_SCORE, Status, skip, unresolvable, unschedulable } from '../framework/status.ts';
import { AffinityTerm, PodInfo, type NodeInfo } from '../framework/types.ts';
import { mergeTermNamespaces, namespaceLabels } from './helper.ts';
import { names } from './names.ts';

export const ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";
export const ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules";
export const ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";

export interface InterPodAffinityArgs {
  hardPodAffinityWeight?: number;
  ignorePreferredTermsOfExistingPods?: boolean;
}

function pair(key: string, value: string): string {
  return key + '\x00' + value;
}

function podMatchesAllAffinityTerms(terms: readonly AffinityTerm[], pod: PodInfo): boolean {
  if (terms.length === 0) return false;
  for (const t of terms) if (!t.matches(pod, undefined)) return false;
  return true;
}

type Aggregate = ReadonlyMap<string, { nodes: number; count: number }>;

const NO_VALUES: ReadonlyMap<string, number> = new Map();

/** Pair counts: a shared aggregate (every entry > 0) plus this cycle's own changes. */
class PairCounts {
  private readonly base: Aggregate;
  private delta: Map<string, number> | undefined;
  /** topologyKey → value → count, built on first use (what the per-node Filter reads). */
  private nested: Map<string, Map<string, number>> | undefined;
  constructor(base: Aggregate, delta?: Map<string, number>) {
    this.base = base;
    this.delta = delta;
  }
  /** The topology keys with counts. */
  topologyKeys(): IterableIterator<string> {
    this.forKey('');
    return this.nested!.keys();
  }

  /** Counts by value for one topology key. */
  forKey(key: string): ReadonlyMap<string, number> {
    if (!this.nested) {
      this.nested = new Map();
      const put = (p: string) => {
        const i = p.indexOf('\x00');
        const k = p.slice(0, i);
        let m = this.nested!.get(k);
        if (!m) this.nested!.set(k, (m = new Map()));
        m.set(p.slice(i + 1), this.get(p));
      };
      for (const p of this.base.keys()) put(p);
      for (const p of this.delta?.keys() ?? []) put(p);
    }
    return this.nested.get(key) ?? NO_VALUES;
  }
  get(p: string): number {
    return (this.base.get(p)?.count ?? 0) + (this.delta?.get(p) ?? 0);
  }
  /** Pairs with a positive count. */
  get size(): number {
    if (this.delta === undefined || this.delta.size === 0) return this.base.size;
    let n = 0;
    for (const k of this.base.keys()) if (this.get(k) > 0) n++;
    for (const k of this.delta.keys()) if (!this.base.has(k) && this.get(k) > 0) n++;
    return n;
  }
  add(p: string, d: number): void {
    this.delta ??= new Map();
    this.delta.set(p, (this.delta.get(p) ?? 0) + d);
    this.nested = undefined;
  }
  clone(): PairCounts {
    return new PairCounts(this.base, this.delta ? new Map(this.delta) : undefined);
  }
}

function aggregateNodes(nodes: readonly NodeInfo[], contribution: (n: NodeInfo) => [string, number][] | undefined): Aggregate {
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

/** A stable key for a list of terms (namespaces already merged). */
function termsKey(terms: readonly AffinityTerm[]): string {
  return terms.map((t) => `${[...t.namespaces].sort().join(',')}|${t.selector.nothing ? '<nothing>' : t.selector.toString()}|${t.topologyKey}|${t.weight}`).join(';');
}

class PreFilterState implements StateData {
  pod: PodInfo;
  requiredAffinity: AffinityTerm[];
  requiredAntiAffinity: AffinityTerm[];
  namespaceLabels: Record<string, string> | undefined;
  existingAntiAffinityCounts: PairCounts;
  affinityCounts: PairCounts;
  antiAffinityCounts: PairCounts;

  constructor(init: Omit<PreFilterState, 'clone' | 'updateWithPod'>) {
    this.pod = init.pod;
    this.requiredAffinity = init.requiredAffinity;
    this.requiredAntiAffinity = init.requiredAntiAffinity;
    this.namespaceLabels = init.namespaceLabels;
    this.existingAntiAffinityCounts = init.existingAntiAffinityCounts;
    this.affinityCounts = init.affinityCounts;
    this.antiAffinityCounts = init.antiAffinityCounts;
  }

  clone(): StateData {
    return new PreFilterState({
      ...this,
      existingAntiAffinityCounts: this.existingAntiAffinityCounts.clone(),
      affinityCounts: this.affinityCounts.clone(),
      antiAffinityCounts: this.antiAffinityCounts.clone(),
    });
  }

  updateWithPod(other: PodInfo, labels: Record<string, string>, delta: number): void {
    for (const t of other.requiredAntiAffinityTerms) {
      const v = labels[t.topologyKey];
      if (v !== undefined && t.matches(this.pod, this.namespaceLabels)) this.existingAntiAffinityCounts.add(pair(t.topologyKey, v), delta);
    }
    if (podMatchesAllAffinityTerms(this.requiredAffinity, other)) {
      for (const t of this.requiredAffinity) {
        const v = labels[t.topologyKey];
        if (v !== undefined) this.affinityCounts.add(pair(t.topologyKey, v), delta);
      }
    }
    for (const t of this.requiredAntiAffinity) {
      const v = labels[t.topologyKey];
      if (v !== undefined && t.matches(other, undefined)) this.antiAffinityCounts.add(pair(t.topologyKey, v), delta);
    }
  }
}

class PreScoreState implements StateData {
  /** topologyKey → value → score. */
  topologyScore = new Map<string, Map<string, number>>();
  /** The same as an array, for the per-node loop. */
  keys: [string, Map<string, number>][] = [];
  clone(): StateData {
    return this;
  }
}

const PRE_FILTER_KEY = 'PreFilter' + names.InterPodAffinity;
const PRE_SCORE_KEY = 'PreScore' + names.InterPodAffinity;

export class InterPodAffinity implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.InterPodAffinity;
  private readonly handle: Handle | undefined;
  private readonly hardPodAffinityWeight: number;
  private readonly ignorePreferredTermsOfExistingPods: boolean;
  // Shared rejections (statuses are not changed once made).
  private readonly preFilterRef = new StateRef<PreFilterState>(PRE_FILTER_KEY);
  private readonly errAffinity = unresolvable(ERR_REASON_AFFINITY).withPlugin(names.InterPodAffinity);
  private readonly errAntiAffinity = unschedulable(ERR_REASON_ANTI_AFFINITY).withPlugin(names.InterPodAffinity);
  private readonly errExistingAntiAffinity = unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY).withPlugin(names.InterPodAffinity);

  constructor(args: InterPodAffinityArgs = {}, handle?: Handle) {
    this.handle = handle;
    this.hardPodAffinityWeight = args.hardPodAffinityWeight ?? 1;
    if (this.hardPodAffinityWeight < 0 || this.hardPodAffinityWeight > 100) throw new Error('InterPodAffinity: hardPodAffinityWeight: Invalid value: not in valid range [0-100]');
    this.ignorePreferredTermsOfExistingPods = args.ignorePreferredTermsOfExistingPods ?? false;
  }

  private get namespaces(): Lister | undefined {
    return this.handle?.listers.namespaces;
  }

  private lister(nodes: readonly NodeInfo[]) {
    const snap = this.handle?.snapshot();
    return {
      all: snap?.list() ?? nodes,
      withAnti: snap?.havePodsWithRequiredAntiAffinityList() ?? nodes.filter((n) => n.podsWithRequiredAntiAffinity.length > 0),
      withAffinity: snap?.havePodsWithAffinityList() ?? nodes.filter((n) => n.podsWithAffinity.length > 0),
    };
  }

  // ---- filter ----

  preFilter(state: CycleState, pi: PodInfo, nodes: readonly NodeInfo[]): Status | undefined {
    if (pi.parseError) return unresolvable(`parsing pod: ${pi.parseError}`);
    const { all, withAnti } = this.lister(nodes);
    const requiredAffinity = pi.requiredAffinityTerms.map((t) => mergeTermNamespaces(t, this.namespaces));
    const requiredAntiAffinity = pi.requiredAntiAffinityTerms.map((t) => mergeTermNamespaces(t, this.namespaces));
    const nsLabels = namespaceLabels(this.namespaces, pi.namespace);

    // Counts per topology pair, kept incrementally by the snapshot (only changed nodes are recounted).
    const snap = this.handle?.snapshot();
    const aggregate = (key: string, contribution: (n: NodeInfo) => [string, number][] | undefined): Aggregate =>
      snap?.aggregate && snap.list() === all ? snap.aggregate(key, contribution) : aggregateNodes(all, contribution);
    // Existing pods whose required anti-affinity matches the incoming pod.
    const existingAntiAffinityCounts = new PairCounts(
      withAnti.length === 0
        ? new Map()
        : aggregate(['ipa-existing-anti', pi.namespace, JSON.stringify(pi.labels), JSON.stringify(nsLabels ?? null)].join('\x00'), (n) => {
            if (n.podsWithRequiredAntiAffinity.length === 0) return undefined;
            let out: [string, number][] | undefined;
            for (const existing of n.podsWithRequiredAntiAffinity) {
              for (const t of existing.requiredAntiAffinityTerms) {
                const p = n.topologyPair(t.topologyKey);
                if (p !== undefined && t.matches(pi, nsLabels)) (out ??= []).push([p, 1]);
              }
            }
            return out;
          }),
    );
    if (existingAntiAffinityCounts.size === 0 && requiredAffinity.length === 0 && requiredAntiAffinity.length === 0) return skip();
    const affinityCounts = new PairCounts(
      requiredAffinity.length === 0
        ? new Map()
        : aggregate(`ipa-aff\x00${termsKey(requiredAffinity)}`, (n) => {
            let matching = 0;
            for (const p of n.pods) if (podMatchesAllAffinityTerms(requiredAffinity, p)) matching++;
            if (matching === 0) return undefined;
            const out: [string, number][] = [];
            for (const t of requiredAffinity) {
              const p = n.topologyPair(t.topologyKey);
              if (p !== undefined) out.push([p, matching]);
            }
            return out;
          }),
    );
    const antiAffinityCounts = new PairCounts(
      requiredAntiAffinity.length === 0
        ? new Map()
        : aggregate(`ipa-anti\x00${termsKey(requiredAntiAffinity)}`, (n) => {
            const out: [string, number][] = [];
            for (const t of requiredAntiAffinity) {
              const tp = n.topologyPair(t.topologyKey);
              if (tp === undefined) continue;
              let matching = 0;
              for (const p of n.pods) if (t.matches(p, undefined)) matching++;
              if (matching > 0) out.push([tp, matching]);
            }
            return out.length ? out : undefined;
          }),
    );
    this.preFilterRef.set(
      state,
      new PreFilterState({ pod: pi, requiredAffinity, requiredAntiAffinity, namespaceLabels: nsLabels, existingAntiAffinityCounts, affinityCounts, antiAffinityCounts }),
    );
    return undefined;
  }

  preFilterExtensions(): PreFilterExtensions {
    const update = (state: CycleState, other: PodInfo, nodeInfo: NodeInfo, delta: number) => {
      state.read<PreFilterState>(PRE_FILTER_KEY)?.updateWithPod(other, nodeInfo.labels, delta);
      return undefined;
    };
    return {
      addPod: (state, _pod, toAdd, nodeInfo) => update(state, toAdd, nodeInfo, 1),
      removePod: (state, _pod, toRemove, nodeInfo) => update(state, toRemove, nodeInfo, -1),
    };
  }

  filter(state: CycleState, _pi: PodInfo, nodeInfo: NodeInfo): Status | undefined {
    const s = this.preFilterRef.get(state);
    if (!s) return undefined;
    const labels = nodeInfo.labels;
    if (s.requiredAffinity.length > 0 && !satisfyPodAffinity(s, nodeInfo)) return this.errAffinity;
    if (s.requiredAntiAffinity.length > 0 && s.antiAffinityCounts.size > 0) {
      for (const t of s.requiredAntiAffinity) {
        const v = labels[t.topologyKey];
        if (v !== undefined && (s.antiAffinityCounts.forKey(t.topologyKey).get(v) ?? 0) > 0) return this.errAntiAffinity;
      }
    }
    if (s.existingAntiAffinityCounts.size > 0) {
      for (const key of s.existingAntiAffinityCounts.topologyKeys()) {
        const v = labels[key];
        if (v !== undefined && (s.existingAntiAffinityCounts.forKey(key).get(v) ?? 0) > 0) return this.errExistingAntiAffinity;
      }
    }
    return undefined;
  }

  // ---- score ----

  preScore(state: CycleState, pi: PodInfo, filtered: readonly NodeInfo[]): Status | undefined {
    const preferredAffinity = pi.preferredAffinityTerms.map((t) => mergeTermNamespaces(t, this.namespaces));
    const preferredAnti = pi.preferredAntiAffinityTerms.map((t) => mergeTermNamespaces(t, this.namespaces));
    const hasConstraints = preferredAffinity.length > 0 || preferredAnti.length > 0;
    if (this.ignorePreferredTermsOfExistingPods && !hasConstraints) return skip();
    const { all, withAffinity } = this.lister(filtered);
    const nsLabels = namespaceLabels(this.namespaces, pi.namespace);
    // One node's share of the topology scores: every pod on it (or only those with
    // affinity when the incoming pod has no preferred terms), as upstream's processExistingPod.
    const contribution = (n: NodeInfo): [string, number][] | undefined => {
      const labels = n.labels;
      const pods = hasConstraints ? n.pods : n.podsWithAffinity;
      if (pods.length === 0) return undefined;
      let local: Map<string, number> | undefined;
      const add = (t: AffinityTerm, weight: number, target: PodInfo, targetNsLabels: Record<string, string> | undefined) => {
        if (!t.matches(target, targetNsLabels)) return;
        const v = labels[t.topologyKey];
        if (v === undefined) return;
        local ??= new Map();
        const k = pair(t.topologyKey, v);
        local.set(k, (local.get(k) ?? 0) + weight);
      };
      for (const existing of pods) {
        for (const t of preferredAffinity) add(t, t.weight, existing, undefined);
        for (const t of preferredAnti) add(t, -t.weight, existing, undefined);
        if (this.ignorePreferredTermsOfExistingPods) continue;
        if (this.hardPodAffinityWeight > 0) for (const t of existing.requiredAffinityTerms) add(t, this.hardPodAffinityWeight, pi, nsLabels);
        for (const t of existing.preferredAffinityTerms) add(t, t.weight, pi, nsLabels);
        for (const t of existing.preferredAntiAffinityTerms) add(t, -t.weight, pi, nsLabels);
      }
      return local ? [...local] : undefined;
    };
    const snap = this.handle?.snapshot();
    const nodes = hasConstraints ? all : withAffinity;
    const agg =
      snap?.aggregate && snap.list() === all
        ? snap.aggregate(
            ['ipa-score', hasConstraints, pi.namespace, JSON.stringify(pi.labels), JSON.stringify(nsLabels ?? null), termsKey(preferredAffinity), termsKey(preferredAnti), this.hardPodAffinityWeight].join('\x00'),
            contribution,
          )
        : aggregateNodes(nodes, contribution);
    if (agg.size === 0) return skip();
    const s = new PreScoreState();
    for (const [k, v] of agg) {
      const i = k.indexOf('\x00');
      const key = k.slice(0, i);
      let m = s.topologyScore.get(key);
      if (!m) s.topologyScore.set(key, (m = new Map()));
      m.set(k.slice(i + 1), v.count);
    }
    s.keys = [...s.topologyScore];
    state.write(PRE_SCORE_KEY, s);
    return undefined;
  }

  score(state: CycleState, _pi: PodInfo, nodeInfo: NodeInfo): number {
    const s = state.read<PreScoreState>(PRE_SCORE_KEY);
    if (!s) return 0;
    let score = 0;
    const keys = s.keys;
    const labels = nodeInfo.labels;
    for (let i = 0; i < keys.length; i++) {
      const v = labels[keys[i][0]];
      if (v !== undefined) score += keys[i][1].get(v) ?? 0;
    }
    return score;
  }

  normalizeScore(state: CycleState, _pi: PodInfo, _nodes: readonly NodeInfo[], scores: Float64Array): Status | undefined {
    const s = state.read<PreScoreState>(PRE_SCORE_KEY);
    if (!s || s.topologyScore.size === 0) return undefined;
    let min = Infinity;
    let max = -Infinity;
    for (const x of scores) {
      if (x > max) max = x;
      if (x < min) min = x;
    }
    const diff = max - min;
    for (let i = 0; i < scores.length; i++) scores[i] = diff > 0 ? Math.trunc(MAX_NODE_SCORE * ((scores[i] - min) / diff)) : 0;
    return undefined;
  }

  // ---- events ----

  eventsToRegister(): ClusterEventWithHint[] {
    const asInfo = (o: unknown) => (o ? new PodInfo(o as Pod) : undefined);
    return [
      {
        event: { resource: 'AssignedPod', actionType: ActionType.Add | ActionType.UpdatePodLabel },
        hint: (pod, _old, newObj) => {
          const other = asInfo(newObj);
          if (!other) return 'Skip';
          // A new matching pod can satisfy affinity; any pod can change existing-anti-affinity counts only by leaving.
          return pod.requiredAffinityTerms.some((t) => t.matches(other, undefined)) || pod.preferredAffinityTerms.length > 0 ? 'Queue' : 'Skip';
        },
      },
      {
        event: { resource: 'AssignedPod', actionType: ActionType.Delete | ActionType.UpdatePodLabel },
        hint: (pod, oldObj) => {
          const other = asInfo(oldObj);
          if (!other) return 'Skip';
          if (pod.requiredAntiAffinityTerms.some((t) => t.matches(other, undefined))) return 'Queue';
          if (other.requiredAntiAffinityTerms.some((t) => t.matches(pod, undefined) || t.namespaceSelector !== undefined)) return 'Queue';
          return 'Skip';
        },
      },
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel } },
      { event: { resource: 'Namespace', actionType: ActionType.Add | ActionType.UpdateOther } },
    ];
  }
}

function satisfyPodAffinity(s: PreFilterState, nodeInfo: NodeInfo): boolean {
  let podsExist = true;
  const labels = nodeInfo.labels;
  for (const t of s.requiredAffinity) {
    const v = labels[t.topologyKey];
    if (v === undefined) return false;
    if ((s.affinityCounts.forKey(t.topologyKey).get(v) ?? 0) <= 0) podsExist = false;
  }
  if (podsExist) return true;
  // The first pod of a group with affinity to itself: no other pod matches yet.
  return s.affinityCounts.size === 0 && podMatchesAllAffinityTerms(s.requiredAffinity, s.pod);
}
