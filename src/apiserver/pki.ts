// The cluster's certificates, laid out as kubeadm lays out /etc/kubernetes/pki:
// a CA (ca.crt/ca.key), the apiserver serving pair (apiserver.crt/.key) and the
// admin client pair (admin.crt/.key, O=system:masters) that goes into the admin
// kubeconfig. Files are PEM; keys are PKCS#8 ("PRIVATE KEY"), mode 0600.
//
// New keys are ECDSA P-256 (generation takes milliseconds, not RSA's seconds). A CA
// that already exists is kept whatever its key type (an RSA CA copied from a kubeadm
// cluster works), because replacing it would invalidate every certificate and
// kubeconfig handed out. Leaf certificates are re-issued on start when they are
// missing, not signed by the CA, not matching their key, within 90 days of expiry
// (k3s's rule), or (the serving cert) no longer covering the requested SANs.
//
// Everything x509 lives in this file (dependencies at the edges): the rest of Skiff
// sees PEM strings.

import * as x509 from '@peculiar/x509';
import { createPrivateKey, X509Certificate, type KeyObject, type webcrypto } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

export interface ClusterPKI {
  caCertPem: string;
  /** Absent when the CA is external (ca.crt without ca.key): nothing can be issued then. */
  caKeyPem?: string;
  serverCertPem: string;
  serverKeyPem: string;
  adminCertPem: string;
  adminKeyPem: string;
  /** A client certificate signed by the cluster CA: CN = user, one O per group. */
  issueClientCert(cn: string, groups: string[], days?: number): Promise<{ certPem: string; keyPem: string }>;
}

export interface ClusterPKIOptions {
  /** Directory holding the files (created if missing), e.g. <data-dir>/pki. */
  dir: string;
  /** The control plane's address (kubeadm's --apiserver-advertise-address); an IP. */
  advertiseAddress: string;
  /** The first IP of the service range, the `kubernetes` Service's ClusterIP (10.96.0.1). */
  serviceIP: string;
  /** Cluster DNS domain; default cluster.local. */
  dnsDomain?: string;
  /** More names or IPs for the serving cert (kubeadm's apiServer.certSANs). */
  extraSANs?: string[];
}

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_DAYS = 3650;
const LEAF_DAYS = 365;
/** Leaf certificates this close to expiry are re-issued on start (k3s renews within 90 days). */
const RENEW_BEFORE_DAYS = 90;
/** notBefore is back-dated so a machine whose clock is slightly behind still accepts new certs. */
const BACKDATE_MS = 5 * 60 * 1000;

const NEW_KEY_ALGORITHM: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };

/** OpenSSL's curve names as Node reports them, to WebCrypto's. */
const WEBCRYPTO_CURVES: Record<string, string | undefined> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

const CLIENT_AUTH_OID = x509.ExtendedKeyUsage.clientAuth;
const SERVER_AUTH_OID = x509.ExtendedKeyUsage.serverAuth;

interface KeyPair {
  keyPem: string;
  publicKey: webcrypto.CryptoKey;
  privateKey: webcrypto.CryptoKey;
}

interface Issuer {
  cert: x509.X509Certificate;
  nodeCert: X509Certificate;
  signingKey: webcrypto.CryptoKey;
  keyId: string;
}

interface LeafSpec {
  subject: x509.JsonName;
  days: number;
  extKeyUsage: string;
  sans?: x509.JsonGeneralName[];
}

/**
 * Loads the cluster PKI from `dir`, creating whatever is missing. Idempotent: a second
 * call with the same options changes nothing on disk.
 */
