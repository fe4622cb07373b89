// PersistentVolume, PersistentVolumeClaim and StorageClass validation (1.32).

import type { FieldError } from '../errors.ts';
import { nameIsDNSSubdomain, validateLabelSelector, validateNamespaceName } from '../validation.ts';
import { isDNS1123Subdomain, labelName, qualifiedName, quantity, resourceQuantityValue } from './common.ts';
import {
  arr,
  deepEqual,
  diffOutline,
  duplicate,
  FIELD_IMMUTABLE,
  forbidden,
  goQuote,
  invalid,
  invalidGo,
  IS_NOT_POSITIVE,
  isObj,
  notSupported,
  notSupportedGo,
  obj,
  required,
  str,
  tooLong,
  type Obj,
} from './field.ts';
import { Quantity } from './quantity.ts';

const ACCESS_MODES = ['ReadOnlyMany', 'ReadWriteMany', 'ReadWriteOnce', 'ReadWriteOncePod'];
const VOLUME_MODES = ['Block', 'Filesystem'];

function validateAccessModes(modes: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  let rwop = false;
  let other = false;
  for (const m of arr(modes).map(String)) {
    if (!ACCESS_MODES.includes(m)) errs.push(notSupported(p, m, ACCESS_MODES));
    if (m === 'ReadWriteOncePod') rwop = true;
    else if (ACCESS_MODES.includes(m)) other = true;
  }
  if (rwop && other) errs.push(forbidden(p, 'may not use ReadWriteOncePod with other access modes'));
  return errs;
}

function validateDataSource(ds: Obj, p: string, withNamespace: boolean): FieldError[] {
  const errs: FieldError[] = [];
  if (!str(ds.name)) errs.push(required(`${p}.name`));
  if (!str(ds.kind)) errs.push(required(`${p}.kind`));
  const group = str(ds.apiGroup);
  if (!group && str(ds.kind) !== 'PersistentVolumeClaim') {
    errs.push(invalid(p, str(ds.kind), "must be 'PersistentVolumeClaim' when referencing the default apiGroup"));
  }
  if (group) for (const m of isDNS1123Subdomain(group)) errs.push(invalid(`${p}.apiGroup`, group, m));
  if (withNamespace && str(ds.namespace)) for (const m of validateNamespaceName(str(ds.namespace), false)) errs.push(invalid(`${p}.namespace`, str(ds.namespace), m));
  return errs;
}

/** ValidatePersistentVolumeClaimSpec. */
export function validatePersistentVolumeClaimSpec(spec: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  if (arr(spec.accessModes).length === 0) errs.push(required(`${p}.accessModes`, 'at least 1 access mode is required'));
  if (isObj(spec.selector)) errs.push(...validateLabelSelector(spec.selector, `${p}.selector`));
  errs.push(...validateAccessModes(spec.accessModes, `${p}.accessModes`));
  const storagePath = `${p}.resources[storage]`;
  const requests = obj(obj(spec.resources).requests);
  if (!Object.hasOwn(requests, 'storage')) errs.push(required(storagePath));
  else {
    const q = quantity(requests.storage, { resourceList: true });
    if (q) {
      if (q.sign() <= 0) errs.push(invalid(storagePath, q.toString(), IS_NOT_POSITIVE));
      else errs.push(...resourceQuantityValue('storage', q, storagePath));
    }
  }
  if (typeof spec.storageClassName === 'string' && spec.storageClassName) {
    for (const m of nameIsDNSSubdomain(spec.storageClassName, false)) errs.push(invalid(`${p}.storageClassName`, spec.storageClassName, m));
  }
  if (typeof spec.volumeMode === 'string' && !VOLUME_MODES.includes(spec.volumeMode)) errs.push(notSupported(`${p}.volumeMode`, spec.volumeMode, VOLUME_MODES));
  if (isObj(spec.dataSource)) errs.push(...validateDataSource(spec.dataSource, `${p}.dataSource`, false));
  if (isObj(spec.dataSourceRef)) errs.push(...validateDataSource(spec.dataSourceRef, `${p}.dataSourceRef`, true));
  if (isObj(spec.dataSourceRef) && str(spec.dataSourceRef.namespace)) {
    if (isObj(spec.dataSource)) errs.push(invalid(p, `${p}.dataSource`, 'may not be specified when dataSourceRef.namespace is specified'));
  } else if (isObj(spec.dataSource) && isObj(spec.dataSourceRef)) {
    const a = spec.dataSource;
    const b = spec.dataSourceRef;
    if ((a.apiGroup ?? null) !== (b.apiGroup ?? null) || str(a.kind) !== str(b.kind) || str(a.name) !== str(b.name)) {
      errs.push(invalid(p, `${p}.dataSource`, 'must match dataSourceRef'));
    }
  }
  return errs;
}

