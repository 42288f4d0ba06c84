/**
 * Black-box test context: starts the real all-in-one Lectern in this process on a free port,
 * against either backend pair (real Postgres + NATS, or PGlite + the in-process bus), and
 * talks to it with a plain WebSocket client speaking PROTOCOL.md.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import WebSocket, { type ClientOptions } from 'ws';
import pino from 'pino';
import { createTestSchema, hasNats, hasPostgres, NATS_URL, uniqueSubjectPrefix } from '@lectern/test-support';
import { loadConfig, startAllInOne, type Running } from '../src/index.js';

export const SECRET = 'test-secret-0123456789abcdef';
export type Backend = 'embedded' | 'services';

export interface TestServer {
  port: number;
  url: string;
  http: string;
  running: Running;
  backend: Backend;
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Backends to run a suite against: always embedded; the real services when reachable (required under CI). */
export async function backends(): Promise<Backend[]> {
  const real = (await hasPostgres()) && (await hasNats());
  return real ? ['embedded', 'services'] : ['embedded'];
}

export async function startServer(backend: Backend, extraEnv: Record<string, string> = {}): Promise<TestServer> {
  const env: Record<string, string> = {
    PORT: '0',
    HOST: '127.0.0.1',
    JWT_SECRET: SECRET,
    LOG_LEVEL: process.env.LECTERN_TEST_LOG_LEVEL ?? 'warn',
    LECTERN_SUBJECT_PREFIX: uniqueSubjectPrefix(),
    ...extraEnv,
  };
  let cleanup = async () => undefined as void;
  if (backend === 'services') {
    if (env.DATABASE_URL === undefined) {
      const schema = await createTestSchema('e2e');
      env.DATABASE_URL = schema.url;
      cleanup = schema.drop;
    }
    env.NATS_URL ??= NATS_URL;
  } else if (env.LECTERN_DATA_DIR === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'lectern-e2e-'));
    await seedPglite(join(dir, 'pglite'));
    env.LECTERN_DATA_DIR = dir;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  }
  const config = loadConfig(env, 'start');
  const running = await startAllInOne(config, pino({ level: env.LOG_LEVEL }));
  const port = running.gateway!.port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/ws`,
    http: `http://127.0.0.1:${port}`,
    running,
    backend,
    env,
    async stop() {
      await running.stop();
      await cleanup();
    },
  };
}

// --- a PGlite template ------------------------------------------------------------------------
// A fresh PGlite data directory costs ~15 s of initdb (WebAssembly); a copy of one that was
// initialised once opens in ~2 s. The template is a bare initialised cluster (no migrations:
// `startAllInOne` runs those), shared by every test process through the temp directory and
// keyed by the PGlite version, so it can never be stale.

let templateReady: Promise<string> | undefined;

function pgliteVersion(): string {
  try {
    // The package's exports hide package.json: walk up from its entry point.
    let dir = dirname(createRequire(join(process.cwd(), 'libs/event-store/package.json')).resolve('@electric-sql/pglite'));
    for (let i = 0; i < 5; i++, dir = dirname(dir)) {
      const file = join(dir, 'package.json');
      if (!existsSync(file)) continue;
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
      if (pkg.name === '@electric-sql/pglite') return pkg.version;
    }
  } catch {
    // fall through
  }
  return 'unknown';
}

