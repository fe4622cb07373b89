// Field management, as kube-apiserver 1.32 does it (apimachinery managedfields/internal and
// structured-merge-diff v4 merge/update.go): every write records in metadata.managedFields
// which manager set which fields, and server-side apply merges a manager's configuration
// into the live object, refusing to change fields other managers own unless forced.
//
// Upstream stacks this as a chain of managers; the same steps here, in the same order:
//   Update  decode (the request's managedFields if it set any, else the live object's)
//           → skip objects never tracked → compare old with new: changed fields move from
//           their owners to this manager's Update entry (version-scoped, time = now)
//           → strip metadata that is never owned → at most 10 Update entries
//   Apply   check the version → decode the live managedFields → an untracked object is first
//           attributed to `before-first-apply` → merge the configuration → prune what this
//           manager applied last time and no one owns now → conflicts (409) with the owners of
//           changed fields unless forced; for manager `kubectl`, conflicts on fields that still
//           hold their last-applied-configuration value are forced (the client-side apply
//           upgrade) → keep that annotation in sync with what `kubectl` applied.
//
// Deliberate differences: managed field sets are not converted between API versions (Skiff
// serves each kind in one version), and a /scale write that leaves replicas as they were
// changes nothing (upstream would split Update entries, see recordScale).

import { definitionNameFor } from '../../api/generated/kinds.ts';
import { badRequest, failure, fieldErr, invalid, type StatusCause, type StatusError } from '../../api/errors.ts';
import type { KObject } from '../../api/object.ts';
import type { GVK } from '../../api/schema.ts';
import { deepClone, deepEqual, isObject, setKey, type JSONObject, type JSONValue } from '../patch/values.ts';
import { comparePE, deserializePE, FieldSet, fieldPath, goJSON, type Path, type PathElement, pathString, serializePE, valuesEqual } from './fieldpath.ts';
import {
  capUpdateManagers,
  cloneManaged,
  compareEntries,
  decodeManagedFields,
  emptyManaged,
  encodedEntry,
  encodeManagedFields,
  isResetManagedFields,
  type Managed,
  type ManagedFieldsEntry,
  MAX_UPDATE_MANAGERS,
  managerIdentity,
  parseIdentity,
} from './managedfields.ts';
import { type TypeRef, typeFor, withGoFields } from './schema.ts';
import {
  compare,
  scalarChanges,
  type Comparison,
  dropNulls,
  ensureNamedFieldsAreMembers,
  merge,
  removeItems,
  toFieldSet,
  validate,
  validationText,
} from './typed.ts';

export type { GVK };

export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** The manager whose conflicts the last-applied-configuration annotation may excuse, and whose applies keep it in sync. */
const KUBECTL_SSA_MANAGER = 'kubectl';
const BEFORE_FIRST_APPLY = 'before-first-apply';
const CURRENT_OPERATION = 'current-operation';
const FIELD_MANAGER_MAX_LENGTH = 128;

/** Fields no manager ever owns (stripMetaManager). */
const STRIPPED = FieldSet.of(
  fieldPath('apiVersion'),
  fieldPath('kind'),
  fieldPath('metadata'),
  fieldPath('metadata', 'name'),
  fieldPath('metadata', 'namespace'),
  fieldPath('metadata', 'creationTimestamp'),
  fieldPath('metadata', 'selfLink'),
  fieldPath('metadata', 'uid'),
  fieldPath('metadata', 'clusterName'),
  fieldPath('metadata', 'generation'),
  fieldPath('metadata', 'managedFields'),
  fieldPath('metadata', 'resourceVersion'),
);

interface Common {
  gvk: GVK;
  manager: string;
  /** '' or absent for the object itself; 'status', 'scale', … for a subresource write. */
  subresource?: string;
  /** RFC 3339, second precision: the time recorded for this manager when it changed something. */
  now: string;
  /**
   * Whether the resource has a status subresource, so that writes to the object never own
   * status and writes to /status never own spec (upstream's reset fields). Defaults to
   * whether the kind's schema has a `status` field.
   */
  statusSubresource?: boolean;
}

