// Unit tier: field paths and sets, and their FieldsV1 form, as structured-merge-diff writes
// them (what `kubectl get -o yaml --show-managed-fields` prints).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FieldSet, fieldPE, fieldPath, keyPE, pathString, serializePE, valuePE } from './fieldpath.ts';

const f = fieldPE;
const nginx = keyPE([{ name: 'name', value: 'nginx' }]);
const port80 = keyPE([
  { name: 'protocol', value: 'TCP' },
  { name: 'containerPort', value: 80 },
]);

describe('path elements', () => {
  test('serialize as FieldsV1 keys, list-map keys sorted by name', () => {
    assert.equal(serializePE(f('replicas')), 'f:replicas');
    assert.equal(serializePE(nginx), 'k:{"name":"nginx"}');
    assert.equal(serializePE(port80), 'k:{"containerPort":80,"protocol":"TCP"}');
    assert.equal(serializePE(valuePE('kubernetes')), 'v:"kubernetes"');
    assert.equal(serializePE(valuePE('<b>')), 'v:"\\u003cb\\u003e"');
  });

  test('print as conflict messages print them', () => {
    assert.equal(pathString([f('spec'), f('template'), f('spec'), f('containers'), nginx, f('image')]), '.spec.template.spec.containers[name="nginx"].image');
    assert.equal(pathString([f('spec'), f('ports'), port80]), '.spec.ports[containerPort=80,protocol="TCP"]');
    assert.equal(pathString([f('metadata'), f('finalizers'), valuePE('x')]), '.metadata.finalizers[="x"]');
  });
});

describe('sets', () => {
  test('FieldsV1: "." first when an item is also a parent; fields, then keys, then values, each sorted', () => {
    const s = FieldSet.of(
      [f('spec'), f('containers'), nginx],
      [f('spec'), f('containers'), nginx, f('name')],
      [f('spec'), f('containers'), nginx, f('image')],
      [f('spec'), f('containers'), keyPE([{ name: 'name', value: 'a' }])],
      [f('metadata'), f('finalizers'), valuePE('b')],
      [f('metadata'), f('finalizers'), valuePE('a')],
      fieldPath('spec', 'replicas'),
    );
    assert.equal(
      JSON.stringify(s.toFieldsV1()),
      '{"f:metadata":{"f:finalizers":{"v:\\"a\\"":{},"v:\\"b\\"":{}}},"f:spec":{"f:containers":{"k:{\\"name\\":\\"a\\"}":{},"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:image":{},"f:name":{}}},"f:replicas":{}}}',
    );
  });

  test('FieldsV1 round-trips', () => {
    const fields = {
      'f:metadata': { 'f:labels': { '.': {}, 'f:app': {} } },
      'f:spec': {
        'f:ports': { '.': {}, 'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:port': {}, 'f:targetPort': {} } },
        'f:selector': {},
      },
    };
    const s = FieldSet.fromFieldsV1(fields);
    assert.deepEqual(s.toFieldsV1(), fields);
    assert.ok(s.has([f('spec'), f('ports')]));
    assert.ok(s.has([f('metadata'), f('labels'), f('app')]));
    assert.ok(!s.has([f('metadata')]));
  });

  test('difference: a parent minus its child stays; recursive difference removes the subtree', () => {
    const parent = FieldSet.of(fieldPath('spec', 'template'), fieldPath('spec', 'template', 'x'));
    const child = FieldSet.of(fieldPath('spec', 'template', 'x'));
    assert.equal(parent.difference(child).toString(), '.spec.template');
    assert.ok(child.difference(FieldSet.of(fieldPath('spec', 'template'))).equals(child));
    assert.ok(child.recursiveDifference(FieldSet.of(fieldPath('spec', 'template'))).empty());
  });

  test('union, intersection and iteration order (members before children)', () => {
    const a = FieldSet.of(fieldPath('spec', 'replicas'), fieldPath('metadata', 'labels', 'app'));
    const b = FieldSet.of(fieldPath('spec', 'replicas'), fieldPath('spec', 'paused'));
    assert.deepEqual(a.union(b).paths().map(pathString), ['.metadata.labels.app', '.spec.paused', '.spec.replicas']);
    assert.equal(a.intersection(b).toString(), '.spec.replicas');
    assert.ok(a.intersection(FieldSet.of(fieldPath('status'))).empty());
  });

  test('the empty path is never a member', () => {
    const s = FieldSet.of([]);
    assert.ok(s.empty());
    assert.ok(!s.has([]));
  });
});
