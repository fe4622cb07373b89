// The EndpointSlice reconciler as upstream's k8s.io/endpointslice: from a Service, the
// pods it selects and the slices that exist, the slices to create, update and delete.
// Pure (no I/O) so the placement rules can be tested on their own:
//   - endpoints are grouped by the set of ports they resolve to (named targetPorts may
//     differ per pod), one group of slices per port set and address type;
//   - existing slices keep the endpoints they have when those are still wanted
//     (changed endpoints are updated in place), slices that lose every endpoint are
//     deleted or recycled for creates, new endpoints fill the slices being updated
//     first, then the unchanged slice that comes closest to full, then new slices of at
//     most maxEndpointsPerSlice;
//   - a service with no endpoints keeps one empty placeholder slice.

import type { KObject } from '../../api/object.ts';
import type { Lister } from '../../client/indexer.ts';
import {
  canonicalJSON,
  compareIPs,
  findPort,
  IS_HEADLESS_SERVICE,
  isPodReady,
  isServiceIPSet,
  LAST_CHANGE_TRIGGER_TIME,
  labelsEqual,
  rfc3339Nano,
  shouldPodBeInEndpoints,
  shouldSetHostname,
} from '../endpoints/util.ts';

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
export const LABEL_MANAGED_BY = 'endpointslice.kubernetes.io/managed-by';
export const LABEL_SKIP_MIRROR = 'endpointslice.kubernetes.io/skip-mirror';
export const CONTROLLER_NAME = 'endpointslice-controller.k8s.io';
export const MAX_ENDPOINTS_PER_SLICE = 100;
export const LABEL_TOPOLOGY_ZONE = 'topology.kubernetes.io/zone';

export type AddressType = 'IPv4' | 'IPv6' | 'FQDN';

export interface SlicePort {
  name?: string;
  port?: number;
  protocol?: string;
  appProtocol?: string;
}

export interface SliceEndpoint {
  addresses: string[];
  conditions: { ready?: boolean; serving?: boolean; terminating?: boolean };
  hostname?: string;
  targetRef?: { kind?: string; namespace?: string; name?: string; uid?: string; resourceVersion?: string };
  nodeName?: string;
  zone?: string;
  hints?: unknown;
}

export interface SlicePlan {
  create: KObject[];
  update: KObject[];
  delete: KObject[];
}

/** The identity of an endpoint inside a slice group (upstream's endpoint hash: addresses, hostname, target). */
export function endpointKey(ep: SliceEndpoint): string {
  return JSON.stringify([[...ep.addresses].sort(), ep.hostname ?? '', ep.targetRef?.namespace ?? '', ep.targetRef?.name ?? '']);
}

/** Equal in what the key does not cover: node, zone, conditions, target (ignoring its resourceVersion). */
export function endpointsEqualBeyondKey(a: SliceEndpoint, b: SliceEndpoint): boolean {
  if ((a.nodeName ?? null) !== (b.nodeName ?? null)) return false;
  if ((a.zone ?? null) !== (b.zone ?? null)) return false;
  for (const c of ['ready', 'serving', 'terminating'] as const) {
    if ((a.conditions?.[c] ?? null) !== (b.conditions?.[c] ?? null)) return false;
  }
  const ra = a.targetRef ? { ...a.targetRef, resourceVersion: undefined } : null;
  const rb = b.targetRef ? { ...b.targetRef, resourceVersion: undefined } : null;
  return canonicalJSON(ra) === canonicalJSON(rb);
}

function portSortKey(p: SlicePort): string {
  return JSON.stringify([p.name ?? '', p.port ?? 0, p.protocol ?? '', p.appProtocol ?? '']);
}

/** Ports in a canonical order, and the key of that set (upstream's PortMapKey). */
export function portMapKey(ports: SlicePort[]): string {
  return JSON.stringify([...ports].map(portSortKey).sort());
}

