import { describe, expect, it } from 'vitest';
import type { RoomEvent, UserRef } from '@lectern/protocol';
import { PresenceCoalescer } from './presence-coalescer.js';

const user = (id: string): UserRef => ({ id, name: id, role: 'learner' });
const joined = (seq: number, id: string, connections: number): RoomEvent => ({ type: 'user_joined', room: 'r', seq, ts: seq, user: user(id), connections });
const left = (seq: number, id: string, connections: number): RoomEvent => ({ type: 'user_left', room: 'r', seq, ts: seq, user: user(id), connections, reason: 'left' });
const chat = (seq: number): RoomEvent => ({ type: 'chat_message', room: 'r', seq, ts: seq, from: user('x'), text: 'hi' });

function setup(initialCount: number, threshold: number) {
  const published: { fromSeq: number; seq: number; frame: any }[] = [];
  const coalescer = new PresenceCoalescer('r', initialCount, threshold, (fromSeq, seq, frame) => published.push({ fromSeq, seq, frame: JSON.parse(frame) }));
  return { coalescer, published };
}

describe('PresenceCoalescer', () => {
  it('publishes presence one by one below the threshold', () => {
    const { coalescer, published } = setup(0, 2);
    coalescer.onCommitted(joined(1, 'a', 1), '{"seq":1}', 0);
    coalescer.onCommitted(joined(2, 'b', 1), '{"seq":2}', 0);
    expect(published.map((p) => [p.fromSeq, p.seq])).toEqual([[1, 1], [2, 2]]);
  });

  it('above the threshold folds joins and leaves into one diff per flush, net of churn', () => {
    const { coalescer, published } = setup(3, 2);
    coalescer.onCommitted(joined(10, 'd', 1), '{}', 0);
    coalescer.onCommitted(joined(11, 'e', 1), '{}', 0);
    coalescer.onCommitted(joined(12, 'd', 2), '{}', 0); // second tab: no presence change
    coalescer.onCommitted(left(13, 'e', 0), '{}', 0); // e came and went: nets out
    coalescer.onCommitted(left(14, 'a', 0), '{}', 0); // a was present before: left
    expect(published).toEqual([]);
    coalescer.flush(99);
    expect(published).toHaveLength(1);
    expect(published[0]).toMatchObject({ fromSeq: 10, seq: 14 });
    expect(published[0]!.frame).toMatchObject({ type: 'presence_diff', room: 'r', fromSeq: 10, seq: 14, ts: 99, count: 3 });
    expect(published[0]!.frame.joined.map((u: UserRef) => u.id)).toEqual(['d']);
    expect(published[0]!.frame.left.map((u: UserRef) => u.id)).toEqual(['a']);
  });

  it('flushes the pending diff before any other event, keeping seq order', () => {
    const { coalescer, published } = setup(5, 2);
    coalescer.onCommitted(joined(20, 'z', 1), '{}', 0);
    coalescer.onCommitted(chat(21), '{"chat":21}', 0);
    expect(published.map((p) => [p.fromSeq, p.seq])).toEqual([[20, 20], [21, 21]]);
    expect(published[0]!.frame.type).toBe('presence_diff');
  });

  it('stops coalescing once the room shrinks below the threshold', () => {
    const { coalescer, published } = setup(3, 2);
    coalescer.onCommitted(left(5, 'a', 0), '{}', 0); // 3 -> 2: back at the threshold
    expect(published.map((p) => [p.fromSeq, p.seq, p.frame.type])).toEqual([[5, 5, 'presence_diff']]);
    coalescer.onCommitted(left(6, 'b', 0), '{"single":6}', 0);
    expect(published[1]).toMatchObject({ fromSeq: 6, seq: 6, frame: { single: 6 } });
  });
});
