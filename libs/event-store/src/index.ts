export {
  type AppendStats,
  type EventStore,
  type FlushReport,
  type GroupCommitEventStore,
  type NewEvent,
  type Snapshot,
  type StoredEvent,
  StoreUnavailableError,
  VersionConflictError,
  isStoreUnavailable,
  isVersionConflict,
} from './event-store.js';
export { KyselyEventStore, type KyselyEventStoreOptions } from './kysely-event-store.js';
export {
  createPostgresEventStore,
  POSTGRES_EVENT_STORE_DEFAULTS,
  type PostgresEventStoreOptions,
} from './postgres-event-store.js';
export { createPgliteEventStore, type PgliteEventStoreOptions } from './pglite-event-store.js';
export { MIGRATIONS, migrateToLatest } from './migrations/index.js';
export type { EventStoreDatabase, RoomEventsTable, RoomSnapshotsTable } from './schema.js';
export {
  GLOBAL_APPEND_LOCK,
  LOG_READER_DEFAULTS,
  checkPosition,
  type EventLogReader,
  type FeedEvent,
  type LinePage,
  type PageOptions,
} from './log-reader.js';
