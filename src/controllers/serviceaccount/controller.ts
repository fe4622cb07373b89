// The ServiceAccount controller (upstream's pkg/controller/serviceaccount): every
// active namespace has the service accounts it must have (`default`), recreated when
// deleted. Pods need it: the ServiceAccount admission plugin refuses a pod whose
// service account does not exist.

import { isStatusError } from '../../api/errors.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { namespaceTerminating } from '../endpoints/controller.ts';

export interface ServiceAccountControllerOptions {
  /** Service accounts every namespace gets (upstream: just `default`). */
  serviceAccounts?: string[];
}

/**
 * The ServiceAccount controller. start() builds a fresh instance for each term of the
 * manager's leadership.
 */
export function serviceAccountController(opts: ServiceAccountControllerOptions = {}): Controller {
  return { name: 'serviceaccount', start: (ctx, signal) => new ServiceAccountController(ctx, opts).run(signal) };
}

export class ServiceAccountController {
  private readonly ctx: ControllerContext;
  private readonly accounts: string[];
  private readonly queue = new RateLimitingQueue<string>({ name: 'serviceaccount' });
  private readonly namespaces: Informer;
  private readonly serviceAccounts: Informer;

  /** Registers informers and handlers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, opts: ServiceAccountControllerOptions = {}) {
    this.ctx = ctx;
    this.accounts = opts.serviceAccounts ?? ['default'];
    this.namespaces = ctx.factory.informerFor(ref.namespaces);
    this.serviceAccounts = ctx.factory.informerFor(ref.serviceaccounts);
    const q = this.queue;
    this.namespaces.addEventHandler({
      onAdd: (n) => q.add(n.metadata.name!),
      onUpdate: (_o, n) => q.add(n.metadata.name!),
    });
    this.serviceAccounts.addEventHandler({
      onDelete: (sa) => {
        if (this.accounts.includes(sa.metadata.name!)) q.add(sa.metadata.namespace!);
      },
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    const synced = await Promise.all([this.namespaces.waitForSync(signal), this.serviceAccounts.waitForSync(signal)]);
    if (!synced.every(Boolean)) return;
    await runWorkers(this.queue, this.ctx.workers, (ns, sig) => this.syncNamespace(ns, sig), signal, { log: this.ctx.log });
  }

  private async syncNamespace(ns: string, signal: AbortSignal): Promise<void> {
    const n = this.namespaces.lister.get(undefined, ns);
    // Nothing is created in a namespace that is going (or gone).
    if (!n || (n.status?.phase ?? 'Active') !== 'Active') return;
    for (const name of this.accounts) {
      if (this.serviceAccounts.lister.get(ns, name)) continue;
      try {
        await this.ctx.client.create(ref.serviceaccounts, ns, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns } }, { signal });
      } catch (e) {
        if (isStatusError(e) && (e.code === 409 || e.code === 404)) continue;
        if (namespaceTerminating(e)) return;
        throw e;
      }
    }
  }
}
