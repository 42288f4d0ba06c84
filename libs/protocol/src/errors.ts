/**
 * The error catalogue: stable codes shared by server and clients. Check errors by code
 * (`isLecternError(err, 'unavailable')`), never by message text.
 */
export const ERROR_CODES = {
  /** The frame or request is malformed or breaks a rule. Retrying the same input fails again. */
  bad_request: { status: 400, retry: false },
  /** The frame's `type` is not part of the protocol. */
  unknown_type: { status: 400, retry: false },
  /** The frame or body is larger than the limit. */
  too_large: { status: 413, retry: false },
  /** No valid token: missing, bad signature, expired, wrong issuer/audience. Get a new token. */
  unauthorized: { status: 401, retry: false },
  /** The token is valid but does not allow this (role or room pattern). */
  forbidden: { status: 403, retry: false },
  /** The Origin header is not in the allow-list. */
  forbidden_origin: { status: 403, retry: false },
  /** The connection must join the room first. */
  not_joined: { status: 409, retry: false },
  /** The room's session has ended: no more chat. */
  room_closed: { status: 409, retry: false },
  /** Too many requests; wait `retryAfterMs`. */
  rate_limited: { status: 429, retry: true },
  /** The connection is already in the maximum number of rooms. */
  too_many_rooms: { status: 409, retry: false },
  /** A backend is down or the room is moving between hosts. Retry later with backoff. */
  unavailable: { status: 503, retry: true },
  /** No such route or resource (HTTP). */
  not_found: { status: 404, retry: false },
  /** The HTTP method is not allowed on this route. */
  method_not_allowed: { status: 405, retry: false },
  /** A bug on the server; it is logged with a correlation id. Retry may help. */
  internal: { status: 500, retry: true },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CODES, value);
}

/** An expected failure with a stable code; translated to the wire once, at the edge. */
export class LecternError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterMs: number | undefined;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryAfterMs?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LecternError';
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
  }
}

export function isLecternError(err: unknown, code?: ErrorCode): err is LecternError {
  return err instanceof LecternError && (code === undefined || err.code === code);
}
