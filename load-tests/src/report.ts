import { cpus, loadavg } from 'node:os';
import { Histogram, type HistogramSnapshot, type Percentiles } from './histogram.js';
import type { ClientProtocol, PresenceStats, RampStats, RoomCounters, WorkerReport } from './messages.js';
import type { ProcessSample } from './proc-stats.js';
import type { Plan, ScenarioName } from './scenarios.js';

/** The JSON written to results/<scenario>-<timestamp>.json. Latencies are in milliseconds. */
export interface BenchResult {
  scenario: ScenarioName;
  runId: string;
  label?: string;
  finishedAt: string;
  url: string;
  /** The wire the clients spoke (`lectern`, or `socketio` for the Socket.IO reference). */
  protocol?: ClientProtocol;
  /** 1-minute load average at the start and the end: other work on the machine skews every figure. */
  loadAverage: { start: number; end: number };
  cpuCount: number;
  /** True when every planned connection joined, every sent message was acked and delivered to every member, once, in order. */
  ok: boolean;
  plan: {
    parameters: Plan['parameters'];
    connections: number;
    rooms: number;
    senders: number;
    intervalMs: number;
    plannedMessagesPerSecond: number;
    plannedDeliveriesPerSecond: number;
    clientProcesses: number;
    sourceAddresses: string[];
    durationMs: number;
    warmupMs: number;
    drainMs: number;
  };
  ramp: {
    planned: number;
    connected: number;
    joined: number;
    seconds: number;
    connectionsPerSecond: number;
    connectLatencyMs: Percentiles;
    joinLatencyMs: Percentiles;
    failures: Record<string, number>;
  };
  messages: {
    sent: number;
    acked: number;
    unacked: number;
    duplicateAcks: number;
    /** Σ over rooms of acked × members that joined. */
    expectedDeliveries: number;
    delivered: number;
    /** Σ over rooms of max(0, expected − delivered). */
    dropped: number;
    /** Deliveries beyond the expected (messages delivered but never acked, or delivered twice). */
    extra: number;
    gaps: number;
    missingSeqs: number;
    duplicates: number;
    messagesPerSecond: number;
    deliveriesPerSecond: number;
    errors: Record<string, number>;
  };
  /** Receive time − send time, for every delivery to every member, sender included. */
  latencyMs: Percentiles;
  /** Ack time − send time, at the sender. */
  ackLatencyMs: Percentiles;
  /** The same for the messages sent during the warm-up (empty without one). */
  warmupLatencyMs: Percentiles;
  warmupAckLatencyMs: Percentiles;
  server: {
    pids: number[];
    cpuSeconds?: number;
    /** Server CPU over the window (measure + drain) as a share of one core. */
    cpuCores?: number;
    cpuMsPer1000Deliveries?: number;
    rssBeforeBytes?: number;
    rssAfterRampBytes?: number;
    rssPerConnectionBytes?: number;
    samples: Record<string, ProcessSample>;
  };
  client: {
    cpuSeconds: number;
    maxRssBytes: number;
    /** How late the send loop ran: a high p99 means the clients, not the server, were the limit. */
    sendLagMs: Percentiles;
    unexpectedCloses: Record<string, number>;
    staleEvents: number;
  };
  /** presence (W4): how many presence frames each member got, and whether its count ended right. */
  presence?: PresenceStats & { threshold: number; framesPerMemberP: Percentiles; framesPerSecondAboveThresholdP: Percentiles };
  file?: string;
}

export interface SummaryInput {
  scenario: ScenarioName;
  runId: string;
  label: string | undefined;
  url: string;
  protocol: ClientProtocol;
  presenceThreshold: number;
  plan: Plan;
  processes: number;
  sourceAddresses: string[];
  durationMs: number;
  warmupMs: number;
  drainMs: number;
  ramps: RampStats[];
  reports: WorkerReport[];
  joinedByRoom: Record<string, number>;
  serverPids: number[];
  serverSamples: Record<string, ProcessSample>;
  loadAverageAtStart: number;
}

const merged = (snapshots: HistogramSnapshot[]) => {
  const histogram = new Histogram();
  for (const s of snapshots) histogram.merge(s);
  return histogram.percentiles(1000);
};
const addCounts = (into: Record<string, number>, from: Record<string, number>) => {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
};
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

