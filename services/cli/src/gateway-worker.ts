/**
 * The gateway thread of `lectern gateway` (gateway-thread.ts says why a thread): starts the
 * gateway, and stops it gracefully when the main thread relays SIGTERM or SIGINT.
 */
import { writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { ConfigError, loadConfig, type Config } from './config.js';
import type { GatewayThreadStop } from './gateway-thread.js';
import { createLogger, startGatewayProcess } from './server.js';

if (parentPort === null) throw new Error('gateway-worker.js runs as the worker thread of `lectern gateway`');
const port = parentPort;
let config: Config;
try {
  config = loadConfig(process.env, 'gateway');
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  // As main.ts does for the other commands; written directly to fd 2, since a thread's
  // process.stderr is relayed asynchronously and `exit` would cut it off.
  writeSync(2, `lectern: ${err.message}\n`);
  process.exit(78); // EX_CONFIG; the main thread exits with this code
}
const running = await startGatewayProcess(config, createLogger(config));
let stopping = false;
port.on('message', (message: GatewayThreadStop) => {
  if (message.type !== 'stop' || stopping) return;
  stopping = true;
  running.logger.info({ signal: message.signal }, 'shutting down');
  running.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      running.logger.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
});
