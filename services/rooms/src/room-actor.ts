/**
 * One room's actor: the only writer of its room. It decides each command on its in-memory
 * state at once (pipelining: the next command is decided while earlier events are still being
 * committed), appends the events through the group-committing event store, and only after the
 * commit publishes the frames and answers — strictly in seq order.
 *
 * If a commit fails, every uncommitted decision is dropped and answered `unavailable`, and the
 * actor reloads from the log (the log is the truth; the in-memory room is a fold of it).
 */
import {
  encodeEvent,
  encodeReply,
  encodeReplyWithTail,
  eventFields,
  decodeStoredEvent,
  type CommandReply,
  type JoinCommand,
  type RoomCommand,
  type RoomEventType,
} from '@lectern/protocol';
import { Room, type LoggedEvent, type RoomSnapshot } from '@lectern/room';
import { isVersionConflict, type EventStore, type NewEvent, type StoredEvent } from '@lectern/event-store';
import type { Logger } from 'pino';
import { FrameRing } from './frame-ring.js';
import { PresenceCoalescer } from './presence-coalescer.js';
import type { RoomsOptions } from './options.js';

export type Respond = (bytes: Uint8Array) => void;

export interface ActorEnvironment {
  store: EventStore;
  /** Publishes committed frames of a room (fromSeq..seq) to the gateways. */
  publish(room: string, fromSeq: number, seq: number, frame: string): void;
  now(): number;
  options: RoomsOptions;
  logger: Logger;
  /** An append of this room hit the `(room_id, seq)` fence: another writer has it (ownership re-checks). */
  onFenced?(room: string): void;
}

interface PendingJoin {
  command: JoinCommand;
  respond: Respond;
}

/** A decided command waiting for its events to commit, in seq order. */
interface Entry {
  respond: Respond;
  events: LoggedEvent[];
  frames: string[];
  committed: boolean;
  /** The answer to send once committed; undefined for joins, answered through a barrier. */
  answer: Uint8Array | undefined;
}

/**
 * Joins answered together once the room's committed head reaches `seq`, with the room's
 * state as of `seq` (computed when the barrier was set, when the decided head was `seq`).
 */
interface JoinBarrier {
  /** `fragment` as UTF-8, made once for all the joins of the barrier (it can be large). */
  fragmentBytes?: Uint8Array;
  seq: number;
  fragment: string;
  joins: PendingJoin[];
}

const PAGE = 1000;
const textEncoder = new TextEncoder();
const CLOSING_BRACE = textEncoder.encode('}');
const UNAVAILABLE = (message: string): Uint8Array => encodeReply({ ok: false, code: 'unavailable', message, retryAfterMs: 200 });
/** Not applied because the room is changing owner: the gateway retries these itself. */
export const movedReply = (message: string): Uint8Array =>
  encodeReply({ ok: false, code: 'unavailable', message, retryAfterMs: 200, moved: true });

export function toLoggedEvent(stored: StoredEvent): LoggedEvent {
  return {
    event: decodeStoredEvent(stored.room, stored.seq, stored.ts, stored.type as RoomEventType, stored.data),
    meta: stored.meta as LoggedEvent['meta'],
  };
}

export class RoomActor {
  private status: 'idle' | 'activating' | 'ready' | 'failed' | 'stopped' = 'idle';
  private room: Room | undefined;
  private readonly waiting: { command: RoomCommand; respond: Respond }[] = [];
  private pipeline: Entry[] = [];
  private barriers: JoinBarrier[] = [];
  private deferredJoins: PendingJoin[] = [];
  private committedSeq = 0;
  private ring: FrameRing;
  private coalescer: PresenceCoalescer | undefined;
  private snapshotSeq = 0;
  private snapshotting = false;
  private tickTimer: NodeJS.Timeout | undefined;
  /** Bumped on every reload so callbacks of a previous life are ignored. */
  private generation = 0;
  /**
   * Set by a failed commit to the last seq this actor published; the reload publishes what it
   * finds in the log after it, so no member's live stream waits for the room's next event to
   * notice a gap. A failure can leave the outcome unknown (the commit landed, then the
   * connection broke). A conflict means another writer appended: it normally publishes its
   * events too, but it may have died between its commit and its publish (a stale owner killed).
   * Gateways drop frames whose seq they already relayed, so publishing twice costs nothing.
   */
  private publishedBeforeFailure: number | undefined;
  lastActive: number;

