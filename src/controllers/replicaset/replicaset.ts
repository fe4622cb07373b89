// The ReplicaSet controller, and the ReplicationController controller (the same logic
// over core/v1 ReplicationControllers, as upstream runs it): keeps the number of active
// pods that a ReplicaSet controls equal to spec.replicas, adopting orphans its selector
// matches and releasing pods it no longer selects, and reports status. What must hold:
//   - Level-triggered: every sync recomputes from the informer caches; an event only
//     enqueues the ReplicaSet's key.
//   - Never double-creates or double-deletes because of a slow cache: creations and
//     deletions asked for are "expected" until the pod informer shows them; while any
//     are outstanding the replica count is not acted on (status still is).
//   - Creation is batched with slow start (1, 2, 4, ... at once), at most 500 per sync,
//     and stops at the first failing batch (a quota or a terminating namespace).
//   - On scale down, the pods deleted first are upstream's ActivePods ranking:
//     unscheduled, pending, unready, doubled-up on a node, recently ready, restarted,
//     newest.

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import { ref } from '../../client/resources.ts';
import type { Client, ResourceRef } from '../../client/types.ts';
import type { Informer } from '../../client/informer.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import { keyOf, splitKey, type Logger } from '../../client/util.ts';
import { selectorFromSet } from '../../api/selectors.ts';
import type { Controller, ControllerContext } from '../context.ts';
import {
  CONTROLLER_UID_INDEX,
  claimObjects,
  controllerRefOf,
  controllerUIDIndexFunc,
  errorMessage,
  isNamespaceTerminating,
  isPodActive,
  isPodAvailable,
  isPodReady,
  newControllerRef,
  PodControl,
  podKey,
  podsToDelete,
  selectorOf,
  slowStartBatch,
  SLOW_START_INITIAL_BATCH_SIZE,
  UIDTrackingExpectations,
} from './controller_utils.ts';

/** Upstream's BurstReplicas: creations or deletions per sync. */
export const BURST_REPLICAS = 500;
const STATUS_UPDATE_RETRIES = 1;

export interface ReplicaSetKind {
  /** --controllers name. */
  name: string;
  /** Event source component. */
  component: string;
  resource: ResourceRef;
  apiVersion: string;
  kind: string;
}

export const REPLICASET_KIND: ReplicaSetKind = { name: 'replicaset', component: 'replicaset-controller', resource: ref.replicasets, apiVersion: 'apps/v1', kind: 'ReplicaSet' };
export const REPLICATIONCONTROLLER_KIND: ReplicaSetKind = {
  name: 'replicationcontroller',
  component: 'replication-controller',
  resource: ref.replicationcontrollers,
  apiVersion: 'v1',
  kind: 'ReplicationController',
};

export interface ReplicaSetControllerOptions {
  /** Per-sync burst (default 500). */
  burstReplicas?: number;
}

export function replicaSetController(opts: ReplicaSetControllerOptions = {}): Controller {
  return { name: REPLICASET_KIND.name, start: (ctx, signal) => new ReplicaSetController(ctx, REPLICASET_KIND, opts).run(signal) };
}

export function replicationControllerController(opts: ReplicaSetControllerOptions = {}): Controller {
  return { name: REPLICATIONCONTROLLER_KIND.name, start: (ctx, signal) => new ReplicaSetController(ctx, REPLICATIONCONTROLLER_KIND, opts).run(signal) };
}

function replicasOf(rs: KObject): number {
  return rs.spec?.replicas ?? 1;
}

