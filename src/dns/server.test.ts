// Integration tier: the DNS server on loopback (127.0.0.x, random ports), asked over
// UDP and TCP with dns-packet; a fake upstream resolver on another loopback address;
// and the whole path from a real apiserver through the client library's informers.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import { SharedInformerFactory } from '../client/factory.ts';
import { ref } from '../client/resources.ts';
import { createClient } from '../client/rest.ts';
import { eventually, startClientTestServer } from '../client/testing.ts';
import { DnsServer, startDnsServer } from './server.ts';
import { ensureKubeDnsService } from './service.ts';
import { service, slice, StaticClusterData } from './testing.ts';

const DNS_ADDR = '127.0.0.2';
const UPSTREAM_ADDR = '127.0.0.3';

/** A fake upstream: answers A for *.example.com with 192.0.2.<n>, NXDOMAIN otherwise; counts queries. */
async function fakeUpstream(signal: AbortSignal): Promise<{ port: number; queries: string[] }> {
  const queries: string[] = [];
  const answer = (msg: Buffer): Buffer => {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0];
    queries.push(`${question.name} ${question.type}`);
    const name = question.name.toLowerCase();
    const big = name.startsWith('big.');
    const ok = name.endsWith('example.com');
    const answers: Answer[] = [];
    if (ok && question.type === 'A') {
      const n = big ? 60 : 1;
      for (let i = 0; i < n; i++) answers.push({ name: question.name, type: 'A', class: 'IN', ttl: 120, data: `192.0.2.${i + 1}` });
    }
    return dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE | (ok ? 0 : 3), questions: q.questions, answers });
  };
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, UPSTREAM_ADDR, r));
  const port = udp.address().port;
  udp.on('message', (m, rinfo) => {
    let resp = answer(m);
    if (resp.length > 512) {
      // Plain DNS over UDP: answer with TC as a real server would.
      const p = dnsPacket.decode(resp);
      resp = dnsPacket.encode({ ...p, flags: (p.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [] } as Packet);
    }
    udp.send(resp, rinfo.port, rinfo.address);
  });
  const tcp = net.createServer((c) => {
    let buf = Buffer.alloc(0);
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + m.length);
        const resp = answer(m);
        const head = Buffer.alloc(2);
        head.writeUInt16BE(resp.length);
        c.write(Buffer.concat([head, resp]));
      }
    });
  });
  await new Promise<void>((r) => tcp.listen(port, UPSTREAM_ADDR, r));
  signal.addEventListener('abort', () => {
    udp.close();
    tcp.close();
  });
  return { port, queries };
}

interface QueryOpts {
  tcp?: boolean;
  udpSize?: number;
  id?: number;
  raw?: Buffer;
}

async function query(port: number, name: string, type: string, o: QueryOpts = {}): Promise<DecodedPacket & { bytes: number }> {
  const msg =
    o.raw ??
    dnsPacket.encode({
      type: 'query',
      id: o.id ?? Math.floor(Math.random() * 65535),
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ name, type: type as any, class: 'IN' }],
      additionals: o.udpSize ? [{ type: 'OPT', name: '.', udpPayloadSize: o.udpSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }] : [],
    });
  const raw: Buffer = o.tcp ? await tcpQuery(port, msg) : await udpQuery(port, msg);
  return Object.assign(dnsPacket.decode(raw), { bytes: raw.length });
}

function udpQuery(port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const t = setTimeout(() => {
      s.close();
      reject(new Error('udp query timed out'));
    }, 3000);
    s.on('message', (m) => {
      clearTimeout(t);
      s.close();
      resolve(m);
    });
    s.send(msg, port, DNS_ADDR);
  });
}

function tcpQuery(port: number, msg: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, DNS_ADDR);
    let buf = Buffer.alloc(0);
    c.on('connect', () => {
      const head = Buffer.alloc(2);
      head.writeUInt16BE(msg.length);
      c.write(Buffer.concat([head, msg]));
    });
    c.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        c.destroy();
        resolve(buf.subarray(2, 2 + buf.readUInt16BE(0)));
      }
    });
    c.on('error', reject);
  });
}

const rcode = (p: DecodedPacket) => (p as any).rcode as string;
const data = (p: DecodedPacket) => (p.answers ?? []).map((a) => ('data' in a ? a.data : undefined));

const ac = new AbortController();
after(() => ac.abort());

async function staticServer(d: StaticClusterData, extra: Partial<ConstructorParameters<typeof DnsServer>[0]> = {}) {
  const up = await fakeUpstream(ac.signal);
  const server = await startDnsServer(
    { data: d, listen: [{ address: DNS_ADDR, port: 0 }], upstreams: [{ host: UPSTREAM_ADDR, port: up.port }], ...extra },
    ac.signal,
  );
  return { server, port: server.addresses()[0].port, up };
}

function bigCluster(): StaticClusterData {
  const d = new StaticClusterData();
  const s = slice('many').port('p', 80);
  for (let i = 0; i < 80; i++) s.endpoint(`10.244.${Math.floor(i / 250)}.${(i % 250) + 1}`);
  d.set({
    services: [service('web').clusterIP('10.96.0.20').port('http', 80), service('many').headless().port('p', 80), service('ext').externalName('www.example.com')],
    slices: [s],
  });
  return d;
}

