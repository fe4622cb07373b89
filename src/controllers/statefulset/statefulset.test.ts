// StatefulSet controller scenarios on simulated nodes (integration tier: a real
// apiserver, the sim kubelet, the test binder standing in for the scheduler).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { Informer } from '../../client/informer.ts';
import { ref } from '../../client/resources.ts';
import { eventually, FAST_STOP, startControllerTestCluster, type ControllerTestCluster, type RunningControllers } from '../testing.ts';
import { statefulSetController } from './controller.ts';

function makeStatefulSet(name: string, opts: { replicas: number; parallel?: boolean; claims?: boolean; partition?: number; onDelete?: boolean; retention?: { whenDeleted?: string; whenScaled?: string }; image?: string }): KObject {
  const labels = { app: name };
  const spec: Record<string, any> = {
    replicas: opts.replicas,
    serviceName: name,
    selector: { matchLabels: labels },
    podManagementPolicy: opts.parallel ? 'Parallel' : 'OrderedReady',
    template: {
      metadata: { labels, annotations: { ...FAST_STOP } },
      spec: { terminationGracePeriodSeconds: 1, containers: [{ name: 'nginx', image: opts.image ?? 'nginx:1.27', ...(opts.claims ? { volumeMounts: [{ name: 'www', mountPath: '/usr/share/nginx/html' }] } : {}) }] },
    },
    updateStrategy: opts.onDelete ? { type: 'OnDelete' } : { type: 'RollingUpdate', rollingUpdate: { partition: opts.partition ?? 0 } },
  };
  if (opts.claims) {
    spec.volumeClaimTemplates = [{ metadata: { name: 'www' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } } }];
  }
  if (opts.retention) spec.persistentVolumeClaimRetentionPolicy = { whenDeleted: 'Retain', whenScaled: 'Retain', ...opts.retention };
  return { apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name, namespace: 'default' }, spec };
}

/** Records, in order, when each pod of `app` was created, became Running and Ready, started terminating and went away. */
class PodTimeline {
  readonly log: string[] = [];
  private readonly seen = new Map<string, { ready: boolean; terminating: boolean }>();
  readonly informer: Informer;
  constructor(c: ControllerTestCluster, app: string) {
    this.informer = new Informer(c.client, ref.pods, { namespace: 'default', labelSelector: `app=${app}`, minBackoffMs: 20, maxBackoffMs: 200 });
    const look = (p: KObject) => {
      const name = p.metadata.name!;
      let s = this.seen.get(name);
      if (!s) {
        s = { ready: false, terminating: false };
        this.seen.set(name, s);
        this.log.push(`create ${name}`);
      }
      const ready = p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((x: any) => x.type === 'Ready' && x.status === 'True');
      if (ready && !s.ready) this.log.push(`ready ${name}`);
      s.ready = ready;
      if (p.metadata.deletionTimestamp && !s.terminating) {
        s.terminating = true;
        this.log.push(`terminate ${name}`);
      }
    };
    this.informer.addEventHandler({
      onAdd: look,
      onUpdate: (_o, p) => look(p),
      onDelete: (p) => {
        if (!this.seen.get(p.metadata.name!)?.terminating) this.log.push(`terminate ${p.metadata.name}`);
        this.seen.delete(p.metadata.name!);
        this.log.push(`gone ${p.metadata.name}`);
      },
    });
  }
  /** The entries for `verb`, in order. */
  of(verb: string): string[] {
    return this.log.filter((l) => l.startsWith(verb + ' ')).map((l) => l.slice(verb.length + 1));
  }
  index(entry: string): number {
    return this.log.indexOf(entry);
  }
}

