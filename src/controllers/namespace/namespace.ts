// The namespace controller, as upstream's pkg/controller/namespace: a namespace with a
// deletionTimestamp (phase Terminating, spec.finalizers ["kubernetes"]) has every
// namespaced resource in it deleted (deletecollection, or list and delete each where
// that is not offered), custom resources included; objects held by finalizers are
// waited for. Its conditions say what is left (NamespaceDeletionDiscoveryFailure,
// NamespaceDeletionGroupVersionParsingFailure, NamespaceDeletionContentFailure,
// NamespaceContentRemaining, NamespaceFinalizersRemaining with upstream's reasons and
// messages). Once empty, PUT namespaces/<name>/finalize drops the "kubernetes"
// finalizer and the apiserver removes the namespace. Idempotent: every pass starts
// from what the API reports.

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import type { Client, ResourceRef } from '../../client/types.ts';
import { keyOf, type Logger } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers, type ReconcileResult } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { CRD_REF, ResourceCatalog, type ResourceEntry } from '../garbagecollector/discovery.ts';

export const FINALIZER_KUBERNETES = 'kubernetes';
/** Seconds upstream estimates for content held by finalizers before looking again. */
const FINALIZER_ESTIMATE_SECONDS = 5;

export function namespaceController(): Controller {
  return { name: 'namespace', start: (ctx, signal) => new NamespaceController(ctx).run(signal) };
}

const CONDITION_TYPES = [
  'NamespaceDeletionDiscoveryFailure',
  'NamespaceDeletionGroupVersionParsingFailure',
  'NamespaceDeletionContentFailure',
  'NamespaceContentRemaining',
  'NamespaceFinalizersRemaining',
] as const;

const OK_REASONS: Record<string, string> = {
  NamespaceDeletionDiscoveryFailure: 'ResourcesDiscovered',
  NamespaceDeletionGroupVersionParsingFailure: 'ParsedGroupVersions',
  NamespaceDeletionContentFailure: 'ContentDeleted',
  NamespaceContentRemaining: 'ContentRemoved',
  NamespaceFinalizersRemaining: 'ContentHasNoFinalizers',
};

const OK_MESSAGES: Record<string, string> = {
  NamespaceDeletionDiscoveryFailure: 'All resources successfully discovered',
  NamespaceDeletionGroupVersionParsingFailure: 'All legacy kube types successfully parsed',
  NamespaceDeletionContentFailure: 'All content successfully deleted, may be waiting on finalization',
  NamespaceContentRemaining: 'All content successfully removed',
  NamespaceFinalizersRemaining: 'All content-preserving finalizers finished',
};

interface NamespaceCondition {
  type: string;
  status: 'True' | 'False';
  lastTransitionTime?: string;
  reason: string;
  message: string;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The conditions after one pass: failures and remaining content as found, the success form for the rest. */
export function namespaceConditions(found: { discoveryErrors: string[]; deleteErrors: string[]; remaining: Map<string, number>; finalizers: Map<string, number> }): NamespaceCondition[] {
  const out: NamespaceCondition[] = [];
  if (found.discoveryErrors.length) {
    out.push({ type: 'NamespaceDeletionDiscoveryFailure', status: 'True', reason: 'DiscoveryFailed', message: `Discovery failed for some groups, ${found.discoveryErrors.length} failing: ${found.discoveryErrors.join(', ')}` });
  }
  if (found.deleteErrors.length) {
    out.push({ type: 'NamespaceDeletionContentFailure', status: 'True', reason: 'ContentDeletionFailed', message: `Failed to delete all resource types, ${found.deleteErrors.length} remaining: ${found.deleteErrors.join(', ')}` });
  }
  const remaining = [...found.remaining].filter(([, n]) => n > 0).map(([gr, n]) => `${gr} has ${n} resource instances`).sort();
  if (remaining.length) out.push({ type: 'NamespaceContentRemaining', status: 'True', reason: 'SomeResourcesRemain', message: `Some resources are remaining: ${remaining.join(', ')}` });
  const fin = [...found.finalizers].filter(([, n]) => n > 0).map(([f, n]) => `${f} in ${n} resource instances`).sort();
  if (fin.length) out.push({ type: 'NamespaceFinalizersRemaining', status: 'True', reason: 'SomeFinalizersRemain', message: `Some content in the namespace has finalizers remaining: ${fin.join(', ')}` });
  for (const t of CONDITION_TYPES) if (!out.some((c) => c.type === t)) out.push({ type: t, status: 'False', reason: OK_REASONS[t], message: OK_MESSAGES[t] });
  return out;
}

/** updateConditions: an unchanged condition keeps its lastTransitionTime; returns whether anything changed. */
function mergeConditions(current: NamespaceCondition[], next: NamespaceCondition[]): { conditions: NamespaceCondition[]; changed: boolean } {
  let changed = false;
  const out = current.map((c) => ({ ...c }));
  for (const n of next) {
    const i = out.findIndex((c) => c.type === n.type);
    if (i < 0) {
      out.push({ ...n, lastTransitionTime: now() });
      changed = true;
    } else if (out[i].status !== n.status || out[i].reason !== n.reason || out[i].message !== n.message) {
      out[i] = { ...n, lastTransitionTime: now() };
      changed = true;
    }
  }
  return { conditions: out, changed };
}

export class NamespaceController {
  private readonly ctx: ControllerContext;
  private readonly client: Client;
  private readonly log: Logger;
  private readonly queue = new RateLimitingQueue<string>({ name: 'namespace' });
  private readonly nsInformer: Informer;
  private readonly crdInformer: Informer;
  private readonly catalog = new ResourceCatalog();

