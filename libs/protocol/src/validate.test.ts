import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from './constants.js';
import { parseClientFrame, type ParseResult } from './validate.js';

const ROOM_RULE = 'room must match ^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$';

function parse(value: unknown, limits?: { maxTextChars: number }): ParseResult {
  return parseClientFrame(JSON.stringify(value), limits);
}

function expectFrame(value: unknown, limits?: { maxTextChars: number }) {
  const result = parse(value, limits);
  if (!result.ok) throw new Error(`expected ok, got ${result.code}: ${result.message}`);
  return result.frame;
}

describe('parseClientFrame: the envelope', () => {
  it.each([
    ['empty input', ''],
    ['truncated object', '{"type":"ping"'],
    ['single quotes', "{'type':'ping'}"],
    ['trailing comma', '{"type":"ping",}'],
    ['bare word', 'ping'],
  ])('refuses malformed JSON (%s)', (_, text) => {
    expect(parseClientFrame(text)).toEqual({ ok: false, code: 'bad_request', message: 'frame is not valid JSON' });
  });

  it.each([
    ['null', 'null'],
    ['an array', '[{"type":"ping"}]'],
    ['a string', '"ping"'],
    ['a number', '42'],
    ['a boolean', 'true'],
  ])('refuses %s where an object belongs', (_, text) => {
    expect(parseClientFrame(text)).toEqual({ ok: false, code: 'bad_request', message: 'frame must be a JSON object' });
  });

  it.each([
    ['missing', {}],
    ['a number', { type: 1 }],
    ['null', { type: null }],
    ['an array', { type: ['ping'] }],
  ])('refuses a type that is %s', (_, value) => {
    expect(parse(value)).toEqual({ ok: false, code: 'bad_request', message: 'type must be a string' });
  });

  it('answers unknown_type for a type outside the protocol, echoing the id', () => {
    expect(parse({ type: 'delete_room', id: 'r1', room: 'a' })).toEqual({
      ok: false,
      code: 'unknown_type',
      message: 'type must be one of join_room, leave_room, chat_message, live_session_update, ping, refresh_token',
      id: 'r1',
    });
  });

  it('treats type names case-sensitively', () => {
    expect(parse({ type: 'PING' })).toMatchObject({ ok: false, code: 'unknown_type' });
  });

  it('accepts an id of 64 characters, counted in code points', () => {
    expect(expectFrame({ type: 'ping', id: 'x'.repeat(64) })).toEqual({ type: 'ping', id: 'x'.repeat(64) });
    // 64 emoji are 128 UTF-16 units but 64 characters.
    expect(expectFrame({ type: 'ping', id: '🎓'.repeat(64) })).toEqual({ type: 'ping', id: '🎓'.repeat(64) });
  });

  it.each([
    ['65 characters', 'x'.repeat(65)],
    ['65 emoji', '🎓'.repeat(65)],
    ['a number', 7],
    ['null', null],
    ['an object', { a: 1 }],
  ])('refuses an id that is %s, and does not echo it', (_, id) => {
    expect(parse({ type: 'ping', id })).toEqual({
      ok: false,
      code: 'bad_request',
      message: 'id must be a string of at most 64 characters',
    });
  });

  it('accepts an empty id (the protocol sets only a maximum)', () => {
    expect(expectFrame({ type: 'ping', id: '' })).toEqual({ type: 'ping', id: '' });
  });
});

