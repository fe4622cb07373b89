// DefaultPreemption: when no node fits a pod, find a node where evicting lower-priority
// pods makes it fit, evict them gracefully and nominate the node (status.nominatedNodeName)
// so the pod lands there once they are gone. As upstream's preemption.Evaluator:
//   1. The pod must be eligible: not preemptionPolicy Never, and not already waiting for
//      victims terminating on its nominated node.
//   2. Candidates: nodes that failed only with Unschedulable (not ...AndUnresolvable),
//      dry-run from a random offset until max(10% of them, 100) candidates are found. On
//      each, remove every lower-priority pod; if the pod then fits, add back ("reprieve")
//      as many as possible, most important first, PDB-protected ones before others.
//   3. Choose the node with the fewest PDB violations, then the lowest highest victim
//      priority, the smallest priority sum, the fewest victims, the latest start of its
//      highest-priority victims.
//   4. Victims get the DisruptionTarget condition (PreemptionByScheduler), a Preempted
//      event, and a DELETE with their own grace period; lower-priority pods nominated to
//      the node lose the nomination. The pod stays gated (PreEnqueue) until these calls end.

import { labelSelectorFromAPI } from '../../api/selectors.ts';
import { isStatusError } from '../../api/errors.ts';
import { ref } from '../../client/resources.ts';
import type { KObject } from '../../api/object.ts';
import type { CycleState, Handle, NodeToStatus as NodeToStatusT, PostFilterPlugin, PostFilterResult, PreEnqueuePlugin } from '../framework/interface.ts';
import { NodeToStatus } from '../framework/interface.ts';
import type { Pod } from '../framework/api.ts';
import { fitErrorMessage } from '../framework/fiterror.ts';
import { Status, unresolvable } from '../framework/status.ts';
import type { NodeInfo, PodInfo } from '../framework/types.ts';
import { names } from './names.ts';

export interface DefaultPreemptionArgs {
  minCandidateNodesPercentage?: number;
  minCandidateNodesAbsolute?: number;
}

export const MSG_NOT_HELPFUL = 'Preemption is not helpful for scheduling';
export const MSG_NO_VICTIMS = 'No preemption victims found for incoming pod';
const MAX_INT32 = 2 ** 31 - 1;

export interface Candidate {
  name: string;
  victims: PodInfo[];
  numPDBViolations: number;
}

/** Pod start time for ordering victims: status.startTime, else "now" (not started yet). */
function startTime(p: Pod): number {
  const t = p.status?.startTime ? Date.parse(p.status.startTime) : NaN;
  return Number.isNaN(t) ? Date.now() : t;
}

/** util.MoreImportantPod: higher priority, then the one that started earlier. */
export function moreImportantPod(a: PodInfo, b: PodInfo): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  return startTime(a.pod) < startTime(b.pod);
}

function podTerminatingByPreemption(p: Pod): boolean {
  if (!p.metadata.deletionTimestamp) return false;
  const c = (p.status?.conditions ?? []).find((x) => x.type === 'DisruptionTarget');
  return !!c && c.status === 'True' && c.reason === 'PreemptionByScheduler';
}

/** Splits `pods` (order kept) into those whose eviction would exceed a PDB's disruptionsAllowed and the rest. */
export function filterPodsWithPDBViolation(pods: PodInfo[], pdbs: readonly KObject[]): { violating: PodInfo[]; nonViolating: PodInfo[] } {
  const allowed = pdbs.map((p) => Number(p.status?.disruptionsAllowed ?? 0));
  const selectors = pdbs.map((p) => {
    try {
      return labelSelectorFromAPI(p.spec?.selector);
    } catch {
      return undefined;
    }
  });
  const violating: PodInfo[] = [];
  const nonViolating: PodInfo[] = [];
  for (const pi of pods) {
    let violated = false;
    if (Object.keys(pi.labels).length > 0) {
      for (let i = 0; i < pdbs.length; i++) {
        const pdb = pdbs[i];
        if (pdb.metadata.namespace !== pi.namespace) continue;
        const sel = selectors[i];
        // A PDB with a nil or empty selector matches nothing.
        if (!sel || sel.empty || sel.nothing || !sel.matches(pi.labels)) continue;
        if (pdb.status?.disruptedPods && Object.hasOwn(pdb.status.disruptedPods, pi.name)) continue;
        allowed[i]--;
        if (allowed[i] < 0) violated = true;
      }
    }
    (violated ? violating : nonViolating).push(pi);
  }
  return { violating, nonViolating };
}

