// What upstream's pkg/controller/controller_utils.go and controller_ref_manager.go give
// every workload controller, for ours: expectations (so a slow cache never makes a
// controller create or delete twice), pods from a template, creation and deletion with
// upstream's events, the ActivePods ranking that decides which pods go first on scale
// down, slow-start batches, and claiming (adopting / releasing) objects by selector and
// ownerReferences. Shared by the ReplicaSet, ReplicationController and Deployment
// controllers; written so other workload controllers can use it as well.

import type { KObject, OwnerReference } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import { labelSelectorFromAPI, selectorFromSet, type LabelSelector } from '../../api/selectors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Client, ResourceRef } from '../../client/types.ts';
import { ref } from '../../client/resources.ts';
import type { IndexFunc } from '../../client/indexer.ts';

// ---- expectations ----

/** Upstream's ExpectationsTimeout: expectations older than this are taken as satisfied. */
export const EXPECTATIONS_TIMEOUT_MS = 5 * 60_000;

interface Expectation {
  add: number;
  del: number;
  timestamp: number;
}

/**
 * ControllerExpectations: how many creations and deletions a controller has asked for
 * and not yet seen in its informer. While any are outstanding the controller does not
 * act on replica counts (its cache is behind its own writes). Keyed by the controller
 * object's `namespace/name`.
 */
export class ControllerExpectations {
  private readonly m = new Map<string, Expectation>();
  private readonly now: () => number;

  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now;
  }

  /** True when the controller may act: no record, every expectation met, or the record expired. */
  satisfied(key: string): boolean {
    const e = this.m.get(key);
    if (!e) return true;
    if (e.add <= 0 && e.del <= 0) return true;
    return this.now() - e.timestamp > EXPECTATIONS_TIMEOUT_MS;
  }

  get(key: string): { add: number; del: number } | undefined {
    const e = this.m.get(key);
    return e ? { add: e.add, del: e.del } : undefined;
  }

  set(key: string, add: number, del: number): void {
    this.m.set(key, { add, del, timestamp: this.now() });
  }

  expectCreations(key: string, n: number): void {
    this.set(key, n, 0);
  }

  expectDeletions(key: string, n: number): void {
    this.set(key, 0, n);
  }

  creationObserved(key: string): void {
    const e = this.m.get(key);
    if (e) e.add--;
  }

  deletionObserved(key: string): void {
    const e = this.m.get(key);
    if (e) e.del--;
  }

  delete(key: string): void {
    this.m.delete(key);
  }
}

/**
 * UIDTrackingControllerExpectations: deletions are tracked by the deleted pods' keys, so
 * a pod deleted twice (a graceful delete, then the final one) counts once.
 */
export class UIDTrackingExpectations extends ControllerExpectations {
  private readonly pending = new Map<string, Set<string>>();

  expectPodDeletions(key: string, podKeys: string[]): void {
    this.pending.set(key, new Set(podKeys));
    this.expectDeletions(key, podKeys.length);
  }

  /** Counts the deletion of `podKey` once, if it was expected. */
  podDeletionObserved(key: string, podKey: string): void {
    const set = this.pending.get(key);
    if (set?.delete(podKey)) this.deletionObserved(key);
  }

  override delete(key: string): void {
    super.delete(key);
    this.pending.delete(key);
  }
}

// ---- pods ----

export function podKey(pod: KObject): string {
  return `${pod.metadata.namespace}/${pod.metadata.name}`;
}

/** FilterActivePods: not finished and not being deleted. */
export function isPodActive(pod: KObject): boolean {
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed' && !pod.metadata.deletionTimestamp;
}

function readyCondition(pod: KObject): { status?: string; lastTransitionTime?: string } | undefined {
  return (pod.status?.conditions as { type: string; status?: string; lastTransitionTime?: string }[] | undefined)?.find((c) => c.type === 'Ready');
}

export function isPodReady(pod: KObject): boolean {
  return readyCondition(pod)?.status === 'True';
}

/** Ready for at least minReadySeconds (podutil.IsPodAvailable). */
export function isPodAvailable(pod: KObject, minReadySeconds: number, now: number = Date.now()): boolean {
  const c = readyCondition(pod);
  if (c?.status !== 'True') return false;
  if (!minReadySeconds) return true;
  const t = Date.parse(c.lastTransitionTime ?? '');
  return Number.isFinite(t) && t + minReadySeconds * 1000 < now;
}

/** When the pod last became ready (undefined when not ready or unknown). */
export function podReadyTime(pod: KObject): number | undefined {
  const c = readyCondition(pod);
  if (c?.status !== 'True') return undefined;
  const t = Date.parse(c.lastTransitionTime ?? '');
  return Number.isFinite(t) ? t : undefined;
}

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

