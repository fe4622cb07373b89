// Server-side printing: the columns and cells of a meta.k8s.io/v1 Table, as upstream's
// kube-apiserver produces them (pkg/printers/internalversion at 1.32). kubectl 1.32 has
// no client-side printers, so these cells are exactly what `kubectl get` shows.
//
// Every printer returns the wide row; kubectl drops priority-1 columns unless `-o wide`.
// Resources without an upstream printer (roles, clusterroles, limitranges, anything
// unknown) get the apiserver's default table: Name and Created At.

import { parseTime } from './printers/format.ts';
import { podPrinter, podTemplatePrinter } from './printers/pods.ts';
import {
  componentStatusPrinter,
  configMapPrinter,
  endpointsPrinter,
  eventPrinter,
  namespacePrinter,
  nodePrinter,
  persistentVolumeClaimPrinter,
  persistentVolumePrinter,
  replicationControllerPrinter,
  resourceQuotaPrinter,
  secretPrinter,
  serviceAccountPrinter,
  servicePrinter,
} from './printers/core.ts';
import {
  controllerRevisionPrinter,
  cronJobPrinter,
  daemonSetPrinter,
  deploymentPrinter,
  horizontalPodAutoscalerPrinter,
  jobPrinter,
  podDisruptionBudgetPrinter,
  replicaSetPrinter,
  statefulSetPrinter,
} from './printers/workloads.ts';
import {
  clusterRoleBindingPrinter,
  endpointSlicePrinter,
  ingressClassPrinter,
  ingressPrinter,
  leasePrinter,
  networkPolicyPrinter,
  priorityClassPrinter,
  roleBindingPrinter,
  storageClassPrinter,
} from './printers/cluster.ts';
import { col, nameColumn, type TablePrinter, type TableRowCondition } from './printers/types.ts';

export type { TableColumnDefinition, TablePrinter, TableRowCondition } from './printers/types.ts';
export { humanDuration, translateTimestampSince } from './printers/format.ts';
export { quantityString } from './printers/quantity.ts';

/** Keyed "<group>/<resource>" ("" group for core). */
const printers = new Map<string, TablePrinter>([
  ['/pods', podPrinter],
  ['/podtemplates', podTemplatePrinter],
  ['/services', servicePrinter],
  ['/endpoints', endpointsPrinter],
  ['/nodes', nodePrinter],
  ['/events', eventPrinter],
  ['/namespaces', namespacePrinter],
  ['/secrets', secretPrinter],
  ['/configmaps', configMapPrinter],
  ['/serviceaccounts', serviceAccountPrinter],
  ['/persistentvolumes', persistentVolumePrinter],
  ['/persistentvolumeclaims', persistentVolumeClaimPrinter],
  ['/replicationcontrollers', replicationControllerPrinter],
  ['/resourcequotas', resourceQuotaPrinter],
  ['/componentstatuses', componentStatusPrinter],
  ['apps/deployments', deploymentPrinter],
  ['apps/replicasets', replicaSetPrinter],
  ['apps/statefulsets', statefulSetPrinter],
  ['apps/daemonsets', daemonSetPrinter],
  ['apps/controllerrevisions', controllerRevisionPrinter],
  ['batch/jobs', jobPrinter],
  ['batch/cronjobs', cronJobPrinter],
  ['autoscaling/horizontalpodautoscalers', horizontalPodAutoscalerPrinter],
  ['policy/poddisruptionbudgets', podDisruptionBudgetPrinter],
  ['coordination.k8s.io/leases', leasePrinter],
  ['discovery.k8s.io/endpointslices', endpointSlicePrinter],
  // events.k8s.io is served from the core event storage, printer included.
  ['events.k8s.io/events', eventPrinter],
  ['networking.k8s.io/ingresses', ingressPrinter],
  ['networking.k8s.io/ingressclasses', ingressClassPrinter],
  ['networking.k8s.io/networkpolicies', networkPolicyPrinter],
  ['storage.k8s.io/storageclasses', storageClassPrinter],
  ['scheduling.k8s.io/priorityclasses', priorityClassPrinter],
  ['rbac.authorization.k8s.io/rolebindings', roleBindingPrinter],
  ['rbac.authorization.k8s.io/clusterrolebindings', clusterRoleBindingPrinter],
]);

/** Go's time.RFC3339 in UTC (whole seconds), as the default table's Created At. */
function rfc3339(ts: unknown): string {
  const t = parseTime(ts);
  if (t === undefined) return '0001-01-01T00:00:00Z';
  return new Date(Math.floor(t / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** rest.NewDefaultTableConvertor: Name and Created At (an RFC3339 date, not an age). */
export const defaultPrinter: TablePrinter = {
  columns: [nameColumn(), col('Created At', 'meta/v1.ObjectMeta.creationTimestamp', { type: 'date' })],
  cells: (obj) => [obj.metadata?.name ?? '', rfc3339(obj.metadata?.creationTimestamp)],
};

/** The printer for a resource (plural, lower case); the default table when upstream has none. */
export function printerFor(group: string, resource: string): TablePrinter {
  return printers.get(`${group}/${resource}`) ?? defaultPrinter;
}

/**
 * Row conditions upstream attaches to a row: pods that Succeeded or Failed carry
 * `{type: Completed, status: True}`. undefined when the row has none.
 */
export function rowConditionsFor(group: string, resource: string, obj: any): TableRowCondition[] | undefined {
  return printerFor(group, resource).rowConditions?.(obj);
}
