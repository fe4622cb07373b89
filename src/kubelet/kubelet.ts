// The kubelet on a real runtime: registers this machine as a Node, renews its Lease,
// watches the pods bound to it (field selector spec.nodeName) and runs each through a
// pod worker (pods/worker.ts) on the CRI runtime; static pods from --pod-manifest-path
// run the same way with mirror pods in the API (static/static.ts).
//
//   const k = await startKubelet({ client, nodeName, runtime: rt.cri, rootDir, log }, signal);
//   await k.ready;        // node registered, pod informer synced
//   abort → k.done        // workers stop; containers keep running (a new kubelet adopts them)

import { availableParallelism, networkInterfaces, release, totalmem, hostname } from 'node:os';
import { mkdirSync, readFileSync, statfsSync } from 'node:fs';
import path from 'node:path';
import type { KObject } from '../api/object.ts';
import { isStatusError } from '../api/errors.ts';
import { EventBroadcaster } from '../client/events.ts';
import { Informer } from '../client/informer.ts';
import { ref } from '../client/resources.ts';
import type { Client } from '../client/types.ts';
import type { Logger } from '../client/util.ts';
import type { CriRuntime, Input, Mount } from './cri/types.ts';
import { startRuntime, type NodeRuntime } from './containerd/index.ts';
import {
  healthyNodeConditions,
  initialNode,
  KUBELET_VERSION,
  LEASE_RENEW_INTERVAL_MS,
  mergeNodeConditions,
  nodeConditionsChanged,
  nodeLease,
  NODE_LEASE_NAMESPACE,
  NODE_STATUS_REPORT_FREQUENCY_MS,
  NODE_STATUS_UPDATE_FREQUENCY_MS,
  microTime,
} from './nodestatus.ts';
import { PodWorker, type PodWorkerContext } from './pods/worker.ts';
import { RuntimeRelist } from './pods/relist.ts';
import * as L from './pods/labels.ts';
import { isMirrorPod, startStaticPods } from './static/static.ts';

export interface KubeletOptions {
  client: Client;
  nodeName: string;
  runtime: CriRuntime;
  /** Kubelet state: pod logs, termination messages (default /var/lib/skiff/kubelet). */
  rootDir?: string;
  podCIDR?: string;
  /** Cluster DNS service IPs (ClusterFirst pods' nameservers). */
  clusterDNS?: string[];
  clusterDomain?: string;
  /** The node's InternalIP (default: the first non-loopback IPv4, else 127.0.0.1). */
  nodeIP?: string;
  /** --pod-manifest-path: static pods. */
  podManifestPath?: string;
  /** The runtime's cgroup driver (startRuntime reports it); pods' cgroup parents follow it. */
  cgroupDriver?: 'systemd' | 'cgroupfs';
  /** cgroupfs parent of every pod (default /skiff-<nodeName>); removed by the node's reset. */
  cgroupRoot?: string;
  /** Pods get their own netns through the runtime's CNI config; until then every pod uses the node's network. */
  podNetwork?: boolean;
  labels?: Record<string, string>;
  /** The volume manager's mounts per container name. */
  mountPod?: (pod: KObject) => Promise<Map<string, Input<Mount>[]>>;
  /** The volume manager's cleanup of a pod that is gone. */
  unmountPod?: (uid: string) => Promise<void>;
  /** The port of the kubelet's API (Node status.daemonEndpoints.kubeletEndpoint.Port; 10250 when absent). */
  kubeletPort?: number;
  /**
   * Runs after the Node is registered (its lease renewing) and before any pod is synced:
   * where the node's pod network is set up once the Node has a podCIDR. A rejection fails startKubelet.
   */
  beforePods?: (node: KObject, signal: AbortSignal) => Promise<void>;
  /** Restart back-off start (10 s upstream; tests may shorten it). */
  initialBackoffMs?: number;
  leaseRenewIntervalMs?: number;
  log?: Logger;
}

export interface Kubelet {
  nodeName: string;
  /** Node registered and pod informer synced. */
  ready: Promise<void>;
  /** Resolves when every loop has stopped after the signal aborted. */
  done: Promise<void>;
  /** Pod workers by pod uid (static pods included). */
  workers: Map<string, PodWorker>;
}

