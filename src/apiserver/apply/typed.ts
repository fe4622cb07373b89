// Operations on values of a type, as structured-merge-diff's `typed` package does them:
// the field set of a value, the comparison of two values, the merge of an applied
// configuration into a live object, removal of items, and validation of an applied
// configuration with upstream's messages.
//
// Values are plain JSON; `undefined` is an absent value (Go's nil), which differs from
// `null` (present, null) in exactly the places upstream distinguishes them: a node absent
// on one side is added or removed as a whole, a null one is compared as a leaf.

import {
  FieldSet,
  fieldPE,
  indexPE,
  keyPE,
  type Path,
  type PathElement,
  peString,
  serializePE,
  valuePE,
  valuesEqual,
} from './fieldpath.ts';
import { type Atom, DEDUCED, keyDefault, UNTYPED_ATOMIC, type ListType, type MapType, type TypeRef } from './schema.ts';
import { isObject, setKey, type JSONObject, type JSONValue } from '../patch/values.ts';

type V = JSONValue | undefined;

function isScalar(v: V): v is string | number | boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** The branch of a type that applies to a value; the whole type when none matches (deduceAtom). */
function deduce(atom: Atom, v: V): Atom {
  if (v === undefined) return atom;
  if (isScalar(v)) return atom.scalar ? branches(atom).scalar! : atom;
  if (Array.isArray(v)) return atom.list ? branches(atom).list! : atom;
  if (v !== null) return atom.map ? branches(atom).map! : atom;
  return atom;
}

/** Each branch of an atom as an atom of its own, built once per atom (deduce runs on every node of every write). */
const deduced = new WeakMap<Atom, { scalar?: Atom; list?: Atom; map?: Atom }>();
function branches(atom: Atom): { scalar?: Atom; list?: Atom; map?: Atom } {
  let b = deduced.get(atom);
  if (!b) {
    b = {
      scalar: atom.scalar ? { scalar: atom.scalar } : undefined,
      list: atom.list ? { list: atom.list } : undefined,
      map: atom.map ? { map: atom.map } : undefined,
    };
    deduced.set(atom, b);
  }
  return b;
}

/** Field elements by name, shared (they are immutable): a comparison visits every field of both objects. */
const FIELD_PE_MAX = 4096;
const fieldPEs = new Map<string, PathElement>();
function sharedFieldPE(name: string): PathElement {
  let pe = fieldPEs.get(name);
  if (!pe) {
    if (fieldPEs.size >= FIELD_PE_MAX) fieldPEs.clear();
    fieldPEs.set(name, (pe = fieldPE(name)));
  }
  return pe;
}

function sameAtom(a: Atom, b: Atom): boolean {
  return a.scalar === b.scalar && a.list === b.list && a.map === b.map;
}

/** The type of a key of a map: its field's, else the element type (DEDUCED when the map has none). */
function fieldType(m: MapType, key: string): TypeRef {
  return m.fields.get(key)?.type ?? m.element ?? DEDUCED;
}

function asList(v: V): JSONValue[] | undefined {
  return Array.isArray(v) ? v : undefined;
}

function asMap(v: V): JSONObject | undefined {
  return isObject(v) ? v : undefined;
}

// ---- list items -----------------------------------------------------------------------------

/** The element naming an item of an associative list (listItemToPathElement), or an error text. */
export function listItemPE(list: ListType, item: JSONValue): PathElement | string {
  if (list.relationship !== 'associative') return 'invalid indexing of non-associative list';
  if (list.keys.length) {
    if (item === null) return 'associative list with keys may not have a null element';
    if (!isObject(item)) return 'associative list with keys may not have non-map elements';
    const fields = [];
    for (const name of list.keys) {
      if (Object.hasOwn(item, name)) {
        fields.push({ name, value: item[name] });
        continue;
      }
      const d = keyDefault(list.element, name);
      if (d === undefined || d === null) {
        return `associative list with keys has an element that omits key field ${JSON.stringify(name)} (and doesn't have default value)`;
      }
      fields.push({ name, value: d });
    }
    return keyPE(fields);
  }
  if (isObject(item)) return "associative list without keys has an element that's a map type";
  if (Array.isArray(item)) return 'not supported: associative list with lists as elements';
  if (item === null) return "associative list without keys has an element that's an explicit null";
  return valuePE(item);
}

