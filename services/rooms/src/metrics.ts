/**
 * The actor host's Prometheus metrics (DESIGN.md §9): the event log's group commit (batch
 * size and flush latency, from the store's `onFlush`) and the active rooms. `lectern rooms`
 * serves them on LECTERN_METRICS_PORT (`startMetricsServer`); the all-in-one process serves
 * them with the gateway's, at `/metrics` on the gateway's port.
 */
import { createServer, type Server } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FlushReport } from '@lectern/event-store';

export interface RoomsMetrics {
  readonly registry: Registry;
  /** Stops listening to the store. */
  close(): void;
}

export interface RoomsMetricsSources {
  store: { onFlush(listener: (report: FlushReport) => void): () => void };
  activeRooms(): number;
  /** Shard ownership and leases, from a running rooms service. */
  service?: {
    ownedShards(): number[];
    readonly ownership: { readonly counters: { acquired: number; handedOff: number; lost: number } } | undefined;
    readonly leases: { readonly expired: number };
    readonly host: { readonly activations: number };
  };
}

export function createRoomsMetrics(sources: RoomsMetricsSources, options: { defaultMetrics?: boolean } = {}): RoomsMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? false) collectDefaultMetrics({ register: registry, prefix: 'lectern_' });
  new Gauge({
    name: 'lectern_rooms_active',
    help: 'Room actors loaded in this process',
    registers: [registry],
    collect() {
      this.set(sources.activeRooms());
    },
  });
  const service = sources.service;
  if (service !== undefined) {
    new Gauge({
      name: 'lectern_shards_owned',
      help: 'Command shards this process serves (holds the advisory lock of)',
      registers: [registry],
      collect() {
        this.set(service.ownedShards().length);
      },
    });
    new Gauge({
      name: 'lectern_shard_transitions',
      help: 'Shards acquired, handed off (graceful) and lost (lock session gone) since start',
      labelNames: ['kind'] as const,
      registers: [registry],
      collect() {
        const counters = service.ownership?.counters ?? { acquired: 0, handedOff: 0, lost: 0 };
        this.set({ kind: 'acquired' }, counters.acquired);
        this.set({ kind: 'handed_off' }, counters.handedOff);
        this.set({ kind: 'lost' }, counters.lost);
      },
    });
    new Gauge({
      name: 'lectern_room_activations',
      help: 'Room actors activated (loaded from snapshot + log) since start',
      registers: [registry],
      collect() {
        this.set(service.host.activations);
      },
    });
    new Gauge({
      name: 'lectern_gateway_leases_expired',
      help: 'Gateways declared down (silent past the lease) since start',
      registers: [registry],
      collect() {
        this.set(service.leases.expired);
      },
    });
  }
  const batchSize = new Histogram({
    name: 'lectern_append_batch_events',
    help: 'Events written per group-commit flush',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000],
    registers: [registry],
  });
  const flushSeconds = new Histogram({
    name: 'lectern_append_flush_seconds',
    help: 'Duration of one group-commit flush (all its transactions)',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const appends = new Counter({ name: 'lectern_append_calls_total', help: 'append calls flushed, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
  const unsubscribe = sources.store.onFlush((report) => {
    batchSize.observe(report.events);
    flushSeconds.observe(report.durationMs / 1000);
    const ok = report.appends - report.conflicts - report.failures;
    if (ok > 0) appends.inc({ outcome: 'ok' }, ok);
    if (report.conflicts > 0) appends.inc({ outcome: 'conflict' }, report.conflicts);
    if (report.failures > 0) appends.inc({ outcome: 'failure' }, report.failures);
  });
  return { registry, close: unsubscribe };
}

/**
 * A small HTTP listener for `GET /metrics`, and `GET /healthz` / `GET /readyz` (200 when
 * `ready` says so, else 503) for orchestrators' probes. Anything else 404. Bind it privately.
 */
export async function startMetricsServer(registry: Registry, host: string, port: number, ready?: () => Promise<boolean>): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (req.method === 'GET' && path === '/readyz') {
      (ready ?? (async () => true))().then(
        (ok) => (ok ? res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}') : notReady()),
        () => notReady(),
      );
      const notReady = () => res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"unavailable","message":"not ready: the bus, the event log or the shard locks are not reachable"}}');
      return;
    }
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"only GET /metrics, /healthz and /readyz here"}}');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      () => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":{"code":"internal","message":"collecting metrics failed"}}'),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address !== null ? address.port : port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
