// REST client against a real apiserver through both transports: CRUD, subresources,
// patches, selectors, pagination, dryRun, errors as StatusError, and watch.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StatusError } from '../api/errors.ts';
import type { KObject } from '../api/object.ts';
import { ref } from './resources.ts';
import { statusErrorFrom } from './rest.ts';
import { startClientTestServer, type ClientTestServer } from './testing.ts';
import type { Client, WatchEvent } from './types.ts';

const cm = (name: string, data: Record<string, string> = {}, labels?: Record<string, string>): KObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, ...(labels ? { labels } : {}) },
  data,
});

for (const kind of ['https', 'inprocess'] as const) {
  describe(`REST client over ${kind}`, () => {
    let t: ClientTestServer;
    let c: Client;
    const ns = `ns-${kind}`;
    before(async () => {
      t = await startClientTestServer();
      c = t.client(kind);
      await c.create(ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      // Pods need their service account (admission); no serviceaccount controller runs here.
      await c.create(ref.serviceaccounts, ns, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
    });
    after(async () => await t.close());

    it('creates, gets, updates, patches and deletes', async () => {
      const created = await c.create(ref.configmaps, ns, cm('a', { k: 'v' }));
      assert.equal(created.metadata.namespace, ns);
      assert.ok(created.metadata.uid);
      const got = await c.get(ref.configmaps, ns, 'a');
      assert.deepEqual(got.data, { k: 'v' });

      got.data = { k: 'v2' };
      const updated = await c.update(ref.configmaps, ns, got);
      assert.equal(updated.data.k, 'v2');
      assert.notEqual(updated.metadata.resourceVersion, got.metadata.resourceVersion);

      // A stale resourceVersion is a conflict.
      await assert.rejects(c.update(ref.configmaps, ns, got), (e: unknown) => e instanceof StatusError && e.code === 409 && e.reason === 'Conflict');

      const merged = await c.patch(ref.configmaps, ns, 'a', 'merge', { data: { m: '1' } });
      assert.deepEqual(merged.data, { k: 'v2', m: '1' });
      const jp = await c.patch(ref.configmaps, ns, 'a', 'json', [{ op: 'remove', path: '/data/m' }]);
      assert.deepEqual(jp.data, { k: 'v2' });
      const smp = await c.patch(ref.configmaps, ns, 'a', 'strategic', { metadata: { labels: { x: 'y' } } });
      assert.deepEqual(smp.metadata.labels, { x: 'y' });

      const answer = await c.delete(ref.configmaps, ns, 'a');
      assert.ok(answer.kind === 'Status' || answer.kind === 'ConfigMap');
      await assert.rejects(c.get(ref.configmaps, ns, 'a'), (e: unknown) => {
        assert.ok(e instanceof StatusError);
        assert.equal(e.code, 404);
        assert.equal(e.reason, 'NotFound');
        assert.equal(e.message, 'configmaps "a" not found');
        return true;
      });
    });

    it('reports errors as StatusError with the server Status', async () => {
      await c.create(ref.configmaps, ns, cm('dup'));
      await assert.rejects(c.create(ref.configmaps, ns, cm('dup')), (e: unknown) => e instanceof StatusError && e.code === 409 && e.reason === 'AlreadyExists');
      await assert.rejects(c.create(ref.configmaps, ns, cm('Bad_Name')), (e: unknown) => {
        assert.ok(e instanceof StatusError);
        assert.equal(e.code, 422);
        assert.equal(e.reason, 'Invalid');
        assert.ok(e.status.details?.causes?.length);
        return true;
      });
      await assert.rejects(c.delete(ref.configmaps, ns, 'dup', { preconditions: { uid: 'not-the-uid' } }), (e: unknown) => e instanceof StatusError && e.code === 409);
      // Namespaced resources need a namespace for single-object calls.
      await assert.rejects(c.get(ref.pods, undefined, 'x'), (e: unknown) => e instanceof StatusError && e.code === 400);
    });

    it('lists with selectors and pagination; cluster-scoped and all-namespace lists', async () => {
      for (let i = 0; i < 5; i++) await c.create(ref.configmaps, ns, cm(`l${i}`, {}, { app: i % 2 ? 'odd' : 'even' }));
      const odd = await c.list(ref.configmaps, ns, { labelSelector: 'app=odd' });
      assert.deepEqual(odd.items.map((o) => o.metadata.name), ['l1', 'l3']);
      const byField = await c.list(ref.configmaps, ns, { fieldSelector: 'metadata.name=l2' });
      assert.deepEqual(byField.items.map((o) => o.metadata.name), ['l2']);

      const names: string[] = [];
      let cont: string | undefined;
      do {
        const page = await c.list(ref.configmaps, ns, { labelSelector: 'app', limit: 2, continue: cont });
        assert.ok(page.items.length <= 2);
        names.push(...page.items.map((o) => o.metadata.name!));
        cont = page.metadata.continue;
      } while (cont);
      assert.deepEqual(names, ['l0', 'l1', 'l2', 'l3', 'l4']);

      const nss = await c.list(ref.namespaces, undefined);
      assert.ok(nss.items.some((n) => n.metadata.name === ns));
      const all = await c.list(ref.configmaps, undefined, { labelSelector: 'app=even' });
      assert.equal(all.items.length, 3);
    });

    it('dryRun writes nothing; deleteCollection removes what the selector matches', async () => {
      await c.create(ref.configmaps, ns, cm('dry'), { dryRun: true });
      await assert.rejects(c.get(ref.configmaps, ns, 'dry'), (e: unknown) => e instanceof StatusError && e.code === 404);
      await c.create(ref.configmaps, ns, cm('dc1', {}, { dc: 'yes' }));
      await c.create(ref.configmaps, ns, cm('dc2', {}, { dc: 'yes' }));
      await c.delete(ref.configmaps, ns, 'dc1', { dryRun: true });
      assert.ok(await c.get(ref.configmaps, ns, 'dc1'));
      await c.deleteCollection(ref.configmaps, ns, { labelSelector: 'dc=yes' });
      const left = await c.list(ref.configmaps, ns, { labelSelector: 'dc=yes' });
      assert.equal(left.items.length, 0);
    });

    it('writes and reads subresources: status, scale, binding', async () => {
      const node = await c.create(ref.nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: `node-${kind}` } });
      node.status = { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'ok', lastHeartbeatTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') }] };
      const st = await c.update(ref.nodes, undefined, node, { subresource: 'status' });
      assert.equal(st.status.conditions[0].type, 'Ready');
      const patched = await c.patch(ref.nodes, undefined, node.metadata.name!, 'strategic', { status: { capacity: { cpu: '4' } } }, { subresource: 'status' });
      assert.equal(patched.status.capacity.cpu, '4');
      assert.equal((await c.get(ref.nodes, undefined, node.metadata.name!, { subresource: 'status' })).status.capacity.cpu, '4');

      const dep = await c.create(ref.deployments, ns, {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd' },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: 'd' } },
          template: { metadata: { labels: { app: 'd' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } },
        },
      });
      assert.equal(dep.spec.replicas, 1);
      const scale = await c.get(ref.deployments, ns, 'd', { subresource: 'scale' });
      assert.equal(scale.kind, 'Scale');
      scale.spec.replicas = 3;
      await c.update(ref.deployments, ns, scale, { subresource: 'scale' });
      assert.equal((await c.get(ref.deployments, ns, 'd')).spec.replicas, 3);

      await c.create(ref.pods, ns, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
      await c.create(ref.pods, ns, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p' }, target: { apiVersion: 'v1', kind: 'Node', name: node.metadata.name } }, { subresource: 'binding' });
      assert.equal((await c.get(ref.pods, ns, 'p')).spec.nodeName, node.metadata.name);
    });

    it('watches from a resourceVersion and ends when the signal aborts', async () => {
      const list = await c.list(ref.configmaps, ns);
      const ac = new AbortController();
      const seen: WatchEvent[] = [];
      const done = (async () => {
        for await (const ev of c.watch(ref.configmaps, ns, { resourceVersion: list.metadata.resourceVersion, signal: ac.signal })) {
          seen.push(ev);
          if (seen.length === 3) ac.abort();
        }
      })();
      await c.create(ref.configmaps, ns, cm('w1'));
      await c.patch(ref.configmaps, ns, 'w1', 'merge', { data: { a: 'b' } });
      await c.delete(ref.configmaps, ns, 'w1');
      await done;
      assert.deepEqual(seen.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
    });

    it('yields an ERROR 410 event for a watch from a resourceVersion too old', async () => {
      // A restarted apiserver's watch cache starts at the current revision: older ones are gone.
      const rv = (await c.list(ref.configmaps, ns)).metadata.resourceVersion!;
      await c.create(ref.configmaps, ns, cm('old-1'));
      await t.restart();
      const ac = new AbortController();
      const events: WatchEvent[] = [];
      for await (const ev of c.watch(ref.configmaps, ns, { resourceVersion: rv, signal: ac.signal })) events.push(ev);
      assert.equal(events.length, 1);
      assert.equal(events[0].type, 'ERROR');
      assert.equal(events[0].object.code, 410);
      assert.equal(events[0].object.reason, 'Expired');
    });

    it('ends a watch when the server says so (timeoutSeconds)', async () => {
      const ac = new AbortController();
      const startedAt = Date.now();
      const events: WatchEvent[] = [];
      for await (const ev of c.watch(ref.configmaps, ns, { timeoutSeconds: 1, signal: ac.signal })) events.push(ev);
      assert.ok(Date.now() - startedAt >= 900);
      assert.ok(events.every((e) => e.type === 'ADDED'));
    });
  });
}

describe('statusErrorFrom', () => {
  it('keeps a server Status and synthesizes one for other bodies', () => {
    const s = statusErrorFrom(404, JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'NotFound', message: 'x', code: 404 }));
    assert.equal(s.reason, 'NotFound');
    assert.equal(s.message, 'x');
    const g = statusErrorFrom(503, '<html>busy</html>');
    assert.equal(g.code, 503);
    assert.equal(g.reason, 'ServiceUnavailable');
    assert.match(g.message, /status code 503/);
  });
});
