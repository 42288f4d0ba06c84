/**
 * An NDJSON response on uWS with backpressure: `write` resolves once the chunk is handed to
 * uWS and, when uWS had to buffer part of it (`res.write` returned false), once the socket
 * drained (`onWritable`). A writer that awaits every `write` therefore holds at most one chunk
 * in memory, however slow the client. After the client went away (`onAborted`) every write
 * resolves `false` at once and the response is never touched again.
 */
import { statusLine } from './http-responses.js';
import type { HttpResponse } from './uws.js';

export class NdjsonStream {
  #aborted = false;
  #ended = false;
  #started = false;
  #waiting: ((writable: boolean) => void) | undefined;
  readonly #closeListeners: (() => void)[] = [];

  constructor(private readonly res: HttpResponse) {
    res.onAborted(() => {
      this.#aborted = true;
      this.#closed();
    });
    res.onWritable(() => {
      this.#wake(true);
      // Everything was already handed to uWS by `write`; nothing to retry here.
      return true;
    });
  }

  /** True once the client went away or the response ended: stop producing. */
  get closed(): boolean {
    return this.#aborted || this.#ended;
  }

  get started(): boolean {
    return this.#started;
  }

  /** Called once when the response closes: the client went away, or we ended or cut it. */
  onClose(listener: () => void): void {
    if (this.closed) listener();
    else this.#closeListeners.push(listener);
  }

  /** True when the client went away (as opposed to us ending the response). */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Sends the status line and headers; the body follows with chunked encoding. */
  start(status = 200, headers: Record<string, string> = {}): void {
    if (this.closed || this.#started) return;
    this.#started = true;
    this.res.cork(() => {
      this.res.writeStatus(statusLine(status)).writeHeader('content-type', 'application/x-ndjson');
      for (const [name, value] of Object.entries(headers)) this.res.writeHeader(name, value);
    });
  }

  /** Writes one chunk (whole lines). Resolves true when more may be written, false when closed. */
  write(chunk: string | Uint8Array): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (!this.#started) this.start();
    let flushed = true;
    this.res.cork(() => {
      flushed = this.res.write(chunk);
    });
    if (flushed) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  /** Ends the body (the zero-length chunk). Safe to call twice or after an abort. */
  end(): void {
    if (this.closed) return;
    this.#ended = true;
    this.#closed();
    this.res.cork(() => {
      if (!this.#started) this.res.writeStatus(statusLine(200)).writeHeader('content-type', 'application/x-ndjson');
      this.res.end();
    });
  }

  /** Cuts the connection: for a stream that failed after its 200 was sent (no way to say so). */
  destroy(): void {
    if (this.closed) return;
    this.#ended = true;
    this.#closed();
    this.res.close();
  }

  #closed(): void {
    this.#wake(false);
    for (const listener of this.#closeListeners.splice(0)) listener();
  }

  #wake(writable: boolean): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(writable);
  }
}