export async function ensureClusterPKI(opts: ClusterPKIOptions): Promise<ClusterPKI> {
  const wantedSANs = servingSANs(opts);
  await mkdir(opts.dir, { recursive: true });
  const paths = {
    caCert: join(opts.dir, 'ca.crt'),
    caKey: join(opts.dir, 'ca.key'),
    serverCert: join(opts.dir, 'apiserver.crt'),
    serverKey: join(opts.dir, 'apiserver.key'),
    adminCert: join(opts.dir, 'admin.crt'),
    adminKey: join(opts.dir, 'admin.key'),
  };

  // ca.crt is written last when the CA is created, so its presence means a whole CA.
  let caCertPem = await readOptional(paths.caCert);
  let caKeyPem: string | undefined;
  if (caCertPem === undefined) {
    const created = await createCA();
    caCertPem = created.certPem;
    caKeyPem = created.keyPem;
    await writeAtomic(paths.caKey, caKeyPem, 0o600);
    await writeAtomic(paths.caCert, caCertPem, 0o644);
  } else {
    caKeyPem = await readOptional(paths.caKey);
  }
  const caNode = firstCertificate(caCertPem, paths.caCert);
  if (!caNode.ca) throw new Error(`${paths.caCert} is not a CA certificate (basicConstraints CA:FALSE)`);
  if (caKeyPem !== undefined && !caNode.checkPrivateKey(parsePrivateKey(caKeyPem, paths.caKey))) {
    throw new Error(`${paths.caKey} does not match ${paths.caCert}`);
  }
  const issuer = caKeyPem === undefined ? undefined : await loadIssuer(caCertPem, caKeyPem);

  const server = await ensureLeaf({
    certPath: paths.serverCert,
    keyPath: paths.serverKey,
    ca: caNode,
    issuer,
    covers: (cert) => coversSANs(cert, wantedSANs),
    spec: {
      subject: [{ CN: ['kube-apiserver'] }],
      days: LEAF_DAYS,
      extKeyUsage: SERVER_AUTH_OID,
      sans: wantedSANs,
    },
  });
  const admin = await ensureLeaf({
    certPath: paths.adminCert,
    keyPath: paths.adminKey,
    ca: caNode,
    issuer,
    covers: (cert) => hasExtKeyUsage(cert, CLIENT_AUTH_OID),
    spec: { subject: clientSubject('kubernetes-admin', ['system:masters']), days: LEAF_DAYS, extKeyUsage: CLIENT_AUTH_OID },
  });

  return {
    caCertPem,
    caKeyPem,
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
    adminCertPem: admin.certPem,
    adminKeyPem: admin.keyPem,
    async issueClientCert(cn, groups, days = LEAF_DAYS) {
      if (!issuer) throw new Error(`cannot issue a certificate for ${cn}: the CA key ${paths.caKey} is not present`);
      if (!cn) throw new Error('a client certificate needs a common name (the user name)');
      if (!(days > 0)) throw new Error(`certificate lifetime must be positive, got ${days} days`);
      return issueLeaf(issuer, { subject: clientSubject(cn, groups), days, extKeyUsage: CLIENT_AUTH_OID });
    },
  };
}

/** The names kubeadm puts in apiserver.crt, plus the extras; IPs and DNS names told apart as kubeadm does. */
function servingSANs(opts: ClusterPKIOptions): x509.JsonGeneralName[] {
  const domain = (opts.dnsDomain ?? 'cluster.local').replace(/\.$/, '');
  for (const [flag, ip] of [
    ['advertiseAddress', opts.advertiseAddress],
    ['serviceIP', opts.serviceIP],
  ] as const) {
    if (!isIP(ip)) throw new Error(`${flag} must be an IP address, got ${JSON.stringify(ip)}`);
  }
  const dns = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', `kubernetes.default.svc.${domain}`];
  const ips = ['127.0.0.1', opts.advertiseAddress, opts.serviceIP];
  for (const extra of opts.extraSANs ?? []) {
    const name = extra.trim();
    if (!name) continue;
    (isIP(name) ? ips : dns).push(name);
  }
  const sans: x509.JsonGeneralName[] = [];
  for (const value of new Set(dns)) sans.push({ type: 'dns', value });
  for (const value of new Set(ips)) sans.push({ type: 'ip', value });
  return sans;
}

