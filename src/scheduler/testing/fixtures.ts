// Fluent fixtures for scheduler tests, as upstream's st.MakePod() / st.MakeNode():
//   makePod().name('p').req({ cpu: '1' }).toleration({ key: 'k', operator: 'Exists' }).obj()
//   makeNode().name('n1').capacity({ cpu: '4', memory: '8Gi' }).label('zone', 'a').obj()
// Objects are fresh on every obj() call.

import type { Affinity, LabelSelectorSpec, Node, Pod, Taint, Toleration, TopologySpreadConstraint } from '../framework/api.ts';

let uidCounter = 0;

export class PodWrapper {
  private readonly p: Pod;

  constructor() {
    this.p = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: '', namespace: 'default', uid: `uid-${++uidCounter}`, labels: {}, creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { containers: [], schedulerName: 'default-scheduler' },
      status: { phase: 'Pending' },
    };
  }

  name(n: string): this {
    this.p.metadata.name = n;
    if (this.p.metadata.uid!.startsWith('uid-') && !this.p.metadata.uid!.includes(':')) this.p.metadata.uid = `uid-${n}-${uidCounter}`;
    return this;
  }
  namespace(ns: string): this {
    this.p.metadata.namespace = ns;
    return this;
  }
  uid(u: string): this {
    this.p.metadata.uid = u;
    return this;
  }
  node(n: string): this {
    this.p.spec.nodeName = n;
    return this;
  }
  schedulerName(s: string): this {
    this.p.spec.schedulerName = s;
    return this;
  }
  label(k: string, v: string): this {
    this.p.metadata.labels![k] = v;
    return this;
  }
  labels(l: Record<string, string>): this {
    Object.assign(this.p.metadata.labels!, l);
    return this;
  }
  priority(n: number): this {
    this.p.spec.priority = n;
    return this;
  }
  priorityClassName(n: string): this {
    this.p.spec.priorityClassName = n;
    return this;
  }
  preemptionPolicy(p: 'Never' | 'PreemptLowerPriority'): this {
    this.p.spec.preemptionPolicy = p;
    return this;
  }
  /** A container named cN requesting `requests` (an empty object: no requests). */
  req(requests: Record<string, string>, image = 'registry.k8s.io/pause:3.10'): this {
    this.p.spec.containers.push({ name: `c${this.p.spec.containers.length}`, image, resources: Object.keys(requests).length ? { requests } : {} });
    return this;
  }
  container(image: string): this {
    this.p.spec.containers.push({ name: `c${this.p.spec.containers.length}`, image });
    return this;
  }
  initReq(requests: Record<string, string>): this {
    (this.p.spec.initContainers ??= []).push({ name: `i${this.p.spec.initContainers.length}`, image: 'busybox', resources: { requests } });
    return this;
  }
  sidecarReq(requests: Record<string, string>): this {
    (this.p.spec.initContainers ??= []).push({ name: `s${this.p.spec.initContainers.length}`, image: 'envoy', restartPolicy: 'Always', resources: { requests } });
    return this;
  }
  overhead(o: Record<string, string>): this {
    this.p.spec.overhead = o;
    return this;
  }
  hostPort(port: number, protocol = 'TCP', hostIP?: string): this {
    if (this.p.spec.containers.length === 0) this.container('nginx');
    const c = this.p.spec.containers[this.p.spec.containers.length - 1];
    (c.ports ??= []).push({ containerPort: port, hostPort: port, protocol, ...(hostIP ? { hostIP } : {}) });
    return this;
  }
  nodeSelector(s: Record<string, string>): this {
    this.p.spec.nodeSelector = s;
    return this;
  }
  private affinity(): Affinity {
    return (this.p.spec.affinity ??= {});
  }
  /** Adds a required node selector term with one expression. */
  nodeAffinity(key: string, operator: string, values?: string[]): this {
    const na = (this.affinity().nodeAffinity ??= {});
    const req = (na.requiredDuringSchedulingIgnoredDuringExecution ??= { nodeSelectorTerms: [] });
    req.nodeSelectorTerms.push({ matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] });
    return this;
  }
  nodeAffinityIn(key: string, values: string[]): this {
    return this.nodeAffinity(key, 'In', values);
  }
  /** Required affinity to nodes by name (matchFields metadata.name In), as the DaemonSet controller writes it. */
  nodeAffinityToNames(names: string[]): this {
    const na = (this.affinity().nodeAffinity ??= {});
    const req = (na.requiredDuringSchedulingIgnoredDuringExecution ??= { nodeSelectorTerms: [] });
    req.nodeSelectorTerms.push({ matchFields: [{ key: 'metadata.name', operator: 'In', values: names }] });
    return this;
  }
  preferredNodeAffinity(weight: number, key: string, operator: string, values?: string[]): this {
    const na = (this.affinity().nodeAffinity ??= {});
    (na.preferredDuringSchedulingIgnoredDuringExecution ??= []).push({ weight, preference: { matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] } });
    return this;
  }
  toleration(t: Toleration): this {
    (this.p.spec.tolerations ??= []).push(t);
    return this;
  }
  spreadConstraint(maxSkew: number, topologyKey: string, whenUnsatisfiable: 'DoNotSchedule' | 'ScheduleAnyway', selector: LabelSelectorSpec | null, extra: Partial<TopologySpreadConstraint> = {}): this {
    (this.p.spec.topologySpreadConstraints ??= []).push({ maxSkew, topologyKey, whenUnsatisfiable, labelSelector: selector, ...extra });
    return this;
  }
  podAffinity(topologyKey: string, selector: LabelSelectorSpec, opts: { weight?: number; namespaces?: string[]; namespaceSelector?: LabelSelectorSpec } = {}): this {
    const pa = (this.affinity().podAffinity ??= {});
    const term = { topologyKey, labelSelector: selector, ...(opts.namespaces ? { namespaces: opts.namespaces } : {}), ...(opts.namespaceSelector ? { namespaceSelector: opts.namespaceSelector } : {}) };
    if (opts.weight) (pa.preferredDuringSchedulingIgnoredDuringExecution ??= []).push({ weight: opts.weight, podAffinityTerm: term });
    else (pa.requiredDuringSchedulingIgnoredDuringExecution ??= []).push(term);
    return this;
  }
  podAntiAffinity(topologyKey: string, selector: LabelSelectorSpec, opts: { weight?: number; namespaces?: string[] } = {}): this {
    const pa = (this.affinity().podAntiAffinity ??= {});
    const term = { topologyKey, labelSelector: selector, ...(opts.namespaces ? { namespaces: opts.namespaces } : {}) };
    if (opts.weight) (pa.preferredDuringSchedulingIgnoredDuringExecution ??= []).push({ weight: opts.weight, podAffinityTerm: term });
    else (pa.requiredDuringSchedulingIgnoredDuringExecution ??= []).push(term);
    return this;
  }
  schedulingGates(names: string[]): this {
    this.p.spec.schedulingGates = names.map((name) => ({ name }));
    return this;
  }
  pvc(claimName: string): this {
    (this.p.spec.volumes ??= []).push({ name: `vol-${claimName}`, persistentVolumeClaim: { claimName } });
    return this;
  }
  terminating(): this {
    this.p.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    return this;
  }
  startTime(t: string): this {
    this.p.status!.startTime = t;
    return this;
  }
  nominatedNodeName(n: string): this {
    this.p.status!.nominatedNodeName = n;
    return this;
  }
  owner(kind: string, name: string, apiVersion = 'apps/v1'): this {
    this.p.metadata.ownerReferences = [{ apiVersion, kind, name, uid: `uid-${name}`, controller: true }];
    return this;
  }
  terminationGracePeriodSeconds(s: number): this {
    this.p.spec.terminationGracePeriodSeconds = s;
    return this;
  }
  annotate(k: string, v: string): this {
    (this.p.metadata.annotations ??= {})[k] = v;
    return this;
  }
  obj(): Pod {
    const p = structuredClone(this.p);
    if (p.spec.containers.length === 0) p.spec.containers.push({ name: 'c0', image: 'registry.k8s.io/pause:3.10' });
    return p;
  }
  /** The pod as a create request would send it (no uid, status, timestamps). */
  manifest(): Pod {
    const p = this.obj();
    delete p.metadata.uid;
    delete p.metadata.creationTimestamp;
    delete p.status;
    return p;
  }
}

