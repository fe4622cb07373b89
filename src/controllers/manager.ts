// The controller manager: one process role (kube-controller-manager's). It campaigns
// for the Lease kube-system/kube-controller-manager; while it leads it runs every
// controller it was given against one shared informer factory and one event
// broadcaster, and when leadership is lost (or the signal aborts) it stops them all and,
// unless stopping, campaigns again with fresh caches. What must hold:
//   - Controllers only run while this manager holds the lease: two managers never act at
//     once (the apiserver's componentstatuses reports controller-manager healthy while
//     the lease is renewed).
//   - Every controller registers its informers synchronously in start(); the factory is
//     started after all have registered, so N controllers cost one list+watch per
//     resource. Controllers wait for their informers' sync before reconciling.
//   - A controller that throws or rejects is logged; the others keep running.

import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { createClient } from '../client/rest.ts';
import { SharedInformerFactory, type SharedInformerFactoryOptions } from '../client/factory.ts';
import { stripManagedFields } from '../client/informer.ts';
import { EventBroadcaster } from '../client/events.ts';
import { LeaderElector } from '../client/leaderelection.ts';
import type { Client, Transport } from '../client/types.ts';
import { sleep, type Logger } from '../client/util.ts';
import type { Controller, ControllerContext } from './context.ts';
import { replicaSetController, replicationControllerController } from './replicaset/replicaset.ts';
import { deploymentController } from './deployment/deployment.ts';
import { garbageCollectorController } from './garbagecollector/garbagecollector.ts';
import { namespaceController } from './namespace/namespace.ts';

export const CONTROLLER_MANAGER_LEASE = { namespace: 'kube-system', name: 'kube-controller-manager' } as const;

/** Upstream's --concurrent-*-syncs defaults, by controller name; others get DEFAULT_WORKERS. */
export const UPSTREAM_WORKERS: Record<string, number> = {
  deployment: 5,
  replicaset: 5,
  replicationcontroller: 5,
  statefulset: 5,
  daemonset: 2,
  job: 5,
  cronjob: 5,
  garbagecollector: 20,
  namespace: 10,
  endpoint: 5,
  endpointslice: 5,
  endpointslicemirroring: 5,
  serviceaccount: 1,
  'serviceaccount-token': 5,
  resourcequota: 5,
  'ttl-after-finished': 5,
};
export const DEFAULT_WORKERS = 5;

