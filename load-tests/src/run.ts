import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { runClientWorker } from './client-worker.js';
import type { ClientProtocol, ConnectionSpec, CoordinatorMessage, RampStats, WorkerMessage, WorkerReport } from './messages.js';
import { processGroupMembers, sample, type ProcessSample } from './proc-stats.js';
import { summarize, type BenchResult } from './report.js';
import { newRunId, planScenario, type ScenarioName, type ScenarioParameters } from './scenarios.js';
import { spawnServer, type SpawnedServer } from './server-process.js';

export interface BenchOptions extends ScenarioParameters {
  scenario: ScenarioName;
  /** WebSocket endpoint; default ws://127.0.0.1:5000/ws. Only loopback hosts are accepted. */
  url?: string;
  /** HS256 secret the server checks tokens with (the server's JWT_SECRET). */
  secret: string;
  /** Measured window; default 20 s (idle: how long the connections are held). */
  durationMs?: number;
  /** Wait after the last send before counting deliveries; default 2 s. */
  drainMs?: number;
  /**
   * Sending before the measured window, at the same rate; default 0 (the CLI's is 5 s). Its
   * messages count for acks, deliveries, order and loss, but their latencies are reported apart:
   * the first seconds after a start measure V8's JIT and heap growing, not the steady state.
   */
  warmupMs?: number;
  /** Client processes; 0 runs the clients inside this process (tests, tiny runs). */
  processes?: number;
  /** Handshakes in flight per client process during the ramp; default 100. */
  connectConcurrency?: number;
  /** Per-connection budget for connect + welcome + joined; default 30 s. */
  joinTimeoutMs?: number;
  /** Everything is killed after this long, whatever state the run is in. */
  hardTimeoutMs?: number;
  /** Server pids whose CPU (and, for idle, memory) is sampled and summed. */
  serverPids?: number[];
  /** Shell command that starts the server; it gets PORT and JWT_SECRET plus `serverEnv`. */
  spawnServer?: string;
  serverEnv?: Record<string, string>;
  /** Several endpoints (gateways of one deployment), used in turn by each process's connections. Overrides `url`. */
  urls?: string[];
  /** `lectern` (default) or `socketio`: the compare/ Socket.IO server, spoken over Engine.IO v4. */
  protocol?: ClientProtocol;
  /** Connections per second over all client processes (presence: connections / joinWindowSeconds). */
  connectRate?: number;
  /** The server's presence threshold, for the presence accounting (default 500, as Lectern's). */
  presenceThreshold?: number;
  /**
   * Server pids read at each sample instead of `serverPids` (processes that come and go, such as
   * Postgres backends). The list read after the ramp is kept for the measured window.
   */
  serverPidProvider?: () => number[];
  /** `auto` (default): another loopback source address per process above 25,000 connections. */
  sourceAddresses?: 'auto' | 'none' | string[];
  /** Where the JSON result goes; default load-tests/results. `false` writes nothing. */
  outDir?: string | false;
  /** Free text stored in the result (what server, which commit, which machine). */
  label?: string;
  log?: (line: string) => void;
}

/** One process holds at most this many sockets: the machine allows 20,000 open files per process. */
export const MAX_CONNECTIONS_PER_PROCESS = 15_000;
/** Above this, one source address runs out of ephemeral ports towards one server port. */
const CONNECTIONS_PER_SOURCE_ADDRESS = 25_000;

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The compiled worker entry, also when this module runs from src/ under vitest. */
function workerEntry(): string {
  const sibling = fileURLToPath(new URL('./worker-main.js', import.meta.url));
  if (existsSync(sibling)) return sibling;
  const built = fileURLToPath(new URL('../dist/worker-main.js', import.meta.url));
  if (existsSync(built)) return built;
  throw new Error('client processes need the compiled worker: run `npx tsc -b load-tests` first (or use processes: 0)');
}

