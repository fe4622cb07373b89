// The API's schema at run time: the generated definitions (upstream's OpenAPI v2
// definitions, 1.32) and, built from them, the decode checks the apiserver runs on every
// write: unknown fields (for fieldValidation=Strict|Warn) and JSON values of the wrong type,
// with the paths and messages upstream's strict JSON decoder produces.
//
// definitions.json (~1 MB) is read on first use, and each definition is compiled into a
// checker node the first time a kind that reaches it is checked; after that a check is a
// single walk over the object (a pod takes a few microseconds).

import { readFileSync } from 'node:fs';
import { definitionNameFor } from './generated/kinds.ts';

export type JSONSchema = Record<string, any>;

export interface GVK {
  group: string;
  version: string;
  kind: string;
}

let cachedDefinitions: Record<string, JSONSchema> | undefined;

/** Every definition of the reference, keyed by name (io.k8s.api.core.v1.Pod). Read once, shared; do not mutate. */
export function definitions(): Record<string, JSONSchema> {
  cachedDefinitions ??= JSON.parse(readFileSync(new URL('./generated/definitions.json', import.meta.url), 'utf8')) as Record<string, JSONSchema>;
  return cachedDefinitions;
}

export interface FieldCheck {
  /** Paths of fields the schema does not know, in document order: `spec.foo`, `spec.containers[0].bogus`. */
  unknown: string[];
  /**
   * Decode errors, in document order, worded as upstream's decoder words them
   * (`json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32`).
   * Upstream stops at the first: a non-empty list means the request fails with 400
   * `<Kind> in version "<v>" cannot be handled as a <Kind>: <typeErrors[0]>`, whatever fieldValidation says.
   */
  typeErrors: string[];
}

/** Whether the definitions describe this kind (unknown kinds are never reported on). */
export function hasSchema(gvk: GVK): boolean {
  return rootNode(gvk) !== undefined;
}

/**
 * Unknown fields and type errors of an object of kind `gvk`, in one walk. For a kind with no
 * definition both lists are empty. Upstream caps strict errors at 100; so does this.
 */
export function checkFields(gvk: GVK, obj: unknown): FieldCheck {
  const result: FieldCheck = { unknown: [], typeErrors: [] };
  const root = rootNode(gvk);
  if (root) walk(root, obj, { segs: [], kinds: [], struct: '', stack: [], out: result });
  return result;
}

/** Paths of fields not in the schema of `gvk`; the caller formats `unknown field "<path>"`. */
export function unknownFields(gvk: GVK, obj: unknown): string[] {
  return checkFields(gvk, obj).unknown;
}

/** Values of the wrong JSON type (see FieldCheck.typeErrors). */
export function typeErrors(gvk: GVK, obj: unknown): string[] {
  return checkFields(gvk, obj).typeErrors;
}

// ---- compiled schema --------------------------------------------------------------------

type Node =
  | { t: 'struct'; goName: string; goType: string; fields: Map<string, Node> }
  | { t: 'map'; goType: string; value: Node }
  | { t: 'array'; goType: string; items: Node }
  | { t: 'free' }
  | { t: 'string'; goType: string }
  | { t: 'bytes'; goType: string }
  | { t: 'int'; goType: string; bound: number } // -bound <= v < bound
  | { t: 'float'; goType: string }
  | { t: 'bool'; goType: string }
  | { t: 'intOrString' }
  | { t: 'quantity' }
  | { t: 'time'; micro: boolean };

const FREE: Node = { t: 'free' };

// Types with their own JSON decoding that accepts any content (runtime.RawExtension and the
// like). Definitions with no type at all (JSONSchemaPropsOrBool, …) are free as well.
const FREE_DEFINITIONS = new Set([
  'io.k8s.apimachinery.pkg.runtime.RawExtension',
  'io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1',
  'io.k8s.apimachinery.pkg.apis.meta.v1.Patch',
  'io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON',
]);

