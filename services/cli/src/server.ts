/**
 * Composes a Lectern process from its configuration: the all-in-one (gateway + rooms in one
 * process), a gateway alone, or a rooms host alone. Used by the CLI and by black-box tests,
 * which start the real thing on a free port.
 */
import { createSigner, createVerifier, type Verifier } from '@lectern/auth';
import { newGatewayId, startGateway, type Gateway } from '@lectern/gateway';
import { startRoomsService, type RoomsService, type RoomsServiceDeps } from '@lectern/rooms';
import type { Bus } from '@lectern/bus';
import type { KyselyEventStore } from '@lectern/event-store';
import { randomBytes } from 'node:crypto';
import pino, { type Logger } from 'pino';
import { openBus, openBusPair, openStore } from './backends.js';
import { gatewayExtras } from './http-wiring.js';
import { createRoomsMetrics, startMetricsServer } from '@lectern/rooms';
import { logAppendStats } from './append-stats-log.js';
import type { Config, JwtConfig } from './config.js';
import { webRoutes } from './web-routes.js';

export interface Running {
  gateway?: Gateway;
  rooms?: RoomsService;
  store?: KyselyEventStore;
  /** Where `lectern rooms` serves /metrics (LECTERN_METRICS_PORT). */
  metricsPort?: number;
  /** The development secret, when none was configured. */
  devSecret?: string;
  logger: Logger;
  stop(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  return pino({ level: config.logLevel, base: { pid: process.pid } });
}

/** The JWT settings to verify with; a random secret when none is configured (development). */
export function resolveJwt(config: Config): { jwt: JwtConfig; devSecret?: string } {
  if (!config.jwt.generated) return { jwt: config.jwt };
  const devSecret = randomBytes(32).toString('base64url');
  return { jwt: { ...config.jwt, secret: devSecret }, devSecret };
}

function verifierFor(jwt: JwtConfig): Verifier {
  return createVerifier({
    ...(jwt.secret !== undefined ? { secret: jwt.secret } : {}),
    ...(jwt.publicKey !== undefined ? { publicKey: jwt.publicKey } : {}),
    ...(jwt.algorithm !== undefined ? { algorithm: jwt.algorithm } : {}),
    ...(jwt.issuer !== undefined ? { issuer: jwt.issuer } : {}),
    ...(jwt.audience !== undefined ? { audience: jwt.audience } : {}),
  });
}

/** Shard ownership and gateway leases of a rooms service, from the configuration. */
function roomsSharing(config: Config): Pick<RoomsServiceDeps, 'ownership' | 'leases'> {
  const leases = { leaseMs: config.gatewayLeaseMs };
  if (config.shardOwnership === 'all' || config.databaseUrl === undefined) return { leases };
  return { leases, ownership: { connectionString: config.databaseUrl, options: { tickMs: config.ownershipTickMs } } };
}

/** `lectern start`: gateway and rooms in one process, over the in-process bus or NATS. */
export async function startAllInOne(config: Config, logger: Logger = createLogger(config)): Promise<Running> {
  const { jwt, devSecret } = resolveJwt(config);
  const verifier = verifierFor(jwt);
  const store = await openStore(config, logger, { migrate: true });
  const buses = await openBusPair(config, logger, `lectern-${process.pid}`);
  const rooms = await startRoomsService({ bus: buses.rooms, store, logger: logger.child({ service: 'rooms' }), options: config.rooms, ...roomsSharing(config) });
  const stopStats = logAppendStats(store, logger.child({ service: 'rooms' }));
  const gatewayId = newGatewayId(config.gateway.gatewayId);
  const roomsMetrics = createRoomsMetrics({ store, activeRooms: () => rooms.host.activeRooms, service: rooms });
  const extras = gatewayExtras({ bus: buses.gateway, verifier, logger: logger.child({ service: 'gateway' }), gatewayId, log: store, extraRegistries: [roomsMetrics.registry] });
  const gateway = await startGateway({
    bus: extras.bus,
    verifier,
    logger: logger.child({ service: 'gateway' }),
    observer: extras.observer,
    routes: (app) => (extras.routes(app), webRoutes(config, { devSecret })(app)),
    options: { ...config.gateway, gatewayId },
    ready: async () => {
      try {
        await store.ping();
        return buses.rooms.isConnected();
      } catch {
        return false;
      }
    },
  });
  extras.bind(gateway);
  return {
    gateway,
    rooms,
    store,
    ...(devSecret !== undefined ? { devSecret } : {}),
    logger,
    async stop() {
      stopStats();
      extras.close();
      roomsMetrics.close();
      await gateway.stop(config.shutdownTimeoutMs);
      await rooms.stop(config.shutdownTimeoutMs);
      await buses.close();
      await store.close();
    },
  };
}

/** `lectern gateway`: the edge alone, on NATS. */
export async function startGatewayProcess(config: Config, logger: Logger = createLogger(config)): Promise<Running> {
  const { jwt, devSecret } = resolveJwt(config);
  const bus: Bus = await openBus(config, logger, `lectern-gateway-${process.pid}`);
  // Read-only use of the log for replays and the global feed; no DATABASE_URL, no log routes.
  const log = config.databaseUrl !== undefined ? await openStore(config, logger, { migrate: false }) : undefined;
  const verifier = verifierFor(jwt);
  const gatewayId = newGatewayId(config.gateway.gatewayId);
  const extras = gatewayExtras({ bus, verifier, logger: logger.child({ service: 'gateway' }), gatewayId, log });
  const gateway = await startGateway({
    bus: extras.bus,
    verifier,
    logger: logger.child({ service: 'gateway' }),
    observer: extras.observer,
    routes: extras.routes,
    options: { ...config.gateway, gatewayId },
    ...(log !== undefined ? { ready: () => log.ping().then(() => true, () => false) } : {}),
  });
  extras.bind(gateway);
  return {
    gateway,
    ...(devSecret !== undefined ? { devSecret } : {}),
    logger,
    async stop() {
      extras.close();
      await gateway.stop(config.shutdownTimeoutMs);
      await bus.close();
      await log?.close();
    },
  };
}

/** `lectern rooms`: the actor host alone, on NATS and Postgres. */
export async function startRoomsProcess(config: Config, logger: Logger = createLogger(config)): Promise<Running> {
  const store = await openStore(config, logger, { migrate: true });
  const bus = await openBus(config, logger, `lectern-rooms-${process.pid}`);
  const rooms = await startRoomsService({ bus, store, logger: logger.child({ service: 'rooms' }), options: config.rooms, ...roomsSharing(config) });
  const stopStats = logAppendStats(store, logger.child({ service: 'rooms' }));
  const metrics = createRoomsMetrics({ store, activeRooms: () => rooms.host.activeRooms, service: rooms }, { defaultMetrics: true });
  const ready = async () => bus.isConnected() && (rooms.ownership?.connected ?? true) && (await store.ping().then(() => true, () => false));
  const metricsServer = config.metricsPort === undefined ? undefined : await startMetricsServer(metrics.registry, config.metricsHost, config.metricsPort, ready);
  if (metricsServer !== undefined) logger.info({ port: metricsServer.port }, 'rooms metrics listening on /metrics');
  return {
    rooms,
    store,
    ...(metricsServer !== undefined ? { metricsPort: metricsServer.port } : {}),
    logger,
    async stop() {
      stopStats();
      await metricsServer?.close();
      metrics.close();
      await rooms.stop(config.shutdownTimeoutMs);
      await bus.close();
      await store.close();
    },
  };
}

/** A development token for the CLI's `token` command and the printed sign-in link. */
export function mintToken(secret: string, claims: { sub: string; name?: string; role?: string; rooms?: string[] }, expiresInSec: number, jwt: JwtConfig = { generated: false }): string {
  const signer = createSigner({
    secret,
    algorithm: 'HS256',
    ...(jwt.issuer !== undefined ? { issuer: jwt.issuer } : {}),
    ...(jwt.audience !== undefined ? { audience: jwt.audience } : {}),
  });
  return signer.sign(claims as never, { expiresInSec });
}
