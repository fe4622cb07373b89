// A minimal RFC 6455 WebSocket server endpoint over an upgraded socket: the handshake,
// binary/text messages (fragments joined), ping→pong, close. Enough for the channel
// protocols kubectl speaks (v5.channel.k8s.io); no extensions (no permessage-deflate).

import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export function acceptKey(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

export function isWebSocketRequest(req: IncomingMessage): boolean {
  return String(req.headers.upgrade ?? '').toLowerCase() === 'websocket' && typeof req.headers['sec-websocket-key'] === 'string';
}

/** The subprotocols the client offered, in order. */
export function offeredProtocols(req: IncomingMessage): string[] {
  const h = req.headers['sec-websocket-protocol'];
  return (Array.isArray(h) ? h.join(',') : (h ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
}

/** Writes the 101 answer choosing `protocol` and wraps the socket. */
export function acceptWebSocket(req: IncomingMessage, socket: Duplex, head: Buffer, protocol: string | undefined): WebSocketConn {
  const lines = [
    'HTTP/1.1 101 Switching Protocols',
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Accept: ${acceptKey(String(req.headers['sec-websocket-key']))}`,
  ];
  if (protocol) lines.push(`Sec-WebSocket-Protocol: ${protocol}`);
  // Every frame goes out when written (no Nagle), the 101 first of all: see the apiserver's
  // handleUpgrade (src/apiserver/streaming) for what a held-back 101 does to kubectl.
  (socket as Duplex & { setNoDelay?: (on?: boolean) => unknown }).setNoDelay?.(true);
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  return new WebSocketConn(socket, head);
}

/** Writes a plain HTTP error on a socket that asked to upgrade, and ends it. */
export function rejectUpgrade(socket: Duplex, code: number, body: string, contentType = 'text/plain; charset=utf-8'): void {
  const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 500: 'Internal Server Error', 502: 'Bad Gateway' }[code] ?? 'Error';
  const b = Buffer.from(body);
  socket.end(`HTTP/1.1 ${code} ${reason}\r\nContent-Type: ${contentType}\r\nContent-Length: ${b.length}\r\nConnection: close\r\n\r\n${body}`);
}

export interface WebSocketConn {
  on(event: 'message', fn: (data: Buffer, binary: boolean) => void): this;
  on(event: 'close', fn: (code: number) => void): this;
}

export class WebSocketConn extends EventEmitter {
  readonly socket: Duplex;
  #buf: Buffer = Buffer.alloc(0);
  #frags: Buffer[] = [];
  #fragBinary = true;
  #closed = false;
  #closeSent = false;

  constructor(socket: Duplex, head: Buffer = Buffer.alloc(0)) {
    super();
    this.socket = socket;
    socket.on('data', (d: Buffer) => this.#onData(d));
    socket.on('close', () => this.#finish(1006));
    socket.on('error', () => this.#finish(1006));
    socket.on('end', () => this.#finish(1006));
    if (head.length) queueMicrotask(() => this.#onData(head));
  }

  get closed(): boolean {
    return this.#closed || this.#closeSent;
  }

  #finish(code: number): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close', code);
    this.socket.destroy();
  }

  #onData(d: Buffer): void {
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
    for (;;) {
      const b = this.#buf;
      if (b.length < 2) return;
      const fin = (b[0] & 0x80) !== 0;
      const op = b[0] & 0x0f;
      const masked = (b[1] & 0x80) !== 0;
      let len = b[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (b.length < off + len) return;
      const payload = Buffer.from(b.subarray(off, off + len));
      if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= b[maskOff + (i & 3)];
      this.#buf = b.subarray(off + len);
      this.#frame(fin, op, payload);
      if (this.#closed) return;
    }
  }

  #frame(fin: boolean, op: number, payload: Buffer): void {
    switch (op) {
      case 0x0: // continuation
      case 0x1:
      case 0x2: {
        if (op !== 0) this.#fragBinary = op === 2;
        this.#frags.push(payload);
        if (fin) {
          const msg = this.#frags.length === 1 ? this.#frags[0] : Buffer.concat(this.#frags);
          this.#frags = [];
          this.emit('message', msg, this.#fragBinary);
        }
        return;
      }
      case 0x8: {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
        if (!this.#closeSent) this.#writeFrame(0x8, payload.subarray(0, 2));
        this.#closeSent = true;
        this.socket.end();
        this.#finish(code);
        return;
      }
      case 0x9:
        this.#writeFrame(0xa, payload);
        return;
      case 0xa:
        this.emit('pong', payload);
        return;
    }
  }

  #writeFrame(op: number, payload: Buffer): boolean {
    if (this.#closed || this.socket.destroyed) return false;
    const len = payload.length;
    let header: Buffer;
    if (len < 126) {
      header = Buffer.from([0x80 | op, len]);
    } else if (len < 65536) {
      header = Buffer.alloc(4);
      header[0] = 0x80 | op;
      header[1] = 126;
      header.writeUInt16BE(len, 2);
    } else {
      header = Buffer.alloc(10);
      header[0] = 0x80 | op;
      header[1] = 127;
      header.writeBigUInt64BE(BigInt(len), 2);
    }
    // One write per frame: with Nagle off, header and payload would otherwise go as two segments.
    if (len < 16 << 10) return this.socket.write(Buffer.concat([header, payload]));
    this.socket.write(header);
    return this.socket.write(payload);
  }

  /** Sends one binary message; false when the socket's buffer is full (wait for 'drain' on socket). */
  send(data: Buffer): boolean {
    if (this.#closeSent) return false;
    return this.#writeFrame(0x2, data);
  }

  ping(data: Buffer = Buffer.alloc(0)): void {
    this.#writeFrame(0x9, data);
  }

  /** Sends a close frame and ends the socket once written. */
  close(code = 1000, reason = ''): void {
    if (this.#closeSent || this.#closed) return;
    const p = Buffer.alloc(2 + Buffer.byteLength(reason));
    p.writeUInt16BE(code, 0);
    p.write(reason, 2);
    this.#writeFrame(0x8, p);
    this.#closeSent = true;
    this.socket.end();
    // The peer answers with its close frame; don't wait for it forever.
    setTimeout(() => this.#finish(code), 2000).unref();
  }
}
