// The PATCH verb's three patch formats, applied as kube-apiserver 1.32 applies them
// (apiserver/pkg/endpoints/handlers/patch.go): JSON patch and merge patch with
// evanphx/json-patch v4 semantics, strategic merge patch with apimachinery's strategicpatch
// driven by the OpenAPI definitions' patch strategies and merge keys.
//
// Failures are StatusErrors with upstream's codes and texts, which kubectl prints as they are:
//   malformed body                         400 BadRequest (Go's decoder texts)
//   JSON patch that does not apply          422 Invalid, generic text (upstream drops the cause)
//   > 10000 JSON-patch operations           413 RequestEntityTooLarge
//   strategic patch on a kind without       415 UnsupportedMediaType, as the route of a custom
//     a built-in schema                         resource answers
//   strategic patch format errors           400; lists of lists 422; other strategic failures
//                                           500 with the raw text (upstream does not wrap them)

import { badRequest } from '../api/errors.ts';
import { definitionNameFor } from '../api/generated/kinds.ts';
import { definitions } from '../api/schema.ts';
import { CUSTOM_RESOURCE_PATCH_TYPES, patchResultNotObject, unprocessablePatch, unsupportedPatchType } from './patch/errors.ts';
import { GoSyntaxError, goSyntaxError, goValueKind, parseGoJSON } from './patch/gojson.ts';
import { applyJSONPatch, decodeJSONPatch, JSONPatchError } from './patch/jsonpatch.ts';
import { applyMergePatch, decodeMergePatch } from './patch/mergepatch.ts';
import { PatchSchema, type PatchNode } from './patch/meta.ts';
import { strategicMergePatch } from './patch/strategic.ts';
import { isObject, type JSONObject, type JSONValue } from './patch/values.ts';

export type PatchType = 'json' | 'merge' | 'strategic';

const CONTENT_TYPES: Record<string, PatchType> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
};

/** The patch type of a Content-Type header (parameters such as `; charset=utf-8` ignored). */
export function patchTypeFromContentType(ct: string): PatchType | undefined {
  const i = ct.indexOf(';');
  const media = (i >= 0 ? ct.slice(0, i) : ct).trim().toLowerCase();
  return Object.hasOwn(CONTENT_TYPES, media) ? CONTENT_TYPES[media] : undefined;
}

export interface PatchOptions {
  group: string;
  version: string;
  kind: string;
}

/**
 * `original` patched by `patchBody`, as a new object; `original` is not modified.
 * `opts` names the kind the patch was sent for (its schema drives a strategic merge patch).
 * Throws a StatusError (see the table above). The result is typed like the original for the
 * caller's convenience only: a patch can remove or retype any field, so callers validate it.
 */
export function applyPatch<T extends Record<string, any> = Record<string, any>>(
  type: PatchType,
  original: T,
  patchBody: string,
  opts: PatchOptions,
): T {
  return patched(type, original as JSONObject, patchBody, opts) as T;
}

function patched(type: PatchType, original: JSONObject, patchBody: string, opts: PatchOptions): JSONObject {
  try {
    switch (type) {
      case 'json':
        return applyJSON(original, patchBody);
      case 'merge':
        return applyMergePatch(original, decodeMergePatch(patchBody));
      case 'strategic': {
        const schema = schemaFor(opts);
        if (!schema) throw unsupportedPatchType(CUSTOM_RESOURCE_PATCH_TYPES);
        return strategicMergePatch(original, decodeStrategicPatch(patchBody), schema);
      }
      default:
        throw new Error(`unknown patch type ${String(type)}`);
    }
  } catch (e) {
    // Nesting deep enough to exhaust the stack. Go's decoder refuses more than 10000 levels
    // with the scanner's text; shallower bodies that still overflow get a plain 400.
    if (e instanceof RangeError && /call stack/i.test(e.message)) {
      throw badRequest(goSyntaxError(patchBody) ?? 'the patch is nested too deeply to be applied');
    }
    throw e;
  }
}

function applyJSON(original: JSONObject, body: string): JSONObject {
  const ops = decodeJSONPatch(body);
  let result: JSONValue;
  try {
    result = applyJSONPatch(original, ops);
  } catch (e) {
    if (e instanceof JSONPatchError) throw unprocessablePatch(e.message);
    throw e;
  }
  if (!isObject(result)) throw patchResultNotObject(result);
  return result;
}

/** kjson.Unmarshal into map[string]interface{}: `null` is an empty patch. */
function decodeStrategicPatch(body: string): JSONObject {
  let v: JSONValue;
  try {
    v = parseGoJSON(body);
  } catch (e) {
    if (e instanceof GoSyntaxError) throw badRequest(e.message);
    throw e;
  }
  if (v === null) return {};
  if (!isObject(v)) throw badRequest(`json: cannot unmarshal ${goValueKind(v)} into Go value of type map[string]interface {}`);
  return v;
}

// Compiled lazily on the first strategic patch, then shared: derived from the read-only
// generated definitions, so there is nothing to configure or reset.
let patchSchema: PatchSchema | undefined;

function schemaFor(gvk: PatchOptions): PatchNode | undefined {
  const name = definitionNameFor(gvk);
  if (!name) return undefined;
  patchSchema ??= new PatchSchema(definitions());
  return patchSchema.definition(name);
}
