// Object metadata validation with upstream's rules and message texts (apimachinery
// util/validation, api/validation, apis/meta/v1/validation, and the core wrapper in
// pkg/apis/core/validation), as of Kubernetes 1.32. kubectl prints these strings
// verbatim (`* metadata.name: Invalid value: ...`), so they are API.
//
// Lengths are counted in UTF-8 bytes, as Go's len() does.

import type { FieldError } from './errors.ts';
import type { ObjectMeta, OwnerReference } from './object.ts';

// --- Go formatting helpers (upstream builds messages with %q and %#v) ---

/** Go's strconv.Quote / %q for a string. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    switch (ch) {
      case '"': out += '\\"'; continue;
      case '\\': out += '\\\\'; continue;
      case '\x07': out += '\\a'; continue;
      case '\b': out += '\\b'; continue;
      case '\f': out += '\\f'; continue;
      case '\n': out += '\\n'; continue;
      case '\r': out += '\\r'; continue;
      case '\t': out += '\\t'; continue;
      case '\v': out += '\\v'; continue;
    }
    if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if ((c >= 0x80 && c < 0xa0) || c === 0xad) out += '\\u' + c.toString(16).padStart(4, '0');
    else if (c === 0x2028 || c === 0x2029 || c === 0xfeff) out += '\\u' + c.toString(16).padStart(4, '0');
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd'; // lone surrogate: Go would see invalid UTF-8
    else out += ch;
  }
  return out + '"';
}

/** %#v of a []string, e.g. `[]string{"a", "b"}`. */
export function goStringSlice(values: readonly string[]): string {
  return `[]string{${values.map(goQuote).join(', ')}}`;
}

/**
 * A FieldValueInvalid whose value upstream prints with Go syntax that errors.ts's
 * JSON formatting cannot reproduce (slices, structs, times). The Go rendering goes at
 * the start of `detail`, so fieldErrorBody yields upstream's exact text.
 */
function invalidGo(field: string, goValue: string, detail: string): FieldError {
  return { type: 'FieldValueInvalid', field, detail: `${goValue}: ${detail}` };
}

function invalid(field: string, value: unknown, detail: string): FieldError {
  return { type: 'FieldValueInvalid', field, value, detail };
}

function byteLen(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

// --- string format checks (k8s.io/apimachinery/pkg/util/validation) ---

/** "must be no more than N characters" */
export function maxLenError(length: number): string {
  return `must be no more than ${length} characters`;
}

/** upstream's RegexError, including its odd `'x',  or 'y', ` example punctuation */
export function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  let s = msg + ' (e.g. ';
  examples.forEach((ex, i) => {
    if (i > 0) s += ' or ';
    s += `'${ex}', `;
  });
  return s + `regex used for validation is '${fmt}')`;
}

const EMPTY_ERROR = 'must be non-empty';

const qnameCharFmt = '[A-Za-z0-9]';
const qnameExtCharFmt = '[-A-Za-z0-9_.]';
const qualifiedNameFmt = `(${qnameCharFmt}${qnameExtCharFmt}*)?${qnameCharFmt}`;
const qualifiedNameErrMsg =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const qualifiedNameMaxLength = 63;
const qualifiedNameRegexp = new RegExp(`^${qualifiedNameFmt}$`);

const labelValueFmt = `(${qualifiedNameFmt})?`;
const labelValueErrMsg =
  "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
export const LABEL_VALUE_MAX_LENGTH = 63;
const labelValueRegexp = new RegExp(`^${labelValueFmt}$`);

const dns1123LabelFmt = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const dns1123LabelErrMsg =
  "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
export const DNS1123_LABEL_MAX_LENGTH = 63;
const dns1123LabelRegexp = new RegExp(`^${dns1123LabelFmt}$`);

const dns1123SubdomainFmt = `${dns1123LabelFmt}(\\.${dns1123LabelFmt})*`;
const dns1123SubdomainErrorMsg =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
const dns1123SubdomainRegexp = new RegExp(`^${dns1123SubdomainFmt}$`);

const dns1035LabelFmt = '[a-z]([-a-z0-9]*[a-z0-9])?';
const dns1035LabelErrMsg =
  "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
export const DNS1035_LABEL_MAX_LENGTH = 63;
const dns1035LabelRegexp = new RegExp(`^${dns1035LabelFmt}$`);

