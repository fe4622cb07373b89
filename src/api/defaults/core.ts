// Defaults of the core/v1 kinds, as pkg/apis/core/v1 (defaults.go and the generated
// SetObjectDefaults_* walks, including the declarative `+default=` markers of k8s.io/api)
// sets them in 1.32 with the default feature gates. Feature-gated defaults of gates that
// are off in 1.32 (PodLevelResources, ImageVolume, MaxUnavailableStatefulSet,
// DefaultHostNetworkHostPortsInPodTemplates) are not applied.

import { defaultPullPolicy } from './image.ts';
import { canonicalQuantityField, defaultResourceList } from './quantity.ts';
import {
  defaultInt,
  defaultPointer,
  defaultString,
  isEmpty,
  isObj,
  objects,
  type Obj,
  present,
  struct,
} from './util.ts';

// ---- pods and pod templates ---------------------------------------------------------

/**
 * A PodSpec wherever it appears. `pod` adds SetDefaults_Pod, which upstream keeps out of
 * templates on purpose (defaults added there would roll every workload on upgrade):
 * requests copied from limits, enableServiceLinks and hostNetwork host ports.
 */
export function defaultPodSpec(spec: Obj, opts: { pod: boolean }): void {
  if (opts.pod) {
    for (const c of [...objects(spec.containers), ...objects(spec.initContainers)]) copyLimitsToRequests(c);
    defaultPointer(spec, 'enableServiceLinks', true);
    if (spec.hostNetwork === true) {
      for (const c of [...objects(spec.containers), ...objects(spec.initContainers)]) {
        for (const p of objects(c.ports)) if (typeof p.containerPort === 'number') defaultInt(p, 'hostPort', p.containerPort);
      }
    }
  }
  defaultString(spec, 'dnsPolicy', 'ClusterFirst');
  defaultString(spec, 'restartPolicy', 'Always');
  defaultPointer(spec, 'securityContext', {});
  defaultPointer(spec, 'terminationGracePeriodSeconds', 30);
  defaultString(spec, 'schedulerName', 'default-scheduler');
  for (const v of objects(spec.volumes)) defaultVolume(v);
  for (const c of objects(spec.initContainers)) defaultContainer(c);
  for (const c of objects(spec.containers)) defaultContainer(c);
  for (const c of objects(spec.ephemeralContainers)) defaultContainer(c);
  defaultResourceList(spec, 'overhead');
  const podResources = present(spec, 'resources');
  if (podResources) {
    defaultResourceList(podResources, 'limits');
    defaultResourceList(podResources, 'requests');
  }
  serviceAccountAlias(spec);
}

/**
 * v1's deprecated `serviceAccount` is an alias of `serviceAccountName`: the name wins when
 * both are given, and the alias is always written back equal to it (conversion, not
 * defaulting, but it happens on the same decode).
 */
function serviceAccountAlias(spec: Obj): void {
  if (!spec.serviceAccountName && typeof spec.serviceAccount === 'string' && spec.serviceAccount) {
    spec.serviceAccountName = spec.serviceAccount;
  }
  if (typeof spec.serviceAccountName === 'string' && spec.serviceAccountName) spec.serviceAccount = spec.serviceAccountName;
  else delete spec.serviceAccount;
}

/** Requests default to limits for each resource only limited (pods only, not templates). */
function copyLimitsToRequests(c: Obj): void {
  const resources = present(c, 'resources');
  const limits = resources && present(resources, 'limits');
  if (!resources || !limits) return;
  const requests = struct(resources, 'requests');
  for (const [name, value] of Object.entries(limits)) if (!(name in requests)) requests[name] = value;
}

export function defaultContainer(c: Obj): void {
  if (c.imagePullPolicy === undefined || c.imagePullPolicy === null || c.imagePullPolicy === '') {
    c.imagePullPolicy = defaultPullPolicy(c.image);
  }
  defaultString(c, 'terminationMessagePath', '/dev/termination-log');
  defaultString(c, 'terminationMessagePolicy', 'File');
  for (const p of objects(c.ports)) defaultString(p, 'protocol', 'TCP');
  for (const e of objects(c.env)) {
    const fieldRef = present(e, 'valueFrom') && present(e.valueFrom, 'fieldRef');
    if (fieldRef) defaultString(fieldRef, 'apiVersion', 'v1');
  }
  // ResourceRequirements is a value struct: always written, `{}` when empty.
  const resources = struct(c, 'resources');
  defaultResourceList(resources, 'limits');
  defaultResourceList(resources, 'requests');
  for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const p = present(c, probe);
    if (p) defaultProbe(p);
  }
  const lifecycle = present(c, 'lifecycle');
  for (const hook of ['postStart', 'preStop']) {
    const httpGet = lifecycle && present(lifecycle, hook) && present(lifecycle[hook], 'httpGet');
    if (httpGet) defaultHTTPGet(httpGet);
  }
}

