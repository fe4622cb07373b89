// Per-resource behaviour of the generic registry, as upstream's registry strategies:
// what a create resets, what the server allocates, how deletion proceeds.
// Defaulting and deep validation of each kind grow here (M1-2); this holds what the
// apiserver itself must do for the objects to behave.

import type { KObject } from '../api/object.ts';
import type { ResourceInfo } from '../api/resources.ts';
import { type FieldError, fieldErr, forbidden, invalid } from '../api/errors.ts';
import type { Registry } from './registry.ts';
import { NodePortAllocator, ServiceIPAllocator } from './allocator.ts';
import { admitIngress, admitNode, admitPersistentVolume, admitPersistentVolumeClaim, admitPod } from '../api/defaults/admission.ts';
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

/** Reads of other objects admission needs, from the watch cache. */
interface Lookups {
  items(group: string, plural: string, namespace?: string): KObject[];
  get(group: string, plural: string, namespace: string | undefined, name: string): KObject | undefined;
}

function refuse(err: ReturnType<typeof admitPod>): void {
  if (err) throw err;
}

function podStrategy(look: Lookups): Strategy {
  return {
    prepareForCreate(pod) {
      const ns = pod.metadata.namespace;
      refuse(
        admitPod(pod, {
          namespace: ns,
          serviceAccount: (name) => look.get('', 'serviceaccounts', ns, name),
          priorityFor: (name) => {
            const pc = look.get('scheduling.k8s.io', 'priorityclasses', undefined, name);
            return pc ? { value: pc.value, preemptionPolicy: pc.preemptionPolicy } : undefined;
          },
          defaultPriorityClass: () => {
            const defaults = look.items('scheduling.k8s.io', 'priorityclasses').filter((pc) => pc.globalDefault);
            defaults.sort((a, b) => a.value - b.value);
            const d = defaults[0];
            return d ? { name: d.metadata.name!, value: d.value, preemptionPolicy: d.preemptionPolicy } : undefined;
          },
          limitRanges: () => look.items('', 'limitranges', ns),
        }),
      );
      pod.status = { phase: 'Pending', qosClass: qosClass(pod) };
      // A gated pod says so from its first version, as upstream's pod strategy does.
      if (pod.spec?.schedulingGates?.length) {
        pod.status.conditions = [
          { type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: null, reason: 'SchedulingGated', message: 'Scheduling is blocked due to non-empty scheduling gates' },
        ];
      }
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

const JOB_UID_LABEL = 'batch.kubernetes.io/controller-uid';

function jobStrategy(): Strategy {
  return {
    prepareForCreate(job) {
      job.status = {};
      // Upstream generates the selector from the Job's uid unless manualSelector is set.
      if (!job.spec?.manualSelector) {
        const uid = job.metadata.uid!;
        const name = job.metadata.name!;
        job.spec.selector = { matchLabels: { [JOB_UID_LABEL]: uid } };
        const tmeta = (job.spec.template.metadata ??= {});
        tmeta.labels = {
          ...(tmeta.labels ?? {}),
          [JOB_UID_LABEL]: uid,
          'batch.kubernetes.io/job-name': name,
          'controller-uid': uid,
          'job-name': name,
        };
      }
    },
  };
}

const DS_TEMPLATE_GENERATION = 'deprecated.daemonset.template.generation';

function daemonSetStrategy(): Strategy {
  return {
    prepareForCreate(ds) {
      ds.status = {};
      ds.metadata.annotations = { ...(ds.metadata.annotations ?? {}), [DS_TEMPLATE_GENERATION]: '1' };
    },
    prepareForUpdate(next, old) {
      const prev = Number(old.metadata.annotations?.[DS_TEMPLATE_GENERATION] ?? '1');
      const changed = JSON.stringify(next.spec?.template) !== JSON.stringify(old.spec?.template);
      next.metadata.annotations = { ...(next.metadata.annotations ?? {}), [DS_TEMPLATE_GENERATION]: String(changed ? prev + 1 : prev) };
    },
  };
}

/** upstream's apiservice.NeedsHealthCheck: a load balancer that keeps the client address. */
function needsHealthCheck(svc: KObject): boolean {
  return svc.spec?.type === 'LoadBalancer' && svc.spec?.externalTrafficPolicy === 'Local';
}

/** 0 when unset (0 and absent are the same, as upstream's omitempty int32). */
function healthCheckNodePortOf(svc: KObject): number {
  const n = svc.spec?.healthCheckNodePort;
  return typeof n === 'number' ? n : 0;
}

/**
 * As upstream's service strategy on update: a field that only belongs to the old type
 * (or policy) and that the client left as it was is dropped, so a change of type or
 * externalTrafficPolicy needs no extra nulls; its allocation is freed with the write.
 * A value the client changed is kept, for validation to refuse.
 */
function dropTypeDependentFields(next: KObject, old: KObject): void {
  const ns = next.spec;
  const os = old.spec ?? {};
  if (needsHealthCheck(old) && !needsHealthCheck(next) && healthCheckNodePortOf(next) === healthCheckNodePortOf(old)) {
    delete ns.healthCheckNodePort;
  }
  const wasLB = os.type === 'LoadBalancer';
  if (wasLB && ns.type !== 'LoadBalancer') {
    if (typeof ns.allocateLoadBalancerNodePorts === 'boolean' && ns.allocateLoadBalancerNodePorts === os.allocateLoadBalancerNodePorts) {
      delete ns.allocateLoadBalancerNodePorts;
    }
    if ((ns.loadBalancerClass ?? null) === (os.loadBalancerClass ?? null)) delete ns.loadBalancerClass;
  }
  const externalPolicyType = (t: unknown) => t === 'NodePort' || t === 'LoadBalancer';
  if (externalPolicyType(os.type) && !externalPolicyType(ns.type) && (ns.externalTrafficPolicy ?? '') === (os.externalTrafficPolicy ?? '')) {
    delete ns.externalTrafficPolicy;
  }
}

/** This cluster's service families: --service-cluster-ip-range is a single IPv4 range. */
const SERVICE_IP_FAMILIES = ['IPv4'];

/**
 * ipFamilyPolicy and ipFamilies as upstream's initIPFamilyFields (service storage,
 * alloc.go). An unset policy is the old object's on update; otherwise RequireDualStack
 * for a headless Service without a selector (its DNS names may list addresses of both
 * families, whatever the cluster's ranges) and SingleStack for the rest. A headless,
 * selectorless Service whose policy is not SingleStack gets both families even on a
 * single-stack cluster; any other Service may only ask for the cluster's families.
 */
function initIPFamilyFields(svc: KObject, old: KObject | undefined): void {
  const spec = svc.spec;
  const headlessSelectorless = spec.clusterIP === 'None' && Object.keys(spec.selector ?? {}).length === 0;
  if (typeof spec.ipFamilyPolicy !== 'string') {
    const oldPolicy = old?.spec?.ipFamilyPolicy;
    spec.ipFamilyPolicy = typeof oldPolicy === 'string' ? oldPolicy : headlessSelectorless ? 'RequireDualStack' : 'SingleStack';
  }
  const families: unknown[] = Array.isArray(spec.ipFamilies) ? spec.ipFamilies : [];
  if (spec.ipFamilyPolicy === 'SingleStack' && families.length === 2) {
    throw invalid({ group: '', kind: 'Service' }, svc.metadata.name ?? '', [
      fieldErr.invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy, "must be 'RequireDualStack' or 'PreferDualStack' when multiple IP families are specified"),
    ]);
  }
  if (headlessSelectorless) {
    if (families.length === 0) families.push(SERVICE_IP_FAMILIES[0]);
    if (families.length < 2 && spec.ipFamilyPolicy !== 'SingleStack') families.push(families[0] === 'IPv4' ? 'IPv6' : 'IPv4');
    spec.ipFamilies = families;
    return;
  }
  const errs: FieldError[] = [];
  if (spec.ipFamilyPolicy === 'RequireDualStack' && SERVICE_IP_FAMILIES.length < 2) {
    errs.push(fieldErr.invalid('spec.ipFamilyPolicy', spec.ipFamilyPolicy, 'this cluster is not configured for dual-stack services'));
  }
  families.forEach((f, i) => {
    // Names other than IPv4/IPv6 are validation's to refuse.
    if ((f === 'IPv4' || f === 'IPv6') && !SERVICE_IP_FAMILIES.includes(f)) errs.push(fieldErr.invalid(`spec.ipFamilies[${i}]`, f, 'not configured on this cluster'));
  });
  if (errs.length) throw invalid({ group: '', kind: 'Service' }, svc.metadata.name ?? '', errs);
  if (families.length === 0) families.push(SERVICE_IP_FAMILIES[0]);
  spec.ipFamilies = families;
}

function serviceStrategy(opts: StrategyOptions, info: () => ResourceInfo): Strategy {
  const services = () => opts.cache.resource(info()).items.values();
  const ips = new ServiceIPAllocator(opts.serviceClusterIPRange, function* () {
    for (const s of services()) {
      for (const ip of s.obj.spec?.clusterIPs ?? [s.obj.spec?.clusterIP]) if (ip && ip !== 'None') yield ip;
    }
  });
  // healthCheckNodePort comes from the same range as the ports' nodePorts, as upstream's.
  const ports = new NodePortAllocator(opts.serviceNodePortRange, function* () {
    for (const s of services()) {
      for (const p of s.obj.spec?.ports ?? []) if (p.nodePort) yield p.nodePort;
      const hc = healthCheckNodePortOf(s.obj);
      if (hc > 0) yield hc;
    }
  });
  const needsNodePorts = (svc: KObject) => svc.spec?.type === 'NodePort' || svc.spec?.type === 'LoadBalancer';
  const fail = (svc: KObject, errs: FieldError[]) => invalid({ group: '', kind: 'Service' }, svc.metadata.name ?? '', errs);

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
        initIPFamilyFields(svc, old);
      } else {
        // ExternalName services have no address of their own.
        delete spec.clusterIP;
        delete spec.clusterIPs;
        delete spec.ipFamilies;
        delete spec.ipFamilyPolicy;
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
      // healthCheckNodePort, allocated after the nodePorts (so it never equals one of
      // them), as upstream's txnAllocNodePorts / updateHealthCheckNodePort.
      if (needsHealthCheck(svc)) {
        const kept = old && needsHealthCheck(old) ? healthCheckNodePortOf(old) : 0;
        const wanted = healthCheckNodePortOf(svc);
        if (kept) {
          // Kept across updates; a different value is refused by validation (immutable).
          if (!wanted) spec.healthCheckNodePort = kept;
        } else if (wanted) {
          const err = ports.allocateSpecific(wanted);
          if (err) throw fail(svc, [fieldErr.invalid('spec.healthCheckNodePort', wanted, err)]);
          releases.push(() => ports.release(wanted));
        } else {
          // Also heals a Service stored without one (written before Skiff allocated it).
          const n = ports.allocateNext();
          if (n === undefined) throw fail(svc, [fieldErr.invalid('spec.healthCheckNodePort', 0, 'range is full')]);
          releases.push(() => ports.release(n));
          spec.healthCheckNodePort = n;
        }
      } else if (!healthCheckNodePortOf(svc)) {
        // 0 means unset (omitempty upstream). A non-zero value here is refused by validation.
        delete spec.healthCheckNodePort;
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
      svc.spec ??= {};
      svc.status = { loadBalancer: {} };
    },
    allocate(svc) {
      return allocateFor(svc, undefined);
    },
    prepareForUpdate(next, old) {
      next.spec ??= {};
      dropTypeDependentFields(next, old);
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
  const look: Lookups = {
    items(group, plural, namespace) {
      const out: KObject[] = [];
      for (const c of opts.cache.resource(find(group, plural)).items.values()) {
        if (namespace === undefined || c.obj.metadata.namespace === namespace) out.push(c.obj);
      }
      return out;
    },
    get(group, plural, namespace, name) {
      const info = find(group, plural);
      const key = info.namespaced ? `${info.storagePrefix}/${namespace}/${name}` : `${info.storagePrefix}/${name}`;
      return opts.cache.resource(info).items.get(key)?.obj;
    },
  };
  const withAdmission = (base: Strategy, admit: (obj: KObject) => void): Strategy => ({
    ...base,
    prepareForCreate(obj, ctx) {
      admit(obj);
      base.prepareForCreate?.(obj, ctx);
    },
  });
  const map = new Map<ResourceInfo, Strategy>();
  for (const info of all) {
    let s: Strategy;
    const id = `${info.group}/${info.plural}`;
    if (id === '/pods') s = podStrategy(look);
    else if (id === '/namespaces') s = namespaceStrategy();
    else if (id === '/services') s = serviceStrategy(opts, () => find('', 'services'));
    else if (id === 'batch/jobs') s = jobStrategy();
    else if (id === 'apps/daemonsets') s = daemonSetStrategy();
    else if (id === '/nodes') s = withAdmission(genericStrategy(info), (n) => refuse(admitNode(n)));
    else if (id === '/persistentvolumes') {
      s = withAdmission(
        {
          prepareForCreate(pv, ctx) {
            pv.status = { phase: 'Pending', lastPhaseTransitionTime: new Date(Math.floor(ctx.now / 1000) * 1000).toISOString().replace('.000Z', 'Z') };
          },
        },
        (pv) => refuse(admitPersistentVolume(pv)),
      );
    } else if (id === '/persistentvolumeclaims') {
      s = withAdmission(genericStrategy(info), (pvc) =>
        refuse(admitPersistentVolumeClaim(pvc, { classes: () => look.items('storage.k8s.io', 'storageclasses') })),
      );
    } else if (id === 'networking.k8s.io/ingresses') {
      s = withAdmission(genericStrategy(info), (ing) =>
        refuse(admitIngress(ing, { classes: () => look.items('networking.k8s.io', 'ingressclasses') })),
      );
    } else s = genericStrategy(info);
    map.set(info, s);
  }
  return (info) => map.get(info) ?? {};
}
