/**
 * One structured log line per connection open and close (DESIGN.md §9). Errors are logged
 * where they happen, with the command's correlation id (`cid`, see metered-bus.ts).
 */
import type { UserRef } from '@lectern/protocol';
import type { Logger } from 'pino';
import type { GatewayObserver } from './gateway-observer.js';
import type { WebSocket } from './uws.js';

export function connectionLog(logger: Logger): GatewayObserver {
  const openedAt = new Map<string, number>();
  return {
    opened(_ws: WebSocket<unknown>, connectionId: string, user: UserRef) {
      openedAt.set(connectionId, Date.now());
      logger.info({ connection: connectionId, user: user.id, role: user.role }, 'connection open');
    },
    closed(connectionId: string, user: UserRef, code: number) {
      const since = openedAt.get(connectionId);
      openedAt.delete(connectionId);
      logger.info({ connection: connectionId, user: user.id, code, durationMs: since === undefined ? undefined : Date.now() - since }, 'connection closed');
    },
    frameIn() {},
    frameOut() {},
    published() {},
  };
}
