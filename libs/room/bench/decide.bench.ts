/**
 * How many commands one room decides per second, in-process, with no IO: the ceiling the
 * actor host works under. Run from the repository root:
 *
 *     npx vitest bench --run libs/room/bench
 *
 * Figures go in the README, never into assertions.
 */
import type { ChatCommand, JoinCommand, LeaveCommand, UserRef } from '@lectern/protocol';
import { bench, describe } from 'vitest';
import { fold, Room, type LoggedEvent } from '../src/index.js';

const ROOM = 'lecture';
const LARGE = 50_000;
const T0 = 1_700_000_000_000;

const user = (i: number): UserRef => ({ id: `user-${i}`, name: `User ${i}`, role: 'learner' });
const connection = (i: number) => ({ id: `conn-${i}`, gateway: `gw-${i % 8}` });
const join = (i: number): JoinCommand => ({ kind: 'join', room: ROOM, connection: connection(i), user: user(i) });
const leave = (i: number): LeaveCommand => ({ kind: 'leave', room: ROOM, connection: connection(i), user: user(i), reason: 'left' });

function roomOf(participants: number): Room {
  const room = Room.create(ROOM);
  for (let i = 0; i < participants; i++) room.decide(join(i), T0);
  return room;
}

describe(`decide in a ${LARGE}-participant room`, () => {
  const chatRoom = roomOf(LARGE);
  const speaker = join(0);
  let n = 0;
  bench('chat (with a mid)', () => {
    n++;
    const chat: ChatCommand = { kind: 'chat', room: ROOM, connection: speaker.connection, user: speaker.user, text: 'hello', mid: `m${n}` };
    chatRoom.decide(chat, T0 + n);
  });

  // Joins of new users: the room grows past 50,000 as the bench runs.
  const joinRoom = roomOf(LARGE);
  let next = LARGE;
  bench('join (a new user)', () => {
    next++;
    joinRoom.decide(join(next), T0 + next);
  });

  // A join then the same connection's leave: the room stays at 50,000.
  const churnRoom = roomOf(LARGE);
  let churn = LARGE;
  bench('join + leave (counts 2 decisions)', () => {
    churn++;
    churnRoom.decide(join(churn), T0 + churn);
    churnRoom.decide(leave(churn), T0 + churn);
  });
});

describe('fold (activation)', () => {
  const source = roomOf(1000);
  const log: LoggedEvent[] = [];
  for (let i = 0; i < 10_000; i++) {
    const decision = source.decide({ kind: 'chat', room: ROOM, connection: connection(i % 1000), user: user(i % 1000), text: 'hi', mid: `m${i}` }, T0 + i);
    if (decision.ok) log.push(...decision.events);
  }
  const snapshot = roomOf(1000).toSnapshot();
  bench('10,000 chat events onto a 1,000-participant snapshot', () => {
    fold(ROOM, log, snapshot);
  });
});