function itemPEs(list: ListType, items: JSONValue[]): (PathElement | undefined)[] {
  return items.map((it) => {
    const pe = listItemPE(list, it);
    return typeof pe === 'string' ? undefined : pe;
  });
}

// ---- field sets -----------------------------------------------------------------------------

/** Every leaf field and every list or map item the value mentions (TypedValue.ToFieldSet). */
export function toFieldSet(v: V, t: TypeRef): FieldSet {
  const set = new FieldSet();
  if (v !== undefined) fieldSetWalk(v, t, [], set);
  return set;
}

function fieldSetWalk(v: JSONValue, t: TypeRef, path: PathElement[], set: FieldSet): void {
  const a = deduce(t.atom, v);
  if (a.map) {
    if (a.map.relationship === 'atomic') return set.insert(path);
    const m = asMap(v);
    if (!m) return;
    for (const key of Object.keys(m)) {
      const val = m[key];
      const p = [...path, fieldPE(key)];
      fieldSetWalk(val, fieldType(a.map, key), p, set);
      if (val === null || (isObject(val) && Object.keys(val).length === 0) || !a.map.fields.has(key)) set.insert(p);
    }
    return;
  }
  if (a.scalar) return set.insert(path);
  if (a.list) {
    if (a.list.relationship === 'atomic') return set.insert(path);
    const l = asList(v);
    if (!l) return;
    const pes = itemPEs(a.list, l);
    const seen = new Set<string>();
    const dups = new Set<string>();
    for (const pe of pes) {
      if (!pe) continue;
      const k = serializePE(pe);
      if (seen.has(k)) {
        if (!dups.has(k)) {
          set.insert([...path, pe]);
          dups.add(k);
        }
      } else seen.add(k);
    }
    for (let i = 0; i < l.length; i++) {
      const pe = pes[i];
      if (!pe || dups.has(serializePE(pe))) continue;
      const p = [...path, pe];
      fieldSetWalk(l[i], a.list.element, p, set);
      set.insert(p);
    }
  }
}

/**
 * `set` plus every named (struct) field on the way to its members: `spec.template.spec` owns
 * `spec` and `spec.template` too, while a map key or list item on the way is not added.
 */
export function ensureNamedFieldsAreMembers(set: FieldSet, t: TypeRef | undefined): FieldSet {
  const out = new FieldSet();
  const atom = t?.atom;
  for (const [k, pe] of set.members) out.members.set(k, pe);
  for (const [k, c] of set.children) {
    let ct: TypeRef | undefined;
    if (c.pe.kind === 'field' && atom?.map) {
      if (atom.map.fields.has(c.pe.name)) out.members.set(k, c.pe);
      ct = atom.map.fields.get(c.pe.name)?.type ?? atom.map.element;
    } else if (c.pe.kind === 'key' && atom?.list) {
      ct = atom.list.element;
    }
    out.children.set(k, { pe: c.pe, set: ensureNamedFieldsAreMembers(c.set, ct) });
  }
  return out;
}

// ---- validation of applied configurations --------------------------------------------------

export interface ValidationError {
  path: string;
  message: string;
}

/** Go's `%v` of a value.Value (a pointer to a struct holding the value). */
function goValue(v: JSONValue): string {
  const inner = (x: JSONValue): string => {
    if (x === null) return '<nil>';
    if (Array.isArray(x)) return '[' + x.map(inner).join(' ') + ']';
    if (typeof x === 'object') return 'map[' + Object.keys(x).sort().map((k) => `${k}:${inner(x[k])}`).join(' ') + ']';
    return String(x);
  };
  return `&{${inner(v)}}`;
}

function goTypeName(v: JSONValue): string {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int64' : 'float64';
  if (Array.isArray(v)) return '[]interface {}';
  return v === null ? '<nil>' : 'map[string]interface {}';
}

