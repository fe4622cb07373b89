// Reading resource usage the way cadvisor does for the kubelet's Summary API: cgroup
// files (v1 and v2) for containers and pods, /proc for the node, statfs for filesystems.
// The parsers are pure (text in, numbers out) so the derivation rules are testable
// without a kernel; the readers only find and read the files.

import { existsSync, lstatSync, readdirSync, readFileSync, statfsSync, type Dirent, type Stats } from 'node:fs';
import path from 'node:path';

/** `key value` lines (cpu.stat, memory.stat, /proc/vmstat). */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out.set(k, Number(v));
  }
  return out;
}

/** /proc/meminfo: `Key:   123 kB` lines, in bytes. */
export function parseMeminfo(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([^:]+):\s+(\d+)(?:\s+kB)?/.exec(line);
    if (m) out.set(m[1], Number(m[2]) * (line.trimEnd().endsWith('kB') ? 1024 : 1));
  }
  return out;
}

/** /proc/stat's aggregate `cpu` line: busy time in nanoseconds (everything but idle and iowait). */
export function parseProcStatCpuNs(text: string, clockTicks = 100): number {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw new Error('/proc/stat has no aggregate cpu line');
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return Math.round((busy * 1e9) / clockTicks);
}

export interface InterfaceStats {
  name: string;
  rxBytes: number;
  rxErrors: number;
  txBytes: number;
  txErrors: number;
}

/** /proc/<pid>/net/dev: per interface counters of that process's network namespace. */
export function parseNetDev(text: string): InterfaceStats[] {
  const out: InterfaceStats[] = [];
  for (const line of text.split('\n').slice(2)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    const f = line.slice(i + 1).trim().split(/\s+/).map(Number);
    // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs ...
    out.push({ name, rxBytes: f[0], rxErrors: f[2], txBytes: f[8], txErrors: f[10] });
  }
  return out;
}

/**
 * /proc/<pid>/stat and /proc/<pid>/status of one process: CPU time (utime + stime) in
 * nanoseconds, resident memory (VmRSS) in bytes, and its start time in ms since boot.
 */
export function parseProcPid(statText: string, statusText: string, clockTicks = 100): { usageCoreNanoSeconds: number; rssBytes: number; startMsSinceBoot: number } {
  // The command (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
  const f = statText.slice(statText.lastIndexOf(')') + 2).trim().split(/\s+/);
  // f[0] is field 3 (state): utime is field 14, stime 15, starttime 22.
  const ticks = Number(f[11]) + Number(f[12]);
  const rss = /^VmRSS:\s+(\d+)\s+kB/m.exec(statusText);
  return { usageCoreNanoSeconds: Math.round((ticks * 1e9) / clockTicks), rssBytes: rss ? Number(rss[1]) * 1024 : 0, startMsSinceBoot: (Number(f[19]) * 1000) / clockTicks };
}

/** /proc/net/route: the interface of the default route (the node's "primary" interface). */
export function defaultRouteInterface(text: string): string | undefined {
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 2 && f[1] === '00000000' && f[7] === '00000000') return f[0];
  }
  return undefined;
}

/**
 * /proc/<pid>/cgroup: controller → path. v2 has one `0::/path` line (key ''); v1 has
 * `N:cpu,cpuacct:/path` lines (one key per controller).
 */
export function parseProcCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '') out.set('', m[2]);
    else for (const c of m[1].split(',')) out.set(c, m[2]);
  }
  return out;
}

/** One reading of a cgroup (container, pod or system container). */
export interface CgroupSample {
  /** ms since the epoch. */
  time: number;
  usageCoreNanoSeconds?: number;
  memory?: {
    usageBytes: number;
    workingSetBytes: number;
    rssBytes?: number;
    pageFaults?: number;
    majorPageFaults?: number;
    /** The memory limit, when one is set. */
    limitBytes?: number;
  };
  processCount?: number;
}

/** Limits at or above this are "no limit" (v1 reports PAGE_COUNTER_MAX rounded to pages). */
const NO_LIMIT = 2 ** 60;

/**
 * The working set as cadvisor and the kubelet define it: usage minus inactive file pages
 * (page cache the kernel can drop first), never below zero. The OOM killer and eviction
 * act on this figure, not on usage.
 */
export function workingSet(usageBytes: number, inactiveFileBytes: number): number {
  return Math.max(0, usageBytes - inactiveFileBytes);
}

/** cgroup v2 files → a sample. Missing files leave their fields out. */
export function cgroupV2Sample(files: { cpuStat?: string; memoryCurrent?: string; memoryStat?: string; memoryMax?: string; procs?: string }, time: number): CgroupSample {
  const s: CgroupSample = { time };
  const cpu = files.cpuStat === undefined ? undefined : parseKeyValues(files.cpuStat).get('usage_usec');
  if (cpu !== undefined) s.usageCoreNanoSeconds = cpu * 1000;
  if (files.memoryCurrent !== undefined) {
    const usage = Number(files.memoryCurrent.trim());
    const st = parseKeyValues(files.memoryStat ?? '');
    const max = files.memoryMax?.trim();
    s.memory = {
      usageBytes: usage,
      workingSetBytes: workingSet(usage, st.get('inactive_file') ?? 0),
      rssBytes: st.get('anon'),
      pageFaults: st.get('pgfault'),
      majorPageFaults: st.get('pgmajfault'),
      limitBytes: max && max !== 'max' && Number(max) < NO_LIMIT ? Number(max) : undefined,
    };
  }
  if (files.procs !== undefined) s.processCount = files.procs.split('\n').filter((l) => l.trim()).length;
  return s;
}

