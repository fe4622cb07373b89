// Unit tier: the DNS schema over fixed cluster data, record by record as the
// Kubernetes DNS specification lists them, and NXDOMAIN versus NODATA.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipFromReverse, Zone, type ZoneAnswer } from './records.ts';
import { service, slice, StaticClusterData } from './testing.ts';

function zoneWith(build: (d: StaticClusterData) => void, opts: Partial<{ ttl: number; podMode: 'disabled' | 'insecure' | 'verified'; domain: string }> = {}) {
  const d = new StaticClusterData();
  build(d);
  return new Zone(d, { domain: opts.domain ?? 'cluster.local', ttl: opts.ttl ?? 5, podMode: opts.podMode ?? 'insecure' });
}

function answer(a: ZoneAnswer) {
  assert.equal(a.kind, 'answer');
  return a as Extract<ZoneAnswer, { kind: 'answer' }>;
}

const cluster = (d: StaticClusterData) => {
  d.namespaces.add('prod');
  d.set({
    services: [
      service('web').clusterIP('10.96.0.20').port('http', 80).port('metrics', 9090, 'TCP').port('dns', 53, 'UDP'),
      service('unnamed').clusterIP('10.96.0.21').port('', 8080),
      service('db', 'prod').headless().port('pg', 5432),
      service('empty-headless').headless().port('x', 1),
      service('ext').externalName('www.example.com'),
      service('ext-ip').externalName('192.0.2.1'),
      service('ext-in').externalName('web.default.svc.cluster.local'),
      service('dual').clusterIP('10.96.0.30', 'fd00:10:96::30').port('http', 80),
    ],
    slices: [
      slice('db', 'prod')
        .port('pg', 5432)
        .endpoint({ ip: '10.244.1.5', hostname: 'db-0' })
        .endpoint({ ip: '10.244.2.6', hostname: 'db-1' })
        .endpoint({ ip: '10.244.3.7' })
        .endpoint({ ip: '10.244.4.8', ready: false, hostname: 'db-3' }),
      slice('web').port('http', 80).endpoint('10.244.1.10').endpoint('10.244.2.11'),
    ],
  });
};

test('ClusterIP service: A to the cluster IP, AAAA NODATA with the SOA, case-insensitive, TTL as configured', () => {
  const z = zoneWith(cluster, { ttl: 7 });
  const a = answer(z.resolve('web.default.svc.cluster.local', 'A'));
  assert.equal(a.rcode, 'NOERROR');
  assert.deepEqual(a.answers, [{ name: 'web.default.svc.cluster.local', type: 'A', ttl: 7, data: '10.96.0.20' }]);
  const mixed = answer(z.resolve('WEB.Default.SVC.Cluster.Local.', 'A'));
  assert.equal(mixed.answers[0].name, 'WEB.Default.SVC.Cluster.Local', 'owner name as asked');
  const aaaa = answer(z.resolve('web.default.svc.cluster.local', 'AAAA'));
  assert.equal(aaaa.rcode, 'NOERROR');
  assert.equal(aaaa.answers.length, 0);
  assert.equal(aaaa.authorities[0].type, 'SOA');
  const soa = aaaa.authorities[0] as any;
  assert.equal(soa.name, 'cluster.local');
  assert.equal(soa.data.minimum, 7);
  assert.equal(soa.data.mname, 'ns.dns.cluster.local');
});

test('dual-stack service answers A and AAAA', () => {
  const z = zoneWith(cluster);
  assert.equal(answer(z.resolve('dual.default.svc.cluster.local', 'A')).answers[0].data, '10.96.0.30');
  assert.equal(answer(z.resolve('dual.default.svc.cluster.local', 'AAAA')).answers[0].data, 'fd00:10:96::30');
});

test('NXDOMAIN: unknown service, unknown namespace, names outside the schema, too many labels', () => {
  const z = zoneWith(cluster);
  for (const n of ['nope.default.svc.cluster.local', 'web.nons.svc.cluster.local', 'web.default.foo.cluster.local', 'a.b.c.web.default.svc.cluster.local', 'x.cluster.local']) {
    const a = answer(z.resolve(n, 'A'));
    assert.equal(a.rcode, 'NXDOMAIN', n);
    assert.equal(a.authorities[0].type, 'SOA', n);
  }
});

