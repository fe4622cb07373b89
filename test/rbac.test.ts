// Integration: authorization through the real kubectl 1.32 against `skiff server
// --authorization-mode=Node,RBAC` (a child process): a ServiceAccount token is Forbidden
// with upstream's message until a RoleBinding to view, `kubectl auth can-i` (with --as
// impersonation and --list), escalation prevention, the bootstrap ClusterRoles, and a
// custom ClusterRole aggregated into view.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { kubectlFor, requireKubectl, spawnServer, type Kubectl } from './harness.ts';
import { eventually } from '../src/client/testing.ts';
import { startApiServer } from '../src/apiserver/server.ts';
import type { ApiResponse } from '../src/apiserver/handler.ts';

let dir: string;
let child: ChildProcess;
let url: string;
let admin: Kubectl;
let caData: string;

before(async () => {
  requireKubectl();
  dir = await mkdtemp(path.join(tmpdir(), 'skiff-rbac-'));
  const s = await spawnServer(path.join(dir, 'data'), ['--authorization-mode', 'Node,RBAC']);
  child = s.child;
  url = s.url;
  admin = kubectlFor(s.kubeconfig, path.join(dir, 'home-admin'));
  caData = Buffer.from(await readFile(path.join(dir, 'data', 'pki', 'ca.crt'))).toString('base64');
  for (const args of [
    ['create', 'serviceaccount', 'sa'],
    ['create', 'serviceaccount', 'deployer'],
  ]) {
    const r = await admin(args);
    assert.equal(r.code, 0, r.stderr);
  }
});

after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** kubectl as a ServiceAccount: a kubeconfig holding only its token. */
async function asServiceAccount(name: string): Promise<Kubectl> {
  const r = await admin(['create', 'token', name, '--duration=1h']);
  assert.equal(r.code, 0, r.stderr);
  const cfg = path.join(dir, `${name}.kubeconfig`);
  await writeFile(
    cfg,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: url, 'certificate-authority-data': caData } }],
      users: [{ name: 'u', user: { token: r.stdout.trim() } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u', namespace: 'default' } }],
      'current-context': 'c',
    }),
  );
  return kubectlFor(cfg, path.join(dir, `home-${name}`));
}

describe('--authorization-mode', () => {
  it('refuses an unknown mode before starting anything', async () => {
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const c = execFile(process.execPath, [path.join(import.meta.dirname, '..', 'src', 'cli', 'main.ts'), 'server', '--authorization-mode', 'RBAC,Bogus', '--data-dir', path.join(dir, 'never')], (err, _out, stderr) =>
        resolve({ code: err ? (c.exitCode ?? 1) : 0, stderr: String(stderr) }),
      );
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /authorization-mode "Bogus" is not a valid mode/);
  });
});

