// The EndpointSlice controller. Unit: the reconciler's placement rules (100 per slice,
// endpoints kept where they are, the placeholder, recycling), the stale-cache tracker.
// Integration (apiserver, simulated nodes, the test binder): slices follow pods
// becoming ready, terminating and deleted, with upstream's labels, owner, name prefix,
// conditions, zone, nodeName and targetRef.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import { eventually, startControllerTestCluster, type ControllerTestCluster } from '../testing.ts';
import { aggregateError, endpointSliceController } from './controller.ts';
import { CONTROLLER_NAME, LABEL_MANAGED_BY, LABEL_SERVICE_NAME, ownedBy, recycleSlices, reconcileSlices } from './reconciler.ts';
import { SliceTracker } from './tracker.ts';

const service: KObject = {
  metadata: { name: 'web', namespace: 'default', uid: 'svc-uid', labels: { team: 'a' } },
  spec: { clusterIP: '10.96.0.20', ipFamilies: ['IPv4'], selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
};

function pod(i: number, o: { ready?: boolean; deleting?: boolean; node?: string } = {}): KObject {
  return {
    metadata: { name: `web-${i}`, namespace: 'default', uid: `uid-${i}`, labels: { app: 'web' }, deletionTimestamp: o.deleting ? '2026-01-01T00:00:00Z' : undefined },
    spec: { nodeName: o.node ?? 'n1', containers: [{ name: 'c' }] },
    status: { phase: 'Running', podIP: `10.244.${Math.floor(i / 250)}.${(i % 250) + 2}`, conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

const nodes = { get: (_ns: string | undefined, name: string) => (name === 'gone' ? undefined : { metadata: { name, labels: { 'topology.kubernetes.io/zone': `zone-${name}` } } }) };

let nameSeq = 0;
/** What the apiserver would store: names for generateName'd slices. */
function persist(plan: { create: KObject[]; update: KObject[] }, existing: KObject[]): KObject[] {
  const byName = new Map(existing.map((s) => [s.metadata.name!, s]));
  for (const s of plan.update) byName.set(s.metadata.name!, structuredClone(s));
  for (const s of plan.create) {
    const o = structuredClone(s);
    o.metadata.name = `${s.metadata.generateName}${++nameSeq}`;
    delete o.metadata.generateName;
    byName.set(o.metadata.name!, o);
  }
  return [...byName.values()];
}

describe('EndpointSlice reconciler (unit)', () => {
  it('250 endpoints make 3 slices of at most 100, with upstream labels, owner and ports', () => {
    const pods = Array.from({ length: 250 }, (_, i) => pod(i));
    const r = reconcileSlices({ service, pods, existing: [], nodes });
    assert.deepEqual(r.errors, []);
    assert.equal(r.create.length, 3);
    assert.deepEqual(r.create.map((s) => s.endpoints.length).sort(), [100, 100, 50]);
    const s = r.create[0];
    assert.equal(s.metadata.generateName, 'web-');
    assert.deepEqual(s.metadata.labels, { team: 'a', [LABEL_SERVICE_NAME]: 'web', [LABEL_MANAGED_BY]: CONTROLLER_NAME });
    assert.deepEqual(s.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'svc-uid', controller: true, blockOwnerDeletion: true }]);
    assert.equal(s.addressType, 'IPv4');
    assert.deepEqual(s.ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.deepEqual(s.endpoints[0], {
      addresses: ['10.244.0.2'],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: 'Pod', namespace: 'default', name: 'web-0', uid: 'uid-0' },
      nodeName: 'n1',
      zone: 'zone-n1',
    });
  });

  it('changes touch only the slices holding the changed endpoints; new ones fill slices being updated', () => {
    let pods = Array.from({ length: 150 }, (_, i) => pod(i));
    let existing = persist(reconcileSlices({ service, pods, existing: [], nodes }), []);
    assert.equal(existing.length, 2);
    // Nothing changed: nothing to do.
    let r = reconcileSlices({ service, pods, existing, nodes });
    assert.deepEqual([r.create.length, r.update.length, r.delete.length], [0, 0, 0]);
    // web-0 becomes not ready and terminating; web-150 appears.
    pods = [pod(0, { ready: false, deleting: true }), ...pods.slice(1), pod(150)];
    r = reconcileSlices({ service, pods, existing, nodes });
    assert.deepEqual([r.create.length, r.update.length, r.delete.length], [0, 2, 0]);
    const holding = (name: string) => r.update.find((sl) => sl.endpoints.some((e: any) => e.targetRef.name === name))!;
    const ep0 = holding('web-0').endpoints.find((e: any) => e.targetRef.name === 'web-0');
    assert.deepEqual(ep0.conditions, { ready: false, serving: false, terminating: true });
    assert.equal(holding('web-0').endpoints.length, 100, 'updated in place');
    // The slice being updated is full: the new endpoint goes to the unchanged slice that comes closest to full.
    assert.equal(holding('web-150').endpoints.length, 51);
    existing = persist(r, existing);
    // Every pod gone: both slices go and a placeholder comes, recycled from one of them.
    r = reconcileSlices({ service, pods: [], existing, nodes });
    assert.equal(r.create.length, 1);
    assert.equal(r.delete.length, 2);
    const plan = recycleSlices(r, (sl) => ownedBy(sl, service));
    assert.deepEqual([plan.create.length, plan.update.length, plan.delete.length], [0, 1, 1]);
    assert.deepEqual(plan.update[0].endpoints ?? [], []);
    assert.deepEqual(plan.update[0].ports ?? [], []);
    existing = persist(plan, existing.filter((s) => !plan.delete.includes(s)));
    // The placeholder stays as it is.
    r = reconcileSlices({ service, pods: [], existing, nodes });
    assert.deepEqual([r.create.length, r.update.length, r.delete.length], [0, 0, 0]);
  });

  it('pods on unknown nodes are left out (and reported), slices of other owners or address types deleted', () => {
    const foreign = { metadata: { name: 'old', namespace: 'default', ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: 'web', uid: 'old-uid' }], labels: {} }, addressType: 'IPv4', endpoints: [], ports: [] };
    const v6 = { metadata: { name: 'v6', namespace: 'default', ownerReferences: service.metadata.ownerReferences, labels: {} }, addressType: 'IPv6', endpoints: [], ports: [] };
    const r = reconcileSlices({ service, pods: [pod(1), pod(2, { node: 'gone' })], existing: [foreign, v6], nodes });
    assert.equal(r.errors.length, 1);
    assert.match(r.errors[0], /Node gone Not Found/);
    assert.deepEqual(r.delete.map((s) => s.metadata.name).sort(), ['old', 'v6']);
    assert.equal(r.create[0].endpoints.length, 1);
  });

  it('named target ports split endpoints into one slice group per port set', () => {
    const svc = structuredClone(service);
    svc.spec.ports = [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }];
    const a = pod(1);
    a.spec.containers = [{ name: 'c', ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }] }];
    const b = pod(2);
    b.spec.containers = [{ name: 'c', ports: [{ name: 'http', containerPort: 9090, protocol: 'TCP' }] }];
    const r = reconcileSlices({ service: svc, pods: [a, b], existing: [], nodes });
    assert.deepEqual(r.create.map((s) => s.ports[0].port).sort(), [8080, 9090]);
  });

  it('the tracker refuses a cache older than our writes and ignores our own events', () => {
    const t = new SliceTracker();
    const slice = (rv: string) => ({ metadata: { name: 's', namespace: 'default', uid: 'u1', resourceVersion: rv, labels: { [LABEL_SERVICE_NAME]: 'web' } } });
    t.update(slice('10'));
    assert.equal(t.stale('default', 'web', []), true, 'created but not cached yet');
    assert.equal(t.stale('default', 'web', [slice('9')]), true);
    assert.equal(t.stale('default', 'web', [slice('10')]), false);
    assert.equal(t.shouldSync(slice('10')), false, 'our own write');
    assert.equal(t.shouldSync(slice('11')), true, 'someone else wrote');
    t.expectDeletion(slice('10'));
    assert.equal(t.stale('default', 'web', [slice('10')]), true, 'deleted but still cached');
    assert.equal(t.handleDeletion(slice('10')), true);
    assert.equal(t.stale('default', 'web', []), false);
  });
});

