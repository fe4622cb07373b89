// PodSpec, Pod and PodTemplateSpec validation (pkg/apis/core/validation, 1.32): the
// rules and message texts upstream's ValidatePodCreate / ValidatePodTemplateSpec /
// ValidatePodUpdate produce, in upstream's order.
//
// Validation runs after defaulting upstream, so a field upstream always defaults
// (restartPolicy, dnsPolicy, imagePullPolicy, protocol, probe thresholds, ...) is never
// reported as Required here when it is absent: absent means "the default applies".

import type { FieldError } from '../errors.ts';
import { validateAnnotations, validateLabels, validateLabelSelector } from '../validation.ts';
import {
  containerResourceName,
  isDNS1123Subdomain,
  dns1123Label,
  dns1123Subdomain,
  isConfigMapKey,
  isHTTPHeaderName,
  isHugePageResourceName,
  isOvercommitAllowed,
  isRelaxedEnvVarName,
  isValidPortName,
  isValidPortNum,
  labelName,
  portNumOrName,
  qualifiedName,
  quantity,
  resourceQuantityValue,
  isValidLabelValue,
} from './common.ts';
import {
  arr,
  deepEqual,
  defaulted,
  diffOutline,
  duplicate,
  forbidden,
  goPtr,
  goQuote,
  inclusiveRangeError,
  invalid,
  invalidGo,
  IS_NOT_POSITIVE,
  isObj,
  nonNegative,
  notFound,
  notSupported,
  num,
  obj,
  required,
  str,
  strMap,
  tooLong,
  type Obj,
} from './field.ts';
import { isValidIP } from './net.ts';
import { Quantity } from './quantity.ts';
import { validatePersistentVolumeClaimSpec } from './storage.ts';
import { nameIsDNSSubdomain, validateNamespaceName } from '../validation.ts';

interface PodCtx {
  /** spec.terminationGracePeriodSeconds after defaulting (30). */
  gracePeriod: number;
  /** The top-level object is a Pod (not a template in another object). */
  isPod: boolean;
  hostUsers: boolean;
  restartPolicy: string;
  podName?: string;
}

const FILE_MODE_ERROR = 'must be a number between 0 and 0777 (octal), both inclusive';
const MAX_INT32 = 2147483647;

// --- volumes ---

function validatePathNoBacksteps(p: string, field: string): FieldError[] {
  return p.split('/').includes('..') ? [invalid(field, p, "must not contain '..'")] : [];
}

function validateLocalDescendingPath(p: string, field: string): FieldError[] {
  const errs: FieldError[] = [];
  if (p.startsWith('/')) errs.push(invalid(field, p, 'must be a relative path'));
  errs.push(...validatePathNoBacksteps(p, field));
  return errs;
}

function validateLocalNonReservedPath(p: string, field: string): FieldError[] {
  const errs = validateLocalDescendingPath(p, field);
  if (p.startsWith('..') && !p.startsWith('../')) errs.push(invalid(field, p, "must not start with '..'"));
  return errs;
}

function fileMode(field: string, v: unknown): FieldError[] {
  const n = num(v);
  return n !== undefined && (n > 0o777 || n < 0) ? [invalid(field, n, FILE_MODE_ERROR)] : [];
}

function validateKeyToPath(kp: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!str(kp.key)) errs.push(required(`${p}.key`));
  if (!str(kp.path)) errs.push(required(`${p}.path`));
  errs.push(...validateLocalNonReservedPath(str(kp.path), `${p}.path`));
  errs.push(...fileMode(`${p}.mode`, kp.mode));
  return errs;
}

const VALID_VOLUME_DOWNWARD_FIELDS = ['metadata.annotations', 'metadata.labels', 'metadata.name', 'metadata.namespace', 'metadata.uid'];
const VALID_ENV_DOWNWARD_FIELDS = [
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.serviceAccountName',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
];
const VALID_RESOURCE_FIELDS = [
  'limits.cpu',
  'limits.ephemeral-storage',
  'limits.memory',
  'requests.cpu',
  'requests.ephemeral-storage',
  'requests.memory',
];

// The labels ConvertDownwardAPIFieldLabel accepts for v1 pods.
const DOWNWARD_LABELS = new Set([
  'metadata.annotations',
  'metadata.labels',
  'metadata.name',
  'metadata.namespace',
  'metadata.uid',
  'spec.nodeName',
  'spec.restartPolicy',
  'spec.serviceAccountName',
  'spec.schedulerName',
  'status.phase',
  'status.hostIP',
  'status.hostIPs',
  'status.podIP',
  'status.podIPs',
]);

function validateObjectFieldSelector(fs: Obj, expressions: string[], p: string): FieldError[] {
  // apiVersion defaults to "v1".
  const apiVersion = defaulted(fs.apiVersion) ? 'v1' : str(fs.apiVersion);
  const fieldPath = str(fs.fieldPath);
  if (!fieldPath) return [required(`${p}.fieldPath`)];
  const convErr = (m: string) => [invalid(`${p}.fieldPath`, fieldPath, `error converting fieldPath: ${m}`)];
  if (apiVersion !== 'v1') return convErr(`unsupported pod version: ${apiVersion}`);
  const sub = fieldPath.endsWith("']") ? fieldPath.split("['") : undefined;
  if (sub && sub.length >= 2) {
    const path = sub[0];
    const subscript = fieldPath.slice(path.length + 2, -2);
    if (path !== 'metadata.annotations' && path !== 'metadata.labels') return convErr(`field label does not support subscript: ${fieldPath}`);
    return path === 'metadata.annotations' ? qualifiedName(p, subscript.toLowerCase()) : qualifiedName(p, subscript);
  }
  const internalPath = fieldPath === 'spec.host' ? 'spec.nodeName' : fieldPath;
  if (!DOWNWARD_LABELS.has(internalPath) && fieldPath !== 'spec.host') return convErr(`field label not supported: ${fieldPath}`);
  if (!expressions.includes(internalPath)) return [notSupported(`${p}.fieldPath`, internalPath, expressions)];
  return [];
}

function validateResourceFieldSelector(fs: Obj, p: string, volume: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const resource = str(fs.resource);
  if (volume && !str(fs.containerName)) errs.push(required(`${p}.containerName`));
  else if (!resource) errs.push(required(`${p}.resource`));
  else if (!VALID_RESOURCE_FIELDS.includes(resource) && !resource.startsWith('requests.hugepages-') && !resource.startsWith('limits.hugepages-')) {
    errs.push(notSupported(`${p}.resource`, resource, VALID_RESOURCE_FIELDS));
  }
  const divisor = quantity(fs.divisor);
  if (divisor && !divisor.isZero()) {
    const d = divisor.toString();
    const mem = ['1', '1k', '1M', '1G', '1T', '1P', '1E', '1Ki', '1Mi', '1Gi', '1Ti', '1Pi', '1Ei'];
    const all = '1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei';
    if ((resource === 'limits.cpu' || resource === 'requests.cpu') && d !== '1m' && d !== '1') {
      errs.push(invalid(`${p}.divisor`, resource, "only divisor's values 1m and 1 are supported with the cpu resource"));
    } else if ((resource === 'limits.memory' || resource === 'requests.memory') && !mem.includes(d)) {
      errs.push(invalid(`${p}.divisor`, resource, `only divisor's values ${all} are supported with the memory resource`));
    } else if ((resource === 'limits.ephemeral-storage' || resource === 'requests.ephemeral-storage') && !mem.includes(d)) {
      errs.push(invalid(`${p}.divisor`, resource, `only divisor's values ${all} are supported with the local ephemeral storage resource`));
    }
  }
  return errs;
}

function validateDownwardAPIFile(file: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  if (!str(file.path)) errs.push(required(`${p}.path`));
  errs.push(...validateLocalNonReservedPath(str(file.path), `${p}.path`));
  if (isObj(file.fieldRef)) {
    errs.push(...validateObjectFieldSelector(file.fieldRef, VALID_VOLUME_DOWNWARD_FIELDS, `${p}.fieldRef`));
    if (isObj(file.resourceFieldRef)) errs.push(invalid(p, 'resource', 'fieldRef and resourceFieldRef can not be specified simultaneously'));
  } else if (isObj(file.resourceFieldRef)) {
    errs.push(...validateResourceFieldSelector(file.resourceFieldRef, `${p}.resourceFieldRef`, true));
  } else {
    errs.push(required(p, 'one of fieldRef and resourceFieldRef is required'));
  }
  errs.push(...fileMode(`${p}.mode`, file.mode));
  return errs;
}

function validateProjected(src: Obj, p: string): FieldError[] {
  const errs = fileMode(`${p}.defaultMode`, src.defaultMode);
  const paths = new Set<string>();
  const seen = (path: string, name: string) => {
    if (!path) return;
    if (paths.has(path)) errs.push(invalid(p, name, 'conflicting duplicate paths'));
    else paths.add(path);
  };
  arr(src.sources).forEach((s: Obj, i) => {
    const sp = `${p}.sources[${i}]`;
    let n = 0;
    if (isObj(s?.secret)) {
      n++;
      if (!str(s.secret.name)) errs.push(required(`${sp}.secret.name`));
      arr(s.secret.items).forEach((kp: Obj, j) => {
        errs.push(...validateKeyToPath(obj(kp), `${sp}.secret.items[${j}]`));
        seen(str(kp?.path), str(s.secret.name));
      });
    }
    if (isObj(s?.configMap)) {
      n++;
      if (!str(s.configMap.name)) errs.push(required(`${sp}.configMap.name`));
      arr(s.configMap.items).forEach((kp: Obj, j) => {
        errs.push(...validateKeyToPath(obj(kp), `${sp}.configMap.items[${j}]`));
        seen(str(kp?.path), str(s.configMap.name));
      });
    }
    if (isObj(s?.downwardAPI)) {
      n++;
      for (const f of arr(s.downwardAPI.items)) {
        errs.push(...validateDownwardAPIFile(obj(f), `${sp}.downwardAPI`));
        seen(str(f?.path), str(f?.path));
      }
    }
    if (isObj(s?.serviceAccountToken)) {
      n++;
      const exp = num(s.serviceAccountToken.expirationSeconds) ?? 3600;
      if (exp < 600) errs.push(invalid(`${sp}.serviceAccountToken.expirationSeconds`, exp, 'may not specify a duration less than 10 minutes'));
      if (exp > 2 ** 32) errs.push(invalid(`${sp}.serviceAccountToken.expirationSeconds`, exp, 'may not specify a duration larger than 2^32 seconds'));
      if (!str(s.serviceAccountToken.path)) errs.push(required(`${p}.path`));
      else errs.push(...validateLocalNonReservedPath(str(s.serviceAccountToken.path), `${p}.path`));
    }
    if (isObj(s?.clusterTrustBundle)) {
      n++;
      const ctb = s.clusterTrustBundle;
      if (!str(ctb.path)) errs.push(required(`${sp}.clusterTrustBundle.path`));
      errs.push(...validateLocalNonReservedPath(str(ctb.path), `${sp}.clusterTrustBundle.path`));
      seen(str(ctb.path), str(ctb.path));
    }
    if (n > 1) errs.push(forbidden(sp, 'may not specify more than 1 volume type per source'));
  });
  return errs;
}

