// The scheduler's view of pods and nodes, as the framework's PodInfo and NodeInfo: what
// the plugins need, computed once per object rather than once per node per cycle.
//   - PodInfo: the pod's resource requests (containers, init containers, sidecars,
//     overhead), its parsed inter-pod affinity terms, host ports and priority.
//   - NodeInfo: the node plus the pods on it (bound or assumed), their summed requests,
//     used host ports and image states, and a generation bumped on every change so the
//     snapshot only re-copies what changed.
// Quantities become plain numbers: milli-CPU, bytes, counts.

import { labelSelectorFromAPI, type LabelSelector } from '../../api/selectors.ts';
import { parseQuantity } from '../../api/validation/quantity.ts';
import type { Container, Node, Pod, PodAffinityTerm, ResourceList, Taint, Toleration } from './api.ts';
import { podKey } from './api.ts';

// ---- quantities and resources ------------------------------------------------------

const quantityCache = new Map<string, number>();

/** A quantity as the scheduler counts it: MilliValue for cpu, Value (rounded up) otherwise. 0 when unparsable. */
export function quantityNumber(v: string | number | undefined, milli: boolean): number {
  if (v === undefined || v === null) return 0;
  const s = typeof v === 'number' ? String(v) : v.trim();
  const key = milli ? 'm' + s : s;
  const hit = quantityCache.get(key);
  if (hit !== undefined) return hit;
  const q = parseQuantity(s);
  const n = typeof q === 'string' ? 0 : Number(milli ? q.milliValue() : q.value());
  if (quantityCache.size < 100_000) quantityCache.set(key, n);
  return n;
}

export const CPU = 'cpu';
export const MEMORY = 'memory';
export const EPHEMERAL_STORAGE = 'ephemeral-storage';
export const PODS = 'pods';

/** Resources counted in Resource.scalar: extended and prefixed native (domain/name), hugepages-*, attachable-volumes-*. */
export function isScalarResourceName(name: string): boolean {
  return name.includes('/') || name.startsWith('hugepages-') || name.startsWith('attachable-volumes-');
}

export function isExtendedResourceName(name: string): boolean {
  const i = name.indexOf('/');
  if (i < 0) return false;
  const domain = name.slice(0, i);
  return !(domain === 'kubernetes.io' || domain.endsWith('.kubernetes.io'));
}

/** framework.Resource: milli-CPU, bytes of memory and ephemeral storage, pod count, and the rest by name. */
export class Resource {
  milliCPU = 0;
  memory = 0;
  ephemeralStorage = 0;
  allowedPodNumber = 0;
  scalar: Map<string, number> | undefined = undefined;

  static fromList(rl: ResourceList | undefined): Resource {
    const r = new Resource();
    r.addList(rl);
    return r;
  }

  addList(rl: ResourceList | undefined): void {
    if (!rl) return;
    for (const name in rl) {
      const v = rl[name];
      switch (name) {
        case CPU:
          this.milliCPU += quantityNumber(v, true);
          break;
        case MEMORY:
          this.memory += quantityNumber(v, false);
          break;
        case PODS:
          this.allowedPodNumber += quantityNumber(v, false);
          break;
        case EPHEMERAL_STORAGE:
          this.ephemeralStorage += quantityNumber(v, false);
          break;
        default:
          if (isScalarResourceName(name)) this.addScalar(name, quantityNumber(v, false));
      }
    }
  }

  /** Per resource, the larger of this and `rl` (init containers against the running total). */
  maxList(other: Resource): void {
    this.milliCPU = Math.max(this.milliCPU, other.milliCPU);
    this.memory = Math.max(this.memory, other.memory);
    this.ephemeralStorage = Math.max(this.ephemeralStorage, other.ephemeralStorage);
    if (other.scalar) for (const [k, v] of other.scalar) this.setScalar(k, Math.max(this.scalar?.get(k) ?? 0, v));
  }

