// Integration tier: the proxier against a real apiserver (Services and EndpointSlices
// written through the client), its table applied for real inside a network namespace
// this test creates, and packets checked with TCP connections from a "client"
// namespace (another host or pod, forwarded through the node) and from the node itself
// to servers in a "pods" namespace. Needs root, iproute2 and nftables; fails without.
// The proxier's health checks (healthCheckNodePort listeners, /healthz) bind 127.0.0.1 of
// the test's own network namespace.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { isStatusError } from '../api/errors.ts';
import type { KObject } from '../api/object.ts';
import { EventBroadcaster } from '../client/events.ts';
import { SharedInformerFactory } from '../client/factory.ts';
import { ref } from '../client/resources.ts';
import { eventually, startClientTestServer, type ClientTestServer } from '../client/testing.ts';
import type { Client } from '../client/types.ts';
import { listTable, nftRunner } from './nft.ts';
import { Proxier, removeAll } from './proxier.ts';
import { byEndpoint, CLIENT_ADDR, NetnsLab, NODE_ADDR, NODE_POD_GW, remotes, sh } from './testing.ts';

const PORT = 8080;
const NODE = 'node-a';

/** One GET to 127.0.0.1:port on a fresh connection; undefined when refused. */
function get(port: number, path = '/'): Promise<{ status: number; headers: IncomingHttpHeaders; body: string } | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ECONNREFUSED' ? resolve(undefined) : reject(e)));
    req.end();
  });
}

