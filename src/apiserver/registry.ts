// The generic REST storage: create, get, list, watch, update, patch and delete for
// every resource in the table, on top of the Store (writes) and the WatchCache
// (reads). Per-resource behaviour (status reset, allocation, graceful deletion rules)
// comes from strategies.ts; this file holds what is common to all of them.

import { randomUUID } from 'node:crypto';
import type { KObject } from '../api/object.ts';
import { isObject } from '../api/object.ts';
import type { ResourceInfo } from '../api/resources.ts';
import { apiVersionOf } from '../api/resources.ts';
import {
  alreadyExists,
  badRequest,
  conflict,
  forbidden,
  gone,
  invalid,
  notFound,
  type FieldError,
  StatusError,
} from '../api/errors.ts';
import { validateObjectMetaFor, validateUpdateObjectMeta } from '../api/validation.ts';
import { applyDefaults } from '../api/defaults.ts';
import { decodeError, validateObject } from '../api/validation/index.ts';
import { recordUpdate } from './apply/fieldmanager.ts';
import type { Store, KeyValue } from '../storage/store.ts';
import { CompactedError } from '../storage/store.ts';
import { type CachedObject, decodeStored, dispatch, MATCH_ALL, type WatchCache, type Watcher } from './cache.ts';
import type { Strategy, StrategyContext } from './strategies.ts';
import { cloneObject } from './patch/values.ts';

export interface RequestContext {
  signal?: AbortSignal;
  dryRun?: boolean;
  user?: { name: string; groups: string[] };
  fieldManager?: string;
  /** Server-side apply computed managedFields itself: the registry records nothing. */
  applied?: boolean;
  /** The subresource a write came through, for managedFields (a /scale write is an object write otherwise). */
  managedFieldsSubresource?: string;
  /**
   * A write of the apiserver's own bootstrap objects, which upstream writes straight to
   * storage without the API's validation (the `kubernetes` Endpoints names the apiserver's
   * own, possibly loopback, address).
   */
  internal?: boolean;
}

export interface ListOptions {
  namespace?: string;
  matches?: (obj: KObject) => boolean;
  /** True when a label or field selector filters the list (no remainingItemCount then). */
  filtered?: boolean;
  limit?: number;
  continueToken?: string;
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface ListResult {
  items: CachedObject[];
  revision: number;
  continueToken?: string;
  remaining?: number;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  orphanDependents?: boolean;
  preconditions?: { uid?: string; resourceVersion?: string };
}

/** '' = the object; 'binding' = an internal write of spec and status together (pods/binding). */
export type Subresource = '' | 'status' | 'scale' | 'finalize' | 'binding';

const GENERATE_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

function generateSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += GENERATE_CHARS[Math.floor(Math.random() * GENERATE_CHARS.length)];
  return s;
}

let lastSecond = NaN;
let lastStamp = '';

/** Upstream's timestamps: RFC 3339 at second precision, UTC. */
export function nowTimestamp(ms = Date.now()): string {
  const second = Math.floor(ms / 1000);
  // Every write of the same second stamps the same text.
  if (second !== lastSecond) {
    lastStamp = new Date(second * 1000).toISOString().replace('.000Z', 'Z');
    lastSecond = second;
  }
  return lastStamp;
}

/** What goes into the store: the object without its resourceVersion (that is the row's revision). */
function encodeForStore(obj: KObject): string {
  const rv = obj.metadata.resourceVersion;
  delete obj.metadata.resourceVersion;
  const s = JSON.stringify(obj);
  if (rv !== undefined) obj.metadata.resourceVersion = rv;
  return s;
}

/**
 * True when the JSON encodings of `a` and `b` cannot be equal: some value differs, or a key
 * one has (with a defined value) the other lacks. Key order is not looked at, so false
 * means only "maybe equal". Stops at the first difference.
 */
function surelyDiffers(a: unknown, b: unknown): boolean {
  if (a === b) return false;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) {
    // undefined and functions vanish from JSON; anything else differs by value.
    return !(a === undefined && b === undefined);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return true;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return true;
    for (let i = 0; i < a.length; i++) if (surelyDiffers(a[i], bb[i])) return true;
    return false;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  for (const k in ao) {
    if (!Object.hasOwn(ao, k)) continue;
    const av = ao[k];
    if (av === undefined) continue;
    if (!Object.hasOwn(bo, k)) return true;
    if (surelyDiffers(av, bo[k])) return true;
  }
  for (const k in bo) if (Object.hasOwn(bo, k) && bo[k] !== undefined && !Object.hasOwn(ao, k)) return true;
  return false;
}

