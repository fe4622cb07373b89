// NodeName: a pod naming spec.nodeName fits only that node. (Pods with spec.nodeName set
// never reach the scheduler's queue; this matters for preemption's dry runs and extenders.)

import type { ClusterEventWithHint, CycleState, EnqueueExtensions, FilterPlugin } from '../framework/interface.ts';
import { ActionType } from '../framework/interface.ts';
import { unresolvable, type Status } from '../framework/status.ts';
import type { NodeInfo, PodInfo } from '../framework/types.ts';
import { names } from './names.ts';

export const ERR_REASON_NODE_NAME = "node(s) didn't match the requested node name";

export class NodeName implements FilterPlugin, EnqueueExtensions {
  readonly name = names.NodeName;

  filter(_state: CycleState, pi: PodInfo, nodeInfo: NodeInfo): Status | undefined {
    const want = pi.pod.spec.nodeName;
    if (want && want !== nodeInfo.name) return unresolvable(ERR_REASON_NODE_NAME);
    return undefined;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateOther },
        hint: (pod, _o, n) => (!pod.pod.spec.nodeName || pod.pod.spec.nodeName === n?.metadata.name ? 'Queue' : 'Skip'),
      },
    ];
  }
}
