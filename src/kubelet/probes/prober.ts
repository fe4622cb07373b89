// Liveness, readiness and startup probes, one loop per (container, probe) as upstream's
// prober workers: initialDelaySeconds, then every periodSeconds with timeoutSeconds;
// results flip after successThreshold/failureThreshold consecutive outcomes. Liveness and
// readiness wait for the startup probe. Results are read by the pod worker (level-
// triggered); `onChange` only says "look again".

import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { CriRuntime } from '../cri/types.ts';
import { CriError } from '../cri/types.ts';
import { goDuration, grpcProbe } from './grpc.ts';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';
/**
 * One attempt's result. `warning`: a success upstream reports with a ProbeWarning event
 * (an HTTP probe that stopped at a redirect to another host). `errored`: the probe could
 * not be run at all (a port that does not resolve, a runtime error); upstream reports it
 * and throws the result away, so it counts neither as a success nor as a failure.
 */
export type ProbeOutcome = { ok: boolean; output: string; warning?: boolean; errored?: boolean };

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
  /** Warning events (Unhealthy, ProbeWarning). */
  event: (reason: string, message: string) => void;
}

interface Target {
  containerId: string;
  container: any;
  /** Address for httpGet/tcpSocket/grpc (pod IP, or 127.0.0.1 for host network). */
  host: string;
}

const USER_AGENT = 'kube-probe/1.32';
/** Upstream keeps at most 10 KiB of an exec probe's output and of an HTTP probe's body. */
const MAX_OUTPUT = 10 * 1024;
/** Go's http.Client gives up after 10 redirects. */
const MAX_REDIRECTS = 10;

class ProbeError extends Error {}

/** A probe's port as upstream's ResolveContainerPort: a number, a container port's name, or a number in a string. */
function resolvePort(container: any, port: number | string): number {
  let n: number;
  if (typeof port === 'number') n = port;
  else {
    const p = (container.ports ?? []).find((x: any) => x.name === port);
    if (p) n = p.containerPort;
    else if (/^[+-]?\d+$/.test(port)) n = Number(port);
    else throw new ProbeError(`strconv.Atoi: parsing ${goQuote(port)}: invalid syntax`);
  }
  if (n > 0 && n < 65536) return n;
  throw new ProbeError(`invalid port number: ${n}`);
}

/** Go's net.JoinHostPort: IPv6 literals in brackets. */
function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Go's syscall.Errno strings for the errors a dial or a read can meet. */
const ERRNO_TEXT: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by peer',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network is unreachable',
  ETIMEDOUT: 'connection timed out',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EPIPE: 'broken pipe',
};

/**
 * A failed dial as Go's net.Dialer reports it (*net.OpError): `dial tcp 10.0.0.5:8080:
 * connect: connection refused`, `dial tcp 10.0.0.5:8080: i/o timeout`. Names that do not
 * resolve read `dial tcp: lookup NAME: no such host`.
 */
