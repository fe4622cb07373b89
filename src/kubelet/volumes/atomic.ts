// The atomic layout upstream's AtomicWriter gives configMap, secret, downwardAPI and
// projected volumes (behaviour read from pkg/volume/util/atomic_writer.go, not copied):
//
//   <dir>/..2026_11_22_01_30_00.a1b2c3/    the payload, one timestamped directory per version
//   <dir>/..data -> ..2026_11_22_01_30_00.a1b2c3
//   <dir>/<key>  -> ..data/<key>           one symlink per top-level payload path
//
// A new version is written beside the old one and `..data` is swapped by rename(2), so a
// running container sees either the old or the new payload in full, never a mix. What
// must hold: only this writer touches `<dir>`; paths starting with `..` are its own.

import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface FileProjection {
  data: Buffer;
  /** Permission bits (0o644 unless the volume says otherwise). */
  mode: number;
}

/** Relative path → file; paths are validated and normalised by writeAtomic. */
export type Payload = Map<string, FileProjection>;

export const DATA_DIR = '..data';
const DATA_TMP = '..data_tmp';

/** Why `p` cannot be a payload path, or undefined when it can. */
export function invalidPayloadPath(p: string): string | undefined {
  if (p === '') return 'invalid path: must not be empty';
  if (p.length > 4096) return `invalid path: must be less than or equal to 4096 characters`;
  if (path.posix.isAbsolute(p)) return `invalid path: must be relative path: ${p}`;
  if (p.split('/').includes('..')) return `invalid path: must not contain '..': ${p}`;
  if (p.startsWith('..')) return `invalid path: must not start with '..': ${p}`;
  return undefined;
}

function tsDirPrefix(now = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `..${now.getUTCFullYear()}_${p(now.getUTCMonth() + 1)}_${p(now.getUTCDate())}_${p(now.getUTCHours())}_${p(now.getUTCMinutes())}_${p(now.getUTCSeconds())}.`;
}

export interface WriteOptions {
  /**
   * The pod's fsGroup: files and directories of each version belong to this group and
   * are group-readable (directories setgid), as upstream's SetVolumeOwnership does for
   * read-only volumes, before the version becomes visible.
   */
  fsGroup?: number;
}

/** Group read for files, read+search and setgid for directories (upstream's roMask). */
const RO_MASK = 0o440;
const DIR_MASK = 0o2000 | 0o110;

/**
 * Makes `dir` hold exactly `payload`. Returns false when the current version already
 * equals it (nothing is written, so containers see no churn), true after a swap.
 * Idempotent; throws for an invalid path or a broken filesystem.
 */
export async function writeAtomic(dir: string, payload: Payload, opts: WriteOptions = {}): Promise<boolean> {
  const { fsGroup } = opts;
  const clean: Payload = new Map();
  for (const [p, f] of payload) {
    const bad = invalidPayloadPath(p);
    if (bad) throw new Error(bad);
    clean.set(path.posix.normalize(p).replace(/\/+$/, ''), fsGroup === undefined ? f : { data: f.data, mode: f.mode | RO_MASK });
  }
  await mkdir(dir, { recursive: true });
  const oldTs = await readlink(path.join(dir, DATA_DIR)).catch(() => undefined);
  const visible = new Set([...clean.keys()].map((p) => p.split('/')[0]));

  let changed = false;
  if (!oldTs || !(await holdsPayload(path.join(dir, oldTs), clean, fsGroup))) {
    const tsDir = await mkdtemp(path.join(dir, tsDirPrefix()));
    const dirMode = fsGroup === undefined ? 0o755 : 0o755 | RO_MASK | DIR_MASK;
    const dirs = new Set([tsDir]);
    for (const [p, f] of clean) {
      const full = path.join(tsDir, p);
      for (let d = path.dirname(full); d !== tsDir; d = path.dirname(d)) dirs.add(d);
      await mkdir(path.dirname(full), { recursive: true });
      await writeFile(full, f.data);
      if (fsGroup !== undefined) await chown(full, -1, fsGroup);
      await chmod(full, f.mode); // explicit, after chown (which clears setgid): the umask must not narrow the modes
    }
    for (const d of dirs) {
      if (fsGroup !== undefined) await chown(d, -1, fsGroup);
      await chmod(d, dirMode);
    }
    const tmp = path.join(dir, DATA_TMP);
    await rm(tmp, { force: true });
    await symlink(path.basename(tsDir), tmp);
    await rename(tmp, path.join(dir, DATA_DIR));
    changed = true;
  }

  // User-visible links: present for every top-level path, absent for any other.
  for (const name of visible) {
    const link = path.join(dir, name);
    const want = `${DATA_DIR}/${name}`;
    if ((await readlink(link).catch(() => undefined)) === want) continue;
    await rm(link, { force: true });
    await symlink(want, link);
  }
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('..') || visible.has(entry)) continue;
    const st = await lstat(path.join(dir, entry));
    if (st.isSymbolicLink()) await rm(path.join(dir, entry), { force: true });
  }
  // Old versions: every timestamped directory but the one `..data` names.
  const current = await readlink(path.join(dir, DATA_DIR));
  for (const entry of await readdir(dir)) {
    if (entry.startsWith('..') && entry !== DATA_DIR && entry !== current && entry !== DATA_TMP) {
      await rm(path.join(dir, entry), { recursive: true, force: true });
    }
  }
  return changed;
}

/** True when `tsDir` holds exactly the payload's files, contents and modes. */
async function holdsPayload(tsDir: string, payload: Payload, fsGroup: number | undefined): Promise<boolean> {
  const found = new Set<string>();
  const walk = async (rel: string): Promise<boolean> => {
    let entries;
    try {
      entries = await readdir(path.join(tsDir, rel), { withFileTypes: true });
    } catch {
      return false;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (!(await walk(r))) return false;
        continue;
      }
      const want = payload.get(r);
      if (!want || !e.isFile()) return false;
      const full = path.join(tsDir, r);
      const st = await stat(full);
      if ((st.mode & 0o7777) !== want.mode) return false;
      if (fsGroup !== undefined && st.gid !== fsGroup) return false;
      if (!(await readFile(full)).equals(want.data)) return false;
      found.add(r);
    }
    return true;
  };
  return (await walk('')) && found.size === payload.size;
}
