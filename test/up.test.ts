// The whole control plane end to end: `skiff up --sim-nodes 3` (apiserver, controller
// manager, scheduler and simulated nodes in one process) and the real kubectl.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { kubectlFor } from './harness.ts';

const dirs: string[] = [];
const children: ChildProcess[] = [];
after(async () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function up(dataDir: string, home: string): Promise<{ child: ChildProcess; kubeconfig: string }> {
  const child = spawn(
    process.execPath,
    [path.join(import.meta.dirname, '..', 'src', 'cli', 'main.ts'), 'up', '--sim-nodes', '3', '--data-dir', dataDir, '--bind-address', '127.0.0.1', '--bind-port', '0', '--advertise-address', '127.0.0.1', '--no-merge-kubeconfig', '--no-node'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: home } },
  );
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`skiff up did not start: ${err}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /export KUBECONFIG=(\S+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, kubeconfig: m[1] });
      }
    });
    child.on('exit', (code) => reject(new Error(`skiff up exited with ${code}: ${err}`)));
  });
}

describe('skiff up', () => {
  it('runs a Deployment to Ready on simulated nodes through scheduler and controllers', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'skiff-up-'));
    dirs.push(dir);
    const { child, kubeconfig } = await up(path.join(dir, 'data'), path.join(dir, 'home'));
    const kubectl = kubectlFor(kubeconfig, path.join(dir, 'home'));
    let r = await kubectl(['wait', '--for=condition=Ready', 'node', '--all', '--timeout=60s']);
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl(['create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=3']);
    assert.equal(r.stdout, 'deployment.apps/web created\n', r.stderr);
    r = await kubectl(['rollout', 'status', 'deployment/web', '--timeout=60s']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /deployment "web" successfully rolled out\n$/);
    r = await kubectl(['get', 'pods', '-l', 'app=web', '-o', 'jsonpath={range .items[*]}{.status.phase} {.spec.nodeName} {.status.podIP}{"\\n"}{end}']);
    const rows = r.stdout.trim().split('\n').map((l) => l.split(' '));
    assert.equal(rows.length, 3);
    for (const [phase, node, ip] of rows) {
      assert.equal(phase, 'Running');
      assert.match(node, /^sim-\d+$/);
      assert.match(ip, /^10\.244\.\d+\.\d+$/);
    }
    r = await kubectl(['get', 'events', '--field-selector', 'reason=Scheduled', '-o', 'jsonpath={.items[*].message}']);
    assert.match(r.stdout, /Successfully assigned default\/web-[a-z0-9]+-[a-z0-9]{5} to sim-\d/);
    r = await kubectl(['get', 'componentstatuses']);
    const healthy = r.stdout.split('\n').filter((l) => /\sHealthy\s/.test(l)).map((l) => l.split(/\s+/)[0]).sort();
    assert.deepEqual(healthy, ['controller-manager', 'etcd-0', 'scheduler']);
    const exited = new Promise((res) => child.once('exit', res));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});
