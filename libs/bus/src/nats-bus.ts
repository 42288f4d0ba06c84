/**
 * The bus on NATS core (nats.js v3). A thin adapter: callback subscriptions (no async
 * iterators on the hot path), the client's muxed inbox for requests (one wildcard inbox
 * subscription per connection, not one per request), and nats.js errors translated to
 * `BusError` codes once, here.
 *
 * nats.js queues a reference to the payload, not a copy, and writes it to the socket later
 * (on its next flush tick, or after a reconnect). The contract lets callers reuse a buffer once
 * `publish` returns, so every outgoing payload is copied here: one small allocation per message.
 */
import {
  connect,
  errors,
  type Msg,
  type NatsConnection,
  type NodeConnectionOptions,
  type Status,
} from '@nats-io/transport-node';
import {
  BusError,
  logHandlerError,
  type Bus,
  type BusHandler,
  type BusMessage,
  type BusOptions,
  type BusStatus,
  type BusStatusListener,
  type HandlerErrorListener,
  type RequestOptions,
  type SubscribeOptions,
  type Subscription,
} from './bus.js';
import { assertQueueName, assertSubject, assertTimeout } from './checks.js';
import { Subjects } from './subjects.js';

export const NATS_BUS_DEFAULTS = {
  prefix: 'rt',
  name: 'lectern',
  /** How long the first connection may take before `connectNatsBus` rejects. */
  connectTimeoutMs: 5_000,
  /** Base wait between reconnect attempts (the client adds jitter); attempts never stop. */
  reconnectTimeWaitMs: 2_000,
  reconnectJitterMs: 100,
  /**
   * The client's default is 2 minutes, so a silently dead server would keep readiness green
   * for 4; with 20 s and 2 pings outstanding a dead peer shows as `stale` within a minute.
   */
  pingIntervalMs: 20_000,
  maxPingOut: 2,
} as const;

export interface NatsBusOptions extends BusOptions {
  servers: string | string[];
  /** Connection name shown by the server's monitoring (e.g. `gateway-7f3a`). */
  name?: string;
  connectTimeoutMs?: number;
  reconnectTimeWaitMs?: number;
  reconnectJitterMs?: number;
  pingIntervalMs?: number;
  /** Keep trying the first connection instead of rejecting (for processes started before NATS). */
  waitOnFirstConnect?: boolean;
  /**
   * Capture the caller's stack for every request, so a timeout points at its caller. Off by
   * default: nats.js then builds two Error objects per request, which costs throughput.
   */
  asyncTraces?: boolean;
  /** Anything else for the client (TLS, credentials), passed as is; the bus's own options win. */
  connectionOptions?: Partial<NodeConnectionOptions>;
}

export interface NatsBus extends Bus {
  /** The server currently connected to (`host:port`), for logs. */
  server(): string;
}

export async function connectNatsBus(options: NatsBusOptions): Promise<NatsBus> {
  const servers = options.servers;
  let connection: NatsConnection;
  try {
    connection = await connect({
      ...options.connectionOptions,
      servers,
      name: options.name ?? NATS_BUS_DEFAULTS.name,
      timeout: options.connectTimeoutMs ?? NATS_BUS_DEFAULTS.connectTimeoutMs,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? NATS_BUS_DEFAULTS.reconnectTimeWaitMs,
      reconnectJitter: options.reconnectJitterMs ?? NATS_BUS_DEFAULTS.reconnectJitterMs,
      pingInterval: options.pingIntervalMs ?? NATS_BUS_DEFAULTS.pingIntervalMs,
      maxPingOut: NATS_BUS_DEFAULTS.maxPingOut,
      waitOnFirstConnect: options.waitOnFirstConnect ?? false,
      noAsyncTraces: !(options.asyncTraces ?? false),
    });
  } catch (error) {
    const where = Array.isArray(servers) ? servers.join(', ') : servers;
    throw new BusError(
      'disconnected',
      `cannot connect to NATS at ${where}: ${error instanceof Error ? error.message : String(error)}. ` +
        'Start NATS there, or point the bus at the right server',
      { cause: error },
    );
  }
  return new NatsBusImpl(connection, options);
}

