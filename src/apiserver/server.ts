// The kube-apiserver of Skiff: HTTPS (HTTP/2 with HTTP/1.1 fallback) on the cluster
// certificates, authentication, the non-resource endpoints (health, version,
// discovery, OpenAPI, metrics) and the resource handler, over one Store.

import http2 from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import type { KObject } from '../api/object.ts';
import { ResourceTable, RESOURCES, type ResourceInfo } from '../api/resources.ts';
import { notFoundPath, requestEntityTooLarge, StatusError, unauthorized } from '../api/errors.ts';
import type { Store } from '../storage/store.ts';
import { openSqliteStore } from '../storage/sqlite.ts';
import { WatchCache } from './cache.ts';
import { Registry } from './registry.ts';
import { createStrategies, type Strategy } from './strategies.ts';
import { CustomResources } from './crd/manager.ts';
import { customOpenAPI } from './crd/openapi.ts';
import type { View } from './views.ts';
import { eventsView } from './views.ts';
import { createStreaming, registryLookups, streamingTarget } from './streaming/index.ts';
import { ApiHandler, type ApiRequest, type ApiResponse, sendJSON, sendStatus, toStatusError } from './handler.ts';
import { Discovery, wantsAggregated } from './discovery.ts';
import { ApiMetrics } from './metrics.ts';
import { ensureClusterPKI, type ClusterPKI } from './pki.ts';
import { createAuthenticator, parseTokenAuthFile, type Authenticator } from './authn.ts';
import { createOpenAPIService, openAPIV2Form, OPENAPI_V2_PROTOBUF } from './openapi.ts';
import { firstServiceIP, parseCidr } from './allocator.ts';
import { bootstrapCluster, componentStatuses } from './bootstrap.ts';
import { buildKubeconfig } from '../client/kubeconfig.ts';
import { ensureServiceAccountKeys } from './serviceaccount/keys.ts';
import { TokenService } from './serviceaccount/tokens.ts';
import { serviceAccountCreateHooks } from './serviceaccount/api.ts';
import { Authorization, type AuthorizationMode } from './authz/index.ts';
import { reviewCreateHooks } from './authz/reviews.ts';

