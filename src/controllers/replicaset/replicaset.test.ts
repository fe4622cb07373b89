// ReplicaSet and ReplicationController controllers. Unit: the ActivePods ranking,
// slow-start batches, expectations. Integration (apiserver + simulated nodes + the test
// binder): scale up and down with upstream's pod names, owner references and events,
// adoption and release, status, no duplicate pods when the cache lags.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import {
  comparePodsForDeletion,
  ControllerExpectations,
  EXPECTATIONS_TIMEOUT_MS,
  podsToDelete,
  slowStartBatch,
  UIDTrackingExpectations,
} from './controller_utils.ts';
import { calculateReplicaSetStatus, replicaSetController, replicationControllerController } from './replicaset.ts';
import { createClient } from '../../client/rest.ts';
import type { Transport } from '../../client/types.ts';
import { startControllerManager } from '../manager.ts';
import { activePods, eventually, makeReplicaSet, makeReplicationController, startControllerTestCluster, type ControllerTestCluster, type RunningControllers } from '../testing.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function pod(name: string, o: { node?: string; phase?: string; ready?: boolean; readyAt?: number; created?: number; restarts?: number; cost?: number } = {}): KObject {
  const conditions = o.ready === undefined ? [] : [{ type: 'Ready', status: o.ready ? 'True' : 'False', lastTransitionTime: iso(o.readyAt ?? T0) }];
  return {
    metadata: {
      name,
      uid: `uid-${name}`,
      creationTimestamp: iso(o.created ?? T0),
      ...(o.cost !== undefined ? { annotations: { 'controller.kubernetes.io/pod-deletion-cost': String(o.cost) } } : {}),
    },
    spec: { nodeName: o.node ?? '' },
    status: { phase: o.phase ?? 'Pending', conditions, containerStatuses: [{ restartCount: o.restarts ?? 0 }] },
  };
}

describe('ActivePods ranking (which pods go first on scale down)', () => {
  const now = T0 + 3_600_000;
  const first = (a: KObject, b: KObject, ra = 0, rb = 0) => comparePodsForDeletion({ pod: a, rank: ra }, { pod: b, rank: rb }, now) < 0;

  it('prefers unscheduled, then pending, then unready pods', () => {
    assert.ok(first(pod('u'), pod('s', { node: 'n1' })));
    assert.ok(first(pod('p', { node: 'n1', phase: 'Pending' }), pod('r', { node: 'n1', phase: 'Running', ready: true })));
    assert.ok(first(pod('x', { node: 'n1', phase: 'Unknown' }), pod('r', { node: 'n1', phase: 'Running' })));
    assert.ok(first(pod('nr', { node: 'n1', phase: 'Running', ready: false }), pod('r', { node: 'n1', phase: 'Running', ready: true })));
  });

  it('then lower deletion cost, then pods doubled up on a node', () => {
    const a = pod('a', { node: 'n1', phase: 'Running', ready: true, cost: -5 });
    const b = pod('b', { node: 'n2', phase: 'Running', ready: true });
    assert.ok(first(a, b));
    const c = pod('c', { node: 'n1', phase: 'Running', ready: true });
    assert.ok(first(c, b, 3, 1), 'the pod with more related pods on its node goes first');
  });

  it('then the more recently ready (by log2 buckets), more restarts, newer', () => {
    const old = pod('old', { node: 'n1', phase: 'Running', ready: true, readyAt: T0 });
    const fresh = pod('fresh', { node: 'n2', phase: 'Running', ready: true, readyAt: now - 1000 });
    assert.ok(first(fresh, old));
    const crashy = pod('crashy', { node: 'n1', phase: 'Running', restarts: 4 });
    const calm = pod('calm', { node: 'n1', phase: 'Running', restarts: 0 });
    assert.ok(first(crashy, calm));
    const newer = pod('newer', { node: 'n1', phase: 'Running', created: now - 5000 });
    const older = pod('older', { node: 'n1', phase: 'Running', created: T0 });
    assert.ok(first(newer, older));
  });

  it('podsToDelete ranks by active related pods on the same node', () => {
    const pods = [pod('a', { node: 'n1', phase: 'Running', ready: true }), pod('b', { node: 'n2', phase: 'Running', ready: true }), pod('c', { node: 'n3', phase: 'Running', ready: true })];
    const related = [...pods, pod('x', { node: 'n2', phase: 'Running', ready: true }), pod('y', { node: 'n2', phase: 'Running', ready: true })];
    assert.deepEqual(podsToDelete(pods, related, 1, now).map((p) => p.metadata.name), ['b']);
    assert.equal(podsToDelete(pods, related, 3, now).length, 3);
  });
});

