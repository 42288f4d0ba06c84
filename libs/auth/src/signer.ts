/** Token signing, for `lectern token`, development sign-in links, and tests. */
import jwt from 'jsonwebtoken';
import { isLecternError, LecternError, type Role } from '@lectern/protocol';
import { principalFromClaims } from './claims.js';
import { pinKey, type JwtAlgorithm } from './keys.js';

export interface SignerOptions {
  /** HS256 shared secret. Exactly one of `secret` and `privateKey`. */
  secret?: string;
  /** RS256 or ES256 private key, PEM. */
  privateKey?: string;
  /** HS256 for a secret; RS256 or ES256 for a key (found from the key when unset). */
  algorithm?: JwtAlgorithm;
  issuer?: string;
  audience?: string;
}

export interface TokenClaims {
  sub: string;
  name?: string;
  role?: Role;
  rooms?: string[];
}

export interface SignOptions {
  /** Lifetime in seconds; no `exp` when unset. */
  expiresInSec?: number;
  /** Seconds from now before the token is valid (`nbf`); none when unset. */
  notBeforeSec?: number;
  /** The signing time (ms since epoch), for `iat`; defaults to `Date.now()`. */
  nowMs?: number;
}

export interface Signer {
  readonly algorithm: JwtAlgorithm;
  /** Signs a token; throws `LecternError('bad_request')` for claims a verifier would refuse. */
  sign(claims: TokenClaims, options?: SignOptions): string;
}

/** Builds a signer; the key is made once. Configuration mistakes throw `AuthConfigError`. */
export function createSigner(options: SignerOptions): Signer {
  const { key, algorithm } = pinKey(options.secret, options.privateKey, options.algorithm, 'private');
  return {
    algorithm,
    sign(claims: TokenClaims, signOptions: SignOptions = {}): string {
      const payload: Record<string, unknown> = { sub: claims.sub };
      if (claims.name !== undefined) payload.name = claims.name;
      if (claims.role !== undefined) payload.role = claims.role;
      if (claims.rooms !== undefined) payload.rooms = claims.rooms;
      // Refuse to mint a token that no verifier would accept.
      try {
        principalFromClaims(payload);
      } catch (err) {
        if (isLecternError(err)) throw new LecternError('bad_request', `cannot sign: ${err.message}`, { cause: err });
        throw err;
      }
      const iat = Math.floor((signOptions.nowMs ?? Date.now()) / 1000);
      payload.iat = iat;
      if (signOptions.notBeforeSec !== undefined) payload.nbf = iat + signOptions.notBeforeSec;
      if (signOptions.expiresInSec !== undefined) payload.exp = iat + signOptions.expiresInSec;
      if (options.issuer !== undefined) payload.iss = options.issuer;
      if (options.audience !== undefined) payload.aud = options.audience;
      return jwt.sign(payload, key, { algorithm });
    },
  };
}
