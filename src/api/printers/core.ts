// core/v1 printers other than pods (and events.k8s.io/v1 events, which upstream serves
// from the core event storage and so prints with the same columns).
//
// Where upstream's printer reads a field the apiserver always defaults (service type,
// port protocol, replicas, secret type, ...), an absent value reads as that default, so
// an object that skipped defaulting still prints as it would on a real cluster.

import {
  byteCompare,
  formatLabels,
  int,
  joinHostPort,
  layoutContainerCells,
  parseTime,
  size,
  sortedSet,
  translateTimestampSince,
} from './format.ts';
import { quantityString } from './quantity.ts';
import { ageColumn, col, containersColumn, imagesColumn, nameColumn, type TablePrinter } from './types.ts';

const name = (obj: any): string => obj.metadata?.name ?? '';
const age = (obj: any, now: number): string => translateTimestampSince(obj.metadata?.creationTimestamp, now);

// ---- services ----

/** Load-balancer ingress points: IPs, else hostnames; sorted and de-duplicated. */
export function loadBalancerIngress(ingress: any[] | undefined): string {
  const points: string[] = [];
  for (const i of ingress ?? []) {
    if (i.ip) points.push(i.ip);
    else if (i.hostname) points.push(i.hostname);
  }
  // The apiserver prints wide, so upstream's 16-character clipping never applies.
  return sortedSet(points).join(',');
}

function serviceExternalIP(svc: any): string {
  const spec = svc.spec ?? {};
  const externalIPs: string[] = spec.externalIPs ?? [];
  switch (spec.type ?? 'ClusterIP') {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>';
    case 'LoadBalancer': {
      const lb = loadBalancerIngress(svc.status?.loadBalancer?.ingress);
      if (externalIPs.length > 0) return [...(lb ? lb.split(',') : []), ...externalIPs].join(',');
      return lb || '<pending>';
    }
    case 'ExternalName':
      return spec.externalName ?? '';
  }
  return '<unknown>';
}

function servicePorts(ports: any[] | undefined): string {
  const s = (ports ?? [])
    .map((p) => {
      const protocol = p.protocol ?? 'TCP';
      return int(p.nodePort) > 0 ? `${int(p.port)}:${int(p.nodePort)}/${protocol}` : `${int(p.port)}/${protocol}`;
    })
    .join(',');
  return s || '<none>';
}

export const servicePrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Type', 'core/v1.ServiceSpec.type'),
    col('Cluster-IP', 'core/v1.ServiceSpec.clusterIP'),
    col('External-IP', 'core/v1.ServiceSpec.externalIPs'),
    col('Port(s)', 'core/v1.ServiceSpec.ports'),
    ageColumn(),
    col('Selector', 'core/v1.ServiceSpec.selector', { priority: 1 }),
  ],
  cells(svc, now) {
    const spec = svc.spec ?? {};
    // v1→internal conversion fills clusterIPs from clusterIP when only the latter is set.
    const clusterIPs: string[] = spec.clusterIPs?.length ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
    return [
      name(svc),
      spec.type ?? 'ClusterIP',
      clusterIPs.length > 0 ? clusterIPs[0] : '<none>',
      serviceExternalIP(svc),
      servicePorts(spec.ports),
      age(svc, now),
      formatLabels(spec.selector),
    ];
  },
};

// ---- endpoints ----

/** formatEndpoints: up to 3 "ip:port" (bare IPs for port-less subsets), then " + N more...". */
export function formatEndpoints(subsets: any[] | undefined): string {
  if (!subsets || subsets.length === 0) return '<none>';
  const max = 3;
  const list: string[] = [];
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const addresses: any[] = ss.addresses ?? [];
    const ports: any[] = ss.ports ?? [];
    if (ports.length === 0) {
      // Headless services may have no ports.
      count += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(a.ip ?? '');
      }
      continue;
    }
    for (const port of ports) {
      count += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(joinHostPort(a.ip ?? '', int(port.port)));
      }
    }
  }
  const s = list.join(',');
  return more ? `${s} + ${count - max} more...` : s;
}

export const endpointsPrinter: TablePrinter = {
  columns: [nameColumn(), col('Endpoints', 'core/v1.Endpoints.subsets'), ageColumn()],
  cells: (obj, now) => [name(obj), formatEndpoints(obj.subsets), age(obj, now)],
};

// ---- nodes ----

const NODE_ROLE_PREFIX = 'node-role.kubernetes.io/';
const NODE_LABEL_ROLE = 'kubernetes.io/role';

