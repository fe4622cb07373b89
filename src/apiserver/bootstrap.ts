// Objects every cluster has from its first second, created by the apiserver as
// upstream's bootstrap controllers do: the system namespaces, the `kubernetes`
// Service with its Endpoints/EndpointSlice, and the two system PriorityClasses.
// Idempotent: runs at every start and only fills in what is missing or stale.

import type { KObject } from '../api/object.ts';
import { isStatusError } from '../api/errors.ts';
import type { Store } from '../storage/store.ts';
import type { Registry } from './registry.ts';
import { nowTimestamp } from './registry.ts';

export interface BootstrapOptions {
  advertiseAddress: string;
  serviceIP: string;
  port: number;
}

async function ensure(registry: Registry, group: string, plural: string, obj: KObject, reconcile?: (cur: KObject) => boolean): Promise<void> {
  const info = registry.findInfo(group, plural);
  const cur = registry.peek(info, obj.metadata.namespace, obj.metadata.name!);
  if (!cur) {
    try {
      await registry.create(info, obj.metadata.namespace, structuredClone(obj), { internal: true, fieldManager: 'kube-apiserver' });
    } catch (e) {
      if (!isStatusError(e) || e.code !== 409) throw e;
    }
    return;
  }
  if (reconcile) {
    await registry.update(
      info,
      obj.metadata.namespace,
      obj.metadata.name!,
      (o) => {
        reconcile(o);
        return o;
      },
      { internal: true, fieldManager: 'kube-apiserver' },
    );
  }
}

export async function bootstrapCluster(registry: Registry, opts: BootstrapOptions): Promise<void> {
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    await ensure(registry, '', 'namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  }
  await ensure(registry, '', 'services', {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'kubernetes', namespace: 'default', labels: { component: 'apiserver', provider: 'kubernetes' } },
    spec: {
      type: 'ClusterIP',
      clusterIP: opts.serviceIP,
      ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: opts.port }],
      sessionAffinity: 'None',
    },
  }, (svc) => {
    svc.spec.ports = [{ name: 'https', port: 443, protocol: 'TCP', targetPort: opts.port }];
    return true;
  });
  const subsets = [{ addresses: [{ ip: opts.advertiseAddress }], ports: [{ name: 'https', port: opts.port, protocol: 'TCP' }] }];
  await ensure(
    registry,
    '',
    'endpoints',
    {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'endpointslice.kubernetes.io/skip-mirror': 'true' } },
      subsets,
    },
    (ep) => {
      ep.subsets = subsets;
      return true;
    },
  );
  const slice = {
    addressType: 'IPv4',
    endpoints: [{ addresses: [opts.advertiseAddress], conditions: { ready: true } }],
    ports: [{ name: 'https', port: opts.port, protocol: 'TCP' }],
  };
  await ensure(
    registry,
    'discovery.k8s.io',
    'endpointslices',
    {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: 'kubernetes',
        namespace: 'default',
        labels: { 'kubernetes.io/service-name': 'kubernetes' },
      },
      ...slice,
    },
    (s) => {
      Object.assign(s, slice);
      return true;
    },
  );
  for (const [name, value] of [
    ['system-node-critical', 2000001000],
    ['system-cluster-critical', 2000000000],
  ] as const) {
    await ensure(registry, 'scheduling.k8s.io', 'priorityclasses', {
      apiVersion: 'scheduling.k8s.io/v1',
      kind: 'PriorityClass',
      metadata: { name },
      value,
      globalDefault: false,
      preemptionPolicy: 'PreemptLowerPriority',
      description: `Used for system critical pods that must not be moved from their current node.`,
    });
  }
}

/**
 * core/v1 ComponentStatus, computed: the store answers a read; the scheduler and the
 * controller manager are healthy while their leader Lease in kube-system is renewed.
 */
export async function componentStatuses(registry: Registry, store: Store): Promise<KObject[]> {
  const out: KObject[] = [];
  const item = (name: string, healthy: boolean, message: string, error?: string): KObject => {
    const cond: Record<string, string> = { type: 'Healthy', status: healthy ? 'True' : 'False', message };
    if (error) cond.error = error;
    return { kind: 'ComponentStatus', apiVersion: 'v1', metadata: { name, creationTimestamp: null as unknown as string }, conditions: [cond] };
  };
  const leases = registry.findInfo('coordination.k8s.io', 'leases');
  for (const [name, lease] of [
    ['scheduler', 'kube-scheduler'],
    ['controller-manager', 'kube-controller-manager'],
  ] as const) {
    const l = registry.peek(leases, 'kube-system', lease)?.obj;
    const renew = l?.spec?.renewTime ? Date.parse(l.spec.renewTime) : NaN;
    const duration = (l?.spec?.leaseDurationSeconds ?? 15) * 1000;
    // A released lease (no holder) means the component stopped cleanly.
    if (l && l.spec?.holderIdentity && Number.isFinite(renew) && Date.now() - renew <= duration) out.push(item(name, true, 'ok'));
    else {
      out.push(
        item(
          name,
          false,
          '',
          l ? `leader lease kube-system/${lease} not renewed since ${l.spec?.renewTime ?? 'never'}` : `no leader lease kube-system/${lease}: ${name} is not running`,
        ),
      );
    }
  }
  try {
    await store.currentRevision();
    out.push(item('etcd-0', true, 'ok'));
  } catch (e) {
    out.push(item('etcd-0', false, '', `datastore unreachable: ${(e as Error).message}`));
  }
  return out;
}
