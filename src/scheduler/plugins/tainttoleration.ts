// TaintToleration: a node with a NoSchedule or NoExecute taint fits only pods tolerating
// it; among feasible nodes, fewer untolerated PreferNoSchedule taints score higher.

import type { ClusterEventWithHint, CycleState, EnqueueExtensions, FilterPlugin, PreScorePlugin, ScorePlugin, StateData } from '../framework/interface.ts';
import { ActionType } from '../framework/interface.ts';
import type { Node, Toleration } from '../framework/api.ts';
import { MAX_NODE_SCORE, unresolvable, type Status } from '../framework/status.ts';
import { doNotScheduleTaints, findUntoleratedTaint, tolerationsTolerateTaint, type NodeInfo, type PodInfo } from '../framework/types.ts';
import { defaultNormalizeScore } from './helper.ts';
import { names } from './names.ts';

const PRE_SCORE_KEY = 'PreScore' + names.TaintToleration;

class PreScoreState implements StateData {
  readonly tolerationsPreferNoSchedule: Toleration[];
  constructor(t: Toleration[]) {
    this.tolerationsPreferNoSchedule = t;
  }
  clone(): StateData {
    return this;
  }
}

/** "node(s) had untolerated taint {key: value}", as the FailedScheduling event counts it. */
export function untoleratedTaintReason(key: string, value: string | undefined): string {
  return `node(s) had untolerated taint {${key}: ${value ?? ''}}`;
}

export class TaintToleration implements FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.TaintToleration;

  filter(_state: CycleState, pi: PodInfo, nodeInfo: NodeInfo): Status | undefined {
    if (nodeInfo.taintCount === 0) return undefined;
    const taint = findUntoleratedTaint(nodeInfo.taints, pi.pod.spec.tolerations, doNotScheduleTaints);
    if (!taint) return undefined;
    return unresolvable(untoleratedTaintReason(taint.key, taint.value));
  }

  preScore(state: CycleState, pi: PodInfo): Status | undefined {
    const t = (pi.pod.spec.tolerations ?? []).filter((x) => !x.effect || x.effect === 'PreferNoSchedule');
    state.write(PRE_SCORE_KEY, new PreScoreState(t));
    return undefined;
  }

  score(state: CycleState, _pi: PodInfo, nodeInfo: NodeInfo): number {
    if (nodeInfo.taintCount === 0) return 0;
    const s = state.read<PreScoreState>(PRE_SCORE_KEY)!;
    let n = 0;
    for (const taint of nodeInfo.taints) {
      if (taint.effect !== 'PreferNoSchedule') continue;
      if (!tolerationsTolerateTaint(s.tolerationsPreferNoSchedule, taint)) n++;
    }
    return n;
  }

  normalizeScore(_state: CycleState, _pi: PodInfo, _nodes: readonly NodeInfo[], scores: Float64Array): Status | undefined {
    defaultNormalizeScore(MAX_NODE_SCORE, true, scores);
    return undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint },
        hint: (pod, _o, n) => (findUntoleratedTaint((n as Node | undefined)?.spec?.taints ?? [], pod.pod.spec.tolerations, doNotScheduleTaints) ? 'Skip' : 'Queue'),
      },
      { event: { resource: 'UnscheduledPod', actionType: ActionType.UpdatePodTolerations } },
    ];
  }
}
