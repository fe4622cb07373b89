// PrioritySort: the active queue pops higher-priority pods first, then the ones queued earlier.

import type { QueueSortPlugin, QueuedPodInfo } from '../framework/interface.ts';
import { names } from './names.ts';

export class PrioritySort implements QueueSortPlugin {
  readonly name = names.PrioritySort;

  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean {
    const p1 = a.podInfo.priority;
    const p2 = b.podInfo.priority;
    return p1 > p2 || (p1 === p2 && a.timestamp < b.timestamp);
  }
}
