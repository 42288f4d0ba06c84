import type { ConnectionSpec } from './messages.js';

export type ScenarioName = 'rooms' | 'lecture' | 'burst' | 'idle' | 'presence';
export const SCENARIOS: readonly ScenarioName[] = ['rooms', 'lecture', 'burst', 'idle', 'presence'];

/** Knobs a scenario reads; every one has a default in SCENARIO_DEFAULTS. */
export interface ScenarioParameters {
  rooms?: number;
  members?: number;
  /** Per-sender send interval in ms (rooms). */
  intervalMs?: number;
  /** Total connections (lecture, idle). */
  connections?: number;
  /** Total chat messages per second into the server (lecture, burst). */
  rate?: number;
  /** Connections that send (lecture). */
  senders?: number;
  /** Seconds over which every member joins (presence): the connect rate is connections / this. */
  joinWindowSeconds?: number;
}

export const SCENARIO_DEFAULTS: Record<ScenarioName, Required<ScenarioParameters>> = {
  // 200 rooms × 10 members, one message every 2 s each → 1,000 msg/s in, 10,000 deliveries/s.
  rooms: { rooms: 200, members: 10, intervalMs: 2000, connections: 0, rate: 0, senders: 0, joinWindowSeconds: 0 },
  // One room of 2,000 receiving 20 msg/s from 4 senders (5/s each) → 40,000 deliveries/s.
  lecture: { rooms: 1, members: 2000, intervalMs: 0, connections: 2000, rate: 20, senders: 4, joinWindowSeconds: 0 },
  // 5,000 msg/s over 100 rooms of 5, every member sending 10/s (under the 20/s per-connection limit).
  burst: { rooms: 100, members: 5, intervalMs: 0, connections: 0, rate: 5000, senders: 0, joinWindowSeconds: 0 },
  // 10,000 idle connections, rooms of 10.
  idle: { rooms: 0, members: 10, intervalMs: 0, connections: 10_000, rate: 0, senders: 0, joinWindowSeconds: 0 },
  // A presence storm: one room of 5,000 that everyone joins within 10 s; nobody chats.
  presence: { rooms: 1, members: 5000, intervalMs: 0, connections: 5000, rate: 0, senders: 0, joinWindowSeconds: 10 },
};

/** PROTOCOL.md §2: 20 requests per second per connection (burst 40). */
export const PROTOCOL_RATE_PER_CONNECTION = 20;

export interface Plan {
  scenario: ScenarioName;
  parameters: Required<ScenarioParameters>;
  /** Every connection; a room's members are the connections naming it. */
  connections: ConnectionSpec[];
  membersByRoom: Record<string, number>;
  senderCount: number;
  /** Each sender sends once per interval; 0 when nobody sends. */
  intervalMs: number;
  /** Planned chat messages per second into the server. */
  plannedRate: number;
  roomPattern: string;
  warnings: string[];
}

/** A short id, unique per run, so rooms start at seq 0 even against a server that keeps its log. */
export function newRunId(): string {
  return Date.now().toString(36) + Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0');
}

export function planScenario(scenario: ScenarioName, given: ScenarioParameters, runId: string): Plan {
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined));
  const p: Required<ScenarioParameters> = { ...SCENARIO_DEFAULTS[scenario], ...defined };
  const prefix = `lt-${runId}`;
  const room = (i: number) => `${prefix}-r${i}`;
  const user = (i: number) => `${prefix}-u${i}`;
  const connections: ConnectionSpec[] = [];
  const warnings: string[] = [];
  let intervalMs = 0;
  let senderCount = 0;

  // Connections are listed member-major (room 0..R-1 for member 0, then member 1, ...), so a
  // ramp that walks the list fills every room evenly instead of one room at a time.
  const fillRooms = (rooms: number, members: number, everyoneSends: boolean) => {
    senderCount = everyoneSends ? rooms * members : 0;
    for (let m = 0; m < members; m++) {
      for (let r = 0; r < rooms; r++) {
        const index = m * rooms + r;
        connections.push({
          user: user(index),
          room: room(r),
          // Spread the senders' phases evenly over the interval: a steady rate, not a pulse.
          sendOffsetMs: everyoneSends ? (index / senderCount) * intervalMs : -1,
        });
      }
    }
  };

  switch (scenario) {
    case 'rooms':
      intervalMs = p.intervalMs;
      fillRooms(p.rooms, p.members, true);
      break;
    case 'burst':
      intervalMs = (p.rooms * p.members * 1000) / p.rate;
      fillRooms(p.rooms, p.members, true);
      break;
    case 'idle': {
      const rooms = Math.ceil(p.connections / p.members);
      p.rooms = rooms;
      for (let i = 0; i < p.connections; i++) {
        connections.push({ user: user(i), room: room(i % rooms), sendOffsetMs: -1 });
      }
      break;
    }
    case 'presence': {
      p.rooms = 1;
      p.members = p.connections;
      for (let i = 0; i < p.connections; i++) connections.push({ user: user(i), room: room(0), sendOffsetMs: -1 });
      break;
    }
    case 'lecture': {
      p.rooms = 1;
      p.members = p.connections;
      senderCount = Math.min(p.senders, p.connections);
      intervalMs = (senderCount * 1000) / p.rate;
      // Senders are spread through the join order, so some joined early and some late.
      const stride = Math.floor(p.connections / senderCount);
      for (let i = 0; i < p.connections; i++) {
        const slot = i % stride === 0 ? i / stride : -1;
        connections.push({
          user: user(i),
          room: room(0),
          sendOffsetMs: slot >= 0 && slot < senderCount ? (slot / senderCount) * intervalMs : -1,
        });
      }
      break;
    }
  }

  const membersByRoom: Record<string, number> = {};
  for (const c of connections) membersByRoom[c.room] = (membersByRoom[c.room] ?? 0) + 1;
  const plannedRate = intervalMs > 0 ? (senderCount * 1000) / intervalMs : 0;
  if (intervalMs > 0 && 1000 / intervalMs > PROTOCOL_RATE_PER_CONNECTION) {
    warnings.push(
      `each sender sends ${(1000 / intervalMs).toFixed(1)} msg/s, above the protocol's default ` +
        `${PROTOCOL_RATE_PER_CONNECTION}/s per connection: expect rate_limited errors (add members or senders)`,
    );
  }
  return {
    scenario,
    parameters: p,
    connections,
    membersByRoom,
    senderCount,
    intervalMs,
    plannedRate,
    roomPattern: `${prefix}-*`,
    warnings,
  };
}
