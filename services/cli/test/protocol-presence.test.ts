/**
 * PROTOCOL.md §5, large rooms: above the presence threshold, joins and leaves reach members as
 * `presence_diff` (one per interval), and `(fromSeq ?? seq) == last + 1` holds for everyone.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, continuityProblems, startServer, TestClient, token, uniqueRoom, type Frame, type TestServer } from './context.js';

const THRESHOLD = 3;

for (const backend of await backends()) {
  describe(`protocol §5 presence_diff above the threshold (${backend})`, () => {
    let server: TestServer;
    const clients: TestClient[] = [];
    async function connect(sub: string): Promise<TestClient> {
      const client = await TestClient.connect(server.url, token({ sub, role: sub === 'host' ? 'instructor' : 'learner' }));
      clients.push(client);
      return client;
    }
    beforeAll(async () => {
      server = await startServer(backend, { LECTERN_PRESENCE_THRESHOLD: String(THRESHOLD), LECTERN_PRESENCE_INTERVAL_MS: '200' });
    });
    afterAll(async () => {
      await server?.stop();
    });
    afterEach(() => {
      for (const client of clients.splice(0)) client.close();
    });

    it('members get diffs, not per-join events; continuity and counts hold for every member, late joiners included', async () => {
      const room = uniqueRoom('big');
      const joinedOf = new Map<TestClient, Frame>();
      const host = await connect('host');
      joinedOf.set(host, await host.request({ type: 'join_room', room }));
      const people: TestClient[] = [host];
      // Seven more users, joining one at a time and then in a crowd.
      for (const sub of ['u1', 'u2']) {
        const client = await connect(sub);
        joinedOf.set(client, await client.request({ type: 'join_room', room }));
        people.push(client);
      }
      const crowd = await Promise.all(['u3', 'u4', 'u5', 'u6', 'u7'].map((sub) => connect(sub)));
      const crowdJoined = await Promise.all(crowd.map((client) => client.request({ type: 'join_room', room })));
      crowd.forEach((client, i) => joinedOf.set(client, crowdJoined[i]!));
      people.push(...crowd);
      // A second tab of u1 is not a new user; u2 leaves.
      const tab = await connect('u1');
      joinedOf.set(tab, await tab.request({ type: 'join_room', room }));
      expect(await people[2]!.request({ type: 'leave_room', room })).toMatchObject({ type: 'left' });
      const stayers = [...people.filter((p) => p !== people[2]), tab];

      // A chat flushes any pending diff before it, so once everyone has it, presence is settled.
      const ack = await host.request({ type: 'chat_message', room, text: 'welcome all' });
      for (const client of stayers) await client.waitFor((f) => f.room === room && f.type === 'chat_message' && f.seq === ack.seq);
      for (const client of stayers) {
        const joined = joinedOf.get(client)!;
        expect(joined.type).toBe('joined');
        const events = client.events(room).filter((f) => f.seq > joined.seq);
        expect(continuityProblems(events, joined.seq), `member ${client.frames[0]!.user.id} joined at ${joined.seq}`).toEqual([]);
        expect(events.at(-1)).toMatchObject({ type: 'chat_message', seq: ack.seq });
      }
      // Once the room is over the threshold, joins and leaves travel as diffs.
      const hostEvents = host.events(room);
      const diffs = hostEvents.filter((f) => f.type === 'presence_diff');
      expect(diffs.length).toBeGreaterThan(0);
      for (const diff of diffs) {
        expect(diff).toEqual({
          type: 'presence_diff',
          room,
          fromSeq: expect.any(Number),
          seq: expect.any(Number),
          ts: expect.any(Number),
          joined: expect.any(Array),
          left: expect.any(Array),
          count: expect.any(Number),
        });
        expect(diff.fromSeq).toBeLessThanOrEqual(diff.seq);
        for (const user of [...diff.joined, ...diff.left]) expect(Object.keys(user).sort()).toEqual(['id', 'name', 'role']);
      }
      const perJoin = hostEvents.filter((f) => f.type === 'user_joined' || f.type === 'user_left');
      expect(perJoin.every((f) => f.seq <= THRESHOLD + 1)).toBe(true);
      // Counts: the host's view, folded from its events, ends with 7 users (host, u1, u3..u7).
      const lastDiff = diffs.at(-1)!;
      expect(lastDiff.count).toBe(7);
      const present = new Set(joinedOf.get(host)!.participants.map((p: Frame) => p.id));
      for (const f of hostEvents) {
        if (f.type === 'user_joined') present.add(f.user.id);
        if (f.type === 'user_left' && f.connections === 0) present.delete(f.user.id);
        if (f.type === 'presence_diff') {
          for (const u of f.joined) present.add(u.id);
          for (const u of f.left) present.delete(u.id);
          expect(f.count).toBe(present.size);
        }
      }
      expect([...present].sort()).toEqual(['host', 'u1', 'u3', 'u4', 'u5', 'u6', 'u7']);
      // u1's second tab is not in any diff's joined list a second time.
      expect(diffs.flatMap((d) => d.joined.map((u: Frame) => u.id)).filter((id: string) => id === 'u1').length).toBeLessThanOrEqual(1);
      // The snapshot agrees.
      const late = await connect('late');
      const lateJoined = await late.request({ type: 'join_room', room });
      const participants = new Map(lateJoined.participants.map((p: Frame) => [p.id, p.connections]));
      expect(participants.get('u1')).toBe(2);
      expect(participants.has('u2')).toBe(false);
      expect(participants.size).toBe(8);
    });
  });
}

for (const backend of await backends()) {
  describe(`large rooms list some participants, count all (${backend}; docs/protocol.md §9)`, () => {
    let server: TestServer;
    const clients: TestClient[] = [];
    async function joinAs(sub: string, role = 'learner'): Promise<{ client: TestClient; joined: Frame }> {
      const client = await TestClient.connect(server.url, token({ sub, role }));
      clients.push(client);
      return { client, joined: await client.request({ type: 'join_room', room }) };
    }
    let room: string;
    beforeAll(async () => {
      server = await startServer(backend, { LECTERN_JOINED_PARTICIPANTS: '2', LECTERN_INSPECT_PARTICIPANTS: '3' });
      room = uniqueRoom('lecture');
    });
    afterAll(async () => {
      for (const client of clients.splice(0)) client.close();
      await server?.stop();
    });

    it('joined: staff first, then learners by arrival, with participantCount and participantsTruncated; the projection likewise', async () => {
      const small = await joinAs('u1');
      expect(small.joined.participants.map((p: Frame) => p.id)).toEqual(['u1']);
      expect(small.joined.participantCount).toBe(1);
      expect(small.joined).not.toHaveProperty('participantsTruncated');
      await joinAs('u2');
      await joinAs('u3');
      await joinAs('host', 'instructor');
      const { joined } = await joinAs('late');
      expect(joined.participants).toEqual([
        { id: 'host', name: 'host', role: 'instructor', connections: 1 },
        { id: 'u1', name: 'u1', role: 'learner', connections: 1 },
      ]);
      expect(joined.participantCount).toBe(5);
      expect(joined.participantsTruncated).toBe(true);

      const response = await fetch(`${server.http}/v1/rooms/${room}`, { headers: { authorization: `Bearer ${token({ sub: 'lms', role: 'service' })}` } });
      expect(response.status).toBe(200);
      const projection = (await response.json()) as Frame;
      expect(projection.participants.map((p: Frame) => p.id)).toEqual(['host', 'u1', 'u2']);
      expect(projection).toMatchObject({ room, participantCount: 5, participantsTruncated: true });
    });
  });
}
