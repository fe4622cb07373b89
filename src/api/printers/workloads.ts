// apps/v1, batch/v1, autoscaling/v2 and policy/v1 printers.
// Absent fields the apiserver always defaults read as their default (replicas 1,
// cronjob suspend false, HPA minReplicas 1 and its default CPU metric).

import {
  formatLabelSelector,
  formatLabels,
  humanDuration,
  int,
  intOrStringString,
  labelSelectorString,
  layoutContainerCells,
  parseTime,
  printBoolPtr,
  translateTimestampSince,
} from './format.ts';
import { quantityString } from './quantity.ts';
import { ageColumn, col, containersColumn, imagesColumn, nameColumn, type TablePrinter } from './types.ts';

const name = (obj: any): string => obj.metadata?.name ?? '';
const age = (obj: any, now: number): string => translateTimestampSince(obj.metadata?.creationTimestamp, now);
const templateContainers = (obj: any): [string, string] => layoutContainerCells(obj.spec?.template?.spec?.containers);

export const deploymentPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Ready', 'Number of the pod with ready state'),
    col('Up-to-date', 'extensions/v1beta1.DeploymentStatus.updatedReplicas'),
    col('Available', 'extensions/v1beta1.DeploymentStatus.availableReplicas'),
    ageColumn(),
    containersColumn(),
    imagesColumn(),
    col('Selector', 'extensions/v1beta1.DeploymentSpec.selector', { priority: 1 }),
  ],
  cells(d, now) {
    const [names, images] = templateContainers(d);
    return [
      name(d),
      `${int(d.status?.readyReplicas)}/${int(d.spec?.replicas ?? 1)}`,
      int(d.status?.updatedReplicas),
      int(d.status?.availableReplicas),
      age(d, now),
      names,
      images,
      labelSelectorString(d.spec?.selector) ?? '<invalid>',
    ];
  },
};

export const replicaSetPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Desired', 'extensions/v1beta1.ReplicaSetSpec.replicas', { type: 'integer' }),
    col('Current', 'extensions/v1beta1.ReplicaSetStatus.replicas', { type: 'integer' }),
    col('Ready', 'extensions/v1beta1.ReplicaSetStatus.readyReplicas', { type: 'integer' }),
    ageColumn(),
    containersColumn(),
    imagesColumn(),
    col('Selector', 'extensions/v1beta1.ReplicaSetSpec.selector', { priority: 1 }),
  ],
  cells(rs, now) {
    const [names, images] = templateContainers(rs);
    return [
      name(rs),
      int(rs.spec?.replicas ?? 1),
      int(rs.status?.replicas),
      int(rs.status?.readyReplicas),
      age(rs, now),
      names,
      images,
      formatLabelSelector(rs.spec?.selector),
    ];
  },
};

export const statefulSetPrinter: TablePrinter = {
  columns: [nameColumn(), col('Ready', 'Number of the pod with ready state'), ageColumn(), containersColumn(), imagesColumn()],
  cells(sts, now) {
    const [names, images] = templateContainers(sts);
    return [name(sts), `${int(sts.status?.readyReplicas)}/${int(sts.spec?.replicas ?? 1)}`, age(sts, now), names, images];
  },
};

export const daemonSetPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Desired', 'extensions/v1beta1.DaemonSetStatus.desiredNumberScheduled', { type: 'integer' }),
    col('Current', 'extensions/v1beta1.DaemonSetStatus.currentNumberScheduled', { type: 'integer' }),
    col('Ready', 'extensions/v1beta1.DaemonSetStatus.numberReady', { type: 'integer' }),
    col('Up-to-date', 'extensions/v1beta1.DaemonSetStatus.updatedNumberScheduled', { type: 'integer' }),
    col('Available', 'extensions/v1beta1.DaemonSetStatus.numberAvailable', { type: 'integer' }),
    col('Node Selector', 'core/v1.PodSpec.nodeSelector'),
    ageColumn(),
    containersColumn(),
    imagesColumn(),
    col('Selector', 'extensions/v1beta1.DaemonSetSpec.selector', { priority: 1 }),
  ],
  cells(ds, now) {
    const st = ds.status ?? {};
    const [names, images] = templateContainers(ds);
    return [
      name(ds),
      int(st.desiredNumberScheduled),
      int(st.currentNumberScheduled),
      int(st.numberReady),
      int(st.updatedNumberScheduled),
      int(st.numberAvailable),
      formatLabels(ds.spec?.template?.spec?.nodeSelector),
      age(ds, now),
      names,
      images,
      formatLabelSelector(ds.spec?.selector),
    ];
  },
};

