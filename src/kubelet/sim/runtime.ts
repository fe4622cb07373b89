// The simulated container runtime: what would happen to a pod's containers if they
// ran, without processes. Each pod is a small state machine over time: sandbox, init
// containers one after the other (sidecars, i.e. restartable init containers, keep
// running), then the app containers, which run until an annotation says they exit;
// exits follow the pod's restartPolicy with the kubelet's crash-loop back-off; deletion
// stops them. Timing comes from annotations under sim.skiff.dev (see SIM_ANNOTATIONS),
// re-read on every sync so a test can change a running pod's fate.
//
// `advance(now)` applies every event due by `now`; `statuses(now)` reports containers
// as the CRI would; `nextEventAt()` says when to look again. Deterministic given the
// times passed in, so tests drive it with a fake clock.

import { createHash, randomBytes } from 'node:crypto';
import type { KObject } from '../../api/object.ts';
import type { ContainerState, ContainerStatus } from '../podstatus.ts';
import { isRestartableInitContainer } from '../podstatus.ts';
import { rfc3339 } from '../nodestatus.ts';

export const SIM_ANNOTATIONS = {
  /** Seconds each app container runs before it exits (default: runs until deleted). */
  runSeconds: 'sim.skiff.dev/run-seconds',
  /** Exit code of app containers when they exit (default 0). */
  exitCode: 'sim.skiff.dev/exit-code',
  /** Seconds each (non-sidecar) init container runs; it exits 0 (default 0). */
  initSeconds: 'sim.skiff.dev/init-seconds',
  /** Seconds between the kubelet accepting the pod and its sandbox being up: ContainerCreating (default 0). */
  startSeconds: 'sim.skiff.dev/start-seconds',
  /** Seconds after a container starts before it is ready (default: 0, or its readinessProbe's initialDelaySeconds). */
  readySeconds: 'sim.skiff.dev/ready-seconds',
  /** Seconds containers take to exit after SIGTERM on deletion (default: they ignore it and are killed when the grace period ends). */
  stopSeconds: 'sim.skiff.dev/stop-seconds',
} as const;

/** The crash-loop back-off of the kubelet: 10 s doubling to 5 minutes, reset after 10 minutes of running. */
export const BACKOFF_INITIAL_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;

export interface SimPodOptions {
  runMs?: number;
  exitCode: number;
  initMs: number;
  startMs: number;
  /** Explicit ready delay for every container, else each container's probe decides. */
  readyMs?: number;
  stopMs?: number;
}

function seconds(v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n * 1000 : undefined;
}

/** The pod's simulation options from its annotations; values that do not parse are ignored. */
export function simPodOptions(pod: KObject): SimPodOptions {
  const a = pod.metadata.annotations ?? {};
  const code = Number(a[SIM_ANNOTATIONS.exitCode]);
  return {
    runMs: seconds(a[SIM_ANNOTATIONS.runSeconds]),
    exitCode: Number.isInteger(code) && code >= 0 && code <= 255 ? code : 0,
    initMs: seconds(a[SIM_ANNOTATIONS.initSeconds]) ?? 0,
    startMs: seconds(a[SIM_ANNOTATIONS.startSeconds]) ?? 0,
    readyMs: seconds(a[SIM_ANNOTATIONS.readySeconds]),
    stopMs: seconds(a[SIM_ANNOTATIONS.stopSeconds]),
  };
}

/** A reference as containerd reports it: docker.io/library/nginx:latest for `nginx`. */
export function normalizeImage(image: string): string {
  let ref = image.trim();
  const slash = ref.indexOf('/');
  const first = slash < 0 ? '' : ref.slice(0, slash);
  const hasDomain = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasDomain) ref = slash < 0 ? `docker.io/library/${ref}` : `docker.io/${ref}`;
  const lastSlash = ref.lastIndexOf('/');
  const tail = ref.slice(lastSlash + 1);
  if (!tail.includes(':') && !tail.includes('@')) ref += ':latest';
  return ref;
}

/** A synthetic image ID: the repository with a digest derived from the reference (no image is pulled). */
export function simImageID(image: string): string {
  const ref = normalizeImage(image);
  const at = ref.indexOf('@');
  if (at >= 0) return ref;
  const repo = ref.slice(0, ref.lastIndexOf(':') > ref.lastIndexOf('/') ? ref.lastIndexOf(':') : ref.length);
  return `${repo}@sha256:${createHash('sha256').update(ref).digest('hex')}`;
}

export function newContainerID(): string {
  return `sim://${randomBytes(32).toString('hex')}`;
}