/** Something that runs a share of the clients: a forked process or an in-process worker. */
interface ClientHandle {
  send(message: CoordinatorMessage): void;
  kill(): void;
  exited: Promise<void>;
}

function forkClient(onMessage: (message: WorkerMessage) => void): ClientHandle {
  const child: ChildProcess = fork(workerEntry(), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    serialization: 'advanced',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.on('message', (message) => onMessage(message as WorkerMessage));
  return {
    send: (message) => {
      if (child.connected) child.send(message);
    },
    kill: () => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        process.kill(child.pid, 'SIGKILL');
      }
    },
    exited,
  };
}

function inlineClient(onMessage: (message: WorkerMessage) => void): ClientHandle {
  let deliver: (message: CoordinatorMessage) => void = () => undefined;
  let resolveExit: () => void = () => undefined;
  const exited = new Promise<void>((resolve) => (resolveExit = resolve));
  runClientWorker({
    // Asynchronous both ways, like IPC, so neither side re-enters the other.
    send: (message) => setImmediate(() => onMessage(message)),
    onMessage: (handler) => (deliver = handler),
    exit: () => resolveExit(),
  });
  return {
    send: (message) => setImmediate(() => deliver(message)),
    kill: () => {
      deliver({ type: 'close' });
      resolveExit();
    },
    exited,
  };
}

function checkLoopback(url: string): URL {
  const parsed = new URL(url);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) {
    throw new Error(`the harness only sends traffic to this machine; got ${parsed.hostname} (use ws://127.0.0.1:PORT/ws)`);
  }
  if (parsed.protocol !== 'ws:') throw new Error(`expected a ws:// url, got ${url}`);
  return parsed;
}

class HardTimeout extends Error {
  constructor(ms: number, phase: string) {
    super(`hard timeout: the run took more than ${Math.round(ms / 1000)} s (stuck in ${phase}); everything was stopped`);
  }
}

/**
 * Runs one scenario end to end: plan → (spawn server) → fork clients → ramp until every
 * connection joined → measure for `durationMs` → drain → collect → stop everything → summary.
 * Resolves with the summary (also written as JSON unless `outDir: false`); rejects on a hard
 * timeout or a setup failure, after stopping every process it started.
 */
