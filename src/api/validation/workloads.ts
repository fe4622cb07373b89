// Pod-template owners: ReplicationController, PodTemplate (core) and the apps group's
// Deployment, ReplicaSet, StatefulSet, DaemonSet and ControllerRevision (1.32), plus
// the selector immutability the apps/v1 registry strategies add on update.

import type { FieldError } from '../errors.ts';
import { validateAnnotations, validateLabels, validateLabelSelector } from '../validation.ts';
import { asSelector, intOrPercentValue, notMoreThan100Percent, positiveIntOrPercent, selectorIsEmpty } from './common.ts';
import {
  deepEqual,
  defaulted,
  FIELD_IMMUTABLE,
  forbidden,
  goIntOrString,
  goLabelSelector,
  goMap,
  goPtr,
  goQuote,
  invalid,
  invalidGo,
  isObj,
  nonNegative,
  notSupported,
  notSupportedGo,
  num,
  obj,
  required,
  str,
  strMap,
  type Obj,
} from './field.ts';
import { validatePodSpecificAnnotations, validatePodTemplateSpec } from './pod.ts';

const SELECTOR_MISMATCH = '`selector` does not match template `labels`';

/** restartPolicy after defaulting. */
function restartPolicyOf(tpl: Obj): string {
  const rp = obj(tpl.spec).restartPolicy;
  return defaulted(rp) ? 'Always' : str(rp);
}

function templateLabels(tpl: Obj): Record<string, string> | undefined {
  return strMap(obj(tpl.metadata).labels);
}

// --- core: ReplicationController, PodTemplate ---

