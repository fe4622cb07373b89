// Unit tier: service-account token signing and validation (tokens.ts, jwt.ts, keys.ts)
// against an in-memory object lookup and a clock the tests move.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KObject } from '../../api/object.ts';
import { ensureServiceAccountKeys, type ServiceAccountKeys } from './keys.ts';
import { parseJWT, signJWT, signingKey } from './jwt.ts';
import { DEFAULT_ISSUER, TokenService, type ObjectLookup } from './tokens.ts';

const obj = (name: string, uid: string, namespace?: string): KObject => ({ metadata: { name, uid, ...(namespace ? { namespace } : {}) } });

describe('service account tokens', () => {
  let dir: string;
  let keys: ServiceAccountKeys;
  let now: number;
  const objects = new Map<string, KObject>();
  const lookup: ObjectLookup = (res, ns, name) => objects.get(`${res}/${ns ?? ''}/${name}`);
  const put = (res: string, o: KObject) => objects.set(`${res}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o);
  let svc: TokenService;
  const sa = obj('app', 'sa-uid-1', 'ns1');
  const pod = obj('web-0', 'pod-uid-1', 'ns1');
  const node = obj('n1', 'node-uid-1');

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'skiff-sa-'));
    keys = await ensureServiceAccountKeys(dir);
    now = 1_800_000_000;
    svc = new TokenService({ keys, lookup, now: () => now });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const reset = () => {
    objects.clear();
    put('serviceaccounts', sa);
    put('pods', pod);
    put('nodes', node);
  };

  it('keeps sa.key (0600) and sa.pub across starts: the same key id', async () => {
    assert.equal((await stat(path.join(dir, 'sa.key'))).mode & 0o777, 0o600);
    assert.match(await readFile(path.join(dir, 'sa.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
    const again = await ensureServiceAccountKeys(dir);
    assert.equal(again.signing.kid, keys.signing.kid);
    assert.equal(again.signing.alg, 'RS256');
    assert.equal(svc.jwks().keys[0].kid, keys.signing.kid);
  });

  it('a valid token names the service account, its groups and the bound pod and node', () => {
    reset();
    const { token, id } = svc.issue(sa, { pod, node }, { expirationSeconds: 3600, audiences: [DEFAULT_ISSUER] });
    const r = svc.validate(token);
    assert.deepEqual(r, {
      user: {
        name: 'system:serviceaccount:ns1:app',
        uid: 'sa-uid-1',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:ns1'],
        extra: {
          'authentication.kubernetes.io/pod-name': ['web-0'],
          'authentication.kubernetes.io/pod-uid': ['pod-uid-1'],
          'authentication.kubernetes.io/node-name': ['n1'],
          'authentication.kubernetes.io/node-uid': ['node-uid-1'],
          'authentication.kubernetes.io/credential-id': [`JTI=${id}`],
        },
      },
    });
    const claims = parseJWT(token)!.payload;
    assert.deepEqual(Object.keys(claims), ['aud', 'exp', 'iat', 'iss', 'jti', 'kubernetes.io', 'nbf', 'sub']);
    assert.deepEqual(claims['kubernetes.io'], {
      namespace: 'ns1',
      serviceaccount: { name: 'app', uid: 'sa-uid-1' },
      pod: { name: 'web-0', uid: 'pod-uid-1' },
      node: { name: 'n1', uid: 'node-uid-1' },
    });
  });

  it('refuses a bad signature, another key, or alg none', () => {
    reset();
    const { token } = svc.issue(sa, {}, { expirationSeconds: 3600, audiences: [DEFAULT_ISSUER] });
    const [h, p, s] = token.split('.');
    const flipped = Buffer.from(s, 'base64url');
    flipped[10] ^= 1;
    assert.deepEqual(svc.validate(`${h}.${p}.${flipped.toString('base64url')}`), { error: 'invalid signature' });
    const other = signingKey(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    assert.deepEqual(svc.validate(signJWT(other, payload)), { error: 'invalid signature' });
    const none = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${p}.`;
    assert.deepEqual(svc.validate(none), { error: 'invalid signature' });
    assert.equal(svc.authenticate(none), undefined);
  });

  it('is not the authenticator of other tokens: no JWT, or another issuer', () => {
    reset();
    assert.equal(svc.validate('abcdef.0123456789abcdef'), undefined);
    const foreign = signJWT(keys.signing, { iss: 'https://elsewhere', sub: 'x', aud: [DEFAULT_ISSUER], exp: now + 600 });
    assert.equal(svc.validate(foreign), undefined);
  });

  it('refuses expired tokens (after the 60 s leeway) and tokens not valid yet', () => {
    reset();
    const { token } = svc.issue(sa, {}, { expirationSeconds: 600, audiences: [DEFAULT_ISSUER] });
    const start = now;
    try {
      now = start + 600 + 60;
      assert.ok('user' in svc.validate(token)!, 'within the leeway');
      now = start + 600 + 61;
      assert.deepEqual(svc.validate(token), { error: 'service account token has expired' });
      now = start - 61;
      assert.deepEqual(svc.validate(token), { error: 'service account token is not valid yet' });
    } finally {
      now = start;
    }
  });

  it('refuses tokens whose audiences are not API audiences', () => {
    reset();
    const { token } = svc.issue(sa, {}, { expirationSeconds: 600, audiences: ['vault'] });
    assert.match((svc.validate(token) as { error: string }).error, /token audiences \["vault"\] is invalid for the target audiences/);
    const both = svc.issue(sa, {}, { expirationSeconds: 600, audiences: ['vault', DEFAULT_ISSUER] }).token;
    assert.ok('user' in svc.validate(both)!);
  });

  it('refuses tokens of a deleted or recreated service account, or of a deleted pod', () => {
    reset();
    const { token } = svc.issue(sa, { pod }, { expirationSeconds: 600, audiences: [DEFAULT_ISSUER] });
    objects.delete('pods/ns1/web-0');
    assert.deepEqual(svc.validate(token), { error: 'service account token has been invalidated' });
    put('pods', obj('web-0', 'pod-uid-2', 'ns1'));
    assert.match((svc.validate(token) as { error: string }).error, /pod UID \(pod-uid-2\) does not match/);
    // Terminating for longer than the leeway counts as gone.
    put('pods', { metadata: { ...pod.metadata, deletionTimestamp: new Date((now - 120) * 1000).toISOString() } });
    assert.deepEqual(svc.validate(token), { error: 'service account token has been invalidated' });

    reset();
    objects.delete('serviceaccounts/ns1/app');
    assert.deepEqual(svc.validate(token), { error: 'serviceaccounts "app" not found' });
    put('serviceaccounts', obj('app', 'sa-uid-2', 'ns1'));
    assert.match((svc.validate(token) as { error: string }).error, /service account UID \(sa-uid-2\) does not match claim \(sa-uid-1\)/);
  });

  it('a node-bound token lives as long as its node', () => {
    reset();
    const { token } = svc.issue(sa, { node }, { expirationSeconds: 600, audiences: [DEFAULT_ISSUER] });
    assert.ok('user' in svc.validate(token)!);
    objects.delete('nodes//n1');
    assert.deepEqual(svc.validate(token), { error: 'service account token has been invalidated' });
  });

  it('warnafter marks the kubelet\'s extended tokens', () => {
    reset();
    const { token } = svc.issue(sa, { pod }, { expirationSeconds: 365 * 24 * 3600, audiences: [DEFAULT_ISSUER], warnAfterSeconds: 3607 });
    const k8s = parseJWT(token)!.payload['kubernetes.io'] as Record<string, unknown>;
    assert.equal(k8s.warnafter, now + 3607);
  });

  it('accepts an existing P-256 sa.key and signs ES256 with it', async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'skiff-sa-ec-'));
    try {
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await writeFile(path.join(d, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
      const ec = await ensureServiceAccountKeys(d);
      assert.equal(ec.signing.alg, 'ES256');
      const s = new TokenService({ keys: ec, lookup, now: () => now });
      reset();
      const { token } = s.issue(sa, {}, { expirationSeconds: 600, audiences: [DEFAULT_ISSUER] });
      assert.equal(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString()).alg, 'ES256');
      assert.ok('user' in s.validate(token)!);
      assert.equal(svc.authenticate(token), undefined, 'the RSA-keyed issuer does not accept it');
      assert.deepEqual(s.jwks().keys[0].crv, 'P-256');
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
