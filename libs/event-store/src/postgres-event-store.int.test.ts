import { createTestSchema, hasPostgres } from '@lectern/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { isStoreUnavailable } from './event-store.js';
import { defineEventStoreContract } from './event-store.contract.js';
import { GLOBAL_APPEND_LOCK } from './log-reader.js';
import { createPostgresEventStore, createPostgresPool } from './postgres-event-store.js';
import { preparedAs } from './prepared-statements.js';
import pg from 'pg';

const available = await hasPostgres();
const schema = available ? await createTestSchema('event_store') : undefined;

describe.skipIf(!available)('Postgres event store', () => {
  afterAll(async () => {
    await schema?.drop();
  });

  defineEventStoreContract('Postgres', {
    async open() {
      const store = createPostgresEventStore({ connectionString: schema!.url });
      await store.migrate();
      return store;
    },
    async openOther() {
      return createPostgresEventStore({ connectionString: schema!.url, poolSize: 2 });
    },
  });

  it('prepares the marked statements once per connection, with custom plans only (a generic plan would keep a seq scan as the log grows)', async () => {
    const pool = createPostgresPool({ connectionString: schema!.url, poolSize: 1 });
    try {
      const client = await pool.connect();
      try {
        const marked = `${preparedAs('lectern_test_marked')} select $1::int + 1 as n`;
        for (let i = 0; i < 3; i++) expect((await client.query(marked, [i])).rows).toEqual([{ n: i + 1 }]);
        await client.query('select $1::int as plain', [1]);
        const prepared = await client.query('select name from pg_prepared_statements order by name', []);
        expect(prepared.rows).toEqual([{ name: 'lectern_test_marked' }]);
        expect((await client.query('show plan_cache_mode', [])).rows).toEqual([{ plan_cache_mode: 'force_custom_plan' }]);
      } finally {
        client.release();
      }
    } finally {
      await pool.end();
    }
  });

  it('a flush without conflicts is one statement that waits for the global append lock, all rows in one transaction', async () => {
    const store = createPostgresEventStore({ connectionString: schema!.url, poolSize: 2 });
    const holder = new pg.Client({ connectionString: schema!.url });
    await holder.connect();
    try {
      await store.migrate();
      await holder.query('select pg_advisory_lock($1::bigint)', [GLOBAL_APPEND_LOCK.toString()]);
      const before = store.stats();
      let settled = false;
      const appended = Promise.all([store.append('lock-a', 0, [frameEvent(1), frameEvent(2)]), store.append('lock-b', 0, [frameEvent(1)])]).then(() => {
        settled = true;
      });
      // The flush's statement is now blocked on the lock: nothing of it is visible or committed.
      for (let tries = 0; tries < 50; tries++) {
        const { rows } = await holder.query<{ waiting: number }>(
          "select count(*)::int as waiting from pg_locks where locktype = 'advisory' and not granted",
        );
        if (rows[0]!.waiting > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(settled).toBe(false);
      expect(await store.head('lock-a')).toBe(0);
      await holder.query('select pg_advisory_unlock($1::bigint)', [GLOBAL_APPEND_LOCK.toString()]);
      await appended;
      const used = store.stats();
      expect(used.flushes - before.flushes).toBe(1);
      expect(used.transactions - before.transactions).toBe(1);
      const { rows } = await holder.query<{ txs: number; positions: string[] }>(
        "select count(distinct tx)::int as txs, array_agg(position::text order by position) as positions from room_events where room_id in ('lock-a', 'lock-b')",
      );
      expect(rows[0]!.txs).toBe(1);
      expect(rows[0]!.positions).toHaveLength(3);
    } finally {
      await holder.end();
      await store.close();
    }
  });

  it('migrating twice is a no-op', async () => {
    const store = createPostgresEventStore({ connectionString: schema!.url, poolSize: 1 });
    try {
      await store.migrate();
      await store.migrate();
    } finally {
      await store.close();
    }
  });
});

describe('Postgres event store, database unreachable', () => {
  // Port 1 refuses at once: every call fails fast with StoreUnavailableError.
  const unreachable = 'postgres://postgres@127.0.0.1:1/test';

  it('rejects appends, reads and ping with StoreUnavailableError, cause attached', async () => {
    const store = createPostgresEventStore({ connectionString: unreachable, connectionTimeoutMs: 1_000 });
    try {
      const append = await store.append('r', 0, [frameEvent(1)]).catch((e: unknown) => e);
      expect(isStoreUnavailable(append)).toBe(true);
      expect((append as Error).cause).toBeDefined();
      for (const call of [store.readRoom('r', 0, 10), store.head('r'), store.ping(), store.loadSnapshot('r')]) {
        expect(isStoreUnavailable(await call.catch((e: unknown) => e))).toBe(true);
      }
    } finally {
      await store.close();
    }
  });

  it('rejects the queued appends of a room whose flush failed without trying them', async () => {
    const store = createPostgresEventStore({ connectionString: unreachable, connectionTimeoutMs: 1_000 });
    try {
      const first = store.append('r', 0, [frameEvent(1)]);
      await Promise.resolve();
      await Promise.resolve();
      const queued = store.append('r', 1, [frameEvent(2)]);
      const otherRoom = store.append('s', 0, [frameEvent(1)]);
      const [firstErr, queuedErr, otherErr] = await Promise.all([first, queued, otherRoom].map((p) => p.catch((e: unknown) => e)));
      expect(isStoreUnavailable(firstErr) && isStoreUnavailable(queuedErr) && isStoreUnavailable(otherErr)).toBe(true);
      expect((queuedErr as Error).cause).toBe(firstErr);
      const stats = store.stats();
      expect(stats.cascaded).toBe(1);
      // The other room's call was tried in a flush of its own.
      expect(stats.flushes).toBe(2);
    } finally {
      await store.close();
    }
  });
});

function frameEvent(seq: number) {
  return { seq, type: 'chat_posted', ts: 1, data: {}, meta: {}, frame: `{"seq":${seq}}` };
}

describe.skipIf(!available)('Postgres migrations across schemas', () => {
  it('migrates a fresh schema while another schema of the same database already has the tables', async () => {
    const first = await createTestSchema('mig_a');
    const second = await createTestSchema('mig_b');
    const a = createPostgresEventStore({ connectionString: first.url, poolSize: 1 });
    const b = createPostgresEventStore({ connectionString: second.url, poolSize: 1 });
    try {
      await a.migrate();
      await b.migrate();
      expect(await b.head('room')).toBe(0);
    } finally {
      await a.close();
      await b.close();
      await first.drop();
      await second.drop();
    }
  });
});
