// An event recorder writing core/v1 Events as client-go's record package does:
// recorder.event(obj, 'Normal'|'Warning', reason, message) never blocks the caller
// (events go through a bounded queue, dropped when it is full, as upstream's
// broadcaster drops rather than stalls a controller); a repeat of an identical event
// (same object, type, reason, message and source) within 10 minutes is folded into the
// existing Event by a PATCH of count and lastTimestamp, as the EventCorrelator does,
// instead of creating another object.

import type { KObject } from '../api/object.ts';
import { isStatusError } from '../api/errors.ts';
import { ref } from './resources.ts';
import type { Client } from './types.ts';
import { sleep, type Logger } from './util.ts';

export type EventType = 'Normal' | 'Warning';

export interface ObjectReference {
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiVersion?: string;
  resourceVersion?: string;
  fieldPath?: string;
}

export interface EventSource {
  component: string;
  host?: string;
}

export interface EventRecorder {
  /** Records an event about `obj` (an object, or a reference to one). Returns at once. */
  event(obj: KObject | ObjectReference, type: EventType, reason: string, message: string): void;
  /** As event(), with a Go-style format: %s %v %d %q %%. */
  eventf(obj: KObject | ObjectReference, type: EventType, reason: string, format: string, ...args: unknown[]): void;
}

export interface EventBroadcasterOptions {
  /** Events waiting to be written before new ones are dropped (1000, as upstream). */
  queueSize?: number;
  /** Identical events within this window are aggregated (10 minutes). */
  correlationWindowMs?: number;
  /** Distinct events remembered for aggregation (4096, as upstream's LRU). */
  cacheSize?: number;
  /** Attempts per event write on errors other than a Status from the server (12, as upstream). */
  maxAttempts?: number;
  /** Delay between attempts (10 s upstream; jittered). */
  retryDelayMs?: number;
  log?: Logger;
}

interface Pending {
  event: KObject;
  key: string;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
  firstTimestamp: string;
  lastSeen: number;
}

// Wall-clock nanoseconds that keep increasing within a millisecond, for unique names.
const EPOCH_NS = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
let lastNs = 0n;
function nowNanos(): bigint {
  let ns = EPOCH_NS + process.hrtime.bigint();
  if (ns <= lastNs) ns = lastNs + 1n;
  lastNs = ns;
  return ns;
}

