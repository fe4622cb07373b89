// The DaemonSet controller, as upstream's pkg/controller/daemon: one pod on every node
// the DaemonSet's pods belong on (nodeSelector, required node affinity, taints against
// its tolerations and the ones every daemon pod gets), each pinned to its node by a
// required node affinity term on metadata.name so the scheduler binds it there;
// RollingUpdate within maxUnavailable (deleting old pods) or maxSurge (starting new pods
// beside old ones), or OnDelete; ControllerRevisions of the template; status.
//
// Level-triggered: every reconcile maps the daemon pods to nodes from the caches and
// does the difference. Expectations keep a reconcile from acting on a cache that has not
// yet seen this controller's own creates and deletes (pod names are generated, so a
// repeated create would be a second pod).

import type { KObject } from '../../api/object.ts';
import { labelSelectorFromAPI, type LabelSelector } from '../../api/selectors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';
import { keyOf, splitKey, type Logger } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers, type ReconcileResult } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { realClock, type Clock } from '../history/clock.ts';
import {
  availableAt,
  canonicalJSON,
  claimPods,
  clone,
  controllerRefOf,
  Expectations,
  isConflict,
  isNamespaceTerminating,
  isNotFound,
  isPodAvailable,
  isPodReady,
  isTerminating,
  newControllerRef,
  podPhase,
  scaledValue,
  slowStartBatch,
  SLOW_START_INITIAL_BATCH_SIZE,
  timeOf,
} from '../history/pods.ts';
import {
  claimRevisions,
  computeTemplateHash,
  CONTROLLER_REVISION_HASH_LABEL,
  createControllerRevision,
  equalRevision,
  newControllerRevision,
  revisionNumber,
  sortRevisions,
  templatePatch,
  updateRevisionNumber,
} from '../history/revision.ts';
import { daemonPodTolerations, nodeShouldRunDaemonPod, pinToNode, targetNodeName } from './predicates.ts';

const KIND = 'DaemonSet';
const API_VERSION = 'apps/v1';
/** extensions.DaemonSetTemplateGenerationKey: the deprecated pod label with the template generation. */
export const POD_TEMPLATE_GENERATION_LABEL = 'pod-template-generation';
/** The annotation the apiserver keeps on a DaemonSet: its template generation. */
export const DS_TEMPLATE_GENERATION_ANNOTATION = 'deprecated.daemonset.template.generation';
/** Upstream's BurstReplicas: creates and deletes per reconcile. */
const BURST_REPLICAS = 250;

export interface DaemonSetControllerOptions {
  clock?: Clock;
  /** Back-off before deleting a failed daemon pod again on the same node: 1 s doubling to 15 min, as upstream. */
  failedPodBackoffMs?: { initial: number; max: number };
}

/** flowcontrol.Backoff per (DaemonSet, node) for failed pods: a kubelet rejecting pods must not make us hot-loop. */
class FailedPodsBackoff {
  private readonly entries = new Map<string, { delay: number; last: number }>();
  private readonly initial: number;
  private readonly max: number;
  constructor(initial: number, max: number) {
    this.initial = initial;
    this.max = max;
  }
  /** The delay still to wait (0: none). */
  remaining(key: string, now: number): number {
    const e = this.entries.get(key);
    if (!e) return 0;
    return Math.max(0, e.last + e.delay - now);
  }
  next(key: string, now: number): void {
    const e = this.entries.get(key);
    if (!e || now - e.last > 2 * this.max) this.entries.set(key, { delay: this.initial, last: now });
    else this.entries.set(key, { delay: Math.min(e.delay * 2, this.max), last: now });
  }
  gc(now: number): void {
    for (const [k, e] of this.entries) if (now - e.last > 2 * this.max) this.entries.delete(k);
  }
}

function selectorOf(ds: KObject): LabelSelector | undefined {
  try {
    return labelSelectorFromAPI(ds.spec?.selector);
  } catch {
    return undefined;
  }
}

