/**
 * Sends commands to room owners over the bus and turns the outcome into a reply. A command
 * that finds no owner (no responders: the room's shard is moving or its process is starting)
 * is retried with backoff a bounded number of times; a timeout is not retried, since the
 * owner may have acted on it — the client retries with the same `mid` instead.
 */
import { decodeReply, type CommandReply, type DecodedReply, type RoomCommand } from '@lectern/protocol';
import { isBusError, type Bus } from '@lectern/bus';
import type { Logger } from 'pino';

const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function unavailable(message: string, retryAfterMs = 500): DecodedReply {
  const reply: CommandReply = { ok: false, code: 'unavailable', message, retryAfterMs };
  return { reply, tail: undefined };
}

export class CommandClient {
  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
    private readonly noOwnerRetries: number,
  ) {}

  async send(command: RoomCommand): Promise<DecodedReply> {
    const subject = this.bus.subjects.command(command.room);
    const data = encoder.encode(JSON.stringify(command));
    for (let attempt = 0; ; attempt++) {
      try {
        return decodeReply(await this.bus.request(subject, data, { timeoutMs: this.timeoutMs }));
      } catch (err) {
        if (isBusError(err, 'no_responders') && attempt < this.noOwnerRetries) {
          await sleep(50 * 2 ** attempt);
          continue;
        }
        if (isBusError(err, 'no_responders')) return unavailable('no rooms process owns this room right now; retry');
        if (isBusError(err, 'timeout')) return unavailable('the room did not answer in time; retry');
        if (isBusError(err)) return unavailable('the bus is unavailable; retry');
        this.logger.error({ err, room: command.room, kind: command.kind, cid: command.cid }, 'command failed');
        return { reply: { ok: false, code: 'internal', message: 'internal error' }, tail: undefined };
      }
    }
  }
}
