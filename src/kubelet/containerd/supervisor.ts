// Runs a cluster's own containerd: writes its config under the data dir, starts it, says
// when it is ready (its socket answers CRI Version), restarts it with back-off when it
// dies, and stops it cleanly (SIGTERM, then SIGKILL after a grace period). Containers
// outlive containerd (their shims keep them), so a restart or a stop never kills pods;
// resetContainerd (reset.ts) is what removes everything.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CriClient, waitForRuntime } from '../cri/client.ts';
import type { VersionResponse } from '../cri/types.ts';
import {
  detectCgroupDriver,
  detectRestrictOomScoreAdj,
  registryHostsPath,
  renderContainerdConfig,
  renderRegistryHosts,
  type CgroupDriver,
  type RegistryMirror,
  type ContainerdLayout,
} from './config.ts';
import { findExecutable, INSTALL_HINT } from './prereqs.ts';
import { alive, cmdline, waitGone } from './proc.ts';
import { DEFAULT_PAUSE_IMAGE } from '../images/pause.ts';

export type Logger = (msg: string, fields?: Record<string, unknown>) => void;

export interface ContainerdSupervisorOptions {
  layout: ContainerdLayout;
  /** containerd's sandbox_image; skiff's own pause image unless given. */
  sandboxImage?: string;
  /** Detected from the host unless given (detectCgroupDriver). */
  cgroupDriver?: CgroupDriver;
  /** Detected from this process' capabilities unless given (detectRestrictOomScoreAdj). */
  restrictOomScoreAdj?: boolean;
  /**
   * Registry mirrors and credentials by registry host (`docker.io`, `registry.local:5000`),
   * written as hosts.toml files under the registry config_path at every start.
   */
  registries?: Record<string, RegistryMirror[]>;
  /** The containerd binary; found on PATH unless given. */
  containerd?: string;
  /** How long a start may take before it counts as failed (default 30 s). */
  readyTimeoutMs?: number;
  /** Grace between SIGTERM and SIGKILL on stop (default 10 s). */
  stopTimeoutMs?: number;
  /** Restart back-off: first delay, doubling up to the maximum (default 1 s .. 30 s). */
  backoff?: { initialMs: number; maxMs: number };
  log?: Logger;
}

/** A run that lasted this long resets the back-off. */
const STABLE_MS = 30_000;

