// The kubelet's Summary API (GET /stats/summary, k8s.io/kubelet/pkg/apis/stats/v1alpha1):
// node, system containers and per-pod/per-container usage, as metrics-server and
// `kubectl top` read it (through /metrics/resource, which is derived from the same figures).
//
// Sources: cgroup files of each container (found through /proc/<pid>/cgroup of its init
// process, so it works whatever the runtime's cgroup driver and whichever cgroup
// version), the pod's cgroup (the containers' parent when it is a pod<uid> cgroup, else
// the sum of its containers), the pod sandbox's network namespace (/proc/<pid>/net/dev),
// /proc for the node, statfs for filesystems, and CRI ListContainerStats / ImageFsInfo for
// the writable layers and the image filesystem. usageNanoCores needs two readings: a
// housekeeping timer (every 10 s, only while pods run here) records one per cgroup, as
// cadvisor's housekeeping does.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { KObject } from '../../api/object.ts';
import type { CriClient } from '../cri/client.ts';
import {
  CpuSampleCache,
  defaultRouteInterface,
  detectCgroupFs,
  diskUsage,
  onTmpfs,
  parentCgroup,
  parseKeyValues,
  parseMeminfo,
  parseNetDev,
  parseProcPid,
  parseProcStatCpuNs,
  processCgroups,
  readCgroup,
  statFs,
  type CgroupFs,
  type CgroupSample,
  type FsStats,
  type InterfaceStats,
} from './cgroup.ts';

export interface CPUStats {
  time: string;
  usageNanoCores?: number;
  usageCoreNanoSeconds?: number;
}

export interface MemoryStats {
  time: string;
  availableBytes?: number;
  usageBytes?: number;
  workingSetBytes?: number;
  rssBytes?: number;
  pageFaults?: number;
  majorPageFaults?: number;
}

export interface NetworkStats extends Partial<InterfaceStats> {
  time: string;
  interfaces?: InterfaceStats[];
}

export interface ContainerStats {
  name: string;
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
  rootfs?: FsStats;
  logs?: FsStats;
}

export interface VolumeStats extends FsStats {
  name: string;
}

export interface PodStats {
  podRef: { name: string; namespace: string; uid: string };
  startTime: string;
  containers: ContainerStats[];
  cpu?: CPUStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  volume?: VolumeStats[];
  'ephemeral-storage'?: FsStats;
  process_stats?: { process_count: number };
}

export interface NodeStats {
  nodeName: string;
  systemContainers?: ContainerStats[];
  startTime: string;
  cpu?: CPUStats;
  memory?: MemoryStats;
  network?: NetworkStats;
  fs?: FsStats;
  runtime?: { imageFs?: FsStats; containerFs?: FsStats };
  rlimit?: { time: string; maxpid?: number; curproc?: number };
}

export interface Summary {
  node: NodeStats;
  pods: PodStats[];
}

/** What the provider needs from the kubelet: its pods and their runtime ids. */
export interface StatsPodSource {
  listPods?(): KObject[];
  containerID(pod: KObject, container: string): string | undefined;
  sandboxID?(pod: KObject): string | undefined;
  runtime: CriClient;
}

