// The namespace controller end to end (integration: apiserver, controller manager,
// simulated nodes) with the real kubectl: `kubectl delete ns` empties a namespace of
// every kind (custom resources included) and returns once it is gone; content held by
// a finalizer keeps it Terminating with upstream's conditions until released.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { KObject } from '../src/api/object.ts';
import { ref, resourceRef } from '../src/client/resources.ts';
import type { ResourceRef } from '../src/client/types.ts';
import { builtinControllers } from '../src/controllers/manager.ts';
import { eventually, makeDeployment, startControllerTestCluster, type ControllerTestCluster } from '../src/controllers/testing.ts';
import { kubectlFor, type Kubectl } from './harness.ts';

describe('namespace controller (kubectl, simulated nodes)', () => {
  let c: ControllerTestCluster;
  let kubectl: Kubectl;
  const ok = async (...args: string[]) => {
    const r = await kubectl(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    c = await startControllerTestCluster({ nodes: 3 });
    c.startControllers(builtinControllers());
    kubectl = kubectlFor(c.server.kubeconfigPath, path.join(c.dir, 'home'));
  });
  after(async () => await c?.close());

  it('deletes a namespace holding 50 objects of 10 kinds, and kubectl delete ns returns once it is gone', async () => {
    const ns = 'busy';
    await c.createNamespace(ns);
    const widgets = resourceRef('apiextensions.k8s.io', 'customresourcedefinitions');
    await c.client.create(widgets, undefined, {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'gadgets.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { plural: 'gadgets', singular: 'gadget', kind: 'Gadget' },
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    });
    const gadgets: ResourceRef = { group: 'example.com', version: 'v1', resource: 'gadgets', namespaced: true };
    await eventually(async () => (await c.client.list(gadgets, ns)) && true);
    const meta = (name: string) => ({ name, namespace: ns });
    const make: [ResourceRef, (i: number) => KObject, number][] = [
      [ref.configmaps, (i) => ({ metadata: meta(`cm-${i}`), data: { i: String(i) } }), 8],
      [ref.secrets, (i) => ({ metadata: meta(`secret-${i}`), stringData: { i: String(i) } }), 5],
      [ref.services, (i) => ({ metadata: meta(`svc-${i}`), spec: { ports: [{ port: 80 + i }] } }), 5],
      [ref.serviceaccounts, (i) => ({ metadata: meta(`sa-${i}`) }), 4],
      [ref.pods, (i) => ({ metadata: { ...meta(`pod-${i}`), annotations: { 'sim.skiff.dev/stop-seconds': '0' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }), 5],
      [ref.roles, (i) => ({ metadata: meta(`role-${i}`), rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] }), 4],
      [ref.rolebindings, (i) => ({ metadata: meta(`rb-${i}`), roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `role-${i}` }, subjects: [{ kind: 'ServiceAccount', name: `sa-${i}`, namespace: ns }] }), 4],
      [ref.leases, (i) => ({ metadata: meta(`lease-${i}`), spec: { holderIdentity: `h-${i}` } }), 5],
      [ref.cronjobs, (i) => ({ metadata: meta(`cj-${i}`), spec: { schedule: '*/5 * * * *', suspend: true, jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox' }] } } } } } }), 3],
      [gadgets, (i) => ({ apiVersion: 'example.com/v1', kind: 'Gadget', metadata: meta(`gadget-${i}`) }), 5],
    ];
    let created = 0;
    for (const [r, body, n] of make) {
      for (let i = 0; i < n; i++) {
        await c.client.create(r, ns, body(i));
        created++;
      }
    }
    // Workloads too: a deployment whose ReplicaSet and pods the namespace deletion must also remove.
    await c.client.create(ref.deployments, ns, makeDeployment('web').namespace(ns).replicas(3).build());
    await c.waitFor(ref.deployments, ns, 'web', (d) => d?.status?.availableReplicas === 3);
    assert.ok(created >= 48, `${created} objects`);

    const started = Date.now();
    const r = await kubectl(['delete', 'namespace', ns, '--timeout=60s']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `namespace "${ns}" deleted\n`);
    // kubectl waits for the namespace to be gone before it returns.
    await assert.rejects(c.client.get(ref.namespaces, undefined, ns), /not found/);
    assert.ok(Date.now() - started < 30_000);
    for (const [res] of [...make, [ref.deployments], [ref.replicasets]] as [ResourceRef][]) {
      assert.equal((await c.client.list(res, ns)).items.length, 0, `no ${res.resource} left`);
    }
  });

  it('stays Terminating with upstream\'s conditions while content has finalizers, then goes', async () => {
    await c.createNamespace('held');
    await c.client.create(ref.configmaps, 'held', { metadata: { name: 'keep', finalizers: ['example.com/hold'] } });
    await ok('delete', 'namespace', 'held', '--wait=false');
    const ns = await c.waitFor(ref.namespaces, undefined, 'held', (o) => o?.status?.conditions?.some((x: any) => x.type === 'NamespaceFinalizersRemaining' && x.status === 'True'));
    assert.equal(ns!.status.phase, 'Terminating');
    const by = Object.fromEntries(ns!.status.conditions.map((x: any) => [x.type, [x.status, x.reason, x.message]]));
    assert.deepEqual(by, {
      NamespaceDeletionDiscoveryFailure: ['False', 'ResourcesDiscovered', 'All resources successfully discovered'],
      NamespaceDeletionGroupVersionParsingFailure: ['False', 'ParsedGroupVersions', 'All legacy kube types successfully parsed'],
      NamespaceDeletionContentFailure: ['False', 'ContentDeleted', 'All content successfully deleted, may be waiting on finalization'],
      NamespaceContentRemaining: ['True', 'SomeResourcesRemain', 'Some resources are remaining: configmaps. has 1 resource instances'],
      NamespaceFinalizersRemaining: ['True', 'SomeFinalizersRemain', 'Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances'],
    });
    assert.match(await ok('get', 'namespace', 'held'), /held\s+Terminating/);
    // New content is refused meanwhile.
    await assert.rejects(c.client.create(ref.configmaps, 'held', { metadata: { name: 'late' } }), /unable to create new content in namespace held because it is being terminated/);
    await c.client.patch(ref.configmaps, 'held', 'keep', 'merge', { metadata: { finalizers: null } });
    await c.waitFor(ref.namespaces, undefined, 'held', (o) => !o);
  });
});
