// Field paths and field sets as structured-merge-diff (sigs.k8s.io/structured-merge-diff/v4
// fieldpath) defines them: what a managedFields entry owns, serialized as FieldsV1
// (`{"f:spec":{"f:containers":{"k:{\"name\":\"nginx\"}":{".":{},"f:image":{}}}}}`).
//
// Elements order as upstream orders them (fields, then keys, then values, then indexes; within
// each by name or value), because FieldsV1 and conflict messages are printed in that order.

import type { JSONObject, JSONValue } from '../patch/values.ts';
import { hasOwn, isObject } from '../patch/values.ts';

export interface KeyField {
  readonly name: string;
  readonly value: JSONValue;
}

/**
 * One step into a value: a field of a map or struct, the item of an associative list with
 * these key fields (sorted by name), the item of a set with this value, or an index (atomic
 * lists, only in validation messages).
 */
export type PathElement =
  | { readonly kind: 'field'; readonly name: string }
  | { readonly kind: 'key'; readonly fields: readonly KeyField[] }
  | { readonly kind: 'value'; readonly value: JSONValue }
  | { readonly kind: 'index'; readonly index: number };

export type Path = readonly PathElement[];

export function fieldPE(name: string): PathElement {
  return { kind: 'field', name };
}

/** Key fields in any order; stored sorted by name. */
export function keyPE(fields: KeyField[]): PathElement {
  return { kind: 'key', fields: [...fields].sort((a, b) => compareStrings(a.name, b.name)) };
}

export function valuePE(value: JSONValue): PathElement {
  return { kind: 'value', value };
}

export function indexPE(index: number): PathElement {
  return { kind: 'index', index };
}

/** `spec.replicas` as a path of fields (tests and fixed paths). */
export function fieldPath(...names: string[]): Path {
  return names.map(fieldPE);
}

// ---- ordering and equality of values (value.Compare / value.Equals) ---------------------------

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function rank(v: JSONValue): number {
  // Go's value.Compare: numbers, strings, booleans, lists, maps, null.
  if (typeof v === 'number') return 0;
  if (typeof v === 'string') return 1;
  if (typeof v === 'boolean') return 2;
  if (Array.isArray(v)) return 3;
  if (v !== null) return 4;
  return 5;
}

export function compareValues(a: JSONValue, b: JSONValue): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 1:
      return compareStrings(a as string, b as string);
    case 2:
      return a === b ? 0 : a === false ? -1 : 1;
    case 3: {
      const la = a as JSONValue[];
      const lb = b as JSONValue[];
      for (let i = 0; i < Math.min(la.length, lb.length); i++) {
        const c = compareValues(la[i], lb[i]);
        if (c) return c;
      }
      return la.length === lb.length ? 0 : la.length < lb.length ? -1 : 1;
    }
    case 4: {
      const ma = a as JSONObject;
      const mb = b as JSONObject;
      const ka = Object.keys(ma).sort(compareStrings);
      const kb = Object.keys(mb).sort(compareStrings);
      for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
        const c = compareStrings(ka[i], kb[i]) || compareValues(ma[ka[i]], mb[kb[i]]);
        if (c) return c;
      }
      return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
    }
    default:
      return 0;
  }
}

/** Deep equality, maps compared without regard to key order (value.Equals). */
export function valuesEqual(a: JSONValue | undefined, b: JSONValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null) return false;
  if (typeof a !== 'object' || typeof b !== 'object') return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!valuesEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!hasOwn(b, k) || !valuesEqual(a[k], b[k])) return false;
  return true;
}

const KIND_ORDER = { field: 0, key: 1, value: 2, index: 3 } as const;

