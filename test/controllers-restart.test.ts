// The controller manager as its own process (`skiff controller-manager`'s entry point,
// over HTTPS from a kubeconfig), killed with SIGKILL in the middle of a rollout: a new
// one takes the lease once it expires and completes the rollout without a duplicate
// pod, never going past maxSurge. Also: componentstatuses follows the lease.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { Informer } from '../src/client/informer.ts';
import { ref } from '../src/client/resources.ts';
import { activePods, eventually, makeDeployment, startControllerTestCluster, type ControllerTestCluster } from '../src/controllers/testing.ts';

const CLI = path.join(import.meta.dirname, '..', 'src', 'cli', 'controller-manager.ts');

/** `skiff controller-manager` with a short lease, as a child process. */
function spawnControllerManager(kubeconfig: string): ChildProcess & { output: () => string } {
  const code = `import { runControllerManager } from ${JSON.stringify(CLI)}; await runControllerManager(process.argv.slice(1));`;
  const child = spawn(
    process.execPath,
    ['--input-type=module', '-e', code, '--', '--kubeconfig', kubeconfig, '--leader-elect-lease-duration=3s', '--leader-elect-renew-deadline=2s', '--leader-elect-retry-period=250ms'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  ) as ChildProcess & { output: () => string };
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.output = () => err;
  return child;
}

describe('controller manager restarts (separate process, kubeconfig)', () => {
  let c: ControllerTestCluster;
  const children: ChildProcess[] = [];
  before(async () => {
    c = await startControllerTestCluster({ nodes: 4 });
  });
  after(async () => {
    for (const ch of children) if (ch.exitCode === null && ch.signalCode === null) ch.kill('SIGKILL');
    await c?.close();
  });

  it('completes a rollout after the manager is killed mid-way, without duplicate pods', async (t) => {
    const first = spawnControllerManager(c.server.kubeconfigPath);
    children.push(first);
    await eventually(async () => {
      const cs = await c.client.get(ref.componentstatuses, undefined, 'controller-manager');
      return cs.conditions[0].status === 'True';
    }, 30_000, 'controller-manager healthy in componentstatuses');

    // Slow readiness (1 s) makes the rollout take several rounds.
    await c.client.create(ref.deployments, 'default', makeDeployment('web').replicas(10).build());
    await c.waitFor(ref.deployments, 'default', 'web', (d) => d?.status?.availableReplicas === 10, 30_000);

    const ac = new AbortController();
    t.after(() => ac.abort());
    const pods = new Informer(c.client, ref.pods, { labelSelector: 'app=web' });
    const created = new Map<string, number>();
    let maxActive = 0;
    let synced = false;
    const count = () => {
      if (!synced) return;
      maxActive = Math.max(maxActive, pods.lister.list().filter((p) => !p.metadata.deletionTimestamp).length);
    };
    pods.addEventHandler({
      onAdd: (p) => {
        if (!synced) return;
        const owner = p.metadata.ownerReferences?.[0]?.name ?? '';
        created.set(owner, (created.get(owner) ?? 0) + 1);
        count();
      },
      onUpdate: count,
      onDelete: count,
    });
    pods.start(ac.signal);
    await pods.waitForSync();
    synced = true;

    const v2 = makeDeployment('web').image('nginx:1.28').podAnnotation('sim.skiff.dev/ready-seconds', '1').build().spec.template;
    await c.client.patch(ref.deployments, 'default', 'web', 'merge', { spec: { template: v2 } });
    // Mid-rollout: the new ReplicaSet has started, the old one still has pods.
    const newRS = await eventually(async () => {
      const l = await c.client.list(ref.replicasets, 'default', { labelSelector: 'app=web' });
      const n = l.items.find((r) => r.spec.template.spec.containers[0].image === 'nginx:1.28');
      const o = l.items.find((r) => r.spec.template.spec.containers[0].image !== 'nginx:1.28');
      return n && o && n.spec.replicas >= 3 && o.spec.replicas > 0 ? n : undefined;
    }, 20_000);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const frozen = await c.client.list(ref.replicasets, 'default', { labelSelector: 'app=web' });
    assert.ok(
      frozen.items.some((r) => r.metadata.uid !== newRS.metadata.uid && r.spec.replicas > 0),
      'killed before the rollout finished (the old ReplicaSet still has replicas)',
    );

    const second = spawnControllerManager(c.server.kubeconfigPath);
    children.push(second);
    const done = await c.waitFor(
      ref.deployments,
      'default',
      'web',
      (d) => d?.status?.updatedReplicas === 10 && d.status.availableReplicas === 10 && d.status.replicas === 10 && d.status.observedGeneration === d.metadata.generation,
      60_000,
    );
    assert.equal(done!.metadata.annotations!['deployment.kubernetes.io/revision'], '2');
    await eventually(async () => (await c.client.list(ref.pods, 'default', { labelSelector: 'app=web' })).items.length === 10 || undefined);
    const final = await activePods(c.client, 'default', 'app=web');
    assert.equal(final.length, 10);
    assert.ok(final.every((p) => p.metadata.ownerReferences?.[0]?.name === newRS.metadata.name));
    assert.equal(created.get(newRS.metadata.name!), 10, `exactly 10 pods ever created for the new ReplicaSet: ${JSON.stringify([...created])}`);
    assert.equal(created.size, 1, 'no pod created for the old ReplicaSet');
    assert.ok(maxActive <= 13, `at most 13 pods at once, saw ${maxActive}`);
    const lease = await c.client.get(ref.leases, 'kube-system', 'kube-controller-manager');
    assert.ok(lease.spec.leaseTransitions >= 1, 'the lease changed hands');
    second.kill('SIGTERM');
    const code = await new Promise((r) => second.once('exit', r));
    assert.equal(code, 0, second.output());
    // A clean stop releases the lease (held for 1 s more): componentstatuses reports it unhealthy.
    await eventually(async () => (await c.client.get(ref.componentstatuses, undefined, 'controller-manager')).conditions[0].status === 'False', 5000);
  });
});