export function validatePersistentVolumeClaim(pvc: Obj): FieldError[] {
  return validatePersistentVolumeClaimSpec(obj(pvc.spec), 'spec');
}

/** ValidatePersistentVolumeClaimUpdate without metadata checks. */
export function validatePersistentVolumeClaimUpdate(next: Obj, old: Obj): FieldError[] {
  const errs = validatePersistentVolumeClaim(next);
  const ns: Obj = structuredClone(obj(next.spec));
  const os: Obj = structuredClone(obj(old.spec));
  if (!str(os.volumeName)) os.volumeName = ns.volumeName;
  const oldAnn = obj(obj(old.metadata).annotations);
  const newAnn = obj(obj(next.metadata).annotations);
  const beta = 'volume.beta.kubernetes.io/storage-class';
  const upgradeFromAnnotation =
    Object.hasOwn(oldAnn, beta) && typeof os.storageClassName !== 'string' && typeof ns.storageClassName === 'string' && ns.storageClassName === oldAnn[beta] && (!Object.hasOwn(newAnn, beta) || newAnn[beta] === oldAnn[beta]);
  if (upgradeFromAnnotation) delete ns.storageClassName;
  else {
    if (str(newAnn[beta]) !== str(oldAnn[beta])) errs.push(invalid(`metadata.annotations.${beta}`, str(newAnn[beta]), FIELD_IMMUTABLE));
    if (typeof ns.storageClassName === 'string' && typeof os.storageClassName !== 'string' && (!Object.hasOwn(oldAnn, beta) || ns.storageClassName === oldAnn[beta])) {
      ns.storageClassName = os.storageClassName;
    }
  }
  const bound = str(obj(next.status).phase) === 'Bound';
  if (bound && isObj(obj(ns.resources).requests)) ns.resources.requests.storage = obj(os.resources).requests?.storage;
  if (bound && typeof ns.volumeAttributesClassName === 'string') ns.volumeAttributesClassName = os.volumeAttributesClassName;
  if (!deepEqual(normalizeQuantities(ns), normalizeQuantities(os))) {
    errs.push(
      forbidden(
        'spec',
        `spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n${diffOutline('core.PersistentVolumeClaimSpec', os, ns)}`,
      ),
    );
  }
  const oldSize = quantity(obj(obj(old.spec).resources).requests?.storage, { resourceList: true }) ?? new Quantity({ mantissa: 0n, exponent: 0, format: 'DecimalSI' });
  const newSize = quantity(obj(obj(next.spec).resources).requests?.storage, { resourceList: true }) ?? new Quantity({ mantissa: 0n, exponent: 0, format: 'DecimalSI' });
  const statusSize = quantity(obj(obj(old.status).capacity).storage) ?? new Quantity({ mantissa: 0n, exponent: 0, format: 'DecimalSI' });
  // RecoverVolumeExpansionFailure is beta and on in 1.32: shrinking is allowed down to the recorded capacity.
  if (newSize.cmp(oldSize) < 0 && newSize.cmp(statusSize) <= 0) {
    errs.push(forbidden('spec.resources.requests.storage', 'field can not be less than status.capacity'));
  }
  const nvm = obj(next.spec).volumeMode;
  const ovm = obj(old.spec).volumeMode;
  if ((nvm ?? null) !== (ovm ?? null)) errs.push(nvm === undefined || nvm === null ? invalid('volumeMode', null, FIELD_IMMUTABLE) : invalid('volumeMode', String(nvm), FIELD_IMMUTABLE));
  return errs;
}

/** Quantities compare by value (Semantic.DeepEqual), not by spelling. */
function normalizeQuantities(spec: Obj): Obj {
  const out = structuredClone(spec);
  for (const key of ['requests', 'limits']) {
    const list = obj(obj(out.resources)[key]);
    for (const [k, v] of Object.entries(list)) {
      const q = quantity(v, { resourceList: true });
      if (q) list[k] = `${q.mantissa}e${q.exponent}`;
    }
  }
  return out;
}

// --- PersistentVolume ---

const RECLAIM_POLICIES = ['Delete', 'Recycle', 'Retain'];
const PV_SOURCES = [
  'hostPath',
  'gcePersistentDisk',
  'awsElasticBlockStore',
  'glusterfs',
  'flocker',
  'nfs',
  'rbd',
  'quobyte',
  'cephfs',
  'iscsi',
  'cinder',
  'fc',
  'flexVolume',
  'azureFile',
  'vsphereVolume',
  'photonPersistentDisk',
  'portworxVolume',
  'azureDisk',
  'scaleIO',
  'local',
  'storageos',
  'csi',
];

