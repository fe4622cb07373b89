// The types structured-merge-diff merges by, compiled from the OpenAPI definitions as
// kube-openapi's schemaconv compiles them (ToSchemaFromOpenAPI):
//   object with properties      a struct (a map whose known fields have their own types;
//                               no element type, so an unknown field is an error)
//   object, additionalProperties  a map with one element type
//   object with neither, or no type  "deduced": scalar, atomic list or granular map by value
//   array                       x-kubernetes-list-type atomic | set | map (+ list-map-keys);
//                               without it, patch-strategy merge (+ merge key) makes it
//                               associative, anything else atomic
//   x-kubernetes-map-type       atomic | granular (on the definition or on a $ref field)
//   Quantity                    an untyped scalar
//   RawExtension                anything, owned as a whole
//   int-or-string, date-time …  an untyped scalar
//
// Also the two facts the definitions do not hold (see generate-zero-values.ts): the Go zero
// value of a kind, which creates are compared with, and the defaults of list-map keys.

import { readFileSync } from 'node:fs';
import { definitionNameFor } from '../../api/generated/kinds.ts';
import { definitions, type GVK, type JSONSchema } from '../../api/schema.ts';
import type { JSONObject, JSONValue } from '../patch/values.ts';

export type Scalar = 'numeric' | 'string' | 'boolean' | 'untyped';

export interface ListType {
  readonly relationship: 'atomic' | 'associative';
  /** Key fields of an associative list of maps; empty for a set of scalars. */
  readonly keys: readonly string[];
  readonly element: TypeRef;
}

export interface StructField {
  readonly type: TypeRef;
  readonly default?: JSONValue;
}

export interface MapType {
  readonly relationship: 'atomic' | 'separable';
  readonly fields: ReadonlyMap<string, StructField>;
  /** The type of keys that are not fields; undefined when there may be none (a struct). */
  readonly element: TypeRef | undefined;
}

/** The shapes a value may take at one place; more than one for untyped places. */
export interface Atom {
  readonly scalar?: Scalar;
  readonly list?: ListType;
  readonly map?: MapType;
}

/** A lazily resolved type: definitions are recursive (JSONSchemaProps), so nothing compiles ahead. */
export class TypeRef {
  #resolve: (() => Atom) | undefined;
  #atom: Atom | undefined;
  /** The definition this refers to, when it is one (zero values are looked up by it). */
  readonly name: string | undefined;

  constructor(resolve: () => Atom, name?: string) {
    this.#resolve = resolve;
    this.name = name;
  }

  get atom(): Atom {
    if (!this.#atom) {
      this.#atom = this.#resolve!();
      this.#resolve = undefined;
    }
    return this.#atom;
  }
}

// __untyped_atomic_: anything, owned as a whole.
export const UNTYPED_ATOMIC: TypeRef = new TypeRef(() => ({
  scalar: 'untyped',
  list: { relationship: 'atomic', keys: [], element: UNTYPED_ATOMIC },
  map: { relationship: 'atomic', fields: new Map(), element: UNTYPED_ATOMIC },
}));

/** __untyped_deduced_: scalars, atomic lists, granular maps of the same. Kinds without a schema use it. */
export const DEDUCED: TypeRef = new TypeRef(() => ({
  scalar: 'untyped',
  list: { relationship: 'atomic', keys: [], element: UNTYPED_ATOMIC },
  map: { relationship: 'separable', fields: new Map(), element: DEDUCED },
}));

const UNTYPED_SCALAR: Atom = { scalar: 'untyped' };
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';
const RAW_EXTENSION = 'io.k8s.apimachinery.pkg.runtime.RawExtension';

const named = new Map<string, TypeRef>();

/** The type of a definition (io.k8s.api.apps.v1.Deployment); DEDUCED if there is none. */
export function definitionType(name: string): TypeRef {
  let t = named.get(name);
  if (!t) {
    const def = definitions()[name];
    if (!def) return DEDUCED;
    // As schemaconv hard-codes them: a quantity is a scalar, a RawExtension anything, owned whole.
    t = new TypeRef(() => (name === QUANTITY ? UNTYPED_SCALAR : name === RAW_EXTENSION ? UNTYPED_ATOMIC.atom : parseSchema(def, false)), name);
    named.set(name, t);
  }
  return t;
}

/** The root type of a kind, or DEDUCED for kinds without a built-in schema (custom resources). */
export function typeFor(gvk: GVK): TypeRef {
  const name = definitionNameFor(gvk);
  return name ? definitionType(name) : DEDUCED;
}

function parseSchema(s: JSONSchema, preserve: boolean): Atom {
  if (s['x-kubernetes-preserve-unknown-fields'] === true) preserve = true;
  switch (s.type) {
    case undefined:
    case '':
      return { scalar: 'untyped', list: parseList(s, preserve), map: parseObject(s, preserve) };
    case 'object':
      return { map: parseObject(s, preserve) };
    case 'array':
      return { list: parseList(s, preserve) };
    case 'integer':
    case 'number':
      return { scalar: 'numeric' };
    case 'boolean':
      return { scalar: 'boolean' };
    case 'string':
      return { scalar: s.format === undefined || s.format === '' || s.format === 'byte' ? 'string' : 'untyped' };
    default:
      return UNTYPED_SCALAR;
  }
}

