import type { ColumnType, GeneratedAlways, Generated } from 'kysely';

/**
 * The tables of the event log, as Kysely sees them. `bigint` columns come back from `pg` as
 * decimal strings (they can exceed 2^53), and are written as numbers or strings.
 */
export interface RoomEventsTable {
  /** Global order of every event, across rooms. */
  position: GeneratedAlways<string>;
  room_id: string;
  seq: number;
  type: string;
  /** The wire `ts`, ms since epoch. */
  ts: ColumnType<string, number | string, never>;
  data: ColumnType<unknown, string, never>;
  meta: ColumnType<unknown, string, never>;
  /** The exact wire frame: jsonb would reorder keys, so the bytes are kept as text. */
  frame: string;
  /** The writing transaction's id, for a global feed that never skips a late commit. */
  tx: Generated<string>;
  created_at: Generated<Date>;
}

export interface RoomSnapshotsTable {
  room_id: string;
  seq: number;
  state: ColumnType<unknown, string, string>;
  created_at: Generated<Date>;
}

export interface EventStoreDatabase {
  room_events: RoomEventsTable;
  room_snapshots: RoomSnapshotsTable;
}
