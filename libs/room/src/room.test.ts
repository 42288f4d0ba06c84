import { describe, expect, it } from 'vitest';
import { at, command, conn, event, given, ROOM, stamp, T0, users } from '../test/room-spec.js';
import { DEFAULT_ROOM_OPTIONS, fold, Room } from './index.js';

const { alice, bob, prof, mod, platform } = users;
const aliceTab = conn('c-alice-1');
const aliceTab2 = conn('c-alice-2', 'gw-2');
const bobTab = conn('c-bob-1', 'gw-2');
const profTab = conn('c-prof-1');
const modTab = conn('c-mod-1');
const platformConn = conn('c-lms-1');

const MINUTE = 60_000;

describe('join', () => {
  it('announces a first connection with connections: 1', () => {
    given().when(command.join(alice, aliceTab)).then(event.joined(alice, aliceTab, 1));
  });

  it('counts a second tab of the same user', () => {
    const { room } = given(event.joined(alice, aliceTab, 1))
      .when(command.join(alice, aliceTab2))
      .then(event.joined(alice, aliceTab2, 2));
    expect(room.userCount).toBe(1);
    expect(room.connectionsOf('alice')).toBe(2);
    expect(room.participants()).toEqual([{ ...alice, connections: 2 }]);
  });

  it('lists at most N participants for large rooms: staff first, then learners, each by arrival', () => {
    const { room } = given(
      event.joined(alice, aliceTab, 1),
      event.joined(bob, bobTab, 1),
      event.joined(prof, profTab, 1),
      event.joined(mod, modTab, 1),
    ).when(command.join(alice, aliceTab2)).then(event.joined(alice, aliceTab2, 2));
    expect(room.listedParticipants(3)).toEqual([
      { ...prof, connections: 1 },
      { ...mod, connections: 1 },
      { ...alice, connections: 2 },
    ]);
    expect(room.listedParticipants(1)).toEqual([{ ...prof, connections: 1 }]);
    expect(room.listedParticipants(0)).toEqual([]);
    // Room small enough: everyone, in arrival order, as participants() gives them.
    expect(room.listedParticipants(4)).toEqual(room.participants());
  });

  it('is a no-op for a connection already in the room, answering the head', () => {
    given(event.joined(alice, aliceTab, 1), event.chat(alice, aliceTab, 'hi'))
      .when(command.join(alice, aliceTab))
      .thenNothingHappens({ seq: 2 });
  });

  it.each(['scheduled', 'live', 'paused', 'ended'] as const)('works while the session is %s', (state) => {
    const history = state === 'scheduled' ? [] : state === 'paused' ? ['live', 'paused'] as const : [state];
    given(event.joined(prof, profTab, 1), ...history.map((s) => event.session(prof, profTab, s)))
      .when(command.join(bob, bobTab))
      .then(event.joined(bob, bobTab, 1));
  });

  it('carries the correlation id into the meta', () => {
    const { decision } = given().when({ ...command.join(alice, aliceTab), cid: 'req-7' }).then({
      ...event.joined(alice, aliceTab, 1),
      meta: { connection: aliceTab.id, gateway: aliceTab.gateway, cid: 'req-7' },
    });
    expect(decision.ok).toBe(true);
  });

  it('lists participants in order of arrival; one who left entirely arrives again at the end', () => {
    const { room } = given(
      event.joined(alice, aliceTab, 1),
      event.joined(bob, bobTab, 1),
      event.joined(prof, profTab, 1),
      event.left(alice, aliceTab, 0),
    )
      .when(command.join(alice, aliceTab2))
      .then(event.joined(alice, aliceTab2, 1));
    expect(room.participants().map((p) => p.id)).toEqual(['bob', 'prof', 'alice']);
  });
});

describe('leave', () => {
  it('announces the connection leaving with the count after it and the reason', () => {
    const { room } = given(event.joined(alice, aliceTab, 1), event.joined(alice, aliceTab2, 2))
      .when(command.leave(alice, aliceTab, 'disconnected'))
      .then(event.left(alice, aliceTab, 1, 'disconnected'));
    expect(room.hasConnection(aliceTab.id)).toBe(false);
    expect(room.hasConnection(aliceTab2.id)).toBe(true);
    expect(room.userCount).toBe(1);
  });

  it('removes the user when the last connection leaves', () => {
    const { room } = given(event.joined(alice, aliceTab, 1), event.joined(bob, bobTab, 1))
      .when(command.leave(alice, aliceTab, 'kicked'))
      .then(event.left(alice, aliceTab, 0, 'kicked'));
    expect(room.userCount).toBe(1);
    expect(room.participants()).toEqual([{ ...bob, connections: 1 }]);
  });

  it('fails with not_joined for a connection not in the room', () => {
    given(event.joined(alice, aliceTab, 1)).when(command.leave(alice, aliceTab2)).thenFails('not_joined');
  });

  it('fails with not_joined for a connection that already left', () => {
    given(event.joined(alice, aliceTab, 1), event.left(alice, aliceTab, 0)).when(command.leave(alice, aliceTab)).thenFails('not_joined');
  });

  it('names the user as the room knows them, whatever name the command carries', () => {
    given(event.joined(alice, aliceTab, 1))
      .when(command.leave({ ...alice, name: 'Alice (renamed)' }, aliceTab))
      .then(event.left(alice, aliceTab, 0));
  });
});

