/**
 * Browser-test harness: the real `lectern start` as a child process (so it can be killed and
 * restarted on the same port and data directory), and Debian's Chromium driven by
 * playwright-core. Without Chromium the tests skip and say so, except under
 * LECTERN_REQUIRE_SERVICES=1 (CI), where a missing browser is a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CLI = join(REPO, 'services/cli/dist/main.js');
const WEB_DIST = join(REPO, 'services/web/dist/index.html');

/** Why the browser tests cannot run here, or undefined when they can. Throws when they must run. */
export function browserSkipReason(): string | undefined {
  const missing = !existsSync(CHROMIUM)
    ? `Chromium not found at ${CHROMIUM} (apt-get install -y chromium)`
    : !existsSync(CLI) || !existsSync(WEB_DIST)
      ? 'the build is missing (services/cli/dist, services/web/dist): run `npm run build` first'
      : undefined;
  if (missing === undefined) return undefined;
  if (process.env.LECTERN_REQUIRE_SERVICES === '1') throw new Error(`browser tests are required (LECTERN_REQUIRE_SERVICES=1) but ${missing}`);
  console.warn(`SKIPPING browser tests: ${missing}`);
  return missing;
}

export function launchChromium(): Promise<Browser> {
  // playwright-core gives each launch a fresh temporary profile (its --user-data-dir).
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `lectern start` in a child process, on a fixed port and data directory that survive restarts. */
export class LecternProcess {
  private child: ChildProcess | undefined;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'lectern-web-'));
  output = '';
  private constructor(readonly port: number) {}

  static async start(): Promise<LecternProcess> {
    const server = new LecternProcess(await freePort());
    await server.start();
    return server;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
    // No key configured and not production: the server makes a development secret and /dev/token is on.
    for (const key of ['JWT_SECRET', 'JWT_PUBLIC_KEY', 'DATABASE_URL', 'NATS_URL', 'NODE_ENV']) delete env[key];
    Object.assign(env, { PORT: String(this.port), HOST: '127.0.0.1', LECTERN_DATA_DIR: this.dataDir, LOG_LEVEL: process.env.LECTERN_TEST_LOG_LEVEL ?? 'warn', LECTERN_RATE_PER_SECOND: '200', LECTERN_RATE_BURST: '400' });
    const child = spawn(process.execPath, [CLI, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`lectern start exited with ${child.exitCode}:\n${this.output}`);
      try {
        const response = await fetch(`${this.base}/readyz`);
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`lectern start did not get ready in 90 s:\n${this.output}`);
  }

  /** Stops the process by its pid: SIGKILL for a crash, SIGTERM for a clean shutdown. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    process.kill(child.pid!, signal);
    await exited;
    this.child = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop('SIGTERM');
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  async devToken(name: string, role: string, id?: string): Promise<{ token: string; user: { id: string } }> {
    const response = await fetch(`${this.base}/dev/token`, { method: 'POST', body: JSON.stringify({ name, role, ...(id !== undefined ? { id } : {}) }) });
    if (!response.ok) throw new Error(`dev token: ${response.status}`);
    return (await response.json()) as { token: string; user: { id: string } };
  }

  /** The room's log through the HTTP API, one object per event. */
  async events(room: string): Promise<Record<string, any>[]> {
    const { token } = await this.devToken('Auditor', 'instructor');
    const response = await fetch(`${this.base}/v1/rooms/${room}/events?after=0&limit=10000`, { headers: { authorization: `Bearer ${token}` } });
    if (!response.ok) throw new Error(`events: ${response.status} ${await response.text()}`);
    return (await response.text())
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, any>);
  }
}
