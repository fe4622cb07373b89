// Content negotiation for meta.k8s.io Tables and PartialObjectMetadata, as kubectl
// asks for them (docs/KUBECTL-WIRE.md §3).

import type { KObject } from '../api/object.ts';
import type { ResourceInfo } from '../api/resources.ts';
import { printerFor, type TablePrinter } from '../api/printers.ts';
import { notAcceptable } from '../api/errors.ts';

export type ResponseForm = 'object' | 'table' | 'metadata';

/** Picks the first form in the Accept list the server can produce. */
export function negotiate(accept: string | undefined, list: boolean): ResponseForm {
  // What our own clients and most others send: nothing to parse.
  if (!accept || accept === 'application/json') return 'object';
  let sawUnsupported = false;
  for (const raw of accept.split(',')) {
    const parts = raw.split(';').map((p) => p.trim());
    const media = parts[0];
    const params = new Map<string, string>();
    for (const p of parts.slice(1)) {
      const i = p.indexOf('=');
      if (i > 0) params.set(p.slice(0, i).trim(), p.slice(i + 1).trim());
    }
    const as = params.get('as');
    if (as) {
      if (media !== 'application/json' && media !== '*/*') {
        sawUnsupported = true;
        continue;
      }
      const g = params.get('g');
      const v = params.get('v');
      if (as === 'Table' && g === 'meta.k8s.io' && (v === 'v1' || v === 'v1beta1')) return 'table';
      if (
        (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') &&
        g === 'meta.k8s.io' &&
        (v === 'v1' || v === 'v1beta1')
      ) {
        if (as === (list ? 'PartialObjectMetadataList' : 'PartialObjectMetadata')) return 'metadata';
      }
      sawUnsupported = true;
      continue;
    }
    if (media === 'application/json' || media === '*/*' || media === 'application/*' || media === 'application/yaml') {
      return 'object';
    }
    if (media === 'application/vnd.kubernetes.protobuf') {
      // Protobuf answers are not produced; a client listing JSON later gets JSON.
      sawUnsupported = true;
      continue;
    }
    sawUnsupported = true;
  }
  if (sawUnsupported) {
    throw notAcceptable('only the following media types are accepted: application/json, application/yaml');
  }
  return 'object';
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function includeObjectPolicy(q: string | null): IncludeObject {
  if (q === 'None' || q === 'Object' || q === 'Metadata') return q;
  return 'Metadata';
}

export function partialMetadata(obj: KObject): Record<string, unknown> {
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: obj.metadata };
}

export class TableBuilder {
  private readonly printer: TablePrinter;
  private readonly include: IncludeObject;
  private readonly now: number;

  constructor(info: ResourceInfo, include: IncludeObject, now = Date.now(), printer?: TablePrinter) {
    this.printer = printer ?? printerFor(info.group, info.plural);
    this.include = include;
    this.now = now;
  }

  row(obj: KObject): Record<string, unknown> {
    const row: Record<string, unknown> = { cells: this.printer.cells(obj, this.now) };
    const conditions = this.printer.rowConditions?.(obj);
    if (conditions?.length) row.conditions = conditions;
    if (this.include === 'Object') row.object = obj;
    else if (this.include === 'Metadata') row.object = partialMetadata(obj);
    return row;
  }

  table(objs: KObject[], meta: Record<string, unknown>, withColumns = true): Record<string, unknown> {
    return {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      metadata: meta,
      columnDefinitions: withColumns ? this.printer.columns : null,
      rows: objs.map((o) => this.row(o)),
    };
  }
}
