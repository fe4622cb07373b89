// The kubelet's volume manager: makes a pod's volumes exist on the host before its
// containers are created, and hands the pod workers the CRI mounts for each container.
// Behaviour follows upstream's volume plugins (emptyDir, hostPath, configMap, secret,
// downwardAPI, projected) and their on-disk layout under <podsDir>/<uid>/volumes/, so a
// reader who knows /var/lib/kubelet/pods finds the same tree.
//
// What must hold: mountPod is idempotent and may be called on every pod sync (it also
// takes a newer pod for downwardAPI); calls for one pod are serialised; unmountPod never
// deletes through a live mount. API-data volumes are rewritten atomically (atomic.ts)
// every sync period from their sources, so running containers see updates, except
// through subPath mounts (as upstream).

import { chmod, chown, mkdir, readdir, realpath, rm, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { isStatusError } from '../../api/errors.ts';
import type { KObject } from '../../api/object.ts';
import { parseQuantity } from '../../api/validation/quantity.ts';
import { ref } from '../../client/resources.ts';
import type { Client, ResourceRef } from '../../client/types.ts';
import { sleep, type Logger } from '../../client/util.ts';
import type { MountPropagation } from '../cri/types.ts';
import { writeAtomic, type Payload } from './atomic.ts';
import { checkHostPathType } from './hostpath.ts';
import { mountTmpfs, unmountAll } from './mount.ts';
import { TokenManager } from './token.ts';
import {
  DEFAULT_MODE,
  configMapData,
  downwardAPIPayload,
  fieldRefValue,
  hostAllocatable,
  keyPayload,
  secretData,
  type NodeAllocatable,
} from './sources.ts';

/** One mount of a container, in the CRI `Mount` message's terms. */
export interface CRIMount {
  containerPath: string;
  hostPath: string;
  readonly: boolean;
  propagation?: MountPropagation;
  selinuxRelabel?: boolean;
}

export interface VolumeManagerOptions {
  /** The kubelet's pods directory (upstream: /var/lib/kubelet/pods). */
  podsDir: string;
  client: Client;
  log?: Logger;
  /** How often API-data volumes are rewritten from their sources: upstream's sync frequency, 1 min (+ up to 10% jitter). */
  syncPeriodMs?: number;
  /** For resourceFieldRef of containers without limits; the host's cpus and memory otherwise. */
  nodeAllocatable?: NodeAllocatable;
}

/**
 * Volumes of a pod could not be set up. `messages` holds one event-ready text per
 * failure (`MountVolume.SetUp failed for volume "cfg" : configmap "x" not found`), for
 * Warning events with reason `FailedMount`; retrying later may succeed.
 */
export class VolumeError extends Error {
  readonly reason = 'FailedMount';
  readonly messages: string[];
  constructor(messages: string[]) {
    super(messages.join('; '));
    this.name = 'VolumeError';
    this.messages = messages;
  }
}

/** Upstream's plugin directory names under <pod>/volumes/. */
export const PLUGIN_DIRS = {
  emptyDir: 'kubernetes.io~empty-dir',
  configMap: 'kubernetes.io~configmap',
  secret: 'kubernetes.io~secret',
  downwardAPI: 'kubernetes.io~downward-api',
  projected: 'kubernetes.io~projected',
} as const;

/** Volumes whose contents come from the API and are refreshed every sync period. */
const API_DATA = new Set(['configMap', 'secret', 'downwardAPI', 'projected']);

/** Every volume source field of core/v1 Volume; the ones not handled above are refused by name. */
const SOURCE_FIELDS = [
  'emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected', 'persistentVolumeClaim', 'ephemeral',
  'awsElasticBlockStore', 'azureDisk', 'azureFile', 'cephfs', 'cinder', 'csi', 'fc', 'flexVolume', 'flocker',
  'gcePersistentDisk', 'gitRepo', 'glusterfs', 'image', 'iscsi', 'nfs', 'photonPersistentDisk', 'portworxVolume',
  'quobyte', 'rbd', 'scaleIO', 'storageos', 'vsphereVolume',
];

interface SetUpVolume {
  hostPath: string;
  /** The plugin mounts it read-only whatever the volumeMount says (API-data volumes). */
  readOnly: boolean;
}

type Outcome<T> = T | { error: string };

function sourceOf(vol: any): string | undefined {
  return SOURCE_FIELDS.find((f) => vol[f] != null);
}

const PROPAGATION: Record<string, MountPropagation> = {
  None: 'PROPAGATION_PRIVATE',
  HostToContainer: 'PROPAGATION_HOST_TO_CONTAINER',
  Bidirectional: 'PROPAGATION_BIDIRECTIONAL',
};

export class VolumeManager {
  readonly podsDir: string;
  private readonly client: Client;
  private readonly log: Logger;
  private readonly syncPeriodMs: number;
  private readonly allocatable: NodeAllocatable;
  /** Pods with mounted volumes, by uid: the newest pod object mountPod was given. */
  private readonly pods = new Map<string, KObject>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly tokens: TokenManager;
  private loop: Promise<void> = Promise.resolve();

  constructor(opts: VolumeManagerOptions) {
    this.podsDir = path.resolve(opts.podsDir);
    this.client = opts.client;
    this.log = opts.log ?? (() => {});
    this.syncPeriodMs = opts.syncPeriodMs ?? 60_000;
    this.allocatable = opts.nodeAllocatable ?? hostAllocatable();
    this.tokens = new TokenManager({ client: opts.client, log: this.log });
  }

  /** <podsDir>/<uid>/volumes/<plugin dir>/<volume name> */
  volumePath(podUID: string, plugin: keyof typeof PLUGIN_DIRS, name: string): string {
    return path.join(this.podsDir, podUID, 'volumes', PLUGIN_DIRS[plugin], name);
  }

  /** Refreshes API-data volumes of every mounted pod each sync period until `signal` aborts. */
  start(signal: AbortSignal): void {
    this.loop = (async () => {
      while (!signal.aborted) {
        await sleep(this.syncPeriodMs * (1 + Math.random() * 0.1), signal);
        if (signal.aborted) break;
        await this.refresh(signal);
      }
    })();
  }

  /** Resolves once the refresh loop has stopped (after start's signal aborted). */
  done(): Promise<void> {
    return this.loop;
  }

  /**
   * Sets up every volume of `pod` and returns the CRI mounts of each container (init,
   * app and ephemeral) by name. Rejects with a VolumeError listing every failure.
   */
  async mountPod(pod: KObject, signal?: AbortSignal): Promise<Map<string, CRIMount[]>> {
    const uid = pod.metadata.uid;
    if (!uid || !safeName(uid)) throw new Error(`pod ${pod.metadata.namespace}/${pod.metadata.name} has no valid uid`);
    return await this.withLock(uid, async () => {
      this.pods.set(uid, pod);
      const errors: string[] = [];
      const volumes = new Map<string, SetUpVolume>();
      for (const vol of pod.spec?.volumes ?? []) {
        signal?.throwIfAborted();
        const r = await this.setUpVolume(pod, vol, signal);
        if ('error' in r) errors.push(`MountVolume.SetUp failed for volume "${vol.name}" : ${r.error}`);
        else volumes.set(vol.name, r);
      }
      if (errors.length) throw new VolumeError(errors);

      const out = new Map<string, CRIMount[]>();
      const spec = pod.spec ?? {};
      for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])]) {
        const mounts: CRIMount[] = [];
        for (const m of c.volumeMounts ?? []) {
          const r = await this.containerMount(pod, c, m, volumes.get(m.name));
          if ('error' in r) errors.push(r.error);
          else mounts.push(r);
        }
        out.set(c.name, mounts);
      }
      if (errors.length) throw new VolumeError(errors);
      return out;
    });
  }

  /**
   * Unmounts and removes every volume of the pod (<podsDir>/<uid>/volumes), then the
   * pod's directory if nothing else is left in it. Works from the disk alone, so it
   * also cleans up after a kubelet restart. Idempotent.
   */
  async unmountPod(podUID: string): Promise<void> {
    if (!safeName(podUID)) throw new Error(`invalid pod uid ${JSON.stringify(podUID)}`);
    await this.withLock(podUID, async () => {
      this.pods.delete(podUID);
      this.tokens.forget(podUID);
      const podDir = path.join(this.podsDir, podUID);
      const volumesDir = path.join(podDir, 'volumes');
      await unmountAll(volumesDir); // throws if anything stays mounted: never rm through a mount
      await rm(volumesDir, { recursive: true, force: true });
      try {
        if ((await readdir(podDir)).length === 0) await rmdir(podDir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    });
  }

  /** Rewrites the API-data volumes of every mounted pod from their sources now. Failures are logged; content stays as it was. */
  async refresh(signal?: AbortSignal): Promise<void> {
    for (const uid of [...this.pods.keys()]) {
      if (signal?.aborted) return;
      await this.withLock(uid, async () => {
        const pod = this.pods.get(uid);
        if (!pod) return; // unmounted meanwhile
        for (const vol of pod.spec?.volumes ?? []) {
          if (!API_DATA.has(sourceOf(vol) ?? '')) continue;
          try {
            const r = await this.setUpVolume(pod, vol, signal);
            if ('error' in r) this.log('volume refresh failed', { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, volume: vol.name, error: r.error });
          } catch (e) {
            if (signal?.aborted) return;
            this.log('volume refresh failed', { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, volume: vol.name, error: String(e) });
          }
        }
      });
    }
  }

  private async withLock<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(uid) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    this.locks.set(uid, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(uid) === tail) this.locks.delete(uid);
    }
  }

  private async setUpVolume(pod: KObject, vol: any, signal: AbortSignal | undefined): Promise<Outcome<SetUpVolume>> {
    const uid = pod.metadata.uid!;
    // Names become path components; the apiserver validates them, static pods may not have been.
    if (typeof vol.name !== 'string' || !safeName(vol.name)) return { error: `invalid volume name ${JSON.stringify(vol.name)}` };
    const kind = sourceOf(vol);
    switch (kind) {
      case 'emptyDir': {
        const dir = this.volumePath(uid, 'emptyDir', vol.name);
        await mkdir(dir, { recursive: true });
        const medium = vol.emptyDir.medium ?? '';
        if (medium === 'Memory') {
          const sizeBytes = this.memoryVolumeSize(pod, vol.emptyDir.sizeLimit);
          if (typeof sizeBytes === 'string') return { error: sizeBytes };
          await mountTmpfs(dir, { sizeBytes, mode: 0o777 });
        } else if (medium !== '') {
          return { error: `emptyDir medium ${JSON.stringify(medium)} is not supported yet` };
        }
        // Every container user may write an emptyDir; with an fsGroup, new files inherit the group.
        const fsGroup = fsGroupOf(pod);
        if (fsGroup !== undefined) await chown(dir, -1, fsGroup);
        await chmod(dir, fsGroup === undefined ? 0o777 : 0o2777);
        return { hostPath: dir, readOnly: false };
      }
      case 'hostPath': {
        const p: string = vol.hostPath.path ?? '';
        if (!path.isAbsolute(p)) return { error: `hostPath ${JSON.stringify(p)} must be an absolute path` };
        const err = await checkHostPathType(p, vol.hostPath.type);
        return err ? { error: err } : { hostPath: p, readOnly: false };
      }
      case 'configMap':
      case 'secret':
      case 'downwardAPI':
      case 'projected': {
        const payload = await this.payloadFor(pod, kind, vol[kind], signal);
        if (typeof payload === 'string') return { error: payload };
        const dir = this.volumePath(uid, kind, vol.name);
        await mkdir(dir, { recursive: true });
        // Secret and projected (token) data stay off disk, as upstream's wrapped Memory emptyDir.
        if (kind === 'secret' || kind === 'projected') await mountTmpfs(dir, { mode: 0o1777 });
        else await chmod(dir, 0o777);
        const fsGroup = fsGroupOf(pod);
        if (fsGroup !== undefined) await chown(dir, -1, fsGroup);
        await writeAtomic(dir, payload, { fsGroup });
        return { hostPath: dir, readOnly: true };
      }
      case undefined:
        return { error: 'volume has no source' };
      default:
        return { error: `${kind} volumes are not supported yet` };
    }
  }

  /**
   * A Memory emptyDir's tmpfs size, as upstream sizes memory-backed volumes: the
   * smallest of sizeLimit, the pod's memory limit (when every container has one) and
   * the node's allocatable memory.
   */
  private memoryVolumeSize(pod: KObject, sizeLimit: unknown): bigint | string | undefined {
    const bytes = (v: unknown): bigint | string => {
      const q = parseQuantity(String(v));
      return typeof q === 'string' ? `invalid quantity ${v}: ${q}` : q.value();
    };
    const candidates: bigint[] = [];
    if (sizeLimit != null) {
      const b = bytes(sizeLimit);
      if (typeof b === 'string') return b;
      if (b > 0n) candidates.push(b);
    }
    const containers: any[] = pod.spec?.containers ?? [];
    if (containers.length && containers.every((c) => c.resources?.limits?.memory != null)) {
      let sum = 0n;
      for (const c of containers) {
        const b = bytes(c.resources.limits.memory);
        if (typeof b === 'string') return b;
        sum += b;
      }
      candidates.push(sum);
    } else {
      const b = bytes(this.allocatable.memory);
      if (typeof b !== 'string') candidates.push(b);
    }
    return candidates.length ? candidates.reduce((x, y) => (y < x ? y : x)) : undefined;
  }

  private async payloadFor(pod: KObject, kind: string, src: any, signal: AbortSignal | undefined): Promise<Payload | string> {
    const ns = pod.metadata.namespace ?? 'default';
    const defaultMode: number = src.defaultMode ?? DEFAULT_MODE;
    switch (kind) {
      case 'configMap':
        return await this.keySource(ref.configmaps, ns, src.name, { items: src.items, defaultMode, optional: !!src.optional }, signal);
      case 'secret':
        return await this.keySource(ref.secrets, ns, src.secretName, { items: src.items, defaultMode, optional: !!src.optional }, signal);
      case 'downwardAPI':
        return downwardAPIPayload(pod, src.items ?? [], defaultMode, this.allocatable);
      case 'projected': {
        const out: Payload = new Map();
        for (const s of src.sources ?? []) {
          let part: Payload | string;
          if (s.configMap) part = await this.keySource(ref.configmaps, ns, s.configMap.name, { items: s.configMap.items, defaultMode, optional: !!s.configMap.optional }, signal);
          else if (s.secret) part = await this.keySource(ref.secrets, ns, s.secret.name, { items: s.secret.items, defaultMode, optional: !!s.secret.optional }, signal);
          else if (s.downwardAPI) part = downwardAPIPayload(pod, s.downwardAPI.items ?? [], defaultMode, this.allocatable);
          else if (s.serviceAccountToken) {
            // A pod-bound token for the pod's service account, refreshed by the token
            // manager before it expires; each sync rewrites the volume with the current one.
            const t = await this.tokens.tokenFor(pod, s.serviceAccountToken, signal);
            part = 'error' in t ? t.error : new Map([[s.serviceAccountToken.path, { data: Buffer.from(t.token), mode: defaultMode }]]);
          } else if (s.clusterTrustBundle) part = 'clusterTrustBundle projections are not supported yet';
          else part = 'projected volume source has no known source';
          if (typeof part === 'string') return part;
          for (const [p, f] of part) out.set(p, f);
        }
        return out;
      }
    }
    throw new Error(`no payload for ${kind}`);
  }

  /** A configMap or secret source: its keys (or items), empty when optional and missing. */
  private async keySource(
    res: ResourceRef,
    ns: string,
    name: string,
    opts: { items?: any[]; defaultMode: number; optional: boolean },
    signal: AbortSignal | undefined,
  ): Promise<Payload | string> {
    const what = res === ref.secrets ? 'secret' : 'configmap';
    let obj: KObject;
    try {
      obj = await this.client.get(res, ns, name, { signal });
    } catch (e) {
      if (signal?.aborted) throw e;
      if (isStatusError(e) && e.code === 404) return opts.optional ? new Map() : `${what} ${JSON.stringify(name)} not found`;
      return `failed to get ${what} ${ns}/${name}: ${(e as Error).message}`;
    }
    return keyPayload(what === 'secret' ? secretData(obj) : configMapData(obj), {
      ...opts,
      missingKey: (k) => (what === 'secret' ? `references non-existent secret key: ${k}` : `configmap references non-existent config key: ${k}`),
    });
  }

  private async containerMount(pod: KObject, c: any, m: any, vol: SetUpVolume | undefined): Promise<Outcome<CRIMount>> {
    if (!vol) return { error: `cannot find volume ${JSON.stringify(m.name)} to mount into container ${JSON.stringify(c.name)}` };
    const propagation = PROPAGATION[m.mountPropagation ?? 'None'];
    if (!propagation) return { error: `invalid mount propagation ${JSON.stringify(m.mountPropagation)} for volumeMount ${JSON.stringify(m.name)}` };
    if (propagation === 'PROPAGATION_BIDIRECTIONAL' && !c.securityContext?.privileged) {
      return { error: 'Bidirectional mount propagation is available only to privileged containers' };
    }
    let hostPath = vol.hostPath;
    let sub: string = m.subPath ?? '';
    if (m.subPathExpr) {
      const r = expandSubPathExpr(m.subPathExpr, containerEnv(pod, c));
      if (typeof r !== 'string') return { error: `failed to prepare subPath for volumeMount ${JSON.stringify(m.name)} of container ${JSON.stringify(c.name)}: ${r.error}` };
      sub = r;
    }
    if (sub) {
      const r = await resolveSubPath(vol.hostPath, sub);
      if (typeof r !== 'string') return { error: `failed to prepare subPath for volumeMount ${JSON.stringify(m.name)} of container ${JSON.stringify(c.name)}: ${r.error}` };
      hostPath = r;
    }
    return { containerPath: m.mountPath, hostPath, readonly: !!m.readOnly || vol.readOnly, propagation };
  }
}

