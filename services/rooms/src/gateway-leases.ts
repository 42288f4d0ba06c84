/**
 * Presence that cannot go stale (DESIGN.md §7): gateways announce themselves every 2 s on
 * `<prefix>.gw.announce` with the rooms they have members in (lease-announcer.ts in the
 * gateway). Every rooms process listens to every announcement; when a gateway has been
 * silent for `leaseMs`, the owner of each room it had members in sends that room a
 * `gateway_down` command, and the room appends `user_left` (reason `timeout`) for each of the
 * gateway's connections.
 *
 * The rooms come from two places, so neither a failover nor a restart leaves ghosts:
 * - the gateway's own announcements (the rooms this process owns now, active or not: a shard
 *   that just moved here has no actors yet);
 * - the active actors' participants: a room whose members sit on a gateway this process has
 *   not heard from for `leaseMs` of listening (it died before this process started, or before
 *   the shard moved here) is cleaned up the same way.
 *
 * A restarted gateway gets a fresh id (`newGatewayId`), so its new connections never share an
 * id or a lease with the dead incarnation's.
 */
import { decodeReply, type GatewayDownCommand } from '@lectern/protocol';
import type { Bus, Subscription } from '@lectern/bus';
import type { Logger } from 'pino';
import type { ActorHost } from './actor-host.js';

export interface GatewayLeaseOptions {
  /** A gateway silent this long is down (DESIGN.md §7: 10 s, five missed announcements). */
  leaseMs: number;
  /** How often leases are checked. */
  checkEveryMs: number;
  /** A down gateway is remembered this long, for rooms that move here later. */
  rememberDownMs: number;
}

export const DEFAULT_GATEWAY_LEASE_OPTIONS: Readonly<GatewayLeaseOptions> = Object.freeze({
  leaseMs: 10_000,
  checkEveryMs: 1000,
  rememberDownMs: 10 * 60_000,
});

/** What a gateway publishes on `<prefix>.gw.announce`. */
export interface GatewayAnnouncement {
  gateway: string;
  /** Rooms with local members (one announcement may be split in parts). */
  rooms: string[];
  /** The gateway is stopping cleanly: it has left its rooms itself. */
  leaving?: boolean;
}

interface Lease {
  lastSeen: number;
  /** Rooms announced, with when they were last announced. */
  rooms: Map<string, number>;
}

export interface GatewayLeasesDeps {
  bus: Bus;
  host: ActorHost;
  /** Whether this process owns the room's shard now. */
  owns(room: string): boolean;
  logger: Logger;
  now?: () => number;
  options?: Partial<GatewayLeaseOptions>;
}

const decoder = new TextDecoder();

export class GatewayLeases {
  private readonly leases = new Map<string, Lease>();
  /** Down gateways → when declared down, and the rooms still to clean (owned elsewhere so far). */
  private readonly down = new Map<string, { since: number; rooms: Set<string> }>();
  /** Rooms with a `gateway_down` in flight, per gateway: never two at once. */
  private readonly inFlight = new Set<string>();
  private subscription: Subscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private listeningSince = 0;
  private lastCheck = 0;
  private readonly options: GatewayLeaseOptions;
  private readonly now: () => number;
  /** Gateways declared down (metrics). */
  expired = 0;

  constructor(private readonly deps: GatewayLeasesDeps) {
    this.options = { ...DEFAULT_GATEWAY_LEASE_OPTIONS, ...deps.options };
    this.now = deps.now ?? Date.now;
  }

  async start(): Promise<void> {
    this.subscription = await this.deps.bus.subscribe(this.deps.bus.subjects.gatewayAnnounce(), (message) => {
      let announcement: GatewayAnnouncement;
      try {
        announcement = JSON.parse(decoder.decode(message.data)) as GatewayAnnouncement;
      } catch {
        return;
      }
      if (typeof announcement.gateway !== 'string' || !Array.isArray(announcement.rooms)) return;
      this.announced(announcement);
    });
    this.listeningSince = this.now();
    this.lastCheck = this.listeningSince;
    this.timer = setInterval(() => this.check(), this.options.checkEveryMs);
    this.timer.unref();
  }

