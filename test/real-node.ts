// The real-node harness the end-to-end tests (node, pod-spec, services, dns) and
// bench/pods.ts share: the prerequisites check (in CI a missing one fails, locally it
// skips), a cluster in this process (the apiserver, the controller manager with node
// IPAM and ServiceAccounts, the scheduler, the real kubectl, startRealNode on skiff's own
// containerd with the test images imported, optionally the node services: the nftables
// proxy and the cluster DNS), and its teardown (pods, volumes, containerd and its state,
// the bridge, nft tables, routes, cgroups), which reports anything left on the machine.
// agent-e2e runs skiff as processes and shares the prerequisites and the leftover check.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import type { KObject } from '../src/api/object.ts';
import { startApiServer, type ApiServer } from '../src/apiserver/server.ts';
import { startInProcessControllerManager } from '../src/cli/controller-manager.ts';
import { startNodeServices, type NodeServices, type NodeServicesOptions } from '../src/cli/node-services.ts';
import { resetNode } from '../src/cli/reset.ts';
import { startInProcessScheduler } from '../src/cli/scheduler.ts';
import { inProcessTransport } from '../src/client/inprocess.ts';
import { ref } from '../src/client/resources.ts';
import { createClient } from '../src/client/rest.ts';
import { ADMIN, eventually } from '../src/client/testing.ts';
import type { Client } from '../src/client/types.ts';
import { allControllers } from '../src/controllers/all.ts';
import { resetContainerd } from '../src/kubelet/containerd/index.ts';
import { containerdLayout, type ContainerdLayout } from '../src/kubelet/containerd/config.ts';
import { checkPrerequisites, installCommand, missingForContainers, type Check } from '../src/kubelet/containerd/prereqs.ts';
import { removeAllPods, removeCgroup } from '../src/kubelet/containerd/reset.ts';
import { staticBusybox } from '../src/kubelet/images/pause.ts';
import { nodeNetworkNames, teardownNodeNetwork } from '../src/kubelet/network/index.ts';
import { startRealNode, type RealNode } from '../src/kubelet/node.ts';
import { tableName } from '../src/proxy/proxier.ts';
import { buildTestImage, TEST_IMAGES } from './images/build.ts';
import { KUBECTL, kubectlFor, type Kubectl } from './harness.ts';

export interface RealNodePrerequisites {
  /** The failed checks; empty when everything is here. */
  missing: Check[];
  /** What is missing and how to install it; '' when nothing is. */
  why: string;
  /** For describe(): the reason to skip, locally; false in CI (where `before` fails with `why`) or when nothing is missing. */
  skip: string | false;
}

/**
 * What a real node needs here: containerd, runc, the CNI plugins, nft, ip and
 * busybox-static (the test images), plus kubectl unless `kubectl: false`, redis-server and
 * redis-cli for the redis image, and the caller's own `extra` checks.
 */
export function realNodePrerequisites(opts: { kubectl?: boolean; redis?: boolean; extra?: Check[] } = {}): RealNodePrerequisites {
  const checks = checkPrerequisites();
  const missing = [...missingForContainers(checks), ...checks.filter((c) => ['cni plugins', 'nft', 'ip'].includes(c.name) && c.status === 'fail')];
  if (!staticBusybox()) missing.push({ name: 'busybox-static', status: 'fail', detail: opts.redis ? 'the test images' : 'the test image', packages: ['busybox-static'] });
  if (opts.redis) {
    for (const [bin, pkg] of [['/usr/bin/redis-server', 'redis-server'], ['/usr/bin/redis-cli', 'redis-tools']]) {
      if (!existsSync(bin)) missing.push({ name: pkg, status: 'fail', detail: `${bin} (the redis test image)`, packages: [pkg] });
    }
  }
  if (opts.kubectl !== false && !existsSync(KUBECTL)) missing.push({ name: 'kubectl', status: 'fail', detail: KUBECTL, packages: ['kubectl'] });
  missing.push(...(opts.extra ?? []));
  const why = missing.length ? `missing ${missing.map((c) => `${c.name} (${c.detail})`).join('; ')}; ${installCommand(missing) ?? ''}` : '';
  return { missing, why, skip: missing.length > 0 && !process.env.CI ? why : false };
}

/** A cluster's and its node's names, `<prefix>-<pid>-<random>` and `<prefix>-node-<pid>-<random>`, unique on this machine. */
export function realNodeNames(prefix: string): { clusterName: string; nodeName: string } {
  const suffix = `${process.pid}-${randomBytes(3).toString('hex')}`;
  return { clusterName: `${prefix}-${suffix}`, nodeName: `${prefix}-node-${suffix}` };
}

