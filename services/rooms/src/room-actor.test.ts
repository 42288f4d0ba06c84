import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { decodeReply, type RoomCommand, type UserRef } from '@lectern/protocol';
import { VersionConflictError, type EventStore, type NewEvent, type Snapshot, type StoredEvent } from '@lectern/event-store';
import { RoomActor } from './room-actor.js';
import { DEFAULT_ROOMS_OPTIONS, type RoomsOptions } from './options.js';

/** An event store whose commits the test releases by hand, to see the pipeline at work. */
class HeldStore implements EventStore {
  readonly log: StoredEvent[] = [];
  private held: { room: string; events: readonly NewEvent[]; resolve: () => void; reject: (err: Error) => void }[] = [];
  snapshots = new Map<string, Snapshot>();
  append(room: string, _expectedSeq: number, events: readonly NewEvent[]): Promise<void> {
    return new Promise((resolve, reject) => this.held.push({ room, events, resolve, reject }));
  }
  get pending(): number {
    return this.held.length;
  }
  /** Commits every held append, in order. */
  commitAll(): void {
    for (const h of this.held.splice(0)) {
      for (const e of h.events) this.log.push({ ...e, room: h.room, position: String(this.log.length + 1) });
      h.resolve();
    }
  }
  /**
   * Writes every held append, then fails it: a commit that landed before the connection broke,
   * whose outcome the writer cannot know (StoreUnavailableError while committing).
   */
  landThenFailAll(): void {
    for (const h of this.held.splice(0)) {
      for (const e of h.events) this.log.push({ ...e, room: h.room, position: String(this.log.length + 1) });
      h.reject(new Error('connection lost while committing'));
    }
  }
  /**
   * Another writer (a stale owner) appends `events` first; every held append then hits the
   * fence. The other writer never publishes (it died between its commit and its publish).
   */
  conflictAll(room: string, events: { type: string; data: unknown }[]): void {
    for (const { type, data } of events) {
      const seq = this.log.filter((e) => e.room === room).length + 1;
      const frame = JSON.stringify({ type, room, seq, ts: 5, ...(data as object) });
      this.log.push({ room, seq, type, ts: 5, data, meta: {}, frame, position: String(this.log.length + 1) } as StoredEvent);
    }
    for (const h of this.held.splice(0)) h.reject(new VersionConflictError(h.room, 'seq already appended by another writer'));
  }
  /** Fails every held append (as the real store does for a room whose flush failed). */
  failAll(): void {
    for (const h of this.held.splice(0)) h.reject(new Error('connection lost'));
  }
  async readRoom(room: string, afterSeq: number, limit: number): Promise<StoredEvent[]> {
    return this.log.filter((e) => e.room === room && e.seq > afterSeq).slice(0, limit);
  }
  async head(room: string): Promise<number> {
    return this.log.filter((e) => e.room === room).reduce((m, e) => Math.max(m, e.seq), 0);
  }
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.snapshots.set(snapshot.room, structuredClone(snapshot));
  }
  async loadSnapshot(room: string): Promise<Snapshot | undefined> {
    return this.snapshots.get(room);
  }
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));
const user = (id: string, role: UserRef['role'] = 'learner'): UserRef => ({ id, name: id, role });
const conn = (id: string) => ({ id, gateway: 'gw1' });

function setup(options: Partial<RoomsOptions> = {}) {
  const store = new HeldStore();
  const published: { fromSeq: number; seq: number; frame: any }[] = [];
  let now = 1_000;
  const actor = new RoomActor('r1', {
    store,
    options: { ...DEFAULT_ROOMS_OPTIONS, ...options },
    logger: pino({ level: 'silent' }),
    now: () => now,
    publish: (_room, fromSeq, seq, frame) => published.push({ fromSeq, seq, frame: JSON.parse(frame) }),
  });
  const answers: { label: string; reply: any; tail?: any }[] = [];
  const send = (label: string, command: Omit<RoomCommand, 'room'>) =>
    actor.handle({ room: 'r1', ...command } as RoomCommand, (bytes) => {
      const { reply, tail } = decodeReply(bytes);
      answers.push({ label, reply, ...(tail ? { tail: JSON.parse(`{${new TextDecoder().decode(tail)}`) } : {}) });
    });
  /** User a joins on connection c1, and the join is committed and published (seq 1). */
  const joinCommitted = async () => {
    send('join', { kind: 'join', connection: conn('c1'), user: user('a') });
    await tick();
    store.commitAll();
    await tick();
  };
  return { store, actor, published, answers, send, joinCommitted, advance: (ms: number) => (now += ms) };
}

