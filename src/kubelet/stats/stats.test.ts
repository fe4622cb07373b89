import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { KObject } from '../../api/object.ts';
import type { CriClient } from '../cri/client.ts';
import { selfSignedServingCert } from '../node.ts';
import { startKubeletServer } from '../server/index.ts';
import {
  cgroupV1Sample,
  cgroupV2Sample,
  CpuSampleCache,
  defaultRouteInterface,
  diskUsage,
  parseMeminfo,
  parseNetDev,
  parseProcCgroup,
  parseProcPid,
  parseProcStatCpuNs,
  readCgroup,
  usageNanoCores,
  workingSet,
} from './cgroup.ts';
import { KubeletMetrics, podStartSeconds, renderResourceMetrics } from './metrics.ts';
import type { Summary } from './summary.ts';

const MiB = 1024 * 1024;

test('working set is usage minus inactive file pages, never negative', () => {
  assert.equal(workingSet(100 * MiB, 30 * MiB), 70 * MiB);
  assert.equal(workingSet(10, 20), 0);
});

test('cgroup v2 files → sample: usage_usec in ns, working set rule, anon as rss, no limit for "max"', () => {
  const s = cgroupV2Sample(
    {
      cpuStat: 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n',
      memoryCurrent: `${50 * MiB}\n`,
      memoryStat: `anon ${20 * MiB}\nfile ${28 * MiB}\ninactive_file ${8 * MiB}\nactive_file ${20 * MiB}\npgfault 1234\npgmajfault 5\n`,
      memoryMax: 'max\n',
      procs: '12\n13\n\n',
    },
    1000,
  );
  assert.equal(s.usageCoreNanoSeconds, 2_500_000_000);
  assert.deepEqual(s.memory, { usageBytes: 50 * MiB, workingSetBytes: 42 * MiB, rssBytes: 20 * MiB, pageFaults: 1234, majorPageFaults: 5, limitBytes: undefined });
  assert.equal(s.processCount, 2);
  assert.equal(cgroupV2Sample({ memoryCurrent: '100', memoryStat: '', memoryMax: '4096' }, 0).memory?.limitBytes, 4096);
});

test('cgroup v1 files → sample: cpuacct.usage, hierarchical total_* figures, huge limit is no limit', () => {
  const s = cgroupV1Sample(
    {
      cpuacctUsage: '987654321\n',
      memoryUsage: `${64 * MiB}\n`,
      memoryStat: `cache 1\nrss 2\ninactive_file 3\ntotal_rss ${30 * MiB}\ntotal_inactive_file ${4 * MiB}\ntotal_pgfault 77\ntotal_pgmajfault 1\n`,
      memoryLimit: '9223372036854771712\n',
    },
    5,
  );
  assert.equal(s.usageCoreNanoSeconds, 987654321);
  assert.equal(s.memory?.workingSetBytes, 60 * MiB);
  assert.equal(s.memory?.rssBytes, 30 * MiB);
  assert.equal(s.memory?.pageFaults, 77);
  assert.equal(s.memory?.limitBytes, undefined);
  assert.equal(cgroupV1Sample({ memoryUsage: '10', memoryLimit: `${128 * MiB}` }, 0).memory?.limitBytes, 128 * MiB);
});

test('/proc/<pid>/cgroup: v2 unified line and v1 co-mounted controllers', () => {
  const v2 = parseProcCgroup('0::/skiff-n1/pod123/abc\n');
  assert.equal(v2.get(''), '/skiff-n1/pod123/abc');
  const v1 = parseProcCgroup('9:name=systemd:/\n4:memory:/skiff-n1/podu/c1\n1:cpu,cpuacct:/skiff-n1/podu/c1\n0::/\n');
  assert.equal(v1.get('memory'), '/skiff-n1/podu/c1');
  assert.equal(v1.get('cpuacct'), '/skiff-n1/podu/c1');
  assert.equal(v1.get('cpu'), '/skiff-n1/podu/c1');
});

