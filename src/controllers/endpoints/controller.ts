// The Endpoints controller (upstream's pkg/controller/endpoint): for every Service with
// a selector, one Endpoints object of the same name listing the selected pods' IPs,
// ready ones under `addresses` and the rest under `notReadyAddresses` (all under
// `addresses` with publishNotReadyAddresses), one port per service port resolved
// against each pod (named targetPorts may differ per pod, giving several subsets),
// hostname for pods whose subdomain names the service, nodeName and targetRef.
// Services without a selector keep the Endpoints their users write; the `kubernetes`
// Service's belong to the apiserver. Level-triggered: a sync recomputes the whole
// object from the cache and writes only when it differs. As upstream's
// staleEndpointsTracker, a sync waits (requeues) while the cache still holds the
// Endpoints as they were before this controller's last write, so the controller never
// conflicts with itself. Empty label and annotation maps are left out, as Go's
// omitempty encoding leaves them out of upstream's writes.

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import { selectorFromSet } from '../../api/selectors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { keyOf, splitKey } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers, type ReconcileResult } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import {
  type EndpointAddress,
  type EndpointPort,
  type EndpointSubset,
  findPort,
  hasSelector,
  IS_HEADLESS_SERVICE,
  isPodReady,
  isServiceIPSet,
  LAST_CHANGE_TRIGGER_TIME,
  labelsEqual,
  LEADER_ELECTION_ANNOTATION,
  OVER_CAPACITY,
  repackSubsets,
  rfc3339Nano,
  servicesForPod,
  servicesToUpdateOnPodChange,
  shouldPodBeInEndpoints,
  shouldSetHostname,
  subsetsEqual,
  TriggerTimeTracker,
} from './util.ts';

/** Addresses an Endpoints object holds before it is truncated (upstream's maxCapacity). */
export const MAX_ENDPOINTS_CAPACITY = 1000;
const TRUNCATED = 'truncated';

export interface EndpointsControllerOptions {
  /** Delay before a pod change is synced, batching changes (--endpoint-updates-batch-period; default 0). */
  batchPeriodMs?: number;
  /** Addresses above which the object is truncated and annotated over-capacity (1000). */
  maxCapacity?: number;
}

/** True when the cause list of a failed create says the namespace is terminating. */
export function namespaceTerminating(e: unknown): boolean {
  return isStatusError(e) && (e.status.details?.causes ?? []).some((c) => c.reason === 'NamespaceTerminating');
}

/**
 * The Endpoints controller. start() builds a fresh instance for each term of the
 * manager's leadership (caches, queue and trigger times start over).
 */
export function endpointsController(opts: EndpointsControllerOptions = {}): Controller {
  return { name: 'endpoint', start: (ctx, signal) => new EndpointsController(ctx, opts).run(signal) };
}

export class EndpointsController {
  private readonly ctx: ControllerContext;
  private readonly batchMs: number;
  private readonly maxCapacity: number;
  private readonly tracker = new TriggerTimeTracker();
  private readonly queue = new RateLimitingQueue<string>({ name: 'endpoint' });
  private readonly services: Informer;
  private readonly pods: Informer;
  private readonly endpoints: Informer;
  private readonly recorder: EventRecorder;
  /**
   * Per Endpoints key, the resourceVersion this controller's last update replaced, or ''
   * after a create: while the cache shows that version (or, after a create, nothing),
   * it is older than what this controller wrote and a sync would only conflict.
   */
  private readonly stale = new Map<string, string>();

