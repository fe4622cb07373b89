// Liveness, readiness and startup probes, one loop per (container, probe) as upstream's
// prober workers: initialDelaySeconds, then every periodSeconds with timeoutSeconds;
// results flip after successThreshold/failureThreshold consecutive outcomes. Liveness and
// readiness wait for the startup probe. Results are read by the pod worker (level-
// triggered); `onChange` only says "look again".

import net from 'node:net';
import type { CriRuntime } from '../cri/types.ts';
import { grpcProbe } from './grpc.ts';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';
export type ProbeOutcome = { ok: boolean; output: string };

export interface ContainerProbeState {
  /** Startup probe passed (true without one). */
  started: boolean;
  /** Readiness result (false until the first success; true without a probe once started). */
  ready: boolean;
  /** Liveness or startup probe failed past its threshold: the container must be restarted. */
  unhealthy?: { kind: 'liveness' | 'startup'; output: string };
}

export interface ProberOptions {
  runtime: CriRuntime;
  onChange: () => void;
  /** Warning events (Unhealthy). */
  event: (reason: string, message: string) => void;
}

interface Target {
  containerId: string;
  container: any;
  /** Address for httpGet/tcpSocket/grpc (pod IP, or 127.0.0.1 for host network). */
  host: string;
}

const USER_AGENT = 'kube-probe/1.32';

function resolvePort(container: any, port: number | string): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const p = (container.ports ?? []).find((x: any) => x.name === port);
  if (!p) throw new Error(`port ${port} not found in container`);
  return p.containerPort;
}

/** One probe attempt; never throws. */
export async function runProbe(probe: any, t: Target, runtime: CriRuntime): Promise<ProbeOutcome> {
  const timeoutS = probe.timeoutSeconds ?? 1;
  try {
    if (probe.exec) {
      const r = await runtime.execSync(t.containerId, { cmd: probe.exec.command ?? [], timeout: timeoutS });
      const output = (r.stdout.toString() + r.stderr.toString()).trim();
      return { ok: r.exitCode === 0, output: r.exitCode === 0 ? output : output || `command ${JSON.stringify((probe.exec.command ?? []).join(' '))} exited with ${r.exitCode}` };
    }
    if (probe.httpGet) {
      const g = probe.httpGet;
      const port = resolvePort(t.container, g.port);
      const host = g.host || t.host;
      const scheme = (g.scheme ?? 'HTTP').toLowerCase();
      const url = `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${g.path ?? '/'}`;
      const headers: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: '*/*' };
      for (const h of g.httpHeaders ?? []) headers[h.name] = h.value;
      try {
        const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutS * 1000), redirect: 'manual' });
        await res.arrayBuffer().catch(() => undefined);
        if (res.status >= 200 && res.status < 400) return { ok: true, output: '' };
        return { ok: false, output: `HTTP probe failed with statuscode: ${res.status}` };
      } catch (e) {
        const cause = (e as { cause?: Error }).cause;
        return { ok: false, output: `Get "${url}": ${cause?.message ?? (e as Error).message}` };
      }
    }
    if (probe.tcpSocket) {
      const port = resolvePort(t.container, probe.tcpSocket.port);
      const host = probe.tcpSocket.host || t.host;
      return await new Promise<ProbeOutcome>((resolve) => {
        const s = net.connect({ host, port });
        const done = (o: ProbeOutcome) => {
          s.destroy();
          resolve(o);
        };
        s.setTimeout(timeoutS * 1000, () => done({ ok: false, output: `dial tcp ${host}:${port}: i/o timeout` }));
        s.once('connect', () => done({ ok: true, output: '' }));
        s.once('error', (e) => done({ ok: false, output: `dial tcp ${host}:${port}: ${e.message}` }));
      });
    }
    if (probe.grpc) {
      return await grpcProbe({ host: t.host, port: Number(probe.grpc.port), service: probe.grpc.service ?? '', timeoutSeconds: timeoutS, userAgent: USER_AGENT });
    }
    return { ok: false, output: 'probe has no handler' };
  } catch (e) {
    return { ok: false, output: (e as Error).message };
  }
}

