#!/usr/bin/env node
import { createServer } from 'node:http';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import jwt from 'jsonwebtoken';
import { Server, type Socket } from 'socket.io';

/**
 * The Socket.IO 4 reference: rooms and JWT auth written the way Socket.IO's documentation
 * recommends, and nothing kept.
 *
 * - Auth: the client sends its token in the handshake's `auth` payload
 *   (`io({ auth: { token } })`), checked once by a namespace middleware with `jsonwebtoken`
 *   (docs: "Middlewares", "How to use with JSON Web Tokens"); a bad token is a `connect_error`.
 * - Rooms: `socket.join(room)`; broadcast with `io.to(room).emit(...)`; presence with
 *   `socket.to(room).emit(...)` on join and in `disconnecting` (docs: "Rooms").
 * - Request/answer: acknowledgements (`socket.on(event, (payload, callback) => …)`).
 * - `bufferutil` is installed, as the performance tuning page recommends; the default `ws`
 *   engine and no per-message deflate (Socket.IO 4's default).
 *
 * Events and payloads mirror PROTOCOL.md, so one harness measures both: `join_room` →
 * ack `{type:'joined', seq, participants}`, `chat_message` → ack `{type:'ack', seq}` then
 * `chat_message` to the room (sender included), `user_joined`/`user_left` with a per-room seq.
 */

export interface SocketIoReference {
  port: number;
  close(): Promise<void>;
}

interface User {
  id: string;
  name: string;
  role: string;
}

interface Claims {
  sub?: unknown;
  name?: unknown;
  role?: unknown;
  rooms?: unknown;
}

interface SocketData {
  user: User;
  rooms: string[];
}

type Answer = (frame: object) => void;
const ROOM_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** `rooms` claim patterns: exact ids, or a prefix ending in `*` (PROTOCOL.md §1). */
function mayJoin(patterns: string[], room: string): boolean {
  return patterns.some((p) => (p.endsWith('*') ? room.startsWith(p.slice(0, -1)) : p === room));
}

export function startSocketIoReference(options: { port?: number; secret: string; host?: string }): Promise<SocketIoReference> {
  const httpServer = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
      return;
    }
    res.writeHead(404).end();
  });
  const io = new Server(httpServer, { serveClient: false });
  /** Per room: its event counter and how many connections each user has in it. */
  const rooms = new Map<string, { seq: number; connections: Map<string, number> }>();
  const roomOf = (id: string) => {
    let room = rooms.get(id);
    if (!room) rooms.set(id, (room = { seq: 0, connections: new Map() }));
    return room;
  };

  io.use((socket, next) => {
    const token = (socket.handshake.auth as { token?: unknown }).token;
    if (typeof token !== 'string') return next(new Error('unauthorized: no token'));
    try {
      const claims = jwt.verify(token, options.secret, { algorithms: ['HS256'] }) as Claims;
      if (typeof claims.sub !== 'string' || claims.sub.length === 0) return next(new Error('unauthorized: no sub'));
      const data = socket.data as SocketData & { patterns: string[] };
      data.user = {
        id: claims.sub,
        name: typeof claims.name === 'string' ? claims.name : claims.sub,
        role: typeof claims.role === 'string' ? claims.role : 'learner',
      };
      data.patterns = Array.isArray(claims.rooms) ? claims.rooms.filter((r): r is string => typeof r === 'string') : [];
      data.rooms = [];
      next();
    } catch {
      next(new Error('unauthorized: bad token'));
    }
  });

  io.on('connection', (socket: Socket) => {
    const data = socket.data as SocketData & { patterns: string[] };
    const { user } = data;

    socket.on('join_room', (frame: { id?: string; room?: unknown }, answer: Answer) => {
      if (typeof answer !== 'function') return;
      const room = typeof frame?.room === 'string' ? frame.room : '';
      if (!ROOM_ID.test(room)) return answer({ type: 'error', id: frame?.id, code: 'bad_request', message: 'bad room id' });
      if (!mayJoin(data.patterns, room)) return answer({ type: 'error', id: frame.id, room, code: 'forbidden', message: 'not in your rooms claim' });
      const state = roomOf(room);
      if (socket.rooms.has(room)) return answer({ type: 'joined', id: frame.id, room, seq: state.seq, participants: participants(room) });
      socket.join(room);
      data.rooms.push(room);
      const connections = (state.connections.get(user.id) ?? 0) + 1;
      state.connections.set(user.id, connections);
      const seq = ++state.seq;
      answer({ type: 'joined', id: frame.id, room, seq, participants: participants(room) });
      socket.to(room).emit('user_joined', { type: 'user_joined', room, seq, ts: Date.now(), user, connections });
    });

    socket.on('chat_message', (frame: { id?: string; room?: unknown; text?: unknown; mid?: unknown }, answer: Answer) => {
      if (typeof answer !== 'function') return;
      const room = typeof frame?.room === 'string' ? frame.room : '';
      if (!socket.rooms.has(room)) return answer({ type: 'error', id: frame?.id, room, code: 'not_joined', message: 'join the room first' });
      const text = typeof frame.text === 'string' ? frame.text.trim() : '';
      if (text.length === 0 || text.length > 2000) return answer({ type: 'error', id: frame.id, room, code: 'bad_request', message: 'text is 1-2000 characters' });
      const seq = ++roomOf(room).seq;
      answer({ type: 'ack', id: frame.id, room, seq });
      io.to(room).emit('chat_message', {
        type: 'chat_message', room, seq, ts: Date.now(), from: user, text,
        ...(typeof frame.mid === 'string' ? { mid: frame.mid } : {}),
      });
    });

    socket.on('disconnecting', () => {
      for (const room of data.rooms) {
        const state = rooms.get(room);
        if (!state) continue;
        const connections = (state.connections.get(user.id) ?? 1) - 1;
        if (connections === 0) state.connections.delete(user.id);
        else state.connections.set(user.id, connections);
        const seq = ++state.seq;
        socket.to(room).emit('user_left', { type: 'user_left', room, seq, ts: Date.now(), user, connections, reason: 'disconnected' });
        if (state.connections.size === 0) rooms.delete(room);
      }
    });
  });

  /** Who is in a room, from the adapter's own membership (what `io.in(room).fetchSockets()` reads). */
  function participants(room: string) {
    const state = rooms.get(room);
    if (!state) return [];
    const list: Array<User & { connections: number }> = [];
    const seen = new Set<string>();
    for (const id of io.sockets.adapter.rooms.get(room) ?? []) {
      const member = (io.sockets.sockets.get(id)?.data as SocketData | undefined)?.user;
      if (!member || seen.has(member.id)) continue;
      seen.add(member.id);
      list.push({ ...member, connections: state.connections.get(member.id) ?? 1 });
    }
    return list;
  }

  return new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const address = httpServer.address();
      resolve({
        port: typeof address === 'object' && address ? address.port : 0,
        close: () => new Promise<void>((done) => io.close(() => done())),
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
  const server = await startSocketIoReference({ port: Number(process.env.PORT ?? 5200), secret });
  console.log(`Socket.IO reference on http://127.0.0.1:${server.port}/socket.io/ (pid ${process.pid})`);
  const stop = () => {
    void server.close().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
