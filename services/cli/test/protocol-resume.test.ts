/**
 * PROTOCOL.md §7: resuming with `since` after a reconnect.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, continuityProblems, startServer, TestClient, token, uniqueRoom, type Frame, type TestServer } from './context.js';

const WINDOW = 10;

for (const backend of await backends()) {
  describe(`protocol §7 resuming (${backend})`, () => {
    let server: TestServer;
    const clients: TestClient[] = [];
    async function connect(sub: string): Promise<TestClient> {
      const client = await TestClient.connect(server.url, token({ sub }));
      clients.push(client);
      return client;
    }
    beforeAll(async () => {
      server = await startServer(backend, { LECTERN_RECOVERY_WINDOW: String(WINDOW) });
    });
    afterAll(async () => {
      await server?.stop();
    });
    afterEach(() => {
      for (const client of clients.splice(0)) client.close();
    });

    /** Bob joins, sees up to `lastSeq`, drops; alice waits for his user_left. */
    async function bobDrops(room: string, alice: TestClient): Promise<number> {
      const bob = await connect('bob');
      const joined = await bob.request({ type: 'join_room', room });
      await alice.request({ type: 'chat_message', room, text: 'before' });
      const last = await bob.waitFor((f) => f.type === 'chat_message' && f.room === room && f.text === 'before');
      expect(last.seq).toBe(joined.seq + 1);
      bob.ws.terminate();
      await alice.waitFor((f) => f.type === 'user_left' && f.room === room && f.user.id === 'bob');
      return last.seq;
    }

    it('since → missed complete, recovered: true, with its own user_left(disconnected) and the user_joined at seq; live continues at seq + 1', async () => {
      const room = uniqueRoom('resume');
      const alice = await connect('alice');
      await alice.request({ type: 'join_room', room });
      const since = await bobDrops(room, alice);
      await alice.request({ type: 'chat_message', room, text: 'while away 1' });
      await alice.request({ type: 'chat_message', room, text: 'while away 2' });

      const bob = await connect('bob');
      const joined = await bob.request({ type: 'join_room', room, since });
      expect(joined).toMatchObject({ type: 'joined', room, recovered: true });
      const missed: Frame[] = joined.missed;
      expect(missed.map((f) => [f.type, f.seq])).toEqual([
        ['user_left', since + 1],
        ['chat_message', since + 2],
        ['chat_message', since + 3],
        ['user_joined', since + 4],
      ]);
      expect(missed[0]).toMatchObject({ user: { id: 'bob' }, connections: 0, reason: 'disconnected' });
      expect(missed[3]).toEqual({ type: 'user_joined', room, seq: joined.seq, ts: expect.any(Number), user: { id: 'bob', name: 'bob', role: 'learner' }, connections: 1 });
      expect(continuityProblems(missed, since)).toEqual([]);

      const next = await alice.request({ type: 'chat_message', room, text: 'welcome back' });
      expect(next.seq).toBe(joined.seq + 1);
      const live = await bob.waitFor((f) => f.type === 'chat_message' && f.room === room && f.seq === next.seq);
      expect(live.text).toBe('welcome back');
      expect(continuityProblems(bob.events(room), joined.seq)).toEqual([]);
    });

    it('since = the head: missed holds just the own user_joined', async () => {
      const room = uniqueRoom('head');
      const alice = await connect('alice');
      await alice.request({ type: 'join_room', room });
      const first = await alice.request({ type: 'leave_room', room });
      expect(first.type).toBe('left');
      const head = (await (await connect('peek')).request({ type: 'join_room', room })).seq;
      const again = await alice.request({ type: 'join_room', room, since: head });
      expect(again).toMatchObject({ recovered: true, seq: head + 1 });
      expect(again.missed.map((f: Frame) => [f.type, f.seq, f.user.id])).toEqual([['user_joined', head + 1, 'alice']]);
    });

    it('a gap beyond LECTERN_RECOVERY_WINDOW answers recovered: false with a usable snapshot', async () => {
      const room = uniqueRoom('toolate');
      const alice = await connect('alice');
      await alice.request({ type: 'join_room', room });
      const since = await bobDrops(room, alice);
      for (let i = 0; i < WINDOW + 2; i++) await alice.request({ type: 'chat_message', room, text: `flood ${i}` });
      const bob = await connect('bob');
      const joined = await bob.request({ type: 'join_room', room, since });
      expect(joined).toMatchObject({ type: 'joined', room, recovered: false, seq: since + 1 + WINDOW + 2 + 1 });
      expect(joined.missed === undefined || joined.missed.length === 0).toBe(true);
      expect(joined.participants.map((p: Frame) => p.id).sort()).toEqual(['alice', 'bob']);
      expect(joined.history.at(-1)).toMatchObject({ text: `flood ${WINDOW + 1}` });
      const next = await alice.request({ type: 'chat_message', room, text: 'live again' });
      expect((await bob.waitFor((f) => f.room === room && f.type === 'chat_message' && f.text === 'live again')).seq).toBe(next.seq);
      expect(next.seq).toBe(joined.seq + 1);
    });

    it('since ahead of the room (a client from another world) answers recovered: false', async () => {
      const room = uniqueRoom('ahead');
      const alice = await connect('alice');
      const joined = await alice.request({ type: 'join_room', room, since: 500 });
      expect(joined).toMatchObject({ type: 'joined', seq: 1, recovered: false });
    });

    it('resending the offline queue with the same mids after a resume doubles nothing', async () => {
      const room = uniqueRoom('queue');
      const alice = await connect('alice');
      await alice.request({ type: 'join_room', room });
      const first = await alice.request({ type: 'chat_message', room, text: 'queued', mid: 'q1' });
      alice.ws.terminate();
      const back = await connect('alice');
      const joined = await back.request({ type: 'join_room', room, since: first.seq });
      expect(joined.recovered).toBe(true);
      expect(await back.request({ type: 'chat_message', room, text: 'queued', mid: 'q1' })).toMatchObject({ seq: first.seq, duplicate: true });
      expect((await back.request({ type: 'chat_message', room, text: 'new', mid: 'q2' })).seq).toBe(joined.seq + 1);
    });
  });
}
