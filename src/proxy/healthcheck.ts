// Health checks of the service proxy, as kube-proxy serves them (pkg/proxy/healthcheck):
//
//   - ProxyHealth: whether the proxy keeps its rules in step with the API. An update
//     queued (a Service or EndpointSlice change) and not made live within healthTimeout
//     (kube-proxy: 2 × syncPeriod) makes the proxy unhealthy; a successful sync clears it.
//     Healthy while starting. The node is "eligible" unless it is being deleted or carries
//     the cluster autoscaler's ToBeDeletedByClusterAutoscaler taint (last Node state seen;
//     eligible until one is seen).
//   - ProxyHealthzServer (--healthz-bind-address, kube-proxy's 0.0.0.0:10256): GET /healthz
//     is 200 when healthy and the node eligible, else 503; /livez ignores the node. Bodies
//     as kube-proxy 1.32: {"lastUpdated": "<Go time>","currentTime": "<Go time>", "nodeEligible": B}
//     (lastUpdated reads "now" while healthy, for compatibility, as upstream). A port in use
//     is logged and retried every 5 s (kube-proxy without --bind-address-hard-fail).
//   - ServiceHealthServer: one HTTP listener per spec.healthCheckNodePort of the
//     LoadBalancer Services with externalTrafficPolicy Local, so that an external load
//     balancer sends traffic only to nodes with local endpoints. Any path answers 200 when
//     the node has a ready local endpoint (distinct addresses across ports) and the proxy
//     is healthy, else 503, with {"service": {"namespace", "name"}, "localEndpoints": N,
//     "serviceProxyHealthy": B}. A port that cannot be opened is logged and recorded as a
//     FailedToStartServiceHealthcheck Warning event on the Service, and retried at the
//     next sync. Listeners of Services that go away (or change port) are closed, with
//     their open connections.
// What must hold: no listener outlives close(); syncServices calls are not concurrent
// (the proxier runs them inside its serialized sync).

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KObject } from '../api/object.ts';
import type { EventRecorder } from '../client/events.ts';
import type { Logger } from '../client/util.ts';

/** The cluster autoscaler's taint on a node it is about to delete. */
export const TO_BE_DELETED_TAINT = 'ToBeDeletedByClusterAutoscaler';

