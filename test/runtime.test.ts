// E2E tier: the real runtime stack — skiff's own containerd (started on a temp data dir),
// runc, the CRI v1 client, images imported from archives built from Debian binaries.
// In CI (CI set) a missing prerequisite fails these tests; locally they are skipped.
// Teardown removes everything: pods, containerd, shims, mounts, cgroups, dirs.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRuntime, resetContainerd, type NodeRuntime } from '../src/kubelet/containerd/index.ts';
import { containerdLayout, type ContainerdLayout } from '../src/kubelet/containerd/config.ts';
import { missingForContainers, installCommand, checkPrerequisites } from '../src/kubelet/containerd/prereqs.ts';
import { mountsUnder, processesWith, removeAllPods, removeCgroup } from '../src/kubelet/containerd/reset.ts';
import { DEFAULT_PAUSE_IMAGE } from '../src/kubelet/images/pause.ts';
import { staticBusybox } from '../src/kubelet/images/pause.ts';
import { runImages } from '../src/cli/images.ts';
import { importImageArchive } from '../src/kubelet/images/import.ts';
import { writeImageArchive } from '../src/kubelet/images/oci.ts';
import { tar, untar } from '../src/kubelet/images/tar.ts';
import { gzipSync } from 'node:zlib';
import { spawn } from 'node:child_process';
import { CriClient } from '../src/kubelet/cri/client.ts';
import type { Input, PodSandboxConfig, ContainerStatus } from '../src/kubelet/cri/types.ts';
import { buildTestImage, TEST_IMAGES } from './images/build.ts';

const checks = checkPrerequisites();
const missing = missingForContainers(checks);
if (!staticBusybox()) missing.push({ name: 'busybox-static', status: 'fail', detail: 'the test image', packages: ['busybox-static'] });
const why = missing.length ? `missing ${missing.map((c) => `${c.name} (${c.detail})`).join('; ')}; ${installCommand(missing) ?? ''}` : '';
// Locally a machine without containerd skips; CI must have installed it (.ci/run).
const skip = missing.length > 0 && !process.env.CI ? why : false;

const clusterName = `rt-${process.pid}-${randomBytes(3).toString('hex')}`;
let dataDir = '';
let logRoot = '';
let layout: ContainerdLayout;
const cgroupParent = `/skiff-${clusterName}`;

let rt: NodeRuntime;
let containerdStartMs = 0;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function sandboxConfig(name: string): Input<PodSandboxConfig> {
  const uid = `${name}-${randomBytes(4).toString('hex')}`;
  const logDirectory = path.join(logRoot, `default_${name}_${uid}`);
  mkdirSync(logDirectory, { recursive: true });
  return {
    metadata: { name, namespace: 'default', uid, attempt: 0 },
    logDirectory,
    labels: { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid },
    linux: {
      // cgroupfs hosts: a parent the teardown removes; systemd hosts: runc's scope units go with the containers
      cgroupParent: rt.cgroupDriver === 'systemd' ? 'system.slice' : `${cgroupParent}/pod${uid}`,
      // host network: pod networking (CNI) is the node's job, not this tier's
      securityContext: { namespaceOptions: { network: 'NODE' } },
    },
  };
}

