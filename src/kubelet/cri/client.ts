// CRI v1 over gRPC (@grpc/grpc-js) to a runtime's unix socket: the containerd
// implementation of CriRuntime (types.ts). Messages are encoded by codec.ts from the
// generated descriptor; grpc-js only carries bytes.

import * as grpc from '@grpc/grpc-js';
import { methodCodec } from './codec.ts';
import {
  CriError,
  GRPC_CODES,
  type CallOptions,
  type CriRuntime,
  type CriMethods,
  type ExecSyncResult,
  type Input,
  type ImageSpec,
} from './types.ts';
import type * as cri from './generated/types.ts';

/** The kubelet's --runtime-request-timeout default. */
export const DEFAULT_TIMEOUT_MS = 2 * 60_000;
/** What the kubelet sends in VersionRequest (kubeRuntimeAPIVersion). */
const KUBE_RUNTIME_API_VERSION = '0.1.0';
/** The kubelet's maximum gRPC message size (16 MiB) both ways. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface CriClientOptions {
  /** Default deadline of a call (ms); 2 min unless set. */
  timeoutMs?: number;
}

/**
 * Accepts `unix:///run/containerd/containerd.sock` (the kubelet's
 * --container-runtime-endpoint form), `unix:/path` and a bare absolute path; returns the
 * grpc-js target.
 */
export function grpcTarget(endpoint: string): string {
  if (endpoint.startsWith('unix://')) return `unix://${endpoint.slice('unix://'.length)}`;
  if (endpoint.startsWith('unix:')) return `unix://${endpoint.slice('unix:'.length)}`;
  if (endpoint.startsWith('/')) return `unix://${endpoint}`;
  throw new Error(`container runtime endpoint ${JSON.stringify(endpoint)}: only unix sockets are supported (unix:///path/to/sock)`);
}

function imageSpec(image: string | Input<ImageSpec>): Input<ImageSpec> {
  return typeof image === 'string' ? { image } : image;
}

type Req<S extends keyof CriMethods, M extends keyof CriMethods[S]> = Input<CriMethods[S][M] extends { request: infer Q } ? Q : never>;
type Res<S extends keyof CriMethods, M extends keyof CriMethods[S]> = CriMethods[S][M] extends { response: infer R } ? R : never;

export class CriClient implements CriRuntime {
  readonly endpoint: string;
  readonly #client: grpc.Client;
  readonly #timeoutMs: number;

