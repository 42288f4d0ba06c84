/**
 * Invariants over arbitrary command sequences: several users with arbitrary roles, several
 * connections each on a few gateways, arbitrary reasons, mids and session changes, and time
 * that never goes backwards (sometimes by more than the dedupe window).
 */
import fc from 'fast-check';
import type { LeaveReason, RoomCommand, SessionState, UserRef } from '@lectern/protocol';
import { LEAVE_REASONS, ROLES, SESSION_STATES } from '@lectern/protocol';
import { describe, expect, it } from 'vitest';
import { fold, Room, type Decision, type LoggedEvent, type RoomOptions, type RoomSnapshot } from './index.js';

const ROOM = 'prop-room';
const USERS = 4;
const CONNECTIONS_PER_USER = 3;
const GATEWAYS = 3;
const OPTIONS: Partial<RoomOptions> = { historySize: 5, dedupeWindowMs: 3000 };

const connectionId = (user: number, index: number) => `u${user}-c${index}`;
const gatewayOf = (user: number, index: number) => `gw-${(user + index) % GATEWAYS}`;

/**
 * A command before it knows the users' roles (drawn once per run) and the room: most
 * commands that need a joined connection pick one the user holds, so that runs get past
 * `not_joined` into chat, dedupe and session changes; the rest pick any connection.
 */
type Make = (people: UserRef[], room: Room) => RoomCommand;
type Step = { delay: number; make: Make };

const userIndex = fc.nat({ max: USERS - 1 });
const connectionIndex = fc.nat({ max: CONNECTIONS_PER_USER - 1 });
const preferHeld = fc.boolean().chain((any) => (any ? fc.constant(false) : fc.oneof(fc.constant(true), fc.constant(true), fc.constant(false))));

const anyConnection = (user: number, index: number) => ({ id: connectionId(user, index), gateway: gatewayOf(user, index) });

function connectionFor(room: Room, user: number, index: number, held: boolean) {
  if (!held) return anyConnection(user, index);
  const indexes = Array.from({ length: CONNECTIONS_PER_USER }, (_, c) => c).filter((c) => room.hasConnection(connectionId(user, c)));
  return anyConnection(user, indexes.length === 0 ? index : indexes[index % indexes.length]!);
}

const target = fc.record({ u: userIndex, c: connectionIndex, held: preferHeld });

const command: fc.Arbitrary<Make> = fc.oneof(
  { weight: 4, arbitrary: target.map(({ u, c }): Make => (people) => ({ kind: 'join', room: ROOM, user: people[u]!, connection: anyConnection(u, c) })) },
  {
    weight: 2,
    arbitrary: fc.tuple(target, fc.constantFrom<LeaveReason>(...LEAVE_REASONS)).map(
      ([{ u, c, held }, reason]): Make => (people, room) => ({ kind: 'leave', room: ROOM, user: people[u]!, connection: connectionFor(room, u, c, held), reason }),
    ),
  },
  {
    weight: 8,
    arbitrary: fc.tuple(target, fc.option(fc.constantFrom('m1', 'm2', 'm3'), { nil: undefined }), fc.string({ minLength: 1, maxLength: 5 })).map(
      ([{ u, c, held }, mid, text]): Make => (people, room) => {
        const chat: RoomCommand = { kind: 'chat', room: ROOM, user: people[u]!, connection: connectionFor(room, u, c, held), text };
        if (mid !== undefined) chat.mid = mid;
        return chat;
      },
    ),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(
        target,
        fc.option(fc.constantFrom<SessionState>(...SESSION_STATES), { nil: undefined }),
        fc.option(fc.dictionary(fc.constantFrom('slide', 'topic'), fc.oneof(fc.integer(), fc.string())), { nil: undefined }),
      )
      .map(([{ u, c, held }, state, data]): Make => (people, room) => {
        const update: RoomCommand = { kind: 'session_update', room: ROOM, user: people[u]!, connection: connectionFor(room, u, c, held) };
        if (state !== undefined) update.state = state;
        if (data !== undefined) update.data = data;
        return update;
      }),
  },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 5 }).map((body): Make => (people) => ({ kind: 'notify', room: ROOM, user: people[0]!, data: { body } })) },
  { weight: 1, arbitrary: fc.nat({ max: GATEWAYS - 1 }).map((g): Make => () => ({ kind: 'gateway_down', room: ROOM, gateway: `gw-${g}` })) },
  { weight: 1, arbitrary: fc.constant((): RoomCommand => ({ kind: 'inspect', room: ROOM })) },
);

const step: fc.Arbitrary<Step> = fc.record({
  // Mostly well inside the 3 s dedupe window, sometimes most of it.
  delay: fc.oneof(fc.constant(0), fc.nat({ max: 400 }), fc.integer({ min: 900, max: 2500 })),
  make: command,
});