function specOf(obj: KObject): string {
  const { metadata: _m, status: _s, ...rest } = obj;
  return JSON.stringify(rest);
}

interface ContinueToken {
  rv: number;
  start: string;
}

export function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: t.rv, start: t.start })).toString('base64url');
}

function decodeContinue(s: string): ContinueToken {
  try {
    const t = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
    if (t.v !== 'meta.k8s.io/v1' || typeof t.rv !== 'number' || typeof t.start !== 'string') throw new Error('bad');
    return { rv: t.rv, start: t.start };
  } catch {
    throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
  }
}

const CONTINUE_EXPIRED =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

function parseRV(s: string | undefined, what = 'resourceVersion'): number | undefined {
  if (s === undefined || s === '') return undefined;
  if (!/^\d+$/.test(s)) throw badRequest(`invalid ${what}: ${JSON.stringify(s)}`);
  return Number(s);
}

export interface RegistryOptions {
  resources: ResourceInfo[];
  store: Store;
  cache: WatchCache;
  strategies: (info: ResourceInfo) => Strategy;
  now?: () => number;
}

export class Registry {
  readonly store: Store;
  readonly cache: WatchCache;
  private readonly strategies: (info: ResourceInfo) => Strategy;
  private readonly now: () => number;

  constructor(opts: RegistryOptions) {
    this.store = opts.store;
    this.cache = opts.cache;
    this.strategies = opts.strategies;
    this.now = opts.now ?? Date.now;
    for (const r of opts.resources) this.infos.set(`${r.group}/${r.plural}`, r);
  }

  keyFor(info: ResourceInfo, namespace: string | undefined, name: string): string {
    return info.namespaced ? `${info.storagePrefix}/${namespace}/${name}` : `${info.storagePrefix}/${name}`;
  }

  private prefixFor(info: ResourceInfo, namespace: string | undefined): string {
    return info.namespaced && namespace ? `${info.storagePrefix}/${namespace}/` : `${info.storagePrefix}/`;
  }

  private gr(info: ResourceInfo) {
    return { group: info.group, resource: info.plural };
  }

  // ---------------------------------------------------------------- reads

  async get(info: ResourceInfo, namespace: string | undefined, name: string, signal?: AbortSignal): Promise<CachedObject> {
    await this.cache.waitFresh(signal);
    const hit = this.cache.resource(info).items.get(this.keyFor(info, namespace, name));
    if (!hit) throw notFound(this.gr(info), name);
    return hit;
  }

  /** The current object straight from the cache, without waiting (internal callers). */
  peek(info: ResourceInfo, namespace: string | undefined, name: string): CachedObject | undefined {
    return this.cache.resource(info).items.get(this.keyFor(info, namespace, name));
  }

  async list(info: ResourceInfo, opts: ListOptions, signal?: AbortSignal): Promise<ListResult> {
    const matches = opts.matches ?? (() => true);
    const limit = opts.limit && opts.limit > 0 ? opts.limit : 0;
    const rv = parseRV(opts.resourceVersion);
    const match = opts.resourceVersionMatch;
    if (match && match !== 'NotOlderThan' && match !== 'Exact') {
      throw badRequest(`resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`);
    }
    if (match && opts.resourceVersion === undefined) {
      throw badRequest('resourceVersionMatch is forbidden unless resourceVersion is provided');
    }
    if (opts.continueToken) {
      if (opts.resourceVersion) throw badRequest('specifying resource version is not allowed when using continue');
      const t = decodeContinue(opts.continueToken);
      return this.listFromStore(info, opts, matches, limit, t.rv, t.start, true);
    }
    if (match === 'Exact' && rv !== undefined && rv > 0) {
      return this.listFromStore(info, opts, matches, limit, rv, '', false);
    }
    if (rv === undefined) await this.cache.waitFresh(signal);
    else if (rv > 0) {
      if (rv > this.cache.currentRevision + 0 && rv > (await this.store.currentRevision())) {
        throw new StatusError({
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: `Too large resource version: ${rv}, current: ${this.cache.currentRevision}`,
          reason: 'Timeout',
          details: { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 },
          code: 504,
        });
      }
      await this.cache.waitFor(rv, signal);
    }
    const rc = this.cache.resource(info);
    const revision = this.cache.currentRevision;
    const prefix = this.prefixFor(info, opts.namespace);
    const keys = rc.sortedKeys();
    let i = lowerBound(keys, prefix);
    const items: CachedObject[] = [];
    for (; i < keys.length; i++) {
      const k = keys[i];
      if (!k.startsWith(prefix)) break;
      const o = rc.items.get(k)!;
      if (matches !== MATCH_ALL && !matches(o.obj)) continue;
      if (limit && items.length === limit) {
        return this.pageResult(items, revision, keys, i, prefix, opts.filtered);
      }
      items.push(o);
    }
    return { items, revision };
  }