/** `[prefix/]name`: label keys, annotation keys (lower-cased first), finalizers. */
export function isQualifiedName(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 2) {
    const prefix = parts[0];
    name = parts[1];
    if (prefix.length === 0) errs.push('prefix part ' + EMPTY_ERROR);
    else for (const m of isDNS1123Subdomain(prefix)) errs.push('prefix part ' + m);
  } else {
    errs.push(
      'a qualified name ' +
        regexError(qualifiedNameErrMsg, qualifiedNameFmt, 'MyName', 'my.name', '123-abc') +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
    );
    return errs;
  }
  if (name.length === 0) errs.push('name part ' + EMPTY_ERROR);
  else if (byteLen(name) > qualifiedNameMaxLength) errs.push('name part ' + maxLenError(qualifiedNameMaxLength));
  if (!qualifiedNameRegexp.test(name)) {
    errs.push('name part ' + regexError(qualifiedNameErrMsg, qualifiedNameFmt, 'MyName', 'my.name', '123-abc'));
  }
  return errs;
}

export function isValidLabelValue(value: string): string[] {
  const errs: string[] = [];
  if (byteLen(value) > LABEL_VALUE_MAX_LENGTH) errs.push(maxLenError(LABEL_VALUE_MAX_LENGTH));
  if (!labelValueRegexp.test(value)) errs.push(regexError(labelValueErrMsg, labelValueFmt, 'MyValue', 'my_value', '12345'));
  return errs;
}

export function isDNS1123Label(value: string): string[] {
  const errs: string[] = [];
  if (byteLen(value) > DNS1123_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1123_LABEL_MAX_LENGTH));
  if (!dns1123LabelRegexp.test(value)) {
    // A valid subdomain that is not a valid label: length was checked above, so it is the dots.
    if (dns1123SubdomainRegexp.test(value)) errs.push('must not contain dots');
    else errs.push(regexError(dns1123LabelErrMsg, dns1123LabelFmt, 'my-name', '123-abc'));
  }
  return errs;
}

export function isDNS1123Subdomain(value: string): string[] {
  const errs: string[] = [];
  if (byteLen(value) > DNS1123_SUBDOMAIN_MAX_LENGTH) errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  if (!dns1123SubdomainRegexp.test(value)) errs.push(regexError(dns1123SubdomainErrorMsg, dns1123SubdomainFmt, 'example.com'));
  return errs;
}

export function isDNS1035Label(value: string): string[] {
  const errs: string[] = [];
  if (byteLen(value) > DNS1035_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1035_LABEL_MAX_LENGTH));
  if (!dns1035LabelRegexp.test(value)) errs.push(regexError(dns1035LabelErrMsg, dns1035LabelFmt, 'my-name', 'abc-123'));
  return errs;
}

/** Names that must survive as one REST path segment (apimachinery api/validation/path). */
export function isValidPathSegmentName(name: string): string[] {
  for (const bad of ['.', '..']) if (name === bad) return [`may not be '${bad}'`];
  return isValidPathSegmentPrefix(name);
}

/** As isValidPathSegmentName, minus the exact-name checks a suffix would defeat. */
export function isValidPathSegmentPrefix(name: string): string[] {
  const errs: string[] = [];
  for (const bad of ['/', '%']) if (name.includes(bad)) errs.push(`may not contain '${bad}'`);
  return errs;
}

// --- name validators (ValidateNameFunc: prefix=true when checking generateName) ---

/** Returns upstream's messages for a bad name, [] when valid. */
export type NameValidator = (name: string, prefix: boolean) => string[];

/**
 * Upstream's maskTrailingDash, kept byte-for-byte: a generateName ending in '-' has its
 * last TWO characters replaced by "a" (so "ab-" is checked as "aa").
 */
function maskTrailingDash(name: string): string {
  if (name.length > 1 && name.endsWith('-')) return name.slice(0, -2) + 'a';
  return name;
}

export const nameIsDNSSubdomain: NameValidator = (name, prefix) =>
  isDNS1123Subdomain(prefix ? maskTrailingDash(name) : name);

export const nameIsDNSLabel: NameValidator = (name, prefix) => isDNS1123Label(prefix ? maskTrailingDash(name) : name);

