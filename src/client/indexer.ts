// The informer's local cache, as client-go's cache.Indexer: objects by `namespace/name`
// key, plus indexes from an index name and value to the keys of the objects that
// produce that value. Two indexes are always there: by namespace and by label
// (`key=value`), so listers answer `list(ns, selector)` without scanning everything.
// Objects handed out are the cache's own: treat them as read-only.

import type { KObject } from '../api/object.ts';
import { parseLabelSelector, type LabelSelector } from '../api/selectors.ts';
import { keyOf } from './util.ts';

/** The values `obj` is filed under in one index. */
export type IndexFunc<T extends KObject = KObject> = (obj: T) => string[];

export const NAMESPACE_INDEX = 'namespace';
/** Values are `labelKey=labelValue`. */
export const LABEL_INDEX = 'label';

export const namespaceIndexFunc: IndexFunc = (o) => [o.metadata.namespace ?? ''];
export const labelIndexFunc: IndexFunc = (o) => Object.entries(o.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`);

/** Read access to a cache, as client-go's listers. */
export interface Lister<T extends KObject = KObject> {
  /** The object `name` in `namespace` (undefined for cluster-scoped resources). */
  get(namespace: string | undefined, name: string): T | undefined;
  /** Objects in `namespace` (all when undefined) matching `labelSelector` (a string as in `?labelSelector=` or a parsed one). */
  list(namespace?: string, labelSelector?: string | LabelSelector): T[];
  /** Objects filed under `value` in the index `indexName`. */
  byIndex(indexName: string, value: string): T[];
  /** Every key (`namespace/name` or `name`). */
  keys(): string[];
}

export class Indexer<T extends KObject = KObject> implements Lister<T> {
  private readonly items = new Map<string, T>();
  private readonly funcs = new Map<string, IndexFunc<T>>();
  /** index name → value → keys */
  private readonly indices = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Record<string, IndexFunc<T>> = {}) {
    this.addIndexers({ [NAMESPACE_INDEX]: namespaceIndexFunc as IndexFunc<T>, [LABEL_INDEX]: labelIndexFunc as IndexFunc<T>, ...indexers });
  }

  /** Adds indexes; objects already cached are filed at once. Re-adding a name with another function is refused. */
  addIndexers(indexers: Record<string, IndexFunc<T>>): void {
    for (const [name, fn] of Object.entries(indexers)) {
      const existing = this.funcs.get(name);
      if (existing === fn) continue;
      if (existing) throw new Error(`index ${JSON.stringify(name)} already exists`);
      this.funcs.set(name, fn);
      const index = new Map<string, Set<string>>();
      this.indices.set(name, index);
      for (const [key, obj] of this.items) for (const v of fn(obj)) addTo(index, v, key);
    }
  }

  get size(): number {
    return this.items.size;
  }

  getByKey(key: string): T | undefined {
    return this.items.get(key);
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.items.get(namespace ? `${namespace}/${name}` : name);
  }

  keys(): string[] {
    return [...this.items.keys()];
  }

  values(): IterableIterator<T> {
    return this.items.values();
  }

  list(namespace?: string, labelSelector?: string | LabelSelector): T[] {
    const sel = typeof labelSelector === 'string' ? (labelSelector ? parseLabelSelector(labelSelector) : undefined) : labelSelector;
    if (sel?.nothing) return [];
    // Narrow by the smaller of the namespace bucket and one exact label requirement's bucket.
    let candidates: Iterable<string> | undefined;
    if (namespace !== undefined) candidates = this.indices.get(NAMESPACE_INDEX)!.get(namespace) ?? new Set();
    if (sel && !sel.empty) {
      for (const r of sel.requirements) {
        const v = sel.requiresExactMatch(r.key);
        if (v === undefined) continue;
        const bucket = this.indices.get(LABEL_INDEX)!.get(`${r.key}=${v}`) ?? new Set<string>();
        if (candidates === undefined || bucket.size < (candidates as Set<string>).size) candidates = bucket;
        break;
      }
    }
    const out: T[] = [];
    const consider = (o: T | undefined) => {
      if (!o) return;
      if (namespace !== undefined && (o.metadata.namespace ?? '') !== namespace) return;
      if (sel && !sel.empty && !sel.matches(o.metadata.labels)) return;
      out.push(o);
    };
    if (candidates === undefined) for (const o of this.items.values()) consider(o);
    else for (const k of candidates) consider(this.items.get(k));
    return out;
  }

  byIndex(indexName: string, value: string): T[] {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`index ${JSON.stringify(indexName)} does not exist`);
    return [...(index.get(value) ?? [])].map((k) => this.items.get(k)!);
  }

  /** Index values known for `indexName` (e.g. every namespace with objects). */
  indexValues(indexName: string): string[] {
    const index = this.indices.get(indexName);
    if (!index) throw new Error(`index ${JSON.stringify(indexName)} does not exist`);
    return [...index.keys()];
  }

  /** Stores `obj` under its key; returns what was there before. */
  upsert(obj: T): T | undefined {
    const key = keyOf(obj);
    const old = this.items.get(key);
    this.items.set(key, obj);
    for (const [name, fn] of this.funcs) {
      const index = this.indices.get(name)!;
      const now = fn(obj);
      if (old) {
        const before = fn(old);
        // Most updates (a status write, a lease renewal) file the object where it was.
        if (sameValues(before, now)) continue;
        for (const v of before) removeFrom(index, v, key);
      }
      for (const v of now) addTo(index, v, key);
    }
    return old;
  }

  /** Removes the object at `key`; returns it. */
  delete(key: string): T | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  private unindex(key: string, obj: T): void {
    for (const [name, fn] of this.funcs) {
      const index = this.indices.get(name)!;
      for (const v of fn(obj)) removeFrom(index, v, key);
    }
  }
}

function sameValues(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function removeFrom(index: Map<string, Set<string>>, value: string, key: string): void {
  const set = index.get(value);
  if (!set) return;
  set.delete(key);
  if (set.size === 0) index.delete(value);
}

function addTo(index: Map<string, Set<string>>, value: string, key: string): void {
  let set = index.get(value);
  if (!set) index.set(value, (set = new Set()));
  set.add(key);
}
