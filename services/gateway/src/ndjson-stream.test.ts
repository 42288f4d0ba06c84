import { describe, expect, it } from 'vitest';
import { NdjsonStream, SLICE_BYTES } from './ndjson-stream.js';
import type { HttpResponse } from './uws.js';

/** A uWS response whose socket takes `capacity` more writes, then reports backpressure. */
function fakeResponse(capacity: number) {
  const state = {
    capacity,
    writes: [] as number[],
    ended: false,
    writable: undefined as (() => boolean) | undefined,
    aborted: undefined as (() => void) | undefined,
  };
  const res = {
    onAborted(handler: () => void) {
      state.aborted = handler;
      return res;
    },
    onWritable(handler: () => boolean) {
      state.writable = handler;
      return res;
    },
    cork(callback: () => void) {
      callback();
      return res;
    },
    writeStatus: () => res,
    writeHeader: () => res,
    write(chunk: Uint8Array) {
      state.writes.push(chunk.byteLength);
      state.capacity -= 1;
      return state.capacity >= 0;
    },
    end() {
      state.ended = true;
      return res;
    },
    close: () => res,
  };
  return { res: res as unknown as HttpResponse, state };
}

/** The promise's value if it has settled once pending callbacks ran, else 'pending' (no timers). */
async function settled(promise: Promise<boolean>): Promise<boolean | 'pending'> {
  let value: boolean | 'pending' = 'pending';
  void promise.then((result) => (value = result));
  for (let turn = 0; turn < 10; turn++) await Promise.resolve();
  return value;
}

describe('NdjsonStream', () => {
  it('hands a big chunk to uWS in slices, resolving at once while the socket takes them', async () => {
    const { res, state } = fakeResponse(100);
    const stream = new NdjsonStream(res);
    expect(await stream.write('x'.repeat(SLICE_BYTES * 2 + 10))).toBe(true);
    expect(state.writes).toEqual([SLICE_BYTES, SLICE_BYTES, 10]);
  });

  it('given a full socket, writes no further slice until onWritable, then resolves when the last went out', async () => {
    const { res, state } = fakeResponse(1);
    const stream = new NdjsonStream(res);
    const writing = stream.write(new Uint8Array(SLICE_BYTES * 3));
    // The second slice was buffered by uWS: the third waits.
    expect(state.writes).toEqual([SLICE_BYTES, SLICE_BYTES]);
    expect(await settled(writing)).toBe('pending');
    state.capacity = 1;
    state.writable!();
    expect(state.writes).toEqual([SLICE_BYTES, SLICE_BYTES, SLICE_BYTES]);
    expect(await settled(writing)).toBe(true);
  });

  it('waits for onWritable when the last slice was buffered', async () => {
    const { res, state } = fakeResponse(0);
    const stream = new NdjsonStream(res);
    const writing = stream.write('line\n');
    expect(await settled(writing)).toBe('pending');
    state.writable!();
    expect(await writing).toBe(true);
    expect(state.writes).toEqual([5]);
  });

  it('resolves false and writes nothing more once the client went away', async () => {
    const { res, state } = fakeResponse(0);
    const stream = new NdjsonStream(res);
    const writing = stream.write(new Uint8Array(SLICE_BYTES * 2));
    state.aborted!();
    expect(await writing).toBe(false);
    state.writable!();
    expect(state.writes).toEqual([SLICE_BYTES]);
    expect(await stream.write('more\n')).toBe(false);
    stream.end();
    expect(state.ended).toBe(false);
  });
});
