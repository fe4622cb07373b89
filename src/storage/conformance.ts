// The behaviour every Store implementation must have, as node:test cases. An
// implementation's test file calls runStoreConformance with a factory; the factory is
// called once per case and must return an empty store used by that case alone.
// `cleanup` must close the store if the case left it open (close is idempotent) and
// remove whatever the store wrote.
//
// Revisions are asserted relative to the store's revision at the start of a case, so
// a store that does not start at revision 0 (a shared etcd) passes too.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  CompactedError,
  FutureRevisionError,
  type DeleteResult,
  type KeyValue,
  type Store,
  type WatchEvent,
  type WriteResult,
} from './store.ts';

export type OpenStore = () => Promise<{ store: Store; cleanup: () => Promise<void> }>;

export function runStoreConformance(name: string, open: OpenStore): void {
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe('guarded writes', () => {
      it('create writes a new key and refuses an existing one, returning the current value', async () => {
        const base = await store.currentRevision();
        const created = mustWrite(await store.create('/registry/pods/default/a', 'v1'));
        assert.deepEqual(created, {
          key: '/registry/pods/default/a',
          value: 'v1',
          createRevision: base + 1,
          modRevision: base + 1,
        });
        const again = await store.create('/registry/pods/default/a', 'v2');
        assert.equal(again.ok, false);
        assert.deepEqual(again.ok ? undefined : again.current, created);
        assert.equal(again.revision, base + 1);
        assert.deepEqual((await store.get('/registry/pods/default/a')).kv, created);
      });

      it('update succeeds only at the current modRevision and keeps createRevision', async () => {
        const v1 = mustWrite(await store.create('/k/a', 'v1'));
        const v2 = mustWrite(await store.update('/k/a', 'v2', v1.modRevision));
        assert.equal(v2.createRevision, v1.createRevision);
        assert.equal(v2.modRevision, v1.modRevision + 1);
        assert.equal(v2.value, 'v2');

        const stale = await store.update('/k/a', 'v3', v1.modRevision);
        assert.equal(stale.ok, false);
        assert.deepEqual(stale.ok ? undefined : stale.current, v2);
        assert.equal(stale.revision, v2.modRevision);

        const v3 = mustWrite(await store.update('/k/a', 'v3', v2.modRevision));
        assert.equal(v3.createRevision, v1.createRevision);
        assert.deepEqual((await store.get('/k/a')).kv, v3);
      });

      it('update of a missing key fails without a current value', async () => {
        const result = await store.update('/k/missing', 'v', 1);
        assert.equal(result.ok, false);
        assert.equal(result.ok ? undefined : result.current, undefined);
        assert.equal(result.revision, await store.currentRevision());
      });

      it('delete returns prev, honours an expected modRevision, and fails on a missing key', async () => {
        const a = mustWrite(await store.create('/k/a', 'va'));
        const b = mustWrite(await store.create('/k/b', 'vb'));

        const wrong = await store.delete('/k/a', a.modRevision + 100);
        assert.equal(wrong.ok, false);
        assert.deepEqual(wrong.ok ? undefined : wrong.current, a);
        assert.deepEqual((await store.get('/k/a')).kv, a);

        const deletedA = mustDelete(await store.delete('/k/a', a.modRevision));
        assert.deepEqual(deletedA.prev, a);
        assert.equal(deletedA.revision, b.modRevision + 1);
        const deletedB = mustDelete(await store.delete('/k/b'));
        assert.deepEqual(deletedB.prev, b);

        const gone = await store.get('/k/a');
        assert.equal(gone.kv, undefined);
        assert.equal(gone.revision, deletedB.revision);
        const missing = await store.delete('/k/a');
        assert.equal(missing.ok, false);
        assert.equal(missing.ok ? undefined : missing.current, undefined);
        assert.equal((await store.update('/k/a', 'x', a.modRevision)).ok, false);
      });

      it('a key created again after a delete starts a new createRevision', async () => {
        const first = mustWrite(await store.create('/k/a', 'one'));
        mustDelete(await store.delete('/k/a'));
        const second = mustWrite(await store.create('/k/a', 'two'));
        assert.equal(second.createRevision, second.modRevision);
        assert.ok(second.createRevision > first.createRevision);
      });

      it('every successful write advances the revision by exactly one; failed writes do not', async () => {
        const base = await store.currentRevision();
        const revisions: number[] = [];
        const a = mustWrite(await store.create('/k/a', '1'));
        revisions.push(a.modRevision);
        assert.equal((await store.create('/k/a', 'dup')).ok, false);
        assert.equal((await store.update('/k/a', 'x', a.modRevision + 7)).ok, false);
        assert.equal((await store.delete('/k/zzz')).ok, false);
        revisions.push(mustWrite(await store.update('/k/a', '2', a.modRevision)).modRevision);
        revisions.push(mustDelete(await store.delete('/k/a')).revision);
        assert.deepEqual(revisions, [base + 1, base + 2, base + 3]);
        assert.equal(await store.currentRevision(), base + 3);

        // Concurrent writes get distinct, consecutive revisions.
        const results = await Promise.all(
          Array.from({ length: 50 }, (_, i) => store.create(`/k/c-${String(i).padStart(2, '0')}`, `${i}`)),
        );
        const concurrent = results.map((r) => mustWrite(r).modRevision).sort((x, y) => x - y);
        assert.deepEqual(
          concurrent,
          Array.from({ length: 50 }, (_, i) => base + 4 + i),
        );
        assert.equal(await store.currentRevision(), base + 53);
      });
    });

    describe('reads', () => {
      it('range returns the keys under a prefix in key order and nothing from a sibling prefix', async () => {
        for (const key of ['/a/b/2', '/a/bc/1', '/a/b/1', '/a/b', '/a/b/3', '/a/a/1', '/a/b/1/x']) {
          mustWrite(await store.create(key, `value of ${key}`));
        }
        mustDelete(await store.delete('/a/b/3'));
        const result = await store.range('/a/b/');
        assert.deepEqual(
          result.kvs.map((kv) => kv.key),
          ['/a/b/1', '/a/b/1/x', '/a/b/2'],
        );
        assert.equal(result.kvs[0].value, 'value of /a/b/1');
        assert.equal(result.more, false);
        assert.equal(result.remaining, 0);
        assert.equal(result.revision, await store.currentRevision());
        assert.deepEqual(
          (await store.range('/a/bc/')).kvs.map((kv) => kv.key),
          ['/a/bc/1'],
        );
        assert.equal((await store.range('/a/c/')).kvs.length, 0);
        assert.equal((await store.range('/a/')).kvs.length, 6);
      });

      it('get and range at a past revision see the state as of that revision', async () => {
        const a1 = mustWrite(await store.create('/p/a', 'a1'));
        const b1 = mustWrite(await store.create('/p/b', 'b1'));
        const atB1 = b1.modRevision;
        const a2 = mustWrite(await store.update('/p/a', 'a2', a1.modRevision));
        mustDelete(await store.delete('/p/b'));
        mustWrite(await store.create('/p/c', 'c1'));

        const then = await store.range('/p/', { revision: atB1 });
        assert.equal(then.revision, atB1);
        assert.deepEqual(then.kvs, [a1, b1]);
        assert.deepEqual((await store.get('/p/a', { revision: atB1 })).kv, a1);
        assert.equal((await store.get('/p/a', { revision: atB1 })).revision, atB1);
        assert.deepEqual((await store.get('/p/a', { revision: a2.modRevision })).kv, a2);
        assert.equal((await store.get('/p/c', { revision: atB1 })).kv, undefined);
        assert.equal((await store.get('/p/b')).kv, undefined);

        assert.deepEqual(
          (await store.range('/p/')).kvs.map((kv) => `${kv.key}=${kv.value}`),
          ['/p/a=a2', '/p/c=c1'],
        );
      });

      it('a key deleted and created again reads as it was at every revision, pages included', async () => {
        const one = mustWrite(await store.create('/x/a', 'one'));
        const b = mustWrite(await store.create('/x/b', 'b'));
        const twoA = mustWrite(await store.update('/x/a', 'two', one.modRevision));
        const gone = mustDelete(await store.delete('/x/a'));
        const z = mustWrite(await store.create('/x/z', 'z'));
        const again = mustWrite(await store.create('/x/a', 'again'));
        const later = mustWrite(await store.update('/x/a', 'later', again.modRevision));

        const at = async (revision: number) => ({
          get: (await store.get('/x/a', { revision })).kv?.value,
          range: (await store.range('/x/', { revision })).kvs.map((kv) => `${kv.key}=${kv.value}`),
        });
        assert.deepEqual(await at(b.modRevision), { get: 'one', range: ['/x/a=one', '/x/b=b'] });
        assert.deepEqual(await at(twoA.modRevision), { get: 'two', range: ['/x/a=two', '/x/b=b'] });
        assert.deepEqual(await at(gone.revision), { get: undefined, range: ['/x/b=b'] });
        assert.deepEqual(await at(z.modRevision), { get: undefined, range: ['/x/b=b', '/x/z=z'] });
        assert.deepEqual(await at(again.modRevision), { get: 'again', range: ['/x/a=again', '/x/b=b', '/x/z=z'] });
        assert.deepEqual((await store.get('/x/a', { revision: again.modRevision })).kv, again);
        assert.deepEqual((await store.get('/x/a')).kv, later);
        assert.equal(later.createRevision, again.modRevision);

        // Pages at a past revision count only the keys there were then.
        const first = await store.range('/x/', { revision: twoA.modRevision, limit: 1 });
        assert.deepEqual([first.kvs.map((kv) => kv.value), first.more, first.remaining], [['two'], true, 1]);
        const rest = await store.range('/x/', { revision: twoA.modRevision, limit: 1, startKey: '/x/a\0' });
        assert.deepEqual([rest.kvs.map((kv) => kv.value), rest.more, rest.remaining], [['b'], false, 0]);
        const deletedThen = await store.range('/x/', { revision: gone.revision, limit: 1 });
        assert.deepEqual([deletedThen.kvs.map((kv) => kv.value), deletedThen.more, deletedThen.remaining], [['b'], false, 0]);

        // A watch from before the delete: the new incarnation's create has no prev.
        const watch = await collect(store, '/x/a', twoA.modRevision);
        await watch.until(later.modRevision);
        assert.deepEqual(
          watch.events.map((e) => [e.type, e.kv.modRevision, e.prev?.value]),
          [
            ['DELETE', gone.revision, 'two'],
            ['PUT', again.modRevision, undefined],
            ['PUT', later.modRevision, 'again'],
          ],
        );
        watch.stop();

        // Compacted past the delete: the state at and after the compacted revision is intact.
        await store.compact(z.modRevision);
        assert.deepEqual(await at(z.modRevision), { get: undefined, range: ['/x/b=b', '/x/z=z'] });
        assert.deepEqual(await at(again.modRevision), { get: 'again', range: ['/x/a=again', '/x/b=b', '/x/z=z'] });
        await store.compact(again.modRevision);
        assert.deepEqual(await at(again.modRevision), { get: 'again', range: ['/x/a=again', '/x/b=b', '/x/z=z'] });
        mustDelete(await store.delete('/x/b'));
        await store.compact(await store.currentRevision());
        assert.deepEqual((await store.range('/x/')).kvs.map((kv) => kv.value), ['later', 'z']);
        assert.equal((await store.get('/x/b')).kv, undefined);
      });

      it('pages at an older revision count every key as it was then, however often written since', async () => {
        const made: KeyValue[] = [];
        for (let i = 0; i < 7; i++) made.push(mustWrite(await store.create(`/o/k${i}`, `v${i}`)));
        mustDelete(await store.delete('/o/k5'));
        const then = await store.currentRevision();
        mustWrite(await store.update('/o/k2', 'once', made[2].modRevision));
        const k3 = mustWrite(await store.update('/o/k3', 'once', made[3].modRevision));
        mustWrite(await store.update('/o/k3', 'twice', k3.modRevision));
        mustDelete(await store.delete('/o/k4'));
        mustWrite(await store.create('/o/k5', 'again'));
        mustWrite(await store.create('/o/k7', 'new'));
        // Then: k0..k4 and k6 (k5 was deleted, k7 did not exist).
        const page = async (limit: number, startKey?: string) => {
          const r = await store.range('/o/', { revision: then, limit, startKey });
          return [r.kvs.map((kv) => `${kv.key.slice(3)}=${kv.value}`), r.more, r.remaining];
        };
        assert.deepEqual(await page(1), [['k0=v0'], true, 5]);
        assert.deepEqual(await page(2, '/o/k0\0'), [['k1=v1', 'k2=v2'], true, 3]);
        assert.deepEqual(await page(3, '/o/k2\0'), [['k3=v3', 'k4=v4', 'k6=v6'], false, 0]);
        assert.deepEqual(await page(0), [['k0=v0', 'k1=v1', 'k2=v2', 'k3=v3', 'k4=v4', 'k6=v6'], false, 0]);
      });

      it('limit and startKey page through a consistent snapshot while writes happen', async () => {
        const original = new Map<string, KeyValue>();
        for (let i = 0; i < 10; i++) {
          const kv = mustWrite(await store.create(`/s/k${i}`, `v${i}`));
          original.set(kv.key, kv);
        }
        const first = await store.range('/s/', { limit: 3 });
        const snapshot = first.revision;
        assert.deepEqual(
          first.kvs.map((kv) => kv.key),
          ['/s/k0', '/s/k1', '/s/k2'],
        );
        assert.equal(first.more, true);
        assert.equal(first.remaining, 7);

        const seen = [...first.kvs];
        const remainings = [first.remaining];
        let last = first;
        let step = 0;
        while (last.more) {
          // Change the data between pages -- keys on pages already read and on pages
          // still to come -- and the pages must not notice.
          const updated = original.get(`/s/k${3 + 3 * step}`)!;
          mustWrite(await store.update(updated.key, 'changed', updated.modRevision));
          mustDelete(await store.delete(`/s/k${8 - step}`));
          mustWrite(await store.create(`/s/k${step}a`, 'new'));
          mustWrite(await store.create(`/s/k${5 + step}b`, 'new'));
          step++;

          const continueKey = last.kvs[last.kvs.length - 1].key + '\x00';
          last = await store.range('/s/', { limit: 3, startKey: continueKey, revision: snapshot });
          assert.equal(last.revision, snapshot);
          seen.push(...last.kvs);
          remainings.push(last.remaining);
        }
        assert.deepEqual(seen, [...original.values()]);
        assert.deepEqual(remainings, [7, 4, 1, 0]);
        assert.equal(last.more, false);

        const now = await store.range('/s/');
        assert.ok(now.revision > snapshot);
        assert.equal(step, 3);
        assert.equal(now.kvs.length, 10 - 3 + 6);
        assert.equal(now.kvs.find((kv) => kv.key === '/s/k3')?.value, 'changed');
      });

      it('reports more and remaining exactly at the edges', async () => {
        for (let i = 0; i < 4; i++) mustWrite(await store.create(`/e/k${i}`, 'v'));
        mustWrite(await store.create('/e-sibling/k', 'v'));
        const exact = await store.range('/e/', { limit: 4 });
        assert.equal(exact.kvs.length, 4);
        assert.equal(exact.more, false);
        assert.equal(exact.remaining, 0);
        const larger = await store.range('/e/', { limit: 10 });
        assert.equal(larger.kvs.length, 4);
        assert.equal(larger.more, false);
        const fromMiddle = await store.range('/e/', { limit: 1, startKey: '/e/k1' });
        assert.deepEqual(
          fromMiddle.kvs.map((kv) => kv.key),
          ['/e/k1'],
        );
        assert.equal(fromMiddle.more, true);
        assert.equal(fromMiddle.remaining, 2);
        const pastTheEnd = await store.range('/e/', { startKey: '/e/zzz' });
        assert.deepEqual(pastTheEnd.kvs, []);
        assert.equal(pastTheEnd.more, false);
      });

      it('reads and watches at a future revision fail with FutureRevisionError', async () => {
        mustWrite(await store.create('/f/a', 'v'));
        const future = (await store.currentRevision()) + 10;
        await assert.rejects(store.get('/f/a', { revision: future }), FutureRevisionError);
        await assert.rejects(store.range('/f/', { revision: future }), FutureRevisionError);
        const controller = new AbortController();
        await assert.rejects(
          store.watch('/f/', { afterRevision: future, signal: controller.signal }, () => {}),
          FutureRevisionError,
        );
        controller.abort();
      });
    });

    describe('compaction', () => {
      it('drops old revisions, keeps the state at and after the compacted revision, and reports it', async () => {
        const base = await store.currentRevision();
        const a1 = mustWrite(await store.create('/c/a', 'a1'));
        const a2 = mustWrite(await store.update('/c/a', 'a2', a1.modRevision));
        const b1 = mustWrite(await store.create('/c/b', 'b1'));
        mustDelete(await store.delete('/c/b'));
        const d1 = mustWrite(await store.create('/c/d', 'd1'));
        const compactAt = d1.modRevision;
        const a3 = mustWrite(await store.update('/c/a', 'a3', a2.modRevision));

        await store.compact(compactAt);
        assert.equal(await store.compactedRevision(), compactAt);
        assert.equal(await store.currentRevision(), a3.modRevision);

        await assert.rejects(store.get('/c/a', { revision: a1.modRevision }), CompactedError);
        await assert.rejects(store.range('/c/', { revision: b1.modRevision }), (err: unknown) => {
          assert.ok(err instanceof CompactedError);
          assert.equal(err.compactRevision, compactAt);
          assert.equal(err.requestedRevision, b1.modRevision);
          return true;
        });
        assert.deepEqual((await store.range('/c/', { revision: compactAt })).kvs, [a2, d1]);
        assert.deepEqual((await store.range('/c/')).kvs, [a3, d1]);
        assert.equal((await store.get('/c/b')).kv, undefined);

        // Compacting again at or below the compacted revision changes nothing.
        await store.compact(compactAt);
        await store.compact(base);
        assert.equal(await store.compactedRevision(), compactAt);
        await assert.rejects(store.compact(a3.modRevision + 5), FutureRevisionError);

        // Writing goes on from the current revision, whatever was removed.
        const e = mustWrite(await store.create('/c/e', 'e1'));
        assert.equal(e.modRevision, a3.modRevision + 1);
        await store.compact(await store.currentRevision());
        assert.deepEqual(
          (await store.range('/c/')).kvs.map((kv) => kv.value),
          ['a3', 'd1', 'e1'],
        );
      });

      it('a watch from a compacted revision fails with CompactedError; from the compacted revision it replays', async () => {
        const a1 = mustWrite(await store.create('/w/a', '1'));
        const a2 = mustWrite(await store.update('/w/a', '2', a1.modRevision));
        const a3 = mustWrite(await store.update('/w/a', '3', a2.modRevision));
        const a4 = mustWrite(await store.update('/w/a', '4', a3.modRevision));
        await store.compact(a3.modRevision);

        const controller = new AbortController();
        await assert.rejects(
          store.watch('/w/', { afterRevision: a1.modRevision, signal: controller.signal }, () => {
            assert.fail('a compacted watch must not deliver');
          }),
          CompactedError,
        );

        const watch = await collect(store, '/w/', a3.modRevision);
        await watch.until(a4.modRevision);
        assert.deepEqual(watch.events, [{ type: 'PUT', kv: a4, prev: a3 }]);
        watch.stop();
        controller.abort();
      });
    });

    describe('watch', () => {
      it('from revision 0 delivers only future events', async () => {
        const a1 = mustWrite(await store.create('/w/a', '1'));
        const watch = await collect(store, '/w/', 0);
        const a2 = mustWrite(await store.update('/w/a', '2', a1.modRevision));
        await watch.until(a2.modRevision);
        assert.deepEqual(watch.events, [{ type: 'PUT', kv: a2, prev: a1 }]);
        watch.stop();
      });

      it('from a past revision replays history with prev values, then delivers live events', async () => {
        mustWrite(await store.create('/w/old', 'before'));
        const after = await store.currentRevision();
        const a1 = mustWrite(await store.create('/w/a', 'a1'));
        const a2 = mustWrite(await store.update('/w/a', 'a2', a1.modRevision));
        const deleted = mustDelete(await store.delete('/w/a'));
        const b1 = mustWrite(await store.create('/w/b', 'b1'));

        const watch = await collect(store, '/w/', after);
        const b2 = mustWrite(await store.update('/w/b', 'b2', b1.modRevision));
        const gone = mustDelete(await store.delete('/w/b', b2.modRevision));
        await watch.until(gone.revision);

        assert.deepEqual(
          watch.events.map((e) => [e.type, e.kv.key, e.kv.modRevision]),
          [
            ['PUT', '/w/a', a1.modRevision],
            ['PUT', '/w/a', a2.modRevision],
            ['DELETE', '/w/a', deleted.revision],
            ['PUT', '/w/b', b1.modRevision],
            ['PUT', '/w/b', b2.modRevision],
            ['DELETE', '/w/b', gone.revision],
          ],
        );
        const [createA, updateA, deleteA, createB, updateB, deleteB] = watch.events;
        assert.deepEqual(createA, { type: 'PUT', kv: a1 });
        assert.deepEqual(updateA, { type: 'PUT', kv: a2, prev: a1 });
        assert.equal(deleteA.kv.value, '');
        assert.deepEqual(deleteA.prev, a2);
        assert.deepEqual(createB, { type: 'PUT', kv: b1 });
        assert.deepEqual(updateB, { type: 'PUT', kv: b2, prev: b1 });
        assert.deepEqual(deleteB.prev, b2);
        assertOrdered(watch.calls);
        watch.stop();
      });

      it('delivers only keys under its prefix', async () => {
        const watch = await collect(store, '/x/b/', 0);
        mustWrite(await store.create('/x/bc/1', 'no'));
        mustWrite(await store.create('/x/b', 'no'));
        const yes = mustWrite(await store.create('/x/b/1', 'yes'));
        mustWrite(await store.create('/x/a/1', 'no'));
        const last = mustWrite(await store.create('/x/b/2', 'yes'));
        await watch.until(last.modRevision);
        assert.deepEqual(
          watch.events.map((e) => e.kv.key),
          ['/x/b/1', '/x/b/2'],
        );
        assert.deepEqual(watch.events[0].kv, yes);
        watch.stop();
      });

      it('has no gaps or duplicates across the replay-to-live boundary under concurrent writes', async () => {
        const base = await store.currentRevision();
        const log: Expected[] = [];
        // The watch starts from inside the write traffic: when the 120th write is
        // acknowledged, 255 are still to come and many are in flight.
        const after = base + 60;
        let watching: Promise<Collected> | undefined;
        const record = (entry: Expected) => {
          log.push(entry);
          if (log.length === 120) watching = collect(store, '/race/', after);
        };
        // Each chain owns one key and writes it sequentially (so its guards hold);
        // the chains run concurrently, interleaving with a sibling prefix.
        const chain = async (key: string, steps: number) => {
          let kv: KeyValue | undefined;
          for (let step = 0; step < steps; step++) {
            if (kv === undefined) {
              kv = mustWrite(await store.create(key, `${key}@${step}`));
              record({ revision: kv.modRevision, type: 'PUT', key, value: kv.value });
            } else if (step % 4 === 3) {
              const result = mustDelete(await store.delete(key, kv.modRevision));
              record({ revision: result.revision, type: 'DELETE', key, value: '', prev: kv });
              kv = undefined;
            } else {
              const prev = kv;
              kv = mustWrite(await store.update(key, `${key}@${step}`, prev.modRevision));
              record({ revision: kv.modRevision, type: 'PUT', key, value: kv.value, prev });
            }
          }
        };
        await Promise.all([
          ...Array.from({ length: 20 }, (_, i) => chain(`/race/k${i}`, 15)),
          ...Array.from({ length: 5 }, (_, i) => chain(`/race-sibling/k${i}`, 15)),
        ]);
        assert.ok(watching !== undefined);
        const watch = await watching;

        const expected = log
          .filter((e) => e.key.startsWith('/race/') && e.revision > after)
          .sort((x, y) => x.revision - y.revision);
        assert.ok(expected.length > 150);
        await watch.until(expected[expected.length - 1].revision);
        await settle();
        assert.deepEqual(watch.events.map(summary), expected.map(summary));
        assertOrdered(watch.calls);
        watch.stop();
      });

      it('stops delivering once its signal is aborted', async () => {
        const controller = new AbortController();
        const received: WatchEvent[] = [];
        await store.watch('/ab/', { afterRevision: 0, signal: controller.signal }, (events) => {
          assert.equal(controller.signal.aborted, false, 'no delivery after abort');
          received.push(...events);
        });
        const first = mustWrite(await store.create('/ab/1', 'v'));
        await waitFor(() => received.length === 1);
        controller.abort();
        mustWrite(await store.create('/ab/2', 'v'));
        mustWrite(await store.update('/ab/1', 'w', first.modRevision));
        await settle();
        assert.equal(received.length, 1);

        // Aborting while a replay is still queued delivers none of it afterwards.
        const replaying = new AbortController();
        let late = 0;
        await store.watch('/ab/', { afterRevision: first.modRevision - 1, signal: replaying.signal }, () => {
          if (replaying.signal.aborted) late++;
        });
        replaying.abort();
        mustWrite(await store.create('/ab/3', 'v'));
        await settle();
        assert.equal(late, 0);
      });

      it('a throwing callback breaks neither the store nor other watchers', async () => {
        const thrower = new AbortController();
        let thrown = 0;
        await store.watch('/t/', { afterRevision: 0, signal: thrower.signal }, () => {
          thrown++;
          throw new Error('consumer bug (expected by the test)');
        });
        const healthy = await collect(store, '/t/', 0);
        const a = mustWrite(await store.create('/t/a', '1'));
        const b = mustWrite(await store.create('/t/b', '1'));
        const a2 = mustWrite(await store.update('/t/a', '2', a.modRevision));
        await healthy.until(a2.modRevision);
        assert.deepEqual(
          healthy.events.map((e) => e.kv.modRevision),
          [a.modRevision, b.modRevision, a2.modRevision],
        );
        assert.ok(thrown >= 1);
        assert.deepEqual((await store.get('/t/a')).kv, a2);
        thrower.abort();
        healthy.stop();
      });
    });

    describe('lifecycle', () => {
      it('close lets writes already issued finish; later calls reject; close is idempotent', async () => {
        const pending = store.create('/l/a', 'v');
        await store.close();
        assert.equal((await pending).ok, true);
        await assert.rejects(store.get('/l/a'));
        await assert.rejects(store.range('/l/'));
        await assert.rejects(store.create('/l/b', 'v'));
        await assert.rejects(store.currentRevision());
        await store.close();
      });
    });
  });
}

