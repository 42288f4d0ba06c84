import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HS256 JWTs with nothing but node:crypto, so the harness depends on none of our libraries
 * (it must measure them, not share their bugs).
 */

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

export interface BenchClaims {
  sub: string;
  name?: string;
  role?: string;
  rooms?: string[];
  iat?: number;
  exp?: number;
  [claim: string]: unknown;
}

export function signHs256(claims: BenchClaims, secret: string): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const signature = createHmac('sha256', secret).update(`${HEADER}.${payload}`).digest('base64url');
  return `${HEADER}.${payload}.${signature}`;
}

/** Returns the claims when the signature is valid, the algorithm is HS256 and `exp` has not passed. */
export function verifyHs256(token: string, secret: string, nowSeconds = Date.now() / 1000): BenchClaims | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const [header, payload, signature] = parts as [string, string, string];
  try {
    const decodedHeader = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown };
    if (decodedHeader.alg !== 'HS256') return undefined;
    const expected = createHmac('sha256', secret).update(`${header}.${payload}`).digest();
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as BenchClaims;
    if (typeof claims.sub !== 'string' || claims.sub.length === 0) return undefined;
    if (typeof claims.exp === 'number' && claims.exp <= nowSeconds) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}
