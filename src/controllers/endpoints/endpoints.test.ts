// The Endpoints controller. Unit: subsets repacked and sorted as upstream, truncation
// at capacity, the trigger-time tracker, named ports. Integration (apiserver, simulated
// nodes, the test binder): Endpoints follow pods becoming ready and going away, named
// targetPorts resolve per pod, publishNotReadyAddresses, headless services with
// hostname/subdomain, selectorless services keep their own Endpoints, and `kubectl get
// endpoints` shows the addresses.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../../api/object.ts';
import { ref } from '../../client/resources.ts';
import { kubectlFor } from '../../../test/harness.ts';
import { createClient } from '../../client/rest.ts';
import type { Transport } from '../../client/types.ts';
import { startControllerManager } from '../manager.ts';
import { CONTROLLER_MANAGER_USER, eventually, startControllerTestCluster, type ControllerTestCluster, type RunningControllers } from '../testing.ts';
import { computeSubsets, endpointsController, truncateEndpoints } from './controller.ts';
import { findPort, LAST_CHANGE_TRIGGER_TIME, OVER_CAPACITY, repackSubsets, rfc3339Nano, TriggerTimeTracker } from './util.ts';

const READY_SECONDS = 'sim.skiff.dev/ready-seconds';

function fakePod(name: string, ip: string, o: { ready?: boolean; ports?: Record<string, number>; node?: string; readyAt?: string; hostname?: string; subdomain?: string } = {}): KObject {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, labels: { app: 'web' } },
    spec: {
      nodeName: o.node ?? 'n1',
      hostname: o.hostname,
      subdomain: o.subdomain,
      containers: [{ name: 'c', ports: Object.entries(o.ports ?? {}).map(([n, p]) => ({ name: n, containerPort: p, protocol: 'TCP' })) }],
    },
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True', lastTransitionTime: o.readyAt ?? '2026-01-01T00:00:00Z' }],
    },
  };
}

