// Cluster DNS throughput (`npm run bench:dns`): Debian's dnsperf on loopback against
// the DNS server answering cached service names, beside a trivial Node UDP echo server
// (it flips the QR bit and sends the query back) measured the same way in the same run:
// the ceiling of one Node event loop doing UDP. Each server runs alone in a child
// process, so its figure is one core's; the server's CPU over the run is reported too,
// and answers per CPU-second (on a small machine dnsperf itself may be the bottleneck).
//
//   node bench/dns.ts [--seconds 10] [--services 100] [--outstanding 200] [--json]
//
// Writes bench/results/dns-<ISO time>.json and dns-latest.json unless --json.
// Needs dnsperf (Debian package dnsperf).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { saveResult } from './processes.ts';

const REPO = resolve(import.meta.dirname, '..');
const ADDR = '127.0.0.2';

/** Child mode: `--serve dns|echo --services N` prints the port, then serves until killed. */
async function serve(kind: string, services: number): Promise<void> {
  if (kind === 'echo') {
    const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    s.on('message', (m, r) => {
      m[2] |= 0x80;
      s.send(m, r.port, r.address);
    });
    s.bind(0, ADDR, () => process.stdout.write(`port ${s.address().port}\n`));
    return;
  }
  const { StaticClusterData, service, slice } = await import('../src/dns/testing.ts');
  const { startDnsServer } = await import('../src/dns/server.ts');
  const d = new StaticClusterData();
  const svcs = [];
  const slices = [];
  for (let i = 0; i < services; i++) {
    svcs.push(service(`svc-${i}`).clusterIP(`10.96.${Math.floor(i / 250)}.${(i % 250) + 1}`).port('http', 80));
    slices.push(slice(`svc-${i}`).port('http', 8080).endpoint(`10.244.${Math.floor(i / 250)}.${(i % 250) + 1}`));
  }
  d.set({ services: svcs, slices });
  const server = await startDnsServer({ data: d, listen: [{ address: ADDR, port: 0 }], upstreams: [] }, new AbortController().signal);
  process.stdout.write(`port ${server.addresses()[0].port}\n`);
}

function cpuSeconds(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/stat`, 'utf8').then((s) => {
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
  });
}

async function startChild(kind: string, services: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', kind, '--services', String(services)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      const m = /port (\d+)/.exec(String(d));
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', (c) => reject(new Error(`${kind} server exited ${c}`)));
  });
  return { child, port };
}

function dnsperf(port: number, file: string, seconds: number, outstanding: number): Promise<{ qps: number; sent: number; completed: number; lost: number; latencyMs: number; out: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('dnsperf', ['-s', ADDR, '-p', String(port), '-d', file, '-l', String(seconds), '-q', String(outstanding)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new Error('dnsperf not found: install the Debian package dnsperf') : e));
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`dnsperf exited ${code}: ${out}`));
      const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
      resolve({
        qps: num(/Queries per second:\s+([\d.]+)/),
        sent: num(/Queries sent:\s+(\d+)/),
        completed: num(/Queries completed:\s+(\d+)/),
        lost: num(/Queries lost:\s+(\d+)/),
        latencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
        out,
      });
    });
  });
}

async function measure(kind: string, services: number, file: string, seconds: number, outstanding: number) {
  const { child, port } = await startChild(kind, services);
  try {
    // Warm-up: every name answered once, so the run measures cached answers.
    await dnsperf(port, file, 1, outstanding);
    const c0 = await cpuSeconds(child.pid!);
    const t0 = performance.now();
    const r = await dnsperf(port, file, seconds, outstanding);
    const wall = (performance.now() - t0) / 1000;
    const cpu = (await cpuSeconds(child.pid!)) - c0;
    return {
      qps: Math.round(r.qps),
      completed: r.completed,
      lost: r.lost,
      avgLatencyMs: Math.round(r.latencyMs * 1000) / 1000,
      serverCpuPercent: Math.round((cpu / wall) * 100),
      // Answers per second of server CPU: the figure that does not depend on whether the
      // load generator (sharing the machine) or the server was the bottleneck.
      qpsPerCpuSecond: Math.round(r.completed / Math.max(cpu, 0.01)),
    };
  } finally {
    child.kill('SIGKILL');
  }
}

/** The table `npm run bench:dns` and `npm run bench` print. */
export function formatDnsTable(out: DnsBenchResult): string {
  const { echo, dns } = out;
  const lines = [
    `Cluster DNS: dnsperf -q ${out.config.outstanding} -l ${out.config.seconds} on ${ADDR}, ${out.config.services} cached service names`,
    'server            qps   completed   lost  avg latency  server CPU  qps per CPU-second',
  ];
  for (const [name, r] of [['udp echo (Node)', echo], ['skiff dns', dns]] as const) {
    lines.push(`${name.padEnd(15)} ${String(r.qps).padStart(7)} ${String(r.completed).padStart(11)} ${String(r.lost).padStart(6)} ${String(r.avgLatencyMs).padStart(9)} ms ${String(r.serverCpuPercent).padStart(9)}%  ${String(r.qpsPerCpuSecond).padStart(18)}`);
  }
  lines.push(`dns / echo: ${out.ratioToEcho} (qps), ${out.cpuRatioToEcho} (qps per CPU-second)`);
  return lines.join('\n');
}

export type DnsBenchResult = {
  startedAt: string;
  machine: { cpus: number; cpuModel?: string; node: string; loadavgAtStart: number[] };
  config: { seconds: number; services: number; outstanding: number; queries: string };
  echo: Awaited<ReturnType<typeof measure>>;
  dns: Awaited<ReturnType<typeof measure>>;
  ratioToEcho: number;
  cpuRatioToEcho: number;
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { serve: { type: 'string' }, services: { type: 'string' }, seconds: { type: 'string' }, outstanding: { type: 'string' }, json: { type: 'boolean' } } });
  const services = Number(values.services ?? 100);
  if (values.serve) return serve(values.serve, services);
  if (values.json && spawnSync('dnsperf', ['-h']).error) {
    process.stdout.write(JSON.stringify({ skipped: 'dnsperf is not installed (Debian package dnsperf)' }) + '\n');
    return;
  }
  const seconds = Number(values.seconds ?? 10);
  const outstanding = Number(values.outstanding ?? 200);
  const dir = await mkdtemp(join(tmpdir(), 'skiff-dnsperf-'));
  try {
    const file = join(dir, 'queries.txt');
    const lines: string[] = [];
    for (let i = 0; i < services; i++) lines.push(`svc-${i}.default.svc.cluster.local A`);
    await writeFile(file, lines.join('\n') + '\n');
    const echo = await measure('echo', services, file, seconds, outstanding);
    const dns = await measure('dns', services, file, seconds, outstanding);
    const out: DnsBenchResult = {
      startedAt: new Date().toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg() },
      config: { seconds, services, outstanding, queries: 'A <svc>.default.svc.cluster.local, cached' },
      echo,
      dns,
      ratioToEcho: Math.round((dns.qps / echo.qps) * 100) / 100,
      cpuRatioToEcho: Math.round((dns.qpsPerCpuSecond / echo.qpsPerCpuSecond) * 100) / 100,
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(out) + '\n');
      return;
    }
    console.log(formatDnsTable(out));
    console.log(`wrote ${await saveResult(join(REPO, 'bench', 'results'), 'dns', out)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
