// The disruption controller (upstream's pkg/controller/disruption): the status of every
// PodDisruptionBudget, which the apiserver's pods/eviction reads and consumes:
//   expectedPods     pods that should exist: the matching pods for an integer
//                    minAvailable, else the sum of the scales of the pods' controllers
//                    (ReplicaSet, Deployment, ReplicationController, StatefulSet, or any
//                    kind with a scale subresource);
//   desiredHealthy   minAvailable (a percentage of expectedPods, rounded up), or
//                    expectedPods less maxUnavailable (rounded up);
//   currentHealthy   matching pods that are Ready, not being deleted and not recently
//                    evicted (disruptedPods, which the eviction subresource records and
//                    this controller drops after 2 minutes or once the pod is going);
//   disruptionsAllowed currentHealthy − desiredHealthy (never negative; 0 without pods);
// with observedGeneration and the DisruptionAllowed condition (SufficientPods /
// InsufficientPods, SyncFailed when the numbers cannot be computed, which also
// allows no disruption).

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import { labelSelectorFromAPI, type LabelSelector } from '../../api/selectors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref, resourceRefForKind } from '../../client/resources.ts';
import { keyOf, splitKey } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';

/** How long an evicted pod counts as disrupted before the controller gives up waiting for its deletion. */
export const DELETION_TIMEOUT_MS = 2 * 60_000;

export interface DisruptionControllerOptions {
  /** Upstream's DeletionTimeout (2 minutes); tests shorten it. */
  deletionTimeoutMs?: number;
}

interface Informers {
  pdbs: Informer;
  pods: Informer;
  rcs: Informer;
  rss: Informer;
  deployments: Informer;
  statefulsets: Informer;
}

/** intstr.GetScaledValueFromIntOrPercent, rounding up as the disruption controller asks. */
export function scaledValue(v: number | string, total: number): number {
  if (typeof v === 'number') return v;
  const m = /^(-?\d+)%$/.exec(v);
  if (!m) throw new Error(`invalid value for IntOrString: invalid type: string is not a percentage`);
  return Math.ceil((Number(m[1]) * total) / 100);
}

function controllerOf(o: KObject): { apiVersion: string; kind: string; name: string; uid: string } | undefined {
  return (o.metadata.ownerReferences ?? []).find((r) => r.controller === true);
}

