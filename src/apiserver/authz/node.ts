// The Node authorizer (upstream plugin/pkg/auth/authorizer/node) for kubelets: users
// system:node:<name> in group system:nodes. A node reads only the secrets, configmaps,
// persistent volume claims, persistent volumes and service-account tokens of pods bound
// to it (the graph), its own Lease and CSINode, and otherwise what the system:node role's
// rules allow. Simplified from upstream, and said where:
// - the graph is a per-pod reference list kept from the pods in the watch cache (pods →
//   secrets, configmaps, PVCs, service account; PVC → PV looked up at request time; PV →
//   secrets is not followed; ResourceClaims and VolumeAttachments are not in the graph);
// - upstream's NodeRestriction admission (a node may only change its own Node and the
//   pods bound to it) is checked here as authorization on the object's current state,
//   since Skiff has no admission chain for it: updates, patches and deletes of nodes,
//   nodes/status, pods, pods/status by another node are refused;
// - AuthorizeNodeWithSelectors (1.32 beta: get of other nodes, unfiltered pod lists) is not enforced.

import type { KObject } from '../../api/object.ts';
import type { Attributes, Authorizer, AuthorizerResult } from './attributes.ts';
import { rulesAllow, type PolicyRule } from './rbac.ts';

export const NODES_GROUP = 'system:nodes';
const NODE_USER_PREFIX = 'system:node:';

/** upstream NodeIdentifier: the node name of a kubelet's user, or undefined. */
export function nodeIdentity(user: { name: string; groups: string[] }): string | undefined {
  if (!user.name.startsWith(NODE_USER_PREFIX)) return undefined;
  if (!user.groups.includes(NODES_GROUP)) return undefined;
  return user.name.slice(NODE_USER_PREFIX.length);
}

export interface NodeGraphSource {
  pod(namespace: string, name: string): KObject | undefined;
  pvc(namespace: string, name: string): KObject | undefined;
  pods(): Iterable<KObject>;
  /** Every pod change; `cur` undefined when deleted. */
  onPodChanged(fn: (prev: KObject | undefined, cur: KObject | undefined) => void): void;
}

/** The objects a pod refers to, as "kind/namespace/name" keys. */
export function podReferences(pod: KObject): string[] {
  const ns = pod.metadata.namespace ?? '';
  const out = new Set<string>();
  const spec = pod.spec ?? {};
  const secret = (n: unknown) => typeof n === 'string' && n && out.add(`secret/${ns}/${n}`);
  const configMap = (n: unknown) => typeof n === 'string' && n && out.add(`configmap/${ns}/${n}`);
  for (const s of spec.imagePullSecrets ?? []) secret(s?.name);
  if (spec.serviceAccountName) out.add(`serviceaccount/${ns}/${spec.serviceAccountName}`);
  const containers = [...(spec.containers ?? []), ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])];
  for (const c of containers) {
    for (const e of c?.env ?? []) {
      secret(e?.valueFrom?.secretKeyRef?.name);
      configMap(e?.valueFrom?.configMapKeyRef?.name);
    }
    for (const e of c?.envFrom ?? []) {
      secret(e?.secretRef?.name);
      configMap(e?.configMapRef?.name);
    }
  }
  for (const v of spec.volumes ?? []) {
    if (!v) continue;
    secret(v.secret?.secretName);
    configMap(v.configMap?.name);
    for (const src of v.projected?.sources ?? []) {
      secret(src?.secret?.name);
      configMap(src?.configMap?.name);
    }
    for (const k of ['azureFile', 'cephfs', 'cinder', 'flexVolume', 'iscsi', 'rbd', 'scaleIO', 'storageos', 'csi']) {
      const s = v[k];
      secret(s?.secretName ?? s?.secretRef?.name ?? s?.nodePublishSecretRef?.name);
    }
    if (v.persistentVolumeClaim?.claimName) out.add(`pvc/${ns}/${v.persistentVolumeClaim.claimName}`);
    if (v.ephemeral) out.add(`pvc/${ns}/${pod.metadata.name}-${v.name}`);
  }
  return [...out];
}

export class NodeAuthorizer implements Authorizer {
  private readonly source: NodeGraphSource;
  private readonly nodeRules: readonly PolicyRule[];
  /** node → reference key → number of its pods holding the reference */
  private readonly refs = new Map<string, Map<string, number>>();

  constructor(opts: { source: NodeGraphSource; nodeRules: readonly PolicyRule[] }) {
    this.source = opts.source;
    this.nodeRules = opts.nodeRules;
    for (const p of opts.source.pods()) this.add(p, 1);
    opts.source.onPodChanged((prev, cur) => {
      if (prev) this.add(prev, -1);
      if (cur) this.add(cur, 1);
    });
  }

  private add(pod: KObject, delta: number): void {
    const node = pod.spec?.nodeName;
    if (typeof node !== 'string' || !node) return;
    let m = this.refs.get(node);
    if (!m) this.refs.set(node, (m = new Map()));
    for (const k of podReferences(pod)) {
      const n = (m.get(k) ?? 0) + delta;
      if (n > 0) m.set(k, n);
      else m.delete(k);
    }
    if (m.size === 0) this.refs.delete(node);
  }

  /** The node has a pod referring to the object. */
  hasRef(node: string, key: string): boolean {
    return (this.refs.get(node)?.get(key) ?? 0) > 0;
  }

