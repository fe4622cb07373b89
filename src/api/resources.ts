// The resource table: every resource Skiff serves, described once. The apiserver's
// routing, discovery, storage keys, OpenAPI and printing are all driven from here.
// Kinds, plurals and scopes match the API reference (checked by resources.test.ts
// against the generated reference data); short names and categories are what
// upstream's discovery reports, which the reference does not hold.

export type SubresourceName = 'status' | 'scale' | 'binding' | 'eviction' | 'finalize' | 'log' | 'exec' | 'attach' | 'portforward' | 'proxy' | 'token';

export interface ResourceInfo {
  group: string;
  version: string;
  /** Plural, lower case: the URL segment. */
  plural: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  subresources: SubresourceName[];
  /** The verbs on the main resource. */
  verbs: string[];
  /** metadata.generation is maintained (set on create, bumped on spec changes). */
  generation: boolean;
  /** Storage key prefix without trailing slash, e.g. /registry/pods or /registry/apps/deployments. */
  storagePrefix: string;
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

interface Spec {
  plural: string;
  kind: string;
  namespaced?: boolean;
  short?: string[];
  all?: boolean;
  categories?: string[];
  sub?: SubresourceName[];
  verbs?: string[];
  generation?: boolean;
}

const NS = true;

function group(groupName: string, version: string, specs: Spec[]): ResourceInfo[] {
  return specs.map((s) => ({
    group: groupName,
    version,
    plural: s.plural,
    singular: s.kind.toLowerCase(),
    kind: s.kind,
    namespaced: s.namespaced ?? false,
    shortNames: s.short ?? [],
    categories: s.categories ?? (s.all ? ['all'] : []),
    subresources: s.sub ?? [],
    verbs: s.verbs ?? ALL_VERBS,
    generation: s.generation ?? false,
    storagePrefix: groupName ? `/registry/${groupName}/${s.plural}` : `/registry/${s.plural}`,
  }));
}

export const RESOURCES: ResourceInfo[] = [
  ...group('', 'v1', [
    { plural: 'componentstatuses', kind: 'ComponentStatus', short: ['cs'], verbs: ['get', 'list'] },
    { plural: 'configmaps', kind: 'ConfigMap', namespaced: NS, short: ['cm'] },
    { plural: 'endpoints', kind: 'Endpoints', namespaced: NS, short: ['ep'] },
    { plural: 'events', kind: 'Event', namespaced: NS, short: ['ev'] },
    { plural: 'limitranges', kind: 'LimitRange', namespaced: NS, short: ['limits'] },
    {
      plural: 'namespaces',
      kind: 'Namespace',
      short: ['ns'],
      sub: ['status', 'finalize'],
      verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    },
    { plural: 'nodes', kind: 'Node', short: ['no'], sub: ['proxy', 'status'] },
    { plural: 'persistentvolumeclaims', kind: 'PersistentVolumeClaim', namespaced: NS, short: ['pvc'], sub: ['status'] },
    { plural: 'persistentvolumes', kind: 'PersistentVolume', short: ['pv'], sub: ['status'] },
    { plural: 'pods', kind: 'Pod', namespaced: NS, short: ['po'], all: true, sub: ['status', 'binding', 'eviction', 'log', 'exec', 'attach', 'portforward', 'proxy'] },
    { plural: 'podtemplates', kind: 'PodTemplate', namespaced: NS },
    {
      plural: 'replicationcontrollers',
      kind: 'ReplicationController',
      namespaced: NS,
      short: ['rc'],
      all: true,
      sub: ['status', 'scale'],
      generation: true,
    },
    { plural: 'resourcequotas', kind: 'ResourceQuota', namespaced: NS, short: ['quota'], sub: ['status'] },
    { plural: 'secrets', kind: 'Secret', namespaced: NS },
    { plural: 'serviceaccounts', kind: 'ServiceAccount', namespaced: NS, short: ['sa'], sub: ['token'] },
    {
      plural: 'services',
      kind: 'Service',
      namespaced: NS,
      short: ['svc'],
      all: true,
      sub: ['status', 'proxy'],
      verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
    },
  ]),
  ...group('apps', 'v1', [
    { plural: 'controllerrevisions', kind: 'ControllerRevision', namespaced: NS },
    { plural: 'daemonsets', kind: 'DaemonSet', namespaced: NS, short: ['ds'], all: true, sub: ['status'], generation: true },
    {
      plural: 'deployments',
      kind: 'Deployment',
      namespaced: NS,
      short: ['deploy'],
      all: true,
      sub: ['status', 'scale'],
      generation: true,
    },
    { plural: 'replicasets', kind: 'ReplicaSet', namespaced: NS, short: ['rs'], all: true, sub: ['status', 'scale'], generation: true },
    { plural: 'statefulsets', kind: 'StatefulSet', namespaced: NS, short: ['sts'], all: true, sub: ['status', 'scale'], generation: true },
  ]),
  ...group('autoscaling', 'v2', [
    {
      plural: 'horizontalpodautoscalers',
      kind: 'HorizontalPodAutoscaler',
      namespaced: NS,
      short: ['hpa'],
      all: true,
      sub: ['status'],
      generation: true,
    },
  ]),
  // Create-only, never stored: answered by src/apiserver/serviceaccount.
  ...group('authentication.k8s.io', 'v1', [{ plural: 'selfsubjectreviews', kind: 'SelfSubjectReview', verbs: ['create'] }]),
  // Create-only, never stored: answered by src/apiserver/authz/reviews.ts.
  ...group('authorization.k8s.io', 'v1', [
    { plural: 'localsubjectaccessreviews', kind: 'LocalSubjectAccessReview', namespaced: NS, verbs: ['create'] },
    { plural: 'selfsubjectaccessreviews', kind: 'SelfSubjectAccessReview', verbs: ['create'] },
    { plural: 'selfsubjectrulesreviews', kind: 'SelfSubjectRulesReview', verbs: ['create'] },
    { plural: 'subjectaccessreviews', kind: 'SubjectAccessReview', verbs: ['create'] },
  ]),
  ...group('batch', 'v1', [
    { plural: 'cronjobs', kind: 'CronJob', namespaced: NS, short: ['cj'], all: true, sub: ['status'], generation: true },
    { plural: 'jobs', kind: 'Job', namespaced: NS, all: true, sub: ['status'], generation: true },
  ]),
  ...group('apiextensions.k8s.io', 'v1', [
    { plural: 'customresourcedefinitions', kind: 'CustomResourceDefinition', short: ['crd', 'crds'], categories: ['api-extensions'], sub: ['status'] },
  ]),
  ...group('coordination.k8s.io', 'v1', [{ plural: 'leases', kind: 'Lease', namespaced: NS }]),
  ...group('discovery.k8s.io', 'v1', [{ plural: 'endpointslices', kind: 'EndpointSlice', namespaced: NS }]),
  ...group('events.k8s.io', 'v1', [{ plural: 'events', kind: 'Event', namespaced: NS, short: ['ev'] }]),
  ...group('networking.k8s.io', 'v1', [
    { plural: 'ingressclasses', kind: 'IngressClass' },
    { plural: 'ingresses', kind: 'Ingress', namespaced: NS, short: ['ing'], sub: ['status'], generation: true },
    { plural: 'networkpolicies', kind: 'NetworkPolicy', namespaced: NS, short: ['netpol'], generation: true },
  ]),
  ...group('policy', 'v1', [
    { plural: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: NS, short: ['pdb'], sub: ['status'], generation: true },
  ]),
  ...group('rbac.authorization.k8s.io', 'v1', [
    { plural: 'clusterrolebindings', kind: 'ClusterRoleBinding' },
    { plural: 'clusterroles', kind: 'ClusterRole' },
    { plural: 'rolebindings', kind: 'RoleBinding', namespaced: NS },
    { plural: 'roles', kind: 'Role', namespaced: NS },
  ]),
  ...group('scheduling.k8s.io', 'v1', [{ plural: 'priorityclasses', kind: 'PriorityClass', short: ['pc'] }]),
  ...group('storage.k8s.io', 'v1', [{ plural: 'storageclasses', kind: 'StorageClass', short: ['sc'] }]),
];

/** Groups in the order upstream's discovery lists them (core first, then this order). */
export const GROUP_ORDER = [
  '',
  'apps',
  'events.k8s.io',
  'authentication.k8s.io',
  'authorization.k8s.io',
  'autoscaling',
  'batch',
  'networking.k8s.io',
  'policy',
  'rbac.authorization.k8s.io',
  'storage.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'apiextensions.k8s.io',
  'discovery.k8s.io',
];

/** Kinds of subresources as discovery reports them (responseKind). */
export function subresourceKind(r: ResourceInfo, sub: SubresourceName): { group: string; version: string; kind: string } {
  switch (sub) {
    case 'scale':
      return { group: 'autoscaling', version: 'v1', kind: 'Scale' };
    case 'binding':
      return { group: '', version: 'v1', kind: 'Binding' };
    case 'token':
      return { group: 'authentication.k8s.io', version: 'v1', kind: 'TokenRequest' };
    case 'eviction':
      return { group: 'policy', version: 'v1', kind: 'Eviction' };
    case 'exec':
      return { group: '', version: 'v1', kind: 'PodExecOptions' };
    case 'attach':
      return { group: '', version: 'v1', kind: 'PodAttachOptions' };
    case 'portforward':
      return { group: '', version: 'v1', kind: 'PodPortForwardOptions' };
    case 'proxy':
      return { group: '', version: 'v1', kind: r.plural === 'services' ? 'ServiceProxyOptions' : r.plural === 'nodes' ? 'NodeProxyOptions' : 'PodProxyOptions' };
    default:
      return { group: r.group, version: r.version, kind: r.kind };
  }
}

export function subresourceVerbs(sub: SubresourceName): string[] {
  switch (sub) {
    case 'binding':
    case 'eviction':
    case 'token':
      return ['create'];
    case 'finalize':
      return ['update'];
    case 'log':
      return ['get'];
    case 'exec':
    case 'attach':
    case 'portforward':
      return ['create', 'get'];
    case 'proxy':
      return ['create', 'delete', 'get', 'patch', 'update'];
    default:
      return ['get', 'patch', 'update'];
  }
}

export function apiVersionOf(r: { group: string; version: string }): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

export class ResourceTable {
  /** Built-in resources, then custom resources as their definitions are served. */
  readonly all: ResourceInfo[];
  private readonly byPath = new Map<string, ResourceInfo>();
  private readonly byKind = new Map<string, ResourceInfo>();

