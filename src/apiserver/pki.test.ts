// Tier: unit + integration (real TLS on 127.0.0.1 port 0, real kubectl 1.32).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import * as x509 from '@peculiar/x509';
import { ensureClusterPKI, type ClusterPKIOptions } from './pki.ts';
import { createAuthenticator, type UserInfo } from './authn.ts';
import { buildKubeconfig, mergeKubeconfig } from '../client/kubeconfig.ts';

const KUBECTL = process.env.KUBECTL ?? '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-pki-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const base = (dir: string): ClusterPKIOptions => ({
  dir: join(dir, 'pki'),
  advertiseAddress: '192.168.56.10',
  serviceIP: '10.96.0.1',
});

function positiveSerial(cert: X509Certificate): boolean {
  return /^[0-7]/.test(cert.serialNumber) && /[1-9A-F]/i.test(cert.serialNumber);
}

test('first start creates a kubeadm-shaped PKI; keys are 0600 PKCS#8', async () => {
  await withDir(async (dir) => {
    const pki = await ensureClusterPKI({ ...base(dir), extraSANs: ['skiff.example', '10.0.0.7'] });
    const ca = new X509Certificate(pki.caCertPem);
    assert.equal(ca.ca, true);
    assert.equal(ca.subject, 'CN=kubernetes');
    assert.ok(ca.validToDate.getTime() - Date.now() > 9.9 * 365 * 86400_000, 'CA lives 10 years');

    const server = new X509Certificate(pki.serverCertPem);
    assert.equal(server.ca, false);
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey));
    assert.deepEqual(server.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    for (const host of [
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
      'skiff.example',
    ]) {
      assert.equal(server.checkHost(host, { subject: 'never' }), host, host);
    }
    for (const ip of ['127.0.0.1', '192.168.56.10', '10.96.0.1', '10.0.0.7']) assert.equal(server.checkIP(ip), ip, ip);
    assert.equal(server.checkIP('10.96.0.2'), undefined);
    assert.match(server.subjectAltName ?? '', /DNS:kubernetes\.default\.svc\.cluster\.local/);

    const admin = new X509Certificate(pki.adminCertPem);
    assert.ok(admin.verify(ca.publicKey), 'admin cert verifies against the CA');
    assert.equal(admin.subject, 'O=system:masters\nCN=kubernetes-admin');
    assert.deepEqual(admin.keyUsage, ['1.3.6.1.5.5.7.3.2']);
    assert.ok(admin.checkPrivateKey(createPrivateKey(pki.adminKeyPem)));
    for (const c of [ca, server, admin]) assert.ok(positiveSerial(c), c.serialNumber);
    assert.notEqual(server.serialNumber, admin.serialNumber);

    for (const f of ['ca.key', 'apiserver.key', 'admin.key']) {
      const path = join(dir, 'pki', f);
      assert.equal((await stat(path)).mode & 0o777, 0o600, f);
      assert.match(await readFile(path, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
    }
    assert.equal(await readFile(join(dir, 'pki', 'ca.crt'), 'utf8'), pki.caCertPem);
  });
});

test('a later start keeps everything; new SANs re-issue only the serving cert', async () => {
  await withDir(async (dir) => {
    const first = await ensureClusterPKI(base(dir));
    const again = await ensureClusterPKI(base(dir));
    assert.equal(again.caCertPem, first.caCertPem);
    assert.equal(again.caKeyPem, first.caKeyPem);
    assert.equal(again.serverCertPem, first.serverCertPem);
    assert.equal(again.adminCertPem, first.adminCertPem);

    const wildcard = { ...base(dir), extraSANs: ['*.apps.example'] };
    const withWildcard = await ensureClusterPKI(wildcard);
    assert.notEqual(withWildcard.serverCertPem, first.serverCertPem);
    assert.equal((await ensureClusterPKI(wildcard)).serverCertPem, withWildcard.serverCertPem, 'a wildcard SAN is covered by itself');

    const moved = await ensureClusterPKI({ ...base(dir), advertiseAddress: '192.168.56.11', dnsDomain: 'corp.local' });
    assert.equal(moved.caCertPem, first.caCertPem, 'the CA is kept');
    assert.equal(moved.adminCertPem, first.adminCertPem);
    assert.notEqual(moved.serverCertPem, first.serverCertPem);
    const server = new X509Certificate(moved.serverCertPem);
    assert.equal(server.checkIP('192.168.56.11'), '192.168.56.11');
    assert.ok(server.checkHost('kubernetes.default.svc.corp.local', { subject: 'never' }));
    assert.ok(server.verify(new X509Certificate(first.caCertPem).publicKey));
    assert.equal(await readFile(join(dir, 'pki', 'apiserver.crt'), 'utf8'), moved.serverCertPem);
  });
});

test('a missing or mismatched leaf is re-issued; a CA key that does not match its cert is an error', async () => {
  await withDir(async (dir) => {
    const first = await ensureClusterPKI(base(dir));
    await unlink(join(dir, 'pki', 'admin.crt'));
    await writeFile(join(dir, 'pki', 'apiserver.key'), first.adminKeyPem);
    const healed = await ensureClusterPKI(base(dir));
    assert.equal(healed.caCertPem, first.caCertPem);
    assert.notEqual(healed.adminCertPem, first.adminCertPem);
    assert.notEqual(healed.serverKeyPem, first.adminKeyPem);
    assert.ok(new X509Certificate(healed.serverCertPem).checkPrivateKey(createPrivateKey(healed.serverKeyPem)));

    // A leaf within 90 days of expiry is renewed on start (k3s's rule).
    const shortLived = await healed.issueClientCert('kubernetes-admin', ['system:masters'], 30);
    await writeFile(join(dir, 'pki', 'admin.crt'), shortLived.certPem);
    await writeFile(join(dir, 'pki', 'admin.key'), shortLived.keyPem);
    const renewed = await ensureClusterPKI(base(dir));
    assert.notEqual(renewed.adminCertPem, shortLived.certPem);
    assert.ok(new X509Certificate(renewed.adminCertPem).validToDate.getTime() - Date.now() > 300 * 86400_000);

    await writeFile(join(dir, 'pki', 'ca.key'), first.adminKeyPem);
    await assert.rejects(ensureClusterPKI(base(dir)), /ca\.key does not match/);
  });
});

test('issueClientCert: CN is the user, every group an O, signed by the CA', async () => {
  await withDir(async (dir) => {
    const pki = await ensureClusterPKI(base(dir));
    const { certPem, keyPem } = await pki.issueClientCert('jane', ['dev', 'ops'], 7);
    const cert = new X509Certificate(certPem);
    assert.equal(cert.subject, 'O=dev\nO=ops\nCN=jane');
    assert.ok(cert.verify(new X509Certificate(pki.caCertPem).publicKey));
    assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)));
    assert.ok(cert.validToDate.getTime() - Date.now() < 8 * 86400_000);
  });
});

