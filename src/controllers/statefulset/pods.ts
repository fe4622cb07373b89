// A StatefulSet's pods and claims, as upstream's stateful_set_utils.go: stable names
// `<set>-<ordinal>`, identity labels, hostname/subdomain from serviceName, and one
// PersistentVolumeClaim per volumeClaimTemplate named `<claim>-<set>-<ordinal>` (that is,
// `<claim>-<pod>`), whose owner references follow persistentVolumeClaimRetentionPolicy.

import type { KObject, OwnerReference } from '../../api/object.ts';
import { CONTROLLER_REVISION_HASH_LABEL, templateFromRevision } from '../history/revision.ts';
import { clone, newControllerRef } from '../history/pods.ts';

export const STATEFULSET_POD_NAME_LABEL = 'statefulset.kubernetes.io/pod-name';
export const POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';

const ORDINAL_RE = /^(.*)-(\d+)$/;

/** The parent name and ordinal of a pod named `<parent>-<ordinal>` (ordinal -1 when it is not). */
export function parentAndOrdinal(name: string | undefined): { parent: string; ordinal: number } {
  const m = ORDINAL_RE.exec(name ?? '');
  if (!m) return { parent: '', ordinal: -1 };
  const n = Number(m[2]);
  return { parent: m[1], ordinal: Number.isSafeInteger(n) && n <= 2147483647 ? n : -1 };
}

export function getOrdinal(pod: KObject): number {
  return parentAndOrdinal(pod.metadata.name).ordinal;
}

/** isMemberOf: the pod's name says it belongs to this set. */
export function isMemberOf(set: KObject, pod: KObject): boolean {
  const p = parentAndOrdinal(pod.metadata.name);
  return p.ordinal >= 0 && p.parent === set.metadata.name;
}

export function podName(set: KObject, ordinal: number): string {
  return `${set.metadata.name}-${ordinal}`;
}

export function startOrdinal(set: KObject): number {
  const s = set.spec?.ordinals?.start;
  return typeof s === 'number' && s >= 0 ? s : 0;
}

export function replicasOf(set: KObject): number {
  const r = set.spec?.replicas;
  return typeof r === 'number' && r >= 0 ? r : 1;
}

export function claimTemplates(set: KObject): KObject[] {
  return (set.spec?.volumeClaimTemplates ?? []) as KObject[];
}

/** getPersistentVolumeClaimName: `<claim>-<set>-<ordinal>`. */
export function claimName(set: KObject, template: KObject, ordinal: number): string {
  return `${template.metadata?.name}-${set.metadata.name}-${ordinal}`;
}

export function podRevision(pod: KObject | undefined): string {
  return pod?.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] ?? '';
}

/** The set as of a revision: its live spec with the revision's pod template. */
export function applyRevision(set: KObject, revision: KObject): KObject {
  const s = clone(set);
  s.spec = { ...(s.spec ?? {}), template: templateFromRevision(revision) };
  return s;
}

/** updateIdentity: name, namespace and the identity labels. */
function updateIdentity(set: KObject, pod: KObject, ordinal: number): void {
  pod.metadata.name = podName(set, ordinal);
  pod.metadata.namespace = set.metadata.namespace;
  pod.metadata.labels = { ...(pod.metadata.labels ?? {}), [STATEFULSET_POD_NAME_LABEL]: pod.metadata.name, [POD_INDEX_LABEL]: String(ordinal) };
}

/** updateStorage: one volume per claim template, replacing template volumes of the same name. */
function updateStorage(set: KObject, pod: KObject, ordinal: number): void {
  const templates = claimTemplates(set);
  if (templates.length === 0) return;
  const names = new Set(templates.map((t) => t.metadata?.name));
  const volumes: unknown[] = templates.map((t) => ({ name: t.metadata?.name, persistentVolumeClaim: { claimName: claimName(set, t, ordinal) } }));
  for (const v of (pod.spec.volumes ?? []) as { name: string }[]) if (!names.has(v.name)) volumes.push(v);
  pod.spec.volumes = volumes;
}

/** newStatefulSetPod: the pod for `ordinal` from `set`'s template, labelled with `revision`. */
export function newStatefulSetPod(set: KObject, ordinal: number, revision: string): KObject {
  const template = clone(set.spec?.template ?? {});
  const tm = template.metadata ?? {};
  const pod: KObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: '',
      labels: { ...(tm.labels ?? {}) },
      ...(tm.annotations ? { annotations: { ...tm.annotations } } : {}),
      ...(tm.finalizers ? { finalizers: [...tm.finalizers] } : {}),
      ownerReferences: [newControllerRef(set, 'apps/v1', 'StatefulSet')],
    },
    spec: template.spec ?? {},
  };
  updateIdentity(set, pod, ordinal);
  // Set only at creation (immutable afterwards): initIdentity.
  pod.spec.hostname = pod.metadata.name;
  if (set.spec?.serviceName) pod.spec.subdomain = set.spec.serviceName;
  updateStorage(set, pod, ordinal);
  pod.metadata.labels![CONTROLLER_REVISION_HASH_LABEL] = revision;
  return pod;
}

