// Job and TTL-after-finished controller scenarios on simulated nodes: pods "run" for
// sim.skiff.dev/run-seconds and exit with sim.skiff.dev/exit-code; failures are injected
// by setting the exit code on chosen pods while they run.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { SIM_ANNOTATIONS } from '../../kubelet/sim/index.ts';
import { eventually, FAST_STOP, startControllerTestCluster, type ControllerTestCluster, type RunningControllers } from '../testing.ts';
import { newJobController } from './controller.ts';
import { nextBackoffRecord, remainingBackoff } from './policy.ts';
import { parseIndexes, formatIntervals, firstPendingIndexes, withIndexes } from './indexes.ts';
import { newTTLAfterFinishedController } from './ttlafterfinished.ts';

interface JobOpts {
  completions?: number | null;
  parallelism?: number;
  backoffLimit?: number;
  runSeconds?: string;
  exitCode?: string;
  indexed?: boolean;
  suspend?: boolean;
  activeDeadlineSeconds?: number;
  podFailurePolicy?: unknown;
  ttl?: number;
  successPolicy?: unknown;
}

function makeJob(name: string, o: JobOpts = {}): KObject {
  const annotations: Record<string, string> = { ...FAST_STOP };
  if (o.runSeconds !== undefined) annotations[SIM_ANNOTATIONS.runSeconds] = o.runSeconds;
  if (o.exitCode !== undefined) annotations[SIM_ANNOTATIONS.exitCode] = o.exitCode;
  const spec: Record<string, unknown> = {
    template: { metadata: { annotations }, spec: { restartPolicy: 'Never', terminationGracePeriodSeconds: 1, containers: [{ name: 'main', image: 'perl:5.34' }] } },
  };
  if (o.completions !== undefined) spec.completions = o.completions;
  if (o.parallelism !== undefined) spec.parallelism = o.parallelism;
  if (o.backoffLimit !== undefined) spec.backoffLimit = o.backoffLimit;
  if (o.indexed) spec.completionMode = 'Indexed';
  if (o.suspend) spec.suspend = true;
  if (o.activeDeadlineSeconds !== undefined) spec.activeDeadlineSeconds = o.activeDeadlineSeconds;
  if (o.podFailurePolicy) spec.podFailurePolicy = o.podFailurePolicy;
  if (o.ttl !== undefined) spec.ttlSecondsAfterFinished = o.ttl;
  if (o.successPolicy) spec.successPolicy = o.successPolicy;
  return { apiVersion: 'batch/v1', kind: 'Job', metadata: { name, namespace: 'default' }, spec };
}

const cond = (job: KObject | undefined, type: string) => (job?.status?.conditions ?? []).find((c: any) => c.type === type && c.status === 'True');

/** Watches a Job's pods: the most active at once, and (optionally) makes the first `failFirst` pods exit 1. */
class JobPods {
  maxActive = 0;
  created = 0;
  readonly informer: Informer;
  private readonly injected = new Set<string>();
  constructor(c: ControllerTestCluster, job: string, failFirst = 0, exitCode = '1') {
    this.informer = new Informer(c.client, ref.pods, { namespace: 'default', labelSelector: `batch.kubernetes.io/job-name=${job}`, minBackoffMs: 20, maxBackoffMs: 200 });
    const look = (p: KObject, added: boolean) => {
      if (added) this.created++;
      const active = this.informer.lister.list().filter((x) => !x.metadata.deletionTimestamp && x.status?.phase !== 'Succeeded' && x.status?.phase !== 'Failed');
      this.maxActive = Math.max(this.maxActive, active.length);
      if (added && this.injected.size < failFirst && !this.injected.has(p.metadata.name!)) {
        this.injected.add(p.metadata.name!);
        void c.client.patch(ref.pods, 'default', p.metadata.name!, 'merge', { metadata: { annotations: { [SIM_ANNOTATIONS.exitCode]: exitCode } } });
      }
    };
    this.informer.addEventHandler({ onAdd: (p) => look(p, true), onUpdate: (_o, p) => look(p, false), onDelete: (p) => look(p, false) });
  }
}

