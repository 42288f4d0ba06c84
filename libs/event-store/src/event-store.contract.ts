/**
 * The contract suite: every EventStore implementation runs these same tests, given a way to
 * open it. Tests share one database per file (a fresh PGlite costs seconds), so each test
 * works in rooms of its own and measures stats as differences.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isStoreUnavailable,
  isVersionConflict,
  type AppendStats,
  type GroupCommitEventStore as BaseStore,
  type NewEvent,
} from './event-store.js';
import type { EventLogReader } from './log-reader.js';

/** What the contract suite holds a store to: the group-commit store and its log reader. */
type GroupCommitEventStore = BaseStore & EventLogReader;

export interface EventStoreContractSetup {
  /** A migrated store on the database this file shares. Called once. */
  open(): Promise<GroupCommitEventStore>;
  /** Another store (a second writer, or one to close) on the same database. */
  openOther(): Promise<GroupCommitEventStore>;
  /** Drops what `open` made. */
  teardown?(): Promise<void>;
}

const prefix = randomBytes(3).toString('hex');
let roomCounter = 0;
const newRoom = (label: string): string => `${label}-${prefix}-${++roomCounter}`;

/** A frame with the key order and spacing a live encoder might produce; jsonb would reorder it. */
function event(room: string, seq: number, text = `hello ${seq}`): NewEvent {
  const ts = 1_700_000_000_000 + seq;
  return {
    seq,
    type: 'chat_posted',
    ts,
    data: { text, mid: `m${seq}`, nested: { z: 1, a: [1, 'two'] } },
    meta: { connection: 'c1', gateway: 'g1', correlation: `corr-${seq}` },
    frame: `{"type":"chat_posted","room":${JSON.stringify(room)},"seq":${seq},"ts":${ts},"text":${JSON.stringify(text)},"z":1,"a":0}`,
  };
}
const events = (room: string, fromSeq: number, count: number, tag?: string): NewEvent[] =>
  Array.from({ length: count }, (_, index) => event(room, fromSeq + index, tag === undefined ? undefined : `${tag} ${fromSeq + index}`));

function delta(before: AppendStats, after: AppendStats): AppendStats {
  const entries = Object.entries(after).map(([name, value]) => [name, value - before[name as keyof AppendStats]]);
  return Object.fromEntries(entries) as AppendStats;
}

/** The newest position in the log now (0 when empty): where a test's own feed starts. */
async function lastPosition(store: GroupCommitEventStore): Promise<string> {
  let after = '0';
  for (;;) {
    const page = await store.readAll(after, 10_000);
    if (page.length === 0) return after;
    after = page[page.length - 1]!.position;
  }
}

const nextMicrotasks = async (count: number): Promise<void> => {
  for (let index = 0; index < count; index += 1) await Promise.resolve();
};

