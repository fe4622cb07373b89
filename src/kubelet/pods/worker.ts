// One pod's sync loop (upstream's pod worker + kuberuntime SyncPod), level-triggered:
// every pass recomputes what must run from the pod spec and what the runtime reports
// (sandbox, containers by their io.kubernetes.* labels), does the next step (sandbox,
// image, init container, sidecars, app containers, restarts with back-off, kills) and
// writes the pod status when it changed. A kubelet restart builds the same view from the
// runtime, so running containers are adopted, never restarted.

import { readFileSync, mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { KObject } from '../../api/object.ts';
import type { EventRecorder, ObjectReference } from '../../client/events.ts';
import type { Logger } from '../../client/util.ts';
import type { ContainerStatus as CriContainerStatus, CriRuntime, Container as CriContainer, DNSConfig, Input, Mount, PodSandboxConfig, LinuxContainerResources } from '../cri/types.ts';
import { CriError, isNotFound } from '../cri/types.ts';
import { generatePodStatus, isRestartableInitContainer, type ContainerState, type ContainerStatus } from '../podstatus.ts';
import { rfc3339 } from '../nodestatus.ts';
import { PodProber } from '../probes/prober.ts';
import type { PodRuntimeView } from './relist.ts';
import { containerEnv, expand, type DataSource } from './env.ts';
import * as L from './labels.ts';
import { parseQuantity } from '../../api/validation/quantity.ts';

export const INITIAL_BACKOFF_MS = 10_000;
export const MAX_BACKOFF_MS = 300_000;
const RESYNC_MS = 1000;
/** Runtime calls that change what the runtime reports: a view taken before one ended is stale. */
const MUTATING = new Set(['runPodSandbox', 'stopPodSandbox', 'removePodSandbox', 'createContainer', 'startContainer', 'stopContainer', 'removeContainer', 'execSync']);
const MAX_TERMINATION_MESSAGE = 4096;
const DEADLINE_MESSAGE = 'Pod was active on the node longer than the specified deadline';

export interface PodWorkerContext {
  runtime: CriRuntime;
  nodeName: string;
  hostIP: string;
  /** Kubelet root: pod logs and termination-message files live under it. */
  rootDir: string;
  /** Pods get their own network namespace (CNI configured in the runtime); otherwise every pod uses the node's network. */
  podNetwork: boolean;
  cgroupParent: (uid: string) => string | undefined;
  clusterDNS: string[];
  clusterDomain: string;
  recorder: EventRecorder;
  data: DataSource;
  /** Services for service-link variables: the namespace's and default/kubernetes (none when absent). */
  services?: (namespace: string) => Promise<KObject[]>;
  nodeAllocatable: Record<string, string>;
  /** Volume mounts per container name (the volume manager's); none when absent. */
  mountPod?: (pod: KObject) => Promise<Map<string, Input<Mount>[]>>;
  /** Unmounts and removes the pod's volumes once its sandboxes are gone. */
  unmountPod?: (uid: string) => Promise<void>;
  /**
   * The node-wide relist's view of a pod's sandboxes and containers, taken after `since`
   * (performance.now() time); undefined when there is none that fresh (pods/relist.ts).
   * Absent: every sync pass lists for itself.
   */
  runtimeSnapshot?: (uid: string, since: number) => PodRuntimeView | undefined;
  /** Writes `status` for `pod` (pods/status); the caller handles conflicts. */
  writeStatus: (pod: KObject, status: Record<string, any>) => Promise<void>;
  /** Removes the pod from the API once it is stopped (grace 0, uid precondition). */
  deletePod: (pod: KObject) => Promise<void>;
  initialBackoffMs?: number;
  log: Logger;
}

/** Go's time.Duration String for whole seconds: 10s, 1m20s, 5m0s. */
export function goDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60}s`;
  return `${Math.floor(m / 60)}h${m % 60}m${s % 60}s`;
}

function podDesc(pod: KObject): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
}

function nsToRfc(ns: number): string | undefined {
  return ns > 0 ? rfc3339(ns / 1e6) : undefined;
}

export function defaultPullPolicy(image: string): string {
  const last = image.split('/').pop() ?? '';
  if (last.includes('@')) return 'IfNotPresent';
  const tag = last.includes(':') ? last.slice(last.lastIndexOf(':') + 1) : 'latest';
  return tag === 'latest' ? 'Always' : 'IfNotPresent';
}

/** Host resolv.conf (dnsPolicy Default). */
function hostResolv(): { servers: string[]; searches: string[]; options: string[] } {
  const out = { servers: [] as string[], searches: [] as string[], options: [] as string[] };
  let text = '';
  try {
    text = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n')) {
    const f = line.replace(/[#;].*$/, '').trim().split(/\s+/);
    if (f[0] === 'nameserver' && f[1]) out.servers.push(f[1]);
    else if (f[0] === 'search' || f[0] === 'domain') out.searches = f.slice(1);
    else if (f[0] === 'options') out.options.push(...f.slice(1));
  }
  return out;
}

/** The sandbox's DNS config from dnsPolicy and dnsConfig, as upstream's dns configurer. */
export function podDNSConfig(pod: KObject, opts: { clusterDNS: string[]; clusterDomain: string }): Input<DNSConfig> {
  const spec = pod.spec ?? {};
  let policy: string = spec.dnsPolicy ?? 'ClusterFirst';
  if (policy === 'ClusterFirst' && spec.hostNetwork) policy = 'Default';
  if (policy === 'ClusterFirstWithHostNet') policy = 'ClusterFirst';
  if (policy === 'ClusterFirst' && opts.clusterDNS.length === 0) policy = 'Default';
  let cfg: { servers: string[]; searches: string[]; options: string[] };
  if (policy === 'None') cfg = { servers: [], searches: [], options: [] };
  else if (policy === 'Default') cfg = hostResolv();
  else {
    const d = opts.clusterDomain;
    const ns = pod.metadata?.namespace ?? 'default';
    cfg = { servers: [...opts.clusterDNS], searches: [`${ns}.svc.${d}`, `svc.${d}`, d, ...hostResolv().searches], options: ['ndots:5'] };
  }
  const extra = spec.dnsConfig;
  if (extra) {
    cfg.servers.push(...(extra.nameservers ?? []));
    cfg.searches.push(...(extra.searches ?? []));
    const opts = new Map(cfg.options.map((o) => [o.split(':')[0], o]));
    for (const o of extra.options ?? []) opts.set(o.name, o.value !== undefined ? `${o.name}:${o.value}` : o.name);
    cfg.options = [...opts.values()];
  }
  cfg.searches = [...new Set(cfg.searches)].slice(0, 32);
  return cfg;
}

function milli(v: unknown): bigint | undefined {
  if (v === undefined) return undefined;
  const q = parseQuantity(String(v));
  return typeof q === 'string' ? undefined : q.milliValue();
}

/** requests/limits → LinuxContainerResources (upstream's cpu shares/quota conversions). */
export function linuxResources(c: any): Input<LinuxContainerResources> {
  const out: Input<LinuxContainerResources> = {};
  const req = milli(c.resources?.requests?.cpu) ?? milli(c.resources?.limits?.cpu);
  out.cpuShares = req === undefined ? 2 : Math.max(2, Number((req * 1024n) / 1000n));
  const lim = milli(c.resources?.limits?.cpu);
  if (lim !== undefined && lim > 0n) {
    out.cpuPeriod = 100_000;
    out.cpuQuota = Math.max(1000, Number((lim * 100_000n) / 1000n));
  }
  const mem = c.resources?.limits?.memory;
  if (mem !== undefined) {
    const q = parseQuantity(String(mem));
    if (typeof q !== 'string') out.memoryLimitInBytes = Number(q.value());
  }
  return out;
}

interface Backoff {
  delayMs: number;
  lastStart: number;
  announced?: number;
  /** Image pulls: `ErrImagePull: <error>` of the failed pull, for the back-off's waiting message (upstream 1.32). */
  lastError?: string;
}

/** A runtime error as the kubelet prints a gRPC status error (Go's `rpc error: code = NotFound desc = ...`). */
export function runtimeErrorText(e: unknown): string {
  if (!(e instanceof CriError)) return (e as Error)?.message ?? String(e);
  return `rpc error: code = ${e.code === 'Cancelled' ? 'Canceled' : e.code} desc = ${e.details}`;
}

interface Observed {
  sandboxes: { id: string; ready: boolean; attempt: number; createdAt: number }[];
  /** Per container name, newest attempt first. */
  containers: Map<string, CriContainer[]>;
}

export class PodWorker {
  pod: KObject;
  readonly uid: string;
  readonly #ctx: PodWorkerContext;
  /** ctx.runtime, noting when this worker changes the runtime (#lastMutation, #mutating). */
  readonly #rt: CriRuntime;
  #mutating = 0;
  #lastMutation = -Infinity;
  readonly #prober: PodProber;
  #removed = false;
  #kick: (() => void) | undefined;
  #kicked = false;
  readonly #backoff = new Map<string, Backoff>();
  readonly #pullBackoff = new Map<string, Backoff>();
  /** Waiting reasons of containers that could not be started (image, config). */
  readonly #waiting = new Map<string, { reason: string; message?: string }>();
  /** ContainerStatus by container id: kept while the runtime's list shows the same state (an exited one never changes). */
  readonly #statusCache = new Map<string, CriContainerStatus>();
  /** Per sandbox id (it never changes for a sandbox's life): its attempt and its IP (undefined: none). */
  readonly #sandboxInfo = new Map<string, { attempt: number; ip?: string }>();
  readonly #killing = new Set<string>();
  #startTime: string | undefined;
  #done = false;
  #lastWritten = '';
  /** Completed sync passes (tests and metrics read it). */
  syncs = 0;
  /** From the last look at the runtime (the kubelet's API reads them): the ready sandbox, the newest attempt of each container. */
  sandboxId: string | undefined;
  readonly containerIds = new Map<string, string>();

  constructor(ctx: PodWorkerContext, pod: KObject) {
    this.#ctx = ctx;
    this.#rt = new Proxy(ctx.runtime, {
      get: (target, key, receiver) => {
        const v = Reflect.get(target, key, receiver);
        if (typeof v !== 'function') return v;
        if (typeof key !== 'string' || !MUTATING.has(key)) return v.bind(target);
        return async (...args: unknown[]) => {
          this.#mutating++;
          try {
            return await v.apply(target, args);
          } finally {
            this.#mutating--;
            this.#lastMutation = performance.now();
          }
        };
      },
    });
    this.pod = pod;
    this.uid = pod.metadata.uid ?? '';
    this.#startTime = pod.status?.startTime;
    this.#prober = new PodProber({
      runtime: ctx.runtime,
      onChange: () => this.kick(),
      event: (reason, message) => ctx.recorder.event(this.#ref(), 'Warning', reason, message),
    });
  }

  get done(): boolean {
    return this.#done;
  }

  update(pod: KObject): void {
    this.pod = pod;
    this.kick();
  }

  /** The pod is gone from the API (or its static manifest removed): stop everything. */
  remove(): void {
    this.#removed = true;
    this.kick();
  }

  kick(): void {
    this.#kicked = true;
    this.#kick?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !this.#done) {
      this.#kicked = false;
      try {
        await this.#sync(signal);
        this.syncs++;
      } catch (e) {
        if (signal.aborted) break;
        this.#ctx.log('pod sync failed', { pod: podDesc(this.pod), error: (e as Error).message });
      }
      if (this.#done || signal.aborted) break;
      if (this.#kicked) continue;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, RESYNC_MS);
        function done() {
          clearTimeout(t);
          signal.removeEventListener('abort', done);
          resolve();
        }
        this.#kick = done;
        signal.addEventListener('abort', done, { once: true });
      });
      this.#kick = undefined;
    }
    this.#prober.stopAll();
  }

  #ref(container?: string, init = false): ObjectReference {
    const r: ObjectReference = { kind: 'Pod', apiVersion: 'v1', namespace: this.pod.metadata.namespace, name: this.pod.metadata.name, uid: this.pod.metadata.uid };
    if (container) r.fieldPath = `spec.${init ? 'initContainers' : 'containers'}{${container}}`;
    return r;
  }

  #event(container: string | undefined, init: boolean, type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.#ctx.recorder.event(this.#ref(container, init), type, reason, message);
  }

  sandboxConfig(attempt: number): Input<PodSandboxConfig> {
    const pod = this.pod;
    const { name, namespace, uid } = pod.metadata;
    const hostNetwork = !!pod.spec?.hostNetwork || !this.#ctx.podNetwork;
    const logDirectory = path.join(this.#ctx.rootDir, 'pods', `${namespace}_${name}_${uid}`);
    return {
      metadata: { name, namespace, uid, attempt },
      // with the node's network the UTS namespace is the node's too: no hostname of its own
      hostname: hostNetwork ? undefined : String(pod.spec?.hostname ?? name).slice(0, 63),
      logDirectory,
      dnsConfig: podDNSConfig(pod, this.#ctx),
      labels: { [L.POD_NAME]: name, [L.POD_NAMESPACE]: namespace, [L.POD_UID]: uid, [L.SKIFF_NODE]: this.#ctx.nodeName },
      annotations: { [L.CONFIG_SOURCE]: pod.metadata.annotations?.[L.CONFIG_SOURCE] ?? 'api', ...(pod.metadata.annotations ?? {}) },
      linux: {
        cgroupParent: this.#ctx.cgroupParent(uid ?? ''),
        securityContext: {
          namespaceOptions: {
            network: hostNetwork ? 'NODE' : 'POD',
            pid: pod.spec?.hostPID ? 'NODE' : pod.spec?.shareProcessNamespace ? 'POD' : 'CONTAINER',
            ipc: pod.spec?.hostIPC ? 'NODE' : 'POD',
          },
          // as upstream: the sandbox is privileged when any container is (containerd refuses a privileged container otherwise)
          privileged: [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].some((c: any) => !!c.securityContext?.privileged),
        },
      },
    };
  }

  /** What the runtime has for this pod: the node's relist when it is newer than this worker's last change (and `fresh` is not asked), else listed now. */
  async #observe(opts: { fresh?: boolean } = {}): Promise<Observed> {
    const rt = this.#rt;
    const view = opts.fresh || this.#mutating > 0 ? undefined : this.#ctx.runtimeSnapshot?.(this.uid, this.#lastMutation);
    const [sbs, cs] = view ? [view.sandboxes, view.containers] : await Promise.all([
      rt.listPodSandbox({ labelSelector: { [L.POD_UID]: this.uid } }),
      rt.listContainers({ labelSelector: { [L.POD_UID]: this.uid } }),
    ]);
    const containers = new Map<string, CriContainer[]>();
    for (const c of cs) {
      const n = c.labels[L.CONTAINER_NAME] ?? c.metadata?.name ?? '';
      if (!containers.has(n)) containers.set(n, []);
      containers.get(n)!.push(c);
    }
    for (const list of containers.values()) list.sort((a, b) => (b.metadata?.attempt ?? 0) - (a.metadata?.attempt ?? 0) || b.createdAt - a.createdAt);
    const sandboxes = sbs
      .map((s) => ({ id: s.id, ready: s.state === 'SANDBOX_READY', attempt: s.metadata?.attempt ?? 0, createdAt: s.createdAt }))
      .sort((a, b) => b.createdAt - a.createdAt);
    this.sandboxId = sandboxes.find((s) => s.ready)?.id;
    for (const id of this.#sandboxInfo.keys()) if (!sandboxes.some((s) => s.id === id)) this.#sandboxInfo.delete(id);
    this.containerIds.clear();
    for (const [n, list] of containers) if (list[0]) this.containerIds.set(n, list[0].id);
    return { sandboxes, containers };
  }

  /**
   * The runtime's status of a container. Cached: an exited container's for good, any other
   * while the runtime's list (`listState`, from this pass's #observe) still shows the state
   * it had, so a running container costs no ContainerStatus call per sync pass.
   */
  async #criStatus(id: string, listState?: string): Promise<CriContainerStatus | undefined> {
    const cached = this.#statusCache.get(id);
    if (cached && (cached.state === 'CONTAINER_EXITED' || cached.state === listState)) return cached;
    try {
      const s = (await this.#rt.containerStatus(id)).status;
      if (s) this.#statusCache.set(id, s);
      return s;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  #deadlineExceeded = false;
  /** The current sandbox's IP: the downward API's status.podIP before the status carrying it is written (upstream takes it from the sandbox too). */
  #podIP: string | undefined;
  /** Containers started by this worker (a pass that started one reports it at once). */
  #starts = 0;

  /** Set once the pod finished for good: it never runs again (the informer may lag behind our status write). */
  #finished = false;

  #terminal(): boolean {
    const phase = this.pod.status?.phase;
    return this.#finished || phase === 'Succeeded' || phase === 'Failed';
  }

  /** The object our status goes to changed (a recreated mirror pod): write it again. */
  statusTargetChanged(): void {
    this.#lastWritten = '';
    this.kick();
  }

  async #sync(signal: AbortSignal): Promise<void> {
    const deleting = this.#removed || !!this.pod.metadata.deletionTimestamp;
    if (deleting) return await this.#terminate(signal);
    this.#startTime ??= this.pod.status?.startTime ?? rfc3339(Date.now());
    let obs = await this.#observe();
    let terminal = this.#terminal();
    let sandbox = obs.sandboxes.find((s) => s.ready);
    if (!terminal && !sandbox) {
      const attempt = obs.sandboxes.length ? Math.max(...obs.sandboxes.map((s) => s.attempt)) + 1 : 0;
      if (obs.sandboxes.length) this.#event(undefined, false, 'Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
      const cfg = this.sandboxConfig(attempt);
      mkdirSync(cfg.logDirectory!, { recursive: true });
      let id: string;
      try {
        id = await this.#rt.runPodSandbox(cfg, { signal });
      } catch (e) {
        this.#event(undefined, false, 'Warning', 'FailedCreatePodSandBox', `Failed to create pod sandbox: ${(e as Error).message}`);
        throw e;
      }
      // RunPodSandbox returns once the sandbox is ready: no need to list again (pod startup latency)
      sandbox = { id, ready: true, attempt, createdAt: Date.now() * 1e6 };
      obs.sandboxes.unshift(sandbox);
      this.sandboxId = id;
    }
    let podIP: string | undefined;
    if (sandbox) {
      let info = this.#sandboxInfo.get(sandbox.id);
      if (!info) {
        const st = await this.#rt.podSandboxStatus(sandbox.id);
        const ip = st.status?.network?.ip || (st.status?.linux?.namespaces?.options?.network === 'NODE' ? this.#ctx.hostIP : undefined);
        info = { attempt: st.status?.metadata?.attempt ?? sandbox.attempt, ip };
        if (ip) this.#sandboxInfo.set(sandbox.id, info); // no IP yet: ask again next pass
      }
      podIP = info.ip;
    }
    this.#podIP = podIP;
    // probes go to the pod's IP (the node's for hostNetwork pods), as upstream's prober
    const host = podIP || '127.0.0.1';

    // Container GC (upstream's maxPerPodContainer=1 dead container beside the current one):
    // the newest two attempts stay, for state and lastState.
    for (const list of obs.containers.values()) {
      for (const old of list.slice(2)) {
        if (old.state !== 'CONTAINER_EXITED') continue;
        await this.#rt.removeContainer(old.id).catch(() => undefined);
        this.#statusCache.delete(old.id);
      }
    }

    // liveness/startup failures: kill; the restart below follows the back-off
    for (const list of obs.containers.values()) {
      const latest = list[0];
      if (latest.state !== 'CONTAINER_RUNNING' || this.#killing.has(latest.id)) continue;
      const ps = this.#prober.state(latest.id);
      if (ps?.unhealthy) {
        const name = latest.labels[L.CONTAINER_NAME];
        const init = !(this.pod.spec?.containers ?? []).some((c: any) => c.name === name);
        // upstream adds ", will be restarted" only when the restart policy restarts it
        const restarts = init ? true : (this.pod.spec?.restartPolicy ?? 'Always') !== 'Never';
        this.#event(name, init, 'Normal', 'Killing', `Container ${name} failed ${ps.unhealthy.kind} probe${restarts ? ', will be restarted' : ''}`);
        void this.#killContainer(latest, { grace: this.#graceSeconds(), announce: false }).catch((e) =>
          this.#ctx.log('killing an unhealthy container failed', { pod: podDesc(this.pod), container: name, error: (e as Error).message }));
      }
    }

    const deadline = this.pod.spec?.activeDeadlineSeconds;
    if (!terminal && typeof deadline === 'number' && Date.now() - Date.parse(this.#startTime ?? '') >= deadline * 1000) {
      this.#event(undefined, false, 'Normal', 'DeadlineExceeded', DEADLINE_MESSAGE);
      this.#deadlineExceeded = true;
      terminal = true;
    }
    const startsBefore = this.#starts;
    if (!terminal && sandbox) terminal = await this.#startContainers(sandbox.id, obs, host, signal);
    // report what was just started in this pass (pod startup latency), not a second later
    if (this.#starts !== startsBefore && !terminal) obs = await this.#observe();
    if (terminal) {
      this.#finished = true;
      for (const s of obs.sandboxes.filter((x) => x.ready)) {
        await this.#killAll(obs, this.#graceSeconds());
        await this.#rt.stopPodSandbox(s.id);
      }
      obs = await this.#observe();
      sandbox = undefined;
    }
    await this.#writeStatus(obs, { sandboxReady: !!sandbox, podIP: sandbox ? podIP : this.pod.status?.podIP, podIsTerminal: terminal, host });
  }

  #graceSeconds(): number {
    return this.pod.metadata.deletionGracePeriodSeconds ?? this.pod.spec?.terminationGracePeriodSeconds ?? 30;
  }

  /** Starts what must run next; true when the pod is finished for good (restartPolicy says no more restarts). */
  async #startContainers(sandboxId: string, obs: Observed, host: string, signal: AbortSignal): Promise<boolean> {
    const spec = this.pod.spec ?? {};
    const policy: string = spec.restartPolicy ?? 'Always';
    const running = (l?: CriContainer[]) => !!l?.[0] && (l[0].state === 'CONTAINER_RUNNING' || l[0].state === 'CONTAINER_CREATED');
    for (const c of spec.initContainers ?? []) {
      const list = obs.containers.get(c.name);
      if (isRestartableInitContainer(c)) {
        if (running(list)) {
          this.#ensureProbes(list![0], c, host);
          const ps = this.#prober.state(list![0].id);
          if (ps && !ps.started) return false;
          continue;
        }
        if (list?.[0] && !(await this.#mayRestart(c, true))) return false;
        await this.#start(c, { sandboxId, attempt: this.#nextAttempt(list), init: true, signal });
        return false;
      }
      const latest = list?.[0];
      if (!latest) {
        await this.#start(c, { sandboxId, attempt: 0, init: true, signal });
        return false;
      }
      if (running(list)) return false;
      const st = await this.#criStatus(latest.id);
      if (st && st.exitCode === 0) continue;
      if (policy === 'Never') return true;
      if (await this.#mayRestart(c, true)) await this.#start(c, { sandboxId, attempt: this.#nextAttempt(list), init: true, signal });
      return false;
    }
    let done = 0;
    for (const c of spec.containers ?? []) {
      const list = obs.containers.get(c.name);
      const latest = list?.[0];
      if (!latest) {
        await this.#start(c, { sandboxId, attempt: 0, init: false, signal });
        continue;
      }
      if (running(list)) {
        this.#ensureProbes(latest, c, host);
        continue;
      }
      if (this.#killing.has(latest.id)) continue;
      const st = await this.#criStatus(latest.id);
      const exitCode = st?.exitCode ?? 0;
      const restart = policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0);
      if (!restart) {
        done++;
        continue;
      }
      if (await this.#mayRestart(c, false)) await this.#start(c, { sandboxId, attempt: this.#nextAttempt(list), init: false, signal });
    }
    this.#prober.retain(new Set([...obs.containers.values()].map((l) => l[0].id)));
    return done === (spec.containers ?? []).length;
  }

  #nextAttempt(list: CriContainer[] | undefined): number {
    return list?.length ? (list[0].metadata?.attempt ?? 0) + 1 : 0;
  }

  #ensureProbes(latest: CriContainer, c: any, host: string): void {
    if (latest.state !== 'CONTAINER_RUNNING') return;
    this.#prober.ensure({ containerId: latest.id, container: c, host });
  }

  /** Upstream's crash back-off: the first restart at once, then 10 s doubling to 5 min. */
  async #mayRestart(c: any, init: boolean): Promise<boolean> {
    const now = Date.now();
    let b = this.#backoff.get(c.name);
    // a container that stayed up for twice the maximum back-off starts over at 10 s (upstream's back-off GC)
    if (b && now - b.lastStart > 2 * MAX_BACKOFF_MS) {
      this.#backoff.delete(c.name);
      b = undefined;
    }
    if (b && now - b.lastStart < b.delayMs) {
      if (b.announced !== b.lastStart) {
        b.announced = b.lastStart;
        this.#event(c.name, init, 'Warning', 'BackOff', `Back-off restarting failed container ${c.name} in pod ${podDesc(this.pod)}`);
      }
      this.#waiting.set(c.name, { reason: 'CrashLoopBackOff', message: `back-off ${goDuration(b.delayMs)} restarting failed container=${c.name} pod=${podDesc(this.pod)}` });
      return false;
    }
    const initial = this.#ctx.initialBackoffMs ?? INITIAL_BACKOFF_MS;
    this.#backoff.set(c.name, { delayMs: b ? Math.min(b.delayMs * 2, MAX_BACKOFF_MS) : initial, lastStart: now });
    return true;
  }

  async #ensureImage(c: any, init: boolean): Promise<boolean> {
    const rt = this.#ctx.runtime;
    const image: string = c.image;
    const policy = c.imagePullPolicy ?? defaultPullPolicy(image);
    const present = await rt.imageStatus(image);
    if (policy === 'Never' || (policy === 'IfNotPresent' && present)) {
      if (present) {
        this.#event(c.name, init, 'Normal', 'Pulled', `Container image "${image}" already present on machine`);
        return true;
      }
      const message = `Container image "${image}" is not present with pull policy of Never`;
      this.#event(c.name, init, 'Warning', 'ErrImageNeverPull', message);
      this.#waiting.set(c.name, { reason: 'ErrImageNeverPull', message });
      return false;
    }
    const b = this.#pullBackoff.get(image);
    const now = Date.now();
    if (b && now - b.lastStart < b.delayMs) {
      const message = `Back-off pulling image "${image}"`;
      this.#event(c.name, init, 'Normal', 'BackOff', message);
      // upstream's startContainer records the image manager's error too
      this.#event(c.name, init, 'Warning', 'Failed', 'Error: ImagePullBackOff');
      // since 1.32 the waiting message carries the failed pull's error
      this.#waiting.set(c.name, { reason: 'ImagePullBackOff', message: b.lastError ? `${message}: ${b.lastError}` : message });
      return false;
    }
    this.#event(c.name, init, 'Normal', 'Pulling', `Pulling image "${image}"`);
    const t0 = performance.now();
    try {
      const auth = await this.#pullAuth(image);
      await rt.pullImage(image, auth ? { auth } : {});
      this.#pullBackoff.delete(image);
      const took = ((performance.now() - t0) / 1000).toFixed(3);
      const size = (await rt.imageStatus(image))?.size ?? 0;
      this.#event(c.name, init, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${took}s (${took}s including waiting). Image size: ${size} bytes.`);
      return true;
    } catch (e) {
      const initial = this.#ctx.initialBackoffMs ?? INITIAL_BACKOFF_MS;
      const detail = runtimeErrorText(e);
      this.#pullBackoff.set(image, { delayMs: b ? Math.min(b.delayMs * 2, MAX_BACKOFF_MS) : initial, lastStart: now, lastError: `ErrImagePull: ${detail}` });
      this.#event(c.name, init, 'Warning', 'Failed', `Failed to pull image "${image}": ${detail}`);
      this.#event(c.name, init, 'Warning', 'Failed', 'Error: ErrImagePull');
      this.#waiting.set(c.name, { reason: 'ErrImagePull', message: detail });
      return false;
    }
  }

  /** Credentials for `image` from the pod's imagePullSecrets (dockerconfigjson / dockercfg). */
  async #pullAuth(image: string): Promise<{ username?: string; password?: string; auth?: string; serverAddress?: string } | undefined> {
    const ns = this.pod.metadata.namespace ?? 'default';
    for (const ref of this.pod.spec?.imagePullSecrets ?? []) {
      const data = await this.#ctx.data('Secret', ns, ref.name).catch(() => undefined);
      const text = data?.['.dockerconfigjson'] ?? data?.['.dockercfg'];
      if (!text) continue;
      try {
        const found = registryAuth(JSON.parse(text), image);
        if (found) return found;
      } catch {}
    }
    return undefined;
  }

  async #start(c: any, opts: { sandboxId: string; attempt: number; init: boolean; signal: AbortSignal }): Promise<void> {
    const { init } = opts;
    if (!(await this.#ensureImage(c, init))) return;
    const services = await this.#ctx.services?.(this.pod.metadata.namespace ?? 'default');
    const ip = this.#podIP;
    const hostIP = this.#ctx.hostIP;
    const envPod = { ...this.pod, status: { ...this.pod.status, podIP: ip ?? '', podIPs: ip ? [{ ip }] : [], hostIP, hostIPs: [{ ip: hostIP }] } };
    const env = await containerEnv(envPod, c, { data: this.#ctx.data, nodeAllocatable: this.#ctx.nodeAllocatable, services });
    if (env.error) {
      this.#event(c.name, init, 'Warning', 'Failed', `Error: ${env.error}`);
      this.#waiting.set(c.name, { reason: 'CreateContainerConfigError', message: env.error });
      return;
    }
    const vars = new Map(env.env!.map((e) => [e.key, e.value]));
    const lookup = (n: string) => vars.get(n);
    const { uid, name, namespace } = this.pod.metadata;
    const msgPath: string = c.terminationMessagePath ?? '/dev/termination-log';
    const msgDir = path.join(this.#ctx.rootDir, 'pods', `${namespace}_${name}_${uid}`, '.termination', c.name);
    mkdirSync(msgDir, { recursive: true });
    const msgFile = path.join(msgDir, randomBytes(4).toString('hex'));
    writeFileSync(msgFile, '', { mode: 0o666 });
    const mounts: Input<Mount>[] = [{ containerPath: msgPath, hostPath: msgFile }];
    if (this.#ctx.mountPod) {
      let byContainer: Map<string, Input<Mount>[]>;
      try {
        byContainer = await this.#ctx.mountPod(this.pod);
      } catch (e) {
        // the volume manager's VolumeError: one FailedMount event per failed volume; retried next sync
        const err = e as { reason?: unknown; messages?: unknown };
        if (err.reason !== 'FailedMount' || !Array.isArray(err.messages)) throw e;
        for (const m of err.messages) this.#event(undefined, false, 'Warning', 'FailedMount', String(m));
        this.#waiting.set(c.name, { reason: 'ContainerCreating' });
        return;
      }
      mounts.unshift(...(byContainer.get(c.name) ?? []));
    }
    const sc = c.securityContext ?? {};
    const psc = this.pod.spec?.securityContext ?? {};
    const runAsUser = sc.runAsUser ?? psc.runAsUser;
    const runAsGroup = sc.runAsGroup ?? psc.runAsGroup;
    // upstream's effective security context: the pod's supplementalGroups, then its fsGroup
    const supplementalGroups: number[] = [...(psc.supplementalGroups ?? []), ...(psc.fsGroup !== undefined ? [psc.fsGroup] : [])];
    const hostNetwork = !!this.pod.spec?.hostNetwork || !this.#ctx.podNetwork;
    const preStop = c.lifecycle?.preStop;
    const sandboxConfig = this.sandboxConfig(this.#sandboxInfo.get(opts.sandboxId)?.attempt ?? (await this.#rt.podSandboxStatus(opts.sandboxId)).status?.metadata?.attempt ?? 0);
    let id: string;
    try {
      id = await this.#rt.createContainer({
        podSandboxId: opts.sandboxId,
        sandboxConfig,
        config: {
          metadata: { name: c.name, attempt: opts.attempt },
          image: { image: c.image },
          command: (c.command ?? []).map((s: string) => expand(s, lookup)),
          args: (c.args ?? []).map((s: string) => expand(s, lookup)),
          workingDir: c.workingDir,
          envs: env.env,
          mounts,
          labels: { [L.POD_NAME]: name, [L.POD_NAMESPACE]: namespace, [L.POD_UID]: uid, [L.CONTAINER_NAME]: c.name },
          annotations: {
            [L.RESTART_COUNT]: String(opts.attempt),
            [L.TERMINATION_MESSAGE_PATH]: msgPath,
            [L.TERMINATION_GRACE_PERIOD]: String(this.pod.spec?.terminationGracePeriodSeconds ?? 30),
            ...(preStop ? { [L.PRESTOP_HANDLER]: JSON.stringify(preStop) } : {}),
          },
          logPath: `${c.name}/${opts.attempt}.log`,
          stdin: !!c.stdin,
          stdinOnce: !!c.stdinOnce,
          tty: !!c.tty,
          linux: {
            resources: linuxResources(c),
            securityContext: {
              namespaceOptions: {
                network: hostNetwork ? 'NODE' : 'POD',
                pid: this.pod.spec?.hostPID ? 'NODE' : this.pod.spec?.shareProcessNamespace ? 'POD' : 'CONTAINER',
                ipc: this.pod.spec?.hostIPC ? 'NODE' : 'POD',
              },
              privileged: !!sc.privileged,
              readonlyRootfs: !!sc.readOnlyRootFilesystem,
              supplementalGroups,
              // only an explicit allowPrivilegeEscalation: false sets no_new_privs (upstream's AddNoNewPrivileges)
              noNewPrivs: sc.allowPrivilegeEscalation === false,
              ...(runAsUser !== undefined ? { runAsUser: { value: runAsUser } } : {}),
              ...(runAsGroup !== undefined ? { runAsGroup: { value: runAsGroup } } : {}),
              ...(sc.capabilities ? { capabilities: { addCapabilities: sc.capabilities.add ?? [], dropCapabilities: sc.capabilities.drop ?? [] } } : {}),
            },
          },
        },
      }, { signal: opts.signal });
    } catch (e) {
      const message = (e as Error).message;
      this.#event(c.name, init, 'Warning', 'Failed', `Error: ${message}`);
      this.#waiting.set(c.name, { reason: 'CreateContainerError', message });
      return;
    }
    this.#event(c.name, init, 'Normal', 'Created', `Created container: ${c.name}`);
    try {
      await this.#rt.startContainer(id, { signal: opts.signal });
    } catch (e) {
      const message = (e as Error).message;
      this.#event(c.name, init, 'Warning', 'Failed', `Error: ${message}`);
      this.#waiting.set(c.name, { reason: 'RunContainerError', message });
      return;
    }
    this.#waiting.delete(c.name);
    this.#starts++;
    this.#event(c.name, init, 'Normal', 'Started', `Started container ${c.name}`);
    const postStart = c.lifecycle?.postStart;
    if (postStart?.exec?.command) {
      // As upstream: the hook runs before the container counts as started; a failure kills it.
      let failure: string | undefined;
      try {
        const r = await this.#rt.execSync(id, { cmd: postStart.exec.command, timeout: this.#graceSeconds() });
        if (r.exitCode !== 0) failure = `command ${JSON.stringify(postStart.exec.command.join(' '))} exited with ${r.exitCode}: ${r.stdout}${r.stderr}`;
      } catch (e) {
        failure = (e as Error).message;
      }
      if (failure) {
        this.#event(c.name, init, 'Warning', 'FailedPostStartHook', `PostStartHook failed: ${failure}`);
        const list = await this.#rt.listContainers({ id });
        if (list[0]) await this.#killContainer(list[0], { grace: this.#graceSeconds(), announce: false });
      }
    }
  }

  /** preStop hook (exec) then StopContainer with what is left of the grace period. Idempotent per container. */
  async #killContainer(c: CriContainer, opts: { grace: number; announce: boolean }): Promise<void> {
    if (this.#killing.has(c.id)) return;
    this.#killing.add(c.id);
    try {
      const name = c.labels[L.CONTAINER_NAME];
      const specC = [...(this.pod.spec?.containers ?? []), ...(this.pod.spec?.initContainers ?? [])].find((x: any) => x.name === name);
      const init = !(this.pod.spec?.containers ?? []).some((x: any) => x.name === name);
      if (opts.announce) this.#event(name, init, 'Normal', 'Killing', `Stopping container ${name}`);
      const started = Date.now();
      const preStop = specC?.lifecycle?.preStop ?? (c.annotations[L.PRESTOP_HANDLER] ? JSON.parse(c.annotations[L.PRESTOP_HANDLER]) : undefined);
      if (preStop?.exec?.command && opts.grace > 0) {
        try {
          const r = await this.#rt.execSync(c.id, { cmd: preStop.exec.command, timeout: opts.grace });
          if (r.exitCode !== 0) this.#event(name, init, 'Warning', 'FailedPreStopHook', `PreStopHook failed: command ${JSON.stringify(preStop.exec.command.join(' '))} exited with ${r.exitCode}: ${r.stdout}${r.stderr}`);
        } catch (e) {
          this.#event(name, init, 'Warning', 'FailedPreStopHook', `PreStopHook failed: ${(e as Error).message}`);
        }
      } else if (preStop?.sleep?.seconds) {
        await new Promise((r) => setTimeout(r, Math.min(preStop.sleep.seconds, opts.grace) * 1000));
      }
      const left = Math.max(2, opts.grace - Math.floor((Date.now() - started) / 1000));
      await this.#rt.stopContainer(c.id, { timeout: opts.grace === 0 ? 0 : left }).catch((e) => {
        if (!isNotFound(e)) throw e;
      });
    } finally {
      this.#killing.delete(c.id);
      this.kick();
    }
  }

  async #killAll(obs: Observed, grace: number): Promise<void> {
    const running = [...obs.containers.values()].map((l) => l[0]).filter((c) => c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED');
    // App containers first, then sidecars (upstream stops restartable init containers last).
    const isApp = (c: CriContainer) => (this.pod.spec?.containers ?? []).some((x: any) => x.name === c.labels[L.CONTAINER_NAME]);
    await Promise.all(running.filter(isApp).map((c) => this.#killContainer(c, { grace, announce: true })));
    await Promise.all(running.filter((c) => !isApp(c)).map((c) => this.#killContainer(c, { grace, announce: true })));
  }

  async #terminate(signal: AbortSignal): Promise<void> {
    let obs = await this.#observe({ fresh: true });
    const grace = this.#removed && !this.pod.metadata.deletionTimestamp ? Math.min(this.#graceSeconds(), 2) : this.#graceSeconds();
    await this.#killAll(obs, grace);
    for (const s of obs.sandboxes) if (s.ready) await this.#rt.stopPodSandbox(s.id);
    this.#prober.stopAll();
    obs = await this.#observe();
    if (!this.#removed) {
      await this.#writeStatus(obs, { sandboxReady: false, podIP: this.pod.status?.podIP, podIsTerminal: true, host: '127.0.0.1' });
      await this.#ctx.deletePod(this.pod);
    }
    signal.throwIfAborted();
    for (const s of obs.sandboxes) await this.#rt.removePodSandbox(s.id);
    // logs and termination-message files go with the pod, as upstream's /var/log/pods/<pod>
    const { namespace, name, uid } = this.pod.metadata;
    await rm(path.join(this.#ctx.rootDir, 'pods', `${namespace}_${name}_${uid}`), { recursive: true, force: true });
    if (this.#ctx.unmountPod && uid) await this.#ctx.unmountPod(uid);
    this.#done = true;
  }

  async #containerStatus(c: any, list: CriContainer[] | undefined, opts: { init: boolean; pendingReason: string }): Promise<ContainerStatus> {
    const latest = list?.[0];
    const base: ContainerStatus = { name: c.name, state: {}, lastState: {}, ready: false, restartCount: latest?.metadata?.attempt ?? 0, image: c.image, imageID: '', started: false };
    const waiting = this.#waiting.get(c.name);
    if (!latest) {
      base.state = { waiting: waiting ?? { reason: opts.pendingReason } };
      return base;
    }
    const st = await this.#criStatus(latest.id, latest.state);
    base.containerID = `containerd://${latest.id}`;
    base.imageID = st?.imageRef || latest.imageRef;
    const terminatedOf = (s: CriContainerStatus | undefined, id: string): ContainerState['terminated'] | undefined => {
      if (!s) return undefined;
      const t: NonNullable<ContainerState['terminated']> = { exitCode: s.exitCode, reason: s.reason || (s.exitCode === 0 ? 'Completed' : 'Error'), startedAt: nsToRfc(s.startedAt), finishedAt: nsToRfc(s.finishedAt), containerID: `containerd://${id}` };
      const msg = this.#terminationMessage(c, s);
      if (msg) t.message = msg;
      return t;
    };
    const prev = list![1];
    if (prev) {
      const t = terminatedOf(await this.#criStatus(prev.id), prev.id);
      if (t) base.lastState = { terminated: t };
    }
    if (latest.state === 'CONTAINER_RUNNING') {
      const ps = this.#prober.state(latest.id);
      base.state = { running: { startedAt: nsToRfc(st?.startedAt ?? 0) } };
      base.started = ps ? ps.started : !c.startupProbe;
      base.ready = ps ? ps.ready && ps.started : !c.readinessProbe && !c.startupProbe;
      if (opts.init && !isRestartableInitContainer(c)) base.ready = false;
    } else if (latest.state === 'CONTAINER_EXITED') {
      const t = terminatedOf(st, latest.id);
      if (waiting && (waiting.reason === 'CrashLoopBackOff' || waiting.reason.startsWith('Err') || waiting.reason.endsWith('Error') || waiting.reason === 'ImagePullBackOff')) {
        base.state = { waiting };
        if (t) base.lastState = { terminated: t };
      } else {
        base.state = t ? { terminated: t } : { waiting: { reason: 'ContainerCreating' } };
        if (opts.init && !isRestartableInitContainer(c) && t?.exitCode === 0) base.ready = true;
      }
    } else base.state = { waiting: { reason: 'ContainerCreating' } };
    return base;
  }

  #terminationMessage(c: any, s: CriContainerStatus): string | undefined {
    const msgPath = s.annotations?.[L.TERMINATION_MESSAGE_PATH] ?? c.terminationMessagePath ?? '/dev/termination-log';
    const m = s.mounts?.find((x) => x.containerPath === msgPath);
    let msg = '';
    if (m && existsSync(m.hostPath)) {
      try {
        msg = readFileSync(m.hostPath).subarray(0, MAX_TERMINATION_MESSAGE).toString();
      } catch {}
    }
    if (!msg && c.terminationMessagePolicy === 'FallbackToLogsOnError' && s.exitCode !== 0 && s.logPath) {
      try {
        const lines = readFileSync(s.logPath, 'utf8').split('\n').filter(Boolean).slice(-80);
        // CRI log lines: <time> <stream> <P|F> <message>; a full (F) line ends with its newline, as upstream's ReadLogs writes it
        msg = lines.map((l) => { const f = l.split(' '); return f.slice(3).join(' ') + (f[2] === 'F' ? '\n' : ''); }).join('').slice(-2048);
      } catch {}
    }
    return msg || undefined;
  }

  async #writeStatus(obs: Observed, opts: { sandboxReady: boolean; podIP?: string; podIsTerminal: boolean; host: string }): Promise<void> {
    const spec = this.pod.spec ?? {};
    const initStatuses: ContainerStatus[] = [];
    let initsDone = true;
    for (const c of spec.initContainers ?? []) {
      const s = await this.#containerStatus(c, obs.containers.get(c.name), { init: true, pendingReason: initsDone ? 'ContainerCreating' : 'PodInitializing' });
      if (!isRestartableInitContainer(c) && !(s.state.terminated?.exitCode === 0)) initsDone = false;
      initStatuses.push(s);
    }
    const statuses: ContainerStatus[] = [];
    for (const c of spec.containers ?? []) {
      statuses.push(await this.#containerStatus(c, obs.containers.get(c.name), { init: false, pendingReason: initsDone ? 'ContainerCreating' : 'PodInitializing' }));
    }
    const status = generatePodStatus(this.pod, {
      sandboxReady: opts.sandboxReady,
      initContainerStatuses: initStatuses,
      containerStatuses: statuses,
      podIsTerminal: opts.podIsTerminal,
      startTime: this.#startTime ?? rfc3339(Date.now()),
      hostIP: this.#ctx.hostIP,
      podIP: opts.podIP,
      now: rfc3339(Date.now()),
    });
    if (this.#deadlineExceeded) Object.assign(status, { phase: 'Failed', reason: 'DeadlineExceeded', message: DEADLINE_MESSAGE });
    const key = canonical(status);
    if (key === canonical(this.pod.status ?? {}) || key === this.#lastWritten) return;
    await this.#ctx.writeStatus(this.pod, status);
    this.#lastWritten = key;
  }
}

/** The registry host of an image reference as Docker normalises it (docker.io when none). */
export function registryHost(image: string): string {
  const first = image.split('/')[0];
  if (image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return first;
  return 'docker.io';
}

/** The entry of a docker config (`{auths: {...}}` or the old flat form) that matches the image's registry. */
export function registryAuth(config: any, image: string): { username?: string; password?: string; auth?: string; serverAddress?: string } | undefined {
  const auths: Record<string, any> = config?.auths ?? config ?? {};
  const host = registryHost(image);
  const aliases = host === 'docker.io' ? ['docker.io', 'index.docker.io', 'registry-1.docker.io', 'https://index.docker.io/v1/'] : [host];
  for (const [key, v] of Object.entries(auths)) {
    const k = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (!aliases.includes(k) && !aliases.includes(key)) continue;
    let { username, password } = v ?? {};
    if ((!username || !password) && v?.auth) {
      const dec = Buffer.from(v.auth, 'base64').toString();
      const i = dec.indexOf(':');
      if (i > 0) [username, password] = [dec.slice(0, i), dec.slice(i + 1)];
    }
    // no serverAddress, as upstream's keyring: containerd compares it with url.Parse, which
    // refuses a bare host:port (`parse server address: ... first path segment ... colon`)
    return { username, password };
  }
  return undefined;
}

/** Key-order-independent JSON, to compare a computed status with the stored one. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const keys = Object.keys(v as object).filter((k) => (v as any)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as any)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