export const nameIsDNS1035Label: NameValidator = (name, prefix) =>
  isDNS1035Label(prefix ? maskTrailingDash(name) : name);

/** The generic registry's check (rest.BeforeCreate), used where a strategy checks no name format. */
export const validatePathSegmentName: NameValidator = (name, prefix) =>
  prefix ? isValidPathSegmentPrefix(name) : isValidPathSegmentName(name);

/** RBAC's ValidateRBACName ignores `prefix`: a generateName is checked as a whole name. */
const rbacName: NameValidator = (name) => isValidPathSegmentName(name);

/** Namespaces (and metadata.namespace of namespaced objects) are DNS-1123 labels. */
export const validateNamespaceName: NameValidator = nameIsDNSLabel;

export type NameRule = 'dns1123subdomain' | 'dns1123label' | 'dns1035label' | 'pathSegment';

const NAMED_RULES: Record<NameRule, NameValidator> = {
  dns1123subdomain: nameIsDNSSubdomain,
  dns1123label: nameIsDNSLabel,
  dns1035label: nameIsDNS1035Label,
  pathSegment: validatePathSegmentName,
};

// --- per-resource metadata rules ---

export interface MetaRules {
  namespaced: boolean;
  name: NameValidator;
  /**
   * Core's validateKubeFinalizerName on top of apimachinery's checks: an unqualified
   * finalizer must be "kubernetes", "orphan" or "foregroundDeletion". True where the
   * strategy validates through pkg/apis/core/validation.ValidateObjectMeta.
   */
  kubeFinalizers: boolean;
  /** Checks upstream's strategy runs after ValidateObjectMeta (CronJob's name length). */
  extra?: (meta: ObjectMeta) => FieldError[];
}

/** ValidateCronJobCreate: the controller appends an 11-character suffix to job names. */
function cronJobNameLength(meta: ObjectMeta): FieldError[] {
  const name = meta.name ?? '';
  if (byteLen(name) > DNS1035_LABEL_MAX_LENGTH - 11) {
    return [invalid('metadata.name', name, 'must be no more than 52 characters')];
  }
  return [];
}

const ns = (name: NameValidator, kubeFinalizers = true): MetaRules => ({ namespaced: true, name, kubeFinalizers });
const cluster = (name: NameValidator, kubeFinalizers = true): MetaRules => ({ namespaced: false, name, kubeFinalizers });

// Keyed "group/resource" (core group is ""). Sources: each group's ValidateXxx in
// pkg/apis/*/validation, and rest.BeforeCreate for strategies that check no name.
const META_RULES: Record<string, MetaRules> = {
  '/namespaces': cluster(validateNamespaceName),
  '/pods': ns(nameIsDNSSubdomain),
  '/services': ns(nameIsDNS1035Label),
  '/endpoints': ns(nameIsDNSSubdomain),
  '/configmaps': ns(nameIsDNSSubdomain),
  '/secrets': ns(nameIsDNSSubdomain),
  '/serviceaccounts': ns(nameIsDNSSubdomain),
  '/nodes': cluster(nameIsDNSSubdomain),
  // core/v1 Event: legacyValidateEvent checks no metadata; only the generic path-segment check runs.
  '/events': ns(validatePathSegmentName, false),
  '/persistentvolumes': cluster(nameIsDNSSubdomain),
  '/persistentvolumeclaims': ns(nameIsDNSSubdomain),
  '/replicationcontrollers': ns(nameIsDNSSubdomain),
  '/resourcequotas': ns(nameIsDNSSubdomain),
  '/limitranges': ns(nameIsDNSSubdomain),
  '/podtemplates': ns(nameIsDNSSubdomain),
  'apps/deployments': ns(nameIsDNSSubdomain),
  'apps/replicasets': ns(nameIsDNSSubdomain),
  // ValidateStatefulSetName: a DNS-1123 label, since pod hostnames derive from it.
  'apps/statefulsets': ns(nameIsDNSLabel),
  'apps/daemonsets': ns(nameIsDNSSubdomain),
  'apps/controllerrevisions': ns(nameIsDNSSubdomain),
  'batch/jobs': ns(nameIsDNSSubdomain),
  'batch/cronjobs': { ...ns(nameIsDNSSubdomain), extra: cronJobNameLength },
  // ValidateLease calls apimachinery's ValidateObjectMeta directly: no kube finalizer check.
  'coordination.k8s.io/leases': ns(nameIsDNSSubdomain, false),
  'discovery.k8s.io/endpointslices': ns(nameIsDNSSubdomain),
  // events.k8s.io/v1 creates get ValidateEventCreate's strict branch.
  'events.k8s.io/events': ns(nameIsDNSSubdomain),
  // ValidatePodDisruptionBudget checks only spec: the generic path-segment check applies.
  'policy/poddisruptionbudgets': ns(validatePathSegmentName, false),
  'networking.k8s.io/ingresses': ns(nameIsDNSSubdomain),
  'networking.k8s.io/ingressclasses': cluster(nameIsDNSSubdomain),
  'networking.k8s.io/networkpolicies': ns(nameIsDNSSubdomain),
  'storage.k8s.io/storageclasses': cluster(nameIsDNSSubdomain),
  'scheduling.k8s.io/priorityclasses': cluster(nameIsDNSSubdomain),
  'rbac.authorization.k8s.io/roles': ns(rbacName),
  'rbac.authorization.k8s.io/rolebindings': ns(rbacName),
  'rbac.authorization.k8s.io/clusterroles': cluster(rbacName),
  'rbac.authorization.k8s.io/clusterrolebindings': cluster(rbacName),
  'autoscaling/horizontalpodautoscalers': ns(nameIsDNSSubdomain),
};

