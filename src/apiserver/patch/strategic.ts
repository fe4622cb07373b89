// Strategic merge patch as the apiserver applies it: apimachinery's strategicpatch
// StrategicMergeMapPatch (1.32) with MergeParallelList and IgnoreUnmatchedNulls, i.e.
//
// * null deletes a field; objects merge recursively unless the field's strategy is `replace`;
// * lists whose field has strategy `merge` merge: lists of maps by the merge key, lists of
//   primitives as sets; other lists are replaced;
// * directives: `$patch: replace|delete` on a map, `$patch: replace|delete` as a list item,
//   `$setElementOrder/<list>`, `$retainKeys`, `$deleteFromPrimitiveList/<list>`;
// * resulting list order: patch items in patch (or $setElementOrder) order, interleaved with
//   server-only items in their live order, exactly as upstream's normalizeElementOrder.
//
// Upstream then decodes the map into the typed object, which drops directive keys left in
// values that were copied from the patch wholesale (a new field, an appended list item, a
// replaced list). `clean` does that here for schema-typed positions; free-form values
// (labels, RawExtension) are kept as sent.
//
// Error texts and codes are upstream's: four format errors are 400, lists of lists 422,
// everything else reaches the client unwrapped as a 500 (`Error from server: map: ... does
// not contain declared merge key: name`).

import { badRequest } from '../../api/errors.ts';
import { unprocessablePatch, unwrappedError } from './errors.ts';
import { goFormat, goQuote, goTypeName } from './gojson.ts';
import { FREE_FIELD, FREE_LIST, type PatchField, type PatchNode } from './meta.ts';
import { deepClone, getOwn, hasOwn, isObject, setKey, type JSONObject, type JSONValue } from './values.ts';

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ELEMENT_ORDER = '$setElementOrder';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList';

/** A new object: `original` with `patch` applied. `original` is not modified; `patch` is consumed. */
export function strategicMergePatch(original: JSONObject, patch: JSONObject, schema: PatchNode): JSONObject {
  return mergeMap(deepClone(original), patch, schema);
}

// ---- maps ---------------------------------------------------------------------------------

function mergeMap(original: JSONObject, patch: JSONObject, node: PatchNode): JSONObject {
  if (hasOwn(patch, DIRECTIVE)) return directiveInMergeMap(patch[DIRECTIVE], patch, node);

  applyRetainKeys(original, patch);
  mergeSetElementOrderLists(original, patch, node);

  for (const key of Object.keys(patch)) {
    const patchV = patch[key];
    let k = key;
    let isDeleteList = false;
    if (key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      const base = extractKey(key, DELETE_FROM_PRIMITIVE_LIST);
      isDeleteList = true;
      if (base) k = base;
    }
    if (patchV === null) {
      delete original[k];
      continue;
    }
    const cur = getOwn(original, k);
    if (cur === undefined || goTypeName(cur) !== goTypeName(patchV)) {
      if (!isDeleteList) takePatchValue(original, k, patchV, node.field(k) ?? FREE_FIELD);
      continue;
    }
    if (isObject(cur)) {
      const f = structField(node, k);
      const strategy = retainKeysStrategy(f.strategies);
      setKey(original, k, strategy === 'replace' ? cleanValue(patchV, f) : mergeMap(cur, patchV as JSONObject, f.node));
    } else if (Array.isArray(cur)) {
      const f = sliceField(node, k);
      setKey(original, k, mergeSliceHandler(cur, patchV as JSONValue[], f, isDeleteList));
    } else {
      setKey(original, k, patchV);
    }
  }
  return original;
}

/** A value the original lacks (or has with another type) is taken from the patch. */
function takePatchValue(original: JSONObject, k: string, patchV: JSONValue, f: PatchField): void {
  discardNullValues(patchV);
  const [v, keep] = removeDirectives(patchV);
  if (keep) setKey(original, k, cleanValue(v, f));
  else delete original[k];
}

function directiveInMergeMap(directive: JSONValue, patch: JSONObject, node: PatchNode): JSONObject {
  if (directive === 'replace') {
    delete patch[DIRECTIVE];
    return clean(patch, node) as JSONObject;
  }
  if (directive === 'delete') return {};
  throw badPatchType(directive, patch);
}