function goResourceList(v: unknown): string {
  if (!isObj(v)) return 'core.ResourceList(nil)';
  const keys = Object.keys(v).sort();
  return `core.ResourceList{${keys
    .map((k) => {
      const q = quantity(v[k], { resourceList: true });
      return `${goQuote(k)}:${q ? q.goString() : 'resource.Quantity{}'}`;
    })
    .join(', ')}}`;
}

export function validatePersistentVolume(pv: Obj): FieldError[] {
  const spec = obj(pv.spec);
  const errs: FieldError[] = [];
  const p = 'spec';
  if (arr(spec.accessModes).length === 0) errs.push(required(`${p}.accessModes`));
  errs.push(...validateAccessModes(spec.accessModes, `${p}.accessModes`));
  const cap = spec.capacity;
  if (Object.keys(obj(cap)).length === 0) errs.push(required(`${p}.capacity`));
  if (!Object.hasOwn(obj(cap), 'storage') || Object.keys(obj(cap)).length > 1) errs.push(notSupportedGo(`${p}.capacity`, goResourceList(cap), ['storage']));
  for (const [r, raw] of Object.entries(obj(cap))) {
    const q = quantity(raw, { resourceList: true });
    if (!q) continue;
    if (q.value() < 0n) errs.push(invalid(`${p}.capacity[${r}]`, Number(q.value()), 'must be a valid resource quantity'));
    if (q.sign() <= 0) errs.push(invalid(`${p}.capacity[${r}]`, q.toString(), IS_NOT_POSITIVE));
  }
  if (typeof spec.persistentVolumeReclaimPolicy === 'string' && spec.persistentVolumeReclaimPolicy && !RECLAIM_POLICIES.includes(spec.persistentVolumeReclaimPolicy)) {
    errs.push(notSupported(`${p}.persistentVolumeReclaimPolicy`, spec.persistentVolumeReclaimPolicy, RECLAIM_POLICIES));
  }
  let nodeAffinity = false;
  if (isObj(spec.nodeAffinity)) {
    nodeAffinity = true;
    if (!isObj(spec.nodeAffinity.required)) errs.push(required(`${p}.nodeAffinity.required`, 'must specify required node constraints'));
  }
  let n = 0;
  for (const key of PV_SOURCES) {
    const src = spec[key];
    if (!isObj(src)) continue;
    if (n > 0 && key !== 'flexVolume') {
      errs.push(forbidden(`${p}.${key}`, 'may not specify more than 1 volume type'));
      continue;
    }
    n++;
    const sp = `${p}.${key}`;
    switch (key) {
      case 'hostPath':
        if (!str(src.path)) errs.push(required(`${sp}.path`));
        else if (str(src.path).split('/').includes('..')) errs.push(invalid(`${sp}.path`, str(src.path), "must not contain '..'"));
        break;
      case 'local':
        if (!str(src.path)) errs.push(required(`${sp}.path`));
        else if (str(src.path).split('/').includes('..')) errs.push(invalid(`${sp}.path`, str(src.path), "must not contain '..'"));
        if (!nodeAffinity) errs.push(required(`${p}.nodeAffinity`, 'Local volume requires node affinity'));
        break;
      case 'nfs':
        if (!str(src.server)) errs.push(required(`${sp}.server`));
        if (!str(src.path)) errs.push(required(`${sp}.path`));
        if (!str(src.path).startsWith('/')) errs.push(invalid(`${sp}.path`, str(src.path), 'must be an absolute path'));
        break;
      case 'csi': {
        const driver = str(src.driver);
        if (!driver) errs.push(required(`${sp}.driver`));
        if (driver.length > 63) errs.push(tooLong(`${sp}.driver`, 63));
        for (const m of isDNS1123Subdomain(driver.toLowerCase())) errs.push(invalid(`${sp}.driver`, driver, m));
        if (!str(src.volumeHandle)) errs.push(required(`${sp}.volumeHandle`));
        break;
      }
    }
  }
  if (n === 0) errs.push(required(p, 'must specify a volume type'));
  if (isObj(spec.hostPath) && str(spec.hostPath.path).replace(/\/+$/, '') === '' && str(spec.hostPath.path).startsWith('/') && spec.persistentVolumeReclaimPolicy === 'Recycle') {
    errs.push(forbidden(`${p}.persistentVolumeReclaimPolicy`, "may not be 'recycle' for a hostPath mount of '/'"));
  }
  if (typeof spec.storageClassName === 'string' && spec.storageClassName) {
    for (const m of nameIsDNSSubdomain(spec.storageClassName, false)) errs.push(invalid(`${p}.storageClassName`, spec.storageClassName, m));
  }
  if (typeof spec.volumeMode === 'string' && !VOLUME_MODES.includes(spec.volumeMode)) errs.push(notSupported(`${p}.volumeMode`, spec.volumeMode, VOLUME_MODES));
  return errs;
}

