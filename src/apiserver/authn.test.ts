// Tier: unit, plus one real TLS handshake on 127.0.0.1 port 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { createAuthenticator, parseTokenAuthFile, type UserInfo } from './authn.ts';
import { ensureClusterPKI } from './pki.ts';

/** The parts of Node's PeerCertificate the authenticator reads. */
function peer(subject: Record<string, string | string[]>, extKeyUsage?: string[]): PeerCertificate {
  return { subject, ext_key_usage: extKeyUsage } as unknown as PeerCertificate;
}

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

test('parseTokenAuthFile reads the kube-apiserver CSV format', () => {
  const tokens = parseTokenAuthFile(
    [
      '31ada4fd-adec-460c-809a-9e56ceb75269,alice,1001',
      'tok2,bob,1002,"system:masters,dev"',
      '',
      ' tok3 , carol , , "a" ',
      'tok4,"d,ave",1004,"x ""quoted"", y"',
      '',
    ].join('\r\n'),
  );
  assert.deepEqual(Object.fromEntries(tokens), {
    '31ada4fd-adec-460c-809a-9e56ceb75269': { name: 'alice', uid: '1001', groups: [] },
    tok2: { name: 'bob', uid: '1002', groups: ['system:masters', 'dev'] },
    tok3: { name: 'carol', groups: ['a'] },
    tok4: { name: 'd,ave', uid: '1004', groups: ['x "quoted"', 'y'] },
  });
  assert.equal(parseTokenAuthFile('').size, 0);
});

test('parseTokenAuthFile rejects malformed lines, naming the line', () => {
  const cases: [string, RegExp][] = [
    ['good,u,1\ntoken-only\n', /line 2: must have at least 3 columns .* found 1/],
    ['good,u,1\n\n,u,2\n', /line 3: empty token/],
    ['t,,1\n', /line 1: empty user name/],
    ['t,u,1,"g1,g2\n', /line 1: unterminated quoted field/],
    ['t,u,1,"g1"x\n', /line 1: unexpected "x" after a quoted field/],
    ['t,u"s,1\n', /line 1: bare " in an unquoted field/],
    ['t,u,1\nx,v,2\nt,w,3\n', /line 3: duplicate token \(first on line 1\)/],
  ];
  for (const [text, message] of cases) assert.throws(() => parseTokenAuthFile(text), message, JSON.stringify(text));
});

test('client certificate: CN is the user, every O a group, only when the TLS layer verified it', () => {
  const authn = createAuthenticator({});
  assert.deepEqual(
    authn({ headers: {}, authorized: true, peerCertificate: peer({ O: 'system:masters', CN: 'kubernetes-admin' }, [CLIENT_AUTH]) }),
    { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] },
  );
  assert.deepEqual(
    authn({ headers: {}, authorized: true, peerCertificate: peer({ O: ['dev', 'ops'], CN: 'jane' }) }),
    { name: 'jane', groups: ['dev', 'ops', 'system:authenticated'] },
  );
  assert.deepEqual(authn({ headers: {}, authorized: true, peerCertificate: peer({ CN: 'system:node:n1' }) }), {
    name: 'system:node:n1',
    groups: ['system:authenticated'],
  });
  // Not verified against the CA, no certificate, no CN, or a serving-only certificate: no user.
  assert.equal(authn({ headers: {}, authorized: false, peerCertificate: peer({ CN: 'mallory', O: 'system:masters' }) }), undefined);
  assert.equal(authn({ headers: {}, peerCertificate: peer({ CN: 'mallory' }) }), undefined);
  assert.equal(authn({ headers: {}, authorized: true, peerCertificate: {} as PeerCertificate }), undefined);
  assert.equal(authn({ headers: {}, authorized: true, peerCertificate: null }), undefined);
  assert.equal(authn({ headers: {}, authorized: true, peerCertificate: peer({ O: 'g' }) }), undefined);
  assert.equal(authn({ headers: {}, authorized: true, peerCertificate: peer({ CN: 'web' }, [SERVER_AUTH]) }), undefined);
});

test('bearer token from the token file; scheme case-insensitive; unknown tokens get no user', () => {
  const tokens = new Map<string, UserInfo>([['s3cret', { name: 'bob', uid: '7', groups: ['dev'] }]]);
  const authn = createAuthenticator({ tokens });
  const bob = { name: 'bob', uid: '7', groups: ['dev', 'system:authenticated'] };
  assert.deepEqual(authn({ headers: { authorization: 'Bearer s3cret' } }), bob);
  assert.deepEqual(authn({ headers: { authorization: 'bearer s3cret' } }), bob);
  assert.deepEqual(authn({ headers: { authorization: '  BEARER s3cret  ' } }), bob);
  assert.deepEqual(authn({ headers: { authorization: ['Bearer s3cret'] } }), bob);
  assert.equal(authn({ headers: { authorization: 'Bearer nope' } }), undefined);
  assert.equal(authn({ headers: { authorization: 'Basic czNjcmV0' } }), undefined);
  assert.equal(authn({ headers: { authorization: 'Bearer' } }), undefined);
  assert.equal(authn({ headers: {} }), undefined);
  assert.deepEqual(tokens.get('s3cret')?.groups, ['dev'], 'the token map is not modified');
  assert.equal(createAuthenticator({})({ headers: { authorization: 'Bearer s3cret' } }), undefined);
});

test('a verified certificate wins over a bad token, as in upstream\'s union', () => {
  const authn = createAuthenticator({ tokens: new Map() });
  const user = authn({
    headers: { authorization: 'Bearer wrong' },
    authorized: true,
    peerCertificate: peer({ CN: 'admin', O: 'system:masters' }),
  });
  assert.equal(user?.name, 'admin');
});

test('TLS: a client certificate from another CA is not a user', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-authn-'));
  try {
    const opts = { advertiseAddress: '127.0.0.1', serviceIP: '10.96.0.1' };
    const ours = await ensureClusterPKI({ ...opts, dir: join(dir, 'ours') });
    const theirs = await ensureClusterPKI({ ...opts, dir: join(dir, 'theirs') });
    const authenticate = createAuthenticator({});
    const seen: (UserInfo | undefined)[] = [];
    const server = createServer(
      { key: ours.serverKeyPem, cert: ours.serverCertPem, ca: ours.caCertPem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        seen.push(authenticate({ headers: req.headers, peerCertificate: socket.getPeerCertificate(), authorized: socket.authorized }));
        res.end();
      },
    );
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as AddressInfo).port;
    try {
      for (const client of [theirs, ours]) {
        await new Promise<void>((ok, fail) => {
          const req = request(
            { host: '127.0.0.1', port, path: '/', ca: ours.caCertPem, cert: client.adminCertPem, key: client.adminKeyPem, agent: false },
            (res) => res.resume().on('end', ok),
          );
          req.on('error', fail).end();
        });
      }
    } finally {
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    }
    assert.deepEqual(seen, [undefined, { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
