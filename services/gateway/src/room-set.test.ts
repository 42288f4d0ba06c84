import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { addRoom, deleteRoom, hasRoom, roomCount, roomList, type RoomSet } from './room-set.js';

describe('RoomSet', () => {
  it('holds one room as the id itself and more in a Set', () => {
    let rooms: RoomSet;
    expect(roomCount(rooms)).toBe(0);
    rooms = addRoom(rooms, 'a');
    expect(rooms).toBe('a');
    expect(addRoom(rooms, 'a')).toBe('a');
    rooms = addRoom(rooms, 'b');
    expect(rooms).toBeInstanceOf(Set);
    expect(hasRoom(rooms, 'a') && hasRoom(rooms, 'b') && !hasRoom(rooms, 'c')).toBe(true);
    expect(roomCount(rooms)).toBe(2);
    rooms = deleteRoom(rooms, 'a');
    expect(rooms).toBe('b');
    rooms = deleteRoom(rooms, 'b');
    expect(rooms).toBeUndefined();
    expect(roomList(rooms)).toEqual([]);
  });

  it('behaves like a Set under any sequence of adds and deletes', () => {
    const op = fc.record({ add: fc.boolean(), room: fc.constantFrom('a', 'b', 'c', 'd') });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        let rooms: RoomSet;
        const model = new Set<string>();
        for (const { add, room } of ops) {
          if (add) {
            rooms = addRoom(rooms, room);
            model.add(room);
          } else {
            rooms = deleteRoom(rooms, room);
            model.delete(room);
          }
          expect(roomCount(rooms)).toBe(model.size);
          expect(roomList(rooms).sort()).toEqual([...model].sort());
          for (const r of ['a', 'b', 'c', 'd']) expect(hasRoom(rooms, r)).toBe(model.has(r));
          if (model.size <= 1) expect(typeof rooms).not.toBe('object');
        }
      }),
    );
  });
});
