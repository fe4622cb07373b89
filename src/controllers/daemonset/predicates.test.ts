// Where daemon pods belong: taints against tolerations (the automatic ones included),
// nodeSelector and required node affinity, and the pinning term.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { daemonPodTolerations, matchesNodeSelectorAndAffinity, nodeShouldRunDaemonPod, pinToNode, targetNodeName, toleratesTaint } from './predicates.ts';

const node = (name: string, o: { labels?: Record<string, string>; taints?: unknown[] } = {}): KObject => ({ metadata: { name, labels: o.labels ?? {} }, spec: { taints: o.taints ?? [] } });
const ds = (spec: Record<string, unknown> = {}): KObject => ({ metadata: { name: 'd' }, spec: { template: { spec: { containers: [{ name: 'a', image: 'x' }], ...spec } } } });

describe('daemonset predicates', () => {
  it('toleration matching as v1helper.ToleratesTaint', () => {
    const taint = { key: 'dedicated', value: 'gpu', effect: 'NoSchedule' };
    assert.ok(toleratesTaint({ key: 'dedicated', operator: 'Equal', value: 'gpu' }, taint));
    assert.ok(toleratesTaint({ key: 'dedicated', value: 'gpu', effect: 'NoSchedule' }, taint), 'operator defaults to Equal');
    assert.ok(!toleratesTaint({ key: 'dedicated', value: 'cpu' }, taint));
    assert.ok(toleratesTaint({ key: 'dedicated', operator: 'Exists' }, taint));
    assert.ok(toleratesTaint({ operator: 'Exists' }, taint), 'an empty key with Exists tolerates everything');
    assert.ok(!toleratesTaint({ key: 'dedicated', operator: 'Exists', effect: 'NoExecute' }, taint));
  });

  it('untolerated NoSchedule keeps new pods off but lets running ones stay; NoExecute evicts', () => {
    assert.deepEqual(nodeShouldRunDaemonPod(node('n'), ds()), { shouldRun: true, shouldContinueRunning: true });
    assert.deepEqual(nodeShouldRunDaemonPod(node('n', { taints: [{ key: 'k', effect: 'NoSchedule' }] }), ds()), { shouldRun: false, shouldContinueRunning: true });
    assert.deepEqual(nodeShouldRunDaemonPod(node('n', { taints: [{ key: 'k', effect: 'NoExecute' }] }), ds()), { shouldRun: false, shouldContinueRunning: false });
    assert.deepEqual(nodeShouldRunDaemonPod(node('n', { taints: [{ key: 'k', effect: 'PreferNoSchedule' }] }), ds()), { shouldRun: true, shouldContinueRunning: true });
  });

  it('daemon pods tolerate not-ready/unreachable (NoExecute), pressure and cordoning (NoSchedule), but not a new node\'s not-ready NoSchedule', () => {
    for (const t of [
      { key: 'node.kubernetes.io/not-ready', effect: 'NoExecute' },
      { key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' },
      { key: 'node.kubernetes.io/disk-pressure', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/memory-pressure', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/pid-pressure', effect: 'NoSchedule' },
      { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' },
    ]) {
      assert.equal(nodeShouldRunDaemonPod(node('n', { taints: [t] }), ds()).shouldRun, true, t.key);
    }
    assert.equal(nodeShouldRunDaemonPod(node('n', { taints: [{ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }] }), ds()).shouldRun, false);
    const netDown = node('n', { taints: [{ key: 'node.kubernetes.io/network-unavailable', effect: 'NoSchedule' }] });
    assert.equal(nodeShouldRunDaemonPod(netDown, ds()).shouldRun, false);
    assert.equal(nodeShouldRunDaemonPod(netDown, ds({ hostNetwork: true })).shouldRun, true);
    // A user toleration for the same key and effect is replaced, not duplicated.
    const tol = daemonPodTolerations({ tolerations: [{ key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 60 }] });
    assert.equal(tol.filter((t) => t.key === 'node.kubernetes.io/not-ready').length, 1);
    assert.equal(tol.find((t) => t.key === 'node.kubernetes.io/not-ready')!.tolerationSeconds, undefined);
  });

  it('nodeSelector and required node affinity (expressions and fields)', () => {
    const n = node('n1', { labels: { disk: 'ssd', cores: '8' } });
    assert.ok(matchesNodeSelectorAndAffinity({ nodeSelector: { disk: 'ssd' } }, n));
    assert.ok(!matchesNodeSelectorAndAffinity({ nodeSelector: { disk: 'hdd' } }, n));
    const aff = (terms: unknown[]) => ({ affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms } } } });
    assert.ok(matchesNodeSelectorAndAffinity(aff([{ matchExpressions: [{ key: 'cores', operator: 'Gt', values: ['4'] }] }]), n));
    assert.ok(!matchesNodeSelectorAndAffinity(aff([{ matchExpressions: [{ key: 'cores', operator: 'Lt', values: ['4'] }] }]), n));
    assert.ok(matchesNodeSelectorAndAffinity(aff([{ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' }] }, { matchFields: [{ key: 'metadata.name', operator: 'In', values: ['x'] }] }]), n), 'terms are ORed');
    assert.ok(!matchesNodeSelectorAndAffinity(aff([{ matchFields: [{ key: 'metadata.name', operator: 'NotIn', values: ['n1'] }] }]), n));
    assert.ok(!matchesNodeSelectorAndAffinity(aff([{}]), n), 'an empty term matches nothing');
  });

  it('pins a pod to its node by name, replacing other required terms', () => {
    const a = pinToNode({ nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'a', operator: 'Exists' }] }] }, preferredDuringSchedulingIgnoredDuringExecution: [] } }, 'n7');
    assert.deepEqual(a.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution, { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: ['n7'] }] }] });
    assert.deepEqual(a.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution, []);
    assert.equal(targetNodeName({ metadata: {}, spec: { affinity: a } }), 'n7');
    assert.equal(targetNodeName({ metadata: {}, spec: { nodeName: 'n2', affinity: a } }), 'n2');
  });
});
