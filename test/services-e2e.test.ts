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
import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import type { ApiServer } from '../src/apiserver/server.ts';
import { ref } from '../src/client/resources.ts';
import type { Client } from '../src/client/types.ts';
import { eventually } from '../src/client/testing.ts';
import type { NodeServices } from '../src/cli/node-services.ts';
import { nodeNetworkNames } from '../src/kubelet/network/index.ts';
import { tableName } from '../src/proxy/proxier.ts';
import { TEST_IMAGES } from './images/build.ts';
import { KUBECTL, freeCIDR16, type Kubectl } from './harness.ts';
import { RealNodeCluster, httpGet, httpdDeployment, machineIPv4, realNodeNames, realNodePrerequisites } from './real-node.ts';

/** This machine's first non-loopback IPv4: the node's InternalIP. */
const nodeIP = machineIPv4();
const { missing, why, skip } = realNodePrerequisites({
  extra: nodeIP ? [] : [{ name: 'a non-loopback IPv4 address', status: 'fail', detail: 'the node address NodePorts are tested at', packages: [] }],
});

const { clusterName, nodeName } = realNodeNames('se');
const clusterCIDR = missing.length ? '10.199.0.0/16' : freeCIDR16(160, 180);
const serviceCIDR = missing.length ? '10.189.0.0/16' : freeCIDR16(180, 200);
const clusterDNS = serviceCIDR.replace('.0.0/16', '.0.10');
// A fixed NodePort few others would pick (other clusters on this machine program theirs in their own tables).
const fixedNodePort = randomInt(31000, 32700);
// Likewise the LoadBalancer Service's port at the node address.
const lbPort = randomInt(20000, 29000);
let cluster: RealNodeCluster | undefined;
let server: ApiServer;
let client: Client;
let services: NodeServices | undefined;
let kubectl: Kubectl;
let fakeUpstream: dgram.Socket | undefined;
let kubectlProxy: ChildProcess | undefined;
let logs: string[] = [];
const proxyLogs: { at: number; msg: string; fields: Record<string, unknown> }[] = [];

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
    const r = await httpGet(host, port);
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
    // The DNS server's upstream: a resolver on loopback that never answers (nothing leaves the machine).
    fakeUpstream = dgram.createSocket('udp4');
    await new Promise<void>((r) => fakeUpstream!.bind(0, '127.0.0.1', () => r()));
    const c = (cluster = new RealNodeCluster({
      clusterName,
      nodeName,
      clusterCIDR,
      serviceCIDR,
      clusterDNS: [clusterDNS],
      nodeIP,
      tmpPrefix: 'skiff-services-e2e-',
      nodeServices: {
        clusterDNS,
        upstreams: [{ host: '127.0.0.1', port: (fakeUpstream.address() as { port: number }).port }],
        proxyLog: (msg, fields) => {
          proxyLogs.push({ at: Date.now(), msg, fields: fields ?? {} });
          c.log(`proxy: ${msg}`, fields);
        },
      },
      teardown: 'reset',
      resetTwice: true,
    }));
    logs = c.logs;
    ({ server, client, kubectl } = await c.start());
    services = c.services;

    // The scenario's objects: a 3-replica Deployment of httpd pages naming their pod, a
    // ClusterIP Service 8080→80, and a client pod to make requests from.
    const manifest = `
${httpdDeployment(3)}
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
    kubectlProxy?.kill();
    let down;
    try {
      down = await cluster?.close();
    } finally {
      fakeUpstream?.close();
    }
    if (down && !missing.length) {
      const { removed, again, left } = down;
      const names = nodeNetworkNames(clusterName);
      assert.ok(removed.some((r) => r.includes(tableName(clusterName)) && r.includes('service proxy')), `reset removed the proxy table: ${removed.join('; ')}`);
      assert.ok(removed.some((r) => r === `bridge ${names.bridge}`), `reset removed the bridge: ${removed.join('; ')}`);
      assert.deepEqual(again, [], 'a second reset finds nothing');
      assert.deepEqual(left, [], 'bridge, node and proxy nft tables, routes removed');
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
        const r = await eventually(async () => (await httpGet(host, port).catch(() => undefined)), 10_000, `NodePort ${host}:${port}`);
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
    const r = await eventually(async () => (await httpGet(nodeIP!, lbPort).catch(() => undefined)), 10_000, `LoadBalancer ${nodeIP}:${lbPort}`);
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
    const viaService = await httpGet('127.0.0.1', port, '/api/v1/namespaces/default/services/httpd-svc:8080/proxy/');
    assert.equal(viaService.status, 200, viaService.body);
    assert.ok(pods.includes(viaService.body.trim()), viaService.body);
    for (const pod of pods) {
      const r = await httpGet('127.0.0.1', port, `/api/v1/namespaces/default/pods/${pod}/proxy/`);
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