/**
 * Upstream's metadata rules for a built-in resource, or undefined for resources this
 * table does not know (custom resources use DNS-1123 subdomain names and no kube
 * finalizer check: `{ name: nameIsDNSSubdomain, kubeFinalizers: false }`).
 */
export const nameValidationFor = (group: string, resource: string): MetaRules | undefined =>
  META_RULES[`${group}/${resource}`];

// --- ObjectMeta ---

export interface ValidateObjectMetaOptions {
  namespaced: boolean;
  /**
   * Name format: what nameValidationFor() returns (its kubeFinalizers and extra apply
   * too), a NameValidator, or one of upstream's named rules. Default (also for an
   * undefined nameValidationFor() result): DNS-1123 subdomain, as for custom resources.
   */
  nameValidation?: MetaRules | NameValidator | NameRule;
  /** See MetaRules.kubeFinalizers; overrides the rules' value. Default false. */
  kubeFinalizers?: boolean;
  /** Extra checks run last; added to the rules' own. */
  extra?: (meta: ObjectMeta) => FieldError[];
}

const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);
const ANNOTATIONS_SIZE_LIMIT = 256 * (1 << 10);

function strings(v: unknown): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) out[k] = typeof val === 'string' ? val : String(val);
  return out;
}

/** metav1 ValidateLabels: every error is reported at the map's path, not the key's. */
export function validateLabels(labels: Record<string, string> | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, v] of Object.entries(strings(labels))) {
    errs.push(...validateLabelName(k, path));
    for (const m of isValidLabelValue(v)) errs.push(invalid(path, v, m));
  }
  return errs;
}

export function validateLabelName(name: string, path: string): FieldError[] {
  return isQualifiedName(name).map((m) => invalid(path, name, m));
}

/** Keys are qualified names compared case-insensitively; keys plus values at most 256 KiB. */
export function validateAnnotations(annotations: Record<string, string> | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(strings(annotations))) {
    for (const m of isQualifiedName(k.toLowerCase())) errs.push(invalid(path, k, m));
    total += byteLen(k) + byteLen(v);
  }
  if (total > ANNOTATIONS_SIZE_LIMIT) {
    // 1.32's field.TooLong wording; 1.31 said "must have at most N bytes".
    errs.push({ type: 'FieldValueTooLong', field: path, detail: `may not be more than ${ANNOTATIONS_SIZE_LIMIT} bytes` });
  }
  return errs;
}

function goBoolPtr(v: unknown): string {
  // Go prints the pointer's address here; the value is the useful part.
  return typeof v === 'boolean' ? `(*bool)(${v})` : '(*bool)(nil)';
}

