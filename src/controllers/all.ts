// Every controller kube-controller-manager runs by default, as `skiff up` and
// `skiff controller-manager` start them (upstream's --controllers='*').

import type { Controller } from './context.ts';
import { builtinControllers } from './manager.ts';
import { newStatefulSetController } from './statefulset/controller.ts';
import { newDaemonSetController } from './daemonset/controller.ts';
import { newJobController } from './job/controller.ts';
import { newTTLAfterFinishedController } from './job/ttlafterfinished.ts';
import { newCronJobController } from './cronjob/controller.ts';
import { endpointsController } from './endpoints/controller.ts';
import { endpointSliceController } from './endpointslice/controller.ts';
import { endpointSliceMirroringController } from './endpointslicemirroring/controller.ts';
import { serviceAccountController } from './serviceaccount/controller.ts';
import { rootCACertPublisher } from './serviceaccount/rootca.ts';
import { nodeLifecycleController } from './nodelifecycle/controller.ts';
import { taintEvictionController } from './nodelifecycle/tainteviction.ts';
import { disruptionController } from './disruption/controller.ts';
import { nodeIpamController } from './nodeipam/controller.ts';
import { podGCController } from './podgc/controller.ts';
import { serviceLBController } from './servicelb/controller.ts';

export interface ControllerSetOptions {
  /** The cluster CA (PEM) the root-ca-cert-publisher puts in every namespace's kube-root-ca.crt. */
  rootCA?: string;
  /** --cluster-cidr for node IPAM (default 10.244.0.0/16). */
  clusterCIDR?: string;
  /** --service-cluster-ip-range, kept out of node ranges. */
  serviceCIDR?: string;
  /** Addresses for LoadBalancer Services (a CIDR per family); the Ready nodes' addresses when unset. */
  loadBalancerPool?: string;
}

export function allControllers(opts: ControllerSetOptions = {}): Controller[] {
  const out: Controller[] = [
    ...builtinControllers(),
    newStatefulSetController(),
    newDaemonSetController(),
    newJobController(),
    newTTLAfterFinishedController(),
    newCronJobController(),
    endpointsController(),
    endpointSliceController(),
    endpointSliceMirroringController(),
    serviceAccountController(),
    nodeLifecycleController(),
    taintEvictionController(),
    disruptionController(),
    nodeIpamController({ ...(opts.clusterCIDR ? { clusterCIDR: opts.clusterCIDR } : {}), ...(opts.serviceCIDR ? { serviceCIDR: opts.serviceCIDR } : {}) }),
    podGCController(),
    serviceLBController(opts.loadBalancerPool ? { pool: opts.loadBalancerPool } : {}),
  ];
  if (opts.rootCA) out.push(rootCACertPublisher({ rootCA: opts.rootCA }));
  return out;
}
