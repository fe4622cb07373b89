// The controller manager (integration: a real apiserver, no nodes): controllers run
// only under the lease, one manager at a time; a standby takes over when the leader
// stops; a failing controller does not stop the others; controllers share informers.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ref } from '../client/resources.ts';
import type { Controller } from './context.ts';
import { eventually, startControllerTestCluster, type ControllerTestCluster } from './testing.ts';

/** A controller that records when it runs, and lists what its informer sees. */
function probe(name: string, log: string[]): Controller & { seen: () => number } {
  let count = () => 0;
  return {
    name,
    seen: () => count(),
    async start(ctx, signal) {
      const inf = ctx.factory.informerFor(ref.configmaps);
      count = () => inf.lister.list().length;
      log.push(`${name} start`);
      await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      log.push(`${name} stop`);
    },
  };
}

describe('controller manager', () => {
  let c: ControllerTestCluster;
  before(async () => {
    c = await startControllerTestCluster({ nodes: 0 });
  });
  after(async () => await c?.close());

  it('runs controllers only while it holds the lease; a standby takes over', async () => {
    const log: string[] = [];
    const fast = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 200 };
    const a = c.startControllers([probe('a', log)], { leaderElection: { ...fast, identity: 'manager-a' } });
    await a.manager.whenReady();
    const b = c.startControllers([probe('b', log)], { leaderElection: { ...fast, identity: 'manager-b' } });
    await new Promise((r) => setTimeout(r, 600));
    assert.deepEqual(log, ['a start']);
    assert.ok(a.manager.isLeader());
    assert.ok(!b.manager.isLeader());
    const lease = await c.client.get(ref.leases, 'kube-system', 'kube-controller-manager');
    assert.equal(lease.spec.holderIdentity, 'manager-a');
    const cs = await c.client.get(ref.componentstatuses, undefined, 'controller-manager');
    assert.equal(cs.conditions[0].status, 'True');
    // The leader stops (releasing the lease): the standby starts its controllers.
    await a.stop();
    await b.manager.whenReady();
    assert.deepEqual(log, ['a start', 'a stop', 'b start']);
    assert.equal((await c.client.get(ref.leases, 'kube-system', 'kube-controller-manager')).spec.holderIdentity, 'manager-b');
    await b.stop();
    assert.deepEqual(log.at(-1), 'b stop');
  });

  it('campaigns with upstream\'s default lease timings when none are given', async () => {
    const log: string[] = [];
    const m = c.startControllers([probe('d', log)], { leaderElection: { identity: 'manager-defaults' } });
    await m.manager.whenReady();
    const lease = await c.client.get(ref.leases, 'kube-system', 'kube-controller-manager');
    assert.equal(lease.spec.holderIdentity, 'manager-defaults');
    assert.equal(lease.spec.leaseDurationSeconds, 15);
    await m.stop();
    assert.deepEqual(log, ['d start', 'd stop']);
  });

  it('keeps the other controllers running when one fails, and shares informers between them', async () => {
    const log: string[] = [];
    const broken: Controller = {
      name: 'broken',
      start() {
        throw new Error('boom');
      },
    };
    const rejecting: Controller = { name: 'rejecting', start: async () => Promise.reject(new Error('later boom')) };
    const p1 = probe('p1', log);
    const p2 = probe('p2', log);
    const lines: string[] = [];
    const m = c.startControllers([broken, p1, rejecting, p2], { log: (msg, f) => lines.push(`${msg} ${JSON.stringify(f)}`) });
    await m.manager.whenReady();
    await c.client.create(ref.configmaps, 'default', { metadata: { name: 'shared' } });
    await eventually(() => (p1.seen() > 0 && p2.seen() === p1.seen()) || undefined);
    assert.deepEqual(log, ['p1 start', 'p2 start']);
    assert.ok(lines.some((l) => l.startsWith('controller failed') && l.includes('"controller":"broken"') && l.includes('boom')));
    assert.ok(lines.some((l) => l.startsWith('controller failed') && l.includes('"controller":"rejecting"')));
    await m.stop();
    assert.deepEqual(log, ['p1 start', 'p2 start', 'p1 stop', 'p2 stop']);
  });

  it('records controllers\' events with the component only, no host (as kube-controller-manager)', async () => {
    const recorder: Controller = {
      name: 'recorder',
      async start(ctx, signal) {
        const ns = await ctx.client.get(ref.namespaces, undefined, 'default');
        ctx.recorder('service-controller').event(ns, 'Normal', 'Probe', 'recorded by a controller');
        await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      },
    };
    const m = c.startControllers([recorder]);
    await m.manager.whenReady();
    const ev = await eventually(async () => (await c.client.list(ref.events, 'default')).items.find((e: any) => e.reason === 'Probe'));
    await m.stop();
    assert.deepEqual(ev.source, { component: 'service-controller' });
    assert.equal(ev.reportingComponent, 'service-controller');
    assert.equal(ev.reportingInstance, '');
  });
});
