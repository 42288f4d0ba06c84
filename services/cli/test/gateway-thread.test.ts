/**
 * `lectern gateway` runs the gateway on a worker thread with heap limits of its own
 * (src/gateway-thread.ts). Black-box: the process keeps behaving as one process — a bad
 * configuration exits 78 with its message, SIGTERM stops it gracefully with 0 — and the
 * limits are in force (the gateway's own /metrics report its thread's heap).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createSigner } from '@lectern/auth';
import { hasNats, NATS_URL, uniqueSubjectPrefix } from '@lectern/test-support';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLI_MAIN, ensureCliBuilt, freePort, REPO_ROOT } from './processes.js';

const available = await hasNats();
const SECRET = 'gateway-thread-test-secret';
const children = new Set<ChildProcess>();

function gateway(env: Record<string, string>): { child: ChildProcess; output: string[]; exited: Promise<[number | null, string | null]> } {
  ensureCliBuilt();
  const child = spawn(process.execPath, [CLI_MAIN, 'gateway'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', JWT_SECRET: SECRET, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const output: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  void exited.then(() => children.delete(child));
  return { child, output, exited };
}

afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
});

describe('lectern gateway on its thread', () => {
  it('exits 78 with the message when the configuration is bad', async () => {
    const { exited, output } = gateway({});
    const [code] = await exited;
    expect(code).toBe(78);
    expect(output.join('')).toContain('lectern: NATS_URL is not set');
  });

  it.runIf(available)('serves with its heap limits in force, and stops gracefully on SIGTERM with sockets open', async () => {
    const port = await freePort();
    const { child, exited, output } = gateway({ NATS_URL, PORT: String(port), HOST: '127.0.0.1', LECTERN_SUBJECT_PREFIX: uniqueSubjectPrefix() });
    let metrics = '';
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      if (child.exitCode !== null) throw new Error(`gateway exited: ${output.join('')}`);
      try {
        const response = await fetch(`http://127.0.0.1:${port}/metrics`);
        if (response.status === 200) {
          metrics = await response.text();
          break;
        }
      } catch {
        // not listening yet
      }
    }
    const gauge = (name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, '\\$&')} (\\S+)$`, 'm').exec(metrics)?.[1]);
    // 12 MiB young generation = two 4 MiB semi-spaces (node's default grows them to 16 MiB).
    expect(gauge('lectern_nodejs_heap_space_size_total_bytes{space="new"}')).toBeLessThanOrEqual(8 * 1024 * 1024);
    expect(gauge('lectern_nodejs_heap_size_total_bytes')).toBeGreaterThan(0);
    // A WebSocket and an idle keep-alive HTTP connection (the fetch above) are open at SIGTERM:
    // the thread must close them all, or node aborts when the thread's event loop closes.
    const token = createSigner({ secret: SECRET }).sign({ sub: 'ada' });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?token=${token}`);
    const welcome = await new Promise<{ type: string }>((resolve, reject) => {
      ws.once('message', (data: Buffer) => resolve(JSON.parse(data.toString()) as { type: string }));
      ws.once('error', reject);
    });
    expect(welcome.type).toBe('welcome');
    const wsClosed = once(ws, 'close') as Promise<[number, Buffer]>;
    process.kill(child.pid!, 'SIGTERM');
    const [closeCode] = await wsClosed;
    expect(closeCode).toBe(1001);
    const [code, signal] = await exited;
    expect({ code, signal, output: code === 0 ? '' : output.join('') }).toEqual({ code: 0, signal: null, output: '' });
  });
});
