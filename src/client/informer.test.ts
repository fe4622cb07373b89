// Informers against a real apiserver: the cache converges after create/update/delete,
// after a watch that ends (resumed without a relist), after a forced 410 (relist, with
// tombstones for objects deleted while disconnected), and after the apiserver restarts.

import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../api/object.ts';
import { SharedInformerFactory } from './factory.ts';
import { Informer, stripManagedFields, type ResourceEventHandlers } from './informer.ts';
import { ref } from './resources.ts';
import { createClient } from './rest.ts';
import { eventually, PartitionableTransport, startClientTestServer, type ClientTestServer } from './testing.ts';
import type { Client } from './types.ts';

const cm = (name: string, labels: Record<string, string> = {}, data: Record<string, string> = {}): KObject => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, labels },
  data,
});

/** Handlers that keep a log of what they were told. */
function recorder(): { log: string[]; handlers: ResourceEventHandlers } {
  const log: string[] = [];
  return {
    log,
    handlers: {
      onAdd: (o) => log.push(`add ${o.metadata.name}`),
      onUpdate: (a, b) => log.push(`update ${b.metadata.name} ${a.metadata.resourceVersion === b.metadata.resourceVersion ? 'resync' : 'changed'}`),
      onDelete: (o, info) => log.push(`delete ${o.metadata.name}${info.finalStateUnknown ? ' tombstone' : ''}`),
    },
  };
}

const FAST = { minBackoffMs: 20, maxBackoffMs: 200 };
const LIST = /\/configmaps\?(?!.*watch=true)/;
const WATCH = /\/configmaps\?.*watch=true/;