interface Terminated {
  exitCode: number;
  reason: string;
  startedAt: number;
  finishedAt: number;
  containerID: string;
}

interface SimContainer {
  name: string;
  image: string;
  imageID: string;
  init: boolean;
  sidecar: boolean;
  probeDelayMs: number;
  restartCount: number;
  containerID?: string;
  startedAt?: number;
  exitAt: number;
  terminated?: Terminated;
  last?: Terminated;
  /** In crash-loop back-off until then. */
  restartAt?: number;
  backoffMs: number;
}

export interface SimStatuses {
  sandboxReady: boolean;
  podIsTerminal: boolean;
  initContainerStatuses: ContainerStatus[];
  containerStatuses: ContainerStatus[];
}

function containerFor(c: any, init: boolean): SimContainer {
  return {
    name: c.name,
    image: normalizeImage(String(c.image ?? '')),
    imageID: simImageID(String(c.image ?? '')),
    init,
    sidecar: init && isRestartableInitContainer(c),
    probeDelayMs: c.readinessProbe ? (c.readinessProbe.initialDelaySeconds ?? 0) * 1000 : 0,
    restartCount: 0,
    exitAt: Infinity,
    backoffMs: 0,
  };
}

const parseTime = (s: unknown): number | undefined => {
  if (typeof s !== 'string') return undefined;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : t;
};

export class SimPodRuntime {
  readonly uid: string;
  readonly acceptedAt: number;
  private readonly namespace: string;
  private readonly name: string;
  private readonly restartPolicy: string;
  private opts: SimPodOptions;
  private sandboxAt: number;
  private sandboxReady = false;
  private readonly init: SimContainer[];
  private readonly main: SimContainer[];
  private killAt?: number;
  private killExitCode = 137;
  /** Stopped for good: completed, failed, or killed for deletion. */
  terminal = false;
  private cursor: number;
  private readonly newID: () => string;

  /**
   * `pod` as first seen; a pod that already has container statuses (the kubelet restarted)
   * is adopted: running containers keep their IDs, start times and restart counts.
   */
  constructor(pod: KObject, now: number, opts: { newID?: () => string } = {}) {
    this.uid = pod.metadata.uid ?? '';
    this.namespace = pod.metadata.namespace ?? 'default';
    this.name = pod.metadata.name ?? '';
    this.restartPolicy = pod.spec?.restartPolicy ?? 'Always';
    this.newID = opts.newID ?? newContainerID;
    this.opts = simPodOptions(pod);
    this.init = (pod.spec?.initContainers ?? []).map((c: any) => containerFor(c, true));
    this.main = (pod.spec?.containers ?? []).map((c: any) => containerFor(c, false));
    const st = pod.status ?? {};
    const adopted = this.adopt(st.initContainerStatuses, this.init) + this.adopt(st.containerStatuses, this.main);
    this.acceptedAt = parseTime(st.startTime) ?? now;
    this.sandboxAt = adopted > 0 ? this.acceptedAt : now + this.opts.startMs;
    this.cursor = Math.min(now, this.sandboxAt);
    if (st.phase === 'Succeeded' || st.phase === 'Failed') this.terminal = true;
    this.refreshExits();
  }

  private adopt(statuses: ContainerStatus[] | undefined, into: SimContainer[]): number {
    let n = 0;
    for (const s of statuses ?? []) {
      const c = into.find((x) => x.name === s.name);
      if (!c) continue;
      const term = (t: ContainerState['terminated']): Terminated | undefined =>
        t
          ? {
              exitCode: t.exitCode,
              reason: t.reason ?? (t.exitCode === 0 ? 'Completed' : 'Error'),
              startedAt: parseTime(t.startedAt) ?? 0,
              finishedAt: parseTime(t.finishedAt) ?? 0,
              containerID: t.containerID ?? '',
            }
          : undefined;
      c.restartCount = s.restartCount ?? 0;
      c.last = term(s.lastState?.terminated);
      if (s.state?.running) {
        c.containerID = s.containerID ?? this.newID();
        c.startedAt = parseTime(s.state.running.startedAt) ?? 0;
        n++;
      } else if (s.state?.terminated) {
        c.terminated = term(s.state.terminated);
        n++;
      } else if (c.last) {
        c.restartAt = 0;
        n++;
      }
    }
    return n;
  }

  /** Re-reads the pod's annotations: a changed run-seconds moves the exit of running containers. */
  update(pod: KObject): void {
    this.opts = simPodOptions(pod);
    this.refreshExits();
  }

