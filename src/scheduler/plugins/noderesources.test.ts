// NodeResourcesFit and NodeResourcesBalancedAllocation: requests as the "Resource
// Management for Pods" and "Pod Overhead" documentation define them, and the scoring
// strategies with the worked example of the "Resource Bin Packing" documentation.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CycleState } from '../framework/interface.ts';
import { PodInfo, computePodRequests } from '../framework/types.ts';
import { Snapshot } from '../internal/cache.ts';
import { makeNode, makePod } from '../testing/fixtures.ts';
import { startTestScheduler } from '../testing/harness.ts';
import { NodeResourcesBalancedAllocation, NodeResourcesFit, type NodeResourcesFitArgs } from './noderesources.ts';

const Mi = 1024 * 1024;

function scoreOf(pl: NodeResourcesFit | NodeResourcesBalancedAllocation, snap: Snapshot, pod: ReturnType<typeof makePod>): Record<string, number> {
  const pi = new PodInfo(pod.obj());
  const state = new CycleState();
  pl.preScore(state, pi);
  return Object.fromEntries(snap.list().map((n) => [n.name, pl.score(state, pi, n)]));
}

describe('pod requests', () => {
  test('app containers add up; the largest init container counts when larger; overhead is added', () => {
    const pod = makePod().name('p').req({ cpu: '100m', memory: '100Mi' }).req({ cpu: '200m', memory: '50Mi' }).initReq({ cpu: '500m', memory: '64Mi' }).initReq({ cpu: '50m', memory: '200Mi' }).overhead({ cpu: '250m', memory: '120Mi' }).obj();
    const r = computePodRequests(pod);
    // cpu: max(300, 500) + 250; memory: max(150, 200) + 120.
    assert.equal(r.milliCPU, 750);
    assert.equal(r.memory, 320 * Mi);
  });

  test('sidecars (restartable init containers) run alongside: they add to the app containers and to later init containers', () => {
    const pod = makePod().name('p').sidecarReq({ cpu: '100m' }).initReq({ cpu: '300m' }).req({ cpu: '200m' }).obj();
    // running: 200 + 100 = 300; init phase: 300 (init) + 100 (sidecar started before) = 400.
    assert.equal(computePodRequests(pod).milliCPU, 400);
  });

  test('scoring counts 100m and 200Mi for containers that request nothing', () => {
    const pi = new PodInfo(makePod().name('p').req({}).req({ cpu: '1' }).obj());
    assert.equal(pi.requests.milliCPU, 1000);
    assert.equal(pi.nonZeroCPU, 1100);
    assert.equal(pi.nonZeroMemory, 400 * Mi);
  });
});

describe('NodeResourcesFit filter', () => {
  const pl = new NodeResourcesFit();
  const run = (pod: ReturnType<typeof makePod>, snap: Snapshot) => {
    const state = new CycleState();
    const pi = new PodInfo(pod.obj());
    pl.preFilter(state, pi);
    return pl.filter(state, pi, snap.list()[0]);
  };
  const node = () => makeNode().name('n1').capacity({ cpu: '2', memory: '4Gi', pods: '3' });

  test('fits while allocatable minus requested covers the pod', () => {
    const snap = Snapshot.of([node().obj()], [makePod().name('a').node('n1').req({ cpu: '1', memory: '1Gi' }).obj()]);
    assert.equal(run(makePod().name('p').req({ cpu: '1', memory: '3Gi' }), snap), undefined);
  });

  test('every insufficient resource is a reason; Unschedulable while the node could hold it', () => {
    const snap = Snapshot.of([node().obj()], [makePod().name('a').node('n1').req({ cpu: '1500m', memory: '3Gi' }).obj()]);
    const s = run(makePod().name('p').req({ cpu: '1', memory: '2Gi' }), snap);
    assert.equal(s?.code, 'Unschedulable');
    assert.deepEqual(s?.reasons, ['Insufficient cpu', 'Insufficient memory']);
  });

  test('an init container larger than the node is UnschedulableAndUnresolvable (preemption cannot help)', () => {
    const s = run(makePod().name('p').req({ cpu: '100m' }).initReq({ cpu: '3' }), Snapshot.of([node().obj()]));
    assert.equal(s?.code, 'UnschedulableAndUnresolvable');
    assert.deepEqual(s?.reasons, ['Insufficient cpu']);
  });

  test('overhead counts against the node', () => {
    const s = run(makePod().name('p').req({ cpu: '1900m' }).overhead({ cpu: '200m' }), Snapshot.of([node().obj()]));
    assert.deepEqual(s?.reasons, ['Insufficient cpu']);
  });

  test('"Too many pods" past allocatable pods, even for a pod requesting nothing', () => {
    const pods = ['a', 'b', 'c'].map((n) => makePod().name(n).node('n1').obj());
    const s = run(makePod().name('p'), Snapshot.of([node().obj()], pods));
    assert.deepEqual(s?.reasons, ['Too many pods']);
  });

  test('extended resources, and ignoredResources / ignoredResourceGroups', () => {
    const snap = Snapshot.of([makeNode().name('n1').capacity({ cpu: '2', memory: '4Gi', 'example.com/gpu': '1' }).obj()]);
    assert.equal(run(makePod().name('p').req({ 'example.com/gpu': '1' }), snap), undefined);
    assert.deepEqual(run(makePod().name('p').req({ 'example.com/gpu': '2' }), snap)?.reasons, ['Insufficient example.com/gpu']);
    const ignoring = new NodeResourcesFit({ ignoredResourceGroups: ['example.com'] });
    const state = new CycleState();
    const pi = new PodInfo(makePod().name('p').req({ 'example.com/gpu': '2' }).obj());
    ignoring.preFilter(state, pi);
    assert.equal(ignoring.filter(state, pi, snap.list()[0]), undefined);
  });
});

