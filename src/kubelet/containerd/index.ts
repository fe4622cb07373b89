// A node's container runtime, ready for pods: either an existing containerd
// (--container-runtime-endpoint) or the cluster's own (supervised), then the airgap
// images of <data-dir>/images/ imported and the sandbox image in place.
//
//   const rt = await startRuntime({ clusterName, dataDir, log }, signal);
//   await rt.cri.runPodSandbox(...);
//   await rt.stop();            // own containerd stopped; pods keep running (reset.ts removes them)

import { CriClient, waitForRuntime } from '../cri/client.ts';
import type { VersionResponse } from '../cri/types.ts';
import { importAirgapImages } from '../images/import.ts';
import { DEFAULT_PAUSE_IMAGE } from '../images/pause.ts';
import { ensureSandboxImage } from '../images/sandbox.ts';
import { containerdLayout, detectCgroupDriver, type CgroupDriver, type ContainerdLayout, type RegistryMirror } from './config.ts';
import { ContainerdSupervisor, type Logger } from './supervisor.ts';

export { ContainerdSupervisor } from './supervisor.ts';
export { containerdLayout, detectCgroupDriver, type ContainerdLayout, type CgroupDriver, type RegistryMirror } from './config.ts';
export { resetContainerd } from './reset.ts';

export interface RuntimeOptions {
  clusterName: string;
  dataDir: string;
  /** Use this containerd (`unix:///run/containerd/containerd.sock`) instead of starting one. */
  containerRuntimeEndpoint?: string;
  /** Sandbox image of our own containerd (skiff's pause image unless given). */
  sandboxImage?: string;
  /** Registry mirrors and credentials for our own containerd (hosts.toml per registry host). */
  registries?: Record<string, RegistryMirror[]>;
  /** Where our own containerd's socket and state go (default /run/skiff). */
  runRoot?: string;
  readyTimeoutMs?: number;
  log?: Logger;
}

export interface NodeRuntime {
  cri: CriClient;
  endpoint: string;
  version: VersionResponse;
  /** The runtime's sandbox image, present in it. */
  sandboxImage: string;
  /** The cgroup driver the runtime uses: the kubelet's cgroup parents must follow it. */
  cgroupDriver: CgroupDriver;
  /** Set when skiff runs this containerd. */
  supervisor?: ContainerdSupervisor;
  layout?: ContainerdLayout;
  /** Stops our own containerd (not an external one) and closes the client. Idempotent. */
  stop(): Promise<void>;
}

function socketOf(endpoint: string): string {
  return endpoint.replace(/^unix:\/\//, '').replace(/^unix:/, '');
}

/** What an existing containerd's CRI plugin is configured with (Status verbose info). */
async function externalConfig(cri: CriClient): Promise<{ sandboxImage?: string; cgroupDriver?: CgroupDriver }> {
  try {
    const { info } = await cri.status({ verbose: true });
    const cfg = JSON.parse(info.config ?? '{}');
    const runtimeName = cfg.containerd?.defaultRuntimeName ?? 'runc';
    const systemd = cfg.containerd?.runtimes?.[runtimeName]?.options?.SystemdCgroup;
    return { sandboxImage: cfg.sandboxImage, cgroupDriver: systemd === undefined ? undefined : systemd ? 'systemd' : 'cgroupfs' };
  } catch {
    return {};
  }
}

export async function startRuntime(opts: RuntimeOptions, signal?: AbortSignal): Promise<NodeRuntime> {
  const log = opts.log ?? (() => {});
  let supervisor: ContainerdSupervisor | undefined;
  let layout: ContainerdLayout | undefined;
  let endpoint: string;
  let cri: CriClient;
  let version: VersionResponse;
  let sandboxImage: string;
  let cgroupDriver: CgroupDriver;
  if (opts.containerRuntimeEndpoint) {
    endpoint = opts.containerRuntimeEndpoint;
    cri = new CriClient(endpoint);
    version = await waitForRuntime(cri, { timeoutMs: opts.readyTimeoutMs ?? 30_000, signal });
    const cfg = await externalConfig(cri);
    sandboxImage = cfg.sandboxImage ?? DEFAULT_PAUSE_IMAGE;
    cgroupDriver = cfg.cgroupDriver ?? detectCgroupDriver();
    log('using existing container runtime', { endpoint, runtime: `${version.runtimeName} ${version.runtimeVersion}`, sandboxImage, cgroupDriver });
  } else {
    layout = containerdLayout({ clusterName: opts.clusterName, dataDir: opts.dataDir, runRoot: opts.runRoot });
    supervisor = new ContainerdSupervisor({ layout, sandboxImage: opts.sandboxImage, registries: opts.registries, readyTimeoutMs: opts.readyTimeoutMs, log });
    version = await supervisor.start(signal);
    endpoint = layout.endpoint;
    cri = new CriClient(endpoint);
    sandboxImage = supervisor.sandboxImage;
    cgroupDriver = supervisor.cgroupDriver;
  }
  let stopped = false;
  const runtime: NodeRuntime = {
    cri, endpoint, version, sandboxImage, cgroupDriver, supervisor, layout,
    async stop() {
      if (stopped) return;
      stopped = true;
      cri.close();
      await supervisor?.stop();
    },
  };
  try {
    await importAirgapImages(opts.dataDir, { address: socketOf(endpoint), log, signal });
    const sb = await ensureSandboxImage(cri, { image: sandboxImage, address: socketOf(endpoint), log, signal });
    if (sb.action === 'external') log('sandbox image not present; the runtime will pull it', { image: sb.image });
  } catch (e) {
    await runtime.stop();
    throw e;
  }
  return runtime;
}
