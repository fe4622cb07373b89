// Integration: the API's semantics on the wire (authentication, bad input, pagination,
// watch parameters, subresources, deletion rules), as upstream's apiserver answers.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { startTestCluster, kubectlFor, type TestCluster } from './harness.ts';
import { TestApiClient } from './api-client.ts';

let c: TestCluster;
let api: TestApiClient;

before(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'skiff-tokens-'));
  const tokenFile = path.join(dir, 'tokens.csv');
  await writeFile(tokenFile, 's3cr3t-token,alice,uid-1,"dev,ops"\n');
  c = await startTestCluster({ tokenAuthFile: tokenFile });
  api = new TestApiClient(c.server.kubeconfigPath);
  await api.json('POST', '/api/v1/namespaces', { metadata: { name: 't' } });
  // What the serviceaccount controller does in a full cluster; pods need it (admission).
  await api.json('POST', '/api/v1/namespaces/t/serviceaccounts', { metadata: { name: 'default' } });
});
after(async () => {
  api?.close();
  await c?.close();
});

/** A request with no client certificate, optionally with a bearer token. */
function anonymous(p: string, token?: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(p, c.server.url),
      { ca: c.server.pki.caCertPem, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        let data = '';
        res.on('data', (d) => (data += d));
        res.on('end', () => {
          let body: unknown = data;
          try {
            body = JSON.parse(data);
          } catch {
            // text answers (healthz)
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('authentication', () => {
  it('answers 401 to anonymous requests except health and version', async () => {
    const r = await anonymous('/api/v1/namespaces');
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    for (const p of ['/healthz', '/livez', '/readyz']) {
      const h = await anonymous(p);
      assert.equal(h.status, 200);
      assert.equal(h.body, 'ok');
    }
    const v = await anonymous('/version');
    assert.equal(v.status, 200);
    assert.equal(v.body.minor, '32');
  });

  it('accepts a bearer token from --token-auth-file, and kubectl with it', async () => {
    assert.equal((await anonymous('/api/v1/namespaces', 'wrong')).status, 401);
    assert.equal((await anonymous('/api/v1/namespaces', 's3cr3t-token')).status, 200);
    const kubeconfig = path.join(c.dir, 'token.kubeconfig');
    await writeFile(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: ${c.server.url}
    certificate-authority-data: ${Buffer.from(c.server.pki.caCertPem).toString('base64')}
users:
- name: alice
  user:
    token: s3cr3t-token
contexts:
- name: alice
  context: {cluster: c, user: alice}
current-context: alice
`,
    );
    const kubectl = kubectlFor(kubeconfig, path.join(c.dir, 'home-alice'));
    const ok = await kubectl(['get', 'ns', 'default', '-o', 'name']);
    assert.equal(ok.stdout, 'namespace/default\n', ok.stderr);
    const bad = await kubectl(['get', 'ns', '--token', 'nope']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /error: You must be logged in to the server \(Unauthorized\)/);
  });
});

describe('bad input gets a 4xx Status and the server keeps serving', () => {
  const cmPath = '/api/v1/namespaces/t/configmaps';
  const cases: [string, () => Promise<{ status: number; body: any }>, number, string | RegExp][] = [
    ['malformed JSON', () => api.json('POST', cmPath, '{"metadata": {"name": "x"'), 400, 'BadRequest'],
    ['malformed YAML', () => api.json('POST', cmPath, 'metadata: [unclosed', { 'content-type': 'application/yaml' }), 400, 'BadRequest'],
    ['a JSON array', () => api.json('POST', cmPath, '[1,2]'), 400, 'BadRequest'],
    ['the wrong kind', () => api.json('POST', cmPath, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' } }), 400, 'BadRequest'],
    ['the wrong apiVersion', () => api.json('POST', cmPath, { apiVersion: 'apps/v1', kind: 'ConfigMap', metadata: { name: 'x' } }), 400, 'BadRequest'],
    ['a field of the wrong type', () => api.json('POST', cmPath, { metadata: { name: 'x' }, data: 'oops' }), 400, 'BadRequest'],
    ['a body over 3 MiB', () => api.json('POST', cmPath, { metadata: { name: 'big' }, data: { a: 'x'.repeat(3 * 1024 * 1024 + 10) } }), 413, 'RequestEntityTooLarge'],
    ['a bad label selector', () => api.json('GET', `${cmPath}?labelSelector=a%20in%20(b`), 400, 'BadRequest'],
    ['an unsupported field selector', () => api.json('GET', `${cmPath}?fieldSelector=spec.nodeName%3Dx`), 400, 'BadRequest'],
    ['an unknown resource', () => api.json('GET', '/api/v1/namespaces/t/widgets'), 404, 'NotFound'],
    ['an unknown group', () => api.json('GET', '/apis/example.com/v1/widgets'), 404, 'NotFound'],
    ['an unsupported media type', () => api.json('POST', cmPath, 'x', { 'content-type': 'text/plain' }), 415, 'UnsupportedMediaType'],
    ['an invalid name', () => api.json('POST', cmPath, { metadata: { name: 'Not_Valid' } }), 422, 'Invalid'],
    ['a missing name', () => api.json('POST', cmPath, { metadata: {} }), 422, 'Invalid'],
    ['a bad patch', () => api.json('PATCH', `${cmPath}/none`, 'not json', { 'content-type': 'application/merge-patch+json' }), 404, 'NotFound'],
    ['an unsupported patch type', () => api.json('PATCH', '/api/v1/namespaces/t', '{}', { 'content-type': 'application/xml' }), 415, 'UnsupportedMediaType'],
    ['a verb the resource lacks', () => api.json('DELETE', '/api/v1/componentstatuses/etcd-0'), 405, 'MethodNotAllowed'],
    ['a bad limit', () => api.json('GET', `${cmPath}?limit=abc`), 400, 'BadRequest'],
    ['a bad continue token', () => api.json('GET', `${cmPath}?limit=1&continue=garbage`), 400, 'BadRequest'],
  ];
  for (const [name, run, code, reason] of cases) {
    it(name, async () => {
      const r = await run();
      assert.equal(r.status, code, JSON.stringify(r.body));
      assert.equal(r.body.kind, 'Status');
      assert.equal(r.body.status, 'Failure');
      assert.equal(r.body.code, code);
      assert.equal(r.body.reason, reason);
      // Still serving, and nothing was written.
      const ping = await api.json('GET', cmPath);
      assert.equal(ping.status, 200);
      assert.equal(ping.body.items.length, 0);
    });
  }

  it('strict field validation text and the Warn default', async () => {
    let r = await api.request('POST', `${cmPath}?fieldValidation=Strict`, { metadata: { name: 'strict' }, spec: { a: 1 } });
    assert.equal(r.status, 400);
    assert.equal(JSON.parse(r.body).message, 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "spec"');
    r = await api.request('POST', cmPath, { metadata: { name: 'warned' }, spec: { a: 1 } });
    assert.equal(r.status, 201);
    assert.equal(r.headers.warning, '299 - "unknown field \\"spec\\""');
    assert.equal((await api.json('DELETE', `${cmPath}/warned`)).status, 200);
    const dup = '{"metadata":{"name":"dup","name":"dup"},"data":{"a":"1","a":"2"},"spec":1}';
    r = await api.request('POST', `${cmPath}?fieldValidation=Strict`, dup);
    assert.equal(r.status, 400);
    assert.equal(
      JSON.parse(r.body).message,
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "spec", duplicate field "metadata.name", duplicate field "data.a"',
    );
    r = await api.request('POST', cmPath, dup);
    assert.equal(r.status, 201);
    assert.equal(r.headers.warning, '299 - "unknown field \\"spec\\"", 299 - "duplicate field \\"metadata.name\\"", 299 - "duplicate field \\"data.a\\""');
    assert.deepEqual(JSON.parse(r.body).data, { a: '2' });
    assert.equal((await api.json('DELETE', `${cmPath}/dup`)).status, 200);
  });
});

describe('reads', () => {
  before(async () => {
    for (let i = 0; i < 25; i++) {
      const r = await api.json('POST', '/api/v1/namespaces/t/secrets', {
        metadata: { name: `s-${String(i).padStart(2, '0')}`, labels: { parity: i % 2 ? 'odd' : 'even', idx: String(i) } },
        type: i === 3 ? 'kubernetes.io/tls' : 'Opaque',
        data: i === 3 ? { 'tls.crt': '', 'tls.key': '' } : {},
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
  });

  it('pages with limit/continue over one consistent snapshot', async () => {
    const first = await api.json('GET', '/api/v1/namespaces/t/secrets?limit=10');
    assert.equal(first.body.items.length, 10);
    assert.equal(first.body.metadata.remainingItemCount, 15);
    const rv = first.body.metadata.resourceVersion;
    // Changes after the first page are not seen by the rest of the list.
    await api.json('DELETE', '/api/v1/namespaces/t/secrets/s-20');
    await api.json('POST', '/api/v1/namespaces/t/secrets', { metadata: { name: 's-99' } });
    const names: string[] = first.body.items.map((i: any) => i.metadata.name);
    let token = first.body.metadata.continue;
    while (token) {
      const page = await api.json('GET', `/api/v1/namespaces/t/secrets?limit=10&continue=${encodeURIComponent(token)}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.equal(page.body.metadata.resourceVersion, rv);
      names.push(...page.body.items.map((i: any) => i.metadata.name));
      token = page.body.metadata.continue;
    }
    assert.deepEqual(names, Array.from({ length: 25 }, (_, i) => `s-${String(i).padStart(2, '0')}`));
    const now = await api.json('GET', '/api/v1/namespaces/t/secrets');
    assert.equal(now.body.items.length, 25);
    assert.ok(now.body.items.some((i: any) => i.metadata.name === 's-99'));
  });

  it('label and field selectors', async () => {
    let r = await api.json('GET', '/api/v1/namespaces/t/secrets?labelSelector=parity%3Dodd,idx%20in%20(1,3,4)');
    assert.deepEqual(r.body.items.map((i: any) => i.metadata.name), ['s-01', 's-03']);
    r = await api.json('GET', '/api/v1/namespaces/t/secrets?labelSelector=!nolabel,idx!%3D0,parity%3Deven&limit=3');
    assert.deepEqual(r.body.items.map((i: any) => i.metadata.name), ['s-02', 's-04', 's-06']);
    r = await api.json('GET', '/api/v1/secrets?fieldSelector=type%3Dkubernetes.io/tls');
    assert.deepEqual(r.body.items.map((i: any) => i.metadata.name), ['s-03']);
    r = await api.json('GET', '/api/v1/namespaces/t/secrets?fieldSelector=metadata.name!%3Ds-00,type%3DOpaque&labelSelector=idx%3D0');
    assert.deepEqual(r.body.items, []);
  });

  it('a continue token from before a compaction is 410 Expired', async () => {
    const first = await api.json('GET', '/api/v1/namespaces/t/secrets?limit=5');
    await api.json('POST', '/api/v1/namespaces/t/configmaps', { metadata: { name: 'bump' } });
    await api.json('DELETE', '/api/v1/namespaces/t/configmaps/bump');
    await c.server.store.compact(await c.server.store.currentRevision());
    const r = await api.json('GET', `/api/v1/namespaces/t/secrets?limit=5&continue=${encodeURIComponent(first.body.metadata.continue)}`);
    assert.equal(r.status, 410);
    assert.equal(r.body.reason, 'Expired');
    assert.match(r.body.message, /^The provided continue parameter is too old/);
  });

  it('serves Tables with upstream columns and PartialObjectMetadata', async () => {
    const t = await api.json('GET', '/api/v1/namespaces/t/secrets?limit=2', undefined, {
      accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
    });
    assert.equal(t.body.kind, 'Table');
    assert.deepEqual(t.body.columnDefinitions.map((c: any) => c.name), ['Name', 'Type', 'Data', 'Age']);
    assert.deepEqual(t.body.rows[0].cells.slice(0, 3), ['s-00', 'Opaque', 0]);
    assert.equal(t.body.rows[0].object.kind, 'PartialObjectMetadata');
    const m = await api.json('GET', '/api/v1/namespaces/t/secrets/s-01', undefined, {
      accept: 'application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io',
    });
    assert.equal(m.body.kind, 'PartialObjectMetadata');
    assert.equal(m.body.metadata.name, 's-01');
    assert.equal(m.body.data, undefined);
  });
});

describe('watch', () => {
  it('sends initial ADDED without a resourceVersion, resumes from one, ends at timeoutSeconds', async () => {
    await api.json('POST', '/api/v1/namespaces', { metadata: { name: 'w' } });
    const a = await api.json('POST', '/api/v1/namespaces/w/configmaps', { metadata: { name: 'a' } });
    const b = await api.json('POST', '/api/v1/namespaces/w/configmaps', { metadata: { name: 'b' } });
    const initial = await api.watch('/api/v1/namespaces/w/configmaps?watch=true', (ev) => ev.length >= 2, 3000);
    assert.deepEqual(initial.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'a'], ['ADDED', 'b']]);
    const resumed = await api.watch(`/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=${a.body.metadata.resourceVersion}`, (ev) => ev.length >= 1, 3000);
    assert.deepEqual(resumed.events.map((e) => [e.type, e.object.metadata.name, e.object.metadata.resourceVersion]), [['ADDED', 'b', b.body.metadata.resourceVersion]]);
    const started = Date.now();
    const timed = await api.watch(`/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=${b.body.metadata.resourceVersion}&timeoutSeconds=1`, () => false, 10_000);
    assert.deepEqual(timed.events, []);
    assert.ok(Date.now() - started < 5000, 'the server ended the watch at timeoutSeconds');
  });

  it('sends a bookmark with the initial-events-end annotation when asked (watch-list)', async () => {
    const r = await api.watch(
      '/api/v1/namespaces/w/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true',
      (ev) => ev.some((e) => e.type === 'BOOKMARK'),
      3000,
    );
    assert.deepEqual(r.events.map((e) => e.type), ['ADDED', 'ADDED', 'BOOKMARK']);
    const bm = r.events[2].object;
    assert.equal(bm.kind, 'ConfigMap');
    assert.equal(bm.metadata.annotations['k8s.io/initial-events-end'], 'true');
    assert.ok(Number(bm.metadata.resourceVersion) > 0);
  });

  it('reports filtered objects leaving the selector as DELETED', async () => {
    const list = await api.json('GET', '/api/v1/namespaces/w/configmaps');
    const watching = api.watch(
      `/api/v1/namespaces/w/configmaps?watch=true&labelSelector=team%3Dblue&resourceVersion=${list.body.metadata.resourceVersion}`,
      (ev) => ev.length >= 2,
      5000,
    );
    await new Promise((r) => setTimeout(r, 200));
    const patch = (labels: unknown) => api.json('PATCH', '/api/v1/namespaces/w/configmaps/a', { metadata: { labels } }, { 'content-type': 'application/merge-patch+json' });
    await patch({ team: 'blue' });
    await patch({ team: 'red' });
    const r = await watching;
    assert.deepEqual(r.events.map((e) => [e.type, e.object.metadata.labels?.team]), [['ADDED', 'blue'], ['DELETED', 'red']]);
  });
});

describe('writes', () => {
  it('keeps spec and status apart (status subresource) and bumps generation on spec changes', async () => {
    const dep = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'd' },
      spec: { replicas: 1, selector: { matchLabels: { a: 'b' } }, template: { metadata: { labels: { a: 'b' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } } },
      status: { replicas: 99 },
    };
    const created = await api.json('POST', '/apis/apps/v1/namespaces/t/deployments', dep);
    assert.equal(created.status, 201);
    assert.equal(created.body.metadata.generation, 1);
    assert.deepEqual(created.body.status, {});
    const st = await api.json('PUT', '/apis/apps/v1/namespaces/t/deployments/d/status', { ...created.body, spec: { ...created.body.spec, replicas: 7 }, status: { replicas: 3 } });
    assert.equal(st.status, 200);
    assert.equal(st.body.spec.replicas, 1);
    assert.equal(st.body.status.replicas, 3);
    assert.equal(st.body.metadata.generation, 1);
    const upd = await api.json('PUT', '/apis/apps/v1/namespaces/t/deployments/d', { ...st.body, spec: { ...st.body.spec, replicas: 2 }, status: {} });
    assert.equal(upd.body.spec.replicas, 2);
    assert.equal(upd.body.status.replicas, 3);
    assert.equal(upd.body.metadata.generation, 2);
    const scale = await api.json('GET', '/apis/apps/v1/namespaces/t/deployments/d/scale');
    assert.deepEqual(
      { kind: scale.body.kind, apiVersion: scale.body.apiVersion, spec: scale.body.spec, status: scale.body.status },
      { kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 2 }, status: { replicas: 3, selector: 'a=b' } },
    );
  });

  it('answers a stale update with 409 and upstream text', async () => {
    const cm = await api.json('POST', '/api/v1/namespaces/t/configmaps', { metadata: { name: 'occ' }, data: { v: '1' } });
    await api.json('PUT', '/api/v1/namespaces/t/configmaps/occ', { ...cm.body, data: { v: '2' } });
    const stale = await api.json('PUT', '/api/v1/namespaces/t/configmaps/occ', { ...cm.body, data: { v: '3' } });
    assert.equal(stale.status, 409);
    assert.equal(stale.body.reason, 'Conflict');
    assert.equal(stale.body.message, 'Operation cannot be fulfilled on configmaps "occ": the object has been modified; please apply your changes to the latest version and try again');
    assert.deepEqual(stale.body.details, { name: 'occ', kind: 'configmaps' });
  });

  it('dryRun=All validates and answers without storing', async () => {
    const r = await api.json('POST', '/api/v1/namespaces/t/configmaps?dryRun=All', { metadata: { name: 'dry' } });
    assert.equal(r.status, 201);
    assert.equal(r.body.metadata.name, 'dry');
    assert.equal((await api.json('GET', '/api/v1/namespaces/t/configmaps/dry')).status, 404);
    const del = await api.json('DELETE', '/api/v1/namespaces/t/configmaps/occ?dryRun=All');
    assert.equal(del.status, 200);
    assert.equal((await api.json('GET', '/api/v1/namespaces/t/configmaps/occ')).status, 200);
  });

  it('generateName, finalizers and deletionTimestamp', async () => {
    const r = await api.json('POST', '/api/v1/namespaces/t/configmaps', { metadata: { generateName: 'gen-', finalizers: ['example.com/hold'] } });
    assert.equal(r.status, 201);
    const name = r.body.metadata.name;
    assert.match(name, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    const del = await api.json('DELETE', `/api/v1/namespaces/t/configmaps/${name}`);
    assert.equal(del.status, 202);
    assert.ok(del.body.metadata.deletionTimestamp);
    const still = await api.json('GET', `/api/v1/namespaces/t/configmaps/${name}`);
    assert.deepEqual(still.body.metadata.finalizers, ['example.com/hold']);
    const rm = await api.json('PATCH', `/api/v1/namespaces/t/configmaps/${name}`, { metadata: { finalizers: null } }, { 'content-type': 'application/merge-patch+json' });
    assert.equal(rm.status, 200);
    assert.equal((await api.json('GET', `/api/v1/namespaces/t/configmaps/${name}`)).status, 404);
  });

  it('refuses pods whose service account does not exist (ServiceAccount admission)', async () => {
    await api.json('POST', '/api/v1/namespaces', { metadata: { name: 'nosa' } });
    const r = await api.json('POST', '/api/v1/namespaces/nosa/pods', { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    assert.equal(r.status, 403);
    assert.equal(r.body.message, 'pods "p" is forbidden: error looking up service account nosa/default: serviceaccount "default" not found');
  });

  it('deletes unbound pods at once and bound pods gracefully', async () => {
    const pod = (name: string) => ({ metadata: { name }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    const p1 = await api.json('POST', '/api/v1/namespaces/t/pods', pod('unbound'));
    assert.equal(p1.status, 201);
    assert.equal(p1.body.status.phase, 'Pending');
    const d1 = await api.json('DELETE', '/api/v1/namespaces/t/pods/unbound');
    assert.equal(d1.status, 200);
    assert.equal((await api.json('GET', '/api/v1/namespaces/t/pods/unbound')).status, 404);

    await api.json('POST', '/api/v1/namespaces/t/pods', pod('bound'));
    const bind = await api.json('POST', '/api/v1/namespaces/t/pods/bound/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'bound' }, target: { kind: 'Node', name: 'node-1' } });
    assert.equal(bind.status, 201, JSON.stringify(bind.body));
    const again = await api.json('POST', '/api/v1/namespaces/t/pods/bound/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'bound' }, target: { kind: 'Node', name: 'node-2' } });
    assert.equal(again.status, 409);
    const d2 = await api.json('DELETE', '/api/v1/namespaces/t/pods/bound', { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 30 });
    assert.equal(d2.status, 202);
    assert.equal(d2.body.metadata.deletionGracePeriodSeconds, 30);
    assert.equal(d2.body.spec.nodeName, 'node-1');
    // The kubelet confirms with grace period 0.
    const d3 = await api.json('DELETE', '/api/v1/namespaces/t/pods/bound', { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 });
    assert.equal(d3.status, 200);
    assert.equal((await api.json('GET', '/api/v1/namespaces/t/pods/bound')).status, 404);
  });

  it('honours delete preconditions and records propagation as finalizers', async () => {
    const cm = await api.json('POST', '/api/v1/namespaces/t/configmaps', { metadata: { name: 'pre' } });
    const bad = await api.json('DELETE', '/api/v1/namespaces/t/configmaps/pre', { preconditions: { uid: 'not-the-uid' } });
    assert.equal(bad.status, 409);
    assert.equal(bad.body.message, `Operation cannot be fulfilled on configmaps "pre": Precondition failed: UID in precondition: not-the-uid, UID in object meta: ${cm.body.metadata.uid}`);
    const orphan = await api.json('DELETE', '/api/v1/namespaces/t/configmaps/pre', { propagationPolicy: 'Orphan' });
    assert.equal(orphan.status, 202);
    assert.deepEqual(orphan.body.metadata.finalizers, ['orphan']);
  });

  it('refuses writes into missing and terminating namespaces', async () => {
    let r = await api.json('POST', '/api/v1/namespaces/nowhere/configmaps', { metadata: { name: 'x' } });
    assert.equal(r.status, 404);
    assert.equal(r.body.message, 'namespaces "nowhere" not found');
    await api.json('POST', '/api/v1/namespaces', { metadata: { name: 'going' } });
    const del = await api.json('DELETE', '/api/v1/namespaces/going');
    assert.equal(del.body.status.phase, 'Terminating');
    r = await api.json('POST', '/api/v1/namespaces/going/configmaps', { metadata: { name: 'x' } });
    assert.equal(r.status, 403);
    assert.equal(r.body.reason, 'Forbidden');
    assert.equal(r.body.message, 'configmaps is forbidden: unable to create new content in namespace going because it is being terminated');
    r = await api.json('DELETE', '/api/v1/namespaces/default');
    assert.equal(r.status, 403);
    assert.equal(r.body.message, 'namespaces "default" is forbidden: this namespace may not be deleted');
  });

  it('allocates ClusterIPs and NodePorts without clashes', async () => {
    const svc = (name: string, spec: object) => api.json('POST', '/api/v1/namespaces/t/services', { metadata: { name }, spec });
    const a = await svc('fixed', { clusterIP: '10.96.0.50', type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.equal(a.body.spec.clusterIP, '10.96.0.50');
    assert.deepEqual(a.body.spec.ports, [{ port: 80, nodePort: 30080, protocol: 'TCP', targetPort: 80 }]);
    const clash = await svc('clash', { clusterIP: '10.96.0.50', ports: [{ port: 80 }] });
    assert.equal(clash.status, 422);
    assert.match(clash.body.message, /provided IP is already allocated/);
    const portClash = await svc('portclash', { type: 'NodePort', ports: [{ port: 80, nodePort: 30080 }] });
    assert.equal(portClash.status, 422);
    assert.match(portClash.body.message, /provided port is already allocated/);
    const headless = await svc('headless', { clusterIP: 'None', ports: [{ port: 80 }] });
    assert.deepEqual(headless.body.spec.clusterIPs, ['None']);
  });

  it('allocates, keeps and releases healthCheckNodePort for LoadBalancer services with externalTrafficPolicy Local', async () => {
    const base = '/api/v1/namespaces/t/services';
    const svc = (name: string, spec: object) => api.json('POST', base, { metadata: { name }, spec });
    const patch = (name: string, spec: object) => api.json('PATCH', `${base}/${name}`, { spec }, { 'content-type': 'application/merge-patch+json' });
    const inRange = (n: unknown) => typeof n === 'number' && n >= 30000 && n <= 32767;
    const lb = (extra: object = {}) => ({ type: 'LoadBalancer', externalTrafficPolicy: 'Local', ports: [{ port: 80 }], ...extra });

    const local = await svc('hc-local', lb());
    assert.equal(local.status, 201, JSON.stringify(local.body));
    const hc = local.body.spec.healthCheckNodePort;
    assert.ok(inRange(hc), JSON.stringify(local.body.spec));
    assert.notEqual(hc, local.body.spec.ports[0].nodePort);
    // Without node ports for the ports, a health check port is still allocated (upstream's NeedsHealthCheck).
    const noAlloc = await svc('hc-noalloc', lb({ allocateLoadBalancerNodePorts: false }));
    assert.equal(noAlloc.status, 201, JSON.stringify(noAlloc.body));
    assert.ok(inRange(noAlloc.body.spec.healthCheckNodePort));
    assert.equal(noAlloc.body.spec.ports[0].nodePort, undefined);
    const cluster = await svc('hc-cluster', { type: 'LoadBalancer', ports: [{ port: 80 }] });
    assert.equal(cluster.body.spec.externalTrafficPolicy, 'Cluster');
    assert.equal(cluster.body.spec.healthCheckNodePort, undefined);

    // The allocated port is taken, for health checks and for node ports alike.
    let r = await svc('hc-clash', lb({ healthCheckNodePort: hc }));
    assert.equal(r.status, 422);
    assert.equal(r.body.message, `Service "hc-clash" is invalid: spec.healthCheckNodePort: Invalid value: ${hc}: provided port is already allocated`);
    r = await svc('np-clash', { type: 'NodePort', ports: [{ port: 80, nodePort: hc }] });
    assert.equal(r.status, 422);
    assert.match(r.body.message, /spec\.ports\[0\]\.nodePort: Invalid value: \d+: provided port is already allocated/);
    r = await svc('hc-range', lb({ healthCheckNodePort: 8080 }));
    assert.equal(r.status, 422);
    assert.equal(r.body.message, 'Service "hc-range" is invalid: spec.healthCheckNodePort: Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767');
    r = await svc('hc-notlocal', { type: 'LoadBalancer', healthCheckNodePort: 31000, ports: [{ port: 80 }] });
    assert.equal(r.status, 422);
    assert.match(r.body.message, /spec\.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'/);
    assert.equal((await api.json('GET', `${base}/hc-clash`)).status, 404);

    // A port no Service holds now, chosen by the test: a user-given value is honoured.
    const used = new Set<number>();
    for (const s of (await api.json('GET', '/api/v1/services')).body.items) {
      for (const p of s.spec.ports ?? []) if (p.nodePort) used.add(p.nodePort);
      if (s.spec.healthCheckNodePort) used.add(s.spec.healthCheckNodePort);
    }
    let fixed = 31555;
    while (used.has(fixed)) fixed++;
    const pinned = await svc('hc-fixed', lb({ healthCheckNodePort: fixed }));
    assert.equal(pinned.status, 201, JSON.stringify(pinned.body));
    assert.equal(pinned.body.spec.healthCheckNodePort, fixed);

    // Kept across updates: a PUT that leaves it out keeps it; a change is refused.
    const put = structuredClone(pinned.body);
    delete put.spec.healthCheckNodePort;
    put.spec.ports[0].port = 81;
    r = await api.json('PUT', `${base}/hc-fixed`, put);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.spec.healthCheckNodePort, fixed);
    r = await patch('hc-fixed', { healthCheckNodePort: fixed === 32767 ? fixed - 1 : fixed + 1 });
    assert.equal(r.status, 422);
    assert.equal(r.body.message, 'Service "hc-fixed" is invalid: spec.healthCheckNodePort: Forbidden: field is immutable');

    // Released on delete: another Service can have it.
    assert.equal((await api.json('DELETE', `${base}/hc-fixed`)).status, 200);
    r = await svc('hc-reuse', lb({ healthCheckNodePort: fixed }));
    assert.equal(r.status, 201, JSON.stringify(r.body));

    // Released on a change of type to ClusterIP (the type's own fields go with it).
    r = await patch('hc-reuse', { type: 'ClusterIP' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.spec.healthCheckNodePort, undefined);
    assert.equal(r.body.spec.externalTrafficPolicy, undefined);
    assert.equal(r.body.spec.allocateLoadBalancerNodePorts, undefined);
    assert.equal(r.body.spec.ports[0].nodePort, undefined);
    r = await svc('hc-reuse2', lb({ healthCheckNodePort: fixed }));
    assert.equal(r.status, 201, JSON.stringify(r.body));

    // Released on a change of policy to Cluster; allocated again on the way back.
    r = await patch('hc-reuse2', { externalTrafficPolicy: 'Cluster' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.spec.healthCheckNodePort, undefined);
    r = await svc('np-reuse', { type: 'NodePort', ports: [{ port: 80, nodePort: fixed }] });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    r = await patch('hc-reuse2', { externalTrafficPolicy: 'Local' });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.ok(inRange(r.body.spec.healthCheckNodePort));
    assert.notEqual(r.body.spec.healthCheckNodePort, fixed);
  });
});

describe('discovery, OpenAPI and metrics', () => {
  it('answers aggregated discovery with its content type, and legacy documents', async () => {
    const agg = await api.request('GET', '/apis', undefined, { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json' });
    assert.equal(agg.headers['content-type'], 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    const body = JSON.parse(agg.body);
    const apps = body.items.find((g: any) => g.metadata.name === 'apps');
    const deploy = apps.versions[0].resources.find((r: any) => r.resource === 'deployments');
    assert.deepEqual(deploy.subresources.find((s: any) => s.subresource === 'scale').responseKind, { group: 'autoscaling', version: 'v1', kind: 'Scale' });
    const legacy = await api.json('GET', '/api/v1');
    assert.equal(legacy.body.kind, 'APIResourceList');
    assert.ok(legacy.body.resources.some((r: any) => r.name === 'pods/binding' && r.kind === 'Binding'));
    const again = await api.request('GET', '/api/v1', undefined, { 'if-none-match': (await api.request('GET', '/api/v1')).headers.etag as string });
    assert.equal(again.status, 304);
    // /openapi/v2 as upstream: JSON for application/json, an empty 406 for a type it cannot give
    const v2 = await api.request('GET', '/openapi/v2', undefined, { accept: 'application/json' });
    assert.equal(v2.status, 200);
    assert.equal(JSON.parse(v2.body).swagger, '2.0');
    assert.equal((await api.request('GET', '/openapi/v2', undefined, { accept: 'text/plain' })).status, 406);
    const root = await api.json('GET', '/openapi/v3');
    assert.match(root.body.paths['apis/apps/v1'].serverRelativeURL, /^\/openapi\/v3\/apis\/apps\/v1\?hash=[0-9A-F]+$/);
  });

  it('exposes request counts and latencies', async () => {
    const r = await api.request('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.body, /apiserver_request_total\{verb="LIST",group="",version="v1",resource="secrets",subresource="",scope="namespace",component="apiserver",code="200"\} \d+/);
    assert.match(r.body, /apiserver_request_duration_seconds_bucket\{verb="POST",.*le="\+Inf"\} \d+/);
  });
});

describe('events in two API shapes', () => {
  it('an events.k8s.io/v1 Event is a core/v1 Event and back', async () => {
    const created = await api.json('POST', '/apis/events.k8s.io/v1/namespaces/t/events', {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'sched.1' },
      eventTime: '2026-11-21T10:00:00.000000Z',
      reportingController: 'default-scheduler',
      reportingInstance: 'default-scheduler-node-1',
      action: 'Scheduling',
      reason: 'FailedScheduling',
      regarding: { kind: 'Pod', namespace: 't', name: 'p' },
      note: '0/3 nodes are available',
      type: 'Warning',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.apiVersion, 'events.k8s.io/v1');
    assert.equal(created.body.note, '0/3 nodes are available');
    const core = await api.json('GET', '/api/v1/namespaces/t/events/sched.1');
    assert.equal(core.body.apiVersion, 'v1');
    assert.equal(core.body.message, '0/3 nodes are available');
    assert.deepEqual(core.body.involvedObject, { kind: 'Pod', namespace: 't', name: 'p' });
    assert.equal(core.body.reportingComponent, 'default-scheduler');
    const list = await api.json('GET', '/apis/events.k8s.io/v1/namespaces/t/events?fieldSelector=regarding.name%3Dp');
    assert.deepEqual(list.body.items.map((e: any) => [e.kind, e.apiVersion, e.metadata.name, e.regarding.name]), [['Event', 'events.k8s.io/v1', 'sched.1', 'p']]);
    const coreList = await api.json('GET', '/api/v1/namespaces/t/events?fieldSelector=involvedObject.name%3Dp');
    assert.deepEqual(coreList.body.items.map((e: any) => e.metadata.name), ['sched.1']);
    const patched = await api.json('PATCH', '/apis/events.k8s.io/v1/namespaces/t/events/sched.1', { series: { count: 2, lastObservedTime: '2026-11-21T10:01:00.000000Z' } }, { 'content-type': 'application/merge-patch+json' });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.series.count, 2);
    assert.equal((await api.json('GET', '/api/v1/namespaces/t/events/sched.1')).body.series.count, 2);
  });
});

describe('eviction', () => {
  it('honours PodDisruptionBudgets: 429 while the budget forbids it, then evicts', async () => {
    await api.json('POST', '/api/v1/namespaces', { metadata: { name: 'ev' } });
    await api.json('POST', '/api/v1/namespaces/ev/serviceaccounts', { metadata: { name: 'default' } });
    const pod = await api.json('POST', '/api/v1/namespaces/ev/pods', { metadata: { name: 'db-0', labels: { app: 'db' } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    assert.equal(pod.status, 201);
    await api.json('POST', '/api/v1/namespaces/ev/pods/db-0/binding', { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'db-0' }, target: { kind: 'Node', name: 'n1' } });
    const running = await api.json('GET', '/api/v1/namespaces/ev/pods/db-0');
    running.body.status.phase = 'Running';
    assert.equal((await api.json('PUT', '/api/v1/namespaces/ev/pods/db-0/status', running.body)).status, 200);
    const pdb = await api.json('POST', '/apis/policy/v1/namespaces/ev/poddisruptionbudgets', { metadata: { name: 'db' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'db' } } } });
    assert.equal(pdb.status, 201, JSON.stringify(pdb.body));
    const evict = () => api.json('POST', '/api/v1/namespaces/ev/pods/db-0/eviction', { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: 'db-0', namespace: 'ev' } });
    let r = await evict();
    assert.equal(r.status, 429);
    assert.equal(r.body.reason, 'TooManyRequests');
    assert.equal(r.body.message, "Cannot evict pod as it would violate the pod's disruption budget.");
    assert.deepEqual(r.body.details.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget db is still being processed by the server.' }]);
    // The disruption controller's view: one healthy pod, none may go.
    const st = await api.json('GET', '/apis/policy/v1/namespaces/ev/poddisruptionbudgets/db');
    st.body.status = { observedGeneration: 1, disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 };
    assert.equal((await api.json('PUT', '/apis/policy/v1/namespaces/ev/poddisruptionbudgets/db/status', st.body)).status, 200);
    r = await evict();
    assert.equal(r.status, 429);
    assert.deepEqual(r.body.details.causes, [{ reason: 'DisruptionBudget', message: 'The disruption budget db needs 1 healthy pods and has 1 currently' }]);
    const st2 = await api.json('GET', '/apis/policy/v1/namespaces/ev/poddisruptionbudgets/db');
    st2.body.status = { ...st2.body.status, disruptionsAllowed: 1, currentHealthy: 2, expectedPods: 2 };
    await api.json('PUT', '/apis/policy/v1/namespaces/ev/poddisruptionbudgets/db/status', st2.body);
    r = await evict();
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.status, 'Success');
    const after = await api.json('GET', '/api/v1/namespaces/ev/pods/db-0');
    assert.ok(after.body.metadata.deletionTimestamp, 'the bound pod is deleted gracefully');
    const budget = await api.json('GET', '/apis/policy/v1/namespaces/ev/poddisruptionbudgets/db');
    assert.equal(budget.body.status.disruptionsAllowed, 0);
    assert.ok(budget.body.status.disruptedPods['db-0']);
  });
});
