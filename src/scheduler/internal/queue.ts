// The scheduling queue, as upstream's PriorityQueue: three places a pending pod can be.
//   - activeQ: pods to try now, ordered by the profile's QueueSort (priority, then age).
//   - backoffQ: pods that failed recently, each waiting 1 s doubling to 10 s per attempt
//     (podInitialBackoffSeconds / podMaxBackoffSeconds) before going back to activeQ.
//   - unschedulable pool: pods no node fits. They stay until a cluster event that one of
//     the plugins that rejected them registered for (with its queueing hint saying
//     "Queue") moves them to backoffQ or activeQ, or until they have waited 5 minutes.
// PreEnqueue plugins (schedulingGates) gate a pod before activeQ: a gated pod waits in
// the unschedulable pool without counting an attempt, until an update lifts the gate.
//
// What must hold: a pod is in at most one place (keyed namespace/name); a pod popped
// for scheduling is in none until it fails (addUnschedulableIfNotPresent) or binds; a
// move request during a pod's cycle sends it to backoffQ instead of the pool, so an
// event that happened while it was being tried is not lost.
//
// The queue also keeps the nominator: pods nominated to nodes by preemption, which
// lower-priority pods must leave room for.

import type { KObject } from '../../api/object.ts';
import type { Pod } from '../framework/api.ts';
import type { ClusterEvent, PodNominator, QueuedPodInfo } from '../framework/interface.ts';
import type { Status } from '../framework/status.ts';
import type { PodInfo } from '../framework/types.ts';
import { KeyedHeap } from './heap.ts';

export type RequeueDecision = 'Skip' | 'QueueAfterBackoff' | 'QueueImmediately';

export interface QueueOptions {
  /** QueueSort's less. */
  less(a: QueuedPodInfo, b: QueuedPodInfo): boolean;
  /** The pod's profile's PreEnqueue plugins; the status names the gating plugin. */
  preEnqueue(pi: PodInfo): Status | undefined;
  /** Whether `event` may make `qp` schedulable (its rejector plugins' queueing hints). */
  requeue(qp: QueuedPodInfo, event: ClusterEvent, oldObj: KObject | undefined, newObj: KObject | undefined): RequeueDecision;
  podInitialBackoffMs?: number;
  podMaxBackoffMs?: number;
  /** Pods in the unschedulable pool longer than this are retried anyway (5 minutes). */
  podMaxInUnschedulablePodsMs?: number;
  now?: () => number;
  /** Is the pod (by namespace/name) still unassigned in the informer cache? Used by the nominator. */
  isUnassigned?(pod: Pod): boolean;
}

export interface QueueStats {
  active: number;
  backoff: number;
  unschedulable: number;
  gated: number;
}

export class SchedulingQueue implements PodNominator {
  private readonly o: Required<Omit<QueueOptions, 'isUnassigned'>> & Pick<QueueOptions, 'isUnassigned'>;
  private readonly activeQ: KeyedHeap<QueuedPodInfo>;
  private readonly backoffQ: KeyedHeap<QueuedPodInfo>;
  private readonly unschedulable = new Map<string, QueuedPodInfo>();
  /** Keys of pods popped and not yet done. */
  private readonly inFlight = new Set<string>();
  private schedulingCycle = 0;
  private moveRequestCycle = -1;
  private closed = false;
  private waiters: (() => void)[] = [];
  private readonly nominatedPods = new Map<string, PodInfo[]>();
  private readonly nominatedPodToNode = new Map<string, string>();

  constructor(opts: QueueOptions) {
    this.o = {
      podInitialBackoffMs: 1000,
      podMaxBackoffMs: 10_000,
      podMaxInUnschedulablePodsMs: 5 * 60_000,
      now: Date.now,
      ...opts,
    };
    this.activeQ = new KeyedHeap((a, b) => this.o.less(a, b));
    this.backoffQ = new KeyedHeap((a, b) => this.backoffExpiry(a) < this.backoffExpiry(b));
  }

  // ---- adding and removing pods ----