  add(other: Resource, sign = 1): void {
    this.milliCPU += sign * other.milliCPU;
    this.memory += sign * other.memory;
    this.ephemeralStorage += sign * other.ephemeralStorage;
    this.allowedPodNumber += sign * other.allowedPodNumber;
    if (other.scalar) for (const [k, v] of other.scalar) this.addScalar(k, sign * v);
  }

  addScalar(name: string, v: number): void {
    this.setScalar(name, (this.scalar?.get(name) ?? 0) + v);
  }

  setScalar(name: string, v: number): void {
    (this.scalar ??= new Map()).set(name, v);
  }

  getScalar(name: string): number {
    return this.scalar?.get(name) ?? 0;
  }

  /** The amount of one resource by its API name. */
  get(name: string): number {
    switch (name) {
      case CPU:
        return this.milliCPU;
      case MEMORY:
        return this.memory;
      case EPHEMERAL_STORAGE:
        return this.ephemeralStorage;
      case PODS:
        return this.allowedPodNumber;
      default:
        return this.getScalar(name);
    }
  }

  clone(): Resource {
    const r = new Resource();
    r.milliCPU = this.milliCPU;
    r.memory = this.memory;
    r.ephemeralStorage = this.ephemeralStorage;
    r.allowedPodNumber = this.allowedPodNumber;
    if (this.scalar) r.scalar = new Map(this.scalar);
    return r;
  }

  isZero(): boolean {
    if (this.milliCPU !== 0 || this.memory !== 0 || this.ephemeralStorage !== 0) return false;
    if (this.scalar) for (const v of this.scalar.values()) if (v !== 0) return false;
    return true;
  }
}

/** The request the scheduler assumes for a container that names no cpu (schedutil.DefaultMilliCPURequest). */
export const DEFAULT_MILLI_CPU_REQUEST = 100;
/** ... and no memory (schedutil.DefaultMemoryRequest, 200 MiB). */
export const DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024;

function isSidecar(c: Container): boolean {
  return c.restartPolicy === 'Always';
}

function containerRequests(c: Container, nonMissing: boolean): Resource {
  const r = Resource.fromList(c.resources?.requests);
  if (nonMissing) {
    const req = c.resources?.requests;
    if (!req || req[CPU] === undefined) r.milliCPU += DEFAULT_MILLI_CPU_REQUEST;
    if (!req || req[MEMORY] === undefined) r.memory += DEFAULT_MEMORY_REQUEST;
  }
  return r;
}

/**
 * resourcehelper.PodRequests: the sum of the app containers and sidecars, or the largest
 * init container (plus the sidecars started before it) when that is larger, plus the
 * pod's overhead. `nonMissing` adds the default cpu/memory request to every container
 * that names none (what scoring uses so that request-less pods still spread).
 */
export function computePodRequests(pod: Pod, opts: { nonMissing?: boolean } = {}): Resource {
  const nonMissing = opts.nonMissing ?? false;
  const reqs = new Resource();
  for (const c of pod.spec.containers ?? []) reqs.add(containerRequests(c, nonMissing));
  const sidecars = new Resource();
  const initMax = new Resource();
  for (const c of pod.spec.initContainers ?? []) {
    const cr = containerRequests(c, nonMissing);
    if (isSidecar(c)) {
      reqs.add(cr);
      sidecars.add(cr);
      initMax.maxList(sidecars);
    } else {
      const tmp = cr.clone();
      tmp.add(sidecars);
      initMax.maxList(tmp);
    }
  }
  reqs.maxList(initMax);
  if (pod.spec.overhead) reqs.addList(pod.spec.overhead);
  return reqs;
}

// ---- host ports -------------------------------------------------------------------

export interface HostPort {
  ip: string;
  protocol: string;
  port: number;
}

export const DEFAULT_BIND_ALL_HOST_IP = '0.0.0.0';

