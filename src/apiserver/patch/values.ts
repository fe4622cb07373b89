// JSON values as the patch code handles them, and the few object helpers it needs.
// Patch documents come from clients, so a key may be `__proto__` or `constructor`:
// every read goes through hasOwn and every write through setKey.

import { jsonEqual } from '../../api/object.ts';

export type JSONValue = null | boolean | number | string | JSONValue[] | JSONObject;
export type JSONObject = { [key: string]: JSONValue };

export function isObject(v: unknown): v is JSONObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function hasOwn(o: object, k: string): boolean {
  return Object.hasOwn(o, k);
}

/** The own value at `k`, or undefined when absent. */
export function getOwn(o: JSONObject, k: string): JSONValue | undefined {
  return Object.hasOwn(o, k) ? o[k] : undefined;
}

export function setKey(o: JSONObject, k: string, v: JSONValue): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  else o[k] = v;
}

export function deepClone<T extends JSONValue>(v: T): T {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    const out: JSONValue[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = deepClone(v[i]);
    return out as T;
  }
  const out: JSONObject = {};
  for (const k of Object.keys(v)) setKey(out, k, deepClone((v as JSONObject)[k]));
  return out as T;
}

/**
 * A private deep copy of a decoded object (JSON values; an undefined value stays as a key):
 * several times faster than structuredClone, which also walks every property but through
 * the general structured-clone machinery.
 */
export function cloneObject<T>(v: T): T {
  return deepClone(v as unknown as JSONValue) as unknown as T;
}

export const deepEqual: (a: JSONValue | undefined, b: JSONValue | undefined) => boolean = jsonEqual;