function goOwnerReference(r: Partial<OwnerReference>): string {
  return (
    `v1.OwnerReference{APIVersion:${goQuote(String(r.apiVersion ?? ''))}, Kind:${goQuote(String(r.kind ?? ''))}, ` +
    `Name:${goQuote(String(r.name ?? ''))}, UID:${goQuote(String(r.uid ?? ''))}, ` +
    `Controller:${goBoolPtr(r.controller)}, BlockOwnerDeletion:${goBoolPtr(r.blockOwnerDeletion)}}`
  );
}

/** schema.ParseGroupVersion; an unparsable string yields an empty version. */
function parseGroupVersion(gv: string): { group: string; version: string } {
  if (gv === '' || gv === '/') return { group: '', version: '' };
  const slashes = gv.split('/').length - 1;
  if (slashes === 0) return { group: '', version: gv };
  if (slashes === 1) {
    const i = gv.indexOf('/');
    return { group: gv.slice(0, i), version: gv.slice(i + 1) };
  }
  return { group: '', version: '' };
}

export function validateOwnerReferences(refs: readonly Partial<OwnerReference>[] | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!Array.isArray(refs)) return errs;
  let firstController = '';
  for (const ref of refs) {
    const apiVersion = String(ref?.apiVersion ?? '');
    const kind = String(ref?.kind ?? '');
    const gv = parseGroupVersion(apiVersion);
    // Upstream reports these at ownerReferences.<field>, without an index.
    if (gv.version === '') errs.push(invalid(`${path}.apiVersion`, apiVersion, 'version must not be empty'));
    if (kind === '') errs.push(invalid(`${path}.kind`, kind, 'kind must not be empty'));
    if (!ref?.name) errs.push(invalid(`${path}.name`, String(ref?.name ?? ''), 'name must not be empty'));
    if (!ref?.uid) errs.push(invalid(`${path}.uid`, String(ref?.uid ?? ''), 'uid must not be empty'));
    if (gv.group === '' && gv.version === 'v1' && kind === 'Event') {
      errs.push(invalidGo(path, goOwnerReference(ref), '/v1, Kind=Event is disallowed from being an owner'));
    }
    if (ref?.controller === true) {
      const current = `${kind}/${ref.name ?? ''}`;
      if (firstController !== '') {
        errs.push(
          invalidGo(
            path,
            `[]v1.OwnerReference{${refs.map((r) => goOwnerReference(r)).join(', ')}}`,
            `Only one reference can have Controller set to true. Found "true" in references for ${firstController} and ${current}`,
          ),
        );
      } else {
        firstController = current;
      }
    }
  }
  return errs;
}

/** apimachinery's ValidateFinalizers (errors at the list's path) plus, optionally, core's per-item check. */
export function validateFinalizers(
  finalizers: readonly string[] | undefined,
  path: string,
  opts: { kubeFinalizers?: boolean } = {},
): FieldError[] {
  const errs: FieldError[] = [];
  if (!Array.isArray(finalizers)) return errs;
  const list = finalizers.map(String);
  for (const f of list) for (const m of isQualifiedName(f)) errs.push(invalid(path, f, m));
  if (list.includes('orphan') && list.includes('foregroundDeletion')) {
    errs.push(invalidGo(path, goStringSlice(list), 'finalizer orphan and foregroundDeletion cannot be both set'));
  }
  if (opts.kubeFinalizers) {
    list.forEach((f, i) => {
      if (!f.includes('/') && !STANDARD_FINALIZERS.has(f)) {
        errs.push(invalid(`${path}[${i}]`, f, 'name is neither a standard finalizer name nor is it fully qualified'));
      }
    });
  }
  return errs;
}

function resolveRules(opts: ValidateObjectMetaOptions): { name: NameValidator; kubeFinalizers: boolean; extras: ((m: ObjectMeta) => FieldError[])[] } {
  const v = opts.nameValidation;
  const rules = typeof v === 'object' && v !== null ? v : undefined;
  const name = rules ? rules.name : typeof v === 'function' ? v : NAMED_RULES[typeof v === 'string' ? v : 'dns1123subdomain'];
  const extras = [rules?.extra, opts.extra].filter((f): f is (m: ObjectMeta) => FieldError[] => typeof f === 'function');
  return { name, kubeFinalizers: opts.kubeFinalizers ?? rules?.kubeFinalizers ?? false, extras };
}

