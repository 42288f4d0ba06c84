/**
 * `lectern gateway` runs the gateway in a worker thread of its own process, so it can give the
 * gateway's V8 heap a small young generation (`resourceLimits`), which a process cannot change
 * for its own main thread once it has started.
 *
 * Why: a gateway holding idle sockets allocates in bursts (a ramp of upgrades and joins) and
 * then almost nothing. Left to itself V8 grows the young generation to its maximum (16 MiB
 * semi-spaces, 32 MiB committed) during such a burst and keeps it: that alone was ~1.7 KiB per
 * connection of resident memory at 10,000 connections. 4 MiB semi-spaces (12 MiB young
 * generation) cost more frequent scavenges (each is proportional to what survives, not to the
 * space's size: well under a millisecond here) and keep RSS close to what the sockets really
 * hold. Measured: README, Benchmarks.
 *
 * Same process, same pid: signals, `kill -9`, RSS and ports behave as with the gateway on the
 * main thread, which only relays SIGTERM/SIGINT to the thread and exits with its exit code.
 */
import { Worker } from 'node:worker_threads';

/** The gateway thread's young generation: two 4 MiB semi-spaces and the new large-object space. */
export const GATEWAY_YOUNG_GENERATION_MB = 12;

/** A message from the main thread to the gateway thread. */
export interface GatewayThreadStop {
  type: 'stop';
  signal: NodeJS.Signals;
}

/** Starts the gateway thread (gateway-worker.ts); this process exits when it does, with its code. */
export function runGatewayThread(youngGenerationMb = GATEWAY_YOUNG_GENERATION_MB): void {
  const worker = new Worker(new URL('./gateway-worker.js', import.meta.url), {
    resourceLimits: { maxYoungGenerationSizeMb: youngGenerationMb },
  });
  const relay = (signal: NodeJS.Signals) => worker.postMessage({ type: 'stop', signal } satisfies GatewayThreadStop);
  process.on('SIGTERM', () => relay('SIGTERM'));
  process.on('SIGINT', () => relay('SIGINT'));
  worker.on('error', (err: Error) => {
    process.stderr.write(`lectern: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
  worker.on('exit', (code) => process.exit(code));
}