  /** Registers informers and handlers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, opts: EndpointsControllerOptions = {}) {
    this.ctx = ctx;
    this.batchMs = opts.batchPeriodMs ?? 0;
    this.maxCapacity = opts.maxCapacity ?? MAX_ENDPOINTS_CAPACITY;
    this.recorder = ctx.recorder('endpoint-controller');
    this.services = ctx.factory.informerFor(ref.services);
    this.pods = ctx.factory.informerFor(ref.pods);
    this.endpoints = ctx.factory.informerFor(ref.endpoints);
    const q = this.queue;
    const podServices = (p: KObject) => {
      for (const k of servicesForPod(this.services.lister, p)) q.addAfter(k, this.batchMs);
    };
    this.services.addEventHandler({
      onAdd: (s) => q.add(keyOf(s)),
      onUpdate: (_o, s) => q.add(keyOf(s)),
      onDelete: (s) => q.add(keyOf(s)),
    });
    this.pods.addEventHandler({
      onAdd: podServices,
      onUpdate: (o, p) => {
        for (const k of servicesToUpdateOnPodChange(this.services.lister, { oldPod: o, newPod: p })) q.addAfter(k, this.batchMs);
      },
      onDelete: podServices,
    });
    // An Endpoints deleted by someone else is recreated (or, without its service, stays gone).
    this.endpoints.addEventHandler({
      onDelete: (e) => {
        if (this.stale.get(keyOf(e)) === '') this.stale.delete(keyOf(e));
        q.add(keyOf(e));
      },
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    const synced = await Promise.all([this.services, this.pods, this.endpoints].map((i) => i.waitForSync(signal)));
    if (!synced.every(Boolean)) return;
    // Endpoints left behind by services deleted while no controller ran.
    for (const ep of this.endpoints.lister.list()) {
      if (ep.metadata.annotations?.[LEADER_ELECTION_ANNOTATION] === undefined) this.queue.add(keyOf(ep));
    }
    await runWorkers(this.queue, this.ctx.workers, (key, sig) => this.syncService(key, sig), signal, { log: this.ctx.log });
  }

  private async syncService(key: string, signal: AbortSignal): Promise<ReconcileResult> {
    const { client } = this.ctx;
    const { namespace, name } = splitKey(key);
    const ns = namespace ?? '';
    const svc = this.services.lister.get(ns, name);
    if (!svc) {
      // The service is gone: so is its Endpoints (leader-election records have no service and are left alone).
      const ep = this.endpoints.lister.get(ns, name);
      if (ep?.metadata.annotations?.[LEADER_ELECTION_ANNOTATION] === undefined) {
        try {
          await client.delete(ref.endpoints, ns, name, { signal });
        } catch (e) {
          if (!isStatusError(e) || e.code !== 404) throw e;
        }
      }
      this.tracker.deleteService(ns, name);
      this.stale.delete(key);
      return;
    }
    // The apiserver keeps the `kubernetes` service's endpoints.
    if (ns === 'default' && name === 'kubernetes') return;
    if (svc.spec?.type === 'ExternalName') return;
    // Without a selector, users manage the Endpoints themselves.
    if (!hasSelector(svc)) return;

    const current = this.endpoints.lister.get(ns, name);
    const staleVersion = this.stale.get(key);
    if (staleVersion !== undefined) {
      // The cache has not caught up with this controller's last write: look again later
      // (rate-limited, as upstream's error return). Checked before the trigger-time
      // tracker moves on, so the retry still carries the change's trigger time.
      if (current ? current.metadata.resourceVersion === staleVersion : staleVersion === '') return { requeue: true };
      if (staleVersion === '') this.stale.delete(key);
    }

    const pods = this.pods.lister.list(ns, selectorFromSet(svc.spec.selector));
    // Computed on every sync so the tracker follows the pods even when nothing is written.
    const triggerTime = this.tracker.compute(svc, pods);
    const subsets = repackSubsets(computeSubsets(svc, pods));

    const labels: Record<string, string> = { ...(svc.metadata.labels ?? {}) };
    const compareLabels = { ...(current?.metadata.labels ?? {}) };
    delete compareLabels[IS_HEADLESS_SERVICE];
    if (
      current &&
      subsetsEqual(current.subsets, subsets) &&
      labelsEqual(compareLabels, svc.metadata.labels) &&
      capacityAnnotationSetCorrectly(current, this.maxCapacity)
    ) {
      return;
    }

    const next: KObject = current
      ? structuredClone(current)
      : { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace: ns } };
    next.apiVersion ??= 'v1';
    next.kind ??= 'Endpoints';
    next.subsets = subsets;
    const annotations: Record<string, string> = { ...(next.metadata.annotations ?? {}) };
    if (triggerTime !== undefined) annotations[LAST_CHANGE_TRIGGER_TIME] = rfc3339Nano(triggerTime);
    else delete annotations[LAST_CHANGE_TRIGGER_TIME];
    if (truncateEndpoints(next, this.maxCapacity)) annotations[OVER_CAPACITY] = TRUNCATED;
    else delete annotations[OVER_CAPACITY];
    if (isServiceIPSet(svc)) delete labels[IS_HEADLESS_SERVICE];
    else labels[IS_HEADLESS_SERVICE] = '';
    setOrOmit(next.metadata, 'annotations', annotations);
    setOrOmit(next.metadata, 'labels', labels);

    try {
      if (current) {
        const written = await client.update(ref.endpoints, ns, next, { signal });
        // A write that changed nothing keeps its version: the cache is not behind then.
        if (written?.metadata?.resourceVersion !== current.metadata.resourceVersion) this.stale.set(key, current.metadata.resourceVersion ?? '');
      } else {
        await client.create(ref.endpoints, ns, next, { signal });
        this.stale.set(key, '');
      }
    } catch (e) {
      // A terminating namespace refuses creates for good: drop the key.
      if (!current && namespaceTerminating(e)) return;
      if (signal.aborted) throw e;
      const msg = (e as Error).message;
      if (current) this.recorder.eventf(next, 'Warning', 'FailedToUpdateEndpoint', 'Failed to update endpoint %s/%s: %s', ns, name, msg);
      else this.recorder.eventf(next, 'Warning', 'FailedToCreateEndpoint', 'Failed to create endpoint for service %s/%s: %s', ns, name, msg);
      throw e;
    }
  }
}

/** Sets a metadata map, or removes it when empty (Go's omitempty: upstream never writes `{}`). */
function setOrOmit(meta: KObject['metadata'], field: 'labels' | 'annotations', m: Record<string, string>): void {
  if (Object.keys(m).length > 0) meta[field] = m;
  else delete meta[field];
}

/** One single-address subset per pod and resolved port, as upstream builds them before repacking. */
export function computeSubsets(svc: KObject, pods: KObject[]): EndpointSubset[] {
  const subsets: EndpointSubset[] = [];
  const publishNotReady = svc.spec?.publishNotReadyAddresses === true;
  const svcPorts: any[] = svc.spec?.ports ?? [];
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, publishNotReady)) continue;
    const addr = addressFor(svc, pod);
    if (!addr) continue;
    if (shouldSetHostname(pod, svc)) addr.hostname = pod.spec.hostname;
    const ready = publishNotReady || isPodReady(pod);
    const add = (ports: EndpointPort[]) => subsets.push(ready ? { addresses: [addr], ports } : { notReadyAddresses: [addr], ports });
    if (svcPorts.length === 0) {
      // Headless services may have no ports.
      if (svc.spec?.clusterIP === 'None') add([]);
      continue;
    }
    for (const sp of svcPorts) {
      const port = findPort(pod, sp);
      if (port === undefined) continue;
      const ep: EndpointPort = { port, protocol: sp.protocol ?? 'TCP' };
      if (sp.name) ep.name = sp.name;
      if (sp.appProtocol) ep.appProtocol = sp.appProtocol;
      add([ep]);
    }
  }
  return subsets;
}

