// Removing what a cluster's containerd put on the machine (`skiff reset`, test teardown):
// every pod sandbox through CRI, then containerd itself, any shim still serving its
// socket, every mount under its root and state dirs (overlay rootfs, sandbox /dev/shm,
// network namespaces), and the dirs. Idempotent: runs again after a partial failure.

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { CriClient } from '../cri/client.ts';
import type { CriRuntime } from '../cri/types.ts';
import type { ContainerdLayout } from './config.ts';
import type { Logger } from './supervisor.ts';
import { alive, cmdline, descendants, processesWith, waitGone } from './proc.ts';

export { processesWith } from './proc.ts';

/** Mount points at or below one of `dirs`, deepest first (from /proc/self/mountinfo). */
export function mountsUnder(dirs: string[]): string[] {
  const info = readFileSync('/proc/self/mountinfo', 'utf8');
  const points = info
    .split('\n')
    .filter(Boolean)
    // field 5 is the mount point, octal-escaped (\040 for a space)
    .map((line) => line.split(' ')[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => dirs.some((d) => p === d || p.startsWith(d + '/')));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Unmounts (lazily if busy) every mount under the dirs; returns what it unmounted. */
export function unmountAll(dirs: string[]): string[] {
  const done: string[] = [];
  for (const m of mountsUnder(dirs)) {
    try {
      execFileSync('umount', [m], { stdio: 'ignore' });
    } catch {
      try {
        execFileSync('umount', ['--lazy', m], { stdio: 'ignore' });
      } catch {
        continue;
      }
    }
    done.push(m);
  }
  return done;
}

/**
 * Removes a cgroup and the ones below it in every hierarchy (v1 controllers or the v2
 * unified one); resolves to whether it is gone. Only empty cgroups can go, and a process
 * killed a moment ago holds its cgroup until its parent reaps it, so this retries
 * (EBUSY) for up to `timeoutMs`.
 */
export async function removeCgroup(cgroupPath: string, opts: { root?: string; timeoutMs?: number } = {}): Promise<boolean> {
  const root = opts.root ?? '/sys/fs/cgroup';
  const rel = cgroupPath.replace(/^\/+/, '');
  if (!rel || rel.includes('..')) throw new Error(`refusing to remove cgroup ${JSON.stringify(cgroupPath)}`);
  const hierarchies = existsSync(path.join(root, 'cgroup.controllers')) ? [root] : readdirSync(root).map((d) => path.join(root, d));
  const removeTree = (dir: string): void => {
    for (const child of readdirSync(dir)) {
      const p = path.join(dir, child);
      try {
        if (statSync(p).isDirectory()) removeTree(p);
      } catch {}
    }
    try {
      rmdirSync(dir);
    } catch {}
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const left = hierarchies.map((h) => path.join(h, rel)).filter((d) => existsSync(d));
    for (const dir of left) removeTree(dir);
    if (left.every((d) => !existsSync(d))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Stops and removes every pod sandbox (and so every container) a runtime has. Call it
 * before stopping a supervised containerd whose pods should go too.
 */
export async function removeAllPods(cri: CriRuntime, log: Logger = () => {}): Promise<void> {
  for (const sb of await cri.listPodSandbox()) {
    await cri.stopPodSandbox(sb.id).catch((e) => log('stopPodSandbox failed', { id: sb.id, error: (e as Error).message }));
    await cri.removePodSandbox(sb.id).catch((e) => log('removePodSandbox failed', { id: sb.id, error: (e as Error).message }));
  }
}

export interface ResetOptions {
  /** Also delete the root dir (images, snapshots): what `skiff reset` does; a restart keeps it. */
  removeRoot?: boolean;
  /** Grace for containerd's SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
  log?: Logger;
}

export async function resetContainerd(layout: ContainerdLayout, opts: ResetOptions = {}): Promise<void> {
  const log = opts.log ?? (() => {});
  // 1. Pods, through the runtime while it still answers: stops the containers, tears down
  //    their network, unmounts their rootfs and shm, and ends their shims.
  if (existsSync(layout.socket)) {
    const cri = new CriClient(layout.endpoint, { timeoutMs: 30_000 });
    try {
      if (await cri.version({ timeoutMs: 1000 }).catch(() => undefined)) await removeAllPods(cri, log);
    } finally {
      cri.close();
    }
  }
  // 2. containerd itself.
  const pids = new Set<number>(processesWith(layout.configPath));
  try {
    const pid = Number(readFileSync(layout.pidFile, 'utf8').trim());
    if (pid && alive(pid) && cmdline(pid).includes(layout.configPath)) pids.add(pid);
  } catch {}
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
  for (const pid of pids) {
    if (!(await waitGone(pid, opts.stopTimeoutMs ?? 10_000))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
      await waitGone(pid, 5000);
    }
  }
  // 3. Shims still serving this containerd (when it could not remove the pods), with the
  //    containers they hold: a shim is the subreaper of its containers' processes.
  //    All are killed first and awaited together: a namespace's init can take seconds to exit.
  const doomed: number[] = [];
  for (const shim of processesWith(layout.socket)) {
    const tree = [...descendants(shim), shim];
    log('killing leftover shim and its containers', { pid: shim, processes: tree.length });
    for (const pid of tree) {
      try {
        process.kill(pid, 'SIGKILL');
        doomed.push(pid);
      } catch {}
    }
  }
  await Promise.all(doomed.map((pid) => waitGone(pid, 10_000)));
  // 4. Mounts, then the dirs.
  const dirs = [layout.stateDir, layout.rootDir];
  const unmounted = unmountAll(dirs);
  if (unmounted.length) log('unmounted', { count: unmounted.length });
  rmSync(layout.stateDir, { recursive: true, force: true });
  rmSync(layout.pidFile, { force: true });
  for (const dir of [layout.runDir, path.dirname(layout.runDir)]) {
    try {
      rmdirSync(dir); // only when empty: /run/skiff is shared by the clusters on this machine
    } catch {}
  }
  if (opts.removeRoot) rmSync(layout.rootDir, { recursive: true, force: true });
  const left = mountsUnder(dirs);
  if (left.length) throw new Error(`could not unmount: ${left.join(', ')}`);
}
