// EndpointSlice mirroring. Unit: the desired slices of an Endpoints object (one per
// port set and address type, labels and annotations copied, invalid and excess
// addresses skipped). Integration: custom Endpoints of a selectorless Service are
// mirrored, follow changes, and are cleaned up when the Service gains a selector or
// the Endpoints say skip-mirror; the apiserver's `kubernetes` slice is left alone.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import { startControllerTestCluster, type ControllerTestCluster } from '../testing.ts';
import { LABEL_MANAGED_BY, LABEL_SERVICE_NAME, LABEL_SKIP_MIRROR } from '../endpointslice/reconciler.ts';
import { endpointSliceMirroringController, MIRRORING_CONTROLLER_NAME, planMirroredSlices } from './controller.ts';

const endpoints = (subsets: unknown[], extra: Record<string, unknown> = {}): KObject => ({
  apiVersion: 'v1',
  kind: 'Endpoints',
  metadata: { name: 'ext', namespace: 'default', uid: 'ep-uid', labels: { app: 'ext' }, annotations: { note: 'x', 'kubectl.kubernetes.io/last-applied-configuration': '{}' }, ...extra },
  subsets,
});

describe('mirroring plan (unit)', () => {
  it('one slice per port set and address type, with the Endpoints labels and annotations', () => {
    const plan = planMirroredSlices(
      endpoints([
        { addresses: [{ ip: '192.0.2.1', nodeName: 'n1' }, { ip: '2001:db8::1' }], notReadyAddresses: [{ ip: '192.0.2.2' }], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
        { addresses: [{ ip: '192.0.2.3', hostname: 'h' }], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] },
      ]),
      { existing: [] },
    );
    assert.equal(plan.create.length, 3);
    const v4http = plan.create.find((s) => s.addressType === 'IPv4' && s.ports[0].port === 80)!;
    assert.deepEqual(v4http.endpoints, [
      { addresses: ['192.0.2.1'], conditions: { ready: true }, nodeName: 'n1' },
      { addresses: ['192.0.2.2'], conditions: { ready: false } },
    ]);
    assert.deepEqual(v4http.metadata.labels, { app: 'ext', [LABEL_SERVICE_NAME]: 'ext', [LABEL_MANAGED_BY]: MIRRORING_CONTROLLER_NAME });
    assert.deepEqual(v4http.metadata.annotations, { note: 'x' });
    assert.deepEqual(v4http.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Endpoints', name: 'ext', uid: 'ep-uid', controller: true, blockOwnerDeletion: true }]);
    assert.equal(v4http.metadata.generateName, 'ext-');
    assert.ok(plan.create.some((s) => s.addressType === 'IPv6'));
    assert.deepEqual(plan.create.find((s) => s.ports[0].port === 53)!.endpoints[0].hostname, 'h');
    // Nothing to copy: no empty annotation map either (Go's omitempty).
    const bare = planMirroredSlices(endpoints([{ addresses: [{ ip: '192.0.2.1' }], ports: [{ port: 80, protocol: 'TCP' }] }], { annotations: undefined }), { existing: [] });
    assert.equal('annotations' in bare.create[0].metadata, false, JSON.stringify(bare.create[0].metadata));
  });

  it('skips invalid addresses and those above the per-subset limit; an unchanged slice needs no write', () => {
    const ep = endpoints([{ addresses: [{ ip: 'not-an-ip' }, { ip: '192.0.2.1' }, { ip: '192.0.2.2' }, { ip: '192.0.2.3' }], ports: [{ port: 80, protocol: 'TCP' }] }]);
    const plan = planMirroredSlices(ep, { existing: [], maxPerSubset: 2 });
    assert.equal(plan.invalidAddresses, 1);
    assert.equal(plan.skippedAddresses, 2);
    assert.equal(plan.create[0].endpoints.length, 2);
    const stored = { ...structuredClone(plan.create[0]), metadata: { ...plan.create[0].metadata, name: 'ext-abcde' } };
    const again = planMirroredSlices(ep, { existing: [stored], maxPerSubset: 2 });
    assert.deepEqual([again.create.length, again.update.length, again.delete.length], [0, 0, 0]);
  });
});

describe('EndpointSlice mirroring controller (integration)', () => {
  let c: ControllerTestCluster;
  before(async () => {
    c = await startControllerTestCluster({ nodes: 0 });
    await c.startControllers([endpointSliceMirroringController()]).manager.whenReady();
  });
  after(async () => {
    await c?.close();
  });

  const mirrored = async (name: string) =>
    (await c.client.list(ref.endpointslices, 'default', { labelSelector: `${LABEL_SERVICE_NAME}=${name},${LABEL_MANAGED_BY}=${MIRRORING_CONTROLLER_NAME}` })).items;

  async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 20_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const v = await f();
      if (ok(v)) return v;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it('mirrors custom Endpoints of a selectorless service and follows them', async () => {
    await c.client.create(ref.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext' }, spec: { ports: [{ port: 80 }] } });
    const ep = await c.client.create(ref.endpoints, 'default', {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'ext', labels: { app: 'ext' } },
      subsets: [{ addresses: [{ ip: '192.0.2.10' }], ports: [{ port: 80 }] }],
    });
    let slices = await until(() => mirrored('ext'), (l) => l.length === 1, 'a mirrored slice');
    assert.deepEqual(slices[0].endpoints, [{ addresses: ['192.0.2.10'], conditions: { ready: true } }]);
    assert.equal(slices[0].metadata.ownerReferences?.[0].uid, ep.metadata.uid);
    assert.equal(slices[0].metadata.labels?.app, 'ext');

    await c.client.patch(ref.endpoints, 'default', 'ext', 'merge', { subsets: [{ addresses: [{ ip: '192.0.2.10' }, { ip: '192.0.2.11' }], ports: [{ port: 80 }] }] });
    slices = await until(() => mirrored('ext'), (l) => l.length === 1 && l[0].endpoints?.length === 2, 'two endpoints');

    await c.client.patch(ref.endpoints, 'default', 'ext', 'merge', { metadata: { labels: { [LABEL_SKIP_MIRROR]: 'true' } } });
    await until(() => mirrored('ext'), (l) => l.length === 0, 'cleanup after skip-mirror');
  });

  it('removes the mirror when the service gains a selector; leaves the apiserver’s kubernetes slice alone', async () => {
    await c.client.create(ref.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'other' }, spec: { ports: [{ port: 80 }] } });
    await c.client.create(ref.endpoints, 'default', {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'other' },
      subsets: [{ addresses: [{ ip: '192.0.2.20' }], ports: [{ port: 80 }] }],
    });
    await until(() => mirrored('other'), (l) => l.length === 1, 'a mirrored slice');
    await c.client.patch(ref.services, 'default', 'other', 'merge', { spec: { selector: { app: 'other' } } });
    await until(() => mirrored('other'), (l) => l.length === 0, 'cleanup after the selector appeared');
    const kube = await c.client.get(ref.endpointslices, 'default', 'kubernetes');
    assert.equal((kube.endpoints ?? []).length, 1);
  });
});
