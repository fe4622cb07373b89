// Taints, tolerations and node conditions as upstream's helpers (pkg/util/taints,
// k8s.io/api core/v1 toleration.go, pkg/controller/util/node), and the writes the
// node controllers make: taints swapped on a node with a resourceVersion precondition
// and retried on conflict, pods marked NotReady.

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import type { EventRecorder } from '../../client/events.ts';
import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number | null;
}

export interface NodeCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

export const TAINT_NODE_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_NODE_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NODE_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const TAINT_NODE_MEMORY_PRESSURE = 'node.kubernetes.io/memory-pressure';
export const TAINT_NODE_DISK_PRESSURE = 'node.kubernetes.io/disk-pressure';
export const TAINT_NODE_NETWORK_UNAVAILABLE = 'node.kubernetes.io/network-unavailable';
export const TAINT_NODE_PID_PRESSURE = 'node.kubernetes.io/pid-pressure';
export const TAINT_NODE_OUT_OF_SERVICE = 'node.kubernetes.io/out-of-service';

export const UNREACHABLE_TAINT: Taint = { key: TAINT_NODE_UNREACHABLE, effect: 'NoExecute' };
export const NOT_READY_TAINT: Taint = { key: TAINT_NODE_NOT_READY, effect: 'NoExecute' };

/** metav1.Time: RFC 3339, whole seconds. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Same key and effect (values may differ): upstream's Taint.MatchTaint. */
export function matchTaint(a: Taint, b: Taint): boolean {
  return a.key === b.key && a.effect === b.effect;
}

export function taintExists(taints: Taint[] | undefined, t: Taint): boolean {
  return (taints ?? []).some((x) => matchTaint(x, t));
}

export function noExecuteTaints(taints: Taint[] | undefined): Taint[] {
  return (taints ?? []).filter((t) => t.effect === 'NoExecute');
}

