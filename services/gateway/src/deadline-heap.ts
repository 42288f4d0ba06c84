/**
 * Deadlines of many items behind one timer: a binary min-heap that keeps each item's slot in
 * the item itself, so moving (a refreshed token) or removing (a closed socket) one is
 * O(log n) and leaves nothing behind.
 *
 * The gateway closes each socket when its token expires (PROTOCOL.md §1). A `setTimeout` per
 * socket costs a Timeout object, a closure and its context (~200 bytes) for as long as the
 * socket lives; this heap costs one array slot and two number fields per socket, and the
 * gateway arms a single timer for the earliest deadline. Time is passed in, so it is pure.
 */

/** What the heap keeps on each item: when it is due, and where it sits (-1: not in the heap). */
export interface HasDeadline {
  deadlineAt: number;
  heapIndex: number;
}

export class DeadlineHeap<T extends HasDeadline> {
  private readonly items: T[] = [];

  get size(): number {
    return this.items.length;
  }

  /** The earliest deadline, or undefined when the heap is empty. */
  earliest(): number | undefined {
    return this.items[0]?.deadlineAt;
  }

  /** Puts `item` in the heap due at `at`, or moves it there if it is already in. */
  schedule(item: T, at: number): void {
    if (item.heapIndex >= 0 && this.items[item.heapIndex] === item) {
      const before = item.deadlineAt;
      item.deadlineAt = at;
      if (at < before) this.up(item.heapIndex);
      else this.down(item.heapIndex);
      return;
    }
    item.deadlineAt = at;
    item.heapIndex = this.items.length;
    this.items.push(item);
    this.up(item.heapIndex);
  }

  /** Takes `item` out of the heap; does nothing when it is not in it. */
  remove(item: T): void {
    const index = item.heapIndex;
    if (index < 0 || this.items[index] !== item) return;
    item.heapIndex = -1;
    const last = this.items.pop()!;
    if (last === item) return;
    this.items[index] = last;
    last.heapIndex = index;
    this.up(index);
    this.down(last.heapIndex);
  }

  /** Removes and returns the earliest item if it is due (`deadlineAt <= now`). */
  popDue(now: number): T | undefined {
    const first = this.items[0];
    if (first === undefined || first.deadlineAt > now) return undefined;
    this.remove(first);
    return first;
  }

  private up(index: number): void {
    const { items } = this;
    const item = items[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex]!;
      if (parent.deadlineAt <= item.deadlineAt) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  private down(index: number): void {
    const { items } = this;
    const count = items.length;
    const item = items[index]!;
    for (;;) {
      let child = 2 * index + 1;
      if (child >= count) break;
      if (child + 1 < count && items[child + 1]!.deadlineAt < items[child]!.deadlineAt) child++;
      const smaller = items[child]!;
      if (smaller.deadlineAt >= item.deadlineAt) break;
      items[index] = smaller;
      smaller.heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