export function comparePE(a: PathElement, b: PathElement): number {
  if (a.kind !== b.kind) return KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  switch (a.kind) {
    case 'field':
      return compareStrings(a.name, (b as typeof a).name);
    case 'key': {
      const fa = a.fields;
      const fb = (b as typeof a).fields;
      for (let i = 0; i < Math.min(fa.length, fb.length); i++) {
        const c = compareStrings(fa[i].name, fb[i].name) || compareValues(fa[i].value, fb[i].value);
        if (c) return c;
      }
      return fa.length === fb.length ? 0 : fa.length < fb.length ? -1 : 1;
    }
    case 'value':
      return compareValues(a.value, (b as typeof a).value);
    case 'index':
      return a.index - (b as typeof a).index;
  }
}

// ---- text forms ----------------------------------------------------------------------------

/** JSON as Go's encoder writes it (HTML characters and line separators escaped). */
const GO_ESCAPED = /[<>&\u2028\u2029]/g;

export function goJSON(v: JSONValue): string {
  const s = JSON.stringify(v);
  GO_ESCAPED.lastIndex = 0;
  return GO_ESCAPED.test(s) ? s.replace(GO_ESCAPED, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) : s;
}

/** The FieldsV1 key of an element: `f:name`, `k:{"name":"x"}`, `v:"x"`, `i:0`. */
export function serializePE(pe: PathElement): string {
  switch (pe.kind) {
    case 'field':
      return 'f:' + pe.name;
    case 'key':
      return 'k:{' + pe.fields.map((f) => goJSON(f.name) + ':' + goJSON(f.value)).join(',') + '}';
    case 'value':
      return 'v:' + goJSON(pe.value);
    case 'index':
      return 'i:' + pe.index;
  }
}

/** Go's `%v` of a value.Value, as PathElement.String prints key values. */
function valueText(v: JSONValue): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return '[' + v.map(valueText).join(',') + ']';
  return Object.keys(v)
    .map((k) => `${k}=${valueText(v[k])}`)
    .join('');
}

/** `.name`, `[name="x",port=80]`, `[=x]`, `[0]` (PathElement.String). */
export function peString(pe: PathElement): string {
  switch (pe.kind) {
    case 'field':
      return '.' + pe.name;
    case 'key':
      return '[' + pe.fields.map((f) => `${f.name}=${valueText(f.value)}`).join(',') + ']';
    case 'value':
      return `[=${valueText(pe.value)}]`;
    case 'index':
      return `[${pe.index}]`;
  }
}

/** `.spec.containers[name="nginx"].image`, as conflict messages print paths. */
export function pathString(p: Path): string {
  return p.map(peString).join('');
}

/** Parses a FieldsV1 key; undefined for element types this version does not know (skipped, as upstream). */
export function deserializePE(s: string): PathElement | undefined {
  if (s.length < 2 || s[1] !== ':') throw new Error(`missing colon: ${s}`);
  const rest = s.slice(2);
  switch (s[0]) {
    case 'f':
      return fieldPE(rest);
    case 'v':
      return valuePE(JSON.parse(rest) as JSONValue);
    case 'k': {
      const o = JSON.parse(rest) as JSONValue;
      if (!isObject(o)) throw new Error(`key is not an object: ${s}`);
      return keyPE(Object.keys(o).map((name) => ({ name, value: o[name] })));
    }
    case 'i': {
      if (!/^-?\d+$/.test(rest)) throw new Error(`bad index: ${s}`);
      return indexPE(Number(rest));
    }
    default:
      return undefined;
  }
}

// ---- sets ----------------------------------------------------------------------------------

interface Child {
  readonly pe: PathElement;
  readonly set: FieldSet;
}

/**
 * A set of paths, as a tree: `members` are the elements that are themselves in the set,
 * `children` the elements below which there are members. A child never holds an empty set.
 * Both are keyed by the serialized element, which is canonical (keys sorted, values as JSON).
 */
export class FieldSet {
  readonly members = new Map<string, PathElement>();
  readonly children = new Map<string, Child>();

  static of(...paths: Path[]): FieldSet {
    const s = new FieldSet();
    for (const p of paths) s.insert(p);
    return s;
  }

  /** Adds `p` (its parents are not added). The empty path, the whole object, is never owned. */
  insert(p: Path): void {
    if (p.length === 0) return;
    let s: FieldSet = this;
    for (let i = 0; i < p.length - 1; i++) s = s.descend(p[i]);
    const last = p[p.length - 1];
    s.members.set(serializePE(last), last);
  }

