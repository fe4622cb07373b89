// NodeAffinity: spec.nodeSelector and required node affinity filter nodes (operators In,
// NotIn, Exists, DoesNotExist, Gt, Lt; matchFields on metadata.name narrow the nodes at
// PreFilter, which is how DaemonSet pods reach exactly their node); preferred terms add
// their weights to a node's score. Args: addedAffinity, a scheduler-enforced affinity.

import type { ClusterEventWithHint, CycleState, EnqueueExtensions, FilterPlugin, Handle, PreFilterPlugin, PreScorePlugin, ScorePlugin, StateData } from '../framework/interface.ts';
import { ActionType, PreFilterResult } from '../framework/interface.ts';
import type { Affinity, Node, NodeSelectorTerm } from '../framework/api.ts';
import { MAX_NODE_SCORE, Status, skip, unresolvable } from '../framework/status.ts';
import type { NodeInfo, PodInfo } from '../framework/types.ts';
import { defaultNormalizeScore, nodeSelectorMatches, nodeSelectorTermMatches, requiredNodeAffinityOf } from './helper.ts';
import { names } from './names.ts';

export const ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector";
export const ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity";
export const ERR_REASON_CONFLICT = 'pod affinity terms conflict';

export interface NodeAffinityArgs {
  addedAffinity?: Affinity['nodeAffinity'];
}

const PRE_SCORE_KEY = 'PreScore' + names.NodeAffinity;

interface PreferredTerm {
  weight: number;
  term: NodeSelectorTerm;
}

class PreScoreState implements StateData {
  readonly terms: PreferredTerm[];
  constructor(terms: PreferredTerm[]) {
    this.terms = terms;
  }
  clone(): StateData {
    return this;
  }
}

function preferredTerms(a: Affinity['nodeAffinity'] | undefined): PreferredTerm[] {
  const out: PreferredTerm[] = [];
  for (const t of a?.preferredDuringSchedulingIgnoredDuringExecution ?? []) {
    if (!t.weight) continue;
    out.push({ weight: t.weight, term: t.preference ?? {} });
  }
  return out;
}

export class NodeAffinity implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.NodeAffinity;
  private readonly addedNodeSelector: readonly NodeSelectorTerm[] | undefined;
  private readonly addedPreferred: PreferredTerm[];
  private readonly errPod = unresolvable(ERR_REASON_POD).withPlugin(names.NodeAffinity);

  constructor(args: NodeAffinityArgs = {}, _handle?: Handle) {
    const req = args.addedAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    this.addedNodeSelector = req ? req.nodeSelectorTerms : undefined;
    this.addedPreferred = preferredTerms(args.addedAffinity);
  }

  preFilter(_state: CycleState, pi: PodInfo): Status | PreFilterResult | undefined {
    const req = pi.pod.spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
    if (!req && !this.addedNodeSelector && !pi.pod.spec.nodeSelector) return skip();
    const terms = req?.nodeSelectorTerms ?? [];
    if (terms.length === 0) return undefined;
    // Affinity to specific nodes by name (matchFields metadata.name In ...) narrows the nodes.
    let nodeNames: Set<string> | undefined;
    for (const t of terms) {
      let termNames: Set<string> | undefined;
      for (const r of t.matchFields ?? []) {
        if (r.key !== 'metadata.name' || r.operator !== 'In') continue;
        const s = new Set(r.values ?? []);
        termNames = termNames ? new Set([...termNames].filter((n) => s.has(n))) : s;
      }
      // A term without a name requirement lets every node through (terms are ORed).
      if (!termNames) return undefined;
      nodeNames = new Set([...(nodeNames ?? []), ...termNames]);
    }
    if (nodeNames && nodeNames.size === 0) return unresolvable(ERR_REASON_CONFLICT);
    return nodeNames ? new PreFilterResult(nodeNames) : undefined;
  }

  filter(_state: CycleState, pi: PodInfo, nodeInfo: NodeInfo): Status | undefined {
    const node = nodeInfo.node!;
    if (this.addedNodeSelector && !nodeSelectorMatches(this.addedNodeSelector, node)) return unresolvable(ERR_REASON_ENFORCED);
    if (!requiredNodeAffinityOf(pi.pod).match(node)) return this.errPod;
    return undefined;
  }

  preScore(state: CycleState, pi: PodInfo): Status | undefined {
    const terms = [...this.addedPreferred, ...preferredTerms(pi.pod.spec.affinity?.nodeAffinity)];
    if (terms.length === 0) return skip();
    state.write(PRE_SCORE_KEY, new PreScoreState(terms));
    return undefined;
  }

  score(state: CycleState, _pi: PodInfo, nodeInfo: NodeInfo): number {
    const s = state.read<PreScoreState>(PRE_SCORE_KEY);
    if (!s) return 0;
    let count = 0;
    for (const t of s.terms) if (nodeSelectorTermMatches(t.term, nodeInfo.node!)) count += t.weight;
    return count;
  }

  normalizeScore(_state: CycleState, _pi: PodInfo, _nodes: readonly NodeInfo[], scores: Float64Array): Status | undefined {
    defaultNormalizeScore(MAX_NODE_SCORE, false, scores);
    return undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel },
        hint: (pod, oldObj, newObj) => {
          const n = newObj as Node | undefined;
          if (!n) return 'Skip';
          if (this.addedNodeSelector && !nodeSelectorMatches(this.addedNodeSelector, n)) return 'Skip';
          const aff = requiredNodeAffinityOf(pod.pod);
          if (!aff.match(n)) return 'Skip';
          // An update of a node that already matched does not change this plugin's verdict.
          if (oldObj && aff.match(oldObj as Node)) return 'Skip';
          return 'Queue';
        },
      },
      { event: { resource: 'UnscheduledPod', actionType: ActionType.UpdateOther } },
    ];
  }
}