function defaultProbe(p: Obj): void {
  defaultInt(p, 'timeoutSeconds', 1);
  defaultInt(p, 'periodSeconds', 10);
  defaultInt(p, 'successThreshold', 1);
  defaultInt(p, 'failureThreshold', 3);
  const httpGet = present(p, 'httpGet');
  if (httpGet) defaultHTTPGet(httpGet);
  const grpc = present(p, 'grpc');
  if (grpc) defaultPointer(grpc, 'service', '');
}

function defaultHTTPGet(h: Obj): void {
  defaultString(h, 'path', '/');
  defaultString(h, 'scheme', 'HTTP');
}

/** Keys of a Volume that are not its source (everything else is a VolumeSource member). */
const VOLUME_NON_SOURCE = new Set(['name']);

export function defaultVolume(v: Obj): void {
  // A volume with no source at all is an emptyDir.
  if (!Object.keys(v).some((k) => !VOLUME_NON_SOURCE.has(k) && v[k] !== undefined && v[k] !== null)) v.emptyDir = {};
  const hostPath = present(v, 'hostPath');
  if (hostPath) defaultPointer(hostPath, 'type', '');
  const secret = present(v, 'secret');
  if (secret) defaultPointer(secret, 'defaultMode', 0o644);
  const configMap = present(v, 'configMap');
  if (configMap) defaultPointer(configMap, 'defaultMode', 0o644);
  const downwardAPI = present(v, 'downwardAPI');
  if (downwardAPI) {
    defaultPointer(downwardAPI, 'defaultMode', 0o644);
    defaultFieldRefs(downwardAPI.items);
  }
  const projected = present(v, 'projected');
  if (projected) {
    defaultPointer(projected, 'defaultMode', 0o644);
    for (const s of objects(projected.sources)) {
      const d = present(s, 'downwardAPI');
      if (d) defaultFieldRefs(d.items);
      const token = present(s, 'serviceAccountToken');
      if (token) defaultPointer(token, 'expirationSeconds', 3600);
    }
  }
  const emptyDir = present(v, 'emptyDir');
  if (emptyDir) canonicalQuantityField(emptyDir, 'sizeLimit');
  defaultVolumePlugins(v);
  const ephemeral = present(v, 'ephemeral');
  const template = ephemeral && present(ephemeral, 'volumeClaimTemplate');
  if (template) {
    templateMetadata(template);
    defaultClaimSpec(struct(template, 'spec'));
  }
}

function defaultFieldRefs(items: unknown): void {
  for (const item of objects(items)) {
    const fieldRef = present(item, 'fieldRef');
    if (fieldRef) defaultString(fieldRef, 'apiVersion', 'v1');
  }
}

/** Declarative defaults of the in-tree volume plugins, shared by pod volumes and PVs. */
function defaultVolumePlugins(source: Obj): void {
  const rbd = present(source, 'rbd');
  if (rbd) {
    defaultString(rbd, 'pool', 'rbd');
    defaultString(rbd, 'user', 'admin');
    defaultString(rbd, 'keyring', '/etc/ceph/keyring');
  }
  const iscsi = present(source, 'iscsi');
  if (iscsi) defaultString(iscsi, 'iscsiInterface', 'default');
  const azureDisk = present(source, 'azureDisk');
  if (azureDisk) {
    defaultPointer(azureDisk, 'cachingMode', 'ReadWrite');
    defaultPointer(azureDisk, 'fsType', 'ext4');
    defaultPointer(azureDisk, 'readOnly', false);
    defaultPointer(azureDisk, 'kind', 'Shared');
  }
  const scaleIO = present(source, 'scaleIO');
  if (scaleIO) {
    defaultString(scaleIO, 'storageMode', 'ThinProvisioned');
    defaultString(scaleIO, 'fsType', 'xfs');
  }
}

/**
 * The ObjectMeta of an embedded template. It is a value struct whose creationTimestamp
 * (a metav1.Time, also a value) Go writes as `null` when zero: 1.32 returns
 * `metadata: {creationTimestamp: null}` in every template, and kubectl sends it too.
 */