  private descend(pe: PathElement): FieldSet {
    const k = serializePE(pe);
    let c = this.children.get(k);
    if (!c) {
      c = { pe, set: new FieldSet() };
      this.children.set(k, c);
    }
    return c.set;
  }

  has(p: Path): boolean {
    if (p.length === 0) return false;
    let s: FieldSet | undefined = this;
    for (let i = 0; i < p.length - 1 && s; i++) s = s.children.get(serializePE(p[i]))?.set;
    return !!s && s.members.has(serializePE(p[p.length - 1]));
  }

  empty(): boolean {
    if (this.members.size) return false;
    for (const c of this.children.values()) if (!c.set.empty()) return false;
    return true;
  }

  /** The subset below `pe`, without the prefix (empty when there is none). */
  withPrefix(pe: PathElement): FieldSet {
    return this.children.get(serializePE(pe))?.set ?? new FieldSet();
  }

  // The set operations below share structure: sets are never changed once built (only
  // the one being built is inserted into), so a result that equals an operand is that
  // operand, and unchanged subtrees are shared. A write's managed fields (a heartbeat
  // renewing one field) then cost a walk down one path, not a copy of every set.

  private bare(): boolean {
    return this.members.size === 0 && this.children.size === 0;
  }

  union(o: FieldSet): FieldSet {
    if (this === o || o.bare()) return this;
    if (this.bare()) return o;
    const out = new FieldSet();
    for (const [k, pe] of this.members) out.members.set(k, pe);
    for (const [k, pe] of o.members) out.members.set(k, pe);
    for (const [k, c] of this.children) {
      const oc = o.children.get(k);
      out.children.set(k, oc ? { pe: c.pe, set: c.set.union(oc.set) } : c);
    }
    for (const [k, c] of o.children) if (!this.children.has(k)) out.children.set(k, c);
    return out;
  }

  intersection(o: FieldSet): FieldSet {
    if (this === o) return this;
    const out = new FieldSet();
    if (this.bare() || o.bare()) return out;
    for (const [k, pe] of this.members) if (o.members.has(k)) out.members.set(k, pe);
    for (const [k, c] of this.children) {
      const oc = o.children.get(k);
      if (!oc) continue;
      const i = c.set.intersection(oc.set);
      if (!i.empty()) out.children.set(k, { pe: c.pe, set: i });
    }
    return out;
  }

  /** Members of this set not in `o`; a parent minus its child is still the parent. */
  difference(o: FieldSet): FieldSet {
    if (this === o) return new FieldSet();
    if (o.bare() || this.bare()) return this;
    const out = new FieldSet();
    let same = true;
    for (const [k, pe] of this.members) {
      if (!o.members.has(k)) out.members.set(k, pe);
      else same = false;
    }
    for (const [k, c] of this.children) {
      const oc = o.children.get(k);
      if (!oc) {
        out.children.set(k, c);
        continue;
      }
      const d = c.set.difference(oc.set);
      if (d !== c.set) same = false;
      if (!d.empty()) out.children.set(k, d === c.set ? c : { pe: c.pe, set: d });
    }
    return same ? this : out;
  }

  /** Like difference, but a member of `o` also removes everything below it. */
  recursiveDifference(o: FieldSet): FieldSet {
    if (this === o) return new FieldSet();
    if (o.bare() || this.bare()) return this;
    const out = new FieldSet();
    let same = true;
    for (const [k, pe] of this.members) {
      if (!o.members.has(k)) out.members.set(k, pe);
      else same = false;
    }
    for (const [k, c] of this.children) {
      if (o.members.has(k)) {
        same = false;
        continue;
      }
      const oc = o.children.get(k);
      if (!oc) {
        out.children.set(k, c);
        continue;
      }
      const d = c.set.recursiveDifference(oc.set);
      if (d !== c.set) same = false;
      if (!d.empty()) out.children.set(k, d === c.set ? c : { pe: c.pe, set: d });
    }
    return same ? this : out;
  }

