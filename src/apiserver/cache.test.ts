import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RESOURCES } from '../api/resources.ts';
import { decodeStored, dispatch, MATCH_ALL, metadataEnd, ResourceCache, type CacheEvent, type CachedObject } from './cache.ts';

const leases = RESOURCES.find((r) => r.group === 'coordination.k8s.io' && r.plural === 'leases')!;
const configmaps = RESOURCES.find((r) => r.group === '' && r.plural === 'configmaps')!;
const nodes = RESOURCES.find((r) => r.group === '' && r.plural === 'nodes')!;

const lease = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: {
    name,
    namespace: 'kube-node-lease',
    uid: '6d0c7d43-8b33-4c1b-9d7e-2b0b8f3f9a10',
    creationTimestamp: '2026-11-22T04:00:00Z',
    ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name, uid: 'a3c0', controller: false }],
    managedFields: [
      {
        manager: 'kubelet',
        operation: 'Update',
        apiVersion: 'coordination.k8s.io/v1',
        time: '2026-11-22T04:00:00Z',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:metadata': { 'f:ownerReferences': { '.': {}, 'k:{"uid":"a3c0"}': {} } }, 'f:spec': { 'f:renewTime': {} } },
      },
    ],
    ...extra,
  },
  spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: '2026-11-22T04:00:10.123456Z' },
});

// Stored text is JSON.stringify of the object without its resourceVersion (the registry's encodeForStore).
const kv = (key: string, obj: unknown, modRevision = 42) => ({ key, value: JSON.stringify(obj), createRevision: 7, modRevision });

test('a lease is cached as the same JSON decodeStored gives, for objects of every shape', () => {
  const rc = new ResourceCache(leases, 0);
  const key = '/registry/coordination.k8s.io/leases/kube-node-lease/n1';
  const shapes: unknown[] = [
    lease('n1'),
    // metadata after spec, and a nested "metadata" key before it
    { spec: { metadata: { resourceVersion: 'x' } }, kind: 'Lease', metadata: { name: 'n1' } },
    // empty metadata
    { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: {} },
    // strings with braces, brackets, quotes, backslashes and non-ASCII in and around metadata
    lease('n1', { annotations: { 'a}': '{"metadata":{}}', 'b\\': 'x\\"]}', 'ü': '日本\u2028' }, labels: { '10': 'x', '2': 'y' } }),
    // a top-level string that looks like metadata
    { note: '"metadata":{"a":1}', metadata: { name: 'n1' } },
  ];
  for (const obj of shapes) {
    const got = rc.decode(kv(key, obj, 123));
    const want = decodeStored(kv(key, obj, 123));
    assert.equal(got.json, want.json);
    assert.deepEqual(got.obj, want.obj);
    assert.equal(got.modRevision, 123);
    assert.equal(JSON.parse(got.json).metadata.resourceVersion, '123');
  }
});

test('text of another shape falls back to decoding', () => {
  const rc = new ResourceCache(leases, 0);
  const key = '/registry/coordination.k8s.io/leases/default/x';
  for (const obj of [{ kind: 'Lease' }, { metadata: null }, { metadata: [] }, { metadata: { name: 'x', resourceVersion: '5' } }]) {
    assert.equal(rc.decode(kv(key, obj, 9)).json, decodeStored(kv(key, obj, 9)).json);
  }
  assert.equal(metadataEnd('{"metadata":{"name":"x","resourceVersion":"5"}}'), -1);
  assert.equal(metadataEnd('{"metadata":{}}'), 13);
  assert.equal(metadataEnd('[]'), -1);
});

test('a text-only object is parsed afresh on every read: readers get private copies', () => {
  const c = new ResourceCache(leases, 0).decode(kv('/registry/coordination.k8s.io/leases/kube-node-lease/n1', lease('n1')));
  const a = c.obj;
  const b = c.obj;
  assert.notEqual(a, b);
  a.spec!.holderIdentity = 'changed';
  assert.equal(c.obj.spec!.holderIdentity, 'n1');
  // Nodes too (cluster-scoped: no namespace in the key).
  const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1' } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
  const n = new ResourceCache(nodes, 0).decode(kv('/registry/nodes/n1', node, 9));
  assert.equal(n.json, decodeStored(kv('/registry/nodes/n1', node, 9)).json);
  assert.notEqual(n.obj, n.obj);
  n.obj.status!.conditions![0].status = 'False';
  assert.equal(n.obj.status!.conditions![0].status, 'True');
  // Other resources keep one decoded object.
  const cm = new ResourceCache(configmaps, 0).decode(kv('/registry/configmaps/default/c', { kind: 'ConfigMap', metadata: { name: 'c', namespace: 'default' } }));
  assert.equal(cm.obj, cm.obj);
});

test('watch dispatch of text-only objects: namespace from the key, selectors on the decoded object', () => {
  const rc = new ResourceCache(leases, 0);
  const inNs = rc.decode(kv('/registry/coordination.k8s.io/leases/kube-node-lease/n1', lease('n1', { labels: { a: 'b' } }), 10));
  const other = rc.decode(kv('/registry/coordination.k8s.io/leases/kube-system/n1', { ...lease('n1'), metadata: { name: 'n1', namespace: 'kube-system' } }, 11));
  const seen: string[] = [];
  const watcher = (namespace: string | undefined, matches: (o: any) => boolean) => ({
    afterRevision: 0,
    namespace,
    matches,
    deliver: (type: string, c: CachedObject) => seen.push(`${namespace ?? '*'} ${type} ${c.key.split('/')[4]}`),
  });
  const ev = (cur: CachedObject): CacheEvent => ({ type: 'ADDED', revision: cur.modRevision, cur });
  for (const w of [watcher('kube-node-lease', MATCH_ALL), watcher(undefined, MATCH_ALL), watcher('kube-system', MATCH_ALL), watcher(undefined, (o) => o.metadata.labels?.a === 'b')]) {
    dispatch(w, ev(inNs));
    dispatch(w, ev(other));
  }
  assert.deepEqual(seen, [
    'kube-node-lease ADDED kube-node-lease',
    '* ADDED kube-node-lease',
    '* ADDED kube-system',
    'kube-system ADDED kube-system',
    '* ADDED kube-node-lease',
  ]);
});
