// The EndpointSlice controller (upstream's pkg/controller/endpointslice): for every
// Service with a selector, EndpointSlices labelled kubernetes.io/service-name and
// managed-by endpointslice-controller.k8s.io, owned by the Service (the garbage
// collector removes them with it), holding the selected pods as endpoints with
// ready/serving/terminating conditions, zone, nodeName, hostname and targetRef, at most
// 100 per slice. The placement rules live in reconciler.ts; this file wires informers,
// the queue and the writes.

import type { KObject } from '../../api/object.ts';
import { selectorFromSet } from '../../api/selectors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { keyOf, splitKey } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { namespaceTerminating } from '../endpoints/controller.ts';
import { hasSelector, servicesForPod, servicesToUpdateOnPodChange, TriggerTimeTracker } from '../endpoints/util.ts';
import {
  CONTROLLER_NAME,
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  MAX_ENDPOINTS_PER_SLICE,
  ownedBy,
  recycleSlices,
  reconcileSlices,
  setTriggerTime,
  wireForm,
} from './reconciler.ts';
import { SliceTracker, sliceEventHandler, StaleInformerCacheError } from './tracker.ts';

export interface EndpointSliceControllerOptions {
  /** Endpoints per slice (--max-endpoints-per-slice; 100). */
  maxEndpointsPerSlice?: number;
  /** Delay before a pod change is synced (--endpointslice-updates-batch-period; 0). */
  batchPeriodMs?: number;
  /** Delay before a slice change made by someone else is answered (upstream: 1 s). */
  sliceChangeMinSyncDelayMs?: number;
}

interface Informers {
  services: Informer;
  pods: Informer;
  nodes: Informer;
  slices: Informer;
}

/**
 * The EndpointSlice controller. start() builds a fresh instance for each term of the
 * manager's leadership (caches, queue and trackers start over).
 */
export function endpointSliceController(opts: EndpointSliceControllerOptions = {}): Controller {
  return { name: 'endpointslice', start: (ctx, signal) => new EndpointSliceController(ctx, opts).run(signal) };
}

export class EndpointSliceController {
  private readonly ctx: ControllerContext;
  private readonly inf: Informers;
  private readonly recorder: EventRecorder;
  private readonly max: number;
  private readonly batchMs: number;
  private readonly sliceDelayMs: number;
  private readonly queue = new RateLimitingQueue<string>({ name: 'endpoint_slice' });
  private readonly tracker = new SliceTracker();
  private readonly triggerTimes = new TriggerTimeTracker();