function maxRestarts(pod: KObject): number {
  let max = 0;
  for (const s of pod.status?.containerStatuses ?? []) max = Math.max(max, s.restartCount ?? 0);
  return max;
}

function deletionCost(pod: KObject): number {
  const v = pod.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'];
  const n = v === undefined ? 0 : Number(v);
  return Number.isInteger(n) ? n : 0;
}

/** log2 of the time since `t` in nanoseconds, as an integer bucket (-1 for the future or now). */
function logBucket(t: number, now: number): number {
  const d = (now - t) * 1e6;
  return d > 0 ? Math.floor(Math.log2(d)) : -1;
}

/**
 * Upstream's ActivePodsWithRanks.Less (with LogarithmicScaleDown and PodDeletionCost on,
 * as in 1.32): the pod that sorts first is the first deleted on scale down. Unassigned
 * before assigned, Pending before Unknown before Running, not ready before ready, lower
 * deletion cost first, more co-located related pods first, more recently ready first,
 * more restarts first, newer first.
 */
export interface RankedPod {
  pod: KObject;
  /** Active related pods on the pod's node (doubled-up pods go first). */
  rank: number;
}

export function comparePodsForDeletion(x: RankedPod, y: RankedPod, now: number = Date.now()): number {
  const a = x.pod;
  const b = y.pod;
  const rankA = x.rank;
  const rankB = y.rank;
  const na = a.spec?.nodeName ?? '';
  const nb = b.spec?.nodeName ?? '';
  if (na !== nb && (na === '' || nb === '')) return na === '' ? -1 : 1;
  const pa = PHASE_ORDINAL[a.status?.phase] ?? 0;
  const pb = PHASE_ORDINAL[b.status?.phase] ?? 0;
  if (pa !== pb) return pa - pb;
  const ra = isPodReady(a);
  const rb = isPodReady(b);
  if (ra !== rb) return ra ? 1 : -1;
  const ca = deletionCost(a);
  const cb = deletionCost(b);
  if (ca !== cb) return ca - cb;
  if (rankA !== rankB) return rankB - rankA;
  const uidOrder = () => ((a.metadata.uid ?? '') < (b.metadata.uid ?? '') ? -1 : (a.metadata.uid ?? '') > (b.metadata.uid ?? '') ? 1 : 0);
  if (ra && rb) {
    const ta = podReadyTime(a);
    const tb = podReadyTime(b);
    if (ta !== tb) {
      // afterOrZero: a zero time sorts first, then the later time.
      if (ta === undefined) return -1;
      if (tb === undefined) return 1;
      const diff = logBucket(ta, now) - logBucket(tb, now);
      if (diff !== 0) return diff;
      const u = uidOrder();
      if (u !== 0) return u;
    }
  }
  const xa = maxRestarts(a);
  const xb = maxRestarts(b);
  if (xa !== xb) return xb - xa;
  const ta = Date.parse(a.metadata.creationTimestamp ?? '');
  const tb = Date.parse(b.metadata.creationTimestamp ?? '');
  if (ta !== tb && !(Number.isNaN(ta) && Number.isNaN(tb))) {
    if (Number.isNaN(ta)) return -1;
    if (Number.isNaN(tb)) return 1;
    const diff = logBucket(ta, now) - logBucket(tb, now);
    if (diff !== 0) return diff;
    return uidOrder();
  }
  return 0;
}

/**
 * getPodsToDelete: the `diff` pods to delete first, ranking by ActivePods with the number
 * of active `related` pods (same owner's other ReplicaSets included) on each pod's node.
 */
export function podsToDelete(pods: KObject[], related: KObject[], diff: number, now: number = Date.now()): KObject[] {
  if (diff >= pods.length) return pods.slice(0, diff);
  const onNode = new Map<string, number>();
  for (const p of related) if (isPodActive(p)) onNode.set(p.spec?.nodeName ?? '', (onNode.get(p.spec?.nodeName ?? '') ?? 0) + 1);
  const ranked: RankedPod[] = pods.map((pod) => ({ pod, rank: onNode.get(pod.spec?.nodeName ?? '') ?? 0 }));
  ranked.sort((x, y) => comparePodsForDeletion(x, y, now));
  return ranked.slice(0, diff).map((x) => x.pod);
}

// ---- owners ----

export function controllerRefOf(obj: KObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true);
}

