// The apiserver's streaming subresources: pods/log, pods/exec, pods/attach,
// pods/portforward (proxied to the kubelet of the pod's node), pods/proxy,
// services/proxy and nodes/proxy (to the node's kubelet API: /stats/summary, /metrics, …).
//
// The HTTP layer calls `handleStreaming` for plain requests (logs; exec & co. without an
// upgrade get a 400) and `handleUpgrade` for HTTP/1.1 Upgrade requests (kubectl's
// WebSocket exec/attach/portforward: they offer no ALPN, so they always arrive as HTTP/1.1).
// An upgrade is passed through to the kubelet as is (the 101 and every byte after it), as
// upstream's UpgradeAwareHandler does; the kubelet speaks v5.channel.k8s.io.

import https from 'node:https';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { KObject } from '../../api/object.ts';
import { badRequest, internalError, notFound, StatusError, unauthorized, type Status } from '../../api/errors.ts';
import type { ResourceTable } from '../../api/resources.ts';
import type { Registry } from '../registry.ts';

export type StreamingKind = 'log' | 'exec' | 'attach' | 'portforward' | 'proxy';

export interface StreamingTarget {
  kind: StreamingKind;
  /** 'pods', or 'services' / 'nodes' (proxy only). */
  resource?: 'pods' | 'services' | 'nodes';
  /** '' for nodes. */
  namespace: string;
  /** The pod (or service) name as in the path; for proxy it may be `[scheme:]name[:port]`. */
  name: string;
  /** For proxy: the rest of the path after `/proxy`. */
  path?: string;
  query: URLSearchParams;
  user?: { name: string; groups: string[] };
}

export interface KubeletClientTLS {
  /** Client certificate and key the apiserver presents to kubelets (PEM). */
  cert?: string;
  key?: string;
  /** CA that signed the kubelets' serving certificates; without it they are not verified. */
  ca?: string;
}

