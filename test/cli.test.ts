// The skiff command: clean shutdown on SIGTERM/SIGINT, and a second start on the same
// data dir finds everything it stored (objects, certificates, kubeconfig).

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnServer } from './harness.ts';
import { TestApiClient } from './api-client.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function exitOf(child: import('node:child_process').ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('skiff server', () => {
  it('stops cleanly on SIGTERM and SIGINT and restarts with its state', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'skiff-cli-'));
    dirs.push(dir);
    const dataDir = path.join(dir, 'data');
    const first = await spawnServer(dataDir);
    const ca = await readFile(path.join(dataDir, 'pki', 'ca.crt'), 'utf8');
    let client = new TestApiClient(first.kubeconfig);
    const created = await client.json('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'kept' }, data: { a: '1' } });
    assert.equal(created.status, 201);
    client.close();
    const exited = exitOf(first.child);
    first.child.kill('SIGTERM');
    assert.equal(await exited, 0);

    const second = await spawnServer(dataDir);
    assert.equal(second.kubeconfig, first.kubeconfig);
    assert.equal(await readFile(path.join(dataDir, 'pki', 'ca.crt'), 'utf8'), ca, 'the cluster CA is kept');
    client = new TestApiClient(second.kubeconfig);
    const got = await client.json('GET', '/api/v1/namespaces/default/configmaps/kept');
    assert.equal(got.status, 200);
    assert.deepEqual(got.body.data, { a: '1' });
    assert.equal(got.body.metadata.uid, created.body.metadata.uid);
    assert.equal(got.body.metadata.resourceVersion, created.body.metadata.resourceVersion);
    // Bootstrap objects are not duplicated or rewritten by a second start.
    const svcs = await client.json('GET', '/api/v1/namespaces/default/services');
    assert.deepEqual(svcs.body.items.map((s: any) => s.metadata.name), ['kubernetes']);
    client.close();
    const exited2 = exitOf(second.child);
    second.child.kill('SIGINT');
    assert.equal(await exited2, 0);
  });
});

describe('skiff server runs the controllers', () => {
  it('a new namespace gets its default ServiceAccount and kube-root-ca.crt; componentstatuses show the controller manager', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'skiff-cli-'));
    dirs.push(dir);
    const srv = await spawnServer(path.join(dir, 'data'));
    const client = new TestApiClient(srv.kubeconfig);
    try {
      assert.equal((await client.json('POST', '/api/v1/namespaces', { metadata: { name: 'fresh' } })).status, 201);
      const deadline = Date.now() + 15_000;
      let sa = 0;
      let cm = 0;
      let cs: any;
      while (Date.now() < deadline) {
        sa = (await client.json('GET', '/api/v1/namespaces/fresh/serviceaccounts/default')).status;
        cm = (await client.json('GET', '/api/v1/namespaces/fresh/configmaps/kube-root-ca.crt')).status;
        cs = (await client.json('GET', '/api/v1/componentstatuses/controller-manager')).body;
        if (sa === 200 && cm === 200 && cs.conditions?.[0]?.status === 'True') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(sa, 200);
      assert.equal(cm, 200);
      const ca = (await client.json('GET', '/api/v1/namespaces/fresh/configmaps/kube-root-ca.crt')).body.data['ca.crt'];
      assert.equal(ca, await readFile(path.join(dir, 'data', 'pki', 'ca.crt'), 'utf8'));
      assert.deepEqual(cs.conditions[0], { type: 'Healthy', status: 'True', message: 'ok' });
    } finally {
      client.close();
      const exited = exitOf(srv.child);
      srv.child.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
  });
});
