// The pod sandbox ("pause") image, built by skiff itself since no registry may be
// reachable. Preferred: pause.c compiled with `gcc -static` (a ~700 KB binary that reaps
// orphans and exits on SIGTERM). Fallback when no C toolchain is installed: the host's
// busybox-static running a shell loop that traps SIGTERM; it holds the namespaces just as
// well, but reaps only its own children. The image's label `io.skiff.pause.kind` says
// which one was built (`static-c` or `busybox-sh`).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeImageArchive, type WrittenImage } from './oci.ts';
import type { TarEntry } from './tar.ts';

/** Skiff's default sandbox image (containerd's sandbox_image). `localhost/`: built here, never pulled. */
export const DEFAULT_PAUSE_IMAGE = 'localhost/skiff/pause:3.10';

export type PauseKind = 'static-c' | 'busybox-sh';

export interface PauseImage extends WrittenImage {
  kind: PauseKind;
}

const PAUSE_SOURCE = fileURLToPath(new URL('./pause.c', import.meta.url));
const BUSYBOX_CANDIDATES = ['/bin/busybox', '/usr/bin/busybox'];
// The user upstream's pause image runs as: nobody needs root to hold namespaces.
const PAUSE_USER = '65535:65535';

function hasGcc(): boolean {
  try {
    execFileSync('gcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A statically linked busybox (busybox-static), or undefined. */
export function staticBusybox(): string | undefined {
  for (const p of BUSYBOX_CANDIDATES) {
    if (!existsSync(p)) continue;
    const head = readFileSync(p).subarray(0, 4096);
    // An ELF with no PT_INTERP program header names no dynamic loader; checking for the
    // loader's path in the first page is enough for the binaries Debian ships.
    if (head.subarray(0, 4).toString('latin1') === '\x7fELF' && !head.includes('ld-linux')) return p;
  }
  return undefined;
}

/** Compiles pause.c statically; throws with the compiler's output when it cannot. */
export function compilePause(): Buffer {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-pause-'));
  try {
    const out = path.join(dir, 'pause');
    execFileSync('gcc', ['-static', '-Os', '-s', '-o', out, PAUSE_SOURCE], { stdio: ['ignore', 'pipe', 'pipe'] });
    return readFileSync(out);
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`gcc -static pause.c failed (is libc6-dev installed?): ${err.stderr?.toString().trim() || err.message}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The pause image as an archive, by the best means this machine has. */
export function buildPauseImage(opts: { name?: string; kind?: PauseKind } = {}): PauseImage {
  const name = opts.name ?? DEFAULT_PAUSE_IMAGE;
  const kind = opts.kind ?? (hasGcc() ? 'static-c' : 'busybox-sh');
  let files: TarEntry[];
  let entrypoint: string[];
  if (kind === 'static-c') {
    files = [{ path: 'pause', type: 'file', mode: 0o755, data: compilePause() }];
    entrypoint = ['/pause'];
  } else {
    const busybox = staticBusybox();
    if (!busybox) {
      throw new Error('cannot build the pause image: install gcc and libc6-dev (preferred) or busybox-static ' +
        '(apt-get install -y gcc libc6-dev), or put a pause image archive into <data-dir>/images/');
    }
    files = [
      { path: 'bin/busybox', type: 'file', mode: 0o755, data: readFileSync(busybox) },
      { path: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { path: 'bin/sleep', type: 'symlink', linkname: 'busybox' },
    ];
    // `wait` returns when the trap fires, so SIGTERM ends PID 1 promptly.
    entrypoint = ['/bin/sh', '-c', 'trap "exit 0" TERM INT; while :; do sleep 2147483647 & wait; done'];
  }
  const image = writeImageArchive({
    name,
    layers: [files],
    config: { entrypoint, user: PAUSE_USER, env: [], labels: { 'io.skiff.pause.kind': kind } },
    createdBy: `skiff pause image (${kind})`,
  });
  return { ...image, kind };
}
