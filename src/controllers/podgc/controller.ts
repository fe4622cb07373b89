// The pod garbage collector (upstream's pkg/controller/podgc), every gcCheckPeriod:
//   - terminated pods (Succeeded/Failed) above terminatedPodThreshold (12500) are
//     deleted, evicted ones first, then the oldest;
//   - pods bound to a node that no longer exists (still missing after a 40 s
//     quarantine and confirmed by a GET) are marked Failed with the DisruptionTarget
//     condition (DeletionByPodGC, "PodGC: node no longer exists") and deleted;
//   - terminating pods never scheduled, and terminating pods on a NotReady node tainted
//     node.kubernetes.io/out-of-service, are marked Failed and deleted.
// Deletions are forced (grace period 0): no kubelet is left to finish them.

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { sleep } from '../../client/util.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { isNodeReady, rfc3339, TAINT_NODE_OUT_OF_SERVICE } from '../nodelifecycle/taints.ts';

export const DEFAULT_TERMINATED_POD_THRESHOLD = 12500;
const FIELD_MANAGER = 'PodGC';
const DELETE_CONCURRENCY = 16;

export interface PodGCControllerOptions {
  /** Terminated pods kept before the oldest are deleted (--terminated-pod-gc-threshold; 12500; ≤ 0 disables). */
  terminatedPodThreshold?: number;
  /** How often the collector runs (20 s). */
  gcCheckPeriodMs?: number;
  /** How long a node must stay missing before its pods are orphans (40 s). */
  quarantineMs?: number;
}

interface PodCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

function isTerminated(p: KObject): boolean {
  const phase = p.status?.phase;
  return phase !== 'Pending' && phase !== 'Running' && phase !== 'Unknown';
}

function isEvicted(p: KObject): boolean {
  return p.status?.phase === 'Failed' && p.status?.reason === 'Evicted';
}

/** Evicted first, then oldest, then by name. */
function byEvictionAndCreation(a: KObject, b: KObject): number {
  const ea = isEvicted(a);
  const eb = isEvicted(b);
  if (ea !== eb) return ea ? -1 : 1;
  const ca = Date.parse(a.metadata.creationTimestamp ?? '') || 0;
  const cb = Date.parse(b.metadata.creationTimestamp ?? '') || 0;
  if (ca !== cb) return ca - cb;
  return (a.metadata.name ?? '') < (b.metadata.name ?? '') ? -1 : 1;
}

/** Runs `fn` over `items`, DELETE_CONCURRENCY at a time (upstream deletes in parallel goroutines). */
async function forEachLimit<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(DELETE_CONCURRENCY, items.length) }, worker));
}

/**
 * The pod garbage collector. start() builds a fresh instance for each term of the
 * manager's leadership (the orphan quarantine starts over).
 */
export function podGCController(opts: PodGCControllerOptions = {}): Controller {
  return { name: 'podgc', start: (ctx, signal) => new PodGCController(ctx, opts).run(signal) };
}

export class PodGCController {
  private readonly ctx: ControllerContext;
  private readonly pods: Informer;
  private readonly nodes: Informer;
  private readonly threshold: number;
  private readonly periodMs: number;
  private readonly quarantineMs: number;
  /** Missing node name → when it may be checked (the quarantine's end). */
  private readonly nodeQueue = new Map<string, number>();
  private signal: AbortSignal = new AbortController().signal;

  /** Registers informers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, opts: PodGCControllerOptions = {}) {
    this.ctx = ctx;
    this.threshold = opts.terminatedPodThreshold ?? DEFAULT_TERMINATED_POD_THRESHOLD;
    this.periodMs = opts.gcCheckPeriodMs ?? 20_000;
    this.quarantineMs = opts.quarantineMs ?? 40_000;
    this.pods = ctx.factory.informerFor(ref.pods);
    this.nodes = ctx.factory.informerFor(ref.nodes);
  }

  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    const synced = await Promise.all([this.pods.waitForSync(signal), this.nodes.waitForSync(signal)]);
    if (!synced.every(Boolean)) return;
    while (!signal.aborted) {
      try {
        await this.gc();
      } catch (e) {
        if (!signal.aborted) this.ctx.log('pod garbage collection failed', { error: String((e as Error)?.message ?? e) });
      }
      await sleep(this.periodMs, signal);
    }
  }

  /** One pass over the cached pods and nodes. */
  async gc(): Promise<void> {
    const all = this.pods.lister.list();
    if (this.threshold > 0) await this.gcTerminated(all);
    await this.gcTerminating(all);
    await this.gcOrphaned(all);
    await this.gcUnscheduledTerminating(all);
  }

