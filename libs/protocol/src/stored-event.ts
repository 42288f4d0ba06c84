/**
 * Room events as the event log keeps them: `type`, `room`, `seq` and `ts` in their own
 * columns, the rest as a `data` object. `decodeStoredEvent` is the inverse of `eventFields`,
 * and `encodeEvent` gives the same bytes for an event and for its decoded copy.
 */
import { LecternError } from './errors.js';
import type { LeaveReason, NotificationData, NotificationLevel, Role, RoomEvent, SessionState, UserRef } from './frames.js';
import { LEAVE_REASONS, NOTIFICATION_LEVELS, ROLES, SESSION_STATES } from './frames.js';

function userFields(user: UserRef): UserRef {
  return { id: user.id, name: user.name, role: user.role };
}

function notificationFields(data: NotificationData): NotificationData {
  const fields: NotificationData = { body: data.body };
  if (data.title !== undefined) fields.title = data.title;
  if (data.level !== undefined) fields.level = data.level;
  return fields;
}

/**
 * The fields of an event other than `type`, `room`, `seq` and `ts`: what the log stores as the
 * event's `data`. Built from the protocol's fields only, so nothing else is ever stored.
 */
export function eventFields(event: RoomEvent): Record<string, unknown> {
  switch (event.type) {
    case 'user_joined':
      return { user: userFields(event.user), connections: event.connections };
    case 'user_left':
      return { user: userFields(event.user), connections: event.connections, reason: event.reason };
    case 'chat_message':
      return event.mid === undefined
        ? { from: userFields(event.from), text: event.text }
        : { from: userFields(event.from), text: event.text, mid: event.mid };
    case 'live_session_update':
      return { from: userFields(event.from), state: event.state, data: event.data };
    case 'notification':
      return { data: notificationFields(event.data) };
    default:
      throw new TypeError(`not a room event type: ${String((event as { type: unknown }).type)}`);
  }
}

/** A stored event that does not decode: the log is corrupt or was written by other code. */
function corrupt(room: string, seq: number, type: string, field: string): LecternError {
  return new LecternError('internal', `stored event ${room}#${seq} (${type}) has an invalid ${field}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Rebuilds a room event from the log's columns (the inverse of `eventFields`). Checks the
 * shape and throws `LecternError('internal')` naming the event and field when it is wrong.
 */
export function decodeStoredEvent(room: string, seq: number, ts: number, type: string, data: unknown): RoomEvent {
  if (!isRecord(data)) throw corrupt(room, seq, type, 'data');
  const user = (field: string): UserRef => {
    const value = data[field];
    if (
      !isRecord(value) ||
      typeof value.id !== 'string' ||
      typeof value.name !== 'string' ||
      !ROLES.includes(value.role as Role)
    ) {
      throw corrupt(room, seq, type, field);
    }
    return { id: value.id, name: value.name, role: value.role as Role };
  };
  const connections = (): number => {
    const value = data.connections;
    if (!Number.isSafeInteger(value) || (value as number) < 0) throw corrupt(room, seq, type, 'connections');
    return value as number;
  };

  switch (type) {
    case 'user_joined':
      return { type, room, seq, ts, user: user('user'), connections: connections() };
    case 'user_left': {
      const reason = data.reason;
      if (!LEAVE_REASONS.includes(reason as LeaveReason)) throw corrupt(room, seq, type, 'reason');
      return { type, room, seq, ts, user: user('user'), connections: connections(), reason: reason as LeaveReason };
    }
    case 'chat_message': {
      const { text, mid } = data;
      if (typeof text !== 'string') throw corrupt(room, seq, type, 'text');
      if (mid !== undefined && typeof mid !== 'string') throw corrupt(room, seq, type, 'mid');
      const event: RoomEvent = { type, room, seq, ts, from: user('from'), text };
      if (mid !== undefined) event.mid = mid;
      return event;
    }
    case 'live_session_update': {
      const { state, data: sessionData } = data;
      if (!SESSION_STATES.includes(state as SessionState)) throw corrupt(room, seq, type, 'state');
      if (!isRecord(sessionData)) throw corrupt(room, seq, type, 'data.data');
      return { type, room, seq, ts, from: user('from'), state: state as SessionState, data: sessionData };
    }
    case 'notification': {
      const notification = data.data;
      if (!isRecord(notification)) throw corrupt(room, seq, type, 'data.data');
      const { title, body, level } = notification;
      if (typeof body !== 'string') throw corrupt(room, seq, type, 'data.body');
      if (title !== undefined && typeof title !== 'string') throw corrupt(room, seq, type, 'data.title');
      if (level !== undefined && !NOTIFICATION_LEVELS.includes(level as NotificationLevel)) {
        throw corrupt(room, seq, type, 'data.level');
      }
      const fields: NotificationData = { body };
      if (title !== undefined) fields.title = title;
      if (level !== undefined) fields.level = level as NotificationLevel;
      return { type, room, seq, ts, data: fields };
    }
    default:
      throw corrupt(room, seq, type, 'type');
  }
}
