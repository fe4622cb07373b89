// SPDY/3.1 framing as Kubernetes' streaming uses it (moby/spdystream): SYN_STREAM,
// SYN_REPLY, DATA (FIN half-closes), RST_STREAM, PING, GOAWAY, SETTINGS, WINDOW_UPDATE
// (read and ignored: spdystream does no flow control), header blocks as zlib with the
// SPDY/3 dictionary, one compression context per direction.

import { EventEmitter } from 'node:events';
import zlib from 'node:zlib';
import type { Duplex } from 'node:stream';

/** The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1), 1423 bytes. */
export const SPDY_DICTIONARY = Buffer.from(
  'AAAAB29wdGlvbnMAAAAEaGVhZAAAAARwb3N0AAAAA3B1dAAAAAZkZWxldGUAAAAFdHJhY2UAAAAGYWNjZXB0AAAADmFjY2VwdC1jaGFyc2V0AAAAD2FjY2VwdC1lbmNvZGluZwAAAA9hY2NlcHQtbGFuZ3VhZ2UAAAANYWNjZXB0LXJhbmdlcwAAAANhZ2UAAAAFYWxsb3cAAAANYXV0aG9yaXphdGlvbgAAAA1jYWNoZS1jb250cm9sAAAACmNvbm5lY3Rpb24AAAAMY29udGVudC1iYXNlAAAAEGNvbnRlbnQtZW5jb2RpbmcAAAAQY29udGVudC1sYW5ndWFnZQAAAA5jb250ZW50LWxlbmd0aAAAABBjb250ZW50LWxvY2F0aW9uAAAAC2NvbnRlbnQtbWQ1AAAADWNvbnRlbnQtcmFuZ2UAAAAMY29udGVudC10eXBlAAAABGRhdGUAAAAEZXRhZwAAAAZleHBlY3QAAAAHZXhwaXJlcwAAAARmcm9tAAAABGhvc3QAAAAIaWYtbWF0Y2gAAAARaWYtbW9kaWZpZWQtc2luY2UAAAANaWYtbm9uZS1tYXRjaAAAAAhpZi1yYW5nZQAAABNpZi11bm1vZGlmaWVkLXNpbmNlAAAADWxhc3QtbW9kaWZpZWQAAAAIbG9jYXRpb24AAAAMbWF4LWZvcndhcmRzAAAABnByYWdtYQAAABJwcm94eS1hdXRoZW50aWNhdGUAAAATcHJveHktYXV0aG9yaXphdGlvbgAAAAVyYW5nZQAAAAdyZWZlcmVyAAAAC3JldHJ5LWFmdGVyAAAABnNlcnZlcgAAAAJ0ZQAAAAd0cmFpbGVyAAAAEXRyYW5zZmVyLWVuY29kaW5nAAAAB3VwZ3JhZGUAAAAKdXNlci1hZ2VudAAAAAR2YXJ5AAAAA3ZpYQAAAAd3YXJuaW5nAAAAEHd3dy1hdXRoZW50aWNhdGUAAAAGbWV0aG9kAAAAA2dldAAAAAZzdGF0dXMAAAAGMjAwIE9LAAAAB3ZlcnNpb24AAAAISFRUUC8xLjEAAAADdXJsAAAABnB1YmxpYwAAAApzZXQtY29va2llAAAACmtlZXAtYWxpdmUAAAAGb3JpZ2luMTAwMTAxMjAxMjAyMjA1MjA2MzAwMzAyMzAzMzA0MzA1MzA2MzA3NDAyNDA1NDA2NDA3NDA4NDA5NDEwNDExNDEyNDEzNDE0NDE1NDE2NDE3NTAyNTA0NTA1MjAzIE5vbi1BdXRob3JpdGF0aXZlIEluZm9ybWF0aW9uMjA0IE5vIENvbnRlbnQzMDEgTW92ZWQgUGVybWFuZW50bHk0MDAgQmFkIFJlcXVlc3Q0MDEgVW5hdXRob3JpemVkNDAzIEZvcmJpZGRlbjQwNCBOb3QgRm91bmQ1MDAgSW50ZXJuYWwgU2VydmVyIEVycm9yNTAxIE5vdCBJbXBsZW1lbnRlZDUwMyBTZXJ2aWNlIFVuYXZhaWxhYmxlSmFuIEZlYiBNYXIgQXByIE1heSBKdW4gSnVsIEF1ZyBTZXB0IE9jdCBOb3YgRGVjIDAwOjAwOjAwIE1vbiwgVHVlLCBXZWQsIFRodSwgRnJpLCBTYXQsIFN1biwgR01UY2h1bmtlZCx0ZXh0L2h0bWwsaW1hZ2UvcG5nLGltYWdlL2pwZyxpbWFnZS9naWYsYXBwbGljYXRpb24veG1sLGFwcGxpY2F0aW9uL3hodG1sK3htbCx0ZXh0L3BsYWluLHRleHQvamF2YXNjcmlwdCxwdWJsaWNwcml2YXRlbWF4LWFnZT1nemlwLGRlZmxhdGUsc2RjaGNoYXJzZXQ9dXRmLThjaGFyc2V0PWlzby04ODU5LTEsdXRmLSwqLGVucT0wLg==',
  'base64',
);

