// hostPath volumes: the type checks upstream's hostPath plugin runs before a container
// may use the path, with its error texts (behaviour read from pkg/volume/hostpath).

import { mkdir, open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';

export const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'] as const;

/** Go's text for a system call error ("open /x/y: no such file or directory"). */
export function goError(op: string, p: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const text: Record<string, string> = {
    ENOENT: 'no such file or directory',
    ENOTDIR: 'not a directory',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EEXIST: 'file exists',
    EROFS: 'read-only file system',
    EISDIR: 'is a directory',
    ENOSPC: 'no space left on device',
  };
  return `${op} ${p}: ${(code && text[code]) ?? (e as Error)?.message ?? String(e)}`;
}

async function statOf(p: string): Promise<Stats | undefined> {
  try {
    return await stat(p);
  } catch {
    return undefined;
  }
}

/**
 * Checks (and for the *OrCreate types prepares) `p` for a hostPath volume of `type`.
 * Returns the error text for the pod's event, or undefined when the path may be used.
 */
export async function checkHostPathType(p: string, type: string | undefined): Promise<string | undefined> {
  const t = type ?? '';
  let st = await statOf(p);
  switch (t) {
    case '':
      return undefined; // no checks, as upstream
    case 'DirectoryOrCreate':
      if (!st) {
        try {
          await mkdir(p, { recursive: true, mode: 0o755 });
        } catch (e) {
          return goError('mkdir', p, e);
        }
        return undefined;
      }
    // falls through: an existing path must be a directory
    case 'Directory':
      return st?.isDirectory() ? undefined : `hostPath type check failed: ${p} is not a directory`;
    case 'FileOrCreate':
      if (!st) {
        // Like upstream, the parent directory is not created.
        try {
          await (await open(p, 'a', 0o644)).close();
        } catch (e) {
          return goError('open', p, e);
        }
        st = await statOf(p);
      }
    // falls through
    case 'File':
      return st?.isFile() ? undefined : `hostPath type check failed: ${p} is not a file`;
    case 'Socket':
      return st?.isSocket() ? undefined : `hostPath type check failed: ${p} is not a socket file`;
    case 'CharDevice':
      return st?.isCharacterDevice() ? undefined : `hostPath type check failed: ${p} is not a character device`;
    case 'BlockDevice':
      return st?.isBlockDevice() ? undefined : `hostPath type check failed: ${p} is not a block device`;
    default:
      return `${t} is an invalid volume type`;
  }
}
