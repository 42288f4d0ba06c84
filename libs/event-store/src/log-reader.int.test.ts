/**
 * The global feed's high-water mark against real concurrency: transactions that commit out of
 * position order, and a reader that checkpoints `position` while they do. PGlite has one
 * session, so it cannot commit out of order; this runs on Postgres only.
 */
import { createTestSchema, hasPostgres } from '@lectern/test-support';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KyselyEventStore } from './kysely-event-store.js';
import { GLOBAL_APPEND_LOCK } from './log-reader.js';
import { createPostgresEventStore } from './postgres-event-store.js';

const available = await hasPostgres();
const schema = available ? await createTestSchema('log_reader') : undefined;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface RawClient {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
  end(): Promise<void>;
}

async function connect(): Promise<RawClient> {
  const client = new (pg as unknown as { Client: new (options: { connectionString: string }) => RawClient & { connect(): Promise<void> } }).Client({
    connectionString: schema!.url,
  });
  await client.connect();
  return client;
}

/**
 * A writer like the store's, except that it holds the append lock only while it takes its
 * transaction id and positions (a session lock released before commit), so its commits can
 * land in any order. This is the most a writer may do: positions still follow transaction ids.
 */
async function rawAppend(client: RawClient, room: string, seqs: number[], holdMs: number): Promise<void> {
  await client.query('begin');
  try {
    await client.query('select pg_advisory_lock($1::bigint)', [GLOBAL_APPEND_LOCK.toString()]);
    for (const seq of seqs) {
      const frame = `{"type":"chat_message","room":"${room}","seq":${seq}}`;
      await client.query(`insert into room_events (room_id, seq, type, ts, data, meta, frame) values ($1, $2, 'chat_message', 1, '{}', '{}', $3)`, [room, seq, frame]);
    }
    await client.query('select pg_advisory_unlock($1::bigint)', [GLOBAL_APPEND_LOCK.toString()]);
    await sleep(holdMs);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
}

describe.skipIf(!available)('global feed high-water mark (Postgres)', () => {
  let store: KyselyEventStore;
  beforeAll(async () => {
    store = createPostgresEventStore({ connectionString: schema!.url, poolSize: 4 });
    await store.migrate();
  });
  afterAll(async () => {
    await store?.close();
    await schema?.drop();
  });

  /** One pass of the NDJSON feed from `after`: each line's position and `room#seq`. */
  async function feedLines(after: string, pageSize: number): Promise<{ position: string; key: string }[]> {
    const lines: { position: string; key: string }[] = [];
    for await (const page of store.allLinePages(after, { pageSize })) {
      for (const line of page.lines.slice(0, -1).split('\n')) {
        const parsed = JSON.parse(line) as { position: number; room?: string; seq: number };
        lines.push({ position: String(parsed.position), key: `${parsed.room}#${parsed.seq}` });
      }
      expect(page.last).toBe(lines.at(-1)!.position);
    }
    return lines;
  }

  async function head(): Promise<string> {
    let after = '0';
    for (let page = await store.readAll(after, 10_000); page.length > 0; page = await store.readAll(after, 10_000)) after = page.at(-1)!.position;
    return after;
  }

  it('hides a committed transaction behind an older one still in flight, then shows both in position order', async () => {
    const start = await head();
    const [older, newer] = [await connect(), await connect()];
    try {
      const olderDone = rawAppend(older, 'late', [1, 2], 300);
      await sleep(50);
      await rawAppend(newer, 'early', [1], 0);
      // `early` is committed and visible, but a transaction that started before it is running.
      expect(await store.readAll(start, 100)).toEqual([]);
      expect(await feedLines(start, 100)).toEqual([]);
      await olderDone;
      const all = await store.readAll(start, 100);
      expect(all.map((e) => `${e.room}#${e.seq}`)).toEqual(['late#1', 'late#2', 'early#1']);
      expect((await feedLines(start, 2)).map((line) => line.key)).toEqual(['late#1', 'late#2', 'early#1']);
    } finally {
      await older.end();
      await newer.end();
    }
  });

  it('concurrent appenders committing out of order, a reader checkpointing position: every event exactly once', async () => {
    const start = await head();
    const writers = 6;
    const transactionsPerWriter = 15;
    const clients = await Promise.all(Array.from({ length: writers }, () => connect()));
    const commitOrder: string[] = [];
    let writing = true;
    const seen: string[] = [];
    // A second reader on the NDJSON pages (the HTTP feed's), checkpointing the last line's position.
    const seenLines: string[] = [];
    const lineReader = (async () => {
      let after = start;
      for (;;) {
        const done = !writing;
        const lines = await feedLines(after, 5);
        seenLines.push(...lines.map((line) => line.position));
        if (lines.length > 0) after = lines.at(-1)!.position;
        else if (done) return;
        else await sleep(1);
      }
    })();
    const reader = (async () => {
      let after = start;
      for (;;) {
        const done = !writing;
        const page = await store.readAll(after, 7);
        for (const event of page) seen.push(`${event.room}#${event.seq}`);
        if (page.length > 0) after = page.at(-1)!.position;
        else if (done) return;
        else await sleep(1);
      }
    })();
    try {
      await Promise.all(
        clients.map(async (client, writer) => {
          const room = `w${writer}`;
          let seq = 0;
          for (let transaction = 0; transaction < transactionsPerWriter; transaction++) {
            const size = 1 + ((writer + transaction) % 3);
            const seqs = Array.from({ length: size }, () => ++seq);
            // Early transactions hold longest, so later ones overtake them.
            await rawAppend(client, room, seqs, ((writer * 7 + transaction * 13) % 9) * 2);
            commitOrder.push(...seqs.map((s) => `${room}#${s}`));
          }
        }),
      );
      // The store's own group-committing writer appends meanwhile too.
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.append('store', i, [{ seq: i + 1, type: 't', ts: 1, data: {}, meta: {}, frame: `{"seq":${i + 1}}` }])));
      commitOrder.push(...Array.from({ length: 20 }, (_, i) => `store#${i + 1}`));
    } finally {
      writing = false;
      await reader;
      await lineReader;
      await Promise.all(clients.map((client) => client.end()));
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect([...seen].sort()).toEqual([...commitOrder].sort());
    // The scenario really had commits out of position order (else the test proves nothing).
    const final = await store.readAll(start, 10_000);
    const inPositionOrder = final.map((e) => `${e.room}#${e.seq}`);
    expect(inPositionOrder).toEqual(seen);
    expect(seenLines).toEqual(final.map((e) => e.position));
    expect(commitOrder).not.toEqual(inPositionOrder);
  });
});
