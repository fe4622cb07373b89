// E2E tier: the kubelet on real containers — an in-process apiserver (port 0, temp dir),
// skiff's own containerd on a temp data dir with the test images imported, and a kubelet
// registering this machine as a node. Pods are bound by setting spec.nodeName (no
// scheduler). Until the CNI work lands every pod runs on the node's network.
// In CI a missing prerequisite fails; locally it skips. Teardown removes the pods,
// containerd, its state and the pods' cgroups.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startApiServer, type ApiServer } from '../src/apiserver/server.ts';
import { inProcessTransport } from '../src/client/inprocess.ts';
import { createClient } from '../src/client/rest.ts';
import { ref } from '../src/client/resources.ts';
import type { Client } from '../src/client/types.ts';
import { eventually, ADMIN } from '../src/client/testing.ts';
import type { KObject } from '../src/api/object.ts';
import { resetContainerd, type NodeRuntime } from '../src/kubelet/containerd/index.ts';
import { containerdLayout, type ContainerdLayout } from '../src/kubelet/containerd/config.ts';
import { missingForContainers, installCommand, checkPrerequisites } from '../src/kubelet/containerd/prereqs.ts';
import { removeAllPods, removeCgroup } from '../src/kubelet/containerd/reset.ts';
import { staticBusybox } from '../src/kubelet/images/pause.ts';
import { startNode, type Kubelet, type RunningNode } from '../src/kubelet/kubelet.ts';
import { buildTestImage, TEST_IMAGES } from './images/build.ts';

const missing = missingForContainers(checkPrerequisites());
if (!staticBusybox()) missing.push({ name: 'busybox-static', status: 'fail', detail: 'the test image', packages: ['busybox-static'] });
const why = missing.length ? `missing ${missing.map((c) => `${c.name} (${c.detail})`).join('; ')}; ${installCommand(missing) ?? ''}` : '';
const skip = missing.length > 0 && !process.env.CI ? why : false;

const suffix = `${process.pid}-${randomBytes(3).toString('hex')}`;
const clusterName = `kl-${suffix}`;
const nodeName = `kl-node-${suffix}`;
let dir = '';
let layout: ContainerdLayout;
let rt: NodeRuntime;
let server: ApiServer;
let client: Client;
let kubelet: Kubelet;
let node: RunningNode;
let manifests = '';
let stop = new AbortController();
const logs: string[] = [];

function pod(name: string, spec: Record<string, any>): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName, terminationGracePeriodSeconds: 1, ...spec },
  };
}

function busybox(name: string, script: string, extra: Record<string, any> = {}): Record<string, any> {
  return { name, image: TEST_IMAGES.busybox, command: ['sh', '-c', script], ...extra };
}

async function getPod(name: string): Promise<KObject | undefined> {
  return await client.get(ref.pods, 'default', name).catch(() => undefined);
}

async function waitPod(name: string, check: (p: KObject) => boolean, timeoutMs = 20_000): Promise<KObject> {
  let last: KObject | undefined;
  try {
    return await eventually(async () => {
      last = await getPod(name);
      return last && check(last) ? last : undefined;
    }, timeoutMs, `pod ${name}`);
  } catch (e) {
    throw new Error(`${(e as Error).message}; last status: ${JSON.stringify(last?.status)}`);
  }
}

async function events(name: string): Promise<{ reason: string; message: string }[]> {
  const list = await client.list(ref.events, 'default');
  return list.items.filter((e) => e.involvedObject?.name === name).map((e) => ({ reason: e.reason, message: e.message }));
}

function nodeOptions() {
  return {
    clusterName,
    dataDir: path.join(dir, 'node'),
    // the identity a kubelet's certificate carries
    client: createClient(inProcessTransport({ serve: (req, res) => server.serve(req, res) }, { name: `system:node:${nodeName}`, groups: ['system:nodes', 'system:authenticated'] })),
    nodeName,
    clusterDNS: ['10.96.0.10'],
    podManifestPath: manifests,
    nodeIP: '127.0.0.1',
    log: (msg: string, fields?: Record<string, unknown>) => logs.push(`${msg} ${JSON.stringify(fields ?? {})}`),
  };
}