describe('aggregate errors (unit)', () => {
  it('prints as Go\'s utilerrors aggregate: one bare, several as [a, b], duplicates once', () => {
    assert.equal(aggregateError(['a']), 'a');
    assert.equal(aggregateError(['a', 'b']), '[a, b]');
    assert.equal(aggregateError(['a', 'b', 'a']), '[a, b]');
    assert.equal(aggregateError(['a', 'a']), 'a');
  });
});

describe('EndpointSlice controller (integration)', () => {
  let c: ControllerTestCluster;
  before(async () => {
    c = await startControllerTestCluster({ nodes: 2 });
    await c.startControllers([endpointSliceController()]).manager.whenReady();
  });
  after(async () => {
    await c?.close();
  });

  const slicesOf = async (svc: string) => (await c.client.list(ref.endpointslices, 'default', { labelSelector: `${LABEL_SERVICE_NAME}=${svc}` })).items;

  it('follows pods becoming ready, terminating and deleted', async () => {
    const created = await c.client.create(ref.services, 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', labels: { team: 'a' } },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });
    // The placeholder first.
    await c.waitFor(ref.services, 'default', 'web', () => true);
    let slices = await waitSlices(() => slicesOf('web'), (s) => s.length === 1);
    assert.match(slices[0].metadata.name!, /^web-[a-z0-9]{5}$/);
    // What upstream stores for the placeholder (its empty lists travel as protobuf, which has no empty list).
    assert.equal(slices[0].endpoints, null);
    assert.equal(slices[0].ports, null);
    assert.equal(slices[0].metadata.ownerReferences?.[0].uid, created.metadata.uid);
    assert.equal(slices[0].metadata.labels?.[LABEL_MANAGED_BY], CONTROLLER_NAME);

    for (const [name, ready] of [['web-a', '3600'], ['web-b', '0']]) {
      await c.client.create(ref.pods, 'default', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, labels: { app: 'web' }, annotations: { 'sim.skiff.dev/ready-seconds': ready, 'sim.skiff.dev/stop-seconds': '3600' } },
        spec: { terminationGracePeriodSeconds: 3600, containers: [{ name: 'app', image: 'nginx' }] },
      });
    }
    slices = await waitSlices(() => slicesOf('web'), (s) => s.length === 1 && (s[0].endpoints ?? []).length === 2);
    const a = await c.client.get(ref.pods, 'default', 'web-a');
    const node = await c.client.get(ref.nodes, undefined, a.spec.nodeName);
    const epA = slices[0].endpoints.find((e: any) => e.targetRef.name === 'web-a');
    assert.deepEqual(epA, {
      addresses: [a.status.podIP],
      conditions: { ready: false, serving: false, terminating: false },
      targetRef: { kind: 'Pod', namespace: 'default', name: 'web-a', uid: a.metadata.uid },
      nodeName: a.spec.nodeName,
      zone: node.metadata.labels?.['topology.kubernetes.io/zone'],
    });
    assert.deepEqual(slices[0].ports, [{ name: 'http', port: 8080, protocol: 'TCP' }]);
    assert.equal(slices[0].endpoints.find((e: any) => e.targetRef.name === 'web-b').conditions.ready, true);

    await c.client.patch(ref.pods, 'default', 'web-a', 'merge', { metadata: { annotations: { 'sim.skiff.dev/ready-seconds': '0' } } });
    await waitSlices(() => slicesOf('web'), (s) => s[0]?.endpoints?.every((e: any) => e.conditions.ready));

    // Deleting with a long grace period: terminating, serving, not ready.
    await c.client.delete(ref.pods, 'default', 'web-b');
    slices = await waitSlices(() => slicesOf('web'), (s) => s[0]?.endpoints?.some((e: any) => e.conditions.terminating));
    assert.deepEqual(slices[0].endpoints.find((e: any) => e.targetRef.name === 'web-b').conditions, { ready: false, serving: true, terminating: true });

    await c.client.delete(ref.pods, 'default', 'web-b', { gracePeriodSeconds: 0 });
    slices = await waitSlices(() => slicesOf('web'), (s) => s.length === 1 && s[0].endpoints?.length === 1);
    assert.equal(slices[0].endpoints[0].targetRef.name, 'web-a');
  });

  it('a slice deleted behind the controller is recreated; label changes on the service are copied', async () => {
    const [s] = await slicesOf('web');
    await c.client.delete(ref.endpointslices, 'default', s.metadata.name!);
    const [again] = await waitSlices(() => slicesOf('web'), (l) => l.length === 1 && l[0].metadata.name !== s.metadata.name && l[0].endpoints?.length === 1);
    // Nothing changed since the last sync: no trigger time, and no empty annotation map in its place.
    assert.equal('annotations' in again.metadata, false, JSON.stringify(again.metadata));
    await c.client.patch(ref.services, 'default', 'web', 'merge', { metadata: { labels: { team: 'b' } } });
    await waitSlices(() => slicesOf('web'), (l) => l.length === 1 && l[0].metadata.labels?.team === 'b');
  });

  it('reports pods on missing nodes in one event, worded as upstream\'s aggregate error', async () => {
    const ghost = async (name: string, app: string, node: string, ip: string) => {
      await c.client.create(ref.pods, 'default', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, labels: { app } },
        spec: { nodeName: node, containers: [{ name: 'app', image: 'nginx' }] },
      });
      await c.client.patch(ref.pods, 'default', name, 'merge', { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }, { subresource: 'status' });
    };
    await ghost('ghost-a', 'ghost', 'gone-1', '10.244.99.1');
    await ghost('ghost-b', 'ghost', 'gone-2', '10.244.99.2');
    await ghost('lone-a', 'lone', 'gone-3', '10.244.99.3');
    for (const [name, app] of [['ghosts', 'ghost'], ['lone', 'lone']]) {
      await c.client.create(ref.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app }, ports: [{ port: 80 }] } });
    }
    const skip = (pod: string, svc: string, node: string) => `skipping Pod ${pod} for Service default/${svc}: Node ${node} Not Found`;
    const [many] = await eventually(async () => {
      const m = await c.events('default', 'ghosts', 'FailedToUpdateEndpointSlices');
      return m.length ? m : undefined;
    });
    const prefix = 'Error updating Endpoint Slices for Service default/ghosts: ';
    assert.ok(
      [`[${skip('ghost-a', 'ghosts', 'gone-1')}, ${skip('ghost-b', 'ghosts', 'gone-2')}]`, `[${skip('ghost-b', 'ghosts', 'gone-2')}, ${skip('ghost-a', 'ghosts', 'gone-1')}]`]
        .map((m) => prefix + m)
        .includes(many!),
      many,
    );
    const [one] = await eventually(async () => {
      const m = await c.events('default', 'lone', 'FailedToUpdateEndpointSlices');
      return m.length ? m : undefined;
    });
    assert.equal(one, `Error updating Endpoint Slices for Service default/lone: ${skip('lone-a', 'lone', 'gone-3')}`);
  });
});

async function waitSlices(list: () => Promise<KObject[]>, ok: (s: KObject[]) => boolean | undefined, ms = 20_000): Promise<KObject[]> {
  const deadline = Date.now() + ms;
  let last: KObject[] = [];
  while (Date.now() < deadline) {
    last = await list();
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out; slices: ${JSON.stringify(last.map((s) => ({ name: s.metadata.name, endpoints: s.endpoints, labels: s.metadata.labels })))}`);
}
