// Field selectors as apimachinery's pkg/fields parses them, plus the per-kind field label
// conversions (AddFieldLabelConversionFunc) and selectable field sets (the registries'
// GetAttrs / ToSelectableFields) of Kubernetes 1.32.
//
// How the apiserver uses them (handlers.ListResource): parse ?fieldSelector= (400 on a
// syntax error), then run every label through the kind's conversion (400 on an unknown
// label, with that kind's message), then match each object's field set. Labels are
// converted to the *internal* names the field sets use: events.k8s.io's
// `regarding.name` becomes `involvedObject.name`, a pod's legacy `spec.host` becomes
// `spec.nodeName`. A field missing from an object's set reads as "" (fields.Set.Get).

import { badRequest } from './errors.ts';
import { goQuote } from './validation.ts';

export interface FieldRequirement {
  readonly field: string;
  /** `=` and `==` both parse to `=` (selection.Equals), as upstream. */
  readonly operator: '=' | '!=';
  readonly value: string;
}

export interface FieldSelector {
  matches(fields: Record<string, string> | undefined): boolean;
  /** True when the selector restricts nothing. */
  readonly empty: boolean;
  /** AND of these, in upstream's order (terms sorted as written). */
  readonly requirements: readonly FieldRequirement[];
  /** The value `field` must equal, or undefined; e.g. metadata.name for `kubectl get X -w`. */
  requiresExactMatch(field: string): string | undefined;
  /**
   * Rewrites every term; a term whose field and value both become "" is dropped.
   * `fn` throws to reject a term.
   */
  transform(fn: (field: string, value: string) => [string, string]): FieldSelector;
  /** Upstream's String(): terms joined by ",", values escaped. */
  toString(): string;
}

/** Escapes `\`, `,` and `=` in a value so it can be embedded in a selector string. */
export function escapeFieldValue(s: string): string {
  return s.replace(/[\\,=]/g, (c) => '\\' + c);
}

class ParseError extends Error {}

/** fields.UnescapeValue, with its messages (the rune is printed as a number, as Go's %v does). */
function unescapeValue(s: string): string {
  if (!/[\\,=]/.test(s)) return s;
  let out = '';
  let inSlash = false;
  for (const c of s) {
    if (inSlash) {
      if (c === '\\' || c === ',' || c === '=') out += c;
      else throw new ParseError(`invalid field selector: invalid escape sequence: \\${c}`);
      inSlash = false;
      continue;
    }
    if (c === '\\') inSlash = true;
    else if (c === ',' || c === '=') throw new ParseError(`invalid field selector: unescaped character in value: ${c.codePointAt(0)}`);
    else out += c;
  }
  if (inSlash) throw new ParseError('invalid field selector: invalid escape sequence: \\');
  return out;
}

