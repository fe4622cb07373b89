// Pod startup latency on a real node (`npm run bench:pods`; part of `npm run bench`).
// Upstream's SLI (sig-scalability pod_startup_latency.md): from the pod's creation to all
// its containers reported started and observed via watch, for stateless pods whose image
// is already present (image pulls and init containers excluded); SLO p99 <= 5 s. Skiff's
// aim on this machine: p99 <= 1.5 s.
//
// The cluster is the one test/node-e2e.test.ts builds, in this process: the apiserver,
// the controller manager (node IPAM, ServiceAccounts), the scheduler and startRealNode on
// skiff's own containerd with the busybox test image imported. Every pod is busybox
// `sleep 3600`, imagePullPolicy IfNotPresent. Per pod, from the start of its create
// request to the watch event that shows it scheduled, phase Running, and Ready.
//
// Two loads, as upstream's density test (ClusterLoader2 testing/density) has them:
//   paced   the latency pods: one created every 1/--qps seconds (5 qps, its Uniform5qps
//           tuning set), each measured on its own: the SLO's figure
//   burst   all --pods created at once: the saturation phase (upstream paces it at its
//           assumed throughput, 20 pods/s) pushed to the limit; latency per pod and pods/s
//           to the last pod Running: the node's throughput
// Baseline, same run, same containerd: the raw runtime cost of the same pods through the
// CRI client alone (RunPodSandbox with the same CNI network, CreateContainer,
// StartContainer), paced and burst, so the difference is what skiff adds over containerd.
// Between loads every pod is removed and the node is idle again. Beside each load: the
// CPU this process (apiserver, controllers, scheduler, kubelet) and containerd used; after
// the burst, their idle CPU with the pods running (the kubelet's steady-state cost) beside
// the same with the CRI-only pods.
//
//   node bench/pods.ts [--pods 50] [--qps 5] [--rounds 1] [--no-burst] [--json] [--out DIR]
//
// Writes <out>/pods-<ISO time>.json and pods-latest.json unless --json (one JSON line on
// stdout: what bench/run.ts reads). Needs root, containerd, runc, the CNI plugins, nft,
// ip and busybox-static; without them it says what is missing and exits (2; with --json
// it prints {"skipped": why} and exits 0). The cluster and its teardown (pods, volumes,
// containerd and its state, the bridge, nft table, routes and cgroups) are test/real-node.ts's.

