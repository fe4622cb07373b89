// The watch cache: every stored object kept in memory, per resource, fed by one store
// watch over /registry/. Lists, gets and watches are served from here; SQLite is only
// read at start, for continue pages (a consistent snapshot at an older revision) and
// for writes. One global revision orders everything, as in etcd.

import type { KObject } from '../api/object.ts';
import type { ResourceInfo } from '../api/resources.ts';
import { gone } from '../api/errors.ts';
import type { KeyValue, Store, WatchEvent } from '../storage/store.ts';
import { cloneObject } from './patch/values.ts';

export interface CachedObject {
  key: string;
  /** The object with metadata.resourceVersion set. Never mutated: copy before changing. */
  obj: KObject;
  /** JSON.stringify(obj), kept so lists and watch fan-out do not serialize again. */
  json: string;
  modRevision: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CacheEvent {
  type: WatchEventType;
  revision: number;
  cur: CachedObject;
  /** The object before this change (MODIFIED, DELETED). */
  prev?: CachedObject;
}

export interface Watcher {
  /** Only events after this revision are delivered. */
  afterRevision: number;
  namespace?: string;
  matches: (obj: KObject) => boolean;
  deliver: (type: WatchEventType, obj: CachedObject) => void;
}

/** How many past events each resource keeps for watches that resume from a resourceVersion. */
const EVENT_HISTORY = 10_000;

export function decodeStored(kv: KeyValue): CachedObject {
  const obj = JSON.parse(kv.value) as KObject;
  obj.metadata ??= {};
  obj.metadata.resourceVersion = String(kv.modRevision);
  return { key: kv.key, obj, json: JSON.stringify(obj), modRevision: kv.modRevision };
}

/**
 * Resources whose cached objects are kept as their JSON text alone (TextObject). Every
 * node renews its Lease every 10 s and nothing in the server reads a lease but the next
 * write to it: a decoded copy of each would be a long-lived object graph replaced every
 * 10 s, which the garbage collector would promote and then trace for nothing. A Node is
 * read by the server only on its own writes (a status report every 5 minutes), by
 * selectors and when listed as a table; decoded, each is some 140 objects (conditions,
 * images, managedFields) that every full collection traces again: 1,000 nodes make one
 * in six objects of an otherwise idle server.
 */
const TEXT_ONLY = new Set(['coordination.k8s.io/leases', '/nodes']);

/**
 * A cached object kept as text: `obj` parses the text on every read and keeps nothing, so
 * a reader gets a private copy and no decoded graph outlives the request that read it.
 */
class TextObject implements CachedObject {
  readonly key: string;
  readonly json: string;
  readonly modRevision: number;
  /** The namespace segment of the key (namespaced resources), so watch dispatch need not parse. */
  readonly namespace: string | undefined;

  constructor(key: string, json: string, modRevision: number, namespace: string | undefined) {
    this.key = key;
    this.json = json;
    this.modRevision = modRevision;
    this.namespace = namespace;
  }