export interface RecordUpdateOptions extends Common {
  /** The stored object; absent for a create. */
  old?: KObject;
  /** The object about to be stored (after defaulting); its managedFields are rewritten. */
  next: KObject;
  /** For subresource `scale`: where the object keeps its replicas. Default `spec.replicas`. */
  replicasPath?: string[];
  /** False: always take the general path, never restampOwner's shortcut (tests compare the two). */
  shortcut?: boolean;
}

export interface ServerSideApplyOptions extends Common {
  /** The stored object; absent when the apply creates it. */
  current?: KObject;
  /** The applied configuration (the request body), not modified. */
  applied: KObject;
  force: boolean;
}

function groupVersion(gvk: GVK): string {
  return gvk.group ? `${gvk.group}/${gvk.version}` : gvk.version;
}

function ignoredFields(t: TypeRef, subresource: string, statusSubresource: boolean | undefined): FieldSet | undefined {
  const hasStatus = statusSubresource ?? !!t.atom.map?.fields.has('status');
  if (!hasStatus) return undefined;
  if (subresource === '') return FieldSet.of(fieldPath('status'));
  if (subresource === 'status') return FieldSet.of(fieldPath('spec'));
  return undefined;
}

function filter(set: FieldSet, ignore: FieldSet | undefined): FieldSet {
  return ignore ? set.recursiveDifference(ignore) : set;
}

function withoutManagedFields(obj: KObject): JSONObject {
  const copy = deepClone(obj as unknown as JSONObject);
  if (isObject(copy.metadata)) delete copy.metadata.managedFields;
  return copy;
}

/**
 * `b` and `a` without what they have in common: a key whose values are equal on both sides
 * is dropped from both, and where both values are objects the same is done inside them
 * (lists are kept whole). Values are shared, read only. Undefined when nothing differs.
 *
 * The comparison of the pruned pair is that of the whole objects: an equal subtree adds
 * nothing to it, and a key dropped from both sides gets the same Go zero value on both
 * (withGoFields). So a write is compared on what it changed only: a node's status
 * heartbeat walks its conditions, not its images, capacity and nodeInfo. A key whose value
 * is undefined counts as absent, as it is once stored. (Lists compare with deepEqual: one
 * holding undefined could only equal another that does, and `b`, the stored object, has none.)
 */
export function withoutCommon(b: JSONObject, a: JSONObject): [JSONObject, JSONObject] | undefined {
  const ob: JSONObject = {};
  const oa: JSONObject = {};
  let differs = false;
  for (const k of Object.keys(b)) {
    const bv = b[k];
    const av = Object.hasOwn(a, k) ? a[k] : undefined;
    // A key set to undefined is absent (as once stored): absent on both sides is equal.
    if (bv === undefined && av === undefined) continue;
    if (isObject(bv) && isObject(av)) {
      const inner = withoutCommon(bv, av);
      if (!inner) continue;
      setKey(ob, k, inner[0]);
      setKey(oa, k, inner[1]);
      differs = true;
    } else if (bv === undefined || av === undefined || !deepEqual(bv, av)) {
      // An undefined side stays absent, so that withGoFields gives it its zero value.
      if (bv !== undefined) setKey(ob, k, bv);
      if (av !== undefined) setKey(oa, k, av);
      differs = true;
    }
  }
  for (const k of Object.keys(a)) {
    if (Object.hasOwn(b, k) || a[k] === undefined) continue;
    setKey(oa, k, a[k]);
    differs = true;
  }
  return differs ? [ob, oa] : undefined;
}

/** `obj` without metadata.managedFields, sharing everything else with `obj`: for reading only. */
function shallowWithoutManagedFields(obj: KObject): JSONObject {
  const o = obj as unknown as JSONObject;
  const meta = o.metadata;
  if (!isObject(meta) || !Object.hasOwn(meta, 'managedFields')) return o;
  const { managedFields: _drop, ...rest } = meta;
  return { ...o, metadata: rest };
}

/** Sets metadata.managedFields in place (a key that exists keeps its position, so an unchanged object serializes the same). */
function setManagedFields(obj: KObject, m: Managed): void {
  if (!isObject(obj.metadata)) obj.metadata = {};
  const entries = encodeManagedFields(m);
  if (entries) obj.metadata.managedFields = entries;
  else delete obj.metadata.managedFields;
}

