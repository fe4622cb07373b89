// InterPodAffinity with the examples of "Assigning Pods to Nodes" (inter-pod affinity and anti-affinity).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PodInfo } from '../framework/types.ts';
import { makeNode, makePod } from '../testing/fixtures.ts';
import { startTestScheduler } from '../testing/harness.ts';

const HOST = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';

describe('InterPodAffinity', () => {
  test('required anti-affinity on hostname places at most one replica per node; the rest stay Pending', async () => {
    const nodes = ['n1', 'n2', 'n3'].map((n) => makeNode().name(n).obj());
    const pods = Array.from({ length: 5 }, (_v, i) => makePod().name(`web-${i}`).label('app', 'web').podAntiAffinity(HOST, { matchLabels: { app: 'web' } }).obj());
    const t = await startTestScheduler({ nodes, pods });
    await t.scheduleAll();
    assert.equal(t.bindings.size, 3);
    assert.deepEqual(new Set(t.bindings.values()), new Set(['n1', 'n2', 'n3']));
    const failed = t.events.filter((e) => e.reason === 'FailedScheduling');
    assert.equal(failed.length, 2);
    assert.equal(
      failed[0].message,
      "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.",
    );
    await t.stop();
  });

  test('the redis-cache / web-store example: web servers co-located with caches, one of each per node', async () => {
    const nodes = ['n1', 'n2', 'n3'].map((n) => makeNode().name(n).obj());
    const redis = Array.from({ length: 3 }, (_v, i) => makePod().name(`redis-${i}`).label('app', 'store').podAntiAffinity(HOST, { matchLabels: { app: 'store' } }).obj());
    const t = await startTestScheduler({ nodes, pods: redis });
    await t.scheduleAll();
    for (let i = 0; i < 3; i++) {
      t.scheduler.queue.add(
        new PodInfo(
          makePod()
            .name(`web-${i}`)
            .label('app', 'web-store')
            .podAntiAffinity(HOST, { matchLabels: { app: 'web-store' } })
            .podAffinity(HOST, { matchLabels: { app: 'store' } })
            .obj(),
        ),
      );
    }
    await t.scheduleAll();
    const onNode = (prefix: string) => [...t.bindings].filter(([k]) => k.startsWith(`default/${prefix}`)).map(([, n]) => n).sort();
    assert.deepEqual(onNode('redis'), ['n1', 'n2', 'n3']);
    assert.deepEqual(onNode('web'), ['n1', 'n2', 'n3']);
    await t.stop();
  });

  test('required affinity: the first pod of a self-affine group goes anywhere, the next ones join its zone', async () => {
    const nodes = [makeNode().name('a1').zone('a').obj(), makeNode().name('a2').zone('a').obj(), makeNode().name('b1').zone('b').obj(), makeNode().name('b2').zone('b').obj()];
    const pods = Array.from({ length: 4 }, (_v, i) => makePod().name(`g-${i}`).label('group', 'g').podAffinity(ZONE, { matchLabels: { group: 'g' } }).obj());
    const t = await startTestScheduler({ nodes, pods });
    await t.scheduleAll();
    const zones = new Set([...t.bindings.values()].map((n) => n[0]));
    assert.equal(t.bindings.size, 4);
    assert.equal(zones.size, 1);
    await t.stop();
  });

  test('required affinity to pods that do not exist is unresolvable', async () => {
    const t = await startTestScheduler({ nodes: [makeNode().name('n1').zone('a').obj()], pods: [makePod().name('p').podAffinity(ZONE, { matchLabels: { app: 'db' } }).obj()] });
    await t.scheduleAll();
    assert.equal(
      t.events.find((e) => e.reason === 'FailedScheduling')?.message,
      "0/1 nodes are available: 1 node(s) didn't match pod affinity rules. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
    );
    await t.stop();
  });

  test("an existing pod's anti-affinity keeps matching pods out of its domain", async () => {
    const nodes = [makeNode().name('n1').obj(), makeNode().name('n2').obj()];
    const guard = makePod().name('guard').node('n1').podAntiAffinity(HOST, { matchLabels: { app: 'db' } }).obj();
    const t = await startTestScheduler({ nodes, pods: [guard, makePod().name('db').label('app', 'db').nodeSelector({ 'kubernetes.io/hostname': 'n1' }).obj(), makePod().name('db2').label('app', 'db').obj()] });
    await t.scheduleAll();
    assert.equal(t.bindings.get('default/db2'), 'n2');
    assert.equal(
      t.events.find((e) => e.object === 'default/db' && e.reason === 'FailedScheduling')?.message,
      "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) didn't satisfy existing pods anti-affinity rules. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.",
    );
    await t.stop();
  });

  test('namespaceSelector picks the namespaces whose labels match', async () => {
    const ns = (name: string, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    const nodes = [makeNode().name('n1').obj(), makeNode().name('n2').obj()];
    const other = makePod().name('cache').namespace('team-a').label('app', 'cache').node('n2').obj();
    const p = makePod().name('p').podAffinity(HOST, { matchLabels: { app: 'cache' } }, { namespaceSelector: { matchLabels: { team: 'a' } } });
    const t = await startTestScheduler({ nodes, pods: [other, p.obj()], objects: { namespaces: [ns('default', {}), ns('team-a', { team: 'a' })] } });
    await t.scheduleAll();
    assert.equal(t.bindings.get('default/p'), 'n2');
    await t.stop();
  });

  test('preferred affinity scores the node with a matching pod higher', async () => {
    const nodes = ['n1', 'n2', 'n3'].map((n) => makeNode().name(n).obj());
    const t = await startTestScheduler({
      nodes,
      pods: [makePod().name('db').label('app', 'db').node('n3').obj(), makePod().name('p').podAffinity(HOST, { matchLabels: { app: 'db' } }, { weight: 100 }).obj()],
    });
    await t.scheduleAll();
    assert.equal(t.bindings.get('default/p'), 'n3');
    await t.stop();
  });
});
