// `skiff reset` on a cluster this machine does not have: it removes the data dir and
// nothing else, says so, and a second run finds nothing. (What it removes from a real
// node is checked in test/services-e2e.test.ts's teardown.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { clusterDNSFor } from './node-services.ts';

const main = path.join(import.meta.dirname, 'main.ts');

function skiff(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [main, ...args], { timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

test('skiff reset removes the data dir, and a second run has nothing to remove', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-reset-'));
  try {
    const dataDir = path.join(dir, 'data');
    mkdirSync(dataDir);
    writeFileSync(path.join(dataDir, 'admin.kubeconfig'), 'apiVersion: v1\n');
    const name = `rt-${process.pid}`;
    const first = await skiff(['reset', '--name', name, '--data-dir', dataDir]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, `removed data dir ${dataDir}\n`);
    assert.ok(!existsSync(dataDir));
    const second = await skiff(['reset', '--name', name, '--data-dir', dataDir]);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, `Nothing to remove for cluster ${name}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('skiff reset rejects unknown flags', async () => {
  const r = await skiff(['reset', '--nme', 'x']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Unknown option '--nme'/);
});

test('the cluster DNS address is the tenth of the service range, as kubeadm picks it', () => {
  assert.equal(clusterDNSFor('10.96.0.0/12'), '10.96.0.10');
  assert.equal(clusterDNSFor('10.206.0.0/16,fd00::/108'), '10.206.0.10');
});
