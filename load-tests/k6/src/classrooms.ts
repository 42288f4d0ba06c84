/**
 * classrooms: ROOMS rooms of MIN_MEMBERS..MAX_MEMBERS members (10–50 by default, a fixed spread),
 * everyone chatting once every INTERVAL_MS for CHAT_SECONDS. One VU runs one room and holds all
 * of its members' sockets (k6/experimental/websockets allows several per VU), so it knows
 * exactly what every member should have received: after the chat, member 0 sends an end
 * marker; every member that sees it checks it received every acknowledged message of the room
 * (`lectern_lost_deliveries`) with no gap or duplicate, then closes.
 *
 *   k6 run -e LECTERN_URL=ws://127.0.0.1:5000/ws -e JWT_SECRET=... load-tests/k6/dist/classrooms.js
 */
import exec from 'k6/execution';
import { sleep } from 'k6';
import { clearInterval, setInterval } from 'k6/experimental/timers';
import type { Options } from 'k6/options';
import { after, envNumber, LecternConnection, metrics, runPrefix, timedText } from './lib/lectern.js';
import { correctnessThresholds } from './lib/thresholds.js';

const ROOMS = envNumber('ROOMS', 50);
const MIN_MEMBERS = envNumber('MIN_MEMBERS', 10);
const MAX_MEMBERS = Math.max(MIN_MEMBERS, envNumber('MAX_MEMBERS', 50));
const INTERVAL_MS = envNumber('INTERVAL_MS', 2000);
const CHAT_SECONDS = envNumber('CHAT_SECONDS', 30);
/** Rooms start over this many seconds, so the connection ramp is not one burst. */
const RAMP_SECONDS = envNumber('RAMP_SECONDS', 10);
const GRACE_SECONDS = envNumber('GRACE_SECONDS', 30);

/** Room r's size: a fixed spread over MIN..MAX, so runs are comparable. */
function membersOf(room: number): number {
  return MIN_MEMBERS + ((room * 37) % (MAX_MEMBERS - MIN_MEMBERS + 1));
}

export const options: Options = {
  scenarios: {
    classrooms: {
      executor: 'per-vu-iterations',
      vus: ROOMS,
      iterations: 1,
      maxDuration: `${RAMP_SECONDS + CHAT_SECONDS + GRACE_SECONDS + 60}s`,
    },
  },
  thresholds: Object.assign(correctnessThresholds(), {
    lectern_join_latency: [`p(95)<${envNumber('JOIN_P95_MS', 1000)}`],
    lectern_completed: ['rate==1'],
    lectern_messages_delivered: [`count>=${ROOMS * MIN_MEMBERS}`],
  }),
};

export function setup(): { prefix: string } {
  return { prefix: runPrefix('classrooms') };
}

export default function (data: { prefix: string }): void {
  const index = exec.scenario.iterationInTest;
  const room = `${data.prefix}-r${index}`;
  const size = membersOf(index);
  sleep((index / Math.max(ROOMS, 1)) * RAMP_SECONDS);

  const members: LecternConnection[] = [];
  /** Seqs of every acknowledged chat of the room, to count what each member should have. */
  const ackedSeqs: number[] = [];
  let markerSeq = -1;
  let joined = 0;
  let finished = 0;
  let ticker = 0;
  const seen: boolean[] = [];
  let cancelGiveUp = (): void => undefined;

  const finishMember = (member: number, completed: boolean) => {
    if (seen[member]) return;
    seen[member] = true;
    metrics.completed.add(completed);
    (members[member] as LecternConnection).close();
    if (++finished === size) {
      clearInterval(ticker);
      cancelGiveUp();
    }
  };

  const startChat = () => {
    const startedAt = Date.now();
    const next: number[] = [];
    // Phases spread over the interval: a steady rate, not a pulse every INTERVAL_MS.
    for (let m = 0; m < size; m++) next.push(startedAt + (m / size) * INTERVAL_MS);
    const counts: number[] = [];
    ticker = setInterval(() => {
      const now = Date.now();
      if (now - startedAt >= CHAT_SECONDS * 1000) {
        clearInterval(ticker);
        // The marker goes after the last acks had time to land.
        after(1000, () => (members[0] as LecternConnection).chat(room, `end:${room}`));
        return;
      }
      for (let m = 0; m < size; m++) {
        if ((next[m] as number) > now) continue;
        next[m] = (next[m] as number) + INTERVAL_MS;
        const n = counts[m] = (counts[m] || 0) + 1;
        (members[m] as LecternConnection).chat(room, timedText(`u${m}`, n), `m${n}`);
      }
    }, 10);
  };

  for (let m = 0; m < size; m++) {
    const member = m;
    members.push(
      new LecternConnection(
        { id: `${room}-u${member}`, role: 'learner', rooms: [room] },
        {
          onWelcome: (c) => c.join(room),
          onJoined: () => {
            if (++joined === size) startChat();
          },
          onAck: (_c, frame) => {
            if (typeof frame.seq === 'number' && frame.room === room) ackedSeqs.push(frame.seq);
          },
          onEvent: (c, frame) => {
            if (frame.type !== 'chat_message' || frame.text !== `end:${room}`) return;
            markerSeq = frame.seq as number;
            // Everything acknowledged before the marker, minus the marker itself, must be here.
            let expected = 0;
            for (const seq of ackedSeqs) if (seq < markerSeq) expected++;
            const received = c.chatsReceived(room) - 1;
            if (received < expected) metrics.lostDeliveries.add(expected - received);
            finishMember(member, true);
          },
          onClose: (_c, expected) => {
            if (!expected) finishMember(member, false);
          },
        },
        { scenario: 'classrooms' },
      ),
    );
  }
  // Pending timers keep a k6 VU alive: the give-up timer is cancelled when every member finished.
  cancelGiveUp = after((CHAT_SECONDS + GRACE_SECONDS + size / 10) * 1000, () => {
    clearInterval(ticker);
    for (let m = 0; m < size; m++) finishMember(m, false);
  });
}
