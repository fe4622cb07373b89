// Unit tier: field sets, comparison, merge and validation of typed values, driven by the
// built-in schema (list types, map types and merge keys from the API reference).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FieldSet, fieldPath, keyPE, pathString } from './fieldpath.ts';
import { typeFor } from './schema.ts';
import { compare, merge, removeItems, toFieldSet, validate, validationText } from './typed.ts';

type Obj = Record<string, any>;

const DEPLOYMENT = typeFor({ group: 'apps', version: 'v1', kind: 'Deployment' });
const POD = typeFor({ group: '', version: 'v1', kind: 'Pod' });
const SERVICE = typeFor({ group: '', version: 'v1', kind: 'Service' });
const WIDGET = typeFor({ group: 'example.com', version: 'v1', kind: 'Widget' });

function paths(s: FieldSet): string[] {
  return s.paths().map(pathString);
}

function pod(spec: Obj, metadata: Obj = {}): Obj {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', ...metadata }, spec };
}

describe('field sets', () => {
  test('leaves, list-map items with their keys (defaulted protocol), empty structs and atomic maps', () => {
    const d = {
      spec: {
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: { containers: [{ name: 'nginx', image: 'nginx', ports: [{ containerPort: 80 }], resources: {} }] },
        },
      },
    };
    assert.deepEqual(paths(toFieldSet(d, DEPLOYMENT)), [
      '.spec.selector',
      '.spec.template.metadata.labels.app',
      '.spec.template.spec.containers[name="nginx"]',
      '.spec.template.spec.containers[name="nginx"].image',
      '.spec.template.spec.containers[name="nginx"].name',
      '.spec.template.spec.containers[name="nginx"].resources',
      '.spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"]',
      '.spec.template.spec.containers[name="nginx"].ports[containerPort=80,protocol="TCP"].containerPort',
    ]);
  });

  test('sets own their values; atomic lists are one leaf', () => {
    const p = pod({ containers: [{ name: 'a', args: ['x', 'y'] }] }, { finalizers: ['b', 'a'] });
    assert.deepEqual(paths(toFieldSet(p, POD)), [
      '.apiVersion',
      '.kind',
      '.metadata.name',
      '.metadata.finalizers[="a"]',
      '.metadata.finalizers[="b"]',
      '.spec.containers[name="a"]',
      '.spec.containers[name="a"].args',
      '.spec.containers[name="a"].name',
    ]);
  });

  test('duplicated items are owned as one item, not field by field', () => {
    const p = pod({ containers: [{ name: 'a', env: [{ name: 'X', value: '1' }, { name: 'X', value: '2' }] }] });
    assert.deepEqual(
      paths(toFieldSet(p, POD)).filter((x) => x.includes('.env')),
      ['.spec.containers[name="a"].env[name="X"]'],
    );
  });

  test('custom resources without a schema: every map key is owned (hence `f:spec: {.: {}}`), lists are atomic', () => {
    const w = { spec: { size: 3, tags: ['a'], nested: { x: 1 } } };
    assert.deepEqual(paths(toFieldSet(w, WIDGET)), ['.spec', '.spec.nested', '.spec.size', '.spec.tags', '.spec.nested.x']);
  });
});

describe('compare', () => {
  test('a node absent before is added itself; a node present before (even null) is not', () => {
    const before = { spec: { containers: null, selector: null }, metadata: { creationTimestamp: null } };
    const after = { spec: { containers: [{ name: 'a', image: 'x' }] }, metadata: { labels: { app: 'a' } } };
    const c = compare(before, after, POD);
    assert.deepEqual(paths(c.added), [
      '.metadata.labels',
      '.metadata.labels.app',
      '.spec.containers[name="a"]',
      '.spec.containers[name="a"].image',
      '.spec.containers[name="a"].name',
    ]);
    assert.deepEqual(paths(c.removed), ['.metadata.creationTimestamp', '.spec.selector']);
    assert.ok(c.modified.empty());
  });

  test('modified leaves and removed items', () => {
    const before = pod({ containers: [{ name: 'a', image: 'x' }, { name: 'b', image: 'y' }] });
    const after = pod({ containers: [{ name: 'a', image: 'z' }] });
    const c = compare(before, after, POD);
    assert.deepEqual(paths(c.modified), ['.spec.containers[name="a"].image']);
    assert.deepEqual(paths(c.removed), ['.spec.containers[name="b"]', '.spec.containers[name="b"].image', '.spec.containers[name="b"].name']);
  });
});

