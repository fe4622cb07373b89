// VolumeBinding: pods with PersistentVolumeClaims go where their volumes can be.
//   PreFilter: every claim must exist and not be terminating; an unbound claim of an
//     Immediate class means the volume is not there yet ("pod has unbound immediate
//     PersistentVolumeClaims").
//   Filter: a bound claim's PV node affinity must match the node; an unbound
//     WaitForFirstConsumer claim needs an available PV that fits (class, size, access
//     modes, node affinity) or a class that can provision on the node (allowedTopologies).
//   Reserve/PreBind: for the chosen node, a matched PV gets the claim in spec.claimRef and
//     a claim to provision gets the volume.kubernetes.io/selected-node annotation (what
//     the PV controller and external provisioners act on); then binding waits, up to
//     bindTimeoutSeconds, until every claim is Bound. The PV controller itself is not part
//     of the scheduler.

import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import type { ClusterEventWithHint, CycleState, EnqueueExtensions, FilterPlugin, Handle, PreBindPlugin, PreFilterPlugin, ReservePlugin, StateData } from '../framework/interface.ts';
import { ActionType } from '../framework/interface.ts';
import type { Node, NodeSelectorTerm, Pod } from '../framework/api.ts';
import { Status, errorStatus, skip, unresolvable } from '../framework/status.ts';
import { quantityNumber, type NodeInfo, type PodInfo } from '../framework/types.ts';
import { nodeSelectorMatches } from './helper.ts';
import { names } from './names.ts';

export const ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind";
export const ERR_REASON_NODE_CONFLICT = 'node(s) had volume node affinity conflict';
export const ERR_REASON_PV_NOT_EXIST = 'node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)';
export const ERR_UNBOUND_IMMEDIATE = 'pod has unbound immediate PersistentVolumeClaims';
export const ANNOTATION_SELECTED_NODE = 'volume.kubernetes.io/selected-node';
const NO_PROVISIONER = 'kubernetes.io/no-provisioner';

export interface VolumeBindingArgs {
  bindTimeoutSeconds?: number;
}

interface Claims {
  bound: KObject[];
  /** Unbound claims of WaitForFirstConsumer classes. */
  delayed: KObject[];
}

class PreFilterState implements StateData {
  readonly claims: Claims;
  /** Per node: PV name per claim key ("" = provision). */
  readonly decisions = new Map<string, Map<string, string>>();
  reserved: { node: string; decisions: Map<string, string> } | undefined;
  constructor(claims: Claims) {
    this.claims = claims;
  }
  clone(): StateData {
    return this;
  }
}

const KEY = 'PreFilter' + names.VolumeBinding;

function claimNames(pod: Pod): string[] {
  const out: string[] = [];
  for (const v of pod.spec.volumes ?? []) {
    if (v.persistentVolumeClaim?.claimName) out.push(v.persistentVolumeClaim.claimName);
    else if (v.ephemeral) out.push(`${pod.metadata.name}-${v.name}`);
  }
  return out;
}

function pvMatchesNode(pv: KObject, node: Node): boolean {
  const terms = pv.spec?.nodeAffinity?.required?.nodeSelectorTerms as NodeSelectorTerm[] | undefined;
  return !terms || nodeSelectorMatches(terms, node);
}

function topologyMatches(terms: { matchLabelExpressions?: { key: string; values: string[] }[] }[] | undefined, node: Node): boolean {
  if (!terms || terms.length === 0) return true;
  const labels = node.metadata.labels ?? {};
  return terms.some((t) => (t.matchLabelExpressions ?? []).every((e) => e.values.includes(labels[e.key])));
}

export class VolumeBinding implements PreFilterPlugin, FilterPlugin, ReservePlugin, PreBindPlugin, EnqueueExtensions {
  readonly name = names.VolumeBinding;
  private readonly handle: Handle | undefined;
  private readonly bindTimeoutMs: number;

  constructor(args: VolumeBindingArgs = {}, handle?: Handle) {
    this.handle = handle;
    this.bindTimeoutMs = (args.bindTimeoutSeconds ?? 600) * 1000;
  }

  private classOf(pvc: KObject): KObject | undefined {
    const name = pvc.spec?.storageClassName;
    return name ? this.handle?.listers.storageclasses?.get(undefined, name) : undefined;
  }

  preFilter(state: CycleState, pi: PodInfo): Status | undefined {
    const names = claimNames(pi.pod);
    if (names.length === 0) return skip();
    const claims: Claims = { bound: [], delayed: [] };
    for (const n of names) {
      const pvc = this.handle?.listers.persistentvolumeclaims?.get(pi.namespace, n);
      if (!pvc) return unresolvable(`persistentvolumeclaim "${n}" not found`);
      if (pvc.metadata.deletionTimestamp) return unresolvable(`persistentvolumeclaim "${n}" is being deleted`);
      if (pvc.spec?.volumeName) claims.bound.push(pvc);
      else if (this.classOf(pvc)?.volumeBindingMode === 'WaitForFirstConsumer') claims.delayed.push(pvc);
      else return unresolvable(ERR_UNBOUND_IMMEDIATE);
    }
    state.write(KEY, new PreFilterState(claims));
    return undefined;
  }