function templateGeneration(ds: KObject): string | undefined {
  const v = ds.metadata.annotations?.[DS_TEMPLATE_GENERATION_ANNOTATION];
  return v !== undefined && /^\d+$/.test(v) ? v : undefined;
}

/** util.IsPodUpdated: the pod carries the current hash (or the current template generation). */
export function isPodUpdated(pod: KObject, hash: string, generation: string | undefined): boolean {
  const labels = pod.metadata.labels ?? {};
  return (hash !== '' && labels[CONTROLLER_REVISION_HASH_LABEL] === hash) || (generation !== undefined && labels[POD_TEMPLATE_GENERATION_LABEL] === generation);
}

/** podByCreationTimestampAndPhase: bound pods first, then oldest first, then by name. */
function compareDaemonPods(a: KObject, b: KObject): number {
  const ba = a.spec?.nodeName ? 0 : 1;
  const bb = b.spec?.nodeName ? 0 : 1;
  if (ba !== bb) return ba - bb;
  const ta = timeOf(a.metadata.creationTimestamp) ?? 0;
  const tb = timeOf(b.metadata.creationTimestamp) ?? 0;
  if (ta !== tb) return ta - tb;
  return String(a.metadata.name) < String(b.metadata.name) ? -1 : 1;
}

interface History {
  current: KObject;
  old: KObject[];
  hash: string;
  collisionCount: number;
}

class DaemonSetSync {
  readonly client: Client;
  readonly recorder: EventRecorder;
  readonly log: Logger;
  readonly clock: Clock;
  readonly sets: Informer;
  readonly pods: Informer;
  readonly nodes: Informer;
  readonly revisions: Informer;
  readonly expectations: Expectations;
  readonly backoff: FailedPodsBackoff;

  constructor(ctx: ControllerContext, opts: DaemonSetControllerOptions) {
    this.client = ctx.client;
    this.recorder = ctx.recorder('daemonset-controller');
    this.log = ctx.log;
    this.clock = opts.clock ?? realClock;
    this.sets = ctx.factory.informerFor(ref.daemonsets);
    this.pods = ctx.factory.informerFor(ref.pods);
    this.nodes = ctx.factory.informerFor(ref.nodes);
    this.revisions = ctx.factory.informerFor(ref.controllerrevisions);
    this.expectations = new Expectations(this.clock);
    this.backoff = new FailedPodsBackoff(opts.failedPodBackoffMs?.initial ?? 1000, opts.failedPodBackoffMs?.max ?? 15 * 60_000);
  }

  ownerKey(obj: KObject): string | undefined {
    const cref = controllerRefOf(obj);
    if (!cref || cref.kind !== KIND) return undefined;
    const ds = this.sets.lister.get(obj.metadata.namespace, cref.name);
    return ds && ds.metadata.uid === cref.uid ? keyOf(ds) : undefined;
  }

  matchingSets(pod: KObject): string[] {
    const out: string[] = [];
    for (const ds of this.sets.lister.list(pod.metadata.namespace)) {
      const sel = selectorOf(ds);
      if (sel && !sel.empty && sel.matches(pod.metadata.labels)) out.push(keyOf(ds));
    }
    return out;
  }

  allSetKeys(): string[] {
    return this.sets.lister.list().map((ds) => keyOf(ds));
  }

