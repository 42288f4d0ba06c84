/**
 * The HTTP API of PROTOCOL.md §8 on the gateway's port (docs/protocol.md §10 and
 * docs/http-api.md say what each route answers and why).
 *
 * Handlers copy what they need out of the uWS request synchronously (uWS reuses it after the
 * handler returns), check it, and hand on: to the room's owner over the bus (projection,
 * room notifications), to the bus (user notifications), or to the event log (replays and the
 * global feed, streamed as NDJSON with backpressure from the socket and pages of lines joined
 * by the log, so a million-event replay holds a few pages in memory).
 */
import {
  encodeUserNotification,
  ERROR_CODES,
  MAX_USER_ID_CHARS,
  NOTIFICATION_LEVELS,
  ROOM_ID_PATTERN,
  decodeEventMessage,
  isLecternError,
  type ErrorCode,
  type NotificationData,
  type NotificationLevel,
  type RoomCommand,
} from '@lectern/protocol';
import type { Principal, Verifier } from '@lectern/auth';
import { isBusError, type Bus, type Subscription } from '@lectern/bus';
import { checkPosition, isStoreUnavailable, type EventLogReader, type LinePage } from '@lectern/event-store';
import type { Logger } from 'pino';
import { Gauge, Registry } from 'prom-client';
import { CommandClient } from './command-client.js';
import { errorBody, sendJson } from './http-responses.js';
import type { GatewayMetrics } from './metrics.js';
import { NdjsonStream } from './ndjson-stream.js';
import type { UserNotifications } from './user-notifications.js';
import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';

/** Every limit of the HTTP API in one place; docs/http-api.md documents them. */
export interface HttpApiOptions {
  gatewayId: string;
  /** Most lines one NDJSON response carries; a larger `limit` is capped to it (and the default). */
  maxLimit: number;
  /** Rows per keyset page read from the log. */
  pageSize: number;
  /** Largest POST body; larger answers 413 `too_large`. */
  maxBodyBytes: number;
  /** Notification `body` and `title` lengths (characters, after trimming). */
  maxNotificationBodyChars: number;
  maxNotificationTitleChars: number;
  /** Live frames a `follow=1` stream keeps while the client is slow; past it, it re-reads the log. */
  followBufferFrames: number;
  requestTimeoutMs: number;
  noOwnerRetries: number;
}

export const DEFAULT_HTTP_API_OPTIONS: Readonly<HttpApiOptions> = Object.freeze({
  gatewayId: 'gw',
  maxLimit: 10_000_000,
  pageSize: 10_000,
  maxBodyBytes: 16 * 1024,
  maxNotificationBodyChars: 2_000,
  maxNotificationTitleChars: 200,
  followBufferFrames: 10_000,
  requestTimeoutMs: 5_000,
  noOwnerRetries: 4,
});

/** What the API reads the log with: the event store (read-only use) of this process. */
export type HttpApiLog = EventLogReader & { ping(): Promise<void> };

export interface HttpApiDeps {
  bus: Bus;
  verifier: Verifier;
  logger: Logger;
  metrics: GatewayMetrics;
  notifications: UserNotifications;
  /** Undefined: no DATABASE_URL on this gateway; the log routes answer 503 saying so. */
  log: HttpApiLog | undefined;
  /** Other registries served at /metrics too (the rooms host in the all-in-one process). */
  extraRegistries?: Registry[];
  options?: Partial<HttpApiOptions>;
}

export interface HttpApi {
  /** Registers the routes (give it to `startGateway({ routes })`). */
  routes(app: TemplatedApp): void;
  /** NDJSON responses open now (replays and follows). */
  openStreams(): number;
  /** Ends follow streams cleanly and cuts unfinished replays (shutdown). */
  close(): void;
}

class HttpError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const NEWLINE = new Uint8Array([0x0a]);
const decoder = new TextDecoder('utf-8', { fatal: true });

