import type { Limits } from './frames.js';

export const PROTOCOL_VERSION = 1 as const;

/** Room ids are safe as NATS subject tokens and uWS topics: no `.`, `*`, `>` or spaces. */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Defaults announced in `welcome`; every one is configurable on the gateway. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: 16 * 1024,
  maxTextChars: 2000,
  maxRooms: 50,
  ratePerSecond: 20,
  burst: 40,
});

export const MAX_REQUEST_ID_CHARS = 64;
export const MAX_MID_CHARS = 64;
export const MAX_SESSION_DATA_BYTES = 4 * 1024;
export const MAX_USER_ID_CHARS = 128;
export const MAX_NAME_CHARS = 100;
export const DEFAULT_HISTORY_SIZE = 50;
export const DEFAULT_RECOVERY_WINDOW = 10_000;
export const DEFAULT_DEDUPE_WINDOW_MS = 10 * 60 * 1000;
export const DEFAULT_PRESENCE_THRESHOLD = 500;
/** Most participants a `joined` lists; a larger room's `joined` says `participantsTruncated`. */
export const DEFAULT_JOINED_PARTICIPANTS = 1000;
export const DEFAULT_PRESENCE_INTERVAL_MS = 1000;
export const DEFAULT_HEARTBEAT_MS = 30_000;