async function buildTemplate(): Promise<string> {
  const template = join(tmpdir(), `lectern-pglite-template-${pgliteVersion()}`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  const lock = `${template}.lock`;
  for (let waited = 0; waited < 120_000; waited += 250) {
    try {
      mkdirSync(lock);
    } catch {
      // Another process is building it; a lock older than two minutes is from a dead one.
      if (existsSync(join(template, 'PG_VERSION'))) return template;
      if (Date.now() - statSync(lock, { throwIfNoEntry: false })!.mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 250));
      continue;
    }
    try {
      if (existsSync(join(template, 'PG_VERSION'))) return template;
      const building = mkdtempSync(join(tmpdir(), 'lectern-pglite-building-'));
      const { PGlite } = await import('@electric-sql/pglite');
      const pglite = new PGlite(building);
      await pglite.query('select 1');
      await pglite.close();
      rmSync(template, { recursive: true, force: true });
      renameSync(building, template);
      return template;
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  throw new Error(`timed out waiting for the PGlite template at ${template}`);
}

/** Fills `dir` with an initialised PGlite cluster (falls back to an empty dir, i.e. initdb on open). */
async function seedPglite(dir: string): Promise<void> {
  try {
    templateReady ??= buildTemplate();
    cpSync(await templateReady, dir, { recursive: true });
  } catch (err) {
    templateReady = undefined;
    rmSync(dir, { recursive: true, force: true });
    console.warn(`[context] no PGlite template (${String(err)}): starting from an empty data directory`);
  }
}

function b64url(value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** HS256 token signed by hand (no dependency on our auth lib: this is a black-box test). */
export function token(claims: Record<string, unknown>, options: { secret?: string; header?: Record<string, unknown> } = {}): string {
  const header = options.header ?? { alg: 'HS256', typ: 'JWT' };
  const now = Math.floor(Date.now() / 1000);
  const body = { iat: now, exp: now + 3600, rooms: ['*'], ...claims };
  const data = `${b64url(header)}.${b64url(body)}`;
  const signature = createHmac('sha256', options.secret ?? SECRET).update(data).digest('base64url');
  return `${data}.${signature}`;
}

export type Frame = Record<string, any>;

/** A plain WebSocket client that records every frame and lets tests wait for the ones they expect. */
export class TestClient {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  closeReason = '';
  private waiters: { match: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  private closeWaiters: ((code: number) => void)[] = [];
  private nextId = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      const frame = JSON.parse(isBinary ? data.toString() : data.toString()) as Frame;
      this.frames.push(frame);
      this.waiters = this.waiters.filter((w) => {
        if (!w.match(frame)) return true;
        w.resolve(frame);
        return false;
      });
    });
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      for (const w of this.closeWaiters) w(code);
    });
  }

  static async connect(
    url: string,
    tokenValue: string | undefined,
    options: { headers?: Record<string, string>; query?: boolean; ws?: ClientOptions } = {},
  ): Promise<TestClient> {
    const target = tokenValue !== undefined && options.query !== false ? `${url}?token=${tokenValue}` : url;
    const headers = { ...options.headers };
    if (tokenValue !== undefined && options.query === false) headers.authorization = `Bearer ${tokenValue}`;
    const ws = new WebSocket(target, { ...options.ws, headers });
    const client = new TestClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    await client.waitFor((f) => f.type === 'welcome');
    return client;
  }

  send(frame: Frame | string): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Sends a request with a fresh id and resolves with the answer carrying that id. */
  request(frame: Frame, timeoutMs = 10_000): Promise<Frame> {
    const id = `r${++this.nextId}`;
    const answer = this.waitFor((f) => f.id === id, timeoutMs);
    this.send({ ...frame, id });
    return answer;
  }

  waitFor(match: (f: Frame) => boolean, timeoutMs = 10_000): Promise<Frame> {
    const seen = this.frames.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a frame; got ${JSON.stringify(this.frames.slice(-5))}`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f);
        },
      });
    });
  }

  /** Room events of `room` received so far, by seq (presence_diff included). */
  events(room: string): Frame[] {
    return this.frames.filter((f) => f.room === room && typeof f.seq === 'number' && f.type !== 'joined' && f.type !== 'ack');
  }

  closed(timeoutMs = 10_000): Promise<number> {
    if (this.closeCode !== undefined) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs);
      this.closeWaiters.push((code) => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  }

  close(): void {
    this.ws.close(1000);
  }

  /** Closes and waits until the server has seen it go (the close handshake completed). */
  async closeAndWait(): Promise<void> {
    if (this.closeCode !== undefined) return;
    this.ws.close(1000);
    await this.closed();
  }

  /** Direct answers and errors (frames with an `id`) received so far. */
  answers(): Frame[] {
    return this.frames.filter((f) => f.id !== undefined);
  }
}

/** What a plain HTTP upgrade request to `/ws` got: 101, or a refusal with its status, headers and body. */
export interface UpgradeResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: any;
}

/** Sends a WebSocket upgrade request by hand and reports the answer without keeping any socket. */
export function upgrade(server: TestServer, options: { token?: string; query?: string; headers?: Record<string, string> } = {}): Promise<UpgradeResult> {
  const path = options.query !== undefined ? `/ws?${options.query}` : options.token !== undefined ? `/ws?token=${options.token}` : '/ws';
  return new Promise((resolve, reject) => {
    const req = httpRequest({
      host: '127.0.0.1',
      port: server.port,
      path,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': Buffer.from('0123456789abcdef').toString('base64'),
        ...options.headers,
      },
    });
    req.setTimeout(10_000, () => req.destroy(new Error('upgrade request timed out')));
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', json: undefined });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

let roomCounter = 0;
/** A room id no other test (or earlier run against the same database) uses. */
export function uniqueRoom(prefix = 'room'): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${++roomCounter}`;
}

/** Asserts-free check that events of one room arrive in seq order without gaps (presence_diff spans fromSeq..seq). */
export function continuityProblems(events: Frame[], startAfter?: number): string[] {
  const problems: string[] = [];
  let last = startAfter;
  for (const event of events) {
    const first = event.type === 'presence_diff' ? (event.fromSeq ?? event.seq) : event.seq;
    if (last !== undefined && first !== last + 1) problems.push(`after seq ${last} came ${event.type} ${first}..${event.seq}`);
    last = event.seq;
  }
  return problems;
}