function scalarError(s: NonNullable<Atom['scalar']>, v: JSONValue): string | undefined {
  if (v === null) return undefined;
  switch (s) {
    case 'numeric':
      return typeof v === 'number' ? undefined : `expected numeric (int or float), got ${goTypeName(v)}`;
    case 'string':
      return typeof v === 'string' ? undefined : `expected string, got &value.valueUnstructured{Value:${typeof v === 'object' ? goValue(v).slice(2, -1) : String(v)}}`;
    case 'boolean':
      return typeof v === 'boolean' ? undefined : `expected boolean, got ${goValue(v)}`;
    default:
      return isScalar(v) ? undefined : `expected any scalar, got ${goValue(v)}`;
  }
}

/**
 * Checks an applied configuration against its type (TypedValue.Validate): unknown fields,
 * values of the wrong shape, list items without keys, duplicate items. Paths are upstream's
 * (`.spec.containers[name="nginx"].ports`).
 */
export function validate(v: JSONValue, t: TypeRef): ValidationError[] {
  const errs: ValidationError[] = [];
  validateWalk(v, t, '', errs);
  return errs;
}

function validateWalk(v: JSONValue, t: TypeRef, path: string, errs: ValidationError[]): void {
  const a = deduce(t.atom, v);
  if (a.map) {
    if (v !== null && !isObject(v)) return void errs.push({ path, message: `expected map, got ${goValue(v)}` });
    if (v === null) return;
    for (const key of Object.keys(v)) {
      const p = path + '.' + key;
      if (!a.map.fields.has(key) && !a.map.element) {
        errs.push({ path: p, message: 'field not declared in schema' });
        return;
      }
      validateWalk(v[key], fieldType(a.map, key), p, errs);
    }
    return;
  }
  if (a.scalar) {
    const e = scalarError(a.scalar, v);
    if (e) errs.push({ path, message: e });
    return;
  }
  if (a.list) {
    if (v !== null && !Array.isArray(v)) return void errs.push({ path, message: `expected list, got ${goValue(v)}` });
    if (v === null) return;
    const seen = new Set<string>();
    for (let i = 0; i < v.length; i++) {
      let pe: PathElement;
      if (a.list.relationship !== 'associative') pe = indexPE(i);
      else {
        const r = listItemPE(a.list, v[i]);
        if (typeof r === 'string') {
          errs.push({ path, message: `element ${i}: ${r}` });
          return;
        }
        pe = r;
        const k = serializePE(pe);
        if (seen.has(k)) errs.push({ path, message: `duplicate entries for key ${peString(pe)}` });
        seen.add(k);
      }
      validateWalk(v[i], a.list.element, path + peString(pe), errs);
    }
  }
}

/** ValidationErrors.Error(): one error as `path: message`, several under `errors:`. */
export function validationText(errs: ValidationError[]): string {
  const one = (e: ValidationError) => (e.path ? `${e.path}: ${e.message}` : e.message);
  return errs.length === 1 ? one(errs[0]) : ['errors:', ...errs.map((e) => '  ' + one(e))].join('\n');
}

// ---- comparison -----------------------------------------------------------------------------

export interface Comparison {
  removed: FieldSet;
  modified: FieldSet;
  added: FieldSet;
}

/** What changed from `lhs` to `rhs` (TypedValue.Compare). */
export function compare(lhs: V, rhs: V, t: TypeRef): Comparison {
  const c: Comparison = { removed: new FieldSet(), modified: new FieldSet(), added: new FieldSet() };
  if (lhs !== undefined || rhs !== undefined) compareWalk(lhs, rhs, t, [], c);
  return c;
}

function compareWalk(lhs: V, rhs: V, t: TypeRef, path: PathElement[], c: Comparison): void {
  const atom = t.atom;
  const al = deduce(atom, lhs);
  const ar = deduce(atom, rhs);
  let leaf: boolean;
  if (rhs === undefined) leaf = compareAtom(al, lhs, rhs, path, c);
  else if (lhs === undefined || sameAtom(al, ar)) leaf = compareAtom(ar, lhs, rhs, path, c);
  else {
    compareAtom(al, lhs, rhs, path, c);
    leaf = compareAtom(ar, lhs, rhs, path, c);
  }
  if (!leaf) {
    if (lhs === undefined) c.added.insert(path);
    else if (rhs === undefined) c.removed.insert(path);
  }
}

