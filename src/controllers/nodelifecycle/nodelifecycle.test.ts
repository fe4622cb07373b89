// Node lifecycle and taint eviction. Unit: tolerations (which taints a pod tolerates and
// for how long), the rate-limited tainting queue. Integration (apiserver, simulated
// nodes renewing their Lease every second, short grace periods): a node whose kubelet
// stops goes Ready=Unknown, is tainted unreachable (NoSchedule and NoExecute), its pods
// are marked NotReady; pods not tolerating the taint are evicted at once, the others after
// their tolerationSeconds, pods tolerating it forever stay, and the ReplicaSet replaces
// the evicted pods on other nodes;
// a node that comes back in time loses its taints and keeps its pods.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import { eventually, makeReplicaSet, startControllerTestCluster, type ControllerTestCluster } from '../testing.ts';
import { replicaSetController } from '../replicaset/replicaset.ts';
import { nodeLifecycleController } from './controller.ts';
import { RateLimitedTimedQueue, TokenBucket } from './ratelimit.ts';
import { taintEvictionController } from './tainteviction.ts';
import { matchingTolerations, minTolerationMs, TAINT_NODE_NOT_READY, TAINT_NODE_UNREACHABLE, type Taint } from './taints.ts';

const unreachable: Taint = { key: TAINT_NODE_UNREACHABLE, effect: 'NoExecute' };
const notReady: Taint = { key: TAINT_NODE_NOT_READY, effect: 'NoExecute' };