describe('parseClientFrame: room ids', () => {
  it.each(['a', 'A', '0', 'session_42', 'a-b_c', 'x'.repeat(128)])('accepts %s', (room) => {
    expect(expectFrame({ type: 'leave_room', room })).toEqual({ type: 'leave_room', room });
  });

  it.each([
    ['a NATS token separator', 'a.b'],
    ['the NATS wildcard *', '*'],
    ['the NATS wildcard >', '>'],
    ['a wildcard inside', 'a*'],
    ['a space', 'a b'],
    ['an empty string', ''],
    ['a leading underscore', '_a'],
    ['a leading dash', '-a'],
    ['129 characters', 'x'.repeat(129)],
    ['a slash', 'a/b'],
    ['non-ASCII letters', 'salle-é'],
    ['a trailing newline', 'a\n'],
  ])('refuses %s, saying which pattern to match', (_, room) => {
    expect(parse({ type: 'join_room', id: 'q', room })).toEqual({
      ok: false,
      code: 'bad_request',
      message: ROOM_RULE,
      id: 'q',
    });
  });

  it('says when room is missing or not a string', () => {
    expect(parse({ type: 'join_room' })).toEqual({ ok: false, code: 'bad_request', message: 'room is required' });
    expect(parse({ type: 'leave_room', room: 5 })).toEqual({ ok: false, code: 'bad_request', message: 'room must be a string' });
    expect(parse({ type: 'chat_message', room: null, text: 'hi' })).toMatchObject({ message: 'room must be a string' });
  });

  it('checks the room of every room-bearing type', () => {
    for (const type of ['join_room', 'leave_room', 'chat_message', 'live_session_update']) {
      expect(parse({ type, room: 'a.b', text: 'x', state: 'live' })).toMatchObject({ ok: false, message: ROOM_RULE });
    }
  });
});

describe('parseClientFrame: join_room', () => {
  it('accepts a join without since', () => {
    expect(expectFrame({ type: 'join_room', id: '1', room: 'r' })).toEqual({ type: 'join_room', id: '1', room: 'r' });
  });

  it.each([0, 1, 41, Number.MAX_SAFE_INTEGER])('accepts since = %s', (since) => {
    expect(expectFrame({ type: 'join_room', room: 'r', since })).toEqual({ type: 'join_room', room: 'r', since });
  });

  it.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['beyond safe integers', Number.MAX_SAFE_INTEGER + 1],
    ['a numeric string', '5'],
    ['null', null],
    ['a boolean', true],
  ])('refuses since that is %s, echoing id and room', (_, since) => {
    expect(parse({ type: 'join_room', id: 'j', room: 'r', since })).toEqual({
      ok: false,
      code: 'bad_request',
      message: 'since must be a non-negative integer',
      id: 'j',
      room: 'r',
    });
  });

  it('refuses since that JSON.parse made infinite', () => {
    expect(parseClientFrame('{"type":"join_room","room":"r","since":1e400}')).toMatchObject({
      ok: false,
      message: 'since must be a non-negative integer',
    });
  });
});

