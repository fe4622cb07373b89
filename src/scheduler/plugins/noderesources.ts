// NodeResourcesFit and NodeResourcesBalancedAllocation.
//
// Fit filters nodes by allocatable minus what their pods request (containers, init
// containers, sidecars and overhead; "Too many pods" past allocatable pods) and scores
// them with one strategy: LeastAllocated (default: emptier is better), MostAllocated
// (bin packing) or RequestedToCapacityRatio (a piecewise-linear shape). Scoring counts a
// container without a cpu or memory request as 100m / 200Mi, as upstream does, so that
// request-less pods still spread. A request larger than a node's whole allocatable is
// UnschedulableAndUnresolvable (preemption cannot help); otherwise Unschedulable.
//
// BalancedAllocation prefers nodes whose cpu and memory fractions stay close together
// after placing the pod: score = (1 - standard deviation of the fractions) · 100.

import type { ClusterEventWithHint, CycleState, EnqueueExtensions, FilterPlugin, Handle, PreFilterPlugin, PreScorePlugin, ScorePlugin, StateData } from '../framework/interface.ts';
import { ActionType, StateRef } from '../framework/interface.ts';
import type { Node, Pod } from '../framework/api.ts';
import { MAX_NODE_SCORE, Status, skip } from '../framework/status.ts';
import { CPU, EPHEMERAL_STORAGE, MEMORY, Resource, computePodRequests, isExtendedResourceName, isScalarResourceName, type NodeInfo, type PodInfo } from '../framework/types.ts';
import { idiv } from './helper.ts';
import { names } from './names.ts';

export interface ResourceSpec {
  name: string;
  weight: number;
}

export interface UtilizationShapePoint {
  utilization: number;
  score: number;
}

export type ScoringStrategyType = 'LeastAllocated' | 'MostAllocated' | 'RequestedToCapacityRatio';

export interface NodeResourcesFitArgs {
  ignoredResources?: string[];
  ignoredResourceGroups?: string[];
  scoringStrategy?: {
    type?: ScoringStrategyType;
    resources?: ResourceSpec[];
    requestedToCapacityRatio?: { shape: UtilizationShapePoint[] };
  };
}

export interface NodeResourcesBalancedAllocationArgs {
  resources?: ResourceSpec[];
}

export const DEFAULT_RESOURCES: ResourceSpec[] = [
  { name: CPU, weight: 1 },
  { name: MEMORY, weight: 1 },
];

/** config.MaxCustomPriorityScore: shape scores are 0..10, scaled to 0..100. */
const MAX_CUSTOM_PRIORITY_SCORE = 10;
const MAX_UTILIZATION = 100;

// ---- the filter ---------------------------------------------------------------------

export interface InsufficientResource {
  resourceName: string;
  reason: string;
  requested: number;
  used: number;
  capacity: number;
  /** The request exceeds the node's whole allocatable: no preemption can make it fit. */
  unresolvable: boolean;
}

