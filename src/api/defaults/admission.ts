// The mutating admission plugins that kube-apiserver 1.32 enables by default and that
// change what a user reads back: LimitRanger, ServiceAccount, TaintNodesByCondition,
// Priority, DefaultTolerationSeconds, DefaultStorageClass, StorageObjectInUseProtection
// and DefaultIngressClass. They run on create only (these plugins ignore updates and
// subresources), after the body has been decoded and defaulted and before the
// registry's prepareForCreate, in that order. What they need from the cluster
// (service accounts, priority classes, ...) comes through the context's lookups, so
// this file stays free of storage.
//
// Each returns undefined when the object was admitted (possibly changed) or the
// StatusError (403 Forbidden, as upstream's admission.NewForbidden) that refuses it.

import { forbidden, type StatusError } from '../errors.ts';
import { isObj, objects, type Obj, struct } from './util.ts';

// ---- pods ---------------------------------------------------------------------------

export const DEFAULT_SERVICE_ACCOUNT_NAME = 'default';
export const SERVICE_ACCOUNT_VOLUME_PREFIX = 'kube-api-access-';
export const SERVICE_ACCOUNT_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Bound tokens last an hour; the extra 7 seconds mark tokens kubelets may refresh late (warn-only). */
const WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS = 3607;
const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';
const ENFORCE_MOUNTABLE_SECRETS_ANNOTATION = 'kubernetes.io/enforce-mountable-secrets';
const LIMIT_RANGER_ANNOTATION = 'kubernetes.io/limit-ranger';
const DEFAULT_TOLERATION_SECONDS = 300;

/** Priority of pods when no PriorityClass is the global default. */
export const DEFAULT_PRIORITY_WHEN_NO_DEFAULT_CLASS = 0;

/** The classes every cluster has (created at bootstrap), used when no lookup is given. */
const SYSTEM_PRIORITY_CLASSES: Record<string, PriorityInfo> = {
  'system-node-critical': { value: 2000001000, preemptionPolicy: 'PreemptLowerPriority' },
  'system-cluster-critical': { value: 2000000000, preemptionPolicy: 'PreemptLowerPriority' },
};

export interface PriorityInfo {
  value: number;
  preemptionPolicy?: string;
}

export interface PodAdmissionContext {
  /** The pod's namespace, for messages; defaults to the pod's metadata.namespace. */
  namespace?: string;
  /**
   * The named ServiceAccount of the pod's namespace, or undefined when it does not exist
   * (then the pod is refused). Without this lookup every service account is taken to
   * exist with default settings.
   */
  serviceAccount?(name: string): Obj | undefined;
  /** The PriorityClass of that name, or undefined when there is none (the pod is refused). */
  priorityFor?(name: string): PriorityInfo | undefined;
  /** The PriorityClass with globalDefault (the lowest value if several), if any. */
  defaultPriorityClass?(): (PriorityInfo & { name: string }) | undefined;
  /** The LimitRanges of the pod's namespace. */
  limitRanges?(): Obj[];
  /** The 5 random characters of the token volume's name (tests make it deterministic). */
  randomSuffix?(): string;
}

const POD_RESOURCE = { group: '', resource: 'pods' };

/** Admission of a pod create, in upstream's plugin order. Mutates `pod`. */
export function admitPod(pod: Obj, ctx: PodAdmissionContext = {}): StatusError | undefined {
  const spec = struct(pod, 'spec');
  const meta = struct(pod, 'metadata');
  const name = typeof meta.name === 'string' ? meta.name : '';
  const namespace = ctx.namespace ?? (typeof meta.namespace === 'string' ? meta.namespace : '');
  const refuse = (detail: string) => forbidden(POD_RESOURCE, name, detail);

  limitRanger(pod, ctx.limitRanges?.() ?? []);

  const saError = serviceAccountAdmission(pod, namespace, ctx, refuse);
  if (saError) return saError;

  const priorityError = priorityAdmission(spec, ctx, refuse);
  if (priorityError) return priorityError;

  defaultTolerationSeconds(spec);
  return undefined;
}

