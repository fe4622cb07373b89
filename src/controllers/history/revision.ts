// ControllerRevisions as upstream's pkg/controller/history: immutable snapshots of a
// StatefulSet's or DaemonSet's pod template, named `<parent>-<hash>`, numbered in the
// order they became current. What must hold:
//   - A revision's name is a function of its data and the parent's collisionCount, so
//     re-creating one that exists is idempotent; a name taken by different data is a
//     hash collision: the caller bumps collisionCount and tries the next name.
//   - Two revisions are equal when their data is (compared key-order independently).
//   - Rolling back to an old template re-uses the old revision and gives it the next
//     revision number, instead of creating a duplicate.

import type { KObject } from '../../api/object.ts';
import type { LabelSelector } from '../../api/selectors.ts';
import { isStatusError } from '../../api/errors.ts';
import { ref } from '../../client/resources.ts';
import type { Lister } from '../../client/indexer.ts';
import type { Client } from '../../client/types.ts';
import { adoptObject, canonicalJSON, controllerRefOf, isNotFound, newControllerRef, releaseOwner, timeOf } from './pods.ts';

export const CONTROLLER_REVISION_HASH_LABEL = 'controller-revision-hash';

/** FNV-1 32-bit (Go's hash/fnv New32) of `data`. */
export function fnv32(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of data) {
    h = Math.imul(h, 0x01000193) >>> 0;
    h = (h ^ b) >>> 0;
  }
  return h >>> 0;
}

/** FNV-1a 32-bit (Go's hash/fnv New32a). */
export function fnv32a(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const b of data) {
    h = (h ^ b) >>> 0;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

// k8s.io/apimachinery/pkg/util/rand: no vowels (no words) and no look-alike characters.
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

/** rand.SafeEncodeString: each character mapped into an alphabet that spells no words. */
export function safeEncodeString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += ALPHANUMS[s.charCodeAt(i) % ALPHANUMS.length];
  return out;
}

const utf8 = new TextEncoder();

/** history.HashControllerRevision: the revision's data with the collision count as a probe. */
export function hashRevisionData(data: unknown, collisionCount?: number): string {
  let bytes = utf8.encode(canonicalJSON(data));
  if (collisionCount !== undefined && collisionCount !== null) {
    const probe = utf8.encode(String(collisionCount));
    const all = new Uint8Array(bytes.length + probe.length);
    all.set(bytes);
    all.set(probe, bytes.length);
    bytes = all;
  }
  return safeEncodeString(String(fnv32(bytes)));
}

/** controller.ComputeHash: a pod template's hash (DaemonSet pods' controller-revision-hash, pod-template-hash). */
export function computeTemplateHash(template: unknown, collisionCount?: number): string {
  let text = canonicalJSON(template ?? {});
  if (collisionCount !== undefined && collisionCount !== null) text += String(collisionCount);
  return safeEncodeString(String(fnv32a(utf8.encode(text))));
}

/** history.ControllerRevisionName: the prefix is cut so the name stays a valid DNS subdomain. */
export function controllerRevisionName(prefix: string, hash: string): string {
  return `${prefix.length > 223 ? prefix.slice(0, 223) : prefix}-${hash}`;
}

/** The patch a StatefulSet or DaemonSet revision stores: its pod template, replacing the old one. */
export function templatePatch(template: unknown): Record<string, unknown> {
  return { spec: { template: { ...(template as Record<string, unknown>), $patch: 'replace' } } };
}

/** The pod template stored in a revision made by templatePatch. */
export function templateFromRevision(rev: KObject): Record<string, any> {
  const t = { ...((rev.data?.spec?.template ?? {}) as Record<string, any>) };
  delete t.$patch;
  return t;
}

export interface NewRevisionOptions {
  apiVersion: string;
  kind: string;
  /** Labels of the parent's pod template; the revision carries them and its hash. */
  templateLabels?: Record<string, string>;
  data: unknown;
  revision: number;
  collisionCount?: number;
  /** The name's hash (DaemonSets hash the template itself); by default the data's. */
  hash?: string;
}

/** history.NewControllerRevision: a revision owned by `parent`, named `<parent>-<hash>`. */
export function newControllerRevision(parent: KObject, opts: NewRevisionOptions): KObject {
  const hash = opts.hash ?? hashRevisionData(opts.data, opts.collisionCount);
  return {
    apiVersion: 'apps/v1',
    kind: 'ControllerRevision',
    metadata: {
      name: controllerRevisionName(parent.metadata.name!, hash),
      namespace: parent.metadata.namespace,
      labels: { ...(opts.templateLabels ?? {}), [CONTROLLER_REVISION_HASH_LABEL]: hash },
      ownerReferences: [newControllerRef(parent, opts.apiVersion, opts.kind)],
    },
    data: opts.data,
    revision: opts.revision,
  };
}

