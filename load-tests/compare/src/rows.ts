import { relative } from 'node:path';
import type { BenchResult } from '@lectern/load-tests';
import type { TargetName } from './targets.js';
import type { Step, WorkloadName } from './workloads.js';

/** One run of one step against one target, as summary.json keeps it (figures in ms, bytes, seconds). */
export interface CompareRow {
  step: string;
  workload: WorkloadName;
  target: TargetName;
  round: number;
  skipped?: string;
  failed?: string;
  profiled?: boolean;
  /** Epoch ms when a profiled run's server processes had exited. */
  stoppedAt?: number;
  ok?: boolean;
  /** The harness's JSON, relative to the summary. */
  file?: string;
  loadAverage?: { start: number; end: number };
  joined?: number;
  planned?: number;
  rampFailures?: Record<string, number>;
  connectionsPerSecond?: number;
  plannedDeliveriesPerSecond?: number;
  deliveriesPerSecond?: number;
  /** Deliveries / (messages sent × members): what reached the members of what was offered. */
  deliveredFraction?: number;
  latency?: { p50: number; p99: number; max: number };
  ackP99?: number;
  gaps?: number;
  duplicates?: number;
  errors?: Record<string, number>;
  unexpectedCloses?: Record<string, number>;
  serverCpuSeconds?: number;
  serverCores?: number;
  cpuMsPer1000Deliveries?: number;
  rssPerConnectionBytes?: number;
  clientCpuSeconds?: number;
  sendLagP99?: number;
  /** The clients' send loop ran late or they used more than a core: figures include client queueing. */
  clientBound?: boolean;
  presence?: {
    members: number;
    rightCount: number;
    expectedCount: number;
    totalFrames: number;
    framesPerMemberP50: number;
    framesPerMemberMax: number;
    framesPerSecondAboveThresholdP50: number;
    framesPerSecondAboveThresholdP99: number;
    /** Server CPU over the storm itself (the ramp), all server processes. */
    serverCpuSecondsDuringStorm?: number;
    rampSeconds: number;
  };
}

export interface CompareSummary {
  command: string;
  startedAt: string;
  finishedAt?: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; kernel: string; commit: string };
  scale: number;
  rounds: number;
  steps: Array<{ id: string; workload: WorkloadName; title: string }>;
  rows: CompareRow[];
  profiles?: Array<{ step: string; target: TargetName; files: string[]; summaries: unknown[] }>;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

export function rowOf(step: Step, target: TargetName, roundNumber: number, result: BenchResult, loadAverageBefore: number, out: string): CompareRow {
  const m = result.messages;
  const rooms = Math.max(1, result.plan.rooms);
  const offered = m.sent * (result.ramp.joined / rooms);
  const window = (result.plan.durationMs + result.plan.drainMs) / 1000;
  const samples = result.server.samples;
  const stormCpu = samples.before && samples.afterRamp ? samples.afterRamp.cpuSeconds - samples.before.cpuSeconds : undefined;
  const row: CompareRow = {
    step: step.id,
    workload: step.workload,
    target,
    round: roundNumber,
    ok: result.ok,
    ...(result.file ? { file: relative(out, result.file) } : {}),
    loadAverage: { start: Math.max(loadAverageBefore, result.loadAverage.start), end: result.loadAverage.end },
    joined: result.ramp.joined,
    planned: result.ramp.planned,
    rampFailures: result.ramp.failures,
    connectionsPerSecond: result.ramp.connectionsPerSecond,
    plannedDeliveriesPerSecond: result.plan.plannedDeliveriesPerSecond,
    deliveriesPerSecond: m.deliveriesPerSecond,
    ...(offered > 0 ? { deliveredFraction: round(m.delivered / offered, 4) } : {}),
    latency: { p50: result.latencyMs.p50, p99: result.latencyMs.p99, max: result.latencyMs.max },
    ackP99: result.ackLatencyMs.p99,
    gaps: m.gaps,
    duplicates: m.duplicates,
    errors: m.errors,
    unexpectedCloses: result.client.unexpectedCloses,
    ...(result.server.cpuSeconds !== undefined ? { serverCpuSeconds: result.server.cpuSeconds, serverCores: result.server.cpuCores } : {}),
    ...(result.server.cpuMsPer1000Deliveries !== undefined ? { cpuMsPer1000Deliveries: result.server.cpuMsPer1000Deliveries } : {}),
    ...(result.server.rssPerConnectionBytes !== undefined ? { rssPerConnectionBytes: result.server.rssPerConnectionBytes } : {}),
    clientCpuSeconds: result.client.cpuSeconds,
    sendLagP99: result.client.sendLagMs.p99,
    clientBound: result.client.sendLagMs.p99 > 50 || (window > 0 && result.client.cpuSeconds / window > 1.2),
  };
  const p = result.presence;
  if (p) {
    row.presence = {
      members: p.members,
      rightCount: p.rightCount,
      expectedCount: p.expectedCount,
      totalFrames: p.totalFrames,
      framesPerMemberP50: p.framesPerMemberP.p50,
      framesPerMemberMax: p.framesPerMemberP.max,
      framesPerSecondAboveThresholdP50: p.framesPerSecondAboveThresholdP.p50,
      framesPerSecondAboveThresholdP99: p.framesPerSecondAboveThresholdP.p99,
      ...(stormCpu !== undefined ? { serverCpuSecondsDuringStorm: round(stormCpu) } : {}),
      rampSeconds: result.ramp.seconds,
    };
  }
  return row;
}
