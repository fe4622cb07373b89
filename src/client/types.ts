// The client boundary: how every component (controllers, scheduler, kubelets, proxy,
// dns) talks to the apiserver. Two transports implement it with the same semantics:
// HTTPS from a kubeconfig, and in-process (no socket) for components started in the
// apiserver's process. Errors are StatusError values carrying the server's Status.

import type { KObject } from '../api/object.ts';

/** A resource as the API names it: group ('' for core), version, plural. */
export interface ResourceRef {
  group: string;
  version: string;
  resource: string;
  namespaced: boolean;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
}

export interface WatchOptions {
  labelSelector?: string;
  fieldSelector?: string;
  resourceVersion?: string;
  allowWatchBookmarks?: boolean;
  timeoutSeconds?: number;
}

export interface ObjectList<T extends KObject = KObject> {
  apiVersion?: string;
  kind?: string;
  metadata: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
  items: T[];
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent<T extends KObject = KObject> {
  type: WatchEventType;
  /** For ERROR: a metav1.Status (cast as needed). */
  object: T;
}

export interface WriteOptions {
  dryRun?: boolean;
  /** Cancels the request (e.g. a lease renewal past its deadline). */
  signal?: AbortSignal;
  fieldManager?: string;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export interface PatchOptions extends WriteOptions {
  subresource?: string;
  /** Server-side apply only. */
  force?: boolean;
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  dryRun?: boolean;
  signal?: AbortSignal;
}

/**
 * The typed-by-table REST client. `namespace` is ignored for cluster-scoped resources.
 * Every method rejects with a StatusError (src/api/errors.ts) on a non-2xx answer and
 * honours `signal` where given.
 */
export interface Client {
  get<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, name: string, opts?: { signal?: AbortSignal; subresource?: string }): Promise<T>;
  list<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, opts?: ListOptions & { signal?: AbortSignal }): Promise<ObjectList<T>>;
  /** Events until the server ends the stream or `signal` aborts; ERROR events are yielded, not thrown. */
  watch<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, opts: WatchOptions & { signal: AbortSignal }): AsyncIterable<WatchEvent<T>>;
  create<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, obj: KObject, opts?: WriteOptions & { subresource?: string; name?: string }): Promise<T>;
  /** PUT of `obj` (name from obj.metadata.name); subresource 'status' or 'scale' writes only that part. */
  update<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, obj: KObject, opts?: WriteOptions & { subresource?: string }): Promise<T>;
  patch<T extends KObject = KObject>(res: ResourceRef, namespace: string | undefined, name: string, type: PatchType, patch: unknown, opts?: PatchOptions): Promise<T>;
  /** Resolves with the server's answer: the object (still present or as deleted) or a Status. */
  delete(res: ResourceRef, namespace: string | undefined, name: string, opts?: DeleteOptions): Promise<KObject>;
  deleteCollection(res: ResourceRef, namespace: string | undefined, opts?: ListOptions & DeleteOptions): Promise<void>;
}

/** The wire under a Client: one request, or one streaming request. */
export interface Transport {
  request(req: TransportRequest): Promise<TransportResponse>;
  /** The response body as it arrives, split into lines (watch streams). */
  stream(req: TransportRequest & { signal: AbortSignal }): Promise<{ status: number; lines: AsyncIterable<string> }>;
  close(): void;
}

export interface TransportRequest {
  method: string;
  /** Path and query, e.g. /api/v1/namespaces/default/pods?limit=500 */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface TransportResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}