describe('parseClientFrame: chat_message', () => {
  it('returns the trimmed text', () => {
    expect(expectFrame({ type: 'chat_message', room: 'r', text: '  hello\n\t' })).toEqual({
      type: 'chat_message',
      room: 'r',
      text: 'hello',
    });
  });

  it('keeps a mid of 1 to 64 characters', () => {
    expect(expectFrame({ type: 'chat_message', room: 'r', text: 'x', mid: 'm' })).toMatchObject({ mid: 'm' });
    expect(expectFrame({ type: 'chat_message', room: 'r', text: 'x', mid: 'm'.repeat(64) })).toMatchObject({
      mid: 'm'.repeat(64),
    });
  });

  it.each([
    ['empty', ''],
    ['65 characters', 'm'.repeat(65)],
    ['a number', 3],
    ['null', null],
  ])('refuses a mid that is %s', (_, mid) => {
    expect(parse({ type: 'chat_message', id: 'c', room: 'r', text: 'x', mid })).toEqual({
      ok: false,
      code: 'bad_request',
      message: 'mid must be a string of 1 to 64 characters',
      id: 'c',
      room: 'r',
    });
  });

  it.each([
    ['missing', undefined],
    ['a number', 12],
    ['null', null],
    ['an array', ['hi']],
  ])('refuses text that is %s', (_, text) => {
    expect(parse({ type: 'chat_message', room: 'r', text })).toMatchObject({
      ok: false,
      code: 'bad_request',
      message: 'text must be a string',
      room: 'r',
    });
  });

  it.each([
    ['empty', ''],
    ['only spaces', '    '],
    ['only newlines and tabs', '\n\t\r\n'],
    ['only Unicode spaces', '\u00a0\u2003\u3000\ufeff'],
  ])('refuses text that is %s after trimming', (_, text) => {
    expect(parse({ type: 'chat_message', room: 'r', text })).toMatchObject({
      ok: false,
      code: 'bad_request',
      message: 'text must be 1 to 2000 characters after trimming',
    });
  });

  it('accepts exactly the limit and refuses one more', () => {
    const max = DEFAULT_LIMITS.maxTextChars;
    expect(expectFrame({ type: 'chat_message', room: 'r', text: 'a'.repeat(max) })).toMatchObject({ text: 'a'.repeat(max) });
    expect(parse({ type: 'chat_message', room: 'r', text: 'a'.repeat(max + 1) })).toMatchObject({
      ok: false,
      message: 'text must be 1 to 2000 characters after trimming',
    });
  });

  it('counts the limit after trimming', () => {
    const max = DEFAULT_LIMITS.maxTextChars;
    expect(expectFrame({ type: 'chat_message', room: 'r', text: `   ${'a'.repeat(max)}   ` })).toMatchObject({
      text: 'a'.repeat(max),
    });
  });

  it('counts code points: 2000 emoji (4000 UTF-16 units) fit, 2001 do not', () => {
    expect(expectFrame({ type: 'chat_message', room: 'r', text: '😀'.repeat(2000) })).toMatchObject({
      text: '😀'.repeat(2000),
    });
    expect(parse({ type: 'chat_message', room: 'r', text: '😀'.repeat(2001) })).toMatchObject({ ok: false });
  });

  it('counts mixed text between the limit and twice the limit exactly', () => {
    // 1000 emoji + 1000 ASCII = 2000 code points in 3000 units.
    const text = '🎓'.repeat(1000) + 'b'.repeat(1000);
    expect(expectFrame({ type: 'chat_message', room: 'r', text })).toMatchObject({ text });
    expect(parse({ type: 'chat_message', room: 'r', text: text + 'c' })).toMatchObject({ ok: false });
  });

  it('uses the configured limit', () => {
    expect(expectFrame({ type: 'chat_message', room: 'r', text: 'abcde' }, { maxTextChars: 5 })).toMatchObject({
      text: 'abcde',
    });
    expect(parse({ type: 'chat_message', room: 'r', text: 'abcdef' }, { maxTextChars: 5 })).toMatchObject({
      message: 'text must be 1 to 5 characters after trimming',
    });
  });

  it.each([
    ['a NUL character', 'a\u0000b'],
    ['a lone high surrogate', 'a\ud83cb'],
    ['a lone low surrogate', '\udf93'],
    ['a high surrogate at the end', 'abc\ud83c'],
  ])('refuses text with %s, which the event log cannot store', (_, text) => {
    expect(parse({ type: 'chat_message', room: 'r', text })).toMatchObject({
      ok: false,
      code: 'bad_request',
      message: 'text must not contain NUL or unpaired surrogate characters',
    });
  });

  it('refuses a mid with a NUL character', () => {
    expect(parse({ type: 'chat_message', room: 'r', text: 'x', mid: 'a\u0000' })).toMatchObject({
      message: 'mid must not contain NUL or unpaired surrogate characters',
    });
  });

  it('strips forged identity and every other unknown field', () => {
    const frame = expectFrame({
      type: 'chat_message',
      id: 'c1',
      room: 'r',
      text: 'hi',
      mid: 'm1',
      from: { id: 'admin', name: 'Admin', role: 'service' },
      user: { id: 'admin' },
      seq: 99,
      ts: 1,
      role: 'moderator',
    });
    expect(frame).toEqual({ type: 'chat_message', id: 'c1', room: 'r', text: 'hi', mid: 'm1' });
    expect(Object.keys(frame).sort()).toEqual(['id', 'mid', 'room', 'text', 'type']);
  });

  it('does not let a __proto__ key set the prototype of the frame', () => {
    const result = parseClientFrame('{"type":"chat_message","room":"r","text":"x","__proto__":{"from":"forged"}}');
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(Object.getPrototypeOf(result.frame)).toBe(Object.prototype);
      expect((result.frame as unknown as { from?: unknown }).from).toBeUndefined();
    }
  });
});

