/**
 * The in-process bus: what `npm start` uses when NATS_URL is unset, and what tests use when
 * NATS is away. It keeps the semantics of NATS core (see the contract in `bus.ts`) so code
 * that works here works on NATS: wildcard subjects, queue groups, request/reply with
 * no-responders, and asynchronous delivery.
 *
 * One `MemoryBroker` plays the server; each `connect()` is a client connection with its own
 * subscriptions, requests and close. A gateway and a rooms host in one process each get their
 * own connection on a shared broker.
 */
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
import { SubjectTrie } from './subject-trie.js';
import { assertQueueName, assertSubject, assertTimeout } from './checks.js';
import { Subjects } from './subjects.js';

export const MEMORY_BUS_DEFAULTS = {
  prefix: 'rt',
  /**
   * Deliveries per turn before yielding to the event loop with `setImmediate`. Delivery runs
   * in a microtask for latency; the cap keeps a burst (or two handlers bouncing messages)
   * from starving sockets and timers.
   */
  deliveryBatch: 1024,
} as const;

export interface MemoryBroker {
  /** A new connection to this broker. */
  connect(options?: BusOptions): MemoryBus;
}

export interface MemoryBus extends Bus {
  readonly broker: MemoryBroker;
}

export function createMemoryBroker(): MemoryBroker {
  return new Broker();
}

/** A fresh broker with one connection: for code that talks only to itself. */
export function createMemoryBus(options: BusOptions = {}): MemoryBus {
  return createMemoryBroker().connect(options);
}

type SubscriptionState = 'active' | 'draining' | 'closed';

interface SubscriptionRecord {
  readonly connection: Connection;
  readonly pattern: string;
  readonly queue: string | undefined;
  readonly handler: BusHandler;
  state: SubscriptionState;
}

interface Delivery {
  readonly subscription: SubscriptionRecord;
  readonly message: BusMessage;
}

class PendingRequest {
  private settled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly owner: Connection,
    private readonly resolve: (data: Uint8Array) => void,
    private readonly reject: (error: BusError) => void,
  ) {}

  startTimer(subject: string, timeoutMs: number): void {
    this.timer = setTimeout(() => {
      this.fail(new BusError('timeout', `no answer on ${subject} within ${timeoutMs} ms`));
    }, timeoutMs);
  }

  answer(data: Uint8Array): void {
    if (this.settled) return;
    this.finish();
    this.resolve(data.slice());
  }

  fail(error: BusError): void {
    if (this.settled) return;
    this.finish();
    this.reject(error);
  }

  private finish(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.owner.pendingRequests.delete(this);
  }
}

class MemoryMessage implements BusMessage {
  constructor(
    readonly subject: string,
    readonly data: Uint8Array,
    private readonly receiver: Connection,
    private readonly request: PendingRequest | undefined,
  ) {}

  respond(data: Uint8Array): void {
    if (this.request === undefined || this.receiver.state === 'closed') return;
    this.request.answer(data);
  }
}

class Broker implements MemoryBroker {
  private readonly trie = new SubjectTrie<SubscriptionRecord>();
  /** Next member index per queue group name. */
  private readonly roundRobin = new Map<string, number>();
  private deliveries: (Delivery | undefined)[] = [];
  private head = 0;
  private scheduled = false;
  private enqueued = 0;
  private delivered = 0;
  private settleWaiters: { position: number; resolve: () => void }[] = [];

  connect(options: BusOptions = {}): MemoryBus {
    return new Connection(this, options);
  }

  add(record: SubscriptionRecord): void {
    this.trie.add(record.pattern, record);
  }

  remove(record: SubscriptionRecord): void {
    this.trie.remove(record.pattern, record);
  }

  /**
   * Hands the message to every plain subscriber and one member of each queue group, in the
   * order of calls. Returns how many deliveries were queued (0: nobody listens).
   */
  route(subject: string, data: Uint8Array, request: PendingRequest | undefined): number {
    const matches = this.trie.match(subject);
    if (matches.length === 0) return 0;
    let groups: Map<string, SubscriptionRecord[]> | undefined;
    let count = 0;
    for (const record of matches) {
      if (record.queue === undefined) {
        this.enqueue(record, new MemoryMessage(subject, data, record.connection, request));
        count++;
      } else {
        groups ??= new Map();
        const members = groups.get(record.queue);
        if (members) members.push(record);
        else groups.set(record.queue, [record]);
      }
    }
    if (groups) {
      for (const [queue, members] of groups) {
        const next = this.roundRobin.get(queue) ?? 0;
        this.roundRobin.set(queue, (next + 1) % 0x7fffffff);
        const chosen = members[next % members.length]!;
        this.enqueue(chosen, new MemoryMessage(subject, data, chosen.connection, request));
        count++;
      }
    }
    return count;
  }

  /** Resolves once every delivery queued before the call has been handled (or dropped). */
  settled(): Promise<void> {
    if (this.delivered >= this.enqueued) return Promise.resolve();
    return new Promise((resolve) => this.settleWaiters.push({ position: this.enqueued, resolve }));
  }

