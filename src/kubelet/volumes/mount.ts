// Mount-table helpers: tmpfs for Memory-backed emptyDirs and for secret and projected
// volumes (upstream keeps secrets off disk the same way), and finding what is mounted
// under a pod's directory so teardown never deletes through a live mount.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, _stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

/** Mount points at or below `root`, deepest first (the order to unmount them in). */
export async function mountPointsUnder(root: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const prefix = path.resolve(root);
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const field = line.split(' ')[4];
    if (!field) continue;
    // mountinfo escapes space, tab, newline and backslash as octal.
    const mp = field.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === prefix || mp.startsWith(prefix + '/')) out.push(mp);
  }
  return [...new Set(out)].sort((a, b) => b.length - a.length);
}

export async function isMountPoint(dir: string): Promise<boolean> {
  return (await mountPointsUnder(dir)).includes(path.resolve(dir));
}

/** Mounts a tmpfs on `dir` unless one is there already (idempotent). */
export async function mountTmpfs(dir: string, opts: { sizeBytes?: bigint; mode: number }): Promise<void> {
  if (await isMountPoint(dir)) return;
  const o = [`mode=${opts.mode.toString(8).padStart(4, '0')}`];
  if (opts.sizeBytes !== undefined && opts.sizeBytes > 0n) o.push(`size=${opts.sizeBytes}`);
  await run('mount', ['-t', 'tmpfs', '-o', o.join(','), 'tmpfs', dir]);
}

/** Unmounts everything at or below `root`; throws if anything stays mounted. */
export async function unmountAll(root: string): Promise<void> {
  for (const mp of await mountPointsUnder(root)) {
    // A mount stacked twice on one point needs two umounts; loop until it is gone.
    for (let i = 0; i < 8 && (await isMountPoint(mp)); i++) await run('umount', [mp]);
  }
  const left = await mountPointsUnder(root);
  if (left.length) throw new Error(`still mounted under ${root}: ${left.join(', ')}`);
}
