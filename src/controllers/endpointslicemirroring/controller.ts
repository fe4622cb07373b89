// The EndpointSlice mirroring controller (upstream's
// pkg/controller/endpointslicemirroring): Endpoints that users write for Services
// without a selector are mirrored into EndpointSlices managed by
// endpointslicemirroring-controller.k8s.io, so consumers of slices (the proxy, DNS)
// see them too. One slice per distinct port set and address type, holding at most
// 1000 addresses per Endpoints subset; the Endpoints' labels and annotations are
// copied (but the trigger-time and last-applied annotations); slices are owned by the
// Endpoints. Endpoints labelled endpointslice.kubernetes.io/skip-mirror=true and
// leader-election records are not mirrored, and their mirrored slices are removed.

import type { KObject } from '../../api/object.ts';
import { selectorFromSet } from '../../api/selectors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { keyOf, splitKey } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { namespaceTerminating } from '../endpoints/controller.ts';
import {
  compareIPs,
  type EndpointAddress,
  type EndpointPort,
  hasSelector,
  ipBytes,
  LAST_CHANGE_TRIGGER_TIME,
  LEADER_ELECTION_ANNOTATION,
  labelsEqual,
  repackSubsets,
} from '../endpoints/util.ts';
import {
  type AddressType,
  endpointKey,
  endpointsEqualBeyondKey,
  LABEL_MANAGED_BY,
  LABEL_SERVICE_NAME,
  LABEL_SKIP_MIRROR,
  portMapKey,
  recycleSlices,
  type SliceEndpoint,
  type SlicePlan,
  type SlicePort,
  slicePrefix,
  sortPorts,
  wireForm,
} from '../endpointslice/reconciler.ts';
import { SliceTracker, sliceEventHandler, StaleInformerCacheError } from '../endpointslice/tracker.ts';

export const MIRRORING_CONTROLLER_NAME = 'endpointslicemirroring-controller.k8s.io';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export interface EndpointSliceMirroringControllerOptions {
  /** Addresses mirrored per Endpoints subset (--mirroring-max-endpoints-per-subset; 1000). */
  maxEndpointsPerSubset?: number;
  /** Delay before a slice change made by someone else is answered (--mirroring-endpointslice-updates-batch-period; 0). */
  batchPeriodMs?: number;
}

interface Informers {
  endpoints: Informer;
  services: Informer;
  slices: Informer;
}

function shouldMirror(ep: KObject | undefined): boolean {
  if (!ep) return false;
  if (ep.metadata.labels?.[LABEL_SKIP_MIRROR] === 'true') return false;
  return ep.metadata.annotations?.[LEADER_ELECTION_ANNOTATION] === undefined;
}

/** An Endpoints address as a slice endpoint, with its address type; undefined for an address that is not an IP. */
export function addressToEndpoint(a: EndpointAddress, ready: boolean): { endpoint: SliceEndpoint; type: AddressType } | undefined {
  const bytes = ipBytes(a.ip);
  if (!bytes) return undefined;
  const v4 = bytes.slice(0, 12).every((b, i) => b === (i < 10 ? 0 : 255));
  const endpoint: SliceEndpoint = { addresses: [v4 ? bytes.slice(12).join('.') : canonicalIPv6(bytes)], conditions: { ready } };
  if (a.targetRef) endpoint.targetRef = a.targetRef;
  if (a.nodeName) endpoint.nodeName = a.nodeName;
  if (a.hostname) endpoint.hostname = a.hostname;
  return { endpoint, type: v4 ? 'IPv4' : 'IPv6' };
}

/** RFC 5952 text of an IPv6 address (Go's net.IP.String for 16-byte addresses). */
function canonicalIPv6(bytes: number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function toSlicePorts(ports: EndpointPort[] | undefined): SlicePort[] {
  return (ports ?? []).map((p) => {
    const sp: SlicePort = { name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' };
    if (p.appProtocol) sp.appProtocol = p.appProtocol;
    return sp;
  });
}

function mirroredAnnotations(ep: KObject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ep.metadata.annotations ?? {})) {
    if (k !== LAST_CHANGE_TRIGGER_TIME && k !== LAST_APPLIED) out[k] = v;
  }
  return out;
}

