// What the proxy programs, computed from Services and EndpointSlices: one ServicePort
// per (service, port, IP family), with its endpoints and policies, as kube-proxy's
// ServicePortName and endpointsMap. Pure. What must hold (upstream behaviour):
//   - Headless and ExternalName services get nothing; so do ports of an IP family the
//     service has no cluster IP in.
//   - Endpoints come from every slice labelled with the service's name and of the
//     family's address type; the port is found by name and protocol; an address seen in
//     several slices counts once (the first ready one wins).
//   - Usable endpoints (topology.CategorizeEndpoints): the ready ones, else the ones
//     serving and terminating; "local" is the same choice among endpoints on this node.

import { isIP } from 'node:net';
import type { KObject } from '../api/object.ts';

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';

export type Family = 4 | 6;
export type Protocol = 'tcp' | 'udp' | 'sctp';

export interface ProxyEndpoint {
  ip: string;
  port: number;
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  nodeName?: string;
}

export interface ServicePort {
  namespace: string;
  name: string;
  /** The service port's name ('' when unnamed). */
  portName: string;
  protocol: Protocol;
  family: Family;
  port: number;
  clusterIP: string;
  /** 0: none. */
  nodePort: number;
  externalIPs: string[];
  loadBalancerIPs: string[];
  /** ClientIP affinity timeout in seconds, or 0 for none. */
  affinitySeconds: number;
  internalLocal: boolean;
  externalLocal: boolean;
  endpoints: ProxyEndpoint[];
}

/** "ns/name:port" as kube-proxy's ServicePortName prints it (port name may be empty). */
export function servicePortName(sp: Pick<ServicePort, 'namespace' | 'name' | 'portName'>): string {
  return `${sp.namespace}/${sp.name}${sp.portName ? ':' + sp.portName : ''}`;
}

const PROTOCOLS: Record<string, Protocol> = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' };

function familyOf(ip: string): Family | 0 {
  const f = isIP(ip);
  return f === 4 || f === 6 ? f : 0;
}

/** Whether the service gets rules at all. */
export function isProxied(svc: KObject): boolean {
  const spec = svc.spec ?? {};
  if (spec.type === 'ExternalName') return false;
  if (!spec.clusterIP || spec.clusterIP === 'None') return false;
  return true;
}

/** The service ports of `svc` with the endpoints of `slices` (those labelled with its name). */
export function servicePorts(svc: KObject, slices: KObject[]): ServicePort[] {
  if (!isProxied(svc)) return [];
  const spec = svc.spec ?? {};
  const namespace = svc.metadata.namespace ?? '';
  const name = svc.metadata.name ?? '';
  const clusterIPs: string[] = Array.isArray(spec.clusterIPs) && spec.clusterIPs.length ? spec.clusterIPs : [spec.clusterIP];
  const affinity = spec.sessionAffinity === 'ClientIP' ? (spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800) : 0;
  const lbIPs: string[] = (spec.type === 'LoadBalancer' ? (svc.status?.loadBalancer?.ingress ?? []) : [])
    // ipMode Proxy: the load balancer delivers to the node itself, not to the VIP (upstream skips these).
    .filter((i: any) => i?.ip && i.ipMode !== 'Proxy')
    .map((i: any) => String(i.ip));
  const externalIPs: string[] = (spec.externalIPs ?? []).map(String);
  const out: ServicePort[] = [];
  for (const clusterIP of clusterIPs) {
    const family = familyOf(clusterIP);
    if (!family) continue;
    const addressType = family === 4 ? 'IPv4' : 'IPv6';
    const famSlices = slices.filter((s) => s.addressType === addressType);
    for (const p of spec.ports ?? []) {
      const protocol = PROTOCOLS[p.protocol ?? 'TCP'];
      if (!protocol || typeof p.port !== 'number') continue;
      const portName = p.name ?? '';
      out.push({
        namespace,
        name,
        portName,
        protocol,
        family,
        port: p.port,
        clusterIP,
        nodePort: (spec.type === 'NodePort' || spec.type === 'LoadBalancer') && typeof p.nodePort === 'number' ? p.nodePort : 0,
        externalIPs: externalIPs.filter((ip) => familyOf(ip) === family),
        loadBalancerIPs: lbIPs.filter((ip) => familyOf(ip) === family),
        affinitySeconds: affinity,
        internalLocal: spec.internalTrafficPolicy === 'Local',
        externalLocal: spec.externalTrafficPolicy === 'Local',
        endpoints: endpointsFor(famSlices, portName, p.protocol ?? 'TCP'),
      });
    }
  }
  return out;
}

