// The contract between the controller manager and its controllers. A controller is
// level-triggered: informer events only enqueue keys; `reconcile` re-reads the cache,
// computes the desired state and writes the difference through the client. Controllers
// never share memory with the apiserver or with each other, only the API.

import type { Client } from '../client/types.ts';
import type { SharedInformerFactory } from '../client/factory.ts';
import type { EventRecorder } from '../client/events.ts';
import type { Logger } from '../client/util.ts';

export interface ControllerContext {
  client: Client;
  /** One shared informer per resource for every controller of this manager. */
  factory: SharedInformerFactory;
  /** An event recorder reporting as `component` (e.g. "deployment-controller"). */
  recorder(component: string): EventRecorder;
  log: Logger;
  /** Worker count per controller (upstream's --concurrent-*-syncs). */
  workers: number;
}

export interface Controller {
  /** Upstream's controller name, as in --controllers (e.g. "deployment", "replicaset"). */
  name: string;
  /**
   * Registers informers on ctx.factory synchronously, then returns a promise that runs
   * the controller until `signal` aborts. The manager starts the factory after every
   * controller has registered and waits for sync before workers reconcile.
   */
  start(ctx: ControllerContext, signal: AbortSignal): Promise<void>;
}
