/**
 * Keeps large rooms usable (PROTOCOL.md §5): above the threshold, committed join/leave events
 * are not published one by one but folded into one `presence_diff` per interval. The log
 * still holds every event; only the live stream is coalesced.
 *
 * Invariants the gateway and clients rely on:
 * - A diff covers fromSeq..seq, and every seq in it is a presence event.
 * - A pending diff is flushed before any other event is published, so order is kept.
 * - `flush()` can be called at any seq boundary (the actor cuts diffs where it answers joins).
 */
import { encodePresenceDiff, type RoomEvent, type UserRef } from '@lectern/protocol';

export type PublishFn = (fromSeq: number, seq: number, frame: string) => void;

interface Change {
  user: UserRef;
  presentBefore: boolean;
  presentAfter: boolean;
}

export class PresenceCoalescer {
  /** Distinct users present as of the last committed event. */
  private count: number;
  private fromSeq = 0;
  private toSeq = 0;
  private changes = new Map<string, Change>();

  constructor(
    private readonly room: string,
    initialCount: number,
    private readonly threshold: number,
    private readonly publish: PublishFn,
  ) {
    this.count = initialCount;
  }

  /** Whether presence is coalesced now (more users than the threshold). */
  get coalescing(): boolean {
    return this.count > this.threshold;
  }

  get userCount(): number {
    return this.count;
  }

  get pending(): boolean {
    return this.toSeq !== 0;
  }

  /** Called for every committed event, in seq order, with its encoded frame. */
  onCommitted(event: RoomEvent, frame: string, now: number): void {
    if (event.type === 'user_joined' || event.type === 'user_left') {
      const joined = event.type === 'user_joined';
      const before = joined ? event.connections - 1 > 0 : event.connections + 1 > 0;
      const after = event.connections > 0;
      const wasCoalescing = this.coalescing || this.pending;
      if (!before && after) this.count++;
      else if (before && !after) this.count--;
      if (wasCoalescing) {
        this.add(event.seq, event.user, before, after);
        // Once the room has shrunk below the threshold, stop holding presence back.
        if (!this.coalescing) this.flush(now);
        return;
      }
      this.publish(event.seq, event.seq, frame);
      return;
    }
    this.flush(now);
    this.publish(event.seq, event.seq, frame);
  }

  private add(seq: number, user: UserRef, before: boolean, after: boolean): void {
    if (this.toSeq === 0) this.fromSeq = seq;
    this.toSeq = seq;
    const change = this.changes.get(user.id);
    if (change === undefined) this.changes.set(user.id, { user, presentBefore: before, presentAfter: after });
    else change.presentAfter = after;
  }

  /** Publishes the pending diff, if any. */
  flush(now: number): void {
    if (this.toSeq === 0) return;
    const joined: UserRef[] = [];
    const left: UserRef[] = [];
    for (const change of this.changes.values()) {
      if (!change.presentBefore && change.presentAfter) joined.push(change.user);
      else if (change.presentBefore && !change.presentAfter) left.push(change.user);
    }
    const frame = encodePresenceDiff({
      type: 'presence_diff',
      room: this.room,
      fromSeq: this.fromSeq,
      seq: this.toSeq,
      ts: now,
      joined,
      left,
      count: this.count,
    });
    const fromSeq = this.fromSeq;
    const toSeq = this.toSeq;
    this.fromSeq = 0;
    this.toSeq = 0;
    this.changes = new Map();
    this.publish(fromSeq, toSeq, frame);
  }
}
