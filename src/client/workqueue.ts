// A rate-limited work queue as client-go's workqueue, and workers that drain it as
// controller-runtime's: informer events only enqueue `namespace/name` keys; reconcile
// re-reads the state from the cache and either succeeds (the key's failures are
// forgotten), asks to be requeued, or throws (retried with per-item exponential
// backoff; a TerminalError is not retried). What must hold:
//   - An item is never processed by two workers at once.
//   - An item added while it is being processed is processed again once after done().
//   - An item is in the queue at most once however often it is added before a get().

import type { KObject } from '../api/object.ts';
import type { ResourceEventHandlers } from './informer.ts';
import { keyOf, type Logger } from './util.ts';

export interface RateLimiter<T> {
  /** How long to wait before `item` is retried (counts a failure). */
  when(item: T): number;
  /** Forgets `item`'s failures (it succeeded). */
  forget(item: T): void;
  numRequeues(item: T): number;
}

/** Per-item exponential backoff: base·2^failures, capped (client-go's ItemExponentialFailureRateLimiter). */
export class ItemExponentialFailureRateLimiter<T> implements RateLimiter<T> {
  private readonly failures = new Map<T, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;
  constructor(baseMs = 5, maxMs = 1000_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }
  when(item: T): number {
    const n = this.failures.get(item) ?? 0;
    this.failures.set(item, n + 1);
    // 2^n overflows to Infinity for large n, which the cap absorbs.
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }
  forget(item: T): void {
    this.failures.delete(item);
  }
  numRequeues(item: T): number {
    return this.failures.get(item) ?? 0;
  }
}

export interface WorkQueueOptions<T> {
  rateLimiter?: RateLimiter<T>;
  /** Shown in logs. */
  name?: string;
}

export class RateLimitingQueue<T = string> {
  readonly name: string;
  private readonly rateLimiter: RateLimiter<T>;
  private queue: T[] = [];
  private head = 0;
  /** Items that need processing (queued, or re-added while processing). */
  private readonly dirty = new Set<T>();
  private readonly processing = new Set<T>();
  /** Items waiting for addAfter/addRateLimited: when they become ready. */
  private readonly waiting = new Map<T, { readyAt: number; timer: NodeJS.Timeout }>();
  private readonly getters: ((item: T | undefined) => void)[] = [];
  private drainWaiters: (() => void)[] = [];
  private shuttingDown = false;

  constructor(opts: WorkQueueOptions<T> = {}) {
    this.rateLimiter = opts.rateLimiter ?? new ItemExponentialFailureRateLimiter<T>();
    this.name = opts.name ?? '';
  }

  /** Queues `item` unless it is already queued; if it is being processed it is queued again after done(). */
  add(item: T): void {
    if (this.shuttingDown || this.dirty.has(item)) return;
    this.dirty.add(item);
    if (this.processing.has(item)) return;
    const getter = this.getters.shift();
    if (getter) {
      this.dirty.delete(item);
      this.processing.add(item);
      getter(item);
    } else {
      this.queue.push(item);
    }
  }

  /** Number of items waiting to be picked up (not those being processed or delayed). */
  len(): number {
    return this.queue.length - this.head;
  }