  async reconcile(key: string): Promise<ReconcileResult> {
    const { namespace, name } = splitKey(key);
    const ds = this.sets.lister.get(namespace, name);
    if (!ds) {
      this.expectations.delete(key);
      return;
    }
    const selector = selectorOf(ds);
    if (!selector) return;
    if (selector.empty) {
      this.recorder.event(ds, 'Warning', 'SelectingAll', 'This daemon set is selecting all pods. A non-empty selector is required.');
      return;
    }
    // Being deleted: the garbage collector removes its pods; nothing to do.
    if (ds.metadata.deletionTimestamp) return;
    const nodes = this.nodes.lister.list();
    const history = await this.constructHistory(ds, selector);
    let requeueAfterMs: number | undefined;
    const requeueIn = (ms: number) => {
      requeueAfterMs = requeueAfterMs === undefined ? ms : Math.min(requeueAfterMs, ms);
    };
    if (!this.expectations.satisfied(key)) {
      await this.updateStatus(ds, nodes, history, await this.daemonPods(ds, selector), false, requeueIn);
      return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
    }
    let pods = await this.daemonPods(ds, selector);
    const acted = await this.manage(ds, key, nodes, history.hash, pods, requeueIn);
    if (!acted && this.expectations.satisfied(key) && (ds.spec?.updateStrategy?.type ?? 'RollingUpdate') === 'RollingUpdate') {
      await this.rollingUpdate(ds, key, nodes, history.hash, pods);
    }
    await this.cleanupHistory(ds, history, pods);
    pods = await this.daemonPods(ds, selector);
    await this.updateStatus(ds, nodes, history, pods, true, requeueIn);
    this.backoff.gc(this.clock.now());
    return requeueAfterMs !== undefined ? { requeueAfterMs } : undefined;
  }

  /** The DaemonSet's pods (claimed: orphans adopted, non-matching released). */
  private async daemonPods(ds: KObject, selector: LabelSelector): Promise<KObject[]> {
    return await claimPods(this.client, ds, this.pods.lister.list(ds.metadata.namespace), {
      apiVersion: API_VERSION,
      kind: KIND,
      selector,
      canAdopt: async () => {
        try {
          const fresh = await this.client.get(ref.daemonsets, ds.metadata.namespace, ds.metadata.name!);
          return fresh.metadata.uid === ds.metadata.uid && !fresh.metadata.deletionTimestamp;
        } catch (e) {
          if (isNotFound(e)) return false;
          throw e;
        }
      },
    });
  }

  /** getNodesToDaemonPods: daemon pods by the node they are on or pinned to (deleted finished pods left out). */
  private nodeToDaemonPods(pods: KObject[], includeDeletedTerminal = false): Map<string, KObject[]> {
    const m = new Map<string, KObject[]>();
    for (const pod of pods) {
      if (!includeDeletedTerminal && isTerminating(pod) && (podPhase(pod) === 'Failed' || podPhase(pod) === 'Succeeded')) continue;
      const node = targetNodeName(pod);
      if (node === undefined) continue;
      const list = m.get(node);
      if (list) list.push(pod);
      else m.set(node, [pod]);
    }
    return m;
  }

