// Decodes `application/vnd.kubernetes.protobuf` request bodies into the JSON object a
// JSON client would have sent. kubectl 1.32's typed clients send built-in kinds this way
// (docs/KUBECTL-WIRE.md §0) and have no JSON fallback.
//
// Wire: the bytes `k8s\0`, then runtime.Unknown {1: typeMeta{1: apiVersion, 2: kind},
// 2: raw, 3: contentEncoding, 4: contentType}, `raw` holding the kind's message.
//
// Upstream's marshaller writes every non-pointer scalar, zero or not, so presence on the
// wire means "set" only for Go pointers. The JSON form therefore follows the Go json tags,
// as recorded per field by scripts/generate-proto.ts: a zero scalar is kept only where
// `keepZero` says so (pointers such as `replicas`, non-omitempty fields such as
// `containerPort`); empty lists and maps are omitted; structs that were on the wire stay,
// even empty (`resources: {}`, `status: {}`); the zero Time is `null`
// (`creationTimestamp: null`), as kubectl's own JSON has it.

import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';

export interface DecodedProtobuf {
  apiVersion: string;
  kind: string;
  object: Record<string, unknown>;
}

export const protobufContentType = 'application/vnd.kubernetes.protobuf';

/**
 * Decodes a protobuf request body. Throws a plain Error, with a message fit for a
 * BadRequest Status, for a missing prefix, an unknown kind or a malformed message.
 */
export function decodeKubernetesProtobuf(body: Uint8Array): DecodedProtobuf {
  return decodeEnvelope(body, 0);
}

// ---- descriptors (generated), compiled lazily per message ----

interface DescriptorField {
  type: string;
  id: number;
  rule?: string;
  keyType?: string;
  json?: string;
  inline?: boolean;
  keepZero?: boolean;
}
interface DescriptorMessage {
  format?: string;
  fields: Record<string, DescriptorField>;
}
interface DescriptorNode {
  nested?: Record<string, DescriptorNode>;
  fields?: Record<string, DescriptorField>;
  format?: string;
}
interface DescriptorFile {
  kinds: Record<string, string>;
  metaKinds: Record<string, string>;
  nested: Record<string, DescriptorNode>;
}

// Value kinds; MESSAGE fields carry the message they hold.
const INT32 = 1;
const INT64 = 2;
const UINT32 = 3;
const UINT64 = 4;
const BOOL = 5;
const STRING = 6;
const BYTES = 7;
const DOUBLE = 8;
const MESSAGE = 9;
const SCALAR_KINDS: Record<string, number> = {
  int32: INT32, int64: INT64, uint32: UINT32, uint64: UINT64,
  bool: BOOL, string: STRING, bytes: BYTES, double: DOUBLE,
};

interface FieldInfo {
  name: string; // the JSON name
  kind: number;
  messageName: string;
  message: MessageInfo | undefined; // resolved on first use
  repeated: boolean;
  map: boolean;
  inline: boolean;
  keepZero: boolean;
}
interface MessageInfo {
  name: string;
  format: string | undefined;
  byId: (FieldInfo | undefined)[];
}
interface Registry {
  kinds: Record<string, string>;
  metaKinds: Record<string, string>;
  messages: Map<string, DescriptorMessage>;
  compiled: Map<string, MessageInfo>;
}

let registry: Registry | undefined;

function getRegistry(): Registry {
  if (registry) return registry;
  const file: DescriptorFile = JSON.parse(
    readFileSync(new URL('./generated/proto-descriptors.json', import.meta.url), 'utf8'),
  );
  const messages = new Map<string, DescriptorMessage>();
  const walk = (nested: Record<string, DescriptorNode>, prefix: string): void => {
    for (const [key, node] of Object.entries(nested)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (node.fields) messages.set(name, { format: node.format, fields: node.fields });
      if (node.nested) walk(node.nested, name);
    }
  };
  walk(file.nested, '');
  registry = { kinds: file.kinds, metaKinds: file.metaKinds, messages, compiled: new Map() };
  return registry;
}

function messageInfo(name: string): MessageInfo {
  const reg = getRegistry();
  const cached = reg.compiled.get(name);
  if (cached) return cached;
  const descriptor = reg.messages.get(name);
  if (!descriptor) throw new Error(`protobuf descriptors lack message ${name}`);
  const info: MessageInfo = { name, format: descriptor.format, byId: [] };
  for (const [protoName, f] of Object.entries(descriptor.fields)) {
    const scalar = SCALAR_KINDS[f.type];
    info.byId[f.id] = {
      name: f.json ?? protoName,
      kind: scalar ?? MESSAGE,
      messageName: scalar ? '' : f.type.slice(1),
      message: undefined,
      repeated: f.rule === 'repeated',
      map: f.keyType !== undefined,
      inline: f.inline === true,
      keepZero: f.keepZero === true,
    };
  }
  reg.compiled.set(name, info);
  return info;
}

