// E2E tier: kubectl logs / exec / cp through an in-process apiserver, the streaming
// handlers (src/apiserver/streaming) and the kubelet's HTTPS API (src/kubelet/server),
// against a real busybox container in skiff's own containerd (host-network sandbox).
//
// Until the lead wires the streaming subresources into the apiserver's HTTP layer, the
// test puts a small HTTPS front in front of the in-process apiserver: streaming paths and
// upgrades go to createStreaming's handlers, everything else to ApiServer.serve.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http2 from 'node:http2';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRuntime, resetContainerd, type NodeRuntime } from '../src/kubelet/containerd/index.ts';
import { containerdLayout, type ContainerdLayout } from '../src/kubelet/containerd/config.ts';
import { missingForContainers, installCommand, checkPrerequisites } from '../src/kubelet/containerd/prereqs.ts';
import { removeAllPods, removeCgroup } from '../src/kubelet/containerd/reset.ts';
import { staticBusybox } from '../src/kubelet/images/pause.ts';
import type { Input, PodSandboxConfig } from '../src/kubelet/cri/types.ts';
import type { KObject } from '../src/api/object.ts';
import type { ApiRequest, ApiResponse } from '../src/apiserver/handler.ts';
import { buildKubeconfig } from '../src/client/kubeconfig.ts';
import { startKubeletServer, type KubeletServer, type PodSource } from '../src/kubelet/server/index.ts';
import { createStreaming, registryLookups, streamingTarget } from '../src/apiserver/streaming/index.ts';
import { buildTestImage, TEST_IMAGES } from './images/build.ts';
import { KUBECTL, kubectlFor, startTestCluster, type Kubectl, type TestCluster } from './harness.ts';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { Exec, KubeConfig, PortForward } from '@kubernetes/client-node';
import { PassThrough } from 'node:stream';

const checks = checkPrerequisites();
const missing = missingForContainers(checks);
if (!staticBusybox()) missing.push({ name: 'busybox-static', status: 'fail', detail: 'the test image', packages: ['busybox-static'] });
const why = missing.length ? `missing ${missing.map((c) => `${c.name} (${c.detail})`).join('; ')}; ${installCommand(missing) ?? ''}` : '';
const skip = missing.length > 0 && !process.env.CI ? why : false;

const clusterName = `st-${process.pid}-${randomBytes(3).toString('hex')}`;
const cgroupParent = `/skiff-${clusterName}`;
let dataDir = '';
let layout: ContainerdLayout;
let rt: NodeRuntime;
let cluster: TestCluster;
let kubelet: KubeletServer;
let front: http2.Http2SecureServer;
/** Paths of the requests that came over HTTP/2. */
const h2Requests: string[] = [];
const frontSockets = new Set<TLSSocket>();
let kubectl: Kubectl;
/** `<upgrade> <subresource>` per upgrade request the front saw. */
const upgrades: string[] = [];
/** The port the web pod's httpd listens on (host network). */
let webPort = 0;
let kubeletClient: { certPem: string; keyPem: string };

/** The pods the fake kubelet knows: pod object, container ids, log paths, sandbox. */
const known = new Map<string, { pod: KObject; sandbox: string; containers: Map<string, { id: string; logPath: string }> }>();

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A host-network sandbox with one busybox container per entry of `containers`, and the Pod in the API. */
async function runPod(name: string, containers: Record<string, string[]>): Promise<void> {
  const uid = `${name}-${randomBytes(4).toString('hex')}`;
  const logDirectory = path.join(dataDir, 'pod-logs', `default_${name}_${uid}`);
  mkdirSync(logDirectory, { recursive: true });
  const sb: Input<PodSandboxConfig> = {
    metadata: { name, namespace: 'default', uid, attempt: 0 },
    logDirectory,
    linux: {
      cgroupParent: rt.cgroupDriver === 'systemd' ? 'system.slice' : `${cgroupParent}/pod${uid}`,
      securityContext: { namespaceOptions: { network: 'NODE' } },
    },
  };
  const sandbox = await rt.cri.runPodSandbox(sb);
  const ids = new Map<string, { id: string; logPath: string }>();
  for (const [c, command] of Object.entries(containers)) {
    const id = await rt.cri.createContainer({
      podSandboxId: sandbox,
      config: { metadata: { name: c, attempt: 0 }, image: { image: TEST_IMAGES.busybox }, command, logPath: `${c}/0.log` },
      sandboxConfig: sb,
    });
    await rt.cri.startContainer(id);
    ids.set(c, { id, logPath: path.join(logDirectory, `${c}/0.log`) });
  }
  const manifest = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { nodeName: 'node-1', containers: Object.keys(containers).map((c) => ({ name: c, image: TEST_IMAGES.busybox })) },
  };
  const r = await kubectl(['apply', '-f', await cluster.file(`${name}.json`, JSON.stringify(manifest))]);
  assert.equal(r.code, 0, r.stderr);
  const podsInfo = cluster.server.table.lookup('', 'v1', 'pods')!;
  const pod = (await cluster.server.registry.get(podsInfo, 'default', name)).obj;
  known.set(`default/${name}`, { pod, sandbox, containers: ids });
}