function decodeOrEmpty(v: unknown): Managed {
  try {
    return decodeManagedFields(v);
  } catch {
    return emptyManaged();
  }
}

// ---- the updater (merge/update.go) ---------------------------------------------------------

class Conflicts extends Error {
  readonly byManager: Map<string, FieldSet>;
  constructor(byManager: Map<string, FieldSet>) {
    super('conflicts');
    this.byManager = byManager;
  }
}

/** What changed from `live` to `obj`, less the fields the write cannot own (`ignore`). */
function changes(live: JSONValue, obj: JSONValue, t: TypeRef, ignore: FieldSet | undefined): Comparison {
  const c = compare(live, obj, t);
  if (ignore) {
    c.removed = c.removed.recursiveDifference(ignore);
    c.modified = c.modified.recursiveDifference(ignore);
    c.added = c.added.recursiveDifference(ignore);
  }
  return c;
}

/**
 * Updater.update: what changed between `live` and `obj` (`c`, computed when not given) is
 * taken from every manager but `workflow` (fields it changed) or dropped (fields it
 * removed). Throws Conflicts when not forced and changed fields have other owners. Mutates
 * `m.fields`.
 */
function takeChanged(
  live: JSONValue,
  obj: JSONValue,
  t: TypeRef,
  m: Managed,
  workflow: string,
  force: boolean,
  ignore: FieldSet | undefined,
  c: Comparison = changes(live, obj, t, ignore),
): Comparison {
  const changed = c.modified.union(c.added);
  const conflicts = new Map<string, FieldSet>();
  for (const [id, vs] of m.fields) {
    if (id === workflow) continue;
    const overlap = vs.set.intersection(changed);
    if (!overlap.empty()) conflicts.set(id, overlap);
  }
  if (!force && conflicts.size) throw new Conflicts(conflicts);
  for (const [id, vs] of m.fields) {
    if (id === workflow) continue;
    let set = vs.set;
    const overlap = conflicts.get(id);
    if (overlap) set = set.difference(overlap);
    if (!c.removed.empty()) set = set.difference(c.removed);
    m.fields.set(id, { ...vs, set });
  }
  for (const [id, vs] of m.fields) if (vs.set.empty()) m.fields.delete(id);
  return c;
}

/** An Update by `id` (identity): the managedFieldsUpdater, stripMeta and Updater.Update steps. */
function update(
  live: JSONValue,
  obj: JSONValue,
  t: TypeRef,
  managed: Managed,
  id: string,
  version: string,
  now: string,
  ignore: FieldSet | undefined,
  c: Comparison = changes(live, obj, t, ignore),
): Managed {
  const unchanged = sameOwners(c, managed, id, version, now);
  if (unchanged) return unchanged;
  const m = cloneManaged(managed);
  takeChanged(live, obj, t, m, CURRENT_OPERATION, true, ignore, c);
  const set = filter(c.modified.union(c.added), ignore).difference(STRIPPED);
  if (!set.empty()) {
    // The operation took fields: merge them into the manager's entry and stamp it.
    const previous = m.fields.get(id);
    let merged = previous ? set.union(previous.set) : set;
    // Changed only fields it already owned (a heartbeat): the manager's set is the one it had,
    // kept as the same object so that its encoding is reused.
    const had = managed.fields.get(id);
    if (had && merged.equals(had.set)) merged = had.set;
    m.fields.set(id, { set: merged, apiVersion: version, applied: false });
    m.times.set(id, now);
  }
  return m;
}

/**
 * The outcome of update() when the write changed only fields `id` already owned and no one
 * else owns, and removed nothing (a heartbeat renewing its timestamp): every entry keeps its
 * set, `id`'s is stamped `now`, empty entries go. Undefined when that does not hold (the
 * general path then works it out); what it returns is what the general path would.
 */
function sameOwners(c: Comparison, managed: Managed, id: string, version: string, now: string): Managed | undefined {
  const had = managed.fields.get(id);
  if (!had || !c.removed.empty()) return undefined;
  const changed = c.modified.union(c.added);
  if (changed.empty() || !changed.isSubsetOf(had.set) || changed.intersects(STRIPPED)) return undefined;
  for (const [other, vs] of managed.fields) if (other !== id && vs.set.intersects(changed)) return undefined;
  const m = cloneManaged(managed);
  for (const [other, vs] of m.fields) if (vs.set.empty()) m.fields.delete(other);
  m.fields.set(id, { set: had.set, apiVersion: version, applied: false });
  m.times.set(id, now);
  return m;
}