/**
 * A received message. Wraps the nats.js `Msg` without copying: `data` is a view into the
 * socket read buffer, read-only by contract.
 */
class NatsBusMessage implements BusMessage {
  constructor(private readonly msg: Msg) {}

  get subject(): string {
    return this.msg.subject;
  }

  get data(): Uint8Array {
    return this.msg.data;
  }

  respond(data: Uint8Array): void {
    if (!this.msg.reply) return;
    try {
      this.msg.respond(data.slice());
    } catch (error) {
      // Room owners answer after their commit, possibly after the bus began closing. The
      // answer is then lost like any at-most-once message, and the requester times out.
      if (error instanceof errors.ClosedConnectionError || error instanceof errors.DrainingConnectionError) return;
      throw error;
    }
  }
}

class NatsBusImpl implements NatsBus {
  readonly subjects: Subjects;
  private readonly connection: NatsConnection;
  private readonly onHandlerError: HandlerErrorListener;
  private readonly statusListeners = new Set<BusStatusListener>();
  private connected = true;
  private closing: Promise<void> | undefined;

  constructor(connection: NatsConnection, options: NatsBusOptions) {
    this.connection = connection;
    this.subjects = new Subjects(options.prefix ?? NATS_BUS_DEFAULTS.prefix, options.shardCount);
    this.onHandlerError = options.onHandlerError ?? logHandlerError;
    void this.watchStatus();
    void connection.closed().then((error) => {
      this.connected = false;
      this.emit(error instanceof Error ? { type: 'closed', error } : { type: 'closed' });
    });
  }

  publish(subject: string, data: Uint8Array): void {
    this.assertOpen('publish');
    assertSubject(subject, false);
    try {
      this.connection.publish(subject, data.slice());
    } catch (error) {
      throw this.translate(error, subject);
    }
  }

  async subscribe(subject: string, handler: BusHandler, options: SubscribeOptions = {}): Promise<Subscription> {
    this.assertOpen('subscribe');
    assertSubject(subject, true);
    if (options.queue !== undefined) assertQueueName(options.queue);
    const report = (error: unknown, at: string) => {
      try {
        this.onHandlerError(error, at);
      } catch {
        // A failing error listener must not break the client's read loop.
      }
    };
    let subscription: ReturnType<NatsConnection['subscribe']>;
    try {
      subscription = this.connection.subscribe(subject, {
        ...(options.queue === undefined ? {} : { queue: options.queue }),
        // nats.js calls this from its socket read loop: an exception escaping it would end
        // the loop and silently stop all traffic on the connection, so nothing may escape.
        callback: (error, msg) => {
          if (error) {
            this.emit({ type: 'error', error });
            return;
          }
          try {
            handler(new NatsBusMessage(msg));
          } catch (handlerError) {
            report(handlerError, msg.subject);
          }
        },
      });
    } catch (error) {
      throw this.translate(error, subject);
    }
    try {
      // SUB is only queued locally; the round trip makes the contract's promise true: once
      // this resolves, anything published anywhere reaches the handler.
      await this.connection.flush();
    } catch (error) {
      unsubscribeQuietly(subscription);
      throw this.translate(error, subject);
    }
    return {
      subject,
      unsubscribe: () => unsubscribeQuietly(subscription),
      drain: async () => {
        try {
          await subscription.drain();
        } catch {
          // Closed with its connection (or already drained): nothing is left to deliver.
        }
      },
    };
  }

