// Structural schemas of CustomResourceDefinitions: pruning of unknown fields,
// defaulting from `default`, and validation with upstream's field paths and messages
// (kube-openapi's validator as the apiextensions-apiserver reports it).

import { type FieldError, fieldErr } from '../../api/errors.ts';
import { isObject } from '../../api/object.ts';

export type Schema = Record<string, any>;

const META_FIELDS = new Set(['apiVersion', 'kind', 'metadata']);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function preserves(s: Schema | undefined): boolean {
  return !!s?.['x-kubernetes-preserve-unknown-fields'];
}

/**
 * Removes fields the schema does not declare (unless it preserves unknown fields),
 * in place. Returns the paths removed (for fieldValidation Strict/Warn).
 */
export function prune(obj: unknown, schema: Schema | undefined, path = '', root = true): string[] {
  const removed: string[] = [];
  if (!schema) return removed;
  if (isObject(obj)) {
    const props = schema.properties as Record<string, Schema> | undefined;
    const additional = schema.additionalProperties;
    for (const key of Object.keys(obj)) {
      if (root && META_FIELDS.has(key)) continue;
      const p = path ? `${path}.${key}` : key;
      if (props && key in props) {
        removed.push(...prune(obj[key], props[key], p, false));
      } else if (isObject(additional)) {
        removed.push(...prune(obj[key], additional, p, false));
      } else if (additional === true || preserves(schema) || schema['x-kubernetes-embedded-resource'] && META_FIELDS.has(key)) {
        // kept as is
      } else {
        delete obj[key];
        removed.push(p);
      }
    }
  } else if (Array.isArray(obj) && schema.items) {
    obj.forEach((item, i) => removed.push(...prune(item, schema.items, `${path}[${i}]`, false)));
  }
  return removed;
}

/** Applies `default` values of the schema, in place, as the apiextensions-apiserver does. */
export function applySchemaDefaults(obj: unknown, schema: Schema | undefined): void {
  if (!schema) return;
  if (isObject(obj)) {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [key, ps] of Object.entries(props)) {
      if (obj[key] === undefined && ps.default !== undefined) obj[key] = structuredClone(ps.default);
      if (obj[key] !== undefined) applySchemaDefaults(obj[key], ps);
    }
    if (isObject(schema.additionalProperties)) {
      for (const key of Object.keys(obj)) if (!(key in props)) applySchemaDefaults(obj[key], schema.additionalProperties);
    }
  } else if (Array.isArray(obj) && schema.items) {
    for (const item of obj) applySchemaDefaults(item, schema.items);
  }
}

function quoted(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
}

