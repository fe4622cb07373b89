// CustomResourceDefinitions: the apiextensions-apiserver's part of the apiserver.
// A CRD in storage becomes served resources (one per served version) in the resource
// table, with a strategy (schema pruning, defaulting, validation, status/scale), a
// printer (additionalPrinterColumns) and OpenAPI. Its status conditions (NamesAccepted,
// Established) are set here, and deleting a CRD first deletes every object of it
// (the customresourcecleanup finalizer), as upstream.

import type { KObject } from '../../api/object.ts';
import { isObject } from '../../api/object.ts';
import type { ResourceInfo, ResourceTable, SubresourceName } from '../../api/resources.ts';
import { apiVersionOf } from '../../api/resources.ts';
import { type FieldError, fieldErr, isStatusError, methodNotSupported } from '../../api/errors.ts';
import type { TablePrinter } from '../../api/printers.ts';
import type { WatchCache, CachedObject } from '../cache.ts';
import type { Registry } from '../registry.ts';
import { nowTimestamp } from '../registry.ts';
import type { Strategy } from '../strategies.ts';
import type { View } from '../views.ts';
import { applySchemaDefaults, prune, type Schema, validateSchema } from './structural.ts';
import { crdPrinter } from './printer.ts';

export const CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

interface Served {
  crd: string;
  info: ResourceInfo;
  schema: Schema | undefined;
  printer: TablePrinter;
  scale?: { specReplicasPath: string; statusReplicasPath: string; labelSelectorPath?: string };
  strategy: Strategy;
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

function condition(type: string, status: 'True' | 'False', reason: string, message: string, now: string) {
  return { type, status, lastTransitionTime: now, reason, message };
}

/** The CRD object's own validation (what `kubectl apply -f crd.yaml` can get wrong). */
export function validateCRD(crd: KObject): FieldError[] {
  const errs: FieldError[] = [];
  const spec = crd.spec ?? {};
  const names = spec.names ?? {};
  if (!spec.group) errs.push(fieldErr.required('spec.group', ''));
  else if (!String(spec.group).includes('.')) errs.push(fieldErr.invalid('spec.group', spec.group, 'should be a domain with at least one dot'));
  if (!names.plural) errs.push(fieldErr.required('spec.names.plural', ''));
  if (!names.kind) errs.push(fieldErr.required('spec.names.kind', ''));
  if (names.plural && spec.group && crd.metadata.name !== `${names.plural}.${spec.group}`) {
    errs.push(fieldErr.invalid('metadata.name', crd.metadata.name, 'must be spec.names.plural+"."+spec.group'));
  }
  if (spec.scope !== 'Namespaced' && spec.scope !== 'Cluster') errs.push(fieldErr.notSupported('spec.scope', spec.scope, ['Cluster', 'Namespaced']));
  const versions: any[] = Array.isArray(spec.versions) ? spec.versions : [];
  if (!versions.length) errs.push(fieldErr.invalid('spec.versions', spec.versions ?? null, 'must have exactly one version marked as storage version'));
  else if (versions.filter((v) => v.storage).length !== 1) {
    errs.push(fieldErr.invalid('spec.versions', versions.map((v) => v.name), 'must have exactly one version marked as storage version'));
  }
  versions.forEach((v, i) => {
    if (!v.name) errs.push(fieldErr.required(`spec.versions[${i}].name`, ''));
    if (!isObject(v.schema?.openAPIV3Schema)) errs.push(fieldErr.required(`spec.versions[${i}].schema.openAPIV3Schema`, 'schemas are required'));
  });
  return errs;
}

export interface CustomResourcesOptions {
  table: ResourceTable;
  registry: Registry;
  cache: WatchCache;
  /** Called after the served resources changed (discovery, OpenAPI). */
  onChange: () => void;
  /** The apiserver's map of views, which this fills for non-storage versions. */
  views: Map<ResourceInfo, View>;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
}

export class CustomResources {
  private readonly table: ResourceTable;
  private readonly registry: Registry;
  private readonly cache: WatchCache;
  private readonly onChange: () => void;
  private readonly log: (msg: string, fields?: Record<string, unknown>) => void;
  private readonly served = new Map<ResourceInfo, Served>();
  private readonly byCRD = new Map<string, ResourceInfo[]>();
  private readonly views: Map<ResourceInfo, View>;
  private readonly crdInfo: ResourceInfo;
  private pending = Promise.resolve();

  constructor(opts: CustomResourcesOptions) {
    this.table = opts.table;
    this.registry = opts.registry;
    this.cache = opts.cache;
    this.onChange = opts.onChange;
    this.log = opts.log ?? (() => {});
    this.views = opts.views;
    this.crdInfo = this.registry.findInfo('apiextensions.k8s.io', 'customresourcedefinitions');
  }

