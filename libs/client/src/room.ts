/**
 * A room handle: what an app holds to join a room, send to it and watch its state. The
 * connection work (join frames, resume, the outgoing queue) is done by the client through
 * the `RoomHost` interface; the fold of events is `RoomState`.
 */
import type { AckFrame, JoinedFrame, Participant, PresenceDiffFrame, RoomEvent, Session, SessionState } from '@lectern/protocol';
import { RoomState, type ChatEntry, type RoomStateOptions } from './room-state.js';

/** Where a room handle stands with the server. */
export type RoomStatus =
  /** Never joined. */
  | 'idle'
  /** The first `join_room` is on its way. */
  | 'joining'
  /** In the room; live events are applied as they come. */
  | 'joined'
  /** Joined before, now resuming with `since` (after a reconnect or a detected gap). */
  | 'rejoining'
  /** Left on request. */
  | 'left'
  /** The server refused the join (`forbidden`, `too_many_rooms`, ...): see `error`. */
  | 'error';

/** An outgoing message not acknowledged yet. */
export interface PendingMessage {
  kind: 'chat' | 'session';
  mid?: string;
  text?: string;
  /** `queued`: waiting for the connection or the room; `sending`: on the wire, answer awaited. */
  state: 'queued' | 'sending';
  queuedAt: number;
}

/** An immutable view of a room, rebuilt only when something changed (for `useSyncExternalStore`). */
export interface RoomSnapshot {
  readonly room: string;
  readonly status: RoomStatus;
  readonly error: { code: string; message: string } | undefined;
  /** The highest seq applied. */
  readonly seq: number;
  readonly participants: readonly Participant[];
  /** Distinct users present. */
  readonly count: number;
  readonly messages: readonly ChatEntry[];
  readonly session: Session;
  readonly notifications: readonly RoomEvent[];
  /** This client's messages that the server has not acknowledged yet, oldest first. */
  readonly pending: readonly PendingMessage[];
}

/** The client's side of a room handle. */
export interface RoomHost {
  joinRoom(room: Room): void;
  leaveRoom(room: Room): Promise<void>;
  enqueue(room: Room, frame: { type: 'chat_message'; text: string; mid?: string } | { type: 'live_session_update'; state?: SessionState; data?: Record<string, unknown> }): Promise<AckFrame>;
  pendingFor(room: Room): PendingMessage[];
  roomEvent(room: Room, event: RoomEvent | PresenceDiffFrame, replayed: boolean): void;
  roomGap(room: Room, expected: number, got: number): void;
  roomReset(room: Room): void;
}

export class Room {
  readonly state: RoomState;
  status: RoomStatus = 'idle';
  error: { code: string; message: string } | undefined;
  /** The app wants to be in this room: rejoin after every reconnect. */
  wanted = false;
  /** A `join_room` is awaiting its answer: live events are held until it comes. */
  joinInFlight = false;
  /** The room's head entry of the outgoing queue is on the wire. */
  sending = false;
  private held: (RoomEvent | PresenceDiffFrame)[] = [];
  private readonly listeners = new Set<() => void>();
  private snapshot: RoomSnapshot | undefined;
  private snapshotVersion = -1;
  private version = 0;
  private participantsList: Participant[] = [];
  private participantsVersion = -1;

  constructor(
    readonly id: string,
    private readonly host: RoomHost,
    options?: RoomStateOptions,
  ) {
    this.state = new RoomState(id, options);
  }

  /** Joins the room (idempotent), and keeps rejoining it with `since` after reconnects. */
  join(): void {
    this.host.joinRoom(this);
  }

  /** Leaves the room; queued messages for it are dropped with code `closed`. */
  leave(): Promise<void> {
    return this.host.leaveRoom(this);
  }

  /**
   * Sends a chat message with a fresh `mid` (or the one given). While offline it waits in the
   * outgoing queue and is sent after the room is rejoined; a resend after a reconnect reuses the
   * `mid`, so the server stores it once. Resolves with the `ack`.
   */
  sendChat(text: string, mid?: string): Promise<AckFrame> {
    return this.host.enqueue(this, { type: 'chat_message', text, ...(mid !== undefined ? { mid } : {}) });
  }

  /** Changes the live session (instructors and moderators): state and/or data. */
  updateSession(update: { state?: SessionState; data?: Record<string, unknown> }): Promise<AckFrame> {
    return this.host.enqueue(this, { type: 'live_session_update', ...update });
  }

  /** Calls `listener` after every change of the snapshot. */
  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  };

  /** The current snapshot; the same object until something changes. */
  getSnapshot = (): RoomSnapshot => {
    const version = this.version + this.state.version;
    if (this.snapshot !== undefined && this.snapshotVersion === version) return this.snapshot;
    if (this.participantsVersion !== this.state.participantsVersion) {
      this.participantsList = [...this.state.participants.values()];
      this.participantsVersion = this.state.participantsVersion;
    }
    const messages = this.state.messages.slice();
    let pending = this.host.pendingFor(this);
    if (pending.length > 0) {
      // Between the ack and the event itself a message may be in both lists: show it once.
      const seen = new Set<string>();
      for (let i = Math.max(0, messages.length - 200); i < messages.length; i++) {
        const mid = messages[i]!.mid;
        if (mid !== undefined) seen.add(mid);
      }
      pending = pending.filter((p) => p.mid === undefined || !seen.has(p.mid));
    }
    this.snapshot = {
      room: this.id,
      status: this.status,
      error: this.error,
      seq: this.state.seq,
      participants: this.participantsList,
      count: this.state.count,
      messages,
      session: this.state.session,
      notifications: this.state.notifications.slice(),
      pending,
    };
    this.snapshotVersion = version;
    return this.snapshot;
  };

  // ---- used by the client -------------------------------------------------------------------

  /** @internal */
  setStatus(status: RoomStatus, error?: { code: string; message: string }): void {
    if (this.status === status && error === this.error) return;
    this.status = status;
    this.error = error;
    this.changed();
  }

  /** @internal Applies a `joined` answer and then the events held while it was awaited. */
  onJoined(frame: JoinedFrame, since: number | undefined): void {
    this.joinInFlight = false;
    const { events, reset } = this.state.applyJoined(frame, since);
    this.status = 'joined';
    this.error = undefined;
    if (reset) this.host.roomReset(this);
    for (const event of events) this.host.roomEvent(this, event, true);
    const held = this.held;
    this.held = [];
    for (const event of held) this.onLive(event);
    this.changed();
  }

  /** @internal A join failed or was cut by a disconnect: live events held for it are useless now. */
  onJoinAborted(): void {
    this.joinInFlight = false;
    this.held = [];
  }

  /** @internal Applies a live event, or holds it while a join is in flight. */
  onLive(frame: RoomEvent | PresenceDiffFrame): void {
    if (this.joinInFlight) {
      this.held.push(frame);
      return;
    }
    if (this.status !== 'joined') return;
    const result = this.state.apply(frame);
    if (result === 'applied') {
      this.host.roomEvent(this, frame, false);
      this.changed();
    } else if (result === 'gap') {
      this.host.roomGap(this, this.state.seq + 1, frame.type === 'presence_diff' ? frame.fromSeq : frame.seq);
      this.held.push(frame);
    }
  }

  /** @internal Something outside `state` (status, pending messages) changed. */
  changed(): void {
    this.version++;
    for (const listener of this.listeners) listener();
  }

  /** @internal Notifies after `state` was changed directly. */
  notify(): void {
    for (const listener of this.listeners) listener();
  }
}