test('UDP and TCP answers for cluster names; the ID is echoed; AA and RA set', async () => {
  const { port } = await staticServer(bigCluster());
  for (const tcp of [false, true]) {
    const r = await query(port, 'web.default.svc.cluster.local', 'A', { tcp, id: 4242 });
    assert.equal(r.id, 4242);
    assert.equal(rcode(r), 'NOERROR');
    assert.equal(r.flag_aa, true);
    assert.equal(r.flag_ra, true);
    assert.equal(r.flag_rd, true);
    assert.deepEqual(data(r), ['10.96.0.20']);
    assert.equal((r.answers![0] as any).ttl, 5);
  }
  const nx = await query(port, 'nope.default.svc.cluster.local', 'A');
  assert.equal(rcode(nx), 'NXDOMAIN');
  assert.equal(nx.authorities![0].type, 'SOA');
  const nodata = await query(port, 'web.default.svc.cluster.local', 'AAAA');
  assert.equal(rcode(nodata), 'NOERROR');
  assert.equal(nodata.answers!.length, 0);
  assert.equal(nodata.authorities![0].type, 'SOA');
});

test('a large answer is truncated over UDP (TC, whole records, within 512 or the EDNS size) and complete over TCP', async () => {
  const { port } = await staticServer(bigCluster());
  const small = await query(port, 'many.default.svc.cluster.local', 'A');
  assert.equal(small.flag_tc, true);
  assert.ok(small.bytes <= 512, `${small.bytes} bytes`);
  assert.ok(small.answers!.length > 0 && small.answers!.length < 80);
  const edns = await query(port, 'many.default.svc.cluster.local', 'A', { udpSize: 4096 });
  assert.equal(edns.flag_tc, false);
  assert.equal(edns.answers!.length, 80);
  assert.equal(edns.additionals!.find((a) => a.type === 'OPT')?.type, 'OPT', 'EDNS answered with OPT');
  const mid = await query(port, 'many.default.svc.cluster.local', 'A', { udpSize: 1232 });
  assert.ok(mid.bytes <= 1232);
  const tcp = await query(port, 'many.default.svc.cluster.local', 'A', { tcp: true });
  assert.equal(tcp.flag_tc, false);
  assert.equal(tcp.answers!.length, 80);
});

test('other names are forwarded to the upstream, cached with aged TTLs; ExternalName is chased upstream', async () => {
  const { port, up, server } = await staticServer(bigCluster());
  const r = await query(port, 'www.example.com', 'A');
  assert.equal(rcode(r), 'NOERROR');
  assert.deepEqual(data(r), ['192.0.2.1']);
  assert.equal(r.flag_aa, false);
  const before = up.queries.length;
  const again = await query(port, 'www.example.com', 'A');
  assert.deepEqual(data(again), ['192.0.2.1']);
  assert.equal(up.queries.length, before, 'second answer from the cache');
  assert.ok((again.answers![0] as any).ttl <= 30, 'TTL capped by the cache');
  const nx = await query(port, 'nothing.invalid', 'A');
  assert.equal(rcode(nx), 'NXDOMAIN');
  const ext = await query(port, 'ext.default.svc.cluster.local', 'A');
  assert.deepEqual(ext.answers!.map((a) => a.type), ['CNAME', 'A']);
  assert.deepEqual(data(ext), ['www.example.com', '192.0.2.1']);
  // Upstream TC over UDP is passed on; TCP gets the whole answer through an upstream TCP exchange.
  const bigUdp = await query(port, 'big.example.com', 'A');
  assert.equal(bigUdp.flag_tc, true);
  const bigTcp = await query(port, 'big.example.com', 'A', { tcp: true });
  assert.equal(bigTcp.answers!.length, 60);
  const m = server.metricsText();
  assert.match(m, /coredns_dns_requests_total\{server="dns:\/\/127\.0\.0\.2:\d+",zone="\.",proto="udp",family="1",type="A"\} \d+/);
  assert.match(m, /coredns_cache_hits_total\{server="[^"]+",type="success"\} [1-9]/);
  assert.match(m, /coredns_forward_requests_total\{to="127\.0\.0\.3:\d+"\} [1-9]/);
  assert.match(m, /coredns_dns_responses_total\{server="[^"]+",zone="\.",rcode="NXDOMAIN"\} [1-9]/);
});

test('no upstream answering gives SERVFAIL; malformed and unsupported queries get FORMERR, NOTIMP, BADVERS', async () => {
  const d = bigCluster();
  const server = await startDnsServer({ data: d, listen: [{ address: DNS_ADDR, port: 0 }], upstreams: [{ host: '127.0.0.4', port: 9 }], forwardTimeoutMs: 200 }, ac.signal);
  const port = server.addresses()[0].port;
  assert.equal(rcode(await query(port, 'www.example.com', 'A')), 'SERVFAIL');
  const good = dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'web.default.svc.cluster.local', type: 'A' }] });
  const garbage = Buffer.concat([good.subarray(0, 12), Buffer.from([0xff, 0xff, 0xff])]);
  const fe = await query(port, '', '', { raw: garbage });
  assert.equal(rcode(fe), 'FORMERR');
  assert.equal(fe.id, 7);
  const notify = Buffer.from(good);
  notify[2] = (notify[2] & 0x87) | (4 << 3); // opcode NOTIFY
  assert.equal(rcode(await query(port, '', '', { raw: notify })), 'NOTIMP');
  const v1 = dnsPacket.encode({ type: 'query', id: 8, questions: [{ name: 'web.default.svc.cluster.local', type: 'A' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 1, flags: 0, flag_do: false, options: [] }] });
  const bv = await query(port, '', '', { raw: v1 });
  const opt = bv.additionals!.find((a) => a.type === 'OPT') as any;
  assert.equal(opt.extendedRcode, 1, 'BADVERS = extended rcode 1');
});

