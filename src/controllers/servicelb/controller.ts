// The built-in service load balancer (what k3s's ServiceLB gives its users, run in the
// controller manager as upstream's "service-lb-controller"). Skiff's nftables proxy
// already answers every status.loadBalancer.ingress IP on every node, so no svclb pods
// are needed: this controller only decides the addresses.
//
// For every Service of type LoadBalancer without spec.loadBalancerClass (a class names
// another implementation, as upstream's service controller leaves those alone):
//   - without a pool, status.loadBalancer.ingress lists the addresses of the Ready nodes
//     (not labelled node.kubernetes.io/exclude-from-external-load-balancers; with
//     externalTrafficPolicy Local, only nodes with a ready endpoint): their ExternalIPs
//     if any such node has one, else their InternalIPs, per family in the order of
//     spec.ipFamilies, sorted as strings (k3s's podIPs/filterByIPFamily);
//   - with a pool (`pool: CIDR`, one per family), one address per family of the
//     Service from the pool, kept stable: an address a Service already holds in its
//     status stays its own (the older Service wins if two claim one), others get the
//     lowest free one;
//   - port clash: an address on which an older LoadBalancer Service (creationTimestamp,
//     then namespace/name) already exposes the same port and protocol is withheld from
//     the newer one, with a Warning event; the newer Service gets it once the clash is
//     gone (the older one deleted, changed or moved).
// A Service that is no longer of type LoadBalancer has its ingress cleared. Levels, not
// edges: any change to a Service, node or relevant EndpointSlice recomputes the whole
// assignment from the caches (once per change, memoised) and every affected Service is
// synced against it, writing its status only when it differs.

import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import type { EventRecorder } from '../../client/events.ts';
import type { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { keyOf, splitKey } from '../../client/util.ts';
import { RateLimitingQueue, runWorkers } from '../../client/workqueue.ts';
import type { Controller, ControllerContext } from '../context.ts';
import { isNodeReady } from '../nodelifecycle/taints.ts';
import { formatCidr, formatIP, parseCidr, type ParsedCidr } from '../nodeipam/cidrset.ts';

/** Upstream's label keeping a node out of external load balancers' backends. */
export const LABEL_EXCLUDE_FROM_EXTERNAL_LB = 'node.kubernetes.io/exclude-from-external-load-balancers';
const LABEL_SERVICE_NAME = 'kubernetes.io/service-name';
/** Events are reported as upstream's (and k3s's) cloud service controller reports them. */
export const SERVICE_LB_EVENT_COMPONENT = 'service-controller';
const FIELD_MANAGER = 'service-lb-controller';

export interface ServiceLBControllerOptions {
  /**
   * Hand out addresses from this range instead of the nodes' addresses: a CIDR, or
   * several (comma-separated or a list), at most one per IP family. Network and
   * broadcast addresses of IPv4 ranges wider than /31 are never handed out.
   */
  pool?: string | string[];
}

type Family = 'IPv4' | 'IPv6';

interface Pool {
  cidr: ParsedCidr;
  first: bigint;
  last: bigint;
}

/** What one Service should have: its ingress IPs and, when something was withheld, why. */
export interface Assignment {
  ips: string[];
  /** The error an upstream cloud provider's EnsureLoadBalancer would return (port clash, pool exhausted). */
  problem?: string;
}

function poolList(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : v.split(',')).map((s) => s.trim()).filter(Boolean);
}

/** Parses the pool option; throws for a bad configuration. */
export function parsePools(v: string | string[] | undefined): Map<Family, Pool> {
  const out = new Map<Family, Pool>();
  for (const s of poolList(v)) {
    const cidr = parseCidr(s);
    const fam: Family = cidr.family === 4 ? 'IPv4' : 'IPv6';
    if (out.has(fam)) throw new Error(`service-lb-controller: the pool takes at most one range per IP family, got ${poolList(v).join(',')}`);
    const bits = BigInt((cidr.family === 4 ? 32 : 128) - cidr.prefix);
    let first = cidr.base;
    let last = cidr.base + (1n << bits) - 1n;
    if (cidr.family === 4 && cidr.prefix < 31) {
      first += 1n;
      last -= 1n;
    }
    out.set(fam, { cidr, first, last });
  }
  return out;
}