/** pickOneNodeForPreemption: the criteria in order, the first node left on a tie. */
export function pickOneNodeForPreemption(candidates: readonly Candidate[]): Candidate | undefined {
  if (candidates.length === 0) return undefined;
  const highestStart = (c: Candidate) => {
    // The earliest start among the victims of the highest priority.
    const top = c.victims[0].priority;
    let earliest = Infinity;
    for (const v of c.victims) if (v.priority === top) earliest = Math.min(earliest, startTime(v.pod));
    return earliest;
  };
  const scoreFuncs: ((c: Candidate) => number)[] = [
    (c) => -c.numPDBViolations,
    (c) => -c.victims[0].priority,
    (c) => -c.victims.reduce((s, v) => s + v.priority + MAX_INT32 + 1, 0),
    (c) => -c.victims.length,
    (c) => highestStart(c),
  ];
  let all = [...candidates];
  for (const f of scoreFuncs) {
    let max = -Infinity;
    let selected: Candidate[] = [];
    for (const c of all) {
      const s = f(c);
      if (s > max) {
        max = s;
        selected = [];
      }
      if (s === max) selected.push(c);
    }
    if (selected.length === 1) return selected[0];
    all = selected;
  }
  return all[0];
}

export class DefaultPreemption implements PostFilterPlugin, PreEnqueuePlugin {
  readonly name = names.DefaultPreemption;
  private readonly handle: Handle;
  private readonly minPercentage: number;
  private readonly minAbsolute: number;
  /** Pods whose victims' API calls are still under way. */
  private readonly preempting = new Set<string>();
  /** Dry runs start here (tests pin it). */
  offsetRand: (n: number) => number = (n) => Math.floor(Math.random() * n);

  constructor(args: DefaultPreemptionArgs = {}, handle: Handle) {
    this.handle = handle;
    this.minPercentage = args.minCandidateNodesPercentage ?? 10;
    this.minAbsolute = args.minCandidateNodesAbsolute ?? 100;
    if (this.minPercentage < 0 || this.minPercentage > 100) throw new Error('DefaultPreemption: minCandidateNodesPercentage: Invalid value: not in valid range [0, 100]');
    if (this.minAbsolute < 0) throw new Error('DefaultPreemption: minCandidateNodesAbsolute: Invalid value: not in valid range [0, inf)');
    if (this.minPercentage === 0 && this.minAbsolute === 0) throw new Error('DefaultPreemption: minCandidateNodesPercentage and minCandidateNodesAbsolute cannot both be zero');
  }

  preEnqueue(pi: PodInfo): Status | undefined {
    if (this.preempting.has(pi.uid)) return unresolvable('waiting for the preemption for this pod to be finished');
    return undefined;
  }

  postFilter(state: CycleState, pi: PodInfo, m: NodeToStatusT): { result?: PostFilterResult; status?: Status } {
    const { result, status } = this.preempt(state, pi, m);
    if (status && status.message) return { result, status: new Status(status.code, [`preemption: ${status.message}`], { plugin: this.name }) };
    return { result, status };
  }

  /** The number of candidates the dry run looks for among `numNodes` potential nodes. */
  calculateNumCandidates(numNodes: number): number {
    let n = Math.trunc((numNodes * this.minPercentage) / 100);
    if (n < this.minAbsolute) n = this.minAbsolute;
    if (n > numNodes) n = numNodes;
    return n;
  }

