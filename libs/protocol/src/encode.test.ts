import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeCanonicalJson,
  encodeEvent,
  encodeFrame,
  encodeJoinedBody,
  encodePresenceDiff,
  errorFrame,
  errorFrameFor,
  frameWithBody,
} from './encode.js';
import { LecternError } from './errors.js';
import type { ChatMessageEvent, JoinedFrame, RoomEvent, ServerFrame, UserRef } from './frames.js';
import { LEAVE_REASONS, NOTIFICATION_LEVELS, ROLES, SESSION_STATES } from './frames.js';
import { decodeStoredEvent, eventFields } from './stored-event.js';

const alice: UserRef = { id: 'u1', name: 'Alice', role: 'learner' };
const bob: UserRef = { id: 'u2', name: 'Bob', role: 'instructor' };

/** A copy of `value` with every object's keys in an order drawn from `seed`. */
function shuffleKeys(value: unknown, seed: number): unknown {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const walk = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(walk);
    if (typeof item !== 'object' || item === null) return item;
    const entries = Object.entries(item).map(([key, member]) => [key, walk(member)] as const);
    for (let i = entries.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [entries[i], entries[j]] = [entries[j]!, entries[i]!];
    }
    // fromEntries defines own properties, so a "__proto__" key stays a key.
    return Object.fromEntries(entries);
  };
  return walk(value);
}

/** What a jsonb column gives back: JSON text in, parsed JSON out. */
function throughTheLog<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

const userArb = fc.record({
  id: fc.string({ minLength: 1 }),
  name: fc.string(),
  role: fc.constantFrom(...ROLES),
});
const headArb = { room: fc.string(), seq: fc.nat(), ts: fc.nat() };
const dataArb = fc.dictionary(fc.string(), fc.jsonValue());

const eventArb: fc.Arbitrary<RoomEvent> = fc.oneof(
  fc.record({ type: fc.constant('user_joined' as const), ...headArb, user: userArb, connections: fc.nat(20) }),
  fc.record({
    type: fc.constant('user_left' as const),
    ...headArb,
    user: userArb,
    connections: fc.nat(20),
    reason: fc.constantFrom(...LEAVE_REASONS),
  }),
  fc.record(
    { type: fc.constant('chat_message' as const), ...headArb, from: userArb, text: fc.string({ unit: 'binary' }), mid: fc.string() },
    { requiredKeys: ['type', 'room', 'seq', 'ts', 'from', 'text'] },
  ),
  fc.record({
    type: fc.constant('live_session_update' as const),
    ...headArb,
    from: userArb,
    state: fc.constantFrom(...SESSION_STATES),
    data: dataArb,
  }),
  fc.record({
    type: fc.constant('notification' as const),
    ...headArb,
    data: fc.record(
      { title: fc.string(), body: fc.string(), level: fc.constantFrom(...NOTIFICATION_LEVELS) },
      { requiredKeys: ['body'] },
    ),
  }),
);

