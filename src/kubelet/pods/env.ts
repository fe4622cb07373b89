// A container's environment as upstream's kubelet builds it (makeEnvironmentVariables):
// envFrom sources first (later ones win), then env entries in order, each value expanded
// with $(VAR) against what is defined so far. Missing non-optional references are a
// CreateContainerConfigError for that container, returned as a value.

import type { KObject } from '../../api/object.ts';
import { parseQuantity } from '../../api/validation/quantity.ts';

/** Looks up a ConfigMap or Secret's data (undefined: not found). Secret values are decoded. */
export type DataSource = (kind: 'ConfigMap' | 'Secret', namespace: string, name: string) => Promise<Record<string, string> | undefined>;

export interface EnvResult {
  env?: { key: string; value: string }[];
  /** CreateContainerConfigError message. */
  error?: string;
}

/**
 * Upstream's expansion (third_party/forked/golang/expansion): `$(NAME)` is replaced when
 * NAME is defined and kept verbatim otherwise; `$$` escapes a `$`; other `$` are literal.
 */
export function expand(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  for (let i = 0; i < input.length; i++) {
    const ch = input[i];
    if (ch !== '$' || i + 1 >= input.length) {
      out += ch;
      continue;
    }
    const next = input[i + 1];
    if (next === '$') {
      out += '$';
      i++;
    } else if (next === '(') {
      const end = input.indexOf(')', i + 2);
      if (end < 0) {
        out += input.slice(i);
        break;
      }
      const name = input.slice(i + 2, end);
      const v = lookup(name);
      out += v === undefined ? `$(${name})` : v;
      i = end;
    } else out += ch;
  }
  return out;
}

function fieldValue(pod: KObject, fieldPath: string): string | undefined {
  const m = /^metadata\.(labels|annotations)\['(.*)'\]$/.exec(fieldPath);
  if (m) return (pod.metadata as Record<string, any> | undefined)?.[m[1]]?.[m[2]] ?? '';
  switch (fieldPath) {
    case 'metadata.name': return pod.metadata?.name ?? '';
    case 'metadata.namespace': return pod.metadata?.namespace ?? '';
    case 'metadata.uid': return pod.metadata?.uid ?? '';
    case 'spec.nodeName': return pod.spec?.nodeName ?? '';
    case 'spec.serviceAccountName': return pod.spec?.serviceAccountName ?? '';
    case 'status.hostIP': return pod.status?.hostIP ?? '';
    case 'status.hostIPs': return (pod.status?.hostIPs ?? []).map((x: { ip: string }) => x.ip).join(',');
    case 'status.podIP': return pod.status?.podIP ?? '';
    case 'status.podIPs': return (pod.status?.podIPs ?? []).map((x: { ip: string }) => x.ip).join(',');
    default: return undefined;
  }
}

/** resourceFieldRef: the value divided by the divisor, rounded up (upstream's ExtractContainerResourceValue). */
export function resourceFieldValue(container: any, ref: { resource: string; divisor?: string }, nodeAllocatable: Record<string, string>): string | undefined {
  const [kind, name] = ref.resource.split('.', 2) as [string, string];
  let raw: string | undefined = container.resources?.[kind]?.[name];
  // No limit: the node's allocatable, as upstream defaults limits for the downward API.
  if (raw === undefined && kind === 'limits') raw = nodeAllocatable[name];
  if (raw === undefined) raw = '0';
  const q = parseQuantity(String(raw));
  const d = parseQuantity(ref.divisor ?? '1');
  if (typeof q === 'string' || typeof d === 'string' || d.isZero()) return undefined;
  if (name === 'cpu') {
    const milli = q.milliValue();
    const dm = d.milliValue();
    return String((milli + dm - 1n) / dm);
  }
  const v = q.value();
  const dv = d.value();
  return String((v + dv - 1n) / dv);
}

/**
 * Docker-links-style variables for Services (upstream's envvars.FromServices): for each
 * Service with a ClusterIP, NAME_SERVICE_HOST, NAME_SERVICE_PORT(_PORTNAME) and the
 * NAME_PORT* family. `services` are the pod namespace's plus default/kubernetes, which the
 * caller includes; the pod namespace's win on name clashes as upstream.
 */
