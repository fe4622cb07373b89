// The in-process transport: requests go straight to the apiserver's
// transport-independent entry point (ApiServer.serve) with no socket, with the same
// semantics as HTTPS: status codes, headers, JSON text in and out (so no object is
// shared with the server), watches streamed line by line, cancellation by signal.
// The caller is trusted with the user it names: serve() authenticates by req.user.

import type { ApiRequest, ApiResponse } from '../apiserver/handler.ts';
import { requestEntityTooLarge } from '../api/errors.ts';
import { LineQueue } from './lines.ts';
import type { Transport, TransportRequest, TransportResponse } from './types.ts';

export interface InProcessServer {
  serve(req: ApiRequest, res: ApiResponse): Promise<void>;
}

export interface InProcessUser {
  name: string;
  groups: string[];
}

export function inProcessTransport(server: InProcessServer, user: InProcessUser): Transport {
  /** Requests in flight, each with what aborts it. */
  const inflight = new Map<AbortController, (reason: unknown) => void>();
  let closed = false;

  /** Starts one request; `sink` sees the response as the server produces it. */
  const start = (
    req: TransportRequest,
    sink: {
      head(code: number, headers: Record<string, string>): void;
      data(chunk: string): void;
      end(): void;
      fail(e: unknown): void;
      /** Called once the request is aborted (by its signal, the reader or close()): no listener per request. */
      aborted(): void;
    },
  ): { ac: AbortController; abort: (reason?: unknown) => void } => {
    const ac = new AbortController();
    if (closed) {
      queueMicrotask(() => sink.fail(new Error('transport is closed')));
      return { ac, abort: () => {} };
    }
    if (req.signal?.aborted) {
      ac.abort(req.signal.reason);
      queueMicrotask(() => sink.fail(abortError(ac.signal)));
      return { ac, abort: () => {} };
    }
    const abort = (reason?: unknown) => {
      if (ac.signal.aborted) return;
      ac.abort(reason);
      sink.aborted();
    };
    inflight.set(ac, abort);
    const onAbort = () => abort(req.signal?.reason);
    req.signal?.addEventListener('abort', onAbort, { once: true });
    // The body stays text; bytes are made only for a handler that asks for them.
    const text = req.body ?? '';
    const size = req.body === undefined ? 0 : Buffer.byteLength(text, 'utf8');
    let bytes: Buffer | undefined;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers ?? {})) headers[k.toLowerCase()] = v;
    if (req.body !== undefined) headers['content-length'] = String(size);
    const apiReq: ApiRequest = {
      method: req.method,
      url: req.path,
      headers,
      user: { name: user.name, groups: [...user.groups] },
      signal: ac.signal,
      body: (limit) => (size > limit ? Promise.reject(requestEntityTooLarge(limit)) : Promise.resolve((bytes ??= Buffer.from(text, 'utf8')))),
      text: (limit) => (size > limit ? Promise.reject(requestEntityTooLarge(limit)) : Promise.resolve(text)),
    };
    let headed = false;
    let ended = false;
    const finish = () => {
      inflight.delete(ac);
      req.signal?.removeEventListener('abort', onAbort);
    };
    const apiRes: ApiResponse = {
      writeHead(code, h) {
        if (headed) throw new Error('headers already sent');
        headed = true;
        const lower: Record<string, string> = {};
        for (const [k, v] of Object.entries(h)) lower[k.toLowerCase()] = String(v);
        sink.head(code, lower);
      },
      flushHeaders() {},
      // Everything written is buffered for the reader: a socket's backpressure does not exist here.
      write(chunk) {
        if (!ended && !ac.signal.aborted) sink.data(chunk);
        return true;
      },
      end(chunk) {
        if (ended) return;
        if (!headed) apiRes.writeHead(200, {});
        if (chunk !== undefined && chunk !== '' && !ac.signal.aborted) sink.data(chunk);
        ended = true;
        finish();
        sink.end();
      },
    };
    // Deferred a tick, as a request on a socket would be: callers never see the server run inside their own call.
    setImmediate(() => {
      server.serve(apiReq, apiRes).then(
        () => {
          if (!ended) {
            // A handler that returned without ending (an aborted watch) ends here.
            ended = true;
            finish();
            if (headed) sink.end();
            else sink.fail(new Error(`${req.method} ${req.path}: the server answered nothing`));
          }
        },
        (e) => {
          if (!ended) {
            ended = true;
            finish();
            sink.fail(e);
          }
        },
      );
    });
    return { ac, abort };
  };

  return {
    request(req) {
      return new Promise<TransportResponse>((resolve, reject) => {
        let status = 0;
        let headers: Record<string, string> = {};
        const chunks: string[] = [];
        const { ac } = start(req, {
          head(code, h) {
            status = code;
            headers = h;
          },
          data: (c) => chunks.push(c),
          end: () => {
            if (ac.signal.aborted) reject(abortError(ac.signal));
            else resolve({ status, headers, body: chunks.join('') });
          },
          fail: reject,
          aborted: () => reject(abortError(ac.signal)),
        });
      });
    },

    stream(req) {
      return new Promise((resolve, reject) => {
        let answered = false;
        // A reader that stops early cancels the request, as closing the connection would.
        const queue = new LineQueue({ onClose: () => handle.abort() });
        const handle = start(req, {
          head(code) {
            answered = true;
            resolve({ status: code, lines: queue });
          },
          data: (c) => queue.push(c),
          end: () => queue.end({ keepPartial: true }),
          fail: (e) => {
            queue.end();
            if (!answered) reject(e);
          },
          aborted: () => {
            queue.end();
            if (!answered) reject(abortError(handle.ac.signal));
          },
        });
      });
    },

    close() {
      closed = true;
      for (const abort of [...inflight.values()]) abort(new Error('transport closed'));
      inflight.clear();
    },
  };
}

function abortError(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error) return r;
  return new DOMException('The operation was aborted', 'AbortError');
}