/**
 * sameOwners read straight off the stored entries, for an Update whose managedFields come
 * from the live object: when the write changed only fields the writer's own Update entry
 * already holds and no other entry does, and removed nothing, the entries are the stored
 * ones with the writer's stamped `now`, in upstream's order. That is what decoding, update,
 * capUpdateManagers and encoding give, since the stored entries are what
 * encodeManagedFields wrote (canonical field sets, no empty or duplicate entries), without
 * building a field set for any of them. Undefined when any of that does not hold (the
 * general path then works it out).
 */
function restampOwner(
  stored: unknown,
  changed: Path[],
  own: { manager: string; apiVersion: string; subresource: string },
  now: string,
): ManagedFieldsEntry[] | undefined {
  if (!Array.isArray(stored) || stored.length === 0) return undefined;
  if (changed.length === 0 || changed.some((p) => STRIPPED.has(p))) return undefined;
  // Each changed path with its keys as FieldsV1 writes them, serialized once for all entries.
  const paths = changed.map((p) => ({ p, keys: p.map(serializePE) }));
  let mine = -1;
  let updaters = 0;
  for (let i = 0; i < stored.length; i++) {
    const e = stored[i] as ManagedFieldsEntry;
    if (!isObject(e) || (e.operation !== 'Apply' && e.operation !== 'Update') || !e.apiVersion || e.fieldsType !== 'FieldsV1') return undefined;
    if (!isObject(e.fieldsV1) || Object.keys(e.fieldsV1).length === 0) return undefined;
    if (e.operation === 'Update') updaters++;
    const isMine = e.operation === 'Update' && (e.manager || '') === own.manager && e.apiVersion === own.apiVersion && (e.subresource || '') === own.subresource;
    if (isMine) {
      if (mine !== -1) return undefined;
      mine = i;
    }
    for (const { p, keys } of paths) {
      const has = fieldsV1Has(e.fieldsV1, p, keys);
      if (has === undefined || has !== isMine) return undefined;
    }
  }
  if (mine === -1 || updaters > MAX_UPDATE_MANAGERS) return undefined;
  const out = (stored as ManagedFieldsEntry[]).map((e, i) =>
    encodedEntry({
      manager: e.manager,
      operation: e.operation!,
      apiVersion: e.apiVersion!,
      time: i === mine ? now : typeof e.time === 'string' ? e.time : undefined,
      fieldsV1: e.fieldsV1!,
      subresource: e.subresource,
    }),
  );
  return out.sort(compareEntries);
}

/**
 * Whether path `p` (its elements serialized: `keys`) is a member of the set FieldsV1 `v`
 * encodes; undefined when the text leaves it open (a key written in another form than the
 * canonical one).
 */
function fieldsV1Has(v: JSONObject, p: Path, keys: string[]): boolean | undefined {
  let level: JSONObject = v;
  for (let i = 0; i < p.length; i++) {
    const key = keys[i];
    if (!Object.hasOwn(level, key)) return otherForm(level, p[i]) ? undefined : false;
    const next = level[key];
    if (!isObject(next)) return undefined;
    level = next;
  }
  // A member: a leaf ({}), or a level that is also a member of its parent ('.').
  return Object.hasOwn(level, '.') || Object.keys(level).length === 0;
}

/** Whether `level` holds `pe` under a key that is not its canonical form. */
function otherForm(level: JSONObject, pe: PathElement): boolean {
  if (pe.kind !== 'key' && pe.kind !== 'value') return false;
  const prefix = pe.kind === 'key' ? 'k:' : 'v:';
  for (const k of Object.keys(level)) {
    if (!k.startsWith(prefix)) continue;
    try {
      const other = deserializePE(k);
      if (other && comparePE(other, pe) === 0) return true;
    } catch {
      return true;
    }
  }
  return false;
}

/**
 * Updater.prune: what `lastSet` held and the new configuration no longer does is removed
 * from `merged`, unless some manager (the applier included) still owns it.
 */
