// /openapi/v3: one OpenAPI 3.0 document per served group/version, shaped as a 1.32
// apiserver serves it, built from the generated definitions and resource table.
//
// kubectl depends on two things here: `apply`/`create`/`replace` (strict validation) look
// for the PATCH operation of the kind (x-kubernetes-group-version-kind) and send
// fieldValidation=Strict only if it lists a `fieldValidation` query parameter; `explain`
// looks the kind up in components.schemas by x-kubernetes-group-version-kind. Everything
// else mirrors upstream so other clients (client generators, IDEs) find what they expect.
// Kinds with no PATCH operation (the create-only reviews) send kubectl to /openapi/v2, which
// is built from these same documents (openapi-v2.ts).
//
// A document is built on first request and kept: the served set is fixed for the life of
// the service, and definitions.json is fixed for the life of the binary. Its hash (SHA-512,
// upper-case hex, as upstream) goes into the root's serverRelativeURL and the ETag.

import { createHash } from 'node:crypto';
import { definitions, type JSONSchema } from '../api/schema.ts';
import { definitionNameFor } from '../api/generated/kinds.ts';
import { generatedResources, type GeneratedResource } from '../api/generated/resources.ts';
import { buildV2Document, encodeV2Protobuf } from './openapi-v2.ts';
import {
  actionParameters,
  commonParameters,
  deleteReturnsObject,
  subresourceOperations,
  type ParameterSpec,
} from '../api/generated/openapi-operations.ts';

export interface ServedResource {
  plural: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  /** Subresource names (status, scale, log, exec, …); their kinds and verbs come from the resource table. */
  subresources: string[];
}

export interface ServedGroupVersion {
  group: string;
  version: string;
  resources: ServedResource[];
  /** Custom resources: their schemas (OpenAPI v3, refs into components) and kind → schema name. */
  custom?: { definitions: Record<string, JSONSchema>; kinds: Record<string, string> };
}

export interface OpenAPIDocument {
  body: Buffer;
  /** The ETag header value, quoted: `"<hash>"`. */
  etag: string;
}

export interface OpenAPIService {
  /** GET /openapi/v3: `{paths: {"api/v1": {serverRelativeURL: "/openapi/v3/api/v1?hash=…"}, …}}`. */
  root(): object;
  /** GET /openapi/v3/<gvPath> for gvPath 'api/v1' or 'apis/apps/v1' (leading slash tolerated); undefined if not served. */
  groupVersion(gvPath: string): OpenAPIDocument | undefined;
  /** GET /openapi/v2: the Swagger 2.0 document of everything served, as JSON and as gnostic protobuf. */
  v2(): OpenAPIV2Document;
  /** Replaces the custom resources' group-versions (CRDs changed). */
  setCustom(gvs: ServedGroupVersion[]): void;
}

export interface OpenAPIV2Document {
  json: Buffer;
  protobuf: Buffer;
  /** The ETag header value, quoted, for the JSON form (the protobuf form's differs, as upstream). */
  etag: string;
  protobufEtag: string;
}

/**
 * The protobuf media type as answered. client-go's OpenAPISchema() asks for the older spelling
 * with '@' (OPENAPI_V2_PROTOBUF_DEPRECATED); the answer carries this one either way, as
 * upstream's, since Go's mime parser rejects the '@'.
 */
export const OPENAPI_V2_PROTOBUF = 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf';
export const OPENAPI_V2_PROTOBUF_DEPRECATED = 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf';

