import { sql, type Kysely } from 'kysely';
import type { StoredEvent } from './event-store.js';
import type { EventStoreDatabase } from './schema.js';
import { unavailable } from './store-errors.js';

/**
 * Reading the log in bulk: one room by `seq`, or every room by `position` (the global feed).
 *
 * Contract (both SQL implementations, held to the contract suite):
 * - Reads are pages: every page is its own short query that starts after the last key of the
 *   page before (a room's line pages: after a seq range known in advance, since seqs are
 *   gapless). No cursor or connection is held between pages, so a reader that stops (an HTTP
 *   client that went away) leaves nothing open on the database.
 * - Line pages (`roomLinePages`, `allLinePages`) carry the same events as `roomPages` and
 *   `allPages`, as NDJSON text joined by the database: what the HTTP API and `lectern replay`
 *   send, without an object or a string per event in this process.
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

/**
 * A page of NDJSON lines, built by the database: `count` lines, each ending in a newline, and
 * the key of the last (a room's seq, or the feed's position). Streaming these costs the
 * process one string per page instead of a row object and a string per event.
 */
export interface LinePage<Key> {
  /** The lines, each followed by "\n" (empty only for an empty page, which is never yielded). */
  lines: string;
  count: number;
  last: Key;
}

export interface EventLogReader {
  /** Every room's events after `afterPosition`, in position order, up to the high-water mark. */
  readAll(afterPosition: string | number | bigint, limit: number): Promise<StoredEvent[]>;
  /** Keyset pages of one room's events with seq > `afterSeq`, oldest first; ends at the head. */
  roomPages(room: string, afterSeq: number, options?: PageOptions): AsyncGenerator<FeedEvent[], void, undefined>;
  /** Keyset pages of the global feed after `afterPosition`; ends at the high-water mark. */
  allPages(afterPosition: string | number | bigint, options?: PageOptions): AsyncGenerator<FeedEvent[], void, undefined>;
  /** `roomPages` as NDJSON: each line one stored frame, exactly (the HTTP API's room replay). */
  roomLinePages(room: string, afterSeq: number, options?: PageOptions): AsyncGenerator<LinePage<number>, void, undefined>;
  /**
   * `allPages` as NDJSON, with the same high-water mark: each line `{"position":P,` followed by
   * the stored frame after its opening brace (the HTTP API's global feed).
   */
  allLinePages(afterPosition: string | number | bigint, options?: PageOptions): AsyncGenerator<LinePage<string>, void, undefined>;
}

export const LOG_READER_DEFAULTS = Object.freeze({
  /** Big enough that per-query overhead vanishes, small enough that a page is a few MiB at most. */
  pageSize: 5_000,
  /**
   * Room line pages read at once. A room's seqs are gapless, so page k+2 is the range after
   * page k+1 and need not wait for it: two queries keep Postgres busy while the consumer writes
   * (the reader does about 1.5 times the events per second of one query at a time).
   */
  roomPagesInFlight: 2,
});

/** `seq` is an `integer` column. */
const MAX_SEQ = 2_147_483_647;

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
async function* prefetched<K, P extends { count: number }>(
  fetch: (after: K, size: number) => Promise<P>,
  keyOf: (page: P) => K,
  start: K,
  pageSize: number,
  limit: number,
): AsyncGenerator<P, void, undefined> {
  let remaining = limit;
  let next: Promise<P> | undefined = fetch(start, Math.min(pageSize, remaining));
  try {
    while (next !== undefined) {
      const requested = Math.min(pageSize, remaining);
      const page = await next;
      next = undefined;
      remaining -= page.count;
      // A short page is the end: the head of the room, or the high-water mark of the feed.
      if (page.count === requested && remaining > 0) next = fetch(keyOf(page), Math.min(pageSize, remaining));
      if (page.count > 0) yield page;
    }
  } finally {
    next?.catch(() => undefined);
  }
}

/** Event pages as `prefetched` counts them. */
function eventPages<K>(fetch: (after: K, size: number) => Promise<FeedEvent[]>, keyOf: (event: FeedEvent) => K, start: K, pageSize: number, limit: number): AsyncGenerator<FeedEvent[], void, undefined> {
  const counted = prefetched(
    async (after: K, size: number) => {
      const events = await fetch(after, size);
      return { events, count: events.length };
    },
    (page) => keyOf(page.events[page.events.length - 1]!),
    start,
    pageSize,
    limit,
  );
  return (async function* () {
    try {
      for await (const page of counted) yield page.events;
    } finally {
      await counted.return(undefined);
    }
  })();
}

function pageSettings(options: PageOptions): { pageSize: number; limit: number } {
  const pageSize = options.pageSize ?? LOG_READER_DEFAULTS.pageSize;
  const limit = options.limit ?? Number.MAX_SAFE_INTEGER;
  checkCount('pageSize', pageSize, 1);
  checkCount('limit', limit, 1);
  return { pageSize, limit };
}

function checkRoom(room: string): void {
  if (typeof room !== 'string' || room.length === 0) throw new Error(`room must be a non-empty string, got ${JSON.stringify(room)}`);
}

export function roomPages(db: Db, room: string, afterSeq: number, options: PageOptions = {}): AsyncGenerator<FeedEvent[], void, undefined> {
  checkRoom(room);
  checkCount('afterSeq', afterSeq, 0);
  const { pageSize, limit } = pageSettings(options);
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
  return eventPages(fetch, (event) => event.seq, afterSeq, pageSize, limit);
}

