// E2E tier: Services on a real node (issue M1-7's httpd scenario). An in-process
// apiserver with the controller manager (Deployments, EndpointSlices, Endpoints, node
// IPAM) and the scheduler; startRealNode on skiff's own containerd with the busybox test
// image; startNodeServices (the nftables proxy, and the cluster DNS on the node's bridge
// behind the kube-dns ClusterIP (.0.10 of a service range of its own), forwarding other names to a silent fake resolver on
// loopback); the real kubectl. (busybox-static's `wget -T` segfaults: timeouts are `timeout 5 wget`.)
//
// The node's InternalIP is this machine's own non-loopback IPv4 (traffic to it stays on
// the machine), so "NodePort at the node address" is not 127.0.0.1 in disguise; the
// ServiceLB controller (no pool) gives LoadBalancer Services that address as EXTERNAL-IP. Pods'
// egress off the machine is dropped (allowEgress false).
// In CI a missing prerequisite fails; locally it skips. Teardown removes pods, volumes,
// containerd, and then resetNode (skiff reset's work) removes the bridge, routes, the node
// nft table and the proxy's nft table: the test checks all are gone.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { startApiServer, type ApiServer } from '../src/apiserver/server.ts';
import { inProcessTransport } from '../src/client/inprocess.ts';
import { createClient } from '../src/client/rest.ts';
import { ref } from '../src/client/resources.ts';
import type { Client } from '../src/client/types.ts';
import { eventually, ADMIN } from '../src/client/testing.ts';
import { startInProcessControllerManager } from '../src/cli/controller-manager.ts';
import { startNodeServices, type NodeServices } from '../src/cli/node-services.ts';
import { resetNode } from '../src/cli/reset.ts';
import { startInProcessScheduler } from '../src/cli/scheduler.ts';
import { allControllers } from '../src/controllers/all.ts';
import { checkPrerequisites, installCommand, missingForContainers } from '../src/kubelet/containerd/prereqs.ts';
import { removeAllPods } from '../src/kubelet/containerd/reset.ts';
import { staticBusybox } from '../src/kubelet/images/pause.ts';
import { nodeNetworkNames } from '../src/kubelet/network/index.ts';
import { startRealNode, type RealNode } from '../src/kubelet/node.ts';
import { tableName } from '../src/proxy/proxier.ts';
import { buildTestImage, TEST_IMAGES } from './images/build.ts';
import { KUBECTL, freeCIDR16, kubectlFor, type Kubectl } from './harness.ts';

