// The smaller API groups: networking.k8s.io (Ingress, IngressClass, NetworkPolicy),
// policy (PodDisruptionBudget), rbac.authorization.k8s.io, scheduling.k8s.io
// (PriorityClass), autoscaling/v2 (HorizontalPodAutoscaler), coordination.k8s.io
// (Lease) and discovery.k8s.io (EndpointSlice), 1.32 rules and texts.

import type { FieldError } from '../errors.ts';
import {
  isDNS1123Subdomain,
  isValidPathSegmentName,
  nameIsDNS1035Label,
  nameIsDNSSubdomain,
  validateLabels,
  validateLabelSelector,
  validateNamespaceName,
} from '../validation.ts';
import {
  dns1123Label,
  isDomainPrefixedPath,
  isFullyQualifiedDomainName,
  isValidPortName,
  isValidPortNum,
  isWildcardDNS1123Subdomain,
  notMoreThan100Percent,
  positiveIntOrPercent,
  qualifiedName,
  quantity,
} from './common.ts';
import {
  arr,
  defaulted,
  duplicate,
  FIELD_IMMUTABLE,
  forbidden,
  goPtr,
  goQuote,
  invalid,
  invalidGo,
  isObj,
  notSupported,
  num,
  obj,
  required,
  str,
  tooLong,
  tooMany,
  type Obj,
} from './field.ts';
import { CIDR_INVALID, cidrContains, isValidCIDR, parseCIDRSloppy, parseIPSloppy, validateNonSpecialIP } from './net.ts';
import { validatePreemptionPolicy } from './pod.ts';

// --- networking.k8s.io ---

const INVALID_PATH_SEQUENCES = ['//', '/./', '/../', '%2f', '%2F'];
const INVALID_PATH_SUFFIXES = ['/..', '/.'];

function validateIngressBackend(b: Obj, p: string): FieldError[] {
  const hasResource = isObj(b.resource);
  const hasService = isObj(b.service);
  if (hasResource && hasService) return [invalid(p, '', 'cannot set both resource and service backends')];
  if (hasResource) {
    const r = b.resource;
    const errs: FieldError[] = [];
    if (typeof r.apiGroup === 'string') for (const m of isDNS1123Subdomain(r.apiGroup)) errs.push(invalid(`${p}.resource.apiGroup`, r.apiGroup, m));
    for (const f of ['kind', 'name']) {
      if (!str(r[f])) errs.push(required(`${p}.resource.${f}`));
      else for (const m of isValidPathSegmentName(str(r[f]))) errs.push(invalid(`${p}.resource.${f}`, str(r[f]), m));
    }
    return errs;
  }
  if (!hasService) return [invalid(p, '', 'resource or service backend is required')];
  const errs: FieldError[] = [];
  const s = b.service;
  const name = str(s.name);
  if (!name) errs.push(required(`${p}.service.name`));
  else for (const m of nameIsDNS1035Label(name, false)) errs.push(invalid(`${p}.service.name`, name, m));
  const portName = str(obj(s.port).name);
  const portNumber = num(obj(s.port).number) ?? 0;
  if (portName && portNumber) errs.push(invalid(p, '', 'cannot set both port name & port number'));
  else if (portName) for (const m of isValidPortName(portName)) errs.push(invalid(`${p}.service.port.name`, portName, m));
  else if (portNumber) for (const m of isValidPortNum(portNumber)) errs.push(invalid(`${p}.service.port.number`, portNumber, m));
  else errs.push(required(p, 'port name or number is required'));
  return errs;
}