test('NODATA: zone apex, svc, pod, an existing namespace', () => {
  const z = zoneWith(cluster);
  for (const n of ['cluster.local', 'svc.cluster.local', 'pod.cluster.local', 'default.svc.cluster.local', 'prod.svc.cluster.local']) {
    const a = answer(z.resolve(n, 'A'));
    assert.equal(a.rcode, 'NOERROR', n);
    assert.equal(a.answers.length, 0, n);
    assert.equal(a.authorities[0].type, 'SOA', n);
  }
  const soa = answer(z.resolve('cluster.local', 'SOA'));
  assert.equal(soa.answers[0].type, 'SOA');
  const ns = answer(z.resolve('cluster.local', 'NS'));
  assert.deepEqual(ns.answers[0].data, 'ns.dns.cluster.local');
  assert.deepEqual(ns.additionals[0], { name: 'ns.dns.cluster.local', type: 'A', ttl: 5, data: '10.96.0.10' });
  assert.equal(answer(z.resolve('ns.dns.cluster.local', 'A')).answers[0].data, '10.96.0.10');
});

test('dns-version TXT', () => {
  const z = zoneWith(cluster);
  const a = answer(z.resolve('dns-version.cluster.local', 'TXT'));
  assert.deepEqual(a.answers[0].data, ['1.1.0']);
});

test('SRV for a named port of a ClusterIP service targets the service name; unknown port is NXDOMAIN', () => {
  const z = zoneWith(cluster);
  const a = answer(z.resolve('_http._tcp.web.default.svc.cluster.local', 'SRV'));
  assert.deepEqual(a.answers, [{ name: '_http._tcp.web.default.svc.cluster.local', type: 'SRV', ttl: 5, data: { priority: 0, weight: 100, port: 80, target: 'web.default.svc.cluster.local' } }]);
  assert.deepEqual(a.additionals, [{ name: 'web.default.svc.cluster.local', type: 'A', ttl: 5, data: '10.96.0.20' }]);
  assert.equal((answer(z.resolve('_dns._udp.web.default.svc.cluster.local', 'SRV')).answers[0].data as any).port, 53);
  assert.equal(answer(z.resolve('_dns._tcp.web.default.svc.cluster.local', 'SRV')).rcode, 'NXDOMAIN', 'protocol must match');
  assert.equal(answer(z.resolve('_nope._tcp.web.default.svc.cluster.local', 'SRV')).rcode, 'NXDOMAIN');
  // The port name's A record is the service's.
  assert.equal(answer(z.resolve('_http._tcp.web.default.svc.cluster.local', 'A')).answers[0].data, '10.96.0.20');
  // SRV on the bare service name lists every port (CoreDNS); weights share 100.
  const all = answer(z.resolve('web.default.svc.cluster.local', 'SRV'));
  assert.deepEqual(all.answers.map((r: any) => [r.data.port, r.data.weight]), [[80, 33], [9090, 33], [53, 33]]);
});

test('headless service: one A per ready endpoint, hostname records, SRV per endpoint, NXDOMAIN without ready endpoints', () => {
  const z = zoneWith(cluster);
  const a = answer(z.resolve('db.prod.svc.cluster.local', 'A'));
  assert.deepEqual(a.answers.map((r) => r.data).sort(), ['10.244.1.5', '10.244.2.6', '10.244.3.7'], 'not-ready endpoint left out');
  assert.deepEqual(answer(z.resolve('db-0.db.prod.svc.cluster.local', 'A')).answers.map((r) => r.data), ['10.244.1.5']);
  assert.equal(answer(z.resolve('db-3.db.prod.svc.cluster.local', 'A')).rcode, 'NXDOMAIN', 'not ready');
  // An endpoint without hostname is named by its dashed IP.
  assert.deepEqual(answer(z.resolve('10-244-3-7.db.prod.svc.cluster.local', 'A')).answers.map((r) => r.data), ['10.244.3.7']);
  const srv = answer(z.resolve('_pg._tcp.db.prod.svc.cluster.local', 'SRV'));
  assert.deepEqual(
    srv.answers.map((r: any) => `${r.data.port} ${r.data.target}`).sort(),
    ['5432 10-244-3-7.db.prod.svc.cluster.local', '5432 db-0.db.prod.svc.cluster.local', '5432 db-1.db.prod.svc.cluster.local'],
  );
  assert.equal(srv.additionals.length, 3);
  assert.equal(answer(z.resolve('empty-headless.default.svc.cluster.local', 'A')).rcode, 'NXDOMAIN');
  assert.equal(answer(z.resolve('db.prod.svc.cluster.local', 'AAAA')).rcode, 'NOERROR', 'exists: NODATA');
});