describe('parseClientFrame: live_session_update', () => {
  it.each(['scheduled', 'live', 'paused', 'ended'])('accepts state %s alone', (state) => {
    expect(expectFrame({ type: 'live_session_update', room: 'r', state })).toEqual({
      type: 'live_session_update',
      room: 'r',
      state,
    });
  });

  it('accepts data alone, and state with data', () => {
    expect(expectFrame({ type: 'live_session_update', room: 'r', data: { slide: 3 } })).toEqual({
      type: 'live_session_update',
      room: 'r',
      data: { slide: 3 },
    });
    expect(expectFrame({ type: 'live_session_update', id: 'u', room: 'r', state: 'live', data: {} })).toEqual({
      type: 'live_session_update',
      id: 'u',
      room: 'r',
      state: 'live',
      data: {},
    });
  });

  it('needs state or data', () => {
    expect(parse({ type: 'live_session_update', room: 'r' })).toEqual({
      ok: false,
      code: 'bad_request',
      message: 'live_session_update needs state or data',
      room: 'r',
    });
  });

  it.each(['LIVE', 'started', '', 1, null])('refuses state %j', (state) => {
    expect(parse({ type: 'live_session_update', room: 'r', state })).toMatchObject({
      ok: false,
      message: 'state must be one of scheduled, live, paused, ended',
    });
  });

  it.each([
    ['an array', [1, 2]],
    ['null', null],
    ['a string', '{"a":1}'],
    ['a number', 4],
  ])('refuses data that is %s', (_, data) => {
    expect(parse({ type: 'live_session_update', room: 'r', state: 'live', data })).toMatchObject({
      ok: false,
      message: 'data must be a JSON object',
    });
  });

  it('accepts data of exactly 4096 bytes of JSON and refuses 4097, counting UTF-8 bytes', () => {
    const exact = { k: 'x'.repeat(4096 - '{"k":""}'.length) };
    expect(Buffer.byteLength(JSON.stringify(exact))).toBe(4096);
    expect(parse({ type: 'live_session_update', room: 'r', data: exact })).toMatchObject({ ok: true });
    const over = { k: 'x'.repeat(4097 - '{"k":""}'.length) };
    expect(parse({ type: 'live_session_update', room: 'r', data: over })).toMatchObject({
      ok: false,
      message: 'data must encode to at most 4096 bytes of JSON',
    });
    // 'é' is one UTF-16 unit but two UTF-8 bytes.
    const accented = { k: 'é'.repeat(2045) };
    expect(Buffer.byteLength(JSON.stringify(accented))).toBe(4098);
    expect(parse({ type: 'live_session_update', room: 'r', data: accented })).toMatchObject({ ok: false });
  });

  it('refuses data nested too deep for JSON.stringify without throwing', () => {
    const deep = `{"type":"live_session_update","room":"r","data":{"a":${'['.repeat(8000)}${']'.repeat(8000)}}}`;
    expect(parseClientFrame(deep)).toMatchObject({ ok: false, message: 'data must encode to at most 4096 bytes of JSON' });
  });

  it('refuses data with a NUL character in a key or a value', () => {
    for (const data of [{ 'a\u0000': 1 }, { a: ['x', 'y\u0000'] }, { a: { b: '\ud800' } }]) {
      expect(parse({ type: 'live_session_update', room: 'r', data })).toMatchObject({
        ok: false,
        message: 'data must not contain NUL or unpaired surrogate characters',
      });
    }
  });

  it('strips unknown fields but keeps the free-form data as sent', () => {
    const frame = expectFrame({
      type: 'live_session_update',
      room: 'r',
      state: 'paused',
      data: { from: 'anything', nested: { seq: 1 } },
      from: { id: 'admin' },
      updatedAt: 5,
    });
    expect(frame).toEqual({
      type: 'live_session_update',
      room: 'r',
      state: 'paused',
      data: { from: 'anything', nested: { seq: 1 } },
    });
  });
});

