// The controllers benchmark (`npm run bench:controllers`). Everything runs in this one
// process, as `skiff up --sim-nodes N` would: an apiserver on a temp dir, a SimPool of
// simulated nodes, the test binder standing in for the scheduler, and the controller
// manager (every controller of src/controllers/manager.ts builtinControllers) over the
// in-process transport. Each figure sits beside a baseline from the same run:
//
//   baseline      pod creates/s by a plain client loop (`--concurrency` in flight, the same
//                 pod template, pods left unscheduled) through the same transport
//   replicaset    one ReplicaSet of `--replicas` (pods left unscheduled, so only the
//                 controller and the apiserver work): pods created/s until all exist,
//                 and until status.replicas reports them, vs the baseline
//   deployment    a Deployment of `--replicas` on `--nodes` simulated nodes: seconds from
//                 create to status.readyReplicas = availableReplicas = replicas, with the
//                 time to all pods created and to all bound, vs the same number of plain
//                 pods created, bound and run by the same nodes (no controller)
//
//   node bench/controllers.ts [--quick] [--replicas 1000] [--nodes 100] [--concurrency 32]
//                             [--out bench/results] [--json]
//
// Writes <out>/controllers-<ISO time>.json and <out>/controllers-latest.json unless --json.

import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startApiServer } from '../src/apiserver/server.ts';
import type { KObject } from '../src/api/object.ts';
import { inProcessTransport } from '../src/client/inprocess.ts';
import { ref } from '../src/client/resources.ts';
import { createClient } from '../src/client/rest.ts';
import type { Client } from '../src/client/types.ts';
import { startInProcessSimPool } from '../src/kubelet/sim/index.ts';
import { builtinControllers, startControllerManager } from '../src/controllers/manager.ts';
import { CONTROLLER_MANAGER_USER, TEST_ADMIN, TestBinder } from '../src/controllers/testing.ts';
import { clearNotReadyTaints } from '../src/scheduler/testing/cluster.ts';
import { startInProcessScheduler } from '../src/cli/scheduler.ts';
import { printUsageAndExit, saveResult } from './processes.ts';

const REPO = resolve(import.meta.dirname, '..');

export interface ControllersBenchConfig {
  quick: boolean;
  replicas: number;
  nodes: number;
  concurrency: number;
  /** Who binds pods: the real scheduler (default) or the controllers' test binder. */
  binder: 'scheduler' | 'test';
}

export interface ControllersBenchResult {
  startedAt: string;
  machine: { cpus: number; cpuModel?: string; node: string; loadavgAtStart: number[] };
  config: ControllersBenchConfig;
  baseline: { pods: number; seconds: number; podsPerSecond: number };
  replicaset: { replicas: number; secondsToAllCreated: number; podsCreatedPerSecond: number; secondsToStatus: number; ratioToBaseline: number };
  deployment: {
    replicas: number;
    nodes: number;
    secondsToAllCreated: number;
    secondsToAllBound: number;
    secondsToAllReady: number;
    podsReadyPerSecond: number;
    baselineSecondsToAllRunning: number;
    ratioToBaseline: number;
  };
  rssMbPeak: number;
}

function round(x: number, d = 1): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function template(app: string, scheduler?: string): KObject {
  return {
    metadata: { labels: { app } },
    spec: {
      ...(scheduler ? { schedulerName: scheduler } : {}),
      containers: [
        {
          name: 'app',
          image: `registry.example.com/team/${app}:1.0`,
          ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
        },
      ],
    },
  } as KObject;
}

async function forEachLimit(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await fn(next++);
  }));
}