function csiDriverName(field: string, driver: string): FieldError[] {
  const errs: FieldError[] = [];
  if (driver.length === 0) errs.push(required(field));
  if (driver.length > 63) errs.push(tooLong(field, 63));
  for (const m of isDNS1123Subdomain(driver.toLowerCase())) errs.push(invalid(field, driver, m));
  return errs;
}

/** Simple sources: [field, required subfields]. */
const SIMPLE_SOURCES: Record<string, string[]> = {
  gcePersistentDisk: ['pdName'],
  awsElasticBlockStore: ['volumeID'],
  glusterfs: ['endpoints', 'path'],
  rbd: ['monitors', 'image'],
  cinder: ['volumeID'],
  cephfs: ['monitors'],
  flexVolume: ['driver'],
  azureFile: ['secretName', 'shareName'],
  azureDisk: ['diskName', 'diskURI'],
  vsphereVolume: ['volumePath'],
  photonPersistentDisk: ['pdID'],
  portworxVolume: ['volumeID'],
  scaleIO: ['gateway', 'system', 'volumeName'],
  storageos: ['volumeName'],
  quobyte: ['registry', 'volume'],
  iscsi: ['targetPortal', 'iqn'],
};

// Upstream's order of volume sources, and the path each "more than 1 volume type" error names.
const VOLUME_ORDER: [string, string][] = [
  ['emptyDir', 'emptyDir'],
  ['hostPath', 'hostPath'],
  ['gitRepo', 'gitRepo'],
  ['gcePersistentDisk', 'gcePersistentDisk'],
  ['awsElasticBlockStore', 'awsElasticBlockStore'],
  ['secret', 'secret'],
  ['nfs', 'nfs'],
  ['iscsi', 'iscsi'],
  ['glusterfs', 'glusterfs'],
  ['flocker', 'flocker'],
  ['persistentVolumeClaim', 'persistentVolumeClaim'],
  ['rbd', 'rbd'],
  ['cinder', 'cinder'],
  ['cephfs', 'cephFS'],
  ['quobyte', 'quobyte'],
  ['downwardAPI', 'downwarAPI'],
  ['fc', 'fc'],
  ['flexVolume', 'flexVolume'],
  ['configMap', 'configMap'],
  ['azureFile', 'azureFile'],
  ['vsphereVolume', 'vsphereVolume'],
  ['photonPersistentDisk', 'photonPersistentDisk'],
  ['portworxVolume', 'portworxVolume'],
  ['azureDisk', 'azureDisk'],
  ['storageos', 'storageos'],
  ['projected', 'projected'],
  ['scaleIO', 'scaleIO'],
  ['csi', 'csi'],
  ['ephemeral', 'ephemeral'],
  ['image', 'image'],
];

const HOST_PATH_TYPES = ['', 'BlockDevice', 'CharDevice', 'Directory', 'DirectoryOrCreate', 'File', 'FileOrCreate', 'Socket'];

function validateVolumeSource(vol: Obj, p: string, ctx: PodCtx): FieldError[] {
  const errs: FieldError[] = [];
  let n = 0;
  for (const [key, errName] of VOLUME_ORDER) {
    const src = vol[key];
    if (!isObj(src)) continue;
    if (n > 0) {
      errs.push(forbidden(`${p}.${errName}`, 'may not specify more than 1 volume type'));
      continue;
    }
    n++;
    const sp = `${p}.${key}`;
    switch (key) {
      case 'emptyDir': {
        const q = quantity(src.sizeLimit);
        if (q && q.sign() < 0) errs.push(forbidden(`${sp}.sizeLimit`, 'SizeLimit field must be a valid resource quantity'));
        break;
      }
      case 'hostPath':
        if (!str(src.path)) {
          errs.push(required(`${sp}.path`));
          break;
        }
        errs.push(...validatePathNoBacksteps(str(src.path), `${sp}.path`));
        if (typeof src.type === 'string' && !HOST_PATH_TYPES.includes(src.type)) errs.push(notSupported(`${sp}.type`, src.type, HOST_PATH_TYPES));
        break;
      case 'gitRepo':
        if (!str(src.repository)) errs.push(required(`${sp}.repository`));
        errs.push(...validateLocalDescendingPath(str(src.directory), `${sp}.directory`));
        break;
      case 'secret':
        if (!str(src.secretName)) errs.push(required(`${sp}.secretName`));
        errs.push(...fileMode(`${sp}.defaultMode`, src.defaultMode));
        arr(src.items).forEach((kp, i) => errs.push(...validateKeyToPath(obj(kp), `${sp}.items[${i}]`)));
        break;
      case 'configMap':
        if (!str(src.name)) errs.push(required(`${sp}.name`));
        errs.push(...fileMode(`${sp}.defaultMode`, src.defaultMode));
        arr(src.items).forEach((kp, i) => errs.push(...validateKeyToPath(obj(kp), `${sp}.items[${i}]`)));
        break;
      case 'nfs':
        if (!str(src.server)) errs.push(required(`${sp}.server`));
        if (!str(src.path)) errs.push(required(`${sp}.path`));
        if (!str(src.path).startsWith('/')) errs.push(invalid(`${sp}.path`, str(src.path), 'must be an absolute path'));
        break;
      case 'persistentVolumeClaim':
        if (!str(src.claimName)) errs.push(required(`${sp}.claimName`));
        break;
      case 'downwardAPI':
        errs.push(...fileMode(`${sp}.defaultMode`, src.defaultMode));
        for (const f of arr(src.items)) errs.push(...validateDownwardAPIFile(obj(f), sp));
        break;
      case 'projected':
        errs.push(...validateProjected(src, sp));
        break;
      case 'csi': {
        errs.push(...csiDriverName(`${sp}.driver`, str(src.driver)));
        if (isObj(src.nodePublishSecretRef)) {
          const name = str(src.nodePublishSecretRef.name);
          if (!name) errs.push(required(`${sp}.nodePublishSecretRef.name`));
          else for (const m of nameIsDNSSubdomain(name, false)) errs.push(invalid(`${sp}.name`, name, m));
        }
        break;
      }
      case 'ephemeral':
        if (!isObj(src.volumeClaimTemplate)) errs.push(required(`${sp}.volumeClaimTemplate`));
        else {
          errs.push(...validateTemplateObjectMeta(obj(src.volumeClaimTemplate.metadata), `${sp}.volumeClaimTemplate.metadata`));
          errs.push(...validatePersistentVolumeClaimSpec(obj(src.volumeClaimTemplate.spec), `${sp}.volumeClaimTemplate.spec`));
          if (ctx.podName && str(vol.name)) {
            const pvcName = `${ctx.podName}-${str(vol.name)}`;
            for (const m of nameIsDNSSubdomain(pvcName, false)) errs.push(invalid(`${p}.name`, str(vol.name), `PVC name ${goQuote(pvcName)}: ${m}`));
          }
        }
        break;
      case 'image':
        if (ctx.isPod && !str(src.reference)) errs.push(required(`${sp}.reference`));
        if (typeof src.pullPolicy === 'string' && src.pullPolicy !== '' && !PULL_POLICIES.includes(src.pullPolicy)) {
          errs.push(notSupported(`${sp}.pullPolicy`, src.pullPolicy, PULL_POLICIES));
        }
        break;
      case 'fc': {
        const wwns = arr(src.targetWWNs);
        const wwids = arr(src.wwids);
        if (wwns.length < 1 && wwids.length < 1) errs.push(required(`${sp}.targetWWNs`, 'must specify either targetWWNs or wwids, but not both'));
        if (wwns.length && wwids.length) errs.push(invalidGoStrings(`${sp}.targetWWNs`, wwns, 'targetWWNs and wwids can not be specified simultaneously'));
        if (wwns.length) {
          const lun = num(src.lun);
          if (lun === undefined) errs.push(required(`${sp}.lun`, 'lun is required if targetWWNs is specified'));
          else if (lun < 0 || lun > 255) errs.push(invalid(`${sp}.lun`, lun, inclusiveRangeError(0, 255)));
        }
        break;
      }
      case 'flocker':
        if (!str(src.datasetName) && !str(src.datasetUUID)) errs.push(required(sp, 'one of datasetName and datasetUUID is required'));
        if (str(src.datasetName) && str(src.datasetUUID)) errs.push(invalid(sp, 'resource', 'datasetName and datasetUUID can not be specified simultaneously'));
        if (str(src.datasetName).includes('/')) errs.push(invalid(`${sp}.datasetName`, str(src.datasetName), "must not contain '/'"));
        break;
      default: {
        // Upstream names the GCE PD's fields under "persistentDisk".
        const base = key === 'gcePersistentDisk' ? `${p}.persistentDisk` : sp;
        for (const f of SIMPLE_SOURCES[key] ?? []) {
          const v = src[f];
          if (v === undefined || v === '' || (Array.isArray(v) && v.length === 0)) errs.push(required(`${base}.${f}`));
        }
      }
    }
  }
  if (n === 0) errs.push(required(p, 'must specify a volume type'));
  return errs;
}

function invalidGoStrings(field: string, v: unknown[], detail: string): FieldError {
  return invalidGo(field, `[]string{${v.map((s) => goQuote(String(s))).join(', ')}}`, detail);
}

/** ValidateTemplateObjectMeta: only labels and annotations may be set. */
export function validateTemplateObjectMeta(meta: Obj, p: string): FieldError[] {
  const errs = validateAnnotations(strMap(meta.annotations), `${p}.annotations`);
  errs.push(...validateLabels(strMap(meta.labels), `${p}.labels`));
  for (const [k, v] of Object.entries(meta)) {
    if (k === 'labels' || k === 'annotations' || v === undefined || v === null || v === '' || v === 0) continue;
    if ((Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0)) continue;
    errs.push(forbidden(`${p}.${k}`, 'cannot be set'));
  }
  return errs;
}

