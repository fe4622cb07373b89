// The pod garbage collector against a real apiserver with simulated nodes: terminated
// pods above the threshold go oldest first; pods bound to a node that does not exist
// are marked Failed (DisruptionTarget DeletionByPodGC) and deleted after the
// quarantine; unscheduled terminating pods are marked Failed and deleted. A finalizer
// keeps the deleted pods readable so the marks can be checked.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import { eventually, startControllerTestCluster, type ControllerTestCluster } from '../testing.ts';
import { podGCController } from './controller.ts';

const HOLD = 'test.skiff.dev/hold';

describe('pod garbage collector (integration)', () => {
  let c: ControllerTestCluster;
  const ns = 'default';
  before(async () => {
    c = await startControllerTestCluster({ nodes: 2 });
    await c.startControllers([podGCController({ terminatedPodThreshold: 2, gcCheckPeriodMs: 200, quarantineMs: 500 })]).manager.whenReady();
  });
  after(async () => {
    // Release the held pods so the cluster can be torn down cleanly.
    for (const p of (await c.client.list(ref.pods, ns)).items) {
      if (p.metadata.finalizers?.length) await c.client.patch(ref.pods, ns, p.metadata.name!, 'merge', { metadata: { finalizers: null } }).catch(() => {});
    }
    await c?.close();
  });

  const pod = (name: string, spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}): KObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, ...meta },
    spec: { containers: [{ name: 'app', image: 'busybox' }], ...spec },
  });
  const names = async () => (await c.client.list(ref.pods, ns)).items.map((p) => p.metadata.name!).sort();

  it('deletes the oldest terminated pods above the threshold', async () => {
    for (const name of ['done-1', 'done-2', 'done-3', 'done-4']) {
      await c.client.create(ref.pods, ns, pod(name, { restartPolicy: 'Never' }, { annotations: { 'sim.skiff.dev/run-seconds': '0' } }));
      // Creation timestamps have second precision; names break ties as upstream does.
    }
    await c.client.create(ref.pods, ns, pod('running'));
    await eventually(async () => {
      const n = await names();
      return n.length === 3 && n.includes('running') ? n : undefined;
    }, 20_000, 'two terminated pods left');
    assert.deepEqual(await names(), ['done-3', 'done-4', 'running']);
  });

  it('marks Failed and deletes pods of a node that does not exist, after the quarantine', async () => {
    await c.client.create(ref.pods, ns, pod('orphan', { nodeName: 'ghost' }, { finalizers: [HOLD] }));
    const p = await c.waitFor(ref.pods, ns, 'orphan', (o) => !!o?.metadata.deletionTimestamp, 10_000);
    assert.equal(p!.status.phase, 'Failed');
    const dt = p!.status.conditions.find((x: any) => x.type === 'DisruptionTarget');
    assert.deepEqual([dt?.status, dt?.reason, dt?.message], ['True', 'DeletionByPodGC', 'PodGC: node no longer exists']);
    assert.equal(p!.metadata.deletionGracePeriodSeconds, 0);
  });

  it('marks Failed and deletes unscheduled terminating pods', async () => {
    await c.client.create(ref.pods, ns, pod('stuck', { schedulerName: 'nobody' }, { finalizers: [HOLD] }));
    await c.client.delete(ref.pods, ns, 'stuck');
    const p = await c.waitFor(ref.pods, ns, 'stuck', (o) => o?.status?.phase === 'Failed', 10_000);
    assert.ok(p!.metadata.deletionTimestamp);
    // Pods on live nodes are not touched.
    assert.equal((await c.client.get(ref.pods, ns, 'running')).metadata.deletionTimestamp, undefined);
  });
});
