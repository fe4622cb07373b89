// JSON patch (RFC 6902) with the semantics of gopkg.in/evanphx/json-patch.v4 (v4.12.0), the
// library kube-apiserver 1.32 applies it with, including its departures from the RFC:
// `replace` of a missing object key adds it, negative array indices count from the end,
// `copy`/`move` from a missing object key yield null, and a path without a leading `/`
// addresses the document root's last segment. Failure texts are the library's.

import { badRequest } from '../../api/errors.ts';
import { tooManyOperations } from './errors.ts';
import { GoSyntaxError, goQuote, goValueKind, parseGoJSON } from './gojson.ts';
import { deepClone, deepEqual, getOwn, hasOwn, isObject, setKey, type JSONObject, type JSONValue } from './values.ts';

/** Thrown while applying; the handler answers 422 (upstream's NewGenericServerResponse). */
export class JSONPatchError extends Error {}

export type Operation = JSONObject | null;

const MAX_OPERATIONS = 10000;
/** The apiserver's default --json-patch-max-copy-bytes (JSONPatchMaxCopyBytes). */
const MAX_COPY_BYTES = 3 * 1024 * 1024;

/**
 * Decodes a JSON-patch body the way the handler does under the default field validation
 * (Warn): a strict decode into []jsonPatchOp first, so shape errors are 400
 * `error decoding patch: ...`; then the 10000-operation limit (413).
 */
export function decodeJSONPatch(body: string): Operation[] {
  let v: JSONValue;
  try {
    v = parseGoJSON(body);
  } catch (e) {
    if (e instanceof GoSyntaxError) throw badRequest(`error decoding patch: ${e.message}`);
    throw e;
  }
  if (v === null) return [];
  if (!Array.isArray(v)) {
    throw badRequest(`error decoding patch: json: cannot unmarshal ${goValueKind(v)} into Go value of type []handlers.jsonPatchOp`);
  }
  for (const op of v) {
    if (op === null) continue;
    if (!isObject(op)) {
      throw badRequest(`error decoding patch: json: cannot unmarshal ${goValueKind(op)} into Go value of type handlers.jsonPatchOp`);
    }
    for (const k of Object.keys(op)) {
      if (k !== 'op' && k !== 'path' && k !== 'from') continue;
      const f = op[k];
      if (f !== null && typeof f !== 'string') {
        throw badRequest(
          `error decoding patch: json: cannot unmarshal ${goValueKind(f)} into Go struct field jsonPatchOp.${k} of type string`,
        );
      }
    }
  }
  if (v.length > MAX_OPERATIONS) throw tooManyOperations(v.length);
  return v as Operation[];
}

/** Applies `ops` to a copy of `doc`; the result may be an array if the root was replaced by one. */
export function applyJSONPatch(doc: JSONValue, ops: Operation[]): JSONValue {
  const state = { root: deepClone(doc), copied: 0 };
  for (const op of ops) {
    const kind = opKind(op);
    switch (kind) {
      case 'add': add(state, op); break;
      case 'remove': remove(state, op); break;
      case 'replace': replace(state, op); break;
      case 'move': move(state, op); break;
      case 'test': test(state, op); break;
      case 'copy': copy(state, op); break;
      default: throw new JSONPatchError(`Unexpected kind: ${kind}`);
    }
  }
  return state.root;
}

interface State {
  root: JSONValue;
  copied: number;
}

type Container = JSONObject | JSONValue[];

function opKind(op: Operation): string {
  const v = op && getOwn(op, 'op');
  return typeof v === 'string' ? v : 'unknown';
}

/** The string at `key`, or the error Operation.Path/From returns. */
function opString(op: Operation, key: 'path' | 'from'): { value: string } | { error: string } {
  const v = op && getOwn(op, key);
  if (v === undefined || v === null) {
    return { error: key === 'path' ? 'operation missing path field: missing value' : 'operation, missing from field: missing value' };
  }
  if (typeof v !== 'string') return { error: `json: cannot unmarshal ${goValueKind(v)} into Go value of type string` };
  return { value: v };
}

/** The operation's value; a missing `value` inserts null, as the library does. */
function opValue(op: Operation): JSONValue | undefined {
  return op ? getOwn(op, 'value') : undefined;
}

