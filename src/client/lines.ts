// A push-fed async iterable of text lines: the body of a watch as it arrives, split on
// '\n'. Producers push chunks and end it; the consumer iterates. A partial last line
// (a stream cut mid-event) is dropped, as a JSON decoder would fail on it.

export interface LineQueueOptions {
  /** Called when more than `highWater` lines wait unread (pause the source)… */
  onFull?: () => void;
  /** …and when the reader has caught up again (resume it). */
  onDrain?: () => void;
  highWater?: number;
  /** Called once when the reader stops early (break/return) or the queue ends. */
  onClose?: () => void;
}

export class LineQueue implements AsyncIterable<string> {
  private readonly lines: string[] = [];
  private head = 0;
  private partial = '';
  private ended = false;
  private full = false;
  private closed = false;
  private waiter: (() => void) | undefined;
  private readonly opts: LineQueueOptions;

  constructor(opts: LineQueueOptions = {}) {
    this.opts = opts;
  }

  push(chunk: string): void {
    if (this.ended) return;
    let text = this.partial + chunk;
    let nl = text.indexOf('\n');
    if (nl < 0) {
      this.partial = text;
      return;
    }
    while (nl >= 0) {
      this.lines.push(text.slice(0, nl));
      text = text.slice(nl + 1);
      nl = text.indexOf('\n');
    }
    this.partial = text;
    if (!this.full && this.lines.length - this.head > (this.opts.highWater ?? 1000)) {
      this.full = true;
      this.opts.onFull?.();
    }
    this.wake();
  }

  /** No more lines will come. A complete body without a trailing newline keeps its last line. */
  end(opts: { keepPartial?: boolean } = {}): void {
    if (this.ended) return;
    if (opts.keepPartial && this.partial !== '') this.lines.push(this.partial);
    this.partial = '';
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.opts.onClose?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    try {
      for (;;) {
        if (this.head < this.lines.length) {
          const line = this.lines[this.head];
          this.lines[this.head++] = '';
          if (this.head > 1024 && this.head * 2 > this.lines.length) {
            this.lines.splice(0, this.head);
            this.head = 0;
          }
          if (this.full && this.lines.length - this.head <= (this.opts.highWater ?? 1000) / 2) {
            this.full = false;
            this.opts.onDrain?.();
          }
          yield line;
          continue;
        }
        if (this.ended) return;
        await new Promise<void>((r) => (this.waiter = r));
      }
    } finally {
      this.close();
    }
  }
}