/** fitsRequest: what the node lacks for `req`, in upstream's order (pods, cpu, memory, ephemeral-storage, scalars). */
export function fitsRequest(req: Resource, nodeInfo: NodeInfo, ignored: ReadonlySet<string> = EMPTY_SET, ignoredGroups: ReadonlySet<string> = EMPTY_SET): InsufficientResource[] {
  const out: InsufficientResource[] = [];
  const a = nodeInfo.allocatable;
  const used = nodeInfo.requested;
  if (nodeInfo.pods.length + 1 > a.allowedPodNumber) {
    out.push({ resourceName: 'pods', reason: 'Too many pods', requested: 1, used: nodeInfo.pods.length, capacity: a.allowedPodNumber, unresolvable: false });
  }
  if (req.milliCPU === 0 && req.memory === 0 && req.ephemeralStorage === 0 && (!req.scalar || req.scalar.size === 0)) return out;
  if (req.milliCPU > 0 && req.milliCPU > a.milliCPU - used.milliCPU) {
    out.push({ resourceName: CPU, reason: 'Insufficient cpu', requested: req.milliCPU, used: used.milliCPU, capacity: a.milliCPU, unresolvable: req.milliCPU > a.milliCPU });
  }
  if (req.memory > 0 && req.memory > a.memory - used.memory) {
    out.push({ resourceName: MEMORY, reason: 'Insufficient memory', requested: req.memory, used: used.memory, capacity: a.memory, unresolvable: req.memory > a.memory });
  }
  if (req.ephemeralStorage > 0 && req.ephemeralStorage > a.ephemeralStorage - used.ephemeralStorage) {
    out.push({
      resourceName: EPHEMERAL_STORAGE,
      reason: 'Insufficient ephemeral-storage',
      requested: req.ephemeralStorage,
      used: used.ephemeralStorage,
      capacity: a.ephemeralStorage,
      unresolvable: req.ephemeralStorage > a.ephemeralStorage,
    });
  }
  if (req.scalar) {
    for (const [name, q] of req.scalar) {
      if (q === 0) continue;
      if (isExtendedResourceName(name)) {
        if (ignored.has(name)) continue;
        if (ignoredGroups.size > 0 && ignoredGroups.has(name.split('/')[0])) continue;
      }
      const cap = a.getScalar(name);
      const u = used.getScalar(name);
      if (q > cap - u) out.push({ resourceName: name, reason: `Insufficient ${name}`, requested: q, used: u, capacity: cap, unresolvable: q > cap });
    }
  }
  return out;
}

const EMPTY_SET: ReadonlySet<string> = new Set();

const PRE_FILTER_KEY = 'PreFilter' + names.NodeResourcesFit;
const PRE_SCORE_KEY = 'PreScore' + names.NodeResourcesFit;
const BALANCED_PRE_SCORE_KEY = 'PreScore' + names.NodeResourcesBalancedAllocation;

class PreFilterState implements StateData {
  readonly requests: Resource;
  constructor(r: Resource) {
    this.requests = r;
  }
  clone(): StateData {
    return this;
  }
}

class PreScoreState implements StateData {
  readonly podRequests: number[];
  constructor(r: number[]) {
    this.podRequests = r;
  }
  clone(): StateData {
    return this;
  }
}

// ---- scoring -------------------------------------------------------------------------

type Scorer = (requested: number[], allocatable: number[]) => number;

function leastRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0 || requested > capacity) return 0;
  return idiv((capacity - requested) * MAX_NODE_SCORE, capacity);
}

function mostRequestedScore(requested: number, capacity: number): number {
  if (capacity === 0) return 0;
  // Requests can exceed capacity because request-less pods count the defaults.
  if (requested > capacity) requested = capacity;
  return idiv(requested * MAX_NODE_SCORE, capacity);
}

/** Upstream's weighted average over the resources with allocatable > 0. */
function weightedScorer(resources: ResourceSpec[], perResource: (requested: number, allocatable: number) => number): Scorer {
  const w = resources.map((r) => r.weight);
  return (req, alloc) => {
    let score = 0;
    let weights = 0;
    for (let i = 0; i < w.length; i++) {
      const a = alloc[i];
      if (a === 0) continue;
      score += perResource(req[i], a) * w[i];
      weights += w[i];
    }
    return weights === 0 ? 0 : idiv(score, weights);
  };
}

export function leastAllocatedScorer(resources: ResourceSpec[]): Scorer {
  return weightedScorer(resources, leastRequestedScore);
}

export function mostAllocatedScorer(resources: ResourceSpec[]): Scorer {
  return weightedScorer(resources, mostRequestedScore);
}

/** helper.BuildBrokenLinearFunction over shape points sorted by utilization. */
export function brokenLinearFunction(shape: { utilization: number; score: number }[]): (p: number) => number {
  return (p) => {
    for (let i = 0; i < shape.length; i++) {
      if (p <= shape[i].utilization) {
        if (i === 0) return shape[0].score;
        return shape[i - 1].score + idiv((shape[i].score - shape[i - 1].score) * (p - shape[i - 1].utilization), shape[i].utilization - shape[i - 1].utilization);
      }
    }
    return shape[shape.length - 1].score;
  };
}