import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path, { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { KObject } from '../src/api/object.ts';
import { ref } from '../src/client/resources.ts';
import { eventually } from '../src/client/testing.ts';
import type { Client } from '../src/client/types.ts';
import type { CriRuntime } from '../src/kubelet/cri/types.ts';
import { podDNSConfig } from '../src/kubelet/pods/worker.ts';
import { TEST_IMAGES } from '../test/images/build.ts';
import { freeCIDR16 } from '../test/harness.ts';
import { RealNodeCluster, realNodeNames, realNodePrerequisites } from '../test/real-node.ts';
import { percentile } from './client.ts';
import { processCpuMs, printUsageAndExit, saveResult } from './processes.ts';

const REPO = resolve(import.meta.dirname, '..');

export interface Dist {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LoadResult {
  pods: number;
  /** Wall time from the first create (or RunPodSandbox) to the last pod Running (started). */
  wallMs: number;
  podsPerSecond: number;
  /** Create request → watch shows spec.nodeName. */
  toScheduled?: Dist;
  /** Create request → watch shows phase Running (every container running). The SLI. */
  toRunning: Dist;
  /** Create request → watch shows condition Ready True. */
  toReady?: Dist;
  /** CPU used from the first create to the last pod Running: this process (apiserver, controllers, scheduler, kubelet, the bench) and containerd. */
  cpu?: { skiffMs: number; containerdMs: number };
}

function cpuNow(containerdPid: number | undefined): { skiff: number; containerd: number } {
  const u = process.cpuUsage();
  return { skiff: (u.user + u.system) / 1000, containerd: processCpuMs(containerdPid) ?? 0 };
}

function cpuSince(c0: { skiff: number; containerd: number }, containerdPid: number | undefined): { skiffMs: number; containerdMs: number } {
  const c1 = cpuNow(containerdPid);
  return { skiffMs: round(c1.skiff - c0.skiff), containerdMs: round(c1.containerd - c0.containerd) };
}

export interface PodsBenchResult {
  startedAt: string;
  machine: { cpus: number; cpuModel?: string; node: string; loadavgAtStart: number[] };
  config: { pods: number; qps: number; rounds: number; burst: boolean; image: string };
  nodeStartMs: number;
  /** Per round. */
  paced: { cri: LoadResult; skiff: LoadResult }[];
  burst: { cri: LoadResult; skiff: LoadResult; idle?: { cri: IdleCpu; skiff: IdleCpu } }[];
}

/** CPU use, % of one core, over a few seconds with the burst's pods running and nothing changing. */
export interface IdleCpu {
  seconds: number;
  /** This process: apiserver, controllers, scheduler, kubelet (and the bench's watch). */
  skiffPct: number;
  containerdPct: number;
}

async function idleCpu(containerdPid: number | undefined, seconds: number): Promise<IdleCpu> {
  const c0 = processCpuMs(containerdPid) ?? 0;
  const p0 = process.cpuUsage();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const wall = performance.now() - t0;
  const p = process.cpuUsage(p0);
  const c = (processCpuMs(containerdPid) ?? 0) - c0;
  return { seconds, skiffPct: round(((p.user + p.system) / 1000 / wall) * 100, 1), containerdPct: round((c / wall) * 100, 1) };
}

function round(x: number, digits = 0): number {
  const m = 10 ** digits;
  return Math.round(x * m) / m;
}

function dist(ms: number[]): Dist {
  return { count: ms.length, p50Ms: round(percentile(ms, 50)), p90Ms: round(percentile(ms, 90)), p99Ms: round(percentile(ms, 99)), maxMs: round(Math.max(...ms)) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the i-th of a series `intervalMs` apart from t0 is due (at once when intervalMs is 0). */
async function dueAt(t0: number, i: number, intervalMs: number): Promise<void> {
  const wait = t0 + i * intervalMs - performance.now();
  if (intervalMs > 0 && wait > 0) await sleep(wait);
}

/** What a real node needs here; empty when all is present. */
export function podsBenchMissing(): string {
  if (process.getuid?.() !== 0) return 'needs root (containerd, CNI, nftables, cgroups)';
  return realNodePrerequisites({ kubectl: false }).why;
}

function benchPod(name: string): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'pod-startup-bench' } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: TEST_IMAGES.busybox, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600'] }],
    },
  };
}

