import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect } from 'kysely';
import { KyselyEventStore } from './kysely-event-store.js';
import type { EventStoreDatabase } from './schema.js';

export interface PgliteEventStoreOptions {
  /** Directory of the embedded database; undefined keeps it in memory. */
  dataDir?: string;
  /**
   * An open PGlite to use instead (shared with other code, or a second writer in tests).
   * The store then does not close it.
   */
  pglite?: PGlite;
}

/**
 * The event store on embedded PGlite (Postgres in WebAssembly): the all-in-one mode's log.
 * Opening is lazy (the first query starts PGlite, which takes a few seconds); run
 * `migrate()` once before use.
 */
export function createPgliteEventStore(options: PgliteEventStoreOptions = {}): KyselyEventStore {
  const shared = options.pglite;
  const dialect = new PGliteDialect({ pglite: shared ?? (() => new PGlite(options.dataDir)) });
  const db = new Kysely<EventStoreDatabase>({ dialect });
  return new KyselyEventStore(db, { ownsDatabase: shared === undefined });
}
