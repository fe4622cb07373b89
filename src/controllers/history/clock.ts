// The time source of the workload controllers (k8s.io/utils/clock): `now()` and timers
// that fire when the clock reaches a time. The real clock uses wall time and unref'd
// timers; FakeClock lets tests step time (CronJob schedules, Job back-off and deadlines,
// TTL after finished) and fires the timers that became due, as upstream's fake clock.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once `delayMs` has passed on this clock; returns a cancel. */
  setTimer(delayMs: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(delayMs, fn) {
    const t = setTimeout(fn, Math.max(0, delayMs));
    t.unref();
    return () => clearTimeout(t);
  },
};

interface FakeTimer {
  at: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private t: number;
  private timers = new Set<FakeTimer>();

  constructor(start: number | Date | string) {
    this.t = typeof start === 'number' ? start : new Date(start).getTime();
  }

  now(): number {
    return this.t;
  }

  setTimer(delayMs: number, fn: () => void): () => void {
    const timer = { at: this.t + Math.max(0, delayMs), fn };
    if (delayMs <= 0) {
      queueMicrotask(fn);
      return () => {};
    }
    this.timers.add(timer);
    return () => this.timers.delete(timer);
  }

  /** Moves time forward by `ms` and fires every timer now due, earliest first. */
  step(ms: number): void {
    this.set(this.t + ms);
  }

  /** Sets the time (never backwards) and fires every timer now due, earliest first. */
  set(t: number | Date | string): void {
    const to = typeof t === 'number' ? t : new Date(t).getTime();
    if (to < this.t) throw new Error('FakeClock: time only moves forward');
    this.t = to;
    const due = [...this.timers].filter((x) => x.at <= to).sort((a, b) => a.at - b.at);
    for (const x of due) {
      this.timers.delete(x);
      x.fn();
    }
  }

  /** Timers waiting to fire. */
  pending(): number {
    return this.timers.size;
  }
}

/** One pending timer per key: a later request replaces an earlier one unless that one fires first. */
export class KeyedTimers {
  private readonly clock: Clock;
  private readonly timers = new Map<string, { at: number; cancel: () => void }>();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Calls `fn(key)` after `delayMs`; an already pending earlier timer for `key` is kept. */
  after(key: string, delayMs: number, fn: (key: string) => void): void {
    this.at(key, this.clock.now() + delayMs, fn);
  }

  /**
   * Calls `fn(key)` when the clock reaches `at` (ms; at once if it has), keeping an
   * already pending earlier timer. Absolute times keep a wake-up computed before the
   * clock moved (a fake clock stepped meanwhile) from sliding later.
   */
  at(key: string, at: number, fn: (key: string) => void): void {
    const delayMs = Math.max(0, at - this.clock.now());
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    const cancel = this.clock.setTimer(delayMs, () => {
      if (this.timers.get(key)?.cancel === cancel) this.timers.delete(key);
      fn(key);
    });
    this.timers.set(key, { at, cancel });
  }

  cancel(key: string): void {
    this.timers.get(key)?.cancel();
    this.timers.delete(key);
  }

  cancelAll(): void {
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
  }
}
