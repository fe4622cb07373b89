// The simulated runtime driven by a fake clock, its container statuses turned into pod
// status by the kubelet's rules (src/kubelet/podstatus.ts), as the pool does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { generatePodStatus } from '../podstatus.ts';
import { rfc3339 } from '../nodestatus.ts';
import { SimPodRuntime, normalizeImage, simImageID, SIM_ANNOTATIONS } from './runtime.ts';
import { makePod } from './fixtures.ts';

const T0 = Date.parse('2026-03-01T10:00:00Z');

/** A pod on a fake clock: each step advances the runtime and folds its report into pod.status. */
function simulate(pod: KObject) {
  let n = 0;
  const rt = new SimPodRuntime(pod, T0, { newID: () => `sim://${String(++n).padStart(64, '0')}` });
  let now = T0;
  const sync = () => {
    rt.advance(now);
    const s = rt.statuses(now);
    pod.status = generatePodStatus(pod, { ...s, startTime: rfc3339(rt.acceptedAt), hostIP: '198.18.0.1', podIP: '10.244.0.2', now: rfc3339(now) });
    return pod.status;
  };
  return {
    rt,
    pod,
    sync,
    at(seconds: number) {
      now = T0 + seconds * 1000;
      return sync();
    },
    cond(type: string) {
      return pod.status.conditions.find((c: any) => c.type === type);
    },
  };
}

test('a plain pod goes Pending → Running with every kubelet condition True, keeping PodScheduled', () => {
  const sim = simulate(makePod('web').container('nginx', 'nginx').build());
  const st = sim.at(0);
  assert.equal(st.phase, 'Running');
  assert.deepEqual(
    st.conditions.map((c: any) => `${c.type}=${c.status}`),
    ['PodReadyToStartContainers=True', 'Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True'],
  );
  assert.equal(sim.cond('PodScheduled').lastTransitionTime, '2026-01-01T00:00:00Z', 'the binding’s time is kept');
  const cs = st.containerStatuses[0];
  assert.equal(cs.image, 'docker.io/library/nginx:latest');
  assert.match(cs.imageID, /^docker\.io\/library\/nginx@sha256:[0-9a-f]{64}$/);
  assert.match(cs.containerID, /^sim:\/\/[0-9a-f]{64}$/);
  assert.deepEqual(cs.state, { running: { startedAt: '2026-03-01T10:00:00Z' } });
  assert.equal(cs.ready, true);
  assert.equal(cs.started, true);
  assert.equal(cs.restartCount, 0);
  assert.equal(st.qosClass, 'BestEffort', 'fields the kubelet does not own are kept');
  assert.equal(st.startTime, '2026-03-01T10:00:00Z');
  assert.deepEqual(st.podIPs, [{ ip: '10.244.0.2' }]);
  // Nothing more is planned, and a later sync changes nothing (transition times hold).
  assert.equal(sim.rt.nextEventAt(T0), Infinity);
  const before = JSON.stringify(st);
  assert.equal(JSON.stringify(sim.at(60)), before);
});

test('start-seconds: ContainerCreating first; init containers run one after the other before the app', () => {
  const pod = makePod('init')
    .annotate(SIM_ANNOTATIONS.startSeconds, '1')
    .annotate(SIM_ANNOTATIONS.initSeconds, '2')
    .init('migrate')
    .init('warm')
    .container('app')
    .build();
  const sim = simulate(pod);
  let st = sim.at(0);
  assert.equal(st.phase, 'Pending');
  assert.equal(sim.cond('PodReadyToStartContainers').status, 'False');
  assert.equal(st.containerStatuses[0].state.waiting.reason, 'ContainerCreating');
  assert.equal(sim.rt.nextEventAt(T0), T0 + 1000);

  st = sim.at(1);
  assert.equal(st.phase, 'Pending');
  assert.ok(st.initContainerStatuses[0].state.running);
  assert.equal(st.initContainerStatuses[1].state.waiting.reason, 'PodInitializing');
  assert.equal(st.containerStatuses[0].state.waiting.reason, 'PodInitializing');
  assert.deepEqual(sim.cond('Initialized'), {
    type: 'Initialized',
    status: 'False',
    lastProbeTime: null,
    lastTransitionTime: '2026-03-01T10:00:00Z',
    reason: 'ContainersNotInitialized',
    message: 'containers with incomplete status: [migrate warm]',
  });

  st = sim.at(3);
  assert.equal(st.initContainerStatuses[0].state.terminated.reason, 'Completed');
  assert.equal(st.initContainerStatuses[0].ready, true);
  assert.ok(st.initContainerStatuses[1].state.running);

  st = sim.at(5);
  assert.equal(st.phase, 'Running');
  assert.equal(sim.cond('Initialized').status, 'True');
  assert.equal(sim.cond('Initialized').lastTransitionTime, '2026-03-01T10:00:05Z');
  assert.equal(st.containerStatuses[0].state.running.startedAt, '2026-03-01T10:00:05Z');
  assert.equal(sim.cond('Ready').status, 'True');
});

