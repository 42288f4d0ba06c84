/**
 * PROTOCOL.md §2: frames, the `id` echo, errors that keep the connection open, and the limits
 * announced in `welcome` being the limits enforced.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backends, startServer, TestClient, token, uniqueRoom, type Frame, type TestServer } from './context.js';

const DEFAULT_LIMITS = { maxFrameBytes: 16 * 1024, maxTextChars: 2000, maxRooms: 50, ratePerSecond: 20, burst: 40 };

/** Sends a request, waiting out `rate_limited` answers (the limit is not what these tests check). */
async function paced(client: TestClient, frame: Frame): Promise<Frame> {
  for (;;) {
    const answer = await client.request(frame);
    if (answer.type !== 'error' || answer.code !== 'rate_limited') return answer;
    await new Promise((resolve) => setTimeout(resolve, answer.retryAfterMs));
  }
}

for (const backend of await backends()) {
  describe(`protocol §2 frames and limits (${backend})`, () => {
    let server: TestServer;
    const clients: TestClient[] = [];
    async function connect(sub: string, claims: Record<string, unknown> = {}): Promise<TestClient> {
      const client = await TestClient.connect(server.url, token({ sub, ...claims }));
      clients.push(client);
      return client;
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

    it('welcome is the first frame and announces the limits', async () => {
      const client = await connect('alice', { name: 'Alice', role: 'moderator' });
      expect(client.frames[0]).toEqual({
        type: 'welcome',
        connectionId: expect.any(String),
        user: { id: 'alice', name: 'Alice', role: 'moderator' },
        protocol: 1,
        heartbeatMs: expect.any(Number),
        limits: DEFAULT_LIMITS,
      });
      const other = await connect('alice');
      expect(other.frames[0].connectionId).not.toBe(client.frames[0].connectionId);
    });

    it('every direct answer echoes the request id, errors included', async () => {
      const room = uniqueRoom('echo');
      const client = await connect('teacher', { role: 'instructor' });
      const send = (frame: Frame, id: string) => {
        const answer = client.waitFor((f) => f.id === id);
        client.send({ ...frame, id });
        return answer;
      };
      expect(await send({ type: 'ping' }, 'p-1')).toMatchObject({ type: 'pong', id: 'p-1' });
      expect(await send({ type: 'chat_message', room, text: 'x' }, 'c-0')).toMatchObject({ type: 'error', id: 'c-0', code: 'not_joined', room });
      expect(await send({ type: 'join_room', room }, 'j-1')).toMatchObject({ type: 'joined', id: 'j-1', room });
      expect(await send({ type: 'chat_message', room, text: 'hi' }, 'c-1')).toMatchObject({ type: 'ack', id: 'c-1', room });
      expect(await send({ type: 'live_session_update', room, state: 'live' }, 's-1')).toMatchObject({ type: 'ack', id: 's-1', room });
      expect(await send({ type: 'refresh_token', token: token({ sub: 'teacher', role: 'instructor' }) }, 't-1')).toMatchObject({ type: 'ack', id: 't-1' });
      expect(await send({ type: 'leave_room', room }, 'l-1')).toMatchObject({ type: 'left', id: 'l-1', room });
      expect(await send({ type: 'nope' }, 'u-1')).toMatchObject({ type: 'error', id: 'u-1', code: 'unknown_type' });
      expect(await send({ type: 'join_room', room: 'a.b' }, 'b-1')).toMatchObject({ type: 'error', id: 'b-1', code: 'bad_request' });
      const id64 = 'i'.repeat(64);
      expect(await send({ type: 'ping' }, id64)).toMatchObject({ type: 'pong', id: id64 });
      // Without an id, answers carry none.
      client.send({ type: 'ping', ts: 7 });
      const pong = await client.waitFor((f) => f.type === 'pong' && f.ts === 7);
      expect(pong).not.toHaveProperty('id');
    });

    it('errors keep the connection open', async () => {
      const client = await connect('bob');
      client.send('{not json');
      client.send({ type: 'chat_message', room: uniqueRoom(), text: 'x', id: 'e1' });
      client.send({ type: 'whatever', id: 'e2' });
      await client.waitFor((f) => f.id === 'e2');
      expect(client.frames.filter((f) => f.type === 'error').map((f) => f.code)).toEqual(['bad_request', 'not_joined', 'unknown_type']);
      expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      expect(client.closeCode).toBeUndefined();
    });

    it('chat text: 1–2000 characters after trimming, counted in characters not bytes', async () => {
      const room = uniqueRoom('text');
      const client = await connect('carol');
      await client.request({ type: 'join_room', room });
      const max = await client.request({ type: 'chat_message', room, text: `  ${'a'.repeat(2000)} \n` });
      expect(max).toMatchObject({ type: 'ack', room });
      const echoed = await client.waitFor((f) => f.type === 'chat_message' && f.seq === max.seq);
      expect(echoed.text).toBe('a'.repeat(2000));
      expect(await client.request({ type: 'chat_message', room, text: 'a'.repeat(2001) })).toMatchObject({ type: 'error', code: 'bad_request', room });
      expect(await client.request({ type: 'chat_message', room, text: '   \n\t ' })).toMatchObject({ type: 'error', code: 'bad_request' });
      expect(await client.request({ type: 'chat_message', room, text: '' })).toMatchObject({ type: 'error', code: 'bad_request' });
      // 2000 astral characters are 8000 bytes of UTF-8 but 2000 characters.
      expect(await client.request({ type: 'chat_message', room, text: '😀'.repeat(2000) })).toMatchObject({ type: 'ack' });
      expect(await client.request({ type: 'chat_message', room, text: '😀'.repeat(2001) })).toMatchObject({ type: 'error', code: 'bad_request' });
    });

    it('a frame over maxFrameBytes closes the connection with 1009; the server stays up', async () => {
      const client = await connect('dave');
      const bystander = await connect('erin');
      client.send({ type: 'ping', pad: 'x'.repeat(16 * 1024) });
      expect(await client.closed()).toBe(1009);
      expect(await bystander.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      const bigger = await connect('dave');
      bigger.send({ type: 'chat_message', room: 'r', text: 'x'.repeat(48 * 1024) });
      expect(await bigger.closed()).toBe(1009);
      expect(await bystander.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      // Exactly at the limit is fine (it is then an ordinary bad or good frame).
      const edge = await connect('dave');
      const frame = JSON.stringify({ type: 'ping', id: 'edge', pad: '' });
      edge.send(JSON.stringify({ type: 'ping', id: 'edge', pad: 'x'.repeat(16 * 1024 - frame.length) }));
      expect(await edge.waitFor((f) => f.id === 'edge')).toMatchObject({ type: 'pong' });
    });

    it('the 51st room answers too_many_rooms; leaving one makes room again', async () => {
      const client = await connect('frank');
      const prefix = uniqueRoom('many');
      for (let i = 0; i < 50; i++) expect(await paced(client, { type: 'join_room', room: `${prefix}-${i}` })).toMatchObject({ type: 'joined' });
      expect(await paced(client, { type: 'join_room', room: `${prefix}-50` })).toMatchObject({ type: 'error', code: 'too_many_rooms', room: `${prefix}-50` });
      // A re-join of a room it is in is not a new room.
      expect(await paced(client, { type: 'join_room', room: `${prefix}-0` })).toMatchObject({ type: 'joined' });
      expect(await paced(client, { type: 'leave_room', room: `${prefix}-0` })).toMatchObject({ type: 'left' });
      expect(await paced(client, { type: 'join_room', room: `${prefix}-50` })).toMatchObject({ type: 'joined' });
    });

    it('more than 20/s (burst 40) answers rate_limited with retryAfterMs, and the id', async () => {
      const client = await connect('grace');
      for (let i = 0; i < 60; i++) client.send({ type: 'ping', id: `p${i}` });
      await client.waitFor((f) => f.id === 'p59');
      const answers = client.answers();
      const pongs = answers.filter((f) => f.type === 'pong');
      const limited = answers.filter((f) => f.type === 'error');
      expect(pongs.length).toBeGreaterThanOrEqual(40);
      expect(pongs.length).toBeLessThan(50);
      expect(limited.length).toBe(60 - pongs.length);
      for (const error of limited) {
        expect(error).toMatchObject({ code: 'rate_limited', message: expect.any(String) });
        expect(error.retryAfterMs).toBeGreaterThan(0);
        expect(error.retryAfterMs).toBeLessThanOrEqual(1000);
      }
      // The first 40 are never refused.
      expect(answers.slice(0, 40).every((f) => f.type === 'pong')).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, limited[0]!.retryAfterMs));
      expect(await client.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
      expect(client.closeCode).toBeUndefined();
    });

    it('repeated abuse of the rate limit closes the connection with 4029; others are unaffected', async () => {
      const client = await connect('heidi');
      const bystander = await connect('ivan');
      for (let i = 0; i < 300; i++) client.send({ type: 'ping', id: `p${i}` });
      expect(await client.closed()).toBe(4029);
      expect(await bystander.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
    });
  });
}
