#!/usr/bin/env node
/**
 * The `lectern` command.
 *
 *   lectern start                  all-in-one: gateway + rooms (PGlite and in-process bus by default)
 *   lectern gateway                the edge alone (needs NATS_URL)
 *   lectern rooms                  the actor host alone (needs NATS_URL and DATABASE_URL)
 *   lectern migrate                run the event log's migrations
 *   lectern replay --room R [--after SEQ] [--follow] | --all [--after POSITION]   the log as NDJSON
 *   lectern token --sub alice [--name Alice] [--role instructor] [--rooms '*'] [--ttl 3600]
 */
import { parseArgs } from 'node:util';
import type { Running } from './server.js';
import { runGatewayThread } from './gateway-thread.js';
import { applyServiceV8Flags } from './v8-flags.js';

applyServiceV8Flags();

const USAGE = `usage: lectern <command>

  start      gateway + rooms in one process (embedded PGlite and in-process bus unless
             DATABASE_URL / NATS_URL are set)
  gateway    the WebSocket gateway alone (needs NATS_URL)
  rooms      the room actor host alone (needs NATS_URL and DATABASE_URL)
  migrate    create or update the event log's tables
  replay     print the event log as NDJSON: --room ROOM [--after SEQ] [--follow],
             or --all [--after POSITION] (every room, each line with its position)
  token      print a token: --sub ID [--name NAME] [--role learner|instructor|moderator|service]
             [--rooms 'pattern,...'] [--ttl SECONDS]   (signs with JWT_SECRET)

Configuration comes from the environment; see .env.example.`;

async function runService(start: () => Promise<Running>, describe: (running: Running) => void): Promise<void> {
  const running = await start();
  describe(running);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    running.logger.info({ signal }, 'shutting down');
    running.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        running.logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === 'gateway') {
    // The gateway runs on a thread with a small young generation (gateway-thread.ts), which
    // loads its configuration and modules itself: this thread loads neither, so it stays small.
    runGatewayThread();
    return;
  }
  const { ConfigError, loadConfig } = await import('./config.js');
  const { createLogger, mintToken, startAllInOne, startRoomsProcess } = await import('./server.js');
  const { openStore } = await import('./backends.js');
  const { parseReplayArgs, replay } = await import('./replay.js');
  const { default: pino } = await import('pino');
  switch (command) {
    case 'start': {
      const config = loadConfig(process.env, 'start');
      await runService(
        () => startAllInOne(config, createLogger(config)),
        (running) => {
          const port = running.gateway!.port;
          if (running.devSecret !== undefined) {
            const token = mintToken(running.devSecret, { sub: 'dev-instructor', name: 'Dev Instructor', role: 'instructor', rooms: ['*'] }, 12 * 3600);
            process.stdout.write(
              `\nLectern is running on http://localhost:${port}  (development: JWT_SECRET is not set, a random one is in use)\n` +
                `  Sign in to the demo app:  http://localhost:${port}/   (pick a name and a role)\n` +
                `  Connection test page:     http://localhost:${port}/test\n` +
                `  WebSocket with a ready-made instructor token (12 h):\n  ws://localhost:${port}/ws?token=${token}\n\n`,
            );
          } else {
            process.stdout.write(`\nLectern is running on http://localhost:${port}\n`);
          }
        },
      );
      return;
    }
    case 'rooms': {
      const config = loadConfig(process.env, 'rooms');
      await runService(() => startRoomsProcess(config, createLogger(config)), () => undefined);
      return;
    }
    case 'migrate': {
      const config = loadConfig(process.env, 'tool');
      const logger = createLogger(config);
      const store = await openStore(config, logger, { migrate: true });
      await store.close();
      logger.info('migrations applied');
      return;
    }
    case 'replay': {
      const options = parseReplayArgs(rest);
      const config = loadConfig(process.env, 'tool');
      const logger = pino({ level: config.logLevel }, pino.destination(2));
      const stop = new AbortController();
      process.once('SIGINT', () => stop.abort());
      process.once('SIGTERM', () => stop.abort());
      await replay(config, logger, options, process.stdout, stop.signal);
      return;
    }
    case 'token': {
      const { values } = parseArgs({
        args: rest,
        options: {
          sub: { type: 'string' },
          name: { type: 'string' },
          role: { type: 'string' },
          rooms: { type: 'string' },
          ttl: { type: 'string', default: '3600' },
        },
      });
      const secret = process.env.JWT_SECRET;
      if (!secret) throw new ConfigError('JWT_SECRET is not set: `lectern token` signs HS256 tokens with it');
      if (!values.sub) throw new ConfigError('--sub is required: lectern token --sub alice [--role instructor] [--rooms "*"]');
      const ttl = Number(values.ttl);
      if (!Number.isInteger(ttl) || ttl <= 0) throw new ConfigError('--ttl must be a positive number of seconds');
      const config = loadConfig(process.env, 'tool');
      const claims = {
        sub: values.sub,
        ...(values.name !== undefined ? { name: values.name } : {}),
        ...(values.role !== undefined ? { role: values.role } : {}),
        ...(values.rooms !== undefined ? { rooms: values.rooms.split(',').map((r) => r.trim()) } : {}),
      };
      process.stdout.write(`${mintToken(secret, claims, ttl, config.jwt)}\n`);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`unknown command: ${command}\n\n${USAGE}\n`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof Error && err.name === 'ConfigError') {
    process.stderr.write(`lectern: ${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  process.stderr.write(`lectern: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
