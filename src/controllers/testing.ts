// Test fixtures for every controller author (integration tier: a real apiserver on
// port 0 with a temp data dir, simulated nodes, no mocks):
//
//   const c = await startControllerTestCluster({ nodes: 3 });
//   const cm = c.startControllers([replicaSetController()]);   // leader election off
//   await c.client.create(ref.replicasets, 'default', makeReplicaSet('web').replicas(3).build());
//   await c.waitFor(ref.replicasets, 'default', 'web', (rs) => rs.status?.readyReplicas === 3);
//   await cm.stop(); await c.close();
//
// Until the scheduler exists, a tiny test-only binder (`bind: true`, the default when
// there are nodes) binds every unscheduled pod to the simulated node with the fewest
// pods it has bound, through pods/<name>/binding as a scheduler would. Pod templates
// from the builders carry `sim.skiff.dev/stop-seconds: "0"` so deleted pods go away at
// once instead of after their 30 s grace period (pass `.slowStop()` to keep it).

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { KObject } from '../api/object.ts';
import { isStatusError } from '../api/errors.ts';
import { startApiServer, type ApiServer } from '../apiserver/server.ts';
import { inProcessTransport } from '../client/inprocess.ts';
import { Informer } from '../client/informer.ts';
import { ref } from '../client/resources.ts';
import { createClient } from '../client/rest.ts';
import { eventually } from '../client/testing.ts';
import type { Client, ResourceRef, Transport } from '../client/types.ts';
import type { Logger } from '../client/util.ts';
import { RateLimitingQueue, runWorkers } from '../client/workqueue.ts';
import { keyOf, splitKey } from '../client/util.ts';
import { startInProcessSimPool, type SimPool, type SimPoolSettings } from '../kubelet/sim/index.ts';
import type { Controller } from './context.ts';
import { startControllerManager, type ControllerManager, type LeaderElectionConfig } from './manager.ts';

export { eventually };

export const TEST_ADMIN = { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };
/** The identity a controller manager uses in-process. */
export const CONTROLLER_MANAGER_USER = { name: 'system:kube-controller-manager', groups: ['system:authenticated'] };

export interface RunningControllers {
  manager: ControllerManager;
  /** Stops the manager (releasing its lease) and resolves once every controller has stopped. */
  stop(): Promise<void>;
}

export interface StartControllersOptions {
  /** Off by default in tests; pass `{}` (or settings) to campaign on the real lease. */
  leaderElection?: LeaderElectionConfig | false;
  workers?: number | Record<string, number>;
  log?: Logger;
}

export interface ControllerTestCluster {
  server: ApiServer;
  dir: string;
  /** An admin client over the in-process transport. */
  client: Client;
  /** A fresh in-process transport (closed with the cluster). */
  transport(user?: { name: string; groups: string[] }): Transport;
  pool?: SimPool;
  binder?: TestBinder;
  /** Starts a controller manager running `controllers` against this cluster. */
  startControllers(controllers: Controller[], opts?: StartControllersOptions): RunningControllers;
  /** Polls a GET until `check` holds for the object (or for its absence when `check` receives undefined). */
  waitFor(res: ResourceRef, namespace: string | undefined, name: string, check: (o: KObject | undefined) => boolean, timeoutMs?: number): Promise<KObject | undefined>;
  /** Creates a namespace and its `default` ServiceAccount (ignoring those that exist). */
  createNamespace(name: string): Promise<void>;
  /** Messages of the Events about an object (oldest first), e.g. ["Created pod: web-x2kz9", ...]. */
  events(namespace: string, name: string, reason?: string): Promise<string[]>;
  /** Writes a file (a manifest for kubectl) into the test dir and returns its path. */
  file(name: string, text: string): Promise<string>;
  close(): Promise<void>;
}

export interface ControllerTestClusterOptions {
  /** Simulated nodes (default 3; 0 for none). */
  nodes?: number;
  /** Bind unscheduled pods to the simulated nodes (default: when there are nodes). */
  bind?: boolean;
  sim?: Omit<SimPoolSettings, 'nodes'>;
  /**
   * Create the `default` ServiceAccount of the default namespace (default true): pod
   * admission refuses pods without it, and the serviceaccount controller may not run.
   */
  defaultServiceAccount?: boolean;
  log?: Logger;
}