  get obj(): KObject {
    return JSON.parse(this.json) as KObject;
  }
}

/**
 * decodeStored for a text-only resource: the JSON decodeStored would give, made from the
 * stored text without decoding it. Stored text is JSON.stringify of the object without its
 * resourceVersion, and decodeStored appends the resourceVersion as metadata's last key;
 * inserting it there in the text gives the same string. Falls back to decodeStored for
 * text of another shape.
 */
function decodeStoredText(kv: KeyValue, prefix: string, namespaced: boolean): CachedObject {
  const end = metadataEnd(kv.value);
  if (end < 0) return decodeStored(kv);
  const text = kv.value;
  const rv = `"resourceVersion":"${kv.modRevision}"`;
  const json = flattened(text.slice(0, end) + (text.charCodeAt(end - 1) === 0x7b /* { */ ? rv : ',' + rv) + text.slice(end));
  let namespace: string | undefined;
  if (namespaced) {
    const from = prefix.length + 1;
    const slash = kv.key.indexOf('/', from);
    namespace = slash > 0 ? kv.key.slice(from, slash) : undefined;
  }
  return new TextObject(kv.key, json, kv.modRevision, namespace);
}

const NUL = /\u0000/;

/**
 * `s` as one contiguous string. A string made by slicing and joining is a tree of pieces
 * that keeps all of its source text alive until its first full read copies it into one;
 * for cached text, which outlives its request by seconds to minutes, that would be two
 * long-lived copies of each object (the source, then the copy the first later read makes).
 * Made contiguous now, the source dies young. V8 flattens a string a regular expression
 * runs on (a search for a NUL byte, which JSON text never holds unescaped).
 */
function flattened(s: string): string {
  NUL.test(s);
  return s;
}

/**
 * The index of the '}' that closes the top-level "metadata" object of compact JSON text,
 * or -1 when there is none or it already has a resourceVersion.
 */
export function metadataEnd(text: string): number {
  const n = text.length;
  if (text.charCodeAt(0) !== 0x7b) return -1;
  let depth = 0;
  let metaStart = -1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
      // A key directly inside the top-level object, or directly inside metadata.
      if (text.charCodeAt(i + 1) === 0x3a /* : */) {
        if (depth === 1 && metaStart < 0 && i - start === 9 && text.startsWith('"metadata"', start)) {
          if (text.charCodeAt(i + 2) !== 0x7b) return -1;
          metaStart = i + 2;
        } else if (depth === 2 && metaStart >= 0 && i - start === 16 && text.startsWith('"resourceVersion"', start)) {
          return -1;
        }
      }
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (depth === 1 && metaStart >= 0) return c === 0x7d ? i : -1;
    }
  }
  return -1;
}

/** A watcher's `matches` for a watch without selectors: dispatch then need not read the object. */
export const MATCH_ALL = (_o: KObject): boolean => true;

/**
 * An object as the event history keeps it: its JSON text, parsed again only when a resumed
 * watch replays it. Thousands of past versions held as decoded objects would be thousands
 * of long-lived object graphs for the garbage collector to trace over and over (a
 * heartbeat's lease outlives its next renewal by the whole history); as text, each is one
 * string. The parse gives the same object: the text is JSON.stringify of it.
 */
class HistoryObject implements CachedObject {
  readonly key: string;
  readonly json: string;
  readonly modRevision: number;
  #obj: KObject | undefined;

  constructor(c: CachedObject) {
    this.key = c.key;
    this.json = c.json;
    this.modRevision = c.modRevision;
  }

  get obj(): KObject {
    return (this.#obj ??= JSON.parse(this.json) as KObject);
  }
}

/** `c` as the history keeps it: text-only objects are kept as they are (they hold no decoded graph). */
function historyObject(c: CachedObject): CachedObject {
  return c instanceof TextObject ? c : new HistoryObject(c);
}

export class ResourceCache {
  /** The resource first registered for this storage prefix (shared by versions and views). */
  info: ResourceInfo;
  readonly items = new Map<string, CachedObject>();
  private sorted: string[] | undefined;
  // Ring of recent events in revision order.
  private readonly ring: (CacheEvent | undefined)[] = new Array(EVENT_HISTORY);
  private ringStart = 0;
  private ringLen = 0;
  /** Events at or before this revision may be missing from the ring. */
  private historyFloor: number;
  readonly watchers = new Set<Watcher>();

  /** Objects kept as text alone (see TEXT_ONLY). */
  private readonly textOnly: boolean;

  constructor(info: ResourceInfo, startRevision: number) {
    this.info = info;
    this.historyFloor = startRevision;
    this.textOnly = TEXT_ONLY.has(`${info.group}/${info.plural}`);
  }

  /** The cached form of a stored object of this resource. */
  decode(kv: KeyValue): CachedObject {
    return this.textOnly ? decodeStoredText(kv, this.info.storagePrefix, this.info.namespaced) : decodeStored(kv);
  }