/** The host ports a pod's containers (and sidecars) ask for. */
export function podHostPorts(pod: Pod): HostPort[] {
  const out: HostPort[] = [];
  const add = (cs: Container[] | undefined, onlySidecars: boolean) => {
    for (const c of cs ?? []) {
      if (onlySidecars && !isSidecar(c)) continue;
      for (const p of c.ports ?? []) {
        if (!p.hostPort || p.hostPort <= 0) continue;
        out.push({ ip: p.hostIP || DEFAULT_BIND_ALL_HOST_IP, protocol: p.protocol || 'TCP', port: p.hostPort });
      }
    }
  };
  add(pod.spec.containers, false);
  add(pod.spec.initContainers, true);
  return out;
}

/** framework.HostPortInfo: ip → set of "protocol/port". */
export class HostPortInfo {
  readonly byIP = new Map<string, Set<string>>();

  add(p: HostPort): void {
    let s = this.byIP.get(p.ip);
    if (!s) this.byIP.set(p.ip, (s = new Set()));
    s.add(`${p.protocol}/${p.port}`);
  }

  remove(p: HostPort): void {
    const s = this.byIP.get(p.ip);
    if (!s) return;
    s.delete(`${p.protocol}/${p.port}`);
    if (s.size === 0) this.byIP.delete(p.ip);
  }

  /** True when `p` collides with a used port (0.0.0.0 collides with every address). */
  conflicts(p: HostPort): boolean {
    if (p.port <= 0) return false;
    const pp = `${p.protocol}/${p.port}`;
    if (p.ip === DEFAULT_BIND_ALL_HOST_IP) {
      for (const s of this.byIP.values()) if (s.has(pp)) return true;
      return false;
    }
    return (this.byIP.get(DEFAULT_BIND_ALL_HOST_IP)?.has(pp) ?? false) || (this.byIP.get(p.ip)?.has(pp) ?? false);
  }

  get size(): number {
    return this.byIP.size;
  }

  clone(): HostPortInfo {
    const h = new HostPortInfo();
    for (const [ip, s] of this.byIP) h.byIP.set(ip, new Set(s));
    return h;
  }
}

// ---- affinity terms -----------------------------------------------------------------

/** A pod (anti-)affinity term with its selectors parsed (framework.AffinityTerm). */
export class AffinityTerm {
  readonly namespaces: ReadonlySet<string>;
  readonly selector: LabelSelector;
  readonly topologyKey: string;
  /** undefined for a nil namespaceSelector (matches no namespace). */
  readonly namespaceSelector: LabelSelector | undefined;
  readonly weight: number;

  constructor(init: { namespaces: ReadonlySet<string>; selector: LabelSelector; topologyKey: string; namespaceSelector?: LabelSelector; weight?: number }) {
    this.namespaces = init.namespaces;
    this.selector = init.selector;
    this.topologyKey = init.topologyKey;
    this.namespaceSelector = init.namespaceSelector;
    this.weight = init.weight ?? 0;
  }

  /** The term selects `pod` (whose namespace has labels `nsLabels`, when known). */
  matches(pod: PodInfo, nsLabels: Record<string, string> | undefined): boolean {
    if (this.namespaces.has(pod.namespace) || (this.namespaceSelector !== undefined && nsLabels !== undefined && this.namespaceSelector.matches(nsLabels))) {
      return this.selector.matches(pod.labels);
    }
    return false;
  }

  withNamespaces(namespaces: ReadonlySet<string>): AffinityTerm {
    return new AffinityTerm({ namespaces, selector: this.selector, topologyKey: this.topologyKey, namespaceSelector: undefined, weight: this.weight });
  }
}

/**
 * The term of `pod` as upstream builds it: namespaces default to the pod's own when the
 * term names neither namespaces nor a namespaceSelector; matchLabelKeys and
 * mismatchLabelKeys add `key in (value)` / `key notin (value)` from the pod's labels.
 */
