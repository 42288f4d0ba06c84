/**
 * The gateway's Prometheus metrics (DESIGN.md §9), one registry per gateway so several can run
 * in one process (tests). It is the gateway's `GatewayObserver`: the gateway calls it on the
 * hot path, so every call is a counter increment or two; frame types are read from the first
 * bytes of the already-encoded frame, never by parsing it.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { UserRef } from '@lectern/protocol';
import { CLOSE_CODES } from '@lectern/protocol';
import type { GatewayObserver } from './gateway-observer.js';
import type { WebSocket } from './uws.js';

export interface GatewayMetrics extends GatewayObserver {
  readonly registry: Registry;
  readonly httpRequests: Counter<'route' | 'status'>;
  readonly httpStreamedEvents: Counter<'route'>;
  readonly busRequestSeconds: Histogram<'kind' | 'outcome'>;
  readonly errors: Counter<'code'>;
  /** The gateway to read connection and room counts from, once it is started. */
  bindGateway(gateway: { connectionCount(): number; roomCount(): number }): void;
}

const TYPE_PREFIX = '{"type":"';
const QUOTE = 0x22;
const utf8 = new TextDecoder();

/** The `type` of an encoded server frame (`{"type":"..."`), or `other`. */
export function frameTypeOf(data: string | Uint8Array): string {
  if (typeof data === 'string') {
    if (!data.startsWith(TYPE_PREFIX)) return 'other';
    const end = data.indexOf('"', TYPE_PREFIX.length);
    return end < 0 ? 'other' : data.slice(TYPE_PREFIX.length, end);
  }
  for (let i = 0; i < TYPE_PREFIX.length; i++) if (data[i] !== TYPE_PREFIX.charCodeAt(i)) return 'other';
  const end = data.indexOf(QUOTE, TYPE_PREFIX.length);
  return end < 0 || end > 64 ? 'other' : utf8.decode(data.subarray(TYPE_PREFIX.length, end));
}

const ERROR_CODE = /"code":"([a-z_]+)"/;

export function createGatewayMetrics(options: { defaultMetrics?: boolean; registry?: Registry } = {}): GatewayMetrics {
  const registry = options.registry ?? new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'lectern_' });
  let gateway: { connectionCount(): number; roomCount(): number } | undefined;

  new Gauge({
    name: 'lectern_gateway_connections',
    help: 'Open WebSocket connections on this gateway',
    registers: [registry],
    collect() {
      this.set(gateway?.connectionCount() ?? 0);
    },
  });
  new Gauge({
    name: 'lectern_gateway_rooms',
    help: 'Rooms with at least one local member (one bus subscription each)',
    registers: [registry],
    collect() {
      this.set(gateway?.roomCount() ?? 0);
    },
  });
  const connectionsOpened = new Counter({ name: 'lectern_gateway_connections_opened_total', help: 'WebSocket connections opened', registers: [registry] });
  const connectionsClosed = new Counter({ name: 'lectern_gateway_connections_closed_total', help: 'WebSocket connections closed, by close code', labelNames: ['code'] as const, registers: [registry] });
  const slowConsumerCloses = new Counter({ name: 'lectern_gateway_slow_consumer_closes_total', help: 'Sockets closed with 4008 because their send buffer passed its limit', registers: [registry] });
  const framesIn = new Counter({ name: 'lectern_gateway_frames_in_total', help: 'Client frames received, by type (invalid: refused by validation)', labelNames: ['type'] as const, registers: [registry] });
  const framesOut = new Counter({ name: 'lectern_gateway_frames_out_total', help: 'Frames sent to sockets, by type (fan-out counted per socket)', labelNames: ['type'] as const, registers: [registry] });
  const fanout = new Counter({ name: 'lectern_gateway_fanout_deliveries_total', help: 'Room frames delivered to local sockets by uWS publish', registers: [registry] });
  const published = new Counter({ name: 'lectern_gateway_room_frames_total', help: 'Room frames received from the bus and published to local members', registers: [registry] });
  const errors = new Counter({ name: 'lectern_gateway_errors_total', help: 'Error answers sent (WebSocket error frames and HTTP errors), by code', labelNames: ['code'] as const, registers: [registry] });
  const httpRequests = new Counter({ name: 'lectern_http_requests_total', help: 'HTTP API requests, by route and status', labelNames: ['route', 'status'] as const, registers: [registry] });
  const httpStreamedEvents = new Counter({ name: 'lectern_http_streamed_events_total', help: 'NDJSON lines streamed by the HTTP API, by route', labelNames: ['route'] as const, registers: [registry] });
  const busRequestSeconds = new Histogram({
    name: 'lectern_bus_request_seconds',
    help: 'Commands sent to room owners over the bus: time to the reply, by command kind and outcome',
    labelNames: ['kind', 'outcome'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  return {
    registry,
    httpRequests,
    httpStreamedEvents,
    busRequestSeconds,
    errors,
    bindGateway(bound) {
      gateway = bound;
    },
    opened(_ws: WebSocket<unknown>, _connectionId: string, _user: UserRef) {
      connectionsOpened.inc();
    },
    closed(_connectionId: string, _user: UserRef, code: number) {
      connectionsClosed.inc({ code: String(code) });
      if (code === CLOSE_CODES.too_slow) slowConsumerCloses.inc();
    },
    frameIn(type: string) {
      framesIn.inc({ type });
    },
    frameOut(data: string | Uint8Array) {
      const type = frameTypeOf(data);
      framesOut.inc({ type });
      if (type === 'error') {
        const text = typeof data === 'string' ? data : utf8.decode(data.subarray(0, 200));
        errors.inc({ code: ERROR_CODE.exec(text)?.[1] ?? 'unknown' });
      }
    },
    published(_room: string, frame: Uint8Array, subscribers: number) {
      published.inc();
      if (subscribers === 0) return;
      fanout.inc(subscribers);
      framesOut.inc({ type: frameTypeOf(frame) }, subscribers);
    },
  };
}

/** Calls every observer in turn (metrics, connection logs, per-user delivery). */
export function combineObservers(...observers: GatewayObserver[]): GatewayObserver {
  return {
    opened: (ws, id, user) => observers.forEach((o) => o.opened(ws, id, user)),
    closed: (id, user, code, ws) => observers.forEach((o) => o.closed(id, user, code, ws)),
    frameIn: (type) => observers.forEach((o) => o.frameIn(type)),
    frameOut: (data) => observers.forEach((o) => o.frameOut(data)),
    published: (room, frame, subscribers) => observers.forEach((o) => o.published(room, frame, subscribers)),
  };
}