/** `kubectl port-forward pod/web local:remote`, three HTTP GETs through it, then the kubectl process (ours) ends. */
async function kubectlPortForward(remote: number, local: number, env: Record<string, string>): Promise<void> {
  const child = spawn(KUBECTL, ['--kubeconfig', path.join(cluster.dir, 'front.kubeconfig'), 'port-forward', 'pod/web', `${local}:${remote}`], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: kubectl.home, KUBECACHEDIR: path.join(kubectl.home, 'cache'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  try {
    await until('port-forward to listen', async () => (/Forwarding from 127\.0\.0\.1/.test(out) ? true : undefined), 15_000);
    for (let i = 0; i < 3; i++) {
      // busybox httpd may not be listening yet on the first try
      const body = await until('an answer through the tunnel', async () => {
        try {
          const r = await fetch(`http://127.0.0.1:${local}/index.html`);
          return r.ok ? await r.text() : undefined;
        } catch {
          return undefined;
        }
      });
      assert.equal(body, 'hello-pf\n');
    }
    assert.match(out, /Handling connection for/);
  } finally {
    child.kill('SIGTERM');
  }
}

describe('streaming: kubectl logs, exec, cp through the apiserver and the kubelet API', { skip }, () => {
  before(async () => {
    if (missing.length) throw new Error(`prerequisites for real containers: ${why}`);
    dataDir = mkdtempSync(path.join(tmpdir(), 'skiff-streaming-'));
    layout = containerdLayout({ clusterName, dataDir });
    const busybox = buildTestImage('busybox');
    mkdirSync(path.join(dataDir, 'images'), { recursive: true });
    copyFileSync(busybox.file, path.join(dataDir, 'images', 'busybox.tar'));
    rt = await startRuntime({ clusterName, dataDir });

    cluster = await startTestCluster();
    const pki = cluster.server.pki;
    const source: PodSource = {
      getPod: (ns, name) => known.get(`${ns}/${name}`)?.pod,
      containerID: (pod, c) => known.get(`${pod.metadata?.namespace}/${pod.metadata?.name}`)?.containers.get(c)?.id,
      logPath: (pod, c, previous) => (previous ? undefined : known.get(`${pod.metadata?.namespace}/${pod.metadata?.name}`)?.containers.get(c)?.logPath),
      sandboxID: (pod) => known.get(`${pod.metadata?.namespace}/${pod.metadata?.name}`)?.sandbox,
      listPods: () => [...known.values()].map((k) => k.pod),
      runtime: rt.cri,
    };
    // The kubelet serves on the cluster's serving certificate (SAN 127.0.0.1) and wants the
    // apiserver's client certificate.
    kubelet = await startKubeletServer({ pods: source, cert: pki.serverCertPem, key: pki.serverKeyPem, clientCA: pki.caCertPem, port: 0, address: '127.0.0.1' });
    const client = await pki.issueClientCert('kube-apiserver-kubelet-client', ['kubeadm:cluster-admins']);
    kubeletClient = client;
    const podsInfo = cluster.server.table.lookup('', 'v1', 'pods')!;
    const node: KObject = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'node-1' },
      status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } } },
    };
    const streaming = createStreaming({
      getPod: registryLookups(cluster.server.registry, cluster.server.table).getPod,
      getNode: async (name) => (name === 'node-1' ? node : undefined),
      // Endpoints validation refuses loopback addresses, so the test serves this one itself.
      getEndpoints: async (ns, name) =>
        name === 'web' && webPort ? { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace: ns }, subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ name: 'http', port: webPort }] }] } : undefined,
      kubeletTLS: { cert: client.certPem, key: client.keyPem, ca: pki.caCertPem },
    });

    // The test's front: like the apiserver, HTTP/2 with HTTP/1.1 fallback (kubectl's upgrades
    // arrive as HTTP/1.1 'upgrade' events) on the cluster's serving cert.
    front = http2.createSecureServer({ allowHTTP1: true, cert: pki.serverCertPem, key: pki.serverKeyPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: false });
    const userOf = (req: IncomingMessage | http2.Http2ServerRequest) => {
      const socket = ((req as http2.Http2ServerRequest).stream?.session?.socket ?? req.socket) as TLSSocket;
      return socket.authorized ? { name: 'kubernetes-admin', groups: ['kubeadm:cluster-admins', 'system:authenticated'] } : undefined;
    };
    front.on('request', (req: IncomingMessage | http2.Http2ServerRequest, res: ServerResponse | http2.Http2ServerResponse) => {
      if ((req as http2.Http2ServerRequest).stream) h2Requests.push(req.url ?? '');
      const user = userOf(req);
      const t = streamingTarget(req.url ?? '/', user);
      if (t) return void streaming.handleStreaming(req, res, t);
      const abort = new AbortController();
      res.on('close', () => {
        if (!res.writableEnded) abort.abort();
      });
      const apiReq: ApiRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers as Record<string, string | string[] | undefined>,
        user,
        signal: abort.signal,
        body: (limit) =>
          new Promise((resolve, reject) => {
            const chunks: Buffer[] = [];
            let n = 0;
            req.on('data', (c: Buffer) => {
              n += c.length;
              if (n <= limit) chunks.push(c);
            });
            req.on('end', () => resolve(Buffer.concat(chunks)));
            req.on('error', reject);
          }),
      };
      const r1 = res as ServerResponse;
      const apiRes: ApiResponse = {
        writeHead: (code, headers) => void r1.writeHead(code, headers),
        flushHeaders: () => r1.flushHeaders?.(),
        write: (c) => r1.write(c),
        end: (c) => void (c === undefined ? r1.end() : r1.end(c)),
      };
      void cluster.server.serve(apiReq, apiRes);
    });
    front.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
      upgrades.push(`${String(req.headers.upgrade).toLowerCase()} ${req.url?.split('?')[0].split('/').pop()}`);
      const t = streamingTarget(req.url ?? '/', userOf(req));
      if (!t) return void socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      void streaming.handleUpgrade(req, socket, head, t);
    });
    front.on('secureConnection', (s: TLSSocket) => {
      frontSockets.add(s);
      s.on('close', () => frontSockets.delete(s));
    });
    await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
    const port = (front.address() as { port: number }).port;
    const kubeconfig = path.join(cluster.dir, 'front.kubeconfig');
    writeFileSync(
      kubeconfig,
      buildKubeconfig({ clusterName: 'skiff', server: `https://127.0.0.1:${port}`, caCertPem: pki.caCertPem, userName: 'kubernetes-admin', clientCertPem: pki.adminCertPem, clientKeyPem: pki.adminKeyPem }),
    );
    kubectl = kubectlFor(kubeconfig, path.join(cluster.dir, 'home'));

    // No controller manager here: the default ServiceAccount admission wants.
    const sa = await kubectl(['create', 'serviceaccount', 'default']);
    assert.equal(sa.code, 0, sa.stderr);
    await runPod('talker', {
      talker: ['sh', '-c', 'for i in 1 2 3 4 5; do echo line $i; done; sleep 0.3; echo oops >&2; trap "exit 0" TERM; while :; do sleep 1; done'],
    });
    await runPod('quick', { quick: ['sh', '-c', 'echo one; sleep 1; echo two'] });
    const talker = known.get('default/talker')!.containers.get('talker')!;
    await until('the talker to log', async () => {
      try {
        return readFileSync(talker.logPath, 'utf8').includes('oops') ? true : undefined;
      } catch {
        return undefined;
      }
    });
  });

  after(async () => {
    front?.close();
    for (const s of frontSockets) s.destroy();
    await kubelet?.close();
    await cluster?.close();
    if (!layout) return;
    if (rt?.supervisor?.pid) await removeAllPods(rt.cri);
    await rt?.stop();
    await resetContainerd(layout, { removeRoot: true });
    if (rt?.cgroupDriver !== 'systemd') await removeCgroup(cgroupParent);
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('kubectl logs: plain, --tail, --timestamps, --limit-bytes', async () => {
    const plain = await kubectl(['logs', 'talker']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, 'line 1\nline 2\nline 3\nline 4\nline 5\noops\n');
    const tail = await kubectl(['logs', 'talker', '--tail=2']);
    assert.equal(tail.stdout, 'line 5\noops\n');
    const ts = await kubectl(['logs', 'talker', '--timestamps', '--tail=1']);
    assert.match(ts.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) oops\n$/);
    const limited = await kubectl(['logs', 'talker', '--limit-bytes=8']);
    assert.equal(limited.stdout, 'line 1\nl');
    const c = await kubectl(['logs', 'talker', '-c', 'nope']);
    assert.notEqual(c.code, 0);
    assert.match(c.stderr, /container nope is not valid for pod talker/);
  });

  test('kubectl logs -f: streams while the container runs, ends when it exits', async () => {
    // a running container: follow until kubectl is stopped
    const started = Date.now();
    const r = await kubectl(['logs', '-f', 'talker'], { timeoutMs: 1500 });
    assert.ok(Date.now() - started >= 1400, 'follow kept the stream open');
    assert.equal(r.stdout, 'line 1\nline 2\nline 3\nline 4\nline 5\noops\n');
    assert.ok(h2Requests.some((u) => u.includes('/pods/talker/log?') && u.includes('follow=true')), 'kubectl followed the log over HTTP/2');
    // a container that exits: follow ends by itself with all its lines
    const q = await kubectl(['logs', '-f', 'quick'], { timeoutMs: 15_000 });
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stdout, 'one\ntwo\n');
  });

  test('kubectl exec: output, exit codes, stderr', async () => {
    const hi = await kubectl(['exec', 'talker', '--', 'echo', 'hi']);
    assert.equal(hi.code, 0, hi.stderr);
    assert.equal(hi.stdout, 'hi\n');
    const three = await kubectl(['exec', 'talker', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(three.code, 3, three.stderr);
    assert.equal(three.stdout, 'out\n');
    assert.match(three.stderr, /^err\n/);
    const missingCmd = await kubectl(['exec', 'talker', '--', 'no-such-command']);
    assert.notEqual(missingCmd.code, 0);
  });

  test('kubectl exec -i: stdin reaches the process', async () => {
    const r = await kubectl(['exec', '-i', 'talker', '--', 'sh', '-c', 'read a; read b; echo "got $a and $b"'], { stdin: 'x\ny\n' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'got x and y\n');
  });

  test('kubectl cp from the pod', async () => {
    const w = await kubectl(['exec', 'talker', '--', 'sh', '-c', 'mkdir -p /tmp/d && echo payload > /tmp/d/f.txt']);
    assert.equal(w.code, 0, w.stderr);
    const dest = path.join(cluster.dir, 'out.txt');
    const r = await kubectl(['cp', 'talker:/tmp/d/f.txt', dest]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readFileSync(dest, 'utf8'), 'payload\n');
  });

  test('kubectl cp to the pod', async () => {
    const src = path.join(cluster.dir, 'up.txt');
    writeFileSync(src, 'uploaded\n');
    const r = await kubectl(['cp', src, 'talker:/tmp/up.txt'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    const cat = await kubectl(['exec', 'talker', '--', 'cat', '/tmp/up.txt']);
    assert.equal(cat.stdout, 'uploaded\n');
  });

  test('kubectl exec -i: stdin EOF reaches the process', async () => {
    const r = await kubectl(['exec', '-i', 'talker', '--', 'cat'], { stdin: 'all of it\n', timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'all of it\n');
  });

  test('port-forward: kubectl (SPDY in WebSocket, raw SPDY), client-node (channel WebSocket); pods/proxy', async () => {
    const free = () =>
      new Promise<number>((resolve) => {
        const srv = net.createServer().listen(0, '127.0.0.1', () => {
          const p = (srv.address() as net.AddressInfo).port;
          srv.close(() => resolve(p));
        });
      });
    const remote = await free();
    webPort = remote;
    await runPod('web', { web: ['sh', '-c', `mkdir -p /www && echo hello-pf > /www/index.html && exec httpd -f -p 127.0.0.1:${remote} -h /www`] });
    // kubectl port-forward wants a Running pod
    const st = await kubectl(['patch', 'pod', 'web', '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Running","podIP":"127.0.0.1"}}']);
    assert.equal(st.code, 0, st.stderr);
    known.get('default/web')!.pod = (await cluster.server.registry.get(cluster.server.table.lookup('', 'v1', 'pods')!, 'default', 'web')).obj;
    // WebSocket (SPDY inside), then kubectl's raw SPDY fallback
    for (const env of [{}, { KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' }] as Record<string, string>[]) await kubectlPortForward(remote, await free(), env);
    assert.ok(upgrades.some((u) => u.startsWith('websocket portforward')), upgrades.join());
    assert.ok(upgrades.some((u) => u.startsWith('spdy/3.1 portforward')), upgrades.join());
    // client-node's port-forward: a channel WebSocket per connection, ?ports=P
    const kc = new KubeConfig();
    kc.loadFromFile(path.join(cluster.dir, 'front.kubeconfig'));
    const pf = new PortForward(kc);
    const sockets: net.Socket[] = [];
    const relay = net.createServer((sock) => {
      sockets.push(sock);
      void pf.portForward('default', 'web', [remote], sock, null, sock).then((ws) => sock.on('close', () => (ws as { close(): void }).close()));
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    try {
      const r = await fetch(`http://127.0.0.1:${(relay.address() as net.AddressInfo).port}/index.html`, { headers: { connection: 'close' } });
      assert.equal(await r.text(), 'hello-pf\n');
    } finally {
      for (const s of sockets) s.destroy();
      relay.close();
    }
    // pods/proxy: the apiserver dials the pod IP (host network here) itself
    const proxied = await kubectl(['get', '--raw', `/api/v1/namespaces/default/pods/web:${remote}/proxy/index.html`]);
    assert.equal(proxied.code, 0, proxied.stderr);
    assert.equal(proxied.stdout, 'hello-pf\n');
    const viaService = await kubectl(['get', '--raw', '/api/v1/namespaces/default/services/web:http/proxy/index.html']);
    assert.equal(viaService.code, 0, viaService.stderr);
    assert.equal(viaService.stdout, 'hello-pf\n');
    const noService = await kubectl(['get', '--raw', '/api/v1/namespaces/default/services/nope/proxy/']);
    assert.notEqual(noService.code, 0);
    assert.match(noService.stderr, /no endpoints available for service "nope"/);
  });

  test('kubectl attach: the running container\'s output until it exits', async () => {
    await runPod('ticker', { ticker: ['sh', '-c', 'sleep 2; for i in 1 2 3; do echo tick $i; sleep 0.2; done'] });
    const r = await kubectl(['attach', 'ticker'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'tick 1\ntick 2\ntick 3\n');
  });

  test('the SPDY fallback: exec (exit code, stdin EOF) with WebSockets turned off in kubectl', async () => {
    const env = { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: 'false', KUBECTL_PORT_FORWARD_WEBSOCKETS: 'false' };
    const three = await kubectl(['exec', 'talker', '--', 'sh', '-c', 'echo out; exit 3'], { env });
    assert.equal(three.code, 3, three.stderr);
    assert.equal(three.stdout, 'out\n');
    const cat = await kubectl(['exec', '-i', 'talker', '--', 'cat'], { env, stdin: 'over spdy\n', timeoutMs: 20_000 });
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout, 'over spdy\n');
    assert.ok(upgrades.includes('spdy/3.1 exec'), upgrades.join());
  });

  test('kubectl exec -it: a terminal in the container (kubectl under script(1) for a pty)', async () => {
    const kc = path.join(cluster.dir, 'front.kubeconfig');
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn('script', ['-qec', `${KUBECTL} --kubeconfig ${kc} exec -it talker -- sh -c 'tty; stty size; exit 4'`, '/dev/null'], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: kubectl.home, KUBECACHEDIR: path.join(kubectl.home, 'cache'), TERM: 'dumb' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
    assert.match(r.out, /\/dev\/pts\/\d+/, r.out);
    assert.equal(r.code, 4, r.out);
  });

  test('kubelet API: a verified client certificate is required; /healthz and /pods', async () => {
    const get = (p: string, cert?: { certPem: string; keyPem: string }) =>
      new Promise<{ code: number; body: string }>((resolve, reject) => {
        const req = https.get({ host: '127.0.0.1', port: kubelet.port, path: p, ca: cluster.server.pki.caCertPem, cert: cert?.certPem, key: cert?.keyPem }, (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
      });
    assert.equal((await get('/healthz')).code, 401);
    assert.deepEqual(await get('/healthz', kubeletClient), { code: 200, body: 'ok' });
    const pods = await get('/pods', kubeletClient);
    assert.equal(pods.code, 200);
    const list = JSON.parse(pods.body) as { kind: string; items: KObject[] };
    assert.equal(list.kind, 'PodList');
    assert.ok(list.items.some((p) => p.metadata?.name === 'talker'));
    const missingPod = await get('/containerLogs/default/nope/c', kubeletClient);
    assert.equal(missingPod.code, 404);
  });

  test('kubectl cp both ways with 3 MiB of random bytes', async () => {
    const src = path.join(cluster.dir, 'big.bin');
    const data = randomBytes(3 << 20);
    writeFileSync(src, data);
    const up = await kubectl(['cp', src, 'talker:/tmp/big.bin'], { timeoutMs: 30_000 });
    assert.equal(up.code, 0, up.stderr);
    const size = await kubectl(['exec', 'talker', '--', 'wc', '-c', '/tmp/big.bin']);
    assert.match(size.stdout, new RegExp(`^\\s*${data.length}\\s`));
    const back = path.join(cluster.dir, 'back.bin');
    const down = await kubectl(['cp', 'talker:/tmp/big.bin', back], { timeoutMs: 30_000 });
    assert.equal(down.code, 0, down.stderr);
    assert.ok(readFileSync(back).equals(data), 'the bytes came back unchanged');
  });

  // kubectl 1.32 (client-go v0.32's wsStreamExecutor) starts its WebSocket reader and creates
  // its streams concurrently once it has read the 101: a message that is already there when the
  // 101 is read can be taken by the reader before the stream it belongs to exists ("Unknown stream
  // id 1, discarding message", then "closed all streams" if the close came too). A server that
  // sends the 101 at once and the output only after the exec has started, as upstream's does,
  // leaves kubectl the time; one whose 101 waits in the kernel (Nagle's algorithm on the
  // apiserver's socket holding it until the client ACKs earlier data) hands kubectl the 101, the
  // output, the status and the close in one read.
  test('WebSocket exec: the 101 reaches a Go-like client on its own, before any of the output', async () => {
    const port = (front.address() as { port: number }).port;
    const pki = cluster.server.pki;
    for (let i = 0; i < 10; i++) {
      const r = await new Promise<{ withHead: number; frames: Buffer }>((resolve, reject) => {
        let head: Buffer | undefined;
        let rest = Buffer.alloc(0);
        let withHead = 0; // bytes of frames that were already there when the 101 was read
        let headDone = false;
        const sock = tlsConnect({ host: '127.0.0.1', port, ca: pki.caCertPem, cert: pki.adminCertPem, key: pki.adminKeyPem, ALPNProtocols: ['http/1.1'] }, () => {
          sock.setNoDelay(true); // as Go's net package does on every TCP connection
          sock.write(
            `GET /api/v1/namespaces/default/pods/talker/exec?command=echo&command=ws-${i}&container=talker&stderr=true&stdout=true HTTP/1.1\r\n` +
              'Host: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
              'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n',
          );
        });
        sock.on('data', (d: Buffer) => {
          if (headDone) {
            if (!head) withHead += d.length; // same read as the 101: delivered before setImmediate
            rest = Buffer.concat([rest, d]);
            return;
          }
          const all = Buffer.concat([rest, d]);
          const end = all.indexOf('\r\n\r\n');
          if (end < 0) return void (rest = all);
          headDone = true;
          const status = all.subarray(0, end).toString('latin1');
          if (!status.startsWith('HTTP/1.1 101')) return reject(new Error(status));
          rest = all.subarray(end + 4);
          withHead = rest.length;
          // Whatever the same read brought arrives before this callback runs.
          setImmediate(() => (head = all.subarray(0, end)));
        });
        sock.on('error', reject);
        sock.on('close', () => resolve({ withHead, frames: rest }));
      });
      assert.equal(r.withHead, 0, `run ${i}: ${r.withHead} bytes of output came in the same read as the 101`);
      // The frames themselves (server to client, unmasked): stdout, then the status, then close.
      const msgs: Buffer[] = [];
      for (let o = 0; o + 2 <= r.frames.length; ) {
        const len = r.frames[o + 1] & 0x7f;
        assert.ok(len < 126);
        if ((r.frames[o] & 0x0f) === 0x2) msgs.push(r.frames.subarray(o + 2, o + 2 + len));
        o += 2 + len;
      }
      const out = Buffer.concat(msgs.filter((m) => m[0] === 1).map((m) => m.subarray(1))).toString();
      assert.equal(out, `ws-${i}\n`);
      assert.deepEqual(JSON.parse(msgs.find((m) => m[0] === 3)!.subarray(1).toString()).status, 'Success');
    }
  });

  test('kubectl exec of a command that ends at once: every run keeps its output', async () => {
    const runs = Number(process.env.SKIFF_QUICK_EXECS) || 50;
    const failures: string[] = [];
    for (let i = 0; i < runs; i++) {
      const r = await kubectl(['exec', 'talker', '--', 'echo', `run-${i}`]);
      if (r.code !== 0 || r.stdout !== `run-${i}\n` || /Unknown stream id/.test(r.stderr)) {
        failures.push(`#${i}: exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)}`);
      }
    }
    if (process.env.SKIFF_QUICK_EXECS) console.log(`quick execs: ${failures.length} of ${runs} lost their output`);
    assert.deepEqual(failures, []);
  });

  test('client-node exec over v5.channel.k8s.io: stdin to EOF, status on channel 3', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(path.join(cluster.dir, 'front.kubeconfig'));
    const run = (cmd: string[], input?: string) =>
      new Promise<{ out: string; status: { status?: string; reason?: string; details?: { causes?: { reason?: string; message?: string }[] } } }>((resolve, reject) => {
        const stdout = new PassThrough();
        let out = '';
        stdout.on('data', (d) => (out += d));
        const stdin = input === undefined ? null : new PassThrough();
        new Exec(kc)
          .exec('default', 'talker', 'talker', cmd, stdout, null, stdin, false, (status) => setTimeout(() => resolve({ out, status: status as never }), 50))
          .then(() => stdin?.end(input))
          .catch(reject);
      });
    const cat = await run(['cat'], 'from client-node\n');
    assert.equal(cat.out, 'from client-node\n');
    assert.equal(cat.status.status, 'Success');
    const five = await run(['sh', '-c', 'exit 5']);
    assert.equal(five.status.status, 'Failure');
    assert.equal(five.status.reason, 'NonZeroExitCode');
    assert.deepEqual(five.status.details?.causes, [{ reason: 'ExitCode', message: '5' }]);
  });
});
