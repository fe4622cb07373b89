// The scheduling algorithm around the plugins: sampling, the FailedScheduling message,
// profiles, and which pods the scheduler takes.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NodeToStatus } from './framework/interface.ts';
import { fitErrorMessage } from './framework/fiterror.ts';
import { Status, unresolvable } from './framework/status.ts';
import { numFeasibleNodesToFind, selectHost, truncateMessage } from './scheduler.ts';
import { makeNode, makePod } from './testing/fixtures.ts';
import { startTestScheduler } from './testing/harness.ts';

describe('scheduler', () => {
  test('percentageOfNodesToScore: all below 100 nodes; adaptive 50% − n/125 (at least 5%), at least 100', () => {
    assert.equal(numFeasibleNodesToFind(0, 50), 50);
    assert.equal(numFeasibleNodesToFind(0, 100), 100);
    assert.equal(numFeasibleNodesToFind(0, 1000), 420);
    assert.equal(numFeasibleNodesToFind(0, 5000), 500);
    assert.equal(numFeasibleNodesToFind(0, 6000), 300);
    assert.equal(numFeasibleNodesToFind(0, 15000), 750);
    assert.equal(numFeasibleNodesToFind(30, 5000), 1500);
    assert.equal(numFeasibleNodesToFind(1, 5000), 100);
  });

  test('the FailedScheduling histogram sorts "count reason" strings as strings, absent nodes counted', () => {
    const s = new NodeToStatus();
    for (let i = 0; i < 10; i++) s.set(`a${i}`, new Status('Unschedulable', ['Insufficient memory']));
    for (let i = 0; i < 2; i++) s.set(`b${i}`, new Status('Unschedulable', ['Insufficient cpu', 'Insufficient memory']));
    s.absentNodesStatus = unresolvable("node(s) didn't satisfy plugin(s) [NodeAffinity]");
    assert.equal(fitErrorMessage({ numAllNodes: 15, statuses: s }), "0/15 nodes are available: 12 Insufficient memory, 2 Insufficient cpu, 3 node(s) didn't satisfy plugin(s) [NodeAffinity].");
    assert.equal(fitErrorMessage({ numAllNodes: 3, statuses: new NodeToStatus(), preFilterMsg: 'pod has unbound immediate PersistentVolumeClaims', postFilterMsg: 'preemption: x.' }), '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: x.');
  });

  test('ties are broken at random among the best nodes only', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(selectHost(new Float64Array([5, 9, 1, 9, 9])));
    assert.deepEqual([...seen].sort(), [1, 3, 4]);
  });

  test('long messages are cut to 1024 bytes with " ..."', () => {
    const m = truncateMessage('x'.repeat(2000));
    assert.equal(m.length, 1024);
    assert.ok(m.endsWith(' ...'));
  });

  test('no nodes at all: "no nodes available to schedule pods"', async () => {
    const t = await startTestScheduler({ pods: [makePod().name('p').obj()] });
    await t.scheduleAll();
    assert.equal(t.events[0].message, 'no nodes available to schedule pods');
    await t.stop();
  });

  test('two profiles: each pod is scheduled by the profile it names; pods naming no profile are left alone', async () => {
    const t = await startTestScheduler({
      nodes: [makeNode().name('n1').obj()],
      pods: [makePod().name('a').obj(), makePod().name('b').schedulerName('my-scheduler').obj(), makePod().name('c').schedulerName('absent').obj()],
      config: { profiles: [{ schedulerName: 'default-scheduler' }, { schedulerName: 'my-scheduler' }] },
    });
    await t.scheduleAll();
    assert.deepEqual([...t.bindings.keys()].sort(), ['default/a', 'default/b']);
    assert.deepEqual(
      t.events.map((e) => [e.object, e.source]).sort(),
      [
        ['default/a', 'default-scheduler'],
        ['default/b', 'my-scheduler'],
      ],
    );
    assert.equal(t.scheduler.queue.whereIs('default/c'), undefined);
    await t.stop();
  });

  test('pods already naming a node and finished pods are not scheduled; their requests count', async () => {
    const t = await startTestScheduler({
      nodes: [makeNode().name('n1').capacity({ cpu: '1', memory: '1Gi' }).obj(), makeNode().name('n2').capacity({ cpu: '1', memory: '1Gi' }).obj()],
      pods: [makePod().name('static').node('n1').req({ cpu: '1' }).obj(), makePod().name('p').req({ cpu: '1' }).obj()],
    });
    await t.scheduleAll();
    assert.deepEqual([...t.bindings], [['default/p', 'n2']]);
    await t.stop();
  });

  test('a DaemonSet-style pod (matchFields metadata.name) is checked against its node only', async () => {
    const nodes = Array.from({ length: 200 }, (_v, i) => makeNode().name(`n${i}`).obj());
    const t = await startTestScheduler({ nodes, pods: [makePod().name('ds').nodeAffinityToNames(['n137']).obj()] });
    await t.scheduleAll();
    assert.equal(t.bindings.get('default/ds'), 'n137');
    await t.stop();
  });

  test('binding errors put the pod back with a SchedulerError condition and forget the assumed pod', async () => {
    const t = await startTestScheduler({ nodes: [makeNode().name('n1').obj()], pods: [makePod().name('p').obj()] });
    t.client.failBindings = 'connection refused';
    await t.scheduleAll();
    assert.equal(t.bindings.size, 0);
    assert.equal(t.scheduler.cache.assumedCount(), 0);
    assert.equal(t.scheduler.queue.whereIs('default/p'), 'backoff');
    const cond = (t.client.patches[0].patch as { status: { conditions: { reason: string }[] } }).status.conditions[0];
    assert.equal(cond.reason, 'SchedulerError');
    await t.stop();
  });
});