/** "statefulset.apps/web": the controller owner as lower-cased GroupKind and name. */
function controllerName(obj: any): string {
  const ref = (obj.metadata?.ownerReferences ?? []).find((r: any) => r.controller === true);
  if (!ref) return '<none>';
  const apiVersion: string = ref.apiVersion ?? '';
  const slash = apiVersion.indexOf('/');
  const group = slash >= 0 ? apiVersion.slice(0, slash) : '';
  const kind: string = ref.kind ?? '';
  if (!group && !kind) return ref.name ?? '';
  const groupKind = group ? `${kind}.${group}` : kind;
  return `${groupKind.toLowerCase()}/${ref.name ?? ''}`;
}

export const controllerRevisionPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Controller', 'Controller of the object'),
    col('Revision', 'apps/v1beta1.ControllerRevision.revision'),
    ageColumn(),
  ],
  cells: (cr, now) => [name(cr), controllerName(cr), int(cr.revision), age(cr, now)],
};

// ---- batch/v1 ----

function jobConditionTrue(job: any, type: string): boolean {
  // The first condition of the type decides.
  for (const c of job.status?.conditions ?? []) {
    if (c.type === type) return c.status === 'True';
  }
  return false;
}

export function jobStatus(job: any): string {
  if (jobConditionTrue(job, 'Complete')) return 'Complete';
  if (jobConditionTrue(job, 'Failed')) return 'Failed';
  if (job.metadata?.deletionTimestamp) return 'Terminating';
  if (jobConditionTrue(job, 'Suspended')) return 'Suspended';
  if (jobConditionTrue(job, 'FailureTarget')) return 'FailureTarget';
  return 'Running';
}

export const jobPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Status', 'Status of the job.'),
    col('Completions', 'batch/v1.JobStatus.succeeded'),
    col('Duration', 'Time required to complete the job.'),
    ageColumn(),
    containersColumn(),
    imagesColumn(),
    col('Selector', 'batch/v1.JobSpec.selector', { priority: 1 }),
  ],
  cells(job, now) {
    const succeeded = int(job.status?.succeeded);
    let completions: string;
    if (job.spec?.completions !== undefined && job.spec?.completions !== null) {
      completions = `${succeeded}/${int(job.spec.completions)}`;
    } else {
      // A work queue: completions unset. (Both unset is defaulted to 1/1, which prints the same.)
      const parallelism = int(job.spec?.parallelism);
      completions = parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
    }
    const start = parseTime(job.status?.startTime);
    const completion = parseTime(job.status?.completionTime);
    const duration = start === undefined ? '' : humanDuration((completion ?? now) - start);
    const [names, images] = templateContainers(job);
    return [
      name(job),
      jobStatus(job),
      completions,
      duration,
      age(job, now),
      names,
      images,
      formatLabelSelector(job.spec?.selector),
    ];
  },
};

export const cronJobPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Schedule', 'batch/v1beta1.CronJobSpec.schedule'),
    col('Timezone', 'batch/v1beta1.CronJobSpec.timeZone'),
    col('Suspend', 'batch/v1beta1.CronJobSpec.suspend', { type: 'boolean' }),
    col('Active', 'batch/v1beta1.CronJobStatus.active', { type: 'integer' }),
    col('Last Schedule', 'batch/v1beta1.CronJobStatus.lastScheduleTime'),
    ageColumn(),
    containersColumn(),
    imagesColumn(),
    col('Selector', 'batch/v1.JobSpec.selector', { priority: 1 }),
  ],
  cells(cj, now) {
    const spec = cj.spec ?? {};
    const jobSpec = spec.jobTemplate?.spec ?? {};
    const [names, images] = layoutContainerCells(jobSpec.template?.spec?.containers);
    const last = cj.status?.lastScheduleTime;
    return [
      name(cj),
      spec.schedule ?? '',
      spec.timeZone ?? '<none>',
      printBoolPtr(spec.suspend ?? false),
      (cj.status?.active ?? []).length,
      last ? translateTimestampSince(last, now) : '<none>',
      age(cj, now),
      names,
      images,
      formatLabelSelector(jobSpec.selector),
    ];
  },
};

// ---- autoscaling/v2 ----

/** A *resource.Quantity field: nil prints as Go's "<nil>". */
const quantityPtr = (v: unknown): string => (v === undefined || v === null ? '<nil>' : quantityString(v));

