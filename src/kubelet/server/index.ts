// The kubelet's HTTPS API (port 10250): /healthz, /pods, /containerLogs, /stats/summary,
// /metrics and /metrics/resource (figures from src/kubelet/stats), and the streaming
// endpoints /exec, /attach, /portForward that the apiserver proxies kubectl's pods/log,
// exec, attach and portforward to.
//
// exec/attach speak WebSocket `v5.channel.k8s.io` to their caller (the apiserver passes
// kubectl's upgrade through unchanged) and bridge to the container runtime's streaming
// server (the URL CRI Exec/Attach return) over SPDY/3.1 with `v4.channel.k8s.io` (one
// SPDY stream per channel, so closing stdin is a FIN on the stdin stream).
// portForward takes kubectl's `SPDY/3.1+portforward.k8s.io` (SPDY inside WebSocket
// messages) or client-node's channel WebSocket (`?ports=P`), and reaches the pod's ports
// through the runtime's port-forward URL (one WebSocket `v4.channel.k8s.io` per connection).

import https from 'node:https';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { KObject } from '../../api/object.ts';
import type { CriClient } from '../cri/client.ts';
import { streamLog, type LogOptions } from './logs.ts';
import { acceptWebSocket, isWebSocketRequest, offeredProtocols, rejectUpgrade, type WebSocketConn } from './websocket.ts';
import { SpdyConn, type SpdyStream } from './spdy.ts';
import { SummaryProvider } from '../stats/summary.ts';
import { KubeletMetrics, renderResourceMetrics, type RuntimeCounts } from '../stats/metrics.ts';

/** What the kubelet gives its API: its pods and where their containers and logs are. */
export interface PodSource {
  getPod(namespace: string, name: string): KObject | undefined;
  /** The CRI log file of the container's current (or, with previous, last terminated) attempt. */
  logPath(pod: KObject, container: string, previous: boolean): string | undefined;
  /** The runtime's id of the container's current attempt. */
  containerID(pod: KObject, container: string): string | undefined;
  /** The pod sandbox id (port-forward). */
  sandboxID?(pod: KObject): string | undefined;
  /** All pods bound to this node (/pods); getPod-only sources serve an empty list. */
  listPods?(): KObject[];
  runtime: CriClient;
}

export interface KubeletServerOptions {
  pods: PodSource;
  /** Serving certificate and key (PEM). */
  cert: string;
  key: string;
  /** CA for client certificates (the apiserver's kubelet client cert). */
  clientCA?: string;
  /** Refuse requests without a verified client certificate (default true when clientCA is set). */
  requireClientCert?: boolean;
  /** 10250 by default; 0 picks a free port. */
  port?: number;
  /** 0.0.0.0 by default. */
  address?: string;
  /** The node's name and the kubelet's root dir: with both, /stats/summary and /metrics/resource are served. */
  nodeName?: string;
  rootDir?: string;
  /** Stats housekeeping interval (default 10 s). */
  housekeepingMs?: number;
  /** The container runtime's pid, when known: the Summary's "runtime" system container. */
  runtimePid?: () => number | undefined;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export interface KubeletServer {
  port: number;
  close(): Promise<void>;
}

/** The channel protocol kubectl 1.32 and the apiserver speak; v4 is what containerd's streaming server speaks. */
export const V5 = 'v5.channel.k8s.io';
const V4 = 'v4.channel.k8s.io';

const SPDY_PF = 'SPDY/3.1+portforward.k8s.io';

/** An HTTP/1.1 upgrade to SPDY/3.1 on a runtime streaming URL, as a SPDY client. */
function dialSpdy(url: string, protocol: string): Promise<SpdyConn> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = (u.protocol === 'https:' ? https : http).request({
      host: u.hostname,
      port: u.port,
      path: u.pathname + u.search,
      method: 'POST',
      headers: { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': protocol },
      rejectUnauthorized: false,
    });
    req.on('upgrade', (res, socket, head) => {
      if (head.length) socket.unshift(head);
      resolve(new SpdyConn(socket, true));
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => reject(new Error(`runtime streaming server answered ${res.statusCode}: ${body.trim()}`)));
    });
    req.on('error', reject);
    req.end();
  });
}

