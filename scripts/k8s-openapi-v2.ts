// Reading upstream's OpenAPI v2 document (the shape /openapi/v2 has): types for the parts
// the generator uses and the mapping from API paths and operations to resources and verbs.

export interface V2Parameter {
  $ref?: string;
  name: string;
  in: string;
  description?: string;
  type?: string;
  required?: boolean;
  schema?: { $ref?: string };
}

export interface Operation {
  operationId: string;
  description?: string;
  parameters?: V2Parameter[];
  produces?: string[];
  consumes?: string[];
  responses: Record<string, { description: string; schema?: { $ref?: string; type?: string } }>;
  'x-kubernetes-action'?: string;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string };
}

export interface V2Document {
  paths: Record<string, Record<string, unknown>>;
  definitions: Record<string, Record<string, unknown>>;
  parameters: Record<string, V2Parameter>;
}

export interface PathParts {
  path: string;
  group: string;
  version: string;
  plural: string;
  /** The path is under /namespaces/{namespace}/. */
  namespaced: boolean;
  /** The deprecated /watch/ prefix. */
  watch: boolean;
  /** The path addresses one object ({name}). */
  named: boolean;
  subresource?: string;
  /** …/proxy/{path} */
  proxyPath: boolean;
}

/**
 * Splits a resource path: /api/v1/namespaces/{namespace}/pods/{name}/status →
 * {group '', version v1, plural pods, namespaced, named, subresource status}.
 * Returns undefined for paths that are not about a resource (discovery documents, /logs, /version).
 */
export function parsePath(path: string): PathParts | undefined {
  const m = /^\/(?:api\/(v[^/]+)|apis\/([^/]+)\/(v[^/]+))\/(.+)$/.exec(path);
  if (!m) return undefined;
  const group = m[2] ?? '';
  const version = m[1] ?? m[3];
  const segs = m[4].split('/').filter((s) => s !== '');
  if (segs.length === 0) return undefined;
  let watch = false;
  let namespaced = false;
  if (segs[0] === 'watch') {
    watch = true;
    segs.shift();
  }
  // namespaces/{namespace}/<plural>… is a namespaced resource; namespaces/{name} is the Namespace itself.
  if (segs[0] === 'namespaces' && segs[1] === '{namespace}' && segs.length > 2) {
    namespaced = true;
    segs.splice(0, 2);
  }
  const [plural, name, subresource, rest] = segs;
  if (!plural || (name !== undefined && name !== '{name}')) throw new Error(`unexpected path shape ${path}`);
  if (rest !== undefined && rest !== '{path}') throw new Error(`unexpected path shape ${path}`);
  return { path, group, version, plural, namespaced, watch, named: name !== undefined, subresource, proxyPath: rest === '{path}' };
}

/** The verb upstream discovery lists for an operation; undefined for ones it does not list (HEAD, OPTIONS). */
export function discoveryVerb(action: string, method: string): string | undefined {
  switch (action) {
    case 'get':
    case 'list':
    case 'patch':
    case 'delete':
    case 'deletecollection':
      return action;
    case 'watch':
    case 'watchlist':
      return 'watch';
    case 'post':
      return 'create';
    case 'put':
      return 'update';
    case 'connect':
      return ({ get: 'get', post: 'create', put: 'update', patch: 'patch', delete: 'delete' } as Record<string, string>)[method];
    default:
      throw new Error(`unknown x-kubernetes-action ${action}`);
  }
}

export function refName(ref: string, prefix: string): string {
  if (!ref.startsWith(prefix)) throw new Error(`unexpected $ref ${ref}`);
  return ref.slice(prefix.length);
}