/**
 * compare() for the simple pair a small write leaves once what both sides hold in common is
 * dropped (a lease renewal: {spec: {renewTime}} on each side): the same keys on both sides,
 * through granular maps and structs, down to scalar leaves. Every leaf is then a modified
 * field and nothing was added or removed; the paths of those leaves are returned without
 * building field sets. Undefined for any other pair (lists, nulls, a key on one side only,
 * atomic maps, places not typed as scalars), which compare() works out.
 */
export function scalarChanges(lhs: JSONObject, rhs: JSONObject, t: TypeRef): Path[] | undefined {
  const out: Path[] = [];
  return scalarWalk(lhs, rhs, t, [], out) ? out : undefined;
}

function scalarWalk(lhs: JSONObject, rhs: JSONObject, t: TypeRef, path: PathElement[], out: Path[]): boolean {
  const m = t.atom.map;
  if (!m || m.relationship === 'atomic') return false;
  const keys = Object.keys(lhs);
  if (keys.length === 0 || keys.length !== Object.keys(rhs).length) return false;
  for (const key of keys) {
    if (!Object.hasOwn(rhs, key)) return false;
    const l = lhs[key];
    const r = rhs[key];
    const ft = fieldType(m, key);
    path.push(sharedFieldPE(key));
    let ok: boolean;
    if (isObject(l) && isObject(r)) ok = scalarWalk(l, r, ft, path, out);
    else {
      const a = ft.atom;
      ok = isScalar(l) && isScalar(r) && !!a.scalar && !a.map && !a.list;
      if (ok) out.push([...path]);
    }
    path.pop();
    if (!ok) return false;
  }
  return true;
}

function compareLeaf(lhs: V, rhs: V, path: Path, c: Comparison): true {
  if (lhs === undefined) c.added.insert(path);
  else if (rhs === undefined) c.removed.insert(path);
  else if (!valuesEqual(lhs, rhs)) c.modified.insert(path);
  return true;
}

/** Returns whether the node was compared as a leaf. */
function compareAtom(a: Atom, lhs: V, rhs: V, path: PathElement[], c: Comparison): boolean {
  if (a.map) {
    const lm = asMap(lhs);
    const rm = asMap(rhs);
    const empty = (!lm || !Object.keys(lm).length) && (!rm || !Object.keys(rm).length);
    if (a.map.relationship === 'atomic' || empty) return compareLeaf(lhs, rhs, path, c);
    // `path` is one array pushed and popped along the walk: FieldSet.insert keeps the
    // elements, never the array.
    for (const key of zipKeys(lm, rm)) {
      path.push(sharedFieldPE(key));
      compareWalk(lm && Object.hasOwn(lm, key) ? lm[key] : undefined, rm && Object.hasOwn(rm, key) ? rm[key] : undefined, fieldType(a.map, key), path, c);
      path.pop();
    }
    return false;
  }
  if (a.scalar) return compareLeaf(lhs, rhs, path, c);
  if (a.list) {
    const ll = asList(lhs);
    const rl = asList(rhs);
    const empty = (!ll || !ll.length) && (!rl || !rl.length);
    if (a.list.relationship === 'atomic' || empty) return compareLeaf(lhs, rhs, path, c);
    compareListItems(a.list, ll ?? [], rl ?? [], path, c);
    return false;
  }
  return false;
}

function zipKeys(l: JSONObject | undefined, r: JSONObject | undefined): string[] {
  const keys = l ? Object.keys(l) : [];
  if (r) for (const k of Object.keys(r)) if (!l || !Object.hasOwn(l, k)) keys.push(k);
  return keys;
}

