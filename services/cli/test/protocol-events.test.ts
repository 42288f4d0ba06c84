/**
 * PROTOCOL.md §4–§5: the exact shapes of answers and room events, per-connection presence,
 * and delivery in seq order without gaps to every connection.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, continuityProblems, startServer, TestClient, token, uniqueRoom, type TestServer } from './context.js';

const HISTORY_SIZE = 5;

for (const backend of await backends()) {
  describe(`protocol §4–§5 answers and events (${backend})`, () => {
    let server: TestServer;
    const clients: TestClient[] = [];
    async function connect(sub: string, claims: Record<string, unknown> = {}): Promise<TestClient> {
      const client = await TestClient.connect(server.url, token({ sub, ...claims }));
      clients.push(client);
      return client;
    }
    beforeAll(async () => {
      server = await startServer(backend, { LECTERN_HISTORY_SIZE: String(HISTORY_SIZE) });
    });
    afterAll(async () => {
      await server?.stop();
    });
    afterEach(() => {
      for (const client of clients.splice(0)) client.close();
    });

    it('joined: seq, participants with connections, session {state,data,updatedAt}, history oldest first (last N)', async () => {
      const room = uniqueRoom('shape');
      const teacher = await connect('teacher', { name: 'Ms T', role: 'instructor' });
      const first = await teacher.request({ type: 'join_room', room });
      expect(first).toEqual({
        type: 'joined',
        id: expect.any(String),
        room,
        seq: 1,
        participants: [{ id: 'teacher', name: 'Ms T', role: 'instructor', connections: 1 }],
        participantCount: 1,
        session: { state: 'scheduled', data: {}, updatedAt: expect.any(Number) },
        history: [],
      });
      const before = Date.now();
      const update = await teacher.request({ type: 'live_session_update', room, state: 'live', data: { slide: 4 } });
      for (let i = 1; i <= HISTORY_SIZE + 2; i++) await teacher.request({ type: 'chat_message', room, text: `message ${i}`, mid: `m${i}` });
      const tab = await connect('teacher', { name: 'Ms T', role: 'instructor' });
      const learner = await connect('learner');
      await tab.request({ type: 'join_room', room });
      const joined = await learner.request({ type: 'join_room', room });
      const head = 1 + 1 + HISTORY_SIZE + 2 + 2;
      expect(joined).toMatchObject({ type: 'joined', room, seq: head });
      expect(joined).not.toHaveProperty('missed');
      expect(joined).not.toHaveProperty('recovered');
      expect(joined.participants).toHaveLength(2);
      expect(joined.participants).toEqual(
        expect.arrayContaining([
          { id: 'teacher', name: 'Ms T', role: 'instructor', connections: 2 },
          { id: 'learner', name: 'learner', role: 'learner', connections: 1 },
        ]),
      );
      expect(joined.session).toEqual({ state: 'live', data: { slide: 4 }, updatedAt: expect.any(Number) });
      expect(joined.session.updatedAt).toBeGreaterThanOrEqual(before - 1000);
      // The last HISTORY_SIZE chat events, oldest first, as the events themselves.
      expect(joined.history.map((f: { text: string }) => f.text)).toEqual([3, 4, 5, 6, 7].map((i) => `message ${i}`));
      expect(joined.history[0]).toEqual({
        type: 'chat_message',
        room,
        seq: update.seq + 3,
        ts: expect.any(Number),
        from: { id: 'teacher', name: 'Ms T', role: 'instructor' },
        text: 'message 3',
        mid: 'm3',
      });
    });

    it('event shapes: user_joined, chat_message, live_session_update, user_left; answers left, ack, error', async () => {
      const room = uniqueRoom('events');
      const observer = await connect('obs');
      await observer.request({ type: 'join_room', room });
      const mod = await connect('mod', { name: 'Mod', role: 'moderator' });
      await mod.request({ type: 'join_room', room });
      const chatAck = await mod.request({ type: 'chat_message', room, text: 'hello' });
      expect(chatAck).toEqual({ type: 'ack', id: expect.any(String), room, seq: 3 });
      const updateAck = await mod.request({ type: 'live_session_update', room, data: { poll: 'open' } });
      expect(updateAck).toEqual({ type: 'ack', id: expect.any(String), room, seq: 4 });
      expect(await mod.request({ type: 'leave_room', room })).toEqual({ type: 'left', id: expect.any(String), room });
      const error = await mod.request({ type: 'chat_message', room, text: 'gone' });
      expect(error).toEqual({ type: 'error', id: expect.any(String), room, code: 'not_joined', message: expect.any(String) });
      await observer.waitFor((f) => f.seq === 5);
      const ts = expect.any(Number);
      const modRef = { id: 'mod', name: 'Mod', role: 'moderator' };
      expect(observer.events(room)).toEqual([
        { type: 'user_joined', room, seq: 2, ts, user: modRef, connections: 1 },
        { type: 'chat_message', room, seq: 3, ts, from: modRef, text: 'hello' },
        { type: 'live_session_update', room, seq: 4, ts, from: modRef, state: 'scheduled', data: { poll: 'open' } },
        { type: 'user_left', room, seq: 5, ts, user: modRef, connections: 0, reason: 'left' },
      ]);
      const stamps = observer.events(room).map((f) => f.ts);
      expect([...stamps].sort((a, b) => a - b)).toEqual(stamps);
    });

    it('user_joined / user_left are per connection: two tabs give connections 1, 2, 1, 0 with reasons left and disconnected', async () => {
      const room = uniqueRoom('tabs');
      const observer = await connect('observer');
      await observer.request({ type: 'join_room', room });
      const tab1 = await connect('alice', { name: 'Alice' });
      const tab2 = await connect('alice', { name: 'Alice' });
      await tab1.request({ type: 'join_room', room });
      await tab2.request({ type: 'join_room', room });
      await tab1.request({ type: 'leave_room', room });
      tab2.close();
      await observer.waitFor((f) => f.room === room && f.seq === 5);
      const alice = { id: 'alice', name: 'Alice', role: 'learner' };
      expect(observer.events(room).map(({ ts: _ts, ...rest }) => rest)).toEqual([
        { type: 'user_joined', room, seq: 2, user: alice, connections: 1 },
        { type: 'user_joined', room, seq: 3, user: alice, connections: 2 },
        { type: 'user_left', room, seq: 4, user: alice, connections: 1, reason: 'left' },
        { type: 'user_left', room, seq: 5, user: alice, connections: 0, reason: 'disconnected' },
      ]);
      expect((await observer.request({ type: 'join_room', room })).participants).toEqual([{ id: 'observer', name: 'observer', role: 'learner', connections: 1 }]);
    });

    it('every connection receives every event of the room in seq order, with no gap', async () => {
      const room = uniqueRoom('order');
      const members = await Promise.all(['a', 'b', 'c', 'd'].map((sub) => connect(sub)));
      const joins = [];
      for (const member of members) joins.push(await member.request({ type: 'join_room', room }));
      // Everyone talks at once, and one more member joins in the middle of it.
      const late = await connect('late');
      const sends = members.flatMap((member, m) => Array.from({ length: 8 }, (_, i) => member.request({ type: 'chat_message', room, text: `${m}:${i}` })));
      const lateJoin = late.request({ type: 'join_room', room });
      const acks = await Promise.all(sends);
      const lateJoined = await lateJoin;
      const head = Math.max(lateJoined.seq, ...acks.map((a) => a.seq));
      expect(head).toBe(4 + 32 + 1);
      for (const [i, member] of members.entries()) {
        await member.waitFor((f) => f.room === room && f.seq === head);
        const events = member.events(room).filter((f) => f.seq > joins[i]!.seq);
        expect(continuityProblems(events, joins[i]!.seq)).toEqual([]);
        expect(events.at(-1)!.seq).toBe(head);
      }
      if (lateJoined.seq < head) await late.waitFor((f) => f.room === room && f.seq === head);
      expect(continuityProblems(late.events(room), lateJoined.seq)).toEqual([]);
      // An ack's seq is the event's place: each sender saw its own text at that seq.
      const byText = new Map(members[0]!.events(room).filter((f) => f.type === 'chat_message').map((f) => [f.text, f.seq]));
      let k = 0;
      for (let m = 0; m < members.length; m++) for (let i = 0; i < 8; i++) expect(byText.get(`${m}:${i}`)).toBe(acks[k++]!.seq);
    });
  });
}
