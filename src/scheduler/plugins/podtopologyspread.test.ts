// PodTopologySpread with the examples of "Pod Topology Spread Constraints".

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PodInfo } from '../framework/types.ts';
import { makeNode, makePod } from '../testing/fixtures.ts';
import { startTestScheduler } from '../testing/harness.ts';

const ZONE = 'topology.kubernetes.io/zone';
const HOST = 'kubernetes.io/hostname';
const foo = { matchLabels: { foo: 'bar' } };

function docNodes() {
  return [
    makeNode().name('node1').zone('zoneA').obj(),
    makeNode().name('node2').zone('zoneA').obj(),
    makeNode().name('node3').zone('zoneB').obj(),
    makeNode().name('node4').zone('zoneB').obj(),
  ];
}
function docPods() {
  return [makePod().name('a').label('foo', 'bar').node('node1').obj(), makePod().name('b').label('foo', 'bar').node('node2').obj(), makePod().name('c').label('foo', 'bar').node('node3').obj()];
}

describe('PodTopologySpread', () => {
  test('30 pods over 3 zones with maxSkew 1 keep the skew at most 1 after every placement', async () => {
    const nodes = Array.from({ length: 9 }, (_v, i) => makeNode().name(`n${i}`).zone(['a', 'b', 'c'][i % 3]).obj());
    const t = await startTestScheduler({ nodes });
    const zoneOf = (n: string) => ['a', 'b', 'c'][Number(n.slice(1)) % 3];
    for (let i = 0; i < 30; i++) {
      const p = makePod().name(`p${i}`).label('app', 'web').req({ cpu: '100m' }).spreadConstraint(1, ZONE, 'DoNotSchedule', { matchLabels: { app: 'web' } }).obj();
      t.scheduler.queue.add(new PodInfo(p));
      await t.scheduleAll();
      const counts = { a: 0, b: 0, c: 0 } as Record<string, number>;
      for (const n of t.bindings.values()) counts[zoneOf(n)]++;
      const v = Object.values(counts);
      assert.ok(Math.max(...v) - Math.min(...v) <= 1, `after ${i + 1} pods: ${JSON.stringify(counts)}`);
    }
    assert.equal(t.bindings.size, 30);
    await t.stop();
  });

  test('one constraint: zoneA has 2 matching pods, zoneB 1 → the new pod goes to zoneB', async () => {
    const t = await startTestScheduler({ nodes: docNodes(), pods: [...docPods(), makePod().name('mypod').label('foo', 'bar').spreadConstraint(1, ZONE, 'DoNotSchedule', foo).obj()] });
    await t.scheduleAll();
    assert.match(t.bindings.get('default/mypod')!, /^node[34]$/);
    await t.stop();
  });

  test('two constraints (zone and hostname): only node4 fits', async () => {
    const pod = makePod().name('mypod').label('foo', 'bar').spreadConstraint(1, ZONE, 'DoNotSchedule', foo).spreadConstraint(1, HOST, 'DoNotSchedule', foo);
    const t = await startTestScheduler({ nodes: docNodes(), pods: [...docPods(), pod.obj()] });
    await t.scheduleAll();
    assert.equal(t.bindings.get('default/mypod'), 'node4');
    await t.stop();
  });

  test('minDomains above the domains that exist counts the global minimum as 0', async () => {
    const nodes = [makeNode().name('a1').zone('a').obj(), makeNode().name('b1').zone('b').obj()];
    const pods = [makePod().name('x').label('foo', 'bar').node('a1').obj(), makePod().name('y').label('foo', 'bar').node('b1').obj()];
    const t = await startTestScheduler({ nodes, pods: [...pods, makePod().name('p').label('foo', 'bar').spreadConstraint(1, ZONE, 'DoNotSchedule', foo, { minDomains: 3 }).obj()] });
    await t.scheduleAll();
    assert.equal(t.bindings.size, 0);
    assert.equal(
      t.events.find((e) => e.reason === 'FailedScheduling')?.message,
      "0/2 nodes are available: 2 node(s) didn't match pod topology spread constraints. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
    );
    await t.stop();
  });

  test('a node without the topology label does not fit (missing required label)', async () => {
    const t = await startTestScheduler({ nodes: [makeNode().name('nozone').obj()], pods: [makePod().name('p').label('foo', 'bar').spreadConstraint(1, ZONE, 'DoNotSchedule', foo).obj()] });
    await t.scheduleAll();
    assert.equal(
      t.events.find((e) => e.reason === 'FailedScheduling')?.message,
      "0/1 nodes are available: 1 node(s) didn't match pod topology spread constraints (missing required label). preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
    );
    await t.stop();
  });

  test('nodeAffinityPolicy Honor (default) only counts nodes the pod may run on', async () => {
    // zoneC's node is excluded by the pod's node affinity, so its absence of pods does not hold the minimum at 0.
    const nodes = [makeNode().name('a1').zone('a').label('pool', 'x').obj(), makeNode().name('b1').zone('b').label('pool', 'x').obj(), makeNode().name('c1').zone('c').obj()];
    const pods = [makePod().name('x').label('foo', 'bar').node('a1').obj(), makePod().name('y').label('foo', 'bar').node('b1').obj()];
    const p = makePod().name('p').label('foo', 'bar').nodeSelector({ pool: 'x' }).spreadConstraint(1, ZONE, 'DoNotSchedule', foo);
    const t = await startTestScheduler({ nodes, pods: [...pods, p.obj()] });
    await t.scheduleAll();
    assert.match(t.bindings.get('default/p') ?? '', /^[ab]1$/);
    await t.stop();
  });

  test('default constraints spread the pods of a Service over hostnames (scoring only)', async () => {
    const nodes = ['n1', 'n2', 'n3'].map((n) => makeNode().name(n).zone('z').obj());
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' }, spec: { selector: { app: 'web' } } };
    const pods = ['a', 'b', 'c'].map((n) => makePod().name(n).label('app', 'web').obj());
    const t = await startTestScheduler({
      nodes,
      pods,
      objects: { services: [svc] },
      config: { profiles: [{ plugins: { score: { disabled: [{ name: '*' }], enabled: [{ name: 'PodTopologySpread' }] } } }] },
    });
    await t.scheduleAll();
    assert.deepEqual(new Set(t.bindings.values()), new Set(['n1', 'n2', 'n3']));
    await t.stop();
  });
});
