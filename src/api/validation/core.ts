// The other core/v1 kinds: Service, ConfigMap, Secret, Namespace, Node, ResourceQuota,
// LimitRange, Endpoints and Event (core and events.k8s.io), 1.32 rules and texts.

import type { FieldError } from '../errors.ts';
import { isQualifiedName, validateLabels } from '../validation.ts';
import {
  dns1123Label,
  dns1123Subdomain,
  isConfigMapKey,
  isStandardQuotaResourceName,
  isValidPortNum,
  labelName,
  portNumOrName,
  qualifiedName,
  quantity,
  quotaResourceName,
  resourceName,
  containerResourceName,
  resourceQuantityValue,
  isValidLabelValue,
  isOvercommitAllowed,
} from './common.ts';
import {
  arr,
  byteLen,
  deepEqual,
  defaulted,
  duplicate,
  duplicateGo,
  FIELD_IMMUTABLE,
  forbidden,
  goPtr,
  goQuote,
  goStrings,
  invalid,
  invalidGo,
  isObj,
  notSupported,
  num,
  obj,
  required,
  str,
  strMap,
  tooLong,
  type Obj,
} from './field.ts';
import { isValidCIDR, isValidIP, parseCIDRSloppy, parseIPSloppy, validateNonSpecialIP } from './net.ts';
import { Quantity } from './quantity.ts';
import { nameIsDNSSubdomain } from '../validation.ts';

// --- Service ---

const PROTOCOLS = ['SCTP', 'TCP', 'UDP'];
const SERVICE_TYPES = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort'];
const MAX_CLIENT_IP_AFFINITY_SECONDS = 86400;

/** clusterIP and clusterIPs as upstream's strategy normalizes them before validation. */
function clusterIPsOf(spec: Obj): string[] {
  const ips = arr(spec.clusterIPs).map(String);
  if (ips.length === 0 && str(spec.clusterIP)) return [str(spec.clusterIP)];
  return ips;
}

function isHeadless(spec: Obj): boolean {
  const ips = clusterIPsOf(spec);
  return ips.length === 1 && ips[0] === 'None';
}

function goServicePortKey(protocol: string, port: number): string {
  return `core.ServicePort{Name:"", Protocol:${goQuote(protocol)}, AppProtocol:(*string)(nil), Port:${port}, TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}`;
}

function validateServicePort(sp: Obj, requireName: boolean, names: Set<string>, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(sp.name);
  if (requireName && !name) errs.push(required(`${p}.name`));
  else if (name) {
    errs.push(...dns1123Label(`${p}.name`, name));
    if (names.has(name)) errs.push(duplicate(`${p}.name`, name));
    else names.add(name);
  }
  const port = num(sp.port) ?? 0;
  for (const m of isValidPortNum(port)) errs.push(invalid(`${p}.port`, port, m));
  if (!defaulted(sp.protocol) && !PROTOCOLS.includes(str(sp.protocol))) errs.push(notSupported(`${p}.protocol`, str(sp.protocol), PROTOCOLS));
  // targetPort defaults to port when unset, 0 or "".
  const tp = sp.targetPort === undefined || sp.targetPort === null || sp.targetPort === 0 || sp.targetPort === '' ? port : sp.targetPort;
  errs.push(...portNumOrName(`${p}.targetPort`, tp));
  if (typeof sp.appProtocol === 'string') errs.push(...qualifiedName(`${p}.appProtocol`, sp.appProtocol));
  return errs;
}