  /**
   * constructHistory: the revision of the current template (created, or an old one
   * re-used and renumbered on rollback) and the old ones. The pods' hash is the
   * template's hash with the collision count.
   */
  private async constructHistory(ds: KObject, selector: LabelSelector): Promise<History> {
    const owned = sortRevisions(await claimRevisions(this.client, this.revisions.lister, ds, selector, { apiVersion: API_VERSION, kind: KIND }));
    let collisionCount = typeof ds.status?.collisionCount === 'number' ? ds.status.collisionCount : 0;
    const template = ds.spec?.template ?? {};
    const maxRevision = owned.reduce((m, r) => Math.max(m, revisionNumber(r)), 0);
    const make = (cc: number) => {
      const hash = computeTemplateHash(template, cc);
      return newControllerRevision(ds, { apiVersion: API_VERSION, kind: KIND, templateLabels: template.metadata?.labels, data: templatePatch(template), revision: maxRevision + 1, hash });
    };
    const wanted = make(collisionCount);
    const hash = wanted.metadata.labels![CONTROLLER_REVISION_HASH_LABEL];
    const matching = owned.filter((r) => r.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] === hash || equalRevision(r, wanted));
    let current: KObject;
    if (matching.length === 0) {
      const created = await createControllerRevision(this.client, wanted, collisionCount, make);
      current = created.revision;
      collisionCount = created.collisionCount;
    } else {
      // Duplicates (possible after a collision) are removed; the newest stays.
      current = matching[matching.length - 1];
      for (const dup of matching.slice(0, -1)) {
        try {
          await this.client.delete(ref.controllerrevisions, dup.metadata.namespace, dup.metadata.name!);
        } catch (e) {
          if (!isNotFound(e)) throw e;
        }
      }
      if (revisionNumber(current) < maxRevision) current = await updateRevisionNumber(this.client, current, maxRevision + 1);
    }
    const old = owned.filter((r) => !matching.includes(r) && r.metadata.name !== current.metadata.name);
    return { current, old, hash: current.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] ?? hash, collisionCount };
  }

  /**
   * manage: a pod for every node that should run one and has none; failed and excess
   * pods deleted; pods on nodes they may no longer run on deleted. Returns true when it
   * asked for creates or deletes (the rolling update waits for the cache to see them).
   */
  private async manage(ds: KObject, key: string, nodes: KObject[], hash: string, pods: KObject[], requeueIn: (ms: number) => void): Promise<boolean> {
    const byNode = this.nodeToDaemonPods(pods);
    const surge = allowsSurge(ds);
    const nodesNeeding: string[] = [];
    const toDelete: KObject[] = [];
    const now = this.clock.now();
    const nodeNames = new Set<string>();
    for (const node of nodes) {
      const nodeName = node.metadata.name!;
      nodeNames.add(nodeName);
      const { shouldRun, shouldContinueRunning } = nodeShouldRunDaemonPod(node, ds);
      const daemonPods = byNode.get(nodeName) ?? [];
      if (shouldRun && daemonPods.length === 0) {
        nodesNeeding.push(nodeName);
      } else if (shouldContinueRunning) {
        const running: KObject[] = [];
        for (const pod of daemonPods) {
          if (isTerminating(pod)) continue;
          if (podPhase(pod) === 'Failed') {
            const bkey = `${ds.metadata.uid}/${nodeName}`;
            const wait = this.backoff.remaining(bkey, now);
            if (wait > 0) {
              requeueIn(wait);
              continue;
            }
            this.backoff.next(bkey, now);
            this.recorder.eventf(ds, 'Warning', 'FailedDaemonPod', 'Found failed daemon pod %s/%s on node %s, will try to kill it', pod.metadata.namespace, pod.metadata.name, nodeName);
            toDelete.push(pod);
          } else if (podPhase(pod) === 'Succeeded') {
            toDelete.push(pod);
          } else {
            running.push(pod);
          }
        }
        if (running.length <= 1) continue;
        running.sort(compareDaemonPods);
        if (!surge) {
          toDelete.push(...running.slice(1));
          continue;
        }
        // With surge, one new and one old pod may share a node; anything more goes.
        let newest: KObject | undefined;
        let oldest: KObject | undefined;
        for (const pod of running) {
          if (pod.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] === hash) {
            if (!newest) {
              newest = pod;
              continue;
            }
          } else if (!oldest) {
            oldest = pod;
            continue;
          }
          toDelete.push(pod);
        }
      } else if (daemonPods.length > 0) {
        for (const pod of daemonPods) if (!isTerminating(pod)) toDelete.push(pod);
      }
    }
    // Pods pinned to nodes that no longer exist never get scheduled: the pod GC would not see them.
    for (const [nodeName, list] of byNode) {
      if (nodeNames.has(nodeName)) continue;
      for (const pod of list) if (!pod.spec?.nodeName && !isTerminating(pod)) toDelete.push(pod);
    }
    await this.syncNodes(ds, key, toDelete, nodesNeeding, hash);
    return toDelete.length > 0 || nodesNeeding.length > 0;
  }

  /** syncNodes: creates pods for `nodesNeeding` (slow start) and deletes `toDelete`, under expectations. */
  private async syncNodes(ds: KObject, key: string, toDelete: KObject[], nodesNeeding: string[], hash: string): Promise<void> {
    const creates = nodesNeeding.slice(0, BURST_REPLICAS);
    const deletes = toDelete.slice(0, BURST_REPLICAS);
    if (creates.length === 0 && deletes.length === 0) return;
    this.expectations.expectCreations(key, creates.length);
    this.expectations.expectDeletions(key, deletes.length);
    const template = clone(ds.spec?.template ?? {});
    const tm = template.metadata ?? {};
    const labels: Record<string, string> = { ...(tm.labels ?? {}) };
    const generation = templateGeneration(ds);
    if (generation !== undefined) labels[POD_TEMPLATE_GENERATION_LABEL] = generation;
    labels[CONTROLLER_REVISION_HASH_LABEL] = hash;
    const spec = { ...(template.spec ?? {}) };
    spec.tolerations = daemonPodTolerations(spec);
    const errors: unknown[] = [];

    const { attempted, error } = await slowStartBatch(creates.length, SLOW_START_INITIAL_BATCH_SIZE, async (i) => {
      const pod: KObject = {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: `${ds.metadata.name}-`,
          namespace: ds.metadata.namespace,
          labels,
          ...(tm.annotations ? { annotations: tm.annotations } : {}),
          ...(tm.finalizers ? { finalizers: tm.finalizers } : {}),
          ownerReferences: [newControllerRef(ds, API_VERSION, KIND)],
        },
        spec: { ...clone(spec), affinity: pinToNode(spec.affinity, creates[i]) },
      };
      try {
        const created = await this.client.create(ref.pods, ds.metadata.namespace, pod);
        this.recorder.eventf(ds, 'Normal', 'SuccessfulCreate', 'Created pod: %s', created.metadata.name);
      } catch (e) {
        this.expectations.creationObserved(key);
        if (isNamespaceTerminating(e)) return;
        this.recorder.eventf(ds, 'Warning', 'FailedCreate', 'Error creating: %s', e);
        throw e;
      }
    });
    if (error) {
      errors.push(error);
      // Creates never attempted are not expected either.
      for (let i = attempted; i < creates.length; i++) this.expectations.creationObserved(key);
    }

    await Promise.all(
      deletes.map(async (pod) => {
        try {
          await this.client.delete(ref.pods, pod.metadata.namespace, pod.metadata.name!, { preconditions: { uid: pod.metadata.uid } });
          this.recorder.eventf(ds, 'Normal', 'SuccessfulDelete', 'Deleted pod: %s', pod.metadata.name);
        } catch (e) {
          this.expectations.deletionObserved(key);
          if (isNotFound(e) || isConflict(e)) return;
          this.recorder.eventf(ds, 'Warning', 'FailedDelete', 'Error deleting: %s', e);
          errors.push(e);
        }
      }),
    );
    if (errors.length) throw errors[0];
  }

  /** updatedDesiredNodeCounts: maxSurge and maxUnavailable as counts of the nodes that should run a pod. */
  private desiredCounts(ds: KObject, nodes: KObject[], byNode: Map<string, KObject[]>): { maxSurge: number; maxUnavailable: number; desired: number } {
    let desired = 0;
    for (const node of nodes) {
      if (!nodeShouldRunDaemonPod(node, ds).shouldRun) continue;
      desired++;
      if (!byNode.has(node.metadata.name!)) byNode.set(node.metadata.name!, []);
    }
    const ru = ds.spec?.updateStrategy?.rollingUpdate ?? {};
    let maxUnavailable = scaledValue(ru.maxUnavailable ?? 1, desired, true);
    const maxSurge = scaledValue(ru.maxSurge ?? 0, desired, true);
    if (desired > 0 && maxUnavailable === 0 && maxSurge === 0) maxUnavailable = 1;
    return { maxSurge, maxUnavailable, desired };
  }

  /** findUpdatedPodsOnNode: at most one new and one old live pod, else not ok (manage cleans up). */
  private updatedPodsOnNode(ds: KObject, pods: KObject[], hash: string): { newPod?: KObject; oldPod?: KObject; ok: boolean } {
    let newPod: KObject | undefined;
    let oldPod: KObject | undefined;
    const gen = templateGeneration(ds);
    for (const pod of pods) {
      if (isTerminating(pod)) continue;
      if (isPodUpdated(pod, hash, gen)) {
        if (newPod) return { ok: false };
        newPod = pod;
      } else {
        if (oldPod) return { ok: false };
        oldPod = pod;
      }
    }
    return { newPod, oldPod, ok: true };
  }

  /** rollingUpdate: replace old pods within maxUnavailable, or surge new ones within maxSurge. */
  private async rollingUpdate(ds: KObject, key: string, nodes: KObject[], hash: string, pods: KObject[]): Promise<void> {
    const byNode = this.nodeToDaemonPods(pods);
    const { maxSurge, maxUnavailable, desired } = this.desiredCounts(ds, nodes, byNode);
    const minReady = typeof ds.spec?.minReadySeconds === 'number' ? ds.spec.minReadySeconds : 0;
    const now = this.clock.now();
    const available = (p: KObject) => isPodAvailable(p, minReady, now);
    const nodeByName = new Map(nodes.map((n) => [n.metadata.name!, n]));

    if (maxSurge === 0) {
      // Delete just enough old pods to stay within maxUnavailable; manage creates their replacements.
      let numUnavailable = 0;
      const allowed: KObject[] = [];
      const candidates: KObject[] = [];
      for (const [, list] of byNode) {
        const { newPod, oldPod, ok } = this.updatedPodsOnNode(ds, list, hash);
        if (!ok) {
          numUnavailable++;
          continue;
        }
        if ((!oldPod && !newPod) || (oldPod && newPod)) {
          numUnavailable++;
        } else if (newPod) {
          if (!available(newPod)) numUnavailable++;
        } else if (oldPod) {
          if (!available(oldPod)) {
            allowed.push(oldPod);
            numUnavailable++;
          } else if (numUnavailable < maxUnavailable) {
            candidates.push(oldPod);
          }
        }
      }
      const remaining = Math.min(Math.max(0, maxUnavailable - numUnavailable), candidates.length);
      await this.syncNodes(ds, key, [...allowed, ...candidates.slice(0, remaining)], [], hash);
      return;
    }

    // Surge: a new pod beside each old one (up to maxSurge at once); the old goes once the new is available.
    const oldToDelete: KObject[] = [];
    const shouldNotRunToDelete: KObject[] = [];
    const candidateNodes: string[] = [];
    const allowedNodes: string[] = [];
    let numSurge = 0;
    let numAvailable = 0;
    for (const [nodeName, list] of byNode) {
      const { newPod, oldPod, ok } = this.updatedPodsOnNode(ds, list, hash);
      if (!ok) {
        numSurge++;
        continue;
      }
      if (oldPod) {
        if (available(oldPod)) numAvailable++;
      } else if (newPod && available(newPod)) numAvailable++;
      if (!oldPod) continue;
      const node = nodeByName.get(nodeName);
      const shouldRun = node ? nodeShouldRunDaemonPod(node, ds).shouldRun : false;
      if (!newPod) {
        if (!available(oldPod)) {
          if (!shouldRun) {
            oldToDelete.push(oldPod);
            continue;
          }
          allowedNodes.push(nodeName);
        } else {
          if (!shouldRun) {
            shouldNotRunToDelete.push(oldPod);
            continue;
          }
          if (numSurge >= maxSurge) continue;
          candidateNodes.push(nodeName);
        }
      } else {
        if (!available(newPod)) {
          numSurge++;
          continue;
        }
        oldToDelete.push(oldPod);
      }
    }
    // Pods on nodes they no longer belong on go only as pods elsewhere become available.
    const deletable = Math.min(Math.max(0, numAvailable - desired), shouldNotRunToDelete.length);
    oldToDelete.push(...shouldNotRunToDelete.slice(0, deletable));
    const remainingSurge = Math.min(Math.max(0, maxSurge - numSurge), candidateNodes.length);
    await this.syncNodes(ds, key, oldToDelete, [...allowedNodes, ...candidateNodes.slice(0, remainingSurge)], hash);
  }

  /** cleanupHistory: old revisions beyond revisionHistoryLimit whose hash no pod carries. */
  private async cleanupHistory(ds: KObject, history: History, pods: KObject[]): Promise<void> {
    const limit = typeof ds.spec?.revisionHistoryLimit === 'number' ? ds.spec.revisionHistoryLimit : 10;
    let toKill = history.old.length - limit;
    if (toKill <= 0) return;
    const liveHashes = new Set(pods.map((p) => p.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL]).filter(Boolean));
    for (const rev of sortRevisions(history.old)) {
      if (toKill <= 0) break;
      if (liveHashes.has(rev.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL])) continue;
      try {
        await this.client.delete(ref.controllerrevisions, rev.metadata.namespace, rev.metadata.name!);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      toKill--;
    }
  }

  /** updateDaemonSetStatus. */
  private async updateStatus(ds: KObject, nodes: KObject[], history: History, pods: KObject[], observed: boolean, requeueIn: (ms: number) => void): Promise<void> {
    const byNode = this.nodeToDaemonPods(pods);
    const minReady = typeof ds.spec?.minReadySeconds === 'number' ? ds.spec.minReadySeconds : 0;
    const now = this.clock.now();
    const gen = templateGeneration(ds);
    let desired = 0;
    let current = 0;
    let misscheduled = 0;
    let ready = 0;
    let updated = 0;
    let available = 0;
    for (const node of nodes) {
      const { shouldRun } = nodeShouldRunDaemonPod(node, ds);
      const list = byNode.get(node.metadata.name!) ?? [];
      const scheduled = list.length > 0;
      if (shouldRun) {
        desired++;
        if (!scheduled) continue;
        current++;
        const pod = [...list].sort(compareDaemonPods)[0];
        if (isPodReady(pod)) {
          ready++;
          if (isPodAvailable(pod, minReady, now)) available++;
          else {
            const at = availableAt(pod, minReady);
            if (at !== undefined) requeueIn(Math.max(1, at - now));
          }
        }
        if (isPodUpdated(pod, history.hash, gen)) updated++;
      } else if (scheduled) {
        misscheduled++;
      }
    }
    const prev = ds.status ?? {};
    const status: Record<string, any> = {
      currentNumberScheduled: current,
      numberMisscheduled: misscheduled,
      desiredNumberScheduled: desired,
      numberReady: ready,
      observedGeneration: observed ? ds.metadata.generation : prev.observedGeneration,
      updatedNumberScheduled: updated,
      numberAvailable: available,
      numberUnavailable: desired - available,
      collisionCount: history.collisionCount,
    };
    if (prev.conditions) status.conditions = prev.conditions;
    for (const k of ['observedGeneration', 'updatedNumberScheduled', 'numberAvailable', 'numberUnavailable', 'collisionCount']) if (!status[k]) delete status[k];
    if (canonicalJSON(status) === canonicalJSON(prev)) return;
    let target = ds;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.client.update(ref.daemonsets, ds.metadata.namespace, { ...target, status }, { subresource: 'status' });
        return;
      } catch (e) {
        if (isNotFound(e)) return;
        if (!isConflict(e) || attempt === 2) throw e;
        target = await this.client.get(ref.daemonsets, ds.metadata.namespace, ds.metadata.name!);
        if (target.metadata.uid !== ds.metadata.uid) return;
      }
    }
  }
}

