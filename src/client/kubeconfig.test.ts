// Tier: unit, plus kubectl 1.32 reading what we write (`kubectl config view`, no server).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { buildKubeconfig, mergeKubeconfig, parseKubeconfig } from './kubeconfig.ts';

const KUBECTL = process.env.KUBECTL ?? '/usr/lib/google-cloud-sdk/bin/kubectl.1.32';

const CA = '-----BEGIN CERTIFICATE-----\nQ0E=\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nQ0VSVA==\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nS0VZ\n-----END PRIVATE KEY-----\n';

const admin = (over: Partial<Parameters<typeof buildKubeconfig>[0]> = {}) =>
  buildKubeconfig({
    clusterName: 'kubernetes',
    server: 'https://127.0.0.1:6443',
    caCertPem: CA,
    userName: 'kubernetes-admin',
    clientCertPem: CERT,
    clientKeyPem: KEY,
    ...over,
  });

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'skiff-kubeconfig-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function kubectl(args: string[], home: string): Promise<string> {
  return new Promise((ok, fail) => {
    execFile(KUBECTL, args, { env: { PATH: process.env.PATH, HOME: home }, timeout: 20_000 }, (err, stdout, stderr) =>
      err ? fail(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)) : ok(stdout),
    );
  });
}

test('buildKubeconfig writes a kubectl-shaped config with base64 *-data and the context selected', () => {
  const config = parse(admin({ namespace: 'apps' }));
  assert.deepEqual(config, {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'kubernetes',
        cluster: { 'certificate-authority-data': Buffer.from(CA).toString('base64'), server: 'https://127.0.0.1:6443' },
      },
    ],
    contexts: [{ name: 'kubernetes-admin@kubernetes', context: { cluster: 'kubernetes', user: 'kubernetes-admin', namespace: 'apps' } }],
    'current-context': 'kubernetes-admin@kubernetes',
    preferences: {},
    users: [
      {
        name: 'kubernetes-admin',
        user: { 'client-certificate-data': Buffer.from(CERT).toString('base64'), 'client-key-data': Buffer.from(KEY).toString('base64') },
      },
    ],
  });
  assert.throws(() => admin({ server: '127.0.0.1:6443' }), /server must be an http\(s\) URL/);
  assert.throws(() => admin({ clientKeyPem: undefined }), /go together/);
});

test('build then parse round-trips, for a certificate user and a token user', () => {
  assert.deepEqual(parseKubeconfig(admin({ namespace: 'apps' })), {
    contextName: 'kubernetes-admin@kubernetes',
    server: 'https://127.0.0.1:6443',
    caCertPem: CA,
    clientCertPem: CERT,
    clientKeyPem: KEY,
    namespace: 'apps',
  });
  const tokenConfig = buildKubeconfig({ clusterName: 'c', server: 'https://10.0.0.1:6443', caCertPem: CA, userName: 'bot', token: 'yes' });
  assert.deepEqual(parseKubeconfig(tokenConfig), {
    contextName: 'bot@c',
    server: 'https://10.0.0.1:6443',
    caCertPem: CA,
    token: 'yes',
  });
});

test('mergeKubeconfig into nothing names cluster, user and context after the context', () => {
  const merged = parse(mergeKubeconfig(undefined, admin(), 'skiff-dev'));
  assert.equal(merged['current-context'], 'skiff-dev');
  assert.deepEqual(merged.contexts, [{ name: 'skiff-dev', context: { cluster: 'skiff-dev', user: 'skiff-dev' } }]);
  assert.deepEqual(
    merged.clusters.map((c: { name: string }) => c.name),
    ['skiff-dev'],
  );
  assert.equal(merged.users[0].name, 'skiff-dev');
  assert.equal(merged.users[0].user['client-key-data'], Buffer.from(KEY).toString('base64'));
  assert.deepEqual(parseKubeconfig(mergeKubeconfig('', admin(), 'skiff-dev')).clientKeyPem, KEY);
  // What kubectl writes for an empty config.
  const kubectlEmpty = 'apiVersion: v1\nclusters: null\ncontexts: null\ncurrent-context: ""\nkind: Config\npreferences: {}\nusers: null\n';
  const fromEmpty = mergeKubeconfig(kubectlEmpty, admin(), 'skiff-dev');
  assert.match(fromEmpty, /^current-context: skiff-dev$/m);
  assert.equal(parseKubeconfig(fromEmpty).clientCertPem, CERT);
});