test('readCgroup finds the files under a v2 root and under v1 controller mounts (cpu,cpuacct co-mounted)', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'skiff-cg-'));
  try {
    const v2dir = path.join(root, 'v2', 'pods', 'podu', 'c1');
    mkdirSync(v2dir, { recursive: true });
    writeFileSync(path.join(root, 'v2', 'cgroup.controllers'), 'cpu memory\n');
    writeFileSync(path.join(v2dir, 'cpu.stat'), 'usage_usec 10\n');
    writeFileSync(path.join(v2dir, 'memory.current'), '1000\n');
    writeFileSync(path.join(v2dir, 'memory.stat'), 'inactive_file 400\nanon 500\n');
    writeFileSync(path.join(v2dir, 'cgroup.procs'), '1\n');
    const s2 = readCgroup({ version: 'v2', root: path.join(root, 'v2') }, new Map([['', '/pods/podu/c1']]), 7);
    assert.deepEqual([s2?.usageCoreNanoSeconds, s2?.memory?.workingSetBytes, s2?.processCount], [10_000, 600, 1]);
    // A pod cgroup holds no process itself: its count is its containers'.
    writeFileSync(path.join(root, 'v2', 'pods', 'podu', 'cgroup.procs'), '');
    writeFileSync(path.join(root, 'v2', 'pods', 'podu', 'memory.current'), '5000\n');
    mkdirSync(path.join(root, 'v2', 'pods', 'podu', 'c2'));
    writeFileSync(path.join(root, 'v2', 'pods', 'podu', 'c2', 'cgroup.procs'), '7\n8\n');
    assert.equal(readCgroup({ version: 'v2', root: path.join(root, 'v2') }, new Map([['', '/pods/podu']]))?.processCount, 3);
    assert.equal(readCgroup({ version: 'v2', root: path.join(root, 'v2') }, new Map([['', '/gone']])), undefined);

    const v1 = path.join(root, 'v1');
    mkdirSync(path.join(v1, 'cpu,cpuacct', 'p', 'c'), { recursive: true });
    mkdirSync(path.join(v1, 'memory', 'p', 'c'), { recursive: true });
    writeFileSync(path.join(v1, 'cpu,cpuacct', 'p', 'c', 'cpuacct.usage'), '555\n');
    writeFileSync(path.join(v1, 'memory', 'p', 'c', 'memory.usage_in_bytes'), '2000\n');
    writeFileSync(path.join(v1, 'memory', 'p', 'c', 'memory.stat'), 'total_inactive_file 500\n');
    writeFileSync(path.join(v1, 'memory', 'p', 'c', 'cgroup.procs'), '1\n2\n3\n');
    const s1 = readCgroup({ version: 'v1', root: v1 }, parseProcCgroup('4:memory:/p/c\n1:cpu,cpuacct:/p/c\n'), 7);
    assert.deepEqual([s1?.usageCoreNanoSeconds, s1?.memory?.workingSetBytes, s1?.processCount], [555, 1500, 3]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('usageNanoCores: Δusage/Δt in nano-cores; nothing without a earlier reading or when the counter resets', () => {
  assert.equal(usageNanoCores(undefined, { time: 1000, usageCoreNanoSeconds: 5 }), undefined);
  // 0.5 s of CPU over 2 s of wall time = a quarter core.
  assert.equal(usageNanoCores({ time: 0, usageCoreNanoSeconds: 1e9 }, { time: 2000, usageCoreNanoSeconds: 1.5e9 }), 250_000_000);
  assert.equal(usageNanoCores({ time: 0, usageCoreNanoSeconds: 2e9 }, { time: 2000, usageCoreNanoSeconds: 1e9 }), undefined);
  assert.equal(usageNanoCores({ time: 5, usageCoreNanoSeconds: 0 }, { time: 5, usageCoreNanoSeconds: 1 }), undefined);
});

test('CpuSampleCache: the rate spans the newest reading at least minGap old; a reset counter forgets history', () => {
  const c = new CpuSampleCache({ minGapMs: 1000 });
  c.record('a', { time: 0, usageCoreNanoSeconds: 0 });
  c.record('a', { time: 10_000, usageCoreNanoSeconds: 10e9 });
  // 500 ms after the last reading: too close, so the one at t=0 is used (1 core average).
  assert.equal(c.rate('a', { time: 10_500, usageCoreNanoSeconds: 10.5e9 }), 1e9);
  // 2 s after: the t=10 s reading (0.5 core).
  assert.equal(c.rate('a', { time: 12_000, usageCoreNanoSeconds: 11e9 }), 0.5e9);
  c.record('a', { time: 13_000, usageCoreNanoSeconds: 1e6 });
  assert.equal(c.rate('a', { time: 13_500, usageCoreNanoSeconds: 2e6 }), undefined);
  c.retain(new Set());
  assert.equal(c.size, 0);
});

test('/proc parsers: net/dev counters, the default route interface, meminfo in bytes, busy CPU from /proc/stat', () => {
  const dev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0
  eth0:  123456     100    2    0    0     0          0         0    65432      90    1    0    0     0       0          0
`;
  assert.deepEqual(parseNetDev(dev)[1], { name: 'eth0', rxBytes: 123456, rxErrors: 2, txBytes: 65432, txErrors: 1 });
  const route = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\ncni0\t0000F40A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\neth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n';
  assert.equal(defaultRouteInterface(route), 'eth0');
  const mi = parseMeminfo('MemTotal:        2048 kB\nMemFree:          1024 kB\nHugePages_Total:       0\n');
  assert.equal(mi.get('MemTotal'), 2048 * 1024);
  assert.equal(mi.get('HugePages_Total'), 0);
  // user 100 + nice 0 + system 50 + irq 5 + softirq 5 + steal 0 ticks = 1.6 s; idle and iowait excluded.
  assert.equal(parseProcStatCpuNs('cpu  100 0 50 1000 30 5 5 0 0 0\ncpu0 1 2 3\n'), 1.6e9);
});

test('/proc/<pid>/stat and status: CPU ticks to ns, VmRSS, start time; a command with spaces and parentheses', () => {
  const stat = '4242 (contai ner) d) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 12345 100000 2000 18446744073709551615';
  const p = parseProcPid(stat, 'Name:\tcontainerd\nVmRSS:\t   40960 kB\nThreads:\t12\n');
  assert.deepEqual(p, { usageCoreNanoSeconds: 3e9, rssBytes: 40960 * 1024, startMsSinceBoot: 123450 });
});

test('diskUsage counts allocated blocks and inodes, hard links once', () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'skiff-du-'));
  try {
    writeFileSync(path.join(d, 'a'), Buffer.alloc(64 * 1024, 1));
    mkdirSync(path.join(d, 'sub'));
    writeFileSync(path.join(d, 'sub', 'b'), 'x');
    const u = diskUsage(d);
    assert.equal(u.inodesUsed, 3);
    assert.ok(u.usedBytes >= 64 * 1024, `usedBytes ${u.usedBytes}`);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});

const summary: Summary = {
  node: { nodeName: 'n1', startTime: '2026-01-01T00:00:00Z', cpu: { time: '2026-01-01T00:01:00Z', usageCoreNanoSeconds: 12_500_000_000 }, memory: { time: '2026-01-01T00:01:00Z', workingSetBytes: 1000 } },
  pods: [
    {
      podRef: { name: 'web', namespace: 'ns', uid: 'u1' },
      startTime: '2026-01-01T00:00:01Z',
      containers: [
        { name: 'app', startTime: '2026-01-01T00:00:02Z', cpu: { time: '2026-01-01T00:01:00Z', usageCoreNanoSeconds: 250_000_000 }, memory: { time: '2026-01-01T00:01:00Z', workingSetBytes: 35 * MiB } },
        { name: 'side', startTime: '2026-01-01T00:00:03Z' },
      ],
      cpu: { time: '2026-01-01T00:01:00Z', usageCoreNanoSeconds: 300_000_000 },
      memory: { time: '2026-01-01T00:01:00Z', workingSetBytes: 40 * MiB },
    },
  ],
};

test('/metrics/resource: upstream names, labels, HELP and millisecond timestamps; containers without readings left out', () => {
  const text = renderResourceMetrics(summary);
  const t = Date.parse('2026-01-01T00:01:00Z');
  assert.match(text, /^# HELP container_cpu_usage_seconds_total \[STABLE\] Cumulative cpu time consumed by the container in core-seconds$/m);
  assert.match(text, /^# TYPE container_cpu_usage_seconds_total counter$/m);
  assert.ok(text.includes(`container_cpu_usage_seconds_total{container="app",namespace="ns",pod="web"} 0.25 ${t}\n`));
  assert.ok(text.includes(`container_memory_working_set_bytes{container="app",namespace="ns",pod="web"} ${35 * MiB} ${t}\n`));
  assert.ok(!text.includes('container_memory_working_set_bytes{container="side"'));
  assert.ok(text.includes(`container_start_time_seconds{container="side",namespace="ns",pod="web"} ${Date.parse('2026-01-01T00:00:03Z') / 1000} ${Date.parse('2026-01-01T00:00:03Z')}\n`));
  assert.ok(text.includes(`node_cpu_usage_seconds_total 12.5 ${t}\n`));
  assert.ok(text.includes(`node_memory_working_set_bytes 1000 ${t}\n`));
  assert.ok(text.includes(`pod_cpu_usage_seconds_total{namespace="ns",pod="web"} 0.3 ${t}\n`));
  assert.ok(text.includes(`pod_memory_working_set_bytes{namespace="ns",pod="web"} ${40 * MiB} ${t}\n`));
  assert.match(text, /^resource_scrape_error 0$/m);
  assert.match(renderResourceMetrics(undefined), /^resource_scrape_error 1$/m);
  assert.match(renderResourceMetrics(undefined), /^scrape_error 1$/m);
});

function pod(uid: string, startTime: string, started: (string | undefined)[]): KObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: uid, namespace: 'default', uid },
    spec: { containers: started.map((_, i) => ({ name: `c${i}` })) },
    status: { startTime, containerStatuses: started.map((s, i) => ({ name: `c${i}`, state: s ? { running: { startedAt: s } } : { waiting: { reason: 'ContainerCreating' } } })) },
  } as KObject;
}

test('pod start duration: status.startTime to the last container running; observed once, only for pods this kubelet started', () => {
  const now = Date.now();
  const iso = (ms: number) => new Date(ms).toISOString();
  assert.equal(podStartSeconds(pod('a', iso(now), [iso(now + 1500), iso(now + 3000)])), 3);
  assert.equal(podStartSeconds(pod('a', iso(now), [iso(now + 1500), undefined])), undefined);
  const m = new KubeletMetrics('n1');
  const fresh = pod('fresh', iso(now + 100), [iso(now + 2100)]);
  const old = pod('old', iso(now - 3_600_000), [iso(now - 3_590_000)]);
  m.observePods([fresh, old]);
  m.observePods([fresh, old]);
  const text = m.render({ runningPods: 2, containers: { created: 0, exited: 1, running: 2, unknown: 0 } });
  assert.match(text, /^kubelet_pod_start_duration_seconds_count 1$/m);
  assert.match(text, /^kubelet_pod_start_duration_seconds_bucket\{le="1"\} 0$/m);
  assert.match(text, /^kubelet_pod_start_duration_seconds_bucket\{le="2"\} 1$/m);
  assert.match(text, /^kubelet_node_name\{node="n1"\} 1$/m);
  assert.match(text, /^kubelet_running_pods 2$/m);
  assert.match(text, /^kubelet_running_containers\{container_state="exited"\} 1$/m);
  assert.match(text, /^kubelet_running_containers\{container_state="running"\} 2$/m);
  assert.match(text, /^process_start_time_seconds \d+(\.\d+)?$/m);
});

function get(port: number, p: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: p, method, rejectUnauthorized: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('kubelet API: /stats/summary node figures from this machine, /metrics/resource and /metrics served, other methods refused', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'skiff-stats-'));
  // No pods and a runtime that refuses every call: the node's own figures still come
  // from /proc and statfs, and the runtime-derived parts are left out.
  const refuse = () => Promise.reject(new Error('no runtime in this test'));
  const runtime = { call: refuse, imageFsInfo: refuse, listPodSandbox: refuse, listContainers: refuse, containerStatus: refuse, podSandboxStatus: refuse } as unknown as CriClient;
  const tls = await selfSignedServingCert(['localhost', '127.0.0.1']);
  const srv = await startKubeletServer({
    pods: { getPod: () => undefined, logPath: () => undefined, containerID: () => undefined, listPods: () => [], runtime },
    cert: tls.cert,
    key: tls.key,
    port: 0,
    address: '127.0.0.1',
    nodeName: 'n1',
    rootDir: root,
  });
  try {
    const r = await get(srv.port, '/stats/summary');
    assert.equal(r.status, 200);
    const s = JSON.parse(r.body) as Summary;
    assert.equal(s.node.nodeName, 'n1');
    assert.deepEqual(s.pods, []);
    assert.ok((s.node.fs?.capacityBytes ?? 0) > 0);
    assert.ok((s.node.memory?.workingSetBytes ?? 0) > 0);
    assert.ok((s.node.cpu?.usageCoreNanoSeconds ?? 0) > 0);
    assert.deepEqual(s.node.systemContainers?.map((c) => c.name), ['kubelet']);
    assert.equal(s.node.runtime, undefined);
    const only = JSON.parse((await get(srv.port, '/stats/summary?only_cpu_and_memory=true')).body) as Summary;
    assert.equal(only.node.fs, undefined);
    assert.ok(only.node.memory);
    assert.deepEqual(only.node.systemContainers?.map((c) => c.name), ['kubelet']);
    const res = await get(srv.port, '/metrics/resource');
    assert.equal(res.status, 200);
    assert.match(res.body, /^node_memory_working_set_bytes \d+ \d+$/m);
    assert.match(res.body, /^resource_scrape_error 0$/m);
    const m = await get(srv.port, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.body, /^kubelet_http_requests_total\{long_running="false",method="GET",path="stats",server_type="readwrite"\} 2$/m);
    assert.doesNotMatch(m.body, /kubelet_running_pods/); // the runtime did not answer
    assert.equal((await get(srv.port, '/stats/summary', 'POST')).status, 405);
  } finally {
    await srv.close();
    rmSync(root, { recursive: true, force: true });
  }
});