export function validateService(svc: Obj): FieldError[] {
  const spec = obj(svc.spec);
  const ann = strMap(obj(svc.metadata).annotations) ?? {};
  const errs: FieldError[] = [];
  const hints = 'service.kubernetes.io/topology-aware-hints';
  const mode = 'service.kubernetes.io/topology-mode';
  if (Object.hasOwn(ann, hints) && Object.hasOwn(ann, mode) && ann[hints] !== ann[mode]) {
    errs.push(invalid(`metadata.annotations[${mode}]`, ann[mode], `must match annotations[${hints}] when both are specified`));
  }
  const type = defaulted(spec.type) ? 'ClusterIP' : str(spec.type);
  const ports = arr(spec.ports).map(obj);
  const headless = isHeadless(spec);
  const ips = clusterIPsOf(spec);
  if (ports.length === 0 && !headless && type !== 'ExternalName') errs.push(required('spec.ports'));
  if (type === 'LoadBalancer' && headless) errs.push(invalid('spec.clusterIPs[0]', ips[0], "may not be set to 'None' for LoadBalancer services"));
  if (type === 'NodePort' && headless) errs.push(invalid('spec.clusterIPs[0]', ips[0], "may not be set to 'None' for NodePort services"));
  if (type === 'ExternalName') {
    if (ips.length > 0) errs.push(forbidden('spec.clusterIPs', 'may not be set for ExternalName services'));
    if (arr(spec.ipFamilies).length > 0) errs.push(forbidden('spec.ipFamilies', 'may not be set for ExternalName services'));
    if (typeof spec.ipFamilyPolicy === 'string') errs.push(forbidden('spec.ipFamilyPolicy', 'may not be set for ExternalName services'));
    const cname = str(spec.externalName).replace(/\.$/, '');
    if (cname) errs.push(...dns1123Subdomain('spec.externalName', cname));
    else errs.push(required('spec.externalName'));
  }
  const names = new Set<string>();
  ports.forEach((sp, i) => errs.push(...validateServicePort(sp, ports.length > 1, names, `spec.ports[${i}]`)));
  if (isObj(spec.selector)) errs.push(...validateLabels(strMap(spec.selector), 'spec.selector'));
  const affinity = defaulted(spec.sessionAffinity) ? 'None' : str(spec.sessionAffinity);
  if (affinity !== 'ClientIP' && affinity !== 'None') errs.push(notSupported('spec.sessionAffinity', affinity, ['ClientIP', 'None']));
  if (affinity === 'ClientIP') {
    const t = num(obj(obj(spec.sessionAffinityConfig).clientIP).timeoutSeconds);
    if (isObj(spec.sessionAffinityConfig) && !isObj(spec.sessionAffinityConfig.clientIP)) {
      errs.push(required('spec.sessionAffinityConfig.clientIP', 'when session affinity type is ClientIP'));
    } else if (t !== undefined && (t <= 0 || t > MAX_CLIENT_IP_AFFINITY_SECONDS)) {
      errs.push(invalid('spec.sessionAffinityConfig.clientIP.timeoutSeconds', t, `must be greater than 0 and less than ${MAX_CLIENT_IP_AFFINITY_SECONDS}`));
    }
  } else if (affinity === 'None' && isObj(spec.sessionAffinityConfig)) {
    errs.push(forbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'));
  }
  if (type !== 'ExternalName') errs.push(...validateClusterIPFields(spec, ips, headless));
  arr(spec.externalIPs).forEach((ip, i) => {
    const e = isValidIP(`spec.externalIPs[${i}]`, String(ip));
    errs.push(...(e.length ? e : validateNonSpecialIP(`spec.externalIPs[${i}]`, String(ip))));
  });
  if (!SERVICE_TYPES.includes(type)) errs.push(notSupported('spec.type', type, SERVICE_TYPES));
  if (type === 'ClusterIP') {
    ports.forEach((sp, i) => {
      if ((num(sp.nodePort) ?? 0) !== 0) errs.push(forbidden(`spec.ports[${i}].nodePort`, "may not be used when `type` is 'ClusterIP'"));
    });
  }
  const nodePorts = new Set<string>();
  ports.forEach((sp, i) => {
    const np = num(sp.nodePort) ?? 0;
    if (np === 0) return;
    const key = `${defaulted(sp.protocol) ? 'TCP' : str(sp.protocol)}/${np}`;
    if (nodePorts.has(key)) errs.push(duplicate(`spec.ports[${i}].nodePort`, np));
    nodePorts.add(key);
  });
  const portKeys = new Set<string>();
  ports.forEach((sp, i) => {
    const protocol = defaulted(sp.protocol) ? 'TCP' : str(sp.protocol);
    const port = num(sp.port) ?? 0;
    const key = `${protocol}/${port}`;
    if (portKeys.has(key)) errs.push(duplicateGo(`spec.ports[${i}]`, goServicePortKey(protocol, port)));
    portKeys.add(key);
  });
  const ranges = arr(spec.loadBalancerSourceRanges).map(String);
  if (ranges.length > 0) {
    if (type !== 'LoadBalancer') errs.push(forbidden('spec.LoadBalancerSourceRanges', "may only be used when `type` is 'LoadBalancer'"));
    ranges.forEach((r, i) => errs.push(...isValidCIDR(`spec.LoadBalancerSourceRanges[${i}]`, r.trim())));
  } else if (Object.hasOwn(ann, 'service.beta.kubernetes.io/load-balancer-source-ranges')) {
    const fp = 'metadata.annotations[service.beta.kubernetes.io/load-balancer-source-ranges]';
    if (type !== 'LoadBalancer') errs.push(forbidden(fp, "may only be used when `type` is 'LoadBalancer'"));
    const val = ann['service.beta.kubernetes.io/load-balancer-source-ranges'].trim();
    if (val) for (const c of val.split(',')) errs.push(...isValidCIDR(fp, c.trim()));
  }
  if (typeof spec.allocateLoadBalancerNodePorts === 'boolean' && type !== 'LoadBalancer') {
    errs.push(forbidden('spec.allocateLoadBalancerNodePorts', "may only be used when `type` is 'LoadBalancer'"));
  }
  if (type === 'LoadBalancer') {
    if (typeof spec.loadBalancerClass === 'string') errs.push(...qualifiedName('spec.loadBalancerClass', spec.loadBalancerClass));
  } else if (typeof spec.loadBalancerClass === 'string') {
    errs.push(forbidden('spec.loadBalancerClass', "may only be used when `type` is 'LoadBalancer'"));
  }
  const etp = str(spec.externalTrafficPolicy);
  const accessible = type === 'LoadBalancer' || type === 'NodePort' || (type === 'ClusterIP' && arr(spec.externalIPs).length > 0);
  if (!accessible) {
    if (etp) errs.push(invalid('spec.externalTrafficPolicy', etp, 'may only be set for externally-accessible services'));
  } else if (etp && etp !== 'Cluster' && etp !== 'Local') {
    errs.push(notSupported('spec.externalTrafficPolicy', etp, ['Cluster', 'Local']));
  }
  const hc = num(spec.healthCheckNodePort) ?? 0;
  const needsHC = type === 'LoadBalancer' && etp === 'Local';
  if (!needsHC && hc !== 0) {
    errs.push(invalid('spec.healthCheckNodePort', hc, "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"));
  } else if (needsHC && hc !== 0) for (const m of isValidPortNum(hc)) errs.push(invalid('spec.healthCheckNodePort', hc, m));
  if (typeof spec.internalTrafficPolicy === 'string' && spec.internalTrafficPolicy && !['Cluster', 'Local'].includes(spec.internalTrafficPolicy)) {
    errs.push(notSupported('spec.internalTrafficPolicy', spec.internalTrafficPolicy, ['Cluster', 'Local']));
  }
  if (typeof spec.trafficDistribution === 'string' && spec.trafficDistribution !== 'PreferClose') {
    errs.push(notSupported('spec.trafficDistribution', spec.trafficDistribution, ['PreferClose']));
  }
  return errs;
}

function validateClusterIPFields(spec: Obj, ips: string[], headless: boolean): FieldError[] {
  const errs: FieldError[] = [];
  const clusterIP = str(spec.clusterIP);
  const given = arr(spec.clusterIPs).map(String);
  if (clusterIP && given.length > 0 && given[0] !== clusterIP) errs.push(invalidGo('spec.clusterIPs', goStrings(given), 'first value must match `clusterIP`'));
  const families = arr(spec.ipFamilies).map(String);
  const seen = new Set<string>();
  families.forEach((f, i) => {
    if (f !== 'IPv4' && f !== 'IPv6') errs.push(notSupported(`spec.ipFamilies[${i}]`, f, ['IPv4', 'IPv6']));
    if (seen.has(f)) errs.push(duplicate(`spec.ipFamilies[${i}]`, f));
    seen.add(f);
  });
  if (typeof spec.ipFamilyPolicy === 'string' && !['PreferDualStack', 'RequireDualStack', 'SingleStack'].includes(spec.ipFamilyPolicy)) {
    errs.push(notSupported('spec.ipFamilyPolicy', spec.ipFamilyPolicy, ['PreferDualStack', 'RequireDualStack', 'SingleStack']));
  }
  let bad = false;
  ips.forEach((ip, i) => {
    if (i === 0 && ip === 'None') {
      if (ips.length > 1) {
        bad = true;
        errs.push(invalidGo('spec.clusterIPs', goStrings(ips), "'None' must be the first and only value"));
      }
      return;
    }
    const e = isValidIP(`spec.clusterIPs[${i}]`, ip);
    if (e.length) bad = true;
    errs.push(...e);
  });
  if (ips.length > 2) errs.push(invalidGo('spec.clusterIPs', goStrings(ips), 'may only hold up to 2 values'));
  if (bad) return errs;
  if (ips.length > 1) {
    const v4 = ips.map((ip) => parseIPSloppy(ip)?.v4);
    if (v4[0] === v4[1] || ips.length > 2) errs.push(invalidGo('spec.clusterIPs', goStrings(ips), 'may specify no more than one IP for each IP family'));
  }
  if (!headless && ips.length > 0 && families.length > 0) {
    ips.forEach((ip, i) => {
      if (i >= families.length) return;
      const isV6 = parseIPSloppy(ip)?.v4 === false;
      if (families[i] === 'IPv4' && isV6) errs.push(invalid(`spec.clusterIPs[${i}]`, ip, `expected an IPv4 value as indicated by \`ipFamilies[${i}]\``));
      if (families[i] === 'IPv6' && !isV6) errs.push(invalid(`spec.clusterIPs[${i}]`, ip, `expected an IPv6 value as indicated by \`ipFamilies[${i}]\``));
    });
  }
  return errs;
}

/** ValidateServiceUpdate's checks beyond ValidateService (clusterIPs are the allocator's). */
export function validateServiceUpdate(next: Obj, old: Obj): FieldError[] {
  const ns = obj(next.spec);
  const os = obj(old.spec);
  const errs: FieldError[] = [];
  if (ns.type === 'LoadBalancer' && os.type === 'LoadBalancer' && (ns.loadBalancerClass ?? null) !== (os.loadBalancerClass ?? null)) {
    errs.push(invalid('spec.loadBalancerClass', ns.loadBalancerClass ?? null, 'may not change once set'));
  }
  const needs = (s: Obj) => s.type === 'LoadBalancer' && s.externalTrafficPolicy === 'Local';
  // Upstream never stores such a Service without one; Skiff did before it allocated
  // them, so an old 0 may be filled in.
  const oldHC = num(os.healthCheckNodePort) ?? 0;
  if (needs(ns) && needs(os) && oldHC !== 0 && (num(ns.healthCheckNodePort) ?? 0) !== oldHC) {
    errs.push(forbidden('spec.healthCheckNodePort', FIELD_IMMUTABLE));
  }
  return [...errs, ...validateService(next)];
}

// --- ConfigMap, Secret ---

const MAX_SECRET_SIZE = 1024 * 1024;

function base64Bytes(v: unknown): Buffer | undefined {
  if (typeof v !== 'string') return Buffer.alloc(0);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 === 1) return undefined;
  return Buffer.from(v, 'base64');
}