  private refreshExits(): void {
    for (const c of this.main) {
      if (c.startedAt !== undefined && !c.terminated) c.exitAt = this.opts.runMs === undefined ? Infinity : c.startedAt + this.opts.runMs;
    }
    for (const c of this.init) {
      if (!c.sidecar && c.startedAt !== undefined && !c.terminated) c.exitAt = c.startedAt + this.opts.initMs;
    }
  }

  /**
   * Deletion: containers get SIGTERM at `requestedAt` and are killed when the grace period
   * ends, unless stop-seconds says they exit (0) sooner. Idempotent.
   */
  requestStop(requestedAt: number, gracePeriodMs: number): void {
    if (this.terminal || this.killAt !== undefined) return;
    const stop = this.opts.stopMs;
    if (stop !== undefined && stop < gracePeriodMs) {
      this.killAt = requestedAt + stop;
      this.killExitCode = 0;
    } else {
      this.killAt = requestedAt + gracePeriodMs;
      this.killExitCode = 137;
    }
  }

  /** Applies every event due by `now`. */
  advance(now: number): void {
    this.settle(this.cursor);
    for (let guard = 0; guard < 10_000; guard++) {
      const t = this.nextInternalEvent();
      if (t > now) break;
      this.cursor = Math.max(this.cursor, t);
      this.applyTimed(this.cursor);
      this.settle(this.cursor);
    }
    this.cursor = Math.max(this.cursor, now);
  }

  /** The earliest future time the pod's status changes (Infinity: nothing planned). */
  nextEventAt(now: number): number {
    let t = this.nextInternalEvent();
    // Readiness changes nothing inside the runtime but changes the status.
    if (!this.terminal) {
      for (const c of [...this.init, ...this.main]) {
        if (c.startedAt === undefined || c.terminated || (c.init && !c.sidecar)) continue;
        const readyAt = c.startedAt + this.readyDelay(c);
        if (readyAt > now && readyAt < t) t = readyAt;
      }
    }
    return t;
  }

  private readyDelay(c: SimContainer): number {
    return this.opts.readyMs ?? c.probeDelayMs;
  }

  private nextInternalEvent(): number {
    let t = Infinity;
    if (this.terminal) return t;
    if (!this.sandboxReady) t = Math.min(t, this.sandboxAt);
    if (this.killAt !== undefined) t = Math.min(t, this.killAt);
    for (const c of [...this.init, ...this.main]) {
      if (c.startedAt !== undefined && !c.terminated) t = Math.min(t, c.exitAt);
      if (c.restartAt !== undefined) t = Math.min(t, c.restartAt);
    }
    return t;
  }

  private start(c: SimContainer, t: number): void {
    if (c.terminated) c.last = c.terminated;
    c.terminated = undefined;
    c.restartAt = undefined;
    c.containerID = this.newID();
    c.startedAt = t;
    c.exitAt = c.init ? (c.sidecar ? Infinity : t + this.opts.initMs) : this.opts.runMs === undefined ? Infinity : t + this.opts.runMs;
  }

  private stop(c: SimContainer, t: number, exitCode: number): void {
    c.terminated = {
      exitCode,
      reason: exitCode === 0 ? 'Completed' : 'Error',
      startedAt: c.startedAt ?? t,
      finishedAt: t,
      containerID: c.containerID ?? '',
    };
    c.startedAt = undefined;
    c.exitAt = Infinity;
  }

  /** Whether an exited container is started again under the pod's restartPolicy. */
  private restarts(c: SimContainer, exitCode: number): boolean {
    if (c.sidecar) return true;
    if (c.init) return exitCode !== 0 && this.restartPolicy !== 'Never';
    if (this.restartPolicy === 'Always') return true;
    return this.restartPolicy === 'OnFailure' && exitCode !== 0;
  }

  private scheduleRestart(c: SimContainer, t: number): void {
    const ran = c.terminated ? c.terminated.finishedAt - c.terminated.startedAt : 0;
    if (ran >= 2 * BACKOFF_MAX_MS) c.backoffMs = 0;
    // The first restart is immediate; later ones wait, doubling.
    c.restartAt = t + c.backoffMs;
    c.backoffMs = c.backoffMs === 0 ? BACKOFF_INITIAL_MS : Math.min(2 * c.backoffMs, BACKOFF_MAX_MS);
  }

