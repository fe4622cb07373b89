// batch/v1 Job and CronJob validation (pkg/apis/batch/validation, 1.32).
//
// The Job registry strategy generates spec.selector and the template's controller-uid
// labels unless spec.manualSelector is true; a Job without a selector is therefore
// only invalid when the selector was meant to be manual.

import type { FieldError } from '../errors.ts';
import { isDNS1123Label } from '../validation.ts';
import { validateLabelSelector } from '../validation.ts';
import { asSelector, isDomainPrefixedPath, qualifiedName } from './common.ts';
import { parseStandardCron } from './cron.ts';
import {
  arr,
  deepEqual,
  defaulted,
  duplicate,
  FIELD_IMMUTABLE,
  goInts,
  goLabelSelector,
  goMap,
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
  tooLong,
  tooMany,
  type Obj,
} from './field.ts';
import { validatePodTemplateSpec } from './pod.ts';

const MAX_PARALLELISM_INDEXED = 100000;
const MAX_FAILED_INDEXES = 100000;
const ACTIONS = ['Count', 'FailIndex', 'FailJob', 'Ignore'];

/** validateJobSpec: everything but the selector. */
function validateJobSpecCommon(spec: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of ['parallelism', 'completions', 'activeDeadlineSeconds', 'backoffLimit', 'ttlSecondsAfterFinished', 'backoffLimitPerIndex']) {
    errs.push(...nonNegative(`${p}.${f}`, spec[f]));
  }
  const maxFailed = num(spec.maxFailedIndexes);
  if (maxFailed !== undefined) {
    errs.push(...nonNegative(`${p}.maxFailedIndexes`, maxFailed));
    if (num(spec.backoffLimitPerIndex) === undefined) errs.push(required(`${p}.backoffLimitPerIndex`, 'when maxFailedIndexes is specified'));
  }
  if (typeof spec.managedBy === 'string') {
    errs.push(...isDomainPrefixedPath(`${p}.managedBy`, spec.managedBy));
    if (spec.managedBy.length > 63) errs.push(tooLong(`${p}.managedBy`, 63));
  }
  const mode = defaulted(spec.completionMode) ? 'NonIndexed' : str(spec.completionMode);
  const completions = num(spec.completions);
  const parallelism = num(spec.parallelism);
  if (mode !== 'NonIndexed' && mode !== 'Indexed') errs.push(notSupported(`${p}.completionMode`, mode, ['NonIndexed', 'Indexed']));
  if (mode === 'Indexed') {
    if (completions === undefined) errs.push(required(`${p}.completions`, 'when completion mode is Indexed'));
    if (parallelism !== undefined && parallelism > MAX_PARALLELISM_INDEXED) {
      errs.push(invalid(`${p}.parallelism`, parallelism, `must be less than or equal to ${MAX_PARALLELISM_INDEXED} when completion mode is Indexed`));
    }
    if (completions !== undefined && maxFailed !== undefined && maxFailed > completions) {
      errs.push(invalid(`${p}.maxFailedIndexes`, maxFailed, 'must be less than or equal to completions'));
    }
    if (maxFailed !== undefined && maxFailed > MAX_FAILED_INDEXES) {
      errs.push(invalid(`${p}.maxFailedIndexes`, maxFailed, `must be less than or equal to ${MAX_FAILED_INDEXES}`));
    }
  } else {
    if (num(spec.backoffLimitPerIndex) !== undefined) errs.push(invalid(`${p}.backoffLimitPerIndex`, num(spec.backoffLimitPerIndex)!, 'requires indexed completion mode'));
    if (maxFailed !== undefined) errs.push(invalid(`${p}.maxFailedIndexes`, maxFailed, 'requires indexed completion mode'));
  }
  const tpl = obj(spec.template);
  const tspec = obj(tpl.spec);
  if (isObj(spec.podFailurePolicy)) errs.push(...validatePodFailurePolicy(spec, `${p}.podFailurePolicy`));
  if (isObj(spec.successPolicy) && mode !== 'Indexed') {
    errs.push(invalidGo(`${p}.successPolicy`, `batch.SuccessPolicy{Rules:[]batch.SuccessPolicyRule{...}}`, 'requires indexed completion mode'));
  }
  if (typeof spec.podReplacementPolicy === 'string') {
    const prp = spec.podReplacementPolicy;
    if (isObj(spec.podFailurePolicy)) {
      if (prp !== 'Failed') errs.push(notSupported(`${p}.podReplacementPolicy`, prp, ['Failed']));
    } else if (prp !== 'Failed' && prp !== 'TerminatingOrFailed') errs.push(notSupported(`${p}.podReplacementPolicy`, prp, ['Failed', 'TerminatingOrFailed']));
  }
  errs.push(...validatePodTemplateSpec(tpl, `${p}.template`));
  // An absent restartPolicy defaults to Always, which Jobs reject.
  const rp = str(tspec.restartPolicy);
  const rpPath = `${p}.template.spec.restartPolicy`;
  if (rp === 'Always' || rp === '') errs.push(required(rpPath, 'valid values: "OnFailure", "Never"'));
  else if (rp !== 'OnFailure' && rp !== 'Never') errs.push(notSupported(rpPath, rp, ['OnFailure', 'Never']));
  else if (isObj(spec.podFailurePolicy) && rp !== 'Never') errs.push(invalid(rpPath, rp, 'only "Never" is supported when podFailurePolicy is specified'));
  return errs;
}

