// The scheduler benchmark (`npm run bench:scheduler`), in the shape of upstream's
// scheduler_perf SchedulingBasic: N simulated nodes (4 cpu, 32Gi, 110 pods, 3 zones),
// I pods placed first (scheduled, not measured), then P pods created and scheduled while
// the measurement runs. The apiserver, its SQLite store and the simulated kubelets (which
// run every bound pod and write its status) are in the same run, as in `skiff up
// --sim-nodes N`; the scheduler talks to the apiserver through the client, as any
// component does.
//
// Variants (pod templates as scheduler_perf's):
//   basic            pod-default: 100m cpu / 500Mi requests, containerPort 80
//   topologyspread   + topologySpreadConstraints maxSkew 5 on the zone (DoNotSchedule), label foo=bar
//   podaffinity      + required pod affinity to foo="" pods in the same zone
// and a baseline measured in the same run: the same pods bound round-robin by a trivial
// binder (same binding calls and concurrency, no scheduling algorithm): the API's own
// ceiling for create + bind + kubelet status, so scheduler/baseline is the figure that
// does not depend on the machine.
//
// Reported per variant: pods/s (P over the time from the first create to the last pod
// observed bound), p50/p99 of the per-second rate (whole seconds only), per-pod latency
// from create request to bound (p50/p99), the scheduler's own CPU per pod (its
// synchronous scheduling cycles) and the whole process's. With --rounds N every variant
// runs N times (alternating) and the best round is reported beside all rounds' rates and
// the load average: the machine is shared, and other work there only ever slows a round.
//
//   node bench/scheduler.ts [--quick] [--nodes 5000] [--init-pods 1000] [--pods 10000]
//                           [--variants baseline,basic,topologyspread,podaffinity]
//                           [--concurrency 64] [--rounds 1] [--scheduler-process] [--nodes-only]
//                           [--out bench/results] [--json]
//
// --scheduler-process runs the scheduler in its own process over HTTPS (the second core
// then schedules while the first serves the API); µs/pod then sums both processes.
// --nodes-only registers bare Node objects instead of simulated kubelets: scheduler_perf's
// exact shape (bound pods never run, no status writes, no heartbeats).
//
// Writes <out>/scheduler-<ISO time>.json and <out>/scheduler-latest.json unless --json.

import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApiServer } from '../src/apiserver/server.ts';
import { createClient } from '../src/client/rest.ts';
import { inProcessTransport } from '../src/client/inprocess.ts';
import { Informer } from '../src/client/informer.ts';
import { ref } from '../src/client/resources.ts';
import type { Client } from '../src/client/types.ts';
import type { KObject } from '../src/api/object.ts';
import { startInProcessSimPool } from '../src/kubelet/sim/index.ts';
import { PodCIDRAllocator, suggestClusterCidr } from '../src/kubelet/sim/ipam.ts';
import { resolveConfiguration } from '../src/scheduler/config.ts';
import { startScheduler } from '../src/scheduler/server.ts';
import { clearNotReadyTaints } from '../src/scheduler/testing/cluster.ts';
import { processCpuMs, startChild, type Child, printUsageAndExit, saveResult } from './processes.ts';

const REPO = resolve(import.meta.dirname, '..');
const NS = 'sched-test';

export type Variant = 'baseline' | 'basic' | 'topologyspread' | 'podaffinity';

export interface SchedulerBenchConfig {
  quick: boolean;
  nodes: number;
  initPods: number;
  pods: number;
  variants: Variant[];
  concurrency: number;
  /** Run the scheduler in its own process over HTTPS (as kube-scheduler) instead of in this one. */
  schedulerProcess: boolean;
  /** Nodes as bare Node objects (scheduler_perf's exact shape: no kubelets, bound pods never run). */
  nodesOnly: boolean;
  /** Each variant runs this many times (alternating); the best round is reported (the machine is shared). */
  rounds: number;
}

export interface VariantResult {
  variant: Variant;
  pods: number;
  seconds: number;
  podsPerSecond: number;
  perSecond: { samples: number; p50: number; p99: number; min: number; max: number };
  latencyMs: { p50: number; p99: number; max: number };
  /** Time in the scheduler's synchronous cycles per pod (0 for the baseline). */
  schedulerCpuUsPerPod: number;
  /** The whole process (apiserver, store, kubelets, scheduler, load) per pod; with --scheduler-process, both processes. */
  processCpuUsPerPod: number;
  /** With --scheduler-process: the scheduler process's CPU per pod. */
  schedulerProcessCpuUsPerPod?: number;
  attempts: number;
  unschedulable: number;
  eventsDropped: number;
  setupSeconds: number;
  vsBaseline?: number;
  /** pods/s of every round (the figures above are the best round's). */
  rounds?: number[];
  /** 1-minute load average when the round started (other work on the machine skews figures). */
  loadavg1?: number;
}

