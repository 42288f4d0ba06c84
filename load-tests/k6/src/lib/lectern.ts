/**
 * The Lectern wire protocol (PROTOCOL.md) for k6 scenarios: tokens, one connection with its
 * per-room continuity check, and the metrics every scenario shares.
 *
 * Written for k6 v0.48 and newer: `k6/experimental/websockets` (several sockets per VU) with
 * timers from `k6/experimental/timers`. Bundled by esbuild to es2015 (see ../build.mjs), which
 * lowers `??`, `?.` and object spread, none of which k6 v0.48's engine accepts.
 */
import { fail } from 'k6';
import { hmac } from 'k6/crypto';
import { b64encode } from 'k6/encoding';
import { WebSocket, type ErrorEvent, type MessageEvent } from 'k6/experimental/websockets';
import { clearTimeout, setTimeout } from 'k6/experimental/timers';
import http from 'k6/http';
import { Counter, Rate, Trend } from 'k6/metrics';

// ---------------------------------------------------------------------------------------------
// Configuration from the environment (`k6 run -e NAME=value`)

export function env(name: string, fallback: string): string {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

export function envNumber(name: string, fallback: number): number {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!isFinite(value) || value < 0) fail(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}

/** ws://HOST:PORT/ws of the gateway; wss:// works the same. */
export const LECTERN_URL = env('LECTERN_URL', 'ws://127.0.0.1:5000/ws');

/** A prefix unique to this run, so rooms start empty even on a server that keeps its log. */
export function runPrefix(scenario: string): string {
  return env('RUN_ID', `k6-${scenario}-${Date.now().toString(36)}`);
}

// ---------------------------------------------------------------------------------------------
// Metrics. Declared here, at import time, which is k6's init context, so every scenario that
// imports this module reports the same names.

export const metrics = {
  /** TCP + upgrade + `welcome`. */
  connectLatency: new Trend('lectern_connect_latency', true),
  /** `join_room` → `joined`. */
  joinLatency: new Trend('lectern_join_latency', true),
  /** Receive time − the send time written in the chat text (`t:<ms>:…`), at every receiver. */
  deliveryLatency: new Trend('lectern_delivery_latency', true),
  /** Request → `ack`, at the sender. */
  ackLatency: new Trend('lectern_ack_latency', true),
  /** A receiver saw seq N then more than N+1: events were lost. Must stay 0. */
  seqGaps: new Counter('lectern_seq_gaps'),
  /** How many seqs the gaps above skipped. */
  missingEvents: new Counter('lectern_missing_events'),
  /** A chat event at or below a seq the connection already had after `joined`. Must stay 0. */
  duplicates: new Counter('lectern_duplicates'),
  /** Chat events received (every receiver counts; the sender receives its own too). */
  delivered: new Counter('lectern_messages_delivered'),
  sent: new Counter('lectern_messages_sent'),
  acked: new Counter('lectern_messages_acked'),
  /** Requests still unanswered when their connection closed. */
  unacked: new Counter('lectern_messages_unacked'),
  /** Chat events a receiver should have had but did not (scenarios that know the expected count). */
  lostDeliveries: new Counter('lectern_lost_deliveries'),
  /** `error` frames, tagged with `code`. */
  errors: new Counter('lectern_errors'),
  connectOk: new Rate('lectern_connect_ok'),
  joinOk: new Rate('lectern_join_ok'),
  /** The connection saw its scenario's end marker and closed by itself. */
  completed: new Rate('lectern_completed'),
  /** `joined.recovered` after a resume with `since`. */
  recovered: new Rate('lectern_recovered'),
  /** Closes the client did not ask for, and socket errors (close codes other than 1000/1001 arrive as errors). */
  unexpectedCloses: new Counter('lectern_unexpected_closes'),
};

let touched = false;
/**
 * Adds 0 to every counter once per VU, so each metric exists in the summary and its threshold
 * is evaluated (a `count==0` threshold on a metric nobody touched proves nothing).
 */
function touchMetrics(): void {
  if (touched) return;
  touched = true;
  const counters = [metrics.seqGaps, metrics.missingEvents, metrics.duplicates, metrics.delivered, metrics.sent,
    metrics.acked, metrics.unacked, metrics.lostDeliveries, metrics.errors, metrics.unexpectedCloses];
  for (const counter of counters) counter.add(0);
}

// ---------------------------------------------------------------------------------------------
// Tokens: HS256 signed here with JWT_SECRET, or fetched from a token endpoint.

export interface Identity {
  id: string;
  name?: string;
  role?: 'learner' | 'instructor' | 'moderator' | 'service';
  /** Room patterns granted (`rooms` claim): exact ids or a prefix ending in `*`. */
  rooms: string[];
}

const TOKEN_TTL_SECONDS = envNumber('TOKEN_TTL', 4 * 3600);

export function signHs256(claims: object, secret: string): string {
  const header = b64encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' }), 'rawurl');
  const payload = b64encode(JSON.stringify(claims), 'rawurl');
  // base64rawurl straight from hmac: JWT's encoding, no ArrayBuffer round trip.
  const signature = hmac('sha256', secret, `${header}.${payload}`, 'base64rawurl');
  return `${header}.${payload}.${signature}`;
}

/**
 * A token for `who`: signed with JWT_SECRET when it is set; otherwise POSTed for at
 * LECTERN_TOKEN_URL (Lectern's development endpoint `POST /dev/token {id, name, role}` → `{token}`,
 * or your platform's equivalent answering the same shape).
 */
export function tokenFor(who: Identity): string {
  const secret = __ENV.JWT_SECRET;
  if (secret) {
    const now = Math.floor(Date.now() / 1000);
    return signHs256(
      { sub: who.id, name: who.name || who.id, role: who.role || 'learner', rooms: who.rooms, iat: now, exp: now + TOKEN_TTL_SECONDS },
      secret,
    );
  }
  const endpoint = __ENV.LECTERN_TOKEN_URL;
  if (!endpoint) fail('set JWT_SECRET (the server\'s HS256 secret) or LECTERN_TOKEN_URL (a token endpoint)');
  const response = http.post(endpoint, JSON.stringify({ id: who.id, name: who.name || who.id, role: who.role || 'learner' }), {
    headers: { 'content-type': 'application/json' },
    tags: { name: 'token' },
  });
  const token = response.status === 200 ? response.json('token') : undefined;
  if (typeof token !== 'string') fail(`token endpoint ${endpoint} answered ${response.status}: ${String(response.body).slice(0, 200)}`);
  return token as string;
}

// ---------------------------------------------------------------------------------------------
// Frames

/** Any frame the server sends; only the fields the scenarios read are named. */
export interface Frame {
  type: string;
  id?: string;
  room?: string;
  seq?: number;
  fromSeq?: number;
  ts?: number;
  code?: string;
  message?: string;
  text?: string;
  state?: string;
  data?: { [key: string]: unknown };
  from?: { id: string; name: string; role: string };
  user?: { id: string; name: string; role: string };
  connections?: number;
  count?: number;
  participants?: Array<{ id: string; connections: number }>;
  missed?: Frame[];
  recovered?: boolean;
  duplicate?: boolean;
}

/** Chat text with the send time in it, so every receiver can measure delivery latency. */
export function timedText(sender: string, n: number): string {
  return `t:${Date.now()}:${sender}:${n}`;
}

function sentAtOf(text: string | undefined): number {
  if (!text || text.charAt(0) !== 't' || text.charAt(1) !== ':') return NaN;
  return Number(text.slice(2, text.indexOf(':', 2)));
}

// ---------------------------------------------------------------------------------------------
// One connection

export interface ConnectionHandlers {
  onWelcome?(connection: LecternConnection): void;
  onJoined?(connection: LecternConnection, room: string, frame: Frame): void;
  /** Every room event, after the continuity check, in seq order. */
  onEvent?(connection: LecternConnection, frame: Frame): void;
  onAck?(connection: LecternConnection, frame: Frame): void;
  onError?(connection: LecternConnection, frame: Frame): void;
  /** The socket is gone; `expected` is false when the client did not ask for it. */
  onClose?(connection: LecternConnection, expected: boolean): void;
}

interface RoomState {
  /** Highest seq processed; -1 until `joined`. */
  lastSeq: number;
  /** Events that raced ahead of `joined`; applied once the snapshot's seq is known. */
  early: Frame[];
  joinSentAt: number;
  /** Chat events received since `joined` (live and `missed`). */
  chats: number;
}

interface Pending {
  sentAt: number;
  kind: string;
  room: string;
  text?: string;
  mid?: string;
}

/** A chat message sent but not acknowledged: what a client queues and resends after a reconnect. */
export interface QueuedChat {
  room: string;
  text: string;
  mid?: string;
}

/**
 * One WebSocket to Lectern. It answers nothing by itself except bookkeeping: metrics for
 * connect, join, ack and delivery latency; a continuity check per room (every event's seq,
 * `presence_diff` by `fromSeq`) that counts gaps and duplicates; unanswered requests at close.
 */
export class LecternConnection {
  readonly socket: WebSocket;
  readonly rooms: { [room: string]: RoomState } = {};
  readonly identity: Identity;
  welcomed = false;
  closed = false;
  private closing = false;
  private readonly openedAt: number;
  private readonly pending: { [id: string]: Pending } = {};
  private nextId = 1;
  private readonly handlers: ConnectionHandlers;
  private readonly tags: { [name: string]: string };

  constructor(who: Identity, handlers: ConnectionHandlers, tags?: { [name: string]: string }) {
    this.identity = who;
    this.handlers = handlers;
    this.tags = tags || {};
    touchMetrics();
    const token = tokenFor(who);
    this.openedAt = Date.now();
    const separator = LECTERN_URL.indexOf('?') >= 0 ? '&' : '?';
    this.socket = new WebSocket(`${LECTERN_URL}${separator}token=${encodeURIComponent(token)}`, null, { tags: this.tags });
    this.socket.onopen = () => {
      // A close asked for while connecting is done here: close() on a connecting socket blocks.
      if (this.closing) this.socket.close(1000);
    };
    this.socket.onmessage = (event?: MessageEvent) => {
      if (event && typeof event.data === 'string') this.receive(JSON.parse(event.data) as Frame);
    };
    this.socket.onerror = (event?: ErrorEvent) => {
      // Refused upgrades and close codes other than 1000/1001 arrive here.
      if (!this.welcomed) metrics.connectOk.add(false, this.tags);
      if (!this.closing) metrics.unexpectedCloses.add(1, { reason: event ? String(event.error).slice(0, 80) : 'error' });
      this.finish(false);
    };
    this.socket.onclose = () => {
      if (!this.closing && !this.closed) metrics.unexpectedCloses.add(1, { reason: 'closed by server' });
      this.finish(this.closing);
    };
  }

  get isOpen(): boolean {
    return Number(this.socket.readyState) === 1;
  }

  /** `join_room`; with `since`, the answer carries `missed` and `recovered`. */
  join(room: string, since?: number): void {
    const previous = this.rooms[room];
    this.rooms[room] = { lastSeq: -1, early: [], joinSentAt: Date.now(), chats: previous ? previous.chats : 0 };
    const frame: { [key: string]: unknown } = { type: 'join_room', id: `join:${room}`, room };
    if (since !== undefined) frame.since = since;
    this.send(frame);
  }

  /** `chat_message`; `resend` for a queued message sent again (counted once in `lectern_messages_sent`). */
  chat(room: string, text: string, mid?: string, resend?: boolean): void {
    const id = String(this.nextId++);
    this.pending[id] = { sentAt: Date.now(), kind: 'chat', room, text, mid };
    if (!resend) metrics.sent.add(1, this.tags);
    const frame: { [key: string]: unknown } = { type: 'chat_message', id, room, text };
    if (mid !== undefined) frame.mid = mid;
    this.send(frame);
  }

  sessionUpdate(room: string, state: string | undefined, data?: object): void {
    const id = String(this.nextId++);
    this.pending[id] = { sentAt: Date.now(), kind: 'session', room };
    const frame: { [key: string]: unknown } = { type: 'live_session_update', id, room };
    if (state !== undefined) frame.state = state;
    if (data !== undefined) frame.data = data;
    this.send(frame);
  }

  /** The highest seq processed in `room` (what to pass as `since` after a reconnect). */
  lastSeq(room: string): number {
    const state = this.rooms[room];
    return state ? state.lastSeq : -1;
  }

  chatsReceived(room: string): number {
    const state = this.rooms[room];
    return state ? state.chats : 0;
  }

  /**
   * Takes the unacknowledged chat messages out of this connection (they no longer count as
   * unacked when it closes), for resending with the same `mid` on the next connection.
   */
  takeQueue(): QueuedChat[] {
    const queue: QueuedChat[] = [];
    for (const id of Object.keys(this.pending)) {
      const pending = this.pending[id] as Pending;
      if (pending.kind === 'chat' && pending.text !== undefined) {
        queue.push({ room: pending.room, text: pending.text, mid: pending.mid });
        delete this.pending[id];
      }
    }
    return queue;
  }

  unanswered(): number {
    return Object.keys(this.pending).length;
  }

  /** Closes with 1000 (now, or as soon as the socket opens). Idempotent. */
  close(): void {
    if (this.closing || this.closed) return;
    this.closing = true;
    const state = Number(this.socket.readyState);
    if (state === 1) this.socket.close(1000);
    else if (state !== 0) this.finish(true);
  }

  private send(frame: object): void {
    if (this.isOpen) this.socket.send(JSON.stringify(frame));
  }

  private finish(expected: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    const left = this.unanswered();
    if (left > 0) metrics.unacked.add(left, this.tags);
    if (this.handlers.onClose) this.handlers.onClose(this, expected);
  }

  private receive(frame: Frame): void {
    switch (frame.type) {
      case 'welcome':
        this.welcomed = true;
        metrics.connectLatency.add(Date.now() - this.openedAt, this.tags);
        metrics.connectOk.add(true, this.tags);
        if (this.handlers.onWelcome) this.handlers.onWelcome(this);
        return;
      case 'joined':
        this.joined(frame);
        return;
      case 'ack': {
        const pending = frame.id !== undefined ? this.pending[frame.id] : undefined;
        if (pending) {
          delete this.pending[frame.id as string];
          metrics.ackLatency.add(Date.now() - pending.sentAt, this.tags);
          if (pending.kind === 'chat') metrics.acked.add(1, this.tags);
        }
        if (this.handlers.onAck) this.handlers.onAck(this, frame);
        return;
      }
      case 'error': {
        metrics.errors.add(1, { code: frame.code || 'unknown' });
        if (frame.id !== undefined) {
          if (frame.id.indexOf('join:') === 0) metrics.joinOk.add(false, this.tags);
          delete this.pending[frame.id];
        }
        if (this.handlers.onError) this.handlers.onError(this, frame);
        return;
      }
      case 'pong':
      case 'left':
        return;
      default:
        if (typeof frame.room === 'string' && typeof frame.seq === 'number') this.roomEvent(frame);
    }
  }

  private joined(frame: Frame): void {
    const room = frame.room as string;
    const state = this.rooms[room];
    if (!state || state.lastSeq >= 0) return; // a repeated `joined`, or a room we did not ask for
    metrics.joinLatency.add(Date.now() - state.joinSentAt, this.tags);
    metrics.joinOk.add(true, this.tags);
    const head = typeof frame.seq === 'number' ? frame.seq : 0;
    if (frame.recovered !== undefined) metrics.recovered.add(frame.recovered === true, this.tags);
    const since = this.resumeFrom[room];
    delete this.resumeFrom[room];
    if (since !== undefined && frame.recovered === true) {
      // Resumed: continuity runs from the seq the client had, through `missed`, to the head.
      state.lastSeq = since;
      // Events from `missed` count for continuity and delivery, not for latency: they waited for the client.
      for (const event of frame.missed || []) this.apply(state, event, false);
      if (state.lastSeq < head) {
        metrics.seqGaps.add(1, this.tags);
        metrics.missingEvents.add(head - state.lastSeq, this.tags);
        state.lastSeq = head;
      }
    } else {
      // A first join, or a gap too old to fill (`recovered: false`): start from the snapshot.
      state.lastSeq = head;
    }
    const early = state.early.sort((a, b) => (a.seq as number) - (b.seq as number));
    state.early = [];
    for (const event of early) if ((event.seq as number) > state.lastSeq) this.apply(state, event);
    if (this.handlers.onJoined) this.handlers.onJoined(this, room, frame);
  }

  /** `since` per room for the next `joined` (set by `resume`). */
  private readonly resumeFrom: { [room: string]: number } = {};

  /** `join_room` with `since` = the last seq another connection of this client processed. */
  resume(room: string, since: number, chatsSoFar: number): void {
    this.resumeFrom[room] = since;
    this.join(room, since);
    (this.rooms[room] as RoomState).chats = chatsSoFar;
  }

  private roomEvent(frame: Frame): void {
    const state = this.rooms[frame.room as string];
    if (!state) return; // a room this connection never joined (or already left)
    if (state.lastSeq < 0) {
      state.early.push(frame);
      return;
    }
    this.apply(state, frame);
  }

  private apply(state: RoomState, frame: Frame, live = true): void {
    const seq = frame.seq as number;
    const isChat = frame.type === 'chat_message';
    if (seq <= state.lastSeq) {
      if (isChat) metrics.duplicates.add(1, this.tags);
      return;
    }
    const from = frame.type === 'presence_diff' && typeof frame.fromSeq === 'number' ? frame.fromSeq : seq;
    if (from > state.lastSeq + 1) {
      metrics.seqGaps.add(1, this.tags);
      metrics.missingEvents.add(from - state.lastSeq - 1, this.tags);
    }
    state.lastSeq = seq;
    if (isChat) {
      state.chats++;
      metrics.delivered.add(1, this.tags);
      const sentAt = sentAtOf(frame.text);
      if (live && sentAt === sentAt) metrics.deliveryLatency.add(Date.now() - sentAt, this.tags);
    }
    if (this.handlers.onEvent) this.handlers.onEvent(this, frame);
  }
}

/** Runs `fn` after `ms`; returns a cancel function. */
export function after(ms: number, fn: () => void): () => void {
  const id = setTimeout(fn, ms);
  return () => clearTimeout(id);
}
