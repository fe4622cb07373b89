// coordination, discovery, networking, storage, scheduling and rbac printers.

import { formatLabelSelector, int, listWithMore, translateTimestampSince } from './format.ts';
import { loadBalancerIngress } from './core.ts';
import { ageColumn, col, nameColumn, type TablePrinter } from './types.ts';

const name = (obj: any): string => obj.metadata?.name ?? '';
const age = (obj: any, now: number): string => translateTimestampSince(obj.metadata?.creationTimestamp, now);

export const leasePrinter: TablePrinter = {
  columns: [nameColumn(), col('Holder', 'coordination/v1.LeaseSpec.holderIdentity'), ageColumn()],
  cells: (lease, now) => [name(lease), lease.spec?.holderIdentity ?? '', age(lease, now)],
};

export const endpointSlicePrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('AddressType', 'discovery/v1beta1.EndpointSlice.addressType'),
    col('Ports', 'discovery/v1beta1.EndpointSlice.ports'),
    col('Endpoints', 'discovery/v1beta1.EndpointSlice.endpoints'),
    ageColumn(),
  ],
  cells(slice, now) {
    const ports = (slice.ports ?? []).map((p: any) =>
      p.port != null ? String(int(p.port)) : p.name != null ? String(p.name) : '*',
    );
    const addresses = (slice.endpoints ?? []).flatMap((e: any) => e.addresses ?? []);
    return [name(slice), slice.addressType ?? '', listWithMore(ports, 3), listWithMore(addresses, 3), age(slice, now)];
  },
};

// ---- networking.k8s.io/v1 ----

/** formatHosts: up to 3 rule hosts, "*" when none names one. */
function formatHosts(rules: any[] | undefined): string {
  const list: string[] = [];
  const max = 3;
  let more = false;
  for (const rule of rules ?? []) {
    if (list.length === max) more = true;
    if (!more && rule.host) list.push(rule.host);
  }
  if (list.length === 0) return '*';
  const s = list.join(',');
  return more ? `${s} + ${(rules ?? []).length - max} more...` : s;
}

export const ingressPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Class', 'The name of the IngressClass resource that should be used for additional configuration'),
    col('Hosts', 'Hosts that incoming requests are matched against before the ingress rule'),
    col('Address', 'Address is a list containing ingress points for the load-balancer'),
    col('Ports', 'Ports of TLS configurations that open'),
    ageColumn(),
  ],
  cells(ing, now) {
    const spec = ing.spec ?? {};
    return [
      name(ing),
      spec.ingressClassName ?? '<none>',
      formatHosts(spec.rules),
      loadBalancerIngress(ing.status?.loadBalancer?.ingress),
      (spec.tls ?? []).length > 0 ? '80, 443' : '80',
      age(ing, now),
    ];
  },
};

export const ingressClassPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Controller', 'Controller that is responsible for handling this class'),
    col('Parameters', 'A reference to a resource with additional parameters'),
    ageColumn(),
  ],
  cells(ic, now) {
    const p = ic.spec?.parameters;
    let parameters = '<none>';
    if (p) parameters = `${p.kind ?? ''}${p.apiGroup != null ? `.${p.apiGroup}` : ''}/${p.name ?? ''}`;
    return [name(ic), ic.spec?.controller ?? '', parameters, age(ic, now)];
  },
};

export const networkPolicyPrinter: TablePrinter = {
  columns: [nameColumn(), col('Pod-Selector', 'extensions/v1beta1.NetworkPolicySpec.podSelector'), ageColumn()],
  // podSelector is a struct, not a pointer: absent means the empty selector.
  cells: (np, now) => [name(np), formatLabelSelector(np.spec?.podSelector ?? {}), age(np, now)],
};

// ---- storage.k8s.io/v1 ----

function isDefaultStorageClass(sc: any): boolean {
  const a = sc.metadata?.annotations ?? {};
  return (
    a['storageclass.kubernetes.io/is-default-class'] === 'true' ||
    a['storageclass.beta.kubernetes.io/is-default-class'] === 'true'
  );
}

export const storageClassPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Provisioner', 'storage/v1.StorageClass.provisioner'),
    col('ReclaimPolicy', 'storage/v1.StorageClass.reclaimPolicy'),
    col('VolumeBindingMode', 'storage/v1.StorageClass.volumeBindingMode'),
    col('AllowVolumeExpansion', 'storage/v1.StorageClass.allowVolumeExpansion'),
    ageColumn(),
  ],
  cells(sc, now) {
    return [
      isDefaultStorageClass(sc) ? `${name(sc)} (default)` : name(sc),
      sc.provisioner ?? '',
      sc.reclaimPolicy ?? 'Delete',
      sc.volumeBindingMode ?? 'Immediate',
      sc.allowVolumeExpansion ?? false,
      age(sc, now),
    ];
  },
};

// ---- scheduling.k8s.io/v1 ----

export const priorityClassPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Value', 'scheduling/v1.PriorityClass.value', { type: 'integer' }),
    col('Global-Default', 'scheduling/v1.PriorityClass.globalDefault', { type: 'boolean' }),
    ageColumn(),
    col('PreemptionPolicy', 'scheduling/v1.PriorityClass.preemptionPolicy'),
  ],
  cells(pc, now) {
    // The apiserver defaults preemptionPolicy to PreemptLowerPriority.
    return [name(pc), int(pc.value), pc.globalDefault ?? false, age(pc, now), pc.preemptionPolicy ?? 'PreemptLowerPriority'];
  },
};

// ---- rbac.authorization.k8s.io/v1 ----

/** rbac.SubjectsStrings: users, groups, and service accounts as "namespace/name". */
function subjectsStrings(subjects: any[] | undefined): [string, string, string] {
  const users: string[] = [];
  const groups: string[] = [];
  const sas: string[] = [];
  for (const s of subjects ?? []) {
    switch (s.kind) {
      case 'ServiceAccount':
        sas.push(`${s.namespace ?? ''}/${s.name ?? ''}`);
        break;
      case 'User':
        users.push(s.name ?? '');
        break;
      case 'Group':
        groups.push(s.name ?? '');
        break;
    }
  }
  return [users.join(', '), groups.join(', '), sas.join(', ')];
}

function bindingPrinter(kind: 'roleBinding' | 'clusterRoleBinding'): TablePrinter {
  const roleRef = kind === 'roleBinding' ? 'rbac/v1beta1.RoleBinding.roleRef' : 'rbac/v1beta1.ClusterRoleBinding.roleRef';
  return {
    columns: [
      nameColumn(),
      col('Role', roleRef),
      ageColumn(),
      col('Users', `Users in the ${kind}`, { priority: 1 }),
      col('Groups', `Groups in the ${kind}`, { priority: 1 }),
      col('ServiceAccounts', `ServiceAccounts in the ${kind}`, { priority: 1 }),
    ],
    cells(b, now) {
      return [name(b), `${b.roleRef?.kind ?? ''}/${b.roleRef?.name ?? ''}`, age(b, now), ...subjectsStrings(b.subjects)];
    },
  };
}

export const roleBindingPrinter = bindingPrinter('roleBinding');
export const clusterRoleBindingPrinter = bindingPrinter('clusterRoleBinding');
