// Integration tier: the kubelet's token manager against an in-process apiserver, with
// the manager's clock moved by the test (the apiserver's stays real).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { inProcessTransport } from '../../client/inprocess.ts';
import { ref } from '../../client/resources.ts';
import { createClient } from '../../client/rest.ts';
import { ADMIN } from '../../client/testing.ts';
import type { Client } from '../../client/types.ts';
import { startTestCluster, type TestCluster } from '../../../test/harness.ts';
import { TokenManager } from './token.ts';

const NS = 'tok';

describe('TokenManager', () => {
  let cluster: TestCluster;
  let client: Client;

  before(async () => {
    cluster = await startTestCluster();
    client = createClient(inProcessTransport({ serve: (req, res) => cluster.server.serve(req, res) }, ADMIN));
    await client.create(ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  });
  after(async () => {
    await cluster.close();
  });

  it('requests a pod-bound token, reuses it until 80% of its lifetime, then refreshes; a failed refresh keeps a valid token', async () => {
    await client.create(ref.serviceaccounts, NS, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'app' } });
    const pod = await client.create<KObject>(ref.pods, NS, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { serviceAccountName: 'app', automountServiceAccountToken: false, containers: [{ name: 'c', image: 'busybox' }] },
    });
    const t0 = Date.now();
    let now = t0;
    const logs: string[] = [];
    const tm = new TokenManager({ client, now: () => now, log: (msg) => logs.push(msg) });
    const src = { path: 'token', audience: 'vault', expirationSeconds: 600 };
    const claims = (t: string) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString());

    const first = await tm.tokenFor(pod, src);
    assert.ok('token' in first, JSON.stringify(first));
    const c1 = claims(first.token);
    assert.deepEqual(c1.aud, ['vault']);
    assert.equal(c1.exp - c1.iat, 600);
    assert.deepEqual(c1['kubernetes.io'].pod, { name: 'p', uid: pod.metadata.uid });
    assert.equal(c1.sub, `system:serviceaccount:${NS}:app`);

    now = t0 + 400_000; // 67%: kept
    assert.deepEqual(await tm.tokenFor(pod, src), first);
    now = t0 + 500_000; // 83%: a new one
    const second = await tm.tokenFor(pod, src);
    assert.ok('token' in second);
    assert.notEqual(claims(second.token).jti, c1.jti);

    // Another lifetime is another token.
    const longer = await tm.tokenFor(pod, { ...src, expirationSeconds: 7200 });
    assert.ok('token' in longer);
    assert.equal(claims(longer.token).exp - claims(longer.token).iat, 7200);

    await client.delete(ref.serviceaccounts, NS, 'app');
    // Due for refresh, the request fails, the cached token is still valid: it is used.
    assert.deepEqual(await tm.tokenFor(pod, src), second);
    assert.equal(logs.filter((l) => l.includes('token refresh failed')).length, 1);
    now = t0 + 700_000; // expired
    assert.deepEqual(await tm.tokenFor(pod, src), { error: 'failed to fetch token: serviceaccounts "app" not found' });
  });
});
