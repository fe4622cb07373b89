// Deployment helpers (unit): fenceposts with upstream's rounding, the pod-template-hash,
// revision bookkeeping on rollbacks, proportional shares, and the rollout predicates.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import {
  computeHash,
  deploymentComplete,
  deploymentTimedOut,
  equalIgnoreHash,
  fnv32a,
  getProportion,
  maxSurge,
  maxUnavailable,
  newRSNewReplicas,
  resolveFenceposts,
  safeEncodeString,
  setCondition,
  setNewReplicaSetAnnotations,
} from './util.ts';

const deployment = (replicas: number, surge: number | string = '25%', unavailable: number | string = '25%', extra: Record<string, unknown> = {}): KObject => ({
  metadata: { name: 'web', generation: 1, annotations: {} },
  spec: { replicas, strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } }, ...extra },
  status: {},
});
const rs = (name: string, replicas: number, annotations: Record<string, string> = {}): KObject => ({ metadata: { name, annotations }, spec: { replicas }, status: {} });

describe('deployment fenceposts', () => {
  it('rounds maxSurge up and maxUnavailable down, as upstream', () => {
    assert.deepEqual(resolveFenceposts('25%', '25%', 10), { maxSurge: 3, maxUnavailable: 2 });
    assert.deepEqual(resolveFenceposts('25%', '25%', 1), { maxSurge: 1, maxUnavailable: 0 });
    // Both zero after rounding: maxUnavailable becomes 1.
    assert.deepEqual(resolveFenceposts(0, '10%', 5), { maxSurge: 0, maxUnavailable: 1 });
    assert.equal(maxUnavailable(deployment(3, 0, 5)), 3, 'capped at replicas');
    assert.equal(maxUnavailable(deployment(0)), 0);
    assert.equal(maxSurge(deployment(10, '30%')), 3);
    assert.equal(maxSurge({ ...deployment(10), spec: { ...deployment(10).spec, strategy: { type: 'Recreate' } } }), 0);
  });

  it('grows the new ReplicaSet within replicas + maxSurge', () => {
    const d = deployment(10);
    const newRS = rs('new', 0);
    assert.equal(newRSNewReplicas(d, [rs('old', 10), newRS], newRS), 3);
    assert.equal(newRSNewReplicas(d, [rs('old', 8), rs('new', 3)], rs('new', 3)), 5);
    assert.equal(newRSNewReplicas(d, [rs('old', 10), rs('new', 3)], rs('new', 3)), 3);
  });
});

describe('pod-template-hash', () => {
  it('is a stable FNV-1a of the template in the safe alphabet, changing with the template and the collision count', () => {
    assert.equal(fnv32a(new TextEncoder().encode('')), 0x811c9dc5);
    assert.equal(fnv32a(new TextEncoder().encode('a')), 0xe40c292c);
    assert.equal(safeEncodeString('0123'), '4567');
    const t = deployment(1).spec.template;
    const h = computeHash(t);
    assert.match(h, /^[4-9bcdf]{1,10}$/, 'decimal digits in the safe alphabet');
    assert.equal(computeHash(structuredClone(t)), h);
    assert.equal(computeHash({ ...t, metadata: { ...t.metadata, creationTimestamp: null } }), h, 'zero values do not count');
    assert.notEqual(computeHash({ ...t, spec: { containers: [{ name: 'c', image: 'nginx:2' }] } }), h);
    assert.notEqual(computeHash(t, 1), h);
  });

  it('templates compare equal ignoring the hash label', () => {
    const t = deployment(1).spec.template;
    const labelled = structuredClone(t);
    labelled.metadata.labels['pod-template-hash'] = 'abc';
    assert.ok(equalIgnoreHash(t, labelled));
    labelled.spec.containers[0].image = 'other';
    assert.ok(!equalIgnoreHash(t, labelled));
  });
});

describe('revisions', () => {
  it('copies deployment annotations, sets replica annotations on a new ReplicaSet, and keeps revision history on a rollback', () => {
    const d = deployment(4);
    d.metadata.annotations = { 'kubernetes.io/change-cause': 'v2', 'kubectl.kubernetes.io/last-applied-configuration': '{}', 'deployment.kubernetes.io/revision': '7' };
    const fresh = rs('new', 0);
    assert.ok(setNewReplicaSetAnnotations(d, fresh, { newRevision: '3', exists: false }));
    assert.deepEqual(fresh.metadata.annotations, {
      'kubernetes.io/change-cause': 'v2',
      'deployment.kubernetes.io/revision': '3',
      'deployment.kubernetes.io/desired-replicas': '4',
      'deployment.kubernetes.io/max-replicas': '5',
    });
    const old = rs('old', 0, { 'deployment.kubernetes.io/revision': '1', 'kubernetes.io/change-cause': 'v2' });
    assert.ok(setNewReplicaSetAnnotations(d, old, { newRevision: '4', exists: true }));
    assert.equal(old.metadata.annotations!['deployment.kubernetes.io/revision'], '4');
    assert.equal(old.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1');
    setNewReplicaSetAnnotations(d, old, { newRevision: '6', exists: true });
    assert.equal(old.metadata.annotations!['deployment.kubernetes.io/revision-history'], '1,4');
    assert.equal(setNewReplicaSetAnnotations(d, old, { newRevision: '5', exists: true }), false, 'never lowered');
  });
});

describe('proportional scaling', () => {
  it('shares an increase by the max-replicas annotation, rounding half away from zero', () => {
    const d = deployment(20, 3, 0);
    const old = rs('old', 10, { 'deployment.kubernetes.io/max-replicas': '13' });
    const neu = rs('new', 3, { 'deployment.kubernetes.io/max-replicas': '13' });
    assert.equal(getProportion(old, d, 10, 0), 8);
    assert.equal(getProportion(neu, d, 10, 8), 2);
    const down = deployment(5, 3, 0);
    assert.equal(getProportion(old, down, -10, 0), -4);
  });
});

describe('rollout predicates', () => {
  it('complete, timed out, and conditions keeping their transition time', () => {
    const d = deployment(2, '25%', '25%', { progressDeadlineSeconds: 10 });
    assert.ok(deploymentComplete(d, { updatedReplicas: 2, replicas: 2, availableReplicas: 2, observedGeneration: 1 }));
    assert.ok(!deploymentComplete(d, { updatedReplicas: 2, replicas: 3, availableReplicas: 2, observedGeneration: 1 }));
    const now = Date.parse('2026-01-01T00:01:00Z');
    const stale = { conditions: [{ type: 'Progressing', status: 'True' as const, reason: 'ReplicaSetUpdated', lastUpdateTime: '2026-01-01T00:00:00Z' }] };
    assert.ok(deploymentTimedOut(d, stale, now));
    assert.ok(!deploymentTimedOut(d, stale, Date.parse('2026-01-01T00:00:05Z')));
    const s = { conditions: [{ type: 'Available', status: 'True' as const, reason: 'A', lastTransitionTime: 'then', lastUpdateTime: 'then' }] };
    setCondition(s, { type: 'Available', status: 'True', reason: 'B', lastTransitionTime: 'now', lastUpdateTime: 'now' });
    assert.equal(s.conditions[0].lastTransitionTime, 'then');
    assert.equal(s.conditions[0].reason, 'B');
  });
});