function validateIngressRules(rules: unknown[], p: string): FieldError[] {
  const errs: FieldError[] = [];
  rules.forEach((raw, i) => {
    const rule = obj(raw);
    const rp = `${p}[${i}]`;
    const host = str(rule.host);
    if (host) {
      if (parseIPSloppy(host)) errs.push(invalid(`${rp}.host`, host, 'must be a DNS name, not an IP address'));
      const msgs = host.includes('*') ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host);
      for (const m of msgs) errs.push(invalid(`${rp}.host`, host, m));
    }
    if (!isObj(rule.http)) return;
    const paths = arr(rule.http.paths);
    if (paths.length === 0) errs.push(required(`${rp}.http.paths`));
    paths.forEach((raw2, j) => {
      const path = obj(raw2);
      const pp = `${rp}.http.paths[${j}]`;
      if (typeof path.pathType !== 'string') {
        errs.push(required(`${pp}.pathType`, 'pathType must be specified'));
        return;
      }
      const value = str(path.path);
      switch (path.pathType) {
        case 'Exact':
        case 'Prefix':
          if (!value.startsWith('/')) errs.push(invalid(`${pp}.path`, value, 'must be an absolute path'));
          if (value) {
            for (const seq of INVALID_PATH_SEQUENCES) if (value.includes(seq)) errs.push(invalid(`${pp}.path`, value, `must not contain '${seq}'`));
            for (const suf of INVALID_PATH_SUFFIXES) if (value.endsWith(suf)) errs.push(invalid(`${pp}.path`, value, `cannot end with '${suf}'`));
          }
          break;
        case 'ImplementationSpecific':
          if (value && !value.startsWith('/')) errs.push(invalid(`${pp}.path`, value, 'must be an absolute path'));
          break;
        default:
          errs.push(notSupported(`${pp}.pathType`, path.pathType, ['Exact', 'ImplementationSpecific', 'Prefix']));
      }
      errs.push(...validateIngressBackend(obj(path.backend), `${pp}.backend`));
    });
  });
  return errs;
}

export function validateIngress(ing: Obj, opts: { create: boolean }): FieldError[] {
  const spec = obj(ing.spec);
  const errs: FieldError[] = [];
  const rules = arr(spec.rules);
  if (rules.length === 0 && !isObj(spec.defaultBackend)) {
    errs.push(invalidGo('spec', Array.isArray(spec.rules) ? '[]networking.IngressRule{}' : '[]networking.IngressRule(nil)', 'either `defaultBackend` or `rules` must be specified'));
  }
  if (isObj(spec.defaultBackend)) errs.push(...validateIngressBackend(spec.defaultBackend, 'spec.defaultBackend'));
  if (rules.length) errs.push(...validateIngressRules(rules, 'spec.rules'));
  arr(spec.tls).forEach((raw, i) => {
    const tls = obj(raw);
    arr(tls.hosts).forEach((h, j) => {
      const host = String(h);
      const msgs = host.includes('*') ? isWildcardDNS1123Subdomain(host) : isDNS1123Subdomain(host);
      for (const m of msgs) errs.push(invalid(`spec.tls[${i}].hosts[${j}]`, host, m));
    });
    const secret = str(tls.secretName);
    if (secret) for (const m of nameIsDNSSubdomain(secret, false)) errs.push(invalid(`spec.tls[${i}].secretName`, secret, m));
  });
  if (typeof spec.ingressClassName === 'string') {
    for (const m of nameIsDNSSubdomain(spec.ingressClassName, false)) errs.push(invalid('spec.ingressClassName', spec.ingressClassName, m));
  }
  if (opts.create) {
    const ann = obj(obj(ing.metadata).annotations);
    const cls = ann['kubernetes.io/ingress.class'];
    if (typeof cls === 'string' && typeof spec.ingressClassName === 'string' && cls !== spec.ingressClassName) {
      errs.push(invalid('annotations.kubernetes.io/ingress.class', cls, 'must match `ingressClassName` when both are specified'));
    }
  }
  return errs;
}

export function validateIngressClass(ic: Obj): FieldError[] {
  const spec = obj(ic.spec);
  const errs: FieldError[] = [];
  const controller = str(spec.controller);
  if (!controller) errs.push(required('spec.controller'));
  else {
    if (controller.length > 250) errs.push(tooLong('spec.controller', 250));
    errs.push(...isDomainPrefixedPath('spec.controller', controller));
  }
  if (isObj(spec.parameters)) {
    const params = spec.parameters;
    const pp = 'spec.parameters';
    if (typeof params.apiGroup === 'string') for (const m of isDNS1123Subdomain(params.apiGroup)) errs.push(invalid(`${pp}.apiGroup`, params.apiGroup, m));
    for (const f of ['kind', 'name']) {
      if (!str(params[f])) errs.push(required(`${pp}.${f}`));
      else for (const m of isValidPathSegmentName(str(params[f]))) errs.push(invalid(`${pp}.${f}`, str(params[f]), m));
    }
    // scope defaults to Cluster.
    const scope = defaulted(params.scope) ? 'Cluster' : str(params.scope);
    if (scope !== 'Cluster' && scope !== 'Namespace') errs.push(notSupported(`${pp}.scope`, scope, ['Cluster', 'Namespace']));
    else if (scope === 'Namespace') {
      if (typeof params.namespace !== 'string') errs.push(required(`${pp}.namespace`, "`parameters.scope` is set to 'Namespace'"));
      else for (const m of validateNamespaceName(params.namespace, false)) errs.push(invalid(`${pp}.namespace`, params.namespace, m));
    } else if (typeof params.namespace === 'string') errs.push(forbidden(`${pp}.namespace`, "`parameters.scope` is set to 'Cluster'"));
  }
  return errs;
}

