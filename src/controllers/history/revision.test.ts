// ControllerRevision naming and ordering: hashes depend on the data (not on key order)
// and on the collision count; names stay valid; rollbacks are found by equal data.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import {
  computeTemplateHash,
  controllerRevisionName,
  findEqualRevisions,
  hashRevisionData,
  newControllerRevision,
  nextRevision,
  safeEncodeString,
  sortRevisions,
  templateFromRevision,
  templatePatch,
} from './revision.ts';

const parent: KObject = { metadata: { name: 'web', namespace: 'default', uid: 'u1' } };

describe('controller revisions', () => {
  it('hashes are stable across key order and change with the collision count', () => {
    const a = templatePatch({ metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'n', image: 'nginx' }] } });
    const b = templatePatch({ spec: { containers: [{ image: 'nginx', name: 'n' }] }, metadata: { labels: { app: 'web' } } });
    assert.equal(hashRevisionData(a, 0), hashRevisionData(b, 0));
    assert.notEqual(hashRevisionData(a, 0), hashRevisionData(a, 1));
    assert.match(hashRevisionData(a, 0), /^[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.equal(computeTemplateHash({ a: 1, b: 2 }), computeTemplateHash({ b: 2, a: 1 }));
    assert.equal(safeEncodeString('0123456789'), '456789bcdf');
  });

  it('names: <parent>-<hash>, the parent cut at 223 characters', () => {
    assert.equal(controllerRevisionName('web', 'abc'), 'web-abc');
    assert.equal(controllerRevisionName('x'.repeat(300), 'abc').length, 223 + 4);
    const rev = newControllerRevision(parent, { apiVersion: 'apps/v1', kind: 'StatefulSet', templateLabels: { app: 'web' }, data: templatePatch({ spec: {} }), revision: 3, collisionCount: 0 });
    assert.equal(rev.metadata.name, `web-${rev.metadata.labels!['controller-revision-hash']}`);
    assert.equal(rev.metadata.labels!.app, 'web');
    assert.deepEqual(rev.metadata.ownerReferences, [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'web', uid: 'u1', controller: true, blockOwnerDeletion: true }]);
    assert.deepEqual(templateFromRevision(rev), { spec: {} });
  });

  it('ordering, next number, and finding an equal (rollback) revision', () => {
    const mk = (name: string, revision: number, image: string): KObject => ({ metadata: { name, creationTimestamp: '2026-01-01T00:00:00Z' }, revision, data: templatePatch({ spec: { containers: [{ image }] } }) });
    const revs = [mk('c', 3, 'v3'), mk('a', 1, 'v1'), mk('b', 2, 'v2')];
    assert.deepEqual(sortRevisions(revs).map((r) => r.metadata.name), ['a', 'b', 'c']);
    assert.equal(nextRevision(sortRevisions(revs)), 4);
    assert.equal(nextRevision([]), 1);
    assert.deepEqual(findEqualRevisions(revs, mk('new', 4, 'v1')).map((r) => r.metadata.name), ['a']);
  });
});
