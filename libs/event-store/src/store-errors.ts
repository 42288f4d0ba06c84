import { StoreUnavailableError, VersionConflictError, isVersionConflict } from './event-store.js';

/**
 * SQLSTATE classes where the database refused the statement because of what was in it
 * (22: data exception, e.g. `\u0000` in jsonb; 23: integrity violation other than the
 * `(room_id, seq)` fence, which `on conflict do nothing` absorbs). Retrying cannot help, so
 * these are misuse, found late. Every other failure (no SQLSTATE: socket, pool, closed
 * PGlite; or 08 connection, 53 resources, 57 shutdown/timeout, ...) means the store is
 * unavailable and a retry may help.
 */
const REFUSED_CLASSES = new Set(['22', '23']);

function sqlState(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined;
  const code = (err as { code: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function isRefusedByDatabase(err: unknown): boolean {
  const state = sqlState(err);
  return state !== undefined && REFUSED_CLASSES.has(state.slice(0, 2));
}

export function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Wraps a driver failure; says what to do when the cause is a missing table. */
export function unavailable(action: string, err: unknown): StoreUnavailableError {
  if (err instanceof StoreUnavailableError) return err;
  const hint = sqlState(err) === '42P01' ? ' (the event-store tables are missing: run the migrations, `lectern migrate`)' : '';
  return new StoreUnavailableError(`event store unavailable while ${action}: ${describe(err)}${hint}`, { cause: err });
}

export function refused(room: string, err: unknown): Error {
  return new Error(`room ${room}: the database refused this append (fix the events, retrying cannot help): ${describe(err)}`, {
    cause: err,
  });
}

/** The error for a call not written because an earlier call of its room failed: same kind. */
export function cascaded(room: string, cause: Error): Error {
  const message = `room ${room}: not written because an earlier append of this room failed; reload the head from the log before appending again`;
  if (isVersionConflict(cause)) return new VersionConflictError(room, message, { cause });
  if (cause instanceof StoreUnavailableError) return new StoreUnavailableError(message, { cause });
  return new Error(message, { cause });
}
