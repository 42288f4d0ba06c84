import type { BenchOptions } from '@lectern/load-tests';
import type { TargetName } from './targets.js';

/**
 * The workloads of the comparison (issue 5), as harness runs. `scale` shrinks every size for
 * smoke runs (0.1 → a 200-member lecture); the published figures use scale 1.
 */
export type WorkloadName = 'W1' | 'W2' | 'W3' | 'W4';
export const WORKLOADS: readonly WorkloadName[] = ['W1', 'W2', 'W3', 'W4'];

export interface Step {
  /** `W1-20`, `W3-30000`, …: one row of the results table. */
  id: string;
  workload: WorkloadName;
  title: string;
  bench: Omit<BenchOptions, 'secret' | 'url' | 'urls' | 'protocol' | 'serverPidProvider'>;
  /** Lectern on NATS + Postgres needs this many gateways for the connection count. */
  gateways: number;
  /** Lectern on NATS + Postgres as `lectern rooms` + gateways (W3: the gateways' memory on its own). */
  distributed?: boolean;
  /** Targets that cannot run this step here, and why. */
  skip: Partial<Record<TargetName, string>>;
  /** Presence threshold the Lectern servers run with (scaled with the room in smoke runs). */
  presenceThreshold: number;
}

/** The open-file limit (hard, 20,000 here) caps the sockets one server process can hold. */
export const MAX_SOCKETS_PER_SERVER_PROCESS = 19_000;

export function planSteps(options: { scale: number; durationSeconds: number; workloads: readonly WorkloadName[] }): Step[] {
  const n = (count: number) => Math.max(2, Math.round(count * options.scale));
  const threshold = Math.max(5, Math.round(500 * options.scale));
  const duration = options.durationSeconds * 1000;
  const steps: Step[] = [];
  const add = (step: Omit<Step, 'gateways' | 'skip' | 'presenceThreshold'> & Partial<Step>) =>
    steps.push({ gateways: 1, skip: {}, presenceThreshold: threshold, ...step });

  if (options.workloads.includes('W1')) {
    for (const rate of [20, 50, 200]) {
      // At most 10 msg/s per sender: well under the protocol's 20/s per connection.
      const senders = Math.max(4, Math.ceil(rate / 10));
      add({
        id: `W1-${rate}`,
        workload: 'W1',
        title: `W1 one room of ${n(2000)}, ${rate} msg/s`,
        bench: { scenario: 'lecture', connections: n(2000), rate, senders, durationMs: duration, drainMs: 5000, hardTimeoutMs: duration + 150_000 },
      });
    }
  }
  if (options.workloads.includes('W2')) {
    add({
      id: 'W2',
      workload: 'W2',
      title: `W2 ${n(200)} rooms × 10, 0.5 msg/s each`,
      bench: { scenario: 'rooms', rooms: n(200), members: 10, intervalMs: 2000, durationMs: duration, drainMs: 2000 },
    });
  }
  if (options.workloads.includes('W3')) {
    for (const connections of [n(10_000), n(30_000)]) {
      const tooMany = connections > MAX_SOCKETS_PER_SERVER_PROCESS;
      const reason = `one process cannot hold ${connections.toLocaleString('en-US')} sockets here (open files: 20,000, hard limit)`;
      add({
        id: `W3-${connections}`,
        workload: 'W3',
        title: `W3 ${connections.toLocaleString('en-US')} idle connections`,
        bench: {
          scenario: 'idle', connections, members: 10, durationMs: 10_000, connectConcurrency: 200, joinTimeoutMs: 60_000,
          // A slow ramp is a result, not a hang: allow 200 connections/s and a minute more.
          hardTimeoutMs: (connections / 200) * 1000 + 60_000,
        },
        gateways: Math.ceil(connections / 15_000),
        distributed: true,
        skip: tooMany ? { lectern: reason, socketio: reason, uws: reason } : {},
      });
    }
  }
  if (options.workloads.includes('W4')) {
    add({
      id: 'W4',
      workload: 'W4',
      title: `W4 presence storm: ${n(5000)} join one room within 10 s`,
      // The references send N²/2 presence frames: give the storm two minutes before calling it failed.
      bench: { scenario: 'presence', connections: n(5000), joinWindowSeconds: 10, durationMs: 5000, connectConcurrency: 1000, joinTimeoutMs: 90_000, hardTimeoutMs: 180_000 },
    });
  }
  return steps;
}
