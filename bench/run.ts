// The apiserver benchmark (`npm run bench`; not part of the tests). Every figure is
// measured beside a baseline taken in the same run, because the machine is shared and
// noisy: the ratios are the result, the absolute numbers are context.
//
//   baselines   raw node:sqlite inserts/s; a bare Node https/h2 server's requests/s
//               (bench/bare-server.ts), driven by the same client as the apiserver
//   creates/s   POST ConfigMaps, `--concurrency` in flight, vs the bare server's POST/s
//   gets/s      GET of existing ConfigMaps, vs the bare server's GET/s
//   list        GET of every Pod in a namespace of `--pods` realistic Pods (p50/p99),
//               and the Table form kubectl asks for, limit=500
//   watch       `--watchers` watch streams on a namespace; `--writes` creates, one at a
//               time; delivery latency from the create request's start to each watcher
//   sim         simulated nodes (bench/sim.ts, in its own process): nodes registered/s,
//               idle heartbeat CPU per 1,000 nodes, memory per 10,000 pods (--no-sim skips)
//   pods        pod startup latency on a real node (bench/pods.ts, in its own process):
//               create → Running p50/p99 over 50 pods beside the same pods through CRI
//               alone (--no-pods skips; skipped with the reason when not root or
//               containerd, runc, CNI plugins, nft or busybox-static are missing)
//   proxy       service proxy rule programming latency for 100 and 1,000 Services of 10
//               endpoints (bench/proxy.ts, own process, a netns of its own) beside an empty
//               nft -f (--no-proxy skips; skipped with the reason when not root or no nft)
//   dns         cluster DNS queries/s for cached service names with Debian's dnsperf on
//               loopback beside a trivial Node UDP echo server (bench/dns.ts; --no-dns
//               skips; skipped with the reason when dnsperf is missing)
//
// The apiserver and the bare server each run in their own process (node src/cli/main.ts
// server; node bench/bare-server.ts); the client load runs here. Sizes are flags:
//
//   node bench/run.ts [--quick] [--protocols h1,h2] [--concurrency 32] [--creates 10000]
//                     [--gets 20000] [--pods 5000] [--list-runs 20] [--watchers 100]
//                     [--writes 500] [--write-interval-ms 5] [--rounds 3] [--cpu-prof]
//                     [--no-sim] [--no-pods] [--no-proxy] [--no-dns] [--out bench/results]
//
// Throughput figures are the best of --rounds (bare and apiserver alternate within a
// round). A figure whose client process was near 100% CPU is marked client-bound: the
// load generator, not the server, set that rate, so the server could do more.
//
// Writes <out>/<ISO time>.json and <out>/latest.json; prints a table.

import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { rawSqliteInsertsPerSecond } from '../src/storage/sqlite-baseline.ts';
import { createClient, percentile, readAdminCredentials, runConcurrent, type Client, type Protocol, type StreamHandle } from './client.ts';
import { processCpuMs, runJsonChild, startChild, type Child, printUsageAndExit } from './processes.ts';
import { formatProfile, summarizeProfile, type ProfileSummary } from './profile.ts';
import { formatSimTable, runSimBenchChild } from './sim.ts';
import { formatPodsTable, type PodsBenchResult } from './pods.ts';
import { formatProxyTable, type ProxyBenchResult } from './proxy.ts';
import { formatDnsTable, type DnsBenchResult } from './dns.ts';