test('readiness gates: Ready only once every gate condition is True', () => {
  const pod = makePod('gated').container('app').readinessGate('example.com/lb').build();
  const sim = simulate(pod);
  sim.at(0);
  assert.equal(sim.cond('ContainersReady').status, 'True');
  assert.deepEqual(
    [sim.cond('Ready').status, sim.cond('Ready').reason, sim.cond('Ready').message],
    ['False', 'ReadinessGatesNotReady', 'corresponding condition of pod readiness gate "example.com/lb" does not exist.'],
  );
  pod.status.conditions.push({ type: 'example.com/lb', status: 'False' });
  sim.at(1);
  assert.equal(sim.cond('Ready').message, 'the status of pod readiness gate "example.com/lb" is not "True", but False');
  sim.cond('example.com/lb').status = 'True';
  sim.at(2);
  assert.equal(sim.cond('Ready').status, 'True');
  assert.equal(sim.cond('Ready').lastTransitionTime, '2026-03-01T10:00:02Z');
  assert.ok(pod.status.conditions.some((c: any) => c.type === 'example.com/lb'), 'the gate condition is kept');
});

test('readiness probes delay ready by their initialDelaySeconds; ready-seconds overrides', () => {
  const sim = simulate(makePod('probe').container('app', 'nginx', { readinessProbe: { initialDelaySeconds: 5 } }).build());
  sim.at(0);
  assert.equal(sim.cond('Ready').status, 'False');
  assert.equal(sim.cond('Ready').message, 'containers with unready status: [app]');
  assert.equal(sim.rt.nextEventAt(T0), T0 + 5000);
  sim.at(5);
  assert.equal(sim.cond('Ready').status, 'True');
});

test('restartPolicy Never: run-seconds then exit 0 → Succeeded; exit-code 3 → Failed', () => {
  const ok = simulate(makePod('job').restartPolicy('Never').annotate(SIM_ANNOTATIONS.runSeconds, '1').container('work', 'busybox').build());
  ok.at(0);
  assert.equal(ok.pod.status.phase, 'Running');
  assert.equal(ok.rt.nextEventAt(T0), T0 + 1000);
  let st = ok.at(1);
  assert.equal(st.phase, 'Succeeded');
  assert.deepEqual(st.containerStatuses[0].state.terminated, {
    exitCode: 0,
    reason: 'Completed',
    startedAt: '2026-03-01T10:00:00Z',
    finishedAt: '2026-03-01T10:00:01Z',
    containerID: st.containerStatuses[0].containerID,
  });
  assert.deepEqual(
    st.conditions.map((c: any) => [c.type, c.status, c.reason]),
    [
      ['PodReadyToStartContainers', 'False', undefined],
      ['Initialized', 'True', undefined],
      ['Ready', 'False', 'PodCompleted'],
      ['ContainersReady', 'False', 'PodCompleted'],
      ['PodScheduled', 'True', undefined],
    ],
  );
  assert.equal(ok.rt.terminal, true);

  const bad = simulate(
    makePod('job').restartPolicy('Never').annotate(SIM_ANNOTATIONS.runSeconds, '1').annotate(SIM_ANNOTATIONS.exitCode, '3').container('work').build(),
  );
  st = bad.at(2);
  assert.equal(st.phase, 'Failed');
  assert.equal(st.containerStatuses[0].state.terminated.exitCode, 3);
  assert.equal(st.containerStatuses[0].state.terminated.reason, 'Error');
  assert.equal(bad.cond('Ready').reason, 'PodFailed');
});