  private pageResult(
    items: CachedObject[],
    revision: number,
    keys: string[],
    nextIndex: number,
    prefix: string,
    filtered?: boolean,
  ): ListResult {
    const last = items[items.length - 1];
    const res: ListResult = {
      items,
      revision,
      continueToken: encodeContinue({ rv: revision, start: last.key + '\0' }),
    };
    if (!filtered) {
      let n = 0;
      for (let j = nextIndex; j < keys.length && keys[j].startsWith(prefix); j++) n++;
      res.remaining = n;
    }
    return res;
  }

  /** A consistent page at an older revision, read from the store. */
  private async listFromStore(
    info: ResourceInfo,
    opts: ListOptions,
    matches: (o: KObject) => boolean,
    limit: number,
    revision: number,
    startKey: string,
    isContinue: boolean,
  ): Promise<ListResult> {
    const prefix = this.prefixFor(info, opts.namespace);
    const items: CachedObject[] = [];
    let start = startKey && startKey > prefix ? startKey : undefined;
    for (;;) {
      let page;
      try {
        page = await this.store.range(prefix, { revision, startKey: start, limit: limit ? Math.max(limit, 100) : 0 });
      } catch (e) {
        if (e instanceof CompactedError) {
          throw isContinue ? gone(CONTINUE_EXPIRED) : gone(`too old resource version: ${revision} (${e.compactRevision})`);
        }
        throw e;
      }
      for (let i = 0; i < page.kvs.length; i++) {
        const o = decodeStored(page.kvs[i]);
        if (!matches(o.obj)) continue;
        if (limit && items.length === limit) {
          const res: ListResult = { items, revision, continueToken: encodeContinue({ rv: revision, start: items[items.length - 1].key + '\0' }) };
          if (!opts.filtered) res.remaining = page.kvs.length - i + page.remaining;
          return res;
        }
        items.push(o);
      }
      if (!page.more || page.kvs.length === 0) break;
      start = page.kvs[page.kvs.length - 1].key + '\0';
    }
    return { items, revision };
  }

  /**
   * Registers a watcher. Returns the events to replay first (synchronously computed
   * together with registration, so nothing falls between replay and live delivery).
   */
  watch(
    info: ResourceInfo,
    opts: { namespace?: string; matches: (o: KObject) => boolean; resourceVersion?: string; sendInitial: boolean },
    deliver: Watcher['deliver'],
  ): { initial: CachedObject[]; replay: () => void; cancel: () => void; revision: number } {
    const rc = this.cache.resource(info);
    const rv = parseRV(opts.resourceVersion);
    const from = rv === undefined || rv === 0 ? this.cache.currentRevision : rv;
    const backlog = rv !== undefined && rv > 0 ? rc.eventsAfter(rv) : [];
    const initial: CachedObject[] = [];
    if (opts.sendInitial) {
      const prefix = this.prefixFor(info, opts.namespace);
      for (const k of rc.sortedKeys()) {
        if (!k.startsWith(prefix)) continue;
        const o = rc.items.get(k)!;
        if (opts.matches === MATCH_ALL || opts.matches(o.obj)) initial.push(o);
      }
    }
    const w: Watcher = {
      afterRevision: backlog.length ? backlog[backlog.length - 1].revision : from,
      namespace: info.namespaced ? opts.namespace : undefined,
      matches: opts.matches,
      deliver,
    };
    rc.watchers.add(w);
    const replay = () => {
      const probe: Watcher = { ...w, afterRevision: from };
      for (const ev of backlog) dispatch(probe, ev);
    };
    return { initial, replay, cancel: () => rc.watchers.delete(w), revision: from };
  }

