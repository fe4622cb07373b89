// Service-account tokens as upstream issues and checks them (pkg/serviceaccount
// claims.go and jwt.go): JWTs signed with the cluster's sa.key carrying iss, sub,
// aud, exp, iat, nbf, jti and the private `kubernetes.io` claim naming the
// namespace, the ServiceAccount and the object the token is bound to. A token
// authenticates while its signature, issuer, audience and times hold and the
// ServiceAccount (and bound Pod, Secret or Node) still exists with the uid it names.
//
// Synchronous on purpose: the request authenticator runs before any handler and reads
// the objects from the apiserver's watch cache through `lookup`.

import { randomUUID } from 'node:crypto';
import type { KObject } from '../../api/object.ts';
import type { UserInfo } from '../authn.ts';
import { parseJWT, signJWT, toJWK, verifySignature, type JWK } from './jwt.ts';
import type { ServiceAccountKeys } from './keys.ts';

/** kubeadm's default --service-account-issuer. */
export const DEFAULT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/** The expiration the ServiceAccount admission puts in kube-api-access volumes (1 h + 7 s). */
export const WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS = 60 * 60 + 7;
/** What such a pod-bound token really lives for (--service-account-extend-token-expiration). */
export const EXPIRATION_EXTENSION_SECONDS = 24 * 365 * 60 * 60;
/** go-jose's DefaultLeeway, which upstream's validation uses for exp/nbf/iat and deletions. */
const LEEWAY_SECONDS = 60;

export const SERVICE_ACCOUNT_USERNAME_PREFIX = 'system:serviceaccount:';
export const ALL_SERVICE_ACCOUNTS_GROUP = 'system:serviceaccounts';
export const EXTRA_POD_NAME = 'authentication.kubernetes.io/pod-name';
export const EXTRA_POD_UID = 'authentication.kubernetes.io/pod-uid';
export const EXTRA_NODE_NAME = 'authentication.kubernetes.io/node-name';
export const EXTRA_NODE_UID = 'authentication.kubernetes.io/node-uid';
export const EXTRA_CREDENTIAL_ID = 'authentication.kubernetes.io/credential-id';

/** A cached object by resource, namespace and name; undefined when it does not exist. */
export type ObjectLookup = (resource: 'serviceaccounts' | 'pods' | 'secrets' | 'nodes', namespace: string | undefined, name: string) => KObject | undefined;

export interface TokenServiceOptions {
  keys: ServiceAccountKeys;
  /** --service-account-issuer (the first one issues; all are accepted). Default DEFAULT_ISSUER. */
  issuers?: string[];
  /** --api-audiences; default the issuer(s). */
  apiAudiences?: string[];
  /** --service-account-extend-token-expiration, default true. */
  extendExpiration?: boolean;
  /** --service-account-max-token-expiration in seconds; 0 (default) for no limit. */
  maxExpirationSeconds?: number;
  lookup: ObjectLookup;
  /** Seconds since the epoch (tests move the clock). */
  now?: () => number;
}

export interface BoundObjects {
  pod?: KObject;
  secret?: KObject;
  node?: KObject;
}

interface Ref {
  name?: string;
  uid?: string;
}

export function serviceAccountUsername(namespace: string, name: string): string {
  return `${SERVICE_ACCOUNT_USERNAME_PREFIX}${namespace}:${name}`;
}

export function serviceAccountGroups(namespace: string): string[] {
  return [ALL_SERVICE_ACCOUNTS_GROUP, `${ALL_SERVICE_ACCOUNTS_GROUP}:${namespace}`];
}

export class TokenService {
  readonly issuer: string;
  readonly issuers: string[];
  readonly apiAudiences: string[];
  readonly extendExpiration: boolean;
  readonly maxExpirationSeconds: number;
  private readonly keys: ServiceAccountKeys;
  private readonly lookup: ObjectLookup;
  private readonly now: () => number;

  constructor(opts: TokenServiceOptions) {
    this.issuers = opts.issuers?.length ? [...opts.issuers] : [DEFAULT_ISSUER];
    this.issuer = this.issuers[0];
    this.apiAudiences = opts.apiAudiences?.length ? [...opts.apiAudiences] : [...this.issuers];
    this.extendExpiration = opts.extendExpiration ?? true;
    this.maxExpirationSeconds = opts.maxExpirationSeconds ?? 0;
    this.keys = opts.keys;
    this.lookup = opts.lookup;
    this.now = opts.now ?? (() => Math.floor(Date.now() / 1000));
  }

