// NodeUnschedulable: a cordoned node (spec.unschedulable) fits only pods tolerating the
// node.kubernetes.io/unschedulable:NoSchedule taint.

import type { ClusterEventWithHint, CycleState, EnqueueExtensions, FilterPlugin } from '../framework/interface.ts';
import { ActionType } from '../framework/interface.ts';
import type { Node } from '../framework/api.ts';
import { TAINT_NODE_UNSCHEDULABLE } from '../framework/api.ts';
import { unresolvable, type Status } from '../framework/status.ts';
import { tolerationsTolerateTaint, type NodeInfo, type PodInfo } from '../framework/types.ts';
import { names } from './names.ts';

export const ERR_REASON_UNSCHEDULABLE = 'node(s) were unschedulable';

const UNSCHEDULABLE_TAINT = { key: TAINT_NODE_UNSCHEDULABLE, effect: 'NoSchedule' };

export class NodeUnschedulable implements FilterPlugin, EnqueueExtensions {
  readonly name = names.NodeUnschedulable;
  private readonly err = unresolvable(ERR_REASON_UNSCHEDULABLE).withPlugin(names.NodeUnschedulable);

  filter(_state: CycleState, pi: PodInfo, nodeInfo: NodeInfo): Status | undefined {
    if (!nodeInfo.unschedulable) return undefined;
    if (tolerationsTolerateTaint(pi.pod.spec.tolerations, UNSCHEDULABLE_TAINT)) return undefined;
    return this.err;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeTaint | ActionType.UpdateOther },
        hint: (pod, _o, n) => (!(n as Node | undefined)?.spec?.unschedulable || tolerationsTolerateTaint(pod.pod.spec.tolerations, UNSCHEDULABLE_TAINT) ? 'Queue' : 'Skip'),
      },
      { event: { resource: 'UnscheduledPod', actionType: ActionType.UpdatePodTolerations | ActionType.UpdateOther } },
    ];
  }
}