describe('slowStartBatch', () => {
  it('runs batches of 1, 2, 4, ... and stops after the first failing batch', async () => {
    const batches: number[] = [];
    let inFlight = 0;
    let calls = 0;
    const r = await slowStartBatch(20, 1, async () => {
      const n = ++calls;
      if (inFlight === 0) batches.push(0);
      inFlight++;
      batches[batches.length - 1]++;
      await new Promise((res) => setImmediate(res));
      inFlight--;
      if (n === 9) throw new Error('quota exceeded');
    });
    assert.deepEqual(batches, [1, 2, 4, 8]);
    assert.equal(r.successes, 14);
    assert.equal((r.error as Error).message, 'quota exceeded');
    const ok = await slowStartBatch(5, 1, async () => {});
    assert.deepEqual(ok, { successes: 5 });
  });
});

describe('expectations', () => {
  it('hold a controller until its creations and deletions are observed, or expire', () => {
    let now = 0;
    const e = new ControllerExpectations({ now: () => now });
    assert.ok(e.satisfied('ns/rs'), 'no record: act');
    e.expectCreations('ns/rs', 2);
    assert.ok(!e.satisfied('ns/rs'));
    e.creationObserved('ns/rs');
    assert.ok(!e.satisfied('ns/rs'));
    e.creationObserved('ns/rs');
    assert.ok(e.satisfied('ns/rs'));
    e.expectCreations('ns/rs', 1);
    now += EXPECTATIONS_TIMEOUT_MS + 1;
    assert.ok(e.satisfied('ns/rs'), 'expired');
  });

  it('count each expected pod deletion once', () => {
    const e = new UIDTrackingExpectations();
    e.expectPodDeletions('ns/rs', ['ns/a', 'ns/b']);
    e.podDeletionObserved('ns/rs', 'ns/a');
    e.podDeletionObserved('ns/rs', 'ns/a');
    e.podDeletionObserved('ns/rs', 'ns/zzz');
    assert.ok(!e.satisfied('ns/rs'));
    e.podDeletionObserved('ns/rs', 'ns/b');
    assert.ok(e.satisfied('ns/rs'));
  });
});

describe('calculateReplicaSetStatus', () => {
  it('counts fully labeled, ready and available pods, and sets/clears ReplicaFailure', () => {
    const rs: KObject = { metadata: { name: 'web', generation: 2 }, spec: { replicas: 3, minReadySeconds: 10, template: { metadata: { labels: { app: 'web', tier: 'fe' } } } }, status: {} };
    const now = T0 + 60_000;
    const pods: KObject[] = [
      { ...pod('a', { ready: true, readyAt: T0 }), metadata: { name: 'a', labels: { app: 'web', tier: 'fe' } } },
      { ...pod('b', { ready: true, readyAt: now - 1000 }), metadata: { name: 'b', labels: { app: 'web', tier: 'fe' } } },
      { ...pod('c', { ready: false }), metadata: { name: 'c', labels: { app: 'web' } } },
    ];
    const s = calculateReplicaSetStatus(rs, pods, undefined, now);
    assert.deepEqual(s, { replicas: 3, fullyLabeledReplicas: 2, readyReplicas: 2, availableReplicas: 1 });
    const failed = calculateReplicaSetStatus({ ...rs, spec: { ...rs.spec, replicas: 5 } }, pods, new Error('pods "x" is forbidden: exceeded quota'), now);
    const cond = (failed.conditions as any[])[0];
    assert.equal(cond.type, 'ReplicaFailure');
    assert.equal(cond.reason, 'FailedCreate');
    assert.equal(cond.message, 'pods "x" is forbidden: exceeded quota');
    const cleared = calculateReplicaSetStatus({ ...rs, status: { conditions: [cond] } }, pods, undefined, now);
    assert.equal(cleared.conditions, undefined);
  });
});