export function requestedToCapacityRatioScorer(resources: ResourceSpec[], shape: UtilizationShapePoint[]): Scorer {
  const fn = brokenLinearFunction(shape.map((p) => ({ utilization: p.utilization, score: p.score * (MAX_NODE_SCORE / MAX_CUSTOM_PRIORITY_SCORE) })));
  const resourceScore = (requested: number, capacity: number) => {
    if (capacity === 0 || requested > capacity) return fn(MAX_UTILIZATION);
    return fn(idiv(requested * MAX_UTILIZATION, capacity));
  };
  return (req, alloc) => {
    let nodeScore = 0;
    let weightSum = 0;
    for (let i = 0; i < resources.length; i++) {
      if (alloc[i] === 0) continue;
      const s = resourceScore(req[i], alloc[i]);
      if (s > 0) {
        nodeScore += s * resources[i].weight;
        weightSum += resources[i].weight;
      }
    }
    return weightSum === 0 ? 0 : Math.round(nodeScore / weightSum);
  };
}

/** (1 - std of the used fractions) · 100; two resources: std = |f1 - f2| / 2. */
export function balancedResourceScorer(requested: number[], allocatable: number[]): number {
  const fractions: number[] = [];
  let total = 0;
  for (let i = 0; i < requested.length; i++) {
    if (allocatable[i] === 0) continue;
    let f = requested[i] / allocatable[i];
    if (f > 1) f = 1;
    total += f;
    fractions.push(f);
  }
  let std = 0;
  if (fractions.length === 2) std = Math.abs((fractions[0] - fractions[1]) / 2);
  else if (fractions.length > 2) {
    const mean = total / fractions.length;
    let sum = 0;
    for (const f of fractions) sum += (f - mean) * (f - mean);
    std = Math.sqrt(sum / fractions.length);
  }
  return Math.trunc((1 - std) * MAX_NODE_SCORE);
}

/**
 * resourceAllocationScorer: the pod's requests per resource (defaults for request-less
 * containers unless `useRequested`), plus what the node already has, against allocatable.
 */
class ResourceAllocationScorer {
  readonly resources: ResourceSpec[];
  readonly useRequested: boolean;
  readonly scorer: Scorer;
  private readonly requested: number[];
  private readonly allocatable: number[];
  /** Per resource: 0 cpu, 1 memory, 2 ephemeral-storage, 3 other. */
  private readonly kinds: number[];

  constructor(resources: ResourceSpec[], useRequested: boolean, scorer: Scorer) {
    this.resources = resources;
    this.useRequested = useRequested;
    this.scorer = scorer;
    this.requested = new Array(resources.length).fill(0);
    this.allocatable = new Array(resources.length).fill(0);
    this.kinds = resources.map((r) => (r.name === CPU ? 0 : r.name === MEMORY ? 1 : r.name === EPHEMERAL_STORAGE ? 2 : 3));
  }

  podRequests(pi: PodInfo): number[] {
    const plain = pi.requests;
    let nonMissing: Resource | undefined;
    return this.resources.map((r) => {
      if (!this.useRequested && (r.name === CPU || r.name === MEMORY)) return r.name === CPU ? pi.nonZeroCPU : pi.nonZeroMemory;
      if (!this.useRequested) {
        nonMissing ??= computePodRequests(pi.pod as Pod, { nonMissing: true });
        return nonMissing.get(r.name);
      }
      return plain.get(r.name);
    });
  }