  /** Keys in sorted order (the order lists and continue tokens use). */
  sortedKeys(): string[] {
    if (!this.sorted) this.sorted = [...this.items.keys()].sort();
    return this.sorted;
  }

  apply(ev: CacheEvent): void {
    if (ev.type === 'DELETED') {
      this.items.delete(ev.cur.key);
      this.sorted = undefined;
    } else {
      if (!this.items.has(ev.cur.key)) this.sorted = undefined;
      this.items.set(ev.cur.key, ev.cur);
    }
    // The history keeps each object as its JSON text only (see HistoryObject).
    const kept: CacheEvent = { type: ev.type, revision: ev.revision, cur: historyObject(ev.cur), prev: ev.prev && historyObject(ev.prev) };
    if (this.ringLen === EVENT_HISTORY) {
      this.historyFloor = this.ring[this.ringStart]!.revision;
      this.ring[this.ringStart] = kept;
      this.ringStart = (this.ringStart + 1) % EVENT_HISTORY;
    } else {
      this.ring[(this.ringStart + this.ringLen) % EVENT_HISTORY] = kept;
      this.ringLen++;
    }
    for (const w of this.watchers) dispatch(w, ev);
  }

  /** Events with revision > after, or a 410 when that history is gone. */
  eventsAfter(after: number): CacheEvent[] {
    if (after < this.historyFloor) {
      throw gone(`too old resource version: ${after} (${this.historyFloor})`);
    }
    const out: CacheEvent[] = [];
    // Binary search for the first event with revision > after.
    let lo = 0;
    let hi = this.ringLen;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ring[(this.ringStart + mid) % EVENT_HISTORY]!.revision <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.ringLen; i++) out.push(this.ring[(this.ringStart + i) % EVENT_HISTORY]!);
    return out;
  }
}

/** Upstream's filtered-watch rule: moving into the filter is ADDED, out of it DELETED. */
export function dispatch(w: Watcher, ev: CacheEvent): void {
  if (ev.revision <= w.afterRevision) return;
  const ns = w.namespace;
  if (ns !== undefined && (ev.cur instanceof TextObject ? ev.cur.namespace : ev.cur.obj.metadata.namespace) !== ns) return;
  const all = w.matches === MATCH_ALL;
  const now = all || w.matches(ev.cur.obj);
  if (ev.type === 'ADDED') {
    if (now) w.deliver('ADDED', ev.cur);
    return;
  }
  if (ev.type === 'DELETED') {
    if (ev.prev && !all ? w.matches(ev.prev.obj) : now) w.deliver('DELETED', ev.cur);
    return;
  }
  const before = ev.prev && !all ? w.matches(ev.prev.obj) : now;
  if (now && before) w.deliver('MODIFIED', ev.cur);
  else if (now) w.deliver('ADDED', ev.cur);
  else if (before) w.deliver('DELETED', ev.cur);
}

export class WatchCache {
  private readonly store: Store;
  private readonly byPrefix = new Map<string, ResourceCache>();
  private readonly resources: ResourceInfo[];
  private revision = 0;
  private readonly waiters: { rev: number; resolve: () => void }[] = [];
  private readonly abort = new AbortController();

  constructor(store: Store, resources: ResourceInfo[]) {
    this.store = store;
    this.resources = resources;
  }

  /** The latest revision applied to the cache. */
  get currentRevision(): number {
    return this.revision;
  }

  async start(): Promise<void> {
    const rev = await this.store.currentRevision();
    this.revision = rev;
    for (const r of this.resources) if (!this.byPrefix.has(r.storagePrefix)) this.byPrefix.set(r.storagePrefix, new ResourceCache(r, rev));
    // Load everything at one revision, page by page.
    let startKey: string | undefined;
    for (;;) {
      const page = await this.store.range('/registry/', { revision: rev, limit: 5000, startKey });
      for (const kv of page.kvs) {
        const rc = this.cacheForKey(kv.key);
        if (rc) rc.items.set(kv.key, rc.decode(kv));
      }
      if (!page.more || page.kvs.length === 0) break;
      startKey = page.kvs[page.kvs.length - 1].key + '\0';
    }
    await this.store.watch('/registry/', { afterRevision: rev, signal: this.abort.signal }, (events) =>
      this.onStoreEvents(events),
    );
  }

