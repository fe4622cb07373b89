// The StatefulSet controller, as upstream's pkg/controller/statefulset: pods with stable
// names and storage, created in ordinal order and removed in reverse (OrderedReady), or
// all at once (Parallel); RollingUpdate from the highest ordinal down to the partition,
// one pod at a time, waiting for each to be Running and Ready; OnDelete; claims from
// volumeClaimTemplates with owner references following the retention policy;
// ControllerRevisions for the current and update templates; status.
//
// Level-triggered: every reconcile re-reads the set, its pods, claims and revisions from
// the informer caches and does the next step of work; pod names are deterministic, so a
// create repeated because the cache was stale answers AlreadyExists and is harmless.

import type { KObject } from '../../api/object.ts';
import { labelSelectorFromAPI, type LabelSelector } from '../../api/selectors.ts';
import type { Informer } from '../../client/informer.ts';
import type { EventRecorder } from '../../client/events.ts';
import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';
import { keyOf, splitKey, type Logger } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers, type ReconcileResult } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { realClock, type Clock } from '../history/clock.ts';
import {
  availableAt,
  canonicalJSON,
  claimPods,
  controllerRefOf,
  isAlreadyExists,
  isConflict,
  isNotFound,
  isPodAvailable,
  isRunningAndReady,
  isTerminating,
  podPhase,
} from '../history/pods.ts';
import {
  claimRevisions,
  createControllerRevision,
  findEqualRevisions,
  newControllerRevision,
  nextRevision,
  sortRevisions,
  templatePatch,
  truncateHistory,
  updateRevisionNumber,
} from '../history/revision.ts';
import {
  applyRevision,
  claimsFor,
  desiredClaimOwnerRefs,
  getOrdinal,
  identityMatches,
  isMemberOf,
  newVersionedStatefulSetPod,
  podRevision,
  replicasOf,
  sameRefs,
  startOrdinal,
  STATEFULSET_POD_NAME_LABEL,
  POD_INDEX_LABEL,
  storageMatches,
} from './pods.ts';

const KIND = 'StatefulSet';
const API_VERSION = 'apps/v1';

export interface StatefulSetControllerOptions {
  clock?: Clock;
}

interface Revisions {
  current: KObject;
  update: KObject;
  collisionCount: number;
  all: KObject[];
}

class StatefulSetSync {
  readonly client: Client;
  readonly recorder: EventRecorder;
  readonly log: Logger;
  readonly clock: Clock;
  readonly sets: Informer;
  readonly pods: Informer;
  readonly claims: Informer;
  readonly revisions: Informer;

  constructor(ctx: ControllerContext, clock: Clock) {
    this.client = ctx.client;
    this.recorder = ctx.recorder('statefulset-controller');
    this.log = ctx.log;
    this.clock = clock;
    this.sets = ctx.factory.informerFor(ref.statefulsets);
    this.pods = ctx.factory.informerFor(ref.pods);
    this.claims = ctx.factory.informerFor(ref.persistentvolumeclaims);
    this.revisions = ctx.factory.informerFor(ref.controllerrevisions);
  }

  /** The key of the StatefulSet controlling `obj`, if it still exists with that uid. */
  ownerKey(obj: KObject): string | undefined {
    const cref = controllerRefOf(obj);
    if (!cref || cref.kind !== KIND) return undefined;
    const set = this.sets.lister.get(obj.metadata.namespace, cref.name);
    return set && set.metadata.uid === cref.uid ? keyOf(set) : undefined;
  }