/**
 * ValidateObjectMeta for a create. Errors come in upstream's order: generateName, name,
 * namespace, generation, labels, annotations, ownerReferences, finalizers, then the
 * kube finalizer check and resource extras.
 *
 * Upstream validates after generating the name from generateName; here a missing name
 * is accepted when generateName is set, so callers may validate either before or after
 * generating (after is better: it also checks the generated name's length).
 * Upstream's apiserver clears metadata.namespace on cluster-scoped creates before
 * validating, so the Forbidden error below is only reached by direct callers.
 */
export function validateObjectMeta(meta: ObjectMeta | undefined, opts: ValidateObjectMetaOptions): FieldError[] {
  const m: ObjectMeta = meta ?? {};
  const rules = resolveRules(opts);
  const nameFn = rules.name;
  const errs: FieldError[] = [];
  const generateName = typeof m.generateName === 'string' ? m.generateName : '';
  const name = typeof m.name === 'string' ? m.name : '';
  const namespace = typeof m.namespace === 'string' ? m.namespace : '';

  if (generateName !== '') {
    for (const msg of nameFn(generateName, true)) errs.push(invalid('metadata.generateName', generateName, msg));
  }
  if (name === '') {
    if (generateName === '') {
      errs.push({ type: 'FieldValueRequired', field: 'metadata.name', detail: 'name or generateName is required' });
    }
  } else {
    for (const msg of nameFn(name, false)) errs.push(invalid('metadata.name', name, msg));
  }
  if (opts.namespaced) {
    if (namespace === '') errs.push({ type: 'FieldValueRequired', field: 'metadata.namespace', detail: '' });
    else for (const msg of validateNamespaceName(namespace, false)) errs.push(invalid('metadata.namespace', namespace, msg));
  } else if (namespace !== '') {
    errs.push({ type: 'FieldValueForbidden', field: 'metadata.namespace', detail: 'not allowed on this type' });
  }
  if (typeof m.generation === 'number' && m.generation < 0) {
    errs.push(invalid('metadata.generation', m.generation, 'must be greater than or equal to 0'));
  }
  errs.push(...validateLabels(m.labels, 'metadata.labels'));
  errs.push(...validateAnnotations(m.annotations, 'metadata.annotations'));
  errs.push(...validateOwnerReferences(m.ownerReferences, 'metadata.ownerReferences'));
  errs.push(...validateFinalizers(m.finalizers, 'metadata.finalizers', { kubeFinalizers: rules.kubeFinalizers }));
  for (const extra of rules.extras) errs.push(...extra(m));
  return errs;
}

/**
 * Create-time metadata validation for a resource from the table; unknown resources are
 * validated as custom resources (DNS-1123 subdomain names), with scope from `namespaced`.
 */
export function validateObjectMetaFor(
  gr: { group: string; resource: string },
  meta: ObjectMeta | undefined,
  fallback: { namespaced: boolean } = { namespaced: true },
): FieldError[] {
  const rules = nameValidationFor(gr.group, gr.resource);
  return validateObjectMeta(meta, { namespaced: rules?.namespaced ?? fallback.namespaced, nameValidation: rules });
}

const FIELD_IMMUTABLE = 'field is immutable';