  stop(): void {
    this.abort.abort();
  }

  resource(info: ResourceInfo): ResourceCache {
    const rc = this.byPrefix.get(info.storagePrefix);
    if (!rc) throw new Error(`no cache for ${info.storagePrefix}`);
    return rc;
  }

  /** The cache for a resource served from now on (custom resources), created if new. */
  ensureResource(info: ResourceInfo): ResourceCache {
    let rc = this.byPrefix.get(info.storagePrefix);
    if (!rc) this.byPrefix.set(info.storagePrefix, (rc = new ResourceCache(info, this.revision)));
    return rc;
  }

  private cacheForKey(key: string): ResourceCache | undefined {
    // /registry/<plural>/... or /registry/<group>/<plural>/...
    const third = key.indexOf('/', 10);
    if (third < 0) return undefined;
    const fourth = key.indexOf('/', third + 1);
    if (fourth > 0) {
      const rc = this.byPrefix.get(key.slice(0, fourth));
      if (rc) return rc;
    }
    const rc = this.byPrefix.get(key.slice(0, third));
    if (rc || fourth < 0) return rc;
    // Objects of custom resources (a group with a dot) are kept even before their
    // definition is served, so serving it later needs no reload from the store.
    const groupSeg = key.slice(10, third);
    if (!groupSeg.includes('.')) return undefined;
    const prefix = key.slice(0, fourth);
    const placeholder: ResourceInfo = {
      group: groupSeg,
      version: '',
      plural: key.slice(third + 1, fourth),
      singular: '',
      kind: '',
      namespaced: false,
      shortNames: [],
      categories: [],
      subresources: [],
      verbs: [],
      generation: true,
      storagePrefix: prefix,
    };
    const created = new ResourceCache(placeholder, this.revision);
    this.byPrefix.set(prefix, created);
    return created;
  }

  private onStoreEvents(events: WatchEvent[]): void {
    for (const e of events) {
      const rc = this.cacheForKey(e.kv.key);
      const revision = e.kv.modRevision;
      if (rc) {
        const prev = rc.items.get(e.kv.key);
        if (e.type === 'PUT') {
          const cur = rc.decode(e.kv);
          rc.apply({ type: prev ? 'MODIFIED' : 'ADDED', revision, cur, prev });
        } else if (prev) {
          // A deleted object is reported with its last state and the delete's revision.
          const obj = cloneObject(prev.obj);
          obj.metadata.resourceVersion = String(revision);
          const cur: CachedObject = { key: prev.key, obj, json: JSON.stringify(obj), modRevision: revision };
          rc.apply({ type: 'DELETED', revision, cur, prev });
        }
      }
      if (revision > this.revision) this.revision = revision;
    }
    if (this.waiters.length) {
      for (let i = this.waiters.length - 1; i >= 0; i--) {
        if (this.waiters[i].rev <= this.revision) {
          this.waiters[i].resolve();
          this.waiters.splice(i, 1);
        }
      }
    }
  }

  /** Resolves once the cache has applied revision `rev` (read-your-writes). */
  waitFor(rev: number, signal?: AbortSignal): Promise<void> {
    if (rev <= this.revision) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const w = { rev, resolve };
      this.waiters.push(w);
      signal?.addEventListener('abort', () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      });
    });
  }

  /** Waits until the cache has seen everything the store has committed so far. */
  async waitFresh(signal?: AbortSignal): Promise<void> {
    const rev = await this.store.currentRevision();
    await this.waitFor(rev, signal);
  }
}
