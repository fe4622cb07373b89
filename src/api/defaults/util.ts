// Helpers that mirror how Go's defaulting functions decide a field is unset. A decoded
// Go struct cannot tell an absent string from "" or an absent int from 0, so defaulters
// written against those fields (`if obj.DNSPolicy == ""`) also replace explicit zero
// values; pointer fields (`if obj.Replicas == nil`) replace only absent ones (JSON null
// decodes to nil too). Each helper names the Go field shape it stands for.

export type Obj = Record<string, any>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object items of a list field (absent, null or not a list: none). */
export function objects(v: unknown): Obj[] {
  return Array.isArray(v) ? v.filter(isObj) : [];
}

/** A Go `string` field: absent, null and "" are all unset. */
export function defaultString(o: Obj, key: string, value: string): void {
  if (o[key] === undefined || o[key] === null || o[key] === '') o[key] = value;
}

/** A Go `int32`/`int64` field (not a pointer): absent, null and 0 are all unset. */
export function defaultInt(o: Obj, key: string, value: number): void {
  if (o[key] === undefined || o[key] === null || o[key] === 0) o[key] = value;
}

/** A Go pointer field (`*int32`, `*string`, `*Struct`): only absent and null are unset. */
export function defaultPointer(o: Obj, key: string, value: unknown): void {
  if (o[key] === undefined || o[key] === null) o[key] = value;
}

/** A nested struct, created empty when absent (Go's value structs always exist). */
export function struct(o: Obj, key: string): Obj {
  if (!isObj(o[key])) o[key] = {};
  return o[key];
}

/** The nested struct when present (a pointer to a struct that the caller must not create). */
export function present(o: Obj, key: string): Obj | undefined {
  return isObj(o[key]) ? o[key] : undefined;
}

/** A Go map or slice field: an empty one is omitted by `omitempty`, as if never set. */
export function isEmpty(v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (Array.isArray(v)) return v.length === 0;
  return isObj(v) && Object.keys(v).length === 0;
}