  constructor(
    readonly id: string,
    private readonly env: ActorEnvironment,
  ) {
    this.ring = new FrameRing(env.options.frameRingSize);
    this.lastActive = env.now();
  }

  get head(): number {
    return this.committedSeq;
  }

  /** Gateways holding connections in this room (committed or decided state), for lease checks. */
  gateways(): string[] {
    return this.room?.gateways() ?? [];
  }

  handle(command: RoomCommand, respond: Respond): void {
    this.lastActive = this.env.now();
    if (this.status === 'ready') {
      this.decide(command, respond);
      return;
    }
    if (this.status === 'stopped') {
      respond(movedReply('the room is moving; retry'));
      return;
    }
    if (this.waiting.length >= this.env.options.maxQueuedCommands) {
      respond(UNAVAILABLE('the room is loading; retry'));
      return;
    }
    this.waiting.push({ command, respond });
    if (this.status === 'idle' || this.status === 'failed') void this.activate();
  }

  /** Loads snapshot + tail from the log, then runs the commands that waited. */
  async activate(): Promise<void> {
    this.status = 'activating';
    const { store, options } = this.env;
    try {
      const snapshot = await store.loadSnapshot(this.id);
      const roomOptions = { historySize: options.historySize, dedupeWindowMs: options.dedupeWindowMs };
      const room = snapshot
        ? Room.fromSnapshot(snapshot.state as RoomSnapshot, roomOptions)
        : Room.create(this.id, roomOptions);
      const ring = new FrameRing(options.frameRingSize);
      const landed: StoredEvent[] = [];
      const publishedBefore = this.publishedBeforeFailure;
      let after = room.seq;
      for (;;) {
        const page = await store.readRoom(this.id, after, PAGE);
        for (const stored of page) {
          room.apply(toLoggedEvent(stored));
          ring.push(stored.seq, stored.frame);
          if (publishedBefore !== undefined && stored.seq > publishedBefore) landed.push(stored);
        }
        if (page.length < PAGE) break;
        after = page[page.length - 1]!.seq;
      }
      if (this.status !== 'activating') return; // stopped meanwhile
      this.room = room;
      this.ring = ring;
      this.committedSeq = room.seq;
      this.snapshotSeq = snapshot?.seq ?? 0;
      this.coalescer = new PresenceCoalescer(this.id, room.userCount, options.presenceThreshold, (fromSeq, seq, frame) =>
        this.env.publish(this.id, fromSeq, seq, frame),
      );
      this.publishedBeforeFailure = undefined;
      this.status = 'ready';
      if (landed.length > 0) {
        // Commits whose outcome was unknown and that did land (their commands were answered
        // `unavailable`; a resend with the same mid is a duplicate), or another writer's: members
        // get them live.
        this.env.logger.info({ room: this.id, fromSeq: landed[0]!.seq, seq: landed.at(-1)!.seq }, 'publishing events found in the log after a failed append');
        const now = this.env.now();
        for (const stored of landed) this.coalescer.onCommitted(toLoggedEvent(stored).event, stored.frame, now);
        this.coalescer.flush(now);
      }
      this.env.logger.debug({ room: this.id, seq: room.seq, fromSnapshot: snapshot?.seq ?? 0 }, 'room activated');
    } catch (err) {
      this.status = 'failed';
      this.env.logger.warn({ room: this.id, err }, 'room activation failed');
      for (const { respond } of this.waiting.splice(0)) respond(UNAVAILABLE('the event log is unavailable; retry'));
      return;
    }
    for (const { command, respond } of this.waiting.splice(0)) {
      if (this.status !== 'ready') respond(UNAVAILABLE('the room is reloading; retry'));
      else this.decide(command, respond);
    }
  }