export function validateIngressClassUpdate(next: Obj, old: Obj): FieldError[] {
  const a = str(obj(next.spec).controller);
  const b = str(obj(old.spec).controller);
  const errs = a === b ? [] : [invalid('spec.controller', a, FIELD_IMMUTABLE)];
  return [...errs, ...validateIngressClass(next)];
}

function validateNetworkPolicyPort(port: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  if (typeof port.protocol === 'string' && !['TCP', 'UDP', 'SCTP'].includes(port.protocol)) errs.push(notSupported(`${p}.protocol`, port.protocol, ['TCP', 'UDP', 'SCTP']));
  const endPort = num(port.endPort);
  if (port.port !== undefined && port.port !== null) {
    if (typeof port.port === 'number') {
      for (const m of isValidPortNum(port.port)) errs.push(invalid(`${p}.port`, port.port, m));
      if (endPort !== undefined) {
        if (endPort < port.port) errs.push(invalid(`${p}.endPort`, endPort, 'must be greater than or equal to `port`'));
        for (const m of isValidPortNum(endPort)) errs.push(invalid(`${p}.endPort`, endPort, m));
      }
    } else {
      if (endPort !== undefined) errs.push(invalid(`${p}.endPort`, endPort, 'may not be specified when `port` is non-numeric'));
      for (const m of isValidPortName(String(port.port))) errs.push(invalid(`${p}.port`, String(port.port), m));
    }
  } else if (endPort !== undefined) errs.push(invalid(`${p}.endPort`, endPort, 'may not be specified when `port` is not specified'));
  return errs;
}

function validateNetworkPolicyPeer(peer: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  let n = 0;
  if (isObj(peer.podSelector)) {
    n++;
    errs.push(...validateLabelSelector(peer.podSelector, `${p}.podSelector`));
  }
  if (isObj(peer.namespaceSelector)) {
    n++;
    errs.push(...validateLabelSelector(peer.namespaceSelector, `${p}.namespaceSelector`));
  }
  if (isObj(peer.ipBlock)) {
    n++;
    const ipb = peer.ipBlock;
    const cidr = str(ipb.cidr);
    if (!cidr) errs.push(required(`${p}.ipBlock.cidr`));
    else {
      errs.push(...isValidCIDR(`${p}.ipBlock.cidr`, cidr));
      const parsed = parseCIDRSloppy(cidr);
      if (parsed) {
        arr(ipb.except).forEach((ex, i) => {
          const ep = `${p}.ipBlock.except[${i}]`;
          const e = parseCIDRSloppy(String(ex));
          if (!e) {
            errs.push(invalid(ep, String(ex), CIDR_INVALID));
            return;
          }
          if (!cidrContains(parsed, e.ip) || parsed.prefix >= e.prefix) errs.push(invalid(ep, String(ex), 'must be a strict subset of `cidr`'));
        });
      }
    }
  }
  if (n === 0) errs.push(required(p, 'must specify a peer'));
  else if (n > 1 && isObj(peer.ipBlock)) errs.push(forbidden(p, 'may not specify both ipBlock and another peer'));
  return errs;
}

