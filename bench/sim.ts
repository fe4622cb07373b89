// The simulated-nodes benchmark (`npm run bench:sim`, and a section of `npm run bench`).
// Everything runs in this one process, as `skiff up --sim-nodes N` does: an apiserver on
// a temp dir and a SimPool talking to it through the in-process transport. Each figure
// sits beside a baseline from the same run:
//
//   registration   N nodes registered (Node + Lease each) until all Ready, in nodes/s,
//                  vs plain ConfigMap creates/s through the same transport and concurrency
//   idle CPU       the process's CPU over a window with N idle nodes renewing leases,
//                  per 1,000 nodes, vs the same process idle before any node existed;
//                  this includes the apiserver serving the lease writes (it is in-process),
//                  not the controllers watching them: bench/idle.ts measures the whole
//                  `skiff up` process (controller manager and scheduler included).
//                  The simulator's own share: its CPU per renewal less that of a bare loop
//                  renewing N leases of the same shape (owner reference, one writer each)
//                  at the same rate, measured next in the same process
//   pods           P pods bound to the nodes until all Running (pods/s), and the heap they
//                  cost per 10,000 pods, vs P pods bound to a node no one runs (the
//                  apiserver's own cost of holding them)
//
//   node bench/sim.ts [--quick] [--nodes 5000] [--pods 10000] [--idle-seconds 30]
//                     [--concurrency 32] [--out bench/results] [--json]
//
// --json prints the result as one JSON line (bench/run.ts runs it so). Writes
// <out>/sim-<ISO time>.json and <out>/sim-latest.json unless --json.

import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';
import { startApiServer } from '../src/apiserver/server.ts';
import { createClient } from '../src/client/rest.ts';
import { inProcessTransport } from '../src/client/inprocess.ts';
import { ref } from '../src/client/resources.ts';
import type { Client } from '../src/client/types.ts';
import { startInProcessSimPool } from '../src/kubelet/sim/index.ts';
import { PodCIDRAllocator, suggestClusterCidr } from '../src/kubelet/sim/ipam.ts';
import { microTime, nodeLease } from '../src/kubelet/nodestatus.ts';
import { randomUUID } from 'node:crypto';
import { runJsonChild, printUsageAndExit, saveResult } from './processes.ts';

const REPO = resolve(import.meta.dirname, '..');

export interface SimBenchConfig {
  quick: boolean;
  nodes: number;
  pods: number;
  idleSeconds: number;
  concurrency: number;
}

export interface SimBenchResult {
  startedAt: string;
  machine: { cpus: number; cpuModel?: string; node: string; loadavgAtStart: number[] };
  config: SimBenchConfig;
  registration: { nodes: number; seconds: number; nodesPerSecond: number; readyNodes: number; baselineConfigMapCreatesPerSecond: number; writesPerNode: number };
  idle: {
    nodes: number;
    windowSeconds: number;
    leaseRenewals: number;
    cpuPctOfCore: number;
    cpuPctPer1000Nodes: number;
    baselineCpuPctOfCore: number;
    cpuUsPerRenewal: number;
    bareCpuUsPerRenewal: number;
    bareRenewals: number;
    /** The simulator's own share: CPU per renewal above the bare writes', at the renewals' rate. */
    simCpuPctPer1000Nodes: number;
  };
  pods: {
    pods: number;
    secondsToRunning: number;
    podsRunningPerSecond: number;
    statusWrites: number;
    heapBytesPerPod: number;
    mbPer10kPods: number;
    baselineMbPer10kPods: number;
    simMbPer10kPods: number;
  };
  rssMbPeak: number;
}

function round(x: number, d = 1): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

