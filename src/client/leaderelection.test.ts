// Leader election with two candidates on a real apiserver (short durations): one
// leads; when it stops renewing the other takes over within the lease duration; a
// leader that cannot reach the apiserver steps down before the other takes over; a
// leader shutting down releases the lease.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderElector, microTime, type LeaderElectionOptions } from './leaderelection.ts';
import { ref } from './resources.ts';
import { createClient } from './rest.ts';
import { eventually, PartitionableTransport, startClientTestServer, type ClientTestServer } from './testing.ts';
import { sleep } from './util.ts';

const TIMING = { leaseDurationMs: 1000, renewDeadlineMs: 500, retryPeriodMs: 150 };

interface Candidate {
  elector: LeaderElector;
  transport: PartitionableTransport;
  ac: AbortController;
  run: Promise<void>;
  startedAt?: number;
  stoppedAt?: number;
  leaders: string[];
}

describe('leader election', () => {
  let t: ClientTestServer;
  before(async () => {
    t = await startClientTestServer();
  });
  after(async () => await t.close());

  const candidate = (name: string, identity: string, extra: Partial<LeaderElectionOptions> = {}): Candidate => {
    const transport = new PartitionableTransport(t.transport('inprocess'));
    const c: Candidate = { transport, ac: new AbortController(), leaders: [] } as unknown as Candidate;
    c.elector = new LeaderElector({
      client: createClient(transport),
      namespace: 'kube-system',
      name,
      identity,
      ...TIMING,
      onStartedLeading: (signal) => {
        c.startedAt = Date.now();
        signal.addEventListener('abort', () => (c.stoppedAt ??= Date.now()));
      },
      onStoppedLeading: () => (c.stoppedAt ??= Date.now()),
      onNewLeader: (id) => c.leaders.push(id),
      ...extra,
    });
    c.run = c.elector.run(c.ac.signal);
    return c;
  };
  const lease = async (name: string) => (await t.client('inprocess').get(ref.leases, 'kube-system', name)).spec;

  it('one of two candidates leads; when it stops renewing the other takes over within the lease duration', async () => {
    const a = candidate('two', 'a', { releaseOnCancel: false });
    await eventually(() => a.elector.isLeader(), 5000, 'a leads');
    const b = candidate('two', 'b');
    await sleep(3 * TIMING.leaseDurationMs); // a keeps renewing; b waits
    assert.ok(a.elector.isLeader());
    assert.equal(b.elector.isLeader(), false);
    assert.deepEqual(b.leaders, ['a']);
    let spec = await lease('two');
    assert.equal(spec.holderIdentity, 'a');
    assert.equal(spec.leaseDurationSeconds, 1);
    assert.equal(spec.leaseTransitions, 0);
    assert.match(spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.ok(Date.parse(spec.renewTime) > Date.parse(spec.acquireTime), 'renewed');

    // Killed: no release, the lease just stops being renewed.
    const killedAt = Date.now();
    a.ac.abort();
    await a.run;
    assert.equal((await lease('two')).holderIdentity, 'a', 'not released');
    await eventually(() => b.elector.isLeader(), 5000, 'b takes over');
    const tookMs = b.startedAt! - killedAt;
    assert.ok(tookMs <= TIMING.leaseDurationMs + 2 * TIMING.retryPeriodMs * 1.2 + 500, `took over after ${tookMs} ms`);
    spec = await lease('two');
    assert.equal(spec.holderIdentity, 'b');
    assert.equal(spec.leaseTransitions, 1);
    assert.deepEqual(b.leaders, ['a', 'b']);
    b.ac.abort();
    await b.run;
  });

  it('a leader cut off from the apiserver steps down before the other takes over', async () => {
    const a = candidate('cut', 'a');
    await eventually(() => a.elector.isLeader(), 5000, 'a leads');
    const b = candidate('cut', 'b');
    await sleep(2 * TIMING.retryPeriodMs);
    a.transport.cut();
    await eventually(() => b.elector.isLeader(), 5000, 'b takes over');
    assert.ok(a.stoppedAt !== undefined && a.stoppedAt <= b.startedAt!, 'a stopped leading first');
    assert.equal(a.elector.isLeader(), false);
    await a.run; // run() returns once leadership is lost
    b.ac.abort();
    await b.run;
  });

  it('a leader shutting down releases the lease and the other takes over at once', async () => {
    const a = candidate('release', 'a');
    await eventually(() => a.elector.isLeader(), 5000, 'a leads');
    const b = candidate('release', 'b');
    await sleep(2 * TIMING.retryPeriodMs);
    const releasedAt = Date.now();
    a.ac.abort();
    await a.run;
    assert.ok(a.stoppedAt);
    await eventually(() => b.elector.isLeader(), 5000, 'b takes over');
    assert.ok(b.startedAt! - releasedAt < TIMING.leaseDurationMs, 'before the lease would have expired');
    b.ac.abort();
    await b.run;
    const spec = await lease('release');
    assert.equal(spec.holderIdentity, '', 'released: no holder, the lease is kept');
    assert.equal(spec.leaseDurationSeconds, 1);
    assert.equal(spec.leaseTransitions, 1);
  });

  it('writes MicroTime with six fraction digits', () => {
    assert.equal(microTime(Date.UTC(2024, 0, 2, 3, 4, 5, 678) + 0.9), '2024-01-02T03:04:05.678900Z');
  });
});