const svc = (spec: Record<string, unknown>, name = 'web'): KObject => ({
  metadata: { name, namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: { clusterIP: '10.96.0.20', ipFamilies: ['IPv4'], selector: { app: 'web' }, ...spec },
});

describe('Endpoints subsets (unit)', () => {
  it('groups addresses by the ports they offer, ready before not ready, sorted by IP', () => {
    const s = svc({ ports: [{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }] });
    const pods = [
      fakePod('b', '10.244.0.10', { ports: { http: 8080 } }),
      fakePod('a', '10.244.0.9', { ports: { http: 8080 } }),
      fakePod('c', '10.244.1.2', { ports: { http: 9090 }, ready: false }),
      fakePod('d', '10.244.1.3', { ports: {} }),
    ];
    const subsets = repackSubsets(computeSubsets(s, pods));
    assert.deepEqual(subsets, [
      {
        addresses: [
          { ip: '10.244.0.9', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'a', uid: 'uid-a' } },
          { ip: '10.244.0.10', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'b', uid: 'uid-b' } },
        ],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
      {
        notReadyAddresses: [{ ip: '10.244.1.2', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'c', uid: 'uid-c' } }],
        ports: [{ name: 'http', port: 9090, protocol: 'TCP' }],
      },
    ]);
  });

  it('a pod serving several ports is one subset with every port', () => {
    const s = svc({
      ports: [
        { name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' },
        { name: 'metrics', port: 9100, targetPort: 9100, protocol: 'TCP' },
      ],
    });
    const subsets = repackSubsets(computeSubsets(s, [fakePod('a', '10.244.0.9'), fakePod('b', '10.244.0.8')]));
    assert.equal(subsets.length, 1);
    assert.deepEqual(subsets[0].addresses!.map((a) => a.ip), ['10.244.0.8', '10.244.0.9']);
    assert.deepEqual(subsets[0].ports!.map((p) => p.port), [8080, 9100]);
  });

  it('publishNotReadyAddresses lists every pod as ready; headless services without ports still list pods; hostnames for the subdomain', () => {
    const notReady = fakePod('a', '10.244.0.9', { ready: false, hostname: 'a', subdomain: 'web' });
    let subsets = repackSubsets(computeSubsets(svc({ publishNotReadyAddresses: true, ports: [{ port: 80, targetPort: 80, protocol: 'TCP' }] }), [notReady]));
    assert.equal(subsets[0].addresses?.length, 1);
    assert.equal(subsets[0].addresses![0].hostname, 'a');
    subsets = repackSubsets(computeSubsets(svc({ clusterIP: 'None', ports: [] }), [fakePod('b', '10.244.0.8')]));
    assert.deepEqual(subsets, [{ addresses: [{ ip: '10.244.0.8', nodeName: 'n1', targetRef: { kind: 'Pod', namespace: 'default', name: 'b', uid: 'uid-b' } }] }]);
  });

  it('truncates to capacity, ready addresses kept first, in proportion per subset', () => {
    const addrs = (n: number, base: number) => Array.from({ length: n }, (_, i) => ({ ip: `10.0.${base}.${i}` }));
    const ep: KObject = {
      metadata: {},
      subsets: [
        { addresses: addrs(6, 1), notReadyAddresses: addrs(4, 2), ports: [{ port: 1 }] },
        { addresses: addrs(2, 3), notReadyAddresses: addrs(4, 4), ports: [{ port: 2 }] },
      ],
    };
    assert.equal(truncateEndpoints(ep, 10), true);
    const total = ep.subsets.reduce((n: number, s: any) => n + (s.addresses?.length ?? 0) + (s.notReadyAddresses?.length ?? 0), 0);
    assert.equal(total, 10);
    assert.deepEqual(ep.subsets.map((s: any) => s.addresses.length), [6, 2], 'every ready address is kept');
    assert.equal(truncateEndpoints({ metadata: {}, subsets: [{ addresses: addrs(3, 1) }] }, 10), false);
  });

  it('finds named ports in containers and sidecars, with the protocol', () => {
    const pod: KObject = {
      metadata: { name: 'p' },
      spec: {
        containers: [{ name: 'c', ports: [{ name: 'dns', containerPort: 53, protocol: 'UDP' }] }],
        initContainers: [{ name: 's', restartPolicy: 'Always', ports: [{ name: 'proxy', containerPort: 15001 }] }],
      },
    };
    assert.equal(findPort(pod, { targetPort: 'dns', protocol: 'UDP' }), 53);
    assert.equal(findPort(pod, { targetPort: 'dns', protocol: 'TCP' }), undefined);
    assert.equal(findPort(pod, { targetPort: 'proxy' }), 15001);
    assert.equal(findPort(pod, { targetPort: 8080 }), 8080);
  });

  it('trigger time: the service creation first, then the earliest changed readiness, nothing when nothing changed', () => {
    const t = new TriggerTimeTracker();
    const s = svc({});
    const a = fakePod('a', '10.0.0.1', { readyAt: '2026-01-01T00:00:05Z' });
    assert.equal(t.compute(s, [a]), Date.parse('2026-01-01T00:00:00Z'));
    assert.equal(t.compute(s, [a]), undefined);
    const b = fakePod('b', '10.0.0.2', { readyAt: '2026-01-01T00:00:09Z' });
    const a2 = fakePod('a', '10.0.0.1', { readyAt: '2026-01-01T00:00:07Z' });
    assert.equal(t.compute(s, [a2, b]), Date.parse('2026-01-01T00:00:07Z'));
    assert.equal(rfc3339Nano(Date.parse('2026-01-01T00:00:07Z')), '2026-01-01T00:00:07Z');
    assert.equal(rfc3339Nano(Date.parse('2026-01-01T00:00:07.120Z')), '2026-01-01T00:00:07.12Z');
  });
});