/** A single path component that is not `.`/`..` or hidden (volume names are DNS labels, uids UUIDs). */
function safeName(s: string): boolean {
  return s.length > 0 && s.length <= 253 && !s.includes('/') && !s.includes('\0') && !s.startsWith('.');
}

function fsGroupOf(pod: KObject): number | undefined {
  const g = pod.spec?.securityContext?.fsGroup;
  return typeof g === 'number' ? g : undefined;
}

/**
 * The host path of `sub` inside a volume: created as a directory (with the volume
 * root's mode) when missing, and refused when it resolves outside the volume. The
 * resolved path is returned, so no symlink is followed later by the runtime.
 */
async function resolveSubPath(volumePath: string, sub: string): Promise<Outcome<string>> {
  if (path.isAbsolute(sub)) return { error: `error SubPath \`${sub}\` must not be an absolute path` };
  if (sub.split('/').includes('..')) return { error: `error SubPath \`${sub}\` must not contain '..'` };
  const root = await realpath(volumePath);
  const full = path.join(volumePath, sub);
  let resolved: string;
  try {
    resolved = await realpath(full);
  } catch {
    // Missing: create it as a directory, component by component, refusing symlinks out of the volume.
    let cur = root;
    for (const part of sub.split('/').filter(Boolean)) {
      const next = path.join(cur, part);
      try {
        cur = await realpath(next);
      } catch {
        const perm = (await stat(root)).mode & 0o7777;
        await mkdir(next);
        await chmod(next, perm); // the volume root's mode, whatever the umask
        cur = next;
      }
      if (cur !== root && !cur.startsWith(root + '/')) return { error: `subpath ${JSON.stringify(full)} not within volume path ${JSON.stringify(volumePath)}` };
    }
    resolved = cur;
  }
  if (resolved !== root && !resolved.startsWith(root + '/')) return { error: `subpath ${JSON.stringify(full)} not within volume path ${JSON.stringify(volumePath)}` };
  return resolved;
}

