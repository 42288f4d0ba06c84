import { sql, type Kysely } from 'kysely';
import { AppendBatcher, type EventRow } from './append-batcher.js';
import { createBatchWriter } from './append-writer.js';
import type {
  AppendStats,
  FlushReport,
  GroupCommitEventStore,
  NewEvent,
  Snapshot,
  StoredEvent,
} from './event-store.js';
import { allLinePages, allPages, readAll, roomLinePages, roomPages, toStoredEvent, type EventLogReader, type FeedEvent, type LinePage, type PageOptions } from './log-reader.js';
import { migrateToLatest } from './migrations/index.js';
import type { EventStoreDatabase } from './schema.js';
import { unavailable } from './store-errors.js';

export interface KyselyEventStoreOptions {
  /** Whether `close()` destroys `db` (false when the caller shares it). */
  ownsDatabase?: boolean;
  /** Clock for flush durations; injectable for tests. */
  now?: () => number;
}

/**
 * The event store's queries, written once for every Postgres-speaking Kysely dialect (`pg`
 * and PGlite). The dialect files only build the Kysely instance.
 */
export class KyselyEventStore implements GroupCommitEventStore, EventLogReader {
  readonly #db: Kysely<EventStoreDatabase>;
  readonly #batcher: AppendBatcher;
  readonly #ownsDatabase: boolean;
  #closing: Promise<void> | undefined;

  constructor(db: Kysely<EventStoreDatabase>, options: KyselyEventStoreOptions = {}) {
    this.#db = db;
    this.#ownsDatabase = options.ownsDatabase ?? true;
    this.#batcher = new AppendBatcher(createBatchWriter(db), options.now);
  }

  async migrate(): Promise<void> {
    try {
      await migrateToLatest(this.#db);
    } catch (err) {
      throw unavailable('migrating', err);
    }
  }

  append(room: string, expectedSeq: number, events: readonly NewEvent[]): Promise<void> {
    let rows: EventRow[];
    try {
      rows = toRows(room, expectedSeq, events);
    } catch (err) {
      return Promise.reject(err);
    }
    if (rows.length === 0) return Promise.resolve();
    return this.#batcher.submit({ room, expectedSeq, rows });
  }

  async readRoom(room: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    checkRoom(room);
    checkCount('afterSeq', afterSeq, 0);
    checkCount('limit', limit, 1);
    try {
      const rows = await this.#db
        .selectFrom('room_events')
        .select(['position', 'room_id', 'seq', 'type', 'ts', 'data', 'meta', 'frame'])
        .where('room_id', '=', room)
        .where('seq', '>', afterSeq)
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map(toStoredEvent);
    } catch (err) {
      throw unavailable('reading a room', err);
    }
  }

  readAll(afterPosition: string | number | bigint, limit: number): Promise<StoredEvent[]> {
    return readAll(this.#db, afterPosition, limit);
  }

  roomPages(room: string, afterSeq: number, options?: PageOptions): AsyncGenerator<FeedEvent[], void, undefined> {
    return roomPages(this.#db, room, afterSeq, options);
  }

  allPages(afterPosition: string | number | bigint, options?: PageOptions): AsyncGenerator<FeedEvent[], void, undefined> {
    return allPages(this.#db, afterPosition, options);
  }

  roomLinePages(room: string, afterSeq: number, options?: PageOptions): AsyncGenerator<LinePage<number>, void, undefined> {
    return roomLinePages(this.#db, room, afterSeq, options);
  }

  allLinePages(afterPosition: string | number | bigint, options?: PageOptions): AsyncGenerator<LinePage<string>, void, undefined> {
    return allLinePages(this.#db, afterPosition, options);
  }

  async head(room: string): Promise<number> {
    checkRoom(room);
    try {
      // Backward scan of the (room_id, seq) index: one row read.
      const row = await this.#db
        .selectFrom('room_events')
        .select('seq')
        .where('room_id', '=', room)
        .orderBy('seq', 'desc')
        .limit(1)
        .executeTakeFirst();
      return row?.seq ?? 0;
    } catch (err) {
      throw unavailable('reading a head', err);
    }
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    checkRoom(snapshot.room);
    checkCount('snapshot.seq', snapshot.seq, 0);
    const state = JSON.stringify(snapshot.state);
    if (state === undefined) throw new TypeError(`room ${snapshot.room}: snapshot state is not JSON-serializable`);
    try {
      await this.#db
        .insertInto('room_snapshots')
        .values({ room_id: snapshot.room, seq: snapshot.seq, state: sql<string>`${state}::text::jsonb` as never })
        .onConflict((conflict) =>
          conflict
            .column('room_id')
            .doUpdateSet({
              seq: (eb) => eb.ref('excluded.seq'),
              state: (eb) => eb.ref('excluded.state'),
              created_at: sql<Date>`now()`,
            })
            // A stale writer's older snapshot never replaces a newer one.
            .where('room_snapshots.seq', '<=', (eb) => eb.ref('excluded.seq')),
        )
        .execute();
    } catch (err) {
      throw unavailable('saving a snapshot', err);
    }
  }

  async loadSnapshot(room: string): Promise<Snapshot | undefined> {
    checkRoom(room);
    try {
      const row = await this.#db
        .selectFrom('room_snapshots')
        .select(['room_id', 'seq', 'state'])
        .where('room_id', '=', room)
        .executeTakeFirst();
      return row === undefined ? undefined : { room: row.room_id, seq: row.seq, state: row.state };
    } catch (err) {
      throw unavailable('loading a snapshot', err);
    }
  }

  async ping(): Promise<void> {
    try {
      await sql`select 1`.execute(this.#db);
    } catch (err) {
      throw unavailable('pinging', err);
    }
  }

  stats(): AppendStats {
    return this.#batcher.stats();
  }

  onFlush(listener: (report: FlushReport) => void): () => void {
    return this.#batcher.onFlush(listener);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#batcher.close();
      if (this.#ownsDatabase) await this.#db.destroy();
    })();
    return this.#closing;
  }
}

function checkRoom(room: string): void {
  if (typeof room !== 'string' || room.length === 0) throw new Error(`room must be a non-empty string, got ${JSON.stringify(room)}`);
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got ${String(value)}`);
}

/** Validates one call and serializes its JSON once, so misuse rejects this call and no other. */
function toRows(room: string, expectedSeq: number, events: readonly NewEvent[]): EventRow[] {
  checkRoom(room);
  checkCount('expectedSeq', expectedSeq, 0);
  return events.map((event, index) => {
    const seq = expectedSeq + 1 + index;
    if (event.seq !== seq) {
      throw new Error(`room ${room}: events must carry seqs ${expectedSeq + 1}, ${expectedSeq + 2}, ... in order; event ${index} has seq ${String(event.seq)}, expected ${seq}`);
    }
    if (typeof event.type !== 'string' || event.type.length === 0) throw new Error(`room ${room}: event seq ${seq} has no type`);
    if (!Number.isSafeInteger(event.ts)) throw new Error(`room ${room}: event seq ${seq} has ts ${String(event.ts)}, expected ms since epoch`);
    if (typeof event.frame !== 'string') throw new Error(`room ${room}: event seq ${seq} has no frame text`);
    return { seq, type: event.type, ts: event.ts, data: toJson(room, seq, 'data', event.data), meta: toJson(room, seq, 'meta', event.meta), frame: event.frame };
  });
}

function toJson(room: string, seq: number, field: string, value: unknown): string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`room ${room}: event seq ${seq} ${field} must be an object`);
  }
  return JSON.stringify(value);
}