test('the cache never serves a cluster answer older than the data', async () => {
  const d = bigCluster();
  const { port } = await staticServer(d);
  assert.deepEqual(data(await query(port, 'web.default.svc.cluster.local', 'A')), ['10.96.0.20']);
  d.set({ services: [service('web').clusterIP('10.96.0.99').port('http', 80)] });
  assert.deepEqual(data(await query(port, 'web.default.svc.cluster.local', 'A')), ['10.96.0.99']);
});

test('end to end: Services and EndpointSlices written to a real apiserver are answered through informers', async () => {
  const t = await startClientTestServer();
  const sig = new AbortController();
  try {
    const client = t.client('inprocess');
    const factory = new SharedInformerFactory(client, { informerDefaults: { minBackoffMs: 50, maxBackoffMs: 200 } });
    const up = await fakeUpstream(sig.signal);
    const server = await startDnsServer({ factory, listen: [{ address: DNS_ADDR, port: 0 }], upstreams: [{ host: UPSTREAM_ADDR, port: up.port }] }, sig.signal);
    const port = server.addresses()[0].port;
    const https = createClient(t.transport('https'));
    await ensureKubeDnsService(https, { endpointIP: '10.244.0.1', port });
    const dnsSvc = await ensureKubeDnsService(https, { endpointIP: '10.244.0.1', port });
    assert.equal(dnsSvc.spec.clusterIP, '10.96.0.10');
    const svc = await https.create(ref.services, 'default', service('httpd-svc').port('http', 8080).obj);
    const clusterIP = svc.spec.clusterIP;
    assert.match(clusterIP, /^10\./);
    await https.create(ref.services, 'default', service('hl').headless().port('redis', 6379).obj);
    await https.create(ref.endpointslices, 'default', slice('hl', 'default', 'hl-1').port('redis', 6379).endpoint({ ip: '10.244.0.7', hostname: 'redis-0' }).endpoint('10.244.0.8').obj);
    const a = await eventually(async () => {
      const r = await query(port, 'httpd-svc.default.svc.cluster.local', 'A');
      return rcode(r) === 'NOERROR' && r.answers!.length ? r : undefined;
    }, 10_000, 'service A record');
    assert.deepEqual(data(a), [clusterIP]);
    const hl = await eventually(async () => {
      const r = await query(port, 'hl.default.svc.cluster.local', 'A');
      return r.answers!.length === 2 ? r : undefined;
    }, 10_000, 'headless A records');
    assert.deepEqual(data(hl).sort(), ['10.244.0.7', '10.244.0.8']);
    const srv = await query(port, '_redis._tcp.hl.default.svc.cluster.local', 'SRV');
    assert.deepEqual(srv.answers!.map((r: any) => r.data.target).sort(), ['10-244-0-8.hl.default.svc.cluster.local', 'redis-0.hl.default.svc.cluster.local']);
    const ptr = await query(port, clusterIP.split('.').reverse().join('.') + '.in-addr.arpa', 'PTR');
    assert.deepEqual(data(ptr), ['httpd-svc.default.svc.cluster.local']);
    assert.equal(rcode(await query(port, 'kube-system.svc.cluster.local', 'A')), 'NOERROR', 'namespace exists: NODATA');
    // The kube-dns Service (created first, as the cluster's bootstrap does; idempotent) names the nameserver.
    await eventually(async () => data(await query(port, 'ns.dns.cluster.local', 'A'))[0] === '10.96.0.10', 10_000, 'ns.dns A');
    const ns = await query(port, 'cluster.local', 'NS');
    assert.deepEqual(data(ns), ['ns.dns.cluster.local']);
    const dnsSrv = await query(port, '_dns._udp.kube-dns.kube-system.svc.cluster.local', 'SRV');
    assert.equal((dnsSrv.answers![0] as any).data.port, 53);
    // A deletion is seen at once (the cache is keyed on the data's generation).
    await https.delete(ref.services, 'default', 'httpd-svc');
    await eventually(async () => rcode(await query(port, 'httpd-svc.default.svc.cluster.local', 'A')) === 'NXDOMAIN', 10_000, 'NXDOMAIN after delete');
  } finally {
    sig.abort();
    await t.close();
  }
});
