/**
 * The Lectern client: one WebSocket to a Lectern server, kept alive across drops. It
 * reconnects with backoff, rejoins every room with `since` and folds what it missed, queues
 * outgoing messages while offline and resends them with their `mid`, so each is stored once
 * and in order (PROTOCOL.md §6–§7). No dependency but the protocol's types; no Node-only API:
 * browsers use their `WebSocket`, Node passes `ws`.
 */
import type {
  AckFrame,
  ChatMessageEvent,
  ClientFrame,
  ErrorFrame,
  JoinedFrame,
  LeftFrame,
  Limits,
  LiveSessionUpdateEvent,
  NotificationEvent,
  PongFrame,
  PresenceDiffFrame,
  RoomEvent,
  ServerFrame,
  SessionState,
  UserJoinedEvent,
  UserLeftEvent,
  UserNotificationFrame,
  UserRef,
  WelcomeFrame,
} from '@lectern/protocol';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
import { systemClock, type Clock } from './clock.js';
import { Emitter } from './emitter.js';
import { isRetryableCode, LecternClientError } from './errors.js';
import { Room, type PendingMessage, type RoomHost } from './room.js';
import { DEFAULT_ROOM_STATE_OPTIONS, type RoomStateOptions } from './room-state.js';

/** Connection states. `reconnecting` covers both the wait before a retry and the retry itself. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** What the client needs of a WebSocket: the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: any) => void): void;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** Why a token is asked for. */
export interface TokenRequest {
  reason: 'connect' | 'reconnect' | 'expired' | 'refresh';
  /** Failed attempts since the last successful connection. */
  attempt: number;
}

export interface LecternClientOptions {
  /** `ws://host:port/ws` (or `wss://`). The token is added as `?token=`. */
  url: string;
  /** A fixed token. Without `getToken`, a `4001` close (token expired) ends the connection. */
  token?: string;
  /**
   * Asked for a token before every connection attempt and before the token expires (it is then
   * sent as `refresh_token`). After a `4001` close the client reconnects only with a token from here.
   */
  getToken?: (request: TokenRequest) => string | Promise<string>;
  /** The WebSocket implementation; defaults to `globalThis.WebSocket`. Node: `import WebSocket from 'ws'`. */
  WebSocket?: WebSocketConstructor;
  reconnect?: Partial<BackoffOptions>;
  /** Outgoing messages kept while they cannot be sent; when full the oldest is dropped (`queue_drop`). */
  maxQueue?: number;
  /** How long a request waits for its answer. */
  requestTimeoutMs?: number;
  /** App-level `ping` interval while open, for the round-trip time and to notice a dead link; 0 = off. */
  pingIntervalMs?: number;
  /** How long a new socket may take to deliver `welcome`. */
  welcomeTimeoutMs?: number;
  /** Refresh the token this long before it expires (when `getToken` is given). */
  refreshBeforeExpiryMs?: number;
  room?: Partial<RoomStateOptions>;
  clock?: Clock;
  random?: () => number;
}

export const DEFAULT_CLIENT_OPTIONS = Object.freeze({
  maxQueue: 100,
  requestTimeoutMs: 10_000,
  pingIntervalMs: 15_000,
  welcomeTimeoutMs: 10_000,
  refreshBeforeExpiryMs: 60_000,
});

/** The connection as a view shows it; a new object on every change (for `useSyncExternalStore`). */
export interface ConnectionStatus {
  readonly state: ConnectionState;
  /** Failed attempts since the last successful connection. */
  readonly attempt: number;
  /** While waiting to reconnect: when the next attempt starts (ms since epoch). */
  readonly retryAt: number | undefined;
  /** Outgoing messages not acknowledged yet. */
  readonly queued: number;
  /** Last measured round-trip time of `ping`, in ms. */
  readonly rtt: number | undefined;
  readonly user: UserRef | undefined;
  readonly connectionId: string | undefined;
  readonly limits: Limits | undefined;
  readonly lastClose: { code: number; reason: string } | undefined;
}

