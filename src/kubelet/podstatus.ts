// How a kubelet turns its containers' states into a pod's phase and conditions, as
// upstream's kubelet does (getPhase in kubelet_pods.go, pkg/kubelet/status/generate.go,
// and the status manager's merge that keeps lastTransitionTime while a status holds).
// Pure functions of the pod, the container statuses and the time: any runtime (the
// simulated one now, the CRI one later) reports container statuses and gets the rest here.

import type { KObject } from '../api/object.ts';

export interface ContainerState {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: { exitCode: number; reason?: string; message?: string; startedAt?: string; finishedAt?: string; containerID?: string };
}

export interface ContainerStatus {
  name: string;
  state: ContainerState;
  lastState: ContainerState;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
  started?: boolean;
}

export interface PodCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
}

type CondSpec = Omit<PodCondition, 'lastProbeTime' | 'lastTransitionTime'>;

/** Condition types the kubelet owns; others (readiness gates, DisruptionTarget) are kept as they are. */
export const KUBELET_POD_CONDITIONS = ['PodReadyToStartContainers', 'Initialized', 'Ready', 'ContainersReady', 'PodScheduled'];

export function isRestartableInitContainer(c: { restartPolicy?: string }): boolean {
  return c.restartPolicy === 'Always';
}

function statusOf(statuses: ContainerStatus[] | undefined, name: string): ContainerStatus | undefined {
  return statuses?.find((s) => s.name === name);
}

/** Go's fmt of a []string: [a b c]. */
function goList(names: string[]): string {
  return `[${names.join(' ')}]`;
}

export function hasAnyRegularContainerStarted(pod: KObject, statuses: ContainerStatus[] | undefined): boolean {
  for (const c of pod.spec?.containers ?? []) {
    const s = statusOf(statuses, c.name);
    if (s && (s.state.running || s.state.terminated)) return true;
  }
  return false;
}

/** What a runtime reports about a pod's containers (undefined: not known yet). */
export interface ContainersReport {
  initContainerStatuses?: ContainerStatus[];
  containerStatuses?: ContainerStatus[];
}

/** The pod phase from its containers (kubelet's getPhase); `podIsTerminal` once the kubelet has stopped the pod for good. */
export function podPhase(pod: KObject, report: ContainersReport & { podIsTerminal: boolean }): string {
  const { initContainerStatuses: initStatuses, containerStatuses: statuses, podIsTerminal } = report;
  const spec = pod.spec ?? {};
  let pendingInitialization = 0;
  let failedInitialization = 0;
  for (const c of spec.initContainers ?? []) {
    if (isRestartableInitContainer(c)) continue;
    const s = statusOf(initStatuses, c.name);
    if (!s) {
      pendingInitialization++;
      continue;
    }
    if (s.state.running) pendingInitialization++;
    else if (s.state.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInitialization++;
    } else if (s.state.waiting) {
      if (s.lastState.terminated) {
        if (s.lastState.terminated.exitCode !== 0) failedInitialization++;
      } else pendingInitialization++;
    } else pendingInitialization++;
  }
  let unknown = 0;
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of spec.containers ?? []) {
    const s = statusOf(statuses, c.name);
    if (!s) {
      unknown++;
      continue;
    }
    if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.state.waiting) {
      if (s.lastState.terminated) stopped++;
      else waiting++;
    } else unknown++;
  }
  const restartPolicy = spec.restartPolicy ?? 'Always';
  if (failedInitialization > 0 && restartPolicy === 'Never') return 'Failed';
  if ((pendingInitialization > 0 && !hasAnyRegularContainerStarted(pod, statuses)) || waiting > 0) {
    return podIsTerminal ? 'Failed' : 'Pending';
  }
  if (running > 0 && unknown === 0) return podIsTerminal ? 'Failed' : 'Running';
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (podIsTerminal) return stopped === succeeded ? 'Succeeded' : 'Failed';
    if (restartPolicy === 'Always') return 'Running';
    if (stopped === succeeded) return 'Succeeded';
    if (restartPolicy === 'Never') return 'Failed';
    return 'Running';
  }
  return podIsTerminal ? 'Failed' : 'Pending';
}