/** ValidateVolumes: returns the valid volumes by name, and errors. */
function validateVolumes(volumes: unknown, p: string, ctx: PodCtx): { vols: Map<string, Obj>; errs: FieldError[] } {
  const errs: FieldError[] = [];
  const vols = new Map<string, Obj>();
  const names = new Set<string>();
  const createdPVCs = new Set<string>();
  if (ctx.podName) for (const v of arr(volumes)) if (isObj(v?.ephemeral)) createdPVCs.add(`${ctx.podName}-${str(v.name)}`);
  arr(volumes).forEach((raw, i) => {
    const vol = obj(raw);
    const ip = `${p}[${i}]`;
    const name = str(vol.name);
    const el = validateVolumeSource(vol, ip, ctx);
    if (!name) el.push(required(`${ip}.name`));
    else el.push(...dns1123Label(`${ip}.name`, name));
    if (names.has(name)) el.push(duplicate(`${ip}.name`, name));
    if (el.length === 0) {
      names.add(name);
      vols.set(name, vol);
    } else errs.push(...el);
    if (isObj(vol.persistentVolumeClaim) && createdPVCs.has(str(vol.persistentVolumeClaim.claimName))) {
      errs.push(invalid(`${ip}.persistentVolumeClaim.claimName`, str(vol.persistentVolumeClaim.claimName), 'must not reference a PVC that gets created for an ephemeral volume'));
    }
  });
  return { vols, errs };
}

// --- containers ---

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'];
const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError'];

function validateContainerPorts(ports: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set<string>();
  arr(ports).forEach((raw, i) => {
    const port = obj(raw);
    const ip = `${p}[${i}]`;
    const name = str(port.name);
    if (name) {
      const msgs = isValidPortName(name);
      if (msgs.length) for (const m of msgs) errs.push(invalid(`${ip}.name`, name, m));
      else if (names.has(name)) errs.push(duplicate(`${ip}.name`, name));
      else names.add(name);
    }
    const cp = num(port.containerPort) ?? 0;
    if (cp === 0) errs.push(required(`${ip}.containerPort`));
    else for (const m of isValidPortNum(cp)) errs.push(invalid(`${ip}.containerPort`, cp, m));
    const hp = num(port.hostPort) ?? 0;
    if (hp !== 0) for (const m of isValidPortNum(hp)) errs.push(invalid(`${ip}.hostPort`, hp, m));
    if (!defaulted(port.protocol) && !PROTOCOLS.includes(str(port.protocol))) errs.push(notSupported(`${ip}.protocol`, str(port.protocol), PROTOCOLS));
  });
  return errs;
}

function validateEnv(env: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  arr(env).forEach((raw, i) => {
    const ev = obj(raw);
    const ip = `${p}[${i}]`;
    const name = str(ev.name);
    if (!name) errs.push(required(`${ip}.name`));
    else for (const m of isRelaxedEnvVarName(name)) errs.push(invalid(`${ip}.name`, name, m));
    if (isObj(ev.valueFrom)) {
      const vp = `${ip}.valueFrom`;
      const vf = ev.valueFrom;
      let n = 0;
      if (isObj(vf.fieldRef)) {
        n++;
        errs.push(...validateObjectFieldSelector(vf.fieldRef, VALID_ENV_DOWNWARD_FIELDS, `${vp}.fieldRef`));
      }
      if (isObj(vf.resourceFieldRef)) {
        n++;
        errs.push(...validateResourceFieldSelector(vf.resourceFieldRef, `${vp}.resourceFieldRef`, false));
      }
      for (const key of ['configMapKeyRef', 'secretKeyRef']) {
        if (!isObj(vf[key])) continue;
        n++;
        const ref = vf[key];
        const refName = str(ref.name);
        for (const m of nameIsDNSSubdomain(refName, false)) errs.push(invalid(`${vp}.${key}.name`, refName, m));
        const k = str(ref.key);
        if (!k) errs.push(required(`${vp}.${key}.key`));
        else for (const m of isConfigMapKey(k)) errs.push(invalid(`${vp}.${key}.key`, k, m));
      }
      if (n === 0) errs.push(invalid(vp, '', 'must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`'));
      else if (str(ev.value)) errs.push(invalid(vp, '', 'may not be specified when `value` is not empty'));
      else if (n > 1) errs.push(invalid(vp, '', 'may not have more than one field specified at a time'));
    }
  });
  return errs;
}

function validateEnvFrom(envFrom: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  arr(envFrom).forEach((raw, i) => {
    const ev = obj(raw);
    const ip = `${p}[${i}]`;
    if (str(ev.prefix)) for (const m of isRelaxedEnvVarName(str(ev.prefix))) errs.push(invalid(`${ip}.prefix`, str(ev.prefix), m));
    let n = 0;
    for (const key of ['configMapRef', 'secretRef']) {
      if (!isObj(ev[key])) continue;
      n++;
      const name = str(ev[key].name);
      if (!name) errs.push(required(`${ip}.${key}.name`));
      else for (const m of nameIsDNSSubdomain(name, true)) errs.push(invalid(`${ip}.${key}.name`, name, m));
    }
    if (n === 0) errs.push(invalid(p, '', 'must specify one of: `configMapRef` or `secretRef`'));
    else if (n > 1) errs.push(invalid(p, '', 'may not have more than one field specified at a time'));
  });
  return errs;
}

const MOUNT_PROPAGATIONS = ['Bidirectional', 'HostToContainer', 'None'];

function validateVolumeMounts(mounts: unknown, devices: Map<string, string>, vols: Map<string, Obj>, ctr: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const mountpoints = new Set<string>();
  arr(mounts).forEach((raw, i) => {
    const mnt = obj(raw);
    const ip = `${p}[${i}]`;
    const name = str(mnt.name);
    const mountPath = str(mnt.mountPath);
    if (!name) errs.push(required(`${ip}.name`));
    if (!vols.has(name)) errs.push(notFound(`${ip}.name`, name));
    if (!mountPath) errs.push(required(`${ip}.mountPath`));
    if (mountpoints.has(mountPath)) errs.push(invalid(`${ip}.mountPath`, mountPath, 'must be unique'));
    mountpoints.add(mountPath);
    if (devices.has(name)) errs.push(invalid(`${ip}.name`, name, 'must not already exist in volumeDevices'));
    if ([...devices.values()].includes(mountPath)) errs.push(invalid(`${ip}.mountPath`, mountPath, 'must not already exist as a path in volumeDevices'));
    const vol = vols.get(name);
    if (vol && isObj(vol.image)) {
      if (str(mnt.subPath)) errs.push(invalid(`${ip}.subPath`, str(mnt.subPath), 'not allowed in image volume sources'));
      if (str(mnt.subPathExpr)) errs.push(invalid(`${ip}.subPathExpr`, str(mnt.subPathExpr), 'not allowed in image volume sources'));
    }
    // Upstream reports these two at the list's path (no index).
    if (str(mnt.subPath)) errs.push(...validateLocalDescendingPath(str(mnt.subPath), `${p}.subPath`));
    if (str(mnt.subPathExpr)) {
      if (str(mnt.subPath)) errs.push(invalid(`${ip}.subPathExpr`, str(mnt.subPathExpr), 'subPathExpr and subPath are mutually exclusive'));
      errs.push(...validateLocalDescendingPath(str(mnt.subPathExpr), `${p}.subPathExpr`));
    }
    if (typeof mnt.mountPropagation === 'string') {
      const mp = mnt.mountPropagation;
      if (!MOUNT_PROPAGATIONS.includes(mp)) errs.push(notSupported(`${p}.mountPropagation`, mp, MOUNT_PROPAGATIONS));
      const privileged = obj(ctr.securityContext).privileged === true;
      if (mp === 'Bidirectional' && !privileged) {
        errs.push(forbidden(`${p}.mountPropagation`, 'Bidirectional mount propagation is available only to privileged containers'));
      }
    }
    if (typeof mnt.recursiveReadOnly === 'string') {
      const rro = mnt.recursiveReadOnly;
      if (rro === 'Enabled' || rro === 'IfPossible') {
        if (mnt.readOnly !== true) errs.push(forbidden(`${p}.recursiveReadOnly`, 'may only be specified when readOnly is true'));
        if (typeof mnt.mountPropagation === 'string' && mnt.mountPropagation !== 'None') {
          errs.push(forbidden(`${p}.recursiveReadOnly`, 'may only be specified when mountPropagation is None or not specified'));
        }
      } else if (rro !== 'Disabled') errs.push(notSupported(`${p}.recursiveReadOnly`, rro, ['Disabled', 'Enabled', 'IfPossible']));
    }
  });
  return errs;
}

function validateVolumeDevices(devices: unknown, mounts: Map<string, string>, vols: Map<string, Obj>, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const paths = new Set<string>();
  const names = new Set<string>();
  arr(devices).forEach((raw, i) => {
    const dev = obj(raw);
    const ip = `${p}[${i}]`;
    const name = str(dev.name);
    const devPath = str(dev.devicePath);
    const vol = vols.get(name);
    const isPVC = !!vol && (isObj(vol.persistentVolumeClaim) || isObj(vol.ephemeral));
    if (!name) errs.push(required(`${ip}.name`));
    if (names.has(name)) errs.push(invalid(`${ip}.name`, name, 'must be unique'));
    if (vol && !isPVC) errs.push(invalid(`${ip}.name`, name, 'can only use volume source type of PersistentVolumeClaim or Ephemeral for block mode'));
    if (!vol) errs.push(notFound(`${ip}.name`, name));
    if (!devPath) errs.push(required(`${ip}.devicePath`));
    if (paths.has(devPath)) errs.push(invalid(`${ip}.devicePath`, devPath, 'must be unique'));
    if (devPath && devPath.split('/').includes('..')) errs.push(invalid(`${ip}.devicePath`, devPath, "can not contain backsteps ('..')"));
    else paths.add(devPath);
    if (mounts.has(name)) errs.push(invalid(`${ip}.name`, name, 'must not already exist in volumeMounts'));
    if ([...mounts.values()].includes(devPath)) errs.push(invalid(`${ip}.devicePath`, devPath, 'must not already exist as a path in volumeMounts'));
    if (name) names.add(name);
  });
  return errs;
}

