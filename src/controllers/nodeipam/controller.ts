// The node IPAM controller (upstream's pkg/controller/nodeipam with the RangeAllocator,
// what `--allocate-node-cidrs --cluster-cidr` turns on): every node without
// spec.podCIDR gets the next free /24 (configurable) of the cluster pod range, one per
// range for dual-stack clusters, written to spec.podCIDR and spec.podCIDRs. Subnets
// nodes already hold (simulated nodes and kubelets may set their own; every node is
// read before anything is allocated) are never handed out again; a deleted node's
// subnet is free again. A full range leaves the node without one and records
// CIDRNotAvailable on it.

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { RateLimitingQueue, runWorkers, TerminalError } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { recordNodeStatusChange } from '../nodelifecycle/taints.ts';
import { CidrSet, parseCidr } from './cidrset.ts';

export const DEFAULT_CLUSTER_CIDR = '10.244.0.0/16';

export interface NodeIpamControllerOptions {
  /** The pod range(s) (--cluster-cidr; comma-separated or a list, at most one per family; 10.244.0.0/16). */
  clusterCIDR?: string | string[];
  /** Size of an IPv4 node subnet (--node-cidr-mask-size-ipv4; 24). */
  nodeCIDRMaskSizeIPv4?: number;
  /** Size of an IPv6 node subnet (--node-cidr-mask-size-ipv6; 64). */
  nodeCIDRMaskSizeIPv6?: number;
  /** Service range(s) (--service-cluster-ip-range): subnets overlapping them are never handed out. */
  serviceCIDR?: string | string[];
}

function list(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean);
}

function nodeCIDRs(node: KObject): string[] {
  const l: string[] = node.spec?.podCIDRs ?? [];
  if (l.length) return l;
  return node.spec?.podCIDR ? [node.spec.podCIDR] : [];
}

/** The CIDR sets of the options; throws for a bad configuration. */
export function clusterCidrSets(opts: NodeIpamControllerOptions): CidrSet[] {
  const cidrs = list(opts.clusterCIDR ?? DEFAULT_CLUSTER_CIDR);
  if (!cidrs.length) throw new Error('nodeipam: --cluster-cidr is empty');
  const families = cidrs.map((c) => parseCidr(c).family);
  if (cidrs.length > 2 || new Set(families).size !== families.length) {
    throw new Error(`nodeipam: --cluster-cidr takes at most one IPv4 and one IPv6 range, got ${cidrs.join(',')}`);
  }
  const sets = cidrs.map((c) => new CidrSet(c, parseCidr(c).family === 4 ? (opts.nodeCIDRMaskSizeIPv4 ?? 24) : (opts.nodeCIDRMaskSizeIPv6 ?? 64)));
  // Service addresses are not pod addresses: subnets overlapping the service range are taken.
  for (const svc of list(opts.serviceCIDR)) for (const set of sets) set.occupyOverlap(svc);
  return sets;
}

/**
 * The node IPAM controller. Throws at once for a bad configuration; start() builds a
 * fresh instance (and allocator state, from the nodes) for each term of leadership.
 */
export function nodeIpamController(opts: NodeIpamControllerOptions = {}): Controller {
  clusterCidrSets(opts);
  return { name: 'nodeipam', start: (ctx, signal) => new NodeIpamController(ctx, opts).run(signal) };
}

export class NodeIpamController {
  private readonly ctx: ControllerContext;
  private readonly sets: CidrSet[];
  private readonly queue = new RateLimitingQueue<string>({ name: 'nodeipam' });
  private readonly nodes: Informer;
  private readonly recorder: EventRecorder;

  /** Registers the node informer and handlers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, opts: NodeIpamControllerOptions = {}) {
    this.ctx = ctx;
    this.sets = clusterCidrSets(opts);
    this.recorder = ctx.recorder('cidrAllocator');
    const nodes = (this.nodes = ctx.factory.informerFor(ref.nodes));
    nodes.addEventHandler({
      onAdd: (n) => this.queue.add(n.metadata.name!),
      onUpdate: (_o, n) => this.queue.add(n.metadata.name!),
      onDelete: (n) => {
        this.release(n);
        // A freed range may be what a waiting node needs: look at those without one now, not after their backoff.
        for (const o of nodes.lister.list()) if (!nodeCIDRs(o).length) this.queue.add(o.metadata.name!);
      },
    });
  }

  async run(signal: AbortSignal): Promise<void> {
    if (!(await this.nodes.waitForSync(signal))) return;
    // Everything nodes hold is taken before anything is handed out.
    for (const n of this.nodes.lister.list()) this.occupy(n);
    await runWorkers(this.queue, this.ctx.workers, (name, sig) => this.sync(name, sig), signal, { log: this.ctx.log });
  }

  private setFor(cidr: string): CidrSet | undefined {
    try {
      const fam = parseCidr(cidr).family;
      return this.sets.find((s) => s.cluster.family === fam);
    } catch {
      return undefined;
    }
  }

  private release(node: KObject): void {
    for (const c of nodeCIDRs(node)) {
      try {
        this.setFor(c)?.release(c);
      } catch (e) {
        this.ctx.log('failed to release the CIDR of a deleted node', { node: node.metadata.name, cidr: c, error: String((e as Error).message) });
      }
    }
  }

  /** Marks a node's subnets used; false (logged) when one lies outside the cluster range. */
  private occupy(node: KObject): boolean {
    for (const c of nodeCIDRs(node)) {
      try {
        const set = this.setFor(c);
        if (!set) throw new Error(`no cluster CIDR of the family of ${c}`);
        set.occupy(c);
      } catch (e) {
        this.ctx.log('failed to mark cidr as occupied for node', { node: node.metadata.name, cidr: c, error: String((e as Error).message) });
        return false;
      }
    }
    return true;
  }

  private async sync(name: string, signal: AbortSignal): Promise<void> {
    const { ctx, recorder } = this;
    const node = this.nodes.lister.get(undefined, name);
    if (!node) return;
    if (nodeCIDRs(node).length) {
      if (!this.occupy(node)) throw new TerminalError(`node ${name} has a podCIDR outside the cluster CIDR`);
      return;
    }
    const allocated: string[] = [];
    for (const [i, set] of this.sets.entries()) {
      const c = set.allocateNext();
      if (!c) {
        for (const a of allocated) this.setFor(a)?.release(a);
        recordNodeStatusChange(recorder, { node, newStatus: 'CIDRNotAvailable' });
        throw new Error(`failed to allocate cidr from cluster cidr at idx:${i}: CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range`);
      }
      allocated.push(c);
    }
    try {
      // The resourceVersion guards against a kubelet setting its own range meanwhile.
      await ctx.client.patch(
        ref.nodes,
        undefined,
        name,
        'merge',
        { metadata: { resourceVersion: node.metadata.resourceVersion }, spec: { podCIDR: allocated[0], podCIDRs: allocated } },
        { signal },
      );
      ctx.log('set node PodCIDR', { node: name, podCIDRs: allocated });
    } catch (e) {
      for (const a of allocated) this.setFor(a)?.release(a);
      if (isStatusError(e) && e.code === 404) return;
      // A conflict: the node changed; it is looked at again with its new state.
      if (!(isStatusError(e) && e.code === 409)) recordNodeStatusChange(recorder, { node, newStatus: 'CIDRAssignmentFailed' });
      throw e;
    }
  }
}
