/**
 * Ephemeral notifications for one user (PROTOCOL.md §5, `POST /v1/users/{user}/notifications`).
 * The HTTP API publishes the encoded `notification` frame (no `room`, no `seq`) on the user's
 * bus subject; every gateway holds ONE wildcard subscription to all users' subjects and sends
 * the bytes to that user's local sockets, which it keeps in a map (a user not connected here
 * costs one lookup).
 *
 * A map entry, not a uWS topic per user: a topic costs ~340 bytes of native memory per user
 * (the topic, its name, its subscriber set and the socket's own topic set), a map entry a few
 * dozen bytes, and notifications are too rare for uWS' C++ fan-out to matter.
 *
 * One subscription per gateway instead of one per user present: a subscription per user cost
 * several KiB of gateway memory per connection (nats.js subscription state, server interest),
 * more than the socket itself. Notifications are rare, so every gateway seeing every one is cheap.
 *
 * At most once: a socket that is not open when the notification is published misses it.
 */
import type { UserRef } from '@lectern/protocol';
import type { Bus, Subscription } from '@lectern/bus';
import type { Logger } from 'pino';
import type { GatewayObserver } from './gateway-observer.js';
import type { TemplatedApp, WebSocket } from './uws.js';

export class UserNotifications implements GatewayObserver {
  /** Each user's open sockets here: one socket as itself, more in an array. */
  readonly #sockets = new Map<string, WebSocket<unknown> | WebSocket<unknown>[]>();
  #app: TemplatedApp | undefined;
  #subscription: Promise<Subscription | undefined> | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {}

  /** Subscribes, once the gateway's app exists (its `routes` hook): delivery starts here. */
  attach(app: TemplatedApp): void {
    this.#app = app;
    this.#subscription ??= this.bus
      .subscribe(this.bus.subjects.users(), (message) => {
        if (this.#app !== undefined) this.deliver(this.bus.subjects.userOf(message.subject), message.data);
      })
      .catch((err: unknown) => {
        this.logger.warn({ err }, 'subscribing to user notifications failed');
        return undefined;
      });
  }

  /** Resolves once the wildcard subscription is live (tests). */
  async ready(): Promise<void> {
    await this.#subscription;
  }

  /** Users with a socket here (tests, metrics). */
  get size(): number {
    return this.#sockets.size;
  }

  /** Publishes an encoded `notification` frame to every socket of `userId`, on every gateway. */
  publish(userId: string, frame: string): void {
    this.bus.publish(this.bus.subjects.user(userId), new TextEncoder().encode(frame));
  }

  /** Sends `frame` to every socket of `userId` here (uWS skips a socket past its send-buffer limit). */
  private deliver(userId: string, frame: Uint8Array): void {
    const sockets = this.#sockets.get(userId);
    if (sockets === undefined) return;
    if (Array.isArray(sockets)) for (const ws of sockets) ws.send(frame, false);
    else sockets.send(frame, false);
  }

  opened(ws: WebSocket<unknown>, _connectionId: string, user: UserRef): void {
    const sockets = this.#sockets.get(user.id);
    if (sockets === undefined) this.#sockets.set(user.id, ws);
    else if (Array.isArray(sockets)) sockets.push(ws);
    else this.#sockets.set(user.id, [sockets, ws]);
  }

  closed(_connectionId: string, user: UserRef, _code: number, ws: WebSocket<unknown>): void {
    const sockets = this.#sockets.get(user.id);
    if (sockets === undefined) return;
    if (!Array.isArray(sockets)) {
      if (sockets === ws) this.#sockets.delete(user.id);
      return;
    }
    const index = sockets.indexOf(ws);
    if (index >= 0) sockets.splice(index, 1);
    if (sockets.length === 1) this.#sockets.set(user.id, sockets[0]!);
  }

  frameIn(): void {}
  frameOut(): void {}
  published(): void {}
}