describe('ReplicaSet controller (integration, simulated nodes)', () => {
  let c: ControllerTestCluster;
  let cm: RunningControllers;
  before(async () => {
    c = await startControllerTestCluster({ nodes: 3 });
    cm = c.startControllers([replicaSetController(), replicationControllerController()]);
    await cm.manager.whenReady();
  });
  after(async () => await c?.close());

  it('creates pods named <rs>-<5 chars> with labels and a controller ref, records SuccessfulCreate, and reports status', async () => {
    const rs = await c.client.create(ref.replicasets, 'default', makeReplicaSet('web').replicas(3).build());
    const done = await c.waitFor(ref.replicasets, 'default', 'web', (o) => o?.status?.readyReplicas === 3 && o.status.availableReplicas === 3);
    assert.equal(done!.status.replicas, 3);
    assert.equal(done!.status.fullyLabeledReplicas, 3);
    assert.equal(done!.status.observedGeneration, done!.metadata.generation);
    const pods = await activePods(c.client, 'default', 'app=web');
    assert.equal(pods.length, 3);
    for (const p of pods) {
      assert.match(p.metadata.name!, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.equal(p.metadata.generateName, 'web-');
      assert.deepEqual(p.metadata.labels, { app: 'web' });
      assert.deepEqual(p.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web', uid: rs.metadata.uid, controller: true, blockOwnerDeletion: true }]);
      assert.equal(p.status.phase, 'Running');
      assert.ok(p.status.podIP);
    }
    const created = await eventually(async () => {
      const m = await c.events('default', 'web', 'SuccessfulCreate');
      return m.length === 3 ? m : undefined;
    });
    assert.deepEqual(created.sort(), pods.map((p) => `Created pod: ${p.metadata.name}`).sort());
  });

  it('replaces a deleted pod and deletes the surplus, unready first, recording SuccessfulDelete', async () => {
    const [victim] = await activePods(c.client, 'default', 'app=web');
    await c.client.delete(ref.pods, 'default', victim.metadata.name!);
    await eventually(async () => {
      const pods = await activePods(c.client, 'default', 'app=web');
      return pods.length === 3 && pods.every((p) => p.metadata.name !== victim.metadata.name && p.status?.phase === 'Running');
    });
    // A pod held unready (readinessGate never satisfied) must be the one removed on scale down.
    await c.client.patch(ref.replicasets, 'default', 'web', 'merge', { spec: { replicas: 4, template: { spec: { readinessGates: [{ conditionType: 'example.com/never' }] } } } });
    const fresh = await eventually(async () => {
      const pods = await activePods(c.client, 'default', 'app=web');
      const unready = pods.filter((p) => p.spec.readinessGates && p.status?.phase === 'Running');
      return pods.length === 4 && unready.length === 1 ? unready[0] : undefined;
    });
    await c.client.patch(ref.replicasets, 'default', 'web', 'merge', { spec: { replicas: 3 } });
    await eventually(async () => {
      const pods = await activePods(c.client, 'default', 'app=web');
      return pods.length === 3 && !pods.some((p) => p.metadata.name === fresh.metadata.name);
    });
    const deleted = await eventually(async () => {
      const m = await c.events('default', 'web', 'SuccessfulDelete');
      return m.length > 0 ? m : undefined;
    });
    assert.deepEqual(deleted, [`Deleted pod: ${fresh.metadata.name}`]);
  });

  it('adopts a matching orphan and releases a pod whose labels stop matching', async () => {
    await c.client.create(ref.replicasets, 'default', makeReplicaSet('adopt').replicas(2).build());
    await c.waitFor(ref.replicasets, 'default', 'adopt', (o) => o?.status?.readyReplicas === 2);
    // An orphan with matching labels is adopted, and one pod is deleted to keep 2.
    await c.client.create(ref.pods, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'orphan', labels: { app: 'adopt' }, annotations: { 'sim.skiff.dev/stop-seconds': '0' } }, spec: { containers: [{ name: 'app', image: 'nginx' }] } });
    await eventually(async () => {
      const pods = await activePods(c.client, 'default', 'app=adopt');
      return pods.length === 2 && pods.every((p) => p.metadata.ownerReferences?.[0]?.name === 'adopt');
    });
    // Relabel one owned pod: it is released (owner reference removed) and replaced.
    const [owned] = await activePods(c.client, 'default', 'app=adopt');
    await c.client.patch(ref.pods, 'default', owned.metadata.name!, 'merge', { metadata: { labels: { app: 'debug' } } });
    const released = await c.waitFor(ref.pods, 'default', owned.metadata.name!, (p) => !!p && !p.metadata.ownerReferences?.length);
    assert.deepEqual(released!.metadata.labels, { app: 'debug' });
    await eventually(async () => (await activePods(c.client, 'default', 'app=adopt')).length === 2);
  });

  it('never creates more pods than replicas when scaled up fast (expectations)', async () => {
    await c.client.create(ref.replicasets, 'default', makeReplicaSet('burst').replicas(60).build());
    // Nudge it while creations are in flight: status and spec events enqueue it again and again.
    for (let i = 0; i < 10; i++) {
      await c.client.patch(ref.replicasets, 'default', 'burst', 'merge', { metadata: { annotations: { nudge: String(i) } } });
    }
    await c.waitFor(ref.replicasets, 'default', 'burst', (o) => o?.status?.readyReplicas === 60, 30_000);
    const all = await c.client.list(ref.pods, 'default', { labelSelector: 'app=burst' });
    assert.equal(all.items.length, 60, 'no pod created twice');
  });

  it('reports pods the apiserver refuses as FailedCreate events and the ReplicaFailure condition, cleared once creation works', async () => {
    await c.client.create(ref.replicasets, 'default', makeReplicaSet('refused').replicas(2).podSpec({ serviceAccountName: 'nosuch' }).build());
    const rs = await c.waitFor(ref.replicasets, 'default', 'refused', (o) => o?.status?.conditions?.some((x: any) => x.type === 'ReplicaFailure'));
    const cond = rs!.status.conditions.find((x: any) => x.type === 'ReplicaFailure');
    assert.equal(cond.status, 'True');
    assert.equal(cond.reason, 'FailedCreate');
    assert.match(cond.message, /is forbidden: error looking up service account default\/nosuch: serviceaccount "nosuch" not found$/);
    const failed = await eventually(async () => {
      const m = await c.events('default', 'refused', 'FailedCreate');
      return m.length ? m : undefined;
    });
    assert.match(failed[0], /^Error creating: pods "refused-\S*" is forbidden: error looking up service account default\/nosuch/);
    // Slow start: the first failing batch (of 1) stops the sync; nothing was created.
    assert.equal((await activePods(c.client, 'default', 'app=refused')).length, 0);
    await c.client.create(ref.serviceaccounts, 'default', { metadata: { name: 'nosuch' } });
    const fixed = await c.waitFor(ref.replicasets, 'default', 'refused', (o) => o?.status?.readyReplicas === 2, 30_000);
    assert.equal(fixed!.status.conditions, undefined);
  });

  it('counts pods available only minReadySeconds after they became ready', async () => {
    await c.client.create(ref.replicasets, 'default', makeReplicaSet('slow').replicas(2).minReadySeconds(1).build());
    const ready = await c.waitFor(ref.replicasets, 'default', 'slow', (o) => o?.status?.readyReplicas === 2);
    const readyAt = Date.now();
    assert.equal(ready!.status.availableReplicas, undefined, 'ready, not yet available');
    await c.waitFor(ref.replicasets, 'default', 'slow', (o) => o?.status?.availableReplicas === 2, 10_000);
    assert.ok(Date.now() - readyAt >= 500, 'available about a second later');
  });

  it('runs ReplicationControllers the same way', async () => {
    const rc = await c.client.create(ref.replicationcontrollers, 'default', makeReplicationController('legacy').replicas(2).build());
    await c.waitFor(ref.replicationcontrollers, 'default', 'legacy', (o) => o?.status?.readyReplicas === 2);
    const pods = await activePods(c.client, 'default', 'app=legacy');
    assert.equal(pods.length, 2);
    assert.deepEqual(pods[0].metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'ReplicationController', name: 'legacy', uid: rc.metadata.uid, controller: true, blockOwnerDeletion: true }]);
    const events = await eventually(async () => {
      const list = await c.client.list(ref.events, 'default', { fieldSelector: 'involvedObject.name=legacy' });
      return list.items.length === 2 ? list.items : undefined;
    });
    assert.equal(events[0].source.component, 'replication-controller');
  });
});

