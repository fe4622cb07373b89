// The Deployment controller, as upstream's pkg/controller/deployment: a Deployment owns
// ReplicaSets named <deployment>-<pod-template-hash>; the one whose template equals the
// Deployment's is the new one, the rest are old. A rollout moves replicas from old to
// new within maxSurge / maxUnavailable (RollingUpdate) or scales old to zero and waits
// for their pods to be gone before scaling the new one up (Recreate). Scaling the
// Deployment mid-rollout spreads the change proportionally. What must hold:
//   - Level-triggered and idempotent: each sync recomputes from the informer caches; the
//     ReplicaSet name is deterministic, so a restarted controller finds what it created.
//   - Revisions: the new ReplicaSet's revision is max(old) + 1; a rollback (the template
//     set back to an old ReplicaSet's) raises that ReplicaSet's revision and records the
//     old one in revision-history; the Deployment's revision annotation follows its new
//     ReplicaSet.
//   - Status and conditions as upstream: Progressing (NewReplicaSetCreated,
//     FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable,
//     ProgressDeadlineExceeded, DeploymentPaused/Resumed), Available
//     (MinimumReplicasAvailable/Unavailable), observedGeneration last.
//   - Events ScalingReplicaSet "Scaled up replica set web-7d9c5 from 0 to 3".

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';
import { keyOf, splitKey, type Logger } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers, type ReconcileResult } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import {
  byCreationTimestamp,
  CONTROLLER_UID_INDEX,
  claimObjects,
  controllerRefOf,
  controllerUIDIndexFunc,
  errorMessage,
  isNamespaceTerminating,
  newControllerRef,
  selectorOf,
} from '../replicaset/controller_utils.ts';
import {
  actualReplicaCount,
  availableReplicaCount,
  byRevision,
  bySizeNewer,
  bySizeOlder,
  canonicalJSON,
  computeHash,
  DEPRECATED_ROLLBACK_TO,
  deploymentComplete,
  deploymentProgressing,
  deploymentTimedOut,
  desiredReplicasAnnotation,
  equalIgnoreHash,
  filterActiveReplicaSets,
  findActiveOrLatest,
  findNewReplicaSet,
  findOldReplicaSets,
  getCondition,
  getProportion,
  hasProgressDeadline,
  hasRevisionHistoryLimit,
  isRollingUpdate,
  isSaturated,
  maxRevision,
  maxSurge,
  maxUnavailable,
  newCondition,
  newRSNewReplicas,
  POD_TEMPLATE_HASH_LABEL,
  readyReplicaCount,
  REASONS,
  removeCondition,
  replicaCount,
  replicasAnnotationsNeedUpdate,
  replicasOf,
  REVISION_ANNOTATION,
  revisionOf,
  setCondition,
  setDeploymentAnnotationsTo,
  setNewReplicaSetAnnotations,
  setReplicasAnnotations,
  type DeploymentStatus,
} from './util.ts';

const CONTROLLER_KIND = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;

export function deploymentController(): Controller {
  return { name: 'deployment', start: (ctx, signal) => new DeploymentController(ctx).run(signal) };
}

/** A retryable "look again" that is not an error worth a log line at every step. */
class RequeueError extends Error {}

export class DeploymentController {
  private readonly ctx: ControllerContext;
  private readonly client: Client;
  private readonly log: Logger;
  private readonly recorder: EventRecorder;
  private readonly queue = new RateLimitingQueue<string>({ name: 'deployment' });
  private readonly dInformer: Informer;
  private readonly rsInformer: Informer;
  private readonly podInformer: Informer;

  constructor(ctx: ControllerContext) {
    this.ctx = ctx;
    this.client = ctx.client;
    this.log = ctx.log;
    this.recorder = ctx.recorder('deployment-controller');
    this.dInformer = ctx.factory.informerFor(ref.deployments);
    this.rsInformer = ctx.factory.informerFor(ref.replicasets);
    this.podInformer = ctx.factory.informerFor(ref.pods);
    this.rsInformer.addIndexers({ [CONTROLLER_UID_INDEX]: controllerUIDIndexFunc });
    this.podInformer.addIndexers({ [CONTROLLER_UID_INDEX]: controllerUIDIndexFunc });
    this.dInformer.addEventHandler({
      onAdd: (d) => this.enqueue(d),
      onUpdate: (_o, d) => this.enqueue(d),
      onDelete: (d) => this.enqueue(d),
    });
    this.rsInformer.addEventHandler({
      onAdd: (rs) => this.addReplicaSet(rs),
      onUpdate: (o, rs) => this.updateReplicaSet(o, rs),
      onDelete: (rs) => this.deleteReplicaSet(rs),
    });
    this.podInformer.addEventHandler({ onDelete: (p) => this.deletePod(p) });
  }