function validatePodFailurePolicy(spec: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const rules = arr(spec.podFailurePolicy.rules);
  if (rules.length > 20) errs.push(tooMany(`${p}.rules`, rules.length, 20));
  const tspec = obj(obj(spec.template).spec);
  const names = new Set([...arr(tspec.containers), ...arr(tspec.initContainers)].map((c) => str(c?.name)));
  rules.forEach((raw, i) => {
    const rule = obj(raw);
    const rp = `${p}.rules[${i}]`;
    const action = str(rule.action);
    if (!action) errs.push(required(`${rp}.action`, `valid values: ["${ACTIONS.join('" "')}"]`));
    else if (action === 'FailIndex') {
      if (num(spec.backoffLimitPerIndex) === undefined) errs.push(invalid(`${rp}.action`, action, 'requires the backoffLimitPerIndex to be set'));
    } else if (!ACTIONS.includes(action)) errs.push(notSupported(`${rp}.action`, action, ACTIONS));
    if (isObj(rule.onExitCodes)) {
      const oc = rule.onExitCodes;
      const op = `${rp}.onExitCodes`;
      const operator = str(oc.operator);
      if (!operator) errs.push(required(`${op}.operator`, 'valid values: ["In" "NotIn"]'));
      else if (operator !== 'In' && operator !== 'NotIn') errs.push(notSupported(`${op}.operator`, operator, ['In', 'NotIn']));
      if (typeof oc.containerName === 'string' && !names.has(oc.containerName)) {
        errs.push(invalid(`${op}.containerName`, oc.containerName, 'must be one of the container or initContainer names in the pod template'));
      }
      const values = arr(oc.values).map((v) => num(v) ?? 0);
      if (values.length === 0) errs.push(invalidGo(`${op}.values`, goInts(oc.values), 'at least one value is required'));
      else if (values.length > 255) errs.push(tooMany(`${op}.values`, values.length, 255));
      const seen = new Set<number>();
      let ordered = true;
      values.forEach((v, j) => {
        if (operator === 'In' && v === 0) errs.push(invalid(`${op}.values[${j}]`, v, 'must not be 0 for the In operator'));
        if (seen.has(v)) errs.push(duplicate(`${op}.values[${j}]`, v));
        else seen.add(v);
        if (j > 0 && values[j - 1] > v) ordered = false;
      });
      if (!ordered) errs.push(invalidGo(`${op}.values`, goInts(values), 'must be ordered'));
    }
    const conds = arr(rule.onPodConditions);
    if (conds.length > 0) {
      const cp = `${rp}.onPodConditions`;
      if (conds.length > 20) errs.push(tooMany(cp, conds.length, 20));
      conds.forEach((c, j) => {
        errs.push(...qualifiedName(`${cp}[${j}].type`, str(c?.type)));
        // status defaults to True.
        const st = defaulted(c?.status) ? 'True' : str(c.status);
        if (!['False', 'True', 'Unknown'].includes(st)) errs.push(notSupported(`${cp}[${j}].status`, st, ['False', 'True', 'Unknown']));
      });
    }
    if (isObj(rule.onExitCodes) && conds.length > 0) errs.push({ type: 'FieldValueInvalid', field: rp, detail: 'specifying both OnExitCodes and OnPodConditions is not supported' });
    if (!isObj(rule.onExitCodes) && conds.length === 0) errs.push({ type: 'FieldValueInvalid', field: rp, detail: 'specifying one of OnExitCodes and OnPodConditions is required' });
  });
  return errs;
}