/** This machine's first non-loopback IPv4: the node's InternalIP. */
function machineIPv4(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

const checks = checkPrerequisites();
const missing = [...missingForContainers(checks), ...checks.filter((c) => ['cni plugins', 'nft', 'ip'].includes(c.name) && c.status === 'fail')];
if (!staticBusybox()) missing.push({ name: 'busybox-static', status: 'fail', detail: 'the test image', packages: ['busybox-static'] });
if (!existsSync(KUBECTL)) missing.push({ name: 'kubectl', status: 'fail', detail: KUBECTL, packages: ['kubectl'] });
const nodeIP = machineIPv4();
if (!nodeIP) missing.push({ name: 'a non-loopback IPv4 address', status: 'fail', detail: 'the node address NodePorts are tested at', packages: [] });
const why = missing.length ? `missing ${missing.map((c) => `${c.name} (${c.detail})`).join('; ')}; ${installCommand(missing) ?? ''}` : '';
const skip = missing.length > 0 && !process.env.CI ? why : false;

const suffix = `${process.pid}-${randomBytes(3).toString('hex')}`;
const clusterName = `se-${suffix}`;
const nodeName = `se-node-${suffix}`;
const clusterCIDR = missing.length ? '10.199.0.0/16' : freeCIDR16(160, 180);
const serviceCIDR = missing.length ? '10.189.0.0/16' : freeCIDR16(180, 200);
const clusterDNS = serviceCIDR.replace('.0.0/16', '.0.10');
// A fixed NodePort few others would pick (other clusters on this machine program theirs in their own tables).
const fixedNodePort = randomInt(31000, 32700);
// Likewise the LoadBalancer Service's port at the node address.
const lbPort = randomInt(20000, 29000);
let dir = '';
let nodeDataDir = '';
let server: ApiServer;
let client: Client;
let node: RealNode | undefined;
let services: NodeServices | undefined;
let kubectl: Kubectl;
let fakeUpstream: dgram.Socket | undefined;
let kubectlProxy: ChildProcess | undefined;
const stop = new AbortController();
const nodeStop = new AbortController();
const logs: string[] = [];
const proxyLogs: { at: number; msg: string; fields: Record<string, unknown> }[] = [];

/** One HTTP GET on a fresh connection (so each request is a new choice of endpoint). */
function get(host: string, port: number, urlPath = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}${urlPath}: timed out`)));
    req.on('error', reject);
  });
}

/** A TCP connect's outcome: 'connected', or the error code (ECONNREFUSED, ETIMEDOUT...). */
function connectOutcome(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(5000, () => {
      s.destroy();
      resolve('ETIMEDOUT');
    });
    s.on('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

async function podNames(): Promise<string[]> {
  const list = await client.list(ref.pods, 'default', { labelSelector: 'app=httpd' });
  return list.items.filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name!).sort();
}

/** Pages seen in `n` requests from the host, by body. */
async function hostHits(host: string, port: number, n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await get(host, port);
    assert.equal(r.status, 200);
    const page = r.body.trim();
    seen.set(page, (seen.get(page) ?? 0) + 1);
  }
  return seen;
}

describe('Services on a real node: the httpd scenario', { skip }, () => {
  let clusterIP = '';
  let pods: string[] = [];

  before(async () => {
    if (missing.length) throw new Error(`prerequisites for a real node: ${why}`);
    dir = mkdtempSync(path.join(tmpdir(), 'skiff-services-e2e-'));
    nodeDataDir = path.join(dir, 'node');
    mkdirSync(path.join(nodeDataDir, 'images'), { recursive: true });
    copyFileSync(buildTestImage('busybox').file, path.join(nodeDataDir, 'images', 'busybox.tar'));
    // The DNS server's upstream: a resolver on loopback that never answers (nothing leaves the machine).
    fakeUpstream = dgram.createSocket('udp4');
    await new Promise<void>((r) => fakeUpstream!.bind(0, '127.0.0.1', () => r()));
    server = await startApiServer({ dataDir: path.join(dir, 'api'), bindAddress: '127.0.0.1', bindPort: 0, advertiseAddress: '127.0.0.1', serviceClusterIPRange: serviceCIDR });
    client = createClient(inProcessTransport({ serve: (req, res) => server.serve(req, res) }, ADMIN));
    const quiet = () => {};
    startInProcessControllerManager(server, { controllers: allControllers({ rootCA: server.pki.caCertPem, clusterCIDR, serviceCIDR }), log: quiet }, stop.signal);
    startInProcessScheduler(server, { log: quiet }, stop.signal);
    const home = path.join(dir, 'home');
    mkdirSync(home);
    kubectl = kubectlFor(server.kubeconfigPath, home);
    const log = (msg: string, fields?: Record<string, unknown>) => logs.push(`${msg} ${JSON.stringify(fields ?? {})}`);
    node = await startRealNode({
      server,
      clusterName,
      dataDir: nodeDataDir,
      nodeName,
      nodeIP,
      clusterCIDR,
      serviceCIDR,
      clusterDNS: [clusterDNS],
      kubeletPort: 0,
      kubeletAddress: nodeIP,
      allowEgress: false,
      log,
    }, nodeStop.signal);
    services = await startNodeServices({
      server,
      node,
      clusterName,
      clusterCIDR,
      serviceCIDR,
      clusterDNS,
      upstreams: [{ host: '127.0.0.1', port: (fakeUpstream.address() as { port: number }).port }],
      log,
      proxyLog: (msg, fields) => {
        proxyLogs.push({ at: Date.now(), msg, fields: fields ?? {} });
        log(`proxy: ${msg}`, fields);
      },
    }, nodeStop.signal);
    await eventually(async () => (await client.get(ref.serviceaccounts, 'default', 'default').catch(() => undefined)), 15_000, 'the default ServiceAccount');

    // The scenario's objects: a 3-replica Deployment of httpd pages naming their pod, a
    // ClusterIP Service 8080→80, and a client pod to make requests from.
    const manifest = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpd
spec:
  replicas: 3
  selector:
    matchLabels: {app: httpd}
  template:
    metadata:
      labels: {app: httpd}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: ${TEST_IMAGES.busybox}
        imagePullPolicy: Never
        command: [sh, -c, 'mkdir -p /www; echo $(hostname) > /www/index.html; exec httpd -f -p 80 -h /www']
        ports: [{containerPort: 80}]
        readinessProbe:
          tcpSocket: {port: 80}
          periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata:
  name: httpd-svc
spec:
  selector: {app: httpd}
  ports: [{port: 8080, targetPort: 80}]
---
apiVersion: v1
kind: Pod
metadata:
  name: client
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: client
    image: ${TEST_IMAGES.busybox}
    imagePullPolicy: Never
    command: [sleep, '3600']
`;
    const applied = await kubectl(['apply', '-f', '-'], { stdin: manifest });
    assert.equal(applied.code, 0, applied.stderr);
    clusterIP = (await client.get(ref.services, 'default', 'httpd-svc')).spec.clusterIP;
    await eventually(async () => {
      const list = await client.list(ref.pods, 'default');
      const ready = list.items.filter((p) => p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
      return ready.length === 4;
    }, 60_000, 'three httpd pods and the client Ready').catch(async (e) => {
      const list = await client.list(ref.pods, 'default');
      throw new Error(`${(e as Error).message}: ${JSON.stringify(list.items.map((p) => [p.metadata.name, p.status]))}\n${logs.slice(-30).join('\n')}`);
    });
    pods = await podNames();
    assert.equal(pods.length, 3);
    // The endpoint controllers and the proxy follow the pods asynchronously (slower on a
    // loaded machine): wait until the ClusterIP answers from every pod before the tests,
    // which run side by side, look at it.
    await eventually(async () => {
      const seen = await hostHits(clusterIP, 8080, 20).catch(() => new Map<string, number>());
      return pods.every((p) => seen.has(p)) ? true : undefined;
    }, 30_000, 'the ClusterIP answering from all three pods');
  });

  after(async () => {
    if (process.env.SKIFF_NODE_TEST_LOG) console.log(logs.join('\n'));
    kubectlProxy?.kill();
    await services?.stop();
    const rt = node?.runtime;
    if (rt?.supervisor?.pid) await removeAllPods(rt.cri); // while our containerd still answers
    if (node) {
      const podsDir = node.volumes.podsDir;
      for (const uid of existsSync(podsDir) ? readdirSync(podsDir) : []) await node.volumes.unmountPod(uid);
    }
    await node?.stop();
    // skiff reset's work: containerd and its state, mounts, the pod network, the proxy table, the cgroup root
    const removed = missing.length ? [] : await resetNode({ clusterName, nodeDataDir });
    const again = missing.length ? [] : await resetNode({ clusterName, nodeDataDir });
    stop.abort();
    await server?.close();
    fakeUpstream?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (!missing.length) {
      const names = nodeNetworkNames(clusterName);
      assert.ok(removed.some((r) => r.includes(tableName(clusterName)) && r.includes('service proxy')), `reset removed the proxy table: ${removed.join('; ')}`);
      assert.ok(removed.some((r) => r === `bridge ${names.bridge}`), `reset removed the bridge: ${removed.join('; ')}`);
      assert.deepEqual(again, [], 'a second reset finds nothing');
      const tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
      assert.ok(!execFileSync('ip', ['link', 'show'], { encoding: 'utf8' }).includes(names.bridge), 'bridge removed');
      assert.ok(!tables.includes(names.nftTable), 'node nft table removed');
      assert.ok(!tables.split('\n').some((l) => l.trim().endsWith(` ${tableName(clusterName)}`)), 'proxy nft table removed');
      const routes = execFileSync('ip', ['route', 'show', 'table', 'all'], { encoding: 'utf8' });
      assert.ok(!routes.includes(clusterCIDR.replace('/16', '')) && !routes.includes(serviceCIDR.replace('/16', '')), 'routes removed');
    }
  });

  test('the pods resolve through the cluster DNS: resolv.conf names the kube-dns ClusterIP with the search path and ndots:5', async () => {
    const r = await kubectl(['exec', 'client', '--', 'cat', '/etc/resolv.conf']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^nameserver ${clusterDNS.replaceAll('.', '\\.')}$`, 'm'));
    assert.equal((await client.get(ref.services, 'kube-system', 'kube-dns')).spec.clusterIP, clusterDNS);
    assert.match(r.stdout, /^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local\b/m);
    assert.match(r.stdout, /^options ndots:5$/m);
    // and the name works end to end: pod → kube-dns ClusterIP (proxy) → the DNS server on the bridge → the ClusterIP
    const byName = await kubectl(['exec', 'client', '--', 'timeout', '5', 'wget', '-q', '-O-', 'http://httpd-svc:8080/']);
    assert.equal(byName.code, 0, byName.stderr);
    assert.ok(pods.includes(byName.stdout.trim()), `page ${byName.stdout} names an httpd pod`);
  });

  test('kubectl get endpoints httpd-svc lists the three pod IPs', async () => {
    const ips = (await client.list(ref.pods, 'default', { labelSelector: 'app=httpd' })).items.map((p) => p.status.podIP as string);
    const out = await eventually(async () => {
      const r = await kubectl(['get', 'endpoints', 'httpd-svc']);
      return r.code === 0 && ips.every((ip) => r.stdout.includes(`${ip}:80`)) ? r.stdout : undefined;
    }, 15_000, 'endpoints with the three pods');
    assert.match(out, /^NAME\s+ENDPOINTS\s+AGE\n/);
    const row = out.split('\n')[1];
    assert.equal(row.split(/\s+/)[1].split(',').length, 3, row);
  });

  test('from the host, 60 requests to the ClusterIP reach all three pods', async () => {
    const seen = await hostHits(clusterIP, 8080, 60);
    assert.deepEqual([...seen.keys()].sort(), pods, JSON.stringify([...seen]));
  });

  test('from another pod, 60 requests to the ClusterIP reach all three pods', async () => {
    const r = await kubectl(['exec', 'client', '--', 'sh', '-c', `for i in $(seq 60); do timeout 5 wget -q -O- http://${clusterIP}:8080/ || echo FAILED; done`]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 60);
    assert.ok(!lines.includes('FAILED'), r.stdout);
    assert.deepEqual([...new Set(lines)].sort(), pods);
  });

  test('NodePort: an allocated one and a fixed one answer at 127.0.0.1 and at the node address', async () => {
    const exposed = await kubectl(['expose', 'deployment', 'httpd', '--name=httpd-np', '--type=NodePort', '--port=8080', '--target-port=80']);
    assert.equal(exposed.code, 0, exposed.stderr);
    const fixed = await kubectl(['apply', '-f', '-'], {
      stdin: JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'httpd-fixed' }, spec: { type: 'NodePort', selector: { app: 'httpd' }, ports: [{ port: 8080, targetPort: 80, nodePort: fixedNodePort }] } }),
    });
    assert.equal(fixed.code, 0, fixed.stderr);
    const allocated = (await client.get(ref.services, 'default', 'httpd-np')).spec.ports[0].nodePort as number;
    assert.ok(allocated >= 30000 && allocated <= 32767, String(allocated));
    const svc = await kubectl(['get', 'svc', 'httpd-fixed']);
    assert.match(svc.stdout, new RegExp(`NodePort\\s+\\S+\\s+<none>\\s+8080:${fixedNodePort}/TCP`));
    for (const port of [allocated, fixedNodePort]) {
      for (const host of ['127.0.0.1', nodeIP!]) {
        const r = await eventually(async () => (await get(host, port).catch(() => undefined)), 10_000, `NodePort ${host}:${port}`);
        assert.equal(r.status, 200);
        assert.ok(pods.includes(r.body.trim()), `${host}:${port} answered ${r.body}`);
      }
    }
    // and from a pod, at the node address
    const fromPod = await kubectl(['exec', 'client', '--', 'timeout', '5', 'wget', '-q', '-O-', `http://${nodeIP}:${fixedNodePort}/`]);
    assert.equal(fromPod.code, 0, fromPod.stderr);
    assert.ok(pods.includes(fromPod.stdout.trim()), fromPod.stdout);
  });

  test('LoadBalancer: EXTERNAL-IP is the node address and answers there', async () => {
    const exposed = await kubectl(['expose', 'deployment', 'httpd', '--name=httpd-lb', '--type=LoadBalancer', `--port=${lbPort}`, '--target-port=80']);
    assert.equal(exposed.code, 0, exposed.stderr);
    const row = await eventually(async () => {
      const r = await kubectl(['get', 'svc', 'httpd-lb']);
      return r.code === 0 && r.stdout.includes(nodeIP!) ? r.stdout.split('\n')[1] : undefined;
    }, 15_000, 'httpd-lb EXTERNAL-IP');
    assert.match(row, new RegExp(`^httpd-lb\\s+LoadBalancer\\s+\\S+\\s+${nodeIP!.replaceAll('.', '\\.')}\\s+${lbPort}:\\d+/TCP\\s`));
    const r = await eventually(async () => (await get(nodeIP!, lbPort).catch(() => undefined)), 10_000, `LoadBalancer ${nodeIP}:${lbPort}`);
    assert.equal(r.status, 200);
    assert.ok(pods.includes(r.body.trim()), r.body);
  });

  test('a Service without endpoints refuses connections at once, from the host and from a pod', async () => {
    const created = await client.create(ref.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'nobody' }, spec: { selector: { app: 'nobody' }, ports: [{ port: 80 }] } });
    const ip = created.spec.clusterIP as string;
    // once the proxy has the Service: refused (a reject rule), not a hang (ETIMEDOUT) and not a route elsewhere
    const outcome = await eventually(async () => {
      const o = await connectOutcome(ip, 80);
      return o === 'ECONNREFUSED' ? o : undefined;
    }, 10_000, 'connection refused from the host');
    assert.equal(outcome, 'ECONNREFUSED');
    const t0 = performance.now();
    assert.equal(await connectOutcome(ip, 80), 'ECONNREFUSED');
    console.log(`# connect to a ClusterIP without endpoints: refused after ${(performance.now() - t0).toFixed(1)} ms`);
    const r = await kubectl(['exec', 'client', '--', 'sh', '-c', `timeout 5 wget -q -O- http://${ip}/ 2>&1; echo exit=$?`]);
    assert.match(r.stdout, /Connection refused/, r.stdout);
    assert.match(r.stdout, /exit=1/);
  });

  test('kubectl proxy: services/proxy and pods/proxy return the pods\' pages', async () => {
    const p = spawn(KUBECTL, ['--kubeconfig', server.kubeconfigPath, 'proxy', '--port=0'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: kubectl.home }, stdio: ['ignore', 'pipe', 'pipe'] });
    kubectlProxy = p;
    let out = '';
    p.stdout!.on('data', (d) => (out += d));
    p.stderr!.on('data', (d) => (out += d));
    const port = await eventually(() => /Starting to serve on 127\.0\.0\.1:(\d+)/.exec(out)?.[1], 15_000, 'kubectl proxy to start').then(Number);
    const viaService = await get('127.0.0.1', port, '/api/v1/namespaces/default/services/httpd-svc:8080/proxy/');
    assert.equal(viaService.status, 200, viaService.body);
    assert.ok(pods.includes(viaService.body.trim()), viaService.body);
    for (const pod of pods) {
      const r = await get('127.0.0.1', port, `/api/v1/namespaces/default/pods/${pod}/proxy/`);
      assert.equal(r.status, 200, r.body);
      assert.equal(r.body.trim(), pod);
    }
    p.kill();
    kubectlProxy = undefined;
  });

  test('kubectl cluster-info lists CoreDNS at the kube-dns services proxy path', async () => {
    const r = await kubectl(['cluster-info']);
    assert.equal(r.code, 0, r.stderr);
    // kubectl colours its output (ANSI escapes even when piped)
    const plain = r.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    const url = server.url.replace(/\/$/, '');
    assert.ok(plain.includes(`Kubernetes control plane is running at ${url}\n`), plain);
    assert.ok(plain.includes(`CoreDNS is running at ${url}/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy\n`), plain);
  });

  test('scaling to 1: requests reach only the remaining pod (rule programming latency logged)', async () => {
    const scaledAt = Date.now();
    const r = await kubectl(['scale', 'deployment', 'httpd', '--replicas=1']);
    assert.equal(r.code, 0, r.stderr);
    const remaining = await eventually(async () => {
      const names = await podNames();
      if (names.length !== 1) return undefined;
      const seen = await hostHits(clusterIP, 8080, 20);
      return seen.size === 1 && seen.has(names[0]) ? names[0] : undefined;
    }, 30_000, 'requests reaching only the remaining pod');
    const liveAfter = Date.now() - scaledAt;
    const fromPod = await kubectl(['exec', 'client', '--', 'sh', '-c', `for i in $(seq 20); do timeout 5 wget -q -O- http://${clusterIP}:8080/ || echo FAILED; done`]);
    assert.deepEqual([...new Set(fromPod.stdout.trim().split('\n'))], [remaining]);
    const live = proxyLogs.filter((l) => l.msg === 'rules live' && l.at >= scaledAt);
    const metric = services!.proxier.metricsText().split('\n').filter((l) => l.startsWith('kubeproxy_network_programming_duration_seconds_sum') || l.startsWith('kubeproxy_network_programming_duration_seconds_count'));
    // A measurement, not an assertion (timings on a shared machine are noise).
    console.log(`# scale 3→1: requests reached only ${remaining} ${liveAfter} ms after kubectl scale started; proxy syncs since: ${live.map((l) => `maxChangeToLiveMs=${l.fields.maxChangeToLiveMs} syncMs=${l.fields.syncMs}`).join(', ')}; ${metric.join(' ')}`);
    assert.ok(live.length > 0, 'the proxy synced after the scale');
  });
});