describe('Endpoints controller (integration)', () => {
  let c: ControllerTestCluster;
  let cm: RunningControllers;
  before(async () => {
    c = await startControllerTestCluster({ nodes: 2 });
    cm = c.startControllers([endpointsController()]);
    await cm.manager.whenReady();
  });
  after(async () => {
    await c?.close();
  });

  const pod = (name: string, port: number, readySeconds: number, extra: Record<string, unknown> = {}): KObject => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: 'web' }, annotations: { [READY_SECONDS]: String(readySeconds), 'sim.skiff.dev/stop-seconds': '0' } },
    spec: { containers: [{ name: 'app', image: 'nginx', ports: [{ name: 'http', containerPort: port }] }], ...extra },
  });
  const get = (name: string) => c.client.get(ref.endpoints, 'default', name);

  it('follows pods becoming ready and being deleted, resolving named targetPorts per pod', async () => {
    await c.client.create(ref.services, 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', labels: { tier: 'front' } },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    });
    // No pods yet: an Endpoints without subsets, the service's labels, the trigger time of its creation.
    let ep = await c.waitFor(ref.endpoints, 'default', 'web', (o) => !!o);
    assert.deepEqual(ep!.subsets ?? [], []);
    assert.equal(ep!.metadata.labels?.tier, 'front');
    assert.ok(ep!.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME]);
    assert.equal(ep!.metadata.ownerReferences, undefined, 'Endpoints are not owned by their Service');

    await c.client.create(ref.pods, 'default', pod('web-a', 8080, 3600));
    await c.client.create(ref.pods, 'default', pod('web-b', 9090, 0));
    ep = await c.waitFor(ref.endpoints, 'default', 'web', (o) => {
      const s = o?.subsets ?? [];
      return s.length === 2 && s.some((x: any) => x.notReadyAddresses?.length === 1) && s.some((x: any) => x.addresses?.length === 1);
    });
    const a = await c.client.get(ref.pods, 'default', 'web-a');
    const b = await c.client.get(ref.pods, 'default', 'web-b');
    const byPort = (p: number) => ep!.subsets.find((s: any) => s.ports[0].port === p);
    assert.deepEqual(byPort(8080), {
      notReadyAddresses: [{ ip: a.status.podIP, nodeName: a.spec.nodeName, targetRef: { kind: 'Pod', namespace: 'default', name: 'web-a', uid: a.metadata.uid } }],
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    assert.deepEqual(byPort(9090)!.addresses[0].ip, b.status.podIP);

    // web-a becomes ready (the simulated readiness delay is re-read on update), in a later
    // second than it became not ready: transition times have second precision.
    await new Promise((r) => setTimeout(r, 1100));
    await c.client.patch(ref.pods, 'default', 'web-a', 'merge', { metadata: { annotations: { [READY_SECONDS]: '0' } } });
    ep = await c.waitFor(ref.endpoints, 'default', 'web', (o) => (o?.subsets ?? []).every((s: any) => s.addresses?.length === 1 && !s.notReadyAddresses));
    const readyAt = (await c.client.get(ref.pods, 'default', 'web-a')).status.conditions.find((x: any) => x.type === 'Ready').lastTransitionTime;
    assert.equal(ep!.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME], readyAt, 'the trigger time is the readiness change');

    await c.client.delete(ref.pods, 'default', 'web-b');
    ep = await c.waitFor(ref.endpoints, 'default', 'web', (o) => (o?.subsets ?? []).length === 1);
    assert.equal(ep!.subsets[0].addresses[0].ip, a.status.podIP);
  });

  it('kubectl get endpoints shows the addresses', async () => {
    const a = await c.client.get(ref.pods, 'default', 'web-a');
    const kubectl = kubectlFor(c.server.kubeconfigPath, c.dir);
    const r = await kubectl(['get', 'endpoints', 'web']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0], /^NAME\s+ENDPOINTS\s+AGE$/);
    assert.match(lines[1], new RegExp(`^web\\s+${a.status.podIP.replaceAll('.', '\\.')}:8080\\s+\\d+s$`));
  });

  it('publishNotReadyAddresses, and headless services with hostname and subdomain', async () => {
    await c.client.create(ref.services, 'default', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'db' },
      spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: { app: 'db' }, ports: [{ port: 5432 }] },
    });
    const p = pod('db-0', 5432, 3600, { hostname: 'db-0', subdomain: 'db' });
    p.metadata.labels = { app: 'db' };
    await c.client.create(ref.pods, 'default', p);
    const ep = await c.waitFor(ref.endpoints, 'default', 'db', (o) => o?.subsets?.[0]?.addresses?.length === 1);
    assert.equal(ep!.subsets[0].addresses[0].hostname, 'db-0');
    assert.equal(ep!.subsets[0].notReadyAddresses, undefined, 'published although not ready');
    assert.equal(ep!.metadata.labels?.['service.kubernetes.io/headless'], '');
  });

  it('leaves selectorless and the kubernetes service alone, deletes Endpoints with their service, recreates deleted ones', async () => {
    await c.client.create(ref.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext' }, spec: { ports: [{ port: 80 }] } });
    await c.client.create(ref.endpoints, 'default', {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name: 'ext' },
      subsets: [{ addresses: [{ ip: '192.0.2.10' }], ports: [{ port: 80 }] }],
    });
    const kube = await get('kubernetes');
    await c.client.delete(ref.endpoints, 'default', 'web');
    await c.waitFor(ref.endpoints, 'default', 'web', (o) => (o?.subsets ?? []).length === 1);
    await c.client.delete(ref.services, 'default', 'web');
    await c.waitFor(ref.endpoints, 'default', 'web', (o) => o === undefined);
    assert.deepEqual((await get('ext')).subsets[0].addresses, [{ ip: '192.0.2.10' }]);
    assert.equal((await get('kubernetes')).metadata.resourceVersion, kube.metadata.resourceVersion);
  });

  it('annotates over-capacity Endpoints', async () => {
    // The cap is an option: the controller is restarted with a cap of 1.
    await cm.stop();
    const cm2 = c.startControllers([endpointsController({ maxCapacity: 1 })]);
    await cm2.manager.whenReady();
    try {
      await c.client.create(ref.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'many' }, spec: { selector: { app: 'many' }, ports: [{ port: 80 }] } });
      for (const n of ['many-a', 'many-b']) {
        const p = pod(n, 80, 0);
        p.metadata.labels = { app: 'many' };
        await c.client.create(ref.pods, 'default', p);
      }
      const ep = await eventually(async () => {
        const o = await get('many');
        return o.metadata.annotations?.[OVER_CAPACITY] === 'truncated' ? o : undefined;
      }, 20_000, 'over-capacity annotation');
      const n = (ep.subsets ?? []).reduce((k: number, s: any) => k + (s.addresses?.length ?? 0), 0);
      assert.ok(n >= 1);
    } finally {
      await cm2.stop();
    }
  });

  it('writes no empty label or annotation maps', async () => {
    const cm3 = c.startControllers([endpointsController()]);
    await cm3.manager.whenReady();
    try {
      await c.client.create(ref.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'plain' }, spec: { selector: { app: 'plain' }, ports: [{ port: 80 }] } });
      const first = await c.waitFor(ref.endpoints, 'default', 'plain', (o) => !!o);
      assert.equal('labels' in first!.metadata, false, JSON.stringify(first!.metadata));
      assert.ok(first!.metadata.annotations?.[LAST_CHANGE_TRIGGER_TIME]);
      // Recreated with nothing changed since: no trigger time, so no annotations at all.
      await c.client.delete(ref.endpoints, 'default', 'plain');
      const again = await c.waitFor(ref.endpoints, 'default', 'plain', (o) => !!o && o.metadata.uid !== first!.metadata.uid);
      assert.equal('annotations' in again!.metadata, false, JSON.stringify(again!.metadata));
      assert.equal('labels' in again!.metadata, false, JSON.stringify(again!.metadata));
    } finally {
      await cm3.stop();
    }
  });

  it('waits for its cache to show its own last write: no conflicts with itself, even when the watch lags', async () => {
    // The controller's Endpoints watch is delayed by 300 ms a line, so the cache trails
    // the controller's writes; every write and its answer is recorded.
    const writes: { method: string; status: number }[] = [];
    const inner = c.transport(CONTROLLER_MANAGER_USER);
    const lagging: Transport = {
      async request(req) {
        const r = await inner.request(req);
        if (/\/endpoints(\/|\?|$)/.test(req.path) && req.method !== 'GET') writes.push({ method: req.method, status: r.status });
        return r;
      },
      async stream(req) {
        const r = await inner.stream(req);
        if (!/\/endpoints\?.*watch=true/.test(req.path)) return r;
        async function* delayed(lines: AsyncIterable<string>) {
          for await (const l of lines) {
            await new Promise((res) => setTimeout(res, 300));
            yield l;
          }
        }
        return { status: r.status, lines: delayed(r.lines) };
      },
      close: () => inner.close(),
    };
    const ac = new AbortController();
    const m = startControllerManager({ client: createClient(lagging), controllers: [endpointsController()], leaderElection: { enabled: false } }, ac.signal);
    try {
      await m.whenReady();
      await c.client.create(ref.services, 'default', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'lag' }, spec: { clusterIP: 'None', selector: { app: 'lag' }, ports: [{ port: 80 }] } });
      for (const n of ['lag-a', 'lag-b', 'lag-c']) {
        const p = pod(n, 80, 0);
        p.metadata.labels = { app: 'lag' };
        await c.client.create(ref.pods, 'default', p);
      }
      const ep = await c.waitFor(ref.endpoints, 'default', 'lag', (o) => o?.subsets?.[0]?.addresses?.length === 3, 20_000);
      assert.deepEqual(ep!.metadata.labels, { 'service.kubernetes.io/headless': '' });
      assert.ok(writes.length >= 2, JSON.stringify(writes));
      assert.deepEqual(writes.filter((w) => w.status >= 300), [], 'no write of the controller failed');
      assert.deepEqual([...(await c.events('default', 'lag', 'FailedToUpdateEndpoint')), ...(await c.events('default', 'lag', 'FailedToCreateEndpoint'))], []);
    } finally {
      ac.abort();
      await m.done;
    }
  });
});
