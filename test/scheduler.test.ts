// Integration: the scheduler against a real apiserver, with simulated nodes running the
// pods it binds. What users see: FailedScheduling and Scheduled events (compared
// literally, also through kubectl describe), the PodScheduled condition, preemption with
// graceful victim deletion, a second scheduler taking only its pods, scheduling gates,
// and componentstatuses while the leader lease is renewed.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../src/api/object.ts';
import { createClient } from '../src/client/rest.ts';
import { inProcessTransport } from '../src/client/inprocess.ts';
import { ref } from '../src/client/resources.ts';
import { ADMIN, eventually } from '../src/client/testing.ts';
import type { Client } from '../src/client/types.ts';
import { startInProcessSimPool, type SimPool } from '../src/kubelet/sim/index.ts';
import { resolveConfiguration } from '../src/scheduler/config.ts';
import { startScheduler, type RunningScheduler } from '../src/scheduler/server.ts';
import { makePod } from '../src/scheduler/testing/fixtures.ts';
import { clearNotReadyTaints } from '../src/scheduler/testing/cluster.ts';
import { startTestCluster, type TestCluster } from './harness.ts';

const CONTROL_PLANE_TAINT = { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' };

describe('scheduler (integration)', () => {
  let c: TestCluster;
  let client: Client;
  let defaultScheduler: RunningScheduler;
  const pools: SimPool[] = [];
  const ac = new AbortController();

  const events = async (pod: string, reason?: string) => {
    const list = await client.list(ref.events, 'default', { fieldSelector: `involvedObject.name=${pod}` });
    return list.items.filter((e) => !reason || e.reason === reason).map((e) => ({ reason: e.reason as string, message: e.message as string, source: e.source?.component as string }));
  };
  const getPod = (name: string) => client.get(ref.pods, 'default', name);
  const create = (p: KObject) => client.create(ref.pods, 'default', p);

  before(async () => {
    c = await startTestCluster();
    client = createClient(inProcessTransport({ serve: (req, res) => c.server.serve(req, res) }, ADMIN));
    // ServiceAccount admission needs the namespace's default account (no controller runs here).
    await client.create(ref.serviceaccounts, 'default', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'default' } });
    pools.push(await startInProcessSimPool(c.server, { nodes: 1, namePrefix: 'cp-', taints: [CONTROL_PLANE_TAINT], labels: { 'node-role.kubernetes.io/control-plane': '' } }, ac.signal));
    pools.push(await startInProcessSimPool(c.server, { nodes: 2, namePrefix: 'node-', capacity: { cpu: '2' } }, ac.signal));
    // No node lifecycle controller runs here: lift the not-ready taint of the Ready simulated nodes as it would.
    await clearNotReadyTaints(client);
    defaultScheduler = startScheduler({ client, config: resolveConfiguration({ leaderElection: { leaseDuration: '4s', renewDeadline: '3s', retryPeriod: '500ms' } }) }, ac.signal);
    await defaultScheduler.ready;
    await eventually(() => defaultScheduler.isLeader(), 10_000, 'leadership');
    await eventually(() => defaultScheduler.scheduler.cache.nodeCount() === 3, 10_000, 'nodes in the cache');
  });

  after(async () => {
    ac.abort();
    await defaultScheduler?.done.catch(() => undefined);
    for (const p of pools) await p.close();
    await c?.close();
  });

  test('componentstatuses reports the scheduler healthy while it renews kube-system/kube-scheduler', async () => {
    const cs = await client.get(ref.componentstatuses, undefined, 'scheduler');
    assert.deepEqual(cs.conditions, [{ type: 'Healthy', status: 'True', message: 'ok' }]);
    const lease = await client.get(ref.leases, 'kube-system', 'kube-scheduler');
    assert.match(lease.spec.holderIdentity, /_/);
  });

  test('a pod that fits nowhere: the FailedScheduling event and the PodScheduled condition, literally', async () => {
    await create(makePod().name('busy-0').node('node-0').req({ cpu: '1500m' }).manifest());
    await create(makePod().name('busy-1').node('node-1').req({ cpu: '1500m' }).manifest());
    await eventually(() => defaultScheduler.scheduler.cache.nodeInfo('node-1')?.pods.length === 1, 10_000, 'busy pods in the cache');
    await create(makePod().name('nginx').req({ cpu: '1' }).terminationGracePeriodSeconds(2).manifest());
    const want =
      '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.';
    const ev = await eventually(async () => (await events('nginx', 'FailedScheduling'))[0], 10_000, 'FailedScheduling event');
    assert.deepEqual(ev, { reason: 'FailedScheduling', message: want, source: 'default-scheduler' });
    const cond = await eventually(async () => ((await getPod('nginx')).status?.conditions ?? []).find((x: { type: string }) => x.type === 'PodScheduled'), 10_000, 'condition');
    assert.equal(cond.status, 'False');
    assert.equal(cond.reason, 'Unschedulable');
    assert.equal(cond.message, want);
    const describe = await c.kubectl(['describe', 'pod', 'nginx']);
    assert.equal(describe.code, 0, describe.stderr);
    assert.match(describe.stdout, /PodScheduled\s+False/);
    assert.ok(describe.stdout.split('\n').some((l) => /^\s+Warning\s+FailedScheduling\s+\S+\s+default-scheduler\s+/.test(l) && l.endsWith(want)), describe.stdout);
  });

  test('when room frees up the pod is scheduled: "Successfully assigned default/nginx to node-1"', async () => {
    await client.delete(ref.pods, 'default', 'busy-1', { gracePeriodSeconds: 0 });
    const ev = await eventually(async () => (await events('nginx', 'Scheduled'))[0], 15_000, 'Scheduled event');
    assert.deepEqual(ev, { reason: 'Scheduled', message: 'Successfully assigned default/nginx to node-1', source: 'default-scheduler' });
    const pod = await getPod('nginx');
    assert.equal(pod.spec.nodeName, 'node-1');
    assert.equal(pod.status.conditions.find((x: { type: string }) => x.type === 'PodScheduled')?.status, 'True');
    // The simulated kubelet runs it.
    await eventually(async () => (await getPod('nginx')).status?.phase === 'Running', 10_000, 'Running');
  });

  test('a high-priority pod preempts the lowest-priority pod on the node, gracefully, and lands there', async () => {
    await client.create(ref.priorityclasses, undefined, { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'low' }, value: 100 });
    await client.create(ref.priorityclasses, undefined, { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'critical' }, value: 100000 });
    // node-1 (2 cpu) holds nginx (1 cpu, priority 0); batch (priority 100) takes the rest.
    await create(makePod().name('batch').priorityClassName('low').nodeSelector({ 'kubernetes.io/hostname': 'node-1' }).req({ cpu: '1' }).manifest());
    await eventually(async () => (await getPod('batch')).spec.nodeName === 'node-1', 10_000, 'batch bound');
    await create(makePod().name('vip').priorityClassName('critical').req({ cpu: '1' }).nodeSelector({ 'kubernetes.io/hostname': 'node-1' }).manifest());
    const vipUid = (await getPod('vip')).metadata.uid;
    // The lowest-priority pod is the victim: DisruptionTarget, a graceful deletion (its own 2 s), a Preempted event.
    const victim = await eventually(async () => {
      const p = await getPod('nginx').catch(() => undefined);
      return p?.metadata.deletionTimestamp ? p : undefined;
    }, 10_000, 'victim terminating');
    const dt = victim.status.conditions.find((x: { type: string }) => x.type === 'DisruptionTarget');
    assert.deepEqual([dt.status, dt.reason, dt.message], ['True', 'PreemptionByScheduler', 'default-scheduler: preempting to accommodate a higher priority pod']);
    assert.equal(victim.metadata.deletionGracePeriodSeconds, 2);
    const preempted = await eventually(async () => (await events('nginx', 'Preempted'))[0], 10_000, 'Preempted event');
    assert.equal(preempted.message, `Preempted by pod ${vipUid} on node node-1`);
    // The preemptor waits, nominated to the node, until the victim is gone; then it lands there.
    await eventually(async () => (await getPod('vip')).status?.nominatedNodeName === 'node-1', 10_000, 'nominatedNodeName');
    const bound = await eventually(async () => (await getPod('vip')).spec.nodeName, 20_000, 'vip bound');
    assert.equal(bound, 'node-1');
    await eventually(async () => (await getPod('nginx').catch(() => undefined)) === undefined, 10_000, 'victim deleted');
    assert.equal((await getPod('batch')).metadata.deletionTimestamp, undefined);
  });

  test('a second scheduler schedules only its pods; pods naming an absent scheduler stay Pending untouched', async () => {
    const cfg = resolveConfiguration({ profiles: [{ schedulerName: 'my-scheduler' }], leaderElection: { resourceName: 'my-scheduler', leaseDuration: '4s', renewDeadline: '3s', retryPeriod: '500ms' } });
    const second = startScheduler({ client, config: cfg }, ac.signal);
    await second.ready;
    await eventually(() => second.isLeader(), 10_000, 'my-scheduler leadership');
    await create(makePod().name('mine').schedulerName('my-scheduler').manifest());
    await create(makePod().name('nobody').schedulerName('absent-scheduler').manifest());
    const ev = await eventually(async () => (await events('mine', 'Scheduled'))[0], 10_000, 'Scheduled by my-scheduler');
    assert.equal(ev.source, 'my-scheduler');
    assert.match(ev.message, /^Successfully assigned default\/mine to (node-0|node-1)$/);
    assert.equal(defaultScheduler.scheduler.queue.whereIs('default/mine'), undefined);
    await new Promise((r) => setTimeout(r, 500));
    const nobody = await getPod('nobody');
    assert.equal(nobody.spec.nodeName, undefined);
    assert.equal(nobody.status.phase, 'Pending');
    assert.equal((nobody.status.conditions ?? []).length, 0);
    assert.deepEqual(await events('nobody'), []);
    // Its own lease, not kube-scheduler's.
    const lease = await client.get(ref.leases, 'kube-system', 'my-scheduler');
    assert.ok(lease.spec.holderIdentity);
  });

  test('schedulingGates hold a pod until the last gate is removed', async () => {
    await create(makePod().name('gated').schedulingGates(['example.com/quota']).manifest());
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(defaultScheduler.scheduler.queue.whereIs('default/gated'), 'gated');
    assert.deepEqual(await events('gated'), []);
    await client.patch(ref.pods, 'default', 'gated', 'merge', { spec: { schedulingGates: null } });
    await eventually(async () => (await getPod('gated')).spec.nodeName, 10_000, 'gated pod scheduled');
  });
});
