// Fixtures for the DNS tests: Services and EndpointSlices built fluently, and a
// ClusterData over plain arrays (the same conversions as the informer-backed one).

import type { KObject } from '../api/object.ts';
import type { ClusterData, DnsEndpoint, DnsService } from './records.ts';
import { canonicalIP, LABEL_SERVICE_NAME, readyEndpointsOf, toDnsService } from './view.ts';

export class ServiceBuilder {
  readonly obj: KObject;
  constructor(name: string, namespace = 'default') {
    this.obj = { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace }, spec: { type: 'ClusterIP', ports: [] } };
  }
  clusterIP(...ips: string[]): this {
    this.obj.spec.clusterIP = ips[0];
    this.obj.spec.clusterIPs = ips;
    return this;
  }
  headless(): this {
    return this.clusterIP('None');
  }
  externalName(name: string): this {
    this.obj.spec.type = 'ExternalName';
    this.obj.spec.externalName = name;
    delete this.obj.spec.clusterIP;
    return this;
  }
  port(name: string, port: number, protocol = 'TCP'): this {
    this.obj.spec.ports.push({ ...(name ? { name } : {}), port, protocol, targetPort: port });
    return this;
  }
}

export const service = (name: string, namespace?: string) => new ServiceBuilder(name, namespace);

export interface EndpointSpec {
  ip: string;
  hostname?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
  nodeName?: string;
}

export class SliceBuilder {
  readonly obj: KObject;
  constructor(service: string, namespace = 'default', name = `${service}-${Math.random().toString(36).slice(2, 7)}`) {
    this.obj = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, namespace, labels: { [LABEL_SERVICE_NAME]: service } },
      addressType: 'IPv4',
      endpoints: [],
      ports: [],
    };
  }
  addressType(t: 'IPv4' | 'IPv6'): this {
    this.obj.addressType = t;
    return this;
  }
  port(name: string, port: number, protocol = 'TCP'): this {
    this.obj.ports.push({ name, port, protocol });
    return this;
  }
  endpoint(e: EndpointSpec | string): this {
    const s = typeof e === 'string' ? { ip: e } : e;
    const ready = s.ready ?? true;
    this.obj.endpoints.push({
      addresses: [s.ip],
      conditions: { ready, serving: s.serving ?? ready, terminating: s.terminating ?? false },
      ...(s.hostname ? { hostname: s.hostname } : {}),
      ...(s.nodeName ? { nodeName: s.nodeName } : {}),
    });
    return this;
  }
}

export const slice = (service: string, namespace?: string, name?: string) => new SliceBuilder(service, namespace, name);

/** ClusterData over arrays of objects; `generation` bumps on set(). */
export class StaticClusterData implements ClusterData {
  generation = 0;
  services: KObject[] = [];
  slices: KObject[] = [];
  namespaces = new Set<string>(['default', 'kube-system']);
  pods: { namespace: string; ip: string }[] = [];
  nameservers: string[] = ['10.96.0.10'];

  set(objs: { services?: (KObject | ServiceBuilder)[]; slices?: (KObject | SliceBuilder)[] }): this {
    if (objs.services) this.services = objs.services.map((s) => ('obj' in s ? s.obj : s) as KObject);
    if (objs.slices) this.slices = objs.slices.map((s) => ('obj' in s ? s.obj : s) as KObject);
    this.generation++;
    return this;
  }

  service(namespace: string, name: string): DnsService | undefined {
    const s = this.services.find((x) => x.metadata.namespace === namespace && x.metadata.name === name);
    return s ? toDnsService(s) : undefined;
  }
  namespaceExists(namespace: string): boolean {
    return this.namespaces.has(namespace);
  }
  readyEndpoints(namespace: string, name: string): DnsEndpoint[] {
    return readyEndpointsOf(this.slices.filter((s) => s.metadata.namespace === namespace && s.metadata.labels?.[LABEL_SERVICE_NAME] === name));
  }
  servicesByIP(ip: string): DnsService[] {
    return this.services.map(toDnsService).filter((s) => s.clusterIPs.includes(canonicalIP(ip)));
  }
  endpointsByIP(ip: string): { namespace: string; service: string; endpoint: DnsEndpoint }[] {
    const out: { namespace: string; service: string; endpoint: DnsEndpoint }[] = [];
    for (const s of this.slices) {
      for (const ep of readyEndpointsOf([s])) {
        if (ep.ip === canonicalIP(ip)) out.push({ namespace: s.metadata.namespace ?? '', service: s.metadata.labels?.[LABEL_SERVICE_NAME] ?? '', endpoint: ep });
      }
    }
    return out;
  }
  podExists(namespace: string, ip: string): boolean {
    return this.pods.some((p) => p.namespace === namespace && p.ip === ip);
  }
  nameserverIPs(): string[] {
    return this.nameservers;
  }
  serial(): number {
    return 1700000000;
  }
}
