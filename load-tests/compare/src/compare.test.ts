import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchmark, signHs256, startReferenceServer, type ReferenceServer } from '@lectern/load-tests';
import { startSocketIoReference, type SocketIoReference } from './socketio-server.js';
import { renderResults } from './results-md.js';
import type { CompareSummary } from './rows.js';

// The comparison's pieces on tiny inputs: the Socket.IO reference through the official client,
// the harness speaking Socket.IO's wire to it, the presence accounting against the uWS
// reference, and RESULTS.md from a summary. Delivery and counts are asserted, never timings.
const secret = 'compare-test-secret';
let sio: SocketIoReference;
let uws: ReferenceServer;

beforeAll(async () => {
  sio = await startSocketIoReference({ port: 0, secret });
  uws = await startReferenceServer({ port: 0, secret });
});

afterAll(async () => {
  await sio?.close();
  uws?.close();
});

const token = (sub: string) => signHs256({ sub, rooms: ['t-*'], exp: Math.floor(Date.now() / 1000) + 60 }, secret);

function client(auth: object): Promise<Socket> {
  const socket = connect(`http://127.0.0.1:${sio.port}`, { auth, transports: ['websocket'], reconnection: false });
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => {
      socket.close();
      reject(error);
    });
  });
}

describe('Socket.IO reference', () => {
  it('refuses a bad token at the handshake, as a connect_error', async () => {
    await expect(client({ token: 'nope' })).rejects.toThrow(/unauthorized/);
    await expect(client({})).rejects.toThrow(/unauthorized/);
  });

  it('joins rooms, acks chat with a seq and broadcasts it to the room, announces presence', async () => {
    const alice = await client({ token: token('alice') });
    const bob = await client({ token: token('bob') });
    try {
      const joinedA = await alice.emitWithAck('join_room', { id: 'j', room: 't-1' });
      expect(joinedA).toMatchObject({ type: 'joined', room: 't-1', seq: 1, participants: [{ id: 'alice', connections: 1 }] });
      const presence = new Promise((resolve) => alice.once('user_joined', resolve));
      const joinedB = await bob.emitWithAck('join_room', { id: 'j', room: 't-1' });
      expect(joinedB).toMatchObject({ seq: 2 });
      expect((joinedB as { participants: unknown[] }).participants).toHaveLength(2);
      expect(await presence).toMatchObject({ type: 'user_joined', seq: 2, user: { id: 'bob' }, connections: 1 });

      const received = new Promise((resolve) => bob.once('chat_message', resolve));
      const ack = await alice.emitWithAck('chat_message', { id: '1', room: 't-1', text: 'hello', mid: 'm1' });
      expect(ack).toEqual({ type: 'ack', id: '1', room: 't-1', seq: 3 });
      expect(await received).toMatchObject({ type: 'chat_message', room: 't-1', seq: 3, text: 'hello', from: { id: 'alice' } });

      expect(await alice.emitWithAck('join_room', { room: 'other' })).toMatchObject({ type: 'error', code: 'forbidden' });
      expect(await alice.emitWithAck('chat_message', { id: '2', room: 't-2', text: 'x' })).toMatchObject({ code: 'not_joined' });
      const left = new Promise((resolve) => alice.once('user_left', resolve));
      bob.close();
      expect(await left).toMatchObject({ type: 'user_left', seq: 4, user: { id: 'bob' }, connections: 0 });
    } finally {
      alice.close();
      bob.close();
    }
  });

  it('is driven by the harness over its wire with every message delivered once, in order', async () => {
    const result = await runBenchmark({
      scenario: 'rooms', url: `ws://127.0.0.1:${sio.port}/ws`, protocol: 'socketio', secret,
      rooms: 3, members: 3, intervalMs: 250, durationMs: 1500, drainMs: 500, processes: 0, outDir: false,
    });
    expect(result.ramp.joined).toBe(9);
    expect(result.messages.sent).toBeGreaterThan(0);
    expect(result.messages.acked).toBe(result.messages.sent);
    expect(result.messages.delivered).toBe(result.messages.expectedDeliveries);
    expect(result.messages.gaps + result.messages.duplicates).toBe(0);
    expect(result.ok).toBe(true);
  });
});

describe('presence accounting (W4)', () => {
  it('follows every member\'s participant count and counts the presence frames it got', async () => {
    const result = await runBenchmark({
      scenario: 'presence', url: `ws://127.0.0.1:${uws.port}/ws`, secret,
      connections: 30, joinWindowSeconds: 1, durationMs: 500, processes: 0, outDir: false, presenceThreshold: 10,
    });
    const presence = result.presence!;
    expect(presence.members).toBe(30);
    expect(presence.rightCount).toBe(30);
    // The reference announces every join to everyone already there: 29 + 28 + … + 0.
    expect(presence.totalFrames).toBe((30 * 29) / 2);
    expect(result.messages.gaps).toBe(0);
  });
});

describe('RESULTS.md', () => {
  it('renders the table, the verdicts and the charts from a summary', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lectern-compare-'));
    try {
      const row = (target: CompareSummary['rows'][number]['target'], deliveries: number, p99: number) => ({
        step: 'W1-20', workload: 'W1' as const, target, round: 1, ok: true, file: 'x.json', loadAverage: { start: 1, end: 1 },
        joined: 2000, planned: 2000, deliveriesPerSecond: deliveries, plannedDeliveriesPerSecond: 40_000, deliveredFraction: 1,
        latency: { p50: 1, p99, max: p99 * 2 }, serverCores: 0.5, cpuMsPer1000Deliveries: 3,
      });
      const summary: CompareSummary = {
        command: 'node load-tests/compare/dist/compare.js', startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:10:00Z',
        machine: { cpus: 2, cpuModel: 'test', memoryGiB: 1, node: 'v20', kernel: 'Linux', commit: 'abc' }, scale: 1, rounds: 1,
        steps: [{ id: 'W1-20', workload: 'W1', title: 'W1 one room of 2,000, 20 msg/s' }],
        rows: [row('lectern', 39_000, 30), row('socketio', 10_000, 100), row('uws', 40_000, 20)],
      };
      writeFileSync(join(dir, 'summary.json'), JSON.stringify(summary));
      writeFileSync(join(dir, 'notes.md'), '## Notes\n\nhand-written analysis');
      const markdown = renderResults(dir, join(dir, 'charts'));
      expect(markdown).toContain('| W1 20 msg/s: delivered ≥ 0.7× bare uWS and ≥ 3× Socket.IO | 0.98× uWS, 3.9× Socket.IO');
      // Socket.IO delivered all it was offered: the 3× is reported as not measurable, not as met.
      expect(markdown).toContain('3× not measurable at this rate');
      expect(markdown).toContain('p99 30 ms = 1.5× uWS (20 ms)');
      expect(markdown).toContain('hand-written analysis');
      expect(markdown).toContain('![W1 deliveries per second](compare/charts/w1-deliveries.svg)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
