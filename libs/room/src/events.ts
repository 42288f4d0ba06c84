import type { ErrorCode, EventMeta, RoomEvent } from '@lectern/protocol';

/** One entry of the room's log: the event as clients see it, and what only the log keeps. */
export interface LoggedEvent {
  event: RoomEvent;
  meta: EventMeta;
}

/**
 * The answer to one command. `seq` is the seq of the last produced event; for a duplicate
 * `mid` it is the original event's seq; when nothing was produced (a join of a connection
 * already in the room, `inspect`, a gateway with no connections here) it is the room's head.
 */
export type Decision =
  | { ok: true; events: LoggedEvent[]; seq: number; duplicate?: boolean }
  | { ok: false; code: ErrorCode; message: string };