export interface SchedulerBenchResult {
  startedAt: string;
  machine: { cpus: number; cpuModel?: string; node: string; loadavgAtStart: number[] };
  config: SchedulerBenchConfig;
  results: VariantResult[];
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function round(x: number, d = 1): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

async function forEachLimit(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** scheduler_perf's pod templates. */
function podFor(variant: Variant, name: string): KObject {
  const pod: KObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NS, labels: {} },
    spec: {
      containers: [
        {
          name: 'pause',
          image: 'registry.k8s.io/pause:3.10',
          ports: [{ containerPort: 80 }],
          resources: { limits: { cpu: '100m', memory: '500Mi' }, requests: { cpu: '100m', memory: '500Mi' } },
        },
      ],
    },
  };
  if (variant === 'topologyspread') {
    pod.metadata.labels = { foo: 'bar' };
    pod.spec.topologySpreadConstraints = [{ maxSkew: 5, topologyKey: 'topology.kubernetes.io/zone', whenUnsatisfiable: 'DoNotSchedule', labelSelector: { matchLabels: { foo: 'bar' } } }];
  } else if (variant === 'podaffinity') {
    pod.metadata.labels = { foo: '' };
    pod.spec.affinity = { podAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: { foo: '' } }, topologyKey: 'topology.kubernetes.io/zone', namespaces: [NS] }] } };
  }
  return pod;
}

/** scheduler_perf's node template: 4 cpu, 32Gi, 110 pods; zones round-robin as the simulated nodes have them. */
function nodeObject(name: string, i: number): KObject {
  const capacity = { cpu: '4', memory: '32Gi', pods: '110' };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': ['sim-a', 'sim-b', 'sim-c'][i % 3] } },
    spec: {},
    status: { capacity, allocatable: capacity, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }] },
  };
}

/** The trivial binder of the baseline: binds every pending pod to the next node, `concurrency` calls in flight. */
function startRoundRobinBinder(client: Client, nodes: string[], concurrency: number, signal: AbortSignal): { informer: Informer } {
  const informer = new Informer(client, ref.pods, { namespace: NS, fieldSelector: 'spec.nodeName=' });
  const queue: KObject[] = [];
  let inFlight = 0;
  let next = 0;
  const pump = () => {
    while (inFlight < concurrency && queue.length > 0 && !signal.aborted) {
      const p = queue.shift()!;
      const node = nodes[next++ % nodes.length];
      inFlight++;
      client
        .create(ref.pods, NS, { apiVersion: 'v1', kind: 'Binding', metadata: { name: p.metadata.name, namespace: NS }, target: { kind: 'Node', name: node } }, { subresource: 'binding', name: p.metadata.name })
        .catch(() => undefined)
        .finally(() => {
          inFlight--;
          pump();
        });
    }
  };
  informer.addEventHandler({
    onAdd: (p) => {
      queue.push(p);
      pump();
    },
  });
  informer.start(signal);
  return { informer };
}