/** Splits on commas not preceded by a backslash; escapes stay in the terms. */
function splitTerms(s: string): string[] {
  if (s === '') return [];
  const terms: string[] = [];
  let start = 0;
  let inSlash = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (inSlash) inSlash = false;
    else if (c === '\\') inSlash = true;
    else if (c === ',') {
      terms.push(s.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(s.slice(start));
  return terms;
}

const TERM_OPERATORS = ['!=', '==', '='] as const;

/** The first operator occurrence splits the term; the left side has no escaping. */
function splitTerm(term: string): { lhs: string; op: (typeof TERM_OPERATORS)[number]; rhs: string } | undefined {
  for (let i = 0; i < term.length; i++) {
    for (const op of TERM_OPERATORS) {
      if (term.startsWith(op, i)) return { lhs: term.slice(0, i), op, rhs: term.slice(i + op.length) };
    }
  }
  return undefined;
}

class TermsSelector implements FieldSelector {
  readonly requirements: readonly FieldRequirement[];
  constructor(reqs: readonly FieldRequirement[]) {
    this.requirements = Object.freeze([...reqs]);
  }
  get empty(): boolean {
    return this.requirements.length === 0;
  }
  matches(fields: Record<string, string> | undefined): boolean {
    const fs = fields ?? {};
    return this.requirements.every((r) => {
      const have = Object.hasOwn(fs, r.field) ? fs[r.field] : '';
      return r.operator === '=' ? have === r.value : have !== r.value;
    });
  }
  requiresExactMatch(field: string): string | undefined {
    return this.requirements.find((r) => r.operator === '=' && r.field === field)?.value;
  }
  transform(fn: (field: string, value: string) => [string, string]): FieldSelector {
    const next: FieldRequirement[] = [];
    for (const r of this.requirements) {
      const [field, value] = fn(r.field, r.value);
      if (field === '' && value === '') continue;
      next.push(Object.freeze({ field, operator: r.operator, value }));
    }
    return new TermsSelector(next);
  }
  toString(): string {
    return this.requirements.map((r) => `${r.field}${r.operator}${escapeFieldValue(r.value)}`).join(',');
  }
}

/**
 * Parses a field selector string (the `fieldSelector` query parameter): `f=v`, `f==v`,
 * `f!=v`, comma-separated and ANDed; `\,` `\=` `\\` escape inside values. Whitespace is
 * significant, as upstream. Throws a 400 BadRequest StatusError with upstream's message.
 */
export function parseFieldSelector(s: string): FieldSelector {
  const reqs: FieldRequirement[] = [];
  try {
    // Upstream sorts the raw terms before parsing them.
    for (const part of splitTerms(s).sort()) {
      if (part === '') continue;
      const t = splitTerm(part);
      if (!t) throw new ParseError(`invalid selector: '${s}'; can't understand '${part}'`);
      const value = unescapeValue(t.rhs);
      // Parsing ends with an identity Transform, which drops terms that are "" = "".
      if (t.lhs === '' && value === '') continue;
      reqs.push(Object.freeze({ field: t.lhs, operator: t.op === '!=' ? '!=' : '=', value }));
    }
  } catch (e) {
    if (e instanceof ParseError) throw badRequest(e.message);
    throw e;
  }
  return new TermsSelector(reqs);
}

/** Matches every object. */
export function everythingFields(): FieldSelector {
  return new TermsSelector([]);
}

// --- per-kind field labels ---

interface LabelRules {
  /** external label (what clients send) -> internal label (what field sets hold) */
  labels: Record<string, string>;
  error: (label: string) => string;
}

const notSupported = (label: string) => `field label not supported: ${label}`;
const DEFAULT_RULES: LabelRules = {
  labels: { 'metadata.name': 'metadata.name', 'metadata.namespace': 'metadata.namespace' },
  // runtime.DefaultMetaV1FieldSelectorConversion, for kinds with no conversion func.
  error: (label) => `${goQuote(label)} is not a known field selector: only "metadata.name", "metadata.namespace"`,
};

const identity = (...labels: string[]): Record<string, string> => Object.fromEntries(labels.map((l) => [l, l]));

const CORE_EVENT_LABELS = [
  'involvedObject.kind',
  'involvedObject.namespace',
  'involvedObject.name',
  'involvedObject.uid',
  'involvedObject.apiVersion',
  'involvedObject.resourceVersion',
  'involvedObject.fieldPath',
  'reason',
  'reportingComponent',
  'source',
  'type',
  'metadata.namespace',
  'metadata.name',
];

// Keyed "group/resource". Kinds absent here use DEFAULT_RULES, among them apps/v1
// ReplicaSet: its registry computes status.replicas but apps/v1 registers no conversion,
// so upstream rejects that label (kubernetes/kubernetes#135136).
const LABEL_RULES: Record<string, LabelRules> = {
  '/pods': {
    labels: {
      ...identity(
        'metadata.name',
        'metadata.namespace',
        'spec.nodeName',
        'spec.restartPolicy',
        'spec.schedulerName',
        'spec.serviceAccountName',
        'spec.hostNetwork',
        'status.phase',
        'status.podIP',
        // Accepted, but no pod field set holds it: `status.podIPs=x` never matches.
        'status.podIPs',
        'status.nominatedNodeName',
      ),
      // old v1 clients sent spec.host
      'spec.host': 'spec.nodeName',
    },
    error: notSupported,
  },
  '/nodes': { labels: identity('metadata.name', 'spec.unschedulable'), error: notSupported },
  '/replicationcontrollers': { labels: identity('metadata.name', 'metadata.namespace', 'status.replicas'), error: notSupported },
  '/events': { labels: identity(...CORE_EVENT_LABELS), error: notSupported },
  '/namespaces': { labels: identity('status.phase', 'metadata.name'), error: notSupported },
  '/secrets': { labels: identity('type', 'metadata.namespace', 'metadata.name'), error: notSupported },
  '/services': {
    labels: identity('metadata.namespace', 'metadata.name', 'spec.clusterIP', 'spec.type'),
    error: notSupported,
  },
  'events.k8s.io/events': {
    labels: {
      reason: 'reason',
      'regarding.kind': 'involvedObject.kind',
      'regarding.namespace': 'involvedObject.namespace',
      'regarding.name': 'involvedObject.name',
      'regarding.uid': 'involvedObject.uid',
      'regarding.apiVersion': 'involvedObject.apiVersion',
      'regarding.resourceVersion': 'involvedObject.resourceVersion',
      'regarding.fieldPath': 'involvedObject.fieldPath',
      reportingController: 'reportingComponent',
      source: 'source',
      type: 'type',
      'metadata.namespace': 'metadata.namespace',
      'metadata.name': 'metadata.name',
    },
    error: notSupported,
  },
  'batch/jobs': {
    labels: identity('metadata.name', 'metadata.namespace', 'status.successful'),
    error: (label) => `field label ${goQuote(label)} not supported for batchv1.Job`,
  },
  'certificates.k8s.io/certificatesigningrequests': {
    labels: identity('metadata.name', 'spec.signerName'),
    error: notSupported,
  },
};

function rulesFor(group: string, resource: string): LabelRules {
  return LABEL_RULES[`${group}/${resource}`] ?? DEFAULT_RULES;
}

/** The labels clients may use for this resource (external names), in upstream's order. */
export function supportedFieldLabels(group: string, resource: string): string[] {
  return Object.keys(rulesFor(group, resource).labels);
}

/**
 * The kind's field label conversion: the internal label for `label`, or a 400
 * BadRequest StatusError with the kind's own message.
 */
export function convertFieldLabel(group: string, resource: string, label: string): string {
  const rules = rulesFor(group, resource);
  if (!Object.hasOwn(rules.labels, label)) throw badRequest(rules.error(label));
  return rules.labels[label];
}

/**
 * Applies the resource's field label conversion to every term (what ListResource does
 * after parsing): the result is keyed like fieldsFor(). Throws 400 on the first label
 * the kind does not support.
 */
export function convertFieldSelector(group: string, resource: string, sel: FieldSelector): FieldSelector {
  return sel.transform((field, value) => [convertFieldLabel(group, resource, field), value]);
}

/** parseFieldSelector then convertFieldSelector: the apiserver's whole ?fieldSelector= path. */
export function parseFieldSelectorFor(group: string, resource: string, s: string): FieldSelector {
  return convertFieldSelector(group, resource, parseFieldSelector(s));
}

// --- per-kind field sets ---

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function int(v: unknown): string {
  return typeof v === 'number' && Number.isFinite(v) ? String(Math.trunc(v)) : '0';
}

function obj(v: unknown): Record<string, any> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, any>) : {};
}