  async run(signal: AbortSignal): Promise<void> {
    for (const i of [this.dInformer, this.rsInformer, this.podInformer]) if (!(await i.waitForSync(signal))) return;
    await runWorkers(
      this.queue,
      this.ctx.workers,
      async (key) => {
        try {
          return await this.syncDeployment(key);
        } catch (e) {
          // A conflict means the cache was behind a write: look again, quietly (upstream logs it at V(4)).
          if (e instanceof RequeueError || (isStatusError(e) && e.code === 409 && e.reason === 'Conflict')) return { requeue: true };
          throw e;
        }
      },
      signal,
      { log: this.log },
    );
  }

  private enqueue(d: KObject): void {
    this.queue.add(keyOf(d));
  }

  // ---- event handlers: only enqueue ----

  private resolveControllerRef(namespace: string | undefined, cref: { kind: string; name: string; uid: string } | undefined): KObject | undefined {
    if (!cref || cref.kind !== CONTROLLER_KIND.kind) return undefined;
    const d = this.dInformer.lister.get(namespace, cref.name);
    return d && d.metadata.uid === cref.uid ? d : undefined;
  }

  /** Deployments whose selector matches an orphan ReplicaSet. */
  private deploymentsForReplicaSet(rs: KObject): KObject[] {
    return this.dInformer.lister.list(rs.metadata.namespace).filter((d) => {
      try {
        const s = selectorOf(d);
        return !s.empty && s.matches(rs.metadata.labels);
      } catch {
        return false;
      }
    });
  }

  private addReplicaSet(rs: KObject): void {
    if (rs.metadata.deletionTimestamp) return this.deleteReplicaSet(rs);
    const cref = controllerRefOf(rs);
    if (cref) {
      const d = this.resolveControllerRef(rs.metadata.namespace, cref);
      if (d) this.enqueue(d);
      return;
    }
    for (const d of this.deploymentsForReplicaSet(rs)) this.enqueue(d);
  }

