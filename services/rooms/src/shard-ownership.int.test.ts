/**
 * Shard ownership through advisory locks, the `(room_id, seq)` fence between two writers, and
 * gateway leases — against the real Postgres (in-process bus: ownership itself lives in
 * Postgres; the bus only carries nudges and commands).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import pino from 'pino';
import { createMemoryBroker, shardOf, type MemoryBroker } from '@lectern/bus';
import { createPostgresEventStore, type KyselyEventStore } from '@lectern/event-store';
import { createTestSchema, hasPostgres, uniqueSubjectPrefix } from '@lectern/test-support';
import { decodeReply, type RoomCommand, type UserRef } from '@lectern/protocol';
import { startRoomsService, type RoomsService } from './rooms-service.js';
import { ActorHost } from './actor-host.js';
import { DEFAULT_ROOMS_OPTIONS } from './options.js';
import { lockNamespace, shareOf } from './shard-ownership.js';

const postgres = await hasPostgres();
const logger = pino({ level: process.env.LECTERN_TEST_LOG_LEVEL ?? 'silent' });
const user = (id: string): UserRef => ({ id, name: id, role: 'learner' });

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 15_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.runIf(postgres)('shard ownership (Postgres advisory locks)', () => {
  let schema: Awaited<ReturnType<typeof createTestSchema>>;
  let store: KyselyEventStore;
  let broker: MemoryBroker;
  const prefix = uniqueSubjectPrefix();
  const services: RoomsService[] = [];

  beforeAll(async () => {
    schema = await createTestSchema('own');
    const client = new pg.Client({ connectionString: schema.url });
    await client.connect();
    // Kysely's migrator looks for its tables in every schema (see services/cli/test/processes.ts).
    await client.query(`create table if not exists "${schema.schema}".event_store_migration (name varchar(255) not null primary key, timestamp varchar(255) not null)`);
    await client.query(`create table if not exists "${schema.schema}".event_store_migration_lock (id varchar(255) not null primary key, is_locked integer not null default 0)`);
    await client.end();
    store = createPostgresEventStore({ connectionString: schema.url });
    await store.migrate();
    broker = createMemoryBroker();
  });

  afterAll(async () => {
    for (const service of services) await service.stop(1000).catch(() => undefined);
    await store?.close();
    await schema?.drop();
  });

  const start = async () => {
    const service = await startRoomsService({
      bus: broker.connect({ prefix, shardCount: 16 }),
      store,
      logger,
      ownership: { connectionString: schema.url, options: { tickMs: 200, orphanGraceMs: 600, reconnectMs: 200 } },
    });
    services.push(service);
    return service;
  };

  const disjointCover = (list: RoomsService[]) => {
    const all = list.flatMap((service) => service.ownedShards());
    return all.length === 16 && new Set(all).size === 16;
  };

  it('shares the shards evenly, rebalances on join and leave, and drops everything when the lock session dies', async () => {
    const a = await start();
    await until(() => a.ownedShards().length === 16, 5000, 'a alone owns every shard');
    const b = await start();
    const c = await start();
    await until(() => disjointCover([a, b, c]) && [a, b, c].every((s) => s.ownedShards().length >= 5), 10_000, 'three-way share');
    expect([a, b, c].map((s) => s.ownedShards().length).sort()).toEqual([5, 5, 6]);

    // A room keeps working across the hand-off: its state comes from snapshot + log.
    const room = 'handoff-room';
    const shard = shardOf(room, 16);
    const ownerOf = () => [a, b, c].find((s) => s.ownedShards().includes(shard))!;
    const send = (service: RoomsService, command: RoomCommand) =>
      new Promise<ReturnType<typeof decodeReply>['reply']>((resolve) => service.host.dispatch(room, command, (bytes) => resolve(decodeReply(bytes).reply)));
    const first = ownerOf();
    expect(await send(first, { kind: 'join', room, connection: { id: 'g-1', gateway: 'g' }, user: user('ann') })).toMatchObject({ ok: true, seq: 1 });

    await b.stop(2000);
    services.splice(services.indexOf(b), 1);
    await until(() => disjointCover([a, c]) && a.ownedShards().length === 8, 10_000, 'two-way share after b left');
    const second = ownerOf();
    expect(await send(second, { kind: 'chat', room, connection: { id: 'g-1', gateway: 'g' }, user: user('ann'), text: 'still here' })).toMatchObject({ ok: true, seq: 2 });

    // Kill a's lock session from outside: it stops serving at once, c takes everything, then
    // a rejoins with a new session and the shares even out again.
    const admin = new pg.Client({ connectionString: schema.url });
    await admin.connect();
    try {
      const ns = lockNamespace(prefix);
      const { rows } = await admin.query<{ pid: number }>(
        `select pid from pg_locks where locktype = 'advisory' and classid::int8 = $1 and objid::int8 = $2 and granted`,
        [ns, a.ownedShards()[0]!],
      );
      await admin.query('select pg_terminate_backend($1)', [rows[0]!.pid]);
    } finally {
      await admin.end();
    }
    await until(() => a.ownedShards().length === 0 || c.ownedShards().length === 16, 5000, 'a drops its shards');
    await until(() => disjointCover([a, c]) && a.ownedShards().length === 8, 15_000, 'a rejoins');
    expect(a.ownership!.counters.lost).toBeGreaterThan(0);

    // A process cut from its bus leaves the share; back on it, it rejoins.
    await a.ownership!.suspend();
    expect(a.ownedShards()).toEqual([]);
    await until(() => c.ownedShards().length === 16, 10_000, 'c takes the suspended shards');
    a.ownership!.resume();
    await until(() => disjointCover([a, c]) && a.ownedShards().length === 8, 15_000, 'a rejoins after resume');
    expect(await store.readRoom(room, 0, 10)).toHaveLength(2);
  });

  it('shareOf spreads the remainder over the first members', () => {
    expect([0, 1, 2].map((i) => shareOf(64, 3, i))).toEqual([22, 21, 21]);
    expect(shareOf(64, 1, 0)).toBe(64);
  });

  it('two owners of one room (a stale owner): the fence holds, the log has no fork', async () => {
    const room = 'fenced-room';
    const env = (name: string) => ({ store, options: DEFAULT_ROOMS_OPTIONS, logger: logger.child({ host: name }), now: Date.now, publish: () => undefined });
    const one = new ActorHost(env('one'));
    const two = new ActorHost(env('two'));
    const connection = (host: string) => ({ id: `${host}-c`, gateway: host });
    const send = (host: ActorHost, name: string, command: RoomCommand) =>
      new Promise<ReturnType<typeof decodeReply>['reply']>((resolve) => host.dispatch(room, command, (bytes) => resolve(decodeReply(bytes).reply)));
    // Both believe they own the room; both keep deciding on what they last loaded.
    const replies: { mid: string; ok: boolean }[] = [];
    for (const [host, name] of [[one, 'one'], [two, 'two']] as const) {
      expect((await send(host, name, { kind: 'join', room, connection: connection(name), user: user(name) })).ok).toBe(true);
    }
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      for (const [host, name] of [[one, 'one'], [two, 'two']] as const) {
        const mid = `${name}-${i}`;
        pending.push(
          send(host, name, { kind: 'chat', room, connection: connection(name), user: user(name), text: mid, mid }).then((reply) => {
            replies.push({ mid, ok: reply.ok });
          }),
        );
      }
    }
    await Promise.all(pending);
    const log = await store.readRoom(room, 0, 1000);
    expect(log.map((event) => event.seq)).toEqual(log.map((_, i) => i + 1));
    const chats = log.filter((event) => event.type === 'chat_message').map((event) => (event.data as { mid: string }).mid);
    expect(new Set(chats).size).toBe(chats.length); // nothing twice
    for (const { mid, ok } of replies) if (ok) expect(chats).toContain(mid); // everything acked is there
    expect(replies.some((reply) => !reply.ok)).toBe(true); // the fence did refuse someone
    await one.stop(1000);
    await two.stop(1000);
  });

  it('a gateway silent for the lease: its connections leave with timeout; a live one keeps them', async () => {
    let clock = Date.now();
    const service = await startRoomsService({ bus: broker.connect({ prefix: `${prefix}l`, shardCount: 16 }), store, logger, now: () => clock, leases: { checkEveryMs: 60_000 } });
    services.push(service);
    const room = 'lease-room';
    const send = (command: RoomCommand) =>
      new Promise<ReturnType<typeof decodeReply>['reply']>((resolve) => service.host.dispatch(room, command, (bytes) => resolve(decodeReply(bytes).reply)));
    service.leases.announced({ gateway: 'gwdead', rooms: [room] });
    service.leases.announced({ gateway: 'gwlive', rooms: [room] });
    await send({ kind: 'join', room, connection: { id: 'gwdead-1', gateway: 'gwdead' }, user: user('dora') });
    await send({ kind: 'join', room, connection: { id: 'gwlive-1', gateway: 'gwlive' }, user: user('liv') });
    clock += 6000;
    service.leases.announced({ gateway: 'gwlive', rooms: [room] });
    service.leases.check();
    clock += 5000; // gwdead silent for 11 s, gwlive for 5 s
    service.leases.check();
    await until(async () => (await store.readRoom(room, 0, 10)).length === 3, 5000, 'user_left timeout');
    const left = (await store.readRoom(room, 0, 10))[2]!;
    expect(left.type).toBe('user_left');
    expect(left.data).toMatchObject({ user: { id: 'dora' }, reason: 'timeout' });
    expect(service.leases.isAlive('gwlive')).toBe(true);
  });
});