/** Event fields, from either the core/v1 shape (involvedObject) or events.k8s.io/v1 (regarding). */
function eventFields(e: Record<string, any>): Record<string, string> {
  const ref = obj(e.involvedObject ?? e.regarding);
  const reportingController = str(e.reportingComponent) || str(e.reportingController);
  const source = str(obj(e.source ?? e.deprecatedSource).component) || reportingController;
  return {
    'involvedObject.kind': str(ref.kind),
    'involvedObject.namespace': str(ref.namespace),
    'involvedObject.name': str(ref.name),
    'involvedObject.uid': str(ref.uid),
    'involvedObject.apiVersion': str(ref.apiVersion),
    'involvedObject.resourceVersion': str(ref.resourceVersion),
    'involvedObject.fieldPath': str(ref.fieldPath),
    reason: str(e.reason),
    reportingComponent: reportingController,
    source,
    type: str(e.type),
  };
}

type FieldsFn = (o: Record<string, any>) => Record<string, string>;

const FIELD_SETS: Record<string, FieldsFn> = {
  '/pods': (p) => {
    const spec = obj(p.spec);
    const status = obj(p.status);
    const podIPs = Array.isArray(status.podIPs) ? status.podIPs : [];
    return {
      'spec.nodeName': str(spec.nodeName),
      'spec.restartPolicy': str(spec.restartPolicy),
      'spec.schedulerName': str(spec.schedulerName),
      'spec.serviceAccountName': str(spec.serviceAccountName),
      'spec.hostNetwork': spec.hostNetwork === true ? 'true' : 'false',
      'status.phase': str(status.phase),
      // The internal pod keeps only podIPs; v1's podIP fills it when podIPs is empty.
      'status.podIP': podIPs.length > 0 ? str(obj(podIPs[0]).ip) : str(status.podIP),
      'status.nominatedNodeName': str(status.nominatedNodeName),
    };
  },
  '/events': eventFields,
  'events.k8s.io/events': eventFields,
  '/secrets': (s) => ({ type: str(s.type) }),
  '/nodes': (n) => ({ 'spec.unschedulable': obj(n.spec).unschedulable === true ? 'true' : 'false' }),
  '/namespaces': (n) => ({ 'status.phase': str(obj(n.status).phase) }),
  '/replicationcontrollers': (rc) => ({ 'status.replicas': int(obj(rc.status).replicas) }),
  // Computed upstream too, though no apps/v1 label reaches it (see LABEL_RULES).
  'apps/replicasets': (rs) => ({ 'status.replicas': int(obj(rs.status).replicas) }),
  'batch/jobs': (j) => ({ 'status.successful': int(obj(j.status).succeeded) }),
  '/services': (s) => ({ 'spec.clusterIP': str(obj(s.spec).clusterIP), 'spec.type': str(obj(s.spec).type) }),
  'certificates.k8s.io/certificatesigningrequests': (c) => ({ 'spec.signerName': str(obj(c.spec).signerName) }),
};

/**
 * The object's selectable fields, keyed by internal label (what convertFieldSelector
 * produces). Always metadata.name and metadata.namespace ("" for cluster-scoped
 * objects, which reads the same as upstream's absent key), plus the resource's own
 * fields. Every accepted external label that differs from its internal one (e.g.
 * events.k8s.io `regarding.name`, a pod's `spec.host`) is present too, with the same
 * value, so an unconverted selector matches the same objects.
 */
export function fieldsFor(group: string, resource: string, o: any): Record<string, string> {
  const object = obj(o);
  const meta = obj(object.metadata);
  const own = FIELD_SETS[`${group}/${resource}`];
  const fields: Record<string, string> = {
    ...(own ? own(object) : {}),
    'metadata.name': str(meta.name),
    'metadata.namespace': str(meta.namespace),
  };
  for (const [external, internal] of Object.entries(rulesFor(group, resource).labels)) {
    if (external !== internal) fields[external] = Object.hasOwn(fields, internal) ? fields[internal] : '';
  }
  return fields;
}
