// Pods: upstream's printPod, the most involved printer. STATUS is derived from the
// phase, the pod's reason, init container and container states, and deletion, in
// exactly upstream's order of precedence.

import { formatLabels, humanDuration, int, layoutContainerCells, parseTime, translateTimestampSince } from './format.ts';
import { ageColumn, col, nameColumn, type TablePrinter, type TableRowCondition } from './types.ts';

/** Reason the node lifecycle controller sets on pods of an unreachable node. */
const NODE_UNREACHABLE_POD_REASON = 'NodeLost';

const podSucceededConditions: TableRowCondition[] = [
  { type: 'Completed', status: 'True', reason: 'Succeeded', message: 'The pod has completed successfully.' },
];
const podFailedConditions: TableRowCondition[] = [
  { type: 'Completed', status: 'True', reason: 'Failed', message: 'The pod failed.' },
];

function isRestartableInitContainer(c: any): boolean {
  return c?.restartPolicy === 'Always';
}

function conditionTrue(pod: any, type: string): boolean {
  // The first condition of the type decides.
  for (const c of pod.status?.conditions ?? []) {
    if (c.type === type) return c.status === 'True';
  }
  return false;
}

function hasPodReadyCondition(pod: any): boolean {
  return (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
}

interface PodSummary {
  ready: string;
  status: string;
  restarts: number;
  /** ms of the latest container termination counted in `restarts`, if any. */
  lastRestart: number | undefined;
}

function later(a: number | undefined, ts: unknown): number | undefined {
  const t = parseTime(ts);
  if (t === undefined) return a;
  return a === undefined || a < t ? t : a;
}

/** READY, STATUS and RESTARTS of a pod, as upstream's printPod computes them. */
export function summarizePod(pod: any): PodSummary {
  const spec = pod.spec ?? {};
  const status = pod.status ?? {};
  // The apiserver sets phase Pending on create; an object without one reads as such.
  const phase: string = status.phase ?? 'Pending';
  let reason: string = status.reason || phase;
  let restarts = 0;
  let restartableInitRestarts = 0;
  let lastRestart: number | undefined;
  let lastRestartableInitRestart: number | undefined;
  const initContainers: any[] = spec.initContainers ?? [];
  let totalContainers = (spec.containers ?? []).length;
  let readyContainers = 0;

  for (const c of status.conditions ?? []) {
    if (c.type === 'PodScheduled' && c.reason === 'SchedulingGated') reason = 'SchedulingGated';
  }

  const initByName = new Map<string, any>();
  for (const c of initContainers) {
    initByName.set(c.name, c);
    if (isRestartableInitContainer(c)) totalContainers++;
  }

  // The first init container that has not completed decides the status.
  let initializing = false;
  const initStatuses: any[] = status.initContainerStatuses ?? [];
  for (let i = 0; i < initStatuses.length; i++) {
    const cs = initStatuses[i];
    const state = cs.state ?? {};
    restarts += int(cs.restartCount);
    lastRestart = later(lastRestart, cs.lastState?.terminated?.finishedAt);
    const restartable = isRestartableInitContainer(initByName.get(cs.name));
    if (restartable) {
      restartableInitRestarts += int(cs.restartCount);
      lastRestartableInitRestart = later(lastRestartableInitRestart, cs.lastState?.terminated?.finishedAt);
    }
    if (state.terminated && int(state.terminated.exitCode) === 0) continue;
    if (restartable && cs.started === true) {
      if (cs.ready) readyContainers++;
      continue;
    }
    if (state.terminated) {
      // initialization failed
      const t = state.terminated;
      if (!t.reason) reason = t.signal ? `Init:Signal:${t.signal}` : `Init:ExitCode:${int(t.exitCode)}`;
      else reason = `Init:${t.reason}`;
    } else if (state.waiting?.reason && state.waiting.reason !== 'PodInitializing') {
      reason = `Init:${state.waiting.reason}`;
    } else {
      reason = `Init:${i}/${initContainers.length}`;
    }
    initializing = true;
    break;
  }

  if (!initializing || conditionTrue(pod, 'Initialized')) {
    restarts = restartableInitRestarts;
    lastRestart = lastRestartableInitRestart;
    let hasRunning = false;
    const statuses: any[] = status.containerStatuses ?? [];
    // Last to first, so the first container's state has the final word.
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i];
      const state = cs.state ?? {};
      restarts += int(cs.restartCount);
      lastRestart = later(lastRestart, cs.lastState?.terminated?.finishedAt);
      if (state.waiting?.reason) {
        reason = state.waiting.reason;
      } else if (state.terminated?.reason) {
        reason = state.terminated.reason;
      } else if (state.terminated) {
        reason = state.terminated.signal ? `Signal:${state.terminated.signal}` : `ExitCode:${int(state.terminated.exitCode)}`;
      } else if (cs.ready && state.running) {
        hasRunning = true;
        readyContainers++;
      }
    }
    // Back to "Running" while at least one container still runs.
    if (reason === 'Completed' && hasRunning) {
      reason = hasPodReadyCondition(pod) ? 'Running' : 'NotReady';
    }
  }

  if (pod.metadata?.deletionTimestamp && status.reason === NODE_UNREACHABLE_POD_REASON) {
    reason = 'Unknown';
  } else if (pod.metadata?.deletionTimestamp && phase !== 'Succeeded' && phase !== 'Failed') {
    reason = 'Terminating';
  }

  return { ready: `${readyContainers}/${totalContainers}`, status: reason, restarts, lastRestart };
}