const REPO = resolve(import.meta.dirname, '..');

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    protocols: { type: 'string' },
    concurrency: { type: 'string' },
    creates: { type: 'string' },
    gets: { type: 'string' },
    pods: { type: 'string' },
    'list-runs': { type: 'string' },
    watchers: { type: 'string' },
    writes: { type: 'string' },
    'write-interval-ms': { type: 'string' },
    rounds: { type: 'string' },
    'cpu-prof': { type: 'boolean' },
    'no-sim': { type: 'boolean' },
    'no-pods': { type: 'boolean' },
    'no-proxy': { type: 'boolean' },
    'no-dns': { type: 'boolean' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (flags.help) {
  printUsageAndExit(import.meta.filename);
}

const quick = flags.quick ?? false;
const num = (v: string | undefined, full: number, small: number) => (v !== undefined ? Number(v) : quick ? small : full);
const config = {
  quick,
  protocols: (flags.protocols ?? 'h1,h2').split(',').map((s) => s.trim()) as Protocol[],
  concurrency: num(flags.concurrency, 32, 32),
  creates: num(flags.creates, 10_000, 1000),
  gets: num(flags.gets, 20_000, 2000),
  pods: num(flags.pods, 5000, 1000),
  listRuns: num(flags['list-runs'], 20, 5),
  watchers: num(flags.watchers, 100, 100),
  writes: num(flags.writes, 500, 100),
  writeIntervalMs: num(flags['write-interval-ms'], 5, 5),
  rounds: num(flags.rounds, 3, 1),
  rawSqliteInserts: quick ? 2000 : 10_000,
  warmup: quick ? 200 : 500,
  cpuProfile: flags['cpu-prof'] ?? false,
};
for (const p of config.protocols) if (p !== 'h1' && p !== 'h2') throw new Error(`--protocols: unknown protocol ${p} (h1, h2)`);
const primary = config.protocols[0];
const outDir = resolve(flags.out ?? join(REPO, 'bench', 'results'));

// ------------------------------------------------------------------ fixtures

const NS_CONFIGMAPS = 'bench-cm';
const NS_PODS = 'bench';
const NS_WATCH = 'bench-watch';

/** A small ConfigMap, about the size of the ones controllers and Helm write. */
function configMap(name: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, labels: { app: 'bench', 'app.kubernetes.io/part-of': 'skiff-bench' } },
    data: { 'config.yaml': 'listen: 0.0.0.0:8080\nlogLevel: info\nfeatures:\n  - a\n  - b\n', mode: 'production' },
  });
}