  // ---------------------------------------------------------------- writes

  private async checkNamespace(info: ResourceInfo, namespace: string | undefined, signal?: AbortSignal): Promise<void> {
    if (!info.namespaced || !namespace) return;
    const nsInfo = this.namespacesInfo();
    const ns = this.cache.resource(nsInfo).items.get(this.keyFor(nsInfo, undefined, namespace));
    if (!ns) {
      await this.cache.waitFresh(signal);
      if (!this.cache.resource(nsInfo).items.get(this.keyFor(nsInfo, undefined, namespace))) {
        throw notFound({ group: '', resource: 'namespaces' }, namespace);
      }
      return;
    }
    if (ns.obj.metadata.deletionTimestamp || ns.obj.status?.phase === 'Terminating') {
      const err = forbidden(
        this.gr(info),
        '',
        `unable to create new content in namespace ${namespace} because it is being terminated`,
      );
      err.status.details = { ...err.status.details, causes: [{ reason: 'NamespaceTerminating', message: `namespace ${namespace} is being terminated`, field: 'metadata.namespace' }] };
      throw err;
    }
  }

  namespacesInfo(): ResourceInfo {
    return this.findInfo('', 'namespaces');
  }

  private readonly infos = new Map<string, ResourceInfo>();
  findInfo(group: string, plural: string): ResourceInfo {
    const r = this.infos.get(`${group}/${plural}`);
    if (!r) throw new Error(`resource ${plural}.${group} not registered`);
    return r;
  }

  private strategyContext(info: ResourceInfo, ctx: RequestContext): StrategyContext {
    return { info, registry: this, now: this.now(), dryRun: !!ctx.dryRun, user: ctx.user };
  }

  private invalidOrThrow(info: ResourceInfo, name: string, errs: FieldError[]): void {
    if (errs.length) throw invalid({ group: info.group, kind: info.kind }, name, errs);
  }

  async create(info: ResourceInfo, namespace: string | undefined, input: KObject, ctx: RequestContext): Promise<KObject> {
    const obj = input;
    obj.apiVersion = apiVersionOf(info);
    obj.kind = info.kind;
    if (!isObject(obj.metadata)) obj.metadata = {};
    const meta = obj.metadata;
    if (info.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      meta.namespace = namespace ?? meta.namespace;
    } else {
      delete meta.namespace;
    }
    if (!meta.name && meta.generateName && typeof meta.generateName === 'string') {
      meta.name = meta.generateName.slice(0, 58) + generateSuffix();
    }
    // Fields the server owns.
    meta.uid = randomUUID();
    meta.creationTimestamp = nowTimestamp(this.now());
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.selfLink;
    if (info.generation) meta.generation = 1;
    else delete meta.generation;

    const strategy = this.strategies(info);
    const sctx = this.strategyContext(info, ctx);
    // Defaults as the decoder applies them, then the strategy (and admission), then
    // defaults again as upstream's read back from storage would.
    const gvk = { group: info.group, version: info.version, kind: info.kind };
    const undecodable = decodeError(gvk, obj);
    if (undecodable) throw badRequest(undecodable);
    applyDefaults(gvk, obj);
    if (!ctx.applied) {
      recordUpdate({
        gvk,
        next: obj,
        manager: ctx.fieldManager ?? '',
        now: nowTimestamp(this.now()),
        statusSubresource: info.subresources.includes('status'),
      });
    }
    strategy.prepareForCreate?.(obj, sctx);
    applyDefaults(gvk, obj);
    const errs = validateObjectMetaFor(this.gr(info), meta, { namespaced: info.namespaced });
    if (!ctx.internal) errs.push(...validateObject(gvk, obj));
    if (strategy.validate) errs.push(...strategy.validate(obj, sctx));
    this.invalidOrThrow(info, meta.name ?? '', errs);
    await this.checkNamespace(info, meta.namespace, ctx.signal);

    const release = strategy.allocate ? strategy.allocate(obj, sctx) : undefined;
    try {
      if (ctx.dryRun) return obj;
      const key = this.keyFor(info, meta.namespace, meta.name!);
      const res = await this.store.create(key, encodeForStore(obj));
      if (!res.ok) throw alreadyExists(this.gr(info), meta.name!);
      meta.resourceVersion = String(res.revision);
      await this.cache.waitFor(res.revision);
      return obj;
    } finally {
      release?.();
    }
  }

