import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { DatabaseSync } from 'node:sqlite';
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

  it('opens a version 1 database: live keys by name, chains through re-creates, no index on kv(name)', async () => {
    // Rows as version 1 wrote them: an index on kv(name, id, deleted), and a create after a
    // delete with prev_revision 0.
    const path = join(dir, 'v1.db');
    const db = new DatabaseSync(path);
    db.exec(`
      PRAGMA journal_mode = WAL;
      CREATE TABLE kv (id INTEGER PRIMARY KEY, name TEXT NOT NULL, deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL, prev_revision INTEGER NOT NULL, value TEXT NOT NULL);
      CREATE INDEX kv_name_id ON kv (name, id, deleted);
      CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      INSERT INTO meta VALUES ('schema_version', 1);
      INSERT INTO kv VALUES (1, '/m/a', 0, 1, 0, 'one'), (2, '/m/a', 0, 1, 1, 'two'), (3, '/m/a', 1, 1, 2, ''),
        (4, '/m/a', 0, 4, 0, 'again'), (5, '/m/b', 0, 5, 0, 'b'), (6, '/m/c', 0, 6, 0, 'c'), (7, '/m/c', 1, 6, 6, '');
    `);
    db.close();

    const store = await openSqliteStore({ path });
    assert.equal(await store.currentRevision(), 7);
    const value = async (key: string, revision: number) => (await store.get(key, { revision })).kv?.value;
    assert.deepEqual([await value('/m/a', 2), await value('/m/a', 3), await value('/m/a', 4), await value('/m/c', 6), await value('/m/c', 7)], ['two', undefined, 'again', 'c', undefined]);
    assert.deepEqual((await store.range('/m/', { revision: 2 })).kvs.map((kv) => kv.value), ['two']);
    assert.deepEqual((await store.range('/m/')).kvs.map((kv) => `${kv.key}=${kv.value}@${kv.createRevision}/${kv.modRevision}`), ['/m/a=again@4/4', '/m/b=b@5/5']);
    const events: WatchEvent[] = [];
    const ac = new AbortController();
    await store.watch('/m/a', { afterRevision: 2, signal: ac.signal }, (batch) => events.push(...batch));
    await new Promise((resolve) => setImmediate(resolve));
    ac.abort();
    assert.deepEqual(events.map((e) => [e.type, e.kv.modRevision, e.prev?.value]), [['DELETE', 3, 'two'], ['PUT', 4, undefined]]);
    const updated = mustWrite(await store.update('/m/a', 'after', 4));
    assert.equal(updated.createRevision, 4);
    await store.compact(7);
    assert.deepEqual((await store.range('/m/')).kvs.map((kv) => kv.value), ['after', 'b']);
    await store.close();

    const check = new DatabaseSync(path, { readOnly: true });
    assert.equal(check.prepare(`SELECT value FROM meta WHERE name = 'schema_version'`).get()!.value, 2);
    assert.deepEqual(check.prepare(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'kv'`).all(), []);
    assert.deepEqual(check.prepare('SELECT name, id, deleted FROM live ORDER BY name').all().map((r) => ({ ...r })), [
      { name: '/m/a', id: 8, deleted: 0 },
      { name: '/m/b', id: 5, deleted: 0 },
    ]);
    check.close();
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
