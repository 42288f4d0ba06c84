/**
 * The edge: a uWebSockets.js server that authenticates at upgrade, validates every frame,
 * rate-limits, relays commands to room owners over the bus, and fans committed frames out
 * with uWS topics. It never decides anything about a room.
 */
import { randomBytes } from 'node:crypto';
import {
  CLOSE_CODES,
  encodeFrame,
  errorFrame,
  isLecternError,
  parseClientFrame,
  type ChatMessageFrame,
  type ClientFrame,
  type CommandReply,
  type JoinRoomFrame,
  type LeaveReason,
  type LeaveRoomFrame,
  type LiveSessionUpdateFrame,
  type RefreshTokenFrame,
  type RoomCommand,
  type UserRef,
} from '@lectern/protocol';
import type { Principal, Verifier } from '@lectern/auth';
import type { Bus } from '@lectern/bus';
import type { Logger } from 'pino';
import { CommandClient } from './command-client.js';
import type { GatewayObserver } from './gateway-observer.js';
import { errorBody, sendJson, statusLine } from './http-responses.js';
import { DEFAULT_GATEWAY_OPTIONS, type GatewayOptions } from './options.js';
import { DeadlineHeap, type HasDeadline } from './deadline-heap.js';
import { addRoom, deleteRoom, hasRoom, roomCount, roomList, type RoomSet } from './room-set.js';
import { RoomTopics } from './room-topics.js';
import { startLeaseAnnouncer } from './lease-announcer.js';
import { TokenBucket } from './token-bucket.js';
import { assertNativeUws, uWS, type HttpRequest, type HttpResponse, type TemplatedApp, type WebSocket, type us_listen_socket } from './uws.js';

export interface GatewayDeps {
  bus: Bus;
  verifier: Verifier;
  logger: Logger;
  options?: Partial<GatewayOptions>;
  /** Readiness beyond the bus (e.g. the event log in the all-in-one process). */
  ready?: () => Promise<boolean>;
  /** Extra HTTP routes (the HTTP API, static files) registered before the 404 fallback. */
  routes?: (app: TemplatedApp) => void;
  /** Metrics, connection logs and per-user delivery hook in here (gateway-observer.ts). */
  observer?: GatewayObserver;
}

/**
 * Per-socket state, kept in uWS' user data. A class with every field set in the constructor,
 * so all connections share one shape, and nothing per connection beyond these fields: rooms
 * as a `RoomSet` (usually one string), token expiry in the gateway's one `DeadlineHeap`.
 */
class Connection implements HasDeadline {
  readonly user: UserRef;
  /** Rooms this connection has joined (answered `joined`). */
  rooms: RoomSet = undefined;
  /** Rooms with a join in flight. */
  joining: RoomSet = undefined;
  violations = 0;
  violationsSince: number;
  requests = 0;
  closed = false;
  /** When the token expires (DeadlineHeap), and the connection's slot there. */
  deadlineAt = 0;
  heapIndex = -1;
  /** Set at `open`: the expiry timer closes the socket through it. */
  ws: Socket | undefined = undefined;

  constructor(
    readonly id: string,
    public principal: Principal,
    readonly bucket: TokenBucket,
    now: number,
  ) {
    this.user = principal.user;
    this.violationsSince = now;
  }
}

/**
 * What uWS keeps for a socket. uWS copies the *own properties* of the upgrade's user data onto
 * its socket object (`getUserData()` returns the socket itself): one property pointing at the
 * Connection costs one slot there, where copying the connection's fields cost a property array
 * of their own on every socket, and left the original object as garbage.
 */
interface SocketData {
  connection: Connection;
}
type Socket = WebSocket<SocketData>;

export interface Gateway {
  readonly app: TemplatedApp;
  readonly port: number;
  readonly options: GatewayOptions;
  connectionCount(): number;
  /** Rooms with at least one local member (one bus subscription each). */
  roomCount(): number;
  /** Graceful stop: refuse upgrades, leave every room (`disconnected`), close sockets with 1001. */
  stop(timeoutMs?: number): Promise<void>;
}