const FLAG_FIN = 0x01;
const SYN_STREAM = 1;
const SYN_REPLY = 2;
const RST_STREAM = 3;
const SETTINGS = 4;
const PING = 6;
const GOAWAY = 7;
const HEADERS = 8;


export type SpdyHeaders = Record<string, string>;

export interface SpdyStream {
  on(event: 'data', fn: (d: Buffer) => void): this;
  on(event: 'end' | 'reset' | 'close', fn: () => void): this;
  on(event: 'reply', fn: (h: SpdyHeaders) => void): this;
}

export class SpdyStream extends EventEmitter {
  readonly id: number;
  readonly headers: SpdyHeaders;
  readonly conn: SpdyConn;
  localClosed = false;
  remoteClosed = false;

  constructor(conn: SpdyConn, id: number, headers: SpdyHeaders) {
    super();
    this.conn = conn;
    this.id = id;
    this.headers = headers;
  }

  write(data: Buffer): void {
    if (this.localClosed) return;
    for (let off = 0; off < data.length || (off === 0 && data.length === 0); off += 0xffffff) {
      this.conn._data(this.id, data.subarray(off, off + 0xffffff), 0);
      if (data.length === 0) break;
    }
  }

  /** Half-closes our side (an empty DATA frame with FIN). */
  end(): void {
    if (this.localClosed) return;
    this.localClosed = true;
    this.conn._data(this.id, Buffer.alloc(0), FLAG_FIN);
    this.#maybeDone();
  }

  reply(headers: SpdyHeaders = {}, fin = false): void {
    this.conn._reply(this.id, headers, fin);
    if (fin) {
      this.localClosed = true;
      this.#maybeDone();
    }
  }

  reset(status = 5 /* CANCEL */): void {
    this.conn._rst(this.id, status);
    this._gone();
  }

  _remoteFin(): void {
    if (this.remoteClosed) return;
    this.remoteClosed = true;
    this.emit('end');
    this.#maybeDone();
  }

  _gone(): void {
    this.localClosed = true;
    if (!this.remoteClosed) {
      this.remoteClosed = true;
      this.emit('end');
    }
    this.#maybeDone();
  }

  #done = false;
  #maybeDone(): void {
    if (this.#done || !this.localClosed || !this.remoteClosed) return;
    this.#done = true;
    this.conn._forget(this.id);
    this.emit('close');
  }
}

export interface SpdyConn {
  on(event: 'stream', fn: (s: SpdyStream) => void): this;
  on(event: 'close', fn: () => void): this;
  on(event: 'error', fn: (e: unknown) => void): this;
}

