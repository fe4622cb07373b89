// The garbage collector, as upstream's pkg/controller/garbagecollector: a graph of every
// object's ownerReferences built from an informer on every resource that can be listed,
// watched and deleted (custom resources included, followed as their CRDs come and go),
// and workers that act on it:
//   - attemptToDelete: an object whose owners are all gone (verified by a live GET of
//     each owner, comparing UIDs) is deleted, honouring its own orphan / foreground
//     finalizers; references to missing owners next to a live one are removed instead.
//     Owners never observed are "virtual" nodes, checked the same way (dangling owner
//     cleanup after a restart).
//   - foreground deletion: an owner with deletionTimestamp and the foregroundDeletion
//     finalizer has its dependents deleted (in the foreground too when they have
//     dependents of their own); when no dependent with blockOwnerDeletion is left the
//     finalizer is removed and the apiserver deletes the owner.
//   - orphaning: an owner with the orphan finalizer has its reference removed from every
//     dependent, then the finalizer removed.
// Graph changes are applied synchronously in the informer handlers (one JavaScript
// thread: no locks); workers look nodes up by UID when they run.

import type { KObject, OwnerReference } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import { Informer } from '../../client/informer.ts';
import { refString } from '../../client/resources.ts';
import type { Client, ResourceRef } from '../../client/types.ts';
import type { Logger } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers, type ReconcileResult } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { CRD_REF, groupOf, ResourceCatalog, type ResourceEntry } from './discovery.ts';

export const FINALIZER_ORPHAN = 'orphan';
export const FINALIZER_FOREGROUND = 'foregroundDeletion';

/** Resources the collector never watches (upstream's ignoredResources): events churn and own nothing. */
const IGNORED = new Set(['/events', 'events.k8s.io/events']);

export function garbageCollectorController(): Controller {
  return { name: 'garbagecollector', start: (ctx, signal) => new GarbageCollector(ctx).run(signal) };
}

export interface Identity {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

export class GraphNode {
  identity: Identity;
  readonly dependents = new Set<GraphNode>();
  owners: OwnerReference[] = [];
  beingDeleted = false;
  deletingDependents = false;
  /** Known only from a dependent's reference, not (yet) seen by an informer. */
  virtual: boolean;

  constructor(identity: Identity, virtual: boolean) {
    this.identity = identity;
    this.virtual = virtual;
  }

  /** Dependents whose reference to this node has blockOwnerDeletion. */
  blockingDependents(): GraphNode[] {
    return [...this.dependents].filter((d) => d.owners.some((o) => o.uid === this.identity.uid && o.blockOwnerDeletion === true));
  }

  toString(): string {
    const i = this.identity;
    return `[${i.apiVersion}/${i.kind}, namespace: ${i.namespace}, name: ${i.name}, uid: ${i.uid}]`;
  }
}

function beingDeleted(o: KObject): boolean {
  return !!o.metadata.deletionTimestamp;
}

function hasFinalizer(o: KObject, f: string): boolean {
  return o.metadata.finalizers?.includes(f) ?? false;
}

/** The object enters deletion with finalizer `f` (newly being deleted, or newly carrying it). */
function startsWaitingWith(old: KObject | undefined, cur: KObject, f: string): boolean {
  if (!beingDeleted(cur) || !hasFinalizer(cur, f)) return false;
  if (!old) return true;
  return !beingDeleted(old) || !hasFinalizer(old, f);
}

function sameCoordinates(a: { apiVersion: string; kind: string; name: string }, b: { apiVersion: string; kind: string; name: string }): boolean {
  return groupOf(a.apiVersion) === groupOf(b.apiVersion) && a.kind === b.kind && a.name === b.name;
}

/** A small LRU set (upstream's absentOwnerCache). */
class LRUSet {
  private readonly m = new Map<string, true>();
  private readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  has(k: string): boolean {
    if (!this.m.has(k)) return false;
    this.m.delete(k);
    this.m.set(k, true);
    return true;
  }
  add(k: string): void {
    this.m.delete(k);
    this.m.set(k, true);
    if (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
  }
}

export class GarbageCollector {
  private readonly ctx: ControllerContext;
  private readonly client: Client;
  private readonly log: Logger;
  readonly catalog = new ResourceCatalog();
  /** uid → node. */
  readonly graph = new Map<string, GraphNode>();
  private readonly attemptToDelete = new RateLimitingQueue<string>({ name: 'garbage_collector_attempt_to_delete' });
  private readonly attemptToOrphan = new RateLimitingQueue<string>({ name: 'garbage_collector_attempt_to_orphan' });
  private readonly absentOwners = new LRUSet(500);
  private readonly builtinMonitors: Informer[] = [];
  private readonly customMonitors = new Map<string, { informer: Informer; stop: AbortController }>();
  private readonly crdInformer: Informer;
  private signal?: AbortSignal;

