import { isLecternError } from '@lectern/protocol';
import { describe, expect, it } from 'vitest';
import { compileRoomPatterns } from './room-patterns.js';

describe('compileRoomPatterns', () => {
  it('allows no room without a claim', () => {
    for (const claim of [undefined, null, []]) {
      const rooms = compileRoomPatterns(claim);
      expect(rooms.allows('a')).toBe(false);
      expect(rooms.patterns).toEqual([]);
    }
  });

  it('allows exact ids only as given', () => {
    const rooms = compileRoomPatterns(['physics-101', 'chem']);
    expect(rooms.allows('physics-101')).toBe(true);
    expect(rooms.allows('chem')).toBe(true);
    expect(rooms.allows('physics-1010')).toBe(false);
    expect(rooms.allows('Chem')).toBe(false);
    expect(rooms.patterns).toEqual(['physics-101', 'chem']);
  });

  it('allows rooms that start with a prefix ending in *', () => {
    const rooms = compileRoomPatterns(['session_*', 'lab-*']);
    expect(rooms.allows('session_42')).toBe(true);
    expect(rooms.allows('session_')).toBe(true);
    expect(rooms.allows('lab-7')).toBe(true);
    expect(rooms.allows('session42')).toBe(false);
    expect(rooms.allows('xsession_1')).toBe(false);
  });

  it('allows every room with *', () => {
    const rooms = compileRoomPatterns(['physics', '*']);
    expect(rooms.allows('anything')).toBe(true);
    expect(rooms.allows('physics')).toBe(true);
  });

  it('mixes exact ids and prefixes', () => {
    const rooms = compileRoomPatterns(['lobby', 'course-7_*']);
    expect(rooms.allows('lobby')).toBe(true);
    expect(rooms.allows('course-7_week1')).toBe(true);
    expect(rooms.allows('course-8_week1')).toBe(false);
  });

  it.each([
    ['a string instead of an array', 'session_*', 'rooms claim must be an array of room ids or prefixes ending in "*"'],
    ['an object', { rooms: ['a'] }, 'rooms claim must be an array of room ids or prefixes ending in "*"'],
    ['a number entry', ['a', 1], 'rooms[1] must be a room id or a prefix ending in "*"'],
    ['a NATS-unsafe id', ['a.b'], 'rooms[0] must be a room id or a prefix ending in "*"'],
    ['a * in the middle', ['a*b'], 'rooms[0] must be a room id or a prefix ending in "*"'],
    ['a prefix no room id can start with', ['_x*'], 'rooms[0] must be a room id or a prefix ending in "*"'],
    ['a double star', ['a**'], 'rooms[0] must be a room id or a prefix ending in "*"'],
    ['an empty entry', [''], 'rooms[0] must be a room id or a prefix ending in "*"'],
  ])('refuses %s as unauthorized', (_, claim, message) => {
    let thrown: unknown;
    try {
      compileRoomPatterns(claim);
    } catch (err) {
      thrown = err;
    }
    expect(isLecternError(thrown, 'unauthorized')).toBe(true);
    expect((thrown as Error).message).toBe(message);
  });

  it('keeps its own copy of the claim', () => {
    const claim = ['a'];
    const rooms = compileRoomPatterns(claim);
    claim.push('b');
    expect(rooms.patterns).toEqual(['a']);
    expect(rooms.allows('b')).toBe(false);
  });
  it('shares one compiled value between equal claims, and never between different ones', () => {
    const first = compileRoomPatterns(['course_1_*', 'lobby']);
    expect(compileRoomPatterns(['course_1_*', 'lobby'])).toBe(first);
    // Same cache key ("a\nb"), but one entry with a newline is not a room id.
    expect(compileRoomPatterns(['a', 'b']).allows('a')).toBe(true);
    expect(() => compileRoomPatterns(['a\nb'])).toThrow('rooms[0] must be a room id');
    const other = compileRoomPatterns(['course_2_*']);
    expect(other).not.toBe(first);
    expect(other.allows('course_1_x')).toBe(false);
  });
});
