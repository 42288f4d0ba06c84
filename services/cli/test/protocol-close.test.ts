/**
 * PROTOCOL.md §6: heartbeats and close codes — binary frames, token expiry and refresh,
 * silent clients, and slow consumers.
 */
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, startServer, TestClient, token, uniqueRoom, type TestServer } from './context.js';

const HEARTBEAT_MS = 4000;
// Large enough that the test's own busy reader and flooder (same process) never look slow.
const SEND_BUFFER_BYTES = 1024 * 1024;

function rawSocket(client: TestClient): Socket {
  return (client.ws as unknown as { _socket: Socket })._socket;
}

for (const backend of await backends()) {
  describe(`protocol §6 heartbeats and close codes (${backend})`, () => {
    let server: TestServer;
    const clients: TestClient[] = [];
    async function connect(sub: string, claims: Record<string, unknown> = {}, options: Parameters<typeof TestClient.connect>[2] = {}): Promise<TestClient> {
      const client = await TestClient.connect(server.url, token({ sub, ...claims }), options);
      clients.push(client);
      return client;
    }
    beforeAll(async () => {
      server = await startServer(backend, {
        LECTERN_HEARTBEAT_MS: String(HEARTBEAT_MS),
        LECTERN_SEND_BUFFER_BYTES: String(SEND_BUFFER_BYTES),
        // The slow-consumer test paces its own flood (about 200 msg/s: fast enough to outrun a
        // stalled socket, slow enough that uWS' buffer does not pass its hard cap between two
        // sweeps, §9); the limit only has to stay out of its way, or the flooder is closed 4029.
        LECTERN_RATE_PER_SECOND: '1000',
        LECTERN_RATE_BURST: '1000',
      });
    });
    afterAll(async () => {
      await server?.stop();
    });
    afterEach(() => {
      for (const client of clients.splice(0)) client.ws.terminate();
    });

    it('a binary frame closes the connection with 1008; the server stays up and the room sees a disconnect', async () => {
      const room = uniqueRoom('binary');
      const observer = await connect('observer');
      await observer.request({ type: 'join_room', room });
      const client = await connect('binary');
      await client.request({ type: 'join_room', room });
      client.ws.send(Buffer.from(JSON.stringify({ type: 'ping' })), { binary: true });
      expect(await client.closed()).toBe(1008);
      expect(await observer.waitFor((f) => f.type === 'user_left' && f.user.id === 'binary')).toMatchObject({ reason: 'disconnected', connections: 0 });
      expect(await observer.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    });

    // The timer-driven rules share one test, run side by side, so the suite waits once.
    it('4001 when the token expires, not when refresh_token came in time; a refresh with another sub does not count; a silent client is closed after about heartbeatMs × 2', async () => {
      const exp = Math.floor(Date.now() / 1000) + 3;
      const [lapsing, refreshing, victim, silent] = await Promise.all([
        connect('lapsing', { exp }),
        // The refreshing client's first token expires a second before the lapsing one's.
        connect('refreshing', { exp: exp - 1 }),
        connect('victim', { exp: exp - 1 }),
        connect('silent', {}, { ws: { autoPong: false } }),
      ]);
      const pings: number[] = [];
      silent.ws.on('ping', () => pings.push(Date.now()));
      const silentSince = Date.now();
      expect(silent.frames[0]).toMatchObject({ type: 'welcome', heartbeatMs: HEARTBEAT_MS });

      expect(await refreshing.request({ type: 'refresh_token', token: token({ sub: 'refreshing', exp: exp + 3600 }) })).toMatchObject({ type: 'ack' });
      expect(await victim.request({ type: 'refresh_token', token: token({ sub: 'attacker', exp: exp + 3600 }) })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await victim.closed(8000)).toBe(4001);
      expect(await lapsing.closed(8000)).toBe(4001);
      expect(await refreshing.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      expect(refreshing.closeCode).toBeUndefined();

      // Cut without a close frame (§9): the client sees 1006.
      expect(await silent.closed(HEARTBEAT_MS * 2 + 10_000)).toBe(1006);
      expect(Date.now() - silentSince).toBeGreaterThanOrEqual(HEARTBEAT_MS);
      expect(pings.length).toBeGreaterThan(0);
      // The refreshed client answers pings (ws does by default), so it is still there.
      expect(await refreshing.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      // Timers only: 12.7–15.3 s in CI runs (uWS counts idle time in 4 s steps), so the limit
      // leaves room for a busy machine.
    }, 30_000);

    it('a slow consumer is closed with 4008; the others in the room are unaffected', async () => {
      const room = uniqueRoom('slow');
      const slow = await connect('slow');
      const reader = await connect('reader');
      const flooder = await connect('flooder');
      for (const client of [slow, reader, flooder]) await client.request({ type: 'join_room', room });
      await reader.waitFor((f) => f.type === 'user_joined' && f.user.id === 'flooder');
      await slow.waitFor((f) => f.type === 'user_joined' && f.user.id === 'flooder');
      rawSocket(slow).pause();

      const text = '😀'.repeat(2000); // 8 KB of UTF-8 per frame
      // Generous: on a loaded 2-core machine the kernel's socket buffers take a while to fill.
      const slowLeft = reader.waitFor((f) => f.type === 'user_left' && f.user.id === 'slow', 60_000);
      let sent = 0;
      let acked = 0;
      let done = false;
      // A slow client catches up eventually; it then reads what was queued for it, and the close.
      void slowLeft.then(() => {
        done = true;
        rawSocket(slow).resume();
      });
      // Flood in waves (each awaited, so the flooder itself is never the slow one) until the
      // server gives up on the paused client.
      while (!done && sent < 4000) {
        const wave = Array.from({ length: 10 }, () => flooder.request({ type: 'chat_message', room, text }, 20_000));
        sent += wave.length;
        const answers = await Promise.all(wave);
        acked += answers.filter((a) => a.type === 'ack').length;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const left = await slowLeft;
      expect(left).toMatchObject({ reason: 'disconnected', connections: 0 });
      expect(acked).toBeGreaterThan(0);
      expect(await slow.closed(30_000)).toBe(4008);

      // The reader got every event, in order, and the server still answers everyone.
      const last = await flooder.request({ type: 'chat_message', room, text: 'still here' });
      await reader.waitFor((f) => f.room === room && f.seq === last.seq, 20_000);
      const seqs = reader.events(room).map((f) => f.seq);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => seqs[0]! + i));
      expect(reader.closeCode).toBeUndefined();
      expect(flooder.closeCode).toBeUndefined();
    }, 120_000);
  });
}