function fieldMessage(field: FieldInfo): MessageInfo {
  return (field.message ??= messageInfo(field.messageName));
}

// ---- wire reading ----

const MAX_DEPTH = 100;
const MAGIC = [0x6b, 0x38, 0x73, 0x00]; // "k8s\0"

class Reader {
  buf: Buffer;
  pos: number;
  constructor(buf: Buffer, pos: number) {
    this.buf = buf;
    this.pos = pos;
  }
}

function truncated(what: string): Error {
  return new Error(`truncated or malformed protobuf (${what})`);
}

/** A field tag; field number 0 is illegal, as upstream's decoder says. */
function readTag(r: Reader, end: number): number {
  const tag = readUint(r, end);
  if (tag >>> 3 === 0) throw truncated('illegal field number 0');
  return tag;
}

/** Tags and lengths: unsigned, below 2^31. */
function readUint(r: Reader, end: number): number {
  const buf = r.buf;
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (r.pos >= end) throw truncated('varint runs past the end of its message');
    const b = buf[r.pos++];
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      if (value > 0x7fffffff) throw truncated('length or tag out of range');
      return value;
    }
  }
  throw truncated('length or tag out of range');
}

/** A varint as a 64-bit integer, two's complement when `signed`; exact up to 2^53. */
function readVarint(r: Reader, end: number, signed: boolean): number {
  const buf = r.buf;
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < 10; i++) {
    if (r.pos >= end) throw truncated('varint runs past the end of its message');
    const b = buf[r.pos++];
    if (i < 4) lo |= (b & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (b & 0x0f) << 28;
      hi = (b & 0x7f) >> 4;
    } else hi |= (b & 0x7f) << (7 * i - 32);
    if (b < 0x80) {
      lo >>>= 0;
      hi >>>= 0;
      if (signed && hi >= 0x80000000) {
        return -((~hi >>> 0) * 4294967296 + (~lo >>> 0) + 1);
      }
      return hi * 4294967296 + lo;
    }
  }
  throw truncated('varint longer than 10 bytes');
}

function readBigVarint(r: Reader, end: number): bigint {
  let value = 0n;
  for (let shift = 0n; shift < 70n; shift += 7n) {
    if (r.pos >= end) throw truncated('varint runs past the end of its message');
    const b = r.buf[r.pos++];
    value |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return BigInt.asIntN(64, value);
  }
  throw truncated('varint longer than 10 bytes');
}

/** Start and end of a length-delimited value. */
function readSpan(r: Reader, end: number): number {
  const len = readUint(r, end);
  const spanEnd = r.pos + len;
  if (spanEnd > end) throw truncated('length runs past the end of its message');
  return spanEnd;
}

function skip(r: Reader, end: number, wireType: number): void {
  switch (wireType) {
    case 0:
      readVarint(r, end, false);
      return;
    case 1:
      r.pos += 8;
      break;
    case 2:
      r.pos = readSpan(r, end);
      return;
    case 5:
      r.pos += 4;
      break;
    default:
      throw truncated(`unsupported wire type ${wireType}`);
  }
  if (r.pos > end) throw truncated('fixed-size value runs past the end of its message');
}

const WIRE_TYPES = [0, 0, 0, 0, 0, 0, 2, 2, 1, 2]; // by value kind

function readScalar(r: Reader, end: number, kind: number): unknown {
  switch (kind) {
    case INT32:
      return readVarint(r, end, true) | 0;
    case INT64:
      return readVarint(r, end, true);
    case UINT32:
      return readVarint(r, end, false) >>> 0;
    case UINT64:
      return readVarint(r, end, false);
    case BOOL:
      return readVarint(r, end, false) !== 0;
    case STRING: {
      const stop = readSpan(r, end);
      const s = r.buf.toString('utf8', r.pos, stop);
      r.pos = stop;
      return s;
    }
    case BYTES: {
      const stop = readSpan(r, end);
      const s = r.buf.toString('base64', r.pos, stop);
      r.pos = stop;
      return s;
    }
    case DOUBLE: {
      if (r.pos + 8 > end) throw truncated('double runs past the end of its message');
      const d = r.buf.readDoubleLE(r.pos);
      r.pos += 8;
      return d;
    }
  }
  throw new Error(`unexpected value kind ${kind}`);
}

