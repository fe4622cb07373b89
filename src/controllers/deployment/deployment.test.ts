// The Deployment controller alone against a real apiserver (no ReplicaSet controller, no
// nodes): the test writes the ReplicaSets' statuses itself, as a ReplicaSet controller
// running behind would, to pin down the decisions taken from a status that lags the spec.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { eventually, makeDeployment, startControllerTestCluster, type ControllerTestCluster } from '../testing.ts';
import { deploymentController } from './deployment.ts';

describe('Deployment controller with ReplicaSet statuses that lag', () => {
  let c: ControllerTestCluster;
  before(async () => {
    c = await startControllerTestCluster({ nodes: 0 });
    c.startControllers([deploymentController()]);
  });
  after(async () => await c?.close());

  /** Writes a ReplicaSet's status as its controller would once it counted `n` pods, `available` of them available. */
  const setStatus = async (name: string, n: number, available: number) => {
    for (;;) {
      const rs = await c.client.get(ref.replicasets, 'default', name);
      const status: Record<string, number> = { replicas: n, fullyLabeledReplicas: n, readyReplicas: available, availableReplicas: available, observedGeneration: rs.metadata.generation! };
      try {
        return await c.client.update(ref.replicasets, 'default', { ...rs, status }, { subresource: 'status' });
      } catch (e) {
        // The controller wrote the ReplicaSet in between: read it again.
        if (!(isStatusError(e) && e.code === 409)) throw e;
      }
    }
  };
  const replicaSets = async () => (await c.client.list(ref.replicasets, 'default', { labelSelector: 'app=web' })).items;

  it('never scales an old ReplicaSet up while its status still counts the replicas it was scaled down from', async (t) => {
    // 10 replicas, default strategy: maxSurge 3, maxUnavailable 2 (13 at most, 8 available at least).
    await c.client.create(ref.deployments, 'default', makeDeployment('web').replicas(10).build());
    const v1 = await eventually(async () => (await replicaSets()).find((r) => r.spec.replicas === 10));
    await setStatus(v1.metadata.name!, 10, 10);

    // Every spec.replicas the old ReplicaSet goes through, from now on.
    const ac = new AbortController();
    t.after(() => ac.abort());
    const inf = new Informer(c.client, ref.replicasets, { namespace: 'default' });
    const sizes: number[] = [];
    const record = (rs: KObject) => {
      if (rs.metadata.uid === v1.metadata.uid && sizes.at(-1) !== rs.spec.replicas) sizes.push(rs.spec.replicas);
    };
    inf.addEventHandler({ onAdd: record, onUpdate: (_o, rs) => record(rs) });
    inf.start(ac.signal);
    await inf.waitForSync();

    // v2: the new ReplicaSet starts at 3 (surge), the old one goes to 8 (10 available > 8),
    // then the new one to 5; no pods are available on the new one, so that is all.
    await c.client.patch(ref.deployments, 'default', 'web', 'merge', { spec: { template: makeDeployment('web').image('nginx:1.28').build().spec.template } });
    const v2 = await eventually(async () => {
      const l = await replicaSets();
      const n = l.find((r) => r.metadata.uid !== v1.metadata.uid);
      const o = l.find((r) => r.metadata.uid === v1.metadata.uid);
      return n?.spec.replicas === 5 && o?.spec.replicas === 8 ? n : undefined;
    });

    // The new pods become available while the old ReplicaSet's status still says 10 of 10
    // (its controller has not acted on the scale down yet). 13 - 8 - 0 = 5 may go, but
    // the old ReplicaSet has no unhealthy replicas to clean up: 8 - 10 is no scale down.
    await setStatus(v2.metadata.name!, 5, 5);
    // The status written by that sync (15 available: 10 old by the stale status + 5 new) marks it done.
    await c.waitFor(ref.deployments, 'default', 'web', (d) => d?.status?.availableReplicas === 15, 10_000);
    assert.equal((await c.client.get(ref.replicasets, 'default', v1.metadata.name!)).spec.replicas, 8, `old ReplicaSet sizes: ${sizes}`);

    // The status catches up: 8 + 5 available, 5 above the minimum, so the old one goes to 3.
    await setStatus(v1.metadata.name!, 8, 8);
    await c.waitFor(ref.replicasets, 'default', v1.metadata.name!, (rs) => rs?.spec.replicas === 3, 10_000);
    await eventually(async () => sizes.at(-1) === 3 || undefined);
    assert.deepEqual(sizes, [10, 8, 3], 'the old ReplicaSet only ever scaled down');
    const name = v1.metadata.name!;
    const scaled = await eventually(async () => {
      const l = (await c.events('default', 'web', 'ScalingReplicaSet')).filter((m) => m.includes(` ${name} `));
      return l.length >= 3 ? l : undefined;
    });
    assert.deepEqual(scaled, [`Scaled up replica set ${name} from 0 to 10`, `Scaled down replica set ${name} from 10 to 8`, `Scaled down replica set ${name} from 8 to 3`]);
  });
});
