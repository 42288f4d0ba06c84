/**
 * The contract suite every Bus implementation must pass (the contract is written in
 * `bus.ts`). Call `defineBusContract` inside a `describe` with a factory that connects two
 * buses to the same broker or server: `a` and `b` play two processes, e.g. a gateway and a
 * rooms host.
 */
import { afterEach, expect, it } from 'vitest';
import { isBusError, type Bus, type BusMessage, type BusStatus, type HandlerErrorListener } from './bus.js';
import { DEFAULT_SHARD_COUNT, shardOf } from './subjects.js';

export interface BusPair {
  readonly a: Bus;
  readonly b: Bus;
}

export interface BusPairOptions {
  onHandlerError?: HandlerErrorListener;
}

export interface BusContractSetup {
  /** The subject prefix the factory gives both buses; every test subject lives under it. */
  readonly prefix: string;
  connectPair(options?: BusPairOptions): Promise<BusPair>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const text = (value: string) => encoder.encode(value);
const read = (data: Uint8Array) => decoder.decode(data);

function sequenceNumber(index: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, index);
  return bytes;
}
function readSequenceNumber(data: Uint8Array): number {
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(0);
}

/** Turns a hang into a failure that says what never happened. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** Collects messages on one subject; `until(n)` resolves when n have arrived. */
async function collect(bus: Bus, subject: string, options: { queue?: string } = {}) {
  const messages: BusMessage[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const subscription = await bus.subscribe(
    subject,
    (message) => {
      messages.push({ subject: message.subject, data: message.data.slice(), respond: () => undefined });
      for (const waiter of waiters) if (messages.length >= waiter.count) waiter.resolve();
    },
    options,
  );
  return {
    messages,
    subscription,
    until(count: number, what = `${count} messages on ${subject}`): Promise<void> {
      if (messages.length >= count) return Promise.resolve();
      return within(new Promise<void>((resolve) => waiters.push({ count, resolve })), 10_000, what);
    },
  };
}

async function expectBusError(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => new Error(`expected a BusError '${code}', but it resolved`),
    (caught: unknown) => caught,
  );
  expect(isBusError(error) ? error.code : error).toBe(code);
}

/**
 * A barrier: once `a`'s request to `b` is answered, everything `a` published before it has
 * reached `b`'s handlers (one connection pair, one ordered stream each way).
 */
async function roundTrip(a: Bus, b: Bus, subject: string): Promise<void> {
  const responder = await b.subscribe(subject, (message) => message.respond(message.data));
  try {
    await a.request(subject, text('barrier'), { timeoutMs: 5_000 });
  } finally {
    responder.unsubscribe();
  }
}

