import { describe, expect, it } from 'vitest';
import { FrameRing } from './frame-ring.js';

describe('FrameRing', () => {
  it('returns a contiguous range it holds', () => {
    const ring = new FrameRing(4);
    for (let s = 1; s <= 6; s++) ring.push(s, `f${s}`);
    expect(ring.oldest).toBe(3);
    expect(ring.range(2, 6)).toEqual(['f3', 'f4', 'f5', 'f6']);
    expect(ring.range(4, 5)).toEqual(['f5']);
    expect(ring.range(6, 6)).toEqual([]);
  });
  it('refuses a range that starts before what it holds or ends past the head', () => {
    const ring = new FrameRing(4);
    for (let s = 1; s <= 6; s++) ring.push(s, `f${s}`);
    expect(ring.range(1, 6)).toBeUndefined();
    expect(ring.range(5, 7)).toBeUndefined();
  });
  it('resets on a gap instead of serving a hole', () => {
    const ring = new FrameRing(4);
    ring.push(1, 'a');
    ring.push(3, 'c');
    expect(ring.range(0, 3)).toBeUndefined();
    expect(ring.range(2, 3)).toEqual(['c']);
  });
});