/** validateResourceRequirements with container resource names. */
export function validateResourceRequirements(res: Obj, p: string, podClaimNames: Set<string>): FieldError[] {
  const errs: FieldError[] = [];
  const limPath = `${p}.limits`;
  const reqPath = `${p}.requests`;
  const limits = new Map<string, Quantity>();
  let limCPUOrMem = false;
  let reqCPUOrMem = false;
  let limHuge = false;
  let reqHuge = false;
  for (const [name, raw] of Object.entries(obj(res.limits))) {
    const fp = `${limPath}[${name}]`;
    errs.push(...containerResourceName(fp, name));
    const q = quantity(raw, { resourceList: true });
    if (!q) continue;
    limits.set(name, q);
    errs.push(...resourceQuantityValue(name, q, fp));
    if (isHugePageResourceName(name)) {
      limHuge = true;
      const e = hugePageError(name, q);
      if (e) errs.push(invalid(fp, q.toString(), e));
    }
    if (name === 'cpu' || name === 'memory') limCPUOrMem = true;
  }
  for (const [name, raw] of Object.entries(obj(res.requests))) {
    const fp = `${reqPath}[${name}]`;
    errs.push(...containerResourceName(fp, name));
    const q = quantity(raw, { resourceList: true });
    if (!q) continue;
    errs.push(...resourceQuantityValue(name, q, fp));
    const lim = limits.get(name);
    if (lim) {
      if (q.cmp(lim) !== 0 && !isOvercommitAllowed(name)) {
        errs.push(invalid(reqPath, q.toString(), `must be equal to ${name} limit of ${lim.toString()}`));
      } else if (q.cmp(lim) > 0) {
        errs.push(invalid(reqPath, q.toString(), `must be less than or equal to ${name} limit of ${lim.toString()}`));
      }
    } else if (!isOvercommitAllowed(name)) {
      errs.push(required(limPath, 'Limit must be set for non overcommitable resources'));
    }
    if (isHugePageResourceName(name)) {
      reqHuge = true;
      const e = hugePageError(name, q);
      if (e) errs.push(invalid(fp, q.toString(), e));
    }
    if (name === 'cpu' || name === 'memory') reqCPUOrMem = true;
  }
  if (!limCPUOrMem && !reqCPUOrMem && (reqHuge || limHuge)) errs.push(forbidden(p, 'HugePages require cpu or memory'));
  const seen = new Set<string>();
  arr(res.claims).forEach((c, i) => {
    const name = str(c?.name);
    const cp = `${p}.claims[${i}]`;
    if (!name) {
      errs.push(required(cp));
      return;
    }
    if (seen.has(name)) errs.push({ type: 'FieldValueDuplicate', field: cp, detail: goQuote(name) });
    seen.add(name);
    if (!podClaimNames.has(name)) {
      const list = [...podClaimNames].sort();
      errs.push({
        type: 'FieldValueNotFound',
        field: cp,
        detail: `${goQuote(name)}: must be one of the names in pod.spec.resourceClaims${list.length ? ': ' + list.join(', ') : ' which is empty'}`,
      });
    }
  });
  return errs;
}

function hugePageError(name: string, q: Quantity): string | undefined {
  const size = quantity(name.slice('hugepages-'.length));
  if (!size || size.sign() <= 0) return undefined;
  const e = Math.min(q.exponent, size.exponent);
  const a = q.mantissa * 10n ** BigInt(q.exponent - e);
  const b = size.mantissa * 10n ** BigInt(size.exponent - e);
  return a % b === 0n ? undefined : `${q.toString()} is not positive integer multiple of ${name}`;
}

function validateHandler(h: Obj, p: string, ctx: PodCtx, lifecycle: boolean): FieldError[] {
  const errs: FieldError[] = [];
  let n = 0;
  const kinds = lifecycle ? ['exec', 'httpGet', 'tcpSocket', 'sleep'] : ['exec', 'httpGet', 'tcpSocket', 'grpc'];
  for (const k of kinds) {
    if (!isObj(h[k])) continue;
    if (n > 0) {
      errs.push(forbidden(`${p}.${k}`, 'may not specify more than 1 handler type'));
      continue;
    }
    n++;
    const a = h[k];
    const ap = `${p}.${k}`;
    switch (k) {
      case 'exec':
        if (arr(a.command).length === 0) errs.push(required(`${ap}.command`));
        break;
      case 'httpGet':
        errs.push(...portNumOrName(`${ap}.port`, a.port));
        if (!defaulted(a.scheme) && a.scheme !== 'HTTP' && a.scheme !== 'HTTPS') errs.push(notSupported(`${ap}.scheme`, str(a.scheme), ['HTTP', 'HTTPS']));
        for (const hd of arr(a.httpHeaders)) for (const m of isHTTPHeaderName(str(hd?.name))) errs.push(invalid(`${ap}.httpHeaders`, str(hd?.name), m));
        break;
      case 'tcpSocket':
        errs.push(...portNumOrName(`${ap}.port`, a.port));
        break;
      case 'grpc':
        errs.push(...portNumOrName(`${ap}.port`, num(a.port) ?? 0));
        break;
      case 'sleep': {
        const s = num(a.seconds) ?? 0;
        if (s <= 0 || s > ctx.gracePeriod) {
          errs.push(
            invalid(
              ap,
              s,
              `must be greater than 0 and less than terminationGracePeriodSeconds (${ctx.gracePeriod}). Enable AllowPodLifecycleSleepActionZeroValue feature gate for zero sleep.`,
            ),
          );
        }
        break;
      }
    }
  }
  if (n === 0) errs.push(required(p, 'must specify a handler type'));
  return errs;
}

function validateProbe(probe: Obj, p: string, ctx: PodCtx): FieldError[] {
  const errs = validateHandler(probe, p, ctx, false);
  for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'successThreshold', 'failureThreshold']) {
    errs.push(...nonNegative(`${p}.${f}`, probe[f]));
  }
  const tgp = num(probe.terminationGracePeriodSeconds);
  if (tgp !== undefined && tgp <= 0) errs.push(invalid(`${p}.terminationGracePeriodSeconds`, tgp, 'must be greater than 0'));
  return errs;
}

function probeKind(kind: 'livenessProbe' | 'readinessProbe' | 'startupProbe', probe: unknown, p: string, ctx: PodCtx): FieldError[] {
  if (!isObj(probe)) return [];
  const errs = validateProbe(probe, p, ctx);
  if (kind === 'readinessProbe') {
    const tgp = num(probe.terminationGracePeriodSeconds);
    if (tgp !== undefined) errs.push(invalid(`${p}.terminationGracePeriodSeconds`, tgp, 'must not be set for readinessProbes'));
  } else {
    // successThreshold defaults to 1 when unset or 0.
    const st = num(probe.successThreshold) ?? 0;
    if (st !== 0 && st !== 1) errs.push(invalid(`${p}.successThreshold`, st, 'must be 1'));
  }
  return errs;
}

function validateLifecycle(lc: Obj, p: string, ctx: PodCtx): FieldError[] {
  const errs: FieldError[] = [];
  if (isObj(lc.postStart)) errs.push(...validateHandler(lc.postStart, `${p}.postStart`, ctx, true));
  if (isObj(lc.preStop)) errs.push(...validateHandler(lc.preStop, `${p}.preStop`, ctx, true));
  return errs;
}

function validateSeccompProfile(sp: unknown, p: string): FieldError[] {
  if (!isObj(sp)) return [];
  const errs: FieldError[] = [];
  const t = str(sp.type);
  if (!t) errs.push(required(`${p}.type`, 'type is required when seccompProfile is set'));
  else if (!['Localhost', 'RuntimeDefault', 'Unconfined'].includes(t)) errs.push(notSupported(`${p}.type`, t, ['Localhost', 'RuntimeDefault', 'Unconfined']));
  if (t === 'Localhost') {
    if (typeof sp.localhostProfile !== 'string') errs.push(required(`${p}.localhostProfile`, 'must be set when seccomp type is Localhost'));
    else errs.push(...validateLocalDescendingPath(sp.localhostProfile, `${p}.localhostProfile`));
  } else if (typeof sp.localhostProfile === 'string') {
    errs.push(
      invalidGo(
        `${p}.localhostProfile`,
        `core.SeccompProfile{Type:${goQuote(t)}, LocalhostProfile:${goPtr('string', sp.localhostProfile, 1)}}`,
        'can only be set when seccomp type is Localhost',
      ),
    );
  }
  return errs;
}

function validateAppArmorProfile(ap: unknown, p: string): FieldError[] {
  if (!isObj(ap)) return [];
  const errs: FieldError[] = [];
  const t = str(ap.type);
  const lp = ap.localhostProfile;
  switch (t) {
    case 'Localhost':
      if (typeof lp !== 'string') errs.push(required(`${p}.localhostProfile`, 'must be set when AppArmor type is Localhost'));
      else if (lp.trim() !== lp) errs.push(invalid(`${p}.localhostProfile`, lp, 'must not be padded with whitespace'));
      else if (lp === '') errs.push(required(`${p}.localhostProfile`, 'must be set when AppArmor type is Localhost'));
      if (typeof lp === 'string' && lp.length > 4095) errs.push(tooLong(`${p}.localhostProfile`, 4095));
      break;
    case 'RuntimeDefault':
    case 'Unconfined':
      if (typeof lp === 'string') errs.push(invalid(`${p}.localhostProfile`, lp, 'can only be set when AppArmor type is Localhost'));
      break;
    case '':
      errs.push(required(`${p}.type`, 'type is required when appArmorProfile is set'));
      break;
    default:
      errs.push(notSupported(`${p}.type`, t, ['Localhost', 'RuntimeDefault', 'Unconfined']));
  }
  return errs;
}

const MAX_ID = 4294967295;

function idRange(field: string, v: unknown): FieldError[] {
  const n = num(v);
  return n !== undefined && (n < 0 || n > MAX_ID) ? [invalid(field, n, inclusiveRangeError(0, MAX_ID))] : [];
}

function validateSecurityContext(sc: unknown, p: string, ctx: PodCtx): FieldError[] {
  if (!isObj(sc)) return [];
  const errs: FieldError[] = [];
  errs.push(...idRange(`${p}.runAsUser`, sc.runAsUser));
  errs.push(...idRange(`${p}.runAsGroup`, sc.runAsGroup));
  if (typeof sc.procMount === 'string') {
    if (sc.procMount !== 'Default' && sc.procMount !== 'Unmasked') errs.push(notSupported(`${p}.procMount`, sc.procMount, ['Default', 'Unmasked']));
    if (ctx.hostUsers && sc.procMount === 'Unmasked') errs.push(invalid(`${p}.procMount`, sc.procMount, '`hostUsers` must be false to use `Unmasked`'));
  }
  errs.push(...validateSeccompProfile(sc.seccompProfile, `${p}.seccompProfile`));
  if (sc.allowPrivilegeEscalation === false) {
    const go = goSecurityContext(sc);
    if (sc.privileged === true) errs.push(invalidGo(p, go, 'cannot set `allowPrivilegeEscalation` to false and `privileged` to true'));
    for (const c of arr(obj(sc.capabilities).add)) {
      if (c === 'CAP_SYS_ADMIN') errs.push(invalidGo(p, go, 'cannot set `allowPrivilegeEscalation` to false and `capabilities.Add` CAP_SYS_ADMIN'));
    }
  }
  errs.push(...validateAppArmorProfile(sc.appArmorProfile, `${p}.appArmorProfile`));
  return errs;
}