export interface SummaryProviderOptions {
  nodeName: string;
  /** The kubelet's root dir: node fs, pod logs (<root>/pods), volumes (<root>/volumes). */
  rootDir: string;
  pods: StatsPodSource;
  /** Housekeeping interval (default 10 s). */
  housekeepingMs?: number;
  /** The container runtime's pid when known (skiff's own containerd): the "runtime" system container. */
  runtimePid?: () => number | undefined;
  cgroupFs?: CgroupFs;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

function readOpt(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

const PLUGIN_VOLUME_KINDS = new Set(['emptyDir', 'configMap', 'secret', 'projected', 'downwardAPI']);

/** The init process pid in a CRI verbose status (containerd puts it in info.info's JSON). */
function verbosePid(info: Record<string, string> | undefined): number | undefined {
  const raw = info?.info;
  if (!raw) return undefined;
  try {
    const pid = (JSON.parse(raw) as { pid?: number }).pid;
    return typeof pid === 'number' && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export class SummaryProvider {
  readonly #o: SummaryProviderOptions;
  readonly #cg: CgroupFs;
  readonly #cpu = new CpuSampleCache();
  /** runtime id → its init pid and cgroup paths (fixed for the container's life). */
  readonly #procs = new Map<string, { pid: number; cgroups: Map<string, string> }>();
  readonly #startTime = Date.now();
  #bootTimeMs: number | undefined;

  constructor(opts: SummaryProviderOptions) {
    this.#o = opts;
    this.#cg = opts.cgroupFs ?? detectCgroupFs();
  }

  /** Records CPU readings every housekeeping interval while pods run on the node. */
  start(signal: AbortSignal): void {
    const t = setInterval(() => {
      if (!(this.#o.pods.listPods?.().length ?? 0)) return;
      this.summary({ onlyCpuAndMemory: true }).catch((e) => this.#o.log?.('stats housekeeping failed', { error: String(e) }));
    }, this.#o.housekeepingMs ?? 10_000);
    t.unref();
    signal.addEventListener('abort', () => clearInterval(t), { once: true });
  }

  async #process(id: string, kind: 'container' | 'sandbox'): Promise<{ pid: number; cgroups: Map<string, string> } | undefined> {
    const cached = this.#procs.get(id);
    if (cached) return cached;
    const rt = this.#o.pods.runtime;
    const st = await (kind === 'container' ? rt.containerStatus(id, { verbose: true, timeoutMs: 5000 }) : rt.podSandboxStatus(id, { verbose: true, timeoutMs: 5000 })).catch(() => undefined);
    const pid = verbosePid(st?.info);
    const cgroups = pid ? processCgroups(pid) : undefined;
    if (!pid || !cgroups) return undefined;
    const p = { pid, cgroups };
    this.#procs.set(id, p);
    return p;
  }

  #cpuStats(key: string, s: CgroupSample): CPUStats | undefined {
    if (s.usageCoreNanoSeconds === undefined) return undefined;
    const out: CPUStats = { time: rfc3339(s.time), usageNanoCores: this.#cpu.rate(key, s), usageCoreNanoSeconds: s.usageCoreNanoSeconds };
    this.#cpu.record(key, s);
    if (out.usageNanoCores === undefined) delete out.usageNanoCores;
    return out;
  }

  #memStats(s: CgroupSample): MemoryStats | undefined {
    const m = s.memory;
    if (!m) return undefined;
    const out: MemoryStats = { time: rfc3339(s.time), usageBytes: m.usageBytes, workingSetBytes: m.workingSetBytes, rssBytes: m.rssBytes, pageFaults: m.pageFaults, majorPageFaults: m.majorPageFaults };
    // As upstream: available only under a limit (limit − working set).
    if (m.limitBytes !== undefined) out.availableBytes = Math.max(0, m.limitBytes - m.workingSetBytes);
    for (const k of Object.keys(out) as (keyof MemoryStats)[]) if (out[k] === undefined) delete out[k];
    return out;
  }

  #bootTime(): number {
    if (this.#bootTimeMs === undefined) {
      const btime = /^btime\s+(\d+)/m.exec(readOpt('/proc/stat') ?? '');
      this.#bootTimeMs = btime ? Number(btime[1]) * 1000 : this.#startTime;
    }
    return this.#bootTimeMs;
  }

  #nodeStats(now: number, onlyCpuAndMemory: boolean, imageFs: FsStats | undefined): NodeStats {
    const time = rfc3339(now);
    const node: NodeStats = { nodeName: this.#o.nodeName, startTime: rfc3339(this.#bootTime()) };
    const procStat = readOpt('/proc/stat');
    if (procStat) node.cpu = this.#cpuStats('node', { time: now, usageCoreNanoSeconds: parseProcStatCpuNs(procStat) });
    const mi = parseMeminfo(readOpt('/proc/meminfo') ?? '');
    const total = mi.get('MemTotal');
    if (total !== undefined) {
      const usage = total - (mi.get('MemFree') ?? 0);
      const ws = Math.max(0, usage - (mi.get('Inactive(file)') ?? 0));
      const vm = parseKeyValues(readOpt('/proc/vmstat') ?? '');
      node.memory = { time, availableBytes: Math.max(0, total - ws), usageBytes: usage, workingSetBytes: ws, rssBytes: mi.get('AnonPages'), pageFaults: vm.get('pgfault'), majorPageFaults: vm.get('pgmajfault') };
    }
    if (onlyCpuAndMemory) return node;
    // The machine's own interfaces: not lo, bridges, veths or other virtual devices (pods' ends included).
    const all = parseNetDev(readOpt('/proc/net/dev') ?? '').filter((i) => i.name !== 'lo');
    const physical = all.filter((i) => existsSync(`/sys/class/net/${i.name}/device`));
    const ifaces = physical.length ? physical : all;
    if (ifaces.length) {
      const dflt = defaultRouteInterface(readOpt('/proc/net/route') ?? '');
      const main = ifaces.find((i) => i.name === dflt) ?? ifaces[0];
      node.network = { time, ...main, interfaces: ifaces };
    }
    node.fs = statFs(this.#o.rootDir, time);
    if (imageFs) node.runtime = { imageFs, containerFs: imageFs };
    const maxpid = Number(readOpt('/proc/sys/kernel/pid_max')?.trim());
    let curproc: number | undefined;
    try {
      curproc = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).length;
    } catch {
      curproc = undefined;
    }
    node.rlimit = { time, maxpid: Number.isFinite(maxpid) ? maxpid : undefined, curproc };
    return node;
  }

  /** The kubelet's own usage (this process), the "kubelet" system container. */
  #kubeletStats(now: number): ContainerStats {
    const u = process.cpuUsage();
    const mem = process.memoryUsage();
    return {
      name: 'kubelet',
      startTime: rfc3339(this.#startTime),
      cpu: this.#cpuStats('sys/kubelet', { time: now, usageCoreNanoSeconds: (u.user + u.system) * 1000 }),
      memory: { time: rfc3339(now), usageBytes: mem.rss, workingSetBytes: mem.rss, rssBytes: mem.rss },
    };
  }

  /** The runtime's process (containerd itself; its shims are per pod), the "runtime" system container. */
  #runtimeStats(now: number): ContainerStats | undefined {
    const pid = this.#o.runtimePid?.();
    const stat = pid ? readOpt(`/proc/${pid}/stat`) : undefined;
    const status = pid ? readOpt(`/proc/${pid}/status`) : undefined;
    if (!stat || !status) return undefined;
    const p = parseProcPid(stat, status);
    return {
      name: 'runtime',
      startTime: rfc3339(this.#bootTime() + p.startMsSinceBoot),
      cpu: this.#cpuStats('sys/runtime', { time: now, usageCoreNanoSeconds: p.usageCoreNanoSeconds }),
      memory: { time: rfc3339(now), usageBytes: p.rssBytes, workingSetBytes: p.rssBytes, rssBytes: p.rssBytes },
    };
  }

  async summary(opts: { onlyCpuAndMemory?: boolean } = {}): Promise<Summary> {
    const only = opts.onlyCpuAndMemory === true;
    const now = Date.now();
    const time = rfc3339(now);
    const rt = this.#o.pods.runtime;
    // Writable layers and the image filesystem come from the runtime (one call each).
    const writable = new Map<string, { usedBytes?: number; inodesUsed?: number }>();
    let imageFs: FsStats | undefined;
    if (!only) {
      const [cs, fsInfo] = await Promise.all([
        rt.call('RuntimeService', 'ListContainerStats', {}, { timeoutMs: 5000 }).catch(() => undefined),
        rt.imageFsInfo({ timeoutMs: 5000 }).catch(() => undefined),
      ]);
      for (const s of cs?.stats ?? []) {
        const id = s.attributes?.id;
        if (id) writable.set(id, { usedBytes: s.writableLayer?.usedBytes?.value, inodesUsed: s.writableLayer?.inodesUsed?.value });
      }
      const img = fsInfo?.imageFilesystems?.[0];
      const mount = img?.fsId?.mountpoint;
      const fs = mount ? statFs(mount, time) : undefined;
      if (fs && img) imageFs = { ...fs, usedBytes: img.usedBytes?.value ?? fs.usedBytes, inodesUsed: img.inodesUsed?.value ?? fs.inodesUsed };
    }
    const node = this.#nodeStats(now, only, imageFs);
    const pods: PodStats[] = [];
    const live = new Set<string>(['node', 'sys/kubelet', 'sys/pods', 'sys/runtime']);
    let podsRoot: Map<string, string> | undefined;
    for (const pod of this.#o.pods.listPods?.() ?? []) {
      const ps = await this.#podStats(pod, { now, only, writable, imageFs, live });
      if (!ps) continue;
      pods.push(ps.stats);
      podsRoot ??= ps.podsRoot;
    }
    const system: ContainerStats[] = [this.#kubeletStats(now)];
    const runtimeStats = this.#runtimeStats(now);
    if (runtimeStats) system.push(runtimeStats);
    if (podsRoot) {
      const s = readCgroup(this.#cg, podsRoot, now);
      if (s) system.push({ name: 'pods', startTime: rfc3339(this.#startTime), cpu: this.#cpuStats('sys/pods', s), memory: this.#memStats(s) });
    }
    node.systemContainers = system;
    this.#cpu.retain(live);
    for (const id of this.#procs.keys()) if (!live.has(`c/${id}`) && !live.has(`s/${id}`)) this.#procs.delete(id);
    return { node, pods };
  }

  async #podStats(
    pod: KObject,
    c: { now: number; only: boolean; writable: Map<string, { usedBytes?: number; inodesUsed?: number }>; imageFs: FsStats | undefined; live: Set<string> },
  ): Promise<{ stats: PodStats; podsRoot?: Map<string, string> } | undefined> {
    const { namespace = '', name = '', uid = '' } = pod.metadata;
    const status = (pod.status ?? {}) as { startTime?: string; containerStatuses?: { name: string; state?: { running?: { startedAt?: string } } }[] };
    const time = rfc3339(c.now);
    const sandbox = this.#o.pods.sandboxID?.(pod);
    const sandboxProc = sandbox ? await this.#process(sandbox, 'sandbox') : undefined;
    if (sandbox) c.live.add(`s/${sandbox}`);
    const containers: ContainerStats[] = [];
    const samples: CgroupSample[] = [];
    let someCgroup: Map<string, string> | undefined = sandboxProc?.cgroups;
    const logsFs = c.only ? undefined : statFs(this.#o.rootDir, time);
    let ephemeralUsed = 0;
    let ephemeralInodes = 0;
    for (const spec of ((pod.spec as { containers?: { name: string }[] } | undefined)?.containers ?? [])) {
      const id = this.#o.pods.containerID(pod, spec.name);
      const running = status.containerStatuses?.find((s) => s.name === spec.name)?.state?.running;
      if (!id || !running) continue;
      c.live.add(`c/${id}`);
      const proc = await this.#process(id, 'container');
      const s = proc ? readCgroup(this.#cg, proc.cgroups, c.now) : undefined;
      if (!proc || !s) continue;
      someCgroup ??= proc.cgroups;
      samples.push(s);
      c.live.add(id);
      const cs: ContainerStats = { name: spec.name, startTime: running.startedAt ?? time, cpu: this.#cpuStats(id, s), memory: this.#memStats(s) };
      if (!c.only) {
        const w = c.writable.get(id);
        if (w && c.imageFs) {
          cs.rootfs = { ...c.imageFs, usedBytes: w.usedBytes ?? 0, inodesUsed: w.inodesUsed ?? 0 };
          ephemeralUsed += w.usedBytes ?? 0;
          ephemeralInodes += w.inodesUsed ?? 0;
        }
        if (logsFs) {
          const du = diskUsage(path.join(this.#o.rootDir, 'pods', `${namespace}_${name}_${uid}`, spec.name));
          cs.logs = { ...logsFs, usedBytes: du.usedBytes, inodesUsed: du.inodesUsed };
          ephemeralUsed += du.usedBytes;
          ephemeralInodes += du.inodesUsed;
        }
      }
      containers.push(cs);
    }
    const stats: PodStats = { podRef: { name, namespace, uid }, startTime: status.startTime ?? time, containers };
    // The pod cgroup: the containers' parent when it is the kubelet's pod<uid> cgroup
    // (cgroupfs driver); otherwise (systemd driver: no pod cgroup) the sum of the containers.
    const parent = someCgroup ? parentCgroup(someCgroup) : undefined;
    const parentName = parent ? path.posix.basename([...parent.values()][0] ?? '') : '';
    let podsRoot: Map<string, string> | undefined;
    if (parent && parentName === `pod${uid}`) {
      const s = readCgroup(this.#cg, parent, c.now);
      if (s) {
        c.live.add(`pod/${uid}`);
        stats.cpu = this.#cpuStats(`pod/${uid}`, s);
        stats.memory = this.#memStats(s);
        if (s.processCount !== undefined && !c.only) stats.process_stats = { process_count: s.processCount };
        podsRoot = parentCgroup(parent);
      }
    } else if (samples.length) {
      const sum: CgroupSample = { time: c.now, usageCoreNanoSeconds: samples.reduce((a, s) => a + (s.usageCoreNanoSeconds ?? 0), 0) };
      sum.memory = {
        usageBytes: samples.reduce((a, s) => a + (s.memory?.usageBytes ?? 0), 0),
        workingSetBytes: samples.reduce((a, s) => a + (s.memory?.workingSetBytes ?? 0), 0),
        rssBytes: samples.reduce((a, s) => a + (s.memory?.rssBytes ?? 0), 0),
      };
      c.live.add(`pod/${uid}`);
      stats.cpu = this.#cpuStats(`pod/${uid}`, sum);
      stats.memory = this.#memStats(sum);
      if (!c.only) stats.process_stats = { process_count: samples.reduce((a, s) => a + (s.processCount ?? 0), 0) };
    }
    if (c.only) return { stats, podsRoot };
    if (sandboxProc) {
      const ifaces = parseNetDev(readOpt(`/proc/${sandboxProc.pid}/net/dev`) ?? '').filter((i) => i.name !== 'lo');
      const eth0 = ifaces.find((i) => i.name === 'eth0') ?? ifaces[0];
      if (eth0) stats.network = { time, ...eth0, interfaces: ifaces };
    }
    const memoryBacked = new Set<string>();
    stats.volume = this.#volumes(pod, time, memoryBacked);
    for (const v of stats.volume) {
      // Memory-backed volumes (Memory emptyDirs, token and secret tmpfs) use no disk: not ephemeral storage.
      if (memoryBacked.has(v.name)) continue;
      ephemeralUsed += v.usedBytes;
      ephemeralInodes += v.inodesUsed;
    }
    if (logsFs) stats['ephemeral-storage'] = { ...logsFs, usedBytes: ephemeralUsed, inodesUsed: ephemeralInodes };
    return { stats, podsRoot };
  }

  #volumeKind(pod: KObject, name: string): string | undefined {
    const v = ((pod.spec as { volumes?: Record<string, unknown>[] } | undefined)?.volumes ?? []).find((x) => x.name === name);
    return v ? Object.keys(v).find((k) => PLUGIN_VOLUME_KINDS.has(k)) : undefined;
  }

  /** emptyDir, configMap, secret, projected and downwardAPI volumes: <root>/volumes/<uid>/volumes/<plugin>/<name>. */
  #volumes(pod: KObject, time: string, memoryBacked: Set<string>): VolumeStats[] {
    const uid = pod.metadata.uid ?? '';
    const base = path.join(this.#o.rootDir, 'volumes', uid, 'volumes');
    const out: VolumeStats[] = [];
    let plugins: string[];
    try {
      plugins = readdirSync(base);
    } catch {
      return out;
    }
    for (const plugin of plugins) {
      let names: string[];
      try {
        names = readdirSync(path.join(base, plugin));
      } catch {
        continue;
      }
      for (const name of names) {
        if (!this.#volumeKind(pod, name)) continue;
        const dir = path.join(base, plugin, name);
        const fs = statFs(dir, time);
        if (!fs) continue;
        const du = diskUsage(dir);
        if (onTmpfs(dir)) memoryBacked.add(name);
        out.push({ ...fs, usedBytes: du.usedBytes, inodesUsed: du.inodesUsed, name });
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}