/** cgroup v1 files (cpuacct and memory controllers) → a sample; hierarchical (total_*) figures. */
export function cgroupV1Sample(files: { cpuacctUsage?: string; memoryUsage?: string; memoryStat?: string; memoryLimit?: string; procs?: string }, time: number): CgroupSample {
  const s: CgroupSample = { time };
  if (files.cpuacctUsage !== undefined) s.usageCoreNanoSeconds = Number(files.cpuacctUsage.trim());
  if (files.memoryUsage !== undefined) {
    const usage = Number(files.memoryUsage.trim());
    const st = parseKeyValues(files.memoryStat ?? '');
    const limit = Number(files.memoryLimit?.trim() ?? NaN);
    s.memory = {
      usageBytes: usage,
      workingSetBytes: workingSet(usage, st.get('total_inactive_file') ?? 0),
      rssBytes: st.get('total_rss'),
      pageFaults: st.get('total_pgfault'),
      majorPageFaults: st.get('total_pgmajfault'),
      limitBytes: Number.isFinite(limit) && limit < NO_LIMIT ? limit : undefined,
    };
  }
  if (files.procs !== undefined) s.processCount = files.procs.split('\n').filter((l) => l.trim()).length;
  return s;
}

/**
 * CPU usage rate in nano-cores between two cumulative readings (cadvisor's rule):
 * undefined without an earlier reading, when time did not advance, or when the counter
 * went backwards (a new cgroup under the same key).
 */
export function usageNanoCores(prev: { time: number; usageCoreNanoSeconds?: number } | undefined, cur: { time: number; usageCoreNanoSeconds?: number }): number | undefined {
  if (!prev || prev.usageCoreNanoSeconds === undefined || cur.usageCoreNanoSeconds === undefined) return undefined;
  const dtNs = (cur.time - prev.time) * 1e6;
  const du = cur.usageCoreNanoSeconds - prev.usageCoreNanoSeconds;
  if (dtNs <= 0 || du < 0) return undefined;
  return Math.round((du / dtNs) * 1e9);
}

/**
 * Per-key history of CPU readings for usageNanoCores: keeps the readings of the last
 * minute and, asked for a rate, uses the newest one at least `minGapMs` older than the
 * current reading (so a request right after housekeeping still spans a real interval).
 */
export class CpuSampleCache {
  readonly #samples = new Map<string, { time: number; usageCoreNanoSeconds: number }[]>();
  readonly #minGapMs: number;

  constructor(opts: { minGapMs?: number } = {}) {
    this.#minGapMs = opts.minGapMs ?? 1000;
  }

  record(key: string, s: { time: number; usageCoreNanoSeconds?: number }): void {
    if (s.usageCoreNanoSeconds === undefined) return;
    const list = this.#samples.get(key) ?? [];
    // A counter that went backwards is a new cgroup: forget the old one's readings.
    if (list.length && list[list.length - 1].usageCoreNanoSeconds > s.usageCoreNanoSeconds) list.length = 0;
    list.push({ time: s.time, usageCoreNanoSeconds: s.usageCoreNanoSeconds });
    while (list.length > 2 && s.time - list[0].time > 60_000) list.shift();
    this.#samples.set(key, list);
  }

  rate(key: string, cur: { time: number; usageCoreNanoSeconds?: number }): number | undefined {
    const list = this.#samples.get(key) ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      if (cur.time - list[i].time >= this.#minGapMs) return usageNanoCores(list[i], cur);
    }
    return undefined;
  }

  /** Drops the keys not in `live` (containers and pods that are gone). */
  retain(live: Set<string>): void {
    for (const k of this.#samples.keys()) if (!live.has(k)) this.#samples.delete(k);
  }

  get size(): number {
    return this.#samples.size;
  }
}

function readOpt(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Where cgroups are mounted and which version: v2 when /sys/fs/cgroup is the unified hierarchy. */
export interface CgroupFs {
  version: 'v1' | 'v2';
  root: string;
}

export function detectCgroupFs(root = '/sys/fs/cgroup'): CgroupFs {
  return { version: existsSync(path.join(root, 'cgroup.controllers')) ? 'v2' : 'v1', root };
}

/** The v1 mount dir of a controller (`cpuacct` may be co-mounted as `cpu,cpuacct`). */
function v1Dir(fs: CgroupFs, controller: string): string | undefined {
  const direct = path.join(fs.root, controller);
  if (existsSync(direct)) return direct;
  try {
    const co = readdirSync(fs.root).find((d) => d.split(',').includes(controller));
    return co ? path.join(fs.root, co) : undefined;
  } catch {
    return undefined;
  }
}

/** cgroup.procs of a cgroup and of every cgroup below it (processes live in the leaves). */
function procsRecursive(dir: string, depth = 0): string | undefined {
  const own = readOpt(path.join(dir, 'cgroup.procs'));
  if (own === undefined) return undefined;
  let all = own;
  if (depth < 8) {
    try {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) all += '\n' + (procsRecursive(path.join(dir, e.name), depth + 1) ?? '');
      }
    } catch {
      // raced with the cgroup's removal
    }
  }
  return all;
}