function endpointsFor(slices: KObject[], portName: string, protocol: string): ProxyEndpoint[] {
  const byIP = new Map<string, ProxyEndpoint>();
  for (const s of slices) {
    const sp = (s.ports ?? []).find((x: any) => (x?.name ?? '') === portName && (x?.protocol ?? 'TCP') === protocol);
    if (!sp || typeof sp.port !== 'number') continue;
    for (const e of s.endpoints ?? []) {
      const ip = e?.addresses?.[0];
      if (typeof ip !== 'string' || !familyOf(ip)) continue;
      const c = e.conditions ?? {};
      // Unset ready/serving mean "unknown", taken as ready (the API's documented reading).
      const ready = c.ready !== false;
      const ep: ProxyEndpoint = { ip, port: sp.port, ready, serving: c.serving ?? ready, terminating: c.terminating === true, nodeName: e.nodeName };
      const prev = byIP.get(ip);
      if (!prev || (!prev.ready && ep.ready)) byIP.set(ip, ep);
    }
  }
  return [...byIP.values()].sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : a.port - b.port));
}

/** Ready endpoints, else serving-and-terminating ones (upstream's fallback for graceful termination). */
export function usable(eps: ProxyEndpoint[]): ProxyEndpoint[] {
  const ready = eps.filter((e) => e.ready);
  if (ready.length) return ready;
  return eps.filter((e) => e.serving && e.terminating);
}

export interface Categorized {
  /** Endpoints for traffic under the Cluster policy. */
  cluster: ProxyEndpoint[];
  /** Endpoints on this node, for the Local policies. */
  local: ProxyEndpoint[];
}

export function categorize(eps: ProxyEndpoint[], nodeName: string): Categorized {
  return { cluster: usable(eps), local: usable(eps.filter((e) => e.nodeName === nodeName)) };
}

/**
 * The health check port this node opens for `svc` (upstream's NeedsHealthCheck: a proxied
 * LoadBalancer Service with externalTrafficPolicy Local), or 0.
 */
export function healthCheckNodePort(svc: KObject): number {
  const spec = svc.spec ?? {};
  if (!isProxied(svc) || spec.type !== 'LoadBalancer' || spec.externalTrafficPolicy !== 'Local') return 0;
  const p = spec.healthCheckNodePort;
  return typeof p === 'number' && Number.isInteger(p) && p > 0 && p <= 65535 ? p : 0;
}

/**
 * Ready endpoints on `nodeName` by "namespace/name", counted by distinct address across the
 * service's ports and families (upstream's LocalReadyEndpoints: a pod serving 80 and 443 is
 * one endpoint; terminating ones do not count, so a node left with only those fails).
 */
export function localReadyEndpoints(sps: ServicePort[], nodeName: string): Map<string, number> {
  const ips = new Map<string, Set<string>>();
  for (const sp of sps) {
    for (const e of sp.endpoints) {
      if (!e.ready || e.nodeName !== nodeName) continue;
      const k = `${sp.namespace}/${sp.name}`;
      let s = ips.get(k);
      if (!s) ips.set(k, (s = new Set()));
      s.add(e.ip);
    }
  }
  return new Map([...ips].map(([k, s]) => [k, s.size]));
}