  private preempt(state: CycleState, pi0: PodInfo, m: NodeToStatusT): { result?: PostFilterResult; status?: Status } {
    const latest = this.handle.listers.pods?.get(pi0.namespace, pi0.name);
    const pi = latest && latest.metadata.uid === pi0.pod.metadata.uid && latest !== pi0.pod ? pi0.withPod(latest) : pi0;
    const eligible = this.podEligibleToPreemptOthers(pi, m);
    if (eligible) return { status: new Status('Unschedulable', [eligible]) };

    const all = this.handle.snapshot().list();
    const potential = m.nodesForStatusCode(all, 'Unschedulable');
    const notHelpful = (statuses: NodeToStatus) => {
      statuses.absentNodesStatus = unresolvable(MSG_NOT_HELPFUL);
      return { result: { nominatedNodeName: '' }, status: new Status('Unschedulable', [fitErrorMessage({ numAllNodes: all.length, statuses })]) };
    };
    if (potential.length === 0) return notHelpful(new NodeToStatus());

    const pdbs = this.handle.listers.poddisruptionbudgets?.list() ?? [];
    const offset = this.offsetRand(potential.length);
    const { candidates, statuses } = this.dryRunPreemption(state, pi, potential, pdbs, offset, this.calculateNumCandidates(potential.length));
    if (candidates.length === 0) return notHelpful(statuses);

    const best = pickOneNodeForPreemption(candidates);
    if (!best) return { status: new Status('Unschedulable', ['no candidate node for preemption']) };
    this.prepareCandidate(best, pi);
    return { result: { nominatedNodeName: best.name } };
  }

  /** '' when eligible, else the reason. */
  private podEligibleToPreemptOthers(pi: PodInfo, m: NodeToStatusT): string {
    if (this.handle.preemptionPolicyOf(pi.pod) === 'Never') return 'not eligible due to preemptionPolicy=Never.';
    const nnn = pi.pod.status?.nominatedNodeName;
    if (nnn) {
      if (m.get(nnn).code === 'UnschedulableAndUnresolvable') return '';
      const nodeInfo = this.handle.snapshot().get(nnn);
      if (nodeInfo) {
        for (const p of nodeInfo.pods) {
          if (p.priority < pi.priority && podTerminatingByPreemption(p.pod)) return 'not eligible due to a terminating pod on the nominated node.';
        }
      }
    }
    return '';
  }

  dryRunPreemption(
    state: CycleState,
    pi: PodInfo,
    potential: readonly NodeInfo[],
    pdbs: readonly KObject[],
    offset: number,
    numCandidates: number,
  ): { candidates: Candidate[]; statuses: NodeToStatus } {
    const nonViolating: Candidate[] = [];
    const violating: Candidate[] = [];
    const statuses = new NodeToStatus();
    for (let i = 0; i < potential.length; i++) {
      const nodeInfo = potential[(offset + i) % potential.length].clone();
      const { victims, numPDBViolations, status } = this.selectVictimsOnNode(state.clone(), pi, nodeInfo, pdbs);
      if (!status && victims.length > 0) {
        const c = { name: nodeInfo.name, victims, numPDBViolations };
        if (numPDBViolations === 0) {
          if (nonViolating.length < numCandidates) nonViolating.push(c);
        } else if (violating.length < numCandidates) violating.push(c);
        if (nonViolating.length > 0 && nonViolating.length + violating.length >= numCandidates) break;
        continue;
      }
      statuses.set(nodeInfo.name, status ?? new Status('Error', [`expected at least one victim pod on node "${nodeInfo.name}"`]));
    }
    return { candidates: [...nonViolating, ...violating], statuses };
  }

