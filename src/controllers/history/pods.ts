// Pod helpers shared by the workload controllers (StatefulSet, DaemonSet, Job,
// CronJob), after upstream's pkg/api/v1/pod and pkg/controller/controller_utils.go:
// readiness and availability, controller references, claiming (adopting orphans that
// match a selector, releasing owned ones that no longer match), expectations that keep
// a slow informer cache from causing double creates, and slow-start batches.

import type { KObject, OwnerReference } from '../../api/object.ts';
import type { LabelSelector } from '../../api/selectors.ts';
import { isStatusError } from '../../api/errors.ts';
import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';
import type { Clock } from './clock.ts';

export interface PodCondition {
  type: string;
  status: string;
  lastTransitionTime?: string;
}

export function podCondition(pod: KObject, type: string): PodCondition | undefined {
  return (pod.status?.conditions ?? []).find((c: PodCondition) => c.type === type);
}

/** podutil.IsPodReady: the Ready condition is True. */
export function isPodReady(pod: KObject): boolean {
  return podCondition(pod, 'Ready')?.status === 'True';
}

/** podutil.IsPodAvailable: ready for at least `minReadySeconds` at `now` (ms). */
export function isPodAvailable(pod: KObject, minReadySeconds: number, now: number): boolean {
  const c = podCondition(pod, 'Ready');
  if (c?.status !== 'True') return false;
  if (!minReadySeconds) return true;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
  return !Number.isNaN(since) && since + minReadySeconds * 1000 <= now;
}

/** When a ready pod becomes available (ms), or undefined when it is not ready. */
export function availableAt(pod: KObject, minReadySeconds: number): number | undefined {
  const c = podCondition(pod, 'Ready');
  if (c?.status !== 'True') return undefined;
  const since = c.lastTransitionTime ? Date.parse(c.lastTransitionTime) : NaN;
  return Number.isNaN(since) ? undefined : since + (minReadySeconds || 0) * 1000;
}

export function isTerminating(pod: KObject): boolean {
  return pod.metadata.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null;
}

export function podPhase(pod: KObject): string {
  return pod.status?.phase ?? '';
}

export function isPodTerminal(pod: KObject): boolean {
  const p = podPhase(pod);
  return p === 'Succeeded' || p === 'Failed';
}

/** controller.IsPodActive: not finished and not being deleted. */
export function isPodActive(pod: KObject): boolean {
  return !isPodTerminal(pod) && !isTerminating(pod);
}

export function isRunningAndReady(pod: KObject): boolean {
  return podPhase(pod) === 'Running' && isPodReady(pod);
}

/** controller.CountTerminatingPods's predicate: being deleted and not yet finished. */
export function isPodTerminatingNotFinished(pod: KObject): boolean {
  return isTerminating(pod) && !isPodTerminal(pod);
}

export function controllerRefOf(obj: KObject): OwnerReference | undefined {
  return (obj.metadata.ownerReferences ?? []).find((r) => r.controller === true);
}

export function isControlledBy(obj: KObject, owner: KObject): boolean {
  return controllerRefOf(obj)?.uid === owner.metadata.uid;
}