test('an RSA CA with a PKCS#1 key (as kubeadm writes) is kept and signs the leaves', async () => {
  await withDir(async (dir) => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const signingKey = await crypto.subtle.importKey(
      'pkcs8',
      privateKey.export({ type: 'pkcs8', format: 'der' }),
      alg,
      true,
      ['sign'],
    );
    const publicKey = await crypto.subtle.importKey(
      'spki',
      createPublicKey(privateKey).export({ type: 'spki', format: 'der' }),
      alg,
      true,
      ['verify'],
    );
    const caCert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        name: 'CN=kubernetes',
        keys: { privateKey: signingKey, publicKey },
        extensions: [
          new x509.BasicConstraintsExtension(true, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.digitalSignature, true),
          await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
        ],
      },
      crypto,
    );
    const pkiDir = join(dir, 'pki');
    await ensureClusterPKI(base(dir)); // creates the dir; then swap in the RSA CA
    await writeFile(join(pkiDir, 'ca.crt'), caCert.toString('pem'));
    await writeFile(join(pkiDir, 'ca.key'), privateKey.export({ type: 'pkcs1', format: 'pem' }) as string);

    const pki = await ensureClusterPKI(base(dir));
    const ca = new X509Certificate(pki.caCertPem);
    assert.equal(ca.publicKey.asymmetricKeyType, 'rsa');
    assert.ok(new X509Certificate(pki.serverCertPem).verify(ca.publicKey), 'serving cert re-issued by the RSA CA');
    assert.ok(new X509Certificate(pki.adminCertPem).verify(ca.publicKey));
    assert.ok(new X509Certificate((await pki.issueClientCert('x', [])).certPem).verify(ca.publicKey));
  });
});

test('an external CA (ca.crt without ca.key) loads, but cannot issue', async () => {
  await withDir(async (dir) => {
    const first = await ensureClusterPKI(base(dir));
    await unlink(join(dir, 'pki', 'ca.key'));
    const pki = await ensureClusterPKI(base(dir));
    assert.equal(pki.caKeyPem, undefined);
    assert.equal(pki.serverCertPem, first.serverCertPem);
    await assert.rejects(pki.issueClientCert('x', []), /CA key .* not present/);
    await assert.rejects(ensureClusterPKI({ ...base(dir), extraSANs: ['new.name'] }), /apiserver\.crt is not covering/);
  });
});

