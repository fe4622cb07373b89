// DefaultPreemption: which victims, on which node, and what the API sees.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { PodInfo } from '../framework/types.ts';
import { makeNode, makePod } from '../testing/fixtures.ts';
import { startTestScheduler } from '../testing/harness.ts';
import { filterPodsWithPDBViolation, pickOneNodeForPreemption } from './defaultpreemption.ts';

const node = (name: string, cpu = '2') => makeNode().name(name).capacity({ cpu, memory: '8Gi' });
const pc = (name: string, value: number, extra: Record<string, unknown> = {}): KObject => ({ apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name }, value, ...extra });

describe('DefaultPreemption', () => {
  test('a high-priority pod preempts the lowest-priority victims only, and is nominated to the node', async () => {
    const t = await startTestScheduler({
      nodes: [node('n1', '3').obj()],
      pods: [
        makePod().name('low').node('n1').priority(1).req({ cpu: '1' }).startTime('2026-01-01T00:00:00Z').obj(),
        makePod().name('mid').node('n1').priority(5).req({ cpu: '1' }).obj(),
        makePod().name('lowest').node('n1').priority(0).req({ cpu: '1' }).obj(),
        makePod().name('high').uid('uid-high').priority(10).req({ cpu: '1' }).obj(),
      ],
    });
    await t.scheduleAll();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(t.client.deletes, ['pods default/lowest']);
    const disruption = t.client.patches.find((p) => p.key === 'default/lowest')?.patch as { status: { conditions: { type: string; reason: string; message: string }[] } };
    assert.equal(disruption.status.conditions[0].type, 'DisruptionTarget');
    assert.equal(disruption.status.conditions[0].reason, 'PreemptionByScheduler');
    assert.equal(disruption.status.conditions[0].message, 'default-scheduler: preempting to accommodate a higher priority pod');
    const nominated = t.client.patches.find((p) => p.key === 'default/high')?.patch as { status: { nominatedNodeName?: string } };
    assert.equal(nominated.status.nominatedNodeName, 'n1');
    await t.scheduler.broadcaster.flush();
    assert.deepEqual(
      t.events.map((e) => [e.object, e.reason, e.message]),
      [
        ['default/high', 'FailedScheduling', '0/1 nodes are available: 1 Insufficient cpu.'],
        ['default/lowest', 'Preempted', 'Preempted by pod uid-high on node n1'],
      ],
    );
    await t.stop();
  });

  test('the node whose victims have the lowest priority is chosen', async () => {
    const t = await startTestScheduler({
      nodes: [node('a', '1').obj(), node('b', '1').obj()],
      pods: [makePod().name('va').node('a').priority(5).req({ cpu: '1' }).obj(), makePod().name('vb').node('b').priority(1).req({ cpu: '1' }).obj(), makePod().name('p').priority(10).req({ cpu: '1' }).obj()],
    });
    await t.scheduleAll();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(t.client.deletes, ['pods default/vb']);
    await t.stop();
  });

  test("evicting a lower-priority pod whose anti-affinity rejects the pod makes room (PreFilter state updated per victim)", async () => {
    const t = await startTestScheduler({
      nodes: [node('n1', '4').obj()],
      pods: [
        makePod().name('guard').node('n1').priority(1).podAntiAffinity('kubernetes.io/hostname', { matchLabels: { app: 'web' } }).obj(),
        makePod().name('bystander').node('n1').priority(1).obj(),
        makePod().name('web').label('app', 'web').priority(100).obj(),
      ],
    });
    await t.scheduleAll();
    await new Promise((r) => setTimeout(r, 20));
    // Only the pod whose anti-affinity is in the way goes; the other low-priority pod is reprieved.
    assert.deepEqual(t.client.deletes, ['pods default/guard']);
    await t.stop();
  });

  test('priorityClassName is resolved when spec.priority is unset (no Priority admission)', async () => {
    const t = await startTestScheduler({
      nodes: [node('n1', '1').obj()],
      pods: [makePod().name('batch').node('n1').priorityClassName('low').req({ cpu: '1' }).obj(), makePod().name('web').priorityClassName('high').req({ cpu: '1' }).obj()],
      objects: { priorityclasses: [pc('low', 100), pc('high', 1000)] },
    });
    await t.scheduleAll();
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(t.client.deletes, ['pods default/batch']);
    await t.stop();
  });

  test('preemptionPolicy Never (from the pod or its class) does not preempt', async () => {
    const t = await startTestScheduler({
      nodes: [node('n1', '1').obj()],
      pods: [makePod().name('low').node('n1').priority(0).req({ cpu: '1' }).obj(), makePod().name('p').priorityClassName('polite').req({ cpu: '1' }).obj()],
      objects: { priorityclasses: [pc('polite', 1000, { preemptionPolicy: 'Never' })] },
    });
    await t.scheduleAll();
    assert.deepEqual(t.client.deletes, []);
    assert.equal(t.events[0].message, '0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.');
    await t.stop();
  });

  test('FailedScheduling text of the issue, literally', async () => {
    const t = await startTestScheduler({
      nodes: [
        node('cp').taint('node-role.kubernetes.io/control-plane', undefined, 'NoSchedule').obj(),
        node('node-1').obj(),
        node('node-2').obj(),
      ],
      pods: [
        makePod().name('busy-1').node('node-1').req({ cpu: '1500m' }).obj(),
        makePod().name('busy-2').node('node-2').req({ cpu: '1500m' }).obj(),
        makePod().name('nginx').req({ cpu: '1' }).obj(),
      ],
    });
    await t.scheduleAll();
    assert.equal(
      t.events[0].message,
      '0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod.',
    );
    await t.stop();
  });

  test('PDB-protected victims count as violations; reasons sort as strings', () => {
    const pdb = { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'db', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'db' } } }, status: { disruptionsAllowed: 1 } };
    const pods = ['a', 'b', 'c'].map((n) => new PodInfo(makePod().name(n).label('app', 'db').obj()));
    const { violating, nonViolating } = filterPodsWithPDBViolation(pods, [pdb]);
    assert.deepEqual(nonViolating.map((p) => p.name), ['a']);
    assert.deepEqual(violating.map((p) => p.name), ['b', 'c']);
  });

  test('node choice: fewest PDB violations, then lowest highest priority, smallest sum, fewest victims', () => {
    const v = (n: string, prio: number) => new PodInfo(makePod().name(n).priority(prio).obj());
    assert.equal(pickOneNodeForPreemption([{ name: 'x', victims: [v('1', 1)], numPDBViolations: 1 }, { name: 'y', victims: [v('2', 9)], numPDBViolations: 0 }])?.name, 'y');
    assert.equal(pickOneNodeForPreemption([{ name: 'x', victims: [v('1', 5)], numPDBViolations: 0 }, { name: 'y', victims: [v('2', 3), v('3', 3)], numPDBViolations: 0 }])?.name, 'y');
    assert.equal(pickOneNodeForPreemption([{ name: 'x', victims: [v('1', 3), v('2', 2)], numPDBViolations: 0 }, { name: 'y', victims: [v('3', 3), v('4', 1)], numPDBViolations: 0 }])?.name, 'y');
    assert.equal(pickOneNodeForPreemption([{ name: 'x', victims: [v('1', 3), v('2', 0), v('5', 0)], numPDBViolations: 0 }, { name: 'y', victims: [v('3', 3), v('4', 0)], numPDBViolations: 0 }])?.name, 'y');
  });
});
