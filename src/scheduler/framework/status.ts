// Status: the outcome of a plugin at one extension point, as the scheduling framework's
// *Status. Success is `undefined` (a nil *Status upstream); every other outcome is a
// Status value. Reasons are the short texts the FailedScheduling event counts
// ("Insufficient cpu", "node(s) had untolerated taint {k: v}"); the plugin that
// produced a status is recorded so the queue knows which cluster events may help.

export type Code =
  /** Internal error: the attempt is retried with backoff, the pod is not "unschedulable". */
  | 'Error'
  /** Does not fit now; preemption may help. */
  | 'Unschedulable'
  /** Does not fit and preemption cannot help (e.g. a taint, a node selector). */
  | 'UnschedulableAndUnresolvable'
  /** Permit: wait (with a timeout) before binding. */
  | 'Wait'
  /** PreFilter/PreScore: this plugin has nothing to do for the pod; Bind: not my pod. */
  | 'Skip'
  /** PreEnqueue/Filter: waiting for something outside the scheduler. */
  | 'Pending';

export class Status {
  readonly code: Code;
  readonly reasons: readonly string[];
  plugin: string;
  /** Permit Wait only. */
  readonly timeoutMs: number;
  /** The underlying error for code Error. */
  readonly error: Error | undefined;

  constructor(code: Code, reasons: readonly string[] = [], opts: { plugin?: string; timeoutMs?: number; error?: Error } = {}) {
    this.code = code;
    this.reasons = reasons;
    this.plugin = opts.plugin ?? '';
    this.timeoutMs = opts.timeoutMs ?? 0;
    this.error = opts.error;
  }

  /** The reasons joined as upstream's Status.Message(). */
  get message(): string {
    return this.reasons.join(', ');
  }

  /** Unschedulable or UnschedulableAndUnresolvable. */
  isRejected(): boolean {
    return this.code === 'Unschedulable' || this.code === 'UnschedulableAndUnresolvable' || this.code === 'Pending';
  }

  withPlugin(name: string): this {
    this.plugin = name;
    return this;
  }

  toString(): string {
    return `${this.code}${this.plugin ? ` (${this.plugin})` : ''}: ${this.message}`;
  }
}

export function unschedulable(...reasons: string[]): Status {
  return new Status('Unschedulable', reasons);
}

export function unresolvable(...reasons: string[]): Status {
  return new Status('UnschedulableAndUnresolvable', reasons);
}

export function errorStatus(e: unknown): Status {
  const err = e instanceof Error ? e : new Error(String(e));
  return new Status('Error', [err.message], { error: err });
}

export const SKIP: Status = Object.freeze(new Status('Skip')) as Status;

export function skip(): Status {
  return new Status('Skip');
}

export function wait(timeoutMs: number): Status {
  return new Status('Wait', [], { timeoutMs });
}

export function isSuccess(s: Status | undefined): s is undefined {
  return s === undefined;
}

export function isRejected(s: Status | undefined): boolean {
  return s !== undefined && s.isRejected();
}

/** Highest score a Score plugin may return after normalization (framework.MaxNodeScore). */
export const MAX_NODE_SCORE = 100;
export const MIN_NODE_SCORE = 0;
