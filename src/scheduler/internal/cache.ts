// The scheduler cache and the per-cycle snapshot, as upstream's internal/cache.
//
// The cache holds every node and every pod bound to one, plus "assumed" pods: pods the
// scheduler has placed but whose binding the informer has not shown yet, so the next
// cycle already sees the resources the last one took. What must hold:
//   - A pod is counted on at most one node, once (keyed by UID).
//   - Assume → (bind succeeds) → the informer's Add confirms it; (bind fails) → Forget
//     removes it. An informer Add for an assumed pod on another node moves it.
//   - A deleted Node whose pods are still known keeps a node-less NodeInfo until they go.
//
// updateSnapshot() copies into the snapshot only the NodeInfos whose generation moved
// since the last copy: the cache keeps them in a most-recently-updated-first list, so a
// cycle after one binding copies one node, not five thousand. The snapshot lists nodes
// interleaved across zones (the nodeTree), so the adaptive sampling of feasible nodes
// spreads over zones as upstream's does.

import type { Node, Pod } from '../framework/api.ts';
import { LABEL_REGION, LABEL_ZONE } from '../framework/api.ts';
import type { NodeInfoLister } from '../framework/interface.ts';
import { HotColumns, NodeInfo, PodInfo, type ImageState } from '../framework/types.ts';

interface Item {
  info: NodeInfo;
  prev: Item | undefined;
  next: Item | undefined;
}

interface PodState {
  podInfo: PodInfo;
  nodeName: string;
  bindingFinished: boolean;
}

