import { describe, expect, it } from 'vitest';
import { uniqueSubjectPrefix } from '@lectern/test-support';
import { defineBusContract } from './bus.contract.js';
import { MEMORY_BUS_DEFAULTS, createMemoryBroker, createMemoryBus } from './memory-bus.js';

const prefix = uniqueSubjectPrefix();
const text = (value: string) => new TextEncoder().encode(value);
const read = (data: Uint8Array) => new TextDecoder().decode(data);

describe('MemoryBus: the bus contract', () => {
  defineBusContract({
    prefix,
    async connectPair(options) {
      const broker = createMemoryBroker();
      return { a: broker.connect({ prefix, ...options }), b: broker.connect({ prefix, ...options }) };
    },
  });
});

describe('MemoryBus', () => {
  it('rotates queue group members in turn', async () => {
    const bus = createMemoryBus({ prefix });
    const counts = [0, 0, 0];
    for (const index of [0, 1, 2]) {
      await bus.subscribe(`${prefix}.rr`, () => counts[index]!++, { queue: 'q' });
    }
    for (let i = 0; i < 9; i++) bus.publish(`${prefix}.rr`, text('x'));
    await bus.close();
    expect(counts).toEqual([3, 3, 3]);
  });

  it('keeps connections of one broker apart but lets them talk', async () => {
    const broker = createMemoryBroker();
    const gateway = broker.connect({ prefix });
    const rooms = broker.connect({ prefix });
    await rooms.subscribe(rooms.subjects.shardCommands(3), (message) => message.respond(text('ack')));
    await gateway.close();
    // The gateway's close leaves the rooms host's subscription in place.
    const other = broker.connect({ prefix });
    const room = Array.from({ length: 1000 }, (_, i) => `r${i}`).find((id) => other.subjects.command(id).includes('.cmd.3.'))!;
    expect(read(await other.request(other.subjects.command(room), text('join'), { timeoutMs: 1_000 }))).toBe('ack');
    expect(gateway.broker).toBe(broker);
    await Promise.all([rooms.close(), other.close()]);
  });

  it('gives separate buses of createMemoryBus separate brokers', async () => {
    const one = createMemoryBus({ prefix });
    const two = createMemoryBus({ prefix });
    await one.subscribe(`${prefix}.x`, (message) => message.respond(text('one')));
    await expect(two.request(`${prefix}.x`, text('?'), { timeoutMs: 1_000 })).rejects.toMatchObject({ code: 'no_responders' });
    await Promise.all([one.close(), two.close()]);
  });

  it('preserves publish order across subjects for one subscriber', async () => {
    const bus = createMemoryBus({ prefix });
    const seen: string[] = [];
    await bus.subscribe(`${prefix}.order.>`, (message) => seen.push(message.subject.slice(-1)));
    for (const token of ['a', 'b', 'a', 'c', 'b']) bus.publish(`${prefix}.order.${token}`, text(token));
    await bus.close();
    expect(seen.join('')).toBe('abacb');
  });

  it('yields to the event loop after each batch of a long burst, instead of starving I/O', async () => {
    const bus = createMemoryBus({ prefix });
    let delivered = 0;
    let deliveredWhenImmediateRan = -1;
    await bus.subscribe(`${prefix}.burst`, () => delivered++);
    setImmediate(() => (deliveredWhenImmediateRan = delivered));
    for (let i = 0; i < 10_000; i++) bus.publish(`${prefix}.burst`, text('x'));
    await bus.close();
    expect(delivered).toBe(10_000);
    expect(deliveredWhenImmediateRan).toBe(MEMORY_BUS_DEFAULTS.deliveryBatch);
  });
});