/** The cgroup paths of a process (controller → path), or undefined when it is gone. */
export function processCgroups(pid: number): Map<string, string> | undefined {
  const text = readOpt(`/proc/${pid}/cgroup`);
  return text === undefined ? undefined : parseProcCgroup(text);
}

/**
 * Reads a cgroup given its paths per controller (as /proc/<pid>/cgroup names them).
 * Undefined when the cgroup no longer exists.
 */
export function readCgroup(fs: CgroupFs, paths: Map<string, string>, time = Date.now()): CgroupSample | undefined {
  if (fs.version === 'v2') {
    const p = paths.get('');
    if (p === undefined) return undefined;
    const dir = path.join(fs.root, p);
    const files = {
      cpuStat: readOpt(path.join(dir, 'cpu.stat')),
      memoryCurrent: readOpt(path.join(dir, 'memory.current')),
      memoryStat: readOpt(path.join(dir, 'memory.stat')),
      memoryMax: readOpt(path.join(dir, 'memory.max')),
      procs: procsRecursive(dir),
    };
    if (files.cpuStat === undefined && files.memoryCurrent === undefined) return undefined;
    return cgroupV2Sample(files, time);
  }
  const cpuPath = paths.get('cpuacct');
  const memPath = paths.get('memory');
  const cpuDir = cpuPath !== undefined ? v1Dir(fs, 'cpuacct') : undefined;
  const memDir = memPath !== undefined ? v1Dir(fs, 'memory') : undefined;
  const pidsPath = paths.get('pids') ?? memPath;
  const pidsDir = paths.get('pids') !== undefined ? v1Dir(fs, 'pids') : memDir;
  const files = {
    cpuacctUsage: cpuDir ? readOpt(path.join(cpuDir, cpuPath!, 'cpuacct.usage')) : undefined,
    memoryUsage: memDir ? readOpt(path.join(memDir, memPath!, 'memory.usage_in_bytes')) : undefined,
    memoryStat: memDir ? readOpt(path.join(memDir, memPath!, 'memory.stat')) : undefined,
    memoryLimit: memDir ? readOpt(path.join(memDir, memPath!, 'memory.limit_in_bytes')) : undefined,
    procs: pidsDir && pidsPath !== undefined ? procsRecursive(path.join(pidsDir, pidsPath)) : undefined,
  };
  if (files.cpuacctUsage === undefined && files.memoryUsage === undefined) return undefined;
  return cgroupV1Sample(files, time);
}

/** The parent cgroup of every controller's path (a container's → its pod's). */
export function parentCgroup(paths: Map<string, string>): Map<string, string> {
  return new Map([...paths].map(([c, p]) => [c, path.posix.dirname(p)]));
}

export interface FsStats {
  time: string;
  availableBytes: number;
  capacityBytes: number;
  usedBytes: number;
  inodesFree: number;
  inodes: number;
  inodesUsed: number;
}

/** The filesystem holding `dir`, as the Summary API reports it. Undefined when `dir` is gone. */
export function statFs(dir: string, time: string): FsStats | undefined {
  try {
    const s = statfsSync(dir);
    return {
      time,
      availableBytes: s.bavail * s.bsize,
      capacityBytes: s.blocks * s.bsize,
      usedBytes: (s.blocks - s.bfree) * s.bsize,
      inodesFree: s.ffree,
      inodes: s.files,
      inodesUsed: s.files - s.ffree,
    };
  } catch {
    return undefined;
  }
}

const TMPFS_MAGIC = 0x01021994;

/** Whether `dir` is on a memory-backed filesystem (tmpfs): such volumes are not ephemeral storage. */
export function onTmpfs(dir: string): boolean {
  try {
    return Number(statfsSync(dir).type) === TMPFS_MAGIC;
  } catch {
    return false;
  }
}

/** Bytes (allocated blocks) and inodes used under `dir`, as `du` counts them; hard links once. */
export function diskUsage(dir: string): { usedBytes: number; inodesUsed: number } {
  let usedBytes = 0;
  let inodesUsed = 0;
  const seen = new Set<string>();
  const walk = (d: string, depth: number) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = path.join(d, e.name);
      let st: Stats;
      try {
        st = lstatSync(full);
      } catch {
        continue;
      }
      const id = `${st.dev}:${st.ino}`;
      if (seen.has(id)) continue;
      seen.add(id);
      inodesUsed++;
      usedBytes += st.blocks * 512;
      if (e.isDirectory() && depth < 64) walk(full, depth + 1);
    }
  };
  walk(dir, 0);
  return { usedBytes, inodesUsed };
}
