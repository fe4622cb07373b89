// Storage benchmark: the sqlite Store against raw node:sqlite inserts measured in the
// same run (absolute numbers on a shared machine are noise; the ratios are the result).
//
//   node bench/storage-sqlite.ts [--n 5000] [--json]

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openSqliteStore } from '../src/storage/sqlite.ts';
import { rawSqliteInsertsPerSecond } from '../src/storage/sqlite-baseline.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '5000' }, json: { type: 'boolean' } } });
const n = Number(values.n);
const value = 'x'.repeat(1024); // same size as the baseline's default row

const dir = await mkdtemp(join(tmpdir(), 'skiff-bench-storage-'));
try {
  const raw = await rawSqliteInsertsPerSecond(dir, n);

  const store = await openSqliteStore({ path: join(dir, 'store.db') });
  for (let i = 0; i < 200; i++) await store.create(`/registry/warmup/k-${i}`, value);

  let start = performance.now();
  for (let i = 0; i < n; i++) {
    const result = await store.create(`/registry/configmaps/seq/k-${String(i).padStart(6, '0')}`, value);
    if (!result.ok) throw new Error('create failed');
  }
  const sequential = n / ((performance.now() - start) / 1000);

  const concurrency = 100;
  start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const result = await store.create(`/registry/configmaps/conc/k-${String(i).padStart(6, '0')}`, value);
        if (!result.ok) throw new Error('create failed');
      }
    }),
  );
  const concurrent = n / ((performance.now() - start) / 1000);

  // Heartbeat-shaped writes: 1,000 keys renewed in turn, 250 concurrent updates at a time
  // (one transaction each), as 1,000 simulated nodes' lease renewals reach the store.
  const leases: { key: string; rev: number }[] = [];
  for (let i = 0; i < 1000; i++) {
    const result = await store.create(`/registry/leases/l-${String(i).padStart(4, '0')}`, value);
    if (!result.ok) throw new Error('create failed');
    leases.push({ key: result.kv.key, rev: result.kv.modRevision });
  }
  const renew = (bursts: number) =>
    (async () => {
      for (let b = 0; b < bursts; b++) {
        await Promise.all(
          leases.slice((b % 4) * 250, (b % 4) * 250 + 250).map(async (l) => {
            const result = await store.update(l.key, value, l.rev);
            if (!result.ok) throw new Error('update failed');
            l.rev = result.kv.modRevision;
          }),
        );
      }
    })();
  await renew(40);
  const renewals = 200;
  const cpu = process.cpuUsage();
  start = performance.now();
  await renew(renewals);
  const renewSeconds = (performance.now() - start) / 1000;
  const renewCpu = process.cpuUsage(cpu);
  const burstUpdatesPerSecond = (renewals * 250) / renewSeconds;
  const burstUpdateCpuUs = (renewCpu.user + renewCpu.system) / (renewals * 250);

  // Give every key a second revision, so the list has history to skip, as it would in use.
  const before = await store.currentRevision();
  const current = await store.range('/registry/configmaps/seq/');
  for (const kv of current.kvs) await store.update(kv.key, value, kv.modRevision);

  const time = async (runs: number, f: () => Promise<unknown>) => {
    const t = performance.now();
    for (let i = 0; i < runs; i++) await f();
    return (performance.now() - t) / runs;
  };
  const listAllMs = await time(20, () => store.range('/registry/configmaps/seq/'));
  const listPageMs = await time(200, () => store.range('/registry/configmaps/seq/', { limit: 500 }));
  const getMs = await time(2000, () => store.get('/registry/configmaps/seq/k-000123'));
  // A page as of before the second revisions: each key is read back one write along its chain.
  const listPageOlderMs = await time(200, () => store.range('/registry/configmaps/seq/', { limit: 500, revision: before }));
  await store.close();

  const result = {
    n,
    rawInsertsPerSecond: Math.round(raw),
    storeCreatesPerSecondSequential: Math.round(sequential),
    storeCreatesPerSecondConcurrent100: Math.round(concurrent),
    ratioSequential: +(sequential / raw).toFixed(3),
    ratioConcurrent100: +(concurrent / raw).toFixed(3),
    listAllKeysMs: +listAllMs.toFixed(2),
    listPage500Ms: +listPageMs.toFixed(3),
    getMs: +getMs.toFixed(4),
    listPage500OlderRevisionMs: +listPageOlderMs.toFixed(3),
    burstUpdatesPerSecond: Math.round(burstUpdatesPerSecond),
    burstUpdateCpuUs: +burstUpdateCpuUs.toFixed(1),
    ratioBurstUpdates: +(burstUpdatesPerSecond / raw).toFixed(3),
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    console.log(`sqlite store, ${n} keys of ${value.length} bytes`);
    console.log(`  raw node:sqlite inserts/s          ${result.rawInsertsPerSecond}`);
    console.log(`  store creates/s, sequential awaits  ${result.storeCreatesPerSecondSequential}  (${result.ratioSequential}x raw)`);
    console.log(`  store creates/s, 100 concurrent     ${result.storeCreatesPerSecondConcurrent100}  (${result.ratioConcurrent100}x raw)`);
    console.log(`  range ${n} keys (2 revisions each)   ${result.listAllKeysMs} ms`);
    console.log(`  range limit 500                     ${result.listPage500Ms} ms`);
    console.log(`  get                                 ${result.getMs} ms`);
    console.log(`  range limit 500, older revision     ${result.listPage500OlderRevisionMs} ms`);
    console.log(`  updates/s, 1,000 keys, 250 at once  ${result.burstUpdatesPerSecond}  (${result.ratioBurstUpdates}x raw; ${result.burstUpdateCpuUs} us CPU each)`);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
