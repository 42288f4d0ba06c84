/**
 * What the gateway reports as it works, for metrics, connection logs and per-user delivery.
 * Every call is synchronous and must be cheap: it runs on the socket's hot path.
 */
import type { UserRef } from '@lectern/protocol';
import type { WebSocket } from './uws.js';

export interface GatewayObserver {
  /** A socket opened (after `welcome` was queued). */
  opened(ws: WebSocket<unknown>, connectionId: string, user: UserRef): void;
  /** A socket closed, with the close code uWS reports (`ws` is usable until this returns). */
  closed(connectionId: string, user: UserRef, code: number, ws: WebSocket<unknown>): void;
  /** A client frame passed validation (`type`), or was refused (`invalid`). */
  frameIn(type: string): void;
  /** A frame was queued for one socket (any server frame, encoded). */
  frameOut(data: string | Uint8Array): void;
  /** A committed room frame was fanned out by uWS to `subscribers` local sockets. */
  published(room: string, frame: Uint8Array, subscribers: number): void;
}
