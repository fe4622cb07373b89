// Rule programming latency of the service proxy (`npm run bench:proxy`): for 100 and
// 1,000 services with 10 endpoints each, the time to render the nftables table and
// replace it with `nft -f` inside a network namespace this benchmark creates (and
// deletes). Figures, each beside a baseline from the same run:
//
//   first      the table created from nothing
//   change     one endpoint of one service changed, the whole table replaced again
//              (what every sync costs), median and p90 of --rounds runs
//   render     the render alone (TypeScript), median
//   baseline   an nft -f of an empty table in the same namespace: the fixed cost of
//              starting nft and one transaction, which every sync pays
//
//   node bench/proxy.ts [--sizes 100,1000] [--endpoints 10] [--rounds 10] [--json]
//
// Writes bench/results/proxy-<ISO time>.json and proxy-latest.json unless --json.
// Needs root, iproute2 and nftables.

import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import type { ServicePort } from '../src/proxy/model.ts';
import { nftRunner } from '../src/proxy/nft.ts';
import { removeScript, renderRuleset } from '../src/proxy/render.ts';
import { sh } from '../src/proxy/testing.ts';
import { saveResult } from './processes.ts';

const REPO = resolve(import.meta.dirname, '..');

function servicePortsFor(n: number, endpoints: number, generation: number): ServicePort[] {
  const out: ServicePort[] = [];
  for (let i = 0; i < n; i++) {
    const eps = [];
    for (let e = 0; e < endpoints; e++) {
      const k = i * endpoints + e;
      // Service 0's first endpoint moves with each generation: one change per round.
      const host = i === 0 && e === 0 ? 200 + (generation % 50) : (k % 250) + 2;
      eps.push({ ip: `10.${244 + Math.floor(k / 62500)}.${Math.floor(k / 250) % 250}.${host}`, port: 8080, ready: true, serving: true, terminating: false, nodeName: e % 3 === 0 ? 'node-a' : 'node-b' });
    }
    out.push({
      namespace: `ns${i % 20}`,
      name: `svc-${i}`,
      portName: 'http',
      protocol: 'tcp',
      family: 4,
      port: 80,
      clusterIP: `10.${96 + Math.floor(i / 65536)}.${Math.floor(i / 256) % 256}.${i % 256}`,
      nodePort: i % 5 === 0 ? 30000 + i : 0,
      externalIPs: [],
      loadBalancerIPs: [],
      affinitySeconds: 0,
      internalLocal: false,
      externalLocal: false,
      endpoints: eps,
    });
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))];

export type ProxyBenchResult = { startedAt: string; machine: { cpus: number; cpuModel?: string; node: string; loadavgAtStart: number[] }; results: Record<string, unknown>[] };

/** The table `npm run bench:proxy` and `npm run bench` print. */
export function formatProxyTable(out: ProxyBenchResult): string {
  const lines = [
    'Service proxy: rule programming latency (render + nft -f, whole table, in a netns)',
    'services  endpoints  chains  rules   elements  script  first    change p50/p90    render  empty nft -f  ratio',
  ];
  for (const r of out.results as any[]) {
    lines.push(
      `${String(r.services).padStart(8)}  ${String(r.services * r.endpointsPerService).padStart(9)}  ${String(r.chains).padStart(6)}  ${String(r.rules).padStart(6)}  ${String(r.elements).padStart(8)}  ${String(r.scriptKiB).padStart(4)}KiB  ${String(r.firstMs).padStart(5)}ms  ${String(r.changeMedianMs).padStart(6)}/${String(r.changeP90Ms).padEnd(5)}ms  ${String(r.renderMedianMs).padStart(5)}ms  ${String(r.baselineEmptyNftMs).padStart(9)}ms  ${String(r.changeVsBaseline).padStart(5)}x`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { sizes: { type: 'string' }, endpoints: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'boolean' } } });
  const sizes = (values.sizes ?? '100,1000').split(',').map(Number);
  const endpoints = Number(values.endpoints ?? 10);
  const rounds = Number(values.rounds ?? 10);
  if (values.json && (process.getuid?.() !== 0 || spawnSync('nft', ['--version']).error || spawnSync('ip', ['-V']).error)) {
    process.stdout.write(JSON.stringify({ skipped: 'needs root, nft (nftables) and ip (iproute2)' }) + '\n');
    return;
  }
  const ns = `skb-${randomBytes(3).toString('hex')}`;
  await sh('ip', ['netns', 'add', ns]);
  const runner = nftRunner({ netns: ns });
  const table = `skiff-bench-${ns}`;
  const opts = { table, nodeName: 'node-a', clusterCIDRs: ['10.244.0.0/14'], serviceCIDRs: ['10.96.0.0/12'] };
  const results: Record<string, unknown>[] = [];
  try {
    const base: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      await runner.nft(['-f', '-'], `add table inet bench-empty\nflush table inet bench-empty\n`);
      base.push(performance.now() - t0);
    }
    const baselineMs = median(base);
    for (const n of sizes) {
      await runner.nft(['-f', '-'], removeScript(table));
      const t0 = performance.now();
      let r = renderRuleset(servicePortsFor(n, endpoints, 0), opts);
      let script = r.script();
      const renderFirst = performance.now() - t0;
      await runner.nft(['-f', '-'], script);
      const firstMs = performance.now() - t0;
      const change: number[] = [];
      const render: number[] = [];
      let known = { chains: r.chains, sets: r.sets, maps: r.maps };
      for (let g = 1; g <= rounds; g++) {
        const t1 = performance.now();
        r = renderRuleset(servicePortsFor(n, endpoints, g), opts);
        script = r.script(known);
        const t2 = performance.now();
        await runner.nft(['-f', '-'], script);
        const t3 = performance.now();
        render.push(t2 - t1);
        change.push(t3 - t1);
        known = { chains: r.chains, sets: r.sets, maps: r.maps };
      }
      const row = {
        services: n,
        endpointsPerService: endpoints,
        chains: r.stats.chains,
        rules: r.stats.rules,
        elements: r.stats.elements,
        scriptKiB: Math.round(script.length / 1024),
        firstMs: Math.round(firstMs),
        firstRenderMs: Math.round(renderFirst),
        changeMedianMs: Math.round(median(change)),
        changeP90Ms: Math.round(p90(change)),
        renderMedianMs: Math.round(median(render) * 10) / 10,
        baselineEmptyNftMs: Math.round(baselineMs * 10) / 10,
        changeVsBaseline: Math.round((median(change) / baselineMs) * 10) / 10,
      };
      results.push(row);
    }
  } finally {
    await sh('ip', ['netns', 'del', ns]).catch(() => {});
  }
  const out: ProxyBenchResult = { startedAt: new Date().toISOString(), machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, loadavgAtStart: loadavg() }, results };
  if (values.json) {
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  console.log(formatProxyTable(out));
  console.log(`wrote ${await saveResult(join(REPO, 'bench', 'results'), 'proxy', out)}`);
}

if (import.meta.main) await main();
