// The bootstrap RBAC policy (upstream plugin/pkg/auth/authorizer/rbac/bootstrappolicy):
// the default ClusterRoles, ClusterRoleBindings and kube-system Roles/RoleBindings every
// cluster starts with, labelled kubernetes.io/bootstrapping=rbac-defaults and annotated
// rbac.authorization.kubernetes.io/autoupdate=true. The rules are upstream's published
// policy (its testdata/cluster-roles.yaml), written here in a compact form:
// r('get,list,watch', '', 'pods,services') is one PolicyRule.
// The per-controller system:controller:* roles (controller_policy.go) are those of the
// controllers of 1.32 that need no alpha API (no DRA, SELinux, ServiceCIDR, VAP status).

import type { KObject } from '../../api/object.ts';
import type { PolicyRule, Subject } from './rbac.ts';

const list = (s: string) => s.split(',').filter((x) => x !== '' || s === '');
const groups = (s: string) => (s === '' ? [''] : s.split(','));

/** One rule: verbs, API groups ('' is core; comma-separated), resources, optional resourceNames. */
export function r(verbs: string, apiGroups: string, resources: string, resourceNames?: string): PolicyRule {
  const rule: PolicyRule = { verbs: list(verbs), apiGroups: groups(apiGroups), resources: list(resources) };
  if (resourceNames) rule.resourceNames = list(resourceNames);
  return rule;
}

/** A non-resource rule. */
export function nr(verbs: string, urls: string): PolicyRule {
  return { verbs: list(verbs), nonResourceURLs: list(urls) };
}

const READ = 'get,list,watch';
const WRITE = 'create,delete,deletecollection,patch,update';
const RW = 'create,delete,deletecollection,get,list,patch,update,watch';
const EVENTS_WRITE = r('create,patch,update', ',events.k8s.io', 'events');

export const BOOTSTRAP_LABELS = { 'kubernetes.io/bootstrapping': 'rbac-defaults' };
export const AUTOUPDATE_ANNOTATION = 'rbac.authorization.kubernetes.io/autoupdate';

/** upstream NodeRules(): what the Node authorizer grants a kubelet beyond its graph. */
export const NODE_RULES: PolicyRule[] = [
  r('create', 'authentication.k8s.io', 'tokenreviews'),
  r('create', 'authorization.k8s.io', 'localsubjectaccessreviews,subjectaccessreviews'),
  r(READ, '', 'services'),
  r('create,get,list,watch', '', 'nodes'),
  r('patch,update', '', 'nodes/status'),
  r('patch,update', '', 'nodes'),
  r('create,patch,update', '', 'events'),
  r(READ, '', 'pods'),
  r('create,delete', '', 'pods'),
  r('patch,update', '', 'pods/status'),
  r('create', '', 'pods/eviction'),
  r(READ, '', 'configmaps,secrets'),
  r('get', '', 'persistentvolumeclaims,persistentvolumes'),
  r('get', '', 'endpoints'),
  r('create,get,list,watch', 'certificates.k8s.io', 'certificatesigningrequests'),
  r('create,delete,get,patch,update', 'coordination.k8s.io', 'leases'),
  r('get', 'storage.k8s.io', 'volumeattachments'),
  r('create', '', 'serviceaccounts/token'),
  r('get,patch,update', '', 'persistentvolumeclaims/status'),
  r(READ, 'storage.k8s.io', 'csidrivers'),
  r('create,delete,get,patch,update', 'storage.k8s.io', 'csinodes'),
  r(READ, 'node.k8s.io', 'runtimeclasses'),
];

interface RoleSpec {
  name: string;
  rules?: PolicyRule[];
  /** aggregate-to-* labels this role carries. */
  aggregateTo?: string[];
  /** The label selected by this role's aggregationRule. */
  aggregateFrom?: string;
}