export function newAffinityTerm(pod: Pod, term: PodAffinityTerm, weight = 0): AffinityTerm {
  const ns = pod.metadata.namespace ?? '';
  const names = term.namespaces ?? [];
  const namespaces = names.length === 0 && term.namespaceSelector == null ? new Set([ns]) : new Set(names);
  const labels = pod.metadata.labels ?? {};
  let selectorSpec = term.labelSelector ?? null;
  const extra: { key: string; operator: string; values: string[] }[] = [];
  for (const k of term.matchLabelKeys ?? []) if (Object.hasOwn(labels, k)) extra.push({ key: k, operator: 'In', values: [labels[k]] });
  for (const k of term.mismatchLabelKeys ?? []) if (Object.hasOwn(labels, k)) extra.push({ key: k, operator: 'NotIn', values: [labels[k]] });
  if (extra.length && selectorSpec) selectorSpec = { ...selectorSpec, matchExpressions: [...(selectorSpec.matchExpressions ?? []), ...extra] };
  return new AffinityTerm({
    namespaces,
    selector: labelSelectorFromAPI(selectorSpec),
    topologyKey: term.topologyKey,
    namespaceSelector: term.namespaceSelector == null ? undefined : labelSelectorFromAPI(term.namespaceSelector),
    weight,
  });
}

// ---- pods ---------------------------------------------------------------------------

export type PriorityResolver = (pod: Pod) => number;

/** pod.spec.priority, or 0 (corev1helpers.PodPriority). */
export const specPriority: PriorityResolver = (p) => (typeof p.spec?.priority === 'number' ? p.spec.priority : 0);

/** framework.PodInfo: a pod with everything plugins compute from it once. */
export class PodInfo {
  /** Replaced in place only by replacePod (a newer object of the same pod, nothing derived changed). */
  pod: Pod;
  readonly key: string;
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
  readonly labels: Record<string, string>;
  /** spec.priority when set; else resolved on each read (the PriorityClass may be seen after the pod). */
  private readonly fixedPriority: number | undefined;
  private readonly resolvePriority: PriorityResolver | undefined;
  /** Requests as NodeResourcesFit counts them. */
  readonly requests: Resource;
  /** cpu and memory with the defaults for containers that name none (NonZeroRequested). */
  readonly nonZeroCPU: number;
  readonly nonZeroMemory: number;
  readonly hostPorts: HostPort[];
  readonly requiredAffinityTerms: AffinityTerm[];
  readonly requiredAntiAffinityTerms: AffinityTerm[];
  readonly preferredAffinityTerms: AffinityTerm[];
  readonly preferredAntiAffinityTerms: AffinityTerm[];
  /** Set when the pod's affinity terms do not parse (upstream fails PreFilter with it). */
  readonly parseError: string | undefined;