/** Go's time.Time String() for a metav1.Time, in UTC (the apiserver's usual zone). */
function goTime(ts: string): string {
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  let s =
    `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  const ms = d.getUTCMilliseconds();
  if (ms) s += '.' + p(ms, 3).replace(/0+$/, '');
  return s + ' +0000 UTC';
}

function sameInstant(a: string | undefined, b: string | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return !a && !b;
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isNaN(ta) || Number.isNaN(tb) ? a === b : ta === tb;
}

/**
 * ValidateObjectMetaUpdate. Upstream's rest.BeforeUpdate first copies uid (when unset),
 * creationTimestamp, deletionTimestamp and deletionGracePeriodSeconds from the old
 * object, so in practice only name, namespace and a *different* uid trip the immutability
 * checks; callers should do the same copying first.
 */
export function validateUpdateObjectMeta(
  newMeta: ObjectMeta | undefined,
  oldMeta: ObjectMeta | undefined,
  opts: { kubeFinalizers?: boolean } = {},
): FieldError[] {
  const n: ObjectMeta = newMeta ?? {};
  const o: ObjectMeta = oldMeta ?? {};
  const errs: FieldError[] = [];

  if (o.deletionTimestamp) {
    const old = new Set(o.finalizers ?? []);
    const added = [...new Set((n.finalizers ?? []).filter((f) => !old.has(f)))].sort();
    if (added.length) {
      errs.push({
        type: 'FieldValueForbidden',
        field: 'metadata.finalizers',
        detail: `no new finalizers can be added if the object is being deleted, found new finalizers ${goStringSlice(added)}`,
      });
    }
  }
  if (!n.resourceVersion) errs.push(invalid('metadata.resourceVersion', '', 'must be specified for an update'));
  if ((n.generation ?? 0) < (o.generation ?? 0)) {
    errs.push(invalid('metadata.generation', n.generation ?? 0, 'must not be decremented'));
  }

  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  for (const f of ['name', 'namespace', 'uid'] as const) {
    if (str(n[f]) !== str(o[f])) errs.push(invalid(`metadata.${f}`, str(n[f]), FIELD_IMMUTABLE));
  }
  if (!sameInstant(n.creationTimestamp, o.creationTimestamp)) {
    // metav1.Time prints via time.Time.String(); a zero time prints as Go's zero time.
    const shown = n.creationTimestamp ? goTime(n.creationTimestamp) : '0001-01-01 00:00:00 +0000 UTC';
    errs.push(invalidGo('metadata.creationTimestamp', shown, FIELD_IMMUTABLE));
  }
  if (!sameInstant(n.deletionTimestamp, o.deletionTimestamp)) {
    const shown = n.deletionTimestamp ? goTime(n.deletionTimestamp) : 'null';
    errs.push(invalidGo('metadata.deletionTimestamp', shown, FIELD_IMMUTABLE));
  }
  if ((n.deletionGracePeriodSeconds ?? null) !== (o.deletionGracePeriodSeconds ?? null)) {
    errs.push(invalidGo('metadata.deletionGracePeriodSeconds', String(n.deletionGracePeriodSeconds ?? 'null'), FIELD_IMMUTABLE));
  }

  errs.push(...validateLabels(n.labels, 'metadata.labels'));
  errs.push(...validateAnnotations(n.annotations, 'metadata.annotations'));
  errs.push(...validateOwnerReferences(n.ownerReferences, 'metadata.ownerReferences'));
  if (opts.kubeFinalizers) {
    // Core's ValidateObjectMetaUpdate adds only the per-item kube check on update.
    (n.finalizers ?? []).forEach((f, i) => {
      if (!f.includes('/') && !STANDARD_FINALIZERS.has(f)) {
        errs.push(invalid(`metadata.finalizers[${i}]`, f, 'name is neither a standard finalizer name nor is it fully qualified'));
      }
    });
  }
  return errs;
}

// --- metav1.LabelSelector as a field of an object (spec.selector) ---

export interface LabelSelectorRequirementInput {
  key: string;
  operator: string;
  values?: string[];
}

export interface LabelSelectorInput {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirementInput[];
}

/** metav1 validation.ValidateLabelSelector, with the default (strict) options. */
export function validateLabelSelector(sel: LabelSelectorInput | null | undefined, path: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!sel) return errs;
  errs.push(...validateLabels(sel.matchLabels, `${path}.matchLabels`));
  (sel.matchExpressions ?? []).forEach((expr, i) => {
    const p = `${path}.matchExpressions[${i}]`;
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
      case 'NotIn':
        if (values.length === 0) {
          errs.push({ type: 'FieldValueRequired', field: `${p}.values`, detail: "must be specified when `operator` is 'In' or 'NotIn'" });
        }
        break;
      case 'Exists':
      case 'DoesNotExist':
        if (values.length > 0) {
          errs.push({
            type: 'FieldValueForbidden',
            field: `${p}.values`,
            detail: "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
          });
        }
        break;
      default:
        errs.push(invalid(`${p}.operator`, expr.operator, 'not a valid selector operator'));
    }
    errs.push(...validateLabelName(expr.key ?? '', `${p}.key`));
    values.forEach((v, j) => {
      for (const m of isValidLabelValue(v)) errs.push(invalid(`${p}.values[${j}]`, v, m));
    });
  });
  return errs;
}
