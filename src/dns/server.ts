// The cluster DNS server: answers the cluster zone from the API (records.ts over
// informers), forwards every other name to the upstream resolvers, over UDP (with
// truncation at the client's EDNS0 buffer size, 512 without EDNS) and TCP. What must
// hold:
//   - Every well-formed query gets an answer: the records, NXDOMAIN/NODATA with the
//     SOA, SERVFAIL when no upstream answered, FORMERR/NOTIMP/BADVERS for queries we
//     cannot take. Responses (QR set) and runts are dropped.
//   - A UDP answer never exceeds the client's limit: it is cut to whole records and
//     flagged TC, and the client's TCP retry gets the whole answer.
//   - Cluster answers are never staler than the informers' caches (cache.ts).
// Metrics follow CoreDNS's names (coredns_dns_requests_total, ..._responses_total,
// coredns_cache_hits_total, coredns_forward_requests_total) so dashboards carry over.

import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet, Question } from 'dns-packet';
import type { SharedInformerFactory } from '../client/factory.ts';
import type { Logger } from '../client/util.ts';
import { answerFromCache, ResponseCache, type CacheEntry } from './cache.ts';
import { Forwarder, upstreamsFromResolvConf, type Upstream } from './forward.ts';
import { Zone, type ClusterData, type PodMode, type Rec, type ZoneAnswer } from './records.ts';
import { InformerClusterData } from './view.ts';
import { capTtls, errorResponse, minTtl, questionInfo, RCODE, rcodeOf, ttlOffsets, typeName } from './wire.ts';

export interface ListenAddress {
  address: string;
  /** 0: a random port (the same one for UDP and TCP). */
  port: number;
}

export interface DnsServerOptions {
  /** Informers for Services, EndpointSlices and Namespaces are registered here; start() starts the factory. */
  factory?: SharedInformerFactory;
  /** Or the cluster data directly (tests, benchmarks) instead of a factory. */
  data?: ClusterData & { generation?: number; hasSynced?(): boolean };
  /** The cluster domain (default cluster.local). */
  clusterDomain?: string;
  /** Where to listen (default 0.0.0.0:53). */
  listen?: ListenAddress[];
  /** Upstream resolvers; default: the nameservers of `resolvConf`. */
  upstreams?: Upstream[];
  /** Default /etc/resolv.conf. */
  resolvConf?: string;
  /** TTL of cluster records in seconds (default 5, CoreDNS's kubernetes plugin default). */
  ttl?: number;
  /** Pod records `a-b-c-d.<ns>.pod.<zone>` (default insecure, as kubeadm's Corefile). */
  podMode?: PodMode;
  /** Cache entries (default 10 000; 0 disables the cache). */
  cacheSize?: number;
  /** Longest time a forwarded answer is cached, in seconds (default 30, CoreDNS `cache 30`). */
  cacheMaxTtl?: number;
  forwardTimeoutMs?: number;
  /** The DNS service, for NS records (default kube-system/kube-dns). */
  dnsService?: { namespace: string; name: string };
  /** How long start() waits for the informers before serving anyway (default 5000 ms, as CoreDNS). */
  syncTimeoutMs?: number;
  log?: Logger;
}

const TC = dnsPacket.TRUNCATED_RESPONSE;
const AA = dnsPacket.AUTHORITATIVE_ANSWER;
const RA = dnsPacket.RECURSION_AVAILABLE;
const DO = dnsPacket.DNSSEC_OK;
const MAX_UDP = 4096;
const RCODE_NAMES: Record<number, string> = { 0: 'NOERROR', 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED', 16: 'BADVERS' };
/** CoreDNS's request duration buckets (0.25 ms doubling). */
const BUCKETS = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);

type Proto = 'udp' | 'tcp';

interface Metrics {
  requests: Map<string, number>;
  responses: Map<string, number>;
  duration: { counts: number[]; sum: number; count: number };
}

