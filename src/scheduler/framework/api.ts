// The parts of core/v1 objects the scheduler reads, typed narrowly. Objects come from
// informers (shared with every consumer): the scheduler never mutates them.

import type { KObject } from '../../api/object.ts';

export type ResourceList = Record<string, string | number>;

export interface ContainerPort {
  containerPort: number;
  hostPort?: number;
  hostIP?: string;
  protocol?: string;
  name?: string;
}

export interface Container {
  name: string;
  image?: string;
  resources?: { requests?: ResourceList; limits?: ResourceList };
  ports?: ContainerPort[];
  /** "Always" on an init container makes it a sidecar (restartable init container). */
  restartPolicy?: string;
}

export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

export interface NodeSelectorRequirement {
  key: string;
  operator: string;
  values?: string[];
}

export interface NodeSelectorTerm {
  matchExpressions?: NodeSelectorRequirement[];
  matchFields?: NodeSelectorRequirement[];
}

export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface PodAffinityTerm {
  labelSelector?: LabelSelectorSpec | null;
  namespaces?: string[];
  topologyKey: string;
  namespaceSelector?: LabelSelectorSpec | null;
  matchLabelKeys?: string[];
  mismatchLabelKeys?: string[];
}

export interface WeightedPodAffinityTerm {
  weight: number;
  podAffinityTerm: PodAffinityTerm;
}

export interface Affinity {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms: NodeSelectorTerm[] } | null;
    preferredDuringSchedulingIgnoredDuringExecution?: { weight: number; preference: NodeSelectorTerm }[];
  };
  podAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
    preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
  };
  podAntiAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: PodAffinityTerm[];
    preferredDuringSchedulingIgnoredDuringExecution?: WeightedPodAffinityTerm[];
  };
}

export interface TopologySpreadConstraint {
  maxSkew: number;
  topologyKey: string;
  whenUnsatisfiable: string;
  labelSelector?: LabelSelectorSpec | null;
  minDomains?: number;
  nodeAffinityPolicy?: string;
  nodeTaintsPolicy?: string;
  matchLabelKeys?: string[];
}

export interface Volume {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  ephemeral?: unknown;
  [k: string]: unknown;
}

export interface PodSpec {
  nodeName?: string;
  schedulerName?: string;
  containers: Container[];
  initContainers?: Container[];
  overhead?: ResourceList;
  nodeSelector?: Record<string, string>;
  affinity?: Affinity;
  tolerations?: Toleration[];
  topologySpreadConstraints?: TopologySpreadConstraint[];
  priority?: number;
  priorityClassName?: string;
  preemptionPolicy?: string;
  schedulingGates?: { name: string }[];
  volumes?: Volume[];
  hostNetwork?: boolean;
  [k: string]: unknown;
}

export interface PodCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
}

export interface PodStatus {
  phase?: string;
  conditions?: PodCondition[];
  nominatedNodeName?: string;
  startTime?: string;
  [k: string]: unknown;
}

export interface Pod extends KObject {
  spec: PodSpec;
  status?: PodStatus;
}

export interface Node extends KObject {
  spec?: { unschedulable?: boolean; taints?: Taint[]; podCIDR?: string; [k: string]: unknown };
  status?: {
    allocatable?: ResourceList;
    capacity?: ResourceList;
    images?: { names?: string[]; sizeBytes?: number }[];
    conditions?: { type: string; status: string }[];
    [k: string]: unknown;
  };
}

export const LABEL_HOSTNAME = 'kubernetes.io/hostname';
export const LABEL_ZONE = 'topology.kubernetes.io/zone';
export const LABEL_REGION = 'topology.kubernetes.io/region';
export const TAINT_NODE_UNSCHEDULABLE = 'node.kubernetes.io/unschedulable';
export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';

/** namespace/name. */
export function podKey(p: KObject): string {
  return `${p.metadata.namespace ?? ''}/${p.metadata.name ?? ''}`;
}

/** The scheduler a pod names ("default-scheduler" when the field is empty, as defaulting does). */
export function schedulerNameOf(p: Pod): string {
  return p.spec?.schedulerName || DEFAULT_SCHEDULER_NAME;
}

/** Pods the scheduler no longer accounts for: finished, whatever their deletion state. */
export function isTerminal(p: Pod): boolean {
  const phase = p.status?.phase;
  return phase === 'Succeeded' || phase === 'Failed';
}