  /**
   * Read-modify-write with optimistic concurrency. `mutate` gets a private copy of the
   * current object and returns the desired one. When the caller did not pin a
   * resourceVersion, a concurrent change is retried (as upstream's GuaranteedUpdate).
   */
  async update(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    mutate: (cur: KObject) => KObject | Promise<KObject>,
    ctx: RequestContext & { subresource?: Subresource; createIfMissing?: (name: string) => KObject | undefined },
  ): Promise<{ obj: KObject; created: boolean; json?: string }> {
    const key = this.keyFor(info, namespace, name);
    const strategy = this.strategies(info);
    const sctx = this.strategyContext(info, ctx);
    let current: CachedObject | undefined = this.cache.resource(info).items.get(key);
    for (let attempt = 0; attempt < 20; attempt++) {
      if (!current) {
        const fromStore = await this.store.get(key);
        if (fromStore.kv) current = decodeStored(fromStore.kv);
      }
      if (!current) {
        const fresh = ctx.createIfMissing?.(name);
        if (fresh && !ctx.subresource) {
          return { obj: await this.create(info, namespace, fresh, ctx), created: true };
        }
        throw notFound(this.gr(info), name);
      }
      const old = current.obj;
      // A mutate that declares no parameter (a PUT's `() => obj`) cannot read or change the
      // current object: it needs no private copy.
      const draft = await mutate(mutate.length === 0 ? old : cloneObject(old));
      const pinned = draft.metadata?.resourceVersion;
      if (pinned !== undefined && pinned !== '' && pinned !== old.metadata.resourceVersion) {
        throw conflict(this.gr(info), name);
      }
      // An unconditional update applies to the version just read.
      if (isObject(draft.metadata)) draft.metadata.resourceVersion = old.metadata.resourceVersion;
      const next = this.prepareUpdate(info, strategy, sctx, draft, old, ctx.subresource ?? '', ctx);
      // surelyDiffers is the cheap answer for the common case (a heartbeat changed a
      // timestamp); when it finds no difference the serialized forms decide, as before.
      if (!surelyDiffers(next, old) && specOf(next) === specOf(old) && JSON.stringify(next.metadata) === JSON.stringify(old.metadata) && JSON.stringify(next.status) === JSON.stringify(old.status)) {
        // A no-op write keeps the resourceVersion, as upstream.
        return { obj: old, created: false };
      }
      if (ctx.dryRun) return { obj: next, created: false };
      // Finalizers cleared on an object being deleted: the update completes the delete.
      if (next.metadata.deletionTimestamp && !next.metadata.finalizers?.length && !strategy.holdsDeletion?.(next)) {
        const del = await this.store.delete(key, current.modRevision);
        if (!del.ok) {
          current = del.current ? decodeStored(del.current) : undefined;
          if (pinned) throw conflict(this.gr(info), name);
          continue;
        }
        await this.cache.waitFor(del.revision);
        next.metadata.resourceVersion = String(del.revision);
        return { obj: next, created: false };
      }
      const res = await this.store.update(key, encodeForStore(next), current.modRevision);
      if (!res.ok) {
        if (pinned) throw conflict(this.gr(info), name);
        current = res.current ? decodeStored(res.current) : undefined;
        if (!current) throw notFound(this.gr(info), name);
        continue;
      }
      next.metadata.resourceVersion = String(res.revision);
      await this.cache.waitFor(res.revision);
      // The watch cache serialized this very revision already (the same text JSON.stringify
      // gives for `next`): answers reuse it.
      const cached = this.cache.resource(info).items.get(key);
      return { obj: next, created: false, json: cached?.modRevision === res.revision ? cached.json : undefined };
    }
    throw conflict(this.gr(info), name);
  }

