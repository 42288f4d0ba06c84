/**
 * lecture: one room, LEARNERS learners joining at JOIN_RATE per second, one instructor who sets
 * the session live, chats at CHAT_RATE msg/s for CHAT_SECONDS (changing the session's data every
 * SLIDE_SECONDS, and pausing once halfway), then ends the session. The `ended` update is every
 * learner's end marker: it comes after every chat message in seq order, so a learner that saw
 * it with no gap has every message; it then closes, and the run stops by itself.
 *
 *   k6 run -e LECTERN_URL=ws://127.0.0.1:5000/ws -e JWT_SECRET=... load-tests/k6/dist/lecture.js
 *
 * The instructor sends at CHAT_RATE from one connection: above the server's per-connection
 * rate limit (LECTERN_RATE_PER_SECOND, default 20) raise that limit, or `rate_limited` errors fail
 * the run.
 */
import exec from 'k6/execution';
import { sleep } from 'k6';
import { clearInterval, setInterval } from 'k6/experimental/timers';
import type { Options } from 'k6/options';
import { after, envNumber, LecternConnection, metrics, runPrefix, timedText, type Frame } from './lib/lectern.js';
import { correctnessThresholds } from './lib/thresholds.js';

const LEARNERS = envNumber('LEARNERS', 500);
const JOIN_RATE = envNumber('JOIN_RATE', 50);
const CHAT_RATE = envNumber('CHAT_RATE', 5);
const CHAT_SECONDS = envNumber('CHAT_SECONDS', 30);
const SLIDE_SECONDS = envNumber('SLIDE_SECONDS', 10);
const JOIN_SECONDS = Math.ceil(LEARNERS / Math.max(JOIN_RATE, 0.001));
/** A learner gives up this long after the instructor should have ended the session. */
const GRACE_SECONDS = envNumber('GRACE_SECONDS', 30);
const TOTAL_SECONDS = JOIN_SECONDS + 5 + CHAT_SECONDS + GRACE_SECONDS;

export const options: Options = {
  scenarios: {
    learners: {
      executor: 'per-vu-iterations',
      exec: 'learner',
      vus: LEARNERS,
      iterations: 1,
      maxDuration: `${TOTAL_SECONDS + 30}s`,
    },
    instructor: {
      executor: 'per-vu-iterations',
      exec: 'instructor',
      vus: 1,
      iterations: 1,
      // Starts once every learner should have joined.
      startTime: `${JOIN_SECONDS + 5}s`,
      maxDuration: `${CHAT_SECONDS + GRACE_SECONDS + 30}s`,
    },
  },
  thresholds: Object.assign(correctnessThresholds(), {
    lectern_join_latency: [`p(95)<${envNumber('JOIN_P95_MS', 1000)}`],
    // Every learner saw the session end after an unbroken run of seqs.
    lectern_completed: ['rate==1'],
    // At least one delivery per learner: a latency threshold alone passes when nothing arrives.
    lectern_messages_delivered: [`count>=${LEARNERS}`],
  }),
};

interface Setup {
  room: string;
}

export function setup(): Setup {
  return { room: `${runPrefix('lecture')}-room` };
}

export function learner(data: Setup): void {
  // Joins are spread at JOIN_RATE: learner i connects i/JOIN_RATE seconds after the start.
  sleep(exec.scenario.iterationInTest / JOIN_RATE);
  const id = `learner-${exec.scenario.iterationInTest}`;
  let cancelGiveUp = (): void => undefined;
  const connection = new LecternConnection(
    { id, role: 'learner', rooms: [data.room] },
    {
      onWelcome: (c) => c.join(data.room),
      onEvent: (c, frame: Frame) => {
        if (frame.type === 'live_session_update' && frame.state === 'ended') {
          metrics.completed.add(true);
          cancelGiveUp();
          c.close();
        }
      },
      onClose: (_c, expected) => {
        if (!expected) metrics.completed.add(false);
        cancelGiveUp();
      },
    },
    { role: 'learner' },
  );
  cancelGiveUp = after((TOTAL_SECONDS - exec.scenario.iterationInTest / JOIN_RATE) * 1000, () => {
    metrics.completed.add(false);
    connection.close();
  });
}

export function instructor(data: Setup): void {
  const intervalMs = 1000 / Math.max(CHAT_RATE, 0.001);
  let sent = 0;
  let ticker = 0;
  let startedAt = 0;
  let nextSlideAt = 0;
  let slide = 0;
  let paused = false;
  let pausedOnce = false;
  const connection = new LecternConnection(
    { id: 'instructor', role: 'instructor', rooms: [data.room] },
    {
      onWelcome: (c) => c.join(data.room),
      onJoined: (c, room) => {
        c.sessionUpdate(room, 'live', { slide });
        startedAt = Date.now();
        nextSlideAt = startedAt + SLIDE_SECONDS * 1000;
        // A 10 ms tick that sends every message due by now: steady at any CHAT_RATE.
        ticker = setInterval(() => {
          const now = Date.now();
          const elapsed = now - startedAt;
          if (elapsed >= CHAT_SECONDS * 1000) {
            clearInterval(ticker);
            if (paused) {
              paused = false;
              c.sessionUpdate(room, 'live');
            }
            // Let the last acks arrive, then end: `ended` is every learner's end marker.
            after(1000, () => c.sessionUpdate(room, 'ended', { slide }));
            return;
          }
          while (sent * intervalMs <= elapsed) {
            c.chat(room, timedText('instructor', sent), `m${sent}`);
            sent++;
          }
          if (!pausedOnce && elapsed >= (CHAT_SECONDS * 1000) / 2) {
            // Halfway: pause for one second (chat still flows while paused), then go live again.
            pausedOnce = paused = true;
            c.sessionUpdate(room, 'paused');
            after(1000, () => {
              if (!paused) return;
              paused = false;
              c.sessionUpdate(room, 'live');
            });
          }
          if (now >= nextSlideAt) {
            nextSlideAt += SLIDE_SECONDS * 1000;
            c.sessionUpdate(room, undefined, { slide: slide++ });
          }
        }, 10);
      },
      onEvent: (c, frame) => {
        if (frame.type === 'live_session_update' && frame.state === 'ended') c.close();
      },
      onClose: () => {
        clearInterval(ticker);
        cancelGiveUp();
      },
    },
    { role: 'instructor' },
  );
  const cancelGiveUp = after((CHAT_SECONDS + GRACE_SECONDS) * 1000, () => connection.close());
}
