// What a node needs from the machine to run real containers, checked one by one so that
// `skiff doctor` (and any component failing to start) can say exactly what to install.
// Checks only read or try harmless things (a throw-away network namespace); nothing is
// installed or changed.

import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { detectCgroupDriver, detectCgroupVersion, hasCapability } from './config.ts';
import { staticBusybox } from '../images/pause.ts';

export const INSTALL_HINT = 'apt-get install -y containerd runc containernetworking-plugins nftables';

/** The CNI plugins a node's pod network uses (bridge + host-local IPAM, portmap for hostPort, loopback). */
export const CNI_PLUGINS = ['bridge', 'host-local', 'portmap', 'loopback'] as const;
export const CNI_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  /** Debian packages that fix a failed or warned check. */
  packages?: string[];
}

/** An executable on PATH (plus the sbin dirs root's PATH has), or undefined. */
export function findExecutable(name: string, envPath = process.env.PATH ?? ''): string | undefined {
  const dirs = [...envPath.split(':'), '/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, name);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {}
  }
  return undefined;
}

function firstLine(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5000 }).split('\n')[0].trim();
  } catch {
    return undefined;
  }
}

function binary(name: string, pkg: string, versionArgs: string[] | undefined, why: string): Check {
  const p = findExecutable(name);
  if (!p) return { name, status: 'fail', detail: `not found (${why})`, packages: [pkg] };
  const v = versionArgs ? firstLine(p, versionArgs) : undefined;
  return { name, status: 'ok', detail: v ? `${p}: ${v}` : p };
}

function containerdCheck(): Check {
  const c = binary('containerd', 'containerd', ['--version'], 'the container runtime');
  if (c.status !== 'ok') return c;
  // CRI v1 (runtime.v1) arrived in containerd 1.5; 1.6 is the oldest supported with Kubernetes 1.26+.
  const m = /\s v?(\d+)\.(\d+)\.\d+/.exec(c.detail);
  if (m && (Number(m[1]) < 1 || (Number(m[1]) === 1 && Number(m[2]) < 6))) {
    return { ...c, status: 'fail', detail: `${c.detail}: containerd 1.6 or newer is needed (CRI v1)`, packages: ['containerd'] };
  }
  return c;
}

function cniCheck(): Check {
  const dir = CNI_BIN_DIRS.find((d) => CNI_PLUGINS.every((p) => existsSync(path.join(d, p))));
  if (dir) return { name: 'cni plugins', status: 'ok', detail: `${CNI_PLUGINS.join(', ')} in ${dir}` };
  const missing = CNI_PLUGINS.filter((p) => !existsSync(path.join(CNI_BIN_DIRS[0], p)));
  return { name: 'cni plugins', status: 'fail', detail: `missing in ${CNI_BIN_DIRS[0]}: ${missing.join(', ')}`, packages: ['containernetworking-plugins'] };
}

function cgroupCheck(root: string): Check {
  const version = detectCgroupVersion(root);
  const driver = detectCgroupDriver(root);
  if (version === 'v2') return { name: 'cgroups', status: 'ok', detail: `v2 (unified), driver ${driver}` };
  return {
    name: 'cgroups',
    status: 'warn',
    detail: `v1 (legacy or hybrid), driver ${driver}: containers run, but Kubernetes keeps cgroup v1 in maintenance mode; boot with systemd.unified_cgroup_hierarchy=1 for v2`,
  };
}

function ipForwardCheck(root: string): Check {
  const file = path.join(root, 'proc/sys/net/ipv4/ip_forward');
  let value: string;
  try {
    value = readFileSync(file, 'utf8').trim();
  } catch {
    return { name: 'ip forwarding', status: 'fail', detail: `${file} is not readable` };
  }
  if (value === '1') return { name: 'ip forwarding', status: 'ok', detail: 'net.ipv4.ip_forward=1' };
  try {
    accessSync(file, constants.W_OK);
    return { name: 'ip forwarding', status: 'ok', detail: 'net.ipv4.ip_forward=0, writable: pod traffic needs it on (sysctl -w net.ipv4.ip_forward=1)' };
  } catch {
    return { name: 'ip forwarding', status: 'fail', detail: 'net.ipv4.ip_forward=0 and not writable: run `sysctl -w net.ipv4.ip_forward=1` as root' };
  }
}

