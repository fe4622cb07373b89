// Informers as client-go's: a reflector that lists then watches one resource (with a
// namespace and selectors), keeping a local indexed cache, and handlers told about
// every change. What must hold:
//   - The cache converges on the server's state whatever happens to the connection: a
//     watch that ends is resumed from the last resourceVersion seen (events or
//     bookmarks); a 410 Expired (ERROR event or HTTP 410) relists from scratch.
//   - A relist tells handlers the difference: adds, updates (resourceVersion changed)
//     and deletes of objects that vanished while disconnected, flagged
//     `finalStateUnknown` (client-go's DeletedFinalStateUnknown tombstones).
//   - Handlers run in the order events arrive, one at a time; a throwing handler is
//     logged and does not stop the informer. Handlers should only enqueue work.
//   - Cached objects are shared with every consumer: never mutate them.

import type { KObject } from '../api/object.ts';
import { isStatusError, type Status, StatusError } from '../api/errors.ts';
import { Indexer, type IndexFunc, type Lister } from './indexer.ts';
import type { Client, ResourceRef, WatchEvent } from './types.ts';
import { Backoff, keyOf, sleep, type Logger } from './util.ts';

export interface ResourceEventHandlers<T extends KObject = KObject> {
  /** `isInInitialList`: the object came with the first list, not a later change. */
  onAdd?(obj: T, isInInitialList: boolean): void;
  /** Also called with old === new on resync. */
  onUpdate?(oldObj: T, newObj: T): void;
  /**
   * `obj` is the object's last state. `finalStateUnknown`: the deletion was noticed by a
   * relist, so the final state (and any change before it) was missed.
   */
  onDelete?(obj: T, info: { finalStateUnknown: boolean }): void;
}

export interface InformerOptions<T extends KObject = KObject> {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Handlers get onUpdate(o, o) for every cached object this often (0: never). A handler may set its own. */
  resyncPeriodMs?: number;
  indexers?: Record<string, IndexFunc<T>>;
  /** Page size of lists (default 500, as client-go). */
  pageSize?: number;
  /** Retry delays after failures: from `minBackoffMs` (800) doubling to `maxBackoffMs` (30 000), jittered. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  log?: Logger;
  /**
   * Applied to every object a list or watch brings, before it enters the cache and reaches
   * handlers (client-go's SetTransform). It may change the object in place and return it.
   */
  transform?: (obj: T) => T;
}

/**
 * A transform that drops metadata.managedFields, as kube-controller-manager's and
 * kube-scheduler's informers do: controllers never read them, and they are much of what
 * a cached object weighs. An update sent without managedFields keeps the live ones.
 */
export function stripManagedFields<T extends KObject>(obj: T): T {
  if (obj.metadata?.managedFields !== undefined) delete obj.metadata.managedFields;
  return obj;
}

export interface HandlerRegistration {
  remove(): void;
}

interface Listener<T extends KObject> {
  handlers: ResourceEventHandlers<T>;
  resyncPeriodMs: number;
  timer?: NodeJS.Timeout;
}

/** Watch streams are closed by the client after 5–10 minutes, as client-go's reflector does. */
const MIN_WATCH_TIMEOUT_S = 300;

export class Informer<T extends KObject = KObject> {
  readonly client: Client;
  readonly ref: ResourceRef;
  readonly namespace: string | undefined;
  readonly labelSelector: string | undefined;
  readonly fieldSelector: string | undefined;
  private readonly indexer: Indexer<T>;
  private readonly listeners = new Set<Listener<T>>();
  private readonly opts: InformerOptions<T>;
  private readonly log: Logger;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private rv = '';
  private running: AbortSignal | undefined;
  private stopped: Promise<void> | undefined;

  constructor(client: Client, ref: ResourceRef, opts: InformerOptions<T> = {}) {
    this.client = client;
    this.ref = ref;
    this.namespace = ref.namespaced ? opts.namespace || undefined : undefined;
    this.labelSelector = opts.labelSelector || undefined;
    this.fieldSelector = opts.fieldSelector || undefined;
    this.opts = opts;
    this.log = opts.log ?? (() => {});
    this.indexer = new Indexer<T>(opts.indexers);
  }