/**
 * newVersionedStatefulSetPod: ordinals below the partition (or, with a RollingUpdate
 * without one, below the current replica count) keep the current revision; the rest
 * get the update revision.
 */
export function newVersionedStatefulSetPod(
  currentSet: KObject,
  updateSet: KObject,
  currentRevision: string,
  updateRevision: string,
  ordinal: number,
): KObject {
  const strategy = currentSet.spec?.updateStrategy ?? {};
  const type = strategy.type ?? 'RollingUpdate';
  if (type === 'RollingUpdate') {
    const start = startOrdinal(currentSet);
    const ru = strategy.rollingUpdate;
    const keepCurrent =
      ru === undefined || ru === null
        ? ordinal < start + (currentSet.status?.currentReplicas ?? 0)
        : ordinal < start + (typeof ru.partition === 'number' ? ru.partition : 0);
    if (keepCurrent) return newStatefulSetPod(currentSet, ordinal, currentRevision);
  }
  return newStatefulSetPod(updateSet, ordinal, updateRevision);
}

/** identityMatches: name, namespace and the pod-name label are the set's. */
export function identityMatches(set: KObject, pod: KObject): boolean {
  const { parent, ordinal } = parentAndOrdinal(pod.metadata.name);
  return (
    ordinal >= 0 &&
    parent === set.metadata.name &&
    pod.metadata.namespace === set.metadata.namespace &&
    pod.metadata.labels?.[STATEFULSET_POD_NAME_LABEL] === pod.metadata.name
  );
}

/** storageMatches: every claim template is mounted from the pod's own claim. */
export function storageMatches(set: KObject, pod: KObject): boolean {
  const ordinal = getOrdinal(pod);
  if (ordinal < 0) return false;
  const volumes = new Map<string, any>(((pod.spec?.volumes ?? []) as any[]).map((v) => [v.name, v]));
  for (const t of claimTemplates(set)) {
    const v = volumes.get(String(t.metadata?.name));
    if (!v || v.persistentVolumeClaim?.claimName !== claimName(set, t, ordinal)) return false;
  }
  return true;
}

export interface RetentionPolicy {
  whenDeleted: 'Retain' | 'Delete';
  whenScaled: 'Retain' | 'Delete';
}

export function retentionPolicy(set: KObject): RetentionPolicy {
  const p = set.spec?.persistentVolumeClaimRetentionPolicy ?? {};
  return { whenDeleted: p.whenDeleted === 'Delete' ? 'Delete' : 'Retain', whenScaled: p.whenScaled === 'Delete' ? 'Delete' : 'Retain' };
}

function plainRef(owner: KObject, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name!, uid: owner.metadata.uid! };
}

/**
 * The owner references a claim of `pod` must carry under the set's retention policy
 * (updateClaimOwnerRefs): whenDeleted=Delete makes the set an owner (the garbage
 * collector deletes the claim with the set); whenScaled=Delete makes the pod an owner
 * once its ordinal is out of range (the claim goes with the condemned pod). Other owners
 * are kept. `pod` may be undefined while it is not created yet.
 */
export function desiredClaimOwnerRefs(set: KObject, pod: KObject | undefined, ordinal: number, existing: OwnerReference[] = []): OwnerReference[] {
  const policy = retentionPolicy(set);
  const start = startOrdinal(set);
  const scaledDown = ordinal < start || ordinal >= start + replicasOf(set);
  const refs = existing.filter((r) => r.uid !== set.metadata.uid && !(r.kind === 'Pod' && r.apiVersion === 'v1' && (pod ? r.uid === pod.metadata.uid || r.name === pod.metadata.name : false)));
  const wantSet = policy.whenDeleted === 'Delete' && !(policy.whenScaled === 'Delete' && scaledDown);
  const wantPod = policy.whenScaled === 'Delete' && scaledDown && pod !== undefined && pod.metadata.uid !== undefined;
  if (wantSet) refs.push(plainRef(set, 'apps/v1', 'StatefulSet'));
  if (wantPod) refs.push(plainRef(pod!, 'v1', 'Pod'));
  return refs;
}

export function sameRefs(a: OwnerReference[] = [], b: OwnerReference[] = []): boolean {
  const key = (r: OwnerReference) => `${r.apiVersion}|${r.kind}|${r.name}|${r.uid}`;
  const sa = new Set(a.map(key));
  return a.length === b.length && b.every((r) => sa.has(key(r)));
}

/** getPersistentVolumeClaims: the claims of the pod with `ordinal`, labelled with the set's selector labels. */
export function claimsFor(set: KObject, ordinal: number, pod?: KObject): KObject[] {
  return claimTemplates(set).map((t) => {
    const c = clone(t);
    const matchLabels = set.spec?.selector?.matchLabels ?? {};
    return {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        ...(c.metadata ?? {}),
        name: claimName(set, t, ordinal),
        namespace: set.metadata.namespace,
        labels: { ...(c.metadata?.labels ?? {}), ...matchLabels },
        ownerReferences: desiredClaimOwnerRefs(set, pod, ordinal, c.metadata?.ownerReferences ?? []),
      },
      spec: c.spec ?? {},
    };
  });
}
