// The bench's CPU readings from /proc: per thread of a process, and the whole machine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { machineCpuMs, processCpuMs, threadCpuMs } from '../bench/processes.ts';

/** Keeps this thread busy until it has used `ms` of CPU. */
function spin(ms: number): void {
  const start = process.cpuUsage();
  let x = 0;
  for (;;) {
    for (let i = 0; i < 100_000; i++) x += Math.sqrt(i);
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) break;
  }
  assert.ok(x > 0);
}

test('threadCpuMs splits the process by thread, and adds up to processCpuMs', () => {
  const before = threadCpuMs(process.pid);
  const main0 = before.get('MainThread') ?? 0;
  spin(300);
  const after = threadCpuMs(process.pid);
  const total = processCpuMs(process.pid)!;
  assert.ok(after.has('MainThread'), `thread names: ${[...after.keys()].join(', ')}`);
  // The spin ran on the JavaScript thread: it is there, at 10 ms tick resolution.
  assert.ok(after.get('MainThread')! - main0 >= 250, `MainThread grew ${after.get('MainThread')! - main0} ms`);
  const sum = [...after.values()].reduce((a, b) => a + b, 0);
  // Threads that already ended are not listed any more, so the sum can only fall short.
  assert.ok(sum <= total + 10 && sum >= total * 0.5, `threads ${sum} ms, process ${total} ms`);
});

test('machineCpuMs counts this process’s work as busy time', () => {
  const m0 = machineCpuMs()!;
  spin(300);
  const m1 = machineCpuMs()!;
  assert.ok(m1.busy - m0.busy >= 250, `machine busy grew ${m1.busy - m0.busy} ms`);
  assert.ok(m1.steal >= m0.steal);
});

test('threadCpuMs of a process that does not exist is empty', () => {
  assert.equal(threadCpuMs(2 ** 22 + 12345).size, 0);
});
