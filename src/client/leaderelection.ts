// Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection
// package with a LeaseLock. What must hold:
//   - A candidate takes the lease only when it is absent, released (no holder), or
//     expired: not renewed for leaseDurationSeconds as measured on this candidate's own
//     clock since it last saw the lease change (so clock skew between machines does not
//     matter, as upstream).
//   - Every write is an update at the resourceVersion read (optimistic concurrency): of
//     two candidates racing for an expired lease, one gets a 409 and stays follower.
//   - The leader renews every retryPeriod; if it cannot renew within renewDeadline it
//     stops leading (the signal given to onStartedLeading aborts) before the lease can
//     expire for the others (renewDeadline < leaseDuration).
//   - On shutdown (the run signal aborts) the leader releases the lease unless told not
//     to: holder cleared, leaseDurationSeconds 1, the lease object kept.

import type { KObject } from '../api/object.ts';
import { isStatusError } from '../api/errors.ts';
import { ref } from './resources.ts';
import type { Client } from './types.ts';
import { sleep, type Logger } from './util.ts';

export interface LeaderCallbacks {
  /** Called once leading; `signal` aborts when leadership ends. Runs while the elector renews. */
  onStartedLeading(signal: AbortSignal): void | Promise<void>;
  /** Called when leadership ends (lost, or the run signal aborted), only if it was held. */
  onStoppedLeading?(): void;
  /** Called when the holder this candidate sees changes (itself included). */
  onNewLeader?(identity: string): void;
}

export interface LeaderElectionOptions extends LeaderCallbacks {
  client: Client;
  /** The Lease: namespace and name (e.g. kube-system/kube-scheduler). */
  namespace: string;
  name: string;
  /** This candidate's holderIdentity (upstream: hostname + "_" + a UUID). */
  identity: string;
  /** How long a lease is valid after its last renewal (15 s; stored rounded up to whole seconds). */
  leaseDurationMs?: number;
  /** How long the leader keeps retrying a failed renewal before it steps down (10 s). */
  renewDeadlineMs?: number;
  /** Interval between attempts to acquire or renew (2 s). */
  retryPeriodMs?: number;
  /** Release the lease when the run signal aborts (default true). */
  releaseOnCancel?: boolean;
  log?: Logger;
}

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
  [key: string]: unknown;
}

/** metav1.MicroTime as the API writes it: RFC 3339 with six fraction digits. */
export function microTime(epochMs: number = performance.timeOrigin + performance.now()): string {
  const us = Math.floor(epochMs * 1000);
  const ms = Math.floor(us / 1000);
  const base = new Date(ms).toISOString(); // 2006-01-02T15:04:05.000Z
  return `${base.slice(0, 19)}.${base.slice(20, 23)}${String(us % 1000).padStart(3, '0')}Z`;
}

const JITTER = 1.2;

export class LeaderElector {
  private readonly o: Required<Pick<LeaderElectionOptions, 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs' | 'releaseOnCancel'>> & LeaderElectionOptions;
  private readonly log: Logger;
  private observed: LeaseSpec | undefined;
  private observedKey = '';
  /** This candidate's clock when it last saw the lease record change. */
  private observedTime = 0;
  private reportedLeader = '';
  private leading = false;

  constructor(opts: LeaderElectionOptions) {
    this.o = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, releaseOnCancel: true, ...opts };
    if (this.o.leaseDurationMs <= this.o.renewDeadlineMs) throw new Error('leaseDuration must be greater than renewDeadline');
    if (this.o.renewDeadlineMs <= JITTER * this.o.retryPeriodMs) throw new Error('renewDeadline must be greater than retryPeriod*1.2');
    if (!opts.identity) throw new Error('identity must not be empty');
    this.log = opts.log ?? (() => {});
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The holder this candidate last saw ('' when none). */
  getLeader(): string {
    return this.observed?.holderIdentity ?? '';
  }

