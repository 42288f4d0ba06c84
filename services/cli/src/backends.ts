/**
 * Opens the two backends a process needs from its configuration: the event log (Postgres at
 * DATABASE_URL, else embedded PGlite in LECTERN_DATA_DIR) and the bus (NATS at NATS_URL,
 * else in-process). Everything above these two interfaces is the same code in both modes.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { connectNatsBus, createMemoryBroker, type Bus, type MemoryBroker } from '@lectern/bus';
import { createPgliteEventStore, createPostgresEventStore, type KyselyEventStore } from '@lectern/event-store';
import type { Logger } from 'pino';
import type { Config } from './config.js';

export async function openStore(config: Config, logger: Logger, options: { migrate: boolean }): Promise<KyselyEventStore> {
  let store: KyselyEventStore;
  if (config.databaseUrl !== undefined) {
    store = createPostgresEventStore({
      connectionString: config.databaseUrl,
      onPoolError: (err) => logger.warn({ err }, 'postgres connection lost'),
    });
    logger.info({ database: redact(config.databaseUrl) }, 'event log: postgres');
  } else {
    const dir = resolve(config.dataDir, 'pglite');
    mkdirSync(dir, { recursive: true });
    store = createPgliteEventStore({ dataDir: dir });
    logger.info({ dataDir: dir }, 'event log: embedded PGlite (set DATABASE_URL for Postgres)');
  }
  if (options.migrate) await store.migrate();
  return store;
}

/** For the all-in-one process: one broker, one connection per role. */
export interface BusPair {
  gateway: Bus;
  rooms: Bus;
  close(): Promise<void>;
}

export async function openBus(config: Config, logger: Logger, name: string): Promise<Bus> {
  if (config.natsServers === undefined) throw new Error('openBus needs NATS_URL');
  const bus = await connectNatsBus({
    servers: config.natsServers,
    prefix: config.subjectPrefix,
    shardCount: config.shardCount,
    name,
    waitOnFirstConnect: true,
  });
  bus.onStatus((status) => logger.info({ status }, 'nats status'));
  logger.info({ servers: config.natsServers, prefix: config.subjectPrefix }, 'bus: nats');
  return bus;
}

export async function openBusPair(config: Config, logger: Logger, name: string): Promise<BusPair> {
  if (config.natsServers !== undefined) {
    const gateway = await openBus(config, logger, `${name}-gateway`);
    const rooms = await openBus(config, logger, `${name}-rooms`);
    return { gateway, rooms, close: async () => void (await Promise.all([gateway.close(), rooms.close()])) };
  }
  const broker: MemoryBroker = createMemoryBroker();
  const options = { prefix: config.subjectPrefix, shardCount: config.shardCount };
  const gateway = broker.connect(options);
  const rooms = broker.connect(options);
  logger.info('bus: in-process (set NATS_URL for NATS)');
  return { gateway, rooms, close: async () => void (await Promise.all([gateway.close(), rooms.close()])) };
}

function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}
