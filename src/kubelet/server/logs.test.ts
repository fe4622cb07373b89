import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CriLogParser, streamLog } from './logs.ts';

test('CRI log lines: partial lines joined per stream, the rest kept for the next chunk', () => {
  const p = new CriLogParser();
  const a = p.push('2026-01-01T00:00:00.000000001Z stdout P hel\n2026-01-01T00:00:00.1Z stderr F err line\n2026-01-01T00:00:00.2Z stdout F lo\n2026-01-01T00:00:01Z std');
  assert.deepEqual(a, [
    { time: '2026-01-01T00:00:00.1Z', stream: 'stderr', text: 'err line' },
    { time: '2026-01-01T00:00:00.000000001Z', stream: 'stdout', text: 'hello' },
  ]);
  assert.deepEqual(p.push('out F  two spaces \n2026-01-01T00:00:02Z stdout F\n'), [
    { time: '2026-01-01T00:00:01Z', stream: 'stdout', text: ' two spaces ' },
    { time: '2026-01-01T00:00:02Z', stream: 'stdout', text: '' },
  ]);
});

async function collect(file: string, o: Parameters<typeof streamLog>[1], running = async () => false): Promise<string> {
  let out = '';
  await streamLog(file, o, (s) => void (out += s), new AbortController().signal, running);
  return out;
}

test('streamLog: tail, timestamps, since, limitBytes, follow until the container stops', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-logs-'));
  try {
    const file = path.join(dir, '0.log');
    const old = new Date(Date.now() - 3600_000).toISOString().replace('Z', '123456Z');
    const now = new Date().toISOString();
    writeFileSync(file, `${old} stdout F one\n${old} stdout F two\n${now} stdout P thr\n${now} stdout F ee\n`);
    assert.equal(await collect(file, {}), 'one\ntwo\nthree\n');
    assert.equal(await collect(file, { tailLines: 2 }), 'two\nthree\n');
    assert.equal(await collect(file, { tailLines: 0 }), '');
    assert.equal(await collect(file, { timestamps: true, tailLines: 1 }), `${now} three\n`);
    assert.equal(await collect(file, { sinceMs: Date.now() - 60_000 }), 'three\n');
    assert.equal(await collect(file, { limitBytes: 6 }), 'one\ntw');
    let alive = true;
    const followed = collect(file, { follow: true, tailLines: 1 }, async () => alive);
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(file, `${now} stdout F four\n`);
    await new Promise((r) => setTimeout(r, 200));
    appendFileSync(file, `${now} stderr F five\n`);
    alive = false;
    assert.equal(await followed, 'three\nfour\nfive\n');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
