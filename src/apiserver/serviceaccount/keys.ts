// The service-account signing key pair, as kubeadm keeps it beside the cluster PKI:
// <pki>/sa.key (private, 0600) and <pki>/sa.pub (PKIX public key). Created on first
// start as RSA 2048 (RS256 is what every OIDC verifier accepts); a key that already
// exists is kept whatever its supported type (an RSA or P-256 sa.key copied from a
// kubeadm cluster keeps that cluster's tokens valid), since replacing it would
// invalidate every token handed out.

import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { signingKey, verifyingKey, type SigningKey, type VerifyingKey } from './jwt.ts';
import { readOptional, writeAtomic } from '../pki.ts';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface ServiceAccountKeys {
  signing: SigningKey;
  /** Keys tokens are accepted from: the signing key's public half first, then any other key in sa.pub. */
  verifying: VerifyingKey[];
  keyPath: string;
  publicKeyPath: string;
}

/** Loads <dir>/sa.key and sa.pub, creating the pair when sa.key is missing. Idempotent. */
export async function ensureServiceAccountKeys(dir: string): Promise<ServiceAccountKeys> {
  await mkdir(dir, { recursive: true });
  const keyPath = join(dir, 'sa.key');
  const publicKeyPath = join(dir, 'sa.pub');
  let keyPem = await readOptional(keyPath);
  let privateKey: KeyObject;
  if (keyPem === undefined) {
    const pair = await generateKeyPairAsync('rsa', { modulusLength: 2048 });
    privateKey = pair.privateKey;
    keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    await writeAtomic(keyPath, keyPem, 0o600);
  } else {
    try {
      privateKey = createPrivateKey(keyPem);
    } catch (e) {
      throw new Error(`${keyPath}: not a PEM private key (${(e as Error).message})`);
    }
  }
  const signing = signingKey(privateKey);
  const ownPublic = createPublicKey(privateKey);
  const ownPem = ownPublic.export({ type: 'spki', format: 'pem' }) as string;
  // sa.pub may hold more keys (kubeadm's --service-account-key-file takes a bundle);
  // the signing key's own public half is always one of them.
  const pubPem = await readOptional(publicKeyPath);
  const verifying: VerifyingKey[] = [verifyingKey(ownPublic)];
  if (pubPem === undefined) {
    await writeAtomic(publicKeyPath, ownPem, 0o644);
  } else {
    for (const block of pubPem.match(/-----BEGIN [A-Z ]+-----[\s\S]+?-----END [A-Z ]+-----/g) ?? []) {
      let k: VerifyingKey;
      try {
        k = verifyingKey(createPublicKey(block));
      } catch (e) {
        throw new Error(`${publicKeyPath}: ${(e as Error).message}`);
      }
      if (!verifying.some((v) => v.kid === k.kid)) verifying.push(k);
    }
  }
  return { signing, verifying, keyPath, publicKeyPath };
}