/** `$retainKeys`: keys of the original not listed are cleared; every patch key must be listed. */
function applyRetainKeys(original: JSONObject, patch: JSONObject): void {
  if (!hasOwn(patch, RETAIN_KEYS)) return;
  const list = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(list)) throw badRequest('invalid patch format of retainKeys');
  const retain = new Set<JSONValue>(list);
  for (const k of Object.keys(patch)) {
    if (patch[k] === null || k.startsWith(DELETE_FROM_PRIMITIVE_LIST) || k.startsWith(SET_ELEMENT_ORDER)) continue;
    if (!retain.has(k)) throw badRequest('invalid patch format of retainKeys');
  }
  for (const k of Object.keys(original)) if (!retain.has(k)) delete original[k];
}

/**
 * mergePatchIntoOriginal: each `$setElementOrder/<list>` is merged together with its list
 * (if the patch has one) and the result ordered by it; both keys then leave the patch.
 */
function mergeSetElementOrderLists(original: JSONObject, patch: JSONObject, node: PatchNode): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    if (!Array.isArray(order)) throw badArgType('[]interface {}', order);
    const base = extractKey(key, SET_ELEMENT_ORDER);
    const inOriginal = hasOwn(original, base);
    const inPatch = hasOwn(patch, base);
    let originalList: JSONValue[] | undefined;
    let patchList: JSONValue[] | undefined;
    if (inOriginal) {
      const v = original[base];
      if (!Array.isArray(v)) throw badArgType('[]interface {}', v);
      originalList = v;
    }
    if (inPatch) {
      const v = patch[base];
      if (!Array.isArray(v)) throw badArgType('[]interface {}', v);
      patchList = v;
    }
    const f = sliceFieldForOrder(node, base);
    retainKeysStrategy(f.strategies);
    validatePatchWithSetOrderList(patchList ?? [], order, f.mergeKey);

    let merged: JSONValue[];
    if (originalList && !patchList) merged = originalList;
    else if (!originalList && patchList) merged = cleanValue(removeDirectives(patchList)[0], f) as JSONValue[];
    else if (originalList && patchList) merged = mergeSliceHandler(originalList, patchList, f, false);
    else continue;

    const [patchItems, serverOnly] = f.mergeKey
      ? partitionMapsByPresentInList(merged, order, f.mergeKey)
      : partitionPrimitivesByPresentInList(merged, order);
    const kind = sliceElementType([originalList ?? [], patchList ?? []]);
    setKey(original, base, normalizeElementOrder(patchItems, serverOnly, order, originalList ?? [], f.mergeKey, kind));
    delete patch[base];
  }
}

function validatePatchWithSetOrderList(patchList: JSONValue[], order: JSONValue[], mergeKey: string): void {
  if (order.length === 0 || patchList.length === 0) return;
  const nonDelete = mergeKey ? extractToDeleteItems(patchList)[0] : patchList;
  let p = 0;
  let o = 0;
  while (p < nonDelete.length && o < order.length) {
    if (isObject(nonDelete[p]) && hasOwn(nonDelete[p] as JSONObject, DIRECTIVE)) {
      p++;
      continue;
    }
    if (mergeKeyValueEqual(nonDelete[p], order[o], mergeKey)) p++;
    o++;
  }
  if (p < nonDelete.length && o >= order.length) {
    throw unwrappedError(
      `The order in patch list:\n${goFormat(patchList)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${goFormat(order)}\n`,
    );
  }
}

function mergeKeyValueEqual(left: JSONValue, right: JSONValue, mergeKey: string): boolean {
  if (!mergeKey) return left === right;
  if (!isObject(left)) throw badArgType('map[string]interface {}', left);
  if (!isObject(right)) throw badArgType('map[string]interface {}', right);
  if (!hasOwn(left, mergeKey)) throw noMergeKey(left, mergeKey);
  if (!hasOwn(right, mergeKey)) throw noMergeKey(right, mergeKey);
  return left[mergeKey] === right[mergeKey];
}

// ---- lists --------------------------------------------------------------------------------

function mergeSliceHandler(original: JSONValue[], patch: JSONValue[], f: PatchField, isDeleteList: boolean): JSONValue[] {
  // Delete lists are handled the same way whatever the field's strategy.
  if (retainKeysStrategy(f.strategies) === 'merge' || isDeleteList) {
    return mergeSlice(original, patch, f.node, f.mergeKey, isDeleteList);
  }
  return cleanValue(patch, f) as JSONValue[];
}