function goSecurityContext(sc: Obj): string {
  let seq = 10;
  const ptr = (t: string, v: unknown) => goPtr(t, v, seq++);
  return (
    `core.SecurityContext{Capabilities:${ptr('core.Capabilities', sc.capabilities)}, Privileged:${ptr('bool', sc.privileged)}, ` +
    `SELinuxOptions:${ptr('core.SELinuxOptions', sc.seLinuxOptions)}, WindowsOptions:${ptr('core.WindowsSecurityContextOptions', sc.windowsOptions)}, ` +
    `RunAsUser:${ptr('int64', sc.runAsUser)}, RunAsGroup:${ptr('int64', sc.runAsGroup)}, RunAsNonRoot:${ptr('bool', sc.runAsNonRoot)}, ` +
    `ReadOnlyRootFilesystem:${ptr('bool', sc.readOnlyRootFilesystem)}, AllowPrivilegeEscalation:${ptr('bool', sc.allowPrivilegeEscalation)}, ` +
    `ProcMount:${ptr('core.ProcMountType', sc.procMount)}, SeccompProfile:${ptr('core.SeccompProfile', sc.seccompProfile)}, ` +
    `AppArmorProfile:${ptr('core.AppArmorProfile', sc.appArmorProfile)}}`
  );
}

/** validateContainerCommon. */
function validateContainerCommon(ctr: Obj, vols: Map<string, Obj>, claims: Set<string>, p: string, ctx: PodCtx): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(ctr.name);
  if (!name) errs.push(required(`${p}.name`));
  else errs.push(...dns1123Label(`${p}.name`, name));
  if (!str(ctr.image)) errs.push(required(`${p}.image`));
  if (!defaulted(ctr.terminationMessagePolicy) && !TERMINATION_MESSAGE_POLICIES.includes(str(ctr.terminationMessagePolicy))) {
    errs.push(notSupported(`${p}.terminationMessagePolicy`, str(ctr.terminationMessagePolicy), TERMINATION_MESSAGE_POLICIES));
  }
  const mounts = new Map<string, string>(arr(ctr.volumeMounts).map((m) => [str(m?.name), str(m?.mountPath)]));
  const devices = new Map<string, string>(arr(ctr.volumeDevices).map((d) => [str(d?.name), str(d?.devicePath)]));
  errs.push(...validateContainerPorts(ctr.ports, `${p}.ports`));
  errs.push(...validateEnv(ctr.env, `${p}.env`));
  errs.push(...validateEnvFrom(ctr.envFrom, `${p}.envFrom`));
  errs.push(...validateVolumeMounts(ctr.volumeMounts, devices, vols, ctr, `${p}.volumeMounts`));
  errs.push(...validateVolumeDevices(ctr.volumeDevices, mounts, vols, `${p}.volumeDevices`));
  if (!defaulted(ctr.imagePullPolicy) && !PULL_POLICIES.includes(str(ctr.imagePullPolicy))) {
    errs.push(notSupported(`${p}.imagePullPolicy`, str(ctr.imagePullPolicy), PULL_POLICIES));
  }
  errs.push(...validateResourceRequirements(obj(ctr.resources), `${p}.resources`, claims));
  errs.push(...validateSecurityContext(ctr.securityContext, `${p}.securityContext`, ctx));
  return errs;
}

function hostPortConflicts(containers: Obj[], p: string): FieldError[] {
  const errs: FieldError[] = [];
  const seen = new Set<string>();
  containers.forEach((c, ci) => {
    arr(c.ports).forEach((port, pi) => {
      const hp = num(port?.hostPort) ?? 0;
      if (hp === 0) return;
      const key = `${defaulted(port?.protocol) ? 'TCP' : str(port.protocol)}/${str(port?.hostIP)}/${hp}`;
      if (seen.has(key)) errs.push(duplicate(`${p}[${ci}].ports[${pi}].hostPort`, key));
      else seen.add(key);
    });
  });
  return errs;
}

function validateContainers(containers: unknown, vols: Map<string, Obj>, claims: Set<string>, p: string, ctx: PodCtx): FieldError[] {
  const list = arr(containers).map(obj);
  if (list.length === 0) return [required(p)];
  const errs: FieldError[] = [];
  const names = new Set<string>();
  list.forEach((ctr, i) => {
    const cp = `${p}[${i}]`;
    errs.push(...validateContainerCommon(ctr, vols, claims, cp, ctx));
    const name = str(ctr.name);
    if (names.has(name)) errs.push(duplicate(`${cp}.name`, name));
    else names.add(name);
    if (isObj(ctr.lifecycle)) errs.push(...validateLifecycle(ctr.lifecycle, `${cp}.lifecycle`, ctx));
    errs.push(...probeKind('livenessProbe', ctr.livenessProbe, `${cp}.livenessProbe`, ctx));
    errs.push(...probeKind('readinessProbe', ctr.readinessProbe, `${cp}.readinessProbe`, ctx));
    errs.push(...probeKind('startupProbe', ctr.startupProbe, `${cp}.startupProbe`, ctx));
    if (ctr.restartPolicy !== undefined && ctr.restartPolicy !== null) errs.push(forbidden(`${cp}.restartPolicy`, 'may not be set for non-init containers'));
  });
  errs.push(...hostPortConflicts(list, p));
  return errs;
}

function validateInitContainers(init: unknown, regular: unknown, vols: Map<string, Obj>, claims: Set<string>, p: string, ctx: PodCtx): FieldError[] {
  const errs: FieldError[] = [];
  const names = new Set(arr(regular).map((c) => str(c?.name)));
  arr(init).map(obj).forEach((ctr, i) => {
    const cp = `${p}[${i}]`;
    errs.push(...validateContainerCommon(ctr, vols, claims, cp, ctx));
    let restartAlways = false;
    if (typeof ctr.restartPolicy === 'string') {
      if (ctr.restartPolicy !== 'Always') errs.push(notSupported(`${cp}.restartPolicy`, ctr.restartPolicy, ['Always']));
      restartAlways = ctr.restartPolicy === 'Always';
    }
    const name = str(ctr.name);
    if (names.has(name)) errs.push(duplicate(`${cp}.name`, name));
    else if (name) names.add(name);
    errs.push(...hostPortConflicts([ctr], p));
    if (restartAlways) {
      if (isObj(ctr.lifecycle)) errs.push(...validateLifecycle(ctr.lifecycle, `${cp}.lifecycle`, ctx));
      errs.push(...probeKind('livenessProbe', ctr.livenessProbe, `${cp}.livenessProbe`, ctx));
      errs.push(...probeKind('readinessProbe', ctr.readinessProbe, `${cp}.readinessProbe`, ctx));
      errs.push(...probeKind('startupProbe', ctr.startupProbe, `${cp}.startupProbe`, ctx));
    } else {
      for (const f of ['lifecycle', 'livenessProbe', 'readinessProbe', 'startupProbe']) {
        if (isObj(ctr[f])) errs.push(forbidden(`${cp}.${f}`, 'may not be set for init containers without restartPolicy=Always'));
      }
    }
  });
  return errs;
}

// --- pod-level fields ---

const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'];
const DNS_POLICIES = ['ClusterFirstWithHostNet', 'ClusterFirst', 'Default', 'None'];