export function dialErrorMessage(addr: string, err: { code?: string; message: string } | 'timeout'): string {
  if (err === 'timeout') return `dial tcp ${addr}: i/o timeout`;
  if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') return `dial tcp: lookup ${addr.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')}: no such host`;
  const text = err.code ? ERRNO_TEXT[err.code] : undefined;
  return `dial tcp ${addr}: connect: ${text ?? err.message}`;
}

/** Go's `%q` for the ASCII strings probes deal in. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}

interface HttpAttempt {
  status?: number;
  location?: string;
  body?: string;
  /** The error text after `Get "URL": `. */
  error?: string;
}

/** One GET on a fresh connection (upstream disables keep-alives), within `deadline`. */
function httpGetOnce(url: URL, headers: Record<string, string>, deadline: number): Promise<HttpAttempt> {
  return new Promise((resolve) => {
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    const addr = joinHostPort(hostname, port);
    let connected = false;
    let local = '';
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (r: HttpAttempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(
      {
        host: hostname,
        port,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { Host: url.host, ...headers, Connection: 'close' },
        agent: false,
        // Upstream's probe transport skips certificate verification.
        ...(url.protocol === 'https:' ? { rejectUnauthorized: false } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_OUTPUT) chunks.push(c.subarray(0, MAX_OUTPUT - size));
          size += c.length;
          if (size >= MAX_OUTPUT) finish({ status: res.statusCode, location: res.headers.location, body: Buffer.concat(chunks).toString() });
        });
        res.on('end', () => finish({ status: res.statusCode, location: res.headers.location, body: Buffer.concat(chunks).toString() }));
        res.on('error', (e) => finish({ error: (e as Error).message }));
        res.on('aborted', () => finish({ error: 'unexpected EOF' }));
      },
    );
    req.on('socket', (s) => {
      s.once('connect', () => {
        connected = true;
        local = joinHostPort(s.localAddress ?? '', s.localPort ?? 0);
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (!connected) return finish({ error: dialErrorMessage(addr, e) });
      // After the connection is up, Go reports a reset as a failed read on it and a
      // connection closed without an answer as EOF.
      if (e.code === 'ECONNRESET' && e.message === 'socket hang up') return finish({ error: 'EOF' });
      const text = e.code ? ERRNO_TEXT[e.code] : undefined;
      finish({ error: text ? `read tcp ${local}->${addr}: read: ${text}` : e.message });
    });
    // Go's http.Client.Timeout: a dial still under way reads as the dial's i/o timeout,
    // a request sent but unanswered as the context's deadline.
    timer = setTimeout(
      () => finish({ error: `${connected ? 'context deadline exceeded' : dialErrorMessage(addr, 'timeout')} (Client.Timeout exceeded while awaiting headers)` }),
      Math.max(0, deadline - Date.now()),
    );
    req.end();
  });
}

/**
 * An httpGet probe as upstream's: 2xx and 3xx succeed, redirects to the same host are
 * followed (up to 10), a redirect elsewhere stops there as a success with a warning;
 * anything else fails with `HTTP probe failed with statuscode: N`; transport errors
 * fail with Go's `Get "URL": ...` text.
 */
async function httpProbe(start: URL, headers: Record<string, string>, timeoutS: number): Promise<ProbeOutcome> {
  const deadline = Date.now() + timeoutS * 1000;
  let url = start;
  for (let redirects = 0; ; redirects++) {
    const r = await httpGetOnce(url, headers, deadline);
    if (r.error !== undefined) return { ok: false, output: `Get ${goQuote(url.href)}: ${r.error}` };
    const status = r.status!;
    const redirect = [301, 302, 303, 307, 308].includes(status) && r.location;
    if (redirect) {
      const next = new URL(r.location!, url);
      if (next.hostname === start.hostname) {
        // Go's client names the Location header as given in this error.
        if (redirects + 1 >= MAX_REDIRECTS) return { ok: false, output: `Get ${goQuote(r.location!)}: stopped after ${MAX_REDIRECTS} redirects` };
        url = next;
        continue;
      }
    }
    if (status >= 200 && status < 300) return { ok: true, output: r.body ?? '' };
    if (status >= 300 && status < 400) return { ok: true, warning: true, output: `Probe terminated redirects, Response body: ${r.body ?? ''}` };
    return { ok: false, output: `HTTP probe failed with statuscode: ${status}` };
  }
}

function tcpProbe(host: string, port: number, timeoutS: number): Promise<ProbeOutcome> {
  const addr = joinHostPort(host, port);
  return new Promise<ProbeOutcome>((resolve) => {
    const s = net.connect({ host, port });
    const done = (o: ProbeOutcome) => {
      clearTimeout(timer);
      s.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => done({ ok: false, output: dialErrorMessage(addr, 'timeout') }), timeoutS * 1000);
    s.once('connect', () => done({ ok: true, output: '' }));
    s.once('error', (e) => done({ ok: false, output: dialErrorMessage(addr, e) }));
  });
}

/**
 * An exec probe as upstream's: the exit code decides and the message is the command's
 * stdout followed by its stderr, untrimmed and possibly empty (at most 10 KiB). A command
 * the runtime stops at timeoutSeconds fails with the CRI client's text,
 * `command timed out: "CMD" timed out after 1s`.
 */
async function execProbe(cmd: string[], t: Target, runtime: CriRuntime, timeoutS: number): Promise<ProbeOutcome> {
  try {
    const r = await runtime.execSync(t.containerId, { cmd, timeout: timeoutS });
    const output = Buffer.concat([r.stdout, r.stderr]).subarray(0, MAX_OUTPUT).toString();
    return { ok: r.exitCode === 0, output };
  } catch (e) {
    if (e instanceof CriError && e.code === 'DeadlineExceeded') {
      return { ok: false, output: `command timed out: ${goQuote(cmd.join(' '))} timed out after ${goDuration(timeoutS)}` };
    }
    // Any other runtime error as grpc-go prints it.
    if (e instanceof CriError) throw new ProbeError(`rpc error: code = ${e.code === 'Cancelled' ? 'Canceled' : e.code} desc = ${e.details}`);
    throw e;
  }
}

/** One probe attempt; never throws. */
export async function runProbe(probe: any, t: Target, runtime: CriRuntime): Promise<ProbeOutcome> {
  const timeoutS = probe.timeoutSeconds ?? 1;
  try {
    if (probe.exec) return await execProbe(probe.exec.command ?? [], t, runtime, timeoutS);
    if (probe.httpGet) {
      const g = probe.httpGet;
      const port = resolvePort(t.container, g.port);
      const host = g.host || t.host;
      const scheme = (g.scheme ?? 'HTTP').toLowerCase();
      const url = new URL(`${scheme}://${joinHostPort(host, port)}${g.path || '/'}`);
      const headers: Record<string, string> = { 'User-Agent': USER_AGENT, Accept: '*/*' };
      for (const h of g.httpHeaders ?? []) {
        for (const k of Object.keys(headers)) if (k.toLowerCase() === String(h.name).toLowerCase()) delete headers[k];
        headers[h.name] = h.value;
      }
      return await httpProbe(url, headers, timeoutS);
    }
    if (probe.tcpSocket) {
      const port = resolvePort(t.container, probe.tcpSocket.port);
      return await tcpProbe(probe.tcpSocket.host || t.host, port, timeoutS);
    }
    if (probe.grpc) {
      return await grpcProbe({ host: t.host, port: Number(probe.grpc.port), service: probe.grpc.service ?? '', timeoutSeconds: timeoutS, userAgent: USER_AGENT });
    }
    return { ok: false, errored: true, output: 'missing probe handler' };
  } catch (e) {
    if (e instanceof ProbeError) return { ok: false, errored: true, output: e.message };
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
      if (r.errored) {
        // Reported, then thrown away: the counters and the state stay as they were.
        this.#opts.event('Unhealthy', `${LABEL[kind]} probe errored and resulted in unknown state: ${r.output}`);
        await sleep(period, signal);
        continue;
      }
      if (r.ok) {
        successes++;
        failures = 0;
        if (r.warning) this.#opts.event('ProbeWarning', `${LABEL[kind]} probe warning: ${r.output}`);
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
