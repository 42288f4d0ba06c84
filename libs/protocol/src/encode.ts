/**
 * Server → client encoders. Room events are encoded with a fixed key order, never with the
 * key order of the object at hand: the live frame and the frame replayed from the log (whose
 * `jsonb` column reorders keys) must be the same bytes, so clients and analytics can compare,
 * dedupe and hash them.
 */
import type { ErrorCode } from './errors.js';
import { isLecternError } from './errors.js';
import type {
  ChatMessageEvent,
  NotificationData,
  Participant,
  PresenceDiffFrame,
  RoomEvent,
  ServerFrame,
  Session,
  UserNotificationFrame,
  UserRef,
} from './frames.js';

const quote: (text: string) => string = JSON.stringify;

/** Finite numbers as JSON.stringify writes them; anything else as null, like JSON.stringify. */
function number(value: number): string {
  return Number.isFinite(value) ? String(value) : 'null';
}

/** `{"id","name","role"}`, whatever else the object carries. */
export function encodeUser(user: UserRef): string {
  return `{"id":${quote(user.id)},"name":${quote(user.name)},"role":${quote(user.role)}}`;
}

function encodeUsers(users: readonly UserRef[]): string {
  let out = '[';
  for (let i = 0; i < users.length; i++) out += (i === 0 ? '' : ',') + encodeUser(users[i]!);
  return out + ']';
}

function encodeNotificationData(data: NotificationData): string {
  let out = '{';
  if (data.title !== undefined) out += `"title":${quote(data.title)},`;
  out += `"body":${quote(data.body)}`;
  if (data.level !== undefined) out += `,"level":${quote(data.level)}`;
  return out + '}';
}

/**
 * JSON with object keys sorted (by UTF-16 code units), arrays in order, and otherwise the
 * output of JSON.stringify. Used for free-form client data (`live_session_update.data`,
 * `session.data`): its key order would not survive a round trip through the log, so it is
 * made canonical instead of kept as the client sent it.
 */
export function encodeCanonicalJson(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return encodeCanonicalJson(toJSON.call(value));
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + (encodeCanonicalJson(value[i]) ?? 'null');
    return out + ']';
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const encoded = encodeCanonicalJson(record[key]);
    if (encoded === undefined) continue;
    out += (first ? '' : ',') + quote(key) + ':' + encoded;
    first = false;
  }
  return out + '}';
}

function encodeDataObject(data: Record<string, unknown> | undefined): string {
  return encodeCanonicalJson(data ?? {}) ?? '{}';
}

/**
 * The wire frame of a room event: keys `type, room, seq, ts`, then per type
 * - `user_joined`: `user, connections`
 * - `user_left`: `user, connections, reason`
 * - `chat_message`: `from, text, mid?`
 * - `live_session_update`: `from, state, data` (data with sorted keys)
 * - `notification`: `data` as `{title?, body, level?}`
 *
 * Fields outside the protocol are never written. The same event always gives the same bytes.
 */
export function encodeEvent(event: RoomEvent): string {
  const head = `{"type":"${event.type}","room":${quote(event.room)},"seq":${number(event.seq)},"ts":${number(event.ts)}`;
  switch (event.type) {
    case 'user_joined':
      return `${head},"user":${encodeUser(event.user)},"connections":${number(event.connections)}}`;
    case 'user_left':
      return `${head},"user":${encodeUser(event.user)},"connections":${number(event.connections)},"reason":${quote(event.reason)}}`;
    case 'chat_message': {
      const mid = event.mid === undefined ? '' : `,"mid":${quote(event.mid)}`;
      return `${head},"from":${encodeUser(event.from)},"text":${quote(event.text)}${mid}}`;
    }
    case 'live_session_update':
      return `${head},"from":${encodeUser(event.from)},"state":${quote(event.state)},"data":${encodeDataObject(event.data)}}`;
    case 'notification':
      return `${head},"data":${encodeNotificationData(event.data)}}`;
    default:
      throw new TypeError(`not a room event type: ${String((event as { type: unknown }).type)}`);
  }
}

/** `presence_diff` with keys `type, room, fromSeq, seq, ts, joined, left, count`. */
export function encodePresenceDiff(diff: PresenceDiffFrame): string {
  return (
    `{"type":"presence_diff","room":${quote(diff.room)},"fromSeq":${number(diff.fromSeq)},"seq":${number(diff.seq)}` +
    `,"ts":${number(diff.ts)},"joined":${encodeUsers(diff.joined)},"left":${encodeUsers(diff.left)},"count":${number(diff.count)}}`
  );
}

/** An ephemeral notification for one user: `type, data, ts`. */
export function encodeUserNotification(frame: UserNotificationFrame): string {
  return `{"type":"notification","data":${encodeNotificationData(frame.data)},"ts":${number(frame.ts)}}`;
}

/** An event, or its wire frame already encoded by `encodeEvent` (so nothing is encoded twice). */
export type EventOrEncoded<E extends RoomEvent = RoomEvent> = E | string;