export function validateConfigMap(cm: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const data = obj(cm.data);
  const binary = obj(cm.binaryData);
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    for (const m of isConfigMapKey(k)) errs.push(invalid(`data[${k}]`, k, m));
    if (Object.hasOwn(binary, k)) errs.push(invalid(`data[${k}]`, k, 'duplicate of key present in binaryData'));
    total += byteLen(typeof v === 'string' ? v : String(v ?? ''));
  }
  for (const [k, v] of Object.entries(binary)) {
    for (const m of isConfigMapKey(k)) errs.push(invalid(`binaryData[${k}]`, k, m));
    total += base64Bytes(v)?.length ?? 0;
  }
  if (total > MAX_SECRET_SIZE) errs.push(tooLong('[]', MAX_SECRET_SIZE));
  return errs;
}

function immutableData(next: Obj, old: Obj, keys: string[]): FieldError[] {
  const errs: FieldError[] = [];
  if (old.immutable !== true) return errs;
  if (next.immutable !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
  for (const k of keys) {
    if (!deepEqual(next[k] ?? null, old[k] ?? null)) errs.push(forbidden(k, 'field is immutable when `immutable` is set'));
  }
  return errs;
}

export function validateConfigMapUpdate(next: Obj, old: Obj): FieldError[] {
  return [...immutableData(next, old, ['data', 'binaryData']), ...validateConfigMap(next)];
}

/** A Go encoding/json error for text that does not decode into a map (the common cases). */
function goJSONError(text: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    const t = text.trimStart();
    if (t === '') return 'unexpected end of JSON input';
    if (!'{["-0123456789tfn'.includes(t[0])) return `invalid character '${t[0]}' looking for beginning of value`;
    return 'unexpected end of JSON input';
  }
  if (v === null || isObj(v)) return undefined;
  const kind = Array.isArray(v) ? 'array' : typeof v === 'string' ? 'string' : typeof v === 'number' ? 'number' : 'bool';
  return `json: cannot unmarshal ${kind} into Go value of type map[string]interface {}`;
}

