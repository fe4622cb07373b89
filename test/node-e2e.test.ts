// E2E tier: a whole real node through kubectl. An in-process apiserver with the
// controller manager (node IPAM gives the node its podCIDR; the default ServiceAccount)
// and the scheduler, and startRealNode on skiff's own containerd with the test images
// imported: `kubectl run` → Running with an IP from the node's podCIDR, `kubectl logs`,
// `kubectl exec`, ConfigMap and Secret volumes (and a ConfigMap update reaching a running
// pod), the three in-pod patterns (a shared emptyDir, localhost, shared IPC) and gRPC
// probes against a health server the test runs on 127.0.0.1 (a hostNetwork pod).
// Pods' egress off the machine is dropped (allowEgress false); the kubelet API listens
// on 127.0.0.1 only.
// In CI a missing prerequisite fails; locally it skips. Teardown removes the pods,
// volumes, containerd and its state, the bridge, nft table, routes and cgroups.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import type { ApiServer } from '../src/apiserver/server.ts';
import { ref } from '../src/client/resources.ts';
import type { Client } from '../src/client/types.ts';
import { eventually } from '../src/client/testing.ts';
import { cidrContains, parseCidr } from '../src/kubelet/network/config.ts';
const within = (outer: string, ip: string): boolean => cidrContains(parseCidr(outer), parseCidr(ip.includes('/') ? ip : `${ip}/32`));
import type { RealNode } from '../src/kubelet/node.ts';
import { SERVING_STATUS, startHealthServer } from '../src/kubelet/probes/testing.ts';
import type { KObject } from '../src/api/object.ts';
import { TEST_IMAGES } from './images/build.ts';
import { freeCIDR16, type Kubectl } from './harness.ts';
import { RealNodeCluster, allRunning, busybox, podObject, realNodeNames, realNodePrerequisites } from './real-node.ts';

const { missing, why, skip } = realNodePrerequisites();
const { clusterName, nodeName } = realNodeNames('ne');
const clusterCIDR = missing.length ? '10.239.0.0/16' : freeCIDR16(200, 240);
const serviceCIDR = '10.96.0.0/12';
const cluster = new RealNodeCluster({
  clusterName,
  nodeName,
  clusterCIDR,
  serviceCIDR,
  clusterDNS: ['10.96.0.10'],
  tmpPrefix: 'skiff-node-e2e-',
  // volumes from the API rewritten every 5 s instead of upstream's minute, so the update test is quick
  syncFrequencyMs: 5_000,
  deletePodsFirst: true,
});
const logs = cluster.logs;
let dir = '';
let server: ApiServer;
let client: Client;
let node: RealNode | undefined;
let kubectl: Kubectl;

const waitPod = (name: string, check: (p: KObject) => unknown, timeoutMs?: number): Promise<KObject> => cluster.waitPod(name, check, timeoutMs);