export function validateTolerations(tolerations: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  arr(tolerations).forEach((raw, i) => {
    const t = obj(raw);
    const ip = `${p}[${i}]`;
    const key = str(t.key);
    const op = str(t.operator);
    const effect = str(t.effect);
    if (key) errs.push(...labelName(`${ip}.key`, key));
    if (!key && op !== 'Exists') {
      errs.push(invalid(`${ip}.operator`, op, 'operator must be Exists when `key` is empty, which means "match all values and all keys"'));
    }
    if (num(t.tolerationSeconds) !== undefined && effect !== 'NoExecute') {
      errs.push(invalid(`${ip}.effect`, effect, "effect must be 'NoExecute' when `tolerationSeconds` is set"));
    }
    if (op === 'Equal' || op === '') {
      const msgs = isValidLabelValue(str(t.value));
      if (msgs.length) errs.push(invalid(`${ip}.operator`, str(t.value), msgs.join(';')));
    } else if (op === 'Exists') {
      if (str(t.value)) errs.push(invalid(`${ip}.operator`, str(t.value), "value must be empty when `operator` is 'Exists'"));
    } else errs.push(notSupported(`${ip}.operator`, op, ['Equal', 'Exists']));
    if (effect && !['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(effect)) {
      errs.push(notSupported(`${ip}.effect`, effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']));
    }
  });
  return errs;
}

export function validateNodeSelectorRequirement(rq: Obj, p: string, allowInvalidValues: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const values = arr(rq.values).map(String);
  switch (str(rq.operator)) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) errs.push(required(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"));
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) errs.push(forbidden(`${p}.values`, "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
      break;
    case 'Gt':
    case 'Lt':
      if (values.length !== 1) errs.push(required(`${p}.values`, "must be specified single value when `operator` is 'Lt' or 'Gt'"));
      break;
    default:
      errs.push(invalid(`${p}.operator`, str(rq.operator), 'not a valid selector operator'));
  }
  errs.push(...labelName(`${p}.key`, str(rq.key)));
  if (!allowInvalidValues) values.forEach((v, j) => isValidLabelValue(v).forEach((m) => errs.push(invalid(`${p}.values[${j}]`, v, m))));
  return errs;
}

export function validateNodeSelectorTerm(term: Obj, p: string, allowInvalidValues: boolean): FieldError[] {
  const errs: FieldError[] = [];
  arr(term.matchExpressions).forEach((r, j) => errs.push(...validateNodeSelectorRequirement(obj(r), `${p}.matchExpressions[${j}]`, allowInvalidValues)));
  arr(term.matchFields).forEach((raw, j) => {
    const r = obj(raw);
    const fp = `${p}.matchFields[${j}]`;
    const op = str(r.operator);
    if (op === 'In' || op === 'NotIn') {
      if (arr(r.values).length !== 1) errs.push(required(`${fp}.values`, "must be only one value when `operator` is 'In' or 'NotIn' for node field selector"));
    } else errs.push(invalid(`${fp}.operator`, op, 'not a valid selector operator'));
    if (str(r.key) !== 'metadata.name') errs.push(invalid(`${fp}.key`, str(r.key), 'not a valid field selector key'));
    else arr(r.values).forEach((v, k) => nameIsDNSSubdomain(String(v), false).forEach((m) => errs.push(invalid(`${fp}.values[${k}]`, String(v), m))));
  });
  return errs;
}

export function validateNodeSelector(ns: Obj, p: string, allowInvalidValues = false): FieldError[] {
  const terms = arr(ns.nodeSelectorTerms);
  if (terms.length === 0) return [required(`${p}.nodeSelectorTerms`, 'must have at least one node selector term')];
  return terms.flatMap((t, i) => validateNodeSelectorTerm(obj(t), `${p}.nodeSelectorTerms[${i}]`, allowInvalidValues));
}

function validatePodAffinityTerm(term: Obj, p: string): FieldError[] {
  const errs = validateLabelSelector(term.labelSelector, `${p}.labelSelector`);
  errs.push(...validateLabelSelector(term.namespaceSelector, `${p}.namespaceSelector`));
  for (const ns of arr(term.namespaces)) for (const m of validateNamespaceName(String(ns), false)) errs.push(invalid(`${p}.namespace`, String(ns), m));
  for (const key of ['matchLabelKeys', 'mismatchLabelKeys']) {
    const keys = arr(term[key]).map(String);
    if (keys.length === 0) continue;
    if (!isObj(term.labelSelector)) {
      errs.push(forbidden(`${p}.${key}`, 'must not be specified when labelSelector is not set'));
      continue;
    }
    keys.forEach((k, i) => errs.push(...labelName(`${p}.${key}[${i}]`, k)));
  }
  const mismatch = new Set(arr(term.mismatchLabelKeys).map(String));
  arr(term.matchLabelKeys).forEach((k, i) => {
    if (mismatch.has(String(k))) errs.push(invalid(`${p}.matchLabelKeys[${i}]`, String(k), 'exists in both matchLabelKeys and mismatchLabelKeys'));
  });
  const tk = str(term.topologyKey);
  if (!tk) errs.push(required(`${p}.topologyKey`, 'can not be empty'));
  errs.push(...labelName(`${p}.topologyKey`, tk));
  return errs;
}

function validateAffinity(aff: unknown, p: string): FieldError[] {
  if (!isObj(aff)) return [];
  const errs: FieldError[] = [];
  if (isObj(aff.nodeAffinity)) {
    const na = aff.nodeAffinity;
    const np = `${p}.nodeAffinity`;
    if (isObj(na.requiredDuringSchedulingIgnoredDuringExecution)) {
      errs.push(...validateNodeSelector(na.requiredDuringSchedulingIgnoredDuringExecution, `${np}.requiredDuringSchedulingIgnoredDuringExecution`));
    }
    arr(na.preferredDuringSchedulingIgnoredDuringExecution).forEach((raw, i) => {
      const t = obj(raw);
      const tp = `${np}.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
      const w = num(t.weight) ?? 0;
      if (w <= 0 || w > 100) errs.push(invalid(`${tp}.weight`, w, 'must be in the range 1-100'));
      errs.push(...validateNodeSelectorTerm(obj(t.preference), `${tp}.preference`, true));
    });
  }
  for (const kind of ['podAffinity', 'podAntiAffinity']) {
    if (!isObj(aff[kind])) continue;
    const kp = `${p}.${kind}`;
    arr(aff[kind].requiredDuringSchedulingIgnoredDuringExecution).forEach((t, i) =>
      errs.push(...validatePodAffinityTerm(obj(t), `${kp}.requiredDuringSchedulingIgnoredDuringExecution[${i}]`)),
    );
    arr(aff[kind].preferredDuringSchedulingIgnoredDuringExecution).forEach((raw, i) => {
      const t = obj(raw);
      const tp = `${kp}.preferredDuringSchedulingIgnoredDuringExecution[${i}]`;
      const w = num(t.weight) ?? 0;
      if (w <= 0 || w > 100) errs.push(invalid(`${tp}.weight`, w, 'must be in the range 1-100'));
      errs.push(...validatePodAffinityTerm(obj(t.podAffinityTerm), `${tp}.podAffinityTerm`));
    });
  }
  return errs;
}

function validateDNSConfig(cfg: unknown, dnsPolicy: string, p: string): FieldError[] {
  const errs: FieldError[] = [];
  if (dnsPolicy === 'None') {
    if (!isObj(cfg)) return [required(p, 'must provide `dnsConfig` when `dnsPolicy` is None')];
    if (arr(cfg.nameservers).length === 0) return [required(`${p}.nameservers`, 'must provide at least one DNS nameserver when `dnsPolicy` is None')];
  }
  if (!isObj(cfg)) return errs;
  const ns = arr(cfg.nameservers).map(String);
  if (ns.length > 3) errs.push(invalidGoStrings(`${p}.nameservers`, ns, 'must not have more than 3 nameservers'));
  ns.forEach((s, i) => errs.push(...isValidIP(`${p}.nameservers[${i}]`, s)));
  const searches = arr(cfg.searches).map(String);
  if (searches.length > 32) errs.push(invalidGoStrings(`${p}.searches`, searches, 'must not have more than 32 search paths'));
  if (searches.join(' ').length > 2048) errs.push(invalidGoStrings(`${p}.searches`, searches, 'must not have more than 2048 characters (including spaces) in the search list'));
  searches.forEach((s, i) => {
    // RelaxedDNSSearchValidation is alpha (off) in 1.32.
    const v = s.endsWith('.') ? s.slice(0, -1) : s;
    errs.push(...dns1123Subdomain(`${p}.searches[${i}]`, v));
  });
  arr(cfg.options).forEach((o, i) => {
    if (!str(o?.name)) errs.push(required(`${p}.options[${i}]`, 'must not be empty'));
  });
  return errs;
}

function validateTopologySpread(list: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const cs = arr(list).map(obj);
  cs.forEach((c, i) => {
    const cp = `${p}[${i}]`;
    const skew = num(c.maxSkew) ?? 0;
    if (skew <= 0) errs.push(invalid(`${cp}.maxSkew`, skew, IS_NOT_POSITIVE));
    if (!str(c.topologyKey)) errs.push(required(`${cp}.topologyKey`, 'can not be empty'));
    const wu = str(c.whenUnsatisfiable);
    if (wu !== 'DoNotSchedule' && wu !== 'ScheduleAnyway') errs.push(notSupported(`${cp}.whenUnsatisfiable`, wu, ['DoNotSchedule', 'ScheduleAnyway']));
    for (const other of cs.slice(i + 1)) {
      if (str(other.topologyKey) === str(c.topologyKey) && str(other.whenUnsatisfiable) === wu) {
        errs.push(duplicate(`${cp}.{topologyKey, whenUnsatisfiable}`, `{${str(c.topologyKey)}, ${wu}}`));
        break;
      }
    }
    const md = num(c.minDomains);
    if (md !== undefined) {
      if (md <= 0) errs.push(invalid(`${cp}.minDomains`, md, IS_NOT_POSITIVE));
      if (wu !== 'DoNotSchedule') errs.push(invalid(`${cp}.minDomains`, md, `can only use minDomains if whenUnsatisfiable=DoNotSchedule, not ${wu}`));
    }
    for (const f of ['nodeAffinityPolicy', 'nodeTaintsPolicy']) {
      if (typeof c[f] === 'string' && c[f] !== 'Honor' && c[f] !== 'Ignore') errs.push(notSupported(`${cp}.${f}`, c[f], ['Honor', 'Ignore']));
    }
    const keys = arr(c.matchLabelKeys).map(String);
    if (keys.length) {
      const selKeys = new Set<string>();
      if (isObj(c.labelSelector)) {
        for (const k of Object.keys(obj(c.labelSelector.matchLabels))) selKeys.add(k);
        for (const e of arr(c.labelSelector.matchExpressions)) selKeys.add(str(e?.key));
      } else errs.push(forbidden(`${cp}.matchLabelKeys`, 'must not be specified when labelSelector is not set'));
      keys.forEach((k, j) => {
        errs.push(...labelName(`${cp}.matchLabelKeys[${j}]`, k));
        if (selKeys.has(k)) errs.push(invalid(`${cp}.matchLabelKeys[${j}]`, k, 'exists in both matchLabelKeys and labelSelector'));
      });
    }
    errs.push(...validateLabelSelector(c.labelSelector, `${cp}.labelSelector`));
  });
  return errs;
}

function validatePodSecurityContext(spec: Obj, p: string): FieldError[] {
  const sc = spec.securityContext;
  if (!isObj(sc)) return [];
  const errs: FieldError[] = [];
  errs.push(...idRange(`${p}.fsGroup`, sc.fsGroup));
  errs.push(...idRange(`${p}.runAsUser`, sc.runAsUser));
  errs.push(...idRange(`${p}.runAsGroup`, sc.runAsGroup));
  arr(sc.supplementalGroups).forEach((g, i) => errs.push(...idRange(`${p}.supplementalGroups[${i}]`, g)));
  if (spec.shareProcessNamespace === true && spec.hostPID === true) {
    errs.push(invalid(`${p}.shareProcessNamespace`, true, 'ShareProcessNamespace and HostPID cannot both be enabled'));
  }
  const names = new Set<string>();
  arr(sc.sysctls).forEach((raw, i) => {
    const name = str(raw?.name);
    const np = `${p}.sysctls[${i}].name`;
    const re = /^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$/;
    if (!name) errs.push(required(np));
    else if (name.length > 253 || !re.test(name)) {
      errs.push(invalid(np, name, 'must have at most 253 characters and match regex ^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[\\./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$'));
    } else if (names.has(name)) errs.push(duplicate(np, name));
    if (spec.hostNetwork === true && (name.startsWith('net.') || name.startsWith('net/'))) errs.push(invalid(np, name, "may not be specified when 'hostNetwork' is true"));
    if (spec.hostIPC === true && (name.startsWith('kernel.shm') || name.startsWith('kernel.msg') || name.startsWith('kernel.sem') || name.startsWith('fs.mqueue.'))) {
      errs.push(invalid(np, name, "may not be specified when 'hostIPC' is true"));
    }
    names.add(name);
  });
  if (typeof sc.fsGroupChangePolicy === 'string' && !['Always', 'OnRootMismatch'].includes(sc.fsGroupChangePolicy)) {
    errs.push(notSupported(`${p}.fsGroupChangePolicy`, sc.fsGroupChangePolicy, ['Always', 'OnRootMismatch']));
  }
  errs.push(...validateSeccompProfile(sc.seccompProfile, `${p}.seccompProfile`));
  errs.push(...validateAppArmorProfile(sc.appArmorProfile, `${p}.appArmorProfile`));
  if (typeof sc.supplementalGroupsPolicy === 'string' && !['Merge', 'Strict'].includes(sc.supplementalGroupsPolicy)) {
    errs.push(notSupported(`${p}.supplementalGroupsPolicy`, sc.supplementalGroupsPolicy, ['Merge', 'Strict']));
  }
  return errs;
}

/** ValidatePodSpec. `podMeta` is set only for a real Pod (generic ephemeral volume names). */
export function validatePodSpec(spec: Obj, p: string, opts: { isPod: boolean; podName?: string }): FieldError[] {
  const errs: FieldError[] = [];
  const grace = num(spec.terminationGracePeriodSeconds);
  const sc = obj(spec.securityContext);
  const ctx: PodCtx = {
    gracePeriod: grace ?? 30,
    isPod: opts.isPod,
    hostUsers: sc.hostUsers !== false,
    restartPolicy: defaulted(spec.restartPolicy) ? 'Always' : str(spec.restartPolicy),
    podName: opts.podName,
  };
  const { vols, errs: vErrs } = validateVolumes(spec.volumes, `${p}.volumes`, ctx);
  errs.push(...vErrs);
  const claimNames = new Set<string>();
  const claimSeen = new Set<string>();
  arr(spec.resourceClaims).forEach((raw, i) => {
    const c = obj(raw);
    const cp = `${p}.resourceClaims[${i}]`;
    const name = str(c.name);
    if (name) claimNames.add(name);
    if (!name) errs.push(required(`${cp}.name`));
    else if (claimSeen.has(name)) errs.push(duplicate(`${cp}.name`, name));
    else {
      errs.push(...dns1123Label(`${cp}.name`, name));
      claimSeen.add(name);
    }
    const hasName = typeof c.resourceClaimName === 'string';
    const hasTpl = typeof c.resourceClaimTemplateName === 'string';
    if (hasName && hasTpl) errs.push(invalidGo(cp, goClaim(c), 'at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified'));
    if (!hasName && !hasTpl) errs.push(invalidGo(cp, goClaim(c), 'must specify one of: `resourceClaimName`, `resourceClaimTemplateName`'));
    if (hasName) for (const m of nameIsDNSSubdomain(c.resourceClaimName, false)) errs.push(invalid(`${cp}.resourceClaimName`, c.resourceClaimName, m));
    if (hasTpl) for (const m of nameIsDNSSubdomain(c.resourceClaimTemplateName, false)) errs.push(invalid(`${cp}.resourceClaimTemplateName`, c.resourceClaimTemplateName, m));
  });
  errs.push(...validateContainers(spec.containers, vols, claimNames, `${p}.containers`, ctx));
  errs.push(...validateInitContainers(spec.initContainers, spec.containers, vols, claimNames, `${p}.initContainers`, ctx));
  errs.push(...validateEphemeralContainers(spec, vols, claimNames, `${p}.ephemeralContainers`, ctx));

  if (spec.hostNetwork === true) {
    arr(spec.containers).forEach((c, i) => {
      arr(c?.ports).forEach((port, j) => {
        const cp = num(port?.containerPort) ?? 0;
        // Pods get hostPort defaulted to containerPort under hostNetwork.
        const hp = num(port?.hostPort) ?? (opts.isPod ? cp : 0);
        if ((opts.isPod || hp !== 0) && hp !== cp) {
          errs.push(invalid(`${p}.containers[${i}].ports[${j}].hostPort`, hp, 'must match `containerPort` when `hostNetwork` is true'));
        }
      });
    });
  }
  if (!defaulted(spec.restartPolicy) && !RESTART_POLICIES.includes(str(spec.restartPolicy))) {
    errs.push(notSupported(`${p}.restartPolicy`, str(spec.restartPolicy), RESTART_POLICIES));
  }
  if (!defaulted(spec.dnsPolicy) && !DNS_POLICIES.includes(str(spec.dnsPolicy))) errs.push(notSupported(`${p}.dnsPolicy`, str(spec.dnsPolicy), DNS_POLICIES));
  errs.push(...validateLabels(strMap(spec.nodeSelector), `${p}.nodeSelector`));
  errs.push(...validatePodSecurityContext(spec, `${p}.securityContext`));
  errs.push(...validateAffinity(spec.affinity, `${p}.affinity`));
  errs.push(...validateDNSConfig(spec.dnsConfig, defaulted(spec.dnsPolicy) ? 'ClusterFirst' : str(spec.dnsPolicy), `${p}.dnsConfig`));
  arr(spec.readinessGates).forEach((g, i) => errs.push(...qualifiedName(`${p}.readinessGates[${i}].conditionType`, str(g?.conditionType))));
  const gates = new Set<string>();
  arr(spec.schedulingGates).forEach((g, i) => {
    const name = str(g?.name);
    errs.push(...qualifiedName(`${p}.schedulingGates[${i}]`, name));
    if (gates.has(name)) errs.push(duplicate(`${p}.schedulingGates[${i}]`, name));
    gates.add(name);
  });
  errs.push(...validateTopologySpread(spec.topologySpreadConstraints, `${p}.topologySpreadConstraints`));
  if (sc.hostUsers === false) {
    if (spec.hostNetwork === true) errs.push(forbidden(`${p}.hostNetwork`, 'when `pod.Spec.HostUsers` is false'));
    if (spec.hostPID === true) errs.push(forbidden(`${p}.HostPID`, 'when `pod.Spec.HostUsers` is false'));
    if (spec.hostIPC === true) errs.push(forbidden(`${p}.HostIPC`, 'when `pod.Spec.HostUsers` is false'));
  }
  const sa = str(spec.serviceAccountName);
  if (sa) for (const m of nameIsDNSSubdomain(sa, false)) errs.push(invalid(`${p}.serviceAccountName`, sa, m));
  const nodeName = str(spec.nodeName);
  if (nodeName) for (const m of nameIsDNSSubdomain(nodeName, false)) errs.push(invalid(`${p}.nodeName`, nodeName, m));
  const ads = num(spec.activeDeadlineSeconds);
  if (ads !== undefined && (ads < 1 || ads > MAX_INT32)) errs.push(invalid(`${p}.activeDeadlineSeconds`, ads, inclusiveRangeError(1, MAX_INT32)));
  if (str(spec.hostname)) errs.push(...dns1123Label(`${p}.hostname`, str(spec.hostname)));
  if (str(spec.subdomain)) errs.push(...dns1123Label(`${p}.subdomain`, str(spec.subdomain)));
  errs.push(...validateTolerations(spec.tolerations, `${p}.tolerations`));
  arr(spec.hostAliases).forEach((ha, i) => {
    errs.push(...isValidIP(`${p}.hostAliases[${i}].ip`, str(ha?.ip)));
    arr(ha?.hostnames).forEach((h, j) => errs.push(...dns1123Subdomain(`${p}.hostAliases[${i}].hostnames[${j}]`, String(h))));
  });
  const pcn = str(spec.priorityClassName);
  if (pcn) for (const m of nameIsDNSSubdomain(pcn, false)) errs.push(invalid(`${p}.priorityClassName`, pcn, m));
  if (typeof spec.runtimeClassName === 'string') errs.push(...dns1123SubdomainName(`${p}.runtimeClassName`, spec.runtimeClassName));
  if (typeof spec.preemptionPolicy === 'string') errs.push(...validatePreemptionPolicy(spec.preemptionPolicy, `${p}.preemptionPolicy`));
  if (isObj(spec.overhead)) errs.push(...validateResourceRequirements({ limits: spec.overhead }, `${p}.overhead`, new Set()));
  if (isObj(spec.os)) {
    const name = str(spec.os.name);
    if (!name) errs.push(required(`${p}.os.name`, 'cannot be empty'));
    else if (name !== 'linux' && name !== 'windows') errs.push(notSupported(`${p}.os`, name, ['linux', 'windows']));
    else if (name === 'linux') {
      if (isObj(sc.windowsOptions)) errs.push(forbidden(`${p}.securityContext.windowsOptions`, 'windows options cannot be set for a linux pod'));
      visitContainers(spec, p, (c, cp) => {
        if (isObj(obj(c.securityContext).windowsOptions)) errs.push(forbidden(`${cp}.securityContext.windowsOptions`, 'windows options cannot be set for a linux pod'));
      });
    }
  }
  return errs;
}

function dns1123SubdomainName(field: string, v: string): FieldError[] {
  return nameIsDNSSubdomain(v, false).map((m) => invalid(field, v, m));
}

export function validatePreemptionPolicy(v: string, field: string): FieldError[] {
  if (v === 'PreemptLowerPriority' || v === 'Never') return [];
  if (v === '') return [required(field)];
  return [notSupported(field, v, ['PreemptLowerPriority', 'Never'])];
}

function goClaim(c: Obj): string {
  return `core.PodResourceClaim{Name:${goQuote(str(c.name))}, ResourceClaimName:${goPtr('string', c.resourceClaimName, 30)}, ResourceClaimTemplateName:${goPtr('string', c.resourceClaimTemplateName, 31)}}`;
}

function visitContainers(spec: Obj, p: string, fn: (c: Obj, path: string) => void): void {
  arr(spec.initContainers).forEach((c, i) => fn(obj(c), `${p}.initContainers[${i}]`));
  arr(spec.containers).forEach((c, i) => fn(obj(c), `${p}.containers[${i}]`));
  arr(spec.ephemeralContainers).forEach((c, i) => fn(obj(c), `${p}.ephemeralContainers[${i}]`));
}

const EPHEMERAL_ALLOWED = new Set([
  'name',
  'image',
  'command',
  'args',
  'workingDir',
  'envFrom',
  'env',
  'volumeMounts',
  'volumeDevices',
  'terminationMessagePath',
  'terminationMessagePolicy',
  'imagePullPolicy',
  'securityContext',
  'stdin',
  'stdinOnce',
  'tty',
  'targetContainerName',
]);

function validateEphemeralContainers(spec: Obj, vols: Map<string, Obj>, claims: Set<string>, p: string, ctx: PodCtx): FieldError[] {
  const list = arr(spec.ephemeralContainers).map(obj);
  if (list.length === 0) return [];
  const errs: FieldError[] = [];
  const others = new Set([...arr(spec.containers), ...arr(spec.initContainers)].map((c) => str(c?.name)));
  const all = new Set(others);
  list.forEach((ec, i) => {
    const ip = `${p}[${i}]`;
    errs.push(...validateContainerCommon(ec, vols, claims, ip, ctx));
    const image = str(ec.image);
    if (image.length !== image.trim().length) errs.push(invalid(`${ip}.image`, image, 'must not have leading or trailing whitespace'));
    const name = str(ec.name);
    if (all.has(name)) errs.push(duplicate(`${ip}.name`, name));
    else all.add(name);
    if (str(ec.targetContainerName) && !others.has(str(ec.targetContainerName))) errs.push(notFound(`${ip}.targetContainerName`, str(ec.targetContainerName)));
    for (const [k, v] of Object.entries(ec)) {
      if (EPHEMERAL_ALLOWED.has(k) || v === undefined || v === null) continue;
      if ((Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0)) continue;
      errs.push(forbidden(`${ip}.${k}`, 'cannot be set for an Ephemeral Container'));
    }
    arr(ec.volumeMounts).forEach((vm, j) => {
      if (str(vm?.subPath)) errs.push(forbidden(`${ip}.volumeMounts[${j}].subPath`, 'cannot be set for an Ephemeral Container'));
      if (str(vm?.subPathExpr)) errs.push(forbidden(`${ip}.volumeMounts[${j}].subPathExpr`, 'cannot be set for an Ephemeral Container'));
    });
  });
  return errs;
}

const SECCOMP_POD_ANNOTATION = 'seccomp.security.alpha.kubernetes.io/pod';
const SECCOMP_CONTAINER_PREFIX = 'container.seccomp.security.alpha.kubernetes.io/';
const APPARMOR_PREFIX = 'container.apparmor.security.beta.kubernetes.io/';

function validateSeccompAnnotationValue(v: string, field: string): FieldError[] {
  if (v === 'runtime/default' || v === 'docker/default' || v === 'unconfined') return [];
  if (v.startsWith('localhost/')) return validateLocalDescendingPath(v.slice('localhost/'.length), field);
  return [invalid(field, v, 'must be a valid seccomp profile')];
}

/** ValidatePodSpecificAnnotations. */
export function validatePodSpecificAnnotations(annotations: Record<string, string> | undefined, spec: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const a = annotations ?? {};
  if (Object.hasOwn(a, 'kubernetes.io/config.mirror') && !str(spec.nodeName)) {
    errs.push(invalid(`${p}[kubernetes.io/config.mirror]`, a['kubernetes.io/config.mirror'], 'must set spec.nodeName if mirror pod annotation is set'));
  }
  // PodDeletionCost is on, so templates get the check too.
  if (Object.hasOwn(a, 'controller.kubernetes.io/pod-deletion-cost')) {
    const v = a['controller.kubernetes.io/pod-deletion-cost'];
    const ok = /^[+-]?[0-9]+$/.test(v) && Number(v) >= -2147483648 && Number(v) <= 2147483647;
    if (!ok) errs.push(invalid(`${p}[controller.kubernetes.io/pod-deletion-cost]`, v, 'must be a 32bit integer'));
  }
  if (Object.hasOwn(a, SECCOMP_POD_ANNOTATION)) errs.push(...validateSeccompAnnotationValue(a[SECCOMP_POD_ANNOTATION], `${p}.${SECCOMP_POD_ANNOTATION}`));
  for (const [k, v] of Object.entries(a)) {
    if (k.startsWith(SECCOMP_CONTAINER_PREFIX)) errs.push(...validateSeccompAnnotationValue(v, `${p}.${k}`));
  }
  const names = new Set<string>();
  visitContainers(spec, 'spec', (c) => names.add(str(c.name)));
  for (const [k, v] of Object.entries(a)) {
    if (!k.startsWith(APPARMOR_PREFIX)) continue;
    const cname = k.slice(APPARMOR_PREFIX.length);
    if (!names.has(cname)) errs.push(invalid(`${p}[${k}]`, cname, 'container not found'));
    if (v !== '' && v !== 'runtime/default' && v !== 'unconfined' && !v.startsWith('localhost/')) {
      errs.push(invalid(`${p}[${k}]`, v, `invalid AppArmor profile name: ${goQuote(v)}`));
    }
  }
  return errs;
}

/** ValidatePodTemplateSpec: labels, annotations and the embedded PodSpec. */
export function validatePodTemplateSpec(tpl: Obj, p: string): FieldError[] {
  const meta = obj(tpl.metadata);
  const spec = obj(tpl.spec);
  const errs = validateLabels(strMap(meta.labels), `${p}.labels`);
  errs.push(...validateAnnotations(strMap(meta.annotations), `${p}.annotations`));
  errs.push(...validatePodSpecificAnnotations(strMap(meta.annotations), spec, `${p}.annotations`));
  errs.push(...validatePodSpec(spec, `${p}.spec`, { isPod: false }));
  if (arr(spec.ephemeralContainers).length > 0) errs.push(forbidden(`${p}.spec.ephemeralContainers`, 'ephemeral containers not allowed in pod template'));
  return errs;
}

/** ValidatePodCreate without the metadata checks (validated by the caller). */
export function validatePodCreate(pod: Obj): FieldError[] {
  const meta = obj(pod.metadata);
  const spec = obj(pod.spec);
  const errs = validatePodSpecificAnnotations(strMap(meta.annotations), spec, 'metadata.annotations');
  errs.push(...validatePodSpec(spec, 'spec', { isPod: true, podName: str(meta.name) || undefined }));
  for (const [list, path] of [
    [spec.containers, 'spec.containers'],
    [spec.initContainers, 'spec.initContainers'],
  ] as const) {
    arr(list).forEach((c, i) => {
      const image = str(c?.image);
      if (image.length !== image.trim().length) errs.push(invalid(`${path}[${i}].image`, image, 'must not have leading or trailing whitespace'));
    });
  }
  return errs;
}

export function validatePod(pod: Obj): FieldError[] {
  const spec = obj(pod.spec);
  const errs = validatePodCreate(pod);
  if (arr(spec.ephemeralContainers).length > 0) errs.push(forbidden('spec.ephemeralContainers', 'cannot be set on create'));
  if (str(spec.nodeName) && arr(spec.schedulingGates).length > 0) errs.push(forbidden('spec.nodeName', 'cannot be set until all schedulingGates have been cleared'));
  return errs;
}

const UPDATABLE_POD_FIELDS = [
  '`spec.containers[*].image`',
  '`spec.initContainers[*].image`',
  '`spec.activeDeadlineSeconds`',
  '`spec.tolerations` (only additions to existing tolerations)',
  '`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)',
];

/** ValidatePodUpdate without the metadata checks. */
export function validatePodUpdate(next: Obj, old: Obj): FieldError[] {
  const errs = validatePodCreate(next);
  const ns = obj(next.spec);
  const os = obj(old.spec);
  const na = strMap(obj(next.metadata).annotations) ?? {};
  const oa = strMap(obj(old.metadata).annotations) ?? {};
  for (const [k, v] of Object.entries(oa)) {
    if (Object.hasOwn(na, k) && na[k] === v) continue;
    if (k.startsWith(APPARMOR_PREFIX)) errs.push(forbidden(`metadata.annotations[${k}]`, 'may not remove or update AppArmor annotations'));
    if (k === 'kubernetes.io/config.mirror') errs.push(forbidden(`metadata.annotations[${k}]`, 'may not remove or update mirror pod annotation'));
  }
  for (const k of Object.keys(na)) {
    if (Object.hasOwn(oa, k)) continue;
    if (k.startsWith(APPARMOR_PREFIX)) errs.push(forbidden(`metadata.annotations[${k}]`, 'may not add AppArmor annotations'));
    if (k === 'kubernetes.io/config.mirror') errs.push(forbidden(`metadata.annotations[${k}]`, 'may not add mirror pod annotation'));
  }
  for (const [key, path] of [
    ['containers', 'spec.containers'],
    ['initContainers', 'spec.initContainers'],
  ] as const) {
    const nc = arr(ns[key]);
    const oc = arr(os[key]);
    if (nc.length !== oc.length) {
      errs.push(forbidden(path, 'pod updates may not add or remove containers'));
      return errs;
    }
    nc.forEach((c, i) => {
      if (!str(c?.image)) errs.push(required(`${path}[${i}].image`));
    });
  }
  const nads = num(ns.activeDeadlineSeconds);
  const oads = num(os.activeDeadlineSeconds);
  if (nads !== undefined) {
    if (nads < 0 || nads > MAX_INT32) {
      errs.push(invalid('spec.activeDeadlineSeconds', nads, inclusiveRangeError(0, MAX_INT32)));
      return errs;
    }
    if (oads !== undefined && oads < nads) {
      errs.push(invalid('spec.activeDeadlineSeconds', nads, 'must be less than or equal to previous value'));
      return errs;
    }
  } else if (oads !== undefined) {
    errs.push(invalid('spec.activeDeadlineSeconds', null, 'must not update from a positive integer to nil value'));
  }
  // Only additions to tolerations (tolerationSeconds may change).
  const newTols = arr(ns.tolerations).map(obj);
  for (const ot of arr(os.tolerations).map(obj)) {
    const found = newTols.some((nt) => deepEqual({ ...ot, tolerationSeconds: nt.tolerationSeconds }, nt));
    if (!found) {
      errs.push(forbidden('spec.tolerations', 'existing toleration can not be modified except its tolerationSeconds'));
      break;
    }
  }
  // Only deletions of scheduling gates.
  const oldGates = new Set(arr(os.schedulingGates).map((g) => str(g?.name)));
  arr(ns.schedulingGates).forEach((g, i) => {
    const name = str(g?.name);
    if (!oldGates.has(name)) errs.push(forbidden(`spec.schedulingGates[${i}].name`, `only deletion is allowed, but found new scheduling gate '${name}'`));
  });
  if (deepEqual(ns, os)) return errs;
  const munged: Obj = structuredClone(ns);
  arr(munged.containers).forEach((c, i) => (c.image = arr(os.containers)[i]?.image));
  arr(munged.initContainers).forEach((c, i) => (c.image = arr(os.initContainers)[i]?.image));
  munged.activeDeadlineSeconds = os.activeDeadlineSeconds;
  munged.schedulingGates = os.schedulingGates;
  munged.tolerations = os.tolerations;
  const otg = num(os.terminationGracePeriodSeconds);
  if (otg !== undefined && otg < 0 && num(munged.terminationGracePeriodSeconds) === 1) munged.terminationGracePeriodSeconds = otg;
  if (arr(os.schedulingGates).length > 0) {
    // Gated pods may add node selectors and node affinity.
    munged.nodeSelector = os.nodeSelector;
    if (isObj(munged.affinity) || isObj(os.affinity)) {
      munged.affinity = { ...obj(munged.affinity), nodeAffinity: obj(os.affinity).nodeAffinity };
      if (!isObj(os.affinity) && Object.values(munged.affinity).every((v) => v === undefined)) munged.affinity = undefined;
    }
  }
  if (!deepEqual(munged, os)) {
    errs.push(forbidden('spec', `pod updates may not change fields other than ${UPDATABLE_POD_FIELDS.join(',')}\n${diffOutline('core.PodSpec', os, munged)}`));
  }
  return errs;
}