export const KUBERNETES_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.4-skiff',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2026-11-21T00:00:00Z',
  goVersion: `node${process.versions.node}`,
  compiler: 'skiff',
  platform: `${process.platform === 'win32' ? 'windows' : process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};

export interface ApiServerOptions {
  dataDir: string;
  /** Address to listen on (default 0.0.0.0, as kube-apiserver). */
  bindAddress?: string;
  /** 6443 by default; 0 picks a free port (tests). */
  bindPort?: number;
  advertiseAddress?: string;
  serviceClusterIPRange?: string;
  serviceNodePortRange?: string;
  tokenAuthFile?: string;
  /** --service-account-issuer: the first issues tokens, all are accepted (default https://kubernetes.default.svc.cluster.local). */
  serviceAccountIssuers?: string[];
  /** --api-audiences (default: the issuers). */
  apiAudiences?: string[];
  /** --authorization-mode (default AlwaysAllow). */
  authorizationModes?: AuthorizationMode[];
  /** A Store to use instead of the embedded SQLite one under dataDir. */
  store?: Store;
  clusterName?: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface ApiServer {
  url: string;
  port: number;
  pki: ClusterPKI;
  kubeconfigPath: string;
  store: Store;
  registry: Registry;
  table: ResourceTable;
  handler: ApiHandler;
  /** Transport-independent entry point (the in-process client uses it). */
  serve(req: ApiRequest, res: ApiResponse): Promise<void>;
  close(): Promise<void>;
}

/** The machine's first non-internal IPv4 address, as kube-apiserver picks its advertise address. */
export function defaultAdvertiseAddress(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** Upstream's metric verbs: HTTP methods, with LIST and WATCH told apart from GET. */
const METRIC_VERBS: Record<string, string> = { create: 'POST', update: 'PUT', deletecollection: 'DELETECOLLECTION' };

const ALWAYS_ALLOWED = new Set(['/healthz', '/livez', '/readyz', '/version']);

/** A request target's path with no query, percent-escape, backslash, dot segment or leading "//": as it is. */
const PLAIN_TARGET = /^\/(?!\/)[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

/**
 * The path and query of a request target, as `new URL(target, base)` reads them. A plain
 * path (what clients send for a get, an update, a lease renewal) needs no URL parser: it
 * is its own pathname, with no query.
 */
export function requestTarget(target: string): { pathname: string; searchParams: URLSearchParams } {
  if (PLAIN_TARGET.test(target) && !DOT_SEGMENT.test(target)) return { pathname: target, searchParams: new URLSearchParams() };
  const url = new URL(target, 'http://x');
  return { pathname: url.pathname, searchParams: url.searchParams };
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const log = opts.log ?? (() => {});
  const dataDir = path.resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const serviceRange = opts.serviceClusterIPRange ?? '10.96.0.0/12';
  const nodePortRange = opts.serviceNodePortRange ?? '30000-32767';
  const advertiseAddress = opts.advertiseAddress ?? defaultAdvertiseAddress();
  const serviceIP = firstServiceIP(parseCidr(serviceRange));

  const pki = await ensureClusterPKI({ dir: path.join(dataDir, 'pki'), advertiseAddress, serviceIP });
  let tokens;
  if (opts.tokenAuthFile) tokens = parseTokenAuthFile(await readFile(opts.tokenAuthFile, 'utf8'));
  // Service-account tokens are checked against the watch cache (registry, set below).
  const saTokens = new TokenService({
    keys: await ensureServiceAccountKeys(path.join(dataDir, 'pki')),
    issuers: opts.serviceAccountIssuers,
    apiAudiences: opts.apiAudiences,
    lookup: (resource, ns, name) => registry.peek(registry.findInfo('', resource), ns, name)?.obj,
  });
  const authenticate: Authenticator = createAuthenticator({ tokens, serviceAccountTokens: (t) => saTokens.authenticate(t) });

  const store = opts.store ?? (await openSqliteStore({ path: path.join(dataDir, 'db', 'state.db') }));
  const table = new ResourceTable(RESOURCES);
  const cache = new WatchCache(store, table.all);
  await cache.start();
  const builtinStrategies = createStrategies({ cache, serviceClusterIPRange: serviceRange, serviceNodePortRange: nodePortRange }, table.all);
  // Custom resources get their strategies from their definitions; the
  // CustomResourceDefinition resource itself from the CRD manager.
  let crds: CustomResources | undefined;
  let crdStrategy: Strategy | undefined;
  const crdInfo = table.lookup('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
  const strategies = (info: ResourceInfo) =>
    (info === crdInfo ? crdStrategy : crds?.strategy(info)) ?? builtinStrategies(info);
  // Escalation prevention wraps the RBAC strategies once the authorizer exists (below).
  let strategyOf = strategies;
  const registry = new Registry({ resources: table.all, store, cache, strategies: (info) => strategyOf(info) });
  const authorization = new Authorization({ modes: opts.authorizationModes ?? ['AlwaysAllow'], registry });
  strategyOf = authorization.wrapStrategies(strategies);
  const views = new Map<ResourceInfo, View>();
  const eventsV1 = table.lookup('events.k8s.io', 'v1', 'events')!;
  views.set(eventsV1, eventsView(eventsV1, table.lookup('', 'v1', 'events')!));
  let discovery: Discovery | undefined;
  const servedFor = (infos: ResourceInfo[]) =>
    new ResourceTable(infos).groupVersions().map((gv) => ({
      group: gv.group,
      version: gv.version,
      resources: gv.resources.map((r) => ({
        plural: r.plural,
        kind: r.kind,
        namespaced: r.namespaced,
        verbs: r.verbs,
        subresources: r.subresources,
      })),
    }));
  const openapi = createOpenAPIService({ served: servedFor(table.all) });
  crds = new CustomResources({
    table,
    registry,
    cache,
    views,
    log,
    onChange: () => {
      discovery?.invalidate();
      openapi.setCustom(customOpenAPI(crds!.servedSchemas()));
    },
  });
  crdStrategy = crds.crdStrategy();
  crds.start();
  const saHooks = serviceAccountCreateHooks({ registry, tokens: saTokens });
  const reviewHooks = reviewCreateHooks(authorization);
  const handler = new ApiHandler({
    table,
    registry,
    componentStatuses: () => componentStatuses(registry, store),
    views,
    custom: crds,
    createHooks: (r) => saHooks(r) ?? reviewHooks(r),
  });
  const metrics = new ApiMetrics();

  const server = http2.createSecureServer({
    allowHTTP1: true,
    cert: pki.serverCertPem,
    key: pki.serverKeyPem,
    ca: pki.caCertPem,
    requestCert: true,
    rejectUnauthorized: false,
  });

  // Ends every request still running (watches above all) when the server closes,
  // whichever transport brought it.
  const shutdown = new AbortController();

  // One signal per request that aborts with the request or with the server. Not
  // AbortSignal.any (its weakly held dependents cost the GC on every request), and not a
  // listener per request on the shutdown signal: the server aborts what is in flight.
  const inflight = new Set<AbortController>();
  shutdown.signal.addEventListener('abort', () => {
    for (const ac of inflight) ac.abort();
  });
  async function serve(incoming: ApiRequest, res: ApiResponse): Promise<void> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    if (incoming.signal.aborted || shutdown.signal.aborted) ac.abort();
    else incoming.signal.addEventListener('abort', onAbort, { once: true });
    inflight.add(ac);
    try {
      await serveRequest({ ...incoming, signal: ac.signal }, res);
    } finally {
      inflight.delete(ac);
      incoming.signal.removeEventListener('abort', onAbort);
    }
  }

  async function serveRequest(req: ApiRequest, res: ApiResponse): Promise<void> {
    const url = requestTarget(req.url);
    const p = url.pathname.length > 1 && url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
    if (ALWAYS_ALLOWED.has(p) || p.startsWith('/healthz/') || p.startsWith('/livez/') || p.startsWith('/readyz/')) {
      if (p === '/version') return sendJSON(res, 200, KUBERNETES_VERSION);
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-content-type-options': 'nosniff' });
      return res.end('ok');
    }
    if (!req.user) return sendStatus(res, unauthorized());
    const effective = authorization.check(req.user, req.method, p, url.searchParams, req.headers);
    if (effective instanceof StatusError) return sendStatus(res, effective);
    if (effective !== req.user) req = { ...req, user: effective };
    const accept = typeof req.headers.accept === 'string' ? req.headers.accept : undefined;
    const ifNoneMatch = typeof req.headers['if-none-match'] === 'string' ? req.headers['if-none-match'] : undefined;
    const sendDoc = (d: { body: string; etag: string; contentType: string } | undefined) => {
      if (!d) return sendStatus(res, notFoundPath());
      const h = { 'content-type': d.contentType, etag: d.etag, vary: 'Accept', 'cache-control': 'public' };
      if (ifNoneMatch === d.etag) {
        res.writeHead(304, h);
        return res.end();
      }
      res.writeHead(200, h);
      res.end(d.body);
    };
    discovery ??= new Discovery(table, `${advertiseAddress}:${(server.address() as { port: number } | null)?.port ?? 6443}`);
    switch (p) {
      case '/api': {
        const agg = wantsAggregated(accept);
        return sendDoc(agg ? discovery.aggregated('core', agg) : discovery.apiVersions());
      }
      case '/apis': {
        const agg = wantsAggregated(accept);
        return sendDoc(agg ? discovery.aggregated('apis', agg) : discovery.apiGroupList());
      }
      case '/api/v1':
        return sendDoc(discovery.resourceList('', 'v1'));
      case '/metrics':
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return res.end(metrics.render());
      case '/openapi/v3':
        return sendJSON(res, 200, openapi.root());
      case '/openapi/v2': {
        const form = openAPIV2Form(accept);
        if (!form) {
          res.writeHead(406, {});
          return res.end();
        }
        const v2 = openapi.v2();
        const etag = form === 'protobuf' ? v2.protobufEtag : v2.etag;
        if (ifNoneMatch === etag) {
          res.writeHead(304, { etag });
          return res.end();
        }
        res.writeHead(200, { 'content-type': form === 'protobuf' ? OPENAPI_V2_PROTOBUF : 'application/json', etag });
        if (form === 'json') return res.end(v2.json.toString('utf8'));
        // Bytes: the socket response passes them on as they are (ApiResponse is typed for text).
        return (res as unknown as { end(chunk: Uint8Array): void }).end(v2.protobuf);
      }
      case '/.well-known/openid-configuration': {
        const host = advertiseAddress.includes(':') ? `[${advertiseAddress}]` : advertiseAddress;
        const jwksURI = `https://${host}:${(server.address() as { port: number } | null)?.port ?? 6443}/openid/v1/jwks`;
        return sendJSON(res, 200, saTokens.openIDConfiguration(jwksURI), { 'cache-control': 'public, max-age=3600' });
      }
      case '/openid/v1/jwks':
        res.writeHead(200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'public, max-age=3600' });
        return res.end(JSON.stringify(saTokens.jwks()));
    }
    if (p.startsWith('/openapi/v3/')) {
      const doc = openapi.groupVersion(p.slice('/openapi/v3/'.length));
      if (!doc) return sendStatus(res, notFoundPath());
      if (ifNoneMatch === doc.etag) {
        res.writeHead(304, { etag: doc.etag });
        return res.end();
      }
      res.writeHead(200, { 'content-type': 'application/json', etag: doc.etag, 'cache-control': 'public, immutable' });
      return res.end(doc.body.toString('utf8'));
    }
    const segs = p.split('/').filter(Boolean);
    if (segs[0] === 'apis' && segs.length === 2) return sendDoc(discovery.apiGroup(segs[1]));
    if (segs[0] === 'apis' && segs.length === 3) return sendDoc(discovery.resourceList(segs[1], segs[2]));
    if (segs[0] === 'api' && segs.length === 2) return sendStatus(res, notFoundPath());

    const route = handler.route(req.method, p, url.searchParams);
    if (!route) return sendStatus(res, notFoundPath());
    if (route instanceof StatusError) return sendStatus(res, route);
    const started = performance.now();
    let code = 200;
    const wrapped: ApiResponse = {
      writeHead: (c, h) => {
        code = c;
        res.writeHead(c, h);
      },
      flushHeaders: () => res.flushHeaders?.(),
      write: (c) => res.write(c),
      end: (c) => res.end(c),
    };
    metrics.inflight++;
    try {
      await handler.handle(req, wrapped, route);
    } catch (e) {
      const err = toStatusError(e);
      if (err.code >= 500) log('request failed', { method: req.method, url: req.url, error: String((e as Error)?.stack ?? e) });
      code = err.code;
      try {
        sendStatus(res, err);
      } catch {
        // Headers were already sent (a watch); the stream ends.
      }
    } finally {
      metrics.inflight--;
      const r = route.resource!;
      metrics.observe(
        {
          verb: METRIC_VERBS[route.verb] ?? route.verb.toUpperCase(),
          group: r.group,
          version: r.version,
          resource: r.plural,
          subresource: route.subresource ?? '',
          scope: route.name ? 'resource' : route.namespace ? 'namespace' : 'cluster',
          code,
        },
        (performance.now() - started) / 1000,
      );
    }
  }

  // A connection's client certificate cannot change, so its identity is worked out once
  // per TLS socket (parsing the certificate costs more than serving a GET).
  const certUsers = new WeakMap<TLSSocket, ReturnType<Authenticator> | null>();
  const authenticateRequest = (req: IncomingMessage | http2.Http2ServerRequest) => {
    const headers = req.headers as Record<string, string | string[] | undefined>;
    const socket = ((req as http2.Http2ServerRequest).stream?.session?.socket ?? req.socket) as TLSSocket;
    try {
      // As upstream's union authenticator: the client certificate first, then a bearer token.
      return certUser(socket) ?? (headers.authorization ? authenticate({ headers, peerCertificate: null, authorized: false }) : undefined);
    } catch {
      return undefined;
    }
  };
  const certUser = (socket: TLSSocket) => {
    let u = certUsers.get(socket);
    if (u === undefined) {
      u = authenticate({ headers: {}, peerCertificate: socket.getPeerCertificate?.() ?? null, authorized: socket.authorized }) ?? null;
      certUsers.set(socket, u);
    }
    return u ?? undefined;
  };

  // Logs, exec, attach, port-forward and proxy go to the pod's kubelet (or the pod
  // itself), authenticated with the apiserver's kubelet-client certificate.
  const kubeletClient = await pki.issueClientCert('kube-apiserver-kubelet-client', ['kubeadm:cluster-admins']);
  const streaming = createStreaming({ ...registryLookups(registry, table), kubeletTLS: { cert: kubeletClient.certPem, key: kubeletClient.keyPem }, log });

  // Streaming requests bypass serve(): they are authorized here. A websocket GET of exec,
  // attach or portforward also needs `create`, as upstream's AuthorizePodWebsocketUpgradeCreatePermission.
  const authorizeStreaming = (req: IncomingMessage | http2.Http2ServerRequest, authn: NonNullable<ApiRequest['user']>) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const effective = authorization.check(authn, req.method ?? 'GET', u.pathname, u.searchParams, req.headers as Record<string, string | string[] | undefined>);
    if (effective instanceof StatusError) return effective;
    if ((req.method ?? 'GET') === 'GET' && /\/pods\/[^/]+\/(exec|attach|portforward)$/.test(u.pathname)) {
      const err = authorization.checkVerb(effective, u.pathname, 'create');
      if (err) return err;
    }
    return effective;
  };

  server.on('upgrade', (req: IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
    const authn = authenticateRequest(req);
    if (!authn) return void socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    const user = authorizeStreaming(req, authn);
    if (user instanceof StatusError) {
      const body = JSON.stringify(user.status);
      return void socket.end(`HTTP/1.1 ${user.code} ${user.code === 403 ? 'Forbidden' : 'Bad Request'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    }
    const target = streamingTarget(req.url ?? '/', user);
    if (!target) return void socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    void streaming.handleUpgrade(req, socket as import('node:net').Socket, head, target);
  });

  server.on('request', (req: IncomingMessage | http2.Http2ServerRequest, res: ServerResponse | http2.Http2ServerResponse) => {
    const abort = new AbortController();
    // Only a response closed before it finished is an abort (a client gone mid-watch).
    res.on('close', () => {
      if (!res.writableEnded) abort.abort();
    });
    const user = authenticateRequest(req);
    let streamTarget = user ? streamingTarget(req.url ?? '/', user) : undefined;
    if (streamTarget) {
      const effective = authorizeStreaming(req, user!);
      if (effective instanceof StatusError) {
        (res as ServerResponse).writeHead(effective.code, { 'content-type': 'application/json' });
        return void (res as ServerResponse).end(JSON.stringify(effective.status));
      }
      if (effective !== user) streamTarget = streamingTarget(req.url ?? '/', effective)!;
      return void streaming.handleStreaming(req, res, streamTarget);
    }
    const apiReq: ApiRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: req.headers as Record<string, string | string[] | undefined>,
      user,
      signal: abort.signal,
      body: (limit) => readBody(req, limit),
    };
    const apiRes: ApiResponse = {
      writeHead: (code, headers) => {
        (res as ServerResponse).writeHead(code, headers);
      },
      flushHeaders: () => (res as ServerResponse).flushHeaders?.(),
      write: (chunk) => (res as ServerResponse).write(chunk),
      end: (chunk) => {
        if (chunk === undefined) (res as ServerResponse).end();
        else (res as ServerResponse).end(chunk);
      },
    };
    serve(apiReq, apiRes).catch((e) => {
      log('unhandled', { error: String(e) });
      try {
        sendStatus(apiRes, toStatusError(e));
      } catch {
        (res as ServerResponse).destroy?.();
      }
    });
  });
  // Answer HTTP/2 pings and keep idle connections: kubectl pings after 30 s idle.
  server.on('sessionError', () => {});
  server.on('tlsClientError', () => {});

  await bootstrapCluster(registry, { advertiseAddress, serviceIP, port: opts.bindPort ?? 6443 });
  await authorization.start({ signal: shutdown.signal, log });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.bindPort ?? 6443, opts.bindAddress ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  // The kubernetes Service's endpoint names the real port once it is known.
  if (port !== (opts.bindPort ?? 6443)) await bootstrapCluster(registry, { advertiseAddress, serviceIP, port });
  const url = `https://127.0.0.1:${port}`;
  const kubeconfigPath = path.join(dataDir, 'admin.kubeconfig');
  await writeFile(
    kubeconfigPath,
    buildKubeconfig({
      clusterName: opts.clusterName ?? 'skiff',
      server: url,
      caCertPem: pki.caCertPem,
      userName: 'kubernetes-admin',
      clientCertPem: pki.adminCertPem,
      clientKeyPem: pki.adminKeyPem,
    }),
    { mode: 0o600 },
  );
  log('apiserver serving', { url, dataDir });

  // Compaction as upstream: every 5 minutes, drop history older than the revision
  // seen at the previous tick (so watches up to ~5 minutes behind can still resume).
  let lastTickRevision = await store.currentRevision();
  const compactor = setInterval(() => {
    const target = lastTickRevision;
    store
      .currentRevision()
      .then(async (rev) => {
        lastTickRevision = rev;
        if (target > 0) await store.compact(target);
      })
      .catch((e) => log('compaction failed', { error: String(e) }));
  }, 5 * 60_000);
  compactor.unref();

  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  return {
    url,
    port,
    pki,
    kubeconfigPath,
    store,
    registry,
    table,
    handler,
    serve,
    async close() {
      clearInterval(compactor);
      shutdown.abort();
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sessions) s.destroy();
      for (const s of sockets) s.destroy();
      await closed;
      cache.stop();
      await store.close();
    },
  };
}

function readBody(req: IncomingMessage | http2.Http2ServerRequest, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? -1);
    if (declared > limit) {
      req.resume();
      return reject(requestEntityTooLarge(limit));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return reject(requestEntityTooLarge(limit));
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (!tooLarge) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

export type { KObject };
