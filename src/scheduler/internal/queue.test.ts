// The scheduling queue: ordering, backoff, the unschedulable pool and cluster events.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ActionType, type QueuedPodInfo } from '../framework/interface.ts';
import { Status } from '../framework/status.ts';
import { PodInfo } from '../framework/types.ts';
import { PrioritySort } from '../plugins/queuesort.ts';
import { SchedulingGates } from '../plugins/schedulinggates.ts';
import { makePod } from '../testing/fixtures.ts';
import { SchedulingQueue, type RequeueDecision } from './queue.ts';

function newQueue(opts: { requeue?: (qp: QueuedPodInfo) => RequeueDecision } = {}) {
  let now = 1_000_000;
  const gates = new SchedulingGates();
  const q = new SchedulingQueue({
    less: (a, b) => new PrioritySort().less(a, b),
    preEnqueue: (pi) => gates.preEnqueue(pi)?.withPlugin(gates.name),
    requeue: (qp) => opts.requeue?.(qp) ?? 'QueueAfterBackoff',
    now: () => now,
  });
  return { q, advance: (ms: number) => (now += ms) };
}

const pod = (name: string, prio = 0) => new PodInfo(makePod().name(name).priority(prio).obj());

describe('SchedulingQueue', () => {
  test('pops by priority, then in arrival order', () => {
    const { q } = newQueue();
    q.add(pod('a', 0));
    q.add(pod('b', 10));
    q.add(pod('c', 0));
    q.add(pod('d', 10));
    assert.deepEqual([q.tryPop(), q.tryPop(), q.tryPop(), q.tryPop()].map((x) => x?.podInfo.name), ['b', 'd', 'a', 'c']);
    assert.equal(q.tryPop(), undefined);
  });

  test('backoff is 1s doubling per attempt up to 10s', () => {
    const { q } = newQueue();
    const qp = { attempts: 0 } as QueuedPodInfo;
    const ds = [1, 2, 3, 4, 5, 6].map((a) => q.backoffDuration({ ...qp, attempts: a }));
    assert.deepEqual(ds, [1000, 2000, 4000, 8000, 10000, 10000]);
  });

  test('an unschedulable pod waits in the pool until an event; then it backs off before activeQ', () => {
    const { q, advance } = newQueue();
    q.add(pod('p'));
    const qp = q.tryPop()!;
    qp.unschedulablePlugins = new Set(['NodeResourcesFit']);
    q.addUnschedulableIfNotPresent(qp);
    assert.equal(q.whereIs('default/p'), 'unschedulable');
    q.moveAllToActiveOrBackoffQueue({ resource: 'Node', actionType: ActionType.Add });
    assert.equal(q.whereIs('default/p'), 'backoff');
    advance(999);
    q.flushBackoffQCompleted();
    assert.equal(q.whereIs('default/p'), 'backoff');
    advance(2);
    q.flushBackoffQCompleted();
    assert.equal(q.whereIs('default/p'), 'active');
  });

  test('an event the rejecting plugins do not care about leaves the pod in the pool', () => {
    const { q } = newQueue({ requeue: () => 'Skip' });
    q.add(pod('p'));
    const qp = q.tryPop()!;
    qp.unschedulablePlugins = new Set(['TaintToleration']);
    q.addUnschedulableIfNotPresent(qp);
    q.moveAllToActiveOrBackoffQueue({ resource: 'AssignedPod', actionType: ActionType.Delete });
    assert.equal(q.whereIs('default/p'), 'unschedulable');
  });

  test('an event during the cycle sends the failed pod to backoffQ, not to the pool', () => {
    const { q } = newQueue({ requeue: () => 'Skip' });
    q.add(pod('p'));
    const qp = q.tryPop()!;
    q.moveAllToActiveOrBackoffQueue({ resource: 'Node', actionType: ActionType.Add });
    qp.unschedulablePlugins = new Set(['NodeResourcesFit']);
    q.addUnschedulableIfNotPresent(qp);
    assert.equal(q.whereIs('default/p'), 'backoff');
  });

  test('pods that failed with an error (no rejecting plugin) retry after backoff', () => {
    const { q } = newQueue();
    q.add(pod('p'));
    q.addUnschedulableIfNotPresent(q.tryPop()!);
    assert.equal(q.whereIs('default/p'), 'backoff');
  });

  test('pods stuck in the pool for 5 minutes are retried anyway', () => {
    const { q, advance } = newQueue({ requeue: () => 'Skip' });
    q.add(pod('p'));
    const qp = q.tryPop()!;
    qp.unschedulablePlugins = new Set(['X']);
    q.addUnschedulableIfNotPresent(qp);
    advance(5 * 60_000 + 1);
    q.flushUnschedulablePodsLeftover();
    assert.equal(q.whereIs('default/p'), 'active');
  });

  test('schedulingGates: a gated pod waits without an attempt; removing the gates lets it in', () => {
    const { q } = newQueue();
    const gated = makePod().name('p').schedulingGates(['example.com/quota']).obj();
    q.add(new PodInfo(gated));
    assert.equal(q.whereIs('default/p'), 'gated');
    assert.equal(q.tryPop(), undefined);
    const ungated = structuredClone(gated);
    ungated.spec.schedulingGates = [];
    q.update(gated, new PodInfo(ungated));
    const qp = q.tryPop();
    assert.equal(qp?.podInfo.name, 'p');
    assert.equal(qp?.attempts, 1);
  });

  test('a status-only update of a pod in the pool does not retry it', () => {
    const { q } = newQueue();
    const p = makePod().name('p').obj();
    q.add(new PodInfo(p));
    const qp = q.tryPop()!;
    qp.unschedulablePlugins = new Set(['X']);
    q.addUnschedulableIfNotPresent(qp);
    const withCondition = structuredClone(p);
    withCondition.status!.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }];
    withCondition.metadata.resourceVersion = '9';
    q.update(p, new PodInfo(withCondition));
    assert.equal(q.whereIs('default/p'), 'unschedulable');
  });

  test('the nominator keeps pods nominated to a node, from status or the scheduler', () => {
    const { q } = newQueue();
    q.add(new PodInfo(makePod().name('a').nominatedNodeName('n1').obj()));
    const b = new PodInfo(makePod().name('b').obj());
    q.addNominatedPod(b, 'n1');
    assert.deepEqual(q.nominatedPodsForNode('n1').map((p) => p.name), ['a', 'b']);
    q.addNominatedPod(b, '');
    assert.deepEqual(q.nominatedPodsForNode('n1').map((p) => p.name), ['a']);
    q.delete(makePod().name('a').uid(q.nominatedPodsForNode('n1')[0].uid).obj());
    assert.deepEqual(q.nominatedPodsForNode('n1'), []);
  });

  test('PreEnqueue statuses name the plugin', () => {
    const s = new SchedulingGates().preEnqueue(new PodInfo(makePod().name('p').schedulingGates(['a', 'b']).obj()));
    assert.ok(s instanceof Status);
    assert.deepEqual(s.reasons, ['waiting for scheduling gates: [a b]']);
  });
});