for (const kind of ['https', 'inprocess'] as const) {
  describe(`informer over ${kind}`, () => {
    let t: ClientTestServer;
    let tr: PartitionableTransport;
    let c: Client;
    let ac: AbortController;
    let n = 0;
    let ns = '';
    before(async () => {
      t = await startClientTestServer();
    });
    after(async () => await t.close());
    const setup = async () => {
      ac = new AbortController();
      tr = new PartitionableTransport(t.transport(kind));
      c = createClient(tr);
      ns = `ns${++n}`;
      await c.create(ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    };
    afterEach(() => ac.abort());

    it('lists, then follows creates, updates and deletes; listers and indexes answer from the cache', async () => {
      await setup();
      await c.create(ref.configmaps, ns, cm('pre', { app: 'a' }));
      const inf = new Informer(c, ref.configmaps, {
        namespace: ns,
        ...FAST,
        indexers: { byData: (o) => Object.keys(o.data ?? {}) },
      });
      const r = recorder();
      inf.addEventHandler(r.handlers);
      inf.start(ac.signal);
      assert.equal(await inf.waitForSync(ac.signal), true);
      assert.ok(inf.hasSynced());
      assert.deepEqual(r.log, ['add pre']);
      assert.equal(inf.lister.get(ns, 'pre')?.kind, 'ConfigMap', 'listed items get their kind');

      await c.create(ref.configmaps, ns, cm('x', { app: 'a', tier: 'web' }, { k1: 'v' }));
      await c.create(ref.configmaps, ns, cm('y', { app: 'b' }));
      await c.patch(ref.configmaps, ns, 'x', 'merge', { data: { k2: 'v' } });
      await c.delete(ref.configmaps, ns, 'pre');
      await eventually(() => r.log.length === 5, 5000, 'events');
      assert.deepEqual(r.log, ['add pre', 'add x', 'add y', 'update x changed', 'delete pre']);

      assert.equal(inf.lister.get(ns, 'pre'), undefined);
      assert.deepEqual(inf.lister.get(ns, 'x')?.data, { k1: 'v', k2: 'v' });
      assert.deepEqual(inf.lister.list(ns).map((o) => o.metadata.name).sort(), ['x', 'y']);
      assert.deepEqual(inf.lister.list(undefined, 'app=a').map((o) => o.metadata.name), ['x']);
      assert.deepEqual(inf.lister.list(ns, 'app in (a,b),tier!=web').map((o) => o.metadata.name), ['y']);
      assert.deepEqual(inf.lister.byIndex('byData', 'k2').map((o) => o.metadata.name), ['x']);
      assert.equal(inf.lastSyncResourceVersion(), (await c.list(ref.configmaps, ns)).metadata.resourceVersion);

      // A handler added late is told about what is already there.
      const late = recorder();
      inf.addEventHandler(late.handlers);
      assert.deepEqual(late.log.sort(), ['add x', 'add y']);
    });

    it('a transform (stripManagedFields, as the controller manager and scheduler use) shapes listed and watched objects alike', async () => {
      await setup();
      await c.create(ref.configmaps, ns, cm('listed'));
      const factory = new SharedInformerFactory(c, { transform: stripManagedFields, informerDefaults: FAST });
      const inf = factory.informerFor(ref.configmaps, { namespace: ns });
      const seen: KObject[] = [];
      inf.addEventHandler({ onAdd: (o) => seen.push(o), onUpdate: (_a, b) => seen.push(b) });
      factory.start(ac.signal);
      assert.equal(await factory.waitForSync(ac.signal), true);
      await c.create(ref.configmaps, ns, cm('watched'));
      await c.patch(ref.configmaps, ns, 'watched', 'merge', { data: { k: 'v' } });
      await eventually(() => seen.length === 3, 5000, 'events');
      // The server tracks them (an update without managedFields keeps the live ones); the cache does not hold them.
      assert.ok((await c.get(ref.configmaps, ns, 'watched')).metadata.managedFields?.length);
      for (const o of [...seen, ...inf.lister.list(ns)]) assert.equal(o.metadata.managedFields, undefined, o.metadata.name);
      assert.deepEqual(inf.lister.get(ns, 'watched')?.data, { k: 'v' });
      const current = inf.lister.get(ns, 'watched')!;
      await c.update(ref.configmaps, ns, { ...current, data: { k: 'w' } });
      assert.ok((await c.get(ref.configmaps, ns, 'watched')).metadata.managedFields?.length);
    });

    it('resumes a watch that ends from the last resourceVersion, without relisting', async () => {
      await setup();
      const inf = new Informer(c, ref.configmaps, { namespace: ns, ...FAST });
      const r = recorder();
      inf.addEventHandler(r.handlers);
      inf.start(ac.signal);
      await inf.waitForSync(ac.signal);
      await c.create(ref.configmaps, ns, cm('a'));
      await eventually(() => inf.lister.get(ns, 'a'));

      tr.cut();
      await c.create(ref.configmaps, ns, cm('b')).catch(() => {}); // refused: the partition covers this client too
      const other = t.client(kind);
      await other.create(ref.configmaps, ns, cm('b'));
      await other.delete(ref.configmaps, ns, 'a');
      tr.heal();
      await eventually(() => inf.lister.get(ns, 'b') && !inf.lister.get(ns, 'a'), 5000, 'convergence');
      assert.deepEqual(r.log, ['add a', 'add b', 'delete a']);
      assert.equal(tr.count('GET', LIST), 1, 'no relist');
      assert.ok(tr.count('GET', WATCH) >= 2, 're-watched');
    });

    it('relists on 410 Expired and tells handlers about objects deleted while disconnected', async () => {
      await setup();
      await c.create(ref.configmaps, ns, cm('keep'));
      await c.create(ref.configmaps, ns, cm('change'));
      await c.create(ref.configmaps, ns, cm('gone'));
      const inf = new Informer(c, ref.configmaps, { namespace: ns, ...FAST });
      const r = recorder();
      inf.addEventHandler(r.handlers);
      inf.start(ac.signal);
      await inf.waitForSync(ac.signal);
      const rvBefore = inf.lastSyncResourceVersion();

      tr.cut();
      const other = t.client(kind);
      await other.patch(ref.configmaps, ns, 'change', 'merge', { data: { v: '2' } });
      await other.delete(ref.configmaps, ns, 'gone');
      await other.create(ref.configmaps, ns, cm('new'));
      // The restarted apiserver's watch cache starts at the current revision, so the
      // informer's resourceVersion is too old: its watch gets an ERROR 410.
      await t.restart();
      const probe = t.client(kind);
      const first = await (async () => {
        for await (const ev of probe.watch(ref.configmaps, ns, { resourceVersion: rvBefore, signal: new AbortController().signal })) return ev;
      })();
      assert.equal(first?.type, 'ERROR');
      assert.equal(first?.object.code, 410);

      tr.heal();
      await eventually(() => inf.lister.get(ns, 'new') && !inf.lister.get(ns, 'gone'), 10_000, 'convergence after 410');
      assert.deepEqual(r.log.slice(3).sort(), ['add new', 'delete gone tombstone', 'update change changed']);
      assert.equal(inf.lister.get(ns, 'change')?.data.v, '2');
      assert.equal(tr.count('GET', LIST), 2, 'relisted once');
    });

    if (kind === 'https') {
      it('converges after the apiserver restarts on the same data dir and port', async () => {
        await setup();
        const inf = new Informer(c, ref.configmaps, { namespace: ns, ...FAST });
        const r = recorder();
        inf.addEventHandler(r.handlers);
        inf.start(ac.signal);
        await inf.waitForSync(ac.signal);
        await c.create(ref.configmaps, ns, cm('before'));
        await eventually(() => inf.lister.get(ns, 'before'));

        await t.restart();
        await c.create(ref.configmaps, ns, cm('after'));
        await c.delete(ref.configmaps, ns, 'before');
        await eventually(() => inf.lister.get(ns, 'after') && !inf.lister.get(ns, 'before'), 10_000, 'convergence after restart');
        assert.deepEqual(r.log, ['add before', 'add after', 'delete before']);
      });
    }

    it('resyncs: handlers get onUpdate(o, o) for every cached object', async () => {
      await setup();
      await c.create(ref.configmaps, ns, cm('r'));
      const inf = new Informer(c, ref.configmaps, { namespace: ns, ...FAST, resyncPeriodMs: 50 });
      const r = recorder();
      inf.addEventHandler(r.handlers);
      inf.start(ac.signal);
      await eventually(() => r.log.filter((l) => l === 'update r resync').length >= 2, 5000, 'resyncs');
    });
  });
}

describe('shared informer factory', () => {
  let t: ClientTestServer;
  before(async () => {
    t = await startClientTestServer();
  });
  after(async () => await t.close());

  it('gives N consumers one list and one watch per resource and scope', async () => {
    const tr = new PartitionableTransport(t.transport('inprocess'));
    const c = createClient(tr);
    const f = new SharedInformerFactory(c, { informerDefaults: FAST });
    const ac = new AbortController();
    try {
      const a = f.informerFor(ref.configmaps);
      const b = f.informerFor(ref.configmaps, {});
      const scoped = f.informerFor(ref.configmaps, { namespace: 'default' });
      const nodes = f.informerFor(ref.nodes, { namespace: 'ignored-for-cluster-scope' });
      assert.equal(a, b);
      assert.notEqual(a, scoped);
      assert.equal(nodes, f.informerFor(ref.nodes));
      const ra = recorder();
      const rb = recorder();
      a.addEventHandler(ra.handlers);
      b.addEventHandler(rb.handlers);
      f.start(ac.signal);
      assert.equal(await f.waitForSync(ac.signal), true);
      // An informer asked for after start starts at once.
      const late = f.informerFor(ref.namespaces);
      assert.equal(await late.waitForSync(ac.signal), true);
      assert.ok(late.lister.get(undefined, 'default'));

      await c.create(ref.configmaps, 'default', cm('shared'));
      await eventually(() => ra.log.includes('add shared') && rb.log.includes('add shared'));
      await eventually(() => scoped.lister.get('default', 'shared'));
      assert.equal(tr.count('GET', /\/api\/v1\/configmaps\?(?!.*watch=true)/), 1);
      assert.equal(tr.count('GET', /\/api\/v1\/configmaps\?.*watch=true/), 1);
    } finally {
      ac.abort();
      await f.done();
    }
  });
});
