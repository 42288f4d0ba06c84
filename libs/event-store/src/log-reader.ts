import { sql, type Kysely } from 'kysely';
import type { StoredEvent } from './event-store.js';
import type { EventStoreDatabase } from './schema.js';
import { unavailable } from './store-errors.js';

/**
 * Reading the log in bulk: one room by `seq`, or every room by `position` (the global feed).
 *
 * Contract (both SQL implementations, held to the contract suite):
 * - Reads are keyset pages: every page is its own short query that starts after the last key
 *   of the page before. No cursor or connection is held between pages, so a reader that stops
 *   (an HTTP client that went away) leaves nothing open on the database.
 * - The global feed returns events in `position` order and only up to a high-water mark: it
 *   stops before the first event whose transaction id is not below
 *   `pg_snapshot_xmin(pg_current_snapshot())`, i.e. before anything a still-running
 *   transaction could precede. Together with the writer taking `GLOBAL_APPEND_LOCK` before
 *   it allocates positions (append-writer.ts), positions are handed out in transaction order,
 *   so a reader that checkpoints the last `position` it saw never skips an event, even one
 *   whose transaction committed after a later position was already visible.
 * - Failures reject with `StoreUnavailableError`; bad arguments with a plain `Error`.
 */

/** One event as a feed carries it: where it is and its exact wire bytes. */
export interface FeedEvent {
  /** Global order, a decimal string (bigint in the database). */
  position: string;
  room: string;
  seq: number;
  /** The exact wire frame, as published live. */
  frame: string;
}

export interface PageOptions {
  /** Rows per query. */
  pageSize?: number;
  /** Stop after this many events in total. */
  limit?: number;
  /** Room reads: stop after this seq (inclusive). */
  untilSeq?: number;
}

export interface EventLogReader {
  /** Every room's events after `afterPosition`, in position order, up to the high-water mark. */
  readAll(afterPosition: string | number | bigint, limit: number): Promise<StoredEvent[]>;
  /** Keyset pages of one room's events with seq > `afterSeq`, oldest first; ends at the head. */
  roomPages(room: string, afterSeq: number, options?: PageOptions): AsyncGenerator<FeedEvent[], void, undefined>;
  /** Keyset pages of the global feed after `afterPosition`; ends at the high-water mark. */
  allPages(afterPosition: string | number | bigint, options?: PageOptions): AsyncGenerator<FeedEvent[], void, undefined>;
}

export const LOG_READER_DEFAULTS = Object.freeze({
  /** Big enough that per-query overhead vanishes, small enough that a page is a few MiB at most. */
  pageSize: 5_000,
});

/** Every writer takes this transaction-scoped advisory lock before its first insert ("LECTERN1"). */
export const GLOBAL_APPEND_LOCK = 0x4c45_4354_4552_4e31n;

type Db = Kysely<EventStoreDatabase>;

