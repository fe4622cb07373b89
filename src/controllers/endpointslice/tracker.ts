// The slice tracker of upstream's EndpointSlice controllers: the version of every slice
// this controller last wrote, per service, so that (1) a sync that would read a cache
// older than our own writes is refused (retried) instead of creating duplicates, and
// (2) informer events caused by our own writes do not trigger another sync.
//
// Upstream compares metadata.generation, which the apiserver bumps on every slice
// change; Skiff's apiserver keeps no generation for EndpointSlices, so this compares
// resourceVersions, which are the store's revision numbers here (sqlite and etcd both).

import type { KObject } from '../../api/object.ts';
import { LABEL_SERVICE_NAME } from './reconciler.ts';

const DELETION_EXPECTED = -1n;

function rv(o: KObject): bigint {
  try {
    return BigInt(o.metadata.resourceVersion ?? '0');
  } catch {
    return 0n;
  }
}

export class StaleInformerCacheError extends Error {
  constructor(message = 'EndpointSlice informer cache is out of date') {
    super(message);
    this.name = 'StaleInformerCacheError';
  }
}

export class SliceTracker {
  /** `namespace/service` → slice uid → the resourceVersion we wrote (or DELETION_EXPECTED). */
  private readonly byService = new Map<string, Map<string, bigint>>();

  private serviceKey(slice: KObject): string | undefined {
    const svc = slice.metadata.labels?.[LABEL_SERVICE_NAME];
    return svc ? `${slice.metadata.namespace}/${svc}` : undefined;
  }

  private forSlice(slice: KObject, create = false): Map<string, bigint> | undefined {
    const key = this.serviceKey(slice);
    if (!key) return undefined;
    let m = this.byService.get(key);
    if (!m && create) this.byService.set(key, (m = new Map()));
    return m;
  }

  /** Records a slice as written by us (the server's answer to a create or update). */
  update(slice: KObject): void {
    this.forSlice(slice, true)?.set(slice.metadata.uid!, rv(slice));
  }

  expectDeletion(slice: KObject): void {
    this.forSlice(slice, true)?.set(slice.metadata.uid!, DELETION_EXPECTED);
  }

  has(slice: KObject): boolean {
    return this.forSlice(slice)?.has(slice.metadata.uid!) ?? false;
  }

  /** True unless the slice is the version we wrote (or older): someone else changed it. */
  shouldSync(slice: KObject): boolean {
    const v = this.forSlice(slice)?.get(slice.metadata.uid!);
    return v === undefined || rv(slice) > v;
  }

  /** Forgets a deleted slice; false when we did not expect that deletion. */
  handleDeletion(slice: KObject): boolean {
    const m = this.forSlice(slice);
    if (!m) return true;
    const v = m.get(slice.metadata.uid!);
    m.delete(slice.metadata.uid!);
    return v === undefined || v === DELETION_EXPECTED;
  }

  /** True when the cached slices are older than what we wrote, or miss one we created, or keep one we deleted. */
  stale(namespace: string, service: string, slices: KObject[]): boolean {
    const m = this.byService.get(`${namespace}/${service}`);
    if (!m) return false;
    const provided = new Map<string, bigint>();
    for (const s of slices) {
      provided.set(s.metadata.uid!, rv(s));
      const v = m.get(s.metadata.uid!);
      if (v !== undefined && (v === DELETION_EXPECTED || v > rv(s))) return true;
    }
    for (const [uid, v] of m) {
      if (v === DELETION_EXPECTED) continue;
      const have = provided.get(uid);
      if (have === undefined || v > have) return true;
    }
    return false;
  }

  deleteService(namespace: string, service: string): void {
    this.byService.delete(`${namespace}/${service}`);
  }
}

/**
 * The EndpointSlice event handler both slice controllers use: a slice they manage that
 * their tracker has not seen yet (or a deleted one they still expect) sends its service
 * back to the queue; a user moving the service-name label sends both services.
 */
export function sliceEventHandler(tracker: SliceTracker, managed: (s: KObject) => boolean, queueFor: (s: KObject) => void) {
  return {
    onAdd: (s: KObject) => {
      if (managed(s) && tracker.shouldSync(s)) queueFor(s);
    },
    onUpdate: (o: KObject, s: KObject) => {
      // The service-name label is not ours to change, but a user may: both services look again.
      if (o.metadata.labels?.[LABEL_SERVICE_NAME] !== s.metadata.labels?.[LABEL_SERVICE_NAME]) {
        queueFor(o);
        queueFor(s);
        return;
      }
      if (managed(o) !== managed(s) || (managed(s) && tracker.shouldSync(s))) queueFor(s);
    },
    onDelete: (s: KObject) => {
      if (managed(s) && tracker.has(s) && !tracker.handleDeletion(s)) queueFor(s);
    },
  };
}
