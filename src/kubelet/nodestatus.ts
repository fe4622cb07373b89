// What a kubelet says about its node: the Node object it registers, the conditions it
// reports, and the Lease it renews in kube-node-lease. Pure functions of their inputs
// (and the time passed in), shared by the simulated runtime and, later, the real one.
//
// Upstream cadence (kubelet defaults): the lease is renewed every 10 s (a quarter of its
// 40 s duration); node status is computed every 10 s (nodeStatusUpdateFrequency) and
// posted only when it changed or 5 minutes (nodeStatusReportFrequency) have passed.

import type { KObject } from '../api/object.ts';

/** Matches the apiserver's gitVersion, so `kubectl get nodes` shows the control plane's version. */
export const KUBELET_VERSION = 'v1.32.4-skiff';
export const LEASE_DURATION_SECONDS = 40;
export const LEASE_RENEW_INTERVAL_MS = 10_000;
export const NODE_STATUS_UPDATE_FREQUENCY_MS = 10_000;
export const NODE_STATUS_REPORT_FREQUENCY_MS = 5 * 60_000;
export const KUBELET_PORT = 10250;

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';

export interface NodeConditionSpec {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface NodeCondition extends NodeConditionSpec {
  lastHeartbeatTime: string;
  lastTransitionTime: string;
}

/** RFC 3339 with second precision, as metav1.Time marshals. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** RFC 3339 with microseconds, as metav1.MicroTime marshals (Lease renewTime). */
export function microTime(ms: number): string {
  const iso = new Date(Math.floor(ms)).toISOString();
  const frac = Math.floor((ms % 1000) * 1000)
    .toString()
    .padStart(6, '0');
  return `${iso.slice(0, 19)}.${frac}Z`;
}

/**
 * The conditions a healthy kubelet reports, in the kubelet's order (pressure conditions
 * first, Ready last: old clients read the last condition as Ready).
 */
export function healthyNodeConditions(): NodeConditionSpec[] {
  return [
    { type: 'MemoryPressure', status: 'False', reason: 'KubeletHasSufficientMemory', message: 'kubelet has sufficient memory available' },
    { type: 'DiskPressure', status: 'False', reason: 'KubeletHasNoDiskPressure', message: 'kubelet has no disk pressure' },
    { type: 'PIDPressure', status: 'False', reason: 'KubeletHasSufficientPID', message: 'kubelet has sufficient PID available' },
    { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
  ];
}

/**
 * The kubelet's merge of desired conditions into the node's current ones: heartbeat is
 * now; lastTransitionTime moves only when the status changes. Conditions owned by others
 * (e.g. NetworkUnavailable set by a network plugin) are kept as they are.
 */
export function mergeNodeConditions(current: NodeCondition[] | undefined, desired: NodeConditionSpec[], opts: { now: number }): NodeCondition[] {
  const ts = rfc3339(opts.now);
  const byType = new Map((current ?? []).map((c) => [c.type, c]));
  const out: NodeCondition[] = [];
  const mine = new Set(desired.map((d) => d.type));
  for (const c of current ?? []) if (!mine.has(c.type)) out.push(c);
  for (const d of desired) {
    const prev = byType.get(d.type);
    out.push({
      type: d.type,
      status: d.status,
      lastHeartbeatTime: ts,
      lastTransitionTime: prev && prev.status === d.status && prev.lastTransitionTime ? prev.lastTransitionTime : ts,
      reason: d.reason,
      message: d.message,
    });
  }
  return out;
}

/** True when the conditions differ in anything but heartbeat times (the kubelet's "status changed"). */
export function nodeConditionsChanged(current: NodeCondition[] | undefined, desired: NodeConditionSpec[]): boolean {
  const byType = new Map((current ?? []).map((c) => [c.type, c]));
  for (const d of desired) {
    const c = byType.get(d.type);
    if (!c || c.status !== d.status || c.reason !== d.reason || c.message !== d.message) return true;
  }
  return false;
}

export interface NodeSpecInput {
  name: string;
  /** Extra labels (zone, instance type, ...); the kubelet's own labels are added. */
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  capacity: Record<string, string>;
  allocatable: Record<string, string>;
  addresses: { type: string; address: string }[];
  podCIDR?: string;
  os?: string;
  arch?: string;
  nodeInfo: {
    machineID: string;
    systemUUID: string;
    bootID: string;
    kernelVersion: string;
    osImage: string;
    containerRuntimeVersion: string;
    kubeletVersion?: string;
  };
  providerID?: string;
}

/** The kubelet's well-known labels for a node (kubelet's initialNode plus the cloud node controller's beta copies). */
export function kubeletLabels(name: string, os: string, arch: string, extra: Record<string, string> = {}): Record<string, string> {
  const labels: Record<string, string> = {
    'beta.kubernetes.io/arch': arch,
    'beta.kubernetes.io/os': os,
    'kubernetes.io/arch': arch,
    'kubernetes.io/hostname': name,
    'kubernetes.io/os': os,
    ...extra,
  };
  // The GA labels have beta twins that upstream still sets for old selectors.
  if (extra['node.kubernetes.io/instance-type']) labels['beta.kubernetes.io/instance-type'] = extra['node.kubernetes.io/instance-type'];
  if (extra['topology.kubernetes.io/zone']) labels['failure-domain.beta.kubernetes.io/zone'] = extra['topology.kubernetes.io/zone'];
  if (extra['topology.kubernetes.io/region']) labels['failure-domain.beta.kubernetes.io/region'] = extra['topology.kubernetes.io/region'];
  return labels;
}

/** The Node a kubelet registers: metadata, spec and a full first status (Ready from the start). */
export function initialNode(input: NodeSpecInput, now: number): KObject {
  const os = input.os ?? 'linux';
  const arch = input.arch ?? 'amd64';
  const spec: Record<string, unknown> = {};
  if (input.podCIDR) {
    spec.podCIDR = input.podCIDR;
    spec.podCIDRs = [input.podCIDR];
  }
  if (input.providerID) spec.providerID = input.providerID;
  if (input.taints?.length) spec.taints = input.taints;
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: input.name,
      labels: kubeletLabels(input.name, os, arch, input.labels),
      annotations: { 'volumes.kubernetes.io/controller-managed-attach-detach': 'true', ...input.annotations },
    },
    spec,
    status: {
      capacity: { ...input.capacity },
      allocatable: { ...input.allocatable },
      conditions: mergeNodeConditions(undefined, healthyNodeConditions(), { now }),
      addresses: input.addresses.map((a) => ({ ...a })),
      daemonEndpoints: { kubeletEndpoint: { Port: KUBELET_PORT } },
      nodeInfo: {
        machineID: input.nodeInfo.machineID,
        systemUUID: input.nodeInfo.systemUUID,
        bootID: input.nodeInfo.bootID,
        kernelVersion: input.nodeInfo.kernelVersion,
        osImage: input.nodeInfo.osImage,
        containerRuntimeVersion: input.nodeInfo.containerRuntimeVersion,
        kubeletVersion: input.nodeInfo.kubeletVersion ?? KUBELET_VERSION,
        kubeProxyVersion: '',
        operatingSystem: os,
        architecture: arch,
      },
    },
  };
}

/** The node's Lease as the kubelet's lease controller writes it (owned by the Node so it goes with it). */
export function nodeLease(node: { name: string; uid?: string }, now: number): KObject {
  const lease: KObject = {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: node.name, namespace: NODE_LEASE_NAMESPACE },
    spec: {
      holderIdentity: node.name,
      leaseDurationSeconds: LEASE_DURATION_SECONDS,
      renewTime: microTime(now),
    },
  };
  if (node.uid) {
    lease.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid }];
  }
  return lease;
}
