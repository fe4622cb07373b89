// Just enough of the DNS wire format (RFC 1035) to answer from the cache without a full
// decode: the header fields, where the question ends, and where each record's TTL sits
// so cached answers can be re-stamped with the time they have left. Everything else
// goes through dns-packet. Functions return undefined for input they cannot walk;
// they never throw on hostile bytes.

export const HEADER_LEN = 12;
export const TYPE_OPT = 41;

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

/** Query types by number for metrics labels; others are reported as "other" (as CoreDNS does). */
const TYPE_NAMES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 35: 'NAPTR',
  43: 'DS', 48: 'DNSKEY', 52: 'TLSA', 64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 252: 'AXFR', 251: 'IXFR', 255: 'ANY',
};

export function typeName(t: number): string {
  return TYPE_NAMES[t] ?? 'other';
}

/** Offset just past the (possibly compressed) name at `off`, or undefined. */
export function skipName(buf: Uint8Array, off: number): number | undefined {
  for (let guard = 0; guard < 128; guard++) {
    if (off >= buf.length) return undefined;
    const len = buf[off];
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2 <= buf.length ? off + 2 : undefined;
    if ((len & 0xc0) !== 0) return undefined;
    off += 1 + len;
  }
  return undefined;
}

export interface QuestionInfo {
  /** Offset just past the question section. */
  end: number;
  qtype: number;
  qclass: number;
}

/** The single question of a message (undefined unless QDCOUNT is 1 and it is complete). */
export function questionInfo(buf: Uint8Array): QuestionInfo | undefined {
  if (buf.length < HEADER_LEN) return undefined;
  if (((buf[4] << 8) | buf[5]) !== 1) return undefined;
  const nameEnd = skipName(buf, HEADER_LEN);
  if (nameEnd === undefined || nameEnd + 4 > buf.length) return undefined;
  return { end: nameEnd + 4, qtype: (buf[nameEnd] << 8) | buf[nameEnd + 1], qclass: (buf[nameEnd + 2] << 8) | buf[nameEnd + 3] };
}

/** The response code of a message (the header's four bits; extended codes live in OPT). */
export function rcodeOf(buf: Uint8Array): number {
  return buf.length >= 4 ? buf[3] & 0x0f : RCODE.SERVFAIL;
}

/**
 * Byte offsets of the TTL of every record in the answer, authority and additional
 * sections, OPT excepted (its TTL field carries EDNS flags). Undefined for a message
 * that does not parse.
 */
export function ttlOffsets(buf: Uint8Array): number[] | undefined {
  if (buf.length < HEADER_LEN) return undefined;
  const qd = (buf[4] << 8) | buf[5];
  const rr = ((buf[6] << 8) | buf[7]) + ((buf[8] << 8) | buf[9]) + ((buf[10] << 8) | buf[11]);
  let off = HEADER_LEN;
  for (let i = 0; i < qd; i++) {
    const e = skipName(buf, off);
    if (e === undefined) return undefined;
    off = e + 4;
  }
  const out: number[] = [];
  for (let i = 0; i < rr; i++) {
    const e = skipName(buf, off);
    if (e === undefined || e + 10 > buf.length) return undefined;
    const type = (buf[e] << 8) | buf[e + 1];
    const rdlen = (buf[e + 8] << 8) | buf[e + 9];
    if (type !== TYPE_OPT) out.push(e + 4);
    off = e + 10 + rdlen;
    if (off > buf.length) return undefined;
  }
  return out;
}

/** The smallest TTL at `offsets` (undefined when there are none). */
export function minTtl(buf: Uint8Array, offsets: number[]): number | undefined {
  let min: number | undefined;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const o of offsets) {
    const t = view.getUint32(o);
    if (min === undefined || t < min) min = t;
  }
  return min;
}

/** Lowers every TTL at `offsets` by `seconds` (not below zero), in place. */
export function ageTtls(buf: Uint8Array, offsets: number[], seconds: number): void {
  if (seconds <= 0) return;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const o of offsets) {
    const t = view.getUint32(o);
    view.setUint32(o, t > seconds ? t - seconds : 0);
  }
}

/** Caps every TTL at `offsets` to `max`, in place (a cached answer never promises more than the cache keeps it). */
export function capTtls(buf: Uint8Array, offsets: number[], max: number): void {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const o of offsets) if (view.getUint32(o) > max) view.setUint32(o, max);
}

/**
 * A minimal answer built from the request's header and question: same ID, opcode and
 * RD, QR set, the given rcode, no records. For FORMERR/NOTIMP/SERVFAIL where decoding
 * the request (or answering it) failed.
 */
export function errorResponse(req: Uint8Array, rcode: number): Buffer | undefined {
  if (req.length < HEADER_LEN) return undefined;
  const q = questionInfo(req);
  const out = Buffer.alloc(q ? q.end : HEADER_LEN);
  out.set(req.subarray(0, out.length));
  out[2] = 0x80 | (req[2] & 0x79); // QR, keep opcode and RD; clear AA and TC
  out[3] = 0x80 | (rcode & 0x0f); // RA
  out.writeUInt16BE(q ? 1 : 0, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(0, 10);
  return out;
}