export interface StreamingOptions {
  getPod(namespace: string, name: string): Promise<KObject | undefined>;
  getNode(name: string): Promise<KObject | undefined>;
  /** The Endpoints object of a service (services/proxy); without it services/proxy answers 503. */
  getEndpoints?(namespace: string, name: string): Promise<KObject | undefined>;
  /** The Service (services/proxy with a port number: the service port it names). */
  getService?(namespace: string, name: string): Promise<KObject | undefined>;
  kubeletTLS: KubeletClientTLS;
  /** The kubelet port when the Node does not say (daemonEndpoints.kubeletEndpoint.Port); 10250. */
  defaultKubeletPort?: number;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

/** getPod/getNode/getEndpoints over the apiserver's Registry (its watch cache). */
export function registryLookups(registry: Registry, table: ResourceTable): Pick<StreamingOptions, 'getPod' | 'getNode' | 'getEndpoints' | 'getService'> {
  const get = (plural: string) => {
    const info = table.lookup('', 'v1', plural);
    if (!info) throw new Error(`no core/v1 ${plural} in the resource table`);
    return async (namespace: string | undefined, name: string) => (await registry.get(info, namespace, name).catch(() => undefined))?.obj;
  };
  const pods = get('pods');
  const nodes = get('nodes');
  const endpoints = get('endpoints');
  const services = get('services');
  return {
    getService: (ns, name) => services(ns, name),
    getPod: (ns, name) => pods(ns, name),
    getNode: (name) => nodes(undefined, name),
    getEndpoints: (ns, name) => endpoints(ns, name),
  };
}

/** Headers that belong to one connection (and are refused on HTTP/2 responses). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'http2-settings']);

const POD_GR = { group: '', resource: 'pods' };
const SUBS = new Set(['log', 'exec', 'attach', 'portforward', 'proxy']);

/**
 * Recognises a streaming path: `/api/v1/namespaces/{ns}/pods/{name}/{log|exec|attach|portforward|proxy}[/…]`,
 * `/api/v1/namespaces/{ns}/services/{name}/proxy[/…]` and `/api/v1/nodes/{name}/proxy[/…]`.
 * Undefined for anything else.
 */
export function streamingTarget(url: string, user?: StreamingTarget['user']): StreamingTarget | undefined {
  const u = new URL(url, 'http://x');
  const segs = u.pathname.split('/');
  // ['', 'api', 'v1', 'nodes', name, 'proxy', ...rest]
  if (segs[1] === 'api' && segs[2] === 'v1' && segs[3] === 'nodes' && segs[4] && segs[5] === 'proxy') {
    return { kind: 'proxy', resource: 'nodes', namespace: '', name: decodeURIComponent(segs[4]), path: '/' + segs.slice(6).join('/'), query: u.searchParams, user };
  }
  // ['', 'api', 'v1', 'namespaces', ns, 'pods', name, sub, ...rest]
  if (segs[1] !== 'api' || segs[2] !== 'v1' || segs[3] !== 'namespaces' || !segs[4]) return undefined;
  const resource = segs[5];
  const sub = segs[7];
  if (!segs[6] || !sub || !SUBS.has(sub)) return undefined;
  if (resource === 'services' && sub !== 'proxy') return undefined;
  if (resource !== 'pods' && resource !== 'services') return undefined;
  if (sub !== 'proxy' && segs.length > 8) return undefined;
  return {
    kind: sub as StreamingKind,
    resource,
    namespace: decodeURIComponent(segs[4]),
    name: decodeURIComponent(segs[6]),
    path: sub === 'proxy' ? '/' + segs.slice(8).join('/') : undefined,
    query: u.searchParams,
    user,
  };
}

type AnyRes = ServerResponse | Http2ServerResponse;

/** Turns Nagle's algorithm off on an upgraded connection (a net or TLS socket; other streams are left alone). */
function noDelay(socket: Duplex): void {
  const s = socket as Duplex & { setNoDelay?: (on?: boolean) => unknown };
  if (typeof s.setNoDelay === 'function') s.setNoDelay(true);
}

function writeStatus(res: AnyRes, err: StatusError): void {
  const r = res as ServerResponse;
  if (r.headersSent) return void r.destroy();
  r.writeHead(err.code, { 'content-type': 'application/json' });
  r.end(JSON.stringify(err.status));
}

function statusText(err: StatusError): string {
  const body = JSON.stringify(err.status);
  const reason = http.STATUS_CODES[err.code] ?? 'Error';
  return `HTTP/1.1 ${err.code} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

function toStatus(e: unknown): StatusError {
  return e instanceof StatusError ? e : internalError(e);
}

function statusFrom(code: number, message: string): StatusError {
  const reasons: Record<number, string> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 500: 'InternalError', 503: 'ServiceUnavailable' };
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: reasons[code] ?? 'InternalError', code } as Status;
  return new StatusError(s);
}

interface Resolved {
  pod: KObject;
  container: string;
  host: string;
  port: number;
}

export interface Streaming {
  /** Plain (non-upgrade) requests: pods/log; pods/proxy; exec/attach/portforward answer 400. */
  handleStreaming(req: IncomingMessage | Http2ServerRequest, res: AnyRes, target: StreamingTarget): Promise<void>;
  /** HTTP/1.1 Upgrade requests (WebSocket) for exec, attach and portforward. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: StreamingTarget): Promise<void>;
}

export function createStreaming(opts: StreamingOptions): Streaming {
  const log = opts.log ?? (() => {});

  async function resolve(t: StreamingTarget, needContainer: boolean): Promise<Resolved> {
    const pod = await opts.getPod(t.namespace, t.name);
    if (!pod) throw notFound(POD_GR, t.name);
    const spec = (pod.spec ?? {}) as { nodeName?: string; containers?: { name: string }[]; initContainers?: { name: string }[]; ephemeralContainers?: { name: string }[] };
    let container = t.query.get('container') ?? '';
    if (needContainer && !container) {
      const names = (spec.containers ?? []).map((c) => c.name);
      if (names.length === 1) container = names[0];
      else {
        const init = (spec.initContainers ?? []).map((c) => c.name);
        throw badRequest(`a container name must be specified for pod ${t.name}, choose one of: [${names.join(' ')}]${init.length ? ` or one of the init containers: [${init.join(' ')}]` : ''}`);
      }
    }
    if (needContainer) {
      const all = [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])].map((c) => c.name);
      if (!all.includes(container)) throw badRequest(`container ${container} is not valid for pod ${t.name}`);
    }
    if (!spec.nodeName) throw badRequest(`pod ${t.name} does not have a host assigned`);
    return { pod, container, ...(await kubeletAddress(spec.nodeName)) };
  }

  /** The node's kubelet API: its InternalIP (else ExternalIP, else Hostname) and daemonEndpoints port. */
  async function kubeletAddress(nodeName: string): Promise<{ host: string; port: number }> {
    const node = await opts.getNode(nodeName);
    if (!node) throw notFound({ group: '', resource: 'nodes' }, nodeName);
    const status = (node.status ?? {}) as { addresses?: { type: string; address: string }[]; daemonEndpoints?: { kubeletEndpoint?: { Port?: number } } };
    const addrs = status.addresses ?? [];
    const host = (addrs.find((a) => a.type === 'InternalIP') ?? addrs.find((a) => a.type === 'ExternalIP') ?? addrs.find((a) => a.type === 'Hostname'))?.address;
    if (!host) throw badRequest(`node ${nodeName} has no address`);
    const port = status.daemonEndpoints?.kubeletEndpoint?.Port || opts.defaultKubeletPort || 10250;
    return { host, port };
  }

  const tls = () => ({
    cert: opts.kubeletTLS.cert,
    key: opts.kubeletTLS.key,
    ca: opts.kubeletTLS.ca,
    rejectUnauthorized: opts.kubeletTLS.ca !== undefined,
  });

  function kubeletPath(t: StreamingTarget, r: Resolved): string {
    const q = new URLSearchParams(t.query);
    const ns = encodeURIComponent(t.namespace);
    const name = encodeURIComponent(t.name);
    const c = encodeURIComponent(r.container);
    switch (t.kind) {
      case 'log':
        q.delete('container');
        return `/containerLogs/${ns}/${name}/${c}${q.size ? `?${q}` : ''}`;
      case 'exec':
      case 'attach':
        q.delete('container');
        return `/${t.kind}/${ns}/${name}/${c}${q.size ? `?${q}` : ''}`;
      case 'portforward':
        return `/portForward/${ns}/${name}${q.size ? `?${q}` : ''}`;
      default:
        throw badRequest(`${t.kind} is not served by the kubelet`);
    }
  }

  async function handleLog(req: IncomingMessage | Http2ServerRequest, res: AnyRes, t: StreamingTarget): Promise<void> {
    const r = await resolve(t, true);
    const kreq = https.request({ host: r.host, port: r.port, path: kubeletPath(t, r), method: 'GET', ...tls() });
    const abort = () => kreq.destroy();
    res.on('close', abort);
    await new Promise<void>((done) => {
      kreq.on('error', (e) => {
        log('kubelet log request failed', { host: r.host, error: String(e) });
        writeStatus(res, statusFrom(500, `Get "https://${r.host}:${r.port}/containerLogs/...": ${e.message}`));
        done();
      });
      kreq.on('response', (kres) => {
        const out = res as ServerResponse;
        if (kres.statusCode !== 200) {
          let body = '';
          kres.setEncoding('utf8');
          kres.on('data', (d) => (body += d));
          kres.on('end', () => {
            writeStatus(res, statusFrom(kres.statusCode ?? 500, body.trim() || `kubelet answered ${kres.statusCode}`));
            done();
          });
          return;
        }
        // No content-length: chunked on HTTP/1.1, DATA frames on HTTP/2.
        out.writeHead(200, { 'content-type': 'text/plain' });
        out.flushHeaders?.();
        kres.on('data', (d: Buffer) => {
          if (!out.write(d)) {
            kres.pause();
            out.once('drain', () => kres.resume());
          }
        });
        kres.on('end', () => {
          out.end();
          done();
        });
        kres.on('error', () => {
          out.destroy();
          done();
        });
        kres.on('aborted', () => {
          out.destroy();
          done();
        });
      });
      kreq.end();
    });
    res.off('close', abort);
  }

  /** `[scheme:]name[:port]` as in proxy paths. */
  function splitProxyName(n: string): { scheme: string; name: string; port: string } {
    const parts = n.split(':');
    if (parts.length === 3) return { scheme: parts[0] || 'http', name: parts[1], port: parts[2] };
    if (parts.length === 2) return { scheme: 'http', name: parts[0], port: parts[1] };
    return { scheme: 'http', name: n, port: '' };
  }

  /**
   * pods/proxy: HTTP to the pod's IP (port from `name:port`, a port number or a container
   * port's name, else the first container port, else 80). services/proxy: to a ready
   * endpoint address of the service's port (by name or number, else the first port).
   */
  async function handleProxy(req: IncomingMessage | Http2ServerRequest, res: AnyRes, t: StreamingTarget): Promise<void> {
    if (t.resource === 'nodes') return handleNodeProxy(req, res, t);
    const { scheme, name, port: want } = splitProxyName(t.name);
    let ip: string | undefined;
    let port: number | undefined;
    if (t.resource === 'services') {
      if (!opts.getEndpoints) throw statusFrom(503, 'services/proxy is not available');
      // As upstream: a port number names a *service* port; endpoints are matched by that port's name.
      let portName = want;
      if (/^\d+$/.test(want) && opts.getService) {
        const svc = await opts.getService(t.namespace, name);
        if (!svc) throw notFound({ group: '', resource: 'services' }, name);
        const sp = ((svc.spec as { ports?: { name?: string; port: number }[] } | undefined)?.ports ?? []).find((p) => String(p.port) === want);
        if (!sp) throw statusFrom(503, `no service port ${want} found for service "${name}"`);
        portName = sp.name ?? '';
      }
      const ep = await opts.getEndpoints(t.namespace, name);
      const subsets = ((ep?.subsets ?? []) as { addresses?: { ip: string }[]; ports?: { name?: string; port: number }[] }[]).filter((ss) => ss.addresses?.length);
      for (const ss of subsets) {
        const p = (ss.ports ?? []).find((x) => (x.name ?? '') === portName || (!opts.getService && String(x.port) === want));
        if (p) {
          ip = ss.addresses![0].ip;
          port = p.port;
          break;
        }
      }
      if (!ip || !port) throw statusFrom(503, `no endpoints available for service "${name}"`);
    } else {
      const pod = await opts.getPod(t.namespace, name);
      if (!pod) throw notFound(POD_GR, name);
      ip = (pod.status as { podIP?: string } | undefined)?.podIP;
      if (!ip) throw badRequest('address not allowed');
      const cports = ((pod.spec as { containers?: { ports?: { name?: string; containerPort: number }[] }[] })?.containers ?? []).flatMap((c) => c.ports ?? []);
      port = want ? (Number(want) || cports.find((p) => p.name === want)?.containerPort) : (cports[0]?.containerPort ?? 80);
      if (!port) throw badRequest(`no port named ${want} in pod ${name}`);
    }
    const q = t.query.size ? `?${t.query}` : '';
    const mod = scheme === 'https' ? https : http;
    await forward(req, res, (headers, onResponse) =>
      mod.request({ host: ip, port, path: (t.path || '/') + q, method: req.method, headers, rejectUnauthorized: false }, onResponse),
    );
  }

  /**
   * nodes/proxy: HTTPS to the node's kubelet API with the apiserver's kubelet client
   * certificate (`name` or `name:port`; another port or scheme is refused, as the only
   * thing reachable through a node is its kubelet here).
   */
  async function handleNodeProxy(req: IncomingMessage | Http2ServerRequest, res: AnyRes, t: StreamingTarget): Promise<void> {
    const { scheme, name, port: want } = splitProxyName(t.name);
    const r = await kubeletAddress(name);
    if ((want && Number(want) !== r.port) || (t.name.split(':').length === 3 && scheme !== 'https')) {
      throw badRequest(`only the kubelet port (https:${name}:${r.port}) can be proxied to node ${name}`);
    }
    const q = t.query.size ? `?${t.query}` : '';
    await forward(req, res, (headers, onResponse) => https.request({ host: r.host, port: r.port, path: (t.path || '/') + q, method: req.method, headers, ...tls() }, onResponse), {
      destroyOnClose: true,
      onError: (e) => log('kubelet proxy request failed', { host: r.host, error: String(e) }),
    });
  }

  /**
   * Sends the request on to the upstream `open` starts (without the client's credentials,
   * host and hop-by-hop headers) and pipes its answer back; a 503 Status when the upstream
   * cannot be reached. `destroyOnClose`: the upstream request ends when the client goes.
   */
  async function forward(
    req: IncomingMessage | Http2ServerRequest,
    res: AnyRes,
    open: (headers: Record<string, string>, onResponse: (upstream: IncomingMessage) => void) => http.ClientRequest,
    opts: { destroyOnClose?: boolean; onError?: (e: Error) => void } = {},
  ): Promise<void> {
    const headers = { ...(req.headers as Record<string, string>) };
    for (const h of Object.keys(headers)) if (h.startsWith(':') || h === 'authorization' || h === 'host' || HOP_BY_HOP.has(h)) delete headers[h];
    await new Promise<void>((done) => {
      const upstream = open(headers, (ures) => {
        const out = res as ServerResponse;
        const h: Record<string, string | string[]> = {};
        for (const [k, v] of Object.entries(ures.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) h[k] = v;
        out.writeHead(ures.statusCode ?? 502, h);
        ures.pipe(out);
        ures.on('end', () => done());
        ures.on('error', () => done());
      });
      if (opts.destroyOnClose) res.on('close', () => upstream.destroy());
      upstream.on('error', (e) => {
        opts.onError?.(e);
        writeStatus(res, statusFrom(503, `error trying to reach service: ${e.message}`));
        done();
      });
      (req as IncomingMessage).pipe(upstream);
    });
  }

  async function handleStreaming(req: IncomingMessage | Http2ServerRequest, res: AnyRes, t: StreamingTarget): Promise<void> {
    try {
      if (!t.user) throw unauthorized();
      if (t.kind === 'log') return await handleLog(req, res, t);
      if (t.kind === 'proxy') return await handleProxy(req, res, t);
      throw badRequest('Upgrade request required');
    } catch (e) {
      writeStatus(res, toStatus(e));
    }
  }

  async function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, t: StreamingTarget): Promise<void> {
    socket.on('error', () => {});
    // No Nagle's algorithm on the client's connection, as Go's net package gives upstream's
    // apiserver on every TCP connection. The apiserver's HTTP/2 server (its HTTP/1.1 fallback
    // carries these upgrades) leaves it on, and then the 101 can wait in the kernel for the
    // client's ACK of earlier bytes until the command's output, status and close frame are
    // queued behind it: kubectl 1.32 then reads them all with the 101, and its reader, which
    // starts alongside the creation of its streams, can take the output before the stream
    // exists ("Unknown stream id 1, discarding message", "error: closed all streams"). Sent at
    // once, the 101 reaches kubectl while the kubelet is still starting the process, as the
    // upstream apiserver's does while its translator is still dialing the kubelet.
    noDelay(socket);
    try {
      if (!t.user) throw unauthorized();
      if (t.kind !== 'exec' && t.kind !== 'attach' && t.kind !== 'portforward') throw badRequest(`${t.kind} does not support upgrades`);
      const kind = String(req.headers.upgrade ?? '').toLowerCase();
      if (kind !== 'websocket' && kind !== 'spdy/3.1') {
        throw badRequest(`Upgrade: ${req.headers.upgrade} is not supported; use a WebSocket (Sec-WebSocket-Protocol: v5.channel.k8s.io) or SPDY/3.1`);
      }
      const r = await resolve(t, t.kind !== 'portforward');
      const headers: Record<string, string | string[]> = { connection: 'Upgrade', upgrade: kind === 'websocket' ? 'websocket' : 'SPDY/3.1' };
      for (const h of ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'x-stream-protocol-version']) {
        const v = req.headers[h];
        if (v !== undefined) headers[h] = v;
      }
      const kreq = https.request({ host: r.host, port: r.port, path: kubeletPath(t, r), method: kind === 'websocket' ? 'GET' : 'POST', headers, ...tls() });
      socket.on('close', () => kreq.destroy());
      kreq.on('upgrade', (kres, ksock, khead) => {
        // The kubelet leg without Nagle too (Go's default for upstream's proxy).
        noDelay(ksock);
        let headText = `HTTP/1.1 ${kres.statusCode} ${kres.statusMessage}\r\n`;
        for (let i = 0; i < kres.rawHeaders.length; i += 2) headText += `${kres.rawHeaders[i]}: ${kres.rawHeaders[i + 1]}\r\n`;
        socket.write(headText + '\r\n');
        if (khead.length) socket.write(khead);
        if (head.length) ksock.write(head);
        ksock.on('error', () => socket.destroy());
        socket.on('error', () => ksock.destroy());
        ksock.pipe(socket);
        socket.pipe(ksock);
      });
      kreq.on('response', (kres) => {
        let body = '';
        kres.setEncoding('utf8');
        kres.on('data', (d) => (body += d));
        kres.on('end', () => socket.end(statusText(statusFrom(kres.statusCode ?? 500, body.trim() || `kubelet answered ${kres.statusCode}`))));
      });
      kreq.on('error', (e) => {
        if (!socket.destroyed) socket.end(statusText(statusFrom(500, `error dialing kubelet at ${r.host}:${r.port}: ${e.message}`)));
      });
      kreq.end();
    } catch (e) {
      socket.end(statusText(toStatus(e)));
    }
  }

  return { handleStreaming, handleUpgrade };
}
