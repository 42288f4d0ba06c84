/**
 * The event log: the truth of every room. Actor state is a fold of it.
 *
 * Contract (every implementation, Postgres and PGlite, passes the same suite):
 * - `append(room, expectedSeq, events)` writes `events` (seqs expectedSeq+1, +2, ... in order,
 *   no gaps) atomically: all or none. The unique `(room_id, seq)` is the fence: if another
 *   writer already appended any of these seqs it rejects with a `VersionConflictError`
 *   (`isVersionConflict(err)`), and nothing of this call is written. Any other failure
 *   (database down) rejects with `StoreUnavailableError`, and nothing of this call is written.
 * - Appends of different rooms may be grouped into one transaction (group commit); the
 *   atomicity above still holds per call: a conflict in one call rejects only that call (and
 *   the calls of its room after it, below), never the other rooms' calls in the same flush.
 * - `expectedSeq` must be the room's committed head: when `expectedSeq > 0` and seq
 *   `expectedSeq` is not in the log (nor written by an earlier call in the same flush), the
 *   call rejects with `VersionConflictError`, so a log can never get a gap.
 * - Pipelining: a writer may call `append` again before the previous call settled; calls of
 *   one room are written in call order. When a call of room R fails (any error), every
 *   later call of room R that has not been written yet (queued, or in the same flush) is
 *   rejected with the same kind of error (`cause` = the first failure), before any further
 *   flush runs, because those events continue seqs that were never written. The writer must
 *   then reload the room's head from the log before appending again.
 * - A `StoreUnavailableError` raised while committing can leave the outcome unknown (the
 *   commit may have landed before the connection broke); reloading the head settles it.
 * - Misuse rejects with a plain `Error`/`TypeError` and writes nothing. Found at the call
 *   (seqs not `expectedSeq+1, +2, ...`, data that is not a JSON object) it never reaches a
 *   flush; found by the database (e.g. `\u0000` in jsonb) it cascades like any failure above,
 *   and the other rooms of that flush are still written.
 * - Reads that fail for any reason but misuse reject with `StoreUnavailableError`.
 * - Reads return committed events only, in seq order for a room; `position` is the global
 *   order (identity column), as a decimal string.
 * - `frame` is stored verbatim: a read returns the exact bytes that were published live.
 */
export interface NewEvent {
  seq: number;
  type: string;
  /** Server time of the event, ms since epoch (the wire `ts`). */
  ts: number;
  /** The event's wire fields other than type/room/seq/ts, for queries and folding. */
  data: Record<string, unknown>;
  /** Connection, gateway, correlation id: never sent to clients. */
  meta: Record<string, unknown>;
  /** The exact wire frame (JSON text) as delivered live. */
  frame: string;
}

export interface StoredEvent extends NewEvent {
  room: string;
  position: string;
}

export interface Snapshot {
  room: string;
  seq: number;
  state: unknown;
}

export interface EventStore {
  append(room: string, expectedSeq: number, events: readonly NewEvent[]): Promise<void>;
  /** Events with seq > afterSeq, oldest first, at most `limit`. */
  readRoom(room: string, afterSeq: number, limit: number): Promise<StoredEvent[]>;
  /** The room's highest committed seq, 0 when empty. */
  head(room: string): Promise<number>;
  /** Keeps the newest snapshot per room: an older `seq` never replaces a newer one. */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  loadSnapshot(room: string): Promise<Snapshot | undefined>;
  /** Cheap check for readiness. */
  ping(): Promise<void>;
  /** Waits for queued appends to settle, then releases the connections. Appends after it reject. */
  close(): Promise<void>;
}

/** One flush of the group commit, reported to `onFlush` listeners after it settled. */
export interface FlushReport {
  /** `append` calls taken by this flush. */
  appends: number;
  /** Events in those calls: the batch size. */
  events: number;
  /** Calls rejected with `VersionConflictError` (including the same room's later calls). */
  conflicts: number;
  /** Calls rejected with `StoreUnavailableError` or misuse found by the database. */
  failures: number;
  /** Transactions it took: 1, plus 1 per retry after a conflict. */
  transactions: number;
  durationMs: number;
}

/** Totals since the store was opened, for metrics and benchmarks (mean batch = events / flushes). */
export interface AppendStats {
  flushes: number;
  appends: number;
  events: number;
  /** Events written (committed), of `events`. */
  committedEvents: number;
  conflicts: number;
  failures: number;
  /** Queued calls rejected because an earlier call of their room failed. */
  cascaded: number;
  transactions: number;
  lastBatchSize: number;
  maxBatchSize: number;
  /** Sum of flush durations, ms. */
  flushMs: number;
  /** Calls waiting for the next flush right now. */
  queued: number;
}

/** What the SQL implementations (Postgres, PGlite) offer beyond the contract. */
export interface GroupCommitEventStore extends EventStore {
  /** Applies the schema migrations; run once at start (or via `lectern migrate`). */
  migrate(): Promise<void>;
  stats(): AppendStats;
  /** Calls `listener` after every flush; returns the function that unsubscribes it. */
  onFlush(listener: (report: FlushReport) => void): () => void;
}

export class VersionConflictError extends Error {
  readonly code = 'version_conflict' as const;
  readonly room: string;
  constructor(room: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VersionConflictError';
    this.room = room;
  }
}
export function isVersionConflict(err: unknown): err is VersionConflictError {
  return err instanceof VersionConflictError;
}

export class StoreUnavailableError extends Error {
  readonly code = 'store_unavailable' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}
export function isStoreUnavailable(err: unknown): err is StoreUnavailableError {
  return err instanceof StoreUnavailableError;
}
