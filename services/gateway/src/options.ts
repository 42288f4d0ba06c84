import { DEFAULT_HEARTBEAT_MS, DEFAULT_LIMITS, type Limits } from '@lectern/protocol';

/** Every limit of the gateway in one place; `config.ts` maps the environment onto these. */
export interface GatewayOptions {
  host: string;
  port: number;
  /** This process' id on the bus: part of every connection id, and its lease name. */
  gatewayId: string;
  limits: Limits;
  heartbeatMs: number;
  /** Allowed `Origin` values; empty = any origin. */
  allowedOrigins: readonly string[];
  maxConnections: number;
  /** A socket whose unsent data passes this is closed with 4008 (too slow). */
  sendBufferLimitBytes: number;
  /** How long a command waits for the room owner's answer. */
  requestTimeoutMs: number;
  /** A command that finds no owner is retried this many times (`noOwnerRetryDelayMs`) before `unavailable`. */
  noOwnerRetries: number;
  /** Rate-limited frames within `abuseWindowMs` after which the socket is closed with 4029. */
  abuseLimit: number;
  abuseWindowMs: number;
  /** Retry-After (s) for 503 answers at upgrade. */
  retryAfterSeconds: number;
  /** Lease announcements on the bus (DESIGN.md §7: every 2 s; rooms expire a gateway after 10 s). */
  announceMs: number;
}

export const DEFAULT_GATEWAY_OPTIONS: Readonly<GatewayOptions> = Object.freeze({
  host: '0.0.0.0',
  port: 5000,
  gatewayId: 'gw',
  limits: DEFAULT_LIMITS,
  heartbeatMs: DEFAULT_HEARTBEAT_MS,
  allowedOrigins: [],
  maxConnections: 100_000,
  sendBufferLimitBytes: 1024 * 1024,
  requestTimeoutMs: 5000,
  noOwnerRetries: 10,
  abuseLimit: 50,
  abuseWindowMs: 10_000,
  retryAfterSeconds: 5,
  announceMs: 2000,
});
