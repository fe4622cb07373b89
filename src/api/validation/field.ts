// Field-error builders and Go value rendering for the per-kind validation.
//
// Upstream (Kubernetes 1.32) renders a field.Error's bad value with Go's fmt: %q for
// strings, %v for ints and bools, and %#v for everything else (maps, slices, structs,
// named non-Stringer types). kubectl prints those strings verbatim, so the Go spellings
// below (`map[string]string{"app":"web"}`, `v1.LabelSelector{...}`) are API.
// A value that errors.ts's JSON formatting cannot reproduce goes at the start of
// `detail` with no `value`, which yields the same `Invalid value: <v>: <detail>` text.

import type { FieldError } from '../errors.ts';
import { goQuote } from '../validation.ts';

export type Obj = Record<string, any>;

// --- reading loosely typed JSON ---

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function obj(v: unknown): Obj {
  return isObj(v) ? v : {};
}

export function arr(v: unknown): any[] {
  return Array.isArray(v) ? v : [];
}

/** A string field; non-strings read as "" (the Go zero value). */
export function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** An integer field, or undefined when absent (a Go nil pointer / zero value). */
export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function strMap(v: unknown): Record<string, string> | undefined {
  if (!isObj(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) out[k] = typeof val === 'string' ? val : String(val ?? '');
  return out;
}

/** Upstream defaults these fields; "" or absent here means "the default will apply". */
export function defaulted(v: unknown): boolean {
  return v === undefined || v === null || v === '';
}

export function byteLen(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0);
}

/**
 * apiequality.Semantic.DeepEqual for JSON values: an absent field, null and an empty
 * list or map are equal (its forked reflect treats nil and empty alike).
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (isEmpty(a) && isEmpty(b)) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isObj(a) && isObj(b)) {
    const ka = Object.keys(a).filter((k) => !isEmpty(a[k]));
    const kb = Object.keys(b).filter((k) => !isEmpty(b[k]));
    if (ka.length !== kb.length) return false;
    return ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The change between two specs in the layout of go-cmp's Diff, which upstream appends
 * to some Forbidden messages ("spec is immutable after creation ..."). Only the
 * outline (which top-level fields changed) is reproduced, not go-cmp's rendering of
 * nested values.
 */
export function diffOutline(type: string, oldSpec: Obj, newSpec: Obj): string {
  const keys = [...new Set([...Object.keys(oldSpec), ...Object.keys(newSpec)])];
  const lines = [`  ${type}{`];
  let same = 0;
  const flush = () => {
    if (same) lines.push(`  \t... // ${same} identical field${same === 1 ? '' : 's'}`);
    same = 0;
  };
  for (const k of keys) {
    if (deepEqual(oldSpec[k], newSpec[k])) {
      same++;
      continue;
    }
    flush();
    const field = k.charAt(0).toUpperCase() + k.slice(1);
    if (oldSpec[k] !== undefined) lines.push(`- \t${field}: ${JSON.stringify(oldSpec[k])},`);
    if (newSpec[k] !== undefined) lines.push(`+ \t${field}: ${JSON.stringify(newSpec[k])},`);
  }
  flush();
  lines.push('  }');
  return lines.join('\n') + '\n';
}

// --- builders (field.Required, field.Invalid, ...) ---

export function required(field: string, detail = ''): FieldError {
  return { type: 'FieldValueRequired', field, detail };
}

export function forbidden(field: string, detail: string): FieldError {
  return { type: 'FieldValueForbidden', field, detail };
}

/** field.Invalid with a string, number or boolean value (printed as Go's %q / %v). */
export function invalid(field: string, value: string | number | boolean | null, detail: string): FieldError {
  if (typeof value === 'string') return { type: 'FieldValueInvalid', field, detail: detail ? `${goQuote(value)}: ${detail}` : goQuote(value) };
  return { type: 'FieldValueInvalid', field, value: value ?? null, detail };
}

/** field.Invalid whose value upstream prints with %#v; `go` is that rendering. */
export function invalidGo(field: string, go: string, detail: string): FieldError {
  return { type: 'FieldValueInvalid', field, detail: detail ? `${go}: ${detail}` : go };
}

function supportedList(supported: readonly string[]): string {
  return supported.length ? `supported values: ${supported.map((s) => goQuote(s)).join(', ')}` : '';
}

/** field.NotSupported for a string (or named string type) value. */
export function notSupported(field: string, value: string | number | boolean | null, supported: readonly string[]): FieldError {
  const shown = typeof value === 'string' ? goQuote(value) : String(value);
  const list = supportedList(supported);
  return { type: 'FieldValueNotSupported', field, detail: list ? `${shown}: ${list}` : shown };
}