function coversSANs(cert: X509Certificate, wanted: x509.JsonGeneralName[]): boolean {
  // DNS names compared as written (a wildcard extra SAN must match itself, not a host under it);
  // IPs through checkIP, which normalises the notation.
  const ext = new x509.X509Certificate(cert.raw).getExtension(x509.SubjectAlternativeNameExtension);
  const dns = new Set((ext?.names.items ?? []).filter((n) => n.type === 'dns').map((n) => n.value.toLowerCase()));
  return wanted.every((san) => (san.type === 'ip' ? cert.checkIP(san.value) !== undefined : dns.has(san.value.toLowerCase())));
}

function hasExtKeyUsage(cert: X509Certificate, oid: string): boolean {
  const usages = cert.keyUsage; // Node names the extKeyUsage OIDs "keyUsage"
  return usages === undefined || usages.includes(oid);
}

/**
 * O before CN, as Go's pkix.Name orders them (kubeadm's admin cert reads
 * "O = system:masters, CN = kubernetes-admin"); one RDN per group.
 */
function clientSubject(cn: string, groups: string[]): x509.JsonName {
  return [...groups.map((g) => ({ O: [g] })), { CN: [cn] }];
}

async function ensureLeaf(opts: {
  certPath: string;
  keyPath: string;
  ca: X509Certificate;
  issuer: Issuer | undefined;
  covers: (cert: X509Certificate) => boolean;
  spec: LeafSpec;
}): Promise<{ certPem: string; keyPem: string }> {
  const certPem = await readOptional(opts.certPath);
  const keyPem = await readOptional(opts.keyPath);
  let problem: string | undefined;
  if (certPem === undefined || keyPem === undefined) {
    problem = 'missing';
  } else {
    // Without the CA key a cert close to expiry is still used; only an expired one is fatal.
    const renewBeforeMs = opts.issuer ? RENEW_BEFORE_DAYS * DAY_MS : 0;
    problem = leafProblem(certPem, keyPem, { ...opts, renewBeforeMs });
    if (problem === undefined) return { certPem, keyPem };
  }
  if (!opts.issuer) {
    throw new Error(`${opts.certPath} is ${problem} and the CA key is not present to issue a new one`);
  }
  const issued = await issueLeaf(opts.issuer, opts.spec);
  // Key first: if we stop in between, the old cert no longer matches and is re-issued.
  await writeAtomic(opts.keyPath, issued.keyPem, 0o600);
  await writeAtomic(opts.certPath, issued.certPem, 0o644);
  return issued;
}

/** Why an existing leaf must be replaced, or undefined when it is still good. */
function leafProblem(
  certPem: string,
  keyPem: string,
  opts: {
    certPath: string;
    keyPath: string;
    ca: X509Certificate;
    covers: (cert: X509Certificate) => boolean;
    renewBeforeMs: number;
  },
): string | undefined {
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = firstCertificate(certPem, opts.certPath);
    key = parsePrivateKey(keyPem, opts.keyPath);
  } catch {
    return 'unreadable';
  }
  if (!cert.checkIssued(opts.ca) || !cert.verify(opts.ca.publicKey)) return 'not signed by the cluster CA';
  if (!cert.checkPrivateKey(key)) return 'not matching its key';
  const left = cert.validToDate.getTime() - Date.now();
  if (left < opts.renewBeforeMs || left <= 0) return left <= 0 ? 'expired' : 'expiring';
  if (!opts.covers(cert)) return 'not covering the requested names';
  return undefined;
}

async function createCA(): Promise<{ certPem: string; keyPem: string }> {
  const pair = await newKeyPair();
  const now = Date.now();
  const ski = await x509.SubjectKeyIdentifierExtension.create(pair.publicKey, false, crypto);
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: [{ CN: ['kubernetes'] }],
      issuer: [{ CN: ['kubernetes'] }],
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(now + CA_DAYS * DAY_MS),
      publicKey: pair.publicKey,
      signingKey: pair.privateKey,
      serialNumber: randomSerial(),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        ski,
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem') + '\n', keyPem: pair.keyPem };
}

