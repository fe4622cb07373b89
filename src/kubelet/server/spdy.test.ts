import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { SpdyConn, SPDY_DICTIONARY, type SpdyStream } from './spdy.ts';

test('the SPDY/3 dictionary is the spec one (1423 bytes)', () => {
  assert.equal(SPDY_DICTIONARY.length, 1423);
  assert.ok(SPDY_DICTIONARY.subarray(0, 11).equals(Buffer.from('\x00\x00\x00\x07options', 'latin1')));
  assert.ok(SPDY_DICTIONARY.toString('latin1').endsWith('enq=0.'));
});

test('SPDY over a socket pair: streams with headers, replies, data both ways, half-close, reset', async () => {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const clientSock = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  const [serverSock] = (await once(srv, 'connection')) as [net.Socket];
  const client = new SpdyConn(clientSock, true);
  const server = new SpdyConn(serverSock, false);
  try {
    const got: SpdyStream[] = [];
    server.on('stream', (s) => {
      got.push(s);
      s.reply({ ok: 'yes' });
      let buf = '';
      s.on('data', (d) => (buf += d));
      s.on('end', () => {
        s.write(Buffer.from(`echo:${buf}`));
        s.end();
      });
    });
    // several streams: every header block continues the connection's compression context
    for (let i = 0; i < 3; i++) {
      const s = client.openStream({ streamType: 'data', port: String(8000 + i), requestID: String(i) });
      assert.equal(s.id, 1 + 2 * i);
      const reply = once(s, 'reply');
      let out = '';
      s.on('data', (d) => (out += d));
      const ended = once(s, 'end');
      s.write(Buffer.from(`hello ${i}`));
      s.end();
      assert.deepEqual((await reply)[0], { ok: 'yes' });
      await ended;
      assert.equal(out, `echo:hello ${i}`);
      assert.deepEqual(got[i].headers, { streamtype: 'data', port: String(8000 + i), requestid: String(i) });
    }
    const big = Buffer.alloc(200_000, 7);
    const s = client.openStream({ streamtype: 'big' });
    const [serverSide] = (await once(server, 'stream')) as [SpdyStream];
    let n = 0;
    const all = new Promise<void>((resolve) => serverSide.on('data', (d) => (n += d.length) === big.length && resolve()));
    s.write(big);
    await all;
    const r = client.openStream({ streamtype: 'reset-me' });
    const reset = once(r, 'reset');
    const [rs] = (await once(server, 'stream')) as [SpdyStream];
    rs.reset();
    await reset;
  } finally {
    client.close();
    server.close();
    srv.close();
  }
});