async function runVariant(config: SchedulerBenchConfig, variant: Variant, log: (m: string) => void): Promise<VariantResult> {
  const setupStart = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-sched-'));
  const server = await startApiServer({ dataDir: join(dir, 'data'), bindAddress: '127.0.0.1', bindPort: 0, advertiseAddress: '127.0.0.1' });
  const client = createClient(inProcessTransport(server, { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] }));
  const schedClient = createClient(inProcessTransport(server, { name: 'system:kube-scheduler', groups: ['system:masters', 'system:authenticated'] }), { userAgent: 'kube-scheduler/skiff' });
  const ac = new AbortController();
  let child: Child | undefined;
  try {
    await client.create(ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    await client.create(ref.serviceaccounts, NS, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } });
    const clusterCIDR = config.nodes <= new PodCIDRAllocator('10.244.0.0/16').capacity ? '10.244.0.0/16' : suggestClusterCidr(config.nodes);
    let pool: Awaited<ReturnType<typeof startInProcessSimPool>> | undefined;
    let nodeNames: string[];
    if (config.nodesOnly) {
      log(`  ${config.nodes} Node objects (no kubelets)`);
      nodeNames = Array.from({ length: config.nodes }, (_v, i) => `node-${i}`);
      await forEachLimit(config.nodes, 64, async (i) => {
        await client.create(ref.nodes, undefined, nodeObject(nodeNames[i], i));
      });
    } else {
      log(`  ${config.nodes} simulated nodes`);
      pool = await startInProcessSimPool(server, { nodes: config.nodes, clusterCIDR, concurrency: 64, capacity: { cpu: '4', memory: '32Gi', pods: '110' } }, ac.signal);
      nodeNames = pool.nodeNames();
    }
    await clearNotReadyTaints(client, { concurrency: 64 });

    // Pods observed bound, by name: the time they were seen.
    const bound = new Map<string, number>();
    const watcher = new Informer(client, ref.pods, { namespace: NS, fieldSelector: 'spec.nodeName!=' });
    watcher.addEventHandler({ onAdd: (p) => bound.set(p.metadata.name!, performance.now()) });
    watcher.start(ac.signal);
    await watcher.waitForSync(ac.signal);

    let scheduler: ReturnType<typeof startScheduler>['scheduler'] | undefined;
    if (variant !== 'baseline' && config.schedulerProcess) {
      ({ child } = await startChild([join(REPO, 'bench/scheduler-child.ts'), server.kubeconfigPath, String(config.nodes)], { ready: /^ready$/m, timeoutMs: 120_000 }));
    } else if (variant === 'baseline') {
      const { informer } = startRoundRobinBinder(schedClient, nodeNames, 64, ac.signal);
      await informer.waitForSync(ac.signal);
    } else {
      const running = startScheduler(
        { client: schedClient, config: resolveConfiguration({ leaderElection: { leaderElect: true } }), identity: 'bench' },
        ac.signal,
      );
      running.done.catch((e) => log(`  scheduler stopped: ${e}`));
      scheduler = running.scheduler;
      await running.ready;
      while (!running.isLeader() || scheduler.cache.nodeCount() < config.nodes) await sleep(50);
    }

    const waitBound = async (names: string[], timeoutMs: number) => {
      const deadline = performance.now() + timeoutMs;
      while (names.some((n) => !bound.has(n))) {
        if (performance.now() > deadline) throw new Error(`${variant}: ${names.filter((n) => !bound.has(n)).length} pods not bound after ${timeoutMs / 1000} s`);
        await sleep(20);
      }
    };

    log(`  ${config.initPods} pods placed first`);
    const initNames = Array.from({ length: config.initPods }, (_v, i) => `init-pod-${i}`);
    await forEachLimit(initNames.length, config.concurrency, async (i) => {
      await client.create(ref.pods, NS, podFor(variant, initNames[i]));
    });
    await waitBound(initNames, 120_000);
    const setupSeconds = (performance.now() - setupStart) / 1000;
    // Let the kubelets' status writes of the first pods settle.
    await sleep(1000);

    log(`  ${config.pods} pods measured`);
    const names = Array.from({ length: config.pods }, (_v, i) => `pod-${i}`);
    const created = new Map<string, number>();
    const s0 = scheduler?.stats() ?? (child ? { cycleMs: 0, attempts: 0, unschedulable: 0 } : undefined);
    const childCpu0 = processCpuMs(child?.proc.pid) ?? 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await forEachLimit(names.length, config.concurrency, async (i) => {
      created.set(names[i], performance.now());
      await client.create(ref.pods, NS, podFor(variant, names[i]));
    });
    await waitBound(names, 600_000);
    const times = names.map((n) => bound.get(n)!);
    const tEnd = Math.max(...times);
    const cpu = process.cpuUsage(cpu0);
    const childCpuMs = (processCpuMs(child?.proc.pid) ?? 0) - childCpu0;
    let s1: { cycleMs: number; attempts: number; unschedulable: number; eventsDropped?: number } | undefined = scheduler?.stats();
    if (child) {
      // The child reports its counters (since it started: the init pods' cycles are in them too) as it stops.
      let out = '';
      child.proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      await child.stop();
      s1 = JSON.parse(out.trim().split('\n').pop() || '{}');
    }
    const seconds = (tEnd - t0) / 1000;
    // Per-second rate over whole seconds from the start.
    const buckets = new Array(Math.max(1, Math.floor(seconds))).fill(0);
    for (const t of times) {
      const b = Math.floor((t - t0) / 1000);
      if (b < buckets.length) buckets[b]++;
    }
    const rates = [...buckets].sort((a, b) => a - b);
    const lat = names.map((n) => bound.get(n)! - created.get(n)!).sort((a, b) => a - b);
    const cycleMs = s1 && s0 ? s1.cycleMs - s0.cycleMs : 0;
    const result: VariantResult = {
      variant,
      pods: config.pods,
      seconds: round(seconds, 2),
      podsPerSecond: Math.round(config.pods / seconds),
      perSecond: { samples: buckets.length, p50: percentile(rates, 50), p99: percentile(rates, 99), min: rates[0], max: rates[rates.length - 1] },
      latencyMs: { p50: round(percentile(lat, 50)), p99: round(percentile(lat, 99)), max: round(lat[lat.length - 1]) },
      schedulerCpuUsPerPod: Math.round((cycleMs * 1000) / config.pods),
      processCpuUsPerPod: Math.round((cpu.user + cpu.system + childCpuMs * 1000) / config.pods),
      schedulerProcessCpuUsPerPod: child ? Math.round((childCpuMs * 1000) / config.pods) : undefined,
      attempts: s1 && s0 ? s1.attempts - s0.attempts : config.pods,
      unschedulable: s1 && s0 ? s1.unschedulable - s0.unschedulable : 0,
      eventsDropped: scheduler?.broadcaster.dropped ?? s1?.eventsDropped ?? 0,
      setupSeconds: round(setupSeconds, 1),
    };
    ac.abort();
    await pool?.close();
    return result;
  } finally {
    await child?.stop(2000);
    ac.abort();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runSchedulerBench(config: SchedulerBenchConfig, log: (m: string) => void = () => {}): Promise<SchedulerBenchResult> {
  const startedAt = new Date();
  const loadavgAtStart = loadavg().map((x) => round(x, 2));
  const best = new Map<Variant, VariantResult>();
  const all = new Map<Variant, number[]>();
  for (let round = 1; round <= config.rounds; round++) {
    for (const v of config.variants) {
      log(`${v}${config.rounds > 1 ? ` (round ${round}/${config.rounds})` : ''}:`);
      const loadavg1 = round2(loadavg()[0]);
      const r = { ...(await runVariant(config, v, log)), loadavg1 };
      all.set(v, [...(all.get(v) ?? []), r.podsPerSecond]);
      if (!best.has(v) || r.podsPerSecond > best.get(v)!.podsPerSecond) best.set(v, r);
    }
  }
  const results = config.variants.map((v) => ({ ...best.get(v)!, rounds: all.get(v) }));
  const base = results.find((r) => r.variant === 'baseline');
  if (base) for (const r of results) if (r !== base) r.vsBaseline = round(r.podsPerSecond / base.podsPerSecond, 3);
  return { startedAt: startedAt.toISOString(), machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadavgAtStart }, config, results };
}

