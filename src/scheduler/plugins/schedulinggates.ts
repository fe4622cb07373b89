// SchedulingGates: a pod with spec.schedulingGates waits outside the active queue until
// every gate is removed (an update of the pod itself lets it in).

import type { ClusterEventWithHint, EnqueueExtensions, PreEnqueuePlugin } from '../framework/interface.ts';
import { ActionType } from '../framework/interface.ts';
import { Status } from '../framework/status.ts';
import type { PodInfo } from '../framework/types.ts';
import { names } from './names.ts';

export class SchedulingGates implements PreEnqueuePlugin, EnqueueExtensions {
  readonly name = names.SchedulingGates;

  preEnqueue(pi: PodInfo): Status | undefined {
    const gates = pi.pod.spec.schedulingGates ?? [];
    if (gates.length === 0) return undefined;
    return new Status('UnschedulableAndUnresolvable', [`waiting for scheduling gates: [${gates.map((g) => g.name).join(' ')}]`]);
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        event: { resource: 'UnscheduledPod', actionType: ActionType.UpdatePodSchedulingGatesEliminated | ActionType.UpdateOther },
        hint: (pod, _old, newObj) => ((newObj?.metadata.uid ?? pod.uid) === pod.uid && (newObj?.spec?.schedulingGates ?? []).length === 0 ? 'Queue' : 'Skip'),
      },
    ];
  }
}