/** A Pod as a Deployment would stamp it out: labels, one container with ports, env, resources, a probe. */
function benchPod(i: number): string {
  const app = `web-${i % 50}`;
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${app}-7d9f8b6c5d-${i.toString(36).padStart(5, '0')}`,
      labels: { app, 'app.kubernetes.io/name': app, 'pod-template-hash': '7d9f8b6c5d', tier: i % 3 ? 'frontend' : 'backend' },
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' },
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: `registry.example.com/team/${app}:1.${i % 7}.${i % 13}`,
          ports: [
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
            { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
          ],
          env: [
            { name: 'LOG_LEVEL', value: 'info' },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          ],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '500m', memory: '256Mi' } },
          readinessProbe: { httpGet: { path: '/healthz', port: 8080 }, periodSeconds: 10 },
        },
      ],
    },
  });
}

const TABLE_ACCEPT = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

// ------------------------------------------------------------------ measurement

interface Throughput {
  count: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Server process CPU per request (user + system), from /proc; absent off Linux. */
  serverCpuUsPerRequest?: number;
  /** This (client) process's CPU use during the run, % of one core: near 100 means client-bound. */
  clientCpuPct: number;
}

async function measure({ serverPid, count }: { serverPid: number | undefined; count: number }, f: (i: number) => Promise<void>): Promise<Throughput> {
  const cpu0 = processCpuMs(serverPid);
  const client0 = process.cpuUsage();
  const { seconds, latenciesMs } = await runConcurrent({ count, concurrency: config.concurrency }, f);
  const cpu1 = processCpuMs(serverPid);
  const client = process.cpuUsage(client0);
  const out: Throughput = {
    count,
    requestsPerSecond: Math.round(count / seconds),
    p50Ms: round(percentile(latenciesMs, 50), 2),
    p99Ms: round(percentile(latenciesMs, 99), 2),
    clientCpuPct: Math.round((client.user + client.system) / 1000 / (seconds * 1000) * 100),
  };
  if (cpu0 !== undefined && cpu1 !== undefined) out.serverCpuUsPerRequest = Math.round(((cpu1 - cpu0) * 1000) / count);
  return out;
}

function round(x: number, digits = 0): number {
  const m = 10 ** digits;
  return Math.round(x * m) / m;
}

function cpuRatio(bare: Throughput, api: Throughput): number | undefined {
  if (!bare.serverCpuUsPerRequest || !api.serverCpuUsPerRequest) return undefined;
  return round(bare.serverCpuUsPerRequest / api.serverCpuUsPerRequest, 3);
}

function expectStatus(res: { status: number; body: string }, { want, what }: { want: number[]; what: string }): void {
  if (!want.includes(res.status)) throw new Error(`${what}: HTTP ${res.status}: ${res.body.slice(0, 500)}`);
}

/** The best of several rounds (the least disturbed by the neighbours), with every round kept. */
function best(rounds: Throughput[]): Throughput & { rounds: number[] } {
  const top = rounds.reduce((a, b) => (b.requestsPerSecond > a.requestsPerSecond ? b : a));
  return { ...top, rounds: rounds.map((r) => r.requestsPerSecond) };
}

async function withTimeout<T>(p: Promise<T>, { ms, message }: { ms: number; message: () => string }): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message())), ms)));
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// ------------------------------------------------------------------ phases

async function throughputPhase(opts: {
  protocol: Protocol;
  api: Client;
  bare: Client;
  apiPid: number | undefined;
  barePid: number | undefined;
}) {
  const { protocol, api, bare } = opts;
  const base = `/api/v1/namespaces/${NS_CONFIGMAPS}/configmaps`;
  // Warm both sides (JIT, connections, the cache's first objects) outside the timings.
  const warmNames: string[] = [];
  await runConcurrent({ count: config.warmup, concurrency: config.concurrency }, async (i) => {
    const name = `warm-${protocol}-${i}`;
    warmNames.push(name);
    expectStatus(await api.request('POST', base, { body: configMap(name) }), { want: [201], what: 'warmup create' });
    expectStatus(await api.request('GET', `${base}/${name}`), { want: [200], what: 'warmup get' });
    expectStatus(await bare.request('POST', base, { body: configMap(name) }), { want: [201], what: 'warmup bare POST' });
    expectStatus(await bare.request('GET', `${base}/${name}`), { want: [200], what: 'warmup bare GET' });
  });

  const bareCreates: Throughput[] = [];
  const apiCreates: Throughput[] = [];
  const bareGets: Throughput[] = [];
  const apiGets: Throughput[] = [];
  for (let k = 0; k < config.rounds; k++) {
    const names = Array.from({ length: config.creates }, (_, i) => `cm-${protocol}-r${k}-${String(i).padStart(6, '0')}`);
    log(`${protocol} round ${k + 1}/${config.rounds}: ${config.creates} POSTs to the bare server`);
    bareCreates.push(await measure({ serverPid: opts.barePid, count: config.creates }, async (i) => expectStatus(await bare.request('POST', base, { body: configMap(names[i]) }), { want: [201], what: 'bare POST' })));
    log(`${protocol} round ${k + 1}/${config.rounds}: ${config.creates} ConfigMap creates`);
    apiCreates.push(await measure({ serverPid: opts.apiPid, count: config.creates }, async (i) => expectStatus(await api.request('POST', base, { body: configMap(names[i]) }), { want: [201], what: 'create' })));
    // Gets spread over every object created in this round, in a scrambled order.
    const pick = (i: number) => names[(i * 7919) % names.length];
    log(`${protocol} round ${k + 1}/${config.rounds}: ${config.gets} GETs to the bare server`);
    bareGets.push(await measure({ serverPid: opts.barePid, count: config.gets }, async (i) => expectStatus(await bare.request('GET', `${base}/${pick(i)}`), { want: [200], what: 'bare GET' })));
    log(`${protocol} round ${k + 1}/${config.rounds}: ${config.gets} ConfigMap gets`);
    apiGets.push(await measure({ serverPid: opts.apiPid, count: config.gets }, async (i) => expectStatus(await api.request('GET', `${base}/${pick(i)}`), { want: [200], what: 'get' })));
  }
  const bc = best(bareCreates);
  const ac = best(apiCreates);
  const bg = best(bareGets);
  const ag = best(apiGets);
  return {
    bareServerPost: bc,
    apiCreates: ac,
    createsRatio: round(ac.requestsPerSecond / bc.requestsPerSecond, 3),
    createsRatioPerRound: apiCreates.map((a, i) => round(a.requestsPerSecond / bareCreates[i].requestsPerSecond, 3)),
    bareServerGet: bg,
    apiGets: ag,
    getsRatio: round(ag.requestsPerSecond / bg.requestsPerSecond, 3),
    getsRatioPerRound: apiGets.map((a, i) => round(a.requestsPerSecond / bareGets[i].requestsPerSecond, 3)),
    // Server CPU per request, bare over apiserver: the rate ratio the apiserver would reach
    // if CPU alone limited both, free of the client's and the neighbours' noise.
    createsCpuRatio: cpuRatio(bc, ac),
    getsCpuRatio: cpuRatio(bg, ag),
  };
}

async function listPhase(api: Client, apiPid: number | undefined) {
  const base = `/api/v1/namespaces/${NS_PODS}/pods`;
  log(`creating ${config.pods} Pods in namespace ${NS_PODS}`);
  const creates = await measure({ serverPid: apiPid, count: config.pods }, async (i) => expectStatus(await api.request('POST', base, { body: benchPod(i) }), { want: [201], what: 'pod create' }));

  const time = async (path: string, headers?: Record<string, string>) => {
    const ms: number[] = [];
    let bytes = 0;
    let items = 0;
    for (let i = 0; i < 2; i++) await api.request('GET', path, { headers, discardBody: true }); // warm
    const cpu0 = processCpuMs(apiPid);
    for (let i = 0; i < config.listRuns; i++) {
      const t = performance.now();
      const res = await api.request('GET', path, { headers, discardBody: i > 0 });
      ms.push(performance.now() - t);
      expectStatus(res, { want: [200], what: `GET ${path}` });
      bytes = res.bytes;
      if (i === 0) {
        const body = JSON.parse(res.body) as { items?: unknown[]; rows?: unknown[] };
        items = (body.items ?? body.rows ?? []).length;
      }
    }
    const cpu1 = processCpuMs(apiPid);
    return {
      runs: config.listRuns,
      items,
      responseBytes: bytes,
      p50Ms: round(percentile(ms, 50), 1),
      p99Ms: round(percentile(ms, 99), 1),
      minMs: round(Math.min(...ms), 1),
      serverCpuMsPerList: cpu0 !== undefined && cpu1 !== undefined ? round((cpu1 - cpu0) / config.listRuns, 1) : undefined,
    };
  };
  log(`listing ${config.pods} Pods, ${config.listRuns} runs`);
  const full = await time(base);
  log(`listing as Table, limit=500, ${config.listRuns} runs`);
  const table = await time(`${base}?limit=500`, { accept: TABLE_ACCEPT });
  return { podCreates: creates, listAllPods: full, listTableLimit500: table };
}

async function watchPhase(api: Client, watchClient: Client) {
  const base = `/api/v1/namespaces/${NS_WATCH}/configmaps`;
  const list = await api.request('GET', base);
  expectStatus(list, { want: [200], what: 'list before watch' });
  const listRV = (JSON.parse(list.body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;

  interface Pending {
    start: number;
    responded: number;
    remaining: number;
    first: number;
    last: number;
    /** Arrival times of deliveries that came before the create's response. */
    beforeResponse: number[];
    /** False for the sentinel that proves every watch is open. */
    measured: boolean;
    done: () => void;
  }
  const pending = new Map<string, Pending>();
  const fromStart: number[] = [];
  // Delivery time minus the create's 2xx arrival: negative when the event beat the response.
  const fromResponse: number[] = [];
  const firstWatcher: number[] = [];
  const lastWatcher: number[] = [];
  let unexpected = 0;

  // Events are told apart by name (bw-NNNNNN), found with indexOf rather than JSON.parse:
  // with 100 streams in one client process, parsing would be the client's own latency.
  const watcher = () => {
    let partial = '';
    return (chunk: Buffer) => {
      const now = performance.now();
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const at = line.indexOf('"name":"bw-');
        if (at < 0) continue;
        const name = line.slice(at + 8, line.indexOf('"', at + 8));
        const p = pending.get(name);
        if (!p) {
          unexpected++;
          continue;
        }
        if (p.measured) {
          const ms = now - p.start;
          fromStart.push(ms);
          if (p.first === 0) p.first = ms;
          p.last = ms;
          if (p.responded) fromResponse.push(now - p.responded);
          else p.beforeResponse.push(now);
        }
        if (--p.remaining === 0) p.done();
      }
    };
  };

  log(`opening ${config.watchers} watches on namespace ${NS_WATCH} at resourceVersion ${listRV}`);
  const streams: StreamHandle[] = [];
  const watchPath = `${base}?watch=true&resourceVersion=${listRV}`;
  for (let i = 0; i < config.watchers; i++) streams.push(watchClient.stream(watchPath, watcher()));
  // A watch is only known to be registered once it has delivered something (over HTTP/1.1
  // the response headers may wait for the first event), so one sentinel create must reach
  // every stream before the measured writes begin.
  const sentinel: Pending = { start: 0, responded: 0, remaining: config.watchers, first: 0, last: 0, beforeResponse: [], measured: false, done: () => {} };
  const allOpen = new Promise<void>((resolve) => (sentinel.done = resolve));
  pending.set('bw-ready', sentinel);
  expectStatus(await api.request('POST', base, { body: configMap('bw-ready') }), { want: [201], what: 'watch sentinel create' });
  await withTimeout(allOpen, {
    ms: 30_000,
    message: () => `watch: only ${config.watchers - sentinel.remaining} of ${config.watchers} watches saw the sentinel create`,
  });
  const statuses = await Promise.all(streams.map((s) => s.ready));
  for (const s of statuses) if (s !== 200) throw new Error(`watch: HTTP ${s}`);
  pending.delete('bw-ready');

  // Deliveries that arrived before the create's response are counted, so the reader knows
  // how often the event beats the response.
  let beforeResponse = 0;
  let missed = 0;
  const writeMs: number[] = [];
  log(`${config.writes} creates, one at a time, every ${config.writeIntervalMs} ms or slower`);
  for (let k = 0; k < config.writes; k++) {
    const name = `bw-${String(k).padStart(6, '0')}`;
    const started = performance.now();
    const p: Pending = { start: started, responded: 0, remaining: config.watchers, first: 0, last: 0, beforeResponse: [], measured: true, done: () => {} };
    const delivered = new Promise<void>((resolve) => (p.done = resolve));
    pending.set(name, p);
    const res = await api.request('POST', base, { body: configMap(name) });
    p.responded = performance.now();
    writeMs.push(p.responded - started);
    beforeResponse += p.beforeResponse.length;
    for (const t of p.beforeResponse) fromResponse.push(t - p.responded);
    expectStatus(res, { want: [201], what: 'watch-phase create' });
    // A delivery that has not come in 5 s counts as missed; the run goes on.
    await withTimeout(delivered, { ms: 5000, message: () => 'missed' }).catch(() => (missed += p.remaining));
    firstWatcher.push(p.first);
    lastWatcher.push(p.last);
    pending.delete(name);
    const wait = started + config.writeIntervalMs - performance.now();
    if (wait > 0) await sleep(wait);
  }
  for (const s of streams) s.close();
  const pct = (a: number[]) => ({ p50Ms: round(percentile(a, 50), 2), p99Ms: round(percentile(a, 99), 2), maxMs: round(Math.max(...a), 2) });
  return {
    watchers: config.watchers,
    writes: config.writes,
    deliveries: fromStart.length,
    missed,
    unexpected,
    deliveredBeforeResponse: beforeResponse,
    /** The primary figure: create request start to a watcher reading the event. */
    fromRequestStart: pct(fromStart),
    /** Delivery minus the create's 2xx reaching the client; negative: the event came first. */
    fromResponse: pct(fromResponse),
    /** Per write: the first and the last of the watchers to see it (fan-out spread). */
    firstWatcherFromRequestStart: pct(firstWatcher),
    lastWatcherFromRequestStart: pct(lastWatcher),
    createRoundTrip: pct(writeMs),
  };
}

// ------------------------------------------------------------------ main

const startedAt = new Date();
const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-'));
const dataDir = join(dir, 'data');
const profileDir = join(outDir, 'profiles', startedAt.toISOString().replace(/:/g, '-'));
let apiChild: Child | undefined;
let bareChild: Child | undefined;
const clients: Client[] = [];
try {
  log(`raw node:sqlite baseline, ${config.rawSqliteInserts} inserts`);
  const rawInserts = await rawSqliteInsertsPerSecond(dir, config.rawSqliteInserts);

  log('starting the apiserver (node src/cli/main.ts server)');
  const t0 = performance.now();
  const apiArgs = [
    ...(config.cpuProfile ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
    join(REPO, 'src', 'cli', 'main.ts'),
    'server',
    '--data-dir', dataDir,
    '--bind-port', '0',
    '--bind-address', '127.0.0.1',
    '--advertise-address', '127.0.0.1',
  ];
  const started = await startChild(apiArgs, { ready: /running at (https:\/\/\S+)\n(?:.*\n)*export KUBECONFIG=\S+\n/, cwd: REPO });
  apiChild = started.child;
  const apiUrl = started.match[1];
  const apiStartMs = Math.round(performance.now() - t0);
  const creds = readAdminCredentials(dataDir);
  const apiFor = new Map<Protocol, Client>();
  for (const p of config.protocols) {
    const c = createClient(apiUrl, creds, { protocol: p, maxSockets: config.concurrency });
    apiFor.set(p, c);
    clients.push(c);
  }
  const api = apiFor.get(primary)!;
  for (const ns of [NS_CONFIGMAPS, NS_PODS, NS_WATCH]) {
    const res = await api.request('POST', '/api/v1/namespaces', { body: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }) });
    expectStatus(res, { want: [201, 409], what: `create namespace ${ns}` });
    // Pods need their namespace's default ServiceAccount (admission); no controller runs here.
    const sa = await api.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: JSON.stringify({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } }) });
    expectStatus(sa, { want: [201, 409], what: `create serviceaccount ${ns}/default` });
  }
  // The bare server answers with a real create response, so both sides send the same bytes.
  const sample = await api.request('POST', `/api/v1/namespaces/${NS_CONFIGMAPS}/configmaps`, { body: configMap('sample') });
  expectStatus(sample, { want: [201], what: 'sample create' });

  log('starting the bare baseline server (node bench/bare-server.ts)');
  const bare = await startChild([join(REPO, 'bench', 'bare-server.ts'), '--pki', join(dataDir, 'pki')], {
    ready: /listening (\d+)\n/,
    env: { ...process.env, BENCH_RESPONSE_BODY: sample.body },
  });
  bareChild = bare.child;
  const bareUrl = `https://127.0.0.1:${bare.match[1]}`;

  const throughput: Record<string, Awaited<ReturnType<typeof throughputPhase>>> = {};
  for (const p of config.protocols) {
    const bareClient = createClient(bareUrl, creds, { protocol: p, maxSockets: config.concurrency });
    clients.push(bareClient);
    throughput[p] = await throughputPhase({ protocol: p, api: apiFor.get(p)!, bare: bareClient, apiPid: apiChild.proc.pid, barePid: bareChild.proc.pid });
    bareClient.close();
  }
  await bareChild.stop();

  const list = await listPhase(api, apiChild.proc.pid);
  // Watches get their own client (h2: their own session), as an informer's would be.
  const watchClient = createClient(apiUrl, creds, { protocol: primary, maxSockets: config.watchers });
  clients.push(watchClient);
  const watch = await watchPhase(api, watchClient);

  for (const c of clients) c.close();
  const serverCpuTotalMs = processCpuMs(apiChild.proc.pid);
  await apiChild.stop();

  let sim;
  if (!flags['no-sim']) {
    log('simulated nodes (node bench/sim.ts)');
    sim = await runSimBenchChild(quick ? ['--quick'] : []);
  }
  /** A section measured by its own script in its own process; undefined (with the reason logged) when it cannot run here. */
  const section = async <T,>(name: string, script: string, args: string[]): Promise<T | undefined> => {
    log(`${name} (node bench/${script})`);
    const r = await runJsonChild<T>(join(REPO, 'bench', script), args, { cwd: REPO });
    if (r && typeof r === 'object' && 'skipped' in r) {
      log(`${name} skipped: ${(r as { skipped: string }).skipped}`);
      return undefined;
    }
    return r as T;
  };
  const pods = flags['no-pods'] ? undefined : await section<PodsBenchResult>('pod startup latency on a real node', 'pods.ts', []);
  const proxy = flags['no-proxy'] ? undefined : await section<ProxyBenchResult>('service proxy rule programming', 'proxy.ts', quick ? ['--rounds', '3'] : []);
  const dns = flags['no-dns'] ? undefined : await section<DnsBenchResult>('cluster DNS queries/s', 'dns.ts', quick ? ['--seconds', '3'] : []);

  let profile: (ProfileSummary & { file: string }) | undefined;
  if (config.cpuProfile) {
    const files = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile'));
    if (files[0]) {
      const file = join(profileDir, files[0]);
      profile = { file, ...summarizeProfile(file, { root: REPO }) };
    }
  }

  const result = {
    startedAt: startedAt.toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg().map((l) => round(l, 2)) },
    config,
    apiStartMs,
    baselines: { rawSqliteInsertsPerSecond: Math.round(rawInserts) },
    throughput,
    list,
    watch,
    serverCpuTotalMs,
    profile,
    sim,
    pods,
    proxy,
    dns,
  };
  await mkdir(outDir, { recursive: true });
  const json = JSON.stringify(result, null, 2) + '\n';
  const file = join(outDir, `${startedAt.toISOString().replace(/:/g, '-')}.json`);
  await writeFile(file, json);
  await writeFile(join(outDir, 'latest.json'), json);

  process.stdout.write(formatTable(result) + '\n');
  if (sim) process.stdout.write('\n' + formatSimTable(sim) + '\n');
  if (pods) process.stdout.write('\n' + formatPodsTable(pods) + '\n');
  if (proxy) process.stdout.write('\n' + formatProxyTable(proxy) + '\n');
  if (dns) process.stdout.write('\n' + formatDnsTable(dns) + '\n');
  if (profile) process.stdout.write(`\napiserver CPU profile (${profile.file}):\n${formatProfile({ ...profile, topSelf: profile.topSelf.slice(0, 15), topInclusive: profile.topInclusive.slice(0, 15), byFile: profile.byFile.slice(0, 10) })}\n`);
  process.stdout.write(`\nwrote ${file}\n`);
} catch (e) {
  if (apiChild) process.stderr.write(`apiserver stderr (tail):\n${apiChild.stderrTail()}\n`);
  throw e;
} finally {
  for (const c of clients) c.close();
  await bareChild?.stop();
  await apiChild?.stop();
  await rm(dir, { recursive: true, force: true });
}

