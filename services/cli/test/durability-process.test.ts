/**
 * The real `lectern start` as a child process: an acked message survives `kill -9`, and a
 * SIGTERM shuts down gracefully (1001 to every socket, `user_left` for every connection in
 * the log, exit 0), losing nothing that was acked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, TestClient, token, type Frame } from './context.js';
import { CliProcess, createDataHome, ensureCliBuilt, killAllChildren, readRoomOffline, type DataHome } from './processes.js';

/** Sends `count` chat messages at once (no waiting for acks) and records their answers. */
function burst(client: TestClient, room: string, prefix: string, count: number): { mids: string[] } {
  const mids: string[] = [];
  for (let i = 0; i < count; i++) {
    const mid = `${prefix}-${i}`;
    mids.push(mid);
    client.send({ type: 'chat_message', room, text: `${prefix} message ${i}`, mid, id: mid });
  }
  return { mids };
}

/** The acks a client got before its socket closed, by mid (request id = mid). */
function acked(client: TestClient): Map<string, number> {
  return new Map(client.frames.filter((f) => f.type === 'ack').map((f) => [f.id as string, f.seq as number]));
}

function expectGapless(seqs: number[]): void {
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
}

beforeAll(() => {
  ensureCliBuilt();
}, 300_000);

afterAll(async () => {
  await killAllChildren();
});