export async function startControllerTestCluster(opts: ControllerTestClusterOptions = {}): Promise<ControllerTestCluster> {
  const dir = await mkdtemp(path.join(tmpdir(), 'skiff-controllers-'));
  const server = await startApiServer({ dataDir: path.join(dir, 'data'), bindAddress: '127.0.0.1', bindPort: 0, advertiseAddress: '127.0.0.1' });
  const transports: Transport[] = [];
  const transport = (user = TEST_ADMIN) => {
    const t = inProcessTransport({ serve: (req, res) => server.serve(req, res) }, user);
    transports.push(t);
    return t;
  };
  const client = createClient(transport());
  const stop = new AbortController();
  const nodes = opts.nodes ?? 3;
  let pool: SimPool | undefined;
  if (nodes > 0) pool = await startInProcessSimPool(server, { nodes, ...opts.sim, log: opts.log }, stop.signal);
  let binder: TestBinder | undefined;
  if (pool && (opts.bind ?? true)) {
    binder = new TestBinder(client, pool.nodeNames(), opts.log);
    await binder.start(stop.signal);
  }
  const running = new Set<RunningControllers>();

  const c: ControllerTestCluster = {
    server,
    dir,
    client,
    transport,
    pool,
    binder,
    startControllers(controllers, so = {}) {
      const ac = new AbortController();
      const manager = startControllerManager(
        {
          client: createClient(transport(CONTROLLER_MANAGER_USER)),
          controllers,
          leaderElection: so.leaderElection === undefined || so.leaderElection === false ? { enabled: false } : so.leaderElection,
          workers: so.workers,
          log: so.log ?? opts.log,
          informer: { informerDefaults: { minBackoffMs: 50, maxBackoffMs: 1000 } },
        },
        ac.signal,
      );
      const r: RunningControllers = {
        manager,
        async stop() {
          ac.abort();
          await manager.done;
          running.delete(r);
        },
      };
      running.add(r);
      return r;
    },
    async waitFor(res, namespace, name, check, timeoutMs = 20_000) {
      return await eventually(
        async () => {
          let o: KObject | undefined;
          try {
            o = await client.get(res, namespace, name);
          } catch (e) {
            if (!(isStatusError(e) && e.code === 404)) throw e;
          }
          return check(o) ? { o } : undefined;
        },
        timeoutMs,
        `${res.resource} ${namespace ? namespace + '/' : ''}${name}`,
      ).then((r) => r.o);
    },
    async createNamespace(name) {
      for (const [r, ns, obj] of [
        [ref.namespaces, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } }],
        [ref.serviceaccounts, name, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: name } }],
      ] as const) {
        try {
          await client.create(r, ns, obj);
        } catch (e) {
          if (!(isStatusError(e) && e.code === 409)) throw e;
        }
      }
    },
    async events(namespace, name, reason) {
      const list = await client.list(ref.events, namespace, { fieldSelector: `involvedObject.name=${name}` });
      return list.items
        .filter((e) => reason === undefined || e.reason === reason)
        .sort((a, b) => (a.metadata.creationTimestamp ?? '').localeCompare(b.metadata.creationTimestamp ?? '') || Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
        .map((e) => e.message as string);
    },
    async file(name, text) {
      const p = path.join(dir, name);
      await writeFile(p, text);
      return p;
    },
    async close() {
      for (const r of [...running]) await r.stop();
      stop.abort();
      await binder?.done();
      await pool?.close();
      for (const t of transports) t.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
  if (opts.defaultServiceAccount ?? true) await c.createNamespace('default');
  return c;
}

/**
 * A test-only stand-in for the scheduler: binds each unscheduled pod (schedulerName
 * default-scheduler or unset) to the node it has bound the fewest pods to, through the
 * binding subresource. No filtering, no scoring: tests that need those use the scheduler.
 */
export class TestBinder {
  private readonly client: Client;
  private nodes: string[];
  private readonly counts = new Map<string, number>();
  private readonly informer: Informer;
  private readonly queue = new RateLimitingQueue<string>({ name: 'test-binder' });
  private workers?: Promise<void>;
  private readonly log: Logger;
  /** Pods bound so far. */
  bound = 0;

  constructor(client: Client, nodes: string[], log?: Logger) {
    this.client = client;
    this.nodes = [...nodes];
    this.log = log ?? (() => {});
    this.informer = new Informer(client, ref.pods, { fieldSelector: 'spec.nodeName=', minBackoffMs: 50, maxBackoffMs: 1000 });
    this.informer.addEventHandler({ onAdd: (p) => this.queue.add(keyOf(p)), onUpdate: (_o, p) => this.queue.add(keyOf(p)) });
  }

  /** Changes the nodes pods are bound to from now on. */
  setNodes(nodes: string[]): void {
    this.nodes = [...nodes];
  }

  async start(signal: AbortSignal): Promise<void> {
    this.informer.start(signal);
    this.workers = runWorkers(this.queue, 16, (key) => this.bind(key), signal, { log: this.log });
    await this.informer.waitForSync(signal);
  }

  async done(): Promise<void> {
    await this.workers;
    await this.informer.done();
  }

  private pick(): string | undefined {
    let best: string | undefined;
    for (const n of this.nodes) if (best === undefined || (this.counts.get(n) ?? 0) < (this.counts.get(best) ?? 0)) best = n;
    return best;
  }

  private async bind(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const pod = this.informer.lister.get(namespace, name);
    if (!pod || pod.spec?.nodeName || pod.metadata.deletionTimestamp) return;
    const scheduler = pod.spec?.schedulerName;
    if (scheduler && scheduler !== 'default-scheduler') return;
    const node = this.pick();
    if (!node) return;
    this.counts.set(node, (this.counts.get(node) ?? 0) + 1);
    try {
      await this.client.create(
        ref.pods,
        namespace,
        { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace }, target: { apiVersion: 'v1', kind: 'Node', name: node } },
        { subresource: 'binding', name },
      );
      this.bound++;
    } catch (e) {
      this.counts.set(node, (this.counts.get(node) ?? 1) - 1);
      if (isStatusError(e) && (e.code === 404 || e.code === 409)) return;
      throw e;
    }
  }
}

