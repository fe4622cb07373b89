// E2E tier: the pod-spec behaviour of the kubelet (issue M1-6) proven against real
// containers on a real node (the same harness and teardown as node-e2e.test.ts):
// image pulls that fail against a fake registry on 127.0.0.1 (imagePullSecrets reach
// containerd as basic auth; ErrImagePull → ImagePullBackOff with upstream's events; no
// hosts.toml needed: containerd speaks plain HTTP to localhost/127.0.0.1 registries by default),
// securityContext (users and groups, fsGroup, read-only root, capabilities, privileged,
// no_new_privs), resources in the container's cgroup and the QoS class, termination
// messages and exit reasons, the environment (service links, downward API, $(VAR)
// expansion, optional and missing references) and volumes (Memory emptyDir with a size,
// hostPath types, subPath, readOnly).
// In CI a missing prerequisite fails; locally it skips. Teardown removes the pods,
// volumes, containerd and its state, the bridge, nft table, routes and cgroups.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { ApiServer } from '../src/apiserver/server.ts';
import { ref } from '../src/client/resources.ts';
import type { Client } from '../src/client/types.ts';
import { eventually } from '../src/client/testing.ts';
import type { KObject } from '../src/api/object.ts';
import { TEST_IMAGES } from './images/build.ts';
import { KUBECTL, freeCIDR16, type Kubectl } from './harness.ts';
import { RealNodeCluster, allRunning, busybox, podObject, realNodeNames, realNodePrerequisites } from './real-node.ts';

const { missing, why, skip } = realNodePrerequisites();
const { clusterName, nodeName } = realNodeNames('ps');
const clusterCIDR = missing.length ? '10.79.0.0/16' : freeCIDR16(60, 80);
const serviceCIDR = missing.length ? '10.59.0.0/16' : freeCIDR16(40, 60);
const cluster = new RealNodeCluster({ clusterName, nodeName, clusterCIDR, serviceCIDR, clusterDNS: [], tmpPrefix: 'skiff-pod-spec-e2e-', deletePodsFirst: true });
const logs = cluster.logs;
let dir = '';
let server: ApiServer;
let client: Client;
let kubectl: Kubectl;

const waitPod = (name: string, check: (p: KObject) => unknown, timeoutMs?: number): Promise<KObject> => cluster.waitPod(name, check, timeoutMs);
const statusOf = (p: KObject, c: string): any => p.status?.containerStatuses?.find((s: any) => s.name === c);

/**
 * `kubectl exec NAME -c CONTAINER -- CMD...`. Run again (twice at most, and logged) only when
 * kubectl itself dropped the answer: client-go's WebSocket reader starts before its streams
 * exist, so a command that answers and exits at once can lose its output there ("Unknown
 * stream id 1, discarding message" ... "closed all streams"), which says nothing about the pod.
 */
async function kubectlExec(name: string, container: string, cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  for (let attempt = 0; ; attempt++) {
    const r = await kubectl(['exec', name, '-c', container, '--', ...cmd]);
    if (attempt >= 2 || !/Unknown stream id \d+, discarding message/.test(r.stderr)) return r;
    logs.push(`kubectl exec ${name} -c ${container} lost its streams (client-go), running it again: ${r.stderr.trim()}`);
  }
}

