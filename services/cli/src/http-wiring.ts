/**
 * What a gateway process carries besides the gateway itself (docs/http-api.md): metrics and
 * connection logs through the gateway's observer, a bus that times commands and logs failures
 * with their correlation id, per-user notification delivery, and the HTTP API of
 * PROTOCOL.md §8 reading the event log (read-only) when this process has one.
 */
import type { Verifier } from '@lectern/auth';
import type { Bus } from '@lectern/bus';
import {
  combineObservers,
  connectionLog,
  createGatewayMetrics,
  createHttpApi,
  meteredBus,
  UserNotifications,
  type Gateway,
  type GatewayObserver,
  type HttpApi,
  type HttpApiLog,
  type TemplatedApp,
} from '@lectern/gateway';
import type { Logger } from 'pino';
import type { HttpApiDeps } from '@lectern/gateway';

export interface GatewayExtras {
  /** The bus to give the gateway (requests timed and logged). */
  bus: Bus;
  observer: GatewayObserver;
  routes(app: TemplatedApp): void;
  api: HttpApi;
  /** Call once the gateway runs, so the gauges can read it. */
  bind(gateway: Gateway): void;
  /** Ends the API's open streams (before the gateway drains). */
  close(): void;
}

export function gatewayExtras(options: {
  bus: Bus;
  verifier: Verifier;
  logger: Logger;
  gatewayId: string;
  log: HttpApiLog | undefined;
  extraRegistries?: HttpApiDeps['extraRegistries'];
  requestTimeoutMs?: number;
}): GatewayExtras {
  const { logger } = options;
  const metrics = createGatewayMetrics();
  const bus = meteredBus(options.bus, metrics.busRequestSeconds, logger, (code) => metrics.errors.inc({ code: `bus_${code}` }));
  const notifications = new UserNotifications(options.bus, logger);
  const api = createHttpApi({
    bus,
    verifier: options.verifier,
    logger,
    metrics,
    notifications,
    log: options.log,
    ...(options.extraRegistries !== undefined ? { extraRegistries: options.extraRegistries } : {}),
    options: { gatewayId: options.gatewayId, ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}) },
  });
  if (options.log === undefined) logger.warn('no DATABASE_URL: the HTTP API answers 503 for replays and the global feed (set DATABASE_URL to serve them)');
  return {
    bus,
    observer: combineObservers(metrics, connectionLog(logger), notifications),
    routes: (app) => api.routes(app),
    api,
    bind: (gateway) => metrics.bindGateway(gateway),
    close: () => api.close(),
  };
}
