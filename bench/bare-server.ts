// The baseline the apiserver's request rates are compared against: the same Node server
// stack Skiff uses (an http2 secure server with HTTP/1.1 fallback, the cluster's serving
// certificate, client certificates requested) doing nothing but read the request body and
// answer a fixed JSON body. Run as its own process, like the apiserver, so neither shares
// an event loop with the load generator.
//
//   node bench/bare-server.ts --pki <data-dir>/pki   (body from BENCH_RESPONSE_BODY)
//
// Prints `listening <port>` once it accepts connections; exits on SIGTERM.

import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { pki: { type: 'string' } } });
if (!values.pki) throw new Error('--pki is required');
const pki = values.pki;

// The same size as the apiserver's answer to the same request (the bench passes in a real
// create response), so both sides move the same bytes.
const body = process.env.BENCH_RESPONSE_BODY || '{"kind":"Status","apiVersion":"v1","status":"Success"}';

const server = http2.createSecureServer({
  allowHTTP1: true,
  cert: readFileSync(join(pki, 'apiserver.crt')),
  key: readFileSync(join(pki, 'apiserver.key')),
  ca: readFileSync(join(pki, 'ca.crt')),
  requestCert: true,
  rejectUnauthorized: false,
});
server.on('request', (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'POST') JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' });
    res.end(body);
  });
});
server.on('sessionError', () => {});
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as { port: number }).port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