describe('tolerations (unit)', () => {
  it('untolerated taints mean deletion now; the shortest tolerationSeconds otherwise; none means forever', () => {
    assert.equal(matchingTolerations([unreachable], []).all, false);
    const defaults = [
      { key: TAINT_NODE_NOT_READY, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      { key: TAINT_NODE_UNREACHABLE, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 200 },
    ];
    let m = matchingTolerations([unreachable, notReady], defaults);
    assert.equal(m.all, true);
    assert.equal(minTolerationMs(m.used), 200_000);
    m = matchingTolerations([unreachable], [{ operator: 'Exists' }]);
    assert.equal(minTolerationMs(m.used), -1, 'an empty key with Exists tolerates everything, forever');
    m = matchingTolerations([{ key: 'k', value: 'v', effect: 'NoExecute' }], [{ key: 'k', operator: 'Equal', value: 'w', effect: 'NoExecute' }]);
    assert.equal(m.all, false, 'Equal compares values');
    assert.equal(minTolerationMs([{ key: 'k', tolerationSeconds: 0 }]), 0);
  });

  it('the tainting queue takes each node once until removed, at the limiter’s rate', async () => {
    let now = 0;
    const q = new RateLimitedTimedQueue(new TokenBucket(1, 1, () => now), () => now);
    assert.equal(q.add('a', 'ua'), true);
    assert.equal(q.add('a', 'ua'), false);
    q.add('b', 'ub');
    const done: string[] = [];
    await q.try(async (v) => {
      done.push(v.value);
      return [true];
    });
    assert.deepEqual(done, ['a'], 'one token: one node');
    now = 1000;
    await q.try(async (v) => {
      done.push(v.value);
      return [true];
    });
    assert.deepEqual(done, ['a', 'b']);
    assert.equal(q.add('a', 'ua'), false, 'processed values stay until removed');
    q.remove('a');
    assert.equal(q.add('a', 'ua'), true);
    q.swapLimiter(0);
    now = 10_000;
    await q.try(async (v) => {
      done.push(v.value);
      return [true];
    });
    assert.equal(done.length, 2, 'a zero rate stops tainting');
  });
});

describe('node lifecycle and taint eviction (integration)', () => {
  let c: ControllerTestCluster;
  const ns = 'default';

  before(async () => {
    c = await startControllerTestCluster({ nodes: 3, sim: { leaseRenewIntervalMs: 1000 } });
    await c
      .startControllers([
        nodeLifecycleController({ nodeMonitorPeriodMs: 500, nodeMonitorGracePeriodMs: 3000, nodeStartupGracePeriodMs: 3000 }),
        taintEvictionController(),
        replicaSetController(),
      ])
      .manager.whenReady();
  });
  after(async () => {
    await c?.close();
  });

  const tolerations = (seconds: number | undefined) =>
    [TAINT_NODE_UNREACHABLE, TAINT_NODE_NOT_READY].map((key) => ({ key, operator: 'Exists', effect: 'NoExecute', ...(seconds === undefined ? {} : { tolerationSeconds: seconds }) }));
  const podOn = (name: string, node: string, seconds: number | undefined): KObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, annotations: { 'sim.skiff.dev/stop-seconds': '0' } },
    spec: { nodeName: node, tolerations: tolerations(seconds), containers: [{ name: 'app', image: 'nginx' }] },
  });
  const isReady = (p: KObject | undefined) => p?.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True');
  const readyCond = (n: KObject | undefined) => n?.status?.conditions?.find((x: any) => x.type === 'Ready');
  const taintsOf = (n: KObject | undefined) => ((n?.spec?.taints ?? []) as Taint[]).map((t) => `${t.key}:${t.effect}`).sort();

  it('healthy nodes carry no condition taints', async () => {
    for (const n of c.pool!.nodeNames()) {
      await c.waitFor(ref.nodes, undefined, n, (o) => readyCond(o)?.status === 'True' && taintsOf(o).length === 0);
    }
  });

  it('a stopped node is tainted unreachable; its pods go NotReady, are evicted after tolerationSeconds and replaced elsewhere', async () => {
    await c.client.create(ref.replicasets, ns, makeReplicaSet('web').replicas(3).podSpec({ tolerations: tolerations(2) }).build());
    const pods = await eventually(async () => {
      const l = (await c.client.list(ref.pods, ns, { labelSelector: 'app=web' })).items;
      return l.length === 3 && l.every(isReady) ? l : undefined;
    }, 20_000, 'three ready web pods');
    const victim = pods[0].spec.nodeName as string;
    const others = c.pool!.nodeNames().filter((n) => n !== victim);
    await c.client.create(ref.pods, ns, podOn('forever', victim, undefined));
    // A toleration for the key with a value the taint lacks satisfies the DefaultTolerationSeconds
    // admission (which then adds nothing) but not the taint: this pod is evicted at once.
    const intolerant = podOn('intolerant', victim, undefined);
    intolerant.spec.tolerations = [
      { key: TAINT_NODE_UNREACHABLE, operator: 'Equal', value: 'other', effect: 'NoExecute' },
      { key: TAINT_NODE_NOT_READY, operator: 'Exists', effect: 'NoExecute' },
    ];
    await c.client.create(ref.pods, ns, intolerant);
    await c.waitFor(ref.pods, ns, 'forever', isReady);
    await c.waitFor(ref.pods, ns, 'intolerant', isReady);
    const evicted = pods.filter((p) => p.spec.nodeName === victim).map((p) => p.metadata.name!);

    // The scheduler would avoid the tainted node; the test binder is told to.
    c.binder!.setNodes(others);
    const stoppedAt = Date.now();
    c.pool!.stopNode(victim);

    const node = await c.waitFor(ref.nodes, undefined, victim, (o) => readyCond(o)?.status === 'Unknown', 20_000);
    // The grace period (3 s) runs from the last renewal seen, up to a renewal interval (1 s) before the stop.
    assert.ok(Date.now() - stoppedAt >= 1500, 'not before the grace period');
    assert.deepEqual(
      { reason: readyCond(node).reason, message: readyCond(node).message },
      { reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' },
    );
    for (const t of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) {
      assert.equal(node!.status.conditions.find((x: any) => x.type === t).status, 'Unknown');
    }
    const tainted = await c.waitFor(ref.nodes, undefined, victim, (o) => taintsOf(o).includes(`${TAINT_NODE_UNREACHABLE}:NoExecute`));
    assert.ok(taintsOf(tainted).includes(`${TAINT_NODE_UNREACHABLE}:NoSchedule`));
    assert.ok((tainted!.spec.taints as Taint[]).every((t) => t.timeAdded));
    const forever = await c.waitFor(ref.pods, ns, 'forever', (p) => !isReady(p));
    assert.equal(forever!.status.conditions.find((x: any) => x.type === 'Ready').status, 'False');
    assert.deepEqual(await c.events(ns, 'forever', 'NodeNotReady'), ['Node is not ready']);
    assert.deepEqual(await c.events('default', victim, 'NodeNotReady'), [`Node ${victim} status is now: NodeNotReady`]);

    // Not tolerated: evicted as soon as the taint is seen.
    const gone = await c.waitFor(ref.pods, ns, 'intolerant', (o) => !!o?.metadata.deletionTimestamp);
    // Tolerated for 2 s: evicted after that, marked, then deleted (they stay Terminating: their kubelet is gone).
    for (const name of evicted) {
      const p = await c.waitFor(ref.pods, ns, name, (o) => !o || !!o.metadata.deletionTimestamp);
      assert.ok(p, 'a pod of a dead kubelet stays Terminating');
      const dt = p.status.conditions.find((x: any) => x.type === 'DisruptionTarget');
      assert.deepEqual([dt?.status, dt?.reason, dt?.message], ['True', 'DeletionByTaintManager', 'Taint manager: deleting due to NoExecute taint']);
      assert.ok(p.status.conditions.some((x: any) => x.type === 'PodScheduled'), 'the condition is merged into the others');
      assert.ok(Date.parse(p.metadata.deletionTimestamp!) > Date.parse(gone!.metadata.deletionTimestamp!), 'after the pod that did not tolerate the taint');
      await eventually(async () => (await c.events(ns, name, 'TaintManagerEviction')).includes(`Marking for deletion Pod ${ns}/${name}`), 10_000, 'eviction event');
    }
    // The ReplicaSet replaces them on the other nodes.
    const replaced = await eventually(async () => {
      const l = (await c.client.list(ref.pods, ns, { labelSelector: 'app=web' })).items.filter((p) => !p.metadata.deletionTimestamp);
      return l.length === 3 && l.every((p) => isReady(p) && others.includes(p.spec.nodeName)) ? l : undefined;
    }, 20_000, 'replacements on other nodes');
    assert.equal(replaced.filter((p) => evicted.includes(p.metadata.name!)).length, 0);
    const rs = await c.waitFor(ref.replicasets, ns, 'web', (o) => o?.status?.readyReplicas === 3);
    assert.equal(rs!.status.replicas, 3);
    // Tolerated forever: still there.
    assert.equal((await c.client.get(ref.pods, ns, 'forever')).metadata.deletionTimestamp, undefined);

    // The node comes back: taints go, its remaining pod is Ready again.
    await c.pool!.startNode(victim);
    await c.waitFor(ref.nodes, undefined, victim, (o) => readyCond(o)?.status === 'True' && taintsOf(o).length === 0);
    await c.waitFor(ref.pods, ns, 'forever', isReady);
    c.binder!.setNodes(c.pool!.nodeNames());
  });

  it('a node back within tolerationSeconds keeps its pods (the eviction is cancelled)', async () => {
    const node = c.pool!.nodeNames()[1];
    await c.client.create(ref.pods, ns, podOn('patient', node, 60));
    await c.waitFor(ref.pods, ns, 'patient', isReady);
    c.pool!.stopNode(node);
    await c.waitFor(ref.nodes, undefined, node, (o) => taintsOf(o).includes(`${TAINT_NODE_UNREACHABLE}:NoExecute`), 20_000);
    await c.pool!.startNode(node);
    await c.waitFor(ref.nodes, undefined, node, (o) => taintsOf(o).length === 0 && readyCond(o)?.status === 'True');
    await eventually(async () => (await c.events(ns, 'patient', 'TaintManagerEviction')).includes(`Cancelling deletion of Pod ${ns}/patient`), 10_000, 'cancel event');
    const p = await c.waitFor(ref.pods, ns, 'patient', isReady);
    assert.equal(p!.metadata.deletionTimestamp, undefined);
  });

  it('cordon adds the unschedulable taint; uncordon removes it', async () => {
    const node = c.pool!.nodeNames()[2];
    await c.client.patch(ref.nodes, undefined, node, 'merge', { spec: { unschedulable: true } });
    await c.waitFor(ref.nodes, undefined, node, (o) => taintsOf(o).includes('node.kubernetes.io/unschedulable:NoSchedule'));
    await c.client.patch(ref.nodes, undefined, node, 'merge', { spec: { unschedulable: null } });
    await c.waitFor(ref.nodes, undefined, node, (o) => taintsOf(o).length === 0);
  });
});
