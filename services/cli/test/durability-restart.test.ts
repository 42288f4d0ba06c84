/**
 * A server stopped and started again on the same data: clients resume with `since` and get
 * everything they missed (their own `user_left` from the shutdown included), live events
 * continue right after, and `mid` dedupe survives the restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, startServer, TestClient, token, type Frame, type TestServer } from './context.js';
import { createDataHome, type DataHome } from './processes.js';

const ROOM = 'resume';

function lastSeq(client: TestClient): number {
  return client.events(ROOM).reduce((max, f) => Math.max(max, f.seq as number), 0);
}

for (const backend of await backends()) {
  describe(`durability: restart and resume (${backend})`, () => {
    let home: DataHome;
    const servers: TestServer[] = [];
    const clients: TestClient[] = [];
    const start = async () => {
      const server = await startServer(backend, home.env);
      servers.push(server);
      return server;
    };
    const connect = async (server: TestServer, sub: string) => {
      const client = await TestClient.connect(server.url, token({ sub }));
      clients.push(client);
      return client;
    };

    beforeAll(async () => {
      home = await createDataHome(backend);
    });
    afterAll(async () => {
      for (const client of clients) client.close();
      for (const server of servers) await server.stop().catch(() => undefined);
      await home?.drop();
    });

    it('resumes with since after a restart: missed is complete, live continues at seq+1, a resent mid is a duplicate', async () => {
      // Before: three members, some chat.
      const first = await start();
      const users = ['alice', 'bob', 'carol'];
      const before = new Map<string, TestClient>();
      for (const user of users) {
        const client = await connect(first, user);
        await client.request({ type: 'join_room', room: ROOM });
        before.set(user, client);
      }
      const alice = before.get('alice')!;
      const bob = before.get('bob')!;
      const carol = before.get('carol')!;
      const ackA = await alice.request({ type: 'chat_message', room: ROOM, text: 'before the restart', mid: 'a1' });
      const ackB = await bob.request({ type: 'chat_message', room: ROOM, text: 'me too', mid: 'b1' });
      expect([ackA.seq, ackB.seq]).toEqual([4, 5]);
      for (const client of before.values()) await client.waitFor((f) => f.room === ROOM && f.seq === 5 && f.type === 'chat_message');
      const since = new Map(users.map((user) => [user, lastSeq(before.get(user)!)]));

      // Stop: every socket is closed as "going away", and nothing can be sent meanwhile.
      await first.stop();
      for (const client of before.values()) expect(await client.closed()).toBe(1001);
      await expect(TestClient.connect(first.url, token({ sub: 'dave' }))).rejects.toThrow();

      // After: the same data, a new process.
      const second = await start();
      const aliceAgain = await connect(second, 'alice');
      const resumedA = await aliceAgain.request({ type: 'join_room', room: ROOM, since: since.get('alice') });
      expect(resumedA).toMatchObject({ type: 'joined', room: ROOM, recovered: true });
      // What alice missed: the three `user_left` (disconnected) of the shutdown, then her own join.
      const missedA: Frame[] = resumedA.missed;
      expect(missedA.map((f) => f.seq)).toEqual(Array.from({ length: resumedA.seq - since.get('alice')! }, (_, i) => since.get('alice')! + 1 + i));
      const left = missedA.filter((f) => f.type === 'user_left');
      expect(left.map((f) => f.user.id).sort()).toEqual(users);
      for (const event of left) expect(event).toMatchObject({ reason: 'disconnected', connections: 0 });
      expect(missedA.at(-1)).toMatchObject({ type: 'user_joined', user: { id: 'alice' }, seq: resumedA.seq, connections: 1 });
      expect(resumedA.participants.map((p: Frame) => p.id)).toEqual(['alice']);
      expect(resumedA.history.map((f: Frame) => f.mid)).toEqual(['a1', 'b1']);

      // Bob resumes and sees alice's rejoin in his missed; alice gets his join live at seq+1.
      const bobAgain = await connect(second, 'bob');
      const resumedB = await bobAgain.request({ type: 'join_room', room: ROOM, since: since.get('bob') });
      expect(resumedB).toMatchObject({ recovered: true, seq: resumedA.seq + 1 });
      expect(resumedB.missed.map((f: Frame) => f.seq)).toEqual(Array.from({ length: resumedB.seq - since.get('bob')! }, (_, i) => since.get('bob')! + 1 + i));
      expect(resumedB.missed.at(-2)).toMatchObject({ type: 'user_joined', user: { id: 'alice' }, seq: resumedA.seq });
      const bobJoinLive = await aliceAgain.waitFor((f) => f.type === 'user_joined' && f.user.id === 'bob');
      expect(bobJoinLive.seq).toBe(resumedA.seq + 1);

      // The offline queue is resent after the restart: the same mid is a duplicate with its seq.
      const dupA = await aliceAgain.request({ type: 'chat_message', room: ROOM, text: 'before the restart', mid: 'a1' });
      expect(dupA).toMatchObject({ type: 'ack', seq: ackA.seq, duplicate: true });
      const dupB = await bobAgain.request({ type: 'chat_message', room: ROOM, text: 'me too', mid: 'b1' });
      expect(dupB).toMatchObject({ type: 'ack', seq: ackB.seq, duplicate: true });

      // Carol resumes late; live events then continue for everybody at the next seq.
      const carolAgain = await connect(second, 'carol');
      const resumedC = await carolAgain.request({ type: 'join_room', room: ROOM, since: since.get('carol') });
      expect(resumedC).toMatchObject({ recovered: true, seq: resumedB.seq + 1 });
      expect(resumedC.missed).toHaveLength(resumedC.seq - since.get('carol')!);
      const fresh = await carolAgain.request({ type: 'chat_message', room: ROOM, text: 'after the restart', mid: 'c1' });
      expect(fresh).toMatchObject({ type: 'ack', seq: resumedC.seq + 1 });
      expect(fresh.duplicate).toBeUndefined();
      for (const client of [aliceAgain, bobAgain, carolAgain]) {
        const got = await client.waitFor((f) => f.type === 'chat_message' && f.mid === 'c1');
        expect(got.seq).toBe(fresh.seq);
      }

      // Each client's view (before + missed + live after), deduped by seq, is the whole log.
      const logged = await second.running.store!.readRoom(ROOM, 0, 1000);
      expect(logged.map((e) => e.seq)).toEqual(Array.from({ length: fresh.seq }, (_, i) => i + 1));
      const views: [TestClient, TestClient, Frame][] = [
        [alice, aliceAgain, resumedA],
        [bob, bobAgain, resumedB],
        [carol, carolAgain, resumedC],
      ];
      for (const [old, renewed, resumed] of views) {
        const seqs = new Set<number>();
        for (const f of old.events(ROOM)) seqs.add(f.seq);
        for (const f of resumed.missed as Frame[]) seqs.add(f.seq);
        for (const f of renewed.events(ROOM)) seqs.add(f.seq);
        const firstSeq = old.frames.find((f) => f.type === 'joined')!.seq as number;
        expect([...seqs].sort((a, b) => a - b)).toEqual(Array.from({ length: fresh.seq - firstSeq }, (_, i) => firstSeq + 1 + i));
        // Live events after the resume start exactly after the joined seq.
        const liveAfter = renewed.events(ROOM).map((f) => f.seq);
        expect(liveAfter).toEqual(Array.from({ length: fresh.seq - resumed.seq }, (_, i) => resumed.seq + 1 + i));
      }
      expect(logged.filter((e) => e.type === 'chat_message').map((e) => (e.data as { mid: string }).mid)).toEqual(['a1', 'b1', 'c1']);
    });
  });
}
