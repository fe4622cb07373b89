import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { dialErrorMessage, PodProber, runProbe } from './prober.ts';
import { goDuration } from './grpc.ts';
import { SERVING_STATUS, startHealthServer } from './testing.ts';
import { CriError } from '../cri/types.ts';
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
  assert.deepEqual(ok, { ok: true, output: 'kube-probe/1.32' }, 'success carries the body (here the User-Agent the server saw)');
  const bad = await runProbe({ httpGet: { path: '/nope', port } }, { containerId: 'x', container, host: '127.0.0.1' }, noRuntime);
  assert.deepEqual(bad, { ok: false, output: 'HTTP probe failed with statuscode: 500' });
});

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('httpGet: a refused connection fails with Go\'s url.Error text', async () => {
  const port = await closedPort();
  const r = await runProbe({ httpGet: { path: '/healthz', port } }, { containerId: 'x', container: {}, host: '127.0.0.1' }, noRuntime);
  assert.deepEqual(r, { ok: false, output: `Get "http://127.0.0.1:${port}/healthz": dial tcp 127.0.0.1:${port}: connect: connection refused` });
});

test('httpGet: a server that accepts but never answers fails at timeoutSeconds as Go\'s client timeout', async (t) => {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  const r = await runProbe({ httpGet: { path: '/slow', port }, timeoutSeconds: 1 }, { containerId: 'x', container: {}, host: '127.0.0.1' }, noRuntime);
  assert.deepEqual(r, { ok: false, output: `Get "http://127.0.0.1:${port}/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
});

test('httpGet: a connection closed without an answer fails with EOF', async (t) => {
  const server = net.createServer((s) => s.once('data', () => s.end()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const r = await runProbe({ httpGet: { path: '/', port } }, { containerId: 'x', container: {}, host: '127.0.0.1' }, noRuntime);
  assert.deepEqual(r, { ok: false, output: `Get "http://127.0.0.1:${port}/": EOF` });
});

test('httpGet: redirects to the same host are followed, a redirect to another host succeeds with a warning', async (t) => {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.url!);
    const port = (server.address() as AddressInfo).port;
    if (req.url === '/old') res.writeHead(302, { Location: '/new' }).end();
    else if (req.url === '/new') res.writeHead(500).end();
    else if (req.url === '/away') res.writeHead(301, { Location: `http://localhost:${port}/new` }).end('moved');
    else if (req.url === '/loop') res.writeHead(302, { Location: '/loop' }).end();
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const target = { containerId: 'x', container: {}, host: '127.0.0.1' };
  assert.deepEqual(await runProbe({ httpGet: { path: '/old', port } }, target, noRuntime), { ok: false, output: 'HTTP probe failed with statuscode: 500' });
  assert.deepEqual(seen.splice(0), ['/old', '/new']);
  assert.deepEqual(await runProbe({ httpGet: { path: '/away', port } }, target, noRuntime), { ok: true, warning: true, output: 'Probe terminated redirects, Response body: moved' });
  assert.deepEqual(seen.splice(0), ['/away']);
  assert.deepEqual(await runProbe({ httpGet: { path: '/loop', port } }, target, noRuntime), { ok: false, output: 'Get "/loop": stopped after 10 redirects' });
  assert.equal(seen.length, 10);
});

test('tcpSocket: a listening port succeeds, a closed one fails with Go\'s dial error', async () => {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const ok = await runProbe({ tcpSocket: { port } }, { containerId: 'x', container: {}, host: '127.0.0.1' }, noRuntime);
  assert.deepEqual(ok, { ok: true, output: '' });
  await new Promise((r) => server.close(r));
  const closed = await runProbe({ tcpSocket: { port } }, { containerId: 'x', container: {}, host: '127.0.0.1' }, noRuntime);
  assert.deepEqual(closed, { ok: false, output: `dial tcp 127.0.0.1:${port}: connect: connection refused` });
  const v6 = await runProbe({ tcpSocket: { port, host: '::1' } }, { containerId: 'x', container: {}, host: '127.0.0.1' }, noRuntime);
  assert.equal(v6.ok, false);
  assert.ok(v6.output.startsWith(`dial tcp [::1]:${port}: connect: `), v6.output);
});

test('dial errors read as Go\'s net.OpError (a dial timeout cannot be provoked on loopback)', () => {
  assert.equal(dialErrorMessage('10.244.0.5:8080', 'timeout'), 'dial tcp 10.244.0.5:8080: i/o timeout');
  assert.equal(dialErrorMessage('10.244.0.5:8080', { code: 'EHOSTUNREACH', message: 'connect EHOSTUNREACH 10.244.0.5:8080' }), 'dial tcp 10.244.0.5:8080: connect: no route to host');
  assert.equal(dialErrorMessage('[fd00::5]:80', { code: 'ENETUNREACH', message: 'x' }), 'dial tcp [fd00::5]:80: connect: network is unreachable');
  assert.equal(dialErrorMessage('db:5432', { code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND db' }), 'dial tcp: lookup db: no such host');
});

function execRuntime(answer: (cmd: string[]) => { stdout: string; stderr: string; exitCode: number } | Error): CriRuntime {
  return {
    execSync: async (_id: string, o: { cmd: string[] }) => {
      const a = answer(o.cmd);
      if (a instanceof Error) throw a;
      return { stdout: Buffer.from(a.stdout), stderr: Buffer.from(a.stderr), exitCode: a.exitCode };
    },
  } as unknown as CriRuntime;
}

test('exec: the exit code decides; the message is stdout then stderr, untrimmed and possibly empty', async () => {
  const rt = execRuntime((cmd) =>
    cmd[0] === 'true' ? { stdout: 'fine\n', stderr: '', exitCode: 0 }
    : cmd[0] === 'cat' ? { stdout: '', stderr: "cat: can't open '/tmp/healthy': No such file or directory\n", exitCode: 1 }
    : cmd[0] === 'both' ? { stdout: 'out\n', stderr: 'err\n', exitCode: 2 }
    : { stdout: '', stderr: '', exitCode: 1 });
  const target = { containerId: 'x', container: {}, host: '' };
  assert.deepEqual(await runProbe({ exec: { command: ['true'] } }, target, rt), { ok: true, output: 'fine\n' });
  assert.deepEqual(await runProbe({ exec: { command: ['cat', '/tmp/healthy'] } }, target, rt), { ok: false, output: "cat: can't open '/tmp/healthy': No such file or directory\n" });
  assert.deepEqual(await runProbe({ exec: { command: ['both'] } }, target, rt), { ok: false, output: 'out\nerr\n' });
  assert.deepEqual(await runProbe({ exec: { command: ['false'] } }, target, rt), { ok: false, output: '' });
});

test('exec: output is cut at 10 KiB as upstream\'s', async () => {
  const rt = execRuntime(() => ({ stdout: 'x'.repeat(11 * 1024), stderr: 'tail', exitCode: 1 }));
  const r = await runProbe({ exec: { command: ['big'] } }, { containerId: 'x', container: {}, host: '' }, rt);
  assert.equal(r.output, 'x'.repeat(10 * 1024));
});

test('exec: a command the runtime stops at timeoutSeconds fails with the CRI client\'s timeout text', async () => {
  const rt = execRuntime(() => new CriError('DeadlineExceeded', 'ExecSync', 'failed to exec in container: timeout 2s exceeded: context deadline exceeded'));
  const r = await runProbe({ exec: { command: ['sh', '-c', 'sleep 10'] }, timeoutSeconds: 2 }, { containerId: 'x', container: {}, host: '' }, rt);
  assert.deepEqual(r, { ok: false, output: 'command timed out: "sh -c sleep 10" timed out after 2s' });
});

test('PodProber: each failure is a Warning Unhealthy event "<Kind> probe failed: <output>", empty output included', async () => {
  const events: [string, string][] = [];
  const rt = execRuntime(() => ({ stdout: '', stderr: '', exitCode: 1 }));
  let resolveFirst!: () => void;
  const first = new Promise<void>((r) => (resolveFirst = r));
  const prober = new PodProber({
    runtime: rt,
    onChange: () => {},
    event: (reason, message) => {
      events.push([reason, message]);
      resolveFirst();
    },
  });
  prober.ensure({ containerId: 'c1', container: { name: 'app', livenessProbe: { exec: { command: ['false'] }, periodSeconds: 60 } }, host: '' });
  await first;
  prober.stopAll();
  assert.deepEqual(events, [['Unhealthy', 'Liveness probe failed: ']]);
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

test('a probe that cannot run errors with upstream\'s text and counts neither way', async () => {
  const target = { containerId: 'x', container: { ports: [{ name: 'http', containerPort: 8080 }] }, host: '127.0.0.1' };
  assert.deepEqual(await runProbe({ tcpSocket: { port: 'nope' } }, target, noRuntime), { ok: false, errored: true, output: 'strconv.Atoi: parsing "nope": invalid syntax' });
  assert.deepEqual(await runProbe({ httpGet: { path: '/', port: 70000 } }, target, noRuntime), { ok: false, errored: true, output: 'invalid port number: 70000' });
  const gone = execRuntime(() => new CriError('NotFound', 'ExecSync', 'container "x" not found'));
  assert.deepEqual(await runProbe({ exec: { command: ['true'] } }, target, gone), { ok: false, errored: true, output: 'rpc error: code = NotFound desc = container "x" not found' });

  const events: [string, string][] = [];
  let resolveFirst!: () => void;
  const first = new Promise<void>((r) => (resolveFirst = r));
  const prober = new PodProber({
    runtime: noRuntime,
    onChange: () => {},
    event: (reason, message) => {
      events.push([reason, message]);
      resolveFirst();
    },
  });
  prober.ensure({ ...target, containerId: 'c1', container: { ...target.container, livenessProbe: { tcpSocket: { port: 'nope' }, failureThreshold: 1, periodSeconds: 60 } } });
  await first;
  const state = prober.state('c1');
  prober.stopAll();
  assert.deepEqual(events, [['Unhealthy', 'Liveness probe errored and resulted in unknown state: strconv.Atoi: parsing "nope": invalid syntax']]);
  assert.equal(state?.unhealthy, undefined, 'an errored probe is not a failure');
});