/** The last lines of a log file, for error messages. */
function tail(file: string, lines = 8): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export class ContainerdSupervisor {
  readonly layout: ContainerdLayout;
  readonly endpoint: string;
  readonly cgroupDriver: CgroupDriver;
  readonly sandboxImage: string;
  /** Resolves with containerd's Version once the first start answers; rejects if it never does. */
  readonly ready: Promise<VersionResponse>;
  /** How many times containerd was restarted after dying. */
  restarts = 0;

  readonly #opts: ContainerdSupervisorOptions;
  readonly #log: Logger;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stopping = false;
  #started = false;
  /** Restarts only follow a containerd that was ready once: a first start that fails is the caller's error. */
  #everReady = false;
  #restartTimer: NodeJS.Timeout | undefined;
  #backoffMs: number;
  #resolveReady!: (v: VersionResponse) => void;
  #rejectReady!: (e: Error) => void;

  constructor(opts: ContainerdSupervisorOptions) {
    this.#opts = opts;
    this.layout = opts.layout;
    this.endpoint = opts.layout.endpoint;
    this.cgroupDriver = opts.cgroupDriver ?? detectCgroupDriver();
    this.sandboxImage = opts.sandboxImage ?? DEFAULT_PAUSE_IMAGE;
    this.#log = opts.log ?? (() => {});
    this.#backoffMs = opts.backoff?.initialMs ?? 1000;
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  }

  /** The running containerd's pid, if any. */
  get pid(): number | undefined {
    return this.#child?.exitCode === null ? this.#child.pid : undefined;
  }

  /**
   * Writes the config, takes over from a containerd of this cluster left running by an
   * earlier skiff, starts containerd and resolves when it is ready. Aborting `signal`
   * stops it. Throws, naming the package, when containerd is not installed.
   */
  async start(signal?: AbortSignal): Promise<VersionResponse> {
    if (this.#started) throw new Error('containerd supervisor already started');
    this.#started = true;
    const binary = this.#opts.containerd ?? findExecutable('containerd');
    if (!binary) {
      const e = new Error(`containerd is not installed: ${INSTALL_HINT}`);
      this.#rejectReady(e);
      throw e;
    }
    const l = this.layout;
    for (const dir of [l.rootDir, l.cniConfDir, l.registryConfigDir, path.dirname(l.configPath), path.dirname(l.logPath)]) {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    }
    mkdirSync(l.stateDir, { recursive: true, mode: 0o711 });
    writeFileSync(l.configPath, renderContainerdConfig(l, {
      sandboxImage: this.sandboxImage,
      cgroupDriver: this.cgroupDriver,
      restrictOomScoreAdj: this.#opts.restrictOomScoreAdj ?? detectRestrictOomScoreAdj(),
    }));
    for (const [registry, mirrors] of Object.entries(this.#opts.registries ?? {})) {
      const file = registryHostsPath(l, registry);
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeFileSync(file, renderRegistryHosts(registry, mirrors), { mode: 0o600 }); // may hold credentials
    }
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    try {
      await this.#takeOver();
      const version = await this.#run(binary);
      this.#everReady = true;
      this.#resolveReady(version);
      return version;
    } catch (e) {
      this.#rejectReady(e as Error);
      await this.stop();
      throw e;
    }
  }

  /** Stops a containerd this cluster's previous skiff left running (its pid file names it). */
  async #takeOver(): Promise<void> {
    const l = this.layout;
    let pid: number | undefined;
    try {
      pid = Number(readFileSync(l.pidFile, 'utf8').trim()) || undefined;
    } catch {}
    if (pid && alive(pid) && cmdline(pid).includes(l.configPath)) {
      this.#log('stopping containerd left running by an earlier skiff', { pid });
      process.kill(pid, 'SIGTERM');
      if (!(await waitGone(pid, this.#opts.stopTimeoutMs ?? 10_000))) {
        process.kill(pid, 'SIGKILL');
        await waitGone(pid, 5000);
      }
    }
    // Anybody else answering on our socket would lose it to containerd's bind: refuse.
    const probe = new CriClient(l.endpoint);
    try {
      const v = await probe.version({ timeoutMs: 500 }).catch(() => undefined);
      if (v) throw new Error(`another runtime (${v.runtimeName} ${v.runtimeVersion}) already serves ${l.socket}; stop it, or use it with --container-runtime-endpoint ${l.endpoint}`);
    } finally {
      probe.close();
    }
  }

  /** Spawns containerd once and waits until it answers or exits. */
  async #run(binary: string): Promise<VersionResponse> {
    const l = this.layout;
    const started = performance.now();
    const logFd = openSync(l.logPath, 'a');
    let child: ChildProcess;
    try {
      // Its own process group: a terminal's Ctrl-C reaches skiff, which stops containerd in order.
      child = spawn(binary, ['--config', l.configPath, '--log-level', 'info'], { stdio: ['ignore', logFd, logFd], detached: true });
    } finally {
      closeSync(logFd);
    }
    this.#child = child;
    const exited = new Promise<number | string>((resolve) => {
      child.once('error', (e) => resolve(e.message));
      child.once('exit', (code, sig) => resolve(sig ?? code ?? 'unknown'));
    });
    this.#exited = exited.then(() => {});
    if (child.pid) writeFileSync(l.pidFile, `${child.pid}\n`);
    void exited.then((how) => this.#onExit(child, how, started));

    const client = new CriClient(l.endpoint);
    const ac = new AbortController();
    try {
      const version = await Promise.race([
        waitForRuntime(client, { timeoutMs: this.#opts.readyTimeoutMs ?? 30_000, signal: ac.signal }),
        exited.then((how) => {
          throw new Error(`containerd exited (${how}) before it was ready; its log ${l.logPath} ends:\n${tail(l.logPath)}`);
        }),
      ]);
      this.#log('containerd ready', { pid: child.pid, socket: l.socket, version: version.runtimeVersion, ms: Math.round(performance.now() - started) });
      return version;
    } finally {
      ac.abort();
      client.close();
    }
  }

  #onExit(child: ChildProcess, how: number | string, started: number): void {
    if (this.#child === child) this.#child = undefined;
    if (this.#stopping || !this.#everReady) return;
    const ranMs = performance.now() - started;
    if (ranMs >= STABLE_MS) this.#backoffMs = this.#opts.backoff?.initialMs ?? 1000;
    const delay = this.#backoffMs;
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#opts.backoff?.maxMs ?? 30_000);
    this.#log('containerd exited; restarting', { exit: how, ranMs: Math.round(ranMs), restartInMs: delay, log: this.layout.logPath });
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopping) return;
      this.restarts++;
      const binary = this.#opts.containerd ?? findExecutable('containerd') ?? 'containerd';
      // a failed restart exits again, which schedules the next one
      this.#run(binary).catch((e) => this.#log('containerd restart failed', { error: (e as Error).message }));
    }, delay);
  }

  /** Stops containerd: SIGTERM, SIGKILL after the grace period. Idempotent. Pods keep running. */
  async stop(): Promise<void> {
    this.#stopping = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), this.#opts.stopTimeoutMs ?? 10_000);
      await this.#exited;
      clearTimeout(timer);
      this.#log('containerd stopped', { pid: child.pid });
    }
    rmSync(this.layout.pidFile, { force: true });
  }
}
