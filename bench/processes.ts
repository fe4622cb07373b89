// The child processes the bench starts (the apiserver and the bare baseline server), so
// the load generator never shares an event loop with the server it measures; and their
// CPU time, read from /proc, so a rate can be put beside the CPU it cost.

import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Child {
  proc: ChildProcess;
  /** The last lines of stderr, for error messages. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once this process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `node <args>` and resolves once a stdout line matches `ready`, with the match.
 * Rejects (and kills the child) when it exits first or `timeoutMs` passes.
 */
export function startChild(
  args: string[],
  opts: { ready: RegExp; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string },
): Promise<{ child: Child; match: RegExpMatchArray }> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
  const tail: string[] = [];
  proc.stderr!.setEncoding('utf8').on('data', (s: string) => {
    tail.push(s);
    if (tail.length > 50) tail.shift();
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const child: Child = {
    proc,
    stderrTail: () => tail.join('').split('\n').slice(-20).join('\n'),
    async stop(graceMs = 15_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void child.stop(1000);
      reject(new Error(`node ${args.join(' ')}: not ready after ${opts.timeoutMs ?? 60_000} ms\n${child.stderrTail()}`));
    }, opts.timeoutMs ?? 60_000);
    const onData = (s: string) => {
      out += s;
      const m = out.match(opts.ready);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        proc.off('exit', onExit);
        resolve({ child, match: m });
      }
    };
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`node ${args.join(' ')} exited (${code}) before it was ready\n${child.stderrTail()}`));
    };
    proc.stdout!.setEncoding('utf8').on('data', onData);
    proc.once('exit', onExit);
  });
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on every Linux Node supports

/** User + system CPU milliseconds a process has used so far; undefined off Linux. */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) are space-separated;
    // utime and stime are fields 14 and 15 of the whole line.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ms) of each thread of `pid`, summed by thread name (/proc/<pid>/task/<tid>/comm:
 * "MainThread", "V8Worker" for V8's GC and compiler helpers, "libuv-worker", ...), so a
 * figure can say how much of a process's CPU its JavaScript thread spent and how much the
 * garbage collector's helper threads did. Threads that ended in between are missing.
 */
export function threadCpuMs(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND;
      byName.set(name, (byName.get(name) ?? 0) + ms);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return byName;
}

/**
 * The whole machine's CPU time so far (ms, all cores, from the first line of /proc/stat):
 * `busy` is every non-idle state but steal, `steal` the time the hypervisor ran someone
 * else while this machine wanted a core. Read at both ends of a window, it tells how
 * loaded the machine was while a figure was measured.
 */
export function machineCpuMs(): { busy: number; steal: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0];
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const ms = (t: number) => (t * 1000) / CLOCK_TICKS_PER_SECOND;
    return { busy: ms(user + nice + system + irq + softirq), steal: ms(steal) };
  } catch {
    return undefined;
  }
}

/**
 * Runs `node <script> --json <args>` to completion and parses the last stdout line as its
 * result (bench/run.ts's sections that measure in their own process). A script that
 * cannot run here prints `{"skipped": "why"}` and exits 0 (undefined); stderr passes through.
 */
export function runJsonChild<T>(script: string, args: string[] = [], opts: { cwd?: string } = {}): Promise<T | { skipped: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [script, '--json', ...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd: opts.cwd });
    let out = '';
    proc.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
    proc.on('error', reject);
    proc.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as T | { skipped: string });
      } catch (e) {
        reject(e);
      }
    });
  });
}

/**
 * Writes a bench result as <dir>/<kind>-<its startedAt>.json and <dir>/<kind>-latest.json
 * (creating `dir`); returns the path of the first.
 */
export async function saveResult(dir: string, kind: string, result: { startedAt: string }): Promise<string> {
  await mkdir(dir, { recursive: true });
  const json = JSON.stringify(result, null, 2) + '\n';
  const file = join(dir, `${kind}-${result.startedAt.replace(/:/g, '-')}.json`);
  await writeFile(file, json);
  await writeFile(join(dir, `${kind}-latest.json`), json);
  return file;
}

/** `--help` of a bench script: prints the comment block that opens `file` (its usage) and exits. */
export function printUsageAndExit(file: string): never {
  process.stdout.write(readFileSync(file, 'utf8').split('\n\n')[0].replace(/^\/\/ ?/gm, '') + '\n');
  process.exit(0);
}