function prune(merged: JSONValue, m: Managed, lastSet: FieldSet | undefined, t: TypeRef): JSONValue {
  if (!lastSet || lastSet.empty()) return merged;
  const named = (s: FieldSet) => ensureNamedFieldsAreMembers(s, t);
  const last = named(lastSet);
  let pruned = removeItems(merged, last, t);
  // Add back what someone owns.
  let owned = new FieldSet();
  for (const vs of m.fields.values()) owned = owned.union(vs.set);
  const mergedSet = named(toFieldSet(merged, t));
  pruned = removeItems(merged, mergedSet.difference(named(toFieldSet(pruned, t)).union(named(owned))), t);
  // Only what the applier had applied may go.
  const gone = mergedSet.difference(named(toFieldSet(pruned, t))).intersection(last);
  return removeItems(merged, gone, t);
}

/** Updater.Apply plus stripMeta and managedFieldsUpdater. `obj` undefined: nothing changed. */
function apply(
  live: JSONValue,
  config: JSONValue,
  t: TypeRef,
  managed: Managed,
  id: string,
  version: string,
  force: boolean,
  now: string,
  ignore: FieldSet | undefined,
): { obj: JSONValue | undefined; managed: Managed } {
  const m = cloneManaged(managed);
  const merged = merge(live, config, t) ?? {};
  const lastSet = m.fields.get(id)?.set;
  m.fields.set(id, { set: filter(toFieldSet(config, t), ignore), apiVersion: version, applied: true });
  const obj = prune(merged, m, lastSet, t);
  takeChanged(live, obj, t, m, id, force, ignore);
  const changed = !valuesEqual(live, obj);
  const own = m.fields.get(id);
  if (own) {
    const set = own.set.difference(STRIPPED);
    if (set.empty()) m.fields.delete(id);
    else m.fields.set(id, { ...own, set });
  }
  if (changed) m.times.set(id, now);
  return { obj: changed ? obj : undefined, managed: m };
}

// ---- Update --------------------------------------------------------------------------------

/**
 * Records a write that is not an apply (create, update, patch, subresource writes) in
 * `next.metadata.managedFields`. Call it with the object as it will be stored (defaulted,
 * before the strategy's server-owned fields are set, as upstream does) and, for updates, the
 * stored object. Never fails: managedFields that cannot be read are replaced by the live
 * object's, as upstream does.
 */
export function recordUpdate(opts: RecordUpdateOptions): void {
  const { gvk, old, next, now } = opts;
  const sub = opts.subresource ?? '';
  const t = typeFor(gvk);
  const version = groupVersion(gvk);
  if (!isObject(next.metadata)) next.metadata = {};
  const requested = next.metadata.managedFields;
  const live = () => decodeOrEmpty(old?.metadata?.managedFields);

  // What changed. Only compared, never changed: no deep copies. What both sides have in
  // common is left out before typing and walking (withoutCommon): a lease renewal walks its
  // renewTime, a node's status report its conditions.
  const ignore = ignoredFields(t, sub, opts.statusSubresource);
  let pair: [JSONObject, JSONObject] | undefined;
  const differing = (): [JSONObject, JSONObject] => {
    if (pair) return pair;
    const b: JSONObject = old ? shallowWithoutManagedFields(old) : {};
    const a = shallowWithoutManagedFields(next);
    return (pair = old ? (withoutCommon(b, a) ?? [{}, {}]) : [b, a]);
  };
  const compared = () => {
    const [b, a] = differing();
    const before = withGoFields(b, t);
    const after = withGoFields(a, t);
    return { before, after, c: changes(before, after, t, ignore) };
  };
  let diff: ReturnType<typeof compared> | undefined;
  // A write that keeps the live managedFields and only changed what its writer alone owns
  // (a heartbeat) needs no field sets: the changed paths are read off the differing pair
  // when it is simple (scalarChanges), else off compare().
  if (opts.shortcut !== false && old && sub !== 'scale' && (sub || requested === undefined || requested === null) && Array.isArray(old.metadata?.managedFields)) {
    const [b, a] = differing();
    let changed = scalarChanges(b, a, t);
    if (changed && ignore && changed.some((p) => ignore.has(p.slice(0, 1)))) changed = undefined;
    if (!changed) {
      diff = compared();
      changed = diff.c.removed.empty() ? diff.c.modified.union(diff.c.added).paths() : undefined;
    }
    const entries = changed && restampOwner(old.metadata.managedFields, changed, { manager: opts.manager || 'unknown', apiVersion: version, subresource: sub }, now);
    if (entries) {
      next.metadata.managedFields = entries;
      return;
    }
  }

  // decodeLiveOrNew: a subresource write cannot set managedFields; an object write may (kubectl
  // sends a JSON patch to migrate client-side-apply entries), or reset them with [] or [{}].
  let managed: Managed;
  if (sub) managed = live();
  else if (isResetManagedFields(requested)) managed = emptyManaged();
  else {
    managed = decodeOrEmpty(requested);
    if (managed.fields.size === 0) managed = live();
  }
  // skipNonApplied: an existing object nobody tracks stays untracked until its first apply.
  if (managed.fields.size === 0 && old) {
    delete next.metadata.managedFields;
    return;
  }

  const id = managerIdentity({ manager: opts.manager || 'unknown', operation: 'Update', apiVersion: version, subresource: sub });
  if (sub === 'scale') {
    managed = recordScale(managed, old, next, id, opts.replicasPath ?? ['spec', 'replicas']);
  } else {
    diff ??= compared();
    managed = update(diff.before, diff.after, t, managed, id, version, now, ignore, diff.c);
    capUpdateManagers(managed);
  }
  setManagedFields(next, managed);
}