export function defineEventStoreContract(name: string, setup: EventStoreContractSetup): void {
  describe(`EventStore contract: ${name}`, () => {
    let store: GroupCommitEventStore;
    let other: GroupCommitEventStore;

    beforeAll(async () => {
      store = await setup.open();
      other = await setup.openOther();
    });
    afterAll(async () => {
      await other?.close();
      await store?.close();
      await setup.teardown?.();
    });

    it('reads back what was appended, frames byte-identical, in seq order', async () => {
      const room = newRoom('roundtrip');
      const written = [...events(room, 1, 3), event(room, 4, 'ünïcödé ✓ "quoted" \\ back\nslash')];
      await store.append(room, 0, written.slice(0, 2));
      await store.append(room, 2, written.slice(2));

      const read = await store.readRoom(room, 0, 100);
      expect(read.map((stored) => stored.frame)).toEqual(written.map((e) => e.frame));
      expect(read.map(({ room: r, position: _position, ...rest }) => ({ ...rest, r }))).toEqual(
        written.map((e) => ({ ...e, r: room })),
      );
      const positions = read.map((stored) => BigInt(stored.position));
      expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : 1)));
      expect(await store.head(room)).toBe(4);
    });

    it('pages a room by afterSeq and limit, and reads nothing of other rooms', async () => {
      const room = newRoom('paging');
      await store.append(room, 0, events(room, 1, 7));
      await store.append(newRoom('paging-other'), 0, events('x', 1, 3));
      expect((await store.readRoom(room, 2, 3)).map((e) => e.seq)).toEqual([3, 4, 5]);
      expect((await store.readRoom(room, 5, 100)).map((e) => e.seq)).toEqual([6, 7]);
      expect(await store.readRoom(room, 7, 100)).toEqual([]);
      expect(await store.readRoom(newRoom('empty'), 0, 10)).toEqual([]);
    });

    it('head is 0 for an empty room', async () => {
      expect(await store.head(newRoom('empty'))).toBe(0);
    });

    it('rejects seqs that are not expectedSeq+1, +2, ... as misuse, writing nothing', async () => {
      const room = newRoom('misuse');
      const skipping = [event(room, 1), event(room, 3)];
      const wrongStart = [event(room, 2)];
      for (const call of [store.append(room, 0, skipping), store.append(room, 0, wrongStart)]) {
        const err = await call.then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(Error);
        expect(isVersionConflict(err) || isStoreUnavailable(err)).toBe(false);
      }
      expect(await store.head(room)).toBe(0);
      await store.append(room, 0, [event(room, 1)]);
      expect(await store.head(room)).toBe(1);
    });

    it('refuses an append whose expectedSeq is not in the log, so no gap can form', async () => {
      const room = newRoom('gap');
      await store.append(room, 0, events(room, 1, 2));
      const err = await store.append(room, 4, [event(room, 5)]).catch((e: unknown) => e);
      expect(isVersionConflict(err)).toBe(true);
      expect(await store.head(room)).toBe(2);
    });

    it('lets exactly one of two appends of the same seq win, the loser writing nothing', async () => {
      const room = newRoom('fence');
      const results = await Promise.allSettled([
        store.append(room, 0, events(room, 1, 3, 'first')),
        store.append(room, 0, events(room, 1, 2, 'second')),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const rejected = results.find((r) => r.status === 'rejected');
      expect(isVersionConflict(rejected?.reason)).toBe(true);
      const read = await store.readRoom(room, 0, 10);
      const winner = results[0]!.status === 'fulfilled' ? events(room, 1, 3, 'first') : events(room, 1, 2, 'second');
      expect(read.map((e) => e.frame)).toEqual(winner.map((e) => e.frame));
    });

    it('fences two writers (two stores) of one room', async () => {
      const room = newRoom('two-writers');
      await store.append(room, 0, [event(room, 1)]);
      const results = await Promise.allSettled([
        store.append(room, 1, events(room, 2, 2, 'store')),
        other.append(room, 1, events(room, 2, 3, 'other')),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.filter((r) => r.status === 'rejected' && isVersionConflict(r.reason))).toHaveLength(1);
      const seqs = (await store.readRoom(room, 0, 10)).map((e) => e.seq);
      expect(seqs).toEqual(results[0]!.status === 'fulfilled' ? [1, 2, 3] : [1, 2, 3, 4]);
    });

    it('group-commits concurrent appends: far fewer flushes, every event once, order per room kept', async () => {
      const rooms = Array.from({ length: 20 }, () => newRoom('group'));
      const before = store.stats();
      const calls: Promise<void>[] = [];
      // Ten pipelined appends per room, issued in waves so flushes overlap with new calls.
      for (let seq = 1; seq <= 10; seq += 1) {
        for (const room of rooms) calls.push(store.append(room, seq - 1, [event(room, seq)]));
        if (seq % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await Promise.all(calls);
      const used = delta(before, store.stats());
      expect(used.appends).toBe(200);
      expect(used.committedEvents).toBe(200);
      expect(used.flushes).toBeLessThanOrEqual(20);
      for (const room of rooms) {
        const read = await store.readRoom(room, 0, 100);
        expect(read.map((e) => e.frame)).toEqual(events(room, 1, 10).map((e) => e.frame));
      }
    });

    it('reports each flush to onFlush listeners', async () => {
      const reports: { appends: number; events: number }[] = [];
      const unsubscribe = store.onFlush((report) => reports.push({ appends: report.appends, events: report.events }));
      const room = newRoom('report');
      await Promise.all([store.append(room, 0, events(room, 1, 2)), store.append(room, 2, [event(room, 3)])]);
      unsubscribe();
      expect(reports).toEqual([{ appends: 2, events: 3 }]);
      expect(store.stats().lastBatchSize).toBe(3);
    });

    it('a conflict in one call of a grouped flush fails only that call', async () => {
      const contested = newRoom('contested');
      await other.append(contested, 0, [event(contested, 1, 'other')]);
      const rooms = Array.from({ length: 10 }, () => newRoom('bystander'));
      const before = store.stats();
      const results = await Promise.allSettled([
        ...rooms.slice(0, 5).map((room) => store.append(room, 0, events(room, 1, 2))),
        store.append(contested, 0, [event(contested, 1, 'store')]),
        ...rooms.slice(5).map((room) => store.append(room, 0, events(room, 1, 2))),
      ]);
      const used = delta(before, store.stats());
      expect(used.flushes).toBe(1);
      expect(used.conflicts).toBe(1);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
      expect(isVersionConflict((results[5] as PromiseRejectedResult).reason)).toBe(true);
      for (const room of rooms) expect(await store.head(room)).toBe(2);
      expect((await store.readRoom(contested, 0, 10)).map((e) => e.frame)).toEqual([event(contested, 1, 'other').frame]);
    });

    it('rejects the later calls of a room whose call failed in the same flush', async () => {
      const room = newRoom('cascade-batch');
      await other.append(room, 0, [event(room, 1, 'other')]);
      // seq 2 is free and seq 1 exists (the other writer's): writing it would fork the room.
      const results = await Promise.allSettled([
        store.append(room, 0, [event(room, 1, 'store')]),
        store.append(room, 1, [event(room, 2, 'store')]),
      ]);
      expect(results.map((r) => r.status === 'rejected' && isVersionConflict(r.reason))).toEqual([true, true]);
      expect(await store.head(room)).toBe(1);
    });

    it('rejects the queued calls of a room whose flush failed, before the next flush', async () => {
      const room = newRoom('cascade-queue');
      const bystander = newRoom('bystander');
      await other.append(room, 0, [event(room, 1, 'other')]);
      const before = store.stats();
      const first = store.append(room, 0, [event(room, 1, 'store')]);
      // The flush took `first` on the microtask after it; these two wait in the queue.
      await nextMicrotasks(2);
      const queued = store.append(room, 1, [event(room, 2, 'store')]);
      const unrelated = store.append(bystander, 0, [event(bystander, 1)]);
      const [firstErr, queuedErr] = await Promise.all([first.catch((e: unknown) => e), queued.catch((e: unknown) => e)]);
      await unrelated;
      const used = delta(before, store.stats());
      expect(isVersionConflict(firstErr)).toBe(true);
      expect(isVersionConflict(queuedErr)).toBe(true);
      expect((queuedErr as Error).cause).toBe(firstErr);
      expect(used.cascaded).toBe(1);
      expect(used.flushes).toBe(2);
      expect(await store.head(room)).toBe(1);
      expect(await store.head(bystander)).toBe(1);
    });

    it('splits a batch past the 65535-parameter limit into several statements of one transaction', async () => {
      const room = newRoom('huge');
      await store.append(room, 0, events(room, 1, 10_000));
      expect(await store.head(room)).toBe(10_000);
      const read = await store.readRoom(room, 9_995, 10);
      expect(read.map((e) => e.seq)).toEqual([9_996, 9_997, 9_998, 9_999, 10_000]);
    });

    it('property: any interleaving of two pipelining writers leaves every room gapless, no call partial', async () => {
      const plan = fc.array(
        fc.record({ writer: fc.integer({ min: 0, max: 1 }), room: fc.integer({ min: 0, max: 2 }), size: fc.integer({ min: 1, max: 3 }) }),
        { minLength: 1, maxLength: 25 },
      );
      await fc.assert(
        fc.asyncProperty(plan, async (steps) => {
          const rooms = [newRoom('prop'), newRoom('prop'), newRoom('prop')];
          const writers = [store, other];
          // Each writer pipelines on its own belief of the head, as a (possibly stale) owner would.
          const believed = [new Map<string, number>(), new Map<string, number>()];
          const calls = steps.map((step) => {
            const room = rooms[step.room]!;
            const head = believed[step.writer]!.get(room) ?? 0;
            believed[step.writer]!.set(room, head + step.size);
            const batch = events(room, head + 1, step.size, `w${step.writer}`);
            return writers[step.writer]!.append(room, head, batch).then(
              () => ({ ok: true as const, room, batch }),
              (err: unknown) => ({ ok: false as const, room, batch, err }),
            );
          });
          const outcomes = await Promise.all(calls);
          for (const outcome of outcomes) {
            if (!outcome.ok) expect(isVersionConflict(outcome.err)).toBe(true);
          }
          for (const room of rooms) {
            const log = await store.readRoom(room, 0, 1_000);
            expect(log.map((e) => e.seq)).toEqual(log.map((_, index) => index + 1));
            const frames = new Set(log.map((e) => e.frame));
            for (const outcome of outcomes.filter((o) => o.room === room)) {
              const present = outcome.batch.filter((e) => frames.has(e.frame)).length;
              expect(present).toBe(outcome.ok ? outcome.batch.length : 0);
            }
          }
        }),
        { numRuns: 20 },
      );
    });

    it('readAll: every room in position order after a position, frames byte-identical, paged by limit', async () => {
      const start = await lastPosition(store);
      const rooms = [newRoom('feed'), newRoom('feed')];
      await store.append(rooms[0]!, 0, events(rooms[0]!, 1, 3));
      await other.append(rooms[1]!, 0, events(rooms[1]!, 1, 2));
      await store.append(rooms[0]!, 3, events(rooms[0]!, 4, 1));
      const all = await store.readAll(start, 100);
      expect(all.map((e) => `${e.room}#${e.seq}`)).toEqual([
        `${rooms[0]}#1`, `${rooms[0]}#2`, `${rooms[0]}#3`, `${rooms[1]}#1`, `${rooms[1]}#2`, `${rooms[0]}#4`,
      ]);
      expect(all[0]!.frame).toBe(events(rooms[0]!, 1, 1)[0]!.frame);
      expect(all[0]).toMatchObject({ type: 'chat_posted', meta: { correlation: 'corr-1' } });
      const positions = all.map((e) => BigInt(e.position));
      expect(positions).toEqual([...positions].sort((a, b) => (a < b ? -1 : 1)));
      // Paging by the last position seen gives the same sequence, no event twice.
      const paged: string[] = [];
      let after = start;
      for (let page = await store.readAll(after, 4); page.length > 0; page = await store.readAll(after, 4)) {
        paged.push(...page.map((e) => e.position));
        after = page[page.length - 1]!.position;
      }
      expect(paged).toEqual(all.map((e) => e.position));
      expect(await store.readAll(all[5]!.position, 10)).toEqual([]);
    });

    it('allPages and roomPages stream keyset pages equal to the plain reads, honouring limit and untilSeq', async () => {
      const start = await lastPosition(store);
      const room = newRoom('pages');
      await store.append(room, 0, events(room, 1, 23));
      const pages: number[] = [];
      const seqs: number[] = [];
      for await (const page of store.roomPages(room, 2, { pageSize: 5 })) {
        pages.push(page.length);
        seqs.push(...page.map((e) => e.seq));
      }
      expect(pages).toEqual([5, 5, 5, 5, 1]);
      expect(seqs).toEqual(Array.from({ length: 21 }, (_, i) => i + 3));
      const ranged: number[] = [];
      for await (const page of store.roomPages(room, 10, { pageSize: 4, untilSeq: 15 })) ranged.push(...page.map((e) => e.seq));
      expect(ranged).toEqual([11, 12, 13, 14, 15]);
      const limited: string[] = [];
      for await (const page of store.roomPages(room, 0, { pageSize: 4, limit: 6 })) limited.push(...page.map((e) => e.frame));
      expect(limited).toEqual(events(room, 1, 6).map((e) => e.frame));
      const feed: string[] = [];
      for await (const page of store.allPages(start, { pageSize: 7 })) feed.push(...page.map((e) => e.frame));
      expect(feed).toEqual(events(room, 1, 23).map((e) => e.frame));
      // Stopping early (a client that went away) leaves the store usable.
      for await (const page of store.allPages(start, { pageSize: 2 })) {
        expect(page).toHaveLength(2);
        break;
      }
      expect(await store.head(room)).toBe(23);
    });

    it('roomLinePages and allLinePages: NDJSON of exactly those frames, in order, honouring limit and untilSeq', async () => {
      const start = await lastPosition(store);
      const room = newRoom('lines');
      // Multi-byte characters, escapes and a backslash: lines are the stored bytes, untouched.
      const written = events(room, 1, 23).map((e, i) => (i % 5 === 0 ? { ...e, frame: e.frame.replace('"z":1', `"z":"é 😀 \\" \\\\ \\n ${i}"`) } : e));
      await store.append(room, 0, written);
      const text = async (pages: AsyncGenerator<{ lines: string; count: number }, void, undefined>, counts?: number[]) => {
        let joined = '';
        for await (const page of pages) {
          joined += page.lines;
          counts?.push(page.count);
          expect(page.lines.split('\n')).toHaveLength(page.count + 1);
        }
        return joined;
      };
      const frames = (from: number, to: number) => written.slice(from - 1, to).map((e) => `${e.frame}\n`).join('');
      const counts: number[] = [];
      expect(await text(store.roomLinePages(room, 2, { pageSize: 5 }), counts)).toBe(frames(3, 23));
      expect(counts).toEqual([5, 5, 5, 5, 1]);
      expect(await text(store.roomLinePages(room, 0, { pageSize: 4 }))).toBe(frames(1, 23));
      expect(await text(store.roomLinePages(room, 10, { pageSize: 4, untilSeq: 15 }))).toBe(frames(11, 15));
      expect(await text(store.roomLinePages(room, 0, { pageSize: 4, limit: 6 }))).toBe(frames(1, 6));
      expect(await text(store.roomLinePages(room, 0, { pageSize: 100, limit: 7, untilSeq: 5 }))).toBe(frames(1, 5));
      expect(await text(store.roomLinePages(room, 23))).toBe('');
      expect(await text(store.roomLinePages(newRoom('empty'), 0))).toBe('');
      const lastSeqs: number[] = [];
      for await (const page of store.roomLinePages(room, 0, { pageSize: 10 })) lastSeqs.push(page.last);
      expect(lastSeqs).toEqual([10, 20, 23]);
      // The feed: `{"position":P,` and the frame after its brace, P as allPages gives it.
      const expected: string[] = [];
      for await (const page of store.allPages(start)) expected.push(...page.map((e) => `{"position":${e.position},${e.frame.slice(1)}\n`));
      expect(expected).toHaveLength(23);
      expect(await text(store.allLinePages(start, { pageSize: 7 }))).toBe(expected.join(''));
      expect(await text(store.allLinePages(start, { pageSize: 7, limit: 9 }))).toBe(expected.slice(0, 9).join(''));
      const feedLast: string[] = [];
      for await (const page of store.allLinePages(start, { pageSize: 10 })) feedLast.push(page.last);
      expect(feedLast).toEqual([9, 19, 22].map((i) => JSON.parse(expected[i]!).position.toString()));
      // Stopping early (a client that went away) leaves the store usable.
      for await (const page of store.roomLinePages(room, 0, { pageSize: 2 })) {
        expect(page.count).toBe(2);
        break;
      }
      expect(await store.head(room)).toBe(23);
    });

    it('the global feed passes over the positions of a rolled-back flush', async () => {
      const start = await lastPosition(store);
      const contested = newRoom('hole');
      await other.append(contested, 0, [event(contested, 1, 'other')]);
      const bystander = newRoom('hole-bystander');
      await Promise.allSettled([store.append(contested, 0, [event(contested, 1, 'store')]), store.append(bystander, 0, events(bystander, 1, 2))]);
      await store.append(bystander, 2, [event(bystander, 3)]);
      const all = await store.readAll(start, 100);
      expect(all.map((e) => `${e.room}#${e.seq}`)).toEqual([`${contested}#1`, `${bystander}#1`, `${bystander}#2`, `${bystander}#3`]);
      expect(all[0]!.frame).toBe(event(contested, 1, 'other').frame);
    });

    it('rejects a position that is not a non-negative integer', async () => {
      await expect(store.readAll('-1', 10)).rejects.toThrow(/position/);
      await expect(store.readAll('1e3', 10)).rejects.toThrow(/position/);
      await expect(store.readAll(0, 0)).rejects.toThrow(/limit/);
    });

    it('keeps the newest snapshot of a room', async () => {
      const room = newRoom('snapshot');
      expect(await store.loadSnapshot(room)).toBeUndefined();
      await store.saveSnapshot({ room, seq: 5, state: { participants: ['a'], session: 'live' } });
      expect(await store.loadSnapshot(room)).toEqual({ room, seq: 5, state: { participants: ['a'], session: 'live' } });
      await store.saveSnapshot({ room, seq: 9, state: { participants: [], session: 'ended' } });
      await store.saveSnapshot({ room, seq: 7, state: { stale: true } });
      expect(await store.loadSnapshot(room)).toEqual({ room, seq: 9, state: { participants: [], session: 'ended' } });
    });

    it('pings', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });

    it('settles queued appends on close, and refuses appends after it', async () => {
      const closing = await setup.openOther();
      const room = newRoom('close');
      const pending = [closing.append(room, 0, [event(room, 1)]), closing.append(room, 1, [event(room, 2)])];
      await closing.close();
      await Promise.all(pending);
      const err = await closing.append(room, 2, [event(room, 3)]).catch((e: unknown) => e);
      expect(isStoreUnavailable(err)).toBe(true);
      expect(await store.head(room)).toBe(2);
    });
  });
}
