// The service load balancer. Unit: the assignment (node addresses as k3s picks them,
// externalTrafficPolicy Local, port clashes, the pool). Integration (a real apiserver,
// Node objects written by the test, no kubelet): status.loadBalancer.ingress follows
// nodes coming, going and changing addresses, and (externalTrafficPolicy Local) the
// EndpointSlices; a port clash leaves the newer Service
// pending with a Warning event until the older one goes; a Service that stops being a
// LoadBalancer loses its ingress; other classes are left alone; pool addresses survive
// a controller restart; `kubectl get svc` shows EXTERNAL-IP.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import { kubectlFor } from '../../../test/harness.ts';
import { eventually, startControllerTestCluster, type ControllerTestCluster, type RunningControllers } from '../testing.ts';
import { computeAssignments, LABEL_EXCLUDE_FROM_EXTERNAL_LB, parsePools, serviceLBController } from './controller.ts';

function node(name: string, addrs: Record<string, string | string[]>, o: { ready?: boolean; labels?: Record<string, string> } = {}): KObject {
  const addresses = Object.entries(addrs).flatMap(([type, a]) => (Array.isArray(a) ? a : [a]).map((address) => ({ type, address })));
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...o.labels } },
    status: { addresses, conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }] },
  };
}

function lb(name: string, ports: (number | [number, string])[], o: { created?: string; families?: string[]; local?: boolean; ingress?: string[]; cls?: string } = {}): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: 'default', creationTimestamp: o.created ?? '2026-01-01T00:00:00Z', uid: `uid-${name}` },
    spec: {
      type: 'LoadBalancer',
      ipFamilies: o.families ?? ['IPv4'],
      ports: ports.map((p) => (Array.isArray(p) ? { port: p[0], protocol: p[1] } : { port: p, protocol: 'TCP' })),
      ...(o.local ? { externalTrafficPolicy: 'Local' } : {}),
      ...(o.cls ? { loadBalancerClass: o.cls } : {}),
    },
    status: { loadBalancer: o.ingress ? { ingress: o.ingress.map((ip) => ({ ip, ipMode: 'VIP' })) } : {} },
  };
}

