#!/usr/bin/env node
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { runBenchmark, type BenchResult } from '@lectern/load-tests';
import { NatsPostgres, startTarget, stopAllServers, TARGETS, type RunningTarget, type TargetName } from './targets.js';
import { planSteps, WORKLOADS, type Step, type WorkloadName } from './workloads.js';
import { summarizeProfile } from './profile-summary.js';
import { rowOf, type CompareRow, type CompareSummary } from './rows.js';

/**
 * The comparison in one command: every workload step against every target, targets
 * alternating within each step (their order rotates from step to step and round to round), a
 * fresh server for every run, everything stopped by pid. Each run's harness JSON and the
 * summary (summary.json, rewritten after every run) go to the output directory;
 * results-md.js turns them into load-tests/RESULTS.md.
 */

const USAGE = `usage: node load-tests/compare/dist/compare.js [flags]

  --workloads W1,W2,W3,W4    which workloads (default all)
  --targets LIST             ${TARGETS.join(',')} (default all)
  --rounds N                 every step N times per target (default 1)
  --once W3,W4               workloads run in the first round only (long ramps)
  --scale X                  multiply every size (0.1 for a smoke run; default 1)
  --duration SECONDS         measured window of W1/W2 (default 15)
  --profile STEP[,STEP]      after the runs, run each STEP once more against Lectern on NATS + Postgres
                             under node --cpu-prof and summarize where the time goes (e.g. W1-200,W2)
  --profile-target T[,T]     lectern-nats-pg (default), lectern, or both
  --port N                   first port (default 5400)
  --out DIR                  default load-tests/compare/results/<timestamp>
  --database NAME            Postgres database for lectern-nats-pg (default lectern_compare; dropped and recreated)
  --nats-port N              the nats-server started for lectern-nats-pg (default 4333)
  --gateways N               at least N gateways for lectern-nats-pg (default: 1, or one per 15,000 connections)`;

const packageDir = fileURLToPath(new URL('../../', import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => console.error(`[compare ${new Date().toISOString().slice(11, 19)}] ${line}`);

function machine(): CompareSummary['machine'] {
  let cpuModel = cpus()[0]?.model ?? 'unknown';
  cpuModel = cpuModel.replace(/\s+/g, ' ').trim();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8', cwd: packageDir }).trim();
  } catch {
    // not a checkout
  }
  return { cpus: cpus().length, cpuModel, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, kernel: readKernel(), commit };
}

function readKernel(): string {
  try {
    return execFileSync('uname', ['-sr'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      workloads: { type: 'string' },
      targets: { type: 'string' },
      rounds: { type: 'string' },
      once: { type: 'string' },
      scale: { type: 'string' },
      duration: { type: 'string' },
      profile: { type: 'string' },
      'profile-target': { type: 'string' },
      port: { type: 'string' },
      out: { type: 'string' },
      database: { type: 'string' },
      'nats-port': { type: 'string' },
      gateways: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const secret = process.env.JWT_SECRET ?? `compare-${Date.now()}`;
  const workloads = (values.workloads?.split(',') ?? WORKLOADS) as WorkloadName[];
  const targets = (values.targets?.split(',') ?? TARGETS) as TargetName[];
  for (const t of targets) if (!TARGETS.includes(t)) throw new Error(`unknown target ${t}: ${TARGETS.join(', ')}`);
  const rounds = Number(values.rounds ?? 1);
  const once = new Set(values.once?.split(',') ?? []);
  const scale = Number(values.scale ?? 1);
  const durationSeconds = Number(values.duration ?? 15);
  const basePort = Number(values.port ?? 5400);
  const out = values.out ?? join(packageDir, 'compare/results', new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19));
  mkdirSync(out, { recursive: true });
  const steps = planSteps({ scale, durationSeconds, workloads });
  if (values.gateways) for (const step of steps) step.gateways = Math.max(step.gateways, Number(values.gateways));

  const command = `node load-tests/compare/dist/compare.js ${process.argv.slice(2).join(' ')}`.trim();
  const summary: CompareSummary = {
    command,
    startedAt: new Date().toISOString(),
    machine: machine(),
    scale,
    rounds,
    steps: steps.map((s) => ({ id: s.id, workload: s.workload, title: s.title })),
    rows: [],
  };
  const save = () => writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  save();

  const backends = targets.includes('lectern-nats-pg')
    ? new NatsPostgres({ natsPort: Number(values['nats-port'] ?? 4333), database: values.database ?? 'lectern_compare' })
    : undefined;
  let running: RunningTarget | undefined;
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    await running?.stop();
    await backends?.stop();
    // Servers still starting (not yet handed to `running`).
    await stopAllServers();
  };
  const interrupted = () => {
    log('interrupted: stopping every server');
    void stopAll().finally(() => process.exit(130));
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);

  try {
    await backends?.start(log);
    let rotation = 0;
    for (let round = 1; round <= rounds; round++) {
      for (const step of steps) {
        if (round > 1 && once.has(step.workload)) continue;
        // Alternate: each step starts with the next target, so none always runs first (or last).
        const order = targets.map((_, i) => targets[(i + rotation) % targets.length]!);
        rotation++;
        for (const target of order) {
          const skip = step.skip[target];
          if (skip) {
            summary.rows.push({ step: step.id, workload: step.workload, target, round, skipped: skip });
            save();
            continue;
          }
          summary.rows.push(await runOne(step, target, round, { secret, basePort, out, backends, onStart: (r) => (running = r) }));
          running = undefined;
          save();
          await sleep(2000);
        }
      }
    }
    const profileTargets = (values['profile-target'] ?? 'lectern-nats-pg').split(',') as TargetName[];
    for (const [profiled, target] of (values.profile?.split(',') ?? []).flatMap((p) => profileTargets.map((t) => [p, t] as const))) {
      const step = steps.find((s) => s.id === profiled);
      if (!step) throw new Error(`--profile ${profiled}: no such step in this run (${steps.map((s) => s.id).join(', ')})`);
      const profileDir = join(out, `profile-${step.id}-${target}`);
      mkdirSync(profileDir, { recursive: true });
      const row = await runOne(step, target, 0, { secret, basePort, out, backends, cpuProfileDir: profileDir, onStart: (r) => (running = r) });
      running = undefined;
      row.profiled = true;
      summary.rows.push(row);
      const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profileDir, f));
      // Only the measured window (W4: the storm), not the start-up.
      const result = row.file ? (JSON.parse(readFileSync(join(out, row.file), 'utf8')) as BenchResult) : undefined;
      const samples = result?.server.samples;
      const window = samples && row.stoppedAt
        ? step.workload === 'W4' || step.workload === 'W3'
          ? { fromMs: samples.before!.at, toMs: samples.afterRamp!.at, exitedAtMs: row.stoppedAt }
          : { fromMs: samples.windowStart!.at, toMs: samples.windowEnd!.at, exitedAtMs: row.stoppedAt }
        : undefined;
      (summary.profiles ??= []).push({
        step: step.id,
        target,
        files: files.map((f) => f.slice(out.length + 1)),
        summaries: files.map((f) => summarizeProfile(f, window)),
      });
      save();
    }
  } finally {
    await stopAll();
  }
  summary.finishedAt = new Date().toISOString();
  save();
  log(`done: ${join(out, 'summary.json')}; next: node load-tests/compare/dist/results-md.js ${out}`);
  return 0;
}

