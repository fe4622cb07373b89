// Deployment helpers with upstream's semantics (pkg/controller/deployment/util): the
// pod-template-hash, revision annotations, surge/unavailable fenceposts with upstream's
// rounding, proportional scaling, conditions, and the completeness / progress / timeout
// predicates `kubectl rollout status` depends on. Pure functions over plain objects.

import type { KObject } from '../../api/object.ts';
import { byCreationTimestamp } from '../replicaset/controller_utils.ts';

export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY_ANNOTATION = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS_ANNOTATION = 'deployment.kubernetes.io/max-replicas';
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';
export const DEPRECATED_ROLLBACK_TO = 'deprecated.deployment.rollback.to';
export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';
/** Upstream's cap on the revision-history annotation's length. */
export const MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000;

/** Condition reasons, as upstream names them. */
export const REASONS = {
  ReplicaSetUpdated: 'ReplicaSetUpdated',
  FailedRSCreate: 'ReplicaSetCreateError',
  NewReplicaSet: 'NewReplicaSetCreated',
  FoundNewRS: 'FoundNewReplicaSet',
  NewRSAvailable: 'NewReplicaSetAvailable',
  TimedOut: 'ProgressDeadlineExceeded',
  Paused: 'DeploymentPaused',
  Resumed: 'DeploymentResumed',
  MinimumReplicasAvailable: 'MinimumReplicasAvailable',
  MinimumReplicasUnavailable: 'MinimumReplicasUnavailable',
} as const;

const ANNOTATIONS_TO_SKIP = new Set([LAST_APPLIED_ANNOTATION, REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION, DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION, DEPRECATED_ROLLBACK_TO]);

export interface DeploymentCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastUpdateTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export function timeNow(now: number = Date.now()): string {
  return new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
}

// ---- hashing ----

/** Key-sorted JSON with Go's zero values (null, "", 0, false, {}, []) left out of objects, so equal templates print equal. */
export function canonicalJSON(v: unknown): string {
  return JSON.stringify(normalize(v)) ?? 'null';
}

function isZero(v: unknown): boolean {
  if (v === null || v === undefined || v === '' || v === 0 || v === false) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as object).sort()) {
      const n = normalize((v as Record<string, unknown>)[k]);
      if (!isZero(n)) out[k] = n;
    }
    return out;
  }
  return v;
}

/** FNV-1a, 32 bits. */
export function fnv32a(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of data) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** rand.SafeEncodeString: every character mapped into an alphabet without vowels (no words in names). */
export function safeEncodeString(s: string): string {
  let out = '';
  for (const ch of s) out += ALPHANUMS[ch.codePointAt(0)! % ALPHANUMS.length];
  return out;
}

/** controller.ComputeHash: the pod-template-hash of a template (and the collision count, when set). */
export function computeHash(template: unknown, collisionCount?: number): string {
  const bytes = Buffer.from(canonicalJSON(template), 'utf8');
  let data: Uint8Array = bytes;
  if (collisionCount !== undefined && collisionCount !== null) {
    const c = Buffer.alloc(4);
    c.writeUInt32LE(collisionCount >>> 0);
    data = Buffer.concat([bytes, c]);
  }
  return safeEncodeString(String(fnv32a(data)));
}

function withoutHashLabel(template: KObject | undefined): unknown {
  const t = structuredClone(template ?? {}) as KObject;
  if (t.metadata?.labels) delete t.metadata.labels[POD_TEMPLATE_HASH_LABEL];
  return t;
}

/** EqualIgnoreHash: the templates are semantically equal once the pod-template-hash label is ignored. */
export function equalIgnoreHash(a: KObject | undefined, b: KObject | undefined): boolean {
  return canonicalJSON(withoutHashLabel(a)) === canonicalJSON(withoutHashLabel(b));
}

// ---- revisions ----

export function revisionOf(o: KObject): number {
  const v = o.metadata.annotations?.[REVISION_ANNOTATION];
  if (v === undefined) return 0;
  const n = Number(v);
  return Number.isInteger(n) ? n : NaN;
}

export function maxRevision(rss: KObject[]): number {
  let max = 0;
  for (const rs of rss) {
    const v = revisionOf(rs);
    if (Number.isFinite(v) && v > max) max = v;
  }
  return max;
}