  private prepareUpdate(
    info: ResourceInfo,
    strategy: Strategy,
    sctx: StrategyContext,
    draft: KObject,
    old: KObject,
    sub: Subresource,
    ctx: RequestContext = {},
  ): KObject {
    if (!isObject(draft) || !isObject(draft.metadata)) {
      throw invalid({ group: info.group, kind: info.kind }, old.metadata.name ?? '', [
        { type: 'FieldValueRequired', field: 'metadata', detail: '' },
      ]);
    }
    let next: KObject;
    const hasStatus = info.subresources.includes('status');
    const gvk = { group: info.group, version: info.version, kind: info.kind };
    const undecodable = decodeError(gvk, draft);
    if (undecodable) throw badRequest(undecodable);
    applyDefaults(gvk, draft);
    if (sub === 'status') {
      // A write to /status changes status only (and nothing else of the object).
      next = cloneObject(old);
      if (draft.status === undefined) delete next.status;
      else next.status = draft.status;
      // An apply to /status recorded its managedFields on the draft (ResetObjectMetaForStatus keeps them).
      if (ctx.applied) next.metadata.managedFields = draft.metadata.managedFields;
    } else {
      next = draft;
      next.apiVersion = apiVersionOf(info);
      next.kind = info.kind;
      if (hasStatus && sub !== 'finalize' && sub !== 'binding') {
        if (old.status === undefined) delete next.status;
        else next.status = cloneObject(old.status);
      }
      if (info.plural === 'namespaces' && info.group === '' && sub !== 'finalize') {
        next.spec = cloneObject(old.spec);
      }
    }
    const m = next.metadata;
    const om = old.metadata;
    // Server-owned metadata cannot be changed by a client.
    m.uid = om.uid;
    m.creationTimestamp = om.creationTimestamp;
    if (om.deletionTimestamp) m.deletionTimestamp = om.deletionTimestamp;
    else delete m.deletionTimestamp;
    if (om.deletionGracePeriodSeconds !== undefined) m.deletionGracePeriodSeconds = om.deletionGracePeriodSeconds;
    else delete m.deletionGracePeriodSeconds;
    delete m.selfLink;
    if (info.generation) {
      m.generation = om.generation ?? 1;
      if (sub === '' && specOf(next) !== specOf(old)) m.generation = (om.generation ?? 1) + 1;
    } else if (om.generation !== undefined) m.generation = om.generation;
    else delete m.generation;
    if (!ctx.applied && sub !== 'binding') {
      recordUpdate({
        gvk,
        old,
        next,
        manager: ctx.fieldManager ?? '',
        subresource: ctx.managedFieldsSubresource ?? sub,
        now: nowTimestamp(this.now()),
        statusSubresource: hasStatus,
      });
    }
    if (sub === '') strategy.prepareForUpdate?.(next, old, sctx);
    else if (sub === 'status') strategy.prepareForStatusUpdate?.(next, old, sctx);
    applyDefaults(gvk, next);
    const errs = validateUpdateObjectMeta(m, om);
    errs.push(...validateObjectMetaFor(this.gr(info), m, { namespaced: info.namespaced }));
    if (sub === '' && !ctx.internal) errs.push(...validateObject(gvk, next, old));
    if (sub === '' && strategy.validateUpdate) errs.push(...strategy.validateUpdate(next, old, sctx));
    if (sub === 'status' && strategy.validateStatusUpdate) errs.push(...strategy.validateStatusUpdate(next, old, sctx));
    this.invalidOrThrow(info, om.name ?? '', errs);
    return next;
  }

