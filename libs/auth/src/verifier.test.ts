import { createHmac, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { isLecternError } from '@lectern/protocol';
import { describe, expect, it } from 'vitest';
import { AuthConfigError } from './keys.js';
import { createSigner } from './signer.js';
import { createVerifier, type Verifier } from './verifier.js';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const NOW = Date.UTC(2025, 0, 15, 12, 0, 0);
const NOW_SEC = NOW / 1000;

const rsa = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});
const ec = generateKeyPairSync('ec', {
  namedCurve: 'prime256v1',
  publicKeyEncoding: { type: 'spki', format: 'pem' },
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
});

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** A token made by hand, signed with `signature(signingInput)`. */
function craft(header: object, payload: object, signature: (input: string) => string): string {
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  return `${input}.${signature(input)}`;
}

const hmac = (secret: string | Buffer) => (input: string) => createHmac('sha256', secret).update(input).digest('base64url');

/** The thrown error's message, after checking it is `unauthorized`. */
function rejection(verifier: Verifier, token: string, nowMs = NOW): string {
  try {
    verifier.verify(token, nowMs);
  } catch (err) {
    expect(isLecternError(err, 'unauthorized')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('expected the token to be refused');
}

describe('HS256', () => {
  const verifier = createVerifier({ secret: SECRET });
  const signer = createSigner({ secret: SECRET });

  it('verifies a token and maps its claims to a principal', () => {
    const token = signer.sign(
      { sub: 'u1', name: 'Alice', role: 'instructor', rooms: ['physics', 'session_*'] },
      { expiresInSec: 3600, nowMs: NOW },
    );
    const principal = verifier.verify(token, NOW);
    expect(verifier.algorithm).toBe('HS256');
    expect(principal.user).toEqual({ id: 'u1', name: 'Alice', role: 'instructor' });
    expect(principal.expiresAt).toBe(NOW + 3600 * 1000);
    expect(principal.rooms.allows('physics')).toBe(true);
    expect(principal.rooms.allows('session_9')).toBe(true);
    expect(principal.rooms.allows('chemistry')).toBe(false);
  });

  it('defaults name to sub, role to learner, and rooms to none', () => {
    const principal = verifier.verify(signer.sign({ sub: 'u2' }, { nowMs: NOW }), NOW);
    expect(principal.user).toEqual({ id: 'u2', name: 'u2', role: 'learner' });
    expect(principal.rooms.allows('anything')).toBe(false);
    expect(principal.expiresAt).toBeUndefined();
  });

  it('treats an empty name as absent', () => {
    const token = craft({ alg: 'HS256', typ: 'JWT' }, { sub: 'u3', name: '' }, hmac(SECRET));
    expect(verifier.verify(token, NOW).user.name).toBe('u3');
  });

  it('refuses a token signed with another secret', () => {
    const other = createSigner({ secret: 'another-secret-entirely-another-secret' }).sign({ sub: 'u1' });
    expect(rejection(verifier, other)).toBe('invalid signature');
  });

  it('refuses a token whose payload was changed after signing', () => {
    const [header, , signature] = signer.sign({ sub: 'u1', role: 'learner' }).split('.');
    const forged = `${header}.${base64url(JSON.stringify({ sub: 'u1', role: 'service' }))}.${signature}`;
    expect(rejection(verifier, forged)).toBe('invalid signature');
  });

  it('refuses a token without a signature', () => {
    const [header, payload] = signer.sign({ sub: 'u1' }).split('.');
    expect(rejection(verifier, `${header}.${payload}.`)).toBe('invalid signature');
  });

  it('compares the MAC as text, as jsonwebtoken did: another spelling of the same bytes is refused', () => {
    const token = signer.sign({ sub: 'u1' });
    // 32 bytes are 43 base64url characters; the last one carries 2 unused bits.
    const last = token.at(-1)!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const sameBytes = alphabet[alphabet.indexOf(last) ^ 1]!;
    expect(Buffer.from(token.slice(-2, -1) + sameBytes, 'base64url')).toEqual(Buffer.from(token.slice(-2), 'base64url'));
    expect(rejection(verifier, token.slice(0, -1) + sameBytes)).toBe('invalid signature');
  });

  it('reports a typ JWT token whose payload is not JSON as a bad signature, as jsonwebtoken did', () => {
    const input = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url('not json')}`;
    expect(rejection(verifier, `${input}.${hmac(SECRET)(input)}`)).toBe('invalid signature');
  });
});

describe('RS256 and ES256', () => {
  it('verifies RS256 with a public key, found from the key', () => {
    const verifier = createVerifier({ publicKey: rsa.publicKey });
    expect(verifier.algorithm).toBe('RS256');
    const token = createSigner({ privateKey: rsa.privateKey }).sign({ sub: 'u1', rooms: ['*'] }, { nowMs: NOW });
    const principal = verifier.verify(token, NOW);
    expect(principal.user.id).toBe('u1');
    expect(principal.rooms.allows('any-room')).toBe(true);
  });

  it('refuses an ES256 signature that is not the 64-byte r||s of JWS (a DER one, say)', () => {
    const verifier = createVerifier({ publicKey: ec.publicKey });
    const der = craft({ alg: 'ES256' }, { sub: 'u1' }, (input) => cryptoSign('sha256', Buffer.from(input), ec.privateKey).toString('base64url'));
    expect(rejection(verifier, der)).toBe('invalid signature');
  });

  it('verifies ES256, detected from a P-256 key', () => {
    const verifier = createVerifier({ publicKey: ec.publicKey });
    expect(verifier.algorithm).toBe('ES256');
    const signer = createSigner({ privateKey: ec.privateKey });
    expect(signer.algorithm).toBe('ES256');
    expect(verifier.verify(signer.sign({ sub: 'u1', role: 'moderator' }), NOW).user.role).toBe('moderator');
  });

  it('refuses a token signed by another key pair', () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1', privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const token = createSigner({ privateKey: other.privateKey }).sign({ sub: 'u1' });
    expect(rejection(createVerifier({ publicKey: ec.publicKey }), token)).toBe('invalid signature');
  });

  it('refuses an ES256 token at an RS256 verifier', () => {
    const token = createSigner({ privateKey: ec.privateKey }).sign({ sub: 'u1' });
    expect(rejection(createVerifier({ publicKey: rsa.publicKey }), token)).toBe('algorithm not allowed');
  });
});

describe('algorithm attacks', () => {
  it.each([
    ['none', 'none'],
    ['None', 'None'],
    ['NONE', 'NONE'],
  ])('refuses alg: %s, signed or not', (_, alg) => {
    const payload = { sub: 'admin', role: 'service', rooms: ['*'] };
    for (const verifier of [createVerifier({ secret: SECRET }), createVerifier({ publicKey: rsa.publicKey })]) {
      expect(rejection(verifier, craft({ alg, typ: 'JWT' }, payload, () => ''))).toBe('algorithm not allowed');
      expect(rejection(verifier, craft({ alg, typ: 'JWT' }, payload, () => 'c2lnbmF0dXJl'))).toBe('algorithm not allowed');
    }
  });

  it('refuses an HS256 token signed with the RS256 public key (key confusion)', () => {
    // The classic attack: the public key is public, so an attacker uses its PEM text as an
    // HMAC secret and hopes the verifier lets the token pick HS256.
    const verifier = createVerifier({ publicKey: rsa.publicKey });
    const token = craft({ alg: 'HS256', typ: 'JWT' }, { sub: 'admin', role: 'service', rooms: ['*'] }, hmac(rsa.publicKey));
    expect(rejection(verifier, token)).toBe('algorithm not allowed');
  });

  it('refuses algorithms other than the pinned one, even ones jsonwebtoken supports', () => {
    const verifier = createVerifier({ secret: SECRET });
    for (const alg of ['HS384', 'HS512', 'RS256']) {
      expect(rejection(verifier, craft({ alg }, { sub: 'u1' }, hmac(SECRET)))).toBe('algorithm not allowed');
    }
  });

  it('refuses an RS256 verifier token signed with RS512', () => {
    const token = craft({ alg: 'RS512' }, { sub: 'u1' }, (input) =>
      cryptoSign('sha512', Buffer.from(input), rsa.privateKey).toString('base64url'),
    );
    expect(rejection(createVerifier({ publicKey: rsa.publicKey }), token)).toBe('algorithm not allowed');
  });
});

describe('time claims', () => {
  const verifier = createVerifier({ secret: SECRET });
  const signer = createSigner({ secret: SECRET });

  it('refuses an expired token, from the second of exp on', () => {
    const token = signer.sign({ sub: 'u1' }, { expiresInSec: 60, nowMs: NOW });
    expect(verifier.verify(token, NOW + 59_999).user.id).toBe('u1');
    expect(rejection(verifier, token, NOW + 60_000)).toBe('token expired');
  });

  it('refuses a token whose nbf is in the future', () => {
    const token = signer.sign({ sub: 'u1' }, { notBeforeSec: 30, nowMs: NOW });
    expect(rejection(verifier, token, NOW)).toBe('token not yet valid');
    expect(verifier.verify(token, NOW + 30_000).user.id).toBe('u1');
  });

  it('allows the configured clock tolerance on both', () => {
    const tolerant = createVerifier({ secret: SECRET, clockToleranceSec: 5 });
    const expired = signer.sign({ sub: 'u1' }, { expiresInSec: 60, nowMs: NOW });
    expect(tolerant.verify(expired, NOW + 64_000).user.id).toBe('u1');
    expect(rejection(tolerant, expired, NOW + 65_000)).toBe('token expired');
    const early = signer.sign({ sub: 'u1' }, { notBeforeSec: 5, nowMs: NOW });
    expect(tolerant.verify(early, NOW).user.id).toBe('u1');
  });

  it('refuses exp and nbf that are not numbers', () => {
    expect(rejection(verifier, craft({ alg: 'HS256' }, { sub: 'u1', exp: String(NOW_SEC + 60) }, hmac(SECRET)))).toBe(
      'exp claim must be a number',
    );
    expect(rejection(verifier, craft({ alg: 'HS256' }, { sub: 'u1', nbf: 'soon' }, hmac(SECRET)))).toBe(
      'nbf claim must be a number',
    );
  });

  it('uses the current time when none is given', () => {
    const fresh = signer.sign({ sub: 'u1' }, { expiresInSec: 60 });
    expect(verifier.verify(fresh).user.id).toBe('u1');
    const stale = signer.sign({ sub: 'u1' }, { expiresInSec: 60, nowMs: Date.now() - 120_000 });
    expect(() => verifier.verify(stale)).toThrow('token expired');
  });
});

describe('issuer and audience', () => {
  const verifier = createVerifier({ secret: SECRET, issuer: 'https://platform.example', audience: 'lectern' });

  it('accepts the configured iss and aud, aud also inside an array', () => {
    const signer = createSigner({ secret: SECRET, issuer: 'https://platform.example', audience: 'lectern' });
    expect(verifier.verify(signer.sign({ sub: 'u1' }), NOW).user.id).toBe('u1');
    const token = craft({ alg: 'HS256' }, { sub: 'u1', iss: 'https://platform.example', aud: ['other', 'lectern'] }, hmac(SECRET));
    expect(verifier.verify(token, NOW).user.id).toBe('u1');
  });

  it('refuses a wrong or missing iss', () => {
    expect(rejection(verifier, craft({ alg: 'HS256' }, { sub: 'u1', iss: 'https://evil.example', aud: 'lectern' }, hmac(SECRET)))).toBe(
      'issuer mismatch',
    );
    expect(rejection(verifier, craft({ alg: 'HS256' }, { sub: 'u1', aud: 'lectern' }, hmac(SECRET)))).toBe('issuer mismatch');
  });

  it('refuses a wrong or missing aud', () => {
    const iss = 'https://platform.example';
    expect(rejection(verifier, craft({ alg: 'HS256' }, { sub: 'u1', iss, aud: 'other' }, hmac(SECRET)))).toBe('audience mismatch');
    expect(rejection(verifier, craft({ alg: 'HS256' }, { sub: 'u1', iss, aud: ['a', 'b'] }, hmac(SECRET)))).toBe('audience mismatch');
    expect(rejection(verifier, craft({ alg: 'HS256' }, { sub: 'u1', iss }, hmac(SECRET)))).toBe('audience mismatch');
  });

  it('ignores iss and aud when not configured', () => {
    const open = createVerifier({ secret: SECRET });
    expect(open.verify(craft({ alg: 'HS256' }, { sub: 'u1', iss: 'x', aud: 'y' }, hmac(SECRET)), NOW).user.id).toBe('u1');
  });
});

describe('identity claims', () => {
  const verifier = createVerifier({ secret: SECRET });
  const token = (payload: object) => craft({ alg: 'HS256', typ: 'JWT' }, payload, hmac(SECRET));

  it.each([
    ['missing', {}],
    ['empty', { sub: '' }],
    ['a number', { sub: 42 }],
    ['129 characters', { sub: 'x'.repeat(129) }],
  ])('refuses a sub that is %s', (_, payload) => {
    expect(rejection(verifier, token(payload))).toBe('sub claim missing or invalid (1-128 chars)');
  });

  it('accepts a sub of 128 characters, counted in code points', () => {
    expect(verifier.verify(token({ sub: '🎓'.repeat(128) }), NOW).user.id).toBe('🎓'.repeat(128));
  });

  it('accepts a name of 100 characters and refuses 101', () => {
    expect(verifier.verify(token({ sub: 'u', name: 'n'.repeat(100) }), NOW).user.name).toBe('n'.repeat(100));
    expect(verifier.verify(token({ sub: 'u', name: 'é'.repeat(100) }), NOW).user.name).toBe('é'.repeat(100));
    expect(rejection(verifier, token({ sub: 'u', name: 'n'.repeat(101) }))).toBe('name claim must be a string of at most 100 chars');
    expect(rejection(verifier, token({ sub: 'u', name: 7 }))).toBe('name claim must be a string of at most 100 chars');
  });

  it('refuses ids and names the event log could not store', () => {
    expect(rejection(verifier, token({ sub: 'u\u0000' }))).toBe('sub and name claims must not contain NUL or unpaired surrogate characters');
    expect(rejection(verifier, token({ sub: 'u', name: '\ud800' }))).toBe(
      'sub and name claims must not contain NUL or unpaired surrogate characters',
    );
  });

  it.each(['admin', 'Instructor', '', null, 1])('refuses role %j', (role) => {
    expect(rejection(verifier, token({ sub: 'u', role }))).toBe('role claim must be one of learner, instructor, moderator, service');
  });

  it.each(['learner', 'instructor', 'moderator', 'service'])('accepts role %s', (role) => {
    expect(verifier.verify(token({ sub: 'u', role }), NOW).user.role).toBe(role);
  });

  it('refuses a malformed rooms claim', () => {
    expect(rejection(verifier, token({ sub: 'u', rooms: 'session_*' }))).toBe(
      'rooms claim must be an array of room ids or prefixes ending in "*"',
    );
  });

  it('refuses a payload that is not a JSON object', () => {
    const input = `${base64url(JSON.stringify({ alg: 'HS256' }))}.${base64url('"just a string"')}`;
    expect(rejection(verifier, `${input}.${hmac(SECRET)(input)}`)).toBe('token payload must be a JSON object');
  });
});

describe('malformed tokens', () => {
  const verifier = createVerifier({ secret: SECRET });

  it.each([
    ['empty', '', 'token missing'],
    ['one segment', 'abc', 'token malformed'],
    ['a header that is not JSON', 'bm90IGpzb24.e30.sig', 'token malformed'],
    ['a header that is an array', `${base64url('["HS256"]')}.e30.sig`, 'token malformed'],
    ['a header without alg', `${base64url('{}')}.e30.sig`, 'token malformed'],
    ['two segments', `${base64url('{"alg":"HS256"}')}.e30`, 'token malformed'],
    ['a payload that is not JSON', `${base64url('{"alg":"HS256"}')}.!!!.sig`, 'token malformed'],
    ['too long', `${base64url('{"alg":"HS256"}')}.${'a'.repeat(9000)}.sig`, 'token too long'],
  ])('refuses a token that is %s', (_, token, message) => {
    expect(rejection(verifier, token)).toBe(message);
  });

  it('refuses a token that is not a string', () => {
    expect(rejection(verifier, undefined as unknown as string)).toBe('token missing');
  });
});

describe('configuration', () => {
  it.each([
    ['neither secret nor key', {}, 'set exactly one of secret (HS256) or publicKey (RS256/ES256)'],
    ['both', { secret: SECRET, publicKey: rsa.publicKey }, 'set exactly one of secret (HS256) or publicKey (RS256/ES256)'],
    ['an empty secret', { secret: '' }, 'the JWT secret is empty: set it to a long random string'],
    ['RS256 with a secret', { secret: SECRET, algorithm: 'RS256' as const }, 'a secret signs HS256 only; RS256 needs a key pair'],
    ['HS256 with a key', { publicKey: rsa.publicKey, algorithm: 'HS256' as const }, 'HS256 needs a secret, not a publicKey'],
    [
      'ES256 with an RSA key',
      { publicKey: rsa.publicKey, algorithm: 'ES256' as const },
      'algorithm ES256 does not fit the publicKey, which is a rsa key (RS256)',
    ],
    ['an unknown algorithm', { secret: SECRET, algorithm: 'none' as 'HS256' }, 'algorithm must be one of HS256, RS256, ES256, not none'],
  ])('refuses %s', (_, options, message) => {
    expect(() => createVerifier(options)).toThrow(new AuthConfigError(message));
  });

  it('refuses a key that is not PEM', () => {
    expect(() => createVerifier({ publicKey: 'not a key' })).toThrow(/^publicKey is not a PEM public key/);
  });

  it('refuses an EC key on a curve other than P-256', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    expect(() => createVerifier({ publicKey: p384.publicKey })).toThrow('ES256 needs a P-256 (prime256v1) key; the publicKey is on secp384r1');
  });

  it('accepts an explicit algorithm that fits the key', () => {
    expect(createVerifier({ publicKey: ec.publicKey, algorithm: 'ES256' }).algorithm).toBe('ES256');
    expect(createVerifier({ publicKey: rsa.publicKey, algorithm: 'RS256' }).algorithm).toBe('RS256');
    expect(createVerifier({ secret: SECRET, algorithm: 'HS256' }).algorithm).toBe('HS256');
  });
});