describe('job helpers', () => {
  it('pod failure back-off doubles from the base to the cap', () => {
    const base = 10_000;
    const max = 360_000;
    assert.equal(remainingBackoff(0, 1000, 1000, base, max), 0);
    assert.equal(remainingBackoff(1, 1000, 1000, base, max), 10_000);
    assert.equal(remainingBackoff(2, 1000, 1000, base, max), 20_000);
    assert.equal(remainingBackoff(3, 1000, 6000, base, max), 35_000);
    assert.equal(remainingBackoff(10, 0, 0, base, max), 360_000);
    assert.equal(remainingBackoff(2, 0, 25_000, base, max), 0);
  });

  it('a success resets the failure count unless failures came after it', () => {
    const pod = (finishedAt: string) => ({ metadata: { name: 'p' }, status: { containerStatuses: [{ state: { terminated: { finishedAt } } }] } }) as KObject;
    let r = nextBackoffRecord(undefined, [], [pod('2026-01-01T00:00:01Z'), pod('2026-01-01T00:00:02Z')]);
    assert.deepEqual(r, { failuresAfterLastSuccess: 2, lastFailureTime: Date.parse('2026-01-01T00:00:02Z') });
    r = nextBackoffRecord(r, [pod('2026-01-01T00:00:03Z')], [pod('2026-01-01T00:00:04Z')]);
    assert.deepEqual(r, { failuresAfterLastSuccess: 1, lastFailureTime: Date.parse('2026-01-01T00:00:04Z') });
    r = nextBackoffRecord(r, [pod('2026-01-01T00:00:05Z')], []);
    assert.deepEqual(r, { failuresAfterLastSuccess: 0 });
  });

  it('completed indexes as intervals', () => {
    const iv = parseIndexes('0,2-4,7,9-12', 11);
    assert.equal(formatIntervals(iv), '0,2-4,7,9-10');
    assert.equal(formatIntervals(withIndexes(iv, [1, 5, 8])), '0-5,7-10');
    assert.deepEqual(firstPendingIndexes(parseIndexes('0,2-3', 6), 3, 6), [1, 4, 5]);
  });
});