/** metav1.NewControllerRef. */
export function newControllerRef(owner: KObject, apiVersion: string, kind: string): OwnerReference {
  return { apiVersion, kind, name: owner.metadata.name!, uid: owner.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}
export { rfc3339 };

/** Time of a metav1.Time string (ms), or undefined. */
export function timeOf(v: unknown): number | undefined {
  if (typeof v !== 'string') return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t;
}

/**
 * controller.ActivePods ordering: the pods to delete first come first. Unassigned <
 * assigned; Pending < Unknown < Running; not ready < ready; ready for less time < more;
 * more restarts < fewer; newer < older.
 */
export function compareActivePodsForDeletion(a: KObject, b: KObject): number {
  const assigned = (p: KObject) => (p.spec?.nodeName ? 1 : 0);
  if (assigned(a) !== assigned(b)) return assigned(a) - assigned(b);
  const rank: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
  const ra = rank[podPhase(a)] ?? 0;
  const rb = rank[podPhase(b)] ?? 0;
  if (ra !== rb) return ra - rb;
  const ready = (p: KObject) => (isPodReady(p) ? 1 : 0);
  if (ready(a) !== ready(b)) return ready(a) - ready(b);
  if (isPodReady(a) && isPodReady(b)) {
    const ta = timeOf(podCondition(a, 'Ready')?.lastTransitionTime) ?? 0;
    const tb = timeOf(podCondition(b, 'Ready')?.lastTransitionTime) ?? 0;
    if (ta !== tb) return tb - ta; // ready more recently first
  }
  const restarts = (p: KObject) => (p.status?.containerStatuses ?? []).reduce((m: number, c: { restartCount?: number }) => Math.max(m, c.restartCount ?? 0), 0);
  if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
  const ca = timeOf(a.metadata.creationTimestamp) ?? 0;
  const cb = timeOf(b.metadata.creationTimestamp) ?? 0;
  return cb - ca;
}

/** Oldest first, then by name (pods sorted by creation for stable choices). */
export function compareCreation(a: KObject, b: KObject): number {
  const ca = timeOf(a.metadata.creationTimestamp) ?? 0;
  const cb = timeOf(b.metadata.creationTimestamp) ?? 0;
  if (ca !== cb) return ca - cb;
  return String(a.metadata.name).localeCompare(String(b.metadata.name));
}

export function isNotFound(e: unknown): boolean {
  return isStatusError(e) && e.code === 404;
}

export function isAlreadyExists(e: unknown): boolean {
  return isStatusError(e) && e.code === 409 && (e.status.reason === 'AlreadyExists' || e.status.reason === undefined);
}

export function isConflict(e: unknown): boolean {
  return isStatusError(e) && e.code === 409;
}

/** The namespace is being deleted: creates there are refused and need no retry. */
export function isNamespaceTerminating(e: unknown): boolean {
  return isStatusError(e) && (e.status.details?.causes ?? []).some((c) => c.reason === 'NamespaceTerminating');
}

export interface ClaimOptions {
  /** The owner's controller reference (apiVersion, kind). */
  apiVersion: string;
  kind: string;
  selector: LabelSelector;
  /** Extra condition a pod must meet to be adopted or kept (StatefulSet: the name matches). */
  filter?: (pod: KObject) => boolean;
  /** Finalizers adopted pods get (the Job's tracking finalizer). */
  finalizers?: string[];
  /** Called once before the first adoption: false when the owner is going away (re-read, uncached). */
  canAdopt?: () => Promise<boolean>;
}

/**
 * controller.PodControllerRefManager.ClaimPods: the pods `owner` manages. Owned pods
 * that no longer match are released; orphans that match (and are not being deleted) are
 * adopted with a JSON patch guarded by the pod's uid. Pods of other controllers are
 * left alone. Returns the claimed pods (the patched object for adoptions).
 */
export async function claimPods(client: Client, owner: KObject, pods: KObject[], opts: ClaimOptions): Promise<KObject[]> {
  const out: KObject[] = [];
  let adoptable: boolean | undefined;
  const matches = (p: KObject) => opts.selector.matches(p.metadata.labels) && (opts.filter ? opts.filter(p) : true);
  for (const pod of pods) {
    const cref = controllerRefOf(pod);
    if (cref) {
      if (cref.uid !== owner.metadata.uid) continue;
      if (matches(pod)) {
        out.push(pod);
        continue;
      }
      // Owned but no longer selected: release (unless the owner is being deleted; the GC handles that).
      if (owner.metadata.deletionTimestamp) continue;
      try {
        await releaseOwner(client, ref.pods, pod, owner.metadata.uid!);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      continue;
    }
    if (!matches(pod) || isTerminating(pod) || owner.metadata.deletionTimestamp) continue;
    if (adoptable === undefined) adoptable = opts.canAdopt ? await opts.canAdopt() : true;
    if (!adoptable) continue;
    try {
      out.push(await adoptObject(client, ref.pods, pod, newControllerRef(owner, opts.apiVersion, opts.kind), opts.finalizers));
    } catch (e) {
      if (isNotFound(e)) continue;
      throw e;
    }
  }
  return out;
}

/** Adds `cref` as the controller of `obj` (and `finalizers`), guarded by uid; returns the patched object. */
export async function adoptObject(client: Client, res: typeof ref.pods, obj: KObject, cref: OwnerReference, finalizers: string[] = []): Promise<KObject> {
  const ops: unknown[] = [{ op: 'test', path: '/metadata/uid', value: obj.metadata.uid }];
  if (obj.metadata.ownerReferences?.length) ops.push({ op: 'add', path: '/metadata/ownerReferences/-', value: cref });
  else ops.push({ op: 'add', path: '/metadata/ownerReferences', value: [cref] });
  const have = obj.metadata.finalizers ?? [];
  const add = finalizers.filter((f) => !have.includes(f));
  if (add.length) {
    if (have.length) for (const f of add) ops.push({ op: 'add', path: '/metadata/finalizers/-', value: f });
    else ops.push({ op: 'add', path: '/metadata/finalizers', value: add });
  }
  return await client.patch(res, obj.metadata.namespace, obj.metadata.name!, 'json', ops);
}

/** Removes the owner reference with `ownerUID` from `obj`, guarded by uid. */
export async function releaseOwner(client: Client, res: typeof ref.pods, obj: KObject, ownerUID: string): Promise<KObject> {
  const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== ownerUID);
  return await client.patch(res, obj.metadata.namespace, obj.metadata.name!, 'json', [
    { op: 'test', path: '/metadata/uid', value: obj.metadata.uid },
    { op: 'replace', path: '/metadata/ownerReferences', value: refs },
  ]);
}

/**
 * controller.ControllerExpectations: creations and deletions a controller has asked for
 * and not yet seen in its informer. While some are outstanding the controller does not
 * decide how many pods to make (its cache would undercount). Expectations expire after
 * `ttlMs` (5 minutes, as upstream), so a lost event cannot wedge a controller.
 */
export class Expectations {
  private readonly items = new Map<string, { add: number; del: number; at: number }>();
  private readonly clock: Pick<Clock, 'now'>;
  private readonly ttlMs: number;

  constructor(clock: Pick<Clock, 'now'>, ttlMs = 5 * 60_000) {
    this.clock = clock;
    this.ttlMs = ttlMs;
  }

  satisfied(key: string): boolean {
    const e = this.items.get(key);
    if (!e) return true;
    if (e.add <= 0 && e.del <= 0) return true;
    return this.clock.now() - e.at > this.ttlMs;
  }

  expectCreations(key: string, n: number): void {
    this.set(key, n, 0);
  }

  expectDeletions(key: string, n: number): void {
    this.set(key, 0, n);
  }

  private set(key: string, add: number, del: number): void {
    const e = this.items.get(key);
    if (e && !(e.add <= 0 && e.del <= 0) && this.clock.now() - e.at <= this.ttlMs) {
      e.add += add;
      e.del += del;
      e.at = this.clock.now();
    } else {
      this.items.set(key, { add, del, at: this.clock.now() });
    }
  }

  // Observations never go below zero: a pod whose deletion is seen twice (graceful, then
  // final) must not pay for a deletion expected later.
  creationObserved(key: string): void {
    const e = this.items.get(key);
    if (e && e.add > 0) e.add--;
  }

  deletionObserved(key: string): void {
    const e = this.items.get(key);
    if (e && e.del > 0) e.del--;
  }

  delete(key: string): void {
    this.items.delete(key);
  }
}

/**
 * controller.slowStartBatch: calls `fn` `count` times in batches of 1, 2, 4, ... (from
 * `initialBatchSize`), stopping after the first batch with a failure. Returns how many
 * calls were made and succeeded, and the first error (calls never made are the caller's
 * to un-expect).
 */
export async function slowStartBatch(count: number, initialBatchSize: number, fn: (i: number) => Promise<void>): Promise<{ successes: number; attempted: number; error?: unknown }> {
  let remaining = count;
  let successes = 0;
  let next = 0;
  for (let batch = Math.min(remaining, initialBatchSize); batch > 0; batch = Math.min(2 * batch, remaining)) {
    const results = await Promise.allSettled(Array.from({ length: batch }, () => fn(next++)));
    const failed = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
    successes += batch - failed.length;
    if (failed.length) return { successes, attempted: next, error: failed[0].reason };
    remaining -= batch;
  }
  return { successes, attempted: next };
}

/** The first slow-start batch size (controller.SlowStartInitialBatchSize). */
export const SLOW_START_INITIAL_BATCH_SIZE = 1;

/** A deep copy through JSON (cached objects are shared and must not be mutated). */
export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

/** Key-order independent JSON, to compare computed status or revision data with stored. */
export function canonicalJSON(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJSON(x))).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJSON(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** An intstr (e.g. maxUnavailable) as a count of `total`: "25%" rounds up or down, numbers as they are. */
export function scaledValue(v: unknown, total: number, roundUp: boolean): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    const m = /^(\d+)%$/.exec(v.trim());
    if (m) {
      const x = (Number(m[1]) * total) / 100;
      return roundUp ? Math.ceil(x) : Math.floor(x);
    }
    const n = Number(v);
    if (Number.isInteger(n)) return n;
  }
  return 0;
}
