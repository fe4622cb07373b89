// Compact JWS (RFC 7515) signing and verification for service-account tokens, with
// node:crypto only and synchronously (the request authenticator is synchronous).
// RS256 for RSA keys (kubeadm's sa.key), ES256 for P-256 keys: the two algorithms
// upstream's JWT token generator picks by key type. The key id is upstream's: the
// unpadded base64url SHA-256 of the public key's PKIX DER, so a verifier matching
// `kid` against /openid/v1/jwks finds the key.

import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export type JWSAlgorithm = 'RS256' | 'ES256';

export interface SigningKey {
  alg: JWSAlgorithm;
  kid: string;
  privateKey: KeyObject;
}

export interface VerifyingKey {
  alg: JWSAlgorithm;
  kid: string;
  publicKey: KeyObject;
}

/** One key of a JSON Web Key Set, as upstream's /openid/v1/jwks lists it. */
export interface JWK {
  use: 'sig';
  kty: 'RSA' | 'EC';
  kid: string;
  alg: JWSAlgorithm;
  n?: string;
  e?: string;
  crv?: string;
  x?: string;
  y?: string;
}

/** The algorithm a key signs with; throws for key types upstream does not sign tokens with. */
export function algorithmFor(key: KeyObject): JWSAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  const what = key.asymmetricKeyType === 'ec' ? `ec ${key.asymmetricKeyDetails?.namedCurve}` : key.asymmetricKeyType;
  throw new Error(`service account keys must be RSA or ECDSA P-256, got ${what}`);
}

/** Upstream's keyIDFromPublicKey: base64url (no padding) of SHA-256 over the PKIX DER. */
export function keyID(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64url');
}

export function signingKey(privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey);
  return { alg: algorithmFor(privateKey), kid: keyID(publicKey), privateKey };
}

export function verifyingKey(publicKey: KeyObject): VerifyingKey {
  return { alg: algorithmFor(publicKey), kid: keyID(publicKey), publicKey };
}

export function toJWK(key: VerifyingKey): JWK {
  const jwk = key.publicKey.export({ format: 'jwk' });
  if (key.alg === 'RS256') return { use: 'sig', kty: 'RSA', kid: key.kid, alg: key.alg, n: jwk.n, e: jwk.e };
  return { use: 'sig', kty: 'EC', kid: key.kid, alg: key.alg, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64url');

/** header.payload.signature; the payload is serialised as given (key order kept). */
export function signJWT(key: SigningKey, payload: Record<string, unknown>): string {
  const input = `${b64(JSON.stringify({ alg: key.alg, kid: key.kid }))}.${b64(JSON.stringify(payload))}`;
  const sig = sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${sig.toString('base64url')}`;
}

/** A token that looks like a JWT: three base64url parts, the first a JSON object with `alg`. */
export interface ParsedJWT {
  header: { alg?: unknown; kid?: unknown; typ?: unknown };
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

const B64URL = /^[A-Za-z0-9_-]*$/;

/** Parses without verifying; undefined when the text is not a compact JWS with JSON parts. */
export function parseJWT(token: string): ParsedJWT | undefined {
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    if (!isRecord(header) || !isRecord(payload)) return undefined;
    return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2], 'base64url') };
  } catch {
    return undefined;
  }
}

/**
 * Verifies the signature against the keys whose algorithm matches the header's (and
 * whose kid matches, when the header names one). "none" and HMAC never verify.
 */
export function verifySignature(jwt: ParsedJWT, keys: VerifyingKey[]): boolean {
  const alg = jwt.header.alg;
  if (alg !== 'RS256' && alg !== 'ES256') return false;
  const kid = typeof jwt.header.kid === 'string' ? jwt.header.kid : undefined;
  for (const k of keys) {
    if (k.alg !== alg || (kid !== undefined && k.kid !== kid)) continue;
    if (alg === 'ES256' && jwt.signature.length !== 64) continue;
    const ok = verify('sha256', Buffer.from(jwt.signingInput), { key: k.publicKey, dsaEncoding: 'ieee-p1363' }, jwt.signature);
    if (ok) return true;
  }
  return false;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
