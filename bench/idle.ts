// The idle-heartbeat benchmark (`npm run bench:idle`): what 1,000 simulated nodes cost the
// whole `skiff up` process when nothing happens but heartbeats. bench/sim.ts measures the
// apiserver and the simulator alone in one process; this one runs the real command
// (apiserver, controller manager, scheduler and the simulated nodes, as a user starts it):
//
//   skiff up --no-node --sim-nodes N --data-dir <tmp> --no-merge-kubeconfig --bind-port 0
//
// For each cluster (the baseline with 0 nodes and the one with N nodes run side by side;
// --rounds repeats the pair): wait until every node is Ready, let it settle (--settle-seconds,
// by default 330 s: past the registration burst, the JIT's warm-up -- for the first two
// minutes or so V8 is still compiling the heartbeat path, which costs a third more than
// the steady state -- and each node's first status report at 5 minutes, which happens
// once in a node's life: it creates the kubelet's managedFields entry for /status, where
// later reports only restamp it), then read the process's utime+stime from
// /proc/<pid>/stat over --window-seconds (by default 300 s: one whole cycle of the nodes'
// 5-minute status reports and of the apiserver's 5-minute compaction, so they count)
// and report it as % of one core. Lease and node
// writes per second come from the apiserver's own /metrics (apiserver_request_total),
// read at both ends of the window, so they count what the server did, not what a watch saw.
// Beside each figure: the process's CPU by thread (the JavaScript thread, and V8's helper
// threads, which do most of the garbage collector's marking), and how busy the whole
// machine was over the same window, steal included. On a shared machine the same tree
// measures 10-15% apart from one window to the next; the machine's load says which
// windows to trust.
//
//   node bench/idle.ts [--nodes 1000] [--settle-seconds 330] [--window-seconds 300]
//                      [--rounds 1] [--cpu-prof] [--heap-prof] [--authorization-mode MODES]
//                      [--out bench/results]
//
// --authorization-mode is passed to skiff up (its default when not given: Node,RBAC).
//
// --cpu-prof adds one more N-node run profiled over its window only (bench/cpu-window.ts)
// and prints where the time went (bench/profile.ts); the profiler's cost stays out of the
// figures. --heap-prof does the same with the sampling heap profiler: bytes allocated over
// the window, by function, including what the GC already collected. Writes <out>/idle-<ISO time>.json and prints a table. Stops only
// the processes it started.

import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { kubeconfigClient, type KubeconfigClient } from '../src/client/https.ts';
import { ref } from '../src/client/resources.ts';
import { machineCpuMs, processCpuMs, startChild, threadCpuMs, type Child, printUsageAndExit } from './processes.ts';
import { formatHeapProfile, formatProfile, summarizeHeapProfile, summarizeProfile, type HeapProfileSummary, type ProfileSummary } from './profile.ts';

const REPO = resolve(import.meta.dirname, '..');

export interface IdleConfig {
  nodes: number;
  settleSeconds: number;
  windowSeconds: number;
  rounds: number;
  cpuProf: boolean;
  heapProf: boolean;
  /** skiff up's --authorization-mode; undefined: its default. */
  authorizationMode?: string;
}

export interface IdleMeasurement {
  nodes: number;
  /** Seconds from spawn until every node was Ready. */
  readySeconds: number;
  windowSeconds: number;
  cpuMs: number;
  cpuPctOfCore: number;
  /** Per second over the window, from the apiserver's request counters. */
  leaseUpdatesPerSecond: number;
  nodeWritesPerSecond: number;
  otherRequestsPerSecond: number;
  rssMb: number;
  /** The process's CPU over the window by thread name (MainThread: the JavaScript; V8Worker: V8's GC and compiler helpers). */
  threadsPctOfCore: Record<string, number>;
  /** The whole machine over the window (every process, all cores, in cores' percent): how loaded it was while this was measured. */
  machineBusyPctOfCore: number;
  /** Time the hypervisor gave this machine's cores to someone else over the window. */
  stealPctOfCore: number;
  /** Every request the apiserver served in the window, by "VERB resource[/subresource]", per second. */
  requestsPerSecond: Record<string, number>;
}

