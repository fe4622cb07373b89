// Integration tier (needs root: tmpfs mounts): VolumeManager against an in-process
// apiserver, writing real volumes under a temp pods dir. Teardown unmounts and removes
// everything the tests created.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, readlink, realpath, rm, stat, statfs, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { tmpdir } from 'node:os';
import type { KObject } from '../../api/object.ts';
import { inProcessTransport } from '../../client/inprocess.ts';
import { ref } from '../../client/resources.ts';
import { createClient } from '../../client/rest.ts';
import { ADMIN, eventually } from '../../client/testing.ts';
import type { Client } from '../../client/types.ts';
import { startTestCluster, type TestCluster } from '../../../test/harness.ts';
import { isMountPoint, mountPointsUnder } from './mount.ts';
import { VolumeError, VolumeManager, type CRIMount } from './index.ts';

const NS = 'vols';

/** A pod fixture: `pod('p').volume({...}).container('c', mounts)`. */
function pod(name: string) {
  const p: KObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, uid: randomUUID(), labels: { app: 'web', tier: 'front' }, annotations: { note: 'say "hi"' } },
    spec: { volumes: [], initContainers: [], containers: [] },
  };
  const b = {
    obj: p,
    volume(v: Record<string, unknown>) {
      p.spec.volumes.push(v);
      return b;
    },
    container(c: string | Record<string, unknown>, volumeMounts: Record<string, unknown>[] = []) {
      p.spec.containers.push(typeof c === 'string' ? { name: c, image: 'busybox', volumeMounts } : { image: 'busybox', volumeMounts, ...c });
      return b;
    },
    init(c: string, volumeMounts: Record<string, unknown>[] = []) {
      p.spec.initContainers.push({ name: c, image: 'busybox', volumeMounts });
      return b;
    },
  };
  return b;
}

/** POST a SelfSubjectReview over HTTPS with `token`: the user it names, or the HTTP code. */
async function whoami(cluster: TestCluster, token: string): Promise<{ code: number; username?: string; extra?: Record<string, string[]> }> {
  return await new Promise((resolve, reject) => {
    const req = request(
      `${cluster.server.url}/apis/authentication.k8s.io/v1/selfsubjectreviews`,
      { method: 'POST', ca: cluster.server.pki.caCertPem, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          const u = res.statusCode === 201 ? JSON.parse(body).status.userInfo : {};
          resolve({ code: res.statusCode ?? 0, username: u.username, extra: u.extra });
        });
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }));
  });
}

const mode = async (p: string) => (await stat(p)).mode & 0o7777;
const exists = (p: string) => access(p).then(() => true, () => false);

