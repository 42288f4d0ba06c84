/**
 * The internal contract between gateways and room owners, carried over the bus as JSON.
 * Not part of the public wire protocol; both sides import these types so neither retypes them.
 */
import type { ErrorCode } from './errors.js';
import type { LeaveReason, NotificationData, SessionState, UserRef } from './frames.js';

/** Where a connection lives: which gateway holds the socket. */
export interface ConnectionRef {
  /** Connection id, unique across gateways (the gateway id is part of it). */
  id: string;
  /** Id of the gateway process that holds the socket (its lease name). */
  gateway: string;
}

interface CommandBase {
  room: string;
  /** Correlation id: follows the command from the gateway into the event's `meta`. */
  cid?: string;
}

export interface JoinCommand extends CommandBase {
  kind: 'join';
  connection: ConnectionRef;
  user: UserRef;
  /** Last seq the client has; asks for `missed`. */
  since?: number;
}
export interface LeaveCommand extends CommandBase {
  kind: 'leave';
  connection: ConnectionRef;
  user: UserRef;
  reason: LeaveReason;
}
export interface ChatCommand extends CommandBase {
  kind: 'chat';
  connection: ConnectionRef;
  user: UserRef;
  text: string;
  mid?: string;
}
export interface SessionUpdateCommand extends CommandBase {
  kind: 'session_update';
  connection: ConnectionRef;
  user: UserRef;
  state?: SessionState;
  data?: Record<string, unknown>;
}
export interface NotifyCommand extends CommandBase {
  kind: 'notify';
  user: UserRef;
  data: NotificationData;
}
/** A gateway stopped announcing itself: every connection it held leaves with `timeout`. */
export interface GatewayDownCommand extends CommandBase {
  kind: 'gateway_down';
  gateway: string;
}
/** Read-only: the room's projection (HTTP `GET /v1/rooms/{room}`). */
export interface InspectCommand extends CommandBase {
  kind: 'inspect';
}

export type RoomCommand =
  | JoinCommand
  | LeaveCommand
  | ChatCommand
  | SessionUpdateCommand
  | NotifyCommand
  | GatewayDownCommand
  | InspectCommand;

export type RoomCommandKind = RoomCommand['kind'];

/**
 * The owner's answer. `frame` is a pre-encoded JSON object *without its leading `{`*, for
 * the gateway to prefix with `{"type":"joined","id":...,` — so the gateway never re-encodes
 * history or missed events (they were encoded once, by the actor).
 */
export type CommandReply =
  | { ok: true; seq?: number; duplicate?: boolean; frame?: string; body?: unknown }
  | {
      ok: false;
      code: ErrorCode;
      message: string;
      retryAfterMs?: number;
      /**
       * The command was not applied because the room is changing owner (its shard is being
       * handed off, or another writer fenced it): the gateway retries it like a command that
       * found no owner, instead of passing `unavailable` on to the client.
       */
      moved?: true;
    };

/** Metadata stored with each event in the log; never sent to clients. */
export interface EventMeta {
  /** Connection that caused the event (presence fold needs it). */
  connection?: string;
  gateway?: string;
  /** Correlation id from the gateway. */
  cid?: string;
}