export interface IdleResult {
  startedAt: string;
  machine: { cpus: number; cpuModel?: string; node: string; loadavgAtStart: number[]; loadavgAtEnd: number[] };
  config: IdleConfig;
  rounds: { baseline: IdleMeasurement; nodes: IdleMeasurement }[];
  /** Medians over the rounds. */
  baselineCpuPctOfCore: number;
  cpuPctOfCore: number;
  /** The nodes' share: N-node process less the 0-node process. */
  heartbeatCpuPctOfCore: number;
  heartbeatCpuPctPer1000Nodes: number;
  leaseUpdatesPerSecond: number;
  /** Heartbeat CPU per lease update, all included (sim, transport, apiserver, store, watchers, controllers). */
  cpuUsPerLeaseUpdate: number;
  profile?: ProfileSummary;
  heapProfile?: HeapProfileSummary & { allocatedKbPerLeaseUpdate: number };
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** apiserver_request_total summed by (verb, resource, subresource). */
async function requestCounts(kc: KubeconfigClient): Promise<Map<string, number>> {
  const res = await kc.transport.request({ method: 'GET', path: '/metrics' });
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
  const counts = new Map<string, number>();
  for (const line of res.body.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const labels = Object.fromEntries([...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? '/' + labels.subresource : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return counts;
}

function diff(a: Map<string, number>, b: Map<string, number>): Map<string, number> {
  const d = new Map<string, number>();
  for (const [k, v] of b) if (v - (a.get(k) ?? 0) > 0) d.set(k, v - (a.get(k) ?? 0));
  return d;
}

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = status.match(/VmRSS:\s+(\d+) kB/);
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

/** Starts `skiff up` with `nodes` simulated nodes, measures its idle window, stops it. */
export async function measure(
  nodes: number,
  config: IdleConfig,
  log: (m: string) => void,
  profile?: { kind: 'cpu' | 'heap'; file: string },
): Promise<IdleMeasurement> {
  const profileFile = profile?.file;
  const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-idle-'));
  const name = `bench-idle-${process.pid}-${nodes}`;
  const args = [
    ...(profileFile ? ['--import', join(REPO, 'bench', 'cpu-window.ts')] : []),
    join(REPO, 'src', 'cli', 'main.ts'),
    'up',
    '--name',
    name,
    '--no-node',
    '--sim-nodes',
    String(nodes),
    '--data-dir',
    join(dir, 'data'),
    '--no-merge-kubeconfig',
    '--bind-address',
    '127.0.0.1',
    '--advertise-address',
    '127.0.0.1',
    '--bind-port',
    '0',
    ...(config.authorizationMode ? ['--authorization-mode', config.authorizationMode] : []),
  ];
  const spawned = performance.now();
  let child: Child | undefined;
  let kc: KubeconfigClient | undefined;
  try {
    const env = profile
      ? { ...process.env, [profile.kind === 'cpu' ? 'SKIFF_CPU_WINDOW_PROFILE' : 'SKIFF_HEAP_WINDOW_PROFILE']: profile.file }
      : process.env;
    const started = await startChild(args, { ready: /export KUBECONFIG=(\S+)\n/, timeoutMs: 120_000, cwd: REPO, env });
    child = started.child;
    const pid = child.proc.pid!;
    kc = kubeconfigClient(started.match[1]);
    // Every node Ready, as the apiserver has them.
    for (;;) {
      const list = await kc.client.list(ref.nodes, undefined);
      const ready = list.items.filter((n) => n.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')).length;
      if (ready >= nodes) break;
      await sleep(500);
    }
    const readySeconds = (performance.now() - spawned) / 1000;
    log(`  ${nodes} nodes Ready after ${readySeconds.toFixed(1)} s; settling ${config.settleSeconds} s`);
    await sleep(config.settleSeconds * 1000);
    const counts0 = await requestCounts(kc);
    if (profileFile) child.proc.kill('SIGUSR2');
    const cpu0 = processCpuMs(pid)!;
    const threads0 = threadCpuMs(pid);
    const machine0 = machineCpuMs();
    const t0 = performance.now();
    await sleep(config.windowSeconds * 1000);
    const cpu1 = processCpuMs(pid)!;
    const threads1 = threadCpuMs(pid);
    const machine1 = machineCpuMs();
    if (profileFile) {
      child.proc.kill('SIGUSR2');
      // The profile is written once the profiler has stopped.
      while (!existsSync(profileFile)) await sleep(100);
      await sleep(500);
    }
    const seconds = (performance.now() - t0) / 1000;
    const counts = diff(counts0, await requestCounts(kc));
    let lease = 0;
    let node = 0;
    let other = 0;
    for (const [k, v] of counts) {
      // The apiserver's metric verbs: PUT is an update.
      if (k === 'PUT leases') lease += v;
      else if (k.startsWith('PATCH nodes') || k.startsWith('PUT nodes')) node += v;
      // The two /metrics reads themselves are not API requests; everything else is.
      else other += v;
    }
    const m: IdleMeasurement = {
      nodes,
      readySeconds: round(readySeconds, 1),
      windowSeconds: round(seconds, 1),
      cpuMs: Math.round(cpu1 - cpu0),
      cpuPctOfCore: round(((cpu1 - cpu0) / 1000 / seconds) * 100, 3),
      leaseUpdatesPerSecond: round(lease / seconds, 1),
      nodeWritesPerSecond: round(node / seconds, 2),
      otherRequestsPerSecond: round(other / seconds, 2),
      rssMb: rssMb(pid),
      threadsPctOfCore: Object.fromEntries(
        [...threads1]
          .map(([name, ms]) => [name, round(((ms - (threads0.get(name) ?? 0)) / 1000 / seconds) * 100, 3)] as const)
          .filter(([, pct]) => pct > 0)
          .sort((a, b) => b[1] - a[1]),
      ),
      machineBusyPctOfCore: machine0 && machine1 ? round(((machine1.busy - machine0.busy) / 1000 / seconds) * 100, 2) : 0,
      stealPctOfCore: machine0 && machine1 ? round(((machine1.steal - machine0.steal) / 1000 / seconds) * 100, 2) : 0,
      requestsPerSecond: Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v / seconds, 2)])),
    };
    log(`  ${nodes} nodes: ${m.cpuPctOfCore}% of a core, ${m.leaseUpdatesPerSecond} lease updates/s, ${m.nodeWritesPerSecond} node writes/s, ${m.otherRequestsPerSecond} other requests/s`);
    return m;
  } finally {
    kc?.close();
    await child?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runIdleBench(config: IdleConfig, log: (m: string) => void = () => {}): Promise<IdleResult> {
  const startedAt = new Date();
  const loadavgAtStart = loadavg().map((l) => round(l, 2));
  const rounds: IdleResult['rounds'] = [];
  let profile: ProfileSummary | undefined;
  for (let r = 0; r < config.rounds; r++) {
    // The two clusters run side by side, so their windows overlap and whatever else loads
    // this shared machine meanwhile weighs on both alike (two idle processes do not compete
    // for its cores).
    log(`round ${r + 1}/${config.rounds}: baseline (0 simulated nodes) and ${config.nodes} simulated nodes, side by side`);
    const [baseline, nodes] = await Promise.all([measure(0, config, log), measure(config.nodes, config, log)]);
    rounds.push({ baseline, nodes });
  }
  if (config.cpuProf) {
    // A separate run: the profiler's own cost stays out of the figures above.
    log(`profile: ${config.nodes} simulated nodes, over the window only`);
    const file = join(tmpdir(), `skiff-bench-idle-${process.pid}.cpuprofile`);
    await rm(file, { force: true });
    await measure(config.nodes, config, log, { kind: 'cpu', file });
    const saved = join(REPO, 'bench', 'results', `idle-${startedAt.toISOString().replace(/:/g, '-')}.cpuprofile`);
    await writeFile(saved, await readFile(file));
    await rm(file, { force: true });
    profile = summarizeProfile(saved, { top: 40, root: REPO });
    log(`  profile: ${saved}`);
  }
  let heapProfile: IdleResult['heapProfile'];
  if (config.heapProf) {
    log(`heap profile: ${config.nodes} simulated nodes, over the window only`);
    const file = join(tmpdir(), `skiff-bench-idle-${process.pid}.heapprofile`);
    await rm(file, { force: true });
    const m = await measure(config.nodes, config, log, { kind: 'heap', file });
    const saved = join(REPO, 'bench', 'results', `idle-${startedAt.toISOString().replace(/:/g, '-')}.heapprofile`);
    await writeFile(saved, await readFile(file));
    await rm(file, { force: true });
    const summary = summarizeHeapProfile(saved, { top: 40, root: REPO });
    heapProfile = { ...summary, allocatedKbPerLeaseUpdate: round(summary.totalKb / (m.leaseUpdatesPerSecond * m.windowSeconds), 1) };
    log(`  heap profile: ${saved}`);
  }
  const base = median(rounds.map((r) => r.baseline.cpuPctOfCore));
  const withNodes = median(rounds.map((r) => r.nodes.cpuPctOfCore));
  const leases = median(rounds.map((r) => r.nodes.leaseUpdatesPerSecond - r.baseline.leaseUpdatesPerSecond));
  const heartbeat = withNodes - base;
  return {
    startedAt: startedAt.toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadavgAtStart, loadavgAtEnd: loadavg().map((l) => round(l, 2)) },
    config,
    rounds,
    baselineCpuPctOfCore: round(base, 3),
    cpuPctOfCore: round(withNodes, 3),
    heartbeatCpuPctOfCore: round(heartbeat, 3),
    heartbeatCpuPctPer1000Nodes: round((heartbeat * 1000) / config.nodes, 3),
    leaseUpdatesPerSecond: round(leases, 1),
    // % of a core = 10 ms of CPU per second; per lease update in µs.
    cpuUsPerLeaseUpdate: leases > 0 ? Math.round((heartbeat * 10_000) / leases) : 0,
    profile,
    heapProfile,
  };
}

export function formatIdleTable(r: IdleResult): string {
  const lines = [
    `Skiff idle heartbeats: skiff up --no-node --sim-nodes ${r.config.nodes}${r.config.authorizationMode ? ` --authorization-mode ${r.config.authorizationMode}` : ''}, whole process, ${r.config.windowSeconds} s window after ${r.config.settleSeconds} s settle, ${r.rounds.length} round(s); ${r.machine.cpus} CPUs, load ${r.machine.loadavgAtStart.join(' ')}`,
    '',
    'round  nodes  CPU % of a core  JS thread  V8 helpers  lease updates/s  node writes/s  other req/s  RSS MB  Ready after  machine busy  steal',
  ];
  r.rounds.forEach((x, i) => {
    for (const m of [x.baseline, x.nodes]) {
      lines.push(
        `${String(i + 1).padStart(5)}  ${String(m.nodes).padStart(5)}  ${m.cpuPctOfCore.toFixed(3).padStart(15)}  ${(m.threadsPctOfCore.MainThread ?? 0).toFixed(3).padStart(9)}  ${(m.threadsPctOfCore.V8Worker ?? 0).toFixed(3).padStart(10)}  ${m.leaseUpdatesPerSecond.toFixed(1).padStart(15)}  ${m.nodeWritesPerSecond.toFixed(2).padStart(13)}  ${m.otherRequestsPerSecond.toFixed(2).padStart(11)}  ${String(m.rssMb).padStart(6)}  ${`${m.readySeconds} s`.padStart(11)}  ${`${m.machineBusyPctOfCore.toFixed(1)}%`.padStart(12)}  ${`${m.stealPctOfCore.toFixed(1)}%`.padStart(5)}`,
      );
    }
  });
  lines.push(
    '',
    `baseline (0 nodes, same run): ${r.baselineCpuPctOfCore}% of a core`,
    `${r.config.nodes} nodes:                   ${r.cpuPctOfCore}% of a core (median)`,
    `heartbeats:                   ${r.heartbeatCpuPctOfCore}% of a core = ${r.heartbeatCpuPctPer1000Nodes}% per 1,000 nodes (aim: < 1%)`,
    `per lease update:             ${r.cpuUsPerLeaseUpdate} us of CPU, all included (${r.leaseUpdatesPerSecond} node lease updates/s)`,
  );
  if (r.profile) lines.push('', `profile of the ${r.config.nodes}-node process over a ${r.config.windowSeconds} s idle window (a separate, profiled run):`, formatProfile(r.profile));
  if (r.heapProfile)
    lines.push(
      '',
      `allocation in the ${r.config.nodes}-node process over the window (a separate run): ${r.heapProfile.allocatedKbPerLeaseUpdate} KB per lease update, all included`,
      formatHeapProfile(r.heapProfile),
    );
  return lines.join('\n');
}

if (import.meta.main) {
  const { values: flags } = parseArgs({
    options: {
      nodes: { type: 'string' },
      'settle-seconds': { type: 'string' },
      'window-seconds': { type: 'string' },
      rounds: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'heap-prof': { type: 'boolean' },
      'authorization-mode': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    printUsageAndExit(import.meta.filename);
  }
  const config: IdleConfig = {
    nodes: Number(flags.nodes ?? 1000),
    settleSeconds: Number(flags['settle-seconds'] ?? 330),
    windowSeconds: Number(flags['window-seconds'] ?? 300),
    rounds: Number(flags.rounds ?? 1),
    cpuProf: flags['cpu-prof'] ?? false,
    heapProf: flags['heap-prof'] ?? false,
    authorizationMode: flags['authorization-mode'],
  };
  for (const [k, v] of Object.entries(config)) if (typeof v === 'number' && !(v >= 0)) throw new Error(`--${k}: not a number`);
  const log = (m: string) => process.stderr.write(`[bench:idle] ${m}\n`);
  const result = await runIdleBench(config, log);
  const outDir = resolve(flags.out ?? join(REPO, 'bench', 'results'));
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `idle-${result.startedAt.replace(/:/g, '-')}.json`);
  await writeFile(file, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(formatIdleTable(result) + `\n\nwrote ${file}\n`);
  process.exit(0);
}
