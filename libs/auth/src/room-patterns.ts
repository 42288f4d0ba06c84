import { LecternError, ROOM_ID_PATTERN } from '@lectern/protocol';

/**
 * The rooms a token lets its holder join, compiled from its `rooms` claim. `allows` runs on
 * every join: a Set lookup for exact ids, then a scan of the (few) prefixes.
 */
export interface RoomPatterns {
  /** Whether the room may be joined. Expects a room id already checked against ROOM_ID_PATTERN. */
  allows(room: string): boolean;
  /** The claim's patterns as given, for logs and inspection. */
  readonly patterns: readonly string[];
}

const NO_PATTERNS: readonly string[] = Object.freeze([]);

/** No claim, no rooms. */
export const NO_ROOMS: RoomPatterns = Object.freeze({ allows: () => false, patterns: NO_PATTERNS });

function invalidEntry(index: number): LecternError {
  return new LecternError('unauthorized', `rooms[${index}] must be a room id or a prefix ending in "*"`);
}

/**
 * Compiles a `rooms` claim: an array of exact room ids (`"physics-101"`) and prefixes ending
 * in `*` (`"session_*"`; `"*"` is every room). A missing or null claim allows no room. Anything
 * else that is not such an array throws `LecternError('unauthorized')`: a malformed claim is a
 * bug in whoever issued the token, and silently granting nothing would hide it.
 */
export function compileRoomPatterns(claim: unknown): RoomPatterns {
  if (claim === undefined || claim === null) return NO_ROOMS;
  if (!Array.isArray(claim)) {
    throw new LecternError('unauthorized', 'rooms claim must be an array of room ids or prefixes ending in "*"');
  }
  const exact = new Set<string>();
  const prefixes = new Set<string>();
  let all = false;
  for (let i = 0; i < claim.length; i++) {
    const entry: unknown = claim[i];
    if (typeof entry !== 'string') throw invalidEntry(i);
    if (entry.endsWith('*')) {
      const prefix = entry.slice(0, -1);
      if (prefix === '') all = true;
      // A prefix that no room id can start with is a mistake, not a harmless no-op.
      else if (ROOM_ID_PATTERN.test(prefix)) prefixes.add(prefix);
      else throw invalidEntry(i);
    } else if (ROOM_ID_PATTERN.test(entry)) {
      exact.add(entry);
    } else {
      throw invalidEntry(i);
    }
  }
  const patterns = Object.freeze(claim.slice() as string[]);
  if (all) return Object.freeze({ allows: () => true, patterns });
  if (exact.size === 0 && prefixes.size === 0) return NO_ROOMS;
  const prefixList = [...prefixes];
  return Object.freeze({
    patterns,
    allows(room: string): boolean {
      if (exact.has(room)) return true;
      for (let i = 0; i < prefixList.length; i++) if (room.startsWith(prefixList[i]!)) return true;
      return false;
    },
  });
}