  constructor(ctx: ControllerContext) {
    this.ctx = ctx;
    this.client = ctx.client;
    this.log = ctx.log;
    for (const e of this.catalog.all()) {
      if (!this.collectable(e)) continue;
      const inf = ctx.factory.informerFor(e.ref);
      this.watch(inf, e);
      this.builtinMonitors.push(inf);
    }
    this.crdInformer = ctx.factory.informerFor(CRD_REF);
    const resync = () => this.syncCustomMonitors();
    this.crdInformer.addEventHandler({ onAdd: resync, onUpdate: resync, onDelete: resync });
  }

  private collectable(e: ResourceEntry): boolean {
    if (IGNORED.has(`${e.ref.group}/${e.ref.resource}`)) return false;
    return ['list', 'watch', 'delete'].every((v) => e.verbs.includes(v));
  }

  private watch(inf: Informer, e: ResourceEntry): void {
    const apiVersion = e.ref.group ? `${e.ref.group}/${e.ref.version}` : e.ref.version;
    inf.addEventHandler({
      onAdd: (o) => this.processGraphChange({ type: 'add', obj: o, apiVersion, kind: e.kind }),
      onUpdate: (old, o) => this.processGraphChange({ type: 'update', obj: o, old, apiVersion, kind: e.kind }),
      onDelete: (o) => this.processGraphChange({ type: 'delete', obj: o, apiVersion, kind: e.kind }),
    });
  }