function bearer(req: HttpRequest): string {
  const header = req.getHeader('authorization');
  return /^bearer /i.test(header) ? header.slice(7).trim() : '';
}

/** `name` as a non-negative integer no larger than `max`; undefined when absent. */
function integerParameter(req: HttpRequest, name: string, max: number): number | undefined {
  const raw = req.getQuery(name);
  if (raw === undefined || raw === null) return undefined;
  if (!/^\d{1,16}$/.test(raw) || Number(raw) > max) throw new HttpError('bad_request', `${name} must be a non-negative integer (at most ${max}), got ${JSON.stringify(raw)}`);
  return Number(raw);
}

function flagParameter(req: HttpRequest, name: string): boolean {
  const raw = req.getQuery(name);
  if (raw === undefined || raw === null || raw === '' || raw === '0' || raw === 'false') return false;
  if (raw === '1' || raw === 'true') return true;
  throw new HttpError('bad_request', `${name} must be 1 or 0, got ${JSON.stringify(raw)}`);
}

function roomParameter(req: HttpRequest): string {
  const room = req.getParameter(0) ?? '';
  if (!ROOM_ID_PATTERN.test(room)) throw new HttpError('bad_request', `room must match ${ROOM_ID_PATTERN.source}`);
  return room;
}

function userParameter(req: HttpRequest): string {
  let user: string;
  try {
    user = decodeURIComponent(req.getParameter(0) ?? '');
  } catch {
    throw new HttpError('bad_request', 'the user id in the path is not valid percent-encoding');
  }
  if (user.length === 0 || user.length > MAX_USER_ID_CHARS) throw new HttpError('bad_request', `user id must be 1-${MAX_USER_ID_CHARS} characters`);
  return user;
}

/** Validates a notification body: `{title?, body, level?}`, nothing else. */
export function parseNotification(bytes: Uint8Array, options: Pick<HttpApiOptions, 'maxNotificationBodyChars' | 'maxNotificationTitleChars'>): NotificationData {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new HttpError('bad_request', 'the body must be a JSON object: {"title"?, "body", "level"?}');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError('bad_request', 'the body must be a JSON object: {"title"?, "body", "level"?}');
  const fields = value as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((key) => key !== 'title' && key !== 'body' && key !== 'level');
  if (unknown.length > 0) throw new HttpError('bad_request', `unknown field(s) ${unknown.join(', ')}: a notification has title?, body and level?`);
  const text = (name: string, max: number): string | undefined => {
    const raw = fields[name];
    if (raw === undefined) return undefined;
    if (typeof raw !== 'string' || raw.trim().length === 0 || raw.trim().length > max) throw new HttpError('bad_request', `${name} must be a string of 1-${max} characters`);
    return raw.trim();
  };
  const body = text('body', options.maxNotificationBodyChars);
  if (body === undefined) throw new HttpError('bad_request', 'body is required');
  const title = text('title', options.maxNotificationTitleChars);
  const level = fields.level;
  if (level !== undefined && !NOTIFICATION_LEVELS.includes(level as NotificationLevel)) throw new HttpError('bad_request', `level must be one of ${NOTIFICATION_LEVELS.join(', ')}`);
  const data: NotificationData = { body };
  if (title !== undefined) data.title = title;
  if (level !== undefined) data.level = level as NotificationLevel;
  return data;
}

