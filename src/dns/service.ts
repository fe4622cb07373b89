// The kube-dns Service that makes the DNS server reachable from pods at the cluster's
// DNS address (10.96.0.10 by default), as kubeadm's CoreDNS addon: kube-system/kube-dns
// with ports dns (53/UDP), dns-tcp (53/TCP) and metrics (9153/TCP), labelled
// k8s-app=kube-dns and kubernetes.io/cluster-service. Skiff's DNS runs on the node, not
// in a pod, so the Service has no selector and skiff writes its EndpointSlice: the
// address the server listens on. The proxy then DNATs 10.96.0.10:53 there.
// ensureKubeDnsService is idempotent (create, or update to the wanted shape; a racing
// writer gets a conflict error to retry).

import type { KObject } from '../api/object.ts';
import { isStatusError } from '../api/errors.ts';
import { ref } from '../client/resources.ts';
import type { Client, ResourceRef } from '../client/types.ts';

export interface KubeDnsOptions {
  /** The Service's cluster IP (default 10.96.0.10). */
  clusterIP?: string;
  /** Where the DNS server listens, as pods can reach it (e.g. the node's bridge address). */
  endpointIP: string;
  /** The server's port (default 53). */
  port?: number;
  /** The server's metrics port (default 9153). */
  metricsPort?: number;
  nodeName?: string;
}

export function kubeDnsObjects(o: KubeDnsOptions): { service: KObject; slice: KObject } {
  const port = o.port ?? 53;
  const labels = { 'k8s-app': 'kube-dns', 'kubernetes.io/cluster-service': 'true', 'kubernetes.io/name': 'CoreDNS' };
  const service: KObject = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kube-dns', namespace: 'kube-system', labels, annotations: { 'prometheus.io/port': String(o.metricsPort ?? 9153), 'prometheus.io/scrape': 'true' } },
    spec: {
      clusterIP: o.clusterIP ?? '10.96.0.10',
      ports: [
        { name: 'dns', port: 53, protocol: 'UDP', targetPort: port },
        { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: port },
        { name: 'metrics', port: 9153, protocol: 'TCP', targetPort: o.metricsPort ?? 9153 },
      ],
    },
  };
  const slice: KObject = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'kube-dns-skiff',
      namespace: 'kube-system',
      labels: { 'kubernetes.io/service-name': 'kube-dns', 'endpointslice.kubernetes.io/managed-by': 'dns.skiff' },
    },
    addressType: o.endpointIP.includes(':') ? 'IPv6' : 'IPv4',
    endpoints: [{ addresses: [o.endpointIP], conditions: { ready: true, serving: true, terminating: false }, ...(o.nodeName ? { nodeName: o.nodeName } : {}) }],
    ports: [
      { name: 'dns', port, protocol: 'UDP' },
      { name: 'dns-tcp', port, protocol: 'TCP' },
      { name: 'metrics', port: o.metricsPort ?? 9153, protocol: 'TCP' },
    ],
  };
  return { service, slice };
}

/** Creates kube-system/kube-dns and its EndpointSlice, or brings them to the wanted shape. */
export async function ensureKubeDnsService(client: Client, o: KubeDnsOptions): Promise<KObject> {
  const { service, slice } = kubeDnsObjects(o);
  // Look first: creating an existing Service fails on its cluster IP (422) before its name (409).
  const cur = await getOrUndefined(client, ref.services, service.metadata.name!);
  const svc = cur
    ? await client.update(ref.services, 'kube-system', { ...cur, metadata: { ...cur.metadata, labels: { ...cur.metadata.labels, ...service.metadata.labels } }, spec: { ...cur.spec, ports: service.spec.ports } })
    : await client.create(ref.services, 'kube-system', service);
  const curSlice = await getOrUndefined(client, ref.endpointslices, slice.metadata.name!);
  if (curSlice) await client.update(ref.endpointslices, 'kube-system', { ...slice, metadata: { ...curSlice.metadata, labels: slice.metadata.labels } });
  else await client.create(ref.endpointslices, 'kube-system', slice);
  return svc;
}

async function getOrUndefined(client: Client, res: ResourceRef, name: string): Promise<KObject | undefined> {
  try {
    return await client.get(res, 'kube-system', name);
  } catch (e) {
    if (isStatusError(e) && e.code === 404) return undefined;
    throw e;
  }
}