export function serviceEnv(services: KObject[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const svc of services) {
    const ip = svc.spec?.clusterIP;
    if (!ip || ip === 'None') continue;
    const name = String(svc.metadata.name).toUpperCase().replace(/-/g, '_');
    const ports: any[] = svc.spec?.ports ?? [];
    if (ports.length === 0) continue;
    out.set(`${name}_SERVICE_HOST`, ip);
    out.set(`${name}_SERVICE_PORT`, String(ports[0].port));
    for (const p of ports) if (p.name) out.set(`${name}_SERVICE_PORT_${String(p.name).toUpperCase().replace(/-/g, '_')}`, String(p.port));
    const first = ports[0];
    const proto0 = String(first.protocol ?? 'TCP').toLowerCase();
    out.set(`${name}_PORT`, `${proto0}://${ip.includes(':') ? `[${ip}]` : ip}:${first.port}`);
    for (const p of ports) {
      const proto = String(p.protocol ?? 'TCP');
      const prefix = `${name}_PORT_${p.port}_${proto.toUpperCase()}`;
      out.set(prefix, `${proto.toLowerCase()}://${ip.includes(':') ? `[${ip}]` : ip}:${p.port}`);
      out.set(`${prefix}_PROTO`, proto.toLowerCase());
      out.set(`${prefix}_PORT`, String(p.port));
      out.set(`${prefix}_ADDR`, ip);
    }
  }
  return out;
}

export async function containerEnv(pod: KObject, container: any, opts: { data: DataSource; nodeAllocatable: Record<string, string>; services?: KObject[] }): Promise<EnvResult> {
  const ns = pod.metadata?.namespace ?? 'default';
  const vars = new Map<string, string>();
  if (pod.spec?.enableServiceLinks !== false && opts.services) {
    for (const [k, v] of serviceEnv(opts.services)) vars.set(k, v);
  } else if (opts.services) {
    // enableServiceLinks false: only the kubernetes master service's variables
    for (const [k, v] of serviceEnv(opts.services.filter((s) => s.metadata.namespace === 'default' && s.metadata.name === 'kubernetes'))) vars.set(k, v);
  }
  for (const from of container.envFrom ?? []) {
    const kind = from.configMapRef ? 'ConfigMap' : from.secretRef ? 'Secret' : undefined;
    if (!kind) continue;
    const r = from.configMapRef ?? from.secretRef;
    const data = await opts.data(kind, ns, r.name);
    if (!data) {
      if (r.optional) continue;
      return { error: `${kind === 'ConfigMap' ? 'configmap' : 'secret'} "${r.name}" not found` };
    }
    for (const [k, v] of Object.entries(data)) vars.set(`${from.prefix ?? ''}${k}`, v);
  }
  const lookup = (n: string) => vars.get(n);
  for (const e of container.env ?? []) {
    let value: string | undefined;
    if (e.valueFrom === undefined) value = expand(e.value ?? '', lookup);
    else if (e.valueFrom.fieldRef) {
      value = fieldValue(pod, e.valueFrom.fieldRef.fieldPath);
      if (value === undefined) return { error: `unsupported fieldPath: ${e.valueFrom.fieldRef.fieldPath}` };
    } else if (e.valueFrom.resourceFieldRef) {
      const rf = e.valueFrom.resourceFieldRef;
      const target = rf.containerName ? [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])].find((c: any) => c.name === rf.containerName) : container;
      value = resourceFieldValue(target ?? container, rf, opts.nodeAllocatable);
      if (value === undefined) return { error: `unsupported resourceFieldRef: ${rf.resource}` };
    } else {
      const r = e.valueFrom.configMapKeyRef ?? e.valueFrom.secretKeyRef;
      const kind = e.valueFrom.configMapKeyRef ? 'ConfigMap' : 'Secret';
      if (!r) continue;
      const data = await opts.data(kind, ns, r.name);
      if (!data) {
        if (r.optional) continue;
        return { error: `${kind === 'ConfigMap' ? 'configmap' : 'secret'} "${r.name}" not found` };
      }
      if (!(r.key in data)) {
        if (r.optional) continue;
        return { error: `couldn't find key ${r.key} in ${kind} ${ns}/${r.name}` };
      }
      value = data[r.key];
    }
    vars.set(e.name, value);
  }
  return { env: [...vars].map(([key, value]) => ({ key, value })) };
}