  private updateReplicaSet(old: KObject, cur: KObject): void {
    if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
    const curRef = controllerRefOf(cur);
    const oldRef = controllerRefOf(old);
    const refChanged = JSON.stringify(curRef) !== JSON.stringify(oldRef);
    if (refChanged && oldRef) {
      const d = this.resolveControllerRef(old.metadata.namespace, oldRef);
      if (d) this.enqueue(d);
    }
    if (curRef) {
      const d = this.resolveControllerRef(cur.metadata.namespace, curRef);
      if (d) this.enqueue(d);
      return;
    }
    const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {});
    if (labelsChanged || refChanged) for (const d of this.deploymentsForReplicaSet(cur)) this.enqueue(d);
  }

  private deleteReplicaSet(rs: KObject): void {
    const d = this.resolveControllerRef(rs.metadata.namespace, controllerRefOf(rs));
    if (d) this.enqueue(d);
  }

  /** Recreate waits for old pods to be gone: their deletion is worth a look. */
  private deletePod(pod: KObject): void {
    const rsRef = controllerRefOf(pod);
    if (!rsRef || rsRef.kind !== 'ReplicaSet') return;
    const rs = this.rsInformer.lister.get(pod.metadata.namespace, rsRef.name);
    if (!rs || rs.metadata.uid !== rsRef.uid) return;
    const d = this.resolveControllerRef(rs.metadata.namespace, controllerRefOf(rs));
    if (d && d.spec?.strategy?.type === 'Recreate') this.enqueue(d);
  }

  // ---- sync ----

  async syncDeployment(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const cached = this.dInformer.lister.get(namespace, name);
    if (!cached) return;
    const d = structuredClone(cached);
    d.status ??= {};
    const sel = d.spec?.selector;
    if (sel && Object.keys(sel.matchLabels ?? {}).length === 0 && (sel.matchExpressions ?? []).length === 0) {
      this.recorder.event(d, 'Warning', 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.');
      if ((d.status.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
        d.status.observedGeneration = d.metadata.generation;
        await this.writeStatus(d);
      }
      return;
    }
    const rsList = await this.getReplicaSetsForDeployment(d);
    const podMap = this.getPodMapForDeployment(d, rsList);
    if (d.metadata.deletionTimestamp) {
      await this.syncStatusOnly(d, rsList);
      return;
    }
    await this.checkPausedConditions(d);
    if (d.spec?.paused) {
      await this.sync(d, rsList);
      return;
    }
    if (d.metadata.annotations?.[DEPRECATED_ROLLBACK_TO] !== undefined) {
      await this.rollback(d, rsList);
      return;
    }
    if (await this.isScalingEvent(d, rsList)) {
      await this.sync(d, rsList);
      return;
    }
    if (d.spec?.strategy?.type === 'Recreate') return await this.rolloutRecreate(d, rsList, podMap);
    return await this.rolloutRolling(d, rsList);
  }

  /** ReplicaSets this Deployment controls, adopting matching orphans and releasing ones it no longer selects. */
  private async getReplicaSetsForDeployment(d: KObject): Promise<KObject[]> {
    const selector = selectorOf(d);
    const all = this.rsInformer.lister.list(d.metadata.namespace);
    const { claimed, errors } = await claimObjects(all, {
      client: this.client,
      resource: ref.replicasets,
      owner: d,
      ownerKind: CONTROLLER_KIND,
      selector,
      fetchOwner: () => this.client.get(ref.deployments, d.metadata.namespace, d.metadata.name!),
    });
    if (errors.length) throw errors[0];
    return claimed;
  }

  /** Pods selected by the Deployment, by the UID of the ReplicaSet (of `rsList`) controlling them. */
  private getPodMapForDeployment(d: KObject, rsList: KObject[]): Map<string, KObject[]> {
    const m = new Map<string, KObject[]>();
    for (const rs of rsList) m.set(rs.metadata.uid!, []);
    for (const p of this.podInformer.lister.list(d.metadata.namespace, selectorOf(d))) {
      const c = controllerRefOf(p);
      if (c && m.has(c.uid)) m.get(c.uid)!.push(p);
    }
    return m;
  }

  /**
   * UpdateStatus. Upstream's status strategy keeps metadata annotations from the body (the
   * revision annotation travels with status writes there); when this apiserver drops them,
   * the revision is written with a merge patch after the status.
   */
  private async writeStatus(d: KObject): Promise<void> {
    const body = { ...d, status: compactStatus(d.status) };
    const updated = await this.client.update(ref.deployments, d.metadata.namespace, body, { subresource: 'status' });
    d.metadata.resourceVersion = updated.metadata.resourceVersion;
    const want = d.metadata.annotations?.[REVISION_ANNOTATION];
    if (want !== undefined && updated.metadata.annotations?.[REVISION_ANNOTATION] !== want) {
      const patched = await this.client.patch(ref.deployments, d.metadata.namespace, d.metadata.name!, 'merge', {
        metadata: { annotations: { [REVISION_ANNOTATION]: want }, resourceVersion: updated.metadata.resourceVersion },
      });
      d.metadata.resourceVersion = patched.metadata.resourceVersion;
    }
  }

  private async checkPausedConditions(d: KObject): Promise<void> {
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status, 'Progressing');
    if (cond?.reason === REASONS.TimedOut) return;
    const pausedExists = cond?.reason === REASONS.Paused;
    if (d.spec?.paused && !pausedExists) {
      setCondition(d.status, newCondition('Progressing', 'Unknown', REASONS.Paused, 'Deployment is paused'));
    } else if (!d.spec?.paused && pausedExists) {
      setCondition(d.status, newCondition('Progressing', 'Unknown', REASONS.Resumed, 'Deployment is resumed'));
    } else return;
    await this.writeStatus(d);
  }

  /** The new ReplicaSet (created when asked and missing) and every old one; syncs revisions. */
  private async getAllReplicaSetsAndSyncRevision(d: KObject, rsList: KObject[], create: boolean): Promise<{ newRS: KObject | undefined; oldRSs: KObject[] }> {
    const { all } = findOldReplicaSets(d, rsList);
    const newRS = await this.getNewReplicaSet(d, rsList, all, create);
    return { newRS, oldRSs: all };
  }

  private async getNewReplicaSet(d: KObject, rsList: KObject[], oldRSs: KObject[], create: boolean): Promise<KObject | undefined> {
    const existing = findNewReplicaSet(d, rsList);
    const newRevision = String(maxRevision(oldRSs) + 1);
    if (existing) {
      const rsCopy = structuredClone(existing);
      const annotationsUpdated = setNewReplicaSetAnnotations(d, rsCopy, { newRevision, exists: true });
      const minReadyNeedsUpdate = (rsCopy.spec?.minReadySeconds ?? 0) !== (d.spec?.minReadySeconds ?? 0);
      if (annotationsUpdated || minReadyNeedsUpdate) {
        if (d.spec?.minReadySeconds) rsCopy.spec.minReadySeconds = d.spec.minReadySeconds;
        else delete rsCopy.spec.minReadySeconds;
        return await this.client.update(ref.replicasets, rsCopy.metadata.namespace, rsCopy);
      }
      let needsUpdate = setDeploymentRevision(d, rsCopy.metadata.annotations?.[REVISION_ANNOTATION]);
      // Progress was not tracked before (a deadline set later): start from now.
      if (hasProgressDeadline(d) && !getCondition(d.status, 'Progressing')) {
        setCondition(d.status, newCondition('Progressing', 'True', REASONS.FoundNewRS, `Found new replica set "${rsCopy.metadata.name}"`));
        needsUpdate = true;
      }
      if (needsUpdate) await this.writeStatus(d);
      return rsCopy;
    }
    if (!create) return undefined;

    const template = structuredClone(d.spec?.template ?? {});
    const hash = computeHash(template, d.status?.collisionCount);
    template.metadata ??= {};
    template.metadata.labels = { ...(template.metadata.labels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const selector = structuredClone(d.spec.selector);
    selector.matchLabels = { ...(selector.matchLabels ?? {}), [POD_TEMPLATE_HASH_LABEL]: hash };
    const newRS: KObject = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace,
        ownerReferences: [newControllerRef(d, CONTROLLER_KIND)],
        labels: { ...template.metadata.labels },
      },
      spec: { replicas: 0, selector, template },
    };
    if (d.spec?.minReadySeconds) newRS.spec.minReadySeconds = d.spec.minReadySeconds;
    const newReplicas = newRSNewReplicas(d, [...oldRSs, newRS], newRS);
    newRS.spec.replicas = newReplicas;
    setNewReplicaSetAnnotations(d, newRS, { newRevision, exists: false });
    let created: KObject;
    let alreadyExists = false;
    try {
      created = await this.client.create(ref.replicasets, d.metadata.namespace, newRS);
    } catch (e) {
      if (isStatusError(e) && e.code === 409 && e.reason === 'AlreadyExists') {
        alreadyExists = true;
        // A slow cache, or a hash collision: ours if we control it and its template is ours.
        const rs = this.rsInformer.lister.get(d.metadata.namespace, newRS.metadata.name!) ?? (await this.client.get(ref.replicasets, d.metadata.namespace, newRS.metadata.name!));
        const cref = controllerRefOf(rs);
        if (cref?.uid === d.metadata.uid && equalIgnoreHash(d.spec.template, rs.spec?.template)) {
          created = rs;
        } else {
          d.status.collisionCount = (d.status.collisionCount ?? 0) + 1;
          await this.writeStatus(d).catch(() => {});
          this.log('hash collision; collisionCount bumped', { deployment: keyOf(d), collisionCount: d.status.collisionCount });
          throw new RequeueError('hash collision');
        }
      } else if (isNamespaceTerminating(e)) {
        throw e;
      } else {
        const msg = `Failed to create new replica set "${newRS.metadata.name}": ${errorMessage(e)}`;
        if (hasProgressDeadline(d)) {
          setCondition(d.status, newCondition('Progressing', 'False', REASONS.FailedRSCreate, msg));
          await this.writeStatus(d).catch(() => {});
        }
        this.recorder.event(d, 'Warning', REASONS.FailedRSCreate, msg);
        throw e;
      }
    }
    if (!alreadyExists && newReplicas > 0) {
      this.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled up replica set ${created.metadata.name} from 0 to ${newReplicas}`);
    }
    let needsUpdate = setDeploymentRevision(d, newRevision);
    if (!alreadyExists && hasProgressDeadline(d)) {
      setCondition(d.status, newCondition('Progressing', 'True', REASONS.NewReplicaSet, `Created new replica set "${created.metadata.name}"`));
      needsUpdate = true;
    }
    if (needsUpdate) await this.writeStatus(d);
    return created;
  }

  /** Scales one ReplicaSet (and its replica annotations), recording ScalingReplicaSet when the size changed. */
  private async scaleReplicaSet(rs: KObject, newScale: number, d: KObject): Promise<{ scaled: boolean; rs: KObject }> {
    const sizeNeedsUpdate = replicasOf(rs) !== newScale;
    const max = replicasOf(d) + maxSurge(d);
    const annotationsNeedUpdate = replicasAnnotationsNeedUpdate(rs, replicasOf(d), max);
    if (!sizeNeedsUpdate && !annotationsNeedUpdate) return { scaled: false, rs };
    const oldScale = replicasOf(rs);
    const copy = structuredClone(rs);
    copy.spec.replicas = newScale;
    setReplicasAnnotations(copy, replicasOf(d), max);
    const updated = await this.client.update(ref.replicasets, copy.metadata.namespace, copy);
    if (sizeNeedsUpdate) {
      const op = oldScale < newScale ? 'up' : 'down';
      this.recorder.event(d, 'Normal', 'ScalingReplicaSet', `Scaled ${op} replica set ${updated.metadata.name} from ${oldScale} to ${newScale}`);
    }
    return { scaled: sizeNeedsUpdate, rs: updated };
  }

  private async scaleReplicaSetAndRecordEvent(rs: KObject, newScale: number, d: KObject): Promise<{ scaled: boolean; rs: KObject }> {
    if (replicasOf(rs) === newScale) return { scaled: false, rs };
    return await this.scaleReplicaSet(rs, newScale, d);
  }

  // ---- scaling (and paused deployments) ----

  private async isScalingEvent(d: KObject, rsList: KObject[]): Promise<boolean> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    for (const rs of filterActiveReplicaSets([...oldRSs, newRS])) {
      const desired = desiredReplicasAnnotation(rs);
      if (desired === undefined) continue;
      if (desired !== replicasOf(d)) return true;
    }
    return false;
  }

  /** sync: scale (proportionally mid-rollout), clean up when paused, write status. */
  private async sync(d: KObject, rsList: KObject[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.scale(d, newRS, oldRSs);
    if (d.spec?.paused && d.metadata.annotations?.[DEPRECATED_ROLLBACK_TO] === undefined) await this.cleanupDeployment(oldRSs, d);
    await this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  private async scale(d: KObject, newRS: KObject | undefined, oldRSs: KObject[]): Promise<void> {
    const activeOrLatest = findActiveOrLatest(newRS, oldRSs);
    if (activeOrLatest) {
      if (replicasOf(activeOrLatest) === replicasOf(d)) return;
      await this.scaleReplicaSetAndRecordEvent(activeOrLatest, replicasOf(d), d);
      return;
    }
    if (isSaturated(d, newRS)) {
      for (const old of filterActiveReplicaSets(oldRSs)) await this.scaleReplicaSetAndRecordEvent(old, 0, d);
      return;
    }
    if (!isRollingUpdate(d)) return;
    const all = filterActiveReplicaSets([...oldRSs, newRS]);
    const allReplicas = replicaCount(all);
    const allowed = replicasOf(d) > 0 ? replicasOf(d) + maxSurge(d) : 0;
    const toAdd = allowed - allReplicas;
    if (toAdd > 0) all.sort(bySizeNewer);
    else if (toAdd < 0) all.sort(bySizeOlder);
    let added = 0;
    const sizes = new Map<string, number>();
    for (const rs of all) {
      if (toAdd !== 0) {
        const p = getProportion(rs, d, toAdd, added);
        sizes.set(rs.metadata.name!, replicasOf(rs) + p);
        added += p;
      } else sizes.set(rs.metadata.name!, replicasOf(rs));
    }
    for (const [i, rs] of all.entries()) {
      if (i === 0 && toAdd !== 0) {
        const leftover = toAdd - added;
        sizes.set(rs.metadata.name!, Math.max(0, sizes.get(rs.metadata.name!)! + leftover));
      }
      await this.scaleReplicaSet(rs, sizes.get(rs.metadata.name!)!, d);
    }
  }

  // ---- rollouts ----

  private async rolloutRolling(d: KObject, rsList: KObject[]): Promise<ReconcileResult> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, true);
    let allRSs = [...oldRSs, newRS!];
    if (await this.reconcileNewReplicaSet(allRSs, newRS!, d)) return await this.syncRolloutStatus(allRSs, newRS, d);
    const scaledDown = await this.reconcileOldReplicaSets(allRSs, filterActiveReplicaSets(oldRSs), newRS!, d);
    if (scaledDown) return await this.syncRolloutStatus(allRSs, newRS, d);
    if (deploymentComplete(d, d.status)) await this.cleanupDeployment(oldRSs, d);
    allRSs = [...oldRSs, newRS!];
    return await this.syncRolloutStatus(allRSs, newRS, d);
  }

  private async reconcileNewReplicaSet(allRSs: KObject[], newRS: KObject, d: KObject): Promise<boolean> {
    if (replicasOf(newRS) === replicasOf(d)) return false;
    if (replicasOf(newRS) > replicasOf(d)) return (await this.scaleReplicaSetAndRecordEvent(newRS, replicasOf(d), d)).scaled;
    const count = newRSNewReplicas(d, allRSs, newRS);
    return (await this.scaleReplicaSetAndRecordEvent(newRS, count, d)).scaled;
  }

  private async reconcileOldReplicaSets(allRSs: KObject[], oldRSs: KObject[], newRS: KObject, d: KObject): Promise<boolean> {
    const oldPods = replicaCount(oldRSs);
    if (oldPods === 0) return false;
    const allPods = replicaCount(allRSs);
    const minAvail = replicasOf(d) - maxUnavailable(d);
    const newRSUnavailable = replicasOf(newRS) - (newRS.status?.availableReplicas ?? 0);
    const maxScaledDown = allPods - minAvail - newRSUnavailable;
    if (maxScaledDown <= 0) return false;
    // Unhealthy old replicas first: removing them costs no availability.
    const cleanup = await this.cleanupUnhealthyReplicas(oldRSs, d, maxScaledDown);
    // A status behind its spec: upstream gives up on old ReplicaSets this sync (the status update requeues).
    if (!cleanup) return false;
    const { rss, count: cleaned } = cleanup;
    const scaled = await this.scaleDownOldReplicaSetsForRollingUpdate([...rss, newRS], rss, d);
    return cleaned + scaled > 0;
  }

  /**
   * Scales old ReplicaSets down by their unavailable replicas (at most maxCleanup in all).
   * undefined, as upstream's "got invalid request to scale down" error, when a ReplicaSet's
   * status still counts more available replicas than its spec asks for (its controller has
   * not caught up with an earlier scale down): spec - available would be a scale UP, which
   * makes its controller create a pod for an old ReplicaSet in the middle of a rollout.
   */
  private async cleanupUnhealthyReplicas(oldRSs: KObject[], d: KObject, maxCleanup: number): Promise<{ rss: KObject[]; count: number } | undefined> {
    const rss = [...oldRSs].sort(byCreationTimestamp);
    let total = 0;
    for (const [i, rs] of rss.entries()) {
      if (total >= maxCleanup) break;
      if (replicasOf(rs) === 0) continue;
      const available = rs.status?.availableReplicas ?? 0;
      if (replicasOf(rs) === available) continue;
      const down = Math.min(maxCleanup - total, replicasOf(rs) - available);
      if (down < 0) return undefined;
      const { rs: updated } = await this.scaleReplicaSetAndRecordEvent(rs, replicasOf(rs) - down, d);
      total += down;
      rss[i] = updated;
    }
    return { rss, count: total };
  }

  private async scaleDownOldReplicaSetsForRollingUpdate(allRSs: KObject[], oldRSs: KObject[], d: KObject): Promise<number> {
    const minAvail = replicasOf(d) - maxUnavailable(d);
    const available = availableReplicaCount(allRSs);
    if (available <= minAvail) return 0;
    const total = available - minAvail;
    let done = 0;
    for (const rs of [...oldRSs].sort(byCreationTimestamp)) {
      if (done >= total) break;
      if (replicasOf(rs) === 0) continue;
      const down = Math.min(replicasOf(rs), total - done);
      await this.scaleReplicaSetAndRecordEvent(rs, replicasOf(rs) - down, d);
      done += down;
    }
    return done;
  }

  private async rolloutRecreate(d: KObject, rsList: KObject[], podMap: Map<string, KObject[]>): Promise<ReconcileResult> {
    let { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    let allRSs = [...oldRSs, newRS];
    let scaledDown = false;
    for (const rs of filterActiveReplicaSets(oldRSs)) {
      if ((await this.scaleReplicaSetAndRecordEvent(rs, 0, d)).scaled) scaledDown = true;
    }
    if (scaledDown) return await this.syncRolloutStatus(allRSs, newRS, d);
    if (oldPodsRunning(newRS, oldRSs, podMap)) return await this.syncRolloutStatus(allRSs, newRS, d);
    if (!newRS) {
      ({ newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, true));
      allRSs = [...oldRSs, newRS];
    }
    await this.scaleReplicaSetAndRecordEvent(newRS!, replicasOf(d), d);
    if (deploymentComplete(d, d.status)) await this.cleanupDeployment(oldRSs, d);
    return await this.syncRolloutStatus(allRSs, newRS, d);
  }

  /** The deprecated rollback annotation (apps/v1beta1's rollback subresource): the template of that revision, then the annotation removed. */
  private async rollback(d: KObject, rsList: KObject[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, true);
    const all = [...oldRSs, ...(newRS ? [newRS] : [])];
    let to = Number(d.metadata.annotations?.[DEPRECATED_ROLLBACK_TO]);
    if (!Number.isInteger(to)) to = 0;
    if (to === 0) {
      to = lastRevision(all);
      if (to === 0) {
        this.recorder.event(d, 'Warning', 'DeploymentRollbackRevisionNotFound', 'Unable to find last revision.');
        return await this.clearRollbackTo(d);
      }
    }
    for (const rs of all) {
      if (revisionOf(rs) !== to) continue;
      if (equalIgnoreHash(d.spec.template, rs.spec.template)) {
        this.recorder.event(d, 'Warning', 'DeploymentRollbackTemplateUnchanged', `The rollback revision contains the same template as current deployment "${d.metadata.name}"`);
      } else {
        d.spec.template = structuredClone(rs.spec.template);
        delete d.spec.template.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
        setDeploymentAnnotationsTo(d, rs);
        this.recorder.event(d, 'Normal', 'DeploymentRollback', `Rolled back deployment "${d.metadata.name}" to revision ${to}`);
      }
      return await this.clearRollbackTo(d);
    }
    this.recorder.event(d, 'Warning', 'DeploymentRollbackRevisionNotFound', 'Unable to find the revision to rollback to.');
    await this.clearRollbackTo(d);
  }

  private async clearRollbackTo(d: KObject): Promise<void> {
    delete d.metadata.annotations?.[DEPRECATED_ROLLBACK_TO];
    await this.client.update(ref.deployments, d.metadata.namespace, d);
  }

  /** cleanupDeployment: deletes the oldest old ReplicaSets beyond revisionHistoryLimit (only those scaled to zero and settled). */
  private async cleanupDeployment(oldRSs: KObject[], d: KObject): Promise<void> {
    if (!hasRevisionHistoryLimit(d)) return;
    const cleanable = oldRSs.filter((rs) => rs && !rs.metadata.deletionTimestamp);
    const diff = cleanable.length - d.spec.revisionHistoryLimit;
    if (diff <= 0) return;
    cleanable.sort(byRevision);
    for (let i = 0; i < diff; i++) {
      const rs = cleanable[i];
      if ((rs.status?.replicas ?? 0) !== 0 || replicasOf(rs) !== 0 || (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0) || rs.metadata.deletionTimestamp) continue;
      try {
        await this.client.delete(ref.replicasets, rs.metadata.namespace, rs.metadata.name!);
      } catch (e) {
        if (!(isStatusError(e) && e.code === 404)) throw e;
      }
    }
  }

  private async syncStatusOnly(d: KObject, rsList: KObject[]): Promise<void> {
    const { newRS, oldRSs } = await this.getAllReplicaSetsAndSyncRevision(d, rsList, false);
    await this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  private async syncDeploymentStatus(allRSs: (KObject | undefined)[], newRS: KObject | undefined, d: KObject): Promise<void> {
    const status = calculateStatus(allRSs, newRS, d);
    if (sameStatus(d.status, status)) return;
    d.status = status;
    await this.writeStatus(d);
  }

  /** syncRolloutStatus: status plus the Progressing condition; requeues to notice a passed deadline. */
  private async syncRolloutStatus(allRSs: (KObject | undefined)[], newRS: KObject | undefined, d: KObject, now: number = Date.now()): Promise<ReconcileResult> {
    const s = calculateStatus(allRSs, newRS, d);
    if (!hasProgressDeadline(d)) removeCondition(s, 'Progressing');
    const current = getCondition(d.status, 'Progressing');
    const complete = (s.replicas ?? 0) === (s.updatedReplicas ?? 0) && current?.reason === REASONS.NewRSAvailable;
    if (hasProgressDeadline(d) && !complete) {
      if (deploymentComplete(d, s)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" has successfully progressed.` : `Deployment "${d.metadata.name}" has successfully progressed.`;
        setCondition(s, newCondition('Progressing', 'True', REASONS.NewRSAvailable, msg, now));
      } else if (deploymentProgressing(d, s)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" is progressing.` : `Deployment "${d.metadata.name}" is progressing.`;
        const c = newCondition('Progressing', 'True', REASONS.ReplicaSetUpdated, msg, now);
        // Progress refreshes lastUpdateTime even with the same reason.
        if (current) {
          if (current.status === 'True') c.lastTransitionTime = current.lastTransitionTime;
          removeCondition(s, 'Progressing');
        }
        setCondition(s, c);
      } else if (deploymentTimedOut(d, s, now)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" has timed out progressing.` : `Deployment "${d.metadata.name}" has timed out progressing.`;
        setCondition(s, newCondition('Progressing', 'False', REASONS.TimedOut, msg, now));
      }
    }
    const failures = replicaFailures(allRSs, newRS);
    if (failures.length) setCondition(s, failures[0]);
    else removeCondition(s, 'ReplicaFailure');
    if (sameStatus(d.status, s)) return this.requeueStuckDeployment(d, s, now);
    d.status = s;
    await this.writeStatus(d);
  }

  /** A rollout without progress is looked at again when its deadline passes. */
  private requeueStuckDeployment(d: KObject, s: DeploymentStatus, now: number): ReconcileResult {
    const current = getCondition(d.status, 'Progressing');
    if (!hasProgressDeadline(d) || !current) return;
    if (deploymentComplete(d, s) || current.reason === REASONS.TimedOut) return;
    const after = Date.parse(current.lastUpdateTime ?? '') + d.spec.progressDeadlineSeconds * 1000 - now;
    if (!Number.isFinite(after)) return;
    if (after < 1000) return { requeue: true };
    return { requeueAfterMs: after + 1000 };
  }
}