const scenario = fc.record({
  roles: fc.array(fc.constantFrom(...ROLES), { minLength: USERS, maxLength: USERS }),
  steps: fc.array(step, { minLength: 1, maxLength: 150, size: 'max' }),
  /** Before which step to take the mid-way snapshot (modulo the run's length + 1). */
  cut: fc.nat(),
});

interface Run {
  commands: { command: RoomCommand; now: number }[];
  decisions: Decision[];
  log: LoggedEvent[];
  live: Room;
  /** Snapshot after `cutStep` commands, and how many events the log had then. */
  cutStep: number;
  cutSnapshot: RoomSnapshot;
  cutLogLength: number;
}

function run({ roles, steps, cut }: { roles: UserRef['role'][]; steps: Step[]; cut: number }, check?: (room: Room) => void): Run {
  const people: UserRef[] = roles.map((role, i) => ({ id: `user-${i}`, name: `User ${i}`, role }));
  const live = Room.create(ROOM, OPTIONS);
  const cutStep = cut % (steps.length + 1);
  let cutSnapshot = live.toSnapshot();
  let cutLogLength = 0;
  const commands: Run['commands'] = [];
  const decisions: Decision[] = [];
  const log: LoggedEvent[] = [];
  let now = 1_700_000_000_000;
  steps.forEach(({ delay, make }, index) => {
    if (index === cutStep) {
      cutSnapshot = live.toSnapshot();
      cutLogLength = log.length;
    }
    now += delay;
    const command = make(people, live);
    const decision = live.decide(command, now);
    commands.push({ command, now });
    decisions.push(decision);
    if (decision.ok) log.push(...decision.events);
    check?.(live);
  });
  if (cutStep >= steps.length) {
    cutSnapshot = live.toSnapshot();
    cutLogLength = log.length;
  }
  return { commands, decisions, log, live, cutStep, cutSnapshot, cutLogLength };
}

const RUNS = { numRuns: 300 };

describe('room invariants, for any command sequence', () => {
  it('produces gapless seqs starting at 1, and answers with the seq of the last event', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { decisions, log, live } = run(s);
        expect(log.map((e) => e.event.seq)).toEqual(log.map((_, i) => i + 1));
        expect(live.seq).toBe(log.length);
        for (const decision of decisions) {
          if (decision.ok && decision.events.length > 0) expect(decision.seq).toBe(decision.events.at(-1)!.event.seq);
        }
      }),
      RUNS,
    );
  });

  it('never lets a connection count go negative, and keeps counts, connections and userCount in step', () => {
    const allConnections = Array.from({ length: USERS }, (_, u) => Array.from({ length: CONNECTIONS_PER_USER }, (_, c) => connectionId(u, c)));
    fc.assert(
      fc.property(scenario, (s) => {
        const { log } = run(s, (room) => {
          const participants = room.participants();
          expect(room.userCount).toBe(participants.length);
          for (const p of participants) expect(p.connections).toBeGreaterThan(0);
          allConnections.forEach((ids, u) => {
            const held = ids.filter((id) => room.hasConnection(id)).length;
            expect(room.connectionsOf(`user-${u}`)).toBe(held);
          });
        });
        for (const { event } of log) {
          if (event.type === 'user_joined' || event.type === 'user_left') expect(event.connections).toBeGreaterThanOrEqual(0);
        }
      }),
      RUNS,
    );
  });

  it('folds the log back into the live room, from scratch and from a mid-way snapshot', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { log, live, cutSnapshot, cutLogLength } = run(s);
        const expected = live.toSnapshot();
        expect(fold(ROOM, log, undefined, OPTIONS).toSnapshot()).toEqual(expected);
        expect(fold(ROOM, log.slice(cutLogLength), cutSnapshot, OPTIONS).toSnapshot()).toEqual(expected);
      }),
      RUNS,
    );
  });

  it('round-trips its snapshot through JSON', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { live } = run(s);
        const snapshot = live.toSnapshot();
        const restored = Room.fromSnapshot(JSON.parse(JSON.stringify(snapshot)) as RoomSnapshot, OPTIONS);
        expect(restored.toSnapshot()).toEqual(snapshot);
        expect(restored.session).toEqual(live.session);
        expect(restored.participants()).toEqual(live.participants());
        expect(restored.history()).toEqual(live.history());
      }),
      RUNS,
    );
  });

  it('decides the rest of the commands exactly like the live room after restoring a mid-way snapshot', () => {
    // The snapshot must hold everything a decision depends on: session state (the machine's
    // state), connection order (gateway_down), the dedupe window.
    fc.assert(
      fc.property(scenario, (s) => {
        const { commands, decisions, cutStep, cutSnapshot } = run(s);
        const restored = Room.fromSnapshot(JSON.parse(JSON.stringify(cutSnapshot)) as RoomSnapshot, OPTIONS);
        commands.slice(cutStep).forEach(({ command, now }, i) => {
          expect(restored.decide(command, now)).toEqual(decisions[cutStep + i]);
        });
      }),
      RUNS,
    );
  });
});
