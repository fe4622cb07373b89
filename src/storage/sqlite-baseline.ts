// The honest baseline for "one write per request": plain node:sqlite, one prepared
// INSERT per row, each its own (autocommit) transaction, with the store's pragmas
// (WAL, synchronous=NORMAL) so both sides pay the same durability cost. Benchmarks
// report the store's creates/s as a ratio against this number measured in the same run.
//
// The table is a plain key/value log -- rowid, key, value and an index on (key, rowid) --
// i.e. the least any revisioned store has to write per request. It deliberately does not
// reuse the store's schema, so that a heavier schema shows up as a worse ratio.

import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { applyPragmas } from './sqlite.ts';

export async function rawSqliteInsertsPerSecond(
  dir: string,
  n: number,
  opts: { valueBytes?: number } = {},
): Promise<number> {
  const path = join(dir, `raw-baseline-${process.pid}-${Date.now()}.db`);
  const db = new DatabaseSync(path);
  try {
    applyPragmas(db);
    db.exec(`
      CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value TEXT NOT NULL);
      CREATE INDEX t_name_id ON t (name, id);
    `);
    const insert = db.prepare('INSERT INTO t (name, value) VALUES (?, ?)');
    // Roughly the size of a small object's JSON (a ConfigMap, a simple Pod).
    const value = 'x'.repeat(opts.valueBytes ?? 1024);
    const warmup = Math.min(200, n);
    for (let i = 0; i < warmup; i++) insert.run(`/registry/warmup/k-${i}`, value);
    const start = performance.now();
    for (let i = 0; i < n; i++) insert.run(`/registry/baseline/k-${i}`, value);
    const seconds = (performance.now() - start) / 1000;
    return n / seconds;
  } finally {
    db.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  }
}
