import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { runProbe } from './prober.ts';
import { goDuration } from './grpc.ts';
import { SERVING_STATUS, startHealthServer } from './testing.ts';
import type { CriRuntime } from '../cri/types.ts';

const noRuntime = {} as CriRuntime;

test('httpGet: 2xx/3xx succeed, others fail with the status code; named ports resolve', async (t) => {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/healthz' ? 200 : 500;
    res.end(req.headers['user-agent']);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const container = { ports: [{ name: 'http', containerPort: port }] };
  const ok = await runProbe({ httpGet: { path: '/healthz', port: 'http' } }, { containerId: 'x', container, host: '127.0.0.1' }, noRuntime);
  assert.deepEqual(ok, { ok: true, output: '' });
  const bad = await runProbe({ httpGet: { path: '/nope', port } }, { containerId: 'x', container, host: '127.0.0.1' }, noRuntime);
  assert.deepEqual(bad, { ok: false, output: 'HTTP probe failed with statuscode: 500' });
});

test('tcpSocket: a listening port succeeds, a closed one fails', async (t) => {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const ok = await runProbe({ tcpSocket: { port } }, { containerId: 'x', container: {}, host: '127.0.0.1' }, noRuntime);
  assert.equal(ok.ok, true);
  await new Promise((r) => server.close(r));
  const closed = await runProbe({ tcpSocket: { port } }, { containerId: 'x', container: {}, host: '127.0.0.1' }, noRuntime);
  assert.equal(closed.ok, false);
  assert.match(closed.output, new RegExp(`^dial tcp 127.0.0.1:${port}: `));
  t.diagnostic(closed.output);
});

test('exec: exit code decides; output is the message', async () => {
  const rt = { execSync: async (_id: string, o: { cmd: string[] }) => ({ stdout: Buffer.from(o.cmd.join(' ')), stderr: Buffer.alloc(0), exitCode: o.cmd[0] === 'true' ? 0 : 1 }) } as unknown as CriRuntime;
  assert.equal((await runProbe({ exec: { command: ['true'] } }, { containerId: 'x', container: {}, host: '' }, rt)).ok, true);
  assert.deepEqual(await runProbe({ exec: { command: ['false', 'x'] } }, { containerId: 'x', container: {}, host: '' }, rt), { ok: false, output: 'false x' });
});

const grpcTarget = { containerId: 'x', container: {}, host: '127.0.0.1' };

test('grpc: SERVING succeeds, NOT_SERVING and unnamed statuses fail with the status, unknown services fail with NotFound', async (t) => {
  const hs = await startHealthServer({ statuses: { '': SERVING_STATUS.SERVING, db: SERVING_STATUS.NOT_SERVING, odd: 7 } });
  t.after(() => hs.close());
  const { port, seen } = hs;
  assert.deepEqual(await runProbe({ grpc: { port } }, grpcTarget, noRuntime), { ok: true, output: 'service healthy' });
  assert.deepEqual(await runProbe({ grpc: { port, service: 'db' } }, grpcTarget, noRuntime), { ok: false, output: 'service unhealthy (responded with "NOT_SERVING")' });
  assert.deepEqual(await runProbe({ grpc: { port, service: 'odd' } }, grpcTarget, noRuntime), { ok: false, output: 'service unhealthy (responded with "7")' });
  assert.deepEqual(await runProbe({ grpc: { port, service: 'nope' } }, grpcTarget, noRuntime), {
    ok: false,
    output: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service',
  });
  assert.deepEqual(seen.map((s) => s.service), ['', 'db', 'odd', 'nope']);
  assert.match(seen[0]!.userAgent, /^kube-probe\/1\.32 /);
});

test('grpc: a server without the health service is reported as not implementing the protocol', async (t) => {
  const { port, close } = await startHealthServer({ health: false });
  t.after(close);
  const r = await runProbe({ grpc: { port } }, grpcTarget, noRuntime);
  assert.equal(r.ok, false);
  assert.match(r.output, /^error: this server does not implement the grpc health protocol \(grpc\.health\.v1\.Health\): /);
  t.diagnostic(r.output);
});

test('grpc: nothing listening fails once timeoutSeconds pass without a connection', async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const r = await runProbe({ grpc: { port }, timeoutSeconds: 1 }, grpcTarget, noRuntime);
  assert.deepEqual(r, { ok: false, output: `timeout: failed to connect service "127.0.0.1:${port}" within 1s: context deadline exceeded` });
});

test('grpc: a health check that does not answer within timeoutSeconds fails with a timeout', async (t) => {
  const hs = await startHealthServer();
  t.after(() => hs.close());
  hs.hang.add('hang');
  const { port, seen } = hs;
  const r = await runProbe({ grpc: { port, service: 'hang' }, timeoutSeconds: 1 }, grpcTarget, noRuntime);
  assert.deepEqual(r, { ok: false, output: 'timeout: health rpc did not complete within 1s' });
  assert.deepEqual(seen.map((s) => s.service), ['hang']);
});

test('grpc: each probe dials afresh, so a server that comes up after a failed probe is seen at once', async (t) => {
  const hs = await startHealthServer();
  const port = hs.port;
  hs.close();
  const down = await runProbe({ grpc: { port }, timeoutSeconds: 1 }, grpcTarget, noRuntime);
  assert.equal(down.ok, false);
  const again = await startHealthServer({ port });
  t.after(() => again.close());
  assert.deepEqual(await runProbe({ grpc: { port }, timeoutSeconds: 1 }, grpcTarget, noRuntime), { ok: true, output: 'service healthy' });
});

test('goDuration prints whole seconds as Go does', () => {
  assert.deepEqual([0, 1, 59, 60, 90, 3600, 3661].map(goDuration), ['0s', '1s', '59s', '1m0s', '1m30s', '1h0m0s', '1h1m1s']);
});
