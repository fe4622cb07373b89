import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { duplicateFields } from './duplicates.ts';

describe('duplicateFields', () => {
  it('reports repeated keys with upstream paths, in document order', () => {
    const text = '{"apiVersion":"apps/v1","spec":{"replicas":1,"template":{"spec":{"containers":[{"name":"a","name":"b"}]}},"replicas":2},"kind":"Deployment"}';
    assert.deepEqual(duplicateFields(text), ['spec.template.spec.containers[0].name', 'spec.replicas']);
  });
  it('compares decoded keys and ignores look-alikes inside strings', () => {
    assert.deepEqual(duplicateFields('{"a":"{\\"a\\":1}","\\u0061":2}'), ['a']);
    assert.deepEqual(duplicateFields('{"a":{"b":1},"c":{"b":2}}'), []);
    assert.deepEqual(duplicateFields('[{"x":1},{"x":2,"x":3}]'), ['[1].x']);
  });
});