/** `kubectl exec NAME -c CONTAINER -- CMD...`: stdout, failing the test on a non-zero exit. */
async function exec(name: string, container: string, cmd: string[]): Promise<string> {
  const r = await kubectl(['exec', name, '-c', container, '--', ...cmd]);
  assert.equal(r.code, 0, `kubectl exec ${name} -c ${container} -- ${cmd.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

describe('a real node through kubectl', { skip }, () => {
  before(async () => {
    if (missing.length) throw new Error(`prerequisites for a real node: ${why}`);
    ({ server, client, kubectl, node } = await cluster.start());
    dir = cluster.dir;
  });

  after(async () => {
    const { left } = await cluster.close();
    if (!missing.length) assert.deepEqual(left, [], 'bridge, nft table and routes removed');
  });

  test('the node registered with its podCIDR and kubelet port', async () => {
    const n = await client.get(ref.nodes, undefined, nodeName);
    assert.ok(n.spec.podCIDR && within(clusterCIDR, n.spec.podCIDR), `podCIDR ${n.spec.podCIDR} in ${clusterCIDR}`);
    assert.equal(n.spec.podCIDR, node!.podCIDR);
    assert.equal(n.status.daemonEndpoints.kubeletEndpoint.Port, node!.server.port);
  });

  test('kubectl run → Running on the pod network; logs; exec', async () => {
    const run = await kubectl(['run', 'bb', `--image=${TEST_IMAGES.busybox}`, '--image-pull-policy=Never', '--', 'sh', '-c', 'echo hello; sleep 3600']);
    assert.equal(run.code, 0, run.stderr);
    const p = await eventually(async () => {
      const p = await client.get(ref.pods, 'default', 'bb').catch(() => undefined);
      return p?.status?.phase === 'Running' && p.status.podIP ? p : undefined;
    }, 30_000, 'bb Running').catch(async (e) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify((await client.get(ref.pods, 'default', 'bb').catch(() => undefined))?.status)}\n${logs.slice(-20).join('\n')}`);
    });
    assert.equal(p.spec.nodeName, nodeName);
    assert.ok(within(node!.podCIDR, p.status.podIP), `podIP ${p.status.podIP} in ${node!.podCIDR}`);
    assert.notEqual(p.status.podIP, '127.0.0.1');
    const out = await eventually(async () => {
      const r = await kubectl(['logs', 'bb']);
      return r.code === 0 && r.stdout.includes('hello') ? r.stdout : undefined;
    }, 10_000, 'kubectl logs bb');
    assert.equal(out, 'hello\n');
    const ex = await kubectl(['exec', 'bb', '--', 'cat', '/etc/hostname']);
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(ex.stdout.trim(), 'bb');
  });

  test('the ServiceAccount token, ca.crt and namespace are projected into the pod; the token authenticates from the host', async () => {
    await client.create(ref.pods, 'default', podObject('sa', { containers: [busybox('c', 'sleep 3600')] }));
    const p = await waitPod('sa', allRunning);
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
    assert.deepEqual((await exec('sa', 'c', ['ls', sa])).trim().split(/\s+/), ['ca.crt', 'namespace', 'token']);
    assert.equal(await exec('sa', 'c', ['cat', `${sa}/namespace`]), 'default');
    assert.equal(await exec('sa', 'c', ['cat', `${sa}/ca.crt`]), server.pki.caCertPem);
    const token = await exec('sa', 'c', ['cat', `${sa}/token`]);
    const cfg = path.join(dir, 'sa-token.kubeconfig');
    writeFileSync(cfg, JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: server.url, 'certificate-authority-data': Buffer.from(server.pki.caCertPem).toString('base64') } }],
      users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }));
    const who = await kubectl(['--kubeconfig', cfg, 'auth', 'whoami', '-o', 'json']);
    assert.equal(who.code, 0, who.stderr);
    const user = JSON.parse(who.stdout).status.userInfo;
    assert.equal(user.username, 'system:serviceaccount:default:default');
    assert.deepEqual(user.groups, ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated']);
    assert.deepEqual(user.extra['authentication.kubernetes.io/pod-name'], ['sa']);
    assert.deepEqual(user.extra['authentication.kubernetes.io/pod-uid'], [p.metadata.uid]);
    assert.deepEqual(user.extra['authentication.kubernetes.io/node-name'], [nodeName]);
    const get = await kubectl(['--kubeconfig', cfg, 'get', 'pod', 'sa', '-o', 'jsonpath={.spec.nodeName}']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, nodeName);
  });

  test('a ConfigMap volume is readable in the pod', async () => {
    await client.create(ref.configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { greeting: 'hi from a configmap' } });
    await client.create(ref.pods, 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'cm' },
      spec: {
        terminationGracePeriodSeconds: 1,
        volumes: [{ name: 'cfg', configMap: { name: 'cfg' } }],
        containers: [{ name: 'main', image: TEST_IMAGES.busybox, imagePullPolicy: 'Never', command: ['sleep', '3600'], volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }] }],
      },
    });
    await eventually(async () => (await client.get(ref.pods, 'default', 'cm').catch(() => undefined))?.status?.phase === 'Running', 30_000, 'cm Running');
    const ex = await kubectl(['exec', 'cm', '--', 'cat', '/etc/cfg/greeting']);
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(ex.stdout, 'hi from a configmap');
  });

  test('a missing ConfigMap: FailedMount events, ContainerCreating, then Running once it exists', async () => {
    await client.create(ref.pods, 'default', {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'nocm' },
      spec: {
        terminationGracePeriodSeconds: 1,
        volumes: [{ name: 'cfg', configMap: { name: 'later' } }],
        containers: [{ name: 'main', image: TEST_IMAGES.busybox, imagePullPolicy: 'Never', command: ['sleep', '3600'], volumeMounts: [{ name: 'cfg', mountPath: '/etc/cfg' }] }],
      },
    });
    const ev = await eventually(async () => {
      const list = await client.list(ref.events, 'default');
      return list.items.find((e) => e.involvedObject?.name === 'nocm' && e.reason === 'FailedMount');
    }, 15_000, 'a FailedMount event');
    assert.equal(ev.type, 'Warning');
    assert.match(ev.message, /MountVolume\.SetUp failed for volume "cfg" : configmap "later" not found/);
    const p = await client.get(ref.pods, 'default', 'nocm');
    assert.equal(p.status.containerStatuses?.[0]?.state?.waiting?.reason, 'ContainerCreating');
    await client.create(ref.configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'later' }, data: { k: 'v' } });
    await eventually(async () => (await client.get(ref.pods, 'default', 'nocm').catch(() => undefined))?.status?.phase === 'Running', 15_000, 'nocm Running');
  });

  describe('in-pod patterns, configMap and secret volumes, gRPC probes', { concurrency: true }, () => {
    test('two containers share an emptyDir: one writes a log file, the other reads it', async () => {
      await client.create(ref.pods, 'default', podObject('shared-log', {
        volumes: [{ name: 'logs', emptyDir: {} }],
        containers: [
          busybox('writer', 'i=0; while true; do i=$((i+1)); echo "line $i from $(hostname)" >> /var/log/app/app.log; sleep 0.5; done', { volumeMounts: [{ name: 'logs', mountPath: '/var/log/app' }] }),
          busybox('reader', 'until [ -f /logs/app.log ]; do sleep 0.2; done; exec tail -n +1 -f /logs/app.log', { volumeMounts: [{ name: 'logs', mountPath: '/logs', readOnly: true }] }),
        ],
      }));
      await waitPod('shared-log', allRunning);
      const out = await eventually(async () => {
        const r = await kubectl(['logs', 'shared-log', '-c', 'reader']);
        return r.code === 0 && r.stdout.includes('line 3 ') ? r.stdout : undefined;
      }, 20_000, 'the reader to print the writer\'s lines');
      assert.deepEqual(out.split('\n').slice(0, 3), ['line 1 from shared-log', 'line 2 from shared-log', 'line 3 from shared-log']);
      // the writer itself logs nothing: the lines reached the reader only through the volume
      const w = await kubectl(['logs', 'shared-log', '-c', 'writer']);
      assert.equal(w.code, 0, w.stderr);
      assert.equal(w.stdout, '');
      // read-only for the reader
      const ro = await kubectl(['exec', 'shared-log', '-c', 'reader', '--', 'sh', '-c', 'echo x >> /logs/app.log']);
      assert.notEqual(ro.code, 0);
      assert.match(ro.stderr, /Read-only file system/);
    });

    test('two containers talk over localhost (httpd bound to 127.0.0.1, wget beside it)', async () => {
      await client.create(ref.pods, 'default', podObject('localhost', {
        containers: [
          busybox('web', 'mkdir -p /www && echo "hello from $(hostname) web" > /www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /www'),
          busybox('client', 'sleep 3600'),
        ],
      }));
      const p = await waitPod('localhost', allRunning);
      assert.ok(within(node!.podCIDR, p.status.podIP), `podIP ${p.status.podIP}`);
      const body = await eventually(async () => {
        const r = await kubectl(['exec', 'localhost', '-c', 'client', '--', 'wget', '-qO-', 'http://localhost:8080/']);
        return r.code === 0 ? r.stdout : undefined;
      }, 15_000, 'wget from the client container');
      assert.equal(body, 'hello from localhost web\n');
      // one network namespace: the same interfaces and address in both containers
      const addrs = async (c: string) => (await exec('localhost', c, ['ip', '-o', '-4', 'addr', 'show'])).split('\n').filter(Boolean).map((l) => l.split(/\s+/).slice(1, 4).join(' '));
      assert.deepEqual(await addrs('client'), await addrs('web'));
      assert.ok((await addrs('client')).some((a) => a.includes(`${p.status.podIP}/`)), JSON.stringify(await addrs('client')));
    });

    test('two containers share IPC: POSIX shared memory under /dev/shm', async () => {
      await client.create(ref.pods, 'default', podObject('ipc', {
        containers: [
          busybox('producer', 'echo "shm message from producer" > /dev/shm/skiff-msg; sleep 3600'),
          busybox('consumer', 'until [ -f /dev/shm/skiff-msg ]; do sleep 0.2; done; cat /dev/shm/skiff-msg; sleep 3600'),
        ],
      }));
      await waitPod('ipc', allRunning);
      assert.equal(await exec('ipc', 'consumer', ['cat', '/dev/shm/skiff-msg']), 'shm message from producer\n');
      const out = await eventually(async () => {
        const r = await kubectl(['logs', 'ipc', '-c', 'consumer']);
        return r.code === 0 && r.stdout ? r.stdout : undefined;
      }, 15_000, 'the consumer to read the segment');
      assert.equal(out, 'shm message from producer\n');
      // one IPC namespace for the pod, not the host's; /dev/shm a tmpfs of the pod's own
      const ns = async (c: string) => (await exec('ipc', c, ['readlink', '/proc/self/ns/ipc'])).trim();
      const producerNs = await ns('producer');
      assert.match(producerNs, /^ipc:\[\d+\]$/);
      assert.equal(await ns('consumer'), producerNs);
      assert.notEqual(producerNs, execFileSync('readlink', ['/proc/self/ns/ipc'], { encoding: 'utf8' }).trim());
      assert.match(await exec('ipc', 'consumer', ['grep', ' /dev/shm ', '/proc/mounts']), /^shm \/dev\/shm tmpfs /);
      assert.ok(!existsSync('/dev/shm/skiff-msg'), 'the segment is not in the host\'s /dev/shm');
    });

    test('ConfigMap and Secret volumes: contents, items and paths, modes; a ConfigMap update reaches the running pod', async () => {
      await client.create(ref.configmaps, 'default', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config' }, data: { 'app.properties': 'color=blue\nsize=10\n', mode: 'fast' } });
      await client.create(ref.secrets, 'default', {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'app-secret' },
        data: { username: Buffer.from('admin').toString('base64'), password: Buffer.from('s3cr3t\n').toString('base64') },
      });
      await client.create(ref.pods, 'default', podObject('cfg-sec', {
        volumes: [
          { name: 'config', configMap: { name: 'app-config' } },
          { name: 'config-items', configMap: { name: 'app-config', defaultMode: 0o600, items: [{ key: 'mode', path: 'sub/dir/mode.txt' }, { key: 'app.properties', path: 'app.conf', mode: 0o444 }] } },
          { name: 'secret', secret: { secretName: 'app-secret', defaultMode: 0o400, items: [{ key: 'password', path: 'db/password' }] } },
          { name: 'secret-all', secret: { secretName: 'app-secret' } },
        ],
        containers: [busybox('main', 'sleep 3600', {
          volumeMounts: [
            { name: 'config', mountPath: '/etc/config' },
            { name: 'config-items', mountPath: '/etc/config-items' },
            { name: 'secret', mountPath: '/etc/secret', readOnly: true },
            { name: 'secret-all', mountPath: '/etc/secret-all' },
          ],
        })],
      }));
      await waitPod('cfg-sec', allRunning);
      const sh = (script: string) => exec('cfg-sec', 'main', ['sh', '-c', script]);
      // every key as a file; the default mode 0644
      assert.equal(await sh('ls /etc/config'), 'app.properties\nmode\n');
      assert.equal(await sh('cat /etc/config/app.properties'), 'color=blue\nsize=10\n');
      assert.equal(await sh('cat /etc/config/mode'), 'fast');
      assert.equal(await sh('stat -L -c %a /etc/config/mode'), '644\n');
      // items: only the listed keys, at their paths, with defaultMode or the item's mode
      assert.equal(await sh('ls /etc/config-items'), 'app.conf\nsub\n');
      assert.equal(await sh('cat /etc/config-items/sub/dir/mode.txt'), 'fast');
      assert.equal(await sh('stat -L -c %a /etc/config-items/sub/dir/mode.txt /etc/config-items/app.conf'), '600\n444\n');
      // secrets: decoded, on a tmpfs (never on the node's disk), modes as asked
      assert.equal(await sh('ls /etc/secret'), 'db\n');
      assert.equal(await sh('cat /etc/secret/db/password'), 's3cr3t\n');
      assert.equal(await sh('stat -L -c %a /etc/secret/db/password'), '400\n');
      assert.equal(await sh('cat /etc/secret-all/username; echo; stat -L -c %a /etc/secret-all/username'), 'admin\n644\n');
      assert.match(await sh('grep " /etc/secret " /proc/mounts'), /^tmpfs \/etc\/secret tmpfs ro[ ,]/);
      const denied = await kubectl(['exec', 'cfg-sec', '-c', 'main', '--', 'sh', '-c', 'echo x > /etc/secret/new']);
      assert.notEqual(denied.code, 0);

      // an update: the kubelet rewrites the volume atomically within its sync period (upstream: about a minute; 5 s here)
      const cm = await client.get(ref.configmaps, 'default', 'app-config');
      await client.update(ref.configmaps, 'default', { ...cm, data: { 'app.properties': 'color=green\nsize=10\n', mode: 'slow' } });
      const updatedAt = Date.now();
      await eventually(async () => (await sh('cat /etc/config/mode')) === 'slow', 60_000, 'the ConfigMap update in the pod');
      const seconds = ((Date.now() - updatedAt) / 1000).toFixed(1);
      assert.equal(await sh('cat /etc/config/app.properties'), 'color=green\nsize=10\n');
      // the items volume of the same ConfigMap follows too (same refresh pass, or the next)
      await eventually(async () => (await sh('cat /etc/config-items/sub/dir/mode.txt')) === 'slow', 60_000, 'the update in the items volume');
      assert.equal(await sh('stat -L -c %a /etc/config-items/sub/dir/mode.txt'), '600\n');
      // the same running container, not a restart
      const p = await client.get(ref.pods, 'default', 'cfg-sec');
      assert.equal(p.status.containerStatuses[0].restartCount, 0);
      logs.push(`configmap update visible after ${seconds} s`);
    });

    test('gRPC probes: readiness flips Ready with the health status, a failing liveness probe restarts the container', async (t) => {
      const hs = await startHealthServer({ statuses: { ready: SERVING_STATUS.NOT_SERVING, live: SERVING_STATUS.SERVING } });
      t.after(() => hs.close());
      await client.create(ref.pods, 'default', podObject('grpc-probes', {
        hostNetwork: true,
        containers: [busybox('main', 'sleep 3600', {
          readinessProbe: { grpc: { port: hs.port, service: 'ready' }, periodSeconds: 1, failureThreshold: 1 },
          livenessProbe: { grpc: { port: hs.port, service: 'live' }, periodSeconds: 1, failureThreshold: 2 },
        })],
      }));
      const ready = (p: KObject) => p.status?.conditions?.find((c: any) => c.type === 'Ready')?.status;
      let p = await waitPod('grpc-probes', (p) => allRunning(p) && hs.seen.some((s) => s.service === 'ready'));
      assert.equal(ready(p), 'False');
      assert.ok(hs.seen.every((s) => s.userAgent.startsWith('kube-probe/1.32 ')), JSON.stringify(hs.seen[0]));
      const unhealthy = await eventually(async () => {
        const list = await client.list(ref.events, 'default');
        return list.items.find((e) => e.involvedObject?.name === 'grpc-probes' && e.reason === 'Unhealthy');
      }, 15_000, 'an Unhealthy event');
      assert.equal(unhealthy.message, 'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")');
      hs.statuses.set('ready', SERVING_STATUS.SERVING);
      p = await waitPod('grpc-probes', (p) => ready(p) === 'True');
      assert.equal(p.status.containerStatuses[0].ready, true);
      hs.statuses.set('ready', SERVING_STATUS.NOT_SERVING);
      await waitPod('grpc-probes', (p) => ready(p) === 'False');
      hs.statuses.set('live', SERVING_STATUS.NOT_SERVING);
      p = await waitPod('grpc-probes', (p) => p.status?.containerStatuses?.[0]?.restartCount >= 1, 30_000);
      hs.statuses.set('live', SERVING_STATUS.SERVING);
      const ev = (await client.list(ref.events, 'default')).items.filter((e) => e.involvedObject?.name === 'grpc-probes');
      assert.ok(ev.some((e) => e.reason === 'Unhealthy' && e.message === 'Liveness probe failed: service unhealthy (responded with "NOT_SERVING")'), JSON.stringify(ev.map((e) => e.message)));
      assert.ok(ev.some((e) => e.reason === 'Killing' && e.message === 'Container main failed liveness probe, will be restarted'));
      await client.delete(ref.pods, 'default', 'grpc-probes');
    });
  });

  describe('the kubelet API: /stats/summary and /metrics/resource through nodes/proxy', () => {
    test('a pod holding 24 MiB in /dev/shm shows it in its container working set; node fs, pod network, resource metrics, kubelet metrics', async () => {
      const MiB = 1024 * 1024;
      await client.create(ref.pods, 'default', podObject('stats-mem', {
        containers: [busybox('c', 'dd if=/dev/zero of=/dev/shm/x bs=1048576 count=24 && dd if=/dev/urandom of=/scratch/f bs=1048576 count=2 && echo filled && sleep 3600', {
          volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
        })],
        volumes: [{ name: 'scratch', emptyDir: {} }],
      }));
      await waitPod('stats-mem', allRunning);
      await eventually(async () => (await kubectl(['logs', 'stats-mem'])).stdout.includes('filled'), 15_000, 'stats-mem to fill /dev/shm');
      const raw = async (p: string): Promise<string> => {
        const r = await kubectl(['get', '--raw', `/api/v1/nodes/${nodeName}/proxy${p}`]);
        assert.equal(r.code, 0, `kubectl get --raw …/proxy${p}: ${r.stderr}`);
        return r.stdout;
      };
      type Summary = import('../src/kubelet/stats/summary.ts').Summary;
      // Two readings at least a second apart give the CPU rate (as after a housekeeping tick).
      const summary = await eventually(async () => {
        const s = JSON.parse(await raw('/stats/summary')) as Summary;
        const ps = s.pods.find((p) => p.podRef.namespace === 'default' && p.podRef.name === 'stats-mem');
        return ps?.cpu?.usageNanoCores !== undefined && ps.containers[0]?.cpu?.usageNanoCores !== undefined ? s : undefined;
      }, 15_000, 'a summary with the pod and its CPU rates');
      assert.equal(summary.node.nodeName, nodeName);
      assert.ok((summary.node.fs?.capacityBytes ?? 0) > 0, JSON.stringify(summary.node.fs));
      // (containerd computes the image filesystem's usage in the background: capacity only here)
      assert.ok((summary.node.runtime?.imageFs?.capacityBytes ?? 0) > 0, JSON.stringify(summary.node.runtime));
      assert.ok((summary.node.memory?.workingSetBytes ?? 0) > 0);
      assert.deepEqual(summary.node.systemContainers?.map((c) => c.name), ['kubelet', 'runtime', 'pods']);
      assert.ok(summary.node.systemContainers!.every((c) => (c.memory?.workingSetBytes ?? 0) > 0), JSON.stringify(summary.node.systemContainers));
      const ps = summary.pods.find((p) => p.podRef.name === 'stats-mem')!;
      const pod = await client.get(ref.pods, 'default', 'stats-mem');
      assert.equal(ps.podRef.uid, pod.metadata.uid);
      assert.deepEqual(ps.containers.map((c) => c.name), ['c']);
      const c = ps.containers[0];
      assert.ok((c.memory?.workingSetBytes ?? 0) >= 24 * MiB, `container working set ${c.memory?.workingSetBytes}`);
      assert.ok((ps.memory?.workingSetBytes ?? 0) >= (c.memory?.workingSetBytes ?? 0), `pod ${ps.memory?.workingSetBytes} ≥ container ${c.memory?.workingSetBytes}`);
      assert.ok((c.cpu?.usageCoreNanoSeconds ?? 0) > 0);
      assert.ok((ps.process_stats?.process_count ?? 0) >= 1, JSON.stringify(ps.process_stats));
      assert.equal(ps.network?.name, 'eth0');
      assert.ok(ps.network?.interfaces?.some((i) => i.name === 'eth0'));
      assert.ok((c.logs?.usedBytes ?? 0) > 0, JSON.stringify(c.logs));
      assert.ok(ps.volume?.some((v) => v.name.startsWith('kube-api-access-') && v.usedBytes > 0), JSON.stringify(ps.volume));
      // The emptyDir on disk counts as ephemeral storage; the token's tmpfs does not.
      const scratch = ps.volume?.find((v) => v.name === 'scratch');
      assert.ok(scratch && scratch.usedBytes >= 2 * MiB, JSON.stringify(ps.volume));
      const eph = ps['ephemeral-storage']?.usedBytes ?? 0;
      assert.ok(eph >= scratch.usedBytes + (c.logs?.usedBytes ?? 0) && eph < scratch.usedBytes + 1 * MiB, `ephemeral-storage ${eph}`);

      const only = JSON.parse(await raw('/stats/summary?only_cpu_and_memory=true')) as Summary;
      assert.equal(only.node.fs, undefined);
      assert.ok(only.pods.some((p) => p.podRef.name === 'stats-mem' && p.network === undefined && (p.containers[0]?.memory?.workingSetBytes ?? 0) >= 24 * MiB));

      const res = await raw('/metrics/resource');
      const m = /^container_memory_working_set_bytes\{container="c",namespace="default",pod="stats-mem"\} (\d+) \d+$/m.exec(res);
      assert.ok(m && Number(m[1]) >= 24 * MiB, res);
      assert.match(res, /^pod_memory_working_set_bytes\{namespace="default",pod="stats-mem"\} \d+ \d+$/m);
      assert.match(res, /^resource_scrape_error 0$/m);

      const km = await raw('/metrics');
      assert.match(km, new RegExp(`^kubelet_node_name\\{node="${nodeName}"\\} 1$`, 'm'));
      const running = /^kubelet_running_pods (\d+)$/m.exec(km);
      assert.ok(running && Number(running[1]) >= 1, km);
      assert.match(km, /^kubelet_pod_start_duration_seconds_count [1-9]\d*$/m);

      // Only the kubelet's port is reachable through a node.
      const other = await kubectl(['get', '--raw', `/api/v1/nodes/${nodeName}:1/proxy/metrics`]);
      assert.notEqual(other.code, 0);
      await client.delete(ref.pods, 'default', 'stats-mem');
    });
  });
});
