/**
 * Logs the event log's group-commit figures every interval while appends happen: how many
 * flushes, how many events, the mean batch size. This is what tells an operator (and the
 * benchmark) that the log receives batches, not one insert per message.
 */
import type { GroupCommitEventStore } from '@lectern/event-store';
import type { Logger } from 'pino';

export function logAppendStats(store: GroupCommitEventStore, logger: Logger, intervalMs = 10_000): () => void {
  let last = store.stats();
  const timer = setInterval(() => {
    const now = store.stats();
    const flushes = now.flushes - last.flushes;
    const events = now.events - last.events;
    if (flushes > 0) {
      logger.info(
        { flushes, events, meanBatch: Math.round((events / flushes) * 10) / 10, maxBatch: now.maxBatchSize, intervalMs },
        'event log group commit',
      );
    }
    last = now;
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
