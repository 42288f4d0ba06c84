/**
 * Commits that fail: the room answers `unavailable` for everything not committed, logs
 * nothing it did not ack, loses nothing it acked, reloads from the log, and carries on with
 * gapless seqs once the log takes writes again.
 *
 * How appends are made to fail, with the real stores:
 * - Postgres: a `CHECK (false) NOT VALID` constraint on the test schema's `room_events`
 *   (existing rows stay valid, every insert is refused by the database);
 * - PGlite (which only the server process can reach): the store's `append` is wrapped to put
 *   a `\u0000` in each event's data, which jsonb refuses, so the real store fails the call
 *   and cascades it to the room's queued calls exactly as for any database failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError, type EventStore, type NewEvent } from '@lectern/event-store';
import { backends, startServer, TestClient, token, type Frame, type TestServer } from './context.js';
import { createDataHome, execSql, readRoomWithPg, type DataHome } from './processes.js';

interface Breaker {
  break(): Promise<void>;
  mend(): Promise<void>;
}

function breakerFor(home: DataHome, server: TestServer): Breaker {
  if (home.backend === 'services') {
    const table = `"${home.schema}".room_events`;
    return {
      break: () => execSql(home, `alter table ${table} add constraint durability_blocked check (false) not valid`),
      mend: () => execSql(home, `alter table ${table} drop constraint durability_blocked`),
    };
  }
  const store = server.running.store! as EventStore;
  const append = store.append.bind(store);
  let broken = false;
  store.append = (room: string, expectedSeq: number, events: readonly NewEvent[]) =>
    append(room, expectedSeq, broken ? events.map((event) => ({ ...event, data: { ...event.data, poison: 'nul \u0000' } })) : events);
  return {
    break: async () => void (broken = true),
    mend: async () => void (broken = false),
  };
}

/** Every event of the room in the log, through the store (and, for Postgres, also with `pg`). */
async function readLog(home: DataHome, server: TestServer, room: string): Promise<{ seq: number; type: string; mid?: string }[]> {
  const events = await server.running.store!.readRoom(room, 0, 100_000);
  const viaStore = events.map((e) => ({ seq: e.seq, type: e.type, mid: (e.data as { mid?: string }).mid }));
  if (home.backend === 'services') {
    const viaPg = (await readRoomWithPg(home, room)).map((r) => ({ seq: r.seq, type: r.type, mid: r.data.mid as string | undefined }));
    expect(viaPg).toEqual(viaStore);
  }
  return viaStore;
}

function expectGapless(seqs: number[]): void {
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
}

/** A member's live stream: in order, no gaps, each seq once (presence_diff spans fromSeq..seq). */
function expectContinuous(events: Frame[], after: number): number {
  let last = after;
  for (const event of events) {
    expect(event.fromSeq ?? event.seq, `event after seq ${last}`).toBe(last + 1);
    last = event.seq;
  }
  return last;
}

