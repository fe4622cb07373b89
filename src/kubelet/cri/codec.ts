// Protobuf encoding of CRI v1 messages with protobufjs, from the generated descriptor
// (generated/cri-v1.json; scripts/generate-cri.ts). Decoded messages follow the
// conventions of generated/types.ts: proto3 defaults filled in, unset message fields
// absent, enums as names, 64-bit integers as numbers.

import { readFileSync } from 'node:fs';
import protobuf from 'protobufjs';
import { CRI_PACKAGE } from './generated/types.ts';

export interface MethodCodec {
  /** `/runtime.v1.RuntimeService/Version`: the HTTP/2 path gRPC calls. */
  path: string;
  requestType: string;
  responseType: string;
  responseStream: boolean;
  encode(value: unknown): Buffer;
  decode(bytes: Buffer): unknown;
}

let root: protobuf.Root | undefined;
const methods = new Map<string, MethodCodec>();

function cri(): protobuf.Root {
  root ??= protobuf.Root.fromJSON(JSON.parse(readFileSync(new URL('./generated/cri-v1.json', import.meta.url), 'utf8')));
  return root;
}

const TO_OBJECT: protobuf.IConversionOptions = { enums: String, longs: Number, defaults: true, arrays: true, objects: true };

/** protobufjs writes `null` for unset message fields when filling defaults; the types say absent. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) {
    for (const v of value) dropNulls(v);
  } else if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) {
    const o = value as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (o[k] === null) delete o[k];
      else dropNulls(o[k]);
    }
  }
  return value;
}

export function messageType(name: string): protobuf.Type {
  return cri().lookupType(`${CRI_PACKAGE}.${name}`);
}

export function encodeMessage(name: string, value: unknown): Buffer {
  const type = messageType(name);
  return Buffer.from(type.encode(type.fromObject((value ?? {}) as Record<string, unknown>)).finish());
}

export function decodeMessage(name: string, bytes: Uint8Array): unknown {
  const type = messageType(name);
  return dropNulls(type.toObject(type.decode(bytes), TO_OBJECT));
}

export function methodCodec(service: string, method: string): MethodCodec {
  const key = `${service}/${method}`;
  const cached = methods.get(key);
  if (cached) return cached;
  const svc = cri().lookupService(`${CRI_PACKAGE}.${service}`);
  const m = svc.methods[method];
  if (!m) throw new Error(`CRI ${service} has no method ${method}`);
  const codec: MethodCodec = {
    path: `/${CRI_PACKAGE}.${service}/${method}`,
    requestType: m.requestType,
    responseType: m.responseType,
    responseStream: !!m.responseStream,
    encode: (value) => encodeMessage(m.requestType, value),
    decode: (bytes) => decodeMessage(m.responseType, bytes),
  };
  methods.set(key, codec);
  return codec;
}