describe('containerd through CRI v1', { skip }, () => {
  before(async () => {
    if (missing.length) throw new Error(`prerequisites for real containers: ${why}`);
    dataDir = mkdtempSync(path.join(tmpdir(), 'skiff-runtime-'));
    logRoot = path.join(dataDir, 'pod-logs');
    layout = containerdLayout({ clusterName, dataDir });
    // The airgap flow: archives in <data-dir>/images/ are imported when the runtime starts.
    const busybox = buildTestImage('busybox');
    mkdirSync(path.join(dataDir, 'images'), { recursive: true });
    copyFileSync(busybox.file, path.join(dataDir, 'images', 'busybox.tar'));
    const started = performance.now();
    rt = await startRuntime({ clusterName, dataDir });
    containerdStartMs = performance.now() - started;
  });

  after(async () => {
    if (!layout) return;
    if (rt?.supervisor?.pid) await removeAllPods(rt.cri); // while our containerd still answers: the graceful path
    await rt?.stop();
    await resetContainerd(layout, { removeRoot: true });
    if (rt?.cgroupDriver !== 'systemd') assert.ok(await removeCgroup(cgroupParent), `cgroup ${cgroupParent} removed`);
    rmSync(dataDir, { recursive: true, force: true });
    // what must hold after a teardown: nothing of this cluster left on the machine
    assert.deepEqual(mountsUnder([layout.stateDir, layout.rootDir, dataDir]), []);
    assert.deepEqual(processesWith(layout.socket), [], 'no shim or containerd serves the socket');
    assert.equal(existsSync(layout.runDir), false);
    assert.equal(existsSync(dataDir), false);
  });

  test('own containerd: ready, per-cluster socket and config, airgap images imported, pause image built', async (t) => {
    t.diagnostic(`containerd start to ready incl. airgap import and pause build: ${containerdStartMs.toFixed(0)} ms`);
    assert.equal(rt.version.runtimeName, 'containerd');
    assert.equal(rt.version.runtimeApiVersion, 'v1');
    assert.equal(rt.endpoint, `unix:///run/skiff/${clusterName}/containerd/containerd.sock`);
    assert.ok(rt.supervisor?.pid, 'containerd runs under the supervisor');
    const config = readFileSync(layout.configPath, 'utf8');
    assert.match(config, new RegExp(`address = "${layout.socket}"`));
    assert.match(config, new RegExp(`sandbox_image = "${DEFAULT_PAUSE_IMAGE}"`));
    assert.match(config, /bin_dir = "\/usr\/lib\/cni"/);
    assert.match(config, new RegExp(`SystemdCgroup = ${rt.cgroupDriver === 'systemd'}`));
    const status = await rt.cri.status();
    assert.equal(status.status?.conditions.find((c) => c.type === 'RuntimeReady')?.status, true);
    const tags = (await rt.cri.listImages()).flatMap((i) => i.repoTags);
    assert.ok(tags.includes('docker.io/skiff-test/busybox:1.36'), `busybox imported from <data-dir>/images: ${tags}`);
    assert.ok(tags.includes(DEFAULT_PAUSE_IMAGE), `pause image built and imported: ${tags}`);
    const busybox = await rt.cri.imageStatus(TEST_IMAGES.busybox);
    assert.equal(busybox?.id, buildTestImage('busybox').configDigest, 'the image id is the config digest the builder wrote');
  });

  test('a pod sandbox and a container: echo hello exits 0 and its log holds hello', async (t) => {
    const sbConfig = sandboxConfig('hello');
    const t0 = performance.now();
    const sandboxId = await rt.cri.runPodSandbox(sbConfig);
    const t1 = performance.now();
    const containerId = await rt.cri.createContainer({
      podSandboxId: sandboxId,
      config: {
        metadata: { name: 'echo', attempt: 0 },
        image: { image: TEST_IMAGES.busybox },
        command: ['echo', 'hello'],
        logPath: 'echo/0.log',
        labels: { 'io.kubernetes.container.name': 'echo' },
      },
      sandboxConfig: sbConfig,
    });
    await rt.cri.startContainer(containerId);
    const t2 = performance.now();
    t.diagnostic(`runPodSandbox ${(t1 - t0).toFixed(0)} ms; createContainer+startContainer ${(t2 - t1).toFixed(0)} ms`);

    const done = await until<ContainerStatus>('echo to exit', async () => {
      const s = (await rt.cri.containerStatus(containerId)).status;
      return s?.state === 'CONTAINER_EXITED' ? s : undefined;
    });
    assert.equal(done.exitCode, 0);
    assert.equal(done.reason, 'Completed');
    // containerd stamps startedAt after the task started and finishedAt from the shim's exit
    // event, so a process as quick as echo can show finishedAt a little before startedAt.
    assert.ok(done.startedAt >= done.createdAt && done.finishedAt >= done.createdAt && done.createdAt > 0);
    assert.equal(done.logPath, path.join(sbConfig.logDirectory!, 'echo/0.log'));
    // CRI log format: <RFC3339Nano> <stream> <F|P> <line>
    const log = readFileSync(done.logPath, 'utf8');
    assert.match(log, /^\S+ stdout F hello\n$/);

    const sb = await rt.cri.podSandboxStatus(sandboxId);
    assert.equal(sb.status?.state, 'SANDBOX_READY');
    assert.equal(sb.status?.metadata?.name, 'hello');
    await rt.cri.removeContainer(containerId);
    await rt.cri.stopPodSandbox(sandboxId);
    await rt.cri.removePodSandbox(sandboxId);
  });

  test('execSync in a running container; exec URL; graceful stop; remove', async () => {
    const sbConfig = sandboxConfig('exec');
    const sandboxId = await rt.cri.runPodSandbox(sbConfig);
    const containerId = await rt.cri.createContainer({
      podSandboxId: sandboxId,
      config: {
        metadata: { name: 'shell', attempt: 0 },
        image: { image: TEST_IMAGES.busybox },
        // PID 1 ignores SIGTERM without a handler: trap it so the stop is graceful
        command: ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 1; done'],
        envs: [{ key: 'GREETING', value: 'ahoy' }],
        workingDir: '/tmp',
        logPath: 'shell/0.log',
      },
      sandboxConfig: sbConfig,
    });
    await rt.cri.startContainer(containerId);
    assert.equal((await rt.cri.containerStatus(containerId)).status?.state, 'CONTAINER_RUNNING');

    const osRelease = await rt.cri.execSync(containerId, { cmd: ['cat', '/etc/os-release'], timeout: 10 });
    assert.equal(osRelease.exitCode, 0);
    assert.match(osRelease.stdout.toString(), /^ID=busybox$/m);
    const env = await rt.cri.execSync(containerId, { cmd: ['sh', '-c', 'echo $GREETING from $(pwd); echo oops >&2; exit 3'], timeout: 10 });
    assert.equal(env.stdout.toString(), 'ahoy from /tmp\n');
    assert.equal(env.stderr.toString(), 'oops\n');
    assert.equal(env.exitCode, 3);

    const url = await rt.cri.exec({ containerId, cmd: ['sh'], stdin: true, stdout: true });
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/\S+$/, 'streaming server on loopback');
    assert.match(await rt.cri.attach({ containerId, stdout: true, stderr: true }), /^http:\/\/127\.0\.0\.1:\d+\/attach\/\S+$/);
    assert.match(await rt.cri.portForward({ podSandboxId: sandboxId, port: [8080] }), /^http:\/\/127\.0\.0\.1:\d+\/portforward\/\S+$/);

    const listed = await rt.cri.listContainers({ podSandboxId: sandboxId });
    assert.deepEqual(listed.map((c) => c.id), [containerId]);

    const stopping = performance.now();
    await rt.cri.stopContainer(containerId, { timeout: 10 });
    assert.ok(performance.now() - stopping < 5000, 'the trapped SIGTERM ends it well before the grace period');
    const stopped = (await rt.cri.containerStatus(containerId)).status!;
    assert.equal(stopped.state, 'CONTAINER_EXITED');
    assert.equal(stopped.exitCode, 0);
    await rt.cri.removeContainer(containerId);
    assert.deepEqual(await rt.cri.listContainers({ podSandboxId: sandboxId }), []);

    await rt.cri.stopPodSandbox(sandboxId);
    assert.equal((await rt.cri.podSandboxStatus(sandboxId)).status?.state, 'SANDBOX_NOTREADY');
    await rt.cri.removePodSandbox(sandboxId);
    await rt.cri.removePodSandbox(sandboxId); // idempotent
    assert.equal((await rt.cri.listPodSandbox({ id: sandboxId })).length, 0);
  });

  test('skiff images import and list against the cluster\'s containerd', async () => {
    const pause = buildTestImage('pause');
    let out = '';
    const io = { out: (s: string) => void (out += s) };
    await runImages(['import', pause.file, '--name', clusterName], io);
    assert.match(out, /imported .*: docker\.io\/skiff-test\/pause:3\.10 in/);
    out = '';
    await runImages(['list', '--name', clusterName], io);
    const lines = out.trim().split('\n');
    assert.match(lines[0], /^IMAGE\s+TAG\s+IMAGE ID\s+SIZE$/);
    assert.ok(lines.some((l) => /^docker\.io\/skiff-test\/busybox\s+1\.36\s+[0-9a-f]{13}\s+\S+B$/.test(l)), out);
    assert.ok(lines.some((l) => /^docker\.io\/skiff-test\/pause\s+3\.10\s/.test(l)), out);
    assert.ok(lines.some((l) => /^localhost\/skiff\/pause\s+3\.10\s/.test(l)), out);
  });

  test('archives in either format import: plain docker-archive (gzipped) and plain OCI layout', async () => {
    const image = writeImageArchive({
      name: 'skiff-test/formats:1',
      layers: [[{ path: 'hello.txt', type: 'file', data: Buffer.from('formats\n') }]],
      config: { cmd: ['/hello.txt'] },
    });
    const entries = untar(image.archive);
    const dockerOnly = tar(entries.filter((e) => e.path !== 'index.json' && e.path !== 'oci-layout'));
    const ociOnly = tar(entries.filter((e) => e.path !== 'manifest.json'));
    const dockerFile = path.join(dataDir, 'formats-docker.tar.gz');
    writeFileSync(dockerFile, gzipSync(dockerOnly));
    assert.deepEqual(await importImageArchive(dockerFile, { address: layout.socket }), ['docker.io/skiff-test/formats:1']);
    await rt.cri.removeImage('skiff-test/formats:1');
    assert.equal(await rt.cri.imageStatus('skiff-test/formats:1'), undefined);
    assert.deepEqual(await importImageArchive(ociOnly, { address: layout.socket }), ['docker.io/skiff-test/formats:1']);
    assert.equal((await rt.cri.imageStatus('skiff-test/formats:1'))?.id, image.configDigest);
    await rt.cri.removeImage('skiff-test/formats:1');
    await assert.rejects(importImageArchive(Buffer.from('not a tar'), { address: layout.socket }), /importing archive failed: /);
  });

  test('the redis test image runs: redis-server with its ldd libraries answers redis-cli', async () => {
    const redis = buildTestImage('redis');
    assert.deepEqual(await importImageArchive(redis.file, { address: layout.socket }), ['docker.io/skiff-test/redis:7']);
    const sbConfig = sandboxConfig('redis');
    const sandboxId = await rt.cri.runPodSandbox(sbConfig);
    const containerId = await rt.cri.createContainer({
      podSandboxId: sandboxId,
      config: {
        metadata: { name: 'redis' },
        image: { image: TEST_IMAGES.redis },
        // host network here: a unix socket instead of a port, so nothing on the host can clash
        args: ['redis-server', '--port', '0', '--unixsocket', '/tmp/redis.sock', '--save', ''],
        logPath: 'redis/0.log',
      },
      sandboxConfig: sbConfig,
    });
    await rt.cri.startContainer(containerId);
    const pong = await until('redis to answer', async () => {
      const r = await rt.cri.execSync(containerId, { cmd: ['redis-cli', '-s', '/tmp/redis.sock', 'ping'], timeout: 5 });
      return r.exitCode === 0 && r.stdout.toString().trim() === 'PONG' ? r : undefined;
    });
    assert.equal(pong.stdout.toString(), 'PONG\n');
    const set = await rt.cri.execSync(containerId, { cmd: ['redis-cli', '-s', '/tmp/redis.sock', 'set', 'skiff', 'afloat'], timeout: 5 });
    assert.equal(set.stdout.toString().trim(), 'OK');
    assert.equal((await rt.cri.containerStatus(containerId)).status?.state, 'CONTAINER_RUNNING');
    await rt.cri.stopPodSandbox(sandboxId);
    await rt.cri.removePodSandbox(sandboxId);
  });

  test('containerd killed: the supervisor restarts it and running pods survive', async () => {
    const sbConfig = sandboxConfig('survivor');
    const sandboxId = await rt.cri.runPodSandbox(sbConfig);
    const sup = rt.supervisor!;
    const before = sup.pid!;
    process.kill(before, 'SIGKILL'); // the containerd this test started
    const after = await until('a new containerd', async () => (sup.pid && sup.pid !== before ? sup.pid : undefined), 15_000);
    assert.notEqual(after, before);
    await until('containerd to answer again', async () => (await rt.cri.version({ timeoutMs: 1000 }).catch(() => undefined)), 15_000);
    assert.equal(sup.restarts, 1);
    assert.equal((await rt.cri.podSandboxStatus(sandboxId)).status?.state, 'SANDBOX_READY', 'the sandbox outlived containerd');
    await rt.cri.stopPodSandbox(sandboxId);
    await rt.cri.removePodSandbox(sandboxId);
  });


  test('a new skiff takes over the containerd an earlier one left running, and its pods', async () => {
    const sandboxId = await rt.cri.runPodSandbox(sandboxConfig('kept'));
    await rt.stop();
    // What a crashed skiff leaves: containerd running on this cluster's config, named by the pid file.
    const orphan = spawn('containerd', ['--config', layout.configPath], { stdio: 'ignore', detached: true });
    writeFileSync(layout.pidFile, `${orphan.pid}\n`);
    const gone = new Promise((resolve) => orphan.once('exit', resolve));
    const probe = new CriClient(layout.endpoint);
    try {
      await until('the orphan to answer', async () => (await probe.version({ timeoutMs: 500 }).catch(() => undefined)));
    } finally {
      probe.close();
    }
    rt = await startRuntime({ clusterName, dataDir });
    await gone;
    assert.notEqual(rt.supervisor?.pid, orphan.pid);
    assert.equal((await rt.cri.podSandboxStatus(sandboxId)).status?.state, 'SANDBOX_READY', 'pods outlive the takeover');
    await rt.cri.stopPodSandbox(sandboxId);
    await rt.cri.removePodSandbox(sandboxId);
  });
  // Last: it stops the runtime. What `skiff reset` meets after a crash: containerd gone, pods still running.
  test('reset with containerd already stopped still ends the pods, unmounts and removes the state', async () => {
    const sbConfig = sandboxConfig('orphan');
    const sandboxId = await rt.cri.runPodSandbox(sbConfig);
    const containerId = await rt.cri.createContainer({
      podSandboxId: sandboxId,
      config: { metadata: { name: 'sleeper' }, image: { image: TEST_IMAGES.busybox }, command: ['sleep', '3600'], logPath: 'sleeper/0.log' },
      sandboxConfig: sbConfig,
    });
    await rt.cri.startContainer(containerId);
    const shims = processesWith(layout.socket);
    assert.ok(shims.length >= 1, 'a shim per task serves this containerd');
    assert.ok(mountsUnder([layout.stateDir]).length > 0, 'the running pod has mounts');
    await rt.stop();
    assert.equal(rt.supervisor?.pid, undefined);
    const started = performance.now();
    await resetContainerd(layout, {});
    assert.deepEqual(processesWith(layout.socket), []);
    assert.deepEqual(mountsUnder([layout.stateDir, layout.rootDir]), []);
    assert.equal(existsSync(layout.stateDir), false);
    assert.ok(existsSync(layout.rootDir), 'images stay unless removeRoot');
    assert.ok(performance.now() - started < 15_000);
  });
});