export function sortPorts(ports: SlicePort[]): SlicePort[] {
  return [...ports].sort((a, b) => (portSortKey(a) < portSortKey(b) ? -1 : portSortKey(a) > portSortKey(b) ? 1 : 0));
}

/** The address types a service's slices carry: its ipFamilies, else guessed from its clusterIP. */
export function addressTypesForService(svc: KObject): Set<AddressType> {
  const out = new Set<AddressType>();
  for (const f of svc.spec?.ipFamilies ?? []) {
    if (f === 'IPv4') out.add('IPv4');
    if (f === 'IPv6') out.add('IPv6');
  }
  if (out.size) return out;
  if (isServiceIPSet(svc)) {
    out.add(String(svc.spec.clusterIP).includes(':') ? 'IPv6' : 'IPv4');
    return out;
  }
  // A headless service from an apiserver that does not default ipFamilies: both.
  out.add('IPv4');
  out.add('IPv6');
  return out;
}

/** The ports a pod serves for a service: every service port that resolves on the pod. */
export function endpointPorts(svc: KObject, pod: KObject): SlicePort[] {
  const ports: SlicePort[] = [];
  const svcPorts: any[] = svc.spec?.ports ?? [];
  if (svcPorts.length === 0 && svc.spec?.clusterIP === 'None') return ports;
  for (const sp of svcPorts) {
    const port = findPort(pod, sp);
    if (port === undefined) continue;
    const p: SlicePort = { name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP' };
    if (sp.appProtocol) p.appProtocol = sp.appProtocol;
    ports.push(p);
  }
  return ports;
}

/** A pod as a slice endpoint: ready, serving and terminating as upstream computes them. */
export function podToEndpoint(pod: KObject, o: { node: KObject | undefined; service: KObject; addressType: AddressType }): SliceEndpoint {
  const { node, service: svc, addressType } = o;
  const serving = isPodReady(pod);
  const terminating = !!pod.metadata.deletionTimestamp;
  // Never ready while terminating, unless the service publishes not-ready addresses.
  const ready = svc.spec?.publishNotReadyAddresses === true || (serving && !terminating);
  const ips: string[] = (pod.status?.podIPs ?? []).map((p: { ip: string }) => p.ip);
  if (!ips.length && pod.status?.podIP) ips.push(pod.status.podIP);
  const ep: SliceEndpoint = {
    addresses: ips.filter((ip) => (addressType === 'IPv6') === ip.includes(':')),
    conditions: { ready, serving, terminating },
    targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid },
  };
  if (pod.spec?.nodeName) ep.nodeName = pod.spec.nodeName;
  const zone = node?.metadata.labels?.[LABEL_TOPOLOGY_ZONE];
  if (zone) ep.zone = zone;
  if (shouldSetHostname(pod, svc)) ep.hostname = pod.spec.hostname;
  return ep;
}

export function ownedBy(slice: KObject, svc: KObject): boolean {
  return (slice.metadata.ownerReferences ?? []).some((o) => o.uid === svc.metadata.uid && o.kind === 'Service' && o.apiVersion === 'v1');
}

const RESERVED_LABELS = new Set([LABEL_SERVICE_NAME, LABEL_MANAGED_BY, IS_HEADLESS_SERVICE]);

/** The labels a slice of `svc` carries (the service's, plus the reserved ones), and whether the slice's differ. */
export function sliceLabels(slice: KObject, o: { service: KObject; controllerName: string }): { labels: Record<string, string>; changed: boolean } {
  const { service: svc, controllerName } = o;
  const have: Record<string, string> = {};
  for (const [k, v] of Object.entries(slice.metadata.labels ?? {})) if (!RESERVED_LABELS.has(k)) have[k] = v;
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(svc.metadata.labels ?? {})) if (!RESERVED_LABELS.has(k)) labels[k] = v;
  const changed = !labelsEqual(have, labels);
  if (!isServiceIPSet(svc)) labels[IS_HEADLESS_SERVICE] = '';
  labels[LABEL_SERVICE_NAME] = svc.metadata.name!;
  labels[LABEL_MANAGED_BY] = controllerName;
  return { labels, changed };
}

