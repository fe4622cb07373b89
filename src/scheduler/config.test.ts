// KubeSchedulerConfiguration: defaults, merging, weights, profiles and errors.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EventBroadcaster } from '../client/events.ts';
import { loadConfiguration, mergePluginSet, resolveConfiguration, type KubeSchedulerConfiguration } from './config.ts';
import { Framework } from './framework/runtime.ts';
import { inTreeRegistry } from './plugins/registry.ts';
import { FakeClient } from './testing/harness.ts';

function framework(cfg: KubeSchedulerConfiguration, i = 0): Framework {
  const resolved = resolveConfiguration(cfg);
  return new Framework(resolved.profiles[i], {
    registry: inTreeRegistry(),
    recorder: new EventBroadcaster(new FakeClient()).newRecorder({ component: 'test' }),
    listers: {},
    nominator: { nominatedPodsForNode: () => [] },
    snapshot: () => {
      throw new Error('unused');
    },
    priorityOf: () => 0,
    preemptionPolicyOf: () => 'PreemptLowerPriority',
    log: () => {},
  });
}

const names = (list: { name: string }[]) => list.map((p) => p.name);

describe('KubeSchedulerConfiguration', () => {
  test('defaults: one default-scheduler profile, upstream plugin order and weights, backoff 1s/10s, adaptive sampling', () => {
    const c = resolveConfiguration({});
    assert.equal(c.profiles.length, 1);
    assert.equal(c.profiles[0].schedulerName, 'default-scheduler');
    assert.equal(c.podInitialBackoffSeconds, 1);
    assert.equal(c.podMaxBackoffSeconds, 10);
    assert.equal(c.percentageOfNodesToScore, 0);
    assert.deepEqual(c.leaderElection, { leaderElect: true, leaseDurationMs: 15000, renewDeadlineMs: 10000, retryPeriodMs: 2000, resourceName: 'kube-scheduler', resourceNamespace: 'kube-system' });
    const f = framework({});
    assert.deepEqual(names(f.filterPlugins), ['NodeUnschedulable', 'NodeName', 'TaintToleration', 'NodeAffinity', 'NodePorts', 'NodeResourcesFit', 'VolumeBinding', 'PodTopologySpread', 'InterPodAffinity']);
    assert.deepEqual(
      f.scorePlugins.map((s) => [s.plugin.name, s.weight]),
      [
        ['TaintToleration', 3],
        ['NodeAffinity', 2],
        ['NodeResourcesFit', 1],
        ['PodTopologySpread', 2],
        ['InterPodAffinity', 2],
        ['NodeResourcesBalancedAllocation', 1],
        ['ImageLocality', 1],
      ],
    );
    assert.deepEqual(names(f.preEnqueuePlugins), ['SchedulingGates', 'DefaultPreemption']);
    assert.deepEqual(names(f.postFilterPlugins), ['DefaultPreemption']);
    assert.deepEqual(names(f.reservePlugins), ['VolumeBinding']);
    assert.deepEqual(names(f.bindPlugins), ['DefaultBinder']);
  });

  test('a score entry re-weights a default plugin; disabled removes it; "*" removes all', () => {
    const f = framework({ profiles: [{ plugins: { score: { enabled: [{ name: 'NodeResourcesFit', weight: 5 }], disabled: [{ name: 'ImageLocality' }] } } }] });
    const w = Object.fromEntries(f.scorePlugins.map((s) => [s.plugin.name, s.weight]));
    assert.equal(w.NodeResourcesFit, 5);
    assert.equal(w.ImageLocality, undefined);
    // Re-configured plugins come first, then multiPoint ones, as upstream orders them.
    assert.equal(f.scorePlugins[0].plugin.name, 'NodeResourcesFit');
    const none = framework({ profiles: [{ plugins: { score: { disabled: [{ name: '*' }] } } }] });
    assert.equal(none.scorePlugins.length, 0);
    assert.equal(none.filterPlugins.length, 9);
  });

  test('mergePluginSet keeps default order and replaces in place', () => {
    const m = mergePluginSet({ enabled: [{ name: 'A' }, { name: 'B', weight: 1 }, { name: 'C' }] }, { enabled: [{ name: 'D' }, { name: 'B', weight: 7 }], disabled: [{ name: 'C' }] });
    assert.deepEqual(m.enabled, [{ name: 'A' }, { name: 'B', weight: 7 }, { name: 'D' }]);
  });

  test('pluginConfig args reach the plugin (NodeResourcesFit MostAllocated)', () => {
    assert.doesNotThrow(() => framework({ profiles: [{ pluginConfig: [{ name: 'NodeResourcesFit', args: { scoringStrategy: { type: 'MostAllocated' } } }] }] }));
    assert.throws(() => framework({ profiles: [{ pluginConfig: [{ name: 'NodeResourcesFit', args: { scoringStrategy: { type: 'Bogus' } } }] }] }), /Unsupported value/);
  });

  test('profiles: one per schedulerName; duplicates and mismatched queueSort are refused', () => {
    const c = resolveConfiguration({ profiles: [{ schedulerName: 'default-scheduler' }, { schedulerName: 'no-scoring', plugins: { preScore: { disabled: [{ name: '*' }] }, score: { disabled: [{ name: '*' }] } } }] });
    assert.deepEqual(c.profiles.map((p) => p.schedulerName), ['default-scheduler', 'no-scoring']);
    assert.throws(() => resolveConfiguration({ profiles: [{ schedulerName: 'a' }, { schedulerName: 'a' }] }), /profiles\[1\]\.schedulerName: Duplicate value: "a"/);
    assert.throws(() => resolveConfiguration({ apiVersion: 'kubescheduler.config.k8s.io/v1beta1' }), /apiVersion: Unsupported value/);
    assert.throws(() => framework({ profiles: [{ plugins: { filter: { enabled: [{ name: 'NoSuchPlugin' }] } } }] }), /plugin "NoSuchPlugin" does not exist/);
    assert.throws(() => framework({ profiles: [{ plugins: { filter: { enabled: [{ name: 'ImageLocality' }] } } }] }), /does not extend filter plugin/);
  });

  test('a YAML file as kube-scheduler reads it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'skiff-sched-'));
    const file = path.join(dir, 'config.yaml');
    await writeFile(
      file,
      [
        'apiVersion: kubescheduler.config.k8s.io/v1',
        'kind: KubeSchedulerConfiguration',
        'leaderElection:',
        '  leaderElect: true',
        '  resourceName: my-scheduler',
        '  leaseDuration: 30s',
        'profiles:',
        '- schedulerName: my-scheduler',
        '  plugins:',
        '    multiPoint:',
        '      disabled:',
        '      - name: ImageLocality',
        '  pluginConfig:',
        '  - name: NodeResourcesFit',
        '    args:',
        '      scoringStrategy:',
        '        type: MostAllocated',
      ].join('\n'),
    );
    const c = await loadConfiguration(file);
    assert.equal(c.profiles[0].schedulerName, 'my-scheduler');
    assert.equal(c.leaderElection.resourceName, 'my-scheduler');
    assert.equal(c.leaderElection.leaseDurationMs, 30000);
    assert.deepEqual(c.profiles[0].pluginConfig.get('NodeResourcesFit'), { scoringStrategy: { type: 'MostAllocated' } });
    assert.ok(!c.profiles[0].plugins.multiPoint.enabled!.some((p) => p.name === 'ImageLocality'));
    await rm(dir, { recursive: true });
  });
});
