import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isMirrorPod, mirrorPod, readManifests } from './static.ts';

test('manifests become static pods named after the node, and mirror pods owned by the Node', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-static-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'web.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n  - name: c\n    image: busybox\n');
  writeFileSync(path.join(dir, 'bad.yaml'), 'kind: Deployment\n');
  writeFileSync(path.join(dir, 'notes.txt'), 'ignored');
  const logs: string[] = [];
  const pods = readManifests(dir, 'n1', (m) => logs.push(m));
  assert.equal(pods.length, 1);
  const p = pods[0];
  assert.equal(p.metadata.name, 'web-n1');
  assert.equal(p.metadata.namespace, 'default');
  assert.equal(p.spec.nodeName, 'n1');
  assert.equal(p.metadata.annotations?.['kubernetes.io/config.source'], 'file');
  assert.equal(logs.length, 1, 'the invalid manifest is logged');
  assert.equal(readManifests(dir, 'n1', () => {})[0].metadata.uid, p.metadata.uid, 'same manifest, same uid');
  const m = mirrorPod(p, { name: 'n1', uid: 'node-uid' });
  assert.ok(isMirrorPod(m));
  assert.equal(m.metadata.uid, undefined);
  assert.deepEqual(m.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'node-uid', controller: true }]);
});
