// Spec and data validation of the built-in kinds, one table row per kind, with
// upstream's (1.32) field paths and messages. Metadata is validated elsewhere
// (../validation.ts); callers append these errors after the metadata errors, which is
// upstream's order too.
//
// validateObject runs after defaulting, as upstream's strategies validate defaulted
// objects; fields upstream always defaults are therefore never Required here.
//
// decodeError covers what upstream rejects while decoding, before validation: a
// resource.Quantity or Secret data value that does not parse answers 400 BadRequest
// (`Pod in version "v1" cannot be handled as a Pod: quantities must match ...`), not 422.

import type { FieldError } from '../errors.ts';
import { validateCronJob, validateCronJobUpdate, validateJob, validateJobUpdate } from './batch.ts';
import {
  validateConfigMap,
  validateConfigMapUpdate,
  validateEndpoints,
  validateEvent,
  validateEventUpdate,
  validateLimitRange,
  validateNamespace,
  validateNode,
  validateNodeUpdate,
  validateResourceQuota,
  validateResourceQuotaUpdate,
  validateSecret,
  validateSecretUpdate,
  validateService,
  validateServiceUpdate,
} from './core.ts';
import { arr, isObj, obj, type Obj } from './field.ts';
import {
  validateEndpointSlice,
  validateEndpointSliceUpdate,
  validateHorizontalPodAutoscaler,
  validateIngress,
  validateIngressClass,
  validateIngressClassUpdate,
  validateLease,
  validateNetworkPolicy,
  validatePodDisruptionBudget,
  validatePriorityClass,
  validatePriorityClassUpdate,
  validateRole,
  validateRoleBinding,
  validateRoleBindingUpdate,
} from './groups.ts';
import { validatePod, validatePodUpdate } from './pod.ts';
import { quantityFromJSON } from './quantity.ts';
import {
  validatePersistentVolume,
  validatePersistentVolumeClaim,
  validatePersistentVolumeClaimUpdate,
  validatePersistentVolumeUpdate,
  validateStorageClass,
  validateStorageClassUpdate,
} from './storage.ts';
import {
  selectorImmutable,
  validateControllerRevision,
  validateControllerRevisionUpdate,
  validateDaemonSet,
  validateDeployment,
  validatePodTemplate,
  validateReplicaSet,
  validateReplicationController,
  validateStatefulSet,
  validateStatefulSetUpdate,
} from './workloads.ts';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

interface KindRules {
  create: (obj: Obj) => FieldError[];
  /** The update check; defaults to `create` on the new object. */
  update?: (next: Obj, old: Obj) => FieldError[];
}

const withSelector =
  (validate: (o: Obj) => FieldError[]) =>
  (next: Obj, old: Obj): FieldError[] => [...validate(next), ...selectorImmutable(next, old)];

const noChecks: KindRules = { create: () => [] };

