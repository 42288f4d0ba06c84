/**
 * The rooms this gateway has local members in. For each: one bus subscription to the room's
 * committed frames, fanned out by uWS (`app.publish`, C++ fan-out, no JS per socket).
 *
 * Joining without a gap: the gateway subscribes to the room's frames *before* it sends the
 * join command, and while a join is in flight it keeps the frames that arrive. When `joined`
 * (with head `seq`) comes back, the socket gets `joined`, then the kept frames after `seq`,
 * then it is subscribed to the topic — all in one tick, so nothing falls between.
 */
import { decodeEventMessage } from '@lectern/protocol';
import type { Bus, Subscription } from '@lectern/bus';
import type { Logger } from 'pino';
import type { TemplatedApp } from './uws.js';

interface KeptFrame {
  seq: number;
  frame: Uint8Array;
}

interface RoomTopic {
  /** The room id, as the first joiner spelled it (see `acquire`). */
  room: string;
  refs: number;
  subscription: Promise<Subscription>;
  pendingJoins: number;
  kept: KeptFrame[];
  /**
   * The last seq relayed. A frame at or below it is dropped: a room's frames can come twice
   * when an actor that lost a race to another writer republishes what it found in the log
   * (room-actor.ts), and every socket must still see each seq once, in order.
   */
  lastSeq: number;
}

/** Frames kept per room while joins are in flight; past this a joiner could miss frames. */
const MAX_KEPT = 10_000;

export class RoomTopics {
  private readonly rooms = new Map<string, RoomTopic>();

  constructor(
    private readonly app: TemplatedApp,
    private readonly bus: Bus,
    private readonly logger: Logger,
    private readonly onPublish: (room: string, bytes: number, frame: Uint8Array) => void = () => undefined,
  ) {}

  /** Rooms with local members or joins in flight (the gateway's lease announces them). */
  roomIds(): IterableIterator<string> {
    return this.rooms.keys();
  }

  get size(): number {
    return this.rooms.size;
  }

  /**
   * Takes a reference on the room's frames; resolves once the bus subscription is live, with
   * the room id this gateway already holds for the room (the first joiner's string): callers
   * keep that one, so thousands of members of a room do not each keep a copy of its id.
   */
  async acquire(room: string): Promise<string> {
    let topic = this.rooms.get(room);
    if (topic === undefined) {
      const created: RoomTopic = { room, refs: 0, pendingJoins: 0, kept: [], lastSeq: 0, subscription: undefined as never };
      created.subscription = this.bus.subscribe(this.bus.subjects.events(room), (message) => {
        const { seq, frame } = decodeEventMessage(message.data);
        if (seq <= created.lastSeq) return;
        created.lastSeq = seq;
        this.app.publish(room, frame, false);
        this.onPublish(room, frame.length, frame);
        if (created.pendingJoins > 0 && created.kept.length < MAX_KEPT) {
          created.kept.push({ seq, frame: frame.slice() });
        }
      });
      topic = created;
      this.rooms.set(room, topic);
    }
    topic.refs++;
    topic.pendingJoins++;
    try {
      await topic.subscription;
    } catch (err) {
      topic.pendingJoins--;
      this.release(room);
      throw err;
    }
    return topic.room;
  }

  /**
   * Ends the in-flight join of `acquire`; returns the kept frames after `seq` (to send to the
   * joiner before it is subscribed to the topic).
   */
  endJoin(room: string, seq: number): Uint8Array[] {
    const topic = this.rooms.get(room);
    if (topic === undefined) return [];
    const after: Uint8Array[] = [];
    for (const kept of topic.kept) if (kept.seq > seq) after.push(kept.frame);
    topic.pendingJoins--;
    if (topic.pendingJoins === 0) topic.kept = [];
    return after;
  }

  /** Drops a reference; the last one unsubscribes. */
  release(room: string): void {
    const topic = this.rooms.get(room);
    if (topic === undefined) return;
    topic.refs--;
    if (topic.refs > 0) return;
    this.rooms.delete(room);
    topic.subscription.then(
      (subscription) => subscription.unsubscribe(),
      (err: unknown) => this.logger.debug({ room, err }, 'room subscription had failed'),
    );
  }
}
