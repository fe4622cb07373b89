// The default Store: SQLite through node:sqlite, kine-style (one row per revision).
//
// Layout. Every successful write inserts one row into `kv`; its rowid IS the global
// revision (assigned by us, one per write, strictly increasing). A delete inserts a
// tombstone row. The state of the store at revision R is, for every key, its row with
// the highest id <= R unless that row is a tombstone. `prev_revision` points at the
// key's row before this one (0 for the first write of a key; a create after a delete
// points at the tombstone), which gives watch replay its prev values with one rowid
// lookup and links each key's rows into a chain, newest to oldest.
//
// `live` holds each key's newest row (id, deleted, create_revision; a tombstone stays
// until compaction removes it): the current state by name, and where a read at an older
// revision starts walking the key's chain back. There is deliberately no index on
// kv(name): writes come to random keys (a thousand nodes renewing their leases), and
// an index by name over the whole history would dirty a page of its own for nearly
// every write in a batch, each one more page for COMMIT to append to the WAL. `live`
// is small (one row per key), so a batch dirties few of its pages.
//
// Concurrency. node:sqlite is synchronous and this process is the only writer, so a
// write transaction runs start to finish inside one synchronous call: a read can never
// observe a half-applied transaction, and the in-memory revision counter always equals
// the last committed revision. One process owns the database file; a second process
// writing to it would break the revision sequence (readers such as a snapshot are fine).
//
// Group commit. Writes are queued and flushed from setImmediate, so every write issued
// in the same event-loop turn (e.g. 100 concurrent HTTP requests) shares one
// BEGIN IMMEDIATE..COMMIT. Guards are still evaluated one op at a time, in the order
// the calls were made, each seeing the effect of the ops before it; each op gets its
// own revision and its own result.
//
// Durability. WAL with synchronous=NORMAL: COMMIT appends the transaction's pages to
// the -wal file with write(2) but does not fsync. Once write(2) returns, the pages are
// in the kernel's page cache, which survives the death of this process (kill -9, OOM,
// crash) and is flushed by the kernel later; only a kernel crash or power loss can lose
// the last commits. That is the guarantee the design asks for ("acknowledged writes
// survive kill -9 of the whole process"); sqlite.test.ts checks it with a real SIGKILL.
//
// Watch delivery. Watchers are an in-process fan-out. After a transaction commits, its
// events are handed to the callbacks of every matching watcher synchronously, BEFORE
// the write promises of that transaction are resolved: when `await store.create()`
// returns, every watcher (whose replay is done) has already received the event.
// Callbacks never run inside the call to a store method itself: commits run from
// setImmediate, and the replay of a new watch is delivered from a microtask after
// watch() has returned. The Store contract does not promise this ordering (etcd will
// not), so code that must work on every Store should not depend on it.

import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  CompactedError,
  FutureRevisionError,
  type DeleteResult,
  type KeyValue,
  type RangeOptions,
  type RangeResult,
  type Store,
  type WatchEvent,
  type WatchOptions,
  type WriteResult,
} from './store.ts';

const SCHEMA_VERSION = 2;

/** Ops per write transaction; a bigger queue is committed in several transactions. */
const MAX_BATCH = 1000;

/** Revisions compacted per transaction, so a large compaction never blocks the loop long. */
const COMPACT_CHUNK = 10_000;

/** Events per callback call during a watch replay. */
const REPLAY_CHUNK = 1000;

/**
 * Connection settings shared with the raw baseline (sqlite-baseline.ts), so that the
 * benchmark compares against the same durability level.
 */