function setDeploymentRevision(d: KObject, revision: string | undefined): boolean {
  if (revision === undefined) return false;
  d.metadata.annotations ??= {};
  if (d.metadata.annotations[REVISION_ANNOTATION] === revision) return false;
  d.metadata.annotations[REVISION_ANNOTATION] = revision;
  return true;
}

/** LastRevision: the second highest revision. */
function lastRevision(rss: KObject[]): number {
  let max = 0;
  let sec = 0;
  for (const rs of rss) {
    const v = revisionOf(rs);
    if (!Number.isFinite(v)) continue;
    if (v >= max) {
      sec = max;
      max = v;
    } else if (v > sec) sec = v;
  }
  return sec;
}

function oldPodsRunning(newRS: KObject | undefined, oldRSs: KObject[], podMap: Map<string, KObject[]>): boolean {
  if (actualReplicaCount(oldRSs) > 0) return true;
  for (const [uid, pods] of podMap) {
    if (newRS && newRS.metadata.uid === uid) continue;
    for (const p of pods) {
      const phase = p.status?.phase;
      if (phase === 'Failed' || phase === 'Succeeded') continue;
      return true;
    }
  }
  return false;
}

function replicaFailures(allRSs: (KObject | undefined)[], newRS: KObject | undefined): ReturnType<typeof newCondition>[] {
  const conv = (c: { type: string; status: 'True' | 'False' | 'Unknown'; lastTransitionTime?: string; reason?: string; message?: string }) => ({
    type: c.type,
    status: c.status,
    lastUpdateTime: c.lastTransitionTime,
    lastTransitionTime: c.lastTransitionTime,
    reason: c.reason,
    message: c.message,
  });
  const fromNew = (newRS?.status?.conditions ?? []).filter((c: { type: string }) => c.type === 'ReplicaFailure').map(conv);
  if (fromNew.length) return fromNew;
  const out = [];
  for (const rs of allRSs) for (const c of rs?.status?.conditions ?? []) if (c.type === 'ReplicaFailure') out.push(conv(c));
  return out;
}