  /**
   * Campaigns until leading, leads until leadership is lost or `signal` aborts, then
   * resolves. Run it again to campaign again.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (!(await this.acquire(signal))) return;
    const leadership = new AbortController();
    const stop = () => leadership.abort();
    signal.addEventListener('abort', stop, { once: true });
    this.leading = true;
    this.log('became leader', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
    void Promise.resolve()
      .then(() => this.o.onStartedLeading(leadership.signal))
      .catch((e) => this.log('onStartedLeading failed', { error: String((e as Error)?.stack ?? e) }));
    try {
      await this.renewLoop(signal);
    } finally {
      leadership.abort();
      signal.removeEventListener('abort', stop);
      this.leading = false;
      if (signal.aborted && this.o.releaseOnCancel) await this.release();
      this.log('stopped leading', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
      try {
        this.o.onStoppedLeading?.();
      } catch (e) {
        this.log('onStoppedLeading failed', { error: String(e) });
      }
    }
  }

  private async acquire(signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      const ok = await this.tryAcquireOrRenew(signal);
      this.maybeReportTransition();
      if (ok) return true;
      await sleep(this.o.retryPeriodMs * (1 + Math.random() * (JITTER - 1)), signal);
    }
    return false;
  }

  /** Returns when a renewal failed for renewDeadline (leadership lost) or `signal` aborted. */
  private async renewLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(this.o.retryPeriodMs, signal);
      if (signal.aborted) return;
      const deadline = Date.now() + this.o.renewDeadlineMs;
      let ok = false;
      while (!signal.aborted && !ok) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        ok = await this.tryAcquireOrRenew(AbortSignal.any([signal, AbortSignal.timeout(left)]));
        this.maybeReportTransition();
        if (!ok) await sleep(Math.min(this.o.retryPeriodMs, Math.max(0, deadline - Date.now())), signal);
      }
      if (!ok && !signal.aborted) {
        this.log('failed to renew lease; leadership lost', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
        return;
      }
    }
  }

  private spec(now: number, current: LeaseSpec | undefined): LeaseSpec {
    const isHolder = current?.holderIdentity === this.o.identity;
    const t = microTime(now);
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.o.leaseDurationMs / 1000)),
      acquireTime: isHolder && current?.acquireTime ? current.acquireTime : t,
      renewTime: t,
      leaseTransitions: isHolder ? (current?.leaseTransitions ?? 0) : (current?.leaseTransitions ?? 0) + (current ? 1 : 0),
    };
  }

  private observe(spec: LeaseSpec): void {
    const key = JSON.stringify([spec.holderIdentity ?? '', spec.leaseDurationSeconds, spec.acquireTime, spec.renewTime, spec.leaseTransitions]);
    if (key !== this.observedKey) {
      this.observedKey = key;
      this.observedTime = Date.now();
    }
    this.observed = spec;
  }

  private async tryAcquireOrRenew(signal: AbortSignal): Promise<boolean> {
    const { client, namespace, name } = this.o;
    const now = Date.now();
    let lease: KObject;
    try {
      lease = await client.get(ref.leases, namespace, name, { signal });
    } catch (e) {
      if (!(isStatusError(e) && e.code === 404)) {
        this.log('error retrieving lease', { lease: `${namespace}/${name}`, error: String((e as Error)?.message ?? e) });
        return false;
      }
      try {
        const created = await client.create(
          ref.leases,
          namespace,
          { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace }, spec: this.spec(now, undefined) },
          { signal },
        );
        this.observe(created.spec ?? {});
        return true;
      } catch (e2) {
        this.log('error creating lease', { lease: `${namespace}/${name}`, error: String((e2 as Error)?.message ?? e2) });
        return false;
      }
    }
    const current: LeaseSpec = lease.spec ?? {};
    this.observe(current);
    const holder = current.holderIdentity ?? '';
    const valid = this.observedTime + (current.leaseDurationSeconds ?? 0) * 1000 > now;
    if (holder !== '' && holder !== this.o.identity && valid) return false;
    const next: KObject = { ...lease, spec: { ...current, ...this.spec(now, current) } };
    try {
      const updated = await client.update(ref.leases, namespace, next, { signal });
      this.observe(updated.spec ?? {});
      return true;
    } catch (e) {
      // A 409 means another candidate wrote first: it holds the lease now.
      this.log('error updating lease', { lease: `${namespace}/${name}`, error: String((e as Error)?.message ?? e) });
      return false;
    }
  }

  private maybeReportTransition(): void {
    const holder = this.observed?.holderIdentity ?? '';
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    if (holder === '') return;
    try {
      this.o.onNewLeader?.(holder);
    } catch (e) {
      this.log('onNewLeader failed', { error: String(e) });
    }
  }

  /** Gives the lease up if this candidate still holds it; the Lease object stays. */
  private async release(): Promise<void> {
    const { client, namespace, name } = this.o;
    try {
      const lease = await client.get(ref.leases, namespace, name, { signal: AbortSignal.timeout(this.o.renewDeadlineMs) });
      const current: LeaseSpec = lease.spec ?? {};
      if (current.holderIdentity !== this.o.identity) return;
      const t = microTime();
      const spec: LeaseSpec = { ...current, holderIdentity: '', leaseDurationSeconds: 1, acquireTime: t, renewTime: t, leaseTransitions: current.leaseTransitions ?? 0 };
      const updated = await client.update(ref.leases, namespace, { ...lease, spec }, { signal: AbortSignal.timeout(this.o.renewDeadlineMs) });
      this.observe(updated.spec ?? {});
    } catch (e) {
      this.log('failed to release lease', { lease: `${namespace}/${name}`, error: String((e as Error)?.message ?? e) });
    }
  }
}

/** Convenience: `new LeaderElector(opts).run(signal)`. */
export function runLeaderElection(opts: LeaderElectionOptions, signal: AbortSignal): Promise<void> {
  return new LeaderElector(opts).run(signal);
}