/** The Secret's data with stringData merged in, as the v1→internal conversion does. */
function secretData(s: Obj): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(obj(s.data))) out.set(k, base64Bytes(v) ?? Buffer.alloc(0));
  for (const [k, v] of Object.entries(obj(s.stringData))) out.set(k, Buffer.from(String(v ?? ''), 'utf8'));
  return out;
}

export function validateSecret(s: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const data = secretData(s);
  let total = 0;
  for (const [k, v] of data) {
    for (const m of isConfigMapKey(k)) errs.push(invalid(`data[${k}]`, k, m));
    total += v.length;
  }
  if (total > MAX_SECRET_SIZE) errs.push(tooLong('data', MAX_SECRET_SIZE));
  const ann = strMap(obj(s.metadata).annotations) ?? {};
  const type = defaulted(s.type) ? 'Opaque' : str(s.type);
  switch (type) {
    case 'kubernetes.io/service-account-token':
      if (!ann['kubernetes.io/service-account.name']) errs.push(required('metadata.annotations[kubernetes.io/service-account.name]'));
      break;
    case 'kubernetes.io/dockercfg':
    case 'kubernetes.io/dockerconfigjson': {
      const key = type === 'kubernetes.io/dockercfg' ? '.dockercfg' : '.dockerconfigjson';
      const v = data.get(key);
      if (!v) {
        errs.push(required(`data[${key}]`));
        break;
      }
      const err = goJSONError(v.toString('utf8'));
      if (err) errs.push(invalid(`data[${key}]`, '<secret contents redacted>', err));
      break;
    }
    case 'kubernetes.io/basic-auth':
      if (!data.has('username') && !data.has('password')) {
        errs.push(required('data[username]'));
        errs.push(required('data[password]'));
      }
      break;
    case 'kubernetes.io/ssh-auth':
      if ((data.get('ssh-privatekey')?.length ?? 0) === 0) errs.push(required('data[ssh-privatekey]'));
      break;
    case 'kubernetes.io/tls':
      if (!data.has('tls.crt')) errs.push(required('data[tls.crt]'));
      if (!data.has('tls.key')) errs.push(required('data[tls.key]'));
      break;
  }
  return errs;
}

export function validateSecretUpdate(next: Obj, old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const nt = defaulted(next.type) ? 'Opaque' : str(next.type);
  const ot = defaulted(old.type) ? 'Opaque' : str(old.type);
  if (nt !== ot) errs.push(invalid('type', nt, FIELD_IMMUTABLE));
  if (old.immutable === true) {
    if (next.immutable !== true) errs.push(forbidden('immutable', 'field is immutable when `immutable` is set'));
    const a = secretData(next);
    const b = secretData(old);
    const same = a.size === b.size && [...a].every(([k, v]) => b.has(k) && b.get(k)!.equals(v));
    if (!same) errs.push(forbidden('data', 'field is immutable when `immutable` is set'));
  }
  return [...errs, ...validateSecret(next)];
}

// --- Namespace ---

const STANDARD_FINALIZERS = new Set(['kubernetes', 'orphan', 'foregroundDeletion']);

