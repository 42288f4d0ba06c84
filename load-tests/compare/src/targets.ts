import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnServer, type ClientProtocol, type SpawnedServer } from '@lectern/load-tests';

/**
 * The four servers the comparison runs, each started fresh for every run and stopped by pid:
 * Lectern all-in-one (PGlite + in-process bus), Lectern on NATS + Postgres (its own
 * nats-server, its own database), the Socket.IO 4 reference and the bare uWS reference.
 */

export type TargetName = 'lectern' | 'lectern-nats-pg' | 'socketio' | 'uws';
export const TARGETS: readonly TargetName[] = ['lectern', 'lectern-nats-pg', 'socketio', 'uws'];

export const TARGET_LABELS: Record<TargetName, string> = {
  lectern: 'Lectern all-in-one (PGlite, in-process bus)',
  'lectern-nats-pg': 'Lectern on NATS + Postgres',
  socketio: 'Socket.IO 4 (no persistence)',
  uws: 'bare uWebSockets.js (no persistence)',
};

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const cli = join(repoRoot, 'services/cli/dist/main.js');

export interface StartOptions {
  secret: string;
  port: number;
  /** Gateways (Lectern on NATS + Postgres only): more than one means `lectern rooms` + N × `lectern gateway`. */
  gateways?: number;
  /** `lectern rooms` + `lectern gateway` even for one gateway, so the gateway's memory is its own. */
  distributed?: boolean;
  /** `node --cpu-prof` into this directory (Lectern only). */
  cpuProfileDir?: string;
  /** More environment for Lectern (over LECTERN_BENCH_ENV). */
  lecternEnv?: Record<string, string>;
  log?: (line: string) => void;
}

export interface RunningTarget {
  urls: string[];
  protocol: ClientProtocol;
  /** Every process of the server: node processes, and for NATS + Postgres the nats-server and our Postgres backends. */
  pids(): number[];
  /** The processes that hold the sockets (what "gateway memory per connection" is read from). */
  gatewayPids(): number[];
  stop(): Promise<void>;
}

/** Settings that make the servers comparable: the same send budget per socket, no request limit in the way. */
export const LECTERN_BENCH_ENV: Record<string, string> = {
  LOG_LEVEL: 'warn',
  NODE_ENV: 'production',
  LECTERN_RATE_PER_SECOND: '1000',
  LECTERN_RATE_BURST: '2000',
  LECTERN_MAX_CONNECTIONS: '100000',
  // The uWS reference lets 16 MiB queue per socket; Lectern closes a socket at half its buffer.
  LECTERN_SEND_BUFFER_BYTES: String(32 * 1024 * 1024),
  LECTERN_PRESENCE_THRESHOLD: '500',
};

/** Every server process group started and not yet stopped: an interrupt stops them all, even mid-start. */
const started = new Set<SpawnedServer>();

/** Starts a server whose stop is registered from the moment its process exists. */
async function track(command: string, options: Parameters<typeof spawnServer>[1]): Promise<SpawnedServer> {
  let spawned: SpawnedServer | undefined;
  const server = await spawnServer(command, { ...options, onSpawn: (s) => started.add((spawned = s)) }).catch((error: unknown) => {
    if (spawned) started.delete(spawned);
    throw error;
  });
  const registered = spawned ?? server;
  return {
    pid: server.pid,
    stop: async (graceMs?: number) => {
      await server.stop(graceMs);
      started.delete(registered);
    },
  };
}

/** Stops whatever is still running (Ctrl-C, a hard timeout). */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...started].map((server) => server.stop()));
  started.clear();
}

const node = (profileDir?: string) => (profileDir ? `exec node --cpu-prof --cpu-prof-dir=${profileDir}` : 'exec node');

/** The shared backends of `lectern-nats-pg`: one nats-server of our own, one database of our own. */
export class NatsPostgres {
  private nats?: SpawnedServer;
  readonly natsPort: number;
  readonly database: string;
  readonly databaseUrl: string;

  constructor(options: { natsPort: number; database: string; postgres?: string }) {
    this.natsPort = options.natsPort;
    this.database = options.database;
    const base = options.postgres ?? 'postgres://postgres@127.0.0.1:5432';
    this.databaseUrl = `${base}/${options.database}`;
  }

  async start(log?: (line: string) => void): Promise<void> {
    const psql = (sql: string) =>
      execFileSync('psql', ['-h', '127.0.0.1', '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-q', '-c', sql], { stdio: 'pipe' });
    psql(`drop database if exists ${this.database} with (force)`);
    psql(`create database ${this.database}`);
    execFileSync('node', [cli, 'migrate'], { env: { ...process.env, DATABASE_URL: this.databaseUrl, LOG_LEVEL: 'warn' }, stdio: 'pipe' });
    this.nats = await track(`exec nats-server -a 127.0.0.1 -p ${this.natsPort}`, {
      port: this.natsPort,
      env: process.env,
      readyTimeoutMs: 10_000,
      ...(log ? { log } : {}),
    });
    log?.(`nats-server pid ${this.nats.pid} on ${this.natsPort}; database ${this.database} migrated`);
  }