test('restartPolicy OnFailure restarts a failing container with the crash-loop back-off; Always restarts on success too', () => {
  const sim = simulate(
    makePod('flaky').restartPolicy('OnFailure').annotate(SIM_ANNOTATIONS.runSeconds, '1').annotate(SIM_ANNOTATIONS.exitCode, '1').container('c').build(),
  );
  let st = sim.at(1);
  // First restart is immediate.
  assert.equal(st.phase, 'Running');
  assert.equal(st.containerStatuses[0].restartCount, 1);
  assert.equal(st.containerStatuses[0].lastState.terminated.exitCode, 1);
  st = sim.at(2);
  assert.equal(st.containerStatuses[0].state.waiting.reason, 'CrashLoopBackOff');
  assert.match(st.containerStatuses[0].state.waiting.message, /^back-off 10s restarting failed container=c pod=flaky_default\(uid-flaky\)$/);
  assert.equal(sim.rt.nextEventAt(T0 + 2000), T0 + 12_000);
  st = sim.at(12);
  assert.equal(st.containerStatuses[0].restartCount, 2);
  assert.ok(st.containerStatuses[0].state.running);
  // Fixing the exit code through the annotation lets the next run succeed: the pod completes.
  sim.pod.metadata.annotations![SIM_ANNOTATIONS.exitCode] = '0';
  sim.rt.update(sim.pod);
  st = sim.at(13);
  assert.equal(st.phase, 'Succeeded');

  const always = simulate(makePod('loop').annotate(SIM_ANNOTATIONS.runSeconds, '1').container('c').build());
  st = always.at(1);
  assert.equal(st.phase, 'Running');
  assert.equal(st.containerStatuses[0].restartCount, 1);
  assert.equal(st.containerStatuses[0].lastState.terminated.reason, 'Completed');
});

test('sidecars (restartable init containers) run beside the app and stop when it ends', () => {
  const pod = makePod('side').restartPolicy('Never').annotate(SIM_ANNOTATIONS.runSeconds, '2').sidecar('proxy').init('setup').container('app').build();
  const sim = simulate(pod);
  let st = sim.at(0);
  assert.ok(st.initContainerStatuses[0].state.running, 'the sidecar keeps running');
  assert.equal(st.initContainerStatuses[0].started, true);
  assert.ok(st.initContainerStatuses[1].state.terminated, 'the regular init container ran after the sidecar started');
  assert.ok(st.containerStatuses[0].state.running);
  assert.equal(sim.cond('ContainersReady').status, 'True');
  st = sim.at(2);
  assert.equal(st.phase, 'Succeeded');
  assert.equal(st.initContainerStatuses[0].state.terminated.exitCode, 0, 'the sidecar was stopped once the app ended');
  assert.equal(sim.cond('Initialized').reason, 'PodCompleted');
});

test('deletion: containers are killed when the grace period ends (137), or exit 0 after stop-seconds', () => {
  const sim = simulate(makePod('del').container('app').build());
  sim.at(0);
  sim.rt.requestStop(T0 + 1000, 30_000);
  assert.equal(sim.rt.nextEventAt(T0 + 1000), T0 + 31_000);
  let st = sim.at(30);
  assert.equal(st.phase, 'Running');
  st = sim.at(31);
  assert.equal(st.phase, 'Failed');
  assert.equal(st.containerStatuses[0].state.terminated.exitCode, 137);
  assert.equal(sim.cond('PodReadyToStartContainers').status, 'False');

  const quick = simulate(makePod('del').annotate(SIM_ANNOTATIONS.stopSeconds, '2').container('app').build());
  quick.at(0);
  quick.rt.requestStop(T0, 30_000);
  st = quick.at(2);
  assert.equal(st.phase, 'Succeeded');
  assert.equal(st.containerStatuses[0].state.terminated.exitCode, 0);
});

test('a restarted kubelet adopts running containers: same IDs, start times and restart counts', () => {
  const first = simulate(makePod('keep').container('app').build());
  first.at(0);
  const seen = structuredClone(first.pod);
  seen.status.containerStatuses[0].restartCount = 4;
  const again = new SimPodRuntime(seen, T0 + 3_600_000);
  again.advance(T0 + 3_600_000);
  const s = again.statuses(T0 + 3_600_000);
  assert.equal(s.containerStatuses[0].containerID, first.pod.status.containerStatuses[0].containerID);
  assert.equal(s.containerStatuses[0].restartCount, 4);
  assert.deepEqual(s.containerStatuses[0].state, { running: { startedAt: '2026-03-01T10:00:00Z' } });
  assert.equal(again.acceptedAt, T0);
});

test('image references are normalized as containerd reports them', () => {
  assert.equal(normalizeImage('nginx'), 'docker.io/library/nginx:latest');
  assert.equal(normalizeImage('bitnami/redis:7'), 'docker.io/bitnami/redis:7');
  assert.equal(normalizeImage('registry.k8s.io/pause:3.10'), 'registry.k8s.io/pause:3.10');
  assert.equal(normalizeImage('localhost:5000/app'), 'localhost:5000/app:latest');
  const digest = 'sha256:' + 'a'.repeat(64);
  assert.equal(simImageID(`busybox@${digest}`), `docker.io/library/busybox@${digest}`);
  assert.match(simImageID('registry.k8s.io/pause:3.10'), /^registry\.k8s\.io\/pause@sha256:/);
});
