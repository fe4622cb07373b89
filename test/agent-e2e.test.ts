// E2E tier: `skiff agent` as a real node of a control plane in another process, both
// through the skiff command as users run them. `skiff server` (apiserver, controller
// manager with node IPAM on a pod range of its own, scheduler) on a random port, then
// `skiff agent --kubeconfig <its admin kubeconfig> --node-ip 127.0.0.1 --kubelet-port 0`:
//   - `kubectl get nodes` shows the node Ready with upstream's columns;
//   - a pod runs; `kubectl logs` and `kubectl exec` go apiserver → the agent's kubelet API
//     (whose client-certificate check uses the kubeconfig's CA);
//   - a ClusterIP Service answers from the host (the agent's nftables proxy);
//   - SIGTERM stops the agent (exit 0) and the pod keeps running: the next start adopts it
//     (same container, no restart);
//   - --container-runtime-endpoint: a containerd the test starts (the supervisor in
//     src/kubelet/containerd) is used and the agent starts none of its own;
//   - `skiff reset --data-dir` removes the agent's own containerd with the pod it left,
//     bridge, nft tables and routes (named after the kubeconfig's cluster, which reset reads
//     from node-state.json), and leaves the given containerd and its pods alone;
//   - `skiff up`'s own node with the node flags (--hostname-override, --node-ip,
//     --kubelet-port 0, --pod-manifest-path with a static pod, --container-runtime-endpoint
//     on that same containerd), a second cluster with ranges of its own.
// The agent's pods' egress off the machine is dropped (--no-pod-egress; skiff up's static
// pod sends nothing). In CI a missing
// prerequisite fails; locally it skips. Teardown stops the processes by PID, removes the
// test's containerd, runs `skiff reset --data-dir` for the agent and for skiff up, and
// checks no bridge, nft table or route of either cluster is left.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '../src/client/testing.ts';
import { ContainerdSupervisor, resetContainerd } from '../src/kubelet/containerd/index.ts';
import { containerdLayout, type ContainerdLayout } from '../src/kubelet/containerd/config.ts';
import { removeAllPods } from '../src/kubelet/containerd/reset.ts';
import { CriClient } from '../src/kubelet/cri/client.ts';
import { nodeNetworkNames } from '../src/kubelet/network/index.ts';
import { tableName } from '../src/proxy/proxier.ts';
import { buildTestImage, TEST_IMAGES } from './images/build.ts';
import { freeCIDR16, kubectlFor, spawnServer, type Kubectl } from './harness.ts';
import { hostLeftovers, httpGet, realNodePrerequisites } from './real-node.ts';

const MAIN = path.join(import.meta.dirname, '..', 'src', 'cli', 'main.ts');

const { missing, why, skip } = realNodePrerequisites();

const suffix = `${process.pid}-${randomBytes(3).toString('hex')}`;
/** `skiff server --name`; its kubeconfig's cluster (and so the agent's host names) is skiff-<name>. */
const name = `ae-${suffix}`;
const clusterName = `skiff-${name}`;
const nodeName = `ae-node-${suffix}`;
/** bb's process, told apart from other tests' sleepers by its argument. */
const sleeper = `sleep ${randomInt(100_000, 999_999)}`;
const clusterCIDR = missing.length ? '10.81.0.0/16' : freeCIDR16(80, 100);
const serviceCIDR = missing.length ? '10.101.0.0/16' : freeCIDR16(100, 112);
/** `skiff up`'s own node, given the node flags (a second cluster, its own ranges). */
const upName = `au-${suffix}`;
const upClusterName = `skiff-${upName}`;
const upNodeName = `au-node-${suffix}`;
let upClusterCIDR = missing.length ? '10.82.0.0/16' : freeCIDR16(80, 100);
while (upClusterCIDR === clusterCIDR) upClusterCIDR = freeCIDR16(80, 100);
let upServiceCIDR = missing.length ? '10.102.0.0/16' : freeCIDR16(100, 112);
while (upServiceCIDR === serviceCIDR) upServiceCIDR = freeCIDR16(100, 112);
let up: ChildProcess | undefined;
let upErr = '';
let upDataDir = '';
let dir = '';
let agentDataDir = '';
let kubeconfig = '';
let kubectl: Kubectl;
let server: ChildProcess | undefined;
let agent: ChildProcess | undefined;
/** Every agent process the test started (teardown makes sure none is left). */
const agents: ChildProcess[] = [];
/** The current agent's log (stderr). */
let agentErr = '';
/** The containerd the test runs for the --container-runtime-endpoint case. */
let extLayout: ContainerdLayout | undefined;
let ext: ContainerdSupervisor | undefined;
/** bb's container before reset removed it. */
let bbContainer = '';