  private applyTimed(t: number): void {
    if (!this.sandboxReady && this.sandboxAt <= t) this.sandboxReady = true;
    if (this.killAt !== undefined && this.killAt <= t) {
      for (const c of [...this.init, ...this.main]) {
        if (c.startedAt !== undefined && !c.terminated) this.stop(c, t, this.killExitCode);
        c.restartAt = undefined;
      }
      this.terminal = true;
      this.sandboxReady = false;
      return;
    }
    for (const c of [...this.init, ...this.main]) {
      if (c.startedAt !== undefined && !c.terminated && c.exitAt <= t) {
        const code = c.init ? 0 : this.opts.exitCode;
        this.stop(c, t, code);
        if (this.restarts(c, code)) this.scheduleRestart(c, t);
      }
    }
    for (const c of [...this.init, ...this.main]) {
      if (c.restartAt !== undefined && c.restartAt <= t) {
        c.restartCount++;
        this.start(c, t);
      }
    }
  }

  /** Starts whatever may start at `t` (no time passes). */
  private settle(t: number): void {
    if (this.terminal || !this.sandboxReady) return;
    // Init containers in order: a regular one must have exited 0, a sidecar must have started.
    let initDone = true;
    for (const c of this.init) {
      const done = c.sidecar ? c.startedAt !== undefined || c.restartAt !== undefined || c.restartCount > 0 : c.terminated?.exitCode === 0;
      if (done) continue;
      if (c.startedAt === undefined && c.restartAt === undefined && !c.terminated) this.start(c, t);
      initDone = c.sidecar && c.startedAt !== undefined;
      if (!initDone) break;
    }
    if (this.init.some((c) => !c.sidecar && c.terminated && c.terminated.exitCode !== 0 && c.restartAt === undefined)) {
      // An init container failed and will not be retried (restartPolicy Never): the pod failed.
      this.finish(t);
      return;
    }
    if (!initDone) return;
    for (const c of this.main) {
      if (c.startedAt === undefined && c.restartAt === undefined && !c.terminated && c.restartCount === 0 && !c.last) this.start(c, t);
    }
    // App containers all done for good: sidecars are stopped and the pod is finished.
    if (this.main.length > 0 && this.main.every((c) => c.terminated && c.restartAt === undefined)) this.finish(t);
  }

  private finish(t: number): void {
    for (const c of this.init) {
      if (c.sidecar && c.startedAt !== undefined && !c.terminated) this.stop(c, t, 0);
      c.restartAt = undefined;
    }
    this.terminal = true;
    this.sandboxReady = false;
  }

  /** Container statuses as the CRI would report them at `now` (after advance(now)). */
  statuses(now: number): SimStatuses {
    const initsRunning = this.init.some((c) => !c.sidecar && !(c.terminated?.exitCode === 0));
    return {
      sandboxReady: this.sandboxReady,
      podIsTerminal: this.terminal,
      initContainerStatuses: this.init.map((c) => this.status(c, now, 'PodInitializing')),
      containerStatuses: this.main.map((c) => this.status(c, now, this.sandboxReady && initsRunning ? 'PodInitializing' : 'ContainerCreating')),
    };
  }

  private status(c: SimContainer, now: number, waitingReason: string): ContainerStatus {
    const term = (t: Terminated): ContainerState => ({
      terminated: {
        exitCode: t.exitCode,
        reason: t.reason,
        startedAt: rfc3339(t.startedAt),
        finishedAt: rfc3339(t.finishedAt),
        containerID: t.containerID,
      },
    });
    const s: ContainerStatus = {
      name: c.name,
      state: {},
      lastState: c.last ? term(c.last) : {},
      ready: false,
      restartCount: c.restartCount,
      image: c.image,
      imageID: '',
      started: false,
    };
    if (c.startedAt !== undefined && !c.terminated) {
      s.state = { running: { startedAt: rfc3339(c.startedAt) } };
      s.imageID = c.imageID;
      s.containerID = c.containerID;
      s.started = true;
      s.ready = (!c.init || c.sidecar) && !this.terminal && now >= c.startedAt + this.readyDelay(c);
    } else if (c.restartAt !== undefined) {
      // In back-off: the run that just ended is the last state.
      const ended = c.terminated ?? c.last;
      const back = Math.round((c.restartAt - (ended?.finishedAt ?? c.restartAt)) / 1000);
      s.state = {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${back}s restarting failed container=${c.name} pod=${this.name}_${this.namespace}(${this.uid})`,
        },
      };
      if (ended) s.lastState = term(ended);
      s.imageID = c.imageID;
      s.containerID = ended?.containerID;
    } else if (c.terminated) {
      s.state = term(c.terminated);
      s.imageID = c.imageID;
      s.containerID = c.terminated.containerID;
      // A regular init container that exited 0 counts as ready (it did its job).
      s.ready = c.init && !c.sidecar && c.terminated.exitCode === 0;
    } else {
      s.state = { waiting: { reason: waitingReason } };
    }
    if (s.containerID === undefined) delete s.containerID;
    return s;
  }
}
