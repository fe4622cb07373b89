// Integration: ServiceAccount tokens through the real kubectl 1.32 against an
// in-process apiserver: `kubectl create token`, the token authenticating as the
// service account (`kubectl auth whoami`), the issuer discovery documents, the
// TokenRequest errors upstream gives, and a pod-bound token dying with its pod.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { kubectlFor, spawnServer, startTestCluster, type TestCluster } from './harness.ts';

let c: TestCluster;

before(async () => {
  c = await startTestCluster();
  // No controller manager here: the service account the controller would make is made by hand.
  for (const args of [
    ['create', 'serviceaccount', 'default'],
    ['create', 'serviceaccount', 'builder'],
  ]) {
    const r = await c.kubectl(args);
    assert.equal(r.code, 0, r.stderr);
  }
});
after(async () => {
  await c?.close();
});

function claims(token: string): Record<string, any> {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

/** kubectl with only a bearer token: the admin certificate is left out of the kubeconfig. */
async function kubectlWithToken(token: string, args: string[]) {
  const cfg = await c.file(
    `token-${Math.random().toString(16).slice(2)}.kubeconfig`,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: c.server.url, 'certificate-authority-data': Buffer.from(c.server.pki.caCertPem).toString('base64') } }],
      users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u', namespace: 'default' } }],
      'current-context': 'c',
    }),
  );
  return await c.kubectl(['--kubeconfig', cfg, ...args]);
}

describe('kubectl create token', () => {
  it('issues a JWT with upstream claims that authenticates as the service account', async () => {
    const r = await c.kubectl(['create', 'token', 'default', '--duration=10m', '--audience=x', '--audience=https://kubernetes.default.svc.cluster.local']);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    const cl = claims(token);
    const sa = JSON.parse((await c.kubectl(['get', 'sa', 'default', '-o', 'json'])).stdout);
    assert.equal(cl.iss, 'https://kubernetes.default.svc.cluster.local');
    assert.equal(cl.sub, 'system:serviceaccount:default:default');
    assert.deepEqual(cl.aud, ['x', 'https://kubernetes.default.svc.cluster.local']);
    assert.equal(cl.exp - cl.iat, 600);
    assert.equal(cl.nbf, cl.iat);
    assert.match(cl.jti, /^[0-9a-f-]{36}$/);
    assert.deepEqual(cl['kubernetes.io'], { namespace: 'default', serviceaccount: { name: 'default', uid: sa.metadata.uid } });

    const who = await kubectlWithToken(token, ['auth', 'whoami', '-o', 'json']);
    assert.equal(who.code, 0, who.stderr);
    const review = JSON.parse(who.stdout);
    assert.equal(review.kind, 'SelfSubjectReview');
    assert.deepEqual(review.status.userInfo, {
      username: 'system:serviceaccount:default:default',
      uid: sa.metadata.uid,
      groups: ['system:serviceaccounts', 'system:serviceaccounts:default', 'system:authenticated'],
      extra: { 'authentication.kubernetes.io/credential-id': [`JTI=${cl.jti}`] },
    });
    const table = await kubectlWithToken(token, ['auth', 'whoami']);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^ATTRIBUTE\s+VALUE\nUsername\s+system:serviceaccount:default:default\n/);
    assert.match(table.stdout, /Groups\s+\[system:serviceaccounts system:serviceaccounts:default system:authenticated\]/);

    const get = await kubectlWithToken(token, ['get', 'sa', 'default', '-o', 'name']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout.trim(), 'serviceaccount/default');
  });

  it('a token only for another audience, a tampered token or a deleted service account get 401', async () => {
    const other = (await c.kubectl(['create', 'token', 'builder', '--audience=vault'])).stdout.trim();
    const r1 = await kubectlWithToken(other, ['get', 'sa']);
    assert.notEqual(r1.code, 0);
    assert.match(r1.stderr, /You must be logged in to the server \(Unauthorized\)/);

    const good = (await c.kubectl(['create', 'token', 'builder'])).stdout.trim();
    assert.equal((await kubectlWithToken(good, ['get', 'sa', 'builder', '-o', 'name'])).code, 0);
    const [h, p, s] = good.split('.');
    const forged = Buffer.from(p, 'base64url').toString().replace('"builder"', '"default"');
    const r2 = await kubectlWithToken(`${h}.${Buffer.from(forged).toString('base64url')}.${s}`, ['get', 'sa']);
    assert.match(r2.stderr, /Unauthorized/);

    assert.equal((await c.kubectl(['delete', 'sa', 'builder'])).code, 0);
    const r3 = await kubectlWithToken(good, ['get', 'sa']);
    assert.match(r3.stderr, /Unauthorized/);
  });

  it('answers TokenRequest errors as upstream', async () => {
    const short = await c.kubectl(['create', 'token', 'default', '--duration=5m']);
    assert.notEqual(short.code, 0);
    assert.match(short.stderr, /TokenRequest\.authentication\.k8s\.io "" is invalid: spec\.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes/);
    const missing = await c.kubectl(['create', 'token', 'nobody']);
    assert.match(missing.stderr, /serviceaccounts "nobody" not found/);
    const wrongKind = await c.kubectl(['create', 'token', 'default', '--bound-object-kind=Pod', '--bound-object-name=nope']);
    assert.match(wrongKind.stderr, /pods "nope" not found/);
  });
});