describe('proxier in a network namespace', () => {
  let lab: NetnsLab;
  let t: ClientTestServer;
  let client: Client;
  let proxier: Proxier;
  let pods: string[];
  const logs: string[] = [];
  let ac = new AbortController();
  let events: EventBroadcaster;
  const clusterName = () => `t${lab.id}`;

  const startProxier = async () => {
    ac = new AbortController();
    const factory = new SharedInformerFactory(t.client('inprocess'), { informerDefaults: { minBackoffMs: 50, maxBackoffMs: 200 } });
    proxier = new Proxier({
      factory,
      clusterName: clusterName(),
      nodeName: NODE,
      clusterCIDRs: ['10.244.0.0/16'],
      serviceCIDRs: ['10.96.0.0/12'],
      minSyncPeriodMs: 50,
      nft: nftRunner({ netns: lab.node }),
      log: (msg, fields) => logs.push(`${msg} ${JSON.stringify(fields ?? {})}`),
      healthzBindAddress: '127.0.0.1:0',
      healthCheckBindAddresses: ['127.0.0.1'],
      recorder: events.newRecorder({ component: 'kube-proxy', host: NODE }),
    });
    proxier.start(ac.signal);
    await proxier.ready;
  };

  before(async () => {
    lab = await NetnsLab.create(3);
    pods = lab.podIPs();
    await lab.serve(PORT, pods);
    t = await startClientTestServer();
    client = t.client('inprocess');
    events = new EventBroadcaster(client);
    await startProxier();
  });

  after(async () => {
    ac.abort();
    await proxier?.done();
    events?.shutdown();
    await t?.close();
    await lab?.destroy();
  });

  const svc = async (name: string, spec: Record<string, unknown> = {}): Promise<KObject> =>
    client.create(ref.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ name: 'http', port: 80, targetPort: PORT, protocol: 'TCP' }], ...spec } });

  const sliceFor = (name: string, eps: { ip: string; node?: string; ready?: boolean; terminating?: boolean }[]): KObject => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${name}-abc`, namespace: 'default', labels: { 'kubernetes.io/service-name': name } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: PORT, protocol: 'TCP' }],
    endpoints: eps.map((e) => ({
      addresses: [e.ip],
      nodeName: e.node ?? 'node-b',
      // A terminating pod keeps serving until it stops passing its readiness probe.
      conditions: { ready: e.ready ?? true, serving: (e.ready ?? true) || (e.terminating ?? false), terminating: e.terminating ?? false },
    })),
  });
  const slice = (name: string, eps: Parameters<typeof sliceFor>[1]) => client.create(ref.endpointslices, 'default', sliceFor(name, eps));

  /** Waits until `count` connections all succeed; returns them. */
  const reach = (ns: string, ip: string, port: number, count: number, ok: (r: Record<string, number>) => boolean = () => true) =>
    eventually(async () => {
      const r = await lab.connect(ns, ip, port, count, 1000);
      return Object.keys(r.errors).length === 0 && ok(byEndpoint(r)) ? r : undefined;
    }, 10_000, `${ip}:${port} reachable from ${ns}`);

  test('ClusterIP: 60 connections from another namespace reach all three endpoints; the node itself reaches it too', async () => {
    const s = await svc('web');
    await slice('web', [{ ip: pods[0], node: NODE }, { ip: pods[1] }, { ip: pods[2] }]);
    const r = await reach(lab.client, s.spec.clusterIP, 80, 60, (b) => Object.keys(b).length === 3);
    const spread = byEndpoint(r);
    for (const ip of pods) assert.ok(spread[ip] >= 5, `endpoint ${ip} got ${spread[ip]} of 60: ${JSON.stringify(spread)}`);
    assert.deepEqual(remotes(r), [NODE_POD_GW], 'traffic from outside the pod network is masqueraded (--cluster-cidr)');
    const fromNode = await reach(lab.node, s.spec.clusterIP, 80, 10);
    assert.equal(Object.values(fromNode.replies).reduce((a, b) => a + b, 0), 10);
  });

  test('a service without endpoints refuses connections at once (no hang); a wrong port on a ClusterIP too', async () => {
    const s = await svc('empty');
    // Until its rules are live an unknown ClusterIP is dropped (a SYN retried after 1 s); then refused at once.
    await eventually(async () => (await lab.connect(lab.client, s.spec.clusterIP, 80, 1, 300)).errors.ECONNREFUSED === 1, 10_000, 'connection refused');
    for (const ns of [lab.client, lab.node]) {
      const r = await lab.connect(ns, s.spec.clusterIP, 80, 3, 1500);
      assert.equal(r.errors.ECONNREFUSED, 3, JSON.stringify(r));
      assert.ok(Math.max(...r.ms) < 500, `refused within 500 ms: ${r.ms}`);
    }
    const web = await client.get(ref.services, 'default', 'web');
    const wrong = await lab.connect(lab.client, web.spec.clusterIP, 81, 1, 1500);
    assert.equal(wrong.errors.ECONNREFUSED, 1);
  });

  test('NodePort answers on the node address (masqueraded) and on 127.0.0.1 inside the node; the fixed nodePort is honoured', async () => {
    const s = await svc('np', { type: 'NodePort', ports: [{ name: 'http', port: 80, targetPort: PORT, nodePort: 30080, protocol: 'TCP' }] });
    assert.equal(s.spec.ports[0].nodePort, 30080);
    await slice('np', [{ ip: pods[0], node: NODE }, { ip: pods[1] }, { ip: pods[2] }]);
    const r = await reach(lab.client, NODE_ADDR, 30080, 30, (b) => Object.keys(b).length === 3);
    assert.deepEqual(remotes(r), [NODE_POD_GW], 'NodePort traffic is masqueraded to the node');
    const local = await reach(lab.node, '127.0.0.1', 30080, 10);
    assert.deepEqual(remotes(local), [NODE_POD_GW]);
  });

  test('externalTrafficPolicy Local: only this node\'s endpoints, client address kept; no local endpoint drops', async () => {
    await svc('etp', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, targetPort: PORT, nodePort: 30081, protocol: 'TCP' }] });
    await slice('etp', [{ ip: pods[0], node: NODE }, { ip: pods[1] }, { ip: pods[2] }]);
    const r = await reach(lab.client, NODE_ADDR, 30081, 20);
    assert.deepEqual(Object.keys(byEndpoint(r)), [pods[0]]);
    assert.deepEqual(remotes(r), [CLIENT_ADDR]);
    await svc('etp-none', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, targetPort: PORT, nodePort: 30082, protocol: 'TCP' }] });
    await slice('etp-none', [{ ip: pods[1] }]);
    await eventually(async () => (await lab.connect(lab.client, NODE_ADDR, 30082, 1, 300)).errors.TIMEOUT === 1, 10_000, 'dropped');
  });

  test('internalTrafficPolicy Local sends ClusterIP traffic to this node\'s endpoints only', async () => {
    const s = await svc('itp', { internalTrafficPolicy: 'Local' });
    await slice('itp', [{ ip: pods[0] }, { ip: pods[1], node: NODE }, { ip: pods[2] }]);
    const r = await reach(lab.client, s.spec.clusterIP, 80, 20);
    assert.deepEqual(Object.keys(byEndpoint(r)), [pods[1]]);
  });

  test('sessionAffinity ClientIP keeps a client on one endpoint', async () => {
    const s = await svc('sticky', { sessionAffinity: 'ClientIP', sessionAffinityConfig: { clientIP: { timeoutSeconds: 60 } } });
    await slice('sticky', [{ ip: pods[0] }, { ip: pods[1] }, { ip: pods[2] }]);
    const r = await reach(lab.client, s.spec.clusterIP, 80, 30);
    assert.equal(Object.keys(byEndpoint(r)).length, 1, JSON.stringify(byEndpoint(r)));
  });

  test('serving-terminating endpoints are used when none is ready', async () => {
    const s = await svc('term');
    await slice('term', [{ ip: pods[0], ready: false }, { ip: pods[2], ready: false, terminating: true }]);
    const r = await reach(lab.client, s.spec.clusterIP, 80, 10);
    assert.deepEqual(Object.keys(byEndpoint(r)), [pods[2]]);
  });

  test('LoadBalancer ingress IPs are answered like external IPs', async () => {
    const s = await svc('lb', { type: 'LoadBalancer' });
    await client.patch(ref.services, 'default', 'lb', 'merge', { status: { loadBalancer: { ingress: [{ ip: '192.168.77.10' }] } } }, { subresource: 'status' });
    await slice('lb', [{ ip: pods[0] }, { ip: pods[1] }]);
    const r = await reach(lab.client, '192.168.77.10', 80, 20, (b) => Object.keys(b).length === 2);
    assert.deepEqual(remotes(r), [NODE_POD_GW]);
    assert.ok(s.spec.ports[0].nodePort > 0);
  });

  test('hairpin: an endpoint reaching its own service through the ClusterIP is masqueraded', async () => {
    const s = await svc('hairpin');
    await slice('hairpin', [{ ip: pods[0] }]);
    const r = await reach(lab.pods, s.spec.clusterIP, 80, 5);
    assert.deepEqual(Object.keys(byEndpoint(r)), [pods[0]]);
    assert.deepEqual(remotes(r), [NODE_POD_GW]);
  });

  test('headless services get no rules', async () => {
    await svc('headless', { clusterIP: 'None' });
    await slice('headless', [{ ip: pods[0] }]);
    await proxier.syncNow();
    const listed = await listTable(nftRunner({ netns: lab.node }), proxier.table);
    assert.ok(!listed.contents.chains.some((c) => c.includes('default/headless/')));
  });

  test('scaling from three endpoints to one: the rules follow within a second, measured and logged', async () => {
    const s = await client.get(ref.services, 'default', 'web');
    const before = logs.length;
    const cur = await client.get(ref.endpointslices, 'default', 'web-abc');
    const started = Date.now();
    await client.update(ref.endpointslices, 'default', { ...sliceFor('web', [{ ip: pods[2] }]), metadata: cur.metadata });
    await reach(lab.client, s.spec.clusterIP, 80, 20, (b) => Object.keys(b).length === 1 && b[pods[2]] === 20);
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
    assert.ok(logs.slice(before).some((l) => l.startsWith('rules live') && /maxChangeToLiveMs/.test(l)), logs.slice(before).join('\n'));
    assert.match(proxier.metricsText(), /kubeproxy_network_programming_duration_seconds_count [1-9]/);
    assert.match(proxier.metricsText(), /kubeproxy_sync_proxy_rules_duration_seconds_count [1-9]/);
  });

  test('healthCheckNodePort of a Local LoadBalancer: 200 with the JSON while this node has a ready endpoint, else 503; closed on a change to Cluster and on delete', async () => {
    const lb = { type: 'LoadBalancer', externalTrafficPolicy: 'Local' };
    const local = await svc('hc-local', lb);
    const hcPort: number = local.spec.healthCheckNodePort;
    assert.ok(hcPort >= 30000 && hcPort <= 32767, `healthCheckNodePort ${hcPort}`);
    await slice('hc-local', [{ ip: pods[0], node: NODE }, { ip: pods[1] }]);
    const ok = await eventually(async () => ((await get(hcPort))?.status === 200 ? get(hcPort) : undefined), 10_000, 'health check 200');
    assert.equal(ok!.headers['content-type'], 'application/json');
    assert.equal(ok!.headers['x-content-type-options'], 'nosniff');
    assert.equal(ok!.body, '{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "hc-local"\n\t},\n\t"localEndpoints": 1,\n\t"serviceProxyHealthy": true\n}');

    // Endpoints only on another node: this node tells the load balancer to go elsewhere.
    const remote = await svc('hc-remote', lb);
    const remotePort: number = remote.spec.healthCheckNodePort;
    await slice('hc-remote', [{ ip: pods[1] }, { ip: pods[2] }]);
    const no = await eventually(() => get(remotePort), 10_000, 'second health check listening');
    assert.equal(no.status, 503);
    assert.deepEqual(JSON.parse(no.body), { service: { namespace: 'default', name: 'hc-remote' }, localEndpoints: 0, serviceProxyHealthy: true });

    // The local endpoint terminates (serving, not ready): it no longer counts.
    const cur = await client.get(ref.endpointslices, 'default', 'hc-local-abc');
    await client.update(ref.endpointslices, 'default', { ...sliceFor('hc-local', [{ ip: pods[0], node: NODE, ready: false, terminating: true }, { ip: pods[1] }]), metadata: cur.metadata });
    const gone = await eventually(async () => ((await get(hcPort))?.status === 503 ? get(hcPort) : undefined), 10_000, 'health check 503');
    assert.equal(JSON.parse(gone!.body).localEndpoints, 0);

    await client.patch(ref.services, 'default', 'hc-local', 'merge', { spec: { externalTrafficPolicy: 'Cluster' } });
    await eventually(async () => (await get(hcPort)) === undefined, 10_000, 'listener closed after the change to Cluster');
    await client.delete(ref.services, 'default', 'hc-remote');
    await eventually(async () => (await get(remotePort)) === undefined, 10_000, 'listener closed after the delete');
    assert.deepEqual([...proxier.serviceHealth.listening().keys()].filter((k) => k.startsWith('default/hc-')), []);
  });

  test('a healthCheckNodePort already in use on this node: a FailedToStartServiceHealthcheck event on the Service; a later sync opens it once free', async () => {
    // Occupy a port of the NodePort range, then ask for it as the Service's health check port.
    let blocker: Server | undefined;
    let s: KObject | undefined;
    for (let i = 0; i < 20 && !s; i++) {
      const port = 30000 + Math.floor(Math.random() * 2768);
      const b = createServer((_, res) => res.end('someone else'));
      const bound = await new Promise<boolean>((r) => b.once('error', () => r(false)).listen(port, '127.0.0.1', () => r(true)));
      if (!bound) continue;
      try {
        s = await svc('hc-busy', { type: 'LoadBalancer', externalTrafficPolicy: 'Local', healthCheckNodePort: port });
        blocker = b;
      } catch (e) {
        b.close();
        if (!isStatusError(e)) throw e;
      }
    }
    assert.ok(s && blocker, 'a free port of the range');
    const port: number = s.spec.healthCheckNodePort;
    try {
      const ev = await eventually(async () => {
        const list = await client.list(ref.events, 'default');
        return list.items.find((e) => e.reason === 'FailedToStartServiceHealthcheck' && e.involvedObject?.name === 'hc-busy');
      }, 10_000, 'FailedToStartServiceHealthcheck event');
      assert.equal(ev.type, 'Warning');
      assert.deepEqual([ev.involvedObject.kind, ev.involvedObject.uid], ['Service', s.metadata.uid]);
      assert.equal(ev.source?.component, 'kube-proxy');
      assert.equal(ev.message, `node ${NODE} failed to start healthcheck "default/hc-busy" on port ${port}: listen tcp 127.0.0.1:${port}: bind: address already in use`);
      assert.equal((await get(port))?.body, 'someone else');
    } finally {
      await new Promise((r) => blocker!.close(r));
    }
    await proxier.syncNow();
    const r = await eventually(() => get(port), 10_000, 'health check listening once the port is free');
    assert.equal(r.status, 503, 'no endpoints');
    await client.delete(ref.services, 'default', 'hc-busy');
    await eventually(async () => (await get(port)) === undefined, 10_000, 'closed after the delete');
  });

  test('/healthz and /livez answer 200 after a sync; a node tainted ToBeDeletedByClusterAutoscaler fails /healthz only', async () => {
    const { port } = await proxier.healthzAddress()!;
    await proxier.syncNow();
    const r = (await get(port, '/healthz'))!;
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    const body = JSON.parse(r.body);
    assert.equal(body.nodeEligible, true);
    assert.match(body.lastUpdated, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);
    assert.equal((await get(port, '/livez'))!.status, 200);
    assert.equal((await get(port, '/'))!.status, 404);

    await client.create(ref.nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE }, spec: { taints: [{ key: 'ToBeDeletedByClusterAutoscaler', value: '1700000000', effect: 'NoSchedule' }] } });
    try {
      const bad = await eventually(async () => ((await get(port, '/healthz'))?.status === 503 ? get(port, '/healthz') : undefined), 10_000, '/healthz 503');
      assert.equal(JSON.parse(bad!.body).nodeEligible, false);
      assert.equal((await get(port, '/livez'))!.status, 200);
      await client.patch(ref.nodes, undefined, NODE, 'merge', { spec: { taints: null } });
      await eventually(async () => (await get(port, '/healthz'))?.status === 200, 10_000, '/healthz 200 again');
    } finally {
      await client.delete(ref.nodes, undefined, NODE);
    }
    assert.match(proxier.metricsText(), /kubeproxy_healthz_total\{code="503"\} [1-9]/);
  });

  test('a restarted proxier rebuilds the table from the API and removes what is gone; removeAll deletes the table', async () => {
    ac.abort();
    await proxier.done();
    await client.delete(ref.services, 'default', 'sticky');
    await client.delete(ref.endpointslices, 'default', 'sticky-abc');
    // Something foreign in our table is replaced too.
    await sh('ip', ['netns', 'exec', lab.node, 'nft', 'add chain inet', proxier.table, 'stray-chain'].join(' ').split(' '));
    await startProxier();
    const listed = await listTable(nftRunner({ netns: lab.node }), proxier.table);
    assert.ok(!listed.contents.chains.some((c) => c.includes('default/sticky/')), 'stale service chains deleted');
    assert.ok(!listed.contents.chains.includes('stray-chain'));
    assert.ok(!listed.contents.sets.some((c) => c.includes('default/sticky/')), 'stale affinity sets deleted');
    const web = await client.get(ref.services, 'default', 'web');
    await reach(lab.client, web.spec.clusterIP, 80, 5);
    ac.abort();
    await proxier.done();
    await removeAll({ clusterName: clusterName(), nft: nftRunner({ netns: lab.node }) });
    assert.equal((await listTable(nftRunner({ netns: lab.node }), proxier.table)).exists, false);
    await removeAll({ clusterName: clusterName(), nft: nftRunner({ netns: lab.node }) });
  });
});