// Keyed "group/Kind"; every version of a group shares its rules.
const KINDS: Record<string, KindRules> = {
  '/Pod': { create: validatePod, update: validatePodUpdate },
  '/PodTemplate': { create: validatePodTemplate },
  '/ReplicationController': { create: validateReplicationController },
  '/Service': { create: validateService, update: validateServiceUpdate },
  '/ConfigMap': { create: validateConfigMap, update: validateConfigMapUpdate },
  '/Secret': { create: validateSecret, update: validateSecretUpdate },
  '/Namespace': { create: validateNamespace, update: () => [] },
  '/Node': { create: validateNode, update: validateNodeUpdate },
  '/PersistentVolume': { create: validatePersistentVolume, update: validatePersistentVolumeUpdate },
  '/PersistentVolumeClaim': { create: validatePersistentVolumeClaim, update: validatePersistentVolumeClaimUpdate },
  '/ResourceQuota': { create: validateResourceQuota, update: validateResourceQuotaUpdate },
  '/LimitRange': { create: validateLimitRange },
  '/Endpoints': { create: validateEndpoints },
  '/Event': { create: (o) => validateEvent(o, { strict: false }), update: (n, o) => validateEventUpdate(n, o, { strict: false }) },
  '/ServiceAccount': noChecks,
  'apps/Deployment': { create: validateDeployment, update: withSelector(validateDeployment) },
  'apps/ReplicaSet': { create: validateReplicaSet, update: withSelector(validateReplicaSet) },
  'apps/StatefulSet': { create: validateStatefulSet, update: (n, o) => [...validateStatefulSetUpdate(n, o), ...selectorImmutable(n, o)] },
  'apps/DaemonSet': { create: validateDaemonSet, update: withSelector(validateDaemonSet) },
  'apps/ControllerRevision': { create: validateControllerRevision, update: validateControllerRevisionUpdate },
  'batch/Job': { create: validateJob, update: validateJobUpdate },
  'batch/CronJob': { create: validateCronJob, update: validateCronJobUpdate },
  'autoscaling/HorizontalPodAutoscaler': { create: validateHorizontalPodAutoscaler },
  'policy/PodDisruptionBudget': { create: validatePodDisruptionBudget },
  'networking.k8s.io/Ingress': { create: (o) => validateIngress(o, { create: true }), update: (n) => validateIngress(n, { create: false }) },
  'networking.k8s.io/IngressClass': { create: validateIngressClass, update: validateIngressClassUpdate },
  'networking.k8s.io/NetworkPolicy': { create: validateNetworkPolicy },
  'storage.k8s.io/StorageClass': { create: validateStorageClass, update: validateStorageClassUpdate },
  'scheduling.k8s.io/PriorityClass': { create: validatePriorityClass, update: validatePriorityClassUpdate },
  'rbac.authorization.k8s.io/Role': { create: (o) => validateRole(o, { namespaced: true }) },
  'rbac.authorization.k8s.io/ClusterRole': { create: (o) => validateRole(o, { namespaced: false }) },
  'rbac.authorization.k8s.io/RoleBinding': {
    create: (o) => validateRoleBinding(o, { namespaced: true }),
    update: (n, o) => validateRoleBindingUpdate(n, o, { namespaced: true }),
  },
  'rbac.authorization.k8s.io/ClusterRoleBinding': {
    create: (o) => validateRoleBinding(o, { namespaced: false }),
    update: (n, o) => validateRoleBindingUpdate(n, o, { namespaced: false }),
  },
  'coordination.k8s.io/Lease': { create: validateLease },
  'discovery.k8s.io/EndpointSlice': { create: validateEndpointSlice, update: validateEndpointSliceUpdate },
  'events.k8s.io/Event': { create: (o) => validateEvent(o, { strict: true }), update: (n, o) => validateEventUpdate(n, o, { strict: true }) },
};

/**
 * The spec/data validation of a built-in kind: on create (`old` undefined) or on update
 * (`old` is the stored object, `obj` the defaulted new one), including the update-only
 * immutability rules. Kinds outside the table (custom resources) have no checks here.
 */
export function validateObject(gvk: GroupVersionKind, obj: Record<string, any>, old?: Record<string, any>): FieldError[] {
  const rules = KINDS[`${gvk.group}/${gvk.kind}`];
  if (!rules) return [];
  if (old === undefined) return rules.create(obj);
  return (rules.update ?? rules.create)(obj, old);
}

/** The kinds validateObject knows, as "group/Kind". */
export const VALIDATED_KINDS: readonly string[] = Object.keys(KINDS);

// --- decode-time errors ---

/** Where each kind keeps resource.Quantity values (ResourceLists and single quantities). */
function* podSpecQuantities(spec: unknown): Generator<unknown> {
  const s = obj(spec);
  for (const key of ['containers', 'initContainers', 'ephemeralContainers']) {
    for (const c of arr(s[key])) {
      const r = obj(obj(c).resources);
      yield* Object.values(obj(r.limits));
      yield* Object.values(obj(r.requests));
    }
  }
  yield* Object.values(obj(s.overhead));
  for (const v of arr(s.volumes)) {
    const vol = obj(v);
    if (isObj(vol.emptyDir) && vol.emptyDir.sizeLimit !== undefined) yield vol.emptyDir.sizeLimit;
    const tpl = obj(obj(vol.ephemeral).volumeClaimTemplate);
    yield* pvcSpecQuantities(tpl.spec);
  }
}

function* pvcSpecQuantities(spec: unknown): Generator<unknown> {
  const r = obj(obj(spec).resources);
  yield* Object.values(obj(r.requests));
  yield* Object.values(obj(r.limits));
}

