// Making sure the runtime has its sandbox (pause) image before the first pod: no registry
// may be reachable, so skiff builds its own pause image and imports it when the runtime's
// sandbox image is skiff's and missing. Any other sandbox image is left to the runtime
// (an airgap archive in <data-dir>/images/, or a pull). The built image lives in
// containerd's content store, which persists across restarts: it is built once per root dir.

import type { CriRuntime } from '../cri/types.ts';
import { importImageArchive } from './import.ts';
import { buildPauseImage, DEFAULT_PAUSE_IMAGE, type PauseKind } from './pause.ts';
import { normalizeImageName } from './reference.ts';

export interface EnsureSandboxImageOptions {
  /** The runtime's sandbox image (containerd's sandbox_image). */
  image: string;
  /** containerd's socket, for the import. */
  address: string;
  log?: (msg: string, fields?: Record<string, unknown>) => void;
  signal?: AbortSignal;
}

/** Resolves to what happened: the image was `present`, `built` (and how), or is `external` (not ours to build). */
export async function ensureSandboxImage(cri: CriRuntime, opts: EnsureSandboxImageOptions): Promise<{ image: string; action: 'present' | 'built' | 'external'; kind?: PauseKind }> {
  const image = normalizeImageName(opts.image);
  if (await cri.imageStatus(image, { signal: opts.signal })) return { image, action: 'present' };
  if (image !== normalizeImageName(DEFAULT_PAUSE_IMAGE)) return { image, action: 'external' };
  const started = performance.now();
  const built = buildPauseImage({ name: image });
  await importImageArchive(built.archive, { address: opts.address, signal: opts.signal });
  opts.log?.('built and imported the sandbox image', { image, kind: built.kind, ms: Math.round(performance.now() - started) });
  return { image, action: 'built', kind: built.kind };
}