  constructor(resources: ResourceInfo[] = RESOURCES) {
    this.all = [...resources];
    for (const r of resources) this.index(r);
  }

  private index(r: ResourceInfo): void {
    this.byPath.set(`${r.group}/${r.version}/${r.plural}`, r);
    this.byKind.set(`${r.group}/${r.version}/${r.kind}`, r);
  }

  add(r: ResourceInfo): void {
    const existing = this.lookup(r.group, r.version, r.plural);
    if (existing) this.remove(existing);
    this.all.push(r);
    this.index(r);
  }

  remove(r: ResourceInfo): void {
    const i = this.all.indexOf(r);
    if (i >= 0) this.all.splice(i, 1);
    if (this.byPath.get(`${r.group}/${r.version}/${r.plural}`) === r) this.byPath.delete(`${r.group}/${r.version}/${r.plural}`);
    if (this.byKind.get(`${r.group}/${r.version}/${r.kind}`) === r) this.byKind.delete(`${r.group}/${r.version}/${r.kind}`);
  }

  lookup(group: string, version: string, plural: string): ResourceInfo | undefined {
    return this.byPath.get(`${group}/${version}/${plural}`);
  }

  byGVK(group: string, version: string, kind: string): ResourceInfo | undefined {
    return this.byKind.get(`${group}/${version}/${kind}`);
  }

  groupVersions(): { group: string; version: string; resources: ResourceInfo[] }[] {
    const map = new Map<string, { group: string; version: string; resources: ResourceInfo[] }>();
    for (const r of this.all) {
      const k = `${r.group}/${r.version}`;
      let gv = map.get(k);
      if (!gv) map.set(k, (gv = { group: r.group, version: r.version, resources: [] }));
      gv.resources.push(r);
    }
    const order = (g: string) => {
      const i = GROUP_ORDER.indexOf(g);
      return i < 0 ? GROUP_ORDER.length : i;
    };
    return [...map.values()].sort((a, b) => order(a.group) - order(b.group) || a.group.localeCompare(b.group));
  }
}
