/**
 * PROTOCOL.md §8 black-box: the HTTP API on the gateway's port, against both backends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends, startServer, TestClient, token, type TestServer } from './context.js';

const service = () => token({ sub: 'platform', role: 'service', rooms: [] });
const auth = (value: string) => ({ authorization: `Bearer ${value}` });

async function lines(response: Response): Promise<string[]> {
  const text = await response.text();
  return text === '' ? [] : text.replace(/\n$/, '').split('\n');
}

/** Raw text frames a client received, exactly as sent. */
function recordRaw(client: TestClient): string[] {
  const raw: string[] = [];
  client.ws.on('message', (data) => raw.push(data.toString()));
  return raw;
}

for (const backend of await backends()) {
  describe(`HTTP API (${backend})`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(backend);
    });
    afterAll(async () => {
      await server?.stop();
    });

    const get = (path: string, tokenValue?: string) => fetch(`${server.http}${path}`, { headers: tokenValue === undefined ? {} : auth(tokenValue) });
    const post = (path: string, tokenValue: string | undefined, body: string, headers: Record<string, string> = {}) =>
      fetch(`${server.http}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(tokenValue === undefined ? {} : auth(tokenValue)), ...headers }, body });

    it('answers bad input with the JSON error shape: 401, 403, 404, 405, 400', async () => {
      const learner = token({ sub: 'lea', rooms: ['open-*'] });
      const cases: [Promise<Response>, number, string][] = [
        [get('/v1/rooms/open-1'), 401, 'unauthorized'],
        [get('/v1/rooms/open-1', 'not.a.jwt'), 401, 'unauthorized'],
        [get('/v1/rooms/closed-1', learner), 403, 'forbidden'],
        [get('/v1/rooms/closed-1/events', learner), 403, 'forbidden'],
        [get('/v1/events', learner), 403, 'forbidden'],
        [get('/v1/nope', learner), 404, 'not_found'],
        [fetch(`${server.http}/v1/events`, { method: 'DELETE', headers: auth(service()) }), 405, 'method_not_allowed'],
        [fetch(`${server.http}/v1/rooms/open-1`, { method: 'PUT', headers: auth(learner) }), 405, 'method_not_allowed'],
        [get('/v1/rooms/open-1/notifications', learner), 405, 'method_not_allowed'],
        [get('/v1/rooms/open-1/events?after=-1', learner), 400, 'bad_request'],
        [get('/v1/rooms/open-1/events?after=1.5', learner), 400, 'bad_request'],
        [get('/v1/rooms/open-1/events?limit=ten', learner), 400, 'bad_request'],
        [get('/v1/rooms/open-1/events?follow=yes', learner), 400, 'bad_request'],
        [get('/v1/events?after=abc', service()), 400, 'bad_request'],
        [get('/v1/events?after=99999999999999999999', service()), 400, 'bad_request'],
        [get('/v1/rooms/bad.room', learner), 400, 'bad_request'],
      ];
      for (const [response, status, code] of cases) {
        const res = await response;
        expect({ url: res.url, status: res.status }).toEqual({ url: res.url, status });
        expect(res.headers.get('content-type')).toBe('application/json');
        expect(await res.json()).toEqual({ error: { code, message: expect.any(String) } });
      }
      const notAllowed = await fetch(`${server.http}/v1/events`, { method: 'POST', headers: auth(service()) });
      expect(notAllowed.headers.get('allow')).toBe('GET');
    });

    it('GET /v1/rooms/{room}: the projection from the room owner', async () => {
      const alice = await TestClient.connect(server.url, token({ sub: 'alice', name: 'Alice', role: 'instructor' }));
      await alice.request({ type: 'join_room', room: 'proj' });
      await alice.request({ type: 'live_session_update', room: 'proj', state: 'live', data: { slide: 3 } });
      const res = await get('/v1/rooms/proj', token({ sub: 'bob', rooms: ['proj'] }));
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({
        room: 'proj',
        seq: 2,
        session: { state: 'live', data: { slide: 3 } },
        participants: [{ id: 'alice', name: 'Alice', role: 'instructor', connections: 1 }],
      });
      alice.close();
    });

    it('GET /v1/rooms/{room}/events: NDJSON, oldest first, each line the exact frame members got; after and limit page', async () => {
      const alice = await TestClient.connect(server.url, token({ sub: 'alice' }));
      const raw = recordRaw(alice);
      await alice.request({ type: 'join_room', room: 'replay' });
      for (let i = 0; i < 5; i++) await alice.request({ type: 'chat_message', room: 'replay', text: `hé "${i}" ✓`, mid: `m${i}` });
      await alice.waitFor((f) => f.type === 'chat_message' && f.seq === 6);
      const live = raw.filter((text) => /^\{"type":"(user_joined|chat_message)"/.test(text));
      const res = await get('/v1/rooms/replay/events', token({ sub: 'bob', rooms: ['replay'] }));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/x-ndjson');
      const history = await lines(res);
      // The joiner gets `joined` rather than its own user_joined; every chat line is byte-identical.
      expect(history.slice(1)).toEqual(live.filter((t) => t.startsWith('{"type":"chat_message"')));
      expect(JSON.parse(history[0]!)).toMatchObject({ type: 'user_joined', room: 'replay', seq: 1, user: { id: 'alice' }, connections: 1 });
      expect(history.map((line) => JSON.parse(line).seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await lines(await get('/v1/rooms/replay/events?after=2&limit=3', service()))).toEqual(history.slice(2, 5));
      expect(await lines(await get('/v1/rooms/replay/events?after=6', service()))).toEqual([]);
      expect(await lines(await get('/v1/rooms/replay/events?limit=0', service()))).toEqual([]);
      alice.close();
    });

    it('follow=1: history then live, no gap and no duplicate at the seam', async () => {
      const alice = await TestClient.connect(server.url, token({ sub: 'alice' }));
      await alice.request({ type: 'join_room', room: 'follow' });
      for (let i = 0; i < 20; i++) alice.send({ type: 'chat_message', room: 'follow', text: `before ${i}` });
      const controller = new AbortController();
      const res = await fetch(`${server.http}/v1/rooms/follow/events?follow=1&limit=60`, { headers: auth(service()), signal: controller.signal });
      expect(res.status).toBe(200);
      // Writes keep landing while the history is read and after it (the rate limit allows 40 at once).
      for (let i = 0; i < 19; i++) alice.send({ type: 'chat_message', room: 'follow', text: `during ${i}` });
      const reader = res.body!.getReader();
      const received: string[] = [];
      let buffered = '';
      const decoder = new TextDecoder();
      while (received.length < 40) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        received.push(...parts);
      }
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const ack = await alice.request({ type: 'chat_message', room: 'follow', text: 'after' });
      while (!received.some((line) => JSON.parse(line).seq === ack.seq)) {
        const { value, done } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        const parts = buffered.split('\n');
        buffered = parts.pop()!;
        received.push(...parts);
      }
      const seqs = received.map((line) => JSON.parse(line).seq as number);
      expect(seqs).toEqual(Array.from({ length: ack.seq }, (_, i) => i + 1));
      const stored = await lines(await get(`/v1/rooms/follow/events?limit=${ack.seq}`, service()));
      expect(received).toEqual(stored);
      controller.abort();
      alice.close();
    });

    it('GET /v1/events: every room in position order with its position; after=POSITION continues; service only', async () => {
      const alice = await TestClient.connect(server.url, token({ sub: 'alice' }));
      await alice.request({ type: 'join_room', room: 'feed-a' });
      await alice.request({ type: 'join_room', room: 'feed-b' });
      await alice.request({ type: 'chat_message', room: 'feed-a', text: 'a' });
      const all = (await lines(await get('/v1/events', service()))).map((line) => JSON.parse(line));
      expect(all.length).toBeGreaterThanOrEqual(3);
      const positions = all.map((event) => event.position as number);
      expect(positions).toEqual([...positions].sort((a, b) => a - b));
      expect(all.slice(-3).map((e) => [e.type, e.room])).toEqual([['user_joined', 'feed-a'], ['user_joined', 'feed-b'], ['chat_message', 'feed-a']]);
      const tail = await lines(await get(`/v1/events?after=${positions.at(-3)}&limit=1`, service()));
      expect(tail.map((line) => JSON.parse(line).position)).toEqual([positions.at(-2)]);
      // The line is the stored frame with the position in front.
      const room = await lines(await get('/v1/rooms/feed-a/events', service()));
      expect(tail[0]).toBe(`{"position":${positions.at(-2)},${(await lines(await get('/v1/rooms/feed-b/events', service())))[0]!.slice(1)}`);
      expect(room).toHaveLength(2);
      alice.close();
    });

    it('POST /v1/rooms/{room}/notifications: 201 {seq}, members get it live; role and body checked', async () => {
      const member = await TestClient.connect(server.url, token({ sub: 'member' }));
      await member.request({ type: 'join_room', room: 'notes' });
      const instructor = token({ sub: 'teach', role: 'instructor', rooms: ['notes'] });
      const res = await post('/v1/rooms/notes/notifications', instructor, JSON.stringify({ title: 'Quiz', body: 'in 5 minutes', level: 'info' }));
      expect(res.status).toBe(201);
      const { seq } = (await res.json()) as { seq: number };
      expect(seq).toBe(2);
      const got = await member.waitFor((f) => f.type === 'notification');
      expect(got).toMatchObject({ type: 'notification', room: 'notes', seq: 2, data: { title: 'Quiz', body: 'in 5 minutes', level: 'info' } });
      expect((await post('/v1/rooms/notes/notifications', service(), '{"body":"from the platform"}')).status).toBe(201);

      const refusals: [Promise<Response>, number, string][] = [
        [post('/v1/rooms/notes/notifications', undefined, '{"body":"x"}'), 401, 'unauthorized'],
        [post('/v1/rooms/notes/notifications', token({ sub: 'lea', rooms: ['notes'] }), '{"body":"x"}'), 403, 'forbidden'],
        [post('/v1/rooms/notes/notifications', token({ sub: 't2', role: 'instructor', rooms: ['other'] }), '{"body":"x"}'), 403, 'forbidden'],
        [post('/v1/rooms/notes/notifications', instructor, '{"body":'), 400, 'bad_request'],
        [post('/v1/rooms/notes/notifications', instructor, '[1]'), 400, 'bad_request'],
        [post('/v1/rooms/notes/notifications', instructor, '{"title":"no body"}'), 400, 'bad_request'],
        [post('/v1/rooms/notes/notifications', instructor, '{"body":"x","level":"loud"}'), 400, 'bad_request'],
        [post('/v1/rooms/notes/notifications', instructor, '{"body":"x","extra":1}'), 400, 'bad_request'],
        [post('/v1/rooms/notes/notifications', instructor, ''), 400, 'bad_request'],
        [post('/v1/rooms/notes/notifications', instructor, JSON.stringify({ body: 'x'.repeat(20_000) })), 413, 'too_large'],
      ];
      for (const [response, status, code] of refusals) {
        const answer = await response;
        expect(answer.status).toBe(status);
        expect(await answer.json()).toEqual({ error: { code, message: expect.any(String) } });
      }
      expect(member.frames.filter((f) => f.type === 'notification')).toHaveLength(2);
      member.close();
    });

    it('POST /v1/users/{user}/notifications: 202, every open connection of that user gets it, without room or seq', async () => {
      const tab1 = await TestClient.connect(server.url, token({ sub: 'carol@example.com' }));
      const tab2 = await TestClient.connect(server.url, token({ sub: 'carol@example.com' }));
      const other = await TestClient.connect(server.url, token({ sub: 'dave' }));
      const res = await post(`/v1/users/${encodeURIComponent('carol@example.com')}/notifications`, service(), '{"body":"your report is ready","level":"success"}');
      expect(res.status).toBe(202);
      for (const tab of [tab1, tab2]) {
        const frame = await tab.waitFor((f) => f.type === 'notification');
        expect(frame).toEqual({ type: 'notification', data: { body: 'your report is ready', level: 'success' }, ts: expect.any(Number) });
      }
      expect((await post('/v1/users/dave/notifications', token({ sub: 'x', role: 'instructor' }), '{"body":"no"}')).status).toBe(403);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(other.frames.filter((f) => f.type === 'notification')).toEqual([]);
      for (const client of [tab1, tab2, other]) client.close();
    });

    it('GET /metrics: Prometheus text with the gateway and event-log metrics', async () => {
      const client = await TestClient.connect(server.url, token({ sub: 'metrics' }));
      await client.request({ type: 'join_room', room: 'metered' });
      await client.request({ type: 'chat_message', room: 'nope', text: 'x' });
      const res = await get('/metrics');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await res.text();
      for (const name of [
        'lectern_gateway_connections',
        'lectern_gateway_rooms',
        'lectern_gateway_frames_in_total{type="join_room"}',
        'lectern_gateway_frames_out_total{type="joined"}',
        'lectern_gateway_fanout_deliveries_total',
        'lectern_gateway_errors_total{code="not_joined"}',
        'lectern_gateway_slow_consumer_closes_total',
        'lectern_bus_request_seconds_bucket',
        'lectern_append_batch_events_bucket',
        'lectern_append_flush_seconds_bucket',
        'lectern_rooms_active',
        'lectern_process_resident_memory_bytes',
      ]) {
        expect(text).toContain(name);
      }
      expect(text).toMatch(/^lectern_gateway_connections [1-9]/m);
      client.close();
    });
  });
}
