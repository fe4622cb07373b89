// The CronJob controller, as upstream's cronjob_controllerv2: at each scheduled time a
// Job named `<cronjob>-<scheduled time in minutes>` from the jobTemplate (the name is
// the lock: a Job made twice for one time is refused by the apiserver); concurrency
// policies Allow / Forbid / Replace; startingDeadlineSeconds (a start missed by more is
// skipped) and the "too many missed start times" guard; suspend; status.active,
// lastScheduleTime, lastSuccessfulTime; finished Jobs beyond the history limits deleted.
//
// Time comes from an injectable Clock, and the controller wakes itself for the next
// schedule through the clock's timers, so tests step a fake clock through schedules.

import type { KObject } from '../../api/object.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';
import { keyOf, splitKey, type Logger } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { KeyedTimers, realClock, type Clock } from '../history/clock.ts';
import { canonicalJSON, clone, controllerRefOf, isAlreadyExists, isNamespaceTerminating, isNotFound, newControllerRef, rfc3339, timeOf } from '../history/pods.ts';
import { formatRFC1123Z, formatRFC3339In, isValidTimeZone, localTimeZone, parseSchedule, ScheduleError, type Schedule } from './schedule.ts';

const KIND = 'CronJob';
const API_VERSION = 'batch/v1';
/** The annotation with the time a Job was scheduled for, in the CronJob's zone. */
export const CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION = 'batch.kubernetes.io/cronjob-scheduled-timestamp';
/** nextScheduleDelta: wake a little after the scheduled time, never just before it. */
const NEXT_SCHEDULE_DELTA_MS = 100;

export interface CronJobControllerOptions {
  clock?: Clock;
}

export type MissedSchedules = 'none' | 'few' | 'many';

/**
 * mostRecentScheduleTime: the latest scheduled time not after `now` since the last
 * schedule (or creation; with startingDeadlineSeconds, not earlier than that far back),
 * and whether many (over 100) were missed. Counting is an estimate from the interval
 * between the next two times, as upstream, so decades of missed minutes cost nothing.
 */
export function mostRecentScheduleTime(
  cj: KObject,
  now: number,
  schedule: Schedule,
  includeStartingDeadline: boolean,
): { earliest: number; mostRecent?: number; missed: MissedSchedules; error?: string } {
  let earliest = timeOf(cj.status?.lastScheduleTime) ?? timeOf(cj.metadata.creationTimestamp) ?? now;
  const sds = cj.spec?.startingDeadlineSeconds;
  if (includeStartingDeadline && typeof sds === 'number') {
    const deadline = now - sds * 1000;
    if (deadline > earliest) earliest = deadline;
  }
  const t1 = schedule.next(earliest);
  if (t1 === undefined || now < t1) return { earliest, missed: 'none' };
  const t2 = schedule.next(t1);
  if (t2 === undefined || now < t2) return { earliest, mostRecent: t1, missed: 'few' };
  const between = Math.round((t2 - t1) / 1000);
  if (between < 1) return { earliest, missed: 'none', error: 'time difference between two schedules is less than 1 second' };
  const elapsed = Math.floor((now - t1) / 1000);
  const missedCount = Math.floor(elapsed / between) + 1;
  // Start a step before the estimate: irregular schedules ("30 6-16/4 * * 1-5") are then walked exactly.
  const potentialEarliest = t1 + (missedCount - 2) * between * 1000;
  let mostRecent: number | undefined;
  for (let t = schedule.next(potentialEarliest); t !== undefined && t <= now; t = schedule.next(t)) mostRecent = t;
  const missed: MissedSchedules = missedCount > 100 ? 'many' : missedCount > 0 ? 'few' : 'none';
  return { earliest, mostRecent, missed };
}

