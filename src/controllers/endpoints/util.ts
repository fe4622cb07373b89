// What the Endpoints and EndpointSlice controllers share, as upstream's
// k8s.io/endpointslice/util and pkg/api/v1/endpoints: which pods belong in a Service's
// endpoints, how a service port resolves against a pod (named targetPorts), which
// services a pod change concerns, the last-change-trigger-time tracker, and the
// canonical (repacked, sorted) form of Endpoints subsets.

import type { KObject } from '../../api/object.ts';
import { selectorFromSet } from '../../api/selectors.ts';
import type { Lister } from '../../client/indexer.ts';
import { keyOf } from '../../client/util.ts';

export const LAST_CHANGE_TRIGGER_TIME = 'endpoints.kubernetes.io/last-change-trigger-time';
export const OVER_CAPACITY = 'endpoints.kubernetes.io/over-capacity';
export const IS_HEADLESS_SERVICE = 'service.kubernetes.io/headless';
export const LEADER_ELECTION_ANNOTATION = 'control-plane.alpha.kubernetes.io/leader';

export function podReadyCondition(pod: KObject): { status?: string; lastTransitionTime?: string } | undefined {
  return (pod.status?.conditions ?? []).find((c: { type?: string }) => c.type === 'Ready');
}

export function isPodReady(pod: KObject): boolean {
  return podReadyCondition(pod)?.status === 'True';
}

export function isPodTerminal(pod: KObject): boolean {
  const phase = pod.status?.phase;
  return phase === 'Failed' || phase === 'Succeeded';
}

/** Terminal pods and pods without an IP never appear; terminating ones only when asked for. */
export function shouldPodBeInEndpoints(pod: KObject, includeTerminating: boolean): boolean {
  if (isPodTerminal(pod)) return false;
  if (!pod.status?.podIP && !(pod.status?.podIPs ?? []).length) return false;
  if (!includeTerminating && pod.metadata.deletionTimestamp) return false;
  return true;
}

/** A pod's hostname is published when its subdomain names the service (StatefulSet pods behind their headless service). */
export function shouldSetHostname(pod: KObject, svc: KObject): boolean {
  return !!pod.spec?.hostname && pod.spec?.subdomain === svc.metadata.name && svc.metadata.namespace === pod.metadata.namespace;
}

/** False for headless services (clusterIP None) and services without an address yet. */
export function isServiceIPSet(svc: KObject): boolean {
  const ip = svc.spec?.clusterIP;
  return ip !== 'None' && ip !== '' && ip !== undefined && ip !== null;
}

export function hasSelector(svc: KObject): boolean {
  const sel = svc.spec?.selector;
  return sel !== undefined && sel !== null;
}

/**
 * The container port a service port targets on this pod: a number as is, a name looked
 * up (with the service port's protocol) in the pod's containers and sidecars. Undefined
 * when the pod has no such named port.
 */
export function findPort(pod: KObject, svcPort: { targetPort?: number | string; port?: number; protocol?: string }): number | undefined {
  const target = svcPort.targetPort ?? svcPort.port;
  if (typeof target === 'number') return target;
  if (typeof target !== 'string') return undefined;
  const protocol = svcPort.protocol ?? 'TCP';
  const match = (containers: any[] | undefined, sidecarsOnly: boolean) => {
    for (const c of containers ?? []) {
      if (sidecarsOnly && c.restartPolicy !== 'Always') continue;
      for (const p of c.ports ?? []) {
        if (p.name === target && (p.protocol ?? 'TCP') === protocol) return p.containerPort as number;
      }
    }
    return undefined;
  };
  return match(pod.spec?.containers, false) ?? match(pod.spec?.initContainers, true);
}

/** The keys of the services selecting a pod: selector-based services of its namespace matching its labels. */
export function servicesForPod(services: Lister, pod: KObject): Set<string> {
  const out = new Set<string>();
  for (const svc of services.list(pod.metadata.namespace ?? '')) {
    if (!hasSelector(svc)) continue;
    if (selectorFromSet(svc.spec.selector).matches(pod.metadata.labels)) out.add(keyOf(svc));
  }
  return out;
}

