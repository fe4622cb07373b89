// Test images built from this machine's Debian binaries into OCI archives (no registry is
// reachable): skiff-test/busybox:1.36, skiff-test/redis:7 and skiff-test/pause:3.10.
// Deterministic (same inputs, same bytes and digests) and cached by a hash of the inputs
// under $SKIFF_TEST_IMAGE_CACHE or <tmpdir>/skiff-test-images.
//
//   node test/images/build.ts [busybox|redis|pause ...] [--out DIR]   prints the archive paths
//
// Needs: busybox-static (busybox, redis), redis-server + redis-tools (redis), gcc + libc6-dev
// (pause: the same static pause binary skiff builds for its sandbox image).

import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImageArchive, type ImageSpecToWrite } from '../../src/kubelet/images/oci.ts';
import { buildPauseImage, staticBusybox } from '../../src/kubelet/images/pause.ts';
import type { TarEntry } from '../../src/kubelet/images/tar.ts';

export const TEST_IMAGES = {
  busybox: 'skiff-test/busybox:1.36',
  redis: 'skiff-test/redis:7',
  pause: 'skiff-test/pause:3.10',
} as const;
export type TestImageName = keyof typeof TEST_IMAGES;

export interface BuiltTestImage {
  /** The name as pods use it (`skiff-test/busybox:1.36`). */
  name: string;
  file: string;
  manifestDigest: string;
  configDigest: string;
  cached: boolean;
}

/** Bump when the image contents change in a way the inputs' hash does not see. */
const BUILDER_VERSION = '1';

export function testImageCacheDir(): string {
  return process.env.SKIFF_TEST_IMAGE_CACHE || path.join(tmpdir(), 'skiff-test-images');
}

class MissingPrerequisite extends Error {}

function need(file: string, pkg: string): string {
  if (!existsSync(file)) throw new MissingPrerequisite(`${file} is missing: apt-get install -y ${pkg}`);
  return file;
}

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n';
const GROUP = 'root:x:0:\nnobody:x:65534:\n';

function baseFiles(): TarEntry[] {
  return [
    { path: 'etc/passwd', type: 'file', data: Buffer.from(PASSWD) },
    { path: 'etc/group', type: 'file', data: Buffer.from(GROUP) },
    { path: 'tmp', type: 'dir', mode: 0o1777 },
    { path: 'root', type: 'dir', mode: 0o700 },
    { path: 'home', type: 'dir' },
    { path: 'var', type: 'dir' },
    { path: 'proc', type: 'dir' },
    { path: 'sys', type: 'dir' },
    { path: 'dev', type: 'dir' },
  ];
}

function busyboxVersion(bin: string): string {
  const banner = execFileSync(bin, [], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0];
  return /BusyBox (v[\d.]+)/.exec(banner)?.[1] ?? 'unknown';
}

/** The static busybox at /bin/busybox and every applet linked where `busybox --list-full` puts it. */
function busyboxFiles(bin: string): TarEntry[] {
  const applets = execFileSync(bin, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  return [
    { path: 'bin/busybox', type: 'file', mode: 0o755, data: readFileSync(bin) },
    ...applets.filter((a) => a !== 'bin/busybox').map((a): TarEntry => ({ path: a, type: 'symlink', linkname: '/bin/busybox' })),
  ];
}

/**
 * busybox-static with every applet linked where `busybox --list-full` puts it (sh, httpd,
 * nslookup, wget, nc, sleep, cat, echo, ...). Debian 12 ships busybox 1.35: the tag says
 * 1.36 (the name the tests use), /etc/os-release says what is inside.
 */
function busyboxSpec(): ImageSpecToWrite {
  const bin = staticBusybox();
  if (!bin) throw new MissingPrerequisite('a static busybox is missing: apt-get install -y busybox-static');
  const version = busyboxVersion(bin);
  const osRelease = `NAME="BusyBox"\nID=busybox\nVERSION_ID=${version.slice(1)}\nPRETTY_NAME="BusyBox ${version} (skiff test image)"\n`;
  const files: TarEntry[] = [
    ...baseFiles(),
    ...busyboxFiles(bin),
    { path: 'etc/os-release', type: 'file', data: Buffer.from(osRelease) },
    { path: 'var/www', type: 'dir' },
  ];
  return {
    name: TEST_IMAGES.busybox,
    layers: [files],
    config: { cmd: ['sh'], labels: { 'io.skiff.test-image': 'busybox', 'io.skiff.busybox.version': version } },
    createdBy: `skiff test image builder: busybox-static ${version}`,
  };
}

/** The shared libraries `ldd` says a binary loads, the dynamic loader included. */
function sharedLibraries(binary: string): string[] {
  const out = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs: string[] = [];
  for (const line of out.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m) libs.push(m[1]);
    else if (/not found/.test(line)) throw new Error(`ldd ${binary}: ${line.trim()}`);
  }
  return libs;
}

/**
 * redis-server and redis-cli with the libraries they link, each at the path ldd names,
 * and busybox's sh and applets (as the official image has a shell): work-queue workers
 * run `sh -c 'redis-cli ...'` loops in it.
 */
