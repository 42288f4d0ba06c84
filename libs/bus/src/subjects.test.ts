import { describe, expect, it } from 'vitest';
import { DEFAULT_SHARD_COUNT, Subjects, fnv1a, isValidSubject, shardOf } from './subjects.js';

describe('subjects', () => {
  it('hashes with 32-bit FNV-1a (published test vectors)', () => {
    expect(fnv1a('')).toBe(0x811c9dc5);
    expect(fnv1a('a')).toBe(0xe40c292c);
    expect(fnv1a('foobar')).toBe(0xbf9cf968);
  });

  it('gives a room the same shard every time (gateways and owners must agree)', () => {
    expect(shardOf('room-1')).toBe(fnv1a('room-1') % 64);
    expect(shardOf('room-1')).toBe(shardOf('room-1'));
    expect(new Subjects('rt', 16).command('room-1')).toBe(`rt.cmd.${fnv1a('room-1') % 16}.room-1`);
  });

  it('spreads many room ids evenly over 64 shards', () => {
    const rooms = 64_000;
    const counts = new Array<number>(DEFAULT_SHARD_COUNT).fill(0);
    for (let i = 0; i < rooms; i++) counts[shardOf(`lecture-${i}`)]!++;
    // Mean 1000, binomial standard deviation about 31: ±15% is almost 5 deviations.
    for (const count of counts) {
      expect(count).toBeGreaterThan(850);
      expect(count).toBeLessThan(1150);
    }
  });

  it('names every subject under the prefix', () => {
    const subjects = new Subjects('t1.rt');
    expect(subjects.events('r')).toBe('t1.rt.evt.r');
    expect(subjects.shardCommands(5)).toBe('t1.rt.cmd.5.>');
    expect(subjects.roomOfCommand(subjects.command('abc'))).toBe('abc');
    expect(subjects.user('ü.x y')).toMatch(/^t1\.rt\.user\.[0-9a-f]+$/);
    expect(subjects.gatewayAnnounce()).toBe('t1.rt.gw.announce');
  });

  it('accepts NATS subjects and rejects malformed ones', () => {
    expect(isValidSubject('a.b.c', false)).toBe(true);
    expect(isValidSubject('a.*.c', false)).toBe(false);
    expect(isValidSubject('a.*.c', true)).toBe(true);
    expect(isValidSubject('a.>', true)).toBe(true);
    expect(isValidSubject('>', true)).toBe(true);
    expect(isValidSubject('a.>.b', true)).toBe(false);
    expect(isValidSubject('a..b', true)).toBe(false);
    expect(isValidSubject('a.b ', false)).toBe(false);
    expect(isValidSubject('', false)).toBe(false);
    expect(isValidSubject('a.b*', true)).toBe(false);
  });
});
