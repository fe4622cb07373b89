import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerEnv, expand, serviceEnv } from './env.ts';

test('$(VAR) expansion follows upstream: defined replaced, undefined kept, $$ escapes', () => {
  const vars: Record<string, string> = { A: 'a', B: 'b' };
  const look = (n: string) => vars[n];
  assert.equal(expand('$(A)-$(B)-$(C)', look), 'a-b-$(C)');
  assert.equal(expand('$$(A) $x $', look), '$(A) $x $');
  assert.equal(expand('$(A', look), '$(A');
});

test('env: envFrom then env in order, refs, optional and missing', async () => {
  const pod = { metadata: { name: 'p', namespace: 'ns', uid: 'u1', labels: { app: 'x' } }, spec: { nodeName: 'n1' }, status: { podIP: '10.0.0.2' } };
  const data = async (kind: string, _ns: string, name: string) => (kind === 'ConfigMap' && name === 'cm' ? { K: 'v', HOST: 'h' } : undefined);
  const c = {
    envFrom: [{ configMapRef: { name: 'cm' }, prefix: 'CM_' }, { secretRef: { name: 'nope', optional: true } }],
    env: [
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: 'URL', value: 'http://$(CM_HOST):$(PORT)/$(POD)' },
      { name: 'KEY', valueFrom: { configMapKeyRef: { name: 'cm', key: 'K' } } },
      { name: 'OPT', valueFrom: { secretKeyRef: { name: 's', key: 'k', optional: true } } },
      { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
      { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
    ],
    resources: { limits: { memory: '64Mi' }, requests: { cpu: '250m' } },
  };
  const r = await containerEnv(pod, c, { data, nodeAllocatable: { cpu: '4', memory: '1Gi' } });
  assert.equal(r.error, undefined);
  assert.deepEqual(Object.fromEntries(r.env!.map((e) => [e.key, e.value])), {
    CM_K: 'v', CM_HOST: 'h', POD: 'p', APP: 'x', URL: 'http://h:$(PORT)/p', KEY: 'v', MEM: '64', CPU: '250',
  });
  const missing = await containerEnv(pod, { env: [{ name: 'X', valueFrom: { configMapKeyRef: { name: 'cm', key: 'nokey' } } }] }, { data, nodeAllocatable: {} });
  assert.equal(missing.error, "couldn't find key nokey in ConfigMap ns/cm");
  const noCm = await containerEnv(pod, { envFrom: [{ configMapRef: { name: 'other' } }] }, { data, nodeAllocatable: {} });
  assert.equal(noCm.error, 'configmap "other" not found');
});

test('service links: docker-links variables for services with a ClusterIP', () => {
  const env = serviceEnv([
    { metadata: { name: 'redis-primary', namespace: 'ns' }, spec: { clusterIP: '10.96.0.11', ports: [{ name: 'redis', port: 6379, protocol: 'TCP' }] } },
    { metadata: { name: 'headless', namespace: 'ns' }, spec: { clusterIP: 'None', ports: [{ port: 80 }] } },
  ]);
  assert.deepEqual(Object.fromEntries(env), {
    REDIS_PRIMARY_SERVICE_HOST: '10.96.0.11',
    REDIS_PRIMARY_SERVICE_PORT: '6379',
    REDIS_PRIMARY_SERVICE_PORT_REDIS: '6379',
    REDIS_PRIMARY_PORT: 'tcp://10.96.0.11:6379',
    REDIS_PRIMARY_PORT_6379_TCP: 'tcp://10.96.0.11:6379',
    REDIS_PRIMARY_PORT_6379_TCP_PROTO: 'tcp',
    REDIS_PRIMARY_PORT_6379_TCP_PORT: '6379',
    REDIS_PRIMARY_PORT_6379_TCP_ADDR: '10.96.0.11',
  });
});
