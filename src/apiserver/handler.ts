// The API request handler: routing of /api and /apis paths onto the resource table,
// body decoding, verbs, subresources and response forms. Transport-independent: the
// HTTPS server and the in-process transport both call `handle`.

import { parse as parseYaml } from 'yaml';
import type { KObject } from '../api/object.ts';
import { isObject } from '../api/object.ts';
import type { ResourceInfo, ResourceTable } from '../api/resources.ts';
import { apiVersionOf, subresourceVerbs, type SubresourceName } from '../api/resources.ts';
import {
  badRequest,
  conflict,
  fieldErr,
  internalError,
  invalid,
  isStatusError,
  methodNotAllowed,
  methodNotSupported,
  notFound,
  notFoundPath,
  requestEntityTooLarge,
  type Status,
  StatusError,
  unsupportedMediaType,
} from '../api/errors.ts';
import { parseLabelSelector, labelSelectorFromAPI } from '../api/selectors.ts';
import { parseFieldSelectorFor, fieldsFor } from '../api/fieldselectors.ts';
import { decodeKubernetesProtobuf } from '../api/protobuf.ts';
import { checkFields as schemaCheck } from '../api/schema.ts';
import { duplicateFields } from '../api/duplicates.ts';
import { deleteReturnsObject } from '../api/generated/openapi-operations.ts';
import { applyPatch, patchTypeFromContentType } from './patch.ts';
import { defaultManager, patchOptionsError, serverSideApply } from './apply/fieldmanager.ts';
import { MATCH_ALL, type CachedObject } from './cache.ts';
import type { View } from './views.ts';
import type { TablePrinter } from '../api/printers.ts';
import { getPath, setPath } from './crd/structural.ts';

/** What the handler needs to know of custom resources (src/apiserver/crd). */
export interface CustomResourceHooks {
  isCustom(info: ResourceInfo): boolean;
  printer(info: ResourceInfo): TablePrinter | undefined;
  /** Fields the resource's schema would prune. */
  unknownFields(info: ResourceInfo, obj: KObject): string[];
  scalePaths(info: ResourceInfo): ScalePaths | undefined;
}

export interface ScalePaths {
  specReplicasPath: string;
  statusReplicasPath: string;
  labelSelectorPath?: string;
}
import type { DeleteOptions, Registry, RequestContext, Subresource } from './registry.ts';
import { nowTimestamp } from './registry.ts';
import { includeObjectPolicy, negotiate, partialMetadata, TableBuilder } from './tables.ts';

/** The largest request body accepted, as upstream (3 MiB). */
export const MAX_BODY = 3 * 1024 * 1024;

export interface ApiRequest {
  method: string;
  /** Path and query, e.g. /api/v1/namespaces/default/pods?limit=500 */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** Reads the body; rejects with a 413 Status when it is larger than `limit`. */
  body: (limit: number) => Promise<Buffer>;
  /**
   * The body as text, for transports that hold it as text (in-process): a JSON body is then
   * parsed without a round trip through bytes. Same limit and rejection as body().
   */
  text?: (limit: number) => Promise<string>;
  user?: { name: string; groups: string[]; uid?: string; extra?: Record<string, string[]> };
  signal: AbortSignal;
}

/** A create answered without storing anything (TokenRequest, SelfSubjectReview). */
export interface CreateHook {
  /** The kind the request body must be. */
  kind: { apiVersion: string; kind: string };
  create(obj: KObject, r: RouteInfo, req: ApiRequest): Promise<{ obj: KObject; warnings?: string[] }>;
}

export interface ApiResponse {
  writeHead(code: number, headers: Record<string, string>): void;
  /** Sends the headers now (streams: a watch must answer before its first event). */
  flushHeaders?(): void;
  write(chunk: string): boolean;
  end(chunk?: string): void;
}

export interface RouteInfo {
  verb: string;
  resource?: ResourceInfo;
  subresource?: string;
  namespace?: string;
  name?: string;
  /** The request's query, as route() saw it (handle() parses the URL only without it). */
  query?: Query;
}

function header(req: ApiRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

export function sendJSON(res: ApiResponse, code: number, body: unknown, extra: Record<string, string> = {}): void {
  const s = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', ...extra });
  res.end(s);
}

export function sendStatus(res: ApiResponse, err: StatusError): void {
  sendJSON(res, err.status.code, err.status);
}

function successStatus(details: Status['details']): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details, code: 200 };
}

