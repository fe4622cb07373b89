// Unit tier: the tar writer, image references and the OCI/docker archive writer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { tar, untar, type TarEntry } from './tar.ts';
import { familiarImageName, normalizeImageName, parseImageReference } from './reference.ts';
import { writeImageArchive, MEDIA_TYPES } from './oci.ts';

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

test('tar: round trip of files, dirs, symlinks and long names; parents added; sorted', () => {
  const long = `usr/lib/${'x'.repeat(120)}/${'y'.repeat(90)}.so`;
  const veryLong = 'z'.repeat(130);
  const entries: TarEntry[] = [
    { path: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
    { path: 'bin/busybox', type: 'file', mode: 0o755, data: Buffer.from('#!busybox') },
    { path: '/tmp', type: 'dir', mode: 0o1777 },
    { path: long, type: 'file', data: Buffer.from('lib') },
    { path: veryLong, type: 'file', data: Buffer.alloc(1000, 7) },
  ];
  const out = untar(tar(entries));
  assert.deepEqual(out.map((e) => e.path), ['bin', 'bin/busybox', 'bin/sh', 'tmp', 'usr', 'usr/lib', `usr/lib/${'x'.repeat(120)}`, long, veryLong]);
  const byPath = new Map(out.map((e) => [e.path, e]));
  assert.equal(byPath.get('bin')?.type, 'dir');
  assert.equal(byPath.get('bin')?.mode, 0o755);
  assert.equal(byPath.get('tmp')?.mode, 0o1777);
  assert.equal(byPath.get('bin/busybox')?.mode, 0o755);
  assert.equal(byPath.get('bin/sh')?.linkname, '/bin/busybox');
  assert.equal(Buffer.from(byPath.get(long)!.data!).toString(), 'lib');
  assert.equal(byPath.get(veryLong)?.data?.length, 1000);
});

test('tar: deterministic, refuses escapes and duplicates, and GNU tar reads it', () => {
  const entries: TarEntry[] = [{ path: 'b', type: 'file', data: Buffer.from('2') }, { path: 'a/x', type: 'file', data: Buffer.from('1'), mode: 0o600 }];
  assert.deepEqual(tar(entries), tar([...entries].reverse()));
  assert.throws(() => tar([{ path: '../etc/passwd', type: 'file' }]), /escapes/);
  assert.throws(() => tar([{ path: 'a', type: 'file' }, { path: './a', type: 'file' }]), /duplicate/);
  assert.throws(() => tar([{ path: 'a', type: 'file' }, { path: 'a/b', type: 'file' }]), /both a file and a directory/);
  const listing = execFileSync('tar', ['-tvf', '-'], { input: tar([...entries, { path: 'l', type: 'symlink', linkname: 'b' }, { path: `d/${'n'.repeat(150)}`, type: 'file' }]) }).toString();
  assert.match(listing, /^-rw------- 0\/0 +1 1970-01-01 00:00 a\/x$/m);
  assert.match(listing, /^lrwxrwxrwx 0\/0 +0 1970-01-01 00:00 l -> b$/m);
  assert.match(listing, new RegExp(`d/${'n'.repeat(150)}$`, 'm'));
});

test('image references normalise as Docker and containerd do', () => {
  const cases: [string, string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['skiff-test/busybox:1.36', 'docker.io/skiff-test/busybox:1.36', 'skiff-test/busybox:1.36'],
    ['docker.io/library/redis:7', 'docker.io/library/redis:7', 'redis:7'],
    ['index.docker.io/library/redis:7', 'docker.io/library/redis:7', 'redis:7'],
    ['localhost/skiff/pause:3.10', 'localhost/skiff/pause:3.10', 'localhost/skiff/pause:3.10'],
    ['registry.k8s.io/pause:3.10', 'registry.k8s.io/pause:3.10', 'registry.k8s.io/pause:3.10'],
    ['localhost:5000/app', 'localhost:5000/app:latest', 'localhost:5000/app:latest'],
    [`nginx@sha256:${'a'.repeat(64)}`, `docker.io/library/nginx@sha256:${'a'.repeat(64)}`, `nginx@sha256:${'a'.repeat(64)}`],
  ];
  for (const [ref, normal, familiar] of cases) {
    assert.equal(normalizeImageName(ref), normal, ref);
    assert.equal(familiarImageName(ref), familiar, ref);
  }
  assert.deepEqual(parseImageReference('r.io:443/a/b:t'), { domain: 'r.io:443', path: 'a/b', tag: 't', digest: undefined });
  for (const bad of ['UPPER', 'a//b', 'a:b:c', 'a@sha256:short', '']) assert.throws(() => parseImageReference(bad), /invalid image reference/, bad);
});

test('OCI archive: an OCI layout and a docker-archive in one tar, digests matching content', () => {
  const img = writeImageArchive({
    name: 'skiff-test/app:1',
    layers: [[{ path: 'bin/app', type: 'file', mode: 0o755, data: Buffer.from('app') }], [{ path: 'etc/app.conf', type: 'file', data: Buffer.from('x=1') }]],
    config: { entrypoint: ['/bin/app'], cmd: ['--serve'], env: ['A=1'], workingDir: '/srv', exposedPorts: ['8080/tcp'], user: '1000' },
  });
  const files = new Map(untar(img.archive).filter((e) => e.type === 'file').map((e) => [e.path, Buffer.from(e.data!)]));
  for (const [p, data] of files) if (p.startsWith('blobs/sha256/')) assert.equal(sha(data), `sha256:${p.slice(13)}`, `${p} is content-addressed`);
  assert.deepEqual(JSON.parse(files.get('oci-layout')!.toString()), { imageLayoutVersion: '1.0.0' });
  const index = JSON.parse(files.get('index.json')!.toString());
  assert.equal(index.manifests[0].digest, img.manifestDigest);
  assert.equal(index.manifests[0].annotations['io.containerd.image.name'], 'docker.io/skiff-test/app:1');
  assert.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], '1');
  const manifest = JSON.parse(files.get(`blobs/sha256/${img.manifestDigest.slice(7)}`)!.toString());
  assert.equal(manifest.config.digest, img.configDigest);
  assert.deepEqual(manifest.layers.map((l: { mediaType: string }) => l.mediaType), [MEDIA_TYPES.layer, MEDIA_TYPES.layer]);
  const config = JSON.parse(files.get(`blobs/sha256/${img.configDigest.slice(7)}`)!.toString());
  assert.deepEqual(config.config, { User: '1000', ExposedPorts: { '8080/tcp': {} }, Env: ['A=1'], Entrypoint: ['/bin/app'], Cmd: ['--serve'], WorkingDir: '/srv' });
  assert.deepEqual(config.rootfs.diff_ids, manifest.layers.map((l: { digest: string }) => l.digest), 'uncompressed layers: digest = diff_id');
  assert.equal(config.os, 'linux');
  const docker = JSON.parse(files.get('manifest.json')!.toString());
  assert.deepEqual(docker[0].RepoTags, ['skiff-test/app:1']);
  assert.equal(docker[0].Config, `blobs/sha256/${img.configDigest.slice(7)}`);
  const layer = untar(files.get(docker[0].Layers[0])!);
  assert.deepEqual(layer.map((e) => e.path), ['bin', 'bin/app']);
  // the same image twice: the same bytes
  assert.deepEqual(writeImageArchive({ name: 'skiff-test/app:1', layers: [[]], config: {} }).archive, writeImageArchive({ name: 'skiff-test/app:1', layers: [[]], config: {} }).archive);
});
