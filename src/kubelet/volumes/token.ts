// The kubelet's service-account token manager (upstream pkg/kubelet/token): requests
// pod-bound tokens through the TokenRequest API for projected serviceAccountToken
// sources, keeps them per pod/audience/lifetime, and asks for a new one once 80% of
// the lifetime has passed or the token is older than 24 hours. When a refresh fails
// and the cached token is still valid, the cached one is used (and the failure
// logged), as upstream does, so a short apiserver outage does not break mounts.

import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';
import type { Logger } from '../../client/util.ts';

/** Upstream's maxTTL: a token older than this is replaced whatever its lifetime. */
const MAX_TTL_MS = 24 * 60 * 60 * 1000;
/** Upstream's maxJitter, spreading the refreshes of many pods. */
const MAX_JITTER_MS = 10_000;
const DEFAULT_EXPIRATION_SECONDS = 3600;

export interface ServiceAccountTokenProjection {
  audience?: string;
  expirationSeconds?: number;
  path: string;
}

interface CachedToken {
  token: string;
  /** status.expirationTimestamp in ms. */
  expiresAt: number;
  expirationSeconds: number;
}

export class TokenManager {
  private readonly client: Client;
  private readonly log: Logger;
  private readonly now: () => number;
  /** By pod uid, then by service account/audience/lifetime. */
  private readonly cache = new Map<string, Map<string, CachedToken>>();

  constructor(opts: { client: Client; log?: Logger; now?: () => number }) {
    this.client = opts.client;
    this.log = opts.log ?? (() => {});
    this.now = opts.now ?? Date.now;
  }

  /** A token for the pod's service account bound to the pod, or the error text for the mount failure. */
  async tokenFor(pod: KObject, src: ServiceAccountTokenProjection, signal?: AbortSignal): Promise<{ token: string } | { error: string }> {
    const uid = pod.metadata.uid!;
    const ns = pod.metadata.namespace ?? 'default';
    const sa: string = pod.spec?.serviceAccountName || 'default';
    const expirationSeconds = src.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
    const key = `${sa}\n${src.audience ?? ''}\n${expirationSeconds}`;
    const cached = this.cache.get(uid)?.get(key);
    if (cached && !this.requiresRefresh(cached)) return { token: cached.token };
    const tr: KObject = {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      metadata: {},
      spec: {
        ...(src.audience ? { audiences: [src.audience] } : {}),
        expirationSeconds,
        boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name, uid },
      },
    };
    try {
      const out = await this.client.create(ref.serviceaccounts, ns, tr, { subresource: 'token', name: sa, signal });
      const token = out.status?.token;
      const expiresAt = Date.parse(out.status?.expirationTimestamp ?? '');
      if (typeof token !== 'string' || token === '' || Number.isNaN(expiresAt)) throw new Error('the TokenRequest answer has no token');
      let perPod = this.cache.get(uid);
      if (!perPod) this.cache.set(uid, (perPod = new Map()));
      perPod.set(key, { token, expiresAt, expirationSeconds });
      return { token };
    } catch (e) {
      if (signal?.aborted) throw e;
      const msg = (e as Error).message;
      if (cached && this.now() < cached.expiresAt) {
        this.log('token refresh failed, using the cached token', { pod: `${ns}/${pod.metadata.name}`, serviceAccount: sa, error: msg });
        return { token: cached.token };
      }
      return { error: `failed to fetch token: ${msg}` };
    }
  }

  /** Forgets the pod's tokens (the pod's volumes are gone). */
  forget(podUID: string): void {
    this.cache.delete(podUID);
  }

  private requiresRefresh(t: CachedToken): boolean {
    const now = this.now();
    const jitter = Math.random() * MAX_JITTER_MS;
    const issuedAt = t.expiresAt - t.expirationSeconds * 1000;
    if (now > issuedAt + MAX_TTL_MS - jitter) return true;
    return now > t.expiresAt - t.expirationSeconds * 200 - jitter; // the last 20% of the lifetime
  }
}