describe('NodeResourcesFit scoring', () => {
  const snap = Snapshot.of(
    [makeNode().name('half').capacity({ cpu: '4', memory: '8Gi' }).obj(), makeNode().name('empty').capacity({ cpu: '4', memory: '8Gi' }).obj()],
    [makePod().name('a').node('half').req({ cpu: '1', memory: '2Gi' }).obj()],
  );
  const pod = makePod().name('p').req({ cpu: '1', memory: '2Gi' });

  test('LeastAllocated (default): ((allocatable - requested) * 100 / allocatable), averaged by weight', () => {
    assert.deepEqual(scoreOf(new NodeResourcesFit(), snap, pod), { half: 50, empty: 75 });
  });

  test('MostAllocated: requested * 100 / allocatable', () => {
    assert.deepEqual(scoreOf(new NodeResourcesFit({ scoringStrategy: { type: 'MostAllocated' } }), snap, pod), { half: 50, empty: 25 });
  });

  test('RequestedToCapacityRatio: the bin-packing documentation example (shape 0→0, 100→10; weights foo 5, memory 1, cpu 3)', () => {
    const args: NodeResourcesFitArgs = {
      scoringStrategy: {
        type: 'RequestedToCapacityRatio',
        resources: [
          { name: 'intel.com/foo', weight: 5 },
          { name: 'memory', weight: 1 },
          { name: 'cpu', weight: 3 },
        ],
        requestedToCapacityRatio: { shape: [{ utilization: 0, score: 0 }, { utilization: 100, score: 10 }] },
      },
    };
    const nodes = Snapshot.of(
      [
        makeNode().name('node1').capacity({ 'intel.com/foo': '4', memory: '1Gi', cpu: '8' }).obj(),
        makeNode().name('node2').capacity({ 'intel.com/foo': '8', memory: '1Gi', cpu: '8' }).obj(),
      ],
      [
        makePod().name('u1').node('node1').req({ 'intel.com/foo': '1', memory: '256Mi', cpu: '1' }).obj(),
        makePod().name('u2').node('node2').req({ 'intel.com/foo': '2', memory: '512Mi', cpu: '6' }).obj(),
      ],
    );
    // Per resource on the 0..100 scale: node1 foo 75, memory 50, cpu 37 → (375+50+111)/9 ≈ 60;
    // node2 foo 50, memory 75, cpu 100 → (250+75+300)/9 ≈ 69. node2 is preferred, as in the documentation.
    assert.deepEqual(scoreOf(new NodeResourcesFit(args), nodes, makePod().name('p').req({ 'intel.com/foo': '2', memory: '256Mi', cpu: '2' })), { node1: 60, node2: 69 });
  });

  test('BalancedAllocation: (1 - |cpu fraction - memory fraction| / 2) * 100', () => {
    const nodes = Snapshot.of([makeNode().name('n').capacity({ cpu: '4', memory: '8Gi' }).obj()], [makePod().name('a').node('n').req({ cpu: '2', memory: '1Gi' }).obj()]);
    // cpu (2+1)/4 = 0.75, memory (1+1)/8 = 0.25 → std 0.25 → 75.
    assert.deepEqual(scoreOf(new NodeResourcesBalancedAllocation(), nodes, makePod().name('p').req({ cpu: '1', memory: '1Gi' })), { n: 75 });
    // A best-effort pod is not scored by it (PreScore Skip).
    const state = new CycleState();
    assert.equal(new NodeResourcesBalancedAllocation().preScore(state, new PodInfo(makePod().name('be').obj()))?.code, 'Skip');
  });

  test('end to end: pods spread to the least allocated nodes', async () => {
    const t = await startTestScheduler({
      nodes: ['n1', 'n2', 'n3'].map((n) => makeNode().name(n).capacity({ cpu: '4', memory: '8Gi' }).obj()),
      pods: ['a', 'b', 'c'].map((n) => makePod().name(n).req({ cpu: '1', memory: '1Gi' }).obj()),
    });
    await t.scheduleAll();
    assert.deepEqual(new Set(t.bindings.values()), new Set(['n1', 'n2', 'n3']));
    await t.stop();
  });
});