describe('encodeEvent', () => {
  it('writes each event type with its fixed key order', () => {
    expect(encodeEvent({ type: 'user_joined', room: 'r', seq: 1, ts: 10, user: alice, connections: 1 })).toBe(
      '{"type":"user_joined","room":"r","seq":1,"ts":10,"user":{"id":"u1","name":"Alice","role":"learner"},"connections":1}',
    );
    expect(
      encodeEvent({ type: 'user_left', room: 'r', seq: 2, ts: 11, user: alice, connections: 0, reason: 'disconnected' }),
    ).toBe(
      '{"type":"user_left","room":"r","seq":2,"ts":11,"user":{"id":"u1","name":"Alice","role":"learner"},"connections":0,"reason":"disconnected"}',
    );
    expect(encodeEvent({ type: 'chat_message', room: 'r', seq: 3, ts: 12, from: bob, text: 'hi "all"', mid: 'm1' })).toBe(
      '{"type":"chat_message","room":"r","seq":3,"ts":12,"from":{"id":"u2","name":"Bob","role":"instructor"},"text":"hi \\"all\\"","mid":"m1"}',
    );
    expect(encodeEvent({ type: 'chat_message', room: 'r', seq: 4, ts: 13, from: bob, text: 'no mid' })).toBe(
      '{"type":"chat_message","room":"r","seq":4,"ts":13,"from":{"id":"u2","name":"Bob","role":"instructor"},"text":"no mid"}',
    );
    expect(
      encodeEvent({ type: 'live_session_update', room: 'r', seq: 5, ts: 14, from: bob, state: 'live', data: { slide: 2 } }),
    ).toBe(
      '{"type":"live_session_update","room":"r","seq":5,"ts":14,"from":{"id":"u2","name":"Bob","role":"instructor"},"state":"live","data":{"slide":2}}',
    );
    expect(
      encodeEvent({ type: 'notification', room: 'r', seq: 6, ts: 15, data: { level: 'info', body: 'b', title: 't' } }),
    ).toBe('{"type":"notification","room":"r","seq":6,"ts":15,"data":{"title":"t","body":"b","level":"info"}}');
    expect(encodeEvent({ type: 'notification', room: 'r', seq: 7, ts: 16, data: { body: 'only body' } })).toBe(
      '{"type":"notification","room":"r","seq":7,"ts":16,"data":{"body":"only body"}}',
    );
  });

  it('ignores the key order of its input', () => {
    const a = encodeEvent({ type: 'user_joined', room: 'r', seq: 1, ts: 2, user: alice, connections: 1 });
    const b = encodeEvent({
      connections: 1,
      user: { role: 'learner', name: 'Alice', id: 'u1' },
      ts: 2,
      seq: 1,
      room: 'r',
      type: 'user_joined',
    });
    expect(b).toBe(a);
  });

  it('never writes fields outside the protocol', () => {
    const forged = {
      type: 'chat_message',
      room: 'r',
      seq: 1,
      ts: 2,
      from: { ...alice, email: 'alice@example.com', token: 'secret' },
      text: 'x',
      meta: { connection: 'c1' },
    } as unknown as ChatMessageEvent;
    const decoded = JSON.parse(encodeEvent(forged)) as Record<string, unknown>;
    expect(Object.keys(decoded)).toEqual(['type', 'room', 'seq', 'ts', 'from', 'text']);
    expect(Object.keys(decoded.from as object)).toEqual(['id', 'name', 'role']);
  });

  it('writes live_session_update data with sorted keys, at every depth, arrays in order', () => {
    const event: RoomEvent = {
      type: 'live_session_update',
      room: 'r',
      seq: 1,
      ts: 2,
      from: bob,
      state: 'paused',
      data: { z: 1, a: { y: [3, { d: 1, c: 2 }], b: null } },
    };
    expect(encodeEvent(event)).toContain('"data":{"a":{"b":null,"y":[3,{"c":2,"d":1}]},"z":1}}');
  });

  it('throws on a type that is not a room event', () => {
    expect(() => encodeEvent({ type: 'pong' } as unknown as RoomEvent)).toThrow(TypeError);
  });

  it('writes valid JSON that parses back to the event', () => {
    fc.assert(
      fc.property(eventArb, (event) => {
        const parsed = JSON.parse(encodeEvent(event)) as unknown;
        expect(parsed).toEqual(throughTheLog(event));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('replay from the log gives byte-identical frames', () => {
  it('encodeEvent(decodeStoredEvent(eventFields(e))) === encodeEvent(e), for any key order', () => {
    fc.assert(
      fc.property(eventArb, fc.integer(), fc.integer(), (event, seedIn, seedOut) => {
        const live = encodeEvent(event);
        // Whatever order the actor built the event in, and whatever order the log returns.
        const built = shuffleKeys(event, seedIn) as RoomEvent;
        expect(encodeEvent(built)).toBe(live);
        const stored = shuffleKeys(throughTheLog(eventFields(built)), seedOut);
        const replayed = decodeStoredEvent(event.room, event.seq, event.ts, event.type, stored);
        expect(encodeEvent(replayed)).toBe(live);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('encodeCanonicalJson', () => {
  it('agrees with JSON.stringify on everything but key order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
        const canonical = encodeCanonicalJson(value);
        expect(encodeCanonicalJson(shuffleKeys(value, seed))).toBe(canonical);
        expect(JSON.parse(canonical!)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });

  it('drops undefined members and writes null for undefined array items, like JSON.stringify', () => {
    expect(encodeCanonicalJson({ b: undefined, a: [undefined, 1] })).toBe('{"a":[null,1]}');
    expect(encodeCanonicalJson(undefined)).toBeUndefined();
  });
});

describe('encodePresenceDiff', () => {
  it('writes type, room, fromSeq, seq, ts, joined, left, count', () => {
    expect(
      encodePresenceDiff({
        count: 1,
        left: [bob],
        joined: [{ role: 'learner', name: 'Alice', id: 'u1' }],
        ts: 9,
        seq: 14,
        fromSeq: 10,
        room: 'big',
        type: 'presence_diff',
      }),
    ).toBe(
      '{"type":"presence_diff","room":"big","fromSeq":10,"seq":14,"ts":9,' +
        '"joined":[{"id":"u1","name":"Alice","role":"learner"}],"left":[{"id":"u2","name":"Bob","role":"instructor"}],"count":1}',
    );
  });

  it('writes empty lists', () => {
    expect(encodePresenceDiff({ type: 'presence_diff', room: 'r', fromSeq: 1, seq: 1, ts: 0, joined: [], left: [], count: 0 })).toBe(
      '{"type":"presence_diff","room":"r","fromSeq":1,"seq":1,"ts":0,"joined":[],"left":[],"count":0}',
    );
  });
});

describe('errorFrame', () => {
  it('writes type, id?, room?, code, message, retryAfterMs?', () => {
    expect(errorFrame('bad_request', 'room must match x')).toBe(
      '{"type":"error","code":"bad_request","message":"room must match x"}',
    );
    expect(errorFrame('rate_limited', 'slow down', { retryAfterMs: 250, room: 'r', id: '7' })).toBe(
      '{"type":"error","id":"7","room":"r","code":"rate_limited","message":"slow down","retryAfterMs":250}',
    );
  });

  it('escapes what it is given', () => {
    expect(JSON.parse(errorFrame('bad_request', 'a "quoted"\nline', { id: '\u2028' }))).toEqual({
      type: 'error',
      id: '\u2028',
      code: 'bad_request',
      message: 'a "quoted"\nline',
    });
  });
});

describe('errorFrameFor', () => {
  it('keeps the code, message and retryAfterMs of a LecternError', () => {
    const err = new LecternError('unavailable', 'room is moving', { retryAfterMs: 100 });
    expect(errorFrameFor(err, { id: '1' })).toBe(
      '{"type":"error","id":"1","code":"unavailable","message":"room is moving","retryAfterMs":100}',
    );
  });

  it('hides anything else behind internal', () => {
    expect(errorFrameFor(new Error('password=hunter2'), { room: 'r' })).toBe(
      '{"type":"error","room":"r","code":"internal","message":"internal error"}',
    );
  });
});

describe('encodeJoinedBody and frameWithBody', () => {
  const history: ChatMessageEvent[] = [{ type: 'chat_message', room: 'r', seq: 3, ts: 5, from: alice, text: 'hello' }];
  const joined: JoinedFrame = {
    type: 'joined',
    id: 'j1',
    room: 'r',
    seq: 4,
    participants: [{ ...alice, connections: 2 }],
    session: { state: 'live', data: { b: 1, a: 2 }, updatedAt: 7 },
    history,
    missed: [{ type: 'user_joined', room: 'r', seq: 4, ts: 6, user: alice, connections: 2 }],
    recovered: true,
  };

  it('makes the frame from a body the owner encoded once', () => {
    const body = encodeJoinedBody(joined);
    expect(body.startsWith('"room":"r","seq":4,')).toBe(true);
    const frame = frameWithBody('joined', 'j1', body);
    expect(frame).toBe(encodeFrame(joined));
    expect(JSON.parse(frame)).toEqual({ ...joined, session: { state: 'live', data: { a: 2, b: 1 }, updatedAt: 7 } });
    expect(frame).toContain(`"history":[${encodeEvent(history[0]!)}]`);
    expect(frame).toContain('"session":{"state":"live","data":{"a":2,"b":1},"updatedAt":7}');
    expect(frame).toContain('"participants":[{"id":"u1","name":"Alice","role":"learner","connections":2}]');
  });

  it('omits id, missed and recovered when absent', () => {
    const frame = frameWithBody(
      'joined',
      undefined,
      encodeJoinedBody({ room: 'r', seq: 0, participants: [], session: { state: 'scheduled', data: {}, updatedAt: 0 }, history: [] }),
    );
    expect(frame).toBe(
      '{"type":"joined","room":"r","seq":0,"participants":[],"session":{"state":"scheduled","data":{},"updatedAt":0},"history":[]}',
    );
  });

  it('puts participantCount and participantsTruncated (only when true) right after participants', () => {
    const body = encodeJoinedBody({ ...joined, participantCount: 5000, participantsTruncated: true });
    expect(body).toContain('"connections":2}],"participantCount":5000,"participantsTruncated":true,"session":');
    expect(JSON.parse(frameWithBody('joined', undefined, body))).toMatchObject({ participantCount: 5000, participantsTruncated: true });
    expect(encodeJoinedBody({ ...joined, participantCount: 1, participantsTruncated: false })).toContain('"participantCount":1,"session":');
  });

  it('takes events already encoded, as they are', () => {
    const encoded = encodeEvent(history[0]!);
    const body = encodeJoinedBody({ ...joined, history: [encoded], missed: [] });
    expect(body).toContain(`"history":[${encoded}],"missed":[],"recovered":true}`);
  });
});

describe('encodeFrame', () => {
  it('routes room events, diffs and errors to the fixed-order encoders', () => {
    const event: RoomEvent = { type: 'user_joined', room: 'r', seq: 1, ts: 2, user: alice, connections: 1 };
    expect(encodeFrame(event)).toBe(encodeEvent(event));
    const diff: ServerFrame = { type: 'presence_diff', room: 'r', fromSeq: 1, seq: 2, ts: 3, joined: [], left: [], count: 0 };
    expect(encodeFrame(diff)).toBe(encodePresenceDiff(diff));
    expect(encodeFrame({ type: 'error', code: 'not_joined', message: 'join first', room: 'r' })).toBe(
      errorFrame('not_joined', 'join first', { room: 'r' }),
    );
  });

  it('writes a user notification without room or seq', () => {
    expect(encodeFrame({ type: 'notification', ts: 5, data: { body: 'hi', level: 'warning' } })).toBe(
      '{"type":"notification","data":{"body":"hi","level":"warning"},"ts":5}',
    );
  });

  it('writes answers with JSON.stringify, dropping undefined fields', () => {
    expect(encodeFrame({ type: 'ack', id: undefined, room: 'r', seq: 3, duplicate: undefined })).toBe(
      '{"type":"ack","room":"r","seq":3}',
    );
    expect(encodeFrame({ type: 'pong', id: 'p', ts: 1.5, serverTs: 100 })).toBe('{"type":"pong","id":"p","ts":1.5,"serverTs":100}');
    expect(encodeFrame({ type: 'left', room: 'r' })).toBe('{"type":"left","room":"r"}');
  });
});
