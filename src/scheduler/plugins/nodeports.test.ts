// NodePorts, NodeUnschedulable and NodeName.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CycleState } from '../framework/interface.ts';
import { PodInfo } from '../framework/types.ts';
import { Snapshot } from '../internal/cache.ts';
import { makeNode, makePod } from '../testing/fixtures.ts';
import { startTestScheduler } from '../testing/harness.ts';
import { NodeName } from './nodename.ts';
import { NodePorts } from './nodeports.ts';
import { NodeUnschedulable } from './nodeunschedulable.ts';

describe('NodePorts', () => {
  const pl = new NodePorts();
  const check = (want: ReturnType<typeof makePod>, existing: ReturnType<typeof makePod>) => {
    const snap = Snapshot.of([makeNode().name('n1').obj()], [existing.node('n1').obj()]);
    const state = new CycleState();
    const pi = new PodInfo(want.obj());
    if (pl.preFilter(state, pi)?.code === 'Skip') return undefined;
    return pl.filter(state, pi, snap.list()[0]);
  };

  test('the same host port and protocol conflict; another protocol or port does not', () => {
    assert.deepEqual(check(makePod().name('p').hostPort(8080), makePod().name('e').hostPort(8080))?.reasons, ["node(s) didn't have free ports for the requested pod ports"]);
    assert.equal(check(makePod().name('p').hostPort(8080, 'UDP'), makePod().name('e').hostPort(8080)), undefined);
    assert.equal(check(makePod().name('p').hostPort(8081), makePod().name('e').hostPort(8080)), undefined);
  });

  test('0.0.0.0 conflicts with every address; two specific addresses do not', () => {
    assert.ok(check(makePod().name('p').hostPort(80, 'TCP', '10.0.0.1'), makePod().name('e').hostPort(80)));
    assert.ok(check(makePod().name('p').hostPort(80), makePod().name('e').hostPort(80, 'TCP', '10.0.0.1')));
    assert.equal(check(makePod().name('p').hostPort(80, 'TCP', '10.0.0.2'), makePod().name('e').hostPort(80, 'TCP', '10.0.0.1')), undefined);
  });

  test('pods without host ports skip the plugin', () => {
    assert.equal(pl.preFilter(new CycleState(), new PodInfo(makePod().name('p').obj()))?.code, 'Skip');
  });

  test('end to end: two pods with the same host port land on different nodes; a third has nowhere to go', async () => {
    const t = await startTestScheduler({
      nodes: [makeNode().name('n1').obj(), makeNode().name('n2').obj()],
      pods: ['a', 'b', 'c'].map((n) => makePod().name(n).hostPort(9100).obj()),
    });
    await t.scheduleAll();
    assert.deepEqual(new Set(t.bindings.values()), new Set(['n1', 'n2']));
    assert.equal(
      t.events.find((e) => e.reason === 'FailedScheduling')?.message,
      "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
    );
    await t.stop();
  });
});

describe('NodeUnschedulable', () => {
  const pl = new NodeUnschedulable();
  const node = Snapshot.of([makeNode().name('cordoned').unschedulable().obj()]).list()[0];

  test('a cordoned node fits only pods tolerating node.kubernetes.io/unschedulable:NoSchedule', () => {
    assert.deepEqual(pl.filter(new CycleState(), new PodInfo(makePod().name('p').obj()), node)?.reasons, ['node(s) were unschedulable']);
    const tolerating = makePod().name('p').toleration({ key: 'node.kubernetes.io/unschedulable', operator: 'Exists', effect: 'NoSchedule' });
    assert.equal(pl.filter(new CycleState(), new PodInfo(tolerating.obj()), node), undefined);
  });
});

describe('NodeName', () => {
  test('a pod naming a node fits only that node', () => {
    const pl = new NodeName();
    const [a, b] = Snapshot.of([makeNode().name('a').obj(), makeNode().name('b').obj()]).list();
    const pi = new PodInfo(makePod().name('p').node('a').obj());
    assert.equal(pl.filter(new CycleState(), pi, a), undefined);
    assert.deepEqual(pl.filter(new CycleState(), pi, b)?.reasons, ["node(s) didn't match the requested node name"]);
  });
});
