import { StoreUnavailableError, isVersionConflict, type AppendStats, type FlushReport } from './event-store.js';
import { cascaded } from './store-errors.js';

/** One event, validated and serialized, ready for the insert. */
export interface EventRow {
  seq: number;
  type: string;
  ts: number;
  /** JSON text of `data` / `meta`, serialized once at `append` so misuse fails that call only. */
  data: string;
  meta: string;
  frame: string;
}

/** One `append` call. */
export interface AppendCall {
  room: string;
  expectedSeq: number;
  rows: readonly EventRow[];
}

/**
 * Writes a batch, in call order, and says per call what happened: `undefined` when written,
 * else the error to reject it with. It must already fail every call of a room after a failed
 * call of that room in the same batch. A throw means every call failed with that error.
 */
export type WriteBatch = (batch: readonly AppendCall[]) => Promise<{ outcomes: (Error | undefined)[]; transactions: number }>;

interface Waiting {
  call: AppendCall;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * Group commit. While one flush runs, new calls queue; when it ends, the next flush takes
 * every queued call, of any room. No timer: an idle store flushes each call at once, a busy
 * one writes big batches, and the batch size follows the load by itself.
 *
 * One flush at a time keeps calls of one room in call order across flushes (a pipelining
 * writer relies on it), and it is what turns many small commits into one.
 */
export class AppendBatcher {
  readonly #write: WriteBatch;
  readonly #now: () => number;
  #queue: Waiting[] = [];
  #running: Promise<void> | undefined;
  #closed = false;
  readonly #listeners = new Set<(report: FlushReport) => void>();
  readonly #stats: Omit<AppendStats, 'queued'> = {
    flushes: 0,
    appends: 0,
    events: 0,
    committedEvents: 0,
    conflicts: 0,
    failures: 0,
    cascaded: 0,
    transactions: 0,
    lastBatchSize: 0,
    maxBatchSize: 0,
    flushMs: 0,
  };

  constructor(write: WriteBatch, now: () => number = () => performance.now()) {
    this.#write = write;
    this.#now = now;
  }

  submit(call: AppendCall): Promise<void> {
    if (this.#closed) return Promise.reject(new StoreUnavailableError('event store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ call, resolve, reject });
      // Start on a microtask, not now: calls made in the same tick share the first flush.
      this.#running ??= Promise.resolve().then(() => this.#drain());
    });
  }

  stats(): AppendStats {
    return { ...this.#stats, queued: this.#queue.length };
  }

  onFlush(listener: (report: FlushReport) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Refuses new calls and waits until every queued call settled. */
  async close(): Promise<void> {
    this.#closed = true;
    while (this.#running !== undefined) await this.#running;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        await this.#flush(batch);
      }
    } finally {
      this.#running = undefined;
    }
  }

  async #flush(batch: Waiting[]): Promise<void> {
    const started = this.#now();
    let outcomes: (Error | undefined)[];
    let transactions = 1;
    try {
      ({ outcomes, transactions } = await this.#write(batch.map((waiting) => waiting.call)));
    } catch (err) {
      const failure = err instanceof Error ? err : new StoreUnavailableError(String(err));
      outcomes = batch.map(() => failure);
    }
    const durationMs = this.#now() - started;

    const report: FlushReport = { appends: batch.length, events: 0, conflicts: 0, failures: 0, transactions, durationMs };
    let committedEvents = 0;
    const failedRooms = new Map<string, Error>();
    batch.forEach((waiting, index) => {
      const outcome = outcomes[index];
      report.events += waiting.call.rows.length;
      if (outcome === undefined) {
        committedEvents += waiting.call.rows.length;
        waiting.resolve();
        return;
      }
      if (isVersionConflict(outcome)) report.conflicts += 1;
      else report.failures += 1;
      if (!failedRooms.has(waiting.call.room)) failedRooms.set(waiting.call.room, outcome);
      waiting.reject(outcome);
    });

    // Calls queued during this flush that continue a failed room would leave a gap (their
    // seqs follow ones never written), or fork the room if another writer filled it. Reject
    // them now, before the next flush can take them.
    let cascadedCalls = 0;
    if (failedRooms.size > 0) {
      this.#queue = this.#queue.filter((waiting) => {
        const cause = failedRooms.get(waiting.call.room);
        if (cause === undefined) return true;
        cascadedCalls += 1;
        waiting.reject(cascaded(waiting.call.room, cause));
        return false;
      });
    }

    const stats = this.#stats;
    stats.flushes += 1;
    stats.appends += report.appends;
    stats.events += report.events;
    stats.committedEvents += committedEvents;
    stats.conflicts += report.conflicts;
    stats.failures += report.failures;
    stats.cascaded += cascadedCalls;
    stats.transactions += transactions;
    stats.lastBatchSize = report.events;
    stats.maxBatchSize = Math.max(stats.maxBatchSize, report.events);
    stats.flushMs += durationMs;
    for (const listener of this.#listeners) {
      try {
        listener(report);
      } catch {
        // A metrics hook must not break the write path.
      }
    }
  }
}
