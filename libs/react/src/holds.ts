/**
 * Reference-counted holds on a connection and on rooms, released one macrotask late.
 *
 * React 19 StrictMode mounts, unmounts and remounts every effect in development. Opening a
 * socket in the first mount and closing it in the unmount would open two sockets and send two
 * joins. A release only takes effect if nothing took the hold back before the next macrotask,
 * so the StrictMode cycle costs nothing, and a real unmount still closes and leaves.
 */
import type { LecternClient } from '@lectern/client';

interface Hold {
  count: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

const connections = new WeakMap<LecternClient, Hold>();
const rooms = new WeakMap<LecternClient, Map<string, Hold>>();

function take(hold: Hold, acquire: () => void, release: () => void): () => void {
  if (hold.timer !== undefined) {
    clearTimeout(hold.timer);
    hold.timer = undefined;
  }
  if (hold.count++ === 0) acquire();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--hold.count > 0) return;
    hold.timer = setTimeout(() => {
      hold.timer = undefined;
      if (hold.count === 0) release();
    }, 0);
  };
}

/** Connects the client while held; closes it when the last hold is released. */
export function holdConnection(client: LecternClient): () => void {
  let hold = connections.get(client);
  if (hold === undefined) connections.set(client, (hold = { count: 0, timer: undefined }));
  return take(hold, () => client.connect(), () => client.close());
}

/** Joins the room while held; leaves it when the last hold is released. */
export function holdRoom(client: LecternClient, roomId: string): () => void {
  let byRoom = rooms.get(client);
  if (byRoom === undefined) rooms.set(client, (byRoom = new Map()));
  let hold = byRoom.get(roomId);
  if (hold === undefined) byRoom.set(roomId, (hold = { count: 0, timer: undefined }));
  const room = client.room(roomId);
  return take(
    hold,
    () => room.join(),
    () => {
      void room.leave();
    },
  );
}