export function createHttpApi(deps: HttpApiDeps): HttpApi {
  const { bus, verifier, logger, metrics, notifications } = deps;
  const options: HttpApiOptions = { ...DEFAULT_HTTP_API_OPTIONS, ...deps.options };
  const commands = new CommandClient(bus, logger, options.requestTimeoutMs, options.noOwnerRetries);
  const streams = new Set<{ stream: NdjsonStream; follow: boolean }>();
  new Gauge({
    name: 'lectern_http_open_streams',
    help: 'NDJSON responses open now (replays, follows, the global feed)',
    registers: [metrics.registry],
    collect() {
      this.set(streams.size);
    },
  });
  const registry = deps.extraRegistries === undefined || deps.extraRegistries.length === 0 ? metrics.registry : Registry.merge([metrics.registry, ...deps.extraRegistries]);
  let requestCounter = 0;
  const nextCid = () => `${options.gatewayId}-http.${(++requestCounter).toString(36)}`;

  // --- answering --------------------------------------------------------------------------

  function answer(res: HttpResponse, route: string, status: number, body: string, headers: Record<string, string> = {}): void {
    metrics.httpRequests.inc({ route, status: String(status) });
    sendJson(res, status, body, headers);
  }

  function fail(res: HttpResponse, route: string, code: ErrorCode, message: string, headers: Record<string, string> = {}): void {
    metrics.errors.inc({ code });
    answer(res, route, ERROR_CODES[code].status, errorBody(code, message), headers);
  }

  function failWith(res: HttpResponse, route: string, err: unknown, context: Record<string, unknown>): void {
    if (err instanceof HttpError) {
      fail(res, route, err.code, err.message, err.headers);
      return;
    }
    logger.error({ err, route, ...context }, 'HTTP API request failed');
    fail(res, route, 'internal', 'internal error');
  }

  /** The verified caller, or an HttpError 401. */
  function authenticate(req: HttpRequest): Principal {
    const token = bearer(req);
    if (token === '') throw new HttpError('unauthorized', 'no token: send Authorization: Bearer <JWT>');
    try {
      return verifier.verify(token);
    } catch (err) {
      throw new HttpError('unauthorized', isLecternError(err) ? err.message : 'invalid token');
    }
  }

  function requireRoomAccess(principal: Principal, room: string): void {
    if (principal.user.role === 'service' || principal.rooms.allows(room)) return;
    throw new HttpError('forbidden', `your token does not allow room ${room}`);
  }

  function requireRole(principal: Principal, roles: readonly string[], what: string): void {
    if (!roles.includes(principal.user.role)) throw new HttpError('forbidden', `${what} needs a ${roles.join(' or ')} token`);
  }

  function requireLog(): HttpApiLog {
    if (deps.log === undefined) {
      throw new HttpError('unavailable', 'this gateway has no event log: set DATABASE_URL on `lectern gateway` to serve replays and the global feed', { 'retry-after': '60' });
    }
    return deps.log;
  }

  function replyError(reply: { code: ErrorCode; message: string; retryAfterMs?: number }): HttpError {
    const headers: Record<string, string> = reply.retryAfterMs === undefined ? {} : { 'retry-after': String(Math.max(1, Math.ceil(reply.retryAfterMs / 1000))) };
    return new HttpError(reply.code, reply.message, headers);
  }

  /** Runs an async handler with an abort guard: nothing is written after the client left. */
  function guarded(route: string, handler: (res: HttpResponse, aborted: () => boolean) => Promise<void>) {
    return (res: HttpResponse) => {
      let gone = false;
      res.onAborted(() => {
        gone = true;
      });
      handler(res, () => gone).catch((err: unknown) => {
        if (!gone) failWith(res, route, err, {});
      });
    };
  }

  async function command(command: RoomCommand): Promise<{ seq?: number; body?: unknown }> {
    const { reply } = await commands.send(command);
    if (!reply.ok) throw replyError(reply);
    return reply;
  }

  /** Reads a POST body up to `maxBodyBytes`; HttpError 413 past it. `onAborted` must be set. */
  function readBody(res: HttpResponse, declaredLength: number): Promise<Uint8Array> {
    if (declaredLength > options.maxBodyBytes) return Promise.reject(new HttpError('too_large', `the body is limited to ${options.maxBodyBytes} bytes`));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      res.onData((chunk, isLast) => {
        if (done) return;
        size += chunk.byteLength;
        if (size > options.maxBodyBytes) {
          done = true;
          reject(new HttpError('too_large', `the body is limited to ${options.maxBodyBytes} bytes`));
          return;
        }
        chunks.push(Buffer.from(chunk.slice(0)));
        if (isLast) {
          done = true;
          resolve(Buffer.concat(chunks));
        }
      });
    });
  }

  // --- NDJSON streams ----------------------------------------------------------------------

  function track(stream: NdjsonStream, follow: boolean): () => void {
    const entry = { stream, follow };
    streams.add(entry);
    return () => streams.delete(entry);
  }

  /**
   * Writes pages until they end or the client leaves. The first page is read before the 200
   * goes out, so a log that is down still gets a proper 503; a failure after that can only cut
   * the connection (the client sees a truncated chunked body, never a clean end). Each page is
   * one string of lines, joined by the database: the gateway makes no object or string per event.
   */
  async function pump<K>(stream: NdjsonStream, route: string, pages: AsyncGenerator<LinePage<K>, void, undefined>, onPage?: (page: LinePage<K>) => void): Promise<number> {
    let sent = 0;
    try {
      for (;;) {
        const next = await pages.next();
        if (next.done || stream.closed) break;
        const page = next.value;
        onPage?.(page);
        sent += page.count;
        metrics.httpStreamedEvents.inc({ route }, page.count);
        if (!(await stream.write(page.lines))) break;
      }
    } finally {
      await pages.return(undefined);
    }
    return sent;
  }

  async function firstPage<K>(pages: AsyncGenerator<LinePage<K>, void, undefined>): Promise<AsyncGenerator<LinePage<K>, void, undefined>> {
    const first = await pages.next();
    // Put the page back in front of the rest.
    return (async function* () {
      if (!first.done) yield first.value;
      yield* pages;
    })();
  }

  async function replayRoom(res: HttpResponse, route: string, log: HttpApiLog, room: string, after: number, limit: number, follow: boolean): Promise<void> {
    const stream = new NdjsonStream(res);
    const untrack = track(stream, follow);
    let subscription: Subscription | undefined;
    let wake: (() => void) | undefined;
    const wakeUp = () => {
      const woken = wake;
      wake = undefined;
      woken?.();
    };
    stream.onClose(() => {
      subscription?.unsubscribe();
      wakeUp();
    });
    try {
      // Live frames that arrive while history is read (or while the client is slow).
      const live: { fromSeq: number; seq: number; frame: Uint8Array }[] = [];
      let overflowHead = 0;
      if (follow) {
        // Subscribe before reading history: anything committed after the history read ends is
        // then in `live`, so the seam has no gap; what both carry is dropped by seq.
        subscription = await bus.subscribe(bus.subjects.events(room), (message) => {
          const { fromSeq, seq, frame } = decodeEventMessage(message.data);
          if (live.length >= options.followBufferFrames) {
            overflowHead = Math.max(overflowHead, seq);
            live.length = 0;
          } else {
            live.push({ fromSeq, seq, frame: frame.slice() });
          }
          wakeUp();
        });
        if (stream.closed) return;
      }
      let last = after;
      let remaining = limit;
      if (remaining > 0) {
        const pages = await firstPage(log.roomLinePages(room, after, { pageSize: options.pageSize, limit: remaining }));
        stream.start(200, { 'cache-control': 'no-store' });
        remaining -= await pump(stream, route, pages, (page) => {
          last = page.last;
        });
      }
      if (!follow || stream.closed || remaining <= 0) {
        stream.end();
        return;
      }
      stream.start(200, { 'cache-control': 'no-store' });
      // Live: one event per line, exactly as stored. A frame that continues `last` is sent as
      // it came; a presence_diff (a range) or anything after a gap (the buffer overflowed) is
      // read from the log instead, so every line is one stored event.
      while (!stream.closed && remaining > 0) {
        const item = live.shift();
        if (item === undefined) {
          if (overflowHead > last) {
            const target = overflowHead;
            const pages = log.roomLinePages(room, last, { pageSize: options.pageSize, limit: remaining, untilSeq: target });
            remaining -= await pump(stream, route, pages, (page) => {
              last = page.last;
            });
            continue;
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          continue;
        }
        if (item.seq <= last) continue;
        if (item.fromSeq === item.seq && item.seq === last + 1) {
          metrics.httpStreamedEvents.inc({ route });
          remaining--;
          last = item.seq;
          await stream.write(Buffer.concat([item.frame, NEWLINE]));
          continue;
        }
        const pages = log.roomLinePages(room, last, { pageSize: options.pageSize, limit: remaining, untilSeq: item.seq });
        remaining -= await pump(stream, route, pages, (page) => {
          last = page.last;
        });
      }
      stream.end();
    } catch (err) {
      // Nothing sent yet: the response is still ours, so the caller answers with the JSON error.
      if (!stream.started && !stream.closed) throw err;
      logger.warn({ err, room, route }, 'room replay failed mid-stream: cutting the connection');
      stream.destroy();
    } finally {
      untrack();
      subscription?.unsubscribe();
    }
  }

  async function globalFeed(res: HttpResponse, route: string, log: HttpApiLog, after: string, limit: number): Promise<void> {
    const stream = new NdjsonStream(res);
    const untrack = track(stream, false);
    try {
      if (limit > 0) {
        const pages = await firstPage(log.allLinePages(after, { pageSize: options.pageSize, limit }));
        stream.start(200, { 'cache-control': 'no-store' });
        await pump(stream, route, pages);
      }
      stream.end();
    } catch (err) {
      if (!stream.started && !stream.closed) throw err;
      logger.warn({ err, route }, 'global feed failed mid-stream: cutting the connection');
      stream.destroy();
    } finally {
      untrack();
    }
  }

  function storeError(err: unknown): never {
    if (err instanceof HttpError) throw err;
    if (isBusError(err)) throw new HttpError('unavailable', 'the bus is unavailable; retry', { 'retry-after': '1' });
    if (isStoreUnavailable(err)) throw new HttpError('unavailable', 'the event log is unavailable; retry', { 'retry-after': '1' });
    throw err;
  }

  // --- routes ------------------------------------------------------------------------------

  function methodNotAllowed(allow: string) {
    return (res: HttpResponse, req: HttpRequest) => {
      fail(res, 'method_not_allowed', 'method_not_allowed', `${req.getMethod().toUpperCase()} is not allowed here; use ${allow}`, { allow });
    };
  }

  function routes(app: TemplatedApp): void {
    notifications.attach(app);

    app.get('/metrics', (res) => {
      let gone = false;
      res.onAborted(() => {
        gone = true;
      });
      registry.metrics().then(
        (text) => {
          if (gone) return;
          res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', registry.contentType).end(text));
        },
        (err: unknown) => {
          if (!gone) failWith(res, 'metrics', err, {});
        },
      );
    });
    app.any('/metrics', methodNotAllowed('GET'));

    app.get('/v1/rooms/:room', (res, req) => {
      const route = 'room';
      let room: string;
      try {
        const principal = authenticate(req);
        room = roomParameter(req);
        requireRoomAccess(principal, room);
      } catch (err) {
        failWith(res, route, err, {});
        return;
      }
      guarded(route, async (response, aborted) => {
        const reply = await command({ kind: 'inspect', room, cid: nextCid() });
        if (!aborted()) answer(response, route, 200, JSON.stringify(reply.body));
      })(res);
    });
    app.any('/v1/rooms/:room', methodNotAllowed('GET'));

    app.get('/v1/rooms/:room/events', (res, req) => {
      const route = 'room_events';
      let room: string, after: number, limit: number, follow: boolean, log: HttpApiLog;
      try {
        const principal = authenticate(req);
        room = roomParameter(req);
        requireRoomAccess(principal, room);
        after = integerParameter(req, 'after', Number.MAX_SAFE_INTEGER) ?? 0;
        limit = Math.min(integerParameter(req, 'limit', Number.MAX_SAFE_INTEGER) ?? options.maxLimit, options.maxLimit);
        follow = flagParameter(req, 'follow');
        log = requireLog();
      } catch (err) {
        failWith(res, route, err, {});
        return;
      }
      metrics.httpRequests.inc({ route, status: 'stream' });
      replayRoom(res, route, log, room, after, limit, follow).catch((err: unknown) => {
        try {
          storeError(err);
        } catch (translated) {
          failWith(res, route, translated, { room });
        }
      });
    });
    app.any('/v1/rooms/:room/events', methodNotAllowed('GET'));

    app.get('/v1/events', (res, req) => {
      const route = 'events';
      let after: string, limit: number, log: HttpApiLog;
      try {
        const principal = authenticate(req);
        requireRole(principal, ['service'], 'the global feed');
        const rawAfter = req.getQuery('after');
        if (rawAfter !== undefined && rawAfter !== null && !/^\d{1,19}$/.test(rawAfter)) throw new HttpError('bad_request', `after must be a non-negative integer position, got ${JSON.stringify(rawAfter)}`);
        try {
          after = checkPosition(rawAfter ?? '0');
        } catch {
          throw new HttpError('bad_request', 'after is past the largest position');
        }
        limit = Math.min(integerParameter(req, 'limit', Number.MAX_SAFE_INTEGER) ?? options.maxLimit, options.maxLimit);
        log = requireLog();
      } catch (err) {
        failWith(res, route, err, {});
        return;
      }
      metrics.httpRequests.inc({ route, status: 'stream' });
      globalFeed(res, route, log, after, limit).catch((err: unknown) => {
        try {
          storeError(err);
        } catch (translated) {
          failWith(res, route, translated, {});
        }
      });
    });
    app.any('/v1/events', methodNotAllowed('GET'));

    app.post('/v1/rooms/:room/notifications', (res, req) => {
      const route = 'room_notifications';
      let room: string, principal: Principal, length: number;
      try {
        principal = authenticate(req);
        room = roomParameter(req);
        requireRole(principal, ['service', 'instructor'], 'a room notification');
        requireRoomAccess(principal, room);
        length = Number(req.getHeader('content-length') || '0');
      } catch (err) {
        failWith(res, route, err, {});
        return;
      }
      guarded(route, async (response, aborted) => {
        const data = parseNotification(await readBody(response, length), options);
        const cid = nextCid();
        const reply = await command({ kind: 'notify', room, cid, user: principal.user, data });
        if (!aborted()) answer(response, route, 201, JSON.stringify({ seq: reply.seq }));
      })(res);
    });
    app.any('/v1/rooms/:room/notifications', methodNotAllowed('POST'));

    app.post('/v1/users/:user/notifications', (res, req) => {
      const route = 'user_notifications';
      let user: string, length: number;
      try {
        const principal = authenticate(req);
        requireRole(principal, ['service'], 'a user notification');
        user = userParameter(req);
        length = Number(req.getHeader('content-length') || '0');
      } catch (err) {
        failWith(res, route, err, {});
        return;
      }
      guarded(route, async (response, aborted) => {
        const data = parseNotification(await readBody(response, length), options);
        notifications.publish(user, encodeUserNotification({ type: 'notification', data, ts: Date.now() }));
        if (!aborted()) answer(response, route, 202, '{"status":"accepted"}');
      })(res);
    });
    app.any('/v1/users/:user/notifications', methodNotAllowed('POST'));
  }

  return {
    routes,
    openStreams: () => streams.size,
    close() {
      for (const { stream, follow } of [...streams]) {
        if (follow) stream.end();
        else stream.destroy();
      }
      streams.clear();
    },
  };
}
