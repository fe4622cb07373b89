// Per-resource behaviour of the generic registry, as upstream's registry strategies:
// what a create resets, what the server allocates, how deletion proceeds.
// Defaulting and deep validation of each kind grow here (M1-2); this holds what the
// apiserver itself must do for the objects to behave.

import type { KObject } from '../api/object.ts';
import type { ResourceInfo } from '../api/resources.ts';
import { type FieldError, fieldErr, forbidden, invalid } from '../api/errors.ts';
import type { Registry } from './registry.ts';
import { NodePortAllocator, ServiceIPAllocator } from './allocator.ts';
import type { WatchCache } from './cache.ts';

export interface StrategyContext {
  info: ResourceInfo;
  registry: Registry;
  now: number;
  dryRun: boolean;
  user?: { name: string; groups: string[] };
}

export interface Strategy {
  prepareForCreate?(obj: KObject, ctx: StrategyContext): void;
  validate?(obj: KObject, ctx: StrategyContext): FieldError[];
  prepareForUpdate?(next: KObject, old: KObject, ctx: StrategyContext): void;
  validateUpdate?(next: KObject, old: KObject, ctx: StrategyContext): FieldError[];
  prepareForStatusUpdate?(next: KObject, old: KObject, ctx: StrategyContext): void;
  validateStatusUpdate?(next: KObject, old: KObject, ctx: StrategyContext): FieldError[];
  /** Server-side allocation on create; throws a Status error; returns a release for the reservation. */
  allocate?(obj: KObject, ctx: StrategyContext): (() => void) | undefined;
  /** Seconds of graceful deletion for this object (0 = delete now). */
  gracePeriod?(obj: KObject, requested: number | undefined): number;
  /** True when deletion must wait for the object's own finalization (namespaces). */
  finalizeOnDelete?(obj: KObject, ctx: StrategyContext): boolean;
  /** A delete is refused by throwing (e.g. system namespaces). */
  beforeDelete?(obj: KObject, ctx: StrategyContext): void;
  prepareForDelete?(obj: KObject, ctx: StrategyContext): void;
  afterDelete?(obj: KObject, ctx: StrategyContext): void;
  /** An object with a deletionTimestamp and no finalizers still waits (pods in their grace period). */
  holdsDeletion?(obj: KObject): boolean;
  defaultPropagation?: 'Orphan' | 'Background' | 'Foreground';
}

export interface StrategyOptions {
  cache: WatchCache;
  serviceClusterIPRange: string;
  serviceNodePortRange: string;
}

const SYSTEM_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);

/** Resources whose status a create resets (a client cannot create status). */
function resetStatus(info: ResourceInfo): boolean {
  return info.subresources.includes('status') && !(info.group === '' && info.plural === 'nodes');
}