function isZero(value: unknown): boolean {
  return value === 0 || value === '' || value === false;
}

// ---- messages to JSON ----

/** Decodes the fields in [r.pos, end) into `target` (an inline field decodes into its parent's). */
function decodeFields(
  r: Reader, end: number, info: MessageInfo, target: Record<string, unknown>, depth: number,
): void {
  if (depth > MAX_DEPTH) throw new Error('protobuf message nested too deeply');
  const byId = info.byId;
  while (r.pos < end) {
    const tag = readTag(r, end);
    const id = tag >>> 3;
    const wireType = tag & 7;
    const field = byId[id];
    if (field === undefined) {
      skip(r, end, wireType);
      continue;
    }
    if (field.map) {
      if (wireType !== 2) throw wrongWireType(info, field, wireType);
      decodeMapEntry(r, readSpan(r, end), field, target, depth);
      continue;
    }
    if (field.kind === MESSAGE) {
      if (wireType !== 2) throw wrongWireType(info, field, wireType);
      const stop = readSpan(r, end);
      const message = fieldMessage(field);
      if (field.repeated) {
        arrayOf(target, field.name).push(decodeValue(r, stop, message, depth + 1));
      } else if (field.inline) {
        decodeFields(r, stop, message, target, depth + 1);
      } else if (message.format === undefined) {
        const existing = target[field.name];
        const object = isPlainObject(existing) ? existing : {};
        decodeFields(r, stop, message, object, depth + 1);
        target[field.name] = object;
      } else {
        target[field.name] = decodeValue(r, stop, message, depth + 1);
      }
      r.pos = stop;
      continue;
    }
    const expected = WIRE_TYPES[field.kind];
    if (field.repeated) {
      const list = arrayOf(target, field.name);
      if (wireType === 2 && expected !== 2) {
        // Packed: upstream writes repeated numbers unpacked, but both forms are valid.
        const stop = readSpan(r, end);
        while (r.pos < stop) list.push(readScalar(r, stop, field.kind));
      } else if (wireType === expected) {
        list.push(readScalar(r, end, field.kind));
      } else {
        throw wrongWireType(info, field, wireType);
      }
      if (list.length === 0) delete target[field.name];
      continue;
    }
    if (wireType !== expected) throw wrongWireType(info, field, wireType);
    const value = readScalar(r, end, field.kind);
    if (field.keepZero || !isZero(value)) target[field.name] = value;
    else if (field.name in target) delete target[field.name]; // a later occurrence wins
  }
  if (r.pos !== end) throw truncated(`${info.name} runs past its length`);
}

