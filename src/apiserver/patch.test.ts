// Unit tier: the PATCH verb's three formats, checked against the RFC examples and against
// the request bodies kubectl sends, with the Status codes and texts kube-apiserver answers.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StatusError } from '../api/errors.ts';
import { applyPatch, patchTypeFromContentType, type PatchOptions, type PatchType } from './patch.ts';

const DEPLOYMENT: PatchOptions = { group: 'apps', version: 'v1', kind: 'Deployment' };
const POD: PatchOptions = { group: '', version: 'v1', kind: 'Pod' };
const NODE: PatchOptions = { group: '', version: 'v1', kind: 'Node' };
const CONFIGMAP: PatchOptions = { group: '', version: 'v1', kind: 'ConfigMap' };
const SCALE: PatchOptions = { group: 'autoscaling', version: 'v1', kind: 'Scale' };
const WIDGET: PatchOptions = { group: 'example.com', version: 'v1', kind: 'Widget' };

type Obj = Record<string, any>;

/** A pod as the store holds it; `spec` fields override the defaults. */
function pod(spec: Obj = {}, metadata: Obj = {}): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default', labels: { app: 'web' }, ...metadata },
    spec: { containers: [{ name: 'app', image: 'nginx:1.25' }], ...spec },
  };
}

/** A deployment whose pod template has `podSpec` (merged over one nginx container). */
function deployment(podSpec: Obj = {}, spec: Obj = {}): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'default', labels: { app: 'web' }, annotations: { team: 'a' } },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: '25%' } },
      template: {
        metadata: { labels: { app: 'web' } },
        spec: { containers: [{ name: 'nginx', image: 'nginx:1.25' }], ...podSpec },
      },
      ...spec,
    },
  };
}

function patch(type: PatchType, original: Obj, body: unknown, opts: PatchOptions = POD): Obj {
  return applyPatch(type, original, typeof body === 'string' ? body : JSON.stringify(body), opts);
}

const smp = (original: Obj, body: unknown, opts: PatchOptions = POD): Obj => patch('strategic', original, body, opts);

/** Asserts the call throws a StatusError with this code, reason (undefined: none) and message. */
function assertStatus(fn: () => unknown, code: number, reason: string | undefined, message: string | RegExp): StatusError {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof StatusError, `expected a StatusError, got ${String(err)}`);
  assert.equal(err.status.code, code, err.status.message);
  assert.equal(err.status.reason, reason);
  if (typeof message === 'string') assert.equal(err.status.message, message);
  else assert.match(err.status.message ?? '', message);
  return err;
}

const names = (list: Obj[]): string[] => list.map((c) => c.name);

describe('patchTypeFromContentType', () => {
  test('maps the three patch media types, ignoring parameters', () => {
    assert.equal(patchTypeFromContentType('application/json-patch+json'), 'json');
    assert.equal(patchTypeFromContentType('application/merge-patch+json; charset=utf-8'), 'merge');
    assert.equal(patchTypeFromContentType('application/strategic-merge-patch+json'), 'strategic');
  });

  test('server-side apply and plain JSON are not patch types here', () => {
    assert.equal(patchTypeFromContentType('application/apply-patch+yaml'), undefined);
    assert.equal(patchTypeFromContentType('application/json'), undefined);
    assert.equal(patchTypeFromContentType(''), undefined);
  });
});