  private decide(command: RoomCommand, respond: Respond): void {
    const room = this.room!;
    const now = this.env.now();
    const decision = room.decide(command, now);
    if (!decision.ok) {
      this.enqueue({ respond, events: [], frames: [], committed: true, answer: encodeReply(decision) });
      return;
    }
    let answer: Uint8Array | undefined;
    if (command.kind === 'join') {
      const join = { command, respond };
      if (this.coalescer!.coalescing || room.userCount > this.env.options.presenceThreshold) {
        // Large room: answer joins together at the next presence tick, so the newcomers'
        // stream starts exactly after a diff boundary (see JoinBarrier).
        this.deferredJoins.push(join);
        this.ensureTick();
      } else {
        this.barriers.push({ seq: room.seq, fragment: this.stateFragment(), joins: [join] });
      }
    } else if (command.kind === 'inspect') {
      answer = this.inspectReply();
    } else {
      const reply: CommandReply = { ok: true, seq: decision.seq };
      if (decision.duplicate) reply.duplicate = true;
      answer = encodeReply(reply);
    }
    if (decision.events.length === 0) {
      this.enqueue({ respond, events: [], frames: [], committed: true, answer });
      return;
    }
    const frames: string[] = [];
    const rows: NewEvent[] = [];
    for (const logged of decision.events) {
      const frame = encodeEvent(logged.event);
      frames.push(frame);
      rows.push({
        seq: logged.event.seq,
        type: logged.event.type,
        ts: logged.event.ts,
        data: eventFields(logged.event),
        meta: logged.meta as Record<string, unknown>,
        frame,
      });
    }
    const entry: Entry = { respond, events: decision.events, frames, committed: false, answer };
    this.pipeline.push(entry);
    const generation = this.generation;
    this.env.store.append(this.id, rows[0]!.seq - 1, rows).then(
      () => {
        if (generation !== this.generation) return;
        entry.committed = true;
        this.drain();
      },
      (err: unknown) => {
        if (generation !== this.generation) return;
        this.fail(err);
      },
    );
  }

  private enqueue(entry: Entry): void {
    this.pipeline.push(entry);
    if (this.pipeline.length === 1) this.drain();
  }

  /** Publishes and answers every committed entry at the head of the pipeline, in order. */
  private drain(): void {
    const now = this.env.now();
    const coalescer = this.coalescer!;
    while (this.pipeline.length > 0 && this.pipeline[0]!.committed) {
      const entry = this.pipeline.shift()!;
      for (let i = 0; i < entry.events.length; i++) {
        const event = entry.events[i]!.event;
        const frame = entry.frames[i]!;
        this.committedSeq = event.seq;
        this.ring.push(event.seq, frame);
        coalescer.onCommitted(event, frame, now);
        if (this.barriers.length > 0) this.settleBarriers(now);
      }
      if (entry.answer !== undefined) entry.respond(entry.answer);
    }
    if (this.barriers.length > 0) this.settleBarriers(now);
    if (coalescer.pending) this.ensureTick();
    this.maybeSnapshot();
  }

  private settleBarriers(now: number): void {
    while (this.barriers.length > 0 && this.barriers[0]!.seq <= this.committedSeq) {
      const barrier = this.barriers.shift()!;
      // Cut any pending diff here: the newcomers' stream starts at barrier.seq + 1.
      this.coalescer!.flush(now);
      for (const join of barrier.joins) this.answerJoin(join, barrier);
    }
  }

  private ensureTick(): void {
    if (this.tickTimer !== undefined || this.status !== 'ready') return;
    this.tickTimer = setTimeout(() => this.tick(), this.env.options.presenceIntervalMs);
    this.tickTimer.unref();
  }