async function forEachLimit(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

function benchPod(i: number, node: string, ns: string): any {
  const app = `web-${i % 50}`;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${app}-${i.toString(36).padStart(5, '0')}`, namespace: ns, labels: { app, tier: i % 3 ? 'frontend' : 'backend' } },
    spec: {
      nodeName: node,
      containers: [
        {
          name: 'app',
          image: `registry.example.com/team/${app}:1.${i % 7}`,
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
        },
      ],
    },
  };
}

/** Counts pods of a namespace as they turn Running, from one watch (no cache, so it costs little memory). */
function countRunning(client: Client, ns: string, signal: AbortSignal): { running: () => number } {
  const running = new Set<string>();
  void (async () => {
    try {
      for await (const ev of client.watch(ref.pods, ns, { signal })) {
        if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') continue;
        if (ev.object.status?.phase === 'Running') running.add(ev.object.metadata.name!);
      }
    } catch {
      // Aborted.
    }
  })();
  return { running: () => running.size };
}

export async function runSimBench(config: SimBenchConfig, log: (m: string) => void = () => {}): Promise<SimBenchResult> {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const heap = () => {
    gc();
    gc();
    const m = process.memoryUsage();
    return m.heapUsed + m.external + m.arrayBuffers;
  };
  let rssPeak = 0;
  const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 200);
  const startedAt = new Date();
  const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-sim-'));
  const server = await startApiServer({ dataDir: join(dir, 'data'), bindAddress: '127.0.0.1', bindPort: 0, advertiseAddress: '127.0.0.1' });
  const admin = createClient(inProcessTransport(server, { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] }));
  const ac = new AbortController();
  try {
    // ---- baselines: the apiserver's own memory per pod (pods bound to a node nobody runs),
    // idle CPU with no nodes, ConfigMap creates through the same transport
    const createPods = async (ns: string, count: number, nodeOf: (i: number) => string) => {
      await admin.create(ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
      // What the service account controller does for a new namespace (pods need it to be admitted).
      await admin.create(ref.serviceaccounts, ns, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }).catch((e) => {
        if (e?.code !== 409) throw e;
      });
      await forEachLimit(count, config.concurrency, async (i) => {
        await admin.create(ref.pods, ns, benchPod(i, nodeOf(i), ns));
      });
    };
    // (At most 10,000: the figure is per pod, and the pool's informer caches these too.)
    const parked = Math.min(config.pods, 10_000);
    log(`baseline: ${parked} pods bound to an unmanaged node (the apiserver's memory per pod)`);
    let h0 = heap();
    await createPods('bench-parked', parked, () => 'parked-node');
    await sleep(500);
    const baselinePerPod = (heap() - h0) / parked;

    log('baseline: idle process, no nodes');
    const baseWindow = Math.min(10, config.idleSeconds);
    await sleep(3000);
    gc();
    let cpu0 = process.cpuUsage();
    let t0 = performance.now();
    await sleep(baseWindow * 1000);
    let cpu = process.cpuUsage(cpu0);
    const baselineCpuPct = ((cpu.user + cpu.system) / 1000 / (performance.now() - t0)) * 100;

    log(`baseline: ${config.nodes} ConfigMap creates, ${config.concurrency} in flight`);
    await admin.create(ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench-cm' } });
    t0 = performance.now();
    await forEachLimit(config.nodes, config.concurrency, async (i) => {
      await admin.create(ref.configmaps, 'bench-cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${i}` }, data: { k: 'v'.repeat(200) } });
    });
    const cmPerSecond = config.nodes / ((performance.now() - t0) / 1000);

    // ---- registration
    const clusterCIDR = config.nodes <= new PodCIDRAllocator('10.244.0.0/16').capacity ? '10.244.0.0/16' : suggestClusterCidr(config.nodes);
    log(`registration: ${config.nodes} nodes (pod range ${clusterCIDR})`);
    t0 = performance.now();
    const pool = await startInProcessSimPool(server, { nodes: config.nodes, clusterCIDR, concurrency: config.concurrency }, ac.signal);
    const regSeconds = (performance.now() - t0) / 1000;
    const nodeList = await admin.list(ref.nodes, undefined);
    const readyNodes = nodeList.items.filter((n) => n.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True')).length;
    const names = pool.nodeNames();

    // ---- idle heartbeats: wait out the first renewals of the registration burst, then measure
    log(`idle: ${config.nodes} simulated nodes for ${config.idleSeconds} s`);
    // Past the first renewal of every node (they are spread over 10-20 s after registering).
    await sleep(21_000);
    gc();
    const renew0 = pool.stats().leaseRenewals;
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    await sleep(config.idleSeconds * 1000);
    cpu = process.cpuUsage(cpu0);
    const idleMs = performance.now() - t0;
    const renewals = pool.stats().leaseRenewals - renew0;
    const idleCpuPct = ((cpu.user + cpu.system) / 1000 / idleMs) * 100;
    const idleCpuUs = cpu.user + cpu.system;
    const totalUsPerRenewal = renewals ? (idleCpuUs - (baselineCpuPct / 100) * idleMs * 1000) / renewals : 0;
    for (const name of pool.nodeNames()) pool.stopNode(name);

    // ---- the same lease writes without the simulator: N leases renewed every 10 s by a bare loop
    log(`baseline: ${config.nodes} leases renewed every 10 s by a plain loop, ${config.idleSeconds} s`);
    const leaseNs = 'bench-leases';
    await admin.create(ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: leaseNs } });
    // Leases shaped as the nodes' (owner reference, one writer each), so the apiserver does the same work.
    const leases: any[] = new Array(config.nodes);
    const writers = Array.from({ length: config.nodes }, (_, i) =>
      createClient(inProcessTransport(server, { name: `system:node:bare-${i}`, groups: ['system:nodes', 'system:authenticated'] }), { userAgent: `bare-loop/0.1.0 bare-${i}` }),
    );
    await forEachLimit(config.nodes, config.concurrency, async (i) => {
      const lease = nodeLease({ name: `bare-${i}`, uid: randomUUID() }, Date.now());
      leases[i] = await writers[i].create(ref.leases, leaseNs, { ...lease, metadata: { ...lease.metadata, namespace: leaseNs } });
    });
    let bareRenewals = 0;
    let cursor = 0;
    const perTick = config.nodes / 100;
    let owed = 0;
    const ticker = setInterval(() => {
      owed += perTick;
      for (; owed >= 1; owed--) {
        const i = cursor++ % config.nodes;
        const l = leases[i];
        void writers[i]
          .update(ref.leases, leaseNs, { ...l, spec: { ...l.spec, holderIdentity: l.spec.holderIdentity, renewTime: microTime(Date.now()) } })
          .then((u) => {
            leases[i] = u;
            bareRenewals++;
          });
      }
    }, 100);
    await sleep(2000);
    gc();
    const bare0 = bareRenewals;
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    await sleep(config.idleSeconds * 1000);
    cpu = process.cpuUsage(cpu0);
    const bareMs = performance.now() - t0;
    clearInterval(ticker);
    const bareDone = bareRenewals - bare0;
    const bareCpuUsPerRenewal = (cpu.user + cpu.system - (baselineCpuPct / 100) * bareMs * 1000) / bareDone;
    // The nodes come back (a GET, a status patch and a lease renewal each) to run the pods.
    await forEachLimit(names.length, config.concurrency, (i) => pool.startNode(names[i]));

    log(`pods: ${config.pods} bound to the simulated nodes`);
    const writes0 = pool.stats().podStatusWrites;
    h0 = heap();
    const counter = countRunning(admin, 'bench-sim', ac.signal);
    t0 = performance.now();
    await createPods('bench-sim', config.pods, (i) => names[i % names.length]);
    while (counter.running() < config.pods) await sleep(20);
    const podSeconds = (performance.now() - t0) / 1000;
    await sleep(500);
    const simBytes = heap() - h0;
    const statusWrites = pool.stats().podStatusWrites - writes0;

    ac.abort();
    await pool.close();
    const per10k = (b: number) => round((b / config.pods) * 10_000 / 1e6, 1);
    return {
      startedAt: startedAt.toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg().map((l) => round(l, 2)) },
      config,
      registration: {
        nodes: config.nodes,
        seconds: round(regSeconds, 2),
        nodesPerSecond: Math.round(config.nodes / regSeconds),
        readyNodes,
        baselineConfigMapCreatesPerSecond: Math.round(cmPerSecond),
        writesPerNode: 2,
      },
      idle: {
        nodes: config.nodes,
        windowSeconds: round(idleMs / 1000, 1),
        leaseRenewals: renewals,
        cpuPctOfCore: round(idleCpuPct, 2),
        cpuPctPer1000Nodes: round(((idleCpuPct - baselineCpuPct) * 1000) / config.nodes, 3),
        baselineCpuPctOfCore: round(baselineCpuPct, 2),
        cpuUsPerRenewal: Math.round(totalUsPerRenewal),
        bareCpuUsPerRenewal: Math.round(bareCpuUsPerRenewal),
        bareRenewals: bareDone,
        simCpuPctPer1000Nodes: round(((totalUsPerRenewal - bareCpuUsPerRenewal) * (renewals / (idleMs / 1000)) * (1000 / config.nodes)) / 1e4, 3),
      },
      pods: {
        pods: config.pods,
        secondsToRunning: round(podSeconds, 2),
        podsRunningPerSecond: Math.round(config.pods / podSeconds),
        statusWrites,
        heapBytesPerPod: Math.round(simBytes / config.pods),
        mbPer10kPods: per10k(simBytes),
        baselineMbPer10kPods: per10k(baselinePerPod * config.pods),
        simMbPer10kPods: per10k(simBytes - baselinePerPod * config.pods),
      },
      rssMbPeak: Math.round(rssPeak / 1e6),
    };
  } finally {
    clearInterval(rssTimer);
    ac.abort();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export function formatSimTable(r: SimBenchResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const g = r.registration;
  const i = r.idle;
  const p = r.pods;
  const rows: string[][] = [['figure', 'value', 'baseline (same run)', 'ratio', 'aim']];
  rows.push([
    `nodes registered/s (${n(g.nodes)} nodes)`,
    n(g.nodesPerSecond),
    `${n(g.baselineConfigMapCreatesPerSecond)} ConfigMap creates/s (a node is ${g.writesPerNode} writes)`,
    `${Math.round((g.nodesPerSecond * g.writesPerNode * 100) / g.baselineConfigMapCreatesPerSecond)}% of writes/s`,
    '',
  ]);
  rows.push([`  all Ready after`, `${g.seconds} s`, `${n(g.readyNodes)} Ready; KWOK CI: 5,000 in < 60 s`, '', '5,000 in < 10 s']);
  rows.push([
    `idle CPU per 1,000 nodes, in all`,
    `${i.cpuPctPer1000Nodes}% of a core`,
    `process idle without nodes: ${i.baselineCpuPctOfCore}%; with ${n(i.nodes)} nodes: ${i.cpuPctOfCore}%`,
    '',
    '',
  ]);
  rows.push([
    `  of which the simulator`,
    `${i.simCpuPctPer1000Nodes}% of a core`,
    `the rest is serving the lease writes: ${i.bareCpuUsPerRenewal} us/renewal by a bare loop vs ${i.cpuUsPerRenewal} from the sim`,
    `${Math.round((i.cpuUsPerRenewal / i.bareCpuUsPerRenewal) * 100)}% of bare`,
    '< 1% of a core',
  ]);
  rows.push([`  lease renewals in ${i.windowSeconds} s`, n(i.leaseRenewals), `upstream cadence: every node every 10 s`, '', '']);
  rows.push([`pods Running/s (${n(p.pods)} pods)`, n(p.podsRunningPerSecond), `all Running after ${p.secondsToRunning} s; ${n(p.statusWrites)} status writes; KWOK CI: 10,000 in < 60 s`, '', '']);
  rows.push([
    `memory per 10,000 pods`,
    `${p.mbPer10kPods} MB`,
    `apiserver alone: ${p.baselineMbPer10kPods} MB`,
    `sim adds ${p.simMbPer10kPods} MB`,
    '100,000 pods in 24 GiB',
  ]);
  rows.push([`peak RSS`, `${n(r.rssMbPeak)} MB`, '', '', '']);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const fmt = (row: string[]) => row.map((cell, c) => (c === 1 || c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  const head = `Skiff simulated nodes bench: ${r.machine.cpus} CPUs, node ${r.machine.node}, load ${r.machine.loadavgAtStart.join(' ')}, ${r.config.concurrency} writes in flight, all in one process`;
  return [head, fmt(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(fmt)].join('\n');
}

/** Runs this benchmark in its own process (a clean heap) and returns its result; for bench/run.ts. */
export async function runSimBenchChild(args: string[] = []): Promise<SimBenchResult> {
  const r = await runJsonChild<SimBenchResult>(import.meta.filename, args, { cwd: REPO });
  if ('skipped' in r) throw new Error(`bench/sim.ts skipped: ${r.skipped}`);
  return r;
}

if (import.meta.main) {
  const { values: flags } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      nodes: { type: 'string' },
      pods: { type: 'string' },
      'idle-seconds': { type: 'string' },
      concurrency: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    printUsageAndExit(import.meta.filename);
  }
  const quick = flags.quick ?? false;
  const num = (v: string | undefined, full: number, small: number) => (v !== undefined ? Number(v) : quick ? small : full);
  const config: SimBenchConfig = {
    quick,
    nodes: num(flags.nodes, 5000, 1000),
    pods: num(flags.pods, 10_000, 2000),
    idleSeconds: num(flags['idle-seconds'], 30, 12),
    concurrency: num(flags.concurrency, 32, 32),
  };
  const log = (m: string) => process.stderr.write(`[bench:sim] ${m}\n`);
  const result = await runSimBench(config, log);
  if (flags.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
  } else {
    const file = await saveResult(resolve(flags.out ?? join(REPO, 'bench', 'results')), 'sim', result);
    process.stdout.write(formatSimTable(result) + `\n\nwrote ${file}\n`);
  }
  process.exit(0);
}
