// The rate-limited timed queue the node lifecycle controller taints nodes through
// (upstream's scheduler.RateLimitedTimedQueue): node names in order of when they may
// be processed, each at most once until removed, drained no faster than a token
// bucket allows (so a zone losing its network does not taint every node at once).

/** A token bucket with `qps` refill and `burst` capacity; qps ≤ 0 never accepts. */
export class TokenBucket {
  readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;
  private readonly now: () => number;

  constructor(qps: number, burst: number, now: () => number = Date.now) {
    this.qps = qps;
    this.burst = burst;
    this.tokens = burst;
    this.now = now;
    this.last = now();
  }

  tryAccept(): boolean {
    if (this.qps <= 0) return false;
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.qps);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}

export interface TimedValue {
  value: string;
  uid: string;
  addedAt: number;
  processAt: number;
}

export class RateLimitedTimedQueue {
  private items: TimedValue[] = [];
  /** Values added and not yet removed (processed ones stay until remove()). */
  private readonly set = new Set<string>();
  private limiter: TokenBucket;
  private readonly now: () => number;

  constructor(limiter: TokenBucket, now: () => number = Date.now) {
    this.limiter = limiter;
    this.now = now;
  }

  /** Adds `value` unless it is already there; true if added. */
  add(value: string, uid: string): boolean {
    if (this.set.has(value)) return false;
    const t = this.now();
    this.set.add(value);
    this.items.push({ value, uid, addedAt: t, processAt: t });
    this.sort();
    return true;
  }

  /** Removes `value` (queued or processed); true if it was there. */
  remove(value: string): boolean {
    const had = this.set.delete(value);
    // Queued values are all in the set: nothing to filter otherwise (every Ready node is
    // removed from its zone's queue on every monitor pass).
    if (had) this.items = this.items.filter((i) => i.value !== value);
    return had;
  }

  /**
   * Processes due values while the limiter allows: `fn` returns [true] when done with a
   * value, or [false, retryMs] to look at it again later.
   */
  async try(fn: (v: TimedValue) => Promise<[boolean, number?]>): Promise<void> {
    while (this.items.length) {
      if (!this.limiter.tryAccept()) return;
      const head = this.items[0];
      const t = this.now();
      if (t < head.processAt) return;
      const [ok, wait] = await fn(head);
      // The value may have been removed while fn ran.
      const i = this.items.indexOf(head);
      if (i < 0) continue;
      if (ok) this.items.splice(i, 1);
      else {
        head.processAt = t + (wait ?? 0) + 1;
        this.sort();
      }
    }
  }

  swapLimiter(qps: number): void {
    if (this.limiter.qps === qps) return;
    const next = new TokenBucket(qps, 1, this.now);
    // Waiting on the old limiter: the new one starts drained too (burst is 1).
    if (qps > 0 && !this.limiter.tryAccept()) next.tryAccept();
    this.limiter = next;
  }

  get length(): number {
    return this.items.length;
  }

  private sort(): void {
    this.items.sort((a, b) => a.processAt - b.processAt);
  }
}