export function summarize(input: SummaryInput): BenchResult {
  const { plan, ramps, reports } = input;
  // Rates and CPU cover all the sending, warm-up included: its messages count like the others.
  const seconds = (input.warmupMs + input.durationMs) / 1000;

  const rooms = new Map<string, RoomCounters>();
  const errors: Record<string, number> = {};
  const closes: Record<string, number> = {};
  let unacked = 0;
  let staleEvents = 0;
  let clientCpu = 0;
  let clientRss = 0;
  for (const report of reports) {
    for (const [room, c] of Object.entries(report.rooms)) {
      const total = rooms.get(room);
      if (!total) rooms.set(room, { ...c });
      else for (const key of Object.keys(c) as Array<keyof RoomCounters>) total[key] += c[key];
    }
    addCounts(errors, report.errors);
    addCounts(closes, report.closes);
    unacked += report.unacked;
    staleEvents += report.staleEvents;
    clientCpu += report.cpuSeconds;
    clientRss = Math.max(clientRss, report.maxRssBytes);
  }
  let sent = 0, acked = 0, duplicateAcks = 0, expected = 0, delivered = 0, dropped = 0, extra = 0;
  let gaps = 0, missingSeqs = 0, duplicates = 0;
  for (const [room, c] of rooms) {
    const members = input.joinedByRoom[room] ?? 0;
    const roomExpected = c.acked * members;
    sent += c.sent;
    acked += c.acked;
    duplicateAcks += c.duplicateAcks;
    expected += roomExpected;
    delivered += c.delivered;
    dropped += Math.max(0, roomExpected - c.delivered);
    extra += Math.max(0, c.delivered - roomExpected);
    gaps += c.gaps;
    missingSeqs += c.missingSeqs;
    duplicates += c.duplicates;
  }

  const failures: Record<string, number> = {};
  for (const ramp of ramps) addCounts(failures, ramp.failures);
  const joined = ramps.reduce((n, r) => n + r.joined, 0);
  const connected = ramps.reduce((n, r) => n + r.connected, 0);
  const firstAttempt = Math.min(...ramps.map((r) => r.firstAttemptAt || Infinity));
  const lastWelcome = Math.max(...ramps.map((r) => r.lastWelcomeAt));
  const rampSeconds = Number.isFinite(firstAttempt) && lastWelcome > firstAttempt ? (lastWelcome - firstAttempt) / 1000 : 0;

  const { windowStart, windowEnd, before, afterRamp } = input.serverSamples;
  const havePids = input.serverPids.length > 0;
  const serverCpu = havePids && windowStart && windowEnd ? windowEnd.cpuSeconds - windowStart.cpuSeconds : undefined;
  const windowSeconds = (input.warmupMs + input.durationMs + input.drainMs) / 1000;

  const ok =
    joined === plan.connections.length &&
    unacked === 0 &&
    sent === acked &&
    dropped === 0 &&
    extra === 0 &&
    gaps === 0 &&
    duplicates === 0 &&
    Object.keys(errors).length === 0 &&
    Object.keys(closes).length === 0;

  const plannedDeliveries = plan.intervalMs > 0
    ? Object.values(plan.membersByRoom).reduce((n, m) => n + m * m, 0) * (1000 / plan.intervalMs) *
      (plan.senderCount / plan.connections.length)
    : 0;

  return {
    scenario: input.scenario,
    runId: input.runId,
    ...(input.label ? { label: input.label } : {}),
    finishedAt: new Date().toISOString(),
    url: input.url,
    protocol: input.protocol,
    loadAverage: { start: input.loadAverageAtStart, end: round(loadavg()[0] ?? 0, 2) },
    cpuCount: cpus().length,
    ok,
    plan: {
      parameters: plan.parameters,
      connections: plan.connections.length,
      rooms: Object.keys(plan.membersByRoom).length,
      senders: plan.senderCount,
      intervalMs: round(plan.intervalMs, 3),
      plannedMessagesPerSecond: round(plan.plannedRate),
      plannedDeliveriesPerSecond: round(plannedDeliveries),
      clientProcesses: input.processes,
      sourceAddresses: input.sourceAddresses,
      durationMs: input.durationMs,
      warmupMs: input.warmupMs,
      drainMs: input.drainMs,
    },
    ramp: {
      planned: plan.connections.length,
      connected,
      joined,
      seconds: round(rampSeconds, 3),
      connectionsPerSecond: rampSeconds > 0 ? round(connected / rampSeconds) : 0,
      connectLatencyMs: merged(ramps.map((r) => r.connectLatency)),
      joinLatencyMs: merged(ramps.map((r) => r.joinLatency)),
      failures,
    },
    messages: {
      sent,
      acked,
      unacked,
      duplicateAcks,
      expectedDeliveries: expected,
      delivered,
      dropped,
      extra,
      gaps,
      missingSeqs,
      duplicates,
      messagesPerSecond: round(acked / seconds),
      deliveriesPerSecond: round(delivered / seconds),
      errors,
    },
    latencyMs: merged(reports.map((r) => r.latency)),
    ackLatencyMs: merged(reports.map((r) => r.ackLatency)),
    warmupLatencyMs: merged(reports.map((r) => r.warmupLatency)),
    warmupAckLatencyMs: merged(reports.map((r) => r.warmupAckLatency)),
    server: {
      pids: input.serverPids,
      ...(serverCpu !== undefined
        ? {
            cpuSeconds: round(serverCpu, 2),
            cpuCores: round(serverCpu / windowSeconds, 3),
            ...(delivered > 0 ? { cpuMsPer1000Deliveries: round((serverCpu * 1000 * 1000) / delivered, 3) } : {}),
          }
        : {}),
      ...(havePids && before && afterRamp
        ? {
            rssBeforeBytes: before.rssBytes,
            rssAfterRampBytes: afterRamp.rssBytes,
            ...(joined > 0 ? { rssPerConnectionBytes: Math.round((afterRamp.rssBytes - before.rssBytes) / joined) } : {}),
          }
        : {}),
      samples: input.serverSamples,
    },
    client: {
      cpuSeconds: round(clientCpu, 2),
      maxRssBytes: clientRss,
      sendLagMs: merged(reports.map((r) => r.sendLag)),
      unexpectedCloses: closes,
      staleEvents,
    },
    ...(input.scenario === 'presence' ? { presence: presenceOf(reports, joined, input.presenceThreshold) } : {}),
  };
}

