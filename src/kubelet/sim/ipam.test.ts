import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PodCIDRAllocator, PodIPAllocator, parseCidr4, formatCidr, simNodeIP, suggestClusterCidr } from './ipam.ts';

test('pod CIDRs: /24s of the cluster range, skipping occupied ones, until the range is full', () => {
  const a = new PodCIDRAllocator('10.244.0.0/16');
  assert.equal(a.capacity, 256);
  assert.equal(a.occupy('10.244.1.0/24'), true);
  assert.equal(a.occupy('10.245.0.0/24'), false, 'outside the range');
  assert.equal(a.allocate(), '10.244.0.0/24');
  assert.equal(a.allocate(), '10.244.2.0/24');
  for (let i = 0; i < 253; i++) assert.ok(a.allocate());
  assert.equal(a.allocate(), undefined);
  a.release('10.244.7.0/24');
  assert.equal(a.allocate(), '10.244.7.0/24');
});

test('a range that cannot hold the nodes suggests one outside the service range that does', () => {
  assert.equal(suggestClusterCidr(1000), '10.128.0.0/14');
  assert.equal(suggestClusterCidr(10_000), '10.128.0.0/10');
  const big = new PodCIDRAllocator(suggestClusterCidr(10_000));
  assert.ok(big.capacity >= 10_000);
});

test('pod IPs: .2 onwards, never the network, gateway or broadcast; freed addresses come back last', () => {
  const a = new PodIPAllocator('10.244.3.0/24');
  assert.equal(a.capacity, 253);
  assert.equal(a.allocate(), '10.244.3.2');
  assert.equal(a.allocate(), '10.244.3.3');
  a.release('10.244.3.2');
  assert.equal(a.allocate(), '10.244.3.4');
  const got = new Set<string>();
  let ip;
  while ((ip = a.allocate())) got.add(ip);
  assert.ok(got.has('10.244.3.2'));
  assert.ok(!got.has('10.244.3.1') && !got.has('10.244.3.0') && !got.has('10.244.3.255'));
  assert.equal(got.size + 2, 253);
});

test('CIDR parsing normalizes the network address; node IPs stay in 198.18.0.0/15', () => {
  assert.equal(formatCidr(parseCidr4('10.244.3.7/16')), '10.244.0.0/16');
  assert.throws(() => parseCidr4('10.244.0.0'));
  assert.throws(() => parseCidr4('300.1.1.1/8'));
  assert.equal(simNodeIP(0), '198.18.0.1');
  assert.equal(simNodeIP(254), '198.18.1.1');
  assert.equal(simNodeIP(10_000), '198.18.39.95');
});