  isCustom(info: ResourceInfo): boolean {
    return this.served.has(info);
  }

  strategy(info: ResourceInfo): Strategy | undefined {
    return this.served.get(info)?.strategy;
  }

  printer(info: ResourceInfo): TablePrinter | undefined {
    return this.served.get(info)?.printer;
  }

  scalePaths(info: ResourceInfo) {
    return this.served.get(info)?.scale;
  }

  /** The served resources of the custom group-versions, for OpenAPI. */
  servedSchemas(): { info: ResourceInfo; schema: Schema | undefined }[] {
    return [...this.served.values()].map((s) => ({ info: s.info, schema: s.schema }));
  }

  /** Paths of fields the schema would prune (fieldValidation Strict/Warn). */
  unknownFields(info: ResourceInfo, obj: KObject): string[] {
    const s = this.served.get(info);
    if (!s?.schema) return [];
    return prune(structuredClone(obj), s.schema);
  }

  /** The strategy for the CustomResourceDefinition resource itself. */
  crdStrategy(): Strategy {
    return {
      prepareForCreate: (crd) => {
        crd.status = { acceptedNames: { plural: '', kind: '' }, conditions: [], storedVersions: [] };
      },
      validate: (crd) => validateCRD(crd),
      validateUpdate: (crd) => validateCRD(crd),
      beforeDelete: (crd) => {
        const f = new Set(crd.metadata.finalizers ?? []);
        f.add(CLEANUP_FINALIZER);
        crd.metadata.finalizers = [...f];
      },
      prepareForDelete: (crd, ctx) => {
        const now = nowTimestamp(ctx.now);
        const conds = (crd.status?.conditions ?? []).filter((c: { type: string }) => c.type !== 'Terminating');
        conds.push(condition('Terminating', 'True', 'InstanceDeletionPending', 'CustomResourceDefinition marked for deletion; instance deletion pending', now));
        crd.status = { ...(crd.status ?? {}), conditions: conds };
      },
    };
  }

  /** Serves every stored CRD, then follows changes. */
  start(): void {
    const rc = this.cache.resource(this.crdInfo);
    for (const c of rc.items.values()) this.sync(c.obj);
    rc.watchers.add({
      afterRevision: this.cache.currentRevision,
      matches: () => true,
      // Called inside the store's commit path: only record, act later.
      deliver: (type, c) => this.enqueue(() => (type === 'DELETED' ? this.unserve(c.obj.metadata.name!) : this.reconcile(c))),
    });
    for (const c of rc.items.values()) this.enqueue(() => this.reconcile(c));
  }

  private enqueue(fn: () => Promise<void> | void): void {
    this.pending = this.pending.then(fn).catch((e) => this.log('crd reconcile failed', { error: String((e as Error)?.stack ?? e) }));
  }

  /** Resolves when queued reconciles are done (tests, shutdown). */
  idle(): Promise<void> {
    return this.pending;
  }

  private async reconcile(c: CachedObject): Promise<void> {
    const name = c.obj.metadata.name!;
    const current = this.registry.peek(this.crdInfo, undefined, name);
    if (!current) return this.unserve(name);
    const crd = current.obj;
    this.sync(crd);
    if (crd.metadata.deletionTimestamp) return this.cleanup(crd);
    const established = (crd.status?.conditions ?? []).some((x: { type: string; status: string }) => x.type === 'Established' && x.status === 'True');
    const storage = (crd.spec.versions ?? []).find((v: { storage?: boolean }) => v.storage)?.name;
    const stored: string[] = crd.status?.storedVersions ?? [];
    if (established && storage && stored.includes(storage) && JSON.stringify(crd.status?.acceptedNames) === JSON.stringify(this.acceptedNames(crd))) return;
    await this.registry.update(
      this.crdInfo,
      undefined,
      name,
      (o) => {
        const now = nowTimestamp();
        o.status = {
          ...(o.status ?? {}),
          acceptedNames: this.acceptedNames(o),
          conditions: [
            condition('NamesAccepted', 'True', 'NoConflicts', 'no conflicts found', now),
            condition('Established', 'True', 'InitialNamesAccepted', 'the initial names have been accepted', now),
          ],
          storedVersions: [...new Set([...(o.status?.storedVersions ?? []), ...(storage ? [storage] : [])])],
        };
        return o;
      },
      { subresource: 'status' },
    );
  }

  private acceptedNames(crd: KObject) {
    const n = crd.spec.names ?? {};
    const out: Record<string, unknown> = { plural: n.plural, singular: n.singular ?? String(n.kind).toLowerCase(), kind: n.kind, listKind: n.listKind ?? `${n.kind}List` };
    if (n.shortNames?.length) out.shortNames = n.shortNames;
    if (n.categories?.length) out.categories = n.categories;
    return out;
  }

