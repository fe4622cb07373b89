// Unit tier: managedFields on every write and server-side apply, as kube-apiserver 1.32
// records and answers them: ownership, conflicts and their 409 texts, forcing, removal of
// fields a manager stopped applying, the client-side-apply upgrade, /scale as a manager.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StatusError } from '../../api/errors.ts';
import type { KObject } from '../../api/object.ts';
import type { JSONObject, JSONValue } from '../patch/values.ts';
import {
  defaultManager,
  LAST_APPLIED_ANNOTATION,
  patchOptionsError,
  recordUpdate,
  serverSideApply,
  type ServerSideApplyOptions,
  withoutCommon,
} from './fieldmanager.ts';
import type { ManagedFieldsEntry } from './managedfields.ts';
import { type TypeRef, typeFor, withGoFields } from './schema.ts';
import { FieldSet } from './fieldpath.ts';
import { compare, scalarChanges } from './typed.ts';

type Obj = Record<string, any>;

const DEPLOYMENT = { group: 'apps', version: 'v1', kind: 'Deployment' };
const CONFIGMAP = { group: '', version: 'v1', kind: 'ConfigMap' };
const T0 = '2024-05-01T10:00:00Z';
const T1 = '2024-05-01T10:01:00Z';
const T2 = '2024-05-01T10:02:00Z';

/** A Deployment manifest, as a user writes it; `with` changes fields fluently. */
class Manifest {
  obj: Obj;
  constructor() {
    this.obj = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }] } },
      },
    };
  }
  replicas(n: number | undefined): this {
    if (n === undefined) delete this.obj.spec.replicas;
    else this.obj.spec.replicas = n;
    return this;
  }
  image(image: string): this {
    this.obj.spec.template.spec.containers[0].image = image;
    return this;
  }
  label(k: string, v: string | undefined): this {
    const labels = (this.obj.metadata.labels ??= {});
    if (v === undefined) delete labels[k];
    else labels[k] = v;
    return this;
  }
  container(c: Obj): this {
    this.obj.spec.template.spec.containers.push(c);
    return this;
  }
  build(): KObject {
    return structuredClone(this.obj) as KObject;
  }
}
const manifest = () => new Manifest();

/** What the store would hold after a write: server fields set, as the registry sets them. */
function stored(obj: KObject): KObject {
  const o = structuredClone(obj);
  o.metadata.uid ??= 'uid-1';
  o.metadata.resourceVersion = String(Number(o.metadata.resourceVersion ?? 0) + 1);
  return o;
}

function apply(current: KObject | undefined, applied: KObject, manager = 'kubectl', extra: Partial<ServerSideApplyOptions> = {}): KObject {
  return stored(serverSideApply({ gvk: DEPLOYMENT, current, applied, manager, force: false, now: T1, ...extra }));
}

function update(old: KObject | undefined, next: KObject, manager: string, extra: Obj = {}): KObject {
  const n = structuredClone(next);
  recordUpdate({ gvk: DEPLOYMENT, old, next: n, manager, now: T2, ...extra });
  return stored(n);
}

function entries(o: KObject): ManagedFieldsEntry[] {
  return (o.metadata.managedFields ?? []) as ManagedFieldsEntry[];
}

function entry(o: KObject, manager: string, operation?: string): ManagedFieldsEntry | undefined {
  return entries(o).find((e) => e.manager === manager && (!operation || e.operation === operation));
}

function conflictOf(fn: () => unknown): StatusError {
  try {
    fn();
  } catch (e) {
    if (e instanceof StatusError) return e;
    throw e;
  }
  assert.fail('expected a StatusError');
}