export async function runBenchmark(options: BenchOptions): Promise<BenchResult> {
  const log = options.log ?? (() => undefined);
  const urls = (options.urls?.length ? options.urls : [options.url ?? 'ws://127.0.0.1:5000/ws']).map(checkLoopback);
  const url = urls[0]!;
  const runId = newRunId();
  const loadAverageAtStart = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  const plan = planScenario(options.scenario, options, runId);
  for (const warning of plan.warnings) log(`warning: ${warning}`);
  const durationMs = options.durationMs ?? 20_000;
  const sends = options.scenario !== 'idle' && options.scenario !== 'presence';
  const drainMs = sends ? (options.drainMs ?? 2000) : 0;
  const warmupMs = sends ? (options.warmupMs ?? 0) : 0;
  const total = plan.connections.length;
  const processes =
    options.processes ?? Math.max(1, Math.ceil(total / 10_000), total >= 1000 ? Math.min(2, cpus().length) : 1);
  if (processes > 0 && total / processes > MAX_CONNECTIONS_PER_PROCESS) {
    throw new Error(
      `${total} connections over ${processes} processes is more than ${MAX_CONNECTIONS_PER_PROCESS} per process ` +
        `(open-file limit): pass --processes ${Math.ceil(total / MAX_CONNECTIONS_PER_PROCESS)} or more`,
    );
  }
  const joinTimeoutMs = options.joinTimeoutMs ?? 30_000;
  const connectConcurrency = options.connectConcurrency ?? 100;
  // Ramp budget: the slower of a 500 connections/s ramp and one join timeout, plus margins.
  const rampBudgetMs = Math.max(joinTimeoutMs, (total / 500) * 1000) + 10_000;
  const hardTimeoutMs = options.hardTimeoutMs ?? rampBudgetMs + warmupMs + durationMs + drainMs + 30_000;
  const sourceAddresses = pickSourceAddresses(options.sourceAddresses ?? 'auto', total, Math.max(1, processes));

  let phase = 'setup';
  let server: SpawnedServer | undefined;
  const clients: ClientHandle[] = [];
  const stopEverything = async () => {
    for (const client of clients) client.kill();
    await Promise.race([Promise.all(clients.map((c) => c.exited)), sleep(3000)]);
    await server?.stop();
  };

  let timedOut: (error: Error) => void = () => undefined;
  const timeout = new Promise<never>((_, reject) => (timedOut = reject));
  const hardTimer = setTimeout(() => timedOut(new HardTimeout(hardTimeoutMs, phase)), hardTimeoutMs);
  // Ctrl-C takes the same path: the clients and a spawned server are stopped before exiting.
  const interrupted = () => timedOut(new Error(`interrupted during ${phase}; everything was stopped`));
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const run = async (): Promise<BenchResult> => {
    if (options.spawnServer) {
      phase = 'server start';
      server = await spawnServer(options.spawnServer, {
        port: Number(url.port || 80),
        env: { ...process.env, PORT: url.port || '80', JWT_SECRET: options.secret, ...options.serverEnv },
        readyTimeoutMs: 60_000,
        log,
      });
    }
    let frozenPids: number[] | undefined;
    const serverPids = (): number[] => {
      if (frozenPids) return frozenPids;
      const fixed = options.serverPids?.length ? options.serverPids : server ? processGroupMembers(server.pid) : [];
      return options.serverPidProvider ? [...new Set([...fixed, ...options.serverPidProvider()])] : fixed;
    };
    const before = sample(serverPids());

    // Ramp: every client process connects and joins its share, then says `ready`.
    phase = 'ramp';
    const shares: ConnectionSpec[][] = Array.from({ length: Math.max(1, processes) }, () => []);
    plan.connections.forEach((c, i) => shares[i % shares.length]!.push(c));
    const ramps: RampStats[] = [];
    const reports: WorkerReport[] = [];
    const progress = new Map<number, { joined: number; failed: number }>();
    let onReady: () => void = () => undefined;
    let onReports: () => void = () => undefined;
    let fatal: (error: Error) => void = () => undefined;
    const failed = new Promise<never>((_, reject) => (fatal = reject));
    const handle = (message: WorkerMessage) => {
      switch (message.type) {
        case 'progress':
          progress.set(message.workerIndex, message);
          return;
        case 'ready':
          ramps.push(message.ramp);
          if (ramps.length === shares.length) onReady();
          return;
        case 'report':
          reports.push(message);
          if (reports.length === shares.length) onReports();
          return;
        case 'fatal':
          fatal(new Error(`client process ${message.workerIndex}: ${message.error}`));
      }
    };
    const progressTimer = setInterval(() => {
      let joined = 0;
      let failures = 0;
      for (const p of progress.values()) ((joined += p.joined), (failures += p.failed));
      log(`ramp: ${joined}/${total} joined${failures ? `, ${failures} failed` : ''}`);
    }, 2000);
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    shares.forEach((connections, workerIndex) => {
      const client = processes === 0 ? inlineClient(handle) : forkClient(handle);
      clients.push(client);
      const localAddress = sourceAddresses[workerIndex % Math.max(1, sourceAddresses.length)];
      const connectRate = options.connectRate ??
        (plan.parameters.joinWindowSeconds > 0 ? total / plan.parameters.joinWindowSeconds : 0);
      client.send({
        type: 'init',
        workerIndex,
        urls: urls.map((u) => `${u.origin}${u.pathname}`),
        secret: options.secret,
        roomPattern: plan.roomPattern,
        ...(localAddress ? { localAddress } : {}),
        protocol: options.protocol ?? 'lectern',
        connectRate: connectRate / Math.max(1, shares.length),
        presenceThreshold: options.presenceThreshold ?? 500,
        connections,
        intervalMs: plan.intervalMs,
        connectConcurrency,
        joinTimeoutMs,
        hardTimeoutMs: hardTimeoutMs + 5000,
      });
    });
    try {
      await Promise.race([ready, failed]);
    } finally {
      clearInterval(progressTimer);
    }
    const joinedByRoom: Record<string, number> = {};
    for (const ramp of ramps) {
      for (const [room, n] of Object.entries(ramp.joinedByRoom)) joinedByRoom[room] = (joinedByRoom[room] ?? 0) + n;
    }
    log(`ramp done: ${ramps.reduce((n, r) => n + r.joined, 0)}/${total} joined`);

    // Idle: let the server settle before reading its memory, so the ramp's garbage is not counted.
    if (options.scenario === 'idle') await sleep(2000);
    // The same processes are read at both ends of the window, so their CPU times subtract.
    frozenPids = serverPids();
    const afterRamp = sample(frozenPids);

    // Measure, then drain: sends stop at the end of the window; deliveries still count until collect.
    phase = 'measure';
    const startAt = Date.now() + 200;
    const latencyFrom = startAt + warmupMs;
    for (const client of clients) client.send({ type: 'start', startAt, durationMs: warmupMs + durationMs, latencyFrom });
    await sleep(startAt - Date.now());
    const windowStart = sample(serverPids());
    const rate = plan.intervalMs > 0 ? ` at ${plan.plannedRate.toFixed(0)} msg/s` : '';
    if (warmupMs > 0) {
      log(`warming up for ${warmupMs / 1000} s${rate}`);
      await sleep(warmupMs);
    }
    log(`measuring for ${durationMs / 1000} s${rate}`);
    await sleep(durationMs);
    phase = 'drain';
    await sleep(drainMs);
    const windowEnd = sample(serverPids());
    phase = 'collect';
    const collected = new Promise<void>((resolve) => (onReports = resolve));
    for (const client of clients) client.send({ type: 'collect' });
    await Promise.race([collected, failed]);

    phase = 'close';
    for (const client of clients) client.send({ type: 'close' });
    await Promise.race([Promise.all(clients.map((c) => c.exited)), sleep(5000)]);
    const serverSamples: Record<string, ProcessSample> = { before, afterRamp, windowStart, windowEnd };
    return summarize({
      scenario: options.scenario,
      runId,
      label: options.label,
      url: urls.map((u) => u.href).join(' '),
      protocol: options.protocol ?? 'lectern',
      presenceThreshold: options.presenceThreshold ?? 500,
      plan,
      processes,
      sourceAddresses,
      durationMs,
      warmupMs,
      drainMs,
      ramps,
      reports,
      joinedByRoom,
      serverPids: serverPids(),
      serverSamples,
      loadAverageAtStart,
    });
  };

  try {
    const result = await Promise.race([run(), timeout]);
    if (options.outDir !== false) {
      const dir = options.outDir ?? `${packageDir}results`;
      mkdirSync(dir, { recursive: true });
      const file = `${dir}/${options.scenario}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
      writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
      result.file = file;
    }
    return result;
  } finally {
    clearTimeout(hardTimer);
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    await stopEverything();
  }
}

function pickSourceAddresses(choice: 'auto' | 'none' | string[], total: number, processes: number): string[] {
  if (Array.isArray(choice)) return choice;
  if (choice === 'none' || total <= CONNECTIONS_PER_SOURCE_ADDRESS) return [];
  // 127.0.0.0/8 is all loopback on Linux: 127.0.0.2, 127.0.0.3, ... need no setup.
  const needed = Math.max(processes, Math.ceil(total / CONNECTIONS_PER_SOURCE_ADDRESS));
  return Array.from({ length: needed }, (_, i) => `127.0.0.${i + 2}`);
}

