// E2E tier: pod networking on the real stack — the node network (bridge, nft table,
// routes, CNI conflist) set up on this machine, the cluster's own containerd on a temp
// data dir calling the Debian CNI plugins, busybox pods talking across the bridge.
// Traffic stays on the machine: pods, the bridge address and the host only; pods may not
// forward off the node (allowEgress false). A random podCIDR inside 10.244.0.0/16 and
// per-cluster names and route metrics keep parallel runs apart.
// Teardown removes everything: pods, containerd, the bridge, nft table, routes, CNI state.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { startRuntime, resetContainerd, type NodeRuntime } from '../src/kubelet/containerd/index.ts';
import { containerdLayout, type ContainerdLayout } from '../src/kubelet/containerd/config.ts';
import { checkPrerequisites, installCommand, missingForContainers } from '../src/kubelet/containerd/prereqs.ts';
import { removeAllPods, removeCgroup } from '../src/kubelet/containerd/reset.ts';
import { staticBusybox } from '../src/kubelet/images/pause.ts';
import type { Input, PodSandboxConfig, PortMapping } from '../src/kubelet/cri/types.ts';
import { nodeNetworkNames, parseCidr, runtimeCniConfDir, setupNodeNetwork, teardownNodeNetwork, type NodeNetwork, type NodeNetworkOptions } from '../src/kubelet/network/index.ts';
import { cidrContains } from '../src/kubelet/network/config.ts';
import { buildTestImage, TEST_IMAGES } from './images/build.ts';

const checks = checkPrerequisites();
const missing = [...missingForContainers(checks), ...checks.filter((c) => ['cni plugins', 'nft', 'ip'].includes(c.name) && c.status === 'fail')];
if (!staticBusybox()) missing.push({ name: 'busybox-static', status: 'fail', detail: 'the test image', packages: ['busybox-static'] });
const why = missing.length ? `missing ${missing.map((c) => `${c.name} (${c.detail})`).join('; ')}; ${installCommand(missing) ?? ''}` : '';
const skip = missing.length > 0 && !process.env.CI ? why : false;

