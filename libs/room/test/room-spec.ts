/**
 * Given/when/then for the room, after emmett's DeciderSpecification: *given* these events in
 * the log, *when* this command arrives, *then* these events (or this error). Every `then`
 * also checks that folding the log including the new events gives the very room that
 * decided them, so each example doubles as a fold test.
 */
import type {
  ChatCommand,
  ConnectionRef,
  ErrorCode,
  EventMeta,
  GatewayDownCommand,
  InspectCommand,
  JoinCommand,
  LeaveCommand,
  LeaveReason,
  NotificationData,
  NotifyCommand,
  RoomCommand,
  RoomEvent,
  SessionState,
  SessionUpdateCommand,
  UserRef,
} from '@lectern/protocol';
import { expect } from 'vitest';
import { fold, type Decision, type LoggedEvent, type Room } from '../src/index.js';

export const ROOM = 'physics-101';
/** Time of the first given event; each next one is a second later. */
export const T0 = 1_700_000_000_000;

type Draft = RoomEvent extends infer E ? (E extends RoomEvent ? Omit<E, 'room' | 'seq' | 'ts'> : never) : never;
/** An event as a test writes it: the room stamps room, seq and (unless given) ts. */
export interface Given {
  event: Draft;
  meta: EventMeta;
  ts?: number;
}

export const users = {
  alice: { id: 'alice', name: 'Alice', role: 'learner' },
  bob: { id: 'bob', name: 'Bob', role: 'learner' },
  prof: { id: 'prof', name: 'Prof. Ada', role: 'instructor' },
  mod: { id: 'mod', name: 'Mo', role: 'moderator' },
  platform: { id: 'lms', name: 'LMS', role: 'service' },
} satisfies Record<string, UserRef>;

export const conn = (id: string, gateway = 'gw-1'): ConnectionRef => ({ id, gateway });

const metaOf = (connection: ConnectionRef): EventMeta => ({ connection: connection.id, gateway: connection.gateway });

export const command = {
  join: (user: UserRef, connection: ConnectionRef): JoinCommand => ({ kind: 'join', room: ROOM, connection, user }),
  leave: (user: UserRef, connection: ConnectionRef, reason: LeaveReason = 'left'): LeaveCommand => ({
    kind: 'leave',
    room: ROOM,
    connection,
    user,
    reason,
  }),
  chat: (user: UserRef, connection: ConnectionRef, text: string, mid?: string): ChatCommand =>
    mid === undefined ? { kind: 'chat', room: ROOM, connection, user, text } : { kind: 'chat', room: ROOM, connection, user, text, mid },
  update: (user: UserRef, connection: ConnectionRef, change: { state?: SessionState; data?: Record<string, unknown> }): SessionUpdateCommand => ({
    kind: 'session_update',
    room: ROOM,
    connection,
    user,
    ...change,
  }),
  notify: (data: NotificationData, user: UserRef = users.platform): NotifyCommand => ({ kind: 'notify', room: ROOM, user, data }),
  gatewayDown: (gateway: string): GatewayDownCommand => ({ kind: 'gateway_down', room: ROOM, gateway }),
  inspect: (): InspectCommand => ({ kind: 'inspect', room: ROOM }),
};

export const event = {
  joined: (user: UserRef, connection: ConnectionRef, connections: number): Given => ({
    event: { type: 'user_joined', user, connections },
    meta: metaOf(connection),
  }),
  left: (user: UserRef, connection: ConnectionRef, connections: number, reason: LeaveReason = 'left'): Given => ({
    event: { type: 'user_left', user, connections, reason },
    meta: metaOf(connection),
  }),
  chat: (user: UserRef, connection: ConnectionRef, text: string, mid?: string): Given => ({
    event: mid === undefined ? { type: 'chat_message', from: user, text } : { type: 'chat_message', from: user, text, mid },
    meta: metaOf(connection),
  }),
  session: (user: UserRef, connection: ConnectionRef, state: SessionState, data: Record<string, unknown> = {}): Given => ({
    event: { type: 'live_session_update', from: user, state, data },
    meta: metaOf(connection),
  }),
  notification: (data: NotificationData): Given => ({ event: { type: 'notification', data }, meta: {} }),
};

/** The same event at a chosen time. */
export const at = (ts: number, given: Given): Given => ({ ...given, ts });

export function stamp(givens: readonly Given[], firstSeq: number, defaultTs: (index: number) => number): LoggedEvent[] {
  return givens.map((given, index) => {
    const { type, ...fields } = given.event;
    return {
      event: { type, room: ROOM, seq: firstSeq + index, ts: given.ts ?? defaultTs(index), ...fields } as RoomEvent,
      meta: given.meta,
    };
  });
}

export interface Outcome {
  room: Room;
  decision: Decision;
}

export function given(...history: Given[]) {
  const log = stamp(history, 1, (index) => T0 + index * 1000);
  return {
    when(cmd: RoomCommand, now: number = T0 + history.length * 1000) {
      const room = fold(ROOM, log);
      const decision = room.decide(cmd, now);
      const outcome: Outcome = { room, decision };
      return {
        /** Accepted, and exactly these events were produced (stamped with the next seqs and `now`). */
        then(...expected: Given[]): Outcome {
          const events = stamp(expected, log.length + 1, () => now);
          expect(decision).toEqual({ ok: true, events, seq: log.length + expected.length });
          expect(room.seq).toBe(log.length + expected.length);
          expect(fold(ROOM, [...log, ...events]).toSnapshot()).toEqual(room.toSnapshot());
          return outcome;
        },
        /** Accepted with nothing to record; the answer carries `seq` (the head, or the original's). */
        thenNothingHappens(answer: { seq?: number; duplicate?: true } = {}): Outcome {
          const expectedDecision: Decision = { ok: true, events: [], seq: answer.seq ?? log.length };
          if (answer.duplicate) expectedDecision.duplicate = true;
          expect(decision).toEqual(expectedDecision);
          expect(room.seq).toBe(log.length);
          expect(room.toSnapshot()).toEqual(fold(ROOM, log).toSnapshot());
          return outcome;
        },
        /** Refused with this code; the room is unchanged. */
        thenFails(code: ErrorCode, message?: string | RegExp): Outcome {
          expect(decision).toMatchObject({ ok: false, code });
          if (message !== undefined && !decision.ok) expect(decision.message).toMatch(message);
          expect(room.toSnapshot()).toEqual(fold(ROOM, log).toSnapshot());
          return outcome;
        },
      };
    },
  };
}