/** Watches pods of a namespace (no cache): how many exist, are bound, are Ready. */
function watchPods(client: Client, ns: string, signal: AbortSignal) {
  const seen = new Set<string>();
  const bound = new Set<string>();
  const ready = new Set<string>();
  let waiters: (() => void)[] = [];
  void (async () => {
    try {
      for await (const ev of client.watch(ref.pods, ns, { signal })) {
        const p = ev.object;
        if (ev.type === 'ADDED' || ev.type === 'MODIFIED') {
          seen.add(p.metadata.name!);
          if (p.spec?.nodeName) bound.add(p.metadata.name!);
          if (p.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True')) ready.add(p.metadata.name!);
        }
        const w = waiters;
        waiters = [];
        for (const f of w) f();
      }
    } catch {
      // Aborted.
    }
  })();
  const until = async (cond: () => boolean) => {
    while (!cond()) await new Promise<void>((r) => waiters.push(r));
  };
  return { seen, bound, ready, until };
}

async function namespace(client: Client, name: string): Promise<void> {
  await client.create(ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  // What the serviceaccount controller does for a new namespace (pods need it to be admitted).
  await client.create(ref.serviceaccounts, name, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }).catch((e) => {
    if (e?.code !== 409) throw e;
  });
}

async function waitFor(client: Client, res: typeof ref.deployments, ns: string, name: string, cond: (o: KObject) => boolean): Promise<void> {
  for (;;) {
    const o = await client.get(res, ns, name);
    if (cond(o)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function runControllersBench(config: ControllersBenchConfig, log: (m: string) => void = () => {}): Promise<ControllersBenchResult> {
  let rssPeak = 0;
  const rssTimer = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 200);
  const startedAt = new Date();
  const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-controllers-'));
  const server = await startApiServer({ dataDir: join(dir, 'data'), bindAddress: '127.0.0.1', bindPort: 0, advertiseAddress: '127.0.0.1' });
  const admin = createClient(inProcessTransport(server, TEST_ADMIN));
  const ac = new AbortController();
  const n = config.replicas;
  try {
    // ---- baseline: plain pod creates, unscheduled
    log(`baseline: ${n} pod creates, ${config.concurrency} in flight`);
    await namespace(admin, 'bench-baseline');
    let t0 = performance.now();
    await forEachLimit(n, config.concurrency, async (i) => {
      const t = template('plain', 'bench-nobody');
      await admin.create(ref.pods, 'bench-baseline', { apiVersion: 'v1', kind: 'Pod', metadata: { ...t.metadata, name: `plain-${i}` }, spec: t.spec });
    });
    const baseSeconds = (performance.now() - t0) / 1000;

    // ---- the controller manager and the nodes
    const pool = await startInProcessSimPool(server, { nodes: config.nodes, concurrency: config.concurrency }, ac.signal);
    if (config.binder === 'test') {
      const binder = new TestBinder(admin, pool.nodeNames());
      await binder.start(ac.signal);
    } else {
      // No node-lifecycle controller runs here: lift the not-ready taint new nodes carry.
      await clearNotReadyTaints(admin);
      startInProcessScheduler(server, { log: () => {} }, ac.signal).done.catch(() => {});
    }
    const manager = startControllerManager(
      { client: createClient(inProcessTransport(server, CONTROLLER_MANAGER_USER)), controllers: builtinControllers(), leaderElection: { enabled: false } },
      ac.signal,
    );
    await manager.whenReady();

    // ---- replicaset: pods created/s, unscheduled
    log(`replicaset: ${n} replicas, unscheduled`);
    await namespace(admin, 'bench-rs');
    const rsPods = watchPods(admin, 'bench-rs', ac.signal);
    t0 = performance.now();
    await admin.create(ref.replicasets, 'bench-rs', {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'burst' },
      spec: { replicas: n, selector: { matchLabels: { app: 'burst' } }, template: template('burst', 'bench-nobody') },
    });
    await rsPods.until(() => rsPods.seen.size >= n);
    const rsCreated = (performance.now() - t0) / 1000;
    await waitFor(admin, ref.replicasets, 'bench-rs', 'burst', (rs) => rs.status?.replicas === n);
    const rsStatus = (performance.now() - t0) / 1000;

    // ---- baseline for the deployment: plain pods run by the same nodes
    log(`deployment baseline: ${n} plain pods bound and run by ${config.nodes} nodes`);
    await namespace(admin, 'bench-plain');
    const plainPods = watchPods(admin, 'bench-plain', ac.signal);
    t0 = performance.now();
    await forEachLimit(n, config.concurrency, async (i) => {
      const t = template('plain');
      await admin.create(ref.pods, 'bench-plain', { apiVersion: 'v1', kind: 'Pod', metadata: { ...t.metadata, name: `plain-${i}` }, spec: t.spec });
    });
    await plainPods.until(() => plainPods.ready.size >= n);
    const plainSeconds = (performance.now() - t0) / 1000;
    await admin.deleteCollection(ref.pods, 'bench-plain', { gracePeriodSeconds: 0 });

    // ---- deployment to all Ready
    log(`deployment: ${n} replicas on ${config.nodes} nodes`);
    await namespace(admin, 'bench-deploy');
    const dPods = watchPods(admin, 'bench-deploy', ac.signal);
    t0 = performance.now();
    await admin.create(ref.deployments, 'bench-deploy', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { replicas: n, selector: { matchLabels: { app: 'web' } }, template: template('web') },
    });
    let created = 0;
    let bound = 0;
    void dPods.until(() => dPods.seen.size >= n).then(() => (created = (performance.now() - t0) / 1000));
    void dPods.until(() => dPods.bound.size >= n).then(() => (bound = (performance.now() - t0) / 1000));
    await waitFor(admin, ref.deployments, 'bench-deploy', 'web', (d) => d.status?.readyReplicas === n && d.status?.availableReplicas === n && d.status?.updatedReplicas === n);
    const readySeconds = (performance.now() - t0) / 1000;

    return {
      startedAt: startedAt.toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg().map((x) => round(x, 2)) },
      config,
      baseline: { pods: n, seconds: round(baseSeconds, 2), podsPerSecond: round(n / baseSeconds) },
      replicaset: {
        replicas: n,
        secondsToAllCreated: round(rsCreated, 2),
        podsCreatedPerSecond: round(n / rsCreated),
        secondsToStatus: round(rsStatus, 2),
        ratioToBaseline: round(n / rsCreated / (n / baseSeconds), 2),
      },
      deployment: {
        replicas: n,
        nodes: config.nodes,
        secondsToAllCreated: round(created, 2),
        secondsToAllBound: round(bound, 2),
        secondsToAllReady: round(readySeconds, 2),
        podsReadyPerSecond: round(n / readySeconds),
        baselineSecondsToAllRunning: round(plainSeconds, 2),
        ratioToBaseline: round(readySeconds / plainSeconds, 2),
      },
      rssMbPeak: round(Math.max(rssPeak, process.memoryUsage.rss()) / 2 ** 20),
    };
  } finally {
    clearInterval(rssTimer);
    ac.abort();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function table(r: ControllersBenchResult): string {
  const rows = [
    ['figure', 'value', 'baseline', 'ratio'],
    [`ReplicaSet of ${r.replicaset.replicas}: pods created/s`, String(r.replicaset.podsCreatedPerSecond), `${r.baseline.podsPerSecond} plain creates/s`, `${r.replicaset.ratioToBaseline}×`],
    ['  ... until status.replicas reports them (s)', String(r.replicaset.secondsToStatus), '', ''],
    [`Deployment of ${r.deployment.replicas} on ${r.deployment.nodes} nodes (${r.config.binder === 'test' ? 'test binder' : 'scheduler'}): all Ready (s)`, String(r.deployment.secondsToAllReady), `${r.deployment.baselineSecondsToAllRunning} s for plain pods`, `${r.deployment.ratioToBaseline}×`],
    ['  ... all pods created / all bound (s)', `${r.deployment.secondsToAllCreated} / ${r.deployment.secondsToAllBound}`, '', ''],
    ['peak RSS (MB)', String(r.rssMbPeak), '', ''],
  ];
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(w[i])).join('  ').trimEnd()).join('\n');
}

if (import.meta.main) {
  const { values: flags } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      replicas: { type: 'string' },
      nodes: { type: 'string' },
      concurrency: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      'test-binder': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (flags.help) {
    printUsageAndExit(import.meta.filename);
  }
  const quick = !!flags.quick;
  const config: ControllersBenchConfig = {
    quick,
    replicas: Number(flags.replicas ?? (quick ? 200 : 1000)),
    nodes: Number(flags.nodes ?? (quick ? 20 : 100)),
    concurrency: Number(flags.concurrency ?? 32),
    binder: flags['test-binder'] ? 'test' : 'scheduler',
  };
  const result = await runControllersBench(config, flags.json ? () => {} : (m) => process.stderr.write(m + '\n'));
  if (flags.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
  } else {
    await saveResult(resolve(REPO, flags.out ?? 'bench/results'), 'controllers', result);
    process.stdout.write(table(result) + '\n');
  }
  process.exit(0);
}