describe('RoomActor', () => {
  it('pipelines: decides while commits are in flight, answers and publishes only after commit, in seq order', async () => {
    const { store, published, answers, send } = setup();
    send('join', { kind: 'join', connection: conn('c1'), user: user('a') });
    await tick(); // activation
    send('chat1', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'one' });
    send('chat2', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'two' });
    expect(store.pending).toBe(3); // all three decided before any commit
    expect(answers).toEqual([]);
    expect(published).toEqual([]);
    store.commitAll();
    await tick();
    expect(answers.map((a) => [a.label, a.reply.seq])).toEqual([['join', 1], ['chat1', 2], ['chat2', 3]]);
    expect(published.map((p) => p.seq)).toEqual([1, 2, 3]);
    expect(answers[0]!.tail).toMatchObject({ room: 'r1', seq: 1, participants: [{ id: 'a', connections: 1 }], history: [] });
  });

  it('a failed commit answers every uncommitted command unavailable and reloads from the log', async () => {
    const { store, published, answers, send, joinCommitted } = setup();
    await joinCommitted();
    send('lost1', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'x' });
    send('lost2', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'y' });
    send('error-behind', { kind: 'leave', connection: conn('nobody'), user: user('z'), reason: 'left' });
    store.failAll();
    await tick();
    expect(answers.slice(1).map((a) => [a.label, a.reply.code])).toEqual([
      ['lost1', 'unavailable'],
      ['lost2', 'unavailable'],
      ['error-behind', 'unavailable'],
    ]);
    expect(published.map((p) => p.seq)).toEqual([1]);
    send('after', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'z' });
    await tick();
    store.commitAll();
    await tick();
    expect(answers.at(-1)).toMatchObject({ label: 'after', reply: { ok: true, seq: 2 } });
    expect(store.log.map((e) => e.seq)).toEqual([1, 2]);
  });

  it('marks as moved (the gateway retries them) only answers that were surely not applied', async () => {
    const { store, actor, answers, send, joinCommitted } = setup();
    await joinCommitted();
    // A failed commit may have landed: plain unavailable, for the client to resend with its mid.
    send('maybe', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'x' });
    store.failAll();
    await tick();
    expect(answers.at(-1)!.reply).toMatchObject({ code: 'unavailable' });
    expect(answers.at(-1)!.reply).not.toHaveProperty('moved');
    // Handed off: whatever reaches the stopped actor was not applied.
    await actor.stop();
    send('late', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'y' });
    expect(answers.at(-1)).toMatchObject({ label: 'late', reply: { code: 'unavailable', moved: true } });
  });

  it('answers a resume with the missed events from memory, and from the log once the actor was rebuilt', async () => {
    const { store, answers, send } = setup({ frameRingSize: 4 });
    send('join', { kind: 'join', connection: conn('c1'), user: user('a') });
    await tick();
    for (let i = 0; i < 6; i++) send(`m${i}`, { kind: 'chat', connection: conn('c1'), user: user('a'), text: `m${i}` });
    store.commitAll();
    await tick();
    send('resume-near', { kind: 'join', connection: conn('c2'), user: user('a'), since: 5 });
    store.commitAll();
    await tick();
    const near = answers.find((a) => a.label === 'resume-near')!;
    expect(near.tail.recovered).toBe(true);
    expect(near.tail.missed.map((e: any) => e.seq)).toEqual([6, 7, 8]);
    send('resume-far', { kind: 'join', connection: conn('c3'), user: user('b'), since: 1 });
    store.commitAll();
    await tick();
    await tick();
    const far = answers.find((a) => a.label === 'resume-far')!;
    expect(far.tail.recovered).toBe(true);
    expect(far.tail.missed.map((e: any) => e.seq)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    expect(far.tail.missed.at(-1)).toMatchObject({ type: 'user_joined', user: { id: 'b' } });
  });

  it('a resume from further back than the recovery window is not recovered', async () => {
    const { store, answers, send } = setup({ recoveryWindow: 2 });
    send('join', { kind: 'join', connection: conn('c1'), user: user('a') });
    await tick();
    for (let i = 0; i < 3; i++) send(`m${i}`, { kind: 'chat', connection: conn('c1'), user: user('a'), text: `m${i}` });
    send('resume', { kind: 'join', connection: conn('c2'), user: user('a'), since: 1 });
    store.commitAll();
    await tick();
    const resume = answers.find((a) => a.label === 'resume')!;
    expect(resume.tail.recovered).toBe(false);
    expect(resume.tail.missed).toBeUndefined();
  });

  it('in a large room answers joins together at the presence tick, at a diff boundary', async () => {
    const { store, published, answers, send } = setup({ presenceThreshold: 2, presenceIntervalMs: 20 });
    for (const id of ['a', 'b', 'c']) send(`join-${id}`, { kind: 'join', connection: conn(`c-${id}`), user: user(id) });
    await tick();
    store.commitAll();
    await tick();
    send('join-d', { kind: 'join', connection: conn('c-d'), user: user('d') });
    send('join-e', { kind: 'join', connection: conn('c-e'), user: user('e') });
    store.commitAll();
    await tick();
    expect(answers.map((a) => a.label)).not.toContain('join-d');
    await new Promise((resolve) => setTimeout(resolve, 60));
    const d = answers.find((a) => a.label === 'join-d')!;
    const e = answers.find((a) => a.label === 'join-e')!;
    expect(d.reply.seq).toBe(5);
    expect(e.reply.seq).toBe(5);
    expect(d.tail.participants.map((p: any) => p.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    const diffs = published.filter((p) => p.frame.type === 'presence_diff');
    expect(diffs.at(-1)).toMatchObject({ seq: 5 });
    // Every published frame covers a contiguous range: no gap, no overlap.
    let last = 0;
    for (const p of published) {
      expect(p.fromSeq).toBe(last + 1);
      last = p.seq;
    }
  });

  it('a join whose commit fails is answered once, unavailable', async () => {
    const { store, answers, send } = setup();
    send('join-a', { kind: 'join', connection: conn('c1'), user: user('a') });
    await tick();
    store.commitAll();
    await tick();
    send('join-b', { kind: 'join', connection: conn('c2'), user: user('b') });
    send('chat', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'x' });
    store.failAll();
    await tick();
    expect(answers.map((a) => [a.label, a.reply.ok ? 'ok' : a.reply.code])).toEqual([
      ['join-a', 'ok'],
      ['join-b', 'unavailable'],
      ['chat', 'unavailable'],
    ]);
  });

  it('events that landed despite a failed commit are published after the reload, and their mid is a duplicate', async () => {
    const { store, published, answers, send, joinCommitted } = setup();
    await joinCommitted();
    send('landed', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'x', mid: 'm1' });
    store.landThenFailAll();
    await tick();
    await tick();
    expect(answers.at(-1)).toMatchObject({ label: 'landed', reply: { ok: false, code: 'unavailable' } });
    // The reload found seq 2 in the log: members get it live, before anything after it.
    expect(published.map((p) => [p.fromSeq, p.seq, p.frame.type])).toEqual([
      [1, 1, 'user_joined'],
      [2, 2, 'chat_message'],
    ]);
    send('resend', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'x', mid: 'm1' });
    send('next', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'y', mid: 'm2' });
    store.commitAll();
    await tick();
    expect(answers.slice(-2).map((a) => [a.label, a.reply])).toEqual([
      ['resend', { ok: true, seq: 2, duplicate: true }],
      ['next', { ok: true, seq: 3 }],
    ]);
    expect(published.map((p) => p.seq)).toEqual([1, 2, 3]);
    expect(store.log.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it("another writer's events that hit this actor's append are published after the reload (the writer may have died before publishing)", async () => {
    const { store, published, answers, send, joinCommitted } = setup();
    await joinCommitted();
    send('raced', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'x', mid: 'm1' });
    store.conflictAll('r1', [{ type: 'chat_message', data: { from: user('a'), text: 'from the stale owner', mid: 'o1' } }]);
    await tick();
    await tick();
    // Nothing of this actor's flush was applied: moved, for the gateway to retry.
    expect(answers.at(-1)).toMatchObject({ label: 'raced', reply: { ok: false, code: 'unavailable', moved: true } });
    expect(published.map((p) => [p.seq, p.frame.type, p.frame.text])).toEqual([
      [1, 'user_joined', undefined],
      [2, 'chat_message', 'from the stale owner'],
    ]);
    send('retry', { kind: 'chat', connection: conn('c1'), user: user('a'), text: 'x', mid: 'm1' });
    store.commitAll();
    await tick();
    expect(answers.at(-1)).toMatchObject({ label: 'retry', reply: { ok: true, seq: 3 } });
    expect(published.map((p) => p.seq)).toEqual([1, 2, 3]);
  });
});
