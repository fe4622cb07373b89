// JSON merge patch (RFC 7386) with the semantics of evanphx/json-patch.v4 MergePatch:
// null deletes, objects merge recursively, anything else replaces. Nulls are pruned from
// values that land where nothing (or a non-object) was, including inside arrays' objects;
// an array replacing an object is taken as it is.

import { badRequest } from '../../api/errors.ts';
import { GoSyntaxError, goValueKind, parseGoJSON } from './gojson.ts';
import { deepClone, getOwn, isObject, setKey, type JSONObject, type JSONValue } from './values.ts';

/**
 * Decodes a merge-patch body as the handler does under the default field validation (a
 * strict decode into map[string]any first, then the library's own checks).
 */
export function decodeMergePatch(body: string): JSONObject {
  let v: JSONValue;
  try {
    v = parseGoJSON(body);
  } catch (e) {
    if (e instanceof GoSyntaxError) throw badRequest(`error decoding patch: ${e.message}`);
    throw e;
  }
  if (v === null) throw badRequest('Invalid JSON Patch');
  if (!isObject(v)) {
    throw badRequest(`error decoding patch: json: cannot unmarshal ${goValueKind(v)} into Go value of type map[string]interface {}`);
  }
  return v;
}

/** A new object: `doc` with `patch` merged in. `doc` is not modified; `patch` is consumed. */
export function applyMergePatch(doc: JSONObject, patch: JSONObject): JSONObject {
  const out = deepClone(doc);
  mergeDocs(out, patch);
  return out;
}

function mergeDocs(doc: JSONObject, patch: JSONObject): void {
  for (const k of Object.keys(patch)) {
    const v = patch[k];
    if (v === null) {
      delete doc[k];
      continue;
    }
    const cur = getOwn(doc, k);
    if (cur === undefined || cur === null) {
      pruneNulls(v);
      setKey(doc, k, v);
    } else {
      setKey(doc, k, merge(cur, v));
    }
  }
}

function merge(cur: JSONValue, patch: JSONValue): JSONValue {
  if (!isObject(cur)) {
    pruneNulls(patch);
    return patch;
  }
  if (!isObject(patch)) return patch;
  mergeDocs(cur, patch);
  return cur;
}

function pruneNulls(v: JSONValue): void {
  if (Array.isArray(v)) {
    for (const e of v) if (e !== null) pruneNulls(e);
  } else if (isObject(v)) {
    for (const k of Object.keys(v)) {
      if (v[k] === null) delete v[k];
      else pruneNulls(v[k]);
    }
  }
}
