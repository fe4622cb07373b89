// `skiff reset`: undo what `skiff up` or `skiff agent` left on this machine for one
// cluster (kubeadm reset's job). Stop skiff first: reset does not stop running processes.
//
//   skiff reset [--name N] [--data-dir D]
//
// Both keep their node under <data-dir>/node; the node records the cluster name it named
// things after in node-state.json (an agent's comes from its kubeconfig), which wins over
// `skiff-<name>`.
//
// It removes, in order, and prints each thing it found and removed:
//   1. the node's pods and skiff's own containerd for the cluster (resetContainerd: pods
//      through the runtime when it answers, else their shims; mounts; state; images);
//   2. the kubelet's volume mounts (ServiceAccount token tmpfs, emptyDir Memory) under the data dir;
//   3. the pod network: CNI conflist, bridge, the node nft table, routes (teardownNodeNetwork,
//      with the ranges the node recorded in node-state.json, else the defaults);
//   4. the service proxy's nft table (resetProxy);
//   5. the pods' cgroup root (cgroupfs driver);
//   6. the data dir.
// Idempotent: a second run finds nothing and says so. Processes it touches are only the
// cluster's own containerd and its shims (found by the cluster's config and socket paths);
// an external containerd (--container-runtime-endpoint) is left alone.

import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Logger } from '../client/util.ts';
import { containerdLayout, detectCgroupDriver, resetContainerd } from '../kubelet/containerd/index.ts';
import { removeCgroup, unmountAll } from '../kubelet/containerd/reset.ts';
import { nodeNetworkNames, resolveNodeNetwork, teardownNodeNetwork } from '../kubelet/network/index.ts';
import { readNodeState } from '../kubelet/node.ts';
import { tableName } from '../proxy/proxier.ts';
import { resetProxy } from './proxy.ts';

export const RESET_USAGE = `skiff reset: remove what skiff up or skiff agent left on this machine for a cluster

Usage:
  skiff reset [--name NAME] [--data-dir DIR]

Stop skiff up / skiff agent first. Removes the node's pods and containerd, the pod network
(bridge, routes, nft table), the service proxy's nft table, and the data dir. Safe to run
twice. An existing containerd the node used (--container-runtime-endpoint) keeps running
with its pods.

Flags:
  --name NAME      the cluster (default "default")
  --data-dir DIR   its data dir (default ~/.local/share/skiff/NAME; skiff agent's: ~/.local/share/skiff/agent)
`;

export interface ResetNodeOptions {
  /** The cluster name the node was started with (`skiff-<name>` under skiff up), when it recorded none. */
  clusterName: string;
  /** The node's data dir (startRealNode's dataDir: `<data-dir>/node` under skiff up). */
  nodeDataDir: string;
  /** Used when the node recorded no state (it never got its network): skiff up's defaults. */
  clusterCIDR?: string;
  serviceCIDR?: string;
  log?: Logger;
}

