import { sql, type Kysely } from 'kysely';
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration';
import { eventLog } from './0001-event-log.js';
import { appendCheck } from './0002-append-check.js';

/**
 * Every migration, in code rather than read from a folder, so the built package migrates
 * from wherever it is installed (bundled, in a container, under a test runner). Names sort
 * in the order they run; never rename or edit one that has shipped, add the next instead.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-event-log': eventLog,
  '0002-append-check': appendCheck,
});

const inCodeProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve({ ...MIGRATIONS }),
};

/**
 * Own bookkeeping tables, so the event store's migrations never mix with another package's
 * Kysely migrations in the same schema. Unqualified: they live in the connection's
 * `search_path`, like the tables they describe.
 */
const MIGRATION_TABLE = 'event_store_migration';
const MIGRATION_LOCK_TABLE = 'event_store_migration_lock';

/** Brings the schema to the latest migration. Safe to run concurrently from several processes. */
export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  // Name the schema explicitly: without it Kysely looks for its bookkeeping tables in *every*
  // schema, finds another schema's, and skips creating this one's (several Lectern schemas in
  // one database, as the tests and multi-tenant setups have, then fail to migrate).
  const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(db);
  const schema = rows[0]?.schema;
  if (schema === undefined || schema === null) throw new Error('event-store migration: no current schema (check search_path)');
  const migrator = new Migrator({
    db,
    provider: inCodeProvider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    migrationTableSchema: schema,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error');
    const which = failed === undefined ? '' : ` (migration ${failed.migrationName})`;
    throw new Error(`event-store migration failed${which}: ${String(error)}`, { cause: error });
  }
}