export function validateNamespace(ns: Obj): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of arr(obj(ns.spec).finalizers).map(String)) {
    for (const m of isQualifiedName(f)) errs.push(invalid('spec.finalizers', f, m));
    if (!f.includes('/') && !STANDARD_FINALIZERS.has(f)) errs.push(invalid('spec.finalizers', f, 'name is neither a standard finalizer name nor is it fully qualified'));
  }
  return errs;
}

// --- Node ---

function goTaint(t: Obj): string {
  return `core.Taint{Key:${goQuote(str(t.key))}, Value:${goQuote(str(t.value))}, Effect:${goQuote(str(t.effect))}, TimeAdded:${goPtr('v1.Time', t.timeAdded, 5)}}`;
}

export function validateNodeTaints(taints: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const unique = new Map<string, Set<string>>();
  arr(taints).forEach((raw, i) => {
    const t = obj(raw);
    const ip = `${p}[${i}]`;
    errs.push(...labelName(`${ip}.key`, str(t.key)));
    const vm = isValidLabelValue(str(t.value));
    if (vm.length) errs.push(invalid(`${ip}.value`, str(t.value), vm.join(';')));
    const effect = str(t.effect);
    if (!effect) errs.push(required(`${ip}.effect`));
    else if (!['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(effect)) errs.push(notSupported(`${ip}.effect`, effect, ['NoSchedule', 'PreferNoSchedule', 'NoExecute']));
    const keys = unique.get(effect) ?? new Set<string>();
    if (keys.has(str(t.key))) {
      errs.push(duplicateGo(ip, goTaint(t), 'taints must be unique by key and effect pair'));
      return;
    }
    keys.add(str(t.key));
    unique.set(effect, keys);
  });
  return errs;
}

function nodePodCIDRs(spec: Obj): string[] {
  const list = arr(spec.podCIDRs).map(String);
  if (list.length === 0 && str(spec.podCIDR)) return [str(spec.podCIDR)];
  return list;
}

function nodeResources(node: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const status = obj(node.status);
  for (const key of ['capacity', 'allocatable']) {
    for (const [k, raw] of Object.entries(obj(status[key]))) {
      const q = quantity(raw, { resourceList: true });
      if (q) errs.push(...resourceQuantityValue(k, q, `status.${key}.${k}`));
    }
  }
  return errs;
}

export function validateNode(node: Obj): FieldError[] {
  const spec = obj(node.spec);
  // Upstream reports taints under metadata (its path starts from "metadata").
  const errs = validateNodeTaints(spec.taints, 'metadata.taints');
  errs.push(...nodeResources(node));
  const cidrs = nodePodCIDRs(spec);
  cidrs.forEach((c, i) => errs.push(...isValidCIDR(`spec.podCIDRs[${i}]`, c)));
  if (cidrs.length > 1) {
    const parsed = cidrs.map((c) => parseCIDRSloppy(c));
    if (parsed.every(Boolean)) {
      const dual = cidrs.length === 2 && parsed[0]!.ip.v4 !== parsed[1]!.ip.v4;
      if (!dual) errs.push(invalidGo('spec.podCIDRs', goStrings(cidrs), 'may specify no more than one CIDR for each IP family'));
    }
    const seen = new Set<string>();
    cidrs.forEach((c, i) => {
      if (seen.has(c)) errs.push(duplicate(`spec.podCIDRs[${i}]`, c));
      seen.add(c);
    });
  }
  return errs;
}

export function validateNodeUpdate(next: Obj, old: Obj): FieldError[] {
  const ns = obj(next.spec);
  const os = obj(old.spec);
  const errs = nodeResources(next);
  const seen: Obj[] = [];
  arr(obj(next.status).addresses).forEach((a, i) => {
    if (seen.some((s) => deepEqual(s, a))) {
      errs.push(duplicateGo(`status.addresses[${i}]`, `core.NodeAddress{Type:${goQuote(str(a?.type))}, Address:${goQuote(str(a?.address))}}`));
    }
    seen.push(obj(a));
  });
  const oldCIDRs = nodePodCIDRs(os);
  const newCIDRs = nodePodCIDRs(ns);
  if (oldCIDRs.length > 0) {
    const msg = 'node updates may not change podCIDR except from "" to valid';
    if (oldCIDRs.length !== newCIDRs.length) errs.push(forbidden('spec.podCIDRs', msg));
    else oldCIDRs.forEach((c, i) => c !== newCIDRs[i] && errs.push(forbidden('spec.podCIDRs', msg)));
  }
  if (str(os.providerID) && str(os.providerID) !== str(ns.providerID)) {
    errs.push(forbidden('spec.providerID', 'node updates may not change providerID except from "" to valid'));
  }
  errs.push(...validateNodeTaints(ns.taints, 'metadata.taints'));
  if (str(ns.externalID) !== str(os.externalID)) errs.push(forbidden('spec.externalID', 'may not be updated'));
  return errs;
}

// --- ResourceQuota ---

const QUOTA_SCOPES = ['Terminating', 'NotTerminating', 'BestEffort', 'NotBestEffort', 'PriorityClass', 'CrossNamespacePodAffinity', 'VolumeAttributesClass'];
const POD_COMPUTE = new Set(['pods', 'cpu', 'memory', 'limits.cpu', 'limits.memory', 'requests.cpu', 'requests.memory']);

function scopeValidFor(scope: string, resource: string): boolean {
  switch (scope) {
    case 'Terminating':
    case 'NotTerminating':
    case 'NotBestEffort':
    case 'PriorityClass':
    case 'CrossNamespacePodAffinity':
      return POD_COMPUTE.has(resource);
    case 'BestEffort':
      return resource === 'pods';
    default:
      return true;
  }
}

function goScopes(v: unknown): string {
  return goStrings(v, '[]core.ResourceQuotaScope');
}

function resourceMap(v: unknown, p: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const [k, raw] of Object.entries(obj(v))) {
    const rp = `${p}[${k}]`;
    errs.push(...quotaResourceName(rp, k));
    const q = quantity(raw, { resourceList: true });
    if (q) errs.push(...resourceQuantityValue(k, q, rp));
  }
  return errs;
}

export function validateResourceQuotaSpec(spec: Obj): FieldError[] {
  const errs = resourceMap(spec.hard, 'spec.hard');
  const hard = Object.keys(obj(spec.hard)).sort();
  const scopes = arr(spec.scopes).map(String);
  if (scopes.length) {
    for (const s of scopes) {
      if (!QUOTA_SCOPES.includes(s)) errs.push(invalidGo('spec.scopes', goScopes(spec.scopes), 'unsupported scope'));
      for (const k of hard) if (isStandardQuotaResourceName(k) && !scopeValidFor(s, k)) errs.push(invalidGo('spec.scopes', goScopes(spec.scopes), 'unsupported scope applied to resource'));
    }
    const set = new Set(scopes);
    if ((set.has('BestEffort') && set.has('NotBestEffort')) || (set.has('Terminating') && set.has('NotTerminating'))) {
      errs.push(invalidGo('spec.scopes', goScopes(spec.scopes), 'conflicting scopes'));
    }
  }
  if (isObj(spec.scopeSelector)) {
    const fp = 'spec.scopeSelector.matchExpressions';
    const set = new Set<string>();
    for (const raw of arr(spec.scopeSelector.matchExpressions)) {
      const req = obj(raw);
      const scope = str(req.scopeName);
      const op = str(req.operator);
      if (!QUOTA_SCOPES.includes(scope)) errs.push(invalid(`${fp}.scopeName`, scope, 'unsupported scope'));
      for (const k of hard) {
        if (isStandardQuotaResourceName(k) && !scopeValidFor(scope, k)) {
          errs.push(invalidGo(fp, 'core.ScopeSelector{...}', 'unsupported scope applied to resource'));
        }
      }
      if (['BestEffort', 'NotBestEffort', 'Terminating', 'NotTerminating', 'CrossNamespacePodAffinity'].includes(scope) && op !== 'Exists') {
        errs.push(
          invalid(
            `${fp}.operator`,
            op,
            "must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity",
          ),
        );
      }
      const values = arr(req.values);
      if (op === 'In' || op === 'NotIn') {
        if (values.length === 0) errs.push(required(`${fp}.values`, "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"));
      } else if (op === 'Exists' || op === 'DoesNotExist') {
        if (values.length !== 0) errs.push(invalidGo(`${fp}.values`, goStrings(req.values), "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"));
      } else errs.push(invalid(`${fp}.operator`, op, 'not a valid selector operator'));
      set.add(scope);
    }
    if ((set.has('BestEffort') && set.has('NotBestEffort')) || (set.has('Terminating') && set.has('NotTerminating'))) {
      errs.push(invalidGo(fp, goScopes(spec.scopes), 'conflicting scopes'));
    }
  }
  return errs;
}

export function validateResourceQuota(rq: Obj): FieldError[] {
  const status = obj(rq.status);
  return [...validateResourceQuotaSpec(obj(rq.spec)), ...resourceMap(status.hard, 'status.hard'), ...resourceMap(status.used, 'status.used')];
}

export function validateResourceQuotaUpdate(next: Obj, old: Obj): FieldError[] {
  const errs = validateResourceQuotaSpec(obj(next.spec));
  const a = new Set(arr(obj(next.spec).scopes).map(String));
  const b = new Set(arr(obj(old.spec).scopes).map(String));
  if (a.size !== b.size || [...a].some((s) => !b.has(s))) errs.push(invalidGo('spec.scopes', goScopes(obj(next.spec).scopes), FIELD_IMMUTABLE));
  return errs;
}

// --- LimitRange ---

const LIMIT_TYPES = new Set(['Pod', 'Container', 'PersistentVolumeClaim']);

function limitRangeResourceName(type: string, name: string, p: string): FieldError[] {
  return type === 'Pod' || type === 'Container' ? containerResourceName(p, name) : resourceName(p, name);
}

export function validateLimitRange(lr: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const types = new Set<string>();
  arr(obj(lr.spec).limits).forEach((raw, i) => {
    const limit = obj(raw);
    const ip = `spec.limits[${i}]`;
    const type = str(limit.type);
    const tm = isQualifiedName(type).map((m) => invalid(`${ip}.type`, type, m));
    errs.push(...tm);
    if (!tm.length && !type.includes('/') && !LIMIT_TYPES.has(type)) errs.push(invalid(`${ip}.type`, type, 'must be a standard limit type or fully qualified'));
    if (types.has(type)) errs.push(duplicate(`${ip}.type`, type));
    types.add(type);
    const maps: Record<string, Map<string, Quantity>> = { max: new Map(), min: new Map(), default: new Map(), defaultRequest: new Map(), maxLimitRequestRatio: new Map() };
    const keys = new Set<string>();
    const read = (field: string) => {
      for (const [k, raw2] of Object.entries(obj(limit[field]))) {
        errs.push(...limitRangeResourceName(type, k, `${ip}.${field}[${k}]`));
        keys.add(k);
        const q = quantity(raw2, { resourceList: true });
        if (q) maps[field].set(k, q);
      }
    };
    read('max');
    read('min');
    if (type === 'Pod') {
      if (Object.keys(obj(limit.default)).length > 0) errs.push(forbidden(`${ip}.default`, "may not be specified when `type` is 'Pod'"));
      if (Object.keys(obj(limit.defaultRequest)).length > 0) errs.push(forbidden(`${ip}.defaultRequest`, "may not be specified when `type` is 'Pod'"));
    } else {
      read('default');
      read('defaultRequest');
    }
    if (type === 'PersistentVolumeClaim' && !Object.hasOwn(obj(limit.min), 'storage') && !Object.hasOwn(obj(limit.max), 'storage')) {
      errs.push(required(`${ip}.limits`, 'either minimum or maximum storage value is required, but neither was provided'));
    }
    read('maxLimitRequestRatio');
    for (const k of keys) {
      const min = maps.min.get(k);
      const max = maps.max.get(k);
      const def = maps.default.get(k);
      const defReq = maps.defaultRequest.get(k);
      const ratio = maps.maxLimitRequestRatio.get(k);
      if (min && max && min.cmp(max) > 0) errs.push(invalidGo(`${ip}.min[${k}]`, min.goString(), `min value ${min} is greater than max value ${max}`));
      if (defReq && min && min.cmp(defReq) > 0) errs.push(invalidGo(`${ip}.defaultRequest[${k}]`, defReq.goString(), `min value ${min} is greater than default request value ${defReq}`));
      if (defReq && max && defReq.cmp(max) > 0) errs.push(invalidGo(`${ip}.defaultRequest[${k}]`, defReq.goString(), `default request value ${defReq} is greater than max value ${max}`));
      if (defReq && def && defReq.cmp(def) > 0) errs.push(invalidGo(`${ip}.defaultRequest[${k}]`, defReq.goString(), `default request value ${defReq} is greater than default limit value ${def}`));
      if (def && min && min.cmp(def) > 0) errs.push(invalidGo(`${ip}.default[${k}]`, min.goString(), `min value ${min} is greater than default value ${def}`));
      if (def && max && def.cmp(max) > 0) errs.push(invalidGo(`${ip}.default[${k}]`, max.goString(), `default value ${def} is greater than max value ${max}`));
      const one = new Quantity({ mantissa: 1n, exponent: 0, format: 'DecimalSI' });
      if (ratio && ratio.cmp(one) < 0) errs.push(invalidGo(`${ip}.maxLimitRequestRatio[${k}]`, ratio.goString(), `ratio ${ratio} is less than 1`));
      if (ratio && min && max) {
        const limitRatio = Number(max.milliValue()) / Number(min.milliValue());
        const r = Number(ratio.milliValue()) / 1000;
        if (r > limitRatio) errs.push(invalidGo(`${ip}.maxLimitRequestRatio[${k}]`, ratio.goString(), `ratio ${ratio} is greater than max/min = ${limitRatio.toFixed(6)}`));
      }
      if (!isOvercommitAllowed(k) && def && defReq && def.cmp(defReq) !== 0) {
        errs.push(invalidGo(`${ip}.defaultRequest[${k}]`, defReq.goString(), `default value ${def} must equal to defaultRequest value ${defReq} in ${k}`));
      }
    }
  });
  return errs;
}

// --- Endpoints ---

export function validateEndpoints(ep: Obj): FieldError[] {
  const errs: FieldError[] = [];
  arr(ep.subsets).forEach((raw, i) => {
    const ss = obj(raw);
    const ip = `subsets[${i}]`;
    if (arr(ss.addresses).length === 0 && arr(ss.notReadyAddresses).length === 0) errs.push(required(ip, 'must specify `addresses` or `notReadyAddresses`'));
    for (const key of ['addresses', 'notReadyAddresses']) {
      arr(ss[key]).forEach((a, j) => {
        const ap = `${ip}.${key}[${j}]`;
        const addr = obj(a);
        errs.push(...isValidIP(`${ap}.ip`, str(addr.ip)));
        if (str(addr.hostname)) errs.push(...dns1123Label(`${ap}.hostname`, str(addr.hostname)));
        if (typeof addr.nodeName === 'string') for (const m of nameIsDNSSubdomain(addr.nodeName, false)) errs.push(invalid(`${ap}.nodeName`, addr.nodeName, m));
        errs.push(...validateNonSpecialIP(`${ap}.ip`, str(addr.ip)));
      });
    }
    const ports = arr(ss.ports);
    ports.forEach((raw2, j) => {
      const port = obj(raw2);
      const pp = `${ip}.ports[${j}]`;
      const name = str(port.name);
      if (ports.length > 1 && !name) errs.push(required(`${pp}.name`));
      else if (name) errs.push(...dns1123Label(`${pp}.name`, name));
      const n = num(port.port) ?? 0;
      for (const m of isValidPortNum(n)) errs.push(invalid(`${pp}.port`, n, m));
      if (!defaulted(port.protocol) && !PROTOCOLS.includes(str(port.protocol))) errs.push(notSupported(`${pp}.protocol`, str(port.protocol), PROTOCOLS));
      if (typeof port.appProtocol === 'string') errs.push(...qualifiedName(`${pp}.appProtocol`, port.appProtocol));
    });
  });
  return errs;
}

// --- Event ---

/** The Event in core field names, whichever API shape it arrived in. */
function coreEvent(e: Obj): Obj {
  return {
    ...e,
    involvedObject: e.involvedObject ?? e.regarding,
    message: e.message ?? e.note,
    reportingController: e.reportingComponent ?? e.reportingController,
    source: e.source ?? e.deprecatedSource,
    firstTimestamp: e.firstTimestamp ?? e.deprecatedFirstTimestamp,
    lastTimestamp: e.lastTimestamp ?? e.deprecatedLastTimestamp,
    count: e.count ?? e.deprecatedCount,
  };
}

/** legacyValidateEvent, plus ValidateEventCreate's strict checks for events.k8s.io. */
export function validateEvent(raw: Obj, opts: { strict: boolean }): FieldError[] {
  const e = coreEvent(raw);
  const errs: FieldError[] = [];
  const namespace = str(obj(e.metadata).namespace);
  const involvedNs = str(obj(e.involvedObject).namespace);
  const hasEventTime = !defaulted(e.eventTime);
  if (!hasEventTime) {
    if (!involvedNs) {
      if (namespace !== '' && namespace !== 'default') errs.push(invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    } else if (namespace !== involvedNs) errs.push(invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
  } else {
    if (!involvedNs && namespace !== 'default' && namespace !== 'kube-system') errs.push(invalid('involvedObject.namespace', involvedNs, 'does not match event.namespace'));
    const rc = str(e.reportingController);
    if (!rc) errs.push(required('reportingController'));
    for (const m of isQualifiedName(rc)) errs.push(invalid('reportingController', rc, m));
    const ri = str(e.reportingInstance);
    if (!ri) errs.push(required('reportingInstance'));
    if (byteLen(ri) > 128) errs.push(invalid('reportingInstance', '', 'can have at most 128 characters'));
    const action = str(e.action);
    if (!action) errs.push(required('action'));
    if (byteLen(action) > 128) errs.push(invalid('action', '', 'can have at most 128 characters'));
    const reason = str(e.reason);
    if (!reason) errs.push(required('reason'));
    if (byteLen(reason) > 128) errs.push(invalid('reason', '', 'can have at most 128 characters'));
    if (byteLen(str(e.message)) > 1024) errs.push(invalid('message', '', 'can have at most 1024 characters'));
  }
  for (const m of dns1123Subdomain('namespace', namespace)) errs.push(m);
  if (!opts.strict) return errs;
  if (isObj(e.series)) {
    if ((num(e.series.count) ?? 0) < 2) errs.push(invalid('series.count', '', 'should be at least 2'));
    if (defaulted(e.series.lastObservedTime)) errs.push(required('series.lastObservedTime'));
  }
  if (!hasEventTime) errs.push(required('eventTime'));
  const type = str(e.type);
  if (type !== 'Normal' && type !== 'Warning') errs.push(invalid('type', '', `has invalid value: ${type}`));
  if (!defaulted(e.firstTimestamp)) errs.push(invalid('firstTimestamp', '', 'needs to be unset'));
  if (!defaulted(e.lastTimestamp)) errs.push(invalid('lastTimestamp', '', 'needs to be unset'));
  if ((num(e.count) ?? 0) !== 0) errs.push(invalid('count', '', 'needs to be unset'));
  if (str(obj(e.source).component) || str(obj(e.source).host)) errs.push(invalid('source', '', 'needs to be unset'));
  return errs;
}

export function validateEventUpdate(next: Obj, old: Obj, opts: { strict: boolean }): FieldError[] {
  const errs = validateEvent(next, { strict: false });
  if (!opts.strict) return errs;
  const n = coreEvent(next);
  const o = coreEvent(old);
  if (!deepEqual(n.series, o.series) && isObj(n.series)) {
    if ((num(n.series.count) ?? 0) < 2) errs.push(invalid('series.count', '', 'should be at least 2'));
    if (defaulted(n.series.lastObservedTime)) errs.push(required('series.lastObservedTime'));
  }
  for (const f of [
    'involvedObject',
    'reason',
    'message',
    'source',
    'firstTimestamp',
    'lastTimestamp',
    'count',
    'reason',
    'type',
    'eventTime',
    'action',
    'related',
    'reportingController',
    'reportingInstance',
  ]) {
    if (deepEqual(n[f] ?? null, o[f] ?? null)) continue;
    const v = n[f];
    errs.push(typeof v === 'string' || typeof v === 'number' ? invalid(f, v, FIELD_IMMUTABLE) : invalidGo(f, v === undefined || v === null ? 'null' : JSON.stringify(v), FIELD_IMMUTABLE));
  }
  return errs;
}

