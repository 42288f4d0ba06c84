/**
 * PROTOCOL.md §3: each client frame and each rule about rooms, roles, the session state and
 * `mid` idempotency.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, startServer, TestClient, token, uniqueRoom, type Frame, type TestServer } from './context.js';

for (const backend of await backends()) {
  describe(`protocol §3 client frames (${backend})`, () => {
    let server: TestServer;
    const clients: TestClient[] = [];
    async function connect(sub: string, claims: Record<string, unknown> = {}): Promise<TestClient> {
      const client = await TestClient.connect(server.url, token({ sub, ...claims }));
      clients.push(client);
      return client;
    }
    /** The first frame after `seq` in `room` that `client` receives. */
    function eventAfter(client: TestClient, room: string, seq: number): Promise<Frame> {
      return client.waitFor((f) => f.room === room && f.seq === seq + 1 && f.type !== 'ack' && f.type !== 'joined');
    }
    beforeAll(async () => {
      server = await startServer(backend);
    });
    afterAll(async () => {
      await server?.stop();
    });
    afterEach(() => {
      for (const client of clients.splice(0)) client.close();
    });

    it('join_room answers joined; joining again answers joined again with no new event', async () => {
      const room = uniqueRoom('rejoin');
      const watcher = await connect('watcher');
      const alice = await connect('alice');
      await watcher.request({ type: 'join_room', room });
      const first = await alice.request({ type: 'join_room', room });
      expect(first).toMatchObject({ type: 'joined', room, seq: 2 });
      const again = await alice.request({ type: 'join_room', room });
      expect(again).toMatchObject({ type: 'joined', room, seq: 2 });
      expect(again.participants).toEqual(first.participants);
      const ack = await alice.request({ type: 'chat_message', room, text: 'after the re-join' });
      expect(ack.seq).toBe(3);
      // The watcher saw alice join once, then the chat: nothing in between.
      expect(await eventAfter(watcher, room, 2)).toMatchObject({ type: 'chat_message', seq: 3 });
      expect(watcher.events(room).map((f) => [f.type, f.seq])).toEqual([
        ['user_joined', 2],
        ['chat_message', 3],
      ]);
    });

    it('a second join_room while the first is in flight answers bad_request (or joined, if the first finished): never a second presence', async () => {
      const room = uniqueRoom('inflight');
      const client = await connect('racer');
      // One TCP write, so the server usually reads both before the first can be answered.
      const socket = (client.ws as unknown as { _socket: import('node:net').Socket })._socket;
      socket.cork();
      client.send({ type: 'join_room', room, id: 'a' });
      client.send({ type: 'join_room', room, id: 'b' });
      socket.uncork();
      const [a, b] = await Promise.all([client.waitFor((f) => f.id === 'a'), client.waitFor((f) => f.id === 'b')]);
      expect(a).toMatchObject({ type: 'joined', room, seq: 1 });
      if (b.type === 'error') expect(b).toMatchObject({ code: 'bad_request', room });
      else expect(b).toMatchObject({ type: 'joined', room, seq: 1 });
      const other = await connect('other');
      const joined = await other.request({ type: 'join_room', room });
      expect(joined.seq).toBe(2);
      expect(joined.participants).toContainEqual({ id: 'racer', name: 'racer', role: 'learner', connections: 1 });
      // The racer is in the room exactly once: it gets the other's join and can chat.
      await client.waitFor((f) => f.type === 'user_joined' && f.seq === 2);
      expect(await client.request({ type: 'chat_message', room, text: 'in' })).toMatchObject({ type: 'ack', seq: 3 });
    });

    it('leave_room answers left; leaving again answers not_joined', async () => {
      const room = uniqueRoom('leave');
      const client = await connect('leaver');
      await client.request({ type: 'join_room', room });
      expect(await client.request({ type: 'leave_room', room })).toEqual({ type: 'left', id: expect.any(String), room });
      expect(await client.request({ type: 'leave_room', room })).toMatchObject({ type: 'error', code: 'not_joined', room });
      expect(await client.request({ type: 'leave_room', room: uniqueRoom('never') })).toMatchObject({ type: 'error', code: 'not_joined' });
      // And after leaving, no more events of that room arrive.
      const other = await connect('other');
      await other.request({ type: 'join_room', room });
      await other.request({ type: 'chat_message', room, text: 'anyone?' });
      expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      expect(client.events(room).every((f) => f.seq <= 2)).toBe(true);
    });

    it('chat_message and live_session_update need the room joined (not_joined)', async () => {
      const room = uniqueRoom('notjoined');
      const teacher = await connect('teacher', { role: 'instructor' });
      expect(await teacher.request({ type: 'chat_message', room, text: 'hi' })).toMatchObject({ type: 'error', code: 'not_joined', room });
      expect(await teacher.request({ type: 'live_session_update', room, state: 'live' })).toMatchObject({ type: 'error', code: 'not_joined', room });
      // Another connection of the same user being in the room does not count.
      const tab = await connect('teacher', { role: 'instructor' });
      await tab.request({ type: 'join_room', room });
      expect(await teacher.request({ type: 'chat_message', room, text: 'hi' })).toMatchObject({ type: 'error', code: 'not_joined' });
    });

    it('live_session_update is for instructor, moderator (and service); learners get forbidden', async () => {
      const room = uniqueRoom('roles');
      const learner = await connect('lea');
      const defaulted = await connect('dee', { role: undefined });
      const instructor = await connect('ina', { role: 'instructor' });
      const moderator = await connect('mo', { role: 'moderator' });
      const service = await connect('svc', { role: 'service' });
      for (const client of [learner, defaulted, instructor, moderator, service]) await client.request({ type: 'join_room', room });
      expect(await learner.request({ type: 'live_session_update', room, state: 'live' })).toMatchObject({ type: 'error', code: 'forbidden', room });
      expect(await defaulted.request({ type: 'live_session_update', room, data: { a: 1 } })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await instructor.request({ type: 'live_session_update', room, state: 'live' })).toMatchObject({ type: 'ack', room });
      expect(await moderator.request({ type: 'live_session_update', room, state: 'paused' })).toMatchObject({ type: 'ack', room });
      expect(await service.request({ type: 'live_session_update', room, state: 'live' })).toMatchObject({ type: 'ack', room });
    });

    it('the rooms claim decides which rooms a token may join (forbidden otherwise)', async () => {
      const prefix = uniqueRoom('course');
      const scoped = await connect('scoped', { rooms: [`${prefix}_*`, 'exact-room'] });
      const none = await connect('none', { rooms: undefined });
      const empty = await connect('empty', { rooms: [] });
      expect(await scoped.request({ type: 'join_room', room: `${prefix}_1` })).toMatchObject({ type: 'joined' });
      expect(await scoped.request({ type: 'join_room', room: 'exact-room' })).toMatchObject({ type: 'joined' });
      const other = uniqueRoom('elsewhere');
      expect(await scoped.request({ type: 'join_room', room: other })).toMatchObject({ type: 'error', code: 'forbidden', room: other });
      expect(await scoped.request({ type: 'join_room', room: `${prefix}` })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await scoped.request({ type: 'join_room', room: 'exact-room-2' })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await none.request({ type: 'join_room', room: other })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await empty.request({ type: 'join_room', room: other })).toMatchObject({ type: 'error', code: 'forbidden' });
      // A forbidden join leaves no trace: the room is still empty.
      const everyone = await connect('everyone');
      expect((await everyone.request({ type: 'join_room', room: other })).participants).toEqual([{ id: 'everyone', name: 'everyone', role: 'learner', connections: 1 }]);
    });

    it('session state: scheduled → live ⇄ paused → ended; other moves are bad_request, after ended room_closed', async () => {
      const room = uniqueRoom('session');
      const teacher = await connect('teach', { role: 'instructor' });
      const update = (fields: Frame) => teacher.request({ type: 'live_session_update', room, ...fields });
      expect((await teacher.request({ type: 'join_room', room })).session).toMatchObject({ state: 'scheduled', data: {} });
      expect(await update({ state: 'paused' })).toMatchObject({ type: 'error', code: 'bad_request', room });
      expect(await update({ data: { slide: 1 } })).toMatchObject({ type: 'ack' });
      expect(await update({ state: 'live' })).toMatchObject({ type: 'ack' });
      expect(await update({ state: 'scheduled' })).toMatchObject({ type: 'error', code: 'bad_request' });
      expect(await update({ state: 'live', data: { slide: 2 } })).toMatchObject({ type: 'ack' });
      expect(await update({ state: 'paused' })).toMatchObject({ type: 'ack' });
      expect(await update({ state: 'paused' })).toMatchObject({ type: 'ack' });
      expect(await update({ state: 'live' })).toMatchObject({ type: 'ack' });
      const end = await update({ state: 'ended' });
      expect(end).toMatchObject({ type: 'ack', room, seq: expect.any(Number) });
      expect(await update({ state: 'live' })).toMatchObject({ type: 'error', code: 'room_closed' });
      expect(await update({ data: { slide: 3 } })).toMatchObject({ type: 'error', code: 'room_closed' });
      expect(await update({})).toMatchObject({ type: 'error', code: 'bad_request' });
      const snapshot = await teacher.request({ type: 'join_room', room });
      expect(snapshot.session).toEqual({ state: 'ended', data: { slide: 2 }, updatedAt: expect.any(Number) });
    });

    it('in an ended room chat gets room_closed, joining still works', async () => {
      const room = uniqueRoom('closed');
      const teacher = await connect('tina', { role: 'instructor' });
      const learner = await connect('luke');
      await teacher.request({ type: 'join_room', room });
      await learner.request({ type: 'join_room', room });
      await learner.request({ type: 'chat_message', room, text: 'before the end', mid: 'q-1' });
      await teacher.request({ type: 'live_session_update', room, state: 'ended' });
      expect(await learner.request({ type: 'chat_message', room, text: 'too late' })).toMatchObject({ type: 'error', code: 'room_closed', room });
      const late = await connect('late');
      const joined = await late.request({ type: 'join_room', room });
      expect(joined).toMatchObject({ type: 'joined', session: { state: 'ended' } });
      expect(joined.history.map((f: Frame) => f.text)).toEqual(['before the end']);
      // An offline queue resent after the end still gets its original ack.
      expect(await learner.request({ type: 'chat_message', room, text: 'before the end', mid: 'q-1' })).toMatchObject({ type: 'ack', duplicate: true });
    });

    it('mid: the same (room, user, mid) answers the original ack with duplicate: true and is not appended twice', async () => {
      const room = uniqueRoom('mid');
      const alice = await connect('alice');
      const bob = await connect('bob');
      await alice.request({ type: 'join_room', room });
      await bob.request({ type: 'join_room', room });
      const first = await alice.request({ type: 'chat_message', room, text: 'once', mid: 'm-1' });
      expect(first).toEqual({ type: 'ack', id: expect.any(String), room, seq: 3 });
      const again = await alice.request({ type: 'chat_message', room, text: 'once (resent)', mid: 'm-1' });
      expect(again).toEqual({ type: 'ack', id: expect.any(String), room, seq: 3, duplicate: true });
      // From another connection of the same user too (an offline queue resent after a reconnect).
      const aliceTab = await connect('alice');
      await aliceTab.request({ type: 'join_room', room });
      expect(await aliceTab.request({ type: 'chat_message', room, text: 'once', mid: 'm-1' })).toMatchObject({ seq: 3, duplicate: true });
      // Another user's m-1 is a different message.
      const bobs = await bob.request({ type: 'chat_message', room, text: 'mine', mid: 'm-1' });
      expect(bobs).not.toHaveProperty('duplicate');
      expect(bobs.seq).toBeGreaterThan(3);
      await alice.waitFor((f) => f.type === 'chat_message' && f.seq === bobs.seq);
      expect(alice.events(room).filter((f) => f.type === 'chat_message').map((f) => [f.seq, f.from.id, f.text, f.mid])).toEqual([
        [3, 'alice', 'once', 'm-1'],
        [bobs.seq, 'bob', 'mine', 'm-1'],
      ]);
    });

    it('ping answers pong with ts echoed and serverTs', async () => {
      const client = await connect('pinger');
      const before = Date.now();
      const pong = await client.request({ type: 'ping', ts: 12.5 });
      expect(pong).toEqual({ type: 'pong', id: expect.any(String), ts: 12.5, serverTs: expect.any(Number) });
      expect(pong.serverTs).toBeGreaterThanOrEqual(before - 1000);
      const bare = await client.request({ type: 'ping' });
      expect(bare).toEqual({ type: 'pong', id: expect.any(String), serverTs: expect.any(Number) });
      expect(await client.request({ type: 'ping', ts: -3 })).toMatchObject({ ts: -3 });
    });

    it('refresh_token: same sub → ack; another sub → forbidden; an invalid token → unauthorized; the connection stays', async () => {
      const client = await connect('refresher', { rooms: ['*'] });
      expect(await client.request({ type: 'refresh_token', token: token({ sub: 'refresher' }) })).toEqual({ type: 'ack', id: expect.any(String) });
      expect(await client.request({ type: 'refresh_token', token: token({ sub: 'mallory' }) })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await client.request({ type: 'refresh_token', token: token({ sub: 'refresher' }, { secret: 'wrong-secret-0123456789' }) })).toMatchObject({
        type: 'error',
        code: 'unauthorized',
      });
      expect(await client.request({ type: 'refresh_token', token: token({ sub: 'refresher' }, { header: { alg: 'none' } }) })).toMatchObject({ code: 'unauthorized' });
      const now = Math.floor(Date.now() / 1000);
      expect(await client.request({ type: 'refresh_token', token: token({ sub: 'refresher', exp: now - 5 }) })).toMatchObject({ code: 'unauthorized' });
      expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      expect(client.closeCode).toBeUndefined();
    });

    it('a refreshed token with other rooms decides later joins', async () => {
      const room = uniqueRoom('narrowed');
      const client = await connect('narrow', { rooms: ['*'] });
      expect(await client.request({ type: 'refresh_token', token: token({ sub: 'narrow', rooms: ['only-this'] }) })).toMatchObject({ type: 'ack' });
      expect(await client.request({ type: 'join_room', room })).toMatchObject({ type: 'error', code: 'forbidden' });
    });
  });
}
