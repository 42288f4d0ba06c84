/**
 * Just enough of Socket.IO 4's wire (Engine.IO v4 over a WebSocket, Socket.IO protocol v5) for
 * the harness to drive a Socket.IO server as cheaply as it drives Lectern: the socket.io-client
 * library would decode every packet into objects and events per socket, and the clients share
 * the machine's cores with the server they measure. Frames carry Lectern-shaped JSON objects
 * as their payload, so the byte scanner in client-worker.ts reads them unchanged.
 *
 *   server                              client
 *   0{"sid":…,"pingInterval":…}         (Engine.IO open)  → 40{"token":"<JWT>"}   (CONNECT with auth)
 *   40{"sid":…}                         (CONNECT ok: the harness's `welcome`)
 *   44{"message":…}                     (connect_error: the middleware refused the token)
 *   2                                   (ping)            → 3
 *   42["chat_message",{…}]              (an event)
 *   43<id>[{…}]                         (the ack of       ← 42<id>["chat_message",{…}])
 */
export type SocketIoPacket = 'open' | 'ping' | 'connected' | 'connect_error' | 'message' | 'other';

const ZERO = 48;

export class SocketIoFraming {
  /** The Engine.IO WebSocket endpoint on the server's origin (the path of `base` is ignored). */
  url(base: string): string {
    const { origin } = new URL(base);
    return `${origin}/socket.io/?EIO=4&transport=websocket`;
  }

  classify(data: Buffer): SocketIoPacket {
    const engine = data[0];
    if (engine === ZERO) return 'open';
    if (engine === ZERO + 2) return 'ping';
    if (engine !== ZERO + 4) return 'other';
    const socket = data[1];
    if (socket === ZERO) return 'connected';
    if (socket === ZERO + 4) return 'connect_error';
    if (socket === ZERO + 2 || socket === ZERO + 3) return 'message';
    return 'other';
  }

  connect(token: string): string {
    return `40${JSON.stringify({ token })}`;
  }

  pong(): string {
    return '3';
  }

  /** An event whose single argument is `json`, asking for an ack with `ackId`. */
  event(type: string, json: string, ackId: number): string {
    return `42${ackId}["${type}",${json}]`;
  }

  /** The frame object inside an event (`42[name, frame]`) or an ack (`43<id>[frame]`). */
  payload<T>(data: Buffer): T {
    const text = data.toString('utf8');
    const parsed = JSON.parse(text.slice(text.indexOf('['))) as unknown[];
    return (data[1] === ZERO + 2 ? parsed[1] : parsed[0]) as T;
  }
}