  constructor(endpoint: string, opts: CriClientOptions = {}) {
    this.endpoint = endpoint;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#client = new grpc.Client(grpcTarget(endpoint), grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // Reconnect quickly after the runtime restarts (grpc-js backs off up to 120 s by default).
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 2000,
    });
  }

  #closed = false;

  /** Closes the channel; calls after it reject. Idempotent. */
  close(): void {
    this.#closed = true;
    this.#client.close();
  }

  /** Any unary RPC by name; the facade below is built on it. `timeoutMs: 0` means no deadline. */
  call<S extends keyof CriMethods, M extends keyof CriMethods[S] & string>(service: S, method: M, req: Req<S, M>, opts: CallOptions = {}): Promise<Res<S, M>> {
    const codec = methodCodec(service, method);
    const name = `${service}/${method}`;
    const { signal } = opts;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed) return Promise.reject(new CriError('Unavailable', name, `client for ${this.endpoint} is closed`));
    const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
    return new Promise((resolve, reject) => {
      const onAbort = () => call.cancel();
      const call = this.#client.makeUnaryRequest(
        codec.path,
        codec.encode,
        codec.decode,
        req,
        new grpc.Metadata(),
        timeoutMs > 0 ? { deadline: Date.now() + timeoutMs } : {},
        (err, value) => {
          signal?.removeEventListener('abort', onAbort);
          if (signal?.aborted) reject(signal.reason);
          else if (err) reject(toCriError(name, err));
          else resolve(value as Res<S, M>);
        },
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async *#stream<S extends keyof CriMethods, M extends keyof CriMethods[S] & string>(service: S, method: M, req: Req<S, M>, opts: CallOptions): AsyncGenerator<Res<S, M>> {
    const codec = methodCodec(service, method);
    const { signal } = opts;
    signal?.throwIfAborted();
    const call = this.#client.makeServerStreamRequest(
      codec.path,
      codec.encode,
      codec.decode,
      req,
      new grpc.Metadata(),
      opts.timeoutMs ? { deadline: Date.now() + opts.timeoutMs } : {},
    );
    const onAbort = () => call.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const item of call) yield item as Res<S, M>;
    } catch (e) {
      if (signal?.aborted) return;
      throw toCriError(`${service}/${method}`, e as grpc.ServiceError);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      call.cancel();
    }
  }

  // ---- RuntimeService ---------------------------------------------------------------

  version(opts?: CallOptions): Promise<cri.VersionResponse> {
    return this.call('RuntimeService', 'Version', { version: KUBE_RUNTIME_API_VERSION }, opts);
  }

  status(opts: CallOptions & { verbose?: boolean } = {}): Promise<cri.StatusResponse> {
    return this.call('RuntimeService', 'Status', { verbose: opts.verbose }, opts);
  }

  async runPodSandbox(config: Input<cri.PodSandboxConfig>, opts: CallOptions & { runtimeHandler?: string } = {}): Promise<string> {
    return (await this.call('RuntimeService', 'RunPodSandbox', { config, runtimeHandler: opts.runtimeHandler }, opts)).podSandboxId;
  }

  async stopPodSandbox(podSandboxId: string, opts?: CallOptions): Promise<void> {
    await this.call('RuntimeService', 'StopPodSandbox', { podSandboxId }, opts);
  }

  async removePodSandbox(podSandboxId: string, opts?: CallOptions): Promise<void> {
    await this.call('RuntimeService', 'RemovePodSandbox', { podSandboxId }, opts);
  }

  podSandboxStatus(podSandboxId: string, opts: CallOptions & { verbose?: boolean } = {}): Promise<cri.PodSandboxStatusResponse> {
    return this.call('RuntimeService', 'PodSandboxStatus', { podSandboxId, verbose: opts.verbose }, opts);
  }

  async listPodSandbox(filter?: Input<cri.PodSandboxFilter>, opts?: CallOptions): Promise<cri.PodSandbox[]> {
    return (await this.call('RuntimeService', 'ListPodSandbox', { filter }, opts)).items;
  }

  async createContainer(req: Input<cri.CreateContainerRequest>, opts?: CallOptions): Promise<string> {
    return (await this.call('RuntimeService', 'CreateContainer', req, opts)).containerId;
  }

  async startContainer(containerId: string, opts?: CallOptions): Promise<void> {
    await this.call('RuntimeService', 'StartContainer', { containerId }, opts);
  }

  async stopContainer(containerId: string, opts: CallOptions & { timeout?: number } = {}): Promise<void> {
    const timeout = opts.timeout ?? 0;
    // As the kubelet: the runtime may take the whole grace period, so the deadline is on top of it.
    await this.call('RuntimeService', 'StopContainer', { containerId, timeout }, { ...opts, timeoutMs: (opts.timeoutMs ?? this.#timeoutMs) + timeout * 1000 });
  }

  async removeContainer(containerId: string, opts?: CallOptions): Promise<void> {
    await this.call('RuntimeService', 'RemoveContainer', { containerId }, opts);
  }

  async listContainers(filter?: Input<cri.ContainerFilter>, opts?: CallOptions): Promise<cri.Container[]> {
    return (await this.call('RuntimeService', 'ListContainers', { filter }, opts)).containers;
  }

  containerStatus(containerId: string, opts: CallOptions & { verbose?: boolean } = {}): Promise<cri.ContainerStatusResponse> {
    return this.call('RuntimeService', 'ContainerStatus', { containerId, verbose: opts.verbose }, opts);
  }

  async execSync(containerId: string, opts: CallOptions & { cmd: string[]; timeout?: number }): Promise<ExecSyncResult> {
    const timeout = opts.timeout ?? 0;
    const res = await this.call('RuntimeService', 'ExecSync', { containerId, cmd: opts.cmd, timeout }, {
      ...opts,
      timeoutMs: (opts.timeoutMs ?? this.#timeoutMs) + timeout * 1000,
    });
    return { stdout: Buffer.from(res.stdout), stderr: Buffer.from(res.stderr), exitCode: res.exitCode };
  }

  async exec(req: Input<cri.ExecRequest>, opts?: CallOptions): Promise<string> {
    return (await this.call('RuntimeService', 'Exec', req, opts)).url;
  }

  async attach(req: Input<cri.AttachRequest>, opts?: CallOptions): Promise<string> {
    return (await this.call('RuntimeService', 'Attach', req, opts)).url;
  }

  async portForward(req: Input<cri.PortForwardRequest>, opts?: CallOptions): Promise<string> {
    return (await this.call('RuntimeService', 'PortForward', req, opts)).url;
  }

  getContainerEvents(opts: CallOptions = {}): AsyncIterable<cri.ContainerEventResponse> {
    return this.#stream('RuntimeService', 'GetContainerEvents', {}, opts);
  }

  // ---- ImageService -----------------------------------------------------------------

  async pullImage(image: string | Input<ImageSpec>, opts: CallOptions & { auth?: Input<cri.AuthConfig>; sandboxConfig?: Input<cri.PodSandboxConfig> } = {}): Promise<string> {
    const res = await this.call('ImageService', 'PullImage', { image: imageSpec(image), auth: opts.auth, sandboxConfig: opts.sandboxConfig }, {
      ...opts,
      timeoutMs: opts.timeoutMs ?? 0,
    });
    return res.imageRef;
  }

  async listImages(filter?: Input<cri.ImageFilter>, opts?: CallOptions): Promise<cri.Image[]> {
    return (await this.call('ImageService', 'ListImages', { filter }, opts)).images;
  }

  async imageStatus(image: string | Input<ImageSpec>, opts: CallOptions & { verbose?: boolean } = {}): Promise<cri.Image | undefined> {
    return (await this.call('ImageService', 'ImageStatus', { image: imageSpec(image), verbose: opts.verbose }, opts)).image;
  }

  async removeImage(image: string | Input<ImageSpec>, opts?: CallOptions): Promise<void> {
    await this.call('ImageService', 'RemoveImage', { image: imageSpec(image) }, opts);
  }

  imageFsInfo(opts?: CallOptions): Promise<cri.ImageFsInfoResponse> {
    return this.call('ImageService', 'ImageFsInfo', {}, opts);
  }
}

function toCriError(method: string, err: Partial<grpc.ServiceError>): CriError {
  const code = GRPC_CODES[err.code ?? 2] ?? 'Unknown';
  return new CriError(code, method, err.details || err.message || 'unknown error');
}

/**
 * Polls Version until the runtime answers (readiness: a socket that answers Version), or
 * rejects after `timeoutMs` with the last error. Never sleeps longer than `intervalMs`.
 */
export async function waitForRuntime(client: CriRuntime, opts: { timeoutMs?: number; intervalMs?: number; signal?: AbortSignal } = {}): Promise<cri.VersionResponse> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const interval = opts.intervalMs ?? 50;
  let last: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      return await client.version({ signal: opts.signal, timeoutMs: Math.max(200, Math.min(2000, deadline - Date.now())) });
    } catch (e) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      last = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`container runtime at ${client.endpoint} did not answer Version: ${(last as Error)?.message ?? last}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
