// The commands: `skiff up --sim-nodes N` (control plane and nodes in one process) and
// `skiff agent --sim` (nodes only, against that control plane through its kubeconfig).

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubectlFor } from './harness.ts';

const MAIN = path.join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

/** Starts `skiff <args>` and resolves once stdout matches `ready`. */
function skiff(args: string[], ready: RegExp, home: string): Promise<{ child: ChildProcess; match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: home } });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`skiff ${args[0]} did not start: ${err}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, match: m });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`skiff ${args[0]} exited with ${code}: ${err}`));
    });
  });
}

async function stop(child: ChildProcess | undefined): Promise<number | null> {
  if (!child || child.exitCode !== null) return child?.exitCode ?? null;
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  return await exited;
}

describe('skiff up --sim-nodes and skiff agent --sim', () => {
  let dir: string;
  let up: ChildProcess | undefined;
  let agent: ChildProcess | undefined;

  after(async () => {
    await stop(agent);
    await stop(up);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('up registers its nodes before it says the cluster runs; an agent adds more with their own ranges and addresses', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'skiff-simcli-'));
    const home = path.join(dir, 'home');
    const started = await skiff(
      ['up', '--data-dir', path.join(dir, 'data'), '--bind-address', '127.0.0.1', '--bind-port', '0', '--advertise-address', '127.0.0.1', '--no-merge-kubeconfig', '--no-node', '--sim-nodes', '2'],
      /export KUBECONFIG=(\S+)\n/,
      home,
    );
    up = started.child;
    const kubeconfig = started.match[1];
    const kubectl = kubectlFor(kubeconfig, home);
    let r = await kubectl(['get', 'nodes', '--no-headers']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      r.stdout.trim().split('\n').map((l) => l.split(/\s+/).slice(0, 2).join(' ')),
      ['sim-0 Ready', 'sim-1 Ready'],
    );

    const a = await skiff(['agent', '--sim', '--nodes', '2', '--kubeconfig', kubeconfig, '--node-name-prefix', 'edge-'], /simulated nodes running/, home);
    agent = a.child;
    r = await kubectl(['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.addresses[0].address}{"\\n"}{end}']);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').map((l) => l.split(' '));
    assert.deepEqual(rows.map((x) => x[0]), ['edge-0', 'edge-1', 'sim-0', 'sim-1']);
    assert.equal(new Set(rows.map((x) => x[1])).size, 4, 'every node its own podCIDR');
    assert.equal(new Set(rows.map((x) => x[2])).size, 4, 'every node its own InternalIP');
    r = await kubectl(['get', 'lease', '-n', 'kube-node-lease', 'edge-1', '-o', 'jsonpath={.spec.holderIdentity}']);
    assert.equal(r.stdout, 'edge-1');

    assert.equal(await stop(agent), 0, 'the agent stops cleanly on SIGTERM');
    assert.equal(await stop(up), 0);
  });

  test('agent without --sim is a real node: a sim-only flag or a missing kubeconfig is a clear error', async () => {
    const run = async (args: string[]) => {
      const child = spawn(process.execPath, [MAIN, 'agent', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      const code = await new Promise((r) => child.on('exit', r));
      return { code, err };
    };
    let r = await run(['--nodes', '2']);
    assert.equal(r.code, 1);
    assert.match(r.err, /--nodes is a flag of skiff agent --sim/);
    r = await run(['--kubeconfig', '/nonexistent/kubeconfig']);
    assert.equal(r.code, 1);
    assert.match(r.err, /--kubeconfig \/nonexistent\/kubeconfig: no such file/);
    await sleep(0);
  });
});