function redisSpec(): ImageSpecToWrite {
  const binaries = [need('/usr/bin/redis-server', 'redis-server'), need('/usr/bin/redis-cli', 'redis-tools')];
  const bb = staticBusybox();
  if (!bb) throw new MissingPrerequisite('a static busybox is missing (the redis image\'s shell): apt-get install -y busybox-static');
  const files = new Map<string, TarEntry>();
  for (const f of busyboxFiles(bb)) files.set(f.path, f);
  for (const bin of binaries) {
    // redis-server is a symlink to redis-check-rdb in Debian: copy the content, keep the name (argv[0] picks the mode).
    files.set(bin, { path: bin, type: 'file', mode: 0o755, data: readFileSync(realpathSync(bin)) });
    for (const lib of sharedLibraries(bin)) files.set(lib, { path: lib, type: 'file', mode: 0o755, data: readFileSync(realpathSync(lib)) });
  }
  return {
    name: TEST_IMAGES.redis,
    layers: [[...baseFiles(), ...files.values(), { path: 'data', type: 'dir' }]],
    config: {
      // the official image turns protected mode off so that other pods can connect
      cmd: ['redis-server', '--protected-mode', 'no'],
      workingDir: '/data',
      exposedPorts: ['6379/tcp'],
      volumes: ['/data'],
      labels: { 'io.skiff.test-image': 'redis' },
    },
    createdBy: 'skiff test image builder: redis-server from Debian',
  };
}

/** Hash of everything an image is made from, before building it (the cache key). */
function inputsKey(name: TestImageName): string {
  const h = createHash('sha256').update(`${BUILDER_VERSION}\0${name}\0${TEST_IMAGES[name]}\0${process.arch}\0`);
  const file = (p: string) => h.update(p).update('\0').update(readFileSync(realpathSync(p)));
  if (name === 'busybox') {
    const bin = staticBusybox();
    if (!bin) throw new MissingPrerequisite('a static busybox is missing: apt-get install -y busybox-static');
    file(bin);
  } else if (name === 'redis') {
    const bb = staticBusybox();
    if (!bb) throw new MissingPrerequisite('a static busybox is missing (the redis image\'s shell): apt-get install -y busybox-static');
    file(bb);
    for (const bin of [need('/usr/bin/redis-server', 'redis-server'), need('/usr/bin/redis-cli', 'redis-tools')]) {
      file(bin);
      for (const lib of sharedLibraries(bin)) file(lib);
    }
  } else {
    file(fileURLToPath(new URL('../../src/kubelet/images/pause.c', import.meta.url)));
    try {
      h.update(execFileSync('gcc', ['--version'], { encoding: 'utf8' }));
    } catch {
      throw new MissingPrerequisite('gcc is missing (the pause image is compiled statically): apt-get install -y gcc libc6-dev');
    }
  }
  h.update(readFileSync(fileURLToPath(new URL('./build.ts', import.meta.url))));
  return h.digest('hex').slice(0, 16);
}

/** Builds (or finds in the cache) one test image archive. */
export function buildTestImage(name: TestImageName, opts: { cacheDir?: string } = {}): BuiltTestImage {
  const cacheDir = opts.cacheDir ?? testImageCacheDir();
  const file = path.join(cacheDir, `${name}-${inputsKey(name)}.tar`);
  const meta = `${file}.json`;
  if (existsSync(file) && existsSync(meta)) {
    return { ...JSON.parse(readFileSync(meta, 'utf8')), file, cached: true };
  }
  const image = name === 'pause'
    ? buildPauseImage({ name: TEST_IMAGES.pause, kind: 'static-c' })
    : writeImageArchive(name === 'busybox' ? busyboxSpec() : redisSpec());
  mkdirSync(cacheDir, { recursive: true });
  // write-then-rename: parallel test files may build the same image at once
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, image.archive);
  renameSync(tmp, file);
  const info = { name: TEST_IMAGES[name], manifestDigest: image.manifestDigest, configDigest: image.configDigest };
  writeFileSync(`${meta}.${process.pid}.tmp`, JSON.stringify(info));
  renameSync(`${meta}.${process.pid}.tmp`, meta);
  return { ...info, file, cached: false };
}

export function isMissingPrerequisite(e: unknown): boolean {
  return e instanceof MissingPrerequisite;
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outAt = args.indexOf('--out');
  const out = outAt >= 0 ? args.splice(outAt, 2)[1] : undefined;
  const names = (args.length ? args : Object.keys(TEST_IMAGES)) as TestImageName[];
  for (const n of names) {
    if (!(n in TEST_IMAGES)) throw new Error(`unknown test image ${n}: one of ${Object.keys(TEST_IMAGES).join(', ')}`);
    const started = performance.now();
    const img = buildTestImage(n);
    let file = img.file;
    if (out) {
      mkdirSync(out, { recursive: true });
      file = path.join(out, `${n}.tar`);
      copyFileSync(img.file, file);
    }
    console.log(`${img.name}\t${file}\t${img.manifestDigest}\t${img.cached ? 'cached' : `built in ${Math.round(performance.now() - started)} ms`}`);
  }
}