test('mergeKubeconfig keeps other entries (and their comments), replaces same-named ones, selects the new context', () => {
  const existing = [
    '# my clusters',
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: prod   # do not touch',
    '  cluster:',
    '    server: https://prod.example:6443',
    '    insecure-skip-tls-verify: true',
    '- name: skiff-dev',
    '  cluster:',
    '    server: https://old:6443',
    'contexts:',
    '- name: prod',
    '  context: {cluster: prod, user: prod-admin, namespace: shop}',
    '- name: skiff-dev',
    '  context: {cluster: skiff-dev, user: skiff-dev}',
    'users:',
    '- name: prod-admin',
    '  user:',
    '    token: "0x1F"',
    'current-context: prod',
    '',
  ].join('\n');
  const text = mergeKubeconfig(existing, admin({ server: 'https://127.0.0.1:7443', namespace: 'apps' }), 'skiff-dev');
  assert.match(text, /^# my clusters\n/);
  assert.match(text, /- name: prod # do not touch\n/);
  const merged = parse(text);
  assert.equal(merged['current-context'], 'skiff-dev');
  assert.deepEqual(
    merged.clusters.map((c: { name: string }) => c.name),
    ['prod', 'skiff-dev'],
  );
  assert.equal(merged.clusters[1].cluster.server, 'https://127.0.0.1:7443');
  assert.deepEqual(merged.contexts[1], { name: 'skiff-dev', context: { cluster: 'skiff-dev', user: 'skiff-dev', namespace: 'apps' } });
  assert.deepEqual(
    merged.users.map((u: { name: string }) => u.name),
    ['prod-admin', 'skiff-dev'],
  );
  assert.equal(merged.users[0].user.token, '0x1F', 'a quoted string stays a string');

  const prod = parseKubeconfig(text, { context: 'prod' });
  assert.deepEqual(prod, {
    contextName: 'prod',
    server: 'https://prod.example:6443',
    token: '0x1F',
    namespace: 'shop',
    insecureSkipTLSVerify: true,
  });
  // Merging again is idempotent.
  assert.equal(mergeKubeconfig(text, admin({ server: 'https://127.0.0.1:7443', namespace: 'apps' }), 'skiff-dev'), text);
});

test('mergeKubeconfig refuses to overwrite a file it cannot read', () => {
  assert.throws(() => mergeKubeconfig('clusters: [unclosed', admin(), 'skiff-dev'), /not valid YAML/);
  assert.throws(() => mergeKubeconfig('- a\n- b\n', admin(), 'skiff-dev'), /not a YAML mapping/);
  assert.throws(() => mergeKubeconfig('clusters: 3\n', admin(), 'skiff-dev'), /clusters is not a list/);
});

test('parseKubeconfig reads file references relative to the kubeconfig, and says what it cannot use', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'ca.crt'), CA);
    await writeFile(join(dir, 'token'), 'from-file\n');
    const text = [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: c',
      '  cluster: {server: "https://h:6443", certificate-authority: ca.crt, tls-server-name: kubernetes}',
      'contexts:',
      '- name: ctx',
      '  context: {cluster: c, user: u}',
      '- name: exec',
      '  context: {cluster: c, user: e}',
      'users:',
      '- name: u',
      '  user: {tokenFile: token}',
      '- name: e',
      '  user: {exec: {command: gke-gcloud-auth-plugin, apiVersion: client.authentication.k8s.io/v1beta1}}',
      'current-context: ctx',
    ].join('\n');
    assert.deepEqual(parseKubeconfig(text, { path: join(dir, 'config') }), {
      contextName: 'ctx',
      server: 'https://h:6443',
      caCertPem: CA,
      token: 'from-file',
      tlsServerName: 'kubernetes',
    });
    assert.throws(
      () => parseKubeconfig(text, { path: join(dir, 'config'), context: 'exec' }),
      /uses exec, which Skiff's client does not support/,
    );
    assert.throws(() => parseKubeconfig(text, { context: 'nope' }), /no context named "nope"/);
    assert.throws(() => parseKubeconfig('apiVersion: v1\nkind: Config\n'), /no current-context/);
  });
});

test('kubectl 1.32 reads what buildKubeconfig and mergeKubeconfig write', async () => {
  await withDir(async (dir) => {
    const tokenUser = buildKubeconfig({
      clusterName: 'a',
      server: 'https://10.0.0.1:6443',
      caCertPem: CA,
      userName: 'on',
      token: 'yes',
    });
    const first = mergeKubeconfig(undefined, tokenUser, 'skiff-a');
    const merged = mergeKubeconfig(first, admin({ namespace: 'apps' }), 'skiff-b');
    await writeFile(join(dir, 'config'), merged);
    const kubeconfig = ['--kubeconfig', join(dir, 'config')];
    const view = JSON.parse(await kubectl(['config', 'view', '--raw', '-o', 'json', ...kubeconfig], dir));
    assert.equal(view['current-context'], 'skiff-b');
    const users = Object.fromEntries(view.users.map((u: { name: string; user: object }) => [u.name, u.user]));
    assert.deepEqual(users['skiff-a'], { token: 'yes' }, 'a YAML 1.1 boolean-looking token stays a string for Go');
    assert.equal(users['skiff-b']['client-key-data'], Buffer.from(KEY).toString('base64'));
    const jsonpath = 'jsonpath={.contexts[0].context.namespace}';
    const ns = await kubectl(['config', 'view', '--minify', '-o', jsonpath, ...kubeconfig], dir);
    assert.equal(ns, 'apps');
  });
});