  private noRelationship(node: string): AuthorizerResult {
    return { decision: 'NoOpinion', reason: `no relationship found between node '${node}' and this object` };
  }

  authorize(a: Attributes): AuthorizerResult {
    const node = nodeIdentity(a.user);
    if (node === undefined) return { decision: 'NoOpinion', reason: '' };
    if (!node) return { decision: 'NoOpinion', reason: 'unknown node' };
    if (!a.resourceRequest) return this.byRules(a);
    if (a.apiGroup === '') {
      switch (a.resource) {
        case 'secrets':
          return this.readNamespaced(node, a, 'secret');
        case 'configmaps':
          return this.readNamespaced(node, a, 'configmap');
        case 'persistentvolumeclaims':
          if (a.subresource === 'status') return this.pvcStatus(node, a);
          return this.readNamespaced(node, a, 'pvc');
        case 'persistentvolumes':
          return this.persistentVolume(node, a);
        case 'serviceaccounts':
          if (a.subresource === 'token') {
            if (a.verb !== 'create') return { decision: 'NoOpinion', reason: `can only create tokens for individual service accounts` };
            if (!a.name) return { decision: 'NoOpinion', reason: `can only create tokens for individual service accounts` };
            return this.hasRef(node, `serviceaccount/${a.namespace}/${a.name}`) ? allow() : this.noRelationship(node);
          }
          break;
        case 'nodes':
          // NodeRestriction: a node changes only its own Node object.
          if ((a.verb === 'update' || a.verb === 'patch' || a.verb === 'delete') && a.name !== node) {
            return { decision: 'NoOpinion', reason: `node '${node}' cannot modify node '${a.name}'` };
          }
          break;
        case 'pods':
          if ((a.verb === 'update' || a.verb === 'patch' || a.verb === 'delete') && a.name) {
            const pod = this.source.pod(a.namespace, a.name);
            if (pod && pod.spec?.nodeName !== node) {
              return { decision: 'NoOpinion', reason: `node '${node}' can only modify pods bound to it` };
            }
          }
          break;
      }
    } else if (a.apiGroup === 'coordination.k8s.io' && a.resource === 'leases') {
      // Only its own Lease in kube-node-lease.
      if (!['get', 'create', 'update', 'patch', 'delete'].includes(a.verb)) {
        return { decision: 'NoOpinion', reason: `can only get, create, update, patch, or delete a node lease` };
      }
      if (a.namespace !== 'kube-node-lease') return { decision: 'NoOpinion', reason: `can only access leases in the kube-node-lease namespace` };
      if (a.verb !== 'create' && a.name !== node) return { decision: 'NoOpinion', reason: `can only access node lease with the same name as the requesting node` };
      return allow();
    } else if (a.apiGroup === 'storage.k8s.io' && a.resource === 'csinodes') {
      if (a.verb !== 'create' && a.name !== node) return { decision: 'NoOpinion', reason: `can only access CSINode with the same name as the requesting node` };
      if (!['get', 'create', 'update', 'patch', 'delete'].includes(a.verb)) return { decision: 'NoOpinion', reason: `can only get, create, update, patch, or delete a CSINode` };
      return allow();
    }
    return this.byRules(a);
  }

  private byRules(a: Attributes): AuthorizerResult {
    return rulesAllow(a, this.nodeRules) ? allow() : { decision: 'NoOpinion', reason: '' };
  }

  /** upstream authorizeReadNamespacedObject: get/list/watch of one named object related to the node. */
  private readNamespaced(node: string, a: Attributes, kind: string): AuthorizerResult {
    if (a.verb !== 'get' && a.verb !== 'list' && a.verb !== 'watch') return { decision: 'NoOpinion', reason: `can only read resources of this type` };
    if (a.subresource) return { decision: 'NoOpinion', reason: `cannot read subresource` };
    if (!a.namespace) return { decision: 'NoOpinion', reason: `can only read namespaced object of this type` };
    if (!a.name) return { decision: 'NoOpinion', reason: `No Object name found, expected a name in the request` };
    return this.hasRef(node, `${kind}/${a.namespace}/${a.name}`) ? allow() : this.noRelationship(node);
  }

  private pvcStatus(node: string, a: Attributes): AuthorizerResult {
    if (a.verb !== 'get' && a.verb !== 'update' && a.verb !== 'patch') return { decision: 'NoOpinion', reason: `can only get, update or patch persistentvolumeclaim status` };
    return this.hasRef(node, `pvc/${a.namespace}/${a.name}`) ? allow() : this.noRelationship(node);
  }

  /** A PV is reachable through a PVC of one of the node's pods (spec.volumeName). */
  private persistentVolume(node: string, a: Attributes): AuthorizerResult {
    if (a.verb !== 'get') return { decision: 'NoOpinion', reason: `can only get individual resources of this type` };
    if (a.subresource) return { decision: 'NoOpinion', reason: `cannot get subresource` };
    for (const key of this.refs.get(node)?.keys() ?? []) {
      if (!key.startsWith('pvc/')) continue;
      const [, ns, name] = key.split('/');
      if (this.source.pvc(ns, name)?.spec?.volumeName === a.name) return allow();
    }
    return this.noRelationship(node);
  }
}

function allow(): AuthorizerResult {
  return { decision: 'Allow', reason: '' };
}