describe('job controller', () => {
  let c: ControllerTestCluster;
  let cm: RunningControllers;
  const ac = new AbortController();

  before(async () => {
    c = await startControllerTestCluster({ nodes: 3 });
    cm = c.startControllers([newJobController({ podFailureBackoffMs: { base: 100, max: 400 }, syncBatchPeriodMs: 10 }), newTTLAfterFinishedController()], {
      log: process.env.DEBUG_CONTROLLERS ? (m, f) => console.log(m, JSON.stringify(f)) : undefined,
    });
    await cm.manager.whenReady();
  });
  after(async () => {
    ac.abort();
    await cm?.stop();
    await c?.close();
  });

  /** The Job's events with `reason`, once at least `count` are there (the recorder writes them after the status). */
  const recorded = (job: string, reason: string, count = 1) =>
    eventually(async () => {
      const messages = await c.events('default', job, reason);
      return messages.length >= count && messages;
    }, 10_000, `${reason} events of ${job}`);
  const podsOf = async (job: string) => (await c.client.list(ref.pods, 'default', { labelSelector: `batch.kubernetes.io/job-name=${job}` })).items;
  const phases = async (job: string) => {
    const out: Record<string, number> = {};
    for (const p of await podsOf(job)) out[p.status?.phase ?? ''] = (out[p.status?.phase ?? ''] ?? 0) + 1;
    return out;
  };

  it('completions=5, parallelism=2: exactly 5 successes, never more than 2 pods at once', async () => {
    const w = new JobPods(c, 'pi');
    w.informer.start(ac.signal);
    await w.informer.waitForSync(ac.signal);
    await c.client.create(ref.jobs, 'default', makeJob('pi', { completions: 5, parallelism: 2, runSeconds: '0.3' }));
    const job = await c.waitFor(ref.jobs, 'default', 'pi', (j) => !!cond(j, 'Complete'), 30_000);
    assert.equal(job!.status.succeeded, 5);
    assert.equal(job!.status.failed, undefined);
    assert.equal(job!.status.active, undefined);
    assert.equal(job!.status.ready, 0);
    assert.equal(job!.status.terminating, 0);
    assert.deepEqual(job!.status.uncountedTerminatedPods, {});
    assert.ok(job!.status.startTime && job!.status.completionTime);
    const types = job!.status.conditions.map((x: any) => `${x.type}=${x.status}:${x.reason}`);
    assert.deepEqual(types, ['SuccessCriteriaMet=True:CompletionsReached', 'Complete=True:CompletionsReached']);
    assert.equal(cond(job, 'Complete').message, 'Reached expected number of succeeded pods');
    assert.deepEqual(await phases('pi'), { Succeeded: 5 });
    assert.equal(w.created, 5);
    assert.ok(w.maxActive <= 2, `at most parallelism pods active: ${w.maxActive}`);
    for (const p of await podsOf('pi')) {
      assert.match(p.metadata.name!, /^pi-[a-z0-9]{5}$/);
      assert.ok(!(p.metadata.finalizers ?? []).includes('batch.kubernetes.io/job-tracking'), 'finalizer removed once counted');
      assert.equal(p.metadata.labels!['batch.kubernetes.io/controller-uid'], job!.metadata.uid);
      assert.equal(p.metadata.labels!['job-name'], 'pi');
      assert.deepEqual(p.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.controller, r.blockOwnerDeletion]), [['Job', 'pi', true, true]]);
    }
    const created = await recorded('pi', 'SuccessfulCreate', 5);
    assert.equal(created.length, 5);
    assert.ok(created.every((m) => /^Created pod: pi-[a-z0-9]{5}$/.test(m)), created.join('\n'));
    assert.deepEqual(await recorded('pi', 'Completed'), ['Job completed']);
  });

  it('survives injected failures up to backoffLimit, replacing each failed pod', async () => {
    const w = new JobPods(c, 'flaky', 3);
    w.informer.start(ac.signal);
    await w.informer.waitForSync(ac.signal);
    await c.client.create(ref.jobs, 'default', makeJob('flaky', { completions: 5, parallelism: 2, backoffLimit: 3, runSeconds: '0.5' }));
    const job = await c.waitFor(ref.jobs, 'default', 'flaky', (j) => !!cond(j, 'Complete') || !!cond(j, 'Failed'), 30_000);
    assert.ok(cond(job, 'Complete'), JSON.stringify(job!.status));
    assert.equal(job!.status.succeeded, 5);
    assert.equal(job!.status.failed, 3);
    assert.deepEqual(await phases('flaky'), { Succeeded: 5, Failed: 3 });
    assert.ok(w.maxActive <= 2, `at most parallelism pods active: ${w.maxActive}`);
  });

  it('a work queue (no completions): parallel pods, complete once one has succeeded and none runs', async () => {
    await c.client.create(ref.jobs, 'default', makeJob('queue', { completions: null, parallelism: 3, runSeconds: '0.3' }));
    const job = await c.waitFor(ref.jobs, 'default', 'queue', (j) => !!cond(j, 'Complete'), 20_000);
    assert.equal(job!.spec.completions ?? null, null);
    assert.equal(job!.status.succeeded, 3);
    assert.deepEqual(await phases('queue'), { Succeeded: 3 });
  });

  it('fails past backoffLimit: FailureTarget, then Failed with BackoffLimitExceeded', async () => {
    await c.client.create(ref.jobs, 'default', makeJob('doomed', { completions: 5, parallelism: 1, backoffLimit: 2, runSeconds: '0.2', exitCode: '1' }));
    const job = await c.waitFor(ref.jobs, 'default', 'doomed', (j) => !!cond(j, 'Failed'), 30_000);
    const types = job!.status.conditions.map((x: any) => `${x.type}=${x.status}:${x.reason}`);
    assert.deepEqual(types, ['FailureTarget=True:BackoffLimitExceeded', 'Failed=True:BackoffLimitExceeded']);
    assert.equal(cond(job, 'Failed').message, 'Job has reached the specified backoff limit');
    assert.equal(job!.status.failed, 3, JSON.stringify(job!.status));
    assert.equal(job!.status.succeeded, undefined);
    assert.equal(job!.status.completionTime, undefined);
    assert.deepEqual(await recorded('doomed', 'BackoffLimitExceeded'), ['Job has reached the specified backoff limit']);
    // No pod is left running, none is recreated.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await podsOf('doomed')).filter((p) => p.status?.phase !== 'Failed').length, 0);
  });

  it('Indexed: one pod per index with its annotation, label, hostname and env; completedIndexes', async () => {
    await c.client.create(ref.jobs, 'default', makeJob('idx', { completions: 3, parallelism: 3, indexed: true, runSeconds: '0.2' }));
    const job = await c.waitFor(ref.jobs, 'default', 'idx', (j) => !!cond(j, 'Complete'), 30_000);
    assert.equal(job!.status.completedIndexes, '0-2');
    assert.equal(job!.status.succeeded, 3);
    const pods = (await podsOf('idx')).sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
    assert.deepEqual(pods.map((p) => p.metadata.annotations!['batch.kubernetes.io/job-completion-index']), ['0', '1', '2']);
    assert.deepEqual(pods.map((p) => p.metadata.labels!['batch.kubernetes.io/job-completion-index']), ['0', '1', '2']);
    assert.deepEqual(pods.map((p) => p.spec.hostname), ['idx-0', 'idx-1', 'idx-2']);
    assert.ok(pods.every((p, i) => p.metadata.name!.startsWith(`idx-${i}-`)));
    assert.deepEqual(pods[0].spec.containers[0].env, [
      { name: 'JOB_COMPLETION_INDEX', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" } } },
    ]);
  });

  it('Indexed with a failing index: only that index is retried', async () => {
    const w = new JobPods(c, 'idxf', 1);
    w.informer.start(ac.signal);
    await w.informer.waitForSync(ac.signal);
    await c.client.create(ref.jobs, 'default', makeJob('idxf', { completions: 3, parallelism: 3, indexed: true, runSeconds: '0.5' }));
    const job = await c.waitFor(ref.jobs, 'default', 'idxf', (j) => !!cond(j, 'Complete'), 30_000);
    assert.equal(job!.status.completedIndexes, '0-2');
    assert.equal(job!.status.failed, 1);
    const pods = await podsOf('idxf');
    const failed = pods.find((p) => p.status.phase === 'Failed')!;
    const ix = failed.metadata.annotations!['batch.kubernetes.io/job-completion-index'];
    assert.equal(pods.filter((p) => p.metadata.annotations!['batch.kubernetes.io/job-completion-index'] === ix).length, 2);
  });

  it('activeDeadlineSeconds: running pods are deleted and the Job fails with DeadlineExceeded', async () => {
    await c.client.create(ref.jobs, 'default', makeJob('slow', { completions: 2, parallelism: 2, activeDeadlineSeconds: 1 }));
    await eventually(async () => (await phases('slow')).Running === 2, 10_000, 'pods running');
    const job = await c.waitFor(ref.jobs, 'default', 'slow', (j) => !!cond(j, 'Failed'), 15_000);
    assert.equal(cond(job, 'Failed').reason, 'DeadlineExceeded');
    assert.equal(cond(job, 'Failed').message, 'Job was active longer than specified deadline');
    assert.equal(job!.status.failed, 2, 'the deleted pods count as failed');
    await eventually(async () => (await podsOf('slow')).length === 0, 10_000, 'pods gone');
    assert.deepEqual(await recorded('slow', 'DeadlineExceeded'), ['Job was active longer than specified deadline']);
  });

  it('suspend: no pods while suspended; resuming starts them and resets startTime', async () => {
    await c.client.create(ref.jobs, 'default', makeJob('later', { completions: 1, suspend: true, runSeconds: '0.2' }));
    const suspendedJob = await c.waitFor(ref.jobs, 'default', 'later', (j) => !!cond(j, 'Suspended'));
    assert.equal(cond(suspendedJob, 'Suspended').reason, 'JobSuspended');
    assert.equal(suspendedJob!.status.startTime, undefined);
    assert.equal((await podsOf('later')).length, 0);
    await c.client.patch(ref.jobs, 'default', 'later', 'merge', { spec: { suspend: false } });
    const job = await c.waitFor(ref.jobs, 'default', 'later', (j) => !!cond(j, 'Complete'), 20_000);
    const s = job!.status.conditions.find((x: any) => x.type === 'Suspended');
    assert.equal(s.status, 'False');
    assert.equal(s.reason, 'JobResumed');
    assert.ok(job!.status.startTime);
    assert.deepEqual(await recorded('later', 'Suspended'), ['Job suspended']);
    assert.deepEqual(await recorded('later', 'Resumed'), ['Job resumed']);
  });

  it('suspending a running Job deletes its pods', async () => {
    await c.client.create(ref.jobs, 'default', makeJob('pause', { completions: 2, parallelism: 2 }));
    await eventually(async () => (await phases('pause')).Running === 2, 10_000, 'pods running');
    await c.client.patch(ref.jobs, 'default', 'pause', 'merge', { spec: { suspend: true } });
    const job = await c.waitFor(ref.jobs, 'default', 'pause', (j) => !!cond(j, 'Suspended') && !j!.status.active);
    assert.equal(job!.status.failed, undefined, 'pods deleted by suspension are not failures');
    await eventually(async () => (await podsOf('pause')).length === 0, 10_000, 'pods gone');
  });

  it('podFailurePolicy: Ignore does not count a failure; FailJob fails the Job at once', async () => {
    const policy = {
      rules: [
        { action: 'FailJob', onExitCodes: { containerName: 'main', operator: 'In', values: [42] } },
        { action: 'Ignore', onExitCodes: { operator: 'In', values: [43] } },
      ],
    };
    const wi = new JobPods(c, 'ignored', 2, '43');
    wi.informer.start(ac.signal);
    await wi.informer.waitForSync(ac.signal);
    await c.client.create(ref.jobs, 'default', makeJob('ignored', { completions: 2, parallelism: 1, backoffLimit: 0, runSeconds: '0.5', podFailurePolicy: policy }));
    const ok = await c.waitFor(ref.jobs, 'default', 'ignored', (j) => !!cond(j, 'Complete') || !!cond(j, 'Failed'), 30_000);
    assert.ok(cond(ok, 'Complete'), JSON.stringify(ok!.status));
    assert.equal(ok!.status.failed, undefined, 'ignored failures are not counted');
    assert.deepEqual(await phases('ignored'), { Succeeded: 2, Failed: 2 });

    await c.client.create(ref.jobs, 'default', makeJob('fatal', { completions: 3, parallelism: 1, backoffLimit: 6, runSeconds: '0.2', exitCode: '42', podFailurePolicy: policy }));
    const job = await c.waitFor(ref.jobs, 'default', 'fatal', (j) => !!cond(j, 'Failed'), 30_000);
    const pod = (await podsOf('fatal'))[0];
    const msg = `Container main for pod default/${pod.metadata.name} failed with exit code 42 matching FailJob rule at index 0`;
    assert.deepEqual(job!.status.conditions.map((x: any) => [x.type, x.reason, x.message]), [
      ['FailureTarget', 'PodFailurePolicy', msg],
      ['Failed', 'PodFailurePolicy', msg],
    ]);
    assert.equal((await podsOf('fatal')).length, 1, 'no retry after FailJob');
  });

  it('successPolicy: an Indexed Job succeeds once the named indexes have', async () => {
    await c.client.create(
      ref.jobs,
      'default',
      makeJob('leader', { completions: 3, parallelism: 3, indexed: true, runSeconds: '0.2', successPolicy: { rules: [{ succeededIndexes: '0' }] } }),
    );
    const job = await c.waitFor(ref.jobs, 'default', 'leader', (j) => !!cond(j, 'Complete'), 20_000);
    assert.equal(cond(job, 'SuccessCriteriaMet').reason, 'SuccessPolicy');
    assert.equal(cond(job, 'Complete').message, 'Matched rules at index 0');
  });

  it('ttlSecondsAfterFinished: the finished Job is deleted (foreground) after its TTL', async () => {
    await c.client.create(ref.jobs, 'default', makeJob('short', { completions: 1, runSeconds: '0.1', ttl: 1 }));
    const done = await c.waitFor(ref.jobs, 'default', 'short', (j) => !!cond(j, 'Complete'), 20_000);
    const finishedAt = Date.parse(cond(done, 'Complete').lastTransitionTime);
    const gone = await c.waitFor(ref.jobs, 'default', 'short', (j) => j === undefined || !!j.metadata.deletionTimestamp, 10_000);
    assert.ok(Date.now() >= finishedAt + 1000);
    if (gone) assert.ok(gone.metadata.finalizers?.includes('foregroundDeletion'), 'foreground: dependents first');
  });
});