/** Whether the strategy generates the selector (manualSelector not true). */
const selectorGenerated = (spec: Obj) => spec.manualSelector !== true;

export function validateJob(job: Obj): FieldError[] {
  const spec = obj(job.spec);
  const meta = obj(job.metadata);
  const errs: FieldError[] = [];
  errs.push(...validateJobSpec(spec, 'spec'));
  const completions = num(spec.completions);
  if (str(spec.completionMode) === 'Indexed' && completions !== undefined && completions > 0) {
    const host = `${str(meta.name)}-${completions - 1}`;
    if (isDNS1123Label(host).length) {
      errs.push(invalid('metadata.name', str(meta.name), `will not able to create pod with invalid DNS label: ${host}`));
    }
  }
  return errs;
}

/** ValidateJobSpec: the common checks plus the selector and its match with the template. */
function validateJobSpec(spec: Obj, p: string): FieldError[] {
  const errs = validateJobSpecCommon(spec, p);
  if (!isObj(spec.selector)) {
    if (selectorGenerated(spec)) return errs;
    errs.push(required(`${p}.selector`));
  } else errs.push(...validateLabelSelector(spec.selector, `${p}.selector`));
  const selector = asSelector(spec.selector);
  const labels = strMap(obj(obj(spec.template).metadata).labels) ?? {};
  if (selector && !selector.matches(labels)) {
    errs.push(invalidGo(`${p}.template.metadata.labels`, goMap(obj(obj(spec.template).metadata).labels), '`selector` does not match template `labels`'));
  }
  return errs;
}

function immutable(field: string, nv: unknown, ov: unknown, render: (v: unknown) => string): FieldError[] {
  if (deepEqual(nv ?? null, ov ?? null)) return [];
  return [invalidGo(field, nv === undefined || nv === null ? 'null' : render(nv), FIELD_IMMUTABLE)];
}

export function validateJobUpdate(next: Obj, old: Obj): FieldError[] {
  const ns = obj(next.spec);
  const os = obj(old.spec);
  const errs = validateJobSpec(ns, 'spec');
  const mode = str(ns.completionMode);
  // Indexed Jobs may scale completions together with parallelism (ElasticIndexedJob, GA).
  if (mode === 'Indexed') {
    if (!deepEqual(ns.completions ?? null, os.completions ?? null) && num(ns.completions) !== undefined && num(ns.completions) !== num(ns.parallelism)) {
      errs.push(invalid('spec.completions', num(ns.completions)!, 'can only be modified in tandem with spec.parallelism'));
    }
  } else errs.push(...immutable('spec.completions', ns.completions, os.completions, (v) => String(v)));
  errs.push(...immutable('spec.selector', ns.selector, os.selector, goLabelSelector));
  // Scheduling directives of a suspended Job's template may change (JobMutableNodeSchedulingDirectives).
  const nt: Obj = structuredClone(obj(ns.template));
  const ot: Obj = structuredClone(obj(os.template));
  if (ns.suspend === true && os.suspend === true && !obj(old.status).startTime) {
    for (const t of [nt, ot]) {
      t.metadata = { ...obj(t.metadata), labels: undefined, annotations: undefined };
      t.spec = { ...obj(t.spec), nodeSelector: undefined, tolerations: undefined, schedulingGates: undefined };
      if (isObj(t.spec.affinity)) t.spec.affinity = { ...t.spec.affinity, nodeAffinity: undefined };
    }
  }
  if (!deepEqual(nt, ot)) {
    // Upstream prints the whole template with %#v here; only its type is reproduced.
    errs.push(invalidGo('spec.template', 'core.PodTemplateSpec{...}', FIELD_IMMUTABLE));
  }
  errs.push(...immutable('spec.completionMode', ns.completionMode, os.completionMode, (v) => goQuote(String(v))));
  errs.push(...immutable('spec.podFailurePolicy', ns.podFailurePolicy, os.podFailurePolicy, () => 'batch.PodFailurePolicy{...}'));
  errs.push(...immutable('spec.backoffLimitPerIndex', ns.backoffLimitPerIndex, os.backoffLimitPerIndex, (v) => String(v)));
  errs.push(...immutable('spec.managedBy', ns.managedBy, os.managedBy, (v) => goQuote(String(v))));
  errs.push(...immutable('spec.successPolicy', ns.successPolicy, os.successPolicy, () => 'batch.SuccessPolicy{...}'));
  return errs;
}

