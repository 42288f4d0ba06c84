/**
 * Client frame validation (PROTOCOL.md §2–§3). Runs on every frame the gateway receives, so it
 * is hand-written: one JSON.parse, then plain checks, no schema library, no exceptions.
 *
 * Unknown fields are ignored and never copied: the returned frame is built from the known
 * fields only, so a forged `from`, `user` or `seq` cannot travel further than this function.
 */
import { DEFAULT_LIMITS, MAX_MID_CHARS, MAX_REQUEST_ID_CHARS, MAX_SESSION_DATA_BYTES, ROOM_ID_PATTERN } from './constants.js';
import type {
  ChatMessageFrame,
  ClientFrame,
  JoinRoomFrame,
  LeaveRoomFrame,
  LiveSessionUpdateFrame,
  PingFrame,
  RefreshTokenFrame,
  SessionState,
} from './frames.js';
import { SESSION_STATES } from './frames.js';
import { checkJsonValue, exceedsCodePoints, isStorableText } from './measure.js';

export interface ParseLimits {
  /** Chat text limit in code points, after trimming (`Limits.maxTextChars`). */
  maxTextChars: number;
}

/** Why a frame was refused; `id` and `room` are echoed when they themselves were valid. */
export interface ParseFailure {
  ok: false;
  code: 'bad_request' | 'unknown_type';
  message: string;
  id?: string;
  room?: string;
}

export type ParseResult = { ok: true; frame: ClientFrame } | ParseFailure;

/** The client frame types, in PROTOCOL.md order. */
export const CLIENT_FRAME_TYPES = [
  'join_room',
  'leave_room',
  'chat_message',
  'live_session_update',
  'ping',
  'refresh_token',
] as const satisfies readonly ClientFrame['type'][];

// Messages are part of what clients see; they name the field and the rule.
const MESSAGES = {
  json: 'frame is not valid JSON',
  object: 'frame must be a JSON object',
  type: 'type must be a string',
  unknownType: `type must be one of ${CLIENT_FRAME_TYPES.join(', ')}`,
  id: `id must be a string of at most ${MAX_REQUEST_ID_CHARS} characters`,
  roomMissing: 'room is required',
  roomType: 'room must be a string',
  roomPattern: `room must match ${ROOM_ID_PATTERN.source}`,
  since: 'since must be a non-negative integer',
  textType: 'text must be a string',
  mid: `mid must be a string of 1 to ${MAX_MID_CHARS} characters`,
  state: `state must be one of ${SESSION_STATES.join(', ')}`,
  dataType: 'data must be a JSON object',
  textChars: 'text must not contain NUL or unpaired surrogate characters',
  midChars: 'mid must not contain NUL or unpaired surrogate characters',
  dataSize: `data must encode to at most ${MAX_SESSION_DATA_BYTES} bytes of JSON`,
  dataChars: 'data must not contain NUL or unpaired surrogate characters',
  stateOrData: 'live_session_update needs state or data',
  ts: 'ts must be a finite number',
  token: 'token must be a non-empty string',
} as const;

function textMessage(maxTextChars: number): string {
  return `text must be 1 to ${maxTextChars} characters after trimming`;
}