/** The metric the apiserver defaults into an HPA that names none. */
const defaultMetrics = [
  { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
];

/** A value/average-value metric target (External, Object) with its current reading. */
function valueMetric(target: any, status: any): string {
  const current = status?.current;
  if (target.averageValue != null) {
    const cur = status && current?.averageValue != null ? quantityString(current.averageValue) : '<unknown>';
    return `${cur}/${quantityString(target.averageValue)} (avg)`;
  }
  const cur = status ? quantityPtr(current?.value) : '<unknown>';
  return `${cur}/${quantityPtr(target.value)}`;
}

/** A Resource / ContainerResource metric: average value, else utilization. */
function resourceMetric(source: any, status: any): string {
  const target = source.target ?? {};
  const current = status?.current;
  if (target.averageValue != null) {
    const cur = status ? quantityPtr(current?.averageValue) : '<unknown>';
    return `${source.name ?? ''}: ${cur}/${quantityString(target.averageValue)}`;
  }
  const cur = status && current?.averageUtilization != null ? `${int(current.averageUtilization)}%` : '<unknown>';
  const tgt = target.averageUtilization != null ? `${int(target.averageUtilization)}%` : '<auto>';
  return `${source.name ?? ''}: ${cur}/${tgt}`;
}

/**
 * formatHPAMetrics: "cpu: 45%/80%", "<unknown>" for a metric not observed yet; at most
 * two, then " + N more...". Statuses are matched to specs by position, as upstream does.
 */
export function formatHPAMetrics(specs: any[], statuses: any[]): string {
  if (specs.length === 0) return '<none>';
  const list = specs.map((spec, i) => {
    const status = statuses[i];
    switch (spec.type) {
      case 'External':
        return valueMetric(spec.external?.target ?? {}, status?.external);
      case 'Object':
        return valueMetric(spec.object?.target ?? {}, status?.object);
      case 'Pods': {
        const cur = status?.pods ? quantityPtr(status.pods.current?.averageValue) : '<unknown>';
        return `${cur}/${quantityPtr(spec.pods?.target?.averageValue)}`;
      }
      case 'Resource':
        return resourceMetric(spec.resource ?? {}, status?.resource);
      case 'ContainerResource':
        return resourceMetric(spec.containerResource ?? {}, status?.containerResource);
      default:
        return '<unknown type>';
    }
  });
  const max = 2;
  if (list.length > max) return `${list.slice(0, max).join(', ')} + ${list.length - max} more...`;
  return list.join(', ');
}

export const horizontalPodAutoscalerPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Reference', 'autoscaling/v2beta1.HorizontalPodAutoscalerSpec.scaleTargetRef'),
    col('Targets', 'autoscaling/v2beta1.HorizontalPodAutoscalerSpec.metrics'),
    col('MinPods', 'autoscaling/v2beta1.HorizontalPodAutoscalerSpec.minReplicas'),
    col('MaxPods', 'autoscaling/v2beta1.HorizontalPodAutoscalerSpec.maxReplicas'),
    col('Replicas', 'autoscaling/v2beta1.HorizontalPodAutoscalerStatus.currentReplicas'),
    ageColumn(),
  ],
  cells(hpa, now) {
    const spec = hpa.spec ?? {};
    const metrics: any[] = spec.metrics?.length ? spec.metrics : defaultMetrics;
    return [
      name(hpa),
      `${spec.scaleTargetRef?.kind ?? ''}/${spec.scaleTargetRef?.name ?? ''}`,
      formatHPAMetrics(metrics, hpa.status?.currentMetrics ?? []),
      String(int(spec.minReplicas ?? 1)),
      int(spec.maxReplicas),
      int(hpa.status?.currentReplicas),
      age(hpa, now),
    ];
  },
};

// ---- policy/v1 ----

export const podDisruptionBudgetPrinter: TablePrinter = {
  columns: [
    nameColumn(),
    col('Min Available', 'The minimum number of pods that must be available.'),
    col('Max Unavailable', 'The maximum number of pods that may be unavailable.'),
    col('Allowed Disruptions', 'Calculated number of pods that may be disrupted at this time.', { type: 'integer' }),
    ageColumn(),
  ],
  cells(pdb, now) {
    const spec = pdb.spec ?? {};
    return [
      name(pdb),
      spec.minAvailable != null ? intOrStringString(spec.minAvailable) : 'N/A',
      spec.maxUnavailable != null ? intOrStringString(spec.maxUnavailable) : 'N/A',
      int(pdb.status?.disruptionsAllowed),
      age(pdb, now),
    ];
  },
};