export function createOpenAPIService(opts: { served: ServedGroupVersion[] }): OpenAPIService {
  const served = new Map<string, ServedGroupVersion>();
  for (const gv of opts.served) served.set(gvPathOf(gv.group, gv.version), gv);
  const schemas = new Map<string, JSONSchema>(); // converted once, shared by every document
  const built = new Map<string, OpenAPIDocument & { hash: string }>();
  let root: object | undefined;
  let v2: OpenAPIV2Document | undefined;

  function document(gvPath: string): (OpenAPIDocument & { hash: string }) | undefined {
    const known = built.get(gvPath);
    if (known) return known;
    const gv = served.get(gvPath);
    if (!gv) return undefined;
    const body = Buffer.from(JSON.stringify(buildGroupVersionDocument(gv, schemas)));
    const hash = createHash('sha512').update(body).digest('hex').toUpperCase();
    const doc = { body, etag: `"${hash}"`, hash };
    built.set(gvPath, doc);
    return doc;
  }

  let customPaths: string[] = [];
  return {
    setCustom(gvs) {
      for (const p of customPaths) {
        served.delete(p);
        built.delete(p);
      }
      customPaths = [];
      for (const gv of gvs) {
        const p = gvPathOf(gv.group, gv.version);
        served.set(p, gv);
        built.delete(p);
        customPaths.push(p);
      }
      root = undefined;
      v2 = undefined;
    },
    v2() {
      if (!v2) {
        const docs = [...served.keys()].sort().map((p) => buildGroupVersionDocument(served.get(p)!, schemas) as Record<string, any>);
        const doc = buildV2Document(docs, definitions());
        const json = Buffer.from(JSON.stringify(doc));
        const protobuf = encodeV2Protobuf(doc);
        const hash = (b: Buffer) => `"${createHash('sha512').update(b).digest('hex').toUpperCase()}"`;
        v2 = { json, protobuf, etag: hash(json), protobufEtag: hash(protobuf) };
      }
      return v2;
    },
    root() {
      if (!root) {
        const paths: Record<string, { serverRelativeURL: string }> = {};
        for (const gvPath of [...served.keys()].sort()) {
          paths[gvPath] = { serverRelativeURL: `/openapi/v3/${gvPath}?hash=${document(gvPath)!.hash}` };
        }
        root = { paths };
      }
      return root;
    },
    groupVersion(gvPath) {
      const doc = document(gvPath.replace(/^\/+/, '').replace(/\/+$/, ''));
      return doc && { body: doc.body, etag: doc.etag };
    },
  };
}

