// The scheduler cache: assumed pods, confirmation, forgetting, and incremental snapshots.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PodInfo } from '../framework/types.ts';
import { makeNode, makePod } from '../testing/fixtures.ts';
import { Cache, Snapshot } from './cache.ts';

describe('Cache', () => {
  test('an assumed pod counts at once; the informer confirms it; forget undoes an unconfirmed one', () => {
    const cache = new Cache();
    cache.addNode(makeNode().name('n1').obj());
    const snap = new Snapshot();
    const pi = new PodInfo(makePod().name('p').req({ cpu: '1' }).obj());
    cache.assumePod(pi.assumedOn('n1'));
    cache.updateSnapshot(snap);
    assert.equal(snap.get('n1')!.requested.milliCPU, 1000);
    assert.ok(cache.isAssumed(pi.uid));
    cache.addPod(pi.withPod({ ...pi.pod, spec: { ...pi.pod.spec, nodeName: 'n1' } }));
    assert.ok(!cache.isAssumed(pi.uid));
    cache.updateSnapshot(snap);
    assert.equal(snap.get('n1')!.pods.length, 1);

    const q = new PodInfo(makePod().name('q').req({ cpu: '2' }).obj());
    cache.assumePod(q.assumedOn('n1'));
    cache.forgetPod(q.uid);
    cache.updateSnapshot(snap);
    assert.equal(snap.get('n1')!.requested.milliCPU, 1000);
  });

  test('the informer placing an assumed pod elsewhere moves it', () => {
    const cache = new Cache();
    cache.addNode(makeNode().name('n1').obj());
    cache.addNode(makeNode().name('n2').obj());
    const pi = new PodInfo(makePod().name('p').req({ cpu: '1' }).obj());
    cache.assumePod(pi.assumedOn('n1'));
    cache.addPod(pi.assumedOn('n2'));
    assert.equal(cache.nodeInfo('n1')!.pods.length, 0);
    assert.equal(cache.nodeInfo('n2')!.pods.length, 1);
  });

  test('snapshots copy only what changed and keep NodeInfo identity; deleted nodes leave', () => {
    const cache = new Cache();
    for (const n of ['a', 'b', 'c']) cache.addNode(makeNode().name(n).obj());
    const snap = new Snapshot();
    cache.updateSnapshot(snap);
    const b = snap.get('b');
    cache.addPod(new PodInfo(makePod().name('p').node('a').obj()));
    cache.updateSnapshot(snap);
    assert.equal(snap.get('b'), b);
    assert.equal(snap.get('a')!.pods.length, 1);
    // The cache's own NodeInfo is not the snapshot's.
    assert.notEqual(snap.get('a'), cache.nodeInfo('a'));
    cache.removeNode('c');
    cache.updateSnapshot(snap);
    assert.deepEqual(snap.list().map((n) => n.name).sort(), ['a', 'b']);
  });

  test('nodes are listed interleaved across zones', () => {
    const cache = new Cache();
    for (const [n, z] of [['a1', 'a'], ['a2', 'a'], ['a3', 'a'], ['b1', 'b'], ['c1', 'c'], ['c2', 'c']]) cache.addNode(makeNode().name(n).zone(z).obj());
    const snap = new Snapshot();
    cache.updateSnapshot(snap);
    assert.deepEqual(snap.list().map((n) => n.name), ['a1', 'b1', 'c1', 'a2', 'c2', 'a3']);
  });

  test('the affinity lists follow pods with (anti-)affinity', () => {
    const cache = new Cache();
    cache.addNode(makeNode().name('n1').obj());
    cache.addNode(makeNode().name('n2').obj());
    const snap = new Snapshot();
    cache.updateSnapshot(snap);
    assert.equal(snap.havePodsWithRequiredAntiAffinityList().length, 0);
    const anti = new PodInfo(makePod().name('x').node('n2').podAntiAffinity('kubernetes.io/hostname', { matchLabels: { a: 'b' } }).obj());
    cache.addPod(anti);
    cache.updateSnapshot(snap);
    assert.deepEqual(snap.havePodsWithRequiredAntiAffinityList().map((n) => n.name), ['n2']);
    assert.deepEqual(snap.havePodsWithAffinityList().map((n) => n.name), ['n2']);
    cache.removePod(anti.uid);
    cache.updateSnapshot(snap);
    assert.equal(snap.havePodsWithAffinityList().length, 0);
  });
});

describe('Snapshot.aggregate', () => {
  test('kept incrementally across updates, it always equals a full recount', () => {
    const cache = new Cache();
    const zones = ['a', 'b', 'c'];
    for (let i = 0; i < 30; i++) cache.addNode(makeNode().name(`n${i}`).zone(zones[i % 3]).obj());
    const snap = new Snapshot();
    const contribution = (n: import('../framework/types.ts').NodeInfo) => {
      const matching = n.pods.filter((p) => p.labels.app === 'web').length;
      return [[n.labels['topology.kubernetes.io/zone'], matching]] as [string, number][];
    };
    const full = () => {
      const m = new Map<string, number>();
      for (const n of snap.list()) for (const [k, c] of contribution(n)) m.set(k, (m.get(k) ?? 0) + c);
      return m;
    };
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const live: PodInfo[] = [];
    for (let step = 0; step < 300; step++) {
      const op = rand(10);
      if (op < 6 || live.length === 0) {
        const pi = new PodInfo(makePod().name(`p${step}`).label('app', rand(2) ? 'web' : 'db').req({ cpu: `${1 + rand(500)}m`, memory: `${1 + rand(64)}Mi` }).node(`n${rand(30)}`).obj());
        cache.addPod(pi);
        live.push(pi);
      } else if (op < 9) {
        const [pi] = live.splice(rand(live.length), 1);
        cache.removePod(pi.uid);
      } else {
        // A node changes labels (zone move) or leaves and comes back.
        const name = `n${rand(30)}`;
        if (rand(2)) cache.updateNode(makeNode().name(name).zone(zones[rand(3)]).obj());
        else {
          cache.removeNode(name);
          cache.updateSnapshot(snap);
          cache.addNode(makeNode().name(name).zone(zones[rand(3)]).obj());
        }
      }
      if (rand(3) === 0) continue; // several changes between cycles
      cache.updateSnapshot(snap);
      const agg = snap.aggregate('web-by-zone', contribution);
      const got = new Map([...agg].map(([k, v]) => [k, v.count]));
      assert.deepEqual(got, full(), `step ${step}`);
      // The snapshot's hot columns describe its NodeInfos exactly.
      for (const n of snap.list()) {
        assert.equal(n.hot, snap.hot);
        assert.equal(snap.list()[n.slot], n);
        assert.equal(snap.hot.reqCPU[n.slot], n.requested.milliCPU, `step ${step} ${n.name}`);
        assert.equal(snap.hot.nzMem[n.slot], n.nonZeroRequested.memory);
        assert.equal(snap.hot.numPods[n.slot], n.pods.length);
        assert.equal(snap.hot.allocCPU[n.slot], n.allocatable.milliCPU);
      }
    }
  });
});