function mergeSlice(original: JSONValue[], patch: JSONValue[], node: PatchNode, mergeKey: string, isDeleteList: boolean): JSONValue[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = sliceElementType([original, patch]);
  if (kind !== MAP) {
    if (isDeleteList) return deleteFromSlice(original, patch);
    const merged = deduplicateScalars([...original, ...patch]);
    const [patchItems, serverOnly] = mergeKey
      ? partitionMapsByPresentInList(merged, patch, mergeKey)
      : partitionPrimitivesByPresentInList(merged, patch);
    return normalizeElementOrder(patchItems, serverOnly, patch, original, mergeKey, kind);
  }
  if (!mergeKey) throw unwrappedError(`cannot merge lists without merge key for ${node.kind === 'map' ? 'map' : 'struct'}`);

  // Upstream works on Go slices sharing the live list's backing array: `$patch: delete`
  // shifts the remaining items left in it, and items appended afterwards land in the freed
  // slots. The `$setElementOrder` step orders by that array afterwards, so `original` is
  // updated here the same way (its length stays; only its contents change).
  let n = original.length;
  const plain: JSONObject[] = [];
  let replace = false;
  for (const item of patch as JSONObject[]) {
    if (!hasOwn(item, DIRECTIVE)) {
      plain.push(item);
      continue;
    }
    const directive = item[DIRECTIVE];
    if (directive === 'delete') {
      if (!hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
      for (;;) {
        const i = findMapInSlice(original, n, mergeKey, item[mergeKey]);
        if (i < 0) break;
        original.copyWithin(i, i + 1, n);
        n--;
      }
    } else if (directive === 'replace') {
      replace = true; // the other items become the list; later deletions still apply
    } else if (directive === 'merge') {
      throw unwrappedError('merging lists cannot yet be specified in the patch');
    } else {
      throw badPatchType(directive, item);
    }
  }

  const base = replace ? plain.map((p) => clean(p, node)) : original.slice(0, n);
  const items = replace ? [] : plain;
  const merged = base.slice();
  for (const item of items) {
    if (!hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
    const i = findMapInSlice(merged, merged.length, mergeKey, item[mergeKey]);
    if (i >= 0) {
      merged[i] = mergeMap(merged[i] as JSONObject, item, node);
    } else {
      const added = clean(item, node);
      if (merged.length < original.length) original[merged.length] = added;
      merged.push(added);
    }
  }
  const [patchItems, serverOnly] = partitionMapsByPresentInList(merged, items, mergeKey);
  return normalizeElementOrder(patchItems, serverOnly, items, base, mergeKey, kind);
}

/** The index of the first of `list[0:n]` whose `key` equals `value`; every element must be a map. */
function findMapInSlice(list: JSONValue[], n: number, key: string, value: JSONValue): number {
  for (let i = 0; i < n; i++) {
    const m = list[i];
    if (!isObject(m)) throw unwrappedError(`value for key ${i} is not a map`);
    if (hasOwn(m, key) && m[key] === value) return i;
  }
  return -1;
}

function deleteFromSlice(current: JSONValue[], toDelete: JSONValue[]): JSONValue[] {
  const drop = new Set(toDelete);
  return current.filter((v) => !drop.has(v));
}

/** Upstream's in-place deduplication; it reorders, and the order is normalised afterwards. */
function deduplicateScalars(s: JSONValue[]): JSONValue[] {
  let length = s.length - 1;
  for (let i = 0; i < length; i++) {
    for (let j = i + 1; j <= length; j++) {
      if (s[i] === s[j]) {
        s[j] = s[length];
        s.length = length;
        length--;
        j--;
      }
    }
  }
  return s;
}

const MAP = 'map[string]interface {}';

/** The Go type shared by every element; lists of lists and mixed lists are errors. */
function sliceElementType(lists: JSONValue[][]): string {
  let prev: string | undefined;
  for (const list of lists) {
    for (const v of list) {
      const t = goTypeName(v);
      if (prev === undefined) {
        prev = t;
        if (Array.isArray(v)) throw unprocessablePatch('lists of lists are not supported');
      } else if (prev !== t) {
        throw unwrappedError(`list element types are not identical: ${goFormat(lists)}`);
      }
    }
  }
  if (prev === undefined) throw unwrappedError('no elements in any of the given slices');
  return prev;
}

function partitionPrimitivesByPresentInList(list: JSONValue[], by: JSONValue[]): [JSONValue[], JSONValue[]] {
  const inPatch = new Set(by);
  const patch: JSONValue[] = [];
  const serverOnly: JSONValue[] = [];
  for (const v of list) (inPatch.has(v) ? patch : serverOnly).push(v);
  return [patch, serverOnly];
}

function partitionMapsByPresentInList(list: JSONValue[], by: JSONValue[], mergeKey: string): [JSONValue[], JSONValue[]] {
  const patch: JSONValue[] = [];
  const serverOnly: JSONValue[] = [];
  for (const v of list) {
    if (!isObject(v)) throw badArgType('map[string]interface {}', v);
    if (!hasOwn(v, mergeKey)) throw noMergeKey(v, mergeKey);
    (findMapInSlice(by, by.length, mergeKey, v[mergeKey]) >= 0 ? patch : serverOnly).push(v);
  }
  return [patch, serverOnly];
}

/**
 * Sorts the patch items by `patchOrder` and the server-only items by `serverOrder`, then
 * interleaves them: a server-only item goes before a patch item only when both appear in
 * the live list in that order, so items new to the list come first.
 */
function normalizeElementOrder(
  patch: JSONValue[],
  serverOnly: JSONValue[],
  patchOrder: JSONValue[],
  serverOrder: JSONValue[],
  mergeKey: string,
  kind: string,
): JSONValue[] {
  const right = normalizeSliceOrder(patch, patchOrder, mergeKey, kind);
  const left = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind);
  const size = left.length + right.length;
  const out: JSONValue[] = [];
  let i = 0;
  let j = 0;
  for (let k = 0; k < size; k++) {
    if (i >= left.length && j < right.length) out.push(right[j++]);
    else if (j >= right.length && i < left.length) out.push(left[i++]);
    else {
      const li = indexOf(serverOrder, left[i], mergeKey, kind);
      const ri = indexOf(serverOrder, right[j], mergeKey, kind);
      if (li >= 0 && ri >= 0 && li < ri) out.push(left[i++]);
      else out.push(right[j++]);
    }
  }
  return out;
}

function normalizeSliceOrder(toSort: JSONValue[], order: JSONValue[], mergeKey: string, kind: string): JSONValue[] {
  let toDelete: JSONValue[] = [];
  if (kind === MAP) {
    validateMergeKeyInLists(mergeKey, [toSort, order]);
    [toSort, toDelete] = extractToDeleteItems(toSort);
  }
  const keyed = toSort.map((v) => ({ v, at: indexOf(order, v, mergeKey, kind) }));
  keyed.sort((a, b) => (a.at >= 0 && b.at >= 0 ? a.at - b.at : 0));
  return [...keyed.map((e) => e.v), ...toDelete];
}

function indexOf(list: JSONValue[], item: JSONValue, mergeKey: string, kind: string): number {
  if (kind !== MAP) return list.indexOf(item);
  const key = (v: JSONValue): JSONValue => (isObject(v) ? (getOwn(v, mergeKey) ?? null) : null);
  const want = key(item);
  for (let i = 0; i < list.length; i++) if (key(list[i]) === want) return i;
  return -1;
}

function validateMergeKeyInLists(mergeKey: string, lists: JSONValue[][]): void {
  for (const list of lists) {
    for (const item of list) {
      if (!isObject(item)) throw badArgType('map[string]interface {}', item);
      if (!hasOwn(item, mergeKey)) throw noMergeKey(item, mergeKey);
    }
  }
}

/** Splits items into those kept and those carrying `$patch: delete`. */
function extractToDeleteItems(list: JSONValue[]): [JSONValue[], JSONValue[]] {
  const keep: JSONValue[] = [];
  const toDelete: JSONValue[] = [];
  for (const v of list) {
    if (!isObject(v)) throw badArgType('map[string]interface {}', v);
    (hasOwn(v, DIRECTIVE) && v[DIRECTIVE] === 'delete' ? toDelete : keep).push(v);
  }
  return [keep, toDelete];
}

// ---- schema lookups -----------------------------------------------------------------------

// Keys the schema does not know, or knows with another shape, cannot occur in a typed
// original upstream; here they merge as free-form values instead of failing.

function structField(node: PatchNode, key: string): PatchField {
  const f = node.field(key);
  return f && !f.list ? f : FREE_FIELD;
}

function sliceField(node: PatchNode, key: string): PatchField {
  const f = node.field(key);
  if (f?.list) return f;
  // A field typed as one struct is taken as a list of it, as upstream's lookup does for
  // pointer fields (and its OpenAPI lookup for every $ref).
  if (f?.node.kind === 'struct') return { ...f, list: true };
  return FREE_LIST;
}

/** LookupPatchMetadataForSlice for `$setElementOrder/<key>`, which upstream always resolves. */
function sliceFieldForOrder(node: PatchNode, key: string): PatchField {
  if (node.kind !== 'struct') return sliceField(node, key);
  const f = node.field(key);
  if (!f) throw unwrappedError(`unable to find api field in struct ${node.name} for the json field ${goQuote(key)}`);
  if (!f.list && f.node.kind !== 'struct') throw unwrappedError('expected slice or array type, but got: struct');
  return sliceField(node, key);
}

/** The strategy other than retainKeys (`merge`, `replace` or ''). */
function retainKeysStrategy(strategies: readonly string[]): string {
  if (strategies.length === 0) return '';
  if (strategies.length === 1) return strategies[0] === 'retainKeys' ? '' : strategies[0];
  if (strategies.length === 2) {
    if (strategies[0] === 'retainKeys') return strategies[1];
    if (strategies[1] === 'retainKeys') return strategies[0];
  }
  throw unwrappedError(`unexpected patch strategy: [${strategies.join(' ')}]`);
}

function extractKey(s: string, prefix: string): string {
  const i = s.indexOf('/');
  if (i < 0 || s.slice(0, i) !== prefix) {
    throw badRequest(
      prefix === DELETE_FROM_PRIMITIVE_LIST ? 'invalid patch format of primitive list' : 'invalid patch format of setElementOrder list',
    );
  }
  return s.slice(i + 1);
}

// ---- directives in copied values ------------------------------------------------------------

/** Drops maps carrying `$patch` (and their keys or list slots); keep=false if `v` itself is one. */
function removeDirectives(v: JSONValue): [JSONValue, boolean] {
  if (Array.isArray(v)) {
    const out: JSONValue[] = [];
    for (const e of v) {
      const [nv, keep] = removeDirectives(e);
      if (keep) out.push(nv);
    }
    return [out, true];
  }
  if (isObject(v)) {
    if (hasOwn(v, DIRECTIVE)) return [null, false];
    for (const k of Object.keys(v)) {
      const [nv, keep] = removeDirectives(v[k]);
      if (keep) setKey(v, k, nv);
      else delete v[k];
    }
  }
  return [v, true];
}

function discardNullValues(v: JSONValue): void {
  if (Array.isArray(v)) {
    for (const e of v) discardNullValues(e);
  } else if (isObject(v)) {
    for (const k of Object.keys(v)) {
      if (v[k] === null) delete v[k];
      else discardNullValues(v[k]);
    }
  }
}

function isDirectiveKey(k: string): boolean {
  return (
    k === DIRECTIVE ||
    k === RETAIN_KEYS ||
    k.startsWith(`${SET_ELEMENT_ORDER}/`) ||
    k.startsWith(`${DELETE_FROM_PRIMITIVE_LIST}/`)
  );
}

function cleanValue(v: JSONValue, f: PatchField): JSONValue {
  if (Array.isArray(v)) {
    const items = f.list ? f.node : FREE_FIELD.node;
    for (const e of v) clean(e, items);
    return v;
  }
  return f.list ? v : clean(v, f.node);
}

/**
 * What the typed decode leaves of a value copied from the patch: in struct positions,
 * directive keys and null fields go. Modifies `v` in place.
 */
function clean(v: JSONValue, node: PatchNode): JSONValue {
  if (!isObject(v) || node.kind === 'free') return v;
  for (const k of Object.keys(v)) {
    const x = v[k];
    if (node.kind === 'struct' && (x === null || isDirectiveKey(k))) {
      delete v[k];
      continue;
    }
    const f = node.field(k);
    if (f && x !== null) cleanValue(x, f);
  }
  return v;
}

// ---- errors -------------------------------------------------------------------------------

function noMergeKey(m: JSONObject, key: string): Error {
  return unwrappedError(`map: ${goFormat(m)} does not contain declared merge key: ${key}`);
}

function badArgType(expected: string, actual: JSONValue): Error {
  return unwrappedError(`expected a ${expected}, but received a ${goTypeName(actual)}`);
}

function badPatchType(directive: JSONValue, m: JSONObject): Error {
  const t = typeof directive === 'string' ? directive : isObject(directive) || Array.isArray(directive)
    ? goFormat(directive)
    : directive === null ? '%!s(<nil>)' : `%!s(${goTypeName(directive)}=${goFormat(directive)})`;
  return unwrappedError(`unknown patch type: ${t} in map: ${goFormat(m)}`);
}
