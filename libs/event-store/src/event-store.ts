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
 *   atomicity above still holds per call.
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
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  loadSnapshot(room: string): Promise<Snapshot | undefined>;
  /** Cheap check for readiness. */
  ping(): Promise<void>;
  close(): Promise<void>;
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
