// Running a scheduler as kube-scheduler does: informers start at once (a standby keeps
// warm caches), scheduling starts when this instance holds the leader Lease
// (kube-system/kube-scheduler for the default scheduler; componentstatuses reports the
// scheduler healthy while it is renewed), and stops when the lease is lost or the
// signal aborts (the lease is then released).

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { EventBroadcaster } from '../client/events.ts';
import type { SharedInformerFactory } from '../client/factory.ts';
import { LeaderElector } from '../client/leaderelection.ts';
import type { Client } from '../client/types.ts';
import type { Logger } from '../client/util.ts';
import type { ResolvedConfiguration } from './config.ts';
import { Scheduler } from './scheduler.ts';
import type { Registry } from './plugins/registry.ts';

export interface StartSchedulerOptions {
  client: Client;
  config: ResolvedConfiguration;
  /** The Lease holder identity (default: hostname_uuid, as upstream). */
  identity?: string;
  log?: Logger;
  factory?: SharedInformerFactory;
  broadcaster?: EventBroadcaster;
  registry?: Registry;
  bindConcurrency?: number;
}

export interface RunningScheduler {
  scheduler: Scheduler;
  /** Resolves once informers have synced (leading or not). */
  ready: Promise<void>;
  /** Resolves when the scheduler stopped because `signal` aborted; rejects when leadership was lost. */
  done: Promise<void>;
  isLeader(): boolean;
}

export function startScheduler(opts: StartSchedulerOptions, signal: AbortSignal): RunningScheduler {
  const log = opts.log ?? (() => {});
  const scheduler = new Scheduler({
    client: opts.client,
    config: opts.config,
    factory: opts.factory,
    broadcaster: opts.broadcaster,
    registry: opts.registry,
    log,
    bindConcurrency: opts.bindConcurrency,
  });
  if (!opts.factory) scheduler.factory.start(signal);
  const ready = scheduler.waitForCacheSync(signal).then(() => undefined);
  const le = opts.config.leaderElection;
  let elector: LeaderElector | undefined;
  const done = (async () => {
    await ready;
    if (signal.aborted) return;
    if (!le.leaderElect) {
      await scheduler.run(signal);
      return;
    }
    let leading: Promise<void> | undefined;
    elector = new LeaderElector({
      client: opts.client,
      namespace: le.resourceNamespace,
      name: le.resourceName,
      identity: opts.identity ?? `${hostname()}_${randomUUID()}`,
      leaseDurationMs: le.leaseDurationMs,
      renewDeadlineMs: le.renewDeadlineMs,
      retryPeriodMs: le.retryPeriodMs,
      log,
      onStartedLeading: (leadSignal) => {
        leading = scheduler.run(leadSignal);
      },
      onNewLeader: (id) => log('new leader elected', { lease: `${le.resourceNamespace}/${le.resourceName}`, identity: id }),
    });
    await elector.run(signal);
    await leading;
    if (!signal.aborted) throw new Error(`leaderelection lost (lease ${le.resourceNamespace}/${le.resourceName})`);
  })();
  return { scheduler, ready, done, isLeader: () => (le.leaderElect ? (elector?.isLeader() ?? false) : true) };
}