export class DnsServer {
  readonly zone: Zone;
  readonly forwarder: Forwarder;
  private readonly data: ClusterData & { generation?: number; hasSynced?(): boolean };
  private readonly factory: SharedInformerFactory | undefined;
  private readonly opts: DnsServerOptions;
  private readonly log: Logger;
  private readonly cache: ResponseCache;
  private readonly cacheMaxTtl: number;
  private readonly metrics: Metrics = { requests: new Map(), responses: new Map(), duration: { counts: BUCKETS.map(() => 0), sum: 0, count: 0 } };
  private readonly udp: dgram.Socket[] = [];
  private readonly tcp: net.Server[] = [];
  private readonly tcpConns = new Set<net.Socket>();
  private bound: ListenAddress[] = [];
  private resolveReady!: () => void;
  private rejectReady!: (e: unknown) => void;
  /** Resolves once the sockets are bound (after the informers synced, or the sync timeout). */
  readonly ready: Promise<void>;
  private stopped: Promise<void> | undefined;
  private signal: AbortSignal | undefined;

  constructor(opts: DnsServerOptions) {
    this.opts = opts;
    this.log = opts.log ?? (() => {});
    const listen = opts.listen ?? [{ address: '0.0.0.0', port: 53 }];
    if (opts.data) this.data = opts.data;
    else {
      if (!opts.factory) throw new Error('DnsServer needs a factory (or data)');
      this.factory = opts.factory;
      this.data = new InformerClusterData(opts.factory, {
        podMode: opts.podMode ?? 'insecure',
        dnsService: opts.dnsService,
        fallbackNameservers: listen.map((l) => l.address).filter((a) => a !== '0.0.0.0' && a !== '::'),
      });
    }
    this.zone = new Zone(this.data, { domain: opts.clusterDomain ?? 'cluster.local', ttl: opts.ttl ?? 5, podMode: opts.podMode ?? 'insecure' });
    let upstreams = opts.upstreams;
    if (!upstreams) {
      try {
        upstreams = upstreamsFromResolvConf(opts.resolvConf ?? '/etc/resolv.conf');
      } catch (e) {
        this.log('cannot read upstream resolvers; names outside the cluster get SERVFAIL', { resolvConf: opts.resolvConf ?? '/etc/resolv.conf', error: (e as Error).message });
        upstreams = [];
      }
    }
    // Never forward to ourselves (a resolv.conf that names this server would loop).
    upstreams = upstreams.filter((u) => !listen.some((l) => l.port !== 0 && l.port === u.port && (l.address === u.host || l.address === '0.0.0.0' || l.address === '::')));
    this.forwarder = new Forwarder({ upstreams, timeoutMs: opts.forwardTimeoutMs });
    this.cache = new ResponseCache(opts.cacheSize ?? 10_000);
    this.cacheMaxTtl = opts.cacheMaxTtl ?? 30;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {});
  }

  /** Starts the informers (when given a factory) and the listeners, until `signal` aborts. */
  start(signal: AbortSignal): void {
    if (this.stopped) return;
    this.signal = signal;
    this.stopped = this.run(signal);
  }

  /** Resolves once a started server has closed its sockets. */
  async done(): Promise<void> {
    await this.stopped;
  }

  /** The addresses bound (ports resolved when 0 was asked). */
  addresses(): ListenAddress[] {
    return this.bound.map((b) => ({ ...b }));
  }

  private async run(signal: AbortSignal): Promise<void> {
    try {
      if (this.factory) {
        this.factory.start(signal);
        const timeout = AbortSignal.any([signal, AbortSignal.timeout(this.opts.syncTimeoutMs ?? 5000)]);
        const synced = await this.factory.waitForSync(timeout);
        if (!synced && !signal.aborted) this.log('starting with unsynced Kubernetes API');
      }
      if (signal.aborted) throw new Error('aborted before start');
      for (const l of this.opts.listen ?? [{ address: '0.0.0.0', port: 53 }]) this.bound.push(await this.listen(l));
      this.log('dns server listening', { addresses: this.bound.map((b) => `${b.address}:${b.port}`).join(','), domain: this.zone.domain, upstreams: this.forwarder.upstreams.map((u) => `${u.host}:${u.port}`).join(',') });
      this.resolveReady();
    } catch (e) {
      this.rejectReady(e);
      this.closeSockets();
      return;
    }
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    this.closeSockets();
  }

  private closeSockets(): void {
    for (const s of this.udp) s.close();
    for (const t of this.tcp) t.close();
    for (const c of this.tcpConns) c.destroy();
    this.udp.length = 0;
    this.tcp.length = 0;
  }

  /** Binds UDP then TCP on the same port (retrying another random port when TCP's is taken). */
  private async listen(l: ListenAddress): Promise<ListenAddress> {
    const fam = net.isIP(l.address) === 6 ? 6 : 4;
    for (let attempt = 0; ; attempt++) {
      const udp = dgram.createSocket({ type: fam === 6 ? 'udp6' : 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(l.port, l.address, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      const port = udp.address().port;
      const tcp = net.createServer((c) => this.onTcp(c, fam));
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.once('error', reject);
          tcp.listen(port, l.address, () => {
            tcp.off('error', reject);
            resolve();
          });
        });
      } catch (e) {
        udp.close();
        if (l.port === 0 && attempt < 5) continue;
        throw e;
      }
      udp.on('error', (e) => this.log('udp socket error', { error: e.message }));
      udp.on('message', (msg, rinfo) => this.onUdp(udp, msg, rinfo, fam));
      this.udp.push(udp);
      this.tcp.push(tcp);
      return { address: l.address, port };
    }
  }

  private onUdp(sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo, fam: number): void {
    const t0 = performance.now();
    const hit = this.fromCache(msg, 'udp', fam);
    if (hit) {
      sock.send(hit, rinfo.port, rinfo.address);
      this.observe(t0);
      return;
    }
    this.answer(msg, 'udp', fam).then(
      (resp) => {
        if (resp) sock.send(resp, rinfo.port, rinfo.address);
        this.observe(t0);
      },
      (e) => this.log('query failed', { error: String(e) }),
    );
  }

  private onTcp(c: net.Socket, fam: number): void {
    this.tcpConns.add(c);
    c.setTimeout(10_000, () => c.destroy());
    c.on('close', () => this.tcpConns.delete(c));
    c.on('error', () => c.destroy());
    let buf = Buffer.alloc(0);
    c.on('data', (d) => {
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      while (buf.length >= 2) {
        const len = buf.readUInt16BE(0);
        if (buf.length < 2 + len) break;
        const msg = Buffer.from(buf.subarray(2, 2 + len));
        buf = buf.subarray(2 + len);
        const t0 = performance.now();
        const send = (resp: Buffer | undefined) => {
          if (!resp || c.destroyed) return;
          const head = Buffer.alloc(2);
          head.writeUInt16BE(resp.length);
          c.write(Buffer.concat([head, resp]));
          this.observe(t0);
        };
        const hit = this.fromCache(msg, 'tcp', fam);
        if (hit) send(hit);
        else this.answer(msg, 'tcp', fam).then(send, (e) => this.log('query failed', { error: String(e) }));
      }
    });
  }

  private cacheKey(msg: Buffer, proto: Proto, fam: number): string {
    return (proto === 'udp' ? 'u' : 't') + fam + msg.toString('latin1', 2);
  }

  /** The cached answer to `msg`, counted in the metrics, or undefined. */
  private fromCache(msg: Buffer, proto: Proto, fam: number): Buffer | undefined {
    if (msg.length < 12 || (msg[2] & 0x80) !== 0) return undefined;
    const now = Date.now();
    const e = this.cache.get(this.cacheKey(msg, proto, fam), now, this.data.generation ?? 0);
    if (!e) return undefined;
    bump(this.metrics.requests, e.requestLabels);
    bump(this.metrics.responses, e.responseLabels);
    bump(this.cacheHits, e.kind);
    return answerFromCache(e, msg, now);
  }

  private readonly cacheHits = new Map<string, number>();

  private observe(t0: number): void {
    const s = (performance.now() - t0) / 1000;
    const d = this.metrics.duration;
    d.sum += s;
    d.count++;
    for (let i = 0; i < BUCKETS.length; i++) if (s <= BUCKETS[i]) d.counts[i]++;
  }

  /**
   * Answers one query (full path: decode, resolve or forward, encode, cache). Undefined:
   * drop it (a response, or too short to answer).
   */
  async answer(msg: Buffer, proto: Proto, fam: number): Promise<Buffer | undefined> {
    if (msg.length < 12 || (msg[2] & 0x80) !== 0) return undefined;
    const generation = this.data.generation ?? 0;
    const q = questionInfo(msg);
    const qtypeLabel = q ? typeName(q.qtype) : 'other';
    let req: DecodedPacket;
    try {
      req = dnsPacket.decode(msg);
    } catch {
      return this.finish(errorResponse(msg, RCODE.FORMERR), proto, fam, '.', qtypeLabel);
    }
    if ((msg[2] >> 3) & 0x0f) return this.finish(errorResponse(msg, RCODE.NOTIMP), proto, fam, '.', qtypeLabel);
    if (req.questions?.length !== 1) return this.finish(errorResponse(msg, RCODE.FORMERR), proto, fam, '.', qtypeLabel);
    const question = req.questions[0];
    const opt = (req.additionals ?? []).find((a) => a.type === 'OPT') as OptAnswer | undefined;
    const limit = proto === 'tcp' ? 65535 : opt ? Math.min(Math.max(512, opt.udpPayloadSize), MAX_UDP) : 512;
    if (opt && opt.ednsVersion > 0) {
      // BADVERS (16): extended rcode 1 in the OPT, 0 in the header.
      const resp = this.encode(req, question, { rcode: 0, answers: [], authorities: [], additionals: [], aa: false, opt, extendedRcode: 1 }, limit);
      return this.finish(resp, proto, fam, '.', qtypeLabel, 'BADVERS');
    }
    const zoneName = this.zone.zoneOf(question.name);
    const zoneLabel = zoneName ? zoneName + '.' : '.';
    if (zoneName !== undefined && question.class !== undefined && question.class !== 'IN' && question.class !== 'ANY') {
      return this.finish(errorResponse(msg, RCODE.NOTIMP), proto, fam, zoneLabel, qtypeLabel);
    }
    const ans: ZoneAnswer = zoneName ? this.zone.resolve(question.name, question.type) : { kind: 'forward' };
    if (ans.kind === 'forward') return this.forward(msg, proto, fam, zoneLabel, qtypeLabel);

    const answers: Answer[] = ans.answers.map(toAnswer);
    let upstreamTtl: number | undefined;
    if (ans.chase) {
      const extra = await this.chase(ans.chase.target, ans.chase.type, 1);
      answers.push(...extra.answers);
      upstreamTtl = extra.ttl;
    }
    const resp = this.encode(
      req,
      question,
      {
        rcode: ans.rcode === 'NXDOMAIN' ? RCODE.NXDOMAIN : RCODE.NOERROR,
        answers,
        authorities: ans.authorities.map(toAnswer),
        additionals: ans.additionals.map(toAnswer),
        aa: true,
        opt,
      },
      limit,
    );
    const now = Date.now();
    const kind = answers.length ? 'success' : 'denial';
    const entry = this.entry(resp, proto, fam, zoneLabel, qtypeLabel, kind);
    if (upstreamTtl === undefined) {
      // Valid while the cluster data is unchanged.
      entry.generation = generation;
      entry.expiresAt = now + 60_000;
    } else {
      entry.generation = generation;
      entry.expiresAt = now + Math.min(upstreamTtl, this.cacheMaxTtl) * 1000;
    }
    this.cache.set(this.cacheKey(msg, proto, fam), entry);
    return this.count(entry, resp);
  }

  /** Records for an ExternalName's target: from the cluster zone, else upstream. */
  private async chase(target: string, type: string, depth: number): Promise<{ answers: Answer[]; ttl?: number }> {
    if (depth > 8) return { answers: [] };
    if (this.zone.zoneOf(target) === this.zone.domain) {
      const a = this.zone.resolve(target, type);
      if (a.kind !== 'answer') return { answers: [] };
      const out = a.answers.map(toAnswer);
      if (a.chase) out.push(...(await this.chase(a.chase.target, a.chase.type, depth + 1)).answers);
      return { answers: out };
    }
    const query = dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: target, type: type as Question['type'], class: 'IN' }] });
    const r = await this.forwarder.forward(query, { tcp: false, signal: this.signal });
    if (!r) return { answers: [], ttl: 5 };
    try {
      const p = dnsPacket.decode(r.response);
      const answers = (p.answers ?? []).filter((a) => a.type !== 'OPT');
      const ttls = answers.map((a) => ('ttl' in a && typeof a.ttl === 'number' ? a.ttl : 0));
      return { answers, ttl: ttls.length ? Math.min(...ttls) : 5 };
    } catch {
      return { answers: [], ttl: 5 };
    }
  }

  private async forward(msg: Buffer, proto: Proto, fam: number, zoneLabel: string, qtypeLabel: string): Promise<Buffer | undefined> {
    const r = await this.forwarder.forward(msg, { tcp: proto === 'tcp', signal: this.signal });
    if (!r) return this.finish(errorResponse(msg, RCODE.SERVFAIL), proto, fam, zoneLabel, qtypeLabel);
    const resp = r.response;
    const rcode = rcodeOf(resp);
    const kind = rcode === RCODE.NXDOMAIN || (rcode === RCODE.NOERROR && resp.readUInt16BE(6) === 0) ? 'denial' : 'success';
    const entry = this.entry(resp, proto, fam, zoneLabel, qtypeLabel, kind);
    const offsets = ttlOffsets(resp);
    const truncated = (resp[2] & 0x02) !== 0;
    if (offsets && !truncated && (rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN)) {
      const ttl = Math.min(minTtl(resp, offsets) ?? 0, this.cacheMaxTtl);
      if (ttl > 0) {
        capTtls(resp, offsets, ttl);
        entry.ttlOffsets = offsets;
        entry.expiresAt = entry.storedAt + ttl * 1000;
        this.cache.set(this.cacheKey(msg, proto, fam), entry);
      }
    }
    return this.count(entry, resp);
  }

  private entry(resp: Buffer, proto: Proto, fam: number, zoneLabel: string, qtypeLabel: string, kind: 'success' | 'denial', rcodeName?: string): CacheEntry {
    const rcode = rcodeName ?? RCODE_NAMES[rcodeOf(resp)] ?? String(rcodeOf(resp));
    return {
      response: resp,
      ttlOffsets: undefined,
      storedAt: Date.now(),
      expiresAt: 0,
      generation: -1,
      requestLabels: `${proto}|${fam}|${qtypeLabel}|${zoneLabel}`,
      responseLabels: `${rcode}|${zoneLabel}`,
      kind,
    };
  }

  private count(e: CacheEntry, resp: Buffer): Buffer {
    bump(this.metrics.requests, e.requestLabels);
    bump(this.metrics.responses, e.responseLabels);
    return resp;
  }

  /** Counts an uncached answer (errors) and returns it. */
  private finish(resp: Buffer | undefined, proto: Proto, fam: number, zoneLabel: string, qtypeLabel: string, rcodeName?: string): Buffer | undefined {
    if (!resp) return undefined;
    return this.count(this.entry(resp, proto, fam, zoneLabel, qtypeLabel, 'denial', rcodeName), resp);
  }

  /** Encodes an answer to `req`, cut to whole records under `limit` (TC set) when it does not fit. */
  private encode(
    req: DecodedPacket,
    question: Question,
    r: { rcode: number; answers: Answer[]; authorities: Answer[]; additionals: Answer[]; aa: boolean; opt?: OptAnswer; extendedRcode?: number },
    limit: number,
  ): Buffer {
    const flags = (req.flags ?? 0) & (dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED);
    const optOut: OptAnswer | undefined = r.opt
      ? { type: 'OPT', name: '.', udpPayloadSize: MAX_UDP, extendedRcode: r.extendedRcode ?? 0, ednsVersion: 0, flags: r.opt.flags & DO, flag_do: (r.opt.flags & DO) !== 0, options: [] }
      : undefined;
    const pkt: Packet = {
      type: 'response',
      id: req.id,
      flags: flags | RA | (r.aa ? AA : 0) | (r.rcode & 0x0f),
      questions: [question],
      answers: r.answers,
      authorities: r.authorities,
      additionals: optOut ? [...r.additionals, optOut] : r.additionals,
    };
    const full = dnsPacket.encode(pkt);
    if (full.length <= limit) return full;
    // Too big for the client's buffer: drop the additional section, then keep as many
    // whole answer and authority records as fit, and set TC.
    pkt.flags = (pkt.flags ?? 0) | TC;
    pkt.additionals = optOut ? [optOut] : [];
    const all = [...r.answers.map((a) => ['an', a] as const), ...r.authorities.map((a) => ['ns', a] as const)];
    let lo = 0;
    let hi = all.length;
    let best = dnsPacket.encode({ ...pkt, answers: [], authorities: [] });
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      const part = all.slice(0, mid);
      const b = dnsPacket.encode({ ...pkt, answers: part.filter((p) => p[0] === 'an').map((p) => p[1]), authorities: part.filter((p) => p[0] === 'ns').map((p) => p[1]) });
      if (b.length <= limit) {
        best = b;
        lo = mid;
      } else hi = mid - 1;
    }
    return best;
  }

  /** Prometheus text: CoreDNS-named counters and the request duration histogram. */
  metricsText(): string {
    const server = this.bound.length ? `dns://${this.bound[0].address}:${this.bound[0].port}` : 'dns://:53';
    const lines: string[] = [];
    lines.push('# HELP coredns_dns_requests_total Counter of DNS requests made per zone, protocol and family.');
    lines.push('# TYPE coredns_dns_requests_total counter');
    for (const [k, v] of sorted(this.metrics.requests)) {
      const [proto, fam, type, zone] = k.split('|');
      lines.push(`coredns_dns_requests_total{server="${server}",zone="${zone}",proto="${proto}",family="${fam === '6' ? 2 : 1}",type="${type}"} ${v}`);
    }
    lines.push('# HELP coredns_dns_responses_total Counter of response status codes.');
    lines.push('# TYPE coredns_dns_responses_total counter');
    for (const [k, v] of sorted(this.metrics.responses)) {
      const [rcode, zone] = k.split('|');
      lines.push(`coredns_dns_responses_total{server="${server}",zone="${zone}",rcode="${rcode}"} ${v}`);
    }
    lines.push('# HELP coredns_dns_request_duration_seconds Histogram of the time (in seconds) each request took.');
    lines.push('# TYPE coredns_dns_request_duration_seconds histogram');
    const d = this.metrics.duration;
    BUCKETS.forEach((b, i) => lines.push(`coredns_dns_request_duration_seconds_bucket{server="${server}",le="${b}"} ${d.counts[i]}`));
    lines.push(`coredns_dns_request_duration_seconds_bucket{server="${server}",le="+Inf"} ${d.count}`);
    lines.push(`coredns_dns_request_duration_seconds_sum{server="${server}"} ${d.sum}`);
    lines.push(`coredns_dns_request_duration_seconds_count{server="${server}"} ${d.count}`);
    lines.push('# HELP coredns_cache_entries The number of elements in the cache.');
    lines.push('# TYPE coredns_cache_entries gauge');
    lines.push(`coredns_cache_entries{server="${server}"} ${this.cache.size}`);
    lines.push('# HELP coredns_cache_hits_total The count of cache hits.');
    lines.push('# TYPE coredns_cache_hits_total counter');
    for (const [k, v] of sorted(this.cacheHits)) lines.push(`coredns_cache_hits_total{server="${server}",type="${k}"} ${v}`);
    lines.push('# HELP coredns_cache_misses_total The count of cache misses.');
    lines.push('# TYPE coredns_cache_misses_total counter');
    lines.push(`coredns_cache_misses_total{server="${server}"} ${this.cache.misses}`);
    lines.push('# HELP coredns_forward_requests_total Counter of requests made per upstream.');
    lines.push('# TYPE coredns_forward_requests_total counter');
    for (const [k, v] of sorted(this.forwarder.requests)) lines.push(`coredns_forward_requests_total{to="${k}"} ${v}`);
    lines.push('# HELP coredns_forward_responses_total Counter of responses received per upstream (rcode, or timeout/error).');
    lines.push('# TYPE coredns_forward_responses_total counter');
    for (const [k, v] of sorted(this.forwarder.replies)) {
      const [to, rc] = k.split('|');
      lines.push(`coredns_forward_responses_total{to="${to}",rcode="${RCODE_NAMES[Number(rc)] ?? rc}"} ${v}`);
    }
    return lines.join('\n') + '\n';
  }
}

function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

function sorted(m: Map<string, number>): [string, number][] {
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function toAnswer(r: Rec): Answer {
  return { ...r, class: 'IN' } as Answer;
}

/** Creates and starts a DNS server; resolves once it listens. */
export async function startDnsServer(opts: DnsServerOptions, signal: AbortSignal): Promise<DnsServer> {
  const s = new DnsServer(opts);
  s.start(signal);
  await s.ready;
  return s;
}
