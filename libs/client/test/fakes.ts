/**
 * Test doubles for the client: a clock whose time moves only when told, and a WebSocket
 * class whose sockets are driven by the test (or by `FakeServer`, a tiny in-memory Lectern
 * that answers joins, acks chats with seqs and dedupes by `mid`).
 */
import type { Clock } from '../src/index.js';

export class FakeClock implements Clock {
  time = 1_000_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  now = (): number => this.time;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  };
  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };
  /** Moves time forward, running due timers in order (and the microtasks they queue). */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (next === undefined || entry[1].at < next[1].at)) next = entry;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
      await settle();
    }
    this.time = end;
    await settle();
  }
  pendingDelays(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.time).sort((a, b) => a - b);
  }
}

/** Lets promise callbacks run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export type Frame = Record<string, any>;

export class FakeSocket {
  static instances: FakeSocket[] = [];
  readyState = 0;
  readonly sent: Frame[] = [];
  closedWith: number | undefined;
  private listeners = new Map<string, ((event: any) => void)[]>();
  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
    FakeSocket.onCreate?.(this);
  }
  static onCreate: ((socket: FakeSocket) => void) | undefined;
  static reset(): void {
    FakeSocket.instances = [];
    FakeSocket.onCreate = undefined;
  }
  static get last(): FakeSocket {
    return FakeSocket.instances[FakeSocket.instances.length - 1]!;
  }
  addEventListener(type: string, listener: (event: any) => void): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  send(data: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(JSON.parse(data) as Frame);
  }
  close(code = 1000): void {
    if (this.readyState >= 2) return;
    this.closedWith = code;
    this.readyState = 3;
    // Like a browser: the close event comes later, from the event loop.
    queueMicrotask(() => this.fire('close', { code, reason: '' }));
  }
  // ---- the server's side
  open(): void {
    this.readyState = 1;
    this.fire('open', {});
  }
  receive(frame: Frame): void {
    this.fire('message', { data: JSON.stringify(frame) });
  }
  serverClose(code: number, reason = ''): void {
    this.readyState = 3;
    this.fire('close', { code, reason });
  }
  sentOfType(type: string): Frame[] {
    return this.sent.filter((f) => f.type === type);
  }
  private fire(type: string, event: unknown): void {
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}

export const welcome = (user = { id: 'u1', name: 'U1', role: 'learner' }) => ({
  type: 'welcome',
  connectionId: 'c-1',
  user,
  protocol: 1,
  heartbeatMs: 30_000,
  limits: { maxFrameBytes: 16384, maxTextChars: 2000, maxRooms: 50, ratePerSecond: 20, burst: 40 },
});

/**
 * A minimal Lectern in memory: one log per room, joins answered with `missed` when `since` is
 * within the log, chats acked with a seq and deduplicated by mid. Attach it to each new
 * FakeSocket; `autoOpen` opens sockets and sends `welcome` when `up`.
 */
export class FakeServer {
  up = true;
  logs = new Map<string, Frame[]>();
  mids = new Map<string, number>();
  answerChats = true;
  constructor(private readonly user = { id: 'u1', name: 'U1', role: 'learner' }) {
    FakeSocket.onCreate = (socket) => {
      queueMicrotask(() => {
        if (!this.up) return socket.serverClose(1006);
        const send = socket.send.bind(socket);
        socket.send = (data: string) => {
          send(data);
          this.handle(socket, JSON.parse(data) as Frame);
        };
        socket.open();
        socket.receive(welcome(this.user));
      });
    };
  }
  log(room: string): Frame[] {
    let log = this.logs.get(room);
    if (log === undefined) this.logs.set(room, (log = []));
    return log;
  }
  append(room: string, event: Frame): Frame {
    const log = this.log(room);
    const full = { ...event, room, seq: log.length + 1, ts: 1 };
    log.push(full);
    return full;
  }
  private handle(socket: FakeSocket, frame: Frame): void {
    if (frame.type === 'join_room') {
      const joinEvent = this.append(frame.room, { type: 'user_joined', user: this.user, connections: 1 });
      const log = this.log(frame.room);
      const answer: Frame = { type: 'joined', id: frame.id, room: frame.room, seq: log.length, participants: [{ ...this.user, connections: 1 }], session: { state: 'live', data: {}, updatedAt: 0 }, history: log.filter((e) => e.type === 'chat_message').slice(-50) };
      if (frame.since !== undefined) {
        answer.recovered = true;
        answer.missed = log.filter((e) => e.seq > frame.since);
      }
      queueMicrotask(() => {
        socket.receive(answer);
        socket.receive(joinEvent);
      });
    } else if (frame.type === 'chat_message' && this.answerChats) {
      const key = `${frame.room}/${frame.mid}`;
      const seen = this.mids.get(key);
      if (seen !== undefined) return queueMicrotask(() => socket.receive({ type: 'ack', id: frame.id, room: frame.room, seq: seen, duplicate: true }));
      const event = this.append(frame.room, { type: 'chat_message', from: this.user, text: frame.text, mid: frame.mid });
      this.mids.set(key, event.seq);
      queueMicrotask(() => {
        socket.receive({ type: 'ack', id: frame.id, room: frame.room, seq: event.seq });
        socket.receive(event);
      });
    } else if (frame.type === 'ping') {
      queueMicrotask(() => socket.receive({ type: 'pong', id: frame.id, ts: frame.ts, serverTs: 1 }));
    } else if (frame.type === 'leave_room') {
      queueMicrotask(() => socket.receive({ type: 'left', id: frame.id, room: frame.room }));
    }
  }
  chats(room: string): Frame[] {
    return this.log(room).filter((e) => e.type === 'chat_message');
  }
}