function refTo(s: JSONSchema, preserve: boolean): TypeRef {
  const ref: unknown = s.$ref ?? (Array.isArray(s.allOf) && s.allOf.length === 1 ? s.allOf[0]?.$ref : undefined);
  if (typeof ref === 'string') {
    const t = definitionType(ref.slice(ref.lastIndexOf('/') + 1));
    const mapType = mapRelationship(s);
    return mapType ? withMapRelationship(t, mapType) : t;
  }
  return new TypeRef(() => parseSchema(s, preserve));
}

/** A $ref with its own x-kubernetes-map-type (PersistentVolumeSpec.claimRef): the same type, another relationship. */
function withMapRelationship(t: TypeRef, relationship: 'atomic' | 'separable'): TypeRef {
  return new TypeRef(() => {
    const a = t.atom;
    return a.map ? { ...a, map: { ...a.map, relationship } } : a;
  }, t.name);
}

function mapRelationship(s: JSONSchema): 'atomic' | 'separable' | undefined {
  const v = s['x-kubernetes-map-type'];
  return v === 'atomic' ? 'atomic' : v === 'granular' ? 'separable' : undefined;
}

function parseObject(s: JSONSchema, preserve: boolean): MapType {
  const fields = new Map<string, StructField>();
  const props = (s.properties ?? {}) as Record<string, JSONSchema>;
  for (const [name, p] of Object.entries(props)) fields.set(name, { type: refTo(p, preserve) });
  let element: TypeRef | undefined;
  const ap = s.additionalProperties;
  if (ap === undefined || ap === null) element = preserve || fields.size === 0 ? DEDUCED : undefined;
  else if (typeof ap === 'object') element = refTo(ap as JSONSchema, preserve);
  else if (ap === true) element = DEDUCED;
  return { relationship: mapRelationship(s) ?? 'separable', fields, element };
}

function parseList(s: JSONSchema, preserve: boolean): ListType {
  let relationship: 'atomic' | 'associative' = 'atomic';
  let keys: string[] = [];
  const listType = s['x-kubernetes-list-type'];
  if (listType !== undefined) {
    if (listType === 'set') relationship = 'associative';
    else if (listType === 'map') {
      relationship = 'associative';
      keys = Array.isArray(s['x-kubernetes-list-map-keys']) ? s['x-kubernetes-list-map-keys'].filter((k: unknown) => typeof k === 'string') : [];
    }
  } else {
    const strategy = s['x-kubernetes-patch-strategy'];
    if (strategy === 'merge' || strategy === 'merge,retainKeys') {
      relationship = 'associative';
      const key = s['x-kubernetes-patch-merge-key'];
      if (typeof key === 'string') keys = [key];
    }
  }
  const items = s.items && typeof s.items === 'object' ? (s.items as JSONSchema) : undefined;
  return { relationship, keys, element: items ? refTo(items, preserve) : UNTYPED_ATOMIC };
}

// ---- facts from zero-values.json ------------------------------------------------------------

interface ZeroData {
  values: Record<string, Record<string, 0 | 1>>;
  keyDefaults: Record<string, Record<string, JSONValue>>;
}

let zeroData: ZeroData | undefined;

function zero(): ZeroData {
  zeroData ??= JSON.parse(readFileSync(new URL('./zero-values.json', import.meta.url), 'utf8')) as ZeroData;
  return zeroData;
}

/** The default of a key field of an associative list's items (`protocol` → TCP), if it has one. */
export function keyDefault(element: TypeRef, field: string): JSONValue | undefined {
  const d = element.name ? zero().keyDefaults[element.name] : undefined;
  return d && Object.hasOwn(d, field) ? d[field] : element.atom.map?.fields.get(field)?.default;
}

/**
 * `v` as the field manager sees it once converted from its Go type: every non-pointer struct
 * field present (as `{}` when absent, recursively) and every field without omitempty present
 * (null when absent), at every level, list items included. A stored object that omits
 * `status` or a container's `resources` thus compares as upstream's does, and the zero value
 * of a kind (what a create is compared with, `Creater.New(kind)`) is `withGoFields({}, t)`.
 * Returns a copy; types without a definition (custom resources) gain nothing.
 */
export function withGoFields(v: JSONValue, t: TypeRef, depth = 0): JSONValue {
  if (depth > 64) return v;
  if (Array.isArray(v)) {
    const element = t.atom.list?.element;
    return element ? v.map((x) => withGoFields(x, element, depth + 1)) : v;
  }
  if (v === null || typeof v !== 'object') return v;
  const m = t.atom.map;
  if (!m) return v;
  const out: JSONObject = {};
  for (const k of Object.keys(v)) {
    const ft = m.fields.get(k)?.type ?? m.element;
    const val = ft ? withGoFields(v[k], ft, depth + 1) : v[k];
    if (k === '__proto__') Object.defineProperty(out, k, { value: val, enumerable: true, writable: true, configurable: true });
    else out[k] = val;
  }
  const present = t.name ? zero().values[t.name] : undefined;
  if (present) {
    for (const [field, kind] of Object.entries(present)) {
      if (Object.hasOwn(out, field)) continue;
      const ft = m.fields.get(field)?.type;
      out[field] = kind === 1 && ft ? withGoFields({}, ft, depth + 1) : null;
    }
  }
  return out;
}
