// Unit tier: the in-process transport's cancellation. A request or watch ends for the
// caller, and for the server handling it, when the caller's signal aborts, when a watch's
// reader stops, and when the transport closes. The server here is a hand-written one that
// holds requests open until told, so each case can be driven step by step.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ApiRequest, ApiResponse } from '../apiserver/handler.ts';
import { inProcessTransport } from './inprocess.ts';

/** A server that answers GET /ok at once and holds every other request until released. */
function holdingServer() {
  const held: { req: ApiRequest; res: ApiResponse; release: () => void }[] = [];
  const server = {
    async serve(req: ApiRequest, res: ApiResponse): Promise<void> {
      if (req.url === '/ok') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ body: await req.text!(1 << 20) }));
        return;
      }
      res.writeHead(200, {});
      res.write('{"n":1}\n');
      await new Promise<void>((release) => {
        held.push({ req, res, release });
        req.signal.addEventListener('abort', () => release(), { once: true });
      });
    },
  };
  return { server, held };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const USER = { name: 'u', groups: ['g'] };

describe('in-process transport', () => {
  test('a request is answered with the status, lower-cased headers and the body', { timeout: 10_000 }, async () => {
    const t = inProcessTransport(holdingServer().server, USER);
    const r = await t.request({ method: 'PUT', path: '/ok', body: '{"x":1}' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(r.body), { body: '{"x":1}' });
  });

  test("aborting the caller's signal rejects with its reason and aborts the server's request", { timeout: 10_000 }, async () => {
    const { server, held } = holdingServer();
    const t = inProcessTransport(server, USER);
    const ac = new AbortController();
    const pending = t.request({ method: 'GET', path: '/hold', signal: ac.signal });
    await tick();
    assert.equal(held.length, 1);
    const reason = new Error('caller gave up');
    ac.abort(reason);
    await assert.rejects(pending, (e) => e === reason);
    assert.equal(held[0].req.signal.aborted, true);
  });

  test('close() rejects what is in flight, aborts it on the server and refuses new requests', { timeout: 10_000 }, async () => {
    const { server, held } = holdingServer();
    const t = inProcessTransport(server, USER);
    const a = t.request({ method: 'GET', path: '/hold' });
    const b = t.request({ method: 'GET', path: '/hold' });
    await tick();
    t.close();
    await assert.rejects(a, /transport closed/);
    await assert.rejects(b, /transport closed/);
    assert.deepEqual(
      held.map((h) => h.req.signal.aborted),
      [true, true],
    );
    await assert.rejects(t.request({ method: 'GET', path: '/ok' }), /transport is closed/);
  });

  test("a watch ends for the server when its reader stops, and for the reader when the caller's signal aborts", { timeout: 10_000 }, async () => {
    const { server, held } = holdingServer();
    const t = inProcessTransport(server, USER);
    const first = await t.stream({ method: 'GET', path: '/watch', signal: new AbortController().signal });
    for await (const line of first.lines) {
      assert.equal(line, '{"n":1}');
      break;
    }
    assert.equal(held[0].req.signal.aborted, true, 'stopping the reader aborts the request');

    const ac = new AbortController();
    const second = await t.stream({ method: 'GET', path: '/watch', signal: ac.signal });
    const lines: string[] = [];
    const reading = (async () => {
      for await (const line of second.lines) lines.push(line);
    })();
    await tick();
    ac.abort();
    await reading;
    assert.deepEqual(lines, ['{"n":1}']);
    assert.equal(held[1].req.signal.aborted, true);

    // Aborted before the server answered: the stream itself rejects.
    const early = new AbortController();
    const { server: silent } = { server: { serve: () => new Promise<void>(() => {}) } };
    const waiting = inProcessTransport(silent, USER).stream({ method: 'GET', path: '/never', signal: early.signal });
    await tick();
    early.abort(new Error('no answer wanted'));
    await assert.rejects(waiting, /no answer wanted/);
  });
});
