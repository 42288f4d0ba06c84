import {
  DEFAULT_DEDUPE_WINDOW_MS,
  DEFAULT_HISTORY_SIZE,
  DEFAULT_JOINED_PARTICIPANTS,
  DEFAULT_PRESENCE_INTERVAL_MS,
  DEFAULT_PRESENCE_THRESHOLD,
  DEFAULT_RECOVERY_WINDOW,
} from '@lectern/protocol';

/** Every limit of the actor host in one place; `config.ts` maps the environment onto these. */
export interface RoomsOptions {
  historySize: number;
  dedupeWindowMs: number;
  /** Above this many distinct users, presence is coalesced into `presence_diff`. */
  presenceThreshold: number;
  presenceIntervalMs: number;
  /**
   * Most participants a `joined` lists (staff first); above it `participantsTruncated: true`
   * and `participantCount` tell the client, and presence events keep the count exact. Keeps a
   * 50,000-user lecture's joins small: listing everyone would cost O(users) bytes per join.
   */
  joinedParticipants: number;
  /** Most participants the HTTP projection (`inspect`) lists; the reply must also fit `maxReplyBytes`. */
  inspectParticipants: number;
  /** A resume further back than this many events gets `recovered: false`. */
  recoveryWindow: number;
  /** Committed frames kept in memory per active room to serve `missed` without the log. */
  frameRingSize: number;
  /** A snapshot is written after this many events (and at passivation). */
  snapshotEvery: number;
  /** An active room with nobody in it and no work is passivated after this long. */
  idleMs: number;
  /** Commands held while a room activates or reloads; past this, `unavailable`. */
  maxQueuedCommands: number;
  /**
   * Largest reply sent over the bus (NATS' default max_payload is 1 MiB). A `missed` list
   * that would not fit answers `recovered: false` instead.
   */
  maxReplyBytes: number;
}

export const DEFAULT_ROOMS_OPTIONS: Readonly<RoomsOptions> = Object.freeze({
  historySize: DEFAULT_HISTORY_SIZE,
  dedupeWindowMs: DEFAULT_DEDUPE_WINDOW_MS,
  presenceThreshold: DEFAULT_PRESENCE_THRESHOLD,
  presenceIntervalMs: DEFAULT_PRESENCE_INTERVAL_MS,
  joinedParticipants: DEFAULT_JOINED_PARTICIPANTS,
  inspectParticipants: 10_000,
  recoveryWindow: DEFAULT_RECOVERY_WINDOW,
  frameRingSize: 1024,
  snapshotEvery: 1000,
  idleMs: 30_000,
  maxQueuedCommands: 10_000,
  maxReplyBytes: 900 * 1024,
});