function compareListItems(list: ListType, lhs: JSONValue[], rhs: JSONValue[], path: PathElement[], c: Comparison): void {
  const all: PathElement[] = [];
  const lValues = new Map<string, JSONValue[]>();
  const rValues = new Map<string, JSONValue[]>();
  for (const [items, values, isLeft] of [[lhs, lValues, true], [rhs, rValues, false]] as const) {
    for (const item of items) {
      const pe = listItemPE(list, item);
      if (typeof pe === 'string') continue;
      const k = serializePE(pe);
      const found = values.get(k);
      if (found) found.push(item);
      else {
        values.set(k, [item]);
        if (isLeft || !lValues.has(k)) all.push(pe);
      }
    }
  }
  for (const pe of all) {
    const k = serializePE(pe);
    const l = lValues.get(k) ?? [];
    const r = rValues.get(k) ?? [];
    const p = path;
    p.push(pe);
    if (l.length <= 1 && r.length <= 1) compareWalk(l[0], r[0], list.element, p, c);
    else if (l.length >= 2 && r.length >= 2) {
      if (l.length !== r.length || l.some((x, i) => !valuesEqual(x, r[i]))) c.modified.insert(p);
    } else if (l.length >= 2) {
      if (r.length) compareWalk(undefined, r[0], list.element, p, c);
      c.removed.insert(p);
    } else {
      if (l.length) compareWalk(l[0], undefined, list.element, p, c);
      c.added.insert(p);
    }
    p.pop();
  }
}

// ---- merge ----------------------------------------------------------------------------------

/**
 * `rhs` (an applied configuration) merged into `lhs` (TypedValue.Merge): nothing is removed,
 * leaves take the configuration's value, granular maps and associative lists merge item by
 * item; list order follows the configuration where it names shared items, the live order
 * otherwise. Map keys come in the configuration's order, keys only the live object has after.
 */
export function merge(lhs: V, rhs: V, t: TypeRef): V {
  if (lhs === undefined && rhs === undefined) return undefined;
  const atom = t.atom;
  const al = deduce(atom, lhs);
  const ar = deduce(atom, rhs);
  // With different shapes on each side upstream walks both; the configuration's decides the result.
  return mergeAtom(rhs === undefined ? al : ar, lhs, rhs);
}

function keepRHS(lhs: V, rhs: V): V {
  return rhs !== undefined ? rhs : lhs;
}

function mergeAtom(a: Atom, lhs: V, rhs: V): V {
  if (a.map) {
    const lm = asMap(lhs);
    const rm = asMap(rhs);
    const empty = (!lm || !Object.keys(lm).length) && (!rm || !Object.keys(rm).length);
    if (a.map.relationship === 'atomic' || empty) return keepRHS(lhs, rhs);
    const out: JSONObject = {};
    for (const key of zipKeys(rm, lm)) {
      const v = merge(lm && Object.hasOwn(lm, key) ? lm[key] : undefined, rm && Object.hasOwn(rm, key) ? rm[key] : undefined, fieldType(a.map, key));
      if (v !== undefined) setKey(out, key, v);
    }
    return Object.keys(out).length ? out : undefined;
  }
  if (a.scalar) return keepRHS(lhs, rhs);
  if (a.list) {
    const ll = asList(lhs);
    const rl = asList(rhs);
    const empty = (!ll || !ll.length) && (!rl || !rl.length);
    if (a.list.relationship === 'atomic' || empty) return keepRHS(lhs, rhs);
    const out = mergeListItems(a.list, ll ?? [], rl ?? []);
    return out.length ? out : undefined;
  }
  return undefined;
}

