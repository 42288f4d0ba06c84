import { describe, expect, it } from 'vitest';
import { applyServiceV8Flags } from './v8-flags.js';

describe('applyServiceV8Flags', () => {
  it('turns allocation-site pretenuring off by default', () => {
    expect(applyServiceV8Flags([])).toBe(true);
  });

  it("leaves V8's setting alone when the command line names it", () => {
    expect(applyServiceV8Flags(['--allocation-site-pretenuring'])).toBe(false);
    expect(applyServiceV8Flags(['--no-allocation-site-pretenuring'])).toBe(false);
  });
});