describe('merge', () => {
  test('list-map items merge by key; the applied order wins for shared items, live-only items stay in place', () => {
    const live = pod({ containers: [{ name: 'a', image: '1' }, { name: 'side', image: 's' }, { name: 'b', image: '2' }] });
    const cfg = pod({ containers: [{ name: 'b', image: '3' }, { name: 'a' }, { name: 'c', image: '4' }] });
    const out = merge(live, cfg, POD) as Obj;
    assert.deepEqual(out.spec.containers, [
      { name: 'side', image: 's' },
      { name: 'b', image: '3' },
      { name: 'a', image: '1' },
      { name: 'c', image: '4' },
    ]);
  });

  test('atomic lists are replaced, sets are unioned, granular maps merged, atomic maps replaced', () => {
    const live = {
      metadata: { finalizers: ['x'], labels: { a: '1' } },
      spec: { selector: { matchLabels: { a: '1', b: '2' } }, template: { spec: { containers: [{ name: 'c', args: ['1', '2'] }] } } },
    };
    const cfg = {
      metadata: { finalizers: ['y'], labels: { b: '2' } },
      spec: { selector: { matchLabels: { a: '1' } }, template: { spec: { containers: [{ name: 'c', args: ['3'] }] } } },
    };
    const out = merge(live, cfg, DEPLOYMENT) as Obj;
    assert.deepEqual(out.metadata, { finalizers: ['x', 'y'], labels: { a: '1', b: '2' } });
    assert.deepEqual(out.spec.selector, { matchLabels: { a: '1' } });
    assert.deepEqual(out.spec.template.spec.containers, [{ name: 'c', args: ['3'] }]);
  });

  test('service ports are keyed by port and protocol (TCP when omitted)', () => {
    const live: Obj = { spec: { ports: [{ port: 80, protocol: 'TCP', targetPort: 8080 }, { port: 80, protocol: 'UDP' }] } };
    const cfg = { spec: { ports: [{ port: 80, targetPort: 9090 }] } };
    assert.deepEqual((merge(live, cfg, SERVICE) as Obj).spec.ports, [
      { port: 80, protocol: 'TCP', targetPort: 9090 },
      { port: 80, protocol: 'UDP' },
    ]);
  });
});

describe('remove items', () => {
  test('removes fields and items; what is left empty becomes null', () => {
    const live = { metadata: { labels: { a: '1' } }, spec: { containers: [{ name: 'a' }, { name: 'b' }] } };
    const gone = FieldSet.of(fieldPath('metadata', 'labels', 'a'), [...fieldPath('spec', 'containers'), keyPE([{ name: 'name', value: 'b' }])]);
    assert.deepEqual(removeItems(live, gone, POD), { metadata: { labels: null }, spec: { containers: [{ name: 'a' }] } });
  });
});

describe('validation of applied configurations', () => {
  test('unknown fields, wrong shapes, missing keys and duplicates, with upstream paths and texts', () => {
    const text = (v: Obj, t = DEPLOYMENT) => validationText(validate(v, t));
    assert.equal(text({ spec: { replicas: 1, foo: 2 } }), '.spec.foo: field not declared in schema');
    assert.equal(text({ spec: { replicas: 'two' } }), '.spec.replicas: expected numeric (int or float), got string');
    assert.equal(
      text({ spec: { template: { spec: { containers: [{ image: 'x', ports: [{ containerPort: 80 }] }, { image: 'y' }] } } } }),
      '.spec.template.spec.containers: duplicate entries for key [name=""]',
    );
    assert.equal(
      text({ spec: { template: { spec: { imagePullSecrets: [{}] } } } }),
      '.spec.template.spec.imagePullSecrets: element 0: associative list with keys has an element that omits key field "name" (and doesn\'t have default value)',
    );
    assert.equal(
      text({ spec: { replicas: 1, paused: 'yes', bogus: 1 } }),
      'errors:\n  .spec.paused: expected boolean, got &{yes}\n  .spec.bogus: field not declared in schema',
    );
    assert.deepEqual(validate({ spec: { anything: { goes: [1] } } }, WIDGET), []);
  });
});