function presenceOf(reports: WorkerReport[], joined: number, threshold: number): NonNullable<BenchResult['presence']> {
  const finalCount = new Histogram();
  const perMember = new Histogram();
  const above = new Histogram();
  const perSecond = new Histogram();
  let members = 0;
  let rightCount = 0;
  let totalFrames = 0;
  for (const { presence } of reports) {
    members += presence.members;
    totalFrames += presence.totalFrames;
    for (const count of presence.finalCounts) {
      finalCount.record(count);
      if (count === joined) rightCount++;
    }
    perMember.merge(presence.framesPerMember);
    above.merge(presence.framesAboveThreshold);
    perSecond.merge(presence.framesPerSecondAboveThresholdMilli);
  }
  return {
    threshold,
    members,
    rightCount,
    expectedCount: joined,
    finalCount: finalCount.snapshot(),
    framesPerMember: perMember.snapshot(),
    framesAboveThreshold: above.snapshot(),
    framesPerSecondAboveThresholdMilli: perSecond.snapshot(),
    totalFrames,
    framesPerMemberP: perMember.percentiles(),
    framesPerSecondAboveThresholdP: perSecond.percentiles(1000),
  };
}

const number = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 2 });
const ms = (p: Percentiles) =>
  p.count === 0 ? '-' : `p50 ${p.p50}  p90 ${p.p90}  p99 ${p.p99}  max ${p.max}  (n=${number(p.count)})`;
