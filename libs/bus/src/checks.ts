/**
 * Argument checks shared by both implementations, so a call that works in-process also works
 * on NATS. A failure is a programming error, so it is a TypeError naming what to fix, not a
 * BusError.
 */
import { isValidSubject } from './subjects.js';

const QUEUE_NAME = /^\S+$/;

export function assertSubject(subject: string, wildcards: boolean): void {
  if (!isValidSubject(subject, wildcards)) {
    throw new TypeError(
      `invalid bus subject ${JSON.stringify(subject)}: use non-empty dot-separated tokens without spaces` +
        (wildcards ? ", '*' as a whole token, '>' only as the last token" : ', and no wildcards when publishing'),
    );
  }
}

export function assertQueueName(queue: string): void {
  if (!QUEUE_NAME.test(queue)) {
    throw new TypeError(`invalid queue group ${JSON.stringify(queue)}: use a non-empty name without spaces`);
  }
}

export function assertTimeout(timeoutMs: number): void {
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new TypeError(`request timeoutMs must be a positive number of milliseconds, got ${timeoutMs}`);
  }
}
