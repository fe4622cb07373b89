// Work queue semantics (unit tier): de-duplication, re-queue of an item added while
// processing, per-item exponential backoff, delayed adds, shutdown, and workers.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ItemExponentialFailureRateLimiter, RateLimitingQueue, runWorkers, TerminalError, enqueueKeys } from './workqueue.ts';
import { sleep } from './util.ts';

describe('work queue', () => {
  it('holds an item once however often it is added, in FIFO order', async () => {
    const q = new RateLimitingQueue<string>();
    q.add('a');
    q.add('b');
    q.add('a');
    assert.equal(q.len(), 2);
    assert.equal(await q.get(), 'a');
    assert.equal(await q.get(), 'b');
    assert.equal(q.len(), 0);
  });

  it('re-queues an item added while it is processed exactly once, after done()', async () => {
    const q = new RateLimitingQueue<string>();
    q.add('a');
    const item = await q.get();
    q.add('a');
    q.add('a');
    assert.equal(q.len(), 0, 'not handed out while processing');
    let second: string | undefined;
    void q.get().then((i) => (second = i));
    await sleep(5);
    assert.equal(second, undefined);
    q.done(item!);
    await sleep(0);
    assert.equal(second, 'a');
    q.done('a');
    assert.equal(q.len(), 0);
  });

  it('get() waits for an item and answers undefined after shutdown once drained', async () => {
    const q = new RateLimitingQueue<string>();
    const waiting = q.get();
    q.add('x');
    assert.equal(await waiting, 'x');
    q.add('y');
    q.shutDown();
    q.add('z'); // ignored
    assert.equal(await q.get(), 'y');
    assert.equal(await q.get(), undefined);
    const q2 = new RateLimitingQueue<string>();
    const pending = q2.get();
    q2.shutDown();
    assert.equal(await pending, undefined);
  });

  it('backs off per item exponentially from 5 ms to 1000 s, and forget() resets', () => {
    const rl = new ItemExponentialFailureRateLimiter<string>();
    assert.deepEqual([rl.when('a'), rl.when('a'), rl.when('a'), rl.when('b')], [5, 10, 20, 5]);
    assert.equal(rl.numRequeues('a'), 3);
    for (let i = 0; i < 40; i++) rl.when('a');
    assert.equal(rl.when('a'), 1000_000);
    rl.forget('a');
    assert.equal(rl.when('a'), 5);
  });

  it('addAfter and addRateLimited add later; the earlier of two delays wins', async () => {
    const q = new RateLimitingQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter(20, 1000) });
    q.addAfter('late', 10_000);
    q.addAfter('late', 30);
    q.addRateLimited('r'); // 20 ms
    assert.equal(q.len(), 0);
    const started = Date.now();
    const first = await q.get();
    const second = await q.get();
    assert.deepEqual([first, second], ['r', 'late']);
    assert.ok(Date.now() - started >= 25);
    assert.equal(q.numRequeues('r'), 1);
    q.forget('r');
    assert.equal(q.numRequeues('r'), 0);
    q.shutDown();
  });
});

describe('runWorkers', () => {
  it('retries failures with backoff, honours requeueAfter, drops terminal errors, never runs one item twice at once', async () => {
    const q = new RateLimitingQueue<string>({ rateLimiter: new ItemExponentialFailureRateLimiter(1, 50) });
    const ac = new AbortController();
    const calls: string[] = [];
    const active = new Set<string>();
    let overlap = false;
    let failures = 0;
    let after = 0;
    // Queued before the workers start: the three 'busy' are one item.
    for (const k of ['flaky', 'terminal', 'later', 'busy', 'busy', 'busy']) q.add(k);
    const done = runWorkers(
      q,
      4,
      async (key) => {
        if (active.has(key)) overlap = true;
        active.add(key);
        calls.push(key);
        await sleep(2);
        active.delete(key);
        if (key === 'flaky' && failures++ < 3) throw new Error('not yet');
        if (key === 'terminal') throw new TerminalError('bad spec');
        if (key === 'later' && after++ === 0) return { requeueAfterMs: 20 };
        if (key === 'busy') q.add('busy-done');
      },
      ac.signal,
    );
    await sleep(200);
    ac.abort();
    await done;
    assert.equal(overlap, false);
    assert.equal(calls.filter((c) => c === 'flaky').length, 4, 'three failures then success');
    assert.equal(calls.filter((c) => c === 'terminal').length, 1, 'terminal errors are not retried');
    assert.equal(calls.filter((c) => c === 'later').length, 2, 'requeueAfter');
    assert.equal(calls.filter((c) => c === 'busy').length, 1, 'de-duplicated');
    assert.ok(calls.includes('busy-done'));
    assert.equal(q.numRequeues('flaky'), 0, 'success forgets the failures');
    assert.ok(q.isShuttingDown());
  });

  it('enqueueKeys turns informer events into namespace/name keys', async () => {
    const q = new RateLimitingQueue<string>();
    const h = enqueueKeys(q);
    h.onAdd!({ metadata: { namespace: 'ns', name: 'a' } }, true);
    h.onUpdate!({ metadata: { name: 'n1' } }, { metadata: { name: 'n1' } });
    h.onDelete!({ metadata: { namespace: 'ns', name: 'a' } }, { finalStateUnknown: true });
    assert.equal(q.len(), 2);
    assert.equal(await q.get(), 'ns/a');
    assert.equal(await q.get(), 'n1');
  });
});