  /** Registers informers and handlers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, opts: EndpointSliceControllerOptions = {}) {
    this.ctx = ctx;
    this.max = opts.maxEndpointsPerSlice ?? MAX_ENDPOINTS_PER_SLICE;
    this.batchMs = opts.batchPeriodMs ?? 0;
    this.sliceDelayMs = opts.sliceChangeMinSyncDelayMs ?? 1000;
    this.recorder = ctx.recorder('endpoint-slice-controller');
    const inf: Informers = (this.inf = {
      services: ctx.factory.informerFor(ref.services),
      pods: ctx.factory.informerFor(ref.pods),
      nodes: ctx.factory.informerFor(ref.nodes),
      slices: ctx.factory.informerFor(ref.endpointslices),
    });
    const q = this.queue;
    inf.services.addEventHandler({
      onAdd: (s) => q.add(keyOf(s)),
      onUpdate: (_o, s) => q.add(keyOf(s)),
      onDelete: (s) => q.add(keyOf(s)),
    });
    const podServices = (p: KObject) => {
      for (const k of servicesForPod(inf.services.lister, p)) q.addAfter(k, this.batchMs);
    };
    inf.pods.addEventHandler({
      onAdd: podServices,
      onUpdate: (o, p) => {
        for (const k of servicesToUpdateOnPodChange(inf.services.lister, { oldPod: o, newPod: p })) q.addAfter(k, this.batchMs);
      },
      onDelete: podServices,
    });
    const managed = (s: KObject) => s.metadata.labels?.[LABEL_MANAGED_BY] === CONTROLLER_NAME;
    const queueFor = (s: KObject) => {
      const svc = s.metadata.labels?.[LABEL_SERVICE_NAME];
      if (svc) q.addAfter(`${s.metadata.namespace}/${svc}`, this.sliceDelayMs + this.batchMs);
    };
    inf.slices.addEventHandler(sliceEventHandler(this.tracker, managed, queueFor));
  }

  async run(signal: AbortSignal): Promise<void> {
    const synced = await Promise.all(Object.values(this.inf).map((i) => i.waitForSync(signal)));
    if (!synced.every(Boolean)) return;
    await runWorkers(this.queue, this.ctx.workers, (key, sig) => this.syncService(key, sig), signal, { log: this.ctx.log });
  }

  private async syncService(key: string, signal: AbortSignal): Promise<void> {
    const { ctx, inf, recorder } = this;
    const { namespace, name } = splitKey(key);
    const ns = namespace ?? '';
    const svc = inf.services.lister.get(ns, name);
    if (!svc) {
      // Its slices go with it through their ownerReferences (garbage collector).
      this.triggerTimes.deleteService(ns, name);
      this.tracker.deleteService(ns, name);
      return;
    }
    if (svc.spec?.type === 'ExternalName') return;
    if (!hasSelector(svc)) return;

    const pods = inf.pods.lister.list(ns, selectorFromSet(svc.spec.selector));
    const slices = inf.slices.lister
      .list(ns, selectorFromSet({ [LABEL_SERVICE_NAME]: name, [LABEL_MANAGED_BY]: CONTROLLER_NAME }))
      .filter((s) => !s.metadata.deletionTimestamp);
    if (this.tracker.stale(ns, name, slices)) throw new StaleInformerCacheError();

    const triggerTime = this.triggerTimes.compute(svc, pods);
    const result = reconcileSlices({ service: svc, pods, existing: slices, nodes: inf.nodes.lister, maxEndpointsPerSlice: this.max });
    const plan = recycleSlices(result, (s) => ownedBy(s, svc));
    // As upstream's reconciler: the pods skipped while placing endpoints, then the first
    // write that failed, reported together as one aggregate error.
    const errors = [...result.errors];
    try {
      // No creates for a service being deleted: the garbage collector would race them.
      if (!svc.metadata.deletionTimestamp) {
        for (const s of plan.create) {
          setTriggerTime(s, triggerTime);
          try {
            this.tracker.update(await ctx.client.create(ref.endpointslices, ns, wireForm(s), { signal }));
          } catch (e) {
            if (namespaceTerminating(e)) return;
            throw new Error(`failed to create EndpointSlice for Service ${ns}/${name}: ${(e as Error).message}`, { cause: e });
          }
        }
      }
      for (const s of plan.update) {
        setTriggerTime(s, triggerTime);
        try {
          this.tracker.update(await ctx.client.update(ref.endpointslices, ns, wireForm(s), { signal }));
        } catch (e) {
          throw new Error(`failed to update ${s.metadata.name} EndpointSlice for Service ${ns}/${name}: ${(e as Error).message}`, { cause: e });
        }
      }
      for (const s of plan.delete) {
        try {
          await ctx.client.delete(ref.endpointslices, ns, s.metadata.name!, { signal, preconditions: { uid: s.metadata.uid } });
        } catch (e) {
          const code = (e as { code?: number }).code;
          if (code !== 404) throw new Error(`failed to delete ${s.metadata.name} EndpointSlice for Service ${ns}/${name}: ${(e as Error).message}`, { cause: e });
        }
        this.tracker.expectDeletion(s);
      }
    } catch (e) {
      if (signal.aborted) throw e;
      errors.push((e as Error).message);
    }
    if (errors.length) {
      const message = aggregateError(errors);
      recorder.eventf(svc, 'Warning', 'FailedToUpdateEndpointSlices', 'Error updating Endpoint Slices for Service %s/%s: %s', ns, name, message);
      throw new Error(message);
    }
  }
}

/**
 * The text of Go's utilerrors.NewAggregate(errs).Error(): one distinct message prints
 * bare, several print as `[a, b]` (duplicates dropped, first occurrence kept).
 */
export function aggregateError(messages: string[]): string {
  const distinct = [...new Set(messages)];
  return distinct.length === 1 ? distinct[0]! : `[${distinct.join(', ')}]`;
}
