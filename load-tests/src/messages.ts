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
  url: string;
  secret: string;
  /** Room pattern granted in every token (`rooms` claim). */
  roomPattern: string;
  localAddress?: string;
  connections: ConnectionSpec[];
  intervalMs: number;
  /** Handshakes (connect → welcome → joined) in flight at once in this process. */
  connectConcurrency: number;
  joinTimeoutMs: number;
  /** The worker exits on its own after this long, whatever the coordinator does. */
  hardTimeoutMs: number;
}

export interface WorkerStart {
  type: 'start';
  /** Epoch ms (Date.now clock) at which sending starts, and how long it lasts. */
  startAt: number;
  durationMs: number;
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
}

export type WorkerMessage =
  | { type: 'progress'; workerIndex: number; connected: number; joined: number; failed: number }
  | { type: 'ready'; workerIndex: number; ramp: RampStats }
  | WorkerReport
  | { type: 'fatal'; workerIndex: number; error: string };
