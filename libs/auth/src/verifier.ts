/**
 * JWT verification for the upgrade and for `refresh_token`. The algorithm is pinned by
 * configuration and checked before anything else, so neither `alg: none` nor the HS256/RS256
 * key-confusion attack reaches a signature check.
 */
import jwt from 'jsonwebtoken';
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

/** The `alg` of the token's header, or undefined when the header is not a JSON object. */
function headerAlgorithm(token: string): unknown {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  return isRecord(header) ? header.alg : undefined;
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
  // jsonwebtoken checks the signature only; the time and identity claims are checked below,
  // with our clock and our messages.
  const libraryOptions = { algorithms: [algorithm], ignoreExpiration: true, ignoreNotBefore: true };

  return {
    algorithm,
    verify(token: string, nowMs: number = Date.now()): Principal {
      if (typeof token !== 'string' || token.length === 0) throw unauthorized('token missing');
      if (token.length > DEFAULT_VERIFIER_OPTIONS.maxTokenChars) throw unauthorized('token too long');
      const alg = headerAlgorithm(token);
      if (alg === undefined) throw unauthorized('token malformed');
      if (alg !== algorithm) throw unauthorized('algorithm not allowed');

      let claims: unknown;
      try {
        claims = jwt.verify(token, key, libraryOptions);
      } catch (err) {
        const message = (err as Error).message;
        throw unauthorized(message === 'jwt malformed' || message === 'invalid token' ? 'token malformed' : 'invalid signature', err);
      }
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