function decodeKey(k: string): string {
  return k.includes('~') ? k.replace(/~[01]/g, (m) => (m === '~1' ? '/' : '~')) : k;
}

/** findObject: the container holding the path's last segment, or undefined. */
function findObject(root: JSONValue, path: string): [Container, string] | undefined {
  const split = path.split('/');
  if (split.length < 2) return undefined;
  let doc = root;
  if (doc === null || typeof doc !== 'object') return undefined;
  for (let i = 1; i < split.length - 1; i++) {
    const next = containerGet(doc as Container, decodeKey(split[i]));
    if (typeof next !== 'object' || next === null) return undefined;
    doc = next;
  }
  return [doc as Container, decodeKey(split[split.length - 1])];
}

/** Value at key for traversal: undefined when absent or not addressable. */
function containerGet(c: Container, key: string): JSONValue | undefined {
  if (!Array.isArray(c)) return getOwn(c, key);
  const r = arrayIndex(c, key);
  return typeof r === 'string' ? undefined : c[r];
}

/** strconv.Atoi as a bigint, or its error text. */
function atoi(s: string): bigint | string {
  if (!/^[+-]?[0-9]+$/.test(s)) return `strconv.Atoi: parsing ${goQuote(s)}: invalid syntax`;
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return `strconv.Atoi: parsing ${goQuote(s)}: value out of range`;
  return n;
}

const invalidIndex = (idx: bigint): string => `Unable to access invalid index: ${idx}: invalid index referenced`;

/** partialArray.get's index resolution: a valid index, or the error text. */
function arrayIndex(a: JSONValue[], key: string): number | string {
  let idx = atoi(key);
  if (typeof idx === 'string') return idx;
  const len = BigInt(a.length);
  if (idx < 0n) {
    if (idx < -len) return invalidIndex(idx);
    idx += len;
  }
  if (idx >= len) return invalidIndex(idx);
  return Number(idx);
}

/** get: the value (null for a missing object key) or an error text for arrays. */
function get(c: Container, key: string): { value: JSONValue } | { error: string } {
  if (!Array.isArray(c)) return { value: getOwn(c, key) ?? null };
  const r = arrayIndex(c, key);
  return typeof r === 'string' ? { error: r } : { value: c[r] };
}

function addTo(c: Container, key: string, v: JSONValue): string | undefined {
  if (!Array.isArray(c)) {
    setKey(c, key, v);
    return undefined;
  }
  if (key === '-') {
    c.push(v);
    return undefined;
  }
  let idx = atoi(key);
  if (typeof idx === 'string') return `value was not a proper array index: '${key}': ${idx}`;
  const size = BigInt(c.length + 1);
  if (idx >= size) return invalidIndex(idx);
  if (idx < 0n) {
    if (idx < -size) return invalidIndex(idx);
    idx += size;
  }
  c.splice(Number(idx), 0, v);
  return undefined;
}

function removeFrom(c: Container, key: string): string | undefined {
  if (!Array.isArray(c)) {
    if (!hasOwn(c, key)) return `Unable to remove nonexistent key: ${key}: missing value`;
    delete c[key];
    return undefined;
  }
  let idx = atoi(key);
  if (typeof idx === 'string') return idx;
  const len = BigInt(c.length);
  if (idx >= len) return invalidIndex(idx);
  if (idx < 0n) {
    if (idx < -len) return invalidIndex(idx);
    idx += len;
  }
  c.splice(Number(idx), 1);
  return undefined;
}

function add(s: State, op: Operation): void {
  const path = opString(op, 'path');
  if ('error' in path) throw new JSONPatchError('add operation failed to decode path: missing value');
  const found = findObject(s.root, path.value);
  if (!found) throw new JSONPatchError(`add operation does not apply: doc is missing path: "${path.value}": missing value`);
  const err = addTo(found[0], found[1], opValue(op) ?? null);
  if (err) throw new JSONPatchError(`error in add for path: '${path.value}': ${err}`);
}

function remove(s: State, op: Operation): void {
  const path = opString(op, 'path');
  if ('error' in path) throw new JSONPatchError('remove operation failed to decode path: missing value');
  const found = findObject(s.root, path.value);
  if (!found) throw new JSONPatchError(`remove operation does not apply: doc is missing path: "${path.value}": missing value`);
  const err = removeFrom(found[0], found[1]);
  if (err) throw new JSONPatchError(`error in remove for path: '${path.value}': ${err}`);
}