function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** `skiff agent ...` until it prints that its node runs; rejects with its log if it exits first. */
async function startAgent(extra: string[] = []): Promise<{ child: ChildProcess; line: string }> {
  mkdirSync(path.join(agentDataDir, 'node', 'images'), { recursive: true });
  copyFileSync(buildTestImage('busybox').file, path.join(agentDataDir, 'node', 'images', 'busybox.tar'));
  const child = spawn(process.execPath, [
    MAIN, 'agent',
    '--kubeconfig', kubeconfig,
    '--data-dir', agentDataDir,
    '--node-name', nodeName,
    '--node-ip', '127.0.0.1',
    '--kubelet-port', '0',
    '--cluster-cidr', clusterCIDR,
    '--service-cidr', serviceCIDR,
    '--no-pod-egress',
    ...extra,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  agent = child;
  agents.push(child);
  agentErr = '';
  child.stderr!.on('data', (d) => {
    if (agent === child) agentErr += d;
  });
  let out = '';
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`skiff agent did not start within 90 s:\n${agentErr.split('\n').slice(-30).join('\n')}`)), 90_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /^Node \S+ is running against .*$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`skiff agent exited with ${code}:\n${agentErr.split('\n').slice(-30).join('\n')}`));
    });
  });
  return { child, line };
}

async function stopAgent(): Promise<number | null> {
  const child = agent;
  agent = undefined;
  if (!child) return null;
  const exited = exitOf(child);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  return await exited;
}

function skiff(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0, stdout, stderr });
    });
  });
}

async function podField(pod: string, jsonpath: string): Promise<string> {
  const r = await kubectl(['get', 'pod', pod, '-o', `jsonpath=${jsonpath}`]);
  return r.code === 0 ? r.stdout : '';
}

async function waitRunning(pod: string, timeoutMs = 60_000): Promise<void> {
  await eventually(async () => (await podField(pod, '{.status.phase} {.status.containerStatuses[0].ready}')) === 'Running true', timeoutMs, `${pod} Running and ready`).catch(async (e) => {
    throw new Error(`${(e as Error).message}: ${await podField(pod, '{.status}')}\n${agentErr.split('\n').slice(-20).join('\n')}`);
  });
}

const psLines = (): string[] => execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).split('\n').map((l) => l.trim());
/** How many of bb's processes run on this machine. */
const sleepers = (): number => psLines().filter((l) => l === sleeper).length;

/** What `skiff reset` must leave: no bridge, node or proxy table, or route of the cluster. */
function assertHostClean(cluster = clusterName, pods = clusterCIDR, services = serviceCIDR): void {
  assert.deepEqual(hostLeftovers(cluster, [pods, services]), [], `bridge, nft tables and routes of ${cluster} removed`);
}

