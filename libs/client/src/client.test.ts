import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock, FakeServer, FakeSocket, settle, welcome } from '../test/fakes.js';
import { LecternClient, type LecternClientOptions } from './index.js';

let clock: FakeClock;
const clients: LecternClient[] = [];

function client(options: Partial<LecternClientOptions> = {}): LecternClient {
  const c = new LecternClient({
    url: 'ws://lectern.test/ws',
    token: 't0',
    WebSocket: FakeSocket,
    clock,
    random: () => 0.5,
    pingIntervalMs: 0,
    reconnect: { baseMs: 1000, capMs: 8000 },
    ...options,
  });
  clients.push(c);
  return c;
}

beforeEach(() => {
  clock = new FakeClock();
  FakeSocket.reset();
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

describe('connection states and reconnection', () => {
  it('goes connecting → open on welcome, with the token in the URL', async () => {
    const c = client();
    const states: string[] = [];
    c.on('state', (s) => states.push(s.state));
    c.connect();
    expect(c.state).toBe('connecting');
    expect(FakeSocket.last.url).toBe('ws://lectern.test/ws?token=t0');
    FakeSocket.last.open();
    expect(c.state).toBe('connecting');
    FakeSocket.last.receive(welcome());
    expect(c.state).toBe('open');
    expect(c.getStatus().user?.id).toBe('u1');
    expect(states).toEqual(['connecting', 'open']);
  });

  it('backs off exponentially with full jitter, capped, and gives up after maxAttempts', async () => {
    const c = client({ reconnect: { baseMs: 1000, capMs: 4000, maxAttempts: 4 } });
    c.connect();
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      FakeSocket.last.serverClose(1006);
      expect(c.state).toBe('reconnecting');
      const status = c.getStatus();
      delays.push(status.retryAt! - clock.now());
      const before = FakeSocket.instances.length;
      await clock.advance(status.retryAt! - clock.now() - 1);
      expect(FakeSocket.instances.length).toBe(before); // not a millisecond early
      await clock.advance(1);
      expect(FakeSocket.instances.length).toBe(before + 1);
    }
    // random() = 0.5: half of min(cap, base·2^(n-1))
    expect(delays).toEqual([500, 1000, 2000, 2000]);
    FakeSocket.last.serverClose(1006);
    expect(c.state).toBe('closed');
  });

  it('resets the attempt count after a welcome', async () => {
    const c = client();
    c.connect();
    FakeSocket.last.serverClose(1006);
    await clock.advance(500);
    FakeSocket.last.serverClose(1006);
    expect(c.getStatus().attempt).toBe(2);
    await clock.advance(1000);
    FakeSocket.last.open();
    FakeSocket.last.receive(welcome());
    expect(c.getStatus().attempt).toBe(0);
    FakeSocket.last.serverClose(1001);
    expect(c.getStatus().retryAt! - clock.now()).toBe(500);
  });

  it('stops after 1000 (normal close) and after 4001 without getToken', async () => {
    const a = client();
    a.connect();
    FakeSocket.last.open();
    FakeSocket.last.receive(welcome());
    FakeSocket.last.serverClose(1000);
    expect(a.state).toBe('closed');
    const b = client();
    b.connect();
    FakeSocket.last.open();
    FakeSocket.last.receive(welcome());
    FakeSocket.last.serverClose(4001, 'token expired');
    expect(b.state).toBe('closed');
    expect(b.getStatus().lastClose).toEqual({ code: 4001, reason: 'token expired' });
    await clock.advance(60_000);
    expect(FakeSocket.instances).toHaveLength(2);
  });

  it('after 4001 asks getToken for a new token and reconnects with it', async () => {
    const asked: string[] = [];
    let n = 0;
    const c = client({ token: undefined, getToken: (request) => (asked.push(request.reason), `tok${++n}`) });
    c.connect();
    await settle();
    expect(FakeSocket.last.url).toContain('token=tok1');
    FakeSocket.last.open();
    FakeSocket.last.receive(welcome());
    FakeSocket.last.serverClose(4001);
    expect(c.state).toBe('reconnecting');
    await clock.advance(10_000);
    expect(asked).toEqual(['connect', 'expired']);
    expect(FakeSocket.last.url).toContain('token=tok2');
  });

  it('a getToken that fails counts as a failed attempt and is retried with backoff', async () => {
    let fail = true;
    const c = client({ token: undefined, getToken: () => (fail ? Promise.reject(new Error('offline')) : 'ok') });
    c.connect();
    await settle();
    expect(c.state).toBe('reconnecting');
    expect(FakeSocket.instances).toHaveLength(0);
    fail = false;
    await clock.advance(500);
    expect(FakeSocket.last.url).toContain('token=ok');
  });

  it('close() is final: code 1000, no reconnect', async () => {
    const c = client();
    c.connect();
    FakeSocket.last.open();
    FakeSocket.last.receive(welcome());
    const socket = FakeSocket.last;
    c.close();
    expect(socket.closedWith).toBe(1000);
    expect(c.state).toBe('closed');
    await clock.advance(60_000);
    expect(FakeSocket.instances).toHaveLength(1);
  });
});

describe('requests', () => {
  it('matches answers by id and times out', async () => {
    const c = client({ requestTimeoutMs: 1000 });
    c.connect();
    FakeSocket.last.open();
    FakeSocket.last.receive(welcome());
    const first = c.request({ type: 'ping', ts: 1 });
    const second = c.request({ type: 'ping', ts: 2 });
    const [a, b] = FakeSocket.last.sent;
    expect(a!.id).not.toBe(b!.id);
    FakeSocket.last.receive({ type: 'pong', id: b!.id, ts: 2, serverTs: 9 });
    await expect(second).resolves.toMatchObject({ ts: 2 });
    const timedOut = expect(first).rejects.toMatchObject({ code: 'timeout' });
    await clock.advance(1000);
    await timedOut;
  });

  it('rejects with the server error code', async () => {
    const c = client();
    c.connect();
    FakeSocket.last.open();
    FakeSocket.last.receive(welcome());
    const answer = c.request({ type: 'join_room', room: 'nope' });
    FakeSocket.last.receive({ type: 'error', id: FakeSocket.last.sent[0]!.id, code: 'forbidden', message: 'no' });
    await expect(answer).rejects.toMatchObject({ name: 'LecternClientError', code: 'forbidden' });
  });

  it('measures RTT with ping, and drops a link whose pong never comes', async () => {
    const c = client({ pingIntervalMs: 5000, requestTimeoutMs: 2000 });
    c.connect();
    const socket = FakeSocket.last;
    socket.open();
    socket.receive(welcome());
    await clock.advance(0);
    const ping = socket.sentOfType('ping')[0]!;
    await clock.advance(42);
    socket.receive({ type: 'pong', id: ping.id, ts: ping.ts, serverTs: 1 });
    await settle();
    expect(c.getStatus().rtt).toBe(42);
    await clock.advance(5000);
    expect(socket.sentOfType('ping')).toHaveLength(2);
    await clock.advance(2000);
    expect(socket.closedWith).toBe(4000);
    expect(c.state).toBe('reconnecting');
  });
});

describe('rooms, resume and the outgoing queue', () => {
  it('rejoins with since after a reconnect and folds what it missed', async () => {
    const server = new FakeServer();
    const c = client();
    c.connect();
    await settle();
    const room = c.room('r');
    room.join();
    await settle();
    expect(room.getSnapshot()).toMatchObject({ status: 'joined', seq: 1 });
    FakeSocket.last.serverClose(1001);
    expect(room.getSnapshot().status).toBe('rejoining');
    server.append('r', { type: 'chat_message', from: { id: 'x', name: 'X', role: 'learner' }, text: 'while you were away' });
    await clock.advance(500);
    const join = FakeSocket.last.sentOfType('join_room')[0]!;
    expect(join.since).toBe(1);
    expect(room.getSnapshot()).toMatchObject({ status: 'joined', seq: 3 });
    expect(room.getSnapshot().messages.map((m) => m.text)).toEqual(['while you were away']);
  });

  it('holds live events while a join is in flight and drops duplicates', async () => {
    const c = client();
    c.connect();
    FakeSocket.last.open();
    FakeSocket.last.receive(welcome());
    const room = c.room('r');
    const applied: number[] = [];
    c.on('room_event', (e) => applied.push(e.event.seq));
    room.join();
    const from = { id: 'x', name: 'X', role: 'learner' };
    FakeSocket.last.receive({ type: 'chat_message', room: 'r', seq: 3, ts: 1, from, text: 'early' });
    FakeSocket.last.receive({ type: 'joined', id: FakeSocket.last.sent[0]!.id, room: 'r', seq: 2, participants: [], session: { state: 'live', data: {}, updatedAt: 0 }, history: [] });
    FakeSocket.last.receive({ type: 'chat_message', room: 'r', seq: 3, ts: 1, from, text: 'early' });
    FakeSocket.last.receive({ type: 'chat_message', room: 'r', seq: 4, ts: 1, from, text: 'late' });
    await settle();
    expect(applied).toEqual([3, 4]);
    expect(room.getSnapshot().messages.map((m) => m.text)).toEqual(['early', 'late']);
  });

  it('heals a gap by rejoining with since', async () => {
    const server = new FakeServer();
    const c = client();
    c.connect();
    await settle();
    const room = c.room('r');
    room.join();
    await settle();
    const gaps: unknown[] = [];
    c.on('gap', (g) => gaps.push(g));
    const from = { id: 'x', name: 'X', role: 'learner' };
    server.append('r', { type: 'chat_message', from, text: 'lost in transit' });
    const third = server.append('r', { type: 'chat_message', from, text: 'third' });
    FakeSocket.last.receive(third);
    expect(gaps).toEqual([{ room: 'r', expected: 2, got: 3 }]);
    await settle();
    const rejoin = FakeSocket.last.sentOfType('join_room')[1]!;
    expect(rejoin.since).toBe(1);
    expect(room.getSnapshot().messages.map((m) => m.text)).toEqual(['lost in transit', 'third']);
  });

  it('resets a room whose resume answers recovered: false', async () => {
    const c = client();
    c.connect();
    FakeSocket.last.open();
    FakeSocket.last.receive(welcome());
    const room = c.room('r');
    room.join();
    const from = { id: 'x', name: 'X', role: 'learner' };
    const base = { type: 'joined', room: 'r', participants: [], session: { state: 'live', data: {}, updatedAt: 0 } };
    FakeSocket.last.receive({ ...base, id: FakeSocket.last.sent[0]!.id, seq: 5, history: [{ type: 'chat_message', room: 'r', seq: 5, ts: 1, from, text: 'old' }] });
    await settle();
    FakeSocket.last.serverClose(1006);
    await clock.advance(500);
    FakeSocket.last.open();
    FakeSocket.last.receive(welcome());
    const resets: unknown[] = [];
    c.on('reset', (r) => resets.push(r));
    const join = FakeSocket.last.sentOfType('join_room')[0]!;
    expect(join.since).toBe(5);
    FakeSocket.last.receive({ ...base, id: join.id, seq: 90_000, recovered: false, history: [{ type: 'chat_message', room: 'r', seq: 89_999, ts: 1, from, text: 'new' }] });
    await settle();
    expect(resets).toEqual([{ room: 'r' }]);
    expect(room.getSnapshot().messages.map((m) => m.text)).toEqual(['new']);
    expect(room.getSnapshot().seq).toBe(90_000);
  });

  it('queues messages while offline and sends them in order, once, after the rejoin', async () => {
    const server = new FakeServer();
    const c = client();
    c.connect();
    await settle();
    const room = c.room('r');
    room.join();
    await settle();
    server.up = false;
    FakeSocket.last.serverClose(1006);
    const sends = ['one', 'two', 'three'].map((text) => room.sendChat(text));
    expect(c.getStatus().queued).toBe(3);
    expect(room.getSnapshot().pending.map((p) => [p.text, p.state])).toEqual([['one', 'queued'], ['two', 'queued'], ['three', 'queued']]);
    await clock.advance(500); // the attempt while the server is down fails
    expect(c.state).toBe('reconnecting');
    server.up = true;
    await clock.advance(1000);
    expect(c.state).toBe('open');
    const acks = await Promise.all(sends);
    expect(acks.map((a) => a.seq)).toEqual([3, 4, 5]);
    expect(server.chats('r').map((e) => e.text)).toEqual(['one', 'two', 'three']);
    expect(c.getStatus().queued).toBe(0);
    expect(room.getSnapshot().messages.map((m) => m.text)).toEqual(['one', 'two', 'three']);
  });

  it('resends a message whose ack was lost with the same mid: stored once', async () => {
    const server = new FakeServer();
    const c = client();
    c.connect();
    await settle();
    const room = c.room('r');
    room.join();
    await settle();
    // The server stores the message, but the socket dies before the ack arrives.
    const socket = FakeSocket.last;
    const originalReceive = socket.receive.bind(socket);
    socket.receive = (frame) => {
      if (frame.type === 'ack') return socket.serverClose(1006);
      originalReceive(frame);
    };
    const sent = room.sendChat('exactly once');
    await settle();
    expect(c.state).toBe('reconnecting');
    await clock.advance(500);
    const ack = await sent;
    expect(ack.duplicate).toBe(true);
    const mids = FakeSocket.instances.flatMap((s) => s.sentOfType('chat_message').map((f) => f.mid));
    expect(new Set(mids).size).toBe(1);
    expect(mids).toHaveLength(2);
    expect(server.chats('r')).toHaveLength(1);
  });

  it('bounds the queue: the oldest message is dropped with an event', async () => {
    const c = client({ maxQueue: 2 });
    c.connect();
    const room = c.room('r');
    room.join();
    const drops: string[] = [];
    c.on('queue_drop', (d) => drops.push((d.frame as { text: string }).text));
    const first = room.sendChat('a');
    room.sendChat('b').catch(() => undefined);
    room.sendChat('c').catch(() => undefined);
    await expect(first).rejects.toMatchObject({ code: 'queue_full' });
    expect(drops).toEqual(['a']);
    expect(room.getSnapshot().pending.map((p) => p.text)).toEqual(['b', 'c']);
  });

  it('retries a message answered unavailable, keeping the order', async () => {
    const server = new FakeServer();
    server.answerChats = false;
    const c = client();
    c.connect();
    await settle();
    const room = c.room('r');
    room.join();
    await settle();
    const first = room.sendChat('first');
    const second = room.sendChat('second');
    await settle();
    const socket = FakeSocket.last;
    expect(socket.sentOfType('chat_message')).toHaveLength(1); // one at a time per room
    socket.receive({ type: 'error', id: socket.sentOfType('chat_message')[0]!.id, code: 'unavailable', message: 'room moving', retryAfterMs: 300 });
    await settle();
    server.answerChats = true;
    await clock.advance(300);
    await expect(first).resolves.toMatchObject({ seq: 2 });
    await expect(second).resolves.toMatchObject({ seq: 3 });
    expect(server.chats('r').map((e) => e.text)).toEqual(['first', 'second']);
  });

  it('rejects a message the server refuses for good (room_closed)', async () => {
    const server = new FakeServer();
    server.answerChats = false;
    const c = client();
    c.connect();
    await settle();
    const room = c.room('r');
    room.join();
    await settle();
    const sent = room.sendChat('too late');
    await settle();
    const socket = FakeSocket.last;
    socket.receive({ type: 'error', id: socket.sentOfType('chat_message')[0]!.id, room: 'r', code: 'room_closed', message: 'ended' });
    await expect(sent).rejects.toMatchObject({ code: 'room_closed' });
    expect(c.getStatus().queued).toBe(0);
  });
});