describe('chat', () => {
  it('records the message from the sender', () => {
    given(event.joined(alice, aliceTab, 1)).when(command.chat(alice, aliceTab, 'Hello!')).then(event.chat(alice, aliceTab, 'Hello!'));
  });

  it('records the mid with the message', () => {
    given(event.joined(alice, aliceTab, 1))
      .when(command.chat(alice, aliceTab, 'Hello!', 'm-1'))
      .then(event.chat(alice, aliceTab, 'Hello!', 'm-1'));
  });

  it('fails with not_joined from a connection not in the room', () => {
    given(event.joined(alice, aliceTab, 1)).when(command.chat(bob, bobTab, 'hi')).thenFails('not_joined');
  });

  it('fails with not_joined from another tab of a joined user', () => {
    given(event.joined(alice, aliceTab, 1)).when(command.chat(alice, aliceTab2, 'hi')).thenFails('not_joined');
  });

  it('fails with room_closed once the session has ended', () => {
    given(event.joined(prof, profTab, 1), event.joined(alice, aliceTab, 1), event.session(prof, profTab, 'ended'))
      .when(command.chat(alice, aliceTab, 'anyone?'))
      .thenFails('room_closed');
  });

  it('is allowed while the session is scheduled, live and paused', () => {
    for (const states of [[], ['live'], ['live', 'paused']] as const) {
      given(event.joined(prof, profTab, 1), ...states.map((s) => event.session(prof, profTab, s)))
        .when(command.chat(prof, profTab, 'ok'))
        .then(event.chat(prof, profTab, 'ok'));
    }
  });

  describe('mid dedupe', () => {
    it('answers a repeated mid with the original seq and duplicate: true, recording nothing', () => {
      given(event.joined(alice, aliceTab, 1), event.chat(alice, aliceTab, 'Hello!', 'm-1'), event.chat(bob, bobTab, 'Hi', 'x'))
        .when(command.chat(alice, aliceTab, 'Hello!', 'm-1'))
        .thenNothingHappens({ seq: 2, duplicate: true });
    });

    it('recognises the mid from another tab of the same user (a resent offline queue)', () => {
      given(event.joined(alice, aliceTab, 1), event.chat(alice, aliceTab, 'Hello!', 'm-1'), event.left(alice, aliceTab, 0, 'disconnected'), event.joined(alice, aliceTab2, 1))
        .when(command.chat(alice, aliceTab2, 'Hello!', 'm-1'))
        .thenNothingHappens({ seq: 2, duplicate: true });
    });

    it('keeps mids per user: the same mid from someone else is a new message', () => {
      given(event.joined(alice, aliceTab, 1), event.joined(bob, bobTab, 1), event.chat(alice, aliceTab, 'Hello!', 'm-1'))
        .when(command.chat(bob, bobTab, 'Hello!', 'm-1'))
        .then(event.chat(bob, bobTab, 'Hello!', 'm-1'));
    });

    it('still answers just inside the window', () => {
      given(event.joined(alice, aliceTab, 1), at(T0, event.chat(alice, aliceTab, 'Hello!', 'm-1')))
        .when(command.chat(alice, aliceTab, 'Hello!', 'm-1'), T0 + DEFAULT_ROOM_OPTIONS.dedupeWindowMs - 1)
        .thenNothingHappens({ seq: 2, duplicate: true });
    });

    it('accepts the mid again once the window has passed, as a new message', () => {
      given(event.joined(alice, aliceTab, 1), at(T0, event.chat(alice, aliceTab, 'Hello!', 'm-1')))
        .when(command.chat(alice, aliceTab, 'Hello again', 'm-1'), T0 + DEFAULT_ROOM_OPTIONS.dedupeWindowMs)
        .then(event.chat(alice, aliceTab, 'Hello again', 'm-1'));
    });

    it('answers a reused mid with the newest original', () => {
      given(
        at(T0, event.joined(alice, aliceTab, 1)),
        at(T0, event.chat(alice, aliceTab, 'first', 'm-1')),
        at(T0 + 11 * MINUTE, event.chat(alice, aliceTab, 'second', 'm-1')),
      )
        .when(command.chat(alice, aliceTab, 'second', 'm-1'), T0 + 12 * MINUTE)
        .thenNothingHappens({ seq: 3, duplicate: true });
    });

    it('never dedupes messages without a mid', () => {
      given(event.joined(alice, aliceTab, 1), event.chat(alice, aliceTab, 'Hello!'))
        .when(command.chat(alice, aliceTab, 'Hello!'))
        .then(event.chat(alice, aliceTab, 'Hello!'));
    });

    it('acks a resent message after the session ended instead of refusing it', () => {
      // The message was accepted before the end; only its ack was lost. room_closed would
      // tell the client it failed.
      given(event.joined(prof, profTab, 1), event.joined(alice, aliceTab, 1), event.chat(alice, aliceTab, 'q?', 'm-9'), event.session(prof, profTab, 'ended'))
        .when(command.chat(alice, aliceTab, 'q?', 'm-9'))
        .thenNothingHappens({ seq: 3, duplicate: true });
    });

    it('forgets expired mids as time advances, so memory stays bounded', () => {
      const room = Room.create(ROOM, { dedupeWindowMs: MINUTE });
      room.decide(command.join(alice, aliceTab), T0);
      for (let i = 0; i < 1000; i++) room.decide(command.chat(alice, aliceTab, 'x', `m-${i}`), T0 + i * 1000);
      // The snapshot holds the live window only: the last minute's 60 mids.
      expect(room.toSnapshot().dedupe).toHaveLength(60);
      expect(room.toSnapshot().dedupe[0]).toMatchObject({ mid: 'm-940' });
    });
  });

  it('keeps the last historySize messages, oldest first', () => {
    const room = Room.create(ROOM, { historySize: 3 });
    room.decide(command.join(alice, aliceTab), T0);
    for (let i = 1; i <= 5; i++) room.decide(command.chat(alice, aliceTab, `m${i}`), T0 + i);
    expect(room.history().map((e) => [e.text, e.seq])).toEqual([['m3', 4], ['m4', 5], ['m5', 6]]);
  });
});

