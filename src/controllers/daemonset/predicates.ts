// Which nodes a DaemonSet's pod belongs on (upstream's NodeShouldRunDaemonPod), and the
// shape of its pods: the tolerations every daemon pod gets, and the required node
// affinity term that pins a pod to its node by name (the scheduler then binds it there).

import type { KObject } from '../../api/object.ts';
import { clone } from '../history/pods.ts';

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

/** v1helper.ToleratesTaint. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? 'Equal') {
    case 'Exists':
      return true;
    case 'Equal':
    case '':
      return (t.value ?? '') === (taint.value ?? '');
    default:
      return false;
  }
}

/** The first taint (passing `filter`) no toleration tolerates. */
export function findUntoleratedTaint(taints: Taint[], tolerations: Toleration[], filter: (t: Taint) => boolean): Taint | undefined {
  return taints.find((taint) => filter(taint) && !tolerations.some((t) => toleratesTaint(t, taint)));
}

export const TAINT_NODE_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_NODE_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TAINT_NODE_DISK_PRESSURE = 'node.kubernetes.io/disk-pressure';
export const TAINT_NODE_MEMORY_PRESSURE = 'node.kubernetes.io/memory-pressure';
export const TAINT_NODE_PID_PRESSURE = 'node.kubernetes.io/pid-pressure';
export const TAINT_NODE_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const TAINT_NODE_NETWORK_UNAVAILABLE = 'node.kubernetes.io/network-unavailable';

/**
 * util.AddOrUpdateDaemonPodTolerations: daemon pods stay on not-ready and unreachable
 * nodes (NoExecute, no tolerationSeconds) and go onto nodes under pressure or cordoned;
 * host-network pods also onto nodes whose network is not up yet.
 */
export function daemonPodTolerations(spec: { tolerations?: Toleration[]; hostNetwork?: boolean }): Toleration[] {
  const out: Toleration[] = [...(spec.tolerations ?? [])];
  // AddOrUpdateTolerationInPodSpec: one that matches (key, operator, value, effect) is replaced.
  const same = (a: Toleration, b: Toleration) =>
    (a.key ?? '') === (b.key ?? '') && (a.operator || 'Equal') === (b.operator || 'Equal') && (a.value ?? '') === (b.value ?? '') && (a.effect ?? '') === (b.effect ?? '');
  const add = (t: Toleration) => {
    const i = out.findIndex((x) => same(x, t));
    if (i >= 0) out[i] = t;
    else out.push(t);
  };
  add({ key: TAINT_NODE_NOT_READY, operator: 'Exists', effect: 'NoExecute' });
  add({ key: TAINT_NODE_UNREACHABLE, operator: 'Exists', effect: 'NoExecute' });
  add({ key: TAINT_NODE_DISK_PRESSURE, operator: 'Exists', effect: 'NoSchedule' });
  add({ key: TAINT_NODE_MEMORY_PRESSURE, operator: 'Exists', effect: 'NoSchedule' });
  add({ key: TAINT_NODE_PID_PRESSURE, operator: 'Exists', effect: 'NoSchedule' });
  add({ key: TAINT_NODE_UNSCHEDULABLE, operator: 'Exists', effect: 'NoSchedule' });
  if (spec.hostNetwork) add({ key: TAINT_NODE_NETWORK_UNAVAILABLE, operator: 'Exists', effect: 'NoSchedule' });
  return out;
}

function matchRequirement(r: NodeSelectorRequirement, value: string | undefined, present: boolean): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return present && values.includes(value!);
    case 'NotIn':
      return !present || !values.includes(value!);
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    case 'Gt':
    case 'Lt': {
      if (!present || values.length !== 1) return false;
      const a = Number(value);
      const b = Number(values[0]);
      if (!Number.isInteger(a) || !Number.isInteger(b)) return false;
      return r.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return false;
  }
}

/** One NodeSelectorTerm: every expression on labels and every field (metadata.name) requirement holds; an empty term matches nothing. */
export function matchNodeSelectorTerm(term: NodeSelectorTerm, node: KObject): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  for (const r of exprs) if (!matchRequirement(r, labels[r.key], Object.hasOwn(labels, r.key))) return false;
  for (const r of fields) {
    if (r.key !== 'metadata.name') return false;
    if (!matchRequirement(r, node.metadata.name, true)) return false;
  }
  return true;
}

/** nodeSelector (all labels equal) and required node affinity (any term) both hold. */
export function matchesNodeSelectorAndAffinity(podSpec: Record<string, any>, node: KObject): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries((podSpec.nodeSelector ?? {}) as Record<string, string>)) if (labels[k] !== v) return false;
  const terms: NodeSelectorTerm[] | undefined = podSpec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && !terms.some((t) => matchNodeSelectorTerm(t, node))) return false;
  return true;
}

/**
 * NodeShouldRunDaemonPod: `shouldRun` when a new daemon pod belongs on the node;
 * `shouldContinueRunning` when an existing one may stay (an untolerated NoSchedule
 * taint keeps new pods off but leaves running ones; NoExecute evicts them too).
 */
export function nodeShouldRunDaemonPod(node: KObject, ds: KObject): { shouldRun: boolean; shouldContinueRunning: boolean } {
  const spec = ds.spec?.template?.spec ?? {};
  if (spec.nodeName && spec.nodeName !== node.metadata.name) return { shouldRun: false, shouldContinueRunning: false };
  if (!matchesNodeSelectorAndAffinity(spec, node)) return { shouldRun: false, shouldContinueRunning: false };
  const taints: Taint[] = node.spec?.taints ?? [];
  const tolerations = daemonPodTolerations(spec);
  const blocking = findUntoleratedTaint(taints, tolerations, (t) => t.effect === 'NoSchedule' || t.effect === 'NoExecute');
  if (blocking) {
    const evicting = findUntoleratedTaint(taints, tolerations, (t) => t.effect === 'NoExecute');
    return { shouldRun: false, shouldContinueRunning: !evicting };
  }
  return { shouldRun: true, shouldContinueRunning: true };
}

/**
 * ReplaceDaemonSetPodNodeNameNodeAffinity: the required node affinity becomes one term,
 * `metadata.name In [node]`, whatever it was (the node was already checked against it).
 */
export function pinToNode(affinity: Record<string, any> | undefined, nodeName: string): Record<string, any> {
  const term = { matchFields: [{ key: 'metadata.name', operator: 'In', values: [nodeName] }] };
  const a = clone(affinity ?? {});
  a.nodeAffinity = { ...(a.nodeAffinity ?? {}), requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [term] } };
  return a;
}

/** util.GetTargetNodeName: the node a daemon pod is on, or is pinned to. */
export function targetNodeName(pod: KObject): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms: NodeSelectorTerm[] = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const t of terms) {
    for (const f of t.matchFields ?? []) {
      if (f.key === 'metadata.name' && f.operator === 'In' && f.values?.length === 1) return f.values[0];
    }
  }
  return undefined;
}
