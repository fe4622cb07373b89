// Summarizes a V8 .cpuprofile (written by `node --cpu-prof`): where the process spent
// its CPU, by function (self and inclusive time) and by file, with idle time set apart so
// the shares are of busy time. A .heapprofile (the sampling heap profiler) is summarized
// the same way in bytes allocated.
//
//   node bench/profile.ts <file.cpuprofile|file.heapprofile> [--top 25]

import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileRow {
  name: string;
  selfMs: number;
  selfPct: number;
  totalMs?: number;
  totalPct?: number;
}

export interface ProfileSummary {
  wallMs: number;
  busyMs: number;
  idleMs: number;
  gcMs: number;
  topSelf: ProfileRow[];
  topInclusive: ProfileRow[];
  byFile: ProfileRow[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

function label(n: Pick<ProfileNode, 'callFrame'>, root: string): string {
  const f = n.callFrame;
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  return `${name} ${shortUrl(f.url, root)}:${f.lineNumber + 1}`;
}

function shortUrl(url: string, root: string): string {
  const path = url.startsWith('file://') ? new URL(url).pathname : url;
  if (path.startsWith(root)) return relative(root, path);
  return path;
}

export function summarizeProfile(file: string, opts: { top?: number; root?: string } = {}): ProfileSummary {
  const top = opts.top ?? 25;
  const root = opts.root ?? process.cwd();
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Self time from the samples and their time deltas (exact), not hitCount x interval.
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    selfUs.set(p.samples[i], (selfUs.get(p.samples[i]) ?? 0) + dt);
  }
  const wallMs = (p.endTime - p.startTime) / 1000;
  let idleUs = 0;
  let gcUs = 0;
  for (const n of p.nodes) {
    if (n.callFrame.functionName === '(idle)') idleUs += selfUs.get(n.id) ?? 0;
    if (n.callFrame.functionName === '(garbage collector)') gcUs += selfUs.get(n.id) ?? 0;
  }
  let sampledUs = 0;
  for (const v of selfUs.values()) sampledUs += v;
  const busyUs = sampledUs - idleUs;

  const self = new Map<string, number>();
  const files = new Map<string, number>();
  for (const n of p.nodes) {
    const us = selfUs.get(n.id) ?? 0;
    if (!us || n.callFrame.functionName === '(idle)') continue;
    const l = label(n, root);
    self.set(l, (self.get(l) ?? 0) + us);
    const f = n.callFrame.url ? shortUrl(n.callFrame.url, root) : SPECIAL.has(n.callFrame.functionName) ? n.callFrame.functionName : '(native)';
    files.set(f, (files.get(f) ?? 0) + us);
  }

  // Inclusive time: each sample counts once for every distinct function on its stack.
  const inclusive = new Map<string, number>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stackLabels = new Map<number, Set<string>>();
  const labelsOf = (id: number): Set<string> => {
    let s = stackLabels.get(id);
    if (s) return s;
    const n = byId.get(id)!;
    const up = parent.has(id) ? labelsOf(parent.get(id)!) : new Set<string>();
    s = new Set(up);
    if (!SPECIAL.has(n.callFrame.functionName)) s.add(label(n, root));
    stackLabels.set(id, s);
    return s;
  };
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    if (n.callFrame.functionName === '(idle)') continue;
    for (const l of labelsOf(id)) inclusive.set(l, (inclusive.get(l) ?? 0) + us);
  }

  const pct = (us: number) => +((100 * us) / busyUs).toFixed(1);
  const rows = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({ name, selfMs: Math.round(us / 1000), selfPct: pct(us) }));
  return {
    wallMs: Math.round(wallMs),
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    gcMs: Math.round(gcUs / 1000),
    topSelf: rows(self).map((r) => ({ ...r, totalMs: Math.round((inclusive.get(r.name) ?? 0) / 1000), totalPct: pct(inclusive.get(r.name) ?? 0) })),
    topInclusive: [...inclusive]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: Math.round((self.get(name) ?? 0) / 1000), selfPct: pct(self.get(name) ?? 0), totalMs: Math.round(us / 1000), totalPct: pct(us) })),
    byFile: rows(files),
  };
}