  /** Whether every path of this set is in `o` (difference(o) is empty), without building it. */
  isSubsetOf(o: FieldSet): boolean {
    if (this === o) return true;
    for (const k of this.members.keys()) if (!o.members.has(k)) return false;
    for (const [k, c] of this.children) {
      const oc = o.children.get(k);
      if (oc ? !c.set.isSubsetOf(oc.set) : !c.set.empty()) return false;
    }
    return true;
  }

  /** Whether some path is in both sets (intersection(o) is not empty), without building it. */
  intersects(o: FieldSet): boolean {
    for (const k of this.members.keys()) if (o.members.has(k)) return true;
    for (const [k, c] of this.children) {
      const oc = o.children.get(k);
      if (oc && c.set.intersects(oc.set)) return true;
    }
    return false;
  }

  equals(o: FieldSet): boolean {
    return this === o || (this.difference(o).empty() && o.difference(this).empty());
  }

  /** Every member, members before children at each level, each level in element order (Set.Iterate). */
  iterate(fn: (p: Path) => void, prefix: PathElement[] = []): void {
    for (const pe of sortedPEs(this.members)) fn([...prefix, pe]);
    for (const c of sortedChildren(this.children)) c.set.iterate(fn, [...prefix, c.pe]);
  }

  paths(): Path[] {
    const out: Path[] = [];
    this.iterate((p) => out.push(p));
    return out;
  }

  /** Paths one per line, as Set.String (tests and messages). */
  toString(): string {
    return this.paths().map(pathString).join('\n');
  }

  /** FieldsV1: a JSON object, `.` first when a child is also a member, then elements in order. */
  toFieldsV1(): JSONObject {
    return this.emit(false);
  }

  private emit(includeSelf: boolean): JSONObject {
    const out: JSONObject = {};
    if (includeSelf && (this.members.size || this.children.size)) out['.'] = {};
    const keys = new Map<string, PathElement>();
    for (const [k, pe] of this.members) keys.set(k, pe);
    for (const [k, c] of this.children) keys.set(k, c.pe);
    for (const [k] of [...keys].sort((a, b) => comparePE(a[1], b[1]))) {
      const c = this.children.get(k);
      const v = c ? c.set.emit(this.members.has(k)) : {};
      if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      else out[k] = v;
    }
    return out;
  }

  /** Reads FieldsV1; throws on malformed input. Unknown element types are dropped, as upstream. */
  static fromFieldsV1(v: JSONValue): FieldSet {
    if (!isObject(v)) throw new Error('FieldsV1 must be a JSON object');
    const { children } = readLevel(v);
    return children ?? new FieldSet();
  }
}

/** One level of FieldsV1: the set below it, and whether the level itself is a member. */
function readLevel(o: JSONObject): { children: FieldSet | undefined; member: boolean } {
  let children: FieldSet | undefined;
  let member = false;
  for (const key of Object.keys(o)) {
    if (key === '.') {
      member = true;
      continue;
    }
    const pe = deserializePE(key);
    if (!pe) continue;
    const v = o[key];
    if (!isObject(v)) throw new Error(`FieldsV1 value of ${key} must be an object`);
    const sub = readLevel(v);
    const k = serializePE(pe);
    if (sub.member) (children ??= new FieldSet()).members.set(k, pe);
    if (sub.children && !sub.children.empty()) {
      children ??= new FieldSet();
      const existing = children.children.get(k);
      children.children.set(k, { pe, set: existing ? existing.set.union(sub.children) : sub.children });
    }
  }
  // A leaf ({}) is a member of its parent.
  if (!children) member = true;
  return { children, member };
}

function sortedPEs(m: Map<string, PathElement>): PathElement[] {
  return [...m.values()].sort(comparePE);
}

function sortedChildren(m: Map<string, Child>): Child[] {
  return [...m.values()].sort((a, b) => comparePE(a.pe, b.pe));
}
