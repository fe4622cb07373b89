// Unit tier: ServicePorts from Services and EndpointSlices, and the nftables text they
// render to (the transaction shape, one rule or element per behaviour). The packet
// behaviour itself is checked in proxier.test.ts inside a network namespace.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../api/object.ts';
import { service, slice } from '../dns/testing.ts';
import { categorize, servicePorts, type ServicePort } from './model.ts';
import { removeScript, renderRuleset, type RenderOptions } from './render.ts';

const OPTS: RenderOptions = { table: 'skiff-test', nodeName: 'node-a', clusterCIDRs: ['10.244.0.0/16'], serviceCIDRs: ['10.96.0.0/12'] };

function web(mod: (s: KObject) => void = () => {}): KObject {
  const s = service('web').clusterIP('10.96.0.20').port('http', 80).obj;
  mod(s);
  return s;
}

const three = () => slice('web').port('http', 8080).endpoint({ ip: '10.244.1.2', nodeName: 'node-a' }).endpoint({ ip: '10.244.1.3', nodeName: 'node-b' }).endpoint({ ip: '10.244.1.4', nodeName: 'node-b' }).obj;

function render(svcs: KObject[], slices: KObject[], opts: Partial<RenderOptions> = {}) {
  const sps: ServicePort[] = svcs.flatMap((s) => servicePorts(s, slices.filter((x) => x.metadata.labels?.['kubernetes.io/service-name'] === s.metadata.name)));
  const r = renderRuleset(sps, { ...OPTS, ...opts });
  return { r, text: r.script() };
}

const lines = (text: string, re: RegExp) => text.split('\n').filter((l) => re.test(l));

test('the transaction rebuilds the whole table: table, flush, base chains, maps flushed, then rules and elements', () => {
  const { text } = render([web()], [three()]);
  const l = text.split('\n');
  assert.equal(l[0], 'add table inet skiff-test { comment "skiff service proxy"; }');
  assert.equal(l[1], 'flush table inet skiff-test');
  assert.ok(l.includes('add chain inet skiff-test nat-prerouting { type nat hook prerouting priority -100; policy accept; }'));
  assert.ok(l.includes('add chain inet skiff-test nat-postrouting { type nat hook postrouting priority 100; policy accept; }'));
  assert.ok(l.includes('flush map inet skiff-test service-ips'));
  assert.ok(l.includes('flush set inet skiff-test cluster-ips'));
  assert.ok(!l.some((x) => /^delete /.test(x)), 'nothing to delete without a previous table');
  assert.equal(render([web()], [three()]).text, text, 'deterministic');
});

test('ClusterIP: a vmap element to the service chain, DNAT to numgen random over the ready endpoints, hairpin pairs masqueraded', () => {
  const { text } = render([web()], [three()]);
  const el = lines(text, /add element inet skiff-test service-ips /)[0];
  assert.match(el, /10\.96\.0\.20 \. tcp \. 80 : goto svc-\w{8}-default\/web\/tcp\/http/);
  assert.match(text, /svc-\w+-default\/web\/tcp\/http meta l4proto tcp dnat ip to numgen random mod 3 map \{ 0 : 10\.244\.1\.2 \. 8080, 1 : 10\.244\.1\.3 \. 8080, 2 : 10\.244\.1\.4 \. 8080 \}/);
  assert.match(text, /add element inet skiff-test hairpin \{ 10\.244\.1\.2 \. 10\.244\.1\.2, 10\.244\.1\.3 \. 10\.244\.1\.3, 10\.244\.1\.4 \. 10\.244\.1\.4 \}/);
  assert.match(text, /masquerading ct status dnat ip saddr \. ip daddr @hairpin masquerade/);
  assert.ok(!/add chain inet skiff-test ep-/.test(text), 'no per-endpoint chains without affinity');
  assert.match(text, /ip daddr 10\.96\.0\.20 ip saddr != \{ 10\.244\.0\.0\/16 \} jump mark-for-masquerade/, 'off-cluster sources are masqueraded');
  assert.match(text, /add element inet skiff-test cluster-ips \{ 10\.96\.0\.20 \}/);
  assert.match(text, /cluster-ips-check ip daddr 10\.96\.0\.0\/12 drop/);
});