describe('session_update', () => {
  const inRoom = [event.joined(prof, profTab, 1), event.joined(alice, aliceTab, 1), event.joined(mod, modTab, 1)];

  it('takes a scheduled session live', () => {
    const { room } = given(...inRoom)
      .when(command.update(prof, profTab, { state: 'live' }), T0 + 5000)
      .then(event.session(prof, profTab, 'live'));
    expect(room.session).toEqual({ state: 'live', data: {}, updatedAt: T0 + 5000 });
  });

  it.each([
    ['live', 'paused', ['live']],
    ['paused', 'live', ['live', 'paused']],
    ['scheduled', 'ended', []],
    ['live', 'ended', ['live']],
    ['paused', 'ended', ['live', 'paused']],
  ] as const)('goes from %s to %s', (_from, to, path) => {
    given(...inRoom, ...path.map((s) => event.session(prof, profTab, s)))
      .when(command.update(mod, modTab, { state: to }))
      .then(event.session(mod, modTab, to));
  });

  it.each([
    ['scheduled', 'paused', []],
    ['live', 'scheduled', ['live']],
    ['paused', 'scheduled', ['live', 'paused']],
  ] as const)('refuses to go from %s to %s with bad_request', (from, to, path) => {
    given(...inRoom, ...path.map((s) => event.session(prof, profTab, s)))
      .when(command.update(prof, profTab, { state: to }))
      .thenFails('bad_request', `cannot go from ${from} to ${to}`);
  });

  it('updates the data alone, keeping the state', () => {
    given(...inRoom, event.session(prof, profTab, 'live', { slide: 1 }))
      .when(command.update(prof, profTab, { data: { slide: 2 } }))
      .then(event.session(prof, profTab, 'live', { slide: 2 }));
  });

  it('accepts the same state again as a data update', () => {
    given(...inRoom, event.session(prof, profTab, 'live', { slide: 1 }))
      .when(command.update(prof, profTab, { state: 'live', data: { slide: 3 } }))
      .then(event.session(prof, profTab, 'live', { slide: 3 }));
  });

  it('keeps the data when none is given', () => {
    const { room } = given(...inRoom, event.session(prof, profTab, 'live', { slide: 4 }))
      .when(command.update(prof, profTab, { state: 'paused' }))
      .then(event.session(prof, profTab, 'paused', { slide: 4 }));
    expect(room.session.data).toEqual({ slide: 4 });
  });

  it('fails with forbidden for a learner', () => {
    given(...inRoom).when(command.update(alice, aliceTab, { state: 'live' })).thenFails('forbidden');
  });

  it('is allowed to the service role', () => {
    given(event.joined(platform, platformConn, 1))
      .when(command.update(platform, platformConn, { state: 'live' }))
      .then(event.session(platform, platformConn, 'live'));
  });

  it('fails with not_joined from a connection not in the room, before checking the role', () => {
    given(...inRoom).when(command.update(bob, bobTab, { state: 'live' })).thenFails('not_joined');
    given(...inRoom).when(command.update(prof, conn('c-prof-2'), { state: 'live' })).thenFails('not_joined');
  });

  it.each(['scheduled', 'live', 'paused', 'ended'] as const)('fails with room_closed after the end, even to %s', (to) => {
    given(...inRoom, event.session(prof, profTab, 'ended'))
      .when(command.update(prof, profTab, { state: to }))
      .thenFails('room_closed');
  });

  it('fails with room_closed for a data-only update after the end', () => {
    given(...inRoom, event.session(prof, profTab, 'ended')).when(command.update(prof, profTab, { data: { x: 1 } })).thenFails('room_closed');
  });

  it('still says forbidden to a learner after the end', () => {
    given(...inRoom, event.session(prof, profTab, 'ended')).when(command.update(alice, aliceTab, { state: 'live' })).thenFails('forbidden');
  });
});