/** `<service>-` when that makes a valid generateName, else the service's name. */
export function slicePrefix(name: string): string {
  return name.length + 1 <= 253 - 5 ? `${name}-` : name;
}

export function newSlice(svc: KObject, o: { ports: SlicePort[]; addressType: AddressType; controllerName: string }): KObject {
  const { ports, addressType, controllerName } = o;
  const slice: KObject = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      generateName: slicePrefix(svc.metadata.name!),
      namespace: svc.metadata.namespace,
      labels: {},
      ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: svc.metadata.name!, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true }],
    },
    addressType,
    endpoints: [],
    ports,
  };
  slice.metadata.labels = sliceLabels(slice, { service: svc, controllerName }).labels;
  return slice;
}

/**
 * The slice as upstream's apiserver stores it: client-go sends slices as protobuf, where
 * an empty list and no list are the same, so empty endpoints and ports read back null.
 */
export function wireForm(slice: KObject): KObject {
  const s = { ...slice };
  if (!s.endpoints?.length) s.endpoints = null;
  if (!s.ports?.length) s.ports = null;
  return s;
}

/** Sets or clears the last-change-trigger-time annotation of a slice about to be written. */
export function setTriggerTime(slice: KObject, triggerTime: number | undefined): void {
  const a: Record<string, string> = { ...(slice.metadata.annotations ?? {}) };
  if (triggerTime !== undefined) a[LAST_CHANGE_TRIGGER_TIME] = rfc3339Nano(triggerTime);
  else delete a[LAST_CHANGE_TRIGGER_TIME];
  // Go's omitempty: an empty map is not written.
  if (Object.keys(a).length) slice.metadata.annotations = a;
  else delete slice.metadata.annotations;
}