const decoder = new TextDecoder();
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * uWS cuts a frame over its `maxPayloadLength` without a close frame (the client sees 1006),
 * but PROTOCOL.md §6 promises 1009. So uWS gets this much slack over the announced limit and
 * `message` closes anything over the limit itself, with 1009. Only frames past the slack
 * (4× the limit, at most 16 MiB) are still cut by uWS: the slack bounds what one socket can
 * make the server buffer.
 */
/**
 * uWS' idle timeout for a promised silence limit of `heartbeatMs` × 2 (PROTOCOL.md §6). uWS
 * counts time in 4 s ticks and, with automatic pings, splits the timeout into "ping after"
 * and "close after" parts, each rounded down to ticks: a timeout of T seconds closes a silent
 * socket somewhere in (T − 8 s, T]. So T = 2 × heartbeat + 8 s never closes early (with the
 * naive T = 2 × heartbeat, a 4 s heartbeat closed silent clients after 4–8 s).
 */
export function idleTimeoutSeconds(heartbeatMs: number): number {
  return Math.ceil((heartbeatMs * 2) / 1000) + 8;
}

export function payloadCeiling(maxFrameBytes: number): number {
  return Math.max(maxFrameBytes, Math.min(maxFrameBytes * 4, 16 * 1024 * 1024));
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startGateway(deps: GatewayDeps): Promise<Gateway> {
  assertNativeUws();
  const { bus, verifier, logger } = deps;
  const options: GatewayOptions = { ...DEFAULT_GATEWAY_OPTIONS, ...deps.options };
  const { limits } = options;
  const allowedOrigins = new Set(options.allowedOrigins);
  const app = uWS.App();
  const observer = deps.observer;
  const topics = new RoomTopics(app, bus, logger, (room, _bytes, frame) => observer?.published(room, frame, app.numSubscribers(room)));
  const commands = new CommandClient(bus, logger, options.requestTimeoutMs, options.noOwnerRetries);
  const sockets = new Set<Socket>();
  let connectionCounter = 0;
  let draining = false;
  let listenSocket: us_listen_socket | undefined;

  // `welcome` differs per connection only in its id and user: the rest is encoded once.
  // Same bytes as encodeFrame({ type: 'welcome', connectionId, user, protocol, heartbeatMs, limits }).
  const welcomeTail = `,${JSON.stringify({ protocol: 1 as const, heartbeatMs: options.heartbeatMs, limits }).slice(1)}`;
  const welcomeFrame = (connection: Connection): string =>
    `{"type":"welcome","connectionId":${JSON.stringify(connection.id)},"user":${JSON.stringify(connection.user)}${welcomeTail}`;

  // Token expiry (PROTOCOL.md §1, close 4001): every connection's deadline in one heap, one timer
  // armed for the earliest.
  const expiries = new DeadlineHeap<Connection>();
  let expiryTimer: NodeJS.Timeout | undefined;
  let expiryTimerAt = 0;

  // --- sending -------------------------------------------------------------------------------

  function closeWith(ws: Socket, code: number, reason: string): void {
    const connection = ws.getUserData().connection;
    if (connection.closed) return;
    connection.closed = true;
    ws.end(code, reason);
  }

  function send(ws: Socket, data: string | Uint8Array): void {
    if (ws.getUserData().connection.closed) return;
    observer?.frameOut(data);
    // 2 = dropped: the socket is past its send-buffer limit. Close it instead of losing data.
    if (ws.send(data, false) === 2) closeWith(ws, CLOSE_CODES.too_slow, 'too slow: send buffer full');
  }

  function sendReplyError(ws: Socket, reply: CommandReply & { ok: false }, id: string | undefined, room: string): void {
    send(ws, errorFrame(reply.code, reply.message, { id, room, retryAfterMs: reply.retryAfterMs }));
  }

  // --- room owners ---------------------------------------------------------------------------

  function nextCid(connection: Connection): string {
    return `${connection.id}.${++connection.requests}`;
  }

  /** What every command of a connection carries: room, correlation id, connection, identity. */
  function envelope(connection: Connection, room: string) {
    return {
      room,
      cid: nextCid(connection),
      connection: { id: connection.id, gateway: options.gatewayId },
      user: connection.user,
    };
  }

  function leaveCommand(connection: Connection, room: string, reason: LeaveReason): RoomCommand {
    return { kind: 'leave', ...envelope(connection, room), reason };
  }

  /** Tells the owner this connection left; retried, because a lost leave is a ghost in the room. */
  async function leaveOnOwner(connection: Connection, room: string, reason: LeaveReason): Promise<CommandReply> {
    let reply: CommandReply = { ok: false, code: 'unavailable', message: 'not sent' };
    for (let attempt = 0; attempt < 5; attempt++) {
      ({ reply } = await commands.send(leaveCommand(connection, room, reason)));
      if (reply.ok || reply.code !== 'unavailable') return reply;
      await sleep(100 * 2 ** attempt);
    }
    logger.warn({ room, connection: connection.id, reason }, 'could not tell the room owner a connection left');
    return reply;
  }

  // --- frames --------------------------------------------------------------------------------

  async function onJoin(ws: Socket, connection: Connection, frame: JoinRoomFrame): Promise<void> {
    const { room, id } = frame;
    if (!connection.principal.rooms.allows(room)) {
      send(ws, errorFrame('forbidden', `your token does not allow room ${room}`, { id, room }));
      return;
    }
    if (hasRoom(connection.joining, room)) {
      send(ws, errorFrame('bad_request', `a join of room ${room} is already in flight`, { id, room }));
      return;
    }
    const rejoin = hasRoom(connection.rooms, room);
    if (!rejoin && roomCount(connection.rooms) + roomCount(connection.joining) >= limits.maxRooms) {
      send(ws, errorFrame('too_many_rooms', `a connection may be in at most ${limits.maxRooms} rooms`, { id, room }));
      return;
    }
    connection.joining = addRoom(connection.joining, room);
    let roomId: string;
    try {
      roomId = await topics.acquire(room);
    } catch (err) {
      connection.joining = deleteRoom(connection.joining, room);
      logger.warn({ err, room }, 'subscribing to a room failed');
      send(ws, errorFrame('unavailable', 'the bus is unavailable; retry', { id, room, retryAfterMs: 500 }));
      return;
    }
    const { reply, tail, outcomeUnknown } = await commands.send({
      kind: 'join',
      ...envelope(connection, room),
      ...(frame.since === undefined ? {} : { since: frame.since }),
    });
    connection.joining = deleteRoom(connection.joining, room);
    const kept = topics.endJoin(room, reply.ok ? (reply.seq ?? 0) : Number.MAX_SAFE_INTEGER);
    if (!reply.ok || tail === undefined) {
      topics.release(room);
      if (reply.ok) logger.error({ room }, 'join reply without state');
      else if (!connection.closed) sendReplyError(ws, reply, id, room);
      // The owner may have applied a join whose answer timed out: undo it, or the room keeps a
      // participant no socket stands for. One attempt, no retry: commands of one gateway to one
      // room keep their order on the bus, so a join the client retries after this error lands
      // after the leave; a retried leave could land after that join and undo it.
      if (outcomeUnknown === true && !rejoin) void commands.send(leaveCommand(connection, room, 'disconnected'));
      return;
    }
    if (connection.closed) {
      // The socket went away while joining: undo the join on the owner.
      topics.release(room);
      if (!rejoin) void leaveOnOwner(connection, room, 'disconnected');
      return;
    }
    if (rejoin) topics.release(room); // one reference per (connection, room)
    connection.rooms = addRoom(connection.rooms, roomId);
    const prefix = id === undefined ? '{"type":"joined",' : `{"type":"joined","id":${JSON.stringify(id)},`;
    ws.cork(() => {
      send(ws, Buffer.concat([Buffer.from(prefix), tail]));
      if (!ws.isSubscribed(room)) {
        for (const frameBytes of kept) send(ws, frameBytes);
        ws.subscribe(room);
      }
    });
  }

  async function onLeave(ws: Socket, connection: Connection, frame: LeaveRoomFrame): Promise<void> {
    const { room, id } = frame;
    if (!hasRoom(connection.rooms, room)) {
      send(ws, errorFrame('not_joined', `not in room ${room}`, { id, room }));
      return;
    }
    connection.rooms = deleteRoom(connection.rooms, room);
    ws.unsubscribe(room);
    topics.release(room);
    const reply = await leaveOnOwner(connection, room, 'left');
    if (connection.closed) return;
    if (reply.ok || reply.code === 'not_joined') send(ws, encodeFrame({ type: 'left', id, room }));
    else sendReplyError(ws, reply, id, room);
  }

  async function onChat(ws: Socket, connection: Connection, frame: ChatMessageFrame): Promise<void> {
    const { room, id } = frame;
    if (!hasRoom(connection.rooms, room)) {
      send(ws, errorFrame('not_joined', `join room ${room} before sending to it`, { id, room }));
      return;
    }
    const { reply } = await commands.send({
      kind: 'chat',
      ...envelope(connection, room),
      text: frame.text,
      ...(frame.mid === undefined ? {} : { mid: frame.mid }),
    });
    if (connection.closed) return;
    if (reply.ok) send(ws, encodeFrame({ type: 'ack', id, room, seq: reply.seq, duplicate: reply.duplicate }));
    else sendReplyError(ws, reply, id, room);
  }

  async function onSessionUpdate(ws: Socket, connection: Connection, frame: LiveSessionUpdateFrame): Promise<void> {
    const { room, id } = frame;
    if (!hasRoom(connection.rooms, room)) {
      send(ws, errorFrame('not_joined', `join room ${room} before updating its session`, { id, room }));
      return;
    }
    const { reply } = await commands.send({
      kind: 'session_update',
      ...envelope(connection, room),
      ...(frame.state === undefined ? {} : { state: frame.state }),
      ...(frame.data === undefined ? {} : { data: frame.data }),
    });
    if (connection.closed) return;
    if (reply.ok) send(ws, encodeFrame({ type: 'ack', id, room, seq: reply.seq }));
    else sendReplyError(ws, reply, id, room);
  }

  function onRefresh(ws: Socket, connection: Connection, frame: RefreshTokenFrame): void {
    let principal: Principal;
    try {
      principal = verifier.verify(frame.token);
    } catch (err) {
      const message = isLecternError(err) ? err.message : 'invalid token';
      send(ws, errorFrame('unauthorized', message, { id: frame.id }));
      return;
    }
    if (principal.user.id !== connection.user.id) {
      send(ws, errorFrame('forbidden', 'refresh_token must carry the same sub as the connection', { id: frame.id }));
      return;
    }
    connection.principal = principal;
    scheduleExpiry(connection);
    send(ws, encodeFrame({ type: 'ack', id: frame.id }));
  }

  function scheduleExpiry(connection: Connection): void {
    const expiresAt = connection.principal.expiresAt;
    if (expiresAt === undefined) expiries.remove(connection);
    else expiries.schedule(connection, expiresAt);
    armExpiryTimer();
  }

  /** Keeps the one expiry timer armed for the earliest deadline (none when nothing expires). */
  function armExpiryTimer(): void {
    const at = expiries.earliest();
    if (expiryTimer !== undefined && at === expiryTimerAt) return;
    if (expiryTimer !== undefined) clearTimeout(expiryTimer);
    expiryTimer = undefined;
    if (at === undefined) return;
    expiryTimerAt = at;
    expiryTimer = setTimeout(expireDue, Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())));
  }

  function expireDue(): void {
    expiryTimer = undefined;
    const now = Date.now();
    for (let due = expiries.popDue(now); due !== undefined; due = expiries.popDue(now)) {
      if (due.ws !== undefined) closeWith(due.ws, CLOSE_CODES.token_expired, 'token expired');
    }
    armExpiryTimer();
  }

  function onRateLimited(ws: Socket, connection: Connection, frame: ClientFrame, waitMs: number, now: number): void {
    if (now - connection.violationsSince > options.abuseWindowMs) {
      connection.violations = 0;
      connection.violationsSince = now;
    }
    if (++connection.violations > options.abuseLimit) {
      closeWith(ws, CLOSE_CODES.rate_limited, 'rate limit exceeded repeatedly');
      return;
    }
    const room = 'room' in frame ? frame.room : undefined;
    send(ws, errorFrame('rate_limited', `at most ${limits.ratePerSecond} requests per second (burst ${limits.burst})`, { id: frame.id, room, retryAfterMs: waitMs }));
  }

  function dispatch(ws: Socket, connection: Connection, frame: ClientFrame): void {
    switch (frame.type) {
      case 'ping':
        send(ws, encodeFrame({ type: 'pong', id: frame.id, ts: frame.ts, serverTs: Date.now() }));
        return;
      case 'join_room':
        void onJoin(ws, connection, frame);
        return;
      case 'leave_room':
        void onLeave(ws, connection, frame);
        return;
      case 'chat_message':
        void onChat(ws, connection, frame);
        return;
      case 'live_session_update':
        void onSessionUpdate(ws, connection, frame);
        return;
      case 'refresh_token':
        onRefresh(ws, connection, frame);
        return;
    }
  }

  // --- upgrade -------------------------------------------------------------------------------

  function refuseUpgrade(res: HttpResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
    sendJson(res, status, errorBody(code as never, message), headers);
  }

  function tokenOf(req: HttpRequest): string {
    const query = req.getQuery('token');
    if (query) return query;
    const header = req.getHeader('authorization');
    return header.toLowerCase().startsWith('bearer ') ? header.slice(7).trim() : '';
  }

  app.ws<SocketData>('/ws', {
    compression: uWS.DISABLED,
    maxPayloadLength: payloadCeiling(limits.maxFrameBytes),
    idleTimeout: idleTimeoutSeconds(options.heartbeatMs),
    sendPingsAutomatically: true,
    // Twice the limit: the sweep below closes at half of it, and `end()` must still find room
    // for the close frame (uWS drops any frame, the close frame too, past maxBackpressure).
    maxBackpressure: options.sendBufferLimitBytes * 2,
    closeOnBackpressureLimit: 0,

    upgrade(res, req, context) {
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const origin = req.getHeader('origin');
      const token = tokenOf(req);
      if (draining || sockets.size >= options.maxConnections) {
        refuseUpgrade(res, 503, 'unavailable', draining ? 'server is shutting down' : 'server is at its connection limit', {
          'retry-after': String(options.retryAfterSeconds),
        });
        return;
      }
      if (allowedOrigins.size > 0 && origin !== '' && !allowedOrigins.has(origin)) {
        refuseUpgrade(res, 403, 'forbidden_origin', `origin ${origin} is not allowed`);
        return;
      }
      if (token === '') {
        refuseUpgrade(res, 401, 'unauthorized', 'no token: pass ?token=<JWT> or Authorization: Bearer <JWT>');
        return;
      }
      let principal: Principal;
      try {
        principal = verifier.verify(token);
      } catch (err) {
        refuseUpgrade(res, 401, 'unauthorized', isLecternError(err) ? err.message : 'invalid token');
        return;
      }
      const now = Date.now();
      const connection = new Connection(
        `${options.gatewayId}-${(++connectionCounter).toString(36)}`,
        principal,
        new TokenBucket(limits.ratePerSecond, limits.burst, now),
        now,
      );
      res.cork(() => res.upgrade<SocketData>({ connection }, key, protocol, extensions, context));
    },

    open(ws) {
      const connection = ws.getUserData().connection;
      connection.ws = ws;
      sockets.add(ws);
      send(ws, welcomeFrame(connection));
      scheduleExpiry(connection);
      observer?.opened(ws as WebSocket<unknown>, connection.id, connection.user);
      logger.debug({ connection: connection.id, user: connection.user.id }, 'connection open');
    },

    message(ws, message, isBinary) {
      const connection = ws.getUserData().connection;
      if (connection.closed) return;
      if (isBinary) {
        closeWith(ws, CLOSE_CODES.policy_violation, 'binary frames are not accepted');
        return;
      }
      if (message.byteLength > limits.maxFrameBytes) {
        closeWith(ws, CLOSE_CODES.too_large, `frames are limited to ${limits.maxFrameBytes} bytes`);
        return;
      }
      const parsed = parseClientFrame(decoder.decode(message), limits);
      observer?.frameIn(parsed.ok ? parsed.frame.type : 'invalid');
      if (!parsed.ok) {
        send(ws, errorFrame(parsed.code, parsed.message, { id: parsed.id, room: parsed.room }));
        return;
      }
      const now = Date.now();
      const wait = connection.bucket.take(now);
      if (wait > 0) {
        onRateLimited(ws, connection, parsed.frame, wait, now);
        return;
      }
      dispatch(ws, connection, parsed.frame);
    },

    close(ws, code) {
      const connection = ws.getUserData().connection;
      connection.closed = true;
      sockets.delete(ws);
      connection.ws = undefined;
      if (connection.heapIndex >= 0) {
        expiries.remove(connection);
        armExpiryTimer();
      }
      for (const room of roomList(connection.rooms)) {
        topics.release(room);
        void leaveOnOwner(connection, room, 'disconnected');
      }
      connection.rooms = undefined;
      observer?.closed(connection.id, connection.user, code, ws as WebSocket<unknown>);
      logger.debug({ connection: connection.id, code }, 'connection closed');
    },
  });

  // --- HTTP ----------------------------------------------------------------------------------

  app.get('/healthz', (res) => sendJson(res, 200, '{"status":"ok"}'));
  app.get('/readyz', (res) => {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    const check = async () => bus.isConnected() && !draining && (deps.ready === undefined || (await deps.ready()));
    check().then(
      (ok) => {
        if (!aborted) sendJson(res, ok ? 200 : 503, ok ? '{"status":"ready"}' : errorBody('unavailable', 'not ready: the bus or the event log is not reachable'));
      },
      () => {
        if (!aborted) sendJson(res, 503, errorBody('unavailable', 'not ready'));
      },
    );
  });
  deps.routes?.(app);
  app.any('/*', (res, req) => {
    sendJson(res, 404, errorBody('not_found', `no route for ${req.getMethod().toUpperCase()} ${req.getUrl()}`));
  });

  // Slow consumers: uWS skips publishes to a socket past maxBackpressure; close such sockets
  // with 4008 so the client resumes with `since` instead of silently missing frames.
  const slowConsumerSweep = setInterval(() => {
    for (const ws of sockets) {
      if (ws.getBufferedAmount() >= options.sendBufferLimitBytes / 2) closeWith(ws, CLOSE_CODES.too_slow, 'too slow: send buffer full');
    }
  }, 250);
  slowConsumerSweep.unref();

  const port = await new Promise<number>((resolve, reject) => {
    app.listen(options.host, options.port, (socket) => {
      if (socket === false) {
        reject(new Error(`cannot listen on ${options.host}:${options.port}: is the port in use? Set PORT to another port.`));
        return;
      }
      listenSocket = socket;
      resolve(uWS.us_socket_local_port(socket as never));
    });
  });
  logger.info({ port, gatewayId: options.gatewayId }, 'gateway listening');
  const lease = startLeaseAnnouncer(bus, options.gatewayId, () => topics.roomIds(), logger, { announceMs: options.announceMs });

  return {
    app,
    port,
    options,
    connectionCount: () => sockets.size,
    roomCount: () => topics.size,
    async stop(timeoutMs = 5000) {
      draining = true;
      if (listenSocket !== undefined) uWS.us_listen_socket_close(listenSocket);
      listenSocket = undefined;
      clearInterval(slowConsumerSweep);
      const leaves: Promise<unknown>[] = [];
      for (const ws of sockets) {
        const connection = ws.getUserData().connection;
        for (const room of roomList(connection.rooms)) leaves.push(leaveOnOwner(connection, room, 'disconnected'));
        connection.rooms = undefined;
      }
      await Promise.race([Promise.all(leaves), sleep(timeoutMs)]);
      lease.stop(false); // no `leaving`: a leave that did not get through is still cleaned up by the lease
      for (const ws of [...sockets]) closeWith(ws, CLOSE_CODES.going_away, 'server shutting down');
      await sleep(20);
      for (const ws of [...sockets]) ws.close();
    },
  };
}

/**
 * A fresh id per process start: a restarted gateway must not share connection ids or a lease
 * with its previous incarnation, whose connections the rooms time out (DESIGN.md §7). A
 * configured name (LECTERN_GATEWAY_ID) becomes the prefix.
 */
export function newGatewayId(name = 'gw'): string {
  return `${name}${randomBytes(4).toString('hex')}`;
}
export { statusLine };