const compiled = new Map<string, Node>();
const roots = new Map<string, Node | null>();

function rootNode(gvk: GVK): Node | undefined {
  const key = `${gvk.group}/${gvk.version}/${gvk.kind}`;
  let node = roots.get(key);
  if (node === undefined) {
    const name = definitionNameFor(gvk);
    node = name && definitions()[name] ? definitionNode(name) : null;
    roots.set(key, node);
  }
  return node ?? undefined;
}

/** Go's name for the type of a definition: io.k8s.api.apps.v1.DeploymentSpec → v1.DeploymentSpec. */
function goTypeOf(name: string): string {
  const parts = name.split('.');
  return `${parts[parts.length - 2]}.${parts[parts.length - 1]}`;
}

function definitionNode(name: string): Node {
  const known = compiled.get(name);
  if (known) return known;
  const def = definitions()[name];
  if (!def) throw new Error(`schema: no definition ${name}`);
  let node: Node;
  switch (name) {
    case 'io.k8s.apimachinery.pkg.util.intstr.IntOrString':
      node = { t: 'intOrString' };
      break;
    case 'io.k8s.apimachinery.pkg.api.resource.Quantity':
      node = { t: 'quantity' };
      break;
    case 'io.k8s.apimachinery.pkg.apis.meta.v1.Time':
      node = { t: 'time', micro: false };
      break;
    case 'io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime':
      node = { t: 'time', micro: true };
      break;
    default:
      if (FREE_DEFINITIONS.has(name) || def.type === undefined || def['x-kubernetes-preserve-unknown-fields']) {
        node = FREE;
      } else if (def.type === 'object' && !def.additionalProperties) {
        // A struct, possibly without fields (then every key is unknown, as upstream).
        // Registered before its fields compile: definitions are recursive (JSONSchemaProps).
        const struct: Node = { t: 'struct', goName: name.slice(name.lastIndexOf('.') + 1), goType: goTypeOf(name), fields: new Map() };
        compiled.set(name, struct);
        for (const [field, schema] of Object.entries((def.properties ?? {}) as Record<string, JSONSchema>)) {
          struct.fields.set(field, schemaNode(schema));
        }
        return struct;
      } else {
        node = schemaNode(def, goTypeOf(name));
      }
  }
  compiled.set(name, node);
  return node;
}

function schemaNode(schema: JSONSchema, namedType?: string): Node {
  if (typeof schema.$ref === 'string') return definitionNode(schema.$ref.slice('#/definitions/'.length));
  if (schema['x-kubernetes-preserve-unknown-fields']) return FREE;
  switch (schema.type) {
    case 'object': {
      if (!schema.additionalProperties) return FREE;
      const value = schemaNode(schema.additionalProperties as JSONSchema);
      return { t: 'map', goType: `map[string]${goTypeOfNode(value)}`, value };
    }
    case 'array': {
      const items = schema.items ? schemaNode(schema.items as JSONSchema) : FREE;
      return { t: 'array', goType: `[]${goTypeOfNode(items)}`, items };
    }
    case 'string':
      return schema.format === 'byte' ? { t: 'bytes', goType: '[]uint8' } : { t: 'string', goType: namedType ?? 'string' };
    case 'integer':
      return schema.format === 'int32' ? { t: 'int', goType: 'int32', bound: 2 ** 31 } : { t: 'int', goType: 'int64', bound: 2 ** 63 };
    case 'number':
      return { t: 'float', goType: 'float64' };
    case 'boolean':
      return { t: 'bool', goType: 'bool' };
    default:
      return FREE;
  }
}

function goTypeOfNode(node: Node): string {
  switch (node.t) {
    case 'intOrString':
      return 'intstr.IntOrString';
    case 'quantity':
      return 'resource.Quantity';
    case 'time':
      return node.micro ? 'v1.MicroTime' : 'v1.Time';
    case 'free':
      return 'interface {}';
    default:
      return node.goType;
  }
}