/** Roles from `node-role.kubernetes.io/<role>` keys and the `kubernetes.io/role` value. */
export function nodeRoles(node: any): string[] {
  const roles: string[] = [];
  for (const [k, v] of Object.entries<string>(node.metadata?.labels ?? {})) {
    if (k.startsWith(NODE_ROLE_PREFIX)) {
      const role = k.slice(NODE_ROLE_PREFIX.length);
      if (role) roles.push(role);
    } else if (k === NODE_LABEL_ROLE && v !== '') {
      roles.push(v);
    }
  }
  return sortedSet(roles);
}

function nodeAddress(node: any, type: string): string {
  return (node.status?.addresses ?? []).find((a: any) => a.type === type)?.address ?? '<none>';
}

export const nodePrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Status', 'The status of the node'),
    col('Roles', 'The roles of the node'),
    ageColumn(),
    col('Version', 'core/v1.NodeSystemInfo.kubeletVersion'),
    col('Internal-IP', 'core/v1.NodeStatus.addresses', { priority: 1 }),
    col('External-IP', 'core/v1.NodeStatus.addresses', { priority: 1 }),
    col('OS-Image', 'core/v1.NodeSystemInfo.osImage', { priority: 1 }),
    col('Kernel-Version', 'core/v1.NodeSystemInfo.kernelVersion', { priority: 1 }),
    col('Container-Runtime', 'core/v1.NodeSystemInfo.containerRuntimeVersion', { priority: 1 }),
  ],
  cells(node, now) {
    // Only the Ready condition counts; the last one of that type wins (a map upstream).
    let ready: any;
    for (const c of node.status?.conditions ?? []) if (c.type === 'Ready') ready = c;
    const status: string[] = [];
    if (ready) status.push(ready.status === 'True' ? 'Ready' : 'NotReady');
    else status.push('Unknown');
    if (node.spec?.unschedulable) status.push('SchedulingDisabled');
    const info = node.status?.nodeInfo ?? {};
    return [
      name(node),
      status.join(','),
      nodeRoles(node).join(',') || '<none>',
      age(node, now),
      info.kubeletVersion ?? '',
      nodeAddress(node, 'InternalIP'),
      nodeAddress(node, 'ExternalIP'),
      info.osImage || '<unknown>',
      info.kernelVersion || '<unknown>',
      info.containerRuntimeVersion || '<unknown>',
    ];
  },
};

// ---- events ----

/**
 * The fields printEvent reads, from either a core/v1 Event or an events.k8s.io/v1
 * Event (which the apiserver converts to the same internal type before printing).
 */
function eventView(e: any) {
  const modern =
    typeof e.apiVersion === 'string' ? e.apiVersion.startsWith('events.k8s.io/') : 'regarding' in e || 'note' in e;
  if (!modern) {
    return {
      involvedObject: e.involvedObject ?? {},
      message: e.message ?? '',
      source: e.source ?? {},
      firstTimestamp: e.firstTimestamp,
      lastTimestamp: e.lastTimestamp,
      count: e.count,
      reportingController: e.reportingComponent ?? '',
    };
  }
  return {
    involvedObject: e.regarding ?? {},
    message: e.note ?? '',
    source: e.deprecatedSource ?? {},
    firstTimestamp: e.deprecatedFirstTimestamp,
    lastTimestamp: e.deprecatedLastTimestamp,
    count: e.deprecatedCount,
    reportingController: e.reportingController ?? '',
  };
}

/** formatEventSource: component (or reportingController), then ", host" (or reportingInstance). */
function formatEventSource(source: any, reportingController: string, reportingInstance: string): string {
  const component = source.component || reportingController || '';
  const instance = source.host || reportingInstance || '';
  return instance ? `${component}, ${instance}` : component;
}