for (const backend of await backends()) {
  describe(`durability: commit failures (${backend})`, () => {
    let home: DataHome;
    let server: TestServer;
    let breaker: Breaker;
    const clients: TestClient[] = [];
    const connect = async (sub: string) => {
      const client = await TestClient.connect(server.url, token({ sub }));
      clients.push(client);
      return client;
    };

    beforeAll(async () => {
      home = await createDataHome(backend);
      server = await startServer(backend, { ...home.env, LECTERN_RATE_PER_SECOND: '1000000', LECTERN_RATE_BURST: '1000000', LOG_LEVEL: 'error' });
      breaker = breakerFor(home, server);
    });
    afterAll(async () => {
      for (const client of clients) client.close();
      await breaker?.mend().catch(() => undefined);
      await server?.stop();
      await home?.drop();
    });

    it('while appends fail: unavailable for every command, nothing logged; after: the room carries on gapless', async () => {
      const room = 'blocked';
      const alice = await connect('alice');
      const bob = await connect('bob');
      await alice.request({ type: 'join_room', room });
      const joinedB = await bob.request({ type: 'join_room', room });
      const before = await Promise.all([0, 1, 2].map((i) => alice.request({ type: 'chat_message', room, text: `ok ${i}`, mid: `ok${i}` })));
      expect(before.map((a) => a.seq)).toEqual([3, 4, 5]);

      await breaker.break();
      const failed = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => alice.request({ type: 'chat_message', room, text: `lost ${i}`, mid: `lost${i}` })));
      for (const answer of failed) expect(answer).toMatchObject({ type: 'error', code: 'unavailable', room });
      expect(failed.every((a) => typeof a.retryAfterMs === 'number')).toBe(true);
      // A join is refused the same way, and leaves the joiner out of the room.
      const carol = await connect('carol');
      expect(await carol.request({ type: 'join_room', room })).toMatchObject({ type: 'error', code: 'unavailable' });

      await breaker.mend();
      const after = await Promise.all([0, 1].map((i) => alice.request({ type: 'chat_message', room, text: `again ${i}`, mid: `again${i}` })));
      expect(after.map((a) => a.seq)).toEqual([6, 7]);
      // The resent offline queue is appended now, once: those mids were never committed.
      const resent = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => alice.request({ type: 'chat_message', room, text: `lost ${i}`, mid: `lost${i}` })));
      expect(resent.map((a) => [a.type, a.seq, a.duplicate])).toEqual([0, 1, 2, 3, 4, 5].map((i) => ['ack', 8 + i, undefined]));
      const joinedC = await carol.request({ type: 'join_room', room });
      expect(joinedC).toMatchObject({ type: 'joined', seq: 14 });
      expect(joinedC.participants.map((p: Frame) => p.id)).toEqual(['alice', 'bob', 'carol']);

      await bob.waitFor((f) => f.room === room && f.seq === 14 && f.type === 'user_joined');
      expect(expectContinuous(bob.events(room), joinedB.seq)).toBe(14);
      const log = await readLog(home, server, room);
      expectGapless(log.map((e) => e.seq));
      expect(log.filter((e) => e.type === 'chat_message').map((e) => e.mid)).toEqual(['ok0', 'ok1', 'ok2', 'again0', 'again1', 'lost0', 'lost1', 'lost2', 'lost3', 'lost4', 'lost5']);
    });

    it('a failure in the middle of a pipelined burst: every message answered once, acked ⇔ logged, resending the rest appends each once', async () => {
      const room = 'burst';
      const alice = await connect('alice');
      const bob = await connect('bob');
      await alice.request({ type: 'join_room', room });
      const joinedB = await bob.request({ type: 'join_room', room });

      // Alice keeps 40 messages in flight, 500 in all. The log breaks at the 20th ack and
      // mends at the first `unavailable`, so commands are decided all the while.
      let acks = 0;
      let breaking: Promise<void> | undefined;
      let mending: Promise<void> | undefined;
      alice.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        if (frame.type === 'ack' && ++acks === 20) breaking = breaker.break();
        if (frame.type === 'error' && frame.code === 'unavailable' && mending === undefined) mending = breaking!.then(() => breaker.mend());
      });
      const mids = Array.from({ length: 500 }, (_, i) => `burst${i}`);
      const answers: Frame[] = [];
      await new Promise<void>((resolve, reject) => {
        let sent = 0;
        let answered = 0;
        const pump = () => {
          while (sent < mids.length && sent - answered < 40) {
            const i = sent++;
            alice.request({ type: 'chat_message', room, text: `burst ${i}`, mid: mids[i] }, 30_000).then((answer) => {
              answers[i] = answer;
              if (++answered === mids.length) resolve();
              else pump();
            }, reject);
          }
        };
        pump();
      });
      await breaking;
      await mending;

      const ackedSeq = new Map<string, number>();
      const unavailable: string[] = [];
      answers.forEach((answer, i) => {
        if (answer.type === 'ack') ackedSeq.set(mids[i]!, answer.seq);
        else {
          expect(answer).toMatchObject({ type: 'error', code: 'unavailable' });
          unavailable.push(mids[i]!);
        }
      });
      expect(ackedSeq.size).toBeGreaterThanOrEqual(20);
      expect(unavailable.length).toBeGreaterThanOrEqual(1);
      // One answer per request, no more.
      expect(alice.frames.filter((f) => f.type === 'ack' || f.type === 'error')).toHaveLength(mids.length);

      // Acked ⇔ logged, at the acked seq; nothing unacked in the log.
      let log = await readLog(home, server, room);
      expectGapless(log.map((e) => e.seq));
      const loggedChats = new Map(log.filter((e) => e.type === 'chat_message').map((e) => [e.mid!, e.seq]));
      expect(loggedChats).toEqual(ackedSeq);

      // Resend what was not acked: each is appended once, and the room stays gapless.
      const resent = await Promise.all(unavailable.map((mid) => alice.request({ type: 'chat_message', room, text: 'again', mid })));
      for (const answer of resent) expect(answer).toMatchObject({ type: 'ack' });
      for (const answer of resent) expect(answer.duplicate).toBeUndefined();
      const head = Math.max(...resent.map((a) => a.seq as number));
      log = await readLog(home, server, room);
      expectGapless(log.map((e) => e.seq));
      expect(log.at(-1)!.seq).toBe(head);
      expect(log.filter((e) => e.type === 'chat_message').map((e) => e.mid).sort()).toEqual([...mids].sort());

      // Bob saw exactly the committed events, in order, with no gap.
      await bob.waitFor((f) => f.room === room && f.seq === head && f.type !== 'ack');
      expect(expectContinuous(bob.events(room), joinedB.seq)).toBe(head);
    });

    it('a commit that landed but was reported failed (unknown outcome): unavailable to the sender, live to the members, a duplicate when resent', async () => {
      const room = 'unknown-outcome';
      const alice = await connect('alice');
      const bob = await connect('bob');
      await alice.request({ type: 'join_room', room });
      const joinedB = await bob.request({ type: 'join_room', room });
      // The store writes the next append, then reports the connection lost while committing
      // (the contract's "outcome unknown" StoreUnavailableError).
      const store = server.running.store! as EventStore;
      const append = store.append;
      store.append = async (r: string, expectedSeq: number, events: readonly NewEvent[]) => {
        store.append = append;
        await append.call(store, r, expectedSeq, events);
        throw new StoreUnavailableError('event store unavailable while appending: connection lost while committing');
      };
      const lost = await alice.request({ type: 'chat_message', room, text: 'did it land?', mid: 'u1' });
      expect(lost).toMatchObject({ type: 'error', code: 'unavailable' });
      // It did: bob gets it live, in order, before anything after it.
      const live = await bob.waitFor((f) => f.type === 'chat_message' && f.mid === 'u1');
      expect(live.seq).toBe(3);
      const resent = await alice.request({ type: 'chat_message', room, text: 'did it land?', mid: 'u1' });
      expect(resent).toMatchObject({ type: 'ack', seq: 3, duplicate: true });
      const next = await alice.request({ type: 'chat_message', room, text: 'next', mid: 'u2' });
      expect(next).toMatchObject({ type: 'ack', seq: 4 });
      await bob.waitFor((f) => f.type === 'chat_message' && f.mid === 'u2');
      expect(expectContinuous(bob.events(room), joinedB.seq)).toBe(4);
      const log = await readLog(home, server, room);
      expect(log.map((e) => [e.seq, e.type, e.mid])).toEqual([
        [1, 'user_joined', undefined],
        [2, 'user_joined', undefined],
        [3, 'chat_message', 'u1'],
        [4, 'chat_message', 'u2'],
      ]);
    });
  });
}
