// A scheduler over fixed objects, for unit tests of plugins and of the framework: a
// Client whose lists answer the objects given and whose watches stay quiet, so the real
// informers, cache, queue and profiles run, and bindings are recorded instead of sent.
// Placed pods stay "assumed" in the cache (no watch confirms them), which is exactly
// what the next cycle must account for.

import type { KObject } from '../../api/object.ts';
import { EventBroadcaster } from '../../client/events.ts';
import { ref, refString } from '../../client/resources.ts';
import type { Client, ObjectList, ResourceRef, WatchEvent } from '../../client/types.ts';
import type { Node, Pod } from '../framework/api.ts';
import { resolveConfiguration, type KubeSchedulerConfiguration } from '../config.ts';
import { Scheduler } from '../scheduler.ts';

export interface RecordedEvent {
  object: string;
  type: string;
  reason: string;
  message: string;
  source: string;
}

/** In-memory Client: lists from `objects`, records writes. */
export class FakeClient implements Client {
  readonly objects = new Map<string, KObject[]>();
  readonly bindings = new Map<string, string>();
  readonly events: RecordedEvent[] = [];
  readonly patches: { resource: string; key: string; patch: unknown }[] = [];
  readonly deletes: string[] = [];
  /** Bindings fail with this message when set. */
  failBindings: string | undefined;

  add(resource: ResourceRef, ...objs: KObject[]): void {
    const k = refString(resource);
    const list = this.objects.get(k) ?? [];
    list.push(...objs);
    this.objects.set(k, list);
  }

  async get<T extends KObject>(res: ResourceRef, ns: string | undefined, name: string): Promise<T> {
    const o = (this.objects.get(refString(res)) ?? []).find((x) => x.metadata.name === name && (!res.namespaced || x.metadata.namespace === ns));
    if (!o) throw Object.assign(new Error('not found'), { code: 404 });
    return o as T;
  }

  async list<T extends KObject>(res: ResourceRef): Promise<ObjectList<T>> {
    return { metadata: { resourceVersion: '1' }, items: structuredClone(this.objects.get(refString(res)) ?? []) as T[] };
  }

  async *watch<T extends KObject>(_res: ResourceRef, _ns: string | undefined, opts: { signal: AbortSignal }): AsyncIterable<WatchEvent<T>> {
    await new Promise<void>((r) => (opts.signal.aborted ? r() : opts.signal.addEventListener('abort', () => r(), { once: true })));
  }

  async create<T extends KObject>(res: ResourceRef, ns: string | undefined, obj: KObject, opts: { subresource?: string; name?: string } = {}): Promise<T> {
    if (opts.subresource === 'binding') {
      if (this.failBindings) throw new Error(this.failBindings);
      this.bindings.set(`${ns}/${opts.name}`, obj.target.name);
      return { kind: 'Status', metadata: {} } as unknown as T;
    }
    if (res.resource === 'events') {
      const io = obj.involvedObject ?? {};
      this.events.push({ object: `${io.namespace}/${io.name}`, type: obj.type, reason: obj.reason, message: obj.message, source: obj.source?.component });
      return { ...obj, metadata: { ...obj.metadata, name: obj.metadata.name } } as T;
    }
    return obj as T;
  }

  async update<T extends KObject>(_res: ResourceRef, _ns: string | undefined, obj: KObject): Promise<T> {
    return obj as T;
  }

  async patch<T extends KObject>(res: ResourceRef, ns: string | undefined, name: string, _type: string, patch: unknown): Promise<T> {
    this.patches.push({ resource: refString(res), key: `${ns}/${name}`, patch });
    return {} as T;
  }

  async delete(res: ResourceRef, ns: string | undefined, name: string): Promise<KObject> {
    this.deletes.push(`${refString(res)} ${ns}/${name}`);
    return { metadata: {} };
  }

  async deleteCollection(): Promise<void> {}
}

export interface TestSchedulerOptions {
  nodes?: Node[];
  pods?: Pod[];
  /** Other objects by plural (e.g. { services: [...], priorityclasses: [...] }). */
  objects?: Partial<Record<string, KObject[]>>;
  config?: KubeSchedulerConfiguration;
}

export interface TestScheduler {
  scheduler: Scheduler;
  client: FakeClient;
  /** Schedules everything schedulable now; resolves once bindings are recorded. */
  scheduleAll(): Promise<void>;
  /** Where each pod was bound (namespace/name → node). */
  bindings: Map<string, string>;
  /** FailedScheduling / Scheduled / Preempted events. */
  events: RecordedEvent[];
  stop(): Promise<void>;
}

export async function startTestScheduler(opts: TestSchedulerOptions): Promise<TestScheduler> {
  const client = new FakeClient();
  client.add(ref.nodes, ...(opts.nodes ?? []));
  client.add(ref.pods, ...(opts.pods ?? []));
  for (const [plural, objs] of Object.entries(opts.objects ?? {})) {
    const r = (ref as Record<string, ResourceRef>)[plural];
    if (!r) throw new Error(`unknown resource ${plural}`);
    client.add(r, ...(objs ?? []));
  }
  const ac = new AbortController();
  const broadcaster = new EventBroadcaster(client);
  const scheduler = new Scheduler({ client, config: resolveConfiguration(opts.config ?? {}), broadcaster });
  scheduler.factory.start(ac.signal);
  await scheduler.waitForCacheSync(ac.signal);
  return {
    scheduler,
    client,
    bindings: client.bindings,
    events: client.events,
    async scheduleAll() {
      scheduler.queue.flushBackoffQCompleted();
      while (scheduler.scheduleAvailable() > 0) await scheduler.settleBindings();
      await scheduler.settleBindings();
      await broadcaster.flush();
    },
    async stop() {
      ac.abort();
      broadcaster.shutdown();
      await scheduler.factory.done();
    },
  };
}
