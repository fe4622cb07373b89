// E2E tier: a whole real node through kubectl. An in-process apiserver with the
// controller manager (node IPAM gives the node its podCIDR; the default ServiceAccount)
// and the scheduler, and startRealNode on skiff's own containerd with the test images
// imported: `kubectl run` → Running with an IP from the node's podCIDR, `kubectl logs`,
// `kubectl exec`, a ConfigMap volume. Pods' egress off the machine is dropped
// (allowEgress false); the kubelet API listens on 127.0.0.1 only.
// In CI a missing prerequisite fails; locally it skips. Teardown removes the pods,
// volumes, containerd and its state, the bridge, nft table, routes and cgroups.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { startApiServer, type ApiServer } from '../src/apiserver/server.ts';
import { inProcessTransport } from '../src/client/inprocess.ts';
import { createClient } from '../src/client/rest.ts';
import { ref } from '../src/client/resources.ts';
import type { Client } from '../src/client/types.ts';
import { eventually, ADMIN } from '../src/client/testing.ts';
import { startInProcessControllerManager } from '../src/cli/controller-manager.ts';
import { startInProcessScheduler } from '../src/cli/scheduler.ts';
import { allControllers } from '../src/controllers/all.ts';
import { resetContainerd } from '../src/kubelet/containerd/index.ts';
import { containerdLayout, type ContainerdLayout } from '../src/kubelet/containerd/config.ts';
import { checkPrerequisites, installCommand, missingForContainers } from '../src/kubelet/containerd/prereqs.ts';
import { removeAllPods, removeCgroup } from '../src/kubelet/containerd/reset.ts';
import { staticBusybox } from '../src/kubelet/images/pause.ts';
import { cidrContains, parseCidr } from '../src/kubelet/network/config.ts';
const within = (outer: string, ip: string): boolean => cidrContains(parseCidr(outer), parseCidr(ip.includes('/') ? ip : `${ip}/32`));
import { nodeNetworkNames, teardownNodeNetwork } from '../src/kubelet/network/index.ts';
import { startRealNode, type RealNode } from '../src/kubelet/node.ts';
import { buildTestImage, TEST_IMAGES } from './images/build.ts';
import { KUBECTL, kubectlFor, type Kubectl } from './harness.ts';

const checks = checkPrerequisites();
const missing = [...missingForContainers(checks), ...checks.filter((c) => ['cni plugins', 'nft', 'ip'].includes(c.name) && c.status === 'fail')];
if (!staticBusybox()) missing.push({ name: 'busybox-static', status: 'fail', detail: 'the test image', packages: ['busybox-static'] });
if (!existsSync(KUBECTL)) missing.push({ name: 'kubectl', status: 'fail', detail: KUBECTL, packages: ['kubectl'] });
const why = missing.length ? `missing ${missing.map((c) => `${c.name} (${c.detail})`).join('; ')}; ${installCommand(missing) ?? ''}` : '';
const skip = missing.length > 0 && !process.env.CI ? why : false;

const suffix = `${process.pid}-${randomBytes(3).toString('hex')}`;
const clusterName = `ne-${suffix}`;
const nodeName = `ne-node-${suffix}`;
/** A /16 no route on this machine touches yet (parallel runs, other clusters): node IPAM carves the node's /24 from it. */
function freeClusterCIDR(): string {
  const routes = execFileSync('ip', ['route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (;;) {
    const second = randomInt(200, 240);
    if (!routes.includes(` 10.${second}.`) && !routes.startsWith(`10.${second}.`) && !routes.includes(`\n10.${second}.`)) return `10.${second}.0.0/16`;
  }
}
const clusterCIDR = missing.length ? '10.239.0.0/16' : freeClusterCIDR();
const serviceCIDR = '10.96.0.0/12';
let dir = '';
let layout: ContainerdLayout | undefined;
let server: ApiServer;
let client: Client;
let node: RealNode | undefined;
let kubectl: Kubectl;
const stop = new AbortController();
const nodeStop = new AbortController();
const logs: string[] = [];

describe('a real node through kubectl', { skip }, () => {
  before(async () => {
    if (missing.length) throw new Error(`prerequisites for a real node: ${why}`);
    dir = mkdtempSync(path.join(tmpdir(), 'skiff-node-e2e-'));
    const dataDir = path.join(dir, 'node');
    layout = containerdLayout({ clusterName, dataDir });
    mkdirSync(path.join(dataDir, 'images'), { recursive: true });
    copyFileSync(buildTestImage('busybox').file, path.join(dataDir, 'images', 'busybox.tar'));
    server = await startApiServer({ dataDir: path.join(dir, 'api'), bindAddress: '127.0.0.1', bindPort: 0, advertiseAddress: '127.0.0.1', serviceClusterIPRange: serviceCIDR });
    client = createClient(inProcessTransport({ serve: (req, res) => server.serve(req, res) }, ADMIN));
    const quiet = () => {};
    startInProcessControllerManager(server, { controllers: allControllers({ rootCA: server.pki.caCertPem, clusterCIDR, serviceCIDR }), log: quiet }, stop.signal);
    startInProcessScheduler(server, { log: quiet }, stop.signal);
    const home = path.join(dir, 'home');
    mkdirSync(home);
    kubectl = kubectlFor(server.kubeconfigPath, home);
    node = await startRealNode({
      server,
      clusterName,
      dataDir,
      nodeName,
      nodeIP: '127.0.0.1',
      clusterCIDR,
      serviceCIDR,
      clusterDNS: ['10.96.0.10'],
      kubeletPort: 0,
      kubeletAddress: '127.0.0.1',
      allowEgress: false,
      log: (msg, fields) => logs.push(`${msg} ${JSON.stringify(fields ?? {})}`),
    }, nodeStop.signal);
    await eventually(async () => (await client.get(ref.serviceaccounts, 'default', 'default').catch(() => undefined)), 15_000, 'the default ServiceAccount');
  });

  after(async () => {
    if (process.env.SKIFF_NODE_TEST_LOG) console.log(logs.join('\n'));
    const rt = node?.runtime;
    if (rt?.supervisor?.pid) await removeAllPods(rt.cri); // while our containerd still answers
    if (node) {
      // volumes (tmpfs for the ServiceAccount token) of pods whose containers are gone
      const podsDir = node.volumes.podsDir;
      for (const uid of existsSync(podsDir) ? readdirSync(podsDir) : []) await node.volumes.unmountPod(uid);
    }
    await node?.stop();
    if (layout) await resetContainerd(layout, { removeRoot: true });
    if (node) {
      await teardownNodeNetwork({ clusterName, podCIDR: node.podCIDR, clusterCIDR, serviceCIDR, cniConfDir: layout!.cniConfDir });
      if (rt && rt.cgroupDriver !== 'systemd') await removeCgroup(`/skiff-${nodeName}`);
    }
    stop.abort();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (!missing.length) {
      const names = nodeNetworkNames(clusterName);
      assert.ok(!execFileSync('ip', ['link', 'show'], { encoding: 'utf8' }).includes(names.bridge), 'bridge removed');
      assert.ok(!execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' }).includes(names.nftTable), 'nft table removed');
      assert.ok(!execFileSync('ip', ['route', 'show', 'table', 'all'], { encoding: 'utf8' }).includes(clusterCIDR.replace('/16', '')), 'routes removed');
    }
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
});
