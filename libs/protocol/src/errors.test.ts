import { describe, expect, it } from 'vitest';
import { CLOSE_CODES, shouldReconnect } from './close-codes.js';
import { ERROR_CODES, isErrorCode, isLecternError, LecternError } from './errors.js';

describe('error codes', () => {
  it('holds every code PROTOCOL.md lists', () => {
    for (const code of [
      'bad_request',
      'unknown_type',
      'too_large',
      'unauthorized',
      'forbidden',
      'forbidden_origin',
      'not_joined',
      'room_closed',
      'rate_limited',
      'too_many_rooms',
      'unavailable',
      'not_found',
      'method_not_allowed',
      'internal',
    ]) {
      expect(isErrorCode(code)).toBe(true);
    }
  });

  it('maps codes to the HTTP statuses of PROTOCOL.md §8', () => {
    expect(ERROR_CODES.bad_request.status).toBe(400);
    expect(ERROR_CODES.unauthorized.status).toBe(401);
    expect(ERROR_CODES.forbidden.status).toBe(403);
    expect(ERROR_CODES.not_found.status).toBe(404);
    expect(ERROR_CODES.method_not_allowed.status).toBe(405);
    expect(ERROR_CODES.too_large.status).toBe(413);
    expect(ERROR_CODES.rate_limited.status).toBe(429);
    expect(ERROR_CODES.unavailable.status).toBe(503);
  });

  it('marks only transient codes as worth a retry', () => {
    const retryable = Object.entries(ERROR_CODES)
      .filter(([, info]) => info.retry)
      .map(([code]) => code)
      .sort();
    expect(retryable).toEqual(['internal', 'rate_limited', 'unavailable']);
  });

  it('isErrorCode refuses non-codes, including Object.prototype names', () => {
    for (const value of ['toString', '__proto__', 'constructor', 'hasOwnProperty', 'BAD_REQUEST', '', 1, null, undefined, {}]) {
      expect(isErrorCode(value)).toBe(false);
    }
  });
});

describe('LecternError', () => {
  it('carries code, message, cause and retryAfterMs', () => {
    const cause = new Error('connection refused');
    const err = new LecternError('unavailable', 'event log is down: retry later', { cause, retryAfterMs: 500 });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('LecternError');
    expect(err.code).toBe('unavailable');
    expect(err.message).toBe('event log is down: retry later');
    expect(err.cause).toBe(cause);
    expect(err.retryAfterMs).toBe(500);
  });

  it('has no cause or retryAfterMs unless given', () => {
    const err = new LecternError('forbidden', 'instructors only');
    expect('cause' in err).toBe(false);
    expect(err.retryAfterMs).toBeUndefined();
  });

  it('is recognised by isLecternError, by code when asked', () => {
    const err = new LecternError('not_joined', 'join the room first');
    expect(isLecternError(err)).toBe(true);
    expect(isLecternError(err, 'not_joined')).toBe(true);
    expect(isLecternError(err, 'forbidden')).toBe(false);
    expect(isLecternError(new Error('not_joined'))).toBe(false);
    expect(isLecternError({ code: 'not_joined', message: 'x' })).toBe(false);
    expect(isLecternError(undefined)).toBe(false);
  });
});

describe('close codes', () => {
  it('uses the numbers of PROTOCOL.md §6', () => {
    expect(CLOSE_CODES).toEqual({
      normal: 1000,
      going_away: 1001,
      policy_violation: 1008,
      too_large: 1009,
      internal: 1011,
      token_expired: 4001,
      too_slow: 4008,
      rate_limited: 4029,
    });
  });

  it('tells clients to reconnect on their own only when that can help', () => {
    expect(shouldReconnect(CLOSE_CODES.going_away)).toBe(true);
    expect(shouldReconnect(CLOSE_CODES.internal)).toBe(true);
    expect(shouldReconnect(CLOSE_CODES.too_slow)).toBe(true);
    expect(shouldReconnect(CLOSE_CODES.rate_limited)).toBe(true);
    expect(shouldReconnect(1006)).toBe(true); // abnormal closure: the network dropped
    expect(shouldReconnect(CLOSE_CODES.normal)).toBe(false);
    expect(shouldReconnect(CLOSE_CODES.token_expired)).toBe(false);
    expect(shouldReconnect(CLOSE_CODES.policy_violation)).toBe(false);
    expect(shouldReconnect(CLOSE_CODES.too_large)).toBe(false);
  });
});