  /** The fewest lower-priority pods on `nodeInfo` (a copy) whose eviction lets the pod fit. */
  selectVictimsOnNode(state: CycleState, pi: PodInfo, nodeInfo: NodeInfo, pdbs: readonly KObject[]): { victims: PodInfo[]; numPDBViolations: number; status?: Status } {
    const h = this.handle;
    const remove = (v: PodInfo) => {
      nodeInfo.removePod(v.uid);
      h.runPreFilterExtensionRemovePod(state, pi, v, nodeInfo);
    };
    const add = (v: PodInfo) => {
      nodeInfo.addPod(v);
      h.runPreFilterExtensionAddPod(state, pi, v, nodeInfo);
    };
    const potential = nodeInfo.pods.filter((p) => p.priority < pi.priority);
    for (const v of potential) remove(v);
    if (potential.length === 0) return { victims: [], numPDBViolations: 0, status: unresolvable(MSG_NO_VICTIMS) };
    const fits = h.runFilterPluginsWithNominatedPods(state, pi, nodeInfo);
    if (fits) return { victims: [], numPDBViolations: 0, status: fits };
    potential.sort((a, b) => (moreImportantPod(a, b) ? -1 : moreImportantPod(b, a) ? 1 : 0));
    const { violating, nonViolating } = filterPodsWithPDBViolation(potential, pdbs);
    const victims: PodInfo[] = [];
    let numViolating = 0;
    const reprieve = (v: PodInfo): boolean => {
      add(v);
      const s = h.runFilterPluginsWithNominatedPods(state, pi, nodeInfo);
      if (s) {
        remove(v);
        victims.push(v);
        return false;
      }
      return true;
    };
    for (const v of violating) if (!reprieve(v)) numViolating++;
    for (const v of nonViolating) reprieve(v);
    if (violating.length && nonViolating.length) victims.sort((a, b) => (moreImportantPod(a, b) ? -1 : moreImportantPod(b, a) ? 1 : 0));
    return { victims, numPDBViolations: numViolating };
  }

  /** Evicts the victims and clears lower-priority nominations on the node, in the background. */
  private prepareCandidate(c: Candidate, preemptor: PodInfo): void {
    const h = this.handle;
    const client = h.client;
    const lower = h.nominator.nominatedPodsForNode(c.name).filter((p) => p.priority < preemptor.priority);
    const victims = c.victims.filter((v) => !v.pod.metadata.deletionTimestamp);
    if (!client || (victims.length === 0 && lower.length === 0)) return;
    this.preempting.add(preemptor.uid);
    const schedulerName = preemptor.pod.spec.schedulerName || 'default-scheduler';
    const work = async () => {
      await Promise.all(
        victims.map(async (v) => {
          const condition = {
            type: 'DisruptionTarget',
            status: 'True',
            reason: 'PreemptionByScheduler',
            message: `${schedulerName}: preempting to accommodate a higher priority pod`,
            lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
          };
          try {
            await client.patch(ref.pods, v.namespace, v.name, 'strategic', { status: { conditions: [condition] } }, { subresource: 'status' });
            await client.delete(ref.pods, v.namespace, v.name, { preconditions: { uid: v.uid } });
          } catch (e) {
            if (!(isStatusError(e) && (e.code === 404 || e.code === 409))) throw e;
            return;
          }
          h.recorder.eventf(v.pod, 'Normal', 'Preempted', 'Preempted by pod %v on node %v', preemptor.uid, c.name);
        }),
      );
      await Promise.all(
        lower
          .filter((p) => p.pod.status?.nominatedNodeName)
          .map((p) => client.patch(ref.pods, p.namespace, p.name, 'merge', { status: { nominatedNodeName: null } }, { subresource: 'status' }).catch(() => undefined)),
      );
    };
    work()
      .catch((e) => h.log('preemption failed', { pod: preemptor.key, node: c.name, error: String((e as Error)?.message ?? e) }))
      .finally(() => {
        this.preempting.delete(preemptor.uid);
        this.onPreemptionDone?.(preemptor);
      });
  }

  /** Set by the scheduler: re-runs the queue's PreEnqueue for a pod whose preemption ended. */
  onPreemptionDone: ((pi: PodInfo) => void) | undefined;
}