/** SetNewReplicaSetAnnotations: copies the deployment's annotations, raises the revision (keeping history), sets replica annotations on a new one. Mutates `rs`; true when changed. */
export function setNewReplicaSetAnnotations(
  d: KObject,
  rs: KObject,
  opts: { newRevision: string; exists: boolean; revHistoryLimitInChars?: number },
): boolean {
  const { newRevision, exists, revHistoryLimitInChars = MAX_REV_HISTORY_LENGTH_IN_CHARS } = opts;
  let changed = copyDeploymentAnnotationsToReplicaSet(d, rs);
  const ann = (rs.metadata.annotations ??= {});
  const hadRevision = REVISION_ANNOTATION in ann;
  const oldRevision = ann[REVISION_ANNOTATION] ?? '';
  let oldInt = 0;
  if (oldRevision !== '') {
    oldInt = Number(oldRevision);
    if (!Number.isInteger(oldInt)) return false;
  }
  const newInt = Number(newRevision);
  if (!Number.isInteger(newInt)) return false;
  if (oldInt < newInt) {
    ann[REVISION_ANNOTATION] = newRevision;
    changed = true;
  }
  // A revision raised on an existing ReplicaSet is a rollback to it: keep its old revisions.
  if (hadRevision && oldInt < newInt) {
    const history = ann[REVISION_HISTORY_ANNOTATION] ?? '';
    const old = history.split(',');
    if (old[0].length === 0) {
      ann[REVISION_HISTORY_ANNOTATION] = oldRevision;
    } else {
      let total = history.length + oldRevision.length + 1;
      let start = 0;
      while (total > revHistoryLimitInChars && start < old.length) {
        total -= old[start].length + 1;
        start++;
      }
      if (total <= revHistoryLimitInChars) ann[REVISION_HISTORY_ANNOTATION] = [...old.slice(start), oldRevision].join(',');
    }
  }
  if (!exists && setReplicasAnnotations(rs, replicasOf(d), replicasOf(d) + maxSurge(d))) changed = true;
  return changed;
}

function copyDeploymentAnnotationsToReplicaSet(d: KObject, rs: KObject): boolean {
  let changed = false;
  const ann = (rs.metadata.annotations ??= {});
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
    if (ANNOTATIONS_TO_SKIP.has(k) || ann[k] === v) continue;
    ann[k] = v;
    changed = true;
  }
  return changed;
}

/** SetDeploymentAnnotationsTo: the deployment's annotations become the ReplicaSet's (rollback), skipped keys kept. */
export function setDeploymentAnnotationsTo(d: KObject, rs: KObject): void {
  const kept: Record<string, string> = {};
  for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) if (ANNOTATIONS_TO_SKIP.has(k)) kept[k] = v;
  for (const [k, v] of Object.entries(rs.metadata.annotations ?? {})) if (!ANNOTATIONS_TO_SKIP.has(k)) kept[k] = v;
  d.metadata.annotations = kept;
}

export function setReplicasAnnotations(rs: KObject, desired: number, max: number): boolean {
  const ann = (rs.metadata.annotations ??= {});
  let changed = false;
  if (ann[DESIRED_REPLICAS_ANNOTATION] !== String(desired)) {
    ann[DESIRED_REPLICAS_ANNOTATION] = String(desired);
    changed = true;
  }
  if (ann[MAX_REPLICAS_ANNOTATION] !== String(max)) {
    ann[MAX_REPLICAS_ANNOTATION] = String(max);
    changed = true;
  }
  return changed;
}

export function replicasAnnotationsNeedUpdate(rs: KObject, desired: number, max: number): boolean {
  const ann = rs.metadata.annotations ?? {};
  return ann[DESIRED_REPLICAS_ANNOTATION] !== String(desired) || ann[MAX_REPLICAS_ANNOTATION] !== String(max);
}

function intAnnotation(rs: KObject, key: string): number | undefined {
  const v = rs.metadata.annotations?.[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isInteger(n) ? n : undefined;
}

export function desiredReplicasAnnotation(rs: KObject): number | undefined {
  return intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION);
}

// ---- fenceposts ----

export function replicasOf(o: KObject | undefined): number {
  return o?.spec?.replicas ?? 1;
}

export function isRollingUpdate(d: KObject): boolean {
  return (d.spec?.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';
}

/** intstr.GetScaledValueFromIntOrPercent: an int as is, "N%" of total rounded up or down. */
export function scaledValue(v: number | string | undefined, total: number, roundUp: boolean): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(v);
  if (!m) {
    const n = Number(v);
    if (Number.isInteger(n)) return n;
    throw new Error(`invalid value for IntOrString: invalid value ${JSON.stringify(v)}`);
  }
  const x = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(x) : Math.floor(x);
}

/** ResolveFenceposts: maxSurge rounded up, maxUnavailable down; both zero makes maxUnavailable 1. */
export function resolveFenceposts(surge: number | string | undefined, unavailable: number | string | undefined, desired: number): { maxSurge: number; maxUnavailable: number } {
  const s = scaledValue(surge ?? 0, desired, true);
  let u = scaledValue(unavailable ?? 0, desired, false);
  if (s === 0 && u === 0) u = 1;
  return { maxSurge: s, maxUnavailable: u };
}

