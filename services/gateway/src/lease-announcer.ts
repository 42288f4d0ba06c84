/**
 * The gateway's lease (DESIGN.md §7): every `announceMs` (2 s) it tells the rooms processes
 * on `<prefix>.gw.announce` that it is alive and which rooms it has members in. A gateway
 * silent for the lease (10 s) is declared down by the owners of those rooms, whose members on
 * it then leave with reason `timeout` (services/rooms/src/gateway-leases.ts).
 *
 * Big room lists go out in parts of at most `roomsPerMessage`, well under NATS' 1 MiB
 * payload limit. A clean stop announces `leaving` once: the gateway has left its rooms itself.
 */
import type { Bus } from '@lectern/bus';
import type { Logger } from 'pino';

export interface LeaseAnnouncer {
  /** Announces at once (e.g. after joining a first room). */
  announce(): void;
  /** Stops announcing; with `leaving`, sends the last announcement saying so. */
  stop(leaving: boolean): void;
}

const encoder = new TextEncoder();

export function startLeaseAnnouncer(
  bus: Bus,
  gatewayId: string,
  rooms: () => Iterable<string>,
  logger: Logger,
  options: { announceMs: number; roomsPerMessage?: number },
): LeaseAnnouncer {
  const perMessage = options.roomsPerMessage ?? 2000;
  const subject = bus.subjects.gatewayAnnounce();
  const publish = (body: object) => {
    try {
      bus.publish(subject, encoder.encode(JSON.stringify(body)));
    } catch (err) {
      // The bus is closed or reconnecting: the next tick tries again, the lease has slack.
      logger.debug({ err }, 'gateway announcement not sent');
    }
  };
  const announce = () => {
    let part: string[] = [];
    let sent = false;
    for (const room of rooms()) {
      part.push(room);
      if (part.length >= perMessage) {
        publish({ gateway: gatewayId, rooms: part });
        part = [];
        sent = true;
      }
    }
    if (part.length > 0 || !sent) publish({ gateway: gatewayId, rooms: part });
  };
  const timer = setInterval(announce, options.announceMs);
  timer.unref();
  announce();
  return {
    announce,
    stop(leaving) {
      clearInterval(timer);
      if (leaving) publish({ gateway: gatewayId, rooms: [], leaving: true });
    },
  };
}
