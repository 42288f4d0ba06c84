/**
 * Token claims → Principal (PROTOCOL.md §1, "Token claims"). Identity on every event comes
 * from here, never from a frame, so every claim is checked as strictly as a frame field.
 */
import {
  exceedsCodePoints,
  isStorableText,
  LecternError,
  MAX_NAME_CHARS,
  MAX_USER_ID_CHARS,
  ROLES,
  type Role,
  type UserRef,
} from '@lectern/protocol';
import { compileRoomPatterns, type RoomPatterns } from './room-patterns.js';

/** Who is connected, as the verified token says. */
export interface Principal {
  user: UserRef;
  rooms: RoomPatterns;
  /** When the token expires (ms since epoch); absent when it has no `exp`. */
  expiresAt?: number;
}

export const CLAIM_MESSAGES = {
  sub: `sub claim missing or invalid (1-${MAX_USER_ID_CHARS} chars)`,
  name: `name claim must be a string of at most ${MAX_NAME_CHARS} chars`,
  role: `role claim must be one of ${ROLES.join(', ')}`,
  text: 'sub and name claims must not contain NUL or unpaired surrogate characters',
} as const;

function unauthorized(message: string): LecternError {
  return new LecternError('unauthorized', message);
}

/**
 * Builds the principal from verified claims: `sub` 1–128 chars; `name` at most 100 chars,
 * `sub` when absent or empty; `role` one of ROLES, `learner` when absent; `rooms` compiled by
 * `compileRoomPatterns`; `exp` (seconds) as `expiresAt` in ms. Lengths count code points.
 * Throws `LecternError('unauthorized')` naming the claim.
 */
export function principalFromClaims(claims: Record<string, unknown>): Principal {
  const sub = claims.sub;
  if (typeof sub !== 'string' || sub.length === 0 || exceedsCodePoints(sub, MAX_USER_ID_CHARS)) {
    throw unauthorized(CLAIM_MESSAGES.sub);
  }
  const rawName = claims.name;
  let name = sub;
  if (rawName !== undefined && rawName !== '') {
    if (typeof rawName !== 'string' || exceedsCodePoints(rawName, MAX_NAME_CHARS)) throw unauthorized(CLAIM_MESSAGES.name);
    name = rawName;
  }
  // Names and ids are written into every event the user causes; the log must be able to store them.
  if (!isStorableText(sub) || !isStorableText(name)) throw unauthorized(CLAIM_MESSAGES.text);
  const rawRole = claims.role;
  // The constant itself, not the token's copy of the text: every principal shares it.
  const role: Role | undefined = rawRole === undefined ? 'learner' : ROLES.find((known) => known === rawRole);
  if (role === undefined) throw unauthorized(CLAIM_MESSAGES.role);
  const user: UserRef = { id: sub, name, role };
  const rooms = compileRoomPatterns(claims.rooms);
  // Built whole, not extended: a property added later costs every principal a property array.
  return typeof claims.exp === 'number' ? { user, rooms, expiresAt: claims.exp * 1000 } : { user, rooms };
}
