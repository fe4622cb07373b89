// Defaults of the workload kinds: apps/v1 (pkg/apis/apps/v1/defaults.go), batch/v1
// (pkg/apis/batch/v1/defaults.go) and autoscaling/v2, as 1.32 sets them with its default
// feature gates (StatefulSetAutoDeletePVC, JobPodReplacementPolicy and
// JobBackoffLimitPerIndex on; MaxUnavailableStatefulSet off).

import { defaultPersistentVolumeClaim, defaultPodTemplate, templateMetadata } from './core.ts';
import { defaultPointer, defaultString, isEmpty, isObj, objects, type Obj, struct } from './util.ts';

/** The largest int32: backoffLimit when only backoffLimitPerIndex bounds retries. */
const MAX_INT32 = 2147483647;

export function defaultDeployment(d: Obj): void {
  const spec = struct(d, 'spec');
  defaultPointer(spec, 'replicas', 1);
  const strategy = struct(spec, 'strategy');
  defaultString(strategy, 'type', 'RollingUpdate');
  if (strategy.type === 'RollingUpdate') {
    const rollingUpdate = struct(strategy, 'rollingUpdate');
    defaultPointer(rollingUpdate, 'maxUnavailable', '25%');
    defaultPointer(rollingUpdate, 'maxSurge', '25%');
  }
  defaultPointer(spec, 'revisionHistoryLimit', 10);
  defaultPointer(spec, 'progressDeadlineSeconds', 600);
  defaultPodTemplate(struct(spec, 'template'));
  struct(d, 'status');
}

export function defaultReplicaSet(rs: Obj): void {
  const spec = struct(rs, 'spec');
  defaultPointer(spec, 'replicas', 1);
  defaultPodTemplate(struct(spec, 'template'));
  defaultPointer(struct(rs, 'status'), 'replicas', 0);
}

export function defaultStatefulSet(sts: Obj): void {
  const spec = struct(sts, 'spec');
  defaultString(spec, 'podManagementPolicy', 'OrderedReady');
  const updateStrategy = struct(spec, 'updateStrategy');
  // rollingUpdate is only created along with a defaulted type: an explicit
  // `type: RollingUpdate` without it stays without it (and without a partition).
  if (updateStrategy.type === undefined || updateStrategy.type === null || updateStrategy.type === '') {
    updateStrategy.type = 'RollingUpdate';
    defaultPointer(updateStrategy, 'rollingUpdate', {});
  }
  if (updateStrategy.type === 'RollingUpdate' && isObj(updateStrategy.rollingUpdate)) {
    defaultPointer(updateStrategy.rollingUpdate, 'partition', 0);
  }
  const retention = struct(spec, 'persistentVolumeClaimRetentionPolicy');
  defaultString(retention, 'whenDeleted', 'Retain');
  defaultString(retention, 'whenScaled', 'Retain');
  defaultPointer(spec, 'replicas', 1);
  defaultPointer(spec, 'revisionHistoryLimit', 10);
  // serviceName has no omitempty in 1.32.
  defaultPointer(spec, 'serviceName', '');
  defaultPodTemplate(struct(spec, 'template'));
  for (const claim of objects(spec.volumeClaimTemplates)) {
    // apps/v1 conversion always writes the claim templates' apiVersion and kind (issue 87583).
    claim.apiVersion = 'v1';
    claim.kind = 'PersistentVolumeClaim';
    templateMetadata(claim);
    defaultPersistentVolumeClaim(claim);
  }
  const status = struct(sts, 'status');
  defaultPointer(status, 'replicas', 0);
  defaultPointer(status, 'availableReplicas', 0);
}

export function defaultDaemonSet(ds: Obj): void {
  const spec = struct(ds, 'spec');
  const updateStrategy = struct(spec, 'updateStrategy');
  defaultString(updateStrategy, 'type', 'RollingUpdate');
  if (updateStrategy.type === 'RollingUpdate') {
    const rollingUpdate = struct(updateStrategy, 'rollingUpdate');
    defaultPointer(rollingUpdate, 'maxUnavailable', 1);
    defaultPointer(rollingUpdate, 'maxSurge', 0);
  }
  defaultPointer(spec, 'revisionHistoryLimit', 10);
  defaultPodTemplate(struct(spec, 'template'));
  const status = struct(ds, 'status');
  for (const f of ['currentNumberScheduled', 'numberMisscheduled', 'desiredNumberScheduled', 'numberReady']) {
    defaultPointer(status, f, 0);
  }
}

export function defaultControllerRevision(cr: Obj): void {
  // A RawExtension with nothing in it is written as null; revision has no omitempty.
  if (cr.data === undefined) cr.data = null;
  defaultPointer(cr, 'revision', 0);
}