interface Condition {
  type: string;
  status: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

function nowTime(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The status upstream's calculateStatus computes from the claimed active pods. */
export function calculateReplicaSetStatus(rs: KObject, pods: KObject[], manageErr: unknown, now: number = Date.now()): Record<string, unknown> {
  const template = selectorFromSet(rs.spec?.template?.metadata?.labels ?? {});
  const minReady = rs.spec?.minReadySeconds ?? 0;
  let fully = 0;
  let ready = 0;
  let available = 0;
  for (const p of pods) {
    if (template.matches(p.metadata.labels)) fully++;
    if (isPodReady(p)) {
      ready++;
      if (isPodAvailable(p, minReady, now)) available++;
    }
  }
  let conditions: Condition[] = [...(rs.status?.conditions ?? [])];
  const failure = conditions.find((c) => c.type === 'ReplicaFailure');
  if (manageErr !== undefined && !failure) {
    const diff = pods.length - replicasOf(rs);
    const reason = diff < 0 ? 'FailedCreate' : diff > 0 ? 'FailedDelete' : '';
    conditions.push({ type: 'ReplicaFailure', status: 'True', lastTransitionTime: nowTime(), reason, message: errorMessage(manageErr) });
  } else if (manageErr === undefined && failure) {
    conditions = conditions.filter((c) => c.type !== 'ReplicaFailure');
  }
  // Zero counts are left out, as Go's omitempty writes them (replicas is always there).
  const status: Record<string, unknown> = { replicas: pods.length };
  if (fully) status.fullyLabeledReplicas = fully;
  if (ready) status.readyReplicas = ready;
  if (available) status.availableReplicas = available;
  if (rs.status?.observedGeneration !== undefined) status.observedGeneration = rs.status.observedGeneration;
  if (conditions.length) status.conditions = conditions;
  return status;
}

function sameStatus(rs: KObject, s: Record<string, unknown>): boolean {
  const cur = rs.status ?? {};
  return (
    (cur.replicas ?? 0) === s.replicas &&
    (cur.fullyLabeledReplicas ?? 0) === (s.fullyLabeledReplicas ?? 0) &&
    (cur.readyReplicas ?? 0) === (s.readyReplicas ?? 0) &&
    (cur.availableReplicas ?? 0) === (s.availableReplicas ?? 0) &&
    (rs.metadata.generation ?? 0) === (cur.observedGeneration ?? 0) &&
    JSON.stringify(cur.conditions ?? []) === JSON.stringify(s.conditions ?? [])
  );
}

export class ReplicaSetController {
  private readonly ctx: ControllerContext;
  private readonly kind: ReplicaSetKind;
  private readonly client: Client;
  private readonly log: Logger;
  private readonly queue: RateLimitingQueue<string>;
  readonly expectations = new UIDTrackingExpectations();
  private readonly rsInformer: Informer;
  private readonly podInformer: Informer;
  private readonly podControl: PodControl;
  private readonly burst: number;

  /** Registers informers and handlers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, kind: ReplicaSetKind, opts: ReplicaSetControllerOptions = {}) {
    this.ctx = ctx;
    this.kind = kind;
    this.client = ctx.client;
    this.log = ctx.log;
    this.burst = opts.burstReplicas ?? BURST_REPLICAS;
    this.queue = new RateLimitingQueue<string>({ name: kind.name });
    this.podControl = new PodControl(ctx.client, ctx.recorder(kind.component));
    this.rsInformer = ctx.factory.informerFor(kind.resource);
    this.podInformer = ctx.factory.informerFor(ref.pods);
    this.rsInformer.addIndexers({ [CONTROLLER_UID_INDEX]: controllerUIDIndexFunc });
    this.podInformer.addIndexers({ [CONTROLLER_UID_INDEX]: controllerUIDIndexFunc });
    this.rsInformer.addEventHandler({
      onAdd: (rs) => this.enqueue(rs),
      onUpdate: (_old, rs) => this.enqueue(rs),
      onDelete: (rs) => {
        const key = keyOf(rs);
        this.expectations.delete(key);
        this.queue.add(key);
      },
    });
    this.podInformer.addEventHandler({
      onAdd: (p) => this.addPod(p),
      onUpdate: (old, cur) => this.updatePod(old, cur),
      onDelete: (p) => this.deletePod(p),
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    if (!(await this.rsInformer.waitForSync(signal)) || !(await this.podInformer.waitForSync(signal))) return;
    await runWorkers(this.queue, this.ctx.workers, (key) => this.sync(key), signal, { log: this.log });
  }

  private enqueue(rs: KObject, afterMs = 0): void {
    if (afterMs > 0) this.queue.addAfter(keyOf(rs), afterMs);
    else this.queue.add(keyOf(rs));
  }

  /** The ReplicaSet a controller reference names, if it is ours and the same object (UID). */
  private resolveControllerRef(namespace: string | undefined, cref: { kind: string; name: string; uid: string } | undefined): KObject | undefined {
    if (!cref || cref.kind !== this.kind.kind) return undefined;
    const rs = this.rsInformer.lister.get(namespace, cref.name);
    return rs && rs.metadata.uid === cref.uid ? rs : undefined;
  }

  /** ReplicaSets whose (non-empty) selector matches an orphan pod. */
  private replicaSetsForPod(pod: KObject): KObject[] {
    const out: KObject[] = [];
    for (const rs of this.rsInformer.lister.list(pod.metadata.namespace)) {
      let sel;
      try {
        sel = selectorOf(rs);
      } catch {
        continue;
      }
      if (sel.empty || !sel.matches(pod.metadata.labels)) continue;
      out.push(rs);
    }
    return out;
  }

  private addPod(pod: KObject): void {
    if (pod.metadata.deletionTimestamp) {
      // Seen for the first time already being deleted (a restart): count it as deleted.
      this.deletePod(pod);
      return;
    }
    const cref = controllerRefOf(pod);
    if (cref) {
      const rs = this.resolveControllerRef(pod.metadata.namespace, cref);
      if (!rs) return;
      const key = keyOf(rs);
      this.expectations.creationObserved(key);
      this.queue.add(key);
      return;
    }
    for (const rs of this.replicaSetsForPod(pod)) this.enqueue(rs);
  }

  private updatePod(old: KObject, cur: KObject): void {
    if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
    const labelsChanged = JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {});
    if (cur.metadata.deletionTimestamp) {
      // A pod being deleted gracefully is as good as gone for the replica count.
      this.deletePod(cur);
      if (labelsChanged) this.deletePod(old);
      return;
    }
    const curRef = controllerRefOf(cur);
    const oldRef = controllerRefOf(old);
    const refChanged = JSON.stringify(curRef) !== JSON.stringify(oldRef);
    if (refChanged && oldRef) {
      const rs = this.resolveControllerRef(old.metadata.namespace, oldRef);
      if (rs) this.enqueue(rs);
    }
    if (curRef) {
      const rs = this.resolveControllerRef(cur.metadata.namespace, curRef);
      if (!rs) return;
      this.enqueue(rs);
      // Available after minReadySeconds: look again then.
      const minReady = rs.spec?.minReadySeconds ?? 0;
      if (!isPodReady(old) && isPodReady(cur) && minReady > 0) this.enqueue(rs, minReady * 1000 + 100);
      return;
    }
    if (labelsChanged || refChanged) for (const rs of this.replicaSetsForPod(cur)) this.enqueue(rs);
  }

  private deletePod(pod: KObject): void {
    const cref = controllerRefOf(pod);
    if (!cref) return;
    const rs = this.resolveControllerRef(pod.metadata.namespace, cref);
    if (!rs) return;
    const key = keyOf(rs);
    this.expectations.podDeletionObserved(key, podKey(pod));
    this.queue.add(key);
  }

  /** syncReplicaSet: claim pods, act on the difference (expectations permitting), write status. */
  async sync(key: string): Promise<void | { requeueAfterMs: number }> {
    const { namespace, name } = splitKey(key);
    const rs = this.rsInformer.lister.get(namespace, name);
    if (!rs) {
      this.expectations.delete(key);
      return;
    }
    const needsSync = this.expectations.satisfied(key);
    let selector;
    try {
      selector = selectorOf(rs);
    } catch (e) {
      this.log('invalid selector; not syncing', { [this.kind.name]: key, error: errorMessage(e) });
      return;
    }
    // Every pod of the namespace: owned ones that no longer match are released.
    const all = this.podInformer.lister.list(namespace).filter(isPodActive);
    const { claimed, errors } = await claimObjects(all, {
      client: this.client,
      resource: ref.pods,
      owner: rs,
      ownerKind: this.kind,
      selector,
      fetchOwner: () => this.client.get(this.kind.resource, namespace, name),
    });
    if (errors.length) throw errors[0];

    let manageErr: unknown;
    if (needsSync && !rs.metadata.deletionTimestamp) {
      try {
        await this.manageReplicas(claimed, rs, key);
      } catch (e) {
        manageErr = e;
      }
    }
    const status = calculateReplicaSetStatus(rs, claimed, manageErr);
    const updated = await this.updateStatus(rs, status);
    if (manageErr !== undefined) throw manageErr;
    const minReady = updated.spec?.minReadySeconds ?? 0;
    if (minReady > 0 && (updated.status?.readyReplicas ?? 0) === replicasOf(updated) && (updated.status?.availableReplicas ?? 0) !== replicasOf(updated)) {
      // Last line of defence against clock skew: look again once they must be available.
      return { requeueAfterMs: minReady * 1000 };
    }
  }

  private async manageReplicas(pods: KObject[], rs: KObject, key: string): Promise<void> {
    let diff = pods.length - replicasOf(rs);
    if (diff < 0) {
      diff = Math.min(-diff, this.burst);
      // Expect them before creating: the informer may see a pod before create() returns.
      this.expectations.expectCreations(key, diff);
      this.log('too few replicas', { [this.kind.name]: key, need: replicasOf(rs), creating: diff });
      const controllerRef = newControllerRef(rs, this.kind);
      const { successes, error } = await slowStartBatch(diff, SLOW_START_INITIAL_BATCH_SIZE, async () => {
        try {
          await this.podControl.createPod(rs, rs.spec?.template, controllerRef);
        } catch (e) {
          // A terminating namespace fails every create: nothing worth retrying or reporting.
          if (isNamespaceTerminating(e)) return;
          throw e;
        }
      });
      // Pods never attempted are not expected; nor are those that failed.
      const failed = error === undefined ? 0 : diff - successes;
      for (let i = 0; i < failed; i++) this.expectations.creationObserved(key);
      if (error !== undefined) throw error;
      return;
    }
    if (diff > 0) {
      diff = Math.min(diff, this.burst);
      this.log('too many replicas', { [this.kind.name]: key, need: replicasOf(rs), deleting: diff });
      const victims = podsToDelete(pods, this.indirectlyRelatedPods(rs), diff);
      this.expectations.expectPodDeletions(key, victims.map(podKey));
      const results = await Promise.allSettled(
        victims.map(async (p) => {
          try {
            await this.podControl.deletePod(rs, p);
          } catch (e) {
            // The informer will not see this deletion: stop expecting it.
            this.expectations.podDeletionObserved(key, podKey(p));
            if (!(isStatusError(e) && e.code === 404)) throw e;
          }
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  }

  /** Pods of every ReplicaSet sharing this one's controller (a Deployment's other ReplicaSets), for the co-location rank. */
  private indirectlyRelatedPods(rs: KObject): KObject[] {
    const owner = controllerRefOf(rs);
    const sets = owner ? this.rsInformer.lister.byIndex(CONTROLLER_UID_INDEX, owner.uid) : [rs];
    const out: KObject[] = [];
    for (const s of sets) out.push(...this.podInformer.lister.byIndex(CONTROLLER_UID_INDEX, s.metadata.uid!));
    return out;
  }

  /** updateReplicaSetStatus: writes status with observedGeneration unless nothing changed; one retry on a conflict. */
  private async updateStatus(rs: KObject, status: Record<string, unknown>): Promise<KObject> {
    if (sameStatus(rs, status)) return rs;
    status.observedGeneration = rs.metadata.generation;
    let cur = rs;
    for (let i = 0; ; i++) {
      try {
        return await this.client.update(this.kind.resource, cur.metadata.namespace, { ...cur, status }, { subresource: 'status' });
      } catch (e) {
        if (i >= STATUS_UPDATE_RETRIES) throw e;
        cur = await this.client.get(this.kind.resource, rs.metadata.namespace, rs.metadata.name!);
        if (cur.metadata.uid !== rs.metadata.uid) throw e;
      }
    }
  }
}
