// metadata.managedFields as upstream reads and writes it (apimachinery managedfields/internal:
// managedfields.go, capmanagers.go): entries keyed by a manager identity, each a field set with
// the API version it was recorded in and whether it came from an apply.
//
// The identity of an entry is the JSON of the entry without its fields, time and type, and
// without the API version for appliers: one Apply entry per manager and subresource, one
// Update entry per manager, version and subresource. Conflict messages print it.

import { FieldSet } from './fieldpath.ts';
import { isObject, type JSONObject, type JSONValue } from '../patch/values.ts';

export type Operation = 'Apply' | 'Update';

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: Operation;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: JSONObject;
  subresource?: string;
}

export interface VersionedSet {
  set: FieldSet;
  apiVersion: string;
  applied: boolean;
}

// Every write decodes the object's managedFields and encodes them again, though most writes
// (a heartbeat renewing a lease) leave every field set as it was. Field sets are never
// changed once built, so both directions are memoized: decoded sets by their FieldsV1 text
// (bounded; cleared when full), and each set's encoding by the set itself. An encoding is
// handed out as a fresh object (parsed from the memo), never shared between objects.
const DECODED_MAX = 8192;
const decoded = new Map<string, FieldSet>();
const encoded = new WeakMap<FieldSet, string>();

function decodeFieldsV1(v: JSONValue): FieldSet {
  const text = JSON.stringify(v);
  let set = decoded.get(text);
  if (set === undefined) {
    set = FieldSet.fromFieldsV1(v);
    if (decoded.size >= DECODED_MAX) decoded.clear();
    decoded.set(text, set);
  }
  return set;
}

function encodeFieldsV1(set: FieldSet): JSONObject {
  let text = encoded.get(set);
  if (text === undefined) {
    text = JSON.stringify(set.toFieldsV1());
    encoded.set(set, text);
  }
  return JSON.parse(text) as JSONObject;
}

/** Field sets by manager identity, and the time of each manager's last change. */
export interface Managed {
  fields: Map<string, VersionedSet>;
  times: Map<string, string | undefined>;
}

export function emptyManaged(): Managed {
  return { fields: new Map(), times: new Map() };
}

export function cloneManaged(m: Managed): Managed {
  return { fields: new Map(m.fields), times: new Map(m.times) };
}

/** BuildManagerIdentifier: Go's JSON of the entry (field order and omitempty as Go's). */
export function managerIdentity(e: { manager?: string; operation?: string; apiVersion?: string; subresource?: string }): string {
  const o: Record<string, string> = {};
  if (e.manager) o.manager = e.manager;
  if (e.operation) o.operation = e.operation;
  if (e.apiVersion && e.operation !== 'Apply') o.apiVersion = e.apiVersion;
  if (e.subresource) o.subresource = e.subresource;
  return JSON.stringify(o);
}

export function parseIdentity(id: string): { manager?: string; operation?: Operation; apiVersion?: string; subresource?: string } {
  return JSON.parse(id);
}

/**
 * DecodeManagedFields. Throws (with upstream's text) on entries upstream rejects; callers
 * decide what a bad list means (an update falls back to the live object's, an apply fails).
 */
export function decodeManagedFields(entries: unknown): Managed {
  const m = emptyManaged();
  if (entries === undefined || entries === null) return m;
  if (!Array.isArray(entries)) throw new Error('managedFields must be a list');
  entries.forEach((raw, i) => {
    if (!isObject(raw)) throw new Error(`managed fields entry ${i} must be an object`);
    const e = raw as ManagedFieldsEntry;
    if (e.operation !== 'Apply' && e.operation !== 'Update') throw new Error('operation must be `Apply` or `Update`');
    if (!e.apiVersion) throw new Error('apiVersion must not be empty');
    if (!e.fieldsType) throw new Error(`missing fieldsType in managed fields entry ${i}`);
    if (e.fieldsType !== 'FieldsV1') throw new Error(`invalid fieldsType ${JSON.stringify(e.fieldsType)} in managed fields entry ${i}`);
    const id = managerIdentity(e);
    let set: FieldSet;
    try {
      set = e.fieldsV1 === undefined || e.fieldsV1 === null ? new FieldSet() : decodeFieldsV1(e.fieldsV1 as JSONValue);
    } catch (err) {
      throw new Error(`error decoding versioned set from ${JSON.stringify(e)}: error decoding set: ${(err as Error).message}`);
    }
    m.fields.set(id, { set, apiVersion: e.apiVersion, applied: e.operation === 'Apply' });
    m.times.set(id, typeof e.time === 'string' ? e.time : undefined);
  });
  return m;
}

