// The Job controller, as upstream's pkg/controller/job in 1.32: pods for completions at
// parallelism, replacement of failed pods with an exponential back-off, backoffLimit
// (and backoffLimitPerIndex), activeDeadlineSeconds, Indexed completion mode, suspend,
// podFailurePolicy and successPolicy, and the terminal conditions: SuccessCriteriaMet or
// FailureTarget first, then Complete or Failed once no pod is left running.
//
// Finished pods are counted exactly once through the job-tracking finalizer every pod
// carries: a finished pod's UID goes into status.uncountedTerminatedPods (written
// first), then its finalizer is removed, then the UID moves into the succeeded/failed
// counters. A crash between any two steps is recovered from the persisted status, so
// no pod is counted twice or lost.
//
// Level-triggered: every reconcile recomputes from the Job and its pods in the cache;
// expectations keep it from acting on a cache that has not seen its own creates.

import type { KObject } from '../../api/object.ts';
import { labelSelectorFromAPI, type LabelSelector } from '../../api/selectors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';
import { keyOf, splitKey, type Logger } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { KeyedTimers, realClock, type Clock } from '../history/clock.ts';
import {
  claimPods,
  clone,
  compareActivePodsForDeletion,
  controllerRefOf,
  Expectations,
  isNamespaceTerminating,
  isNotFound,
  isPodActive,
  isPodReady,
  isPodTerminatingNotFinished,
  isTerminating,
  newControllerRef,
  podPhase,
  rfc3339,
  slowStartBatch,
  SLOW_START_INITIAL_BATCH_SIZE,
  timeOf,
} from '../history/pods.ts';
import {
  addCompletionIndexEnv,
  completionIndex,
  duplicatedIndexPods,
  firstPendingIndexes,
  formatIntervals,
  generateNameWithIndex,
  hasIndex,
  indexesOf,
  JOB_COMPLETION_INDEX_ANNOTATION,
  JOB_COMPLETION_INDEX_LABEL,
  JOB_INDEX_FAILURE_COUNT_ANNOTATION,
  parseIndexes,
  totalOf,
  UNKNOWN_INDEX,
  withIndexes,
  type Intervals,
} from './indexes.ts';
import { finishedTime, matchPodFailurePolicy, matchSuccessPolicy, nextBackoffRecord, remainingBackoff, type BackoffRecord } from './policy.ts';

export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
export const JOB_UID_LABEL = 'batch.kubernetes.io/controller-uid';
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';
export const LEGACY_JOB_UID_LABEL = 'controller-uid';
export const LEGACY_JOB_NAME_LABEL = 'job-name';
/** spec.managedBy of Jobs this controller manages (unset means the same). */
export const JOB_CONTROLLER_NAME = 'kubernetes.io/job-controller';

const KIND = 'Job';
const API_VERSION = 'batch/v1';
/** MaxUncountedPods: keeps status.uncountedTerminatedPods under ~20 KB. */
const MAX_UNCOUNTED_PODS = 500;
/** MaxPodCreateDeletePerSync. */
const MAX_POD_CREATE_DELETE_PER_SYNC = 500;

export interface JobControllerOptions {
  clock?: Clock;
  /**
   * Back-off before replacing failed pods: `base`·2^(failures-1) capped at `max`
   * (10 s and 6 minutes, the documented figures). Tests shorten it.
   */
  podFailureBackoffMs?: { base: number; max: number };
  /** Pod events are batched this long before a sync (1 s, upstream's syncJobBatchPeriod). */
  syncBatchPeriodMs?: number;
}

export interface JobCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastProbeTime: string;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
}

export function findCondition(job: KObject, type: string): JobCondition | undefined {
  return ((job.status?.conditions ?? []) as JobCondition[]).find((c) => c.type === type);
}

