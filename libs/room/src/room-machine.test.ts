import type { RoomCommand, SessionState, UserRef } from '@lectern/protocol';
import { SESSION_STATES } from '@lectern/protocol';
import { transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import { resolveRoomOptions } from './options.js';
import { commandEvent, NEXT_STATES, roomMachine, stepRoom, type RoomMachineSnapshot } from './room-machine.js';
import { RoomState } from './room-state.js';

const ROOM = 'machine-room';
const prof: UserRef = { id: 'prof', name: 'Prof', role: 'instructor' };
const connection = { id: 'c-1', gateway: 'gw-1' };

function fresh(): RoomMachineSnapshot {
  const state = new RoomState(ROOM, resolveRoomOptions());
  return roomMachine.resolveState({ value: 'scheduled', context: { state, outcome: { ok: true, events: [], seq: 0 } } });
}

const join: RoomCommand = { kind: 'join', room: ROOM, connection, user: prof };
const update = (state: SessionState): RoomCommand => ({ kind: 'session_update', room: ROOM, connection, user: prof, state });

/** Drive a fresh machine to `state` through allowed transitions. */
function machineIn(state: SessionState): RoomMachineSnapshot {
  const path: Record<SessionState, SessionState[]> = { scheduled: [], live: ['live'], paused: ['live', 'paused'], ended: ['ended'] };
  let snapshot = stepRoom(fresh(), commandEvent(join, 1));
  for (const next of path[state]) snapshot = stepRoom(snapshot, commandEvent(update(next), 2));
  expect(snapshot.value).toBe(state);
  return snapshot;
}

describe('room machine', () => {
  it.each(SESSION_STATES.flatMap((from) => SESSION_STATES.filter((to) => to !== from).map((to) => [from, to] as const)))(
    'follows the transition table from %s to %s',
    (from, to) => {
      const next = stepRoom(machineIn(from), commandEvent(update(to), 3));
      if (NEXT_STATES[from].includes(to)) {
        expect(next.context.outcome).toMatchObject({ ok: true });
        expect(next.value).toBe(to);
        expect(next.context.state.session.state).toBe(to);
      } else {
        expect(next.context.outcome).toMatchObject({ ok: false, code: from === 'ended' ? 'room_closed' : 'bad_request' });
        expect(next.value).toBe(from);
      }
    },
  );

  it('keeps running after the session ended (ended is not a final state)', () => {
    const ended = machineIn('ended');
    expect(ended.status).toBe('active');
    const next = stepRoom(ended, commandEvent({ kind: 'join', room: ROOM, connection: { id: 'c-2', gateway: 'gw-1' }, user: prof }, 4));
    expect(next.context.outcome).toMatchObject({ ok: true, seq: 3 });
  });

  it('follows a logged session change when folding, whatever the table says', () => {
    // The log is the truth: a fold never refuses an event.
    const snapshot = stepRoom(fresh(), {
      type: 'apply',
      logged: { event: { type: 'live_session_update', room: ROOM, seq: 1, ts: 1, from: prof, state: 'paused', data: {} }, meta: {} },
    });
    expect(snapshot.value).toBe('paused');
  });

  it("steps exactly like xstate's exported transition(), with no actions left to execute", () => {
    const commands: RoomCommand[] = [
      join,
      { kind: 'chat', room: ROOM, connection, user: prof, text: 'hi', mid: 'm' },
      { kind: 'chat', room: ROOM, connection, user: prof, text: 'hi', mid: 'm' },
      update('live'),
      update('scheduled'),
      { kind: 'gateway_down', room: ROOM, gateway: 'gw-1' },
      { kind: 'leave', room: ROOM, connection, user: prof, reason: 'left' },
    ];
    let ours = fresh();
    let theirs = fresh();
    commands.forEach((command, i) => {
      ours = stepRoom(ours, commandEvent(command, i));
      const [next, actions] = transition(roomMachine, theirs, commandEvent(command, i));
      theirs = next;
      expect(actions).toEqual([]);
      expect(theirs.value).toEqual(ours.value);
      expect(theirs.context.outcome).toEqual(ours.context.outcome);
    });
  });
});
