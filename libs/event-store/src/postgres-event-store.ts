import { Kysely, PostgresDialect, type PostgresPoolClient } from 'kysely';
import pg, { type Pool } from 'pg';
import { KyselyEventStore } from './kysely-event-store.js';
import { preparedNameOf } from './prepared-statements.js';
import type { EventStoreDatabase } from './schema.js';

export interface PostgresEventStoreOptions {
  connectionString: string;
  /** Connections in the pool. Appends use one at a time (one flush at a time); reads share the rest. */
  poolSize?: number;
  /** How long to wait for a connection before the call fails with `StoreUnavailableError`. */
  connectionTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Server-side limit per statement, so a stuck flush fails instead of holding every append. */
  statementTimeoutMs?: number;
  applicationName?: string;
  /** Called with errors of idle pooled connections (the server went away); they are otherwise dropped. */
  onPoolError?: (err: Error) => void;
}

export const POSTGRES_EVENT_STORE_DEFAULTS = Object.freeze({
  poolSize: 10,
  connectionTimeoutMs: 5_000,
  idleTimeoutMs: 30_000,
  statementTimeoutMs: 30_000,
  applicationName: 'lectern-event-store',
});

/** The event store on a Postgres server, through a `pg` pool. Run `migrate()` once before use. */
export function createPostgresEventStore(options: PostgresEventStoreOptions): KyselyEventStore {
  const db = new Kysely<EventStoreDatabase>({ dialect: new PostgresDialect({ pool: createPostgresPool(options) }) });
  return new KyselyEventStore(db);
}

/** The store's pool: its settings, and the hot statements prepared on each connection. */
export function createPostgresPool(options: PostgresEventStoreOptions): Pool {
  const settings = { ...POSTGRES_EVENT_STORE_DEFAULTS, ...definedOnly(options) };
  const pool = new pg.Pool({
    connectionString: settings.connectionString,
    max: settings.poolSize,
    connectionTimeoutMillis: settings.connectionTimeoutMs,
    idleTimeoutMillis: settings.idleTimeoutMs,
    statement_timeout: settings.statementTimeoutMs,
    application_name: settings.applicationName,
  });
  // Without a listener an idle connection's error (server restart) crashes the process.
  pool.on('error', (err) => options.onPoolError?.(err));
  pool.on('connect', prepareHotStatements);
  return pool;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

/**
 * Makes a new pooled connection run the statements marked by `preparedAs` as named prepared
 * statements (parsed once per connection), with custom plans only (see prepared-statements.ts
 * for why). The SET is queued on the connection before anything Kysely sends on it.
 */
function prepareHotStatements(client: PostgresPoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<unknown>;
  query('set plan_cache_mode = force_custom_plan', []).catch(() => {
    // The connection failed; whatever runs on it next fails too, and reports why.
  });
  (client as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const [text, values] = args;
    const name = typeof text === 'string' ? preparedNameOf(text) : undefined;
    return name === undefined ? query(...args) : query({ name, text, values });
  };
}
