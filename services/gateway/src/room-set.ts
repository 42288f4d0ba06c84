/**
 * The rooms of one connection (joined, or with a join in flight), kept as small as the common
 * case: none (`undefined`), one (the room id itself), and a `Set` only from the second room on.
 * A `Set` per connection costs ~150 bytes of hash table even when it holds one room, and most
 * connections are in one room; at 10,000 idle connections that was a sixth of the JS heap.
 *
 * Plain functions over the value, so a connection holds no extra object. Writers store the
 * returned value back (`connection.rooms = addRoom(connection.rooms, room)`).
 */
export type RoomSet = string | Set<string> | undefined;

export function hasRoom(rooms: RoomSet, room: string): boolean {
  return rooms === undefined ? false : typeof rooms === 'string' ? rooms === room : rooms.has(room);
}

export function roomCount(rooms: RoomSet): number {
  return rooms === undefined ? 0 : typeof rooms === 'string' ? 1 : rooms.size;
}

export function addRoom(rooms: RoomSet, room: string): RoomSet {
  if (rooms === undefined || rooms === room) return room;
  if (typeof rooms === 'string') return new Set([rooms, room]);
  rooms.add(room);
  return rooms;
}

export function deleteRoom(rooms: RoomSet, room: string): RoomSet {
  if (rooms === undefined || typeof rooms === 'string') return rooms === room ? undefined : rooms;
  rooms.delete(room);
  // Back to the compact forms, so a connection that was in many rooms once does not keep a Set.
  if (rooms.size > 1) return rooms;
  return rooms.size === 0 ? undefined : rooms.values().next().value;
}

/** The rooms as a list (a copy: callers may change the set while they walk it). */
export function roomList(rooms: RoomSet): string[] {
  return rooms === undefined ? [] : typeof rooms === 'string' ? [rooms] : [...rooms];
}
