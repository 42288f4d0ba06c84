import { describe, expect, it } from 'vitest';
import { AppendBatcher, type AppendCall, type WriteBatch } from './append-batcher.js';
import { StoreUnavailableError, isStoreUnavailable } from './event-store.js';

const call = (room: string, expectedSeq: number): AppendCall => ({
  room,
  expectedSeq,
  rows: [{ seq: expectedSeq + 1, type: 't', ts: 0, data: '{}', meta: '{}', frame: '{}' }],
});

/** A writer whose flushes finish only when the test says so. */
function controlledWriter() {
  const batches: AppendCall[][] = [];
  const finishers: ((fail: boolean) => void)[] = [];
  const write: WriteBatch = (batch) => {
    batches.push([...batch]);
    return new Promise((resolve, reject) => {
      finishers.push((fail) =>
        fail ? reject(new StoreUnavailableError('database went away')) : resolve({ outcomes: batch.map(() => undefined), transactions: 1 }),
      );
    });
  };
  return { write, batches, finish: (fail: boolean) => finishers.shift()!(fail) };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('AppendBatcher', () => {
  it('given a flush in progress, when calls arrive, then the next flush takes all of them', async () => {
    const writer = controlledWriter();
    const batcher = new AppendBatcher(writer.write);
    const first = batcher.submit(call('a', 0));
    await settle();
    const queued = [batcher.submit(call('a', 1)), batcher.submit(call('b', 0)), batcher.submit(call('c', 0))];
    writer.finish(false);
    await first;
    await settle();
    expect(writer.batches.map((batch) => batch.map((c) => c.room))).toEqual([['a'], ['a', 'b', 'c']]);
    writer.finish(false);
    await Promise.all(queued);
    expect(batcher.stats()).toMatchObject({ flushes: 2, appends: 4, events: 4, lastBatchSize: 3, maxBatchSize: 3 });
  });

  it('given a flush that fails with the database down, then the queued calls of its rooms are rejected unwritten', async () => {
    const writer = controlledWriter();
    const batcher = new AppendBatcher(writer.write);
    const first = batcher.submit(call('a', 0)).catch((e: unknown) => e);
    await settle();
    const sameRoom = batcher.submit(call('a', 1)).catch((e: unknown) => e);
    const otherRoom = batcher.submit(call('b', 0));
    writer.finish(true);
    const [firstErr, sameRoomErr] = await Promise.all([first, sameRoom]);
    expect(isStoreUnavailable(firstErr)).toBe(true);
    expect(isStoreUnavailable(sameRoomErr)).toBe(true);
    expect((sameRoomErr as Error).cause).toBe(firstErr);
    await settle();
    expect(writer.batches.map((batch) => batch.map((c) => c.room))).toEqual([['a'], ['b']]);
    writer.finish(false);
    await otherRoom;
    expect(batcher.stats()).toMatchObject({ cascaded: 1, failures: 1 });
  });

  it('given close, then queued calls still settle and new calls are refused', async () => {
    const writer = controlledWriter();
    const batcher = new AppendBatcher(writer.write);
    const pending = batcher.submit(call('a', 0));
    await settle();
    const closed = batcher.close();
    expect(isStoreUnavailable(await batcher.submit(call('a', 1)).catch((e: unknown) => e))).toBe(true);
    writer.finish(false);
    await pending;
    await closed;
  });
});