export function makePod(): PodWrapper {
  return new PodWrapper();
}

export class NodeWrapper {
  private readonly n: Node;

  constructor() {
    this.n = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: '', labels: {} },
      spec: {},
      status: { allocatable: { cpu: '4', memory: '32Gi', pods: '110' }, capacity: { cpu: '4', memory: '32Gi', pods: '110' } },
    };
  }

  name(n: string): this {
    this.n.metadata.name = n;
    this.n.metadata.labels!['kubernetes.io/hostname'] = n;
    return this;
  }
  label(k: string, v: string): this {
    this.n.metadata.labels![k] = v;
    return this;
  }
  zone(z: string): this {
    return this.label('topology.kubernetes.io/zone', z);
  }
  capacity(c: Record<string, string>): this {
    this.n.status!.allocatable = { pods: '110', ...c };
    this.n.status!.capacity = { pods: '110', ...c };
    return this;
  }
  taint(key: string, value: string | undefined, effect: string): this {
    const t: Taint = { key, effect, ...(value !== undefined ? { value } : {}) };
    (this.n.spec!.taints ??= []).push(t);
    return this;
  }
  unschedulable(): this {
    this.n.spec!.unschedulable = true;
    return this;
  }
  image(names: string[], sizeBytes: number): this {
    (this.n.status!.images ??= []).push({ names, sizeBytes });
    return this;
  }
  obj(): Node {
    return structuredClone(this.n);
  }
}

export function makeNode(): NodeWrapper {
  return new NodeWrapper();
}
