/**
 * JWT verification for the upgrade and for `refresh_token`. The algorithm is pinned by
 * configuration and checked before anything else, so neither `alg: none` nor the HS256/RS256
 * key-confusion attack reaches a signature check.
 */
import { createHmac, timingSafeEqual, verify as verifySignature, type KeyObject } from 'node:crypto';
import { LecternError } from '@lectern/protocol';
import { principalFromClaims, type Principal } from './claims.js';
import { pinKey, type JwtAlgorithm } from './keys.js';

export interface VerifierOptions {
  /** HS256 shared secret. Exactly one of `secret` and `publicKey`. */
  secret?: string;
  /** RS256 or ES256 public key, PEM. */
  publicKey?: string;
  /** Pins the algorithm: HS256 for a secret; RS256 or ES256 for a key (found from the key when unset). */
  algorithm?: JwtAlgorithm;
  /** When set, tokens must carry exactly this `iss`. */
  issuer?: string;
  /** When set, tokens must carry this `aud` (a string, or an array containing it). */
  audience?: string;
  /** Slack for `exp` and `nbf` against clock skew, in seconds. */
  clockToleranceSec?: number;
}

export const DEFAULT_VERIFIER_OPTIONS = {
  clockToleranceSec: 0,
  /** Longer tokens are refused before any parsing; real ones are well under 2 KiB. */
  maxTokenChars: 8 * 1024,
} as const;

export interface Verifier {
  readonly algorithm: JwtAlgorithm;
  /**
   * Verifies a token and returns who it names. Throws `LecternError('unauthorized')` with a
   * message saying what is wrong: `token missing`, `token too long`, `token malformed`,
   * `algorithm not allowed`, `invalid signature`, `token expired`, `token not yet valid`,
   * `issuer mismatch`, `audience mismatch`, or a claim's own message (see `CLAIM_MESSAGES`).
   *
   * @param nowMs the current time (ms since epoch); defaults to `Date.now()`
   */
  verify(token: string, nowMs?: number): Principal;
}

function unauthorized(message: string, cause?: unknown): LecternError {
  return new LecternError('unauthorized', message, cause === undefined ? {} : { cause });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The token's header when it is a JSON object, else undefined. */
function parseHeader(token: string, dot: number): Record<string, unknown> | undefined {
  if (dot <= 0) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  return isRecord(header) ? header : undefined;
}

/**
 * A compact JWS as `jws` (under jsonwebtoken, which this verifier used before) accepts one:
 * base64url segments, the signature possibly empty. Kept so every token is judged as before.
 */
const COMPACT_JWS = /^[a-zA-Z0-9\-_]+?\.[a-zA-Z0-9\-_]+?\.([a-zA-Z0-9\-_]+)?$/;

/**
 * The payload as jsonwebtoken decoded it: JSON when it parses to an object, else the text; a
 * header with `typ: "JWT"` makes unparsable JSON an error (`jws` parses it eagerly).
 */
function decodePayload(segment: string, header: Record<string, unknown>): unknown {
  const text = Buffer.from(segment, 'base64url').toString('utf8');
  if (header.typ === 'JWT') return JSON.parse(text) as unknown;
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null ? parsed : text;
  } catch {
    return text;
  }
}

/**
 * Checks the signature over `header.payload` with node:crypto directly. jsonwebtoken did the
 * same through three libraries and ~5 KB of garbage per token, at every WebSocket upgrade.
 * HS256 compares the base64url text of the MAC in constant time, as `jwa` did.
 */
function signatureValid(algorithm: JwtAlgorithm, key: KeyObject, signingInput: string, signature: string): boolean {
  if (algorithm === 'HS256') {
    const expected = Buffer.from(createHmac('sha256', key).update(signingInput).digest('base64url'));
    const given = Buffer.from(signature);
    return expected.length === given.length && timingSafeEqual(expected, given);
  }
  try {
    const bytes = Buffer.from(signature, 'base64url');
    // ES256 signatures are the raw 64-byte r||s of JWS, not DER.
    return verifySignature('sha256', Buffer.from(signingInput), algorithm === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key, bytes);
  } catch {
    return false;
  }
}

function audienceMatches(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}

/**
 * Builds a verifier. The key is made once, here; a configuration mistake (no key, both keys,
 * an algorithm that does not fit the key) throws `AuthConfigError` naming what to set.
 */
export function createVerifier(options: VerifierOptions): Verifier {
  const { key, algorithm } = pinKey(options.secret, options.publicKey, options.algorithm, 'public');
  const { issuer, audience } = options;
  const toleranceMs = (options.clockToleranceSec ?? DEFAULT_VERIFIER_OPTIONS.clockToleranceSec) * 1000;
  // The signature is checked here; the time and identity claims below, with our clock and our
  // messages.

  return {
    algorithm,
    verify(token: string, nowMs: number = Date.now()): Principal {
      if (typeof token !== 'string' || token.length === 0) throw unauthorized('token missing');
      if (token.length > DEFAULT_VERIFIER_OPTIONS.maxTokenChars) throw unauthorized('token too long');
      const firstDot = token.indexOf('.');
      const header = parseHeader(token, firstDot);
      if (header === undefined || header.alg === undefined) throw unauthorized('token malformed');
      if (header.alg !== algorithm) throw unauthorized('algorithm not allowed');
      const secondDot = token.indexOf('.', firstDot + 1);
      if (secondDot < 0 || token.includes('.', secondDot + 1) || !COMPACT_JWS.test(token)) throw unauthorized('token malformed');

      let claims: unknown;
      try {
        claims = decodePayload(token.slice(firstDot + 1, secondDot), header);
      } catch (err) {
        // jsonwebtoken let this SyntaxError through, and it was reported as a bad signature.
        throw unauthorized('invalid signature', err);
      }
      if (!signatureValid(algorithm, key, token.slice(0, secondDot), token.slice(secondDot + 1))) throw unauthorized('invalid signature');
      if (!isRecord(claims)) throw unauthorized('token payload must be a JSON object');

      const { exp, nbf } = claims;
      if (exp !== undefined) {
        if (typeof exp !== 'number' || !Number.isFinite(exp)) throw unauthorized('exp claim must be a number');
        if (nowMs >= exp * 1000 + toleranceMs) throw unauthorized('token expired');
      }
      if (nbf !== undefined) {
        if (typeof nbf !== 'number' || !Number.isFinite(nbf)) throw unauthorized('nbf claim must be a number');
        if (nbf * 1000 > nowMs + toleranceMs) throw unauthorized('token not yet valid');
      }
      if (issuer !== undefined && claims.iss !== issuer) throw unauthorized('issuer mismatch');
      if (audience !== undefined && !audienceMatches(claims.aud, audience)) throw unauthorized('audience mismatch');
      return principalFromClaims(claims);
    },
  };
}