/** LimitRanger: container defaults of the namespace's LimitRanges, noted in an annotation. */
function limitRanger(pod: Obj, limitRanges: Obj[]): void {
  for (const lr of limitRanges) {
    const defaults = { limits: {} as Obj, requests: {} as Obj };
    for (const item of objects(lr.spec?.limits)) {
      if (item.type !== 'Container') continue;
      Object.assign(defaults.requests, isObj(item.defaultRequest) ? item.defaultRequest : {});
      Object.assign(defaults.limits, isObj(item.default) ? item.default : {});
    }
    const notes: string[] = [];
    const merge = (c: Obj, what: string) => {
      const resources = struct(c, 'resources');
      const limits = struct(resources, 'limits');
      const requests = struct(resources, 'requests');
      const setLimits = Object.keys(defaults.limits).filter((k) => !(k in limits));
      const setRequests = Object.keys(defaults.requests).filter((k) => !(k in requests));
      for (const k of setLimits) limits[k] = defaults.limits[k];
      for (const k of setRequests) requests[k] = defaults.requests[k];
      if (Object.keys(limits).length === 0) delete resources.limits;
      if (Object.keys(requests).length === 0) delete resources.requests;
      if (setRequests.length) notes.push(`${setRequests.sort().join(', ')} request for ${what} ${c.name}`);
      if (setLimits.length) notes.push(`${setLimits.sort().join(', ')} limit for ${what} ${c.name}`);
    };
    for (const c of objects(pod.spec?.containers)) merge(c, 'container');
    for (const c of objects(pod.spec?.initContainers)) merge(c, 'init container');
    if (notes.length) {
      const meta = struct(pod, 'metadata');
      meta.annotations = { ...(isObj(meta.annotations) ? meta.annotations : {}), [LIMIT_RANGER_ANNOTATION]: `LimitRanger plugin set: ${notes.join('; ')}` };
    }
  }
}

function serviceAccountAdmission(
  pod: Obj,
  namespace: string,
  ctx: PodAdmissionContext,
  refuse: (detail: string) => StatusError,
): StatusError | undefined {
  const spec = pod.spec as Obj;
  const annotations = isObj(pod.metadata?.annotations) ? pod.metadata.annotations : {};
  // Mirror pods (static pods reflected by a kubelet) are never changed, and may not use
  // service accounts or secrets the kubelet could not vouch for.
  if (MIRROR_POD_ANNOTATION in annotations) {
    if (spec.serviceAccountName) return refuse('a mirror pod may not reference service accounts');
    if (referencedSecrets(spec).length > 0) return refuse('a mirror pod may not reference secrets');
    for (const v of objects(spec.volumes)) {
      if (objects(v.projected?.sources).some((s) => isObj(s.serviceAccountToken))) {
        return refuse('a mirror pod may not use ServiceAccountToken volume projections');
      }
    }
    return undefined;
  }

  if (!spec.serviceAccountName) spec.serviceAccountName = DEFAULT_SERVICE_ACCOUNT_NAME;
  // The deprecated alias follows the name, as v1 conversion writes it.
  spec.serviceAccount = spec.serviceAccountName;
  const saName: string = spec.serviceAccountName;
  const sa = ctx.serviceAccount ? ctx.serviceAccount(saName) : {};
  if (!sa) return refuse(`error looking up service account ${namespace}/${saName}: serviceaccount "${saName}" not found`);

  const automount = typeof spec.automountServiceAccountToken === 'boolean'
    ? spec.automountServiceAccountToken
    : typeof sa.automountServiceAccountToken === 'boolean'
      ? sa.automountServiceAccountToken
      : true;
  if (automount) mountServiceAccountToken(spec, ctx.randomSuffix ?? randomSuffix);

  if (!Array.isArray(spec.imagePullSecrets) || spec.imagePullSecrets.length === 0) {
    const pullSecrets = objects(sa.imagePullSecrets).map((s) => ({ name: s.name }));
    if (pullSecrets.length > 0) spec.imagePullSecrets = pullSecrets;
  }

  if (isObj(sa.metadata?.annotations) && sa.metadata.annotations[ENFORCE_MOUNTABLE_SECRETS_ANNOTATION] === 'true') {
    const problem = limitSecretReferences(spec, sa, saName);
    if (problem) return refuse(problem);
  }
  return undefined;
}

/** The projected token volume, mounted read-only in every container that has nothing at the path. */
function mountServiceAccountToken(spec: Obj, suffix: () => string): void {
  const volumes = objects(spec.volumes);
  const existing = volumes.find((v) => typeof v.name === 'string' && v.name.startsWith(SERVICE_ACCOUNT_VOLUME_PREFIX));
  const volumeName: string = existing ? existing.name : SERVICE_ACCOUNT_VOLUME_PREFIX + suffix();
  let needsVolume = false;
  for (const c of [...objects(spec.initContainers), ...objects(spec.containers)]) {
    if (objects(c.volumeMounts).some((m) => m.mountPath === SERVICE_ACCOUNT_MOUNT_PATH)) continue;
    c.volumeMounts = [...objects(c.volumeMounts), { name: volumeName, readOnly: true, mountPath: SERVICE_ACCOUNT_MOUNT_PATH }];
    needsVolume = true;
  }
  if (!existing && needsVolume) spec.volumes = [...volumes, tokenVolume(volumeName)];
}