function gvPathOf(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

// ---- operations -------------------------------------------------------------------------

interface GVK {
  group: string;
  version: string;
  kind: string;
}

interface Operation {
  method: string;
  action?: string;
  operationId: string;
  description: string;
  params: ParameterSpec[];
  request?: { types: string[]; schema: JSONSchema };
  responses: { code: string; types: string[]; schema: JSONSchema }[];
  gvk?: GVK;
  tag: string;
}

const OBJECT_TYPES = ['application/json', 'application/yaml', 'application/vnd.kubernetes.protobuf'];
const STREAM_TYPES = [...OBJECT_TYPES, 'application/json;stream=watch', 'application/vnd.kubernetes.protobuf;stream=watch'];
const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
const RESPONSE_DESCRIPTIONS: Record<string, string> = { '200': 'OK', '201': 'Created', '202': 'Accepted' };
const META = 'io.k8s.apimachinery.pkg.apis.meta.v1.';
const WATCH_LIST_DOC = "deprecated: use the 'watch' parameter with a list operation instead.";
const WATCH_DOC = "deprecated: use the 'watch' parameter with a list operation instead, filtered to a single item with the 'fieldSelector' parameter.";

/** Upstream's ToValidOperationID: drop non-alphanumerics, capitalising the letter after each. */
function operationIDPart(s: string, capitalizeFirst: boolean): string {
  let out = '';
  let upper = capitalizeFirst;
  for (const c of s) {
    if (/[A-Za-z0-9]/.test(c)) {
      out += upper ? c.toUpperCase() : c;
      upper = false;
    } else {
      upper = true;
    }
  }
  return out;
}

const title = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** Upstream's article rule: none for plurals (Endpoints), "an" before a vowel. Padded with spaces. */
function article(noun: string): string {
  if (noun.endsWith('s') && !noun.endsWith('ss')) return ' ';
  return /^[aeiou]/i.test(noun) ? ' an ' : ' a ';
}

function buildGroupVersionDocument(gv: ServedGroupVersion, schemas: Map<string, JSONSchema>): object {
  const gvPath = gvPathOf(gv.group, gv.version);
  const apiVersion = gv.group === '' ? gv.version : `${gv.group}/${gv.version}`;
  const friendly = (gv.group === '' ? 'core' : gv.group).replace(/\.k8s\.io$/, '');
  const tag = `${operationIDPart(friendly, false)}_${operationIDPart(gv.version, false)}`;
  const gvID = operationIDPart(friendly, true) + operationIDPart(gv.version, true);
  const refs = new Set<string>();
  const custom = gv.custom;
  const customRefs = new Set<string>();
  const ref = (name: string | undefined): JSONSchema => {
    if (name && custom?.definitions[name]) {
      customRefs.add(name);
      return { $ref: `#/components/schemas/${name}` };
    }
    if (!name || !definitions()[name]) return { type: 'object' };
    refs.add(name);
    return { $ref: `#/components/schemas/${name}` };
  };
  const kindSchema = (gvk: GVK) => ref(custom?.kinds[gvk.kind] ?? definitionNameFor(gvk));
  if (custom) {
    // Custom schemas refer to the meta types by component name.
    refs.add(`${META}ObjectMeta`);
    refs.add(`${META}ListMeta`);
  }
  const paths = new Map<string, Operation[]>();
  const add = (path: string, op: Operation) => {
    let ops = paths.get(path);
    if (!ops) paths.set(path, (ops = []));
    ops.push(op);
  };

  add(`/${gvPath}/`, {
    method: 'get',
    operationId: `get${gvID}APIResources`,
    description: 'get available resources',
    params: [],
    responses: [{ code: '200', types: OBJECT_TYPES, schema: ref(`${META}APIResourceList`) }],
    tag,
  });

  for (const r of [...gv.resources].sort((a, b) => (a.plural < b.plural ? -1 : a.plural > b.plural ? 1 : 0))) {
    const generated = generatedResources.find((g) => g.group === gv.group && g.version === gv.version && g.plural === r.plural);
    const gvk: GVK = { group: gv.group, version: gv.version, kind: r.kind };
    const kind = r.kind;
    const verbs = new Set(r.verbs);
    const ns = r.namespaced ? 'Namespaced' : '';
    const pretty = commonParameters.pretty;
    const nsParams = r.namespaced ? [commonParameters.namespace] : [];
    const nameParam = (of: string): ParameterSpec => ({ name: 'name', in: 'path', type: 'string', required: true, description: `name of the ${of}` });
    const prefix = r.namespaced ? `/${gvPath}/namespaces/{namespace}` : `/${gvPath}`;
    const watchPrefix = r.namespaced ? `/${gvPath}/watch/namespaces/{namespace}` : `/${gvPath}/watch`;
    const object = kindSchema(gvk);
    const listSchema = kindSchema({ ...gvk, kind: generated?.listKind || `${kind}List` });
    const status = ref(`${META}Status`);
    const deleteOptions = ref(`${META}DeleteOptions`);
    const watchEvent = ref(`${META}WatchEvent`);
    const base = { gvk, tag };
    const listOp = (operationId: string, extra: ParameterSpec[]): Operation => ({
      ...base,
      method: 'get',
      action: 'list',
      operationId,
      description: `${verbs.has('watch') ? 'list or watch' : 'list'} objects of kind ${kind}`,
      params: [...extra, pretty, ...actionParameters.list],
      responses: [{ code: '200', types: STREAM_TYPES, schema: listSchema }],
    });

    // The collection.
    const collection = `${prefix}/${r.plural}`;
    if (verbs.has('list')) add(collection, listOp(`list${gvID}${ns}${kind}`, nsParams));
    if (verbs.has('create')) {
      add(collection, {
        ...base,
        method: 'post',
        action: 'post',
        operationId: `create${gvID}${ns}${kind}`,
        description: `create${article(kind)}${kind}`,
        params: [...nsParams, pretty, ...actionParameters.post],
        request: { types: ['*/*'], schema: object },
        responses: ['200', '201', '202'].map((code) => ({ code, types: OBJECT_TYPES, schema: object })),
      });
    }
    if (verbs.has('deletecollection')) {
      add(collection, {
        ...base,
        method: 'delete',
        action: 'deletecollection',
        operationId: `delete${gvID}Collection${ns}${kind}`,
        description: `delete collection of ${kind}`,
        params: [...nsParams, pretty, ...actionParameters.deletecollection],
        request: { types: ['*/*'], schema: deleteOptions },
        responses: [{ code: '200', types: OBJECT_TYPES, schema: status }],
      });
    }
    if (r.namespaced && verbs.has('list')) add(`/${gvPath}/${r.plural}`, listOp(`list${gvID}${kind}ForAllNamespaces`, []));

    // One object.
    const item = `${collection}/{name}`;
    const itemParams = [nameParam(kind), ...nsParams, pretty];
    if (verbs.has('get')) {
      add(item, {
        ...base,
        method: 'get',
        action: 'get',
        operationId: `read${gvID}${ns}${kind}`,
        description: `read the specified ${kind}`,
        params: [...itemParams, ...actionParameters.get],
        responses: [{ code: '200', types: OBJECT_TYPES, schema: object }],
      });
    }
    if (verbs.has('update')) {
      add(item, putOp({ ...base, operationId: `replace${gvID}${ns}${kind}`, description: `replace the specified ${kind}`, params: itemParams, object }));
    }
    if (verbs.has('patch')) {
      add(item, patchOp({ ...base, operationId: `patch${gvID}${ns}${kind}`, description: `partially update the specified ${kind}`, params: itemParams, object, patch: ref(`${META}Patch`) }));
    }
    if (verbs.has('delete')) {
      const answer = deleteReturnsObject.includes(`${apiVersion}/${r.plural}`) ? object : status;
      add(item, {
        ...base,
        method: 'delete',
        action: 'delete',
        operationId: `delete${gvID}${ns}${kind}`,
        description: `delete${article(kind)}${kind}`,
        params: [...itemParams, ...actionParameters.delete],
        request: { types: ['*/*'], schema: deleteOptions },
        responses: ['200', '202'].map((code) => ({ code, types: OBJECT_TYPES, schema: answer })),
      });
    }

    // The deprecated /watch/ paths upstream still serves.
    if (verbs.has('watch')) {
      const watchOp = (o: { action: 'watch' | 'watchlist'; operationId: string; params: ParameterSpec[] }): Operation => ({
        ...base,
        method: 'get',
        action: o.action,
        operationId: o.operationId,
        description: o.action === 'watch' ? `watch changes to an object of kind ${kind}. ${WATCH_DOC}` : `watch individual changes to a list of ${kind}. ${WATCH_LIST_DOC}`,
        params: [...o.params, pretty, ...actionParameters[o.action]],
        responses: [{ code: '200', types: STREAM_TYPES, schema: watchEvent }],
      });
      if (verbs.has('list')) {
        add(`${watchPrefix}/${r.plural}`, watchOp({ action: 'watchlist', operationId: `watch${gvID}${ns}${kind}List`, params: nsParams }));
        if (r.namespaced) add(`/${gvPath}/watch/${r.plural}`, watchOp({ action: 'watchlist', operationId: `watch${gvID}${kind}ListForAllNamespaces`, params: [] }));
      }
      add(`${watchPrefix}/${r.plural}/{name}`, watchOp({ action: 'watch', operationId: `watch${gvID}${ns}${kind}`, params: [nameParam(kind), ...nsParams] }));
    }

    // Subresources.
    for (const name of r.subresources) {
      const sub = subresourceOf(generated, name, gvk);
      if (!sub) continue;
      const subGVK: GVK = { group: sub.group, version: sub.version, kind: sub.kind };
      const subBase = { gvk: subGVK, tag };
      const traits = subresourceOperations[`${apiVersion}/${r.plural}/${name}`];
      const path = `${item}/${name}`;
      const id = `${ns}${kind}${title(name)}`;
      if (traits?.connect) {
        const variants: [string, ParameterSpec[], string][] = [[path, [], '']];
        if (name === 'proxy') variants.push([`${path}/{path}`, [commonParameters.proxyPath], 'WithPath']);
        for (const [p, extra, suffix] of variants) {
          for (const method of traits.connect) {
            add(p, {
              ...subBase,
              method: method.toLowerCase(),
              action: 'connect',
              operationId: `connect${gvID}${title(method.toLowerCase())}${id}${suffix}`,
              description: `connect ${method} requests to ${name} of ${kind}`,
              params: [nameParam(sub.kind), ...nsParams, ...extra, ...traits.parameters],
              responses: [{ code: '200', types: ['*/*'], schema: { type: 'string' } }],
            });
          }
        }
        continue;
      }
      const subParams = [nameParam(sub.kind), ...nsParams, pretty, ...(traits?.parameters ?? [])];
      const subObject = traits?.stringResponse ? { type: 'string' } : kindSchema(subGVK);
      const subTypes = traits?.produces ?? OBJECT_TYPES;
      if (sub.verbs.includes('get')) {
        add(path, {
          ...subBase,
          method: 'get',
          action: 'get',
          operationId: `read${gvID}${id}`,
          description: `read ${name} of the specified ${kind}`,
          params: [...subParams, ...actionParameters.get],
          responses: [{ code: '200', types: subTypes, schema: subObject }],
        });
      }
      if (sub.verbs.includes('create')) {
        add(path, {
          ...subBase,
          method: 'post',
          action: 'post',
          operationId: `create${gvID}${id}`,
          description: `create ${name} of${article(kind)}${kind}`,
          params: [...subParams, ...actionParameters.post],
          request: { types: ['*/*'], schema: subObject },
          responses: ['200', '201', '202'].map((code) => ({ code, types: OBJECT_TYPES, schema: subObject })),
        });
      }
      if (sub.verbs.includes('update')) {
        add(path, putOp({ ...subBase, operationId: `replace${gvID}${id}`, description: `replace ${name} of the specified ${kind}`, params: subParams, object: subObject }));
      }
      if (sub.verbs.includes('patch')) {
        const description = `partially update ${name} of the specified ${kind}`;
        add(path, patchOp({ ...subBase, operationId: `patch${gvID}${id}`, description, params: subParams, object: subObject, patch: ref(`${META}Patch`) }));
      }
    }
  }

  const outPaths: Record<string, object> = {};
  for (const path of [...paths.keys()].sort()) outPaths[path] = pathItem(paths.get(path)!);

  const allSchemas: Record<string, JSONSchema> = { ...componentSchemas(refs, schemas) };
  for (const name of customRefs) allSchemas[name] = custom!.definitions[name];
  return {
    components: {
      schemas: sortKeys(allSchemas),
      securitySchemes: { BearerToken: { description: 'Bearer Token authentication', in: 'header', name: 'authorization', type: 'apiKey' } },
    },
    info: { title: 'Kubernetes', version: 'unversioned' },
    openapi: '3.0.0',
    paths: outPaths,
  };
}

interface WriteOperation {
  gvk: GVK;
  tag: string;
  operationId: string;
  description: string;
  /** Path and object parameters; the action's own are added. */
  params: ParameterSpec[];
  object: JSONSchema;
}

function putOp(o: WriteOperation): Operation {
  return {
    gvk: o.gvk,
    tag: o.tag,
    method: 'put',
    action: 'put',
    operationId: o.operationId,
    description: o.description,
    params: [...o.params, ...actionParameters.put],
    request: { types: ['*/*'], schema: o.object },
    responses: ['200', '201'].map((code) => ({ code, types: OBJECT_TYPES, schema: o.object })),
  };
}

function patchOp(o: WriteOperation & { patch: JSONSchema }): Operation {
  return {
    gvk: o.gvk,
    tag: o.tag,
    method: 'patch',
    action: 'patch',
    operationId: o.operationId,
    description: o.description,
    params: [...o.params, ...actionParameters.patch],
    request: { types: PATCH_TYPES, schema: o.patch },
    responses: ['200', '201'].map((code) => ({ code, types: OBJECT_TYPES, schema: o.object })),
  };
}

/** A subresource's kind and verbs from the resource table, or upstream's shape for status and scale. */
function subresourceOf(generated: GeneratedResource | undefined, name: string, parent: GVK) {
  const known = generated?.subresources.find((s) => s.name === name);
  if (known) return known;
  if (name === 'status') return { ...parent, verbs: ['get', 'patch', 'update'] };
  if (name === 'scale') return { group: 'autoscaling', version: 'v1', kind: 'Scale', verbs: ['get', 'patch', 'update'] };
  return undefined;
}

function parameterKey(p: ParameterSpec): string {
  return `${p.name}\u0000${p.in}\u0000${p.description}`;
}

function sortParameters(ps: ParameterSpec[]): ParameterSpec[] {
  return ps.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.in < b.in ? -1 : a.in > b.in ? 1 : 0));
}