/** The container's env as far as subPathExpr needs it: literal values and pod fieldRefs. */
function containerEnv(pod: KObject, c: any): Map<string, string> {
  const env = new Map<string, string>();
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env.set(e.name, expand(e.value, env));
    else if (e.valueFrom?.fieldRef) {
      const fp: string = e.valueFrom.fieldRef.fieldPath;
      const extra: Record<string, string | undefined> = {
        'spec.nodeName': pod.spec?.nodeName,
        'spec.serviceAccountName': pod.spec?.serviceAccountName,
        'status.podIP': pod.status?.podIP,
        'status.hostIP': pod.status?.hostIP,
      };
      const v = fp in extra ? (extra[fp] ?? '') : fieldRefValue(pod, fp);
      if (typeof v === 'string') env.set(e.name, v);
    }
  }
  return env;
}

/** upstream's expansion: $(VAR) from `env`, $$ as a literal $, unknown references kept as written. */
function expand(s: string, env: Map<string, string>, missing?: Set<string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name: string | undefined) => {
    if (name === undefined) return '$';
    const v = env.get(name);
    if (v === undefined || v === '') missing?.add(name);
    return v ?? all;
  });
}

/** subPathExpr: every referenced variable must have a value (upstream ExpandContainerVolumeMounts). */
export function expandSubPathExpr(expr: string, env: Map<string, string>): Outcome<string> {
  const missing = new Set<string>();
  const out = expand(expr, env, missing);
  if (missing.size) return { error: `missing value for ${[...missing].sort().join(', ')}` };
  return out;
}
