#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import uWS from '@trufflesuite/uws-js-unofficial';
import { verifyHs256 } from '../jwt.js';

/**
 * The bare uWebSockets.js reference: the subset of PROTOCOL.md the harness speaks, with no
 * bus, no actor and no log. It is what the harness is tested against, and the ceiling one
 * Node process reaches on the same message path, so Lectern's figures can be read against it.
 *
 * Spoken: JWT in `?token=` checked at upgrade (401 otherwise), `welcome` first, `join_room` →
 * `joined`, `chat_message` → `ack` {seq} then the `chat_message` event published to the room's
 * topic (C++ fan-out, the sender included, like Lectern's gateway), `ping` → `pong`,
 * `GET /healthz`. Rooms are only a seq counter and a member list; nothing is kept.
 *
 * Presence the naive way, as most apps on a bare pub/sub do it: every join publishes a
 * `user_joined` to the room and every close a `user_left` (each with its seq), and `joined`
 * lists the participants. A storm of N joins therefore sends about N²/2 presence frames,
 * which is what the presence storm workload (W4) compares Lectern's coalescing against.
 */

export interface ReferenceServer {
  port: number;
  close(): void;
}

interface Session {
  id: string;
  name: string;
  role: string;
  rooms: string[];
}

interface Room {
  seq: number;
  /** Connections per user id. */
  members: Map<string, { user: { id: string; name: string; role: string }; connections: number }>;
}

const encoder = new TextDecoder();

function participantsOf(room: Room) {
  return [...room.members.values()].map(({ user, connections }) => ({ ...user, connections }));
}

