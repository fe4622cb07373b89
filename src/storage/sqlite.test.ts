import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { runStoreConformance } from './conformance.ts';
import { openSqliteStore, prefixEnd } from './sqlite.ts';
import type { KeyValue, WatchEvent, WriteResult } from './store.ts';

runStoreConformance('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-sqlite-'));
  const store = await openSqliteStore({ path: join(dir, 'state.db') });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describe('sqlite store', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'skiff-sqlite-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reopening finds the data, the revision and the compaction state', async () => {
    const path = join(dir, 'reopen.db');
    let store = await openSqliteStore({ path });
    const a1 = mustWrite(await store.create('/r/a', 'a1'));
    const a2 = mustWrite(await store.update('/r/a', 'a2', a1.modRevision));
    mustWrite(await store.create('/r/b', 'b1'));
    const deleted = await store.delete('/r/b');
    assert.ok(deleted.ok);
    // Compacting through the delete removes the newest row (the tombstone) from disk.
    await store.compact(deleted.revision);
    await store.close();

    store = await openSqliteStore({ path });
    assert.equal(await store.currentRevision(), deleted.revision);
    assert.equal(await store.compactedRevision(), deleted.revision);
    assert.deepEqual((await store.range('/r/')).kvs, [a2]);
    await assert.rejects(store.get('/r/a', { revision: a1.modRevision }), { name: 'CompactedError' });
    // Revisions are never handed out twice, even though the newest row is gone.
    const c = mustWrite(await store.create('/r/c', 'c1'));
    assert.equal(c.modRevision, deleted.revision + 1);
    await store.close();
  });

  it('applies writes issued together in call order, each guard seeing the writes before it', async () => {
    const store = await openSqliteStore({ path: join(dir, 'order.db') });
    const base = await store.currentRevision();
    const [created, updated, deleted, recreated, duplicate] = await Promise.all([
      store.create('/o/k', 'a'),
      store.update('/o/k', 'b', base + 1),
      store.delete('/o/k', base + 2),
      store.create('/o/k', 'c'),
      store.create('/o/k', 'd'),
    ]);
    assert.deepEqual(
      [created, updated, deleted, recreated].map((r) => r.ok && r.revision),
      [base + 1, base + 2, base + 3, base + 4],
    );
    assert.equal(duplicate.ok, false);
    assert.equal(duplicate.ok ? undefined : duplicate.current?.value, 'c');
    await store.close();
  });

  it('has delivered a write to every watcher by the time the write resolves', async () => {
    const store = await openSqliteStore({ path: join(dir, 'sync.db') });
    const controller = new AbortController();
    const seen: WatchEvent[] = [];
    await store.watch('/s/', { afterRevision: 0, signal: controller.signal }, (events) => seen.push(...events));
    for (let i = 0; i < 20; i++) {
      const result = mustWrite(await store.create(`/s/${i}`, 'v'));
      assert.equal(seen.at(-1)?.kv.modRevision, result.modRevision);
    }
    controller.abort();
    await store.close();
  });

  it('matches prefixes byte-wise, including keys with non-ASCII characters', async () => {
    assert.equal(prefixEnd('/a/'), '/a0');
    assert.equal(prefixEnd(''), undefined);
    assert.equal(prefixEnd('a\u{10ffff}'), 'b');
    assert.equal(prefixEnd('\ud7ff'), '\ue000');
    const store = await openSqliteStore({ path: join(dir, 'unicode.db') });
    for (const key of ['/u/a', '/u/é', '/u/😀', '/u/\u{10ffff}x', '/u0', '/v/😀']) mustWrite(await store.create(key, 'v'));
    assert.deepEqual(
      (await store.range('/u/')).kvs.map((kv) => kv.key),
      ['/u/a', '/u/é', '/u/😀', '/u/\u{10ffff}x'],
    );
    assert.equal((await store.range('')).kvs.length, 6);
    await store.close();
  });

  it('keeps every acknowledged write across kill -9', async () => {
    const path = join(dir, 'crash.db');
    const fixture = new URL('./crash-writer.fixture.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, [fixture, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );

    const acks = new Map<string, number>();
    for await (const line of createInterface({ input: child.stdout })) {
      const [word, key, revision] = line.split(' ');
      if (word !== 'ack') continue;
      acks.set(key, Number(revision));
      // Kill in the middle of the write loop, without warning, after a few hundred acks.
      if (acks.size === 600) child.kill('SIGKILL');
    }
    const { signal } = await exited;
    assert.equal(signal, 'SIGKILL', `the writer died on its own: ${stderr}`);
    assert.ok(acks.size >= 600);

    const store = await openSqliteStore({ path });
    const maxAcked = Math.max(...acks.values());
    assert.ok((await store.currentRevision()) >= maxAcked);
    const stored = new Map((await store.range('/registry/configmaps/crash/')).kvs.map((kv) => [kv.key, kv.modRevision]));
    const lost = [...acks].filter(([key, revision]) => stored.get(key) !== revision);
    assert.deepEqual(lost, [], 'acknowledged writes missing after kill -9');
    await store.close();
  });
});

function mustWrite(result: WriteResult): KeyValue {
  assert.ok(result.ok, `write failed: ${JSON.stringify(result)}`);
  return result.kv;
}
