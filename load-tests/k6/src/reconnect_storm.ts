/**
 * reconnect_storm: ROOMS rooms × MEMBERS clients, one chatter per room sending every
 * CHAT_INTERVAL_MS the whole time. STORM_AT seconds after everyone joined, every client drops
 * its socket within STORM_SPREAD seconds and reconnects RECONNECT_DELAY_MS (at most) later,
 * resuming each room with `join_room {since}` = the last seq it processed. The chatter resends
 * what was unacknowledged at the drop with the same `mid` (its offline queue).
 *
 * Thresholds: every resume comes back `recovered: true`; across the drop each client's seqs run
 * without a gap (`missed` fills the hole) and without a duplicate; every chat message reaches
 * every member exactly once (checked by the end marker as in `classrooms`).
 *
 *   k6 run -e LECTERN_URL=ws://127.0.0.1:5000/ws -e JWT_SECRET=... load-tests/k6/dist/reconnect_storm.js
 */
import exec from 'k6/execution';
import { sleep } from 'k6';
import { clearInterval, setInterval } from 'k6/experimental/timers';
import type { Options } from 'k6/options';
import { after, envNumber, LecternConnection, metrics, runPrefix, timedText, type QueuedChat } from './lib/lectern.js';
import { correctnessThresholds } from './lib/thresholds.js';

const ROOMS = envNumber('ROOMS', 20);
const MEMBERS = envNumber('MEMBERS', 25);
const CHAT_INTERVAL_MS = envNumber('CHAT_INTERVAL_MS', 200);
const STORM_AT = envNumber('STORM_AT', 10);
const STORM_SPREAD = envNumber('STORM_SPREAD', 3);
const RECONNECT_DELAY_MS = envNumber('RECONNECT_DELAY_MS', 2000);
/** Chat goes on this long after the storm began, then the end marker. */
const AFTER_STORM = envNumber('AFTER_STORM', 10);
const RAMP_SECONDS = envNumber('RAMP_SECONDS', 5);
const GRACE_SECONDS = envNumber('GRACE_SECONDS', 30);

export const options: Options = {
  scenarios: {
    reconnect_storm: {
      executor: 'per-vu-iterations',
      vus: ROOMS,
      iterations: 1,
      maxDuration: `${RAMP_SECONDS + STORM_AT + AFTER_STORM + GRACE_SECONDS + 60}s`,
    },
  },
  thresholds: Object.assign(correctnessThresholds(), {
    lectern_recovered: ['rate==1'],
    lectern_completed: ['rate==1'],
    lectern_messages_delivered: [`count>=${ROOMS * MEMBERS}`],
    // Resuming joins carry `missed`; they may be slower than a first join.
    lectern_join_latency: [`p(95)<${envNumber('JOIN_P95_MS', 2000)}`],
  }),
};

export function setup(): { prefix: string } {
  return { prefix: runPrefix('storm') };
}

export default function (data: { prefix: string }): void {
  const index = exec.scenario.iterationInTest;
  const room = `${data.prefix}-r${index}`;
  sleep((index / Math.max(ROOMS, 1)) * RAMP_SECONDS);

  const current: LecternConnection[] = [];
  /** Seqs of every acknowledged chat (a resent message's duplicate ack names the same seq). */
  const ackedSeqs: { [seq: string]: true } = {};
  const done: boolean[] = [];
  let joinedOnce = 0;
  let finished = 0;
  let sent = 0;
  let ticker = 0;
  let chatting = false;
  let cancelGiveUp = (): void => undefined;

  const finish = (member: number, completed: boolean) => {
    if (done[member]) return;
    done[member] = true;
    metrics.completed.add(completed);
    (current[member] as LecternConnection).close();
    if (++finished === MEMBERS) {
      clearInterval(ticker);
      cancelGiveUp();
    }
  };

  const connect = (member: number, resumeFrom?: LecternConnection, queue?: QueuedChat[]) => {
    const connection = new LecternConnection(
      { id: `${room}-u${member}`, role: 'learner', rooms: [room] },
      {
        onWelcome: (c) => {
          if (resumeFrom) c.resume(room, resumeFrom.lastSeq(room), resumeFrom.chatsReceived(room));
          else c.join(room);
        },
        onJoined: (c) => {
          if (member === 0) for (const chat of queue || []) c.chat(chat.room, chat.text, chat.mid, true);
          if (!resumeFrom && ++joinedOnce === MEMBERS) startRun();
        },
        onAck: (_c, frame) => {
          if (typeof frame.seq === 'number' && frame.room === room) ackedSeqs[String(frame.seq)] = true;
        },
        onEvent: (c, frame) => {
          if (frame.type !== 'chat_message' || frame.text !== `end:${room}`) return;
          let expected = 0;
          for (const seq of Object.keys(ackedSeqs)) if (Number(seq) < (frame.seq as number)) expected++;
          const received = c.chatsReceived(room) - 1;
          if (received < expected) metrics.lostDeliveries.add(expected - received);
          finish(member, true);
        },
        onClose: (_c, expected) => {
          if (!expected) finish(member, false);
        },
      },
      { scenario: 'reconnect_storm' },
    );
    current[member] = connection;
  };

  const drop = (member: number) => {
    const old = current[member] as LecternConnection;
    const queue = old.takeQueue();
    old.close();
    after(Math.random() * RECONNECT_DELAY_MS, () => connect(member, old, queue));
  };

  const startRun = () => {
    chatting = true;
    const startedAt = Date.now();
    ticker = setInterval(() => {
      const elapsed = Date.now() - startedAt;
      const chatter = current[0] as LecternConnection;
      if (elapsed >= (STORM_AT + AFTER_STORM) * 1000) {
        clearInterval(ticker);
        chatting = false;
        after(1000, () => (current[0] as LecternConnection).chat(room, `end:${room}`));
        return;
      }
      // Offline (between drop and rejoin) the chatter skips its turns, as a real client would queue them.
      if (chatting && chatter.isOpen && chatter.lastSeq(room) >= 0 && sent * CHAT_INTERVAL_MS <= elapsed) {
        sent++;
        chatter.chat(room, timedText('chatter', sent), `m${sent}`);
      }
    }, 10);
    for (let m = 0; m < MEMBERS; m++) {
      const member = m;
      after((STORM_AT + Math.random() * STORM_SPREAD) * 1000, () => drop(member));
    }
  };

  for (let m = 0; m < MEMBERS; m++) connect(m);
  cancelGiveUp = after((STORM_AT + AFTER_STORM + GRACE_SECONDS + MEMBERS / 10) * 1000, () => {
    clearInterval(ticker);
    for (let m = 0; m < MEMBERS; m++) finish(m, false);
  });
}