  announced(announcement: GatewayAnnouncement): void {
    const now = this.now();
    if (announcement.leaving === true) {
      this.leases.delete(announcement.gateway);
      return;
    }
    let lease = this.leases.get(announcement.gateway);
    if (lease === undefined) this.leases.set(announcement.gateway, (lease = { lastSeen: now, rooms: new Map() }));
    lease.lastSeen = now;
    for (const room of announcement.rooms) if (typeof room === 'string') lease.rooms.set(room, now);
    // A gateway announced again after it was declared down keeps its fresh connections; the
    // old ones are gone already (its id is new per incarnation, so this is a partition heal).
    this.down.delete(announcement.gateway);
  }

  /** Whether the gateway's lease is alive (tests and inspection). */
  isAlive(gateway: string): boolean {
    const lease = this.leases.get(gateway);
    return lease !== undefined && this.now() - lease.lastSeen < this.options.leaseMs;
  }

  check(): void {
    const now = this.now();
    const { leaseMs } = this.options;
    // A stall of this process (a blocked event loop, a GC pause, CPU starvation) is not the
    // gateways' silence: their announcements are waiting in our socket. Time we were not
    // checking does not count against any lease.
    const stalled = now - this.lastCheck - 2 * this.options.checkEveryMs;
    this.lastCheck = now;
    if (stalled > 0 && this.timer !== undefined) {
      for (const lease of this.leases.values()) lease.lastSeen += stalled;
      this.listeningSince += stalled;
    }
    for (const [gateway, lease] of this.leases) {
      // Rooms not announced for a while were left: forget them.
      for (const [room, seen] of lease.rooms) if (now - seen > 2 * leaseMs) lease.rooms.delete(room);
      if (now - lease.lastSeen < leaseMs) continue;
      this.leases.delete(gateway);
      this.expired++;
      this.deps.logger.info({ gateway, silentMs: now - lease.lastSeen, rooms: lease.rooms.size }, 'gateway lease expired: its connections time out');
      this.down.set(gateway, { since: now, rooms: new Set(lease.rooms.keys()) });
    }
    // Participants on gateways never heard from in a full lease of listening.
    if (now - this.listeningSince >= leaseMs) {
      for (const [room, actor] of this.deps.host.rooms()) {
        for (const gateway of actor.gateways()) {
          if (this.leases.has(gateway)) continue;
          let entry = this.down.get(gateway);
          if (entry === undefined) {
            this.deps.logger.info({ gateway, room }, 'room has members on a gateway with no lease: they time out');
            this.down.set(gateway, (entry = { since: now, rooms: new Set() }));
          }
          entry.rooms.add(room);
        }
      }
    }
    for (const [gateway, entry] of this.down) {
      if (now - entry.since > this.options.rememberDownMs) {
        this.down.delete(gateway);
        continue;
      }
      for (const room of entry.rooms) {
        if (!this.deps.owns(room)) continue; // its owner cleans it; if it moves here, we will
        this.sendDown(gateway, room, entry.rooms);
      }
    }
  }

  private sendDown(gateway: string, room: string, pending: Set<string>): void {
    const key = `${gateway}\n${room}`;
    if (this.inFlight.has(key)) return;
    this.inFlight.add(key);
    const command: GatewayDownCommand = { kind: 'gateway_down', room, gateway, cid: `lease-${gateway}` };
    this.deps.host.dispatch(room, command, (bytes) => {
      this.inFlight.delete(key);
      const { reply } = decodeReply(bytes);
      if (reply.ok) pending.delete(room);
      else this.deps.logger.debug({ gateway, room, code: reply.code }, 'gateway_down not applied yet; retrying');
    });
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.subscription?.unsubscribe();
  }
}