function rollingParams(d: KObject): { maxSurge?: number | string; maxUnavailable?: number | string } {
  const ru = d.spec?.strategy?.rollingUpdate ?? {};
  return { maxSurge: ru.maxSurge ?? '25%', maxUnavailable: ru.maxUnavailable ?? '25%' };
}

export function maxUnavailable(d: KObject): number {
  if (!isRollingUpdate(d) || replicasOf(d) === 0) return 0;
  const p = rollingParams(d);
  const { maxUnavailable: u } = resolveFenceposts(p.maxSurge, p.maxUnavailable, replicasOf(d));
  return Math.min(u, replicasOf(d));
}

export function maxSurge(d: KObject): number {
  if (!isRollingUpdate(d)) return 0;
  const p = rollingParams(d);
  return resolveFenceposts(p.maxSurge, p.maxUnavailable, replicasOf(d)).maxSurge;
}

export function minAvailable(d: KObject): number {
  if (!isRollingUpdate(d)) return 0;
  return replicasOf(d) - maxUnavailable(d);
}

/** NewRSNewReplicas: how far the new ReplicaSet may grow now. */
export function newRSNewReplicas(d: KObject, allRSs: KObject[], newRS: KObject): number {
  if (isRollingUpdate(d)) {
    const surge = scaledValue(rollingParams(d).maxSurge, replicasOf(d), true);
    const current = replicaCount(allRSs);
    const maxTotal = replicasOf(d) + surge;
    if (current >= maxTotal) return replicasOf(newRS);
    const up = Math.min(maxTotal - current, replicasOf(d) - replicasOf(newRS));
    return replicasOf(newRS) + up;
  }
  return replicasOf(d);
}

// ---- counts ----

export function replicaCount(rss: (KObject | undefined)[]): number {
  let n = 0;
  for (const rs of rss) if (rs) n += replicasOf(rs);
  return n;
}

export function actualReplicaCount(rss: (KObject | undefined)[]): number {
  let n = 0;
  for (const rs of rss) if (rs) n += rs.status?.replicas ?? 0;
  return n;
}

export function readyReplicaCount(rss: (KObject | undefined)[]): number {
  let n = 0;
  for (const rs of rss) if (rs) n += rs.status?.readyReplicas ?? 0;
  return n;
}

export function availableReplicaCount(rss: (KObject | undefined)[]): number {
  let n = 0;
  for (const rs of rss) if (rs) n += rs.status?.availableReplicas ?? 0;
  return n;
}

export function filterActiveReplicaSets(rss: (KObject | undefined)[]): KObject[] {
  return rss.filter((rs): rs is KObject => !!rs && replicasOf(rs) > 0);
}

/** IsSaturated: the new ReplicaSet runs exactly the deployment's replicas, all available. */
export function isSaturated(d: KObject, rs: KObject | undefined): boolean {
  if (!rs) return false;
  const desired = desiredReplicasAnnotation(rs);
  if (desired === undefined) return false;
  return replicasOf(rs) === replicasOf(d) && desired === replicasOf(d) && (rs.status?.availableReplicas ?? 0) === replicasOf(d);
}

/** FindActiveOrLatest: the only active ReplicaSet, or the newest when none is active; undefined when several are. */
export function findActiveOrLatest(newRS: KObject | undefined, oldRSs: KObject[]): KObject | undefined {
  if (!newRS && oldRSs.length === 0) return undefined;
  const olds = [...oldRSs].sort((a, b) => byCreationTimestamp(b, a));
  const active = filterActiveReplicaSets([...olds, newRS]);
  if (active.length === 0) return newRS ?? olds[0];
  if (active.length === 1) return active[0];
  return undefined;
}

