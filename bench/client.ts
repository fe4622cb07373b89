// The load generator the benchmarks share: one small client over HTTP/1.1 keep-alive
// (an https.Agent with a socket per in-flight request) or HTTP/2 (streams over a few
// sessions, as client-go multiplexes), so the apiserver and the bare baseline server are
// driven by exactly the same code, protocol, TLS and concurrency.

import http2 from 'node:http2';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Protocol = 'h1' | 'h2';

export interface Credentials {
  caCertPem: string;
  clientCertPem: string;
  clientKeyPem: string;
}

/** The admin credentials under a Skiff data dir (<data-dir>/pki, kubeadm's layout). */
export function readAdminCredentials(dataDir: string): Credentials {
  const pki = join(dataDir, 'pki');
  return {
    caCertPem: readFileSync(join(pki, 'ca.crt'), 'utf8'),
    clientCertPem: readFileSync(join(pki, 'admin.crt'), 'utf8'),
    clientKeyPem: readFileSync(join(pki, 'admin.key'), 'utf8'),
  };
}

export interface Response {
  status: number;
  body: string;
  bytes: number;
}

export interface RequestOptions {
  body?: string;
  headers?: Record<string, string>;
  /** Count the body's bytes but do not keep it (large lists). */
  discardBody?: boolean;
}

export interface StreamHandle {
  /** Resolves with the status once response headers arrived (the watch is registered). */
  ready: Promise<number>;
  close(): void;
}

export interface Client {
  readonly protocol: Protocol;
  request(method: string, path: string, opts?: RequestOptions): Promise<Response>;
  /** A long-lived GET (a watch); onData sees every chunk as it arrives. */
  stream(path: string, onData: (chunk: Buffer) => void): StreamHandle;
  close(): void;
}

export interface ClientOptions {
  protocol: Protocol;
  /** h1: the socket pool size (maxSockets). */
  maxSockets?: number;
  /** h2: how many sessions to spread streams over, round-robin (default 1, as client-go). */
  sessions?: number;
}

export function createClient(baseUrl: string, creds: Credentials, opts: ClientOptions): Client {
  return opts.protocol === 'h1' ? h1Client(baseUrl, creds, opts.maxSockets ?? 32) : h2Client(baseUrl, creds, opts.sessions ?? 1);
}

function h1Client(baseUrl: string, creds: Credentials, maxSockets: number): Client {
  const url = new URL(baseUrl);
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets,
    maxFreeSockets: maxSockets,
    ca: creds.caCertPem,
    cert: creds.clientCertPem,
    key: creds.clientKeyPem,
  });
  const base = { hostname: url.hostname, port: url.port, agent };
  return {
    protocol: 'h1',
    request(method, path, opts = {}) {
      return new Promise((resolve, reject) => {
        const headers: Record<string, string | number> = { accept: 'application/json', ...opts.headers };
        if (opts.body !== undefined) {
          headers['content-type'] ??= 'application/json';
          headers['content-length'] = Buffer.byteLength(opts.body);
        }
        const req = https.request({ ...base, method, path, headers }, (res) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          res.on('data', (c: Buffer) => {
            bytes += c.length;
            if (!opts.discardBody) chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), bytes }));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.end(opts.body);
      });
    },
    stream(path, onData) {
      let req: ReturnType<typeof https.request> | undefined;
      const ready = new Promise<number>((resolve, reject) => {
        // A watch holds its socket for as long as it lives: give it its own connection
        // (agent: false), so watches never queue behind the pool's maxSockets.
        req = https.request(
          { ...base, agent: false, ca: creds.caCertPem, cert: creds.clientCertPem, key: creds.clientKeyPem, method: 'GET', path, headers: { accept: 'application/json' } },
          (res) => {
            res.on('data', onData);
            res.on('error', () => {});
            resolve(res.statusCode ?? 0);
          },
        );
        req.on('error', reject);
        req.end();
      });
      return { ready, close: () => req?.destroy() };
    },
    close() {
      agent.destroy();
    },
  };
}

function h2Client(baseUrl: string, creds: Credentials, sessionCount: number): Client {
  const connect = () =>
    http2.connect(baseUrl, { ca: creds.caCertPem, cert: creds.clientCertPem, key: creds.clientKeyPem }).on('error', () => {});
  const sessions = Array.from({ length: sessionCount }, connect);
  let next = 0;
  const pick = () => sessions[next++ % sessions.length];
  return {
    protocol: 'h2',
    request(method, path, opts = {}) {
      return new Promise((resolve, reject) => {
        const headers: http2.OutgoingHttpHeaders = { ':method': method, ':path': path, accept: 'application/json', ...opts.headers };
        if (opts.body !== undefined) {
          headers['content-type'] ??= 'application/json';
          headers['content-length'] = Buffer.byteLength(opts.body);
        }
        const stream = pick().request(headers, { endStream: opts.body === undefined });
        let status = 0;
        const chunks: Buffer[] = [];
        let bytes = 0;
        stream.on('response', (h) => (status = Number(h[':status'])));
        stream.on('data', (c: Buffer) => {
          bytes += c.length;
          if (!opts.discardBody) chunks.push(c);
        });
        stream.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString('utf8'), bytes }));
        stream.on('error', reject);
        if (opts.body !== undefined) stream.end(opts.body);
      });
    },
    stream(path, onData) {
      const stream = pick().request({ ':method': 'GET', ':path': path, accept: 'application/json' });
      const ready = new Promise<number>((resolve, reject) => {
        stream.on('response', (h) => resolve(Number(h[':status'])));
        stream.on('error', reject);
      });
      stream.on('data', onData);
      return { ready, close: () => stream.close(http2.constants.NGHTTP2_CANCEL) };
    },
    close() {
      for (const s of sessions) s.destroy();
    },
  };
}

/**
 * Runs `count` calls of `f(i)` with exactly `concurrency` in flight; returns the wall
 * time and each call's latency (ms). A call that throws fails the run: benchmark numbers
 * over failed requests would be meaningless.
 */
export async function runConcurrent(
  { count, concurrency }: { count: number; concurrency: number },
  f: (i: number) => Promise<void>,
): Promise<{ seconds: number; latenciesMs: Float64Array }> {
  const latenciesMs = new Float64Array(count);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        const t = performance.now();
        await f(i);
        latenciesMs[i] = performance.now() - t;
      }
    }),
  );
  return { seconds: (performance.now() - start) / 1000, latenciesMs };
}

/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = Float64Array.from(samples).sort();
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}