function familyOf(ip: string): Family {
  return ip.includes(':') ? 'IPv6' : 'IPv4';
}

function ipValue(ip: string): bigint | undefined {
  try {
    return parseCidr(`${ip}/${ip.includes(':') ? 128 : 32}`).base;
  } catch {
    return undefined;
  }
}

/** The address's value when it lies in the pool's usable range. */
function inPool(pool: Pool, ip: string): bigint | undefined {
  const v = ipValue(ip);
  if (v === undefined || familyOf(ip) !== (pool.cidr.family === 4 ? 'IPv4' : 'IPv6')) return undefined;
  return v >= pool.first && v <= pool.last ? v : undefined;
}

function serviceFamilies(svc: KObject): Family[] {
  const f: string[] = svc.spec?.ipFamilies ?? [];
  const out = f.filter((x): x is Family => x === 'IPv4' || x === 'IPv6');
  if (out.length) return out;
  const ip: string | undefined = svc.spec?.clusterIP;
  return [ip && ip.includes(':') ? 'IPv6' : 'IPv4'];
}

/** Service types this controller gives an address to. */
export function wantsLoadBalancer(svc: KObject): boolean {
  return svc.spec?.type === 'LoadBalancer' && !svc.spec?.loadBalancerClass && !svc.metadata.deletionTimestamp;
}

function currentIngress(svc: KObject): { ip?: string; hostname?: string; ipMode?: string; ports?: unknown }[] {
  return svc.status?.loadBalancer?.ingress ?? [];
}

function ingressEqual(svc: KObject, ips: string[]): boolean {
  const cur = currentIngress(svc);
  if (cur.length !== ips.length) return false;
  return cur.every((c, i) => c.ip === ips[i] && !c.hostname && (c.ipMode ?? 'VIP') === 'VIP' && !(Array.isArray(c.ports) && c.ports.length));
}

