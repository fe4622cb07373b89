// Unit tier: the proxy's health checks over real sockets on 127.0.0.1 (no root, no nft):
// the healthz server, the per-Service health check listeners, and the health rules with a
// clock the test moves. The proxier's wiring against an apiserver is in proxier.test.ts.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KObject } from '../api/object.ts';
import type { EventRecorder, EventType, ObjectReference } from '../client/events.ts';
import { eventually } from '../client/testing.ts';
import { goTime, ProxyHealth, ProxyHealthzServer, ServiceHealthServer, TO_BE_DELETED_TAINT } from './healthcheck.ts';
import { localReadyEndpoints, servicePorts } from './model.ts';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One GET on a fresh connection; rejects with the socket error (ECONNREFUSED...). */
function get(port: number, path = '/', method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const refused = (port: number) =>
  get(port).then(
    () => false,
    (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED',
  );

/** A port free on 127.0.0.1 a moment ago. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function occupy(port: number): Promise<Server> {
  const s = createServer((_, res) => res.end('someone else'));
  await new Promise<void>((r) => s.listen(port, '127.0.0.1', r));
  return s;
}

function clock(start: number) {
  const c = { t: start, now: () => c.t };
  return c;
}

const node = (extra: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): KObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-a', ...extra }, spec });

describe('goTime', () => {
  test('formats as Go time.Time String() in UTC, trailing zeros trimmed; 0 is Go\'s zero time', () => {
    assert.equal(goTime(Date.UTC(2026, 10, 22, 2, 37, 17, 120)), '2026-11-22 02:37:17.12 +0000 UTC');
    assert.equal(goTime(Date.UTC(2026, 0, 2, 3, 4, 5, 0)), '2026-01-02 03:04:05 +0000 UTC');
    assert.equal(goTime(0), '0001-01-01 00:00:00 +0000 UTC');
  });
});

describe('ProxyHealth', () => {
  test('healthy while starting; a queued update not live within the timeout makes it unhealthy until a sync', () => {
    const c = clock(1_000_000);
    const h = new ProxyHealth({ healthTimeoutMs: 60_000, now: c.now });
    assert.deepEqual(h.status(), { healthy: true, lastUpdated: 0, currentTime: 1_000_000 });
    h.updated();
    c.t += 1000;
    h.queuedUpdate();
    c.t += 30_000;
    h.queuedUpdate(); // the oldest one counts
    c.t += 29_999;
    assert.equal(h.isHealthy(), true);
    c.t += 1;
    assert.deepEqual(h.status(), { healthy: false, lastUpdated: 1_000_000, currentTime: 1_061_000 });
    h.updated();
    assert.deepEqual(h.status(), { healthy: true, lastUpdated: 1_061_000, currentTime: 1_061_000 });
  });

  test('the node is not eligible while being deleted or tainted ToBeDeletedByClusterAutoscaler', () => {
    const h = new ProxyHealth({ healthTimeoutMs: 1000 });
    assert.equal(h.nodeEligible, true, 'eligible until the node is seen');
    h.syncNode(node({}, { taints: [{ key: TO_BE_DELETED_TAINT, value: '1700000000', effect: 'NoSchedule' }] }));
    assert.equal(h.nodeEligible, false);
    h.syncNode(node({}, { taints: [{ key: 'other', effect: 'NoSchedule' }] }));
    assert.equal(h.nodeEligible, true);
    h.syncNode(node({ deletionTimestamp: '2026-01-01T00:00:00Z' }));
    assert.equal(h.nodeEligible, false);
  });
});

describe('ProxyHealthzServer', () => {
  test('/healthz and /livez: 200 when healthy with lastUpdated = now, 503 with the last update; nodeEligible only in /healthz', async () => {
    const c = clock(Date.UTC(2026, 10, 22, 3, 0, 0, 500));
    const h = new ProxyHealth({ healthTimeoutMs: 10_000, now: c.now });
    const ac = new AbortController();
    const s = new ProxyHealthzServer('127.0.0.1:0', h, ac.signal);
    try {
      const { port } = await s.listening;
      const now = goTime(c.t);
      let r = await get(port, '/healthz');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.body, `{"lastUpdated": "${now}","currentTime": "${now}", "nodeEligible": true}`);
      r = await get(port, '/livez?verbose');
      assert.equal(r.status, 200);
      assert.equal(r.body, `{"lastUpdated": "${now}","currentTime": "${now}"}`);

      h.updated();
      const synced = goTime(c.t);
      h.queuedUpdate();
      c.t += 10_000;
      const later = goTime(c.t);
      r = await get(port, '/healthz');
      assert.equal(r.status, 503);
      assert.equal(r.body, `{"lastUpdated": "${synced}","currentTime": "${later}", "nodeEligible": true}`);
      assert.equal((await get(port, '/livez')).status, 503);

      h.updated();
      h.syncNode(node({}, { taints: [{ key: TO_BE_DELETED_TAINT, effect: 'NoSchedule' }] }));
      r = await get(port, '/healthz');
      assert.equal(r.status, 503);
      assert.equal(JSON.parse(r.body).nodeEligible, false);
      assert.equal((await get(port, '/livez')).status, 200, 'livez ignores the node');

      r = await get(port, '/metrics');
      assert.equal(r.status, 404);
      assert.equal(r.body, '404 page not found\n');
      assert.deepEqual(h.served, { healthz: { 200: 1, 503: 2 }, livez: { 200: 2, 503: 1 } });
    } finally {
      ac.abort();
      await s.closed();
    }
  });

  test('an address in use is logged and retried until it is free', async () => {
    const port = await freePort();
    const blocker = await occupy(port);
    const logs: string[] = [];
    const ac = new AbortController();
    const s = new ProxyHealthzServer(`127.0.0.1:${port}`, new ProxyHealth({ healthTimeoutMs: 1000 }), ac.signal, { retryMs: 20, log: (m, f) => logs.push(`${m} ${JSON.stringify(f)}`) });
    try {
      await eventually(() => logs.some((l) => l.includes(`failed to start proxy healthz on 127.0.0.1:${port}: listen tcp 127.0.0.1:${port}: bind: address already in use`)), 5000, 'bind failure logged');
      assert.equal((await get(port, '/healthz')).body, 'someone else');
      await new Promise((r) => blocker.close(r));
      assert.equal((await s.listening).port, port);
      assert.equal((await get(port, '/healthz')).status, 200);
    } finally {
      blocker.close();
      ac.abort();
      await s.closed();
    }
    assert.equal(await refused(port), true, 'closed after the signal aborts');
  });
});

class RecordingRecorder implements EventRecorder {
  events: { obj: ObjectReference; type: EventType; reason: string; message: string }[] = [];
  event(obj: KObject | ObjectReference, type: EventType, reason: string, message: string): void {
    this.events.push({ obj: obj as ObjectReference, type, reason, message });
  }
  eventf(): void {
    throw new Error('not used');
  }
}

describe('ServiceHealthServer', () => {
  test('one listener per Service: 200 with local endpoints and a healthy proxy, 503 otherwise; closed when no longer wanted', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    let healthy = true;
    const hs = new ServiceHealthServer({ nodeName: 'node-a', bindAddresses: ['127.0.0.1'], proxyHealthy: () => healthy });
    try {
      await hs.syncServices([
        { namespace: 'default', name: 'web', port: p1 },
        { namespace: 'shop', name: 'cart', port: p2 },
      ]);
      assert.deepEqual(hs.listening(), new Map([['default/web', p1], ['shop/cart', p2]]));
      let r = await get(p1, '/');
      assert.equal(r.status, 503, 'no endpoints reported yet');
      hs.syncEndpoints(new Map([['default/web', 2], ['other/x', 1]]));
      r = await get(p1, '/any/path');
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.equal(r.body, '{\n\t"service": {\n\t\t"namespace": "default",\n\t\t"name": "web"\n\t},\n\t"localEndpoints": 2,\n\t"serviceProxyHealthy": true\n}');
      r = await get(p2, '/');
      assert.equal(r.status, 503);
      assert.deepEqual(JSON.parse(r.body), { service: { namespace: 'shop', name: 'cart' }, localEndpoints: 0, serviceProxyHealthy: true });
      healthy = false;
      r = await get(p1, '/');
      assert.equal(r.status, 503, 'an unhealthy proxy fails every service');
      assert.equal(JSON.parse(r.body).serviceProxyHealthy, false);
      healthy = true;
      assert.equal((await get(p1, '/', 'HEAD')).status, 200);

      // A kept-alive connection to a closed health check is cut too.
      const keep = request({ host: '127.0.0.1', port: p2, path: '/', headers: { connection: 'keep-alive' } });
      const kept = new Promise<void>((resolve) => keep.on('response', (res) => (res.resume(), res.on('end', resolve))));
      keep.end();
      await kept;
      const cut = new Promise<void>((resolve) => keep.socket!.on('close', () => resolve()));
      hs.syncEndpoints(new Map());
      await hs.syncServices([{ namespace: 'default', name: 'web', port: p1 }]);
      await cut;
      assert.equal(await refused(p2), true);
      assert.equal((await get(p1, '/')).status, 503, 'counts missing from the map are 0');
      assert.deepEqual(JSON.parse((await get(p1, '/')).body).localEndpoints, 0);
    } finally {
      await hs.close();
    }
    assert.equal(await refused(p1), true);
    await hs.syncServices([{ namespace: 'default', name: 'web', port: p1 }]);
    assert.equal(await refused(p1), true, 'nothing opens after close()');
  });

  test('a port in use: FailedToStartServiceHealthcheck event and a log line; the next sync retries', async () => {
    const port = await freePort();
    const blocker = await occupy(port);
    const recorder = new RecordingRecorder();
    const logs: string[] = [];
    const hs = new ServiceHealthServer({ nodeName: 'node-a', bindAddresses: ['127.0.0.1'], recorder, log: (m) => logs.push(m), proxyHealthy: () => true });
    try {
      const svc = { namespace: 'default', name: 'lb', uid: 'u-1', port };
      await hs.syncServices([svc]);
      assert.deepEqual(hs.listening(), new Map());
      assert.deepEqual(recorder.events, [
        {
          obj: { kind: 'Service', apiVersion: 'v1', namespace: 'default', name: 'lb', uid: 'u-1' },
          type: 'Warning',
          reason: 'FailedToStartServiceHealthcheck',
          message: `node node-a failed to start healthcheck "default/lb" on port ${port}: listen tcp 127.0.0.1:${port}: bind: address already in use`,
        },
      ]);
      assert.ok(logs.includes('failed to start healthcheck'));
      await new Promise((r) => blocker.close(r));
      await hs.syncServices([svc]);
      assert.deepEqual(hs.listening(), new Map([['default/lb', port]]));
      assert.equal((await get(port)).status, 503);
      assert.equal(recorder.events.length, 1);
    } finally {
      blocker.close();
      await hs.close();
    }
  });

  test('a port change reopens the listener on the new port', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const hs = new ServiceHealthServer({ nodeName: 'n', bindAddresses: ['127.0.0.1'], proxyHealthy: () => true });
    try {
      await hs.syncServices([{ namespace: 'a', name: 'b', port: p1 }]);
      await hs.syncServices([{ namespace: 'a', name: 'b', port: p2 }]);
      assert.equal(await refused(p1), true);
      assert.equal((await get(p2)).status, 503);
    } finally {
      await hs.close();
    }
  });
});

describe('localReadyEndpoints', () => {
  test('counts ready endpoints on this node by distinct address across ports; terminating and remote ones do not count', () => {
    const svc: KObject = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace: 'default', name: 'web' },
      spec: { type: 'LoadBalancer', clusterIP: '10.96.0.5', externalTrafficPolicy: 'Local', ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'https', port: 443, protocol: 'TCP' }] },
    };
    const slice: KObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { namespace: 'default', name: 'web-1' },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }, { name: 'https', port: 8443, protocol: 'TCP' }],
      endpoints: [
        { addresses: ['10.244.1.2'], nodeName: 'node-a', conditions: { ready: true } },
        { addresses: ['10.244.1.3'], nodeName: 'node-a', conditions: { ready: false, serving: true, terminating: true } },
        { addresses: ['10.244.1.4'], nodeName: 'node-a' },
        { addresses: ['10.244.2.2'], nodeName: 'node-b', conditions: { ready: true } },
      ],
    };
    assert.deepEqual(localReadyEndpoints(servicePorts(svc, [slice]), 'node-a'), new Map([['default/web', 2]]));
    assert.deepEqual(localReadyEndpoints(servicePorts(svc, [slice]), 'node-c'), new Map());
  });
});
