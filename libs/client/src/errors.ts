import type { ErrorFrame } from '@lectern/protocol';

/**
 * Codes of failures the client reports on its own, next to the server's error codes
 * (`bad_request`, `room_closed`, `unavailable`, ... from PROTOCOL.md §4).
 */
export type ClientErrorCode =
  /** The socket closed before the answer came. */
  | 'disconnected'
  /** No answer within `requestTimeoutMs`. */
  | 'timeout'
  /** The outgoing queue was full and this message, the oldest, was dropped. */
  | 'queue_full'
  /** The client was closed for good (`close()`), or the room was left. */
  | 'closed';

/** A failed request: a server `error` answer or a client-side failure, told apart by `code`. */
export class LecternClientError extends Error {
  readonly code: string;
  readonly retryAfterMs: number | undefined;
  readonly room: string | undefined;
  constructor(code: string, message: string, options: { retryAfterMs?: number; room?: string } = {}) {
    super(message);
    this.name = 'LecternClientError';
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
    this.room = options.room;
  }

  static fromFrame(frame: ErrorFrame): LecternClientError {
    return new LecternClientError(frame.code, frame.message, {
      ...(frame.retryAfterMs !== undefined ? { retryAfterMs: frame.retryAfterMs } : {}),
      ...(frame.room !== undefined ? { room: frame.room } : {}),
    });
  }
}

export function isLecternClientError(err: unknown, code?: string): err is LecternClientError {
  return err instanceof LecternClientError && (code === undefined || err.code === code);
}

/** Server codes after which resending the same frame later can succeed (PROTOCOL.md §4). */
export function isRetryableCode(code: string): boolean {
  return code === 'unavailable' || code === 'rate_limited' || code === 'internal' || code === 'timeout' || code === 'disconnected';
}