// ------------------------------------------------------------------ table

function formatTable(r: {
  machine: { cpus: number; node: string; loadavgAtStart: number[] };
  apiStartMs: number;
  baselines: { rawSqliteInsertsPerSecond: number };
  throughput: Record<string, Awaited<ReturnType<typeof throughputPhase>>>;
  list: Awaited<ReturnType<typeof listPhase>>;
  watch: Awaited<ReturnType<typeof watchPhase>>;
}): string {
  const rows: string[][] = [['figure', 'value', 'baseline (same run)', 'ratio (by CPU/req)', 'aim']];
  const ratioCell = (rate: number, cpu: number | undefined) => `${(rate * 100).toFixed(0)}%` + (cpu !== undefined ? ` (${(cpu * 100).toFixed(0)}%)` : '');
  const n = (x: number) => x.toLocaleString('en-US');
  const cpu = (t: Throughput) =>
    (t.serverCpuUsPerRequest !== undefined ? `, ${t.serverCpuUsPerRequest} us CPU/req` : '') + (t.clientCpuPct >= 90 ? ', client-bound' : '');
  rows.push(['raw node:sqlite inserts/s', n(r.baselines.rawSqliteInsertsPerSecond), '', '', '']);
  for (const [p, t] of Object.entries(r.throughput)) {
    const tag = p === 'h1' ? 'HTTP/1.1' : 'HTTP/2';
    rows.push([`bare server POST/s (${tag})`, `${n(t.bareServerPost.requestsPerSecond)}`, `p99 ${t.bareServerPost.p99Ms} ms${cpu(t.bareServerPost)}`, '', '']);
    rows.push([
      `API creates/s, ConfigMap (${tag})`,
      n(t.apiCreates.requestsPerSecond),
      `${n(t.bareServerPost.requestsPerSecond)} bare POST/s; p99 ${t.apiCreates.p99Ms} ms${cpu(t.apiCreates)}`,
      ratioCell(t.createsRatio, t.createsCpuRatio),
      '>= 40%',
    ]);
    rows.push([
      `  vs raw sqlite inserts/s`,
      '',
      n(r.baselines.rawSqliteInsertsPerSecond),
      `${((t.apiCreates.requestsPerSecond / r.baselines.rawSqliteInsertsPerSecond) * 100).toFixed(0)}%`,
      '',
    ]);
    rows.push([`bare server GET/s (${tag})`, n(t.bareServerGet.requestsPerSecond), `p99 ${t.bareServerGet.p99Ms} ms${cpu(t.bareServerGet)}`, '', '']);
    rows.push([
      `API gets/s, ConfigMap (${tag})`,
      n(t.apiGets.requestsPerSecond),
      `${n(t.bareServerGet.requestsPerSecond)} bare GET/s; p99 ${t.apiGets.p99Ms} ms${cpu(t.apiGets)}`,
      ratioCell(t.getsRatio, t.getsCpuRatio),
      '',
    ]);
  }
  const l = r.list;
  rows.push([`API creates/s, Pod (${primary})`, n(l.podCreates.requestsPerSecond), `p99 ${l.podCreates.p99Ms} ms${cpu(l.podCreates)}`, '', '']);
  rows.push([
    `list ${n(l.listAllPods.items)} pods, JSON, p50 / p99`,
    `${l.listAllPods.p50Ms} / ${l.listAllPods.p99Ms} ms`,
    `${(l.listAllPods.responseBytes / 1e6).toFixed(1)} MB; server CPU ${l.listAllPods.serverCpuMsPerList} ms/list`,
    '',
    'p50 < 100 ms',
  ]);
  rows.push([
    `list as Table, limit=500, p50 / p99`,
    `${l.listTableLimit500.p50Ms} / ${l.listTableLimit500.p99Ms} ms`,
    `${l.listTableLimit500.items} rows, ${(l.listTableLimit500.responseBytes / 1e3).toFixed(0)} kB; server CPU ${l.listTableLimit500.serverCpuMsPerList} ms/list`,
    '',
    '',
  ]);
  const w = r.watch;
  rows.push([
    `watch delivery, ${w.watchers} watchers, p50 / p99`,
    `${w.fromRequestStart.p50Ms} / ${w.fromRequestStart.p99Ms} ms`,
    `from create request start; ${n(w.deliveries)} deliveries, ${w.missed} missed`,
    '',
    'p99 < 10 ms',
  ]);
  rows.push([`  relative to the create's 2xx, p50 / p99`, `${w.fromResponse.p50Ms} / ${w.fromResponse.p99Ms} ms`, `negative: before the 2xx (${n(w.deliveredBeforeResponse)} deliveries were)`, '', '']);
  rows.push([`  first / last watcher per write, p99`, `${w.firstWatcherFromRequestStart.p99Ms} / ${w.lastWatcherFromRequestStart.p99Ms} ms`, `create round trip p50 ${w.createRoundTrip.p50Ms} ms`, '', '']);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const fmt = (row: string[]) => row.map((cell, c) => (c === 1 || c === 3 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  const head = `Skiff apiserver bench: ${r.machine.cpus} CPUs, node ${r.machine.node}, load ${r.machine.loadavgAtStart.join(' ')}, ${config.concurrency} in flight, apiserver up in ${r.apiStartMs} ms`;
  return [head, fmt(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(fmt)].join('\n');
}