describe('recordUpdate', () => {
  test('a create is compared with the Go zero value: no "." under value structs, "." on new maps and items', () => {
    const next = manifest().label('app', 'web').build();
    next.spec.template.spec.containers[0].ports = [{ containerPort: 80, protocol: 'TCP' }];
    next.spec.template.spec.containers[0].resources = {};
    next.spec.strategy = { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } };
    recordUpdate({ gvk: DEPLOYMENT, next, manager: 'kubectl-create', now: T0 });
    assert.deepEqual(next.metadata.managedFields, [
      {
        manager: 'kubectl-create',
        operation: 'Update',
        apiVersion: 'apps/v1',
        time: T0,
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
          'f:spec': {
            'f:replicas': {},
            'f:selector': {},
            'f:strategy': { 'f:rollingUpdate': { '.': {}, 'f:maxSurge': {}, 'f:maxUnavailable': {} }, 'f:type': {} },
            'f:template': {
              'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
              'f:spec': {
                'f:containers': {
                  'k:{"name":"nginx"}': {
                    '.': {},
                    'f:image': {},
                    'f:name': {},
                    'f:ports': { '.': {}, 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {}, 'f:protocol': {} } },
                    'f:resources': {},
                  },
                },
              },
            },
          },
        },
      },
    ]);
  });

  test('an update takes the fields it changes from their owner; an unchanged write leaves entries and times alone', () => {
    const created = update(undefined, manifest().build(), 'kubectl-create');
    const edited = update(created, manifest().image('nginx:1.26').build(), 'kubectl-edit');
    assert.deepEqual(entry(edited, 'kubectl-edit')!.fieldsV1, { 'f:spec': { 'f:template': { 'f:spec': { 'f:containers': { 'k:{"name":"nginx"}': { 'f:image': {} } } } } } });
    assert.ok(!JSON.stringify(entry(edited, 'kubectl-create')!.fieldsV1).includes('f:image'));
    const again = structuredClone(edited);
    recordUpdate({ gvk: DEPLOYMENT, old: edited, next: again, manager: 'kubectl-edit', now: '2030-01-01T00:00:00Z' });
    assert.deepEqual(again.metadata.managedFields, edited.metadata.managedFields);
  });

  test('removing a field drops it from every owner; empty entries go', () => {
    const created = update(undefined, manifest().label('tier', 'fe').build(), 'kubectl-create');
    const labeled = update(created, manifest().label('tier', 'be').build(), 'kubectl-label');
    const unlabeled = update(labeled, manifest().label('tier', undefined).build(), 'kubectl-label');
    assert.equal(entry(unlabeled, 'kubectl-label'), undefined);
    assert.ok(!JSON.stringify(unlabeled.metadata.managedFields).includes('tier'));
  });

  test('an object never tracked stays untracked on update; managedFields sent by the client are taken; [] resets', () => {
    const untracked = stored(manifest().build());
    assert.equal(update(untracked, manifest().replicas(3).build(), 'kubectl-edit').metadata.managedFields, undefined);

    const created = update(undefined, manifest().build(), 'kubectl-create');
    const migrated = manifest().build();
    migrated.metadata.managedFields = [{ ...entries(created)[0], manager: 'kubectl', operation: 'Apply' }];
    const out = update(created, migrated, 'kubectl');
    assert.deepEqual(
      entries(out).map((e) => [e.manager, e.operation]),
      [['kubectl', 'Apply']],
    );
    // [] clears them, and an existing object without them stays untracked.
    const reset = manifest().replicas(5).build();
    reset.metadata.managedFields = [];
    assert.equal(update(created, reset, 'kubectl-edit').metadata.managedFields, undefined);
  });

  test('status writes own status only; object writes of a kind with /status never own status', () => {
    const created = update(undefined, manifest().build(), 'kubectl-create');
    const withStatus = { ...structuredClone(created), status: { replicas: 2, readyReplicas: 2 } };
    const statusWrite = update(created, withStatus, 'kube-controller-manager', { subresource: 'status' });
    assert.deepEqual(entry(statusWrite, 'kube-controller-manager'), {
      manager: 'kube-controller-manager',
      operation: 'Update',
      apiVersion: 'apps/v1',
      time: T2,
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:status': { 'f:readyReplicas': {}, 'f:replicas': {} } },
      subresource: 'status',
    });
  });

  test('more than ten Update managers: the oldest merge into ancient-changes', () => {
    let obj = update(undefined, manifest().build(), 'creator');
    for (let i = 0; i < 11; i++) {
      const next = manifest().label(`l${i}`, 'x').build();
      for (let j = 0; j < i; j++) next.metadata.labels![`l${j}`] = 'x';
      const n = structuredClone(next);
      recordUpdate({ gvk: DEPLOYMENT, old: obj, next: n, manager: `m${i}`, now: `2024-05-01T11:${String(i).padStart(2, '0')}:00Z` });
      obj = stored(n);
    }
    const managers = entries(obj).map((e) => e.manager);
    assert.equal(managers.length, 10);
    assert.ok(managers.includes('ancient-changes'));
    assert.ok(!managers.includes('creator') && !managers.includes('m0') && !managers.includes('m1'));
  });

  test('heartbeats (a writer re-setting only fields it alone owns) record exactly what the general path records', () => {
    // A write that sends back the stored managedFields takes the general path (decode, compare,
    // encode); the same write without them may take the shortcut. Both must store the same.
    // Returns the object as the shortcut stored it, and whether the shortcut was taken (it
    // keeps the stored field sets as they are; the general path encodes new ones).
    const both = (old: KObject, next: KObject, manager: string, extra: Obj = {}): [KObject, boolean] => {
      const fast = structuredClone(next);
      delete fast.metadata.managedFields;
      recordUpdate({ gvk: DEPLOYMENT, old, next: fast, manager, now: '2024-05-01T12:00:00Z', ...extra });
      const general = structuredClone(next);
      delete general.metadata.managedFields;
      recordUpdate({ gvk: DEPLOYMENT, old, next: general, manager, now: '2024-05-01T12:00:00Z', ...extra, shortcut: false });
      assert.deepEqual(fast.metadata.managedFields, general.metadata.managedFields);
      assert.equal(JSON.stringify(fast.metadata.managedFields), JSON.stringify(general.metadata.managedFields), 'same key order');
      const took = entries(fast).some((e) => entries(old).some((o) => o.fieldsV1 === e.fieldsV1));
      return [fast, took];
    };
    // A Deployment with three managers: creator, an image editor (older than creator's next
    // write), a status writer with conditions keyed by type.
    const created = update(undefined, manifest().label('tier', 'fe').build(), 'creator');
    const edited = update(created, manifest().label('tier', 'fe').image('nginx:1.26').build(), 'editor');
    const withStatus = { ...structuredClone(edited), status: { replicas: 2, conditions: [{ type: 'Available', status: 'True', lastUpdateTime: T0 }, { type: 'Progressing', status: 'True', lastUpdateTime: T0 }] } };
    const statused = update(edited, withStatus, 'kube-controller-manager', { subresource: 'status' });

    // The editor re-sets its image: its entry is stamped and moves after the others (time order).
    const image = structuredClone(statused);
    image.spec.template.spec.containers[0].image = 'nginx:1.27';
    const [renewed, took] = both(statused, image, 'editor');
    assert.ok(took, 'a heartbeat takes the shortcut');
    assert.equal(entry(renewed, 'editor')!.time, '2024-05-01T12:00:00Z');
    assert.equal(entries(renewed).at(-1)!.manager, 'editor');
    // A status heartbeat: a condition's timestamp, owned by the status writer alone.
    const beat = structuredClone(statused);
    beat.status.conditions[1].lastUpdateTime = T1;
    const [beaten, tookBeat] = both(statused, beat, 'kube-controller-manager', { subresource: 'status' });
    assert.ok(tookBeat);
    assert.equal(entry(beaten, 'kube-controller-manager')!.time, '2024-05-01T12:00:00Z');
    // A scalar its writer alone owns (the creator's label; read off the pair, no field sets).
    const ownLabel = structuredClone(statused);
    ownLabel.metadata.labels!.tier = 'be';
    const [relabeledByOwner, tookOwn] = both(statused, ownLabel, 'creator');
    assert.ok(tookOwn);
    assert.equal(entry(relabeledByOwner, 'creator')!.time, '2024-05-01T12:00:00Z');
    // A write to the object that changes only status changes nothing the writer can own.
    const statusOnly = structuredClone(statused);
    statusOnly.status.replicas = 3;
    assert.ok(!both(statused, statusOnly, 'kube-controller-manager')[1]);
    // Everything else takes the general path: a field another manager owns (creator's label),
    // a field nobody owned yet, a removal, a writer without an entry.
    const relabeled = structuredClone(statused);
    relabeled.metadata.labels!.tier = 'be';
    const [taken, tookLabel] = both(statused, relabeled, 'editor');
    assert.ok(!tookLabel);
    assert.ok(JSON.stringify(entry(taken, 'editor')!.fieldsV1).includes('f:tier'));
    const paused = structuredClone(statused);
    paused.spec.paused = true;
    assert.ok(!both(statused, paused, 'editor')[1]);
    const removed = structuredClone(statused);
    delete removed.metadata.labels;
    assert.ok(!both(statused, removed, 'creator')[1]);
    const scaled = structuredClone(statused);
    scaled.spec.replicas = 5;
    assert.ok(!both(statused, scaled, 'newcomer')[1]);
    // A stored key in another form than the canonical one still names the same condition: a
    // writer whose own entry holds it is not its sole owner when another entry holds it so.
    const odd = structuredClone(statused);
    const creator = entries(odd).find((e) => e.manager === 'creator')!;
    (creator.fieldsV1 as Obj)['f:status'] = { 'f:conditions': { 'k:{ "type" : "Progressing" }': { '.': {}, 'f:lastUpdateTime': {} } } };
    const oddBeat = structuredClone(odd);
    oddBeat.status.conditions[1].lastUpdateTime = T1;
    const [shared, tookShared] = both(odd, oddBeat, 'kube-controller-manager', { subresource: 'status' });
    assert.ok(!tookShared);
    assert.ok(!JSON.stringify(entry(shared, 'creator')!.fieldsV1).includes('lastUpdateTime'), 'taken from the other owner');
  });

  test('writes are compared on what they changed only, with the result of comparing the whole objects', () => {
    // recordUpdate compares the pair withoutCommon leaves; it must give the same removed,
    // modified and added sets as comparing the whole objects. Random edits (set, delete,
    // add a key, append to or drop from a list) of a Node, a Deployment and a Pod.
    const comparison = (b: JSONValue, a: JSONValue, t: TypeRef) => compare(withGoFields(b, t), withGoFields(a, t), t);
    const node = {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1', zone: 'a' }, annotations: { a: 'b' } },
      spec: { podCIDR: '10.0.0.0/24', podCIDRs: ['10.0.0.0/24'], taints: [{ key: 'k', effect: 'NoSchedule' }] },
      status: {
        capacity: { cpu: '4', memory: '16Gi', pods: '110' },
        allocatable: { cpu: '4', memory: '15Gi', pods: '110' },
        conditions: ['MemoryPressure', 'DiskPressure', 'Ready'].map((type) => ({ type, status: 'False', lastHeartbeatTime: T0, lastTransitionTime: T0, reason: 'R', message: 'm' })),
        addresses: [{ type: 'InternalIP', address: '10.1.1.1' }, { type: 'Hostname', address: 'n1' }],
        daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
        nodeInfo: { machineID: 'm', kernelVersion: '6', osImage: 'x', operatingSystem: 'linux', architecture: 'amd64' },
        images: [{ names: ['a:1', 'a@sha'], sizeBytes: 10 }],
      },
    };
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'default', labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'u' }] },
      spec: {
        containers: [
          { name: 'a', image: 'nginx', ports: [{ containerPort: 80, protocol: 'TCP' }], env: [{ name: 'E', value: '1' }], resources: { limits: { cpu: '1' } } },
          { name: 'b', image: 'busybox', command: ['sleep', '1'] },
        ],
        volumes: [{ name: 'v', emptyDir: {} }],
        nodeSelector: { disk: 'ssd' },
      },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], podIPs: [{ ip: '10.0.0.5' }] },
    };
    const fixtures: [JSONObject, TypeRef][] = [
      [node, typeFor({ group: '', version: 'v1', kind: 'Node' })],
      [manifest().label('tier', 'fe').build() as unknown as JSONObject, typeFor(DEPLOYMENT)],
      [pod as unknown as JSONObject, typeFor({ group: '', version: 'v1', kind: 'Pod' })],
    ];
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    /** Every object and list in `v`, with `v` itself. */
    const containers = (v: JSONValue, out: (JSONObject | JSONValue[])[] = []) => {
      if (v !== null && typeof v === 'object') {
        out.push(v);
        for (const x of Array.isArray(v) ? v : Object.values(v)) containers(x, out);
      }
      return out;
    };
    const edit = (o: JSONObject) => {
      const all = containers(o);
      const c = all[random(all.length)];
      if (Array.isArray(c)) {
        if (c.length && random(2)) c.splice(random(c.length), 1);
        else c.push(structuredClone(c[0] ?? 'x'));
      } else {
        const keys = Object.keys(c);
        const k = keys[random(keys.length)];
        const r = random(3);
        if (r === 0 || k === undefined) c[`new${random(3)}`] = random(2) ? 'v' : { x: 'y' };
        else if (r === 1) delete c[k];
        else c[k] = typeof c[k] === 'string' ? `${c[k]}-` : 'changed';
      }
    };
    let nonEmpty = 0;
    let scalarOnly = 0;
    for (const [fixture, t] of fixtures) {
      for (let i = 0; i < 300; i++) {
        const after = structuredClone(fixture);
        for (let n = 1 + random(3); n > 0; n--) edit(after);
        const [pb, pa] = withoutCommon(fixture, after) ?? [{}, {}];
        const whole = comparison(fixture, after, t);
        const pruned = comparison(pb, pa, t);
        for (const k of ['removed', 'modified', 'added'] as const) {
          assert.ok(pruned[k].equals(whole[k]), `${fixture.kind} edit ${i}, ${k}: ${pruned[k]} != ${whole[k]}\n${JSON.stringify(after)}`);
        }
        if (!whole.modified.union(whole.added).union(whole.removed).empty()) nonEmpty++;
        // Where scalarChanges reads the changes off the pair, they are compare()'s: modified leaves only.
        const leaves = scalarChanges(pb, pa, t);
        if (leaves) {
          scalarOnly++;
          assert.ok(whole.removed.empty() && whole.added.empty(), `${fixture.kind} edit ${i}: scalarChanges on a pair that adds or removes`);
          assert.ok(FieldSet.of(...leaves).equals(whole.modified), `${fixture.kind} edit ${i}: ${FieldSet.of(...leaves)} != ${whole.modified}`);
        }
      }
    }
    assert.ok(nonEmpty > 800, `most edits change something (${nonEmpty})`);
    assert.ok(scalarOnly > 20, `some edits only change scalars (${scalarOnly})`);
    // A node status heartbeat leaves only the changed timestamps to compare.
    const beat = structuredClone(node);
    beat.status.conditions[2].lastHeartbeatTime = T1;
    assert.deepEqual(withoutCommon(node, beat), [{ status: { conditions: node.status.conditions } }, { status: { conditions: beat.status.conditions } }]);
    // Undefined is absent: on both sides (or one side lacking the key) it is no change.
    assert.equal(withoutCommon({ a: { b: undefined } } as unknown as JSONObject, { a: {} }), undefined);
    assert.deepEqual(withoutCommon({ a: { b: 1 } }, { a: { b: undefined } } as unknown as JSONObject), [{ a: { b: 1 } }, { a: {} }]);
    assert.deepEqual(withoutCommon({ a: { b: undefined } } as unknown as JSONObject, { a: { b: 2 } }), [{ a: {} }, { a: { b: 2 } }]);
  });

  test('/scale: a change of replicas moves them to the scaling manager (subresource scale, no time)', () => {
    const created = apply(undefined, manifest().build());
    const scaled = update(created, { ...structuredClone(created), spec: { ...created.spec, replicas: 5 } }, 'kubectl', { subresource: 'scale' });
    assert.deepEqual(entry(scaled, 'kubectl', 'Update'), {
      manager: 'kubectl',
      operation: 'Update',
      apiVersion: 'apps/v1',
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:spec': { 'f:replicas': {} } },
      subresource: 'scale',
    });
    assert.ok(!JSON.stringify(entry(scaled, 'kubectl', 'Apply')!.fieldsV1).includes('f:replicas'));
    // Scaling to the same count changes nothing.
    const same = update(scaled, structuredClone(scaled), 'other', { subresource: 'scale' });
    assert.deepEqual(same.metadata.managedFields, scaled.metadata.managedFields);
  });
});