const CLUSTER_ROLES: RoleSpec[] = [
  { name: 'admin', aggregateFrom: 'rbac.authorization.k8s.io/aggregate-to-admin' },
  { name: 'cluster-admin', rules: [r('*', '*', '*'), nr('*', '*')] },
  { name: 'edit', aggregateFrom: 'rbac.authorization.k8s.io/aggregate-to-edit', aggregateTo: ['admin'] },
  {
    name: 'system:aggregate-to-admin',
    aggregateTo: ['admin'],
    rules: [r('create', 'authorization.k8s.io', 'localsubjectaccessreviews'), r(RW, 'rbac.authorization.k8s.io', 'rolebindings,roles')],
  },
  {
    name: 'system:aggregate-to-edit',
    aggregateTo: ['edit'],
    rules: [
      r(READ, '', 'pods/attach,pods/exec,pods/portforward,pods/proxy,secrets,services/proxy'),
      r('impersonate', '', 'serviceaccounts'),
      r(WRITE, '', 'pods,pods/attach,pods/exec,pods/portforward,pods/proxy'),
      r('create', '', 'pods/eviction'),
      r(WRITE, '', 'configmaps,events,persistentvolumeclaims,replicationcontrollers,replicationcontrollers/scale,secrets,serviceaccounts,services,services/proxy'),
      r('create', '', 'serviceaccounts/token'),
      r(WRITE, 'apps', 'daemonsets,deployments,deployments/rollback,deployments/scale,replicasets,replicasets/scale,statefulsets,statefulsets/scale'),
      r(WRITE, 'autoscaling', 'horizontalpodautoscalers'),
      r(WRITE, 'batch', 'cronjobs,jobs'),
      r(WRITE, 'extensions', 'daemonsets,deployments,deployments/rollback,deployments/scale,ingresses,networkpolicies,replicasets,replicasets/scale,replicationcontrollers/scale'),
      r(WRITE, 'policy', 'poddisruptionbudgets'),
      r(WRITE, 'networking.k8s.io', 'ingresses,networkpolicies'),
      r(RW, 'coordination.k8s.io', 'leases'),
    ],
  },
  {
    name: 'system:aggregate-to-view',
    aggregateTo: ['view'],
    rules: [
      r(READ, '', 'configmaps,endpoints,persistentvolumeclaims,persistentvolumeclaims/status,pods,replicationcontrollers,replicationcontrollers/scale,serviceaccounts,services,services/status'),
      r(READ, '', 'bindings,events,limitranges,namespaces/status,pods/log,pods/status,replicationcontrollers/status,resourcequotas,resourcequotas/status'),
      r(READ, '', 'namespaces'),
      r(READ, 'discovery.k8s.io', 'endpointslices'),
      r(READ, 'apps', 'controllerrevisions,daemonsets,daemonsets/status,deployments,deployments/scale,deployments/status,replicasets,replicasets/scale,replicasets/status,statefulsets,statefulsets/scale,statefulsets/status'),
      r(READ, 'autoscaling', 'horizontalpodautoscalers,horizontalpodautoscalers/status'),
      r(READ, 'batch', 'cronjobs,cronjobs/status,jobs,jobs/status'),
      r(READ, 'extensions', 'daemonsets,daemonsets/status,deployments,deployments/scale,deployments/status,ingresses,ingresses/status,networkpolicies,replicasets,replicasets/scale,replicasets/status,replicationcontrollers/scale'),
      r(READ, 'policy', 'poddisruptionbudgets,poddisruptionbudgets/status'),
      r(READ, 'networking.k8s.io', 'ingresses,ingresses/status,networkpolicies'),
    ],
  },
  { name: 'system:auth-delegator', rules: [r('create', 'authentication.k8s.io', 'tokenreviews'), r('create', 'authorization.k8s.io', 'subjectaccessreviews')] },
  {
    name: 'system:basic-user',
    rules: [r('create', 'authorization.k8s.io', 'selfsubjectaccessreviews,selfsubjectrulesreviews'), r('create', 'authentication.k8s.io', 'selfsubjectreviews')],
  },
  { name: 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', rules: [r('create', 'certificates.k8s.io', 'certificatesigningrequests/nodeclient')] },
  { name: 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', rules: [r('create', 'certificates.k8s.io', 'certificatesigningrequests/selfnodeclient')] },
  { name: 'system:certificates.k8s.io:kube-apiserver-client-approver', rules: [r('approve', 'certificates.k8s.io', 'signers', 'kubernetes.io/kube-apiserver-client')] },
  { name: 'system:certificates.k8s.io:kube-apiserver-client-kubelet-approver', rules: [r('approve', 'certificates.k8s.io', 'signers', 'kubernetes.io/kube-apiserver-client-kubelet')] },
  { name: 'system:certificates.k8s.io:kubelet-serving-approver', rules: [r('approve', 'certificates.k8s.io', 'signers', 'kubernetes.io/kubelet-serving')] },
  { name: 'system:certificates.k8s.io:legacy-unknown-approver', rules: [r('approve', 'certificates.k8s.io', 'signers', 'kubernetes.io/legacy-unknown')] },
  { name: 'system:discovery', rules: [nr('get', '/api,/api/*,/apis,/apis/*,/healthz,/livez,/openapi,/openapi/*,/readyz,/version,/version/')] },
  { name: 'system:heapster', rules: [r(READ, '', 'events,namespaces,nodes,pods'), r(READ, 'extensions', 'deployments')] },
  { name: 'system:kube-aggregator', rules: [r(READ, '', 'endpoints,services')] },
  {
    name: 'system:kube-controller-manager',
    rules: [
      EVENTS_WRITE,
      r('create', 'coordination.k8s.io', 'leases'),
      r('get,update', 'coordination.k8s.io', 'leases', 'kube-controller-manager'),
      r('create', '', 'secrets,serviceaccounts'),
      r('delete', '', 'secrets'),
      r('get', '', 'configmaps,namespaces,secrets,serviceaccounts'),
      r('update', '', 'secrets,serviceaccounts'),
      r('create', 'authentication.k8s.io', 'tokenreviews'),
      r('create', 'authorization.k8s.io', 'subjectaccessreviews'),
      r('list,watch', '*', '*'),
      r('create', '', 'serviceaccounts/token'),
    ],
  },
  { name: 'system:kube-dns', rules: [r('list,watch', '', 'endpoints,services')] },
  {
    name: 'system:kube-scheduler',
    rules: [
      EVENTS_WRITE,
      r('create', 'coordination.k8s.io', 'leases'),
      r('get,update', 'coordination.k8s.io', 'leases', 'kube-scheduler'),
      r(READ, '', 'nodes'),
      r('delete,get,list,watch', '', 'pods'),
      r('create', '', 'bindings,pods/binding'),
      r('patch,update', '', 'pods/status'),
      r(READ, '', 'replicationcontrollers,services'),
      r(READ, 'apps,extensions', 'replicasets'),
      r(READ, 'apps', 'statefulsets'),
      r(READ, 'policy', 'poddisruptionbudgets'),
      r(READ, '', 'persistentvolumeclaims,persistentvolumes'),
      r('create', 'authentication.k8s.io', 'tokenreviews'),
      r('create', 'authorization.k8s.io', 'subjectaccessreviews'),
      r(READ, 'storage.k8s.io', 'csinodes'),
      r(READ, '', 'namespaces'),
      r(READ, 'storage.k8s.io', 'csidrivers'),
      r(READ, 'storage.k8s.io', 'csistoragecapacities'),
    ],
  },
  { name: 'system:kubelet-api-admin', rules: [r(READ, '', 'nodes'), r('proxy', '', 'nodes'), r('*', '', 'nodes/log,nodes/metrics,nodes/proxy,nodes/stats')] },
  { name: 'system:monitoring', rules: [nr('get', '/healthz,/healthz/*,/livez,/livez/*,/metrics,/metrics/slis,/readyz,/readyz/*')] },
  { name: 'system:node', rules: NODE_RULES },
  { name: 'system:node-bootstrapper', rules: [r('create,get,list,watch', 'certificates.k8s.io', 'certificatesigningrequests')] },
  { name: 'system:node-problem-detector', rules: [r('get', '', 'nodes'), r('patch', '', 'nodes/status'), EVENTS_WRITE] },
  {
    name: 'system:node-proxier',
    rules: [r('list,watch', '', 'endpoints,services'), r(READ, '', 'nodes'), EVENTS_WRITE, r('list,watch', 'discovery.k8s.io', 'endpointslices')],
  },
  {
    name: 'system:persistent-volume-provisioner',
    rules: [
      r('create,delete,get,list,watch', '', 'persistentvolumes'),
      r('get,list,update,watch', '', 'persistentvolumeclaims'),
      r(READ, 'storage.k8s.io', 'storageclasses'),
      r('watch', '', 'events'),
      EVENTS_WRITE,
    ],
  },
  { name: 'system:public-info-viewer', rules: [nr('get', '/healthz,/livez,/readyz,/version,/version/')] },
  { name: 'system:service-account-issuer-discovery', rules: [nr('get', '/.well-known/openid-configuration,/openid/v1/jwks')] },
  {
    name: 'system:volume-scheduler',
    rules: [r('get,list,patch,update,watch', '', 'persistentvolumes'), r(READ, 'storage.k8s.io', 'storageclasses'), r('get,list,patch,update,watch', '', 'persistentvolumeclaims')],
  },
  { name: 'view', aggregateFrom: 'rbac.authorization.k8s.io/aggregate-to-view', aggregateTo: ['edit'] },
  // kubeadm's CoreDNS addon role (Skiff's DNS runs as kube-system:coredns, as kubeadm's does).
  { name: 'system:coredns', rules: [r('list,watch', '', 'endpoints,services,pods,namespaces'), r('list,watch', 'discovery.k8s.io', 'endpointslices')] },
  // Skiff's scheduler resolves pod priority from PriorityClasses itself (no Priority admission yet).
  { name: 'system:skiff:kube-scheduler', rules: [r(READ, 'scheduling.k8s.io', 'priorityclasses')] },
];

const EV = EVENTS_WRITE;
/** upstream controller_policy.go: system:controller:<name>, bound to the ServiceAccount kube-system:<name>. */
const CONTROLLER_ROLES: RoleSpec[] = [
  {
    name: 'attachdetach-controller',
    rules: [
      r('list,watch', '', 'persistentvolumeclaims,persistentvolumes'),
      r(READ, '', 'nodes'),
      r('patch,update', '', 'nodes/status'),
      r('list,watch', '', 'pods'),
      EV,
      r('create,delete,get,list,watch', 'storage.k8s.io', 'volumeattachments'),
      r(READ, 'storage.k8s.io', 'csidrivers'),
      r(READ, 'storage.k8s.io', 'csinodes'),
    ],
  },
  {
    name: 'certificate-controller',
    rules: [
      r('delete,get,list,watch', 'certificates.k8s.io', 'certificatesigningrequests'),
      r('update', 'certificates.k8s.io', 'certificatesigningrequests/approval,certificatesigningrequests/status'),
      r('approve', 'certificates.k8s.io', 'signers', 'kubernetes.io/kube-apiserver-client-kubelet'),
      r('sign', 'certificates.k8s.io', 'signers', 'kubernetes.io/kube-apiserver-client,kubernetes.io/kube-apiserver-client-kubelet,kubernetes.io/kubelet-serving,kubernetes.io/legacy-unknown'),
      r('create', 'authorization.k8s.io', 'subjectaccessreviews'),
      EV,
    ],
  },
  { name: 'clusterrole-aggregation-controller', rules: [r('escalate,get,list,patch,update,watch', 'rbac.authorization.k8s.io', 'clusterroles')] },
  {
    name: 'cronjob-controller',
    rules: [
      r('get,list,update,watch', 'batch', 'cronjobs'),
      r('create,delete,get,list,patch,update,watch', 'batch', 'jobs'),
      r('update', 'batch', 'cronjobs/status'),
      r('update', 'batch', 'cronjobs/finalizers'),
      r('delete,list,watch', '', 'pods'),
      EV,
    ],
  },
  {
    name: 'daemon-set-controller',
    rules: [
      r(READ, 'apps,extensions', 'daemonsets'),
      r('update', 'apps,extensions', 'daemonsets/status'),
      r('update', 'apps,extensions', 'daemonsets/finalizers'),
      r('list,watch', '', 'nodes'),
      r('create,delete,list,patch,watch', '', 'pods'),
      r('create', '', 'pods/binding'),
      r('create,delete,get,list,patch,update,watch', 'apps', 'controllerrevisions'),
      EV,
    ],
  },
  {
    name: 'deployment-controller',
    rules: [
      r('get,list,update,watch', 'apps,extensions', 'deployments'),
      r('update', 'apps,extensions', 'deployments/status'),
      r('update', 'apps,extensions', 'deployments/finalizers'),
      r('create,delete,get,list,patch,update,watch', 'apps,extensions', 'replicasets'),
      r('get,list,update,watch', '', 'pods'),
      EV,
    ],
  },
  {
    name: 'disruption-controller',
    rules: [
      r(READ, 'apps,extensions', 'deployments'),
      r(READ, 'apps,extensions', 'replicasets'),
      r(READ, '', 'replicationcontrollers'),
      r(READ, 'policy', 'poddisruptionbudgets'),
      r(READ, 'apps', 'statefulsets'),
      r('update', 'policy', 'poddisruptionbudgets/status'),
      r('patch,update', '', 'pods/status'),
      r('get', '*', '*/scale'),
      EV,
    ],
  },
  {
    name: 'endpoint-controller',
    rules: [r(READ, '', 'pods,services'), r('create,delete,get,list,update,watch', '', 'endpoints'), r('create', '', 'endpoints/restricted'), EV],
  },
  {
    name: 'endpointslice-controller',
    rules: [r(READ, '', 'nodes,pods,services'), r('update', '', 'services/finalizers'), r('create,delete,get,list,update,watch', 'discovery.k8s.io', 'endpointslices'), EV],
  },
  {
    name: 'endpointslicemirroring-controller',
    rules: [
      r(READ, '', 'endpoints,services'),
      r('update', '', 'services/finalizers'),
      r('update', '', 'endpoints/finalizers'),
      r('create,delete,get,list,update,watch', 'discovery.k8s.io', 'endpointslices'),
      EV,
    ],
  },
  {
    name: 'ephemeral-volume-controller',
    rules: [r(READ, '', 'pods'), r('update', '', 'pods/finalizers'), r('create,get,list,watch', '', 'persistentvolumeclaims'), EV],
  },
  {
    name: 'expand-controller',
    rules: [r('get,list,patch,update,watch', '', 'persistentvolumes'), r('patch,update', '', 'persistentvolumeclaims/status'), r(READ, '', 'persistentvolumeclaims'), EV],
  },
  { name: 'generic-garbage-collector', rules: [r('delete,get,list,patch,update,watch', '*', '*'), EV] },
  {
    name: 'horizontal-pod-autoscaler',
    rules: [
      r(READ, 'autoscaling', 'horizontalpodautoscalers'),
      r('update', 'autoscaling', 'horizontalpodautoscalers/status'),
      r('get,update', '*', '*/scale'),
      r('list,watch', '', 'pods'),
      r('list,watch', 'metrics.k8s.io', 'pods'),
      r(READ, 'custom.metrics.k8s.io', '*'),
      r(READ, 'external.metrics.k8s.io', '*'),
      EV,
    ],
  },
  {
    name: 'job-controller',
    rules: [
      r('get,list,patch,update,watch', 'batch', 'jobs'),
      r('update', 'batch', 'jobs/status'),
      r('update', 'batch', 'jobs/finalizers'),
      r('create,delete,list,patch,watch', '', 'pods'),
      EV,
    ],
  },
  {
    name: 'legacy-service-account-token-cleaner',
    rules: [r('get', '', 'configmaps', 'kube-apiserver-legacy-service-account-token-tracking'), r('delete,patch', '', 'secrets')],
  },
  {
    name: 'namespace-controller',
    rules: [r('delete,get,list,watch', '', 'namespaces'), r('update', '', 'namespaces/finalize,namespaces/status'), r('delete,deletecollection,get,list,watch', '*', '*')],
  },
  {
    name: 'node-controller',
    rules: [
      r('delete,get,list,patch,update,watch', '', 'nodes'),
      r('patch,update', '', 'nodes/status'),
      r('patch,update', '', 'pods/status'),
      r('delete,get,list,watch', '', 'pods'),
      EV,
    ],
  },
  {
    name: 'persistent-volume-binder',
    rules: [
      r('create,delete,get,list,update,watch', '', 'persistentvolumes'),
      r('update', '', 'persistentvolumes/status'),
      r('get,list,update,watch', '', 'persistentvolumeclaims'),
      r('update', '', 'persistentvolumeclaims/status'),
      r('create,delete,get,list,watch', '', 'pods'),
      r(READ, 'storage.k8s.io', 'storageclasses'),
      r('list,watch', '', 'nodes'),
      EV,
      r('watch', '', 'events'),
    ],
  },
  { name: 'pod-garbage-collector', rules: [r('delete,list,watch', '', 'pods'), r(READ, '', 'nodes'), r('patch', '', 'pods/status')] },
  { name: 'pv-protection-controller', rules: [r('get,list,update,watch', '', 'persistentvolumes'), EV] },
  {
    name: 'pvc-protection-controller',
    rules: [r('get,list,update,watch', '', 'persistentvolumeclaims'), r('update', '', 'persistentvolumeclaims/status'), r(READ, '', 'pods'), EV],
  },
  {
    name: 'replicaset-controller',
    rules: [
      r('get,list,update,watch', 'apps,extensions', 'replicasets'),
      r('update', 'apps,extensions', 'replicasets/status'),
      r('update', 'apps,extensions', 'replicasets/finalizers'),
      r('create,delete,list,patch,watch', '', 'pods'),
      EV,
    ],
  },
  {
    name: 'replication-controller',
    rules: [
      r('get,list,update,watch', '', 'replicationcontrollers'),
      r('update', '', 'replicationcontrollers/status'),
      r('update', '', 'replicationcontrollers/finalizers'),
      r('create,delete,list,patch,watch', '', 'pods'),
      EV,
    ],
  },
  { name: 'resourcequota-controller', rules: [r('list,watch', '*', '*'), r('update', '', 'resourcequotas/status'), EV] },
  { name: 'root-ca-cert-publisher', rules: [r('create,update', '', 'configmaps'), EV] },
  { name: 'route-controller', rules: [r('list,watch', '', 'nodes'), r('patch', '', 'nodes/status'), EV] },
  { name: 'service-account-controller', rules: [r('create', '', 'serviceaccounts'), EV] },
  { name: 'service-controller', rules: [r(READ, '', 'services'), r('patch,update', '', 'services/status'), r('list,watch', '', 'nodes'), EV] },
  {
    name: 'statefulset-controller',
    rules: [
      r('list,watch', '', 'pods'),
      r(READ, 'apps', 'statefulsets'),
      r('update', 'apps', 'statefulsets/status'),
      r('update', 'apps', 'statefulsets/finalizers'),
      r('create,delete,get,patch,update', '', 'pods'),
      r('create,delete,get,list,patch,update,watch', 'apps', 'controllerrevisions'),
      r('create,get,list,watch', '', 'persistentvolumeclaims'),
      r('delete,update', '', 'persistentvolumeclaims'),
      r('update', '', 'pods/finalizers'),
      EV,
    ],
  },
  { name: 'ttl-after-finished-controller', rules: [r('delete,get,list,watch', 'batch', 'jobs'), EV] },
  { name: 'ttl-controller', rules: [r('list,patch,update,watch', '', 'nodes'), EV] },
];

const user = (name: string): Subject => ({ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name });
const group = (name: string): Subject => ({ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name });
const sa = (namespace: string, name: string): Subject => ({ kind: 'ServiceAccount', name, namespace });

const CLUSTER_ROLE_BINDINGS: { name: string; role?: string; subjects: Subject[] }[] = [
  { name: 'cluster-admin', subjects: [group('system:masters')] },
  { name: 'system:basic-user', subjects: [group('system:authenticated')] },
  { name: 'system:discovery', subjects: [group('system:authenticated')] },
  { name: 'system:kube-controller-manager', subjects: [user('system:kube-controller-manager')] },
  { name: 'system:kube-dns', subjects: [sa('kube-system', 'kube-dns')] },
  { name: 'system:kube-scheduler', subjects: [user('system:kube-scheduler')] },
  { name: 'system:monitoring', subjects: [group('system:monitoring')] },
  { name: 'system:node', subjects: [] },
  { name: 'system:node-proxier', subjects: [user('system:kube-proxy')] },
  { name: 'system:public-info-viewer', subjects: [group('system:authenticated'), group('system:unauthenticated')] },
  { name: 'system:service-account-issuer-discovery', subjects: [group('system:serviceaccounts')] },
  { name: 'system:volume-scheduler', subjects: [user('system:kube-scheduler')] },
  { name: 'system:coredns', subjects: [sa('kube-system', 'coredns')] },
  // Skiff's own components. Its controller manager runs every controller under the one
  // identity system:kube-controller-manager (upstream: a ServiceAccount per controller with
  // --use-service-account-credentials and the system:controller:* roles, not written yet),
  // so that user is bound to cluster-admin: broader than upstream. The simulated-node pool
  // (one client for all its nodes) holds the system:node rules.
  { name: 'system:skiff:kube-controller-manager', role: 'cluster-admin', subjects: [user('system:kube-controller-manager')] },
  { name: 'system:skiff:sim-pool', role: 'system:node', subjects: [user('system:skiff:sim-pool')] },
  { name: 'system:skiff:kube-scheduler', subjects: [user('system:kube-scheduler')] },
  // kubeadm init's binding: the group Skiff (as kubeadm) gives the apiserver's kubelet client.
  { name: 'kubeadm:cluster-admins', role: 'cluster-admin', subjects: [group('kubeadm:cluster-admins')] },
];

/** upstream namespace_policy.go: kube-system Roles and their bindings. */
const NAMESPACE_ROLES: { namespace: string; name: string; rules: PolicyRule[]; subjects: Subject[] }[] = [
  {
    namespace: 'kube-system',
    name: 'extension-apiserver-authentication-reader',
    rules: [r(READ, '', 'configmaps', 'extension-apiserver-authentication')],
    subjects: [user('system:kube-controller-manager'), user('system:kube-scheduler')],
  },
  {
    namespace: 'kube-system',
    name: 'system::leader-locking-kube-controller-manager',
    rules: [r('watch', '', 'configmaps'), r('get,update', '', 'configmaps', 'kube-controller-manager')],
    subjects: [user('system:kube-controller-manager'), sa('kube-system', 'kube-controller-manager')],
  },
  {
    namespace: 'kube-system',
    name: 'system::leader-locking-kube-scheduler',
    rules: [r('watch', '', 'configmaps'), r('get,update', '', 'configmaps', 'kube-scheduler')],
    subjects: [user('system:kube-scheduler'), sa('kube-system', 'kube-scheduler')],
  },
];

function meta(name: string, extraLabels: Record<string, string> = {}, namespace?: string): KObject['metadata'] {
  const m: KObject['metadata'] = { name, labels: { ...BOOTSTRAP_LABELS, ...extraLabels }, annotations: { [AUTOUPDATE_ANNOTATION]: 'true' } };
  if (namespace) m.namespace = namespace;
  return m;
}

const RBAC_V1 = 'rbac.authorization.k8s.io/v1';

export function bootstrapClusterRoles(): KObject[] {
  const controllers = CONTROLLER_ROLES.map((c) => ({ ...c, name: `system:controller:${c.name}` }));
  return [...CLUSTER_ROLES, ...controllers].map((s) => {
    const labels: Record<string, string> = {};
    for (const t of s.aggregateTo ?? []) labels[`rbac.authorization.k8s.io/aggregate-to-${t}`] = 'true';
    const o: KObject = { apiVersion: RBAC_V1, kind: 'ClusterRole', metadata: meta(s.name, labels) };
    if (s.aggregateFrom) o.aggregationRule = { clusterRoleSelectors: [{ matchLabels: { [s.aggregateFrom]: 'true' } }] };
    o.rules = s.rules ? structuredClone(s.rules) : [];
    return o;
  });
}

export function bootstrapClusterRoleBindings(): KObject[] {
  const controllers = CONTROLLER_ROLES.map((c) => ({ name: `system:controller:${c.name}`, role: undefined, subjects: [sa('kube-system', c.name)] }));
  return [...CLUSTER_ROLE_BINDINGS, ...controllers].map((b) => {
    const o: KObject = {
      apiVersion: RBAC_V1,
      kind: 'ClusterRoleBinding',
      metadata: meta(b.name),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: b.role ?? b.name },
    };
    if (b.subjects.length) o.subjects = structuredClone(b.subjects);
    return o;
  });
}

export function bootstrapRoles(): KObject[] {
  return NAMESPACE_ROLES.map((n) => ({ apiVersion: RBAC_V1, kind: 'Role', metadata: meta(n.name, {}, n.namespace), rules: structuredClone(n.rules) }));
}

export function bootstrapRoleBindings(): KObject[] {
  return NAMESPACE_ROLES.map((n) => ({
    apiVersion: RBAC_V1,
    kind: 'RoleBinding',
    metadata: meta(n.name, {}, n.namespace),
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: n.name },
    subjects: structuredClone(n.subjects),
  }));
}
