/**
 * Wire types of Lectern protocol version 1 (docs/protocol.md). Every frame is one JSON object
 * in a text WebSocket frame with a string `type`.
 */

/** Roles a token may carry. `service` is the platform itself. */
export type Role = 'learner' | 'instructor' | 'moderator' | 'service';
export const ROLES: readonly Role[] = ['learner', 'instructor', 'moderator', 'service'];

/** The live session's states, in lifecycle order. */
export type SessionState = 'scheduled' | 'live' | 'paused' | 'ended';
export const SESSION_STATES: readonly SessionState[] = ['scheduled', 'live', 'paused', 'ended'];

/** Why a connection left a room. */
export type LeaveReason = 'left' | 'disconnected' | 'timeout' | 'kicked';
export const LEAVE_REASONS: readonly LeaveReason[] = ['left', 'disconnected', 'timeout', 'kicked'];

/** Identity as it appears on every event; always taken from the verified token. */
export interface UserRef {
  id: string;
  name: string;
  role: Role;
}

export interface Limits {
  maxFrameBytes: number;
  maxTextChars: number;
  maxRooms: number;
  ratePerSecond: number;
  burst: number;
}

export interface Session {
  state: SessionState;
  data: Record<string, unknown>;
  /** ms since epoch of the last session change; 0 when never changed. */
  updatedAt: number;
}

export interface Participant extends UserRef {
  connections: number;
}

export type NotificationLevel = 'info' | 'success' | 'warning' | 'error';
export const NOTIFICATION_LEVELS: readonly NotificationLevel[] = ['info', 'success', 'warning', 'error'];

export interface NotificationData {
  title?: string;
  body: string;
  level?: NotificationLevel;
}

// ---------------------------------------------------------------------------------------------
// Client → server

export interface JoinRoomFrame { type: 'join_room'; id?: string; room: string; since?: number }
export interface LeaveRoomFrame { type: 'leave_room'; id?: string; room: string }
export interface ChatMessageFrame { type: 'chat_message'; id?: string; room: string; text: string; mid?: string }
export interface LiveSessionUpdateFrame {
  type: 'live_session_update';
  id?: string;
  room: string;
  state?: SessionState;
  data?: Record<string, unknown>;
}
export interface PingFrame { type: 'ping'; id?: string; ts?: number }
export interface RefreshTokenFrame { type: 'refresh_token'; id?: string; token: string }

export type ClientFrame =
  | JoinRoomFrame
  | LeaveRoomFrame
  | ChatMessageFrame
  | LiveSessionUpdateFrame
  | PingFrame
  | RefreshTokenFrame;

export type ClientFrameType = ClientFrame['type'];

// ---------------------------------------------------------------------------------------------
// Server → client: answers

export interface WelcomeFrame {
  type: 'welcome';
  connectionId: string;
  user: UserRef;
  protocol: 1;
  heartbeatMs: number;
  limits: Limits;
}
export interface JoinedFrame {
  type: 'joined';
  id?: string;
  room: string;
  seq: number;
  /**
   * Users present, with their connections. In a room with more users than the server lists
   * (`participantsTruncated`), only that many: every non-learner first, then learners, each
   * in order of arrival (docs/protocol.md §9).
   */
  participants: Participant[];
  /** Distinct users present at `seq` (Lectern always sends it; more than `participants.length` when truncated). */
  participantCount?: number;
  /** Present and `true` when `participants` lists only some of the room's users. */
  participantsTruncated?: boolean;
  session: Session;
  history: ChatMessageEvent[];
  missed?: RoomEvent[];
  recovered?: boolean;
}
export interface LeftFrame { type: 'left'; id?: string; room: string }
export interface AckFrame { type: 'ack'; id?: string; room?: string; seq?: number; duplicate?: boolean }
export interface PongFrame { type: 'pong'; id?: string; ts?: number; serverTs: number }
export interface ErrorFrame {
  type: 'error';
  id?: string;
  room?: string;
  code: string;
  message: string;
  retryAfterMs?: number;
}

// ---------------------------------------------------------------------------------------------
// Server → client: room events (the log, delivered live)

interface EventBase { room: string; seq: number; ts: number }
export interface UserJoinedEvent extends EventBase { type: 'user_joined'; user: UserRef; connections: number }
export interface UserLeftEvent extends EventBase {
  type: 'user_left';
  user: UserRef;
  connections: number;
  reason: LeaveReason;
}
export interface ChatMessageEvent extends EventBase { type: 'chat_message'; from: UserRef; text: string; mid?: string }
export interface LiveSessionUpdateEvent extends EventBase {
  type: 'live_session_update';
  from: UserRef;
  state: SessionState;
  data: Record<string, unknown>;
}
export interface NotificationEvent extends EventBase { type: 'notification'; data: NotificationData }

/** Events kept in the log. */
export type RoomEvent = UserJoinedEvent | UserLeftEvent | ChatMessageEvent | LiveSessionUpdateEvent | NotificationEvent;
export type RoomEventType = RoomEvent['type'];

/** Live-only frame that coalesces presence events of large rooms; never stored. */
export interface PresenceDiffFrame {
  type: 'presence_diff';
  room: string;
  fromSeq: number;
  seq: number;
  ts: number;
  joined: UserRef[];
  left: UserRef[];
  count: number;
}

/** Ephemeral notification for one user: no room, no seq. */
export interface UserNotificationFrame { type: 'notification'; data: NotificationData; ts: number }

export type ServerFrame =
  | WelcomeFrame
  | JoinedFrame
  | LeftFrame
  | AckFrame
  | PongFrame
  | ErrorFrame
  | RoomEvent
  | PresenceDiffFrame
  | UserNotificationFrame;
