// A deterministic tar writer (POSIX ustar, PAX headers for long names) for image layers
// and OCI archives, and a reader for the same subset. Deterministic: entries sorted by
// path, mtime 0, uid/gid 0, so the same inputs always give the same bytes (and digests).

export interface TarEntry {
  /** Relative path without a leading `/` or `./` (`bin/sh`); directories without a trailing `/`. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Permission bits; 0o644 for files, 0o755 for directories unless given. */
  mode?: number;
  data?: Uint8Array;
  /** Target of a symlink. */
  linkname?: string;
  uid?: number;
  gid?: number;
}

const BLOCK = 512;
const TYPEFLAG: Record<TarEntry['type'], string> = { file: '0', dir: '5', symlink: '2' };

function octal(value: number, width: number): string {
  // width includes the terminating NUL
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(fields: { name: string; prefix?: string; mode: number; uid: number; gid: number; size: number; type: string; linkname?: string }): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(fields.name, 0, 100, 'utf8');
  h.write(octal(fields.mode, 8), 100, 8, 'ascii');
  h.write(octal(fields.uid, 8), 108, 8, 'ascii');
  h.write(octal(fields.gid, 8), 116, 8, 'ascii');
  h.write(octal(fields.size, 12), 124, 12, 'ascii');
  h.write(octal(0, 12), 136, 12, 'ascii'); // mtime: the epoch, for reproducible digests
  h.write('        ', 148, 8, 'ascii'); // checksum placeholder (spaces while summing)
  h.write(fields.type, 156, 1, 'ascii');
  if (fields.linkname) h.write(fields.linkname, 157, 100, 'utf8');
  h.write('ustar\u000000', 257, 8, 'ascii');
  h.write(fields.prefix ?? '', 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return h;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** A PAX record `"<len> key=value\n"` where len counts the whole record, itself included. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** ustar splits long names into prefix/name at a `/`; undefined when no split fits. */
function splitName(name: string): { name: string; prefix: string } | undefined {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: '' };
  for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest) return { name: rest, prefix };
  }
  return undefined;
}

function normalize(p: string): string {
  const parts = p.split('/').filter((s) => s && s !== '.');
  if (parts.some((s) => s === '..')) throw new Error(`tar: path escapes the archive: ${p}`);
  return parts.join('/');
}

/** The archive of `entries`, parent directories added (0755) where missing, sorted by path. */
export function tar(entries: TarEntry[]): Buffer {
  const byPath = new Map<string, TarEntry>();
  for (const e of entries) {
    const p = normalize(e.path);
    if (!p) continue;
    if (byPath.has(p)) throw new Error(`tar: duplicate entry ${p}`);
    byPath.set(p, { ...e, path: p });
  }
  for (const p of [...byPath.keys()]) {
    const parts = p.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      const existing = byPath.get(dir);
      if (!existing) byPath.set(dir, { path: dir, type: 'dir' });
      else if (existing.type !== 'dir') throw new Error(`tar: ${dir} is both a ${existing.type} and a directory`);
    }
  }
  const chunks: Buffer[] = [];
  for (const p of [...byPath.keys()].sort()) {
    const e = byPath.get(p)!;
    const name = e.type === 'dir' ? `${p}/` : p;
    const data = e.type === 'file' ? Buffer.from(e.data ?? new Uint8Array()) : Buffer.alloc(0);
    const mode = e.mode ?? (e.type === 'dir' ? 0o755 : e.type === 'symlink' ? 0o777 : 0o644);
    let split = splitName(name);
    const linkTooLong = e.linkname !== undefined && Buffer.byteLength(e.linkname) > 100;
    if (!split || linkTooLong) {
      const pax = Buffer.from((split ? '' : paxRecord('path', name)) + (linkTooLong ? paxRecord('linkpath', e.linkname!) : ''));
      chunks.push(header({ name: 'PaxHeader', mode: 0o644, uid: 0, gid: 0, size: pax.length, type: 'x' }), pax, padding(pax.length));
      split ??= { name: name.slice(-100), prefix: '' };
    }
    chunks.push(
      header({ ...split, mode, uid: e.uid ?? 0, gid: e.gid ?? 0, size: data.length, type: TYPEFLAG[e.type], linkname: linkTooLong ? '' : e.linkname }),
      data,
      padding(data.length),
    );
  }
  chunks.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(chunks);
}

function cstring(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end >= 0 && end < start + len ? end : start + len);
}

/** Reads what tar() writes (and plain ustar/PAX archives of files, dirs and symlinks). */
export function untar(archive: Uint8Array): TarEntry[] {
  const buf = Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength);
  const out: TarEntry[] = [];
  let pax: Record<string, string> = {};
  for (let off = 0; off + BLOCK <= buf.length;) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const size = parseInt(cstring(h, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(h[156] || 48);
    const data = buf.subarray(off + BLOCK, off + BLOCK + size);
    off += BLOCK + size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (type === 'x') {
      pax = {};
      for (const m of data.toString('utf8').matchAll(/\d+ ([^=]+)=([^\n]*)\n/g)) pax[m[1]] = m[2];
      continue;
    }
    const prefix = cstring(h, 345, 155);
    const name = pax.path ?? (prefix ? `${prefix}/${cstring(h, 0, 100)}` : cstring(h, 0, 100));
    const entry: TarEntry = {
      path: normalize(name),
      type: type === '5' ? 'dir' : type === '2' ? 'symlink' : 'file',
      mode: parseInt(cstring(h, 100, 8).trim() || '0', 8),
      uid: parseInt(cstring(h, 108, 8).trim() || '0', 8),
      gid: parseInt(cstring(h, 116, 8).trim() || '0', 8),
    };
    if (entry.type === 'file') entry.data = Buffer.from(data);
    if (entry.type === 'symlink') entry.linkname = pax.linkpath ?? cstring(h, 157, 100);
    pax = {};
    out.push(entry);
  }
  return out;
}