  /** Starts and stops monitors of custom resources as CRDs become established or go away. */
  private syncCustomMonitors(): void {
    if (!this.signal || this.signal.aborted) return;
    this.catalog.setCustomResources(this.crdInformer.lister.list());
    const want = new Map(this.catalog.customResources().filter((e) => this.collectable(e)).map((e) => [refString(e.ref) + '/' + e.ref.version, e]));
    for (const [k, m] of this.customMonitors) {
      if (want.has(k)) continue;
      m.stop.abort();
      this.customMonitors.delete(k);
    }
    for (const [k, e] of want) {
      if (this.customMonitors.has(k)) continue;
      const stop = new AbortController();
      const signal = AbortSignal.any([this.signal, stop.signal]);
      const informer = new Informer(this.client, e.ref, { log: this.log, minBackoffMs: 200 });
      this.watch(informer, e);
      informer.start(signal);
      this.customMonitors.set(k, { informer, stop });
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    for (const inf of [...this.builtinMonitors, this.crdInformer]) if (!(await inf.waitForSync(signal))) return;
    this.syncCustomMonitors();
    // Custom resources known at start are waited for too (bounded: a broken one must not stall collection).
    const deadline = AbortSignal.any([signal, AbortSignal.timeout(30_000)]);
    await Promise.all([...this.customMonitors.values()].map((m) => m.informer.waitForSync(deadline)));
    if (signal.aborted) return;
    this.log('garbage collector: all resource monitors have synced', { nodes: this.graph.size });
    await Promise.all([
      runWorkers(this.attemptToDelete, this.ctx.workers, (uid) => this.attemptToDeleteWorker(uid), signal, { log: this.log }),
      runWorkers(this.attemptToOrphan, Math.max(1, Math.floor(this.ctx.workers / 2)), (uid) => this.attemptToOrphanWorker(uid), signal, { log: this.log }),
    ]);
  }

  // ---- graph builder ----

  private identityOf(o: KObject, apiVersion: string, kind: string): Identity {
    return { apiVersion, kind: o.kind ?? kind, namespace: o.metadata.namespace ?? '', name: o.metadata.name ?? '', uid: o.metadata.uid ?? '' };
  }

  /** processGraphChanges for one informer event (`apiVersion` and `kind` of the informer's resource). */
  private processGraphChange(ev: { type: 'add' | 'update' | 'delete'; obj: KObject; old?: KObject; apiVersion: string; kind: string }): void {
    const { type, obj: o, old, apiVersion, kind } = ev;
    const uid = o.metadata.uid;
    if (!uid) return;
    const identity = this.identityOf(o, apiVersion, kind);
    let existing = this.graph.get(uid);
    if (existing && existing.virtual && type !== 'delete') {
      // First sight of an owner known only from references: dependents that named it otherwise are suspect.
      if (!sameCoordinates(existing.identity, identity) || (existing.identity.namespace !== identity.namespace && identity.namespace !== '')) {
        for (const dep of existing.dependents) {
          const r = dep.owners.find((x) => x.uid === uid);
          if (!r || !sameCoordinates(r, identity) || (identity.namespace && dep.identity.namespace !== identity.namespace)) this.attemptToDelete.add(dep.identity.uid);
        }
      }
      existing.identity = identity;
      existing.virtual = false;
    }
    if (type !== 'delete' && !existing) {
      const n = new GraphNode(identity, false);
      n.owners = [...(o.metadata.ownerReferences ?? [])];
      n.beingDeleted = beingDeleted(o);
      n.deletingDependents = n.beingDeleted && hasFinalizer(o, FINALIZER_FOREGROUND);
      this.graph.set(uid, n);
      this.addDependentToOwners(n, n.owners);
      this.processTransitions(old, o, n);
      return;
    }
    if (type !== 'delete' && existing) {
      const { added, removed, changed } = referencesDiffs(existing.owners, o.metadata.ownerReferences ?? []);
      if (added.length || removed.length || changed.length) {
        this.addUnblockedOwnersToDeleteQueue(removed, changed);
        existing.owners = [...(o.metadata.ownerReferences ?? [])];
        this.addDependentToOwners(existing, added);
        this.removeDependentFromOwners(existing, removed);
      }
      if (beingDeleted(o)) existing.beingDeleted = true;
      this.processTransitions(old, o, existing);
      return;
    }
    if (!existing) return;
    this.removeNode(existing, identity);
  }

  /** A delete confirmed by the API rather than an informer (the owner is gone, or has another UID now). */
  private virtualDelete(identity: Identity): void {
    const existing = this.graph.get(identity.uid);
    if (!existing) return;
    if (!existing.virtual && !sameCoordinates(existing.identity, identity)) {
      // A real node disagrees with the coordinates found missing: only the dependents naming those are dangling.
      this.absentOwners.add(absentKey(identity));
      for (const dep of existing.dependents) {
        const r = dep.owners.find((x) => x.uid === identity.uid);
        if (r && sameCoordinates(r, identity)) this.attemptToDelete.add(dep.identity.uid);
      }
      return;
    }
    if (existing.virtual) {
      const nonMatching = [...existing.dependents].filter((d) => {
        const r = d.owners.find((x) => x.uid === identity.uid);
        return r && !sameCoordinates(r, identity);
      });
      if (nonMatching.length) {
        // Some dependents name this owner differently: check those coordinates next.
        this.absentOwners.add(absentKey(identity));
        for (const dep of existing.dependents) if (!nonMatching.includes(dep)) this.attemptToDelete.add(dep.identity.uid);
        const r = nonMatching[0].owners.find((x) => x.uid === identity.uid)!;
        existing.identity = { apiVersion: r.apiVersion, kind: r.kind, name: r.name, uid: r.uid, namespace: nonMatching[0].identity.namespace };
        this.attemptToDelete.addRateLimited(identity.uid);
        return;
      }
    }
    this.removeNode(existing, identity);
  }

  private removeNode(n: GraphNode, identity: Identity): void {
    this.graph.delete(n.identity.uid);
    this.removeDependentFromOwners(n, n.owners);
    if (n.dependents.size) this.absentOwners.add(absentKey(identity));
    for (const dep of n.dependents) this.attemptToDelete.add(dep.identity.uid);
    for (const o of n.owners) {
      const owner = this.graph.get(o.uid);
      if (owner?.deletingDependents) this.attemptToDelete.add(owner.identity.uid);
    }
  }

  private addDependentToOwners(n: GraphNode, owners: OwnerReference[]): void {
    let suspect = false;
    for (const o of owners) {
      let owner = this.graph.get(o.uid);
      if (!owner) {
        owner = new GraphNode({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid, namespace: n.identity.namespace }, true);
        this.graph.set(o.uid, owner);
        owner.dependents.add(n);
        // Is it there at all? attemptToDelete asks the API, and removes it if not.
        this.attemptToDelete.add(o.uid);
        continue;
      }
      owner.dependents.add(n);
      if (owner.identity.namespace && owner.identity.namespace !== n.identity.namespace) suspect = true;
      else if (!sameCoordinates(o, owner.identity)) suspect = true;
    }
    if (suspect) this.attemptToDelete.add(n.identity.uid);
  }

  private removeDependentFromOwners(n: GraphNode, owners: OwnerReference[]): void {
    for (const o of owners) this.graph.get(o.uid)?.dependents.delete(n);
  }

  /** Owners waiting for this dependent (foreground) may proceed once it stops blocking them. */
  private addUnblockedOwnersToDeleteQueue(removed: OwnerReference[], changed: { old: OwnerReference; cur: OwnerReference }[]): void {
    for (const r of removed) {
      if (r.blockOwnerDeletion) {
        const owner = this.graph.get(r.uid);
        if (owner) this.attemptToDelete.add(owner.identity.uid);
      }
    }
    for (const c of changed) {
      if (c.old.blockOwnerDeletion && !c.cur.blockOwnerDeletion) {
        const owner = this.graph.get(c.cur.uid);
        if (owner) this.attemptToDelete.add(owner.identity.uid);
      }
    }
  }

  private processTransitions(old: KObject | undefined, cur: KObject, n: GraphNode): void {
    if (startsWaitingWith(old, cur, FINALIZER_ORPHAN)) {
      this.attemptToOrphan.add(n.identity.uid);
      return;
    }
    if (startsWaitingWith(old, cur, FINALIZER_FOREGROUND)) {
      n.deletingDependents = true;
      for (const dep of n.dependents) this.attemptToDelete.add(dep.identity.uid);
      this.attemptToDelete.add(n.identity.uid);
    }
  }

  // ---- API access ----

  private resolve(identity: { apiVersion: string; kind: string }): ResourceRef {
    const e = this.catalog.forKind(identity.apiVersion, identity.kind);
    if (!e) throw new Error(`unable to get REST mapping for ${identity.apiVersion}/${identity.kind}`);
    return e.ref;
  }

  private async getObject(identity: Identity): Promise<KObject | undefined> {
    const ref = this.resolve(identity);
    try {
      return await this.client.get(ref, ref.namespaced ? identity.namespace : undefined, identity.name);
    } catch (e) {
      if (isStatusError(e) && e.code === 404) return undefined;
      throw e;
    }
  }

  private async deleteObject(identity: Identity, policy: 'Orphan' | 'Background' | 'Foreground'): Promise<void> {
    const ref = this.resolve(identity);
    this.log('deleting object', { object: `${identity.kind} ${identity.namespace ? identity.namespace + '/' : ''}${identity.name}`, propagationPolicy: policy });
    try {
      await this.client.delete(ref, ref.namespaced ? identity.namespace : undefined, identity.name, { preconditions: { uid: identity.uid }, propagationPolicy: policy });
    } catch (e) {
      // Gone already, or another object of that name now: nothing of ours to delete.
      if (isStatusError(e) && (e.code === 404 || e.code === 409)) return;
      throw e;
    }
  }

  /** Writes metadata (owner references or finalizers) with a merge patch pinned to the version read; retried on conflicts. */
  private async patchMetadata(identity: Identity, edit: (o: KObject) => Record<string, unknown> | undefined): Promise<void> {
    const ref = this.resolve(identity);
    for (let attempt = 0; attempt < 5; attempt++) {
      const o = await this.getObject(identity);
      if (!o || o.metadata.uid !== identity.uid) return;
      const metadata = edit(o);
      if (!metadata) return;
      try {
        await this.client.patch(ref, ref.namespaced ? identity.namespace : undefined, identity.name, 'merge', { metadata: { ...metadata, resourceVersion: o.metadata.resourceVersion } });
        return;
      } catch (e) {
        if (isStatusError(e) && e.code === 404) return;
        if (!(isStatusError(e) && e.code === 409)) throw e;
      }
    }
    throw new Error(`too many conflicts updating ${identity.kind} ${identity.name}; the garbage collector will retry later`);
  }

  private async removeOwnerReferences(identity: Identity, ownerUIDs: string[]): Promise<void> {
    await this.patchMetadata(identity, (o) => {
      const refs = o.metadata.ownerReferences ?? [];
      const kept = refs.filter((r) => !ownerUIDs.includes(r.uid));
      if (kept.length === refs.length) return undefined;
      return { ownerReferences: kept.length ? kept : null };
    });
  }

  private async removeFinalizer(identity: Identity, finalizer: string): Promise<void> {
    await this.patchMetadata(identity, (o) => {
      const fs = o.metadata.finalizers ?? [];
      if (!fs.includes(finalizer)) return undefined;
      const kept = fs.filter((f) => f !== finalizer);
      return { finalizers: kept.length ? kept : null };
    });
  }

  // ---- workers ----

  private async attemptToDeleteWorker(uid: string): Promise<ReconcileResult> {
    const n = this.graph.get(uid);
    if (!n) return;
    let outcome: 'virtualDelete' | 'done';
    try {
      outcome = await this.attemptToDeleteItem(n);
    } catch (e) {
      this.log('error syncing item', { item: n.toString(), error: String((e as Error)?.message ?? e) });
      return { requeue: true };
    }
    if (outcome === 'virtualDelete') return;
    // Not seen by an informer yet: keep checking until it is, or is gone.
    if (n.virtual && this.graph.get(uid) === n) return { requeue: true };
  }

  private async attemptToDeleteItem(item: GraphNode): Promise<'virtualDelete' | 'done'> {
    if (item.beingDeleted && !item.deletingDependents) return 'done';
    const latest = await this.getObject(item.identity);
    if (!latest || latest.metadata.uid !== item.identity.uid) {
      this.virtualDelete(item.identity);
      return 'virtualDelete';
    }
    if (item.deletingDependents) {
      await this.processDeletingDependents(item);
      return 'done';
    }
    const refs = latest.metadata.ownerReferences ?? [];
    if (refs.length === 0) return 'done';
    const solid: OwnerReference[] = [];
    const dangling: OwnerReference[] = [];
    const waiting: OwnerReference[] = [];
    for (const r of refs) {
      const { isDangling, owner } = await this.isDangling(r, item);
      if (isDangling) dangling.push(r);
      else if (owner && beingDeleted(owner) && hasFinalizer(owner, FINALIZER_FOREGROUND)) waiting.push(r);
      else solid.push(r);
    }
    if (solid.length) {
      if (dangling.length === 0 && waiting.length === 0) return 'done';
      // Owners gone, or deleting in the foreground, lose this dependent; the live owner keeps it.
      await this.removeOwnerReferences(item.identity, [...dangling, ...waiting].map((r) => r.uid));
      return 'done';
    }
    if (waiting.length && item.dependents.size) {
      for (const dep of item.dependents) {
        if (dep.deletingDependents) {
          // A cycle of foreground deletions: stop blocking the owners so it can end.
          await this.patchMetadata(item.identity, (o) => {
            const rs = o.metadata.ownerReferences ?? [];
            if (!rs.some((r) => r.blockOwnerDeletion && waiting.some((w) => w.uid === r.uid))) return undefined;
            return { ownerReferences: rs.map((r) => (waiting.some((w) => w.uid === r.uid) ? { ...r, blockOwnerDeletion: false } : r)) };
          });
          break;
        }
      }
      await this.deleteObject(item.identity, 'Foreground');
      return 'done';
    }
    const policy = hasFinalizer(latest, FINALIZER_ORPHAN) ? 'Orphan' : hasFinalizer(latest, FINALIZER_FOREGROUND) ? 'Foreground' : 'Background';
    await this.deleteObject(item.identity, policy);
    return 'done';
  }

  /** isDangling: the owner a reference names is absent (or another object with that name) per a live GET. */
  private async isDangling(r: OwnerReference, item: GraphNode): Promise<{ isDangling: boolean; owner?: KObject }> {
    const coords = { apiVersion: r.apiVersion, kind: r.kind, name: r.name, uid: r.uid };
    if (this.absentOwners.has(absentKey({ ...coords, namespace: '' })) || this.absentOwners.has(absentKey({ ...coords, namespace: item.identity.namespace }))) {
      return { isDangling: true };
    }
    const ref = this.resolve(r);
    if (ref.namespaced && !item.identity.namespace) throw new Error(`cluster-scoped ${item.toString()} has a namespaced owner ${r.kind} ${r.name}: not valid`);
    const identity: Identity = { ...coords, namespace: ref.namespaced ? item.identity.namespace : '' };
    const owner = await this.getObject(identity);
    if (!owner || owner.metadata.uid !== r.uid) {
      this.absentOwners.add(absentKey(identity));
      return { isDangling: true };
    }
    return { isDangling: false, owner };
  }

  private async processDeletingDependents(item: GraphNode): Promise<void> {
    const blocking = item.blockingDependents();
    if (blocking.length === 0) {
      await this.removeFinalizer(item.identity, FINALIZER_FOREGROUND);
      return;
    }
    for (const dep of blocking) if (!dep.deletingDependents) this.attemptToDelete.add(dep.identity.uid);
  }

  private async attemptToOrphanWorker(uid: string): Promise<ReconcileResult> {
    const owner = this.graph.get(uid);
    if (!owner) return;
    const errors: string[] = [];
    await Promise.all(
      [...owner.dependents].map(async (dep) => {
        try {
          await this.removeOwnerReferences(dep.identity, [uid]);
        } catch (e) {
          errors.push(`orphaning ${dep.toString()} failed: ${String((e as Error)?.message ?? e)}`);
        }
      }),
    );
    if (errors.length) {
      this.log('orphaning dependents failed; retrying', { owner: owner.toString(), errors });
      return { requeue: true };
    }
    await this.removeFinalizer(owner.identity, FINALIZER_ORPHAN);
  }
}

function absentKey(i: { apiVersion: string; kind: string; name: string; uid: string; namespace: string }): string {
  return `${groupOf(i.apiVersion)}/${i.kind}/${i.namespace}/${i.name}/${i.uid}`;
}

const NO_DIFFS = { added: [], removed: [], changed: [] };

/** Whether two owner references have the same fields with the same values, in the same order (as their JSON would). */
function sameReference(a: OwnerReference, b: OwnerReference): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    if (ka[i] !== kb[i] || (a as any)[ka[i]] !== (b as any)[kb[i]]) return false;
  }
  return true;
}

/** referencesDiffs: owner references added, removed and changed (same UID, other fields) between two lists. */
function referencesDiffs(old: OwnerReference[], cur: OwnerReference[]): { added: OwnerReference[]; removed: OwnerReference[]; changed: { old: OwnerReference; cur: OwnerReference }[] } {
  // Most updates (every heartbeat) leave the references as they were.
  if (old.length === cur.length && old.every((r, i) => sameReference(r, cur[i]))) return NO_DIFFS;
  const oldBy = new Map(old.map((r) => [r.uid, r]));
  const curBy = new Map(cur.map((r) => [r.uid, r]));
  const added = cur.filter((r) => !oldBy.has(r.uid));
  const removed = old.filter((r) => !curBy.has(r.uid));
  const changed = cur.filter((r) => oldBy.has(r.uid) && !sameReference(oldBy.get(r.uid)!, r)).map((r) => ({ old: oldBy.get(r.uid)!, cur: r }));
  return { added, removed, changed };
}