/** Every event the client emits, by name. Frame events carry the frame as received. */
export interface ClientEvents {
  state: ConnectionStatus;
  status: ConnectionStatus;
  /** Every frame received, before it is handled. */
  frame: ServerFrame;
  /** Every frame sent. */
  sent: ClientFrame;
  /** The socket closed (before any reconnect decision). */
  close: { code: number; reason: string };
  welcome: WelcomeFrame;
  joined: JoinedFrame;
  left: LeftFrame;
  ack: AckFrame;
  pong: PongFrame;
  error: ErrorFrame;
  user_joined: UserJoinedEvent;
  user_left: UserLeftEvent;
  chat_message: ChatMessageEvent;
  live_session_update: LiveSessionUpdateEvent;
  notification: NotificationEvent | UserNotificationFrame;
  presence_diff: PresenceDiffFrame;
  /** A room event newly applied to a room's state, live or from `missed` (`replayed`). Duplicates never appear here. */
  room_event: { room: string; event: RoomEvent | PresenceDiffFrame; replayed: boolean };
  /** A seq gap in a room: the client rejoins it with `since` to heal it. */
  gap: { room: string; expected: number; got: number };
  /** A room's history was too old to resume: its state was rebuilt from the snapshot. */
  reset: { room: string };
  /** The queue was full: this message, the oldest, was dropped; its promise rejects with `queue_full`. */
  queue_drop: { room: string; frame: OutgoingFrame };
  /** A new round-trip time, in ms. */
  rtt: number;
}

type OutgoingFrame =
  | { type: 'chat_message'; room: string; text: string; mid?: string }
  | { type: 'live_session_update'; room: string; state?: SessionState; data?: Record<string, unknown> };

interface Outgoing {
  room: Room;
  frame: OutgoingFrame;
  queuedAt: number;
  attempts: number;
  sending: boolean;
  retryTimer: unknown;
  resolve(ack: AckFrame): void;
  reject(err: Error): void;
}

interface PendingRequest {
  resolve(frame: ServerFrame): void;
  reject(err: Error): void;
  timer: unknown;
}

type Request = ClientFrame extends infer F ? (F extends { id?: string } ? Omit<F, 'id'> : never) : never;
/** The answer each request type gets. */
export interface AnswerOf {
  join_room: JoinedFrame;
  leave_room: LeftFrame;
  chat_message: AckFrame;
  live_session_update: AckFrame;
  ping: PongFrame;
  refresh_token: AckFrame;
}

const OPEN = 1;
/** Close code this client uses when it drops a socket itself (dead link, forced reconnect). */
export const CLIENT_DROP_CODE = 4000;
const ANSWER_TYPES = new Set(['joined', 'left', 'ack', 'pong', 'error']);
const ROOM_EVENT_TYPES = new Set(['user_joined', 'user_left', 'chat_message', 'live_session_update', 'notification', 'presence_diff']);

export class LecternClient extends Emitter<ClientEvents> implements RoomHost {
  private readonly options: Required<Omit<LecternClientOptions, 'token' | 'getToken' | 'WebSocket' | 'room' | 'reconnect'>>;
  private readonly backoff: BackoffOptions;
  private readonly roomOptions: RoomStateOptions;
  private readonly clock: Clock;
  private readonly WebSocketImpl: WebSocketConstructor;
  private readonly rooms = new Map<string, Room>();
  private readonly pending = new Map<string, PendingRequest>();
  private readonly outbox: Outgoing[] = [];
  private token: string | undefined;
  private socket: WebSocketLike | undefined;
  private welcomed = false;
  private stopped = true;
  private generation = 0;
  private nextRequest = 0;
  private nextMid = 0;
  private readonly midPrefix: string;
  private reconnectTimer: unknown;
  private welcomeTimer: unknown;
  private pingTimer: unknown;
  private refreshTimer: unknown;
  private needsNewToken = false;
  private currentStatus: ConnectionStatus;
  private readonly statusListeners = new Set<() => void>();