/** calculateStatus: counts from the ReplicaSets' statuses, the Available condition, the conditions kept. */
export function calculateStatus(allRSs: (KObject | undefined)[], newRS: KObject | undefined, d: KObject): DeploymentStatus {
  const available = availableReplicaCount(allRSs);
  const total = replicaCount(allRSs);
  const s: DeploymentStatus = {
    observedGeneration: d.metadata.generation,
    replicas: actualReplicaCount(allRSs),
    updatedReplicas: actualReplicaCount([newRS]),
    readyReplicas: readyReplicaCount(allRSs),
    availableReplicas: available,
    unavailableReplicas: Math.max(0, total - available),
  };
  if (d.status?.collisionCount !== undefined) s.collisionCount = d.status.collisionCount;
  if (d.status?.conditions) s.conditions = d.status.conditions.map((c: object) => ({ ...c })) as DeploymentStatus['conditions'];
  if (available >= replicasOf(d) - maxUnavailable(d)) {
    setCondition(s, newCondition('Available', 'True', REASONS.MinimumReplicasAvailable, 'Deployment has minimum availability.'));
  } else {
    setCondition(s, newCondition('Available', 'False', REASONS.MinimumReplicasUnavailable, 'Deployment does not have minimum availability.'));
  }
  return s;
}

/** Go's omitempty on DeploymentStatus: zero counts are not written. */
function compactStatus(s: DeploymentStatus | undefined): DeploymentStatus {
  const out: DeploymentStatus = {};
  for (const [k, v] of Object.entries(s ?? {})) {
    if (v === undefined || v === null || v === 0 || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return out;
}

function sameStatus(a: DeploymentStatus | undefined, b: DeploymentStatus): boolean {
  return canonicalJSON(a ?? {}) === canonicalJSON(b);
}