/** getJobFromTemplate2: the Job for `scheduledTime`, named `<cronjob>-<minutes since the epoch>`. */
export function jobFromTemplate(cj: KObject, scheduledTime: number, tz: string): KObject {
  const tmpl = clone(cj.spec?.jobTemplate ?? {});
  const meta = tmpl.metadata ?? {};
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(cj, scheduledTime),
      namespace: cj.metadata.namespace,
      ...(meta.labels ? { labels: { ...meta.labels } } : {}),
      annotations: { ...(meta.annotations ?? {}), [CRONJOB_SCHEDULED_TIMESTAMP_ANNOTATION]: formatRFC3339In(scheduledTime, tz) },
      ownerReferences: [newControllerRef(cj, API_VERSION, KIND)],
    },
    spec: tmpl.spec ?? {},
  };
}

export function jobName(cj: KObject, scheduledTime: number): string {
  return `${cj.metadata.name}-${Math.floor(scheduledTime / 60_000)}`;
}

function finishedType(job: KObject): 'Complete' | 'Failed' | undefined {
  for (const c of (job.status?.conditions ?? []) as { type: string; status: string }[]) {
    if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') return c.type;
  }
  return undefined;
}

function jobRef(job: KObject): Record<string, string> {
  return {
    kind: 'Job',
    namespace: job.metadata.namespace!,
    name: job.metadata.name!,
    uid: job.metadata.uid!,
    apiVersion: 'batch/v1',
    resourceVersion: job.metadata.resourceVersion!,
  };
}

class CronJobSync {
  readonly client: Client;
  readonly recorder: EventRecorder;
  readonly log: Logger;
  readonly clock: Clock;
  readonly cronjobs: Informer;
  readonly jobs: Informer;
  readonly timers: KeyedTimers;
  private readonly written = new Map<string, KObject>();

  constructor(ctx: ControllerContext, opts: CronJobControllerOptions) {
    this.client = ctx.client;
    this.recorder = ctx.recorder('cronjob-controller');
    this.log = ctx.log;
    this.clock = opts.clock ?? realClock;
    this.cronjobs = ctx.factory.informerFor(ref.cronjobs);
    this.jobs = ctx.factory.informerFor(ref.jobs);
    this.timers = new KeyedTimers(this.clock);
  }

  ownerKey(job: KObject): string | undefined {
    const cref = controllerRefOf(job);
    if (!cref || cref.kind !== KIND) return undefined;
    const cj = this.cronjobs.lister.get(job.metadata.namespace, cref.name);
    return cj && cj.metadata.uid === cref.uid ? keyOf(cj) : undefined;
  }

  /** sync: returns when to look again (ms since the epoch), if ever. */
  async sync(key: string): Promise<number | undefined> {
    const { namespace, name } = splitKey(key);
    const shared = this.current(key, this.cronjobs.lister.get(namespace, name));
    if (!shared) {
      this.written.delete(key);
      this.timers.cancel(key);
      return undefined;
    }
    const jobs = this.jobs.lister.list(namespace).filter((j) => controllerRefOf(j)?.uid === shared.metadata.uid);
    const cj = clone(shared);
    cj.status ??= {};
    const { wakeAt, updateStatus } = await this.syncCronJob(cj, jobs);
    const cleaned = await this.cleanupFinishedJobs(cj, jobs);
    if (updateStatus || cleaned) await this.writeStatus(cj, shared.status ?? {});
    return wakeAt;
  }

  private activeHas(cj: KObject, uid: string | undefined): boolean {
    return ((cj.status.active ?? []) as { uid: string }[]).some((r) => r.uid === uid);
  }

  private activeHasName(cj: KObject, name: string): boolean {
    return ((cj.status.active ?? []) as { name: string; namespace: string }[]).some((r) => r.name === name && r.namespace === cj.metadata.namespace);
  }

  private removeFromActive(cj: KObject, uid: string | undefined): void {
    cj.status.active = ((cj.status.active ?? []) as { uid: string }[]).filter((r) => r.uid !== uid);
  }

