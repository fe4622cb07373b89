// User impersonation (upstream k8s.io/apiserver/pkg/endpoints/filters/impersonation.go):
// Impersonate-User, Impersonate-Group, Impersonate-Uid and Impersonate-Extra-<key>
// headers, each authorized for the requesting user with the `impersonate` verb on
// users, groups, serviceaccounts, uids or userextras/<key>. The request then runs as
// the impersonated user.

import { badRequest, type StatusError } from '../../api/errors.ts';
import { forbiddenError, type Attributes, type Authorizer, type UserInfo } from './attributes.ts';

const SA_PREFIX = 'system:serviceaccount:';

function values(h: string | string[] | undefined): string[] {
  if (h === undefined) return [];
  return Array.isArray(h) ? h : [h];
}

/** True when the request asks to impersonate (the cheap check on every request). */
export function wantsImpersonation(headers: Record<string, string | string[] | undefined>): boolean {
  if (headers['impersonate-user'] !== undefined || headers['impersonate-group'] !== undefined || headers['impersonate-uid'] !== undefined) return true;
  for (const k in headers) if (k.startsWith('impersonate-extra-')) return true;
  return false;
}

function attrs(user: UserInfo, resource: string, name: string, extra: Partial<Attributes> = {}): Attributes {
  return { user, verb: 'impersonate', resourceRequest: true, path: '', apiGroup: '', apiVersion: '', resource, subresource: '', namespace: '', name, ...extra };
}

/** The impersonated user, or the Status to answer with. */
export function impersonate(requestor: UserInfo, headers: Record<string, string | string[] | undefined>, authz: Authorizer): UserInfo | StatusError {
  const userName = values(headers['impersonate-user'])[0];
  const groups = values(headers['impersonate-group']).flatMap((g) => g.split(',').map((x) => x.trim())).filter(Boolean);
  const uid = values(headers['impersonate-uid'])[0];
  const extra: Record<string, string[]> = {};
  for (const k in headers) {
    if (!k.startsWith('impersonate-extra-')) continue;
    let key = k.slice('impersonate-extra-'.length);
    try {
      key = decodeURIComponent(key);
    } catch {
      // kept as sent
    }
    extra[key] = values(headers[k]).flatMap((v) => v.split(',').map((x) => x.trim()));
  }
  if (!userName) {
    if (groups.length || Object.keys(extra).length || uid) {
      const what = [...groups.map((g) => `Group=${g}`), ...Object.keys(extra).map((k) => `Extra=${k}`), ...(uid ? [`UID=${uid}`] : [])];
      return badRequest(`requested [${what.join(' ')}] without impersonating a user`);
    }
    return requestor;
  }
  const checks: Attributes[] = [];
  let finalGroups = [...groups];
  if (userName.startsWith(SA_PREFIX)) {
    const rest = userName.slice(SA_PREFIX.length);
    const i = rest.indexOf(':');
    const ns = i > 0 ? rest.slice(0, i) : '';
    const name = i > 0 ? rest.slice(i + 1) : '';
    checks.push(attrs(requestor, 'serviceaccounts', name, { namespace: ns }));
    if (!groups.length) finalGroups = ['system:serviceaccounts', `system:serviceaccounts:${ns}`];
  } else {
    checks.push(attrs(requestor, 'users', userName));
  }
  for (const g of groups) checks.push(attrs(requestor, 'groups', g));
  for (const [k, vs] of Object.entries(extra)) for (const v of vs) checks.push(attrs(requestor, 'userextras', v, { apiGroup: 'authentication.k8s.io', subresource: k }));
  if (uid) checks.push(attrs(requestor, 'uids', uid, { apiGroup: 'authentication.k8s.io' }));
  for (const a of checks) {
    const d = authz.authorize(a);
    if (d.decision !== 'Allow') return forbiddenError(a, d.reason);
  }
  if (userName !== 'system:anonymous') {
    if (!finalGroups.includes('system:authenticated') && !finalGroups.includes('system:unauthenticated')) finalGroups.push('system:authenticated');
  } else if (!finalGroups.includes('system:unauthenticated')) {
    finalGroups.push('system:unauthenticated');
  }
  const out: UserInfo = { name: userName, groups: finalGroups };
  if (uid) out.uid = uid;
  if (Object.keys(extra).length) out.extra = extra;
  return out;
}
