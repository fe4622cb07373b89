// Defaults of the remaining groups: networking.k8s.io, discovery.k8s.io, policy,
// rbac.authorization.k8s.io, scheduling.k8s.io, storage.k8s.io, coordination.k8s.io
// (pkg/apis/<group>/v1/defaults.go, 1.32) and apiextensions.k8s.io
// (apiextensions-apiserver's pkg/apis/apiextensions/v1/defaults.go). policy/v1, coordination/v1 and events/v1 have
// no defaulting functions; what they get here is only the shape Go writes them in.

import { defaultPointer, defaultString, isObj, objects, type Obj, struct } from './util.ts';

const RBAC_GROUP = 'rbac.authorization.k8s.io';

export function defaultNetworkPolicy(np: Obj): void {
  const spec = struct(np, 'spec');
  struct(spec, 'podSelector');
  // No policyTypes: the policy is about ingress, and about egress too when it has rules for it.
  if (!Array.isArray(spec.policyTypes) || spec.policyTypes.length === 0) {
    spec.policyTypes = Array.isArray(spec.egress) && spec.egress.length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  }
  for (const rule of [...objects(spec.ingress), ...objects(spec.egress)]) {
    for (const port of objects(rule.ports)) defaultPointer(port, 'protocol', 'TCP');
  }
}

export function defaultIngress(ing: Obj): void {
  struct(ing, 'spec');
  struct(struct(ing, 'status'), 'loadBalancer');
}

export function defaultIngressClass(ic: Obj): void {
  const spec = struct(ic, 'spec');
  if (isObj(spec.parameters)) defaultPointer(spec.parameters, 'scope', 'Cluster');
}

export function defaultEndpointSlice(es: Obj): void {
  // endpoints and ports carry no omitempty: a slice without them shows them as null.
  if (es.endpoints === undefined) es.endpoints = null;
  if (es.ports === undefined) es.ports = null;
  for (const ep of objects(es.endpoints)) struct(ep, 'conditions');
  for (const port of objects(es.ports)) {
    defaultPointer(port, 'name', '');
    defaultPointer(port, 'protocol', 'TCP');
  }
}

export function defaultPodDisruptionBudget(pdb: Obj): void {
  struct(pdb, 'spec');
  const status = struct(pdb, 'status');
  for (const f of ['disruptionsAllowed', 'currentHealthy', 'desiredHealthy', 'expectedPods']) defaultPointer(status, f, 0);
}

export function defaultRole(role: Obj): void {
  if (role.rules === undefined) role.rules = null;
}

export function defaultRoleBinding(rb: Obj): void {
  defaultString(struct(rb, 'roleRef'), 'apiGroup', RBAC_GROUP);
  for (const subject of objects(rb.subjects)) {
    // Users and groups belong to the RBAC group; service accounts to the core group ("").
    if (subject.apiGroup === undefined || subject.apiGroup === null || subject.apiGroup === '') {
      if (subject.kind === 'User' || subject.kind === 'Group') subject.apiGroup = RBAC_GROUP;
      else if (subject.kind === 'ServiceAccount') delete subject.apiGroup;
    }
  }
}

export function defaultPriorityClass(pc: Obj): void {
  defaultPointer(pc, 'value', 0);
  defaultPointer(pc, 'preemptionPolicy', 'PreemptLowerPriority');
}

export function defaultStorageClass(sc: Obj): void {
  defaultPointer(sc, 'provisioner', '');
  defaultPointer(sc, 'reclaimPolicy', 'Delete');
  defaultPointer(sc, 'volumeBindingMode', 'Immediate');
}

export function defaultLease(lease: Obj): void {
  struct(lease, 'spec');
}

export function defaultCustomResourceDefinition(crd: Obj): void {
  const spec = struct(crd, 'spec');
  const names = struct(spec, 'names');
  if (typeof names.kind === 'string') {
    defaultString(names, 'singular', names.kind.toLowerCase());
    if (names.kind) defaultString(names, 'listKind', `${names.kind}List`);
  }
  defaultPointer(spec, 'conversion', { strategy: 'None' });
  const service = spec.conversion?.webhook?.clientConfig?.service;
  if (isObj(service)) defaultPointer(service, 'port', 443);
  const status = struct(crd, 'status');
  // The storage version is the first stored version of a new definition.
  if (!Array.isArray(status.storedVersions) || status.storedVersions.length === 0) {
    const storage = objects(spec.versions).find((v) => v.storage === true);
    status.storedVersions = storage ? [storage.name] : null;
  }
  // Status fields without omitempty: empty until the controller accepts the names.
  const accepted = struct(status, 'acceptedNames');
  defaultPointer(accepted, 'kind', '');
  defaultPointer(accepted, 'plural', '');
  if (status.conditions === undefined) status.conditions = null;
}