function boolQ(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  return v === 'true' || v === '1';
}

function intQ(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? Math.trunc(n) : undefined;
}

function containerNames(pod: KObject): string[] {
  const spec = (pod.spec ?? {}) as { containers?: { name: string }[]; initContainers?: { name: string }[]; ephemeralContainers?: { name: string }[] };
  return [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])].map((c) => c.name);
}

class HttpError extends Error {
  code: number;
  constructor(code: number, msg: string) {
    super(msg);
    this.code = code;
  }
}

export async function startKubeletServer(opts: KubeletServerOptions): Promise<KubeletServer> {
  const log = opts.log ?? (() => {});
  const requireCert = opts.requireClientCert ?? opts.clientCA !== undefined;
  const server = https.createServer({
    cert: opts.cert,
    key: opts.key,
    ca: opts.clientCA,
    requestCert: opts.clientCA !== undefined,
    rejectUnauthorized: false,
  });
  const pods = opts.pods;
  const housekeeping = new AbortController();
  const stats = opts.nodeName !== undefined && opts.rootDir !== undefined
    ? new SummaryProvider({ nodeName: opts.nodeName, rootDir: opts.rootDir, pods, housekeepingMs: opts.housekeepingMs, runtimePid: opts.runtimePid, log })
    : undefined;
  const metrics = new KubeletMetrics(opts.nodeName ?? '');
  stats?.start(housekeeping.signal);
  {
    const t = setInterval(() => metrics.observePods(pods.listPods?.() ?? []), opts.housekeepingMs ?? 10_000);
    t.unref();
    housekeeping.signal.addEventListener('abort', () => clearInterval(t), { once: true });
  }

  /** Pods with a ready sandbox and containers by state, as the runtime reports them. */
  const runtimeCounts = async (): Promise<RuntimeCounts | undefined> => {
    try {
      const [sandboxes, containers] = await Promise.all([pods.runtime.listPodSandbox(undefined, { timeoutMs: 5000 }), pods.runtime.listContainers(undefined, { timeoutMs: 5000 })]);
      const counts: Record<string, number> = { created: 0, exited: 0, running: 0, unknown: 0 };
      const state: Record<string, string> = { CONTAINER_CREATED: 'created', CONTAINER_RUNNING: 'running', CONTAINER_EXITED: 'exited' };
      for (const c of containers) counts[state[String(c.state)] ?? 'unknown']++;
      return { runningPods: sandboxes.filter((s) => String(s.state) === 'SANDBOX_READY').length, containers: counts };
    } catch {
      return undefined;
    }
  };

  const authorized = (req: IncomingMessage) => !requireCert || (req.socket as TLSSocket).authorized === true;

  /** ns/pod/container from the path, with the pod and container checked. */
  const target = (segs: string[]): { pod: KObject; container: string } => {
    // /x/{ns}/{pod}/{container} or /x/{ns}/{pod}/{uid}/{container}
    const [ns, name] = segs;
    const container = segs.length >= 4 ? segs[3] : segs[2];
    const pod = ns && name ? pods.getPod(ns, name) : undefined;
    if (!pod) throw new HttpError(404, `pod ${ns}/${name} not found`);
    if (container !== undefined && !containerNames(pod).includes(container)) {
      throw new HttpError(404, `container ${container} is not valid for pod ${name}`);
    }
    return { pod, container: container ?? '' };
  };

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!authorized(req)) throw new HttpError(401, 'Unauthorized');
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    metrics.request(req.method ?? 'GET', url.pathname, boolQ(url.searchParams, 'follow'));
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      return void res.end('ok');
    }
    if (url.pathname === '/pods' || url.pathname === '/pods/') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: {}, items: pods.listPods?.() ?? [] }));
    }
    if (url.pathname === '/stats/summary' || url.pathname === '/metrics' || url.pathname === '/metrics/resource') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} is not allowed on ${url.pathname}`);
      if (url.pathname === '/metrics') {
        metrics.observePods(pods.listPods?.() ?? []);
        const text = metrics.render(await runtimeCounts());
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return void res.end(text);
      }
      if (!stats) throw new HttpError(404, 'stats are not served by this kubelet (no node name and root dir)');
      if (url.pathname === '/metrics/resource') {
        const summary = await stats.summary({ onlyCpuAndMemory: true }).catch((e) => {
          log('stats summary failed', { error: String(e) });
          return undefined;
        });
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        return void res.end(renderResourceMetrics(summary));
      }
      const summary = await stats.summary({ onlyCpuAndMemory: boolQ(url.searchParams, 'only_cpu_and_memory') });
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify(summary));
    }
    if (segs[0] === 'containerLogs' && segs.length === 4) {
      const { pod, container } = target(segs.slice(1));
      return serveLogs(req, res, url.searchParams, pod, container);
    }
    if (segs[0] === 'exec' || segs[0] === 'attach' || segs[0] === 'portForward') {
      throw new HttpError(400, `${segs[0]} needs a WebSocket upgrade (Upgrade: websocket, Sec-WebSocket-Protocol: ${V5})`);
    }
    throw new HttpError(404, 'not found');
  }

  async function serveLogs(req: IncomingMessage, res: ServerResponse, q: URLSearchParams, pod: KObject, container: string): Promise<void> {
    const previous = boolQ(q, 'previous');
    const file = pods.logPath(pod, container, previous);
    if (!file) {
      const name = pod.metadata?.name;
      throw new HttpError(400, previous ? `previous terminated container "${container}" in pod "${name}" not found` : `container "${container}" in pod "${name}" is waiting to start`);
    }
    const o: LogOptions = {
      follow: boolQ(q, 'follow'),
      timestamps: boolQ(q, 'timestamps'),
      tailLines: intQ(q, 'tailLines'),
      limitBytes: intQ(q, 'limitBytes'),
    };
    const since = intQ(q, 'sinceSeconds');
    if (since !== undefined) o.sinceMs = Date.now() - since * 1000;
    const sinceTime = q.get('sinceTime');
    if (sinceTime) o.sinceMs = Date.parse(sinceTime);
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    const id = pods.containerID(pod, container);
    const running = async () => {
      if (previous || !id) return false;
      try {
        return (await pods.runtime.containerStatus(id)).status?.state === 'CONTAINER_RUNNING';
      } catch {
        return false;
      }
    };
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
    };
    if (o.follow) start();
    await streamLog(
      file,
      o,
      (s) => {
        start();
        if (!res.write(s)) return new Promise<void>((r) => res.once('drain', () => r()));
      },
      abort.signal,
      running,
    );
    start();
    res.end();
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => {});
    try {
      if (!authorized(req)) throw new HttpError(401, 'Unauthorized');
      const url = new URL(req.url ?? '/', 'https://kubelet');
      const segs = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      const q = url.searchParams;
      metrics.request(req.method ?? 'GET', url.pathname, true);
      if (String(req.headers.upgrade ?? '').toLowerCase() === 'spdy/3.1') {
        // kubectl's fallback: raw SPDY, passed through to the runtime's streaming server as is.
        return void spdyPassThrough(req, socket, head, segs, q).catch((e) => {
          rejectUpgrade(socket, e instanceof HttpError ? e.code : 500, (e as Error).message);
        });
      }
      if (!isWebSocketRequest(req)) throw new HttpError(400, 'only WebSocket and SPDY/3.1 upgrades are supported');
      if (segs[0] === 'exec' || segs[0] === 'attach') {
        if (!offeredProtocols(req).includes(V5)) throw new HttpError(400, `subprotocol ${V5} required`);
        const { pod, container } = target(segs.slice(1));
        const id = pods.containerID(pod, container);
        if (!id) throw new HttpError(400, `container ${container} is not running`);
        const tty = boolQ(q, 'tty');
        const io = { stdin: boolQ(q, 'stdin'), stdout: boolQ(q, 'stdout'), stderr: boolQ(q, 'stderr') && !tty, tty };
        const ws = acceptWebSocket(req, socket, head, V5);
        const urlP =
          segs[0] === 'exec'
            ? pods.runtime.exec({ containerId: id, cmd: q.getAll('command'), ...io })
            : pods.runtime.attach({ containerId: id, ...io });
        bridgeSpdy(ws, urlP, io);
        return;
      }
      if (segs[0] === 'portForward') {
        // The client-node form: ?ports=P, one data and one error channel per port.
        const ns = segs[1];
        const name = segs[2];
        const pod = ns && name ? pods.getPod(ns, name) : undefined;
        if (!pod) throw new HttpError(404, `pod ${ns}/${name} not found`);
        const sandbox = pods.sandboxID?.(pod);
        if (!sandbox) throw new HttpError(400, `pod ${name} has no sandbox`);
        const offered = offeredProtocols(req);
        if (offered.includes(SPDY_PF)) {
          const ws = acceptWebSocket(req, socket, head, SPDY_PF);
          servePortForwardSpdy(ws, sandbox);
          return;
        }
        const ports = q.getAll('port').concat(q.getAll('ports')).flatMap((p) => p.split(',')).map(Number).filter((p) => p > 0 && p < 65536);
        if (!ports.length) throw new HttpError(400, 'query parameter "port" is required');
        const proto = offered.find((p) => p === V4 || p === 'portforward.k8s.io' || p === 'v4.channel.k8s.io') ?? offered[0];
        const ws = acceptWebSocket(req, socket, head, proto);
        const criUrl = pods.runtime.portForward({ podSandboxId: sandbox, port: ports }).then((u) => {
          const x = new URL(u);
          for (const p of ports) x.searchParams.append('port', String(p));
          return x.toString();
        });
        bridge(ws, criUrl, [V4], {});
        return;
      }
      throw new HttpError(404, 'not found');
    } catch (e) {
      const code = e instanceof HttpError ? e.code : 500;
      rejectUpgrade(socket, code, (e as Error).message);
    }
  }

  async function spdyPassThrough(req: IncomingMessage, socket: Duplex, head: Buffer, segs: string[], q: URLSearchParams): Promise<void> {
    let criUrl: string;
    if (segs[0] === 'exec' || segs[0] === 'attach') {
      const { pod, container } = target(segs.slice(1));
      const id = pods.containerID(pod, container);
      if (!id) throw new HttpError(400, `container ${container} is not running`);
      const tty = boolQ(q, 'tty');
      const io = { stdin: boolQ(q, 'stdin'), stdout: boolQ(q, 'stdout'), stderr: boolQ(q, 'stderr') && !tty, tty };
      criUrl = segs[0] === 'exec' ? await pods.runtime.exec({ containerId: id, cmd: q.getAll('command'), ...io }) : await pods.runtime.attach({ containerId: id, ...io });
    } else if (segs[0] === 'portForward') {
      const pod = segs[1] && segs[2] ? pods.getPod(segs[1], segs[2]) : undefined;
      if (!pod) throw new HttpError(404, `pod ${segs[1]}/${segs[2]} not found`);
      const sandbox = pods.sandboxID?.(pod);
      if (!sandbox) throw new HttpError(400, `pod ${segs[2]} has no sandbox`);
      criUrl = await pods.runtime.portForward({ podSandboxId: sandbox });
    } else {
      throw new HttpError(404, 'not found');
    }
    const u = new URL(criUrl);
    const headers: Record<string, string | string[]> = { Connection: 'Upgrade', Upgrade: 'SPDY/3.1' };
    const v = req.headers['x-stream-protocol-version'];
    if (v !== undefined) headers['X-Stream-Protocol-Version'] = v;
    const up = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', headers });
    socket.on('close', () => up.destroy());
    up.on('upgrade', (res, rsock, rhead) => {
      let text = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n`;
      for (let i = 0; i < res.rawHeaders.length; i += 2) text += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
      socket.write(text + '\r\n');
      if (rhead.length) socket.write(rhead);
      if (head.length) rsock.write(head);
      rsock.on('error', () => socket.destroy());
      rsock.pipe(socket);
      socket.pipe(rsock);
    });
    up.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => rejectUpgrade(socket, res.statusCode === 400 ? 400 : 502, body.trim() || `runtime answered ${res.statusCode}`));
    });
    up.on('error', (e) => rejectUpgrade(socket, 502, e.message));
    up.end();
  }

  /**
   * exec/attach: our WebSocket (v5 channels) to the runtime's streaming server over SPDY
   * (v4: error, stdin, stdout, stderr, resize streams).
   */
  function bridgeSpdy(ws: WebSocketConn, criUrl: Promise<string>, io: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): void {
    const pending: Buffer[] = [];
    let conn: SpdyConn | undefined;
    let streams: { stdin?: SpdyStream; resize?: SpdyStream } = {};
    let status = '';
    let done = false;
    const deliver = (data: Buffer) => {
      const ch = data[0];
      const payload = data.subarray(1);
      if (ch === 0) streams.stdin?.write(payload);
      else if (ch === 4) streams.resize?.write(payload);
      else if (ch === 255 && payload[0] === 0) streams.stdin?.end();
    };
    const finish = () => {
      if (done) return;
      done = true;
      const s = status.trim() || JSON.stringify({ metadata: {}, status: 'Success' });
      ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(s)]));
      ws.close(1000);
      conn?.close();
    };
    ws.on('message', (data, binary) => {
      if (!binary) return finish();
      if (conn) deliver(data);
      else pending.push(data);
    });
    ws.on('close', () => {
      done = true;
      conn?.close();
    });
    criUrl
      .then(async (u) => {
        if (done) return;
        conn = await dialSpdy(u, 'v4.channel.k8s.io');
        const c = conn;
        const err = c.openStream({ streamtype: 'error' });
        err.on('data', (d) => (status += d.toString()));
        if (io.stdin) streams.stdin = c.openStream({ streamtype: 'stdin' });
        // Output waits for kubectl: the runtime's socket pauses while ours is full.
        const out = (ch: number) => (d: Buffer) => {
          if (!ws.send(Buffer.concat([Buffer.from([ch]), d])) && !c.socket.isPaused()) {
            c.socket.pause();
            ws.socket.once('drain', () => c.socket.resume());
          }
        };
        if (io.stdout) c.openStream({ streamtype: 'stdout' }).on('data', out(1));
        if (io.stderr) c.openStream({ streamtype: 'stderr' }).on('data', out(2));
        if (io.tty) streams.resize = c.openStream({ streamtype: 'resize' });
        for (const d of pending.splice(0)) deliver(d);
        c.on('close', finish);
        if (done) c.close();
      })
      .catch((e) => {
        log('runtime refused the stream', { error: String(e) });
        status = JSON.stringify({ metadata: {}, status: 'Failure', message: String((e as Error).message ?? e), reason: 'InternalError', code: 500 });
        finish();
      });
  }

  /** kubectl's port-forward: SPDY streams (error + data per connection, headers port and requestid) inside WebSocket messages. */
  function servePortForwardSpdy(ws: WebSocketConn, sandbox: string): void {
    const tunnel = new Duplex({
      read() {},
      write(chunk: Buffer, _enc, cb) {
        ws.send(chunk);
        cb();
      },
    });
    ws.on('message', (d) => tunnel.push(d));
    ws.on('close', () => {
      tunnel.push(null);
      tunnel.destroy();
    });
    const conn = new SpdyConn(tunnel, false);
    conn.on('error', () => ws.close(1011));
    conn.on('close', () => ws.close(1000));
    const errors = new Map<string, SpdyStream>();
    conn.on('stream', (s) => {
      s.reply({});
      const rid = s.headers.requestid ?? '';
      if (s.headers.streamtype === 'error') {
        errors.set(rid, s);
        s.on('close', () => errors.delete(rid));
        return;
      }
      if (s.headers.streamtype !== 'data') return s.reset();
      const port = Number(s.headers.port);
      const pending: Buffer[] = [];
      let up: WebSocket | undefined;
      let ended = false;
      s.on('data', (d) => {
        const m = Buffer.concat([Buffer.from([0]), d]);
        if (up?.readyState === WebSocket.OPEN) up.send(m);
        else pending.push(m);
      });
      s.on('end', () => {
        ended = true;
        try {
          up?.close();
        } catch {
          // closed
        }
      });
      const fail = (msg: string) => {
        const e = errors.get(rid);
        e?.write(Buffer.from(msg));
        e?.end();
        s.end();
      };
      pods.runtime
        .portForward({ podSandboxId: sandbox, port: [port] })
        .then((u) => {
          if (ended) return;
          const x = new URL(u.replace(/^http/, 'ws'));
          x.searchParams.set('port', String(port));
          const w = new WebSocket(x.toString(), [V4]);
          up = w;
          w.binaryType = 'arraybuffer';
          const skip = [2, 2];
          w.addEventListener('open', () => {
            for (const m of pending.splice(0)) w.send(m);
          });
          w.addEventListener('message', (ev) => {
            let d = Buffer.from(ev.data as ArrayBuffer);
            const ch = d[0];
            d = d.subarray(1);
            if (ch > 1) return;
            const n = Math.min(skip[ch], d.length);
            skip[ch] -= n;
            d = d.subarray(n);
            if (!d.length) return;
            if (ch === 0) s.write(d);
            else errors.get(rid)?.write(d);
          });
          w.addEventListener('close', () => {
            s.end();
            errors.get(rid)?.end();
          });
          w.addEventListener('error', () => fail(`error forwarding port ${port} to pod sandbox ${sandbox}`));
        })
        .catch((e) => fail(String((e as Error).message ?? e)));
    });
  }

  /** Joins our WebSocket with the runtime's streaming server, message for message. */
  function bridge(ws: WebSocketConn, criUrl: Promise<string>, protocols: string[], o: { dropChannel?: number }): void {
    const pending: Buffer[] = [];
    let upstream: WebSocket | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      ws.close(1000);
      try {
        upstream?.close();
      } catch {
        // already closed
      }
    };
    ws.on('message', (data, binary) => {
      if (!binary) return finish();
      if (o.dropChannel !== undefined && data[0] === o.dropChannel) return;
      if (upstream?.readyState === WebSocket.OPEN) upstream.send(data);
      else pending.push(data);
    });
    ws.on('close', () => {
      done = true;
      try {
        upstream?.close();
      } catch {
        // already closed
      }
    });
    criUrl.then(
      (u) => {
        if (done) return;
        const up = new WebSocket(u.replace(/^http/, 'ws'), protocols);
        upstream = up;
        up.binaryType = 'arraybuffer';
        up.addEventListener('open', () => {
          for (const d of pending.splice(0)) up.send(d);
        });
        up.addEventListener('message', (ev) => {
          const d = Buffer.from(ev.data as ArrayBuffer);
          if (d.length <= 1 && o.dropChannel !== undefined) return; // the runtime's empty opening message per channel
          ws.send(d);
        });
        up.addEventListener('close', () => finish());
        up.addEventListener('error', (ev) => {
          log('runtime stream failed', { url: u, error: String((ev as Event & { message?: string }).message ?? ev.type) });
          finish();
        });
      },
      (e) => {
        log('runtime refused the stream', { error: String(e) });
        const status = { metadata: {}, status: 'Failure', message: String((e as Error).message ?? e), reason: 'InternalError', code: 500 };
        ws.send(Buffer.concat([Buffer.from([3]), Buffer.from(JSON.stringify(status))]));
        finish();
      },
    );
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    onRequest(req, res).catch((e) => {
      const code = e instanceof HttpError ? e.code : 500;
      if (!(e instanceof HttpError)) log('request failed', { url: req.url, error: String((e as Error)?.stack ?? e) });
      if (!res.headersSent) {
        res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8' });
        res.end((e as Error).message);
      } else {
        res.destroy();
      }
    });
  });
  server.on('upgrade', onUpgrade);
  server.on('tlsClientError', () => {});
  const sockets = new Set<Duplex>();
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 10250, opts.address ?? '0.0.0.0', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  log('kubelet server serving', { port });
  return {
    port,
    async close() {
      housekeeping.abort();
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