/** Toleration.ToleratesTaint. */
export function toleratesTaint(tol: Toleration, taint: Taint): boolean {
  if (tol.effect && tol.effect !== taint.effect) return false;
  if (tol.key && tol.key !== taint.key) return false;
  switch (tol.operator ?? 'Equal') {
    case 'Exists':
      return true;
    case 'Equal':
    case '':
      return (tol.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

/** Whether every taint is tolerated, and the toleration used for each (the first that matches). */
export function matchingTolerations(taints: Taint[], tolerations: Toleration[] | undefined): { all: boolean; used: Toleration[] } {
  const used: Toleration[] = [];
  for (const t of taints) {
    const tol = (tolerations ?? []).find((x) => toleratesTaint(x, t));
    if (!tol) return { all: false, used: [] };
    used.push(tol);
  }
  return { all: true, used };
}

/**
 * How long the used tolerations let a pod stay, in ms: the smallest tolerationSeconds
 * (0 or less: none), or -1 when none sets a limit (forever).
 */
export function minTolerationMs(used: Toleration[]): number {
  if (used.length === 0) return 0;
  let min = Infinity;
  for (const t of used) {
    if (t.tolerationSeconds === undefined || t.tolerationSeconds === null) continue;
    if (t.tolerationSeconds <= 0) return 0;
    min = Math.min(min, t.tolerationSeconds);
  }
  return min === Infinity ? -1 : min * 1000;
}

export function nodeCondition(node: KObject | undefined, type: string): NodeCondition | undefined {
  return (node?.status?.conditions ?? []).find((c: NodeCondition) => c.type === type);
}

export function isNodeReady(node: KObject): boolean {
  return nodeCondition(node, 'Ready')?.status === 'True';
}

/** nodetopology.GetZoneKey: region and zone labels joined by ":\0:", "" when neither is set. */
export function zoneKey(node: KObject): string {
  const l = node.metadata.labels ?? {};
  const region = l['topology.kubernetes.io/region'] ?? l['failure-domain.beta.kubernetes.io/region'] ?? '';
  const zone = l['topology.kubernetes.io/zone'] ?? l['failure-domain.beta.kubernetes.io/zone'] ?? '';
  if (!region && !zone) return '';
  return `${region}:\x00:${zone}`;
}

/** The pod index every node controller shares on the pod informer (one function, one name). */
export const POD_NODE_NAME_INDEX = 'skiff.dev/pod-node-name';
export const podNodeNameIndex = (p: KObject): string[] => (p.spec?.nodeName ? [p.spec.nodeName] : []);

async function fresh(client: Client, name: string, signal?: AbortSignal): Promise<KObject | undefined> {
  try {
    return await client.get(ref.nodes, undefined, name, { signal });
  } catch (e) {
    if (isStatusError(e) && e.code === 404) return undefined;
    throw e;
  }
}

export interface TaintSwap {
  add: Taint[];
  remove: Taint[];
  signal?: AbortSignal;
  log?: (msg: string, f?: Record<string, unknown>) => void;
  /** Writes tried before giving up (5). */
  attempts?: number;
}

/**
 * Adds `add` (timeAdded now) and removes `remove` from the node's taints in one write,
 * starting from `node` (a cached copy) and re-reading it on conflict. True when the node
 * ends up with the wanted taints (or is gone), false when every attempt failed.
 */
export async function swapNodeControllerTaint(client: Client, node: KObject, swap: TaintSwap): Promise<boolean> {
  const { add, remove } = swap;
  let cur: KObject | undefined = node;
  const now = rfc3339(Date.now());
  const attempts = swap.attempts ?? 5;
  for (let i = 0; i < attempts && cur; i++) {
    const taints: Taint[] = [...(cur.spec?.taints ?? [])];
    let next = taints.filter((t) => !remove.some((r) => matchTaint(t, r)));
    for (const a of add) {
      const have = next.find((t) => matchTaint(t, a));
      if (have && (have.value ?? '') === (a.value ?? '')) continue;
      const withTime: Taint = { ...a, timeAdded: now };
      next = have ? next.map((t) => (matchTaint(t, a) ? withTime : t)) : [...next, withTime];
    }
    if (JSON.stringify(next) === JSON.stringify(taints)) return true;
    try {
      await client.patch(
        ref.nodes,
        undefined,
        cur.metadata.name!,
        'merge',
        { metadata: { resourceVersion: cur.metadata.resourceVersion }, spec: { taints: next.length ? next : null } },
        { signal: swap.signal },
      );
      return true;
    } catch (e) {
      if (swap.signal?.aborted) return false;
      if (isStatusError(e) && e.code === 404) return true;
      swap.log?.('taint update failed; re-reading the node', { node: cur.metadata.name, error: String((e as Error).message) });
      try {
        cur = await fresh(client, cur.metadata.name!, swap.signal);
      } catch {
        return false;
      }
      if (!cur) return true;
    }
  }
  return false;
}

/**
 * MarkPodsNotReady: sets the Ready condition of each pod on `nodeName` to False (the
 * kubelet that would do it is unreachable) and records NodeNotReady on the pod. Rejects
 * with the first failure after trying every pod.
 */
export async function markPodsNotReady(
  client: Client,
  o: { recorder: EventRecorder; pods: KObject[]; nodeName: string; signal?: AbortSignal },
): Promise<void> {
  const errs: unknown[] = [];
  for (const p of o.pods) {
    if (p.spec?.nodeName !== o.nodeName) continue;
    const conds: any[] = p.status?.conditions ?? [];
    const i = conds.findIndex((c) => c.type === 'Ready');
    if (i < 0 || conds[i].status === 'False') continue;
    const pod = structuredClone(p);
    pod.status.conditions[i] = { ...conds[i], status: 'False', lastTransitionTime: rfc3339(Date.now()) };
    try {
      await client.update(ref.pods, pod.metadata.namespace, pod, { subresource: 'status', signal: o.signal });
    } catch (e) {
      if (isStatusError(e) && e.code === 404) continue;
      errs.push(e);
      continue;
    }
    o.recorder.event(pod, 'Warning', 'NodeNotReady', 'Node is not ready');
  }
  if (errs.length) throw errs[0];
}

/** RecordNodeStatusChange: an event on the node (its UID field carries the node's name, as upstream). */
export function recordNodeStatusChange(recorder: EventRecorder, o: { node: KObject; newStatus: string }): void {
  const { node, newStatus } = o;
  recorder.event({ apiVersion: 'v1', kind: 'Node', name: node.metadata.name, uid: node.metadata.name }, 'Normal', newStatus, `Node ${node.metadata.name} status is now: ${newStatus}`);
}

/** RecordNodeEvent: an event on the node by name and UID. */
export function recordNodeEvent(recorder: EventRecorder, o: { node: KObject; type: 'Normal' | 'Warning'; reason: string; message: string }): void {
  recorder.event({ kind: 'Node', name: o.node.metadata.name, uid: o.node.metadata.uid }, o.type, o.reason, o.message);
}
