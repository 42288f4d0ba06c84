/**
 * `lectern gateway` runs the gateway in a worker thread of its own process, so it can give the
 * gateway's V8 heap limits of its own (`resourceLimits`), which a process cannot change for its
 * main thread once it has started.
 *
 * Why: a gateway holding idle sockets allocates in bursts (a ramp of upgrades and joins) and
 * then almost nothing, so whatever its heap grew to during the burst stays resident.
 * - Young generation: left alone, V8 grows it to its maximum (16 MiB semi-spaces, 32 MiB
 *   committed) during such a burst and keeps it: ~1.7 KiB per connection at 10,000 idle
 *   connections. 4 MiB semi-spaces cost more frequent scavenges, each proportional to what
 *   survives, not to the space's size.
 * - Old generation: V8 scales how far it lets the old generation grow past its live size before
 *   collecting with the heap's limit: up to 4x with the default limit (4 GiB here), much less
 *   with 1 GiB. The ramp's promoted garbage (in-flight joins) then no longer piles up to tens of
 *   MiB. 1 GiB is ~8x the live heap of 100,000 connections (the default LECTERN_MAX_CONNECTIONS).
 * Measured: README, Benchmarks. Both can be overridden the usual way: node's
 * --max-semi-space-size and --max-old-space-size (e.g. in NODE_OPTIONS) take precedence.
 *
 * Same process, same pid: signals, `kill -9`, RSS and ports behave as with the gateway on the
 * main thread, which only relays SIGTERM/SIGINT to the thread and exits with its exit code.
 */
import { Worker } from 'node:worker_threads';

/** The gateway thread's heap limits (see above): young = two 4 MiB semi-spaces + new large objects. */
export const GATEWAY_HEAP_LIMITS = Object.freeze({ maxYoungGenerationSizeMb: 12, maxOldGenerationSizeMb: 1024 });

/** A message from the main thread to the gateway thread. */
export interface GatewayThreadStop {
  type: 'stop';
  signal: NodeJS.Signals;
}

/** Starts the gateway thread (gateway-worker.ts); this process exits when it does, with its code. */
export function runGatewayThread(): void {
  const worker = new Worker(new URL('./gateway-worker.js', import.meta.url), { resourceLimits: { ...GATEWAY_HEAP_LIMITS } });
  const relay = (signal: NodeJS.Signals) => worker.postMessage({ type: 'stop', signal } satisfies GatewayThreadStop);
  process.on('SIGTERM', () => relay('SIGTERM'));
  process.on('SIGINT', () => relay('SIGINT'));
  worker.on('error', (err: Error) => {
    process.stderr.write(`lectern: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
  worker.on('exit', (code) => process.exit(code));
}