  score(nodeInfo: NodeInfo, podRequests: number[]): number {
    const req = this.requested;
    const alloc = this.allocatable;
    const used = this.useRequested ? nodeInfo.requested : nodeInfo.nonZeroRequested;
    const na = nodeInfo.allocatable;
    const kinds = this.kinds;
    const h = nodeInfo.hot;
    const slot = nodeInfo.slot;
    for (let i = 0; i < kinds.length; i++) {
      const pr = podRequests[i];
      let a: number;
      let r: number;
      switch (kinds[i]) {
        case 0:
          if (h !== undefined) {
            a = h.allocCPU[slot];
            r = (this.useRequested ? h.reqCPU[slot] : h.nzCPU[slot]) + pr;
          } else {
            a = na.milliCPU;
            r = used.milliCPU + pr;
          }
          break;
        case 1:
          if (h !== undefined) {
            a = h.allocMem[slot];
            r = (this.useRequested ? h.reqMem[slot] : h.nzMem[slot]) + pr;
          } else {
            a = na.memory;
            r = used.memory + pr;
          }
          break;
        case 2:
          a = na.ephemeralStorage;
          r = nodeInfo.requested.ephemeralStorage + pr;
          break;
        default: {
          const name = this.resources[i].name;
          // An extended resource the pod does not request is not scored.
          if (pr === 0 && isScalarResourceName(name)) {
            a = 0;
            r = 0;
          } else {
            a = na.getScalar(name);
            r = nodeInfo.requested.getScalar(name) + pr;
          }
        }
      }
      alloc[i] = a;
      req[i] = a === 0 ? 0 : r;
    }
    return this.scorer(req, alloc);
  }
}

// ---- NodeResourcesFit ------------------------------------------------------------------

export class NodeResourcesFit implements PreFilterPlugin, FilterPlugin, PreScorePlugin, ScorePlugin, EnqueueExtensions {
  readonly name = names.NodeResourcesFit;
  private readonly ignored: Set<string>;
  private readonly ignoredGroups: Set<string>;
  private readonly scorer: ResourceAllocationScorer;
  private readonly preFilterRef = new StateRef<PreFilterState>(PRE_FILTER_KEY);
  private readonly preScoreRef = new StateRef<PreScoreState>(PRE_SCORE_KEY);

  constructor(args: NodeResourcesFitArgs = {}, _handle?: Handle) {
    this.ignored = new Set(args.ignoredResources ?? []);
    this.ignoredGroups = new Set(args.ignoredResourceGroups ?? []);
    const strategy = args.scoringStrategy ?? {};
    const resources = strategy.resources?.length ? strategy.resources : DEFAULT_RESOURCES;
    const type = strategy.type ?? 'LeastAllocated';
    let scorer: Scorer;
    switch (type) {
      case 'LeastAllocated':
        scorer = leastAllocatedScorer(resources);
        break;
      case 'MostAllocated':
        scorer = mostAllocatedScorer(resources);
        break;
      case 'RequestedToCapacityRatio': {
        const shape = strategy.requestedToCapacityRatio?.shape;
        if (!shape?.length) throw new Error('NodeResourcesFit: scoringStrategy.requestedToCapacityRatio.shape: Required value');
        scorer = requestedToCapacityRatioScorer(resources, [...shape].sort((a, b) => a.utilization - b.utilization));
        break;
      }
      default:
        throw new Error(`NodeResourcesFit: scoringStrategy.type: Unsupported value: ${JSON.stringify(type)}`);
    }
    this.scorer = new ResourceAllocationScorer(resources, false, scorer);
  }

  preFilter(state: CycleState, pi: PodInfo): Status | undefined {
    this.preFilterRef.set(state, new PreFilterState(pi.requests));
    return undefined;
  }

  preFilterExtensions(): undefined {
    return undefined;
  }

