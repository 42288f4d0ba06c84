/**
 * connect_ramp: connection attempts per second ramp from START_RATE to PEAK_RATE over
 * RAMP_SECONDS (k6's ramping-arrival-rate), every connection joins a room of ROOM_SIZE and
 * stays open until the end, so the open count grows to about (START_RATE + PEAK_RATE) / 2 ×
 * RAMP_SECONDS. Connect latency and failures are reported per BUCKET connections (tags
 * `bucket:0`, `bucket:1000`, …) so the summary shows how they change as the count grows.
 *
 *   k6 run -e LECTERN_URL=ws://127.0.0.1:5000/ws -e JWT_SECRET=... load-tests/k6/dist/connect_ramp.js
 *
 * `dropped_iterations` above 0 means k6 had no free VU for an arrival: the client, not the
 * server, limited the rate (raise MAX_VUS or run k6 on more machines).
 */
import exec from 'k6/execution';
import type { Options } from 'k6/options';
import { after, envNumber, LecternConnection, runPrefix } from './lib/lectern.js';

const START_RATE = envNumber('START_RATE', 10);
const PEAK_RATE = envNumber('PEAK_RATE', 200);
const RAMP_SECONDS = envNumber('RAMP_SECONDS', 60);
/** Connections stay open this long after the ramp ended, then all close. */
const HOLD_SECONDS = envNumber('HOLD_SECONDS', 10);
const ROOM_SIZE = envNumber('ROOM_SIZE', 50);
const BUCKET = envNumber('BUCKET', 1000);
const EXPECTED = Math.ceil(((START_RATE + PEAK_RATE) / 2) * RAMP_SECONDS);
const MAX_VUS = envNumber('MAX_VUS', Math.ceil(EXPECTED * 1.1) + 10);

const thresholds: { [metric: string]: string[] } = {
  lectern_connect_ok: [`rate>=${envNumber('CONNECT_OK_RATE', 0.999)}`],
  lectern_join_ok: [`rate>=${envNumber('CONNECT_OK_RATE', 0.999)}`],
  lectern_connect_latency: [`p(95)<${envNumber('CONNECT_P95_MS', 1000)}`],
  lectern_join_latency: [`p(95)<${envNumber('JOIN_P95_MS', 1000)}`],
  lectern_unexpected_closes: ['count==0'],
  dropped_iterations: ['count==0'],
};
// One sub-metric per bucket of connections: they print in the summary, in order of the count.
for (let from = 0; from < EXPECTED; from += BUCKET) {
  thresholds[`lectern_connect_latency{bucket:${from}}`] = [`p(95)<${envNumber('CONNECT_P95_MS', 1000)}`];
  thresholds[`lectern_connect_ok{bucket:${from}}`] = [`rate>=${envNumber('CONNECT_OK_RATE', 0.999)}`];
}

export const options: Options = {
  scenarios: {
    connect_ramp: {
      executor: 'ramping-arrival-rate',
      startRate: START_RATE,
      timeUnit: '1s',
      preAllocatedVUs: MAX_VUS,
      maxVUs: MAX_VUS,
      stages: [{ target: PEAK_RATE, duration: `${RAMP_SECONDS}s` }],
      gracefulStop: `${HOLD_SECONDS + 30}s`,
    },
  },
  thresholds,
};

export function setup(): { prefix: string; endAt: number } {
  return { prefix: runPrefix('ramp'), endAt: Date.now() + (RAMP_SECONDS + HOLD_SECONDS) * 1000 };
}

export default function (data: { prefix: string; endAt: number }): void {
  const index = exec.scenario.iterationInTest;
  const bucket = String(Math.floor(index / BUCKET) * BUCKET);
  const room = `${data.prefix}-r${Math.floor(index / ROOM_SIZE)}`;
  let cancel = (): void => undefined;
  const connection = new LecternConnection(
    { id: `${data.prefix}-u${index}`, role: 'learner', rooms: [`${data.prefix}-*`] },
    {
      onWelcome: (c) => c.join(room),
      onClose: (_c, expected) => {
        if (!expected) cancel();
      },
    },
    { bucket },
  );
  // Held until the end of the run, so the count of open connections grows with the ramp.
  cancel = after(Math.max(0, data.endAt - Date.now()), () => connection.close());
}
