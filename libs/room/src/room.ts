import type { ChatMessageEvent, Participant, RoomCommand, Session } from '@lectern/protocol';
import type { Decision, LoggedEvent } from './events.js';
import { resolveRoomOptions, type RoomOptions } from './options.js';
import { commandEvent, roomMachine, stepRoom, type RoomMachineEvent, type RoomMachineSnapshot } from './room-machine.js';
import { RoomState } from './room-state.js';
import { restoreState, takeSnapshot, type RoomSnapshot } from './snapshot.js';

/**
 * One room, in memory: decides commands and folds the log. Pure: no IO, no clock (time comes
 * in as `now`), no ids of its own. The actor host in services/rooms owns one per active room.
 */
export class Room {
  private machine: RoomMachineSnapshot;
  private readonly state: RoomState;

  private constructor(state: RoomState) {
    this.state = state;
    // The machine starts in the session's state; nothing runs on entry, so resolving the
    // state value is the whole initial step.
    this.machine = roomMachine.resolveState({
      value: state.session.state,
      context: { state, outcome: { ok: true, events: [], seq: state.head } },
    });
  }

  static create(roomId: string, options?: Partial<RoomOptions>): Room {
    return new Room(new RoomState(roomId, resolveRoomOptions(options)));
  }

  static fromSnapshot(snapshot: RoomSnapshot, options?: Partial<RoomOptions>): Room {
    return new Room(restoreState(snapshot, resolveRoomOptions(options)));
  }

  get id(): string {
    return this.state.roomId;
  }

  /**
   * Decide a command against the current in-memory state and apply the produced events to
   * it at once, so the next command can be decided before these are committed. If their
   * commit fails, throw this Room away and fold a new one from the log.
   */
  decide(command: RoomCommand, now: number): Decision {
    if (command.room !== this.id) {
      return { ok: false, code: 'bad_request', message: `command for room ${command.room} sent to room ${this.id}` };
    }
    return this.step(commandEvent(command, now)).context.outcome;
  }

  /**
   * Fold one event from the log into the state (activation, replay). Events at or below the
   * head are already in and are skipped, so an overlapping read is harmless; a gap or an
   * event of another room throws, because folding past it would fork the room.
   */
  apply(logged: LoggedEvent): void {
    const { event } = logged;
    if (event.room !== this.id) throw new Error(`event of room ${event.room} folded into room ${this.id}`);
    if (event.seq <= this.state.head) return;
    if (event.seq !== this.state.head + 1) {
      throw new Error(`room ${this.id}: event seq ${event.seq} does not follow head ${this.state.head}; the log read has a gap`);
    }
    this.step({ type: 'apply', logged });
  }

  get seq(): number {
    return this.state.head;
  }

  get session(): Session {
    return this.state.session;
  }

  get userCount(): number {
    return this.state.presence.users.size;
  }

  /** Users present, in order of arrival, with their connection counts. O(participants). */
  participants(): Participant[] {
    return this.state.presence.participants();
  }

  /** At most `max` users present, staff first, then learners, each in order of arrival. */
  listedParticipants(max: number): Participant[] {
    return this.state.presence.listed(max);
  }

  /** The last `historySize` chat events, oldest first. */
  history(): ChatMessageEvent[] {
    return this.state.history.toArray();
  }

  hasConnection(connectionId: string): boolean {
    return this.state.presence.holds(connectionId);
  }

  /** Gateways holding connections in this room: whose leases keep its presence alive. */
  gateways(): string[] {
    return this.state.presence.gateways();
  }

  connectionsOf(userId: string): number {
    return this.state.presence.connectionsOf(userId);
  }

  toSnapshot(): RoomSnapshot {
    return takeSnapshot(this.state);
  }

  private step(event: RoomMachineEvent): RoomMachineSnapshot {
    const next = stepRoom(this.machine, event);
    if (next.context === this.machine.context) {
      // Every handler ends in an unguarded fallback that assigns, so this means the
      // machine and this class disagree about the events: a bug, not an input problem.
      throw new Error(`room machine took no transition for ${event.type} in ${String(next.value)}`);
    }
    this.machine = next;
    return next;
  }
}

/** Build a room from its log: from scratch, or from a snapshot and the events after it. */
export function fold(roomId: string, events: Iterable<LoggedEvent>, from?: RoomSnapshot, options?: Partial<RoomOptions>): Room {
  if (from !== undefined && from.room !== roomId) throw new Error(`snapshot of room ${from.room} used to fold room ${roomId}`);
  const room = from === undefined ? Room.create(roomId, options) : Room.fromSnapshot(from, options);
  for (const logged of events) room.apply(logged);
  return room;
}