describe('VolumeManager', () => {
  let cluster: TestCluster;
  let client: Client;
  let podsDir: string;
  let vm: VolumeManager;
  const mounted: string[] = [];
  const logs: string[] = [];

  /** mountPod, remembering the uid for teardown. */
  const mount = async (p: KObject): Promise<Map<string, CRIMount[]>> => {
    mounted.push(p.metadata.uid!);
    return await vm.mountPod(p);
  };
  const failure = async (p: KObject): Promise<string[]> => {
    mounted.push(p.metadata.uid!);
    const e = await vm.mountPod(p).then(() => undefined, (e: unknown) => e);
    assert.ok(e instanceof VolumeError, `expected a VolumeError, got ${e}`);
    return e.messages;
  };

  before(async () => {
    cluster = await startTestCluster();
    client = createClient(inProcessTransport({ serve: (req, res) => cluster.server.serve(req, res) }, ADMIN));
    await client.create(ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    podsDir = await mkdtemp(path.join(tmpdir(), 'skiff-pods-'));
    vm = new VolumeManager({ podsDir, client, syncPeriodMs: 100, nodeAllocatable: { cpu: '4', memory: '8Gi' }, log: (msg) => logs.push(msg) });
  });
  after(async () => {
    for (const uid of mounted) await vm.unmountPod(uid);
    assert.deepEqual(await mountPointsUnder(podsDir), []);
    await rm(podsDir, { recursive: true, force: true });
    await cluster.close();
  });

  it('emptyDir: a 0777 directory shared by init and app containers, readOnly per mount', async () => {
    const p = pod('empty')
      .volume({ name: 'scratch', emptyDir: {} })
      .init('setup', [{ name: 'scratch', mountPath: '/work' }])
      .container('app', [{ name: 'scratch', mountPath: '/data', readOnly: true }])
      .container('side').obj;
    const mounts = await mount(p);
    const dir = path.join(podsDir, p.metadata.uid!, 'volumes/kubernetes.io~empty-dir/scratch');
    assert.equal(await mode(dir), 0o777);
    assert.deepEqual(mounts.get('setup'), [{ containerPath: '/work', hostPath: dir, readonly: false, propagation: 'PROPAGATION_PRIVATE' }]);
    assert.deepEqual(mounts.get('app'), [{ containerPath: '/data', hostPath: dir, readonly: true, propagation: 'PROPAGATION_PRIVATE' }]);
    assert.deepEqual(mounts.get('side'), []);
    // Idempotent: a second sync keeps what a container wrote.
    await writeFile(path.join(dir, 'log'), 'line\n');
    await vm.mountPod(p);
    assert.equal(await readFile(path.join(dir, 'log'), 'utf8'), 'line\n');
  });

  it('emptyDir medium Memory: a tmpfs of sizeLimit', async () => {
    const p = pod('mem').volume({ name: 'shm', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } }).container('app', [{ name: 'shm', mountPath: '/dev/shm' }]).obj;
    await mount(p);
    const dir = path.join(podsDir, p.metadata.uid!, 'volumes/kubernetes.io~empty-dir/shm');
    assert.ok(await isMountPoint(dir));
    const fs = await statfs(dir);
    assert.equal(fs.type, 0x01021994, 'TMPFS_MAGIC');
    assert.equal(fs.blocks * fs.bsize, 16 * 1024 * 1024);
    await vm.mountPod(p); // idempotent: not mounted twice
    assert.equal((await mountPointsUnder(dir)).length, 1);
  });

  it('emptyDir medium Memory without sizeLimit: sized by the pod memory limit', async () => {
    const p = pod('mem-limit')
      .volume({ name: 'shm', emptyDir: { medium: 'Memory' } })
      .container({ name: 'a', resources: { limits: { memory: '8Mi' } } })
      .container({ name: 'b', resources: { limits: { memory: '4Mi' } } }).obj;
    await mount(p);
    const fs = await statfs(path.join(podsDir, p.metadata.uid!, 'volumes/kubernetes.io~empty-dir/shm'));
    assert.equal(fs.blocks * fs.bsize, 12 * 1024 * 1024);
  });

  it('fsGroup: volumes belong to the group; API-data files become group-readable', async () => {
    await client.create(ref.secrets, NS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'grp' }, data: { k: Buffer.from('v').toString('base64') } });
    const p = pod('fsgroup')
      .volume({ name: 'scratch', emptyDir: {} })
      .volume({ name: 'sec', secret: { secretName: 'grp', defaultMode: 0o400, items: [{ key: 'k', path: 'd/k' }] } })
      .container('app').obj;
    p.spec.securityContext = { fsGroup: 2000 };
    await mount(p);
    const base = path.join(podsDir, p.metadata.uid!, 'volumes');
    const scratch = await stat(path.join(base, 'kubernetes.io~empty-dir/scratch'));
    assert.equal(scratch.gid, 2000);
    assert.equal(scratch.mode & 0o7777, 0o2777);
    const file = await stat(path.join(base, 'kubernetes.io~secret/sec/d/k'));
    assert.equal(file.gid, 2000);
    assert.equal(file.mode & 0o7777, 0o440);
    const dir = await stat(path.join(base, 'kubernetes.io~secret/sec/d'));
    assert.equal(dir.gid, 2000);
    assert.equal(dir.mode & 0o2000, 0o2000);
    // Unchanged on the next sync: no new version for ownership alone.
    const ts = await readlink(path.join(base, 'kubernetes.io~secret/sec/..data'));
    await vm.mountPod(p);
    assert.equal(await readlink(path.join(base, 'kubernetes.io~secret/sec/..data')), ts);
  });

  it('configMap: upstream atomic layout, items with paths and modes, defaultMode, read-only mounts', async () => {
    await client.create(ref.configmaps, NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { 'app.conf': 'a=1\n', other: 'o' }, binaryData: { bin: Buffer.from([0, 1, 2]).toString('base64') } });
    const p = pod('cm')
      .volume({ name: 'all', configMap: { name: 'cfg', defaultMode: 0o640 } })
      .volume({ name: 'some', configMap: { name: 'cfg', items: [{ key: 'app.conf', path: 'etc/app.conf', mode: 0o400 }, { key: 'other', path: 'o.txt' }] } })
      .container('app', [{ name: 'all', mountPath: '/cfg' }, { name: 'some', mountPath: '/some' }]).obj;
    const mounts = await mount(p);
    const all = path.join(podsDir, p.metadata.uid!, 'volumes/kubernetes.io~configmap/all');
    const some = path.join(podsDir, p.metadata.uid!, 'volumes/kubernetes.io~configmap/some');
    assert.deepEqual(mounts.get('app')!.map((m) => [m.hostPath, m.readonly]), [[all, true], [some, true]]);

    const ts = await readlink(path.join(all, '..data'));
    assert.deepEqual((await readdir(all)).sort(), [ts, '..data', 'app.conf', 'bin', 'other'].sort());
    assert.equal(await readlink(path.join(all, 'app.conf')), '..data/app.conf');
    assert.equal(await readFile(path.join(all, 'app.conf'), 'utf8'), 'a=1\n');
    assert.deepEqual([...(await readFile(path.join(all, 'bin')))], [0, 1, 2]);
    assert.equal(await mode(path.join(all, 'other')), 0o640);

    assert.equal(await readFile(path.join(some, 'etc/app.conf'), 'utf8'), 'a=1\n');
    assert.equal(await mode(path.join(some, 'etc/app.conf')), 0o400);
    assert.equal(await mode(path.join(some, 'o.txt')), 0o644);
    assert.equal(await exists(path.join(some, 'bin')), false);
  });

  it('configMap: an update becomes visible through ..data within the refresh period', async () => {
    await client.create(ref.configmaps, NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'live' }, data: { key: 'v1', gone: 'x' } });
    const p = pod('live').volume({ name: 'live', configMap: { name: 'live' } }).container('app', [{ name: 'live', mountPath: '/live' }]).obj;
    await mount(p);
    const dir = path.join(podsDir, p.metadata.uid!, 'volumes/kubernetes.io~configmap/live');
    const before = await readlink(path.join(dir, '..data'));
    const ac = new AbortController();
    vm.start(ac.signal);
    try {
      await client.update(ref.configmaps, NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'live' }, data: { key: 'v2', added: 'y' } });
      await eventually(async () => (await readFile(path.join(dir, 'key'), 'utf8')) === 'v2', 5000, 'the new value');
      assert.notEqual(await readlink(path.join(dir, '..data')), before);
      assert.equal(await readFile(path.join(dir, 'added'), 'utf8'), 'y');
      assert.equal(await exists(path.join(dir, 'gone')), false);
      assert.equal(await exists(path.join(dir, before)), false, 'the old version is removed');

      // A deleted (required) source leaves the last content in place, as upstream.
      const current = await readlink(path.join(dir, '..data'));
      await client.delete(ref.configmaps, NS, 'live');
      await new Promise((r) => setTimeout(r, 350));
      assert.equal(await readlink(path.join(dir, '..data')), current);
      assert.equal(await readFile(path.join(dir, 'key'), 'utf8'), 'v2');
    } finally {
      ac.abort();
      await vm.done();
    }
  });

  it('secret: decoded data on a tmpfs, defaultMode and items', async () => {
    await client.create(ref.secrets, NS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds' }, data: { password: Buffer.from('s3cret').toString('base64'), user: Buffer.from('admin').toString('base64') } });
    const p = pod('sec')
      .volume({ name: 'creds', secret: { secretName: 'creds', defaultMode: 0o400, items: [{ key: 'password', path: 'pw' }] } })
      .container('app', [{ name: 'creds', mountPath: '/creds' }]).obj;
    const mounts = await mount(p);
    const dir = path.join(podsDir, p.metadata.uid!, 'volumes/kubernetes.io~secret/creds');
    assert.ok(await isMountPoint(dir), 'secrets stay off disk');
    assert.equal(await readFile(path.join(dir, 'pw'), 'utf8'), 's3cret');
    assert.equal(await mode(path.join(dir, 'pw')), 0o400);
    assert.equal(await exists(path.join(dir, 'user')), false);
    assert.equal(mounts.get('app')![0].readonly, true);
  });

  it('missing sources: optional ones give an empty volume or skip the key; required ones fail with event texts', async () => {
    await client.create(ref.configmaps, NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'partial' }, data: { have: 'h' } });
    const ok = pod('optional')
      .volume({ name: 'nocm', configMap: { name: 'absent', optional: true } })
      .volume({ name: 'nosec', secret: { secretName: 'absent', optional: true } })
      .volume({ name: 'nokey', configMap: { name: 'partial', optional: true, items: [{ key: 'have', path: 'have' }, { key: 'lack', path: 'lack' }] } })
      .container('app').obj;
    await mount(ok);
    const base = path.join(podsDir, ok.metadata.uid!, 'volumes');
    assert.deepEqual(await readdir(path.join(base, 'kubernetes.io~configmap/nocm/..data')), []);
    assert.deepEqual(await readdir(path.join(base, 'kubernetes.io~secret/nosec/..data')), []);
    assert.deepEqual(await readdir(path.join(base, 'kubernetes.io~configmap/nokey/..data')), ['have']);

    const bad = pod('required')
      .volume({ name: 'cfg', configMap: { name: 'x' } })
      .volume({ name: 'sec', secret: { secretName: 'y' } })
      .volume({ name: 'key', configMap: { name: 'partial', items: [{ key: 'lack', path: 'lack' }] } })
      .volume({ name: 'data', persistentVolumeClaim: { claimName: 'c' } })
      .volume({ name: 'nfs', nfs: { server: 'nfs', path: '/' } })
      .container('app').obj;
    assert.deepEqual(await failure(bad), [
      'MountVolume.SetUp failed for volume "cfg" : configmap "x" not found',
      'MountVolume.SetUp failed for volume "sec" : secret "y" not found',
      'MountVolume.SetUp failed for volume "key" : configmap references non-existent config key: lack',
      'MountVolume.SetUp failed for volume "data" : persistentVolumeClaim volumes are not supported yet',
      'MountVolume.SetUp failed for volume "nfs" : nfs volumes are not supported yet',
    ]);
  });

  it('downwardAPI: metadata fields, labels and annotations as upstream formats them, resourceFieldRef with divisors', async () => {
    const p = pod('dapi')
      .volume({
        name: 'info',
        downwardAPI: {
          items: [
            { path: 'name', fieldRef: { fieldPath: 'metadata.name' } },
            { path: 'ns', fieldRef: { fieldPath: 'metadata.namespace' } },
            { path: 'uid', fieldRef: { fieldPath: 'metadata.uid' } },
            { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
            { path: 'annotations', fieldRef: { fieldPath: 'metadata.annotations' }, mode: 0o600 },
            { path: 'app', fieldRef: { fieldPath: "metadata.labels['app']" } },
            { path: 'cpu_limit', resourceFieldRef: { containerName: 'app', resource: 'limits.cpu' } },
            { path: 'cpu_request_m', resourceFieldRef: { containerName: 'app', resource: 'requests.cpu', divisor: '1m' } },
            { path: 'mem_limit_mi', resourceFieldRef: { containerName: 'app', resource: 'limits.memory', divisor: '1Mi' } },
            { path: 'other_mem', resourceFieldRef: { containerName: 'other', resource: 'limits.memory', divisor: '1Gi' } },
          ],
        },
      })
      .container({ name: 'app', resources: { limits: { cpu: '500m', memory: '64Mi' }, requests: { cpu: '250m', memory: '64Mi' } } }, [{ name: 'info', mountPath: '/etc/podinfo' }])
      .container('other').obj;
    await mount(p);
    const dir = path.join(podsDir, p.metadata.uid!, 'volumes/kubernetes.io~downward-api/info');
    const read = (f: string) => readFile(path.join(dir, f), 'utf8');
    assert.equal(await read('name'), 'dapi');
    assert.equal(await read('ns'), NS);
    assert.equal(await read('uid'), p.metadata.uid);
    assert.equal(await read('labels'), 'app="web"\ntier="front"');
    assert.equal(await read('annotations'), 'note="say \\"hi\\""');
    assert.equal(await mode(path.join(dir, 'annotations')), 0o600);
    assert.equal(await read('app'), 'web');
    assert.equal(await read('cpu_limit'), '1');
    assert.equal(await read('cpu_request_m'), '250');
    assert.equal(await read('mem_limit_mi'), '64');
    assert.equal(await read('other_mem'), '8', 'no limit: the node allocatable');

    // A newer pod (labels changed) rewrites the file on the next sync.
    p.metadata.labels = { app: 'api' };
    await vm.mountPod(p);
    assert.equal(await read('labels'), 'app="api"');
  });

  it('projected: configMap, secret and downwardAPI merged; the service account volume gets a pod-bound token, ca.crt and namespace', async () => {
    await client.create(ref.configmaps, NS, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kube-root-ca.crt' }, data: { 'ca.crt': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' } });
    await client.create(ref.secrets, NS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'proj' }, data: { k: Buffer.from('sv').toString('base64') } });
    const p = pod('proj')
      .volume({
        name: 'kube-api-access-abcde',
        projected: {
          defaultMode: 0o644,
          sources: [
            { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
            { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
            { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
          ],
        },
      })
      .volume({ name: 'mix', projected: { defaultMode: 0o440, sources: [{ secret: { name: 'proj', items: [{ key: 'k', path: 's/k', mode: 0o400 }] } }, { configMap: { name: 'absent', optional: true } }, { configMap: { name: 'cfg' } }] } })
      .container('app', [{ name: 'kube-api-access-abcde', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }, { name: 'mix', mountPath: '/mix' }]).obj;
    // The token is bound to the pod: it must exist in the API, as must its service account.
    await client.create(ref.serviceaccounts, NS, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
    p.spec.serviceAccountName = 'default';
    p.spec.automountServiceAccountToken = false;
    const created = await client.create(ref.pods, NS, p);
    await mount(created);
    const sa = path.join(podsDir, created.metadata.uid!, 'volumes/kubernetes.io~projected/kube-api-access-abcde');
    assert.ok(await isMountPoint(sa));
    assert.match(await readFile(path.join(sa, 'ca.crt'), 'utf8'), /BEGIN CERTIFICATE/);
    assert.equal(await readFile(path.join(sa, 'namespace'), 'utf8'), NS);
    const token = await readFile(path.join(sa, 'token'), 'utf8');
    assert.equal(await mode(path.join(sa, 'token')), 0o644);
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    assert.deepEqual(claims['kubernetes.io'].pod, { name: 'proj', uid: created.metadata.uid });
    assert.equal(claims.exp - claims.iat, 365 * 24 * 3600, 'the admission-made 3607 s token is extended, as upstream');
    assert.equal(claims['kubernetes.io'].warnafter, claims.iat + 3607);
    const who = await whoami(cluster, token);
    assert.equal(who.code, 201);
    assert.equal(who.username, `system:serviceaccount:${NS}:default`);
    assert.deepEqual(who.extra?.['authentication.kubernetes.io/pod-uid'], [created.metadata.uid]);
    // A second sync keeps the cached token (no refresh before 80% of its lifetime).
    await vm.mountPod(created);
    assert.equal(await readFile(path.join(sa, 'token'), 'utf8'), token);

    const mix = path.join(podsDir, created.metadata.uid!, 'volumes/kubernetes.io~projected/mix');
    assert.equal(await readFile(path.join(mix, 's/k'), 'utf8'), 'sv');
    assert.equal(await mode(path.join(mix, 's/k')), 0o400);
    assert.equal(await readFile(path.join(mix, 'app.conf'), 'utf8'), 'a=1\n');
    assert.equal(await mode(path.join(mix, 'app.conf')), 0o440);
  });

  describe('hostPath', () => {
    let host: string;
    let sock: Server;
    before(async () => {
      host = await mkdtemp(path.join(tmpdir(), 'skiff-host-'));
      await mkdir(path.join(host, 'dir'));
      await writeFile(path.join(host, 'file'), 'f');
      sock = createServer();
      await new Promise<void>((r) => sock.listen(path.join(host, 'sock'), r));
    });
    after(async () => {
      await new Promise((r) => sock.close(r));
      await rm(host, { recursive: true, force: true });
    });

    it('accepts each type where it holds and creates the *OrCreate ones', async () => {
      const p = pod('hp-ok')
        .volume({ name: 'any', hostPath: { path: path.join(host, 'nothing-here') } })
        .volume({ name: 'd', hostPath: { path: path.join(host, 'dir'), type: 'Directory' } })
        .volume({ name: 'dc', hostPath: { path: path.join(host, 'new/deep'), type: 'DirectoryOrCreate' } })
        .volume({ name: 'f', hostPath: { path: path.join(host, 'file'), type: 'File' } })
        .volume({ name: 'fc', hostPath: { path: path.join(host, 'dir/new.txt'), type: 'FileOrCreate' } })
        .volume({ name: 's', hostPath: { path: path.join(host, 'sock'), type: 'Socket' } })
        .volume({ name: 'c', hostPath: { path: '/dev/null', type: 'CharDevice' } })
        .container('app', [{ name: 'd', mountPath: '/d' }, { name: 's', mountPath: '/run/x.sock', mountPropagation: 'HostToContainer' }]).obj;
      const mounts = await mount(p);
      assert.equal((await stat(path.join(host, 'new/deep'))).isDirectory(), true);
      assert.equal(await mode(path.join(host, 'new/deep')), 0o755);
      assert.equal((await stat(path.join(host, 'dir/new.txt'))).isFile(), true);
      assert.deepEqual(mounts.get('app'), [
        { containerPath: '/d', hostPath: path.join(host, 'dir'), readonly: false, propagation: 'PROPAGATION_PRIVATE' },
        { containerPath: '/run/x.sock', hostPath: path.join(host, 'sock'), readonly: false, propagation: 'PROPAGATION_HOST_TO_CONTAINER' },
      ]);
    });

    it('fails type checks with upstream texts', async () => {
      const p = pod('hp-bad')
        .volume({ name: 'd', hostPath: { path: path.join(host, 'file'), type: 'Directory' } })
        .volume({ name: 'missing', hostPath: { path: path.join(host, 'missing'), type: 'Directory' } })
        .volume({ name: 'dc', hostPath: { path: path.join(host, 'file'), type: 'DirectoryOrCreate' } })
        .volume({ name: 'f', hostPath: { path: path.join(host, 'dir'), type: 'File' } })
        .volume({ name: 'fc', hostPath: { path: path.join(host, 'no/parent.txt'), type: 'FileOrCreate' } })
        .volume({ name: 's', hostPath: { path: path.join(host, 'file'), type: 'Socket' } })
        .volume({ name: 'c', hostPath: { path: path.join(host, 'file'), type: 'CharDevice' } })
        .volume({ name: 'b', hostPath: { path: '/dev/null', type: 'BlockDevice' } })
        .volume({ name: 't', hostPath: { path: host, type: 'Fifo' } })
        .container('app').obj;
      const f = (n: string) => path.join(host, n);
      assert.deepEqual(await failure(p), [
        `MountVolume.SetUp failed for volume "d" : hostPath type check failed: ${f('file')} is not a directory`,
        `MountVolume.SetUp failed for volume "missing" : hostPath type check failed: ${f('missing')} is not a directory`,
        `MountVolume.SetUp failed for volume "dc" : hostPath type check failed: ${f('file')} is not a directory`,
        `MountVolume.SetUp failed for volume "f" : hostPath type check failed: ${f('dir')} is not a file`,
        `MountVolume.SetUp failed for volume "fc" : open ${f('no/parent.txt')}: no such file or directory`,
        `MountVolume.SetUp failed for volume "s" : hostPath type check failed: ${f('file')} is not a socket file`,
        `MountVolume.SetUp failed for volume "c" : hostPath type check failed: ${f('file')} is not a character device`,
        'MountVolume.SetUp failed for volume "b" : hostPath type check failed: /dev/null is not a block device',
        'MountVolume.SetUp failed for volume "t" : Fifo is an invalid volume type',
      ]);
    });

    it('subPath stays inside the volume: a symlink out of it is refused', async () => {
      await symlink('/etc', path.join(host, 'dir/escape'));
      const p = pod('hp-sub').volume({ name: 'd', hostPath: { path: path.join(host, 'dir'), type: 'Directory' } }).container('app', [{ name: 'd', mountPath: '/x', subPath: 'escape' }]).obj;
      const [msg] = await failure(p);
      assert.match(msg, /failed to prepare subPath for volumeMount "d" of container "app": subpath ".*escape" not within volume path/);
    });
  });

  it('subPath and subPathExpr: created inside the volume, resolved to real paths; a configMap key as a file', async () => {
    const p = pod('sub')
      .volume({ name: 'scratch', emptyDir: {} })
      .volume({ name: 'cfg', configMap: { name: 'cfg' } })
      .container(
        { name: 'app', env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }, { name: 'DIR', value: 'logs-$(POD_NAME)' }] },
        [
          { name: 'scratch', mountPath: '/a', subPath: 'a/b' },
          { name: 'scratch', mountPath: '/logs', subPathExpr: '$(DIR)/$(POD_NAME)' },
          { name: 'cfg', mountPath: '/etc/app.conf', subPath: 'app.conf' },
        ],
      ).obj;
    const mounts = (await mount(p)).get('app')!;
    const scratch = path.join(podsDir, p.metadata.uid!, 'volumes/kubernetes.io~empty-dir/scratch');
    assert.equal(mounts[0].hostPath, path.join(await realpath(scratch), 'a/b'));
    assert.equal(await mode(mounts[0].hostPath), 0o777);
    assert.equal(mounts[1].hostPath, path.join(await realpath(scratch), 'logs-sub/sub'));
    assert.ok((await stat(mounts[1].hostPath)).isDirectory());
    assert.match(mounts[2].hostPath, /kubernetes\.io~configmap\/cfg\/\.\.\d{4}_[\d_]+\.\w+\/app\.conf$/);
    assert.equal(await readFile(mounts[2].hostPath, 'utf8'), 'a=1\n');
    assert.equal(mounts[2].readonly, true);

    const bad = pod('sub-bad')
      .volume({ name: 'scratch', emptyDir: {} })
      .container('app', [{ name: 'scratch', mountPath: '/x', subPathExpr: '$(NOPE)' }, { name: 'scratch', mountPath: '/y', mountPropagation: 'Bidirectional' }, { name: 'gone', mountPath: '/z' }]).obj;
    assert.deepEqual(await failure(bad), [
      'failed to prepare subPath for volumeMount "scratch" of container "app": missing value for NOPE',
      'Bidirectional mount propagation is available only to privileged containers',
      'cannot find volume "gone" to mount into container "app"',
    ]);
  });

  it('a new manager (kubelet restart) adopts mounted volumes without remounting or rewriting them', async () => {
    await client.create(ref.secrets, NS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'again' }, data: { k: Buffer.from('v').toString('base64') } });
    const p = pod('restart').volume({ name: 'mem', emptyDir: { medium: 'Memory' } }).volume({ name: 'sec', secret: { secretName: 'again' } }).container('app').obj;
    await mount(p);
    const podDir = path.join(podsDir, p.metadata.uid!);
    const ts = await readlink(path.join(podDir, 'volumes/kubernetes.io~secret/sec/..data'));
    const fresh = new VolumeManager({ podsDir, client });
    await fresh.mountPod(p);
    assert.equal((await mountPointsUnder(podDir)).length, 2);
    assert.equal(await readlink(path.join(podDir, 'volumes/kubernetes.io~secret/sec/..data')), ts);
    await fresh.unmountPod(p.metadata.uid!);
    assert.equal(await exists(podDir), false);
  });

  it('unmountPod unmounts and removes every volume and the pod directory; it is idempotent', async () => {
    await client.create(ref.secrets, NS, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bye' }, data: { k: Buffer.from('v').toString('base64') } });
    const p = pod('bye')
      .volume({ name: 'mem', emptyDir: { medium: 'Memory' } })
      .volume({ name: 'disk', emptyDir: {} })
      .volume({ name: 'sec', secret: { secretName: 'bye' } })
      .container('app', [{ name: 'disk', mountPath: '/d', subPath: 'x' }]).obj;
    await mount(p);
    const podDir = path.join(podsDir, p.metadata.uid!);
    assert.equal((await mountPointsUnder(podDir)).length, 2);
    await vm.unmountPod(p.metadata.uid!);
    assert.deepEqual(await mountPointsUnder(podDir), []);
    assert.equal(await exists(podDir), false);
    await vm.unmountPod(p.metadata.uid!);
    await assert.rejects(vm.unmountPod('../etc'), /invalid pod uid/);
  });
});
