// The kubelet's boundary to a container runtime: CRI v1's RuntimeService and ImageService
// (k8s.io/cri-api), as the kubelet's kuberuntime uses them, with Kubernetes' names.
// One implementation talks gRPC to containerd (client.ts); others (a fake for unit tests)
// implement the same interfaces.
//
// Conventions: requests take `Input<T>` (every field optional, as on the wire); answers
// are decoded messages (see generated/types.ts). Every call takes an AbortSignal and a
// deadline; a runtime error rejects with CriError carrying the gRPC status, an aborted call
// rejects with the signal's reason.

import type {
  ContainerEventResponse,
  ContainerFilter,
  Container,
  ContainerStatusResponse,
  CriMethods,
  ImageFilter,
  Image,
  ImageFsInfoResponse,
  ImageSpec,
  AuthConfig,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxStatusResponse,
  StatusResponse,
  VersionResponse,
  CreateContainerRequest,
  ExecRequest,
  AttachRequest,
  PortForwardRequest,
} from './generated/types.ts';

export type * from './generated/types.ts';

/** A request message: every field optional (proto3 sends defaults as absence). */
export type Input<T> = T extends Uint8Array
  ? Uint8Array
  : T extends (infer U)[]
    ? Input<U>[]
    : T extends object
      ? { [K in keyof T]?: Input<T[K]> }
      : T;

export interface CallOptions {
  signal?: AbortSignal;
  /** Deadline for this call; the client's default (2 min, the kubelet's runtime request timeout) otherwise. */
  timeoutMs?: number;
}

/** gRPC status codes by name (grpc/grpc doc/statuscodes.md). */
export const GRPC_CODES = [
  'OK', 'Cancelled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists',
  'PermissionDenied', 'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange',
  'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated',
] as const;
export type GrpcCode = (typeof GRPC_CODES)[number];

/** A runtime answered with an error status (or could not be reached: Unavailable). */
export class CriError extends Error {
  readonly code: GrpcCode;
  readonly method: string;
  readonly details: string;
  constructor(code: GrpcCode, method: string, details: string) {
    super(`${method}: ${code}: ${details}`);
    this.name = 'CriError';
    this.code = code;
    this.method = method;
    this.details = details;
  }
}

export function isNotFound(e: unknown): boolean {
  return e instanceof CriError && e.code === 'NotFound';
}

export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

export interface RuntimeService {
  version(opts?: CallOptions): Promise<VersionResponse>;
  /** Runtime conditions (RuntimeReady, NetworkReady). */
  status(opts?: CallOptions & { verbose?: boolean }): Promise<StatusResponse>;

  /** Creates and starts a sandbox; returns its id. Idempotent per metadata (name, namespace, uid, attempt) in containerd. */
  runPodSandbox(config: Input<PodSandboxConfig>, opts?: CallOptions & { runtimeHandler?: string }): Promise<string>;
  /** Stops every container of the sandbox and tears its network down. Idempotent. */
  stopPodSandbox(podSandboxId: string, opts?: CallOptions): Promise<void>;
  /** Removes a sandbox and its containers. Idempotent: a missing sandbox is not an error. */
  removePodSandbox(podSandboxId: string, opts?: CallOptions): Promise<void>;
  podSandboxStatus(podSandboxId: string, opts?: CallOptions & { verbose?: boolean }): Promise<PodSandboxStatusResponse>;
  listPodSandbox(filter?: Input<PodSandboxFilter>, opts?: CallOptions): Promise<PodSandbox[]>;

  /** Creates a container in a sandbox; returns its id. */
  createContainer(req: Input<CreateContainerRequest>, opts?: CallOptions): Promise<string>;
  startContainer(containerId: string, opts?: CallOptions): Promise<void>;
  /** SIGTERM (or the image's stop signal), then SIGKILL after `timeout` seconds. The call's deadline is timeout + the default. */
  stopContainer(containerId: string, opts?: CallOptions & { timeout?: number }): Promise<void>;
  removeContainer(containerId: string, opts?: CallOptions): Promise<void>;
  listContainers(filter?: Input<ContainerFilter>, opts?: CallOptions): Promise<Container[]>;
  containerStatus(containerId: string, opts?: CallOptions & { verbose?: boolean }): Promise<ContainerStatusResponse>;

  /** Runs a command in a container and waits for it; `timeout` in seconds (0: none). */
  execSync(containerId: string, opts: CallOptions & { cmd: string[]; timeout?: number }): Promise<ExecSyncResult>;
  /** The runtime's streaming-server URL for an exec session. */
  exec(req: Input<ExecRequest>, opts?: CallOptions): Promise<string>;
  attach(req: Input<AttachRequest>, opts?: CallOptions): Promise<string>;
  portForward(req: Input<PortForwardRequest>, opts?: CallOptions): Promise<string>;

  /** Container lifecycle events (server stream); ends when the signal aborts. */
  getContainerEvents(opts?: CallOptions): AsyncIterable<ContainerEventResponse>;
}

export interface ImageService {
  /** Pulls an image; returns the image reference (digest) the runtime stored. No default deadline. */
  pullImage(image: string | Input<ImageSpec>, opts?: CallOptions & { auth?: Input<AuthConfig>; sandboxConfig?: Input<PodSandboxConfig> }): Promise<string>;
  listImages(filter?: Input<ImageFilter>, opts?: CallOptions): Promise<Image[]>;
  /** The image, or undefined when the runtime does not have it. */
  imageStatus(image: string | Input<ImageSpec>, opts?: CallOptions & { verbose?: boolean }): Promise<Image | undefined>;
  /** Removes an image. Idempotent. */
  removeImage(image: string | Input<ImageSpec>, opts?: CallOptions): Promise<void>;
  imageFsInfo(opts?: CallOptions): Promise<ImageFsInfoResponse>;
}

/** Both services on one runtime endpoint, plus any RPC by name for what the facade lacks. */
export interface CriRuntime extends RuntimeService, ImageService {
  readonly endpoint: string;
  call<S extends keyof CriMethods, M extends keyof CriMethods[S] & string>(
    service: S,
    method: M,
    req: Input<CriMethods[S][M] extends { request: infer Q } ? Q : never>,
    opts?: CallOptions,
  ): Promise<CriMethods[S][M] extends { response: infer R } ? R : never>;
  close(): void;
}