/** A transport whose watch events each arrive `delayMs` late (in order): a cache lagging behind the controller's own writes. */
function laggingWatches(inner: Transport, delayMs: number): Transport {
  return {
    request: (req) => inner.request(req),
    close: () => inner.close(),
    async stream(req) {
      const r = await inner.stream(req);
      const lines: { line: string; at: number }[] = [];
      let ended = false;
      let wake: (() => void) | undefined;
      void (async () => {
        try {
          for await (const line of r.lines) {
            lines.push({ line, at: Date.now() + delayMs });
            wake?.();
          }
        } finally {
          ended = true;
          wake?.();
        }
      })();
      return {
        status: r.status,
        lines: (async function* () {
          for (;;) {
            const next = lines.shift();
            if (next) {
              const wait = next.at - Date.now();
              if (wait > 0) await new Promise((res) => setTimeout(res, wait));
              yield next.line;
            } else if (ended) return;
            else await new Promise<void>((res) => (wake = res));
          }
        })(),
      };
    },
  };
}

describe('ReplicaSet controller with a lagging cache (integration)', () => {
  let c: ControllerTestCluster;
  before(async () => {
    c = await startControllerTestCluster({ nodes: 2 });
  });
  after(async () => await c?.close());

  it('does not create pods twice while its own creations are not yet in the cache (expectations)', async (t) => {
    const ac = new AbortController();
    t.after(async () => {
      ac.abort();
      await m.done;
    });
    const m = startControllerManager(
      { client: createClient(laggingWatches(c.transport(), 150)), controllers: [replicaSetController()], leaderElection: { enabled: false } },
      ac.signal,
    );
    await m.whenReady();
    await c.client.create(ref.replicasets, 'default', makeReplicaSet('lag').replicas(20).build());
    // Every change to the ReplicaSet triggers a sync while the pod events are still in flight.
    for (let i = 0; i < 15; i++) {
      await c.client.patch(ref.replicasets, 'default', 'lag', 'merge', { metadata: { annotations: { nudge: String(i) } } });
      await new Promise((r) => setTimeout(r, 10));
    }
    await c.waitFor(ref.replicasets, 'default', 'lag', (o) => o?.status?.replicas === 20, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    const all = await c.client.list(ref.pods, 'default', { labelSelector: 'app=lag' });
    assert.equal(all.items.length, 20, 'exactly 20 pods created');
  });
});
