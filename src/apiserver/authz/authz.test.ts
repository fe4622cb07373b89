// Unit tier: request attributes, RBAC rule matching and binding resolution, the Node
// authorizer's graph, escalation checks, aggregation, impersonation, and the per-request
// cost of the authorizer (printed beside a baseline measured in the same run).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { forbiddenError, requestAttributes, type Attributes, type UserInfo } from './attributes.ts';
import { RBACAuthorizer, ruleAllows, type PolicySource } from './rbac.ts';
import { NodeAuthorizer, podReferences, type NodeGraphSource } from './node.ts';
import { NODE_RULES, bootstrapClusterRoleBindings, bootstrapClusterRoles, nr, r } from './policy.ts';
import { compactString, confirmNoEscalation, uncovered } from './escalation.ts';
import { aggregatedRules } from './reconcile.ts';
import { impersonate, wantsImpersonation } from './impersonation.ts';
import { parseAuthorizationModes } from './index.ts';

const SA: UserInfo = { name: 'system:serviceaccount:default:sa', groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'] };

function q(s: string) {
  return new URLSearchParams(s);
}

test('request attributes: verbs, namespaces, subresources and non-resource paths as upstream RequestInfo', () => {
  const u = SA;
  const a = (m: string, p: string, query = '') => {
    const x = requestAttributes(u, m, p, q(query));
    return [x.verb, x.apiGroup, x.resource, x.subresource, x.namespace, x.name, x.resourceRequest];
  };
  assert.deepEqual(a('GET', '/api/v1/namespaces/default/pods'), ['list', '', 'pods', '', 'default', '', true]);
  assert.deepEqual(a('GET', '/api/v1/namespaces/default/pods', 'watch=true'), ['watch', '', 'pods', '', 'default', '', true]);
  assert.deepEqual(a('GET', '/api/v1/watch/namespaces/default/pods/p1'), ['watch', '', 'pods', '', 'default', 'p1', true]);
  assert.deepEqual(a('GET', '/api/v1/namespaces/default/pods/p1/log'), ['get', '', 'pods', 'log', 'default', 'p1', true]);
  assert.deepEqual(a('DELETE', '/apis/apps/v1/namespaces/ns/deployments'), ['deletecollection', 'apps', 'deployments', '', 'ns', '', true]);
  assert.deepEqual(a('PATCH', '/apis/apps/v1/namespaces/ns/deployments/d/scale'), ['patch', 'apps', 'deployments', 'scale', 'ns', 'd', true]);
  assert.deepEqual(a('GET', '/api/v1/namespaces/kube-system'), ['get', '', 'namespaces', '', 'kube-system', 'kube-system', true]);
  assert.deepEqual(a('PUT', '/api/v1/namespaces/x/finalize'), ['update', '', 'namespaces', 'finalize', 'x', 'x', true]);
  assert.deepEqual(a('GET', '/api/v1/nodes'), ['list', '', 'nodes', '', '', '', true]);
  assert.deepEqual(a('GET', '/api/v1/namespaces/default/secrets', 'fieldSelector=metadata.name%3Ds1&watch=1'), ['watch', '', 'secrets', '', 'default', 's1', true]);
  assert.deepEqual(a('GET', '/apis'), ['get', '', '', '', '', '', false]);
  assert.deepEqual(a('GET', '/apis/apps/v1'), ['get', '', '', '', '', '', false]);
  assert.deepEqual(a('POST', '/metrics'), ['post', '', '', '', '', '', false]);
});

test('Forbidden messages are upstream\'s, byte for byte', () => {
  const msg = (m: string, p: string, reason = '') => forbiddenError(requestAttributes(SA, m, p), reason).status;
  const s1 = msg('GET', '/api/v1/namespaces/default/pods');
  assert.equal(s1.message, 'pods is forbidden: User "system:serviceaccount:default:sa" cannot list resource "pods" in API group "" in the namespace "default"');
  assert.equal(s1.code, 403);
  assert.equal(s1.reason, 'Forbidden');
  assert.deepEqual(s1.details, { kind: 'pods' });
  assert.equal(
    msg('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/view').message,
    'clusterroles.rbac.authorization.k8s.io "view" is forbidden: User "system:serviceaccount:default:sa" cannot get resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope',
  );
  assert.equal(
    msg('GET', '/api/v1/namespaces/default/pods/p/log').message,
    'pods "p" is forbidden: User "system:serviceaccount:default:sa" cannot get resource "pods/log" in API group "" in the namespace "default"',
  );
  assert.equal(msg('GET', '/metrics').message, 'forbidden: User "system:serviceaccount:default:sa" cannot get path "/metrics"');
  assert.equal(
    msg('GET', '/api/v1/nodes', 'RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found').message,
    'nodes is forbidden: User "system:serviceaccount:default:sa" cannot list resource "nodes" in API group "" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "gone" not found',
  );
});

test('rule matching: wildcards, subresources, resourceNames, nonResourceURLs', () => {
  const at = (m: string, p: string) => requestAttributes(SA, m, p);
  const pods = at('GET', '/api/v1/namespaces/d/pods/p');
  const log = at('GET', '/api/v1/namespaces/d/pods/p/log');
  assert.ok(ruleAllows(pods, r('get', '', 'pods')));
  assert.ok(!ruleAllows(pods, r('list', '', 'pods')));
  assert.ok(!ruleAllows(pods, r('get', 'apps', 'pods')));
  assert.ok(ruleAllows(pods, r('*', '*', '*')));
  assert.ok(!ruleAllows(log, r('get', '', 'pods')), 'pods does not grant pods/log');
  assert.ok(ruleAllows(log, r('get', '', 'pods/log')));
  assert.ok(ruleAllows(log, r('get', '', '*/log')));
  assert.ok(!ruleAllows(log, r('get', '', '*/exec')));
  assert.ok(ruleAllows(pods, r('get', '', 'pods', 'p')));
  assert.ok(!ruleAllows(pods, r('get', '', 'pods', 'q')));
  assert.ok(!ruleAllows(at('GET', '/api/v1/namespaces/d/pods'), r('list', '', 'pods', 'p')), 'resourceNames never match a list');
  const healthz = at('GET', '/healthz/etcd');
  assert.ok(ruleAllows(healthz, nr('get', '/healthz/*')));
  assert.ok(!ruleAllows(healthz, nr('get', '/healthz')));
  assert.ok(ruleAllows(healthz, nr('*', '*')));
  assert.ok(!ruleAllows(healthz, r('get', '*', '*')), 'resource rules never grant paths');
  assert.ok(!ruleAllows(at('POST', '/healthz/etcd'), nr('get', '/healthz/*')));
});

class MemSource implements PolicySource {
  crs = new Map<string, KObject>();
  roles = new Map<string, KObject>();
  crbs: KObject[] = [];
  rbs: KObject[] = [];
  private fns: (() => void)[] = [];
  clusterRole(name: string) {
    return this.crs.get(name);
  }
  role(ns: string, name: string) {
    return this.roles.get(`${ns}/${name}`);
  }
  clusterRoleBindings() {
    return this.crbs;
  }
  roleBindings() {
    return this.rbs;
  }
  onPolicyChanged(fn: () => void) {
    this.fns.push(fn);
  }
  changed() {
    for (const f of this.fns) f();
  }
}

function bootstrapSource(): MemSource {
  const s = new MemSource();
  for (const o of bootstrapClusterRoles()) s.crs.set(o.metadata.name!, o);
  // the aggregated roles as the controller would fill them
  const all = [...s.crs.values()];
  for (const o of all) if (o.aggregationRule) o.rules = aggregatedRules(o, all);
  for (const o of all) if (o.aggregationRule) o.rules = aggregatedRules(o, all);
  s.crbs = bootstrapClusterRoleBindings();
  return s;
}

const rb = (ns: string, name: string, roleKind: string, role: string, subjects: unknown[]): KObject => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'RoleBinding',
  metadata: { name, namespace: ns },
  roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: role },
  subjects,
});

