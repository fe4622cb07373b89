// The garbage collector end to end (integration: apiserver, controller manager,
// simulated nodes) with the real kubectl: `kubectl delete` with background, foreground
// and orphan cascades, dangling owner references, blockOwnerDeletion holding a
// foreground deletion, and custom resources as owners.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Informer } from '../src/client/informer.ts';
import { ref, resourceRef } from '../src/client/resources.ts';
import { builtinControllers } from '../src/controllers/manager.ts';
import { activePods, eventually, makeDeployment, startControllerTestCluster, type ControllerTestCluster } from '../src/controllers/testing.ts';
import { kubectlFor, type Kubectl } from './harness.ts';

describe('garbage collector (kubectl, simulated nodes)', () => {
  let c: ControllerTestCluster;
  let kubectl: Kubectl;
  const ok = async (...args: string[]) => {
    const r = await kubectl(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const ready = (name: string, n: number) => c.waitFor(ref.deployments, 'default', name, (d) => d?.status?.availableReplicas === n && d.status.updatedReplicas === n);
  const count = async (res: typeof ref.pods, selector: string) => (await c.client.list(res, 'default', { labelSelector: selector })).items.length;

  before(async () => {
    c = await startControllerTestCluster({ nodes: 3 });
    c.startControllers(builtinControllers());
    kubectl = kubectlFor(c.server.kubeconfigPath, path.join(c.dir, 'home'));
  });
  after(async () => await c?.close());

  it('kubectl delete deployment removes its ReplicaSets and pods', async () => {
    await c.client.create(ref.deployments, 'default', makeDeployment('bg').replicas(3).build());
    await ready('bg', 3);
    assert.match(await ok('delete', 'deployment', 'bg'), /^deployment\.apps "bg" deleted\n$/);
    await eventually(async () => (await count(ref.replicasets, 'app=bg')) === 0 && (await count(ref.pods, 'app=bg')) === 0);
  });

  it('--cascade=orphan leaves the ReplicaSets and pods, without the owner reference', async () => {
    await c.client.create(ref.deployments, 'default', makeDeployment('orph').replicas(2).build());
    await ready('orph', 2);
    await ok('delete', 'deployment', 'orph', '--cascade=orphan');
    await c.waitFor(ref.deployments, 'default', 'orph', (d) => !d);
    const rss = await eventually(async () => {
      const l = await c.client.list(ref.replicasets, 'default', { labelSelector: 'app=orph' });
      return l.items.length === 1 && !l.items[0].metadata.ownerReferences?.length ? l.items : undefined;
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await activePods(c.client, 'default', 'app=orph')).length, 2);
    const pods = await activePods(c.client, 'default', 'app=orph');
    assert.ok(pods.every((p) => p.metadata.ownerReferences?.[0]?.uid === rss[0].metadata.uid), 'pods still belong to their ReplicaSet');
    await ok('delete', 'rs', rss[0].metadata.name!);
    await eventually(async () => (await count(ref.pods, 'app=orph')) === 0);
  });

  it('--cascade=foreground deletes every dependent before the owner', async (t) => {
    await c.client.create(ref.deployments, 'default', makeDeployment('fg').replicas(3).build());
    await ready('fg', 3);
    const order: string[] = [];
    const ac = new AbortController();
    t.after(() => ac.abort());
    const watchers = [ref.deployments, ref.replicasets, ref.pods].map((r) => {
      const inf = new Informer(c.client, r, r === ref.deployments ? { fieldSelector: 'metadata.name=fg' } : { labelSelector: 'app=fg' });
      inf.addEventHandler({ onDelete: (o) => order.push(`${o.kind}/${o.metadata.name}`) });
      inf.start(ac.signal);
      return inf;
    });
    for (const w of watchers) await w.waitForSync();
    let sawFinalizer = false;
    const probe = setInterval(async () => {
      const d = await c.client.get(ref.deployments, 'default', 'fg').catch(() => undefined);
      if (d?.metadata.deletionTimestamp && d.metadata.finalizers?.includes('foregroundDeletion')) sawFinalizer = true;
    }, 10);
    const r = await kubectl(['delete', 'deployment', 'fg', '--cascade=foreground']).finally(() => clearInterval(probe));
    assert.equal(r.code, 0, r.stderr);
    await eventually(() => order.includes('Deployment/fg') || undefined);
    ac.abort();
    assert.ok(sawFinalizer, 'the deployment waited with the foregroundDeletion finalizer');
    const owner = order.indexOf('Deployment/fg');
    const dependents = order.filter((x) => !x.startsWith('Deployment/'));
    assert.equal(dependents.length, 4, `1 ReplicaSet and 3 pods deleted: ${order.join(', ')}`);
    assert.ok(dependents.every((x) => order.indexOf(x) < owner), `dependents first: ${order.join(', ')}`);
    const rs = order.findIndex((x) => x.startsWith('ReplicaSet/'));
    assert.ok(order.filter((x) => x.startsWith('Pod/')).every((x) => order.indexOf(x) < rs), `pods before their ReplicaSet: ${order.join(', ')}`);
  });

  it('a foreground deletion waits for a dependent with blockOwnerDeletion that is held by a finalizer', async () => {
    const owner = await c.client.create(ref.configmaps, 'default', { metadata: { name: 'owner' } });
    const ownerRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid!, blockOwnerDeletion: true };
    await c.client.create(ref.configmaps, 'default', { metadata: { name: 'held', finalizers: ['example.com/hold'], ownerReferences: [ownerRef] } });
    await c.client.delete(ref.configmaps, 'default', 'owner', { propagationPolicy: 'Foreground' });
    await c.waitFor(ref.configmaps, 'default', 'held', (o) => !!o?.metadata.deletionTimestamp);
    await new Promise((r) => setTimeout(r, 300));
    const waiting = await c.client.get(ref.configmaps, 'default', 'owner');
    assert.deepEqual(waiting.metadata.finalizers, ['foregroundDeletion']);
    await c.client.patch(ref.configmaps, 'default', 'held', 'merge', { metadata: { finalizers: null } });
    await c.waitFor(ref.configmaps, 'default', 'owner', (o) => !o);
  });

  it('deletes objects whose owners are gone, and drops references to missing owners beside a live one', async () => {
    await c.client.create(ref.configmaps, 'default', {
      metadata: { name: 'dangling', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'never-was', uid: '11111111-2222-3333-4444-555555555555' }] },
    });
    await c.waitFor(ref.configmaps, 'default', 'dangling', (o) => !o);
    const live = await c.client.create(ref.configmaps, 'default', { metadata: { name: 'live' } });
    await c.client.create(ref.configmaps, 'default', {
      metadata: {
        name: 'half',
        ownerReferences: [
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'live', uid: live.metadata.uid! },
          { apiVersion: 'v1', kind: 'ConfigMap', name: 'gone', uid: '66666666-2222-3333-4444-555555555555' },
        ],
      },
    });
    const half = await c.waitFor(ref.configmaps, 'default', 'half', (o) => o?.metadata.ownerReferences?.length === 1);
    assert.equal(half!.metadata.ownerReferences![0].uid, live.metadata.uid);
  });

  it('collects dependents of custom resources', async () => {
    const crds = resourceRef('apiextensions.k8s.io', 'customresourcedefinitions');
    await c.client.create(crds, undefined, {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    });
    await eventually(async () => (await kubectl(['get', 'widgets'])).code === 0);
    await ok('create', '-f', await c.file('w.json', JSON.stringify({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w1' } })));
    const w = JSON.parse(await ok('get', 'widget', 'w1', '-o', 'json'));
    await c.client.create(ref.configmaps, 'default', { metadata: { name: 'widget-config', ownerReferences: [{ apiVersion: 'example.com/v1', kind: 'Widget', name: 'w1', uid: w.metadata.uid }] } });
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(await c.client.get(ref.configmaps, 'default', 'widget-config'), 'kept while its owner lives');
    await ok('delete', 'widget', 'w1');
    await c.waitFor(ref.configmaps, 'default', 'widget-config', (o) => !o);
  });
});