  /**
   * Signs a token for `sa`, bound to at most a pod (with its node), a secret or a node.
   * `warnAfterSeconds` (non-zero) adds kubernetes.io.warnafter = iat + that.
   */
  issue(
    sa: KObject,
    bound: BoundObjects,
    opts: { expirationSeconds: number; audiences: string[]; warnAfterSeconds?: number },
  ): { token: string; issuedAt: number; expiresAt: number; id: string } {
    if (bound.secret && (bound.pod || bound.node)) throw new Error('internal error, token can only be bound to one object type');
    const now = this.now();
    const ns = sa.metadata.namespace ?? '';
    const k8s: Record<string, unknown> = {
      namespace: ns,
      serviceaccount: ref(sa),
    };
    if (bound.pod) {
      k8s.pod = ref(bound.pod);
      if (bound.node) k8s.node = ref(bound.node);
    } else if (bound.secret) {
      k8s.secret = ref(bound.secret);
    } else if (bound.node) {
      k8s.node = ref(bound.node);
    }
    if (opts.warnAfterSeconds) k8s.warnafter = now + opts.warnAfterSeconds;
    const id = randomUUID();
    const expiresAt = now + opts.expirationSeconds;
    // Keys in the order upstream's tokens carry them (go-jose merges claims through a map).
    const payload = {
      aud: opts.audiences,
      exp: expiresAt,
      iat: now,
      iss: this.issuer,
      jti: id,
      'kubernetes.io': k8s,
      nbf: now,
      sub: serviceAccountUsername(ns, sa.metadata.name ?? ''),
    };
    return { token: signJWT(this.keys.signing, payload), issuedAt: now, expiresAt, id };
  }

  /** Whether every audience is one of the API audiences (upstream isKubeAudiences). */
  isKubeAudiences(audiences: string[]): boolean {
    return audiences.every((a) => this.apiAudiences.includes(a));
  }

