import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { connect } from 'node:net';

/**
 * `--spawn-server`: start the server under test as its own process group, wait until it
 * answers, and stop it by its pid at the end.
 */
export interface SpawnedServer {
  pid: number;
  /** SIGTERM to the group, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function healthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export async function spawnServer(
  command: string,
  options: {
    port: number;
    env: NodeJS.ProcessEnv;
    readyTimeoutMs: number;
    log?: (line: string) => void;
    /** Called as soon as the process exists, before it is ready: lets a caller stop it if interrupted meanwhile. */
    onSpawn?: (server: SpawnedServer) => void;
  },
): Promise<SpawnedServer> {
  const child: ChildProcess = spawn('sh', ['-c', command], {
    env: options.env,
    // Its own process group, so the shell and whatever it started stop together.
    detached: true,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start the server: ${command}`);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));

  const stop = async (graceMs = 5000) => {
    if (exited) return;
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-pid, name);
      } catch {
        // already gone
      }
    };
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), graceMs);
    await exit;
    clearTimeout(timer);
  };

  options.onSpawn?.({ pid, stop });
  const deadline = Date.now() + options.readyTimeoutMs;
  let useHealthz = true;
  for (;;) {
    if (exited) throw new Error(`the server exited before it was ready: ${command}`);
    if (useHealthz ? await healthy(options.port) : await accepting(options.port)) break;
    // A server without /healthz still counts as ready once its port accepts and answers 404.
    if (useHealthz && (await accepting(options.port))) useHealthz = false;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the server did not answer on port ${options.port} within ${options.readyTimeoutMs} ms`);
    }
    await sleep(100);
  }
  options.log?.(`server started (pid ${pid}) and answering on port ${options.port}`);
  return { pid, stop };
}
