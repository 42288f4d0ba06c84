/**
 * Black-box test context: starts the real all-in-one Lectern in this process on a free port,
 * against either backend pair (real Postgres + NATS, or PGlite + the in-process bus), and
 * talks to it with a plain WebSocket client speaking PROTOCOL.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import WebSocket from 'ws';
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

  static async connect(url: string, tokenValue: string | undefined, options: { headers?: Record<string, string>; query?: boolean } = {}): Promise<TestClient> {
    const target = tokenValue !== undefined && options.query !== false ? `${url}?token=${tokenValue}` : url;
    const headers = { ...options.headers };
    if (tokenValue !== undefined && options.query === false) headers.authorization = `Bearer ${tokenValue}`;
    const ws = new WebSocket(target, { headers });
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
}
