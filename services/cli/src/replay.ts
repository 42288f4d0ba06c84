/**
 * `lectern replay`: prints the event log as NDJSON on stdout, for `| jq`, files and pipelines.
 * Reads the log directly (DATABASE_URL, else the PGlite in LECTERN_DATA_DIR, which only one
 * process can open at a time: stop `lectern start` first, or use the HTTP API).
 *
 *   --room ROOM [--after SEQ] [--follow]   one room, each line its stored wire frame
 *   --all [--after POSITION]               every room in position order, each line with its position
 *
 * Lines are the same bytes as the HTTP API's. Output waits for stdout to drain, so a slow pipe
 * holds the reader back instead of filling memory; a closed pipe (`| head`) ends it quietly.
 * `--follow` polls the log (no bus needed) until interrupted.
 */
import { parseArgs } from 'node:util';
import type { Writable } from 'node:stream';
import type { LinePage } from '@lectern/event-store';
import { ROOM_ID_PATTERN } from '@lectern/protocol';
import type { Logger } from 'pino';
import { openStore } from './backends.js';
import { ConfigError, type Config } from './config.js';

const POLL_MS = 500;

export interface ReplayOptions {
  room?: string;
  all: boolean;
  after: string;
  follow: boolean;
}

export function parseReplayArgs(args: string[]): ReplayOptions {
  const { values } = parseArgs({
    args,
    options: { room: { type: 'string' }, all: { type: 'boolean', default: false }, after: { type: 'string', default: '0' }, follow: { type: 'boolean', default: false } },
  });
  if ((values.room === undefined) === !values.all) throw new ConfigError('say what to replay: lectern replay --room ROOM [--after SEQ] [--follow], or lectern replay --all [--after POSITION]');
  if (values.room !== undefined && !ROOM_ID_PATTERN.test(values.room)) throw new ConfigError(`--room ${values.room}: room ids match ${ROOM_ID_PATTERN.source}`);
  if (!/^\d{1,19}$/.test(values.after)) throw new ConfigError(`--after ${values.after}: give a non-negative integer (a seq with --room, a position with --all)`);
  if (values.room !== undefined && !Number.isSafeInteger(Number(values.after))) throw new ConfigError(`--after ${values.after} is too large for a seq`);
  if (values.follow && values.all) throw new ConfigError('--follow works with --room only');
  return { ...(values.room !== undefined ? { room: values.room } : {}), all: values.all, after: values.after, follow: values.follow };
}

function writeOut(out: Writable, chunk: string): Promise<boolean> {
  if (out.destroyed || out.writableEnded) return Promise.resolve(false);
  if (out.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      out.off('drain', onDrain);
      out.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    out.once('drain', onDrain);
    out.once('close', onClose);
  });
}

export async function replay(config: Config, logger: Logger, options: ReplayOptions, out: Writable = process.stdout, signal?: AbortSignal): Promise<void> {
  const store = await openStore(config, logger, { migrate: false });
  let broken = false;
  out.on('error', () => {
    broken = true; // EPIPE: the reader went away (`| head`)
  });
  // Pages of lines as the log joins them (the HTTP API's lines), written one page at a time.
  const write = async <K>(pages: AsyncGenerator<LinePage<K>, void, undefined>, seen: (page: LinePage<K>) => void) => {
    try {
      for await (const page of pages) {
        seen(page);
        if (!(await writeOut(out, page.lines)) || broken || signal?.aborted) return false;
      }
      return true;
    } finally {
      await pages.return(undefined);
    }
  };
  try {
    if (options.room !== undefined) {
      let last = Number(options.after);
      for (;;) {
        const more = await write(store.roomLinePages(options.room, last), (page) => (last = page.last));
        if (!more || !options.follow || signal?.aborted) return;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        if (signal?.aborted || broken) return;
      }
    }
    await write(store.allLinePages(options.after), () => undefined);
  } finally {
    await store.close();
  }
}
