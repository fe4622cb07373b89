// CronJob controller scenarios against a real apiserver with a fake clock: the test steps
// time through schedules. Jobs are finished by writing their status (as the Job
// controller would), except in the last scenario, which runs the Job controller on
// simulated nodes.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import { eventually, FAST_STOP, startControllerTestCluster, type ControllerTestCluster, type RunningControllers } from '../testing.ts';
import { FakeClock } from '../history/clock.ts';
import { newJobController } from '../job/controller.ts';
import { newCronJobController } from './controller.ts';
import { parseSchedule } from './schedule.ts';

function makeCronJob(name: string, o: { schedule?: string; policy?: string; timeZone?: string; suspend?: boolean; successLimit?: number; failedLimit?: number; startingDeadlineSeconds?: number; runSeconds?: string } = {}): KObject {
  const spec: Record<string, unknown> = {
    schedule: o.schedule ?? '* * * * *',
    concurrencyPolicy: o.policy ?? 'Allow',
    jobTemplate: {
      metadata: { labels: { cron: name } },
      spec: {
        template: {
          metadata: { annotations: { ...FAST_STOP, ...(o.runSeconds ? { 'sim.skiff.dev/run-seconds': o.runSeconds } : {}) } },
          spec: { restartPolicy: 'OnFailure', containers: [{ name: 'hello', image: 'busybox:1.36', command: ['date'] }] },
        },
      },
    },
  };
  if (o.timeZone) spec.timeZone = o.timeZone;
  if (o.suspend) spec.suspend = true;
  if (o.successLimit !== undefined) spec.successfulJobsHistoryLimit = o.successLimit;
  if (o.failedLimit !== undefined) spec.failedJobsHistoryLimit = o.failedLimit;
  if (o.startingDeadlineSeconds !== undefined) spec.startingDeadlineSeconds = o.startingDeadlineSeconds;
  return { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name, namespace: 'default' }, spec };
}