export class SpdyConn extends EventEmitter {
  readonly socket: Duplex;
  readonly #streams = new Map<number, SpdyStream>();
  #nextId: number;
  #buf: Buffer = Buffer.alloc(0);
  /** Whether our zlib stream header went out (with the first header block). */
  #zlibStarted = false;
  /** The peer's compressed header stream so far, and how much of its output was consumed. */
  #inflateIn: Buffer[] = [];
  #inflateOut = 0;
  #closed = false;

  constructor(socket: Duplex, isClient: boolean) {
    super();
    this.socket = socket;
    this.#nextId = isClient ? 1 : 2;
    socket.on('data', (d: Buffer) => {
      try {
        this.#onData(d);
      } catch (e) {
        this.emit('error', e);
        this.close();
      }
    });
    socket.on('close', () => this.#finish());
    socket.on('end', () => this.#finish());
    socket.on('error', () => this.#finish());
  }

  get closed(): boolean {
    return this.#closed;
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#streams.values()]) s._gone();
    this.emit('close');
  }

  close(): void {
    this.socket.end();
    this.#finish();
  }

  /** Opens a stream (SYN_STREAM) with these headers. */
  openStream(headers: SpdyHeaders, fin = false): SpdyStream {
    const id = this.#nextId;
    this.#nextId += 2;
    const s = new SpdyStream(this, id, headers);
    this.#streams.set(id, s);
    const block = this.#compress(headers);
    const body = Buffer.alloc(10);
    body.writeUInt32BE(id & 0x7fffffff, 0);
    body.writeUInt32BE(0, 4);
    body.writeUInt16BE(0, 8);
    this.#control(SYN_STREAM, fin ? FLAG_FIN : 0, Buffer.concat([body, block]));
    if (fin) s.localClosed = true;
    return s;
  }

  #control(type: number, flags: number, data: Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    const h = Buffer.alloc(8);
    h.writeUInt16BE(0x8003, 0);
    h.writeUInt16BE(type, 2);
    h.writeUInt32BE(((flags & 0xff) << 24) | data.length, 4);
    this.socket.write(Buffer.concat([h, data]));
  }

  _data(id: number, data: Buffer, flags: number): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    const h = Buffer.alloc(8);
    h.writeUInt32BE(id & 0x7fffffff, 0);
    h.writeUInt32BE(((flags & 0xff) << 24) | data.length, 4);
    this.socket.write(data.length ? Buffer.concat([h, data]) : h);
  }

  _reply(id: number, headers: SpdyHeaders, fin: boolean): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(id & 0x7fffffff, 0);
    this.#control(SYN_REPLY, fin ? FLAG_FIN : 0, Buffer.concat([b, this.#compress(headers)]));
  }

  _rst(id: number, status: number): void {
    const b = Buffer.alloc(8);
    b.writeUInt32BE(id & 0x7fffffff, 0);
    b.writeUInt32BE(status, 4);
    this.#control(RST_STREAM, 0, b);
  }

  _forget(id: number): void {
    this.#streams.delete(id);
  }