function replace(s: State, op: Operation): void {
  const path = opString(op, 'path');
  if ('error' in path) throw new JSONPatchError(`replace operation failed to decode path: ${path.error}`);
  const p = path.value;
  if (p === '') {
    // Only an object or array replaces the document; anything else is silently ignored
    // (the library wraps a nil error).
    const v = opValue(op);
    if (typeof v === 'object' && v !== null) s.root = v;
    return;
  }
  const found = findObject(s.root, p);
  if (!found) throw new JSONPatchError(`replace operation does not apply: doc is missing path: ${p}: missing value`);
  const [c, key] = found;
  if ('error' in get(c, key)) throw new JSONPatchError(`replace operation does not apply: doc is missing key: ${p}: missing value`);
  const v = opValue(op) ?? null;
  if (Array.isArray(c)) c[arrayIndex(c, key) as number] = v;
  else setKey(c, key, v);
}

function move(s: State, op: Operation): void {
  const from = opString(op, 'from');
  if ('error' in from) throw new JSONPatchError(`move operation failed to decode from: ${from.error}`);
  const src = findObject(s.root, from.value);
  if (!src) throw new JSONPatchError(`move operation does not apply: doc is missing from path: ${from.value}: missing value`);
  const got = get(src[0], src[1]);
  if ('error' in got) throw new JSONPatchError(`error in move for path: '${src[1]}': ${got.error}`);
  const rmErr = removeFrom(src[0], src[1]);
  if (rmErr) throw new JSONPatchError(`error in move for path: '${src[1]}': ${rmErr}`);
  const path = opString(op, 'path');
  if ('error' in path) throw new JSONPatchError(`move operation failed to decode path: ${path.error}`);
  const dst = findObject(s.root, path.value);
  if (!dst) throw new JSONPatchError(`move operation does not apply: doc is missing destination path: ${path.value}: missing value`);
  const err = addTo(dst[0], dst[1], got.value);
  if (err) throw new JSONPatchError(`error in move for path: '${path.value}': ${err}`);
}

function test(s: State, op: Operation): void {
  const path = opString(op, 'path');
  if ('error' in path) throw new JSONPatchError(`test operation failed to decode path: ${path.error}`);
  const p = path.value;
  const expected = opValue(op);
  const failed = (): JSONPatchError => new JSONPatchError(`testing value ${p} failed: test failed`);
  if (p === '') {
    if (!deepEqual(s.root, expected ?? null)) throw failed();
    return;
  }
  const found = findObject(s.root, p);
  if (!found) throw new JSONPatchError(`test operation does not apply: is missing path: ${p}: missing value`);
  const got = get(found[0], found[1]);
  if ('error' in got) throw new JSONPatchError(`error in test for path: '${p}': ${got.error}`);
  // A missing key and a null value are the same to the library; both match `"value": null`.
  if (got.value === null) {
    if (expected === null || expected === undefined) return;
    throw failed();
  }
  if (expected === undefined || !deepEqual(got.value, expected)) throw failed();
}

function copy(s: State, op: Operation): void {
  const from = opString(op, 'from');
  if ('error' in from) throw new JSONPatchError(`copy operation failed to decode from: ${from.error}`);
  const src = findObject(s.root, from.value);
  if (!src) throw new JSONPatchError(`copy operation does not apply: doc is missing from path: ${from.value}: missing value`);
  const got = get(src[0], src[1]);
  if ('error' in got) throw new JSONPatchError(`error in copy for from: '${from.value}': ${got.error}`);
  const path = opString(op, 'path');
  if ('error' in path) throw new JSONPatchError('copy operation failed to decode path: missing value');
  const dst = findObject(s.root, path.value);
  if (!dst) throw new JSONPatchError(`copy operation does not apply: doc is missing destination path: ${path.value}: missing value`);
  s.copied += Buffer.byteLength(JSON.stringify(got.value));
  if (s.copied > MAX_COPY_BYTES) {
    throw new JSONPatchError(
      `Unable to complete the copy, the accumulated size increase of copy is ${s.copied}, exceeding the limit ${MAX_COPY_BYTES}`,
    );
  }
  const err = addTo(dst[0], dst[1], deepClone(got.value));
  if (err) throw new JSONPatchError(`error while adding value during copy: ${err}`);
}