describe('cronjob controller (fake clock)', () => {
  let c: ControllerTestCluster;
  let cm: RunningControllers;
  const clock = new FakeClock(Date.now());

  before(async () => {
    c = await startControllerTestCluster({ nodes: 0 });
    cm = c.startControllers([newCronJobController({ clock })], { log: process.env.DEBUG_CONTROLLERS ? (m, f) => console.log(m, JSON.stringify(f)) : undefined });
    await cm.manager.whenReady();
  });
  after(async () => {
    await cm?.stop();
    await c?.close();
  });

  /** Creates the CronJob and returns its creation time (ms). */
  const create = async (cj: KObject) => Date.parse((await c.client.create(ref.cronjobs, 'default', cj)).metadata.creationTimestamp!);
  const jobsOf = async (name: string) =>
    (await c.client.list(ref.jobs, 'default', { labelSelector: `cron=${name}` })).items.filter((j) => !j.metadata.deletionTimestamp).map((j) => j.metadata.name!).sort();
  const minuteName = (name: string, t: number) => `${name}-${Math.floor(t / 60_000)}`;
  /** Moves the fake clock to `t` + 1 s (never backwards). */
  const moveTo = (t: number) => {
    if (t + 1000 > clock.now()) clock.set(t + 1000);
  };
  const finish = async (job: string, type: 'Complete' | 'Failed') => {
    const j = await c.client.get(ref.jobs, 'default', job);
    const now = new Date(clock.now()).toISOString().replace(/\.\d+Z$/, 'Z');
    const conditions =
      type === 'Complete'
        ? [
            { type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached', lastProbeTime: now, lastTransitionTime: now },
            { type: 'Complete', status: 'True', reason: 'CompletionsReached', lastProbeTime: now, lastTransitionTime: now },
          ]
        : [
            { type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', lastProbeTime: now, lastTransitionTime: now },
            { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', lastProbeTime: now, lastTransitionTime: now },
          ];
    await c.client.update(ref.jobs, 'default', { ...j, status: { startTime: now, conditions, ...(type === 'Complete' ? { completionTime: now, succeeded: 1 } : { failed: 1 }) } }, { subresource: 'status' });
  };
  const every = parseSchedule('* * * * *', 'UTC');
  /**
   * The first run of a CronJob created at `created` (every minute). Earlier scenarios
   * moved the fake clock ahead of real time: when it is already past the first schedule,
   * the latest missed minute runs at once (as upstream); otherwise the clock moves to it.
   */
  const firstRun = (created: number): number => {
    const first = every.next(created)!;
    if (first <= clock.now()) return Math.floor(clock.now() / 60_000) * 60_000;
    moveTo(first);
    return first;
  };

  it('creates a Job at each scheduled time, records it, sees it complete, keeps the history limit', async () => {
    const created = await create(makeCronJob('tick', { successLimit: 2 }));
    const t1 = firstRun(created);
    const j1 = minuteName('tick', t1);
    const job = await c.waitFor(ref.jobs, 'default', j1, (j) => j !== undefined);
    const stamp = job!.metadata.annotations!['batch.kubernetes.io/cronjob-scheduled-timestamp'];
    assert.match(stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:00(Z|[+-]\d\d:\d\d)$/);
    assert.equal(Date.parse(stamp), t1);
    assert.deepEqual(job!.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.controller, r.blockOwnerDeletion]), [['CronJob', 'tick', true, true]]);
    assert.equal(job!.metadata.labels!.cron, 'tick');
    let cj = await c.waitFor(ref.cronjobs, 'default', 'tick', (x) => x?.status?.active?.length === 1);
    assert.equal(cj!.status.active[0].name, j1);
    assert.equal(cj!.status.active[0].kind, 'Job');
    assert.equal(Date.parse(cj!.status.lastScheduleTime), t1);
    assert.deepEqual(await c.events('default', 'tick', 'SuccessfulCreate'), [`Created job ${j1}`]);

    await finish(j1, 'Complete');
    cj = await c.waitFor(ref.cronjobs, 'default', 'tick', (x) => !x?.status?.active && !!x?.status?.lastSuccessfulTime);
    assert.deepEqual(await c.events('default', 'tick', 'SawCompletedJob'), [`Saw completed job: ${j1}, condition: Complete`]);

    // Three more runs, each completing: only the two newest successful Jobs are kept.
    let t = t1;
    const names = [j1];
    for (let i = 0; i < 3; i++) {
      t = every.next(t)!;
      moveTo(t);
      const name = minuteName('tick', t);
      names.push(name);
      await c.waitFor(ref.jobs, 'default', name, (j) => j !== undefined);
      await finish(name, 'Complete');
      await c.waitFor(ref.cronjobs, 'default', 'tick', (x) => Date.parse(x?.status?.lastScheduleTime) === t && !x?.status?.active);
    }
    await eventually(async () => JSON.stringify(await jobsOf('tick')) === JSON.stringify(names.slice(-2)), 10_000, 'history limit');
    const deleted = await c.events('default', 'tick', 'SuccessfulDelete');
    assert.deepEqual(deleted, names.slice(0, 2).map((n) => `Deleted job ${n}`));
    await c.client.delete(ref.cronjobs, 'default', 'tick');
  });

  it('Forbid: no new Job while one is active; the missed run starts once it finishes', async () => {
    const created = await create(makeCronJob('solo', { policy: 'Forbid' }));
    const t1 = firstRun(created);
    await c.waitFor(ref.jobs, 'default', minuteName('solo', t1), (j) => j !== undefined);
    const t2 = every.next(t1)!;
    moveTo(t2);
    await eventually(async () => (await c.events('default', 'solo', 'JobAlreadyActive')).length > 0, 10_000, 'JobAlreadyActive');
    assert.deepEqual((await c.events('default', 'solo', 'JobAlreadyActive'))[0], 'Not starting job because prior execution is running and concurrency policy is Forbid');
    assert.deepEqual(await jobsOf('solo'), [minuteName('solo', t1)]);
    await finish(minuteName('solo', t1), 'Failed');
    // The run due at t2 starts late (no startingDeadlineSeconds).
    await c.waitFor(ref.jobs, 'default', minuteName('solo', t2), (j) => j !== undefined);
    const cj = await c.waitFor(ref.cronjobs, 'default', 'solo', (x) => x?.status?.active?.length === 1 && x.status.active[0].name === minuteName('solo', t2));
    assert.equal(cj!.status.lastSuccessfulTime, undefined);
    await c.client.delete(ref.cronjobs, 'default', 'solo');
  });

  it('Replace: the running Job is deleted and the new one started', async () => {
    const created = await create(makeCronJob('swap', { policy: 'Replace' }));
    const t1 = firstRun(created);
    await c.waitFor(ref.jobs, 'default', minuteName('swap', t1), (j) => j !== undefined);
    const t2 = every.next(t1)!;
    moveTo(t2);
    await c.waitFor(ref.jobs, 'default', minuteName('swap', t2), (j) => j !== undefined);
    await c.waitFor(ref.jobs, 'default', minuteName('swap', t1), (j) => j === undefined || !!j.metadata.deletionTimestamp);
    const cj = await c.waitFor(ref.cronjobs, 'default', 'swap', (x) => x?.status?.active?.length === 1 && x.status.active[0].name === minuteName('swap', t2));
    assert.ok(cj);
    assert.deepEqual(await c.events('default', 'swap', 'SuccessfulDelete'), [`Deleted job ${minuteName('swap', t1)}`]);
    await c.client.delete(ref.cronjobs, 'default', 'swap');
  });

  it('Allow: a new Job even while the previous one runs', async () => {
    const created = await create(makeCronJob('many'));
    const t1 = firstRun(created);
    await c.waitFor(ref.jobs, 'default', minuteName('many', t1), (j) => j !== undefined);
    const t2 = every.next(t1)!;
    moveTo(t2);
    await c.waitFor(ref.cronjobs, 'default', 'many', (x) => x?.status?.active?.length === 2);
    assert.deepEqual(await jobsOf('many'), [minuteName('many', t1), minuteName('many', t2)]);
    await c.client.delete(ref.cronjobs, 'default', 'many');
  });

  it('too many missed start times: a warning, and only the most recent runs', async () => {
    const created = await create(makeCronJob('late'));
    const t0 = firstRun(created);
    await c.waitFor(ref.cronjobs, 'default', 'late', (x) => Date.parse(x?.status?.lastScheduleTime) === t0);
    // The controller is "down" for 150 minutes: 150 start times are missed.
    const t = every.next(t0 + 150 * 60_000)!;
    moveTo(t);
    await c.waitFor(ref.jobs, 'default', minuteName('late', t), (j) => j !== undefined);
    assert.deepEqual(await jobsOf('late'), [minuteName('late', t0), minuteName('late', t)], 'only the most recent missed time runs');
    assert.deepEqual(await c.events('default', 'late', 'TooManyMissedTimes'), ['too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew']);
    await c.client.delete(ref.cronjobs, 'default', 'late');
  });

  it('startingDeadlineSeconds: a start missed by more is skipped; suspend holds runs until resumed', async () => {
    const created = await create(makeCronJob('strict', { startingDeadlineSeconds: 10, suspend: true }));
    const t1 = firstRun(created);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await jobsOf('strict'), [], 'suspended');
    clock.set(t1 + 30_000);
    await c.client.patch(ref.cronjobs, 'default', 'strict', 'merge', { spec: { suspend: false } });
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await jobsOf('strict'), [], 'the t1 start is 30 s late, past the 10 s deadline');
    const t2 = every.next(t1)!;
    moveTo(t2);
    await c.waitFor(ref.jobs, 'default', minuteName('strict', t2), (j) => j !== undefined);
    await c.client.delete(ref.cronjobs, 'default', 'strict');
  });

  it('timeZone: the schedule runs on that zone\'s wall clock', async () => {
    const created = await create(makeCronJob('tokyo', { schedule: '0 9 * * *', timeZone: 'Asia/Tokyo' }));
    const nine = parseSchedule('0 9 * * *', 'Asia/Tokyo').next(Math.max(created, clock.now()))!;
    assert.equal(new Date(nine).getUTCHours(), 0, '09:00 in Tokyo is 00:00 UTC');
    moveTo(nine);
    const job = await c.waitFor(ref.jobs, 'default', minuteName('tokyo', nine), (j) => j !== undefined);
    assert.match(job!.metadata.annotations!['batch.kubernetes.io/cronjob-scheduled-timestamp'], /^\d{4}-\d\d-\d\dT09:00:00\+09:00$/);
    await c.client.delete(ref.cronjobs, 'default', 'tokyo');
  });

  it('reports an unparseable schedule (one the apiserver let through)', async () => {
    try {
      await create(makeCronJob('bad', { schedule: '61 * * * *' }));
    } catch (e) {
      // An apiserver validating schedules refuses it at once: nothing reaches the controller.
      assert.equal((e as { code?: number }).code, 422);
      return;
    }
    await eventually(async () => (await c.events('default', 'bad', 'UnparseableSchedule')).length > 0, 10_000, 'UnparseableSchedule');
    assert.deepEqual(await c.events('default', 'bad', 'UnparseableSchedule'), ['unparseable schedule: "61 * * * *" : end of range (61) above maximum (59): 61']);
  });
});