  constructor(private readonly init: LecternClientOptions) {
    super();
    const WebSocketImpl = init.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (WebSocketImpl === undefined) throw new TypeError('no WebSocket implementation: pass options.WebSocket (in Node: `import WebSocket from "ws"`)');
    this.WebSocketImpl = WebSocketImpl;
    this.options = {
      url: init.url,
      maxQueue: init.maxQueue ?? DEFAULT_CLIENT_OPTIONS.maxQueue,
      requestTimeoutMs: init.requestTimeoutMs ?? DEFAULT_CLIENT_OPTIONS.requestTimeoutMs,
      pingIntervalMs: init.pingIntervalMs ?? DEFAULT_CLIENT_OPTIONS.pingIntervalMs,
      welcomeTimeoutMs: init.welcomeTimeoutMs ?? DEFAULT_CLIENT_OPTIONS.welcomeTimeoutMs,
      refreshBeforeExpiryMs: init.refreshBeforeExpiryMs ?? DEFAULT_CLIENT_OPTIONS.refreshBeforeExpiryMs,
      clock: init.clock ?? systemClock,
      random: init.random ?? Math.random,
    };
    this.backoff = { ...DEFAULT_BACKOFF, ...init.reconnect };
    this.roomOptions = { ...DEFAULT_ROOM_STATE_OPTIONS, ...init.room };
    this.clock = this.options.clock;
    this.token = init.token;
    this.midPrefix = Math.floor(this.options.random() * 2 ** 48).toString(36);
    this.currentStatus = { state: 'closed', attempt: 0, retryAt: undefined, queued: 0, rtt: undefined, user: undefined, connectionId: undefined, limits: undefined, lastClose: undefined };
  }

  // ---- public API -----------------------------------------------------------------------------

  get state(): ConnectionState {
    return this.currentStatus.state;
  }

  /** The connection status; the same object until something changes. */
  getStatus = (): ConnectionStatus => this.currentStatus;

  /** Calls `listener` after every change of `getStatus()`. */
  subscribeStatus = (listener: () => void): (() => void) => {
    this.statusListeners.add(listener);
    return () => {
      this.statusListeners.delete(listener);
    };
  };

  /** Opens the connection (idempotent). */
  connect(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.updateStatus({ state: 'connecting', attempt: 0, retryAt: undefined });
    void this.openSocket('connect');
  }

  /** Closes the connection for good (code 1000). Pending requests and queued messages fail with `closed`. */
  close(): void {
    this.stopped = true;
    this.generation++;
    this.clearTimers();
    const socket = this.socket;
    this.detachSocket();
    socket?.close(1000, 'client closed');
    this.failPending('closed', 'the client was closed');
    for (const entry of this.outbox.splice(0)) {
      this.clock.clearTimeout(entry.retryTimer);
      entry.reject(new LecternClientError('closed', 'the client was closed before the message was sent', { room: entry.room.id }));
    }
    for (const room of this.rooms.values()) {
      room.onJoinAborted();
      room.sending = false;
      if (room.wanted) room.setStatus('rejoining');
    }
    this.updateStatus({ state: 'closed', retryAt: undefined, queued: 0 });
  }

  /**
   * Drops the socket as a network failure would (close code 4000) and reconnects at once: for
   * test pages and for apps that know the link is dead (the browser went back online).
   */
  reconnectNow(): void {
    if (this.stopped) return this.connect();
    this.clock.clearTimeout(this.reconnectTimer);
    if (this.socket !== undefined) this.dropSocket('reconnect requested');
    else if (this.currentStatus.state === 'reconnecting') void this.openSocket('reconnect');
  }

  /** Drops the socket (close code 4000) and goes through the normal reconnect path, with backoff. */
  forceDisconnect(): void {
    if (this.socket !== undefined) this.dropSocket('forced disconnect');
  }

  /** The handle of room `id` (created on first use; joining is `room.join()`). */
  room(id: string): Room {
    let room = this.rooms.get(id);
    if (room === undefined) {
      room = new Room(id, this, this.roomOptions);
      this.rooms.set(id, room);
    }
    return room;
  }