function podIPsOf(pod: KObject): string[] {
  const ips = (pod.status?.podIPs ?? []).map((p: { ip: string }) => p.ip);
  if (!ips.length && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips;
}

/**
 * [podChanged, labelsChanged]: whether the pod changed in a way that changes its
 * endpoint (deletion, readiness, addresses) and in a way that may change which
 * services select it (labels, hostname, subdomain).
 */
export function podEndpointsChanged(oldPod: KObject, newPod: KObject): [boolean, boolean] {
  const labelsChanged =
    JSON.stringify(sortedEntries(oldPod.metadata.labels)) !== JSON.stringify(sortedEntries(newPod.metadata.labels)) ||
    oldPod.spec?.hostname !== newPod.spec?.hostname ||
    oldPod.spec?.subdomain !== newPod.spec?.subdomain;
  if (oldPod.metadata.deletionTimestamp !== newPod.metadata.deletionTimestamp) return [true, labelsChanged];
  if (isPodReady(oldPod) !== isPodReady(newPod)) return [true, labelsChanged];
  const a = podIPsOf(oldPod);
  const b = podIPsOf(newPod);
  if (a.length !== b.length || a.some((ip, i) => ip !== b[i])) return [true, labelsChanged];
  return [false, labelsChanged];
}

function sortedEntries(m: Record<string, string> | undefined): [string, string][] {
  return Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Services to sync after a pod update; none for a resync (same resourceVersion). */
export function servicesToUpdateOnPodChange(services: Lister, change: { oldPod: KObject; newPod: KObject }): Set<string> {
  const { oldPod, newPod } = change;
  if (oldPod.metadata.resourceVersion === newPod.metadata.resourceVersion) return new Set();
  const [podChanged, labelsChanged] = podEndpointsChanged(oldPod, newPod);
  if (!podChanged && !labelsChanged) return new Set();
  const now = servicesForPod(services, newPod);
  if (!labelsChanged) return now;
  const before = servicesForPod(services, oldPod);
  if (podChanged) return new Set([...now, ...before]);
  // Only labels changed: the services that gained or lost the pod.
  const out = new Set<string>();
  for (const k of now) if (!before.has(k)) out.add(k);
  for (const k of before) if (!now.has(k)) out.add(k);
  return out;
}

/** Go's time.RFC3339Nano of a timestamp (trailing zeros of the fraction dropped). */
export function rfc3339Nano(ms: number): string {
  // ".000Z" → "Z", ".120Z" → ".12Z".
  return new Date(ms).toISOString().replace(/\.?0*Z$/, 'Z');
}

/**
 * The EndpointsLastChangeTriggerTime tracker: per service, the pod trigger times (their
 * Ready condition's lastTransitionTime) and the service's creation time seen at the
 * last sync; a sync reports the earliest trigger time that changed since, or the
 * service's creation for a service seen the first time. Undefined: nothing changed.
 * Not safe for concurrent calls with the same service (the work queue guarantees that).
 */
export class TriggerTimeTracker {
  private readonly states = new Map<string, { service: number; pods: Map<string, number> }>();

  compute(svc: KObject, pods: KObject[]): number | undefined {
    const key = keyOf(svc);
    const state = this.states.get(key);
    let min: number | undefined;
    const podTimes = new Map<string, number>();
    for (const pod of pods) {
      const t = Date.parse(podReadyCondition(pod)?.lastTransitionTime ?? '');
      if (!Number.isFinite(t)) continue;
      podTimes.set(pod.metadata.name!, t);
      const last = state?.pods.get(pod.metadata.name!);
      if (last === undefined || t > last) min = min === undefined ? t : Math.min(min, t);
    }
    const created = Date.parse(svc.metadata.creationTimestamp ?? '');
    const serviceTime = Number.isFinite(created) ? created : 0;
    if (state === undefined || serviceTime > state.service) min = min === undefined ? serviceTime : Math.min(min, serviceTime);
    this.states.set(key, { service: serviceTime, pods: podTimes });
    if (!state) return Number.isFinite(created) ? created : undefined;
    return min;
  }

  deleteService(namespace: string, name: string): void {
    this.states.delete(`${namespace}/${name}`);
  }
}

// ---- Endpoints subsets in canonical form -------------------------------------------

export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: { kind?: string; namespace?: string; name?: string; uid?: string; resourceVersion?: string; apiVersion?: string; fieldPath?: string };
}

export interface EndpointPort {
  name?: string;
  port: number;
  protocol?: string;
  appProtocol?: string;
}

export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: EndpointPort[];
}

/** 16 bytes as Go's net.ParseIP gives (IPv4 as ::ffff:a.b.c.d), for ordering; undefined if not an IP. */
export function ipBytes(ip: string): number[] | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, ...parts];
  }
  if (!ip.includes(':')) return undefined;
  let head = ip;
  let tail4: number[] = [];
  const lastColon = ip.lastIndexOf(':');
  if (ip.slice(lastColon + 1).includes('.')) {
    const b = ipBytes(ip.slice(lastColon + 1));
    if (!b) return undefined;
    tail4 = b.slice(12);
    head = ip.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return undefined;
  const parse = (s: string) => (s === '' ? [] : s.split(':'));
  const left = parse(halves[0]);
  const right = halves.length === 2 ? parse(halves[1]) : [];
  const groups = halves.length === 2 ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const bytes: number[] = [];
  for (const g of groups) {
    const n = parseInt(g, 16);
    bytes.push(n >> 8, n & 255);
  }
  if (tail4.length) bytes.splice(12, 4, ...tail4);
  return bytes;
}

