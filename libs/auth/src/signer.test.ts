import { isLecternError } from '@lectern/protocol';
import { describe, expect, it } from 'vitest';
import { createSigner } from './signer.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';

function payloadOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('createSigner', () => {
  it('writes the claims, iat, exp, nbf, iss and aud', () => {
    const signer = createSigner({ secret: SECRET, issuer: 'platform', audience: 'lectern' });
    const token = signer.sign(
      { sub: 'u1', name: 'Alice', role: 'instructor', rooms: ['a', 'b_*'] },
      { expiresInSec: 600, notBeforeSec: 10, nowMs: 1_700_000_000_500 },
    );
    expect(payloadOf(token)).toEqual({
      sub: 'u1',
      name: 'Alice',
      role: 'instructor',
      rooms: ['a', 'b_*'],
      iat: 1_700_000_000,
      nbf: 1_700_000_010,
      exp: 1_700_000_600,
      iss: 'platform',
      aud: 'lectern',
    });
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString('utf8'))).toMatchObject({ alg: 'HS256' });
  });

  it('is deterministic for HS256 given the time', () => {
    const signer = createSigner({ secret: SECRET });
    expect(signer.sign({ sub: 'u1' }, { nowMs: 5000 })).toBe(signer.sign({ sub: 'u1' }, { nowMs: 5000 }));
  });

  it('refuses to sign claims that no verifier would accept', () => {
    const signer = createSigner({ secret: SECRET });
    for (const claims of [{ sub: '' }, { sub: 'u', name: 'n'.repeat(101) }, { sub: 'u', rooms: ['a.b'] }]) {
      let thrown: unknown;
      try {
        signer.sign(claims);
      } catch (err) {
        thrown = err;
      }
      expect(isLecternError(thrown, 'bad_request')).toBe(true);
      expect((thrown as Error).message).toMatch(/^cannot sign: /);
    }
  });

  it('needs exactly one of secret and privateKey', () => {
    expect(() => createSigner({})).toThrow('set exactly one of secret (HS256) or privateKey (RS256/ES256)');
  });
});