describe('RBAC with kubectl', () => {
  it('lists the bootstrap ClusterRoles and bindings with their labels', async () => {
    const r = await admin(['get', 'clusterroles', '-o', 'name']);
    assert.equal(r.code, 0, r.stderr);
    for (const n of ['cluster-admin', 'admin', 'edit', 'view', 'system:basic-user', 'system:discovery', 'system:public-info-viewer', 'system:node', 'system:node-proxier', 'system:kube-scheduler', 'system:kube-controller-manager', 'system:kube-dns', 'system:auth-delegator', 'system:monitoring', 'system:controller:deployment-controller']) {
      assert.match(r.stdout, new RegExp(`^clusterrole.rbac.authorization.k8s.io/${n.replace(/[.:]/g, '\\$&')}$`, 'm'), n);
    }
    const crb = JSON.parse((await admin(['get', 'clusterrolebinding', 'cluster-admin', '-o', 'json'])).stdout);
    assert.deepEqual(crb.subjects, [{ kind: 'Group', apiGroup: 'rbac.authorization.k8s.io', name: 'system:masters' }]);
    assert.equal(crb.metadata.labels['kubernetes.io/bootstrapping'], 'rbac-defaults');
    assert.equal(crb.metadata.annotations['rbac.authorization.kubernetes.io/autoupdate'], 'true');
    const view = JSON.parse((await admin(['get', 'clusterrole', 'view', '-o', 'json'])).stdout);
    assert.ok(view.rules.some((x: { resources?: string[] }) => x.resources?.includes('pods/log')), 'view aggregated from system:aggregate-to-view');
  });

  it('a ServiceAccount is Forbidden to list pods with upstream\'s message, then allowed after a RoleBinding to view', async () => {
    const sa = await asServiceAccount('sa');
    const denied = await sa(['get', 'pods']);
    assert.equal(denied.code, 1);
    assert.equal(
      denied.stderr.trim(),
      'Error from server (Forbidden): pods is forbidden: User "system:serviceaccount:default:sa" cannot list resource "pods" in API group "" in the namespace "default"',
    );
    const node = await sa(['get', 'nodes']);
    assert.match(node.stderr, /nodes is forbidden: User "system:serviceaccount:default:sa" cannot list resource "nodes" in API group "" at the cluster scope$/m);
    const no = await sa(['auth', 'can-i', 'list', 'pods']);
    assert.equal(no.stdout.trim(), 'no');
    assert.equal(no.code, 1);

    const bind = await admin(['create', 'rolebinding', 'sa-view', '--clusterrole=view', '--serviceaccount=default:sa']);
    assert.equal(bind.code, 0, bind.stderr);
    await eventually(async () => (await sa(['get', 'pods'])).code === 0, 10_000, 'sa can list pods');
    const yes = await sa(['auth', 'can-i', 'list', 'pods']);
    assert.equal(yes.stdout.trim(), 'yes');
    assert.equal(yes.code, 0);
    assert.equal((await sa(['auth', 'can-i', 'get', 'pods', '--subresource=log'])).stdout.trim(), 'yes');
    assert.equal((await sa(['auth', 'can-i', 'create', 'pods'])).stdout.trim(), 'no');
    assert.equal((await sa(['auth', 'can-i', 'get', 'secrets'])).stdout.trim(), 'no');
    assert.equal((await sa(['auth', 'can-i', 'list', 'pods', '-n', 'kube-system'])).stdout.trim(), 'no');
    const secret = await sa(['get', 'secret', 'x']);
    assert.equal(
      secret.stderr.trim(),
      'Error from server (Forbidden): secrets "x" is forbidden: User "system:serviceaccount:default:sa" cannot get resource "secrets" in API group "" in the namespace "default"',
    );
  });

  it('kubectl auth can-i --as and --list impersonate; a user without impersonate is refused', async () => {
    await eventually(async () => (await admin(['get', 'rolebinding', 'sa-view'])).code === 0, 10_000, 'binding');
    const as = ['--as=system:serviceaccount:default:sa'];
    assert.equal((await admin(['auth', 'can-i', 'list', 'pods', ...as])).stdout.trim(), 'yes');
    assert.equal((await admin(['auth', 'can-i', 'delete', 'pods', ...as])).stdout.trim(), 'no');
    assert.equal((await admin(['auth', 'can-i', 'list', 'pods', '--as=bob'])).stdout.trim(), 'no');
    assert.equal((await admin(['auth', 'can-i', 'list', 'pods', '--as=bob', '--as-group=system:masters'])).stdout.trim(), 'yes');
    const whoami = JSON.parse((await admin(['auth', 'whoami', '-o', 'json', '--as=bob', '--as-group=dev'])).stdout);
    assert.deepEqual(whoami.status.userInfo, { username: 'bob', groups: ['dev', 'system:authenticated'] });
    const list = await admin(['auth', 'can-i', '--list', ...as]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs$/m);
    assert.match(list.stdout, /^pods\s+\[\]\s+\[\]\s+\[get list watch\]$/m);
    assert.match(list.stdout, /^selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]$/m);
    assert.match(list.stdout, /^\s+\[\/api\/\*\]\s+\[\]\s+\[get\]$/m);
    // impersonation needs the impersonate verb
    const sa = await asServiceAccount('sa');
    const imp = await sa(['get', 'pods', '--as=bob']);
    assert.equal(imp.stderr.trim(), 'Error from server (Forbidden): users "bob" is forbidden: User "system:serviceaccount:default:sa" cannot impersonate resource "users" in API group "" at the cluster scope');
  });

  it('escalation: a ServiceAccount that may write Roles cannot grant what it does not hold', async () => {
    for (const args of [
      ['create', 'role', 'rbac-writer', '--verb=create,update,get', '--resource=roles,rolebindings'],
      ['create', 'rolebinding', 'deployer-rbac', '--role=rbac-writer', '--serviceaccount=default:deployer'],
      ['create', 'rolebinding', 'deployer-view', '--clusterrole=view', '--serviceaccount=default:deployer'],
    ]) {
      const r = await admin(args);
      assert.equal(r.code, 0, r.stderr);
    }
    const deployer = await asServiceAccount('deployer');
    const ok = await deployer(['create', 'role', 'pod-reader', '--verb=get,list', '--resource=pods']);
    assert.equal(ok.code, 0, ok.stderr);
    const esc = await deployer(['create', 'role', 'secret-reader', '--verb=get', '--resource=secrets']);
    assert.equal(esc.code, 1);
    assert.equal(
      esc.stderr.trim(),
      'Error from server (Forbidden): roles.rbac.authorization.k8s.io "secret-reader" is forbidden: user "system:serviceaccount:default:deployer" (groups=["system:serviceaccounts" "system:serviceaccounts:default" "system:authenticated"]) is attempting to grant RBAC permissions not currently held:\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}',
    );
    // binding edit (which it does not hold) is refused; binding the role it made is fine
    const bindEdit = await deployer(['create', 'rolebinding', 'x', '--clusterrole=edit', '--serviceaccount=default:sa']);
    assert.equal(bindEdit.code, 1);
    assert.match(bindEdit.stderr, /rolebindings\.rbac\.authorization\.k8s\.io "x" is forbidden: user "system:serviceaccount:default:deployer" .* is attempting to grant RBAC permissions not currently held:\n/);
    const bindOwn = await deployer(['create', 'rolebinding', 'y', '--role=pod-reader', '--serviceaccount=default:sa']);
    assert.equal(bindOwn.code, 0, bindOwn.stderr);
    // with `escalate` on roles it may
    const r = await admin(['create', 'role', 'escalator', '--verb=escalate', '--resource=roles']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await admin(['create', 'rolebinding', 'deployer-escalate', '--role=escalator', '--serviceaccount=default:deployer'])).code, 0);
    await eventually(async () => (await deployer(['create', 'role', 'secret-reader', '--verb=get', '--resource=secrets'])).code === 0, 10_000, 'escalate allowed');
  });

  it('a ClusterRole labelled aggregate-to-view is aggregated into view (and edit, admin)', async () => {
    // kubectl auth can-i resolves the resource through discovery: the CRD makes it known.
    const crd = JSON.stringify({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'crontabs.stable.example.com' },
      spec: {
        group: 'stable.example.com',
        names: { plural: 'crontabs', singular: 'crontab', kind: 'CronTab' },
        scope: 'Namespaced',
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    });
    const c = await admin(['apply', '-f', '-'], { stdin: crd });
    assert.equal(c.code, 0, c.stderr);
    await eventually(async () => (await admin(['get', 'crontabs'])).code === 0, 10_000, 'crontabs served');
    const manifest = JSON.stringify({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'crontabs-view', labels: { 'rbac.authorization.k8s.io/aggregate-to-view': 'true' } },
      rules: [{ apiGroups: ['stable.example.com'], resources: ['crontabs'], verbs: ['get', 'list', 'watch'] }],
    });
    const r = await admin(['apply', '-f', '-'], { stdin: manifest });
    assert.equal(r.code, 0, r.stderr);
    for (const role of ['view', 'edit', 'admin']) {
      await eventually(
        async () => {
          const o = JSON.parse((await admin(['get', 'clusterrole', role, '-o', 'json'])).stdout);
          return o.rules.some((x: { resources?: string[] }) => x.resources?.includes('crontabs'));
        },
        10_000,
        `${role} has the crontabs rule`,
      );
    }
    assert.equal((await admin(['auth', 'can-i', 'list', 'crontabs', '--as=system:serviceaccount:default:sa'])).stdout.trim(), 'yes');
    assert.equal((await admin(['auth', 'can-i', 'delete', 'crontabs', '--as=system:serviceaccount:default:sa'])).stdout.trim(), 'no');
    const del = await admin(['delete', 'clusterrole', 'crontabs-view']);
    assert.equal(del.code, 0, del.stderr);
    await eventually(
      async () => {
        const o = JSON.parse((await admin(['get', 'clusterrole', 'view', '-o', 'json'])).stdout);
        return !o.rules.some((x: { resources?: string[] }) => x.resources?.includes('crontabs'));
      },
      10_000,
      'the rule leaves view',
    );
  });

  it('SubjectAccessReview and LocalSubjectAccessReview answer for others', async () => {
    const sar = JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: { user: 'system:serviceaccount:default:sa', groups: ['system:serviceaccounts'], resourceAttributes: { namespace: 'default', verb: 'list', resource: 'pods' } },
    });
    const r = await admin(['create', '-f', '-', '-o', 'json'], { stdin: sar });
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.status.allowed, true);
    assert.equal(out.status.reason, 'RBAC: allowed by RoleBinding "sa-view/default" of ClusterRole "view" to User "system:serviceaccount:default:sa"');
    const lsar = JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'LocalSubjectAccessReview',
      metadata: { namespace: 'kube-system' },
      spec: { user: 'system:serviceaccount:default:sa', resourceAttributes: { namespace: 'kube-system', verb: 'list', resource: 'pods' } },
    });
    const l = await admin(['create', '-f', '-', '-o', 'json'], { stdin: lsar });
    assert.equal(l.code, 0, l.stderr);
    assert.deepEqual(JSON.parse(l.stdout).status, { allowed: false });
  });
});