  /** A new unscheduled pod (informer add). */
  add(pi: PodInfo): void {
    const qp = this.newQueued(pi);
    this.deleteEverywhere(pi.key);
    this.moveToActiveQ(qp);
    this.addNominatedPod(pi);
  }

  /** The pod changed (informer update of an unscheduled pod). */
  update(oldPod: Pod, pi: PodInfo): void {
    const key = pi.key;
    const inActive = this.activeQ.get(key);
    if (inActive) {
      inActive.podInfo = pi;
      this.activeQ.set(key, inActive);
      this.updateNominatedPod(oldPod, pi);
      return;
    }
    const inBackoff = this.backoffQ.get(key);
    if (inBackoff) {
      inBackoff.podInfo = pi;
      this.backoffQ.set(key, inBackoff);
      this.updateNominatedPod(oldPod, pi);
      return;
    }
    const inPool = this.unschedulable.get(key);
    if (inPool) {
      this.updateNominatedPod(oldPod, pi);
      inPool.podInfo = pi;
      if (isPodUpdated(oldPod, pi.pod)) {
        // The pod itself changed (tolerations, gates, labels, ...): try it again.
        this.unschedulable.delete(key);
        if (!inPool.gated && this.isBackingOff(inPool)) this.backoffQ.set(key, inPool);
        else this.moveToActiveQ(inPool);
      }
      return;
    }
    if (this.inFlight.has(key)) {
      // Being scheduled: the cycle's failure handling re-reads the pod.
      this.updateNominatedPod(oldPod, pi);
      return;
    }
    // Not in any queue: treat as new.
    this.moveToActiveQ(this.newQueued(pi));
    this.updateNominatedPod(oldPod, pi);
  }

  delete(pod: Pod): void {
    const key = `${pod.metadata.namespace ?? ''}/${pod.metadata.name ?? ''}`;
    this.deleteEverywhere(key);
    this.deleteNominatedPodIfExists(pod);
  }

  private deleteEverywhere(key: string): void {
    this.activeQ.delete(key);
    this.backoffQ.delete(key);
    this.unschedulable.delete(key);
  }

  private lastTimestamp = 0;

  /** Now, strictly after the last stamp: pods queued in the same millisecond keep their order. */
  private stamp(): number {
    const t = Math.max(this.o.now(), this.lastTimestamp + 0.001);
    this.lastTimestamp = t;
    return t;
  }

  private newQueued(pi: PodInfo): QueuedPodInfo {
    return {
      podInfo: pi,
      timestamp: this.stamp(),
      attempts: 0,
      initialAttemptTimestamp: 0,
      unschedulablePlugins: new Set(),
      pendingPlugins: new Set(),
      gated: false,
      cycle: 0,
    };
  }

  /** Runs PreEnqueue; a gated pod goes to the unschedulable pool. */
  private moveToActiveQ(qp: QueuedPodInfo): boolean {
    const s = this.o.preEnqueue(qp.podInfo);
    if (s) {
      qp.gated = true;
      qp.pendingPlugins = new Set([s.plugin]);
      qp.unschedulablePlugins = new Set();
      this.unschedulable.set(qp.podInfo.key, qp);
      return false;
    }
    qp.gated = false;
    this.activeQ.set(qp.podInfo.key, qp);
    this.wake();
    return true;
  }

  // ---- popping ----

  /** The next pod to schedule, or undefined when activeQ is empty. Counts an attempt. */
  tryPop(): QueuedPodInfo | undefined {
    const qp = this.activeQ.pop();
    if (!qp) return undefined;
    qp.attempts++;
    if (qp.initialAttemptTimestamp === 0) qp.initialAttemptTimestamp = this.o.now();
    this.schedulingCycle++;
    qp.cycle = this.schedulingCycle;
    this.inFlight.add(qp.podInfo.key);
    return qp;
  }

