// Appends/s and mean batch size of the group commit: 5,000 concurrent single-event appends
// over 100 rooms (50 pipelined appends per room), on real Postgres, in a schema of its own.
//
//   npx tsc -b libs/event-store && node libs/event-store/bench/append-throughput.mjs
//
// DATABASE_URL picks the server (default postgres://postgres@127.0.0.1:5432/test). A figure,
// not a test: nothing here asserts on time.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPostgresEventStore } from '../dist/index.js';

const baseUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROOMS = Number(process.env.BENCH_ROOMS ?? 100);
const APPENDS = Number(process.env.BENCH_APPENDS ?? 5_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);

const schema = `bench_${randomBytes(4).toString('hex')}`;
const admin = new pg.Client({ connectionString: baseUrl });
await admin.connect();
await admin.query(`create schema "${schema}"`);
const url = new URL(baseUrl);
url.searchParams.set('options', `-c search_path=${schema}`);

const store = createPostgresEventStore({ connectionString: url.toString() });
try {
  await store.migrate();
  const heads = new Map();
  for (let run = 1; run <= RUNS; run += 1) {
    const before = store.stats();
    const started = performance.now();
    const calls = [];
    for (let index = 0; index < APPENDS; index += 1) {
      const room = `room-${index % ROOMS}`;
      const head = heads.get(room) ?? 0;
      heads.set(room, head + 1);
      const seq = head + 1;
      const ts = Date.now();
      const data = { text: `message ${seq}`, mid: `m-${room}-${seq}` };
      calls.push(
        store.append(room, head, [
          { seq, type: 'chat_posted', ts, data, meta: { connection: 'c1', gateway: 'g1' }, frame: JSON.stringify({ type: 'chat_posted', room, seq, ts, ...data }) },
        ]),
      );
    }
    await Promise.all(calls);
    const seconds = (performance.now() - started) / 1000;
    const after = store.stats();
    const flushes = after.flushes - before.flushes;
    const events = after.events - before.events;
    console.log(
      `run ${run}: ${APPENDS} appends over ${ROOMS} rooms in ${(seconds * 1000).toFixed(0)} ms = ` +
        `${Math.round(APPENDS / seconds)} appends/s; ${flushes} flushes, mean batch ${(events / flushes).toFixed(1)} events, ` +
        `max ${after.maxBatchSize}, mean flush ${((after.flushMs - before.flushMs) / flushes).toFixed(1)} ms`,
    );
  }

  // Closed loop: each room appends its next event when the previous one committed, so 100
  // calls are in flight at any time and arrive spread over the flushes, as from live actors.
  {
    const before = store.stats();
    const started = performance.now();
    const perRoom = Math.ceil(APPENDS / ROOMS);
    await Promise.all(
      Array.from({ length: ROOMS }, async (_, index) => {
        const room = `loop-${index}`;
        for (let seq = 1; seq <= perRoom; seq += 1) {
          await store.append(room, seq - 1, [{ seq, type: 'chat_posted', ts: 1, data: { text: 'x' }, meta: {}, frame: `{"seq":${seq}}` }]);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const after = store.stats();
    const flushes = after.flushes - before.flushes;
    console.log(
      `closed loop: ${perRoom * ROOMS} appends by ${ROOMS} rooms in ${(seconds * 1000).toFixed(0)} ms = ` +
        `${Math.round((perRoom * ROOMS) / seconds)} appends/s; ${flushes} flushes, mean batch ${((after.events - before.events) / flushes).toFixed(1)} events`,
    );
  }

  // The same appends one at a time (each awaited): the latency floor a lone writer sees.
  const room = 'solo';
  const started = performance.now();
  const solo = 500;
  for (let seq = 1; seq <= solo; seq += 1) {
    await store.append(room, seq - 1, [{ seq, type: 'chat_posted', ts: 1, data: {}, meta: {}, frame: `{"seq":${seq}}` }]);
  }
  const ms = performance.now() - started;
  console.log(`sequential: ${solo} awaited appends, ${(ms / solo).toFixed(2)} ms each = ${Math.round((solo * 1000) / ms)} appends/s`);
} finally {
  await store.close();
  await admin.query(`drop schema "${schema}" cascade`);
  await admin.end();
}
