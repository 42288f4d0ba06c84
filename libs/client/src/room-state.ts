/**
 * One room as a client sees it: the fold of `joined` snapshots and live room events, with the
 * continuity rules of PROTOCOL.md §5 and §7. Pure apart from its own fields: no sockets, no
 * timers, so it is tested by feeding it frames.
 */
import type {
  ChatMessageEvent,
  JoinedFrame,
  NotificationEvent,
  Participant,
  PresenceDiffFrame,
  RoomEvent,
  Session,
  UserRef,
} from '@lectern/protocol';

/** A chat message in the room's log. */
export interface ChatEntry {
  seq: number;
  ts: number;
  from: UserRef;
  text: string;
  mid?: string;
}

/** What applying one live frame did. */
export type ApplyResult = 'applied' | 'duplicate' | 'gap';

export interface RoomStateOptions {
  /** Chat messages kept in memory (oldest dropped first). */
  maxMessages: number;
  /** Room notifications kept in memory. */
  maxNotifications: number;
}

export const DEFAULT_ROOM_STATE_OPTIONS: Readonly<RoomStateOptions> = Object.freeze({ maxMessages: 500, maxNotifications: 20 });

const NO_SESSION: Session = Object.freeze({ state: 'scheduled', data: {}, updatedAt: 0 }) as Session;

export class RoomState {
  /** The highest seq processed; 0 before the first `joined`. */
  seq = 0;
  readonly participants = new Map<string, Participant>();
  /** Distinct users present, as the server last counted them (presence_diff) or as counted here. */
  count = 0;
  messages: ChatEntry[] = [];
  notifications: NotificationEvent[] = [];
  session: Session = NO_SESSION;
  /** Bumped on every change of anything above; lets views cache snapshots. */
  version = 0;
  /** Bumped when participants change, so a view rebuilds that list only then. */
  participantsVersion = 0;

  constructor(
    readonly room: string,
    private readonly options: RoomStateOptions = DEFAULT_ROOM_STATE_OPTIONS,
  ) {}

  /**
   * Applies a `joined` answer. `since` is what the join asked for. With `recovered: true` the
   * `missed` events are folded in; otherwise (first join, or a gap too old) the room is rebuilt
   * from the snapshot. Returns the events newly applied, for listeners, and whether it was a reset.
   */
  applyJoined(frame: JoinedFrame, since: number | undefined): { events: RoomEvent[]; reset: boolean } {
    const events: RoomEvent[] = [];
    const resumed = since !== undefined && frame.recovered === true;
    if (resumed) {
      for (const event of frame.missed ?? []) {
        if (event.seq <= this.seq) continue;
        this.fold(event);
        this.seq = event.seq;
        events.push(event);
      }
    } else {
      this.messages = frame.history.map(toEntry);
      this.trimMessages();
      this.notifications = [];
    }
    // The snapshot is authoritative at `frame.seq` either way: take its participants and session.
    this.participants.clear();
    for (const p of frame.participants) this.participants.set(p.id, { ...p });
    // A large room's `joined` lists only some users (participantsTruncated); the count is exact.
    this.count = frame.participantCount ?? this.participants.size;
    this.session = frame.session;
    this.seq = Math.max(resumed ? this.seq : 0, frame.seq);
    this.participantsVersion++;
    this.version++;
    return { events, reset: since !== undefined && !resumed };
  }

  /** Applies one live event or presence diff, dropping what was already seen and refusing gaps. */
  apply(frame: RoomEvent | PresenceDiffFrame): ApplyResult {
    const first = frame.type === 'presence_diff' ? frame.fromSeq : frame.seq;
    if (frame.seq <= this.seq) return 'duplicate';
    if (first > this.seq + 1) return 'gap';
    if (frame.type === 'presence_diff') this.applyPresenceDiff(frame);
    else this.fold(frame);
    this.seq = frame.seq;
    this.version++;
    return 'applied';
  }

  private fold(event: RoomEvent): void {
    switch (event.type) {
      case 'chat_message':
        this.messages.push(toEntry(event));
        this.trimMessages();
        break;
      case 'user_joined':
      case 'user_left':
        // Counted from the event, not from the map: in a large room the map holds only the
        // users `joined` listed plus later arrivals, while connections 0 -> 1 and n -> 0 are exact.
        if (event.type === 'user_joined' && event.connections === 1) this.count++;
        else if (event.type === 'user_left' && event.connections === 0) this.count = Math.max(0, this.count - 1);
        this.setConnections(event.user, event.connections);
        break;
      case 'live_session_update':
        this.session = { state: event.state, data: event.data, updatedAt: event.ts };
        break;
      case 'notification':
        this.notifications.push(event);
        if (this.notifications.length > this.options.maxNotifications) this.notifications.shift();
        break;
    }
    this.version++;
  }

  private applyPresenceDiff(diff: PresenceDiffFrame): void {
    for (const user of diff.left) this.setConnections(user, 0);
    for (const user of diff.joined) if (!this.participants.has(user.id)) this.setConnections(user, 1);
    this.count = diff.count;
  }

  private setConnections(user: UserRef, connections: number): void {
    if (connections <= 0) this.participants.delete(user.id);
    else this.participants.set(user.id, { id: user.id, name: user.name, role: user.role, connections });
    this.participantsVersion++;
  }

  private trimMessages(): void {
    const excess = this.messages.length - this.options.maxMessages;
    if (excess > 0) this.messages.splice(0, excess);
  }
}

function toEntry(event: ChatMessageEvent): ChatEntry {
  return {
    seq: event.seq,
    ts: event.ts,
    from: event.from,
    text: event.text,
    ...(event.mid !== undefined ? { mid: event.mid } : {}),
  };
}
