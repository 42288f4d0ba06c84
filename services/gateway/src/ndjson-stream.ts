/**
 * An NDJSON response on uWS with backpressure. `write` hands a chunk to uWS in slices of
 * `SLICE_BYTES`; when uWS has to buffer a slice (`res.write` returned false: the socket is
 * full) the rest waits for `onWritable`, and `write` resolves once every slice went out. uWS
 * copies whatever the socket does not take into a buffer of its own, so writing a whole page at
 * once would copy most of it there for a slow client; in slices uWS holds at most about two,
 * and a writer that awaits every `write` holds one chunk besides, however slow the client.
 * After the client went away (`onAborted`) every write resolves `false` at once and the
 * response is never touched again.
 */
import { statusLine } from './http-responses.js';
import type { HttpResponse } from './uws.js';

/** Bytes handed to uWS per `res.write`: big enough that the syscalls per page are few, small enough to bound uWS's copy. */
export const SLICE_BYTES = 256 * 1024;

export class NdjsonStream {
  #aborted = false;
  #ended = false;
  #started = false;
  #waiting: ((writable: boolean) => void) | undefined;
  /** The chunk being written and how much of it uWS has taken. */
  #pending: Uint8Array | undefined;
  #offset = 0;
  readonly #closeListeners: (() => void)[] = [];

  constructor(private readonly res: HttpResponse) {
    res.onAborted(() => {
      this.#aborted = true;
      this.#pending = undefined;
      this.#closed();
    });
    res.onWritable(() => {
      // Continue the chunk from here: writing inside the callback keeps the socket draining.
      if (!this.closed && this.#drain()) this.#wake(true);
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

  /**
   * Writes one chunk (whole lines). Resolves true when it is all handed to uWS and more may be
   * written, false when closed. Await it before the next `write`.
   */
  write(chunk: string | Uint8Array): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    if (!this.#started) this.start();
    this.#pending = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    this.#offset = 0;
    if (this.#drain()) return Promise.resolve(true);
    return new Promise((resolve) => {
      this.#waiting = resolve;
    });
  }

  /**
   * Hands slices of the pending chunk to uWS until it is all taken or the socket is full. True
   * when done: all taken and the socket took the last slice (else `onWritable` says when).
   */
  #drain(): boolean {
    const chunk = this.#pending;
    if (chunk === undefined) return true;
    let full = false;
    this.res.cork(() => {
      while (this.#offset < chunk.byteLength && !full) {
        const end = Math.min(this.#offset + SLICE_BYTES, chunk.byteLength);
        full = !this.res.write(this.#offset === 0 && end === chunk.byteLength ? chunk : chunk.subarray(this.#offset, end));
        this.#offset = end;
      }
    });
    if (this.#offset < chunk.byteLength || full) {
      // Everything taken but the socket is full: done once it is writable again.
      if (this.#offset >= chunk.byteLength) this.#pending = undefined;
      return false;
    }
    this.#pending = undefined;
    return true;
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
    this.#pending = undefined;
    this.#wake(false);
    for (const listener of this.#closeListeners.splice(0)) listener();
  }

  #wake(writable: boolean): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(writable);
  }
}
