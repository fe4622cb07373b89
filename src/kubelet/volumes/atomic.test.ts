// Unit tier: the atomic writer's layout on a real filesystem.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { invalidPayloadPath, writeAtomic, type Payload } from './atomic.ts';

const payload = (files: Record<string, string | [string, number]>): Payload =>
  new Map(Object.entries(files).map(([p, v]) => [p, typeof v === 'string' ? { data: Buffer.from(v), mode: 0o644 } : { data: Buffer.from(v[0]), mode: v[1] }]));

describe('writeAtomic', () => {
  let root: string;
  let n = 0;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'skiff-atomic-'));
  });
  after(async () => await rm(root, { recursive: true, force: true }));
  const dir = () => path.join(root, `v${++n}`);

  it('writes a timestamped version, ..data pointing at it, and one link per top-level path', async () => {
    const d = dir();
    assert.equal(await writeAtomic(d, payload({ a: 'A', 'sub/b': ['B', 0o600] })), true);
    const ts = await readlink(path.join(d, '..data'));
    assert.match(ts, /^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\w+$/);
    assert.equal(await readlink(path.join(d, 'a')), '..data/a');
    assert.equal(await readlink(path.join(d, 'sub')), '..data/sub');
    assert.equal(await readFile(path.join(d, 'a'), 'utf8'), 'A');
    assert.equal(await readFile(path.join(d, 'sub/b'), 'utf8'), 'B');
    assert.equal((await stat(path.join(d, 'sub/b'))).mode & 0o777, 0o600);
    assert.deepEqual((await readdir(d)).sort(), [ts, '..data', 'a', 'sub'].sort());
  });

  it('leaves an unchanged payload alone and swaps a changed one, dropping old versions and stale links', async () => {
    const d = dir();
    await writeAtomic(d, payload({ a: 'A', b: 'B' }));
    const ts1 = await readlink(path.join(d, '..data'));
    assert.equal(await writeAtomic(d, payload({ a: 'A', b: 'B' })), false);
    assert.equal(await readlink(path.join(d, '..data')), ts1);

    assert.equal(await writeAtomic(d, payload({ a: 'A2', c: 'C' })), true);
    const ts2 = await readlink(path.join(d, '..data'));
    assert.notEqual(ts2, ts1);
    assert.equal(await readFile(path.join(d, 'a'), 'utf8'), 'A2');
    assert.deepEqual((await readdir(d)).sort(), [ts2, '..data', 'a', 'c'].sort());

    // A mode change alone is a change too.
    assert.equal(await writeAtomic(d, payload({ a: ['A2', 0o400], c: 'C' })), true);
    assert.equal((await stat(path.join(d, 'a'))).mode & 0o777, 0o400);
  });

  it('writes an empty payload as an empty version', async () => {
    const d = dir();
    await writeAtomic(d, new Map());
    assert.deepEqual(await readdir(path.join(d, '..data')), []);
    assert.ok((await lstat(path.join(d, '..data'))).isSymbolicLink());
  });

  it('refuses paths that could escape or collide with its own', async () => {
    for (const p of ['/etc/passwd', '../x', 'a/../../x', '..data', '']) assert.ok(invalidPayloadPath(p), p);
    assert.equal(invalidPayloadPath('a/b.c'), undefined);
    await assert.rejects(writeAtomic(dir(), payload({ '../x': 'no' })), /must not contain '\.\.'/);
  });

  it('replaces a foreign symlink at a visible path', async () => {
    const d = dir();
    await writeAtomic(d, payload({ a: 'A' }));
    await rm(path.join(d, 'a'));
    await writeFile(path.join(root, 'elsewhere'), 'x');
    await symlink(path.join(root, 'elsewhere'), path.join(d, 'a'));
    await writeAtomic(d, payload({ a: 'A' }));
    assert.equal(await readlink(path.join(d, 'a')), '..data/a');
  });
});
