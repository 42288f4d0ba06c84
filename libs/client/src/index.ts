/**
 * @lectern/client: the client SDK of Lectern for browsers and Node.
 *
 *     const client = new LecternClient({ url: 'ws://localhost:5000/ws', getToken });
 *     client.connect();
 *     const room = client.room('session_42');
 *     room.join();
 *     room.subscribe(() => render(room.getSnapshot()));
 *     await room.sendChat('hello');
 */
export {
  LecternClient,
  CLIENT_DROP_CODE,
  DEFAULT_CLIENT_OPTIONS,
  tokenExpiry,
  type AnswerOf,
  type ClientEvents,
  type ConnectionState,
  type ConnectionStatus,
  type LecternClientOptions,
  type TokenRequest,
  type WebSocketConstructor,
  type WebSocketLike,
} from './client.js';
export { Room, type PendingMessage, type RoomSnapshot, type RoomStatus } from './room.js';
export { RoomState, DEFAULT_ROOM_STATE_OPTIONS, type ApplyResult, type ChatEntry, type RoomStateOptions } from './room-state.js';
export { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';
export { systemClock, type Clock } from './clock.js';
export { LecternClientError, isLecternClientError, isRetryableCode, type ClientErrorCode } from './errors.js';
export type { Listener } from './emitter.js';
export type {
  AckFrame,
  ChatMessageEvent,
  ClientFrame,
  ErrorFrame,
  JoinedFrame,
  LeftFrame,
  Limits,
  LiveSessionUpdateEvent,
  NotificationData,
  NotificationEvent,
  Participant,
  PongFrame,
  PresenceDiffFrame,
  Role,
  RoomEvent,
  ServerFrame,
  Session,
  SessionState,
  UserJoinedEvent,
  UserLeftEvent,
  UserNotificationFrame,
  UserRef,
  WelcomeFrame,
} from '@lectern/protocol';
