// storedAsSent: when a sim node may keep its own copy of the lease it wrote (with the new
// resourceVersion) instead of the server's answer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { storedAsSent } from './pool.ts';

const sent = (): KObject => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: 'sim-0', namespace: 'kube-node-lease', uid: 'u1', resourceVersion: '7', ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'sim-0', uid: 'n1' }] },
  spec: { holderIdentity: 'sim-0', leaseDurationSeconds: 40, renewTime: '2026-11-22T10:00:00.000000Z' },
});

test('an answer that differs only in resourceVersion and managedFields is the lease as sent', () => {
  const got = sent();
  got.metadata.resourceVersion = '8';
  got.metadata.managedFields = [{ manager: 'skiff-sim', operation: 'Update' }];
  // Keys in another order are the same JSON.
  const reordered: KObject = { spec: got.spec, metadata: got.metadata, kind: got.kind, apiVersion: got.apiVersion };
  assert.equal(storedAsSent(reordered, sent()), true);
});

test('anything else the server changed or added makes the answer the one to keep', () => {
  const cases: [string, (o: KObject) => void][] = [
    ['a label', (o) => (o.metadata.labels = { a: 'b' })],
    ['an owner reference', (o) => (o.metadata.ownerReferences![0]!.uid = 'n2')],
    ['a second owner reference', (o) => o.metadata.ownerReferences!.push({ apiVersion: 'v1', kind: 'Node', name: 'x', uid: 'x' })],
    ['the holder', (o) => (o.spec.holderIdentity = 'other')],
    ['a spec field', (o) => (o.spec.leaseTransitions = 1)],
    ['a top-level field', (o) => (o.status = {})],
    ['a field removed', (o) => delete o.spec.leaseDurationSeconds],
  ];
  for (const [what, change] of cases) {
    const got = sent();
    change(got);
    assert.equal(storedAsSent(got, sent()), false, what);
  }
});
