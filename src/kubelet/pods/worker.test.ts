import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultPullPolicy, goDuration, linuxResources, podDNSConfig, registryAuth, registryHost, runtimeErrorText } from './worker.ts';
import { CriError } from '../cri/types.ts';

const pod = (spec: Record<string, any>) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'team' }, spec });
const cluster = { clusterDNS: ['10.96.0.10'], clusterDomain: 'cluster.local' };

test('dnsPolicy ClusterFirst: cluster nameserver, namespace searches, ndots:5', () => {
  const c = podDNSConfig(pod({}), cluster);
  assert.deepEqual(c.servers, ['10.96.0.10']);
  assert.deepEqual(c.searches!.slice(0, 3), ['team.svc.cluster.local', 'svc.cluster.local', 'cluster.local']);
  assert.deepEqual(c.options, ['ndots:5']);
});

test('dnsPolicy None takes dnsConfig; hostNetwork ClusterFirst falls back to the host', () => {
  const none = podDNSConfig(pod({ dnsPolicy: 'None', dnsConfig: { nameservers: ['1.2.3.4'], searches: ['a.b'], options: [{ name: 'ndots', value: '2' }, { name: 'edns0' }] } }), cluster);
  assert.deepEqual(none, { servers: ['1.2.3.4'], searches: ['a.b'], options: ['ndots:2', 'edns0'] });
  const host = podDNSConfig(pod({ hostNetwork: true }), cluster);
  assert.ok(!host.servers!.includes('10.96.0.10'));
  const withHostNet = podDNSConfig(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), cluster);
  assert.deepEqual(withHostNet.servers, ['10.96.0.10']);
});

test('resources: cpu shares and quota, memory limit', () => {
  assert.deepEqual(linuxResources({ resources: { requests: { cpu: '250m' }, limits: { cpu: '500m', memory: '20Mi' } } }), {
    cpuShares: 256, cpuPeriod: 100_000, cpuQuota: 50_000, memoryLimitInBytes: 20 * 1024 * 1024,
  });
  assert.deepEqual(linuxResources({}), { cpuShares: 2 });
});

test('back-off durations print as Go does; pull policy defaults by tag', () => {
  assert.deepEqual([10_000, 20_000, 80_000, 160_000, 300_000].map(goDuration), ['10s', '20s', '1m20s', '2m40s', '5m0s']);
  assert.equal(defaultPullPolicy('busybox'), 'Always');
  assert.equal(defaultPullPolicy('busybox:latest'), 'Always');
  assert.equal(defaultPullPolicy('localhost:5000/busybox'), 'Always');
  assert.equal(defaultPullPolicy('skiff-test/busybox:1.36'), 'IfNotPresent');
  assert.equal(defaultPullPolicy('busybox@sha256:abc'), 'IfNotPresent');
});

test('imagePullSecrets: the docker config entry for the image registry', () => {
  assert.equal(registryHost('busybox'), 'docker.io');
  assert.equal(registryHost('registry.local:5000/team/app:1'), 'registry.local:5000');
  const cfg = { auths: { 'registry.local:5000': { auth: Buffer.from('me:secret').toString('base64') }, 'https://index.docker.io/v1/': { username: 'hub', password: 'pw' } } };
  assert.deepEqual(registryAuth(cfg, 'registry.local:5000/team/app:1'), { username: 'me', password: 'secret' });
  assert.deepEqual(registryAuth(cfg, 'library/redis:7'), { username: 'hub', password: 'pw' });
  assert.equal(registryAuth(cfg, 'quay.io/x/y'), undefined);
});

test('runtime errors read as the kubelet prints gRPC status errors', () => {
  assert.equal(runtimeErrorText(new CriError('Unknown', 'ImageService/PullImage', 'failed to pull and unpack image "x"')), 'rpc error: code = Unknown desc = failed to pull and unpack image "x"');
  assert.equal(runtimeErrorText(new CriError('Cancelled', 'ImageService/PullImage', 'context canceled')), 'rpc error: code = Canceled desc = context canceled');
  assert.equal(runtimeErrorText(new Error('plain')), 'plain');
});
