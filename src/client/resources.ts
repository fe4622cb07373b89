// ResourceRefs from the resource table: `ref.pods`, `ref.leases`, or
// `resourceRef('apps', 'deployments')`, and the ref of an object's kind. Taking them
// from src/api/resources.ts keeps the client's scopes and versions those the
// apiserver serves.

import { RESOURCES, apiVersionOf, type ResourceInfo } from '../api/resources.ts';
import type { KObject } from '../api/object.ts';
import type { ResourceRef } from './types.ts';

function toRef(r: ResourceInfo): ResourceRef {
  return Object.freeze({ group: r.group, version: r.version, resource: r.plural, namespaced: r.namespaced });
}

const byPlural = new Map<string, ResourceInfo>();
const byKind = new Map<string, ResourceInfo>();
for (const r of RESOURCES) {
  // The table lists one served version per group; the first wins should there be more.
  if (!byPlural.has(`${r.group}/${r.plural}`)) byPlural.set(`${r.group}/${r.plural}`, r);
  byKind.set(`${apiVersionOf(r)}/${r.kind}`, r);
}

/** The served resource `plural` of `group` ('' for core); throws for one the apiserver does not serve. */
export function resourceRef(group: string, plural: string): ResourceRef {
  const r = byPlural.get(`${group}/${plural}`);
  if (!r) throw new Error(`unknown resource ${group ? `${plural}.${group}` : plural}`);
  return toRef(r);
}

/** The resource of an apiVersion + kind (e.g. "apps/v1", "Deployment"), or undefined. */
export function resourceRefForKind(apiVersion: string, kind: string): ResourceRef | undefined {
  const r = byKind.get(`${apiVersion}/${kind}`);
  return r ? toRef(r) : undefined;
}

/** The resource an object belongs to, from its apiVersion and kind. */
export function resourceRefFor(obj: KObject): ResourceRef | undefined {
  return obj.apiVersion && obj.kind ? resourceRefForKind(obj.apiVersion, obj.kind) : undefined;
}

/** "pods", "deployments.apps": the GroupResource string upstream prints. */
export function refString(r: ResourceRef): string {
  return r.group ? `${r.resource}.${r.group}` : r.resource;
}

/** The apiVersion of a resource's objects ("v1", "apps/v1"). */
export function refApiVersion(r: ResourceRef): string {
  return r.group ? `${r.group}/${r.version}` : r.version;
}

/** Every served resource by its plural (core/v1 Events as `events`; events.k8s.io's as `eventsV1`). */
export const ref = {
  componentstatuses: resourceRef('', 'componentstatuses'),
  configmaps: resourceRef('', 'configmaps'),
  endpoints: resourceRef('', 'endpoints'),
  events: resourceRef('', 'events'),
  limitranges: resourceRef('', 'limitranges'),
  namespaces: resourceRef('', 'namespaces'),
  nodes: resourceRef('', 'nodes'),
  persistentvolumeclaims: resourceRef('', 'persistentvolumeclaims'),
  persistentvolumes: resourceRef('', 'persistentvolumes'),
  pods: resourceRef('', 'pods'),
  podtemplates: resourceRef('', 'podtemplates'),
  replicationcontrollers: resourceRef('', 'replicationcontrollers'),
  resourcequotas: resourceRef('', 'resourcequotas'),
  secrets: resourceRef('', 'secrets'),
  serviceaccounts: resourceRef('', 'serviceaccounts'),
  services: resourceRef('', 'services'),
  controllerrevisions: resourceRef('apps', 'controllerrevisions'),
  daemonsets: resourceRef('apps', 'daemonsets'),
  deployments: resourceRef('apps', 'deployments'),
  replicasets: resourceRef('apps', 'replicasets'),
  statefulsets: resourceRef('apps', 'statefulsets'),
  horizontalpodautoscalers: resourceRef('autoscaling', 'horizontalpodautoscalers'),
  cronjobs: resourceRef('batch', 'cronjobs'),
  jobs: resourceRef('batch', 'jobs'),
  leases: resourceRef('coordination.k8s.io', 'leases'),
  endpointslices: resourceRef('discovery.k8s.io', 'endpointslices'),
  eventsV1: resourceRef('events.k8s.io', 'events'),
  ingressclasses: resourceRef('networking.k8s.io', 'ingressclasses'),
  ingresses: resourceRef('networking.k8s.io', 'ingresses'),
  networkpolicies: resourceRef('networking.k8s.io', 'networkpolicies'),
  poddisruptionbudgets: resourceRef('policy', 'poddisruptionbudgets'),
  clusterrolebindings: resourceRef('rbac.authorization.k8s.io', 'clusterrolebindings'),
  clusterroles: resourceRef('rbac.authorization.k8s.io', 'clusterroles'),
  rolebindings: resourceRef('rbac.authorization.k8s.io', 'rolebindings'),
  roles: resourceRef('rbac.authorization.k8s.io', 'roles'),
  priorityclasses: resourceRef('scheduling.k8s.io', 'priorityclasses'),
  storageclasses: resourceRef('storage.k8s.io', 'storageclasses'),
} as const;