  constructor(ctx: ControllerContext) {
    this.ctx = ctx;
    this.client = ctx.client;
    this.log = ctx.log;
    this.nsInformer = ctx.factory.informerFor(ref.namespaces);
    this.crdInformer = ctx.factory.informerFor(CRD_REF);
    const enqueue = (ns: KObject) => {
      if (ns.metadata.deletionTimestamp) this.queue.add(keyOf(ns));
    };
    this.nsInformer.addEventHandler({ onAdd: enqueue, onUpdate: (_o, ns) => enqueue(ns) });
  }

  async run(signal: AbortSignal): Promise<void> {
    if (!(await this.nsInformer.waitForSync(signal)) || !(await this.crdInformer.waitForSync(signal))) return;
    await runWorkers(this.queue, this.ctx.workers, (name) => this.sync(name), signal, { log: this.log });
  }

  /** Namespaced resources that can be deleted, built-in and custom. */
  private deletableResources(): ResourceEntry[] {
    this.catalog.setCustomResources(this.crdInformer.lister.list());
    // events.k8s.io Events are core Events seen another way: deleting those once is enough.
    return this.catalog.all().filter((e) => e.ref.namespaced && e.verbs.includes('delete') && !(e.ref.group === 'events.k8s.io' && e.ref.resource === 'events'));
  }

  async sync(name: string): Promise<ReconcileResult> {
    let ns: KObject;
    try {
      ns = await this.client.get(ref.namespaces, undefined, name);
    } catch (e) {
      if (isStatusError(e) && e.code === 404) return;
      throw e;
    }
    if (!ns.metadata.deletionTimestamp) return;
    if (ns.status?.phase !== 'Terminating') {
      ns = await this.client.update(ref.namespaces, undefined, { ...ns, status: { ...(ns.status ?? {}), phase: 'Terminating' } }, { subresource: 'status' });
    }
    if (!(ns.spec?.finalizers ?? []).includes(FINALIZER_KUBERNETES)) return;

    const { estimateSeconds, remaining } = await this.deleteAllContent(ns);
    if (remaining > 0) {
      // Objects left (finalizers, pods terminating): look again, as upstream after estimate/2.
      const ms = Math.min(Math.max((estimateSeconds * 1000) / 2, 250), 2000);
      return { requeueAfterMs: ms };
    }
    await this.finalize(ns);
  }

