// Defaulting: what kube-apiserver 1.32 fills into an object that a client left out.
//
// Upstream produces a stored object in four steps, and users see the sum of them:
//
//  1. Decode + defaulting (this file's applyDefaults): the generated SetObjectDefaults_<Kind>
//     functions run on every body decoded from a request, create *and* update (and
//     patch, whose result is decoded again), and on every object decoded from storage.
//     They also include what Go's encoder adds on the way back out: value structs and
//     fields without `omitempty` are always written (`resources: {}`, a template's
//     `metadata: {creationTimestamp: null}`, `status: {replicas: 0}`), empty maps are
//     not, quantities are canonical ("1.5Gi" → "1536Mi"), plus the few v1 conversions
//     that change the object (a Secret's stringData merged into data, a pod's
//     serviceAccount alias, StatefulSet claim templates' apiVersion/kind).
//  2. Mutating admission, on create only (defaults/admission.ts): the pod's service
//     account, its token volume and mounts, priority and preemptionPolicy, the
//     not-ready/unreachable tolerations, LimitRange defaults; a node's not-ready taint;
//     a claim's default StorageClass; an ingress's default IngressClass; the pvc/pv
//     protection finalizers.
//  3. The registry strategy's prepareForCreate/prepareForUpdate (src/apiserver/strategies.ts):
//     status reset, namespace finalizers, a Job's generated selector and labels, a
//     DaemonSet's template generation, a Service's clusterIP and ipFamilies.
//  4. Decode from storage runs step 1 again: that is why a created Job carries its
//     template's (generated) labels and a new claim reads back `status.phase: Pending`
//     after prepareForCreate emptied its status.
//
// So the apiserver must call applyDefaults on the decoded body of every create and update
// and once more after the strategy's prepare step (standing in for step 4); it is
// idempotent. Kinds without defaults pass through unchanged.

import type { Obj } from './defaults/util.ts';
import {
  defaultEndpoints,
  defaultEvent,
  defaultLimitRange,
  defaultNamespace,
  defaultNode,
  defaultPersistentVolume,
  defaultPersistentVolumeClaim,
  defaultPod,
  defaultPodTemplateObject,
  defaultReplicationController,
  defaultResourceQuota,
  defaultSecret,
  defaultService,
} from './defaults/core.ts';
import {
  defaultControllerRevision,
  defaultCronJob,
  defaultDaemonSet,
  defaultDeployment,
  defaultHorizontalPodAutoscaler,
  defaultJob,
  defaultReplicaSet,
  defaultStatefulSet,
} from './defaults/workloads.ts';
import {
  defaultCustomResourceDefinition,
  defaultEndpointSlice,
  defaultIngress,
  defaultIngressClass,
  defaultLease,
  defaultNetworkPolicy,
  defaultPodDisruptionBudget,
  defaultPriorityClass,
  defaultRole,
  defaultRoleBinding,
  defaultStorageClass,
} from './defaults/cluster.ts';
import { isObj } from './defaults/util.ts';

export {
  admitIngress,
  admitNode,
  admitPersistentVolume,
  admitPersistentVolumeClaim,
  admitPod,
  defaultClassOf,
  type ClassAdmissionContext,
  type PodAdmissionContext,
  type PriorityInfo,
} from './defaults/admission.ts';
export { parseImageName, defaultPullPolicy } from './defaults/image.ts';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/**
 * One defaulter per served kind, keyed `group/version/Kind`. ConfigMap, ServiceAccount and
 * ComponentStatus have no defaults a user could see (a ConfigMap's data defaults to an
 * empty map, which is never written).
 */
const DEFAULTERS: Record<string, (obj: Obj) => void> = {
  '/v1/Pod': defaultPod,
  '/v1/PodTemplate': defaultPodTemplateObject,
  '/v1/ReplicationController': defaultReplicationController,
  '/v1/Service': defaultService,
  '/v1/Endpoints': defaultEndpoints,
  '/v1/Secret': defaultSecret,
  '/v1/Namespace': defaultNamespace,
  '/v1/Node': defaultNode,
  '/v1/PersistentVolume': defaultPersistentVolume,
  '/v1/PersistentVolumeClaim': defaultPersistentVolumeClaim,
  '/v1/ResourceQuota': defaultResourceQuota,
  '/v1/LimitRange': defaultLimitRange,
  '/v1/Event': defaultEvent,
  'apps/v1/Deployment': defaultDeployment,
  'apps/v1/ReplicaSet': defaultReplicaSet,
  'apps/v1/StatefulSet': defaultStatefulSet,
  'apps/v1/DaemonSet': defaultDaemonSet,
  'apps/v1/ControllerRevision': defaultControllerRevision,
  'batch/v1/Job': defaultJob,
  'batch/v1/CronJob': defaultCronJob,
  'autoscaling/v2/HorizontalPodAutoscaler': defaultHorizontalPodAutoscaler,
  'networking.k8s.io/v1/NetworkPolicy': defaultNetworkPolicy,
  'networking.k8s.io/v1/Ingress': defaultIngress,
  'networking.k8s.io/v1/IngressClass': defaultIngressClass,
  'discovery.k8s.io/v1/EndpointSlice': defaultEndpointSlice,
  'policy/v1/PodDisruptionBudget': defaultPodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/Role': defaultRole,
  'rbac.authorization.k8s.io/v1/ClusterRole': defaultRole,
  'rbac.authorization.k8s.io/v1/RoleBinding': defaultRoleBinding,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': defaultRoleBinding,
  'scheduling.k8s.io/v1/PriorityClass': defaultPriorityClass,
  'storage.k8s.io/v1/StorageClass': defaultStorageClass,
  'coordination.k8s.io/v1/Lease': defaultLease,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': defaultCustomResourceDefinition,
};

/** Whether `gvk` has defaults (kinds that do not are left exactly as decoded). */
export function hasDefaults(gvk: GroupVersionKind): boolean {
  return `${gvk.group}/${gvk.version}/${gvk.kind}` in DEFAULTERS;
}

/**
 * Fills in upstream's defaults for a decoded object of kind `gvk`, in place. Idempotent.
 * events.k8s.io/v1 Events are defaulted in their core/v1 shape (the form they are stored in).
 */
export function applyDefaults(gvk: GroupVersionKind, obj: Record<string, any>): void {
  if (!isObj(obj)) return;
  DEFAULTERS[`${gvk.group}/${gvk.version}/${gvk.kind}`]?.(obj);
}
