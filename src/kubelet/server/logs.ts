// Container logs as the kubelet serves them: CRI log files (`<RFC3339Nano> <stream> <P|F> <text>`,
// one file per container attempt) turned back into the container's output, with the
// options of PodLogOptions: follow, tailLines, timestamps, sinceSeconds/sinceTime, limitBytes.

import { open, readFile } from 'node:fs/promises';

export interface LogOptions {
  follow?: boolean;
  tailLines?: number;
  timestamps?: boolean;
  /** Only lines at or after this time (ms since epoch). */
  sinceMs?: number;
  limitBytes?: number;
}

export interface LogLine {
  /** The timestamp as written by the runtime (RFC3339Nano). */
  time: string;
  stream: 'stdout' | 'stderr';
  text: string;
}

/**
 * Parses CRI log text, joining partial (P) lines with their final (F) line per stream.
 * Returns the complete lines and the unparsed remainder (an incomplete last line).
 */
export class CriLogParser {
  #partial = new Map<string, { time: string; parts: string[] }>();
  #rest = '';

  push(text: string): LogLine[] {
    const data = this.#rest + text;
    const lines = data.split('\n');
    this.#rest = lines.pop() ?? '';
    const out: LogLine[] = [];
    for (const l of lines) {
      const a = l.indexOf(' ');
      const b = l.indexOf(' ', a + 1);
      if (a < 0 || b < 0) continue;
      const c = l.indexOf(' ', b + 1);
      const time = l.slice(0, a);
      const stream = l.slice(a + 1, b) as LogLine['stream'];
      const tag = c < 0 ? l.slice(b + 1) : l.slice(b + 1, c);
      const body = c < 0 ? '' : l.slice(c + 1);
      const p = this.#partial.get(stream);
      if (tag.split(':')[0] === 'P') {
        if (p) p.parts.push(body);
        else this.#partial.set(stream, { time, parts: [body] });
        continue;
      }
      if (p) {
        this.#partial.delete(stream);
        out.push({ time: p.time, stream, text: p.parts.join('') + body });
      } else {
        out.push({ time, stream, text: body });
      }
    }
    return out;
  }
}

export function formatLine(l: LogLine, timestamps: boolean | undefined): string {
  return timestamps ? `${l.time} ${l.text}\n` : `${l.text}\n`;
}

function timeMs(rfc3339: string): number {
  // Date.parse handles at most milliseconds; drop the extra fraction digits.
  return Date.parse(rfc3339.replace(/(\.\d{3})\d+/, '$1'));
}

/**
 * Writes the log at `path` to `write` with `opts`. With follow, keeps reading as the file
 * grows until `running()` says the container stopped (after a final drain) or the signal aborts.
 */
export async function streamLog(
  path: string,
  opts: LogOptions,
  write: (chunk: string) => void | Promise<void>,
  signal: AbortSignal,
  running: () => Promise<boolean>,
): Promise<void> {
  const parser = new CriLogParser();
  let remaining = opts.limitBytes ?? Infinity;
  const emit = async (lines: LogLine[]): Promise<boolean> => {
    let s = '';
    for (const l of lines) {
      if (opts.sinceMs !== undefined && timeMs(l.time) < opts.sinceMs) continue;
      s += formatLine(l, opts.timestamps);
    }
    if (!s) return remaining > 0;
    if (Buffer.byteLength(s) > remaining) {
      s = Buffer.from(s).subarray(0, remaining).toString('utf8');
    }
    remaining -= Buffer.byteLength(s);
    await write(s);
    return remaining > 0;
  };
  let content: Buffer;
  try {
    content = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !opts.follow) throw e;
    content = Buffer.alloc(0);
  }
  let offset = content.length;
  let lines = parser.push(content.toString('utf8'));
  if (opts.tailLines !== undefined) lines = opts.tailLines <= 0 ? [] : lines.slice(-opts.tailLines);
  if (!(await emit(lines)) || !opts.follow) return;

  const fh = await open(path, 'r').catch(() => undefined);
  try {
    const buf = Buffer.alloc(64 * 1024);
    let lastCheck = 0;
    while (!signal.aborted) {
      let n = 0;
      if (fh) {
        ({ bytesRead: n } = await fh.read(buf, 0, buf.length, offset));
        if (n > 0) {
          offset += n;
          if (!(await emit(parser.push(buf.subarray(0, n).toString('utf8'))))) return;
          continue;
        }
      }
      // Nothing new: stop once the container is gone (its last lines were read above).
      if (Date.now() - lastCheck > 250) {
        lastCheck = Date.now();
        if (!(await running())) {
          if (fh) {
            ({ bytesRead: n } = await fh.read(buf, 0, buf.length, offset));
            if (n > 0) {
              offset += n;
              await emit(parser.push(buf.subarray(0, n).toString('utf8')));
              continue;
            }
          }
          return;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await fh?.close();
  }
}