/** Parses a request body as the Content-Type says. */
export function decodeBody(buf: Buffer, contentType: string | undefined): unknown {
  const ct = (contentType ?? 'application/json').split(';')[0].trim().toLowerCase();
  if (ct === 'application/vnd.kubernetes.protobuf') {
    try {
      const { apiVersion, kind, object } = decodeKubernetesProtobuf(buf);
      return { ...object, apiVersion, kind };
    } catch (e) {
      throw badRequest(`unable to decode protobuf body: ${(e as Error).message}`);
    }
  }
  const text = buf.toString('utf8');
  if (ct === 'application/yaml' || ct === 'application/apply-patch+yaml') {
    try {
      return parseYaml(text);
    } catch (e) {
      throw badRequest(`error converting YAML to JSON: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  if (isJSONMediaType(ct)) return parseJSONBody(text);
  throw unsupportedMediaType(ct);
}

function isJSONMediaType(ct: string): boolean {
  return ct === 'application/json' || ct === '' || ct.endsWith('+json');
}

function parseJSONBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(jsonSyntaxMessage(e as Error));
  }
}

/**
 * Duplicate keys of a JSON body. A body that is exactly what JSON.stringify makes of its
 * parsed value (what every JavaScript client sends) has none, since that text repeats no
 * key: one native stringify then stands in for the key-by-key scan.
 */
function duplicatesIn(text: string, parsed: unknown): string[] {
  if (text.length > 0 && text.charCodeAt(0) === 123 && JSON.stringify(parsed) === text) return [];
  return duplicateFields(text);
}

function jsonSyntaxMessage(e: Error): string {
  // Upstream's decoder says e.g. "couldn't get version/kind; json parse error: ...".
  return `couldn't get version/kind; json parse error: ${e.message}`;
}

interface Query {
  get(name: string): string | null;
  has(name: string): boolean;
}

function boolParam(q: Query, name: string): boolean {
  const v = q.get(name);
  return v === 'true' || v === '1';
}

function intParam(q: Query, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`invalid value for ${name}: ${JSON.stringify(v)}`);
  return Number(v);
}

export interface HandlerOptions {
  table: ResourceTable;
  registry: Registry;
  /** Answers for componentstatuses (read-only, computed). */
  componentStatuses: () => Promise<KObject[]>;
  /** Resources served as another shape of a stored resource (events.k8s.io Events, CRD versions). */
  views?: Map<ResourceInfo, View>;
  custom?: CustomResourceHooks;
  createHooks?: (r: RouteInfo) => CreateHook | undefined;
}

export class ApiHandler {
  private readonly table: ResourceTable;
  private readonly registry: Registry;
  private readonly componentStatuses: () => Promise<KObject[]>;
  private readonly views: Map<ResourceInfo, View>;
  private readonly custom: CustomResourceHooks | undefined;
  private readonly createHooks: HandlerOptions['createHooks'];

  constructor(opts: HandlerOptions) {
    this.custom = opts.custom;
    this.createHooks = opts.createHooks;
    this.table = opts.table;
    this.registry = opts.registry;
    this.componentStatuses = opts.componentStatuses;
    this.views = opts.views ?? new Map();
  }

  private tableBuilder(info: ResourceInfo, q: Query | undefined): TableBuilder {
    return new TableBuilder(info, includeObjectPolicy(q?.get('includeObject') ?? null), Date.now(), this.custom?.printer(info));
  }

  private scale(info: ResourceInfo, obj: KObject): KObject {
    return toScale(info, obj, this.custom?.scalePaths(this.storageOf(info)));
  }

  /** fieldValidation: Strict refuses unknown fields, Warn (the default) reports them, Ignore drops the check. */
  private checkFields(info: ResourceInfo, want: { apiVersion: string; kind: string }, obj: KObject, q: Query, duplicates: string[] = []): string[] {
    const storage = this.storageOf(info);
    if (this.custom?.isCustom(storage)) {
      const mode = fieldValidationMode(q);
      const [, v] = want.apiVersion.split('/');
      const unknown = mode === 'Ignore' ? [] : this.custom.unknownFields(storage, obj);
      return unknownFieldOutcome(mode, want.kind, v, unknown, duplicates);
    }
    return checkFields(info, want, obj, q, duplicates);
  }

  /** The resource whose storage serves `info` (itself, unless it is a view). */
  private storageOf(info: ResourceInfo): ResourceInfo {
    return this.views.get(info)?.storage ?? info;
  }

  /** A stored object in the shape `info` serves. */
  private present(info: ResourceInfo, obj: KObject): KObject {
    const v = this.views.get(info);
    return v ? v.fromStorage(obj) : obj;
  }

  private presentCached(info: ResourceInfo, c: CachedObject): CachedObject {
    const v = this.views.get(info);
    if (!v) return c;
    const obj = v.fromStorage(c.obj);
    return { ...c, obj, json: JSON.stringify(obj) };
  }

  private toStorage(info: ResourceInfo, obj: KObject): KObject {
    const v = this.views.get(info);
    return v ? v.toStorage(obj) : obj;
  }

  /**
   * Resolves /api/v1/... and /apis/g/v/... resource paths. Returns undefined for paths
   * that are not resource paths (the caller answers discovery and others).
   */
  route(method: string, path: string, q: Query): RouteInfo | StatusError | undefined {
    const parts = path.split('/').filter(Boolean);
    const segs = path.includes('%') ? parts.map(decodeURIComponent) : parts;
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs.length >= 3) {
      group = '';
      version = segs[1];
      rest = segs.slice(2);
    } else if (segs[0] === 'apis' && segs.length >= 4) {
      group = segs[1];
      version = segs[2];
      rest = segs.slice(3);
    } else {
      return undefined;
    }
    let watchPath = false;
    if (rest[0] === 'watch') {
      watchPath = true;
      rest = rest.slice(1);
    }
    let namespace: string | undefined;
    let plural: string;
    let name: string | undefined;
    let sub: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize') && group === '')) {
      namespace = rest[1];
      [plural, name, sub] = rest.slice(2);
      if (rest.length > 5) return notFoundPath();
    } else {
      [plural, name, sub] = rest;
      if (rest.length > 3) return notFoundPath();
    }
    const info = this.table.lookup(group, version, plural);
    if (!info) return notFoundPath();
    if (info.namespaced !== (namespace !== undefined) && !(info.namespaced && namespace === undefined && name === undefined)) {
      return notFoundPath();
    }
    if (sub !== undefined && !info.subresources.includes(sub as never)) return notFoundPath();
    const isWatch = watchPath || boolParam(q, 'watch');
    let verb: string;
    switch (method) {
      case 'GET':
      case 'HEAD':
        verb = name === undefined ? (isWatch ? 'watch' : 'list') : isWatch ? 'watch' : 'get';
        break;
      case 'POST':
        verb = 'create';
        if (name !== undefined && sub === undefined) return methodNotAllowed();
        break;
      case 'PUT':
        verb = 'update';
        break;
      case 'PATCH':
        verb = 'patch';
        break;
      case 'DELETE':
        verb = name === undefined ? 'deletecollection' : 'delete';
        break;
      default:
        return methodNotAllowed();
    }
    if ((verb === 'update' || verb === 'patch') && name === undefined) return methodNotAllowed();
    const verbs = sub ? subresourceVerbs(sub as SubresourceName) : info.verbs;
    if (!verbs.includes(verb) && !(verb === 'watch' && name !== undefined && info.verbs.includes('watch'))) {
      return methodNotSupported({ group: info.group, resource: info.plural }, verb);
    }
    return { verb, resource: info, subresource: sub, namespace, name, query: q };
  }

  async handle(req: ApiRequest, res: ApiResponse, route: RouteInfo): Promise<void> {
    const q = route.query ?? new URL(req.url, 'http://x').searchParams;
    const info = route.resource!;
    const ctx: RequestContext = {
      signal: req.signal,
      user: req.user,
      dryRun: parseDryRun(q),
      fieldManager: q.get('fieldManager') || defaultManager(header(req, 'user-agent')),
    };
    if (info.group === '' && info.plural === 'componentstatuses') {
      return this.componentStatusesRoute(req, res, route, q);
    }
    switch (route.verb) {
      case 'get':
        return this.get(req, res, route, q);
      case 'list':
        return this.list(req, res, route, q);
      case 'watch':
        return this.watch(req, res, route, q);
      case 'create':
        return this.create(req, res, route, q, ctx);
      case 'update':
        return this.update(req, res, route, q, ctx);
      case 'patch':
        return this.patch(req, res, route, q, ctx);
      case 'delete':
        return this.delete(req, res, route, q, ctx);
      case 'deletecollection':
        return this.deleteCollection(req, res, route, q, ctx);
    }
    throw methodNotAllowed();
  }

  // ------------------------------------------------------------- reads

  private respondObject(
    req: ApiRequest,
    res: ApiResponse,
    info: ResourceInfo,
    obj: KObject,
    code = 200,
    json?: string,
    q?: Query,
    warnings: string[] = [],
  ): void {
    const form = negotiate(header(req, 'accept'), false);
    if (this.views.has(info)) {
      obj = this.present(info, obj);
      json = undefined;
    }
    const extra: Record<string, string> = {};
    // RFC 7234 warning headers, which kubectl prints as `Warning: <text>`.
    if (warnings.length) extra.warning = warnings.map((w) => `299 - ${JSON.stringify(w)}`).join(', ');
    if (form === 'table') {
      const tb = this.tableBuilder(info, q);
      sendJSON(res, code, tb.table([obj], { resourceVersion: obj.metadata.resourceVersion }), extra);
    } else if (form === 'metadata') {
      sendJSON(res, code, partialMetadata(obj), extra);
    } else {
      sendJSON(res, code, json ?? obj, extra);
    }
  }

  private async get(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query): Promise<void> {
    const info = r.resource!;
    const cur = await this.registry.get(this.storageOf(info), r.namespace, r.name!, req.signal);
    if (r.subresource === 'scale') return sendJSON(res, 200, this.scale(info, cur.obj));
    if (r.subresource && r.subresource !== 'status') throw methodNotAllowed();
    // A plain read is answered with the cached text: a text-only object (a node, a lease) is not parsed for it.
    if (!this.views.has(info) && negotiate(header(req, 'accept'), false) === 'object') return sendJSON(res, 200, cur.json);
    this.respondObject(req, res, info, cur.obj, 200, cur.json, q);
  }

  private selectors(info: ResourceInfo, q: Query): { matches: (o: KObject) => boolean; filtered: boolean } {
    const ls = q.get('labelSelector');
    const fs = q.get('fieldSelector');
    const label = ls ? parseLabelSelector(ls) : undefined;
    const field = fs ? parseFieldSelectorFor(info.group, info.plural, fs) : undefined;
    const labelActive = label && !label.empty;
    const fieldActive = field && field.requirements.length > 0;
    if (!labelActive && !fieldActive) return { matches: MATCH_ALL, filtered: false };
    return {
      matches: (o) =>
        (!labelActive || label!.matches(o.metadata.labels)) &&
        (!fieldActive || field!.matches(fieldsFor(info.group, info.plural, this.present(info, o)))),
      filtered: true,
    };
  }

  private async list(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query): Promise<void> {
    const info = r.resource!;
    const sel = this.selectors(info, q);
    const result = await this.registry.list(
      this.storageOf(info),
      {
        namespace: r.namespace,
        matches: sel.matches,
        filtered: sel.filtered,
        limit: intParam(q, 'limit'),
        continueToken: q.get('continue') || undefined,
        resourceVersion: q.get('resourceVersion') ?? undefined,
        resourceVersionMatch: q.get('resourceVersionMatch') || undefined,
      },
      req.signal,
    );
    if (this.views.has(info)) result.items = result.items.map((c) => this.presentCached(info, c));
    const meta: Record<string, unknown> = { resourceVersion: String(result.revision) };
    if (result.continueToken) meta.continue = result.continueToken;
    if (result.remaining !== undefined) meta.remainingItemCount = result.remaining;
    const form = negotiate(header(req, 'accept'), true);
    if (form === 'table') {
      const tb = this.tableBuilder(info, q);
      return sendJSON(res, 200, tb.table(result.items.map((i) => i.obj), meta));
    }
    if (form === 'metadata') {
      return sendJSON(res, 200, {
        kind: 'PartialObjectMetadataList',
        apiVersion: 'meta.k8s.io/v1',
        metadata: meta,
        items: result.items.map((i) => partialMetadata(i.obj)),
      });
    }
    // Assembled from the cached JSON of each item: no re-serialization per list.
    const head = `{"kind":"${info.kind}List","apiVersion":"${apiVersionOf(info)}","metadata":${JSON.stringify(meta)},"items":[`;
    res.writeHead(200, { 'content-type': 'application/json' });
    let body = head;
    for (let i = 0; i < result.items.length; i++) {
      body += (i ? ',' : '') + result.items[i].json;
      if (body.length > 1 << 20) {
        res.write(body);
        body = '';
      }
    }
    res.end(body + ']}');
  }

  private async watch(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query): Promise<void> {
    const info = r.resource!;
    let sel = this.selectors(info, q);
    if (r.name !== undefined) {
      const name = r.name;
      const inner = sel.matches;
      sel = { matches: (o) => o.metadata.name === name && inner(o), filtered: true };
    }
    const form = negotiate(header(req, 'accept'), true);
    const tb = form === 'table' ? this.tableBuilder(info, q) : undefined;
    const rvParam = q.get('resourceVersion') ?? undefined;
    const bookmarks = boolParam(q, 'allowWatchBookmarks');
    const sendInitialEvents = q.get('sendInitialEvents');
    if (sendInitialEvents === 'true' && q.get('resourceVersionMatch') !== 'NotOlderThan') {
      throw invalid({ group: 'meta.k8s.io', kind: 'ListOptions' }, '', [
        fieldErr.forbidden('resourceVersionMatch', "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"),
      ]);
    }
    const sendInitial = sendInitialEvents === 'true' || (sendInitialEvents === null && (!rvParam || rvParam === '0'));
    if (!rvParam && sendInitialEvents === null) await this.registry.cache.waitFresh(req.signal);
    const timeoutSeconds = intParam(q, 'timeoutSeconds');

    let first = true;
    const line = (type: string, stored: CachedObject): string => {
      const c = this.presentCached(info, stored);
      if (!tb) return `{"type":"${type}","object":${c.json}}\n`;
      const obj = c.obj;
      const t = tb.table([obj], { resourceVersion: obj.metadata.resourceVersion }, first);
      first = false;
      return `{"type":"${type}","object":${JSON.stringify(t)}}\n`;
    };
    let lastRV = 0;
    let open = true;
    let pending: string[] | undefined = [];
    const deliver = (type: string, c: CachedObject) => {
      if (!open) return;
      lastRV = Math.max(lastRV, c.modRevision);
      const l = line(type, c);
      if (pending) pending.push(l);
      else if (!res.write(l) && (res as unknown as { writableLength?: number }).writableLength! > 64 << 20) {
        // A client that does not read is dropped rather than buffered without bound.
        finish();
      }
    };
    let w;
    try {
      w = this.registry.watch(this.storageOf(info), { namespace: r.namespace, matches: sel.matches, resourceVersion: rvParam, sendInitial }, deliver);
    } catch (e) {
      if (isStatusError(e) && e.code === 410) {
        // kubectl and informers expect the 410 as an ERROR event on a 200 stream.
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
        res.end(`{"type":"ERROR","object":${JSON.stringify(e.status)}}\n`);
        return;
      }
      throw e;
    }
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    res.writeHead(200, headers);
    res.flushHeaders?.();
    const buffered = pending;
    pending = undefined;
    for (const o of w.initial) res.write(line('ADDED', o));
    lastRV = Math.max(lastRV, w.revision);
    const bookmark = (initialEnd: boolean) => {
      const meta: Record<string, unknown> = { resourceVersion: String(Math.max(lastRV, this.registry.cache.currentRevision)) };
      if (initialEnd) meta.annotations = { 'k8s.io/initial-events-end': 'true' };
      const obj = tb
        ? { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: meta, columnDefinitions: null, rows: null }
        : { kind: info.kind, apiVersion: apiVersionOf(info), metadata: meta };
      res.write(`{"type":"BOOKMARK","object":${JSON.stringify(obj)}}\n`);
    };
    if (sendInitialEvents === 'true' && bookmarks) bookmark(true);
    w.replay();
    for (const l of buffered) res.write(l);

    let bookmarkTimer: NodeJS.Timeout | undefined;
    let finish = () => {};
    await new Promise<void>((resolve) => {
      const timers: NodeJS.Timeout[] = [];
      finish = () => {
        if (!open) return;
        open = false;
        w.cancel();
        for (const t of timers) clearTimeout(t);
        if (bookmarkTimer) clearInterval(bookmarkTimer);
        try {
          res.end();
        } catch {
          // The connection may already be gone.
        }
        resolve();
      };
      // Upstream closes watches without a timeout after a random 30-60 minutes.
      const seconds = timeoutSeconds !== undefined && timeoutSeconds > 0 ? timeoutSeconds : 1800 + Math.random() * 1800;
      timers.push(setTimeout(finish, seconds * 1000).unref());
      if (bookmarks) bookmarkTimer = setInterval(() => open && bookmark(false), 60_000).unref();
      req.signal.addEventListener('abort', finish);
      if (req.signal.aborted) finish();
    });
  }

  // ------------------------------------------------------------- writes

  private async readObject(req: ApiRequest, info: ResourceInfo, q: Query, expectKind?: { apiVersion: string; kind: string }): Promise<{ obj: KObject; warnings: string[] }> {
    const ct = (header(req, 'content-type') ?? 'application/json').split(';')[0].trim().toLowerCase();
    let text: string;
    let body: unknown;
    if (req.text && isJSONMediaType(ct)) {
      // A transport that holds the body as text (in-process) hands it over as it is.
      text = await req.text(MAX_BODY);
      body = parseJSONBody(text);
    } else {
      const buf = await req.body(MAX_BODY);
      body = decodeBody(buf, header(req, 'content-type'));
      text = buf.toString('utf8');
    }
    if (!isObject(body)) {
      throw badRequest(`Object '${'Kind'}' is missing in '${text.slice(0, 200)}'`);
    }
    const want = expectKind ?? { apiVersion: apiVersionOf(info), kind: info.kind };
    if (body.kind !== undefined && body.kind !== want.kind) {
      throw badRequest(`${want.kind} in version "${want.apiVersion.split('/').pop()}" cannot be handled as a ${want.kind}: the kind in the data (${body.kind}) does not match the expected kind (${want.kind})`);
    }
    if (body.apiVersion !== undefined && body.apiVersion !== want.apiVersion) {
      throw badRequest(`the API version in the data (${body.apiVersion}) does not match the expected API version (${want.apiVersion})`);
    }
    if (body.metadata !== undefined && !isObject(body.metadata)) {
      throw badRequest(`${want.kind} in version "${want.apiVersion.split('/').pop()}" cannot be handled as a ${want.kind}: json: cannot unmarshal ${typeof body.metadata} into Go struct field ${want.kind}.metadata of type v1.ObjectMeta`);
    }
    // JSON.parse keeps the last of duplicate keys; the strict decoder reports them.
    const duplicates = ct.endsWith('json') && fieldValidationMode(q) !== 'Ignore' ? duplicatesIn(text, body) : [];
    const warnings = this.checkFields(info, want, body as KObject, q, duplicates);
    return { obj: body as KObject, warnings };
  }

  private async create(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query, ctx: RequestContext): Promise<void> {
    const info = r.resource!;
    if (r.subresource === 'binding') return this.bind(req, res, r, q, ctx);
    if (r.subresource === 'eviction') return this.evict(req, res, r, q, ctx);
    const hook = this.createHooks?.(r);
    if (hook) {
      const { obj, warnings } = await this.readObject(req, info, q, hook.kind);
      const out = await hook.create(obj, r, req);
      const all = [...warnings, ...(out.warnings ?? [])];
      return sendJSON(res, 201, out.obj, all.length ? { warning: all.map((w) => `299 - ${JSON.stringify(w)}`).join(', ') } : {});
    }
    if (r.subresource) throw methodNotAllowed();
    const { obj, warnings } = await this.readObject(req, info, q);
    const created = await this.registry.create(this.storageOf(info), r.namespace, this.toStorage(info, obj), ctx);
    this.respondObject(req, res, info, created, 201, undefined, q, warnings);
  }

  /**
   * policy/v1 Eviction: deletes the pod unless a PodDisruptionBudget forbids it (429),
   * consuming one allowed disruption from the budget first, as upstream.
   */
  private async evict(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query, ctx: RequestContext): Promise<void> {
    const info = r.resource!;
    const { obj: eviction } = await this.readObject(req, info, q, { apiVersion: 'policy/v1', kind: 'Eviction' });
    if (eviction.metadata?.name && eviction.metadata.name !== r.name) {
      throw badRequest(`name in URL does not match name in Eviction object`);
    }
    const pod = (await this.registry.get(info, r.namespace, r.name!, req.signal)).obj;
    const deleteOptions = (isObject(eviction.deleteOptions) ? eviction.deleteOptions : {}) as DeleteOptions;
    const phase = pod.status?.phase;
    // Pods that are not running, or already going, need no budget.
    const ignoreBudget = phase === 'Succeeded' || phase === 'Failed' || phase === 'Pending' || !!pod.metadata.deletionTimestamp;
    if (!ignoreBudget) {
      const pdbs = this.registry.findInfo('policy', 'poddisruptionbudgets');
      const matching = (await this.registry.list(pdbs, { namespace: r.namespace }, req.signal)).items.filter((p) => {
        const sel = p.obj.spec?.selector;
        if (!isObject(sel) || (!Object.keys(sel.matchLabels ?? {}).length && !(sel.matchExpressions ?? []).length)) return false;
        return labelSelectorFromAPI(sel).matches(pod.metadata.labels);
      });
      if (matching.length > 1) {
        throw internalError(new Error('This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.'));
      }
      if (matching.length === 1) {
        const pdb = matching[0].obj;
        const tooMany = (message: string) =>
          new StatusError({
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: 'Cannot evict pod as it would violate the pod\'s disruption budget.',
            reason: 'TooManyRequests',
            details: { causes: [{ reason: 'DisruptionBudget', message }] },
            code: 429,
          });
        if ((pdb.status?.observedGeneration ?? 0) < (pdb.metadata.generation ?? 1)) {
          throw tooMany(`The disruption budget ${pdb.metadata.name} is still being processed by the server.`);
        }
        if ((pdb.status?.disruptionsAllowed ?? 0) <= 0) {
          throw tooMany(
            `The disruption budget ${pdb.metadata.name} needs ${pdb.status?.desiredHealthy ?? 0} healthy pods and has ${pdb.status?.currentHealthy ?? 0} currently`,
          );
        }
        if (!ctx.dryRun) {
          await this.registry.update(
            pdbs,
            r.namespace,
            pdb.metadata.name!,
            (cur) => {
              if ((cur.status?.disruptionsAllowed ?? 0) <= 0) {
                throw tooMany(`The disruption budget ${pdb.metadata.name} needs ${cur.status?.desiredHealthy ?? 0} healthy pods and has ${cur.status?.currentHealthy ?? 0} currently`);
              }
              cur.status.disruptionsAllowed -= 1;
              cur.status.disruptedPods = { ...(cur.status.disruptedPods ?? {}), [r.name!]: nowTimestamp() };
              cur.metadata.resourceVersion = pdb.metadata.resourceVersion;
              return cur;
            },
            { ...ctx, subresource: 'status' },
          );
        }
      }
    }
    await this.registry.delete(info, r.namespace, r.name!, deleteOptions, ctx);
    sendJSON(res, 201, { ...successStatus(undefined), code: 201 });
  }

  private async bind(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query, ctx: RequestContext): Promise<void> {
    const info = r.resource!;
    const { obj: binding } = await this.readObject(req, info, q, { apiVersion: 'v1', kind: 'Binding' });
    const target = binding.target?.name;
    if (!target) {
      throw invalid({ group: '', kind: 'Binding' }, r.name!, [fieldErr.required('target.name', '')]);
    }
    if (binding.metadata?.name && binding.metadata.name !== r.name) {
      throw badRequest('the name of the object (' + binding.metadata.name + ') does not match the name on the URL (' + r.name + ')');
    }
    await this.registry.update(
      info,
      r.namespace,
      r.name!,
      (pod) => {
        if (pod.metadata.deletionTimestamp) {
          throw conflict({ group: '', resource: 'pods' }, r.name!, 'pod is being deleted, cannot be assigned to a host');
        }
        if (pod.spec?.nodeName) {
          throw conflict({ group: '', resource: 'pods' }, r.name!, `pod ${r.name} is already assigned to node "${pod.spec.nodeName}"`);
        }
        pod.spec.nodeName = target;
        const conds = (pod.status.conditions ?? []).filter((c: { type: string }) => c.type !== 'PodScheduled');
        conds.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: nowTimestamp() });
        pod.status.conditions = conds;
        if (binding.metadata?.annotations) {
          pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), ...binding.metadata.annotations };
        }
        return pod;
      },
      { ...ctx, subresource: 'binding' },
    );
    sendJSON(res, 201, { ...successStatus(undefined), code: 201 });
  }

  private async update(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query, ctx: RequestContext): Promise<void> {
    const info = r.resource!;
    if (r.subresource === 'scale') {
      const { obj: scale } = await this.readObject(req, info, q, { apiVersion: 'autoscaling/v1', kind: 'Scale' });
      const updated = await this.writeScale(info, r, { ...ctx, managedFieldsSubresource: 'scale' }, () => scale);
      return sendJSON(res, 200, updated);
    }
    const { obj, warnings } = await this.readObject(req, info, q);
    if (obj.metadata?.name !== undefined && obj.metadata.name !== r.name) {
      throw badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${r.name})`);
    }
    if (info.namespaced && obj.metadata?.namespace && obj.metadata.namespace !== r.namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    obj.metadata ??= {};
    obj.metadata.name = r.name;
    if (info.namespaced) obj.metadata.namespace = r.namespace;
    const stored = this.toStorage(info, obj);
    const out = await this.registry.update(this.storageOf(info), r.namespace, r.name!, () => stored, {
      ...ctx,
      subresource: (r.subresource ?? '') as Subresource,
    });
    this.respondObject(req, res, info, out.obj, out.created ? 201 : 200, out.json, q, warnings);
  }

  private async patch(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query, ctx: RequestContext): Promise<void> {
    const info = r.resource!;
    const ct = header(req, 'content-type') ?? '';
    const isApply = ct.split(';')[0].trim().toLowerCase() === 'application/apply-patch+yaml';
    const optsErr = patchOptionsError({
      apply: isApply,
      fieldManager: q.get('fieldManager') ?? undefined,
      force: q.has('force') ? boolParam(q, 'force') : undefined,
    });
    if (optsErr) throw optsErr;
    if (isApply) return this.serverSideApply(req, res, r, q, ctx);
    const type = patchTypeFromContentType(ct);
    if (!type) {
      throw new StatusError({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
        reason: 'UnsupportedMediaType',
        code: 415,
      });
    }
    const body = (await req.body(MAX_BODY)).toString('utf8');
    if (r.subresource === 'scale') {
      const updated = await this.writeScale(info, r, { ...ctx, managedFieldsSubresource: 'scale' }, (cur) =>
        applyPatch(type, cur, body, { group: 'autoscaling', version: 'v1', kind: 'Scale' }) as KObject,
      );
      return sendJSON(res, 200, updated);
    }
    const gvk = { group: info.group, version: info.version, kind: info.kind };
    let warnings: string[] = [];
    const out = await this.registry.update(
      this.storageOf(info),
      r.namespace,
      r.name!,
      (stored) => {
        const cur = this.present(info, stored);
        const rv = cur.metadata.resourceVersion;
        const next = applyPatch(type, cur, body, gvk) as KObject;
        warnings = this.checkFields(info, { apiVersion: apiVersionOf(info), kind: info.kind }, next, q);
        if (!isObject(next.metadata)) next.metadata = {};
        // Only a resourceVersion the patch itself sets is a precondition.
        if (next.metadata.resourceVersion === rv) delete next.metadata.resourceVersion;
        if (next.metadata.name !== r.name) {
          throw badRequest(`the name of the object (${next.metadata.name}) does not match the name on the URL (${r.name})`);
        }
        return this.toStorage(info, next);
      },
      { ...ctx, subresource: (r.subresource ?? '') as Subresource },
    );
    this.respondObject(req, res, info, out.obj, 200, out.json, q, warnings);
  }

  /** PATCH with application/apply-patch+yaml: server-side apply, creating the object when it is missing. */
  private async serverSideApply(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query, ctx: RequestContext): Promise<void> {
    const info = r.resource!;
    const text = (await req.body(MAX_BODY)).toString('utf8');
    let applied: unknown;
    try {
      applied = parseYaml(text);
    } catch (e) {
      throw badRequest(`error decoding YAML: ${(e as Error).message.split('\n')[0]}`);
    }
    if (!isObject(applied)) throw badRequest('error decoding YAML: the body is not an object');
    const body = applied as KObject;
    const gvk = { group: info.group, version: info.version, kind: info.kind };
    const opts = {
      gvk,
      applied: body,
      manager: q.get('fieldManager')!,
      force: boolParam(q, 'force'),
      subresource: r.subresource,
      now: nowTimestamp(),
      statusSubresource: info.subresources.includes('status'),
    };
    const checkName = (next: KObject) => {
      if (next.metadata?.name !== r.name) {
        throw badRequest(`the name of the object (${next.metadata?.name ?? ''}) does not match the name on the URL (${r.name})`);
      }
      if (info.namespaced && next.metadata.namespace && next.metadata.namespace !== r.namespace) {
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
    };
    const out = await this.registry.update(
      this.storageOf(info),
      r.namespace,
      r.name!,
      (stored) => {
        const next = serverSideApply({ ...opts, current: this.present(info, stored) });
        checkName(next);
        // Only a resourceVersion the configuration itself sets is a precondition.
        if (body.metadata?.resourceVersion === undefined) delete next.metadata.resourceVersion;
        return this.toStorage(info, next);
      },
      {
        ...ctx,
        fieldManager: opts.manager,
        applied: true,
        subresource: (r.subresource ?? '') as Subresource,
        createIfMissing: () => {
          const next = serverSideApply(opts);
          checkName(next);
          return this.toStorage(info, next);
        },
      },
    );
    this.respondObject(req, res, info, out.obj, out.created ? 201 : 200, undefined, q);
  }

  private async writeScale(info: ResourceInfo, r: RouteInfo, ctx: RequestContext, next: (cur: KObject) => KObject): Promise<KObject> {
    const out = await this.registry.update(
      this.storageOf(info),
      r.namespace,
      r.name!,
      (obj) => {
        const cur = this.scale(info, obj);
        const scale = next(cur);
        const replicas = scale?.spec?.replicas;
        if (replicas !== undefined && (!Number.isInteger(replicas) || replicas < 0)) {
          throw invalid({ group: 'autoscaling', kind: 'Scale' }, r.name!, [
            fieldErr.invalid('spec.replicas', replicas, 'must be greater than or equal to 0'),
          ]);
        }
        const pinned = scale?.metadata?.resourceVersion;
        if (pinned && pinned !== obj.metadata.resourceVersion) throw conflict({ group: info.group, resource: info.plural }, r.name!);
        setPath(obj, this.custom?.scalePaths(info)?.specReplicasPath ?? '.spec.replicas', replicas ?? 0);
        return obj;
      },
      ctx,
    );
    return this.scale(info, out.obj);
  }

  private async readDeleteOptions(req: ApiRequest, q: Query): Promise<DeleteOptions> {
    const buf = await req.body(MAX_BODY);
    let opts: Record<string, any> = {};
    if (buf.length) {
      const body = decodeBody(buf, header(req, 'content-type'));
      if (!isObject(body)) throw badRequest('DeleteOptions must be an object');
      opts = body;
    }
    const grace = intParam(q, 'gracePeriodSeconds');
    if (grace !== undefined) opts.gracePeriodSeconds = grace;
    const pp = q.get('propagationPolicy');
    if (pp) opts.propagationPolicy = pp;
    if (q.has('orphanDependents')) opts.orphanDependents = boolParam(q, 'orphanDependents');
    if (opts.propagationPolicy && !['Orphan', 'Background', 'Foreground'].includes(opts.propagationPolicy)) {
      throw invalid({ group: 'meta.k8s.io', kind: 'DeleteOptions' }, '', [
        fieldErr.notSupported('propagationPolicy', opts.propagationPolicy, ['Foreground', 'Background', 'Orphan', 'nil']),
      ]);
    }
    if (opts.propagationPolicy && opts.orphanDependents !== undefined) {
      throw invalid({ group: 'meta.k8s.io', kind: 'DeleteOptions' }, '', [
        fieldErr.invalid('propagationPolicy', opts.propagationPolicy, 'orphanDependents and deletionPropagation cannot be both set'),
      ]);
    }
    return opts as DeleteOptions;
  }

  private async delete(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query, ctx: RequestContext): Promise<void> {
    const info = r.resource!;
    if (r.subresource) throw methodNotAllowed();
    const opts = await this.readDeleteOptions(req, q);
    const out = await this.registry.delete(this.storageOf(info), r.namespace, r.name!, opts, ctx);
    if (!out.gone || deleteReturnsObject.includes(`${apiVersionOf(info)}/${info.plural}`)) {
      // Objects still present (finalizers, graceful deletion) are returned as they are now;
      // some resources answer every delete with the object, as upstream.
      return this.respondObject(req, res, info, out.obj, out.gone ? 200 : 202, undefined, q);
    }
    const details: Status['details'] = { name: r.name, kind: info.plural, uid: out.obj.metadata.uid };
    if (info.group) details.group = info.group;
    sendJSON(res, 200, successStatus(details));
  }

  private async deleteCollection(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query, ctx: RequestContext): Promise<void> {
    const info = r.resource!;
    const opts = await this.readDeleteOptions(req, q);
    const sel = this.selectors(info, q);
    const listed = await this.registry.list(this.storageOf(info), { namespace: r.namespace, matches: sel.matches, filtered: true }, req.signal);
    const deleted: KObject[] = [];
    for (const item of listed.items) {
      try {
        const { namespace, name } = item.obj.metadata;
        const out = await this.registry.delete(this.storageOf(info), namespace, name!, opts, ctx);
        deleted.push(this.present(info, out.obj));
      } catch (e) {
        if (isStatusError(e) && e.code === 404) continue;
        throw e;
      }
    }
    sendJSON(res, 200, {
      kind: `${info.kind}List`,
      apiVersion: apiVersionOf(info),
      metadata: { resourceVersion: String(this.registry.cache.currentRevision) },
      items: deleted,
    });
  }

  private async componentStatusesRoute(req: ApiRequest, res: ApiResponse, r: RouteInfo, q: Query): Promise<void> {
    const info = r.resource!;
    const all = await this.componentStatuses();
    if (r.verb === 'get') {
      const cs = all.find((c) => c.metadata.name === r.name);
      if (!cs) throw notFound({ group: '', resource: 'componentstatuses' }, r.name!);
      return this.respondObject(req, res, info, cs, 200, undefined, q);
    }
    if (r.verb !== 'list') throw methodNotSupported({ group: '', resource: 'componentstatuses' }, r.verb);
    const sel = this.selectors(info, q);
    const items = all.filter(sel.matches);
    const form = negotiate(header(req, 'accept'), true);
    if (form === 'table') {
      const tb = this.tableBuilder(info, q);
      return sendJSON(res, 200, tb.table(items, {}));
    }
    sendJSON(res, 200, { kind: 'ComponentStatusList', apiVersion: 'v1', metadata: {}, items });
  }
}

function parseDryRun(q: Query): boolean {
  const all = (q as URLSearchParams).getAll?.('dryRun') ?? [];
  for (const v of all) {
    if (v !== 'All') throw badRequest(`dryRun: Unsupported value: "${v}": supported values: "All"`);
  }
  return all.length > 0;
}

/** fieldValidation: Strict refuses unknown fields, Warn (the default) reports them, Ignore drops the check. */
function fieldValidationMode(q: Query): 'Strict' | 'Warn' | 'Ignore' {
  const mode = q.get('fieldValidation') || 'Warn';
  if (mode !== 'Strict' && mode !== 'Warn' && mode !== 'Ignore') {
    throw badRequest(`fieldValidation: Unsupported value: "${mode}": supported values: "Ignore", "Strict", "Warn"`);
  }
  return mode;
}

function unknownFieldOutcome(mode: 'Strict' | 'Warn' | 'Ignore', kind: string, version: string, unknown: string[], duplicates: string[] = []): string[] {
  if ((!unknown.length && !duplicates.length) || mode === 'Ignore') return [];
  const msgs = [...unknown.map((f) => `unknown field "${f}"`), ...duplicates.map((f) => `duplicate field "${f}"`)];
  if (mode === 'Strict') {
    throw badRequest(`${kind} in version "${version}" cannot be handled as a ${kind}: strict decoding error: ${msgs.join(', ')}`);
  }
  return msgs;
}

function checkFields(info: ResourceInfo, want: { apiVersion: string; kind: string }, obj: KObject, q: Query, duplicates: string[] = []): string[] {
  const mode = fieldValidationMode(q);
  const [g, v] = want.apiVersion.includes('/') ? want.apiVersion.split('/') : ['', want.apiVersion];
  const { unknown, typeErrors } = schemaCheck({ group: g, version: v, kind: want.kind }, obj);
  if (typeErrors.length) {
    // A value of the wrong type fails decoding whatever fieldValidation says, as upstream.
    throw badRequest(`${want.kind} in version "${v}" cannot be handled as a ${want.kind}: ${typeErrors[0]}`);
  }
  void info;
  return unknownFieldOutcome(mode, want.kind, v, unknown, duplicates);
}

/** The autoscaling/v1 Scale view of a scalable object. */
export function toScale(info: ResourceInfo, obj: KObject, paths?: ScalePaths): KObject {
  let selector: string | undefined;
  const sel = obj.spec?.selector;
  if (paths) {
    const s = paths.labelSelectorPath ? getPath(obj, paths.labelSelectorPath) : undefined;
    if (typeof s === 'string' && s) selector = s;
  } else if (info.plural === 'replicationcontrollers') {
    if (isObject(sel)) selector = Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(',');
  } else if (isObject(sel)) {
    selector = labelSelectorFromAPI(sel).toString();
  }
  const statusReplicas = paths ? getPath(obj, paths.statusReplicasPath) : obj.status?.replicas;
  const specReplicas = paths ? getPath(obj, paths.specReplicasPath) : obj.spec?.replicas;
  const status: Record<string, unknown> = { replicas: typeof statusReplicas === 'number' ? statusReplicas : 0 };
  if (selector) status.selector = selector;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: {
      name: obj.metadata.name,
      namespace: obj.metadata.namespace,
      uid: obj.metadata.uid,
      resourceVersion: obj.metadata.resourceVersion,
      creationTimestamp: obj.metadata.creationTimestamp,
    },
    spec: { replicas: typeof specReplicas === 'number' ? specReplicas : 0 },
    status,
  };
}

export function toStatusError(e: unknown): StatusError {
  if (isStatusError(e)) return e;
  return internalError(e);
}
