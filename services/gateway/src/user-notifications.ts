/**
 * Ephemeral notifications for one user (PROTOCOL.md §5, `POST /v1/users/{user}/notifications`).
 * The HTTP API publishes the encoded `notification` frame (no `room`, no `seq`) on the user's
 * bus subject; every gateway subscribes to the subjects of the users it has sockets for and
 * hands the bytes to uWS, which delivers them to that user's local sockets (a uWS topic per
 * user). One bus subscription per user present here, dropped with their last socket.
 *
 * At most once: a socket opened while the subscription is being set up can miss a
 * notification published in that instant, as a socket that is offline misses it.
 */
import type { UserRef } from '@lectern/protocol';
import type { Bus, Subscription } from '@lectern/bus';
import type { Logger } from 'pino';
import type { GatewayObserver } from './gateway-observer.js';
import type { TemplatedApp, WebSocket } from './uws.js';

/** uWS topic of a user's sockets; `:` cannot occur in a room id, so it never meets a room topic. */
export const userTopic = (userId: string): string => `user:${userId}`;

interface Present {
  sockets: number;
  subscription: Promise<Subscription | undefined>;
}

export class UserNotifications implements GatewayObserver {
  readonly #users = new Map<string, Present>();
  #app: TemplatedApp | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly logger: Logger,
  ) {}

  /** The app to publish on; set once the gateway's app exists (its `routes` hook). */
  attach(app: TemplatedApp): void {
    this.#app = app;
  }

  /** Users with a bus subscription here (tests, metrics). */
  get size(): number {
    return this.#users.size;
  }

  /** Publishes an encoded `notification` frame to every socket of `userId`, on every gateway. */
  publish(userId: string, frame: string): void {
    this.bus.publish(this.bus.subjects.user(userId), new TextEncoder().encode(frame));
  }

  opened(ws: WebSocket<unknown>, _connectionId: string, user: UserRef): void {
    const topic = userTopic(user.id);
    ws.subscribe(topic);
    const present = this.#users.get(user.id);
    if (present !== undefined) {
      present.sockets++;
      return;
    }
    const subscription = this.bus
      .subscribe(this.bus.subjects.user(user.id), (message) => {
        this.#app?.publish(topic, message.data, false);
      })
      .catch((err: unknown) => {
        this.logger.warn({ err, user: user.id }, 'subscribing to user notifications failed');
        return undefined;
      });
    this.#users.set(user.id, { sockets: 1, subscription });
  }

  closed(_connectionId: string, user: UserRef): void {
    const present = this.#users.get(user.id);
    if (present === undefined) return;
    if (--present.sockets > 0) return;
    this.#users.delete(user.id);
    void present.subscription.then((subscription) => subscription?.unsubscribe());
  }

  frameIn(): void {}
  frameOut(): void {}
  published(): void {}
}
