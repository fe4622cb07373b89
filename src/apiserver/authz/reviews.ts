// authorization.k8s.io/v1 access reviews, create-only and never stored (upstream
// pkg/registry/authorization): SubjectAccessReview, SelfSubjectAccessReview,
// LocalSubjectAccessReview and SelfSubjectRulesReview. `kubectl auth can-i` sends them.

import { badRequest, fieldErr, invalid, type FieldError } from '../../api/errors.ts';
import { isObject, type KObject } from '../../api/object.ts';
import type { ApiRequest, CreateHook, RouteInfo } from '../handler.ts';
import type { Attributes, UserInfo } from './attributes.ts';
import type { Authorization } from './index.ts';

const V1 = 'authorization.k8s.io/v1';

function requester(req: ApiRequest): UserInfo {
  return req.user ?? { name: 'system:anonymous', groups: ['system:unauthenticated'] };
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/** upstream ResourceAttributesFrom / NonResourceAttributesFrom. */
function specAttributes(kind: string, user: UserInfo, spec: Record<string, any>): Attributes {
  const ra = spec.resourceAttributes;
  const nra = spec.nonResourceAttributes;
  const errs: FieldError[] = [];
  if (isObject(ra) === isObject(nra)) {
    errs.push(fieldErr.invalid('spec.resourceAttributes', ra ?? null, 'exactly one of nonResourceAttributes or resourceAttributes must be specified'));
  }
  if (errs.length) throw invalid({ group: 'authorization.k8s.io', kind }, '', errs);
  if (isObject(ra)) {
    return {
      user,
      verb: str(ra.verb),
      resourceRequest: true,
      path: '',
      apiGroup: str(ra.group),
      apiVersion: str(ra.version),
      resource: str(ra.resource),
      subresource: str(ra.subresource),
      namespace: str(ra.namespace),
      name: str(ra.name),
    };
  }
  return { user, verb: str(nra.verb), resourceRequest: false, path: str(nra.path), apiGroup: '', apiVersion: '', resource: '', subresource: '', namespace: '', name: '' };
}

function answer(kind: string, body: KObject, a: Attributes, authz: Authorization, extraMeta: Record<string, unknown> = {}): KObject {
  const d = authz.authorizer.authorize(a);
  const status: Record<string, unknown> = { allowed: d.decision === 'Allow' };
  if (d.decision === 'Deny') status.denied = true;
  if (d.reason) status.reason = d.reason;
  return {
    kind,
    apiVersion: V1,
    metadata: { ...(isObject(body.metadata) ? body.metadata : {}), creationTimestamp: null, ...extraMeta },
    spec: body.spec,
    status,
  } as unknown as KObject;
}

export function reviewCreateHooks(authz: Authorization): (r: RouteInfo) => CreateHook | undefined {
  const self: CreateHook = {
    kind: { apiVersion: V1, kind: 'SelfSubjectAccessReview' },
    create: async (obj, _r, req) => {
      const spec = isObject(obj.spec) ? obj.spec : {};
      return { obj: answer('SelfSubjectAccessReview', obj, specAttributes('SelfSubjectAccessReview', requester(req), spec), authz) };
    },
  };
  const subject: CreateHook = {
    kind: { apiVersion: V1, kind: 'SubjectAccessReview' },
    create: async (obj) => {
      const spec = isObject(obj.spec) ? obj.spec : {};
      const user = subjectOf('SubjectAccessReview', spec);
      return { obj: answer('SubjectAccessReview', obj, specAttributes('SubjectAccessReview', user, spec), authz) };
    },
  };
  const local: CreateHook = {
    kind: { apiVersion: V1, kind: 'LocalSubjectAccessReview' },
    create: async (obj, r) => {
      const spec = isObject(obj.spec) ? obj.spec : {};
      const user = subjectOf('LocalSubjectAccessReview', spec);
      const a = specAttributes('LocalSubjectAccessReview', user, spec);
      if (!a.resourceRequest) {
        throw invalid({ group: 'authorization.k8s.io', kind: 'LocalSubjectAccessReview' }, '', [
          fieldErr.invalid('spec.nonResourceAttributes', spec.nonResourceAttributes, 'disallowed on this kind of request'),
        ]);
      }
      if (a.namespace !== r.namespace) {
        throw badRequest(`spec.resourceAttributes.namespace must match namespace: ${r.namespace}`);
      }
      return { obj: answer('LocalSubjectAccessReview', obj, a, authz, { namespace: r.namespace }) };
    },
  };
  const rules: CreateHook = {
    kind: { apiVersion: V1, kind: 'SelfSubjectRulesReview' },
    create: async (obj, _r, req) => {
      const spec = isObject(obj.spec) ? obj.spec : {};
      const ns = str(spec.namespace);
      if (!ns) {
        throw invalid({ group: 'authorization.k8s.io', kind: 'SelfSubjectRulesReview' }, '', [fieldErr.required('spec.namespace', '')]);
      }
      const r = authz.rulesFor(requester(req), ns);
      const status: Record<string, unknown> = { resourceRules: r.resourceRules, nonResourceRules: r.nonResourceRules, incomplete: r.incomplete };
      if (r.evaluationError) status.evaluationError = r.evaluationError;
      return {
        obj: { kind: 'SelfSubjectRulesReview', apiVersion: V1, metadata: { ...(isObject(obj.metadata) ? obj.metadata : {}), creationTimestamp: null }, spec: obj.spec, status } as unknown as KObject,
      };
    },
  };
  return (r) => {
    if (r.resource?.group !== 'authorization.k8s.io' || r.subresource) return undefined;
    switch (r.resource.plural) {
      case 'selfsubjectaccessreviews':
        return self;
      case 'subjectaccessreviews':
        return subject;
      case 'localsubjectaccessreviews':
        return local;
      case 'selfsubjectrulesreviews':
        return rules;
    }
    return undefined;
  };
}

function subjectOf(kind: string, spec: Record<string, any>): UserInfo {
  const user = str(spec.user);
  const groups = Array.isArray(spec.groups) ? spec.groups.filter((g: unknown): g is string => typeof g === 'string') : [];
  if (!user && groups.length === 0) {
    throw invalid({ group: 'authorization.k8s.io', kind }, '', [fieldErr.invalid('spec.user', user, 'at least one of user or group must be specified')]);
  }
  const out: UserInfo = { name: user, groups };
  if (spec.uid) out.uid = str(spec.uid);
  if (isObject(spec.extra)) out.extra = spec.extra as Record<string, string[]>;
  return out;
}
