/**
 * `lectern start` as a child process on a port chosen by the test, so it can be killed and
 * started again on the same port and data: an SDK client keeps one URL and must find the new
 * process there by itself. (`CliProcess` in services/cli/test/processes.ts picks a fresh port
 * on every start, which suits raw-socket tests but not a client that reconnects on its own.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { SECRET } from '../../../services/cli/test/context.js';
import { CLI_MAIN, REPO_ROOT, type DataHome } from '../../../services/cli/test/processes.js';

type Exit = { code: number | null; signal: NodeJS.Signals | null };

const live = new Set<ServerOnPort>();

export class ServerOnPort {
  readonly output: string[] = [];
  private exitInfo: Exit | undefined;
  private readonly exited: Promise<Exit>;

  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        live.delete(this);
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.exitInfo === undefined;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get http(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts `node services/cli/dist/main.js start` on `port` with `home`'s data; resolves once `/readyz` is 200. */
  static async start(home: DataHome, port: number, extraEnv: Record<string, string> = {}, timeoutMs = 45_000): Promise<ServerOnPort> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      HOST: '127.0.0.1',
      JWT_SECRET: SECRET,
      LOG_LEVEL: process.env.LECTERN_TEST_LOG_LEVEL ?? 'warn',
      ...home.env,
      ...extraEnv,
      PORT: String(port),
    };
    const child = spawn(process.execPath, [CLI_MAIN, 'start'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const server = new ServerOnPort(child, port);
    live.add(server);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!server.running) throw new Error(`lectern exited before it was ready (${JSON.stringify(server.exitInfo)}):\n${server.output.join('')}`);
      try {
        const response = await fetch(`${server.http}/readyz`);
        if (response.status === 200) return server;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await server.kill('SIGKILL');
        throw new Error(`lectern was not ready within ${timeoutMs} ms:\n${server.output.join('')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends `signal` to this child, by its pid, and waits until it is gone. */
  async kill(signal: NodeJS.Signals, timeoutMs = 20_000): Promise<Exit> {
    if (this.running) process.kill(this.pid, signal);
    return this.exit(timeoutMs);
  }

  /** Resolves once the process is gone (killed elsewhere, e.g. by pid from a socket handler). */
  async exit(timeoutMs = 20_000): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`lectern (pid ${this.pid}) did not exit within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** For afterAll: SIGKILLs every child started here and not yet gone, by pid. */
export async function killAllServers(): Promise<void> {
  await Promise.all([...live].map((server) => server.kill('SIGKILL', 10_000).catch(() => undefined)));
}
