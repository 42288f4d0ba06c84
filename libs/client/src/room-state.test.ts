import { describe, expect, it } from 'vitest';
import type { JoinedFrame, RoomEvent } from '@lectern/protocol';
import { RoomState } from './room-state.js';

const alice = { id: 'alice', name: 'Alice', role: 'instructor' as const };
const bob = { id: 'bob', name: 'Bob', role: 'learner' as const };
const chat = (seq: number, text: string): RoomEvent => ({ type: 'chat_message', room: 'r', seq, ts: seq, from: bob, text, mid: `m${seq}` });
const joined = (over: Partial<JoinedFrame> = {}): JoinedFrame => ({
  type: 'joined',
  room: 'r',
  seq: 2,
  participants: [{ ...alice, connections: 1 }],
  session: { state: 'live', data: {}, updatedAt: 5 },
  history: [chat(2, 'first') as never],
  ...over,
});

describe('RoomState', () => {
  it('given a first joined, takes the snapshot: participants, session, history, seq', () => {
    const state = new RoomState('r');
    const { reset } = state.applyJoined(joined(), undefined);
    expect(reset).toBe(false);
    expect(state.seq).toBe(2);
    expect([...state.participants.values()]).toEqual([{ ...alice, connections: 1 }]);
    expect(state.messages.map((m) => m.text)).toEqual(['first']);
    expect(state.session.state).toBe('live');
  });

  it('given a truncated joined of a large room, keeps the exact count through joins and leaves of unlisted users', () => {
    const state = new RoomState('r');
    state.applyJoined(joined({ participantCount: 5000, participantsTruncated: true }), undefined);
    expect(state.count).toBe(5000);
    const carol = { id: 'carol', name: 'Carol', role: 'learner' as const };
    const dave = { id: 'dave', name: 'Dave', role: 'learner' as const };
    state.apply({ type: 'user_joined', room: 'r', seq: 3, ts: 3, user: carol, connections: 1 });
    state.apply({ type: 'user_joined', room: 'r', seq: 4, ts: 4, user: carol, connections: 2 });
    // dave was present but not listed: his leave still counts.
    state.apply({ type: 'user_left', room: 'r', seq: 5, ts: 5, user: dave, connections: 0, reason: 'left' });
    state.apply({ type: 'user_left', room: 'r', seq: 6, ts: 6, user: carol, connections: 1, reason: 'left' });
    expect(state.count).toBe(5000);
    expect(state.participants.get('carol')?.connections).toBe(1);
    expect(state.participants.has('dave')).toBe(false);
  });

  it('drops events it already has and refuses a gap', () => {
    const state = new RoomState('r');
    state.applyJoined(joined(), undefined);
    expect(state.apply(chat(2, 'again'))).toBe('duplicate');
    expect(state.apply(chat(3, 'next'))).toBe('applied');
    expect(state.apply(chat(3, 'next'))).toBe('duplicate');
    expect(state.apply(chat(5, 'too far'))).toBe('gap');
    expect(state.seq).toBe(3);
    expect(state.messages.map((m) => m.text)).toEqual(['first', 'next']);
  });

  it('given a resume with recovered: true, folds the missed events once', () => {
    const state = new RoomState('r');
    state.applyJoined(joined(), undefined);
    state.apply(chat(3, 'three'));
    const missed = [chat(3, 'three'), chat(4, 'four'), { type: 'user_joined', room: 'r', seq: 5, ts: 5, user: bob, connections: 1 } as RoomEvent];
    const { events, reset } = state.applyJoined(joined({ seq: 5, missed, recovered: true, participants: [{ ...alice, connections: 1 }, { ...bob, connections: 1 }] }), 3);
    expect(reset).toBe(false);
    expect(events.map((e) => e.seq)).toEqual([4, 5]);
    expect(state.messages.map((m) => m.text)).toEqual(['first', 'three', 'four']);
    expect(state.seq).toBe(5);
    expect(state.count).toBe(2);
  });

  it('given recovered: false, rebuilds the room from the snapshot (a reset)', () => {
    const state = new RoomState('r');
    state.applyJoined(joined(), undefined);
    state.apply(chat(3, 'old'));
    const { reset } = state.applyJoined(joined({ seq: 20_000, recovered: false, history: [chat(19_999, 'recent') as never] }), 3);
    expect(reset).toBe(true);
    expect(state.messages.map((m) => m.text)).toEqual(['recent']);
    expect(state.seq).toBe(20_000);
  });

  it('applies user_joined/user_left by connections: two tabs, then both gone', () => {
    const state = new RoomState('r');
    state.applyJoined(joined(), undefined);
    state.apply({ type: 'user_joined', room: 'r', seq: 3, ts: 3, user: bob, connections: 1 });
    state.apply({ type: 'user_joined', room: 'r', seq: 4, ts: 4, user: bob, connections: 2 });
    expect(state.participants.get('bob')?.connections).toBe(2);
    state.apply({ type: 'user_left', room: 'r', seq: 5, ts: 5, user: bob, connections: 1, reason: 'disconnected' });
    expect(state.count).toBe(2);
    state.apply({ type: 'user_left', room: 'r', seq: 6, ts: 6, user: bob, connections: 0, reason: 'left' });
    expect(state.participants.has('bob')).toBe(false);
    expect(state.count).toBe(1);
  });

  it('applies presence_diff: continuity by fromSeq, joined and left users, the server count', () => {
    const state = new RoomState('r');
    state.applyJoined(joined(), undefined);
    const carol = { id: 'carol', name: 'Carol', role: 'learner' as const };
    expect(state.apply({ type: 'presence_diff', room: 'r', fromSeq: 3, seq: 9, ts: 9, joined: [bob, carol], left: [alice], count: 2 })).toBe('applied');
    expect([...state.participants.keys()].sort()).toEqual(['bob', 'carol']);
    expect(state.count).toBe(2);
    expect(state.seq).toBe(9);
    expect(state.apply({ type: 'presence_diff', room: 'r', fromSeq: 11, seq: 12, ts: 12, joined: [], left: [bob], count: 1 })).toBe('gap');
  });

  it('keeps at most maxMessages chat messages', () => {
    const state = new RoomState('r', { maxMessages: 3, maxNotifications: 1 });
    state.applyJoined(joined(), undefined);
    for (let seq = 3; seq <= 10; seq++) state.apply(chat(seq, `m${seq}`));
    expect(state.messages.map((m) => m.text)).toEqual(['m8', 'm9', 'm10']);
  });

  it('applies live_session_update and keeps notifications', () => {
    const state = new RoomState('r');
    state.applyJoined(joined(), undefined);
    state.apply({ type: 'live_session_update', room: 'r', seq: 3, ts: 33, from: alice, state: 'ended', data: { topic: 'x' } });
    expect(state.session).toEqual({ state: 'ended', data: { topic: 'x' }, updatedAt: 33 });
    state.apply({ type: 'notification', room: 'r', seq: 4, ts: 44, data: { body: 'hi' } });
    expect(state.notifications).toHaveLength(1);
  });
});
