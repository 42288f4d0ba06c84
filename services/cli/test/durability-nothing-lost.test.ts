/**
 * Nothing lost under pipelined load: every chat message is acked once, every member of its
 * room receives it once and in seq order, and the log holds exactly the acked messages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, startServer, TestClient, token, type Frame, type TestServer } from './context.js';
import { createDataHome, readRoomWithPg, type DataHome } from './processes.js';

const ROOMS = 5;
const MEMBERS = 4;
const MESSAGES = 200;

/** Seqs of a member's stream after its join, checked for order and gaps (presence_diff spans fromSeq..seq). */
function checkStream(events: Frame[], joinedSeq: number, head: number): { duplicates: number; seqs: number[] } {
  const seen = new Set<number>();
  const seqs: number[] = [];
  let duplicates = 0;
  let last = joinedSeq;
  for (const event of events) {
    const from = typeof event.fromSeq === 'number' ? event.fromSeq : event.seq;
    if (event.seq <= last) {
      duplicates++;
      continue; // a client drops what it already has
    }
    expect(from, `stream of ${event.room} continues at ${last + 1}`).toBe(last + 1);
    for (let seq = from; seq <= event.seq; seq++) seen.add(seq);
    seqs.push(event.seq);
    last = event.seq;
  }
  expect(last).toBe(head);
  expect(seen.size).toBe(head - joinedSeq);
  return { duplicates, seqs };
}

for (const backend of await backends()) {
  describe(`durability: nothing lost under pipelined load (${backend})`, () => {
    let home: DataHome;
    let server: TestServer;
    const clients: TestClient[] = [];

    beforeAll(async () => {
      home = await createDataHome(backend);
      server = await startServer(backend, { ...home.env, LECTERN_RATE_PER_SECOND: '1000000', LECTERN_RATE_BURST: '1000000' });
    });
    afterAll(async () => {
      for (const client of clients) client.close();
      await server?.stop();
      await home?.drop();
    });

    it(`${ROOMS} rooms × ${MEMBERS} members × ${MESSAGES} pipelined messages: all acked once, delivered once in order, logged exactly`, async () => {
      const rooms = Array.from({ length: ROOMS }, (_, r) => `load-${r}`);
      const members = new Map<string, { client: TestClient; user: string; joinedSeq: number }[]>();
      for (const room of rooms) {
        const list: { client: TestClient; user: string; joinedSeq: number }[] = [];
        for (let m = 0; m < MEMBERS; m++) {
          const user = `${room}-u${m}`;
          const client = await TestClient.connect(server.url, token({ sub: user }));
          clients.push(client);
          const joined = await client.request({ type: 'join_room', room });
          expect(joined).toMatchObject({ type: 'joined', room, seq: m + 1 });
          list.push({ client, user, joinedSeq: joined.seq });
        }
        members.set(room, list);
      }

      // Every client sends all its messages at once, without waiting for acks.
      const sends: Promise<{ room: string; user: string; mid: string; answer: Frame }>[] = [];
      for (const [room, list] of members) {
        for (const { client, user } of list) {
          for (let i = 0; i < MESSAGES; i++) {
            const mid = `${user}-m${i}`;
            sends.push(client.request({ type: 'chat_message', room, text: `message ${i} from ${user}`, mid }, 60_000).then((answer) => ({ room, user, mid, answer })));
          }
        }
      }
      const answers = await Promise.all(sends);

      // Acked exactly once, never as a duplicate, one seq per message.
      const ackedByRoom = new Map<string, Map<number, string>>(rooms.map((room) => [room, new Map()]));
      for (const { room, mid, answer } of answers) {
        expect(answer, `answer to ${mid}`).toMatchObject({ type: 'ack', room });
        expect(answer.duplicate).toBeUndefined();
        const acked = ackedByRoom.get(room)!;
        expect(acked.has(answer.seq), `seq ${answer.seq} of ${room} acked twice`).toBe(false);
        acked.set(answer.seq, mid);
      }
      for (const [, list] of members) {
        for (const { client } of list) {
          const acks = client.frames.filter((f) => f.type === 'ack');
          expect(acks).toHaveLength(MESSAGES);
          expect(new Set(acks.map((f) => f.id)).size).toBe(MESSAGES);
          expect(client.frames.filter((f) => f.type === 'error')).toEqual([]);
        }
      }

      const head = MEMBERS + MEMBERS * MESSAGES;
      for (const [room, list] of members) {
        const acked = ackedByRoom.get(room)!;
        expect([...acked.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: MEMBERS * MESSAGES }, (_, i) => MEMBERS + 1 + i));

        // Every member receives every event after its join once, in seq order, no gaps.
        for (const { client, joinedSeq } of list) {
          await client.waitFor((f) => f.room === room && f.seq === head && f.type !== 'ack', 30_000);
          const { duplicates } = checkStream(client.events(room), joinedSeq, head);
          expect(duplicates, 'events delivered twice on one connection').toBe(0);
          const chats = client.events(room).filter((f) => f.type === 'chat_message');
          expect(chats.map((f) => f.seq)).toEqual([...acked.keys()].sort((a, b) => a - b));
          for (const chat of chats) expect(chat.mid).toBe(acked.get(chat.seq));
        }

        // The log holds exactly the acked messages, seqs gapless from 1.
        const logged = await server.running.store!.readRoom(room, 0, head + 100);
        expect(logged.map((e) => e.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
        const loggedChats = logged.filter((e) => e.type === 'chat_message');
        expect(loggedChats.map((e) => [e.seq, (e.data as { mid?: string }).mid])).toEqual(
          [...acked.entries()].sort((a, b) => a[0] - b[0]),
        );
        expect(logged.filter((e) => e.type !== 'chat_message').map((e) => e.type)).toEqual(Array(MEMBERS).fill('user_joined'));

        if (backend === 'services') {
          const rows = await readRoomWithPg(home, room);
          expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
          expect(rows.filter((r) => r.type === 'chat_message').map((r) => [r.seq, r.data.mid])).toEqual(
            [...acked.entries()].sort((a, b) => a[0] - b[0]),
          );
          // The stored frame is what was delivered live.
          const live = new Map(list[0]!.client.events(room).map((f) => [f.seq, f]));
          for (const row of rows.filter((r) => r.seq > list[0]!.joinedSeq)) expect(JSON.parse(row.frame)).toEqual(live.get(row.seq));
        }
      }
    }, 120_000);
  });
}