/** Tries what pods need: a new network namespace (unshare from util-linux). */
function netnsCheck(): Check {
  if (process.getuid?.() !== 0) return { name: 'network namespaces', status: 'fail', detail: 'needs root' };
  const r = spawnSync('unshare', ['--net', '--mount', '--', 'true'], { stdio: 'ignore', timeout: 5000 });
  if (r.error) return { name: 'network namespaces', status: 'warn', detail: `could not try: ${r.error.message}`, packages: ['util-linux'] };
  return r.status === 0
    ? { name: 'network namespaces', status: 'ok', detail: 'can create network and mount namespaces' }
    : { name: 'network namespaces', status: 'fail', detail: 'unshare --net failed: this machine does not allow new network namespaces' };
}

function overlayCheck(root: string): Check {
  try {
    if (/\toverlay$/m.test(readFileSync(path.join(root, 'proc/filesystems'), 'utf8'))) return { name: 'overlayfs', status: 'ok', detail: 'available' };
  } catch {}
  return { name: 'overlayfs', status: 'fail', detail: 'the kernel has no overlay filesystem (containerd\'s snapshotter): modprobe overlay' };
}

function pauseCheck(): Check {
  if (findExecutable('gcc') && firstLine('gcc', ['--version'])) {
    return { name: 'pause image', status: 'ok', detail: 'built by skiff with gcc -static (static-c)' };
  }
  if (staticBusybox()) return { name: 'pause image', status: 'ok', detail: 'built by skiff from busybox-static (busybox-sh: a shell loop as PID 1)' };
  return {
    name: 'pause image',
    status: 'warn',
    detail: 'skiff cannot build its sandbox image: install gcc and libc6-dev (or busybox-static), or put a pause image archive into <data-dir>/images/',
    packages: ['gcc', 'libc6-dev'],
  };
}

function oomCheck(): Check {
  try {
    return hasCapability(24)
      ? { name: 'oom score', status: 'ok', detail: 'CAP_SYS_RESOURCE held: pods get upstream\'s oom_score_adj values' }
      : { name: 'oom score', status: 'warn', detail: 'no CAP_SYS_RESOURCE (sandboxed machine): containerd runs with restrict_oom_score_adj, pods cannot be scored below skiff' };
  } catch {
    return { name: 'oom score', status: 'warn', detail: 'cannot read /proc/self/status' };
  }
}

/** Every check, in the order a person would fix them. */
export function checkPrerequisites(opts: { root?: string } = {}): Check[] {
  const root = opts.root ?? '/';
  return [
    process.getuid?.() === 0
      ? { name: 'root', status: 'ok', detail: 'running as root' }
      : { name: 'root', status: 'fail', detail: 'containers need root: run skiff with sudo' },
    containerdCheck(),
    binary('ctr', 'containerd', undefined, 'imports image archives; ships with containerd'),
    binary('containerd-shim-runc-v2', 'containerd', undefined, 'the runc shim; ships with containerd'),
    binary('runc', 'runc', ['--version'], 'the OCI runtime'),
    cniCheck(),
    binary('nft', 'nftables', ['--version'], 'Service rules'),
    binary('ip', 'iproute2', ['-V'], 'pod network setup'),
    overlayCheck(root),
    cgroupCheck(root),
    ipForwardCheck(root),
    netnsCheck(),
    oomCheck(),
    pauseCheck(),
  ];
}

/** `apt-get install -y ...` for every package a failed or warned check names, or undefined. */
export function installCommand(checks: Check[]): string | undefined {
  const pkgs = [...new Set(checks.filter((c) => c.status !== 'ok').flatMap((c) => c.packages ?? []))];
  return pkgs.length ? `apt-get install -y ${pkgs.join(' ')}` : undefined;
}

/** The checks a component that runs containers cannot do without (failures only). */
export function missingForContainers(checks: Check[] = checkPrerequisites()): Check[] {
  const needed = new Set(['root', 'containerd', 'ctr', 'containerd-shim-runc-v2', 'runc', 'overlayfs', 'network namespaces']);
  return checks.filter((c) => needed.has(c.name) && c.status === 'fail');
}
