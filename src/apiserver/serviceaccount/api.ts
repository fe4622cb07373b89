// The API side of service-account tokens: the serviceaccounts/token subresource
// (authentication.k8s.io/v1 TokenRequest, upstream's TokenREST), SelfSubjectReview
// (`kubectl auth whoami`) and the service account issuer discovery documents
// (/.well-known/openid-configuration, /openid/v1/jwks). Nothing here is stored.

import { badRequest, conflict, fieldErr, internalError, invalid, isStatusError, type FieldError } from '../../api/errors.ts';
import { isObject, type KObject } from '../../api/object.ts';
import type { ApiRequest, CreateHook, RouteInfo } from '../handler.ts';
import type { Registry } from '../registry.ts';
import { WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS, EXPIRATION_EXTENSION_SECONDS, type BoundObjects, type TokenService } from './tokens.ts';

const TOKEN_REQUEST = { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest' };
const SELF_SUBJECT_REVIEW = { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' };
const TOKEN_REQUEST_GK = { group: 'authentication.k8s.io', kind: 'TokenRequest' };
const MIN_EXPIRATION_SECONDS = 600;
const MAX_EXPIRATION_SECONDS = 2 ** 32;
const DEFAULT_EXPIRATION_SECONDS = 3600;

/** The handler's create hooks for the token subresource and SelfSubjectReview. */
export function serviceAccountCreateHooks(opts: { registry: Registry; tokens: TokenService }): (r: RouteInfo) => CreateHook | undefined {
  const tokenHook: CreateHook = {
    kind: TOKEN_REQUEST,
    create: (obj, r, req) => createToken(opts.registry, opts.tokens, obj, r, req),
  };
  const reviewHook: CreateHook = { kind: SELF_SUBJECT_REVIEW, create: async (_obj, _r, req) => ({ obj: selfSubjectReview(req) }) };
  return (r) => {
    const info = r.resource;
    if (!info) return undefined;
    if (info.group === '' && info.plural === 'serviceaccounts' && r.subresource === 'token') return tokenHook;
    if (info.group === 'authentication.k8s.io' && info.plural === 'selfsubjectreviews' && !r.subresource) return reviewHook;
    return undefined;
  };
}

function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** upstream TokenREST.Create: validate, resolve the bound object, sign, answer with status.token. */
async function createToken(registry: Registry, tokens: TokenService, body: KObject, r: RouteInfo, req: ApiRequest): Promise<{ obj: KObject; warnings?: string[] }> {
  const namespace = r.namespace!;
  const name = r.name!;
  const meta = isObject(body.metadata) ? body.metadata : {};
  if (meta.name && meta.name !== name) {
    throw invalid(TOKEN_REQUEST_GK, name, [fieldErr.invalid('metadata.name', meta.name, 'must match the service account name if specified')]);
  }
  if (meta.namespace && meta.namespace !== namespace) {
    throw invalid(TOKEN_REQUEST_GK, name, [fieldErr.invalid('metadata.namespace', meta.namespace, 'must match the service account namespace if specified')]);
  }
  const sa = (await registry.get(registry.findInfo('', 'serviceaccounts'), namespace, name, req.signal)).obj;

  const spec = isObject(body.spec) ? { ...body.spec } : {};
  if (!Array.isArray(spec.audiences) || spec.audiences.length === 0) spec.audiences = [...tokens.apiAudiences];
  spec.expirationSeconds ??= DEFAULT_EXPIRATION_SECONDS;
  const audiences = spec.audiences as string[];
  let expirationSeconds = spec.expirationSeconds as number;
  const nowMs = Date.now();

  const errs: FieldError[] = [];
  if (expirationSeconds < MIN_EXPIRATION_SECONDS) {
    errs.push(fieldErr.invalid('spec.expirationSeconds', expirationSeconds, 'may not specify a duration less than 10 minutes'));
  }
  if (expirationSeconds > MAX_EXPIRATION_SECONDS) {
    errs.push(fieldErr.invalid('spec.expirationSeconds', expirationSeconds, 'may not specify a duration larger than 2^32 seconds'));
  }
  if (errs.length) throw invalid(TOKEN_REQUEST_GK, '', errs);

  const bound: BoundObjects = {};
  const ref = spec.boundObjectRef;
  if (isObject(ref)) {
    const apiVersion = typeof ref.apiVersion === 'string' ? ref.apiVersion : '';
    const kind = typeof ref.kind === 'string' ? ref.kind : '';
    const refName = typeof ref.name === 'string' ? ref.name : '';
    const [group, version] = apiVersion.includes('/') ? apiVersion.split('/', 2) : ['', apiVersion];
    let uid: string | undefined;
    if (group === '' && kind === 'Pod') {
      const pod = (await registry.get(registry.findInfo('', 'pods'), namespace, refName, req.signal)).obj;
      if (pod.spec?.serviceAccountName !== name) {
        throw badRequest(`cannot bind token for serviceaccount ${JSON.stringify(name)} to pod running with different serviceaccount name.`);
      }
      bound.pod = pod;
      uid = pod.metadata.uid;
      // ServiceAccountTokenPodNodeInfo: the pod's node goes into the token, with its uid if it exists.
      const nodeName = pod.spec?.nodeName;
      if (typeof nodeName === 'string' && nodeName) {
        bound.node = registry.peek(registry.findInfo('', 'nodes'), undefined, nodeName)?.obj ?? { metadata: { name: nodeName } };
      }
    } else if (group === '' && kind === 'Node') {
      bound.node = (await registry.get(registry.findInfo('', 'nodes'), undefined, refName, req.signal)).obj;
      uid = bound.node.metadata.uid;
    } else if (group === '' && kind === 'Secret') {
      bound.secret = (await registry.get(registry.findInfo('', 'secrets'), namespace, refName, req.signal)).obj;
      uid = bound.secret.metadata.uid;
    } else {
      throw badRequest(`cannot bind token to object of type ${group}/${version}, Kind=${kind}`);
    }
    if (typeof ref.uid === 'string' && ref.uid !== '' && ref.uid !== uid) {
      throw conflict(
        { group, resource: kind },
        refName,
        `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
    }
  }

  const warnings: string[] = [];
  if (tokens.maxExpirationSeconds > 0 && expirationSeconds > tokens.maxExpirationSeconds) {
    warnings.push(`requested expiration of ${expirationSeconds} seconds shortened to ${tokens.maxExpirationSeconds} seconds`);
    expirationSeconds = tokens.maxExpirationSeconds;
    spec.expirationSeconds = expirationSeconds;
  }
  // The kubelet's kube-api-access tokens (1 h + 7 s, pod-bound, API audiences) really
  // live a year and carry warnafter, so clients that never reload keep working.
  let exp = expirationSeconds;
  let warnAfterSeconds = 0;
  if (tokens.extendExpiration && bound.pod && expirationSeconds === WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS && tokens.isKubeAudiences(audiences)) {
    warnAfterSeconds = expirationSeconds;
    exp = EXPIRATION_EXTENSION_SECONDS;
  }
  let issued;
  try {
    issued = tokens.issue(sa, bound, { expirationSeconds: exp, audiences, warnAfterSeconds });
  } catch (e) {
    if (isStatusError(e)) throw e;
    throw internalError(new Error(`failed to generate token: ${(e as Error).message}`));
  }
  const obj: KObject = {
    kind: 'TokenRequest',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { name: sa.metadata.name, namespace: sa.metadata.namespace, creationTimestamp: timestamp(nowMs) },
    spec,
    // The requested lifetime, not the extended one (upstream: <= the token's exp).
    status: { token: issued.token, expirationTimestamp: timestamp(nowMs + expirationSeconds * 1000) },
  };
  return { obj, warnings };
}

/** SelfSubjectReview: the request's own user, as the authenticator named it. */
function selfSubjectReview(req: ApiRequest): KObject {
  const u = req.user;
  const userInfo: Record<string, unknown> = { username: u?.name ?? 'system:anonymous' };
  if (u?.uid) userInfo.uid = u.uid;
  userInfo.groups = u?.groups ?? ['system:unauthenticated'];
  if (u?.extra && Object.keys(u.extra).length) userInfo.extra = u.extra;
  return {
    kind: 'SelfSubjectReview',
    apiVersion: 'authentication.k8s.io/v1',
    metadata: { creationTimestamp: timestamp(Date.now()) },
    status: { userInfo },
  };
}
