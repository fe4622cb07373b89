// The HTTPS transport: HTTP/1.1 with keep-alive to the server of a kubeconfig context,
// authenticating with its client certificate or bearer token and trusting its CA.
// (An http:// server is spoken to in clear, for local test servers.)

import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { parseKubeconfig, type KubeconfigCredentials } from './kubeconfig.ts';
import { LineQueue } from './lines.ts';
import { createClient, type ClientOptions } from './rest.ts';
import type { Client, Transport, TransportRequest, TransportResponse } from './types.ts';

export interface HttpsTransportOptions {
  /** Keep-alive sockets kept open per host when idle (default 16). */
  maxFreeSockets?: number;
}

export function httpsTransport(creds: KubeconfigCredentials, opts: HttpsTransportOptions = {}): Transport {
  const base = new URL(creds.server);
  const secure = base.protocol === 'https:';
  if (!secure && base.protocol !== 'http:') throw new Error(`unsupported server URL ${creds.server}`);
  const prefix = base.pathname.replace(/\/+$/, '');
  const agent = secure
    ? new https.Agent({
        keepAlive: true,
        maxFreeSockets: opts.maxFreeSockets ?? 16,
        ca: creds.caCertPem,
        cert: creds.clientCertPem,
        key: creds.clientKeyPem,
        rejectUnauthorized: !creds.insecureSkipTLSVerify,
        servername: creds.tlsServerName,
      })
    : new http.Agent({ keepAlive: true, maxFreeSockets: opts.maxFreeSockets ?? 16 });
  const mod = secure ? https : http;
  const auth: Record<string, string> = creds.token ? { authorization: `Bearer ${creds.token}` } : {};
  let closed = false;
  const open = new Set<http.ClientRequest>();

  const send = (req: TransportRequest, onResponse: (res: http.IncomingMessage, cr: http.ClientRequest) => void, onError: (e: Error) => void) => {
    if (closed) return onError(new Error('transport is closed'));
    if (req.signal?.aborted) return onError(abortError(req.signal));
    const headers: Record<string, string> = { ...auth, ...req.headers };
    // Node sends a body without framing unless its length is given (DELETE with DeleteOptions).
    if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
    const cr = mod.request(
      {
        protocol: base.protocol,
        hostname: base.hostname.replace(/^\[|\]$/g, ''),
        port: base.port || (secure ? 443 : 80),
        path: prefix + req.path,
        method: req.method,
        headers,
        agent,
        signal: req.signal,
      },
      (res) => onResponse(res, cr),
    );
    open.add(cr);
    cr.on('close', () => open.delete(cr));
    cr.on('error', onError);
    cr.end(req.body);
  };

  return {
    request(req) {
      return new Promise<TransportResponse>((resolve, reject) => {
        send(
          req,
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('error', reject);
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: flatHeaders(res.headers), body: Buffer.concat(chunks).toString('utf8') }));
          },
          reject,
        );
      });
    },

    stream(req) {
      return new Promise((resolve, reject) => {
        let answered = false;
        send(
          req,
          (res, cr) => {
            answered = true;
            const queue = new LineQueue({
              onFull: () => res.pause(),
              onDrain: () => res.resume(),
              // A reader that stops early closes the connection (the server ends the watch).
              onClose: () => cr.destroy(),
            });
            res.setEncoding('utf8');
            res.on('data', (c: string) => queue.push(c));
            res.on('end', () => queue.end({ keepPartial: true }));
            // A connection cut mid-stream (server gone, signal aborted) ends the stream.
            res.on('error', () => queue.end());
            res.on('close', () => queue.end());
            resolve({ status: res.statusCode ?? 0, lines: queue });
          },
          (e) => {
            if (!answered) reject(e);
          },
        );
      });
    },

    close() {
      closed = true;
      for (const cr of open) cr.destroy();
      open.clear();
      agent.destroy();
    },
  };
}

function flatHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  return new DOMException('The operation was aborted', 'AbortError');
}

export interface KubeconfigClient {
  client: Client;
  transport: Transport;
  credentials: KubeconfigCredentials;
  /** The context's namespace, or "default". */
  namespace: string;
  close(): void;
}

/** A client for the current context (or `opts.context`) of the kubeconfig file at `path`. */
export function kubeconfigClient(path: string, opts: ClientOptions & { context?: string } = {}): KubeconfigClient {
  const credentials = parseKubeconfig(readFileSync(path, 'utf8'), { path, context: opts.context });
  const transport = httpsTransport(credentials);
  return {
    client: createClient(transport, { userAgent: opts.userAgent }),
    transport,
    credentials,
    namespace: credentials.namespace ?? 'default',
    close: () => transport.close(),
  };
}
