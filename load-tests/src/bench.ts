#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatTable } from './report.js';
import { runBenchmark, type BenchOptions } from './run.js';
import { SCENARIOS, type ScenarioName } from './scenarios.js';

export { runBenchmark, type BenchOptions } from './run.js';
export { formatTable, type BenchResult } from './report.js';

/**
 * Warm-up before the measured window. Measured on W2: most of a cold 20 s run's slow deliveries
 * come in its first 3 s (JIT, heap growth after the ramp), so a cold p99 says more about
 * start-up than about a lecture that has been running for a minute. Reported apart, not hidden.
 */
const DEFAULT_WARMUP_MS = 5_000;

const USAGE = `usage: node load-tests/dist/bench.js <${SCENARIOS.join('|')}> [flags]

  --url URL                 ws://127.0.0.1:5000/ws (loopback only); comma-separated: several
                            gateways, used in turn by the connections
  --protocol P              lectern (default) | socketio (the compare/ Socket.IO server)
  --secret S                HS256 secret (default: $JWT_SECRET)
  --duration SECONDS        measured window (default 20; idle: how long connections are held)
  --drain SECONDS           wait after the last send before counting (default 2)
  --warmup SECONDS          send at the same rate first, latencies reported apart (default 5)
  --rooms N --members N     rooms and members per room (rooms, burst; idle: --members)
  --interval MS             per-sender send interval (rooms, default 2000)
  --connections N           total connections (lecture 2000, idle 10000)
  --rate N                  messages/s in (lecture 20, burst 5000)
  --senders N               sending members (lecture, default 4)
  --join-window SECONDS     presence: every member joins within this (default 10)
  --connect-rate N          connections per second over all processes (default: unpaced)
  --presence-threshold N    the server's presence threshold, for presence accounting (500)
  --processes N             client processes (default: 2 from 1,000 connections, ≥1 per 10,000)
  --connect-concurrency N   handshakes in flight per process (default 100)
  --join-timeout SECONDS    per connection, connect to joined (default 30)
  --timeout SECONDS         hard limit for the whole run; everything is killed after it
  --server-pid PID          server process to sample CPU and memory of (repeatable, summed)
  --spawn-server "CMD"      start the server (sh -c), with PORT and JWT_SECRET set; stopped at the end
  --env K=V                 extra environment for --spawn-server (repeatable)
  --source-addresses LIST   auto | none | 127.0.0.2,127.0.0.3 (auto: above 25,000 connections)
  --out DIR                 where the JSON result goes (default load-tests/results)
  --label TEXT              stored in the result
  --quiet                   only the table`;

export function parseCommandLine(argv: string[]): BenchOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      url: { type: 'string' },
      protocol: { type: 'string' },
      'join-window': { type: 'string' },
      'connect-rate': { type: 'string' },
      'presence-threshold': { type: 'string' },
      secret: { type: 'string' },
      duration: { type: 'string' },
      drain: { type: 'string' },
      warmup: { type: 'string' },
      rooms: { type: 'string' },
      members: { type: 'string' },
      interval: { type: 'string' },
      connections: { type: 'string' },
      rate: { type: 'string' },
      senders: { type: 'string' },
      processes: { type: 'string' },
      'connect-concurrency': { type: 'string' },
      'join-timeout': { type: 'string' },
      timeout: { type: 'string' },
      'server-pid': { type: 'string', multiple: true },
      'spawn-server': { type: 'string' },
      env: { type: 'string', multiple: true },
      'source-addresses': { type: 'string' },
      out: { type: 'string' },
      label: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const scenario = positionals[0] as ScenarioName | undefined;
  if (values.help || !scenario || !SCENARIOS.includes(scenario)) throw new UsageError(USAGE);
  const secret = values.secret ?? process.env.JWT_SECRET;
  if (!secret) throw new UsageError('no secret: pass --secret or set JWT_SECRET to the server\'s JWT_SECRET');
  const num = (name: string, value: string | undefined, scale = 1): number | undefined => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0) throw new UsageError(`--${name} expects a non-negative number, got ${value}`);
    return n * scale;
  };
  const pids = (values['server-pid'] ?? []).flatMap((v) => v.split(',')).map((v) => num('server-pid', v)!);
  const env = Object.fromEntries(
    (values.env ?? []).map((pair) => {
      const at = pair.indexOf('=');
      if (at <= 0) throw new UsageError(`--env expects K=V, got ${pair}`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
  const sources = values['source-addresses'];
  const options: BenchOptions = {
    scenario,
    secret,
    ...(values.url ? { urls: values.url.split(',') } : {}),
    durationMs: num('duration', values.duration, 1000) ?? (scenario === 'idle' ? 10_000 : 20_000),
    serverPids: pids,
    serverEnv: env,
    sourceAddresses: sources === undefined || sources === 'auto' || sources === 'none' ? (sources ?? 'auto') : sources.split(','),
    log: values.quiet ? () => undefined : (line) => console.error(`[bench] ${line}`),
  };
  const optional: Array<[keyof BenchOptions, number | undefined]> = [
    ['drainMs', num('drain', values.drain, 1000)],
    ['warmupMs', num('warmup', values.warmup, 1000) ?? DEFAULT_WARMUP_MS],
    ['rooms', num('rooms', values.rooms)],
    ['members', num('members', values.members)],
    ['intervalMs', num('interval', values.interval)],
    ['connections', num('connections', values.connections)],
    ['rate', num('rate', values.rate)],
    ['senders', num('senders', values.senders)],
    ['joinWindowSeconds', num('join-window', values['join-window'])],
    ['connectRate', num('connect-rate', values['connect-rate'])],
    ['presenceThreshold', num('presence-threshold', values['presence-threshold'])],
    ['processes', num('processes', values.processes)],
    ['connectConcurrency', num('connect-concurrency', values['connect-concurrency'])],
    ['joinTimeoutMs', num('join-timeout', values['join-timeout'], 1000)],
    ['hardTimeoutMs', num('timeout', values.timeout, 1000)],
  ];
  for (const [key, value] of optional) if (value !== undefined) (options as unknown as Record<string, number>)[key] = value;
  if (values['spawn-server']) options.spawnServer = values['spawn-server'];
  if (values.protocol !== undefined) {
    if (values.protocol !== 'lectern' && values.protocol !== 'socketio') throw new UsageError(`--protocol is lectern or socketio, got ${values.protocol}`);
    options.protocol = values.protocol;
  }
  if (values.out) options.outDir = values.out;
  if (values.label) options.label = values.label;
  return options;
}

class UsageError extends Error {}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    return 64;
  }
  // Ctrl-C still stops the clients and the spawned server: the hard-timeout path does the cleanup.
  try {
    const result = await runBenchmark(options);
    console.log(formatTable(result));
    return result.ok ? 0 : 1;
  } catch (error) {
    console.error(`bench failed: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
}

const invokedDirectly = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();
if (invokedDirectly) {
  // Exit explicitly: a leftover timer or socket must not keep a finished benchmark alive.
  main().then((code) => process.exit(code));
}
