import type { Session } from '@lectern/protocol';
import { ChatHistory } from './chat-history.js';
import { DedupeWindow } from './dedupe-window.js';
import type { LoggedEvent } from './events.js';
import type { RoomOptions } from './options.js';
import { Presence } from './presence.js';

/**
 * Everything a room knows, as a fold of its log. Deliberately mutable: a lecture holds
 * 50,000 participants, and copying the participant map on every join would make a room's
 * life O(N²). The machine's actions mutate it in place (see room-machine.ts), and only
 * `evolve` below ever changes it, whether the event was just decided or read from the log.
 */
export class RoomState {
  /** Seq of the last event; 0 before the first. */
  head = 0;
  session: Session = { state: 'scheduled', data: {}, updatedAt: 0 };
  readonly presence = new Presence();
  readonly history: ChatHistory;
  readonly dedupe: DedupeWindow;

  constructor(
    readonly roomId: string,
    readonly options: Readonly<RoomOptions>,
  ) {
    this.history = new ChatHistory(options.historySize);
    this.dedupe = new DedupeWindow(options.dedupeWindowMs);
  }
}

/**
 * Fold one event into the state: O(1) amortised for every event type. It trusts the event
 * (the log is the truth) and checks nothing but what keeps the state consistent; whether a
 * command may produce an event is the machine's business.
 */
export function evolve(state: RoomState, { event, meta }: LoggedEvent): void {
  state.head = event.seq;
  // The dedupe window advances on event time only, so a replay rebuilds the same window.
  state.dedupe.expire(event.ts);
  switch (event.type) {
    case 'user_joined':
      state.presence.joined(
        event.user,
        event.connections,
        meta.connection === undefined ? undefined : { id: meta.connection, gateway: meta.gateway ?? '' },
      );
      return;
    case 'user_left':
      state.presence.left(event.user, event.connections, meta.connection);
      return;
    case 'chat_message':
      state.history.push(event);
      if (event.mid !== undefined) state.dedupe.record({ user: event.from.id, mid: event.mid, seq: event.seq, ts: event.ts });
      return;
    case 'live_session_update':
      state.session = { state: event.state, data: event.data, updatedAt: event.ts };
      return;
    case 'notification':
      return;
  }
}
