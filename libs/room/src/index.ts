export { DEFAULT_ROOM_OPTIONS, type RoomOptions } from './options.js';
export type { Decision, LoggedEvent } from './events.js';
export type { RoomSnapshot, SnapshotConnection } from './snapshot.js';
export type { DedupeEntry } from './dedupe-window.js';
export { Room, fold } from './room.js';