describe('notify', () => {
  it.each([[], ['live'], ['live', 'paused'], ['ended']] as const)('records a notification in any state (%j)', (...path) => {
    given(event.joined(prof, profTab, 1), ...path.flat().map((s) => event.session(prof, profTab, s)))
      .when({ ...command.notify({ title: 'Quiz', body: 'in 5 minutes', level: 'info' }), cid: 'http-1' })
      .then({ ...event.notification({ title: 'Quiz', body: 'in 5 minutes', level: 'info' }), meta: { cid: 'http-1' } });
  });

  it('needs no participant in the room', () => {
    given().when(command.notify({ body: 'hello' })).then(event.notification({ body: 'hello' }));
  });
});

describe('gateway_down', () => {
  it('times out every connection held on that gateway, in join order', () => {
    const { room } = given(
      event.joined(alice, aliceTab, 1), // gw-1
      event.joined(bob, bobTab, 1), // gw-2
      event.joined(alice, aliceTab2, 2), // gw-2
      event.joined(prof, profTab, 1), // gw-1
      event.joined(bob, conn('c-bob-2', 'gw-2'), 2),
    )
      .when(command.gatewayDown('gw-2'))
      .then(
        event.left(bob, bobTab, 1, 'timeout'),
        event.left(alice, aliceTab2, 1, 'timeout'),
        event.left(bob, conn('c-bob-2', 'gw-2'), 0, 'timeout'),
      );
    expect(room.participants()).toEqual([
      { ...alice, connections: 1 },
      { ...prof, connections: 1 },
    ]);
  });

  it('does nothing for a gateway with no connections here', () => {
    given(event.joined(alice, aliceTab, 1)).when(command.gatewayDown('gw-9')).thenNothingHappens();
  });

  it('does nothing for connections of that gateway that already left', () => {
    given(event.joined(bob, bobTab, 1), event.left(bob, bobTab, 0, 'disconnected')).when(command.gatewayDown('gw-2')).thenNothingHappens();
  });
});

describe('inspect', () => {
  it('answers the head and records nothing', () => {
    given(event.joined(alice, aliceTab, 1), event.chat(alice, aliceTab, 'hi')).when(command.inspect()).thenNothingHappens({ seq: 2 });
  });

  it('answers 0 in a new room', () => {
    given().when(command.inspect()).thenNothingHappens({ seq: 0 });
  });
});

