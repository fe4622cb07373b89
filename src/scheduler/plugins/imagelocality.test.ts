// ImageLocality: nodes that have the pod's images score by size scaled by spread.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CycleState } from '../framework/interface.ts';
import { PodInfo } from '../framework/types.ts';
import { Snapshot } from '../internal/cache.ts';
import { makeNode, makePod } from '../testing/fixtures.ts';
import { ImageLocality, calculatePriority, normalizedImageName } from './imagelocality.ts';

const MB = 1024 * 1024;

describe('ImageLocality', () => {
  test('image names get :latest when they have no tag or digest', () => {
    assert.equal(normalizedImageName('nginx'), 'nginx:latest');
    assert.equal(normalizedImageName('registry:5000/nginx'), 'registry:5000/nginx:latest');
    assert.equal(normalizedImageName('nginx:1.27'), 'nginx:1.27');
  });

  test('score = 100 · (Σ size·spread − 23MB) / (1000MB·containers − 23MB)', () => {
    const snap = Snapshot.of([
      makeNode().name('has').image(['gcr.io/big:latest'], 500 * MB).obj(),
      makeNode().name('none').obj(),
    ]);
    const handle = { snapshot: () => snap } as unknown as ConstructorParameters<typeof ImageLocality>[1];
    const pl = new ImageLocality(undefined, handle);
    const pi = new PodInfo(makePod().name('p').container('gcr.io/big').obj());
    const [has, none] = snap.list();
    // One node of two has it: 500MB · 1/2 = 250MB.
    assert.equal(pl.score(new CycleState(), pi, has), Math.trunc((100 * (250 * MB - 23 * MB)) / (1000 * MB - 23 * MB)));
    assert.equal(pl.score(new CycleState(), pi, none), 0);
    assert.equal(calculatePriority(5000 * MB, 1), 100);
  });
});
