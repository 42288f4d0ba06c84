import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

const fails = (env: Record<string, string>, role: Parameters<typeof loadConfig>[1], pattern: RegExp) => {
  expect(() => loadConfig(env, role)).toThrow(ConfigError);
  expect(() => loadConfig(env, role)).toThrow(pattern);
};

describe('loadConfig', () => {
  it('defaults to the all-in-one: port 5000, PGlite, in-process bus, a generated development secret', () => {
    const config = loadConfig({}, 'start');
    expect(config.gateway.port).toBe(5000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.natsServers).toBeUndefined();
    expect(config.jwt.generated).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('refuses to start in production without a JWT key, and says what to set', () => {
    fails({ NODE_ENV: 'production' }, 'start', /JWT_SECRET is not set: set JWT_SECRET .* or JWT_PUBLIC_KEY/);
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 'a-long-enough-secret-value' }, 'start').jwt.generated).toBe(false);
  });

  it('names the variable and the accepted range for bad numbers', () => {
    fails({ PORT: 'abc' }, 'start', /PORT=abc is not a whole number/);
    fails({ PORT: '70000' }, 'start', /PORT=70000 is out of range: set it between 0 and 65535/);
    fails({ LECTERN_RATE_PER_SECOND: '0' }, 'start', /LECTERN_RATE_PER_SECOND=0 is out of range/);
  });

  it('refuses both a secret and a public key, and unknown algorithms', () => {
    fails({ JWT_SECRET: 'x', JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----' }, 'start', /both set: set exactly one/);
    fails({ JWT_SECRET: 'x', JWT_ALGORITHM: 'none' }, 'start', /JWT_ALGORITHM=none: set HS256, RS256 or ES256/);
  });

  it('requires NATS for the distributed roles, and Postgres for rooms', () => {
    fails({ JWT_SECRET: 'x' }, 'gateway', /NATS_URL is not set/);
    fails({ NATS_URL: 'nats://127.0.0.1:4222' }, 'rooms', /DATABASE_URL is not set/);
    fails({ NATS_URL: 'nats://127.0.0.1:4222', DATABASE_URL: 'mysql://x' }, 'rooms', /DATABASE_URL must start with postgres:\/\//);
    const config = loadConfig({ NATS_URL: 'nats://a:4222, nats://b:4222', DATABASE_URL: 'postgres://x/y' }, 'rooms');
    expect(config.natsServers).toEqual(['nats://a:4222', 'nats://b:4222']);
  });

  it('maps limits and origins onto the gateway options', () => {
    const config = loadConfig({ LECTERN_MAX_ROOMS: '3', ALLOWED_ORIGINS: 'https://a.example, https://b.example' }, 'start');
    expect(config.gateway.limits?.maxRooms).toBe(3);
    expect(config.gateway.allowedOrigins).toEqual(['https://a.example', 'https://b.example']);
    fails({ LECTERN_SUBJECT_PREFIX: 'a.*' }, 'start', /LECTERN_SUBJECT_PREFIX=a\.\*/);
  });
});