/** The kinds quantitiesOf knows (keep in step with its cases). */
const KINDS_WITH_QUANTITIES = new Set([
  '/Pod',
  '/PodTemplate',
  '/ReplicationController',
  'apps/Deployment',
  'apps/ReplicaSet',
  'apps/DaemonSet',
  'batch/Job',
  'apps/StatefulSet',
  'batch/CronJob',
  '/PersistentVolumeClaim',
  '/PersistentVolume',
  '/Node',
  '/ResourceQuota',
  '/LimitRange',
  'autoscaling/HorizontalPodAutoscaler',
]);

function* quantitiesOf(kind: string, o: Obj): Generator<unknown> {
  const spec = obj(o.spec);
  switch (kind) {
    case '/Pod':
      yield* podSpecQuantities(spec);
      break;
    case '/PodTemplate':
      yield* podSpecQuantities(obj(o.template).spec);
      break;
    case '/ReplicationController':
    case 'apps/Deployment':
    case 'apps/ReplicaSet':
    case 'apps/DaemonSet':
    case 'batch/Job':
      yield* podSpecQuantities(obj(spec.template).spec);
      break;
    case 'apps/StatefulSet':
      yield* podSpecQuantities(obj(spec.template).spec);
      for (const t of arr(spec.volumeClaimTemplates)) yield* pvcSpecQuantities(obj(t).spec);
      break;
    case 'batch/CronJob':
      yield* podSpecQuantities(obj(obj(obj(spec.jobTemplate).spec).template).spec);
      break;
    case '/PersistentVolumeClaim':
      yield* pvcSpecQuantities(spec);
      yield* Object.values(obj(obj(o.status).capacity));
      break;
    case '/PersistentVolume':
      yield* Object.values(obj(spec.capacity));
      break;
    case '/Node':
      yield* Object.values(obj(obj(o.status).capacity));
      yield* Object.values(obj(obj(o.status).allocatable));
      break;
    case '/ResourceQuota':
      yield* Object.values(obj(spec.hard));
      yield* Object.values(obj(obj(o.status).hard));
      yield* Object.values(obj(obj(o.status).used));
      break;
    case '/LimitRange':
      for (const l of arr(spec.limits)) {
        for (const f of ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio']) yield* Object.values(obj(obj(l)[f]));
      }
      break;
    case 'autoscaling/HorizontalPodAutoscaler':
      for (const m of arr(spec.metrics)) {
        for (const src of Object.values(obj(m))) {
          const target = obj(obj(src).target);
          if (target.value !== undefined) yield target.value;
          if (target.averageValue !== undefined) yield target.averageValue;
        }
      }
      break;
  }
}

/** Go's base64 (StdEncoding) decode error for a []byte field. */
function base64Error(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined;
  const alphabet = /[A-Za-z0-9+/]/;
  let i = 0;
  for (; i < v.length && alphabet.test(v[i]); i++);
  let pad = 0;
  for (let j = i; j < v.length; j++) {
    if (v[j] !== '=') return `illegal base64 data at input byte ${j}`;
    pad++;
  }
  if (pad > 2 || (i + pad) % 4 !== 0 || (pad > 0 && (i % 4) + pad !== 4)) {
    return `illegal base64 data at input byte ${pad > 0 ? i : Math.floor(i / 4) * 4 + (i % 4 === 1 ? 0 : i % 4)}`;
  }
  return undefined;
}

/**
 * The 400 BadRequest message upstream's decoder returns for this object, or undefined
 * when it decodes: `<Kind> in version "<version>" cannot be handled as a <Kind>: <err>`.
 */
export function decodeError(gvk: GroupVersionKind, o: Record<string, any>): string | undefined {
  const key = `${gvk.group}/${gvk.kind}`;
  const fail = (err: string) => `${gvk.kind} in version ${JSON.stringify(gvk.version)} cannot be handled as a ${gvk.kind}: ${err}`;
  // Most writes (leases above all) are of kinds without quantities: no generator for them.
  if (KINDS_WITH_QUANTITIES.has(key)) {
    for (const v of quantitiesOf(key, o)) {
      if (v === null) continue;
      const q = quantityFromJSON(v);
      if (typeof q === 'string') return fail(q);
    }
  }
  if (key === '/Secret') {
    for (const v of Object.values(obj(o.data))) {
      const err = base64Error(v);
      if (err) return fail(err);
    }
  }
  if (key === '/ConfigMap') {
    for (const v of Object.values(obj(o.binaryData))) {
      const err = base64Error(v);
      if (err) return fail(err);
    }
  }
  return undefined;
}

export { parseQuantity, Quantity, ERR_FORMAT_WRONG } from './quantity.ts';