  /** Resolves when activeQ has a pod, the queue closes, or `signal` aborts. */
  waitForPod(signal: AbortSignal): Promise<void> {
    if (this.activeQ.size > 0 || this.closed || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private wake(): void {
    const w = this.waiters;
    if (w.length === 0) return;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The pod's cycle is over (bound, or re-queued). */
  done(key: string): void {
    this.inFlight.delete(key);
  }

  get currentCycle(): number {
    return this.schedulingCycle;
  }

  /**
   * A pod that failed its cycle goes back: to backoffQ when it failed by an error or a
   * cluster event arrived since its cycle began, else to the unschedulable pool.
   */
  addUnschedulableIfNotPresent(qp: QueuedPodInfo): void {
    const key = qp.podInfo.key;
    this.inFlight.delete(key);
    if (this.activeQ.has(key) || this.backoffQ.has(key) || this.unschedulable.has(key)) return;
    qp.timestamp = this.stamp();
    const cycle = qp.cycle;
    const noRejectors = qp.unschedulablePlugins.size === 0 && qp.pendingPlugins.size === 0;
    if (noRejectors || this.moveRequestCycle >= cycle) {
      this.backoffQ.set(key, qp);
    } else {
      this.unschedulable.set(key, qp);
    }
    this.addNominatedPod(qp.podInfo);
  }

  // ---- backoff ----

  /** podInitialBackoff · 2^(attempts-1), capped at podMaxBackoff. */
  backoffDuration(qp: QueuedPodInfo): number {
    let d = this.o.podInitialBackoffMs;
    for (let i = 1; i < qp.attempts; i++) {
      d *= 2;
      if (d > this.o.podMaxBackoffMs) return this.o.podMaxBackoffMs;
    }
    return d;
  }

  private backoffExpiry(qp: QueuedPodInfo): number {
    return qp.timestamp + this.backoffDuration(qp);
  }

  private isBackingOff(qp: QueuedPodInfo): boolean {
    return qp.attempts > 0 && this.backoffExpiry(qp) > this.o.now();
  }

  /** Moves pods whose backoff ended to activeQ (every second). */
  flushBackoffQCompleted(): void {
    const now = this.o.now();
    for (;;) {
      const qp = this.backoffQ.peek();
      if (!qp || this.backoffExpiry(qp) > now) break;
      this.backoffQ.pop();
      this.moveToActiveQ(qp);
    }
  }

  /** Retries pods that waited in the unschedulable pool too long (every 30 seconds). */
  flushUnschedulablePodsLeftover(): void {
    const now = this.o.now();
    const stale: QueuedPodInfo[] = [];
    for (const qp of this.unschedulable.values()) {
      if (!qp.gated && now - qp.timestamp > this.o.podMaxInUnschedulablePodsMs) stale.push(qp);
    }
    for (const qp of stale) this.requeueFromPool(qp, 'QueueAfterBackoff');
  }

  // ---- cluster events ----

  /** A cluster event happened: pods it may help leave the unschedulable pool. */
  moveAllToActiveOrBackoffQueue(event: ClusterEvent, oldObj?: KObject, newObj?: KObject, preCheck?: (pod: PodInfo) => boolean): void {
    const moved: [QueuedPodInfo, RequeueDecision][] = [];
    for (const qp of this.unschedulable.values()) {
      if (preCheck && !preCheck(qp.podInfo)) continue;
      const d = this.o.requeue(qp, event, oldObj, newObj);
      if (d !== 'Skip') moved.push([qp, d]);
    }
    for (const [qp, d] of moved) this.requeueFromPool(qp, d);
    this.moveRequestCycle = this.schedulingCycle;
  }

  /** Pods the caller names move now (the framework's Activate). */
  activate(keys: Iterable<string>): void {
    for (const k of keys) {
      const qp = this.unschedulable.get(k) ?? this.backoffQ.get(k);
      if (!qp) continue;
      this.unschedulable.delete(k);
      this.backoffQ.delete(k);
      this.moveToActiveQ(qp);
    }
  }

  private requeueFromPool(qp: QueuedPodInfo, d: RequeueDecision): void {
    const key = qp.podInfo.key;
    this.unschedulable.delete(key);
    if (qp.gated) {
      // Re-run PreEnqueue; still gated → back to the pool.
      this.moveToActiveQ(qp);
      return;
    }
    if (d === 'QueueAfterBackoff' && this.isBackingOff(qp)) this.backoffQ.set(key, qp);
    else this.moveToActiveQ(qp);
  }

  // ---- timers ----

  /** Runs the flush timers until `signal` aborts. */
  run(signal: AbortSignal): void {
    const backoff = setInterval(() => this.flushBackoffQCompleted(), 1000);
    const leftover = setInterval(() => this.flushUnschedulablePodsLeftover(), 30_000);
    backoff.unref();
    leftover.unref();
    signal.addEventListener(
      'abort',
      () => {
        clearInterval(backoff);
        clearInterval(leftover);
        this.close();
      },
      { once: true },
    );
  }

  close(): void {
    this.closed = true;
    this.wake();
  }

  stats(): QueueStats {
    let gated = 0;
    for (const qp of this.unschedulable.values()) if (qp.gated) gated++;
    return { active: this.activeQ.size, backoff: this.backoffQ.size, unschedulable: this.unschedulable.size - gated, gated };
  }

  /** Where a pod is: 'active' | 'backoff' | 'unschedulable' | 'gated' | 'inflight' | undefined. */
  whereIs(key: string): string | undefined {
    if (this.activeQ.has(key)) return 'active';
    if (this.backoffQ.has(key)) return 'backoff';
    const u = this.unschedulable.get(key);
    if (u) return u.gated ? 'gated' : 'unschedulable';
    if (this.inFlight.has(key)) return 'inflight';
    return undefined;
  }

  hasActive(): boolean {
    return this.activeQ.size > 0;
  }

  // ---- nominator ----

  nominatedPodsForNode(nodeName: string): readonly PodInfo[] {
    if (this.nominatedPods.size === 0) return EMPTY;
    return this.nominatedPods.get(nodeName) ?? EMPTY;
  }

  /** Nominates `pi` to `override` when given ('' clears), else to its status.nominatedNodeName. */
  addNominatedPod(pi: PodInfo, override?: string): void {
    this.deleteNominated(pi.uid);
    const nodeName = override ?? pi.pod.status?.nominatedNodeName ?? '';
    if (!nodeName) return;
    if (this.o.isUnassigned && !this.o.isUnassigned(pi.pod)) return;
    this.nominatedPodToNode.set(pi.uid, nodeName);
    let list = this.nominatedPods.get(nodeName);
    if (!list) this.nominatedPods.set(nodeName, (list = []));
    if (!list.some((p) => p.uid === pi.uid)) list.push(pi);
  }

  private updateNominatedPod(oldPod: Pod, pi: PodInfo): void {
    let override: string | undefined;
    // An update without a nomination right after the scheduler nominated it in memory keeps it.
    if (!oldPod.status?.nominatedNodeName && !pi.pod.status?.nominatedNodeName) override = this.nominatedPodToNode.get(pi.uid);
    this.addNominatedPod(pi, override);
  }

  deleteNominatedPodIfExists(pod: Pod): void {
    this.deleteNominated(pod.metadata.uid ?? '');
  }

  private deleteNominated(uid: string): void {
    const node = this.nominatedPodToNode.get(uid);
    if (node === undefined) return;
    this.nominatedPodToNode.delete(uid);
    const list = this.nominatedPods.get(node);
    if (!list) return;
    const i = list.findIndex((p) => p.uid === uid);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.nominatedPods.delete(node);
  }

  nominatedNodeOf(uid: string): string | undefined {
    return this.nominatedPodToNode.get(uid);
  }
}

const EMPTY: readonly PodInfo[] = Object.freeze([]);

/**
 * The pod changed in a way that may matter to scheduling: anything but its status,
 * resourceVersion, generation and managedFields (upstream's isPodUpdated).
 */
export function isPodUpdated(oldPod: Pod, newPod: Pod): boolean {
  const strip = (p: Pod) => {
    const { resourceVersion: _rv, generation: _g, managedFields: _m, ...meta } = p.metadata;
    return JSON.stringify({ metadata: meta, spec: p.spec });
  };
  return strip(oldPod) !== strip(newPod);
}
