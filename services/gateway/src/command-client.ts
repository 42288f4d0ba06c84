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

/**
 * Wait before retry `attempt` (0-based) of a command that found no owner: 50 ms doubling, at
 * most 250 ms, so a retry lands soon after the new owner subscribes. With the default 10
 * retries the budget is 2.1 s, past the 2 s a shard hand-off may pause a room, so a normal
 * hand-off shows clients a slower answer rather than `unavailable`.
 */
export function noOwnerRetryDelayMs(attempt: number): number {
  return Math.min(50 * 2 ** attempt, 250);
}

/** A reply, and whether the owner may have acted on the command although no answer came. */
export type CommandOutcome = DecodedReply & { outcomeUnknown?: boolean };

export function unavailable(message: string, retryAfterMs = 500, outcomeUnknown = false): CommandOutcome {
  const reply: CommandReply = { ok: false, code: 'unavailable', message, retryAfterMs };
  return outcomeUnknown ? { reply, tail: undefined, outcomeUnknown } : { reply, tail: undefined };
}

export class CommandClient {
  /**
   * Requests issued while handling one batch of socket events, sent together. uWS calls each
   * message handler separately and Node drains microtasks after each, so nats.js would flush
   * (one write syscall) per request: a quarter of the gateway's CPU at 5,000 msg/s. Holding
   * them until `setImmediate` — right after this poll phase — sends them in one write and
   * adds no more than the rest of the current loop turn.
   */
  private outbox: (() => void)[] = [];
  private outboxScheduled = false;
  private readonly flushOutbox = (): void => {
    this.outboxScheduled = false;
    const outbox = this.outbox;
    this.outbox = [];
    for (const send of outbox) send();
  };

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly timeoutMs: number,
    private readonly noOwnerRetries: number,
  ) {}

  async send(command: RoomCommand): Promise<CommandOutcome> {
    const subject = this.bus.subjects.command(command.room);
    const data = encoder.encode(JSON.stringify(command));
    for (let attempt = 0; ; attempt++) {
      try {
        const outcome = decodeReply(await this.request(subject, data));
        // The old owner handing the room off did not apply it: wait for the new one, as below.
        if (!outcome.reply.ok && outcome.reply.moved === true && attempt < this.noOwnerRetries) {
          await sleep(noOwnerRetryDelayMs(attempt));
          continue;
        }
        return outcome;
      } catch (err) {
        if (isBusError(err, 'no_responders') && attempt < this.noOwnerRetries) {
          await sleep(noOwnerRetryDelayMs(attempt));
          continue;
        }
        if (isBusError(err, 'no_responders')) return unavailable('no rooms process owns this room right now; retry');
        if (isBusError(err, 'timeout')) return unavailable('the room did not answer in time; retry', 500, true);
        if (isBusError(err)) return unavailable('the bus is unavailable; retry');
        this.logger.error({ err, room: command.room, kind: command.kind, cid: command.cid }, 'command failed');
        return { reply: { ok: false, code: 'internal', message: 'internal error' }, tail: undefined };
      }
    }
  }

  private request(subject: string, data: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      this.outbox.push(() => this.bus.request(subject, data, { timeoutMs: this.timeoutMs }).then(resolve, reject));
      if (!this.outboxScheduled) {
        this.outboxScheduled = true;
        setImmediate(this.flushOutbox);
      }
    });
  }
}
