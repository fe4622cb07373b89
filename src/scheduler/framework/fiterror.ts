// The FailedScheduling message, as framework.FitError.Error():
//   "0/3 nodes are available: 1 node(s) had untolerated taint {k: }, 2 Insufficient cpu.
//    preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No
//    preemption victims found for incoming pod."
// Each node contributes every reason of its status; nodes not listed contribute the
// reasons of the absent-nodes status. "<count> <reason>" strings are sorted as strings
// (so "10 X" sorts before "2 Y", as upstream's sort.Strings does) and joined with ", ".
// A PreFilter rejection replaces the per-node histogram with its own message.

import type { NodeToStatus } from './interface.ts';

export const NO_NODE_AVAILABLE_MSG = (n: number) => `0/${n} nodes are available`;

/** The per-reason histogram "1 A, 2 B" over every node of the cluster. */
export function reasonsHistogram(numAllNodes: number, statuses: NodeToStatus): string {
  const counts = new Map<string, number>();
  for (const s of statuses.values()) for (const r of s.reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  const absent = numAllNodes - statuses.size;
  if (absent > 0) for (const r of statuses.absentNodesStatus.reasons) counts.set(r, (counts.get(r) ?? 0) + absent);
  const parts = [...counts].map(([r, n]) => `${n} ${r}`);
  parts.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return parts.join(', ');
}

export interface FitErrorInfo {
  numAllNodes: number;
  statuses: NodeToStatus;
  preFilterMsg?: string;
  postFilterMsg?: string;
}

export function fitErrorMessage(e: FitErrorInfo): string {
  let msg = NO_NODE_AVAILABLE_MSG(e.numAllNodes) + ':';
  if (e.preFilterMsg) msg += ` ${e.preFilterMsg}.`;
  else {
    const h = reasonsHistogram(e.numAllNodes, e.statuses);
    if (h) msg += ` ${h}.`;
  }
  if (e.postFilterMsg) msg += ` ${e.postFilterMsg}`;
  return msg;
}

/** The message every node-less cluster gets. */
export const ERR_NO_NODES_AVAILABLE = 'no nodes available to schedule pods';
