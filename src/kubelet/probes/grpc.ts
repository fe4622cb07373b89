// gRPC probes as upstream's kubelet runs them: a fresh plaintext channel to host:port,
// wait until it connects, then grpc.health.v1.Health/Check{service}, all within one
// deadline of timeoutSeconds. SERVING is success; anything else is a failure whose
// message is upstream's, word for word, since users grep events for them.

import net from 'node:net';
import grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

export type GrpcProbeResult = { ok: boolean; output: string };

const CHECK_PATH = '/grpc.health.v1.Health/Check';

// grpc/health/v1/health.proto: the two messages the probe exchanges.
const health = protobuf.Root.fromJSON({
  nested: {
    grpc: {
      nested: {
        health: {
          nested: {
            v1: {
              nested: {
                HealthCheckRequest: { fields: { service: { type: 'string', id: 1 } } },
                HealthCheckResponse: {
                  fields: { status: { type: 'ServingStatus', id: 1 } },
                  nested: { ServingStatus: { values: { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2, SERVICE_UNKNOWN: 3 } } },
                },
              },
            },
          },
        },
      },
    },
  },
});
const Request = health.lookupType('grpc.health.v1.HealthCheckRequest');
const Response = health.lookupType('grpc.health.v1.HealthCheckResponse');

function encodeRequest(v: { service: string }): Buffer {
  return Buffer.from(Request.encode(Request.fromObject(v)).finish());
}

/** The status name (Go's enum String(): the number itself for values the proto does not name). */
function decodeResponse(b: Buffer): string {
  const o = Response.toObject(Response.decode(b), { enums: String, defaults: true }) as { status: string | number };
  return String(o.status);
}

/** grpc-go's code names, as `rpc error: code = X desc = ...` prints them. */
const GO_CODE = [
  'OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss',
  'Unauthenticated',
];

/** time.Duration's String() for whole seconds: 1s, 1m30s, 1h0m0s. */
export function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** Go's %q for the strings these messages quote (ASCII addresses and status names). */
function quote(s: string): string {
  return JSON.stringify(s);
}

/** One gRPC health check; never throws. */
export function grpcProbe(opts: { host: string; port: number; service: string; timeoutSeconds: number; userAgent: string }): Promise<GrpcProbeResult> {
  const addr = net.isIPv6(opts.host) ? `[${opts.host}]:${opts.port}` : `${opts.host}:${opts.port}`;
  const within = goDuration(opts.timeoutSeconds);
  const deadline = Date.now() + opts.timeoutSeconds * 1000;
  // A channel of its own (local subchannel pool): a previous probe's reconnect back-off
  // must not make a server that has just come up look down, as upstream dials afresh.
  const client = new grpc.Client(addr, grpc.credentials.createInsecure(), {
    'grpc.primary_user_agent': opts.userAgent,
    'grpc.use_local_subchannel_pool': 1,
    'grpc.enable_retries': 0,
  });
  return new Promise<GrpcProbeResult>((resolve) => {
    const done = (r: GrpcProbeResult) => {
      client.close();
      resolve(r);
    };
    client.waitForReady(deadline, (err) => {
      if (err) return done({ ok: false, output: `timeout: failed to connect service ${quote(addr)} within ${within}: context deadline exceeded` });
      client.makeUnaryRequest(CHECK_PATH, encodeRequest, decodeResponse, { service: opts.service }, new grpc.Metadata(), { deadline }, (e, status) => {
        if (e) {
          const code = e.code ?? grpc.status.UNKNOWN;
          if (code === grpc.status.UNIMPLEMENTED) return done({ ok: false, output: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${e.details ?? ''}` });
          if (code === grpc.status.DEADLINE_EXCEEDED) return done({ ok: false, output: `timeout: health rpc did not complete within ${within}` });
          return done({ ok: false, output: `error: health rpc probe failed: rpc error: code = ${GO_CODE[code] ?? `Code(${code})`} desc = ${e.details ?? ''}` });
        }
        if (status !== 'SERVING') return done({ ok: false, output: `service unhealthy (responded with ${quote(String(status))})` });
        done({ ok: true, output: 'service healthy' });
      });
    });
  });
}
