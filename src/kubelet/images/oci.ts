// Writes an image as one tar that is both an OCI image layout (oci-layout, index.json,
// blobs/sha256/...) and a docker-archive (manifest.json), as `docker save` does since
// Docker 25: containerd, `ctr images import`, `docker load` and skopeo all read it.
// Layers are uncompressed tars (their digest is their diff_id); everything is
// deterministic, so the same image always has the same digests.

import { createHash } from 'node:crypto';
import { tar, type TarEntry } from './tar.ts';
import { familiarImageName, normalizeImageName, parseImageReference } from './reference.ts';

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** What `docker inspect` shows under Config; the fields the kubelet and runtime use. */
export interface ImageConfig {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  workingDir?: string;
  user?: string;
  exposedPorts?: string[];
  labels?: Record<string, string>;
  stopSignal?: string;
  volumes?: string[];
}

export interface ImageSpecToWrite {
  /** `skiff-test/busybox:1.36`; stored fully qualified (`docker.io/skiff-test/busybox:1.36`). */
  name: string;
  /** Filesystem layers, bottom first. */
  layers: TarEntry[][];
  config: ImageConfig;
  /** Shown in the image history (`docker history`). */
  createdBy?: string;
}

export interface WrittenImage {
  archive: Buffer;
  /** `sha256:...` of the manifest: what containerd reports as the image's digest (repoDigests). */
  manifestDigest: string;
  /** `sha256:...` of the config: the image id (`crictl images` IMAGE ID). */
  configDigest: string;
  name: string;
}

const EPOCH = '1970-01-01T00:00:00Z';

export function goArch(arch: string = process.arch): string {
  const map: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  const a = map[arch];
  if (!a) throw new Error(`no OCI architecture for Node's ${arch}`);
  return a;
}

function sha256(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function blobPath(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`;
}

/** The OCI/docker archive of one single-platform image (this machine's architecture). */
export function writeImageArchive(image: ImageSpecToWrite): WrittenImage {
  const name = normalizeImageName(image.name);
  const ref = parseImageReference(name);
  if (!ref.tag) throw new Error(`image ${image.name}: an archive needs a tag`);
  const layers = image.layers.map((entries) => tar(entries));
  const diffIds = layers.map(sha256);
  const c = image.config;
  const config = {
    architecture: goArch(),
    config: {
      ...(c.user ? { User: c.user } : {}),
      ...(c.exposedPorts?.length ? { ExposedPorts: Object.fromEntries([...c.exposedPorts].sort().map((p) => [p, {}])) } : {}),
      Env: c.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
      ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
      ...(c.cmd ? { Cmd: c.cmd } : {}),
      ...(c.volumes?.length ? { Volumes: Object.fromEntries([...c.volumes].sort().map((v) => [v, {}])) } : {}),
      WorkingDir: c.workingDir ?? '/',
      ...(c.labels ? { Labels: Object.fromEntries(Object.entries(c.labels).sort(([a], [b]) => a.localeCompare(b))) } : {}),
      ...(c.stopSignal ? { StopSignal: c.stopSignal } : {}),
    },
    created: EPOCH,
    history: layers.map(() => ({ created: EPOCH, created_by: image.createdBy ?? 'skiff image writer' })),
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = sha256(configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config: { mediaType: MEDIA_TYPES.config, digest: configDigest, size: configBytes.length },
    layers: layers.map((l, i) => ({ mediaType: MEDIA_TYPES.layer, digest: diffIds[i], size: l.length })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = sha256(manifestBytes);
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.index,
    manifests: [{
      mediaType: MEDIA_TYPES.manifest,
      digest: manifestDigest,
      size: manifestBytes.length,
      annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': ref.tag },
      platform: { architecture: goArch(), os: 'linux' },
    }],
  };
  const dockerManifest = [{
    Config: blobPath(configDigest),
    RepoTags: [familiarImageName(name)],
    Layers: diffIds.map(blobPath),
  }];
  const blobs = new Map<string, Buffer>([[configDigest, configBytes], [manifestDigest, manifestBytes]]);
  layers.forEach((l, i) => blobs.set(diffIds[i], l));
  const archive = tar([
    { path: 'oci-layout', type: 'file', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) },
    { path: 'index.json', type: 'file', data: Buffer.from(JSON.stringify(index)) },
    { path: 'manifest.json', type: 'file', data: Buffer.from(JSON.stringify(dockerManifest)) },
    ...[...blobs].map(([digest, data]): TarEntry => ({ path: blobPath(digest), type: 'file', data })),
  ]);
  return { archive, manifestDigest, configDigest, name };
}
