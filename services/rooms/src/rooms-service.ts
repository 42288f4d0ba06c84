/**
 * The rooms service: subscribes to the command subjects of the shards it owns and routes each
 * command to its room's actor; publishes committed frames to `<prefix>.evt.<room>`.
 *
 * Ownership: with `ownership` set (`lectern rooms`), the shards this process serves are the
 * ones whose Postgres advisory locks it holds (shard-ownership.ts, DESIGN.md §6); without it
 * (the all-in-one process) it serves every shard. Either way it watches the gateways' leases
 * (gateway-leases.ts, DESIGN.md §7).
 */
import { encodeEventMessage, encodeReply, type RoomCommand } from '@lectern/protocol';
import { shardOf, type Bus, type Subscription } from '@lectern/bus';
import type { EventStore } from '@lectern/event-store';
import type { Logger } from 'pino';
import { ActorHost } from './actor-host.js';
import { movedReply } from './room-actor.js';
import { DEFAULT_ROOMS_OPTIONS, type RoomsOptions } from './options.js';
import { DEFAULT_SHARD_OWNERSHIP_OPTIONS, lockNamespace, ShardOwnership, type ReleaseMode, type ShardOwnershipOptions } from './shard-ownership.js';
import { GatewayLeases, type GatewayLeaseOptions } from './gateway-leases.js';

export interface RoomsServiceDeps {
  bus: Bus;
  store: EventStore;
  logger: Logger;
  options?: Partial<RoomsOptions>;
  now?: () => number;
  /** Share the shards with other rooms processes through advisory locks on this database. */
  ownership?: { connectionString: string; options?: Partial<ShardOwnershipOptions> };
  leases?: Partial<GatewayLeaseOptions>;
  /** How long a hand-off waits for a shard's in-flight commits before snapshotting anyway. */
  handoffTimeoutMs?: number;
  /**
   * Cut from the bus this long (commands cannot reach it), a process leaves the shard share so
   * the others serve its shards; it rejoins once reconnected. Default 5 s: above the NATS
   * client's 2 s reconnect wait, so a node failover does not move shards.
   */
  busGraceMs?: number;
}

export interface RoomsService {
  readonly host: ActorHost;
  /** Shard ownership, when shared through advisory locks; undefined = every shard here. */
  readonly ownership: ShardOwnership | undefined;
  readonly leases: GatewayLeases;
  /** Shards served now. */
  ownedShards(): number[];
  /** Stops taking commands, lets in-flight commits finish (bounded), snapshots, unsubscribes. */
  stop(timeoutMs?: number): Promise<void>;
}

const decoder = new TextDecoder();