function podIP(pod: any): string {
  const ips: any[] = pod.status?.podIPs ?? [];
  // v1→internal conversion fills podIPs from podIP when only the latter is set.
  const ip = ips.length > 0 ? ips[0]?.ip : pod.status?.podIP;
  return ip || '<none>';
}

function readinessGates(pod: any): string {
  const gates: any[] = pod.spec?.readinessGates ?? [];
  if (gates.length === 0) return '<none>';
  let trueConditions = 0;
  for (const gate of gates) {
    const c = (pod.status?.conditions ?? []).find((c: any) => c.type === gate.conditionType);
    if (c?.status === 'True') trueConditions++;
  }
  return `${trueConditions}/${gates.length}`;
}

export const podPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'The aggregate status of the containers in this pod.'),
    col(
      'Restarts',
      'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
    ),
    ageColumn(),
    col('IP', 'core/v1.PodStatus.podIP', { priority: 1 }),
    col('Node', 'core/v1.PodSpec.nodeName', { priority: 1 }),
    col('Nominated Node', 'core/v1.PodStatus.nominatedNodeName', { priority: 1 }),
    col('Readiness Gates', 'core/v1.PodSpec.readinessGates', { priority: 1 }),
  ],
  cells(pod, now) {
    const s = summarizePod(pod);
    let restarts = String(s.restarts);
    if (s.restarts !== 0 && s.lastRestart !== undefined) {
      restarts = `${s.restarts} (${humanDuration(now - s.lastRestart)} ago)`;
    }
    return [
      pod.metadata?.name ?? '',
      s.ready,
      s.status,
      restarts,
      translateTimestampSince(pod.metadata?.creationTimestamp, now),
      podIP(pod),
      pod.spec?.nodeName || '<none>',
      pod.status?.nominatedNodeName || '<none>',
      readinessGates(pod),
    ];
  },
  rowConditions(pod) {
    switch (pod.status?.phase) {
      case 'Succeeded':
        return podSucceededConditions.map((c) => ({ ...c }));
      case 'Failed':
        return podFailedConditions.map((c) => ({ ...c }));
    }
    return undefined;
  },
};

export const podTemplatePrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Containers', 'Names of each container in the template.'),
    col('Images', 'Images referenced by each container in the template.'),
    col('Pod Labels', 'The labels for the pod template.'),
  ],
  cells(obj) {
    const [names, images] = layoutContainerCells(obj.template?.spec?.containers);
    return [obj.metadata?.name ?? '', names, images, formatLabels(obj.template?.metadata?.labels)];
  },
};
