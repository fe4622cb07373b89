// The event recorder against a real apiserver: involvedObject, source and names as
// upstream; an identical repeat becomes count 2 on the same Event; a different message
// is a new Event; recording never blocks and a full queue drops.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventBroadcaster, formatGo } from './events.ts';
import { ref } from './resources.ts';
import { startClientTestServer, type ClientTestServer } from './testing.ts';
import type { Client } from './types.ts';

describe('event recorder', () => {
  let t: ClientTestServer;
  let c: Client;
  before(async () => {
    t = await startClientTestServer();
    c = t.client('inprocess');
  });
  after(async () => await t.close());

  it('writes core/v1 Events and folds identical repeats into count and lastTimestamp', async () => {
    await c.create(ref.serviceaccounts, 'default', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
    const pod = await c.create(ref.pods, 'default', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } });
    const b = new EventBroadcaster(c);
    const rec = b.newRecorder({ component: 'default-scheduler', host: 'node-1' });
    rec.event(pod, 'Normal', 'Scheduled', 'Successfully assigned default/web to node-1');
    await b.flush();
    let list = await c.list(ref.events, 'default', { fieldSelector: 'involvedObject.name=web' });
    assert.equal(list.items.length, 1);
    const first = list.items[0];
    assert.match(first.metadata.name!, /^web\.[0-9a-f]+$/);
    assert.deepEqual(first.involvedObject, { kind: 'Pod', namespace: 'default', name: 'web', uid: pod.metadata.uid, apiVersion: 'v1', resourceVersion: pod.metadata.resourceVersion });
    assert.deepEqual(first.source, { component: 'default-scheduler', host: 'node-1' });
    assert.equal(first.count, 1);
    assert.equal(first.type, 'Normal');
    assert.equal(first.reason, 'Scheduled');
    assert.match(first.firstTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    rec.event(pod, 'Normal', 'Scheduled', 'Successfully assigned default/web to node-1');
    await b.flush();
    list = await c.list(ref.events, 'default', { fieldSelector: 'involvedObject.name=web' });
    assert.equal(list.items.length, 1, 'no second Event object');
    assert.equal(list.items[0].metadata.name, first.metadata.name);
    assert.equal(list.items[0].count, 2);
    assert.equal(list.items[0].firstTimestamp, first.firstTimestamp);

    rec.eventf(pod, 'Warning', 'BackOff', 'Back-off restarting failed container %s in pod %s', 'c', 'web');
    rec.event(pod, 'Normal', 'Scheduled', 'Successfully assigned default/web to node-1');
    await b.flush();
    list = await c.list(ref.events, 'default', { fieldSelector: 'involvedObject.name=web' });
    assert.equal(list.items.length, 2);
    const byReason = Object.fromEntries(list.items.map((e) => [e.reason, e]));
    assert.equal(byReason.Scheduled.count, 3);
    assert.equal(byReason.BackOff.type, 'Warning');
    assert.equal(byReason.BackOff.message, 'Back-off restarting failed container c in pod web');
    b.shutdown();
  });

  it('puts events about cluster-scoped objects in the default namespace', async () => {
    const node = await c.create(ref.nodes, undefined, { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n-ev' } });
    const b = new EventBroadcaster(c);
    b.newRecorder({ component: 'kubelet', host: 'n-ev' }).event(node, 'Normal', 'NodeReady', 'Node n-ev status is now: NodeReady');
    await b.flush();
    const list = await c.list(ref.events, 'default', { fieldSelector: 'involvedObject.kind=Node' });
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0].involvedObject.name, 'n-ev');
    assert.equal(list.items[0].involvedObject.namespace, undefined);
    b.shutdown();
  });

  it('never blocks the caller and drops when its queue is full', async () => {
    const b = new EventBroadcaster(c, { queueSize: 3 });
    const rec = b.newRecorder({ component: 'test' });
    const ref0 = { kind: 'ConfigMap', namespace: 'default', name: 'x', apiVersion: 'v1' };
    const started = performance.now();
    for (let i = 0; i < 10; i++) rec.event(ref0, 'Normal', 'R', `m${i}`);
    assert.ok(performance.now() - started < 50);
    assert.ok(b.dropped >= 6, `dropped ${b.dropped}`);
    await b.flush();
    b.shutdown();
  });

  it('formats as Go does for the verbs events use', () => {
    assert.equal(formatGo('a %s b %d c %q %v 100%%', ['x', 3, 'y', true]), 'a x b 3 c "y" true 100%');
    assert.equal(formatGo('%s', []), '%!s(MISSING)');
  });
});
