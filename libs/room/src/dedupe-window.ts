/** One accepted chat message that carried a client `mid`. */
export interface DedupeEntry {
  user: string;
  mid: string;
  /** Seq of the original `chat_message` event: the answer to every duplicate. */
  seq: number;
  /** Ts of the original event; the window runs from here. */
  ts: number;
}

/**
 * Which `(user, mid)` pairs were accepted within the last `windowMs` (PROTOCOL.md §3), bounded
 * in memory: entries sit in a FIFO in the order they were recorded, and `expire(now)` drops
 * them from the front once they are out of the window. Each entry is queued and dropped once,
 * so the cost is O(1) amortised per message.
 *
 * Expiry only ever runs on an event's `ts` (see `evolve`), never on a command's `now`, so a
 * fold of the log rebuilds exactly the same window as the live room. Lookups do take `now`,
 * so an entry that is already out of the window but not yet expired never answers.
 *
 * If server time steps backwards the queue is no longer sorted by ts, and an entry behind a
 * newer one is dropped late; it is still dropped, and never answers outside its window.
 */
export class DedupeWindow {
  /** key → the latest entry for that key. A key reused after its window replaces the entry. */
  private readonly latest = new Map<string, DedupeEntry>();
  private queue: DedupeEntry[] = [];
  private head = 0;

  constructor(readonly windowMs: number) {}

  /** Seq of the original event if `(user, mid)` was accepted less than `windowMs` before `now`. */
  find(user: string, mid: string, now: number): number | undefined {
    const entry = this.latest.get(keyOf(user, mid));
    return entry !== undefined && now - entry.ts < this.windowMs ? entry.seq : undefined;
  }

  record(entry: DedupeEntry): void {
    this.latest.set(keyOf(entry.user, entry.mid), entry);
    this.queue.push(entry);
  }

  /** Forget every entry whose window has passed at `now`. */
  expire(now: number): void {
    const queue = this.queue;
    let head = this.head;
    while (head < queue.length) {
      const entry = queue[head]!;
      if (now - entry.ts < this.windowMs) break;
      const key = keyOf(entry.user, entry.mid);
      // Only the entry still current for its key; a newer one for the same key stays.
      if (this.latest.get(key) === entry) this.latest.delete(key);
      head++;
    }
    // Compact once the dead prefix is at least half the array: O(1) amortised.
    if (head > 64 && head * 2 >= queue.length) {
      this.queue = queue.slice(head);
      head = 0;
    }
    this.head = head;
  }

  /** Live entries in the order they were recorded (superseded ones left out). */
  entries(): DedupeEntry[] {
    const out: DedupeEntry[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const entry = this.queue[i]!;
      if (this.latest.get(keyOf(entry.user, entry.mid)) === entry) out.push({ ...entry });
    }
    return out;
  }

  get size(): number {
    return this.latest.size;
  }
}

// Length-prefixed so that no (user, mid) pair can collide with another, whatever they contain.
function keyOf(user: string, mid: string): string {
  return `${user.length}:${user}${mid}`;
}
