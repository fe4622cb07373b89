// The REST client: Kubernetes paths, query parameters and bodies over a Transport.
// Everything crosses the transport as JSON text, so an in-process caller never shares
// an object with the apiserver. Non-2xx answers become StatusError values carrying the
// server's Status (or one synthesized from the code, as client-go's
// NewGenericServerResponse does, when the body is not a Status).

import type { KObject } from '../api/object.ts';
import { isObject } from '../api/object.ts';
import { type Status, StatusError } from '../api/errors.ts';
import type {
  Client,
  DeleteOptions,
  ListOptions,
  ObjectList,
  PatchOptions,
  PatchType,
  ResourceRef,
  Transport,
  TransportRequest,
  WatchEvent,
  WatchOptions,
  WriteOptions,
} from './types.ts';

export const DEFAULT_USER_AGENT = `skiff/0.1.0 (${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch})`;

export const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  // The apply body is JSON, which is YAML too.
  apply: 'application/apply-patch+yaml',
};

export interface ClientOptions {
  userAgent?: string;
}

export function createClient(transport: Transport, opts: ClientOptions = {}): Client {
  return new RestClient(transport, opts);
}

/** `/api/v1` or `/apis/<group>/<version>`, then the namespace (for namespaced resources), plural, name, subresource. */
export function resourcePath(res: ResourceRef, namespace: string | undefined, name?: string, subresource?: string): string {
  let p = res.group ? `/apis/${res.group}/${res.version}` : `/api/${res.version}`;
  if (res.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${res.resource}`;
  if (name !== undefined) {
    if (name === '') throw localError(400, 'BadRequest', `resource name may not be empty`);
    p += `/${encodeURIComponent(name)}`;
    if (subresource) p += `/${subresource}`;
  }
  return p;
}

type QueryValue = string | number | boolean | undefined;

function withQuery(path: string, params: Record<string, QueryValue>): string {
  // Most requests have no parameter set (a lease renewal): no URLSearchParams for them.
  let q: URLSearchParams | undefined;
  for (const k in params) {
    const v = params[k];
    if (v === undefined || v === '' || v === false) continue;
    (q ??= new URLSearchParams()).append(k, String(v));
  }
  return q ? `${path}?${q.toString()}` : path;
}

function writeParams(opts: WriteOptions | undefined): Record<string, QueryValue> {
  return {
    dryRun: opts?.dryRun ? 'All' : undefined,
    fieldManager: opts?.fieldManager,
    fieldValidation: opts?.fieldValidation,
  };
}

function listParams(opts: ListOptions | undefined): Record<string, QueryValue> {
  return {
    labelSelector: opts?.labelSelector,
    fieldSelector: opts?.fieldSelector,
    limit: opts?.limit,
    continue: opts?.continue,
    resourceVersion: opts?.resourceVersion,
    resourceVersionMatch: opts?.resourceVersionMatch,
  };
}

function deleteBody(opts: DeleteOptions | undefined): string | undefined {
  if (!opts) return undefined;
  const body: Record<string, unknown> = { kind: 'DeleteOptions', apiVersion: 'v1' };
  if (opts.gracePeriodSeconds !== undefined) body.gracePeriodSeconds = opts.gracePeriodSeconds;
  if (opts.propagationPolicy !== undefined) body.propagationPolicy = opts.propagationPolicy;
  if (opts.preconditions !== undefined) body.preconditions = opts.preconditions;
  if (opts.dryRun) body.dryRun = ['All'];
  return Object.keys(body).length > 2 ? JSON.stringify(body) : undefined;
}

const REASONS: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

function localError(code: number, reason: string, message: string): StatusError {
  return new StatusError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

/** The server's Status when the body is one, else a Status synthesized from the code and body text. */
export function statusErrorFrom(code: number, body: string): StatusError {
  try {
    const parsed: unknown = JSON.parse(body);
    if (isObject(parsed) && parsed.kind === 'Status') {
      const status = { ...parsed } as unknown as Status;
      if (typeof status.code !== 'number' || status.code === 0) status.code = code;
      return new StatusError(status);
    }
  } catch {
    // Not JSON: synthesized below.
  }
  const reason = REASONS[code] ?? (code >= 500 ? 'InternalError' : 'Unknown');
  const text = body.trim();
  const message = text
    ? `the server responded with the status code ${code} but did not return more information: ${text.slice(0, 512)}`
    : `the server responded with the status code ${code} but did not return more information`;
  return localError(code, reason, message);
}

function parseJSON<T>(body: string, what: string): T {
  try {
    return JSON.parse(body) as T;
  } catch (e) {
    throw localError(500, 'InternalError', `${what}: the server sent a body that is not JSON: ${(e as Error).message}`);
  }
}

class RestClient implements Client {
  private readonly transport: Transport;
  private readonly headers: Record<string, string>;

  constructor(transport: Transport, opts: ClientOptions) {
    this.transport = transport;
    this.headers = { accept: 'application/json', 'user-agent': opts.userAgent ?? DEFAULT_USER_AGENT };
  }

  private async call<T>(req: TransportRequest): Promise<T> {
    const headers = { ...this.headers, ...req.headers };
    if (req.body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    const r = await this.transport.request({ ...req, headers });
    if (r.status < 200 || r.status > 299) throw statusErrorFrom(r.status, r.body);
    return parseJSON<T>(r.body, `${req.method} ${req.path}`);
  }

  /** The namespace a namespaced object lives in: the argument, else the object's own. */
  private namespaceFor(res: ResourceRef, namespace: string | undefined, obj?: KObject): string | undefined {
    if (!res.namespaced) return undefined;
    const ns = namespace || obj?.metadata?.namespace;
    if (!ns) throw localError(400, 'BadRequest', `a namespace is required for ${res.resource}${res.group ? '.' + res.group : ''}`);
    return ns;
  }

  async get<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, name: string, opts: { signal?: AbortSignal; subresource?: string } = {}): Promise<T> {
    const path = resourcePath(res, this.namespaceFor(res, namespace), name, opts.subresource);
    return this.call<T>({ method: 'GET', path, signal: opts.signal });
  }

  async list<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, opts: ListOptions & { signal?: AbortSignal } = {}): Promise<ObjectList<T>> {
    const path = withQuery(resourcePath(res, namespace), listParams(opts));
    return this.call<ObjectList<T>>({ method: 'GET', path, signal: opts.signal });
  }

  async *watch<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, opts: WatchOptions & { signal: AbortSignal }): AsyncIterable<WatchEvent<T>> {
    const path = withQuery(resourcePath(res, namespace), {
      watch: 'true',
      labelSelector: opts.labelSelector,
      fieldSelector: opts.fieldSelector,
      resourceVersion: opts.resourceVersion,
      allowWatchBookmarks: opts.allowWatchBookmarks ? 'true' : undefined,
      timeoutSeconds: opts.timeoutSeconds,
    });
    if (opts.signal.aborted) return;
    const { status, lines } = await this.transport.stream({ method: 'GET', path, headers: { ...this.headers }, signal: opts.signal });
    if (status < 200 || status > 299) {
      let body = '';
      for await (const l of lines) body += l + '\n';
      throw statusErrorFrom(status, body);
    }
    for await (const line of lines) {
      if (opts.signal.aborted) return;
      if (line.trim() === '') continue;
      const ev = parseJSON<WatchEvent<T>>(line, `watch ${path}`);
      if (!isObject(ev) || typeof ev.type !== 'string' || !isObject(ev.object)) {
        throw localError(500, 'InternalError', `watch ${path}: malformed event: ${line.slice(0, 200)}`);
      }
      yield ev;
    }
  }

  async create<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, obj: KObject, opts: WriteOptions & { subresource?: string; name?: string } = {}): Promise<T> {
    const ns = this.namespaceFor(res, namespace, obj);
    // A subresource create (binding, eviction) names its parent: opts.name, else the body's name.
    const name = opts.subresource ? (opts.name ?? obj.metadata?.name ?? '') : undefined;
    const path = withQuery(resourcePath(res, ns, name, opts.subresource), writeParams(opts));
    return this.call<T>({ method: 'POST', path, body: JSON.stringify(obj), signal: opts.signal });
  }

  async update<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, obj: KObject, opts: WriteOptions & { subresource?: string } = {}): Promise<T> {
    const ns = this.namespaceFor(res, namespace, obj);
    const path = withQuery(resourcePath(res, ns, obj.metadata?.name ?? '', opts.subresource), writeParams(opts));
    return this.call<T>({ method: 'PUT', path, body: JSON.stringify(obj), signal: opts.signal });
  }

  async patch<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, name: string, type: PatchType, patch: unknown, opts: PatchOptions = {}): Promise<T> {
    const path = withQuery(resourcePath(res, this.namespaceFor(res, namespace), name, opts.subresource), {
      ...writeParams(opts),
      force: type === 'apply' && opts.force ? 'true' : undefined,
    });
    const body = typeof patch === 'string' ? patch : JSON.stringify(patch);
    return this.call<T>({ method: 'PATCH', path, body, headers: { 'content-type': PATCH_CONTENT_TYPES[type] }, signal: opts.signal });
  }

  async delete(res: ResourceRef, namespace: string | undefined, name: string, opts?: DeleteOptions): Promise<KObject> {
    const path = withQuery(resourcePath(res, this.namespaceFor(res, namespace), name), { dryRun: opts?.dryRun ? 'All' : undefined });
    return this.call<KObject>({ method: 'DELETE', path, body: deleteBody(opts), signal: opts?.signal });
  }

  async deleteCollection(res: ResourceRef, namespace: string | undefined, opts: ListOptions & DeleteOptions = {}): Promise<void> {
    const path = withQuery(resourcePath(res, namespace), { ...listParams(opts), dryRun: opts.dryRun ? 'All' : undefined });
    await this.call<KObject>({ method: 'DELETE', path, body: deleteBody(opts), signal: opts.signal });
  }
}
