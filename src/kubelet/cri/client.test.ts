// Unit tier: the CRI client against an in-process gRPC server on a unix socket that
// speaks runtime.v1 with the same generated descriptor (no containerd needed).

import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { decodeMessage, encodeMessage, methodCodec } from './codec.ts';
import { CriClient, grpcTarget, waitForRuntime } from './client.ts';
import { CriError, isNotFound } from './types.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'skiff-cri-'));
const socket = path.join(dir, 'cri.sock');
const server = new grpc.Server();
const seen: Record<string, unknown[]> = {};

type Handler = (req: any) => unknown;
function unary(service: string, method: string, handler: Handler): void {
  const codec = methodCodec(service, method);
  server.register(
    codec.path,
    (call: grpc.ServerUnaryCall<any, any>, cb: grpc.sendUnaryData<any>) => {
      (seen[method] ??= []).push(call.request);
      Promise.resolve()
        .then(() => handler(call.request))
        .then((v) => cb(null, v), (e) => cb(e));
    },
    // the server encodes responses and decodes requests: the mirror of the client
    (v: unknown) => encodeMessage(codec.responseType, v),
    (b: Buffer) => decodeMessage(codec.requestType, b),
    'unary',
  );
}

const CREATED_NS = 1_732_233_445_123_456_789;