/** metav1.Time: RFC 3339 in seconds. */
function timeNow(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Go's fmt verbs the recorder's callers use: %s %v %d %q %%. */
export function formatGo(format: string, args: unknown[]): string {
  let i = 0;
  const out = format.replace(/%([svdq%])/g, (m, verb: string) => {
    if (verb === '%') return '%';
    if (i >= args.length) return `%!${verb}(MISSING)`;
    const a = args[i++];
    if (verb === 'q') return JSON.stringify(String(a));
    if (typeof a === 'object' && a !== null) return a instanceof Error ? a.message : JSON.stringify(a);
    return String(a);
  });
  return i < args.length ? `${out}%!(EXTRA ${args.slice(i).map(String).join(', ')})` : out;
}

function referenceOf(obj: KObject | ObjectReference): ObjectReference {
  if (!('metadata' in obj) || typeof obj.metadata !== 'object') return { ...(obj as ObjectReference) };
  const o = obj as KObject;
  const r: ObjectReference = { kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name, uid: o.metadata.uid, apiVersion: o.apiVersion, resourceVersion: o.metadata.resourceVersion };
  for (const k of Object.keys(r) as (keyof ObjectReference)[]) if (r[k] === undefined || r[k] === '') delete r[k];
  return r;
}

/** The queue and writer behind any number of recorders (client-go's EventBroadcaster). */
export class EventBroadcaster {
  private readonly client: Client;
  private readonly o: Required<Omit<EventBroadcasterOptions, 'log'>>;
  private readonly log: Logger;
  private readonly queue: Pending[] = [];
  private readonly seen = new Map<string, Seen>();
  private running = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  private readonly stop = new AbortController();
  /** Events dropped because the queue was full. */
  dropped = 0;

  constructor(client: Client, opts: EventBroadcasterOptions = {}) {
    this.client = client;
    this.o = {
      queueSize: opts.queueSize ?? 1000,
      correlationWindowMs: opts.correlationWindowMs ?? 10 * 60_000,
      cacheSize: opts.cacheSize ?? 4096,
      maxAttempts: opts.maxAttempts ?? 12,
      retryDelayMs: opts.retryDelayMs ?? 10_000,
    };
    this.log = opts.log ?? (() => {});
  }

  newRecorder(source: EventSource): EventRecorder {
    const src = { component: source.component, ...(source.host ? { host: source.host } : {}) };
    const record = (obj: KObject | ObjectReference, type: EventType, reason: string, message: string) => {
      if (type !== 'Normal' && type !== 'Warning') {
        this.log('unsupported event type; dropped', { type, reason });
        return;
      }
      const involved = referenceOf(obj);
      const t = timeNow();
      const event: KObject = {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${involved.name ?? ''}.${nowNanos().toString(16)}`, namespace: involved.namespace || 'default' },
        involvedObject: involved,
        reason,
        message,
        source: src,
        firstTimestamp: t,
        lastTimestamp: t,
        count: 1,
        type,
        reportingComponent: src.component,
        reportingInstance: src.host ?? '',
      };
      const key = JSON.stringify([src.component, src.host ?? '', involved.kind, involved.namespace, involved.name, involved.uid, involved.apiVersion, type, reason, message]);
      this.enqueue({ event, key });
    };
    return {
      event: record,
      eventf: (obj, type, reason, format, ...args) => record(obj, type, reason, formatGo(format, args)),
    };
  }

  private enqueue(p: Pending): void {
    if (this.closed) return;
    if (this.queue.length >= this.o.queueSize) {
      this.dropped++;
      return;
    }
    this.queue.push(p);
    if (!this.running) void this.drain();
  }

  /** Resolves once every event queued so far has been written (or given up on). */
  flush(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops taking events; those queued are dropped and retries end. */
  shutdown(): void {
    this.closed = true;
    this.queue.length = 0;
    this.stop.abort();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const p = this.queue.shift()!;
        await this.write(p);
      }
    } finally {
      this.running = false;
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  /** Creates the event, or folds it into the identical one seen within the window. */
  private async write(p: Pending): Promise<void> {
    const now = Date.now();
    const prev = this.seen.get(p.key);
    const ev = p.event;
    for (let attempt = 1; attempt <= this.o.maxAttempts && !this.closed; attempt++) {
      try {
        if (prev && now - prev.lastSeen <= this.o.correlationWindowMs) {
          try {
            const count = prev.count + 1;
            await this.client.patch(ref.events, prev.namespace, prev.name, 'strategic', {
              count,
              lastTimestamp: ev.lastTimestamp,
              message: ev.message,
            }, { signal: this.stop.signal });
            this.remember(p.key, { ...prev, count, lastSeen: now });
            return;
          } catch (e) {
            // The event is gone (expired by its TTL): create it afresh, as upstream.
            if (!(isStatusError(e) && e.code === 404)) throw e;
            this.seen.delete(p.key);
          }
        }
        const created = await this.client.create(ref.events, ev.metadata.namespace, ev, { signal: this.stop.signal });
        this.remember(p.key, {
          name: created.metadata.name!,
          namespace: created.metadata.namespace!,
          count: created.count ?? 1,
          firstTimestamp: created.firstTimestamp ?? ev.firstTimestamp,
          lastSeen: now,
        });
        return;
      } catch (e) {
        if (this.closed) return;
        // A Status from the server (invalid, forbidden, namespace gone) will not change on retry.
        if (isStatusError(e) && e.code !== 429 && e.code < 500) {
          this.log('event rejected; dropped', { reason: ev.reason, involvedObject: ev.involvedObject, error: e.message });
          return;
        }
        if (attempt === this.o.maxAttempts) {
          this.log('event not written after retries; dropped', { reason: ev.reason, error: String((e as Error)?.message ?? e) });
          return;
        }
        await sleep(this.o.retryDelayMs * (1 + Math.random() * 0.25), this.stop.signal);
      }
    }
  }

  private remember(key: string, s: Seen): void {
    this.seen.delete(key); // re-insert: Map order is the LRU order
    this.seen.set(key, s);
    if (this.seen.size > this.o.cacheSize) this.seen.delete(this.seen.keys().next().value!);
  }
}