export interface LeaderElectionConfig {
  /** Default true; false runs the controllers at once (tests, a single manager). */
  enabled?: boolean;
  namespace?: string;
  name?: string;
  /** Default: hostname + "_" + a UUID, as upstream. */
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

export interface ControllerManagerOptions {
  /** The client controllers use; or `transport` to build one. */
  client?: Client;
  transport?: Transport;
  controllers: Controller[];
  leaderElection?: LeaderElectionConfig;
  log?: Logger;
  /** Workers per controller: one number for all, or per controller name (missing names get upstream's default). */
  workers?: number | Record<string, number>;
  /** Passed to the shared informer factory (tests shorten retry delays). */
  informer?: Pick<SharedInformerFactoryOptions, 'resyncPeriodMs' | 'informerDefaults'>;
  /**
   * The events' source host. Default none: upstream's controllers record events with the
   * component only (`kubectl get events -o wide` shows SOURCE `service-controller`); only
   * the kubelet names its host.
   */
  host?: string;
}

export interface ControllerManager {
  /** This manager's holder identity on the lease. */
  readonly identity: string;
  isLeader(): boolean;
  /** Resolves once this manager leads and the informers of its current term have synced. */
  whenReady(): Promise<void>;
  /** Resolves once the manager has stopped (after the signal aborted). */
  readonly done: Promise<void>;
}

function workersFor(opt: ControllerManagerOptions['workers'], name: string): number {
  if (typeof opt === 'number') return opt;
  return opt?.[name] ?? UPSTREAM_WORKERS[name] ?? DEFAULT_WORKERS;
}

/**
 * Starts the controller manager until `signal` aborts. Returns at once; `done` resolves
 * when every controller has stopped and the lease has been released.
 */
export function startControllerManager(opts: ControllerManagerOptions, signal: AbortSignal): ControllerManager {
  const client = opts.client ?? (opts.transport ? createClient(opts.transport, { userAgent: 'kube-controller-manager/v1.32.4-skiff' }) : undefined);
  if (!client) throw new Error('startControllerManager: a client or a transport is required');
  const log = opts.log ?? (() => {});
  const le = opts.leaderElection ?? {};
  const identity = le.identity ?? `${hostname()}_${randomUUID()}`;
  const host = opts.host;
  let leading = false;
  let readyWaiters: (() => void)[] = [];
  let ready = false;

  const markReady = (v: boolean) => {
    ready = v;
    if (!v) return;
    const w = readyWaiters;
    readyWaiters = [];
    for (const f of w) f();
  };

  /** One term of leadership: fresh factory and broadcaster, every controller, until `term` aborts. */
  const lead = async (term: AbortSignal): Promise<void> => {
    leading = true;
    const started = performance.now();
    // Cached objects without managedFields, as kube-controller-manager's informers keep them.
    const factory = new SharedInformerFactory(client, {
      transform: stripManagedFields,
      ...opts.informer,
      log: (m, f) => log(m, { logger: 'informer', ...f }),
    });
    const broadcaster = new EventBroadcaster(client, { log: (m, f) => log(m, { logger: 'events', ...f }) });
    const runs: Promise<void>[] = [];
    for (const c of opts.controllers) {
      const clog: Logger = (m, f) => log(m, { controller: c.name, ...f });
      const ctx: ControllerContext = {
        client,
        factory,
        recorder: (component) => broadcaster.newRecorder(host ? { component, host } : { component }),
        log: clog,
        workers: workersFor(opts.workers, c.name),
      };
      let run: Promise<void>;
      try {
        run = Promise.resolve(c.start(ctx, term));
      } catch (e) {
        run = Promise.reject(e);
      }
      runs.push(run.catch((e) => clog('controller failed', { error: String((e as Error)?.stack ?? e) })));
      clog('started controller');
    }
    factory.start(term);
    if (await factory.waitForSync(term)) {
      log('caches synced; controllers reconciling', { controllers: opts.controllers.length, seconds: ((performance.now() - started) / 1000).toFixed(2) });
      markReady(true);
    }
    await Promise.all(runs);
    await factory.done();
    // Events recorded while stopping get a moment to be written, then the rest is dropped.
    await Promise.race([broadcaster.flush(), new Promise((r) => setTimeout(r, 1000).unref())]);
    broadcaster.shutdown();
    markReady(false);
    leading = false;
  };

  const run = async (): Promise<void> => {
    if (le.enabled === false) {
      await lead(signal);
      return;
    }
    while (!signal.aborted) {
      let term: Promise<void> | undefined;
      const elector = new LeaderElector({
        client,
        namespace: le.namespace ?? CONTROLLER_MANAGER_LEASE.namespace,
        name: le.name ?? CONTROLLER_MANAGER_LEASE.name,
        identity,
        // Unset durations take the elector's defaults (15 s, 10 s, 2 s): undefined must not override them.
        ...(le.leaseDurationMs !== undefined ? { leaseDurationMs: le.leaseDurationMs } : {}),
        ...(le.renewDeadlineMs !== undefined ? { renewDeadlineMs: le.renewDeadlineMs } : {}),
        ...(le.retryPeriodMs !== undefined ? { retryPeriodMs: le.retryPeriodMs } : {}),
        log: (m, f) => log(m, { logger: 'leader-election', ...f }),
        onStartedLeading: (s) => {
          term = lead(s);
        },
        onNewLeader: (id) => {
          if (id !== identity) log('new leader elected', { leader: id });
        },
      });
      try {
        await elector.run(signal);
      } catch (e) {
        log('leader election failed; retrying', { identity, error: String((e as Error)?.message ?? e) });
        await sleep(1000, signal);
      }
      await term;
      if (!signal.aborted) log('leader election lost; campaigning again', { identity });
    }
  };

  const done = run().catch((e) => log('controller manager failed', { error: String((e as Error)?.stack ?? e) }));
  return {
    identity,
    isLeader: () => leading,
    whenReady: () => (ready ? Promise.resolve() : new Promise<void>((r) => readyWaiters.push(r))),
    done,
  };
}

/** The controllers of this package (the lead adds the other authors' to this list). */
export function builtinControllers(): Controller[] {
  return [replicaSetController(), replicationControllerController(), deploymentController(), garbageCollectorController(), namespaceController()];
}
