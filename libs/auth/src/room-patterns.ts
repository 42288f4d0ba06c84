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
  const key = cacheKey(claim);
  const cached = key === undefined ? undefined : compiled.get(key);
  if (cached !== undefined && samePatterns(cached.patterns, claim)) return cached;
  const patterns = compile(claim);
  if (key !== undefined) {
    // Bounded: past the limit the oldest entry goes (Map keeps insertion order).
    if (compiled.size >= MAX_CACHED_CLAIMS) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, patterns);
  }
  return patterns;
}

/**
 * Compiled claims by their text. Every connection's token is compiled at upgrade, and most
 * tokens of a deployment carry one of a few claims (`["*"]`, `["course_42_*"]`): sharing the
 * frozen result keeps its sets and closure out of every connection's memory (~400 bytes each).
 */
const compiled = new Map<string, RoomPatterns>();
const MAX_CACHED_CLAIMS = 1024;

/** Claims longer than this are compiled each time: the cache holds at most ~1 MiB of keys. */
const MAX_CACHED_KEY_CHARS = 1024;

/** The cache key of a short claim of strings (one string as itself, no copy); else undefined. */
function cacheKey(claim: unknown[]): string | undefined {
  if (claim.length === 0 || claim.length > 16) return undefined;
  for (let i = 0; i < claim.length; i++) if (typeof claim[i] !== 'string') return undefined;
  const key = claim.length === 1 ? (claim[0] as string) : claim.join('\n');
  return key.length > MAX_CACHED_KEY_CHARS ? undefined : key;
}

/** Keys can collide (an entry holding `\n` is invalid, but has the key of two valid entries). */
function samePatterns(patterns: readonly string[], claim: unknown[]): boolean {
  if (patterns.length !== claim.length) return false;
  for (let i = 0; i < claim.length; i++) if (patterns[i] !== claim[i]) return false;
  return true;
}

function compile(claim: unknown[]): RoomPatterns {
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
