// Which resources exist, for the controllers that act on "every resource" (the garbage
// collector and the namespace controller): the built-in resource table plus the
// established CustomResourceDefinitions (their storage versions), as upstream's
// controllers learn them from discovery. Kinds are resolved by group and kind, any
// version, so an owner reference written with an older apiVersion still resolves.

import type { KObject } from '../../api/object.ts';
import { RESOURCES } from '../../api/resources.ts';
import { resourceRef } from '../../client/resources.ts';
import type { ResourceRef } from '../../client/types.ts';

export interface ResourceEntry {
  ref: ResourceRef;
  kind: string;
  verbs: readonly string[];
  /** From a CustomResourceDefinition. */
  custom: boolean;
}

export const CRD_REF = resourceRef('apiextensions.k8s.io', 'customresourcedefinitions');

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

/** Built-in resources, one entry per served resource (events.k8s.io Events included; callers skip what they must). */
export const BUILTIN_RESOURCES: readonly ResourceEntry[] = RESOURCES.map((r) => ({
  ref: Object.freeze({ group: r.group, version: r.version, resource: r.plural, namespaced: r.namespaced }),
  kind: r.kind,
  verbs: r.verbs,
  custom: false,
}));

/** The resource of an established CRD's storage version, or undefined. */
export function customResourceEntry(crd: KObject): ResourceEntry | undefined {
  const established = (crd.status?.conditions ?? []).some((c: { type: string; status: string }) => c.type === 'Established' && c.status === 'True');
  if (!established || crd.metadata.deletionTimestamp) return undefined;
  const spec = crd.spec ?? {};
  const version = (spec.versions ?? []).find((v: { storage?: boolean }) => v.storage)?.name;
  if (!version || !spec.group || !spec.names?.plural) return undefined;
  return {
    ref: Object.freeze({ group: spec.group, version, resource: spec.names.plural, namespaced: spec.scope === 'Namespaced' }),
    kind: spec.names.kind,
    verbs: ALL_VERBS,
    custom: true,
  };
}

/** The group of an apiVersion ("apps/v1" → "apps", "v1" → ""). */
export function groupOf(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

/** Resolves kinds (by group and kind) over the built-ins and the given custom resources. */
export class ResourceCatalog {
  private readonly byKind = new Map<string, ResourceEntry>();
  private custom: ResourceEntry[] = [];

  constructor() {
    for (const e of BUILTIN_RESOURCES) if (!this.byKind.has(`${e.ref.group}/${e.kind}`)) this.byKind.set(`${e.ref.group}/${e.kind}`, e);
  }

  /** Replaces the custom resources with those of `crds`. */
  setCustomResources(crds: KObject[]): void {
    for (const e of this.custom) this.byKind.delete(`${e.ref.group}/${e.kind}`);
    this.custom = crds.map(customResourceEntry).filter((e): e is ResourceEntry => !!e);
    for (const e of this.custom) this.byKind.set(`${e.ref.group}/${e.kind}`, e);
  }

  customResources(): ResourceEntry[] {
    return [...this.custom];
  }

  all(): ResourceEntry[] {
    return [...BUILTIN_RESOURCES, ...this.custom];
  }

  forKind(apiVersion: string, kind: string): ResourceEntry | undefined {
    return this.byKind.get(`${groupOf(apiVersion)}/${kind}`);
  }
}