  /** Sets whose selector matches an orphan pod (they may adopt it). */
  matchingSets(pod: KObject): string[] {
    const out: string[] = [];
    for (const set of this.sets.lister.list(pod.metadata.namespace)) {
      const sel = selectorOf(set);
      if (sel && sel.matches(pod.metadata.labels) && isMemberOf(set, pod)) out.push(keyOf(set));
    }
    return out;
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const set = this.sets.lister.get(namespace, name);
    if (!set) return;
    const selector = selectorOf(set);
    if (!selector) {
      this.recorder.eventf(set, 'Warning', 'InvalidSelector', 'error converting StatefulSet %s selector: invalid selector', key);
      return;
    }
    const pods = await claimPods(this.client, set, this.pods.lister.list(namespace), {
      apiVersion: API_VERSION,
      kind: KIND,
      selector,
      filter: (p) => isMemberOf(set, p),
      canAdopt: () => this.canAdopt(set),
    });
    const owned = await claimRevisions(this.client, this.revisions.lister, set, selector, { apiVersion: API_VERSION, kind: KIND });
    const revs = await this.getRevisions(set, owned);
    const { status, requeueAfterMs } = await this.updateStatefulSet(set, revs, pods);
    await this.writeStatus(set, status);
    const live = new Set<string>([revs.current.metadata.name!, revs.update.metadata.name!]);
    for (const p of this.pods.lister.list(namespace)) if (isControlled(p, set)) live.add(podRevision(p));
    await truncateHistory(this.client, revs.all, live, typeof set.spec?.revisionHistoryLimit === 'number' ? set.spec.revisionHistoryLimit : 10);
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }

