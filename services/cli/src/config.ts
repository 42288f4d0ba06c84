/**
 * Every setting of a Lectern process, read from the environment in this one place, validated
 * and frozen. A bad value stops the process with a message naming the variable and what it
 * accepts. `.env.example` lists them all with their defaults.
 */
import { DEFAULT_GATEWAY_OPTIONS, type GatewayOptions } from '@lectern/gateway';
import { DEFAULT_ROOMS_OPTIONS, type RoomsOptions } from '@lectern/rooms';
import { DEFAULT_LIMITS } from '@lectern/protocol';
import { readFileSync } from 'node:fs';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export interface JwtConfig {
  secret?: string;
  publicKey?: string;
  algorithm?: 'HS256' | 'RS256' | 'ES256';
  issuer?: string;
  audience?: string;
  /** True when no key was configured and a random development secret was generated. */
  generated: boolean;
}

export interface Config {
  production: boolean;
  logLevel: string;
  /** Postgres URL; undefined = embedded PGlite in `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  /** NATS servers (comma-separated in NATS_URL); undefined = in-process bus. */
  natsServers: string[] | undefined;
  subjectPrefix: string;
  shardCount: number;
  jwt: JwtConfig;
  shutdownTimeoutMs: number;
  /** `lectern rooms` serves /metrics here (LECTERN_METRICS_PORT); undefined = no listener. */
  metricsPort: number | undefined;
  metricsHost: string;
  gateway: Partial<GatewayOptions>;
  rooms: Partial<RoomsOptions>;
  /**
   * How a rooms process gets its shards (DESIGN.md §6): `locks` shares them with the other
   * rooms processes through Postgres advisory locks (default of `lectern rooms`); `all` serves
   * every shard (default of `lectern start`; never run two `all` processes on one prefix).
   */
  shardOwnership: 'locks' | 'all';
  /** Period of the ownership check: bounds how fast a dead process' shards move. */
  ownershipTickMs: number;
  /** A gateway silent this long is down and its connections time out (DESIGN.md §7). */
  gatewayLeaseMs: number;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name}=${raw} is not a whole number: set it to an integer between ${min} and ${max}, or unset it for the default ${fallback}`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(`${name}=${raw} is out of range: set it between ${min} and ${max}, or unset it for the default ${fallback}`);
  return value;
}

function str(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

function publicKey(env: Env): string | undefined {
  const raw = str(env, 'JWT_PUBLIC_KEY');
  if (raw === undefined) return undefined;
  if (raw.includes('-----BEGIN')) return raw.replace(/\\n/g, '\n');
  try {
    return readFileSync(raw, 'utf8');
  } catch {
    throw new ConfigError(`JWT_PUBLIC_KEY is neither a PEM key nor a readable file (${raw}): set it to the PEM text or its path`);
  }
}

function shardOwnership(env: Env, role: string): 'locks' | 'all' {
  const raw = str(env, 'LECTERN_SHARD_OWNERSHIP');
  if (raw === undefined) return role === 'rooms' ? 'locks' : 'all';
  if (raw !== 'locks' && raw !== 'all') throw new ConfigError(`LECTERN_SHARD_OWNERSHIP=${raw}: set locks (share shards through Postgres advisory locks) or all (serve every shard)`);
  if (raw === 'locks' && str(env, 'DATABASE_URL') === undefined) throw new ConfigError('LECTERN_SHARD_OWNERSHIP=locks needs DATABASE_URL: the shard locks are Postgres advisory locks');
  return raw;
}

export function loadConfig(env: Env = process.env, role: 'start' | 'gateway' | 'rooms' | 'tool' = 'start'): Config {
  const production = env.NODE_ENV === 'production';
  const secret = str(env, 'JWT_SECRET');
  const key = publicKey(env);
  if (secret !== undefined && key !== undefined) throw new ConfigError('JWT_SECRET and JWT_PUBLIC_KEY are both set: set exactly one (HS256 secret, or an RS256/ES256 public key)');
  const algorithmRaw = str(env, 'JWT_ALGORITHM');
  if (algorithmRaw !== undefined && !['HS256', 'RS256', 'ES256'].includes(algorithmRaw)) throw new ConfigError(`JWT_ALGORITHM=${algorithmRaw}: set HS256, RS256 or ES256`);
  const needsKey = role !== 'rooms' && role !== 'tool';
  if (secret === undefined && key === undefined && needsKey && production) {
    throw new ConfigError('JWT_SECRET is not set: set JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256/ES256); NODE_ENV=production refuses to run with a generated development secret');
  }
  if (secret !== undefined && secret.length < 16 && production) throw new ConfigError('JWT_SECRET is shorter than 16 characters: use a long random secret in production');
  const distributed = role === 'gateway' || role === 'rooms';
  const databaseUrl = str(env, 'DATABASE_URL');
  const nats = str(env, 'NATS_URL');
  if (distributed && nats === undefined) throw new ConfigError(`NATS_URL is not set: \`lectern ${role}\` runs as one of several processes and needs NATS (e.g. NATS_URL=nats://127.0.0.1:4222); use \`lectern start\` for the all-in-one`);
  if (role === 'rooms' && databaseUrl === undefined) throw new ConfigError('DATABASE_URL is not set: `lectern rooms` needs Postgres (e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/lectern)');
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError(`DATABASE_URL must start with postgres:// (got ${databaseUrl})`);

  const subjectPrefix = str(env, 'LECTERN_SUBJECT_PREFIX') ?? 'rt';
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subjectPrefix)) throw new ConfigError(`LECTERN_SUBJECT_PREFIX=${subjectPrefix}: use NATS tokens (letters, digits, _ and -) separated by dots`);
  const origins = str(env, 'ALLOWED_ORIGINS');
  const heartbeatMs = int(env, 'LECTERN_HEARTBEAT_MS', DEFAULT_GATEWAY_OPTIONS.heartbeatMs, 4000, 600_000);

  const config: Config = {
    production,
    logLevel: str(env, 'LOG_LEVEL') ?? 'info',
    databaseUrl,
    dataDir: str(env, 'LECTERN_DATA_DIR') ?? './.lectern',
    natsServers: nats?.split(',').map((s) => s.trim()),
    subjectPrefix,
    shardCount: int(env, 'LECTERN_SHARDS', 64, 1, 4096),
    jwt: {
      ...(secret !== undefined ? { secret } : {}),
      ...(key !== undefined ? { publicKey: key } : {}),
      ...(algorithmRaw !== undefined ? { algorithm: algorithmRaw as JwtConfig['algorithm'] } : {}),
      ...(str(env, 'JWT_ISSUER') !== undefined ? { issuer: str(env, 'JWT_ISSUER') } : {}),
      ...(str(env, 'JWT_AUDIENCE') !== undefined ? { audience: str(env, 'JWT_AUDIENCE') } : {}),
      generated: secret === undefined && key === undefined,
    },
    shutdownTimeoutMs: int(env, 'LECTERN_SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    metricsPort: str(env, 'LECTERN_METRICS_PORT') === undefined ? undefined : int(env, 'LECTERN_METRICS_PORT', 0, 0, 65535),
    metricsHost: str(env, 'LECTERN_METRICS_HOST') ?? '127.0.0.1',
    gateway: {
      host: str(env, 'HOST') ?? DEFAULT_GATEWAY_OPTIONS.host,
      port: int(env, 'PORT', 5000, 0, 65535),
      ...(str(env, 'LECTERN_GATEWAY_ID') !== undefined ? { gatewayId: str(env, 'LECTERN_GATEWAY_ID')! } : {}),
      limits: {
        maxFrameBytes: int(env, 'LECTERN_MAX_FRAME_BYTES', DEFAULT_LIMITS.maxFrameBytes, 1024, 16 * 1024 * 1024),
        maxTextChars: int(env, 'LECTERN_MAX_TEXT_CHARS', DEFAULT_LIMITS.maxTextChars, 1, 100_000),
        maxRooms: int(env, 'LECTERN_MAX_ROOMS', DEFAULT_LIMITS.maxRooms, 1, 10_000),
        ratePerSecond: int(env, 'LECTERN_RATE_PER_SECOND', DEFAULT_LIMITS.ratePerSecond, 1, 1_000_000),
        burst: int(env, 'LECTERN_RATE_BURST', DEFAULT_LIMITS.burst, 1, 1_000_000),
      },
      heartbeatMs,
      allowedOrigins: origins === undefined ? [] : origins.split(',').map((o) => o.trim()).filter(Boolean),
      maxConnections: int(env, 'LECTERN_MAX_CONNECTIONS', DEFAULT_GATEWAY_OPTIONS.maxConnections, 1),
      sendBufferLimitBytes: int(env, 'LECTERN_SEND_BUFFER_BYTES', DEFAULT_GATEWAY_OPTIONS.sendBufferLimitBytes, 16 * 1024),
      requestTimeoutMs: int(env, 'LECTERN_REQUEST_TIMEOUT_MS', DEFAULT_GATEWAY_OPTIONS.requestTimeoutMs, 100, 120_000),
      announceMs: int(env, 'LECTERN_GATEWAY_ANNOUNCE_MS', DEFAULT_GATEWAY_OPTIONS.announceMs, 100, 60_000),
      noOwnerRetries: int(env, 'LECTERN_NO_OWNER_RETRIES', DEFAULT_GATEWAY_OPTIONS.noOwnerRetries, 0, 40),
    },
    shardOwnership: shardOwnership(env, role),
    ownershipTickMs: int(env, 'LECTERN_OWNERSHIP_TICK_MS', 1000, 100, 60_000),
    gatewayLeaseMs: int(env, 'LECTERN_GATEWAY_LEASE_MS', 10_000, 1000, 600_000),
    rooms: {
      historySize: int(env, 'LECTERN_HISTORY_SIZE', DEFAULT_ROOMS_OPTIONS.historySize, 0, 10_000),
      dedupeWindowMs: int(env, 'LECTERN_DEDUPE_WINDOW_MS', DEFAULT_ROOMS_OPTIONS.dedupeWindowMs, 0),
      presenceThreshold: int(env, 'LECTERN_PRESENCE_THRESHOLD', DEFAULT_ROOMS_OPTIONS.presenceThreshold, 1),
      presenceIntervalMs: int(env, 'LECTERN_PRESENCE_INTERVAL_MS', DEFAULT_ROOMS_OPTIONS.presenceIntervalMs, 50, 60_000),
      joinedParticipants: int(env, 'LECTERN_JOINED_PARTICIPANTS', DEFAULT_ROOMS_OPTIONS.joinedParticipants, 0, 10_000),
      inspectParticipants: int(env, 'LECTERN_INSPECT_PARTICIPANTS', DEFAULT_ROOMS_OPTIONS.inspectParticipants, 0, 100_000),
      recoveryWindow: int(env, 'LECTERN_RECOVERY_WINDOW', DEFAULT_ROOMS_OPTIONS.recoveryWindow, 0),
      snapshotEvery: int(env, 'LECTERN_SNAPSHOT_EVERY', DEFAULT_ROOMS_OPTIONS.snapshotEvery, 1),
      idleMs: int(env, 'LECTERN_ROOM_IDLE_MS', DEFAULT_ROOMS_OPTIONS.idleMs, 1000),
    },
  };
  return Object.freeze(config);
}