function mergeListItems(list: ListType, lhs: JSONValue[], rhs: JSONValue[]): JSONValue[] {
  const index = (items: JSONValue[], allowDuplicates: boolean) => {
    const pes: PathElement[] = [];
    const at: number[] = [];
    const observed = new Map<string, JSONValue>();
    items.forEach((item, i) => {
      const pe = listItemPE(list, item);
      if (typeof pe === 'string') return;
      const k = serializePE(pe);
      if (observed.has(k)) {
        if (!allowDuplicates) return;
        // A duplicated live item is not merged with the applied one.
        observed.set(k, null);
      } else observed.set(k, item);
      pes.push(pe);
      at.push(i);
    });
    return { pes, at, observed };
  };
  const R = index(rhs, false);
  const L = index(lhs, true);
  const key = serializePE;
  const shared = R.pes.filter((pe) => L.observed.has(key(pe)));
  let next: PathElement | undefined = shared.shift();
  const mergedRHS = new Set<string>();
  const out: JSONValue[] = [];
  const push = (v: V) => {
    if (v !== undefined) out.push(v);
  };
  let li = 0;
  let ri = 0;
  while (li < L.pes.length || ri < R.pes.length) {
    if (li < L.pes.length && ri < R.pes.length) {
      const pe = L.pes[li];
      if (key(pe) === key(R.pes[ri])) {
        mergedRHS.add(key(pe));
        push(merge(L.observed.get(key(pe)), R.observed.get(key(pe)), list.element));
        li++;
        ri++;
        next = shared.shift();
        continue;
      }
      if (R.observed.has(key(pe)) && next && key(next) !== key(pe)) {
        // A shared item, but not the one due now.
        li++;
        continue;
      }
    }
    if (li < L.pes.length) {
      const pe = L.pes[li];
      if (!R.observed.has(key(pe))) {
        push(merge(lhs[L.at[li]], undefined, list.element));
        li++;
        continue;
      } else if (mergedRHS.has(key(pe))) {
        li++;
      }
    }
    if (ri < R.pes.length) {
      const pe = R.pes[ri];
      mergedRHS.add(key(pe));
      push(merge(L.observed.get(key(pe)), R.observed.get(key(pe)), list.element));
      ri++;
      if (next && key(next) === key(pe)) next = shared.shift();
    }
  }
  return out;
}

// ---- removal --------------------------------------------------------------------------------

/**
 * `v` without the fields and items in `set` (TypedValue.RemoveItems). A map or list left
 * empty becomes null, as upstream (null fields are dropped when the result is stored).
 */
export function removeItems(v: JSONValue, set: FieldSet, t: TypeRef): JSONValue {
  const a = deduce(t.atom, v);
  if (a.map) {
    const m = asMap(v);
    if (!m || !Object.keys(m).length || a.map.relationship === 'atomic') return null;
    const out: JSONObject = {};
    for (const k of Object.keys(m)) {
      const pe = fieldPE(k);
      if (set.members.has(serializePE(pe))) continue;
      const sub = set.withPrefix(pe);
      setKey(out, k, sub.empty() ? m[k] : removeItems(m[k], sub, fieldType(a.map, k)));
    }
    return Object.keys(out).length ? out : null;
  }
  if (a.scalar) return v;
  if (a.list) {
    const l = asList(v);
    if (!l || !l.length || a.list.relationship === 'atomic') return null;
    const out: JSONValue[] = [];
    for (const item of l) {
      const pe = listItemPE(a.list, item);
      if (typeof pe === 'string') {
        out.push(item);
        continue;
      }
      if (set.members.has(serializePE(pe))) continue;
      const sub = set.withPrefix(pe);
      out.push(sub.empty() ? item : removeItems(item, sub, a.list.element));
    }
    return out.length ? out : null;
  }
  return null;
}

// ---- normalization --------------------------------------------------------------------------

/**
 * The value as upstream stores it after converting the merge result back to its Go type:
 * null fields of typed maps and structs dropped (nil pointers, slices and maps are omitted).
 * Untyped content (RawExtension, free-form maps) is kept as it is.
 */
export function dropNulls(v: JSONValue, t: TypeRef): JSONValue {
  if (t === DEDUCED || t === UNTYPED_ATOMIC) return v;
  const a = deduce(t.atom, v);
  if (a.map && isObject(v)) {
    const out: JSONObject = {};
    for (const k of Object.keys(v)) {
      if (v[k] === null) continue;
      setKey(out, k, dropNulls(v[k], fieldType(a.map, k)));
    }
    return out;
  }
  if (a.list && Array.isArray(v)) return v.map((x) => dropNulls(x, a.list!.element));
  return v;
}