for (const backend of await backends()) {
  describe(`durability: the lectern process (${backend})`, () => {
    let home: DataHome;
    let cli: CliProcess | undefined;
    const clients: TestClient[] = [];
    const connect = async (sub: string) => {
      const client = await TestClient.connect(cli!.url, token({ sub }));
      clients.push(client);
      return client;
    };

    beforeAll(async () => {
      home = await createDataHome(backend);
      cli = await CliProcess.start(home, { LECTERN_RATE_PER_SECOND: '100000', LECTERN_RATE_BURST: '100000', LECTERN_SHUTDOWN_TIMEOUT_MS: '5000' });
    }, 60_000);
    afterAll(async () => {
      for (const client of clients) client.close();
      await killAllChildren();
      await home?.drop();
    });

    it('an acked message survives kill -9: replayed after a restart, and its mid is still a duplicate', async () => {
      const room = 'crash';
      const alice = await connect('alice');
      const bob = await connect('bob');
      await alice.request({ type: 'join_room', room });
      await bob.request({ type: 'join_room', room });

      // Kill the process the moment the first ack arrives (synchronously, in the socket's handler).
      const pid = cli!.pid;
      let killedAfter: Frame | undefined;
      alice.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        if (frame.type === 'ack' && killedAfter === undefined) {
          killedAfter = frame;
          process.kill(pid, 'SIGKILL');
        }
      });
      const { mids } = burst(alice, room, 'a', 50);
      const exit = await cli!.exit();
      expect(exit.signal).toBe('SIGKILL');
      await alice.closed();
      const ackedBeforeCrash = acked(alice);
      expect(killedAfter).toBeDefined();
      expect(ackedBeforeCrash.size).toBeGreaterThanOrEqual(1);
      expect(alice.frames.filter((f) => f.type === 'error')).toEqual([]);

      // Start again on the same data.
      cli = await CliProcess.start(home, { LECTERN_RATE_PER_SECOND: '100000', LECTERN_RATE_BURST: '100000', LECTERN_SHUTDOWN_TIMEOUT_MS: '5000' });
      const carol = await connect('carol');
      const joined = await carol.request({ type: 'join_room', room, since: 0 });
      expect(joined.recovered).toBe(true);
      const replayed = joined.missed as Frame[];
      expectGapless(replayed.map((f) => f.seq));
      const replayedChats = new Map(replayed.filter((f) => f.type === 'chat_message').map((f) => [f.mid as string, f.seq as number]));
      for (const [mid, seq] of ackedBeforeCrash) expect(replayedChats.get(mid), `acked ${mid} replayed at its seq`).toBe(seq);
      for (const [mid, seq] of ackedBeforeCrash) {
        expect(joined.history.find((f: Frame) => f.mid === mid)?.seq).toBe(seq);
      }

      // The old members are still in the room (nobody told the new process they left): the
      // crash leaves ghosts until the gateway-liveness sweep (DESIGN.md §7) removes them.
      // Alice resends her whole offline queue: acked ones are duplicates at their seq, and
      // every mid ends up in the log exactly once.
      const aliceAgain = await connect('alice');
      const resumed = await aliceAgain.request({ type: 'join_room', room, since: bob.events(room).reduce((m, f) => Math.max(m, f.seq), 0) });
      expect(resumed.recovered).toBe(true);
      const answers = await Promise.all(mids.map((mid, i) => aliceAgain.request({ type: 'chat_message', room, text: `a message ${i}`, mid })));
      answers.forEach((answer, i) => {
        expect(answer.type).toBe('ack');
        const before = ackedBeforeCrash.get(mids[i]!);
        if (before !== undefined) expect(answer).toMatchObject({ seq: before, duplicate: true });
        if (replayedChats.has(mids[i]!)) expect(answer).toMatchObject({ seq: replayedChats.get(mids[i]!), duplicate: true });
        else expect(answer.duplicate).toBeUndefined();
      });
      const head = Math.max(...answers.map((a) => a.seq as number), resumed.seq as number);
      await carol.waitFor((f) => f.room === room && f.seq === head && f.type !== 'ack');
      const seen = [...replayed, ...carol.events(room)];
      expectGapless(seen.map((f) => f.seq));
      expect(seen.filter((f) => f.type === 'chat_message').map((f) => f.mid).sort()).toEqual([...mids].sort());
    });

    it('SIGTERM: sockets closed with 1001, user_left (disconnected) logged for every connection, exit 0, nothing acked lost', async () => {
      const room = 'graceful';
      const users = ['dora', 'erin', 'erin', 'finn']; // erin has two tabs: two connections
      const members: TestClient[] = [];
      for (const user of users) {
        const client = await connect(user);
        await client.request({ type: 'join_room', room });
        members.push(client);
      }
      const pid = cli!.pid;
      let signalled = false;
      members[0]!.ws.on('message', (data) => {
        const frame = JSON.parse(data.toString()) as Frame;
        if (frame.type === 'ack' && !signalled) {
          signalled = true;
          process.kill(pid, 'SIGTERM');
        }
      });
      members.forEach((client, i) => burst(client, room, `g${i}`, 40));

      const exit = await cli!.exit(15_000);
      expect(exit).toEqual({ code: 0, signal: null });
      for (const client of members) expect(await client.closed()).toBe(1001);
      const ackedSeqs = new Map<string, number>();
      for (const client of members) for (const [mid, seq] of acked(client)) ackedSeqs.set(mid, seq);
      expect(ackedSeqs.size).toBeGreaterThanOrEqual(1);

      // The log, read from outside: gapless, every acked message at its seq, and one
      // `user_left` (disconnected) per connection, with connection counts going down to 0.
      const log = await readRoomOffline(home, room);
      expectGapless(log.map((r) => r.seq));
      const logged = new Map(log.filter((r) => r.type === 'chat_message').map((r) => [r.data.mid as string, r.seq]));
      for (const [mid, seq] of ackedSeqs) expect(logged.get(mid), `acked ${mid}`).toBe(seq);
      const lefts = log.filter((r) => r.type === 'user_left');
      expect(lefts.map((r) => r.data.reason)).toEqual(Array(users.length).fill('disconnected'));
      expect(lefts.map((r) => (r.data.user as { id: string }).id).sort()).toEqual([...users].sort());
      expect(lefts.filter((r) => (r.data.user as { id: string }).id === 'erin').map((r) => r.data.connections)).toEqual([1, 0]);
      expect(log.at(-1)!.type).toBe('user_left'); // nothing appended after the members left

      // And a new process serves that same log.
      cli = await CliProcess.start(home, { LECTERN_SHUTDOWN_TIMEOUT_MS: '5000' });
      const gina = await connect('gina');
      const joined = await gina.request({ type: 'join_room', room, since: 0 });
      expect(joined).toMatchObject({ recovered: true, seq: log.length + 1, participants: [{ id: 'gina', connections: 1 }] });
      expect((joined.missed as Frame[]).map((f) => f.seq)).toEqual(Array.from({ length: log.length + 1 }, (_, i) => i + 1));
      gina.close();
      expect(await cli.kill('SIGTERM', 15_000)).toEqual({ code: 0, signal: null });
    });
  });
}
