/**
 * Ephemeral notifications for one user (PROTOCOL.md §5, `POST /v1/users/{user}/notifications`).
 * The HTTP API publishes the encoded `notification` frame (no `room`, no `seq`) on the user's
 * bus subject; every gateway holds ONE wildcard subscription to all users' subjects and hands
 * the bytes to uWS, which delivers them to that user's local sockets (a uWS topic per user;
 * publishing to a topic nobody here subscribes to costs next to nothing).
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

/** uWS topic of a user's sockets; `:` cannot occur in a room id, so it never meets a room topic. */
export const userTopic = (userId: string): string => `user:${userId}`;

export class UserNotifications implements GatewayObserver {
  readonly #sockets = new Map<string, number>();
  #app: TemplatedApp | undefined;
  #subscription: Promise<Subscription | undefined> | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {}

  /** The app to publish on; set once the gateway's app exists (its `routes` hook). Subscribes. */
  attach(app: TemplatedApp): void {
    this.#app = app;
    this.#subscription ??= this.bus
      .subscribe(this.bus.subjects.users(), (message) => {
        this.#app?.publish(userTopic(this.bus.subjects.userOf(message.subject)), message.data, false);
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

  opened(ws: WebSocket<unknown>, _connectionId: string, user: UserRef): void {
    ws.subscribe(userTopic(user.id));
    this.#sockets.set(user.id, (this.#sockets.get(user.id) ?? 0) + 1);
  }

  closed(_connectionId: string, user: UserRef): void {
    const sockets = this.#sockets.get(user.id);
    if (sockets === undefined) return;
    if (sockets > 1) this.#sockets.set(user.id, sockets - 1);
    else this.#sockets.delete(user.id);
  }

  frameIn(): void {}
  frameOut(): void {}
  published(): void {}
}