describe('kubelet on containerd', { skip }, () => {
  before(async () => {
    if (missing.length) throw new Error(`prerequisites for real containers: ${why}`);
    dir = mkdtempSync(path.join(tmpdir(), 'skiff-kubelet-'));
    layout = containerdLayout({ clusterName, dataDir: path.join(dir, 'node') });
    mkdirSync(path.join(dir, 'node', 'images'), { recursive: true });
    copyFileSync(buildTestImage('busybox').file, path.join(dir, 'node', 'images', 'busybox.tar'));
    manifests = path.join(dir, 'manifests');
    mkdirSync(manifests);
    server = await startApiServer({ dataDir: path.join(dir, 'api'), bindAddress: '127.0.0.1', bindPort: 0, advertiseAddress: '127.0.0.1' });
    client = createClient(inProcessTransport({ serve: (req, res) => server.serve(req, res) }, ADMIN));
    await client.create(ref.serviceaccounts, 'default', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }).catch(() => undefined);
    node = await startNode(nodeOptions(), stop.signal);
    rt = node.runtime;
    kubelet = node.kubelet;
    await kubelet.ready;
  });

  after(async () => {
    if (process.env.SKIFF_KUBELET_TEST_LOG) writeFileSync(process.env.SKIFF_KUBELET_TEST_LOG, logs.join('\n'));
    if (rt?.supervisor?.pid) await removeAllPods(rt.cri); // while our containerd still answers
    await node?.stop();
    if (layout) await resetContainerd(layout, { removeRoot: true });
    if (rt && rt.cgroupDriver !== 'systemd') await removeCgroup(`/skiff-${nodeName}`);
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('pods', { concurrency: true }, () => {
  test('node registered with host capacity, nodeInfo and a lease', async () => {
    const node = await client.get(ref.nodes, undefined, nodeName);
    assert.equal(node.status.nodeInfo.kubeletVersion, 'v1.32.4-skiff');
    assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\//);
    assert.equal(node.status.capacity.pods, '110');
    assert.ok(Number(node.status.capacity.cpu) >= 1);
    assert.match(node.status.capacity.memory, /^\d+Ki$/);
    assert.equal(node.status.conditions.find((c: any) => c.type === 'Ready')?.status, 'True');
    const lease = await client.get(ref.leases, 'kube-node-lease', nodeName);
    assert.equal(lease.spec.holderIdentity, nodeName);
  });

  test('echo hello; sleep: Running with a containerStatus, env expanded, log written', async () => {
    await client.create(ref.configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'greeting' }, data: { WHO: 'world' } });
    await client.create(ref.pods, 'default', pod('hello', {
      containers: [busybox('main', 'echo hello $(WHO) $POD; sleep 3600', {
        env: [
          { name: 'WHO', valueFrom: { configMapKeyRef: { name: 'greeting', key: 'WHO' } } },
          { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        ],
      })],
    }));
    const p = await waitPod('hello', (p) => p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready === true);
    const cs = p.status.containerStatuses[0];
    assert.ok(cs.state.running?.startedAt);
    assert.match(cs.containerID, /^containerd:\/\/[0-9a-f]{64}$/);
    assert.equal(cs.restartCount, 0);
    assert.equal(cs.started, true);
    assert.ok(cs.imageID);
    assert.equal(p.status.hostIP, '127.0.0.1');
    assert.equal(p.status.conditions.find((c: any) => c.type === 'Ready')?.status, 'True');
    const logFile = path.join(dir, 'node', 'kubelet', 'pods', `default_hello_${p.metadata.uid}`, 'main', '0.log');
    await eventually(() => existsSync(logFile) && readFileSync(logFile, 'utf8').includes('hello world hello'), 5000, 'log line');
    const ev = await eventually(async () => {
      const e = await events('hello');
      return e.some((x) => x.reason === 'Started') ? e : undefined;
    }, 5000, 'events');
    assert.ok(ev.some((e) => e.reason === 'Pulled' && e.message.includes('already present on machine')));
    assert.ok(ev.some((e) => e.reason === 'Created' && e.message === 'Created container: main'));
    assert.ok(ev.some((e) => e.reason === 'Started' && e.message === 'Started container main'));
    await client.delete(ref.pods, 'default', 'hello');
    await eventually(async () => (await getPod('hello')) === undefined, 15_000, 'hello deleted');
  });

  test('exit 1: CrashLoopBackOff with a growing restartCount', async () => {
    await client.create(ref.pods, 'default', pod('crash', { containers: [busybox('main', 'echo bye > /dev/termination-log; exit 1')] }));
    const p = await waitPod('crash', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff', 20_000);
    const cs = p.status.containerStatuses[0];
    assert.match(cs.state.waiting.message, /^back-off 10s restarting failed container=main pod=crash_default\(/);
    assert.equal(cs.lastState.terminated.exitCode, 1);
    assert.equal(cs.lastState.terminated.reason, 'Error');
    assert.equal(cs.lastState.terminated.message, 'bye\n');
    await waitPod('crash', (p) => p.status?.containerStatuses?.[0]?.restartCount >= 2, 25_000);
    const ev = await events('crash');
    assert.ok(ev.some((e) => e.reason === 'BackOff' && e.message.startsWith('Back-off restarting failed container main in pod crash_default(')));
  });

  test('init containers run in order before the app', async () => {
    await client.create(ref.pods, 'default', pod('init', {
      initContainers: [busybox('first', 'sleep 1'), busybox('second', 'sleep 1')],
      containers: [busybox('app', 'sleep 3600')],
    }));
    const p = await waitPod('init', (p) => p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.state?.running);
    const [first, second] = p.status.initContainerStatuses;
    assert.equal(first.state.terminated.reason, 'Completed');
    assert.equal(second.state.terminated.exitCode, 0);
    assert.ok(Date.parse(first.state.terminated.finishedAt) <= Date.parse(second.state.terminated.startedAt));
    assert.ok(Date.parse(second.state.terminated.finishedAt) <= Date.parse(p.status.containerStatuses[0].state.running.startedAt));
    assert.equal(p.status.conditions.find((c: any) => c.type === 'Initialized')?.status, 'True');
  });

  test('a failing liveness probe restarts the container', async () => {
    await client.create(ref.pods, 'default', pod('live', {
      containers: [busybox('main', 'sleep 3600', { livenessProbe: { exec: { command: ['cat', '/tmp/healthy'] }, periodSeconds: 1, failureThreshold: 2 } })],
    }));
    await waitPod('live', (p) => p.status?.containerStatuses?.[0]?.restartCount >= 1, 25_000);
    const ev = await events('live');
    assert.ok(ev.some((e) => e.reason === 'Unhealthy' && e.message.startsWith('Liveness probe failed: ')), JSON.stringify(ev));
    assert.ok(ev.some((e) => e.reason === 'Killing' && e.message === 'Container main failed liveness probe, will be restarted'));
  });

  test('a readiness probe flips Ready', async () => {
    await client.create(ref.pods, 'default', pod('ready', {
      containers: [busybox('main', 'sleep 3600', { readinessProbe: { exec: { command: ['cat', '/tmp/ready'] }, periodSeconds: 1, failureThreshold: 1 } })],
    }));
    let p = await waitPod('ready', (p) => p.status?.containerStatuses?.[0]?.state?.running);
    assert.equal(p.status.conditions.find((c: any) => c.type === 'Ready')?.status, 'False');
    const id = p.status.containerStatuses[0].containerID.replace('containerd://', '');
    await rt.cri.execSync(id, { cmd: ['touch', '/tmp/ready'], timeout: 5 });
    p = await waitPod('ready', (p) => p.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True');
    assert.equal(p.status.containerStatuses[0].ready, true);
    await rt.cri.execSync(id, { cmd: ['rm', '/tmp/ready'], timeout: 5 });
    p = await waitPod('ready', (p) => p.status?.conditions?.find((c: any) => c.type === 'Ready')?.status === 'False');
    assert.equal(p.status.conditions.find((c: any) => c.type === 'ContainersReady')?.reason, 'ContainersNotReady');
  });

  test('preStop runs, then SIGTERM; a trapping container gets its grace period', async () => {
    await client.create(ref.pods, 'default', pod('graceful', {
      terminationGracePeriodSeconds: 20,
      containers: [busybox('main', 'trap "echo TERM; sleep 2; echo BYE; exit 0" TERM; echo up; while true; do sleep 0.2; done', {
        lifecycle: { preStop: { exec: { command: ['sh', '-c', 'echo prestop > /proc/1/fd/1'] } } },
      })],
    }));
    const p = await waitPod('graceful', (p) => p.status?.containerStatuses?.[0]?.state?.running);
    const logFile = path.join(dir, 'node', 'kubelet', 'pods', `default_graceful_${p.metadata.uid}`, 'main', '0.log');
    await client.delete(ref.pods, 'default', 'graceful');
    const seen = await eventually(() => {
      const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      return text.includes('TERM') ? text : undefined;
    }, 15_000, 'SIGTERM to reach the trap');
    const termAt = Date.now();
    assert.ok(seen.indexOf('prestop') >= 0 && seen.indexOf('prestop') < seen.indexOf('TERM'), seen);
    await eventually(async () => (await getPod('graceful')) === undefined, 15_000, 'graceful deleted');
    // the trap sleeps 2 s after SIGTERM and exits 0: no SIGKILL cut it short
    assert.ok(Date.now() - termAt >= 1500, `deleted ${Date.now() - termAt} ms after SIGTERM`);
    await eventually(() => !existsSync(logFile), 5000, 'the pod\'s logs to go with it');
    const ev = await events('graceful');
    assert.ok(ev.some((e) => e.reason === 'Killing' && e.message === 'Stopping container main'));
  });

  test('imagePullPolicy Never with a missing image: ErrImageNeverPull', async () => {
    await client.create(ref.pods, 'default', pod('never', { containers: [{ name: 'main', image: 'skiff-test/absent:1', imagePullPolicy: 'Never' }] }));
    const p = await waitPod('never', (p) => p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'ErrImageNeverPull');
    assert.equal(p.status.containerStatuses[0].state.waiting.message, 'Container image "skiff-test/absent:1" is not present with pull policy of Never');
    assert.equal(p.status.phase, 'Pending');
  });

  test('a 20Mi memory limit OOMKills a hog', async () => {
    await client.create(ref.pods, 'default', pod('hog', {
      restartPolicy: 'Never',
      containers: [busybox('main', 'x=$(head -c 100000000 /dev/zero | tr "\\0" a); echo survived', { resources: { limits: { memory: '20Mi' } } })],
    }));
    const p = await waitPod('hog', (p) => p.status?.phase === 'Failed', 20_000);
    assert.equal(p.status.containerStatuses[0].state.terminated.reason, 'OOMKilled');
    assert.equal(p.status.containerStatuses[0].state.terminated.exitCode, 137);
  });

  test('a sidecar (restartable init container) keeps running beside the app', async () => {
    await client.create(ref.pods, 'default', pod('sidecar', {
      initContainers: [busybox('log-shipper', 'sleep 3600', { restartPolicy: 'Always' })],
      containers: [busybox('app', 'sleep 3600')],
    }));
    const p = await waitPod('sidecar', (p) => p.status?.phase === 'Running' && p.status.conditions?.find((c: any) => c.type === 'Ready')?.status === 'True');
    const side = p.status.initContainerStatuses[0];
    assert.ok(side.state.running);
    assert.equal(side.started, true);
    assert.equal(side.ready, true);
    assert.ok(Date.parse(side.state.running.startedAt) <= Date.parse(p.status.containerStatuses[0].state.running.startedAt));
  });

  test('activeDeadlineSeconds: the pod is stopped and Failed with DeadlineExceeded', async () => {
    await client.create(ref.pods, 'default', pod('deadline', { activeDeadlineSeconds: 2, containers: [busybox('main', 'sleep 3600')] }));
    const p = await waitPod('deadline', (p) => p.status?.phase === 'Failed', 20_000);
    assert.equal(p.status.reason, 'DeadlineExceeded');
    assert.equal(p.status.message, 'Pod was active on the node longer than the specified deadline');
    assert.ok(p.status.containerStatuses[0].state.terminated);
  });

  test('postStart runs in the container before it counts as started', async () => {
    await client.create(ref.pods, 'default', pod('hooks', {
      containers: [busybox('main', 'sleep 3600', { lifecycle: { postStart: { exec: { command: ['touch', '/tmp/post-started'] } } } })],
    }));
    const p = await waitPod('hooks', (p) => p.status?.containerStatuses?.[0]?.state?.running);
    const r = await rt.cri.execSync(p.status.containerStatuses[0].containerID.replace('containerd://', ''), { cmd: ['ls', '/tmp/post-started'], timeout: 5 });
    assert.equal(r.exitCode, 0);
  });

  test('a static pod runs and gets its mirror pod', async () => {
    writeFileSync(path.join(manifests, 'web.yaml'), `apiVersion: v1
kind: Pod
metadata:
  name: static-web
spec:
  containers:
  - name: web
    image: ${TEST_IMAGES.busybox}
    command: ["sleep", "3600"]
`);
    const name = `static-web-${nodeName}`;
    const m = await waitPod(name, (p) => p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready === true);
    assert.ok(m.metadata.annotations?.['kubernetes.io/config.mirror']);
    assert.equal(m.metadata.annotations?.['kubernetes.io/config.source'], 'file');
    const node = await client.get(ref.nodes, undefined, nodeName);
    assert.deepEqual(m.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: node.metadata.uid, controller: true }]);
    unlinkSync(path.join(manifests, 'web.yaml'));
    await eventually(async () => (await getPod(name)) === undefined, 15_000, 'mirror pod removed');
  });
  });

  test('a restarted node (kubelet and containerd) adopts running containers instead of restarting them', async () => {
    await client.create(ref.pods, 'default', pod('adopt', { containers: [busybox('main', 'sleep 3600')] }));
    const before = await waitPod('adopt', (p) => p.status?.phase === 'Running' && p.status.containerStatuses?.[0]?.ready === true);
    await node.stop();
    stop = new AbortController();
    node = await startNode(nodeOptions(), stop.signal);
    rt = node.runtime;
    kubelet = node.kubelet;
    // two full sync passes of the new kubelet's worker: anything it would restart, it has
    await eventually(() => (kubelet.workers.get(before.metadata.uid!)?.syncs ?? 0) >= 2, 10_000, 'the new kubelet to sync the pod');
    const after = await waitPod('adopt', (p) => p.status?.phase === 'Running');
    assert.equal(after.status.containerStatuses[0].containerID, before.status.containerStatuses[0].containerID);
    assert.equal(after.status.containerStatuses[0].restartCount, 0);
    const sandboxes = await rt.cri.listPodSandbox({ labelSelector: { 'io.kubernetes.pod.uid': before.metadata.uid! } });
    assert.equal(sandboxes.length, 1, 'no second sandbox');
    await client.delete(ref.pods, 'default', 'adopt');
    await eventually(async () => (await getPod('adopt')) === undefined, 15_000, 'adopt deleted');
  });
});
