// ClusterData over shared informers: Services, EndpointSlices and Namespaces (and Pods
// in `pods verified` mode), with indexes for the lookups DNS makes by IP. Every change
// bumps `generation` (the response cache keys cluster answers on it) and the SOA serial.
// Reads the informers' caches only; never mutates cached objects.

import { isIP } from 'node:net';
import type { KObject } from '../api/object.ts';
import type { SharedInformerFactory } from '../client/factory.ts';
import type { Informer } from '../client/informer.ts';
import { ref } from '../client/resources.ts';
import { canonicalIPv6, type ClusterData, type DnsEndpoint, type DnsService, type DnsServicePort } from './records.ts';

export const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
const INDEX_CLUSTER_IP = 'dns.clusterIP';
const INDEX_SERVICE = 'dns.service';
const INDEX_ADDRESS = 'dns.address';
const INDEX_POD_IP = 'dns.podIP';

export function canonicalIP(ip: string): string {
  return isIP(ip) === 6 ? canonicalIPv6(ip) : ip;
}

function clusterIPsOf(svc: KObject): string[] {
  const spec = svc.spec ?? {};
  const ips: string[] = Array.isArray(spec.clusterIPs) && spec.clusterIPs.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  return ips.filter((ip) => ip && ip !== 'None').map(canonicalIP);
}

export function toDnsService(svc: KObject): DnsService {
  const spec = svc.spec ?? {};
  const ips: string[] = Array.isArray(spec.clusterIPs) && spec.clusterIPs.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  return {
    namespace: svc.metadata.namespace ?? '',
    name: svc.metadata.name ?? '',
    type: spec.type,
    clusterIPs: ips[0] === 'None' ? [] : ips.filter(Boolean).map(canonicalIP),
    externalName: spec.externalName,
    ports: (spec.ports ?? []).map((p: any) => ({ name: p.name, port: p.port, protocol: p.protocol ?? 'TCP' })),
  };
}

/** Ready endpoints of a set of slices, one per address, deduplicated by address (ready: condition not false). */
export function readyEndpointsOf(slices: KObject[]): DnsEndpoint[] {
  const out: DnsEndpoint[] = [];
  const seen = new Set<string>();
  for (const s of slices) {
    if (s.addressType !== 'IPv4' && s.addressType !== 'IPv6') continue;
    const ports: DnsServicePort[] = (s.ports ?? []).filter((p: any) => typeof p?.port === 'number').map((p: any) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' }));
    for (const ep of s.endpoints ?? []) {
      if (ep?.conditions?.ready === false) continue;
      for (const a of ep.addresses ?? []) {
        const ip = canonicalIP(String(a));
        if (seen.has(ip)) continue;
        seen.add(ip);
        out.push({ ip, hostname: ep.hostname || undefined, ports });
      }
    }
  }
  return out;
}

export interface InformerClusterDataOptions {
  podMode: 'disabled' | 'insecure' | 'verified';
  /** The DNS service (its cluster IPs answer NS and ns.dns.<zone>): default kube-system/kube-dns. */
  dnsService?: { namespace: string; name: string };
  /** Addresses to answer NS with when the DNS service has none (e.g. the listen address). */
  fallbackNameservers?: string[];
}

export class InformerClusterData implements ClusterData {
  /** Bumped on every change the informers see. */
  generation = 0;
  private modified = Math.floor(Date.now() / 1000);
  private readonly services: Informer;
  private readonly slices: Informer;
  private readonly namespaces: Informer;
  private readonly pods: Informer | undefined;
  private readonly opts: InformerClusterDataOptions;
  private readonly listeners = new Set<() => void>();

  /** Registers informers on `factory` (start the factory afterwards). */
  constructor(factory: SharedInformerFactory, opts: InformerClusterDataOptions) {
    this.opts = opts;
    this.services = factory.informerFor(ref.services);
    this.slices = factory.informerFor(ref.endpointslices);
    this.namespaces = factory.informerFor(ref.namespaces);
    this.services.addIndexers({ [INDEX_CLUSTER_IP]: clusterIPsOf });
    this.slices.addIndexers({
      [INDEX_SERVICE]: (s) => {
        const n = s.metadata.labels?.[LABEL_SERVICE_NAME];
        return n ? [`${s.metadata.namespace}/${n}`] : [];
      },
      [INDEX_ADDRESS]: (s) => (s.endpoints ?? []).flatMap((e: any) => (e?.addresses ?? []).map((a: string) => canonicalIP(String(a)))),
    });
    const informers = [this.services, this.slices, this.namespaces];
    if (opts.podMode === 'verified') {
      this.pods = factory.informerFor(ref.pods);
      this.pods.addIndexers({ [INDEX_POD_IP]: (p) => (p.status?.podIPs ?? (p.status?.podIP ? [{ ip: p.status.podIP }] : [])).map((x: any) => canonicalIP(String(x.ip))) });
      informers.push(this.pods);
    }
    const changed = () => this.changed();
    for (const inf of informers) inf.addEventHandler({ onAdd: changed, onUpdate: (o, n) => o !== n && changed(), onDelete: changed });
  }

  /** Called after every change (the server drops cached cluster answers). */
  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(): void {
    this.generation++;
    this.modified = Math.floor(Date.now() / 1000);
    for (const fn of this.listeners) fn();
  }

  hasSynced(): boolean {
    return this.services.hasSynced() && this.slices.hasSynced() && this.namespaces.hasSynced() && (this.pods?.hasSynced() ?? true);
  }

  service(namespace: string, name: string): DnsService | undefined {
    const s = this.services.lister.get(namespace, name);
    return s ? toDnsService(s) : undefined;
  }

  namespaceExists(namespace: string): boolean {
    return this.namespaces.lister.get(undefined, namespace) !== undefined;
  }

  readyEndpoints(namespace: string, name: string): DnsEndpoint[] {
    return readyEndpointsOf(this.slices.lister.byIndex(INDEX_SERVICE, `${namespace}/${name}`));
  }

  servicesByIP(ip: string): DnsService[] {
    return this.services.lister.byIndex(INDEX_CLUSTER_IP, canonicalIP(ip)).map(toDnsService);
  }

  endpointsByIP(ip: string): { namespace: string; service: string; endpoint: DnsEndpoint }[] {
    const want = canonicalIP(ip);
    const out: { namespace: string; service: string; endpoint: DnsEndpoint }[] = [];
    for (const s of this.slices.lister.byIndex(INDEX_ADDRESS, want)) {
      const service = s.metadata.labels?.[LABEL_SERVICE_NAME];
      if (!service) continue;
      for (const ep of readyEndpointsOf([s])) if (ep.ip === want) out.push({ namespace: s.metadata.namespace ?? '', service, endpoint: ep });
    }
    return out;
  }

  podExists(namespace: string, ip: string): boolean {
    if (!this.pods) return true;
    return this.pods.lister.byIndex(INDEX_POD_IP, canonicalIP(ip)).some((p) => p.metadata.namespace === namespace);
  }

  nameserverIPs(): string[] {
    const d = this.opts.dnsService ?? { namespace: 'kube-system', name: 'kube-dns' };
    const svc = this.services.lister.get(d.namespace, d.name);
    const ips = svc ? clusterIPsOf(svc) : [];
    return ips.length ? ips : (this.opts.fallbackNameservers ?? []);
  }

  serial(): number {
    return this.modified;
  }
}
