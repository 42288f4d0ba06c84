/**
 * Key material for JWTs, built once. A KeyObject made up front is what makes verification
 * cheap: handed a plain string, jsonwebtoken parses it as PEM and then as a secret on every
 * call (about 50 times slower).
 */
import { createPrivateKey, createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';

/** The algorithms Lectern accepts. One is pinned per deployment; tokens must use exactly it. */
export type JwtAlgorithm = 'HS256' | 'RS256' | 'ES256';
export const JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['HS256', 'RS256', 'ES256'];

export interface PinnedKey {
  key: KeyObject;
  algorithm: JwtAlgorithm;
}

/** A configuration mistake, found at start. The message says what to set. */
export class AuthConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AuthConfigError';
  }
}

function checkAlgorithmOption(algorithm: unknown): JwtAlgorithm | undefined {
  if (algorithm === undefined) return undefined;
  if (!JWT_ALGORITHMS.includes(algorithm as JwtAlgorithm)) {
    throw new AuthConfigError(`algorithm must be one of ${JWT_ALGORITHMS.join(', ')}, not ${String(algorithm)}`);
  }
  return algorithm as JwtAlgorithm;
}

function secretKey(secret: string, algorithm: JwtAlgorithm | undefined): PinnedKey {
  if (algorithm !== undefined && algorithm !== 'HS256') {
    throw new AuthConfigError(`a secret signs HS256 only; ${algorithm} needs a key pair`);
  }
  if (secret.length === 0) throw new AuthConfigError('the JWT secret is empty: set it to a long random string');
  return { key: createSecretKey(Buffer.from(secret, 'utf8')), algorithm: 'HS256' };
}

/** RS256 for an RSA key, ES256 for a P-256 key; `algorithm`, when given, must agree. */
function asymmetricAlgorithm(key: KeyObject, algorithm: JwtAlgorithm | undefined, role: string): JwtAlgorithm {
  if (algorithm === 'HS256') throw new AuthConfigError(`HS256 needs a secret, not a ${role}`);
  const type = key.asymmetricKeyType;
  let detected: JwtAlgorithm;
  if (type === 'rsa') {
    detected = 'RS256';
  } else if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve !== 'prime256v1') {
      throw new AuthConfigError(`ES256 needs a P-256 (prime256v1) key; the ${role} is on ${String(curve)}`);
    }
    detected = 'ES256';
  } else {
    throw new AuthConfigError(`the ${role} is a ${String(type)} key; use an RSA key (RS256) or a P-256 key (ES256)`);
  }
  if (algorithm !== undefined && algorithm !== detected) {
    throw new AuthConfigError(`algorithm ${algorithm} does not fit the ${role}, which is a ${String(type)} key (${detected})`);
  }
  return detected;
}

/** Exactly one of `secret` or `key` (PEM), for verifying (`public`) or signing (`private`). */
export function pinKey(
  secret: string | undefined,
  pem: string | undefined,
  algorithmOption: unknown,
  kind: 'public' | 'private',
): PinnedKey {
  const role = kind === 'public' ? 'publicKey' : 'privateKey';
  if ((secret === undefined) === (pem === undefined)) {
    throw new AuthConfigError(`set exactly one of secret (HS256) or ${role} (RS256/ES256)`);
  }
  const algorithm = checkAlgorithmOption(algorithmOption);
  if (secret !== undefined) return secretKey(secret, algorithm);
  let key: KeyObject;
  try {
    key = kind === 'public' ? createPublicKey(pem!) : createPrivateKey(pem!);
  } catch (err) {
    throw new AuthConfigError(`${role} is not a PEM ${kind} key: ${(err as Error).message}`, { cause: err });
  }
  return { key, algorithm: asymmetricAlgorithm(key, algorithm, role) };
}