export function notSupportedGo(field: string, go: string, supported: readonly string[]): FieldError {
  const list = supportedList(supported);
  return { type: 'FieldValueNotSupported', field, detail: list ? `${go}: ${list}` : go };
}

export function duplicate(field: string, value: string | number): FieldError {
  return { type: 'FieldValueDuplicate', field, detail: typeof value === 'string' ? goQuote(value) : String(value) };
}

export function duplicateGo(field: string, go: string, detail = ''): FieldError {
  return { type: 'FieldValueDuplicate', field, detail: detail ? `${go}: ${detail}` : go };
}

export function notFound(field: string, value: string, detail = ''): FieldError {
  return { type: 'FieldValueNotFound', field, detail: detail ? `${goQuote(value)}: ${detail}` : goQuote(value) };
}

/** field.TooLong (1.32 wording); the value is never printed. */
export function tooLong(field: string, max: number): FieldError {
  return { type: 'FieldValueTooLong', field, detail: `may not be more than ${max} ${max === 1 ? 'byte' : 'bytes'}` };
}

/** field.TooMany: the actual count is printed before the limit. */
export function tooMany(field: string, actual: number, max: number): FieldError {
  return { type: 'FieldValueTooMany', field, detail: `${actual}: must have at most ${max} ${max === 1 ? 'item' : 'items'}` };
}

export function internal(field: string, detail: string): FieldError {
  return { type: 'InternalError', field, detail };
}

// --- common messages (apimachinery validation) ---

export const IS_NEGATIVE = 'must be greater than or equal to 0';
export const IS_NOT_POSITIVE = 'must be greater than zero';
export const FIELD_IMMUTABLE = 'field is immutable';

export function inclusiveRangeError(lo: number, hi: number): string {
  return `must be between ${lo} and ${hi}, inclusive`;
}

/** ValidateNonnegativeField. */
export function nonNegative(field: string, v: unknown): FieldError[] {
  const n = num(v);
  return n !== undefined && n < 0 ? [invalid(field, n, IS_NEGATIVE)] : [];
}

// --- Go %#v renderings ---

/** `map[string]string{"a":"b", "c":"d"}`; keys sorted, as fmt prints maps. */
export function goMap(m: unknown, type = 'map[string]string'): string {
  if (!isObj(m)) return `${type}(nil)`;
  const keys = Object.keys(m).sort();
  return `${type}{${keys.map((k) => `${goQuote(k)}:${goQuote(String(m[k] ?? ''))}`).join(', ')}}`;
}

/** `[]string{"a", "b"}`, or `[]string(nil)` for an absent list. */
export function goStrings(v: unknown, type = '[]string'): string {
  if (!Array.isArray(v)) return `${type}(nil)`;
  return `${type}{${v.map((s) => goQuote(String(s))).join(', ')}}`;
}

export function goInts(v: unknown, type = '[]int32'): string {
  if (!Array.isArray(v)) return `${type}(nil)`;
  return `${type}{${v.map((n) => String(n)).join(', ')}}`;
}

/** metav1.LabelSelector (a dereferenced *LabelSelector prints as its struct). */
export function goLabelSelector(sel: unknown): string {
  const s = obj(sel);
  const exprs = Array.isArray(s.matchExpressions)
    ? `[]v1.LabelSelectorRequirement{${s.matchExpressions
        .map(
          (e: any) =>
            `v1.LabelSelectorRequirement{Key:${goQuote(str(e?.key))}, Operator:${goQuote(str(e?.operator))}, Values:${goStrings(e?.values)}}`,
        )
        .join(', ')}}`
    : '[]v1.LabelSelectorRequirement(nil)';
  return `v1.LabelSelector{MatchLabels:${goMap(s.matchLabels)}, MatchExpressions:${exprs}}`;
}

/** intstr.IntOrString by value (its String() has a pointer receiver, so %#v applies). */
export function goIntOrString(v: unknown): string {
  if (typeof v === 'string') return `intstr.IntOrString{Type:1, IntVal:0, StrVal:${goQuote(v)}}`;
  return `intstr.IntOrString{Type:0, IntVal:${num(v) ?? 0}, StrVal:""}`;
}

/**
 * A non-nil pointer inside a %#v struct prints as its address. Addresses differ per
 * process upstream; these are stable stand-ins of the same shape.
 */
export function goPtr(type: string, v: unknown, seq: number): string {
  if (v === undefined || v === null) return `(*${type})(nil)`;
  return `(*${type})(0xc000${(0x5a0000 + seq * 0x20).toString(16).padStart(6, '0')})`;
}

/** A bool pointer field in %#v (Go prints its address). */
export function goBoolPtr(v: unknown, seq: number): string {
  return goPtr('bool', typeof v === 'boolean' ? v : undefined, seq);
}

export { goQuote };
