import type { Subjects } from './subjects.js';

/**
 * The bus: how gateways and room owners talk. One interface, two implementations
 * (`NatsBus` on NATS, `MemoryBus` in-process) that pass the same contract suite
 * (`bus.contract.ts`).
 *
 * Contract:
 * - `publish` is fire-and-forget, at-most-once. Messages from one publisher on one subject
 *   arrive at each subscriber in publish order. The bus copies `data` (or has sent it) before
 *   `publish` returns, so the caller may reuse its buffer.
 * - Delivery is asynchronous: a handler never runs inside the `publish` or `respond` that
 *   caused it.
 * - `subscribe` resolves once the subscription is registered with the server, so a message
 *   published (by anyone) after it resolves reaches the handler. Handlers are called one at a
 *   time per subscription, in arrival order. Subjects are NATS subjects: dot-separated tokens,
 *   `*` matches one token, `>` (last token only) matches one or more.
 * - `unsubscribe` is immediate: the handler is not called again, even for messages already
 *   on their way.
 * - A handler that throws does not stop its subscription: the error goes to
 *   `onHandlerError` and the next message is delivered as usual.
 * - Message `data` is read-only: several subscribers may see the same bytes.
 * - `request` sends one message and resolves with the first reply. It rejects with a
 *   `BusError`: `no_responders` at once when nobody subscribes to the subject, `timeout` when
 *   no reply came within `timeoutMs`, `closed` when the bus is closed (or closes while the
 *   request waits), `disconnected` when the connection dropped and the client gave the request
 *   up. A request may have been processed even when it timed out: callers make commands
 *   idempotent or answer `unavailable`.
 * - A queue group delivers each message to one member of the group. Members of one group are
 *   the subscriptions with the same queue name that match the subject.
 * - `close` drains: messages that reached this connection before `close` was called are
 *   handled, then the connection closes. Requests still waiting then reject with `closed`.
 *   After `close`, `publish` throws, and `subscribe`, `request` and `flush` reject, with
 *   `closed`; `respond` on a message becomes a no-op. `close` is idempotent.
 * - Invalid subjects (empty tokens, whitespace, wildcards in a publish) throw a `TypeError`:
 *   a programming error, not a bus condition.
 */
export interface BusMessage {
  readonly subject: string;
  /** Read-only view of the payload. */
  readonly data: Uint8Array;
  /**
   * Answer a request; a no-op for plain publishes, after the first answer reached a memory
   * requester, and once the bus is closed. May be called later, after the handler returned.
   */
  respond(data: Uint8Array): void;
}

export type BusHandler = (message: BusMessage) => void;

export interface Subscription {
  readonly subject: string;
  /** Stops delivery at once: messages already on their way to this subscriber are dropped. */
  unsubscribe(): void;
  /**
   * Stops delivery without dropping: nothing published after the server saw the drain
   * reaches the handler, but messages already on their way still do. Resolves once they were
   * handled. A shard hand-off needs this: a request already routed to the old owner must be
   * answered (the old owner says "moved"), not lost to a requester that waits for a timeout.
   */
  drain(): Promise<void>;
}

export interface SubscribeOptions {
  /** Queue group: each message goes to one member. */
  queue?: string;
}

export interface RequestOptions {
  timeoutMs: number;
}

/**
 * Connection events, for logs and readiness. `MemoryBus` only ever emits `closed`.
 * - `disconnected`: the connection dropped; the client buffers publishes and reconnects.
 * - `reconnecting`: one reconnect attempt is starting (repeats with backoff).
 * - `reconnected`: connected again; subscriptions have been re-sent to the server.
 * - `stale`: the server stopped answering pings; a reconnect follows.
 * - `lame_duck`: the server is shutting down; the client moves to another server.
 * - `error`: an asynchronous error from the server (e.g. a permission violation).
 * - `closed`: the bus is closed for good (after `close()`, or a fatal error in `error`).
 */
export type BusStatusType = 'disconnected' | 'reconnecting' | 'reconnected' | 'stale' | 'lame_duck' | 'error' | 'closed';

export interface BusStatus {
  readonly type: BusStatusType;
  /** The server concerned, where known (`host:port`). */
  readonly server?: string;
  readonly error?: Error;
}

export type BusStatusListener = (status: BusStatus) => void;

/** Where errors thrown by subscription handlers go (the subscription keeps running). */
export type HandlerErrorListener = (error: unknown, subject: string) => void;

/** Options every implementation takes. */
export interface BusOptions {
  /** Subject prefix, e.g. `rt` or `t42.rt` (tests and tenants get their own). */
  prefix?: string;
  /** Number of command shards (DESIGN.md §6). */
  shardCount?: number;
  /** Receives errors thrown by handlers. Default: `console.error`. */
  onHandlerError?: HandlerErrorListener;
}

export interface Bus {
  /** Subject names under this bus's prefix, e.g. `rt` or `t42.rt`. */
  readonly subjects: Subjects;
  publish(subject: string, data: Uint8Array): void;
  subscribe(subject: string, handler: BusHandler, options?: SubscribeOptions): Promise<Subscription>;
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Uint8Array>;
  /** Resolves when everything published so far has reached the server. */
  flush(): Promise<void>;
  /** Whether the bus is connected now (readiness). */
  isConnected(): boolean;
  /** Listen to connection events; returns a function that stops listening. */
  onStatus(listener: BusStatusListener): () => void;
  close(): Promise<void>;
}

/**
 * - `no_responders`: nobody subscribes to the subject. Retry after the owner appears.
 * - `timeout`: no answer in time; the request may still have been processed.
 * - `closed`: this bus is closed; retrying on it never helps.
 * - `disconnected`: the connection dropped; retry after `reconnected`.
 */
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

/** The default `onHandlerError`: a throwing handler is a bug, so say so loudly but keep going. */
export const logHandlerError: HandlerErrorListener = (error, subject) => {
  console.error(`[bus] handler for ${subject} threw; the subscription continues`, error);
};