  /**
   * The next item, waiting for one if needed; undefined once the queue is shut down and
   * empty. The caller must call done(item) when finished with it.
   */
  get(): Promise<T | undefined> {
    if (this.head < this.queue.length) {
      const item = this.queue[this.head];
      this.queue[this.head++] = undefined as T;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.dirty.delete(item);
      this.processing.add(item);
      return Promise.resolve(item);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  /** Marks `item` finished; queues it again if it was added while being processed. */
  done(item: T): void {
    this.processing.delete(item);
    if (this.dirty.has(item)) {
      this.dirty.delete(item);
      this.add(item);
    }
    if (this.processing.size === 0) {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    }
  }

  /** Adds `item` after `delayMs`. A later request for an item already waiting keeps the earlier time. */
  addAfter(item: T, delayMs: number): void {
    if (this.shuttingDown) return;
    if (delayMs <= 0) return this.add(item);
    const readyAt = Date.now() + delayMs;
    const w = this.waiting.get(item);
    if (w) {
      if (w.readyAt <= readyAt) return;
      clearTimeout(w.timer);
    }
    const timer = setTimeout(() => {
      this.waiting.delete(item);
      this.add(item);
    }, delayMs);
    timer.unref();
    this.waiting.set(item, { readyAt, timer });
  }

  /** Adds `item` after the rate limiter's delay for it (counts a failure). */
  addRateLimited(item: T): void {
    this.addAfter(item, this.rateLimiter.when(item));
  }

  /** Clears `item`'s failure count (not its presence in the queue). */
  forget(item: T): void {
    this.rateLimiter.forget(item);
  }

  numRequeues(item: T): number {
    return this.rateLimiter.numRequeues(item);
  }

  /** Stops accepting items; get() drains what is queued, then answers undefined. Delayed items are dropped. */
  shutDown(): void {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    const getters = this.getters.splice(0);
    for (const g of getters) g(undefined);
  }

  /** shutDown(), then resolves once no item is being processed. */
  async shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return;
    await new Promise<void>((r) => this.drainWaiters.push(r));
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }
}

/** A failure that retrying cannot fix (bad spec): logged, the item's backoff forgotten, not requeued. */
export class TerminalError extends Error {
  constructor(message: string, opts?: { cause?: unknown }) {
    super(message, opts);
    this.name = 'TerminalError';
  }
}

/** What reconcile asks for: nothing (done), a requeue with backoff, or a requeue after a delay. */
export type ReconcileResult = void | undefined | { requeue?: boolean; requeueAfterMs?: number };

export type Reconciler<T> = (item: T, signal: AbortSignal) => ReconcileResult | Promise<ReconcileResult>;

/**
 * Runs `workers` workers taking items from `queue` until `signal` aborts; then the queue
 * is shut down and the promise resolves when every worker has finished its item.
 */
export async function runWorkers<T>(
  queue: RateLimitingQueue<T>,
  workers: number,
  reconcile: Reconciler<T>,
  signal: AbortSignal,
  opts: { log?: Logger } = {},
): Promise<void> {
  const log = opts.log ?? (() => {});
  const stop = () => queue.shutDown();
  signal.addEventListener('abort', stop, { once: true });
  if (signal.aborted) stop();
  const worker = async () => {
    for (;;) {
      const item = await queue.get();
      if (item === undefined) return;
      if (signal.aborted) {
        // Stopping: what is still queued is not worked on (the next start reconciles everything anyway).
        queue.done(item);
        return;
      }
      try {
        const result = await reconcile(item, signal);
        if (result && result.requeueAfterMs !== undefined && result.requeueAfterMs > 0) {
          queue.forget(item);
          queue.addAfter(item, result.requeueAfterMs);
        } else if (result && result.requeue) {
          queue.addRateLimited(item);
        } else {
          queue.forget(item);
        }
      } catch (e) {
        if (e instanceof TerminalError) {
          queue.forget(item);
          log('reconcile failed (terminal)', { queue: queue.name, item: String(item), error: e.message });
        } else if (!signal.aborted) {
          log('reconcile failed; retrying', { queue: queue.name, item: String(item), requeues: queue.numRequeues(item), error: String((e as Error)?.message ?? e) });
          queue.addRateLimited(item);
        }
      } finally {
        queue.done(item);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, workers) }, worker));
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

/** Informer handlers that only enqueue the object's `namespace/name` key (controller-runtime's EnqueueRequestForObject). */
export function enqueueKeys<O extends KObject>(queue: RateLimitingQueue<string>, keyFn: (o: O) => string | undefined = keyOf): ResourceEventHandlers<O> {
  const add = (o: O) => {
    const k = keyFn(o);
    if (k) queue.add(k);
  };
  return { onAdd: add, onUpdate: (_old, o) => add(o), onDelete: add };
}
