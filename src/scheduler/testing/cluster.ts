// Helpers for tests and benchmarks that run the scheduler against a real apiserver
// without a controller manager.

import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';
import type { Node } from '../framework/api.ts';

const NOT_READY = 'node.kubernetes.io/not-ready';

/**
 * What the node lifecycle controller does for Ready nodes: removes the
 * node.kubernetes.io/not-ready taint the apiserver's TaintNodesByCondition admission put
 * on each new Node. Returns how many nodes were changed.
 */
export async function clearNotReadyTaints(client: Client, opts: { concurrency?: number } = {}): Promise<number> {
  const nodes: Node[] = [];
  let cont: string | undefined;
  do {
    const page = await client.list<Node>(ref.nodes, undefined, { limit: 500, continue: cont });
    nodes.push(...page.items);
    cont = page.metadata.continue || undefined;
  } while (cont);
  const todo = nodes.filter((n) => (n.spec?.taints ?? []).some((t) => t.key === NOT_READY));
  let next = 0;
  let changed = 0;
  const worker = async () => {
    while (next < todo.length) {
      const n = todo[next++];
      const taints = (n.spec?.taints ?? []).filter((t) => t.key !== NOT_READY);
      await client.patch(ref.nodes, undefined, n.metadata.name!, 'merge', { spec: { taints: taints.length ? taints : null } });
      changed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency ?? 16, todo.length) }, worker));
  return changed;
}
