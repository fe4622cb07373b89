// Integration: the real kubectl 1.32 against `skiff server` (a child process) creating the
// create-only review kinds with its default (strict) validation. /openapi/v3 shows no PATCH
// operation for them, so kubectl falls back to /openapi/v2 (gnostic protobuf) and validates
// the object client-side against its definitions, as against an upstream apiserver.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { kubectlFor, requireKubectl, spawnServer, type Kubectl } from './harness.ts';
import { parseKubeconfig, type KubeconfigCredentials } from '../src/client/kubeconfig.ts';

let dir: string;
let child: ChildProcess;
let kubectl: Kubectl;
let creds: KubeconfigCredentials;

/** GET /openapi/v2 with the admin's client certificate and the given Accept header. */
function getV2(accept: string): Promise<{ code: number; type: string | undefined; etag: string | undefined; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = https.get(new URL('/openapi/v2', creds.server), { ca: creds.caCertPem, cert: creds.clientCertPem, key: creds.clientKeyPem, headers: { accept } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ code: res.statusCode!, type: res.headers['content-type'], etag: res.headers.etag, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
}

before(async () => {
  requireKubectl();
  dir = await mkdtemp(path.join(tmpdir(), 'skiff-openapi-'));
  const s = await spawnServer(path.join(dir, 'data'));
  child = s.child;
  kubectl = kubectlFor(s.kubeconfig, path.join(dir, 'home'));
  creds = parseKubeconfig(await readFile(s.kubeconfig, 'utf8'), { path: s.kubeconfig });
});

after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('kubectl create of create-only kinds with default validation', () => {
  it('creates a SelfSubjectAccessReview and prints it as upstream', async () => {
    const body = ['apiVersion: authorization.k8s.io/v1', 'kind: SelfSubjectAccessReview', 'spec:', '  resourceAttributes:', '    namespace: default', '    verb: list', '    resource: pods', ''].join('\n');
    const r = await kubectl(['create', '-f', '-', '-o', 'yaml'], { stdin: body });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal(
      r.stdout,
      [
        'apiVersion: authorization.k8s.io/v1',
        'kind: SelfSubjectAccessReview',
        'metadata:',
        '  creationTimestamp: null',
        'spec:',
        '  resourceAttributes:',
        '    namespace: default',
        '    resource: pods',
        '    verb: list',
        'status:',
        '  allowed: true',
        '',
      ].join('\n'),
    );
  });

  it('creates a SelfSubjectReview and prints it as upstream', async () => {
    const r = await kubectl(['create', '-f', '-', '-o', 'yaml'], { stdin: 'apiVersion: authentication.k8s.io/v1\nkind: SelfSubjectReview\n' });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.deepEqual(lines.slice(0, 3), ['apiVersion: authentication.k8s.io/v1', 'kind: SelfSubjectReview', 'metadata:']);
    assert.match(lines[3], /^ {2}creationTimestamp: "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"$/);
    assert.deepEqual(lines.slice(4), ['status:', '  userInfo:', '    groups:', '    - system:masters', '    - system:authenticated', '    username: kubernetes-admin', '']);
  });

  it("reports an unknown field in the words of kubectl's client-side validation", async () => {
    const body = ['apiVersion: authorization.k8s.io/v1', 'kind: SelfSubjectAccessReview', 'spec:', '  bogus: 1', '  resourceAttributes:', '    verb: list', '    resource: pods', ''].join('\n');
    const r = await kubectl(['create', '-f', '-'], { stdin: body });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      'error: error validating "STDIN": error validating data: ValidationError(SelfSubjectAccessReview.spec): unknown field "bogus" in io.k8s.api.authorization.v1.SelfSubjectAccessReviewSpec; if you choose to ignore these errors, turn validation off with --validate=false\n',
    );
    // A misspelt top-level field of a SelfSubjectReview too.
    const s = await kubectl(['create', '-f', '-'], { stdin: 'apiVersion: authentication.k8s.io/v1\nkind: SelfSubjectReview\nspecc: {}\n' });
    assert.equal(s.code, 1);
    assert.equal(
      s.stderr,
      'error: error validating "STDIN": error validating data: ValidationError(SelfSubjectReview): unknown field "specc" in io.k8s.api.authentication.v1.SelfSubjectReview; if you choose to ignore these errors, turn validation off with --validate=false\n',
    );
  });

  it('serves /openapi/v2 as Swagger 2.0 JSON with the create-only POST operations', async () => {
    const r = await kubectl(['get', '--raw', '/openapi/v2']);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.swagger, '2.0');
    const post = doc.paths['/apis/authentication.k8s.io/v1/selfsubjectreviews'].post;
    assert.deepEqual(post['x-kubernetes-group-version-kind'], { group: 'authentication.k8s.io', kind: 'SelfSubjectReview', version: 'v1' });
    assert.equal(post.operationId, 'createAuthenticationV1SelfSubjectReview');
    assert.deepEqual(post.parameters[0], { in: 'body', name: 'body', required: true, schema: { $ref: '#/definitions/io.k8s.api.authentication.v1.SelfSubjectReview' } });
    assert.ok(doc.definitions['io.k8s.api.authorization.v1.SelfSubjectAccessReviewSpec']);
  });

  it('answers the protobuf form client-go asks for, JSON for JSON, and 406 for anything else', async () => {
    const pb = await getV2('application/com.github.proto-openapi.spec.v2@v1.0+protobuf');
    assert.equal(pb.code, 200);
    assert.equal(pb.type, 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
    // openapi.v2.Document field 1 (swagger), length-delimited: 0x0a, 3, "2.0".
    assert.deepEqual([...pb.body.subarray(0, 5)], [0x0a, 3, ...Buffer.from('2.0')]);
    const json = await getV2('application/json');
    assert.equal(json.code, 200);
    assert.equal(json.type, 'application/json');
    assert.equal(JSON.parse(json.body.toString('utf8')).swagger, '2.0');
    assert.notEqual(json.etag, pb.etag);
    const html = await getV2('text/html');
    assert.equal(html.code, 406);
  });
});