describe('JSON patch (RFC 6902)', () => {
  const jp = (original: Obj, ops: unknown): Obj => patch('json', original, ops);

  test('A.1 adding an object member', () => {
    assert.deepEqual(jp({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }]), { foo: 'bar', baz: 'qux' });
  });

  test('A.2 adding an array element', () => {
    assert.deepEqual(jp({ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }]), { foo: ['bar', 'qux', 'baz'] });
  });

  test('A.3 / A.4 removing an object member and an array element', () => {
    assert.deepEqual(jp({ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }]), { foo: 'bar' });
    assert.deepEqual(jp({ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }]), { foo: ['bar', 'baz'] });
  });

  test('A.5 replacing a value', () => {
    assert.deepEqual(jp({ baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }]), { baz: 'boo', foo: 'bar' });
  });

  test('A.6 / A.7 moving a value and an array element', () => {
    assert.deepEqual(
      jp({ foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } }, [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }]),
      { foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } },
    );
    assert.deepEqual(jp({ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }]), {
      foo: ['all', 'cows', 'eat', 'grass'],
    });
  });

  test('A.8 testing a value: success', () => {
    const doc = { baz: 'qux', foo: ['a', 2, 'c'] };
    assert.deepEqual(jp(doc, [{ op: 'test', path: '/baz', value: 'qux' }, { op: 'test', path: '/foo/1', value: 2 }]), doc);
  });

  test('A.9 / A.15 a failed test is 422 Invalid with the generic text upstream answers', () => {
    const err = assertStatus(
      () => jp({ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }]),
      422,
      'Invalid',
      'the server rejected our request due to an error in our request',
    );
    assert.deepEqual(err.status.details, {});
    assert.equal(err.cause, 'testing value /baz failed: test failed');
    // A.15: a string never equals a number.
    assertStatus(() => jp({ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: '10' }]), 422, 'Invalid', /rejected our request/);
  });

  test('A.10 / A.16 adding a nested member object and an array value', () => {
    assert.deepEqual(jp({ foo: 'bar' }, [{ op: 'add', path: '/child', value: { grandchild: {} } }]), { foo: 'bar', child: { grandchild: {} } });
    assert.deepEqual(jp({ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }]), { foo: ['bar', ['abc', 'def']] });
  });

  test('A.11 unrecognized members of an operation are ignored', () => {
    assert.deepEqual(jp({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux', xyz: 123 }]), { foo: 'bar', baz: 'qux' });
  });

  test('A.12 adding to a nonexistent parent fails', () => {
    const err = assertStatus(() => jp({ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }]), 422, 'Invalid', /rejected our request/);
    assert.equal(err.cause, 'add operation does not apply: doc is missing path: "/baz/bat": missing value');
  });

  test('A.14 ~0 and ~1 escapes decode in the right order', () => {
    assert.deepEqual(jp({ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }, { op: 'remove', path: '/~1' }]), { '~1': 10 });
  });

  test('copy, and `-` appends', () => {
    assert.deepEqual(jp({ a: { b: [1] }, c: [] }, [{ op: 'copy', from: '/a/b', path: '/c/-' }, { op: 'add', path: '/c/-', value: 2 }]), {
      a: { b: [1] },
      c: [[1], 2],
    });
  });

  test('removing a missing path is 422', () => {
    const err = assertStatus(() => jp({ metadata: {} }, [{ op: 'remove', path: '/metadata/labels' }]), 422, 'Invalid', /rejected/);
    assert.equal(err.cause, "error in remove for path: '/metadata/labels': Unable to remove nonexistent key: labels: missing value");
    const idx = assertStatus(() => jp({ a: [1] }, [{ op: 'remove', path: '/a/1' }]), 422, 'Invalid', /rejected/);
    assert.equal(idx.cause, "error in remove for path: '/a/1': Unable to access invalid index: 1: invalid index referenced");
  });

  test('the library upstream uses lets replace add a missing key and index arrays from the end', () => {
    assert.deepEqual(jp({ a: 1 }, [{ op: 'replace', path: '/b', value: 2 }]), { a: 1, b: 2 });
    assert.deepEqual(jp({ a: [1, 2, 3] }, [{ op: 'remove', path: '/a/-1' }]), { a: [1, 2] });
  });

  test('kubectl rollout undo: replace /spec/template and /metadata/annotations', () => {
    const d = deployment();
    const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'nginx', image: 'nginx:1.24' }] } };
    const out = patch(
      'json',
      d,
      [
        { op: 'replace', path: '/spec/template', value: template },
        { op: 'replace', path: '/metadata/annotations', value: { 'deployment.kubernetes.io/revision': '1' } },
      ],
      DEPLOYMENT,
    );
    assert.deepEqual(out.spec.template, template);
    assert.deepEqual(out.metadata.annotations, { 'deployment.kubernetes.io/revision': '1' });
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.25', 'original untouched');
  });

  test('malformed bodies are 400 with the decoder text', () => {
    assertStatus(() => patch('json', {}, '[{"op":'), 400, 'BadRequest', 'error decoding patch: unexpected end of JSON input');
    assertStatus(
      () => patch('json', {}, '[{op: "add"}]'),
      400,
      'BadRequest',
      "error decoding patch: invalid character 'o' looking for beginning of object key string",
    );
    assertStatus(
      () => patch('json', {}, '{"op":"add"}'),
      400,
      'BadRequest',
      'error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp',
    );
    assertStatus(
      () => patch('json', {}, '[{"op":"add","path":5}]'),
      400,
      'BadRequest',
      'error decoding patch: json: cannot unmarshal number into Go struct field jsonPatchOp.path of type string',
    );
  });

  test('an unknown op is 422', () => {
    const err = assertStatus(() => jp({}, [{ op: 'frobnicate', path: '/a' }]), 422, 'Invalid', /rejected/);
    assert.equal(err.cause, 'Unexpected kind: frobnicate');
  });

  test('more than 10000 operations is 413', () => {
    const ops = JSON.stringify(Array.from({ length: 10001 }, () => ({ op: 'test', path: '/a', value: 1 })));
    assertStatus(
      () => patch('json', { a: 1 }, ops),
      413,
      'RequestEntityTooLarge',
      'Request entity too large: The allowed maximum operations in a JSON patch is 10000, got 10001',
    );
  });

  test('replacing the whole document by an array cannot decode: 422', () => {
    assertStatus(() => jp({ a: 1 }, [{ op: 'replace', path: '', value: [1] }]), 422, 'Invalid', /^ "" is invalid: patch: Invalid value: "\[1\]": couldn't get version\/kind/);
  });
});