function slice(service: string, eps: { node: string; ready: boolean }[]): KObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-abc`, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    endpoints: eps.map((e, i) => ({ addresses: [`10.244.0.${i + 2}`], conditions: { ready: e.ready }, nodeName: e.node, targetRef: { kind: 'Pod', name: `p${i}`, namespace: 'default' } })),
  };
}

const ipsOf = (m: Map<string, { ips: string[] }>, key: string) => m.get(key)?.ips;

describe('ServiceLB assignment (unit)', () => {
  const none = parsePools(undefined);

  it("uses the Ready nodes' InternalIPs, sorted, per family in spec.ipFamilies order", () => {
    const nodes = [
      node('n2', { InternalIP: ['10.0.0.9', 'fd00::9'], Hostname: 'n2' }),
      node('n1', { InternalIP: ['10.0.0.10', 'fd00::10'] }),
      node('n3', { InternalIP: '10.0.0.3' }, { ready: false }),
      node('n4', { InternalIP: '10.0.0.4' }, { labels: { [LABEL_EXCLUDE_FROM_EXTERNAL_LB]: '' } }),
    ];
    const m = computeAssignments({ services: [lb('v4', [80]), lb('v6', [81], { families: ['IPv6', 'IPv4'] })], nodes, slices: [], pools: none });
    assert.deepEqual(ipsOf(m, 'default/v4'), ['10.0.0.10', '10.0.0.9']);
    assert.deepEqual(ipsOf(m, 'default/v6'), ['fd00::10', 'fd00::9', '10.0.0.10', '10.0.0.9']);
  });

  it('uses only ExternalIPs once any node has one', () => {
    const nodes = [node('n1', { InternalIP: '10.0.0.1', ExternalIP: '203.0.113.1' }), node('n2', { InternalIP: '10.0.0.2' })];
    const m = computeAssignments({ services: [lb('web', [80])], nodes, slices: [], pools: none });
    assert.deepEqual(ipsOf(m, 'default/web'), ['203.0.113.1']);
  });

  it('externalTrafficPolicy Local: only nodes with a ready endpoint', () => {
    const nodes = [node('n1', { InternalIP: '10.0.0.1' }), node('n2', { InternalIP: '10.0.0.2' }), node('n3', { InternalIP: '10.0.0.3' })];
    const slices = [slice('web', [{ node: 'n2', ready: true }, { node: 'n3', ready: false }])];
    const m = computeAssignments({ services: [lb('web', [80], { local: true }), lb('other', [81])], nodes, slices, pools: none });
    assert.deepEqual(ipsOf(m, 'default/web'), ['10.0.0.2']);
    assert.deepEqual(ipsOf(m, 'default/other'), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  });

  it('a port clash: the older Service keeps the address, the newer loses it and says why', () => {
    const nodes = [node('n1', { InternalIP: '10.0.0.1' }), node('n2', { InternalIP: '10.0.0.2' })];
    const services = [
      lb('new', [443, 80], { created: '2026-01-01T00:00:05Z' }),
      lb('old', [80], { created: '2026-01-01T00:00:01Z', local: true }),
      lb('udp', [[80, 'UDP']], { created: '2026-01-01T00:00:09Z' }),
      lb('classy', [80], { created: '2025-01-01T00:00:00Z', cls: 'example.com/other' }),
    ];
    const slices = [slice('old', [{ node: 'n1', ready: true }])];
    const m = computeAssignments({ services, nodes, slices, pools: none });
    assert.deepEqual(m.get('default/old'), { ips: ['10.0.0.1'] });
    assert.deepEqual(m.get('default/new'), { ips: ['10.0.0.2'], problem: 'port 80/TCP on 10.0.0.1 is already used by LoadBalancer service default/old' });
    assert.deepEqual(m.get('default/udp'), { ips: ['10.0.0.1', '10.0.0.2'] });
    assert.equal(m.has('default/classy'), false);
  });

  it('a pool: held addresses stay, others get the lowest free one, the older wins a double claim, exhaustion is a problem', () => {
    const pools = parsePools('192.0.2.0/30, 2001:db8::/126');
    const services = [
      lb('a', [80], { created: '2026-01-01T00:00:01Z', ingress: ['192.0.2.2'] }),
      lb('b', [80], { created: '2026-01-01T00:00:02Z', ingress: ['192.0.2.2'] }),
      lb('c', [80], { created: '2026-01-01T00:00:03Z', families: ['IPv6', 'IPv4'] }),
      lb('d', [80], { created: '2026-01-01T00:00:04Z', ingress: ['10.0.0.1'] }),
    ];
    const m = computeAssignments({ services, nodes: [node('n1', { InternalIP: '10.0.0.1' })], slices: [], pools });
    assert.deepEqual(ipsOf(m, 'default/a'), ['192.0.2.2']);
    // .0 and .3 are the network and broadcast addresses of the /30.
    assert.deepEqual(ipsOf(m, 'default/b'), ['192.0.2.1']);
    assert.deepEqual(m.get('default/c'), { ips: ['2001:db8::'], problem: 'no free address left in the pool 192.0.2.0/30' });
    assert.deepEqual(m.get('default/d'), { ips: [], problem: 'no free address left in the pool 192.0.2.0/30' });
    // What was handed out but is not yet in a status is kept on the next computation.
    const x = lb('x', [80], { created: '2026-01-01T00:00:01Z' });
    const y = lb('y', [80], { created: '2026-01-01T00:00:02Z' });
    assert.deepEqual(ipsOf(computeAssignments({ services: [x, y], nodes: [], slices: [], pools }), 'default/x'), ['192.0.2.1']);
    const previous = new Map([['default/y', { ips: ['192.0.2.1'] }], ['default/x', { ips: ['192.0.2.2'] }]]);
    const again = computeAssignments({ services: [x, y], nodes: [], slices: [], pools, previous });
    assert.deepEqual(ipsOf(again, 'default/x'), ['192.0.2.2']);
    assert.deepEqual(ipsOf(again, 'default/y'), ['192.0.2.1']);
    assert.throws(() => parsePools('10.0.0.0/24,10.1.0.0/24'), /at most one range per IP family/);
    assert.throws(() => serviceLBController({ pool: 'nonsense' }), /invalid CIDR/);
  });
});

async function putNode(c: ControllerTestCluster, n: KObject): Promise<void> {
  let cur: KObject | undefined;
  try {
    cur = await c.client.get(ref.nodes, undefined, n.metadata.name!);
  } catch {
    cur = await c.client.create(ref.nodes, undefined, { ...n, status: undefined });
  }
  await c.client.update(ref.nodes, undefined, { ...cur!, metadata: { ...cur!.metadata, labels: n.metadata.labels }, status: n.status }, { subresource: 'status' });
  if (JSON.stringify(cur!.metadata.labels) !== JSON.stringify(n.metadata.labels)) {
    const fresh = await c.client.get(ref.nodes, undefined, n.metadata.name!);
    await c.client.update(ref.nodes, undefined, { ...fresh, metadata: { ...fresh.metadata, labels: n.metadata.labels } });
  }
}

function service(name: string, ports: number[], extra: Record<string, unknown> = {}): KObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: ports.map((port) => ({ name: `p${port}`, port })), ...extra } };
}

const ingressOf = (s: KObject | undefined): string[] => (s?.status?.loadBalancer?.ingress ?? []).map((i: { ip: string }) => i.ip);
const hasIngress = (ips: string[]) => (s: KObject | undefined) => JSON.stringify(ingressOf(s)) === JSON.stringify(ips);

describe('ServiceLB controller (integration: apiserver, nodes written by the test)', () => {
  let c: ControllerTestCluster;
  let cm: RunningControllers;

  before(async () => {
    c = await startControllerTestCluster({ nodes: 0 });
    await putNode(c, node('n1', { InternalIP: '10.0.0.1' }));
    await putNode(c, node('n2', { InternalIP: '10.0.0.2' }));
    cm = c.startControllers([serviceLBController()]);
  });

  after(async () => {
    await cm?.stop();
    await c?.close();
  });

  it('a LoadBalancer Service gets the Ready nodes\' addresses and follows the nodes', async () => {
    await c.client.create(ref.services, 'default', service('web', [80]));
    await c.waitFor(ref.services, 'default', 'web', hasIngress(['10.0.0.1', '10.0.0.2']));
    // Events are written in the background.
    await eventually(async () => ((await c.events('default', 'web', 'UpdatedLoadBalancer')).length ? true : undefined), 10_000, 'UpdatedLoadBalancer event');
    assert.deepEqual(await c.events('default', 'web', 'UpdatedLoadBalancer'), ['Updated LoadBalancer with new IPs: [] -> [10.0.0.1 10.0.0.2]']);
    await putNode(c, node('n3', { InternalIP: '10.0.0.3' }));
    await c.waitFor(ref.services, 'default', 'web', hasIngress(['10.0.0.1', '10.0.0.2', '10.0.0.3']));
    await putNode(c, node('n2', { InternalIP: '10.0.0.2' }, { ready: false }));
    await c.waitFor(ref.services, 'default', 'web', hasIngress(['10.0.0.1', '10.0.0.3']));
    await putNode(c, node('n1', { InternalIP: '10.0.0.1', ExternalIP: '198.51.100.7' }));
    await c.waitFor(ref.services, 'default', 'web', hasIngress(['198.51.100.7']));
    await putNode(c, node('n1', { InternalIP: '10.0.0.1' }, { labels: { [LABEL_EXCLUDE_FROM_EXTERNAL_LB]: 'true' } }));
    await c.waitFor(ref.services, 'default', 'web', hasIngress(['10.0.0.3']));
    await c.client.delete(ref.nodes, undefined, 'n3');
    await c.waitFor(ref.services, 'default', 'web', hasIngress([]));
    await eventually(async () => ((await c.events('default', 'web', 'UnAvailableLoadBalancer')).length ? true : undefined), 10_000, 'UnAvailableLoadBalancer event');
    assert.deepEqual(await c.events('default', 'web', 'UnAvailableLoadBalancer'), ['There are no available nodes for LoadBalancer']);
    await putNode(c, node('n1', { InternalIP: '10.0.0.1' }));
    await putNode(c, node('n2', { InternalIP: '10.0.0.2' }));
    await c.waitFor(ref.services, 'default', 'web', hasIngress(['10.0.0.1', '10.0.0.2']));
    // A status written by someone else is put right.
    await c.client.patch(ref.services, 'default', 'web', 'merge', { status: { loadBalancer: { ingress: [{ ip: '192.0.2.99' }] } } }, { subresource: 'status' });
    await c.waitFor(ref.services, 'default', 'web', hasIngress(['10.0.0.1', '10.0.0.2']));
  });

  it('externalTrafficPolicy Local: the nodes with a ready endpoint, following the EndpointSlices', async () => {
    await c.client.create(ref.services, 'default', service('loc', [6060], { externalTrafficPolicy: 'Local' }));
    const sl = slice('loc', [{ node: 'n2', ready: true }]);
    await c.client.create(ref.endpointslices, 'default', { ...sl, metadata: { ...sl.metadata, name: 'loc-1' } });
    await c.waitFor(ref.services, 'default', 'loc', hasIngress(['10.0.0.2']));
    await c.client.patch(ref.endpointslices, 'default', 'loc-1', 'merge', { endpoints: [{ addresses: ['10.244.0.9'], conditions: { ready: true }, nodeName: 'n1', targetRef: { kind: 'Pod', name: 'p9', namespace: 'default' } }] });
    await c.waitFor(ref.services, 'default', 'loc', hasIngress(['10.0.0.1']));
    await c.client.delete(ref.endpointslices, 'default', 'loc-1');
    await c.waitFor(ref.services, 'default', 'loc', hasIngress([]));
    await c.client.delete(ref.services, 'default', 'loc');
  });

  it('kubectl get svc shows the EXTERNAL-IP, and <pending> without one', async () => {
    await c.client.create(ref.services, 'default', service('nolb', [80], { loadBalancerClass: 'example.com/elsewhere' }));
    const kubectl = kubectlFor(c.server.kubeconfigPath, c.dir);
    const r = await kubectl(['get', 'svc', 'web', 'nolb']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/);
    assert.match(lines[1], /^web\s+LoadBalancer\s+10\.\d+\.\d+\.\d+\s+10\.0\.0\.1,10\.0\.0\.2\s+80:3\d{4}\/TCP\s+\d+s$/);
    // Another class: not ours, so no address.
    assert.match(lines[2], /^nolb\s+LoadBalancer\s+\S+\s+<pending>\s+80:\d+\/TCP\s+\d+s$/);
  });

  it('a port clash leaves the newer Service pending with a Warning event until the older one goes', async () => {
    await c.client.create(ref.services, 'default', service('clash-b', [8080]));
    await c.waitFor(ref.services, 'default', 'clash-b', hasIngress(['10.0.0.1', '10.0.0.2']));
    await c.client.create(ref.services, 'default', service('clash-c', [9090, 8080]));
    const msg = 'Error syncing load balancer: failed to ensure load balancer: port 8080/TCP on 10.0.0.1 is already used by LoadBalancer service default/clash-b; port 8080/TCP on 10.0.0.2 is already used by LoadBalancer service default/clash-b';
    await eventually(async () => ((await c.events('default', 'clash-c', 'SyncLoadBalancerFailed')).length ? true : undefined), 10_000, 'SyncLoadBalancerFailed event');
    assert.deepEqual(await c.events('default', 'clash-c', 'SyncLoadBalancerFailed'), [msg]);
    const ev = (await c.client.list(ref.events, 'default', { fieldSelector: 'involvedObject.name=clash-c' })).items.find((e) => e.reason === 'SyncLoadBalancerFailed')!;
    assert.equal(ev.type, 'Warning');
    assert.equal(ev.source?.component, 'service-controller');
    assert.deepEqual(ingressOf(await c.client.get(ref.services, 'default', 'clash-c')), []);
    // Moving the older one to another port frees 8080.
    const b = await c.client.get(ref.services, 'default', 'clash-b');
    await c.client.update(ref.services, 'default', { ...b, spec: { ...b.spec, ports: [{ ...b.spec.ports[0], port: 8081 }] } });
    await c.waitFor(ref.services, 'default', 'clash-c', hasIngress(['10.0.0.1', '10.0.0.2']));
    // Back to 8080: clash-b is the older, so clash-c is the one left out again.
    const b2 = await c.client.get(ref.services, 'default', 'clash-b');
    await c.client.update(ref.services, 'default', { ...b2, spec: { ...b2.spec, ports: [{ ...b2.spec.ports[0], port: 8080 }] } });
    await c.waitFor(ref.services, 'default', 'clash-c', hasIngress([]));
    await c.client.delete(ref.services, 'default', 'clash-b');
    await c.waitFor(ref.services, 'default', 'clash-c', hasIngress(['10.0.0.1', '10.0.0.2']));
  });

  it('a Service that is no longer a LoadBalancer loses its ingress; allocateLoadBalancerNodePorts=false gets no node ports', async () => {
    await c.client.create(ref.services, 'default', service('flip', [7070], { allocateLoadBalancerNodePorts: false }));
    const s = await c.waitFor(ref.services, 'default', 'flip', hasIngress(['10.0.0.1', '10.0.0.2']));
    assert.equal(s!.spec.ports[0].nodePort, undefined);
    await c.client.patch(ref.services, 'default', 'flip', 'merge', { spec: { type: 'ClusterIP', allocateLoadBalancerNodePorts: null, externalTrafficPolicy: null } });
    await c.waitFor(ref.services, 'default', 'flip', (o) => o?.spec.type === 'ClusterIP' && ingressOf(o).length === 0);
  });
});

describe('ServiceLB controller with a pool (integration)', () => {
  let c: ControllerTestCluster;

  before(async () => {
    c = await startControllerTestCluster({ nodes: 0 });
    await putNode(c, node('n1', { InternalIP: '10.0.0.1' }));
  });

  after(async () => {
    await c?.close();
  });

  it('one address per Service from the pool, kept across a controller restart; a full pool leaves the next one pending', async () => {
    let cm = c.startControllers([serviceLBController({ pool: '192.0.2.0/30' })]);
    await c.client.create(ref.services, 'default', service('p1', [80]));
    await c.waitFor(ref.services, 'default', 'p1', hasIngress(['192.0.2.1']));
    await c.client.create(ref.services, 'default', service('p2', [80]));
    await c.waitFor(ref.services, 'default', 'p2', hasIngress(['192.0.2.2']));
    await c.client.create(ref.services, 'default', service('p3', [80]));
    await eventually(async () => ((await c.events('default', 'p3', 'SyncLoadBalancerFailed')).length ? true : undefined), 10_000, 'SyncLoadBalancerFailed event');
    assert.deepEqual(await c.events('default', 'p3', 'SyncLoadBalancerFailed'), ['Error syncing load balancer: failed to ensure load balancer: no free address left in the pool 192.0.2.0/30']);
    await cm.stop();
    // A new term: p2 keeps .2 although .1 frees up first when p1 goes.
    await c.client.delete(ref.services, 'default', 'p1');
    cm = c.startControllers([serviceLBController({ pool: '192.0.2.0/30' })]);
    await c.waitFor(ref.services, 'default', 'p3', hasIngress(['192.0.2.1']));
    assert.deepEqual(ingressOf(await c.client.get(ref.services, 'default', 'p2')), ['192.0.2.2']);
    await cm.stop();
  });
});