  private async gcTerminated(pods: KObject[]): Promise<void> {
    const terminated = pods.filter(isTerminated);
    const count = terminated.length - this.threshold;
    if (count <= 0) return;
    this.ctx.log('Garbage collecting pods', { numPods: count });
    terminated.sort(byEvictionAndCreation);
    await forEachLimit(terminated.slice(0, count), (p) => this.markFailedAndDelete(p));
  }

  private async gcTerminating(pods: KObject[]): Promise<void> {
    const victims: KObject[] = [];
    for (const p of pods) {
      if (!p.metadata.deletionTimestamp || !p.spec?.nodeName) continue;
      const node = this.nodes.lister.get(undefined, p.spec.nodeName);
      if (!node) continue;
      const outOfService = (node.spec?.taints ?? []).some((t: { key: string }) => t.key === TAINT_NODE_OUT_OF_SERVICE);
      if (!isNodeReady(node) && outOfService) victims.push(p);
    }
    if (!victims.length) return;
    this.ctx.log('Garbage collecting pods that are terminating on node tainted with node.kubernetes.io/out-of-service', { numPods: victims.length });
    victims.sort(byEvictionAndCreation);
    await forEachLimit(victims, (p) => this.markFailedAndDelete(p));
  }

  private async gcOrphaned(pods: KObject[]): Promise<void> {
    const { ctx, signal } = this;
    const existing = new Set(this.nodes.lister.list().map((n) => n.metadata.name!));
    const now = Date.now();
    for (const p of pods) {
      const n = p.spec?.nodeName;
      if (n && !existing.has(n) && !this.nodeQueue.has(n)) this.nodeQueue.set(n, now + this.quarantineMs);
    }
    const deleted = new Set<string>();
    for (const [name, readyAt] of [...this.nodeQueue]) {
      if (readyAt > now) continue;
      this.nodeQueue.delete(name);
      if (existing.has(name)) continue;
      try {
        await ctx.client.get(ref.nodes, undefined, name, { signal });
      } catch (e) {
        if (isStatusError(e) && e.code === 404) deleted.add(name);
        else ctx.log('Error while getting node', { node: name, error: String((e as Error).message) });
      }
    }
    if (!deleted.size) return;
    const orphans = pods.filter((p) => deleted.has(p.spec?.nodeName));
    await forEachLimit(orphans, async (p) => {
      ctx.log('Found orphaned Pod assigned to the Node, deleting', { pod: `${p.metadata.namespace}/${p.metadata.name}`, node: p.spec.nodeName });
      await this.markFailedAndDelete(p, { type: 'DisruptionTarget', status: 'True', reason: 'DeletionByPodGC', message: 'PodGC: node no longer exists' });
    });
  }

  private async gcUnscheduledTerminating(pods: KObject[]): Promise<void> {
    const victims = pods.filter((p) => p.metadata.deletionTimestamp && !p.spec?.nodeName);
    await forEachLimit(victims, async (p) => {
      this.ctx.log('Found unscheduled terminating Pod not assigned to any Node, deleting', { pod: `${p.metadata.namespace}/${p.metadata.name}` });
      await this.markFailedAndDelete(p);
    });
  }

  /**
   * Moves the pod to Failed first (nothing else will: its kubelet is gone), with the
   * condition if given, then deletes it at once. Failures are logged; the next pass retries.
   */
  private async markFailedAndDelete(pod: KObject, condition?: PodCondition): Promise<void> {
    const { ctx, signal } = this;
    const ns = pod.metadata.namespace;
    const name = pod.metadata.name!;
    ctx.log('PodGC is force deleting Pod', { pod: `${ns}/${name}` });
    try {
      const phase = pod.status?.phase;
      if (phase !== 'Succeeded' && phase !== 'Failed') {
        const status: Record<string, unknown> = { phase: 'Failed' };
        if (condition) status.conditions = [{ ...condition, lastTransitionTime: rfc3339(Date.now()) }];
        await ctx.client.patch(ref.pods, ns, name, 'strategic', { metadata: { uid: pod.metadata.uid }, status }, { subresource: 'status', fieldManager: FIELD_MANAGER, signal });
      }
      await ctx.client.delete(ref.pods, ns, name, { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata.uid }, signal });
    } catch (e) {
      if (isStatusError(e) && (e.code === 404 || e.code === 409)) return;
      if (!signal.aborted) ctx.log('failed to delete pod', { pod: `${ns}/${name}`, error: String((e as Error).message) });
    }
  }
}