function compareEndpoints(a: SliceEndpoint, b: SliceEndpoint): number {
  const c = compareIPs(a.addresses[0] ?? '', b.addresses[0] ?? '');
  if (c !== 0) return c;
  const ka = endpointKey(a);
  const kb = endpointKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

export interface ReconcileInput {
  service: KObject;
  pods: KObject[];
  /** The service's slices managed by this controller (not being deleted). */
  existing: KObject[];
  nodes: Pick<Lister, 'get'>;
  maxEndpointsPerSlice?: number;
  controllerName?: string;
}

export interface ReconcileOutput extends SlicePlan {
  /** Pods left out because their node is unknown: the service should be synced again later. */
  errors: string[];
}

/** The whole plan for one service (every address type), before recycling deletes into creates. */
export function reconcileSlices(input: ReconcileInput): ReconcileOutput {
  const { service } = input;
  const controllerName = input.controllerName ?? CONTROLLER_NAME;
  const max = input.maxEndpointsPerSlice ?? MAX_ENDPOINTS_PER_SLICE;
  const types = addressTypesForService(service);
  const out: ReconcileOutput = { create: [], update: [], delete: [], errors: [] };
  const byType = new Map<string, KObject[]>();
  for (const s of input.existing) {
    if (!types.has(s.addressType)) {
      out.delete.push(s);
      continue;
    }
    const list = byType.get(s.addressType) ?? [];
    list.push(s);
    byType.set(s.addressType, list);
  }
  for (const t of [...types].sort()) {
    const r = reconcileByAddressType({ svc: service, addressType: t, nodes: input.nodes, max, controllerName }, { pods: input.pods, existing: byType.get(t) ?? [] });
    out.create.push(...r.create);
    out.update.push(...r.update);
    out.delete.push(...r.delete);
    out.errors.push(...r.errors);
  }
  return out;
}

/** What every step of one service's reconcile for one address type shares. */
interface SliceParams {
  svc: KObject;
  addressType: AddressType;
  nodes: Pick<Lister, 'get'>;
  max: number;
  controllerName: string;
}

function reconcileByAddressType(p: SliceParams, input: { pods: KObject[]; existing: KObject[] }): ReconcileOutput {
  const { svc, addressType, nodes, controllerName } = p;
  const { pods, existing } = input;
  const out: ReconcileOutput = { create: [], update: [], delete: [], errors: [] };
  const existingByPorts = new Map<string, KObject[]>();
  for (const s of existing) {
    if (!ownedBy(s, svc)) {
      out.delete.push(s);
      continue;
    }
    const k = portMapKey(s.ports ?? []);
    existingByPorts.set(k, [...(existingByPorts.get(k) ?? []), s]);
  }
  const desiredPorts = new Map<string, SlicePort[]>();
  const desired = new Map<string, Map<string, SliceEndpoint>>();
  for (const pod of pods) {
    if (!shouldPodBeInEndpoints(pod, true)) continue;
    const ports = sortPorts(endpointPorts(svc, pod));
    const k = portMapKey(ports);
    if (!desired.has(k)) {
      desired.set(k, new Map());
      desiredPorts.set(k, ports);
    }
    const node = pod.spec?.nodeName ? nodes.get(undefined, pod.spec.nodeName) : undefined;
    if (!node && svc.spec?.publishNotReadyAddresses !== true) {
      // Retried later; the slice is written without the pod meanwhile.
      out.errors.push(`skipping Pod ${pod.metadata.name} for Service ${svc.metadata.namespace}/${svc.metadata.name}: Node ${pod.spec?.nodeName ?? ''} Not Found`);
      continue;
    }
    const ep = podToEndpoint(pod, { node, service: svc, addressType });
    if (ep.addresses.length) desired.get(k)!.set(endpointKey(ep), ep);
  }

  for (const [k, eps] of desired) {
    const r = reconcileByPortMapping(p, { existing: existingByPorts.get(k) ?? [], desired: eps, ports: desiredPorts.get(k)! });
    out.create.push(...r.create);
    out.update.push(...r.update);
    out.delete.push(...r.delete);
  }
  for (const [k, slices] of existingByPorts) if (!desired.has(k)) out.delete.push(...slices);

  // A service without endpoints keeps one placeholder slice.
  if (existing.length === out.delete.length && out.create.length === 0) {
    const placeholder = newSlice(svc, { ports: [], addressType, controllerName });
    if (out.delete.length === 1 && isPlaceholderLike(out.delete[0], placeholder)) out.delete = [];
    else out.create.push(placeholder);
  }
  return out;
}

/** The slice is already the placeholder this service would get (same owner, namespace, labels, no ports or endpoints). */
function isPlaceholderLike(slice: KObject, placeholder: KObject): boolean {
  return (
    slice.metadata.namespace === placeholder.metadata.namespace &&
    labelsEqual(slice.metadata.labels, placeholder.metadata.labels) &&
    canonicalJSON(ownerKeys(slice)) === canonicalJSON(ownerKeys(placeholder)) &&
    slice.addressType === placeholder.addressType &&
    !(slice.endpoints ?? []).length &&
    !(slice.ports ?? []).length
  );
}

function ownerKeys(s: KObject): unknown {
  return (s.metadata.ownerReferences ?? []).map((o) => [o.apiVersion, o.kind, o.name, o.uid, !!o.controller, !!o.blockOwnerDeletion]);
}

function reconcileByPortMapping(p: SliceParams, group: { existing: KObject[]; desired: Map<string, SliceEndpoint>; ports: SlicePort[] }): SlicePlan {
  const { svc, addressType, max, controllerName } = p;
  const { existing, desired: desiredSet, ports } = group;
  const byName = new Map<string, KObject>();
  const unchanged = new Set<string>();
  const toUpdate = new Set<string>();
  const toDelete = new Set<string>();

  // 1. Keep wanted endpoints where they are (updated if they changed); drop the rest.
  for (const s of existing) {
    byName.set(s.metadata.name!, s);
    const kept: SliceEndpoint[] = [];
    let endpointUpdated = false;
    for (const ep of (s.endpoints ?? []) as SliceEndpoint[]) {
      const k = endpointKey(ep);
      const got = desiredSet.get(k);
      if (!got) continue;
      kept.push(got);
      if (!endpointsEqualBeyondKey(got, ep)) endpointUpdated = true;
      desiredSet.delete(k);
    }
    const { labels, changed } = sliceLabels(s, { service: svc, controllerName });
    if (endpointUpdated || kept.length !== (s.endpoints ?? []).length) {
      if (kept.length === 0) toDelete.add(s.metadata.name!);
      else {
        const copy = structuredClone(s);
        copy.endpoints = kept;
        copy.metadata.labels = labels;
        byName.set(s.metadata.name!, copy);
        toUpdate.add(s.metadata.name!);
      }
    } else if (changed) {
      const copy = structuredClone(s);
      copy.metadata.labels = labels;
      byName.set(s.metadata.name!, copy);
      toUpdate.add(s.metadata.name!);
    } else {
      unchanged.add(s.metadata.name!);
    }
  }

  const remaining = [...desiredSet.values()].sort(compareEndpoints);
  // 2. Fill the slices being updated anyway, fullest first.
  if (remaining.length && toUpdate.size) {
    const slices = [...toUpdate].map((n) => byName.get(n)!).sort((a, b) => (b.endpoints?.length ?? 0) - (a.endpoints?.length ?? 0));
    for (const s of slices) {
      while (remaining.length && s.endpoints.length < max) s.endpoints.push(remaining.shift()!);
    }
  }

  // 3. Then the unchanged slice that comes closest to full, else new slices.
  const create: KObject[] = [];
  while (remaining.length) {
    let fill: KObject | undefined;
    if (remaining.length < max && unchanged.size) {
      const candidate = sliceToFill([...unchanged].map((n) => byName.get(n)!), { adding: remaining.length, max });
      if (candidate) {
        fill = structuredClone(candidate);
        byName.set(fill.metadata.name!, fill);
      }
    }
    if (!fill) fill = newSlice(svc, { ports, addressType, controllerName });
    fill.endpoints ??= [];
    while (remaining.length && fill.endpoints.length < max) fill.endpoints.push(remaining.shift()!);
    if (fill.metadata.name) {
      toUpdate.add(fill.metadata.name);
      unchanged.delete(fill.metadata.name);
    } else create.push(fill);
  }
  return {
    create,
    update: [...toUpdate].map((n) => byName.get(n)!),
    delete: [...toDelete].map((n) => byName.get(n)!),
  };
}

/** The slice that will be closest to full with `n` more endpoints, if one has room. */
function sliceToFill(slices: KObject[], o: { adding: number; max: number }): KObject | undefined {
  const { adding: n, max } = o;
  let closest = max;
  let best: KObject | undefined;
  for (const s of slices) {
    const diff = max - (n + (s.endpoints?.length ?? 0));
    if (diff >= 0 && diff < closest) {
      closest = diff;
      best = s;
      if (diff === 0) return best;
    }
  }
  return best;
}

/**
 * Turns creates into updates of slices that would be deleted (same address type, owned
 * by the service), as upstream's finalize does, saving a delete and a create.
 */
export function recycleSlices(plan: SlicePlan, ownerCheck: (s: KObject) => boolean): SlicePlan {
  const create = [...plan.create];
  const update = [...plan.update];
  const del = [...plan.delete];
  for (let i = 0; i < del.length && create.length; ) {
    const victim = del[i];
    const slice = create[create.length - 1];
    if (victim.addressType === slice.addressType && ownerCheck(victim)) {
      slice.metadata.name = victim.metadata.name;
      delete slice.metadata.generateName;
      slice.metadata.resourceVersion = victim.metadata.resourceVersion;
      create.pop();
      update.push(slice);
      del.splice(i, 1);
    } else i++;
  }
  return { create, update, delete: del };
}
