import { sql, type Kysely, type RawBuilder } from 'kysely';
import { VersionConflictError } from './event-store.js';
import type { AppendCall, EventRow, WriteBatch } from './append-batcher.js';
import { GLOBAL_APPEND_LOCK } from './log-reader.js';
import { preparedAs } from './prepared-statements.js';
import type { EventStoreDatabase } from './schema.js';
import { cascaded, isRefusedByDatabase, refused, unavailable } from './store-errors.js';

/**
 * Rows per statement. The statement passes columns as arrays (`unnest`), so its text and its
 * parameter count (9) are the same for every batch size: Postgres parses and plans one small
 * statement instead of a VALUES list with 7 parameters per row (measured 4x faster at 100 rows).
 * Very large batches are still split so one statement's arrays stay a reasonable size.
 */
export const MAX_ROWS_PER_STATEMENT = 10_000;

type Item = { kind: 'row'; room: string; row: EventRow } | { kind: 'head'; room: string; seq: number };

const key = (room: string, seq: number): string => `${seq}:${room}`;

/** Thrown inside the transaction to roll it back; carries the calls that must not commit. */
class RollBack extends Error {
  constructor(readonly failures: Map<number, Error>) {
    super('roll back the group commit');
  }
}

/**
 * Writes a batch of appends with as few transactions as the conflicts allow: normally one,
 * with one multi-row insert. Per-call atomicity in a shared transaction: the insert skips
 * rows that hit the `(room_id, seq)` fence, and when any call did not get all its rows in
 * (or its `expectedSeq` is not the head), the transaction is rolled back, those calls (and
 * the later calls of their rooms) are rejected, and the rest is written again.
 */
export function createBatchWriter(db: Kysely<EventStoreDatabase>): WriteBatch {
  const writeBatch: WriteBatch = async (batch) => {
    const outcomes: (Error | undefined)[] = batch.map(() => undefined);
    let pending = batch.map((_, index) => index);
    let transactions = 0;

    // The common case, one round trip: the whole flush as one autocommitted statement that
    // takes the global append lock itself and aborts itself on any conflict (see fastStatement).
    const plan = planCalls(batch);
    if (plan.claimedEarlier.size === 0 && plan.items.length <= MAX_ROWS_PER_STATEMENT) {
      transactions += 1;
      try {
        await fastStatement(plan.items).execute(db);
        return { outcomes, transactions };
      } catch (err) {
        // A conflict rolled the statement back: the transactional path below finds whose.
        // Any other failure is handled there too, on a second try.
        if (!isAppendConflict(err) && !isRefusedByDatabase(err)) {
          const failure = unavailable('appending', err);
          return { outcomes: outcomes.map(() => failure), transactions };
        }
      }
    }

    while (pending.length > 0) {
      transactions += 1;
      const calls = pending.map((index) => batch[index]!);
      try {
        await db.transaction().execute(async (tx) => {
          // Before any position or transaction id is taken: positions then follow transaction
          // ids across writers, which the global feed's high-water mark relies on (log-reader.ts).
          await sql`select pg_advisory_xact_lock(${GLOBAL_APPEND_LOCK.toString()}::bigint)`.execute(tx);
          const failures = await insertCalls(tx, calls);
          if (failures.size > 0) throw new RollBack(failures);
        });
        return { outcomes, transactions };
      } catch (err) {
        if (err instanceof RollBack) {
          for (const [local, failure] of err.failures) outcomes[pending[local]!] = failure;
          pending = pending.filter((_, local) => !err.failures.has(local));
          continue;
        }
        if (isRefusedByDatabase(err) && pending.length > 1) {
          // One call's data was refused, and the statement does not say whose: write each
          // call alone, so only the bad one fails.
          transactions += await writeOneByOne(pending, batch, outcomes);
          return { outcomes, transactions };
        }
        const failure = isRefusedByDatabase(err) ? refused(calls[0]!.room, err) : unavailable('appending', err);
        for (const index of pending) outcomes[index] = failure;
        return { outcomes, transactions };
      }
    }
    return { outcomes, transactions };
  };

  async function writeOneByOne(pending: number[], batch: readonly AppendCall[], outcomes: (Error | undefined)[]): Promise<number> {
    let transactions = 0;
    const failedRooms = new Map<string, Error>();
    for (const index of pending) {
      const call = batch[index]!;
      const earlier = failedRooms.get(call.room);
      if (earlier !== undefined) {
        outcomes[index] = cascaded(call.room, earlier);
        continue;
      }
      const result = await writeBatch([call]);
      transactions += result.transactions;
      const outcome = result.outcomes[0];
      outcomes[index] = outcome;
      if (outcome !== undefined) failedRooms.set(call.room, outcome);
    }
    return transactions;
  }

  return writeBatch;
}