  /** RecheckDeletionTimestamp: adopt only for a set that is still there and not being deleted. */
  private async canAdopt(set: KObject): Promise<boolean> {
    try {
      const fresh = await this.client.get(ref.statefulsets, set.metadata.namespace, set.metadata.name!);
      return fresh.metadata.uid === set.metadata.uid && !fresh.metadata.deletionTimestamp;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /** getStatefulSetRevisions: the current revision (from status) and the update revision (the live template). */
  private async getRevisions(set: KObject, owned: KObject[]): Promise<Revisions> {
    const all = sortRevisions(owned);
    let collisionCount = typeof set.status?.collisionCount === 'number' ? set.status.collisionCount : 0;
    const make = (cc: number) =>
      newControllerRevision(set, {
        apiVersion: API_VERSION,
        kind: KIND,
        templateLabels: set.spec?.template?.metadata?.labels,
        data: templatePatch(set.spec?.template ?? {}),
        revision: nextRevision(all),
        collisionCount: cc,
      });
    let update = make(collisionCount);
    const equal = findEqualRevisions(all, update);
    const last = all[all.length - 1];
    if (equal.length > 0 && last && equal[equal.length - 1].metadata.name === last.metadata.name) {
      update = last;
    } else if (equal.length > 0) {
      // A rollback to an earlier template: that revision becomes the newest.
      const old = equal[equal.length - 1];
      update = await updateRevisionNumber(this.client, old, update.revision);
      all.splice(all.indexOf(old), 1, update);
    } else {
      const created = await createControllerRevision(this.client, update, collisionCount, make);
      update = created.revision;
      collisionCount = created.collisionCount;
      all.push(update);
    }
    const current = all.find((r) => r.metadata.name === set.status?.currentRevision) ?? update;
    return { current, update, collisionCount, all: sortRevisions(all) };
  }

  /**
   * updateStatefulSet: one step of the set's work. Returns the status computed from the
   * pods as they are after this step.
   */
  private async updateStatefulSet(set: KObject, revs: Revisions, pods: KObject[]): Promise<{ status: Record<string, any>; requeueAfterMs?: number }> {
    const now = this.clock.now();
    const currentSet = applyRevision(set, revs.current);
    const updateSet = applyRevision(set, revs.update);
    const currentName = revs.current.metadata.name!;
    const updateName = revs.update.metadata.name!;
    const monotonic = set.spec?.podManagementPolicy !== 'Parallel';
    const minReadySeconds = typeof set.spec?.minReadySeconds === 'number' ? set.spec.minReadySeconds : 0;
    const start = startOrdinal(set);
    const count = replicasOf(set);
    const deleting = !!set.metadata.deletionTimestamp;

    // Pods in range are replicas (slot = ordinal - start); the rest are condemned.
    const replicas: (KObject | undefined)[] = new Array(count).fill(undefined);
    const condemned: KObject[] = [];
    for (const pod of pods) {
      const ord = getOrdinal(pod);
      if (ord >= start && ord < start + count) replicas[ord - start] = pod;
      else if (ord >= 0) condemned.push(pod);
    }
    condemned.sort((a, b) => getOrdinal(a) - getOrdinal(b));

    const isHealthy = (p: KObject | undefined) => !!p && isRunningAndReady(p) && !isTerminating(p);
    const firstUnhealthy = [...replicas, ...condemned].find((p) => p && !isHealthy(p));
    let requeueAfterMs: number | undefined;
    const requeueAt = (at: number | undefined) => {
      if (at === undefined) return;
      const d = Math.max(1, at - now);
      requeueAfterMs = requeueAfterMs === undefined ? d : Math.min(requeueAfterMs, d);
    };

    const status = () => this.computeStatus(set, revs, [...replicas, ...condemned], minReadySeconds, now);

    const processReplica = async (i: number): Promise<boolean> => {
      const ordinal = start + i;
      const pod = replicas[i];
      if (pod && (podPhase(pod) === 'Failed' || podPhase(pod) === 'Succeeded')) {
        if (!isTerminating(pod)) {
          if (podPhase(pod) === 'Failed') this.recorder.eventf(set, 'Warning', 'RecreatingFailedPod', 'StatefulSet %s/%s is recreating failed Pod %s', set.metadata.namespace, set.metadata.name, pod.metadata.name);
          else this.recorder.eventf(set, 'Normal', 'RecreatingTerminatedPod', 'StatefulSet %s/%s is recreating terminated Pod %s', set.metadata.namespace, set.metadata.name, pod.metadata.name);
          replicas[i] = await this.deletePod(set, pod);
        }
        // The replacement is made once the old pod is gone.
        return true;
      }
      if (!pod) {
        if (deleting) return true;
        const fresh = newVersionedStatefulSetPod(currentSet, updateSet, currentName, updateName, ordinal);
        if (await this.claimsAreStale(set, ordinal)) return true;
        replicas[i] = await this.createStatefulPod(set, updateSet, fresh, ordinal);
        return monotonic;
      }
      if (podPhase(pod) === 'Pending' && !deleting) await this.createMissingClaims(set, updateSet, pod, ordinal);
      if (isTerminating(pod) && monotonic) return true;
      if (!isRunningAndReady(pod) && monotonic) return true;
      if (!isPodAvailable(pod, minReadySeconds, now) && monotonic) {
        requeueAt(availableAt(pod, minReadySeconds));
        return true;
      }
      if (deleting) return false;
      const retentionOk = this.claimsMatchRetention(updateSet, pod, ordinal);
      if (identityMatches(set, pod) && storageMatches(set, pod) && retentionOk) return false;
      replicas[i] = await this.updateStatefulPod(set, updateSet, pod, ordinal);
      return false;
    };

    // 1. Replicas, in ordinal order: create missing ones, replace finished ones.
    if (monotonic) {
      for (let i = 0; i < replicas.length; i++) if (await processReplica(i)) return { status: status(), requeueAfterMs };
    } else {
      await Promise.all(replicas.map((_, i) => processReplica(i)));
    }

    // 2. Claims of condemned pods take the pod as owner when whenScaled=Delete, before the pod goes.
    for (const pod of condemned) {
      if (!this.claimsMatchRetention(updateSet, pod, getOrdinal(pod))) await this.updateClaimsForRetention(updateSet, pod, getOrdinal(pod));
    }

    // 3. Condemned pods, highest ordinal first. In OrderedReady mode one at a time, and
    // only while every other pod is healthy (the first unhealthy one may go).
    for (let t = condemned.length - 1; t >= 0; t--) {
      const pod = condemned[t];
      if (isTerminating(pod)) {
        if (monotonic) return { status: status(), requeueAfterMs };
        continue;
      }
      if (monotonic && pod !== firstUnhealthy && (!isRunningAndReady(pod) || !isPodAvailable(pod, minReadySeconds, now))) {
        return { status: status(), requeueAfterMs };
      }
      const after = await this.deletePod(set, pod);
      if (after) condemned[t] = after;
      else condemned.splice(t, 1);
      if (monotonic) return { status: status(), requeueAfterMs };
    }

    // 4. Rolling update: the highest ordinal not at the update revision goes first, down to the partition.
    const strategy = set.spec?.updateStrategy ?? {};
    if (strategy.type === 'OnDelete' || deleting) return { status: status(), requeueAfterMs };
    const partition = typeof strategy.rollingUpdate?.partition === 'number' ? strategy.rollingUpdate.partition : 0;
    for (let t = replicas.length - 1; t >= partition; t--) {
      const pod = replicas[t];
      if (!pod) break;
      if (podRevision(pod) !== updateName && !isTerminating(pod)) {
        replicas[t] = await this.deletePod(set, pod);
        break;
      }
      if (!isHealthy(pod)) break;
    }
    return { status: status(), requeueAfterMs };
  }

  /** computeReplicaStatus over the pods as this reconcile left them, then completeRollingUpdate. */
  private computeStatus(set: KObject, revs: Revisions, pods: (KObject | undefined)[], minReadySeconds: number, now: number): Record<string, any> {
    let replicas = 0;
    let ready = 0;
    let available = 0;
    let current = 0;
    let updated = 0;
    for (const p of pods) {
      if (!p || podPhase(p) === '') continue;
      replicas++;
      if (isRunningAndReady(p)) {
        ready++;
        if (isPodAvailable(p, minReadySeconds, now)) available++;
      }
      if (!isTerminating(p)) {
        if (podRevision(p) === revs.current.metadata.name) current++;
        if (podRevision(p) === revs.update.metadata.name) updated++;
      }
    }
    const status: Record<string, any> = {
      observedGeneration: set.metadata.generation,
      replicas,
      readyReplicas: ready,
      currentReplicas: current,
      updatedReplicas: updated,
      currentRevision: revs.current.metadata.name,
      updateRevision: revs.update.metadata.name,
      collisionCount: revs.collisionCount,
      availableReplicas: available,
    };
    if ((set.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate' && updated === replicas && ready === replicas) {
      status.currentReplicas = updated;
      status.currentRevision = revs.update.metadata.name;
    }
    if (set.status?.conditions) status.conditions = set.status.conditions;
    // omitempty, as the API serializes these.
    for (const k of ['observedGeneration', 'readyReplicas', 'currentReplicas', 'updatedReplicas', 'collisionCount']) if (!status[k]) delete status[k];
    for (const k of ['currentRevision', 'updateRevision']) if (!status[k]) delete status[k];
    return status;
  }

  private async writeStatus(set: KObject, status: Record<string, any>): Promise<void> {
    if (canonicalJSON(status) === canonicalJSON(set.status ?? {})) return;
    let target = set;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.client.update(ref.statefulsets, set.metadata.namespace, { ...target, status }, { subresource: 'status' });
        return;
      } catch (e) {
        if (isNotFound(e)) return;
        if (!isConflict(e) || attempt === 2) throw e;
        target = await this.client.get(ref.statefulsets, set.metadata.namespace, set.metadata.name!);
        if (target.metadata.uid !== set.metadata.uid) return;
      }
    }
  }

  /** A claim of this ordinal is being deleted (a condemned pod's claim on its way out): wait for it. */
  private async claimsAreStale(set: KObject, ordinal: number): Promise<boolean> {
    for (const claim of claimsFor(set, ordinal)) {
      const existing = this.claims.lister.get(set.metadata.namespace, claim.metadata.name!);
      if (existing?.metadata.deletionTimestamp) return true;
    }
    return false;
  }

  /** CreateStatefulPod: the claims first, then the pod. */
  private async createStatefulPod(set: KObject, updateSet: KObject, pod: KObject, ordinal: number): Promise<KObject | undefined> {
    await this.createMissingClaims(set, updateSet, pod, ordinal);
    try {
      const created = await this.client.create(ref.pods, set.metadata.namespace, pod);
      this.recordPodEvent('create', set, pod);
      return created;
    } catch (e) {
      if (isAlreadyExists(e)) return undefined; // the cache is behind: the next reconcile sees it
      this.recordPodEvent('create', set, pod, e);
      throw e;
    }
  }

  private async createMissingClaims(set: KObject, updateSet: KObject, pod: KObject, ordinal: number): Promise<void> {
    for (const claim of claimsFor(updateSet, ordinal)) {
      const existing = this.claims.lister.get(set.metadata.namespace, claim.metadata.name!);
      if (existing) {
        if (existing.metadata.deletionTimestamp) throw new Error(`pvc ${claim.metadata.name} is being deleted`);
        continue;
      }
      try {
        await this.client.create(ref.persistentvolumeclaims, set.metadata.namespace, claim);
        this.recorder.eventf(set, 'Normal', 'SuccessfulCreate', 'create Claim %s Pod %s in StatefulSet %s success', claim.metadata.name, pod.metadata.name, set.metadata.name);
      } catch (e) {
        if (isAlreadyExists(e)) continue;
        this.recorder.eventf(set, 'Warning', 'FailedCreate', 'create Claim %s for Pod %s in StatefulSet %s failed error: %s', claim.metadata.name, pod.metadata.name, set.metadata.name, e);
        throw e;
      }
    }
  }

  private claimsMatchRetention(set: KObject, pod: KObject, ordinal: number): boolean {
    for (const claim of claimsFor(set, ordinal)) {
      const existing = this.claims.lister.get(set.metadata.namespace, claim.metadata.name!);
      if (!existing) continue;
      const want = desiredClaimOwnerRefs(set, pod, ordinal, existing.metadata.ownerReferences ?? []);
      if (!sameRefs(want, existing.metadata.ownerReferences ?? [])) return false;
    }
    return true;
  }

  /** UpdatePodClaimForRetentionPolicy: owner references of the pod's claims as the policy says. */
  private async updateClaimsForRetention(set: KObject, pod: KObject, ordinal: number): Promise<void> {
    for (const claim of claimsFor(set, ordinal)) {
      const existing = this.claims.lister.get(set.metadata.namespace, claim.metadata.name!);
      if (!existing) continue;
      const want = desiredClaimOwnerRefs(set, pod, ordinal, existing.metadata.ownerReferences ?? []);
      if (sameRefs(want, existing.metadata.ownerReferences ?? [])) continue;
      try {
        await this.client.patch(ref.persistentvolumeclaims, set.metadata.namespace, existing.metadata.name!, 'json', [
          { op: 'test', path: '/metadata/uid', value: existing.metadata.uid },
          { op: existing.metadata.ownerReferences ? 'replace' : 'add', path: '/metadata/ownerReferences', value: want },
        ]);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
  }

  /** UpdateStatefulPod: restore identity labels, create missing claims, fix claim owners. */
  private async updateStatefulPod(set: KObject, updateSet: KObject, pod: KObject, ordinal: number): Promise<KObject> {
    let current = pod;
    try {
      if (!storageMatches(set, pod)) await this.createMissingClaims(set, updateSet, pod, ordinal);
      if (!identityMatches(set, pod)) {
        current = await this.client.patch(ref.pods, pod.metadata.namespace, pod.metadata.name!, 'json', [
          { op: 'test', path: '/metadata/uid', value: pod.metadata.uid },
          {
            op: pod.metadata.labels ? 'replace' : 'add',
            path: '/metadata/labels',
            value: { ...(pod.metadata.labels ?? {}), [STATEFULSET_POD_NAME_LABEL]: pod.metadata.name, [POD_INDEX_LABEL]: String(ordinal) },
          },
        ]);
        this.recordPodEvent('update', set, pod);
      }
      await this.updateClaimsForRetention(updateSet, current, ordinal);
    } catch (e) {
      if (isNotFound(e)) return pod;
      this.recordPodEvent('update', set, pod, e);
      throw e;
    }
    return current;
  }

  /** DeleteStatefulPod: the pod as it is after the delete (terminating), or undefined once gone. */
  private async deletePod(set: KObject, pod: KObject): Promise<KObject | undefined> {
    try {
      const after = await this.client.delete(ref.pods, pod.metadata.namespace, pod.metadata.name!, { preconditions: { uid: pod.metadata.uid } });
      this.recordPodEvent('delete', set, pod);
      return after.kind === 'Pod' && after.metadata?.deletionTimestamp ? after : undefined;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      this.recordPodEvent('delete', set, pod, e);
      throw e;
    }
  }

  /** recordPodEvent: "create Pod web-0 in StatefulSet web successful". */
  private recordPodEvent(verb: 'create' | 'update' | 'delete', set: KObject, pod: KObject, err?: unknown): void {
    const title = verb[0].toUpperCase() + verb.slice(1);
    if (err === undefined) {
      this.recorder.eventf(set, 'Normal', `Successful${title}`, '%s Pod %s in StatefulSet %s successful', verb, pod.metadata.name, set.metadata.name);
    } else {
      this.recorder.eventf(set, 'Warning', `Failed${title}`, '%s Pod %s in StatefulSet %s failed error: %s', verb, pod.metadata.name, set.metadata.name, err);
    }
  }
}

function isControlled(obj: KObject, owner: KObject): boolean {
  return controllerRefOf(obj)?.uid === owner.metadata.uid;
}

function selectorOf(set: KObject): LabelSelector | undefined {
  try {
    return labelSelectorFromAPI(set.spec?.selector);
  } catch {
    return undefined;
  }
}

export function newStatefulSetController(opts: StatefulSetControllerOptions = {}): Controller {
  return {
    name: 'statefulset',
    start(ctx: ControllerContext, signal: AbortSignal): Promise<void> {
      const s = new StatefulSetSync(ctx, opts.clock ?? realClock);
      const queue = new RateLimitingQueue<string>({ name: 'statefulset' });
      const enqueueSet = (o: KObject) => queue.add(keyOf(o));
      s.sets.addEventHandler({ onAdd: enqueueSet, onUpdate: (_o, n) => enqueueSet(n), onDelete: enqueueSet });
      const onPod = (pod: KObject) => {
        const owner = s.ownerKey(pod);
        if (owner) queue.add(owner);
        else if (!controllerRefOf(pod)) for (const k of s.matchingSets(pod)) queue.add(k);
      };
      s.pods.addEventHandler({
        onAdd: onPod,
        onUpdate: (old, cur) => {
          if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
          const oldOwner = s.ownerKey(old);
          if (oldOwner && oldOwner !== s.ownerKey(cur)) queue.add(oldOwner);
          onPod(cur);
        },
        onDelete: (pod) => {
          const owner = s.ownerKey(pod);
          if (owner) queue.add(owner);
        },
      });
      const onRevision = (rev: KObject) => {
        const owner = s.ownerKey(rev);
        if (owner) queue.add(owner);
      };
      s.revisions.addEventHandler({ onAdd: onRevision, onUpdate: (_o, n) => onRevision(n), onDelete: onRevision });
      // Claims are read from the cache; their changes need no reconcile of their own.
      s.claims.addEventHandler({});
      return (async () => {
        if (!(await ctx.factory.waitForSync(signal))) return;
        await runWorkers(queue, ctx.workers, (key) => s.reconcile(key), signal, { log: ctx.log });
      })();
    },
  };
}

/** The StatefulSet controller with the real clock. */
export const statefulSetController: Controller = newStatefulSetController();
