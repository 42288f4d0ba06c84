import { describe, expect, it } from 'vitest';
import { DedupeWindow } from './dedupe-window.js';

describe('DedupeWindow', () => {
  it('answers within the window and not at its end', () => {
    const window = new DedupeWindow(100);
    window.record({ user: 'u', mid: 'm', seq: 7, ts: 1000 });
    expect(window.find('u', 'm', 1099)).toBe(7);
    expect(window.find('u', 'm', 1100)).toBeUndefined();
    expect(window.find('v', 'm', 1000)).toBeUndefined();
  });

  it('keeps a user id and a mid apart however they are split', () => {
    const window = new DedupeWindow(100);
    window.record({ user: 'ab', mid: 'c', seq: 1, ts: 0 });
    expect(window.find('a', 'bc', 0)).toBeUndefined();
  });

  it('expires from the front only what has left the window', () => {
    const window = new DedupeWindow(100);
    for (let i = 0; i < 10; i++) window.record({ user: 'u', mid: `m${i}`, seq: i + 1, ts: i * 10 });
    window.expire(150);
    expect(window.entries().map((e) => e.mid)).toEqual(['m6', 'm7', 'm8', 'm9']);
    expect(window.size).toBe(4);
  });

  it('keeps a reused key alive when its older entry expires', () => {
    const window = new DedupeWindow(100);
    window.record({ user: 'u', mid: 'm', seq: 1, ts: 0 });
    window.record({ user: 'u', mid: 'm', seq: 2, ts: 150 });
    window.expire(160);
    expect(window.find('u', 'm', 160)).toBe(2);
    expect(window.entries()).toEqual([{ user: 'u', mid: 'm', seq: 2, ts: 150 }]);
  });

  it('stays bounded over a long stream', () => {
    const window = new DedupeWindow(1000);
    for (let t = 0; t < 100_000; t += 10) {
      window.record({ user: 'u', mid: `m${t}`, seq: t, ts: t });
      window.expire(t);
    }
    expect(window.size).toBe(100);
    expect((window as unknown as { queue: unknown[] }).queue.length).toBeLessThanOrEqual(2 * 100 + 64);
  });
});