/**
 * Inserts every row of `calls` in one transaction (one statement unless the parameter limit
 * splits it) and returns the calls that failed, by index in `calls`. Each statement also reads
 * back the `expectedSeq` rows it needs, so checking that the log has no gap costs no round trip.
 */
interface Plan {
  /** The expected heads (each once), then the rows in (room, seq) order. */
  items: Item[];
  /** Calls (by index) that claim a seq an earlier call of the batch already claims. */
  claimedEarlier: Map<number, EventRow>;
}

function planCalls(calls: readonly AppendCall[]): Plan {
  const heads: Item[] = [];
  const rows: (Item & { kind: 'row' })[] = [];
  const inBatch = new Set<string>();
  const headKeys = new Set<string>();
  // Two calls of this batch claiming one seq: the insert would keep one row and RETURNING
  // could not say whose, so the earlier call wins here and the later one is a conflict.
  const claimedEarlier = new Map<number, EventRow>();
  calls.forEach((call, index) => {
    const taken = call.rows.find((row) => inBatch.has(key(call.room, row.seq)));
    if (taken !== undefined) {
      claimedEarlier.set(index, taken);
      return;
    }
    // An earlier call of this batch that writes seq `expectedSeq` vouches for it, if it commits.
    const headKey = key(call.room, call.expectedSeq);
    if (call.expectedSeq > 0 && !inBatch.has(headKey) && !headKeys.has(headKey)) {
      headKeys.add(headKey);
      heads.push({ kind: 'head', room: call.room, seq: call.expectedSeq });
    }
    for (const row of call.rows) {
      rows.push({ kind: 'row', room: call.room, row });
      inBatch.add(key(call.room, row.seq));
    }
  });
  // Rows go in (room, seq) order: two writers that overlap on several rooms (a failover)
  // then take the unique-index locks in the same order and cannot deadlock.
  rows.sort((a, b) => (a.room < b.room ? -1 : a.room > b.room ? 1 : a.row.seq - b.row.seq));
  return { items: [...heads, ...rows], claimedEarlier };
}

async function insertCalls(tx: Kysely<EventStoreDatabase>, calls: readonly AppendCall[]): Promise<Map<number, Error>> {
  const { items, claimedEarlier } = planCalls(calls);

  const inserted = new Set<string>();
  const existing = new Set<string>();
  for (const chunk of chunkByRows(items)) {
    const result = await statementFor(chunk).execute(tx);
    for (const row of result.rows) (row.inserted ? inserted : existing).add(key(row.room_id, row.seq));
  }

  const failures = new Map<number, Error>();
  const failedRooms = new Map<string, Error>();
  calls.forEach((call, index) => {
    const earlier = failedRooms.get(call.room);
    let failure: Error | undefined;
    if (earlier !== undefined) {
      failure = cascaded(call.room, earlier);
    } else {
      const taken = claimedEarlier.get(index) ?? call.rows.find((row) => !inserted.has(key(call.room, row.seq)));
      const headKey = key(call.room, call.expectedSeq);
      if (taken !== undefined) {
        failure = new VersionConflictError(call.room, `room ${call.room}: seq ${taken.seq} was already appended by another writer`);
      } else if (call.expectedSeq > 0 && !inserted.has(headKey) && !existing.has(headKey)) {
        failure = new VersionConflictError(
          call.room,
          `room ${call.room}: expected seq ${call.expectedSeq} is not in the log, so appending after it would leave a gap`,
        );
      }
    }
    if (failure !== undefined) {
      failures.set(index, failure);
      failedRooms.set(call.room, failure);
    }
  });
  return failures;
}

function* chunkByRows(items: readonly Item[]): Generator<Item[]> {
  for (let start = 0; start < items.length; start += MAX_ROWS_PER_STATEMENT) yield items.slice(start, start + MAX_ROWS_PER_STATEMENT);
}

interface StatementRow {
  inserted: boolean;
  room_id: string;
  seq: number;
}