const clusterName = `nw-${process.pid}-${randomBytes(3).toString('hex')}`;
const names = nodeNetworkNames(clusterName);
/** A /24 no route on this machine uses yet (parallel runs, other clusters). */
function freePodCIDR(): string {
  const routes = execFileSync('ip', ['route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (;;) {
    const cidr = `10.244.${randomInt(100, 250)}.0/24`;
    if (!routes.includes(cidr)) return cidr;
  }
}
const podCIDR = freePodCIDR();
const hostPort = randomInt(20000, 30000);
let dataDir = '';
let logRoot = '';
let layout: ContainerdLayout;
let spec: NodeNetworkOptions;
let node: NodeNetwork;
let rt: NodeRuntime;
let ipForwardBefore = '';
const cgroupParent = `/skiff-${clusterName}`;

const sh = (cmd: string, args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const ipRoutes = (): string => sh('ip', ['route', 'show', 'table', 'main']);
/** What this cluster programs on the host, as text: a second setup must leave it identical. */
const hostState = (): string =>
  [ipRoutes().split('\n').filter((l) => l.includes(names.bridge) || l.includes(`metric ${names.metric + 1}`)).join('\n'), sh('ip', ['addr', 'show', 'dev', names.bridge]).replace(/valid_lft.*|tentative|dadfailed/g, ''), sh('nft', ['-a', 'list', 'table', 'inet', names.nftTable])].join('\n');

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function sandboxConfig(name: string, portMappings: Input<PortMapping>[] = []): Input<PodSandboxConfig> {
  const uid = `${name}-${randomBytes(4).toString('hex')}`;
  const logDirectory = path.join(logRoot, `default_${name}_${uid}`);
  mkdirSync(logDirectory, { recursive: true });
  return {
    metadata: { name, namespace: 'default', uid, attempt: 0 },
    hostname: name,
    logDirectory,
    portMappings,
    labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid },
    linux: {
      cgroupParent: rt.cgroupDriver === 'systemd' ? 'system.slice' : `${cgroupParent}/pod${uid}`,
      // the pod's own network namespace: CNI gives it an address on the bridge
      securityContext: { namespaceOptions: { network: 'POD' } },
    },
  };
}

/** A pod whose busybox container runs `command`; resolves with ids and the pod IP. */
async function runPod(name: string, command: string[], portMappings: Input<PortMapping>[] = []): Promise<{ sandboxId: string; containerId: string; ip: string }> {
  const sbConfig = sandboxConfig(name, portMappings);
  const sandboxId = await rt.cri.runPodSandbox(sbConfig);
  const containerId = await rt.cri.createContainer({
    podSandboxId: sandboxId,
    config: { metadata: { name: 'main' }, image: { image: TEST_IMAGES.busybox }, command, logPath: 'main/0.log' },
    sandboxConfig: sbConfig,
  });
  await rt.cri.startContainer(containerId);
  const ip = (await rt.cri.podSandboxStatus(sandboxId)).status?.network?.ip ?? '';
  return { sandboxId, containerId, ip };
}

/** Connects from the host (this process) and resolves with what the server sent first. */
function readFrom(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`no answer from ${host}:${port} in ${timeoutMs} ms`));
    }, timeoutMs);
    s.once('data', (d) => {
      clearTimeout(timer);
      s.destroy();
      resolve(d.toString());
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const PONG_SERVER = ['sh', '-c', 'while :; do echo pong | nc -l -p 8080; done'];

describe('pod networking: CNI bridge, host-local, portmap, routes', { skip }, () => {
  before(async () => {
    if (missing.length) throw new Error(`prerequisites for pod networking: ${why}`);
    ipForwardBefore = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
    dataDir = mkdtempSync(path.join(tmpdir(), 'skiff-network-'));
    logRoot = path.join(dataDir, 'pod-logs');
    layout = containerdLayout({ clusterName, dataDir });
    spec = { clusterName, podCIDR, clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', cniConfDir: layout.cniConfDir, allowEgress: false };
    // the network first: containerd reports NetworkReady once the conflist is there
    node = await setupNodeNetwork(spec);
    const busybox = buildTestImage('busybox');
    mkdirSync(path.join(dataDir, 'images'), { recursive: true });
    copyFileSync(busybox.file, path.join(dataDir, 'images', 'busybox.tar'));
    rt = await startRuntime({ clusterName, dataDir });
  });

  after(async () => {
    if (!layout) return;
    try {
      if (rt?.supervisor?.pid) await removeAllPods(rt.cri);
      await rt?.stop();
      await resetContainerd(layout, { removeRoot: true });
      if (rt && rt.cgroupDriver !== 'systemd') await removeCgroup(cgroupParent);
    } finally {
      await teardownNodeNetwork(spec);
      await teardownNodeNetwork(spec); // idempotent
      // back to how this run found it, unless another skiff cluster (a parallel run) still has a bridge
      const otherBridges = sh('ip', ['-o', 'link', 'show', 'type', 'bridge']).split('\n').filter((l) => / sk-[0-9a-f]{8}[:@]/.test(l));
      if (ipForwardBefore === '0' && otherBridges.length === 0) writeFileSync('/proc/sys/net/ipv4/ip_forward', '0');
      rmSync(dataDir, { recursive: true, force: true });
    }
    // nothing of this cluster's network left on the machine
    assert.equal(existsSync(`/sys/class/net/${names.bridge}`), false, 'bridge removed');
    assert.doesNotMatch(sh('nft', ['list', 'tables']), new RegExp(`skiff-${clusterName}-net`));
    assert.doesNotMatch(ipRoutes(), new RegExp(`metric (${names.metric}|${names.metric + 1})\\b`), 'routes removed');
    assert.doesNotMatch(ipRoutes(), new RegExp(podCIDR.replace(/\./g, '\\.')));
    assert.equal(existsSync(node?.conflistPath ?? '/nonexistent'), false);
    assert.equal(existsSync(path.join('/run/skiff', clusterName)), false, 'CNI state removed');
    // portmap's shared chains go once no pod on the machine (another cluster's, in parallel runs) maps a hostPort
    const nat = sh('iptables-save', ['-t', 'nat']);
    if (!/CNI-DN-/.test(nat)) assert.doesNotMatch(nat, /CNI-HOSTPORT/);
  });

  test('setup: bridge with the gateway, conflist, nft table, routes; a second setup changes nothing', async () => {
    assert.equal(node.bridge, names.bridge);
    assert.equal(node.gatewayIP, podCIDR.replace(/0\/24$/, '1'));
    assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), '1');
    const conf = JSON.parse(readFileSync(node.conflistPath, 'utf8'));
    assert.equal(path.dirname(node.conflistPath), layout.cniConfDir);
    assert.equal(conf.plugins[0].bridge, names.bridge);
    assert.match(sh('ip', ['-o', 'addr', 'show', 'dev', names.bridge]), new RegExp(`inet ${node.gatewayIP.replace(/\./g, '\\.')}/24`));
    const unreachable = sh('ip', ['route', 'show', 'type', 'unreachable']);
    assert.match(unreachable, new RegExp(`^unreachable 10\\.244\\.0\\.0/16 metric ${names.metric + 1}\\s*$`, 'm'));
    assert.match(unreachable, new RegExp(`^unreachable 10\\.96\\.0\\.0/12 metric ${names.metric + 1}\\s*$`, 'm'));
    assert.match(ipRoutes(), new RegExp(`^10\\.96\\.0\\.0/12 dev ${names.bridge} scope link src ${node.gatewayIP.replace(/\./g, '\\.')} metric ${names.metric}( linkdown)?\\s*$`, 'm'));
    // what the kernel picks: this node's pods via the bridge; another node's pod range and unrouted ranges nowhere
    assert.match(sh('ip', ['route', 'get', podCIDR.replace(/0\/24$/, '77')]), new RegExp(`dev ${names.bridge}`));
    const otherNode = `10.244.${(parseCidr(podCIDR).base >>> 8 & 255) === 99 ? 98 : 99}.5`;
    assert.throws(() => sh('ip', ['route', 'get', otherNode]), /unreachable|No route to host/i);
    // (a cluster beside this one on the same service range may win with its lower metric: still a skiff bridge)
    assert.match(sh('ip', ['route', 'get', '10.100.1.2']), /dev sk-[0-9a-f]{8} /, 'ClusterIPs from the host go to a bridge, never to eth0');
    const nft = sh('nft', ['list', 'table', 'inet', names.nftTable]);
    assert.match(nft, /masquerade/);
    const state = hostState();
    const again = await setupNodeNetwork(spec);
    assert.deepEqual(again.changed, []);
    assert.equal(hostState(), state);
    // converges: a route someone deleted comes back, and only it
    sh('ip', ['route', 'del', 'unreachable', '10.244.0.0/16', 'metric', String(names.metric + 1)]);
    assert.deepEqual((await setupNodeNetwork(spec)).changed, [`route unreachable 10.244.0.0/16 metric ${names.metric + 1}`]);
    assert.equal(hostState(), state);
    // another cluster given the same pod range is refused before it touches anything
    const other = `${clusterName}-x`;
    await assert.rejects(setupNodeNetwork({ ...spec, clusterName: other }), /already routed via sk-/);
    assert.equal(existsSync(`/sys/class/net/${nodeNetworkNames(other).bridge}`), false);
  });

  test('pods get addresses from the podCIDR, reach each other across the bridge (ping and TCP), and the host reaches them', async () => {
    assert.equal(await runtimeCniConfDir(rt.cri), layout.cniConfDir, 'the conf dir containerd reports is where the conflist went');
    // containerd's NetworkReady follows the conflist in its conf dir
    await until('NetworkReady', async () => {
      const s = await rt.cri.status();
      return s.status?.conditions.find((c) => c.type === 'NetworkReady')?.status ? true : undefined;
    });
    const a = await runPod('server', PONG_SERVER);
    const b = await runPod('client', ['sleep', '3600']);
    for (const ip of [a.ip, b.ip]) assert.ok(cidrContains(parseCidr(podCIDR), parseCidr(`${ip}/32`)), `${ip} in ${podCIDR}`);
    assert.notEqual(a.ip, b.ip);
    assert.notEqual(a.ip, node.gatewayIP);

    const ping = await rt.cri.execSync(b.containerId, { cmd: ['ping', '-c', '1', '-W', '2', a.ip], timeout: 10 });
    assert.equal(ping.exitCode, 0, ping.stdout.toString() + ping.stderr.toString());
    const tcp = await until('the server pod to answer', async () => {
      const r = await rt.cri.execSync(b.containerId, { cmd: ['nc', '-w', '2', a.ip, '8080'], timeout: 10 });
      return r.stdout.toString().includes('pong') ? r : undefined;
    });
    assert.equal(tcp.stdout.toString(), 'pong\n');
    // the pod's default route is the bridge's address
    const route = await rt.cri.execSync(b.containerId, { cmd: ['ip', 'route'], timeout: 10 });
    assert.match(route.stdout.toString(), new RegExp(`default via ${node.gatewayIP.replace(/\./g, '\\.')}`));

    // the gateway keeps its fixed MAC with ports on the bridge (else it would take the lowest port's)
    assert.match(sh('ip', ['-o', 'link', 'show', 'dev', names.bridge]), new RegExp(`link/ether ${names.bridgeMAC} `));
    assert.equal(sh('ip', ['-o', 'link', 'show', 'master', names.bridge]).trim().split('\n').length, 2, 'a veth per pod on the bridge');
    assert.equal(await until('the host to reach the pod', () => readFrom(a.ip, 8080).catch(() => undefined)), 'pong\n');
    await rt.cri.stopPodSandbox(a.sandboxId);
    await rt.cri.removePodSandbox(a.sandboxId);
    await rt.cri.stopPodSandbox(b.sandboxId);
    await rt.cri.removePodSandbox(b.sandboxId);
  });

  test('a ClusterIP DNATed by nft (as the proxy does) reaches the pod from the host (output hook) and from a pod (prerouting)', async () => {
    const a = await runPod('backend', PONG_SERVER);
    const b = await runPod('caller', ['sleep', '3600']);
    const clusterIP = `10.96.${randomInt(1, 255)}.${randomInt(2, 255)}`;
    const table = `skiff-${clusterName}-svctest`;
    const dnat = `ip daddr ${clusterIP} tcp dport 80 dnat ip to ${a.ip}:8080`;
    execFileSync('nft', ['-f', '-'], {
      input: `table inet ${table} {
  chain out { type nat hook output priority -100; policy accept; ${dnat}; }
  chain pre { type nat hook prerouting priority -100; policy accept; ${dnat}; }
}
`,
    });
    try {
      // host-originated: routed via the bridge first (an unreachable route would fail connect()), then DNATed
      assert.equal(await until('the host to reach the ClusterIP', () => readFrom(clusterIP, 80).catch(() => undefined)), 'pong\n');
      // from a pod: DNAT in prerouting; the reply is bridged pod to pod and un-DNATed (nf_call_iptables)
      const viaService = await until('the pod to reach the ClusterIP', async () => {
        const r = await rt.cri.execSync(b.containerId, { cmd: ['nc', '-w', '2', clusterIP, '80'], timeout: 10 });
        return r.stdout.toString().includes('pong') ? r : undefined;
      });
      assert.equal(viaService.stdout.toString(), 'pong\n');
    } finally {
      execFileSync('nft', ['delete', 'table', 'inet', table]);
      for (const p of [a, b]) {
        await rt.cri.stopPodSandbox(p.sandboxId);
        await rt.cri.removePodSandbox(p.sandboxId);
      }
    }
  });

  test('hostPort: the node\'s bridge address and port reach the pod (portmap)', async () => {
    const p = await runPod('hostport', PONG_SERVER, [{ protocol: 'TCP', containerPort: 8080, hostPort }]);
    assert.equal(await until('hostPort to answer', () => readFrom(node.gatewayIP, hostPort).catch(() => undefined)), 'pong\n');
    // hairpin: the pod itself through the node's hostPort (back out of its own bridge port)
    const self = await until('the pod to reach itself through its hostPort', async () => {
      const r = await rt.cri.execSync(p.containerId, { cmd: ['nc', '-w', '2', node.gatewayIP, String(hostPort)], timeout: 10 });
      return r.stdout.toString().includes('pong') ? r : undefined;
    });
    assert.equal(self.stdout.toString(), 'pong\n');
    await rt.cri.stopPodSandbox(p.sandboxId);
    await rt.cri.removePodSandbox(p.sandboxId);
    // the pod's address is released (host-local) and its veth gone from the bridge
    assert.equal(sh('ip', ['-o', 'link', 'show', 'master', names.bridge]).trim(), '');
  });
});