export function validateNetworkPolicy(np: Obj): FieldError[] {
  const spec = obj(np.spec);
  const errs = validateLabelSelector(spec.podSelector ?? {}, 'spec.podSelector');
  for (const [dir, peers] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    arr(spec[dir]).forEach((raw, i) => {
      const rule = obj(raw);
      const rp = `spec.${dir}[${i}]`;
      arr(rule.ports).forEach((port, j) => errs.push(...validateNetworkPolicyPort(obj(port), `${rp}.ports[${j}]`)));
      arr(rule[peers]).forEach((peer, j) => errs.push(...validateNetworkPolicyPeer(obj(peer), `${rp}.${peers}[${j}]`)));
    });
  }
  const types = arr(spec.policyTypes).map(String);
  if (types.length > 2) {
    errs.push(invalidGo('spec.policyTypes', `&[]networking.PolicyType{${types.map((t) => goQuote(t)).join(', ')}}`, 'may not specify more than two policyTypes'));
    return errs;
  }
  types.forEach((t, i) => {
    if (t !== 'Ingress' && t !== 'Egress') errs.push(notSupported(`spec.policyTypes[${i}]`, t, ['Ingress', 'Egress']));
  });
  return errs;
}

// --- policy ---

function goPDBSpec(spec: Obj): string {
  return (
    `policy.PodDisruptionBudgetSpec{MinAvailable:${goPtr('intstr.IntOrString', spec.minAvailable, 6)}, ` +
    `Selector:${goPtr('v1.LabelSelector', spec.selector, 7)}, MaxUnavailable:${goPtr('intstr.IntOrString', spec.maxUnavailable, 8)}, ` +
    `UnhealthyPodEvictionPolicy:${goPtr('policy.UnhealthyPodEvictionPolicyType', spec.unhealthyPodEvictionPolicy, 9)}}`
  );
}

export function validatePodDisruptionBudget(pdb: Obj): FieldError[] {
  const spec = obj(pdb.spec);
  const errs: FieldError[] = [];
  const has = (v: unknown) => v !== undefined && v !== null;
  if (has(spec.minAvailable) && has(spec.maxUnavailable)) errs.push(invalidGo('spec', goPDBSpec(spec), 'minAvailable and maxUnavailable cannot be both set'));
  for (const f of ['minAvailable', 'maxUnavailable']) {
    if (!has(spec[f])) continue;
    errs.push(...positiveIntOrPercent(`spec.${f}`, spec[f]));
    errs.push(...notMoreThan100Percent(`spec.${f}`, spec[f]));
  }
  errs.push(...validateLabelSelector(spec.selector, 'spec.selector'));
  if (typeof spec.unhealthyPodEvictionPolicy === 'string' && !['AlwaysAllow', 'IfHealthyBudget'].includes(spec.unhealthyPodEvictionPolicy)) {
    errs.push(notSupported('spec.unhealthyPodEvictionPolicy', spec.unhealthyPodEvictionPolicy, ['AlwaysAllow', 'IfHealthyBudget']));
  }
  return errs;
}

// --- rbac.authorization.k8s.io ---

const RBAC_GROUP = 'rbac.authorization.k8s.io';

function validatePolicyRule(rule: Obj, namespaced: boolean, p: string): FieldError[] {
  const errs: FieldError[] = [];
  if (arr(rule.verbs).length === 0) errs.push(required(`${p}.verbs`, 'verbs must contain at least one value'));
  const urls = arr(rule.nonResourceURLs);
  if (urls.length > 0) {
    const go = `[]string{${urls.map((u) => goQuote(String(u))).join(', ')}}`;
    if (namespaced) errs.push(invalidGo(`${p}.nonResourceURLs`, go, 'namespaced rules cannot apply to non-resource URLs'));
    if (arr(rule.apiGroups).length || arr(rule.resources).length || arr(rule.resourceNames).length) {
      errs.push(invalidGo(`${p}.nonResourceURLs`, go, 'rules cannot apply to both regular resources and non-resource URLs'));
    }
    return errs;
  }
  if (arr(rule.apiGroups).length === 0) errs.push(required(`${p}.apiGroups`, 'resource rules must supply at least one api group'));
  if (arr(rule.resources).length === 0) errs.push(required(`${p}.resources`, 'resource rules must supply at least one resource'));
  if (arr(rule.resourceNames).length > 0 && arr(rule.resources).length > 1) {
    errs.push(required(`${p}.resourceNames`, 'resource names cannot apply to multiple resources'));
  }
  return errs;
}

export function validateRole(role: Obj, opts: { namespaced: boolean }): FieldError[] {
  const errs: FieldError[] = [];
  arr(role.rules).forEach((r, i) => errs.push(...validatePolicyRule(obj(r), opts.namespaced, `rules[${i}]`)));
  if (!opts.namespaced && isObj(role.aggregationRule)) {
    const sels = arr(role.aggregationRule.clusterRoleSelectors);
    if (sels.length === 0) errs.push(required('aggregationRule.clusterRoleSelectors', 'at least one clusterRoleSelector required if aggregationRule is non-nil'));
    sels.forEach((s, i) => errs.push(...validateLabelSelector(obj(s), `aggregationRule.clusterRoleSelectors[${i}]`)));
  }
  return errs;
}

