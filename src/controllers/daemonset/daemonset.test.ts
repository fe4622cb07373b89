// DaemonSet controller scenarios on simulated nodes. The shared test binder places pods
// anywhere; daemon pods must land on the node their affinity names, so these tests bind
// with a binder that honours the metadata.name matchFields term (as the scheduler would).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';
import { keyOf, splitKey } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import { eventually, FAST_STOP, startControllerTestCluster, type ControllerTestCluster, type RunningControllers } from '../testing.ts';
import { daemonSetController } from './controller.ts';
import { targetNodeName } from './predicates.ts';

/** Binds each unscheduled pod to the node its required affinity pins it to. */
function startAffinityBinder(client: Client, signal: AbortSignal): Promise<void> {
  const informer = new Informer(client, ref.pods, { fieldSelector: 'spec.nodeName=', minBackoffMs: 20, maxBackoffMs: 200 });
  const queue = new RateLimitingQueue<string>({ name: 'affinity-binder' });
  informer.addEventHandler({ onAdd: (p) => queue.add(keyOf(p)), onUpdate: (_o, p) => queue.add(keyOf(p)) });
  informer.start(signal);
  void runWorkers(
    queue,
    8,
    async (key) => {
      const { namespace, name } = splitKey(key);
      const pod = informer.lister.get(namespace, name);
      if (!pod || pod.spec?.nodeName || pod.metadata.deletionTimestamp) return;
      const node = targetNodeName(pod);
      if (!node) return;
      try {
        await client.create(ref.pods, namespace, { apiVersion: 'v1', kind: 'Binding', metadata: { name }, target: { apiVersion: 'v1', kind: 'Node', name: node } }, { subresource: 'binding', name });
      } catch (e) {
        if (!(isStatusError(e) && (e.code === 404 || e.code === 409))) throw e;
      }
    },
    signal,
  );
  return informer.waitForSync(signal).then(() => {});
}

function makeDaemonSet(name: string, opts: { image?: string; tolerations?: unknown[]; nodeSelector?: Record<string, string>; maxUnavailable?: number | string; maxSurge?: number | string; onDelete?: boolean } = {}): KObject {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: 'default' },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels, annotations: { ...FAST_STOP } },
        spec: {
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'agent', image: opts.image ?? 'busybox:1.36' }],
          ...(opts.tolerations ? { tolerations: opts.tolerations } : {}),
          ...(opts.nodeSelector ? { nodeSelector: opts.nodeSelector } : {}),
        },
      },
      updateStrategy: opts.onDelete
        ? { type: 'OnDelete' }
        : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: opts.maxUnavailable ?? 1, maxSurge: opts.maxSurge ?? 0 } },
    },
  };
}