describe('statefulset controller', () => {
  let c: ControllerTestCluster;
  let cm: RunningControllers;
  const ac = new AbortController();

  before(async () => {
    c = await startControllerTestCluster({ nodes: 3 });
    cm = c.startControllers([statefulSetController], { log: process.env.DEBUG_CONTROLLERS ? (m, f) => console.log(m, JSON.stringify(f)) : undefined });
    await cm.manager.whenReady();
  });
  after(async () => {
    ac.abort();
    await cm?.stop();
    await c?.close();
  });

  const scale = (name: string, replicas: number) => c.client.patch(ref.statefulsets, 'default', name, 'merge', { spec: { replicas } });
  const podNames = async (app: string) => (await c.client.list(ref.pods, 'default', { labelSelector: `app=${app}` })).items.map((p) => p.metadata.name!).sort();

  it('OrderedReady: scales 0→3 in ordinal order, each pod Running and Ready before the next, then 3→0 in reverse', async () => {
    const t = new PodTimeline(c, 'web');
    t.informer.start(ac.signal);
    await t.informer.waitForSync(ac.signal);
    await c.client.create(ref.statefulsets, 'default', makeStatefulSet('web', { replicas: 0, claims: true }));
    await c.waitFor(ref.statefulsets, 'default', 'web', (s) => s?.status?.observedGeneration === 1);
    await scale('web', 3);
    const set = await c.waitFor(ref.statefulsets, 'default', 'web', (s) => s?.status?.readyReplicas === 3 && s.status.replicas === 3);

    assert.deepEqual(t.of('create'), ['web-0', 'web-1', 'web-2']);
    assert.ok(t.index('ready web-0') < t.index('create web-1'), `web-1 waits for web-0: ${t.log.join(', ')}`);
    assert.ok(t.index('ready web-1') < t.index('create web-2'), `web-2 waits for web-1: ${t.log.join(', ')}`);

    // Identity and storage.
    const pod = await c.client.get(ref.pods, 'default', 'web-1');
    assert.equal(pod.spec.hostname, 'web-1');
    assert.equal(pod.spec.subdomain, 'web');
    assert.equal(pod.metadata.labels!['statefulset.kubernetes.io/pod-name'], 'web-1');
    assert.equal(pod.metadata.labels!['apps.kubernetes.io/pod-index'], '1');
    assert.equal(pod.metadata.labels!['controller-revision-hash'], set!.status.updateRevision);
    assert.deepEqual(pod.spec.volumes.find((v: any) => v.name === 'www'), { name: 'www', persistentVolumeClaim: { claimName: 'www-web-1' } });
    assert.deepEqual(pod.metadata.ownerReferences?.map((r) => [r.kind, r.name, r.controller]), [['StatefulSet', 'web', true]]);
    const claims = (await c.client.list(ref.persistentvolumeclaims, 'default')).items.map((p) => p.metadata.name).sort();
    assert.deepEqual(claims, ['www-web-0', 'www-web-1', 'www-web-2']);
    const claim = await c.client.get(ref.persistentvolumeclaims, 'default', 'www-web-0');
    assert.equal(claim.metadata.labels!.app, 'web');
    assert.equal(claim.status?.phase ?? 'Pending', 'Pending', 'no provisioner: claims stay unbound');

    // Status and revisions.
    assert.equal(set!.status.currentRevision, set!.status.updateRevision);
    assert.match(set!.status.updateRevision, /^web-[bcdfghjklmnpqrstvwxz2456789]+$/);
    assert.equal(set!.status.currentReplicas, 3);
    assert.equal(set!.status.updatedReplicas, 3);
    assert.equal(set!.status.availableReplicas, 3);
    const revs = await c.client.list(ref.controllerrevisions, 'default', { labelSelector: 'app=web' });
    assert.deepEqual(revs.items.map((r) => [r.metadata.name, r.revision]), [[set!.status.updateRevision, 1]]);

    const events = await c.events('default', 'web', 'SuccessfulCreate');
    assert.ok(events.includes('create Pod web-0 in StatefulSet web successful'), events.join('\n'));
    assert.ok(events.includes('create Claim www-web-0 Pod web-0 in StatefulSet web success'), events.join('\n'));

    await scale('web', 0);
    await c.waitFor(ref.statefulsets, 'default', 'web', (s) => s?.status?.replicas === 0 && s.status.observedGeneration === 3);
    await eventually(async () => (await podNames('web')).length === 0, 20_000, 'pods gone');
    assert.deepEqual(t.of('terminate'), ['web-2', 'web-1', 'web-0']);
    assert.ok(t.index('gone web-2') < t.index('terminate web-1'), `web-1 waits for web-2 to go: ${t.log.join(', ')}`);
    assert.ok(t.index('gone web-1') < t.index('terminate web-0'), `web-0 waits for web-1 to go: ${t.log.join(', ')}`);
    const deletes = await c.events('default', 'web', 'SuccessfulDelete');
    assert.deepEqual(deletes.slice(-3), ['delete Pod web-2 in StatefulSet web successful', 'delete Pod web-1 in StatefulSet web successful', 'delete Pod web-0 in StatefulSet web successful']);
    // Claims are retained (whenScaled: Retain).
    assert.equal((await c.client.list(ref.persistentvolumeclaims, 'default')).items.length, 3);
  });

  it('Parallel: creates every pod at once and recreates a deleted one with the same name', async () => {
    const t = new PodTimeline(c, 'par');
    t.informer.start(ac.signal);
    await t.informer.waitForSync(ac.signal);
    await c.client.create(ref.statefulsets, 'default', makeStatefulSet('par', { replicas: 3, parallel: true }));
    await c.waitFor(ref.statefulsets, 'default', 'par', (s) => s?.status?.readyReplicas === 3);
    assert.deepEqual([...t.of('create')].sort(), ['par-0', 'par-1', 'par-2']);
    assert.ok(t.index('create par-2') < t.index('ready par-0') || t.index('create par-1') < t.index('ready par-0'), `created without waiting: ${t.log.join(', ')}`);
    const before = await c.client.get(ref.pods, 'default', 'par-1');
    await c.client.delete(ref.pods, 'default', 'par-1');
    await eventually(async () => {
      try {
        const p = await c.client.get(ref.pods, 'default', 'par-1');
        return p.metadata.uid !== before.metadata.uid && p.status?.phase === 'Running';
      } catch {
        return false;
      }
    }, 20_000, 'par-1 recreated');
  });

  it('RollingUpdate with a partition updates from the highest ordinal down to it, then completes at partition 0', async () => {
    const t = new PodTimeline(c, 'ru');
    t.informer.start(ac.signal);
    await t.informer.waitForSync(ac.signal);
    await c.client.create(ref.statefulsets, 'default', makeStatefulSet('ru', { replicas: 3, partition: 1 }));
    const v1 = await c.waitFor(ref.statefulsets, 'default', 'ru', (s) => s?.status?.readyReplicas === 3);
    const rev1 = v1!.status.currentRevision;
    await c.client.patch(ref.statefulsets, 'default', 'ru', 'merge', { spec: { template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.28' }] } } } });
    const v2 = await c.waitFor(ref.statefulsets, 'default', 'ru', (s) => s?.status?.updatedReplicas === 2 && s.status.readyReplicas === 3 && s.status.observedGeneration === 2);
    assert.equal(v2!.status.currentRevision, rev1, 'the partition holds the current revision');
    assert.notEqual(v2!.status.updateRevision, rev1);
    assert.equal(v2!.status.currentReplicas, 1);
    const image = async (n: string) => (await c.client.get(ref.pods, 'default', n)).spec.containers[0].image;
    assert.deepEqual([await image('ru-0'), await image('ru-1'), await image('ru-2')], ['nginx:1.27', 'nginx:1.28', 'nginx:1.28']);
    assert.ok(t.index('terminate ru-2') < t.index('terminate ru-1'), `highest ordinal first: ${t.log.join(', ')}`);
    const recreated2 = t.log.lastIndexOf('ready ru-2');
    assert.ok(recreated2 < t.index('terminate ru-1'), `ru-1 waits for the new ru-2 to be ready: ${t.log.join(', ')}`);

    await c.client.patch(ref.statefulsets, 'default', 'ru', 'merge', { spec: { updateStrategy: { rollingUpdate: { partition: 0 } } } });
    const v3 = await c.waitFor(ref.statefulsets, 'default', 'ru', (s) => s?.status?.updatedReplicas === 3 && s.status.readyReplicas === 3 && s.status.currentRevision === s.status.updateRevision);
    assert.equal(v3!.status.currentReplicas, 3);
    assert.equal(await image('ru-0'), 'nginx:1.28');
    const revs = (await c.client.list(ref.controllerrevisions, 'default', { labelSelector: 'app=ru' })).items;
    assert.deepEqual(revs.map((r) => r.revision).sort(), [1, 2]);

    // Rolling back to the first template re-uses revision 1's object as revision 3.
    await c.client.patch(ref.statefulsets, 'default', 'ru', 'merge', { spec: { template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.27' }] } } } });
    const v4 = await c.waitFor(ref.statefulsets, 'default', 'ru', (s) => s !== undefined && s.status?.updateRevision === rev1 && s.status.currentRevision === rev1 && s.status.updatedReplicas === 3 && s.status.readyReplicas === 3);
    assert.ok(v4);
    const after = (await c.client.list(ref.controllerrevisions, 'default', { labelSelector: 'app=ru' })).items;
    assert.equal(after.length, 2);
    assert.equal(after.find((r) => r.metadata.name === rev1)?.revision, 3);
  });

  it('OnDelete: a template change waits for pods to be deleted by hand', async () => {
    await c.client.create(ref.statefulsets, 'default', makeStatefulSet('od', { replicas: 2, onDelete: true }));
    await c.waitFor(ref.statefulsets, 'default', 'od', (s) => s?.status?.readyReplicas === 2);
    await c.client.patch(ref.statefulsets, 'default', 'od', 'merge', { spec: { template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.28' }] } } } });
    const s = await c.waitFor(ref.statefulsets, 'default', 'od', (x) => x?.status?.observedGeneration === 2);
    assert.equal(s!.status.updatedReplicas ?? 0, 0);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await c.client.get(ref.pods, 'default', 'od-1')).spec.containers[0].image, 'nginx:1.27');
    await c.client.delete(ref.pods, 'default', 'od-1');
    await eventually(async () => {
      try {
        return (await c.client.get(ref.pods, 'default', 'od-1')).spec.containers[0].image === 'nginx:1.28';
      } catch {
        return false;
      }
    }, 20_000, 'od-1 recreated at the update revision');
    await c.waitFor(ref.statefulsets, 'default', 'od', (x) => x?.status?.updatedReplicas === 1 && x.status.currentReplicas === 1 && x.status.readyReplicas === 2);
  });

  it('persistentVolumeClaimRetentionPolicy: claims owned by the set (whenDeleted) and by condemned pods (whenScaled)', async () => {
    await c.client.create(ref.statefulsets, 'default', makeStatefulSet('db', { replicas: 2, claims: true, retention: { whenDeleted: 'Delete', whenScaled: 'Delete' } }));
    const set = await c.waitFor(ref.statefulsets, 'default', 'db', (s) => s?.status?.readyReplicas === 2);
    const owners = async (n: string) => (await c.client.get(ref.persistentvolumeclaims, 'default', n)).metadata.ownerReferences?.map((r) => `${r.kind}/${r.name}`) ?? [];
    assert.deepEqual(await owners('www-db-0'), ['StatefulSet/db']);
    assert.deepEqual(await owners('www-db-1'), ['StatefulSet/db']);
    const uid = set!.metadata.uid;
    assert.equal((await c.client.get(ref.persistentvolumeclaims, 'default', 'www-db-0')).metadata.ownerReferences?.[0].uid, uid);
    const pod1 = await c.client.get(ref.pods, 'default', 'db-1');
    await scale('db', 1);
    // Before db-1 goes, its claim is handed to it, so the garbage collector deletes the claim with it.
    await eventually(async () => {
      const o = await c.client.get(ref.persistentvolumeclaims, 'default', 'www-db-1');
      return o.metadata.ownerReferences?.length === 1 && o.metadata.ownerReferences[0].kind === 'Pod' && o.metadata.ownerReferences[0].uid === pod1.metadata.uid;
    }, 20_000, 'www-db-1 owned by pod db-1');
    assert.deepEqual(await owners('www-db-0'), ['StatefulSet/db']);
    await c.waitFor(ref.statefulsets, 'default', 'db', (s) => s?.status?.replicas === 1);
  });
});