/**
 * A write through /scale, as ScaleHandler does it: the Scale's replicas stand for the object's,
 * so a change of replicas takes them from every entry and gives them to the writer's entry
 * (subresource `scale`, the object's API version, and, as upstream, no time).
 */
function recordScale(managed: Managed, old: KObject | undefined, next: KObject, id: string, replicasPath: string[]): Managed {
  const get = (o: KObject | undefined) => replicasPath.reduce<unknown>((v, k) => (isObject(v) ? v[k] : undefined), o);
  if (!old || valuesEqual(get(old) as JSONValue | undefined, get(next) as JSONValue | undefined)) return managed;
  const path: Path = fieldPath(...replicasPath);
  const replicas = FieldSet.of(path);
  const m = cloneManaged(managed);
  for (const [key, vs] of m.fields) {
    if (!vs.set.has(path)) continue;
    const set = vs.set.difference(replicas);
    if (set.empty()) m.fields.delete(key);
    else m.fields.set(key, { ...vs, set });
  }
  const version = parseIdentity(id).apiVersion!;
  m.fields.set(id, { set: replicas, apiVersion: version, applied: false });
  m.times.set(id, undefined);
  return m;
}

// ---- Apply ---------------------------------------------------------------------------------

/** `"kubectl" with subresource "scale" using apps/v1`, as conflict messages name a manager. */
function printManager(id: string): string {
  let e: { manager?: string; operation?: string; apiVersion?: string; subresource?: string };
  try {
    e = parseIdentity(id);
  } catch {
    return JSON.stringify(id);
  }
  let s = JSON.stringify(e.manager ?? '');
  if (e.subresource) s += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === 'Update') s += ` using ${e.apiVersion ?? ''}`;
  return s;
}

interface Conflict {
  manager: string;
  path: Path;
}

function conflictList(byManager: Map<string, FieldSet>): Conflict[] {
  const out: Conflict[] = [];
  for (const id of [...byManager.keys()].sort()) byManager.get(id)!.iterate((path) => out.push({ manager: id, path }));
  return out;
}

/** 409 Conflict with upstream's text and one FieldManagerConflict cause per field (NewConflictError). */
function conflictError(conflicts: Conflict[]): StatusError {
  const causes = conflicts.map((c) => ({ reason: 'FieldManagerConflict', message: `conflict with ${printManager(c.manager)}`, field: pathString(c.path) }));
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0].manager)}: ${pathString(conflicts[0].path)}`;
  } else {
    const lines: string[] = [];
    for (const id of [...new Set(conflicts.map((c) => c.manager))].sort()) {
      lines.push(`conflicts with ${printManager(id)}:`);
      for (const c of conflicts) if (c.manager === id) lines.push(`- ${pathString(c.path)}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return failure(409, 'Conflict', message, { causes });
}

