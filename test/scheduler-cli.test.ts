// Integration: `skiff scheduler` as its own process against a real apiserver over HTTPS
// (the command runner the CLI calls): it schedules only pods naming it, holds its own
// Lease, and releases it when stopped.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createClient } from '../src/client/rest.ts';
import { inProcessTransport } from '../src/client/inprocess.ts';
import { ref } from '../src/client/resources.ts';
import { ADMIN, eventually } from '../src/client/testing.ts';
import type { Client } from '../src/client/types.ts';
import { startInProcessSimPool, type SimPool } from '../src/kubelet/sim/index.ts';
import { makePod } from '../src/scheduler/testing/fixtures.ts';
import { clearNotReadyTaints } from '../src/scheduler/testing/cluster.ts';
import { startTestCluster, type TestCluster } from './harness.ts';

const CLI = path.resolve(import.meta.dirname, '../src/cli/scheduler.ts');

function runScheduler(args: string[]): { proc: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
  const proc = spawn(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(CLI)}); await m.runSchedulerCommand(process.argv.slice(1)); process.exit(0);`, '--', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  return { proc, stderr: () => err, exited };
}

describe('skiff scheduler (process)', () => {
  let c: TestCluster;
  let client: Client;
  let pool: SimPool;
  const ac = new AbortController();

  before(async () => {
    c = await startTestCluster();
    client = createClient(inProcessTransport({ serve: (req, res) => c.server.serve(req, res) }, ADMIN));
    await client.create(ref.serviceaccounts, 'default', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'default' } });
    pool = await startInProcessSimPool(c.server, { nodes: 2 }, ac.signal);
    await clearNotReadyTaints(client);
  });

  after(async () => {
    ac.abort();
    await pool?.close();
    await c?.close();
  });

  test('--scheduler-name my-scheduler: schedules its pods only, on its own Lease, released on SIGTERM', async () => {
    const s = runScheduler(['--scheduler-name', 'my-scheduler', '--kubeconfig', c.server.kubeconfigPath]);
    try {
      await client.create(ref.pods, 'default', makePod().name('mine').schedulerName('my-scheduler').manifest());
      await client.create(ref.pods, 'default', makePod().name('default-one').manifest());
      const node = await eventually(async () => (await client.get(ref.pods, 'default', 'mine')).spec.nodeName, 20_000, `my pod bound (scheduler log: ${s.stderr()})`);
      assert.match(node, /^sim-[01]$/);
      const ev = (await client.list(ref.events, 'default', { fieldSelector: 'involvedObject.name=mine' })).items.find((e) => e.reason === 'Scheduled');
      assert.equal(ev?.source?.component, 'my-scheduler');
      assert.equal(ev?.message, `Successfully assigned default/mine to ${node}`);
      // No default scheduler runs here: its pod stays Pending.
      assert.equal((await client.get(ref.pods, 'default', 'default-one')).spec.nodeName, undefined);
      const lease = await client.get(ref.leases, 'kube-system', 'my-scheduler');
      assert.ok(lease.spec.holderIdentity);
      await client.get(ref.leases, 'kube-system', 'kube-scheduler').then(
        () => assert.fail('a second scheduler must not take kube-scheduler'),
        (e) => assert.equal(e.code, 404),
      );
    } finally {
      s.proc.kill('SIGTERM');
    }
    assert.equal(await s.exited, 0, s.stderr());
    assert.equal((await client.get(ref.leases, 'kube-system', 'my-scheduler')).spec.holderIdentity ?? '', '');
  });

  test('a bad configuration file is refused with the field at fault', async () => {
    const file = await c.file('bad.yaml', 'apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles:\n- schedulerName: a\n- schedulerName: a\n');
    const s = runScheduler(['--config', file, '--kubeconfig', c.server.kubeconfigPath]);
    assert.notEqual(await s.exited, 0);
    assert.match(s.stderr(), /profiles\[1\]\.schedulerName: Duplicate value: "a"/);
  });
});
