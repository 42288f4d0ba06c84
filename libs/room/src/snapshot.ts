import type { ChatMessageEvent, Participant, Session } from '@lectern/protocol';
import type { DedupeEntry } from './dedupe-window.js';
import type { RoomOptions } from './options.js';
import { RoomState } from './room-state.js';

/**
 * A room's state at `seq`, as plain JSON (stored in the snapshots table, sent between hosts).
 * Restoring it and folding the events after `seq` gives the same room as folding the whole log.
 * Orders are part of the state: participants by arrival, connections by join (which is the
 * order a dead gateway's connections leave in), dedupe entries by age.
 */
export interface RoomSnapshot {
  v: 1;
  room: string;
  /** Seq of the last event folded in. */
  seq: number;
  session: Session;
  participants: Participant[];
  connections: SnapshotConnection[];
  /** Last chat events, oldest first (at most the room's `historySize`). */
  history: ChatMessageEvent[];
  /** `mid`s accepted within the dedupe window, oldest first. */
  dedupe: DedupeEntry[];
}

export interface SnapshotConnection {
  id: string;
  user: string;
  gateway: string;
}

export const SNAPSHOT_VERSION = 1;

/** A deep, JSON-safe copy: the snapshot shares nothing with the live state. */
export function takeSnapshot(state: RoomState): RoomSnapshot {
  const snapshot: RoomSnapshot = {
    v: SNAPSHOT_VERSION,
    room: state.roomId,
    seq: state.head,
    session: state.session,
    participants: state.presence.participants(),
    connections: [...state.presence.connections.values()].map(({ id, userId, gateway }) => ({ id, user: userId, gateway })),
    history: state.history.toArray(),
    dedupe: state.dedupe.entries(),
  };
  // Events and session data are JSON from the log; a round trip makes the copy deep.
  return JSON.parse(JSON.stringify(snapshot)) as RoomSnapshot;
}

export function restoreState(snapshot: RoomSnapshot, options: Readonly<RoomOptions>): RoomState {
  if (snapshot.v !== SNAPSHOT_VERSION) {
    throw new Error(`room snapshot version ${String(snapshot.v)} is not supported (expected ${SNAPSHOT_VERSION}): rebuild the room from its log`);
  }
  const copy = JSON.parse(JSON.stringify(snapshot)) as RoomSnapshot;
  const state = new RoomState(copy.room, options);
  state.head = copy.seq;
  state.session = copy.session;
  const connectionsByUser = new Map<string, SnapshotConnection[]>();
  for (const connection of copy.connections) {
    const list = connectionsByUser.get(connection.user);
    if (list === undefined) connectionsByUser.set(connection.user, [connection]);
    else list.push(connection);
  }
  // Users first, in arrival order, with their counts; then connections in join order.
  for (const { connections, ...user } of copy.participants) state.presence.joined(user, connections, undefined);
  for (const connection of copy.connections) {
    const owner = state.presence.users.get(connection.user);
    if (owner === undefined) continue; // a connection of nobody present: nothing could leave by it
    state.presence.joined(owner.user, owner.connections, { id: connection.id, gateway: connection.gateway });
  }
  const history = copy.history;
  for (const event of history.slice(Math.max(0, history.length - options.historySize))) state.history.push(event);
  for (const entry of copy.dedupe) state.dedupe.record(entry);
  return state;
}