describe('skiff agent: a real node of a control plane in another process', { skip }, () => {
  before(async () => {
    if (missing.length) throw new Error(`prerequisites for a real node: ${why}`);
    dir = mkdtempSync(path.join(tmpdir(), 'skiff-agent-e2e-'));
    agentDataDir = path.join(dir, 'agent');
    const srv = await spawnServer(path.join(dir, 'server'), ['--name', name, '--pod-network-cidr', clusterCIDR, '--service-cluster-ip-range', serviceCIDR]);
    server = srv.child;
    kubeconfig = srv.kubeconfig;
    const home = path.join(dir, 'home');
    mkdirSync(home);
    kubectl = kubectlFor(kubeconfig, home);
  });

  after(async () => {
    if (process.env.SKIFF_NODE_TEST_LOG) console.log(agentErr);
    await stopAgent();
    if (up && up.exitCode === null && up.signalCode === null) {
      const exited = exitOf(up);
      up.kill('SIGTERM');
      await exited;
    }
    for (const a of agents) {
      if (a.exitCode === null && a.signalCode === null) {
        const exited = exitOf(a);
        a.kill('SIGTERM');
        await exited;
      }
    }
    if (extLayout) {
      // The test's own containerd: its pods first (while it answers), then it and its state.
      const cri = new CriClient(extLayout.endpoint);
      if (ext?.pid) await removeAllPods(cri).catch(() => {});
      cri.close();
      await ext?.stop();
      await resetContainerd(extLayout, { removeRoot: true });
    }
    let reset: Awaited<ReturnType<typeof skiff>> | undefined;
    let upReset: Awaited<ReturnType<typeof skiff>> | undefined;
    if (agentDataDir && !missing.length) reset = await skiff(['reset', '--data-dir', agentDataDir]);
    if (upDataDir && !missing.length) upReset = await skiff(['reset', '--name', upName, '--data-dir', upDataDir]);
    if (server) {
      const exited = exitOf(server);
      server.kill('SIGTERM');
      await exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (reset) {
      assert.equal(reset.code, 0, reset.stderr);
      assertHostClean();
    }
    if (upReset) {
      assert.equal(upReset.code, 0, upReset.stderr);
      assertHostClean(upClusterName, upClusterCIDR, upServiceCIDR);
    }
  });

  test('the node registers and is Ready in kubectl get nodes; a pod runs; logs and exec go through the agent\'s kubelet', async () => {
    const { line } = await startAgent();
    assert.match(line, new RegExp(`^Node ${nodeName} is running against https://127\\.0\\.0\\.1:\\d+ \\(pod range 10\\.\\d+\\.\\d+\\.0/24, kubelet on port \\d+, runtime unix:///run/skiff/${clusterName}/containerd/containerd\\.sock\\)$`));
    const row = await eventually(async () => {
      const r = await kubectl(['get', 'nodes']);
      const l = r.stdout.split('\n').find((x) => x.startsWith(`${nodeName} `));
      return l && /\sReady\s/.test(l) ? r.stdout : undefined;
    }, 60_000, `${nodeName} Ready`);
    const [header, ...rows] = row.trim().split('\n');
    assert.match(header, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/);
    assert.equal(rows.length, 1);
    assert.match(rows[0], new RegExp(`^${nodeName}\\s+Ready\\s+<none>\\s+\\d+s\\s+v1\\.32\\.\\d+\\S*$`));
    const wide = await kubectl(['get', 'node', nodeName, '-o', 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address} {.spec.podCIDR}']);
    const [ip, podCIDR] = wide.stdout.split(' ');
    assert.equal(ip, '127.0.0.1');
    assert.ok(podCIDR.startsWith(clusterCIDR.replace('.0.0/16', '.')), `podCIDR ${podCIDR} from the server's --pod-network-cidr ${clusterCIDR}`);

    const run = await kubectl(['run', 'bb', `--image=${TEST_IMAGES.busybox}`, '--image-pull-policy=Never', '--', 'sh', '-c', `echo hello from the agent; exec ${sleeper}`]);
    assert.equal(run.code, 0, run.stderr);
    await waitRunning('bb');
    assert.equal(await podField('bb', '{.spec.nodeName}'), nodeName);
    const logs = await eventually(async () => {
      const r = await kubectl(['logs', 'bb']);
      return r.code === 0 && r.stdout ? r.stdout : undefined;
    }, 15_000, 'kubectl logs bb');
    assert.equal(logs, 'hello from the agent\n');
    const ex = await kubectl(['exec', 'bb', '--', 'cat', '/etc/hostname']);
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(ex.stdout, 'bb\n');
    // the kubelet API answers only clients with a certificate from the kubeconfig's CA (the apiserver's above)
    const port = Number(await kubectl(['get', 'node', nodeName, '-o', 'jsonpath={.status.daemonEndpoints.kubeletEndpoint.Port}']).then((r) => r.stdout));
    const anonymous = await new Promise<number>((resolve, reject) => {
      https.get({ host: '127.0.0.1', port, path: '/pods', rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    assert.equal(anonymous, 401, 'the kubelet API refuses a client without a certificate');
  });

  test('a ClusterIP Service answers from the host through the agent\'s proxy', async () => {
    const manifest = `
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: httpd
    image: ${TEST_IMAGES.busybox}
    imagePullPolicy: Never
    command: [sh, -c, 'mkdir -p /www; echo served by $(hostname) > /www/index.html; exec httpd -f -p 80 -h /www']
    readinessProbe:
      tcpSocket: {port: 80}
      periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 8080, targetPort: 80}]
`;
    const applied = await kubectl(['apply', '-f', '-'], { stdin: manifest });
    assert.equal(applied.code, 0, applied.stderr);
    await waitRunning('web');
    const clusterIP = (await kubectl(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}'])).stdout;
    assert.ok(clusterIP.startsWith(serviceCIDR.replace('.0.0/16', '.')), `ClusterIP ${clusterIP} in ${serviceCIDR}`);
    // the endpoint reaches the agent's rules within a sync or two
    const page = await eventually(async () => (await httpGet(clusterIP, 8080).catch(() => undefined))?.body, 30_000, `http://${clusterIP}:8080/`);
    assert.equal(page, 'served by web\n');
  });

  test('SIGTERM stops the agent and the pod keeps running; the next start adopts it', async () => {
    const before = await podField('bb', '{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}');
    assert.match(before, /^containerd:\/\/[0-9a-f]{64} 0$/);
    bbContainer = before.split(' ')[0];
    assert.equal(await stopAgent(), 0, `the agent exits 0 on SIGTERM:\n${agentErr.split('\n').slice(-10).join('\n')}`);
    // the container's process outlives the agent and its containerd
    assert.equal(sleepers(), 1, 'the pod\'s process is still running');
    const { line } = await startAgent();
    assert.match(line, new RegExp(`^Node ${nodeName} is running`));
    await waitRunning('bb');
    assert.equal(await podField('bb', '{.status.containerStatuses[0].containerID} {.status.containerStatuses[0].restartCount}'), before, 'same container, no restart');
    const ex = await kubectl(['exec', 'bb', '--', 'echo', 'still here']);
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(ex.stdout, 'still here\n');
    assert.equal(await stopAgent(), 0);
  });

  test('--container-runtime-endpoint: the agent uses that containerd and starts none of its own', async () => {
    extLayout = containerdLayout({ clusterName: `ext-${suffix}`, dataDir: path.join(dir, 'ext') });
    ext = new ContainerdSupervisor({ layout: extLayout });
    await ext.start();
    // same data dir, no reset: the previous run's own containerd is stopped, its pod still runs
    const own = containerdLayout({ clusterName, dataDir: path.join(agentDataDir, 'node') });
    const { line } = await startAgent(['--container-runtime-endpoint', extLayout.endpoint]);
    assert.ok(line.endsWith(`runtime ${extLayout.endpoint})`), line);
    assert.ok(!psLines().some((l) => l.includes(own.configPath)), `no containerd of the agent's own (${own.configPath})`);
    // bb is still bound to this node but the given containerd has no container of it: the kubelet runs it there
    await eventually(async () => {
      const id = (await podField('bb', '{.status.containerStatuses[0].containerID}'));
      return id.startsWith('containerd://') && id !== bbContainer;
    }, 60_000, 'bb in a new container').catch((e) => {
      throw new Error(`${(e as Error).message}\n${agentErr.split('\n').slice(-20).join('\n')}`);
    });
    await waitRunning('bb');
    const cri = new CriClient(extLayout.endpoint);
    try {
      const sandboxes = await cri.listPodSandbox();
      assert.ok(sandboxes.some((s) => s.metadata?.name === 'bb' && s.metadata?.namespace === 'default'), `bb's sandbox in the given containerd: ${sandboxes.map((s) => s.metadata?.name).join(', ')}`);
      const containers = await cri.listContainers();
      const id = (await podField('bb', '{.status.containerStatuses[0].containerID}')).replace('containerd://', '');
      assert.ok(containers.some((c) => c.id === id), 'bb\'s container is in the given containerd');
    } finally {
      cri.close();
    }
    const ex = await kubectl(['exec', 'bb', '--', 'echo', 'on the external runtime']);
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(ex.stdout, 'on the external runtime\n');
    assert.equal(sleepers(), 2, 'the first container (own containerd, adopted once) and the new one');
    assert.equal(await stopAgent(), 0);
    assert.ok(ext.pid, 'the given containerd keeps running after the agent stops');
  });

  test('skiff reset --data-dir removes the agent\'s containerd, pods, bridge, nft tables and routes; the given containerd keeps its pods', async () => {
    const names = nodeNetworkNames(clusterName);
    assert.ok(execFileSync('ip', ['link', 'show'], { encoding: 'utf8' }).includes(names.bridge), 'the bridge is there before reset');
    // no --name: the cluster name comes from the node's node-state.json (the kubeconfig's cluster)
    const r = await skiff(['reset', '--data-dir', agentDataDir]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    // the last run used the given containerd, but the first runs' own containerd left its pods here
    assert.ok(lines.some((l) => l.startsWith(`removed containerd of ${clusterName} with its pods`)), r.stdout);
    assert.ok(lines.includes(`removed bridge ${names.bridge}`), r.stdout);
    assert.ok(lines.includes(`removed nft table inet ${names.nftTable}`), r.stdout);
    assert.ok(lines.some((l) => l.startsWith('removed nft ') && l.endsWith(`${tableName(clusterName)} (service proxy)`)), r.stdout);
    assert.ok(lines.includes(`removed data dir ${agentDataDir}`), r.stdout);
    assertHostClean();
    assert.ok(!existsSync(agentDataDir));
    assert.equal(sleepers(), 1, 'the own containerd\'s container is gone; the given containerd\'s stays');
    const cri = new CriClient(extLayout!.endpoint);
    try {
      assert.ok((await cri.listPodSandbox()).some((s) => s.metadata?.name === 'bb'), 'bb\'s sandbox is still in the given containerd');
    } finally {
      cri.close();
    }
  });

  test('skiff up\'s own node takes the node flags: name, IP, kubelet port, static pods, an existing containerd', async () => {
    assert.ok(extLayout && ext?.pid, 'the containerd of the previous test runs');
    // the agent's pods go first: this containerd now serves another node
    const cri = new CriClient(extLayout.endpoint);
    try {
      await removeAllPods(cri);
      upDataDir = path.join(dir, 'up');
      const manifests = path.join(dir, 'manifests');
      mkdirSync(manifests);
      writeFileSync(path.join(manifests, 'static-web.yaml'), `apiVersion: v1
kind: Pod
metadata: {name: static-web}
spec:
  containers:
  - name: main
    image: ${TEST_IMAGES.busybox}
    imagePullPolicy: Never
    command: [sh, -c, 'echo static on $(hostname); exec sleep 3600']
`);
      const home = path.join(dir, 'home-up');
      mkdirSync(home);
      up = spawn(process.execPath, [
        MAIN, 'up', '--name', upName, '--data-dir', upDataDir,
        '--bind-address', '127.0.0.1', '--bind-port', '0', '--advertise-address', '127.0.0.1', '--no-merge-kubeconfig',
        '--pod-network-cidr', upClusterCIDR, '--service-cluster-ip-range', upServiceCIDR,
        '--hostname-override', upNodeName.toUpperCase(), '--node-ip', '127.0.0.1', '--kubelet-port', '0',
        '--pod-manifest-path', manifests, '--container-runtime-endpoint', extLayout.endpoint,
      ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOME: home } });
      const child = up;
      upErr = '';
      child.stderr!.on('data', (d) => (upErr += d));
      let out = '';
      const upKubeconfig = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`skiff up did not start:\n${upErr.split('\n').slice(-30).join('\n')}`)), 90_000);
        child.stdout!.on('data', (d) => {
          out += d;
          const m = /export KUBECONFIG=(\S+)\n/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`skiff up exited with ${code}:\n${upErr.split('\n').slice(-30).join('\n')}`));
        });
      });
      assert.match(upErr, new RegExp(`msg="using existing container runtime" endpoint=${extLayout.endpoint.replaceAll('/', '\\/').replaceAll('.', '\\.')}`));
      const kubectlUp = kubectlFor(upKubeconfig, home);
      const addr = await kubectlUp(['get', 'node', upNodeName, '-o', 'jsonpath={.status.addresses[?(@.type=="InternalIP")].address} {.status.daemonEndpoints.kubeletEndpoint.Port}']);
      assert.equal(addr.code, 0, addr.stderr);
      const [ip, port] = addr.stdout.split(' ');
      assert.equal(ip, '127.0.0.1');
      assert.match(upErr, new RegExp(`msg="node ready" node=${upNodeName} podCIDR=\\S+ kubeletPort=${port}\\b`));
      // the static pod runs, with its mirror pod in the API; its log comes through the kubelet API on that port
      const mirror = `static-web-${upNodeName}`;
      await eventually(async () => {
        const r = await kubectlUp(['get', 'pod', mirror, '-o', 'jsonpath={.status.phase} {.metadata.annotations.kubernetes\\.io/config\\.mirror}']);
        return /^Running \S+$/.test(r.stdout);
      }, 60_000, `mirror pod ${mirror} Running`).catch((e) => {
        throw new Error(`${(e as Error).message}\n${upErr.split('\n').slice(-20).join('\n')}`);
      });
      const logs = await eventually(async () => {
        const r = await kubectlUp(['logs', mirror]);
        return r.code === 0 && r.stdout ? r.stdout : undefined;
      }, 15_000, `kubectl logs ${mirror}`);
      assert.equal(logs, `static on ${mirror}\n`);
      const sandboxes = await cri.listPodSandbox();
      assert.ok(sandboxes.some((s) => s.metadata?.name === mirror), `the static pod's sandbox is in the given containerd: ${sandboxes.map((s) => s.metadata?.name).join(', ')}`);
      const exited = exitOf(child);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, 'skiff up exits 0 on SIGTERM');
      assert.ok(!existsSync(containerdLayout({ clusterName: upClusterName, dataDir: path.join(upDataDir, 'node') }).socket), 'skiff up started no containerd of its own');
      await removeAllPods(cri);
    } finally {
      cri.close();
    }
  });
});
