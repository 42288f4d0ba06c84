import type { HistogramSnapshot } from './histogram.js';

/** What one client connection does: join `room`, and send chat when `sendOffsetMs` >= 0. */
export interface ConnectionSpec {
  user: string;
  room: string;
  /** Phase of this sender inside the send interval; -1 for a connection that only listens. */
  sendOffsetMs: number;
}

export interface WorkerInit {
  type: 'init';
  workerIndex: number;
  /** Endpoints; connection i of this process goes to urls[i % urls.length] (several gateways). */
  urls: string[];
  secret: string;
  /** Room pattern granted in every token (`rooms` claim). */
  roomPattern: string;
  localAddress?: string;
  /** The wire the server speaks: Lectern's JSON frames, or Socket.IO 4 (Engine.IO v4 over a WebSocket). */
  protocol: ClientProtocol;
  /** `presence` scenario: connections per second this process opens (0: as fast as `connectConcurrency` allows). */
  connectRate: number;
  /** Participants above which the server should coalesce presence (PROTOCOL.md §5). */
  presenceThreshold: number;
  connections: ConnectionSpec[];
  intervalMs: number;
  /** Handshakes (connect → welcome → joined) in flight at once in this process. */
  connectConcurrency: number;
  joinTimeoutMs: number;
  /** The worker exits on its own after this long, whatever the coordinator does. */
  hardTimeoutMs: number;
}

export type ClientProtocol = 'lectern' | 'socketio';

/** Presence frames seen by the members of a room (the `presence` scenario, W4). */
export interface PresenceStats {
  /** Members that reported. */
  members: number;
  /** Members whose participant count, followed from `joined` through every presence frame, ended at `expectedCount`. */
  rightCount: number;
  /** The distinct participants each member should end with (every joined member). */
  expectedCount: number;
  /** Their final counts: how far off the others were. */
  finalCount: HistogramSnapshot;
  /** Presence frames (user_joined, user_left, presence_diff) received per member after its own `joined`. */
  framesPerMember: HistogramSnapshot;
  /** Per member, presence frames received while it knew more than the threshold present... */
  framesAboveThreshold: HistogramSnapshot;
  /** ...divided by the seconds from crossing the threshold to its last presence frame, ×1000. */
  framesPerSecondAboveThresholdMilli: HistogramSnapshot;
  /** Σ presence frames received by all members. */
  totalFrames: number;
}

export interface WorkerStart {
  type: 'start';
  /** Epoch ms (Date.now clock) at which sending starts, and how long it lasts. */
  startAt: number;
  /** How long senders send, warm-up included. */
  durationMs: number;
  /**
   * Epoch ms: latencies of messages sent before this (the warm-up) are kept apart from the
   * measured ones. Warm-up messages count everywhere else: acks, deliveries, order, nothing lost.
   */
  latencyFrom: number;
}

export type CoordinatorMessage = WorkerInit | WorkerStart | { type: 'collect' } | { type: 'close' };

export interface RampStats {
  planned: number;
  connected: number;
  joined: number;
  /** Epoch ms of the first connection attempt and of the last `welcome`/`joined`. */
  firstAttemptAt: number;
  lastWelcomeAt: number;
  lastJoinedAt: number;
  failures: Record<string, number>;
  connectLatency: HistogramSnapshot;
  joinLatency: HistogramSnapshot;
  /** Members that joined, per room. */
  joinedByRoom: Record<string, number>;
}

export interface RoomCounters {
  sent: number;
  acked: number;
  duplicateAcks: number;
  delivered: number;
  /** Events missing between two received seqs (summed over receivers). */
  missingSeqs: number;
  gaps: number;
  duplicates: number;
}

export interface WorkerReport {
  type: 'report';
  workerIndex: number;
  rooms: Record<string, RoomCounters>;
  latency: HistogramSnapshot;
  ackLatency: HistogramSnapshot;
  /** Latencies of the messages sent during the warm-up. */
  warmupLatency: HistogramSnapshot;
  warmupAckLatency: HistogramSnapshot;
  /** How late the client's send loop fired versus the schedule: client-side saturation shows here. */
  sendLag: HistogramSnapshot;
  unacked: number;
  errors: Record<string, number>;
  /** Closes seen after the ramp, by close code. */
  closes: Record<string, number>;
  /** Non-chat events whose seq was at or below what the receiver already had (benign races). */
  staleEvents: number;
  cpuSeconds: number;
  maxRssBytes: number;
  /** Presence accounting per member (every scenario; read for `presence`). */
  presence: PresenceParts;
}

/** A worker's share of PresenceStats, merged by the coordinator. */
export interface PresenceParts {
  members: number;
  finalCounts: number[];
  framesPerMember: HistogramSnapshot;
  framesAboveThreshold: HistogramSnapshot;
  framesPerSecondAboveThresholdMilli: HistogramSnapshot;
  totalFrames: number;
}

export type WorkerMessage =
  | { type: 'progress'; workerIndex: number; connected: number; joined: number; failed: number }
  | { type: 'ready'; workerIndex: number; ramp: RampStats }
  | WorkerReport
  | { type: 'fatal'; workerIndex: number; error: string };