export const eventPrinter: TablePrinter = {
  columns: [
    col('Last Seen', 'core/v1.Event.lastTimestamp'),
    col('Type', 'core/v1.Event.type'),
    col('Reason', 'core/v1.Event.reason'),
    col('Object', 'core/v1.Event.involvedObject'),
    col('Subobject', 'core/v1.ObjectReference.fieldPath', { priority: 1 }),
    col('Source', 'core/v1.Event.source', { priority: 1 }),
    col('Message', 'core/v1.Event.message'),
    col('First Seen', 'core/v1.Event.firstTimestamp', { priority: 1 }),
    col('Count', 'core/v1.Event.count', { priority: 1 }),
    nameColumn({ priority: 1 }),
  ],
  cells(e, now) {
    const v = eventView(e);
    let firstSeen = translateTimestampSince(v.firstTimestamp, now);
    if (parseTime(v.firstTimestamp) === undefined) firstSeen = translateTimestampSince(e.eventTime, now);
    let lastSeen = translateTimestampSince(v.lastTimestamp, now);
    if (parseTime(v.lastTimestamp) === undefined) lastSeen = firstSeen;
    let count = int(v.count);
    if (e.series) {
      lastSeen = translateTimestampSince(e.series.lastObservedTime, now);
      count = int(e.series.count);
    } else if (count === 0) {
      // Singleton events don't have a count set in the new API.
      count = 1;
    }
    const kind = String(v.involvedObject.kind ?? '').toLowerCase();
    const target = v.involvedObject.name ? `${kind}/${v.involvedObject.name}` : kind;
    return [
      lastSeen,
      e.type ?? '',
      e.reason ?? '',
      target,
      v.involvedObject.fieldPath ?? '',
      formatEventSource(v.source, v.reportingController, e.reportingInstance ?? ''),
      String(v.message).trim(),
      firstSeen,
      count,
      name(e),
    ];
  },
};

// ---- small core kinds ----

export const namespacePrinter: TablePrinter = {
  columns: [nameColumn(), col('Status', 'The status of the namespace'), ageColumn()],
  // The apiserver defaults status.phase to Active.
  cells: (ns, now) => [name(ns), ns.status?.phase ?? 'Active', age(ns, now)],
};

export const secretPrinter: TablePrinter = {
  columns: [nameColumn(), col('Type', 'core/v1.Secret.type'), col('Data', 'core/v1.Secret.data'), ageColumn()],
  cells(secret, now) {
    // stringData is write-only and merged into data; count the union in case it was stored.
    const keys = new Set([...Object.keys(secret.data ?? {}), ...Object.keys(secret.stringData ?? {})]);
    return [name(secret), secret.type || 'Opaque', keys.size, age(secret, now)];
  },
};

export const configMapPrinter: TablePrinter = {
  columns: [nameColumn(), col('Data', 'core/v1.ConfigMap.data'), ageColumn()],
  cells: (cm, now) => [name(cm), size(cm.data) + size(cm.binaryData), age(cm, now)],
};

export const serviceAccountPrinter: TablePrinter = {
  columns: [nameColumn(), col('Secrets', 'core/v1.ServiceAccount.secrets'), ageColumn()],
  cells: (sa, now) => [name(sa), size(sa.secrets), age(sa, now)],
};

// ---- persistent volumes ----

const BETA_STORAGE_CLASS_ANNOTATION = 'volume.beta.kubernetes.io/storage-class';

/** helper.GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order. */
export function accessModesString(modes: string[] | undefined): string {
  const set = new Set(modes ?? []);
  const out: string[] = [];
  if (set.has('ReadWriteOnce')) out.push('RWO');
  if (set.has('ReadOnlyMany')) out.push('ROX');
  if (set.has('ReadWriteMany')) out.push('RWX');
  if (set.has('ReadWriteOncePod')) out.push('RWOP');
  return out.join(',');
}

function annotation(obj: any, key: string): string | undefined {
  const a = obj.metadata?.annotations;
  return a && Object.hasOwn(a, key) ? a[key] : undefined;
}

export const persistentVolumePrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Capacity', 'core/v1.PersistentVolumeSpec.capacity'),
    col('Access Modes', 'core/v1.PersistentVolumeSpec.accessModes'),
    col('Reclaim Policy', 'core/v1.PersistentVolumeSpec.persistentVolumeReclaimPolicy'),
    col('Status', 'core/v1.PersistentVolumeStatus.phase'),
    col('Claim', 'core/v1.PersistentVolumeSpec.claimRef'),
    col('StorageClass', 'StorageClass of the pv'),
    col('VolumeAttributesClass', 'VolumeAttributesClass of the pv'),
    col('Reason', 'core/v1.PersistentVolumeStatus.reason'),
    ageColumn(),
    col('VolumeMode', 'core/v1.PersistentVolumeSpec.volumeMode', { priority: 1 }),
  ],
  cells(pv, now) {
    const spec = pv.spec ?? {};
    const claim = spec.claimRef ? `${spec.claimRef.namespace ?? ''}/${spec.claimRef.name ?? ''}` : '';
    // Defaults: reclaim policy Retain, phase Pending, volume mode Filesystem.
    const phase = pv.metadata?.deletionTimestamp ? 'Terminating' : (pv.status?.phase ?? 'Pending');
    return [
      name(pv),
      quantityString(spec.capacity?.storage),
      accessModesString(spec.accessModes),
      spec.persistentVolumeReclaimPolicy ?? 'Retain',
      phase,
      claim,
      annotation(pv, BETA_STORAGE_CLASS_ANNOTATION) ?? spec.storageClassName ?? '',
      spec.volumeAttributesClassName ?? '<unset>',
      pv.status?.reason ?? '',
      age(pv, now),
      spec.volumeMode ?? 'Filesystem',
    ];
  },
};

