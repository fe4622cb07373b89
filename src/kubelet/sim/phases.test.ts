// The heartbeat phases of a sim pool: nodes renew in a few large batches, and each node
// still renews on upstream's cadence (10 s, plus up to 4%, after the last renewal ended).
// Driven through the real TimerWheel with a fake clock, as SimPool schedules renewals.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TimerWheel } from './wheel.ts';
import { firstRenewalAt, heartbeatPhases } from './pool.ts';

const RENEW_MS = 10_000;
const TICK_MS = 400; // the pool's heartbeat tick: 4% of the interval

/**
 * `nodes` nodes register over `registerMs` (in index order); each renewal takes `workMs(i)`
 * to complete, and the next is scheduled one interval after that, as SimPool.heartbeat does.
 * Returns the renewal start times of every node and the gaps from each completion to the next start.
 */
function simulate(nodes: number, registerMs: number, runMs: number, workMs: (i: number) => number, poolSize: (i: number) => number = () => nodes) {
  let now = 5_000_123;
  const wheel = new TimerWheel({ tickMs: TICK_MS, now: () => now });
  const starts: number[][] = Array.from({ length: nodes }, () => []);
  const gaps: number[] = [];
  const ended: number[] = [];
  const renew = (i: number) => {
    const start = now;
    if (ended[i] !== undefined) gaps.push(start - ended[i]);
    starts[i].push(start);
    ended[i] = start + workMs(i);
    // The next renewal is scheduled when this one completes.
    wheel.at(ended[i] + RENEW_MS, () => renew(i));
  };
  for (let i = 0; i < nodes; i++) {
    const registeredAt = now + Math.floor((i * registerMs) / nodes);
    wheel.at(firstRenewalAt({ now: registeredAt, index: i, nodes: poolSize(i), renewMs: RENEW_MS, tickMs: TICK_MS }), () => renew(i));
  }
  const end = now + runMs;
  while (now < end) {
    now += 7; // finer than a tick, so a task runs within a tick of its time as with the real timer
    wheel.runDue();
  }
  wheel.stop();
  return { starts, gaps };
}

/** Renewals by their tick in the 26-tick cycle (a 10 s interval plus the rest of a 400 ms tick). */
function byPhase(times: number[]): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const t of times) {
    const phase = Math.floor(t / TICK_MS) % 26;
    ticks.set(phase, (ticks.get(phase) ?? 0) + 1);
  }
  return ticks;
}

test('1,000 nodes renew in 4 batches per interval, each node every 10 to 10.4 s', () => {
  const { starts, gaps } = simulate(1000, 5_000, 120_000, (i) => 3 + (i % 50));
  assert.equal(heartbeatPhases(1000), 4);
  const settled = starts.flatMap((s) => s.slice(1));
  assert.ok(settled.length > 1000 * 8, `${settled.length} renewals`);
  const ticks = byPhase(settled);
  assert.equal(ticks.size, 4, `renewals fall in ${ticks.size} phases: ${JSON.stringify([...ticks])}`);
  for (const [phase, n] of ticks) assert.ok(n >= settled.length / 8, `phase ${phase} has only ${n} renewals`);
  // Upstream's cadence: JitterUntil(renew, 10 s, 0.04) waits 10 to 10.4 s after a renewal ends.
  assert.ok(gaps.length > 1000 * 8, `${gaps.length} gaps`);
  for (const g of gaps) assert.ok(g >= RENEW_MS && g <= RENEW_MS * 1.04 + 1, `a renewal came ${g} ms after the last ended`);
  // No node stopped renewing.
  for (const s of starts) assert.ok(s.length >= 9, 'every node kept renewing');
});

test('a pool that grows from 250 to 1,000 nodes keeps 4 batches', () => {
  const { starts } = simulate(1000, 5_000, 60_000, () => 5, (i) => (i < 250 ? 250 : 1000));
  assert.equal(byPhase(starts.flatMap((s) => s)).size, 4);
});

test('a few nodes share one phase; 10,000 use every tick', () => {
  assert.equal(heartbeatPhases(3), 1);
  const few = simulate(3, 1_000, 60_000, () => 2);
  assert.equal(byPhase(few.starts.flatMap((s) => s)).size, 1, 'three nodes renew in the same tick');
  assert.ok(heartbeatPhases(10_000) >= 26, 'with 10,000 nodes every tick of the interval is a phase');
  const many = simulate(10_000, 10_000, 30_000, () => 5);
  assert.equal(byPhase(many.starts.flatMap((s) => s)).size, 26);
});
