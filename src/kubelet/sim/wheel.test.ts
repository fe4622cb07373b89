import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimerWheel } from './wheel.ts';

function fakeWheel(tickMs = 100) {
  let now = 1_000_000;
  const wheel = new TimerWheel({ tickMs, now: () => now });
  return {
    wheel,
    advance(ms: number) {
      now += ms;
      wheel.runDue();
    },
    get now() {
      return now;
    },
  };
}

test('tasks run at their time, in order within a tick, never early and never twice', () => {
  const w = fakeWheel();
  const ran: string[] = [];
  w.wheel.after(250, () => ran.push('b'));
  w.wheel.after(210, () => ran.push('a'));
  w.wheel.after(1000, () => ran.push('c'));
  w.advance(200);
  assert.deepEqual(ran, []);
  w.advance(100);
  assert.deepEqual(ran, ['b', 'a'], 'both due within the tick ending at 300 ms; scheduling order kept');
  w.advance(100);
  assert.deepEqual(ran, ['b', 'a']);
  w.advance(700);
  assert.deepEqual(ran, ['b', 'a', 'c']);
  assert.equal(w.wheel.size, 0);
  w.wheel.stop();
});

test('cancelled tasks never run; tasks scheduled from a task run on a later tick', () => {
  const w = fakeWheel();
  const ran: number[] = [];
  const t = w.wheel.after(100, () => ran.push(1));
  w.wheel.after(100, () => w.wheel.after(100, () => ran.push(3)));
  w.wheel.cancel(t);
  w.wheel.cancel(t);
  assert.equal(w.wheel.size, 1);
  w.advance(100);
  assert.deepEqual(ran, []);
  w.advance(100);
  assert.deepEqual(ran, [3]);
  w.wheel.stop();
});

test('one real timer serves many tasks', async () => {
  const wheel = new TimerWheel({ tickMs: 5 });
  let count = 0;
  const done = new Promise<void>((resolve) => {
    for (let i = 0; i < 1000; i++)
      wheel.after(i % 20, () => {
        if (++count === 1000) resolve();
      });
  });
  // Keep the event loop alive: the wheel's timer is unref'd.
  const keep = setTimeout(() => {}, 5000);
  await done;
  clearTimeout(keep);
  assert.equal(count, 1000);
  wheel.stop();
  assert.equal(wheel.size, 0);
});
