// Node IPAM. Unit: the CIDR set (order, occupied ranges, release, a full range, IPv6,
// bad masks). Integration: nodes registered without spec.podCIDR get the next /24 the
// simulated nodes (which set their own) do not hold; a deleted node's range is handed
// out again; a full range records CIDRNotAvailable.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ref } from '../../client/resources.ts';
import { startControllerTestCluster, type ControllerTestCluster } from '../testing.ts';
import { CidrSet } from './cidrset.ts';
import { nodeIpamController } from './controller.ts';

describe('CIDR set (unit)', () => {
  it('hands out /24s in order, skipping occupied ones, and again after release', () => {
    const s = new CidrSet('10.244.0.0/16', 24);
    assert.equal(s.max, 256);
    s.occupy('10.244.1.0/24');
    assert.equal(s.allocateNext(), '10.244.0.0/24');
    assert.equal(s.allocateNext(), '10.244.2.0/24');
    s.release('10.244.0.0/24');
    // Continues after the last one given, as upstream's nextCandidate.
    assert.equal(s.allocateNext(), '10.244.3.0/24');
    s.occupy('10.244.4.0/23');
    assert.equal(s.allocateNext(), '10.244.6.0/24');
    assert.throws(() => s.occupy('10.245.0.0/24'), /not in the cluster CIDR/);
  });

  it('runs out, and sizes IPv6 subnets', () => {
    const s = new CidrSet('10.0.0.0/30', 31);
    assert.deepEqual([s.allocateNext(), s.allocateNext(), s.allocateNext()], ['10.0.0.0/31', '10.0.0.2/31', undefined]);
    const v6 = new CidrSet('fd00:10:244::/56', 64);
    assert.equal(v6.allocateNext(), 'fd00:10:244::/64');
    assert.equal(v6.allocateNext(), 'fd00:10:244:1::/64');
    assert.throws(() => new CidrSet('10.0.0.0/8', 25), /too big/);
    assert.throws(() => new CidrSet('10.0.0.0/16', 8), /does not fit/);
  });

  it('keeps subnets overlapping the service range out', () => {
    const s = new CidrSet('10.0.0.0/16', 24);
    s.occupyOverlap('10.0.0.0/23');
    s.occupyOverlap('10.96.0.0/12');
    s.occupyOverlap('fd00::/108');
    assert.equal(s.allocateNext(), '10.0.2.0/24');
    const all = new CidrSet('10.0.0.0/24', 26);
    all.occupyOverlap('10.0.0.0/8');
    assert.equal(all.allocateNext(), undefined, 'a service range holding the whole cluster range takes it all');
    assert.throws(() => nodeIpamController({ clusterCIDR: '10.0.0.0/16,10.1.0.0/16' }), /at most one IPv4 and one IPv6/);
    assert.throws(() => nodeIpamController({ clusterCIDR: '10.0.0.0/7' }), /too big/);
  });
});

describe('node IPAM controller (integration)', () => {
  let c: ControllerTestCluster;
  before(async () => {
    c = await startControllerTestCluster({ nodes: 2, bind: false });
    await c.startControllers([nodeIpamController({ clusterCIDR: '10.244.0.0/22' })]).manager.whenReady();
  });
  after(async () => {
    await c?.close();
  });

  const node = (name: string) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name }, spec: {} });

  it('allocates the next free range to nodes without one, never one a node holds', async () => {
    const held = new Set<string>();
    for (const n of c.pool!.nodeNames()) held.add((await c.client.get(ref.nodes, undefined, n)).spec.podCIDR);
    assert.deepEqual([...held].sort(), ['10.244.0.0/24', '10.244.1.0/24'], 'the simulated nodes set their own');
    await c.client.create(ref.nodes, undefined, node('real-1'));
    const n1 = await c.waitFor(ref.nodes, undefined, 'real-1', (o) => !!o?.spec?.podCIDR);
    assert.equal(n1!.spec.podCIDR, '10.244.2.0/24');
    assert.deepEqual(n1!.spec.podCIDRs, ['10.244.2.0/24']);
    await c.client.create(ref.nodes, undefined, node('real-2'));
    const n2 = await c.waitFor(ref.nodes, undefined, 'real-2', (o) => !!o?.spec?.podCIDR);
    assert.equal(n2!.spec.podCIDR, '10.244.3.0/24');
  });

  it('a full range leaves the node without one and says so; a deleted node frees its range', async () => {
    await c.client.create(ref.nodes, undefined, node('real-3'));
    const deadline = Date.now() + 10_000;
    let msgs: string[] = [];
    while (Date.now() < deadline && !msgs.length) {
      msgs = await c.events('default', 'real-3', 'CIDRNotAvailable');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(msgs.slice(0, 1), ['Node real-3 status is now: CIDRNotAvailable']);
    await c.client.delete(ref.nodes, undefined, 'real-1');
    const n3 = await c.waitFor(ref.nodes, undefined, 'real-3', (o) => !!o?.spec?.podCIDR);
    assert.equal(n3!.spec.podCIDR, '10.244.2.0/24');
  });
});