/** `apps/v1, Kind=Deployment` (GroupVersionKind.String) of an object's own type fields. */
function gvkString(obj: KObject): string {
  const av = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  const parts = av.split('/');
  const [group, version] = parts.length === 1 ? ['', parts[0]] : parts.length === 2 ? parts : ['', ''];
  return `${group}/${version}, Kind=${kind}`;
}

/**
 * Fields whose conflicts a `kubectl` apply may override: those in the last-applied
 * configuration that still hold the value it recorded (lastAppliedManager), so that the first
 * server-side apply over a client-side-applied object takes them over instead of failing.
 */
function allowedByLastApplied(current: KObject, t: TypeRef, version: string): FieldSet | undefined {
  const text = current.metadata?.annotations?.[LAST_APPLIED_ANNOTATION];
  if (typeof text !== 'string' || !text) return undefined;
  let last: JSONValue;
  try {
    last = JSON.parse(text) as JSONValue;
  } catch {
    return undefined;
  }
  if (!isObject(last) || last.apiVersion !== version) return undefined;
  if (validate(last, t).length) return undefined;
  const c = compare(last, withGoFields(current as unknown as JSONObject, t), t);
  return toFieldSet(last, t).difference(c.modified).difference(c.added).difference(c.removed);
}

/** The configuration as the last-applied annotation records it: sorted-key JSON without the annotation itself. */
function lastAppliedText(applied: KObject): string {
  const copy = deepClone(applied as unknown as JSONObject);
  const meta = copy.metadata;
  if (isObject(meta) && isObject(meta.annotations)) delete meta.annotations[LAST_APPLIED_ANNOTATION];
  const sorted = (v: JSONValue): string => {
    if (Array.isArray(v)) return '[' + v.map(sorted).join(',') + ']';
    if (isObject(v)) return '{' + Object.keys(v).sort().map((k) => goJSON(k) + ':' + sorted(v[k])).join(',') + '}';
    return goJSON(v);
  };
  return sorted(copy) + '\n';
}

/**
 * Server-side apply of `applied` by `manager`: returns the object to store (a new object;
 * for a create, the configuration as merged into nothing), with managedFields recorded. The
 * caller then defaults, validates and stores it as it would the result of a patch (or a
 * create when `current` is absent), and answers 201 for a create.
 *
 * Throws StatusErrors as upstream answers: 400 for a configuration of another kind or one
 * carrying managedFields, 500 (no reason) for one that does not fit the schema
 * (`failed to create typed patch object (ns/name; apps/v1, Kind=Deployment): .spec.foo: field not declared in schema`),
 * 409 Conflict naming each field and its manager.
 */