describe('cronjob with the job controller on simulated nodes', () => {
  let c: ControllerTestCluster;
  let cm: RunningControllers;
  const clock = new FakeClock(Date.now());

  before(async () => {
    c = await startControllerTestCluster({ nodes: 2 });
    // The CronJob controller on a fake clock; the Job controller and the pods on real time.
    cm = c.startControllers([newCronJobController({ clock }), newJobController({ syncBatchPeriodMs: 10 })]);
    await cm.manager.whenReady();
  });
  after(async () => {
    await cm?.stop();
    await c?.close();
  });

  it('the scheduled Job runs its pod to completion; lastSuccessfulTime follows', async () => {
    const created = await c.client.create(ref.cronjobs, 'default', makeCronJob('beat', { successLimit: 1, runSeconds: '0.2' }));
    const t1 = parseSchedule('* * * * *', 'UTC').next(Math.max(Date.parse(created.metadata.creationTimestamp!), clock.now()))!;
    clock.set(t1 + 1000);
    const cj = await c.waitFor(ref.cronjobs, 'default', 'beat', (x) => !!x?.status?.lastSuccessfulTime && !x.status.active, 20_000);
    assert.equal(Date.parse(cj!.status.lastScheduleTime), t1);
    const name = `beat-${Math.floor(t1 / 60_000)}`;
    const job = await c.client.get(ref.jobs, 'default', name);
    assert.equal(job.status.succeeded, 1);
    assert.equal(cj!.status.lastSuccessfulTime, job.status.completionTime);
    assert.deepEqual(await c.events('default', 'beat', 'SawCompletedJob'), [`Saw completed job: ${name}, condition: Complete`]);
  });
});