function isReady(p: KObject): boolean {
  return (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
}

function allRunning(p: KObject): boolean {
  const cs = p.status?.containerStatuses ?? [];
  return p.status?.phase === 'Running' && cs.length === (p.spec?.containers ?? []).length && cs.every((c: any) => c.state?.running);
}

/** Starts creating `count` pods, `intervalMs` apart (0: all at once); resolves when every one is Running and Ready on the watch. */
async function skiffLoad(client: Client, opts: { namespace: string; count: number; intervalMs: number; prefix: string; timeoutMs: number; containerdPid?: number }): Promise<LoadResult> {
  const { namespace, count, intervalMs, prefix } = opts;
  const start = new Map<string, number>();
  const scheduled = new Map<string, number>();
  const running = new Map<string, number>();
  const ready = new Map<string, number>();
  const list = await client.list(ref.pods, namespace);
  const ac = new AbortController();
  let allDone!: () => void;
  const finished = new Promise<void>((r) => (allDone = r));
  // The watch is read as it arrives; times are taken when an event is seen, the SLI's "observed via watch".
  const watching = (async () => {
    for await (const ev of client.watch(ref.pods, namespace, { signal: ac.signal, resourceVersion: list.metadata.resourceVersion })) {
      const now = performance.now();
      if (ev.type !== 'ADDED' && ev.type !== 'MODIFIED') continue;
      const p = ev.object;
      const name = p.metadata.name!;
      if (!start.has(name)) continue; // not this load's (its start is taken before its create request)
      if (p.spec?.nodeName && !scheduled.has(name)) scheduled.set(name, now);
      if (allRunning(p) && !running.has(name)) running.set(name, now);
      if (isReady(p) && !ready.has(name)) ready.set(name, now);
      if (running.size === count && ready.size === count) allDone();
    }
  })().catch((e) => {
    if (!ac.signal.aborted) throw e;
  });
  watching.catch(() => {}); // handled by the race below; not an unhandled rejection meanwhile
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
  const cpu0 = cpuNow(opts.containerdPid);
  const t0 = performance.now();
  const creates: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    await dueAt(t0, i, intervalMs);
    start.set(names[i], performance.now());
    creates.push(client.create(ref.pods, namespace, benchPod(names[i])));
  }
  await Promise.all(creates);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      finished,
      watching.then(() => Promise.reject(new Error('the pod watch ended'))),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${running.size}/${count} pods Running and ${ready.size}/${count} Ready after ${opts.timeoutMs / 1000} s`)), opts.timeoutMs))),
    ]);
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  const cpu = cpuSince(cpu0, opts.containerdPid);
  const since = (m: Map<string, number>) => names.map((n) => m.get(n)! - start.get(n)!);
  const last = Math.max(...running.values());
  return {
    pods: count,
    wallMs: round(last - t0),
    podsPerSecond: round(count / ((last - t0) / 1000), 1),
    toScheduled: dist(since(scheduled)),
    toRunning: dist(since(running)),
    toReady: dist(since(ready)),
    cpu,
  };
}

/**
 * The baseline: the same pods straight through CRI (what the kubelet's pod worker asks
 * containerd for, without the API, the scheduler, volumes or status): RunPodSandbox on the
 * pod network, CreateContainer, StartContainer. Per pod, from its first call to StartContainer returning.
 */
async function criLoad(cri: CriRuntime, opts: { count: number; intervalMs: number; prefix: string; cgroupParent: (uid: string) => string; rootDir: string; clusterDNS: string[]; containerdPid?: number }): Promise<LoadResult> {
  const { count, intervalMs, prefix } = opts;
  const one = async (name: string): Promise<number> => {
    const t = performance.now();
    const uid = randomUUID();
    const namespace = 'cri-baseline';
    const logDirectory = path.join(opts.rootDir, 'cri-baseline', `${namespace}_${name}_${uid}`);
    mkdirSync(logDirectory, { recursive: true });
    const labels = { 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': namespace, 'io.kubernetes.pod.uid': uid };
    const sandboxConfig = {
      metadata: { name, namespace, uid, attempt: 0 },
      hostname: name,
      logDirectory,
      dnsConfig: podDNSConfig({ metadata: { name, namespace } }, { clusterDNS: opts.clusterDNS, clusterDomain: 'cluster.local' }),
      labels,
      linux: { cgroupParent: opts.cgroupParent(uid), securityContext: { namespaceOptions: { network: 'POD' as const, pid: 'CONTAINER' as const, ipc: 'POD' as const } } },
    };
    const sandboxId = await cri.runPodSandbox(sandboxConfig);
    const id = await cri.createContainer({
      podSandboxId: sandboxId,
      sandboxConfig,
      config: {
        metadata: { name: 'main', attempt: 0 },
        image: { image: TEST_IMAGES.busybox },
        command: ['sleep', '3600'],
        labels: { ...labels, 'io.kubernetes.container.name': 'main' },
        logPath: 'main/0.log',
        linux: { resources: { cpuShares: 2 }, securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
      },
    });
    await cri.startContainer(id);
    return performance.now() - t;
  };
  const cpu0 = cpuNow(opts.containerdPid);
  const t0 = performance.now();
  const runs: Promise<number>[] = [];
  for (let i = 0; i < count; i++) {
    await dueAt(t0, i, intervalMs);
    runs.push(one(`${prefix}-${String(i).padStart(3, '0')}`));
  }
  const ms = await Promise.all(runs);
  const wall = performance.now() - t0;
  return { pods: count, wallMs: round(wall), podsPerSecond: round(count / (wall / 1000), 1), toRunning: dist(ms), cpu: cpuSince(cpu0, opts.containerdPid) };
}

/** Removes every pod of the namespace through the API and waits until the node has no sandbox left. */
async function drain(client: Client, cri: CriRuntime, namespace: string): Promise<void> {
  const pods = (await client.list(ref.pods, namespace)).items;
  await Promise.all(pods.map((p) => client.delete(ref.pods, namespace, p.metadata.name!).catch(() => undefined)));
  await eventually(async () => (await client.list(ref.pods, namespace)).items.length === 0, 120_000, `the pods of ${namespace} gone`);
  await eventually(async () => (await cri.listPodSandbox()).length === 0, 60_000, 'every sandbox removed');
}

/** Removes the baseline's sandboxes straight through CRI. */
async function drainCri(cri: CriRuntime): Promise<void> {
  for (const sb of await cri.listPodSandbox({ labelSelector: { 'io.kubernetes.pod.namespace': 'cri-baseline' } })) {
    await cri.stopPodSandbox(sb.id);
    await cri.removePodSandbox(sb.id);
  }
}

export async function runPodsBench(config: PodsBenchResult['config'], log: (m: string) => void): Promise<PodsBenchResult> {
  const startedAt = new Date();
  const loadavgAtStart = loadavg().map((l) => round(l, 2));
  const { clusterName, nodeName } = realNodeNames('bp');
  const cluster = new RealNodeCluster({
    clusterName,
    nodeName,
    clusterCIDR: freeCIDR16(200, 240),
    serviceCIDR: '10.96.0.0/12',
    clusterDNS: ['10.96.0.10'],
    tmpPrefix: 'skiff-bench-pods-',
    readyTimeoutMs: 30_000,
    logLimit: 200,
    progress: log,
  });
  // Everything the node set up on this machine goes, whatever happened (also on Ctrl-C).
  const teardown = async () => {
    log('teardown: pods, volumes, containerd, network, cgroups');
    const { left } = await cluster.close().catch((e) => {
      process.stderr.write(`bench:pods teardown: ${(e as Error).message}\n`);
      return { left: [] as string[] };
    });
    if (left.length) process.stderr.write(`bench:pods teardown left behind: ${left.join(', ')}\n`);
  };
  const onSignal = () => void teardown().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const { client, node } = await cluster.start();
    const namespace = 'default';
    const nodeStartMs = round(cluster.startMs);
    const cri = node.runtime.cri;
    const rootDir = path.join(cluster.nodeDataDir, 'kubelet');
    const cgroupParent = (uid: string) => (node!.runtime.cgroupDriver === 'systemd' ? 'system.slice' : `/skiff-${nodeName}/pod${uid}`);
    const containerdPid = node.runtime.supervisor?.pid;
    const criOpts = { cgroupParent, rootDir, clusterDNS: ['10.96.0.10'], containerdPid };
    const timeoutMs = 120_000 + config.pods * 2000;

    // Warm-up, unmeasured: the first sandbox and container (snapshot unpack, JIT, CNI's first run).
    log('warm-up: 2 pods through the API, 2 through CRI');
    await skiffLoad(client, { namespace, count: 2, intervalMs: 0, prefix: 'warm', timeoutMs });
    await drain(client, cri, namespace);
    await criLoad(cri, { ...criOpts, count: 2, intervalMs: 0, prefix: 'warm' });
    await drainCri(cri);

    const intervalMs = 1000 / config.qps;
    const paced: PodsBenchResult['paced'] = [];
    const burst: PodsBenchResult['burst'] = [];
    for (let r = 0; r < config.rounds; r++) {
      log(`round ${r + 1}/${config.rounds}: paced, ${config.pods} pods at ${config.qps}/s through CRI (baseline)`);
      const pc = await criLoad(cri, { ...criOpts, count: config.pods, intervalMs, prefix: `pc${r}` });
      await drainCri(cri);
      log(`round ${r + 1}/${config.rounds}: paced, ${config.pods} pods at ${config.qps}/s through the API`);
      const ps = await skiffLoad(client, { namespace, count: config.pods, intervalMs, prefix: `ps${r}`, timeoutMs, containerdPid });
      await drain(client, cri, namespace);
      paced.push({ cri: pc, skiff: ps });
      if (!config.burst) continue;
      log(`round ${r + 1}/${config.rounds}: burst, ${config.pods} pods at once through CRI (baseline)`);
      const bc = await criLoad(cri, { ...criOpts, count: config.pods, intervalMs: 0, prefix: `bc${r}` });
      await sleep(2000);
      const idleCri = await idleCpu(node.runtime.supervisor?.pid, 5);
      await drainCri(cri);
      log(`round ${r + 1}/${config.rounds}: burst, ${config.pods} pods at once through the API`);
      const bs = await skiffLoad(client, { namespace, count: config.pods, intervalMs: 0, prefix: `bs${r}`, timeoutMs, containerdPid });
      await sleep(2000);
      const idleSkiff = await idleCpu(node.runtime.supervisor?.pid, 5);
      await drain(client, cri, namespace);
      burst.push({ cri: bc, skiff: bs, idle: { cri: idleCri, skiff: idleSkiff } });
    }
    return {
      startedAt: startedAt.toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadavgAtStart },
      config,
      nodeStartMs,
      paced,
      burst,
    };
  } catch (e) {
    process.stderr.write(`kubelet log (tail):\n${cluster.logs.slice(-40).join('\n')}\n`);
    throw e;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await teardown();
  }
}

// ------------------------------------------------------------------ table

export function formatPodsTable(r: PodsBenchResult): string {
  const rows: string[][] = [['load', 'path', 'p50', 'p90', 'p99', 'max', 'pods/s', 'CPU ms: skiff / containerd', 'aim']];
  const ms = (x: number) => `${(x / 1000).toFixed(2)} s`;
  const add = (load: string, what: string, d: Dist, l: LoadResult, aim = '') =>
    rows.push([load, what, ms(d.p50Ms), ms(d.p90Ms), ms(d.p99Ms), ms(d.maxMs), String(l.podsPerSecond), l.cpu && what.includes('Running') || what.includes('CRI') ? `${l.cpu?.skiffMs} / ${l.cpu?.containerdMs}` : '', aim]);
  const each = (name: string, list: { cri: LoadResult; skiff: LoadResult; idle?: { cri: IdleCpu; skiff: IdleCpu } }[], aim: string) => {
    list.forEach((x, i) => {
      const tag = list.length > 1 ? `${name} #${i + 1}` : name;
      add(tag, 'CRI only (baseline): → started', x.cri.toRunning, x.cri);
      if (x.skiff.toScheduled) add(tag, 'skiff: create → scheduled', x.skiff.toScheduled, x.skiff);
      add(tag, 'skiff: create → Running (SLI)', x.skiff.toRunning, x.skiff, aim);
      if (x.skiff.toReady) add(tag, 'skiff: create → Ready', x.skiff.toReady, x.skiff);
      rows.push(['', `  skiff p99 over CRI-only p99`, `${(x.skiff.toRunning.p99Ms / x.cri.toRunning.p99Ms).toFixed(2)}x`, '', '', '', '', '', '']);
      if (x.idle) idle.push(`${tag}: ${x.skiff.pods} pods running, idle ${x.idle.skiff.seconds} s: skiff process ${x.idle.skiff.skiffPct}% CPU, containerd ${x.idle.skiff.containerdPct}%; with the CRI-only pods instead: ${x.idle.cri.skiffPct}% and ${x.idle.cri.containerdPct}%`);
    });
  };
  const idle: string[] = [];
  each(`paced ${r.config.qps}/s`, r.paced, 'p99 <= 1.5 s');
  each('burst', r.burst, '');
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const fmt = (row: string[]) => row.map((cell, c) => (c >= 2 && c <= 6 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  const head = `Pod startup latency: ${r.config.pods} pods (${r.config.image}, sleep 3600, image present) on one real node; ${r.machine.cpus} CPUs, load ${r.machine.loadavgAtStart.join(' ')}; upstream SLO p99 <= 5 s`;
  return [head, fmt(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(fmt), ...idle].join('\n');
}

if (import.meta.main) {
  const { values: flags } = parseArgs({
    options: {
      pods: { type: 'string' },
      qps: { type: 'string' },
      rounds: { type: 'string' },
      'no-burst': { type: 'boolean' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    printUsageAndExit(import.meta.filename);
  }
  const why = podsBenchMissing();
  if (why) {
    if (flags.json) {
      process.stdout.write(JSON.stringify({ skipped: why }) + '\n');
      process.exit(0);
    }
    process.stderr.write(`bench:pods needs a real node: ${why}\n`);
    process.exit(2);
  }
  const config = {
    pods: Number(flags.pods ?? 50),
    qps: Number(flags.qps ?? 5),
    rounds: Number(flags.rounds ?? 1),
    burst: !flags['no-burst'],
    image: TEST_IMAGES.busybox,
  };
  const log = (m: string) => process.stderr.write(`[bench:pods ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
  const result = await runPodsBench(config, log);
  if (flags.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
  } else {
    const file = await saveResult(resolve(flags.out ?? join(REPO, 'bench', 'results')), 'pods', result);
    process.stdout.write(formatPodsTable(result) + `\n\nwrote ${file}\n`);
  }
  process.exit(0);
}