export function serverSideApply(opts: ServerSideApplyOptions): KObject {
  const { gvk, current, applied, force, now } = opts;
  const sub = opts.subresource ?? '';
  const t = typeFor(gvk);
  const version = groupVersion(gvk);

  // versionCheckManager
  if (applied.apiVersion !== version || applied.kind !== gvk.kind) {
    throw badRequest(`invalid object type: ${gvkString(applied)}`);
  }
  if (Array.isArray(applied.metadata?.managedFields)) throw badRequest('metadata.managedFields must be nil');
  const config = deepClone(applied as unknown as JSONObject);
  if (definitionNameFor(gvk)) {
    const errs = validate(config, t);
    if (errs.length) {
      const meta = isObject(config.metadata) ? config.metadata : {};
      const where = `${typeof meta.namespace === 'string' ? meta.namespace : ''}/${typeof meta.name === 'string' ? meta.name : ''}`;
      throw failure(500, undefined, `failed to create typed patch object (${where}; ${gvkString(applied)}): ${validationText(errs)}`);
    }
  }

  let managed: Managed;
  try {
    managed = decodeManagedFields(current?.metadata?.managedFields);
  } catch (e) {
    throw failure(500, 'InternalError', `Internal error occurred: failed to decode managed fields: ${(e as Error).message}`);
  }
  // Upstream merges into the live object as its Go type holds it (value structs present), or
  // into the kind's zero value for a create; the result keeps that shape, nulls aside.
  const live = withGoFields(current ? withoutManagedFields(current) : {}, t);
  const ignore = ignoredFields(t, sub, opts.statusSubresource);
  const id = managerIdentity({ manager: opts.manager || 'unknown', operation: 'Apply', subresource: sub });

  const attempt = (forced: boolean) => {
    let m = managed;
    if (m.fields.size === 0 && current) {
      // skipNonApplied: fields set before anyone tracked them belong to before-first-apply.
      const beforeId = managerIdentity({ manager: BEFORE_FIRST_APPLY, operation: 'Update', apiVersion: version, subresource: sub });
      m = update(withGoFields({}, t), live, t, m, beforeId, version, now, ignore);
      capUpdateManagers(m);
    }
    return apply(live, config, t, m, id, version, forced, now, ignore);
  };

  let result: { obj: JSONValue | undefined; managed: Managed } | undefined;
  try {
    result = attempt(force);
  } catch (e) {
    if (!(e instanceof Conflicts)) throw e;
    let conflicts = conflictList(e.byManager);
    const allowed = opts.manager === KUBECTL_SSA_MANAGER && current ? allowedByLastApplied(current, t, version) : undefined;
    if (allowed) conflicts = conflicts.filter((c) => !allowed.has(c.path));
    if (conflicts.length) throw conflictError(conflicts);
    result = attempt(true);
  }

  const out = (result.obj === undefined && current ? deepClone(current as unknown as JSONObject) : dropNulls(result.obj ?? live, t)) as unknown as KObject;
  if (!isObject(out.metadata)) out.metadata = {};
  setManagedFields(out, result.managed);
  // lastAppliedUpdater: `kubectl` applies keep an existing last-applied annotation current.
  const annotations = out.metadata.annotations;
  if (opts.manager === KUBECTL_SSA_MANAGER && isObject(annotations) && typeof annotations[LAST_APPLIED_ANNOTATION] === 'string' && annotations[LAST_APPLIED_ANNOTATION]) {
    annotations[LAST_APPLIED_ANNOTATION] = lastAppliedText(applied);
  }
  return out;
}

// ---- request options ----------------------------------------------------------------------

/**
 * The manager of a write that names none (`?fieldManager` absent): the User-Agent up to its
 * first `/`, non-printable characters dropped, cut at 128 bytes (`kubectl/v1.32.4 (linux/amd64)
 * kubernetes/…` → `kubectl`).
 */
export function defaultManager(userAgent: string | undefined): string {
  const prefix = (userAgent ?? '').split('/')[0];
  // Printable ASCII (letters, digits, punctuation, symbols, space) is kept as it is.
  if (prefix.length <= FIELD_MANAGER_MAX_LENGTH && /^[\x20-\x7e]*$/.test(prefix)) return prefix;
  let out = '';
  let bytes = 0;
  for (const ch of prefix) {
    if (!/[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u.test(ch)) continue;
    const n = Buffer.byteLength(ch);
    if (bytes + n > FIELD_MANAGER_MAX_LENGTH) break;
    out += ch;
    bytes += n;
  }
  return out;
}

/**
 * ValidatePatchOptions for the field-management part: an apply must name its manager, only
 * an apply may force, and a manager name is at most 128 printable characters. Returns the
 * 422 upstream answers (`PatchOptions.meta.k8s.io "" is invalid: …`), or undefined.
 */
export function patchOptionsError(opts: { apply: boolean; fieldManager?: string; force?: boolean }): StatusError | undefined {
  const errs = [];
  if (!opts.apply) {
    if (opts.force !== undefined) errs.push(fieldErr.forbidden('force', 'may not be specified for non-apply patch'));
  } else if (!opts.fieldManager) {
    errs.push(fieldErr.required('fieldManager', 'is required for apply patch'));
  }
  const fm = opts.fieldManager ?? '';
  if (Buffer.byteLength(fm) > FIELD_MANAGER_MAX_LENGTH) errs.push(fieldErr.tooLong('fieldManager', FIELD_MANAGER_MAX_LENGTH));
  for (const ch of fm) {
    if (!/[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u.test(ch)) {
      errs.push(fieldErr.invalid('fieldManager', fm, 'must only contain printable characters'));
      break;
    }
  }
  return errs.length ? invalid({ group: 'meta.k8s.io', kind: 'PatchOptions' }, '', errs) : undefined;
}