const LABEL: Record<ProbeKind, string> = { liveness: 'Liveness', readiness: 'Readiness', startup: 'Startup' };

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** The probes of one pod's containers. */
export class PodProber {
  readonly #opts: ProberOptions;
  readonly #states = new Map<string, { state: ContainerProbeState; stop: AbortController; startedWaiters: (() => void)[] }>();

  constructor(opts: ProberOptions) {
    this.#opts = opts;
  }

  /** What the probes say about a container (defaults for containers without probes or not tracked). */
  state(containerId: string): ContainerProbeState | undefined {
    return this.#states.get(containerId)?.state;
  }

  /** Starts the probe loops of a running container (idempotent per container id). */
  ensure(t: Target): void {
    if (this.#states.has(t.containerId)) return;
    const c = t.container;
    const state: ContainerProbeState = { started: !c.startupProbe, ready: !c.readinessProbe && !c.startupProbe };
    const entry = { state, stop: new AbortController(), startedWaiters: [] as (() => void)[] };
    this.#states.set(t.containerId, entry);
    const signal = entry.stop.signal;
    const startedPromise = new Promise<void>((resolve) => {
      if (state.started) resolve();
      else entry.startedWaiters.push(resolve);
    });
    if (c.startupProbe) void this.#loop('startup', c.startupProbe, t, entry, signal, Promise.resolve());
    if (c.livenessProbe) void this.#loop('liveness', c.livenessProbe, t, entry, signal, startedPromise);
    if (c.readinessProbe) void this.#loop('readiness', c.readinessProbe, t, entry, signal, startedPromise);
    if (!c.readinessProbe && c.startupProbe) void startedPromise.then(() => {
      if (!signal.aborted) {
        state.ready = true;
        this.#opts.onChange();
      }
    });
  }

  /** Stops the loops of containers not in `keep`. */
  retain(keep: Set<string>): void {
    for (const [id, e] of this.#states) if (!keep.has(id)) {
      e.stop.abort();
      this.#states.delete(id);
    }
  }

  stopAll(): void {
    this.retain(new Set());
  }

  async #loop(kind: ProbeKind, probe: any, t: Target, entry: { state: ContainerProbeState; startedWaiters: (() => void)[] }, signal: AbortSignal, after: Promise<void>): Promise<void> {
    await Promise.race([after, new Promise((r) => signal.addEventListener('abort', r, { once: true }))]);
    if (signal.aborted) return;
    await sleep((probe.initialDelaySeconds ?? 0) * 1000, signal);
    const period = (probe.periodSeconds ?? 10) * 1000;
    const successThreshold = probe.successThreshold ?? 1;
    const failureThreshold = probe.failureThreshold ?? 3;
    let successes = 0;
    let failures = 0;
    const state = entry.state;
    while (!signal.aborted) {
      const r = await runProbe(probe, t, this.#opts.runtime);
      if (signal.aborted) return;
      if (r.ok) {
        successes++;
        failures = 0;
      } else {
        failures++;
        successes = 0;
        this.#opts.event('Unhealthy', `${LABEL[kind]} probe failed: ${r.output}`);
      }
      if (kind === 'readiness') {
        const ready = r.ok ? (successes >= successThreshold ? true : state.ready) : failures >= failureThreshold ? false : state.ready;
        if (ready !== state.ready) {
          state.ready = ready;
          this.#opts.onChange();
        }
      } else if (kind === 'startup') {
        if (r.ok && successes >= successThreshold) {
          state.started = true;
          for (const w of entry.startedWaiters.splice(0)) w();
          this.#opts.onChange();
          return;
        }
        if (failures >= failureThreshold) {
          state.unhealthy = { kind, output: r.output };
          this.#opts.onChange();
          return;
        }
      } else if (failures >= failureThreshold) {
        state.unhealthy = { kind, output: r.output };
        this.#opts.onChange();
        return;
      }
      await sleep(period, signal);
    }
  }
}
