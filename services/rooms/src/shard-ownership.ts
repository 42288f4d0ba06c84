/**
 * Shard ownership (DESIGN.md §6): this process owns a shard while it holds the Postgres
 * advisory lock `(namespace, shard)` on a connection of its own — not one from the pool, so
 * the lock lives exactly as long as that session. A process that dies loses its connection
 * and with it every lock, and the others take the shards over.
 *
 * Membership is a lock too: each process holds `(namespace + 1, its backend pid)` on the same
 * session, so `pg_locks` tells every process, with no clocks and no heartbeat timeouts, how
 * many processes are alive and who holds which shard. The desired share follows from that:
 * with N members sorted by backend pid, member i owns ⌊S/N⌋ shards, plus one if i < S mod N.
 *
 * Each tick (periodic, and at once when a peer nudges over the bus):
 * - a member over its share releases shards, but only as many as the others are missing, so a
 *   transient view never makes shards bounce (hand-off: stop taking the shard's commands, let
 *   in-flight commits finish, snapshot, then unlock — see `release` in the deps);
 * - a member under its share takes free shards with `pg_try_advisory_lock`, which arbitrates
 *   between members racing for the same shard;
 * - a shard that stays free longer than `orphanGraceMs` is taken by whoever sees it, over its
 *   share if need be (a member whose process hangs would otherwise leave it unowned), and the
 *   next ticks even the shares out again.
 *
 * Losing the lock session (an error, the server gone, a query past `queryTimeoutMs`) stops
 * every owned shard at once, before anything else, then the process rejoins with a new
 * session. A process that lost its lock without noticing still cannot fork a room: the
 * `(room_id, seq)` fence fails its next append (room-actor.ts).
 */
import pg from 'pg';
import type { Logger } from 'pino';

export interface ShardOwnershipOptions {
  shardCount: number;
  /** First key of the shard locks; membership locks use `namespace + 1`. */
  namespace: number;
  /** Period of the ownership check without nudges: bounds the failover detection time. */
  tickMs: number;
  /** A shard free for this long is taken even over the share. */
  orphanGraceMs: number;
  /** A lock-session query slower than this counts as a lost session. */
  queryTimeoutMs: number;
  /** Wait before opening a new lock session after losing one. */
  reconnectMs: number;
}

export const DEFAULT_SHARD_OWNERSHIP_OPTIONS: Readonly<Omit<ShardOwnershipOptions, 'namespace'>> = Object.freeze({
  shardCount: 64,
  tickMs: 1000,
  orphanGraceMs: 3000,
  queryTimeoutMs: 5000,
  reconnectMs: 1000,
});

export type ReleaseMode = 'handoff' | 'lost' | 'shutdown';

export interface ShardOwnershipDeps {
  connectionString: string;
  logger: Logger;
  options: ShardOwnershipOptions;
  /** Start serving a shard (subscribe to its commands). A throw gives the lock back. */
  acquire(shard: number): Promise<void>;
  /**
   * Stop serving a shard. Must stop taking its commands synchronously, before the first
   * await; `handoff` and `shutdown` then drain and snapshot, `lost` drops the actors at once.
   */
  release(shard: number, mode: ReleaseMode): Promise<void>;
  /** Tell the peers to look at the locks now (a bus publish); optional. */
  nudge?(): void;
}

/** The advisory-lock namespace of one deployment: processes on one bus prefix compete. */
export function lockNamespace(subjectPrefix: string): number {
  let hash = 0x811c9dc5;
  const text = `lectern-shards:${subjectPrefix}`;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  // Even and positive, so `namespace + 1` stays a positive int4 as well.
  return (hash >>> 0) & 0x7ffffffe;
}

/** The share of member `index` among `members`: ⌊S/N⌋, plus one for the first S mod N. */
export function shareOf(shardCount: number, members: number, index: number): number {
  if (members <= 0) return 0;
  return Math.floor(shardCount / members) + (index < shardCount % members ? 1 : 0);
}

interface LockView {
  members: number[];
  holders: Map<number, number>;
}

export interface OwnershipCounters {
  acquired: number;
  handedOff: number;
  lost: number;
}

export class ShardOwnership {
  readonly owned = new Set<number>();
  readonly counters: OwnershipCounters = { acquired: 0, handedOff: 0, lost: 0 };
  private client: pg.Client | undefined;
  private backendPid = 0;
  private timer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private suspended = false;
  private readonly freeSince = new Map<number, number>();

  constructor(private readonly deps: ShardOwnershipDeps) {}

  private get options(): ShardOwnershipOptions {
    return this.deps.options;
  }