export function validateReplicationController(rc: Obj): FieldError[] {
  const spec = obj(rc.spec);
  const errs = nonNegative('spec.minReadySeconds', spec.minReadySeconds);
  const selector = strMap(spec.selector) ?? {};
  if (Object.keys(selector).length === 0) errs.push(required('spec.selector'));
  errs.push(...nonNegative('spec.replicas', spec.replicas));
  if (!isObj(spec.template)) {
    errs.push(required('spec.template'));
    return errs;
  }
  const tpl = spec.template;
  const labels = templateLabels(tpl) ?? {};
  if (Object.keys(selector).length > 0 && !Object.entries(selector).every(([k, v]) => labels[k] === v)) {
    errs.push(invalidGo('spec.template.metadata.labels', goMap(obj(tpl.metadata).labels), SELECTOR_MISMATCH));
  }
  errs.push(...validatePodTemplateSpec(tpl, 'spec.template'));
  if (restartPolicyOf(tpl) !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', restartPolicyOf(tpl), ['Always']));
  if (num(obj(tpl.spec).activeDeadlineSeconds) !== undefined) {
    errs.push(forbidden('spec.template.spec.activeDeadlineSeconds', 'activeDeadlineSeconds in ReplicationController is not Supported'));
  }
  return errs;
}

export function validatePodTemplate(pt: Obj): FieldError[] {
  return validatePodTemplateSpec(obj(pt.template), 'template');
}

// --- apps ---

/** The label-selector checks every apps workload starts with. */
function selectorErrors(spec: Obj, kind: string): FieldError[] {
  if (!isObj(spec.selector)) return [required('spec.selector')];
  const errs = validateLabelSelector(spec.selector, 'spec.selector');
  if (selectorIsEmpty(spec.selector)) errs.push(invalidGo('spec.selector', goLabelSelector(spec.selector), `empty selector is invalid for ${kind}`));
  return errs;
}

/** ValidatePodTemplateSpecForReplicaSet (Deployments and ReplicaSets). */
function templateForReplicaSet(spec: Obj, kind: string): FieldError[] {
  const errs: FieldError[] = [];
  const selector = asSelector(spec.selector);
  if (!selector) {
    errs.push(invalidGo('spec.selector', goLabelSelector(spec.selector), 'invalid label selector'));
    return errs;
  }
  if (!isObj(spec.template)) return [required('spec.template')];
  const tpl = spec.template;
  if (!selector.empty && !selector.matches(templateLabels(tpl) ?? {})) {
    errs.push(invalidGo('spec.template.metadata.labels', goMap(obj(tpl.metadata).labels), SELECTOR_MISMATCH));
  }
  errs.push(...validatePodTemplateSpec(tpl, 'spec.template'));
  if (restartPolicyOf(tpl) !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', restartPolicyOf(tpl), ['Always']));
  if (num(obj(tpl.spec).activeDeadlineSeconds) !== undefined) {
    errs.push(forbidden('spec.template.spec.activeDeadlineSeconds', `activeDeadlineSeconds in ${kind} is not Supported`));
  }
  return errs;
}

function goDeploymentStrategy(s: Obj): string {
  return `apps.DeploymentStrategy{Type:${goQuote(str(s.type))}, RollingUpdate:${goPtr('apps.RollingUpdateDeployment', s.rollingUpdate, 1)}}`;
}

function validateDeploymentStrategy(s: Obj): FieldError[] {
  const p = 'spec.strategy';
  // An absent type defaults to RollingUpdate with 25%/25%.
  const type = defaulted(s.type) ? 'RollingUpdate' : str(s.type);
  switch (type) {
    case 'Recreate':
      return isObj(s.rollingUpdate) ? [forbidden(`${p}.rollingUpdate`, "may not be specified when strategy `type` is 'Recreate'")] : [];
    case 'RollingUpdate': {
      const ru = obj(s.rollingUpdate);
      const maxUnavailable = ru.maxUnavailable ?? '25%';
      const maxSurge = ru.maxSurge ?? '25%';
      const rp = `${p}.rollingUpdate`;
      const errs = positiveIntOrPercent(`${rp}.maxUnavailable`, maxUnavailable);
      errs.push(...positiveIntOrPercent(`${rp}.maxSurge`, maxSurge));
      if (intOrPercentValue(maxUnavailable) === 0 && intOrPercentValue(maxSurge) === 0) {
        errs.push(invalidGo(`${rp}.maxUnavailable`, goIntOrString(maxUnavailable), 'may not be 0 when `maxSurge` is 0'));
      }
      errs.push(...notMoreThan100Percent(`${rp}.maxUnavailable`, maxUnavailable));
      return errs;
    }
    default:
      return [notSupportedGo(p, goDeploymentStrategy(s), ['Recreate', 'RollingUpdate'])];
  }
}

export function validateDeployment(d: Obj): FieldError[] {
  const spec = obj(d.spec);
  const errs = nonNegative('spec.replicas', spec.replicas);
  errs.push(...selectorErrors(spec, 'deployment'));
  errs.push(...templateForReplicaSet(spec, 'Deployment'));
  errs.push(...validateDeploymentStrategy(obj(spec.strategy)));
  errs.push(...nonNegative('spec.minReadySeconds', spec.minReadySeconds));
  errs.push(...nonNegative('spec.revisionHistoryLimit', spec.revisionHistoryLimit));
  if (isObj(spec.rollbackTo)) errs.push(...nonNegative('spec.rollback.version', spec.rollbackTo.revision));
  const pds = num(spec.progressDeadlineSeconds);
  if (pds !== undefined) {
    errs.push(...nonNegative('spec.progressDeadlineSeconds', pds));
    if (pds <= (num(spec.minReadySeconds) ?? 0)) errs.push(invalid('spec.progressDeadlineSeconds', pds, 'must be greater than minReadySeconds'));
  }
  return errs;
}

export function validateReplicaSet(rs: Obj): FieldError[] {
  const spec = obj(rs.spec);
  const errs = nonNegative('spec.replicas', spec.replicas);
  errs.push(...nonNegative('spec.minReadySeconds', spec.minReadySeconds));
  errs.push(...selectorErrors(spec, 'deployment'));
  errs.push(...templateForReplicaSet(spec, 'ReplicaSet'));
  return errs;
}

function validateRetentionPolicyType(v: unknown, field: string): FieldError[] {
  const s = str(v);
  return s === 'Retain' || s === 'Delete' ? [] : [notSupported(field, s, ['Retain', 'Delete'])];
}

export function validateStatefulSet(sts: Obj): FieldError[] {
  const spec = obj(sts.spec);
  const errs: FieldError[] = [];
  const pmp = defaulted(spec.podManagementPolicy) ? 'OrderedReady' : str(spec.podManagementPolicy);
  if (pmp !== 'OrderedReady' && pmp !== 'Parallel') errs.push(invalid('spec.podManagementPolicy', pmp, "must be 'OrderedReady' or 'Parallel'"));
  const us = obj(spec.updateStrategy);
  const usType = defaulted(us.type) ? 'RollingUpdate' : str(us.type);
  if (usType === 'OnDelete') {
    if (isObj(us.rollingUpdate)) {
      errs.push(
        invalidGo(
          'spec.updateStrategy.rollingUpdate',
          `apps.RollingUpdateStatefulSetStrategy{Partition:${num(us.rollingUpdate.partition) ?? 0}, MaxUnavailable:${goPtr('intstr.IntOrString', us.rollingUpdate.maxUnavailable, 2)}}`,
          "only allowed for updateStrategy 'RollingUpdate'",
        ),
      );
    }
  } else if (usType === 'RollingUpdate') {
    if (isObj(us.rollingUpdate)) {
      const rp = 'spec.updateStrategy.rollingUpdate';
      errs.push(...nonNegative(`${rp}.partition`, us.rollingUpdate.partition));
      const mu = us.rollingUpdate.maxUnavailable;
      if (mu !== undefined && mu !== null) {
        errs.push(...positiveIntOrPercent(`${rp}.maxUnavailable`, mu));
        if (intOrPercentValue(mu) === 0) errs.push(invalidGo(`${rp}.maxUnavailable`, goIntOrString(mu), 'cannot be 0'));
        errs.push(...notMoreThan100Percent(`${rp}.maxUnavailable`, mu));
      }
    }
  } else {
    errs.push(
      invalidGo(
        'spec.updateStrategy',
        `apps.StatefulSetUpdateStrategy{Type:${goQuote(usType)}, RollingUpdate:${goPtr('apps.RollingUpdateStatefulSetStrategy', us.rollingUpdate, 3)}}`,
        "must be 'RollingUpdate' or 'OnDelete'",
      ),
    );
  }
  if (isObj(spec.persistentVolumeClaimRetentionPolicy)) {
    const pol = spec.persistentVolumeClaimRetentionPolicy;
    // Both fields default to Retain.
    errs.push(...validateRetentionPolicyType(pol.whenDeleted ?? 'Retain', 'spec.persistentVolumeClaimRetentionPolicy.whenDeleted'));
    errs.push(...validateRetentionPolicyType(pol.whenScaled ?? 'Retain', 'spec.persistentVolumeClaimRetentionPolicy.whenScaled'));
  }
  errs.push(...nonNegative('spec.replicas', spec.replicas));
  errs.push(...nonNegative('spec.minReadySeconds', spec.minReadySeconds));
  if (isObj(spec.ordinals)) errs.push(...nonNegative('spec.ordinals.start', spec.ordinals.start));
  errs.push(...selectorErrors(spec, 'statefulset'));
  const selector = asSelector(spec.selector);
  const tpl = obj(spec.template);
  if (!selector) errs.push(invalidGo('spec.selector', goLabelSelector(spec.selector), ''));
  else {
    // ValidatePodTemplateSpecForStatefulSet checks labels and annotations, not the PodSpec.
    if (!selector.empty && !selector.matches(templateLabels(tpl) ?? {})) {
      errs.push(invalidGo('spec.template.metadata.labels', goMap(obj(tpl.metadata).labels), SELECTOR_MISMATCH));
    }
    errs.push(...validateLabels(templateLabels(tpl), 'spec.template.labels'));
    errs.push(...validateAnnotations(strMap(obj(tpl.metadata).annotations), 'spec.template.annotations'));
    errs.push(...validatePodSpecificAnnotations(strMap(obj(tpl.metadata).annotations), obj(tpl.spec), 'spec.template.annotations'));
  }
  if (restartPolicyOf(tpl) !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', restartPolicyOf(tpl), ['Always']));
  if (num(obj(tpl.spec).activeDeadlineSeconds) !== undefined) {
    errs.push(forbidden('spec.template.spec.activeDeadlineSeconds', 'activeDeadlineSeconds in StatefulSet is not Supported'));
  }
  return errs;
}

export function validateStatefulSetUpdate(next: Obj, old: Obj): FieldError[] {
  const errs = validateStatefulSet(next);
  const ns: Obj = { ...obj(next.spec) };
  const os: Obj = { ...obj(old.spec) };
  for (const f of ['replicas', 'template', 'updateStrategy', 'minReadySeconds', 'ordinals', 'persistentVolumeClaimRetentionPolicy']) {
    ns[f] = undefined;
    os[f] = undefined;
  }
  if (!deepEqual(ns, os)) {
    errs.push(
      forbidden(
        'spec',
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
      ),
    );
  }
  return errs;
}

export function validateDaemonSet(ds: Obj): FieldError[] {
  const spec = obj(ds.spec);
  const errs = validateLabelSelector(spec.selector, 'spec.selector');
  const selector = asSelector(spec.selector);
  const tpl = obj(spec.template);
  if (selector && !selector.matches(templateLabels(tpl) ?? {})) {
    errs.push(invalidGo('spec.template.metadata.labels', goMap(obj(tpl.metadata).labels), SELECTOR_MISMATCH));
  }
  if (isObj(spec.selector) && selectorIsEmpty(spec.selector)) {
    errs.push(invalidGo('spec.selector', goLabelSelector(spec.selector), 'empty selector is invalid for daemonset'));
  }
  errs.push(...validatePodTemplateSpec(tpl, 'spec.template'));
  if (restartPolicyOf(tpl) !== 'Always') errs.push(notSupported('spec.template.spec.restartPolicy', restartPolicyOf(tpl), ['Always']));
  if (num(obj(tpl.spec).activeDeadlineSeconds) !== undefined) {
    errs.push(forbidden('spec.template.spec.activeDeadlineSeconds', 'activeDeadlineSeconds in DaemonSet is not Supported'));
  }
  errs.push(...nonNegative('spec.minReadySeconds', spec.minReadySeconds));
  errs.push(...nonNegative('spec.templateGeneration', spec.templateGeneration));
  const us = obj(spec.updateStrategy);
  const type = defaulted(us.type) ? 'RollingUpdate' : str(us.type);
  if (type === 'RollingUpdate') {
    // rollingUpdate defaults to maxUnavailable 1, maxSurge 0.
    const ru = obj(us.rollingUpdate);
    const mu = ru.maxUnavailable ?? 1;
    const ms = ru.maxSurge ?? 0;
    const rp = 'spec.updateStrategy.rollingUpdate';
    errs.push(...positiveIntOrPercent(`${rp}.maxUnavailable`, mu));
    errs.push(...positiveIntOrPercent(`${rp}.maxSurge`, ms));
    errs.push(...notMoreThan100Percent(`${rp}.maxUnavailable`, mu));
    errs.push(...notMoreThan100Percent(`${rp}.maxSurge`, ms));
    const hasU = intOrPercentValue(mu) !== 0;
    const hasS = intOrPercentValue(ms) !== 0;
    if (hasU && hasS) errs.push(invalidGo(`${rp}.maxSurge`, goIntOrString(ms), 'may not be set when maxUnavailable is non-zero'));
    else if (!hasU && !hasS) errs.push(required(`${rp}.maxUnavailable`, 'cannot be 0 when maxSurge is 0'));
  } else if (type !== 'OnDelete') {
    errs.push(
      notSupportedGo(
        'spec.updateStrategy',
        `apps.DaemonSetUpdateStrategy{Type:${goQuote(type)}, RollingUpdate:${goPtr('apps.RollingUpdateDaemonSet', us.rollingUpdate, 4)}}`,
        ['RollingUpdate', 'OnDelete'],
      ),
    );
  }
  errs.push(...nonNegative('spec.revisionHistoryLimit', spec.revisionHistoryLimit));
  return errs;
}

export function validateControllerRevision(cr: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if (cr.data === undefined || cr.data === null) errs.push(required('data', 'data is mandatory'));
  errs.push(...nonNegative('revision', cr.revision));
  return errs;
}

export function validateControllerRevisionUpdate(next: Obj, old: Obj): FieldError[] {
  const errs = validateControllerRevision(next);
  if (!deepEqual(next.data, old.data)) errs.push(invalidGo('data', goRawExtension(next.data), FIELD_IMMUTABLE));
  return errs;
}

function goRawExtension(data: unknown): string {
  const bytes = [...Buffer.from(JSON.stringify(data ?? null))].map((b) => `0x${b.toString(16)}`).join(', ');
  return `runtime.RawExtension{Raw:[]uint8{${bytes}}, Object:runtime.Object(nil)}`;
}

/**
 * apps/v1 strategies (Deployment, ReplicaSet, StatefulSet, DaemonSet) reject a selector
 * change on update: `spec.selector: Invalid value: v1.LabelSelector{...}: field is immutable`.
 */
export function selectorImmutable(next: Obj, old: Obj): FieldError[] {
  const ns = obj(next.spec).selector;
  const os = obj(old.spec).selector;
  return deepEqual(ns ?? null, os ?? null) ? [] : [invalidGo('spec.selector', ns === undefined || ns === null ? 'null' : goLabelSelector(ns), FIELD_IMMUTABLE)];
}