export async function startRoomsService(deps: RoomsServiceDeps): Promise<RoomsService> {
  const { bus, store, logger } = deps;
  const options: RoomsOptions = { ...DEFAULT_ROOMS_OPTIONS, ...deps.options };
  const subjects = bus.subjects;
  let ownership: ShardOwnership | undefined;
  const host = new ActorHost({
    store,
    options,
    logger,
    now: deps.now ?? Date.now,
    publish(room, fromSeq, seq, frame) {
      bus.publish(subjects.events(room), encodeEventMessage(fromSeq, seq, frame));
    },
    // Another writer appended to one of our rooms: do we still hold its shard's lock? If
    // not, the next ownership check stops serving the shard (the actor reloaded meanwhile).
    onFenced: () => ownership?.poke(),
  });

  const shardCount = subjects.shardCount;
  const subscriptions = new Map<number, Subscription>();
  /** Shards being handed off: commands that still arrive for them were not applied. */
  const releasing = new Set<number>();
  const MOVED_WHILE_RELEASING = movedReply('the room is moving; retry');
  const onCommand = (message: Parameters<Parameters<Bus['subscribe']>[1]>[0]) => {
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
    // Already on its way when the shard's hand-off began: not applied here, the gateway retries.
    if (releasing.has(shardOf(room, shardCount))) {
      message.respond(MOVED_WHILE_RELEASING);
      return;
    }
    host.dispatch(room, command, (bytes) => message.respond(bytes));
  };
  const serve = async (shard: number) => {
    if (subscriptions.has(shard)) return;
    const subscription = await bus.subscribe(subjects.shardCommands(shard), onCommand);
    // The lock may have gone while the subscription was being set up (a lost session).
    if (ownership !== undefined && !ownership.owned.has(shard)) {
      subscription.unsubscribe();
      throw new Error(`shard ${shard} was lost while subscribing`);
    }
    subscriptions.set(shard, subscription);
  };
  const handoffTimeoutMs = deps.handoffTimeoutMs ?? 5000;
  const unserve = async (shard: number, mode: ReleaseMode) => {
    // First, synchronously: no command of this shard reaches an actor any more. The
    // subscription is drained, not dropped: a command NATS already routed here is answered
    // `moved` (the gateway retries it at the new owner) instead of vanishing into a timeout.
    const subscription = subscriptions.get(shard);
    subscriptions.delete(shard);
    releasing.add(shard);
    try {
      const drained = subscription?.drain();
      await host.release((room) => shardOf(room, shardCount) === shard, { timeoutMs: handoffTimeoutMs, snapshot: mode !== 'lost' });
      await drained;
    } finally {
      // The lock is released after this returns, so the shard cannot have been served again yet.
      releasing.delete(shard);
    }
  };

  const processId = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  let nudges: Subscription | undefined;
  let stopWatchingBus = () => undefined as void;
  if (deps.ownership !== undefined) {
    const created = new ShardOwnership({
      connectionString: deps.ownership.connectionString,
      logger,
      options: { ...DEFAULT_SHARD_OWNERSHIP_OPTIONS, shardCount, namespace: lockNamespace(subjects.prefix), ...deps.ownership.options },
      acquire: serve,
      release: unserve,
      nudge() {
        try {
          bus.publish(subjects.roomsRebalance(), new TextEncoder().encode(processId));
        } catch {
          // bus closed while stopping: the peers' periodic check finds the change
        }
      },
    });
    nudges = await bus.subscribe(subjects.roomsRebalance(), (message) => {
      if (decoder.decode(message.data) !== processId) created.poke();
    });
    ownership = created;
    await created.start();
    let cutOff: NodeJS.Timeout | undefined;
    stopWatchingBus = bus.onStatus((status) => {
      if ((status.type === 'disconnected' || status.type === 'stale') && cutOff === undefined) {
        cutOff = setTimeout(() => void created.suspend(), deps.busGraceMs ?? 5000);
        cutOff.unref();
      } else if (status.type === 'reconnected') {
        if (cutOff !== undefined) clearTimeout(cutOff);
        cutOff = undefined;
        created.resume();
      }
    });
  } else {
    for (let shard = 0; shard < shardCount; shard++) await serve(shard);
  }
  const owns = (room: string) => subscriptions.has(shardOf(room, shardCount));
  const leases = new GatewayLeases({ bus, host, owns, logger, ...(deps.now !== undefined ? { now: deps.now } : {}), ...(deps.leases !== undefined ? { options: deps.leases } : {}) });
  await leases.start();
  logger.info({ shards: shardCount, owned: subscriptions.size, shared: ownership !== undefined }, 'rooms service ready');

  return {
    host,
    ownership,
    leases,
    ownedShards: () => [...subscriptions.keys()].sort((a, b) => a - b),
    async stop(timeoutMs = 5000) {
      leases.stop();
      stopWatchingBus();
      nudges?.unsubscribe();
      // Each owned shard: stop its commands, drain, snapshot, unlock — the peers take it over.
      await ownership?.stop();
      for (const subscription of subscriptions.values()) subscription.unsubscribe();
      subscriptions.clear();
      await host.stop(timeoutMs);
    },
  };
}