/** serviceaccount.TokenVolumeSource: token, cluster CA and namespace, every default explicit. */
export function tokenVolume(name: string): Obj {
  return {
    name,
    projected: {
      sources: [
        { serviceAccountToken: { expirationSeconds: WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
      defaultMode: 0o644,
    },
  };
}

/** utilrand.String: lower-case consonants and digits that cannot spell words. */
const NAME_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_ALPHABET[Math.floor(Math.random() * NAME_ALPHABET.length)];
  return s;
}

/** Names of the secrets a pod spec refers to (volumes, env, envFrom, pull secrets). */
function referencedSecrets(spec: Obj): string[] {
  const names: string[] = [];
  for (const s of objects(spec.imagePullSecrets)) names.push(s.name);
  for (const v of objects(spec.volumes)) {
    if (isObj(v.secret)) names.push(v.secret.secretName);
    for (const src of objects(v.projected?.sources)) if (isObj(src.secret)) names.push(src.secret.name);
    for (const key of ['azureFile', 'cephfs', 'cinder', 'flexVolume', 'iscsi', 'rbd', 'scaleIO', 'storageos', 'csi']) {
      const ref = v[key]?.secretRef ?? v[key]?.nodePublishSecretRef;
      if (isObj(ref)) names.push(ref.name);
      if (key === 'azureFile' && isObj(v[key])) names.push(v[key].secretName);
    }
  }
  for (const c of [...objects(spec.initContainers), ...objects(spec.containers), ...objects(spec.ephemeralContainers)]) {
    for (const e of objects(c.envFrom)) if (isObj(e.secretRef)) names.push(e.secretRef.name);
    for (const e of objects(c.env)) if (isObj(e.valueFrom?.secretKeyRef)) names.push(e.valueFrom.secretKeyRef.name);
  }
  return names.filter((n) => typeof n === 'string' && n !== '');
}

/** With the SA's enforce-mountable-secrets annotation, only its own secrets may be used. */
function limitSecretReferences(spec: Obj, sa: Obj, saName: string): string | undefined {
  const mountable = new Set(objects(sa.secrets).map((s) => s.name));
  for (const v of objects(spec.volumes)) {
    if (isObj(v.secret) && !mountable.has(v.secret.secretName)) {
      return `volume with secret.secretName="${v.secret.secretName}" is not allowed because service account ${saName} does not reference that secret`;
    }
  }
  for (const [what, list] of [['init container', spec.initContainers], ['container', spec.containers]] as const) {
    for (const c of objects(list)) {
      for (const e of objects(c.env)) {
        const ref = e.valueFrom?.secretKeyRef;
        if (isObj(ref) && !mountable.has(ref.name)) {
          return `${what} ${c.name} with envVar ${e.name} referencing secret.secretName="${ref.name}" is not allowed because service account ${saName} does not reference that secret`;
        }
      }
      for (const e of objects(c.envFrom)) {
        if (isObj(e.secretRef) && !mountable.has(e.secretRef.name)) {
          return `${what} ${c.name} with envFrom referencing secret.secretName="${e.secretRef.name}" is not allowed because service account ${saName} does not reference that secret`;
        }
      }
    }
  }
  const pullSecrets = new Set(objects(sa.imagePullSecrets).map((s) => s.name));
  for (const [i, ref] of objects(spec.imagePullSecrets).entries()) {
    if (!pullSecrets.has(ref.name)) {
      return `imagePullSecrets[${i}].name="${ref.name}" is not allowed because service account ${saName} does not reference that imagePullSecret`;
    }
  }
  return undefined;
}

/** Priority: the pod's priority (and preemption policy) come from its PriorityClass. */
function priorityAdmission(spec: Obj, ctx: PodAdmissionContext, refuse: (detail: string) => StatusError): StatusError | undefined {
  let priority: number;
  let preemptionPolicy: string | undefined;
  if (!spec.priorityClassName) {
    const def = ctx.defaultPriorityClass?.();
    if (def) {
      spec.priorityClassName = def.name;
      priority = def.value;
      preemptionPolicy = def.preemptionPolicy;
    } else {
      priority = DEFAULT_PRIORITY_WHEN_NO_DEFAULT_CLASS;
      preemptionPolicy = 'PreemptLowerPriority';
    }
  } else {
    const className: string = spec.priorityClassName;
    const pc = ctx.priorityFor ? ctx.priorityFor(className) : SYSTEM_PRIORITY_CLASSES[className];
    if (!pc) return refuse(`no PriorityClass with name ${className} was found`);
    priority = pc.value;
    preemptionPolicy = pc.preemptionPolicy;
  }
  if (spec.priority !== undefined && spec.priority !== null && spec.priority !== priority) {
    return refuse(
      `the integer value of priority (${spec.priority}) must not be provided in pod spec; priority admission controller computed ${priority} from the given PriorityClass name`,
    );
  }
  spec.priority = priority;
  if (preemptionPolicy !== undefined) {
    if (spec.preemptionPolicy !== undefined && spec.preemptionPolicy !== null && spec.preemptionPolicy !== preemptionPolicy) {
      return refuse(
        `the string value of PreemptionPolicy (${spec.preemptionPolicy}) must not be provided in pod spec; priority admission controller computed ${preemptionPolicy} from the given PriorityClass name`,
      );
    }
    spec.preemptionPolicy = preemptionPolicy;
  }
  return undefined;
}

/** DefaultTolerationSeconds: pods ride out 5 minutes of a not-ready or unreachable node. */
function defaultTolerationSeconds(spec: Obj): void {
  const tolerations = objects(spec.tolerations);
  // A toleration with an empty key (or effect) matches every key (or effect).
  const tolerates = (key: string) =>
    tolerations.some((t) => (t.key === key || !t.key) && (t.effect === 'NoExecute' || !t.effect));
  const added: Obj[] = [];
  for (const key of ['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']) {
    if (!tolerates(key)) {
      added.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: DEFAULT_TOLERATION_SECONDS });
    }
  }
  if (added.length) spec.tolerations = [...(Array.isArray(spec.tolerations) ? spec.tolerations : []), ...added];
}

