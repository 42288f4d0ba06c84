/**
 * Long NDJSON streams: a big room replays completely, a slow reader holds the server back
 * (backpressure, not buffering), and clients that leave mid-stream leak nothing: no stream,
 * no database connection (more aborted streams than the pool has connections, then reads
 * still work).
 */
import { request, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../src/config.js';
import { parseReplayArgs, replay } from '../src/replay.js';
import { backends, startServer, token, type TestServer } from './context.js';

const EVENTS = 40_000;
const ROOM = 'big-room';
const service = token({ sub: 'platform', role: 'service', rooms: [] });

function frame(seq: number): string {
  return `{"type":"chat_message","room":"${ROOM}","seq":${seq},"ts":${1_700_000_000_000 + seq},"from":{"id":"u${seq % 50}","name":"User ${seq % 50}","role":"learner"},"text":"message number ${seq} with some padding to look like chat"}`;
}

function open(server: TestServer, path: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(`${server.http}${path}`, { headers: { authorization: `Bearer ${service}` } }, resolve);
    req.on('error', reject);
    req.end();
  });
}

async function metric(server: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.http}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}

async function until(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const backend of await backends()) {
  describe(`HTTP API long streams (${backend})`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(backend);
      const store = server.running.store!;
      for (let from = 1; from <= EVENTS; from += 5000) {
        const batch = Array.from({ length: Math.min(5000, EVENTS - from + 1) }, (_, i) => {
          const seq = from + i;
          return { seq, type: 'chat_message', ts: 1_700_000_000_000 + seq, data: {}, meta: {}, frame: frame(seq) };
        });
        await store.append(ROOM, from - 1, batch);
      }
    });
    afterAll(async () => {
      await server?.stop();
    });

    it(`replays all ${EVENTS} events of a room, in order, each line as stored`, async () => {
      const text = await (await fetch(`${server.http}/v1/rooms/${ROOM}/events`, { headers: { authorization: `Bearer ${service}` } })).text();
      const lines = text.split('\n');
      expect(lines.pop()).toBe('');
      expect(lines).toHaveLength(EVENTS);
      expect(lines[0]).toBe(frame(1));
      expect(lines[EVENTS - 1]).toBe(frame(EVENTS));
      expect(lines.every((line, i) => line.includes(`"seq":${i + 1},`))).toBe(true);
    });

    it('a reader that stops reading holds the server back instead of making it buffer the room', async () => {
      const before = await metric(server, 'lectern_http_streamed_events_total{route="room_events"}');
      const res = await open(server, `/v1/rooms/${ROOM}/events`);
      res.pause();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const streamed = (await metric(server, 'lectern_http_streamed_events_total{route="room_events"}')) - before;
      expect(streamed).toBeGreaterThan(0);
      expect(streamed).toBeLessThan(EVENTS);
      expect(await metric(server, 'lectern_http_open_streams')).toBe(1);
      res.resume();
      let bytes = 0;
      for await (const chunk of res) bytes += (chunk as Buffer).length;
      expect(bytes).toBeGreaterThan(EVENTS * 100);
      await until(async () => (await metric(server, 'lectern_http_open_streams')) === 0);
    });

    it('clients that disconnect mid-stream leak no stream and no database connection', async () => {
      // Twice the pool's connections: a leaked connection per stream would exhaust it.
      for (let round = 0; round < 2; round++) {
        await Promise.all(
          Array.from({ length: 12 }, async (_, i) => {
            const res = await open(server, i % 2 === 0 ? `/v1/rooms/${ROOM}/events` : '/v1/events');
            await new Promise<void>((resolve) => res.once('data', () => resolve()));
            res.destroy();
          }),
        );
      }
      await until(async () => (await metric(server, 'lectern_http_open_streams')) === 0);
      const started = Date.now();
      const tail = await (await fetch(`${server.http}/v1/rooms/${ROOM}/events?after=${EVENTS - 2}`, { headers: { authorization: `Bearer ${service}` } })).text();
      expect(tail).toBe(`${frame(EVENTS - 1)}\n${frame(EVENTS)}\n`);
      const ready = await fetch(`${server.http}/readyz`);
      expect(ready.status).toBe(200);
      // A pool with leaked connections would make these wait for its 5 s connection timeout.
      expect(Date.now() - started).toBeLessThan(4000);
    });

    // Embedded: the running server holds the PGlite directory, which one process opens at a time.
    if (backend === 'services') it('lectern replay prints the same NDJSON as the HTTP API, from the log directly', async () => {
      const config = loadConfig({ ...server.env, PORT: '0' }, 'tool');
      const run = async (args: string[]) => {
        const out = new PassThrough();
        let text = '';
        out.on('data', (chunk: Buffer) => (text += chunk.toString()));
        await replay(config, pino({ level: 'silent' }), parseReplayArgs(args), out);
        return text;
      };
      const http = async (path: string) => (await fetch(`${server.http}${path}`, { headers: { authorization: `Bearer ${service}` } })).text();
      expect(await run(['--room', ROOM, '--after', String(EVENTS - 3)])).toBe(await http(`/v1/rooms/${ROOM}/events?after=${EVENTS - 3}`));
      const feed = await http('/v1/events');
      const cut = feed.split('\n')[EVENTS - 3]!;
      const position = JSON.parse(cut).position as number;
      expect(await run(['--all', '--after', String(position)])).toBe(await http(`/v1/events?after=${position}`));
      expect(() => parseReplayArgs(['--room', 'a', '--all'])).toThrow(/say what to replay/);
      expect(() => parseReplayArgs(['--all', '--after', 'x'])).toThrow(/--after/);
    });
  });
}