  filter(state: CycleState, pi: PodInfo, nodeInfo: NodeInfo): Status | undefined {
    const req = this.preFilterRef.get(state)?.requests ?? pi.requests;
    // Fast path: nothing lacking (most nodes, most of the time).
    const h = nodeInfo.hot;
    if (h !== undefined && (req.scalar === undefined || req.scalar.size === 0)) {
      const i = nodeInfo.slot;
      if (h.numPods[i] < h.allowedPods[i] && req.milliCPU <= h.allocCPU[i] - h.reqCPU[i] && req.memory <= h.allocMem[i] - h.reqMem[i] && req.ephemeralStorage <= h.allocEph[i] - h.reqEph[i]) {
        return undefined;
      }
    }
    const a = nodeInfo.allocatable;
    const u = nodeInfo.requested;
    if (
      nodeInfo.pods.length < a.allowedPodNumber &&
      req.milliCPU <= a.milliCPU - u.milliCPU &&
      req.memory <= a.memory - u.memory &&
      req.ephemeralStorage <= a.ephemeralStorage - u.ephemeralStorage &&
      (req.scalar === undefined || req.scalar.size === 0)
    ) {
      return undefined;
    }
    const insufficient = fitsRequest(req, nodeInfo, this.ignored, this.ignoredGroups);
    if (insufficient.length === 0) return undefined;
    let code: 'Unschedulable' | 'UnschedulableAndUnresolvable' = 'Unschedulable';
    const reasons: string[] = [];
    for (const r of insufficient) {
      reasons.push(r.reason);
      if (r.unresolvable) code = 'UnschedulableAndUnresolvable';
    }
    return new Status(code, reasons);
  }

  preScore(state: CycleState, pi: PodInfo): Status | undefined {
    this.preScoreRef.set(state, new PreScoreState(this.scorer.podRequests(pi)));
    return undefined;
  }

  score(state: CycleState, pi: PodInfo, nodeInfo: NodeInfo): number {
    const s = this.preScoreRef.get(state);
    return this.scorer.score(nodeInfo, s?.podRequests ?? this.scorer.podRequests(pi));
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      // Deleted pods free resources; scaled-down pods too.
      { event: { resource: 'AssignedPod', actionType: ActionType.Delete | ActionType.UpdatePodScaleDown } },
      {
        event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeAllocatable | ActionType.UpdateNodeTaint | ActionType.UpdateNodeLabel },
        hint: (pod, _old, newObj) => {
          if (!newObj) return 'Skip';
          // Only a node whose allocatable could hold the pod at all is worth a retry.
          const a = Resource.fromList((newObj as Node).status?.allocatable);
          const r = pod.requests;
          if (r.milliCPU > a.milliCPU || r.memory > a.memory || r.ephemeralStorage > a.ephemeralStorage) return 'Skip';
          if (r.scalar) for (const [k, v] of r.scalar) if (v > a.getScalar(k) && !this.ignored.has(k)) return 'Skip';
          return 'Queue';
        },
      },
    ];
  }
}

// ---- NodeResourcesBalancedAllocation --------------------------------------------------

export class NodeResourcesBalancedAllocation implements PreScorePlugin, ScorePlugin {
  readonly name = names.NodeResourcesBalancedAllocation;
  private readonly scorer: ResourceAllocationScorer;
  private readonly preScoreRef = new StateRef<PreScoreState>(BALANCED_PRE_SCORE_KEY);

  constructor(args: NodeResourcesBalancedAllocationArgs = {}, _handle?: Handle) {
    const resources = args.resources?.length ? args.resources : DEFAULT_RESOURCES;
    this.scorer = new ResourceAllocationScorer(resources, true, balancedResourceScorer);
  }

  preScore(state: CycleState, pi: PodInfo): Status | undefined {
    const req = this.scorer.podRequests(pi);
    // A best-effort pod would pile onto one node if scored this way (kubernetes#129138).
    if (req.every((v) => v === 0)) return skip();
    this.preScoreRef.set(state, new PreScoreState(req));
    return undefined;
  }

  score(state: CycleState, pi: PodInfo, nodeInfo: NodeInfo): number {
    const s = this.preScoreRef.get(state);
    return this.scorer.score(nodeInfo, s?.podRequests ?? this.scorer.podRequests(pi));
  }
}