/** `kubectl exec NAME -c CONTAINER -- CMD...`: stdout, failing the test on a non-zero exit. */
async function exec(name: string, container: string, cmd: string[]): Promise<string> {
  const r = await kubectlExec(name, container, cmd);
  assert.equal(r.code, 0, `kubectl exec ${name} -c ${container} -- ${cmd.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function jsonpath(name: string, expr: string): Promise<string> {
  const r = await kubectl(['get', 'pod', name, '-o', `jsonpath=${expr}`]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function podEvents(name: string): Promise<KObject[]> {
  return (await client.list(ref.events, 'default')).items.filter((e) => e.involvedObject?.name === name);
}

/** The variables of a running container, from `kubectl exec -- env`. */
async function envOf(pod: string, container: string): Promise<Map<string, string>> {
  const out = await exec(pod, container, ['env']);
  return new Map(out.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** A fake OCI registry: every /v2/ request gets 401 with a Basic challenge; requests are recorded. */
async function startFakeRegistry(): Promise<{ port: number; seen: { method: string; url: string; headers: IncomingHttpHeaders }[]; close: () => Promise<void> }> {
  const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
  const srv = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    const body = JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] });
    res.writeHead(401, {
      'Content-Type': 'application/json',
      'Docker-Distribution-API-Version': 'registry/2.0',
      'WWW-Authenticate': 'Basic realm="skiff-fake-registry"',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    port: (srv.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((resolve) => {
      srv.closeAllConnections();
      srv.close(() => resolve());
    }),
  };
}

/**
 * `kubectl get pod NAME --watch --no-headers`: `listed` resolves with kubectl's first line
 * (it watches from then on); `statuses` with the STATUS column of every line, once `until`
 * holds for one.
 */
function watchStatus(name: string, until: (status: string) => boolean, timeoutMs: number): { listed: Promise<void>; statuses: Promise<string[]>; stop: () => void } {
  const home = kubectl.home;
  const child = spawn(KUBECTL, ['--kubeconfig', server.kubeconfigPath, 'get', 'pod', name, '--watch', '--no-headers'], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECACHEDIR: path.join(home, 'cache') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const statuses: string[] = [];
  let buf = '';
  let all = '';
  let err = '';
  let onListed: () => void;
  const listed = new Promise<void>((resolve) => (onListed = resolve));
  child.stderr!.on('data', (d) => (err += d));
  const done = new Promise<string[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`kubectl get pod --watch: no matching status for ${name} in ${timeoutMs} ms; saw ${JSON.stringify(statuses)}; stdout ${JSON.stringify(all.slice(-2000))}; stderr ${err}`));
    }, timeoutMs);
    child.stdout!.on('data', (d) => {
      onListed();
      buf += d;
      all += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const fields = buf.slice(0, i).trim().split(/\s+/);
        buf = buf.slice(i + 1);
        if (!fields[2]) continue;
        statuses.push(fields[2]);
        if (until(fields[2])) {
          clearTimeout(timer);
          child.kill();
          resolve(statuses);
          return;
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`kubectl get pod --watch exited (${code}); saw ${JSON.stringify(statuses)}; ${err}`));
    });
  });
  return { listed, statuses: done, stop: () => child.kill() };
}

/** Capability bits of a CapEff/CapPrm line of /proc/<pid>/status. */
function capBits(status: string, field = 'CapEff'): bigint {
  const m = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(status);
  assert.ok(m, `${field} in ${status}`);
  return BigInt(`0x${m[1]}`);
}
const CAP_CHOWN = 0;
const CAP_NET_ADMIN = 12;
const CAP_NET_RAW = 13;
const CAP_SYS_ADMIN = 21;
const has = (bits: bigint, cap: number): boolean => ((bits >> BigInt(cap)) & 1n) === 1n;

describe('pod spec on a real node', { skip }, () => {
  before(async () => {
    if (missing.length) throw new Error(`prerequisites for a real node: ${why}`);
    ({ server, client, kubectl } = await cluster.start());
    dir = cluster.dir;
  });

  after(async () => {
    if (!process.env.SKIFF_NODE_TEST_LOG) for (const l of logs.filter((l) => l.includes('lost its streams') || l.startsWith('privileged CapEff'))) console.log(l);
    const { left } = await cluster.close();
    if (!missing.length) assert.deepEqual(left, [], 'bridge, nft table, pod and service routes removed');
  });

  describe('pod spec points', { concurrency: true }, () => {
    test('image pull from a registry that refuses: ErrImagePull then ImagePullBackOff, upstream events, imagePullSecrets as basic auth', async (t) => {
      const reg = await startFakeRegistry();
      t.after(() => reg.close());
      const host = `127.0.0.1:${reg.port}`;
      const image = `${host}/x/y:1`;
      const sec = await kubectl(['create', 'secret', 'docker-registry', 'regcred', `--docker-server=${host}`, '--docker-username=skiff-user', '--docker-password=pa55:word']);
      assert.equal(sec.code, 0, sec.stderr);
      // created gated, so kubectl watches before the kubelet sees the pod and no transition is missed
      await client.create(ref.pods, 'default', podObject('pull', {
        schedulingGates: [{ name: 'skiff.test/watch-first' }],
        imagePullSecrets: [{ name: 'regcred' }],
        containers: [{ name: 'main', image, imagePullPolicy: 'Always', command: ['sleep', '3600'] }],
      }));
      const watch = watchStatus('pull', (s) => s === 'ImagePullBackOff', 60_000);
      t.after(() => watch.stop());
      await Promise.race([watch.listed, watch.statuses]);
      const gated = await client.get(ref.pods, 'default', 'pull');
      await client.update(ref.pods, 'default', { ...gated, spec: { ...gated.spec, schedulingGates: [] } });
      const statuses = await watch.statuses;
      assert.equal(statuses[0], 'SchedulingGated');
      const firstErr = statuses.indexOf('ErrImagePull');
      const firstBackOff = statuses.indexOf('ImagePullBackOff');
      assert.ok(firstErr >= 0 && firstErr < firstBackOff, `ErrImagePull before ImagePullBackOff in ${JSON.stringify(statuses)}`);

      // the registry was asked, and after its challenge got the secret's credentials
      const want = `Basic ${Buffer.from('skiff-user:pa55:word').toString('base64')}`;
      assert.ok(reg.seen.some((r) => r.url.startsWith('/v2/')), JSON.stringify(reg.seen.map((r) => `${r.method} ${r.url}`)));
      assert.ok(reg.seen.some((r) => r.headers.authorization === want), `Authorization ${want} in ${JSON.stringify(reg.seen.map((r) => r.headers.authorization))}; events ${JSON.stringify((await podEvents('pull')).map((e) => e.message))}`);

      const ev = await eventually(async () => {
        const ev = await podEvents('pull');
        // events are recorded asynchronously: wait for the whole sequence
        const seen = new Set(ev.map((e) => e.reason === 'Failed' ? e.message.slice(0, 20) : e.reason));
        return ['Pulling', 'BackOff', 'Failed to pull image', 'Error: ErrImagePull', 'Error: ImagePullBack'].every((k) => seen.has(k)) ? ev : undefined;
      }, 15_000, 'the BackOff events');
      const byReason = (reason: string) => ev.filter((e) => e.reason === reason);
      assert.ok(byReason('Pulling').some((e) => e.type === 'Normal' && e.message === `Pulling image "${image}"`), JSON.stringify(byReason('Pulling')));
      const failed = byReason('Failed');
      // the runtime's error as upstream prints a gRPC status: containerd got the registry's 401 for the credentials
      const pullFailed = failed.find((e) => e.type === 'Warning' && e.message.startsWith(`Failed to pull image "${image}": rpc error: code = Unknown desc = `));
      assert.ok(pullFailed, JSON.stringify(failed.map((e) => e.message)));
      assert.match(pullFailed.message, /401 Unauthorized/);
      const pullError = pullFailed.message.slice(`Failed to pull image "${image}": `.length);
      assert.ok(failed.some((e) => e.type === 'Warning' && e.message === 'Error: ErrImagePull'), JSON.stringify(failed.map((e) => e.message)));
      assert.ok(failed.some((e) => e.type === 'Warning' && e.message === 'Error: ImagePullBackOff'), JSON.stringify(failed.map((e) => e.message)));
      assert.ok(byReason('BackOff').some((e) => e.type === 'Normal' && e.message === `Back-off pulling image "${image}"`), JSON.stringify(byReason('BackOff')));
      for (const e of ev.filter((e) => e.reason !== 'Scheduled')) assert.equal(e.involvedObject.fieldPath, 'spec.containers{main}');

      const p = await waitPod('pull', (p) => statusOf(p, 'main')?.state?.waiting?.reason === 'ImagePullBackOff');
      assert.equal(p.status.phase, 'Pending');
      assert.equal(statusOf(p, 'main').state.waiting.reason, 'ImagePullBackOff');
      // the control: a pod without imagePullSecrets sends the registry no credentials
      await client.create(ref.pods, 'default', podObject('pull-anon', {
        containers: [{ name: 'main', image: `${host}/x/anon:1`, imagePullPolicy: 'Always', command: ['sleep', '3600'] }],
      }));
      await waitPod('pull-anon', (p) => ['ErrImagePull', 'ImagePullBackOff'].includes(statusOf(p, 'main')?.state?.waiting?.reason));
      const anon = reg.seen.filter((r) => r.url.startsWith('/v2/x/anon/'));
      assert.ok(anon.length > 0 && anon.every((r) => r.headers.authorization === undefined), JSON.stringify(anon.map((r) => [r.url, r.headers.authorization])));

      // 1.32: the back-off's waiting message carries the last pull error
      assert.equal(statusOf(p, 'main').state.waiting.message, `Back-off pulling image "${image}": ErrImagePull: ${pullError}`);
    });

    test('securityContext: runAsUser/runAsGroup, fsGroup and supplementalGroups, readOnlyRootFilesystem, capabilities, privileged, allowPrivilegeEscalation', async () => {
      await client.create(ref.pods, 'default', podObject('secctx', {
        securityContext: { fsGroup: 2000, supplementalGroups: [4000] },
        volumes: [{ name: 'data', emptyDir: {} }],
        containers: [
          busybox('user', 'sleep 3600', { securityContext: { runAsUser: 1000, runAsGroup: 3000 }, volumeMounts: [{ name: 'data', mountPath: '/data' }] }),
          busybox('ro', 'sleep 3600', { securityContext: { readOnlyRootFilesystem: true }, volumeMounts: [{ name: 'data', mountPath: '/data' }] }),
          busybox('caps', 'sleep 3600', { securityContext: { capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] }, allowPrivilegeEscalation: false } }),
          busybox('priv', 'sleep 3600', { securityContext: { privileged: true } }),
          busybox('plain', 'sleep 3600'),
        ],
      }));
      await waitPod('secctx', allRunning);
      // users and groups: uid/gid as asked; fsGroup and supplementalGroups among the groups
      assert.equal((await exec('secctx', 'user', ['id', '-u'])).trim(), '1000');
      assert.equal((await exec('secctx', 'user', ['id', '-g'])).trim(), '3000');
      const groups = (await exec('secctx', 'user', ['id', '-G'])).trim().split(/\s+/);
      assert.ok(groups.includes('2000') && groups.includes('4000'), `id -G: ${groups.join(' ')}`);
      assert.match(await exec('secctx', 'user', ['id']), /^uid=1000 gid=3000 groups=/);
      // the emptyDir belongs to the fsGroup and new files in it inherit the group
      assert.equal((await exec('secctx', 'user', ['stat', '-c', '%g', '/data'])).trim(), '2000');
      assert.equal((await exec('secctx', 'user', ['sh', '-c', 'echo hi > /data/by-user && stat -c "%u %g" /data/by-user'])).trim(), '1000 2000');

      // read-only root: writes to / fail, the emptyDir stays writable
      const rootWrite = await kubectlExec('secctx', 'ro', ['sh', '-c', 'echo x > /newfile']);
      assert.notEqual(rootWrite.code, 0);
      assert.match(rootWrite.stderr, /Read-only file system/);
      assert.equal(await exec('secctx', 'ro', ['sh', '-c', 'echo ok > /data/ro-was-here && cat /data/ro-was-here']), 'ok\n');
      assert.match(await exec('secctx', 'ro', ['grep', ' / ', '/proc/mounts']), /^overlay \/ overlay ro[ ,]/);

      // capabilities: drop ALL, add NET_ADMIN → exactly NET_ADMIN; no_new_privs set
      const capsStatus = await exec('secctx', 'caps', ['cat', '/proc/self/status']);
      assert.equal(capBits(capsStatus), 1n << BigInt(CAP_NET_ADMIN), capsStatus);
      assert.match(capsStatus, /^NoNewPrivs:\s+1$/m);
      // the runtime's default set for comparison: no NET_ADMIN, no SYS_ADMIN, no_new_privs off
      const plainStatus = await exec('secctx', 'plain', ['cat', '/proc/self/status']);
      const plain = capBits(plainStatus);
      assert.ok(has(plain, CAP_CHOWN) && has(plain, CAP_NET_RAW) && !has(plain, CAP_NET_ADMIN) && !has(plain, CAP_SYS_ADMIN), plain.toString(16));
      assert.match(plainStatus, /^NoNewPrivs:\s+0$/m);

      // privileged: every capability this machine lets containerd hand out (its bounding set,
      // which is this process's: on a full host all cap_last_cap+1 bits), the host's devices
      const bounding = capBits(readFileSync('/proc/self/status', 'utf8'), 'CapBnd');
      const last = Number((await exec('secctx', 'priv', ['cat', '/proc/sys/kernel/cap_last_cap'])).trim());
      const all = (1n << BigInt(last + 1)) - 1n;
      assert.equal(capBits(await exec('secctx', 'priv', ['cat', '/proc/self/status'])), bounding & all);
      if (bounding !== all) logs.push(`privileged CapEff: this machine's bounding set lacks ${(all & ~bounding).toString(16)}`);
      const devices = async (c: string) => (await exec('secctx', c, ['ls', '/dev'])).split('\n').filter(Boolean).length;
      const privDevices = await devices('priv');
      const plainDevices = await devices('plain');
      assert.ok(privDevices > plainDevices, `/dev entries: privileged ${privDevices}, plain ${plainDevices}`);
    });

    test('resources reach the cgroup (cpu quota and weight, memory limit); qosClass Guaranteed, Burstable, BestEffort', async () => {
      const resources: Record<string, any> = {
        guaranteed: { requests: { cpu: '500m', memory: '64Mi' }, limits: { cpu: '500m', memory: '64Mi' } },
        burstable: { requests: { cpu: '250m', memory: '32Mi' }, limits: { cpu: '500m', memory: '64Mi' } },
        besteffort: undefined,
      };
      for (const [qos, r] of Object.entries(resources)) {
        await client.create(ref.pods, 'default', podObject(`qos-${qos}`, { containers: [busybox('main', 'sleep 3600', r ? { resources: r } : {})] }));
      }
      for (const qos of Object.keys(resources)) await waitPod(`qos-${qos}`, allRunning);
      assert.equal(await jsonpath('qos-guaranteed', '{.status.qosClass}'), 'Guaranteed');
      assert.equal(await jsonpath('qos-burstable', '{.status.qosClass}'), 'Burstable');
      assert.equal(await jsonpath('qos-besteffort', '{.status.qosClass}'), 'BestEffort');

      const read = async (pod: string, file: string) => (await exec(pod, 'main', ['cat', file])).trim();
      const v2 = (await kubectlExec('qos-burstable', 'main', ['test', '-f', '/sys/fs/cgroup/cgroup.controllers'])).code === 0;
      // upstream's conversions: shares = milliCPU*1024/1000 (256 for 250m, 2 at least);
      // cgroup v2 weight = 1 + (shares-2)*9999/262142; quota = milliCPU*100000/1000 per 100 ms
      const weight = (shares: number) => 1 + Math.floor(((shares - 2) * 9999) / 262142);
      if (v2) {
        assert.equal(await read('qos-burstable', '/sys/fs/cgroup/cpu.max'), '50000 100000');
        assert.equal(await read('qos-burstable', '/sys/fs/cgroup/cpu.weight'), String(weight(256)));
        assert.equal(await read('qos-burstable', '/sys/fs/cgroup/memory.max'), '67108864');
        assert.equal(await read('qos-guaranteed', '/sys/fs/cgroup/cpu.weight'), String(weight(512)));
        assert.equal(await read('qos-besteffort', '/sys/fs/cgroup/cpu.max'), 'max 100000');
        assert.equal(await read('qos-besteffort', '/sys/fs/cgroup/cpu.weight'), String(weight(2)));
        assert.equal(await read('qos-besteffort', '/sys/fs/cgroup/memory.max'), 'max');
      } else {
        assert.equal(await read('qos-burstable', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), '50000');
        assert.equal(await read('qos-burstable', '/sys/fs/cgroup/cpu/cpu.cfs_period_us'), '100000');
        assert.equal(await read('qos-burstable', '/sys/fs/cgroup/cpu/cpu.shares'), '256');
        assert.equal(await read('qos-burstable', '/sys/fs/cgroup/memory/memory.limit_in_bytes'), '67108864');
        assert.equal(await read('qos-guaranteed', '/sys/fs/cgroup/cpu/cpu.shares'), '512');
        assert.equal(await read('qos-besteffort', '/sys/fs/cgroup/cpu/cpu.cfs_quota_us'), '-1');
        assert.equal(await read('qos-besteffort', '/sys/fs/cgroup/cpu/cpu.shares'), '2');
        assert.ok(BigInt(await read('qos-besteffort', '/sys/fs/cgroup/memory/memory.limit_in_bytes')) > 1n << 60n);
      }
      assert.equal(await read('qos-guaranteed', v2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes'), '67108864');
    });

    test('termination messages, FallbackToLogsOnError, exit codes and reasons', async () => {
      await client.create(ref.pods, 'default', podObject('term', {
        restartPolicy: 'Never',
        containers: [
          busybox('msg', 'printf "bye from msg" > /dev/termination-log; echo not this; exit 1'),
          busybox('fallback', 'for i in 1 2 3; do echo "log line $i"; done; exit 3', { terminationMessagePolicy: 'FallbackToLogsOnError' }),
          busybox('custom-path', 'printf "all good" > /tmp/done-msg; exit 0', { terminationMessagePath: '/tmp/done-msg' }),
          busybox('ok', 'echo logs are not a message when the exit is 0; exit 0', { terminationMessagePolicy: 'FallbackToLogsOnError' }),
          busybox('file-wins', 'echo a log line; printf "from the file" > /dev/termination-log; exit 1', { terminationMessagePolicy: 'FallbackToLogsOnError' }),
          busybox('tail', 'seq 1 100; exit 1', { terminationMessagePolicy: 'FallbackToLogsOnError' }),
        ],
      }));
      await client.create(ref.pods, 'default', podObject('term-restart', {
        restartPolicy: 'OnFailure',
        containers: [busybox('main', 'printf "crashed on purpose" > /dev/termination-log; exit 7')],
      }));
      await waitPod('term', (p) => p.status?.phase === 'Failed' && p.status.containerStatuses?.every((c: any) => c.state?.terminated));
      const field = (c: string, f: string) => jsonpath('term', `{.status.containerStatuses[?(@.name=="${c}")].state.terminated.${f}}`);
      assert.equal(await field('msg', 'exitCode'), '1');
      assert.equal(await field('msg', 'reason'), 'Error');
      assert.equal(await field('msg', 'message'), 'bye from msg');
      assert.equal(await field('fallback', 'exitCode'), '3');
      assert.equal(await field('fallback', 'reason'), 'Error');
      assert.equal(await field('fallback', 'message'), 'log line 1\nlog line 2\nlog line 3\n');
      assert.equal(await field('custom-path', 'exitCode'), '0');
      assert.equal(await field('custom-path', 'reason'), 'Completed');
      assert.equal(await field('custom-path', 'message'), 'all good');
      assert.equal(await field('ok', 'reason'), 'Completed');
      assert.equal(await field('ok', 'message'), '');
      // the file wins over the logs; the logs' fallback is their last 80 lines
      assert.equal(await field('file-wins', 'message'), 'from the file');
      const seq = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${from + i}\n`).join('');
      assert.equal(await field('tail', 'message'), seq(21, 100));
      assert.equal(await jsonpath('term', '{.status.phase}'), 'Failed');

      // the previous run's message in lastState once the container restarted
      await waitPod('term-restart', (p) => statusOf(p, 'main')?.lastState?.terminated);
      const last = (f: string) => jsonpath('term-restart', `{.status.containerStatuses[0].lastState.terminated.${f}}`);
      assert.equal(await last('message'), 'crashed on purpose');
      assert.equal(await last('exitCode'), '7');
      assert.equal(await last('reason'), 'Error');
      assert.ok(Number(await jsonpath('term-restart', '{.status.containerStatuses[0].restartCount}')) >= 1);
    });

    test('environment: service links, downward API, $(VAR) expansion and $$ escaping, optional and missing references', async () => {
      const svc = await client.create(ref.services, 'default', {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web-front' },
        spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'dns', port: 53, protocol: 'UDP' }] },
      });
      const ip: string = svc.spec.clusterIP;
      assert.ok(ip, 'the Service has a ClusterIP');
      await client.create(ref.configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'env-cm' }, data: { color: 'blue' } });
      const envSpec = [
        { name: 'GREETING', value: 'hello' },
        { name: 'COMPOSED', value: '$(GREETING) from $(POD_NAME_LATER) and $$(GREETING)' },
        { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
        { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
        { name: 'MEM_MI', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
        { name: 'CPU_M', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
        // no cpu limit: the node's allocatable, as upstream
        { name: 'CPU_LIMIT_M', valueFrom: { resourceFieldRef: { resource: 'limits.cpu', divisor: '1m' } } },
        { name: 'COLOR', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'color' } } },
        { name: 'OPT_CM', valueFrom: { configMapKeyRef: { name: 'no-such-cm', key: 'k', optional: true } } },
        { name: 'OPT_KEY', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'no-such-key', optional: true } } },
        { name: 'OPT_SECRET', valueFrom: { secretKeyRef: { name: 'no-such-secret', key: 'k', optional: true } } },
      ];
      const main = (extra: Record<string, any> = {}) => ({
        name: 'main',
        image: TEST_IMAGES.busybox,
        imagePullPolicy: 'Never',
        command: ['sh', '-c', 'echo "$1|$2|$3"; exec sleep 3600', 'sh'],
        args: ['$(GREETING)', '$$(GREETING)', '$(UNDEFINED_VAR)'],
        env: envSpec,
        resources: { requests: { cpu: '100m', memory: '32Mi' }, limits: { memory: '64Mi' } },
        ...extra,
      });
      await client.create(ref.pods, 'default', podObject('env-links', { containers: [main()] }));
      await client.create(ref.pods, 'default', podObject('env-nolinks', { enableServiceLinks: false, containers: [main()] }));
      await client.create(ref.pods, 'default', podObject('env-missing', {
        containers: [
          busybox('cm', 'sleep 3600', { env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'absent-cm', key: 'k' } } }] }),
          busybox('secret', 'sleep 3600', { env: [{ name: 'Y', valueFrom: { secretKeyRef: { name: 'absent-secret', key: 'k' } } }] }),
          busybox('key', 'sleep 3600', { env: [{ name: 'Z', valueFrom: { configMapKeyRef: { name: 'env-cm', key: 'absent-key' } } }] }),
        ],
      }));

      const p = await waitPod('env-links', allRunning);
      const env = await envOf('env-links', 'main');
      assert.equal(env.get('WEB_FRONT_SERVICE_HOST'), ip);
      assert.equal(env.get('WEB_FRONT_SERVICE_PORT'), '80');
      assert.equal(env.get('WEB_FRONT_SERVICE_PORT_HTTP'), '80');
      assert.equal(env.get('WEB_FRONT_SERVICE_PORT_DNS'), '53');
      assert.equal(env.get('WEB_FRONT_PORT'), `tcp://${ip}:80`);
      assert.equal(env.get('WEB_FRONT_PORT_80_TCP'), `tcp://${ip}:80`);
      assert.equal(env.get('WEB_FRONT_PORT_80_TCP_PROTO'), 'tcp');
      assert.equal(env.get('WEB_FRONT_PORT_80_TCP_PORT'), '80');
      assert.equal(env.get('WEB_FRONT_PORT_80_TCP_ADDR'), ip);
      assert.equal(env.get('WEB_FRONT_PORT_53_UDP'), `udp://${ip}:53`);
      assert.equal(env.get('WEB_FRONT_PORT_53_UDP_ADDR'), ip);
      assert.ok(env.get('KUBERNETES_SERVICE_HOST'), 'the kubernetes Service\'s variables');
      // downward API
      assert.equal(env.get('POD_NAME'), 'env-links');
      assert.equal(env.get('POD_IP'), p.status.podIP);
      assert.equal(env.get('NODE_NAME'), nodeName);
      assert.equal(env.get('MEM_MI'), '64');
      assert.equal(env.get('CPU_M'), '100');
      const allocatable = (await client.get(ref.nodes, undefined, nodeName)).status.allocatable.cpu;
      assert.equal(env.get('CPU_LIMIT_M'), String(/m$/.test(allocatable) ? Number(allocatable.slice(0, -1)) : Number(allocatable) * 1000));
      // expansion: defined earlier → value; later or undefined → verbatim; $$ → $
      assert.equal(env.get('COMPOSED'), 'hello from $(POD_NAME_LATER) and $(GREETING)');
      assert.equal(env.get('COLOR'), 'blue');
      for (const k of ['OPT_CM', 'OPT_KEY', 'OPT_SECRET']) assert.ok(!env.has(k), `${k} absent`);
      const out = await eventually(async () => {
        const r = await kubectl(['logs', 'env-links']);
        return r.code === 0 && r.stdout ? r.stdout : undefined;
      }, 10_000, 'kubectl logs env-links');
      assert.equal(out, 'hello|$(GREETING)|$(UNDEFINED_VAR)\n');

      // enableServiceLinks false: none of the namespace's services, the kubernetes Service's still
      await waitPod('env-nolinks', allRunning);
      const nolinks = await envOf('env-nolinks', 'main');
      assert.deepEqual([...nolinks.keys()].filter((k) => k.startsWith('WEB_FRONT_')), []);
      assert.equal(nolinks.get('KUBERNETES_SERVICE_HOST'), env.get('KUBERNETES_SERVICE_HOST'));
      assert.equal(nolinks.get('POD_NAME'), 'env-nolinks');

      // non-optional references that do not resolve: CreateContainerConfigError with upstream's messages
      const bad = await waitPod('env-missing', (p) => ['cm', 'secret', 'key'].every((c) => statusOf(p, c)?.state?.waiting?.reason === 'CreateContainerConfigError'));
      assert.equal(statusOf(bad, 'cm').state.waiting.message, 'configmap "absent-cm" not found');
      assert.equal(statusOf(bad, 'secret').state.waiting.message, 'secret "absent-secret" not found');
      assert.equal(statusOf(bad, 'key').state.waiting.message, "couldn't find key absent-key in ConfigMap default/env-cm");
      const row = await kubectl(['get', 'pod', 'env-missing', '--no-headers']);
      assert.equal(row.code, 0, row.stderr);
      assert.equal(row.stdout.trim().split(/\s+/)[2], 'CreateContainerConfigError');
      const ev = await eventually(async () => {
        const ev = await podEvents('env-missing');
        return ev.filter((e) => e.reason === 'Failed').length >= 3 ? ev : undefined;
      }, 15_000, 'Failed events for env-missing');
      assert.ok(ev.some((e) => e.reason === 'Failed' && e.type === 'Warning' && e.message === 'Error: configmap "absent-cm" not found' && e.involvedObject.fieldPath === 'spec.containers{cm}'), JSON.stringify(ev.map((e) => e.message)));
      assert.ok(ev.some((e) => e.reason === 'Failed' && e.message === 'Error: secret "absent-secret" not found'));
    });

    test('volumes: emptyDir Memory with sizeLimit, hostPath DirectoryOrCreate and File, configMap subPath, readOnly mounts', async () => {
      const hostDir = path.join(dir, 'host-created', 'deep');
      const missingFile = path.join(dir, 'no-such-file');
      const hostFile = path.join(dir, 'host-file.txt');
      writeFileSync(hostFile, 'a file on the node\n');
      await client.create(ref.configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'vol-cm' }, data: { 'app.conf': 'listen=8080\n', other: 'x' } });
      await client.create(ref.pods, 'default', podObject('vols', {
        volumes: [
          { name: 'cache', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
          { name: 'host', hostPath: { path: hostDir, type: 'DirectoryOrCreate' } },
          { name: 'host-file', hostPath: { path: hostFile, type: 'File' } },
          { name: 'cfg', configMap: { name: 'vol-cm' } },
          { name: 'scratch', emptyDir: {} },
        ],
        containers: [busybox('main', 'echo from-pod > /host/written; sleep 3600', {
          volumeMounts: [
            { name: 'cache', mountPath: '/cache' },
            { name: 'host', mountPath: '/host' },
            { name: 'host-file', mountPath: '/etc/host-file.txt', readOnly: true },
            { name: 'cfg', mountPath: '/etc/app/app.conf', subPath: 'app.conf' },
            { name: 'scratch', mountPath: '/scratch-ro', readOnly: true },
            { name: 'scratch', mountPath: '/scratch' },
          ],
        })],
      }));
      await client.create(ref.pods, 'default', podObject('vols-missing', {
        volumes: [{ name: 'f', hostPath: { path: missingFile, type: 'File' } }],
        containers: [busybox('main', 'sleep 3600', { volumeMounts: [{ name: 'f', mountPath: '/f' }] })],
      }));
      await waitPod('vols', allRunning);
      const sh = (script: string) => exec('vols', 'main', ['sh', '-c', script]);
      // Memory emptyDir: a tmpfs of the asked size
      assert.match(await sh('grep " /cache " /proc/mounts'), /^tmpfs \/cache tmpfs rw[ ,].*\bsize=16384k\b/);
      // hostPath DirectoryOrCreate: created on the node, the pod's writes land there
      assert.ok(statSync(hostDir).isDirectory());
      await eventually(() => existsSync(path.join(hostDir, 'written')), 10_000, 'the pod\'s file on the host');
      assert.equal(await sh('cat /host/written'), 'from-pod\n');
      // hostPath File on an existing file: that file
      assert.equal(await sh('cat /etc/host-file.txt'), 'a file on the node\n');
      // subPath of a configMap: one file, not the directory
      assert.equal(await sh('cat /etc/app/app.conf'), 'listen=8080\n');
      assert.equal(await sh('ls /etc/app'), 'app.conf\n');
      // readOnly mount of a volume that is writable elsewhere in the same container
      assert.equal(await sh('echo rw > /scratch/f && cat /scratch-ro/f'), 'rw\n');
      const ro = await kubectlExec('vols', 'main', ['sh', '-c', 'echo x > /scratch-ro/g']);
      assert.notEqual(ro.code, 0);
      assert.match(ro.stderr, /Read-only file system/);

      // hostPath type File on a missing path: FailedMount, the container never created
      const ev = await eventually(async () => (await podEvents('vols-missing')).find((e) => e.reason === 'FailedMount'), 20_000, 'a FailedMount event');
      assert.equal(ev.type, 'Warning');
      assert.equal(ev.message, `MountVolume.SetUp failed for volume "f" : hostPath type check failed: ${missingFile} is not a file`);
      const p = await client.get(ref.pods, 'default', 'vols-missing');
      assert.equal(statusOf(p, 'main').state.waiting.reason, 'ContainerCreating');
      assert.ok(!existsSync(missingFile), 'File does not create the path');
    });
  });
});