describe('service account issuer discovery', () => {
  it('serves the JWKS whose key verifies issued tokens, and the OpenID configuration', async () => {
    const r = await c.kubectl(['get', '--raw', '/openid/v1/jwks']);
    assert.equal(r.code, 0, r.stderr);
    const jwks = JSON.parse(r.stdout);
    assert.equal(jwks.keys.length, 1);
    const [key] = jwks.keys;
    assert.equal(key.kty, 'RSA');
    assert.equal(key.alg, 'RS256');
    assert.equal(key.use, 'sig');

    const token = (await c.kubectl(['create', 'token', 'default'])).stdout.trim();
    const [h, p, s] = token.split('.');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString());
    assert.deepEqual(header, { alg: 'RS256', kid: key.kid });
    const pub = createPublicKey({ key: { kty: key.kty, n: key.n, e: key.e }, format: 'jwk' });
    assert.ok(verify('sha256', Buffer.from(`${h}.${p}`), pub, Buffer.from(s, 'base64url')));

    const conf = JSON.parse((await c.kubectl(['get', '--raw', '/.well-known/openid-configuration'])).stdout);
    assert.deepEqual(conf, {
      issuer: 'https://kubernetes.default.svc.cluster.local',
      jwks_uri: `https://127.0.0.1:${c.server.port}/openid/v1/jwks`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
    });
  });
});

describe('pod-bound tokens', () => {
  it('authenticate with the pod in extra until the pod is deleted', async () => {
    const pod = await c.file(
      'pod.yaml',
      'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p1\nspec:\n  serviceAccountName: default\n  automountServiceAccountToken: false\n  containers:\n  - name: c\n    image: busybox\n',
    );
    assert.equal((await c.kubectl(['apply', '-f', pod])).code, 0);
    const uid = (await c.kubectl(['get', 'pod', 'p1', '-o', 'jsonpath={.metadata.uid}'])).stdout;
    const wrongUID = await c.kubectl(['create', 'token', 'default', '--bound-object-kind=Pod', '--bound-object-name=p1', '--bound-object-uid=0e9c-uid']);
    assert.match(wrongUID.stderr, /Operation cannot be fulfilled on Pod "p1": the UID in the bound object reference \(0e9c-uid\) does not match the UID in record/);

    const r = await c.kubectl(['create', 'token', 'default', '--bound-object-kind=Pod', '--bound-object-name=p1', `--bound-object-uid=${uid}`]);
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.deepEqual(claims(token)['kubernetes.io'].pod, { name: 'p1', uid });

    const who = await kubectlWithToken(token, ['auth', 'whoami', '-o', 'json']);
    assert.equal(who.code, 0, who.stderr);
    const extra = JSON.parse(who.stdout).status.userInfo.extra;
    assert.deepEqual(extra['authentication.kubernetes.io/pod-name'], ['p1']);
    assert.deepEqual(extra['authentication.kubernetes.io/pod-uid'], [uid]);

    // Unscheduled, the pod goes at once; the token goes with it.
    assert.equal((await c.kubectl(['delete', 'pod', 'p1'])).code, 0);
    const after = await kubectlWithToken(token, ['auth', 'whoami']);
    assert.notEqual(after.code, 0);
    assert.match(after.stderr, /Unauthorized/);
  });
});

describe('skiff server --service-account-issuer / --api-audiences', () => {
  it('issue tokens from the first issuer for the given audiences', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'skiff-sa-flags-'));
    const srv = await spawnServer(path.join(dir, 'data'), [
      '--service-account-issuer', 'https://issuer.example',
      '--service-account-issuer', 'https://old-issuer.example',
      '--api-audiences', 'aud-one,aud-two',
    ]);
    try {
      const home = path.join(dir, 'home');
      await mkdir(home);
      const k = kubectlFor(srv.kubeconfig, home);
      assert.equal((await k(['create', 'serviceaccount', 'robot'])).code, 0);
      const r = await k(['create', 'token', 'robot']);
      assert.equal(r.code, 0, r.stderr);
      const got = claims(r.stdout.trim());
      assert.equal(got.iss, 'https://issuer.example');
      assert.deepEqual(got.aud, ['aud-one', 'aud-two']);
      const conf = await k(['get', '--raw', '/.well-known/openid-configuration']);
      assert.equal(JSON.parse(conf.stdout).issuer, 'https://issuer.example');
    } finally {
      srv.child.kill('SIGTERM');
      await once(srv.child, 'exit');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