/** A command's output, '' when it fails or is not installed (then nothing of ours can be in it). */
function output(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

function has(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Removes a node's footprint on this machine (not its data dir: the caller decides).
 * Returns what it found and removed, one line each. Idempotent.
 */
export async function resetNode(opts: ResetNodeOptions): Promise<string[]> {
  const log = opts.log ?? (() => {});
  const removed: string[] = [];
  const state = readNodeState(opts.nodeDataDir);
  const clusterName = state?.clusterName || opts.clusterName;

  // 1. pods and our containerd (an external runtime's pods stay: we did not start that runtime;
  //    but when the last run used one, an earlier run's own containerd may have left its root here)
  const layout = containerdLayout({ clusterName, dataDir: opts.nodeDataDir });
  if (state?.ownRuntime !== false || existsSync(layout.rootDir)) {
    // (its config stays with the data dir, which the caller removes)
    const present = [layout.runDir, layout.rootDir].filter((p) => existsSync(p));
    if (present.length) {
      await resetContainerd(layout, { removeRoot: true, log });
      removed.push(`containerd of ${clusterName} with its pods, state and images (${present.join(', ')})`);
    }
  }
  // 2. volume mounts of the kubelet
  const mounts = existsSync(opts.nodeDataDir) ? unmountAll([path.resolve(opts.nodeDataDir)]) : [];
  if (mounts.length) removed.push(`${mounts.length} volume mount(s) under ${opts.nodeDataDir}`);
  // 3. the pod network
  const names = nodeNetworkNames(clusterName);
  const clusterCIDR = state?.clusterCIDR ?? opts.clusterCIDR ?? '10.244.0.0/16';
  const serviceCIDR = state?.serviceCIDR ?? opts.serviceCIDR ?? '10.96.0.0/12';
  const bridge = has('ip', ['link', 'show', names.bridge]);
  const netTable = has('nft', ['list', 'table', 'inet', names.nftTable]);
  const routes = output('ip', ['route', 'show', 'table', 'all']).split('\n').filter((l) => {
    const m = / metric (\d+)/.exec(l);
    return m !== null && (Number(m[1]) === names.metric || Number(m[1]) === names.metric + 1);
  });
  const cniConfDir = state?.cniConfDir ?? containerdLayout({ clusterName, dataDir: opts.nodeDataDir }).cniConfDir;
  // teardown needs a podCIDR inside the cluster range only to name things; routes go by metric
  const podCIDR = state?.podCIDR || clusterCIDR.replace(/\/\d+$/, '/24');
  const spec = { clusterName, podCIDR, clusterCIDR, serviceCIDR, cniConfDir };
  const n = resolveNodeNetwork(spec);
  if (bridge || netTable || routes.length || existsSync(n.cniStateDir) || existsSync(n.conflistPath)) await teardownNodeNetwork({ ...spec, log });
  if (bridge) removed.push(`bridge ${names.bridge}`);
  if (netTable) removed.push(`nft table inet ${names.nftTable}`);
  for (const r of routes) removed.push(`route ${r.trim()}`);
  // 4. the service proxy's rules
  const proxyTable = tableName(clusterName);
  const proxyTables = output('nft', ['list', 'tables']).split('\n').filter((l) => l.trim().split(/\s+/).pop() === proxyTable);
  if (proxyTables.length) await resetProxy(clusterName);
  for (const t of proxyTables) removed.push(`nft ${t.trim()} (service proxy)`);
  // 5. the pods' cgroup root
  if (state?.nodeName && (state.cgroupDriver ?? detectCgroupDriver()) !== 'systemd') {
    const cg = `/skiff-${state.nodeName}`;
    const exists = existsSync(path.join('/sys/fs/cgroup', cg)) || (!existsSync('/sys/fs/cgroup/cgroup.controllers') && existsSync(path.join('/sys/fs/cgroup/memory', cg)));
    if (exists) {
      if (await removeCgroup(cg)) removed.push(`cgroup ${cg}`);
      else log('cgroup still busy', { cgroup: cg });
    }
  }
  return removed;
}

/** `skiff reset [--name N] [--data-dir D]`. */
export async function runResetCommand(argv: string[], defaultDataDir: (name: string) => string): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    allowPositionals: false,
    options: { name: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write(RESET_USAGE);
    return;
  }
  const name = values.name ?? 'default';
  const dataDir = path.resolve(values['data-dir'] ?? defaultDataDir(name));
  if (process.getuid?.() !== 0 && existsSync(path.join(dataDir, 'node'))) throw new Error('reset needs root to remove the node (containerd, network, nft tables): run it as root');
  const removed: string[] = [];
  if (process.getuid?.() === 0) removed.push(...(await resetNode({ clusterName: `skiff-${name}`, nodeDataDir: path.join(dataDir, 'node') })));
  if (existsSync(dataDir)) {
    rmSync(dataDir, { recursive: true, force: true });
    removed.push(`data dir ${dataDir}`);
  }
  if (!removed.length) process.stdout.write(`Nothing to remove for cluster ${name}\n`);
  for (const r of removed) process.stdout.write(`removed ${r}\n`);
}