describe('daemonset controller', () => {
  let c: ControllerTestCluster;
  let cm: RunningControllers;
  const ac = new AbortController();

  before(async () => {
    c = await startControllerTestCluster({ nodes: 4, bind: false });
    await startAffinityBinder(c.client, ac.signal);
    // New nodes carry node.kubernetes.io/not-ready:NoSchedule (TaintNodesByCondition), which daemon
    // pods do not tolerate; the node lifecycle controller lifts it once the node is Ready. These
    // tests play that part: every taint list below replaces the node's.
    await readyNode('sim-0');
    await readyNode('sim-1');
    // sim-2 is cordoned (daemon pods tolerate that); sim-3 is dedicated (they do not tolerate that).
    await c.client.patch(ref.nodes, undefined, 'sim-2', 'merge', { spec: { unschedulable: true, taints: [{ key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' }] } });
    await c.client.patch(ref.nodes, undefined, 'sim-3', 'merge', { spec: { taints: [{ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }] } });
    await c.client.patch(ref.nodes, undefined, 'sim-0', 'merge', { metadata: { labels: { disk: 'ssd' } } });
    cm = c.startControllers([daemonSetController], { log: process.env.DEBUG_CONTROLLERS ? (m, f) => console.log(m, JSON.stringify(f)) : undefined });
    await cm.manager.whenReady();
  });
  after(async () => {
    ac.abort();
    await cm?.stop();
    await c?.close();
  });

  async function readyNode(name: string): Promise<void> {
    await c.client.patch(ref.nodes, undefined, name, 'merge', { spec: { taints: null } });
  }
  const podsOf = async (app: string) => (await c.client.list(ref.pods, 'default', { labelSelector: `app=${app}` })).items;
  const nodesOf = async (app: string) => (await podsOf(app)).filter((p) => !p.metadata.deletionTimestamp).map((p) => p.spec.nodeName ?? `(pinned ${targetNodeName(p)})`).sort();

  it('runs one pod on every eligible node, skipping a taint it does not tolerate', async () => {
    await c.client.create(ref.daemonsets, 'default', makeDaemonSet('agent'));
    const ds = await c.waitFor(ref.daemonsets, 'default', 'agent', (d) => d?.status?.numberReady === 3 && d.status.numberAvailable === 3);
    assert.deepEqual(await nodesOf('agent'), ['sim-0', 'sim-1', 'sim-2']);
    assert.equal(ds!.status.desiredNumberScheduled, 3);
    assert.equal(ds!.status.currentNumberScheduled, 3);
    assert.equal(ds!.status.updatedNumberScheduled, 3);
    assert.equal(ds!.status.numberMisscheduled, 0);
    assert.equal(ds!.status.observedGeneration, 1);

    const pod = (await podsOf('agent')).find((p) => p.spec.nodeName === 'sim-1')!;
    assert.deepEqual(pod.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms, [
      { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['sim-1'] }] },
    ]);
    const tolerations = pod.spec.tolerations.map((t: any) => `${t.key}:${t.operator}:${t.effect}`);
    for (const t of [
      'node.kubernetes.io/not-ready:Exists:NoExecute',
      'node.kubernetes.io/unreachable:Exists:NoExecute',
      'node.kubernetes.io/disk-pressure:Exists:NoSchedule',
      'node.kubernetes.io/memory-pressure:Exists:NoSchedule',
      'node.kubernetes.io/pid-pressure:Exists:NoSchedule',
      'node.kubernetes.io/unschedulable:Exists:NoSchedule',
    ]) {
      assert.ok(tolerations.includes(t), `${t} in ${tolerations}`);
    }
    assert.ok(!tolerations.some((t: string) => t.startsWith('node.kubernetes.io/network-unavailable')), 'only host-network pods tolerate network-unavailable');
    assert.ok(pod.spec.tolerations.every((t: any) => t.tolerationSeconds === undefined));
    assert.match(pod.metadata.name!, /^agent-[a-z0-9]{5}$/);
    assert.equal(pod.metadata.labels!['controller-revision-hash'], (await c.client.list(ref.controllerrevisions, 'default', { labelSelector: 'app=agent' })).items[0].metadata.labels!['controller-revision-hash']);
    assert.equal(pod.metadata.labels!['pod-template-generation'], '1');
    const events = await c.events('default', 'agent', 'SuccessfulCreate');
    assert.equal(events.length, 3);
    assert.ok(events.every((e) => /^Created pod: agent-[a-z0-9]{5}$/.test(e)), events.join('\n'));
  });

  it('a toleration brings the dedicated node in; a NoExecute taint takes a node out', async () => {
    await c.client.patch(ref.daemonsets, 'default', 'agent', 'merge', { spec: { template: { spec: { tolerations: [{ key: 'dedicated', operator: 'Exists' }] } } } });
    await c.waitFor(ref.daemonsets, 'default', 'agent', (d) => d?.status?.desiredNumberScheduled === 4 && d.status.numberAvailable === 4 && d.status.updatedNumberScheduled === 4);
    assert.deepEqual(await nodesOf('agent'), ['sim-0', 'sim-1', 'sim-2', 'sim-3']);

    await c.client.patch(ref.nodes, undefined, 'sim-1', 'merge', { spec: { taints: [{ key: 'maintenance', effect: 'NoExecute' }] } });
    await c.waitFor(ref.daemonsets, 'default', 'agent', (d) => d?.status?.desiredNumberScheduled === 3 && d.status.numberMisscheduled === 0 && d.status.currentNumberScheduled === 3);
    await eventually(async () => JSON.stringify(await nodesOf('agent')) === JSON.stringify(['sim-0', 'sim-2', 'sim-3']), 10_000, 'pod gone from sim-1');
    await c.client.patch(ref.nodes, undefined, 'sim-1', 'merge', { spec: { taints: null } });
    await c.waitFor(ref.daemonsets, 'default', 'agent', (d) => d?.status?.numberAvailable === 4);
  });

  it('nodeSelector limits the nodes; a node that gains the label gets a pod', async () => {
    await c.client.create(ref.daemonsets, 'default', makeDaemonSet('ssd', { nodeSelector: { disk: 'ssd' } }));
    await c.waitFor(ref.daemonsets, 'default', 'ssd', (d) => d?.status?.numberReady === 1 && d.status.desiredNumberScheduled === 1);
    assert.deepEqual(await nodesOf('ssd'), ['sim-0']);
    await c.client.patch(ref.nodes, undefined, 'sim-1', 'merge', { metadata: { labels: { disk: 'ssd' } } });
    await c.waitFor(ref.daemonsets, 'default', 'ssd', (d) => d?.status?.numberReady === 2);
    assert.deepEqual(await nodesOf('ssd'), ['sim-0', 'sim-1']);
    // A label taken away: the pod goes (it no longer should run there).
    await c.client.patch(ref.nodes, undefined, 'sim-0', 'merge', { metadata: { labels: { disk: null } } });
    await c.waitFor(ref.daemonsets, 'default', 'ssd', (d) => d?.status?.desiredNumberScheduled === 1 && d.status.currentNumberScheduled === 1);
    await eventually(async () => JSON.stringify(await nodesOf('ssd')) === JSON.stringify(['sim-1']), 10_000, 'pod gone from sim-0');
  });

  it('RollingUpdate with maxUnavailable 1 replaces one node at a time', async () => {
    // Observe availability throughout the update.
    const seen: number[] = [];
    const watchAc = new AbortController();
    const inf = new Informer(c.client, ref.pods, { namespace: 'default', labelSelector: 'app=agent', minBackoffMs: 20, maxBackoffMs: 200 });
    let synced = false;
    const count = () => {
      if (!synced) return;
      const ready = inf.lister.list().filter((p) => !p.metadata.deletionTimestamp && (p.status?.conditions ?? []).some((x: any) => x.type === 'Ready' && x.status === 'True'));
      seen.push(ready.length);
    };
    inf.addEventHandler({ onAdd: count, onUpdate: count, onDelete: count });
    inf.start(watchAc.signal);
    await inf.waitForSync(watchAc.signal);
    synced = true;
    const before = await c.client.get(ref.daemonsets, 'default', 'agent');
    await c.client.patch(ref.daemonsets, 'default', 'agent', 'merge', { spec: { template: { spec: { containers: [{ name: 'agent', image: 'busybox:1.37' }] } } } });
    await c.waitFor(ref.daemonsets, 'default', 'agent', (d) => d?.status?.observedGeneration === before.metadata.generation! + 1 && d.status.updatedNumberScheduled === 4 && d.status.numberAvailable === 4);
    watchAc.abort();
    const images = (await podsOf('agent')).filter((p) => !p.metadata.deletionTimestamp).map((p) => p.spec.containers[0].image);
    assert.deepEqual(images, ['busybox:1.37', 'busybox:1.37', 'busybox:1.37', 'busybox:1.37']);
    assert.ok(Math.min(...seen) >= 3, `never more than one node without a ready pod: ${seen.join(',')}`);
    const revs = (await c.client.list(ref.controllerrevisions, 'default', { labelSelector: 'app=agent' })).items;
    assert.equal(revs.length, 3, 'one revision per template');
    const pods = await podsOf('agent');
    assert.ok(pods.every((p) => p.metadata.labels!['pod-template-generation'] === '3'));
  });

  it('RollingUpdate with maxSurge starts the new pod beside the old one before removing it', async () => {
    await c.client.create(ref.daemonsets, 'default', makeDaemonSet('surge', { maxSurge: 1, maxUnavailable: 0, tolerations: [{ key: 'dedicated', operator: 'Exists' }] }));
    await c.waitFor(ref.daemonsets, 'default', 'surge', (d) => d?.status?.numberAvailable === 4);
    let maxSurging = 0;
    let minReady = Infinity;
    let synced = false;
    const watchAc = new AbortController();
    const inf = new Informer(c.client, ref.pods, { namespace: 'default', labelSelector: 'app=surge', minBackoffMs: 20, maxBackoffMs: 200 });
    const isReady = (p: KObject) => (p.status?.conditions ?? []).some((x: any) => x.type === 'Ready' && x.status === 'True');
    const look = () => {
      if (!synced) return;
      const live = inf.lister.list().filter((p) => !p.metadata.deletionTimestamp);
      const byNode = new Map<string, KObject[]>();
      for (const p of live) byNode.set(targetNodeName(p)!, [...(byNode.get(targetNodeName(p)!) ?? []), p]);
      // Nodes running an old and a new pod where the new one is not ready yet: the surge in flight.
      const surging = [...byNode.values()].filter((ps) => ps.length > 1 && ps.some((p) => p.spec.containers[0].image === 'busybox:1.37' && !isReady(p))).length;
      maxSurging = Math.max(maxSurging, surging);
      minReady = Math.min(minReady, new Set(live.filter(isReady).map((p) => p.spec.nodeName)).size);
    };
    inf.addEventHandler({ onAdd: look, onUpdate: look, onDelete: look });
    inf.start(watchAc.signal);
    await inf.waitForSync(watchAc.signal);
    synced = true;
    await c.client.patch(ref.daemonsets, 'default', 'surge', 'merge', { spec: { template: { spec: { containers: [{ name: 'agent', image: 'busybox:1.37' }] } } } });
    await c.waitFor(ref.daemonsets, 'default', 'surge', (d) => d?.status?.observedGeneration === 2 && d.status.updatedNumberScheduled === 4 && d.status.numberAvailable === 4);
    await eventually(async () => (await podsOf('surge')).length === 4, 10_000, 'old pods gone');
    watchAc.abort();
    assert.equal(maxSurging, 1, 'one surge pod at a time (maxSurge 1)');
    assert.equal(minReady, 4, 'every node keeps a ready pod throughout');
  });

  it('OnDelete: pods are replaced only when deleted; a failed pod is replaced', async () => {
    await c.client.create(ref.daemonsets, 'default', makeDaemonSet('od', { onDelete: true, tolerations: [{ key: 'dedicated', operator: 'Exists' }] }));
    await c.waitFor(ref.daemonsets, 'default', 'od', (d) => d?.status?.numberAvailable === 4);
    await c.client.patch(ref.daemonsets, 'default', 'od', 'merge', { spec: { template: { spec: { containers: [{ name: 'agent', image: 'busybox:1.37' }] } } } });
    await c.waitFor(ref.daemonsets, 'default', 'od', (d) => d?.status?.observedGeneration === 2 && (d.status.updatedNumberScheduled ?? 0) === 0);
    const victim = (await podsOf('od')).find((p) => p.spec.nodeName === 'sim-0')!;
    await c.client.delete(ref.pods, 'default', victim.metadata.name!);
    await c.waitFor(ref.daemonsets, 'default', 'od', (d) => d?.status?.updatedNumberScheduled === 1 && d.status.numberAvailable === 4);
    const replaced = (await podsOf('od')).find((p) => p.spec.nodeName === 'sim-0' && !p.metadata.deletionTimestamp)!;
    assert.equal(replaced.spec.containers[0].image, 'busybox:1.37');

    // A daemon pod that fails (as when a kubelet rejects it) is deleted and recreated.
    const p1 = (await podsOf('od')).find((p) => p.spec.nodeName === 'sim-1')!;
    await eventually(async () => {
      const fresh = await c.client.get(ref.pods, 'default', p1.metadata.name!);
      await c.client.update(ref.pods, 'default', { ...fresh, status: { ...fresh.status, phase: 'Failed', reason: 'OutOfcpu', message: 'Pod was rejected: Node didn\'t have enough resource: cpu' } }, { subresource: 'status' });
      return true;
    }, 10_000, 'pod marked Failed');
    await eventually(async () => !(await podsOf('od')).some((p) => p.metadata.uid === p1.metadata.uid), 10_000, 'failed pod deleted');
    const msgs = await c.events('default', 'od', 'FailedDaemonPod');
    assert.ok(msgs.some((m) => m === `Found failed daemon pod default/${p1.metadata.name} on node sim-1, will try to kill it`), msgs.join('\n'));
    await c.waitFor(ref.daemonsets, 'default', 'od', (d) => d?.status?.currentNumberScheduled === 4);
  });

  it('a node that joins gets a daemon pod', async () => {
    const [name] = await c.pool!.addNodes(1);
    await c.waitFor(ref.nodes, undefined, name, (n) => n !== undefined);
    assert.equal((await c.client.get(ref.daemonsets, 'default', 'agent')).status.desiredNumberScheduled, 4, 'not while the node is not ready');
    await readyNode(name);
    await c.waitFor(ref.daemonsets, 'default', 'agent', (d) => d?.status?.desiredNumberScheduled === 5 && d.status.numberAvailable === 5);
    assert.ok((await nodesOf('agent')).includes(name));
  });
});
