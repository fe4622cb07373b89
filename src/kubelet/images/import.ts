// Loading image archives into containerd without a registry (the k3s airgap flow):
// `skiff images import FILE.tar` and, at node start, every archive in <data-dir>/images/.
//
// The import itself is `ctr --address SOCKET -n k8s.io images import -` from the
// containerd package: it reads OCI layouts and docker-archives, stores the content and
// unpacks it into the snapshotter the CRI plugin uses, and containerd's CRI plugin picks
// the new images up from its event stream. Archives are streamed to ctr's stdin (gzip
// ones decompressed on the way), so a file of any size is never held in memory.

import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';

/** containerd's namespace for everything the CRI plugin manages. */
export const K8S_NAMESPACE = 'k8s.io';
const ARCHIVE = /\.(tar|tar\.gz|tgz)$/;

export interface ImportOptions {
  /** containerd's socket (a path or unix:// endpoint). */
  address: string;
  namespace?: string;
  /** The ctr binary; `ctr` on PATH unless given. */
  ctr?: string;
  signal?: AbortSignal;
}

function socketPath(address: string): string {
  return address.replace(/^unix:\/\//, '').replace(/^unix:/, '');
}

/**
 * Imports one archive (a file path, or bytes); resolves to the image names ctr reported
 * (`docker.io/skiff-test/busybox:1.36`). Rejects with ctr's own message on failure.
 */
export async function importImageArchive(source: string | Uint8Array, opts: ImportOptions): Promise<string[]> {
  const args = ['--address', socketPath(opts.address), '--namespace', opts.namespace ?? K8S_NAMESPACE, 'images', 'import', '-'];
  const child = spawn(opts.ctr ?? 'ctr', args, { stdio: ['pipe', 'pipe', 'pipe'], signal: opts.signal });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new Error('ctr not found: it comes with containerd (apt-get install -y containerd)') : e));
    child.once('close', (code) => resolve(code ?? 1));
  });
  const input = typeof source === 'string' ? createReadStream(source) : Readable.from([Buffer.from(source)]);
  const gzip = typeof source === 'string' && /\.(gz|tgz)$/.test(source);
  const fed = (gzip ? pipeline(input, createGunzip(), child.stdin) : pipeline(input, child.stdin)).catch((e: NodeJS.ErrnoException) => {
    // ctr closing stdin early (EPIPE) is reported through its exit status instead.
    if (e.code !== 'EPIPE' && e.code !== 'ERR_STREAM_PREMATURE_CLOSE') throw e;
  });
  const [code] = await Promise.all([exited, fed]);
  const what = typeof source === 'string' ? source : 'archive';
  if (code !== 0) throw new Error(`importing ${what} failed: ${stderr.trim() || stdout.trim() || `ctr exited ${code}`}`);
  // ctr prints `unpacking NAME (sha256:...)...done` per image.
  return [...stdout.matchAll(/^unpacking (\S+) \(/gm)].map((m) => m[1]);
}

/** Archives in `<dataDir>/images/` in name order (none when the folder is missing). */
export async function airgapArchives(dataDir: string): Promise<string[]> {
  const dir = path.join(dataDir, 'images');
  const names = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw e;
  });
  return names.filter((n) => ARCHIVE.test(n)).sort().map((n) => path.join(dir, n));
}

/**
 * Imports every archive in `<dataDir>/images/`, as k3s does at each start (content already
 * present is skipped by containerd, so this is cheap). A broken archive is reported and
 * the others still load.
 */
export async function importAirgapImages(dataDir: string, opts: ImportOptions & { log?: (msg: string, fields?: Record<string, unknown>) => void }): Promise<{ file: string; images: string[]; error?: string }[]> {
  const results: { file: string; images: string[]; error?: string }[] = [];
  for (const file of await airgapArchives(dataDir)) {
    const started = performance.now();
    try {
      const images = await importImageArchive(file, opts);
      opts.log?.('imported image archive', { file, images, ms: Math.round(performance.now() - started) });
      results.push({ file, images });
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      opts.log?.('could not import image archive', { file, error: (e as Error).message });
      results.push({ file, images: [], error: (e as Error).message });
    }
  }
  return results;
}