/** Go's time.Time String() for a UTC time (no monotonic suffix); 0 is Go's zero time. */
export function goTime(ms: number): string {
  if (ms === 0) return '0001-01-01 00:00:00 +0000 UTC';
  const iso = new Date(ms).toISOString();
  const frac = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${frac ? '.' + frac : ''} +0000 UTC`;
}

export interface ProxyHealthOptions {
  /** How long a queued update may wait for a successful sync (kube-proxy: 2 × syncPeriod). */
  healthTimeoutMs: number;
  /** Milliseconds since the epoch (tests pass their own clock). */
  now?: () => number;
}

export interface ProxyHealthStatus {
  healthy: boolean;
  /** Last successful sync (ms since the epoch; 0: never). */
  lastUpdated: number;
  currentTime: number;
}

export class ProxyHealth {
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private lastUpdated = 0;
  /** When the oldest update not yet live was queued; 0: none. */
  private oldestPendingQueued = 0;
  private eligible = true;
  /** HTTP answers by path and code (kubeproxy_healthz_total / kubeproxy_livez_total). */
  readonly served = { healthz: { 200: 0, 503: 0 }, livez: { 200: 0, 503: 0 } };

  constructor(opts: ProxyHealthOptions) {
    this.timeoutMs = opts.healthTimeoutMs;
    this.now = opts.now ?? Date.now;
  }

  /** A change reached the proxy; it must be live within the health timeout. */
  queuedUpdate(): void {
    if (this.oldestPendingQueued === 0) this.oldestPendingQueued = this.now();
  }

  /** The rules reflect everything queued so far. */
  updated(): void {
    this.oldestPendingQueued = 0;
    this.lastUpdated = this.now();
  }

  /** The proxy's own health (the node's eligibility aside). */
  status(): ProxyHealthStatus {
    const currentTime = this.now();
    const healthy = this.oldestPendingQueued === 0 || currentTime - this.oldestPendingQueued < this.timeoutMs;
    return { healthy, lastUpdated: this.lastUpdated, currentTime };
  }

  isHealthy(): boolean {
    return this.status().healthy;
  }

  /** The last state of this node seen (add, update or delete event). */
  syncNode(node: KObject): void {
    const deleting = !!node.metadata.deletionTimestamp;
    const taints: { key?: string }[] = Array.isArray(node.spec?.taints) ? node.spec.taints : [];
    this.eligible = !deleting && !taints.some((t) => t?.key === TO_BE_DELETED_TAINT);
  }

  get nodeEligible(): boolean {
    return this.eligible;
  }
}

function sendJSON(res: ServerResponse, code: number, body: string): void {
  res.writeHead(code, {
    'Content-Type': 'application/json',
    'X-Content-Type-Options': 'nosniff',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** "host:port", "[v6]:port" or ":port" (all addresses). */
export function parseBindAddress(address: string, flag = 'bind address'): { host: string | undefined; port: number } {
  const i = address.lastIndexOf(':');
  if (i < 0) throw new Error(`${flag}: invalid address ${JSON.stringify(address)} (want HOST:PORT)`);
  let host = address.slice(0, i);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const ps = address.slice(i + 1);
  const port = Number(ps);
  if (!/^\d+$/.test(ps) || port > 65535) throw new Error(`${flag}: invalid port in ${JSON.stringify(address)}`);
  return { host: host || undefined, port };
}

function joinHostPort(host: string | undefined, port: number): string {
  const h = host ?? '0.0.0.0';
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}

const BIND_ERRORS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied',
  EADDRNOTAVAIL: 'cannot assign requested address',
};

/** A listen error as Go's net package words it ("listen tcp 0.0.0.0:31000: bind: address already in use"). */
function listenError(e: NodeJS.ErrnoException, host: string | undefined, port: number): string {
  const why = (e.code && BIND_ERRORS[e.code]) ?? e.message;
  return `listen tcp ${joinHostPort(host, port)}: bind: ${why}`;
}

function listen(server: Server, host: string | undefined, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen({ port, host }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Closes the listener and every connection on it (Go's http.Server.Close). */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export interface ProxyHealthzOptions {
  log?: Logger;
  /** Delay between attempts when the address cannot be bound (5 s, as kube-proxy). */
  retryMs?: number;
}

/** kube-proxy's healthz server: /healthz and /livez. Stops when `signal` aborts. */
export class ProxyHealthzServer {
  private readonly health: ProxyHealth;
  private resolveListening!: (a: AddressInfo) => void;
  /** Resolves with the bound address once listening (after retries, if the port was busy). */
  readonly listening: Promise<AddressInfo>;
  private readonly done: Promise<void>;

  constructor(address: string, health: ProxyHealth, signal: AbortSignal, opts: ProxyHealthzOptions = {}) {
    const { host, port } = parseBindAddress(address, '--healthz-bind-address');
    const log = opts.log ?? (() => {});
    this.health = health;
    this.listening = new Promise((r) => (this.resolveListening = r));
    const server = createServer((req, res) => this.handle(req, res));
    this.done = (async () => {
      while (!signal.aborted) {
        try {
          await listen(server, host, port);
          const a = server.address() as AddressInfo;
          log('serving proxy healthz', { address: joinHostPort(a.address, a.port) });
          this.resolveListening(a);
          break;
        } catch (e) {
          log('proxy healthz server failed; retrying', { error: `failed to start proxy healthz on ${address}: ${listenError(e as NodeJS.ErrnoException, host, port)}` });
          await new Promise<void>((r) => {
            const onAbort = () => (clearTimeout(t), r());
            const t = setTimeout(() => (signal.removeEventListener('abort', onAbort), r()), opts.retryMs ?? 5000);
            signal.addEventListener('abort', onAbort, { once: true });
          });
        }
      }
      if (!signal.aborted) await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
      await closeServer(server);
    })();
  }

  /** Resolves once the listener and its connections are closed (after the signal aborts). */
  closed(): Promise<void> {
    return this.done;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' && path !== '/livez') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' }).end('404 page not found\n');
      return;
    }
    const s = this.health.status();
    const nodeEligible = this.health.nodeEligible;
    const healthy = path === '/healthz' ? s.healthy && nodeEligible : s.healthy;
    const code = healthy ? 200 : 503;
    this.health.served[path === '/healthz' ? 'healthz' : 'livez'][code]++;
    // While healthy, lastUpdated reads "now" (older kube-proxies reported every loop run).
    const lastUpdated = goTime(healthy ? s.currentTime : s.lastUpdated);
    const currentTime = goTime(s.currentTime);
    const body =
      path === '/healthz'
        ? `{"lastUpdated": ${JSON.stringify(lastUpdated)},"currentTime": ${JSON.stringify(currentTime)}, "nodeEligible": ${nodeEligible}}`
        : `{"lastUpdated": ${JSON.stringify(lastUpdated)},"currentTime": ${JSON.stringify(currentTime)}}`;
    sendJSON(res, code, body);
  }
}

/** A Service that needs a health check port on this node. */
export interface HealthCheckService {
  namespace: string;
  name: string;
  uid?: string;
  port: number;
}

export interface ServiceHealthServerOptions {
  /** This node's name (messages and events). */
  nodeName: string;
  /** Addresses to listen on; default: all of the node's addresses (one dual-stack listener). */
  bindAddresses?: string[];
  recorder?: EventRecorder;
  log?: Logger;
  /** The proxy's health, reported as serviceProxyHealthy; unhealthy answers 503. */
  proxyHealthy: () => boolean;
}

interface Instance {
  svc: HealthCheckService;
  servers: Server[];
  /** Ready endpoints on this node (distinct addresses). */
  endpoints: number;
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

export class ServiceHealthServer {
  private readonly opts: ServiceHealthServerOptions;
  private readonly log: Logger;
  private readonly services = new Map<string, Instance>();
  private closed = false;

  constructor(opts: ServiceHealthServerOptions) {
    this.opts = opts;
    this.log = opts.log ?? (() => {});
  }

  /**
   * Makes `wanted` the set of open health checks: closes those no longer wanted (or on
   * another port), opens the new ones, leaves the rest alone. A port that cannot be
   * opened is reported and left for the next call to retry.
   */
  async syncServices(wanted: HealthCheckService[]): Promise<void> {
    if (this.closed) return;
    const byKey = new Map(wanted.map((s) => [key(s.namespace, s.name), s]));
    for (const [k, inst] of this.services) {
      const w = byKey.get(k);
      if (!w || w.port !== inst.svc.port) {
        this.services.delete(k);
        this.log('closing healthcheck', { service: k, port: inst.svc.port });
        await Promise.all(inst.servers.map(closeServer));
      }
    }
    for (const [k, svc] of byKey) {
      if (this.services.has(k)) continue;
      this.log('opening healthcheck', { service: k, port: svc.port });
      const inst: Instance = { svc, servers: [], endpoints: 0 };
      const hosts: (string | undefined)[] = this.opts.bindAddresses?.length ? this.opts.bindAddresses : [undefined];
      try {
        for (const host of hosts) {
          const server = createServer((req, res) => this.handle(k, req, res));
          inst.servers.push(server);
          try {
            await listen(server, host, svc.port);
          } catch (e) {
            throw new Error(listenError(e as NodeJS.ErrnoException, host, svc.port));
          }
        }
      } catch (e) {
        // Whatever opened is closed, so that a retry (or another owner of the port) can bind.
        await Promise.all(inst.servers.map(closeServer));
        const err = (e as Error).message;
        const msg = `node ${this.opts.nodeName} failed to start healthcheck ${JSON.stringify(k)} on port ${svc.port}: ${err}`;
        this.opts.recorder?.event({ kind: 'Service', apiVersion: 'v1', namespace: svc.namespace, name: svc.name, uid: svc.uid }, 'Warning', 'FailedToStartServiceHealthcheck', msg);
        this.log('failed to start healthcheck', { node: this.opts.nodeName, service: k, port: svc.port, error: err });
        continue;
      }
      if (this.closed) {
        await Promise.all(inst.servers.map(closeServer));
        return;
      }
      this.services.set(k, inst);
    }
  }

  /** Local ready endpoint counts by "namespace/name"; services missing from the map have none. */
  syncEndpoints(counts: Map<string, number>): void {
    for (const [k, inst] of this.services) inst.endpoints = counts.get(k) ?? 0;
  }

  /** "namespace/name" → port of the health checks that are listening. */
  listening(): Map<string, number> {
    return new Map([...this.services].map(([k, i]) => [k, i.svc.port]));
  }

  /** Closes every listener; later syncs open nothing. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.services.values()];
    this.services.clear();
    await Promise.all(all.flatMap((i) => i.servers.map(closeServer)));
  }

  private handle(k: string, req: IncomingMessage, res: ServerResponse): void {
    const inst = this.services.get(k);
    if (!inst) {
      // A request racing the close of its listener: tell the load balancer no.
      res.writeHead(503).end();
      return;
    }
    const healthy = this.opts.proxyHealthy();
    const count = inst.endpoints;
    const body = JSON.stringify({ service: { namespace: inst.svc.namespace, name: inst.svc.name }, localEndpoints: count, serviceProxyHealthy: healthy }, null, '\t');
    sendJSON(res, count !== 0 && healthy ? 200 : 503, body);
  }
}
