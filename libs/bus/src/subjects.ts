/**
 * Subject names (DESIGN.md §1). Room ids are validated against ROOM_ID_PATTERN before they get
 * here, so they are single safe tokens.
 *
 *   <prefix>.cmd.<shard>.<room>   command to the room's owner (request/reply)
 *   <prefix>.evt.<room>           committed events of the room, as wire frames
 *   <prefix>.user.<user>          ephemeral frames for one user's connections
 *   <prefix>.gw.announce          gateway lease heartbeats
 *   <prefix>.rooms.rebalance      rooms processes nudge each other to look at the shard locks
 */
export const DEFAULT_SHARD_COUNT = 64;

/** 32-bit FNV-1a over the UTF-16 code units of the room id (room ids are ASCII). */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function shardOf(room: string, shardCount = DEFAULT_SHARD_COUNT): number {
  return fnv1a(room) % shardCount;
}

export class Subjects {
  readonly prefix: string;
  readonly shardCount: number;
  constructor(prefix = 'rt', shardCount = DEFAULT_SHARD_COUNT) {
    this.prefix = prefix;
    this.shardCount = shardCount;
  }
  command(room: string): string {
    return `${this.prefix}.cmd.${shardOf(room, this.shardCount)}.${room}`;
  }
  /** Wildcard for every command of one shard: what its owner subscribes to. */
  shardCommands(shard: number): string {
    return `${this.prefix}.cmd.${shard}.>`;
  }
  events(room: string): string {
    return `${this.prefix}.evt.${room}`;
  }
  /** A user id may contain any character; it is hex-encoded into one token. */
  user(userId: string): string {
    return `${this.prefix}.user.${Buffer.from(userId, 'utf8').toString('hex')}`;
  }
  /** Wildcard for every user's subject: what a gateway subscribes to, once. */
  users(): string {
    return `${this.prefix}.user.*`;
  }
  /** The user id of a `user(...)` subject. */
  userOf(subject: string): string {
    return Buffer.from(subject.slice(subject.lastIndexOf('.') + 1), 'hex').toString('utf8');
  }
  gatewayAnnounce(): string {
    return `${this.prefix}.gw.announce`;
  }
  roomsRebalance(): string {
    return `${this.prefix}.rooms.rebalance`;
  }
  /** The room id at the end of a command subject. */
  roomOfCommand(subject: string): string {
    return subject.slice(subject.lastIndexOf('.') + 1);
  }
}

// A token is one or more characters other than '.', whitespace and the wildcards.
const LITERAL_SUBJECT = /^[^\s.*>]+(?:\.[^\s.*>]+)*$/;
const SUBJECT_PATTERN = /^(?:[^\s.*>]+|\*)(?:\.(?:[^\s.*>]+|\*))*(?:\.>)?$|^>$/;

/**
 * Whether `subject` is a valid NATS subject: non-empty dot-separated tokens without
 * whitespace; with `wildcards`, a token may be `*` and the last token may be `>`.
 * Both implementations check with this, so a subject that works in-process works on NATS.
 */
export function isValidSubject(subject: string, wildcards: boolean): boolean {
  return (wildcards ? SUBJECT_PATTERN : LITERAL_SUBJECT).test(subject);
}
