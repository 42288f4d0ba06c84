/**
 * The gateway thread of `lectern gateway` (gateway-thread.ts says why a thread): starts the
 * gateway, and stops it gracefully when the main thread relays SIGTERM or SIGINT.
 */
import { writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { GatewayThreadStop } from './gateway-thread.js';
import { createLogger, startGatewayProcess, type Running } from './server.js';

if (parentPort === null) throw new Error('gateway-worker.js runs as the worker thread of `lectern gateway`');
const port = parentPort;
/** Set once the gateway has started; a crash before that has no sockets to close. */
let running: Running | undefined;

/**
 * Ends the thread; the main thread exits the process with `code`. Every socket must be closed
 * first, idle HTTP keep-alive connections too (the gateway's stop leaves those open, and no JS
 * object lists them): node aborts when a thread's event loop closes with a native handle still
 * open. uWS' `App.close()` closes them all; it is in the native App, not in its typings.
 */
function exitThread(code: number): void {
  (running?.gateway?.app as { close?: () => void } | undefined)?.close?.();
  setImmediate(() => process.exit(code));
}

// A crash exits 1 with its stack, as it did with the gateway on the main thread (where node
// does this itself), instead of aborting on the sockets it leaves open. Written directly to
// fd 2: a thread's process.stderr is relayed asynchronously and `exit` would cut it off.
process.on('uncaughtException', (err: unknown) => {
  writeSync(2, `lectern: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  exitThread(1);
});

let config: Config;
try {
  config = loadConfig(process.env, 'gateway');
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  // As main.ts does for the other commands.
  writeSync(2, `lectern: ${err.message}\n`);
  process.exit(78); // EX_CONFIG; the main thread exits with this code
}
const started = await startGatewayProcess(config, createLogger(config));
running = started;
let stopping = false;
port.on('message', (message: GatewayThreadStop) => {
  if (message.type !== 'stop' || stopping) return;
  stopping = true;
  started.logger.info({ signal: message.signal }, 'shutting down');
  started.stop().then(
    () => exitThread(0),
    (err: unknown) => {
      started.logger.error({ err }, 'shutdown failed');
      exitThread(1);
    },
  );
});