function sameJSON(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** Nothing a plugin reads from an assigned pod differs (status aside, which only preemption reads, in place). */
function sameForScheduling(a: Pod, b: Pod): boolean {
  if ((a.metadata.deletionTimestamp ?? '') !== (b.metadata.deletionTimestamp ?? '')) return false;
  if ((a.metadata.namespace ?? '') !== (b.metadata.namespace ?? '')) return false;
  const sa = a.spec;
  const sb = b.spec;
  return (
    sa.priority === sb.priority &&
    sa.priorityClassName === sb.priorityClassName &&
    sameJSON(a.metadata.labels ?? null, b.metadata.labels ?? null) &&
    sameJSON(sa.containers, sb.containers) &&
    sameJSON(sa.initContainers ?? null, sb.initContainers ?? null) &&
    sameJSON(sa.overhead ?? null, sb.overhead ?? null) &&
    sameJSON(sa.affinity ?? null, sb.affinity ?? null) &&
    sameJSON(sa.volumes ?? null, sb.volumes ?? null)
  );
}

const BETA_ZONE = 'failure-domain.beta.kubernetes.io/zone';
const BETA_REGION = 'failure-domain.beta.kubernetes.io/region';

/** utilnode.GetZoneKey: region and zone joined, '' when the node has neither. */
export function zoneKeyOf(node: Node): string {
  const l = node.metadata.labels ?? {};
  const zone = l[LABEL_ZONE] ?? l[BETA_ZONE] ?? '';
  const region = l[LABEL_REGION] ?? l[BETA_REGION] ?? '';
  if (!zone && !region) return '';
  return `${region}:\x00:${zone}`;
}

/** Node names by zone; list() interleaves the zones (one node of each in turn). */
class NodeTree {
  private readonly zones = new Map<string, string[]>();
  private readonly zoneOf = new Map<string, string>();
  numNodes = 0;

  add(node: Node): void {
    const name = node.metadata.name!;
    const zone = zoneKeyOf(node);
    const had = this.zoneOf.get(name);
    if (had !== undefined) {
      if (had === zone) return;
      this.remove(name);
    }
    let list = this.zones.get(zone);
    if (!list) this.zones.set(zone, (list = []));
    list.push(name);
    this.zoneOf.set(name, zone);
    this.numNodes++;
  }

  remove(name: string): void {
    const zone = this.zoneOf.get(name);
    if (zone === undefined) return;
    const list = this.zones.get(zone)!;
    const i = list.indexOf(name);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.zones.delete(zone);
    this.zoneOf.delete(name);
    this.numNodes--;
  }

  list(): string[] {
    const lists = [...this.zones.values()];
    const out: string[] = [];
    for (let i = 0; out.length < this.numNodes; i++) {
      for (const l of lists) if (i < l.length) out.push(l[i]);
    }
    return out;
  }
}

export class Cache {
  private readonly nodes = new Map<string, Item>();
  private head: Item | undefined;
  private readonly tree = new NodeTree();
  private readonly podStates = new Map<string, PodState>();
  private readonly assumed = new Set<string>();
  private readonly images = new Map<string, ImageState>();

  // ---- nodes ----

  addNode(node: Node): NodeInfo {
    const name = node.metadata.name!;
    let item = this.nodes.get(name);
    if (!item) {
      item = { info: new NodeInfo(name), prev: undefined, next: undefined };
      this.nodes.set(name, item);
    } else {
      this.removeNodeImageStates(item.info);
    }
    this.tree.add(node);
    item.info.setNode(node);
    this.addNodeImageStates(node, item.info);
    this.moveToHead(item);
    return item.info;
  }

  updateNode(node: Node): NodeInfo {
    return this.addNode(node);
  }

  removeNode(name: string): void {
    const item = this.nodes.get(name);
    if (!item) return;
    this.removeNodeImageStates(item.info);
    item.info.removeNode();
    this.tree.remove(name);
    // Pods still pointing at the node keep it (node-less) until they are deleted.
    if (item.info.pods.length === 0) this.removeItem(item);
    else this.moveToHead(item);
  }

  nodeCount(): number {
    return this.tree.numNodes;
  }

  /** The cache's own NodeInfo (read-only for callers). */
  nodeInfo(name: string): NodeInfo | undefined {
    return this.nodes.get(name)?.info;
  }

  private addNodeImageStates(node: Node, info: NodeInfo): void {
    const states = new Map<string, ImageState>();
    for (const img of node.status?.images ?? []) {
      for (const n of img.names ?? []) {
        let s = this.images.get(n);
        if (!s) this.images.set(n, (s = { size: img.sizeBytes ?? 0, nodes: new Set() }));
        s.nodes.add(info.name);
        states.set(n, s);
      }
    }
    info.imageStates = states;
    info.imageCount = states.size;
  }

  private removeNodeImageStates(info: NodeInfo): void {
    for (const [n, s] of info.imageStates) {
      s.nodes.delete(info.name);
      if (s.nodes.size === 0) this.images.delete(n);
    }
    info.imageStates = new Map();
    info.imageCount = 0;
  }

  // ---- pods ----

  /** The scheduler placed `pi` (spec.nodeName set) and is binding it. */
  assumePod(pi: PodInfo): void {
    const nodeName = pi.pod.spec.nodeName!;
    if (this.podStates.has(pi.uid)) throw new Error(`pod ${pi.key} (${pi.uid}) is in the cache, so can't be assumed`);
    this.addPodToNode(pi, nodeName);
    this.podStates.set(pi.uid, { podInfo: pi, nodeName, bindingFinished: false });
    this.assumed.add(pi.uid);
  }

  finishBinding(uid: string): void {
    const s = this.podStates.get(uid);
    if (s && this.assumed.has(uid)) s.bindingFinished = true;
  }

  /** Undoes assumePod (the binding failed). */
  forgetPod(uid: string): void {
    const s = this.podStates.get(uid);
    if (!s || !this.assumed.has(uid)) return;
    this.removePodFromNode(uid, s.nodeName);
    this.podStates.delete(uid);
    this.assumed.delete(uid);
  }

  isAssumed(uid: string): boolean {
    return this.assumed.has(uid);
  }

  /** An assigned pod seen by the informer (new, or the confirmation of an assumed one). */
  addPod(pi: PodInfo): void {
    const nodeName = pi.pod.spec.nodeName!;
    const s = this.podStates.get(pi.uid);
    if (s) {
      // Assumed (or already known): replace it, on the node the API says.
      this.removePodFromNode(pi.uid, s.nodeName);
      this.assumed.delete(pi.uid);
    }
    this.addPodToNode(pi, nodeName);
    this.podStates.set(pi.uid, { podInfo: pi, nodeName, bindingFinished: true });
  }

  updatePod(pi: PodInfo): void {
    this.addPod(pi);
  }

  /**
   * The informer's version of an assigned pod. When it is the same pod on the same node
   * with nothing the plugins read changed (a kubelet status write, the confirmation of an
   * assumed pod), the cached PodInfo takes the new object in place and the node keeps its
   * generation: the snapshot does not re-copy it for a status change. Otherwise the pod
   * is replaced through addPod (`make` builds its PodInfo).
   */
  addOrUpdatePod(pod: Pod, make: () => PodInfo): void {
    const uid = pod.metadata.uid ?? '';
    const s = this.podStates.get(uid);
    if (s && s.nodeName === pod.spec.nodeName && sameForScheduling(s.podInfo.pod, pod)) {
      s.podInfo.replacePod(pod);
      this.assumed.delete(uid);
      s.bindingFinished = true;
      return;
    }
    this.addPod(make());
  }

  removePod(uid: string): void {
    const s = this.podStates.get(uid);
    if (!s) return;
    this.removePodFromNode(uid, s.nodeName);
    this.podStates.delete(uid);
    this.assumed.delete(uid);
  }

  hasPod(uid: string): boolean {
    return this.podStates.has(uid);
  }

  podCount(): number {
    return this.podStates.size;
  }

  assumedCount(): number {
    return this.assumed.size;
  }

  private addPodToNode(pi: PodInfo, nodeName: string): void {
    let item = this.nodes.get(nodeName);
    if (!item) {
      item = { info: new NodeInfo(nodeName), prev: undefined, next: undefined };
      this.nodes.set(nodeName, item);
    }
    item.info.addPod(pi);
    this.moveToHead(item);
  }

  private removePodFromNode(uid: string, nodeName: string): void {
    const item = this.nodes.get(nodeName);
    if (!item) return;
    item.info.removePod(uid);
    if (item.info.pods.length === 0 && item.info.node === undefined) this.removeItem(item);
    else this.moveToHead(item);
  }

  // ---- most-recently-updated list ----

  private moveToHead(item: Item): void {
    if (this.head === item) return;
    if (item.prev) item.prev.next = item.next;
    if (item.next) item.next.prev = item.prev;
    item.prev = undefined;
    item.next = this.head;
    if (this.head) this.head.prev = item;
    this.head = item;
  }

  private removeItem(item: Item): void {
    if (item.prev) item.prev.next = item.next;
    if (item.next) item.next.prev = item.prev;
    if (this.head === item) this.head = item.next;
    item.prev = item.next = undefined;
    this.nodes.delete(item.info.name);
  }

  // ---- snapshot ----

  /** Brings `snap` up to date with the cache, copying only NodeInfos changed since its last update. */
  updateSnapshot(snap: Snapshot): void {
    const since = snap.generation;
    let updateAll = false;
    let updateAffinity = false;
    let updateAnti = false;
    const changed: string[] = [];
    for (let item = this.head; item; item = item.next) {
      if (item.info.generation <= since) break;
      if (!item.info.node) continue;
      changed.push(item.info.name);
      const clone = item.info.clone();
      let existing = snap.nodeInfoMap.get(item.info.name);
      if (!existing) {
        updateAll = true;
        existing = clone;
        snap.nodeInfoMap.set(item.info.name, existing);
      } else {
        if (existing.podsWithAffinity.length > 0 !== clone.podsWithAffinity.length > 0) updateAffinity = true;
        if (existing.podsWithRequiredAntiAffinity.length > 0 !== clone.podsWithRequiredAntiAffinity.length > 0) updateAnti = true;
        existing.copyFrom(clone);
        if (existing.hot && existing.slot >= 0) existing.hot.write(existing.slot, existing);
      }
    }
    if (this.head) snap.generation = this.head.info.generation;
    if (snap.nodeInfoMap.size > this.tree.numNodes) {
      for (const name of [...snap.nodeInfoMap.keys()]) {
        const info = this.nodes.get(name)?.info;
        if (!info || !info.node) snap.nodeInfoMap.delete(name);
      }
      updateAll = true;
    }
    if (updateAll) snap.listGeneration = snap.generation;
    else if (changed.length > 0) snap.recordChanges(since, snap.generation, changed);
    if (updateAll) {
      snap.nodeInfoList = [];
      for (const name of this.tree.list()) {
        const n = snap.nodeInfoMap.get(name);
        if (n) snap.nodeInfoList.push(n);
      }
      snap.hot.ensure(snap.nodeInfoList.length);
      snap.nodeInfoList.forEach((n, i) => {
        n.slot = i;
        n.hot = snap.hot;
        snap.hot.write(i, n);
      });
    }
    if (updateAll || updateAffinity || updateAnti) {
      snap.withAffinity = snap.nodeInfoList.filter((n) => n.podsWithAffinity.length > 0);
      snap.withRequiredAntiAffinity = snap.nodeInfoList.filter((n) => n.podsWithRequiredAntiAffinity.length > 0);
    }
  }
}

/** What a node contributes to an aggregate: [key, count] pairs (counts may be 0: the key exists there). */
export type Contribution = readonly (readonly [string, number])[];

/** An aggregate over every node: per key, how many nodes contribute it and the sum of their counts. */
export type Aggregate = ReadonlyMap<string, { nodes: number; count: number }>;

interface AggregateEntry {
  generation: number;
  perNode: Map<string, Contribution>;
  totals: Map<string, { nodes: number; count: number }>;
}

const MAX_AGGREGATES = 32;
const MAX_CHANGE_RECORDS = 256;

function addContribution(totals: Map<string, { nodes: number; count: number }>, c: Contribution, sign: 1 | -1): void {
  for (const [k, n] of c) {
    let t = totals.get(k);
    if (!t) totals.set(k, (t = { nodes: 0, count: 0 }));
    t.nodes += sign;
    t.count += sign * n;
    if (t.nodes === 0) totals.delete(k);
  }
}

/** The nodes as one scheduling cycle sees them. */
export class Snapshot implements NodeInfoLister {
  nodeInfoMap = new Map<string, NodeInfo>();
  nodeInfoList: NodeInfo[] = [];
  /** The hot numbers of nodeInfoList, by slot. */
  readonly hot = new HotColumns();
  withAffinity: NodeInfo[] = [];
  withRequiredAntiAffinity: NodeInfo[] = [];
  generation = 0;
  /** The generation at which the set of nodes last changed. */
  listGeneration = 0;
  /** Recent updates: the nodes re-copied between two generations. */
  private readonly changes: { from: number; to: number; names: string[] }[] = [];
  private readonly aggregates = new Map<string, AggregateEntry>();

  recordChanges(from: number, to: number, names: string[]): void {
    this.changes.push({ from, to, names });
    if (this.changes.length > MAX_CHANGE_RECORDS) this.changes.shift();
  }

  /** Names of the nodes that changed after generation `g`; undefined when that is not known (recompute everything). */
  changedSince(g: number): Set<string> | undefined {
    if (g < this.listGeneration) return undefined;
    const out = new Set<string>();
    if (g >= this.generation) return out;
    let covered = this.generation;
    for (let i = this.changes.length - 1; i >= 0 && covered > g; i--) {
      const c = this.changes[i];
      if (c.to !== covered) return undefined;
      for (const n of c.names) out.add(n);
      covered = c.from;
    }
    return covered <= g ? out : undefined;
  }

  /**
   * The sum over all nodes of `contribution(node)`, kept across cycles under `key`: only
   * nodes changed since the last call are recomputed. `contribution` must depend on the
   * node only (and on what `key` names), so that an unchanged node contributes the same.
   */
  aggregate(key: string, contribution: (n: NodeInfo) => Contribution | undefined): Aggregate {
    let e = this.aggregates.get(key);
    const changed = e ? this.changedSince(e.generation) : undefined;
    if (!e || !changed) {
      e = { generation: this.generation, perNode: new Map(), totals: new Map() };
      for (const n of this.nodeInfoList) {
        const c = contribution(n);
        if (!c || c.length === 0) continue;
        e.perNode.set(n.name, c);
        addContribution(e.totals, c, 1);
      }
    } else {
      for (const name of changed) {
        const old = e.perNode.get(name);
        if (old) {
          addContribution(e.totals, old, -1);
          e.perNode.delete(name);
        }
        const n = this.nodeInfoMap.get(name);
        const c = n ? contribution(n) : undefined;
        if (c && c.length > 0) {
          e.perNode.set(name, c);
          addContribution(e.totals, c, 1);
        }
      }
      e.generation = this.generation;
      this.aggregates.delete(key);
    }
    this.aggregates.set(key, e);
    if (this.aggregates.size > MAX_AGGREGATES) this.aggregates.delete(this.aggregates.keys().next().value!);
    return e.totals;
  }

  /** A snapshot of fixed nodes and pods (tests, and plugins evaluated outside a cache). */
  static of(nodes: Node[], pods: Pod[] = [], priorityOf?: (p: Pod) => number): Snapshot {
    const cache = new Cache();
    for (const n of nodes) cache.addNode(n);
    for (const p of pods) if (p.spec.nodeName) cache.addPod(new PodInfo(p, priorityOf));
    const s = new Snapshot();
    cache.updateSnapshot(s);
    return s;
  }

  list(): readonly NodeInfo[] {
    return this.nodeInfoList;
  }

  get(name: string): NodeInfo | undefined {
    return this.nodeInfoMap.get(name);
  }

  havePodsWithAffinityList(): readonly NodeInfo[] {
    return this.withAffinity;
  }

  havePodsWithRequiredAntiAffinityList(): readonly NodeInfo[] {
    return this.withRequiredAntiAffinity;
  }

  numNodes(): number {
    return this.nodeInfoList.length;
  }
}
