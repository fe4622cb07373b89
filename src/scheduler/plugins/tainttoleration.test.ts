// TaintToleration with the fixtures of the "Taints and Tolerations" documentation.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CycleState } from '../framework/interface.ts';
import { PodInfo } from '../framework/types.ts';
import { Snapshot } from '../internal/cache.ts';
import { makeNode, makePod } from '../testing/fixtures.ts';
import { startTestScheduler } from '../testing/harness.ts';
import { TaintToleration } from './tainttoleration.ts';

const pl = new TaintToleration();

function filter(pod: ReturnType<typeof makePod>, node: ReturnType<typeof makeNode>) {
  const snap = Snapshot.of([node.obj()]);
  return pl.filter(new CycleState(), new PodInfo(pod.obj()), snap.list()[0]);
}

describe('TaintToleration', () => {
  const tainted = () => makeNode().name('node1').taint('key1', 'value1', 'NoSchedule');

  test('a pod without tolerations does not fit a NoSchedule taint; the reason names the taint', () => {
    const s = filter(makePod().name('p'), tainted());
    assert.equal(s?.code, 'UnschedulableAndUnresolvable');
    assert.deepEqual(s?.reasons, ['node(s) had untolerated taint {key1: value1}']);
  });

  test('Equal and Exists tolerations from the documentation both tolerate key1=value1:NoSchedule', () => {
    assert.equal(filter(makePod().name('p').toleration({ key: 'key1', operator: 'Equal', value: 'value1', effect: 'NoSchedule' }), tainted()), undefined);
    assert.equal(filter(makePod().name('p').toleration({ key: 'key1', operator: 'Exists', effect: 'NoSchedule' }), tainted()), undefined);
    // An empty key with Exists tolerates everything; an empty effect matches every effect.
    assert.equal(filter(makePod().name('p').toleration({ operator: 'Exists' }), tainted()), undefined);
    assert.equal(filter(makePod().name('p').toleration({ key: 'key1', operator: 'Equal', value: 'value1' }), tainted()), undefined);
  });

  test('a toleration for another value, key or effect does not tolerate it', () => {
    assert.ok(filter(makePod().name('p').toleration({ key: 'key1', operator: 'Equal', value: 'other', effect: 'NoSchedule' }), tainted()));
    assert.ok(filter(makePod().name('p').toleration({ key: 'key2', operator: 'Exists' }), tainted()));
    assert.ok(filter(makePod().name('p').toleration({ key: 'key1', operator: 'Exists', effect: 'NoExecute' }), tainted()));
  });

  test('NoExecute taints filter too; PreferNoSchedule taints do not', () => {
    const s = filter(makePod().name('p'), makeNode().name('n').taint('k', undefined, 'NoExecute'));
    assert.deepEqual(s?.reasons, ['node(s) had untolerated taint {k: }']);
    assert.equal(filter(makePod().name('p'), makeNode().name('n').taint('k', 'v', 'PreferNoSchedule')), undefined);
  });

  test('score: fewer untolerated PreferNoSchedule taints is better, normalized and reversed', () => {
    const snap = Snapshot.of([
      makeNode().name('clean').obj(),
      makeNode().name('one').taint('a', 'x', 'PreferNoSchedule').obj(),
      makeNode().name('two').taint('a', 'x', 'PreferNoSchedule').taint('b', 'y', 'PreferNoSchedule').obj(),
      makeNode().name('tolerated').taint('c', 'z', 'PreferNoSchedule').obj(),
    ]);
    const pi = new PodInfo(makePod().name('p').toleration({ key: 'c', operator: 'Exists', effect: 'PreferNoSchedule' }).obj());
    const state = new CycleState();
    pl.preScore(state, pi);
    const nodes = snap.list();
    const scores = new Float64Array(nodes.map((n) => pl.score(state, pi, n)));
    pl.normalizeScore(state, pi, nodes, scores);
    const byName = Object.fromEntries(nodes.map((n, i) => [n.name, scores[i]]));
    assert.deepEqual(byName, { clean: 100, one: 50, two: 0, tolerated: 100 });
  });

  test('a pod tolerating one taint lands only on the tainted node it tolerates when the others are full', async () => {
    const t = await startTestScheduler({
      nodes: [
        makeNode().name('full-1').capacity({ cpu: '1', memory: '4Gi' }).obj(),
        makeNode().name('full-2').capacity({ cpu: '1', memory: '4Gi' }).obj(),
        makeNode().name('gpu').capacity({ cpu: '4', memory: '4Gi' }).taint('dedicated', 'gpu', 'NoSchedule').obj(),
        makeNode().name('infra').capacity({ cpu: '4', memory: '4Gi' }).taint('dedicated', 'infra', 'NoSchedule').obj(),
      ],
      pods: [
        makePod().name('filler-1').node('full-1').req({ cpu: '1' }).obj(),
        makePod().name('filler-2').node('full-2').req({ cpu: '1' }).obj(),
        makePod().name('p').req({ cpu: '500m' }).toleration({ key: 'dedicated', operator: 'Equal', value: 'gpu', effect: 'NoSchedule' }).obj(),
      ],
    });
    await t.scheduleAll();
    assert.equal(t.bindings.get('default/p'), 'gpu');
    await t.stop();
  });
});
