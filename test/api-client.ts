// A minimal HTTPS client for tests that talk to the API without kubectl: admin client
// certificate from a kubeconfig, keep-alive, JSON in and out.

import https from 'node:https';
import { readFileSync } from 'node:fs';
import { parseKubeconfig } from '../src/client/kubeconfig.ts';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export class TestApiClient {
  readonly base: URL;
  private readonly agent: https.Agent;

  constructor(kubeconfigPath: string) {
    const kc = parseKubeconfig(readFileSync(kubeconfigPath, 'utf8'), { path: kubeconfigPath });
    this.base = new URL(kc.server);
    this.agent = new https.Agent({
      keepAlive: true,
      ca: kc.caCertPem,
      cert: kc.clientCertPem,
      key: kc.clientKeyPem,
    });
  }

  request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
    const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = https.request(
        new URL(path, this.base),
        {
          method,
          agent: this.agent,
          // Node sends DELETE bodies without framing unless the length is given.
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-length': String(Buffer.byteLength(payload)) }),
            ...headers,
          },
        },
        (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (d) => (data += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  async json(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any }> {
    const r = await this.request(method, path, body, headers);
    let parsed: unknown = r.body;
    try {
      parsed = JSON.parse(r.body);
    } catch {
      // Non-JSON bodies (health, metrics) stay text.
    }
    return { status: r.status, body: parsed };
  }

  /** Opens a watch and collects events until `until` returns true or the timeout passes. */
  watch(path: string, until: (events: any[]) => boolean, timeoutMs = 10_000): Promise<{ status: number; events: any[] }> {
    return new Promise((resolve, reject) => {
      const events: any[] = [];
      let buf = '';
      const req = https.request(new URL(path, this.base), { method: 'GET', agent: this.agent, headers: { accept: 'application/json' } }, (res) => {
        const done = () => {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, events });
        };
        const timer = setTimeout(done, timeoutMs);
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          buf += d;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.trim()) events.push(JSON.parse(line));
          }
          if (until(events)) done();
        });
        res.on('end', done);
      });
      req.on('error', (e) => {
        if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e);
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
