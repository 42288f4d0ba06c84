/**
 * A `Bus` that times every request (commands to room owners) and logs the ones that fail with
 * their correlation id. Wrapping the bus keeps the gateway's command path free of metrics
 * code, and sees every command, whoever sends it (WebSocket frames or the HTTP API).
 */
import type { Bus } from '@lectern/bus';
import { isBusError } from '@lectern/bus';
import type { Logger } from 'pino';
import type { Histogram } from 'prom-client';

const decoder = new TextDecoder();
/** Replies start with their JSON header; a refusal starts like this (encodeReply). */
const REFUSED = '{"ok":false';

function commandOf(data: Uint8Array): { kind?: string; cid?: string; room?: string } {
  try {
    return JSON.parse(decoder.decode(data)) as { kind?: string; cid?: string; room?: string };
  } catch {
    return {};
  }
}

function kindOf(data: Uint8Array): string {
  // `{"kind":"join",...`: commands are encoded with `kind` first (command-client.ts).
  const head = decoder.decode(data.subarray(0, 40));
  return /^\{"kind":"([a-z_]+)"/.exec(head)?.[1] ?? 'other';
}

export function meteredBus(bus: Bus, histogram: Histogram<'kind' | 'outcome'>, logger: Logger, errors?: (code: string) => void): Bus {
  return new Proxy(bus, {
    get(target, property) {
      if (property !== 'request') {
        const value = Reflect.get(target, property) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      }
      return async (subject: string, data: Uint8Array, options: { timeoutMs: number }) => {
        const kind = kindOf(data);
        const end = histogram.startTimer({ kind });
        try {
          const reply = await target.request(subject, data, options);
          const head = decoder.decode(reply.subarray(0, 200));
          if (head.startsWith(REFUSED)) {
            const code = /"code":"([a-z_]+)"/.exec(head)?.[1] ?? 'unknown';
            end({ outcome: code });
            const { cid, room } = commandOf(data);
            logger[code === 'internal' ? 'error' : 'info']({ cid, room, kind, code }, 'command refused');
          } else {
            end({ outcome: 'ok' });
          }
          return reply;
        } catch (err) {
          const code = isBusError(err) ? err.code : 'error';
          end({ outcome: code });
          errors?.(code);
          const { cid, room } = commandOf(data);
          // No responders is routine while a shard moves, and the command client retries it.
          if (code === 'no_responders') logger.debug({ cid, room, kind }, 'no owner for the command yet');
          else logger.warn({ cid, room, kind, err }, 'command failed on the bus');
          throw err;
        }
      };
    },
  });
}