/**
 * One statement: the multi-row insert (rows another writer already holds are skipped, not
 * raised, so one conflict does not abort the shared transaction) and, in the same snapshot,
 * the `expectedSeq` rows that must already be there. jsonb goes in as text (`::text::jsonb`)
 * so no driver re-encodes the JSON that `append` already serialized.
 */
function statementFor(items: readonly Item[]): RawBuilder<StatementRow> {
  const { rooms, seqs, types, tss, datas, metas, frames, headRooms, headSeqs } = columnsOf(items);
  // One fixed statement text for every batch: the inserted rows (skipping any that hit the
  // (room_id, seq) fence) plus the expectedSeq rows that already exist, in one round trip.
  return sql<StatementRow>`with inserted as (
      insert into room_events (room_id, seq, type, ts, data, meta, frame)
      select r, s, t, ts, d::jsonb, m::jsonb, f
        from unnest(${rooms}::text[], ${seqs}::integer[], ${types}::text[], ${tss}::bigint[],
                    ${datas}::text[], ${metas}::text[], ${frames}::text[]) as u(r, s, t, ts, d, m, f)
      on conflict (room_id, seq) do nothing
      returning room_id, seq)
    select true as inserted, room_id, seq from inserted
    union all
    select false, e.room_id, e.seq
      from unnest(${headRooms}::text[], ${headSeqs}::integer[]) as h(room_id, seq)
      join room_events e on e.room_id = h.room_id and e.seq = h.seq`;
}

const APPEND_PREPARED = preparedAs('lectern_append');

/** SQLSTATE raised by `lectern_append_check` (migration 0002) when the fast path hit a conflict. */
const APPEND_CONFLICT = 'LC409';

function isAppendConflict(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === APPEND_CONFLICT;
}

/**
 * The whole flush in one autocommitted statement (one round trip instead of four: BEGIN, lock,
 * insert, COMMIT). The global append lock is an uncorrelated subquery in the insert's filter,
 * so Postgres takes it once, before the first row gets its position, and holds it until the
 * statement commits: the same order as the transactional path. `lectern_append_check` raises
 * when a row hit the fence or an expected head is missing, which rolls back every row of the
 * statement; the caller then writes the batch on the transactional path to find whose call it was.
 */
function fastStatement(items: readonly Item[]): RawBuilder<{ ok: boolean }> {
  const { rooms, seqs, types, tss, datas, metas, frames, headRooms, headSeqs } = columnsOf(items);
  // Prepared once per connection on Postgres (prepared-statements.ts): one text for every batch.
  return sql<{ ok: boolean }>`${sql.raw(APPEND_PREPARED)} with inserted as (
      insert into room_events (room_id, seq, type, ts, data, meta, frame)
      select r, s, t, ts, d::jsonb, m::jsonb, f
        from unnest(${rooms}::text[], ${seqs}::integer[], ${types}::text[], ${tss}::bigint[],
                    ${datas}::text[], ${metas}::text[], ${frames}::text[]) as u(r, s, t, ts, d, m, f)
       where (select count(*) from (select pg_advisory_xact_lock(${GLOBAL_APPEND_LOCK.toString()}::bigint)) as l) = 1
      on conflict (room_id, seq) do nothing
      returning 1)
    select lectern_append_check(
      (select count(*) from inserted), ${rooms.length}::integer,
      (select count(*) from unnest(${headRooms}::text[], ${headSeqs}::integer[]) as h(room_id, seq)
         join room_events e on e.room_id = h.room_id and e.seq = h.seq), ${headRooms.length}::integer) as ok`;
}

function columnsOf(items: readonly Item[]) {
  const rooms: string[] = [];
  const seqs: number[] = [];
  const types: string[] = [];
  const tss: number[] = [];
  const datas: string[] = [];
  const metas: string[] = [];
  const frames: string[] = [];
  const headRooms: string[] = [];
  const headSeqs: number[] = [];
  for (const item of items) {
    if (item.kind === 'row') {
      const { row } = item;
      rooms.push(item.room);
      seqs.push(row.seq);
      types.push(row.type);
      tss.push(row.ts);
      datas.push(row.data);
      metas.push(row.meta);
      frames.push(row.frame);
    } else {
      headRooms.push(item.room);
      headSeqs.push(item.seq);
    }
  }
  return { rooms, seqs, types, tss, datas, metas, frames, headRooms, headSeqs };
}