test('options are validated: addresses must be IPs', async () => {
  await withDir(async (dir) => {
    await assert.rejects(ensureClusterPKI({ ...base(dir), advertiseAddress: 'my-host' }), /advertiseAddress must be an IP/);
    await assert.rejects(ensureClusterPKI({ ...base(dir), serviceIP: '10.96.0.0/12' }), /serviceIP must be an IP/);
  });
});

// --- real TLS: node:https with the generated certs, then Go's crypto/tls through kubectl ---

interface Seen {
  authorized: boolean;
  user: UserInfo | undefined;
}

async function startServer(pki: Awaited<ReturnType<typeof ensureClusterPKI>>, tokens?: Map<string, UserInfo>) {
  const authenticate = createAuthenticator({ tokens });
  const seen: Seen[] = [];
  const server: Server = createServer(
    { key: pki.serverKeyPem, cert: pki.serverCertPem, ca: pki.caCertPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const user = authenticate({ headers: req.headers, peerCertificate: socket.getPeerCertificate(), authorized: socket.authorized });
      seen.push({ authorized: socket.authorized, user });
      if (!user) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401 }));
        return;
      }
      if (req.method === 'GET' && req.url?.split('?')[0] === '/version') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ major: '1', minor: '32', gitVersion: 'v1.32.4', platform: 'linux/amd64' }));
        return;
      }
      res.writeHead(404).end();
    },
  );
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  const close = () =>
    new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    });
  return { server, port, seen, close };
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(file, args, { env, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      ok({ code, stdout, stderr });
    });
  });
}

test('TLS handshake: node verifies the admin client cert; the authenticator sees CN and O', async () => {
  await withDir(async (dir) => {
    const pki = await ensureClusterPKI(base(dir));
    const srv = await startServer(pki);
    try {
      const status = await new Promise<number>((ok, fail) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: srv.port,
            path: '/version',
            ca: pki.caCertPem,
            cert: pki.adminCertPem,
            key: pki.adminKeyPem,
            servername: 'kubernetes', // SNI; the hostname check below is against 127.0.0.1
          },
          (res) => {
            res.resume();
            ok(res.statusCode ?? 0);
          },
        );
        req.on('error', fail);
        req.end();
      });
      assert.equal(status, 200);
      assert.deepEqual(srv.seen, [
        { authorized: true, user: { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] } },
      ]);
    } finally {
      await srv.close();
    }
  });
});

test('kubectl 1.32 (Go crypto/tls) accepts the certs: client cert and bearer token', async () => {
  await withDir(async (dir) => {
    const pki = await ensureClusterPKI(base(dir));
    const tokens = new Map<string, UserInfo>([['t0ken', { name: 'ci-bot', groups: ['ci'] }]]);
    const srv = await startServer(pki, tokens);
    try {
      const server = `https://127.0.0.1:${srv.port}`;
      const admin = buildKubeconfig({
        clusterName: 'kubernetes',
        server,
        caCertPem: pki.caCertPem,
        userName: 'kubernetes-admin',
        clientCertPem: pki.adminCertPem,
        clientKeyPem: pki.adminKeyPem,
      });
      // The merged form is what users get in ~/.kube/config; kubectl must read it.
      const other = buildKubeconfig({
        clusterName: 'other',
        server: 'https://10.1.2.3:6443',
        caCertPem: pki.caCertPem,
        userName: 'kubernetes-admin',
        token: 'x',
      });
      const merged = mergeKubeconfig(mergeKubeconfig(undefined, other, 'other'), admin, 'skiff-test');
      await writeFile(join(dir, 'config'), merged);
      await writeFile(
        join(dir, 'token-config'),
        buildKubeconfig({ clusterName: 'kubernetes', server, caCertPem: pki.caCertPem, userName: 'ci-bot', token: 't0ken' }),
      );
      const env = { PATH: process.env.PATH, HOME: dir };

      for (const config of ['config', 'token-config']) {
        const out = await run(KUBECTL, ['version', '-o', 'json', '--kubeconfig', join(dir, config)], env);
        assert.equal(out.code, 0, `${config}: ${out.stderr}`);
        const version = JSON.parse(out.stdout) as { serverVersion?: { major: string; minor: string; gitVersion: string } };
        assert.equal(version.serverVersion?.gitVersion, 'v1.32.4');
        assert.equal(version.serverVersion?.minor, '32');
      }
      // kubectl version makes one request per run.
      assert.deepEqual(srv.seen, [
        { authorized: true, user: { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] } },
        { authorized: false, user: { name: 'ci-bot', groups: ['ci', 'system:authenticated'] } },
      ]);
    } finally {
      await srv.close();
    }
  });
});