function seconds(t: string | undefined): number {
  if (!t) return 0;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? 0 : Math.floor(ms / 1000);
}

/** The entries of `m`, sorted as upstream sorts them (operation, time, manager, version, subresource); undefined when empty. */
export function encodeManagedFields(m: Managed): ManagedFieldsEntry[] | undefined {
  if (m.fields.size === 0) return undefined;
  const out: ManagedFieldsEntry[] = [];
  for (const [id, vs] of m.fields) {
    const base = parseIdentity(id);
    out.push(
      encodedEntry({
        manager: base.manager,
        operation: vs.applied ? 'Apply' : (base.operation ?? 'Update'),
        apiVersion: vs.apiVersion,
        time: m.times.get(id),
        fieldsV1: encodeFieldsV1(vs.set),
        subresource: base.subresource,
      }),
    );
  }
  return out.sort(compareEntries);
}

/** An entry as upstream encodes it: its keys in Go's field order, empty strings left out. */
export function encodedEntry(e: ManagedFieldsEntry & { operation: Operation; apiVersion: string; fieldsV1: JSONObject }): ManagedFieldsEntry {
  const o: ManagedFieldsEntry = {};
  if (e.manager) o.manager = e.manager;
  o.operation = e.operation;
  o.apiVersion = e.apiVersion;
  if (e.time) o.time = e.time;
  o.fieldsType = 'FieldsV1';
  o.fieldsV1 = e.fieldsV1;
  if (e.subresource) o.subresource = e.subresource;
  return o;
}

function cmp(a: string | undefined, b: string | undefined): number {
  return (a ?? '') < (b ?? '') ? -1 : (a ?? '') > (b ?? '') ? 1 : 0;
}

/** Upstream's order of encoded entries: operation, time (seconds), manager, version, subresource. */
export function compareEntries(p: ManagedFieldsEntry, q: ManagedFieldsEntry): number {
  return (
    cmp(p.operation, q.operation) ||
    seconds(p.time) - seconds(q.time) ||
    cmp(p.manager, q.manager) ||
    cmp(p.apiVersion, q.apiVersion) ||
    cmp(p.subresource, q.subresource)
  );
}

/** A managedFields value that asks for the list to be reset: `[]` or `[{}]` (isResetManagedFields). */
export function isResetManagedFields(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  if (v.length === 0) return true;
  return v.length === 1 && isObject(v[0]) && Object.keys(v[0]).length === 0;
}

export const MAX_UPDATE_MANAGERS = 10;
const ANCIENT_CHANGES = 'ancient-changes';

/**
 * capManagersManager: when there are more than `max` Update entries, the oldest are merged,
 * per API version, into an `ancient-changes` entry until `max` remain. Mutates `m`.
 */
export function capUpdateManagers(m: Managed, max = MAX_UPDATE_MANAGERS): void {
  const updaters = [...m.fields].filter(([, vs]) => !vs.applied).map(([id]) => id);
  if (updaters.length <= max) return;
  updaters.sort((a, b) => seconds(m.times.get(a)) - seconds(m.times.get(b)) || (a < b ? -1 : a > b ? 1 : 0));
  const firstOfVersion = new Map<string, string>();
  let length = updaters.length;
  for (let i = 0; i < updaters.length && length > max; i++) {
    const id = updaters[i];
    const vs = m.fields.get(id)!;
    const time = m.times.get(id);
    const bucket = managerIdentity({ manager: ANCIENT_CHANGES, operation: 'Update', apiVersion: vs.apiVersion });
    const first = firstOfVersion.get(vs.apiVersion);
    if (first === undefined) {
      firstOfVersion.set(vs.apiVersion, id);
      continue;
    }
    if (!m.fields.has(bucket)) {
      const s = m.fields.get(first)!;
      m.fields.delete(first);
      m.times.delete(first);
      m.fields.set(bucket, s);
    }
    m.fields.set(bucket, { set: vs.set.union(m.fields.get(bucket)!.set), apiVersion: vs.apiVersion, applied: vs.applied });
    m.fields.delete(id);
    m.times.delete(id);
    length--;
    m.times.set(bucket, time);
  }
}
