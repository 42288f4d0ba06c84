/** Reconnection policy: exponential backoff with full jitter. */
export interface BackoffOptions {
  /** Delay ceiling of the first retry, in ms. */
  baseMs: number;
  /** Largest delay ceiling, in ms. */
  capMs: number;
  /** Attempts before giving up (state `closed`); `Infinity` never gives up. */
  maxAttempts: number;
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({ baseMs: 500, capMs: 15_000, maxAttempts: Infinity });

/**
 * The delay before retry number `attempt` (1-based): uniform in [0, min(cap, base·2^(attempt-1))).
 * Full jitter spreads a crowd of clients that lost the same server, so the restarted server
 * is not hit by all of them in the same millisecond.
 */
export function backoffDelay(attempt: number, options: Pick<BackoffOptions, 'baseMs' | 'capMs'>, random: () => number = Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}
