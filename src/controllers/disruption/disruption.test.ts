// The disruption controller. Unit: int-or-percent scaling, upstream's selector text.
// Integration (apiserver, simulated nodes, the ReplicaSet controller): the status of a
// PodDisruptionBudget over a 3-replica ReplicaSet with minAvailable 2, then percentages
// and maxUnavailable against the ReplicaSet's scale; evictions consume
// disruptionsAllowed and are recorded in disruptedPods until the replacement is healthy.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isStatusError } from '../../api/errors.ts';
import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import { eventually, makeReplicaSet, startControllerTestCluster, type ControllerTestCluster } from '../testing.ts';
import { replicaSetController } from '../replicaset/replicaset.ts';
import { disruptionController, goLabelSelector, scaledValue } from './controller.ts';

describe('disruption helpers (unit)', () => {
  it('scales int-or-percent values as intstr does', () => {
    assert.equal(scaledValue(2, 10), 2);
    assert.equal(scaledValue('34%', 3), 2, 'rounded up');
    assert.equal(scaledValue('100%', 7), 7);
    assert.throws(() => scaledValue('2', 3), /not a percentage/);
  });

  it('prints selectors as Go does in events', () => {
    assert.equal(
      goLabelSelector({ matchLabels: { app: 'web' } }),
      '&LabelSelector{MatchLabels:map[string]string{app: web,},MatchExpressions:[]LabelSelectorRequirement{},}',
    );
  });
});

describe('disruption controller (integration)', () => {
  let c: ControllerTestCluster;
  const ns = 'default';
  before(async () => {
    c = await startControllerTestCluster({ nodes: 3 });
    await c.startControllers([disruptionController({ deletionTimeoutMs: 5000 }), replicaSetController()]).manager.whenReady();
  });
  after(async () => {
    await c?.close();
  });

  const status = (pdb: KObject | undefined) => {
    const s = pdb?.status ?? {};
    return { expectedPods: s.expectedPods, currentHealthy: s.currentHealthy, desiredHealthy: s.desiredHealthy, disruptionsAllowed: s.disruptionsAllowed };
  };
  const condition = (pdb: KObject | undefined) => pdb?.status?.conditions?.find((x: any) => x.type === 'DisruptionAllowed');
  const evict = (name: string) =>
    c.client.create(ref.pods, ns, { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace: ns } }, { subresource: 'eviction', name });
  const isReady = (p: KObject) => p.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True');

  it('a 3-replica set with minAvailable 2 allows one disruption', async () => {
    await c.client.create(ref.replicasets, ns, makeReplicaSet('web').replicas(3).build());
    await c.client.create(ref.poddisruptionbudgets, ns, {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'web' },
      spec: { minAvailable: 2, selector: { matchLabels: { app: 'web' } } },
    });
    const pdb = await c.waitFor(ref.poddisruptionbudgets, ns, 'web', (o) => o?.status?.currentHealthy === 3);
    assert.deepEqual(status(pdb), { expectedPods: 3, currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1 });
    assert.equal(pdb!.status.observedGeneration, pdb!.metadata.generation);
    const cond = condition(pdb);
    assert.deepEqual([cond.status, cond.reason, cond.message, cond.observedGeneration], ['True', 'SufficientPods', '', pdb!.metadata.generation]);
  });

  it('an eviction consumes the budget; the next is refused until the replacement is healthy', async () => {
    const pods = (await c.client.list(ref.pods, ns, { labelSelector: 'app=web' })).items;
    const victim = pods[0].metadata.name!;
    await evict(victim);
    await assert.rejects(evict(pods[1].metadata.name!), (e: unknown) => isStatusError(e) && e.code === 429);
    // The replacement comes up; the evicted pod leaves disruptedPods once it is gone.
    const pdb = await c.waitFor(
      ref.poddisruptionbudgets,
      ns,
      'web',
      (o) => o?.status?.currentHealthy === 3 && o?.status?.disruptionsAllowed === 1 && !o?.status?.disruptedPods?.[victim],
    );
    assert.deepEqual(status(pdb), { expectedPods: 3, currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1 });
    const now = (await c.client.list(ref.pods, ns, { labelSelector: 'app=web' })).items.filter((p) => !p.metadata.deletionTimestamp);
    assert.equal(now.filter(isReady).length, 3);
  });

  it('percentages and maxUnavailable count against the ReplicaSet’s scale', async () => {
    await c.client.patch(ref.poddisruptionbudgets, ns, 'web', 'merge', { spec: { minAvailable: '50%' } });
    let pdb = await c.waitFor(ref.poddisruptionbudgets, ns, 'web', (o) => o?.status?.observedGeneration === o?.metadata.generation && o?.status?.desiredHealthy === 2);
    assert.deepEqual(status(pdb), { expectedPods: 3, currentHealthy: 3, desiredHealthy: 2, disruptionsAllowed: 1 });

    await c.client.patch(ref.poddisruptionbudgets, ns, 'web', 'merge', { spec: { minAvailable: null, maxUnavailable: '34%' } });
    pdb = await c.waitFor(ref.poddisruptionbudgets, ns, 'web', (o) => o?.status?.observedGeneration === o?.metadata.generation && o?.status?.desiredHealthy === 1);
    assert.deepEqual(status(pdb), { expectedPods: 3, currentHealthy: 3, desiredHealthy: 1, disruptionsAllowed: 2 });

    // Scaling the set to 5 moves expectedPods with it.
    await c.client.patch(ref.replicasets, ns, 'web', 'merge', { spec: { replicas: 5 } });
    pdb = await c.waitFor(ref.poddisruptionbudgets, ns, 'web', (o) => o?.status?.expectedPods === 5 && o?.status?.currentHealthy === 5);
    assert.deepEqual(status(pdb), { expectedPods: 5, currentHealthy: 5, desiredHealthy: 3, disruptionsAllowed: 2 });
  });

  it('no pods: no disruption allowed; unmanaged pods with a percentage are reported', async () => {
    await c.client.create(ref.poddisruptionbudgets, ns, {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'lonely' },
      spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'lonely' } } },
    });
    let pdb = await c.waitFor(ref.poddisruptionbudgets, ns, 'lonely', (o) => o?.status?.observedGeneration === o?.metadata.generation && !!condition(o));
    assert.deepEqual(status(pdb), { expectedPods: 0, currentHealthy: 0, desiredHealthy: 0, disruptionsAllowed: 0 });
    assert.deepEqual([condition(pdb).status, condition(pdb).reason], ['False', 'InsufficientPods']);
    await eventually(async () => (await c.events(ns, 'lonely', 'NoPods')).includes('No matching pods found'), 10_000, 'NoPods event');

    await c.client.create(ref.pods, ns, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'lonely-1', labels: { app: 'lonely' } },
      spec: { containers: [{ name: 'app', image: 'nginx' }] },
    });
    pdb = await c.waitFor(ref.poddisruptionbudgets, ns, 'lonely', () => true);
    await eventually(async () => (await c.events(ns, 'lonely', 'UnmanagedPods')).length > 0, 10_000, 'UnmanagedPods event');
    const [msg] = await c.events(ns, 'lonely', 'UnmanagedPods');
    assert.match(msg, /^Pods selected by this PodDisruptionBudget \(selector: &LabelSelector\{MatchLabels:map\[string\]string\{app: lonely,\},/);
  });
});