  private tick(): void {
    this.tickTimer = undefined;
    if (this.status !== 'ready') return;
    const now = this.env.now();
    if (this.deferredJoins.length > 0) {
      this.barriers.push({ seq: this.room!.seq, fragment: this.stateFragment(), joins: this.deferredJoins });
      this.deferredJoins = [];
    }
    if (this.barriers.length > 0) this.settleBarriers(now);
    else this.coalescer!.flush(now);
    if (this.coalescer!.pending || this.barriers.length > 0) this.ensureTick();
  }

  /**
   * The `joined` frame's room state, without braces: room, seq, participants (at most
   * `joinedParticipants`), participantCount, participantsTruncated?, session, history.
   */
  private stateFragment(): string {
    const room = this.room!;
    let history = '';
    for (const event of room.history()) history += (history === '' ? '' : ',') + encodeEvent(event);
    const count = room.userCount;
    const listed = room.listedParticipants(this.env.options.joinedParticipants);
    const truncated = listed.length < count ? ',"participantsTruncated":true' : '';
    return (
      `"room":${JSON.stringify(this.id)},"seq":${room.seq},"participants":${JSON.stringify(listed)},` +
      `"participantCount":${count}${truncated},"session":${JSON.stringify(room.session)},"history":[${history}]`
    );
  }

  /**
   * The HTTP projection: at most `inspectParticipants` participants, fewer if the reply would
   * not fit `maxReplyBytes` on the bus (ids and names can be long), with the same
   * `participantCount` / `participantsTruncated` as `joined`.
   */
  private inspectReply(): Uint8Array {
    const room = this.room!;
    const count = room.userCount;
    for (let max = this.env.options.inspectParticipants; ; max = Math.floor(max / 2)) {
      const participants = room.listedParticipants(max);
      const body: Record<string, unknown> = { room: this.id, seq: room.seq, session: room.session, participants, participantCount: count };
      if (participants.length < count) body.participantsTruncated = true;
      const reply = encodeReply({ ok: true, seq: room.seq, body });
      if (reply.byteLength <= this.env.options.maxReplyBytes || max === 0) return reply;
    }
  }

  private answerJoin(join: PendingJoin, barrier: JoinBarrier): void {
    const { seq } = barrier;
    const state = (barrier.fragmentBytes ??= textEncoder.encode(barrier.fragment));
    const since = join.command.since;
    if (since === undefined) {
      join.respond(encodeReplyWithTail({ ok: true, seq }, [state, CLOSING_BRACE]));
      return;
    }
    this.missed(since, seq).then(
      (missed) => join.respond(encodeReplyWithTail({ ok: true, seq }, [state, textEncoder.encode(`${missed}}`)])),
      (err: unknown) => {
        this.env.logger.warn({ room: this.id, err }, 'reading missed events failed');
        join.respond(UNAVAILABLE('the event log is unavailable; retry'));
      },
    );
  }


  /** `,"missed":[...],"recovered":true` when every event in (since, seq] can be sent, else `,"recovered":false`. */
  private async missed(since: number, seq: number): Promise<string> {
    const notRecovered = ',"recovered":false';
    if (since > seq || seq - since > this.env.options.recoveryWindow) return notRecovered;
    if (since === seq) return ',"missed":[],"recovered":true';
    let frames = this.ring.range(since, seq);
    if (frames === undefined) {
      frames = [];
      let after = since;
      while (after < seq) {
        const page = await this.env.store.readRoom(this.id, after, Math.min(PAGE, seq - after));
        if (page.length === 0) break;
        for (const stored of page) frames.push(stored.frame);
        after = page[page.length - 1]!.seq;
      }
      if (frames.length !== seq - since) return notRecovered;
    }
    let bytes = 0;
    for (const frame of frames) bytes += frame.length + 1;
    if (bytes > this.env.options.maxReplyBytes) return notRecovered;
    return `,"missed":[${frames.join(',')}],"recovered":true`;
  }