describe('seq and ts', () => {
  it('stamps each event with the next seq, the room and now', () => {
    const room = Room.create(ROOM);
    const a = room.decide(command.join(alice, aliceTab), 10);
    const b = room.decide(command.join(bob, bobTab), 20);
    const c = room.decide(command.gatewayDown('gw-2'), 30);
    const d = room.decide(command.chat(bob, bobTab, 'late'), 40);
    expect(d).toMatchObject({ ok: false, code: 'not_joined' });
    const events = [a, b, c].flatMap((x) => (x.ok ? x.events : [])).map((e) => [e.event.room, e.event.seq, e.event.ts]);
    expect(events).toEqual([[ROOM, 1, 10], [ROOM, 2, 20], [ROOM, 3, 30]]);
    expect(room.seq).toBe(3);
  });

  it('never reuses a seq after a refusal', () => {
    const room = Room.create(ROOM);
    room.decide(command.join(alice, aliceTab), 1);
    room.decide(command.chat(bob, bobTab, 'nope'), 2);
    expect(room.decide(command.chat(alice, aliceTab, 'yes'), 3)).toMatchObject({ ok: true, seq: 2 });
  });

  it('refuses a command addressed to another room', () => {
    const room = Room.create(ROOM);
    expect(room.decide({ ...command.join(alice, aliceTab), room: 'other' }, 1)).toMatchObject({ ok: false, code: 'bad_request' });
    expect(room.seq).toBe(0);
  });
});

describe('apply (the fold)', () => {
  const log = stamp([event.joined(prof, profTab, 1), event.session(prof, profTab, 'live', { slide: 1 }), event.chat(prof, profTab, 'welcome')], 1, (i) => T0 + i);

  it('rebuilds presence, session and history from the log', () => {
    const room = fold(ROOM, log);
    expect(room.seq).toBe(3);
    expect(room.session).toEqual({ state: 'live', data: { slide: 1 }, updatedAt: T0 + 1 });
    expect(room.participants()).toEqual([{ ...prof, connections: 1 }]);
    expect(room.history().map((e) => e.text)).toEqual(['welcome']);
  });

  it('puts the machine in the logged session state, so the rules follow it', () => {
    const room = fold(ROOM, log);
    expect(room.decide(command.update(prof, profTab, { state: 'paused' }), T0 + 10)).toMatchObject({ ok: true, seq: 4 });
    expect(room.decide(command.update(prof, profTab, { state: 'paused' }), T0 + 11)).toMatchObject({ ok: true, seq: 5 });
    expect(room.decide(command.update(prof, profTab, { state: 'scheduled' }), T0 + 12)).toMatchObject({ code: 'bad_request', message: 'cannot go from paused to scheduled' });
  });

  it('skips events it already has, so an overlapping read is harmless', () => {
    const room = fold(ROOM, log);
    room.apply(log[1]!);
    expect(room.toSnapshot()).toEqual(fold(ROOM, log).toSnapshot());
  });

  it('throws on a gap in the log rather than forking the room', () => {
    expect(() => fold(ROOM, [log[0]!, log[2]!])).toThrow(/gap/);
  });

  it('throws on an event of another room', () => {
    expect(() => fold('other', log)).toThrow(/room/);
  });

  it('folds on from a snapshot', () => {
    const snapshot = fold(ROOM, log.slice(0, 2)).toSnapshot();
    expect(fold(ROOM, log.slice(2), snapshot).toSnapshot()).toEqual(fold(ROOM, log).toSnapshot());
  });

  it('refuses a snapshot of another version', () => {
    const snapshot = { ...fold(ROOM, log).toSnapshot(), v: 2 } as unknown as ReturnType<Room['toSnapshot']>;
    expect(() => Room.fromSnapshot(snapshot)).toThrow(/version/);
  });
});

describe('snapshot', () => {
  it('is plain JSON with v: 1', () => {
    const room = fold(ROOM, stamp([event.joined(alice, aliceTab, 1), event.chat(alice, aliceTab, 'hi', 'm-1')], 1, (i) => T0 + i));
    expect(room.toSnapshot()).toEqual({
      v: 1,
      room: ROOM,
      seq: 2,
      session: { state: 'scheduled', data: {}, updatedAt: 0 },
      participants: [{ ...alice, connections: 1 }],
      connections: [{ id: aliceTab.id, user: 'alice', gateway: aliceTab.gateway }],
      history: [{ type: 'chat_message', room: ROOM, seq: 2, ts: T0 + 1, from: alice, text: 'hi', mid: 'm-1' }],
      dedupe: [{ user: 'alice', mid: 'm-1', seq: 2, ts: T0 + 1 }],
    });
  });

  it('shares nothing with the live room', () => {
    const room = Room.create(ROOM);
    room.decide(command.join(prof, profTab), T0);
    room.decide(command.update(prof, profTab, { state: 'live', data: { slide: 1 } }), T0);
    const snapshot = room.toSnapshot();
    (snapshot.session.data as { slide: number }).slide = 99;
    expect(room.session.data).toEqual({ slide: 1 });
  });
});