  /** Sends `ping` and resolves with the round-trip time in ms. */
  async ping(): Promise<number> {
    const sentAt = this.clock.now();
    await this.request({ type: 'ping', ts: sentAt });
    const rtt = this.clock.now() - sentAt;
    this.updateStatus({ rtt });
    this.emit('rtt', rtt);
    return rtt;
  }

  /** Sends `refresh_token` with a new token (same `sub`); later reconnects use it too. */
  async refreshToken(token: string): Promise<AckFrame> {
    this.token = token;
    const ack = await this.request({ type: 'refresh_token', token });
    this.scheduleRefresh(token);
    return ack;
  }

  /**
   * Sends a request and resolves with its answer (matched by `id`), or rejects with the
   * server's error code, `timeout` or `disconnected`. Room membership and the queue are not
   * involved: use `room(id)` for those.
   */
  request<T extends Request>(frame: T, options: { timeoutMs?: number } = {}): Promise<AnswerOf[T['type']]> {
    const socket = this.socket;
    if (socket === undefined || !this.welcomed || socket.readyState !== OPEN) {
      return Promise.reject(new LecternClientError('disconnected', 'not connected'));
    }
    const id = `c${++this.nextRequest}`;
    return new Promise<AnswerOf[T['type']]>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.pending.delete(id);
        reject(new LecternClientError('timeout', `no answer to ${frame.type} within ${options.timeoutMs ?? this.options.requestTimeoutMs} ms`));
      }, options.timeoutMs ?? this.options.requestTimeoutMs);
      this.pending.set(id, { resolve: resolve as (frame: ServerFrame) => void, reject, timer });
      this.sendFrame({ ...frame, id } as ClientFrame);
    });
  }

  // ---- RoomHost: called by room handles -------------------------------------------------------

  /** @internal */
  joinRoom(room: Room): void {
    room.wanted = true;
    if (room.status === 'idle' || room.status === 'left' || room.status === 'error') room.setStatus(room.state.seq > 0 ? 'rejoining' : 'joining');
    this.sendJoin(room);
  }

  /** @internal */
  async leaveRoom(room: Room): Promise<void> {
    const wasJoined = room.status === 'joined' || room.joinInFlight;
    room.wanted = false;
    room.onJoinAborted();
    for (const entry of this.outbox.filter((e) => e.room === room)) {
      this.removeEntry(entry);
      entry.reject(new LecternClientError('closed', 'left the room before the message was sent', { room: room.id }));
    }
    room.setStatus('left');
    if (wasJoined && this.welcomed) {
      try {
        await this.request({ type: 'leave_room', room: room.id });
      } catch {
        // Leaving a connection that is gone is already done: the server left it on close.
      }
    }
  }

  /** @internal */
  enqueue(room: Room, frame: { type: 'chat_message'; text: string; mid?: string } | { type: 'live_session_update'; state?: SessionState; data?: Record<string, unknown> }): Promise<AckFrame> {
    const outgoing: OutgoingFrame =
      frame.type === 'chat_message'
        ? { type: 'chat_message', room: room.id, text: frame.text, mid: frame.mid ?? this.newMid() }
        : { ...frame, room: room.id };
    return new Promise<AckFrame>((resolve, reject) => {
      if (this.outbox.length >= this.options.maxQueue) {
        const oldest = this.outbox.find((e) => !e.sending) ?? this.outbox[0]!;
        this.removeEntry(oldest);
        oldest.reject(new LecternClientError('queue_full', 'the outgoing queue was full: this message, the oldest, was dropped', { room: oldest.room.id }));
        this.emit('queue_drop', { room: oldest.room.id, frame: oldest.frame });
      }
      this.outbox.push({ room, frame: outgoing, queuedAt: this.clock.now(), attempts: 0, sending: false, retryTimer: undefined, resolve, reject });
      this.updateStatus({ queued: this.outbox.length });
      room.changed();
      this.pump(room);
    });
  }

  /** @internal */
  pendingFor(room: Room): PendingMessage[] {
    const result: PendingMessage[] = [];
    for (const entry of this.outbox) {
      if (entry.room !== room) continue;
      const frame = entry.frame;
      result.push({
        kind: frame.type === 'chat_message' ? 'chat' : 'session',
        ...(frame.type === 'chat_message' ? { text: frame.text, ...(frame.mid !== undefined ? { mid: frame.mid } : {}) } : {}),
        state: entry.sending ? 'sending' : 'queued',
        queuedAt: entry.queuedAt,
      });
    }
    return result;
  }

  /** @internal */
  roomEvent(room: Room, event: RoomEvent | PresenceDiffFrame, replayed: boolean): void {
    this.emit('room_event', { room: room.id, event, replayed });
  }

  /** @internal A seq gap: rejoin with `since` to get the missing events. */
  roomGap(room: Room, expected: number, got: number): void {
    this.emit('gap', { room: room.id, expected, got });
    this.sendJoin(room);
  }

  /** @internal */
  roomReset(room: Room): void {
    this.emit('reset', { room: room.id });
  }

  // ---- the socket -----------------------------------------------------------------------------

  private async openSocket(reason: TokenRequest['reason']): Promise<void> {
    const generation = ++this.generation;
    let token = this.token;
    if (this.init.getToken !== undefined) {
      try {
        token = await this.init.getToken({ reason: this.needsNewToken ? 'expired' : reason, attempt: this.currentStatus.attempt });
        this.token = token;
      } catch {
        if (generation === this.generation && !this.stopped) this.scheduleReconnect();
        return;
      }
      if (generation !== this.generation || this.stopped) return;
    } else if (this.needsNewToken) {
      return this.finish({ code: 4001, reason: 'token expired and no getToken to renew it' });
    }
    this.needsNewToken = false;
    let socket: WebSocketLike;
    try {
      socket = new this.WebSocketImpl(token === undefined ? this.options.url : withToken(this.options.url, token));
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.welcomed = false;
    socket.addEventListener('message', (event: { data: unknown }) => {
      if (this.socket === socket) this.onMessage(event.data);
    });
    socket.addEventListener('close', (event: { code?: number; reason?: string }) => {
      if (this.socket === socket) this.onSocketClosed(event.code ?? 1006, event.reason ?? '');
    });
    socket.addEventListener('error', () => {
      // A `close` event always follows; the reconnect decision is made there.
    });
    this.welcomeTimer = this.clock.setTimeout(() => {
      if (this.socket === socket && !this.welcomed) this.dropSocket('no welcome in time');
    }, this.options.welcomeTimeoutMs);
  }

  private onMessage(data: unknown): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data)) as ServerFrame;
    } catch {
      return;
    }
    if (frame === null || typeof frame !== 'object' || typeof frame.type !== 'string') return;
    this.emit('frame', frame);
    if (frame.type === 'welcome') return this.onWelcome(frame);
    const id = (frame as { id?: unknown }).id;
    if (typeof id === 'string' && ANSWER_TYPES.has(frame.type)) {
      const request = this.pending.get(id);
      if (request !== undefined) {
        this.pending.delete(id);
        this.clock.clearTimeout(request.timer);
        if (frame.type === 'error') request.reject(LecternClientError.fromFrame(frame));
        else request.resolve(frame);
      }
    }
    this.emit(frame.type as 'ack', frame as AckFrame);
    if (ROOM_EVENT_TYPES.has(frame.type) && typeof (frame as { seq?: unknown }).seq === 'number') {
      const event = frame as RoomEvent | PresenceDiffFrame;
      const room = this.rooms.get(event.room);
      room?.onLive(event);
    }
  }

  private onWelcome(frame: WelcomeFrame): void {
    this.clock.clearTimeout(this.welcomeTimer);
    this.welcomed = true;
    this.updateStatus({ state: 'open', attempt: 0, retryAt: undefined, user: frame.user, connectionId: frame.connectionId, limits: frame.limits });
    this.emit('welcome', frame);
    if (this.token !== undefined) this.scheduleRefresh(this.token);
    for (const room of this.rooms.values()) if (room.wanted) this.sendJoin(room);
    this.schedulePing(0);
  }

  private onSocketClosed(code: number, reason: string): void {
    this.detachSocket();
    this.clearTimers();
    this.failPending('disconnected', `the connection closed (${code})`);
    for (const room of this.rooms.values()) {
      room.onJoinAborted();
      room.sending = false;
      if (room.wanted && room.status !== 'error') room.setStatus('rejoining');
    }
    for (const entry of this.outbox) entry.sending = false;
    for (const room of this.rooms.values()) room.changed();
    this.updateStatus({ lastClose: { code, reason } });
    this.emit('close', { code, reason });
    if (this.stopped) return;
    if (code === 1000 || code === 1008 || code === 1009) return this.finish({ code, reason });
    if (code === 4001) {
      // Token expired or revoked: only a new token helps, and only getToken can give one.
      if (this.init.getToken === undefined) return this.finish({ code, reason });
      this.needsNewToken = true;
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    const attempt = this.currentStatus.attempt + 1;
    if (attempt > this.backoff.maxAttempts) return this.finish(this.currentStatus.lastClose ?? { code: 1006, reason: 'gave up reconnecting' });
    const delay = backoffDelay(attempt, this.backoff, this.options.random);
    this.updateStatus({ state: 'reconnecting', attempt, retryAt: this.clock.now() + delay });
    this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.updateStatus({ retryAt: undefined });
      void this.openSocket('reconnect');
    }, delay);
  }

  /** Gives up: state `closed`, queued messages stay until `connect()` or `close()`. */
  private finish(lastClose: { code: number; reason: string }): void {
    this.stopped = true;
    this.clearTimers();
    this.updateStatus({ state: 'closed', retryAt: undefined, lastClose });
  }

  private dropSocket(reason: string): void {
    const socket = this.socket;
    if (socket === undefined) return;
    try {
      socket.close(CLIENT_DROP_CODE, reason);
    } catch {
      // Already closing: the close below is what counts.
    }
    this.onSocketClosed(CLIENT_DROP_CODE, reason);
  }

  private detachSocket(): void {
    this.socket = undefined;
    this.welcomed = false;
  }

  private clearTimers(): void {
    this.clock.clearTimeout(this.reconnectTimer);
    this.clock.clearTimeout(this.welcomeTimer);
    this.clock.clearTimeout(this.pingTimer);
    this.clock.clearTimeout(this.refreshTimer);
  }

  private failPending(code: string, message: string): void {
    for (const [id, request] of this.pending) {
      this.clock.clearTimeout(request.timer);
      this.pending.delete(id);
      request.reject(new LecternClientError(code, message));
    }
  }

  private sendFrame(frame: ClientFrame): void {
    this.socket!.send(JSON.stringify(frame));
    this.emit('sent', frame);
  }

  // ---- rooms: join with since, and the outgoing queue -----------------------------------------

  private sendJoin(room: Room): void {
    if (!this.welcomed || room.joinInFlight || !room.wanted) return;
    const since = room.state.seq > 0 ? room.state.seq : undefined;
    room.joinInFlight = true;
    if (room.status !== 'joined') room.setStatus(since !== undefined ? 'rejoining' : 'joining');
    this.request({ type: 'join_room', room: room.id, ...(since !== undefined ? { since } : {}) }).then(
      (joined) => {
        if (!room.wanted) return room.onJoinAborted();
        room.onJoined(joined, since);
        this.pump(room);
      },
      (err: LecternClientError) => {
        room.onJoinAborted();
        if (!room.wanted || err.code === 'disconnected' || err.code === 'closed') return;
        if (isRetryableCode(err.code)) {
          // Rooms moving between hosts answer `unavailable`: try again shortly, on this socket.
          const delay = err.retryAfterMs ?? backoffDelay(1, this.backoff, this.options.random) + 100;
          this.clock.setTimeout(() => this.sendJoin(room), delay);
          return;
        }
        room.wanted = false;
        room.setStatus('error', { code: err.code, message: err.message });
        for (const entry of this.outbox.filter((e) => e.room === room)) {
          this.removeEntry(entry);
          entry.reject(new LecternClientError(err.code, `could not join ${room.id}: ${err.message}`, { room: room.id }));
        }
      },
    );
  }

  /**
   * Sends the room's oldest queued message, one at a time per room: that keeps the order the
   * user typed in across retries and reconnects, at the price of one round trip per message.
   */
  private pump(room: Room): void {
    if (!this.welcomed || room.status !== 'joined' || room.joinInFlight || room.sending) return;
    const entry = this.outbox.find((e) => e.room === room);
    if (entry === undefined || entry.retryTimer !== undefined) return;
    room.sending = true;
    entry.sending = true;
    entry.attempts++;
    room.changed();
    this.request(entry.frame).then(
      (ack) => {
        room.sending = false;
        this.removeEntry(entry);
        entry.resolve(ack);
        this.pump(room);
      },
      (err: LecternClientError) => {
        room.sending = false;
        entry.sending = false;
        room.changed();
        if (!this.outbox.includes(entry)) return this.pump(room);
        if (err.code === 'disconnected' || err.code === 'closed') return; // resent after the rejoin
        if (err.code === 'not_joined') {
          // The server no longer has this connection in the room: rejoin, then resend.
          room.setStatus('rejoining');
          return this.sendJoin(room);
        }
        if (isRetryableCode(err.code)) {
          const delay = err.retryAfterMs ?? backoffDelay(entry.attempts, this.backoff, this.options.random);
          entry.retryTimer = this.clock.setTimeout(() => {
            entry.retryTimer = undefined;
            this.pump(room);
          }, delay);
          return;
        }
        this.removeEntry(entry);
        entry.reject(err);
        this.pump(room);
      },
    );
  }

  private removeEntry(entry: Outgoing): void {
    const index = this.outbox.indexOf(entry);
    if (index < 0) return;
    this.outbox.splice(index, 1);
    this.clock.clearTimeout(entry.retryTimer);
    entry.retryTimer = undefined;
    this.updateStatus({ queued: this.outbox.length });
    entry.room.changed();
  }

  private newMid(): string {
    return `${this.midPrefix}-${(++this.nextMid).toString(36)}`;
  }

  // ---- pings and token refresh ----------------------------------------------------------------

  private schedulePing(delay: number): void {
    if (this.options.pingIntervalMs <= 0) return;
    this.clock.clearTimeout(this.pingTimer);
    this.pingTimer = this.clock.setTimeout(() => {
      const socket = this.socket;
      this.ping().then(
        () => this.schedulePing(this.options.pingIntervalMs),
        (err: LecternClientError) => {
          // No pong in time on a socket that looks open: the link is dead, drop it and reconnect.
          if (err.code === 'timeout' && this.socket === socket) this.dropSocket('ping timeout');
        },
      );
    }, delay);
  }

  private scheduleRefresh(token: string): void {
    this.clock.clearTimeout(this.refreshTimer);
    const getToken = this.init.getToken;
    const exp = tokenExpiry(token);
    if (getToken === undefined || exp === undefined) return;
    const delay = Math.max(1000, exp * 1000 - this.options.refreshBeforeExpiryMs - this.clock.now());
    this.refreshTimer = this.clock.setTimeout(() => {
      Promise.resolve(getToken({ reason: 'refresh', attempt: 0 }))
        .then((fresh) => this.refreshToken(fresh))
        .catch(() => {
          // The server closes with 4001 at expiry; the reconnect path asks getToken again.
        });
    }, delay);
  }

  private updateStatus(change: Partial<ConnectionStatus>): void {
    const previous = this.currentStatus;
    this.currentStatus = { ...previous, ...change };
    if (change.state !== undefined && change.state !== previous.state) this.emit('state', this.currentStatus);
    this.emit('status', this.currentStatus);
    for (const listener of this.statusListeners) listener();
  }
}

function withToken(url: string, token: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
}

/** The `exp` claim of a JWT, read without verifying (only to schedule a refresh). */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined || typeof atob !== 'function') return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp : undefined;
  } catch {
    return undefined;
  }
}