function newMirroredSlice(ep: KObject, o: { ports: SlicePort[]; type: AddressType; name: string | undefined }): KObject {
  const { ports, type, name } = o;
  const labels: Record<string, string> = { ...(ep.metadata.labels ?? {}) };
  labels[LABEL_SERVICE_NAME] = ep.metadata.name!;
  labels[LABEL_MANAGED_BY] = MIRRORING_CONTROLLER_NAME;
  const slice: KObject = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      namespace: ep.metadata.namespace,
      labels,
      // Go's omitempty: an empty map is not written.
      ...(Object.keys(mirroredAnnotations(ep)).length ? { annotations: mirroredAnnotations(ep) } : {}),
      ownerReferences: [{ apiVersion: 'v1', kind: 'Endpoints', name: ep.metadata.name!, uid: ep.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    addressType: type,
    endpoints: [],
    ports,
  };
  if (name) slice.metadata.name = name;
  else slice.metadata.generateName = slicePrefix(ep.metadata.name!);
  return slice;
}

export interface MirrorResult extends SlicePlan {
  invalidAddresses: number;
  skippedAddresses: number;
}

/** The slices an Endpoints object should have, given the mirrored slices that exist (upstream's reconciler). */
export function planMirroredSlices(ep: KObject, o: { existing: KObject[]; maxPerSubset?: number }): MirrorResult {
  const { existing, maxPerSubset = 1000 } = o;
  const desired = new Map<string, { type: AddressType; ports: SlicePort[]; endpoints: Map<string, SliceEndpoint> }>();
  let invalid = 0;
  let skipped = 0;
  for (const subset of repackSubsets(ep.subsets ?? [])) {
    const ports = sortPorts(toSlicePorts(subset.ports));
    const total = (subset.addresses?.length ?? 0) + (subset.notReadyAddresses?.length ?? 0);
    let added = 0;
    const add = (a: EndpointAddress, ready: boolean) => {
      if (added >= maxPerSubset) return;
      const r = addressToEndpoint(a, ready);
      if (!r) {
        invalid++;
        return;
      }
      const key = `${r.type}-${portMapKey(ports)}`;
      let d = desired.get(key);
      if (!d) desired.set(key, (d = { type: r.type, ports, endpoints: new Map() }));
      d.endpoints.set(endpointKey(r.endpoint), r.endpoint);
      added++;
    };
    for (const a of subset.addresses ?? []) add(a, true);
    for (const a of subset.notReadyAddresses ?? []) add(a, false);
    skipped += total - added;
  }

  const existingByKey = new Map<string, KObject[]>();
  for (const s of existing) {
    const key = `${s.addressType}-${portMapKey(s.ports ?? [])}`;
    existingByKey.set(key, [...(existingByKey.get(key) ?? []), s]);
  }
  const plan: MirrorResult = { create: [], update: [], delete: [], invalidAddresses: invalid, skippedAddresses: skipped };
  for (const [key, d] of desired) {
    const have = existingByKey.get(key) ?? [];
    if (d.endpoints.size === 0) {
      plan.delete.push(...have);
      continue;
    }
    if (have.length) {
      // One slice per port set: every other one goes.
      plan.delete.push(...have.slice(1));
      const first = have[0];
      const compareLabels = { ...(first.metadata.labels ?? {}) };
      delete compareLabels[LABEL_MANAGED_BY];
      delete compareLabels[LABEL_SERVICE_NAME];
      if (
        sameEndpoints(first.endpoints ?? [], d.endpoints) &&
        labelsEqual(ep.metadata.labels, compareLabels) &&
        labelsEqual(mirroredAnnotations(ep), first.metadata.annotations)
      ) {
        continue;
      }
    }
    const slice = newMirroredSlice(ep, { ports: d.ports, type: d.type, name: have[0]?.metadata.name });
    if (have[0]) slice.metadata.resourceVersion = have[0].metadata.resourceVersion;
    const eps = [...d.endpoints.values()].sort((a, b) => compareIPs(a.addresses[0], b.addresses[0]));
    slice.endpoints = eps.slice(0, maxPerSubset);
    if (slice.metadata.name) plan.update.push(slice);
    else plan.create.push(slice);
  }
  for (const [key, slices] of existingByKey) if (!desired.has(key)) plan.delete.push(...slices);
  return plan;
}

function sameEndpoints(have: SliceEndpoint[], want: Map<string, SliceEndpoint>): boolean {
  if (have.length !== want.size) return false;
  for (const e of have) {
    const w = want.get(endpointKey(e));
    if (!w || !endpointsEqualBeyondKey(w, e)) return false;
  }
  return true;
}

/**
 * The EndpointSlice mirroring controller. start() builds a fresh instance for each term
 * of the manager's leadership (caches, queue and tracker start over).
 */
export function endpointSliceMirroringController(opts: EndpointSliceMirroringControllerOptions = {}): Controller {
  return { name: 'endpointslicemirroring', start: (ctx, signal) => new EndpointSliceMirroringController(ctx, opts).run(signal) };
}

export class EndpointSliceMirroringController {
  private readonly ctx: ControllerContext;
  private readonly inf: Informers;
  private readonly recorder: EventRecorder;
  private readonly maxPerSubset: number;
  private readonly batchMs: number;
  private readonly queue = new RateLimitingQueue<string>({ name: 'endpoint_slice_mirroring' });
  private readonly tracker = new SliceTracker();

  /** Registers informers and handlers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, opts: EndpointSliceMirroringControllerOptions = {}) {
    this.ctx = ctx;
    this.maxPerSubset = opts.maxEndpointsPerSubset ?? 1000;
    this.batchMs = opts.batchPeriodMs ?? 0;
    this.recorder = ctx.recorder('endpoint-slice-mirroring-controller');
    const inf: Informers = (this.inf = {
      endpoints: ctx.factory.informerFor(ref.endpoints),
      services: ctx.factory.informerFor(ref.services),
      slices: ctx.factory.informerFor(ref.endpointslices),
    });
    const q = this.queue;
    inf.services.addEventHandler({
      onAdd: (s) => {
        if (!hasSelector(s)) q.add(keyOf(s));
      },
      onUpdate: (o, s) => {
        if (hasSelector(o) !== hasSelector(s)) q.add(keyOf(s));
      },
      onDelete: (s) => {
        if (!hasSelector(s)) q.add(keyOf(s));
      },
    });
    inf.endpoints.addEventHandler({
      onAdd: (e) => {
        if (shouldMirror(e)) q.add(keyOf(e));
      },
      onUpdate: (o, e) => {
        if (shouldMirror(o) || shouldMirror(e)) q.add(keyOf(e));
      },
      onDelete: (e) => {
        if (shouldMirror(e)) q.add(keyOf(e));
      },
    });
    const managed = (s: KObject) => s.metadata.labels?.[LABEL_MANAGED_BY] === MIRRORING_CONTROLLER_NAME;
    const queueFor = (s: KObject) => {
      const svc = s.metadata.labels?.[LABEL_SERVICE_NAME];
      if (svc) q.addAfter(`${s.metadata.namespace}/${svc}`, this.batchMs);
    };
    inf.slices.addEventHandler(sliceEventHandler(this.tracker, managed, queueFor));
  }

  async run(signal: AbortSignal): Promise<void> {
    const synced = await Promise.all(Object.values(this.inf).map((i) => i.waitForSync(signal)));
    if (!synced.every(Boolean)) return;
    await runWorkers(this.queue, this.ctx.workers, (key, sig) => this.sync(key, sig), signal, { log: this.ctx.log });
  }

  /** The slices this controller mirrored for `namespace/name`. */
  private mirrored(ns: string, name: string): KObject[] {
    return this.inf.slices.lister
      .list(ns, selectorFromSet({ [LABEL_SERVICE_NAME]: name, [LABEL_MANAGED_BY]: MIRRORING_CONTROLLER_NAME }))
      // Slices another component wrote under our label without owning them through an
      // Endpoints (the apiserver's own `kubernetes` slice) are not ours to remove.
      .filter((s) => (s.metadata.ownerReferences ?? []).some((o) => o.kind === 'Endpoints'));
  }

  private async deleteMirrored(ns: string, name: string, signal: AbortSignal): Promise<void> {
    const { ctx } = this;
    this.tracker.deleteService(ns, name);
    const slices = this.mirrored(ns, name);
    const errs: string[] = [];
    for (const s of slices) {
      try {
        await ctx.client.delete(ref.endpointslices, ns, s.metadata.name!, { signal });
      } catch (e) {
        if ((e as { code?: number }).code !== 404) errs.push((e as Error).message);
      }
    }
    if (errs.length) throw new Error(`error(s) deleting ${errs.length}/${slices.length} EndpointSlices for ${ns}/${name} Endpoints, including: ${errs[0]}`);
  }

  private async sync(key: string, signal: AbortSignal): Promise<void> {
    const { ctx, inf, recorder } = this;
    const { namespace, name } = splitKey(key);
    const ns = namespace ?? '';
    const ep = inf.endpoints.lister.get(ns, name);
    if (!ep || !shouldMirror(ep)) return this.deleteMirrored(ns, name, signal);
    const svc = inf.services.lister.get(ns, name);
    // Only Endpoints of a Service without selector are mirrored (the others have the EndpointSlice controller).
    if (!svc || hasSelector(svc)) return this.deleteMirrored(ns, name, signal);

    const slices = this.mirrored(ns, name);
    if (this.tracker.stale(ns, name, slices)) throw new StaleInformerCacheError();
    const result = planMirroredSlices(ep, { existing: slices, maxPerSubset: this.maxPerSubset });
    if (result.invalidAddresses > 0) {
      recorder.eventf(ep, 'Warning', 'InvalidIPAddress', 'Skipped %d invalid IP addresses when mirroring to EndpointSlices', result.invalidAddresses);
    }
    if (result.skippedAddresses > result.invalidAddresses) {
      recorder.eventf(
        ep,
        'Warning',
        'TooManyAddressesToMirror',
        'A max of %d addresses can be mirrored to EndpointSlices per Endpoints subset. %d addresses were skipped',
        this.maxPerSubset,
        result.skippedAddresses,
      );
    }
    // Every mirrored slice is owned by this Endpoints: any may be recycled.
    const plan = recycleSlices(result, () => true);
    if (!ep.metadata.deletionTimestamp) {
      for (const s of plan.create) {
        try {
          this.tracker.update(await ctx.client.create(ref.endpointslices, ns, wireForm(s), { signal }));
        } catch (e) {
          if (namespaceTerminating(e)) return;
          throw new Error(`failed to create EndpointSlice for Endpoints ${ns}/${name}: ${(e as Error).message}`, { cause: e });
        }
      }
    }
    for (const s of plan.update) {
      try {
        this.tracker.update(await ctx.client.update(ref.endpointslices, ns, wireForm(s), { signal }));
      } catch (e) {
        throw new Error(`failed to update ${s.metadata.name} EndpointSlice for Endpoints ${ns}/${name}: ${(e as Error).message}`, { cause: e });
      }
    }
    for (const s of plan.delete) {
      try {
        await ctx.client.delete(ref.endpointslices, ns, s.metadata.name!, { signal });
      } catch (e) {
        if ((e as { code?: number }).code !== 404) {
          throw new Error(`failed to delete ${s.metadata.name} EndpointSlice for Endpoints ${ns}/${name}: ${(e as Error).message}`, { cause: e });
        }
      }
      this.tracker.expectDeletion(s);
    }
  }
}
