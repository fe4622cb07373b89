// The taint-eviction controller (upstream's pkg/controller/tainteviction, run on its
// own since SeparateTaintEvictionController): pods on a node with NoExecute taints
// they do not tolerate are deleted at once; pods tolerating every one of them for a
// limited time (tolerationSeconds, 300 s from the DefaultTolerationSeconds admission
// for not-ready/unreachable) are deleted when the shortest of those times has passed
// since the controller saw the taints; tolerating them forever keeps a pod. A taint
// removed in time (the node came back) cancels the deletion. Each deletion first adds
// the DisruptionTarget condition (reason DeletionByTaintManager), then deletes the pod
// with its own grace period, and is recorded as the event TaintManagerEviction
// "Marking for deletion Pod ns/name" ("Cancelling deletion of Pod ns/name" on cancel).
//
// As upstream, the scheduled deletions live in this process: a restarted controller
// counts tolerationSeconds again from when it first sees the taint.

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { keyOf, sleep, splitKey } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import {
  matchingTolerations,
  minTolerationMs,
  noExecuteTaints,
  POD_NODE_NAME_INDEX,
  podNodeNameIndex,
  rfc3339,
  type Taint,
  type Toleration,
} from './taints.ts';

const DELETE_ATTEMPTS = 5;

interface ScheduledEviction {
  createdAt: number;
  fireAt: number;
  /** Undefined once the deletion ran (the key stays, so it is not scheduled twice). */
  timer: NodeJS.Timeout | undefined;
}

export interface TaintEvictionControllerOptions {
  /** Worker count for node and pod updates (upstream shards 8 workers by node). */
  workers?: number;
}

/**
 * The taint-eviction controller. start() builds a fresh instance for each term of the
 * manager's leadership (scheduled evictions start over, as after a restart upstream).
 */
export function taintEvictionController(opts: TaintEvictionControllerOptions = {}): Controller {
  return { name: 'taint-eviction-controller', start: (ctx, signal) => new TaintEvictionController(ctx, opts).run(signal) };
}

export class TaintEvictionController {
  private readonly ctx: ControllerContext;
  private readonly workers: number;
  private readonly recorder: EventRecorder;
  private readonly nodes: Informer;
  private readonly pods: Informer;
  private readonly taintedNodes = new Map<string, Taint[]>();
  private readonly scheduled = new Map<string, ScheduledEviction>();
  private readonly nodeQueue = new RateLimitingQueue<string>({ name: 'noexec_taint_node' });
  private readonly podQueue = new RateLimitingQueue<string>({ name: 'noexec_taint_pod' });
  private signal: AbortSignal = new AbortController().signal;

