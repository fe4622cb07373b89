// Forwarding of names outside the cluster zone to upstream resolvers (CoreDNS's
// `forward . /etc/resolv.conf`): the query goes out as received (new ID), over the
// transport it came in on, to one upstream after another until one answers within the
// timeout. What must hold:
//   - Only the configured upstreams are ever contacted, and never this server itself
//     (a resolv.conf naming our own listen address would loop).
//   - A reply is accepted only from the upstream asked, with the ID sent and the same
//     question; anything else is ignored (spoofing, stale replies).
//   - Upstream TC is passed to the client (it retries over TCP, and so do we).

import dgram from 'node:dgram';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { HEADER_LEN, questionInfo } from './wire.ts';

export interface Upstream {
  host: string;
  port: number;
}

/** `nameserver` lines of a resolv.conf, as upstreams on port 53. */
export function parseResolvConf(text: string): Upstream[] {
  const out: Upstream[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const host = m[1].replace(/%.*$/, '');
    if (net.isIP(host)) out.push({ host, port: 53 });
  }
  return out;
}

/** "10.0.0.1", "10.0.0.1:5353", "[fd00::1]:53", "fd00::1" as an Upstream. */
export function parseUpstream(s: string): Upstream {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) return checkUpstream({ host: v6[1], port: v6[2] ? Number(v6[2]) : 53 }, s);
  if (net.isIP(s) === 6) return checkUpstream({ host: s, port: 53 }, s);
  const i = s.lastIndexOf(':');
  if (i > 0) return checkUpstream({ host: s.slice(0, i), port: Number(s.slice(i + 1)) }, s);
  return checkUpstream({ host: s, port: 53 }, s);
}

function checkUpstream(u: Upstream, s: string): Upstream {
  if (net.isIP(u.host) === 0 || !Number.isInteger(u.port) || u.port <= 0 || u.port > 65535) throw new Error(`invalid upstream resolver ${JSON.stringify(s)} (want IP[:port])`);
  return u;
}

export function upstreamsFromResolvConf(path: string): Upstream[] {
  return parseResolvConf(readFileSync(path, 'utf8'));
}

export interface ForwarderOptions {
  upstreams: Upstream[];
  /** Per-upstream timeout (default 2000 ms). */
  timeoutMs?: number;
}

export interface ForwardResult {
  /** The upstream's reply with the client's ID put back. */
  response: Buffer;
  upstream: Upstream;
}

export class Forwarder {
  readonly upstreams: Upstream[];
  private readonly timeoutMs: number;
  /** Requests and replies per upstream `host:port` (reply label: rcode number or "timeout"/"error"). */
  readonly requests = new Map<string, number>();
  readonly replies = new Map<string, number>();

  constructor(opts: ForwarderOptions) {
    this.upstreams = opts.upstreams;
    this.timeoutMs = opts.timeoutMs ?? 2000;
  }

  /**
   * Sends `query` upstream (over TCP when `tcp`), trying each upstream once, starting at
   * a random one. Undefined when none answered.
   */
  async forward(query: Buffer, opts: { tcp: boolean; signal?: AbortSignal }): Promise<ForwardResult | undefined> {
    const n = this.upstreams.length;
    if (n === 0 || query.length < HEADER_LEN) return undefined;
    const start = n > 1 ? randomInt(n) : 0;
    for (let k = 0; k < n; k++) {
      if (opts.signal?.aborted) return undefined;
      const up = this.upstreams[(start + k) % n];
      const key = `${up.host}:${up.port}`;
      this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
      const id = randomInt(0x10000);
      const out = Buffer.from(query);
      out.writeUInt16BE(id, 0);
      let reply: Buffer | undefined;
      try {
        reply = opts.tcp ? await this.tcpExchange(up, out, opts.signal) : await this.udpExchange(up, out, opts.signal);
      } catch {
        reply = undefined;
      }
      if (!reply || !sameQuestion(out, reply)) {
        const label = `${key}|${reply ? 'error' : 'timeout'}`;
        this.replies.set(label, (this.replies.get(label) ?? 0) + 1);
        continue;
      }
      const label = `${key}|${reply[3] & 0x0f}`;
      this.replies.set(label, (this.replies.get(label) ?? 0) + 1);
      reply.writeUInt16BE(query.readUInt16BE(0), 0);
      return { response: reply, upstream: up };
    }
    return undefined;
  }

  private udpExchange(up: Upstream, msg: Buffer, signal?: AbortSignal): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const sock = dgram.createSocket(net.isIP(up.host) === 6 ? 'udp6' : 'udp4');
      let done = false;
      const finish = (v: Buffer | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        sock.close();
        resolve(v);
      };
      const onAbort = () => finish(undefined);
      const timer = setTimeout(() => finish(undefined), this.timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('error', () => finish(undefined));
      sock.on('message', (m, rinfo) => {
        // Only the upstream asked, with our ID; others are ignored.
        if (rinfo.port !== up.port || rinfo.address !== up.host || m.length < HEADER_LEN || m.readUInt16BE(0) !== msg.readUInt16BE(0)) return;
        finish(m);
      });
      sock.send(msg, up.port, up.host, (err) => err && finish(undefined));
    });
  }

  private tcpExchange(up: Upstream, msg: Buffer, signal?: AbortSignal): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      const sock = net.connect({ host: up.host, port: up.port });
      let buf = Buffer.alloc(0);
      let done = false;
      const finish = (v: Buffer | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        sock.destroy();
        resolve(v);
      };
      const onAbort = () => finish(undefined);
      const timer = setTimeout(() => finish(undefined), this.timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      sock.on('error', () => finish(undefined));
      sock.on('close', () => finish(undefined));
      sock.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(msg.length);
        sock.write(Buffer.concat([len, msg]));
      });
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
          finish(m.length >= HEADER_LEN && m.readUInt16BE(0) === msg.readUInt16BE(0) ? Buffer.from(m) : undefined);
        }
      });
    });
  }
}

/** The reply answers the question asked (same bytes, case-insensitively, for the name). */
function sameQuestion(query: Buffer, reply: Buffer): boolean {
  const q = questionInfo(query);
  const r = questionInfo(reply);
  if (!q || !r || q.end !== r.end) return false;
  return query.subarray(HEADER_LEN, q.end).toString('latin1').toLowerCase() === reply.subarray(HEADER_LEN, r.end).toString('latin1').toLowerCase();
}