export function defaultJob(job: Obj): void {
  const spec = struct(job, 'spec');
  // A non-parallel job: both unset means one pod to one completion. Parallelism alone
  // defaults to 1, completions alone stays unset (a work-queue job).
  if ((spec.completions === undefined || spec.completions === null) && (spec.parallelism === undefined || spec.parallelism === null)) {
    spec.completions = 1;
    spec.parallelism = 1;
  }
  defaultPointer(spec, 'parallelism', 1);
  if (spec.backoffLimit === undefined || spec.backoffLimit === null) {
    spec.backoffLimit = spec.backoffLimitPerIndex === undefined || spec.backoffLimitPerIndex === null ? 6 : MAX_INT32;
  }
  const template = struct(spec, 'template');
  const templateLabels = isObj(template.metadata) ? template.metadata.labels : undefined;
  const meta = struct(job, 'metadata');
  if (isObj(templateLabels) && Object.keys(templateLabels).length > 0 && isEmpty(meta.labels)) {
    meta.labels = { ...templateLabels };
  }
  defaultPointer(spec, 'completionMode', 'NonIndexed');
  defaultPointer(spec, 'suspend', false);
  const podFailurePolicy = isObj(spec.podFailurePolicy) ? spec.podFailurePolicy : undefined;
  for (const rule of objects(podFailurePolicy?.rules)) {
    for (const pattern of objects(rule.onPodConditions)) defaultString(pattern, 'status', 'True');
  }
  defaultPointer(spec, 'podReplacementPolicy', podFailurePolicy ? 'Failed' : 'TerminatingOrFailed');
  defaultPointer(spec, 'manualSelector', false);
  defaultPodTemplate(template);
  struct(job, 'status');
}

export function defaultCronJob(cj: Obj): void {
  const spec = struct(cj, 'spec');
  defaultString(spec, 'concurrencyPolicy', 'Allow');
  defaultPointer(spec, 'suspend', false);
  defaultPointer(spec, 'successfulJobsHistoryLimit', 3);
  defaultPointer(spec, 'failedJobsHistoryLimit', 1);
  // The job template gets no Job defaults (those run when the Job is created), only the
  // pod template's.
  const jobTemplate = struct(spec, 'jobTemplate');
  templateMetadata(jobTemplate);
  defaultPodTemplate(struct(struct(jobTemplate, 'spec'), 'template'));
  struct(cj, 'status');
}

// ---- autoscaling/v2 -----------------------------------------------------------------

const DEFAULT_CPU_UTILIZATION = 80;

function scaleUpRules(): Obj {
  return {
    stabilizationWindowSeconds: 0,
    selectPolicy: 'Max',
    policies: [
      { type: 'Pods', value: 4, periodSeconds: 15 },
      { type: 'Percent', value: 100, periodSeconds: 15 },
    ],
  };
}

/** Scale-down keeps stabilizationWindowSeconds unset: the controller's flag decides it. */
function scaleDownRules(): Obj {
  return { selectPolicy: 'Max', policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }] };
}

/**
 * The defaults overlaid with every field the user set. An empty policy list is kept by
 * the first defaulting but not written to storage, so the object read back has the
 * default policies: it counts as unset here.
 */
function scalingRules(given: unknown, defaults: Obj): Obj {
  if (!isObj(given)) return defaults;
  for (const key of ['selectPolicy', 'stabilizationWindowSeconds']) {
    if (given[key] !== undefined && given[key] !== null) defaults[key] = given[key];
  }
  if (Array.isArray(given.policies) && given.policies.length > 0) defaults.policies = given.policies;
  return defaults;
}

export function defaultHorizontalPodAutoscaler(hpa: Obj): void {
  const spec = struct(hpa, 'spec');
  defaultPointer(spec, 'minReplicas', 1);
  if (isEmpty(spec.metrics)) {
    spec.metrics = [
      { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: DEFAULT_CPU_UTILIZATION } } },
    ];
  }
  // Behavior is filled in only when the user gave one; absent, the controller's defaults apply.
  if (isObj(spec.behavior)) {
    spec.behavior.scaleUp = scalingRules(spec.behavior.scaleUp, scaleUpRules());
    spec.behavior.scaleDown = scalingRules(spec.behavior.scaleDown, scaleDownRules());
  }
  struct(spec, 'scaleTargetRef');
  const status = struct(hpa, 'status');
  defaultPointer(status, 'desiredReplicas', 0);
  if (status.currentMetrics === undefined) status.currentMetrics = null;
}
