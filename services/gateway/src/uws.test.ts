import { describe, expect, it } from 'vitest';
import { isNativeUws } from './uws.js';

describe('uWebSockets.js', () => {
  it('is the native binary, not the JS fallback', () => {
    expect(isNativeUws()).toBe(true);
  });
});
