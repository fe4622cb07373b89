// The ServiceAccount controller and the root CA publisher against a real apiserver: a
// new namespace gets its `default` ServiceAccount and the kube-root-ca.crt ConfigMap
// with the cluster CA; both come back when deleted, an edited ConfigMap is put back,
// and a terminating namespace gets nothing new.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ref } from '../../client/resources.ts';
import { startControllerTestCluster, type ControllerTestCluster, type RunningControllers } from '../testing.ts';
import { serviceAccountController } from './controller.ts';
import { DESCRIPTION_ANNOTATION, ROOT_CA_CONFIGMAP, ROOT_CA_DESCRIPTION, rootCACertPublisher } from './rootca.ts';

describe('ServiceAccount controller and root CA publisher', () => {
  let c: ControllerTestCluster;
  let cm: RunningControllers;
  before(async () => {
    c = await startControllerTestCluster({ nodes: 0 });
    cm = c.startControllers([serviceAccountController(), rootCACertPublisher({ rootCA: c.server.pki.caCertPem })]);
    await cm.manager.whenReady();
  });
  after(async () => {
    await c?.close();
  });

  it('refuses to start without the CA', () => {
    assert.throws(() => rootCACertPublisher({ rootCA: '' }), /cluster CA/);
  });

  it('a new namespace gets the default ServiceAccount and kube-root-ca.crt', async () => {
    await c.client.create(ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-a' } });
    const sa = await c.waitFor(ref.serviceaccounts, 'team-a', 'default', (o) => !!o);
    assert.equal(sa!.metadata.name, 'default');
    const cm = await c.waitFor(ref.configmaps, 'team-a', ROOT_CA_CONFIGMAP, (o) => !!o);
    assert.deepEqual(cm!.data, { 'ca.crt': c.server.pki.caCertPem });
    assert.equal(cm!.metadata.annotations?.[DESCRIPTION_ANNOTATION], ROOT_CA_DESCRIPTION);
    // The namespaces that existed before the controllers started have them too.
    for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      await c.waitFor(ref.serviceaccounts, ns, 'default', (o) => !!o);
      await c.waitFor(ref.configmaps, ns, ROOT_CA_CONFIGMAP, (o) => !!o);
    }
  });

  it('recreates what is deleted and puts back what is edited', async () => {
    const sa = await c.client.get(ref.serviceaccounts, 'team-a', 'default');
    await c.client.delete(ref.serviceaccounts, 'team-a', 'default');
    await c.waitFor(ref.serviceaccounts, 'team-a', 'default', (o) => !!o && o.metadata.uid !== sa.metadata.uid);

    await c.client.patch(ref.configmaps, 'team-a', ROOT_CA_CONFIGMAP, 'merge', { data: { 'ca.crt': 'tampered', extra: 'x' } });
    await c.waitFor(ref.configmaps, 'team-a', ROOT_CA_CONFIGMAP, (o) => o?.data?.['ca.crt'] === c.server.pki.caCertPem && o?.data?.extra === undefined);

    await c.client.delete(ref.configmaps, 'team-a', ROOT_CA_CONFIGMAP);
    await c.waitFor(ref.configmaps, 'team-a', ROOT_CA_CONFIGMAP, (o) => o?.data?.['ca.crt'] === c.server.pki.caCertPem);
  });

  it('the same controllers run again in a later term of leadership', async () => {
    await cm.stop();
    const controllers = [serviceAccountController(), rootCACertPublisher({ rootCA: c.server.pki.caCertPem })];
    const first = c.startControllers(controllers);
    await first.manager.whenReady();
    await first.stop();
    cm = c.startControllers(controllers);
    await cm.manager.whenReady();
    await c.client.create(ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-b' } });
    await c.waitFor(ref.serviceaccounts, 'team-b', 'default', (o) => !!o);
    await c.waitFor(ref.configmaps, 'team-b', ROOT_CA_CONFIGMAP, (o) => !!o);
  });

  it('creates nothing in a terminating namespace', async () => {
    await c.client.delete(ref.namespaces, undefined, 'team-a');
    await c.waitFor(ref.namespaces, undefined, 'team-a', (o) => o?.status?.phase === 'Terminating');
    await c.client.delete(ref.serviceaccounts, 'team-a', 'default');
    await new Promise((r) => setTimeout(r, 500));
    const list = await c.client.list(ref.serviceaccounts, 'team-a');
    assert.deepEqual(list.items.map((o) => o.metadata.name), []);
  });
});
