// The storage boundary: an etcd v3-shaped key-value store with one global revision.
//
// Every implementation (sqlite.ts, later etcd.ts) must pass conformance.ts. The
// apiserver uses exactly these operations and nothing else, so the shapes stay narrow:
// every mutation is guarded (create-if-absent, update/delete at an expected
// modRevision) and every call reports the store revision it observed.
//
// Values are opaque strings (the apiserver stores JSON). Keys are '/'-separated paths
// such as /registry/pods/default/web-1; a prefix given to range/watch is matched
// byte-wise, so callers end prefixes with '/'.

export interface KeyValue {
  key: string;
  value: string;
  /** Revision at which this key was created (survives updates, reset by delete+create). */
  createRevision: number;
  /** Revision of the last write to this key; becomes metadata.resourceVersion. */
  modRevision: number;
}

export interface RangeOptions {
  /** Stop after this many keys (0 or absent = no limit). */
  limit?: number;
  /** Start at this key (inclusive) instead of the prefix start: the continue token. */
  startKey?: string;
  /** Read the state as of this past revision; absent or 0 = current. */
  revision?: number;
}

export interface RangeResult {
  kvs: KeyValue[];
  /** True when more keys under the prefix follow the last one returned. */
  more: boolean;
  /** Number of keys under the prefix (at the read revision) not returned yet after the page. */
  remaining: number;
  /** The revision the read was served at. */
  revision: number;
}

/** Outcome of a guarded write. `ok: false` carries the current value when there is one. */
export type WriteResult =
  | { ok: true; revision: number; kv: KeyValue }
  | { ok: false; revision: number; current?: KeyValue };

export type DeleteResult =
  | { ok: true; revision: number; prev: KeyValue }
  | { ok: false; revision: number; current?: KeyValue };

export interface WatchEvent {
  type: 'PUT' | 'DELETE';
  /**
   * For PUT: the new value. For DELETE: key with empty value, createRevision 0 and
   * modRevision = the delete revision (etcd's shape).
   */
  kv: KeyValue;
  /** The value before this event, when there was one. */
  prev?: KeyValue;
}

export interface WatchOptions {
  /** Deliver events with revision > afterRevision (0 = only future events). */
  afterRevision: number;
  signal: AbortSignal;
}

export class CompactedError extends Error {
  readonly compactRevision: number;
  readonly requestedRevision: number;
  constructor(requested: number, compacted: number) {
    super(`required revision ${requested} has been compacted (compacted through ${compacted})`);
    this.name = 'CompactedError';
    this.requestedRevision = requested;
    this.compactRevision = compacted;
  }
}

export class FutureRevisionError extends Error {
  constructor(requested: number, current: number) {
    super(`required revision ${requested} is a future revision (current ${current})`);
    this.name = 'FutureRevisionError';
  }
}

export interface Store {
  /** The current key at `key`, optionally as of a past revision. */
  get(key: string, opts?: { revision?: number }): Promise<{ kv?: KeyValue; revision: number }>;

  /** Keys under `prefix` in key order. Throws CompactedError for a compacted revision. */
  range(prefix: string, opts?: RangeOptions): Promise<RangeResult>;

  /** Create `key` only when it does not exist. */
  create(key: string, value: string): Promise<WriteResult>;

  /** Replace `key` only when its modRevision equals `expectedModRevision`. */
  update(key: string, value: string, expectedModRevision: number): Promise<WriteResult>;

  /** Delete `key`; when expectedModRevision is given, only if it still matches. */
  delete(key: string, expectedModRevision?: number): Promise<DeleteResult>;

  /**
   * Calls `onEvents` with every change under `prefix`, in revision order, starting after
   * `afterRevision`. Events of one revision arrive together; one call may carry several
   * revisions. Rejects with CompactedError when afterRevision is older than the
   * compacted revision (afterRevision == compacted is served) and with
   * FutureRevisionError when it is newer than the current revision. Resolves once
   * history up to the current revision is queued. Delivery stops when `signal` aborts
   * or the store closes; an already-aborted signal delivers nothing.
   *
   * Callbacks are never invoked inside the call to a store method, should be cheap
   * (append to a buffer) and must treat the events as read-only. A callback that throws
   * cannot break the store or other watchers. Whether a write's promise resolves before
   * or after watchers see its event is up to the implementation (sqlite: watchers
   * first; etcd: either), so code that needs its own write in a watch-fed cache must
   * wait for the write's revision there.
   */
  watch(prefix: string, opts: WatchOptions, onEvents: (events: WatchEvent[]) => void): Promise<void>;

  /**
   * Drop history older than `revision` (the state at `revision` and after is kept).
   * Afterwards reads below `revision` reject with CompactedError. FutureRevisionError
   * beyond the current revision; a revision at or below the compacted one is a no-op.
   */
  compact(revision: number): Promise<void>;

  /** The latest revision and the compacted revision. */
  currentRevision(): Promise<number>;
  compactedRevision(): Promise<number>;

  /** Lets writes already issued finish, then closes; later calls reject. Idempotent. */
  close(): Promise<void>;
}