/** What `encodeJoinedBody` needs: a `joined` frame without `type` and `id`. */
export interface JoinedBody {
  room: string;
  seq: number;
  participants: readonly Participant[];
  participantCount?: number | undefined;
  participantsTruncated?: boolean | undefined;
  session: Session;
  history: readonly EventOrEncoded<ChatMessageEvent>[];
  missed?: readonly EventOrEncoded[] | undefined;
  recovered?: boolean | undefined;
}

function encodeEventList(events: readonly EventOrEncoded[]): string {
  let out = '[';
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    out += (i === 0 ? '' : ',') + (typeof event === 'string' ? event : encodeEvent(event));
  }
  return out + ']';
}

/**
 * The `joined` frame's JSON text after its `{"type":"joined",` (and `"id":…,`) prefix:
 * `"room","seq","participants","session","history","missed"?,"recovered"?}`. The room owner
 * encodes this once; the gateway completes it with `frameWithBody` and the request's `id`,
 * without parsing it. Events inside are the same bytes as live ones.
 */
export function encodeJoinedBody(body: JoinedBody): string {
  let participants = '[';
  for (let i = 0; i < body.participants.length; i++) {
    const p = body.participants[i]!;
    participants +=
      (i === 0 ? '' : ',') +
      `{"id":${quote(p.id)},"name":${quote(p.name)},"role":${quote(p.role)},"connections":${number(p.connections)}}`;
  }
  participants += ']';
  const session = `{"state":${quote(body.session.state)},"data":${encodeDataObject(body.session.data)},"updatedAt":${number(body.session.updatedAt)}}`;
  let out = `"room":${quote(body.room)},"seq":${number(body.seq)},"participants":${participants}`;
  if (body.participantCount !== undefined) out += `,"participantCount":${number(body.participantCount)}`;
  if (body.participantsTruncated === true) out += ',"participantsTruncated":true';
  out += `,"session":${session}`;
  out += `,"history":${encodeEventList(body.history)}`;
  if (body.missed !== undefined) out += `,"missed":${encodeEventList(body.missed)}`;
  if (body.recovered !== undefined) out += `,"recovered":${body.recovered ? 'true' : 'false'}`;
  return out + '}';
}

/**
 * Completes a frame from its body (the JSON text after the opening `{`, as made by
 * `encodeJoinedBody`): `{"type":<type>,"id":<id>,<body>`, the `id` only when given.
 */
export function frameWithBody(type: string, id: string | undefined, body: string): string {
  return id === undefined ? `{"type":${quote(type)},${body}` : `{"type":${quote(type)},"id":${quote(id)},${body}`;
}

export interface ErrorFrameExtra {
  id?: string | undefined;
  room?: string | undefined;
  retryAfterMs?: number | undefined;
}

/** An `error` answer: keys `type, id?, room?, code, message, retryAfterMs?`. */
export function errorFrame(code: ErrorCode, message: string, extra: ErrorFrameExtra = {}): string {
  let out = '{"type":"error"';
  if (extra.id !== undefined) out += `,"id":${quote(extra.id)}`;
  if (extra.room !== undefined) out += `,"room":${quote(extra.room)}`;
  out += `,"code":${quote(code)},"message":${quote(message)}`;
  if (extra.retryAfterMs !== undefined) out += `,"retryAfterMs":${number(extra.retryAfterMs)}`;
  return out + '}';
}

/**
 * The `error` answer for anything thrown inside: a `LecternError` keeps its code, message and
 * `retryAfterMs` (`extra.retryAfterMs` wins); anything else is `internal` with a generic
 * message, because its text may hold details clients must not see. Log the cause yourself.
 */
export function errorFrameFor(err: unknown, extra: ErrorFrameExtra = {}): string {
  if (!isLecternError(err)) return errorFrame('internal', 'internal error', extra);
  const retryAfterMs = extra.retryAfterMs ?? err.retryAfterMs;
  return errorFrame(err.code, err.message, { id: extra.id, room: extra.room, retryAfterMs });
}

/**
 * Any server frame. Room events, `presence_diff`, notifications, `joined` and `error` use the
 * fixed-order encoders above; the other answers (`welcome`, `left`, `ack`, `pong`) are plain
 * JSON.stringify, which drops undefined fields.
 */
export function encodeFrame(frame: ServerFrame): string {
  switch (frame.type) {
    case 'user_joined':
    case 'user_left':
    case 'chat_message':
    case 'live_session_update':
      return encodeEvent(frame);
    case 'notification':
      return 'seq' in frame ? encodeEvent(frame) : encodeUserNotification(frame);
    case 'presence_diff':
      return encodePresenceDiff(frame);
    case 'joined':
      return frameWithBody('joined', frame.id, encodeJoinedBody(frame));
    case 'error':
      return errorFrame(frame.code as ErrorCode, frame.message, frame);
    default:
      return JSON.stringify(frame);
  }
}