/** Validates `obj` against the schema; paths are upstream's (`spec.replicas`, `spec.items[0].name`). */
export function validateSchema(obj: unknown, schema: Schema | undefined, path = '', root = true): FieldError[] {
  const errs: FieldError[] = [];
  if (!schema) return errs;
  const label = path || '<root>';
  if (obj === null || obj === undefined) {
    if (obj === null && !schema.nullable && schema.type && !root) {
      errs.push(fieldErr.invalid(label, null, `${label} in body must be of type ${schema.type}: "null"`));
    }
    return errs;
  }
  const t = typeOf(obj);
  const want = schema.type as string | undefined;
  if (schema['x-kubernetes-int-or-string']) {
    if (t !== 'integer' && t !== 'string') {
      errs.push(fieldErr.invalid(label, obj, `${label} in body must be of type integer,string: ${quoted(t)}`));
    }
  } else if (want && want !== t && !(want === 'number' && t === 'integer')) {
    errs.push(fieldErr.invalid(label, obj, `${label} in body must be of type ${want}: ${quoted(t)}`));
    return errs;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(obj))) {
    errs.push({
      type: 'FieldValueNotSupported',
      field: label,
      value: obj,
      detail: `supported values: ${schema.enum.map((e: unknown) => quoted(e)).join(', ')}`,
    });
  }
  if (typeof obj === 'number') {
    if (typeof schema.minimum === 'number') {
      const bad = schema.exclusiveMinimum ? obj <= schema.minimum : obj < schema.minimum;
      if (bad) errs.push(fieldErr.invalid(label, obj, `${label} in body should be greater than ${schema.exclusiveMinimum ? '' : 'or equal to '}${schema.minimum}`));
    }
    if (typeof schema.maximum === 'number') {
      const bad = schema.exclusiveMaximum ? obj >= schema.maximum : obj > schema.maximum;
      if (bad) errs.push(fieldErr.invalid(label, obj, `${label} in body should be less than ${schema.exclusiveMaximum ? '' : 'or equal to '}${schema.maximum}`));
    }
    if (typeof schema.multipleOf === 'number' && obj % schema.multipleOf !== 0) {
      errs.push(fieldErr.invalid(label, obj, `${label} in body should be a multiple of ${schema.multipleOf}`));
    }
  }
  if (typeof obj === 'string') {
    const len = [...obj].length;
    if (typeof schema.maxLength === 'number' && len > schema.maxLength) {
      errs.push({ type: 'FieldValueTooLong', field: label, value: obj, detail: `may not be more than ${schema.maxLength} bytes` });
    }
    if (typeof schema.minLength === 'number' && len < schema.minLength) {
      errs.push(fieldErr.invalid(label, obj, `${label} in body should be at least ${schema.minLength} chars long`));
    }
    if (typeof schema.pattern === 'string') {
      let re: RegExp | undefined;
      try {
        re = new RegExp(schema.pattern, 'u');
      } catch {
        re = undefined;
      }
      if (re && !re.test(obj)) errs.push(fieldErr.invalid(label, obj, `${label} in body should match '${schema.pattern}'`));
    }
  }
  if (Array.isArray(obj)) {
    if (typeof schema.maxItems === 'number' && obj.length > schema.maxItems) {
      errs.push({ type: 'FieldValueTooMany', field: label, value: obj.length, detail: `must have at most ${schema.maxItems} items` });
    }
    if (typeof schema.minItems === 'number' && obj.length < schema.minItems) {
      errs.push(fieldErr.invalid(label, obj.length, `${label} in body should have at least ${schema.minItems} items`));
    }
    if (schema.items) obj.forEach((item, i) => errs.push(...validateSchema(item, schema.items, `${path}[${i}]`, false)));
  }
  if (isObject(obj)) {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const req of (schema.required ?? []) as string[]) {
      if (obj[req] === undefined) errs.push(fieldErr.required(path ? `${path}.${req}` : req, ''));
    }
    const n = Object.keys(obj).length;
    if (typeof schema.maxProperties === 'number' && n > schema.maxProperties) {
      errs.push({ type: 'FieldValueTooMany', field: label, value: n, detail: `must have at most ${schema.maxProperties} items` });
    }
    if (typeof schema.minProperties === 'number' && n < schema.minProperties) {
      errs.push(fieldErr.invalid(label, n, `${label} in body should have at least ${schema.minProperties} properties`));
    }
    for (const [key, v] of Object.entries(obj)) {
      if (root && META_FIELDS.has(key)) continue;
      const p = path ? `${path}.${key}` : key;
      if (props[key]) errs.push(...validateSchema(v, props[key], p, false));
      else if (isObject(schema.additionalProperties)) errs.push(...validateSchema(v, schema.additionalProperties, p, false));
    }
  }
  return errs;
}

/** Follows a dotted path such as `.spec.replicas` (scale subresource paths). */
export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const seg of path.replace(/^\./, '').split('.')) {
    if (!isObject(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

export function setPath(obj: Record<string, any>, path: string, value: unknown): void {
  const segs = path.replace(/^\./, '').split('.');
  let cur: Record<string, any> = obj;
  for (const seg of segs.slice(0, -1)) {
    if (!isObject(cur[seg])) cur[seg] = {};
    cur = cur[seg];
  }
  cur[segs[segs.length - 1]] = value;
}