// ---- the walk ---------------------------------------------------------------------------

/** How a step of Walk.segs is spelled in a path: `a` at the start or `.a` (a field), `.k` (a map key), `[i]`. */
const FIELD = 0;
const MAP_KEY = 1;
const INDEX = 2;

interface Walk {
  /**
   * Path of the value being checked, as strict errors report it (`spec.containers[0].image`),
   * as steps: spelled out (pathOf) only for an error, not for every field of every write.
   */
  segs: (string | number)[];
  kinds: number[];
  /** Go struct whose field is being decoded, and the JSON field names from the root (no indices, no map keys). */
  struct: string;
  stack: string[];
  out: FieldCheck;
}

const MAX_STRICT_ERRORS = 100;

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v; // string, number, object
}

/** `got` is the JSON kind ("string") or, for numbers that do not fit, "number <value>". */
function typeError(w: Walk, mismatch: { got: string; goType: string }) {
  const { got, goType } = mismatch;
  w.out.typeErrors.push(
    w.stack.length === 0
      ? `json: cannot unmarshal ${got} into Go value of type ${goType}`
      : `json: cannot unmarshal ${got} into Go struct field ${w.struct}.${w.stack.join('.')} of type ${goType}`,
  );
}

function pathOf(w: Walk): string {
  let p = '';
  for (let i = 0; i < w.segs.length; i++) {
    const seg = w.segs[i];
    const kind = w.kinds[i];
    if (kind === FIELD) p = p === '' ? (seg as string) : `${p}.${seg}`;
    else if (kind === MAP_KEY) p = `${p}.${seg}`;
    else p = `${p}[${seg}]`;
  }
  return p;
}

function isInt(v: number, bound: number): boolean {
  return Number.isInteger(v) && v >= -bound && v < bound;
}

function walk(node: Node, v: unknown, w: Walk): void {
  if (v === null || v === undefined) return; // null decodes to the zero value everywhere
  switch (node.t) {
    case 'free':
      return;
    case 'struct': {
      if (typeof v !== 'object' || Array.isArray(v)) return typeError(w, { got: jsonKind(v), goType: node.goType });
      const struct = w.struct;
      for (const key in v as Record<string, unknown>) {
        const field = node.fields.get(key);
        w.segs.push(key);
        w.kinds.push(FIELD);
        if (!field) {
          if (w.out.unknown.length < MAX_STRICT_ERRORS) w.out.unknown.push(pathOf(w));
        } else {
          w.struct = node.goName;
          w.stack.push(key);
          walk(field, (v as Record<string, unknown>)[key], w);
          w.stack.pop();
        }
        w.segs.pop();
        w.kinds.pop();
      }
      w.struct = struct;
      return;
    }
    case 'map': {
      if (typeof v !== 'object' || Array.isArray(v)) return typeError(w, { got: jsonKind(v), goType: node.goType });
      if (node.value === FREE) return;
      for (const key in v as Record<string, unknown>) {
        w.segs.push(key);
        w.kinds.push(MAP_KEY);
        walk(node.value, (v as Record<string, unknown>)[key], w);
        w.segs.pop();
        w.kinds.pop();
      }
      return;
    }
    case 'array': {
      if (!Array.isArray(v)) return typeError(w, { got: jsonKind(v), goType: node.goType });
      if (node.items === FREE) return;
      for (let i = 0; i < v.length; i++) {
        w.segs.push(i);
        w.kinds.push(INDEX);
        walk(node.items, v[i], w);
        w.segs.pop();
        w.kinds.pop();
      }
      return;
    }
    case 'string':
      if (typeof v !== 'string') typeError(w, { got: jsonKind(v), goType: node.goType });
      return;
    case 'bytes':
      if (typeof v !== 'string') typeError(w, { got: jsonKind(v), goType: node.goType });
      else {
        const bad = base64ErrorOffset(v);
        if (bad !== undefined) w.out.typeErrors.push(`illegal base64 data at input byte ${bad}`);
      }
      return;
    case 'int':
      if (typeof v !== 'number') typeError(w, { got: jsonKind(v), goType: node.goType });
      else if (!isInt(v, node.bound)) typeError(w, { got: `number ${v}`, goType: node.goType });
      return;
    case 'float':
      if (typeof v !== 'number') typeError(w, { got: jsonKind(v), goType: node.goType });
      return;
    case 'bool':
      if (typeof v !== 'boolean') typeError(w, { got: jsonKind(v), goType: node.goType });
      return;
    case 'intOrString':
      // IntOrString decodes anything but a string as an int32.
      if (typeof v === 'string') return;
      if (typeof v !== 'number') typeError(w, { got: jsonKind(v), goType: 'int32' });
      else if (!isInt(v, 2 ** 31)) typeError(w, { got: `number ${v}`, goType: 'int32' });
      return;
    case 'quantity': {
      const problem = typeof v === 'string' || typeof v === 'number' ? quantityError(String(v).trim()) : QUANTITY_FORMAT;
      if (problem) w.out.typeErrors.push(problem);
      return;
    }
    case 'time':
      if (typeof v !== 'string') typeError(w, { got: jsonKind(v), goType: 'string' });
      else {
        const problem = timeError(v, node.micro);
        if (problem) w.out.typeErrors.push(problem);
      }
      return;
  }
}