export function checkPosition(value: string | number | bigint): string {
  const text = String(value);
  if (!/^\d{1,19}$/.test(text) || BigInt(text) > 9_223_372_036_854_775_807n) {
    throw new Error(`position must be a non-negative integer (bigint), got ${JSON.stringify(text)}`);
  }
  return BigInt(text).toString();
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got ${String(value)}`);
}

/** Rows of the global feed with `settled` = below the high-water mark. */
async function allPage(db: Db, afterPosition: string, limit: number, columns: 'feed' | 'full') {
  const selected = columns === 'full' ? (['position', 'room_id', 'seq', 'frame', 'type', 'ts', 'data', 'meta'] as const) : (['position', 'room_id', 'seq', 'frame'] as const);
  const rows = await db
    .selectFrom('room_events')
    .select(selected)
    .select(sql<boolean>`tx < pg_snapshot_xmin(pg_current_snapshot())`.as('settled'))
    .where('position', '>', afterPosition)
    .orderBy('position')
    .limit(limit)
    .execute();
  // The high-water mark: nothing at or after the first unsettled row, so what we return is a
  // prefix in position order that can never grow a new member.
  const cut = rows.findIndex((row) => !row.settled);
  return cut < 0 ? rows : rows.slice(0, cut);
}

/** A full `room_events` row as the drivers return it (pg: int8 as string; PGlite: number). */
export interface FullRow {
  position: string | number | bigint;
  room_id: string;
  seq: number;
  type: string;
  ts: string | number | bigint;
  data: unknown;
  meta: unknown;
  frame: string;
}

/** The one mapping from a row to a `StoredEvent`, for room reads and the global feed alike. */
export function toStoredEvent(row: FullRow): StoredEvent {
  return {
    room: row.room_id,
    position: String(row.position),
    seq: row.seq,
    type: row.type,
    ts: Number(row.ts),
    data: row.data as Record<string, unknown>,
    meta: row.meta as Record<string, unknown>,
    frame: row.frame,
  };
}

export async function readAll(db: Db, afterPosition: string | number | bigint, limit: number): Promise<StoredEvent[]> {
  const after = checkPosition(afterPosition);
  checkCount('limit', limit, 1);
  try {
    const rows = await allPage(db, after, limit, 'full');
    return rows.map((row) => toStoredEvent(row as typeof row & FullRow));
  } catch (err) {
    throw unavailable('reading the global feed', err);
  }
}

/**
 * Pages with one query in flight ahead of the consumer: while a page is being written to a
 * client, the next one is already being read. Stopping the generator drops the prefetched page
 * (its query finishes and releases its connection; its failure, if any, is swallowed).
 */
async function* prefetched<K>(
  fetch: (after: K, size: number) => Promise<FeedEvent[]>,
  keyOf: (event: FeedEvent) => K,
  start: K,
  pageSize: number,
  limit: number,
): AsyncGenerator<FeedEvent[], void, undefined> {
  let remaining = limit;
  let next: Promise<FeedEvent[]> | undefined = fetch(start, Math.min(pageSize, remaining));
  try {
    while (next !== undefined) {
      const requested = Math.min(pageSize, remaining);
      const page = await next;
      next = undefined;
      remaining -= page.length;
      // A short page is the end: the head of the room, or the high-water mark of the feed.
      if (page.length === requested && remaining > 0) next = fetch(keyOf(page[page.length - 1]!), Math.min(pageSize, remaining));
      if (page.length > 0) yield page;
    }
  } finally {
    next?.catch(() => undefined);
  }
}

export function roomPages(db: Db, room: string, afterSeq: number, options: PageOptions = {}): AsyncGenerator<FeedEvent[], void, undefined> {
  if (typeof room !== 'string' || room.length === 0) throw new Error(`room must be a non-empty string, got ${JSON.stringify(room)}`);
  checkCount('afterSeq', afterSeq, 0);
  const pageSize = options.pageSize ?? LOG_READER_DEFAULTS.pageSize;
  const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
  checkCount('pageSize', pageSize, 1);
  checkCount('limit', limit, 1);
  const untilSeq = options.untilSeq;
  const fetch = async (after: number, size: number): Promise<FeedEvent[]> => {
    try {
      let query = db
        .selectFrom('room_events')
        .select(['position', 'seq', 'frame'])
        .where('room_id', '=', room)
        .where('seq', '>', after);
      if (untilSeq !== undefined) query = query.where('seq', '<=', untilSeq);
      const rows = await query.orderBy('seq').limit(size).execute();
      return rows.map((row) => ({ position: String(row.position), room, seq: row.seq, frame: row.frame }));
    } catch (err) {
      throw unavailable('reading a room', err);
    }
  };
  return prefetched(fetch, (event) => event.seq, afterSeq, pageSize, limit);
}

export function allPages(db: Db, afterPosition: string | number | bigint, options: PageOptions = {}): AsyncGenerator<FeedEvent[], void, undefined> {
  const after = checkPosition(afterPosition);
  const pageSize = options.pageSize ?? LOG_READER_DEFAULTS.pageSize;
  const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
  checkCount('pageSize', pageSize, 1);
  checkCount('limit', limit, 1);
  const fetch = async (from: string, size: number): Promise<FeedEvent[]> => {
    try {
      const rows = await allPage(db, from, size, 'feed');
      return rows.map((row) => ({ position: String(row.position), room: row.room_id, seq: row.seq, frame: row.frame }));
    } catch (err) {
      throw unavailable('reading the global feed', err);
    }
  };
  return prefetched(fetch, (event) => event.position, after, pageSize, limit);
}
