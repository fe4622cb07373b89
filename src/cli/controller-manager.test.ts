// `skiff controller-manager` flags (unit): --controllers selection and Go durations, as
// kube-controller-manager reads them.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Controller } from '../controllers/context.ts';
import { parseDuration, selectControllers } from './controller-manager.ts';

const named = (...names: string[]): Controller[] => names.map((name) => ({ name, start: async () => {} }));

describe('skiff controller-manager flags', () => {
  it('--controllers: * enables all, -x disables x, x alone enables only x', () => {
    const all = named('deployment', 'replicaset', 'garbagecollector');
    assert.deepEqual(selectControllers(all, '*').map((c) => c.name), ['deployment', 'replicaset', 'garbagecollector']);
    assert.deepEqual(selectControllers(all, '*,-garbagecollector').map((c) => c.name), ['deployment', 'replicaset']);
    assert.deepEqual(selectControllers(all, 'replicaset').map((c) => c.name), ['replicaset']);
    assert.throws(() => selectControllers(all, '*,-nosuch'), /unknown controller "nosuch"/);
  });

  it('durations as Go writes them', () => {
    assert.equal(parseDuration('--x', '15s'), 15_000);
    assert.equal(parseDuration('--x', '500ms'), 500);
    assert.equal(parseDuration('--x', '1m30s'), 90_000);
    assert.throws(() => parseDuration('--x', '15'), /invalid duration "15"/);
    assert.throws(() => parseDuration('--x', 'soon'), /invalid duration/);
  });
});
