/**
 * WebSocket close codes. 1xxx are standard; 4xxx are Lectern's. The client's reaction is
 * what matters: reconnect or not, and with what.
 */
export const CLOSE_CODES = {
  /** Normal close. Client: stop. */
  normal: 1000,
  /** Server shutting down. Client: reconnect with backoff, resume with `since`. */
  going_away: 1001,
  /** Policy violation (binary frame, repeated abuse). Client: fix the client; do not loop. */
  policy_violation: 1008,
  /** Frame larger than the limit. Client: fix the client. */
  too_large: 1009,
  /** Internal error. Client: reconnect with backoff. */
  internal: 1011,
  /** Token expired or revoked. Client: get a new token, then reconnect. */
  token_expired: 4001,
  /** Too slow: the send buffer passed its limit. Client: reconnect, resume with `since`. */
  too_slow: 4008,
  /** Rate limit exceeded repeatedly. Client: back off, then reconnect. */
  rate_limited: 4029,
} as const;

export type CloseCodeName = keyof typeof CLOSE_CODES;
export type CloseCode = (typeof CLOSE_CODES)[CloseCodeName];

/** Whether a client should reconnect after this close code without user action. */
export function shouldReconnect(code: number): boolean {
  return code !== CLOSE_CODES.normal && code !== CLOSE_CODES.token_expired && code !== CLOSE_CODES.policy_violation && code !== CLOSE_CODES.too_large;
}
