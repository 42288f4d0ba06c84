import { describe, expect, it } from 'vitest';
import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('allows a burst, then refuses with the wait until the next token', () => {
    const bucket = new TokenBucket(20, 40, 0);
    for (let i = 0; i < 40; i++) expect(bucket.take(0)).toBe(0);
    expect(bucket.take(0)).toBe(50);
  });
  it('refills at the rate, never above the burst', () => {
    const bucket = new TokenBucket(20, 40, 0);
    for (let i = 0; i < 40; i++) bucket.take(0);
    expect(bucket.take(50)).toBe(0);
    expect(bucket.take(50)).toBeGreaterThan(0);
    const later = new TokenBucket(20, 40, 0);
    let allowed = 0;
    while (later.take(1_000_000) === 0) allowed++;
    expect(allowed).toBe(40);
  });
  it('holds 20/s over a long run', () => {
    const bucket = new TokenBucket(20, 40, 0);
    let allowed = 0;
    for (let t = 0; t <= 10_000; t += 5) if (bucket.take(t) === 0) allowed++;
    expect(allowed).toBeGreaterThanOrEqual(239);
    expect(allowed).toBeLessThanOrEqual(241);
  });
});