  /** Deletes every object of the CRD, then lets the CRD go (removes the finalizer). */
  private async cleanup(crd: KObject): Promise<void> {
    if (!(crd.metadata.finalizers ?? []).includes(CLEANUP_FINALIZER)) return;
    const storageInfo = (this.byCRD.get(crd.metadata.name!) ?? []).find((i) => !this.views.has(i));
    if (storageInfo) {
      const items = (await this.registry.list(storageInfo, {})).items;
      for (const item of items) {
        try {
          await this.registry.delete(storageInfo, item.obj.metadata.namespace, item.obj.metadata.name!, { propagationPolicy: 'Background' }, {});
        } catch (e) {
          if (!isStatusError(e) || e.code !== 404) throw e;
        }
      }
    }
    await this.registry.update(
      this.crdInfo,
      undefined,
      crd.metadata.name!,
      (o) => {
        o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((f: string) => f !== CLEANUP_FINALIZER);
        return o;
      },
      { subresource: 'finalize' },
    );
  }

  private unserve(name: string): void {
    const infos = this.byCRD.get(name);
    if (!infos) return;
    for (const info of infos) {
      this.table.remove(info);
      this.served.delete(info);
      this.views.delete(info);
    }
    this.byCRD.delete(name);
    this.onChange();
  }

  /** Makes the resource table serve exactly what the CRD says now. */
  private sync(crd: KObject): void {
    const name = crd.metadata.name!;
    const old = this.byCRD.get(name) ?? [];
    const spec = crd.spec ?? {};
    const names = spec.names ?? {};
    const versions: any[] = (spec.versions ?? []).filter((v: { served?: boolean }) => v.served !== false);
    const storageVersion = (spec.versions ?? []).find((v: { storage?: boolean }) => v.storage)?.name;
    const signature = JSON.stringify([spec, crd.metadata.deletionTimestamp ? 1 : 0]);
    if (old.length && (old as unknown as { signature?: string }).signature === signature) return;
    for (const info of old) {
      this.table.remove(info);
      this.served.delete(info);
      this.views.delete(info);
    }
    const infos: ResourceInfo[] = [];
    const terminating = !!crd.metadata.deletionTimestamp;
    // Storage version first, so the other versions can be views onto it.
    const ordered = [...versions].sort((a, b) => (a.name === storageVersion ? -1 : b.name === storageVersion ? 1 : 0));
    let storageInfo: ResourceInfo | undefined;
    for (const v of ordered) {
      const subresources: SubresourceName[] = [];
      if (v.subresources?.status !== undefined) subresources.push('status');
      if (v.subresources?.scale !== undefined) subresources.push('scale');
      const info: ResourceInfo = {
        group: spec.group,
        version: v.name,
        plural: names.plural,
        singular: names.singular ?? String(names.kind).toLowerCase(),
        kind: names.kind,
        namespaced: spec.scope === 'Namespaced',
        shortNames: names.shortNames ?? [],
        categories: names.categories ?? [],
        subresources,
        verbs: ALL_VERBS,
        generation: true,
        storagePrefix: `/registry/${spec.group}/${names.plural}`,
      };
      const schema = v.schema?.openAPIV3Schema as Schema | undefined;
      const prepare = (obj: KObject) => {
        if (!schema) return;
        prune(obj, schema);
        applySchemaDefaults(obj, schema);
      };
      const strategy: Strategy = {
        prepareForCreate: (obj) => {
          if (terminating) {
            throw methodNotSupported({ group: spec.group, resource: names.plural }, 'create');
          }
          if (subresources.includes('status')) delete obj.status;
          prepare(obj);
        },
        validate: (obj) => validateSchema(obj, schema),
        prepareForUpdate: (obj) => prepare(obj),
        validateUpdate: (obj) => validateSchema(obj, schema),
        prepareForStatusUpdate: (obj) => prepare(obj),
        validateStatusUpdate: (obj) => validateSchema(obj, schema),
      };
      this.served.set(info, {
        crd: name,
        info,
        schema,
        printer: crdPrinter(v.additionalPrinterColumns),
        scale: v.subresources?.scale,
        strategy,
      });
      if (!storageInfo) storageInfo = info;
      else {
        const storage = storageInfo;
        // Versions without conversion differ only by apiVersion (conversion strategy None).
        this.views.set(info, {
          storage,
          fromStorage: (o) => ({ ...o, apiVersion: apiVersionOf(info) }),
          toStorage: (o) => ({ ...o, apiVersion: apiVersionOf(storage) }),
        });
      }
      this.table.add(info);
      this.cache.ensureResource(info);
      infos.push(info);
    }
    (infos as unknown as { signature?: string }).signature = signature;
    this.byCRD.set(name, infos);
    this.onChange();
  }
}
