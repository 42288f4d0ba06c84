/**
 * PROTOCOL.md §2 "nothing a client sends can crash the server or change another user's state":
 * each bad input gets its documented error or close code, the server stays up, and a victim
 * in a room sees nothing of it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, startServer, TestClient, token, upgrade, uniqueRoom, type Frame, type TestServer } from './context.js';

for (const backend of await backends()) {
  describe(`bad input (${backend})`, () => {
    let server: TestServer;
    const clients: TestClient[] = [];
    async function connect(sub: string, claims: Record<string, unknown> = {}): Promise<TestClient> {
      const client = await TestClient.connect(server.url, token({ sub, ...claims }));
      clients.push(client);
      return client;
    }
    /** A victim in its own room; `unchanged()` checks nothing happened to it or its room. */
    async function victimRoom(): Promise<{ room: string; victim: TestClient; unchanged(): Promise<void> }> {
      const room = uniqueRoom('victim');
      const victim = await connect('victim', { name: 'Victim' });
      const joined = await victim.request({ type: 'join_room', room });
      return {
        room,
        victim,
        async unchanged() {
          const ack = await victim.request({ type: 'chat_message', room, text: 'still fine' });
          expect(ack.seq).toBe(joined.seq + 1);
          await victim.waitFor((f) => f.room === room && f.seq === ack.seq);
          expect(victim.events(room).map((f) => f.seq)).toEqual([ack.seq]);
          const again = await victim.request({ type: 'join_room', room });
          expect(again.participants).toEqual([{ id: 'victim', name: 'Victim', role: 'learner', connections: 1 }]);
          expect(again.session.state).toBe('scheduled');
          // And the server still takes new connections.
          const fresh = await connect('fresh');
          expect(await fresh.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
        },
      };
    }
    beforeAll(async () => {
      server = await startServer(backend, { LECTERN_RATE_PER_SECOND: '1000', LECTERN_RATE_BURST: '1000' });
    });
    afterAll(async () => {
      await server?.stop();
    });
    afterEach(() => {
      for (const client of clients.splice(0)) client.ws.terminate();
    });

    it('malformed JSON and non-object frames: bad_request, connection open', async () => {
      const { unchanged } = await victimRoom();
      const attacker = await connect('attacker');
      const bad = ['{', 'null', '[]', '[{"type":"ping"}]', '42', '"ping"', 'true', '', '{"type":"ping"', '\u0000', '{"type":"ping","id":"x"}garbage'];
      for (const text of bad) attacker.send(text);
      const done = await attacker.request({ type: 'ping' });
      expect(done.type).toBe('pong');
      const errors = attacker.frames.filter((f) => f.type === 'error');
      expect(errors).toHaveLength(bad.length);
      for (const error of errors) expect(error).toEqual({ type: 'error', code: 'bad_request', message: expect.any(String) });
      await unchanged();
    });

    it('wrong types and unknown types: bad_request / unknown_type with the id echoed when it is valid', async () => {
      const { room, unchanged } = await victimRoom();
      const attacker = await connect('attacker', { role: 'instructor' });
      await attacker.request({ type: 'join_room', room: `${room}-own` });
      const cases: [Frame, string][] = [
        [{ id: 'a1' }, 'bad_request'],
        [{ id: 'a2', type: 42 }, 'bad_request'],
        [{ id: 'a3', type: null }, 'bad_request'],
        [{ id: 'a4', type: 'JOIN_ROOM', room }, 'unknown_type'],
        [{ id: 'a5', type: 'user_joined', room }, 'unknown_type'],
        [{ id: 'a6', type: 'join_room' }, 'bad_request'],
        [{ id: 'a7', type: 'join_room', room: 42 }, 'bad_request'],
        [{ id: 'a8', type: 'join_room', room, since: -1 }, 'bad_request'],
        [{ id: 'a9', type: 'join_room', room, since: '3' }, 'bad_request'],
        [{ id: 'a10', type: 'join_room', room, since: 1.5 }, 'bad_request'],
        [{ id: 'a11', type: 'chat_message', room: `${room}-own`, text: 42 }, 'bad_request'],
        [{ id: 'a12', type: 'chat_message', room: `${room}-own`, text: 'x', mid: 'm'.repeat(65) }, 'bad_request'],
        [{ id: 'a13', type: 'chat_message', room: `${room}-own`, text: 'x', mid: 7 }, 'bad_request'],
        [{ id: 'a14', type: 'chat_message', room: `${room}-own`, text: 'nul \u0000 inside' }, 'bad_request'],
        [{ id: 'a15', type: 'live_session_update', room: `${room}-own`, state: 'over' }, 'bad_request'],
        [{ id: 'a16', type: 'live_session_update', room: `${room}-own`, data: [1, 2] }, 'bad_request'],
        [{ id: 'a17', type: 'live_session_update', room: `${room}-own`, data: { big: 'x'.repeat(5000) } }, 'bad_request'],
        [{ id: 'a18', type: 'ping', ts: 'now' }, 'bad_request'],
        [{ id: 'a19', type: 'refresh_token', token: '' }, 'bad_request'],
        [{ id: 'a20', type: 'refresh_token', token: 42 }, 'bad_request'],
        [{ id: 'a21', type: '__proto__' }, 'unknown_type'],
      ];
      for (const [frame, code] of cases) {
        attacker.send(frame);
        expect(await attacker.waitFor((f) => f.id === frame.id), JSON.stringify(frame).slice(0, 80)).toMatchObject({ type: 'error', code });
      }
      // An invalid id is not echoed (it could not be), but the frame is still answered.
      attacker.send({ id: 'i'.repeat(65), type: 'ping' });
      attacker.send({ id: 42, type: 'ping' });
      attacker.send({ type: 'ping', id: 'after' });
      await attacker.waitFor((f) => f.id === 'after');
      expect(attacker.frames.filter((f) => f.type === 'error' && f.id === undefined && f.code === 'bad_request').length).toBe(2);
      await unchanged();
    });

    it('oversize and binary frames close only the sender (1009, 1008)', async () => {
      const { unchanged } = await victimRoom();
      const big = await connect('big');
      big.send({ type: 'ping', pad: 'x'.repeat(20_000) });
      expect(await big.closed()).toBe(1009);
      const binary = await connect('binary');
      binary.ws.send(Buffer.from([0xff, 0x00, 0x7b]), { binary: true });
      expect(await binary.closed()).toBe(1008);
      await unchanged();
    });

    it('forged identity fields (from, user, seq, role, connectionId) never reach others', async () => {
      const { room, victim } = await victimRoom();
      const mallory = await connect('mallory', { name: 'Mallory' });
      await mallory.request({
        type: 'join_room',
        room,
        user: { id: 'victim', name: 'Victim', role: 'instructor' },
        role: 'instructor',
        connectionId: victim.frames[0]!.connectionId,
      });
      const forged = await mallory.request({
        type: 'chat_message',
        room,
        text: 'i am the teacher',
        from: { id: 'teacher', name: 'Teacher', role: 'instructor' },
        user: { id: 'victim' },
        seq: 999_999,
        ts: 1,
      });
      expect(forged).toMatchObject({ type: 'ack' });
      const got = await victim.waitFor((f) => f.type === 'chat_message' && f.seq === forged.seq);
      expect(got.from).toEqual({ id: 'mallory', name: 'Mallory', role: 'learner' });
      expect(got.seq).toBe(forged.seq);
      expect(got.ts).not.toBe(1);
      const joinedEvent = victim.events(room).find((f) => f.type === 'user_joined')!;
      expect(joinedEvent.user).toEqual({ id: 'mallory', name: 'Mallory', role: 'learner' });
      // A forged role does not unlock instructor-only frames.
      expect(await mallory.request({ type: 'live_session_update', room, state: 'ended', role: 'instructor', from: { role: 'instructor' } })).toMatchObject({
        type: 'error',
        code: 'forbidden',
      });
      // The victim's own membership is untouched by the forged connectionId.
      const snapshot = await victim.request({ type: 'join_room', room });
      expect(snapshot.participants).toEqual(
        expect.arrayContaining([
          { id: 'victim', name: 'Victim', role: 'learner', connections: 1 },
          { id: 'mallory', name: 'Mallory', role: 'learner', connections: 1 },
        ]),
      );
      expect(snapshot.session.state).toBe('scheduled');
    });

    it('room ids that are not valid NATS tokens or ids are refused with bad_request and reach no room', async () => {
      const { room, unchanged } = await victimRoom();
      const attacker = await connect('attacker');
      const ids = [`${room}.x`, 'a.b', '*', '>', `${room}.>`, `${room} `, ' a', 'a b', '', '-a', '_a', 'a/b', 'a\u0000', 'é', 'x'.repeat(129), `${room}*`];
      for (const id of ids) {
        for (const type of ['join_room', 'chat_message', 'leave_room']) {
          const answer = await attacker.request({ type, room: id, text: 'boo' });
          expect(answer, `${type} ${JSON.stringify(id)}`).toMatchObject({ type: 'error', code: 'bad_request' });
          expect(answer).not.toHaveProperty('room');
        }
      }
      expect(await attacker.request({ type: 'join_room', room: 'x'.repeat(128) })).toMatchObject({ type: 'joined' });
      await unchanged();
    });

    it('leave_room of someone else\'s room, chat into it, refresh with alg none: nothing changes for the victim', async () => {
      const { room, unchanged } = await victimRoom();
      const attacker = await connect('victim-impostor', { name: 'Victim' });
      expect(await attacker.request({ type: 'leave_room', room })).toMatchObject({ type: 'error', code: 'not_joined' });
      expect(await attacker.request({ type: 'chat_message', room, text: 'sneaky' })).toMatchObject({ type: 'error', code: 'not_joined' });
      const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'victim-impostor', rooms: ['*'] })).toString('base64url')}.`;
      expect(await attacker.request({ type: 'refresh_token', token: none })).toMatchObject({ type: 'error', code: 'unauthorized' });
      expect((await upgrade(server, { token: none })).status).toBe(401);
      await unchanged();
    });
  });
}