  /**
   * The user a bearer token names, or why it does not authenticate. `undefined` when
   * the token is not one of ours (not a JWT, or another issuer): other authenticators
   * may still know it.
   */
  validate(token: string): { user: UserInfo } | { error: string } | undefined {
    const jwt = parseJWT(token);
    if (!jwt) return undefined;
    const iss = jwt.payload.iss;
    if (typeof iss !== 'string' || !this.issuers.includes(iss)) return undefined;
    if (!verifySignature(jwt, this.keys.verifying)) return { error: 'invalid signature' };
    const p = jwt.payload;

    const tokenAuds = typeof p.aud === 'string' ? [p.aud] : Array.isArray(p.aud) ? p.aud.filter((a): a is string => typeof a === 'string') : [];
    if (!tokenAuds.some((a) => this.apiAudiences.includes(a))) {
      return { error: `token audiences ${JSON.stringify(tokenAuds)} is invalid for the target audiences ${JSON.stringify(this.apiAudiences)}` };
    }
    const now = this.now();
    // Every token we issue has exp; one without it is refused rather than accepted forever.
    if (typeof p.exp !== 'number') return { error: 'service account token has no expiry' };
    if (now - LEEWAY_SECONDS > p.exp) return { error: 'service account token has expired' };
    if (typeof p.nbf === 'number' && now + LEEWAY_SECONDS < p.nbf) return { error: 'service account token is not valid yet' };
    if (typeof p.iat === 'number' && now + LEEWAY_SECONDS < p.iat) return { error: 'service account token is issued in the future' };

    const k8s = p['kubernetes.io'];
    if (!isRecord(k8s) || typeof k8s.namespace !== 'string' || !isRecord(k8s.serviceaccount)) {
      return { error: 'service account token has no kubernetes.io claim' };
    }
    const namespace = k8s.namespace;
    const saRef = refOf(k8s.serviceaccount);
    if (!saRef.name) return { error: 'service account token names no service account' };
    const invalidIfDeletedBefore = (now - LEEWAY_SECONDS) * 1000;
    const deletedLongAgo = (o: KObject) => {
      const ts = o.metadata.deletionTimestamp;
      return typeof ts === 'string' && Date.parse(ts) < invalidIfDeletedBefore;
    };

    const sa = this.lookup('serviceaccounts', namespace, saRef.name);
    if (!sa) return { error: `serviceaccounts "${saRef.name}" not found` };
    if ((sa.metadata.uid ?? '') !== (saRef.uid ?? '')) return { error: `service account UID (${sa.metadata.uid}) does not match claim (${saRef.uid})` };
    if (deletedLongAgo(sa)) return { error: `service account ${namespace}/${saRef.name} has been deleted` };

    if (k8s.secret !== undefined) {
      const r = refOf(k8s.secret);
      const secret = r.name ? this.lookup('secrets', namespace, r.name) : undefined;
      if (!secret || deletedLongAgo(secret)) return { error: 'service account token has been invalidated' };
      if ((secret.metadata.uid ?? '') !== (r.uid ?? '')) return { error: `secret UID (${secret.metadata.uid}) does not match service account secret ref claim (${r.uid})` };
    }

    const extra: Record<string, string[]> = {};
    const podRef = k8s.pod !== undefined ? refOf(k8s.pod) : undefined;
    if (podRef) {
      const pod = podRef.name ? this.lookup('pods', namespace, podRef.name) : undefined;
      if (!pod || deletedLongAgo(pod)) return { error: 'service account token has been invalidated' };
      if ((pod.metadata.uid ?? '') !== (podRef.uid ?? '')) return { error: `pod UID (${pod.metadata.uid}) does not match service account pod ref claim (${podRef.uid})` };
      if (podRef.name && podRef.uid) {
        extra[EXTRA_POD_NAME] = [podRef.name];
        extra[EXTRA_POD_UID] = [podRef.uid];
      }
    }
    if (k8s.node !== undefined) {
      const nodeRef = refOf(k8s.node);
      if (!podRef) {
        // A token bound to the Node itself lives only as long as that Node.
        const node = nodeRef.name ? this.lookup('nodes', undefined, nodeRef.name) : undefined;
        if (!node || deletedLongAgo(node)) return { error: 'service account token has been invalidated' };
        if ((node.metadata.uid ?? '') !== (nodeRef.uid ?? '')) return { error: `node UID (${node.metadata.uid}) does not match service account node ref claim (${nodeRef.uid})` };
      }
      if (nodeRef.name) {
        extra[EXTRA_NODE_NAME] = [nodeRef.name];
        if (nodeRef.uid) extra[EXTRA_NODE_UID] = [nodeRef.uid];
      }
    }
    if (typeof p.jti === 'string' && p.jti !== '') extra[EXTRA_CREDENTIAL_ID] = [`JTI=${p.jti}`];

    const user: UserInfo = {
      name: serviceAccountUsername(namespace, saRef.name),
      groups: serviceAccountGroups(namespace),
    };
    if (saRef.uid) user.uid = saRef.uid;
    if (Object.keys(extra).length) user.extra = extra;
    return { user };
  }

  /** The authenticator form: the user, or undefined (not ours, or invalid: the request gets 401). */
  authenticate(token: string): UserInfo | undefined {
    const r = this.validate(token);
    return r && 'user' in r ? r.user : undefined;
  }

  /** /.well-known/openid-configuration, as upstream's service account issuer discovery serves it. */
  openIDConfiguration(jwksURI: string): Record<string, unknown> {
    return {
      issuer: this.issuer,
      jwks_uri: jwksURI,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [...new Set(this.keys.verifying.map((k) => k.alg))].sort(),
    };
  }

  /** /openid/v1/jwks: every key tokens are accepted from. */
  jwks(): { keys: JWK[] } {
    return { keys: this.keys.verifying.map(toJWK) };
  }
}

function ref(o: KObject): Ref {
  return { name: o.metadata.name, uid: o.metadata.uid };
}

function refOf(v: unknown): Ref {
  if (!isRecord(v)) return {};
  return { name: typeof v.name === 'string' ? v.name : undefined, uid: typeof v.uid === 'string' ? v.uid : undefined };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
