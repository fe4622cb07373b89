import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containersReadyCondition, initializedCondition, podPhase, type ContainerStatus } from './podstatus.ts';
import { makePod } from './sim/fixtures.ts';

const status = (name: string, state: ContainerStatus['state'], extra: Partial<ContainerStatus> = {}): ContainerStatus => ({
  name,
  state,
  lastState: {},
  ready: false,
  restartCount: 0,
  image: 'i',
  imageID: '',
  ...extra,
});

test('phase: a failed init container fails a Never pod and keeps others Pending while it restarts', () => {
  const failed = [status('init', { terminated: { exitCode: 1 } })];
  const waiting = [status('app', { waiting: { reason: 'PodInitializing' } })];
  const never = makePod().restartPolicy('Never').init('init').container('app').build();
  assert.equal(podPhase(never, { initContainerStatuses: failed, containerStatuses: waiting, podIsTerminal: false }), 'Failed');
  const onFailure = makePod().restartPolicy('OnFailure').init('init').container('app').build();
  const backoff = [status('init', { waiting: { reason: 'CrashLoopBackOff' } }, { lastState: { terminated: { exitCode: 1 } } })];
  assert.equal(podPhase(onFailure, { initContainerStatuses: backoff, containerStatuses: waiting, podIsTerminal: false }), 'Pending');
});

test('phase: unknown containers keep a pod Pending; Always pods whose containers all exited stay Running', () => {
  const pod = makePod().container('a').container('b').build();
  const running = status('a', { running: {} });
  assert.equal(podPhase(pod, { containerStatuses: [running], podIsTerminal: false }), 'Pending');
  const exited = [status('a', { terminated: { exitCode: 0 } }), status('b', { terminated: { exitCode: 2 } })];
  assert.equal(podPhase(pod, { containerStatuses: exited, podIsTerminal: false }), 'Running');
  assert.equal(podPhase(pod, { containerStatuses: exited, podIsTerminal: true }), 'Failed');
});

test('conditions name the containers holding them back, as upstream prints Go lists', () => {
  const pod = makePod().init('i1').init('i2').container('a').container('b').build();
  assert.deepEqual(initializedCondition(pod, { initContainerStatuses: [status('i1', { running: {} })], containerStatuses: [], phase: 'Pending' }), {
    type: 'Initialized',
    status: 'False',
    reason: 'ContainersNotInitialized',
    message: 'containers with unknown status: [i2], containers with incomplete status: [i1]',
  });
  assert.deepEqual(containersReadyCondition(pod, { containerStatuses: [status('a', { running: {} })], phase: 'Pending' }), {
    type: 'ContainersReady',
    status: 'False',
    reason: 'ContainersNotReady',
    message: 'containers with unknown status: [b], containers with unready status: [a]',
  });
  assert.deepEqual(containersReadyCondition(pod, { phase: 'Pending' }), { type: 'ContainersReady', status: 'False', reason: 'UnknownContainerStatuses' });
});
