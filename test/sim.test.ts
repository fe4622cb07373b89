// Integration: simulated nodes in the apiserver's process (in-process transport, one
// identity per node), observed and driven with the real kubectl.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestCluster, type TestCluster } from './harness.ts';
import { startInProcessSimPool, SimPool, SIM_ANNOTATIONS } from '../src/kubelet/sim/index.ts';
import { cidrContains, parseCidr4, parseIPv4 } from '../src/kubelet/sim/ipam.ts';

/** Polls `fn` until it returns a value (not undefined) or `ms` pass. */
async function eventually<T>(what: string, fn: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(100);
  }
}

function podManifest(name: string, opts: { node: string; restartPolicy?: string; annotations?: Record<string, string>; grace?: number }): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, annotations: opts.annotations ?? {} },
    spec: {
      nodeName: opts.node,
      restartPolicy: opts.restartPolicy ?? 'Always',
      terminationGracePeriodSeconds: opts.grace ?? 30,
      containers: [{ name: 'main', image: 'busybox' }],
    },
  });
}

describe('simulated nodes', () => {
  let c: TestCluster;
  let pool: SimPool;
  const ac = new AbortController();
  const kubectl = (...args: string[]) => c.kubectl(args);
  const ok = async (...args: string[]) => {
    const r = await c.kubectl(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const phase = (name: string) => ok('get', 'pod', name, '-o', 'jsonpath={.status.phase}');

  before(async () => {
    c = await startTestCluster();
    // A 1 s lease renewal keeps the staleness test short; the default is upstream's 10 s.
    pool = await startInProcessSimPool(c.server, { nodes: 3, leaseRenewIntervalMs: 1000 }, ac.signal);
    // No controllers run here: create what the service account controller would, so pods are admitted.
    const sa = await c.kubectl(['create', 'serviceaccount', 'default']);
    assert.ok(sa.code === 0 || /AlreadyExists/.test(sa.stderr), sa.stderr);
  });

  after(async () => {
    ac.abort();
    await pool?.close();
    await c?.close();
  });

  test('kubectl get nodes shows every simulated node Ready with upstream columns', async () => {
    const out = await ok('get', 'nodes');
    const lines = out.trim().split('\n');
    assert.match(lines[0], /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION$/);
    assert.equal(lines.length, 4);
    for (const [i, line] of lines.slice(1).entries()) {
      assert.match(line, new RegExp(`^sim-${i}\\s+Ready\\s+<none>\\s+\\d+s\\s+v1\\.32\\.\\d+\\S*$`));
    }
    const node = JSON.parse(await ok('get', 'node', 'sim-1', '-o', 'json'));
    assert.equal(node.metadata.labels['kubernetes.io/hostname'], 'sim-1');
    assert.equal(node.metadata.labels['kubernetes.io/os'], 'linux');
    assert.ok(node.metadata.labels['topology.kubernetes.io/zone']);
    assert.ok(node.metadata.labels['node.kubernetes.io/instance-type']);
    assert.equal(node.status.capacity.pods, '110');
    assert.equal(node.status.nodeInfo.containerRuntimeVersion, 'sim://skiff-0.1.0');
    assert.deepEqual(
      node.status.conditions.map((x: any) => `${x.type}=${x.status}`),
      ['MemoryPressure=False', 'DiskPressure=False', 'PIDPressure=False', 'Ready=True'],
    );
    assert.match(node.spec.podCIDR, /^10\.244\.\d+\.0\/24$/);
    const zones = new Set<string>();
    for (const n of JSON.parse(await ok('get', 'nodes', '-o', 'json')).items) zones.add(n.metadata.labels['topology.kubernetes.io/zone']);
    assert.equal(zones.size, 3, 'nodes are spread over zones');
  });

  test('kubectl run, then a manual binding: the pod runs on that node with an IP from its podCIDR', async () => {
    await ok('run', 'x', '--image=nginx');
    assert.equal(await phase('x'), 'Pending');
    const binding = await c.file('binding.json', JSON.stringify({ apiVersion: 'v1', kind: 'Binding', metadata: { name: 'x' }, target: { apiVersion: 'v1', kind: 'Node', name: 'sim-1' } }));
    await ok('create', '--raw', '/api/v1/namespaces/default/pods/x/binding', '-f', binding);
    const row = await eventually('pod x Running', async () => {
      const out = await ok('get', 'pod', 'x', '-o', 'wide');
      const line = out.trim().split('\n')[1];
      return /\sRunning\s/.test(line) ? line : undefined;
    });
    const header = (await ok('get', 'pod', 'x', '-o', 'wide')).split('\n')[0];
    assert.match(header, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE\s+NOMINATED NODE\s+READINESS GATES$/);
    const [name, ready, status, restarts, , ip, node] = row.split(/\s+/);
    assert.deepEqual([name, ready, status, restarts, node], ['x', '1/1', 'Running', '0', 'sim-1']);
    const podCIDR = await ok('get', 'node', 'sim-1', '-o', 'jsonpath={.spec.podCIDR}');
    assert.ok(cidrContains(parseCidr4(podCIDR), parseIPv4(ip)!), `${ip} in ${podCIDR}`);

    const pod = JSON.parse(await ok('get', 'pod', 'x', '-o', 'json'));
    assert.deepEqual(
      pod.status.conditions.map((x: any) => `${x.type}=${x.status}`),
      ['PodReadyToStartContainers=True', 'Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True'],
    );
    const cs = pod.status.containerStatuses[0];
    assert.equal(cs.image, 'docker.io/library/nginx:latest');
    assert.match(cs.containerID, /^sim:\/\//);
    assert.equal(cs.restartCount, 0);
    assert.ok(cs.state.running.startedAt);
    assert.equal(pod.status.hostIP, (await ok('get', 'node', 'sim-1', '-o', 'jsonpath={.status.addresses[0].address}')));
  });

  test("stopping a node's heartbeat leaves its Lease stale; restarting renews it", async () => {
    const renewTime = (n: string) => ok('get', 'lease', '-n', 'kube-node-lease', n, '-o', 'jsonpath={.spec.renewTime}');
    pool.stopNode('sim-2');
    const stale = await renewTime('sim-2');
    const alive = await renewTime('sim-0');
    await sleep(2500);
    assert.equal(await renewTime('sim-2'), stale, 'a stopped node renews nothing');
    assert.notEqual(await renewTime('sim-0'), alive, 'the others keep renewing');
    assert.equal(await ok('get', 'lease', '-n', 'kube-node-lease', 'sim-2', '-o', 'jsonpath={.spec.leaseDurationSeconds}'), '40');
    await pool.startNode('sim-2');
    assert.notEqual(await renewTime('sim-2'), stale);
  });

  test("a label another client puts on a node's Lease stays through the node's renewals", async () => {
    const lease = (jsonpath: string) => ok('get', 'lease', '-n', 'kube-node-lease', 'sim-1', '-o', `jsonpath=${jsonpath}`);
    await ok('label', 'lease', '-n', 'kube-node-lease', 'sim-1', 'team=a');
    const labelled = await lease('{.spec.renewTime}');
    await sleep(2500);
    assert.notEqual(await lease('{.spec.renewTime}'), labelled, 'the node keeps renewing');
    assert.equal(await lease('{.metadata.labels.team}'), 'a');
  });

  test('a restartPolicy Never pod with run-seconds=1 Succeeds; with exit-code 3 it Fails', async () => {
    await ok('apply', '-f', await c.file('done.json', podManifest('done', { node: 'sim-0', restartPolicy: 'Never', annotations: { [SIM_ANNOTATIONS.runSeconds]: '1' } })));
    await ok('apply', '-f', await c.file('fail.json', podManifest('fail', { node: 'sim-2', restartPolicy: 'Never', annotations: { [SIM_ANNOTATIONS.runSeconds]: '1', [SIM_ANNOTATIONS.exitCode]: '3' } })));
    await eventually('done Running', async () => ((await phase('done')) === 'Running' ? true : undefined));
    await eventually('done Succeeded', async () => ((await phase('done')) === 'Succeeded' ? true : undefined));
    await eventually('fail Failed', async () => ((await phase('fail')) === 'Failed' ? true : undefined));
    const out = await ok('get', 'pods', 'done', 'fail');
    assert.match(out, /\ndone\s+0\/1\s+Completed\s+0\s/);
    assert.match(out, /\nfail\s+0\/1\s+Error\s+0\s/);
    const fail = JSON.parse(await ok('get', 'pod', 'fail', '-o', 'json'));
    assert.equal(fail.status.containerStatuses[0].state.terminated.exitCode, 3);
    assert.equal(fail.status.containerStatuses[0].state.terminated.reason, 'Error');
  });

  test('graceful delete: the pod is removed once its grace period is over', async () => {
    await ok('apply', '-f', await c.file('bye.json', podManifest('bye', { node: 'sim-0', grace: 30 })));
    await eventually('bye Running', async () => ((await phase('bye')) === 'Running' ? true : undefined));
    const started = Date.now();
    // kubectl waits for the object to be gone.
    await ok('delete', 'pod', 'bye', '--grace-period=2');
    const took = Date.now() - started;
    assert.ok(took >= 1000, `removed after the grace period, took ${took} ms`);
    const r = await kubectl('get', 'pod', 'bye');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /NotFound/);
    // Finished pods go at once.
    const t = Date.now();
    await ok('delete', 'pod', 'done');
    assert.ok(Date.now() - t < 5000);
  });

  test('a restarted pool takes its nodes and running pods back: same podCIDRs, addresses, pod IPs and container IDs', async () => {
    const before = JSON.parse(await ok('get', 'pod', 'x', '-o', 'json'));
    const cidrs = await ok('get', 'nodes', '-o', 'jsonpath={.items[*].spec.podCIDR}');
    const ips = await ok('get', 'nodes', '-o', 'jsonpath={.items[*].status.addresses[0].address}');
    await pool.close();
    const ac2 = new AbortController();
    ac.signal.addEventListener('abort', () => ac2.abort());
    pool = await startInProcessSimPool(c.server, { nodes: 3, leaseRenewIntervalMs: 1000 }, ac2.signal);
    assert.equal(await ok('get', 'nodes', '-o', 'jsonpath={.items[*].spec.podCIDR}'), cidrs);
    assert.equal(await ok('get', 'nodes', '-o', 'jsonpath={.items[*].status.addresses[0].address}'), ips);
    // A new pod on the same node gets a fresh address, not x's.
    await ok('apply', '-f', await c.file('y.json', podManifest('y', { node: 'sim-1' })));
    await eventually('y Running', async () => ((await phase('y')) === 'Running' ? true : undefined));
    const after = JSON.parse(await ok('get', 'pod', 'x', '-o', 'json'));
    const y = JSON.parse(await ok('get', 'pod', 'y', '-o', 'json'));
    assert.equal(after.status.podIP, before.status.podIP);
    assert.notEqual(y.status.podIP, before.status.podIP);
    assert.equal(after.status.containerStatuses[0].containerID, before.status.containerStatuses[0].containerID);
    assert.equal(after.status.containerStatuses[0].restartCount, 0);
    assert.equal(after.status.startTime, before.status.startTime);
  });
});