  constructor(pod: Pod, priority: number | PriorityResolver = specPriority) {
    this.pod = pod;
    this.key = podKey(pod);
    this.uid = pod.metadata.uid ?? this.key;
    this.namespace = pod.metadata.namespace ?? '';
    this.name = pod.metadata.name ?? '';
    this.labels = pod.metadata.labels ?? {};
    if (typeof pod.spec?.priority === 'number') this.fixedPriority = pod.spec.priority;
    else if (typeof priority === 'number') this.fixedPriority = priority;
    else this.resolvePriority = priority;
    this.requests = computePodRequests(pod);
    const nz = computePodRequests(pod, { nonMissing: true });
    this.nonZeroCPU = nz.milliCPU;
    this.nonZeroMemory = nz.memory;
    this.hostPorts = podHostPorts(pod);
    const a = pod.spec.affinity;
    let parseError: string | undefined;
    const terms = (list: PodAffinityTerm[] | undefined) => {
      const out: AffinityTerm[] = [];
      for (const t of list ?? []) {
        try {
          out.push(newAffinityTerm(pod, t));
        } catch (e) {
          parseError ??= (e as Error).message;
        }
      }
      return out;
    };
    const weighted = (list: { weight: number; podAffinityTerm: PodAffinityTerm }[] | undefined) => {
      const out: AffinityTerm[] = [];
      for (const t of list ?? []) {
        try {
          out.push(newAffinityTerm(pod, t.podAffinityTerm, t.weight));
        } catch (e) {
          parseError ??= (e as Error).message;
        }
      }
      return out;
    };
    this.requiredAffinityTerms = terms(a?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
    this.requiredAntiAffinityTerms = terms(a?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
    this.preferredAffinityTerms = weighted(a?.podAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
    this.preferredAntiAffinityTerms = weighted(a?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution);
    this.parseError = parseError;
  }

  get priority(): number {
    return this.fixedPriority ?? this.resolvePriority!(this.pod);
  }

  /** The pod has pod affinity or anti-affinity of any kind (NodeInfo.PodsWithAffinity). */
  get hasAffinity(): boolean {
    const a = this.pod.spec.affinity;
    return !!(a && (a.podAffinity || a.podAntiAffinity));
  }

  get hasRequiredAntiAffinity(): boolean {
    return this.requiredAntiAffinityTerms.length > 0;
  }

  /** A copy for another version of the same pod, everything recomputed. */
  withPod(pod: Pod): PodInfo {
    return new PodInfo(pod, this.resolvePriority ?? this.priority);
  }

  /** Swaps in a newer object of this pod whose scheduling-relevant fields are unchanged (see Cache.addOrUpdatePod). */
  replacePod(pod: Pod): void {
    this.pod = pod;
  }

  /** This pod placed on `nodeName` (what the cache assumes while binding): the computed fields are reused. */
  assumedOn(nodeName: string): PodInfo {
    const pod: Pod = { ...this.pod, spec: { ...this.pod.spec, nodeName } };
    return Object.assign(Object.create(PodInfo.prototype) as PodInfo, this, { pod });
  }
}

// ---- nodes --------------------------------------------------------------------------

let generation = 0;
export function nextGeneration(): number {
  return ++generation;
}

/** An image on some nodes: its size and how many nodes have it (framework.ImageStateSummary). */
export interface ImageState {
  size: number;
  /** Nodes that have the image (shared by the cache; read its size as NumNodes). */
  readonly nodes: Set<string>;
}

/**
 * The hot numbers of every node of a snapshot, by slot (the node's index in the
 * snapshot's list), in typed arrays: the per-node loops of Filter and Score read these
 * instead of chasing each NodeInfo's Resource objects across the heap.
 */
export class HotColumns {
  size = 0;
  allocCPU = new Float64Array(0);
  allocMem = new Float64Array(0);
  allocEph = new Float64Array(0);
  allowedPods = new Float64Array(0);
  reqCPU = new Float64Array(0);
  reqMem = new Float64Array(0);
  reqEph = new Float64Array(0);
  nzCPU = new Float64Array(0);
  nzMem = new Float64Array(0);
  numPods = new Float64Array(0);

  ensure(n: number): void {
    if (n <= this.size) return;
    const cap = Math.max(n, this.size * 2, 64);
    const grow = (a: Float64Array) => {
      const b = new Float64Array(cap);
      b.set(a);
      return b;
    };
    this.allocCPU = grow(this.allocCPU);
    this.allocMem = grow(this.allocMem);
    this.allocEph = grow(this.allocEph);
    this.allowedPods = grow(this.allowedPods);
    this.reqCPU = grow(this.reqCPU);
    this.reqMem = grow(this.reqMem);
    this.reqEph = grow(this.reqEph);
    this.nzCPU = grow(this.nzCPU);
    this.nzMem = grow(this.nzMem);
    this.numPods = grow(this.numPods);
    this.size = cap;
  }

  write(slot: number, n: NodeInfo): void {
    this.allocCPU[slot] = n.allocatable.milliCPU;
    this.allocMem[slot] = n.allocatable.memory;
    this.allocEph[slot] = n.allocatable.ephemeralStorage;
    this.allowedPods[slot] = n.allocatable.allowedPodNumber;
    this.reqCPU[slot] = n.requested.milliCPU;
    this.reqMem[slot] = n.requested.memory;
    this.reqEph[slot] = n.requested.ephemeralStorage;
    this.nzCPU[slot] = n.nonZeroRequested.milliCPU;
    this.nzMem[slot] = n.nonZeroRequested.memory;
    this.numPods[slot] = n.pods.length;
  }
}

/** framework.NodeInfo. */
export class NodeInfo {
  node: Node | undefined;
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  /** taints.length, kept inline for the per-node loops. */
  taintCount: number;
  unschedulable: boolean;
  pods: PodInfo[];
  podsWithAffinity: PodInfo[];
  podsWithRequiredAntiAffinity: PodInfo[];
  usedPorts: HostPortInfo;
  requested: Resource;
  nonZeroRequested: Resource;
  allocatable: Resource;
  imageStates: Map<string, ImageState>;
  /** imageStates.size, kept inline for the per-node loops. */
  imageCount: number;
  pvcRefCounts: Map<string, number>;
  generation: number;
  /** In a snapshot: this node's slot in the snapshot's HotColumns; -1 (and hot undefined) for copies. */
  slot: number;
  hot: HotColumns | undefined;
  /** topologyKey → "key\0value" for this node's labels (one string per pair, so map lookups hash it once). */
  private pairs: Map<string, string | undefined> | undefined;

  constructor(name: string, node?: Node, from?: NodeInfo) {
    this.name = name;
    this.slot = -1;
    this.hot = undefined;
    if (from) {
      // A copy (NodeInfo.Snapshot): lists and sums its own, node data shared.
      this.node = from.node;
      this.labels = from.labels;
      this.pairs = from.pairs;
      this.taints = from.taints;
      this.taintCount = from.taintCount;
      this.unschedulable = from.unschedulable;
      this.pods = from.pods.slice();
      this.podsWithAffinity = from.podsWithAffinity.slice();
      this.podsWithRequiredAntiAffinity = from.podsWithRequiredAntiAffinity.slice();
      this.usedPorts = from.usedPorts.size ? from.usedPorts.clone() : new HostPortInfo();
      this.requested = from.requested.clone();
      this.nonZeroRequested = from.nonZeroRequested.clone();
      this.allocatable = from.allocatable;
      this.imageStates = from.imageStates;
      this.imageCount = from.imageCount;
      this.pvcRefCounts = from.pvcRefCounts.size ? new Map(from.pvcRefCounts) : new Map();
      this.generation = from.generation;
      return;
    }
    this.node = undefined;
    this.labels = {};
    this.pairs = undefined;
    this.taints = [];
    this.taintCount = 0;
    this.unschedulable = false;
    this.pods = [];
    this.podsWithAffinity = [];
    this.podsWithRequiredAntiAffinity = [];
    this.usedPorts = new HostPortInfo();
    this.requested = new Resource();
    this.nonZeroRequested = new Resource();
    this.allocatable = new Resource();
    this.imageStates = new Map();
    this.imageCount = 0;
    this.pvcRefCounts = new Map();
    this.generation = nextGeneration();
    if (node) this.setNode(node);
  }

  setNode(node: Node): void {
    this.node = node;
    this.name = node.metadata.name ?? this.name;
    this.labels = node.metadata.labels ?? {};
    this.pairs = undefined;
    this.taints = node.spec?.taints ?? [];
    this.taintCount = this.taints.length;
    this.unschedulable = node.spec?.unschedulable === true;
    this.allocatable = Resource.fromList(node.status?.allocatable);
    this.generation = nextGeneration();
  }

  /** Forgets the Node object (the node was deleted while pods still point at it). */
  removeNode(): void {
    this.node = undefined;
    this.generation = nextGeneration();
  }

  /** "topologyKey\0value" for this node, or undefined when it has no such label. */
  topologyPair(key: string): string | undefined {
    this.pairs ??= new Map();
    let p = this.pairs.get(key);
    if (p === undefined && !this.pairs.has(key)) {
      const v = this.labels[key];
      p = v === undefined ? undefined : key + '\x00' + v;
      this.pairs.set(key, p);
    }
    return p;
  }

  addPod(pi: PodInfo): void {
    this.pods.push(pi);
    if (pi.hasAffinity) this.podsWithAffinity.push(pi);
    if (pi.hasRequiredAntiAffinity) this.podsWithRequiredAntiAffinity.push(pi);
    this.update(pi, 1);
  }

  /** Removes the pod with `uid`; false when it is not on this node. */
  removePod(uid: string): boolean {
    const i = this.pods.findIndex((p) => p.uid === uid);
    if (i < 0) return false;
    const pi = this.pods[i];
    this.pods[i] = this.pods[this.pods.length - 1];
    this.pods.pop();
    removeFrom(this.podsWithAffinity, uid);
    removeFrom(this.podsWithRequiredAntiAffinity, uid);
    this.update(pi, -1);
    return true;
  }

  private update(pi: PodInfo, sign: 1 | -1): void {
    this.requested.add(pi.requests, sign);
    this.nonZeroRequested.milliCPU += sign * pi.nonZeroCPU;
    this.nonZeroRequested.memory += sign * pi.nonZeroMemory;
    for (const p of pi.hostPorts) {
      if (sign > 0) this.usedPorts.add(p);
      else this.usedPorts.remove(p);
    }
    for (const v of pi.pod.spec.volumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName;
      if (!claim) continue;
      const k = `${pi.namespace}/${claim}`;
      const n = (this.pvcRefCounts.get(k) ?? 0) + sign;
      if (n <= 0) this.pvcRefCounts.delete(k);
      else this.pvcRefCounts.set(k, n);
    }
    this.generation = nextGeneration();
    // A copy that changes leaves the snapshot's columns (they describe the original).
    this.hot = undefined;
    this.slot = -1;
  }

  /** A copy whose pod lists and sums can change without touching this one (NodeInfo.Snapshot). */
  clone(): NodeInfo {
    return new NodeInfo(this.name, undefined, this);
  }

  /** Makes this (a snapshot's own NodeInfo) the same as `src` (a fresh copy), keeping its slot. */
  copyFrom(src: NodeInfo): void {
    const slot = this.slot;
    const hot = this.hot;
    Object.assign(this, src);
    this.slot = slot;
    this.hot = hot;
  }
}

function removeFrom(list: PodInfo[], uid: string): void {
  const i = list.findIndex((p) => p.uid === uid);
  if (i >= 0) list.splice(i, 1);
}

// ---- tolerations ----------------------------------------------------------------------

/** v1.Toleration.ToleratesTaint. */
export function toleratesTaint(t: Toleration, taint: Taint): boolean {
  if (t.effect && t.effect !== taint.effect) return false;
  if (t.key && t.key !== taint.key) return false;
  switch (t.operator ?? '') {
    case '':
    case 'Equal':
      return (t.value ?? '') === (taint.value ?? '');
    case 'Exists':
      return true;
    default:
      return false;
  }
}

export function tolerationsTolerateTaint(tolerations: readonly Toleration[] | undefined, taint: Taint): boolean {
  for (const t of tolerations ?? []) if (toleratesTaint(t, taint)) return true;
  return false;
}

/** The first taint passing `filter` that no toleration tolerates (v1helper.FindMatchingUntoleratedTaint). */
export function findUntoleratedTaint(taints: readonly Taint[], tolerations: readonly Toleration[] | undefined, filter: (t: Taint) => boolean): Taint | undefined {
  for (const taint of taints) {
    if (!filter(taint)) continue;
    if (!tolerationsTolerateTaint(tolerations, taint)) return taint;
  }
  return undefined;
}

export const doNotScheduleTaints = (t: Taint): boolean => t.effect === 'NoSchedule' || t.effect === 'NoExecute';
