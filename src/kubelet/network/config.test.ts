import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, cidrsOverlap, nodeNetworkNames, numberToIp, parseCidr, renderConflist, renderNftTable, resolveNodeNetwork } from './config.ts';

const spec = { clusterName: 'dev', podCIDR: '10.244.3.0/24', clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', cniConfDir: '/d/etc/cni/net.d' };

test('CIDR parsing and containment', () => {
  assert.deepEqual(parseCidr('10.244.0.0/16'), { base: 0x0af40000, prefix: 16 });
  assert.equal(numberToIp(parseCidr('255.255.255.0/24').base), '255.255.255.0');
  assert.throws(() => parseCidr('10.244.1.1/16'), /host bits set \(the network is 10\.244\.0\.0\/16\)/);
  assert.throws(() => parseCidr('10.244.0.0'), /not an IPv4 CIDR/);
  assert.throws(() => parseCidr('10.256.0.0/16'), /not an IPv4 address/);
  assert.ok(cidrContains(parseCidr('10.244.0.0/16'), parseCidr('10.244.3.0/24')));
  assert.ok(!cidrContains(parseCidr('10.244.3.0/24'), parseCidr('10.244.0.0/16')));
  assert.ok(cidrsOverlap(parseCidr('10.96.0.0/12'), parseCidr('10.100.0.0/16')));
  assert.ok(!cidrsOverlap(parseCidr('10.96.0.0/12'), parseCidr('10.244.0.0/16')));
  assert.ok(cidrContains(parseCidr('0.0.0.0/0'), parseCidr('192.0.2.0/24')));
});

test('names carry the cluster name; the bridge fits IFNAMSIZ; metrics differ per cluster', () => {
  const a = nodeNetworkNames('dev');
  const b = nodeNetworkNames('a-very-long-cluster-name-that-is-still-a-valid-dns-label-63c');
  assert.match(a.bridge, /^sk-[0-9a-f]{8}$/);
  assert.match(a.bridgeMAC, /^02(:[0-9a-f]{2}){5}$/, 'unicast, locally administered');
  assert.notEqual(a.bridgeMAC, b.bridgeMAC);
  assert.ok(b.bridge.length <= 15);
  assert.notEqual(a.bridge, b.bridge);
  assert.equal(a.nftTable, 'skiff-dev-net');
  assert.equal(a.network, 'skiff-dev');
  assert.equal(a.metric % 2, 0);
  assert.ok(a.metric >= 20000 && a.metric + 1 < 2 ** 32);
  assert.notEqual(a.metric, b.metric);
  assert.deepEqual(nodeNetworkNames('dev'), a, 'stable');
  assert.throws(() => nodeNetworkNames('Dev_1'), /DNS label/);
});

test('resolve: gateway is the first address; ranges are checked', () => {
  const n = resolveNodeNetwork(spec);
  assert.equal(n.gatewayIP, '10.244.3.1');
  assert.equal(n.prefix, 24);
  assert.equal(n.conflistPath, '/d/etc/cni/net.d/10-skiff-dev.conflist');
  assert.equal(n.cniStateDir, '/run/skiff/dev/cni');
  assert.equal(n.ipamDataDir, '/run/skiff/dev/cni/networks');
  assert.equal(n.allowEgress, true);
  assert.throws(() => resolveNodeNetwork({ ...spec, podCIDR: '10.245.3.0/24' }), /not inside the cluster CIDR/);
  assert.throws(() => resolveNodeNetwork({ ...spec, serviceCIDR: '10.244.128.0/17' }), /overlaps the service CIDR/);
  assert.throws(() => resolveNodeNetwork({ ...spec, podCIDR: '10.244.3.0/31' }), /too small/);
});

test('conflist: bridge + host-local + portmap, cniVersion 1.0.0', () => {
  const n = resolveNodeNetwork({ ...spec, cniStateDir: '/s/cni' });
  const conf = JSON.parse(renderConflist(n));
  assert.equal(conf.cniVersion, '1.0.0');
  assert.equal(conf.name, 'skiff-dev');
  assert.deepEqual(conf.plugins.map((p: { type: string }) => p.type), ['bridge', 'portmap']);
  const [bridge, portmap] = conf.plugins;
  assert.equal(bridge.bridge, n.bridge);
  assert.equal(bridge.isGateway, true);
  assert.equal(bridge.ipMasq, false);
  assert.equal(bridge.hairpinMode, true);
  assert.deepEqual(bridge.ipam, {
    type: 'host-local',
    ranges: [[{ subnet: '10.244.3.0/24', gateway: '10.244.3.1' }]],
    routes: [{ dst: '0.0.0.0/0' }],
    dataDir: '/s/cni/networks',
  });
  assert.deepEqual(portmap.capabilities, { portMappings: true });
});

test('nft table: masquerade leaving the cluster; egress drop only when asked; digest follows contents', () => {
  const n = resolveNodeNetwork(spec);
  const open = renderNftTable(n);
  assert.match(open.script, /^table inet skiff-dev-net\ndelete table inet skiff-dev-net\ntable inet skiff-dev-net \{\n/);
  assert.match(open.script, new RegExp(`ip saddr 10\\.244\\.3\\.0/24 ip daddr != \\{ 10\\.244\\.0\\.0/16, 10\\.96\\.0\\.0/12 \\} oifname != "${n.bridge}" masquerade`));
  assert.match(open.script, new RegExp(`comment "skiff dev pod network ${open.digest}"`));
  assert.doesNotMatch(open.script, /drop/);
  const closed = renderNftTable(resolveNodeNetwork({ ...spec, allowEgress: false }));
  assert.match(closed.script, new RegExp(`iifname "${n.bridge}" oifname != "${n.bridge}" drop`));
  assert.notEqual(closed.digest, open.digest);
  assert.equal(renderNftTable(n).digest, open.digest);
});
