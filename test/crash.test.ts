// Durability: every write the apiserver acknowledged survives kill -9 of the whole
// process, and a watch from a resourceVersion before the crash resumes or gets 410.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnServer } from './harness.ts';
import { TestApiClient } from './api-client.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('kill -9 durability', () => {
  it('keeps every acknowledged write and answers old watches with data or 410', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'skiff-crash-'));
    dirs.push(dir);
    const dataDir = path.join(dir, 'data');
    const first = await spawnServer(dataDir);
    const client = new TestApiClient(first.kubeconfig);
    const acked = new Map<string, string>(); // name -> resourceVersion
    let startRV = '';
    try {
      const ns = await client.json('POST', '/api/v1/namespaces', { metadata: { name: 'crash' } });
      assert.equal(ns.status, 201);
      startRV = ns.body.metadata.resourceVersion;
      // 8 writers stream creates and updates until the process dies under them.
      let stop = false;
      let n = 0;
      const writer = async () => {
        while (!stop) {
          const name = `cm-${n++}`;
          try {
            const r = await client.json('POST', '/api/v1/namespaces/crash/configmaps', { metadata: { name }, data: { v: '1' } });
            if (r.status === 201) acked.set(name, r.body.metadata.resourceVersion);
            if (r.status === 201 && n % 3 === 0) {
              const u = await client.json('PUT', `/api/v1/namespaces/crash/configmaps/${name}`, { ...r.body, data: { v: '2' } });
              if (u.status === 200) acked.set(name, u.body.metadata.resourceVersion);
            }
          } catch {
            return; // connection died with the server: this write was not acknowledged
          }
        }
      };
      const writers = Array.from({ length: 8 }, writer);
      while (acked.size < 300) await new Promise((r) => setTimeout(r, 20));
      first.child.kill('SIGKILL');
      stop = true;
      await Promise.all(writers);
    } finally {
      client.close();
      first.child.kill('SIGKILL');
    }
    assert.ok(acked.size >= 300);

    const second = await spawnServer(dataDir);
    const c2 = new TestApiClient(second.kubeconfig);
    try {
      const list = await c2.json('GET', '/api/v1/namespaces/crash/configmaps');
      assert.equal(list.status, 200);
      const found = new Map<string, any>(list.body.items.map((i: any) => [i.metadata.name, i]));
      for (const [name, rv] of acked) {
        const obj = found.get(name);
        assert.ok(obj, `acknowledged ${name} lost`);
        // The stored version is the acknowledged one or newer (a later unacknowledged update may have landed).
        assert.ok(Number(obj.metadata.resourceVersion) >= Number(rv), `${name}: ${obj.metadata.resourceVersion} < ${rv}`);
      }
      // A watch from before the crash either replays history or says 410 Gone (Expired).
      const w = await c2.watch(`/api/v1/namespaces/crash/configmaps?watch=true&resourceVersion=${startRV}`, (ev) => ev.length > 0, 3000);
      assert.equal(w.status, 200);
      assert.ok(w.events.length > 0);
      const firstEvent = w.events[0];
      if (firstEvent.type === 'ERROR') {
        assert.equal(firstEvent.object.code, 410);
        assert.equal(firstEvent.object.reason, 'Expired');
        assert.match(firstEvent.object.message, /^too old resource version: \d+ \(\d+\)$/);
      } else {
        assert.equal(firstEvent.type, 'ADDED');
      }
    } finally {
      c2.close();
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
  });
});