describe('serverSideApply', () => {
  test('creates: the object is the configuration, owned by one Apply entry', () => {
    const out = apply(undefined, manifest().label('app', 'web').build());
    assert.equal(out.spec.replicas, 2);
    assert.deepEqual(entries(out), [
      {
        manager: 'kubectl',
        operation: 'Apply',
        apiVersion: 'apps/v1',
        time: T1,
        fieldsType: 'FieldsV1',
        fieldsV1: {
          'f:metadata': { 'f:labels': { 'f:app': {} } },
          'f:spec': {
            'f:replicas': {},
            'f:selector': {},
            'f:template': {
              'f:metadata': { 'f:labels': { 'f:app': {} } },
              'f:spec': { 'f:containers': { 'k:{"name":"nginx"}': { '.': {}, 'f:image': {}, 'f:name': {} } } },
            },
          },
        },
      },
    ]);
  });

  test('re-applying the same configuration changes nothing, not even the time', () => {
    const first = apply(undefined, manifest().build());
    const again = serverSideApply({ gvk: DEPLOYMENT, current: first, applied: manifest().build(), manager: 'kubectl', force: false, now: T2 });
    assert.deepEqual(again, { ...first });
  });

  test('a changed configuration is merged; fields no longer applied are removed unless another manager owns them', () => {
    const first = apply(undefined, manifest().label('a', '1').label('b', '2').container({ name: 'side', image: 'busybox' }).build());
    const other = update(first, { ...structuredClone(first), metadata: { ...first.metadata, labels: { ...first.metadata.labels, b: '3' } } }, 'kubectl-label');
    const second = apply(other, manifest().image('nginx:1.26').build());
    assert.equal(second.spec.template.spec.containers.length, 1);
    assert.equal(second.spec.template.spec.containers[0].image, 'nginx:1.26');
    assert.deepEqual(second.metadata.labels, { b: '3' });
    assert.equal(entry(second, 'kubectl', 'Apply')!.time, T1);
  });

  test('a removed optional field with a server default is removed (the caller re-defaults it)', () => {
    const first = apply(undefined, manifest().build());
    assert.equal(apply(first, manifest().replicas(undefined).build()).spec.replicas, undefined);
  });

  test('conflicts: 409 naming each field and its manager; force takes the fields over', () => {
    const created = update(undefined, manifest().build(), 'kubectl-client-side-apply');
    const one = conflictOf(() => apply(created, manifest().replicas(3).build(), 'ci'));
    assert.equal(one.code, 409);
    assert.equal(one.reason, 'Conflict');
    assert.equal(one.message, 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas');
    assert.deepEqual(one.status.details, {
      causes: [{ reason: 'FieldManagerConflict', message: 'conflict with "kubectl-client-side-apply" using apps/v1', field: '.spec.replicas' }],
    });

    const two = conflictOf(() => apply(created, manifest().replicas(3).image('nginx:2').build(), 'ci'));
    assert.equal(
      two.message,
      'Apply failed with 2 conflicts: conflicts with "kubectl-client-side-apply" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name="nginx"].image',
    );

    const forced = apply(created, manifest().replicas(3).build(), 'ci', { force: true });
    assert.equal(forced.spec.replicas, 3);
    assert.ok(JSON.stringify(entry(forced, 'ci')!.fieldsV1).includes('f:replicas'));
    assert.ok(!JSON.stringify(entry(forced, 'kubectl-client-side-apply')!.fieldsV1).includes('f:replicas'));
  });

  test('applying the value another manager set is no conflict: both own the field', () => {
    const created = update(undefined, manifest().build(), 'kubectl-create');
    const out = apply(created, manifest().build(), 'ci');
    assert.ok(JSON.stringify(entry(out, 'ci')!.fieldsV1).includes('f:replicas'));
    assert.ok(JSON.stringify(entry(out, 'kubectl-create')!.fieldsV1).includes('f:replicas'));
  });

  test('kubectl scale then a non-forced apply of other replicas: conflict with the /scale manager', () => {
    const created = apply(undefined, manifest().build());
    const scaled = update(created, { ...structuredClone(created), spec: { ...created.spec, replicas: 5 } }, 'kubectl', { subresource: 'scale' });
    const err = conflictOf(() => apply(scaled, manifest().replicas(3).build()));
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas');
    const forced = apply(scaled, manifest().replicas(3).build(), 'kubectl', { force: true });
    assert.equal(forced.spec.replicas, 3);
    assert.equal(entry(forced, 'kubectl', 'Update'), undefined);
  });

  test('over a client-side-applied object, kubectl takes the fields that still hold their last-applied value', () => {
    const csa = manifest().build();
    csa.metadata.annotations = { [LAST_APPLIED_ANNOTATION]: JSON.stringify(manifest().build()) + '\n' };
    const created = update(undefined, csa, 'kubectl-client-side-apply');
    const out = apply(created, manifest().image('nginx:1.26').build());
    assert.equal(out.spec.template.spec.containers[0].image, 'nginx:1.26');
    assert.ok(!JSON.stringify(entry(out, 'kubectl-client-side-apply')!.fieldsV1).includes('f:image'));
    // The annotation now records what kubectl applied (sorted keys, as upstream encodes it).
    assert.equal(
      out.metadata.annotations![LAST_APPLIED_ANNOTATION],
      '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"},"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"nginx:1.26","name":"nginx"}]}}}}\n',
    );
    // Another manager gets no such pass.
    const err = conflictOf(() => apply(created, manifest().image('nginx:1.26').build(), 'ci'));
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.template.spec.containers[name="nginx"].image');
    // A field changed since (kubectl scale) no longer matches last-applied: a real conflict.
    const scaled = update(created, { ...structuredClone(created), spec: { ...created.spec, replicas: 4 } }, 'kubectl', { subresource: 'scale' });
    const scaleErr = conflictOf(() => apply(scaled, manifest().replicas(3).build()));
    assert.equal(scaleErr.message, 'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas');
  });

  test('the first apply to an untracked object attributes what was there to before-first-apply', () => {
    const untracked = stored(manifest().build());
    const err = conflictOf(() => apply(untracked, manifest().replicas(9).build()));
    assert.equal(err.message, 'Apply failed with 1 conflict: conflict with "before-first-apply" using apps/v1: .spec.replicas');
  });

  test('list types: sets merge by value, atomic lists are replaced and owned whole', () => {
    const a = manifest().build();
    a.metadata.finalizers = ['example.com/a'];
    a.spec.template.spec.containers[0].args = ['--one'];
    const first = apply(undefined, a, 'one');
    const b = manifest().build();
    b.metadata.finalizers = ['example.com/b'];
    const second = apply(first, b, 'two');
    assert.deepEqual(second.metadata.finalizers, ['example.com/a', 'example.com/b']);
    assert.deepEqual(entry(second, 'two')!.fieldsV1!['f:metadata'], { 'f:finalizers': { 'v:"example.com/b"': {} } });
    const c = manifest().build();
    c.spec.template.spec.containers[0].args = ['--two'];
    assert.equal(conflictOf(() => apply(second, c, 'three')).message, 'Apply failed with 1 conflict: conflict with "one": .spec.template.spec.containers[name="nginx"].args');
  });

  test('custom resources without a schema merge as granular maps', () => {
    const gvk = { group: 'example.com', version: 'v1', kind: 'Widget' };
    const w = (spec: Obj) => ({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' }, spec }) as KObject;
    const first = stored(serverSideApply({ gvk, applied: w({ size: 1, color: 'red' }), manager: 'a', force: false, now: T0 }));
    assert.deepEqual(entry(first, 'a')!.fieldsV1, { 'f:spec': { '.': {}, 'f:color': {}, 'f:size': {} } });
    const second = serverSideApply({ gvk, current: first, applied: w({ shape: 'round' }), manager: 'b', force: false, now: T1 });
    assert.deepEqual(second.spec, { size: 1, color: 'red', shape: 'round' });
  });

  test('bad configurations: another kind (400), managedFields set (400), fields the schema lacks (500)', () => {
    const wrongKind = { ...manifest().build(), kind: 'ReplicaSet' };
    let err = conflictOf(() => apply(undefined, wrongKind));
    assert.deepEqual([err.code, err.message], [400, 'invalid object type: apps/v1, Kind=ReplicaSet']);
    const withMF = manifest().build();
    withMF.metadata.managedFields = [];
    err = conflictOf(() => apply(undefined, withMF));
    assert.deepEqual([err.code, err.message], [400, 'metadata.managedFields must be nil']);
    const unknown = manifest().build();
    unknown.spec.replica = 1;
    err = conflictOf(() => apply(undefined, unknown));
    assert.equal(err.code, 500);
    assert.equal(err.reason, undefined);
    assert.equal(err.message, 'failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.replica: field not declared in schema');
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, dat: {} } as KObject;
    err = conflictOf(() => serverSideApply({ gvk: CONFIGMAP, applied: cm, manager: 'kubectl', force: false, now: T0 }));
    assert.equal(err.message, 'failed to create typed patch object (/c; /v1, Kind=ConfigMap): .dat: field not declared in schema');
  });
});

describe('request options', () => {
  test('defaultManager: the user agent up to its first slash', () => {
    assert.equal(defaultManager('kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07'), 'kubectl');
    assert.equal(defaultManager('kube-controller-manager/v1.32.0 (linux/amd64) kubernetes/x/system:serviceaccount:kube-system:deployment-controller'), 'kube-controller-manager');
    assert.equal(defaultManager('curl/8.5.0'), 'curl');
    assert.equal(defaultManager(undefined), '');
    assert.equal(defaultManager('a\u0000b'), 'ab');
    assert.equal(defaultManager('x'.repeat(200)).length, 128);
  });

  test('an unnamed manager is recorded as "unknown"', () => {
    const next = manifest().build();
    recordUpdate({ gvk: DEPLOYMENT, next, manager: '', now: T0 });
    assert.equal(entries(next)[0].manager, 'unknown');
  });

  test('patchOptionsError: apply needs a manager, only apply may force', () => {
    assert.equal(patchOptionsError({ apply: true, fieldManager: 'kubectl', force: false }), undefined);
    assert.equal(patchOptionsError({ apply: true })!.message, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
    assert.equal(patchOptionsError({ apply: false, force: true })!.message, 'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch');
    assert.equal(patchOptionsError({ apply: false, fieldManager: 'x'.repeat(129) })!.code, 422);
  });
});