  /** nats-server, our database's backends, and the Postgres processes that write its WAL. */
  pids(): number[] {
    return [...(this.nats ? [this.nats.pid] : []), ...postgresPids(this.database)];
  }

  async stop(): Promise<void> {
    await this.nats?.stop();
  }
}

/**
 * Backends connected to `database` (their title is `postgres: USER DATABASE HOST(PORT) …`) and
 * the shared writers whose work our inserts cause (walwriter, checkpointer, background writer).
 * Other databases' backends are left out: other people's tests run on this Postgres.
 */
export function postgresPids(database: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let title: string;
    try {
      title = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    } catch {
      continue;
    }
    if (!title.startsWith('postgres: ')) continue;
    // `postgres: [CLUSTER: ]USER DATABASE HOST(PORT) STATE` (Debian puts `15/main:` first).
    const words = title.split(/\s+/).slice(1);
    if (words[0]?.endsWith(':')) words.shift();
    const ours = words[1] === database;
    const writer = /postgres: (?:\S+: )?(walwriter|checkpointer|background writer)/.test(title);
    if (ours || writer) pids.push(Number(entry));
  }
  return pids;
}

export async function startTarget(name: TargetName, options: StartOptions, backends?: NatsPostgres): Promise<RunningTarget> {
  const log = options.log;
  const env = (extra: Record<string, string>) => ({ ...process.env, JWT_SECRET: options.secret, ...extra, ...options.lecternEnv });
  const spawn = (command: string, port: number, extra: Record<string, string>) =>
    track(command, { port, env: env({ PORT: String(port), ...extra }), readyTimeoutMs: 90_000, ...(log ? { log } : {}) });
  const url = (port: number) => `ws://127.0.0.1:${port}/ws`;

  switch (name) {
    case 'uws': {
      const server = await spawn(`exec node ${join(repoRoot, 'load-tests/dist/reference/uws-server.js')}`, options.port, {});
      return single(server, url(options.port), 'lectern');
    }
    case 'socketio': {
      const server = await spawn(`exec node ${join(repoRoot, 'load-tests/compare/dist/socketio-server.js')}`, options.port, {});
      return single(server, url(options.port), 'socketio');
    }
    case 'lectern': {
      const dataDir = mkdtempSync(join(tmpdir(), 'lectern-compare-'));
      const server = await spawn(`${node(options.cpuProfileDir)} ${cli} start`, options.port, { ...LECTERN_BENCH_ENV, LECTERN_DATA_DIR: dataDir });
      const running = single(server, url(options.port), 'lectern');
      return { ...running, stop: async () => (await running.stop(), rmSync(dataDir, { recursive: true, force: true })) };
    }
    case 'lectern-nats-pg': {
      if (!backends) throw new Error('lectern-nats-pg needs its NATS + Postgres backends started');
      const backendEnv = {
        ...LECTERN_BENCH_ENV,
        DATABASE_URL: backends.databaseUrl,
        NATS_URL: `nats://127.0.0.1:${backends.natsPort}`,
        // A prefix per run: a stopped run's rooms never answer the next one's commands.
        LECTERN_SUBJECT_PREFIX: `cmp${Date.now().toString(36)}`,
      };
      const gateways = options.gateways ?? 1;
      const servers: SpawnedServer[] = [];
      const gatewayServers: SpawnedServer[] = [];
      try {
        if (gateways === 1 && !options.distributed) {
          const server = await spawn(`${node(options.cpuProfileDir)} ${cli} start`, options.port, backendEnv);
          servers.push(server);
          gatewayServers.push(server);
        } else {
          // `lectern rooms` has no WebSocket port: it is ready once it answers commands, which
          // the gateways' /readyz cannot tell; its metrics port answers /healthz meanwhile.
          const roomsPort = options.port + gateways;
          servers.push(await spawn(`${node(options.cpuProfileDir)} ${cli} rooms`, roomsPort, { ...backendEnv, LECTERN_METRICS_PORT: String(roomsPort) }));
          for (let g = 0; g < gateways; g++) {
            const server = await spawn(`${node(options.cpuProfileDir)} ${cli} gateway`, options.port + g, backendEnv);
            servers.push(server);
            gatewayServers.push(server);
          }
        }
      } catch (error) {
        for (const server of servers) await server.stop();
        throw error;
      }
      return {
        urls: gatewayServers.map((_, g) => url(options.port + g)),
        protocol: 'lectern',
        pids: () => [...servers.map((s) => s.pid), ...backends.pids()],
        gatewayPids: () => gatewayServers.map((s) => s.pid),
        stop: async () => {
          for (const server of servers) await server.stop();
        },
      };
    }
  }
}

function single(server: SpawnedServer, url: string, protocol: ClientProtocol): RunningTarget {
  return { urls: [url], protocol, pids: () => [server.pid], gatewayPids: () => [server.pid], stop: () => server.stop() };
}
