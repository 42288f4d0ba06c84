import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBenchmark, type BenchOptions } from './run.js';
import { startReferenceServer, type ReferenceServer } from './reference/uws-server.js';
import { formatTable, type BenchResult } from './report.js';

// The harness against the bare uWS reference: every acked message reaches every member once,
// in order. No figures are asserted: timings belong in results/, not in the unit suite.
const secret = 'bench-test-secret';
let server: ReferenceServer;
let outDir: string;

beforeAll(async () => {
  server = await startReferenceServer({ port: 0, secret });
  outDir = mkdtempSync(join(tmpdir(), 'lectern-bench-'));
});

afterAll(() => {
  server?.close();
  rmSync(outDir, { recursive: true, force: true });
});

const tinyRooms = (processes: number): BenchOptions => ({
  scenario: 'rooms',
  url: `ws://127.0.0.1:${server.port}/ws`,
  secret,
  rooms: 4,
  members: 3,
  intervalMs: 250,
  durationMs: 2000,
  drainMs: 500,
  processes,
  outDir,
});

function expectCleanDelivery(result: BenchResult) {
  expect(result.ramp.joined).toBe(12);
  expect(result.ramp.failures).toEqual({});
  expect(result.messages.sent).toBeGreaterThan(0);
  expect(result.messages.acked).toBe(result.messages.sent);
  expect(result.messages.unacked).toBe(0);
  expect(result.messages.expectedDeliveries).toBe(result.messages.acked * 3);
  expect(result.messages.delivered).toBe(result.messages.expectedDeliveries);
  expect(result.messages.dropped).toBe(0);
  expect(result.messages.gaps).toBe(0);
  expect(result.messages.duplicates).toBe(0);
  expect(result.latencyMs.count + result.warmupLatencyMs.count).toBe(result.messages.delivered);
  expect(result.ackLatencyMs.count + result.warmupAckLatencyMs.count).toBe(result.messages.acked);
  expect(result.ok).toBe(true);
}

describe('bench harness against the reference uWS server', () => {
  it('delivers every message of a tiny rooms run, with client processes', async () => {
    const result = await runBenchmark(tinyRooms(2));
    expectCleanDelivery(result);
    expect(result.plan.clientProcesses).toBe(2);

    const written = JSON.parse(readFileSync(result.file!, 'utf8')) as BenchResult;
    expect(result.file).toMatch(/rooms-.*\.json$/);
    for (const field of ['scenario', 'ok', 'plan', 'ramp', 'messages', 'latencyMs', 'ackLatencyMs', 'server', 'client'] as const) {
      expect(written).toHaveProperty(field);
    }
    for (const field of ['p50', 'p90', 'p99', 'max'] as const) expect(typeof written.latencyMs[field]).toBe('number');
    for (const field of ['messagesPerSecond', 'deliveriesPerSecond', 'expectedDeliveries', 'delivered', 'dropped', 'gaps', 'duplicates'] as const) {
      expect(typeof written.messages[field]).toBe('number');
    }
    expect(typeof written.ramp.connectionsPerSecond).toBe('number');
    expect(typeof written.ramp.joinLatencyMs.p99).toBe('number');
  });

  it('runs the same scenario with the clients in-process', async () => {
    expectCleanDelivery(await runBenchmark({ ...tinyRooms(0), outDir: false }));
  });

  it('keeps the latencies of warm-up messages apart, and counts those messages like the others', async () => {
    const result = await runBenchmark({ ...tinyRooms(0), warmupMs: 1000, durationMs: 1000, outDir: false });
    expectCleanDelivery(result);
    expect(result.plan.warmupMs).toBe(1000);
    // 12 senders, each every 250 ms: about 48 messages in each second, delivered to 3 members.
    expect(result.warmupLatencyMs.count).toBeGreaterThan(60);
    expect(result.latencyMs.count).toBeGreaterThan(60);
    expect(result.warmupAckLatencyMs.count).toBeGreaterThan(20);
    expect(formatTable(result)).toMatch(/1 s warm-up \+ 1 s \+ 0\.5 s drain[\s\S]*warm-up latency ms +p50/);
  });

  it('counts refused upgrades as ramp failures', async () => {
    const result = await runBenchmark({ ...tinyRooms(0), secret: 'not-the-server-secret', durationMs: 200, outDir: false });
    expect(result.ramp.joined).toBe(0);
    expect(Object.keys(result.ramp.failures).join()).toMatch(/401/);
    expect(result.ok).toBe(false);
  });
});