function isPodReady(p: KObject): boolean {
  return (p.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
}

function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

/** Go's String() of a *metav1.LabelSelector, as upstream's event messages print it. */
export function goLabelSelector(sel: any): string {
  if (!sel) return 'nil';
  const ml = Object.keys(sel.matchLabels ?? {})
    .sort()
    .map((k) => `${k}: ${sel.matchLabels[k]},`)
    .join('');
  const me = (sel.matchExpressions ?? [])
    .map((e: any) => `LabelSelectorRequirement{Key:${e.key},Operator:${e.operator},Values:[${(e.values ?? []).join(' ')}],}`)
    .join(',');
  return `&LabelSelector{MatchLabels:map[string]string{${ml}},MatchExpressions:[]LabelSelectorRequirement{${me}},}`;
}

/** metav1.Condition upsert (apimeta.SetStatusCondition): lastTransitionTime moves only with the status. */
function setCondition(conds: any[], c: { type: string; status: string; reason: string; message: string; observedGeneration?: number }): any[] {
  const now = nowTime();
  const out = conds.map((x) => ({ ...x }));
  const i = out.findIndex((x) => x.type === c.type);
  if (i < 0) {
    out.push({ ...c, lastTransitionTime: now });
    return out;
  }
  const cur = out[i];
  if (cur.status !== c.status) {
    cur.status = c.status;
    cur.lastTransitionTime = now;
  }
  cur.reason = c.reason;
  cur.message = c.message;
  cur.observedGeneration = c.observedGeneration;
  return out;
}

function nowTime(): string {
  return new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * The disruption controller. start() builds a fresh instance for each term of the
 * manager's leadership.
 */
export function disruptionController(opts: DisruptionControllerOptions = {}): Controller {
  return { name: 'disruption', start: (ctx, signal) => new DisruptionController(ctx, opts).run(signal) };
}

export class DisruptionController {
  private readonly ctx: ControllerContext;
  private readonly inf: Informers;
  private readonly recorder: EventRecorder;
  private signal: AbortSignal = new AbortController().signal;
  private synced = false;
  private readonly deletionTimeoutMs: number;
  private readonly queue = new RateLimitingQueue<string>({ name: 'disruption' });
  private readonly recheck = new RateLimitingQueue<string>({ name: 'disruption_recheck' });

  /** Registers informers and handlers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, opts: DisruptionControllerOptions = {}) {
    this.ctx = ctx;
    this.deletionTimeoutMs = opts.deletionTimeoutMs ?? DELETION_TIMEOUT_MS;
    this.recorder = ctx.recorder('controllermanager');
    const inf: Informers = (this.inf = {
      pdbs: ctx.factory.informerFor(ref.poddisruptionbudgets),
      pods: ctx.factory.informerFor(ref.pods),
      rcs: ctx.factory.informerFor(ref.replicationcontrollers),
      rss: ctx.factory.informerFor(ref.replicasets),
      deployments: ctx.factory.informerFor(ref.deployments),
      statefulsets: ctx.factory.informerFor(ref.statefulsets),
    });
    const q = this.queue;
    inf.pdbs.addEventHandler({
      onAdd: (p) => q.add(keyOf(p)),
      onUpdate: (_o, p) => q.add(keyOf(p)),
      onDelete: (p) => q.add(keyOf(p)),
    });
    const forPod = (p: KObject) => {
      const pdb = this.pdbForPod(p);
      if (pdb) q.add(keyOf(pdb));
    };
    inf.pods.addEventHandler({
      onAdd: forPod,
      onUpdate: (o, p) => {
        forPod(p);
        // Pods whose labels changed may have left a budget.
        if (JSON.stringify(o.metadata.labels ?? {}) !== JSON.stringify(p.metadata.labels ?? {})) forPod(o);
      },
      onDelete: forPod,
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    const synced = await Promise.all(Object.values(this.inf).map((i) => i.waitForSync(signal)));
    if (!synced.every(Boolean)) return;
    this.synced = true;
    const q = this.queue;
    // The recheck queue only feeds the main one at the time a disrupted pod expires.
    const feed = runWorkers(this.recheck, 1, (key) => void q.add(key), signal);
    await runWorkers(q, this.ctx.workers, (key) => this.sync(key), signal, { log: this.ctx.log });
    await feed;
  }

  /** The budget covering a pod (the first by name when several do, with a warning). */
  private pdbForPod(pod: KObject): KObject | undefined {
    if (!Object.keys(pod.metadata.labels ?? {}).length) return undefined;
    const matching = this.inf.pdbs.lister.list(pod.metadata.namespace ?? '').filter((pdb) => {
      try {
        // policy/v1: an empty selector covers every pod of the namespace.
        return labelSelectorFromAPI(pdb.spec?.selector).matches(pod.metadata.labels);
      } catch {
        return false;
      }
    });
    if (!matching.length) return undefined;
    matching.sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
    // Warned once the caches are in (the initial list would warn for every pod).
    if (matching.length > 1 && this.synced) {
      this.recorder.event(
        pod,
        'Warning',
        'MultiplePodDisruptionBudgets',
        `Pod "${pod.metadata.namespace}"/"${pod.metadata.name}" matches multiple PodDisruptionBudgets.  Chose "${matching[0].metadata.name}" arbitrarily.`,
      );
    }
    return matching[0];
  }

  private async sync(key: string): Promise<void> {
    const { ctx, inf, signal } = this;
    const { namespace, name } = splitKey(key);
    const pdb = inf.pdbs.lister.get(namespace, name);
    if (!pdb) return;
    try {
      await this.trySync(pdb);
    } catch (e) {
      // A conflict is retried as it is; anything else allows no disruption until fixed.
      if (signal.aborted || (isStatusError(e) && e.code === 409)) throw e;
      ctx.log('failed to sync PodDisruptionBudget', { pdb: key, error: String((e as Error).message) });
      await this.failSafe(pdb, (e as Error).message);
      throw e;
    }
  }

  private async trySync(pdb: KObject): Promise<void> {
    const { inf, recorder } = this;
    const ns = pdb.metadata.namespace ?? '';
    let sel: LabelSelector;
    try {
      sel = labelSelectorFromAPI(pdb.spec?.selector);
    } catch (e) {
      throw new Error((e as Error).message);
    }
    const pods = inf.pods.lister.list(ns, sel);
    if (!pods.length) recorder.event(pdb, 'Normal', 'NoPods', 'No matching pods found');

    let expected: number;
    let desired: number;
    let unmanaged: string[] = [];
    try {
      ({ expected, desired, unmanaged } = await this.expectedPodCount(pdb, pods));
    } catch (e) {
      recorder.eventf(pdb, 'Warning', 'CalculateExpectedPodCountFailed', 'Failed to calculate the number of expected pods: %s', (e as Error).message);
      throw e;
    }
    if (unmanaged.length) {
      recorder.event(
        pdb,
        'Warning',
        'UnmanagedPods',
        `Pods selected by this PodDisruptionBudget (selector: ${goLabelSelector(pdb.spec?.selector)}) were found to be unmanaged. As a result, the status of the PDB cannot be calculated correctly, which may result in undefined behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.`,
      );
    }
    const now = Date.now();
    const { disrupted, recheckAt } = this.disruptedPods(pdb, { pods, now });
    let healthy = 0;
    for (const p of pods) {
      if (p.metadata.deletionTimestamp) continue;
      const t = disrupted[p.metadata.name!];
      if (t !== undefined && Date.parse(t) + this.deletionTimeoutMs > now) continue;
      if (isPodReady(p)) healthy++;
    }
    await this.updateStatus(pdb, { currentHealthy: healthy, desiredHealthy: desired, expectedPods: expected, disruptedPods: disrupted });
    if (recheckAt !== undefined) this.recheck.addAfter(keyOf(pdb), Math.max(0, recheckAt - now));
  }

  private async expectedPodCount(pdb: KObject, pods: KObject[]): Promise<{ expected: number; desired: number; unmanaged: string[] }> {
    const { minAvailable, maxUnavailable } = pdb.spec ?? {};
    if (maxUnavailable !== undefined && maxUnavailable !== null) {
      const { expected, unmanaged } = await this.expectedScale(pods);
      const max = scaledValue(maxUnavailable, expected);
      return { expected, desired: Math.max(0, expected - max), unmanaged };
    }
    if (minAvailable !== undefined && minAvailable !== null) {
      if (typeof minAvailable === 'number') return { expected: pods.length, desired: minAvailable, unmanaged: [] };
      const { expected, unmanaged } = await this.expectedScale(pods);
      return { expected, desired: scaledValue(minAvailable, expected), unmanaged };
    }
    return { expected: 0, desired: 0, unmanaged: [] };
  }

  /** The sum of the scales of the pods' controllers; pods without a controller are listed as unmanaged. */
  private async expectedScale(pods: KObject[]): Promise<{ expected: number; unmanaged: string[] }> {
    const scales = new Map<string, number>();
    const unmanaged: string[] = [];
    for (const pod of pods) {
      const cref = controllerOf(pod);
      if (!cref) {
        unmanaged.push(pod.metadata.name!);
        continue;
      }
      if (scales.has(cref.uid)) continue;
      const found = await this.findController(cref, pod.metadata.namespace ?? '');
      if (!found) throw new Error(`found no controllers for pod "${pod.metadata.name}"`);
      scales.set(found.uid, found.scale);
    }
    let expected = 0;
    for (const s of scales.values()) expected += s;
    return { expected, unmanaged };
  }

  /** Upstream's finders, in order: ReplicationController, Deployment (through its ReplicaSet), ReplicaSet, StatefulSet, any scale subresource. */
  private async findController(cref: { apiVersion: string; kind: string; name: string; uid: string }, ns: string): Promise<{ uid: string; scale: number } | undefined> {
    const { ctx, inf, signal } = this;
    const group = groupOf(cref.apiVersion);
    const replicas = (o: KObject) => (o.spec?.replicas ?? 1) as number;
    if (cref.kind === 'ReplicationController' && group === '') {
      const rc = inf.rcs.lister.get(ns, cref.name);
      if (rc && rc.metadata.uid === cref.uid) return { uid: rc.metadata.uid!, scale: replicas(rc) };
    }
    if (cref.kind === 'ReplicaSet' && group === 'apps') {
      const rs = inf.rss.lister.get(ns, cref.name);
      if (rs && rs.metadata.uid === cref.uid) {
        const owner = controllerOf(rs);
        if (owner?.kind === 'Deployment' && groupOf(owner.apiVersion) === 'apps') {
          const d = inf.deployments.lister.get(ns, owner.name);
          if (d && d.metadata.uid === owner.uid) return { uid: d.metadata.uid!, scale: replicas(d) };
        } else {
          return { uid: rs.metadata.uid!, scale: replicas(rs) };
        }
      }
    }
    if (cref.kind === 'StatefulSet' && group === 'apps') {
      const ss = inf.statefulsets.lister.get(ns, cref.name);
      if (ss && ss.metadata.uid === cref.uid) return { uid: ss.metadata.uid!, scale: replicas(ss) };
    }
    // Any other kind: its scale subresource.
    const res = resourceRefForKind(cref.apiVersion, cref.kind);
    if (!res) throw new Error(`no matches for kind "${cref.kind}" in version "${cref.apiVersion}"`);
    try {
      const scale = await ctx.client.get(res, ns, cref.name, { subresource: 'scale', signal });
      if (scale.metadata.uid !== cref.uid) return undefined;
      return { uid: scale.metadata.uid!, scale: scale.spec?.replicas ?? 0 };
    } catch (e) {
      if (isStatusError(e) && e.code === 404) return undefined;
      throw e;
    }
  }

  /** The still-pending evictions of status.disruptedPods, and when the first of them expires. */
  private disruptedPods(pdb: KObject, o: { pods: KObject[]; now: number }): { disrupted: Record<string, string>; recheckAt?: number } {
    const { pods, now } = o;
    const recorded: Record<string, string> = pdb.status?.disruptedPods ?? {};
    const disrupted: Record<string, string> = {};
    let recheckAt: number | undefined;
    for (const pod of pods) {
      if (pod.metadata.deletionTimestamp) continue;
      const t = recorded[pod.metadata.name!];
      if (t === undefined) continue;
      const expires = Date.parse(t) + this.deletionTimeoutMs;
      if (expires < now) {
        this.recorder.eventf(pod, 'Warning', 'NotDeleted', 'Pod was expected by PDB %s/%s to be deleted but it wasn\'t', pdb.metadata.namespace, pdb.metadata.name);
      } else {
        if (recheckAt === undefined || expires < recheckAt) recheckAt = expires;
        disrupted[pod.metadata.name!] = t;
      }
    }
    return { disrupted, recheckAt };
  }

  private async updateStatus(
    pdb: KObject,
    s: { currentHealthy: number; desiredHealthy: number; expectedPods: number; disruptedPods: Record<string, string> },
  ): Promise<void> {
    const { ctx, signal } = this;
    let allowed = s.currentHealthy - s.desiredHealthy;
    // No disruption for a budget without expected pods: its first pods may appear before this controller counts them.
    if (s.expectedPods <= 0 || allowed <= 0) allowed = 0;
    const st = pdb.status ?? {};
    const generation = pdb.metadata.generation ?? 0;
    const cond = (st.conditions ?? []).find((c: any) => c.type === 'DisruptionAllowed');
    const conditionsUpToDate = !!cond && cond.observedGeneration === st.observedGeneration && cond.status === (allowed > 0 ? 'True' : 'False');
    const sameDisrupted = JSON.stringify(sortKeys(st.disruptedPods ?? {})) === JSON.stringify(sortKeys(s.disruptedPods));
    if (
      st.currentHealthy === s.currentHealthy &&
      st.desiredHealthy === s.desiredHealthy &&
      st.expectedPods === s.expectedPods &&
      st.disruptionsAllowed === allowed &&
      sameDisrupted &&
      st.observedGeneration === generation &&
      conditionsUpToDate
    ) {
      return;
    }
    const next = structuredClone(pdb);
    next.status = {
      currentHealthy: s.currentHealthy,
      desiredHealthy: s.desiredHealthy,
      expectedPods: s.expectedPods,
      disruptionsAllowed: allowed,
      observedGeneration: generation,
      conditions: setCondition(
        st.conditions ?? [],
        allowed > 0
          ? { type: 'DisruptionAllowed', status: 'True', reason: 'SufficientPods', message: '', observedGeneration: generation }
          : { type: 'DisruptionAllowed', status: 'False', reason: 'InsufficientPods', message: '', observedGeneration: generation },
      ),
    };
    if (Object.keys(s.disruptedPods).length) next.status.disruptedPods = s.disruptedPods;
    await ctx.client.update(ref.poddisruptionbudgets, pdb.metadata.namespace, next, { subresource: 'status', signal });
  }

  private async failSafe(pdb: KObject, message: string): Promise<void> {
    const { ctx, signal } = this;
    const next = structuredClone(pdb);
    next.status ??= {};
    next.status.disruptionsAllowed = 0;
    next.status.conditions = setCondition(
      next.status.conditions ?? [],
      { type: 'DisruptionAllowed', status: 'False', reason: 'SyncFailed', message, observedGeneration: next.status.observedGeneration },
    );
    try {
      await ctx.client.update(ref.poddisruptionbudgets, pdb.metadata.namespace, next, { subresource: 'status', signal });
    } catch (e) {
      ctx.log('failed to write the fail-safe status of a PodDisruptionBudget', { pdb: keyOf(pdb), error: String((e as Error).message) });
    }
  }
}

function sortKeys(o: Record<string, string>): [string, string][] {
  return Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