function wrongWireType(info: MessageInfo, field: FieldInfo, wireType: number): Error {
  return new Error(`malformed protobuf: wrong wire type ${wireType} for ${info.name} field ${field.name}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function arrayOf(target: Record<string, unknown>, name: string): unknown[] {
  const existing = target[name];
  if (Array.isArray(existing)) return existing;
  const list: unknown[] = [];
  target[name] = list;
  return list;
}

/** A map entry {1: key, 2: value}; a missing value is the type's zero value, as in Go. */
function decodeMapEntry(
  r: Reader, end: number, field: FieldInfo, target: Record<string, unknown>, depth: number,
): void {
  let key = '';
  let value: unknown;
  while (r.pos < end) {
    const tag = readTag(r, end);
    const id = tag >>> 3;
    const wireType = tag & 7;
    if (id === 1 && wireType === 2) {
      key = readScalar(r, end, STRING) as string;
    } else if (id === 2 && field.kind === MESSAGE && wireType === 2) {
      const stop = readSpan(r, end);
      value = decodeValue(r, stop, fieldMessage(field), depth + 1);
      r.pos = stop;
    } else if (id === 2 && field.kind !== MESSAGE && wireType === WIRE_TYPES[field.kind]) {
      value = readScalar(r, end, field.kind);
    } else {
      skip(r, end, wireType);
    }
  }
  if (r.pos !== end) throw truncated(`map entry of ${field.name} runs past its length`);
  if (value === undefined) value = zeroValue(field, depth);
  const existing = target[field.name];
  const map = isPlainObject(existing) ? existing : {};
  map[key] = value;
  target[field.name] = map;
}

function zeroValue(field: FieldInfo, depth: number): unknown {
  switch (field.kind) {
    case STRING:
    case BYTES:
      return '';
    case BOOL:
      return false;
    case MESSAGE: {
      const message = fieldMessage(field);
      return decodeValue(new Reader(Buffer.alloc(0), 0), 0, message, depth + 1);
    }
    default:
      return 0;
  }
}

/** One message value, in its custom JSON form when it has one. */
function decodeValue(r: Reader, end: number, info: MessageInfo, depth: number): unknown {
  switch (info.format) {
    case undefined: {
      const object: Record<string, unknown> = {};
      decodeFields(r, end, info, object, depth);
      return object;
    }
    case 'Time':
    case 'MicroTime':
      return decodeTime(r, end, info.format === 'MicroTime');
    case 'Duration':
      return decodeDuration(r, end);
    case 'Quantity':
      return decodeQuantity(r, end);
    case 'IntOrString':
      return decodeIntOrString(r, end);
    case 'RawExtension':
    case 'FieldsV1':
      return decodeRawJSON(r, end, info.format, depth);
    case 'StringList': {
      const list: unknown[] = [];
      forEachField(r, end, (id, wireType) => {
        if (id === 1 && wireType === 2) list.push(readScalar(r, end, STRING));
        else return false;
        return true;
      });
      return list;
    }
  }
  throw new Error(`unknown JSON format ${info.format} for ${info.name}`);
}

/** Calls `read` per field; a field it declines (returns false) is skipped. */
function forEachField(r: Reader, end: number, read: (id: number, wireType: number) => boolean): void {
  while (r.pos < end) {
    const tag = readTag(r, end);
    if (!read(tag >>> 3, tag & 7)) skip(r, end, tag & 7);
  }
  if (r.pos !== end) throw truncated('message runs past its length');
}

// Go's zero time.Time, which metav1.Time and MicroTime write as JSON null.
const GO_ZERO_TIME_SECONDS = -62135596800;

/**
 * metav1.Time: RFC 3339 in seconds (upstream drops nanos when decoding protobuf);
 * MicroTime: six fraction digits. An empty message is the zero time: null.
 */
function decodeTime(r: Reader, end: number, micro: boolean): string | null {
  let seconds = 0;
  let nanos = 0;
  let empty = true;
  forEachField(r, end, (id, wireType) => {
    if (wireType !== 0 || (id !== 1 && id !== 2)) return false;
    empty = false;
    if (id === 1) seconds = readVarint(r, end, true);
    else nanos = readVarint(r, end, true) | 0;
    return true;
  });
  if (empty) return null;
  if (!micro) nanos = 0;
  seconds += Math.floor(nanos / 1e9);
  nanos = ((nanos % 1e9) + 1e9) % 1e9;
  const micros = Math.floor(nanos / 1000);
  if (seconds === GO_ZERO_TIME_SECONDS && micros === 0) return null;
  const date = new Date(seconds * 1000);
  const iso = Number.isNaN(date.getTime()) ? '' : date.toISOString();
  if (!/^\d{4}-/.test(iso)) throw new Error(`time out of range: ${seconds} seconds`);
  const base = iso.slice(0, 19);
  return micro ? `${base}.${String(micros).padStart(6, '0')}Z` : `${base}Z`;
}

function decodeDuration(r: Reader, end: number): string {
  let ns = 0n;
  forEachField(r, end, (id, wireType) => {
    if (id !== 1 || wireType !== 0) return false;
    ns = readBigVarint(r, end);
    return true;
  });
  return goDuration(ns);
}

/** time.Duration.String(): "1h2m3.5s", "1.5ms", "0s". */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const negative = ns < 0n;
  const u = negative ? -ns : ns;
  let text: string;
  if (u < 1_000_000_000n) {
    const [unit, prec]: [string, number] = u < 1000n ? ['ns', 0] : u < 1_000_000n ? ['µs', 3] : ['ms', 6];
    const [whole, fraction] = splitFraction(u, prec);
    text = `${whole}${fraction}${unit}`;
  } else {
    const [seconds, fraction] = splitFraction(u, 9);
    const minutes = seconds / 60n;
    const hours = minutes / 60n;
    text = `${seconds % 60n}${fraction}s`;
    if (minutes > 0n) text = `${minutes % 60n}m${text}`;
    if (hours > 0n) text = `${hours}h${text}`;
  }
  return negative ? `-${text}` : text;
}

/** v / 10^prec and its fraction as ".5" (trailing zeros dropped, "" when none). */
function splitFraction(v: bigint, prec: number): [bigint, string] {
  if (prec === 0) return [v, ''];
  const scale = 10n ** BigInt(prec);
  const digits = (v % scale).toString().padStart(prec, '0').replace(/0+$/, '');
  return [v / scale, digits ? `.${digits}` : ''];
}

/** resource.Quantity: its canonical string; a missing string is the zero quantity. */
function decodeQuantity(r: Reader, end: number): string {
  let value: string | undefined;
  forEachField(r, end, (id, wireType) => {
    if (id !== 1 || wireType !== 2) return false;
    value = readScalar(r, end, STRING) as string;
    return true;
  });
  if (value === undefined) return '0';
  if (value === '') throw new Error('quantities must match the regular expression, got ""');
  return value;
}

/** intstr.IntOrString {1: type, 2: intVal, 3: strVal}: a number or a string. */
function decodeIntOrString(r: Reader, end: number): number | string {
  let type = 0;
  let intVal = 0;
  let strVal = '';
  forEachField(r, end, (id, wireType) => {
    if (id === 1 && wireType === 0) type = readVarint(r, end, true);
    else if (id === 2 && wireType === 0) intVal = readVarint(r, end, true) | 0;
    else if (id === 3 && wireType === 2) strVal = readScalar(r, end, STRING) as string;
    else return false;
    return true;
  });
  if (type === 0) return intVal;
  if (type === 1) return strVal;
  throw new Error(`invalid IntOrString type ${type}`);
}

/**
 * runtime.RawExtension and FieldsV1 carry JSON bytes (an embedded object may also be a
 * nested `k8s\0` protobuf body). Absent or empty is null, as upstream marshals nil.
 */
function decodeRawJSON(r: Reader, end: number, format: string, depth: number): unknown {
  let start = -1;
  let stop = -1;
  forEachField(r, end, (id, wireType) => {
    if (id !== 1 || wireType !== 2) return false;
    stop = readSpan(r, end);
    start = r.pos;
    r.pos = stop;
    return true;
  });
  if (start < 0 || start === stop) return null;
  const bytes = r.buf.subarray(start, stop);
  if (bytes.length >= 4 && MAGIC.every((b, i) => bytes[i] === b)) {
    return decodeEnvelope(bytes, depth + 1).object;
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new Error(`${format} does not hold JSON: ${(err as Error).message}`);
  }
}

function decodeEnvelope(body: Uint8Array, depth: number): DecodedProtobuf {
  if (body.length < 4 || !MAGIC.every((b, i) => body[i] === b)) {
    throw new Error(`protobuf body does not start with the "k8s\\x00" prefix of ${protobufContentType}`);
  }
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const r = new Reader(buf, 4);
  const end = buf.length;
  let apiVersion = '';
  let kind = '';
  let rawStart = -1;
  let rawEnd = -1;
  let contentEncoding = '';
  let contentType = '';
  forEachField(r, end, (id, wireType) => {
    if (wireType !== 2) return false;
    if (id === 1) {
      const stop = readSpan(r, end);
      forEachField(r, stop, (tid, twt) => {
        if (tid === 1 && twt === 2) apiVersion = readScalar(r, stop, STRING) as string;
        else if (tid === 2 && twt === 2) kind = readScalar(r, stop, STRING) as string;
        else return false;
        return true;
      });
    } else if (id === 2) {
      rawEnd = readSpan(r, end);
      rawStart = r.pos;
      r.pos = rawEnd;
    } else if (id === 3) {
      contentEncoding = readScalar(r, end, STRING) as string;
    } else if (id === 4) {
      contentType = readScalar(r, end, STRING) as string;
    } else {
      return false;
    }
    return true;
  });
  if (!kind) throw new Error('protobuf body has no kind in its type metadata');
  if (contentEncoding) throw new Error(`unsupported protobuf content encoding "${contentEncoding}"`);
  if (contentType && contentType !== protobufContentType) {
    throw new Error(`unsupported content type "${contentType}" inside the protobuf envelope`);
  }
  const reg = getRegistry();
  const name = reg.kinds[`${apiVersion}/${kind}`] ?? reg.metaKinds[kind];
  if (!name) throw new Error(`no kind "${kind}" is registered for version "${apiVersion}"`);

  const object: Record<string, unknown> = { kind, apiVersion };
  if (rawStart >= 0) {
    r.pos = rawStart;
    try {
      decodeFields(r, rawEnd, messageInfo(name), object, depth + 1);
    } catch (err) {
      throw new Error(`cannot decode ${kind} (${apiVersion}) from protobuf: ${(err as Error).message}`);
    }
  }
  return { apiVersion, kind, object };
}