export function revisionNumber(rev: KObject): number {
  return typeof rev.revision === 'number' ? rev.revision : Number(rev.revision ?? 0);
}

/**
 * history.EqualRevision: equal data. (Upstream also compares hash labels, but only ones
 * that parse as integers, which the encoded hashes never do: in effect, data alone.)
 */
export function equalRevision(a: KObject, b: KObject): boolean {
  return canonicalJSON(a.data) === canonicalJSON(b.data);
}

export function findEqualRevisions(revisions: KObject[], needle: KObject): KObject[] {
  return revisions.filter((r) => equalRevision(r, needle));
}

/** history.SortControllerRevisions: by revision number, then creation, then name. */
export function sortRevisions(revisions: KObject[]): KObject[] {
  return [...revisions].sort((a, b) => {
    const d = revisionNumber(a) - revisionNumber(b);
    if (d !== 0) return d;
    const ta = timeOf(a.metadata.creationTimestamp) ?? 0;
    const tb = timeOf(b.metadata.creationTimestamp) ?? 0;
    if (ta !== tb) return ta - tb;
    return String(a.metadata.name).localeCompare(String(b.metadata.name));
  });
}

/** history.nextRevision: one more than the highest (1 for none). */
export function nextRevision(sorted: KObject[]): number {
  return sorted.length === 0 ? 1 : revisionNumber(sorted[sorted.length - 1]) + 1;
}

/**
 * The revisions `parent` owns, adopting orphans its selector matches and releasing owned
 * ones it no longer does (history's ClaimControllerRevisions).
 */
export async function claimRevisions(client: Client, lister: Lister, parent: KObject, selector: LabelSelector, owner: { apiVersion: string; kind: string }): Promise<KObject[]> {
  const out: KObject[] = [];
  for (const rev of lister.list(parent.metadata.namespace)) {
    const cref = controllerRefOf(rev);
    const matches = selector.matches(rev.metadata.labels);
    if (cref) {
      if (cref.uid !== parent.metadata.uid) continue;
      if (matches || parent.metadata.deletionTimestamp) {
        out.push(rev);
        continue;
      }
      try {
        await releaseOwner(client, ref.controllerrevisions, rev, parent.metadata.uid!);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      continue;
    }
    if (!matches || rev.metadata.deletionTimestamp || parent.metadata.deletionTimestamp) continue;
    try {
      out.push(await adoptObject(client, ref.controllerrevisions, rev, newControllerRef(parent, owner.apiVersion, owner.kind)));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return out;
}

/**
 * Creates `revision` (history.CreateControllerRevision). If its name is taken by a
 * revision with equal data, that one is returned; if by different data, the collision
 * count is bumped and the name recomputed by `rename(collisionCount)` until one is free.
 * Returns the revision and the collision count used.
 */
export async function createControllerRevision(
  client: Client,
  revision: KObject,
  collisionCount: number,
  rename: (collisionCount: number) => KObject,
): Promise<{ revision: KObject; collisionCount: number }> {
  let rev = revision;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const created = await client.create(ref.controllerrevisions, rev.metadata.namespace, rev);
      return { revision: created, collisionCount };
    } catch (e) {
      if (!(isStatusError(e) && e.code === 409)) throw e;
      const existing = await client.get(ref.controllerrevisions, rev.metadata.namespace, rev.metadata.name!);
      if (equalRevision(existing, rev) && controllerRefOf(existing)?.uid === controllerRefOf(rev)?.uid) {
        return { revision: existing, collisionCount };
      }
      collisionCount++;
      rev = rename(collisionCount);
    }
  }
  throw new Error(`could not find a free name for revision ${revision.metadata.name} after 100 collisions`);
}

/** Gives `rev` a new revision number (a rollback to an old template). */
export async function updateRevisionNumber(client: Client, rev: KObject, revision: number): Promise<KObject> {
  return await client.patch(ref.controllerrevisions, rev.metadata.namespace, rev.metadata.name!, 'merge', { revision });
}

/**
 * Deletes the oldest revisions not in `live` beyond `limit` (revisionHistoryLimit), as
 * the StatefulSet and DaemonSet controllers' truncateHistory / cleanupHistory.
 */
export async function truncateHistory(client: Client, revisions: KObject[], live: Set<string>, limit: number): Promise<void> {
  const history = sortRevisions(revisions).filter((r) => !live.has(r.metadata.name!));
  const excess = history.length - Math.max(0, limit);
  for (let i = 0; i < excess; i++) {
    try {
      await client.delete(ref.controllerrevisions, history[i].metadata.namespace, history[i].metadata.name!);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
}
