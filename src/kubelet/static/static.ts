// Static pods (--pod-manifest-path): manifests in a directory run on this node without
// the API, and each gets a mirror pod in the API so users see it (annotation
// kubernetes.io/config.mirror, owned by the Node). As upstream: the pod's name is
// `<name>-<nodeName>`, its uid a hash of the manifest and the node name, its
// config.hash annotation that uid; a changed manifest is a new pod.

import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KObject } from '../../api/object.ts';
import { isStatusError } from '../../api/errors.ts';
import { ref } from '../../client/resources.ts';
import type { Client } from '../../client/types.ts';
import type { Logger } from '../../client/util.ts';
import { rfc3339 } from '../nodestatus.ts';
import * as L from '../pods/labels.ts';

export const STATIC_POLL_MS = 2000;

/** The static pods a manifest directory holds now (unreadable or invalid files are logged and skipped). */
export function readManifests(dir: string, nodeName: string, log: Logger): KObject[] {
  if (!existsSync(dir)) return [];
  const out: KObject[] = [];
  for (const f of readdirSync(dir).sort()) {
    if (f.startsWith('.') || !/\.(ya?ml|json)$/.test(f)) continue;
    const file = path.join(dir, f);
    try {
      if (!statSync(file).isFile()) continue;
      const text = readFileSync(file, 'utf8');
      for (const doc of parseAllDocuments(text)) {
        const obj = doc.toJS() as KObject | null;
        if (!obj) continue;
        if (obj.kind !== 'Pod' || obj.apiVersion !== 'v1' || !obj.metadata?.name) throw new Error('not a v1 Pod with a name');
        out.push(staticPod(obj, nodeName, file));
      }
    } catch (e) {
      log('static pod manifest skipped', { file, error: (e as Error).message });
    }
  }
  return out;
}

function uuidFrom(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** A manifest as the kubelet runs it: name suffixed with the node, uid and hash from its content. */
export function staticPod(manifest: KObject, nodeName: string, source: string): KObject {
  const pod = structuredClone(manifest);
  pod.metadata.name = `${manifest.metadata.name}-${nodeName}`;
  pod.metadata.namespace ??= 'default';
  const hash = createHash('md5').update(JSON.stringify(manifest)).update(nodeName).update(source).digest('hex');
  pod.metadata.uid = uuidFrom(hash);
  pod.metadata.annotations = { ...(pod.metadata.annotations ?? {}), [L.CONFIG_HASH]: hash, [L.CONFIG_SOURCE]: 'file', [L.CONFIG_SEEN]: rfc3339(Date.now()) };
  pod.spec ??= {};
  pod.spec.nodeName = nodeName;
  pod.spec.restartPolicy ??= 'Always';
  pod.spec.dnsPolicy ??= 'ClusterFirst';
  pod.spec.terminationGracePeriodSeconds ??= 30;
  pod.spec.enableServiceLinks ??= true;
  pod.status = {};
  return pod;
}

/** The mirror pod the API gets for a static pod. */
export function mirrorPod(pod: KObject, node: { name: string; uid: string }): KObject {
  const m = structuredClone(pod);
  delete m.metadata.uid;
  delete m.status;
  m.apiVersion = 'v1';
  m.kind = 'Pod';
  m.metadata.annotations = { ...m.metadata.annotations, [L.CONFIG_MIRROR]: pod.metadata.annotations![L.CONFIG_HASH] };
  m.metadata.ownerReferences = [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid, controller: true }];
  return m;
}

export function isMirrorPod(pod: KObject): boolean {
  return !!pod.metadata.annotations?.[L.CONFIG_MIRROR];
}

export interface StaticPodSourceOptions {
  dir: string;
  nodeName: string;
  client: Client;
  nodeUID: () => string | undefined;
  /** The mirror pod as the kubelet's informer has it. */
  mirrorOf: (namespace: string, name: string) => KObject | undefined;
  /** The desired static pods changed: run these (by uid), stop the rest. */
  onPods: (pods: KObject[]) => void;
  log: Logger;
}

/**
 * Watches the directory (fs.watch plus a poll, as editors replace files) and keeps the
 * mirror pods in line: created when missing, recreated when the manifest changed,
 * deleted when the manifest is gone.
 */
export function startStaticPods(opts: StaticPodSourceOptions, signal: AbortSignal): { resync(): void } {
  let known = new Map<string, KObject>();
  let watcher: FSWatcher | undefined;
  const sync = async () => {
    const pods = readManifests(opts.dir, opts.nodeName, opts.log);
    const next = new Map(pods.map((p) => [p.metadata.uid!, p]));
    // keep the running objects (their status) for unchanged manifests
    for (const [uid, p] of known) if (next.has(uid)) next.set(uid, p);
    const removed = [...known.values()].filter((p) => !next.has(p.metadata.uid!));
    known = next;
    opts.onPods([...next.values()]);
    const nodeUID = opts.nodeUID();
    for (const p of removed) {
      if (pods.some((x) => x.metadata.name === p.metadata.name && x.metadata.namespace === p.metadata.namespace)) continue;
      await opts.client.delete(ref.pods, p.metadata.namespace, p.metadata.name!, { gracePeriodSeconds: 0 }).catch(() => undefined);
    }
    if (!nodeUID) return;
    for (const p of next.values()) {
      const mirror = opts.mirrorOf(p.metadata.namespace!, p.metadata.name!);
      const hash = p.metadata.annotations![L.CONFIG_HASH];
      try {
        if (mirror && (mirror.metadata.annotations?.[L.CONFIG_MIRROR] !== hash || mirror.metadata.deletionTimestamp)) {
          await opts.client.delete(ref.pods, mirror.metadata.namespace, mirror.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: mirror.metadata.uid } });
        } else if (!mirror) {
          await opts.client.create(ref.pods, p.metadata.namespace, mirrorPod(p, { name: opts.nodeName, uid: nodeUID }));
        }
      } catch (e) {
        if (!(isStatusError(e) && (e.code === 409 || e.code === 404))) opts.log('mirror pod sync failed', { pod: p.metadata.name, error: (e as Error).message });
      }
    }
  };
  let running = false;
  let again = false;
  const trigger = () => {
    if (signal.aborted) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    void sync()
      .catch((e) => opts.log('static pods sync failed', { error: (e as Error).message }))
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          trigger();
        }
      });
  };
  try {
    if (existsSync(opts.dir)) watcher = watch(opts.dir, () => trigger());
  } catch {}
  const timer = setInterval(trigger, STATIC_POLL_MS);
  signal.addEventListener('abort', () => {
    clearInterval(timer);
    watcher?.close();
  }, { once: true });
  trigger();
  return { resync: trigger };
}