function allowsSurge(ds: KObject): boolean {
  const s = ds.spec?.updateStrategy ?? {};
  if ((s.type ?? 'RollingUpdate') !== 'RollingUpdate') return false;
  const v = s.rollingUpdate?.maxSurge;
  return v !== undefined && v !== 0 && v !== '0' && v !== '0%';
}

/** Node changes that can change where daemon pods belong (not heartbeats). */
function nodeChangeMatters(a: KObject, b: KObject): boolean {
  if (canonicalJSON(a.metadata.labels ?? {}) !== canonicalJSON(b.metadata.labels ?? {})) return true;
  if (canonicalJSON(a.spec?.taints ?? []) !== canonicalJSON(b.spec?.taints ?? [])) return true;
  if (!!a.spec?.unschedulable !== !!b.spec?.unschedulable) return true;
  const conds = (n: KObject) => canonicalJSON(((n.status?.conditions ?? []) as { type: string; status: string }[]).map((c) => [c.type, c.status]));
  return conds(a) !== conds(b);
}

export function newDaemonSetController(opts: DaemonSetControllerOptions = {}): Controller {
  return {
    name: 'daemonset',
    start(ctx: ControllerContext, signal: AbortSignal): Promise<void> {
      const s = new DaemonSetSync(ctx, opts);
      const queue = new RateLimitingQueue<string>({ name: 'daemonset' });
      const enqueueSet = (o: KObject) => queue.add(keyOf(o));
      s.sets.addEventHandler({ onAdd: enqueueSet, onUpdate: (_o, n) => enqueueSet(n), onDelete: enqueueSet });
      const podDeleted = (pod: KObject) => {
        const owner = s.ownerKey(pod);
        if (!owner) return;
        s.expectations.deletionObserved(owner);
        queue.add(owner);
      };
      s.pods.addEventHandler({
        onAdd: (pod) => {
          if (isTerminating(pod)) return podDeleted(pod);
          const owner = s.ownerKey(pod);
          if (owner) {
            s.expectations.creationObserved(owner);
            queue.add(owner);
          } else if (!controllerRefOf(pod)) {
            for (const k of s.matchingSets(pod)) queue.add(k);
          }
        },
        onUpdate: (old, cur) => {
          if (old.metadata.resourceVersion === cur.metadata.resourceVersion) return;
          if (isTerminating(cur) && !isTerminating(old)) return podDeleted(cur);
          const oldOwner = s.ownerKey(old);
          const owner = s.ownerKey(cur);
          if (oldOwner && oldOwner !== owner) queue.add(oldOwner);
          if (owner) queue.add(owner);
          else if (!controllerRefOf(cur)) for (const k of s.matchingSets(cur)) queue.add(k);
        },
        onDelete: (pod) => {
          // A pod already counted when its deletion started is counted again here, harmlessly (upstream does the same).
          podDeleted(pod);
        },
      });
      const all = () => {
        for (const k of s.allSetKeys()) queue.add(k);
      };
      s.nodes.addEventHandler({
        onAdd: all,
        onUpdate: (old, cur) => {
          if (nodeChangeMatters(old, cur)) all();
        },
        onDelete: all,
      });
      const onRevision = (rev: KObject) => {
        const owner = s.ownerKey(rev);
        if (owner) queue.add(owner);
      };
      s.revisions.addEventHandler({ onAdd: onRevision, onUpdate: (_o, n) => onRevision(n), onDelete: onRevision });
      return (async () => {
        if (!(await ctx.factory.waitForSync(signal))) return;
        await runWorkers(queue, ctx.workers, (key) => s.reconcile(key), signal, { log: ctx.log });
      })();
    },
  };
}

/** The DaemonSet controller with the real clock. */
export const daemonSetController: Controller = newDaemonSetController();
