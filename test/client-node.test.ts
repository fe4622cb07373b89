// The official JavaScript client (@kubernetes/client-node) against a Skiff apiserver:
// typed list and create, a raw watch, and an informer seeing add/update/delete.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as k8s from '@kubernetes/client-node';
import { startTestCluster, type TestCluster } from './harness.ts';

let c: TestCluster;
let kc: k8s.KubeConfig;
let core: k8s.CoreV1Api;

before(async () => {
  c = await startTestCluster();
  kc = new k8s.KubeConfig();
  kc.loadFromFile(c.server.kubeconfigPath);
  core = kc.makeApiClient(k8s.CoreV1Api);
});
after(async () => {
  await c?.close();
});

function waitFor<T>(check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const v = check();
      if (v !== undefined) return resolve(v);
      if (Date.now() - started > timeoutMs) return reject(new Error('timed out'));
      setTimeout(tick, 20);
    };
    tick();
  });
}

describe('@kubernetes/client-node', () => {
  it('lists namespaces and creates/reads a configmap', async () => {
    const nss = await core.listNamespace();
    assert.deepEqual(
      nss.items.map((n) => n.metadata?.name),
      ['default', 'kube-node-lease', 'kube-public', 'kube-system'],
    );
    await core.createNamespace({ body: { metadata: { name: 'js' } } });
    const created = await core.createNamespacedConfigMap({ namespace: 'js', body: { metadata: { name: 'one' }, data: { k: 'v' } } });
    assert.equal(created.metadata?.namespace, 'js');
    assert.ok(created.metadata?.uid);
    const list = await core.listNamespacedConfigMap({ namespace: 'js' });
    assert.deepEqual(list.items.map((i) => i.data), [{ k: 'v' }]);
    await assert.rejects(core.readNamespacedConfigMap({ namespace: 'js', name: 'nope' }), (e: any) => e.code === 404);
  });

  it('watch delivers events after the list resourceVersion', async () => {
    const list = await core.listNamespacedConfigMap({ namespace: 'js' });
    const events: [string, string][] = [];
    const watch = new k8s.Watch(kc);
    const req = await watch.watch(
      '/api/v1/namespaces/js/configmaps',
      { resourceVersion: list.metadata?.resourceVersion },
      (type, obj) => events.push([type, obj.metadata.name]),
      () => {},
    );
    await core.createNamespacedConfigMap({ namespace: 'js', body: { metadata: { name: 'two' } } });
    await core.deleteNamespacedConfigMap({ namespace: 'js', name: 'two' });
    await waitFor(() => (events.length >= 2 ? true : undefined));
    req.abort();
    assert.deepEqual(events, [
      ['ADDED', 'two'],
      ['DELETED', 'two'],
    ]);
  });

  it('an informer sees create, update and delete', async () => {
    await core.createNamespace({ body: { metadata: { name: 'inf' } } });
    const informer = k8s.makeInformer(kc, '/api/v1/namespaces/inf/configmaps', () => core.listNamespacedConfigMap({ namespace: 'inf' }));
    const seen: string[] = [];
    informer.on('add', (o) => seen.push(`add ${o.metadata?.name}`));
    informer.on('update', (o) => seen.push(`update ${o.metadata?.name} ${o.data?.v}`));
    informer.on('delete', (o) => seen.push(`delete ${o.metadata?.name}`));
    await informer.start();
    await core.createNamespacedConfigMap({ namespace: 'inf', body: { metadata: { name: 'x' }, data: { v: '1' } } });
    await waitFor(() => (seen.includes('add x') ? true : undefined));
    await core.replaceNamespacedConfigMap({ namespace: 'inf', name: 'x', body: { metadata: { name: 'x' }, data: { v: '2' } } });
    await waitFor(() => (seen.includes('update x 2') ? true : undefined));
    await core.deleteNamespacedConfigMap({ namespace: 'inf', name: 'x' });
    await waitFor(() => (seen.includes('delete x') ? true : undefined));
    await informer.stop();
    assert.deepEqual(seen, ['add x', 'update x 2', 'delete x']);
    assert.deepEqual(informer.list('inf'), []);
  });
});