export function formatSchedulerBench(r: SchedulerBenchResult): string {
  const lines = [
    `scheduler: ${r.config.nodes} ${r.config.nodesOnly ? 'Node objects' : 'simulated nodes'}, ${r.config.initPods} pods placed, ${r.config.pods} pods measured, scheduler ${r.config.schedulerProcess ? 'in its own process (HTTPS)' : 'in-process'} (${r.machine.cpus} cpus, ${r.machine.node})`,
    'variant          pods/s   per-second p50/p99   latency p50/p99 ms   sched µs/pod   process µs/pod   vs baseline   load',
  ];
  for (const x of r.results) {
    lines.push(
      [
        x.variant.padEnd(15),
        String(x.podsPerSecond).padStart(7),
        `${x.perSecond.p50}/${x.perSecond.p99}`.padStart(20),
        `${x.latencyMs.p50}/${x.latencyMs.p99}`.padStart(20),
        String(x.schedulerCpuUsPerPod).padStart(14),
        String(x.processCpuUsPerPod).padStart(16),
        (x.vsBaseline !== undefined ? x.vsBaseline.toFixed(2) : '-').padStart(13),
        String(x.loadavg1 ?? '-').padStart(6),
      ].join(' ') + (x.rounds && x.rounds.length > 1 ? `   (rounds: ${x.rounds.join(', ')})` : ''),
    );
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const { values: flags } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      nodes: { type: 'string' },
      'init-pods': { type: 'string' },
      pods: { type: 'string' },
      variants: { type: 'string' },
      concurrency: { type: 'string' },
      'scheduler-process': { type: 'boolean' },
      'nodes-only': { type: 'boolean' },
      rounds: { type: 'string' },
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
  const config: SchedulerBenchConfig = {
    quick,
    nodes: num(flags.nodes, 5000, 500),
    initPods: num(flags['init-pods'], 1000, 100),
    pods: num(flags.pods, 10_000, 1000),
    variants: (flags.variants ?? 'baseline,basic,topologyspread,podaffinity').split(',').map((s) => s.trim()) as Variant[],
    concurrency: num(flags.concurrency, 64, 64),
    schedulerProcess: flags['scheduler-process'] ?? false,
    nodesOnly: flags['nodes-only'] ?? false,
    rounds: num(flags.rounds, 1, 1),
  };
  const log = flags.json ? () => {} : (m: string) => process.stderr.write(m + '\n');
  const result = await runSchedulerBench(config, log);
  if (flags.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
  } else {
    process.stdout.write(formatSchedulerBench(result) + '\n');
    await saveResult(resolve(REPO, flags.out ?? 'bench/results'), 'scheduler', result);
  }
  process.exit(0);
}