before(async () => {
  unary('RuntimeService', 'Version', (req) => ({ version: req.version, runtimeName: 'fake', runtimeVersion: '1.0', runtimeApiVersion: 'v1' }));
  unary('RuntimeService', 'ContainerStatus', (req) => {
    if (req.containerId !== 'c1') throw Object.assign(new Error('gone'), { code: grpc.status.NOT_FOUND, details: `container "${req.containerId}" not found` });
    return {
      status: {
        id: 'c1',
        state: 'CONTAINER_EXITED',
        createdAt: CREATED_NS,
        exitCode: 0,
        labels: { 'io.kubernetes.container.name': 'app' },
        logPath: '/var/log/pods/x/app/0.log',
      },
    };
  });
  unary('RuntimeService', 'RunPodSandbox', () => ({ podSandboxId: 'sb-1' }));
  unary('RuntimeService', 'ExecSync', (req) => ({ stdout: Buffer.from(req.cmd.join(' ')), stderr: Buffer.alloc(0), exitCode: 3 }));
  unary('RuntimeService', 'StopContainer', () => new Promise(() => {})); // never answers
  unary('ImageService', 'PullImage', (req) => ({ imageRef: `sha256:${req.image.image.length}${req.auth?.username ?? ''}` }));
  unary('ImageService', 'ImageStatus', (req) => (req.image.image === 'present' ? { image: { id: 'sha256:abc', repoTags: ['present:1'], size: 42 } } : {}));
  const events = methodCodec('RuntimeService', 'GetContainerEvents');
  server.register(
    events.path,
    (call: grpc.ServerWritableStream<any, any>) => {
      for (const id of ['a', 'b', 'c']) call.write({ containerId: id, containerEventType: 'CONTAINER_STARTED_EVENT' });
      call.end();
    },
    (v: unknown) => encodeMessage(events.responseType, v),
    (b: Buffer) => decodeMessage(events.requestType, b),
    'serverStream',
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
});

after(async () => {
  server.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

test('endpoints: the kubelet flag form, unix: and bare paths', () => {
  assert.equal(grpcTarget('unix:///run/containerd/containerd.sock'), 'unix:///run/containerd/containerd.sock');
  assert.equal(grpcTarget('unix:/run/x.sock'), 'unix:///run/x.sock');
  assert.equal(grpcTarget('/run/x.sock'), 'unix:///run/x.sock');
  assert.throws(() => grpcTarget('tcp://1.2.3.4:1'), /only unix sockets/);
});

test('unary calls carry typed messages both ways (camelCase, enums by name, int64 as number, maps, defaults)', async () => {
  const client = new CriClient(`unix://${socket}`);
  try {
    const v = await waitForRuntime(client, { timeoutMs: 5000 });
    assert.deepEqual(v, { version: '0.1.0', runtimeName: 'fake', runtimeVersion: '1.0', runtimeApiVersion: 'v1' });

    const st = await client.containerStatus('c1');
    assert.equal(st.status?.state, 'CONTAINER_EXITED');
    assert.equal(st.status?.exitCode, 0, 'proto3 zero is present');
    assert.equal(st.status?.reason, '');
    assert.deepEqual(st.status?.mounts, []);
    assert.equal(st.status?.metadata, undefined, 'unset message fields are absent, not null');
    assert.ok(Math.abs(st.status!.createdAt - CREATED_NS) < 1000, 'nanosecond timestamps survive to well under a microsecond');
    assert.deepEqual(st.status?.labels, { 'io.kubernetes.container.name': 'app' });

    const id = await client.runPodSandbox({ metadata: { name: 'p', namespace: 'default', uid: 'u', attempt: 0 }, logDirectory: '/tmp/x', labels: { a: 'b' } });
    assert.equal(id, 'sb-1');
    assert.deepEqual((seen.RunPodSandbox[0] as any).config.metadata, { name: 'p', uid: 'u', namespace: 'default', attempt: 0 });

    const r = await client.execSync('c1', { cmd: ['echo', 'hi'], timeout: 5 });
    assert.equal(r.stdout.toString(), 'echo hi');
    assert.equal(r.exitCode, 3);
    assert.ok(Buffer.isBuffer(r.stderr));

    assert.equal(await client.pullImage('busybox:1.36', { auth: { username: 'u', password: 'p' } }), 'sha256:12u');
    assert.deepEqual((seen.PullImage[0] as any).auth, { username: 'u', password: 'p', auth: '', serverAddress: '', identityToken: '', registryToken: '' });

    assert.deepEqual(await client.imageStatus('missing'), undefined);
    const img = await client.imageStatus('present');
    assert.equal(img?.size, 42);
    assert.deepEqual(img?.repoTags, ['present:1']);
  } finally {
    client.close();
  }
});

test('runtime errors become CriError with the gRPC status name', async () => {
  const client = new CriClient(socket);
  try {
    await assert.rejects(client.containerStatus('nope'), (e: unknown) => {
      assert.ok(e instanceof CriError);
      assert.equal(e.code, 'NotFound');
      assert.equal(e.method, 'RuntimeService/ContainerStatus');
      assert.match(e.message, /container "nope" not found/);
      assert.ok(isNotFound(e));
      return true;
    });
  } finally {
    client.close();
  }
});

test('deadlines and AbortSignal end a call the runtime never answers', async () => {
  const client = new CriClient(socket);
  try {
    await assert.rejects(client.stopContainer('c1', { timeout: 0, timeoutMs: 100 }), (e: unknown) => e instanceof CriError && e.code === 'DeadlineExceeded');
    const ac = new AbortController();
    const pending = client.stopContainer('c1', { signal: ac.signal });
    setImmediate(() => ac.abort(new Error('pod deleted')));
    await assert.rejects(pending, /pod deleted/);
    await assert.rejects(client.version({ signal: AbortSignal.abort(new Error('already')) }), /already/);
  } finally {
    client.close();
  }
});

test('server streams arrive as an async iterable', async () => {
  const client = new CriClient(socket);
  try {
    const ids: string[] = [];
    for await (const ev of client.getContainerEvents()) ids.push(`${ev.containerId}:${ev.containerEventType}`);
    assert.deepEqual(ids, ['a:CONTAINER_STARTED_EVENT', 'b:CONTAINER_STARTED_EVENT', 'c:CONTAINER_STARTED_EVENT']);
  } finally {
    client.close();
  }
});

test('an endpoint nobody listens on is Unavailable, and waitForRuntime gives up at its deadline', async () => {
  const client = new CriClient(path.join(dir, 'nobody.sock'));
  try {
    await assert.rejects(client.version({ timeoutMs: 2000 }), (e: unknown) => e instanceof CriError && e.code === 'Unavailable');
    await assert.rejects(waitForRuntime(client, { timeoutMs: 300 }), /did not answer Version/);
  } finally {
    client.close();
  }
});
