import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, CriRuntime, PodSandbox } from '../cri/types.ts';
import { RuntimeRelist } from './relist.ts';
import * as L from './labels.ts';

/** A runtime holding sandboxes and containers in memory; counts list calls. */
function fakeRuntime() {
  const sandboxes: PodSandbox[] = [];
  const containers: Container[] = [];
  const calls = { listPodSandbox: 0, listContainers: 0 };
  const rt = {
    async listPodSandbox(filter?: { labelSelector?: Record<string, string> }) {
      calls.listPodSandbox++;
      const sel = filter?.labelSelector ?? {};
      return sandboxes.filter((s) => Object.entries(sel).every(([k, v]) => s.labels[k] === v));
    },
    async listContainers() {
      calls.listContainers++;
      return [...containers];
    },
  } as unknown as CriRuntime;
  const sandbox = (id: string, uid: string, node = 'n1') =>
    sandboxes.push({ id, state: 'SANDBOX_READY', labels: { [L.POD_UID]: uid, [L.SKIFF_NODE]: node }, metadata: { name: uid, namespace: 'ns', uid, attempt: 0 }, createdAt: 1 } as unknown as PodSandbox);
  const container = (id: string, sandboxId: string, uid: string, state = 'CONTAINER_RUNNING') =>
    containers.push({ id, podSandboxId: sandboxId, state, labels: { [L.POD_UID]: uid, [L.CONTAINER_NAME]: 'main' }, metadata: { name: 'main', attempt: 0 }, createdAt: 1 } as unknown as Container);
  return { rt, calls, sandboxes, containers, sandbox, container };
}

test('one relist serves every pod of the node, and only this node\'s sandboxes and their containers', async () => {
  const f = fakeRuntime();
  f.sandbox('sa', 'pod-a');
  f.container('ca', 'sa', 'pod-a');
  f.sandbox('sb', 'pod-b');
  f.sandbox('sx', 'pod-x', 'other-node'); // another kubelet's, sharing the runtime
  f.container('cx', 'sx', 'pod-x');
  const r = new RuntimeRelist(f.rt, { nodeName: 'n1', onChange: () => {} });
  assert.equal(r.snapshot('pod-a', -Infinity), undefined, 'no view before the first relist');
  await r.relist();
  assert.deepEqual(f.calls, { listPodSandbox: 1, listContainers: 1 });
  assert.deepEqual(r.snapshot('pod-a', -Infinity)!.containers.map((c) => c.id), ['ca']);
  assert.deepEqual(r.snapshot('pod-b', -Infinity)!.sandboxes.map((s) => s.id), ['sb']);
  assert.deepEqual(r.snapshot('pod-x', -Infinity), { sandboxes: [], containers: [] }, 'another node\'s pod is not ours');
  assert.deepEqual(r.snapshot('pod-new', -Infinity), { sandboxes: [], containers: [] });
});

test('a worker that changed the runtime after a relist began gets no view from it', async () => {
  const f = fakeRuntime();
  f.sandbox('sa', 'pod-a');
  const r = new RuntimeRelist(f.rt, { nodeName: 'n1', onChange: () => {} });
  await r.relist();
  const changedAt = performance.now();
  assert.equal(r.snapshot('pod-a', changedAt), undefined);
  await new Promise((res) => setTimeout(res, 2));
  await r.relist();
  assert.ok(r.snapshot('pod-a', changedAt));
});

test('pods whose sandboxes or containers changed between relists get an event; unchanged ones do not', async () => {
  const f = fakeRuntime();
  f.sandbox('sa', 'pod-a');
  f.container('ca', 'sa', 'pod-a');
  f.sandbox('sb', 'pod-b');
  f.container('cb', 'sb', 'pod-b');
  const changed: string[] = [];
  const r = new RuntimeRelist(f.rt, { nodeName: 'n1', onChange: (uid) => changed.push(uid) });
  await r.relist();
  assert.deepEqual(changed, [], 'the first relist only learns the state');
  await r.relist();
  assert.deepEqual(changed, []);
  f.containers[0].state = 'CONTAINER_EXITED';
  await r.relist();
  assert.deepEqual(changed, ['pod-a']);
  f.sandboxes.splice(1, 1); // pod-b's sandbox removed
  f.sandbox('sc', 'pod-c');
  await r.relist();
  assert.deepEqual(changed.sort(), ['pod-a', 'pod-b', 'pod-c']);
});
