/**
 * Replay benchmark (docs/http-api.md): one room of N events (default 1,000,000) replayed over
 * HTTP as NDJSON into a client that only counts lines, then the global feed over the same log,
 * against real Postgres. The server is `lectern start` in a child process, so its resident
 * memory is sampled on its own while it streams (it should stay flat: one page at a time).
 *
 *   npx tsc -b && npx tsc -b load-tests && node load-tests/dist/replay-bench.js [--events 1000000] [--runs 3]
 *     [--server-profile-dir DIR]   (also `node --cpu-prof` on this command to profile the client)
 *
 * Postgres: LECTERN_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test); the
 * bench works in a schema of its own and drops it at the end.
 */
import { spawn } from 'node:child_process';
import { randomBytes, createHmac } from 'node:crypto';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { cpuSeconds, residentBytes } from './proc-stats.js';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '1000000' }, runs: { type: 'string', default: '3' }, 'server-profile-dir': { type: 'string' } },
});
const EVENTS = Number(values.events);
const RUNS = Number(values.runs);
const DATABASE = process.env.LECTERN_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SECRET = randomBytes(24).toString('hex');
const ROOM = 'bench-room';

function token(): string {
  const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const data = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'bench', role: 'service', iat: now, exp: now + 3600 })}`;
  return `${data}.${createHmac('sha256', SECRET).update(data).digest('base64url')}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function sql(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

interface Run {
  events: number;
  seconds: number;
  eventsPerSecond: number;
  megabytesPerSecond: number;
  rssStartMiB: number;
  rssMaxMiB: number;
  /** Server CPU (user + system) per million events: less sensitive to a shared machine than the rate. */
  serverCpuSecondsPerMillion: number;
  /** This client's CPU for the same, to show whether counting lines was the limit. */
  clientCpuSecondsPerMillion: number;
}

/** Streams `path`, counting newlines only; samples the server's RSS every 100 ms meanwhile. */
function stream(port: number, path: string, pid: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const rssStart = residentBytes(pid) ?? 0;
    let rssMax = rssStart;
    const serverCpuStart = cpuSeconds(pid) ?? 0;
    const clientCpuStart = process.cpuUsage();
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, residentBytes(pid) ?? 0)), 100);
    const started = process.hrtime.bigint();
    let lines = 0;
    let bytes = 0;
    const req = request({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${token()}` } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`${path}: HTTP ${res.statusCode}`));
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
      });
      res.on('end', () => {
        clearInterval(sampler);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const perMillion = (cpu: number) => Math.round((cpu / Math.max(lines, 1)) * 1e6 * 100) / 100;
        const clientCpu = process.cpuUsage(clientCpuStart);
        resolve({
          events: lines,
          seconds: Math.round(seconds * 1000) / 1000,
          eventsPerSecond: Math.round(lines / seconds),
          megabytesPerSecond: Math.round(bytes / seconds / 1e6),
          rssStartMiB: Math.round(rssStart / 2 ** 20),
          rssMaxMiB: Math.round(rssMax / 2 ** 20),
          serverCpuSecondsPerMillion: perMillion((cpuSeconds(pid) ?? 0) - serverCpuStart),
          clientCpuSecondsPerMillion: perMillion((clientCpu.user + clientCpu.system) / 1e6),
        });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

async function main(): Promise<void> {
  const schema = `replay_bench_${randomBytes(4).toString('hex')}`;
  await sql(DATABASE, `create schema ${schema}`);
  const url = new URL(DATABASE);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const port = await freePort();
  const main = fileURLToPath(new URL('../../services/cli/dist/main.js', import.meta.url));
  // --server-profile-dir DIR: a V8 CPU profile of the server, written when it exits.
  const profile = values['server-profile-dir'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${values['server-profile-dir']}`];
  const server = spawn(process.execPath, [...profile, main, 'start'], {
    env: { ...process.env, DATABASE_URL: url.toString(), PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: SECRET, LOG_LEVEL: 'warn', NATS_URL: '' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    for (let attempt = 0; ; attempt++) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (attempt > 100) throw new Error('the server did not become ready');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const seeding = Date.now();
    // Realistic chat frames (~230 bytes), written by SQL: the bench measures reads, not appends.
    await sql(
      url.toString(),
      `insert into room_events (room_id, seq, type, ts, data, meta, frame)
       select '${ROOM}', g, 'chat_message', 1700000000000 + g, '{}'::jsonb, '{}'::jsonb,
              '{"type":"chat_message","room":"${ROOM}","seq":' || g || ',"ts":' || (1700000000000 + g) ||
              ',"from":{"id":"user-' || (g % 500) || '","name":"Learner ' || (g % 500) || '","role":"learner"},"text":"message ' || g || ' about the lecture, with a question or two?","mid":"m' || g || '"}'
       from generate_series(1, ${EVENTS}) g;
       analyze room_events;`,
    );
    console.error(`seeded ${EVENTS} events in ${Date.now() - seeding} ms`);
    const results: Record<string, Run[]> = { room: [], feed: [] };
    for (let run = 0; run < RUNS; run++) {
      results.room!.push(await stream(port, `/v1/rooms/${ROOM}/events`, server.pid!));
      results.feed!.push(await stream(port, `/v1/events?limit=${EVENTS}`, server.pid!));
    }
    for (const [name, runs] of Object.entries(results)) {
      for (const r of runs) if (r.events !== EVENTS) throw new Error(`${name}: got ${r.events} lines, expected ${EVENTS}`);
    }
    // The median run by rate (the machine is shared: one run can be hit by someone else's load).
    const median = (runs: Run[]) => [...runs].sort((a, b) => a.eventsPerSecond - b.eventsPerSecond)[Math.floor(runs.length / 2)]!;
    console.log(JSON.stringify({ events: EVENTS, node: process.version, room: results.room, feed: results.feed, medianRoom: median(results.room!), medianFeed: median(results.feed!) }, null, 2));
  } finally {
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    await sql(DATABASE, `drop schema if exists ${schema} cascade`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