/** metav1.NewControllerRef. */
export function newControllerRef(owner: KObject, gvk: { apiVersion: string; kind: string }): OwnerReference {
  return { apiVersion: gvk.apiVersion, kind: gvk.kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** Index of objects by their controller's UID (shared: every controller passes this same function). */
export const CONTROLLER_UID_INDEX = 'controllerUID';
export const controllerUIDIndexFunc: IndexFunc = (o) => {
  const r = controllerRefOf(o);
  return r ? [r.uid] : [];
};

/** Parsed selectors, remembered per cached object (cached objects are never mutated). */
const selectorCache = new WeakMap<object, LabelSelector>();

/** The object's spec.selector as a LabelSelector (metav1 form, or a map for ReplicationControllers); throws a StatusError when invalid. */
export function selectorOf(obj: KObject): LabelSelector {
  let s = selectorCache.get(obj);
  if (!s) {
    const sel = obj.spec?.selector;
    s = obj.kind === 'ReplicationController' ? selectorFromSet(sel ?? {}) : labelSelectorFromAPI(sel);
    selectorCache.set(obj, s);
  }
  return s;
}

// ---- pod control ----

/** Upstream's event reasons for pod creation and deletion. */
export const EVENT_REASONS = {
  SuccessfulCreate: 'SuccessfulCreate',
  FailedCreate: 'FailedCreate',
  SuccessfulDelete: 'SuccessfulDelete',
  FailedDelete: 'FailedDelete',
} as const;

/** True when a create failed because the namespace is being deleted (creation will keep failing: nothing to report). */
export function isNamespaceTerminating(e: unknown): boolean {
  return isStatusError(e) && (e.status.details?.causes ?? []).some((c) => c.reason === 'NamespaceTerminating');
}

/** GetPodFromTemplate: labels, annotations and finalizers of the template, generateName `<owner>-`, the controller ref. */
export function podFromTemplate(template: KObject | undefined, owner: KObject, controllerRef: OwnerReference): KObject {
  const tm = template?.metadata ?? {};
  const metadata: Record<string, unknown> = { generateName: `${owner.metadata.name}-`, namespace: owner.metadata.namespace };
  if (tm.labels && Object.keys(tm.labels).length) metadata.labels = { ...tm.labels };
  if (tm.annotations && Object.keys(tm.annotations).length) metadata.annotations = { ...tm.annotations };
  if (tm.finalizers?.length) metadata.finalizers = [...tm.finalizers];
  metadata.ownerReferences = [controllerRef];
  return { apiVersion: 'v1', kind: 'Pod', metadata: metadata as KObject['metadata'], spec: structuredClone(template?.spec ?? {}) };
}

/** Creates and deletes pods for a controller object, recording upstream's events on it. */
export class PodControl {
  private readonly client: Client;
  private readonly recorder: EventRecorder;

  constructor(client: Client, recorder: EventRecorder) {
    this.client = client;
    this.recorder = recorder;
  }

  async createPod(owner: KObject, template: KObject | undefined, controllerRef: OwnerReference): Promise<KObject> {
    const pod = podFromTemplate(template, owner, controllerRef);
    if (!pod.metadata.labels || Object.keys(pod.metadata.labels).length === 0) throw new Error('unable to create pods, no labels');
    try {
      const created = await this.client.create(ref.pods, owner.metadata.namespace, pod);
      this.recorder.event(owner, 'Normal', EVENT_REASONS.SuccessfulCreate, `Created pod: ${created.metadata.name}`);
      return created;
    } catch (e) {
      if (!isNamespaceTerminating(e)) this.recorder.event(owner, 'Warning', EVENT_REASONS.FailedCreate, `Error creating: ${errorMessage(e)}`);
      throw e;
    }
  }

  async deletePod(owner: KObject, pod: KObject): Promise<void> {
    try {
      await this.client.delete(ref.pods, pod.metadata.namespace, pod.metadata.name!);
    } catch (e) {
      if (isStatusError(e) && e.code === 404) throw e;
      this.recorder.event(owner, 'Warning', EVENT_REASONS.FailedDelete, `Error deleting: ${errorMessage(e)}`);
      throw e;
    }
    this.recorder.event(owner, 'Normal', EVENT_REASONS.SuccessfulDelete, `Deleted pod: ${pod.metadata.name}`);
  }
}

export function errorMessage(e: unknown): string {
  return String((e as Error)?.message ?? e);
}

/**
 * slowStartBatch: calls `fn` `count` times in batches of 1, 2, 4, ... (from
 * `initialBatchSize`), all of a batch at once; stops after the first batch with a
 * failure. Returns the successes and the first error.
 */
export async function slowStartBatch(count: number, initialBatchSize: number, fn: () => Promise<void>): Promise<{ successes: number; error?: unknown }> {
  let remaining = count;
  let successes = 0;
  for (let batch = Math.min(remaining, initialBatchSize); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    successes += results.filter((r) => r.status === 'fulfilled').length;
    if (failed) return { successes, error: failed.reason };
    remaining -= batch;
  }
  return { successes };
}

/** Upstream's SlowStartInitialBatchSize. */
export const SLOW_START_INITIAL_BATCH_SIZE = 1;

// ---- claiming ----

export interface ClaimOptions {
  client: Client;
  /** The resource of the claimed objects (pods, replicasets...). */
  resource: ResourceRef;
  /** The controller and its kind (for the ownerReference it writes). */
  owner: KObject;
  ownerKind: { apiVersion: string; kind: string };
  selector: LabelSelector;
  /**
   * An uncached read of the owner, done once before the first adoption: adoption is
   * refused if the owner is gone (another UID) or being deleted (RecheckDeletionTimestamp).
   */
  fetchOwner: () => Promise<KObject>;
  /** Further conditions an object must meet to be claimed. */
  filter?: (o: KObject) => boolean;
}

/**
 * ControllerRefManager.ClaimObjects: returns the objects the owner controls after
 * adopting orphans that match its selector and releasing owned ones that no longer do.
 * A conflict or other failure on one object is returned with the rest (the caller
 * requeues); objects gone meanwhile are skipped.
 */
export async function claimObjects(objs: KObject[], o: ClaimOptions): Promise<{ claimed: KObject[]; errors: unknown[] }> {
  const claimed: KObject[] = [];
  const errors: unknown[] = [];
  const uid = o.owner.metadata.uid;
  const match = (obj: KObject) => o.selector.matches(obj.metadata.labels) && (o.filter?.(obj) ?? true);
  let canAdopt: Promise<void> | undefined;
  const checkCanAdopt = () =>
    (canAdopt ??= o.fetchOwner().then((fresh) => {
      if (fresh.metadata.uid !== uid) {
        throw new Error(`original ${o.ownerKind.kind} ${o.owner.metadata.namespace}/${o.owner.metadata.name} is gone: got uid ${fresh.metadata.uid}, wanted ${uid}`);
      }
      if (fresh.metadata.deletionTimestamp) {
        throw new Error(`${o.ownerKind.kind} ${o.owner.metadata.namespace}/${o.owner.metadata.name} has just been deleted at ${fresh.metadata.deletionTimestamp}`);
      }
    }));
  for (const obj of objs) {
    const cref = controllerRefOf(obj);
    if (cref) {
      if (cref.uid !== uid) continue;
      if (match(obj)) {
        claimed.push(obj);
        continue;
      }
      if (o.owner.metadata.deletionTimestamp) continue;
      try {
        await releaseObject(o.client, o.resource, obj, uid!);
      } catch (e) {
        if (!(isStatusError(e) && e.code === 404)) errors.push(e);
      }
      continue;
    }
    if (o.owner.metadata.deletionTimestamp || !match(obj) || obj.metadata.deletionTimestamp) continue;
    if (o.owner.metadata.namespace && o.owner.metadata.namespace !== obj.metadata.namespace) continue;
    try {
      await checkCanAdopt();
      const adopted = await adoptObject(o.client, o.resource, obj, newControllerRef(o.owner, o.ownerKind));
      claimed.push(adopted);
    } catch (e) {
      if (!(isStatusError(e) && e.code === 404)) errors.push(e);
    }
  }
  return { claimed, errors };
}

/** Adds the controller ref (strategic merge on ownerReferences by uid, with the object's UID as precondition). */
export async function adoptObject(client: Client, resource: ResourceRef, obj: KObject, controllerRef: OwnerReference): Promise<KObject> {
  const patch = { metadata: { ownerReferences: [controllerRef], uid: obj.metadata.uid } };
  return await client.patch(resource, obj.metadata.namespace, obj.metadata.name!, 'strategic', patch);
}

/** Removes the owner's reference (`$patch: delete` by uid). */
export async function releaseObject(client: Client, resource: ResourceRef, obj: KObject, ownerUID: string): Promise<KObject> {
  const patch = { metadata: { ownerReferences: [{ $patch: 'delete', uid: ownerUID }], uid: obj.metadata.uid } };
  return await client.patch(resource, obj.metadata.namespace, obj.metadata.name!, 'strategic', patch);
}

// ---- ordering ----

/** ReplicaSetsByCreationTimestamp (any objects): older first, then by name. */
export function byCreationTimestamp(a: KObject, b: KObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta === tb) return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : (a.metadata.name ?? '') > (b.metadata.name ?? '') ? 1 : 0;
  return Date.parse(ta) - Date.parse(tb);
}

/** A 'namespace/name' key. */
export function keyFor(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