// ---- fluent fixtures ----

/** Annotation that makes a simulated pod's containers exit at once on deletion. */
export const FAST_STOP = { 'sim.skiff.dev/stop-seconds': '0' };

interface TemplateState {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  containers: Record<string, unknown>[];
  spec: Record<string, unknown>;
}

abstract class WorkloadBuilder<Self> {
  protected readonly obj: KObject;
  protected readonly t: TemplateState;

  constructor(apiVersion: string, kind: string, name: string) {
    this.obj = { apiVersion, kind, metadata: { name, namespace: 'default' }, spec: {} };
    this.t = { labels: { app: name }, annotations: { ...FAST_STOP }, containers: [{ name: 'app', image: 'nginx:1.27' }], spec: {} };
  }

  protected self(): Self {
    return this as unknown as Self;
  }

  namespace(ns: string): Self {
    this.obj.metadata.namespace = ns;
    return this.self();
  }

  replicas(n: number): Self {
    this.obj.spec.replicas = n;
    return this.self();
  }

  /** The template's (and selector's) labels, replacing app=<name>. */
  labels(labels: Record<string, string>): Self {
    this.t.labels = { ...labels };
    return this.self();
  }

  /** The first container's image. */
  image(image: string): Self {
    this.t.containers[0] = { ...this.t.containers[0], image };
    return this.self();
  }

  podAnnotation(key: string, value: string): Self {
    this.t.annotations[key] = value;
    return this.self();
  }

  /** Keeps the simulated containers' default stop behaviour (killed when the grace period ends). */
  slowStop(): Self {
    delete this.t.annotations['sim.skiff.dev/stop-seconds'];
    return this.self();
  }

  annotate(key: string, value: string): Self {
    (this.obj.metadata.annotations ??= {})[key] = value;
    return this.self();
  }

  label(key: string, value: string): Self {
    (this.obj.metadata.labels ??= {})[key] = value;
    return this.self();
  }

  minReadySeconds(s: number): Self {
    this.obj.spec.minReadySeconds = s;
    return this.self();
  }

  /** Extra pod spec fields (terminationGracePeriodSeconds, nodeSelector, ...). */
  podSpec(fields: Record<string, unknown>): Self {
    Object.assign(this.t.spec, fields);
    return this.self();
  }

  protected template(): KObject {
    const metadata: Record<string, unknown> = { labels: { ...this.t.labels } };
    if (Object.keys(this.t.annotations).length) metadata.annotations = { ...this.t.annotations };
    return { metadata, spec: { ...structuredClone(this.t.spec), containers: structuredClone(this.t.containers) } } as KObject;
  }

  build(): KObject {
    const o = structuredClone(this.obj);
    o.spec.selector ??= { matchLabels: { ...this.t.labels } };
    o.spec.template = this.template();
    return o;
  }
}

export class ReplicaSetBuilder extends WorkloadBuilder<ReplicaSetBuilder> {
  constructor(name: string) {
    super('apps/v1', 'ReplicaSet', name);
  }
}

export class ReplicationControllerBuilder extends WorkloadBuilder<ReplicationControllerBuilder> {
  constructor(name: string) {
    super('v1', 'ReplicationController', name);
  }

  override build(): KObject {
    const o = super.build();
    o.spec.selector = { ...this.t.labels };
    return o;
  }
}

export class DeploymentBuilder extends WorkloadBuilder<DeploymentBuilder> {
  constructor(name: string) {
    super('apps/v1', 'Deployment', name);
  }

  /** RollingUpdate with these bounds (numbers or percentages). */
  rollingUpdate(maxSurge: number | string, maxUnavailable: number | string): DeploymentBuilder {
    this.obj.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge, maxUnavailable } };
    return this;
  }

  recreate(): DeploymentBuilder {
    this.obj.spec.strategy = { type: 'Recreate' };
    return this;
  }

  revisionHistoryLimit(n: number): DeploymentBuilder {
    this.obj.spec.revisionHistoryLimit = n;
    return this;
  }

  progressDeadlineSeconds(s: number): DeploymentBuilder {
    this.obj.spec.progressDeadlineSeconds = s;
    return this;
  }

  paused(p = true): DeploymentBuilder {
    this.obj.spec.paused = p;
    return this;
  }
}

export function makeReplicaSet(name: string): ReplicaSetBuilder {
  return new ReplicaSetBuilder(name);
}

export function makeReplicationController(name: string): ReplicationControllerBuilder {
  return new ReplicationControllerBuilder(name);
}

export function makeDeployment(name: string): DeploymentBuilder {
  return new DeploymentBuilder(name);
}

/** Active pods (not finished, not being deleted) matching `labelSelector`, from a fresh list. */
export async function activePods(client: Client, namespace: string, labelSelector?: string): Promise<KObject[]> {
  const list = await client.list(ref.pods, namespace, { labelSelector });
  return list.items.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
}
