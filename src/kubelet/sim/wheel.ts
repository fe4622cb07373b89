// One timer for every simulated node and pod of a process: tasks are kept in buckets
// by tick (a hashed timing wheel without a fixed size), and a single Node timer is armed
// for the earliest non-empty tick. A thousand nodes renewing leases every 10 s cost one
// timer callback per tick that has work, not a thousand intervals.
//
// Holds: a task never runs before its time, never runs twice, and a cancelled task never
// runs. Tasks of one tick run in the order they were scheduled.

export interface WheelTask {
  /** Absolute due time (ms, same clock as `now`). */
  readonly at: number;
  cancelled: boolean;
  readonly fn: () => void;
}

export interface TimerWheelOptions {
  /** Resolution: tasks due within one tick run together (default 100 ms). */
  tickMs?: number;
  now?: () => number;
  /** Keeps the process alive while tasks are pending (default false: the wheel is unref'd). */
  ref?: boolean;
}

export class TimerWheel {
  readonly tickMs: number;
  readonly now: () => number;
  private readonly ref: boolean;
  private readonly buckets = new Map<number, WheelTask[]>();
  /** Min-heap of ticks that have a bucket. */
  private readonly ticks: number[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private armedFor = Infinity;
  private live = 0;
  private stopped = false;

  constructor(opts: TimerWheelOptions = {}) {
    this.tickMs = opts.tickMs ?? 100;
    this.now = opts.now ?? Date.now;
    this.ref = opts.ref ?? false;
  }

  /** Pending (not cancelled) tasks. */
  get size(): number {
    return this.live;
  }

  /** Runs `fn` at (or within one tick after) absolute time `at`. */
  at(at: number, fn: () => void): WheelTask {
    const task: WheelTask = { at, cancelled: false, fn };
    if (this.stopped) {
      task.cancelled = true;
      return task;
    }
    const tick = Math.ceil(at / this.tickMs);
    let bucket = this.buckets.get(tick);
    if (!bucket) {
      bucket = [];
      this.buckets.set(tick, bucket);
      heapPush(this.ticks, tick);
    }
    bucket.push(task);
    this.live++;
    this.arm();
    return task;
  }

  /** Runs `fn` after `ms` milliseconds. */
  after(ms: number, fn: () => void): WheelTask {
    return this.at(this.now() + Math.max(0, ms), fn);
  }

  cancel(task: WheelTask | undefined): void {
    if (!task || task.cancelled) return;
    task.cancelled = true;
    this.live--;
  }

  /** Cancels everything; later schedules are ignored. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const b of this.buckets.values()) for (const t of b) t.cancelled = true;
    this.buckets.clear();
    this.ticks.length = 0;
    this.live = 0;
  }

  /** Runs every task due by `now` (the timer calls it; tests with a fake clock call it directly). */
  runDue(): void {
    const nowTick = Math.floor(this.now() / this.tickMs);
    while (this.ticks.length > 0 && this.ticks[0] <= nowTick) {
      const tick = heapPop(this.ticks)!;
      const bucket = this.buckets.get(tick)!;
      this.buckets.delete(tick);
      for (const task of bucket) {
        if (task.cancelled) continue;
        task.cancelled = true;
        this.live--;
        try {
          task.fn();
        } catch (e) {
          // A task's bug must not stop every other node's heartbeat.
          queueMicrotask(() => {
            throw e;
          });
        }
      }
    }
    this.arm();
  }

  private arm(): void {
    if (this.stopped) return;
    // Drop ticks whose buckets hold only cancelled tasks, so an idle wheel sleeps.
    while (this.ticks.length > 0) {
      const b = this.buckets.get(this.ticks[0])!;
      if (b.some((t) => !t.cancelled)) break;
      this.buckets.delete(heapPop(this.ticks)!);
    }
    if (this.ticks.length === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      this.armedFor = Infinity;
      return;
    }
    const next = this.ticks[0] * this.tickMs;
    if (this.timer && next >= this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.armedFor = next;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = Infinity;
      this.runDue();
    }, Math.max(0, next - this.now()));
    if (!this.ref) this.timer.unref?.();
  }
}

function heapPush(h: number[], v: number): void {
  h.push(v);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p] <= v) break;
    h[i] = h[p];
    i = p;
  }
  h[i] = v;
}

function heapPop(h: number[]): number | undefined {
  if (h.length === 0) return undefined;
  const top = h[0];
  const last = h.pop()!;
  if (h.length > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r] < h[l] ? r : l;
      if (h[c] >= last) break;
      h[i] = h[c];
      i = c;
    }
    h[i] = last;
  }
  return top;
}
