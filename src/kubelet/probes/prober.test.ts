import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { runProbe } from './prober.ts';
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
