// NodeAffinity and nodeSelector with the examples of "Assigning Pods to Nodes".

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CycleState, PreFilterResult } from '../framework/interface.ts';
import { PodInfo } from '../framework/types.ts';
import { Snapshot } from '../internal/cache.ts';
import { makeNode, makePod } from '../testing/fixtures.ts';
import { startTestScheduler } from '../testing/harness.ts';
import { NodeAffinity } from './nodeaffinity.ts';

const pl = new NodeAffinity();
const node = makeNode().name('n1').label('disktype', 'ssd').label('topology.kubernetes.io/zone', 'antarctica-east1').label('cores', '8').obj();

function fits(pod: ReturnType<typeof makePod>, p: NodeAffinity = pl): boolean {
  const state = new CycleState();
  const pi = new PodInfo(pod.obj());
  const pre = p.preFilter(state, pi);
  if (pre && !(pre instanceof PreFilterResult) && pre.code === 'Skip') return true;
  const s = p.filter(state, pi, Snapshot.of([node]).list()[0]);
  if (s) assert.deepEqual(s.reasons, [s.reasons[0]]);
  return s === undefined;
}

describe('NodeAffinity filter', () => {
  test('nodeSelector: every label must match', () => {
    assert.equal(fits(makePod().name('p').nodeSelector({ disktype: 'ssd' })), true);
    assert.equal(fits(makePod().name('p').nodeSelector({ disktype: 'ssd', gpu: 'true' })), false);
  });

  test('operators In, NotIn, Exists, DoesNotExist, Gt, Lt', () => {
    const cases: [string, string, string[] | undefined, boolean][] = [
      ['topology.kubernetes.io/zone', 'In', ['antarctica-east1', 'antarctica-west1'], true],
      ['topology.kubernetes.io/zone', 'In', ['antarctica-west1'], false],
      ['topology.kubernetes.io/zone', 'NotIn', ['antarctica-west1'], true],
      ['topology.kubernetes.io/zone', 'NotIn', ['antarctica-east1'], false],
      ['missing', 'NotIn', ['x'], true],
      ['disktype', 'Exists', undefined, true],
      ['gpu', 'Exists', undefined, false],
      ['gpu', 'DoesNotExist', undefined, true],
      ['disktype', 'DoesNotExist', undefined, false],
      ['cores', 'Gt', ['4'], true],
      ['cores', 'Gt', ['8'], false],
      ['cores', 'Lt', ['16'], true],
      ['cores', 'Lt', ['8'], false],
      ['disktype', 'Gt', ['1'], false], // not an integer label
      ['cores', 'Gt', ['x'], false], // invalid requirement matches nothing
    ];
    for (const [key, op, values, want] of cases) assert.equal(fits(makePod().name('p').nodeAffinity(key, op, values)), want, `${key} ${op} ${values}`);
  });

  test('terms are ORed, expressions within a term ANDed', () => {
    const pod = makePod().name('p').nodeAffinity('gpu', 'Exists').nodeAffinity('disktype', 'In', ['ssd']);
    assert.equal(fits(pod), true);
  });

  test('the reason is upstream\'s', () => {
    const state = new CycleState();
    const pi = new PodInfo(makePod().name('p').nodeSelector({ gpu: 'true' }).obj());
    pl.preFilter(state, pi);
    assert.deepEqual(pl.filter(state, pi, Snapshot.of([node]).list()[0])?.reasons, ["node(s) didn't match Pod's node affinity/selector"]);
  });

  test('addedAffinity (scheduler-enforced) applies to every pod', () => {
    const enforced = new NodeAffinity({ addedAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'gpu', operator: 'Exists' }] }] } } });
    const state = new CycleState();
    const pi = new PodInfo(makePod().name('p').obj());
    enforced.preFilter(state, pi);
    assert.deepEqual(enforced.filter(state, pi, Snapshot.of([node]).list()[0])?.reasons, ["node(s) didn't match scheduler-enforced node affinity"]);
  });

  test('matchFields metadata.name narrows the nodes at PreFilter (DaemonSet pods)', () => {
    const r = pl.preFilter(new CycleState(), new PodInfo(makePod().name('ds').nodeAffinityToNames(['n2']).obj()));
    assert.ok(r instanceof PreFilterResult);
    assert.deepEqual([...r.nodeNames], ['n2']);
  });
});

describe('NodeAffinity score', () => {
  test('preferred terms add their weights; normalized to 100 for the best node', () => {
    const snap = Snapshot.of([
      makeNode().name('a').label('label-1', 'key-1').obj(),
      makeNode().name('b').label('label-2', 'key-2').obj(),
      makeNode().name('c').obj(),
    ]);
    const pi = new PodInfo(makePod().name('p').preferredNodeAffinity(1, 'label-1', 'In', ['key-1']).preferredNodeAffinity(50, 'label-2', 'In', ['key-2']).obj());
    const state = new CycleState();
    pl.preScore(state, pi);
    const nodes = snap.list();
    const scores = new Float64Array(nodes.map((n) => pl.score(state, pi, n)));
    pl.normalizeScore(state, pi, nodes, scores);
    assert.deepEqual(Object.fromEntries(nodes.map((n, i) => [n.name, scores[i]])), { a: 2, b: 100, c: 0 });
  });

  test('end to end: required affinity picks the zone; preferred picks among the rest', async () => {
    const t = await startTestScheduler({
      nodes: [
        makeNode().name('east-hdd').zone('east').label('disktype', 'hdd').obj(),
        makeNode().name('east-ssd').zone('east').label('disktype', 'ssd').obj(),
        makeNode().name('west-ssd').zone('west').label('disktype', 'ssd').obj(),
      ],
      pods: [makePod().name('p').nodeAffinityIn('topology.kubernetes.io/zone', ['east']).preferredNodeAffinity(1, 'disktype', 'In', ['ssd']).obj()],
    });
    await t.scheduleAll();
    assert.equal(t.bindings.get('default/p'), 'east-ssd');
    await t.stop();
  });
});
