// Indexed Jobs (upstream's indexed_job_utils.go): completion indexes as ordered
// intervals ("1,3-5,7" in status.completedIndexes), the index of a pod, which indexes
// still need a pod, and which pods are duplicates of an index.

import type { KObject } from '../../api/object.ts';
import { compareActivePodsForDeletion } from '../history/pods.ts';

export const JOB_COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';
export const JOB_COMPLETION_INDEX_LABEL = 'batch.kubernetes.io/job-completion-index';
/** Failures of the pod's index before this pod (backoffLimitPerIndex). */
export const JOB_INDEX_FAILURE_COUNT_ANNOTATION = 'batch.kubernetes.io/job-index-failure-count';
export const JOB_COMPLETION_INDEX_ENV = 'JOB_COMPLETION_INDEX';
export const UNKNOWN_INDEX = -1;

export interface Interval {
  first: number;
  last: number;
}

export type Intervals = Interval[];

/** getCompletionIndex: the pod's index from its annotation, or -1. */
export function completionIndex(pod: KObject): number {
  const v = pod.metadata.annotations?.[JOB_COMPLETION_INDEX_ANNOTATION];
  if (v === undefined || !/^\d+$/.test(v)) return UNKNOWN_INDEX;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : UNKNOWN_INDEX;
}

/** parseIndexesFromString: intervals below `completions`; malformed parts are skipped. */
export function parseIndexes(s: string | undefined, completions: number): Intervals {
  const out: Intervals = [];
  if (!s) return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const first = Number(m[1]);
    let last = m[2] === undefined ? first : Number(m[2]);
    if (first >= completions || last < first) continue;
    last = Math.min(last, completions - 1);
    const prev = out[out.length - 1];
    if (prev && first <= prev.last + 1) prev.last = Math.max(prev.last, last);
    else out.push({ first, last });
  }
  return out;
}

export function formatIntervals(iv: Intervals): string {
  return iv.map((i) => (i.first === i.last ? String(i.first) : `${i.first}-${i.last}`)).join(',');
}

export function totalOf(iv: Intervals): number {
  return iv.reduce((n, i) => n + i.last - i.first + 1, 0);
}

export function hasIndex(iv: Intervals, ix: number): boolean {
  return iv.some((i) => ix >= i.first && ix <= i.last);
}

/** withOrderedIndexes: the union of intervals and (sorted) indexes. */
export function withIndexes(iv: Intervals, indexes: number[]): Intervals {
  const all = [...iv.map((i) => ({ ...i })), ...indexes.map((x) => ({ first: x, last: x }))].sort((a, b) => a.first - b.first);
  const out: Intervals = [];
  for (const i of all) {
    const prev = out[out.length - 1];
    if (prev && i.first <= prev.last + 1) prev.last = Math.max(prev.last, i.last);
    else out.push({ ...i });
  }
  return out;
}

/** The indexes of `pods` (valid ones), sorted. */
export function indexesOf(pods: KObject[]): number[] {
  return pods.map(completionIndex).filter((x) => x !== UNKNOWN_INDEX).sort((a, b) => a - b);
}

/**
 * firstPendingIndexes: the lowest `count` indexes below `completions` that have no
 * active (or, when only failed pods are replaced, terminating) pod and are neither
 * succeeded nor failed.
 */
export function firstPendingIndexes(nonPending: Intervals, count: number, completions: number): number[] {
  const out: number[] = [];
  let candidate = 0;
  for (const iv of nonPending) {
    for (; candidate < completions && out.length < count && candidate < iv.first; candidate++) out.push(candidate);
    if (candidate < iv.last + 1) candidate = iv.last + 1;
  }
  for (; candidate < completions && out.length < count; candidate++) out.push(candidate);
  return out;
}

/**
 * appendDuplicatedIndexPodsForRemoval: pods without a valid index, with an index beyond
 * completions, or duplicating another pod's index (all but the most advanced) go.
 */
export function duplicatedIndexPods(pods: KObject[], completions: number): { remove: KObject[]; keep: KObject[] } {
  const remove: KObject[] = [];
  const keep: KObject[] = [];
  const byIndex = new Map<number, KObject[]>();
  for (const p of pods) {
    const ix = completionIndex(p);
    if (ix === UNKNOWN_INDEX || ix >= completions) {
      remove.push(p);
      continue;
    }
    const list = byIndex.get(ix);
    if (list) list.push(p);
    else byIndex.set(ix, [p]);
  }
  for (const ix of [...byIndex.keys()].sort((a, b) => a - b)) {
    const list = byIndex.get(ix)!;
    if (list.length === 1) {
      keep.push(list[0]);
      continue;
    }
    list.sort(compareActivePodsForDeletion);
    remove.push(...list.slice(0, -1));
    keep.push(list[list.length - 1]);
  }
  return { remove, keep };
}

/** addCompletionIndexEnvVariables: JOB_COMPLETION_INDEX from the annotation, in every container that lacks it. */
export function addCompletionIndexEnv(spec: Record<string, any>): void {
  const env = { name: JOB_COMPLETION_INDEX_ENV, valueFrom: { fieldRef: { fieldPath: `metadata.annotations['${JOB_COMPLETION_INDEX_ANNOTATION}']` } } };
  for (const list of [spec.initContainers, spec.containers]) {
    for (const c of (list ?? []) as Record<string, any>[]) {
      if ((c.env ?? []).some((e: { name: string }) => e.name === JOB_COMPLETION_INDEX_ENV)) continue;
      c.env = [...(c.env ?? []), env];
    }
  }
}

/** podGenerateNameWithIndex: `<job>-<index>-`, the job name cut so the whole stays within 58 characters. */
export function generateNameWithIndex(jobName: string, index: number): string {
  const suffix = `-${index}-`;
  const max = 63 - 5; // the apiserver appends 5 random characters
  return jobName.length + suffix.length > max ? `${jobName.slice(0, max - suffix.length)}${suffix}` : `${jobName}${suffix}`;
}
