// The node-wide runtime relist (upstream's PLEG, generic form): once a period, one
// ListPodSandbox (this node's sandboxes) and one ListContainers for the whole node, grouped
// by pod uid. Pod workers read their pod's part instead of listing on every sync pass, so a
// node with N pods costs two runtime calls per period rather than 2N; a pod whose sandboxes
// or containers changed between two relists (a container exited, a sandbox died) gets an
// event at once (`onChange`), so its worker syncs without waiting for its own resync.
//
// Freshness: a worker that changed the runtime itself (started a container, ...) must not
// act on a view taken before that change; `snapshot(uid, since)` answers only from a relist
// that began after `since`, else undefined (the worker lists for itself).

import type { Container, CriRuntime, PodSandbox } from '../cri/types.ts';
import type { Logger } from '../../client/util.ts';
import * as L from './labels.ts';

export const RELIST_PERIOD_MS = 1000;

export interface PodRuntimeView {
  sandboxes: PodSandbox[];
  containers: Container[];
}

const EMPTY: PodRuntimeView = { sandboxes: [], containers: [] };

function signature(v: PodRuntimeView): string {
  const s = v.sandboxes.map((x) => `${x.id}:${x.state}`).sort();
  const c = v.containers.map((x) => `${x.id}:${x.state}`).sort();
  return `${s.join(',')}|${c.join(',')}`;
}

export class RuntimeRelist {
  readonly #runtime: CriRuntime;
  readonly #nodeName: string;
  readonly #onChange: (uid: string) => void;
  readonly #periodMs: number;
  readonly #log: Logger;
  #byUid = new Map<string, PodRuntimeView>();
  #signatures = new Map<string, string>();
  /** performance.now() when the last completed relist began; -Infinity before the first. */
  #takenAt = -Infinity;

  constructor(runtime: CriRuntime, opts: { nodeName: string; onChange: (uid: string) => void; periodMs?: number; log?: Logger }) {
    this.#runtime = runtime;
    this.#nodeName = opts.nodeName;
    this.#onChange = opts.onChange;
    this.#periodMs = opts.periodMs ?? RELIST_PERIOD_MS;
    this.#log = opts.log ?? (() => {});
  }

  /** The pod's sandboxes and containers from a relist that began after `since` (performance.now() time); undefined when none did. */
  snapshot(uid: string, since: number): PodRuntimeView | undefined {
    // too old (relists failing or stalled): the worker lists for itself
    if (this.#takenAt <= since || performance.now() - this.#takenAt > 3 * this.#periodMs) return undefined;
    return this.#byUid.get(uid) ?? EMPTY;
  }

  /** One relist: lists, regroups, and reports the pods whose runtime state changed since the previous one. */
  async relist(): Promise<void> {
    const takenAt = performance.now();
    const [sandboxes, containers] = await Promise.all([
      this.#runtime.listPodSandbox({ labelSelector: { [L.SKIFF_NODE]: this.#nodeName } }),
      this.#runtime.listContainers(),
    ]);
    const byUid = new Map<string, PodRuntimeView>();
    const uidOfSandbox = new Map<string, string>();
    for (const sb of sandboxes) {
      const uid = sb.labels[L.POD_UID] ?? sb.metadata?.uid;
      if (!uid) continue;
      uidOfSandbox.set(sb.id, uid);
      let v = byUid.get(uid);
      if (!v) byUid.set(uid, (v = { sandboxes: [], containers: [] }));
      v.sandboxes.push(sb);
    }
    // Only containers in this node's sandboxes: another kubelet may share the runtime.
    for (const c of containers) {
      const uid = uidOfSandbox.get(c.podSandboxId);
      if (uid && (c.labels[L.POD_UID] ?? uid) === uid) byUid.get(uid)!.containers.push(c);
    }
    const first = this.#takenAt === -Infinity;
    const signatures = new Map<string, string>();
    for (const [uid, v] of byUid) signatures.set(uid, signature(v));
    this.#byUid = byUid;
    this.#takenAt = takenAt;
    if (!first) {
      for (const [uid, sig] of signatures) if (this.#signatures.get(uid) !== sig) this.#onChange(uid);
      for (const uid of this.#signatures.keys()) if (!signatures.has(uid)) this.#onChange(uid);
    }
    this.#signatures = signatures;
  }

  /** Relists every period until the signal aborts; a failed relist is logged; its pods' workers list for themselves meanwhile. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.relist();
      } catch (e) {
        if (signal.aborted) break;
        this.#log('runtime relist failed', { node: this.#nodeName, error: (e as Error).message });
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, this.#periodMs);
        function done() {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          resolve();
        }
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }
}