export function validatePersistentVolumeUpdate(next: Obj, old: Obj): FieldError[] {
  const errs = validatePersistentVolume(next);
  const ns = obj(next.spec);
  const os = obj(old.spec);
  const source = (s: Obj) => Object.fromEntries(PV_SOURCES.filter((k) => s[k] !== undefined).map((k) => [k, s[k]]));
  const nsrc = source(ns);
  if (isObj(os.csi) && !isObj(os.csi.controllerExpandSecretRef) && isObj(nsrc.csi) && isObj(nsrc.csi.controllerExpandSecretRef)) {
    nsrc.csi = { ...nsrc.csi, controllerExpandSecretRef: undefined };
  }
  if (!deepEqual(nsrc, source(os))) {
    errs.push(forbidden('spec.persistentvolumesource', `spec.persistentvolumesource is immutable after creation\n${diffOutline('core.PersistentVolumeSource', source(os), nsrc)}`));
  }
  if ((ns.volumeMode ?? null) !== (os.volumeMode ?? null)) errs.push(invalid('volumeMode', ns.volumeMode ?? null, FIELD_IMMUTABLE));
  if (isObj(os.nodeAffinity) && !deepEqual(ns.nodeAffinity, os.nodeAffinity)) {
    errs.push(invalidGo('nodeAffinity', 'core.VolumeNodeAffinity{...}', `${FIELD_IMMUTABLE}, except for updating from beta label to GA`));
  }
  return errs;
}

// --- StorageClass (storage.k8s.io/v1) ---

export function validateStorageClass(sc: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const provisioner = str(sc.provisioner);
  if (!provisioner) errs.push(required('provisioner', ''));
  else errs.push(...qualifiedName('provisioner', provisioner.toLowerCase()));
  const params = obj(sc.parameters);
  if (Object.keys(params).length > 512) errs.push(tooLong('parameters', 512));
  else {
    let total = 0;
    for (const [k, v] of Object.entries(params)) {
      if (k.length < 1) errs.push(invalid('parameters', k, 'field can not be empty.'));
      total += Buffer.byteLength(k) + Buffer.byteLength(String(v ?? ''));
    }
    if (total > 256 * 1024) errs.push(tooLong('parameters', 256 * 1024));
  }
  if (typeof sc.reclaimPolicy === 'string' && sc.reclaimPolicy && !['Delete', 'Retain'].includes(sc.reclaimPolicy)) {
    errs.push(notSupported('reclaimPolicy', sc.reclaimPolicy, ['Delete', 'Retain']));
  }
  if (typeof sc.volumeBindingMode === 'string' && !['Immediate', 'WaitForFirstConsumer'].includes(sc.volumeBindingMode)) {
    errs.push(notSupported('volumeBindingMode', sc.volumeBindingMode, ['Immediate', 'WaitForFirstConsumer']));
  }
  arr(sc.allowedTopologies).forEach((raw, i) => {
    const tp = `allowedTopologies[${i}]`;
    const exprs = arr(obj(raw).matchLabelExpressions);
    const keys = new Set<string>();
    if (exprs.length === 0) errs.push(required(tp, 'must contain at least one requirement'));
    exprs.forEach((e, j) => {
      const ep = `${tp}.matchLabelExpressions[${j}]`;
      const values = arr(e?.values).map(String);
      if (values.length === 0) errs.push(required(`${ep}.values`));
      const seen = new Set<string>();
      values.forEach((v, k) => {
        if (seen.has(v)) errs.push(duplicate(`${ep}.values[${k}]`, v));
        seen.add(v);
      });
      errs.push(...labelName(`${ep}.key`, str(e?.key)));
      if (keys.has(str(e?.key))) errs.push(duplicate(`${ep}.key`, str(e?.key)));
      keys.add(str(e?.key));
    });
  });
  return errs;
}

export function validateStorageClassUpdate(next: Obj, old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if (!deepEqual(obj(next.parameters), obj(old.parameters))) errs.push(forbidden('parameters', 'updates to parameters are forbidden.'));
  if (str(next.provisioner) !== str(old.provisioner)) errs.push(forbidden('provisioner', 'updates to provisioner are forbidden.'));
  if ((next.reclaimPolicy ?? null) !== (old.reclaimPolicy ?? null)) errs.push(invalid('reclaimPolicy', next.reclaimPolicy ?? null, FIELD_IMMUTABLE));
  if ((next.volumeBindingMode ?? null) !== (old.volumeBindingMode ?? null)) errs.push(invalid('volumeBindingMode', next.volumeBindingMode ?? null, FIELD_IMMUTABLE));
  return [...errs, ...validateStorageClass(next)];
}

