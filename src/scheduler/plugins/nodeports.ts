// NodePorts: a pod asking for host ports fits only nodes where no pod holds them
// (0.0.0.0 collides with every address).

import type { ClusterEventWithHint, CycleState, EnqueueExtensions, FilterPlugin, PreFilterPlugin, StateData } from '../framework/interface.ts';
import { ActionType } from '../framework/interface.ts';
import type { Pod } from '../framework/api.ts';
import { skip, unschedulable, type Status } from '../framework/status.ts';
import { podHostPorts, type HostPort, type NodeInfo, type PodInfo } from '../framework/types.ts';
import { names } from './names.ts';

export const ERR_REASON_PORTS = "node(s) didn't have free ports for the requested pod ports";

const PRE_FILTER_KEY = 'PreFilter' + names.NodePorts;

class PreFilterState implements StateData {
  readonly ports: HostPort[];
  constructor(ports: HostPort[]) {
    this.ports = ports;
  }
  clone(): StateData {
    return this;
  }
}

export function fitsPorts(want: readonly HostPort[], nodeInfo: NodeInfo): boolean {
  for (const p of want) if (nodeInfo.usedPorts.conflicts(p)) return false;
  return true;
}

export class NodePorts implements PreFilterPlugin, FilterPlugin, EnqueueExtensions {
  readonly name = names.NodePorts;
  private readonly errPorts = unschedulable(ERR_REASON_PORTS).withPlugin(names.NodePorts);

  preFilter(state: CycleState, pi: PodInfo): Status | undefined {
    if (pi.hostPorts.length === 0) return skip();
    state.write(PRE_FILTER_KEY, new PreFilterState(pi.hostPorts));
    return undefined;
  }

  preFilterExtensions(): undefined {
    return undefined;
  }

  filter(state: CycleState, _pi: PodInfo, nodeInfo: NodeInfo): Status | undefined {
    const s = state.read<PreFilterState>(PRE_FILTER_KEY);
    if (!s) return undefined;
    return fitsPorts(s.ports, nodeInfo) ? undefined : this.errPorts;
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      {
        // A deleted pod frees its ports: only worth a retry if it held one this pod wants.
        event: { resource: 'AssignedPod', actionType: ActionType.Delete },
        hint: (pod, oldObj) => {
          const gone = oldObj ? podHostPorts(oldObj as Pod) : [];
          return gone.some((g) => pod.hostPorts.some((w) => w.port === g.port && w.protocol === g.protocol)) ? 'Queue' : 'Skip';
        },
      },
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateOther } },
    ];
  }
}
