import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/** The event log and its snapshots (DESIGN.md §5). */
export const eventLog: Migration = {
  async up(db: Kysely<any>): Promise<void> {
    await db.schema
      .createTable('room_events')
      .addColumn('position', 'bigint', (column) => column.generatedAlwaysAsIdentity().primaryKey())
      .addColumn('room_id', 'text', (column) => column.notNull())
      .addColumn('seq', 'integer', (column) => column.notNull())
      .addColumn('type', 'text', (column) => column.notNull())
      .addColumn('ts', 'bigint', (column) => column.notNull())
      .addColumn('data', 'jsonb', (column) => column.notNull())
      .addColumn('meta', 'jsonb', (column) => column.notNull())
      .addColumn('frame', 'text', (column) => column.notNull())
      .addColumn('tx', sql`xid8`, (column) => column.notNull().defaultTo(sql`pg_current_xact_id()`))
      .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
      // The fence between two writers of one room: only one of them can append seq N.
      .addUniqueConstraint('room_events_room_id_seq_key', ['room_id', 'seq'])
      .addCheckConstraint('room_events_seq_positive', sql`seq > 0`)
      .execute();

    await db.schema
      .createTable('room_snapshots')
      .addColumn('room_id', 'text', (column) => column.primaryKey())
      .addColumn('seq', 'integer', (column) => column.notNull())
      .addColumn('state', 'jsonb', (column) => column.notNull())
      .addColumn('created_at', 'timestamptz', (column) => column.notNull().defaultTo(sql`now()`))
      .execute();
  },

  async down(db: Kysely<any>): Promise<void> {
    await db.schema.dropTable('room_snapshots').execute();
    await db.schema.dropTable('room_events').execute();
  },
};