function validateSubject(s: Obj, namespaced: boolean, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(s.name);
  if (!name) errs.push(required(`${p}.name`));
  switch (str(s.kind)) {
    case 'ServiceAccount':
      if (name) for (const m of nameIsDNSSubdomain(name, false)) errs.push(invalid(`${p}.name`, name, m));
      if (str(s.apiGroup)) errs.push(notSupported(`${p}.apiGroup`, str(s.apiGroup), ['']));
      if (!namespaced && !str(s.namespace)) errs.push(required(`${p}.namespace`));
      break;
    case 'User':
    case 'Group':
      if (!name) errs.push(invalid(`${p}.name`, name, `${s.kind === 'User' ? 'user' : 'group'} name cannot be empty`));
      // apiGroup defaults to rbac.authorization.k8s.io for users and groups.
      if (!defaulted(s.apiGroup) && str(s.apiGroup) !== RBAC_GROUP) errs.push(notSupported(`${p}.apiGroup`, str(s.apiGroup), [RBAC_GROUP]));
      break;
    default:
      errs.push(notSupported(`${p}.kind`, str(s.kind), ['ServiceAccount', 'User', 'Group']));
  }
  return errs;
}

export function validateRoleBinding(rb: Obj, opts: { namespaced: boolean }): FieldError[] {
  const errs: FieldError[] = [];
  const ref = obj(rb.roleRef);
  // roleRef.apiGroup defaults to rbac.authorization.k8s.io.
  if (!defaulted(ref.apiGroup) && str(ref.apiGroup) !== RBAC_GROUP) errs.push(notSupported('roleRef.apiGroup', str(ref.apiGroup), [RBAC_GROUP]));
  const kinds = opts.namespaced ? ['Role', 'ClusterRole'] : ['ClusterRole'];
  if (!kinds.includes(str(ref.kind))) errs.push(notSupported('roleRef.kind', str(ref.kind), kinds));
  const name = str(ref.name);
  if (!name) errs.push(required('roleRef.name'));
  else for (const m of isValidPathSegmentName(name)) errs.push(invalid('roleRef.name', name, m));
  arr(rb.subjects).forEach((s, i) => errs.push(...validateSubject(obj(s), opts.namespaced, `subjects[${i}]`)));
  return errs;
}

export function validateRoleBindingUpdate(next: Obj, old: Obj, opts: { namespaced: boolean }): FieldError[] {
  const errs = validateRoleBinding(next, opts);
  const a = obj(next.roleRef);
  const b = obj(old.roleRef);
  if (str(a.apiGroup) !== str(b.apiGroup) || str(a.kind) !== str(b.kind) || str(a.name) !== str(b.name)) {
    errs.push(invalidGo('roleRef', `rbac.RoleRef{APIGroup:${goQuote(str(a.apiGroup))}, Kind:${goQuote(str(a.kind))}, Name:${goQuote(str(a.name))}}`, 'cannot change roleRef'));
  }
  return errs;
}

// --- scheduling.k8s.io ---

const HIGHEST_USER_PRIORITY = 1000000000;
const SYSTEM_CLASSES: Record<string, number> = { 'system-node-critical': 2000001000, 'system-cluster-critical': 2000000000 };

export function validatePriorityClass(pc: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(obj(pc.metadata).name);
  const value = num(pc.value) ?? 0;
  const globalDefault = pc.globalDefault === true;
  if (name.startsWith('system-')) {
    let err: string | undefined;
    if (!Object.hasOwn(SYSTEM_CLASSES, name)) err = `${name} is not a known system priority class`;
    else if (SYSTEM_CLASSES[name] !== value) err = `value of ${name} PriorityClass must be ${SYSTEM_CLASSES[name]}`;
    else if (globalDefault) err = `globalDefault of ${name} PriorityClass must be false`;
    if (err) errs.push(forbidden('metadata.name', `priority class names with 'system-' prefix are reserved for system use only. error: ${err}`));
  } else if (value > HIGHEST_USER_PRIORITY) {
    errs.push(forbidden('value', `maximum allowed value of a user defined priority is ${HIGHEST_USER_PRIORITY}`));
  }
  if (typeof pc.preemptionPolicy === 'string') errs.push(...validatePreemptionPolicy(pc.preemptionPolicy, 'preemptionPolicy'));
  return errs;
}