describe('bootstrap policy reconciliation at start', () => {
  it('re-adds removed rules and subjects of autoupdate objects, keeps additions, leaves autoupdate=false alone', async () => {
    const data = await mkdtemp(path.join(tmpdir(), 'skiff-rbac-reconcile-'));
    const admin = { name: 'a', groups: ['system:masters', 'system:authenticated'] };
    const start = () => startApiServer({ dataDir: data, bindAddress: '127.0.0.1', bindPort: 0, advertiseAddress: '127.0.0.1', authorizationModes: ['Node', 'RBAC'] });
    const call = (s: Awaited<ReturnType<typeof start>>, method: string, url: string, body?: unknown) =>
      new Promise<{ code: number; obj: any }>((resolve) => {
        let code = 0;
        let out = '';
        const res: ApiResponse = {
          writeHead: (c) => void (code = c),
          write: (c) => ((out += c), true),
          end: (c) => resolve({ code, obj: JSON.parse(out + (c ?? '')) }),
        };
        const text = body === undefined ? '' : JSON.stringify(body);
        void s.serve({ method, url, headers: { 'content-type': 'application/json' }, user: admin, signal: new AbortController().signal, body: async () => Buffer.from(text), text: async () => text }, res);
      });
    const basicUser = '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:basic-user';
    const discovery = '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/system:discovery';
    const monitoring = '/apis/rbac.authorization.k8s.io/v1/clusterroles/system:monitoring';
    let s: Awaited<ReturnType<typeof start>> | undefined;
    try {
      s = await start();
      const role = (await call(s, 'GET', basicUser)).obj;
      const original = role.rules;
      role.rules = [{ apiGroups: ['example.com'], resources: ['widgets'], verbs: ['get'] }];
      assert.equal((await call(s, 'PUT', basicUser, role)).code, 200);
      const crb = (await call(s, 'GET', discovery)).obj;
      crb.subjects = [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: 'someone' }];
      assert.equal((await call(s, 'PUT', discovery, crb)).code, 200);
      const mon = (await call(s, 'GET', monitoring)).obj;
      mon.metadata.annotations['rbac.authorization.kubernetes.io/autoupdate'] = 'false';
      mon.rules = [];
      assert.equal((await call(s, 'PUT', monitoring, mon)).code, 200);
      await s.close();
      s = undefined;
      s = await start();
      const after = (await call(s, 'GET', basicUser)).obj;
      assert.deepEqual(after.rules[0], { apiGroups: ['example.com'], resources: ['widgets'], verbs: ['get'] }, 'an added rule stays');
      // the removed rules come back, broken down one verb and resource each
      assert.deepEqual(
        after.rules.slice(1).map((x: { resources: string[] }) => x.resources[0]).sort(),
        original.flatMap((x: { resources: string[] }) => x.resources).sort(),
      );
      const afterCrb = (await call(s, 'GET', discovery)).obj;
      assert.deepEqual(afterCrb.subjects.map((x: { name: string }) => x.name), ['someone', 'system:authenticated']);
      assert.deepEqual((await call(s, 'GET', monitoring)).obj.rules ?? [], [], 'autoupdate=false is left alone');
    } finally {
      await s?.close();
      await rm(data, { recursive: true, force: true });
    }
  });
});
