// VolumeBinding: claims must exist and be bindable where the pod goes.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { makeNode, makePod } from '../testing/fixtures.ts';
import { startTestScheduler } from '../testing/harness.ts';

function pvc(name: string, opts: { class?: string; volumeName?: string; size?: string } = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name, namespace: 'default', uid: `uid-${name}` },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: opts.size ?? '1Gi' } }, storageClassName: opts.class, ...(opts.volumeName ? { volumeName: opts.volumeName } : {}) },
    status: { phase: opts.volumeName ? 'Bound' : 'Pending' },
  };
}

function pv(name: string, node: string, opts: { class?: string; claim?: string; size?: string } = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name },
    spec: {
      capacity: { storage: opts.size ?? '10Gi' },
      accessModes: ['ReadWriteOnce'],
      storageClassName: opts.class,
      local: { path: '/mnt/disk' },
      nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] } },
      ...(opts.claim ? { claimRef: { namespace: 'default', name: opts.claim } } : {}),
    },
    status: { phase: opts.claim ? 'Bound' : 'Available' },
  };
}

function sc(name: string, provisioner: string, extra: Record<string, unknown> = {}): KObject {
  return { apiVersion: 'storage.k8s.io/v1', kind: 'StorageClass', metadata: { name }, provisioner, volumeBindingMode: 'WaitForFirstConsumer', ...extra };
}

const nodes = () => [makeNode().name('n1').zone('a').obj(), makeNode().name('n2').zone('b').obj()];

describe('VolumeBinding', () => {
  test('a missing claim is unresolvable', async () => {
    const t = await startTestScheduler({ nodes: nodes(), pods: [makePod().name('p').pvc('data').obj()] });
    await t.scheduleAll();
    assert.equal(t.events[0].message, '0/2 nodes are available: persistentvolumeclaim "data" not found. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.');
    await t.stop();
  });

  test('an unbound claim of an Immediate class waits for its volume', async () => {
    const t = await startTestScheduler({ nodes: nodes(), pods: [makePod().name('p').pvc('data').obj()], objects: { persistentvolumeclaims: [pvc('data')] } });
    await t.scheduleAll();
    assert.equal(t.events[0].message, '0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.');
    await t.stop();
  });

  test("a bound claim's PV node affinity decides the node", async () => {
    const t = await startTestScheduler({
      nodes: nodes(),
      pods: [makePod().name('p').pvc('data').obj()],
      objects: { persistentvolumeclaims: [pvc('data', { volumeName: 'pv-n2' })], persistentvolumes: [pv('pv-n2', 'n2', { claim: 'data' })] },
    });
    await t.scheduleAll();
    assert.equal(t.bindings.get('default/p'), 'n2');
    await t.stop();
  });

  test('WaitForFirstConsumer with local volumes: the pod goes where an available PV fits, which gets the claim', async () => {
    const t = await startTestScheduler({
      nodes: nodes(),
      pods: [makePod().name('p').pvc('data').obj()],
      objects: {
        storageclasses: [sc('local', 'kubernetes.io/no-provisioner')],
        persistentvolumeclaims: [pvc('data', { class: 'local', size: '5Gi' })],
        persistentvolumes: [pv('small-n1', 'n1', { class: 'local', size: '1Gi' }), pv('big-n2', 'n2', { class: 'local', size: '10Gi' })],
      },
      config: { profiles: [{ pluginConfig: [{ name: 'VolumeBinding', args: { bindTimeoutSeconds: 1 } }] }] },
    });
    await t.scheduleAll();
    const claimRef = t.client.patches.find((p) => p.resource === 'persistentvolumes');
    assert.deepEqual(claimRef, { resource: 'persistentvolumes', key: 'undefined/big-n2', patch: { spec: { claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: 'default', name: 'data', uid: 'uid-data' } } } });
    // No PV controller binds the claim here: binding times out and the pod is retried later.
    assert.match(t.events.find((e) => e.reason === 'FailedScheduling')?.message ?? '', /running PreBind plugin "VolumeBinding": binding volumes/);
    await t.stop();
  });

  test('WaitForFirstConsumer with a provisioner: allowedTopologies pick the node; the claim gets selected-node', async () => {
    const cls = sc('zonal', 'example.com/csi', { allowedTopologies: [{ matchLabelExpressions: [{ key: 'topology.kubernetes.io/zone', values: ['b'] }] }] });
    const t = await startTestScheduler({
      nodes: nodes(),
      pods: [makePod().name('p').pvc('data').obj()],
      objects: { storageclasses: [cls], persistentvolumeclaims: [pvc('data', { class: 'zonal' })] },
      config: { profiles: [{ pluginConfig: [{ name: 'VolumeBinding', args: { bindTimeoutSeconds: 1 } }] }] },
    });
    await t.scheduleAll();
    const annotated = t.client.patches.find((p) => p.resource === 'persistentvolumeclaims');
    assert.deepEqual(annotated?.patch, { metadata: { annotations: { 'volume.kubernetes.io/selected-node': 'n2' } } });
    await t.stop();
  });
});