export function qosClass(pod: KObject): string {
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
  let any = false;
  let guaranteed = true;
  for (const c of containers) {
    const req = c.resources?.requests ?? {};
    const lim = c.resources?.limits ?? {};
    for (const r of ['cpu', 'memory']) {
      if (req[r] !== undefined || lim[r] !== undefined) any = true;
      const request = req[r] ?? lim[r];
      if (lim[r] === undefined || String(request) !== String(lim[r])) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function podStrategy(): Strategy {
  return {
    prepareForCreate(pod) {
      pod.status = { phase: 'Pending', qosClass: qosClass(pod) };
    },
    prepareForUpdate(next, old) {
      // spec.nodeName is set through the binding subresource only.
      if (old.spec?.nodeName && next.spec) next.spec.nodeName = old.spec.nodeName;
    },
    gracePeriod(pod, requested) {
      if (!pod.spec?.nodeName) return 0;
      const phase = pod.status?.phase;
      if (phase === 'Succeeded' || phase === 'Failed') return 0;
      if (requested !== undefined) return Math.max(0, requested);
      return pod.spec?.terminationGracePeriodSeconds ?? 30;
    },
    holdsDeletion(pod) {
      return (pod.metadata.deletionGracePeriodSeconds ?? 0) > 0;
    },
  };
}

function namespaceStrategy(): Strategy {
  const withNameLabel = (ns: KObject) => {
    ns.metadata.labels = { ...(ns.metadata.labels ?? {}), 'kubernetes.io/metadata.name': ns.metadata.name! };
  };
  return {
    prepareForCreate(ns) {
      withNameLabel(ns);
      ns.spec = { finalizers: ['kubernetes'] };
      ns.status = { phase: 'Active' };
    },
    prepareForUpdate(next) {
      withNameLabel(next);
    },
    finalizeOnDelete(ns) {
      return (ns.spec?.finalizers?.length ?? 0) > 0;
    },
    beforeDelete(ns) {
      if (SYSTEM_NAMESPACES.has(ns.metadata.name!)) {
        throw forbidden({ group: '', resource: 'namespaces' }, ns.metadata.name!, 'this namespace may not be deleted');
      }
    },
    prepareForDelete(ns) {
      ns.status = { ...(ns.status ?? {}), phase: 'Terminating' };
    },
    holdsDeletion(ns) {
      return (ns.spec?.finalizers?.length ?? 0) > 0;
    },
  };
}

function serviceStrategy(opts: StrategyOptions, info: () => ResourceInfo): Strategy {
  const services = () => opts.cache.resource(info()).items.values();
  const ips = new ServiceIPAllocator(opts.serviceClusterIPRange, function* () {
    for (const s of services()) {
      for (const ip of s.obj.spec?.clusterIPs ?? [s.obj.spec?.clusterIP]) if (ip && ip !== 'None') yield ip;
    }
  });
  const ports = new NodePortAllocator(opts.serviceNodePortRange, function* () {
    for (const s of services()) for (const p of s.obj.spec?.ports ?? []) if (p.nodePort) yield p.nodePort;
  });
  const needsNodePorts = (svc: KObject) => svc.spec?.type === 'NodePort' || svc.spec?.type === 'LoadBalancer';
  const fail = (svc: KObject, errs: FieldError[]) => invalid({ group: '', kind: 'Service' }, svc.metadata.name ?? '', errs);

  const defaults = (svc: KObject) => {
    const spec = (svc.spec ??= {});
    spec.type ??= 'ClusterIP';
    if (spec.type !== 'ExternalName') {
      spec.sessionAffinity ??= 'None';
      spec.internalTrafficPolicy ??= 'Cluster';
    }
    for (const p of spec.ports ?? []) {
      p.protocol ??= 'TCP';
      if (spec.type !== 'ExternalName' && p.targetPort === undefined) p.targetPort = p.port;
    }
    if (needsNodePorts(svc)) spec.externalTrafficPolicy ??= 'Cluster';
    if (spec.type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true;
  };

  /** Allocates clusterIP and nodePorts as needed; returns the release of reservations. */
  const allocateFor = (svc: KObject, old: KObject | undefined): (() => void) => {
    const spec = svc.spec;
    const releases: (() => void)[] = [];
    const release = () => releases.forEach((r) => r());
    try {
      if (spec.type !== 'ExternalName') {
        if (old && old.spec?.clusterIP && old.spec.type !== 'ExternalName') {
          // clusterIP is immutable once set.
          if (spec.clusterIP !== undefined && spec.clusterIP !== '' && spec.clusterIP !== old.spec.clusterIP) {
            throw fail(svc, [fieldErr.invalid('spec.clusterIPs[0]', spec.clusterIP, 'may not change once set')]);
          }
          spec.clusterIP = old.spec.clusterIP;
          spec.clusterIPs = old.spec.clusterIPs ?? [old.spec.clusterIP];
        } else if (spec.clusterIP === 'None') {
          spec.clusterIPs = ['None'];
        } else if (spec.clusterIP) {
          const err = ips.allocateSpecific(spec.clusterIP);
          if (err) throw fail(svc, [fieldErr.invalid('spec.clusterIPs', [spec.clusterIP], err)]);
          const ip = spec.clusterIP;
          releases.push(() => ips.release(ip));
          spec.clusterIPs = [ip];
        } else {
          const ip = ips.allocateNext();
          if (!ip) throw fail(svc, [fieldErr.invalid('spec.clusterIPs', [], 'failed to allocate IP: range is full')]);
          releases.push(() => ips.release(ip));
          spec.clusterIP = ip;
          spec.clusterIPs = [ip];
        }
        if (spec.clusterIP !== 'None' || spec.clusterIPs) {
          spec.ipFamilies ??= ['IPv4'];
          spec.ipFamilyPolicy ??= 'SingleStack';
        }
      } else {
        delete spec.clusterIP;
        delete spec.clusterIPs;
      }
      if (needsNodePorts(svc) && !(spec.type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts === false)) {
        const oldPorts = new Set<number>((old?.spec?.ports ?? []).map((p: any) => p.nodePort).filter(Boolean));
        (spec.ports ?? []).forEach((p: any, i: number) => {
          if (p.nodePort) {
            if (oldPorts.has(p.nodePort)) return;
            const err = ports.allocateSpecific(p.nodePort);
            if (err) throw fail(svc, [fieldErr.invalid(`spec.ports[${i}].nodePort`, p.nodePort, err)]);
            const n = p.nodePort;
            releases.push(() => ports.release(n));
          } else {
            const n = ports.allocateNext();
            if (n === undefined) throw fail(svc, [fieldErr.invalid(`spec.ports[${i}].nodePort`, 0, 'range is full')]);
            releases.push(() => ports.release(n));
            p.nodePort = n;
          }
        });
      } else if (spec.type === 'ClusterIP' || spec.type === 'ExternalName') {
        for (const p of spec.ports ?? []) delete p.nodePort;
      }
      return release;
    } catch (e) {
      release();
      throw e;
    }
  };

  // Reservations of an update are held until the write is visible in the cache.
  return {
    prepareForCreate(svc) {
      defaults(svc);
      svc.status = { loadBalancer: {} };
    },
    validate(svc) {
      const errs: FieldError[] = [];
      const spec = svc.spec ?? {};
      const types = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];
      if (!types.includes(spec.type)) errs.push(fieldErr.notSupported('spec.type', spec.type, types));
      if (spec.type !== 'ExternalName' && !(spec.ports?.length) && spec.clusterIP !== 'None') {
        errs.push(fieldErr.required('spec.ports', ''));
      }
      (spec.ports ?? []).forEach((p: any, i: number) => {
        if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
          errs.push(fieldErr.invalid(`spec.ports[${i}].port`, p.port, 'must be between 1 and 65535, inclusive'));
        }
      });
      return errs;
    },
    allocate(svc) {
      return allocateFor(svc, undefined);
    },
    prepareForUpdate(next, old) {
      defaults(next);
      // The update's allocation is released right away: a failed write leaves the
      // stored Services (the allocator's source of truth) unchanged.
      allocateFor(next, old)();
    },
  };
}

function genericStrategy(info: ResourceInfo): Strategy {
  if (!resetStatus(info)) return {};
  return {
    prepareForCreate(obj) {
      obj.status = {};
    },
  };
}

export function createStrategies(opts: StrategyOptions, all: ResourceInfo[]): (info: ResourceInfo) => Strategy {
  const find = (group: string, plural: string) => all.find((r) => r.group === group && r.plural === plural)!;
  const map = new Map<ResourceInfo, Strategy>();
  for (const info of all) {
    let s: Strategy;
    if (info.group === '' && info.plural === 'pods') s = podStrategy();
    else if (info.group === '' && info.plural === 'namespaces') s = namespaceStrategy();
    else if (info.group === '' && info.plural === 'services') s = serviceStrategy(opts, () => find('', 'services'));
    else s = genericStrategy(info);
    map.set(info, s);
  }
  return (info) => map.get(info) ?? {};
}
