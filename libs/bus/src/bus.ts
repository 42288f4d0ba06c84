/**
 * The bus: how gateways and room owners talk. One interface, two implementations
 * (`NatsBus` on NATS, `MemoryBus` in-process) that pass the same contract suite.
 *
 * Contract:
 * - `publish` is fire-and-forget, at-most-once. Messages from one publisher on one subject
 *   arrive at each subscriber in publish order.
 * - `subscribe` resolves once the subscription is registered with the server, so a message
 *   published (by anyone) after it resolves reaches the handler. Handlers are called one at a
 *   time per subscription, in arrival order.
 * - `request` sends one message and resolves with the first reply. It rejects with a
 *   `BusError`: `no_responders` at once when nobody subscribes to the subject, `timeout` when
 *   no reply came within `timeoutMs`, `closed` when the bus is closed. A request may have been
 *   processed even when it timed out: callers make commands idempotent or answer `unavailable`.
 * - A queue group delivers each message to one member of the group.
 * - `close` drains: pending handlers finish, then the connection closes.
 */
export interface BusMessage {
  readonly subject: string;
  readonly data: Uint8Array;
  /** Answer a request; a no-op for plain publishes. */
  respond(data: Uint8Array): void;
}

export type BusHandler = (message: BusMessage) => void;

export interface Subscription {
  readonly subject: string;
  unsubscribe(): void;
}

export interface SubscribeOptions {
  /** Queue group: each message goes to one member. */
  queue?: string;
}

export interface RequestOptions {
  timeoutMs: number;
}

export interface Bus {
  /** Subject prefix of this bus (for isolation of tests and tenants), e.g. `rt` or `t42.rt`. */
  readonly subjects: Subjects;
  publish(subject: string, data: Uint8Array): void;
  subscribe(subject: string, handler: BusHandler, options?: SubscribeOptions): Promise<Subscription>;
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Uint8Array>;
  /** Resolves when everything published so far has reached the server. */
  flush(): Promise<void>;
  /** Whether the bus is connected now (readiness). */
  isConnected(): boolean;
  close(): Promise<void>;
}

export type BusErrorCode = 'no_responders' | 'timeout' | 'closed' | 'disconnected';

export class BusError extends Error {
  readonly code: BusErrorCode;
  constructor(code: BusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BusError';
    this.code = code;
  }
}

export function isBusError(err: unknown, code?: BusErrorCode): err is BusError {
  return err instanceof BusError && (code === undefined || err.code === code);
}

import type { Subjects } from './subjects.js';
