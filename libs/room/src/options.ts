import { DEFAULT_DEDUPE_WINDOW_MS, DEFAULT_HISTORY_SIZE } from '@lectern/protocol';

/** Limits of one room's in-memory state. Defaults follow PROTOCOL.md §3–§4. */
export interface RoomOptions {
  /** How many chat events `history()` keeps (sent in `joined`). */
  historySize: number;
  /** How long a `(user, mid)` pair answers as a duplicate after its original event, in ms. */
  dedupeWindowMs: number;
}

export const DEFAULT_ROOM_OPTIONS: Readonly<RoomOptions> = Object.freeze({
  historySize: DEFAULT_HISTORY_SIZE,
  dedupeWindowMs: DEFAULT_DEDUPE_WINDOW_MS,
});

export function resolveRoomOptions(options: Partial<RoomOptions> = {}): Readonly<RoomOptions> {
  const resolved = { ...DEFAULT_ROOM_OPTIONS, ...options };
  if (!Number.isInteger(resolved.historySize) || resolved.historySize < 0) {
    throw new RangeError(`historySize must be a non-negative integer, got ${resolved.historySize}`);
  }
  if (!Number.isFinite(resolved.dedupeWindowMs) || resolved.dedupeWindowMs < 0) {
    throw new RangeError(`dedupeWindowMs must be a non-negative number of ms, got ${resolved.dedupeWindowMs}`);
  }
  return Object.freeze(resolved);
}