  /** Registers informers and handlers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, opts: TaintEvictionControllerOptions = {}) {
    this.ctx = ctx;
    this.workers = opts.workers ?? Math.max(ctx.workers, 1);
    this.recorder = ctx.recorder('taint-eviction-controller');
    this.nodes = ctx.factory.informerFor(ref.nodes);
    this.pods = ctx.factory.informerFor(ref.pods);
    this.pods.addIndexers({ [POD_NODE_NAME_INDEX]: podNodeNameIndex });
    const taintKey = (n: KObject | undefined) => JSON.stringify(noExecuteTaints(n?.spec?.taints).map((t) => [t.key, t.value ?? '', t.effect]));
    this.nodes.addEventHandler({
      onAdd: (n) => this.nodeQueue.add(n.metadata.name!),
      onUpdate: (o, n) => {
        if (taintKey(o) !== taintKey(n)) this.nodeQueue.add(n.metadata.name!);
      },
      onDelete: (n) => this.nodeQueue.add(n.metadata.name!),
    });
    const tolerationsKey = (p: KObject) => JSON.stringify(p.spec?.tolerations ?? []);
    this.pods.addEventHandler({
      onAdd: (p) => {
        if (p.spec?.nodeName) this.podQueue.add(keyOf(p));
      },
      onUpdate: (o, p) => {
        if (!p.spec?.nodeName) return;
        if (o.spec?.nodeName !== p.spec.nodeName || tolerationsKey(o) !== tolerationsKey(p)) this.podQueue.add(keyOf(p));
      },
      onDelete: (p) => this.podQueue.add(keyOf(p)),
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    signal.addEventListener('abort', () => {
      for (const s of this.scheduled.values()) if (s.timer) clearTimeout(s.timer);
    }, { once: true });
    const synced = await Promise.all([this.nodes.waitForSync(signal), this.pods.waitForSync(signal)]);
    if (!synced.every(Boolean)) return;
    const log = this.ctx.log;
    await Promise.all([
      runWorkers(this.nodeQueue, this.workers, (name) => this.handleNodeUpdate(name), signal, { log }),
      runWorkers(this.podQueue, this.workers, (key) => this.handlePodUpdate(key), signal, { log }),
    ]);
  }

  private handleNodeUpdate(name: string): void {
    const node = this.nodes.lister.get(undefined, name);
    if (!node) {
      this.taintedNodes.delete(name);
      return;
    }
    const taints = noExecuteTaints(node.spec?.taints);
    // Recorded before the pods are read: a pod update processed later sees these taints.
    if (taints.length) this.taintedNodes.set(name, taints);
    else this.taintedNodes.delete(name);
    const onNode = this.pods.lister.byIndex(POD_NODE_NAME_INDEX, name);
    if (!taints.length) {
      for (const p of onNode) this.cancelWithEvent(keyOf(p));
      return;
    }
    const now = Date.now();
    for (const p of onNode) this.processPodOnNode(keyOf(p), { tolerations: p.spec?.tolerations, taints, now });
  }

  private handlePodUpdate(key: string): void {
    const { namespace, name } = splitKey(key);
    const pod = this.pods.lister.get(namespace, name);
    if (!pod) {
      this.cancelWithEvent(key);
      return;
    }
    const nodeName = pod.spec?.nodeName;
    if (!nodeName) return;
    const taints = this.taintedNodes.get(nodeName);
    // The node is gone or untainted: any eviction was cancelled when that was seen.
    if (!taints) return;
    this.processPodOnNode(key, { tolerations: pod.spec?.tolerations, taints, now: Date.now() });
  }

  private processPodOnNode(key: string, o: { tolerations: Toleration[] | undefined; taints: Taint[]; now: number }): void {
    const { taints, now } = o;
    if (!taints.length) {
      this.cancelWithEvent(key);
      return;
    }
    const { all, used } = matchingTolerations(taints, o.tolerations);
    if (!all) {
      // Not tolerated at all: deleted right away (any later schedule is replaced).
      this.cancelWithEvent(key);
      this.schedule(key, now, now);
      return;
    }
    const ms = minTolerationMs(used);
    if (ms < 0) {
      // Tolerated forever.
      this.cancelWithEvent(key);
      return;
    }
    let start = now;
    const existing = this.scheduled.get(key);
    if (existing) {
      // Already deleted, or scheduled since before now: the schedule stands (upstream keeps
      // the first one even when tolerations change).
      if (!existing.timer || existing.createdAt < now) return;
      start = existing.createdAt;
      this.cancelWithEvent(key);
    }
    this.schedule(key, start, now + ms);
  }

  /** Schedules the deletion of `key` at `fireAt` (counted from `createdAt`), unless one is scheduled. */
  private schedule(key: string, createdAt: number, fireAt: number): void {
    if (this.scheduled.has(key)) return;
    const entry: ScheduledEviction = { createdAt, fireAt, timer: undefined };
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      void this.evict(key, entry);
    }, Math.max(0, fireAt - Date.now()));
    entry.timer.unref();
    this.scheduled.set(key, entry);
  }

  /** Cancels a pending deletion; the event only when one was really pending. */
  private cancelWithEvent(key: string): void {
    const s = this.scheduled.get(key);
    if (!s) return;
    this.scheduled.delete(key);
    if (s.timer) {
      clearTimeout(s.timer);
      const { namespace, name } = splitKey(key);
      this.recorder.event({ apiVersion: 'v1', kind: 'Pod', namespace, name }, 'Normal', 'TaintManagerEviction', `Cancelling deletion of Pod ${key}`);
    }
  }

  private async evict(key: string, entry: ScheduledEviction): Promise<void> {
    const { ctx, signal } = this;
    if (signal.aborted) return;
    const { namespace, name } = splitKey(key);
    ctx.log('Deleting pod', { controller: 'taint-eviction-controller', pod: key });
    this.recorder.event({ apiVersion: 'v1', kind: 'Pod', namespace, name }, 'Normal', 'TaintManagerEviction', `Marking for deletion Pod ${key}`);
    let err: unknown;
    for (let i = 0; i < DELETE_ATTEMPTS && !signal.aborted; i++) {
      try {
        await addConditionAndDeletePod(ctx, { namespace: namespace!, name, signal });
        err = undefined;
        break;
      } catch (e) {
        err = e;
        if (isStatusError(e) && e.code === 404) {
          err = undefined;
          break;
        }
        await sleep(10, signal);
      }
    }
    if (err !== undefined && this.scheduled.get(key) === entry) {
      // Failed: forget it so the next update of the pod or node schedules it again.
      this.scheduled.delete(key);
      ctx.log('taint eviction failed', { pod: key, error: String((err as Error)?.message ?? err) });
    }
  }
}

/** Marks the pod DisruptionTarget (DeletionByTaintManager), then deletes it with its own grace period. */
async function addConditionAndDeletePod(ctx: ControllerContext, target: { namespace: string; name: string; signal: AbortSignal }): Promise<void> {
  const { namespace, name, signal } = target;
  const pod = await ctx.client.get(ref.pods, namespace, name, { signal });
  const conds: any[] = pod.status?.conditions ?? [];
  const have = conds.find((c) => c.type === 'DisruptionTarget');
  const want = { type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint' };
  if (!have || have.status !== want.status || have.reason !== want.reason || have.message !== want.message) {
    const cond = { ...want, lastProbeTime: null, lastTransitionTime: have && have.status === 'True' ? have.lastTransitionTime : rfc3339(Date.now()) };
    await ctx.client.patch(
      ref.pods,
      namespace,
      name,
      'strategic',
      { metadata: { uid: pod.metadata.uid }, status: { conditions: [cond] } },
      { subresource: 'status', signal },
    );
  }
  await ctx.client.delete(ref.pods, namespace, name, { signal });
}