  /** The cache, read-only. */
  get lister(): Lister<T> {
    return this.indexer;
  }

  /** Adds indexes (allowed at any time: cached objects are filed at once). */
  addIndexers(indexers: Record<string, IndexFunc<T>>): void {
    this.indexer.addIndexers(indexers);
  }

  /**
   * Registers handlers. Added after the first sync, they first get onAdd for every cached
   * object (as client-go's shared informers do), so late consumers see the same world.
   */
  addEventHandler(handlers: ResourceEventHandlers<T>, opts: { resyncPeriodMs?: number } = {}): HandlerRegistration {
    const l: Listener<T> = { handlers, resyncPeriodMs: opts.resyncPeriodMs ?? this.opts.resyncPeriodMs ?? 0 };
    this.listeners.add(l);
    if (this.synced) for (const o of [...this.indexer.values()]) this.call(l, 'onAdd', () => handlers.onAdd?.(o, true));
    if (this.running && !this.running.aborted) this.startResync(l);
    return {
      remove: () => {
        if (l.timer) clearInterval(l.timer);
        this.listeners.delete(l);
      },
    };
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** True once the first list has filled the cache; false if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = () => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== done);
        resolve(false);
      };
      const done = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(true);
      };
      this.syncWaiters.push(done);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The resourceVersion the cache reflects ('' before the first list). */
  lastSyncResourceVersion(): string {
    return this.rv;
  }

  /** Starts list+watch in the background until `signal` aborts. Starting twice is a no-op. */
  start(signal: AbortSignal): void {
    if (this.stopped) return;
    this.stopped = this.run(signal).catch((e) => this.log('informer stopped on an error', { resource: this.ref.resource, error: String(e) }));
  }

  /** Resolves once a started informer has stopped. */
  async done(): Promise<void> {
    await this.stopped;
  }

  private async run(signal: AbortSignal): Promise<void> {
    this.running = signal;
    for (const l of this.listeners) this.startResync(l);
    signal.addEventListener('abort', () => {
      for (const l of this.listeners) if (l.timer) clearInterval(l.timer);
    }, { once: true });
    const backoff = new Backoff(this.opts.minBackoffMs ?? 800, this.opts.maxBackoffMs ?? 30_000);
    let needList = true;
    while (!signal.aborted) {
      let phase: 'list' | 'watch' = needList ? 'list' : 'watch';
      try {
        if (needList) {
          await this.relist(signal);
          needList = false;
        }
        phase = 'watch';
        const started = Date.now();
        const outcome = await this.watchOnce(signal);
        if (outcome === 'expired') {
          this.log('watch expired; relisting', { resource: this.ref.resource, resourceVersion: this.rv });
          needList = true;
          continue;
        }
        if (outcome === 'events') backoff.reset();
        // A stream that ends at once without an event (an apiserver shutting down) is not retried in a hot loop.
        else if (Date.now() - started < 1000) await sleep(backoff.next(), signal);
      } catch (e) {
        if (signal.aborted) break;
        if (isStatusError(e) && e.code === 410) {
          needList = true;
          continue;
        }
        this.log(`${phase} failed`, { resource: this.ref.resource, error: String((e as Error)?.message ?? e) });
        // A refused or broken connection resumes the watch; a Status from the server (403, 500...) relists.
        if (phase === 'watch' && isStatusError(e)) needList = true;
        await sleep(backoff.next(), signal);
      }
    }
    this.running = undefined;
  }

  /** Lists every page (a consistent snapshot) and replaces the cache with it. */
  private async relist(signal: AbortSignal): Promise<void> {
    const items: T[] = [];
    let cont: string | undefined;
    let rv = '';
    let kind: string | undefined;
    do {
      const page = await this.client.list<T>(this.ref, this.namespace, {
        labelSelector: this.labelSelector,
        fieldSelector: this.fieldSelector,
        limit: this.opts.pageSize ?? 500,
        continue: cont,
        signal,
      });
      for (const o of page.items) items.push(o);
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? rv;
      if (page.kind?.endsWith('List')) kind = page.kind.slice(0, -'List'.length);
    } while (cont && !signal.aborted);
    if (signal.aborted) return;
    // Items of a list carry no kind; the watch's objects do. Give them the same shape.
    const apiVersion = this.ref.group ? `${this.ref.group}/${this.ref.version}` : this.ref.version;
    const transform = this.opts.transform;
    for (let i = 0; i < items.length; i++) {
      const o = items[i];
      if (o.apiVersion === undefined) o.apiVersion = apiVersion;
      if (o.kind === undefined && kind) o.kind = kind;
      if (transform) items[i] = transform(o);
    }
    this.replace(items, rv);
  }

  private replace(items: T[], rv: string): void {
    const initial = !this.synced;
    const seen = new Set<string>();
    for (const o of items) {
      const key = keyOf(o);
      seen.add(key);
      const old = this.indexer.upsert(o);
      if (!old) this.notify('onAdd', (h) => h.onAdd?.(o, initial));
      else if (old.metadata.resourceVersion !== o.metadata.resourceVersion) this.notify('onUpdate', (h) => h.onUpdate?.(old, o));
    }
    for (const key of this.indexer.keys()) {
      if (seen.has(key)) continue;
      const old = this.indexer.delete(key)!;
      this.notify('onDelete', (h) => h.onDelete?.(old, { finalStateUnknown: true }));
    }
    this.rv = rv;
    if (!this.synced) {
      this.synced = true;
      const waiters = this.syncWaiters;
      this.syncWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** One watch from the last resourceVersion. 'expired' asks for a relist. */
  private async watchOnce(signal: AbortSignal): Promise<'expired' | 'events' | 'empty'> {
    let any = false;
    const timeoutSeconds = Math.floor(MIN_WATCH_TIMEOUT_S * (1 + Math.random()));
    for await (const ev of this.client.watch<T>(this.ref, this.namespace, {
      labelSelector: this.labelSelector,
      fieldSelector: this.fieldSelector,
      resourceVersion: this.rv,
      allowWatchBookmarks: true,
      timeoutSeconds,
      signal,
    })) {
      if (signal.aborted) break;
      if (ev.type === 'ERROR') {
        const status = ev.object as unknown as Partial<Status>;
        if (status?.code === 410) return 'expired';
        throw new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', ...status, code: status?.code || 500 });
      }
      any = true;
      this.apply(ev);
    }
    return any ? 'events' : 'empty';
  }

  private apply(ev: WatchEvent<T>): void {
    const o = this.opts.transform && ev.type !== 'BOOKMARK' ? this.opts.transform(ev.object) : ev.object;
    const rv = o.metadata?.resourceVersion;
    switch (ev.type) {
      case 'ADDED':
      case 'MODIFIED': {
        const old = this.indexer.upsert(o);
        if (old) this.notify('onUpdate', (h) => h.onUpdate?.(old, o));
        else this.notify('onAdd', (h) => h.onAdd?.(o, false));
        break;
      }
      case 'DELETED': {
        // The event's object is the final state.
        this.indexer.delete(keyOf(o));
        this.notify('onDelete', (h) => h.onDelete?.(o, { finalStateUnknown: false }));
        break;
      }
      case 'BOOKMARK':
        break;
    }
    if (rv) this.rv = rv;
  }

  private startResync(l: Listener<T>): void {
    if (l.resyncPeriodMs <= 0 || l.timer) return;
    l.timer = setInterval(() => {
      if (!this.synced) return;
      for (const o of [...this.indexer.values()]) this.call(l, 'onUpdate', () => l.handlers.onUpdate?.(o, o));
    }, l.resyncPeriodMs);
    l.timer.unref();
  }

  private notify(what: string, fn: (h: ResourceEventHandlers<T>) => void): void {
    for (const l of this.listeners) this.call(l, what, () => fn(l.handlers));
  }

  private call(_l: Listener<T>, what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log('event handler failed', { resource: this.ref.resource, handler: what, error: String((e as Error)?.stack ?? e) });
    }
  }
}
