// Deployments end to end (integration: apiserver, controller manager, simulated nodes,
// the test binder) driven with the real kubectl: rolling updates within maxSurge /
// maxUnavailable at every observed point, Recreate, rollback with revisions and
// history, `kubectl rollout status|history|undo|restart|pause|resume` and `scale` as
// upstream prints them, progress deadlines, revision history cleanup.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { KObject } from '../src/api/object.ts';
import { Informer } from '../src/client/informer.ts';
import { ref } from '../src/client/resources.ts';
import { builtinControllers } from '../src/controllers/manager.ts';
import { activePods, eventually, makeDeployment, startControllerTestCluster, type ControllerTestCluster } from '../src/controllers/testing.ts';
import { kubectlFor, type Kubectl } from './harness.ts';

const READY_LATER = { 'sim.skiff.dev/ready-seconds': '0.3' };

describe('Deployment controller (kubectl, simulated nodes)', () => {
  let c: ControllerTestCluster;
  let kubectl: Kubectl;
  const ok = async (...args: string[]) => {
    const r = await kubectl(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const deployment = (name: string) => c.client.get(ref.deployments, 'default', name);
  const complete = (name: string, timeoutMs = 30_000) =>
    c.waitFor(ref.deployments, 'default', name, (d) => {
      const s = d?.status ?? {};
      const n = d?.spec?.replicas;
      return !!d && s.observedGeneration >= d.metadata.generation! && s.updatedReplicas === n && s.replicas === n && s.availableReplicas === n;
    }, timeoutMs);

  before(async () => {
    c = await startControllerTestCluster({ nodes: 4 });
    c.startControllers(builtinControllers());
    kubectl = kubectlFor(c.server.kubeconfigPath, path.join(c.dir, 'home'));
  });
  after(async () => await c?.close());

  it('rolls 10 replicas from v1 to v2 without exceeding maxSurge or dropping below maxUnavailable at any observed point', async (t) => {
    await c.client.create(ref.deployments, 'default', makeDeployment('roll').replicas(10).build());
    await complete('roll');
    // Observe every pod and ReplicaSet change while v2 rolls out.
    const ac = new AbortController();
    t.after(() => ac.abort());
    const pods = new Informer(c.client, ref.pods, { labelSelector: 'app=roll' });
    const rss = new Informer(c.client, ref.replicasets, { labelSelector: 'app=roll' });
    const seen = { maxActive: 0, minReady: Infinity, maxSpec: 0, minAvailable: Infinity, samples: 0 };
    let synced = false;
    const checkPods = () => {
      if (!synced) return;
      const list = pods.lister.list();
      const active = list.filter((p) => !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
      const ready = active.filter((p) => p.status?.conditions?.some((x: any) => x.type === 'Ready' && x.status === 'True'));
      seen.maxActive = Math.max(seen.maxActive, active.length);
      seen.minReady = Math.min(seen.minReady, ready.length);
      seen.samples++;
    };
    const checkRSs = () => {
      if (!synced) return;
      const list = rss.lister.list();
      seen.maxSpec = Math.max(seen.maxSpec, list.reduce((n, r) => n + (r.spec?.replicas ?? 0), 0));
      seen.minAvailable = Math.min(seen.minAvailable, list.reduce((n, r) => n + (r.status?.availableReplicas ?? 0), 0));
    };
    pods.addEventHandler({ onAdd: checkPods, onUpdate: checkPods, onDelete: checkPods });
    rss.addEventHandler({ onAdd: checkRSs, onUpdate: checkRSs, onDelete: checkRSs });
    pods.start(ac.signal);
    rss.start(ac.signal);
    await pods.waitForSync();
    await rss.waitForSync();
    synced = true;
    checkPods();
    checkRSs();
    const v2 = makeDeployment('roll').replicas(10).image('nginx:1.28').build().spec.template;
    v2.metadata.annotations = { ...v2.metadata.annotations, ...READY_LATER };
    await c.client.patch(ref.deployments, 'default', 'roll', 'merge', { spec: { template: v2 } });
    await complete('roll');
    // The last scale-down's pods are still terminating for a moment: let the observers see them go.
    await eventually(async () => (await c.client.list(ref.pods, 'default', { labelSelector: 'app=roll' })).items.length === 10);
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    // 25% of 10: maxSurge rounds up to 3, maxUnavailable down to 2.
    assert.ok(seen.samples > 20, `observed ${seen.samples} pod states`);
    assert.ok(seen.maxActive <= 13, `at most 13 pods at once, saw ${seen.maxActive}`);
    assert.ok(seen.maxActive > 10, `the rollout surged (saw at most ${seen.maxActive} pods)`);
    assert.ok(seen.minReady >= 8, `at least 8 ready pods at all times, saw ${seen.minReady}`);
    assert.ok(seen.maxSpec <= 13, `ReplicaSets asked for at most 13, saw ${seen.maxSpec}`);
    assert.ok(seen.minAvailable >= 8, `ReplicaSets reported at least 8 available, saw ${seen.minAvailable}`);
    const final = await activePods(c.client, 'default', 'app=roll');
    assert.equal(final.length, 10);
    assert.ok(final.every((p) => p.spec.containers[0].image === 'nginx:1.28'));
    const events = await c.events('default', 'roll', 'ScalingReplicaSet');
    assert.match(events[0], /^Scaled up replica set roll-[bcdfghjklmnpqrstvwxz2456789]+ from 0 to 10$/);
    assert.match(events[1], /^Scaled up replica set roll-[bcdfghjklmnpqrstvwxz2456789]+ from 0 to 3$/);
    assert.match(events[2], /^Scaled down replica set roll-[bcdfghjklmnpqrstvwxz2456789]+ from 10 to 8$/);
    const d = await deployment('roll');
    assert.equal(d.metadata.annotations!['deployment.kubernetes.io/revision'], '2');
    assert.deepEqual(
      d.status.conditions.map((x: any) => [x.type, x.status, x.reason]),
      [
        ['Available', 'True', 'MinimumReplicasAvailable'],
        ['Progressing', 'True', 'NewReplicaSetAvailable'],
      ],
    );
  });

  it('kubectl rollout status prints upstream\'s progress lines and finishes', async () => {
    await ok('create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=4');
    await ok('rollout', 'status', 'deployment/web', '--timeout=60s');
    await ok('set', 'image', 'deployment/web', 'nginx=nginx:1.28');
    const out = await ok('rollout', 'status', 'deployment/web', '--timeout=60s');
    const lines = out.trim().split('\n');
    assert.equal(lines.at(-1), 'deployment "web" successfully rolled out');
    for (const l of lines.slice(0, -1)) {
      assert.match(
        l,
        /^Waiting for deployment "web" rollout to finish: (\d+ out of 4 new replicas have been updated|\d+ old replicas are pending termination|\d+ of \d+ updated replicas are available)\.\.\.$|^Waiting for deployment spec update to be observed\.\.\.$/,
      );
    }
  });

  it('rollout history, undo and undo --to-revision keep revisions as upstream', async () => {
    await ok('annotate', 'deployment/web', 'kubernetes.io/change-cause=image 1.28');
    await ok('set', 'image', 'deployment/web', 'nginx=nginx:1.29');
    await ok('annotate', 'deployment/web', 'kubernetes.io/change-cause=image 1.29', '--overwrite');
    await ok('rollout', 'status', 'deployment/web', '--timeout=60s');
    let history = await ok('rollout', 'history', 'deployment/web');
    assert.match(history, /^deployment\.apps\/web\s*\nREVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+image 1\.28\n3\s+image 1\.29\n/);
    assert.match(await ok('rollout', 'undo', 'deployment/web'), /^deployment\.apps\/web rolled back\n$/);
    await ok('rollout', 'status', 'deployment/web', '--timeout=60s');
    let d = await deployment('web');
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.28');
    assert.equal(d.metadata.annotations!['deployment.kubernetes.io/revision'], '4');
    history = await ok('rollout', 'history', 'deployment/web');
    assert.match(history, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n3\s+image 1\.29\n4\s+image 1\.28\n/);
    // The ReplicaSet rolled back to carries its previous revision in revision-history.
    const rsList = await c.client.list(ref.replicasets, 'default', { labelSelector: 'app=web' });
    const back = rsList.items.find((r) => r.metadata.annotations?.['deployment.kubernetes.io/revision'] === '4')!;
    assert.equal(back.metadata.annotations!['deployment.kubernetes.io/revision-history'], '2');
    assert.equal(back.spec.template.spec.containers[0].image, 'nginx:1.28');
    assert.match(await ok('rollout', 'undo', 'deployment/web', '--to-revision=1'), /rolled back/);
    await ok('rollout', 'status', 'deployment/web', '--timeout=60s');
    d = await deployment('web');
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.27');
    assert.equal(d.metadata.annotations!['deployment.kubernetes.io/revision'], '5');
    assert.equal((await activePods(c.client, 'default', 'app=web')).filter((p) => p.spec.containers[0].image === 'nginx:1.27').length, 4);
    // Only one ReplicaSet of the deployment has replicas.
    const rsAfter = await c.client.list(ref.replicasets, 'default', { labelSelector: 'app=web' });
    assert.deepEqual(rsAfter.items.filter((r) => r.spec.replicas > 0).map((r) => r.metadata.annotations!['deployment.kubernetes.io/revision']), ['5']);
  });

  it('rollout restart, pause and resume, and scale behave as upstream', async () => {
    assert.match(await ok('rollout', 'restart', 'deployment/web'), /^deployment\.apps\/web restarted\n$/);
    await ok('rollout', 'status', 'deployment/web', '--timeout=60s');
    const d = await deployment('web');
    assert.ok(d.spec.template.metadata.annotations['kubectl.kubernetes.io/restartedAt']);
    assert.equal(d.metadata.annotations!['deployment.kubernetes.io/revision'], '6');

    assert.match(await ok('rollout', 'pause', 'deployment/web'), /^deployment\.apps\/web paused\n$/);
    await ok('set', 'image', 'deployment/web', 'nginx=nginx:1.30');
    const paused = await c.waitFor(ref.deployments, 'default', 'web', (o) => o?.status?.conditions?.some((x: any) => x.type === 'Progressing' && x.reason === 'DeploymentPaused'));
    assert.equal(paused!.status.conditions.find((x: any) => x.type === 'Progressing').status, 'Unknown');
    // Paused: scaling still applies, the template change does not roll out.
    assert.match(await ok('scale', 'deployment/web', '--replicas=6'), /^deployment\.apps\/web scaled\n$/);
    await eventually(async () => (await activePods(c.client, 'default', 'app=web')).length === 6 || undefined);
    assert.ok((await activePods(c.client, 'default', 'app=web')).every((p) => p.spec.containers[0].image === 'nginx:1.27'));
    assert.match(await ok('rollout', 'resume', 'deployment/web'), /^deployment\.apps\/web resumed\n$/);
    await ok('rollout', 'status', 'deployment/web', '--timeout=60s');
    const pods = await activePods(c.client, 'default', 'app=web');
    assert.equal(pods.length, 6);
    assert.ok(pods.every((p) => p.spec.containers[0].image === 'nginx:1.30'));
    const out = await ok('get', 'deployment', 'web');
    assert.match(out.split('\n')[1], /^web\s+6\/6\s+6\s+6\s+\S+$/);
  });

  it('Recreate removes every old pod before creating new ones', async (t) => {
    await c.client.create(ref.deployments, 'default', makeDeployment('rec').replicas(3).recreate().build());
    await complete('rec');
    const ac = new AbortController();
    t.after(() => ac.abort());
    const pods = new Informer(c.client, ref.pods, { labelSelector: 'app=rec' });
    let mixed = false;
    const check = () => {
      const images = new Set(pods.lister.list().map((p) => p.spec.containers[0].image));
      if (images.size > 1) mixed = true;
    };
    pods.addEventHandler({ onAdd: check, onUpdate: check, onDelete: check });
    pods.start(ac.signal);
    await pods.waitForSync();
    await c.client.patch(ref.deployments, 'default', 'rec', 'strategic', { spec: { template: { spec: { containers: [{ name: 'app', image: 'nginx:1.28' }] } } } });
    await complete('rec');
    ac.abort();
    assert.equal(mixed, false, 'old and new pods never existed at the same time');
    assert.deepEqual(await c.events('default', 'rec', 'ScalingReplicaSet').then((e) => e.map((m) => m.replace(/rec-\w+/, 'rec-*'))), [
      'Scaled up replica set rec-* from 0 to 3',
      'Scaled down replica set rec-* from 3 to 0',
      'Scaled up replica set rec-* from 0 to 3',
    ]);
  });

  it('reports ProgressDeadlineExceeded when a rollout stalls, and rollout status fails with upstream\'s message', async () => {
    await c.client.create(ref.deployments, 'default', makeDeployment('stuck').replicas(2).progressDeadlineSeconds(2).build());
    await complete('stuck');
    // v2 pods never become ready (a readiness gate nobody sets).
    await c.client.patch(ref.deployments, 'default', 'stuck', 'strategic', { spec: { template: { spec: { readinessGates: [{ conditionType: 'example.com/never' }] } } } });
    const d = await c.waitFor(ref.deployments, 'default', 'stuck', (o) => o?.status?.conditions?.some((x: any) => x.type === 'Progressing' && x.reason === 'ProgressDeadlineExceeded'), 20_000);
    const cond = d!.status.conditions.find((x: any) => x.type === 'Progressing');
    assert.equal(cond.status, 'False');
    assert.match(cond.message, /^ReplicaSet "stuck-\w+" has timed out progressing\.$/);
    const r = await kubectl(['rollout', 'status', 'deployment/stuck', '--timeout=20s']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /error: deployment "stuck" exceeded its progress deadline/);
    // Still available: the old pods were kept (maxUnavailable 25% of 2 is 0, surge 1).
    assert.equal(d!.status.conditions.find((x: any) => x.type === 'Available').status, 'True');
  });

  it('keeps only revisionHistoryLimit old ReplicaSets', async () => {
    await c.client.create(ref.deployments, 'default', makeDeployment('hist').replicas(1).revisionHistoryLimit(2).build());
    await complete('hist');
    for (const tag of ['a', 'b', 'c', 'd']) {
      await c.client.patch(ref.deployments, 'default', 'hist', 'strategic', { spec: { template: { spec: { containers: [{ name: 'app', image: `nginx:${tag}` }] } } } });
      await complete('hist');
    }
    const rss = await eventually(async () => {
      const l = await c.client.list(ref.replicasets, 'default', { labelSelector: 'app=hist' });
      return l.items.length === 3 ? l.items : undefined;
    });
    assert.deepEqual(rss.map((r: KObject) => r.metadata.annotations!['deployment.kubernetes.io/revision']).sort(), ['3', '4', '5']);
  });

  it('scales proportionally in the middle of a rollout', async () => {
    await c.client.create(ref.deployments, 'default', makeDeployment('prop').replicas(10).rollingUpdate(3, 0).progressDeadlineSeconds(600).build());
    await complete('prop');
    // New pods never become ready: the rollout stops with 3 new (surge) and 10 old.
    await c.client.patch(ref.deployments, 'default', 'prop', 'strategic', { spec: { template: { spec: { readinessGates: [{ conditionType: 'example.com/never' }] } } } });
    await eventually(async () => {
      const l = await c.client.list(ref.replicasets, 'default', { labelSelector: 'app=prop' });
      return l.items.length === 2 && l.items.map((r) => r.spec.replicas).sort((a, b) => a - b).join() === '3,10' && l.items.every((r) => r.status.replicas === r.spec.replicas);
    });
    await c.client.patch(ref.deployments, 'default', 'prop', 'merge', { spec: { replicas: 20 } });
    // 13 → 23 allowed: +10 split by size, as upstream (larger first, leftovers to the largest).
    const l = await eventually(async () => {
      const list = await c.client.list(ref.replicasets, 'default', { labelSelector: 'app=prop' });
      const sizes = list.items.map((r) => r.spec.replicas).sort((a, b) => a - b);
      return sizes[0] + sizes[1] === 23 ? sizes : undefined;
    });
    assert.deepEqual(l, [5, 18]);
  });
});