/** util.IsJobFinished: Complete or Failed is True. */
export function isJobFinished(job: KObject): boolean {
  return ((job.status?.conditions ?? []) as JobCondition[]).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

/** The finished condition (Complete or Failed, True), if any. */
export function finishedCondition(job: KObject): JobCondition | undefined {
  return ((job.status?.conditions ?? []) as JobCondition[]).find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

function hasFinalizer(pod: KObject): boolean {
  return (pod.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER);
}

function isIndexed(job: KObject): boolean {
  return job.spec?.completionMode === 'Indexed';
}

function completionsOf(job: KObject): number | undefined {
  const c = job.spec?.completions;
  return typeof c === 'number' ? c : undefined;
}

function parallelismOf(job: KObject): number {
  const p = job.spec?.parallelism;
  return typeof p === 'number' ? p : 1;
}

function backoffLimitOf(job: KObject): number {
  const b = job.spec?.backoffLimit;
  return typeof b === 'number' ? b : 6;
}

function perIndexLimit(job: KObject): number | undefined {
  const b = job.spec?.backoffLimitPerIndex;
  return isIndexed(job) && typeof b === 'number' ? b : undefined;
}

function suspended(job: KObject): boolean {
  return job.spec?.suspend === true;
}

/** onlyReplaceFailedPods: podReplacementPolicy Failed (the default with a podFailurePolicy). */
function onlyReplaceFailedPods(job: KObject): boolean {
  return job.spec?.podReplacementPolicy === 'Failed' || !!job.spec?.podFailurePolicy;
}

/** isPodFailed: Failed; or, when terminating pods are replaced, being deleted without having succeeded. */
export function isPodFailed(pod: KObject, job: KObject): boolean {
  if (podPhase(pod) === 'Failed') return true;
  if (onlyReplaceFailedPods(job)) return false;
  return isTerminating(pod) && podPhase(pod) !== 'Succeeded';
}

/** The Job's selector: its own, or (for a Job stored without one) the controller-uid label. */
function jobSelector(job: KObject): LabelSelector | undefined {
  try {
    return labelSelectorFromAPI(job.spec?.selector ?? { matchLabels: { [JOB_UID_LABEL]: job.metadata.uid } });
  } catch {
    return undefined;
  }
}

interface SyncCtx {
  job: KObject;
  key: string;
  pods: KObject[];
  activePods: KObject[];
  finishedCondition?: JobCondition;
  succeeded: number;
  failed: number;
  prevSucceededIndexes: Intervals;
  succeededIndexes: Intervals;
  failedIndexes?: Intervals;
  /** Failures seen so far per index (backoffLimitPerIndex). */
  indexFailures: Map<number, { count: number; last: number }>;
  newBackoffRecord: BackoffRecord;
  expectedRmFinalizers: Set<string>;
  uncounted: { succeeded: Set<string>; failed: Set<string> };
  terminating: number;
  ready: number;
  /** When to sync again (ms since the epoch, on the controller's clock): a deadline or the end of a back-off. */
  wakeAt?: number;
}

class JobSync {
  readonly client: Client;
  readonly recorder: EventRecorder;
  readonly log: Logger;
  readonly clock: Clock;
  readonly jobs: Informer;
  readonly pods: Informer;
  readonly expectations: Expectations;
  /** UIDs of pods whose finalizer this controller removed and whose update the cache has not shown yet. */
  readonly finalizerExpectations = new Map<string, Set<string>>();
  readonly backoffs = new Map<string, BackoffRecord>();
  readonly timers: KeyedTimers;
  readonly backoffBase: number;
  readonly backoffMax: number;
  /** The Job as this controller last wrote it, until the cache catches up (read-your-writes for status). */
  private readonly written = new Map<string, KObject>();

  constructor(ctx: ControllerContext, opts: JobControllerOptions) {
    this.client = ctx.client;
    this.recorder = ctx.recorder('job-controller');
    this.log = ctx.log;
    this.clock = opts.clock ?? realClock;
    this.jobs = ctx.factory.informerFor(ref.jobs);
    this.pods = ctx.factory.informerFor(ref.pods);
    this.expectations = new Expectations(this.clock);
    this.timers = new KeyedTimers(this.clock);
    this.backoffBase = opts.podFailureBackoffMs?.base ?? 10_000;
    this.backoffMax = opts.podFailureBackoffMs?.max ?? 360_000;
  }

  /** resolveControllerRef: the Job controlling `pod` (kind Job, same uid), if it is in the cache. */
  resolveJob(pod: KObject): KObject | undefined {
    const cref = controllerRefOf(pod);
    if (!cref || cref.kind !== KIND) return undefined;
    const job = this.jobs.lister.get(pod.metadata.namespace, cref.name);
    return job && job.metadata.uid === cref.uid ? job : undefined;
  }

  /** Jobs whose selector matches an orphan pod. */
  matchingJobs(pod: KObject): KObject[] {
    return this.jobs.lister.list(pod.metadata.namespace).filter((j) => {
      const sel = jobSelector(j);
      return sel !== undefined && sel.matches(pod.metadata.labels);
    });
  }

  finalizerRemovalObserved(key: string, uid: string | undefined): void {
    if (!uid) return;
    const s = this.finalizerExpectations.get(key);
    if (!s) return;
    s.delete(uid);
    if (s.size === 0) this.finalizerExpectations.delete(key);
  }

  /** The cached Job, or the one this controller wrote if that is newer (same uid). */
  private current(key: string, cached: KObject | undefined): KObject | undefined {
    const w = this.written.get(key);
    if (!cached || !w || w.metadata.uid !== cached.metadata.uid || rv(w) <= rv(cached)) {
      this.written.delete(key);
      return cached;
    }
    return w;
  }

  forget(key: string): void {
    this.written.delete(key);
    this.expectations.delete(key);
    this.finalizerExpectations.delete(key);
    this.backoffs.delete(key);
    this.timers.cancel(key);
  }

  private now(): number {
    return this.clock.now();
  }

  private condition(type: string, reason: string, message: string): JobCondition {
    const t = rfc3339(this.now());
    return { type, status: 'True', lastProbeTime: t, lastTransitionTime: t, reason, message };
  }

  /** One sync of the Job `key`; returns when to look again (ms since the epoch), if at a time. */
  async reconcile(key: string, orphans: (pod: KObject) => void): Promise<number | undefined> {
    const { namespace, name } = splitKey(key);
    const shared = this.current(key, this.jobs.lister.get(namespace, name));
    if (!shared) {
      this.forget(key);
      return;
    }
    if (shared.spec?.managedBy && shared.spec.managedBy !== JOB_CONTROLLER_NAME) return;
    if (isJobFinished(shared)) {
      this.backoffs.delete(key);
      this.timers.cancel(key);
      // A pod that still carries the finalizer (a crash after the condition was written) is released.
      for (const p of this.pods.lister.list(namespace)) if (hasFinalizer(p) && controllerRefOf(p)?.uid === shared.metadata.uid) orphans(p);
      return;
    }
    const mode = shared.spec?.completionMode ?? 'NonIndexed';
    if (mode !== 'NonIndexed' && mode !== 'Indexed') {
      this.recorder.event(shared, 'Warning', 'UnknownCompletionMode', 'Skipped Job sync because completion mode is unknown');
      return;
    }
    const selector = jobSelector(shared);
    if (!selector) return;
    const job = clone(shared);
    job.status ??= {};
    job.status.uncountedTerminatedPods ??= {};
    const uncountedStatus = job.status.uncountedTerminatedPods;
    uncountedStatus.succeeded ??= [];
    uncountedStatus.failed ??= [];

    const satisfied = this.expectations.satisfied(key);
    const pods = await this.getPodsForJob(job, selector);
    const activePods = pods.filter(isPodActive);
    const ctx: SyncCtx = {
      job,
      key,
      pods,
      activePods,
      succeeded: 0,
      failed: 0,
      prevSucceededIndexes: [],
      succeededIndexes: [],
      indexFailures: new Map(),
      newBackoffRecord: { failuresAfterLastSuccess: 0 },
      expectedRmFinalizers: new Set(this.finalizerExpectations.get(key) ?? []),
      uncounted: { succeeded: new Set(uncountedStatus.succeeded), failed: new Set(uncountedStatus.failed) },
      terminating: pods.filter(isPodTerminatingNotFinished).length,
      ready: activePods.filter(isPodReady).length,
    };
    let active = activePods.length;
    const { succeeded: newSucceeded, failed: newFailed } = this.newFinishedPods(ctx);
    const nonIgnoredFailed = newFailed.filter((p) => matchPodFailurePolicy(job.spec?.podFailurePolicy, p, perIndexLimit(job) !== undefined).countFailed).length;
    ctx.succeeded = (job.status.succeeded ?? 0) + newSucceeded.length + ctx.uncounted.succeeded.size;
    ctx.failed = (job.status.failed ?? 0) + nonIgnoredFailed + ctx.uncounted.failed.size;

    // First start (not while suspended).
    if (!job.status.startTime && !suspended(job)) job.status.startTime = rfc3339(this.now());
    ctx.newBackoffRecord = nextBackoffRecord(this.backoffs.get(key), newSucceeded, newFailed);

    const successMet = findCondition(job, 'SuccessCriteriaMet');
    if (successMet?.status === 'True') ctx.finishedCondition = successMet;
    if (!ctx.finishedCondition) {
      const target = findCondition(job, 'FailureTarget');
      if (target?.status === 'True') {
        ctx.finishedCondition = this.condition('Failed', target.reason ?? '', target.message ?? '');
      } else {
        const msg = this.failJobMessage(job, pods);
        if (msg) ctx.finishedCondition = this.condition('FailureTarget', 'PodFailurePolicy', msg);
      }
    }
    if (!ctx.finishedCondition) {
      if (ctx.failed > backoffLimitOf(job) || pastBackoffLimitOnFailure(job, pods)) {
        ctx.finishedCondition = this.condition('FailureTarget', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit');
      } else if (this.pastActiveDeadline(job)) {
        ctx.finishedCondition = this.condition('FailureTarget', 'DeadlineExceeded', 'Job was active longer than specified deadline');
      } else if (typeof job.spec?.activeDeadlineSeconds === 'number' && !suspended(job)) {
        const start = timeOf(job.status.startTime) ?? this.now();
        this.requeueAt(ctx, start + job.spec.activeDeadlineSeconds * 1000);
      }
    }

    if (isIndexed(job)) {
      const completions = completionsOf(job) ?? 0;
      ctx.prevSucceededIndexes = parseIndexes(job.status.completedIndexes, completions);
      const fresh = pods.filter((p) => podPhase(p) === 'Succeeded' && hasFinalizer(p)).map(completionIndex).filter((ix) => ix !== UNKNOWN_INDEX && ix < completions);
      ctx.succeededIndexes = withIndexes(ctx.prevSucceededIndexes, [...new Set(fresh)].sort((a, b) => a - b));
      ctx.succeeded = totalOf(ctx.succeededIndexes);
      const limit = perIndexLimit(job);
      if (limit !== undefined) {
        ctx.failedIndexes = this.failedIndexes(ctx, limit, completions);
        if (!ctx.finishedCondition) {
          const maxFailed = job.spec?.maxFailedIndexes;
          if (typeof maxFailed === 'number' && totalOf(ctx.failedIndexes) > maxFailed) {
            ctx.finishedCondition = this.condition('FailureTarget', 'MaxFailedIndexesExceeded', 'Job has exceeded the specified maximal number of failed indexes');
          } else if (totalOf(ctx.failedIndexes) > 0 && totalOf(ctx.failedIndexes) + totalOf(ctx.succeededIndexes) >= completions) {
            ctx.finishedCondition = this.condition('FailureTarget', 'FailedIndexes', 'Job has failed indexes');
          }
        }
      }
      if (!ctx.finishedCondition) {
        const msg = matchSuccessPolicy(job.spec?.successPolicy, completions, ctx.succeededIndexes);
        if (msg) ctx.finishedCondition = this.condition('SuccessCriteriaMet', 'SuccessPolicy', msg);
      }
    }

    let suspendCondChanged = false;
    let manageError: unknown;
    if (ctx.finishedCondition) {
      // Terminal: every active pod is deleted (keeping its finalizer, so it is counted).
      const { deletedReady, deleted, error } = await this.deleteActivePods(job, activePods);
      if (deleted !== active || !satisfied) ctx.finishedCondition = undefined;
      active -= deleted;
      ctx.terminating += deleted;
      ctx.ready -= deletedReady;
      manageError = error;
    } else {
      let manageCalled = false;
      if (satisfied && !job.metadata.deletionTimestamp) {
        try {
          active = await this.manageJob(ctx);
        } catch (e) {
          manageError = e;
          active = (e as { active?: number }).active ?? active;
        }
        manageCalled = true;
      }
      const completions = completionsOf(job);
      const complete = completions === undefined ? ctx.succeeded > 0 && active === 0 : ctx.succeeded >= completions && active === 0;
      if (complete) {
        ctx.finishedCondition = this.condition('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods');
      } else if (manageCalled) {
        if (suspended(job)) {
          if (this.ensureCondition(job, 'Suspended', 'True', 'JobSuspended', 'Job suspended')) {
            suspendCondChanged = true;
            this.recorder.event(job, 'Normal', 'Suspended', 'Job suspended');
          }
        } else if (this.ensureCondition(job, 'Suspended', 'False', 'JobResumed', 'Job resumed')) {
          suspendCondChanged = true;
          this.recorder.event(job, 'Normal', 'Resumed', 'Job resumed');
          // The deadline counts from the resume.
          job.status.startTime = rfc3339(this.now());
        }
      }
    }

    const needsStatusUpdate =
      suspendCondChanged || active !== (job.status.active ?? 0) || ctx.ready !== job.status.ready || ctx.terminating !== job.status.terminating;
    job.status.active = active;
    job.status.ready = ctx.ready;
    job.status.terminating = ctx.terminating;
    await this.trackJobStatusAndRemoveFinalizers(ctx, needsStatusUpdate);
    if (manageError) throw manageError;
    return ctx.wakeAt;
  }

  private requeueAt(ctx: SyncCtx, at: number): void {
    ctx.wakeAt = ctx.wakeAt === undefined ? at : Math.min(ctx.wakeAt, at);
  }

  /** getPodsForJob: claimed pods; adopted ones get the tracking finalizer. */
  private async getPodsForJob(job: KObject, selector: LabelSelector): Promise<KObject[]> {
    const pods = await claimPods(this.client, job, this.pods.lister.list(job.metadata.namespace), {
      apiVersion: API_VERSION,
      kind: KIND,
      selector,
      finalizers: [JOB_TRACKING_FINALIZER],
      canAdopt: async () => {
        try {
          const fresh = await this.client.get(ref.jobs, job.metadata.namespace, job.metadata.name!);
          return fresh.metadata.uid === job.metadata.uid && !fresh.metadata.deletionTimestamp;
        } catch (e) {
          if (isNotFound(e)) return false;
          throw e;
        }
      },
    });
    return pods;
  }

  /** getNewFinishedPods: pods with the finalizer, not yet in the uncounted lists, that succeeded or failed. */
  private newFinishedPods(ctx: SyncCtx): { succeeded: KObject[]; failed: KObject[] } {
    const valid = (p: KObject, uncounted: Set<string>) => {
      const uid = p.metadata.uid!;
      if (!hasFinalizer(p) || uncounted.has(uid) || ctx.expectedRmFinalizers.has(uid)) return false;
      if (isIndexed(ctx.job)) {
        const ix = completionIndex(p);
        if (ix === UNKNOWN_INDEX || ix >= (completionsOf(ctx.job) ?? 0)) return false;
      }
      return true;
    };
    return {
      succeeded: ctx.pods.filter((p) => valid(p, ctx.uncounted.succeeded) && podPhase(p) === 'Succeeded'),
      failed: ctx.pods.filter((p) => valid(p, ctx.uncounted.failed) && isPodFailed(p, ctx.job)),
    };
  }

  private failJobMessage(job: KObject, pods: KObject[]): string | undefined {
    if (!job.spec?.podFailurePolicy) return undefined;
    for (const p of pods) {
      if (!isPodFailed(p, job)) continue;
      const m = matchPodFailurePolicy(job.spec.podFailurePolicy, p, perIndexLimit(job) !== undefined);
      if (m.failJobMessage) return m.failJobMessage;
    }
    return undefined;
  }

  private pastActiveDeadline(job: KObject): boolean {
    const ads = job.spec?.activeDeadlineSeconds;
    const start = timeOf(job.status?.startTime);
    if (typeof ads !== 'number' || start === undefined || suspended(job)) return false;
    return this.now() - start >= ads * 1000;
  }

  /**
   * The indexes that failed for good (backoffLimitPerIndex): more counted failures than
   * the limit, or a FailIndex rule. Failures per index come from the failed pods and the
   * failure count each pod was created with.
   */
  private failedIndexes(ctx: SyncCtx, limit: number, completions: number): Intervals {
    const job = ctx.job;
    const failed = new Set<number>();
    for (const iv of parseIndexes(job.status?.failedIndexes, completions)) for (let x = iv.first; x <= iv.last; x++) failed.add(x);
    for (const p of ctx.pods) {
      const ix = completionIndex(p);
      if (ix === UNKNOWN_INDEX || ix >= completions || !isPodFailed(p, job)) continue;
      const m = matchPodFailurePolicy(job.spec?.podFailurePolicy, p, true);
      const before = Number(p.metadata.annotations?.[JOB_INDEX_FAILURE_COUNT_ANNOTATION] ?? '0') || 0;
      const count = before + (m.countFailed ? 1 : 0);
      const prev = ctx.indexFailures.get(ix);
      const last = finishedTime(p);
      if (!prev || count > prev.count || (count === prev.count && last > prev.last)) ctx.indexFailures.set(ix, { count, last });
      if (m.action === 'FailIndex' || count > limit) failed.add(ix);
    }
    return withIndexes([], [...failed].sort((a, b) => a - b));
  }

  /** ensureJobConditionStatus: true when the condition list changed (a False condition is never added, only updated). */
  private ensureCondition(job: KObject, type: string, status: 'True' | 'False', reason: string, message: string): boolean {
    const conds = (job.status.conditions ??= []) as JobCondition[];
    const c = conds.find((x) => x.type === type);
    const t = rfc3339(this.now());
    if (c) {
      if (c.status !== status || c.reason !== reason || c.message !== message) {
        Object.assign(c, { status, reason, message, lastProbeTime: t, lastTransitionTime: t });
        return true;
      }
      return false;
    }
    if (status === 'False') return false;
    conds.push({ type, status, lastProbeTime: t, lastTransitionTime: t, reason, message });
    return true;
  }

  /** manageJob: creates or deletes pods towards min(parallelism, remaining completions); returns the active count. */
  private async manageJob(ctx: SyncCtx): Promise<number> {
    const job = ctx.job;
    const key = ctx.key;
    let active = ctx.activePods.length;
    if (suspended(job)) {
      const toDelete = activePodsForRemoval(job, ctx.activePods, active);
      this.expectations.expectDeletions(key, toDelete.length);
      const r = await this.deleteJobPods(job, key, toDelete);
      active -= r.removed;
      ctx.terminating += r.removed;
      ctx.ready -= r.removedReady;
      if (r.error) throw Object.assign(asError(r.error), { active });
      return active;
    }
    const parallelism = parallelismOf(job);
    const completions = completionsOf(job);
    let wantActive: number;
    if (completions === undefined) wantActive = ctx.succeeded > 0 ? active : parallelism;
    else wantActive = Math.max(0, Math.min(completions - ctx.succeeded, parallelism));

    const rmAtLeast = Math.max(0, active - wantActive);
    const toDelete = activePodsForRemoval(job, ctx.activePods, rmAtLeast).slice(0, MAX_POD_CREATE_DELETE_PER_SYNC);
    if (toDelete.length > 0) {
      this.expectations.expectDeletions(key, toDelete.length);
      const r = await this.deleteJobPods(job, key, toDelete);
      active -= r.removed;
      ctx.terminating += r.removed;
      ctx.ready -= r.removedReady;
      if (r.error) throw Object.assign(asError(r.error), { active });
      return active;
    }

    const terminating = onlyReplaceFailedPods(job) ? ctx.terminating : 0;
    let diff = wantActive - terminating - active;
    if (diff <= 0) return active;
    const perIndex = perIndexLimit(job) !== undefined;
    if (!perIndex) {
      const wait = remainingBackoff(ctx.newBackoffRecord.failuresAfterLastSuccess, ctx.newBackoffRecord.lastFailureTime, this.now(), this.backoffBase, this.backoffMax);
      if (wait > 0) {
        this.requeueAt(ctx, this.now() + wait);
        return active;
      }
    }
    diff = Math.min(diff, MAX_POD_CREATE_DELETE_PER_SYNC);
    let indexes: number[] = [];
    if (isIndexed(job)) {
      let nonPending = withIndexes(ctx.succeededIndexes, indexesOf(ctx.activePods));
      if (ctx.failedIndexes) nonPending = withIndexes([...nonPending, ...ctx.failedIndexes], []);
      if (onlyReplaceFailedPods(job)) nonPending = withIndexes(nonPending, indexesOf(ctx.pods.filter(isPodTerminatingNotFinished)));
      indexes = firstPendingIndexes(nonPending, diff, completions ?? 0);
      if (perIndex) {
        // Each index waits out its own back-off.
        let minWait: number | undefined;
        indexes = indexes.filter((ix) => {
          const f = ctx.indexFailures.get(ix);
          const wait = f ? remainingBackoff(f.count, f.last, this.now(), this.backoffBase, this.backoffMax) : 0;
          if (wait > 0) minWait = minWait === undefined ? wait : Math.min(minWait, wait);
          return wait === 0;
        });
        if (indexes.length === 0 && minWait !== undefined) {
          this.requeueAt(ctx, this.now() + minWait);
          return active;
        }
      }
      diff = indexes.length;
      if (diff === 0) return active;
    }

    this.expectations.expectCreations(key, diff);
    active += diff;
    const template = clone(job.spec?.template ?? {});
    template.metadata ??= {};
    template.spec ??= {};
    if (isIndexed(job)) addCompletionIndexEnv(template.spec);
    const finalizers: string[] = [...(template.metadata.finalizers ?? [])];
    if (!finalizers.includes(JOB_TRACKING_FINALIZER)) finalizers.push(JOB_TRACKING_FINALIZER);
    const labels: Record<string, string> = { ...(template.metadata.labels ?? {}) };
    if (!job.spec?.manualSelector) {
      labels[JOB_UID_LABEL] ??= job.metadata.uid!;
      labels[JOB_NAME_LABEL] ??= job.metadata.name!;
      labels[LEGACY_JOB_UID_LABEL] ??= job.metadata.uid!;
      labels[LEGACY_JOB_NAME_LABEL] ??= job.metadata.name!;
    }
    const { attempted, error } = await slowStartBatch(diff, SLOW_START_INITIAL_BATCH_SIZE, async (i) => {
      const ix = isIndexed(job) ? indexes[i] : UNKNOWN_INDEX;
      const pod: KObject = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: ix === UNKNOWN_INDEX ? `${job.metadata.name}-` : generateNameWithIndex(job.metadata.name!, ix),
          namespace: job.metadata.namespace,
          labels: { ...labels },
          annotations: { ...(template.metadata.annotations ?? {}) },
          finalizers,
          ownerReferences: [newControllerRef(job, API_VERSION, KIND)],
        },
        spec: clone(template.spec),
      };
      if (ix !== UNKNOWN_INDEX) {
        pod.metadata.annotations![JOB_COMPLETION_INDEX_ANNOTATION] = String(ix);
        pod.metadata.labels![JOB_COMPLETION_INDEX_LABEL] = String(ix);
        pod.spec.hostname = `${job.metadata.name}-${ix}`;
        if (perIndex) pod.metadata.annotations![JOB_INDEX_FAILURE_COUNT_ANNOTATION] = String(ctx.indexFailures.get(ix)?.count ?? 0);
      }
      if (Object.keys(pod.metadata.annotations!).length === 0) delete pod.metadata.annotations;
      try {
        const created = await this.client.create(ref.pods, job.metadata.namespace, pod);
        this.recorder.eventf(job, 'Normal', 'SuccessfulCreate', 'Created pod: %s', created.metadata.name);
      } catch (e) {
        this.expectations.creationObserved(key);
        active--;
        if (isNamespaceTerminating(e)) return;
        this.recorder.eventf(job, 'Warning', 'FailedCreate', 'Error creating: %s', e);
        throw e;
      }
    });
    if (error) {
      // Creates never attempted (slow start stopped) are not expected.
      const skipped = diff - attempted;
      for (let i = 0; i < skipped; i++) this.expectations.creationObserved(key);
      active -= skipped;
      throw Object.assign(asError(error), { active });
    }
    return active;
  }

  /** deleteJobPods: removes the finalizer (the pod is not counted), then deletes. */
  private async deleteJobPods(job: KObject, key: string, pods: KObject[]): Promise<{ removed: number; removedReady: number; error?: unknown }> {
    let removed = 0;
    let removedReady = 0;
    let error: unknown;
    await Promise.all(
      pods.map(async (pod) => {
        try {
          if (hasFinalizer(pod)) await this.removeFinalizer(pod);
          await this.client.delete(ref.pods, pod.metadata.namespace, pod.metadata.name!, { preconditions: { uid: pod.metadata.uid } });
          this.recorder.eventf(job, 'Normal', 'SuccessfulDelete', 'Deleted pod: %s', pod.metadata.name);
          removed++;
          if (isPodReady(pod)) removedReady++;
        } catch (e) {
          this.expectations.deletionObserved(key);
          if (isNotFound(e)) {
            removed++;
            return;
          }
          this.recorder.eventf(job, 'Warning', 'FailedDelete', 'Error deleting: %s', e);
          error ??= e;
        }
      }),
    );
    return { removed, removedReady, error };
  }

  /** deleteActivePods: deletes keeping the finalizers (the Job is terminal; these are counted as failed). */
  private async deleteActivePods(job: KObject, pods: KObject[]): Promise<{ deleted: number; deletedReady: number; error?: unknown }> {
    let deleted = 0;
    let deletedReady = 0;
    let error: unknown;
    await Promise.all(
      pods.map(async (pod) => {
        try {
          await this.client.delete(ref.pods, pod.metadata.namespace, pod.metadata.name!, { preconditions: { uid: pod.metadata.uid } });
          this.recorder.eventf(job, 'Normal', 'SuccessfulDelete', 'Deleted pod: %s', pod.metadata.name);
          deleted++;
        } catch (e) {
          if (isNotFound(e)) deleted++;
          else error ??= e;
        }
        if (isPodReady(pod)) deletedReady++;
      }),
    );
    return { deleted, deletedReady, error };
  }

  async removeFinalizer(pod: KObject): Promise<void> {
    await this.client.patch(ref.pods, pod.metadata.namespace, pod.metadata.name!, 'strategic', {
      metadata: { [`$deleteFromPrimitiveList/finalizers`]: [JOB_TRACKING_FINALIZER] },
    });
  }

  /**
   * trackJobStatusAndRemoveFinalizers: finished pods into uncountedTerminatedPods (and
   * the interim condition) — written — then their finalizers removed, then counted;
   * finally the terminal condition once nothing is uncounted or terminating.
   */
  private async trackJobStatusAndRemoveFinalizers(ctx: SyncCtx, needsFlushIn: boolean): Promise<void> {
    let needsFlush = needsFlushIn;
    let job = ctx.job;
    const indexed = isIndexed(job);
    const completions = completionsOf(job) ?? 0;
    const uncountedStatus = job.status.uncountedTerminatedPods as { succeeded: string[]; failed: string[] };
    const podsToRemoveFinalizer: KObject[] = [];
    const newSucceededIndexes: number[] = [];
    const pods = indexed ? [...ctx.pods].sort((a, b) => completionIndex(a) - completionIndex(b)) : ctx.pods;
    const uidsWithFinalizer = new Set<string>();
    for (const p of pods) if (hasFinalizer(p) && !ctx.expectedRmFinalizers.has(p.metadata.uid!)) uidsWithFinalizer.add(p.metadata.uid!);
    if (cleanUncountedPodsWithoutFinalizers(job.status, uidsWithFinalizer)) needsFlush = true;
    let reachedMax = false;
    for (const pod of pods) {
      const uid = pod.metadata.uid!;
      if (!hasFinalizer(pod) || ctx.expectedRmFinalizers.has(uid)) continue;
      const considerFailed = isPodFailed(pod, job);
      if (!(job.metadata.deletionTimestamp || ctx.finishedCondition || podPhase(pod) === 'Succeeded' || considerFailed)) continue;
      podsToRemoveFinalizer.push(pod);
      if (podPhase(pod) === 'Succeeded' && !ctx.uncounted.failed.has(uid)) {
        if (indexed) {
          const ix = completionIndex(pod);
          if (ix !== UNKNOWN_INDEX && ix < completions && !hasIndex(ctx.prevSucceededIndexes, ix)) {
            newSucceededIndexes.push(ix);
            needsFlush = true;
          }
        } else if (!ctx.uncounted.succeeded.has(uid)) {
          needsFlush = true;
          uncountedStatus.succeeded.push(uid);
        }
      } else if (considerFailed || (ctx.finishedCondition && ctx.finishedCondition.type !== 'SuccessCriteriaMet' && ctx.finishedCondition.type !== 'Complete')) {
        // Once the Job is terminal (failed), every pod that had not finished counts as failed.
        const ix = completionIndex(pod);
        if (!ctx.uncounted.failed.has(uid) && (!indexed || (ix !== UNKNOWN_INDEX && ix < completions))) {
          const m = matchPodFailurePolicy(job.spec?.podFailurePolicy, pod, perIndexLimit(job) !== undefined);
          if (m.countFailed) {
            needsFlush = true;
            uncountedStatus.failed.push(uid);
          }
        }
      }
      if (newSucceededIndexes.length + uncountedStatus.succeeded.length + uncountedStatus.failed.length >= MAX_UNCOUNTED_PODS) {
        reachedMax = true;
        break;
      }
    }
    if (indexed) {
      ctx.succeededIndexes = withIndexes(ctx.succeededIndexes, [...new Set(newSucceededIndexes)].sort((a, b) => a - b));
      const s = formatIntervals(ctx.succeededIndexes);
      if (s !== (job.status.completedIndexes ?? '')) needsFlush = true;
      job.status.succeeded = totalOf(ctx.succeededIndexes);
      job.status.completedIndexes = s;
      if (ctx.failedIndexes) {
        const f = formatIntervals(ctx.failedIndexes);
        if (f !== job.status.failedIndexes) {
          job.status.failedIndexes = f;
          needsFlush = true;
        }
      }
    }
    if (ctx.finishedCondition?.type === 'FailureTarget') {
      (job.status.conditions ??= []).push(ctx.finishedCondition);
      needsFlush = true;
      ctx.finishedCondition = this.condition('Failed', ctx.finishedCondition.reason ?? '', ctx.finishedCondition.message ?? '');
    }
    if (ctx.finishedCondition?.type === 'SuccessCriteriaMet') {
      if (findCondition(job, 'SuccessCriteriaMet')?.status !== 'True') {
        (job.status.conditions ??= []).push(ctx.finishedCondition);
        needsFlush = true;
      }
      ctx.finishedCondition = this.condition('Complete', ctx.finishedCondition.reason ?? '', ctx.finishedCondition.message ?? '');
    }

    // Flush what is uncounted before removing any finalizer: a crash in between loses nothing.
    if (needsFlush) {
      job = await this.updateStatus(job);
      this.backoffs.set(ctx.key, ctx.newBackoffRecord);
      needsFlush = false;
    }
    let rmError: unknown;
    if (podsToRemoveFinalizer.length > 0) {
      const expected = this.finalizerExpectations.get(ctx.key) ?? new Set<string>();
      for (const p of podsToRemoveFinalizer) expected.add(p.metadata.uid!);
      this.finalizerExpectations.set(ctx.key, expected);
      await Promise.all(
        podsToRemoveFinalizer.map(async (p) => {
          try {
            await this.removeFinalizer(p);
            uidsWithFinalizer.delete(p.metadata.uid!);
          } catch (e) {
            this.finalizerRemovalObserved(ctx.key, p.metadata.uid);
            if (isNotFound(e)) {
              uidsWithFinalizer.delete(p.metadata.uid!);
              return;
            }
            rmError ??= e;
          }
        }),
      );
    }
    if (cleanUncountedPodsWithoutFinalizers(job.status, uidsWithFinalizer)) needsFlush = true;
    if (rmError) {
      if (needsFlush) await this.updateStatus(job);
      throw rmError;
    }
    ctx.job = job;
    const finished = !reachedMax && this.enactJobFinished(ctx);
    if (finished) needsFlush = true;
    if (needsFlush) {
      const written = await this.updateStatus(ctx.job);
      if (finished) this.recordJobFinished(written, ctx.finishedCondition!);
    }
  }

  /** enactJobFinished: the Complete or Failed condition, once every pod is counted and none is terminating. */
  private enactJobFinished(ctx: SyncCtx): boolean {
    const c = ctx.finishedCondition;
    if (!c) return false;
    const u = ctx.job.status.uncountedTerminatedPods ?? {};
    if ((u.succeeded?.length ?? 0) + (u.failed?.length ?? 0) > 0) return false;
    if (ctx.terminating > 0) return false;
    this.ensureCondition(ctx.job, c.type, 'True', c.reason ?? '', c.message ?? '');
    if (c.type === 'Complete') ctx.job.status.completionTime = findCondition(ctx.job, 'Complete')!.lastTransitionTime;
    return true;
  }

  private recordJobFinished(job: KObject, c: JobCondition): void {
    if (c.type === 'Complete') {
      const completions = completionsOf(job);
      if (completions !== undefined && (job.status?.succeeded ?? 0) > completions) {
        this.recorder.event(job, 'Warning', 'TooManySucceededPods', 'Too many succeeded pods running after completion count reached');
      }
      this.recorder.event(job, 'Normal', 'Completed', 'Job completed');
    } else {
      this.recorder.event(job, 'Warning', c.reason ?? 'Failed', c.message ?? '');
    }
  }

  /** PUT status; the answer carries the new resourceVersion for the next write. Zero counters are omitted, as the API does. */
  private async updateStatus(job: KObject): Promise<KObject> {
    const status = { ...job.status };
    for (const k of ['active', 'succeeded', 'failed']) if (!status[k]) delete status[k];
    if (!status.completedIndexes) delete status.completedIndexes;
    const u = status.uncountedTerminatedPods ?? {};
    status.uncountedTerminatedPods = {
      ...(u.succeeded?.length ? { succeeded: u.succeeded } : {}),
      ...(u.failed?.length ? { failed: u.failed } : {}),
    };
    const written = await this.client.update(ref.jobs, job.metadata.namespace, { ...job, status }, { subresource: 'status' });
    this.written.set(keyOf(written), clone(written));
    // Keep working with full lists (the server may drop empty ones).
    written.status ??= {};
    written.status.uncountedTerminatedPods ??= {};
    written.status.uncountedTerminatedPods.succeeded ??= [];
    written.status.uncountedTerminatedPods.failed ??= [];
    return written;
  }
}

function rv(o: KObject): bigint {
  try {
    return BigInt(o.metadata.resourceVersion ?? '0');
  } catch {
    return 0n;
  }
}

/** cleanUncountedPodsWithoutFinalizers: UIDs whose finalizer is gone move into the counters. */
function cleanUncountedPodsWithoutFinalizers(status: Record<string, any>, withFinalizer: Set<string>): boolean {
  const u = status.uncountedTerminatedPods;
  let updated = false;
  const keepS = (u.succeeded as string[]).filter((x) => withFinalizer.has(x));
  if (keepS.length !== u.succeeded.length) {
    status.succeeded = (status.succeeded ?? 0) + u.succeeded.length - keepS.length;
    u.succeeded = keepS;
    updated = true;
  }
  const keepF = (u.failed as string[]).filter((x) => withFinalizer.has(x));
  if (keepF.length !== u.failed.length) {
    status.failed = (status.failed ?? 0) + u.failed.length - keepF.length;
    u.failed = keepF;
    updated = true;
  }
  return updated;
}

/** pastBackoffLimitOnFailure: with restartPolicy OnFailure, container restarts count against backoffLimit. */
function pastBackoffLimitOnFailure(job: KObject, pods: KObject[]): boolean {
  if (job.spec?.template?.spec?.restartPolicy !== 'OnFailure') return false;
  let restarts = 0;
  for (const p of pods) {
    const phase = podPhase(p);
    if (phase !== 'Running' && phase !== 'Pending') continue;
    for (const cs of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) restarts += cs.restartCount ?? 0;
  }
  const limit = backoffLimitOf(job);
  return limit === 0 ? restarts > 0 : restarts >= limit;
}

/** activePodsForRemoval: duplicated/invalid indexes first, then by ActivePods order. */
function activePodsForRemoval(job: KObject, pods: KObject[], rmAtLeast: number): KObject[] {
  let rm: KObject[] = [];
  let left: KObject[] = pods;
  if (isIndexed(job)) {
    const d = duplicatedIndexPods(pods, completionsOf(job) ?? 0);
    rm = d.remove;
    left = d.keep;
  }
  if (rm.length < rmAtLeast) {
    const sorted = [...left].sort(compareActivePodsForDeletion);
    rm = [...rm, ...sorted.slice(0, rmAtLeast - rm.length)];
  }
  return rm;
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

export function newJobController(opts: JobControllerOptions = {}): Controller {
  return {
    name: 'job',
    start(ctx: ControllerContext, signal: AbortSignal): Promise<void> {
      const s = new JobSync(ctx, opts);
      const batch = opts.syncBatchPeriodMs ?? 1000;
      const queue = new RateLimitingQueue<string>({ name: 'job' });
      const orphanQueue = new RateLimitingQueue<string>({ name: 'job_orphan_pod' });
      const now = (key: string) => queue.add(key);
      const batched = (key: string) => queue.addAfter(key, batch);
      const orphan = (pod: KObject) => orphanQueue.add(keyOf(pod));

      s.jobs.addEventHandler({
        onAdd: (job) => now(keyOf(job)),
        onUpdate: (old, cur) => {
          const key = keyOf(cur);
          if (old.metadata.generation === cur.metadata.generation) batched(key);
          else now(key);
          if (isJobFinished(cur)) for (const p of s.pods.lister.list(cur.metadata.namespace)) if (hasFinalizer(p) && controllerRefOf(p)?.uid === cur.metadata.uid) orphan(p);
          const ads = cur.spec?.activeDeadlineSeconds;
          const start = timeOf(cur.status?.startTime);
          if (typeof ads === 'number' && start !== undefined && ads !== old.spec?.activeDeadlineSeconds) {
            s.timers.at(key, start + ads * 1000, now);
          }
        },
        onDelete: (job) => {
          now(keyOf(job));
          for (const p of s.pods.lister.list(job.metadata.namespace)) if (hasFinalizer(p) && controllerRefOf(p)?.uid === job.metadata.uid) orphan(p);
        },
      });

      const podDeleted = (pod: KObject, final: boolean) => {
        const cref = controllerRefOf(pod);
        if (!cref) {
          if (hasFinalizer(pod)) orphan(pod);
          return;
        }
        const job = s.resolveJob(pod);
        if (!job || isJobFinished(job)) {
          if (hasFinalizer(pod)) orphan(pod);
          return;
        }
        const key = keyOf(job);
        s.expectations.deletionObserved(key);
        if (final || !hasFinalizer(pod)) s.finalizerRemovalObserved(key, pod.metadata.uid);
        batched(key);
      };
      s.pods.addEventHandler({
        onAdd: (pod) => {
          if (isTerminating(pod)) return podDeleted(pod, false);
          const cref = controllerRefOf(pod);
          if (cref) {
            const job = s.resolveJob(pod);
            if (!job) return;
            s.expectations.creationObserved(keyOf(job));
            batched(keyOf(job));
            return;
          }
          if (hasFinalizer(pod)) orphan(pod);
          for (const job of s.matchingJobs(pod)) batched(keyOf(job));
        },
        onUpdate: (old, cur) => {
          if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
          if (isTerminating(cur)) return podDeleted(cur, false);
          const removed = !hasFinalizer(cur);
          const curRef = controllerRefOf(cur);
          const oldRef = controllerRefOf(old);
          if (oldRef && oldRef.uid !== curRef?.uid) {
            const job = s.resolveJob(old);
            if (job) {
              if (removed) s.finalizerRemovalObserved(keyOf(job), cur.metadata.uid);
              batched(keyOf(job));
            }
          }
          if (curRef) {
            const job = s.resolveJob(cur);
            if (!job) return;
            if (removed) s.finalizerRemovalObserved(keyOf(job), cur.metadata.uid);
            batched(keyOf(job));
            return;
          }
          if (hasFinalizer(cur)) orphan(cur);
          for (const job of s.matchingJobs(cur)) batched(keyOf(job));
        },
        onDelete: (pod) => podDeleted(pod, true),
      });

      /** syncOrphanPod: a pod with the finalizer and no live Job to count it loses the finalizer. */
      const syncOrphan = async (key: string) => {
        const { namespace, name } = splitKey(key);
        const pod = s.pods.lister.get(namespace, name);
        if (!pod || !hasFinalizer(pod)) return;
        const cref = controllerRefOf(pod);
        if (cref) {
          if (cref.kind !== KIND || cref.apiVersion !== API_VERSION) return;
          const job = s.resolveJob(pod);
          if (job?.spec?.managedBy && job.spec.managedBy !== JOB_CONTROLLER_NAME) return;
          if (job && !isJobFinished(job)) return;
        }
        try {
          await s.removeFinalizer(pod);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      };

      return (async () => {
        if (!(await ctx.factory.waitForSync(signal))) return;
        signal.addEventListener('abort', () => s.timers.cancelAll(), { once: true });
        await Promise.all([
          runWorkers(
            queue,
            ctx.workers,
            async (key) => {
              const wakeAt = await s.reconcile(key, orphan);
              // Deadlines and back-offs are kept on the controller's clock (tests step a fake one).
              if (wakeAt !== undefined) s.timers.at(key, wakeAt, now);
            },
            signal,
            { log: ctx.log },
          ),
          runWorkers(orphanQueue, 1, syncOrphan, signal, { log: ctx.log }),
        ]);
      })();
    },
  };
}

/** The Job controller with the real clock and upstream's timings. */
export const jobController: Controller = newJobController();
