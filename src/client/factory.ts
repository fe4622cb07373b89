// The shared-informer factory: every consumer asking for the same resource with the
// same namespace and selectors gets the same Informer, so N controllers cost one list
// and one watch. Informers asked for after start() are started at once.

import type { KObject } from '../api/object.ts';
import { Informer, type InformerOptions } from './informer.ts';
import type { Client, ResourceRef } from './types.ts';
import type { Logger } from './util.ts';

export interface InformerScope {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface SharedInformerFactoryOptions {
  /** Default resync period of every informer's handlers (0: none, the default). */
  resyncPeriodMs?: number;
  /** Default namespace for informers of namespaced resources (all namespaces when unset). */
  namespace?: string;
  log?: Logger;
  /** Passed to every informer (tests shorten the retry delays). */
  informerDefaults?: Pick<InformerOptions, 'pageSize' | 'minBackoffMs' | 'maxBackoffMs'>;
  /** Applied by every informer to the objects it caches (see InformerOptions.transform). */
  transform?: (obj: KObject) => KObject;
}

export class SharedInformerFactory {
  readonly client: Client;
  private readonly opts: SharedInformerFactoryOptions;
  private readonly informers = new Map<string, Informer<any>>();
  private signal: AbortSignal | undefined;

  constructor(client: Client, opts: SharedInformerFactoryOptions = {}) {
    this.client = client;
    this.opts = opts;
  }

  /** The shared informer for `ref` within `scope`, created on first use. */
  informerFor<T extends KObject = KObject>(ref: ResourceRef, scope: InformerScope = {}): Informer<T> {
    const namespace = ref.namespaced ? (scope.namespace ?? this.opts.namespace ?? '') : '';
    const key = [ref.group, ref.version, ref.resource, namespace, scope.labelSelector ?? '', scope.fieldSelector ?? ''].join('|');
    let inf = this.informers.get(key) as Informer<T> | undefined;
    if (!inf) {
      inf = new Informer<T>(this.client, ref, {
        ...this.opts.informerDefaults,
        namespace: namespace || undefined,
        labelSelector: scope.labelSelector,
        fieldSelector: scope.fieldSelector,
        resyncPeriodMs: this.opts.resyncPeriodMs,
        log: this.opts.log,
        transform: this.opts.transform as ((obj: T) => T) | undefined,
      });
      this.informers.set(key, inf);
      if (this.signal && !this.signal.aborted) inf.start(this.signal);
    }
    return inf;
  }

  /** Starts every informer asked for so far, and any asked for later, until `signal` aborts. */
  start(signal: AbortSignal): void {
    this.signal = signal;
    for (const inf of this.informers.values()) inf.start(signal);
  }

  /** True once every informer asked for so far has synced; false if `signal` aborts first. */
  async waitForSync(signal?: AbortSignal): Promise<boolean> {
    const results = await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
    return results.every(Boolean);
  }

  /** Resolves once every started informer has stopped (after the start signal aborted). */
  async done(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.done()));
  }
}