/** GetProportion: this ReplicaSet's share of a scaling of the deployment. */
export function getProportion(rs: KObject | undefined, d: KObject, toAdd: number, added: number): number {
  if (!rs || replicasOf(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
  const fraction = replicaSetFraction(rs, d);
  const allowed = toAdd - added;
  return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
}

/** Go's math.Round: half away from zero. */
function roundHalfAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

function replicaSetFraction(rs: KObject, d: KObject): number {
  if (replicasOf(d) === 0) return -replicasOf(rs);
  const maxNow = replicasOf(d) + maxSurge(d);
  let before = intAnnotation(rs, MAX_REPLICAS_ANNOTATION);
  if (before === undefined || before === 0) {
    before = d.status?.replicas ?? 0;
    if (before === 0) return 0;
  }
  return roundHalfAway((replicasOf(rs) * maxNow) / before!) - replicasOf(rs);
}

// ---- conditions ----

export function getCondition(status: { conditions?: DeploymentCondition[] } | undefined, type: string): DeploymentCondition | undefined {
  return status?.conditions?.find((c) => c.type === type);
}

export function newCondition(type: string, status: DeploymentCondition['status'], reason: string, message: string, now: number = Date.now()): DeploymentCondition {
  const t = timeNow(now);
  return { type, status, lastUpdateTime: t, lastTransitionTime: t, reason, message };
}

/** SetDeploymentCondition: no change when status and reason match; lastTransitionTime kept while the status holds. */
export function setCondition(status: { conditions?: DeploymentCondition[] }, c: DeploymentCondition): void {
  const cur = getCondition(status, c.type);
  if (cur && cur.status === c.status && cur.reason === c.reason) return;
  const next = { ...c };
  if (cur && cur.status === c.status) next.lastTransitionTime = cur.lastTransitionTime;
  status.conditions = [...(status.conditions ?? []).filter((x) => x.type !== c.type), next];
}

export function removeCondition(status: { conditions?: DeploymentCondition[] }, type: string): void {
  if (!status.conditions) return;
  status.conditions = status.conditions.filter((x) => x.type !== type);
  if (status.conditions.length === 0) delete status.conditions;
}

export function hasProgressDeadline(d: KObject): boolean {
  const p = d.spec?.progressDeadlineSeconds;
  return p !== undefined && p !== null && p !== 2147483647;
}

export function hasRevisionHistoryLimit(d: KObject): boolean {
  const l = d.spec?.revisionHistoryLimit;
  return l !== undefined && l !== null && l !== 2147483647;
}

export interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  collisionCount?: number;
  conditions?: DeploymentCondition[];
  [k: string]: unknown;
}

/** DeploymentComplete: every replica updated and available, and the latest generation observed. */
export function deploymentComplete(d: KObject, s: DeploymentStatus): boolean {
  const n = replicasOf(d);
  return (s.updatedReplicas ?? 0) === n && (s.replicas ?? 0) === n && (s.availableReplicas ?? 0) === n && (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0);
}

/** DeploymentProgressing: more updated, fewer old, more ready or more available than the stored status says. */
export function deploymentProgressing(d: KObject, s: DeploymentStatus): boolean {
  const old: DeploymentStatus = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) || newOld < oldOld || (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) || (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0);
}

/** DeploymentTimedOut: no progress for progressDeadlineSeconds since the Progressing condition last changed. */
export function deploymentTimedOut(d: KObject, s: DeploymentStatus, now: number = Date.now()): boolean {
  if (!hasProgressDeadline(d)) return false;
  const c = getCondition(s, 'Progressing');
  if (!c) return false;
  if (c.reason === REASONS.NewRSAvailable) return false;
  if (c.reason === REASONS.TimedOut) return true;
  const from = Date.parse(c.lastUpdateTime ?? '');
  return Number.isFinite(from) && from + d.spec.progressDeadlineSeconds * 1000 < now;
}

// ---- ordering ----

/** ReplicaSetsBySizeOlder: larger first; equal sizes older first. */
export function bySizeOlder(a: KObject, b: KObject): number {
  if (replicasOf(a) === replicasOf(b)) return byCreationTimestamp(a, b);
  return replicasOf(b) - replicasOf(a);
}

/** ReplicaSetsBySizeNewer: larger first; equal sizes newer first. */
export function bySizeNewer(a: KObject, b: KObject): number {
  if (replicasOf(a) === replicasOf(b)) return byCreationTimestamp(b, a);
  return replicasOf(b) - replicasOf(a);
}

/** ReplicaSetsByRevision: lower revision first, then older. */
export function byRevision(a: KObject, b: KObject): number {
  const ra = revisionOf(a);
  const rb = revisionOf(b);
  if (ra === rb || !Number.isFinite(ra) || !Number.isFinite(rb)) return byCreationTimestamp(a, b);
  return ra - rb;
}

/** FindNewReplicaSet: the oldest ReplicaSet whose template equals the deployment's (hash label ignored). */
export function findNewReplicaSet(d: KObject, rss: KObject[]): KObject | undefined {
  return [...rss].sort(byCreationTimestamp).find((rs) => equalIgnoreHash(rs.spec?.template, d.spec?.template));
}

/** FindOldReplicaSets: every ReplicaSet but the new one, and those of them with replicas. */
export function findOldReplicaSets(d: KObject, rss: KObject[]): { required: KObject[]; all: KObject[] } {
  const newRS = findNewReplicaSet(d, rss);
  const all = rss.filter((rs) => !newRS || rs.metadata.uid !== newRS.metadata.uid);
  return { required: all.filter((rs) => replicasOf(rs) !== 0), all };
}