  async request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
    this.assertOpen('request');
    assertSubject(subject, false);
    assertTimeout(options.timeoutMs);
    try {
      const reply = await this.connection.request(subject, data.slice(), { timeout: options.timeoutMs });
      return reply.data;
    } catch (error) {
      throw this.translate(error, subject, options.timeoutMs);
    }
  }

  async flush(): Promise<void> {
    this.assertOpen('flush');
    try {
      await this.connection.flush();
    } catch (error) {
      throw this.translate(error, 'flush');
    }
  }

  isConnected(): boolean {
    return this.connected && this.closing === undefined && !this.connection.isClosed();
  }

  server(): string {
    return this.connection.getServer();
  }

  onStatus(listener: BusStatusListener): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  close(): Promise<void> {
    this.closing ??= this.drain();
    return this.closing;
  }

  private async drain(): Promise<void> {
    if (this.connection.isClosed()) return;
    try {
      // Drain: unsubscribe everything, handle what already arrived, flush, close. Requests
      // still waiting are rejected by the client with "connection closed" (→ `closed`).
      await this.connection.drain();
    } catch (error) {
      if (!(error instanceof errors.ClosedConnectionError)) throw error;
    }
    await this.connection.closed();
  }

  private async watchStatus(): Promise<void> {
    for await (const status of this.connection.status()) {
      const translated = this.translateStatus(status);
      if (translated) this.emit(translated);
    }
  }

  private translateStatus(status: Status): BusStatus | undefined {
    switch (status.type) {
      case 'disconnect':
        this.connected = false;
        return { type: 'disconnected', server: status.server };
      case 'reconnecting':
        return { type: 'reconnecting' };
      case 'reconnect':
        this.connected = true;
        return { type: 'reconnected', server: status.server };
      case 'staleConnection':
        return { type: 'stale' };
      case 'ldm':
        return { type: 'lame_duck', server: status.server };
      case 'error':
        return { type: 'error', error: status.error };
      default:
        // ping, cluster update, slow consumer (iterators only), force reconnect, close
        // (reported from `closed()` with its cause instead).
        return undefined;
    }
  }

  private emit(status: BusStatus): void {
    for (const listener of this.statusListeners) {
      try {
        listener(status);
      } catch {
        // Status listeners are for logs and readiness; one failing must not stop the others.
      }
    }
  }

  private isClosedOrClosing(): boolean {
    return this.closing !== undefined || this.connection.isClosed();
  }

  private assertOpen(operation: string): void {
    if (this.isClosedOrClosing()) throw new BusError('closed', `cannot ${operation}: the bus is closed`);
  }

  /**
   * nats.js v3 errors → BusError. How they surface (nats-core 3.x):
   * - timeout: `TimeoutError` itself (not wrapped);
   * - no responders: `RequestError` whose `cause` is a `NoRespondersError` (`isNoResponders()`);
   * - closed: `ClosedConnectionError`/`DrainingConnectionError` when called after close, or
   *   `RequestError("connection closed")` for requests pending when the connection closed;
   * - disconnected: `RequestError("connection disconnected")` for a flush pending when the
   *   socket dropped.
   * The two `RequestError`s differ only in message text, so we use our own state instead.
   */
  private translate(error: unknown, subject: string, timeoutMs?: number): unknown {
    if (error instanceof BusError) return error;
    if (error instanceof errors.TimeoutError) {
      return new BusError('timeout', `no answer on ${subject} within ${timeoutMs ?? '?'} ms`, { cause: error });
    }
    if (
      error instanceof errors.NoRespondersError ||
      (error instanceof errors.RequestError && error.isNoResponders())
    ) {
      return new BusError('no_responders', `no subscriber for ${subject}`, { cause: error });
    }
    if (
      this.isClosedOrClosing() ||
      error instanceof errors.ClosedConnectionError ||
      error instanceof errors.DrainingConnectionError
    ) {
      return new BusError('closed', `the bus closed (${subject})`, { cause: error });
    }
    if (error instanceof errors.RequestError && error.cause === undefined) {
      return new BusError('disconnected', `the connection to NATS dropped (${subject})`, { cause: error });
    }
    return error;
  }
}

function unsubscribeQuietly(subscription: { unsubscribe(): void }): void {
  try {
    subscription.unsubscribe();
  } catch {
    // Already closed with its connection: there is nothing left to stop.
  }
}