export function formatProfile(s: ProfileSummary): string {
  const lines = [`wall ${s.wallMs} ms, busy ${s.busyMs} ms (GC ${s.gcMs} ms), idle ${s.idleMs} ms; shares are of busy time`];
  lines.push('', 'self time:');
  for (const r of s.topSelf) lines.push(`  ${String(r.selfPct).padStart(5)}%  ${String(r.totalPct).padStart(5)}% incl  ${r.name}`);
  lines.push('', 'inclusive time:');
  for (const r of s.topInclusive) lines.push(`  ${String(r.totalPct).padStart(5)}%  ${String(r.selfPct).padStart(5)}% self  ${r.name}`);
  lines.push('', 'self time by file:');
  for (const r of s.byFile) lines.push(`  ${String(r.selfPct).padStart(5)}%  ${r.name}`);
  return lines.join('\n');
}

interface HeapProfileNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapProfileNode[];
}

export interface HeapRow {
  name: string;
  selfKb: number;
  selfPct: number;
  totalKb?: number;
  totalPct?: number;
}

export interface HeapProfileSummary {
  /** Bytes allocated over the window, as the sampling profiler estimates them. */
  totalKb: number;
  topSelf: HeapRow[];
  topInclusive: HeapRow[];
}

/** Summarizes a sampling heap profile (HeapProfiler.stopSampling): where bytes were allocated, by function. */
export function summarizeHeapProfile(file: string, opts: { top?: number; root?: string } = {}): HeapProfileSummary {
  const top = opts.top ?? 25;
  const root = opts.root ?? process.cwd();
  const { head } = JSON.parse(readFileSync(file, 'utf8')) as { head: HeapProfileNode };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  // Inclusive: each allocation counts once for every distinct function on its stack.
  const walk = (n: HeapProfileNode, stack: Set<string>): void => {
    const l = label(n, root);
    const special = SPECIAL.has(n.callFrame.functionName);
    const added = !special && !stack.has(l);
    if (added) stack.add(l);
    if (n.selfSize) {
      total += n.selfSize;
      self.set(l, (self.get(l) ?? 0) + n.selfSize);
      for (const s of stack) inclusive.set(s, (inclusive.get(s) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, stack);
    if (added) stack.delete(l);
  };
  walk(head, new Set());
  const pct = (b: number) => +((100 * b) / total).toFixed(1);
  const kb = (b: number) => Math.round(b / 1024);
  return {
    totalKb: kb(total),
    topSelf: [...self]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, b]) => ({ name, selfKb: kb(b), selfPct: pct(b), totalKb: kb(inclusive.get(name) ?? 0), totalPct: pct(inclusive.get(name) ?? 0) })),
    topInclusive: [...inclusive]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, b]) => ({ name, selfKb: kb(self.get(name) ?? 0), selfPct: pct(self.get(name) ?? 0), totalKb: kb(b), totalPct: pct(b) })),
  };
}

export function formatHeapProfile(s: HeapProfileSummary): string {
  const lines = [`allocated ${s.totalKb} KB over the window (sampled, collected objects included)`];
  lines.push('', 'allocated by the function itself:');
  for (const r of s.topSelf) lines.push(`  ${String(r.selfPct).padStart(5)}%  ${String(r.totalPct).padStart(5)}% incl  ${r.name}`);
  lines.push('', 'allocated under the function:');
  for (const r of s.topInclusive) lines.push(`  ${String(r.totalPct).padStart(5)}%  ${String(r.selfPct).padStart(5)}% self  ${r.name}`);
  return lines.join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' } } });
  if (!positionals[0]) throw new Error('usage: node bench/profile.ts <file.cpuprofile|file.heapprofile> [--top N]');
  if (positionals[0].endsWith('.heapprofile')) console.log(formatHeapProfile(summarizeHeapProfile(positionals[0], { top: Number(values.top) })));
  else console.log(formatProfile(summarizeProfile(positionals[0], { top: Number(values.top) })));
}