/** The pod's address of the service's (first) IP family, with nodeName and targetRef. */
function addressFor(svc: KObject, pod: KObject): EndpointAddress | undefined {
  let family = svc.spec?.ipFamilies?.[0] as string | undefined;
  if (!family) {
    const ip = isServiceIPSet(svc) ? svc.spec.clusterIP : pod.status?.podIP;
    family = typeof ip === 'string' && ip.includes(':') ? 'IPv6' : 'IPv4';
  }
  const ips: string[] = (pod.status?.podIPs ?? []).map((p: { ip: string }) => p.ip);
  if (!ips.length && pod.status?.podIP) ips.push(pod.status.podIP);
  const ip = ips.find((a) => (family === 'IPv6') === a.includes(':'));
  if (!ip) return undefined;
  const addr: EndpointAddress = {
    ip,
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
  };
  if (pod.spec?.nodeName) addr.nodeName = pod.spec.nodeName;
  return addr;
}

function countAddresses(subsets: EndpointSubset[] | undefined): { ready: number; notReady: number } {
  let ready = 0;
  let notReady = 0;
  for (const s of subsets ?? []) {
    ready += s.addresses?.length ?? 0;
    notReady += s.notReadyAddresses?.length ?? 0;
  }
  return { ready, notReady };
}

function capacityAnnotationSetCorrectly(ep: KObject, max: number): boolean {
  const { ready, notReady } = countAddresses(ep.subsets);
  if (ready + notReady > max) return false;
  return ep.metadata.annotations?.[OVER_CAPACITY] === undefined;
}

/**
 * Cuts an over-capacity object down to `max` addresses, spread over the subsets in
 * proportion, ready addresses first (upstream's truncateEndpoints). True if it cut.
 */
export function truncateEndpoints(ep: KObject, max: number): boolean {
  const subsets: EndpointSubset[] = ep.subsets ?? [];
  const { ready, notReady } = countAddresses(subsets);
  if (ready + notReady <= max) return false;
  const truncateReady = ready > max;
  const limit = truncateReady ? max : max - ready;
  const total = truncateReady ? ready : notReady;
  let canBeAdded = limit;
  for (const s of subsets) {
    const inSubset = truncateReady ? (s.addresses?.length ?? 0) : (s.notReadyAddresses?.length ?? 0);
    const toBeAdded = Math.min(Math.ceil((inSubset / total) * limit), canBeAdded);
    if (truncateReady) {
      s.addresses = (s.addresses ?? []).slice(0, toBeAdded);
      delete s.notReadyAddresses;
      canBeAdded -= s.addresses.length;
    } else {
      s.notReadyAddresses = (s.notReadyAddresses ?? []).slice(0, toBeAdded);
      canBeAdded -= s.notReadyAddresses.length;
    }
  }
  return true;
}