// ---- other kinds --------------------------------------------------------------------

/** TaintNodesByCondition: a new node is not-ready (NoSchedule) until its kubelet says otherwise. */
export function admitNode(node: Obj): StatusError | undefined {
  const spec = struct(node, 'spec');
  const taints = objects(spec.taints);
  if (!taints.some((t) => t.key === 'node.kubernetes.io/not-ready' && t.effect === 'NoSchedule')) {
    spec.taints = [...(Array.isArray(spec.taints) ? spec.taints : []), { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }];
  }
  return undefined;
}

export interface ClassAdmissionContext {
  /** Every StorageClass (for claims) or IngressClass (for ingresses) of the cluster. */
  classes?(): Obj[];
}

/** The default class among `classes`: the newest marked default, ties broken by name. */
export function defaultClassOf(classes: Obj[], annotations: string[]): Obj | undefined {
  const defaults = classes.filter((c) => annotations.some((a) => c.metadata?.annotations?.[a] === 'true'));
  const created = (c: Obj) => Date.parse(c.metadata?.creationTimestamp ?? '') || 0;
  defaults.sort((a, b) => created(b) - created(a) || String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
  return defaults[0];
}

/** DefaultStorageClass, then StorageObjectInUseProtection. */
export function admitPersistentVolumeClaim(pvc: Obj, ctx: ClassAdmissionContext = {}): StatusError | undefined {
  const spec = struct(pvc, 'spec');
  const meta = struct(pvc, 'metadata');
  // A claim that names a class, even "", or uses the beta annotation keeps it.
  const hasClass = (spec.storageClassName !== undefined && spec.storageClassName !== null) ||
    (isObj(meta.annotations) && 'volume.beta.kubernetes.io/storage-class' in meta.annotations);
  if (!hasClass) {
    const def = defaultClassOf(ctx.classes?.() ?? [], [
      'storageclass.kubernetes.io/is-default-class',
      'storageclass.beta.kubernetes.io/is-default-class',
    ]);
    if (def) spec.storageClassName = def.metadata.name;
  }
  addFinalizer(meta, 'kubernetes.io/pvc-protection');
  return undefined;
}

/** StorageObjectInUseProtection: a bound volume outlives its users. */
export function admitPersistentVolume(pv: Obj): StatusError | undefined {
  addFinalizer(struct(pv, 'metadata'), 'kubernetes.io/pv-protection');
  return undefined;
}

/** DefaultIngressClass: an ingress that names no class gets the default one. */
export function admitIngress(ing: Obj, ctx: ClassAdmissionContext = {}): StatusError | undefined {
  const spec = struct(ing, 'spec');
  const meta = struct(ing, 'metadata');
  if (spec.ingressClassName !== undefined && spec.ingressClassName !== null) return undefined;
  if (isObj(meta.annotations) && 'kubernetes.io/ingress.class' in meta.annotations) return undefined;
  const def = defaultClassOf(ctx.classes?.() ?? [], ['ingressclass.kubernetes.io/is-default-class']);
  if (def) spec.ingressClassName = def.metadata.name;
  return undefined;
}

function addFinalizer(meta: Obj, finalizer: string): void {
  const finalizers: unknown[] = Array.isArray(meta.finalizers) ? meta.finalizers : [];
  if (!finalizers.includes(finalizer)) meta.finalizers = [...finalizers, finalizer];
}