/** This machine's first non-loopback IPv4 (traffic to it stays on the machine). */
export function machineIPv4(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

/** One HTTP GET on a fresh connection (so each request is a new choice of endpoint). */
export function httpGet(host: string, port: number, urlPath = '/', timeoutMs = 5000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: urlPath, agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}:${port}${urlPath}: timed out`)));
    req.on('error', reject);
  });
}

/**
 * What a cluster left on this machine: its bridge, its node or proxy nft table, routes in
 * any of `cidrs` (a /16 each, matched by its first two octets). Empty when all is gone.
 */
export function hostLeftovers(clusterName: string, cidrs: string[]): string[] {
  const names = nodeNetworkNames(clusterName);
  const left: string[] = [];
  if (execFileSync('ip', ['link', 'show'], { encoding: 'utf8' }).includes(names.bridge)) left.push(`bridge ${names.bridge}`);
  const tables = execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
  if (tables.includes(names.nftTable)) left.push(`nft table ${names.nftTable}`);
  if (tables.split('\n').some((l) => l.trim().endsWith(` ${tableName(clusterName)}`))) left.push(`proxy nft table ${tableName(clusterName)}`);
  const routes = execFileSync('ip', ['route', 'show', 'table', 'all'], { encoding: 'utf8' });
  for (const cidr of cidrs) {
    const prefix = cidr.replace(/\.0\.0\/16$/, '.');
    if (routes.split('\n').some((l) => l.includes(prefix))) left.push(`routes in ${cidr}`);
  }
  return left;
}

/** A busybox container running `sh -c script`. */
export function busybox(name: string, script: string, extra: Record<string, any> = {}): Record<string, any> {
  return { name, image: TEST_IMAGES.busybox, imagePullPolicy: 'Never', command: ['sh', '-c', script], ...extra };
}

/** A pod in the default namespace with a 1 s grace period. */
export function podObject(name: string, spec: Record<string, any>): KObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { terminationGracePeriodSeconds: 1, ...spec } };
}

export const allRunning = (p: KObject): boolean => p.status?.phase === 'Running' && (p.status.containerStatuses ?? []).every((c: any) => c.state?.running);

export interface RealNodeClusterOptions {
  clusterName: string;
  nodeName: string;
  clusterCIDR: string;
  serviceCIDR: string;
  /** The kubelet's clusterDNS. */
  clusterDNS: string[];
  /** mkdtemp's prefix under the temp dir, e.g. 'skiff-node-e2e-'. */
  tmpPrefix: string;
  /** Test images imported into the node's images dir (default busybox). */
  images?: ('busybox' | 'redis')[];
  /** The node's InternalIP and the kubelet API's address (default 127.0.0.1). */
  nodeIP?: string;
  /** The kubelet's sync frequency (volumes rewritten from the API; default upstream's minute). */
  syncFrequencyMs?: number;
  /** The ServiceLB controller's pool. */
  loadBalancerPool?: string;
  /** Start the node services (proxy and cluster DNS) with these options. */
  nodeServices?: Pick<NodeServicesOptions, 'clusterDNS' | 'upstreams' | 'proxyLog'>;
  /**
   * 'manual' (default): containerd, the node network and the cgroup removed piece by piece;
   * 'reset': resetNode (skiff reset's work), whose list of what it removed close() returns.
   */
  teardown?: 'manual' | 'reset';
  /** With teardown 'reset': reset a second time (close() returns what that found). */
  resetTwice?: boolean;
  /** Delete every pod through the API and wait for the kubelet to finish them before the rest of the teardown. */
  deletePodsFirst?: boolean;
  /** How long to wait for the default ServiceAccount (default 15 s). */
  readyTimeoutMs?: number;
  /** Keep only the last this many node log lines (default all). */
  logLimit?: number;
  /** Progress messages (the bench's). */
  progress?: (m: string) => void;
}

export interface RealNodeTeardown {
  /** What resetNode removed (teardown 'reset'). */
  removed: string[];
  /** What a second resetNode found (resetTwice). */
  again: string[];
  /** hostLeftovers() after the teardown. */
  left: string[];
}

/**
 * A cluster with one real node in this process. `start()` brings it up; `close()` tears down
 * whatever was set up (also after a start that failed half-way, or none), once; it throws
 * the first error a step raised after running every step.
 */
export class RealNodeCluster {
  readonly opts: RealNodeClusterOptions;
  /** The node's log ("msg {fields}" lines). */
  readonly logs: string[] = [];
  dir = '';
  /** startRealNode's dataDir: <dir>/node. */
  nodeDataDir = '';
  layout: ContainerdLayout | undefined;
  server: ApiServer | undefined;
  client: Client | undefined;
  kubectl: Kubectl | undefined;
  node: RealNode | undefined;
  services: NodeServices | undefined;
  /** From the apiserver's start to the default ServiceAccount. */
  startMs = 0;
  private readonly stop = new AbortController();
  private readonly nodeStop = new AbortController();
  private closing: Promise<RealNodeTeardown> | undefined;

  constructor(opts: RealNodeClusterOptions) {
    this.opts = opts;
  }

  readonly log = (msg: string, fields?: Record<string, unknown>): void => {
    this.logs.push(`${msg} ${JSON.stringify(fields ?? {})}`);
    if (this.opts.logLimit && this.logs.length > this.opts.logLimit) this.logs.shift();
  };

  async start(): Promise<{ server: ApiServer; client: Client; kubectl: Kubectl; node: RealNode }> {
    const o = this.opts;
    this.dir = mkdtempSync(path.join(tmpdir(), o.tmpPrefix));
    this.nodeDataDir = path.join(this.dir, 'node');
    this.layout = containerdLayout({ clusterName: o.clusterName, dataDir: this.nodeDataDir });
    mkdirSync(path.join(this.nodeDataDir, 'images'), { recursive: true });
    for (const image of o.images ?? ['busybox']) copyFileSync(buildTestImage(image).file, path.join(this.nodeDataDir, 'images', `${image}.tar`));
    const t0 = performance.now();
    const server = (this.server = await startApiServer({ dataDir: path.join(this.dir, 'api'), bindAddress: '127.0.0.1', bindPort: 0, advertiseAddress: '127.0.0.1', serviceClusterIPRange: o.serviceCIDR }));
    const client = (this.client = createClient(inProcessTransport({ serve: (req, res) => server.serve(req, res) }, ADMIN)));
    const quiet = () => {};
    const controllers = allControllers({ rootCA: server.pki.caCertPem, clusterCIDR: o.clusterCIDR, serviceCIDR: o.serviceCIDR, ...(o.loadBalancerPool ? { loadBalancerPool: o.loadBalancerPool } : {}) });
    startInProcessControllerManager(server, { controllers, log: quiet }, this.stop.signal);
    startInProcessScheduler(server, { log: quiet }, this.stop.signal);
    const home = path.join(this.dir, 'home');
    mkdirSync(home);
    const kubectl = (this.kubectl = kubectlFor(server.kubeconfigPath, home));
    const nodeIP = o.nodeIP ?? '127.0.0.1';
    o.progress?.(`starting a real node (${o.nodeName}, containerd under ${this.nodeDataDir})`);
    const node = (this.node = await startRealNode({
      server,
      clusterName: o.clusterName,
      dataDir: this.nodeDataDir,
      nodeName: o.nodeName,
      nodeIP,
      clusterCIDR: o.clusterCIDR,
      serviceCIDR: o.serviceCIDR,
      clusterDNS: o.clusterDNS,
      kubeletPort: 0,
      kubeletAddress: nodeIP,
      allowEgress: false,
      ...(o.syncFrequencyMs ? { syncFrequencyMs: o.syncFrequencyMs } : {}),
      log: this.log,
    }, this.nodeStop.signal));
    if (o.nodeServices) {
      this.services = await startNodeServices({
        server,
        node,
        clusterName: o.clusterName,
        clusterCIDR: o.clusterCIDR,
        serviceCIDR: o.serviceCIDR,
        ...o.nodeServices,
        log: this.log,
      }, this.nodeStop.signal);
    }
    await eventually(async () => (await client.get(ref.serviceaccounts, 'default', 'default').catch(() => undefined)), o.readyTimeoutMs ?? 15_000, 'the default ServiceAccount');
    this.startMs = performance.now() - t0;
    return { server, client, kubectl, node };
  }

  /** Waits until `check` holds for the pod; on timeout the error carries its last status and the node's recent log. */
  async waitPod(name: string, check: (p: KObject) => unknown, timeoutMs = 30_000): Promise<KObject> {
    let last: KObject | undefined;
    try {
      return await eventually(async () => {
        last = await this.client!.get(ref.pods, 'default', name).catch(() => undefined);
        return last && check(last) ? last : undefined;
      }, timeoutMs, `pod ${name}`);
    } catch (e) {
      throw new Error(`${(e as Error).message}; last status: ${JSON.stringify(last?.status)}\n${this.logs.slice(-20).join('\n')}`);
    }
  }

  close(): Promise<RealNodeTeardown> {
    return (this.closing ??= this.teardown());
  }

  private async teardown(): Promise<RealNodeTeardown> {
    const o = this.opts;
    if (process.env.SKIFF_NODE_TEST_LOG) console.log(this.logs.join('\n'));
    const errors: unknown[] = [];
    const step = async (fn: () => unknown): Promise<void> => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };
    const result: RealNodeTeardown = { removed: [], again: [], left: [] };
    const { node, client } = this;
    const rt = node?.runtime;
    if (o.deletePodsFirst && node && client) {
      // Pods deleted through the API first: the kubelet stops them and unmounts their volumes
      // itself, and no worker is left to recreate a sandbox or remount a volume while the rest
      // is torn down (that race left a pod's tmpfs mounted under the temp dir).
      const pods = (await client.list(ref.pods, undefined).catch(() => undefined))?.items ?? [];
      await Promise.all(pods.map((p) => client.delete(ref.pods, p.metadata.namespace, p.metadata.name!, { gracePeriodSeconds: 1 }).catch(() => undefined)));
      await eventually(() => [...node.kubelet.workers.values()].every((w) => w.done), 30_000, 'the kubelet to finish every pod').catch((e) => this.logs.push(String(e)));
    }
    await step(() => this.services?.stop());
    if (rt?.supervisor?.pid) await step(() => removeAllPods(rt.cri)); // while our containerd still answers
    if (node) {
      // volumes (tmpfs for the ServiceAccount token) of pods whose containers are gone
      const podsDir = node.volumes.podsDir;
      for (const uid of existsSync(podsDir) ? readdirSync(podsDir) : []) await step(() => node.volumes.unmountPod(uid));
    }
    await step(() => node?.stop());
    if (this.layout) {
      if (o.teardown === 'reset') {
        // skiff reset's work: containerd and its state, mounts, the pod network, the proxy table, the cgroup root
        await step(async () => (result.removed = await resetNode({ clusterName: o.clusterName, nodeDataDir: this.nodeDataDir })));
        if (o.resetTwice) await step(async () => (result.again = await resetNode({ clusterName: o.clusterName, nodeDataDir: this.nodeDataDir })));
      } else {
        const layout = this.layout;
        await step(() => resetContainerd(layout, { removeRoot: true }));
        // also when the node did not finish starting: the network may be half set up (routes go by metric, whatever the podCIDR)
        const podCIDR = node?.podCIDR || o.clusterCIDR.replace(/\.0\.0\/16$/, '.0.0/24');
        await step(() => teardownNodeNetwork({ clusterName: o.clusterName, podCIDR, clusterCIDR: o.clusterCIDR, serviceCIDR: o.serviceCIDR, cniConfDir: layout.cniConfDir }));
        if (rt?.cgroupDriver !== 'systemd') await step(() => removeCgroup(`/skiff-${o.nodeName}`));
      }
    }
    this.stop.abort();
    await step(() => this.server?.close());
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    if (this.layout) result.left = hostLeftovers(o.clusterName, [o.clusterCIDR, ...(/\/16$/.test(o.serviceCIDR) ? [o.serviceCIDR] : [])]);
    if (errors.length) throw errors[0];
    return result;
  }
}

/**
 * The httpd Deployment of the Services scenarios: busybox httpd pods whose page is their
 * own name, Ready once port 80 answers. YAML, for `kubectl apply -f -`.
 */
export function httpdDeployment(replicas: number, opts: { portName?: string } = {}): string {
  const port = opts.portName ? `{name: ${opts.portName}, containerPort: 80}` : '{containerPort: 80}';
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpd
spec:
  replicas: ${replicas}
  selector:
    matchLabels: {app: httpd}
  template:
    metadata:
      labels: {app: httpd}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: httpd
        image: ${TEST_IMAGES.busybox}
        imagePullPolicy: Never
        command: [sh, -c, 'mkdir -p /www; echo $(hostname) > /www/index.html; exec httpd -f -p 80 -h /www']
        ports: [${port}]
        readinessProbe:
          tcpSocket: {port: 80}
          periodSeconds: 1`;
}