export const persistentVolumeClaimPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Status', 'core/v1.PersistentVolumeClaimStatus.phase'),
    col('Volume', 'core/v1.PersistentVolumeClaimSpec.volumeName'),
    col('Capacity', 'core/v1.PersistentVolumeClaimStatus.capacity'),
    col('Access Modes', 'core/v1.PersistentVolumeClaimStatus.accessModes'),
    col('StorageClass', 'StorageClass of the pvc'),
    col('VolumeAttributesClass', 'VolumeAttributesClass of the pvc'),
    ageColumn(),
    col('VolumeMode', 'core/v1.PersistentVolumeClaimSpec.volumeMode', { priority: 1 }),
  ],
  cells(pvc, now) {
    const spec = pvc.spec ?? {};
    const phase = pvc.metadata?.deletionTimestamp ? 'Terminating' : (pvc.status?.phase ?? 'Pending');
    // Capacity and access modes are only shown once the claim is bound to a volume.
    const bound = !!spec.volumeName;
    return [
      name(pvc),
      phase,
      spec.volumeName ?? '',
      bound ? quantityString(pvc.status?.capacity?.storage) : '',
      bound ? accessModesString(pvc.status?.accessModes) : '',
      annotation(pvc, BETA_STORAGE_CLASS_ANNOTATION) ?? spec.storageClassName ?? '',
      spec.volumeAttributesClassName ?? '<unset>',
      age(pvc, now),
      spec.volumeMode ?? 'Filesystem',
    ];
  },
};

// ---- replication controllers, quotas, component statuses ----

export const replicationControllerPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Desired', 'core/v1.ReplicationControllerSpec.replicas', { type: 'integer' }),
    col('Current', 'core/v1.ReplicationControllerStatus.replicas', { type: 'integer' }),
    col('Ready', 'core/v1.ReplicationControllerStatus.readyReplicas', { type: 'integer' }),
    ageColumn(),
    containersColumn(),
    imagesColumn(),
    col('Selector', 'core/v1.ReplicationControllerSpec.selector', { priority: 1 }),
  ],
  cells(rc, now) {
    const [names, images] = layoutContainerCells(rc.spec?.template?.spec?.containers);
    return [
      name(rc),
      int(rc.spec?.replicas ?? 1),
      int(rc.status?.replicas),
      int(rc.status?.readyReplicas),
      age(rc, now),
      names,
      images,
      formatLabels(rc.spec?.selector),
    ];
  },
};

export const resourceQuotaPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Request', 'Request represents a minimum amount of cpu/memory that a container may consume.'),
    col(
      'Limit',
      'Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.',
    ),
    ageColumn(),
  ],
  cells(rq, now) {
    const hard: Record<string, unknown> = rq.status?.hard ?? {};
    const used: Record<string, unknown> = rq.status?.used ?? {};
    const requests: string[] = [];
    const limits: string[] = [];
    for (const resource of Object.keys(hard).sort(byteCompare)) {
      const entry = `${resource}: ${quantityString(used[resource])}/${quantityString(hard[resource])}`;
      const pieces = resource.split('.');
      (pieces.length > 1 && pieces[0] === 'limits' ? limits : requests).push(entry);
    }
    return [name(rq), requests.join(', '), limits.join(', '), age(rq, now)];
  },
};

export const componentStatusPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Status', 'Status of the component conditions'),
    col('Message', 'Message of the component conditions'),
    col('Error', 'Error of the component conditions'),
  ],
  cells(cs) {
    let status = 'Unknown';
    let message = '';
    let error = '';
    const healthy = (cs.conditions ?? []).find((c: any) => c.type === 'Healthy');
    if (healthy) {
      status = healthy.status === 'True' ? 'Healthy' : 'Unhealthy';
      message = healthy.message ?? '';
      error = healthy.error ?? '';
    }
    return [name(cs), status, message, error];
  },
};