export function templateMetadata(t: Obj): Obj {
  const meta = struct(t, 'metadata');
  if (meta.creationTimestamp === undefined) meta.creationTimestamp = null;
  for (const key of ['labels', 'annotations']) if (meta[key] === null || isEmpty(meta[key])) delete meta[key];
  return meta;
}

/** A PodTemplateSpec (value struct in every workload, a pointer in ReplicationController). */
export function defaultPodTemplate(t: Obj): void {
  templateMetadata(t);
  defaultPodSpec(struct(t, 'spec'), { pod: false });
}

export function defaultPod(pod: Obj): void {
  defaultPodSpec(struct(pod, 'spec'), { pod: true });
  struct(pod, 'status');
}

export function defaultPodTemplateObject(pt: Obj): void {
  defaultPodTemplate(struct(pt, 'template'));
}

export function defaultReplicationController(rc: Obj): void {
  const spec = struct(rc, 'spec');
  const template = present(spec, 'template');
  // The selector and the object's labels come from the template's labels when unset.
  const labels = template && present(template, 'metadata') ? template.metadata.labels : undefined;
  // An empty map counts as nil here: whatever it would copy, omitempty drops.
  if (isObj(labels) && Object.keys(labels).length > 0) {
    if (isEmpty(spec.selector)) spec.selector = { ...labels };
    const meta = struct(rc, 'metadata');
    if (isEmpty(meta.labels)) meta.labels = { ...labels };
  }
  defaultPointer(spec, 'replicas', 1);
  if (template) defaultPodTemplate(template);
  defaultPointer(struct(rc, 'status'), 'replicas', 0);
}

// ---- services and endpoints ---------------------------------------------------------

