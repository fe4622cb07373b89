// Small helpers shared by the client's long-running parts.

import type { KObject } from '../api/object.ts';

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Capped exponential backoff with jitter, as client-go's wait.Backoff for reflectors. */
export class Backoff {
  private current: number;
  private readonly initialMs: number;
  private readonly maxMs: number;
  constructor(initialMs: number, maxMs: number) {
    this.initialMs = initialMs;
    this.maxMs = maxMs;
    this.current = initialMs;
  }
  /** The next delay: the current step plus up to 100% jitter, then the step doubles. */
  next(): number {
    const d = this.current * (1 + Math.random());
    this.current = Math.min(this.current * 2, this.maxMs);
    return Math.min(d, this.maxMs);
  }
  reset(): void {
    this.current = this.initialMs;
  }
}

/** client-go's MetaNamespaceKeyFunc: `namespace/name`, or `name` for cluster-scoped objects. */
export function keyOf(obj: KObject): string {
  const ns = obj.metadata?.namespace;
  return ns ? `${ns}/${obj.metadata.name}` : String(obj.metadata?.name ?? '');
}

/** The namespace and name of a `namespace/name` (or `name`) key. */
export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export type Logger = (msg: string, fields?: Record<string, unknown>) => void;