  /** Joins (membership lock), takes a first share, then checks every `tickMs`. */
  async start(): Promise<void> {
    await this.connect();
    this.timer = setInterval(() => this.poke(), this.options.tickMs);
    this.timer.unref();
    this.deps.nudge?.();
    await this.tick();
  }

  /** Runs a tick soon; ticks never overlap, and a poke during one runs another after it. */
  poke(): void {
    if (this.stopped) return;
    if (this.ticking !== undefined) {
      this.again = true;
      return;
    }
    void this.tick();
  }

  /** Whether the lock session is up (readiness). */
  get connected(): boolean {
    return this.client !== undefined;
  }

  /** Resolves when no tick is running (tests). */
  async settled(): Promise<void> {
    while (this.ticking !== undefined) await this.ticking;
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.deps.connectionString,
      application_name: 'lectern-shard-locks',
      keepAlive: true,
      query_timeout: this.options.queryTimeoutMs,
      connectionTimeoutMillis: this.options.queryTimeoutMs,
    });
    client.on('error', (err) => this.lost(client, err));
    client.on('end', () => this.lost(client, new Error('the lock session ended')));
    let pid: number;
    try {
      await client.connect();
      const { rows } = await client.query<{ pid: number }>('select pg_backend_pid() as pid');
      pid = rows[0]!.pid;
      await client.query('select pg_advisory_lock($1::int4, $2::int4)', [this.options.namespace + 1, pid]);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    this.backendPid = pid;
    this.deps.logger.info({ backendPid: pid, namespace: this.options.namespace }, 'joined shard ownership');
  }

  /** The lock session is gone: every lock with it. Stop serving everything at once. */
  private lost(client: pg.Client, err: unknown): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners('end');
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    const shards = [...this.owned];
    this.owned.clear();
    this.counters.lost += shards.length;
    if (!this.stopped) this.deps.logger.error({ err, shards: shards.length }, 'lost the shard lock session: stopped serving its shards');
    for (const shard of shards) {
      this.deps.release(shard, 'lost').catch((releaseErr: unknown) => this.deps.logger.warn({ err: releaseErr, shard }, 'dropping a lost shard failed'));
    }
    if (this.stopped || this.suspended) return;
    this.deps.nudge?.();
    this.reconnectLater();
  }

  private reconnectLater(): void {
    if (this.stopped || this.reconnectTimer !== undefined) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.stopped || this.suspended) return;
      this.connect().then(
        () => this.poke(),
        (err: unknown) => {
          this.deps.logger.warn({ err }, 'reopening the shard lock session failed; retrying');
          this.reconnectLater();
        },
      );
    }, this.options.reconnectMs);
    this.reconnectTimer.unref();
  }

  private async tick(): Promise<void> {
    const run = (async () => {
      do {
        this.again = false;
        const client = this.client;
        if (client === undefined || this.stopped) return;
        try {
          await this.rebalance(client);
        } catch (err) {
          if (this.client === client) this.lost(client, err);
          return;
        }
      } while (this.again && !this.stopped);
    })();
    this.ticking = run;
    try {
      await run;
    } finally {
      if (this.ticking === run) this.ticking = undefined;
    }
  }

  private async view(client: pg.Client): Promise<LockView> {
    const { namespace } = this.options;
    const { rows } = await client.query<{ ns: string; key: string; pid: number }>(
      `select classid::int8 as ns, objid::int8 as key, pid from pg_locks
        where locktype = 'advisory' and objsubid = 2 and granted
          and database = (select oid from pg_database where datname = current_database())
          and classid::int8 in ($1::int8, $2::int8)`,
      [namespace, namespace + 1],
    );
    const members: number[] = [];
    const holders = new Map<number, number>();
    for (const row of rows) {
      if (Number(row.ns) === namespace + 1) members.push(row.pid);
      else holders.set(Number(row.key), row.pid);
    }
    members.sort((a, b) => a - b);
    return { members, holders };
  }

  private async rebalance(client: pg.Client): Promise<void> {
    const { shardCount } = this.options;
    const { members, holders } = await this.view(client);
    const me = this.backendPid;
    if (!members.includes(me)) throw new Error('the membership lock is gone');
    // Locks we think we hold but do not: stop at once (cannot happen while the session lives).
    for (const shard of [...this.owned]) {
      if (holders.get(shard) !== me) {
        this.owned.delete(shard);
        this.counters.lost++;
        this.deps.logger.error({ shard }, 'shard lock not held any more: stopped serving it');
        await this.deps.release(shard, 'lost');
      }
    }
    const index = members.indexOf(me);
    const share = shareOf(shardCount, members.length, index);
    const counts = new Map<number, number>(members.map((pid) => [pid, 0]));
    for (const pid of holders.values()) counts.set(pid, (counts.get(pid) ?? 0) + 1);
    const now = Date.now();
    for (let shard = 0; shard < shardCount; shard++) {
      if (holders.has(shard)) this.freeSince.delete(shard);
      else if (!this.freeSince.has(shard)) this.freeSince.set(shard, now);
    }

    let changed = false;
    if (this.owned.size > share) {
      // Only as many as the other members are missing: nobody would take the rest.
      let missing = 0;
      members.forEach((pid, i) => {
        if (pid !== me) missing += Math.max(0, shareOf(shardCount, members.length, i) - (counts.get(pid) ?? 0));
      });
      const excess = Math.min(this.owned.size - share, Math.max(0, missing - (shardCount - holders.size)));
      if (excess > 0) {
        const give = [...this.owned].sort((a, b) => b - a).slice(0, excess);
        await this.handOff(client, give);
        changed = true;
      }
    }

    const free: number[] = [];
    // Start at this member's slice of the ring, so racing members mostly try different shards.
    const offset = Math.floor((index * shardCount) / Math.max(1, members.length));
    for (let i = 0; i < shardCount; i++) {
      const shard = (offset + i) % shardCount;
      if (!holders.has(shard) && !this.owned.has(shard)) free.push(shard);
    }
    for (const shard of free) {
      const orphaned = now - (this.freeSince.get(shard) ?? now) >= this.options.orphanGraceMs;
      if (this.owned.size >= share && !orphaned) continue;
      const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1::int4, $2::int4) as locked', [this.options.namespace, shard]);
      if (!rows[0]!.locked) continue;
      this.owned.add(shard);
      try {
        await this.deps.acquire(shard);
        this.counters.acquired++;
        changed = true;
      } catch (err) {
        this.owned.delete(shard);
        this.deps.logger.warn({ err, shard }, 'could not start serving a shard: giving it back');
        await client.query('select pg_advisory_unlock($1::int4, $2::int4)', [this.options.namespace, shard]);
      }
    }
    if (changed) {
      this.deps.logger.info({ owned: this.owned.size, share, members: members.length }, 'shard ownership changed');
      this.deps.nudge?.();
    }
  }

  /** Releases shards gracefully: stop their commands, drain, snapshot, then unlock each. */
  private async handOff(client: pg.Client, shards: number[]): Promise<void> {
    const started = Date.now();
    for (const shard of shards) this.owned.delete(shard);
    // Shards drain in parallel; each is unlocked as soon as it is drained, one query at a time
    // on the lock session (a pg client runs one query at a time anyway).
    let unlocks: Promise<unknown> = Promise.resolve();
    await Promise.all(
      shards.map(async (shard) => {
        try {
          await this.deps.release(shard, 'handoff');
        } catch (err) {
          this.deps.logger.warn({ err, shard }, 'draining a shard for hand-off failed; releasing it anyway');
        }
        unlocks = unlocks.then(() => client.query('select pg_advisory_unlock($1::int4, $2::int4)', [this.options.namespace, shard]));
        await unlocks;
        this.counters.handedOff++;
      }),
    );
    this.deps.logger.info({ shards: shards.length, ms: Date.now() - started }, 'shards handed off');
  }

  /**
   * Leaves the share for now (this process cannot serve: its bus is down): hands every shard
   * off and ends the lock session, membership included, so the peers divide the shards among
   * themselves. `resume` joins again.
   */
  async suspend(): Promise<void> {
    if (this.suspended || this.stopped) return;
    this.suspended = true;
    // Taken now: a `resume` during the drain opens a new session, which must survive this.
    const client = this.client;
    this.client = undefined;
    await this.settled().catch(() => undefined);
    const shards = [...this.owned];
    this.owned.clear();
    await Promise.all(shards.map((shard) => this.deps.release(shard, 'handoff').catch(() => undefined)));
    this.counters.handedOff += shards.length;
    if (client !== undefined) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
    this.deps.logger.warn({ shards: shards.length }, 'left the shard share until this process can serve again');
  }

  resume(): void {
    if (!this.suspended || this.stopped) return;
    this.suspended = false;
    this.connect().then(
      () => this.poke(),
      (err: unknown) => {
        this.deps.logger.warn({ err }, 'rejoining the shard share failed; retrying');
        this.reconnectLater();
      },
    );
  }

  /** Stops serving every shard (drain + snapshot), then ends the session: peers take over. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    await this.settled().catch(() => undefined);
    const shards = [...this.owned];
    this.owned.clear();
    await Promise.all(shards.map((shard) => this.deps.release(shard, 'shutdown').catch(() => undefined)));
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      client.removeAllListeners('end');
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
    this.deps.nudge?.();
  }
}