export function applyPragmas(db: DatabaseSync): void {
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = NORMAL;
    PRAGMA temp_store = MEMORY;
    PRAGMA cache_size = -32768;
    PRAGMA journal_size_limit = 67108864;
  `);
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS kv (
    id              INTEGER PRIMARY KEY,  -- the revision of this write
    name            TEXT    NOT NULL,     -- the key
    deleted         INTEGER NOT NULL,     -- 1 for a delete tombstone
    create_revision INTEGER NOT NULL,     -- revision that created this incarnation of the key
    prev_revision   INTEGER NOT NULL,     -- id of the key's row before this one; 0 for its first
    value           TEXT    NOT NULL      -- '' for a tombstone
  );
  -- Each key's newest row: gets, ranges and the guards of writes read it by name.
  CREATE TABLE IF NOT EXISTS live (
    name            TEXT    PRIMARY KEY,
    id              INTEGER NOT NULL,
    deleted         INTEGER NOT NULL,
    create_revision INTEGER NOT NULL
  ) WITHOUT ROWID;
  -- The tombstones among them, for compaction to find without a scan.
  CREATE INDEX IF NOT EXISTS live_tombstones ON live (id) WHERE deleted = 1;
  CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  ) WITHOUT ROWID;
`;

/**
 * Version 1 kept an index on kv(name, id, deleted) instead of the live table, and a create
 * after a delete had prev_revision 0. Builds `live` from that index, links every such
 * create to the key's row before it (its tombstone, unless compacted), then drops the
 * index: one transaction, so a crash leaves version 1 as it was.
 */
function migrateFromV1(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(`
      INSERT INTO live (name, id, deleted, create_revision)
        SELECT name, id, deleted, create_revision FROM kv AS k
         WHERE id = (SELECT MAX(id) FROM kv WHERE name = k.name);
      UPDATE kv SET prev_revision = (SELECT MAX(p.id) FROM kv AS p WHERE p.name = kv.name AND p.id < kv.id)
       WHERE prev_revision = 0 AND create_revision = id
         AND EXISTS (SELECT 1 FROM kv AS p WHERE p.name = kv.name AND p.id < kv.id);
      DROP INDEX IF EXISTS kv_name_id;
      UPDATE meta SET value = 2 WHERE name = 'schema_version';
    `);
    db.exec('COMMIT');
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

export async function openSqliteStore(opts: { path: string }): Promise<Store> {
  if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
  // timeout: wait for a lock held by another connection (e.g. an online snapshot)
  // instead of failing at once with SQLITE_BUSY.
  const db = new DatabaseSync(opts.path, { timeout: 5000 });
  try {
    applyPragmas(db);
    db.exec(SCHEMA);
    const version = db.prepare(`SELECT value FROM meta WHERE name = 'schema_version'`).get();
    if (version === undefined) {
      db.prepare(`INSERT INTO meta (name, value) VALUES ('schema_version', ?)`).run(SCHEMA_VERSION);
    } else if (version.value === 1) {
      migrateFromV1(db);
    } else if (version.value !== SCHEMA_VERSION) {
      throw new Error(`${opts.path}: unsupported schema version ${version.value} (this build reads ${SCHEMA_VERSION})`);
    }
  } catch (err) {
    db.close();
    throw err;
  }
  return new SqliteStore(db);
}

type WriteOp =
  | { kind: 'create'; key: string; value: string; done: Settle<WriteResult> }
  | { kind: 'update'; key: string; value: string; expected: number; done: Settle<WriteResult> }
  | { kind: 'delete'; key: string; expected: number | undefined; done: Settle<DeleteResult> };

interface Settle<T> {
  resolve(result: T): void;
  reject(err: unknown): void;
}

interface Applied {
  result: WriteResult | DeleteResult;
  event?: WatchEvent;
}

interface LatestRow {
  id: number;
  deleted: number;
  create_revision: number;
  value: string;
}

interface ReplayRow {
  id: number;
  name: string;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  value: string;
  prev_value: string | null;
}

class SqliteStore implements Store {
  #db: DatabaseSync;
  /** Last committed revision. Only changed inside #commit. */
  #rev: number;
  #compacted: number;
  #closed = false;
  #closing = false;

  #queue: WriteOp[] = [];
  #flushScheduled = false;
  #watchers = new Set<Watcher>();
  #statements = new Map<string, StatementSync>();

  #latest: StatementSync;
  #insert: StatementSync;
  #setLive: StatementSync;
  /** Prepared once: a write batch's BEGIN and COMMIT are not parsed again for every batch. */
  #begin: StatementSync;
  #commitStmt: StatementSync;
  #row: StatementSync;
  #link: StatementSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
    this.#latest = db.prepare(
      'SELECT l.id, l.deleted, l.create_revision, k.value FROM live AS l JOIN kv AS k ON k.id = l.id WHERE l.name = ?',
    );
    this.#begin = db.prepare('BEGIN IMMEDIATE');
    this.#commitStmt = db.prepare('COMMIT');
    this.#insert = db.prepare(
      'INSERT INTO kv (id, name, deleted, create_revision, prev_revision, value) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.#setLive = db.prepare(
      `INSERT INTO live (name, id, deleted, create_revision) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET id = excluded.id, deleted = excluded.deleted, create_revision = excluded.create_revision`,
    );
    this.#row = db.prepare('SELECT id, deleted, create_revision, value FROM kv WHERE id = ?');
    this.#link = db.prepare('SELECT prev_revision, deleted FROM kv WHERE id = ?');
    this.#compacted = readMeta(db, 'compact_revision');
    const maxId = (db.prepare('SELECT MAX(id) AS id FROM kv').get()?.id as number | null) ?? 0;
    // Compaction may have removed the newest row (a tombstone at the compact
    // revision), but never a row above the compact revision, so this is exactly the
    // last revision ever handed out: revisions are never reused across restarts.
    this.#rev = Math.max(maxId, this.#compacted);
  }

  // ---- reads -------------------------------------------------------------------------

  async get(key: string, opts?: { revision?: number }): Promise<{ kv?: KeyValue; revision: number }> {
    this.#checkOpen();
    const revision = this.#readRevision(opts?.revision);
    const live = this.#latest.get(key) as LatestRow | undefined;
    if (live === undefined) return { revision };
    if (live.id <= revision) return live.deleted ? { revision } : { kv: rowToKv(key, live), revision };
    const id = this.#stateAt(live.id, revision);
    return id === 0 ? { revision } : { kv: rowToKv(key, this.#row.get(id) as unknown as LatestRow), revision };
  }

  /**
   * The id of a key's row at `revision`, walking its chain back from row `id` (a newer
   * one) to the first row at or below `revision`; 0 when the key did not exist then: its
   * chain starts later, that row is a tombstone, or it was compacted away (then it was a
   * tombstone: compaction keeps every key's latest live row at or below the compacted
   * revision and every row above it, and reads below it are refused).
   */
  #stateAt(id: number, revision: number): number {
    for (;;) {
      const row = this.#link.get(id) as { prev_revision: number; deleted: number } | undefined;
      if (row === undefined) return 0;
      if (id <= revision) return row.deleted ? 0 : id;
      if (row.prev_revision === 0) return 0;
      id = row.prev_revision;
    }
  }

  async range(prefix: string, opts: RangeOptions = {}): Promise<RangeResult> {
    this.#checkOpen();
    const revision = this.#readRevision(opts.revision);
    const limit = opts.limit ?? 0;
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`invalid limit ${limit}`);
    const end = prefixEnd(prefix);
    const start = opts.startKey !== undefined && opts.startKey > prefix ? opts.startKey : prefix;
    if (end !== undefined && start >= end) return { kvs: [], more: false, remaining: 0, revision };

    const bounds = end === undefined ? [start] : [start, end];
    const upper = end === undefined ? '' : 'AND l.name < ?';
    let kvs: KeyValue[];
    let remaining = 0;
    if (revision === this.#rev) {
      // The current state: live rows in key order, each joined to its row by rowid. Rows
      // come out sorted, so LIMIT stops early: a page of 500 out of 5,000 keys reads ~500.
      const page = this.#stmt(
        `SELECT l.name, l.id, l.create_revision, k.value FROM live AS l JOIN kv AS k ON k.id = l.id
          WHERE l.name >= ? ${upper} AND l.deleted = 0 ORDER BY l.name LIMIT ?`,
      );
      const rows = page.all(...bounds, limit === 0 ? -1 : limit) as unknown as { name: string; id: number; create_revision: number; value: string }[];
      kvs = rows.map((r) => rowToKv(r.name, r));
      if (limit !== 0 && kvs.length === limit) {
        const count = this.#stmt(`SELECT COUNT(*) AS n FROM live AS l WHERE l.name >= ? ${upper} AND l.deleted = 0`);
        remaining = (count.get(...bounds)!.n as number) - kvs.length;
      }
    } else {
      // An older revision: every key there was then is still in `live` (a key deleted
      // since keeps its tombstone until compaction passes it, and reads below the
      // compacted revision are refused). A key unchanged since is read as it is; one
      // written since is followed back along its chain (#stateAt).
      const keys = this.#stmt(`SELECT l.name, l.id, l.deleted FROM live AS l WHERE l.name >= ? ${upper} ORDER BY l.name`);
      kvs = [];
      let after: string | undefined;
      for (const k of keys.iterate(...bounds) as Iterable<{ name: string; id: number; deleted: number }>) {
        if (limit !== 0 && kvs.length === limit) {
          after = k.name;
          break;
        }
        const id = k.id <= revision ? (k.deleted ? 0 : k.id) : this.#stateAt(k.id, revision);
        if (id === 0) continue;
        kvs.push(rowToKv(k.name, this.#row.get(id) as unknown as LatestRow));
      }
      if (after !== undefined) {
        // What is left, counted in SQLite for keys unchanged since and keys written once
        // since (their previous row is the one at `revision`), one by one for the rest.
        const rest = end === undefined ? [after] : [after, end];
        const unchanged = this.#stmt(`SELECT COUNT(*) AS n FROM live AS l WHERE l.name >= ? ${upper} AND l.id <= ? AND l.deleted = 0`);
        remaining = unchanged.get(...rest, revision)!.n as number;
        const once = this.#stmt(
          `SELECT COUNT(*) AS n FROM live AS l JOIN kv AS k ON k.id = l.id JOIN kv AS p ON p.id = k.prev_revision
            WHERE l.name >= ? ${upper} AND l.id > ? AND k.prev_revision > 0 AND k.prev_revision <= ? AND p.deleted = 0`,
        );
        remaining += once.get(...rest, revision, revision)!.n as number;
        const more = this.#stmt(
          `SELECT k.prev_revision AS id FROM live AS l JOIN kv AS k ON k.id = l.id WHERE l.name >= ? ${upper} AND l.id > ? AND k.prev_revision > ?`,
        );
        for (const k of more.iterate(...rest, revision, revision) as Iterable<{ id: number }>) if (this.#stateAt(k.id, revision) !== 0) remaining++;
      }
    }
    return { kvs, more: remaining > 0, remaining, revision };
  }

  async currentRevision(): Promise<number> {
    this.#checkOpen();
    return this.#rev;
  }

  async compactedRevision(): Promise<number> {
    this.#checkOpen();
    return this.#compacted;
  }

  // ---- writes ------------------------------------------------------------------------

  create(key: string, value: string): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      this.#enqueue({ kind: 'create', key, value, done: { resolve, reject } }, key, value);
    });
  }

  update(key: string, value: string, expectedModRevision: number): Promise<WriteResult> {
    return new Promise((resolve, reject) => {
      this.#enqueue({ kind: 'update', key, value, expected: expectedModRevision, done: { resolve, reject } }, key, value);
    });
  }

  delete(key: string, expectedModRevision?: number): Promise<DeleteResult> {
    return new Promise((resolve, reject) => {
      this.#enqueue({ kind: 'delete', key, expected: expectedModRevision, done: { resolve, reject } }, key, '');
    });
  }

  #enqueue(op: WriteOp, key: string, value: string): void {
    if (this.#closed || this.#closing) {
      op.done.reject(closedError());
      return;
    }
    if (typeof key !== 'string' || key === '') {
      op.done.reject(new TypeError('key must be a non-empty string'));
      return;
    }
    if (typeof value !== 'string') {
      op.done.reject(new TypeError('value must be a string'));
      return;
    }
    this.#queue.push(op);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    while (this.#queue.length > 0 && !this.#closed) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      this.#commit(batch);
    }
  }

  /** Runs `batch` in one transaction, then publishes its events, then settles its promises. */
  #commit(batch: WriteOp[]): void {
    const startRev = this.#rev;
    let applied: Applied[];
    try {
      this.#begin.run();
      try {
        applied = batch.map((op) => this.#apply(op));
        this.#commitStmt.run();
      } catch (err) {
        this.#rev = startRev;
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw err;
      }
    } catch (err) {
      // Infrastructure failure (I/O error, disk full, ...). Nothing was written. Retry
      // the ops one transaction each so that one op that cannot be written does not
      // take the others down with it; a lone op reports the error.
      if (batch.length === 1) batch[0].done.reject(err);
      else for (const op of batch) this.#commit([op]);
      return;
    }

    const events: WatchEvent[] = [];
    for (const a of applied) if (a.event !== undefined) events.push(a.event);
    if (events.length > 0) this.#publish(events);
    for (let i = 0; i < batch.length; i++) {
      (batch[i].done as Settle<WriteResult | DeleteResult>).resolve(applied[i].result);
    }
  }

  /** Evaluates one op's guard and writes its row. Runs inside the open transaction. */
  #apply(op: WriteOp): Applied {
    const row = this.#latest.get(op.key) as LatestRow | undefined;
    const current = row === undefined || row.deleted ? undefined : rowToKv(op.key, row);
    switch (op.kind) {
      case 'create': {
        if (current !== undefined) return { result: { ok: false, revision: this.#rev, current } };
        const rev = ++this.#rev;
        // After a delete, the chain goes on through the tombstone.
        this.#insert.run(rev, op.key, 0, rev, row === undefined ? 0 : row.id, op.value);
        this.#setLive.run(op.key, rev, 0, rev);
        const kv = { key: op.key, value: op.value, createRevision: rev, modRevision: rev };
        return { result: { ok: true, revision: rev, kv }, event: { type: 'PUT', kv } };
      }
      case 'update': {
        if (current === undefined || current.modRevision !== op.expected) {
          return { result: { ok: false, revision: this.#rev, current } };
        }
        const rev = ++this.#rev;
        this.#insert.run(rev, op.key, 0, current.createRevision, current.modRevision, op.value);
        this.#setLive.run(op.key, rev, 0, current.createRevision);
        const kv = { key: op.key, value: op.value, createRevision: current.createRevision, modRevision: rev };
        return { result: { ok: true, revision: rev, kv }, event: { type: 'PUT', kv, prev: current } };
      }
      case 'delete': {
        if (current === undefined || (op.expected !== undefined && current.modRevision !== op.expected)) {
          return { result: { ok: false, revision: this.#rev, current } };
        }
        const rev = ++this.#rev;
        this.#insert.run(rev, op.key, 1, current.createRevision, current.modRevision, '');
        this.#setLive.run(op.key, rev, 1, current.createRevision);
        const kv = { key: op.key, value: '', createRevision: 0, modRevision: rev };
        return { result: { ok: true, revision: rev, prev: current }, event: { type: 'DELETE', kv, prev: current } };
      }
    }
  }

  // ---- compaction ---------------------------------------------------------------------

  async compact(revision: number): Promise<void> {
    this.#checkOpen();
    if (!Number.isInteger(revision) || revision < 0) throw new RangeError(`invalid revision ${revision}`);
    if (revision > this.#rev) throw new FutureRevisionError(revision, this.#rev);
    // Compacting to a revision at or below the compacted one is a no-op (idempotent).
    //
    // Each chunk (old, next] deletes (a) every row superseded by a write in (old, next]
    // -- found through prev_revision, so it is a rowid-range scan, not a GROUP BY over
    // the whole table -- and (b) every tombstone in (old, next]. Because earlier
    // compactions did the same for everything <= old, after the chunk exactly the rows
    // that are no key's latest live row at `next` are gone from ids <= next. Rows above
    // `next` are untouched, so every read at >= next and the prev value of every event
    // after `next` are still served. Chunks may interleave with writes and with other
    // compact() calls: each reads #compacted afresh.
    const deleteSuperseded = this.#stmt(
      `DELETE FROM kv WHERE id IN (SELECT prev_revision FROM kv WHERE id > ? AND id <= ? AND prev_revision > 0)`,
    );
    const deleteTombstones = this.#stmt(`DELETE FROM kv WHERE id > ? AND id <= ? AND deleted = 1`);
    // A key whose newest row is such a tombstone is gone for good.
    const forgetDeleted = this.#stmt(`DELETE FROM live WHERE deleted = 1 AND id > ? AND id <= ?`);
    const recordCompacted = this.#stmt(
      `INSERT INTO meta (name, value) VALUES ('compact_revision', ?)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
    );
    while (this.#compacted < revision) {
      this.#checkOpen();
      const old = this.#compacted;
      const next = Math.min(revision, old + COMPACT_CHUNK);
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        deleteSuperseded.run(old, next);
        deleteTombstones.run(old, next);
        forgetDeleted.run(old, next);
        recordCompacted.run(next);
        this.#db.exec('COMMIT');
      } catch (err) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw err;
      }
      this.#compacted = next;
      if (next < revision) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  // ---- watch --------------------------------------------------------------------------

  async watch(prefix: string, opts: WatchOptions, onEvents: (events: WatchEvent[]) => void): Promise<void> {
    this.#checkOpen();
    const after = opts.afterRevision;
    if (!Number.isInteger(after) || after < 0) throw new RangeError(`invalid afterRevision ${after}`);
    if (after > this.#rev) throw new FutureRevisionError(after, this.#rev);
    // Events after a compacted revision are still all present (see compact), so
    // afterRevision == compacted is fine; anything older may have lost rows.
    if (after !== 0 && after < this.#compacted) throw new CompactedError(after, this.#compacted);
    if (opts.signal.aborted) return;

    const watcher = new Watcher(prefix, onEvents);
    // No await between the history query and joining #watchers: commits happen only
    // in #flush, which cannot run in between, so the replay ends exactly where live
    // delivery starts -- no gap, no duplicate.
    if (after !== 0 && after < this.#rev) {
      const end = prefixEnd(prefix);
      // `+k.name` keeps SQLite off the name index: scanning rowids > after is
      // proportional to the history being replayed, not to the size of the prefix.
      const history = this.#stmt(
        `SELECT k.id, k.name, k.deleted, k.create_revision, k.prev_revision, k.value, p.value AS prev_value
           FROM kv AS k LEFT JOIN kv AS p ON p.id = k.prev_revision
          WHERE k.id > ? AND +k.name >= ? ${end === undefined ? '' : 'AND +k.name < ?'}
          ORDER BY k.id`,
      );
      let chunk: WatchEvent[] = [];
      for (const row of history.iterate(after, prefix, ...(end === undefined ? [] : [end]))) {
        chunk.push(replayEvent(row as unknown as ReplayRow));
        if (chunk.length === REPLAY_CHUNK) {
          watcher.push(chunk);
          chunk = [];
        }
      }
      if (chunk.length > 0) watcher.push(chunk);
    }
    this.#watchers.add(watcher);
    const stop = () => {
      watcher.stop();
      this.#watchers.delete(watcher);
    };
    opts.signal.addEventListener('abort', stop, { once: true });
    watcher.detach = () => opts.signal.removeEventListener('abort', stop);
    if (watcher.hasPending()) queueMicrotask(() => watcher.drain());
  }

  #publish(events: WatchEvent[]): void {
    for (const watcher of this.#watchers) {
      const matching = events.filter((e) => e.kv.key.startsWith(watcher.prefix));
      if (matching.length === 0) continue;
      watcher.push(matching);
      watcher.drain();
    }
  }

  // ---- lifecycle ----------------------------------------------------------------------

  /** Lets writes already issued commit, stops every watcher, closes the database. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    while (this.#queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
    this.#closed = true;
    for (const watcher of this.#watchers) {
      watcher.stop();
      watcher.detach();
    }
    this.#watchers.clear();
    this.#db.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError();
  }

  /** Validates a requested read revision; 0 or absent means the current revision. */
  #readRevision(requested: number | undefined): number {
    if (requested === undefined || requested === 0) return this.#rev;
    if (!Number.isInteger(requested) || requested < 0) throw new RangeError(`invalid revision ${requested}`);
    if (requested > this.#rev) throw new FutureRevisionError(requested, this.#rev);
    if (requested < this.#compacted) throw new CompactedError(requested, this.#compacted);
    return requested;
  }

  /** Prepared statements for SQL built at run time (with or without an upper bound), cached. */
  #stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }
}

/**
 * One watch: a FIFO of event batches and the callback. Batches are pushed in revision
 * order (replay first, then live), so draining the FIFO preserves order whoever drains.
 */
class Watcher {
  readonly prefix: string;
  #onEvents: (events: WatchEvent[]) => void;
  #pending: WatchEvent[][] = [];
  #draining = false;
  #stopped = false;
  detach: () => void = () => {};

  constructor(prefix: string, onEvents: (events: WatchEvent[]) => void) {
    this.prefix = prefix;
    this.#onEvents = onEvents;
  }

  push(events: WatchEvent[]): void {
    if (!this.#stopped) this.#pending.push(events);
  }

  hasPending(): boolean {
    return this.#pending.length > 0;
  }

  stop(): void {
    this.#stopped = true;
    this.#pending = [];
  }

  drain(): void {
    // A callback that causes a commit (e.g. close() flushing queued writes) re-enters
    // here; the outer loop delivers what it pushed, in order.
    if (this.#draining) return;
    this.#draining = true;
    try {
      while (!this.#stopped && this.#pending.length > 0) {
        const events = this.#pending.shift()!;
        try {
          this.#onEvents(events);
        } catch (err) {
          // A broken consumer must not break the store or the other watchers; it keeps
          // getting events (it may be able to recover) and the failure is made visible.
          process.emitWarning(`watch callback for prefix ${JSON.stringify(this.prefix)} threw: ${String(err)}`, {
            code: 'SKIFF_WATCH_CALLBACK',
          });
        }
      }
    } finally {
      this.#draining = false;
    }
  }
}

function rowToKv(key: string, row: Pick<LatestRow, 'id' | 'create_revision' | 'value'>): KeyValue {
  return { key, value: row.value, createRevision: row.create_revision, modRevision: row.id };
}

function replayEvent(row: ReplayRow): WatchEvent {
  const prev: KeyValue | undefined =
    row.prev_revision === 0 || row.create_revision === row.id || row.prev_value === null
      ? undefined
      : { key: row.name, value: row.prev_value, createRevision: row.create_revision, modRevision: row.prev_revision };
  if (row.deleted) {
    return { type: 'DELETE', kv: { key: row.name, value: '', createRevision: 0, modRevision: row.id }, prev };
  }
  const kv = { key: row.name, value: row.value, createRevision: row.create_revision, modRevision: row.id };
  return prev === undefined ? { type: 'PUT', kv } : { type: 'PUT', kv, prev };
}

function readMeta(db: DatabaseSync, name: string): number {
  const row = db.prepare('SELECT value FROM meta WHERE name = ?').get(name);
  return row === undefined ? 0 : (row.value as number);
}

/**
 * The smallest string greater than every string that starts with `prefix`, in SQLite's
 * BINARY (UTF-8 byte) order, which is code point order: bump the last code point that
 * can be bumped. undefined when there is none (the empty prefix): no upper bound.
 * An index range [prefix, prefixEnd) is what replaces a LIKE scan.
 */
export function prefixEnd(prefix: string): string | undefined {
  const codePoints = Array.from(prefix);
  while (codePoints.length > 0) {
    const last = codePoints.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Surrogate code points are not valid in UTF-8; the next valid one is U+E000.
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      codePoints.push(String.fromCodePoint(next));
      return codePoints.join('');
    }
  }
  return undefined;
}

function closedError(): Error {
  return new Error('storage: the sqlite store is closed');
}
