// Request authentication, as kube-apiserver's union of authenticators: the first
// that recognises the request names the user. Order: x509 client certificate, then
// bearer token from the --token-auth-file, then a service-account JWT. Every authenticated user also gets the
// group system:authenticated (upstream's AuthenticatedGroupAdder). Anything else is
// undefined: the caller answers 401 (or lets anonymous through on the always-allowed
// paths).

import type { PeerCertificate } from 'node:tls';

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  /** Upstream's user.Info extra (service accounts: pod-name, pod-uid, credential-id...). */
  extra?: Record<string, string[]>;
}

export interface AuthnRequest {
  headers: Record<string, string | string[] | undefined>;
  /** `socket.getPeerCertificate()`; an empty object or null when the client sent none. */
  peerCertificate?: PeerCertificate | null;
  /** `socket.authorized`: the TLS layer verified the certificate chain against the cluster CA. */
  authorized?: boolean;
}

export type Authenticator = (req: AuthnRequest) => UserInfo | undefined;

export const AUTHENTICATED_GROUP = 'system:authenticated';

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';
const ANY_EXT_KEY_USAGE_OID = '2.5.29.37.0';

/**
 * Parses kube-apiserver's static token file: `token,user,uid[,"group1,group2"]` per
 * line, CSV quoting. Blank lines are skipped (Go's csv reader skips them, so a file
 * kube-apiserver accepts is accepted here); any other line that is not a well-formed
 * record, has an empty token or user, or repeats a token is an Error naming its line.
 */
export function parseTokenAuthFile(text: string): Map<string, UserInfo> {
  const tokens = new Map<string, UserInfo>();
  const firstLine = new Map<string, number>();
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i];
    if (line.trim() === '') continue;
    const fields = parseCSVLine(line, lineNo);
    if (fields.length < 3) {
      throw new Error(
        `token file line ${lineNo}: must have at least 3 columns (token, user name, user uid), found ${fields.length}`,
      );
    }
    const [token, name, uid, groupsField] = fields;
    if (token === '') throw new Error(`token file line ${lineNo}: empty token`);
    if (name === '') throw new Error(`token file line ${lineNo}: empty user name`);
    const seen = firstLine.get(token);
    if (seen !== undefined) throw new Error(`token file line ${lineNo}: duplicate token (first on line ${seen})`);
    firstLine.set(token, lineNo);
    const groups =
      groupsField === undefined
        ? []
        : groupsField
            .split(',')
            .map((g) => g.trim())
            .filter((g) => g !== '');
    const user: UserInfo = { name, groups };
    if (uid !== '') user.uid = uid;
    tokens.set(token, user);
  }
  return tokens;
}

/** One RFC 4180 record on one line; spaces around a field are dropped, `""` inside quotes is a quote. */
function parseCSVLine(line: string, lineNo: number): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    let value: string;
    if (line[i] === '"') {
      value = '';
      i++;
      for (;;) {
        if (i >= line.length) throw new Error(`token file line ${lineNo}: unterminated quoted field`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            value += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += line[i++];
      }
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (i < line.length && line[i] !== ',') {
        throw new Error(`token file line ${lineNo}: unexpected ${JSON.stringify(line[i])} after a quoted field`);
      }
    } else {
      const end = line.indexOf(',', i);
      value = (end === -1 ? line.slice(i) : line.slice(i, end)).trim();
      if (value.includes('"')) throw new Error(`token file line ${lineNo}: bare " in an unquoted field`);
      i = end === -1 ? line.length : end;
    }
    fields.push(value);
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

/**
 * Builds the request authenticator. Pure and synchronous: it reads only what the
 * TLS layer and the headers already carry.
 */
export function createAuthenticator(opts: {
  tokens?: Map<string, UserInfo>;
  /** Service-account JWTs (serviceaccount/tokens.ts); undefined for anything it does not accept. */
  serviceAccountTokens?: (token: string) => UserInfo | undefined;
}): Authenticator {
  const tokens = opts.tokens ?? new Map<string, UserInfo>();
  return (req) => {
    const fromCert = userFromCertificate(req);
    if (fromCert) return fromCert;
    const token = bearerToken(req.headers);
    if (token !== undefined) {
      const user = tokens.get(token);
      if (user) return withAuthenticatedGroup(user);
      const sa = opts.serviceAccountTokens?.(token);
      if (sa) return withAuthenticatedGroup(sa);
    }
    return undefined;
  };
}

/** x509 authenticator (upstream CommonNameUserConversion): CN is the user, each O a group. */
function userFromCertificate(req: AuthnRequest): UserInfo | undefined {
  // Only a chain the TLS layer verified against the CA counts; with
  // rejectUnauthorized:false a client may present any self-signed certificate.
  if (req.authorized !== true) return undefined;
  const cert = req.peerCertificate;
  const cn = cert?.subject ? firstValue(cert.subject.CN) : undefined;
  if (!cert || !cn) return undefined;
  // Upstream verifies with ExtKeyUsageClientAuth; a serving cert is not a login.
  const eku = cert.ext_key_usage;
  if (eku && !eku.includes(CLIENT_AUTH_OID) && !eku.includes(ANY_EXT_KEY_USAGE_OID)) return undefined;
  return withAuthenticatedGroup({ name: cn, groups: allValues(cert.subject.O) });
}

/** `Authorization: Bearer <token>`, scheme case-insensitive, as upstream's bearertoken authenticator. */
function bearerToken(headers: AuthnRequest['headers']): string | undefined {
  const raw = headers.authorization ?? headers.Authorization;
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (!value) return undefined;
  const parts = value.trim().split(' ');
  if (parts.length < 2 || parts[0].toLowerCase() !== 'bearer' || parts[1] === '') return undefined;
  return parts[1];
}

function withAuthenticatedGroup(user: UserInfo): UserInfo {
  const groups = user.groups.includes(AUTHENTICATED_GROUP) ? [...user.groups] : [...user.groups, AUTHENTICATED_GROUP];
  const out: UserInfo = { name: user.name, groups };
  if (user.uid !== undefined) out.uid = user.uid;
  if (user.extra !== undefined) out.extra = user.extra;
  return out;
}

/** Node gives a subject attribute as a string, or as an array when it repeats. */
function allValues(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? [...v] : [v];
}

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
