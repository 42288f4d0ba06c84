import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DeadlineHeap } from './deadline-heap.js';

interface Item {
  name: string;
  deadlineAt: number;
  heapIndex: number;
}
const item = (name: string): Item => ({ name, deadlineAt: 0, heapIndex: -1 });

function drain(heap: DeadlineHeap<Item>, now: number): string[] {
  const due: string[] = [];
  for (let next = heap.popDue(now); next !== undefined; next = heap.popDue(now)) due.push(next.name);
  return due;
}

describe('DeadlineHeap', () => {
  it('gives items back earliest first, only once they are due', () => {
    const heap = new DeadlineHeap<Item>();
    heap.schedule(item('c'), 30);
    heap.schedule(item('a'), 10);
    heap.schedule(item('b'), 20);
    expect(heap.earliest()).toBe(10);
    expect(drain(heap, 5)).toEqual([]);
    expect(drain(heap, 20)).toEqual(['a', 'b']);
    expect(heap.earliest()).toBe(30);
    expect(drain(heap, 100)).toEqual(['c']);
    expect(heap.size).toBe(0);
    expect(heap.earliest()).toBeUndefined();
  });

  it('moves an item that is scheduled again (a refreshed token), keeping one entry', () => {
    const heap = new DeadlineHeap<Item>();
    const a = item('a');
    const b = item('b');
    heap.schedule(a, 10);
    heap.schedule(b, 20);
    heap.schedule(a, 30);
    expect(heap.size).toBe(2);
    expect(drain(heap, 25)).toEqual(['b']);
    heap.schedule(a, 5);
    expect(drain(heap, 5)).toEqual(['a']);
  });

  it('forgets a removed item (a closed socket) and ignores removing one twice', () => {
    const heap = new DeadlineHeap<Item>();
    const a = item('a');
    heap.schedule(a, 10);
    heap.schedule(item('b'), 20);
    heap.remove(a);
    heap.remove(a);
    expect(a.heapIndex).toBe(-1);
    expect(drain(heap, 100)).toEqual(['b']);
  });

  it('agrees with a sorted list under any mix of schedule, remove and pop', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('schedule' as const), item: fc.nat(19), at: fc.nat(1000) }),
      fc.record({ kind: fc.constant('remove' as const), item: fc.nat(19) }),
      fc.record({ kind: fc.constant('pop' as const), now: fc.nat(1000) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const heap = new DeadlineHeap<Item>();
        const items = Array.from({ length: 20 }, (_, i) => item(String(i)));
        const model = new Map<Item, number>();
        for (const o of ops) {
          if (o.kind === 'schedule') {
            heap.schedule(items[o.item]!, o.at);
            model.set(items[o.item]!, o.at);
          } else if (o.kind === 'remove') {
            heap.remove(items[o.item]!);
            model.delete(items[o.item]!);
          } else {
            const popped = heap.popDue(o.now);
            const earliest = Math.min(...model.values());
            if (popped === undefined) {
              expect(model.size === 0 || earliest > o.now).toBe(true);
            } else {
              expect(popped.deadlineAt).toBe(earliest);
              expect(popped.deadlineAt).toBeLessThanOrEqual(o.now);
              model.delete(popped);
            }
          }
          expect(heap.size).toBe(model.size);
          expect(heap.earliest()).toBe(model.size === 0 ? undefined : Math.min(...model.values()));
        }
      }),
    );
  });
});