  filter(state: CycleState, _pi: PodInfo, nodeInfo: NodeInfo): Status | undefined {
    const s = state.read<PreFilterState>(KEY);
    if (!s) return undefined;
    const node = nodeInfo.node!;
    for (const pvc of s.claims.bound) {
      const pv = this.handle?.listers.persistentvolumes?.get(undefined, pvc.spec.volumeName);
      if (!pv) return unresolvable(ERR_REASON_PV_NOT_EXIST);
      if (!pvMatchesNode(pv, node)) return unresolvable(ERR_REASON_NODE_CONFLICT);
    }
    if (s.claims.delayed.length === 0) return undefined;
    const decisions = new Map<string, string>();
    const taken = new Set<string>();
    for (const pvc of s.claims.delayed) {
      const pv = this.findMatchingPV(pvc, node, taken);
      if (pv) {
        taken.add(pv);
        decisions.set(`${pvc.metadata.namespace}/${pvc.metadata.name}`, pv);
        continue;
      }
      const cls = this.classOf(pvc);
      if (!cls || !cls.provisioner || cls.provisioner === NO_PROVISIONER || !topologyMatches(cls.allowedTopologies, node)) return unresolvable(ERR_REASON_BIND_CONFLICT);
      decisions.set(`${pvc.metadata.namespace}/${pvc.metadata.name}`, '');
    }
    s.decisions.set(nodeInfo.name, decisions);
    return undefined;
  }

  /** The smallest available PV of the claim's class that holds its request and fits the node. */
  private findMatchingPV(pvc: KObject, node: Node, taken: Set<string>): string | undefined {
    const want = quantityNumber(pvc.spec?.resources?.requests?.storage, false);
    const modes: string[] = pvc.spec?.accessModes ?? [];
    let best: { name: string; size: number } | undefined;
    for (const pv of this.handle?.listers.persistentvolumes?.list() ?? []) {
      if (taken.has(pv.metadata.name!)) continue;
      if (pv.spec?.claimRef && !(pv.spec.claimRef.name === pvc.metadata.name && pv.spec.claimRef.namespace === pvc.metadata.namespace)) continue;
      if ((pv.spec?.storageClassName ?? '') !== (pvc.spec?.storageClassName ?? '')) continue;
      if (pv.status?.phase && pv.status.phase !== 'Available') continue;
      const size = quantityNumber(pv.spec?.capacity?.storage, false);
      if (size < want) continue;
      const pvModes: string[] = pv.spec?.accessModes ?? [];
      if (!modes.every((m) => pvModes.includes(m))) continue;
      if (!pvMatchesNode(pv, node)) continue;
      if (!best || size < best.size) best = { name: pv.metadata.name!, size };
    }
    return best?.name;
  }

  reserve(state: CycleState, _pi: PodInfo, nodeName: string): Status | undefined {
    const s = state.read<PreFilterState>(KEY);
    if (!s) return undefined;
    s.reserved = { node: nodeName, decisions: s.decisions.get(nodeName) ?? new Map() };
    return undefined;
  }

  unreserve(state: CycleState): void {
    const s = state.read<PreFilterState>(KEY);
    if (s) s.reserved = undefined;
  }

  async preBind(state: CycleState, pi: PodInfo, nodeName: string, signal: AbortSignal): Promise<Status | undefined> {
    const s = state.read<PreFilterState>(KEY);
    if (!s?.reserved || s.claims.delayed.length === 0) return undefined;
    const client = this.handle?.client;
    if (!client) return errorStatus(new Error('VolumeBinding: no client'));
    try {
      for (const [claimKey, pvName] of s.reserved.decisions) {
        const [ns, name] = claimKey.split('/');
        if (pvName) {
          const pvc = this.handle?.listers.persistentvolumeclaims?.get(ns, name);
          await client.patch(ref.persistentvolumes, undefined, pvName, 'merge', {
            spec: { claimRef: { kind: 'PersistentVolumeClaim', apiVersion: 'v1', namespace: ns, name, uid: pvc?.metadata.uid } },
          }, { signal });
        } else {
          await client.patch(ref.persistentvolumeclaims, ns, name, 'merge', { metadata: { annotations: { [ANNOTATION_SELECTED_NODE]: nodeName } } }, { signal });
        }
      }
      // Wait, as upstream, until the PV controller (or a provisioner) has bound every claim.
      const deadline = Date.now() + this.bindTimeoutMs;
      for (;;) {
        const pending = [...s.reserved.decisions.keys()].filter((k) => {
          const [ns, name] = k.split('/');
          const pvc = this.handle?.listers.persistentvolumeclaims?.get(ns, name);
          return !pvc?.spec?.volumeName || pvc.status?.phase !== 'Bound';
        });
        if (pending.length === 0) return undefined;
        if (Date.now() > deadline || signal.aborted) return errorStatus(new Error(`binding volumes: context deadline exceeded (claims ${pending.join(', ')} of ${pi.key} not bound)`));
        await new Promise((r) => setTimeout(r, 1000));
      }
    } catch (e) {
      return errorStatus(e);
    }
  }

  eventsToRegister(): ClusterEventWithHint[] {
    return [
      { event: { resource: 'PersistentVolumeClaim', actionType: ActionType.Add | ActionType.UpdateOther } },
      { event: { resource: 'PersistentVolume', actionType: ActionType.Add | ActionType.UpdateOther } },
      { event: { resource: 'StorageClass', actionType: ActionType.Add | ActionType.UpdateOther } },
      { event: { resource: 'Node', actionType: ActionType.Add | ActionType.UpdateNodeLabel | ActionType.UpdateNodeTaint } },
    ];
  }
}