export function validatePriorityClassUpdate(next: Obj, old: Obj): FieldError[] {
  const errs: FieldError[] = [];
  if ((num(next.value) ?? 0) !== (num(old.value) ?? 0)) errs.push(forbidden('value', 'may not be changed in an update.'));
  const np = defaulted(next.preemptionPolicy) ? 'PreemptLowerPriority' : str(next.preemptionPolicy);
  const op = defaulted(old.preemptionPolicy) ? 'PreemptLowerPriority' : str(old.preemptionPolicy);
  if (np !== op) errs.push(invalid('preemptionPolicy', np, FIELD_IMMUTABLE));
  return errs;
}

// --- autoscaling/v2 ---

const METRIC_TYPES = ['ContainerResource', 'External', 'Object', 'Pods', 'Resource'];
const METRIC_FIELDS: Record<string, string> = {
  Object: 'object',
  Pods: 'pods',
  Resource: 'resource',
  External: 'external',
  ContainerResource: 'containerResource',
};

function validateMetricTarget(t: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const type = str(t.type);
  if (!type) errs.push(required(`${p}.type`, 'must specify a metric target type'));
  if (type !== 'Utilization' && type !== 'Value' && type !== 'AverageValue') errs.push(invalid(`${p}.type`, type, 'must be either Utilization, Value, or AverageValue'));
  for (const f of ['value', 'averageValue']) {
    const q = t[f] === undefined || t[f] === null ? undefined : quantity(t[f]);
    if (q && q.sign() !== 1) errs.push(invalidGo(`${p}.${f}`, q.goString(), 'must be positive'));
  }
  const au = num(t.averageUtilization);
  if (au !== undefined && au < 1) errs.push(invalid(`${p}.averageUtilization`, au, 'must be greater than 0'));
  return errs;
}

function validateMetricIdentifier(id: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  const name = str(id.name);
  if (!name) errs.push(required(`${p}.name`, 'must specify a metric name'));
  else for (const m of isValidPathSegmentName(name)) errs.push(invalid(`${p}.name`, name, m));
  if (isObj(id.selector)) errs.push(...validateLabelSelector(id.selector, `${p}.selector`));
  return errs;
}

function validateMetricSource(key: string, src: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  switch (key) {
    case 'object':
      errs.push(...validateCrossVersionObjectReference(obj(src.describedObject), `${p}.describedObject`));
      errs.push(...validateMetricIdentifier(obj(src.metric), `${p}.metric`));
      errs.push(...validateMetricTarget(obj(src.target), `${p}.target`));
      if (obj(src.target).value === undefined && obj(src.target).averageValue === undefined) {
        errs.push(required(`${p}.target.averageValue`, 'must set either a target value or averageValue'));
      }
      break;
    case 'pods':
    case 'external':
      errs.push(...validateMetricIdentifier(obj(src.metric), `${p}.metric`));
      errs.push(...validateMetricTarget(obj(src.target), `${p}.target`));
      break;
    case 'resource':
    case 'containerResource':
      if (!str(src.name)) errs.push(required(`${p}.name`, 'must specify a resource name'));
      if (key === 'containerResource' && !str(src.container)) errs.push(required(`${p}.container`, 'must specify a container'));
      errs.push(...validateMetricTarget(obj(src.target), `${p}.target`));
      break;
  }
  return errs;
}

function validateCrossVersionObjectReference(ref: Obj, p: string): FieldError[] {
  const errs: FieldError[] = [];
  for (const f of ['kind', 'name']) {
    const v = str(ref[f]);
    if (!v) errs.push(required(`${p}.${f}`));
    else for (const m of isValidPathSegmentName(v)) errs.push(invalid(`${p}.${f}`, v, m));
  }
  return errs;
}

