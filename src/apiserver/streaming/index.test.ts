import { test } from 'node:test';
import assert from 'node:assert/strict';
import { streamingTarget } from './index.ts';

test('streamingTarget: the streaming subresources of pods and services/proxy, nothing else', () => {
  const log = streamingTarget('/api/v1/namespaces/default/pods/web/log?container=c&follow=true', { name: 'u', groups: [] });
  assert.equal(log?.kind, 'log');
  assert.equal(log?.namespace, 'default');
  assert.equal(log?.name, 'web');
  assert.equal(log?.query.get('container'), 'c');
  assert.equal(log?.user?.name, 'u');
  const exec = streamingTarget('/api/v1/namespaces/ns/pods/p/exec?command=sh&command=-c&command=echo%20hi&stdout=true');
  assert.equal(exec?.kind, 'exec');
  assert.deepEqual(exec?.query.getAll('command'), ['sh', '-c', 'echo hi']);
  assert.equal(streamingTarget('/api/v1/namespaces/ns/pods/p/attach')?.kind, 'attach');
  assert.equal(streamingTarget('/api/v1/namespaces/ns/pods/p/portforward?ports=80')?.kind, 'portforward');
  const proxy = streamingTarget('/api/v1/namespaces/ns/pods/https:p:8443/proxy/a/b?x=1');
  assert.deepEqual([proxy?.kind, proxy?.resource, proxy?.name, proxy?.path, proxy?.query.get('x')], ['proxy', 'pods', 'https:p:8443', '/a/b', '1']);
  assert.equal(streamingTarget('/api/v1/namespaces/ns/pods/p/proxy')?.path, '/');
  assert.equal(streamingTarget('/api/v1/namespaces/ns/services/svc:http/proxy/')?.resource, 'services');
  assert.equal(streamingTarget('/api/v1/namespaces/ns/services/svc/log'), undefined);
  assert.equal(streamingTarget('/api/v1/namespaces/ns/pods/p/status'), undefined);
  assert.equal(streamingTarget('/api/v1/namespaces/ns/pods/p'), undefined);
  assert.equal(streamingTarget('/api/v1/namespaces/ns/pods/p/log/extra'), undefined);
  assert.equal(streamingTarget('/apis/apps/v1/namespaces/ns/deployments/d/log'), undefined);
});

test('streamingTarget: nodes/proxy with the rest of the path and the query', () => {
  const t = streamingTarget('/api/v1/nodes/n1/proxy/stats/summary?only_cpu_and_memory=true', { name: 'u', groups: [] });
  assert.deepEqual([t?.kind, t?.resource, t?.name, t?.namespace, t?.path, t?.query.get('only_cpu_and_memory')], ['proxy', 'nodes', 'n1', '', '/stats/summary', 'true']);
  assert.equal(streamingTarget('/api/v1/nodes/n1:10250/proxy')?.path, '/');
  assert.equal(streamingTarget('/api/v1/nodes/n1/status'), undefined);
  assert.equal(streamingTarget('/api/v1/nodes/n1'), undefined);
});
