// The Status errors kube-apiserver's patch handler answers with, where errors.ts has no
// constructor of that exact shape. Codes, reasons and texts follow
// apiserver/pkg/endpoints/handlers/patch.go (1.32).

import { StatusError, type Status } from '../../api/errors.ts';
import { goQuote } from './gojson.ts';

function status(code: number, message: string, reason?: string, details?: Status['details']): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, code };
  if (reason) s.reason = reason;
  if (details) s.details = details;
  return s;
}

/**
 * 422 for a patch that cannot be applied (a failed JSON-patch `test`, a missing path, a
 * list of lists in an SMP). Upstream uses NewGenericServerResponse here, which drops the
 * underlying text: the client only sees the generic message. `cause` keeps it for logs.
 */
export function unprocessablePatch(cause: string): StatusError {
  const err = new StatusError(
    status(422, 'the server rejected our request due to an error in our request', 'Invalid', {}),
  );
  err.cause = cause;
  return err;
}

/**
 * An error upstream returns without wrapping it in a Status (most strategic-merge failures,
 * such as a list item without its merge key): 500 with reason Unknown (omitted) and the raw
 * text, which kubectl prints as `Error from server: <text>`.
 */
export function unwrappedError(message: string): StatusError {
  return new StatusError(status(500, message));
}

/** 413 for a JSON patch of more than 10000 operations. */
export function tooManyOperations(n: number): StatusError {
  return new StatusError(
    status(
      413,
      `Request entity too large: The allowed maximum operations in a JSON patch is 10000, got ${n}`,
      'RequestEntityTooLarge',
    ),
  );
}

/** Media types a PATCH to a kind without a built-in schema (a custom resource) accepts. */
export const CUSTOM_RESOURCE_PATCH_TYPES = [
  'application/json-patch+json',
  'application/merge-patch+json',
  'application/apply-patch+yaml',
];

/** 415 as negotiation.NewUnsupportedMediaTypeError words it for the route's accepted types. */
export function unsupportedPatchType(accepted: string[]): StatusError {
  return new StatusError(
    status(
      415,
      `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
      'UnsupportedMediaType',
    ),
  );
}

/**
 * 422 when a JSON or merge patch turns the object into something that is not a JSON object:
 * upstream fails to decode the result and answers NewInvalid(GroupKind{}, "", patch: Invalid value).
 */
export function patchResultNotObject(result: unknown): StatusError {
  const json = JSON.stringify(result);
  const kind = Array.isArray(result) ? 'array' : result === null ? 'null' : typeof result === 'boolean' ? 'bool' : typeof result;
  const detail =
    `couldn't get version/kind; json parse error: json: cannot unmarshal ${kind} into Go value of type ` +
    'struct { APIVersion string "json:\\"apiVersion,omitempty\\""; Kind string "json:\\"kind,omitempty\\"" }';
  const body = `Invalid value: ${goQuote(json)}: ${detail}`;
  return new StatusError(
    status(422, ` "" is invalid: patch: ${body}`, 'Invalid', {
      causes: [{ reason: 'FieldValueInvalid', message: body, field: 'patch' }],
    }),
  );
}
