import { describe, expect, it } from 'vitest';
import { isLecternError } from './errors.js';
import type { RoomEvent } from './frames.js';
import { decodeStoredEvent, eventFields } from './stored-event.js';

const alice = { id: 'u1', name: 'Alice', role: 'learner' } as const;

describe('eventFields', () => {
  it('stores everything but type, room, seq and ts', () => {
    expect(eventFields({ type: 'user_left', room: 'r', seq: 1, ts: 2, user: alice, connections: 0, reason: 'timeout' })).toEqual({
      user: alice,
      connections: 0,
      reason: 'timeout',
    });
    expect(eventFields({ type: 'chat_message', room: 'r', seq: 1, ts: 2, from: alice, text: 'x' })).toEqual({
      from: alice,
      text: 'x',
    });
  });

  it('stores protocol fields only', () => {
    const event = {
      type: 'chat_message',
      room: 'r',
      seq: 1,
      ts: 2,
      from: { ...alice, token: 'secret' },
      text: 'x',
      mid: 'm',
      extra: true,
    } as unknown as RoomEvent;
    expect(eventFields(event)).toEqual({ from: alice, text: 'x', mid: 'm' });
  });
});

describe('decodeStoredEvent', () => {
  it('rebuilds each type', () => {
    const events: RoomEvent[] = [
      { type: 'user_joined', room: 'r', seq: 1, ts: 2, user: alice, connections: 1 },
      { type: 'user_left', room: 'r', seq: 2, ts: 3, user: alice, connections: 0, reason: 'kicked' },
      { type: 'chat_message', room: 'r', seq: 3, ts: 4, from: alice, text: 'hi', mid: 'm' },
      { type: 'live_session_update', room: 'r', seq: 4, ts: 5, from: alice, state: 'ended', data: { a: [1] } },
      { type: 'notification', room: 'r', seq: 5, ts: 6, data: { title: 't', body: 'b', level: 'error' } },
    ];
    for (const event of events) {
      expect(decodeStoredEvent(event.room, event.seq, event.ts, event.type, eventFields(event))).toEqual(event);
    }
  });

  it.each([
    ['an unknown type', 'user_kicked', {}, 'type'],
    ['data that is not an object', 'user_joined', [], 'data'],
    ['a user without a name', 'user_joined', { user: { id: 'u', role: 'learner' }, connections: 1 }, 'user'],
    ['an unknown role', 'user_joined', { user: { ...alice, role: 'admin' }, connections: 1 }, 'user'],
    ['negative connections', 'user_joined', { user: alice, connections: -1 }, 'connections'],
    ['an unknown reason', 'user_left', { user: alice, connections: 0, reason: 'vanished' }, 'reason'],
    ['a text that is not a string', 'chat_message', { from: alice, text: 1 }, 'text'],
    ['a null mid', 'chat_message', { from: alice, text: 'x', mid: null }, 'mid'],
    ['an unknown state', 'live_session_update', { from: alice, state: 'over', data: {} }, 'state'],
    ['session data that is not an object', 'live_session_update', { from: alice, state: 'live', data: 'x' }, 'data.data'],
    ['a notification without body', 'notification', { data: { title: 't' } }, 'data.body'],
    ['an unknown level', 'notification', { data: { body: 'b', level: 'fatal' } }, 'data.level'],
  ])('refuses %s with an internal error naming the field', (_, type, data, field) => {
    let thrown: unknown;
    try {
      decodeStoredEvent('r', 9, 0, type, data);
    } catch (err) {
      thrown = err;
    }
    expect(isLecternError(thrown, 'internal')).toBe(true);
    expect((thrown as Error).message).toBe(`stored event r#9 (${type}) has an invalid ${field}`);
  });
});