// --- CronJob ---

/** time.LoadLocation's verdict on a zone name: undefined when known, else its error. */
export function loadLocationError(tz: string): string | undefined {
  if (tz === '' || tz === 'UTC' || tz === 'Local') return undefined;
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: tz }).resolvedOptions().timeZone;
    // ICU matches names case-insensitively; Go's zoneinfo lookup does not.
    const known = (Intl as any).supportedValuesOf?.('timeZone') as string[] | undefined;
    const lower = tz.toLowerCase();
    const canonical = known?.find((z) => z.toLowerCase() === lower);
    if (canonical && canonical !== tz) return `unknown time zone ${tz}`;
    if (!canonical && resolved.toLowerCase() === lower && resolved !== tz) return `unknown time zone ${tz}`;
    return undefined;
  } catch {
    return `unknown time zone ${tz}`;
  }
}

function validateTimeZone(tz: unknown, p: string): FieldError[] {
  if (typeof tz !== 'string') return [];
  if (tz.length === 0) return [invalid(p, tz, 'timeZone must be nil or non-empty string')];
  for (const part of tz.split('/')) {
    if (part === '.' || part === '..' || part.startsWith('-') || !/^[A-Za-z.\-_0-9+]{1,14}$/.test(part)) {
      return [invalid(p, tz, `unknown time zone ${tz}`)];
    }
  }
  const errs: FieldError[] = [];
  if (tz.toLowerCase() === 'local') errs.push(invalid(p, tz, 'timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones'));
  const err = loadLocationError(tz);
  if (err) errs.push(invalid(p, tz, err));
  return errs;
}

function validateCronJobSpec(spec: Obj, oldSpec: Obj | undefined): FieldError[] {
  const errs: FieldError[] = [];
  const schedule = str(spec.schedule);
  if (!schedule) errs.push(required('spec.schedule'));
  else {
    const err = parseStandardCron(schedule, loadLocationError);
    if (err) errs.push(invalid('spec.schedule', schedule, err));
    const allowTZ = oldSpec !== undefined && str(oldSpec.schedule).includes('TZ');
    if (allowTZ && schedule.includes('TZ') && typeof spec.timeZone === 'string') {
      errs.push(invalid('spec.schedule', schedule, 'cannot use both timeZone field and TZ or CRON_TZ in schedule'));
    } else if (!allowTZ && schedule.includes('TZ')) {
      errs.push(invalid('spec.schedule', schedule, 'cannot use TZ or CRON_TZ in schedule, use timeZone field instead'));
    }
  }
  errs.push(...nonNegative('spec.startingDeadlineSeconds', spec.startingDeadlineSeconds));
  if (oldSpec === undefined || (oldSpec.timeZone ?? null) !== (spec.timeZone ?? null)) errs.push(...validateTimeZone(spec.timeZone, 'spec.timeZone'));
  const cp = defaulted(spec.concurrencyPolicy) ? 'Allow' : str(spec.concurrencyPolicy);
  if (!['Allow', 'Forbid', 'Replace'].includes(cp)) errs.push(notSupported('spec.concurrencyPolicy', cp, ['Allow', 'Forbid', 'Replace']));
  const jt = obj(spec.jobTemplate);
  const jspec = obj(jt.spec);
  errs.push(...validateJobSpecCommon(jspec, 'spec.jobTemplate.spec'));
  if (isObj(jspec.selector)) errs.push(invalidGo('spec.jobTemplate.spec.selector', goLabelSelector(jspec.selector), '`selector` will be auto-generated'));
  if (jspec.manualSelector === true) errs.push(notSupportedGo('spec.jobTemplate.spec.manualSelector', 'true', ['nil', 'false']));
  errs.push(...nonNegative('spec.successfulJobsHistoryLimit', spec.successfulJobsHistoryLimit));
  errs.push(...nonNegative('spec.failedJobsHistoryLimit', spec.failedJobsHistoryLimit));
  return errs;
}

export function validateCronJob(cj: Obj): FieldError[] {
  return validateCronJobSpec(obj(cj.spec), undefined);
}

export function validateCronJobUpdate(next: Obj, old: Obj): FieldError[] {
  return validateCronJobSpec(obj(next.spec), obj(old.spec));
}

