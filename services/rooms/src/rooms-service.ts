/**
 * The rooms service: subscribes to the command subjects of the shards it owns and routes each
 * command to its room's actor; publishes committed frames to `<prefix>.evt.<room>`.
 *
 * Ownership: this process owns every shard (one rooms process). Multi-process ownership with
 * advisory locks (DESIGN.md §6) plugs in here: `ownedShards` becomes dynamic.
 */
import { encodeEventMessage, encodeReply, type RoomCommand } from '@lectern/protocol';
import type { Bus, Subscription } from '@lectern/bus';
import type { EventStore } from '@lectern/event-store';
import type { Logger } from 'pino';
import { ActorHost } from './actor-host.js';
import { DEFAULT_ROOMS_OPTIONS, type RoomsOptions } from './options.js';

export interface RoomsServiceDeps {
  bus: Bus;
  store: EventStore;
  logger: Logger;
  options?: Partial<RoomsOptions>;
  now?: () => number;
}

export interface RoomsService {
  readonly host: ActorHost;
  /** Stops taking commands, lets in-flight commits finish (bounded), snapshots, unsubscribes. */
  stop(timeoutMs?: number): Promise<void>;
}

const decoder = new TextDecoder();

export async function startRoomsService(deps: RoomsServiceDeps): Promise<RoomsService> {
  const { bus, store, logger } = deps;
  const options: RoomsOptions = { ...DEFAULT_ROOMS_OPTIONS, ...deps.options };
  const subjects = bus.subjects;
  const host = new ActorHost({
    store,
    options,
    logger,
    now: deps.now ?? Date.now,
    publish(room, fromSeq, seq, frame) {
      bus.publish(subjects.events(room), encodeEventMessage(fromSeq, seq, frame));
    },
  });

  const subscriptions: Subscription[] = [];
  for (let shard = 0; shard < subjects.shardCount; shard++) {
    subscriptions.push(
      await bus.subscribe(subjects.shardCommands(shard), (message) => {
        const room = subjects.roomOfCommand(message.subject);
        let command: RoomCommand;
        try {
          command = JSON.parse(decoder.decode(message.data)) as RoomCommand;
        } catch (err) {
          logger.error({ err, subject: message.subject }, 'undecodable command');
          message.respond(encodeReply({ ok: false, code: 'internal', message: 'undecodable command' }));
          return;
        }
        command.room = room;
        host.dispatch(room, command, (bytes) => message.respond(bytes));
      }),
    );
  }
  logger.info({ shards: subjects.shardCount }, 'rooms service ready');

  return {
    host,
    async stop(timeoutMs = 5000) {
      for (const subscription of subscriptions) subscription.unsubscribe();
      await host.stop(timeoutMs);
    },
  };
}