const counts = (table: Record<string, number>) =>
  Object.keys(table).length === 0 ? 'none' : Object.entries(table).map(([k, n]) => `${k}: ${n}`).join(', ');
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** The human table printed at the end of a run. */
export function formatTable(result: BenchResult): string {
  const m = result.messages;
  const rows: Array<[string, string]> = [
    ['scenario', `${result.scenario}${result.label ? ` (${result.label})` : ''}  ${result.ok ? 'OK' : 'NOT CLEAN'}`],
    ['plan', `${number(result.plan.connections)} connections, ${number(result.plan.rooms)} rooms, ${number(result.plan.senders)} senders, ` +
      `${number(result.plan.plannedMessagesPerSecond)} msg/s → ${number(result.plan.plannedDeliveriesPerSecond)} deliveries/s, ` +
      `${result.plan.warmupMs > 0 ? `${result.plan.warmupMs / 1000} s warm-up + ` : ''}` +
      `${result.plan.durationMs / 1000} s + ${result.plan.drainMs / 1000} s drain, ${result.plan.clientProcesses} client processes`],
    ['ramp', `${number(result.ramp.joined)}/${number(result.ramp.planned)} joined in ${result.ramp.seconds} s, ` +
      `${number(result.ramp.connectionsPerSecond)} connections/s`],
    ['connect latency ms', ms(result.ramp.connectLatencyMs)],
    ['join latency ms', ms(result.ramp.joinLatencyMs)],
    ['ramp failures', counts(result.ramp.failures)],
  ];
  if (result.plan.senders > 0) {
    rows.push(
      ['messages', `sent ${number(m.sent)}, acked ${number(m.acked)}, unacked ${number(m.unacked)}, ${number(m.messagesPerSecond)} msg/s in`],
      ['deliveries', `${number(m.delivered)} of ${number(m.expectedDeliveries)} expected, ${number(m.deliveriesPerSecond)}/s; ` +
        `dropped ${number(m.dropped)}, extra ${number(m.extra)}`],
      ['order', `gaps ${m.gaps} (${m.missingSeqs} seqs missing), duplicates ${m.duplicates}, duplicate acks ${m.duplicateAcks}`],
      ['delivery latency ms', ms(result.latencyMs)],
      ['ack latency ms', ms(result.ackLatencyMs)],
      ...(result.plan.warmupMs > 0
        ? ([['warm-up latency ms', `${ms(result.warmupLatencyMs)}; acks p99 ${result.warmupAckLatencyMs.p99}`]] as Array<[string, string]>)
        : []),
      ['errors', counts(m.errors)],
    );
  }
  rows.push(['unexpected closes', counts(result.client.unexpectedCloses)]);
  const p = result.presence;
  if (p) {
    rows.push(
      ['presence count', `${number(p.rightCount)} of ${number(p.members)} members ended with the right count (${number(p.expectedCount)})`],
      ['presence frames', `${number(p.totalFrames)} in all; per member p50 ${p.framesPerMemberP.p50}, max ${p.framesPerMemberP.max}`],
      [`frames/s above ${p.threshold}`, `per member p50 ${p.framesPerSecondAboveThresholdP.p50}, p99 ${p.framesPerSecondAboveThresholdP.p99}, max ${p.framesPerSecondAboveThresholdP.max}`],
    );
  }
  const s = result.server;
  if (s.pids.length > 0) {
    const cpu = s.cpuSeconds !== undefined
      ? `${s.cpuSeconds} s over the window (${s.cpuCores} cores)` +
        (s.cpuMsPer1000Deliveries !== undefined ? `, ${s.cpuMsPer1000Deliveries} ms per 1,000 deliveries` : '')
      : '-';
    rows.push(['server cpu', `${cpu}  [pids ${s.pids.join(',')}]`]);
    if (s.rssBeforeBytes !== undefined && s.rssAfterRampBytes !== undefined) {
      rows.push(['server rss', `${mib(s.rssBeforeBytes)} → ${mib(s.rssAfterRampBytes)}` +
        (s.rssPerConnectionBytes !== undefined ? `, ${(s.rssPerConnectionBytes / 1024).toFixed(2)} KiB per connection` : '')]);
    }
  }
  rows.push(['machine', `${result.cpuCount} cpus, load average ${result.loadAverage.start} → ${result.loadAverage.end}`]);
  rows.push(['client', `cpu ${result.client.cpuSeconds} s, max rss ${mib(result.client.maxRssBytes)}, send lag ms ${ms(result.client.sendLagMs)}`]);
  if (result.file) rows.push(['result', result.file]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}
