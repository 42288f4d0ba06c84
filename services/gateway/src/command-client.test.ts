import { createMemoryBus } from '@lectern/bus';
import { encodeReply } from '@lectern/protocol';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { CommandClient, noOwnerRetryDelayMs } from './command-client.js';

describe('noOwnerRetryDelayMs', () => {
  it('doubles from 50 ms and stays at 250 ms: 10 retries wait 2.1 s, past a 2 s hand-off', () => {
    const delays = Array.from({ length: 10 }, (_, attempt) => noOwnerRetryDelayMs(attempt));
    expect(delays).toEqual([50, 100, 200, 250, 250, 250, 250, 250, 250, 250]);
    expect(delays.reduce((a, b) => a + b, 0)).toBe(2100);
  });
});

describe('CommandClient', () => {
  const logger = pino({ level: 'silent' });
  const command = { kind: 'inspect' as const, room: 'moving-room', cid: 'c1' };

  it('retries a command that finds no owner until the owner subscribes', async () => {
    const bus = createMemoryBus({ prefix: 'cc1' });
    const client = new CommandClient(bus, logger, 1000, 10);
    const answered = client.send(command);
    // The new owner appears half a second later, as after a shard hand-off.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await bus.subscribe(bus.subjects.command(command.room), (message) => message.respond(encodeReply({ ok: true, seq: 7 })));
    const outcome = await answered;
    expect(outcome.reply).toMatchObject({ ok: true, seq: 7 });
    await bus.close();
  });

  it('retries a command the old owner answered as moved (not applied), and passes on other unavailable answers', async () => {
    const bus = createMemoryBus({ prefix: 'cc3' });
    const client = new CommandClient(bus, logger, 1000, 10);
    const answers = [
      encodeReply({ ok: false, code: 'unavailable', message: 'the room is moving; retry', moved: true }),
      encodeReply({ ok: true, seq: 9 }),
      encodeReply({ ok: false, code: 'unavailable', message: 'the event log is unavailable; retry' }),
    ];
    await bus.subscribe(bus.subjects.command(command.room), (message) => message.respond(answers.shift()!));
    expect((await client.send(command)).reply).toMatchObject({ ok: true, seq: 9 });
    expect((await client.send(command)).reply).toMatchObject({ ok: false, code: 'unavailable' });
    expect(answers).toEqual([]);
    await bus.close();
  });

  it('answers unavailable once its retries are spent', async () => {
    const bus = createMemoryBus({ prefix: 'cc2' });
    const client = new CommandClient(bus, logger, 1000, 2);
    const outcome = await client.send(command);
    expect(outcome.reply).toMatchObject({ ok: false, code: 'unavailable' });
    await bus.close();
  });
});