async function runOne(
  step: Step,
  target: TargetName,
  round: number,
  context: {
    secret: string;
    basePort: number;
    out: string;
    backends: NatsPostgres | undefined;
    cpuProfileDir?: string;
    onStart: (running: RunningTarget) => void;
  },
): Promise<CompareRow> {
  // A port per target, so a socket in TIME_WAIT from the previous run never meets the next one.
  const port = context.basePort + TARGETS.indexOf(target) * 10;
  const loadAverageBefore = Math.round((loadavg()[0] ?? 0) * 100) / 100;
  log(`${step.id} × ${target} (round ${round}), load average ${loadAverageBefore}`);
  let running: RunningTarget | undefined;
  let stoppedAt = 0;
  let row: CompareRow;
  try {
    running = await startTarget(
      target,
      {
        secret: context.secret,
        port,
        gateways: target === 'lectern-nats-pg' ? step.gateways : 1,
        distributed: target === 'lectern-nats-pg' && step.distributed === true,
        lecternEnv: { LECTERN_PRESENCE_THRESHOLD: String(step.presenceThreshold) },
        ...(context.cpuProfileDir ? { cpuProfileDir: context.cpuProfileDir } : {}),
        log,
      },
      context.backends,
    );
    context.onStart(running);
    const live = running;
    // Idle connections: memory per connection is the gateway's; CPU there is noise anyway.
    const pids = step.workload === 'W3' ? () => live.gatewayPids() : () => live.pids();
    const result: BenchResult = await runBenchmark({
      ...step.bench,
      secret: context.secret,
      urls: running.urls,
      protocol: running.protocol,
      serverPidProvider: pids,
      presenceThreshold: step.presenceThreshold,
      outDir: context.out,
      label: `${target} ${step.id} round ${round}`,
      log: (line) => {
        if (!line.startsWith('ramp:')) log(`  ${line}`);
      },
    });
    log(`  ${result.ok ? 'clean' : 'NOT CLEAN'}: ${result.messages.deliveriesPerSecond} deliveries/s, p99 ${result.latencyMs.p99} ms, ` +
      `${result.ramp.joined}/${result.ramp.planned} joined, server ${result.server.cpuSeconds ?? '-'} CPU-s`);
    row = rowOf(step, target, round, result, loadAverageBefore, context.out);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log(`  failed: ${message}`);
    row = { step: step.id, workload: step.workload, target, round, failed: message, loadAverage: { start: loadAverageBefore, end: Math.round((loadavg()[0] ?? 0) * 100) / 100 } };
  } finally {
    await running?.stop();
    stoppedAt = Date.now();
  }
  // When the profiled processes exited: ties the profile's clock to the result's epoch times.
  if (context.cpuProfileDir) row.stoppedAt = stoppedAt;
  return row;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`compare failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  },
);
