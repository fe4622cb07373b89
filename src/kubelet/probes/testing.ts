// A real gRPC server speaking grpc.health.v1.Health/Check, for the prober's unit tests and
// the node e2e tests. Its messages are encoded by hand from the wire format, not with the
// prober's codec, so a wrong field number or type in the prober fails the tests.

import grpc from '@grpc/grpc-js';

/** grpc.health.v1.HealthCheckResponse.ServingStatus values. */
export const SERVING_STATUS = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } as const;

export interface HealthServer {
  port: number;
  /** Service name → status number; change it at any time. Absent: NotFound "unknown service" (grpc-go's answer). */
  statuses: Map<string, number>;
  /** Services whose checks are never answered. */
  hang: Set<string>;
  /** Every check received: the service asked for and the caller's user-agent. */
  seen: { service: string; userAgent: string }[];
  close(): void;
}

/** HealthCheckRequest{string service = 1}. An object, not the bare string: grpc-js's server takes a falsy request for none. */
function decodeRequest(b: Buffer): { service: string } {
  let i = 0;
  let service = '';
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = b[i++]!;
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
    }
  };
  while (i < b.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 2) {
      const len = varint();
      if (tag >>> 3 === 1) service = b.subarray(i, i + len).toString('utf8');
      i += len;
    } else if (wire === 0) varint();
    else throw new Error(`unexpected wire type ${wire} in HealthCheckRequest`);
  }
  return { service };
}

/** HealthCheckResponse{ServingStatus status = 1}: field 1, varint (small values only). */
function encodeResponse(status: number): Buffer {
  return status === 0 ? Buffer.alloc(0) : Buffer.from([0x08, status]);
}

/** Starts a health server on 127.0.0.1 (port 0 unless given); `health: false` serves no health service at all. */
export async function startHealthServer(opts: { statuses?: Record<string, number>; health?: boolean; port?: number } = {}): Promise<HealthServer> {
  const statuses = new Map(Object.entries(opts.statuses ?? { '': SERVING_STATUS.SERVING }));
  const hang = new Set<string>();
  const seen: HealthServer['seen'] = [];
  const server = new grpc.Server();
  if (opts.health !== false) {
    server.addService(
      {
        Check: {
          path: '/grpc.health.v1.Health/Check',
          requestStream: false,
          responseStream: false,
          requestSerialize: (r: { service: string }) => Buffer.from(r.service),
          requestDeserialize: decodeRequest,
          responseSerialize: encodeResponse,
          responseDeserialize: (b: Buffer) => b[1] ?? 0,
        },
      },
      {
        Check: (call: grpc.ServerUnaryCall<{ service: string }, number>, cb: grpc.sendUnaryData<number>) => {
          const service = call.request.service;
          seen.push({ service, userAgent: String(call.metadata.get('user-agent')[0] ?? '') });
          if (hang.has(service)) return;
          const s = statuses.get(service);
          if (s === undefined) cb({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
          else cb(null, s);
        },
      },
    );
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { port, statuses, hang, seen, close: () => server.forceShutdown() };
}