// ---- scalar formats with their own decoding ---------------------------------------------

const QUANTITY_FORMAT = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
const QUANTITY_RE = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/;
const QUANTITY_SUFFIXES = new Set(['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei', 'n', 'u', 'm', 'k', 'M', 'G', 'T', 'P', 'E']);

/** Why resource.ParseQuantity would reject s, or undefined. */
export function quantityError(s: string): string | undefined {
  const m = QUANTITY_RE.exec(s);
  if (!m) return QUANTITY_FORMAT;
  // The number is digits with at most one '.', and at least one digit.
  const num = /^[+-]?([0-9]*)(?:\.([0-9]*))?/.exec(s)!;
  if ((num[1] ?? '') === '' && (num[2] ?? '') === '') return 'unable to parse numeric part of quantity';
  const suffix = s.slice(num[0].length);
  if (!QUANTITY_SUFFIXES.has(suffix) && !/^[eE][-+]?[0-9]+$/.test(suffix)) return "unable to parse quantity's suffix";
  return undefined;
}

/**
 * Where Go's base64.StdEncoding would first fail on s (the byte offset it reports), or
 * undefined if s decodes. Newlines are skipped; padding is required.
 */
export function base64ErrorOffset(s: string): number | undefined {
  const b = Buffer.from(s, 'utf8');
  const isAlpha = (c: number) =>
    (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 43 || c === 47;
  const isNewline = (c: number) => c === 10 || c === 13;
  let i = 0;
  for (;;) {
    // One quantum of four symbols.
    let j = 0;
    while (j < 4) {
      if (i === b.length) {
        if (j === 0) return undefined;
        return i - j;
      }
      const c = b[i++];
      if (isAlpha(c)) {
        j++;
        continue;
      }
      if (isNewline(c)) continue;
      if (c !== 61) return i - 1; // not '='
      if (j < 2) return i - 1;
      if (j === 2) {
        while (i < b.length && isNewline(b[i])) i++;
        if (i === b.length) return b.length;
        if (b[i] !== 61) return i - 1;
        i++;
      }
      while (i < b.length && isNewline(b[i])) i++;
      return i < b.length ? i : undefined;
    }
  }
}

const DIGITS2 = /^[0-9]{2}/;
const TIME_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];

/**
 * True for `2006-01-02T15:04:05Z` (not micro) and `2006-01-02T15:04:05.000000Z` with fields
 * in range: times timeError accepts. False means only "look closer".
 */