  /**
   * Delete with upstream's rules: preconditions, graceful deletion (pods on a node),
   * finalizers (the object stays with a deletionTimestamp until they are gone) and
   * propagation policy recorded as the orphan / foregroundDeletion finalizer.
   * Returns the object as of the delete, and whether it is gone now.
   */
  async delete(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions,
    ctx: RequestContext,
  ): Promise<{ obj: KObject; gone: boolean }> {
    const key = this.keyFor(info, namespace, name);
    const strategy = this.strategies(info);
    const sctx = this.strategyContext(info, ctx);
    let current: CachedObject | undefined = this.cache.resource(info).items.get(key);
    for (let attempt = 0; attempt < 20; attempt++) {
      if (!current) {
        const got = await this.store.get(key);
        if (!got.kv) throw notFound(this.gr(info), name);
        current = decodeStored(got.kv);
      }
      const obj = cloneObject(current.obj);
      const pre = opts.preconditions;
      if (pre?.uid && pre.uid !== obj.metadata.uid) {
        throw conflict(this.gr(info), name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${obj.metadata.uid}`);
      }
      if (pre?.resourceVersion && pre.resourceVersion !== obj.metadata.resourceVersion) {
        throw conflict(
          this.gr(info),
          name,
          `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${obj.metadata.resourceVersion}`,
        );
      }
      if (!obj.metadata.deletionTimestamp) strategy.beforeDelete?.(obj, sctx);
      const m = obj.metadata;
      let changed = false;
      // Propagation policy becomes a finalizer the garbage collector acts on.
      const policy = opts.propagationPolicy ?? (opts.orphanDependents ? 'Orphan' : undefined) ?? strategy.defaultPropagation;
      const finalizers = new Set(m.finalizers ?? []);
      if (policy === 'Orphan' && !m.deletionTimestamp) {
        if (!finalizers.has('orphan')) (finalizers.add('orphan'), (changed = true));
        if (finalizers.delete('foregroundDeletion')) changed = true;
      } else if (policy === 'Foreground' && !m.deletionTimestamp) {
        if (!finalizers.has('foregroundDeletion')) (finalizers.add('foregroundDeletion'), (changed = true));
        if (finalizers.delete('orphan')) changed = true;
      }
      if (changed) m.finalizers = [...finalizers];
      // Graceful deletion.
      const grace = strategy.gracePeriod ? strategy.gracePeriod(obj, opts.gracePeriodSeconds) : 0;
      const now = this.now();
      if (grace > 0) {
        const currentGrace = m.deletionGracePeriodSeconds;
        if (currentGrace === undefined || grace < currentGrace) {
          m.deletionGracePeriodSeconds = grace;
          m.deletionTimestamp = nowTimestamp(now + grace * 1000);
          changed = true;
        }
      } else if (m.finalizers?.length || strategy.finalizeOnDelete?.(obj, sctx)) {
        if (!m.deletionTimestamp) {
          m.deletionTimestamp = nowTimestamp(now);
          m.deletionGracePeriodSeconds = 0;
          changed = true;
        } else if (m.deletionGracePeriodSeconds === undefined || m.deletionGracePeriodSeconds > 0) {
          m.deletionGracePeriodSeconds = 0;
          changed = true;
        }
      }
      const stays = grace > 0 || !!m.finalizers?.length || !!strategy.finalizeOnDelete?.(obj, sctx);
      if (stays) {
        if (!changed) return { obj: current.obj, gone: false };
        strategy.prepareForDelete?.(obj, sctx);
        if (ctx.dryRun) return { obj, gone: false };
        const res = await this.store.update(key, encodeForStore(obj), current.modRevision);
        if (!res.ok) {
          current = res.current ? decodeStored(res.current) : undefined;
          if (!current) throw notFound(this.gr(info), name);
          continue;
        }
        obj.metadata.resourceVersion = String(res.revision);
        await this.cache.waitFor(res.revision);
        return { obj, gone: false };
      }
      if (ctx.dryRun) return { obj: current.obj, gone: true };
      const res = await this.store.delete(key, current.modRevision);
      if (!res.ok) {
        current = res.current ? decodeStored(res.current) : undefined;
        if (!current) throw notFound(this.gr(info), name);
        continue;
      }
      await this.cache.waitFor(res.revision);
      // Read once: a text-only cached object decodes afresh on every read.
      const last = current.obj;
      strategy.afterDelete?.(last, sctx);
      return { obj: last, gone: true };
    }
    throw conflict(this.gr(info), name);
  }

  /** Raw store access for bootstrap objects written before the API serves. */
  async rawGet(key: string): Promise<KeyValue | undefined> {
    return (await this.store.get(key)).kv;
  }
}

function lowerBound(keys: string[], prefix: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid] < prefix) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