export function compareIPs(a: string, b: string): number {
  const x = ipBytes(a);
  const y = ipBytes(b);
  // As bytes.Compare of net.ParseIP results: what is not an IP (nil) sorts first.
  if (!x || !y) return x ? 1 : y ? -1 : 0;
  for (let i = 0; i < 16; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

function compareAddresses(a: EndpointAddress, b: EndpointAddress): number {
  const c = compareIPs(a.ip, b.ip);
  if (c !== 0) return c;
  const ua = a.targetRef?.uid ?? '';
  const ub = b.targetRef?.uid ?? '';
  return ua < ub ? -1 : ua > ub ? 1 : 0;
}

function portKey(p: EndpointPort): string {
  return JSON.stringify([p.name ?? '', p.port, p.protocol ?? '', p.appProtocol ?? null]);
}

/**
 * pkg/api/v1/endpoints RepackSubsets: one subset per distinct set of addresses offering
 * the same ports, a ready address winning over the same address not ready, addresses
 * sorted by IP then target UID, ports and subsets in a stable order.
 */
export function repackSubsets(subsets: EndpointSubset[]): EndpointSubset[] {
  // port → address key → [address, ready]
  const byPort = new Map<string, { port: EndpointPort | undefined; addrs: Map<string, [EndpointAddress, boolean]> }>();
  const addTo = (port: EndpointPort | undefined, addr: EndpointAddress, ready: boolean) => {
    const pk = port ? portKey(port) : '';
    let entry = byPort.get(pk);
    if (!entry) byPort.set(pk, (entry = { port, addrs: new Map() }));
    const ak = `${addr.ip}|${addr.targetRef?.uid ?? ''}`;
    const have = entry.addrs.get(ak);
    if (ready) entry.addrs.set(ak, [addr, true]);
    else if (!have) entry.addrs.set(ak, [addr, false]);
  };
  for (const s of subsets) {
    const ports = s.ports?.length ? s.ports : [undefined];
    for (const port of ports) {
      for (const a of s.addresses ?? []) addTo(port, a, true);
      for (const a of s.notReadyAddresses ?? []) addTo(port, a, false);
    }
  }
  // The set of (address, readiness) → the ports offered by exactly that set.
  const groups = new Map<string, { addrs: [EndpointAddress, boolean][]; ports: EndpointPort[] }>();
  for (const { port, addrs } of byPort.values()) {
    const list = [...addrs.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = JSON.stringify(list.map(([k, [, r]]) => [k, r]));
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { addrs: list.map(([, v]) => v), ports: [] }));
    if (port) g.ports.push(port);
  }
  const out: EndpointSubset[] = [];
  for (const g of groups.values()) {
    const s: EndpointSubset = {};
    const ready = g.addrs.filter(([, r]) => r).map(([a]) => a).sort(compareAddresses);
    const notReady = g.addrs.filter(([, r]) => !r).map(([a]) => a).sort(compareAddresses);
    if (ready.length) s.addresses = ready;
    if (notReady.length) s.notReadyAddresses = notReady;
    if (g.ports.length) s.ports = g.ports.sort((a, b) => (portKey(a) < portKey(b) ? -1 : portKey(a) > portKey(b) ? 1 : 0));
    out.push(s);
  }
  return out.sort((a, b) => {
    const ka = subsetOrderKey(a);
    const kb = subsetOrderKey(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

function subsetOrderKey(s: EndpointSubset): string {
  return JSON.stringify([(s.ports ?? []).map(portKey), (s.addresses ?? s.notReadyAddresses ?? [])[0]?.ip ?? '']);
}

/** Semantic equality of subsets, ignoring targetRef resourceVersions and empty-vs-missing lists. */
export function subsetsEqual(a: EndpointSubset[] | undefined | null, b: EndpointSubset[] | undefined | null): boolean {
  return canonicalJSON(normalizeSubsets(a)) === canonicalJSON(normalizeSubsets(b));
}

function normalizeSubsets(s: EndpointSubset[] | undefined | null): unknown {
  return (s ?? []).map((x) => ({
    addresses: (x.addresses ?? []).map(normalizeAddress),
    notReadyAddresses: (x.notReadyAddresses ?? []).map(normalizeAddress),
    ports: (x.ports ?? []).map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? '', appProtocol: p.appProtocol })),
  }));
}

function normalizeAddress(a: EndpointAddress): unknown {
  const ref = a.targetRef ? { ...a.targetRef, resourceVersion: undefined } : undefined;
  return { ip: a.ip, hostname: a.hostname || undefined, nodeName: a.nodeName || undefined, targetRef: ref };
}

/** JSON with sorted keys and undefined dropped: a comparison key for semantic equality. */
export function canonicalJSON(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJSON).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJSON(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** Label maps equal, nil and empty alike (apimachinery's semantic equality). */
export function labelsEqual(a: Record<string, string> | undefined | null, b: Record<string, string> | undefined | null): boolean {
  return canonicalJSON(a ?? {}) === canonicalJSON(b ?? {});
}