function parameterV3(p: ParameterSpec): object {
  const out: Record<string, unknown> = { description: p.description, in: p.in, name: p.name };
  if (p.required) out.required = true;
  out.schema = { type: p.type, uniqueItems: true };
  return out;
}

function content(types: string[], schema: JSONSchema): Record<string, { schema: JSONSchema }> {
  const out: Record<string, { schema: JSONSchema }> = {};
  for (const t of [...types].sort()) out[t] = { schema };
  return out;
}

/** Upstream puts parameters that every operation of a path shares on the path itself. */
function pathItem(ops: Operation[]): object {
  const shared = new Map<string, ParameterSpec>();
  for (const p of ops[0].params) shared.set(parameterKey(p), p);
  for (const op of ops.slice(1)) {
    const keys = new Set(op.params.map(parameterKey));
    for (const k of shared.keys()) if (!keys.has(k)) shared.delete(k);
  }
  const item: Record<string, unknown> = {};
  for (const op of ops) {
    const own = sortParameters(op.params.filter((p) => !shared.has(parameterKey(p))));
    const out: Record<string, unknown> = { description: op.description, operationId: op.operationId };
    if (own.length > 0) out.parameters = own.map(parameterV3);
    if (op.request) out.requestBody = { content: content(op.request.types, op.request.schema) };
    const responses: Record<string, unknown> = {};
    for (const r of op.responses) responses[r.code] = { content: content(r.types, r.schema), description: RESPONSE_DESCRIPTIONS[r.code] };
    responses['401'] = { description: 'Unauthorized' };
    out.responses = responses;
    out.tags = [op.tag];
    if (op.action) out['x-kubernetes-action'] = op.action;
    if (op.gvk) out['x-kubernetes-group-version-kind'] = { group: op.gvk.group, kind: op.gvk.kind, version: op.gvk.version };
    item[op.method] = out;
  }
  if (shared.size > 0) item.parameters = sortParameters([...shared.values()]).map(parameterV3);
  return Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

// ---- schemas ----------------------------------------------------------------------------

const DEFINITION_REF = '#/definitions/';

/** Every definition reachable from `roots`, converted to OpenAPI v3, sorted by name. */
function componentSchemas(roots: Set<string>, converted: Map<string, JSONSchema>): Record<string, JSONSchema> {
  const defs = definitions();
  const seen = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name) || !defs[name]) continue;
    seen.add(name);
    collectRefs(defs[name], queue);
  }
  const out: Record<string, JSONSchema> = {};
  for (const name of [...seen].sort()) {
    let schema = converted.get(name);
    if (!schema) converted.set(name, (schema = convertDefinition(name, defs[name])));
    out[name] = schema;
  }
  return out;
}