export function allPages(db: Db, afterPosition: string | number | bigint, options: PageOptions = {}): AsyncGenerator<FeedEvent[], void, undefined> {
  const after = checkPosition(afterPosition);
  const { pageSize, limit } = pageSettings(options);
  const fetch = async (from: string, size: number): Promise<FeedEvent[]> => {
    try {
      const rows = await allPage(db, from, size, 'feed');
      return rows.map((row) => ({ position: String(row.position), room: row.room_id, seq: row.seq, frame: row.frame }));
    } catch (err) {
      throw unavailable('reading the global feed', err);
    }
  };
  return eventPages(fetch, (event) => event.position, after, pageSize, limit);
}

/*
 * The line pages join a page's lines in the database: `string_agg` over a subquery that is
 * ordered and limited. An ungrouped aggregate takes its input rows in the order the subquery
 * returns them (the ORDER BY ... LIMIT has to produce them in order to pick the first N), so
 * the lines are in key order without the aggregate's own ORDER BY, which would sort the page
 * again: a third or more of the query's time here. The contract suite checks the order on
 * Postgres and PGlite. Frames are JSON, so they hold no raw newline. The feed drops a frame's
 * opening brace with `right(frame, -1)`: `substr(frame, 2)` costs twice as much per row here.
 */

interface LineRow {
  count: number;
  last: number | string | null;
  lines: string | null;
}

/** The page a line query returned; an empty one keeps the key it started after. */
function toLinePage<K>(row: LineRow | undefined, after: K, key: (last: number | string) => K): LinePage<K> {
  if (row === undefined || row.count === 0 || row.lines === null || row.last === null) return { lines: '', count: 0, last: after };
  return { lines: `${row.lines}\n`, count: row.count, last: key(row.last) };
}

/**
 * Pages of one room as seq ranges, `LOG_READER_DEFAULTS.roomPagesInFlight` queries at a time:
 * page k covers (from, from + size], and a full page (`size` rows) proves the next range
 * starts right after it. The first short page is the head, unless the log has a gap (it never
 * should): so from its last seq the rest is read as keyset pages, whose first short page is the
 * end either way. Ranges already in flight past a short page are dropped unread, so rows
 * appended meanwhile can never follow a hole.
 */
export function roomLinePages(db: Db, room: string, afterSeq: number, options: PageOptions = {}): AsyncGenerator<LinePage<number>, void, undefined> {
  checkRoom(room);
  checkCount('afterSeq', afterSeq, 0);
  const { pageSize, limit } = pageSettings(options);
  const untilSeq = Math.min(options.untilSeq ?? MAX_SEQ, MAX_SEQ);
  checkCount('untilSeq', untilSeq, 0);
  const fetch = async (after: number, until: number, size: number): Promise<LinePage<number>> => {
    try {
      const { rows } = await sql<LineRow>`
        select count(*)::int as count, max(seq) as last, string_agg(frame, ${'\n'}) as lines
        from (
          select seq, frame from room_events
          where room_id = ${room} and seq > ${after} and seq <= ${until}
          order by seq limit ${size}
        ) page`.execute(db);
      return toLinePage(rows[0], after, Number);
    } catch (err) {
      throw unavailable('reading a room', err);
    }
  };
  const inFlight = LOG_READER_DEFAULTS.roomPagesInFlight;
  return (async function* () {
    let remaining = limit;
    let last = afterSeq;
    const ranges: { size: number; page: Promise<LinePage<number>> }[] = [];
    let nextFrom = afterSeq;
    let planned = 0;
    const plan = () => {
      while (ranges.length < inFlight) {
        const size = Math.min(pageSize, remaining - planned, untilSeq - nextFrom);
        if (size <= 0) return;
        ranges.push({ size, page: fetch(nextFrom, nextFrom + size, size) });
        nextFrom += size;
        planned += size;
      }
    };
    try {
      plan();
      for (let range = ranges.shift(); range !== undefined; range = ranges.shift()) {
        const page = await range.page;
        planned -= range.size;
        remaining -= page.count;
        if (page.count > 0) last = page.last;
        if (page.count === range.size) {
          plan();
          yield page;
          continue;
        }
        if (page.count > 0) yield page;
        break;
      }
    } finally {
      for (const range of ranges.splice(0)) range.page.catch(() => undefined);
    }
    if (remaining > 0 && last < untilSeq) {
      yield* prefetched((after, size) => fetch(after, untilSeq, size), (page) => page.last, last, pageSize, remaining);
    }
  })();
}

export function allLinePages(db: Db, afterPosition: string | number | bigint, options: PageOptions = {}): AsyncGenerator<LinePage<string>, void, undefined> {
  const after = checkPosition(afterPosition);
  const { pageSize, limit } = pageSettings(options);
  const fetch = async (from: string, size: number): Promise<LinePage<string>> => {
    try {
      // The high-water mark as in `allPage`: of the next `size` rows, only those before the first
      // unsettled one (found once, by the scalar subquery, in the statement's one snapshot).
      const { rows } = await sql<LineRow>`
        select count(*)::int as count, max(position)::text as last,
               string_agg('{"position":' || position || ',' || right(frame, -1), ${'\n'}) as lines
        from (
          select position, frame from room_events
          where position > ${from}::bigint and position < coalesce((
            select min(position) from (
              select position, tx from room_events where position > ${from}::bigint order by position limit ${size}
            ) ahead
            where not (tx < pg_snapshot_xmin(pg_current_snapshot()))
          ), 9223372036854775807)
          order by position limit ${size}
        ) settled`.execute(db);
      return toLinePage(rows[0], from, String);
    } catch (err) {
      throw unavailable('reading the global feed', err);
    }
  };
  return prefetched(fetch, (page) => page.last, after, pageSize, limit);
}