test('RBAC: bootstrap bindings, a RoleBinding to view for a ServiceAccount, missing roles in the reason', () => {
  const src = bootstrapSource();
  const authz = new RBACAuthorizer(src);
  const list = requestAttributes(SA, 'GET', '/api/v1/namespaces/default/pods');
  assert.deepEqual(authz.authorize(list), { decision: 'NoOpinion', reason: '' });
  // system:basic-user and system:discovery for every authenticated user
  assert.equal(authz.authorize(requestAttributes(SA, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews')).decision, 'Allow');
  assert.equal(authz.authorize(requestAttributes(SA, 'GET', '/apis/apps/v1')).decision, 'Allow');
  assert.equal(authz.authorize(requestAttributes(SA, 'GET', '/metrics')).decision, 'NoOpinion');

  src.rbs.push(rb('default', 'sa-view', 'ClusterRole', 'view', [{ kind: 'ServiceAccount', name: 'sa', namespace: 'default' }]));
  src.changed();
  const d = authz.authorize(list);
  assert.equal(d.decision, 'Allow');
  assert.equal(d.reason, 'RBAC: allowed by RoleBinding "sa-view/default" of ClusterRole "view" to User "system:serviceaccount:default:sa"');
  assert.equal(authz.authorize(requestAttributes(SA, 'GET', '/api/v1/namespaces/other/pods')).decision, 'NoOpinion', 'only in its namespace');
  assert.equal(authz.authorize(requestAttributes(SA, 'GET', '/api/v1/namespaces/default/secrets')).decision, 'NoOpinion', 'view does not read secrets');
  assert.equal(authz.authorize(requestAttributes(SA, 'POST', '/api/v1/namespaces/default/pods')).decision, 'NoOpinion');

  // A ServiceAccount subject without a namespace in a RoleBinding means the binding's namespace.
  src.rbs.push(rb('default', 'edit', 'ClusterRole', 'edit', [{ kind: 'ServiceAccount', name: 'sa' }]));
  src.rbs.push(rb('default', 'broken', 'Role', 'nope', [{ kind: 'Group', name: 'system:serviceaccounts' }]));
  src.changed();
  assert.equal(authz.authorize(requestAttributes(SA, 'POST', '/api/v1/namespaces/default/pods')).decision, 'Allow');
  assert.deepEqual(authz.authorize(requestAttributes(SA, 'GET', '/api/v1/namespaces/default/nodes')), {
    decision: 'NoOpinion',
    reason: 'RBAC: role.rbac.authorization.k8s.io "nope" not found',
  });
  // Groups and Users in ClusterRoleBindings
  const admin = { name: 'alice', groups: ['system:masters', 'system:authenticated'] };
  assert.equal(authz.authorize(requestAttributes(admin, 'DELETE', '/api/v1/nodes/n1')).decision, 'Allow');
  const sched = { name: 'system:kube-scheduler', groups: ['system:authenticated'] };
  assert.equal(authz.authorize(requestAttributes(sched, 'POST', '/api/v1/namespaces/d/pods/p/binding')).decision, 'Allow');
  assert.equal(authz.authorize(requestAttributes(sched, 'POST', '/api/v1/namespaces/d/pods')).decision, 'NoOpinion');
  const dc = { name: 'system:serviceaccount:kube-system:deployment-controller', groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'] };
  assert.equal(authz.authorize(requestAttributes(dc, 'PUT', '/apis/apps/v1/namespaces/x/deployments/d/status')).decision, 'Allow');
  assert.equal(authz.authorize(requestAttributes(dc, 'DELETE', '/apis/apps/v1/namespaces/x/deployments/d')).decision, 'NoOpinion');
  const proxy = { name: 'system:kube-proxy', groups: ['system:authenticated'] };
  assert.equal(authz.authorize(requestAttributes(proxy, 'GET', '/apis/discovery.k8s.io/v1/endpointslices', q('watch=true'))).decision, 'Allow');
});

test('aggregation: view gathers aggregate-to-view roles, edit gathers view, admin gathers edit', () => {
  const src = bootstrapSource();
  const view = src.crs.get('view')!;
  const edit = src.crs.get('edit')!;
  const admin = src.crs.get('admin')!;
  const custom: KObject = { metadata: { name: 'crontabs-view', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } }, rules: [r('get,list', 'stable.example.com', 'crontabs')] };
  const all = [...src.crs.values(), custom];
  const viewRules = aggregatedRules(view, all);
  assert.ok(viewRules.some((x) => x.resources?.includes('crontabs')));
  assert.ok(!aggregatedRules(edit, all).some((x) => x.resources?.includes('crontabs')), 'edit picks the old view rules until view is updated');
  assert.ok(uncovered(aggregatedRules(admin, all), view.rules as never).length === 0, 'admin holds everything view holds');
});

function graph(pods: KObject[], pvcs: KObject[] = []): NodeGraphSource & { change(prev?: KObject, cur?: KObject): void } {
  let fn: (p: KObject | undefined, c: KObject | undefined) => void = () => {};
  const byKey = new Map(pods.map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  return {
    pod: (ns, n) => byKey.get(`${ns}/${n}`),
    pvc: (ns, n) => pvcs.find((p) => p.metadata.namespace === ns && p.metadata.name === n),
    pods: () => pods,
    onPodChanged: (f) => {
      fn = f;
    },
    change(prev, cur) {
      if (cur) byKey.set(`${cur.metadata.namespace}/${cur.metadata.name}`, cur);
      else if (prev) byKey.delete(`${prev.metadata.namespace}/${prev.metadata.name}`);
      fn(prev, cur);
    },
  };
}

test('Node authorizer: a kubelet reads only what its pods use', () => {
  const pod: KObject = {
    metadata: { name: 'web', namespace: 'app' },
    spec: {
      nodeName: 'n1',
      serviceAccountName: 'runner',
      imagePullSecrets: [{ name: 'regcred' }],
      containers: [{ name: 'c', env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cfg', key: 'k' } } }], envFrom: [{ secretRef: { name: 'env-secret' } }] }],
      volumes: [
        { name: 'data', persistentVolumeClaim: { claimName: 'claim' } },
        { name: 'p', projected: { sources: [{ secret: { name: 'proj' } }, { configMap: { name: 'proj-cm' } }] } },
      ],
    },
  };
  assert.deepEqual(podReferences(pod).sort(), [
    'configmap/app/cfg',
    'configmap/app/proj-cm',
    'pvc/app/claim',
    'secret/app/env-secret',
    'secret/app/proj',
    'secret/app/regcred',
    'serviceaccount/app/runner',
  ]);
  const g = graph([pod], [{ metadata: { name: 'claim', namespace: 'app' }, spec: { volumeName: 'pv-1' } }]);
  const node = new NodeAuthorizer({ source: g, nodeRules: NODE_RULES });
  const n1 = { name: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
  const n2 = { name: 'system:node:n2', groups: ['system:nodes', 'system:authenticated'] };
  const at = (u: UserInfo, m: string, p: string, query = '') => node.authorize(requestAttributes(u, m, p, q(query)));
  assert.equal(at(n1, 'GET', '/api/v1/namespaces/app/secrets/regcred').decision, 'Allow');
  assert.equal(at(n1, 'GET', '/api/v1/namespaces/app/secrets', 'fieldSelector=metadata.name%3Dproj&watch=true').decision, 'Allow');
  assert.deepEqual(at(n2, 'GET', '/api/v1/namespaces/app/secrets/regcred'), { decision: 'NoOpinion', reason: "no relationship found between node 'n2' and this object" });
  assert.equal(at(n1, 'GET', '/api/v1/namespaces/app/secrets').decision, 'NoOpinion', 'no listing all secrets');
  assert.equal(at(n1, 'GET', '/api/v1/namespaces/app/secrets/other').decision, 'NoOpinion');
  assert.equal(at(n1, 'GET', '/api/v1/namespaces/app/configmaps/cfg').decision, 'Allow');
  assert.equal(at(n1, 'GET', '/api/v1/namespaces/app/persistentvolumeclaims/claim').decision, 'Allow');
  assert.equal(at(n1, 'GET', '/api/v1/persistentvolumes/pv-1').decision, 'Allow');
  assert.equal(at(n2, 'GET', '/api/v1/persistentvolumes/pv-1').decision, 'NoOpinion');
  assert.equal(at(n1, 'POST', '/api/v1/namespaces/app/serviceaccounts/runner/token').decision, 'Allow');
  assert.equal(at(n1, 'POST', '/api/v1/namespaces/app/serviceaccounts/default/token').decision, 'NoOpinion');
  // its own lease only
  assert.equal(at(n1, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1').decision, 'Allow');
  assert.equal(at(n1, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n2').decision, 'NoOpinion');
  // rules of system:node for the rest; NodeRestriction-like checks on writes
  assert.equal(at(n1, 'GET', '/api/v1/namespaces/app/pods', 'watch=true').decision, 'Allow');
  assert.equal(at(n1, 'PATCH', '/api/v1/nodes/n1/status').decision, 'Allow');
  assert.equal(at(n1, 'PATCH', '/api/v1/nodes/n2/status').decision, 'NoOpinion');
  assert.equal(at(n1, 'PATCH', '/api/v1/namespaces/app/pods/web/status').decision, 'Allow');
  assert.equal(at(n2, 'PATCH', '/api/v1/namespaces/app/pods/web/status').decision, 'NoOpinion');
  assert.equal(at(n1, 'DELETE', '/api/v1/namespaces/app/secrets/regcred').decision, 'NoOpinion');
  assert.equal(at(n1, 'GET', '/apis/apps/v1/deployments').decision, 'NoOpinion');
  // not a node: no opinion, no reason
  assert.deepEqual(node.authorize(requestAttributes(SA, 'GET', '/api/v1/namespaces/app/secrets/regcred')), { decision: 'NoOpinion', reason: '' });
  // the graph follows pod changes: the pod moves away, its secrets go with it
  const moved = structuredClone(pod);
  moved.spec.nodeName = 'n2';
  g.change(pod, moved);
  assert.equal(at(n1, 'GET', '/api/v1/namespaces/app/secrets/regcred').decision, 'NoOpinion');
  assert.equal(at(n2, 'GET', '/api/v1/namespaces/app/secrets/regcred').decision, 'Allow');
  g.change(moved, undefined);
  assert.equal(at(n2, 'GET', '/api/v1/namespaces/app/secrets/regcred').decision, 'NoOpinion');
});

test('escalation: the missing rules in upstream\'s words; covered rules pass', () => {
  const src = bootstrapSource();
  src.rbs.push(rb('default', 'sa-view', 'ClusterRole', 'view', [{ kind: 'ServiceAccount', name: 'sa', namespace: 'default' }]));
  src.changed();
  const authz = new RBACAuthorizer(src);
  assert.equal(confirmNoEscalation(authz, SA, 'default', [r('get,list', '', 'pods')], { resource: 'roles', name: 'x' }), undefined);
  const err = confirmNoEscalation(authz, SA, 'default', [r('get,create,delete', '', 'pods,secrets')], { resource: 'roles', name: 'x' });
  assert.ok(err);
  assert.equal(err.status.code, 403);
  assert.equal(
    err.status.message,
    'roles.rbac.authorization.k8s.io "x" is forbidden: user "system:serviceaccount:default:sa" (groups=["system:serviceaccounts" "system:serviceaccounts:default" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n' +
      '{APIGroups:[""], Resources:["pods"], Verbs:["create" "delete"]}\n' +
      '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "create" "delete"]}',
  );
  assert.equal(compactString(nr('get', '/healthz')), '{NonResourceURLs:["/healthz"], Verbs:["get"]}');
  assert.deepEqual(uncovered([r('*', '', 'pods/*')], [r('get', '', 'pods/log')]), []);
});

test('impersonation: authorized by the impersonate verb; service accounts get their groups', () => {
  const src = bootstrapSource();
  const authz = new RBACAuthorizer(src);
  const admin = { name: 'root', groups: ['system:authenticated'] };
  const denied = impersonate(admin, { 'impersonate-user': 'bob' }, authz);
  assert.ok(denied instanceof Error);
  assert.equal((denied as { status: { message: string } }).status.message, 'users "bob" is forbidden: User "root" cannot impersonate resource "users" in API group "" at the cluster scope');
  src.crbs.push({ metadata: { name: 'imp' }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'root' }] });
  src.changed();
  assert.deepEqual(impersonate(admin, { 'impersonate-user': 'bob', 'impersonate-group': ['dev', 'ops'] }, authz), { name: 'bob', groups: ['dev', 'ops', 'system:authenticated'] });
  assert.deepEqual(impersonate(admin, { 'impersonate-user': 'system:serviceaccount:ns1:builder' }, authz), {
    name: 'system:serviceaccount:ns1:builder',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:ns1', 'system:authenticated'],
  });
  const bad = impersonate(admin, { 'impersonate-group': 'dev' }, authz);
  assert.equal((bad as { status: { message: string; code: number } }).status.code, 400);
  assert.equal((bad as { status: { message: string } }).status.message, 'requested [Group=dev] without impersonating a user');
});

test('--authorization-mode parsing', () => {
  assert.deepEqual(parseAuthorizationModes('Node,RBAC'), ['Node', 'RBAC']);
  assert.throws(() => parseAuthorizationModes('RBAC,Bogus'), /authorization-mode "Bogus" is not a valid mode/);
  assert.throws(() => parseAuthorizationModes('RBAC,RBAC'), /specified more than once/);
});

test('benchmark: RBAC authorizer cost per request beside computing the attributes alone', () => {
  const src = bootstrapSource();
  // a cluster with some policy: 200 namespaces with a binding each, 200 extra cluster bindings
  for (let i = 0; i < 200; i++) {
    src.rbs.push(rb(`ns${i}`, 'b', 'ClusterRole', 'edit', [{ kind: 'User', name: `user${i}` }]));
    src.crbs.push({ metadata: { name: `crb${i}` }, roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: `viewer${i}` }] });
  }
  src.rbs.push(rb('default', 'sa-view', 'ClusterRole', 'view', [{ kind: 'ServiceAccount', name: 'sa', namespace: 'default' }]));
  src.changed();
  const authz = new RBACAuthorizer(src);
  const N = 20_000;
  const query = q('limit=500');
  const time = (fn: () => void) => {
    const t = performance.now();
    for (let i = 0; i < N; i++) fn();
    return ((performance.now() - t) * 1000) / N;
  };
  let sink: Attributes | undefined;
  time(() => authz.authorize(requestAttributes(SA, 'GET', '/api/v1/namespaces/default/pods', query)));
  const attrsOnly = time(() => (sink = requestAttributes(SA, 'GET', '/api/v1/namespaces/default/pods', query)));
  const allowed = time(() => authz.authorize(requestAttributes(SA, 'GET', '/api/v1/namespaces/default/pods', query)));
  const denied = time(() => authz.authorize(requestAttributes(SA, 'GET', '/api/v1/namespaces/default/secrets', query)));
  const baseline = time(() => new URL('/api/v1/namespaces/default/pods?limit=500', 'http://x'));
  // What AlwaysAllow costs: only the impersonation header check, on kubectl-like headers.
  const headers = { accept: 'application/json', 'user-agent': 'kubectl/v1.32.4', 'accept-encoding': 'gzip', authorization: 'Bearer x', 'kubectl-command': 'kubectl get', 'kubectl-session': 'abc' };
  let imp = false;
  const alwaysAllow = time(() => (imp = wantsImpersonation(headers) || imp));
  assert.ok(sink);
  assert.equal(imp, false);
  console.log(
    `# authz per request (µs): attributes ${attrsOnly.toFixed(2)}, attributes+RBAC allow ${allowed.toFixed(2)}, attributes+RBAC deny ${denied.toFixed(2)}, AlwaysAllow (impersonation header check) ${alwaysAllow.toFixed(3)}; baseline new URL() ${baseline.toFixed(2)}`,
  );
});
