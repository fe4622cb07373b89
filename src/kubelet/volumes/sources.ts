// Payloads of the API-data volumes (configMap, secret, downwardAPI, projected): what
// files a volume holds, computed from the pod and the objects it names. Every builder
// returns the payload or the error text for the pod's event; nothing here touches disk.

import { availableParallelism, totalmem } from 'node:os';
import type { KObject } from '../../api/object.ts';
import { parseQuantity, type Quantity } from '../../api/validation/quantity.ts';
import type { FileProjection, Payload } from './atomic.ts';

/** Upstream's default for configMap, secret, downwardAPI and projected files. */
export const DEFAULT_MODE = 0o644;

export interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

/** The node's allocatable resources, for resourceFieldRef of a container without a limit. */
export interface NodeAllocatable {
  cpu: string;
  memory: string;
  'ephemeral-storage'?: string;
}

export function hostAllocatable(): NodeAllocatable {
  return { cpu: String(availableParallelism()), memory: String(totalmem()) };
}

type Data = Map<string, Buffer>;

/** A ConfigMap's data and binaryData as bytes. */
export function configMapData(cm: KObject): Data {
  const out: Data = new Map();
  for (const [k, v] of Object.entries<string>(cm.data ?? {})) out.set(k, Buffer.from(v, 'utf8'));
  for (const [k, v] of Object.entries<string>(cm.binaryData ?? {})) out.set(k, Buffer.from(v, 'base64'));
  return out;
}

/** A Secret's data (base64 on the wire) as bytes. */
export function secretData(s: KObject): Data {
  const out: Data = new Map();
  for (const [k, v] of Object.entries<string>(s.data ?? {})) out.set(k, Buffer.from(v, 'base64'));
  return out;
}

/**
 * upstream MakePayload for configMap and secret sources: every key when there are no
 * items, else the items, a missing key being an error unless the source is optional.
 */
export function keyPayload(
  data: Data,
  opts: { items?: KeyToPath[]; defaultMode: number; optional: boolean; missingKey: (key: string) => string },
): Payload | string {
  const out: Payload = new Map();
  if (!opts.items?.length) {
    for (const [k, v] of data) out.set(k, { data: v, mode: opts.defaultMode });
    return out;
  }
  for (const item of opts.items) {
    const v = data.get(item.key);
    if (!v) {
      if (opts.optional) continue;
      return opts.missingKey(item.key);
    }
    out.set(item.path, { data: v, mode: item.mode ?? opts.defaultMode });
  }
  return out;
}

/** upstream FormatMap: sorted `key="value"` lines, Go-quoted values. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m![k])}`)
    .join('\n');
}

/** A downward API fieldRef as the volume plugin allows it (metadata fields only). */
export function fieldRefValue(pod: KObject, fieldPath: string): string | { error: string } {
  const md = pod.metadata;
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (sub) return (sub[1] === 'labels' ? md.labels : md.annotations)?.[sub[2]] ?? '';
  switch (fieldPath) {
    case 'metadata.name':
      return md.name ?? '';
    case 'metadata.namespace':
      return md.namespace ?? '';
    case 'metadata.uid':
      return md.uid ?? '';
    case 'metadata.labels':
      return formatMap(md.labels);
    case 'metadata.annotations':
      return formatMap(md.annotations);
    default:
      return { error: `unsupported fieldPath: ${fieldPath}` };
  }
}

function divide(q: Quantity, d: Quantity, milli: boolean): string {
  const a = milli ? q.milliValue() : q.value();
  const b = milli ? d.milliValue() : d.value();
  if (b <= 0n) return '0';
  return String((a + b - 1n) / b); // ceil, as upstream's math.Ceil for positive values
}

/** upstream ExtractContainerResourceValue: a container's limit or request, over the divisor, rounded up. */
export function resourceFieldValue(
  pod: KObject,
  ref: { containerName?: string; resource: string; divisor?: string | number },
  allocatable: NodeAllocatable,
): string | { error: string } {
  const containers = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const c = containers.find((x: any) => x.name === ref.containerName);
  if (!c) return { error: `container ${JSON.stringify(ref.containerName ?? '')} not found in pod` };
  const [kind, name] = ref.resource.split(/\.(.*)/s) as [string, string];
  if ((kind !== 'limits' && kind !== 'requests') || !['cpu', 'memory', 'ephemeral-storage'].includes(name)) {
    return { error: `unsupported container resource : ${ref.resource}` };
  }
  const divisor = parseQuantity(String(ref.divisor ?? '1'));
  if (typeof divisor === 'string') return { error: `invalid divisor ${ref.divisor}: ${divisor}` };
  // Unset limits are the node's allocatable; an unset request is zero (the apiserver already
  // defaulted requests to limits).
  const raw: string | undefined =
    kind === 'limits'
      ? (c.resources?.limits?.[name] ?? allocatable[name as keyof NodeAllocatable])
      : (c.resources?.requests?.[name] ?? '0');
  if (raw === undefined) return { error: `no ${name} ${kind} available for container ${c.name}` };
  const q = parseQuantity(String(raw));
  if (typeof q === 'string') return { error: `invalid quantity ${raw}: ${q}` };
  return divide(q, divisor, name === 'cpu');
}

export interface DownwardAPIItem {
  path: string;
  fieldRef?: { fieldPath: string };
  resourceFieldRef?: { containerName?: string; resource: string; divisor?: string };
  mode?: number;
}

export function downwardAPIPayload(pod: KObject, items: DownwardAPIItem[], defaultMode: number, allocatable: NodeAllocatable): Payload | string {
  const out: Payload = new Map();
  for (const item of items) {
    let v: string | { error: string };
    if (item.fieldRef) v = fieldRefValue(pod, item.fieldRef.fieldPath);
    else if (item.resourceFieldRef) v = resourceFieldValue(pod, item.resourceFieldRef, allocatable);
    else v = { error: `downwardAPI item ${JSON.stringify(item.path)} has neither fieldRef nor resourceFieldRef` };
    if (typeof v !== 'string') return v.error;
    const f: FileProjection = { data: Buffer.from(v, 'utf8'), mode: item.mode ?? defaultMode };
    out.set(item.path, f);
  }
  return out;
}
