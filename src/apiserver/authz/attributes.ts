// Authorization attributes of a request, as upstream's RequestInfoFactory and
// authorizer.Attributes (k8s.io/apiserver/pkg/endpoints/request, pkg/authorization/authorizer):
// what an authorizer decides on, worked out from the method and path alone so it holds
// for every path (resources, subresources, discovery, streaming, unknown paths).

import { failure, type Status, type StatusError } from '../../api/errors.ts';

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export interface Attributes {
  user: UserInfo;
  /** Resource verbs (get, list, watch, create, update, patch, delete, deletecollection, or special verbs such as impersonate, bind, escalate); the lower-cased HTTP method otherwise. */
  verb: string;
  resourceRequest: boolean;
  /** Non-resource requests: the URL path. */
  path: string;
  apiGroup: string;
  apiVersion: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

export type Decision = 'Allow' | 'Deny' | 'NoOpinion';

export interface AuthorizerResult {
  decision: Decision;
  /** Why; shown after the Forbidden message when not empty (upstream's reason). */
  reason: string;
}

export interface Authorizer {
  authorize(a: Attributes): AuthorizerResult;
}

const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

interface Query {
  get(name: string): string | null;
}

/** Upstream's RequestInfoFactory.NewRequestInfo: the attributes of an HTTP request. */
export function requestAttributes(user: UserInfo, method: string, pathname: string, query?: Query): Attributes {
  const a: Attributes = { user, verb: method.toLowerCase(), resourceRequest: false, path: pathname, apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
  const trimmed = pathname.replace(/^\/+|\/+$/g, '');
  let parts = trimmed === '' ? [] : trimmed.split('/');
  if (parts.length < 3) return a; // /api, /apis, /api/v1, /healthz ...
  if (parts[0] === 'api') {
    parts = parts.slice(1);
  } else if (parts[0] === 'apis') {
    a.apiGroup = parts[1];
    parts = parts.slice(2);
    if (parts.length < 2) {
      a.apiGroup = '';
      return a; // /apis/group/version: discovery
    }
  } else {
    return a;
  }
  a.apiVersion = parts[0];
  parts = parts.slice(1);
  try {
    parts = parts.map(decodeURIComponent);
  } catch {
    // Undecodable segments are taken as they are.
  }
  a.resourceRequest = true;
  switch (method) {
    case 'POST':
      a.verb = 'create';
      break;
    case 'GET':
    case 'HEAD':
      a.verb = 'get';
      break;
    case 'PUT':
      a.verb = 'update';
      break;
    case 'PATCH':
      a.verb = 'patch';
      break;
    case 'DELETE':
      a.verb = 'delete';
      break;
    default:
      a.verb = '';
  }
  if (parts[0] === 'watch') {
    parts = parts.slice(1);
    if (a.verb === 'get') a.verb = 'watch';
  }
  if (parts[0] === 'namespaces') {
    if (parts.length > 1) {
      a.namespace = parts[1];
      if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2])) parts = parts.slice(2);
    }
  }
  if (parts.length >= 3) a.subresource = parts[2];
  if (parts.length >= 2) a.name = parts[1];
  if (parts.length >= 1) a.resource = parts[0];
  if (parts.length < 2 && a.verb === 'get') {
    a.verb = query?.get('watch') === 'true' || query?.get('watch') === '1' ? 'watch' : 'list';
  }
  if (parts.length < 2 && a.verb === 'delete') a.verb = 'deletecollection';
  // A list or watch of one object by field selector is authorized for that name, as upstream.
  if ((a.verb === 'list' || a.verb === 'watch') && !a.name && query) {
    const fs = query.get('fieldSelector');
    if (fs) {
      for (const term of fs.split(',')) {
        const m = /^metadata\.name(==?)(.*)$/.exec(term.trim());
        if (m) a.name = m[2];
      }
    }
  }
  return a;
}

/** upstream forbiddenMessage (endpoints/handlers/responsewriters/errors.go). */
export function forbiddenMessage(a: Attributes): string {
  if (!a.resourceRequest) return `User ${JSON.stringify(a.user.name)} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  if (a.namespace) {
    return `User ${JSON.stringify(a.user.name)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} in the namespace ${JSON.stringify(a.namespace)}`;
  }
  return `User ${JSON.stringify(a.user.name)} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} at the cluster scope`;
}

/** The 403 Status upstream's authorization filter answers with (apierrors.NewForbidden). */
export function forbiddenError(a: Attributes, reason: string): StatusError {
  const msg = forbiddenMessage(a) + (reason ? `: ${reason}` : '');
  let message: string;
  const details: NonNullable<Status['details']> = {};
  if (!a.resource) {
    message = `forbidden: ${msg}`;
  } else {
    const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
    message = a.name ? `${qualified} ${JSON.stringify(a.name)} is forbidden: ${msg}` : `${qualified} is forbidden: ${msg}`;
    if (a.name) details.name = a.name;
    if (a.apiGroup) details.group = a.apiGroup;
    details.kind = a.resource;
  }
  return failure(403, 'Forbidden', message, a.resource ? details : {});
}