function fail(code: ParseFailure['code'], message: string, id: string | undefined, room?: string): ParseFailure {
  const failure: ParseFailure = { ok: false, code, message };
  if (id !== undefined) failure.id = id;
  if (room !== undefined) failure.room = room;
  return failure;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `room` field's problem, or undefined when it is a valid room id. */
function roomProblem(room: unknown): string | undefined {
  if (room === undefined) return MESSAGES.roomMissing;
  if (typeof room !== 'string') return MESSAGES.roomType;
  return ROOM_ID_PATTERN.test(room) ? undefined : MESSAGES.roomPattern;
}

/**
 * Parses and checks one client text frame. Never throws, whatever the input.
 *
 * @param text the frame as received (the gateway has already checked its size)
 * @param limits `maxTextChars` for chat text; defaults to `DEFAULT_LIMITS`
 * @returns the frame rebuilt from its known fields (chat text trimmed), or a failure with the
 *   error code, a message naming the field, and the valid `id`/`room` to echo in the answer
 */
export function parseClientFrame(text: string, limits: ParseLimits = DEFAULT_LIMITS): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('bad_request', MESSAGES.json, undefined);
  }
  if (!isRecord(value)) return fail('bad_request', MESSAGES.object, undefined);

  // The id first, so every later failure can echo it.
  const rawId = value.id;
  let id: string | undefined;
  if (rawId !== undefined) {
    if (typeof rawId !== 'string' || exceedsCodePoints(rawId, MAX_REQUEST_ID_CHARS)) return fail('bad_request', MESSAGES.id, undefined);
    id = rawId;
  }
  const type = value.type;
  if (typeof type !== 'string') return fail('bad_request', MESSAGES.type, id);

  switch (type) {
    case 'ping': {
      const ts = value.ts;
      if (ts !== undefined && (typeof ts !== 'number' || !Number.isFinite(ts))) return fail('bad_request', MESSAGES.ts, id);
      const frame: PingFrame = { type: 'ping' };
      if (id !== undefined) frame.id = id;
      if (ts !== undefined) frame.ts = ts as number;
      return { ok: true, frame };
    }
    case 'refresh_token': {
      const token = value.token;
      if (typeof token !== 'string' || token.length === 0) return fail('bad_request', MESSAGES.token, id);
      const frame: RefreshTokenFrame = { type: 'refresh_token', token };
      if (id !== undefined) frame.id = id;
      return { ok: true, frame };
    }
    case 'join_room':
    case 'leave_room':
    case 'chat_message':
    case 'live_session_update':
      break;
    default:
      return fail('unknown_type', MESSAGES.unknownType, id);
  }

  const room = value.room;
  const problem = roomProblem(room);
  if (problem !== undefined) return fail('bad_request', problem, id);
  const roomId = room as string;

  switch (type) {
    case 'join_room': {
      const since = value.since;
      if (since !== undefined && (!Number.isSafeInteger(since) || (since as number) < 0)) {
        return fail('bad_request', MESSAGES.since, id, roomId);
      }
      const frame: JoinRoomFrame = { type: 'join_room', room: roomId };
      if (id !== undefined) frame.id = id;
      if (since !== undefined) frame.since = since as number;
      return { ok: true, frame };
    }
    case 'leave_room': {
      const frame: LeaveRoomFrame = { type: 'leave_room', room: roomId };
      if (id !== undefined) frame.id = id;
      return { ok: true, frame };
    }
    case 'chat_message': {
      const raw = value.text;
      if (typeof raw !== 'string') return fail('bad_request', MESSAGES.textType, id, roomId);
      const trimmed = raw.trim();
      if (trimmed.length === 0 || exceedsCodePoints(trimmed, limits.maxTextChars)) {
        return fail('bad_request', textMessage(limits.maxTextChars), id, roomId);
      }
      if (!isStorableText(trimmed)) return fail('bad_request', MESSAGES.textChars, id, roomId);
      const mid = value.mid;
      if (mid !== undefined) {
        if (typeof mid !== 'string' || mid.length === 0 || exceedsCodePoints(mid, MAX_MID_CHARS)) {
          return fail('bad_request', MESSAGES.mid, id, roomId);
        }
        if (!isStorableText(mid)) return fail('bad_request', MESSAGES.midChars, id, roomId);
      }
      const frame: ChatMessageFrame = { type: 'chat_message', room: roomId, text: trimmed };
      if (id !== undefined) frame.id = id;
      if (mid !== undefined) frame.mid = mid as string;
      return { ok: true, frame };
    }
    default: {
      // live_session_update, the only type left.
      const state = value.state;
      if (state !== undefined && !SESSION_STATES.includes(state as SessionState)) {
        return fail('bad_request', MESSAGES.state, id, roomId);
      }
      const data = value.data;
      if (data !== undefined) {
        if (!isRecord(data)) return fail('bad_request', MESSAGES.dataType, id, roomId);
        const check = checkJsonValue(data, MAX_SESSION_DATA_BYTES);
        if (check === 'too_large') return fail('bad_request', MESSAGES.dataSize, id, roomId);
        if (check === 'unstorable_text') return fail('bad_request', MESSAGES.dataChars, id, roomId);
      }
      if (state === undefined && data === undefined) return fail('bad_request', MESSAGES.stateOrData, id, roomId);
      const frame: LiveSessionUpdateFrame = { type: 'live_session_update', room: roomId };
      if (id !== undefined) frame.id = id;
      if (state !== undefined) frame.state = state as SessionState;
      if (data !== undefined) frame.data = data;
      return { ok: true, frame };
    }
  }
}