function defaultNodeIP(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function readTrim(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

function osImage(): string {
  const m = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readTrim('/etc/os-release'));
  return m?.[1] ?? 'Linux';
}

/** Capacity and allocatable of this machine (allocatable less upstream's default hard eviction thresholds). */
export function hostResources(rootDir: string): { capacity: Record<string, string>; allocatable: Record<string, string> } {
  const cpu = String(availableParallelism());
  const memKi = Math.floor(totalmem() / 1024);
  let storage = 0;
  try {
    const s = statfsSync(rootDir);
    storage = s.blocks * s.bsize;
  } catch {}
  return {
    capacity: { cpu, memory: `${memKi}Ki`, pods: '110', 'ephemeral-storage': `${Math.floor(storage / 1024)}Ki`, 'hugepages-1Gi': '0', 'hugepages-2Mi': '0' },
    allocatable: { cpu, memory: `${Math.max(0, memKi - 100 * 1024)}Ki`, pods: '110', 'ephemeral-storage': String(Math.floor(storage * 0.9)), 'hugepages-1Gi': '0', 'hugepages-2Mi': '0' },
  };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function startKubelet(opts: KubeletOptions, signal: AbortSignal): Promise<Kubelet> {
  const { client, nodeName, runtime } = opts;
  const log = opts.log ?? (() => {});
  const rootDir = opts.rootDir ?? '/var/lib/skiff/kubelet';
  mkdirSync(rootDir, { recursive: true });
  const nodeIP = opts.nodeIP ?? defaultNodeIP();
  const version = await runtime.version({ signal });
  const resources = hostResources(rootDir);
  const broadcaster = new EventBroadcaster(client, { log });
  const recorder = broadcaster.newRecorder({ component: 'kubelet', host: nodeName });
  const workers = new Map<string, PodWorker>();
  const runs: Promise<void>[] = [];
  let nodeUID: string | undefined;

  // ---- node registration, status, lease ----
  const desired = initialNode({
    name: nodeName,
    labels: opts.labels,
    capacity: resources.capacity,
    allocatable: resources.allocatable,
    addresses: [{ type: 'InternalIP', address: nodeIP }, { type: 'Hostname', address: nodeName || hostname() }],
    podCIDR: opts.podCIDR,
    nodeInfo: {
      machineID: readTrim('/etc/machine-id'),
      systemUUID: readTrim('/sys/class/dmi/id/product_uuid'),
      bootID: readTrim('/proc/sys/kernel/random/boot_id'),
      kernelVersion: release(),
      osImage: osImage(),
      containerRuntimeVersion: `${version.runtimeName}://${version.runtimeVersion}`,
      kubeletVersion: KUBELET_VERSION,
    },
  }, Date.now());
  if (opts.kubeletPort) desired.status.daemonEndpoints = { kubeletEndpoint: { Port: opts.kubeletPort } };

  async function register(): Promise<KObject> {
    try {
      return await client.create(ref.nodes, undefined, desired);
    } catch (e) {
      if (!(isStatusError(e) && e.code === 409)) throw e;
    }
    const cur = await client.get(ref.nodes, undefined, nodeName);
    const status = { ...cur.status, ...desired.status, conditions: mergeNodeConditions(cur.status?.conditions, healthyNodeConditions(), { now: Date.now() }) };
    return await client.update(ref.nodes, undefined, { ...cur, status }, { subresource: 'status' });
  }
  let node = await register();
  nodeUID = node.metadata.uid;
  const podCIDR = node.spec?.podCIDR ?? opts.podCIDR;
  log('node registered', { node: nodeName, nodeIP, podCIDR, runtime: desired.status.nodeInfo.containerRuntimeVersion });

  runs.push((async () => {
    let lease: KObject | undefined;
    let lastReport = Date.now();
    let nextStatus = Date.now() + NODE_STATUS_UPDATE_FREQUENCY_MS;
    while (!signal.aborted) {
      try {
        const now = Date.now();
        const l = nodeLease({ name: nodeName, uid: nodeUID }, now);
        if (!lease) {
          try {
            lease = await client.create(ref.leases, NODE_LEASE_NAMESPACE, l);
          } catch (e) {
            if (!(isStatusError(e) && e.code === 409)) throw e;
            lease = await client.get(ref.leases, NODE_LEASE_NAMESPACE, nodeName);
          }
        }
        lease = await client.update(ref.leases, NODE_LEASE_NAMESPACE, { ...lease, spec: { ...lease!.spec, holderIdentity: nodeName, leaseDurationSeconds: l.spec.leaseDurationSeconds, renewTime: microTime(now) } });
        if (now >= nextStatus) {
          nextStatus = now + NODE_STATUS_UPDATE_FREQUENCY_MS;
          const cur = await client.get(ref.nodes, undefined, nodeName);
          nodeUID = cur.metadata.uid;
          if (nodeConditionsChanged(cur.status?.conditions, healthyNodeConditions()) || now - lastReport >= NODE_STATUS_REPORT_FREQUENCY_MS) {
            node = await client.update(ref.nodes, undefined, { ...cur, status: { ...cur.status, conditions: mergeNodeConditions(cur.status?.conditions, healthyNodeConditions(), { now }) } }, { subresource: 'status' });
            lastReport = now;
          }
        }
      } catch (e) {
        if (signal.aborted) break;
        lease = undefined;
        if (isStatusError(e) && e.code === 404) {
          try {
            node = await register();
            nodeUID = node.metadata.uid;
          } catch {}
        }
        log('node heartbeat failed', { node: nodeName, error: (e as Error).message });
      }
      await sleep(opts.leaseRenewIntervalMs ?? LEASE_RENEW_INTERVAL_MS, signal);
    }
  })());

  // the caller aborts `signal` when this rejects: that stops the lease loop
  if (opts.beforePods) await opts.beforePods(node, signal);

  // ---- pods ----
  const informer = new Informer(client, ref.pods, { fieldSelector: `spec.nodeName=${nodeName}`, log });
  const staticPods = new Map<string, KObject>();
  // one runtime listing per period for every pod (upstream's PLEG); a change wakes the pod's worker
  const relist = new RuntimeRelist(runtime, { nodeName, onChange: (uid) => workers.get(uid)?.kick(), log });
  runs.push(relist.run(signal));

  async function writeStatus(pod: KObject, status: Record<string, any>): Promise<void> {
    const isStatic = pod.metadata.annotations?.[L.CONFIG_SOURCE] === 'file';
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name!;
    for (let attempt = 0; ; attempt++) {
      let target = informer.lister.get(ns, name);
      if (attempt > 0) target = await client.get(ref.pods, ns, name).catch(() => undefined);
      if (!target) {
        if (isStatic) pod.status = status;
        return;
      }
      if (isStatic ? !isMirrorPod(target) : target.metadata.uid !== pod.metadata.uid) return;
      try {
        await client.update(ref.pods, ns, { ...target, status }, { subresource: 'status' });
        if (isStatic) pod.status = status;
        return;
      } catch (e) {
        if (!(isStatusError(e) && e.code === 409) || attempt >= 3) throw e;
      }
    }
  }

  async function deletePod(pod: KObject): Promise<void> {
    try {
      await client.delete(ref.pods, pod.metadata.namespace, pod.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid } });
    } catch (e) {
      if (!(isStatusError(e) && (e.code === 404 || e.code === 409))) throw e;
    }
  }

  const ctx: PodWorkerContext = {
    runtime,
    nodeName,
    hostIP: nodeIP,
    rootDir,
    podNetwork: !!opts.podNetwork,
    cgroupParent: (uid) => (opts.cgroupDriver === 'systemd' ? 'system.slice' : `${opts.cgroupRoot ?? `/skiff-${nodeName}`}/pod${uid}`),
    clusterDNS: opts.clusterDNS ?? [],
    clusterDomain: opts.clusterDomain ?? 'cluster.local',
    recorder,
    nodeAllocatable: resources.allocatable,
    mountPod: opts.mountPod,
    unmountPod: opts.unmountPod,
    initialBackoffMs: opts.initialBackoffMs,
    async data(kind, ns, name) {
      try {
        const o = await client.get(kind === 'ConfigMap' ? ref.configmaps : ref.secrets, ns, name);
        if (kind === 'ConfigMap') return { ...(o.data ?? {}) };
        return Object.fromEntries(Object.entries((o.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
      } catch (e) {
        if (isStatusError(e) && e.code === 404) return undefined;
        throw e;
      }
    },
    async services(namespace) {
      // kubelet lists Services for the links (upstream: from its service informer)
      const [own, master] = await Promise.all([
        client.list(ref.services, namespace).then((l) => l.items),
        namespace === 'default' ? Promise.resolve([]) : client.get(ref.services, 'default', 'kubernetes').then((s) => [s], () => []),
      ]);
      const names = new Set(own.map((s) => s.metadata.name));
      return [...own, ...master.filter((s) => !names.has(s.metadata.name))];
    },
    runtimeSnapshot: (uid, since) => relist.snapshot(uid, since),
    writeStatus,
    deletePod,
    log,
  };

  function dispatch(pod: KObject): void {
    const uid = pod.metadata.uid!;
    let w = workers.get(uid);
    if (w && !w.done) return w.update(pod);
    if (w?.done) return;
    w = new PodWorker(ctx, pod);
    workers.set(uid, w);
    const worker = w;
    runs.push(worker.run(signal).finally(() => {
      if (workers.get(uid) === worker && !signal.aborted) setTimeout(() => workers.delete(uid), 60_000).unref();
    }));
  }

  let staticSource: { resync(): void } | undefined;
  function mirrorAdded(mirror: KObject): void {
    staticSource?.resync();
    for (const p of staticPods.values()) {
      if (p.metadata.namespace === mirror.metadata.namespace && p.metadata.name === mirror.metadata.name) workers.get(p.metadata.uid!)?.statusTargetChanged();
    }
  }
  informer.addEventHandler({
    onAdd: (p) => (isMirrorPod(p) ? mirrorAdded(p) : dispatch(p)),
    onUpdate: (_o, p) => (isMirrorPod(p) ? staticSource?.resync() : dispatch(p)),
    onDelete: (p) => (isMirrorPod(p) ? staticSource?.resync() : workers.get(p.metadata.uid!)?.remove()),
  });
  informer.start(signal);
  const ready = (async () => {
    await informer.waitForSync(signal);
    if (opts.podManifestPath) {
      staticSource = startStaticPods({
        dir: opts.podManifestPath,
        nodeName,
        client,
        nodeUID: () => nodeUID,
        mirrorOf: (ns, name) => {
          const p = informer.lister.get(ns, name);
          return p && isMirrorPod(p) ? p : undefined;
        },
        onPods: (pods) => {
          const want = new Set(pods.map((p) => p.metadata.uid!));
          for (const [uid, p] of staticPods) if (!want.has(uid)) {
            staticPods.delete(uid);
            workers.get(uid)?.remove();
          }
          for (const p of pods) if (!staticPods.has(p.metadata.uid!)) {
            staticPods.set(p.metadata.uid!, p);
            dispatch(p);
          }
        },
        log,
      }, signal);
    }
    // Housekeeping: sandboxes of this node whose pod is gone (deleted while the kubelet was down).
    runs.push((async () => {
      while (!signal.aborted) {
        await sleep(10_000, signal);
        if (signal.aborted) break;
        try {
          for (const sb of await runtime.listPodSandbox({ labelSelector: { [L.SKIFF_NODE]: nodeName } })) {
            const uid = sb.labels[L.POD_UID];
            if (workers.has(uid) || staticPods.has(uid)) continue;
            if (informer.lister.list().some((p) => p.metadata.uid === uid)) continue;
            log('removing orphaned pod sandbox', { sandbox: sb.id, pod: `${sb.metadata?.namespace}/${sb.metadata?.name}` });
            await runtime.stopPodSandbox(sb.id);
            await runtime.removePodSandbox(sb.id);
          }
        } catch (e) {
          log('housekeeping failed', { error: (e as Error).message });
        }
      }
    })());
  })();
  const done = (async () => {
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    await ready.catch(() => undefined);
    await Promise.allSettled(runs);
    await informer.done();
    await broadcaster.flush().catch(() => undefined);
    broadcaster.shutdown();
  })();
  return { nodeName, ready, done, workers };
}


export interface NodeOptions extends Omit<KubeletOptions, 'runtime' | 'cgroupDriver' | 'rootDir'> {
  clusterName: string;
  /** The node's data dir: images/ (airgap archives imported at start), containerd state, kubelet/ (pod logs). */
  dataDir: string;
  /** Use this containerd instead of starting the cluster's own. */
  containerRuntimeEndpoint?: string;
}

export interface RunningNode {
  kubelet: Kubelet;
  runtime: NodeRuntime;
  /** Stops the kubelet, then our own containerd; pods keep running and a new start adopts them. */
  stop(): Promise<void>;
}

/** A whole node on this machine: the container runtime (startRuntime) and a kubelet on it. */
export async function startNode(opts: NodeOptions, signal: AbortSignal): Promise<RunningNode> {
  const { clusterName, dataDir, containerRuntimeEndpoint, ...kubeletOpts } = opts;
  const runtime = await startRuntime({ clusterName, dataDir, containerRuntimeEndpoint, log: opts.log }, signal);
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  let kubelet: Kubelet;
  try {
    kubelet = await startKubelet({ ...kubeletOpts, runtime: runtime.cri, cgroupDriver: runtime.cgroupDriver, rootDir: path.join(dataDir, 'kubelet') }, ac.signal);
    await kubelet.ready;
  } catch (e) {
    ac.abort();
    await runtime.stop();
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    kubelet,
    runtime,
    stop() {
      stopped ??= (async () => {
        signal.removeEventListener('abort', onAbort);
        ac.abort();
        await kubelet.done;
        await runtime.stop();
      })();
      return stopped;
    },
  };
}