test('no endpoints: no service chain, the ClusterIP rejects (tcp reset)', () => {
  const { text } = render([web()], []);
  assert.ok(!/add chain inet skiff-test svc-/.test(text));
  assert.match(text, /add element inet skiff-test no-endpoint-services \{ 10\.96\.0\.20 \. tcp \. 80 : goto reject-chain \}/);
  assert.match(text, /reject-chain meta l4proto tcp reject with tcp reset/);
  assert.ok(!lines(text, /add element inet skiff-test service-ips /).length);
});

test('headless and ExternalName services render nothing', () => {
  const hl = service('web').headless().port('http', 80).obj;
  const ext = service('x').externalName('example.com').obj;
  const { text, r } = render([hl, ext], [three()]);
  assert.equal(r.stats.servicePorts, 0);
  assert.ok(!/default\/web/.test(text));
});

test('NodePort: nodeport map element to an external chain that masquerades; LoadBalancer ingress and external IPs in service-ips', () => {
  const s = web((s) => {
    s.spec.type = 'LoadBalancer';
    s.spec.ports[0].nodePort = 30080;
    s.spec.externalIPs = ['192.0.2.9'];
    s.status = { loadBalancer: { ingress: [{ ip: '198.51.100.7' }, { ip: '198.51.100.8', ipMode: 'Proxy' }] } };
  });
  const { text } = render([s], [three()]);
  assert.match(text, /add element inet skiff-test service-nodeports \{ tcp \. 30080 : goto ext-\w+-default\/web\/tcp\/http \}/);
  const ext = lines(text, /add rule inet skiff-test ext-/);
  assert.match(ext[0], /jump mark-for-masquerade$/);
  assert.match(ext[1], /goto svc-/);
  assert.match(text, /192\.0\.2\.9 \. tcp \. 80 : goto ext-/);
  assert.match(text, /198\.51\.100\.7 \. tcp \. 80 : goto ext-/);
  assert.ok(!/198\.51\.100\.8/.test(text), 'ipMode Proxy ingress is not a VIP');
  assert.match(text, /nodeports-local meta nfproto ipv4 fib daddr type local meta l4proto/, '127.0.0.1 allowed for the node itself');
  assert.match(text, /nodeports-external meta nfproto ipv4 fib daddr type local ip daddr != 127\.0\.0\.0\/8/);
  const off = render([s], [three()], { localhostNodePorts: false }).text;
  assert.match(off, /nodeports-local meta nfproto ipv4 fib daddr type local ip daddr != 127\.0\.0\.0\/8/);
});