  private enqueue(subscription: SubscriptionRecord, message: BusMessage): void {
    this.deliveries.push({ subscription, message });
    this.enqueued++;
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.drain);
    }
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    let budget: number = MEMORY_BUS_DEFAULTS.deliveryBatch;
    while (this.head < this.deliveries.length && budget-- > 0) {
      const delivery = this.deliveries[this.head]!;
      this.deliveries[this.head++] = undefined;
      this.delivered++;
      const { subscription, message } = delivery;
      if (subscription.state === 'closed') continue;
      try {
        subscription.handler(message);
      } catch (error) {
        subscription.connection.reportHandlerError(error, message.subject);
      }
    }
    if (this.head === this.deliveries.length) {
      this.deliveries = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.deliveries.length) {
      this.deliveries = this.deliveries.slice(this.head);
      this.head = 0;
    }
    this.wakeSettleWaiters();
    if (this.head < this.deliveries.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  };

  private wakeSettleWaiters(): void {
    if (this.settleWaiters.length === 0) return;
    const waiting = this.settleWaiters;
    this.settleWaiters = [];
    for (const waiter of waiting) {
      if (this.delivered >= waiter.position) waiter.resolve();
      else this.settleWaiters.push(waiter);
    }
  }
}

type ConnectionState = 'open' | 'draining' | 'closed';

class Connection implements MemoryBus {
  readonly subjects: Subjects;
  readonly broker: Broker;
  state: ConnectionState = 'open';
  readonly pendingRequests = new Set<PendingRequest>();
  private readonly subscriptions = new Set<SubscriptionRecord>();
  private readonly statusListeners = new Set<BusStatusListener>();
  private readonly onHandlerError: HandlerErrorListener;
  private closing: Promise<void> | undefined;

  constructor(broker: Broker, options: BusOptions) {
    this.broker = broker;
    this.subjects = new Subjects(options.prefix ?? MEMORY_BUS_DEFAULTS.prefix, options.shardCount);
    this.onHandlerError = options.onHandlerError ?? logHandlerError;
  }

  publish(subject: string, data: Uint8Array): void {
    this.assertOpen('publish');
    assertSubject(subject, false);
    // Copy once: the caller may reuse its buffer, and subscribers share the copy read-only.
    this.broker.route(subject, data.slice(), undefined);
  }

  async subscribe(subject: string, handler: BusHandler, options: SubscribeOptions = {}): Promise<Subscription> {
    this.assertOpen('subscribe');
    assertSubject(subject, true);
    if (options.queue !== undefined) assertQueueName(options.queue);
    const record: SubscriptionRecord = {
      connection: this,
      pattern: subject,
      queue: options.queue,
      handler,
      state: 'active',
    };
    this.subscriptions.add(record);
    this.broker.add(record);
    const close = () => {
      if (record.state === 'closed') return;
      if (record.state === 'active') this.broker.remove(record);
      record.state = 'closed';
      this.subscriptions.delete(record);
    };
    return {
      subject,
      unsubscribe: close,
      drain: async () => {
        if (record.state !== 'active') return;
        // No new deliveries; the ones already queued still reach the handler ('draining').
        this.broker.remove(record);
        record.state = 'draining';
        await this.broker.settled();
        close();
      },
    };
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Uint8Array> {
    try {
      this.assertOpen('request');
      assertSubject(subject, false);
      assertTimeout(options.timeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<Uint8Array>((resolve, reject) => {
      const pending = new PendingRequest(this, resolve, reject);
      if (this.broker.route(subject, data.slice(), pending) === 0) {
        pending.fail(new BusError('no_responders', `no subscriber for ${subject}`));
        return;
      }
      this.pendingRequests.add(pending);
      pending.startTimer(subject, options.timeoutMs);
    });
  }

  flush(): Promise<void> {
    // Publishing hands the message to the broker at once, so there is nothing in flight.
    if (this.state !== 'open') return Promise.reject(closedError('flush'));
    return Promise.resolve();
  }

  isConnected(): boolean {
    return this.state === 'open';
  }

  onStatus(listener: BusStatusListener): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  close(): Promise<void> {
    this.closing ??= this.drainAndClose();
    return this.closing;
  }

  reportHandlerError(error: unknown, subject: string): void {
    try {
      this.onHandlerError(error, subject);
    } catch {
      // A failing error listener must not break delivery to everyone else.
    }
  }

  private async drainAndClose(): Promise<void> {
    this.state = 'draining';
    // Take the subscriptions off the broker (nothing new arrives), but let the deliveries
    // already queued for them run: that is what NATS drain does.
    for (const record of this.subscriptions) {
      this.broker.remove(record);
      record.state = 'draining';
    }
    await this.broker.settled();
    for (const record of this.subscriptions) record.state = 'closed';
    this.subscriptions.clear();
    this.state = 'closed';
    for (const pending of [...this.pendingRequests]) {
      pending.fail(new BusError('closed', 'the bus closed before the answer came'));
    }
    this.emit({ type: 'closed' });
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

  private assertOpen(operation: string): void {
    if (this.state !== 'open') throw closedError(operation);
  }
}

function closedError(operation: string): BusError {
  return new BusError('closed', `cannot ${operation}: the bus is closed`);
}
