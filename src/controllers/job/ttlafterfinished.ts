// The TTL-after-finished controller (upstream's pkg/controller/ttlafterfinished): a
// finished Job with spec.ttlSecondsAfterFinished is deleted (foreground, so its pods go
// first) once that many seconds have passed since its Complete or Failed condition.
// Before deleting, the Job is read again uncached: a TTL extended meanwhile wins.

import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import { keyOf, splitKey } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { KeyedTimers, realClock, type Clock } from '../history/clock.ts';
import { isNotFound, timeOf } from '../history/pods.ts';
import { finishedCondition } from './controller.ts';

export interface TTLAfterFinishedControllerOptions {
  clock?: Clock;
}

function needsCleanup(job: KObject): boolean {
  return typeof job.spec?.ttlSecondsAfterFinished === 'number' && finishedCondition(job) !== undefined;
}

/** When the Job's TTL runs out (ms), or undefined when it has none (not finished, no TTL, being deleted). */
export function ttlExpiry(job: KObject): number | undefined {
  if (job.metadata.deletionTimestamp || !needsCleanup(job)) return undefined;
  const finishedAt = timeOf(finishedCondition(job)!.lastTransitionTime);
  if (finishedAt === undefined) return undefined;
  return finishedAt + job.spec.ttlSecondsAfterFinished * 1000;
}

export function newTTLAfterFinishedController(opts: TTLAfterFinishedControllerOptions = {}): Controller {
  return {
    name: 'ttl-after-finished',
    start(ctx: ControllerContext, signal: AbortSignal): Promise<void> {
      const clock = opts.clock ?? realClock;
      const jobs = ctx.factory.informerFor(ref.jobs);
      const queue = new RateLimitingQueue<string>({ name: 'ttl_jobs_to_delete' });
      const timers = new KeyedTimers(clock);
      const enqueue = (job: KObject) => {
        if (needsCleanup(job)) queue.add(keyOf(job));
      };
      jobs.addEventHandler({ onAdd: enqueue, onUpdate: (_o, n) => enqueue(n) });

      const processJob = async (key: string): Promise<void> => {
        const { namespace, name } = splitKey(key);
        const cached = jobs.lister.get(namespace, name);
        if (!cached) return;
        const expiry = (job: KObject): boolean => {
          const at = ttlExpiry(job);
          if (at === undefined) return false;
          if (at > clock.now()) {
            timers.at(key, at, (k) => queue.add(k));
            return false;
          }
          return true;
        };
        if (!expiry(cached)) return;
        let fresh: KObject;
        try {
          fresh = await ctx.client.get(ref.jobs, namespace, name);
        } catch (e) {
          if (isNotFound(e)) return;
          throw e;
        }
        if (fresh.metadata.uid !== cached.metadata.uid || !expiry(fresh)) return;
        ctx.log('deleting finished Job whose TTL expired', { job: key });
        try {
          await ctx.client.delete(ref.jobs, namespace, name, { propagationPolicy: 'Foreground', preconditions: { uid: fresh.metadata.uid } });
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      };

      return (async () => {
        if (!(await ctx.factory.waitForSync(signal))) return;
        signal.addEventListener('abort', () => timers.cancelAll(), { once: true });
        await runWorkers(queue, ctx.workers, processJob, signal, { log: ctx.log });
      })();
    },
  };
}

/** The TTL-after-finished controller with the real clock. */
export const ttlAfterFinishedController: Controller = newTTLAfterFinishedController();