test('externalTrafficPolicy Local: external traffic to local endpoints without masquerade; the node and pods may use any; none local drops', () => {
  const s = web((s) => {
    s.spec.type = 'NodePort';
    s.spec.ports[0].nodePort = 30080;
    s.spec.externalTrafficPolicy = 'Local';
  });
  const { text } = render([s], [three()]);
  const ext = lines(text, /add rule inet skiff-test ext-/).map((l) => l.replace(/^add rule inet skiff-test ext-\S+ /, ''));
  assert.deepEqual(ext.map((l) => l.replace(/-\w{8}-\S+/g, '')), [
    'fib saddr type local jump mark-for-masquerade',
    'fib saddr type local goto svc',
    'ip saddr { 10.244.0.0/16 } goto svc',
    'goto local',
  ]);
  assert.match(text, /local-\w+-default\/web\/tcp\/http meta l4proto tcp dnat ip to 10\.244\.1\.2:8080/);
  const none = render([s], [slice('web').port('http', 8080).endpoint({ ip: '10.244.1.3', nodeName: 'node-b' }).obj]).text;
  assert.match(none, /no-endpoint-nodeports \{ tcp \. 30080 : drop \}/);
  assert.match(none, /service-ips \{ 10\.96\.0\.20 \. tcp \. 80 : goto svc-/, 'ClusterIP traffic still served');
});

test('internalTrafficPolicy Local: ClusterIP to local endpoints; none local drops when others exist, rejects when none exist', () => {
  const s = web((s) => (s.spec.internalTrafficPolicy = 'Local'));
  assert.match(render([s], [three()]).text, /service-ips \{ 10\.96\.0\.20 \. tcp \. 80 : goto local-/);
  const remoteOnly = slice('web').port('http', 8080).endpoint({ ip: '10.244.1.3', nodeName: 'node-b' }).obj;
  assert.match(render([s], [remoteOnly]).text, /no-endpoint-services \{ 10\.96\.0\.20 \. tcp \. 80 : drop \}/);
  assert.match(render([s], []).text, /no-endpoint-services \{ 10\.96\.0\.20 \. tcp \. 80 : goto reject-chain \}/);
});

test('sessionAffinity ClientIP: a timeout set per endpoint, checked before the random choice, updated on DNAT', () => {
  const s = web((s) => {
    s.spec.sessionAffinity = 'ClientIP';
    s.spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 600 } };
  });
  const { text, r } = render([s], [three()]);
  assert.equal([...r.sets].filter((x) => x.startsWith('aff-')).length, 3);
  assert.match(text, /add set inet skiff-test aff-\S+ \{ type ipv4_addr; flags dynamic,timeout; timeout 600s; \}/);
  const svc = lines(text, /add rule inet skiff-test svc-/);
  assert.match(svc[1], /ip saddr @aff-\S+ goto ep-/);
  assert.match(svc[svc.length - 1], /numgen random mod 3/);
  assert.match(text, /update @aff-\S+ \{ ip saddr \}/);
  assert.match(text, /ep-\w+-default\/web\/tcp\/http__10\.244\.1\.3\/8080 meta l4proto tcp dnat ip to 10\.244\.1\.3:8080/);
  assert.ok(!/flush set inet skiff-test aff-/.test(text), 'affinities survive a resync');
});

test('endpoints: ready first, else serving-terminating; unready dropped; deduplicated across slices; port by name and protocol', () => {
  const s = service('web').clusterIP('10.96.0.20').port('http', 80).port('dns', 53, 'UDP').obj;
  const a = slice('web').port('http', 8080).port('dns', 5353, 'UDP').endpoint({ ip: '10.244.1.2', ready: false }).endpoint({ ip: '10.244.1.3', ready: false, serving: true, terminating: true }).obj;
  const b = slice('web').port('http', 8080).endpoint('10.244.1.3').obj;
  const [http, dns] = servicePorts(s, [a, b]);
  assert.equal(http.endpoints.length, 2);
  assert.deepEqual(categorize(http.endpoints, 'n').cluster.map((e) => e.ip), ['10.244.1.3'], 'the ready copy of .3 wins');
  assert.equal(dns.protocol, 'udp');
  assert.deepEqual(dns.endpoints.map((e) => `${e.ip}:${e.port}`), ['10.244.1.2:5353', '10.244.1.3:5353']);
  assert.deepEqual(categorize(dns.endpoints, 'n').cluster.map((e) => e.ip), ['10.244.1.3'], 'serving-terminating when none ready');
});

test('dual-stack: IPv6 cluster IPs go to the ip6 maps with ip6 DNAT', () => {
  const s = service('web').clusterIP('10.96.0.20', 'fd00:96::20').port('http', 80).obj;
  const v6 = slice('web').addressType('IPv6').port('http', 8080).endpoint('fd00:244::2').obj;
  const { text } = render([s], [three(), v6]);
  assert.match(text, /add element inet skiff-test service-ips6 \{ fd00:96::20 \. tcp \. 80 : goto svc-/);
  assert.match(text, /dnat ip6 to \[fd00:244::2\]:8080/);
});

test('stale chains, sets and maps are deleted in the same transaction; removal is idempotent', () => {
  const { r } = render([web()], [three()]);
  const text = r.script({ chains: ['svc-OLD-default/gone/tcp/http', 'services'], sets: ['aff-OLD'], maps: ['old-map'] });
  const tail = text.trim().split('\n').slice(-3);
  assert.deepEqual(tail, ['delete chain inet skiff-test svc-OLD-default/gone/tcp/http', 'delete set inet skiff-test aff-OLD', 'delete map inet skiff-test old-map']);
  assert.equal(removeScript('skiff-test'), 'add table inet skiff-test\ndelete table inet skiff-test\n');
});
