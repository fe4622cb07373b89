// Test fixtures for the client's own tests: an apiserver on port 0 with a temp data
// dir, clients over both transports, restart on the same data dir and port, and
// polling helpers. Integration tier: a real apiserver, no mocks.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApiServer, type ApiServer } from '../apiserver/server.ts';
import { httpsTransport } from './https.ts';
import { inProcessTransport } from './inprocess.ts';
import { parseKubeconfig } from './kubeconfig.ts';
import { readFileSync } from 'node:fs';
import { createClient } from './rest.ts';
import type { Client, Transport } from './types.ts';

export const ADMIN = { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };

export interface ClientTestServer {
  server: ApiServer;
  dir: string;
  /** Closes the apiserver and starts a new one on the same data dir and port. */
  restart(): Promise<ApiServer>;
  /** A transport of the kind named; in-process ones follow restarts. */
  transport(kind: 'https' | 'inprocess'): Transport;
  client(kind: 'https' | 'inprocess'): Client;
  close(): Promise<void>;
}

export async function startClientTestServer(): Promise<ClientTestServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'skiff-client-'));
  const start = (port: number) =>
    startApiServer({ dataDir: path.join(dir, 'data'), bindAddress: '127.0.0.1', bindPort: port, advertiseAddress: '127.0.0.1' });
  let server = await start(0);
  const transports: Transport[] = [];
  const t: ClientTestServer = {
    get server() {
      return server;
    },
    dir,
    async restart() {
      const port = server.port;
      await server.close();
      server = await start(port);
      return server;
    },
    transport(kind) {
      const tr =
        kind === 'https'
          ? httpsTransport(parseKubeconfig(readFileSync(server.kubeconfigPath, 'utf8'), { path: server.kubeconfigPath }))
          : inProcessTransport({ serve: (req, res) => server.serve(req, res) }, ADMIN);
      transports.push(tr);
      return tr;
    },
    client(kind) {
      return createClient(t.transport(kind));
    },
    async close() {
      for (const tr of transports) tr.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** Polls `check` until it returns a value other than undefined/false, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A transport that can be cut from the server, as a network partition: cut() ends
 * every open stream and fails requests until heal(). Records each request's
 * method and path.
 */
export class PartitionableTransport implements Transport {
  readonly requests: string[] = [];
  private readonly inner: Transport;
  private down = false;
  private readonly streams = new Set<AbortController>();

  constructor(inner: Transport) {
    this.inner = inner;
  }

  cut(): void {
    this.down = true;
    for (const ac of this.streams) ac.abort();
    this.streams.clear();
  }

  heal(): void {
    this.down = false;
  }

  /** Ends open streams without failing later requests (a connection reset). */
  reset(): void {
    for (const ac of this.streams) ac.abort();
    this.streams.clear();
  }

  count(method: string, pattern: RegExp): number {
    return this.requests.filter((r) => r.startsWith(method + ' ') && pattern.test(r)).length;
  }

  async request(req: Parameters<Transport['request']>[0]): ReturnType<Transport['request']> {
    this.requests.push(`${req.method} ${req.path}`);
    if (this.down) throw new Error('connect ECONNREFUSED (test partition)');
    return await this.inner.request(req);
  }

  async stream(req: Parameters<Transport['stream']>[0]): ReturnType<Transport['stream']> {
    this.requests.push(`${req.method} ${req.path}`);
    if (this.down) throw new Error('connect ECONNREFUSED (test partition)');
    const ac = new AbortController();
    this.streams.add(ac);
    const signal = AbortSignal.any([req.signal, ac.signal]);
    try {
      const r = await this.inner.stream({ ...req, signal });
      const streams = this.streams;
      return {
        status: r.status,
        lines: (async function* () {
          try {
            for await (const l of r.lines) yield l;
          } finally {
            streams.delete(ac);
          }
        })(),
      };
    } catch (e) {
      this.streams.delete(ac);
      throw e;
    }
  }

  close(): void {
    this.inner.close();
  }
}