// ---- helpers ------------------------------------------------------------------------

interface Expected {
  revision: number;
  type: 'PUT' | 'DELETE';
  key: string;
  value: string;
  prev?: KeyValue;
}

function summary(e: Expected | WatchEvent): string {
  if ('kv' in e) {
    const prev = e.prev === undefined ? '-' : `${e.prev.modRevision}:${e.prev.value}`;
    return `${e.kv.modRevision} ${e.type} ${e.kv.key}=${e.kv.value} prev=${prev}`;
  }
  const prev = e.prev === undefined ? '-' : `${e.prev.modRevision}:${e.prev.value}`;
  return `${e.revision} ${e.type} ${e.key}=${e.value} prev=${prev}`;
}

function mustWrite(result: WriteResult): KeyValue {
  assert.ok(result.ok, `write failed: ${JSON.stringify(result)}`);
  return result.kv;
}

function mustDelete(result: DeleteResult): { revision: number; prev: KeyValue } {
  assert.ok(result.ok, `delete failed: ${JSON.stringify(result)}`);
  return { revision: result.revision, prev: result.prev };
}

/** Revisions strictly increase across and within calls, and no revision is split over two calls. */
function assertOrdered(calls: WatchEvent[][]): void {
  let last = 0;
  for (const events of calls) {
    assert.ok(events.length > 0, 'no empty deliveries');
    for (const e of events) {
      assert.ok(e.kv.modRevision > last, `revision ${e.kv.modRevision} after ${last}`);
      last = e.kv.modRevision;
    }
  }
}

interface Collected {
  events: WatchEvent[];
  calls: WatchEvent[][];
  until(revision: number): Promise<void>;
  stop(): void;
}

async function collect(store: Store, prefix: string, afterRevision: number): Promise<Collected> {
  const controller = new AbortController();
  const calls: WatchEvent[][] = [];
  const events: WatchEvent[] = [];
  await store.watch(prefix, { afterRevision, signal: controller.signal }, (batch) => {
    calls.push(batch);
    events.push(...batch);
  });
  return {
    events,
    calls,
    until: (revision) => waitFor(() => events.length > 0 && events[events.length - 1].kv.modRevision >= revision),
    stop: () => controller.abort(),
  };
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs}ms`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Gives a store time to deliver anything it still (wrongly) had queued. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
