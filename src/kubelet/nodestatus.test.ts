import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KUBERNETES_VERSION } from '../apiserver/server.ts';
import {
  healthyNodeConditions,
  initialNode,
  KUBELET_VERSION,
  mergeNodeConditions,
  microTime,
  nodeConditionsChanged,
  nodeLease,
  rfc3339,
} from './nodestatus.ts';

const T0 = Date.parse('2026-03-01T10:00:00.123Z');

test('the kubelet reports the control plane’s version', () => {
  assert.equal(KUBELET_VERSION, KUBERNETES_VERSION.gitVersion);
});

test('times marshal as metav1.Time (seconds) and MicroTime (microseconds)', () => {
  assert.equal(rfc3339(T0), '2026-03-01T10:00:00Z');
  assert.equal(microTime(T0), '2026-03-01T10:00:00.123000Z');
});

test('conditions: heartbeats move every report, transitions only when the status changes; others’ conditions stay', () => {
  const first = mergeNodeConditions(undefined, healthyNodeConditions(), { now: T0 });
  assert.deepEqual(first.map((c) => c.type), ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready']);
  const ready = first.find((c) => c.type === 'Ready')!;
  assert.deepEqual(ready, {
    type: 'Ready',
    status: 'True',
    lastHeartbeatTime: '2026-03-01T10:00:00Z',
    lastTransitionTime: '2026-03-01T10:00:00Z',
    reason: 'KubeletReady',
    message: 'kubelet is posting ready status',
  });
  assert.equal(nodeConditionsChanged(first, healthyNodeConditions()), false);

  // The node lifecycle controller marked the node Unknown while the kubelet was away, and a
  // network plugin added its own condition.
  const away = first.map((c) => (c.type === 'Ready' ? { ...c, status: 'Unknown' as const, reason: 'NodeStatusUnknown' } : c));
  away.unshift({ type: 'NetworkUnavailable', status: 'False', reason: 'RouteCreated', message: 'ok', lastHeartbeatTime: 'x', lastTransitionTime: 'x' });
  assert.equal(nodeConditionsChanged(away, healthyNodeConditions()), true);
  const back = mergeNodeConditions(away, healthyNodeConditions(), { now: T0 + 60_000 });
  assert.equal(back[0].type, 'NetworkUnavailable');
  const r = back.find((c) => c.type === 'Ready')!;
  assert.equal(r.lastTransitionTime, '2026-03-01T10:01:00Z');
  const m = back.find((c) => c.type === 'MemoryPressure')!;
  assert.equal(m.lastTransitionTime, '2026-03-01T10:00:00Z');
  assert.equal(m.lastHeartbeatTime, '2026-03-01T10:01:00Z');
});

test('the registered Node carries the kubelet’s labels, beta twins, addresses and nodeInfo', () => {
  const node = initialNode(
    {
      name: 'n1',
      labels: { 'topology.kubernetes.io/zone': 'z1', 'node.kubernetes.io/instance-type': 'big' },
      capacity: { cpu: '4', memory: '16Gi', pods: '110' },
      allocatable: { cpu: '4', memory: '15Gi', pods: '110' },
      addresses: [{ type: 'InternalIP', address: '198.18.0.1' }, { type: 'Hostname', address: 'n1' }],
      podCIDR: '10.244.0.0/24',
      nodeInfo: { machineID: 'm', systemUUID: 's', bootID: 'b', kernelVersion: '6.1', osImage: 'os', containerRuntimeVersion: 'sim://x' },
    },
    T0,
  );
  assert.equal(node.metadata.labels!['kubernetes.io/hostname'], 'n1');
  assert.equal(node.metadata.labels!['kubernetes.io/os'], 'linux');
  assert.equal(node.metadata.labels!['beta.kubernetes.io/arch'], 'amd64');
  assert.equal(node.metadata.labels!['failure-domain.beta.kubernetes.io/zone'], 'z1');
  assert.equal(node.metadata.labels!['beta.kubernetes.io/instance-type'], 'big');
  assert.deepEqual(node.spec, { podCIDR: '10.244.0.0/24', podCIDRs: ['10.244.0.0/24'] });
  assert.equal(node.status.nodeInfo.kubeletVersion, KUBELET_VERSION);
  assert.equal(node.status.daemonEndpoints.kubeletEndpoint.Port, 10250);
});

test('the node Lease: 40 s, held by the node, owned by the Node object', () => {
  const lease = nodeLease({ name: 'n1', uid: 'u1' }, T0);
  assert.equal(lease.metadata.namespace, 'kube-node-lease');
  assert.deepEqual(lease.spec, { holderIdentity: 'n1', leaseDurationSeconds: 40, renewTime: '2026-03-01T10:00:00.123000Z' });
  assert.deepEqual(lease.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'u1' }]);
});
