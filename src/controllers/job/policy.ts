// A Job's podFailurePolicy and successPolicy (upstream's pod_failure_policy.go and
// success_policy.go), and the pod-failure back-off record (backoff_utils.go).

import type { KObject } from '../../api/object.ts';
import { podCondition, timeOf } from '../history/pods.ts';
import { parseIndexes, hasIndex, totalOf, type Intervals } from './indexes.ts';

export type PodFailurePolicyAction = 'FailJob' | 'FailIndex' | 'Ignore' | 'Count';

export interface PolicyMatch {
  /** Set when a FailJob rule matched: the Job fails with this message. */
  failJobMessage?: string;
  /** False when an Ignore rule matched: the failure does not count towards backoffLimit. */
  countFailed: boolean;
  action?: PodFailurePolicyAction;
}

interface ExitCodesRequirement {
  containerName?: string;
  operator: 'In' | 'NotIn';
  values: number[];
}

function matchingContainer(statuses: any[] | undefined, req: ExitCodesRequirement): any | undefined {
  for (const cs of statuses ?? []) {
    const t = cs.state?.terminated;
    if (!t) continue;
    if (req.containerName && req.containerName !== cs.name) continue;
    if (t.exitCode === 0) continue;
    const inValues = (req.values ?? []).includes(t.exitCode);
    if ((req.operator === 'In' && inValues) || (req.operator === 'NotIn' && !inValues)) return cs;
  }
  return undefined;
}

/**
 * matchPodFailurePolicy: the first rule matching a failed pod decides. Rules match on
 * a container's non-zero exit code (app containers first, then init containers) or on
 * a pod condition.
 */
export function matchPodFailurePolicy(policy: { rules?: any[] } | undefined, pod: KObject, perIndex: boolean): PolicyMatch {
  if (!policy) return { countFailed: true };
  const rules = policy.rules ?? [];
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    const action = rule.action as PodFailurePolicyAction;
    let what: string | undefined;
    if (rule.onExitCodes) {
      const cs = matchingContainer(pod.status?.containerStatuses, rule.onExitCodes) ?? matchingContainer(pod.status?.initContainerStatuses, rule.onExitCodes);
      if (!cs) continue;
      what = `Container ${cs.name} for pod ${pod.metadata.namespace}/${pod.metadata.name} failed with exit code ${cs.state.terminated.exitCode} matching ${action} rule at index ${i}`;
    } else if (rule.onPodConditions) {
      const patterns = rule.onPodConditions as { type: string; status?: string }[];
      const cond = ((pod.status?.conditions ?? []) as { type: string; status: string }[]).find((c) => patterns.some((p) => p.type === c.type && (p.status ?? 'True') === c.status));
      if (!cond) continue;
      what = `Pod ${pod.metadata.namespace}/${pod.metadata.name} has condition ${cond.type} matching ${action} rule at index ${i}`;
    } else {
      continue;
    }
    switch (action) {
      case 'Ignore':
        return { countFailed: false, action };
      case 'FailIndex':
        if (perIndex) return { countFailed: true, action };
        continue;
      case 'Count':
        return { countFailed: true, action };
      case 'FailJob':
        return { failJobMessage: what, countFailed: true, action };
    }
  }
  return { countFailed: true };
}

/** matchSuccessPolicy: the message of the first rule the succeeded indexes meet. */
export function matchSuccessPolicy(policy: { rules?: any[] } | undefined, completions: number, succeeded: Intervals): string | undefined {
  if (!policy || succeeded.length === 0) return undefined;
  const rules = policy.rules ?? [];
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i];
    if (typeof rule.succeededIndexes === 'string') {
      const required = parseIndexes(rule.succeededIndexes, completions);
      if (required.length === 0) continue;
      let matched = 0;
      for (const iv of required) for (let x = iv.first; x <= iv.last; x++) if (hasIndex(succeeded, x)) matched++;
      const need = typeof rule.succeededCount === 'number' ? rule.succeededCount : totalOf(required);
      if (matched >= need) return `Matched rules at index ${i}`;
    } else if (typeof rule.succeededCount === 'number' && rule.succeededCount <= totalOf(succeeded)) {
      return `Matched rules at index ${i}`;
    }
  }
  return undefined;
}

/**
 * getFinishedTime: when a pod finished: its containers' latest finishedAt, else when
 * Ready turned False, else its deletion time less the grace period, else its creation.
 */
export function finishedTime(pod: KObject): number {
  const statuses = (pod.status?.containerStatuses ?? []) as any[];
  let latest: number | undefined;
  let all = statuses.length > 0;
  for (const cs of statuses) {
    const t = timeOf(cs.state?.terminated?.finishedAt);
    if (t === undefined) {
      all = false;
      break;
    }
    latest = latest === undefined ? t : Math.max(latest, t);
  }
  if (all && latest !== undefined) return latest;
  const ready = podCondition(pod, 'Ready');
  if (ready?.status === 'False') {
    const t = timeOf(ready.lastTransitionTime);
    if (t !== undefined) return t;
  }
  const del = timeOf(pod.metadata.deletionTimestamp);
  if (del !== undefined) return del - (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
  return timeOf(pod.metadata.creationTimestamp) ?? 0;
}

export interface BackoffRecord {
  failuresAfterLastSuccess: number;
  lastFailureTime?: number;
}

/** newBackoffRecord: failures since the last success, from the pods newly seen finished. */
export function nextBackoffRecord(prev: BackoffRecord | undefined, newSucceeded: KObject[], newFailed: KObject[]): BackoffRecord {
  const rec: BackoffRecord = { failuresAfterLastSuccess: prev?.failuresAfterLastSuccess ?? 0, lastFailureTime: prev?.lastFailureTime };
  const failedTimes = newFailed.map(finishedTime).sort((a, b) => a - b);
  if (newSucceeded.length === 0) {
    if (failedTimes.length === 0) return rec;
    return { failuresAfterLastSuccess: rec.failuresAfterLastSuccess + failedTimes.length, lastFailureTime: failedTimes[failedTimes.length - 1] };
  }
  const lastSuccess = Math.max(...newSucceeded.map(finishedTime));
  const after = failedTimes.filter((t) => t > lastSuccess);
  return after.length === 0 ? { failuresAfterLastSuccess: 0 } : { failuresAfterLastSuccess: after.length, lastFailureTime: after[after.length - 1] };
}

/** getRemainingTimeForFailuresCount: base·2^(failures-1), capped, less the time since the last failure. */
export function remainingBackoff(failures: number, lastFailureTime: number | undefined, now: number, baseMs: number, maxMs: number): number {
  if (failures <= 0 || lastFailureTime === undefined) return 0;
  let d = baseMs;
  for (let i = 1; i < failures; i++) {
    d *= 2;
    if (d >= maxMs) {
      d = maxMs;
      break;
    }
  }
  const elapsed = now - lastFailureTime;
  return d < elapsed ? 0 : d - elapsed;
}