async function issueLeaf(issuer: Issuer, spec: LeafSpec): Promise<{ certPem: string; keyPem: string }> {
  const pair = await newKeyPair();
  const now = Date.now();
  // A leaf never outlives its CA.
  const notAfter = Math.min(now + spec.days * DAY_MS, issuer.nodeCert.validToDate.getTime());
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    // digitalSignature only: keyEncipherment is an RSA key-exchange usage and leaf keys are ECDSA.
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([spec.extKeyUsage], false),
    await x509.SubjectKeyIdentifierExtension.create(pair.publicKey, false, crypto),
    new x509.AuthorityKeyIdentifierExtension(issuer.keyId, false),
  ];
  if (spec.sans?.length) extensions.push(new x509.SubjectAlternativeNameExtension(spec.sans, false));
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: spec.subject,
      // The CA's subject bytes as they are, so issuer/subject compare equal byte for byte.
      issuer: issuer.cert.subjectName,
      notBefore: new Date(now - BACKDATE_MS),
      notAfter: new Date(notAfter),
      publicKey: pair.publicKey,
      signingKey: issuer.signingKey,
      serialNumber: randomSerial(),
      extensions,
    },
    crypto,
  );
  return { certPem: cert.toString('pem') + '\n', keyPem: pair.keyPem };
}

async function loadIssuer(caCertPem: string, caKeyPem: string): Promise<Issuer> {
  const nodeCert = new X509Certificate(caCertPem);
  const cert = new x509.X509Certificate(nodeCert.raw);
  const signingKey = await toSigningKey(createPrivateKey(caKeyPem));
  // The AKI of what we issue must equal the CA's SKI; OpenSSL refuses the chain otherwise.
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const keyId = ski ? ski.keyId : (await x509.SubjectKeyIdentifierExtension.create(cert.publicKey, false, crypto)).keyId;
  return { cert, nodeCert, signingKey, keyId };
}

/** WebCrypto signing key for whatever kind of CA key is on disk (EC from us, RSA from kubeadm). */
async function toSigningKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  let algorithm: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
      break;
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
      const namedCurve = WEBCRYPTO_CURVES[curve];
      if (!namedCurve) throw new Error(`unsupported CA key curve ${curve}`);
      algorithm = { name: 'ECDSA', namedCurve };
      break;
    }
    case 'ed25519':
      algorithm = { name: 'Ed25519' };
      break;
    default:
      throw new Error(`unsupported CA key type ${key.asymmetricKeyType}`);
  }
  const der = key.export({ type: 'pkcs8', format: 'der' });
  return crypto.subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
}

async function newKeyPair(): Promise<KeyPair> {
  const pair = (await crypto.subtle.generateKey(NEW_KEY_ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const der = await crypto.subtle.exportKey('pkcs8', pair.privateKey);
  return { keyPem: toPem(new Uint8Array(der), 'PRIVATE KEY'), publicKey: pair.publicKey, privateKey: pair.privateKey };
}

/** 16 random bytes with the top bit clear: positive, and no leading-zero padding in DER. */
function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] & 0x7f) | 0x01;
  return Buffer.from(bytes).toString('hex');
}

function toPem(der: Uint8Array, label: string): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The first certificate of a PEM bundle (a ca.crt may carry a chain). */
function firstCertificate(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new Error(`${path}: not a PEM certificate (${(err as Error).message})`);
  }
}

function parsePrivateKey(pem: string, path: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new Error(`${path}: not a PEM private key (${(err as Error).message})`);
  }
}

export async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write-then-rename with fsync, so a crash leaves either the old file or the whole new one. */
export async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString('hex')}`;
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // exact mode whatever the umask
    await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  await rename(tmp, path);
}
