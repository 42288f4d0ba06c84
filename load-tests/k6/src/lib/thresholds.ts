import { envNumber } from './lectern.js';

/**
 * Thresholds every messaging scenario shares: nothing lost, nothing doubled, nothing refused,
 * delivery p95/p99 within DELIVERY_P95_MS / DELIVERY_P99_MS (defaults 250 / 1000 ms).
 */
export function correctnessThresholds(): { [metric: string]: string[] } {
  return {
    lectern_seq_gaps: ['count==0'],
    lectern_duplicates: ['count==0'],
    lectern_lost_deliveries: ['count==0'],
    lectern_messages_unacked: ['count==0'],
    lectern_errors: ['count==0'],
    lectern_unexpected_closes: ['count==0'],
    lectern_connect_ok: ['rate==1'],
    lectern_join_ok: ['rate==1'],
    lectern_delivery_latency: [
      `p(95)<${envNumber('DELIVERY_P95_MS', 250)}`,
      `p(99)<${envNumber('DELIVERY_P99_MS', 1000)}`,
    ],
  };
}