describe('merge patch (RFC 7386)', () => {
  const mp = (original: Obj, body: unknown): Obj => patch('merge', original, body);

  test('the RFC 7386 appendix examples (object targets)', () => {
    const cases: [Obj, unknown, Obj][] = [
      [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
      [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
      [{ a: 'b' }, { a: null }, {}],
      [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
      [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
      [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
      [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
      [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
      [{ e: null }, { a: 1 }, { e: null, a: 1 }],
      [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    ];
    for (const [original, body, want] of cases) assert.deepEqual(mp(original, body), want, JSON.stringify(body));
  });

  test('arrays replace, keeping their nulls', () => {
    assert.deepEqual(mp({ a: [1, 2] }, { a: ['x', null] }), { a: ['x', null] });
  });

  test('kubectl label / annotate: add and remove with null', () => {
    const p = pod({}, { labels: { app: 'web', tier: 'fe' }, annotations: { note: 'x' } });
    const out = mp(p, { metadata: { labels: { tier: null, env: 'prod' }, annotations: { note: null } } });
    assert.deepEqual(out.metadata.labels, { app: 'web', env: 'prod' });
    assert.deepEqual(out.metadata.annotations, {});
    assert.deepEqual(p.metadata.labels, { app: 'web', tier: 'fe' }, 'original untouched');
  });

  test('kubectl scale: merge patch on a Scale', () => {
    const scale = { apiVersion: 'autoscaling/v1', kind: 'Scale', metadata: { name: 'web' }, spec: { replicas: 2 }, status: { replicas: 2 } };
    assert.deepEqual(patch('merge', scale, { spec: { replicas: 3 } }, SCALE).spec, { replicas: 3 });
  });

  test('merge patch lists are replaced even where the schema says merge', () => {
    const out = patch('merge', deployment(), { spec: { template: { spec: { containers: [{ name: 'x', image: 'y' }] } } } }, DEPLOYMENT);
    assert.deepEqual(out.spec.template.spec.containers, [{ name: 'x', image: 'y' }]);
  });

  test('malformed or non-object bodies are 400', () => {
    assertStatus(() => patch('merge', {}, 'null'), 400, 'BadRequest', 'Invalid JSON Patch');
    assertStatus(() => patch('merge', {}, '{"a":}'), 400, 'BadRequest', "error decoding patch: invalid character '}' looking for beginning of value");
    assertStatus(
      () => patch('merge', {}, '[1]'),
      400,
      'BadRequest',
      'error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}',
    );
  });
});

describe('strategic merge patch', () => {
  test('null deletes a label; maps merge', () => {
    const out = smp(pod({}, { labels: { app: 'web', tier: 'fe' } }), { metadata: { labels: { tier: null, env: 'prod' } } });
    assert.deepEqual(out.metadata.labels, { app: 'web', env: 'prod' });
  });

  test('kubectl set image: containers merge by name, $setElementOrder keeps the order', () => {
    const d = deployment({ containers: [{ name: 'nginx', image: 'nginx:1.25' }, { name: 'sidecar', image: 'busybox' }] });
    const out = smp(
      d,
      {
        spec: {
          template: {
            spec: {
              '$setElementOrder/containers': [{ name: 'nginx' }, { name: 'sidecar' }],
              containers: [{ image: 'nginx:1.27', name: 'nginx' }],
            },
          },
        },
      },
      DEPLOYMENT,
    );
    assert.deepEqual(out.spec.template.spec.containers, [
      { name: 'nginx', image: 'nginx:1.27' },
      { name: 'sidecar', image: 'busybox' },
    ]);
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.25', 'original untouched');
  });

  test('kubectl apply on an existing object: last-applied annotation, changed and added containers', () => {
    const lastApplied = '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"}}';
    const out = smp(
      deployment(),
      {
        metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': lastApplied } },
        spec: {
          replicas: 3,
          template: {
            spec: {
              '$setElementOrder/containers': [{ name: 'nginx' }, { name: 'log' }],
              containers: [
                { image: 'nginx:1.26', name: 'nginx' },
                { image: 'busybox', name: 'log', args: ['tail'] },
              ],
            },
          },
        },
      },
      DEPLOYMENT,
    );
    assert.equal(out.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], lastApplied);
    assert.equal(out.metadata.annotations.team, 'a');
    assert.equal(out.spec.replicas, 3);
    assert.deepEqual(out.spec.template.spec.containers, [
      { name: 'nginx', image: 'nginx:1.26' },
      { name: 'log', image: 'busybox', args: ['tail'] },
    ]);
  });

  test('without $setElementOrder, items new to a merged list come first (upstream order)', () => {
    const out = smp(pod(), { spec: { containers: [{ name: 'new', image: 'busybox' }] } });
    assert.deepEqual(names(out.spec.containers), ['new', 'app']);
  });

  test('$setElementOrder reorders the live list', () => {
    const p = pod({ containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }, { name: 'c', image: 'z' }] });
    const out = smp(p, { spec: { '$setElementOrder/containers': [{ name: 'c' }, { name: 'a' }, { name: 'b' }] } });
    assert.deepEqual(names(out.spec.containers), ['c', 'a', 'b']);
  });

  test('apply deleting one container and adding another orders them as upstream does', () => {
    // `d` was added on the server (not in the applied config); upstream's ordering follows the
    // live list after the deletion freed a slot, giving b, d, c rather than b, c, d.
    const p = pod({ containers: ['a', 'b', 'd'].map((name) => ({ name, image: name })) });
    const out = smp(p, {
      spec: {
        '$setElementOrder/containers': [{ name: 'b' }, { name: 'c' }],
        containers: [{ name: 'c', image: 'c' }, { $patch: 'delete', name: 'a' }],
      },
    });
    assert.deepEqual(names(out.spec.containers), ['b', 'd', 'c']);
  });

  test('ports merge by containerPort, env by name', () => {
    const p = pod({
      containers: [
        {
          name: 'app',
          image: 'nginx',
          ports: [{ containerPort: 80, name: 'http' }],
          env: [
            { name: 'A', value: '1' },
            { name: 'B', value: '2' },
          ],
        },
      ],
    });
    const out = smp(p, {
      spec: {
        containers: [
          {
            name: 'app',
            ports: [{ containerPort: 80, protocol: 'TCP' }, { containerPort: 443 }],
            env: [{ name: 'B', value: '3' }],
          },
        ],
      },
    });
    const c = out.spec.containers[0];
    assert.deepEqual(c.ports, [{ containerPort: 80, name: 'http', protocol: 'TCP' }, { containerPort: 443 }]);
    assert.deepEqual(c.env, [
      { name: 'A', value: '1' },
      { name: 'B', value: '3' },
    ]);
  });

  test('kubectl apply removing an env var: $patch: delete inside a merged list', () => {
    const p = pod({ containers: [{ name: 'app', image: 'nginx', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] }] });
    const out = smp(p, {
      spec: {
        '$setElementOrder/containers': [{ name: 'app' }],
        containers: [{ '$setElementOrder/env': [{ name: 'A' }], env: [{ $patch: 'delete', name: 'B' }], name: 'app' }],
      },
    });
    assert.deepEqual(out.spec.containers, [{ name: 'app', image: 'nginx', env: [{ name: 'A', value: '1' }] }]);
  });

  test('$patch: delete removes a container', () => {
    const p = pod({ containers: [{ name: 'app', image: 'nginx' }, { name: 'side', image: 'busybox' }] });
    assert.deepEqual(smp(p, { spec: { containers: [{ name: 'side', $patch: 'delete' }] } }).spec.containers, [{ name: 'app', image: 'nginx' }]);
  });

  test('$patch: replace makes the patch list the whole list', () => {
    const p = pod({ containers: [{ name: 'app', image: 'nginx', ports: [{ containerPort: 80 }] }, { name: 'side', image: 'busybox' }] });
    const out = smp(p, { spec: { containers: [{ $patch: 'replace' }, { name: 'only', image: 'alpine' }] } });
    assert.deepEqual(out.spec.containers, [{ name: 'only', image: 'alpine' }]);
  });

  test('$patch on a map: replace drops unlisted keys, delete empties it', () => {
    const p = pod({ nodeSelector: { disk: 'ssd', zone: 'a' } });
    assert.deepEqual(smp(p, { spec: { nodeSelector: { $patch: 'replace', zone: 'b' } } }).spec.nodeSelector, { zone: 'b' });
    assert.deepEqual(smp(p, { spec: { nodeSelector: { $patch: 'delete' } } }).spec.nodeSelector, {});
  });

  test('tolerations have no patch strategy in 1.32: the list is replaced', () => {
    const p = pod({ tolerations: [{ key: 'a', operator: 'Exists' }] });
    assert.deepEqual(smp(p, { spec: { tolerations: [{ key: 'b', operator: 'Exists' }] } }).spec.tolerations, [{ key: 'b', operator: 'Exists' }]);
  });

  test('volumes merge by name and honour $retainKeys (kubectl apply switching the volume source)', () => {
    const p = pod({ volumes: [{ name: 'data', emptyDir: {} }, { name: 'cache', emptyDir: { medium: 'Memory' } }] });
    const out = smp(p, {
      spec: {
        '$setElementOrder/volumes': [{ name: 'data' }, { name: 'cache' }],
        volumes: [{ $retainKeys: ['configMap', 'name'], configMap: { name: 'cm' }, name: 'data' }],
      },
    });
    assert.deepEqual(out.spec.volumes, [
      { name: 'data', configMap: { name: 'cm' } },
      { name: 'cache', emptyDir: { medium: 'Memory' } },
    ]);
  });

  test('deployment strategy uses retainKeys: switching to Recreate clears rollingUpdate', () => {
    const out = smp(deployment(), { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate', rollingUpdate: null } } }, DEPLOYMENT);
    assert.deepEqual(out.spec.strategy, { type: 'Recreate' });
  });

  test('finalizers merge as a set; $deleteFromPrimitiveList removes', () => {
    const p = pod({}, { finalizers: ['a', 'b'] });
    assert.deepEqual(smp(p, { metadata: { finalizers: ['c', 'a'] } }).metadata.finalizers, ['c', 'a', 'b']);
    assert.deepEqual(smp(p, { metadata: { '$deleteFromPrimitiveList/finalizers': ['a'] } }).metadata.finalizers, ['b']);
    assert.deepEqual(
      smp(p, { metadata: { '$setElementOrder/finalizers': ['b', 'c'], '$deleteFromPrimitiveList/finalizers': ['a'], finalizers: ['c'] } })
        .metadata.finalizers,
      ['b', 'c'],
    );
  });

  test('ownerReferences merge by uid', () => {
    const ref = (uid: string, name: string): Obj => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name, uid });
    const p = pod({}, { ownerReferences: [ref('1', 'rs-a')] });
    const out = smp(p, { metadata: { ownerReferences: [{ ...ref('1', 'rs-a'), controller: true }, ref('2', 'rs-b')] } });
    assert.deepEqual(out.metadata.ownerReferences, [{ ...ref('1', 'rs-a'), controller: true }, ref('2', 'rs-b')]);
  });

  test('kubectl rollout restart adds a template annotation', () => {
    const at = '2024-05-01T10:00:00Z';
    const out = smp(deployment(), { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': at } } } } }, DEPLOYMENT);
    assert.deepEqual(out.spec.template.metadata, { labels: { app: 'web' }, annotations: { 'kubectl.kubernetes.io/restartedAt': at } });
  });

  test('kubectl cordon / uncordon on a Node', () => {
    const node = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1' }, spec: { podCIDR: '10.0.0.0/24' } };
    const cordoned = smp(node, { spec: { unschedulable: true } }, NODE);
    assert.deepEqual(cordoned.spec, { podCIDR: '10.0.0.0/24', unschedulable: true });
    assert.deepEqual(smp(cordoned, { spec: { unschedulable: null } }, NODE).spec, { podCIDR: '10.0.0.0/24' });
  });

  test('free-form maps (ConfigMap data) merge key by key', () => {
    const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1', b: '2' } };
    assert.deepEqual(smp(cm, { data: { b: null, c: '3' } }, CONFIGMAP).data, { a: '1', c: '3' });
  });

  test('directives in values copied from the patch do not reach the object', () => {
    const out = smp(pod(), {
      spec: {
        containers: [{ name: 'new', image: 'x', '$setElementOrder/env': [{ name: 'A' }], env: [{ name: 'A', value: '1' }], args: null }],
        affinity: { nodeAffinity: { $retainKeys: ['x'] } },
      },
    });
    assert.deepEqual(out.spec.containers[0], { name: 'new', image: 'x', env: [{ name: 'A', value: '1' }] });
    assert.deepEqual(out.spec.affinity, { nodeAffinity: {} });
  });

  test('a kind without a built-in schema answers 415 like a custom resource route', () => {
    assertStatus(
      () => smp({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } }, { spec: { a: 1 } }, WIDGET),
      415,
      'UnsupportedMediaType',
      'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
    );
    // merge and JSON patches still work there
    assert.deepEqual(patch('merge', { spec: { a: 1 } }, { spec: { b: 2 } }, WIDGET), { spec: { a: 1, b: 2 } });
  });

  test('malformed or non-object bodies are 400 with the decoder text', () => {
    assertStatus(() => smp(pod(), '{"spec":'), 400, 'BadRequest', 'unexpected end of JSON input');
    assertStatus(() => smp(pod(), '{"spec" 1}'), 400, 'BadRequest', "invalid character '1' after object key");
    assertStatus(
      () => smp(pod(), '[{"op":"add"}]'),
      400,
      'BadRequest',
      'json: cannot unmarshal array into Go value of type map[string]interface {}',
    );
  });

  test('format errors in directives are 400', () => {
    const withVolume = pod({ volumes: [{ name: 'v', emptyDir: {} }] });
    assertStatus(() => smp(withVolume, { spec: { volumes: [{ name: 'v', $retainKeys: 'name' }] } }), 400, 'BadRequest', 'invalid patch format of retainKeys');
    assertStatus(
      () => smp(withVolume, { spec: { volumes: [{ name: 'v', $retainKeys: ['name'], emptyDir: {} }] } }),
      400,
      'BadRequest',
      'invalid patch format of retainKeys',
    );
    assertStatus(() => smp(pod(), { metadata: { $deleteFromPrimitiveList: ['a'] } }), 400, 'BadRequest', 'invalid patch format of primitive list');
    assertStatus(() => smp(pod(), { spec: { $setElementOrderContainers: [] } }), 400, 'BadRequest', 'invalid patch format of setElementOrder list');
  });

  test('a list of lists is 422', () => {
    assertStatus(() => smp(pod({}, { finalizers: [] }), { metadata: { finalizers: [['a']] } }), 422, 'Invalid', 'the server rejected our request due to an error in our request');
  });

  test('other failures reach the client unwrapped: 500 without a reason, upstream text', () => {
    assertStatus(
      () => smp(pod(), { spec: { containers: [{ image: 'nginx:1.27' }] } }),
      500,
      undefined,
      'map: map[image:nginx:1.27] does not contain declared merge key: name',
    );
    assertStatus(
      () => smp(pod(), { spec: { '$setElementOrder/bogus': [] } }),
      500,
      undefined,
      'unable to find api field in struct PodSpec for the json field "bogus"',
    );
    assertStatus(
      () => smp(pod(), { spec: { containers: [{ name: 'app', $patch: 'merge' }] } }),
      500,
      undefined,
      'merging lists cannot yet be specified in the patch',
    );
    assertStatus(
      () => smp(pod(), { spec: { containers: [{ name: 'app', $patch: 'bogus' }] } }),
      500,
      undefined,
      'unknown patch type: bogus in map: map[$patch:bogus name:app]',
    );
  });

  test('the original is never modified', () => {
    const p = pod({ containers: [{ name: 'app', image: 'nginx', env: [{ name: 'A', value: '1' }] }], volumes: [{ name: 'v', emptyDir: {} }] });
    const before = structuredClone(p);
    smp(p, {
      spec: {
        containers: [{ name: 'app', env: [{ name: 'A', $patch: 'delete' }] }],
        volumes: [{ name: 'v', $retainKeys: ['name', 'hostPath'], hostPath: { path: '/x' } }],
      },
    });
    assert.deepEqual(p, before);
  });
});