describe('parseClientFrame: ping and refresh_token', () => {
  it('accepts a ping with or without ts, echoing any finite number', () => {
    expect(expectFrame({ type: 'ping' })).toEqual({ type: 'ping' });
    expect(expectFrame({ type: 'ping', id: 'p', ts: -12.5 })).toEqual({ type: 'ping', id: 'p', ts: -12.5 });
  });

  it.each([
    ['a string', '"123"'],
    ['null', 'null'],
    ['infinite', '1e400'],
  ])('refuses a ts that is %s', (_, ts) => {
    expect(parseClientFrame(`{"type":"ping","id":"p","ts":${ts}}`)).toEqual({
      ok: false,
      code: 'bad_request',
      message: 'ts must be a finite number',
      id: 'p',
    });
  });

  it('accepts a refresh_token with a token and drops the rest', () => {
    expect(expectFrame({ type: 'refresh_token', id: 't', token: 'a.b.c', sub: 'someone-else' })).toEqual({
      type: 'refresh_token',
      id: 't',
      token: 'a.b.c',
    });
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['a number', 1],
    ['null', null],
  ])('refuses a token that is %s', (_, token) => {
    expect(parse({ type: 'refresh_token', token })).toEqual({
      ok: false,
      code: 'bad_request',
      message: 'token must be a non-empty string',
    });
  });

  it('ignores a room on frames that have none', () => {
    expect(expectFrame({ type: 'ping', room: 'a.b' })).toEqual({ type: 'ping' });
  });
});

describe('parseClientFrame: properties', () => {
  it('never throws on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const result = parseClientFrame(text);
        expect(typeof result.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary JSON values, and any failure is a documented code', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const result = parseClientFrame(JSON.stringify(value) ?? 'null');
        if (!result.ok) expect(['bad_request', 'unknown_type']).toContain(result.code);
      }),
      { numRuns: 2000 },
    );
  });

  const frameLike = fc.record(
    {
      type: fc.constantFrom('join_room', 'leave_room', 'chat_message', 'live_session_update', 'ping', 'refresh_token', 'x'),
      id: fc.oneof(fc.string(), fc.jsonValue()),
      room: fc.oneof(fc.constantFrom('r', 'a.b', '*', '>'), fc.string(), fc.jsonValue()),
      since: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()),
      text: fc.oneof(fc.string({ unit: 'binary' }), fc.jsonValue()),
      mid: fc.oneof(fc.string(), fc.jsonValue()),
      state: fc.oneof(fc.constantFrom('scheduled', 'live', 'paused', 'ended'), fc.jsonValue()),
      data: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.jsonValue()),
      ts: fc.oneof(fc.double(), fc.jsonValue()),
      token: fc.oneof(fc.string(), fc.jsonValue()),
      from: fc.jsonValue(),
      seq: fc.jsonValue(),
    },
    { requiredKeys: ['type'] },
  );

  it('never throws on frame-shaped input, and an accepted frame holds only protocol fields', () => {
    const allowed: Record<string, string[]> = {
      join_room: ['type', 'id', 'room', 'since'],
      leave_room: ['type', 'id', 'room'],
      chat_message: ['type', 'id', 'room', 'text', 'mid'],
      live_session_update: ['type', 'id', 'room', 'state', 'data'],
      ping: ['type', 'id', 'ts'],
      refresh_token: ['type', 'id', 'token'],
    };
    fc.assert(
      fc.property(frameLike, (value) => {
        const result = parseClientFrame(JSON.stringify(value));
        if (result.ok) {
          for (const key of Object.keys(result.frame)) expect(allowed[result.frame.type]).toContain(key);
          for (const field of Object.values(result.frame)) expect(field).not.toBeUndefined();
        } else if (result.id !== undefined) {
          expect(result.id).toBe((value as { id?: unknown }).id);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