function validateScalingRules(rules: unknown, p: string): FieldError[] {
  if (!isObj(rules)) return [];
  const errs: FieldError[] = [];
  const sw = num(rules.stabilizationWindowSeconds);
  if (sw !== undefined && sw < 0) errs.push(invalid(`${p}.stabilizationWindowSeconds`, sw, 'must be greater than or equal to zero'));
  if (sw !== undefined && sw > 3600) errs.push(invalid(`${p}.stabilizationWindowSeconds`, sw, 'must be less than or equal to 3600'));
  if (typeof rules.selectPolicy === 'string' && !['Max', 'Min', 'Disabled'].includes(rules.selectPolicy)) {
    errs.push(notSupported(`${p}.selectPolicy`, rules.selectPolicy, ['Disabled', 'Max', 'Min']));
  }
  const policies = arr(rules.policies);
  if (policies.length === 0) errs.push(required(`${p}.policies`, 'must specify at least one Policy'));
  policies.forEach((raw, i) => {
    const pol = obj(raw);
    const pp = `${p}.policies[${i}]`;
    const type = str(pol.type);
    if (type !== 'Pods' && type !== 'Percent') errs.push(notSupported(`${pp}.type`, type, ['Percent', 'Pods']));
    if ((num(pol.value) ?? 0) <= 0) errs.push(invalid(`${pp}.value`, num(pol.value) ?? 0, 'must be greater than zero'));
    const period = num(pol.periodSeconds) ?? 0;
    if (period <= 0) errs.push(invalid(`${pp}.periodSeconds`, period, 'must be greater than zero'));
    if (period > 1800) errs.push(invalid(`${pp}.periodSeconds`, period, 'must be less than or equal to 1800'));
  });
  return errs;
}

export function validateHorizontalPodAutoscaler(hpa: Obj): FieldError[] {
  const spec = obj(hpa.spec);
  const errs: FieldError[] = [];
  const min = num(spec.minReplicas);
  const max = num(spec.maxReplicas) ?? 0;
  if (min !== undefined && min < 1) errs.push(invalid('spec.minReplicas', min, 'must be greater than or equal to 1'));
  if (max < 1) errs.push(invalid('spec.maxReplicas', max, 'must be greater than 0'));
  if (min !== undefined && max < min) errs.push(invalid('spec.maxReplicas', max, 'must be greater than or equal to `minReplicas`'));
  errs.push(...validateCrossVersionObjectReference(obj(spec.scaleTargetRef), 'spec.scaleTargetRef'));
  arr(spec.metrics).forEach((raw, i) => {
    const m = obj(raw);
    const mp = `spec.metrics[${i}]`;
    const type = str(m.type);
    if (!type) errs.push(required(`${mp}.type`, 'must specify a metric source type'));
    if (!METRIC_TYPES.includes(type)) errs.push(notSupported(`${mp}.type`, type, METRIC_TYPES));
    const present = Object.values(METRIC_FIELDS).filter((f) => isObj(m[f]));
    if (present.length === 1) errs.push(...validateMetricSource(present[0], m[present[0]], `${mp}.${present[0]}`));
    const expected = METRIC_FIELDS[type];
    if (expected && !isObj(m[expected])) errs.push(required(`${mp}.${expected}`, 'must populate information for the given metric source'));
    if (!expected) errs.push(notSupported(`${mp}.type`, type, METRIC_TYPES));
    if (present.length !== 1) for (const f of present.filter((f) => f !== expected)) errs.push(forbidden(`${mp}.${f}`, 'must populate the given metric source only'));
  });
  if (isObj(spec.behavior)) {
    errs.push(...validateScalingRules(spec.behavior.scaleUp, 'spec.behavior.scaleUp'));
    errs.push(...validateScalingRules(spec.behavior.scaleDown, 'spec.behavior.scaleDown'));
  }
  return errs;
}

// --- coordination.k8s.io ---

export function validateLease(lease: Obj): FieldError[] {
  const spec = obj(lease.spec);
  const errs: FieldError[] = [];
  const d = num(spec.leaseDurationSeconds);
  if (d !== undefined && d <= 0) errs.push(invalid('spec.leaseDurationSeconds', d, 'must be greater than 0'));
  const t = num(spec.leaseTransitions);
  if (t !== undefined && t < 0) errs.push(invalid('spec.leaseTransitions', t, 'must be greater than or equal to 0'));
  if (typeof spec.strategy === 'string') {
    const s = spec.strategy;
    if (!s.includes('/')) {
      if (s !== 'OldestEmulationVersion') errs.push(notSupported('spec.strategy.strategy', s, ['OldestEmulationVersion']));
    } else errs.push(...qualifiedName('spec.strategy.strategy', s));
  }
  if (typeof spec.preferredHolder === 'string' && spec.preferredHolder && !str(spec.strategy)) {
    errs.push(forbidden('spec.preferredHolder', 'may only be specified if `strategy` is defined'));
  }
  return errs;
}