export function containersReadyCondition(pod: KObject, report: ContainersReport & { phase: string }): CondSpec {
  const { initContainerStatuses: initStatuses, containerStatuses: statuses, phase } = report;
  if (statuses === undefined) return { type: 'ContainersReady', status: 'False', reason: 'UnknownContainerStatuses' };
  const unknown: string[] = [];
  const unready: string[] = [];
  for (const c of pod.spec?.initContainers ?? []) {
    if (!isRestartableInitContainer(c)) continue;
    const s = statusOf(initStatuses, c.name);
    if (!s) unknown.push(c.name);
    else if (!s.ready) unready.push(c.name);
  }
  for (const c of pod.spec?.containers ?? []) {
    const s = statusOf(statuses, c.name);
    if (!s) unknown.push(c.name);
    else if (!s.ready) unready.push(c.name);
  }
  if ((phase === 'Succeeded' && unknown.length === 0) || phase === 'Failed') {
    return { type: 'ContainersReady', status: 'False', reason: phase === 'Failed' ? 'PodFailed' : 'PodCompleted' };
  }
  const messages: string[] = [];
  if (unknown.length) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (unready.length) messages.push(`containers with unready status: ${goList(unready)}`);
  if (messages.length) return { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', message: messages.join(', ') };
  return { type: 'ContainersReady', status: 'True' };
}

/** Ready: containers ready and every readiness gate's condition True (`conditions` are the pod's current ones). */
export function podReadyCondition(pod: KObject, opts: { conditions: PodCondition[]; containersReady: CondSpec }): CondSpec {
  const { conditions, containersReady } = opts;
  if (containersReady.status !== 'True') {
    const c: CondSpec = { type: 'Ready', status: containersReady.status };
    if (containersReady.reason) c.reason = containersReady.reason;
    if (containersReady.message) c.message = containersReady.message;
    return c;
  }
  const messages: string[] = [];
  for (const gate of pod.spec?.readinessGates ?? []) {
    const c = conditions.find((x) => x.type === gate.conditionType);
    if (!c) messages.push(`corresponding condition of pod readiness gate "${gate.conditionType}" does not exist.`);
    else if (c.status !== 'True') messages.push(`the status of pod readiness gate "${gate.conditionType}" is not "True", but ${c.status}`);
  }
  if (messages.length) return { type: 'Ready', status: 'False', reason: 'ReadinessGatesNotReady', message: messages.join(', ') };
  return { type: 'Ready', status: 'True' };
}

export function initializedCondition(pod: KObject, report: ContainersReport & { phase: string }): CondSpec {
  const { initContainerStatuses: initStatuses, containerStatuses: statuses, phase } = report;
  const inits = pod.spec?.initContainers ?? [];
  if (inits.length === 0) return { type: 'Initialized', status: 'True' };
  if (initStatuses === undefined) return { type: 'Initialized', status: 'False', reason: 'UnknownContainerStatuses' };
  const unknown: string[] = [];
  const incomplete: string[] = [];
  for (const c of inits) {
    const s = statusOf(initStatuses, c.name);
    if (!s) {
      unknown.push(c.name);
      continue;
    }
    const done = isRestartableInitContainer(c) ? s.started === true : s.ready;
    if (!done) incomplete.push(c.name);
  }
  if (phase === 'Succeeded' && unknown.length === 0) return { type: 'Initialized', status: 'True', reason: 'PodCompleted' };
  if (hasAnyRegularContainerStarted(pod, statuses)) return { type: 'Initialized', status: 'True' };
  const messages: string[] = [];
  if (unknown.length) messages.push(`containers with unknown status: ${goList(unknown)}`);
  if (incomplete.length) messages.push(`containers with incomplete status: ${goList(incomplete)}`);
  if (messages.length) return { type: 'Initialized', status: 'False', reason: 'ContainersNotInitialized', message: messages.join(', ') };
  return { type: 'Initialized', status: 'True' };
}

export interface PodStatusInput {
  /** Sandbox created and its network set up (false before the sandbox and after the pod is torn down). */
  sandboxReady: boolean;
  initContainerStatuses: ContainerStatus[];
  containerStatuses: ContainerStatus[];
  podIsTerminal: boolean;
  /** RFC 3339 time the kubelet accepted the pod. */
  startTime: string;
  hostIP: string;
  podIP?: string;
  /** RFC 3339 time of this report (new transitions get it). */
  now: string;
}

/**
 * The pod status the kubelet writes: phase, conditions merged into the current ones (the
 * kubelet's own in its order after everyone else's; lastTransitionTime kept while a
 * condition's status holds), addresses, startTime and the container statuses.
 * Fields the kubelet does not own (qosClass, nominatedNodeName, ...) are kept.
 */
export function generatePodStatus(pod: KObject, input: PodStatusInput): Record<string, any> {
  const now = input.now;
  const current: Record<string, any> = pod.status ?? {};
  const currentConds: PodCondition[] = current.conditions ?? [];
  const phase = podPhase(pod, input);
  const containersReady = containersReadyCondition(pod, { ...input, phase });
  const generated: CondSpec[] = [
    { type: 'PodReadyToStartContainers', status: input.sandboxReady ? 'True' : 'False' },
    initializedCondition(pod, { ...input, phase }),
    podReadyCondition(pod, { conditions: currentConds, containersReady }),
    containersReady,
    { type: 'PodScheduled', status: 'True' },
  ];
  const conditions: PodCondition[] = currentConds.filter((c) => !KUBELET_POD_CONDITIONS.includes(c.type));
  for (const g of generated) {
    const prev = currentConds.find((c) => c.type === g.type);
    const c: PodCondition = { type: g.type, status: g.status, lastProbeTime: null };
    c.lastTransitionTime = prev && prev.status === g.status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
    if (g.reason) c.reason = g.reason;
    if (g.message) c.message = g.message;
    conditions.push(c);
  }
  const status: Record<string, any> = { ...current, phase, conditions };
  status.hostIP = input.hostIP;
  status.hostIPs = [{ ip: input.hostIP }];
  if (input.podIP) {
    status.podIP = input.podIP;
    status.podIPs = [{ ip: input.podIP }];
  } else {
    delete status.podIP;
    delete status.podIPs;
  }
  status.startTime = input.startTime;
  if ((pod.spec?.initContainers ?? []).length > 0) status.initContainerStatuses = input.initContainerStatuses;
  else delete status.initContainerStatuses;
  status.containerStatuses = input.containerStatuses;
  return status;
}
