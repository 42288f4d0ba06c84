/**
 * Helpers for the durability tests: the real `lectern` CLI as a child process (to kill -9 or
 * SIGTERM it), a free port, and reading a room's log from outside the server (Postgres with
 * `pg`, PGlite by opening its data directory once the process that held it is gone).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createPgliteEventStore } from '@lectern/event-store';
import { createTestSchema, NATS_URL, uniqueSubjectPrefix } from '@lectern/test-support';
import { SECRET, type Backend } from './context.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const CLI_MAIN = join(REPO_ROOT, 'services/cli/dist/main.js');

/** Builds the CLI when its output is missing (the root `npm test` builds first). */
export function ensureCliBuilt(): void {
  if (existsSync(CLI_MAIN)) return;
  const result = spawnSync('npx', ['tsc', '-b'], { cwd: REPO_ROOT, stdio: 'inherit' });
  if (result.status !== 0 || !existsSync(CLI_MAIN)) throw new Error(`building the CLI failed (exit ${String(result.status)}): run \`npx tsc -b\``);
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Where a process keeps its data, so a second process can start on the same: a PGlite
 * directory, or a Postgres schema plus a bus subject prefix.
 */
export interface DataHome {
  backend: Backend;
  env: Record<string, string>;
  /** Postgres schema (services backend). */
  schema?: string;
  /** The `pg` connection string that selects the schema (services backend). */
  databaseUrl?: string;
  /** LECTERN_DATA_DIR (embedded backend). */
  dataDir?: string;
  drop(): Promise<void>;
}

export async function createDataHome(backend: Backend): Promise<DataHome> {
  if (backend === 'services') {
    const schema = await createTestSchema('dur');
    await precreateMigrationTables(schema.url, schema.schema);
    return {
      backend,
      env: { DATABASE_URL: schema.url, NATS_URL, LECTERN_SUBJECT_PREFIX: uniqueSubjectPrefix() },
      schema: schema.schema,
      databaseUrl: schema.url,
      drop: schema.drop,
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'lectern-dur-'));
  return {
    backend,
    env: { LECTERN_DATA_DIR: dir },
    dataDir: dir,
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Works around a race in the event store's migrations (reported, not ours to fix here):
 * Kysely's migrator looks for its bookkeeping tables in *every* schema, so while another test
 * file's schema has them, a fresh schema's migration skips creating its own and then fails
 * with `relation "event_store_migration_lock" does not exist`. Creating them up front (as
 * Kysely would) makes our schemas independent of the others.
 */
async function precreateMigrationTables(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`create table if not exists "${schema}".event_store_migration (name varchar(255) not null primary key, timestamp varchar(255) not null)`);
    await client.query(`create table if not exists "${schema}".event_store_migration_lock (id varchar(255) not null primary key, is_locked integer not null default 0)`);
  } finally {
    await client.end();
  }
}

export interface LogRow {
  seq: number;
  type: string;
  data: Record<string, any>;
  frame: string;
}

/** A room's log read straight from Postgres with `pg`, oldest first. */
export async function readRoomWithPg(home: DataHome, room: string): Promise<LogRow[]> {
  const client = new pg.Client({ connectionString: home.databaseUrl });
  await client.connect();
  try {
    const result = await client.query<LogRow>(
      `select seq, type, data, frame from "${home.schema}".room_events where room_id = $1 order by seq`,
      [room],
    );
    return result.rows.map((row) => ({ ...row, seq: Number(row.seq) }));
  } finally {
    await client.end();
  }
}

/** Runs SQL on the data home's schema (services backend only). */
export async function execSql(home: DataHome, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: home.databaseUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/**
 * A room's log read from outside any server: with `pg` for Postgres, or by opening the PGlite
 * directory (only once no process holds it).
 */
export async function readRoomOffline(home: DataHome, room: string): Promise<LogRow[]> {
  if (home.backend === 'services') return readRoomWithPg(home, room);
  const store = createPgliteEventStore({ dataDir: resolve(home.dataDir!, 'pglite') });
  try {
    const rows: LogRow[] = [];
    for (;;) {
      const page = await store.readRoom(room, rows.length === 0 ? 0 : rows[rows.length - 1]!.seq, 1000);
      for (const event of page) rows.push({ seq: event.seq, type: event.type, data: event.data as Record<string, any>, frame: event.frame });
      if (page.length < 1000) return rows;
    }
  } finally {
    await store.close();
  }
}

/** The `lectern start` CLI as a child process. */
export class CliProcess {
  readonly output: string[] = [];
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    this.exited = new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolveExit(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  /** Starts `node services/cli/dist/main.js start` and waits until `/readyz` answers 200. */
  static async start(home: DataHome, extraEnv: Record<string, string> = {}, timeoutMs = 30_000): Promise<CliProcess> {
    const port = await freePort();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      PORT: String(port),
      HOST: '127.0.0.1',
      JWT_SECRET: SECRET,
      LOG_LEVEL: process.env.LECTERN_TEST_LOG_LEVEL ?? 'warn',
      ...home.env,
      ...extraEnv,
    };
    const child = spawn(process.execPath, [CLI_MAIN, 'start'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const cli = new CliProcess(child, port);
    live.add(cli);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!cli.running) throw new Error(`lectern exited before it was ready (${JSON.stringify(cli.exitInfo)}):\n${cli.output.join('')}`);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (response.status === 200) return cli;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await cli.kill('SIGKILL');
        throw new Error(`lectern was not ready within ${timeoutMs} ms:\n${cli.output.join('')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Resolves with the exit once the process is gone; rejects after `timeoutMs`. */
  async exit(timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`lectern (pid ${this.pid}) did not exit within ${timeoutMs} ms:\n${this.output.join('')}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
      live.delete(this);
    }
  }

  /** Sends `signal` to this child (by its pid) and waits for it to exit. */
  async kill(signal: NodeJS.Signals, timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) process.kill(this.pid, signal);
    return this.exit(timeoutMs);
  }
}

const live = new Set<CliProcess>();

/** For afterAll: SIGKILLs every child started and not yet gone, by pid. */
export async function killAllChildren(): Promise<void> {
  await Promise.all(
    [...live].map(async (cli) => {
      if (cli.running) process.kill(cli.pid, 'SIGKILL');
      await cli.exit(10_000).catch(() => undefined);
    }),
  );
}