function collectRefs(schema: unknown, into: string[]): void {
  if (Array.isArray(schema)) {
    for (const s of schema) collectRefs(s, into);
  } else if (schema && typeof schema === 'object') {
    for (const [k, v] of Object.entries(schema)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith(DEFINITION_REF)) into.push(v.slice(DEFINITION_REF.length));
      else collectRefs(v, into);
    }
  }
}

function convertDefinition(name: string, def: JSONSchema): JSONSchema {
  // The two types that are "int or string" / "string or number" on the wire say so in v3.
  if (name === 'io.k8s.apimachinery.pkg.util.intstr.IntOrString') {
    const { type: _type, ...rest } = def;
    return sortKeys({ ...rest, oneOf: [{ type: 'integer' }, { type: 'string' }] });
  }
  if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity') {
    const { type: _type, ...rest } = def;
    return sortKeys({ ...rest, oneOf: [{ type: 'string' }, { type: 'number' }] });
  }
  return convertSchema(def);
}

const SCHEMA_MAPS = new Set(['properties', 'patternProperties', 'definitions']);
const SCHEMA_VALUES = new Set(['items', 'additionalProperties', 'not', 'allOf', 'anyOf', 'oneOf']);

/** v2 → v3: refs point into components.schemas; a ref with siblings moves into allOf (3.0 ignores siblings of $ref). */
function convertSchema(schema: JSONSchema): JSONSchema {
  const out: JSONSchema = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === '$ref') continue;
    if (SCHEMA_MAPS.has(k) && v && typeof v === 'object') {
      const m: JSONSchema = {};
      for (const [name, s] of Object.entries(v as Record<string, JSONSchema>)) m[name] = convertSchema(s);
      out[k] = m;
    } else if (SCHEMA_VALUES.has(k) && v && typeof v === 'object') {
      out[k] = Array.isArray(v) ? v.map((s) => convertSchema(s as JSONSchema)) : convertSchema(v as JSONSchema);
    } else {
      out[k] = v;
    }
  }
  if (typeof schema.$ref === 'string') {
    const target = { $ref: `#/components/schemas/${schema.$ref.slice(DEFINITION_REF.length)}` };
    if (Object.keys(out).length === 0) return target;
    out.allOf = [target];
  }
  return sortKeys(out);
}

function sortKeys(o: JSONSchema): JSONSchema {
  const out: JSONSchema = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k];
  return out;
}

/** Which form of /openapi/v2 an Accept header asks for: the first acceptable one, or undefined (upstream: an empty 406). */
export function openAPIV2Form(accept: string | undefined): 'json' | 'protobuf' | undefined {
  if (!accept) return 'json';
  for (const part of accept.split(',')) {
    const type = part.split(';')[0].trim().toLowerCase();
    const q = /;\s*q=([0-9.]+)/.exec(part);
    if (q && Number(q[1]) === 0) continue;
    if (type === OPENAPI_V2_PROTOBUF || type === OPENAPI_V2_PROTOBUF_DEPRECATED) return 'protobuf';
    if (type === 'application/json' || type === 'application/*' || type === '*/*') return 'json';
  }
  return undefined;
}