  #compress(headers: SpdyHeaders): Buffer {
    const parts: Buffer[] = [];
    const entries = Object.entries(headers);
    const n = Buffer.alloc(4);
    n.writeUInt32BE(entries.length, 0);
    parts.push(n);
    for (const [k, v] of entries) {
      for (const s of [k.toLowerCase(), v]) {
        const b = Buffer.from(s);
        const l = Buffer.alloc(4);
        l.writeUInt32BE(b.length, 0);
        parts.push(l, b);
      }
    }
    // Our side of the header compression context: a zlib stream (no preset dictionary,
    // which the reader then does not need) of stored deflate blocks, one per header block.
    // Every decoder reads it; it costs a few bytes of compression on tiny blocks.
    const raw = Buffer.concat(parts);
    const out: Buffer[] = [];
    if (!this.#zlibStarted) {
      this.#zlibStarted = true;
      out.push(Buffer.from([0x78, 0x01]));
    }
    for (let off = 0; off < raw.length; off += 0xffff) {
      const chunk = raw.subarray(off, off + 0xffff);
      const h = Buffer.alloc(5);
      h[0] = 0; // BFINAL=0, BTYPE=00 (stored)
      h.writeUInt16LE(chunk.length, 1);
      h.writeUInt16LE(~chunk.length & 0xffff, 3);
      out.push(h, chunk);
    }
    // The sync-flush marker (an empty stored block): inflaters hand out the block's bytes
    // when they meet it, without reading on into the next frame.
    out.push(Buffer.from([0x00, 0x00, 0x00, 0xff, 0xff]));
    return Buffer.concat(out);
  }

  /**
   * The peer's header blocks form one zlib stream (with the SPDY dictionary) across the
   * connection. Node has no synchronous streaming inflate, so the stream so far is
   * inflated again and the new output taken: fine for the few header blocks a streaming
   * session carries.
   */
  #inflate(block: Buffer): Buffer {
    this.#inflateIn.push(block);
    const all = zlib.inflateSync(Buffer.concat(this.#inflateIn), { dictionary: SPDY_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const fresh = all.subarray(this.#inflateOut);
    this.#inflateOut = all.length;
    return fresh;
  }

  #decompress(block: Buffer): SpdyHeaders {
    const raw = block.length ? this.#inflate(block) : Buffer.alloc(4);
    const out: SpdyHeaders = {};
    const count = raw.readUInt32BE(0);
    let off = 4;
    for (let i = 0; i < count; i++) {
      const kl = raw.readUInt32BE(off);
      const k = raw.subarray(off + 4, off + 4 + kl).toString();
      off += 4 + kl;
      const vl = raw.readUInt32BE(off);
      const v = raw.subarray(off + 4, off + 4 + vl).toString();
      off += 4 + vl;
      out[k.toLowerCase()] = v;
    }
    return out;
  }

  #onData(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    while (this.#buf.length >= 8) {
      const b = this.#buf;
      const len = b.readUInt32BE(4) & 0xffffff;
      if (b.length < 8 + len) return;
      const flags = b[4];
      const data = b.subarray(8, 8 + len);
      this.#buf = b.subarray(8 + len);
      if (b[0] & 0x80) this.#onControl(b.readUInt16BE(2), flags, data);
      else {
        const s = this.#streams.get(b.readUInt32BE(0) & 0x7fffffff);
        if (!s) continue;
        if (data.length) s.emit('data', Buffer.from(data));
        if (flags & FLAG_FIN) s._remoteFin();
      }
    }
  }

  #onControl(type: number, flags: number, data: Buffer): void {
    switch (type) {
      case SYN_STREAM: {
        const id = data.readUInt32BE(0) & 0x7fffffff;
        const s = new SpdyStream(this, id, this.#decompress(data.subarray(10)));
        this.#streams.set(id, s);
        this.emit('stream', s);
        if (flags & FLAG_FIN) s._remoteFin();
        return;
      }
      case SYN_REPLY:
      case HEADERS: {
        const id = data.readUInt32BE(0) & 0x7fffffff;
        const h = this.#decompress(data.subarray(4));
        const s = this.#streams.get(id);
        if (!s) return;
        if (type === SYN_REPLY) s.emit('reply', h);
        if (flags & FLAG_FIN) s._remoteFin();
        return;
      }
      case RST_STREAM: {
        const s = this.#streams.get(data.readUInt32BE(0) & 0x7fffffff);
        if (s) {
          s.emit('reset');
          s._gone();
        }
        return;
      }
      case PING: {
        const id = data.readUInt32BE(0);
        // Answer the peer's pings (ids of the other parity); ours come back as pongs.
        if ((id & 1) !== (this.#nextId & 1)) this.#control(PING, 0, data);
        return;
      }
      case GOAWAY:
        this.close();
        return;
      case SETTINGS:
      default:
        return;
    }
  }
}