test('endpoint names also resolve under a ClusterIP service (CoreDNS)', () => {
  const z = zoneWith(cluster);
  assert.deepEqual(answer(z.resolve('10-244-1-10.web.default.svc.cluster.local', 'A')).answers.map((r) => r.data), ['10.244.1.10']);
});

test('ExternalName: CNAME to be chased; an IP external name has no record; in-cluster targets', () => {
  const z = zoneWith(cluster);
  const a = answer(z.resolve('ext.default.svc.cluster.local', 'A'));
  assert.deepEqual(a.answers, [{ name: 'ext.default.svc.cluster.local', type: 'CNAME', ttl: 5, data: 'www.example.com' }]);
  assert.deepEqual(a.chase, { target: 'www.example.com', type: 'A' });
  assert.equal(answer(z.resolve('ext.default.svc.cluster.local', 'CNAME')).answers[0].data, 'www.example.com');
  assert.equal(answer(z.resolve('ext.default.svc.cluster.local', 'SRV')).rcode, 'NOERROR');
  assert.equal(answer(z.resolve('ext-ip.default.svc.cluster.local', 'A')).rcode, 'NXDOMAIN');
  assert.deepEqual(answer(z.resolve('ext-in.default.svc.cluster.local', 'A')).chase, { target: 'web.default.svc.cluster.local', type: 'A' });
});

test('pod records: insecure answers any dashed IP in an existing namespace; verified needs the pod; disabled NXDOMAIN', () => {
  const z = zoneWith(cluster);
  assert.equal(answer(z.resolve('10-244-1-5.default.pod.cluster.local', 'A')).answers[0].data, '10.244.1.5');
  assert.equal(answer(z.resolve('10-244-1-5.nons.pod.cluster.local', 'A')).rcode, 'NXDOMAIN');
  assert.equal(answer(z.resolve('not-an-ip.default.pod.cluster.local', 'A')).rcode, 'NXDOMAIN');
  assert.equal(answer(z.resolve('fd00--1.default.pod.cluster.local', 'AAAA')).answers[0].data, 'fd00::1');
  const v = zoneWith((d) => {
    cluster(d);
    d.pods.push({ namespace: 'default', ip: '10.244.1.5' });
  }, { podMode: 'verified' });
  assert.equal(answer(v.resolve('10-244-1-5.default.pod.cluster.local', 'A')).rcode, 'NOERROR');
  assert.equal(answer(v.resolve('10-244-1-6.default.pod.cluster.local', 'A')).rcode, 'NXDOMAIN');
  const off = zoneWith(cluster, { podMode: 'disabled' });
  assert.equal(answer(off.resolve('10-244-1-5.default.pod.cluster.local', 'A')).rcode, 'NXDOMAIN');
});

test('PTR for service IPs and endpoint IPs; other reverse names and non-PTR reverse queries are forwarded', () => {
  const z = zoneWith(cluster);
  assert.equal(answer(z.resolve('20.0.96.10.in-addr.arpa', 'PTR')).answers[0].data, 'web.default.svc.cluster.local');
  assert.equal(answer(z.resolve('5.1.244.10.in-addr.arpa', 'PTR')).answers[0].data, 'db-0.db.prod.svc.cluster.local');
  assert.equal(answer(z.resolve('7.3.244.10.in-addr.arpa', 'PTR')).answers[0].data, '10-244-3-7.db.prod.svc.cluster.local');
  const v6 = '0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa';
  assert.equal(answer(z.resolve(v6, 'PTR')).answers[0].data, 'dual.default.svc.cluster.local');
  assert.equal(z.resolve('1.1.168.192.in-addr.arpa', 'PTR').kind, 'forward');
  assert.equal(z.resolve('20.0.96.10.in-addr.arpa', 'A').kind, 'forward');
  assert.equal(z.resolve('example.com', 'A').kind, 'forward');
});

test('a custom cluster domain', () => {
  const z = zoneWith(cluster, { domain: 'corp.example' });
  assert.equal(answer(z.resolve('web.default.svc.corp.example', 'A')).answers[0].data, '10.96.0.20');
  assert.equal(z.resolve('web.default.svc.cluster.local', 'A').kind, 'forward');
});

test('ipFromReverse', () => {
  assert.equal(ipFromReverse('4.3.2.1.in-addr.arpa'), '1.2.3.4');
  assert.equal(ipFromReverse('3.2.1.in-addr.arpa'), undefined);
  assert.equal(ipFromReverse('1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa'), 'fd00::1');
});