/** Older first: creationTimestamp, then namespace/name (upstream breaks such ties by name, too). */
function byAge(a: KObject, b: KObject): number {
  const ca = a.metadata.creationTimestamp ?? '';
  const cb = b.metadata.creationTimestamp ?? '';
  if (ca !== cb) return ca < cb ? -1 : 1;
  const ka = keyOf(a);
  const kb = keyOf(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function sortStrings(a: string[]): string[] {
  return [...a].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}

/** What of a node the assignment depends on; heartbeats that change nothing else are ignored. */
function nodeFingerprint(n: KObject): string {
  const addrs = (n.status?.addresses ?? []).map((a: { type: string; address: string }) => `${a.type}=${a.address}`);
  const excluded = n.metadata.labels?.[LABEL_EXCLUDE_FROM_EXTERNAL_LB] !== undefined;
  return JSON.stringify([isNodeReady(n), excluded, !!n.metadata.deletionTimestamp, addrs]);
}

/** What of a Service the assignment depends on (its own addresses only when they come from a pool). */
function serviceFingerprint(s: KObject, pooled: boolean): string {
  const ports = (s.spec?.ports ?? []).map((p: { port: number; protocol?: string }) => `${p.port}/${p.protocol ?? 'TCP'}`);
  return JSON.stringify([
    s.spec?.type,
    s.spec?.loadBalancerClass,
    s.spec?.externalTrafficPolicy,
    s.spec?.ipFamilies,
    !!s.metadata.deletionTimestamp,
    s.metadata.creationTimestamp,
    ports,
    pooled ? currentIngress(s).map((i) => i.ip ?? i.hostname) : [],
  ]);
}

/**
 * The whole assignment, computed from the cached Services, nodes and (for
 * externalTrafficPolicy Local) EndpointSlices. Pure: the controller calls it once per
 * change of its inputs; tests may call it directly.
 */
export function computeAssignments(input: {
  services: KObject[];
  nodes: KObject[];
  slices: KObject[];
  pools: Map<Family, Pool>;
  /** The previous assignment: pool addresses handed out but not yet seen in a Service's status stay its own. */
  previous?: Map<string, Assignment>;
}): Map<string, Assignment> {
  const services = input.services.filter(wantsLoadBalancer).sort(byAge);
  const out = new Map<string, Assignment>();
  const candidates = new Map<string, { ips: string[]; problem?: string }>();

  if (input.pools.size) {
    // Pass 1: addresses Services hold in their status stay theirs (the older one wins a double claim).
    const taken = new Map<Family, Map<bigint, string>>();
    const held = new Map<string, Map<Family, string>>();
    for (const fam of input.pools.keys()) taken.set(fam, new Map());
    for (const svc of services) {
      const key = keyOf(svc);
      const fams = serviceFamilies(svc);
      const mine = new Map<Family, string>();
      const claims = [...currentIngress(svc).map((i) => i.ip), ...(input.previous?.get(key)?.ips ?? [])];
      for (const ip of claims) {
        if (!ip) continue;
        const fam = familyOf(ip);
        const pool = input.pools.get(fam);
        if (!pool || !fams.includes(fam) || mine.has(fam)) continue;
        const v = inPool(pool, ip);
        if (v === undefined || taken.get(fam)!.has(v)) continue;
        taken.get(fam)!.set(v, key);
        mine.set(fam, formatIP(v, pool.cidr.family));
      }
      held.set(key, mine);
    }
    // Pass 2: the lowest free address of each family for those without one, oldest first.
    const cursor = new Map<Family, bigint>();
    for (const svc of services) {
      const key = keyOf(svc);
      const mine = held.get(key)!;
      const ips: string[] = [];
      const problems: string[] = [];
      const fams = serviceFamilies(svc);
      for (const fam of fams) {
        const pool = input.pools.get(fam);
        if (!pool) continue;
        let ip = mine.get(fam);
        if (!ip) {
          const t = taken.get(fam)!;
          let v = cursor.get(fam) ?? pool.first;
          while (v <= pool.last && t.has(v)) v++;
          if (v <= pool.last) {
            t.set(v, key);
            cursor.set(fam, v + 1n);
            ip = formatIP(v, pool.cidr.family);
          } else {
            cursor.set(fam, v);
            problems.push(`no free address left in the pool ${formatCidr(pool.cidr)}`);
          }
        }
        if (ip) ips.push(ip);
      }
      if (!fams.some((f) => input.pools.has(f))) problems.push(`the pool has no ${fams.join('/')} range`);
      candidates.set(key, { ips, ...(problems.length ? { problem: problems.join('; ') } : {}) });
    }
  } else {
    const eligible = input.nodes.filter((n) => isNodeReady(n) && !n.metadata.deletionTimestamp && n.metadata.labels?.[LABEL_EXCLUDE_FROM_EXTERNAL_LB] === undefined);
    const readyNodesOf = (svc: KObject): Set<string> => {
      const names = new Set<string>();
      for (const sl of input.slices) {
        if (sl.metadata.namespace !== svc.metadata.namespace || sl.metadata.labels?.[LABEL_SERVICE_NAME] !== svc.metadata.name) continue;
        for (const ep of sl.endpoints ?? []) {
          if (ep.targetRef?.kind === 'Pod' && ep.conditions?.ready === true && ep.nodeName) names.add(ep.nodeName);
        }
      }
      return names;
    };
    for (const svc of services) {
      const local = svc.spec?.externalTrafficPolicy === 'Local';
      const ready = local ? readyNodesOf(svc) : undefined;
      const ext = new Set<string>();
      const int = new Set<string>();
      for (const n of eligible) {
        if (ready && !ready.has(n.metadata.name!)) continue;
        for (const a of n.status?.addresses ?? []) {
          if (a.type === 'ExternalIP') ext.add(a.address);
          else if (a.type === 'InternalIP') int.add(a.address);
        }
      }
      const chosen = [...(ext.size ? ext : int)];
      const ips: string[] = [];
      for (const fam of serviceFamilies(svc)) ips.push(...sortStrings(chosen.filter((ip) => familyOf(ip) === fam)));
      candidates.set(keyOf(svc), { ips });
    }
  }

  // Port clashes: the older Service keeps ip:port/protocol; the newer loses that address.
  const owner = new Map<string, string>();
  for (const svc of services) {
    const key = keyOf(svc);
    const cand = candidates.get(key)!;
    const ports: string[] = (svc.spec?.ports ?? []).map((p: { port: number; protocol?: string }) => `${p.port}/${p.protocol ?? 'TCP'}`);
    const ips: string[] = [];
    const clashes: string[] = [];
    for (const ip of cand.ips) {
      const clash = ports.map((p) => [p, owner.get(`${ip} ${p}`)] as const).find(([, o]) => o !== undefined);
      if (clash) clashes.push(`port ${clash[0]} on ${ip} is already used by LoadBalancer service ${clash[1]}`);
      else ips.push(ip);
    }
    for (const ip of ips) for (const p of ports) owner.set(`${ip} ${p}`, key);
    const problems = [...(cand.problem ? [cand.problem] : []), ...clashes];
    out.set(key, { ips, ...(problems.length ? { problem: problems.join('; ') } : {}) });
  }
  return out;
}

/**
 * The service load balancer. Throws at once for a bad pool; start() builds a fresh
 * instance for each term of the manager's leadership.
 */
export function serviceLBController(opts: ServiceLBControllerOptions = {}): Controller {
  parsePools(opts.pool);
  return { name: 'service-lb-controller', start: (ctx, signal) => new ServiceLBController(ctx, opts).run(signal) };
}

export class ServiceLBController {
  private readonly ctx: ControllerContext;
  private readonly pools: Map<Family, Pool>;
  private readonly queue = new RateLimitingQueue<string>({ name: 'service-lb-controller' });
  private readonly services: Informer;
  private readonly nodes: Informer;
  private readonly slices: Informer;
  private readonly recorder: EventRecorder;
  /** Bumped by every change the assignment depends on. */
  private generation = 0;
  private memo?: { generation: number; assignments: Map<string, Assignment> };
  private synced = false;
  /** The problem last reported per Service uid, so a standing clash is reported once, not per sync. */
  private readonly reported = new Map<string, string>();

  /** Registers informers and handlers on ctx.factory (synchronously, as the contract asks). */
  constructor(ctx: ControllerContext, opts: ServiceLBControllerOptions = {}) {
    this.ctx = ctx;
    this.pools = parsePools(opts.pool);
    this.recorder = ctx.recorder(SERVICE_LB_EVENT_COMPONENT);
    this.services = ctx.factory.informerFor(ref.services);
    this.nodes = ctx.factory.informerFor(ref.nodes);
    this.slices = ctx.factory.informerFor(ref.endpointslices);
    this.services.addEventHandler({
      onAdd: (s) => this.changed(s),
      onUpdate: (o, s) => {
        const pooled = this.pools.size > 0;
        // Others are looked at again only when the assignment may change; this one always
        // (a status written by someone else is put right).
        if (serviceFingerprint(o, pooled) !== serviceFingerprint(s, pooled)) this.changed(s);
        else this.queue.add(keyOf(s));
      },
      onDelete: (s) => {
        this.reported.delete(s.metadata.uid ?? '');
        this.changed(s);
      },
    });
    this.nodes.addEventHandler({
      onAdd: () => this.changed(),
      onUpdate: (o, n) => {
        if (nodeFingerprint(o) !== nodeFingerprint(n)) this.changed();
      },
      onDelete: () => this.changed(),
    });
    const onSlice = (sl: KObject) => {
      const name = sl.metadata.labels?.[LABEL_SERVICE_NAME];
      const svc = name ? this.services.lister.get(sl.metadata.namespace, name) : undefined;
      if (svc && wantsLoadBalancer(svc) && svc.spec?.externalTrafficPolicy === 'Local' && !this.pools.size) this.changed();
    };
    this.slices.addEventHandler({ onAdd: onSlice, onUpdate: (_o, sl) => onSlice(sl), onDelete: onSlice });
  }

  /** Something the assignment depends on changed: every Service it may concern is looked at again. */
  private changed(svc?: KObject): void {
    this.generation++;
    if (svc) this.queue.add(keyOf(svc));
    // Until the caches are synced, run() looks at everything once instead (no n² on the initial lists).
    if (!this.synced) return;
    for (const s of this.services.lister.list()) {
      if (wantsLoadBalancer(s) || currentIngress(s).length) this.queue.add(keyOf(s));
    }
  }

  async run(signal: AbortSignal): Promise<void> {
    const synced = await Promise.all([this.services.waitForSync(signal), this.nodes.waitForSync(signal), this.slices.waitForSync(signal)]);
    if (!synced.every(Boolean)) return;
    this.synced = true;
    this.changed();
    await runWorkers(this.queue, this.ctx.workers, (key, sig) => this.sync(key, sig), signal, { log: this.ctx.log });
  }

  /** The assignment for the current caches (recomputed only after a change). */
  assignments(): Map<string, Assignment> {
    if (this.memo?.generation !== this.generation) {
      const generation = this.generation;
      const assignments = computeAssignments({
        services: this.services.lister.list(),
        nodes: this.nodes.lister.list(),
        slices: this.pools.size ? [] : this.slices.lister.list(),
        pools: this.pools,
        previous: this.memo?.assignments,
      });
      this.memo = { generation, assignments };
    }
    return this.memo.assignments;
  }

  private async sync(key: string, signal: AbortSignal): Promise<void> {
    const { namespace, name } = splitKey(key);
    const svc = this.services.lister.get(namespace, name);
    if (!svc) return;
    const uid = svc.metadata.uid ?? '';
    if (!wantsLoadBalancer(svc)) {
      this.reported.delete(uid);
      // No longer ours (another type, or a class naming another implementation, which
      // can only be set together with the type): its addresses go, as upstream's service
      // controller clears the status after deleting a load balancer. A Service of
      // another class keeps what its own controller writes.
      if (svc.spec?.type !== 'LoadBalancer' && currentIngress(svc).length) await this.writeStatus(svc, [], signal);
      return;
    }
    const a = this.assignments().get(key) ?? { ips: [] };
    if (a.problem) {
      if (this.reported.get(uid) !== a.problem) {
        this.reported.set(uid, a.problem);
        // Upstream's service controller reports a failed EnsureLoadBalancer this way
        // (Warning SyncLoadBalancerFailed, "Error syncing load balancer: failed to ensure
        // load balancer: <error>"); k3s's ServiceLB surfaces a port clash only as svclb
        // pods that cannot be scheduled, which users miss.
        this.recorder.eventf(svc, 'Warning', 'SyncLoadBalancerFailed', 'Error syncing load balancer: failed to ensure load balancer: %s', a.problem);
      }
    } else {
      this.reported.delete(uid);
    }
    if (ingressEqual(svc, a.ips)) return;
    const before = currentIngress(svc).map((i) => i.ip || i.hostname || '');
    if (!(await this.writeStatus(svc, a.ips, signal))) return;
    // k3s's events for a changed status.
    if (a.ips.length === 0 && !a.problem) this.recorder.event(svc, 'Warning', 'UnAvailableLoadBalancer', 'There are no available nodes for LoadBalancer');
    else this.recorder.eventf(svc, 'Normal', 'UpdatedLoadBalancer', 'Updated LoadBalancer with new IPs: %v -> %v', `[${before.join(' ')}]`, `[${a.ips.join(' ')}]`);
  }

  /** Writes status.loadBalancer.ingress; false when the Service is gone. Conflicts throw (and are retried with the fresher cache). */
  private async writeStatus(svc: KObject, ips: string[], signal: AbortSignal): Promise<boolean> {
    const ingress = ips.length ? ips.map((ip) => ({ ip, ipMode: 'VIP' })) : null;
    try {
      await this.ctx.client.patch(
        ref.services,
        svc.metadata.namespace,
        svc.metadata.name!,
        'merge',
        { metadata: { resourceVersion: svc.metadata.resourceVersion }, status: { loadBalancer: { ingress } } },
        { subresource: 'status', fieldManager: FIELD_MANAGER, signal },
      );
      this.ctx.log('updated load balancer status', { service: keyOf(svc), ingress: ips });
      return true;
    } catch (e) {
      if (isStatusError(e) && e.code === 404) return false;
      throw e;
    }
  }
}
