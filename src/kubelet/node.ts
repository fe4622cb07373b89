// A real node on this machine: skiff's containerd (or an existing one), the pod network
// on the node's podCIDR, the volume manager, the kubelet's HTTPS API (logs, exec, attach,
// port-forward) and the kubelet itself, composed:
//
//   const node = await startRealNode({ server, clusterName, dataDir, nodeName,
//     clusterCIDR: '10.244.0.0/16', serviceCIDR: '10.96.0.0/12', clusterDNS: ['10.96.0.10'], log }, signal);
//   abort (or node.stop()) → the kubelet, its API and our containerd stop; pods keep running
//   and a new start adopts them. Removing the node for good is resetContainerd +
//   teardownNodeNetwork (test/node-e2e.test.ts's teardown), or resetNode (src/cli/reset.ts),
//   which reads what to remove from <dataDir>/node-state.json.
//
// Order: the runtime starts, then the kubelet API (its port goes into the Node's
// status.daemonEndpoints), then the kubelet registers the Node; before any pod is synced
// it waits for the Node's spec.podCIDR (the node-ipam controller assigns one after
// registration unless podCIDR is given), writes the CNI conflist into the runtime's conf
// dir with the bridge, nft table and routes (setupNodeNetwork), and waits for the runtime
// to report NetworkReady. Pods then get their own network namespace and an address from
// the podCIDR.
//
// The kubelet API's serving certificate is self-signed (ECDSA P-256, SANs: the node's
// name, its IP, localhost): the apiserver does not verify kubelet serving certificates
// (upstream's default without --kubelet-certificate-authority). Client certificates are
// required and verified against the cluster CA when it is known (`server`, or `clientCA`).

import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { KObject } from '../api/object.ts';
import type { ApiServer } from '../apiserver/server.ts';
import { inProcessTransport } from '../client/inprocess.ts';
import { ref } from '../client/resources.ts';
import { createClient } from '../client/rest.ts';
import type { Client } from '../client/types.ts';
import { sleep, type Logger } from '../client/util.ts';
import { startRuntime, type NodeRuntime } from './containerd/index.ts';
import { startKubelet, type Kubelet } from './kubelet.ts';
import { runtimeCniConfDir, setupNodeNetwork, type NodeNetwork } from './network/index.ts';
import type { PodWorker } from './pods/worker.ts';
import { startKubeletServer, type KubeletServer, type PodSource } from './server/index.ts';
import { VolumeManager } from './volumes/index.ts';

export interface RealNodeOptions {
  /** The in-process apiserver (the kubelet talks to it as system:node:<nodeName>, and its CA verifies API clients). */
  server?: ApiServer;
  /** Or a client with the node's identity. */
  client?: Client;
  clusterName: string;
  /** images/ (airgap archives imported at start), containerd state, kubelet/ (pod logs, volumes). */
  dataDir: string;
  nodeName: string;
  /** This node's pod range; by default the one the node-ipam controller assigns (Node spec.podCIDR). */
  podCIDR?: string;
  clusterCIDR: string;
  serviceCIDR: string;
  clusterDNS: string[];
  clusterDomain?: string;
  /** The node's InternalIP (default: the first non-loopback IPv4). */
  nodeIP?: string;
  /** Use this containerd instead of starting the cluster's own. */
  containerRuntimeEndpoint?: string;
  /** Kubelet API port: 10250 by default, 0 picks a free one. */
  kubeletPort?: number;
  /** Kubelet API bind address (default 0.0.0.0). */
  kubeletAddress?: string;
  /** CA for the kubelet API's client certificates (default: the server's cluster CA). */
  clientCA?: string;
  /** Pods may reach beyond the cluster (default true; tests pass false). */
  allowEgress?: boolean;
  podManifestPath?: string;
  labels?: Record<string, string>;
  initialBackoffMs?: number;
  /** How often ConfigMap, Secret, downwardAPI and projected volumes are rewritten from the API (upstream's --sync-frequency, default 1 min). */
  syncFrequencyMs?: number;
  /** How long to wait for the Node's podCIDR (default 60 s). */
  podCIDRTimeoutMs?: number;
  log?: Logger;
}

export interface RealNode {
  kubelet: Kubelet;
  runtime: NodeRuntime;
  server: KubeletServer;
  volumes: VolumeManager;
  /** Set up once the Node had its podCIDR (kubelet.ready implies it). */
  network: NodeNetwork;
  podCIDR: string;
  /** Stops the kubelet, its API and our own containerd; pods keep running. Idempotent. */
  stop(): Promise<void>;
}