// --- discovery.k8s.io ---

const ADDRESS_TYPES = ['FQDN', 'IPv4', 'IPv6'];

export function validateEndpointSlice(es: Obj): FieldError[] {
  const errs: FieldError[] = [];
  const addressType = str(es.addressType);
  if (!addressType) errs.push(required('addressType'));
  else if (!ADDRESS_TYPES.includes(addressType)) errs.push(notSupported('addressType', addressType, ADDRESS_TYPES));
  const endpoints = arr(es.endpoints);
  if (endpoints.length > 1000) errs.push(tooMany('endpoints', endpoints.length, 1000));
  else {
    endpoints.forEach((raw, i) => {
      const ep = obj(raw);
      const ip = `endpoints[${i}]`;
      const addrs = arr(ep.addresses).map(String);
      if (addrs.length === 0) errs.push(required(`${ip}.addresses`, 'must contain at least 1 address'));
      else if (addrs.length > 100) errs.push(tooMany(`${ip}.addresses`, addrs.length, 100));
      addrs.forEach((a, j) => {
        const ap = `${ip}.addresses[${j}]`;
        if (addressType === 'IPv4' || addressType === 'IPv6') {
          const parsed = parseIPSloppy(a);
          const ok = parsed && parsed.v4 === (addressType === 'IPv4');
          if (!ok) errs.push(invalid(ap, a, `must be a valid ${addressType} address`));
          else errs.push(...validateNonSpecialIP(ap, a));
        } else if (addressType === 'FQDN') errs.push(...isFullyQualifiedDomainName(ap, a));
      });
      if (typeof ep.nodeName === 'string') for (const m of nameIsDNSSubdomain(ep.nodeName, false)) errs.push(invalid(`${ip}.nodeName`, ep.nodeName, m));
      const topo = obj(ep.deprecatedTopology);
      if (Object.keys(topo).length > 16) errs.push(tooMany(`${ip}.deprecatedTopology`, Object.keys(topo).length, 16));
      errs.push(...validateLabels(topo as Record<string, string>, `${ip}.deprecatedTopology`));
      if (typeof ep.hostname === 'string') errs.push(...dns1123Label(`${ip}.hostname`, ep.hostname));
      if (isObj(ep.hints)) {
        const zones = arr(ep.hints.forZones);
        if (zones.length > 8) errs.push(tooMany(`${ip}.hints.forZones`, zones.length, 8));
        const seen = new Set<string>();
        zones.forEach((z, k) => {
          const name = str(z?.name);
          if (seen.has(name)) errs.push(duplicate(`${ip}.hints.forZones[${k}].name`, name));
          seen.add(name);
        });
      }
    });
  }
  const ports = arr(es.ports);
  if (ports.length > 20000) errs.push(tooMany('ports', ports.length, 20000));
  else {
    const names = new Set<string>();
    ports.forEach((raw, i) => {
      const port = obj(raw);
      const pp = `ports[${i}]`;
      // name defaults to "" and protocol to TCP.
      const name = str(port.name);
      if (name) errs.push(...dns1123Label(`${pp}.name`, name));
      if (names.has(name)) errs.push(duplicate(`${pp}.name`, name));
      else names.add(name);
      if (!defaulted(port.protocol) && !['SCTP', 'TCP', 'UDP'].includes(str(port.protocol))) errs.push(notSupported(`${pp}.protocol`, str(port.protocol), ['SCTP', 'TCP', 'UDP']));
      if (typeof port.appProtocol === 'string') errs.push(...qualifiedName(`${pp}.appProtocol`, port.appProtocol));
    });
  }
  return errs;
}

export function validateEndpointSliceUpdate(next: Obj, old: Obj): FieldError[] {
  const errs = validateEndpointSlice(next);
  const oldType = str(old.addressType);
  if (ADDRESS_TYPES.includes(oldType) && str(next.addressType) !== oldType) errs.push(invalid('addressType', str(next.addressType), FIELD_IMMUTABLE));
  return errs;
}