export function defineBusContract(setup: BusContractSetup): void {
  const { prefix } = setup;
  const open: Bus[] = [];
  let counter = 0;
  /** A subject of its own for each test, so tests never see each other's messages. */
  const fresh = (name: string) => `${prefix}.c${++counter}.${name}`;

  async function pair(options?: BusPairOptions): Promise<BusPair> {
    const connected = await setup.connectPair(options);
    open.push(connected.a, connected.b);
    return connected;
  }

  afterEach(async () => {
    await Promise.all(open.splice(0).map((bus) => bus.close()));
  });

  it('builds subject names under its prefix', async () => {
    const { a } = await pair();
    expect(a.subjects.prefix).toBe(prefix);
    expect(a.subjects.shardCount).toBe(DEFAULT_SHARD_COUNT);
    expect(a.subjects.events('r1')).toBe(`${prefix}.evt.r1`);
    expect(a.subjects.command('r1')).toBe(`${prefix}.cmd.${shardOf('r1')}.r1`);
  });

  it('routes a room command to the owner of its shard, who reads the room back', async () => {
    const { a, b } = await pair();
    const room = `room-${counter}`;
    const shard = shardOf(room, a.subjects.shardCount);
    await b.subscribe(b.subjects.shardCommands(shard), (message) => {
      message.respond(text(`${b.subjects.roomOfCommand(message.subject)}:${read(message.data)}`));
    });
    const answer = await a.request(a.subjects.command(room), text('join'), { timeoutMs: 5_000 });
    expect(read(answer)).toBe(`${room}:join`);
  });

  it('matches * to one token and > to one or more trailing tokens', async () => {
    const { a, b } = await pair();
    const base = fresh('w');
    const star = await collect(b, `${base}.*.x`);
    const rest = await collect(b, `${base}.>`);
    const exact = await collect(b, `${base}.one.x`);
    for (const suffix of ['one.x', 'two.x', 'one.y', 'one.x.deeper']) a.publish(`${base}.${suffix}`, text(suffix));
    a.publish(base, text('bare')); // `>` needs at least one more token
    await rest.until(4);
    await roundTrip(a, b, fresh('barrier'));
    const subjects = (messages: BusMessage[]) => messages.map((message) => message.subject);
    expect(subjects(star.messages)).toEqual([`${base}.one.x`, `${base}.two.x`]);
    expect(subjects(rest.messages)).toEqual(['one.x', 'two.x', 'one.y', 'one.x.deeper'].map((s) => `${base}.${s}`));
    expect(subjects(exact.messages)).toEqual([`${base}.one.x`]);
    expect(read(exact.messages[0]!.data)).toBe('one.x');
  });

  it('delivers 10,000 messages from one publisher in publish order', async () => {
    const { a, b } = await pair();
    const subject = fresh('order');
    const received = await collect(b, subject);
    for (let i = 0; i < 10_000; i++) a.publish(subject, sequenceNumber(i));
    await a.flush();
    await received.until(10_000);
    const order = received.messages.map((message) => readSequenceNumber(message.data));
    expect(order).toEqual(Array.from({ length: 10_000 }, (_, i) => i));
  });

  it('delivers a message published right after subscribe resolved', async () => {
    const { a, b } = await pair();
    for (let attempt = 0; attempt < 20; attempt++) {
      const subject = fresh(`sub${attempt}`);
      const received = await collect(b, subject);
      a.publish(subject, text(`hello ${attempt}`));
      await received.until(1, `the first message after subscribe (attempt ${attempt})`);
      expect(read(received.messages[0]!.data)).toBe(`hello ${attempt}`);
    }
  });

  it('never calls a handler inside publish', async () => {
    const { a } = await pair();
    const subject = fresh('async');
    const received = await collect(a, subject);
    a.publish(subject, text('x'));
    expect(received.messages).toHaveLength(0);
    await received.until(1);
  });

  it('copies published data: the publisher may reuse its buffer', async () => {
    const { a, b } = await pair();
    const subject = fresh('copy');
    const received = await collect(b, subject);
    const buffer = text('first');
    a.publish(subject, buffer);
    buffer.set(text('SECON'));
    await received.until(1);
    expect(read(received.messages[0]!.data)).toBe('first');
  });

  it('stops delivery once unsubscribed', async () => {
    const { a, b } = await pair();
    const subject = fresh('unsub');
    const received = await collect(b, subject);
    a.publish(subject, text('before'));
    await received.until(1);
    received.subscription.unsubscribe();
    await b.flush();
    a.publish(subject, text('after'));
    await roundTrip(a, b, fresh('barrier'));
    expect(received.messages.map((message) => read(message.data))).toEqual(['before']);
    expect(() => received.subscription.unsubscribe()).not.toThrow();
  });

  it('drain: handles what was already sent, then nothing more', async () => {
    const { a, b } = await pair();
    const subject = fresh('drain');
    const received = await collect(b, subject);
    for (let i = 0; i < 50; i++) a.publish(subject, sequenceNumber(i));
    await a.flush();
    // Drained while the 50 may still be on their way: none of them is dropped.
    await received.subscription.drain();
    expect(received.messages.map((message) => readSequenceNumber(message.data))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    a.publish(subject, text('after'));
    await roundTrip(a, b, fresh('barrier'));
    expect(received.messages).toHaveLength(50);
    await received.subscription.drain();
    expect(() => received.subscription.unsubscribe()).not.toThrow();
  });

  it('delivers each message to one member of a queue group, and to every plain subscriber', async () => {
    const { a, b } = await pair();
    const subject = fresh('queue');
    const members = [
      await collect(a, subject, { queue: 'workers' }),
      await collect(b, subject, { queue: 'workers' }),
      await collect(b, subject, { queue: 'workers' }),
    ];
    const everyone = await collect(b, subject);
    for (let i = 0; i < 300; i++) a.publish(subject, sequenceNumber(i));
    await everyone.until(300);
    await roundTrip(a, b, fresh('barrier'));
    await roundTrip(b, a, fresh('barrier'));
    const handled = members.flatMap((member) => member.messages.map((message) => readSequenceNumber(message.data)));
    expect(handled.sort((x, y) => x - y)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    for (const member of members) expect(member.messages.length).toBeGreaterThan(0);
    expect(everyone.messages).toHaveLength(300);
  });

  it('answers a request with the first reply', async () => {
    const { a, b } = await pair();
    const subject = fresh('echo');
    await b.subscribe(subject, (message) => {
      message.respond(text(`echo:${read(message.data)}`));
      message.respond(text('second answer, ignored'));
    });
    const answer = await a.request(subject, text('ping'), { timeoutMs: 5_000 });
    expect(read(answer)).toBe('echo:ping');
  });

  it('lets a handler answer later, after it returned', async () => {
    const { a, b } = await pair();
    const subject = fresh('later');
    await b.subscribe(subject, (message) => {
      setTimeout(() => message.respond(text('committed')), 5);
    });
    expect(read(await a.request(subject, text('cmd'), { timeoutMs: 5_000 }))).toBe('committed');
  });

  it('ignores respond on a plain publish', async () => {
    const { a, b } = await pair();
    const subject = fresh('plain');
    let responded = false;
    await b.subscribe(subject, (message) => {
      message.respond(text('nobody asked'));
      responded = true;
    });
    a.publish(subject, text('x'));
    await roundTrip(a, b, fresh('barrier'));
    expect(responded).toBe(true);
  });

  it('rejects with no_responders at once when nobody listens, long before the timeout', async () => {
    const { a } = await pair();
    // The request's own timeout is far beyond the test's, so only a prompt answer passes.
    const request = a.request(fresh('nobody'), text('hello?'), { timeoutMs: 120_000 });
    await expectBusError(within(request, 5_000, 'no_responders'), 'no_responders');
  });

  it('rejects with timeout when the responder stays silent', async () => {
    const { a, b } = await pair();
    const subject = fresh('silent');
    await b.subscribe(subject, () => undefined);
    await expectBusError(a.request(subject, text('hello?'), { timeoutMs: 200 }), 'timeout');
  });

  it('answers 1,000 concurrent requests, each with its own reply', async () => {
    const { a, b } = await pair();
    const subject = fresh('many');
    await b.subscribe(subject, (message) => message.respond(text(`re:${read(message.data)}`)), { queue: 'owners' });
    await a.subscribe(subject, (message) => message.respond(text(`re:${read(message.data)}`)), { queue: 'owners' });
    const answers = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => a.request(subject, text(`q${i}`), { timeoutMs: 10_000 })),
    );
    expect(answers.map(read)).toEqual(Array.from({ length: 1_000 }, (_, i) => `re:q${i}`));
  });

  it('keeps a subscription alive when its handler throws, and reports the error', async () => {
    const reported: { error: unknown; subject: string }[] = [];
    const { a, b } = await pair({ onHandlerError: (error, subject) => reported.push({ error, subject }) });
    const subject = fresh('throws');
    const seen: string[] = [];
    await b.subscribe(subject, (message) => {
      seen.push(read(message.data));
      if (seen.length === 1) throw new Error('handler bug');
    });
    a.publish(subject, text('one'));
    a.publish(subject, text('two'));
    await roundTrip(a, b, fresh('barrier'));
    expect(seen).toEqual(['one', 'two']);
    expect(reported).toHaveLength(1);
    expect(reported[0]!.subject).toBe(subject);
    expect((reported[0]!.error as Error).message).toBe('handler bug');
  });

  it('drains on close: messages that reached it before close are handled', async () => {
    const { a, b } = await pair();
    const subject = fresh('drain');
    const received = await collect(b, subject);
    for (let i = 0; i < 500; i++) a.publish(subject, sequenceNumber(i));
    await a.flush();
    await b.close();
    expect(received.messages).toHaveLength(500);
  });

  it('rejects with closed: requests pending at close, and everything after it', async () => {
    const { a, b } = await pair();
    const subject = fresh('closing');
    await b.subscribe(subject, () => undefined);
    const statuses: BusStatus[] = [];
    a.onStatus((status) => statuses.push(status));
    expect(a.isConnected()).toBe(true);
    const pending = a.request(subject, text('never answered'), { timeoutMs: 60_000 });
    await a.flush();
    const closing = a.close();
    await expectBusError(within(pending, 5_000, 'the pending request to reject'), 'closed');
    await closing;
    await a.close(); // idempotent
    expect(a.isConnected()).toBe(false);
    expect(() => a.publish(subject, text('x'))).toThrow(expect.objectContaining({ code: 'closed' }));
    await expectBusError(a.request(subject, text('x'), { timeoutMs: 1_000 }), 'closed');
    await expectBusError(a.subscribe(subject, () => undefined), 'closed');
    await expectBusError(a.flush(), 'closed');
    await within(
      (async () => {
        while (!statuses.some((status) => status.type === 'closed')) await new Promise((r) => setImmediate(r));
      })(),
      5_000,
      "the 'closed' status",
    );
  });

  it('makes respond a no-op once the responder is closed', async () => {
    const { a, b } = await pair();
    const subject = fresh('late');
    let held: BusMessage | undefined;
    const arrived = new Promise<void>((resolve) =>
      b.subscribe(subject, (message) => {
        held = message;
        resolve();
      }),
    );
    await b.flush();
    const request = a.request(subject, text('cmd'), { timeoutMs: 300 });
    await arrived;
    await b.close();
    expect(() => held!.respond(text('too late'))).not.toThrow();
    await expectBusError(request, 'timeout');
  });

  it('rejects invalid subjects with a TypeError', async () => {
    const { a } = await pair();
    expect(() => a.publish(`${prefix}..x`, text('x'))).toThrow(TypeError);
    expect(() => a.publish(`${prefix}.*`, text('x'))).toThrow(TypeError);
    expect(() => a.publish(`${prefix}.a b`, text('x'))).toThrow(TypeError);
    await expect(a.subscribe(`${prefix}.>.x`, () => undefined)).rejects.toThrow(TypeError);
    await expect(a.request(`${prefix}.x`, text('x'), { timeoutMs: 0 })).rejects.toThrow(TypeError);
  });
}