  private fail(err: unknown): void {
    this.generation++;
    const conflict = isVersionConflict(err);
    this.env.logger[conflict ? 'info' : 'warn'](
      { room: this.id, err, dropped: this.pipeline.length },
      conflict ? 'another writer appended to this room: reloading' : 'append failed: reloading the room',
    );
    if (conflict) this.env.onFenced?.(this.id);
    // A conflict rolled the whole flush back, so nothing answered here was applied; a failed
    // commit may or may not have landed, so those answers go to the client (mids dedupe).
    const answer = conflict ? movedReply('the room moved; retry') : UNAVAILABLE('the event log is unavailable; retry');
    // Every waiting command is answered once, in seq order. A join sits both in the pipeline
    // and in a barrier (or the deferred list, where it stays after its event committed).
    const answered = new Set<Respond>();
    const answerOnce = (respond: Respond) => {
      if (answered.has(respond)) return;
      answered.add(respond);
      respond(answer);
    };
    for (const entry of this.pipeline) answerOnce(entry.respond);
    for (const barrier of this.barriers) for (const join of barrier.joins) answerOnce(join.respond);
    for (const join of this.deferredJoins) answerOnce(join.respond);
    this.pipeline = [];
    this.barriers = [];
    this.deferredJoins = [];
    this.coalescer?.flush(this.env.now()); // what it holds is committed
    this.publishedBeforeFailure ??= this.committedSeq;
    this.room = undefined;
    if (this.status === 'stopped') return; // passivated or shutting down: the next owner reloads
    this.status = 'failed';
    // Reload now rather than at the next command, so events that landed despite the failure
    // reach the members at once. If the log is down, the next command retries the activation.
    void this.activate();
  }

  private maybeSnapshot(): void {
    if (this.snapshotting || this.pipeline.length > 0) return;
    if (this.committedSeq - this.snapshotSeq < this.env.options.snapshotEvery) return;
    void this.snapshot();
  }

  private async snapshot(): Promise<void> {
    if (this.room === undefined || this.snapshotting || this.pipeline.length > 0) return;
    this.snapshotting = true;
    const seq = this.committedSeq;
    try {
      await this.env.store.saveSnapshot({ room: this.id, seq, state: this.room.toSnapshot() });
      this.snapshotSeq = Math.max(this.snapshotSeq, seq);
    } catch (err) {
      this.env.logger.warn({ room: this.id, err }, 'saving a snapshot failed');
    } finally {
      this.snapshotting = false;
    }
  }

  /** Nobody here and nothing in flight for `idleMs`: safe to passivate. */
  isIdle(now: number): boolean {
    if (this.status === 'failed' || this.status === 'idle') return this.waiting.length === 0 && now - this.lastActive > this.env.options.idleMs;
    return (
      this.status === 'ready' &&
      this.room!.userCount === 0 &&
      this.pipeline.length === 0 &&
      this.barriers.length === 0 &&
      this.deferredJoins.length === 0 &&
      this.waiting.length === 0 &&
      now - this.lastActive > this.env.options.idleMs
    );
  }

  get busy(): boolean {
    return this.pipeline.length > 0 || this.barriers.length > 0 || this.deferredJoins.length > 0 || this.waiting.length > 0;
  }

  /**
   * Stops taking commands; writes a final snapshot when anything changed since the last
   * (unless `snapshot` is false: a lost shard lock, where another process may own the room).
   */
  async stop(options: { snapshot?: boolean } = {}): Promise<void> {
    const wasReady = this.status === 'ready';
    if (this.tickTimer !== undefined) clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
    if (wasReady) {
      this.coalescer?.flush(this.env.now());
      if ((options.snapshot ?? true) && this.pipeline.length === 0 && this.committedSeq > this.snapshotSeq) await this.snapshot();
    }
    this.status = 'stopped';
    for (const { respond } of this.waiting.splice(0)) respond(movedReply('the room is moving; retry'));
  }
}