function canonicalTime(s: string, micro: boolean): boolean {
  const n = s.length;
  if (n !== 27 && (micro || n !== 20)) return false;
  for (const i of TIME_DIGITS) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  const d = (i: number) => s.charCodeAt(i) - 48;
  const year = d(0) * 1000 + d(1) * 100 + d(2) * 10 + d(3);
  const month = d(5) * 10 + d(6);
  const day = d(8) * 10 + d(9);
  const hour = d(11) * 10 + d(12);
  const minute = d(14) * 10 + d(15);
  const second = d(17) * 10 + d(18);
  if (month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  if (s[4] !== '-' || s[7] !== '-' || s[10] !== 'T' || s[13] !== ':' || s[16] !== ':' || s[n - 1] !== 'Z') return false;
  if (n === 27) {
    if (s[19] !== '.') return false;
    for (let i = 20; i < 26; i++) if (d(i) < 0 || d(i) > 9) return false;
  }
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  return day <= days;
}

/** Why metav1.Time (RFC 3339) or metav1.MicroTime (RFC 3339, six fractional digits) would reject s. */
export function timeError(s: string, micro = false): string | undefined {
  // Almost every timestamp is one the API itself wrote: check that shape without allocating.
  if (canonicalTime(s, micro)) return undefined;
  const layout = micro ? '2006-01-02T15:04:05.000000Z07:00' : '2006-01-02T15:04:05Z07:00';
  const fail = (rest: string, elem: string) => `parsing time ${JSON.stringify(s)} as ${JSON.stringify(layout)}: cannot parse ${JSON.stringify(rest)} as ${JSON.stringify(elem)}`;
  const range = (what: string) => `parsing time ${JSON.stringify(s)}: ${what} out of range`;
  let rest = s;
  const num = (width: number, elem: string): number | string => {
    const m = (width === 4 ? /^[0-9]{4}/ : DIGITS2).exec(rest);
    if (!m) return fail(rest, elem);
    rest = rest.slice(width);
    return Number(m[0]);
  };
  const lit = (l: string): string | undefined => {
    if (!rest.startsWith(l)) return fail(rest, l);
    rest = rest.slice(l.length);
    return undefined;
  };
  const year = num(4, '2006');
  if (typeof year === 'string') return year;
  let e = lit('-');
  if (e) return e;
  const month = num(2, '01');
  if (typeof month === 'string') return month;
  if (month < 1 || month > 12) return range('month');
  if ((e = lit('-'))) return e;
  const day = num(2, '02');
  if (typeof day === 'string') return day;
  if ((e = lit('T'))) return e;
  const hour = num(2, '15');
  if (typeof hour === 'string') return hour;
  if (hour > 23) return range('hour');
  if ((e = lit(':'))) return e;
  const minute = num(2, '04');
  if (typeof minute === 'string') return minute;
  if (minute > 59) return range('minute');
  if ((e = lit(':'))) return e;
  const second = num(2, '05');
  if (typeof second === 'string') return second;
  if (second > 59) return range('second');
  if (micro) {
    if (!/^\.[0-9]{6}/.test(rest)) return fail(rest, '.000000');
    rest = rest.slice(7);
  } else {
    const frac = /^[.,][0-9]+/.exec(rest);
    if (frac) rest = rest.slice(frac[0].length);
  }
  if (rest.startsWith('Z')) rest = rest.slice(1);
  else {
    const zone = /^[+-]([0-9]{2}):([0-9]{2})/.exec(rest);
    if (!zone) return fail(rest, 'Z07:00');
    if (Number(zone[1]) > 24) return range('time zone offset hour');
    if (Number(zone[2]) > 60) return range('time zone offset minute');
    rest = rest.slice(6);
  }
  if (rest !== '') return `parsing time ${JSON.stringify(s)}: extra text: ${JSON.stringify(rest)}`;
  const daysIn = [31, year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (day < 1 || day > daysIn[month - 1]) return range('day');
  return undefined;
}