export function defaultService(svc: Obj): void {
  const spec = struct(svc, 'spec');
  defaultString(spec, 'sessionAffinity', 'None');
  if (spec.sessionAffinity === 'None') delete spec.sessionAffinityConfig;
  if (spec.sessionAffinity === 'ClientIP') {
    const timeout = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds;
    if (timeout === undefined || timeout === null) spec.sessionAffinityConfig = { clientIP: { timeoutSeconds: 10800 } };
  }
  defaultString(spec, 'type', 'ClusterIP');
  for (const p of objects(spec.ports)) {
    defaultString(p, 'protocol', 'TCP');
    if (p.targetPort === undefined || p.targetPort === null || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port ?? 0;
  }
  // externalTrafficPolicy belongs to services reachable from outside the cluster.
  const externallyAccessible =
    spec.type === 'LoadBalancer' ||
    spec.type === 'NodePort' ||
    (spec.type === 'ClusterIP' && Array.isArray(spec.externalIPs) && spec.externalIPs.length > 0);
  if (externallyAccessible) defaultString(spec, 'externalTrafficPolicy', 'Cluster');
  if (spec.type === 'NodePort' || spec.type === 'LoadBalancer' || spec.type === 'ClusterIP') {
    defaultPointer(spec, 'internalTrafficPolicy', 'Cluster');
  } else if (spec.type === 'ExternalName') {
    // A Service changed to ExternalName keeps the policy it was defaulted to in storage
    // upstream, but every read drops it (defaultOnReadInternalTrafficPolicy), so no
    // client ever sees one there (`kubectl describe` prints no such line): drop it here.
    delete spec.internalTrafficPolicy;
  }
  if (spec.type === 'LoadBalancer') {
    defaultPointer(spec, 'allocateLoadBalancerNodePorts', true);
    for (const ing of objects(svc.status?.loadBalancer?.ingress)) if (ing.ip) defaultPointer(ing, 'ipMode', 'VIP');
  }
  struct(struct(svc, 'status'), 'loadBalancer');
}

export function defaultEndpoints(ep: Obj): void {
  for (const subset of objects(ep.subsets)) for (const p of objects(subset.ports)) defaultString(p, 'protocol', 'TCP');
}

// ---- storage ------------------------------------------------------------------------

/** A PersistentVolumeClaimSpec (in PVCs, StatefulSet claim templates and ephemeral volumes). */
function defaultClaimSpec(spec: Obj): void {
  defaultPointer(spec, 'volumeMode', 'Filesystem');
  const resources = struct(spec, 'resources');
  defaultResourceList(resources, 'limits');
  defaultResourceList(resources, 'requests');
}

/** A PersistentVolumeClaim object, standalone or as a StatefulSet volumeClaimTemplate. */
export function defaultPersistentVolumeClaim(pvc: Obj): void {
  defaultClaimSpec(struct(pvc, 'spec'));
  const status = struct(pvc, 'status');
  defaultString(status, 'phase', 'Pending');
  defaultResourceList(status, 'capacity');
  defaultResourceList(status, 'allocatedResources');
}

export function defaultPersistentVolume(pv: Obj): void {
  const spec = struct(pv, 'spec');
  defaultString(spec, 'persistentVolumeReclaimPolicy', 'Retain');
  defaultPointer(spec, 'volumeMode', 'Filesystem');
  defaultResourceList(spec, 'capacity');
  const hostPath = present(spec, 'hostPath');
  if (hostPath) defaultPointer(hostPath, 'type', '');
  defaultVolumePlugins(spec);
  defaultString(struct(pv, 'status'), 'phase', 'Pending');
}

// ---- the rest of core ---------------------------------------------------------------

export function defaultSecret(secret: Obj): void {
  defaultString(secret, 'type', 'Opaque');
  // stringData is write-only: conversion merges it into data (it wins) and drops it.
  if (isObj(secret.stringData)) {
    const entries = Object.entries(secret.stringData);
    if (entries.length > 0) {
      const data = struct(secret, 'data');
      for (const [k, v] of entries) data[k] = Buffer.from(String(v), 'utf8').toString('base64');
    }
  }
  delete secret.stringData;
}

export function defaultNamespace(ns: Obj): void {
  const meta = struct(ns, 'metadata');
  // Namespaces are labelled with their own name (not possible yet for generateName).
  if (typeof meta.name === 'string' && meta.name) {
    meta.labels = { ...(isObj(meta.labels) ? meta.labels : {}), 'kubernetes.io/metadata.name': meta.name };
  }
  struct(ns, 'spec');
  defaultString(struct(ns, 'status'), 'phase', 'Active');
}

/** NodeSystemInfo's fields carry no omitempty: a node without them shows them all as "". */
const NODE_INFO_FIELDS = [
  'machineID',
  'systemUUID',
  'bootID',
  'kernelVersion',
  'osImage',
  'containerRuntimeVersion',
  'kubeletVersion',
  'kubeProxyVersion',
  'operatingSystem',
  'architecture',
];

export function defaultNode(node: Obj): void {
  struct(node, 'spec');
  const status = struct(node, 'status');
  if ((status.allocatable === undefined || status.allocatable === null) && isObj(status.capacity)) {
    status.allocatable = { ...status.capacity };
  }
  defaultResourceList(status, 'capacity');
  defaultResourceList(status, 'allocatable');
  defaultPointer(struct(struct(status, 'daemonEndpoints'), 'kubeletEndpoint'), 'Port', 0);
  const nodeInfo = struct(status, 'nodeInfo');
  for (const f of NODE_INFO_FIELDS) defaultPointer(nodeInfo, f, '');
}

export function defaultResourceQuota(rq: Obj): void {
  defaultResourceList(struct(rq, 'spec'), 'hard');
  const status = struct(rq, 'status');
  defaultResourceList(status, 'hard');
  defaultResourceList(status, 'used');
}

export function defaultLimitRange(lr: Obj): void {
  const spec = struct(lr, 'spec');
  defaultPointer(spec, 'limits', null);
  for (const item of objects(spec.limits)) {
    // Container limits: default limit from max, default request from the default limit,
    // then from min. Missing keys only; the source maps are read as given.
    if (item.type === 'Container') {
      const def: Obj = isObj(item.default) ? item.default : {};
      const defReq: Obj = isObj(item.defaultRequest) ? item.defaultRequest : {};
      for (const [k, v] of Object.entries(isObj(item.max) ? item.max : {})) if (!(k in def)) def[k] = v;
      for (const [k, v] of Object.entries(def)) if (!(k in defReq)) defReq[k] = v;
      for (const [k, v] of Object.entries(isObj(item.min) ? item.min : {})) if (!(k in defReq)) defReq[k] = v;
      item.default = def;
      item.defaultRequest = defReq;
    }
    for (const key of ['max', 'min', 'default', 'defaultRequest', 'maxLimitRequestRatio']) defaultResourceList(item, key);
  }
}

export function defaultEvent(ev: Obj): void {
  // Value structs and fields without omitempty: written even when never set.
  struct(ev, 'involvedObject');
  struct(ev, 'source');
  for (const t of ['firstTimestamp', 'lastTimestamp', 'eventTime']) if (ev[t] === undefined) ev[t] = null;
  defaultPointer(ev, 'reportingComponent', '');
  defaultPointer(ev, 'reportingInstance', '');
}