  /** syncCronJob: reconciles the active list with the Jobs, then starts the Job that is due, if any. */
  private async syncCronJob(cj: KObject, jobs: KObject[]): Promise<{ wakeAt?: number; updateStatus: boolean }> {
    const now = this.clock.now();
    let updateStatus = false;
    const children = new Set<string>();
    for (const j of jobs) {
      children.add(j.metadata.uid!);
      const found = this.activeHas(cj, j.metadata.uid);
      const finished = finishedType(j);
      if (!found && !finished) {
        // The cache may predate our own status write: look at the CronJob uncached before complaining.
        const fresh = await this.client.get(ref.cronjobs, cj.metadata.namespace, cj.metadata.name!);
        if (fresh.metadata.uid === cj.metadata.uid && this.activeHas(fresh, j.metadata.uid)) {
          cj.metadata.resourceVersion = fresh.metadata.resourceVersion;
          cj.status = clone(fresh.status ?? {});
          continue;
        }
        this.recorder.eventf(cj, 'Warning', 'UnexpectedJob', 'Saw a job that the controller did not create or forgot: %s', j.metadata.name);
      } else if (found && finished) {
        this.removeFromActive(cj, j.metadata.uid);
        this.recorder.eventf(cj, 'Normal', 'SawCompletedJob', 'Saw completed job: %s, condition: %s', j.metadata.name, finished);
        updateStatus = true;
      }
      if (finished === 'Complete') {
        const done = timeOf(j.status?.completionTime);
        const last = timeOf(cj.status.lastSuccessfulTime);
        if (done !== undefined && (last === undefined || done > last)) {
          cj.status.lastSuccessfulTime = j.status.completionTime;
          updateStatus = true;
        }
      }
    }
    // Active Jobs that are gone (checked uncached: the cache may just be late).
    for (const r of [...((cj.status.active ?? []) as { uid: string; name: string; namespace: string }[])]) {
      if (children.has(r.uid)) continue;
      try {
        const j = await this.client.get(ref.jobs, r.namespace ?? cj.metadata.namespace, r.name);
        if (j.metadata.uid === r.uid) continue;
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      this.recorder.eventf(cj, 'Normal', 'MissingJob', 'Active job went missing: %s', r.name);
      this.removeFromActive(cj, r.uid);
      updateStatus = true;
    }

    if (cj.metadata.deletionTimestamp) return { updateStatus };

    let tz = localTimeZone();
    if (cj.spec?.timeZone) {
      if (!isValidTimeZone(cj.spec.timeZone)) {
        this.recorder.eventf(cj, 'Warning', 'UnknownTimeZone', 'invalid timeZone: %q: %s', cj.spec.timeZone, `unknown time zone ${cj.spec.timeZone}`);
        return { updateStatus };
      }
      tz = cj.spec.timeZone;
    }
    if (cj.spec?.suspend === true) return { updateStatus };
    const spec: string = cj.spec?.schedule ?? '';
    if (spec.includes('TZ')) {
      this.recorder.eventf(
        cj,
        'Warning',
        'UnsupportedSchedule',
        'CRON_TZ or TZ used in schedule %q is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details',
        spec,
      );
    }
    let schedule: Schedule;
    try {
      schedule = parseSchedule(spec, tz);
    } catch (e) {
      if (!(e instanceof ScheduleError)) throw e;
      this.recorder.eventf(cj, 'Warning', 'UnparseableSchedule', 'unparseable schedule: %q : %s', spec, e.message);
      return { updateStatus };
    }

    const nextWake = () => {
      const n = schedule.next(now);
      return n === undefined ? undefined : n + NEXT_SCHEDULE_DELTA_MS;
    };
    const { mostRecent, missed, error } = mostRecentScheduleTime(cj, now, schedule, true);
    if (error) {
      this.recorder.eventf(cj, 'Warning', 'InvalidSchedule', 'invalid schedule: %s : %s', spec, error);
      return { updateStatus };
    }
    if (mostRecent === undefined || mostRecent > now) return { wakeAt: nextWake(), updateStatus };
    if (missed === 'many') {
      this.recorder.event(cj, 'Warning', 'TooManyMissedTimes', 'too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew');
    }
    const scheduledTime = mostRecent;
    const sds = cj.spec?.startingDeadlineSeconds;
    if (typeof sds === 'number' && scheduledTime + sds * 1000 < now) {
      this.recorder.eventf(cj, 'Warning', 'MissSchedule', 'Missed scheduled time to start a job: %s', formatRFC1123Z(scheduledTime));
      return { wakeAt: nextWake(), updateStatus };
    }
    if (this.activeHasName(cj, jobName(cj, scheduledTime)) || timeOf(cj.status.lastScheduleTime) === scheduledTime) {
      return { wakeAt: nextWake(), updateStatus };
    }
    const policy = cj.spec?.concurrencyPolicy ?? 'Allow';
    if (policy === 'Forbid' && (cj.status.active ?? []).length > 0) {
      this.recorder.event(cj, 'Normal', 'JobAlreadyActive', 'Not starting job because prior execution is running and concurrency policy is Forbid');
      return { wakeAt: nextWake(), updateStatus };
    }
    if (policy === 'Replace') {
      for (const r of [...((cj.status.active ?? []) as { uid: string; name: string; namespace: string }[])]) {
        let job: KObject;
        try {
          job = await this.client.get(ref.jobs, r.namespace ?? cj.metadata.namespace, r.name);
        } catch (e) {
          this.recorder.eventf(cj, 'Warning', 'FailedGet', 'Get job: %s', e);
          throw e;
        }
        if (!(await this.deleteJob(cj, job))) throw new Error(`could not replace job ${job.metadata.namespace}/${job.metadata.name}`);
        updateStatus = true;
      }
    }

    const request = jobFromTemplate(cj, scheduledTime, tz);
    let created: KObject;
    try {
      created = await this.client.create(ref.jobs, cj.metadata.namespace, request);
      this.recorder.eventf(cj, 'Normal', 'SuccessfulCreate', 'Created job %s', created.metadata.name);
    } catch (e) {
      if (isNamespaceTerminating(e)) throw e;
      if (!isAlreadyExists(e)) {
        this.recorder.eventf(cj, 'Warning', 'FailedCreate', 'Error creating job: %s', e);
        throw e;
      }
      // Made before (by us before a crash, or by someone else): ours joins the active list; theirs is theirs.
      created = await this.client.get(ref.jobs, cj.metadata.namespace, request.metadata.name!);
      if (controllerRefOf(created)?.uid !== cj.metadata.uid || this.activeHas(cj, created.metadata.uid)) return { updateStatus };
    }
    cj.status.active = [...(cj.status.active ?? []), jobRef(created)];
    cj.status.lastScheduleTime = rfc3339(scheduledTime);
    return { wakeAt: nextWake(), updateStatus: true };
  }

  /** deleteJob: background deletion, out of the active list, event. */
  private async deleteJob(cj: KObject, job: KObject): Promise<boolean> {
    try {
      await this.client.delete(ref.jobs, job.metadata.namespace, job.metadata.name!, { propagationPolicy: 'Background' });
    } catch (e) {
      if (!isNotFound(e)) {
        this.recorder.eventf(cj, 'Warning', 'FailedDelete', 'Deleted job: %s', e);
        return false;
      }
    }
    this.removeFromActive(cj, job.metadata.uid);
    this.recorder.eventf(cj, 'Normal', 'SuccessfulDelete', 'Deleted job %s', job.metadata.name);
    return true;
  }

  /** cleanupFinishedJobs: the oldest finished Jobs beyond successfulJobsHistoryLimit / failedJobsHistoryLimit go. */
  private async cleanupFinishedJobs(cj: KObject, jobs: KObject[]): Promise<boolean> {
    const successLimit = cj.spec?.successfulJobsHistoryLimit;
    const failedLimit = cj.spec?.failedJobsHistoryLimit;
    if (typeof successLimit !== 'number' && typeof failedLimit !== 'number') return false;
    const succeeded = jobs.filter((j) => finishedType(j) === 'Complete');
    const failed = jobs.filter((j) => finishedType(j) === 'Failed');
    let updated = false;
    if (typeof successLimit === 'number' && (await this.removeOldestJobs(cj, succeeded, successLimit))) updated = true;
    if (typeof failedLimit === 'number' && (await this.removeOldestJobs(cj, failed, failedLimit))) updated = true;
    return updated;
  }

  private async removeOldestJobs(cj: KObject, jobs: KObject[], max: number): Promise<boolean> {
    const n = jobs.length - max;
    if (n <= 0) return false;
    // byJobStartTime: started before not started; then by start time, then name.
    const sorted = [...jobs].sort((a, b) => {
      const ta = timeOf(a.status?.startTime);
      const tb = timeOf(b.status?.startTime);
      if (ta === undefined && tb !== undefined) return 1;
      if (ta !== undefined && tb === undefined) return -1;
      if (ta === tb) return String(a.metadata.name).localeCompare(String(b.metadata.name));
      return (ta ?? 0) - (tb ?? 0);
    });
    let updated = false;
    for (let i = 0; i < n; i++) if (await this.deleteJob(cj, sorted[i])) updated = true;
    return updated;
  }

  /** Writes `cj.status` (omitting empty fields, as the API does) unless it equals `before`. */
  private async writeStatus(cj: KObject, before: Record<string, any>): Promise<void> {
    const status = cj.status ?? {};
    const out: Record<string, any> = {};
    if ((status.active ?? []).length > 0) out.active = status.active;
    if (status.lastScheduleTime) out.lastScheduleTime = status.lastScheduleTime;
    if (status.lastSuccessfulTime) out.lastSuccessfulTime = status.lastSuccessfulTime;
    if (canonicalJSON(out) === canonicalJSON(before)) return;
    try {
      const written = await this.client.update(ref.cronjobs, cj.metadata.namespace, { ...cj, status: out }, { subresource: 'status' });
      this.written.set(keyOf(written), written);
    } catch (e) {
      // A conflict retries the whole sync from the newer object (the Job name is the lock against doubles).
      if (!isNotFound(e)) throw e;
    }
  }

  /** The cached CronJob, or the one this controller last wrote if that is newer (read-your-writes). */
  current(key: string, cached: KObject | undefined): KObject | undefined {
    const w = this.written.get(key);
    if (!cached || !w || w.metadata.uid !== cached.metadata.uid || rv(w) <= rv(cached)) {
      this.written.delete(key);
      return cached;
    }
    return w;
  }
}

function rv(o: KObject): bigint {
  try {
    return BigInt(o.metadata.resourceVersion ?? '0');
  } catch {
    return 0n;
  }
}

export function newCronJobController(opts: CronJobControllerOptions = {}): Controller {
  return {
    name: 'cronjob',
    start(ctx: ControllerContext, signal: AbortSignal): Promise<void> {
      const s = new CronJobSync(ctx, opts);
      const queue = new RateLimitingQueue<string>({ name: 'cronjob' });
      const add = (key: string) => queue.add(key);
      s.cronjobs.addEventHandler({
        onAdd: (cj) => add(keyOf(cj)),
        onUpdate: (_old, cur) => add(keyOf(cur)),
        onDelete: (cj) => s.timers.cancel(keyOf(cj)),
      });
      const onJob = (job: KObject) => {
        const owner = s.ownerKey(job);
        if (owner) add(owner);
      };
      s.jobs.addEventHandler({
        onAdd: onJob,
        onUpdate: (old, cur) => {
          if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
          const oldOwner = s.ownerKey(old);
          if (oldOwner && oldOwner !== s.ownerKey(cur)) add(oldOwner);
          onJob(cur);
        },
        onDelete: onJob,
      });
      return (async () => {
        if (!(await ctx.factory.waitForSync(signal))) return;
        signal.addEventListener('abort', () => s.timers.cancelAll(), { once: true });
        await runWorkers(
          queue,
          ctx.workers,
          async (key) => {
            const wakeAt = await s.sync(key);
            if (wakeAt !== undefined) {
              // The next schedule replaces any other wake-up (a schedule change moves it earlier or later).
              s.timers.cancel(key);
              s.timers.at(key, wakeAt, add);
            }
          },
          signal,
          { log: ctx.log },
        );
      })();
    },
  };
}

/** The CronJob controller with the real clock. */
export const cronJobController: Controller = newCronJobController();