export function startReferenceServer(options: { port?: number; secret: string; host?: string }): Promise<ReferenceServer> {
  const rooms = new Map<string, Room>();
  const roomOf = (id: string): Room => {
    let room = rooms.get(id);
    if (!room) rooms.set(id, (room = { seq: 0, members: new Map() }));
    return room;
  };
  let connectionCount = 0;
  const app = uWS.App();
  app.get('/healthz', (res) => {
    res.end('ok');
  });
  app.ws<Session>('/ws', {
    maxPayloadLength: 16 * 1024,
    idleTimeout: 60,
    // A lecture's fan-out can run ahead of a slow client for a moment; drop nothing in the reference.
    maxBackpressure: 16 * 1024 * 1024,
    upgrade: (res, req, context) => {
      const token = req.getQuery('token') ?? '';
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const claims = verifyHs256(token, options.secret);
      if (!claims) {
        res.writeStatus('401 Unauthorized').writeHeader('content-type', 'application/json')
          .end('{"error":{"code":"unauthorized","message":"missing or invalid token"}}');
        return;
      }
      res.upgrade<Session>(
        { id: claims.sub, name: claims.name ?? claims.sub, role: claims.role ?? 'learner', rooms: [] },
        key,
        protocol,
        extensions,
        context,
      );
    },
    open: (ws) => {
      const { id, name, role } = ws.getUserData();
      ws.send(JSON.stringify({
        type: 'welcome',
        connectionId: `c${++connectionCount}`,
        user: { id, name, role },
        protocol: 1,
        heartbeatMs: 30_000,
        limits: { maxFrameBytes: 16 * 1024, maxTextChars: 2000, maxRooms: 50, ratePerSecond: 20, burst: 40 },
      }));
    },
    message: (ws, message, isBinary) => {
      if (isBinary) {
        ws.end(1008, 'binary frames are not accepted');
        return;
      }
      let frame: { type?: unknown; id?: unknown; room?: unknown; text?: unknown; mid?: unknown; ts?: unknown };
      try {
        frame = JSON.parse(encoder.decode(message)) as typeof frame;
      } catch {
        ws.send('{"type":"error","code":"bad_request","message":"frames are JSON objects"}');
        return;
      }
      const id = typeof frame.id === 'string' ? frame.id : undefined;
      const room = typeof frame.room === 'string' ? frame.room : '';
      switch (frame.type) {
        case 'join_room': {
          if (!/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(room)) {
            ws.send(JSON.stringify({ type: 'error', id, code: 'bad_request', message: 'bad room id' }));
            return;
          }
          const session = ws.getUserData();
          const state = roomOf(room);
          if (ws.isSubscribed(room)) {
            ws.send(JSON.stringify({ type: 'joined', id, room, seq: state.seq, participants: participantsOf(state), session: { state: 'live', data: {}, updatedAt: 0 }, history: [] }));
            return;
          }
          ws.subscribe(room);
          session.rooms.push(room);
          const user = { id: session.id, name: session.name, role: session.role };
          const member = state.members.get(user.id) ?? { user, connections: 0 };
          member.connections++;
          state.members.set(user.id, member);
          const seq = ++state.seq;
          ws.send(JSON.stringify({ type: 'joined', id, room, seq, participants: participantsOf(state), session: { state: 'live', data: {}, updatedAt: 0 }, history: [] }));
          // Everyone else in the room (ws.publish skips the sender), one frame per join.
          ws.publish(room, JSON.stringify({ type: 'user_joined', room, seq, ts: Date.now(), user, connections: member.connections }));
          return;
        }
        case 'chat_message': {
          if (!ws.isSubscribed(room)) {
            ws.send(JSON.stringify({ type: 'error', id, room, code: 'not_joined', message: 'join the room first' }));
            return;
          }
          const seq = ++roomOf(room).seq;
          ws.send(JSON.stringify({ type: 'ack', id, room, seq }));
          const user = ws.getUserData();
          app.publish(room, JSON.stringify({
            type: 'chat_message', room, seq, ts: Date.now(),
            from: { id: user.id, name: user.name, role: user.role },
            text: frame.text, ...(typeof frame.mid === 'string' ? { mid: frame.mid } : {}),
          }));
          return;
        }
        case 'ping':
          ws.send(JSON.stringify({ type: 'pong', id, ts: frame.ts, serverTs: Date.now() }));
          return;
        default:
          ws.send(JSON.stringify({ type: 'error', id, code: 'unknown_type', message: 'not spoken by the reference server' }));
      }
    },
    close: (ws) => {
      const session = ws.getUserData();
      const user = { id: session.id, name: session.name, role: session.role };
      for (const room of session.rooms) {
        const state = rooms.get(room);
        const member = state?.members.get(user.id);
        if (!state || !member) continue;
        if (--member.connections === 0) state.members.delete(user.id);
        const seq = ++state.seq;
        // The closed socket is already unsubscribed: app.publish reaches the others.
        app.publish(room, JSON.stringify({ type: 'user_left', room, seq, ts: Date.now(), user, connections: member.connections, reason: 'disconnected' }));
        if (state.members.size === 0) rooms.delete(room);
      }
    },
  });

  return new Promise((resolve, reject) => {
    app.listen(options.host ?? '127.0.0.1', options.port ?? 0, (listenSocket) => {
      if (!listenSocket) {
        reject(new Error(`the reference server could not listen on port ${options.port ?? 0}`));
        return;
      }
      resolve({
        port: uWS.us_socket_local_port(listenSocket),
        close: () => {
          uWS.us_listen_socket_close(listenSocket);
          // close() (which also ends open sockets) exists at runtime in 20.30 but not in its typings.
          (app as unknown as { close?: () => void }).close?.();
        },
      });
    });
  });
}

const invokedDirectly = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();
if (invokedDirectly) {
  const secret = process.env.JWT_SECRET;
  if (!secret) {
    console.error('JWT_SECRET is not set: set it to the secret the bench signs tokens with');
    process.exit(64);
  }
  const server = await startReferenceServer({ port: Number(process.env.PORT ?? 5000), secret });
  console.log(`reference uWS server on ws://127.0.0.1:${server.port}/ws (pid ${process.pid})`);
  const stop = () => {
    server.close();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