  /** Deletes everything in the namespace; returns how much is left and how long it may take. */
  private async deleteAllContent(ns: KObject): Promise<{ estimateSeconds: number; remaining: number }> {
    const name = ns.metadata.name!;
    const deletedAt = Date.parse(ns.metadata.deletionTimestamp!);
    const found = { discoveryErrors: [] as string[], deleteErrors: [] as string[], remaining: new Map<string, number>(), finalizers: new Map<string, number>() };
    let estimate = 0;
    let total = 0;
    await Promise.all(
      this.deletableResources().map(async (e) => {
        const gr = `${e.ref.resource}.${e.ref.group}`;
        try {
          const r = await this.deleteAllContentFor(e, name, deletedAt);
          if (r.estimateSeconds > estimate) estimate = r.estimateSeconds;
          if (r.remaining > 0) {
            found.remaining.set(gr, r.remaining);
            total += r.remaining;
            for (const [f, n] of r.finalizers) found.finalizers.set(f, (found.finalizers.get(f) ?? 0) + n);
          }
        } catch (err) {
          found.deleteErrors.push(`${gr}: ${String((err as Error)?.message ?? err)}`);
          total++;
        }
      }),
    );
    found.deleteErrors.sort();
    const { conditions, changed } = mergeConditions(ns.status?.conditions ?? [], namespaceConditions(found));
    if (changed) {
      try {
        await this.client.update(ref.namespaces, undefined, { ...ns, status: { ...(ns.status ?? {}), phase: 'Terminating', conditions } }, { subresource: 'status' });
      } catch (err) {
        this.log("couldn't update status condition for namespace", { namespace: name, error: String((err as Error)?.message ?? err) });
      }
    }
    if (found.deleteErrors.length) throw new Error(`failed to delete content of namespace ${name}: ${found.deleteErrors.join('; ')}`);
    return { estimateSeconds: estimate, remaining: total };
  }

  private async deleteAllContentFor(e: ResourceEntry, namespace: string, deletedAt: number): Promise<{ estimateSeconds: number; remaining: number; finalizers: Map<string, number> }> {
    const res: ResourceRef = e.ref;
    let estimate = 0;
    if (res.group === '' && res.resource === 'pods') estimate = await this.estimatePods(namespace, deletedAt);
    if (e.verbs.includes('deletecollection')) {
      await this.client.deleteCollection(res, namespace, { propagationPolicy: 'Background' });
    } else {
      const list = await this.client.list(res, namespace);
      for (const o of list.items) {
        if (o.metadata.deletionTimestamp) continue;
        try {
          await this.client.delete(res, namespace, o.metadata.name!, { propagationPolicy: 'Background' });
        } catch (err) {
          if (!(isStatusError(err) && err.code === 404)) throw err;
        }
      }
    }
    if (!e.verbs.includes('list')) return { estimateSeconds: estimate, remaining: 0, finalizers: new Map() };
    const left = await this.client.list(res, namespace);
    const finalizers = new Map<string, number>();
    for (const o of left.items) for (const f of o.metadata.finalizers ?? []) finalizers.set(f, (finalizers.get(f) ?? 0) + 1);
    if (left.items.length && estimate === 0) {
      // Finalizers hold them (a normal wait), or something is still terminating.
      if (finalizers.size > 0) estimate = FINALIZER_ESTIMATE_SECONDS;
      else if (!left.items.some((o) => o.metadata.deletionTimestamp)) throw new Error(`unexpected items still remain in namespace: ${namespace} for gvr: ${res.group}/${res.version}, Resource=${res.resource}`);
      else estimate = 1;
    }
    return { estimateSeconds: estimate, remaining: left.items.length, finalizers };
  }

  /** estimateGracefulTerminationForPods: the longest grace period still running. */
  private async estimatePods(namespace: string, deletedAt: number): Promise<number> {
    const pods = await this.client.list(ref.pods, namespace);
    let estimate = 0;
    for (const p of pods.items) {
      const phase = p.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') continue;
      const grace = p.metadata.deletionGracePeriodSeconds ?? p.spec?.terminationGracePeriodSeconds ?? 30;
      const left = p.metadata.deletionTimestamp ? Math.max(0, Math.ceil((Date.parse(p.metadata.deletionTimestamp) - Date.now()) / 1000)) : grace;
      if (left > estimate) estimate = left;
    }
    void deletedAt;
    return estimate;
  }

  /** PUT namespaces/<name>/finalize without the "kubernetes" finalizer; the apiserver then removes the namespace. */
  private async finalize(ns: KObject): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const finalizers = (ns.spec?.finalizers ?? []).filter((f: string) => f !== FINALIZER_KUBERNETES);
      try {
        await this.client.update(ref.namespaces, undefined, { ...ns, spec: { ...(ns.spec ?? {}), finalizers } }, { subresource: 'finalize' });
        this.log('namespace finalized', { namespace: ns.metadata.name });
        return;
      } catch (e) {
        if (isStatusError(e) && e.code === 404) return;
        if (!(isStatusError(e) && e.code === 409)) throw e;
        ns = await this.client.get(ref.namespaces, undefined, ns.metadata.name!);
      }
    }
    throw new Error(`too many conflicts finalizing namespace ${ns.metadata.name}`);
  }
}