/** A self-signed serving certificate for the kubelet API. */
export async function selfSignedServingCert(hosts: string[], days = 365): Promise<{ cert: string; key: string }> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const now = Date.now();
  const sans = [...new Set(hosts)].map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }));
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${hosts[0] ?? 'kubelet'}`,
    notBefore: new Date(now - 5 * 60_000),
    notAfter: new Date(now + days * 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension(sans, false),
    ],
  }, crypto);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const key = `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
  return { cert: cert.toString('pem') + '\n', key };
}

/** The kubelet API's view of the kubelet's pod workers. */
export function workerPodSource(workers: () => Map<string, PodWorker> | undefined, rootDir: string, runtime: NodeRuntime): PodSource {
  const live = (): PodWorker[] => [...(workers()?.values() ?? [])].filter((w) => !w.done);
  const workerOf = (pod: KObject): PodWorker | undefined => live().find((w) => w.uid === pod.metadata.uid);
  return {
    getPod(namespace, name) {
      return live().find((w) => w.pod.metadata.namespace === namespace && w.pod.metadata.name === name)?.pod;
    },
    listPods() {
      return live().map((w) => w.pod);
    },
    containerID(pod, container) {
      const w = workerOf(pod);
      const id = w?.containerIds.get(container);
      if (id) return id;
      const st = [...(w?.pod.status?.containerStatuses ?? []), ...(w?.pod.status?.initContainerStatuses ?? [])].find((s: any) => s.name === container);
      return typeof st?.containerID === 'string' ? st.containerID.replace(/^[a-z]+:\/\//, '') || undefined : undefined;
    },
    sandboxID(pod) {
      return workerOf(pod)?.sandboxId;
    },
    logPath(pod, container, previous) {
      const { namespace, name, uid } = pod.metadata;
      const dir = path.join(rootDir, 'pods', `${namespace}_${name}_${uid}`, container);
      let attempts: number[];
      try {
        attempts = readdirSync(dir).map((f) => /^(\d+)\.log$/.exec(f)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => b - a);
      } catch {
        return undefined;
      }
      const n = attempts[previous ? 1 : 0];
      return n === undefined ? undefined : path.join(dir, `${n}.log`);
    },
    runtime: runtime.cri,
  };
}

/**
 * What a node put on this machine, recorded in `<dataDir>/node-state.json` as soon as its
 * runtime is up and again once its network is set up, so that `skiff reset` can remove it
 * after the process is gone (containerd's paths need the cluster name; the routes and the
 * bridge need the ranges; the cgroup root needs the node name).
 */
export interface NodeState {
  clusterName: string;
  nodeName: string;
  /** '' until the node has its podCIDR. */
  podCIDR: string;
  clusterCIDR: string;
  serviceCIDR: string;
  cniConfDir: string;
  /** Whether the node ran skiff's own containerd (reset stops it) or an existing one. */
  ownRuntime: boolean;
  cgroupDriver: string;
}

export function nodeStatePath(dataDir: string): string {
  return path.join(dataDir, 'node-state.json');
}

function writeNodeState(dataDir: string, state: NodeState): void {
  mkdirSync(dataDir, { recursive: true });
  const file = nodeStatePath(dataDir);
  writeFileSync(`${file}.tmp`, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** The state a node recorded under `dataDir`, if any. */
export function readNodeState(dataDir: string): NodeState | undefined {
  try {
    return JSON.parse(readFileSync(nodeStatePath(dataDir), 'utf8')) as NodeState;
  } catch {
    return undefined;
  }
}

async function waitForPodCIDR(client: Client, nodeName: string, timeoutMs: number, signal: AbortSignal, log: Logger): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let logged = false;
  for (;;) {
    signal.throwIfAborted();
    const node = await client.get(ref.nodes, undefined, nodeName).catch(() => undefined);
    const cidr = node?.spec?.podCIDR;
    if (typeof cidr === 'string' && cidr) return cidr;
    if (Date.now() > deadline) throw new Error(`node ${nodeName} got no podCIDR within ${Math.round(timeoutMs / 1000)}s: is the node-ipam controller running (controller manager with --allocate-node-cidrs)?`);
    if (!logged) log('waiting for the node podCIDR', { node: nodeName });
    logged = true;
    await sleep(200, signal);
  }
}

async function waitForNetworkReady(runtime: NodeRuntime, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    signal.throwIfAborted();
    const st = await runtime.cri.status();
    const c = st.status?.conditions.find((x) => x.type === 'NetworkReady');
    if (c?.status) return;
    last = c ? `${c.reason}: ${c.message}` : 'no NetworkReady condition';
    if (Date.now() > deadline) throw new Error(`the container runtime's network is not ready: ${last}`);
    await sleep(100, signal);
  }
}

export async function startRealNode(opts: RealNodeOptions, signal: AbortSignal): Promise<RealNode> {
  const log = opts.log ?? (() => {});
  const { nodeName, dataDir } = opts;
  const client = opts.client ?? (opts.server
    ? createClient(inProcessTransport({ serve: (req, res) => opts.server!.serve(req, res) }, { name: `system:node:${nodeName}`, groups: ['system:nodes', 'system:authenticated'] }))
    : undefined);
  if (!client) throw new Error('startRealNode: `server` or `client` is required');
  const rootDir = path.join(dataDir, 'kubelet');

  const runtime = await startRuntime({ clusterName: opts.clusterName, dataDir, containerRuntimeEndpoint: opts.containerRuntimeEndpoint, log }, signal);
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  let kubelet: Kubelet | undefined;
  let server: KubeletServer | undefined;
  let network: NodeNetwork | undefined;
  let podCIDR = opts.podCIDR ?? '';
  const volumes = new VolumeManager({ podsDir: path.join(rootDir, 'volumes'), client, log, syncPeriodMs: opts.syncFrequencyMs });
  try {
    const cniConfDir = runtime.layout?.cniConfDir ?? (await runtimeCniConfDir(runtime.cri));
    if (!cniConfDir) throw new Error(`the container runtime at ${runtime.endpoint} reports no CNI conf dir`);
    const state = (podCIDR: string): NodeState => ({ clusterName: opts.clusterName, nodeName, podCIDR, clusterCIDR: opts.clusterCIDR, serviceCIDR: opts.serviceCIDR, cniConfDir, ownRuntime: !!runtime.layout, cgroupDriver: runtime.cgroupDriver });
    // (a restart keeps the podCIDR the last run recorded until the Node's is read again)
    writeNodeState(dataDir, state(opts.podCIDR ?? readNodeState(dataDir)?.podCIDR ?? ''));
    const nodeIP = opts.nodeIP;
    const tls = await selfSignedServingCert([nodeName, ...(nodeIP ? [nodeIP] : []), 'localhost', '127.0.0.1']);
    const clientCA = opts.clientCA ?? opts.server?.pki.caCertPem;
    if (!clientCA) log('kubelet API without client certificate verification: no cluster CA given', { node: nodeName });
    server = await startKubeletServer({
      pods: workerPodSource(() => kubelet?.workers, rootDir, runtime),
      cert: tls.cert,
      key: tls.key,
      clientCA,
      port: opts.kubeletPort ?? 10250,
      address: opts.kubeletAddress,
      nodeName,
      rootDir,
      runtimePid: () => runtime.supervisor?.pid,
      log,
    });
    volumes.start(ac.signal);
    kubelet = await startKubelet({
      client,
      nodeName,
      runtime: runtime.cri,
      rootDir,
      podCIDR: opts.podCIDR,
      clusterDNS: opts.clusterDNS,
      clusterDomain: opts.clusterDomain,
      nodeIP,
      podManifestPath: opts.podManifestPath,
      cgroupDriver: runtime.cgroupDriver,
      podNetwork: true,
      labels: opts.labels,
      mountPod: (pod) => volumes.mountPod(pod, ac.signal),
      unmountPod: (uid) => volumes.unmountPod(uid),
      kubeletPort: server.port,
      initialBackoffMs: opts.initialBackoffMs,
      log,
      beforePods: async (node, s) => {
        podCIDR = node.spec?.podCIDR || (await waitForPodCIDR(client, nodeName, opts.podCIDRTimeoutMs ?? 60_000, s, log));
        network = await setupNodeNetwork({
          clusterName: opts.clusterName,
          podCIDR,
          clusterCIDR: opts.clusterCIDR,
          serviceCIDR: opts.serviceCIDR,
          cniConfDir,
          allowEgress: opts.allowEgress,
          log,
        });
        writeNodeState(dataDir, state(podCIDR));
        await waitForNetworkReady(runtime, 30_000, s);
        log('node pod network ready', { node: nodeName, podCIDR, bridge: network.bridge });
      },
    }, ac.signal);
    await kubelet.ready;
  } catch (e) {
    signal.removeEventListener('abort', onAbort);
    ac.abort();
    await kubelet?.done;
    await server?.close();
    await runtime.stop();
    throw e;
  }
  const k = kubelet;
  const srv = server;
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      signal.removeEventListener('abort', onAbort);
      ac.abort();
      await k.done;
      await srv.close();
      await runtime.stop();
    })();
    return stopped;
  };
  return { kubelet: k, runtime, server: srv, volumes, network: network!, podCIDR, stop };
}
