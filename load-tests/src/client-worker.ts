import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { Histogram } from './histogram.js';
import { signHs256 } from './jwt.js';
import type {
  ConnectionSpec,
  CoordinatorMessage,
  PresenceParts,
  RoomCounters,
  WorkerInit,
  WorkerMessage,
  WorkerStart,
} from './messages.js';
import { SocketIoFraming } from './socketio-framing.js';

/**
 * One client process's share of the connections. It is written to stay cheap, because the
 * clients share the machine's cores with the server they measure: frames are scanned as bytes
 * for the few fields measured (type, seq, the send timestamp in the text, the ack id), and
 * only rare frames (`joined`, `error`) are parsed as JSON.
 */

/** How the worker talks to its coordinator: process IPC in a forked child, or direct calls in-process. */
export interface WorkerChannel {
  send(message: WorkerMessage): void;
  onMessage(handler: (message: CoordinatorMessage) => void): void;
  exit(code: number): void;
}

/** Wall-clock ms with sub-ms resolution, comparable across processes on one machine. */
const now = (): number => performance.timeOrigin + performance.now();

const TYPE_KEY = Buffer.from('"type":"');
const SEQ_KEY = Buffer.from('"seq":');
const FROM_SEQ_KEY = Buffer.from('"fromSeq":');
const ID_KEY = Buffer.from('"id":"');
const TEXT_KEY = Buffer.from('"text":"t:');
const DUPLICATE_KEY = Buffer.from('"duplicate":true');
const CONNECTIONS_KEY = Buffer.from('"connections":');
const COUNT_KEY = Buffer.from('"count":');
const QUOTE = 34;
const COLON = 58;

const ROOM_KEY = Buffer.from('"room":"');
const PARTICIPANT_COUNT_KEY = Buffer.from('"participantCount":');
const PARTICIPANTS_KEY = Buffer.from('"participants":[');
const SESSION_KEY = Buffer.from('],"session"');

/**
 * `room`, `seq` and the number of participants of a `joined` frame, from its bytes. Lectern and
 * both references write `room`, `seq`, `participants` first, in that order, and each participant
 * carries `"connections":` once.
 */
function scanJoined(data: Buffer): { room?: string; seq?: number; participants: number } {
  const roomAt = data.indexOf(ROOM_KEY);
  const roomEnd = roomAt < 0 ? -1 : data.indexOf(QUOTE, roomAt + ROOM_KEY.length);
  const seq = integerAfter(data, SEQ_KEY);
  // A large room's `joined` lists only some users; `participantCount` is the exact count.
  let participants = integerAfter(data, PARTICIPANT_COUNT_KEY);
  const listAt = participants >= 0 ? -1 : data.indexOf(PARTICIPANTS_KEY);
  if (participants < 0) participants = 0;
  if (listAt >= 0) {
    let end = data.indexOf(SESSION_KEY, listAt);
    if (end < 0) end = data.length;
    for (let at = data.indexOf(CONNECTIONS_KEY, listAt); at >= 0 && at < end; at = data.indexOf(CONNECTIONS_KEY, at + 1)) participants++;
  }
  return {
    ...(roomEnd > 0 ? { room: data.toString('utf8', roomAt + ROOM_KEY.length, roomEnd) } : {}),
    ...(seq >= 0 ? { seq } : {}),
    participants,
  };
}

/** Reads the unsigned integer whose digits start at `from`; -1 when there is none. */
function readInteger(buffer: Buffer, from: number): number {
  let value = 0;
  let i = from;
  while (i < buffer.length) {
    const c = buffer[i]!;
    if (c < 48 || c > 57) break;
    value = value * 10 + (c - 48);
    i++;
  }
  return i === from ? -1 : value;
}

function integerAfter(buffer: Buffer, key: Buffer): number {
  const at = buffer.indexOf(key);
  return at < 0 ? -1 : readInteger(buffer, at + key.length);
}

/** The top-level frame type: the first `"type":"…"` (nested objects in measured frames carry none). */
function frameType(buffer: Buffer): string {
  const at = buffer.indexOf(TYPE_KEY);
  if (at < 0) return '';
  const start = at + TYPE_KEY.length;
  const end = buffer.indexOf(QUOTE, start);
  return end < 0 ? '' : buffer.toString('latin1', start, end);
}

/** The send timestamp in a harness chat text `t:<ms>:<user>:<n>`; NaN when the text is not ours. */
function sentAt(buffer: Buffer): number {
  const at = buffer.indexOf(TEXT_KEY);
  if (at < 0) return NaN;
  const start = at + TEXT_KEY.length;
  const end = buffer.indexOf(COLON, start);
  return end < 0 ? NaN : Number(buffer.toString('latin1', start, end));
}

const emptyCounters = (): RoomCounters => ({
  sent: 0,
  acked: 0,
  duplicateAcks: 0,
  delivered: 0,
  missingSeqs: 0,
  gaps: 0,
  duplicates: 0,
});

interface Connection {
  spec: ConnectionSpec;
  counters: RoomCounters;
  socket?: WebSocket;
  /** Highest seq processed in the room; -1 until `joined` arrives. */
  lastSeq: number;
  /** Seqs that arrived before `joined`, applied once the snapshot's seq is known. */
  early: number[];
  joined: boolean;
  nextMessage: number;
  token: string;
  /** Its place in this process's list: picks its endpoint among several gateways. */
  index: number;
  /** Send time by request id, until the ack (or error) answers it. */
  pending: Map<number, number>;
  attemptAt: number;
  joinSentAt: number;
  joinTimer?: NodeJS.Timeout;
  /** Distinct participants this member knows of: `joined.participants`, then every presence frame. */
  presenceCount: number;
  presenceFrames: number;
  framesAboveThreshold: number;
  /** When this member first knew more than the threshold present; 0 before. */
  aboveSince: number;
  lastPresenceAt: number;
}

export function runClientWorker(channel: WorkerChannel): void {
  let init: WorkerInit | undefined;
  const connections: Connection[] = [];
  const rooms = new Map<string, RoomCounters>();
  const latency = new Histogram();
  const ackLatency = new Histogram();
  const warmupLatency = new Histogram();
  const warmupAckLatency = new Histogram();
  /** Messages sent before this (performance clock) are warm-up: their latencies go apart. */
  let latencyFrom = 0;
  const sendLag = new Histogram();
  let framing: SocketIoFraming | undefined;
  const connectLatency = new Histogram();
  const joinLatency = new Histogram();
  const failures: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const closes: Record<string, number> = {};
  let staleEvents = 0;
  let connected = 0;
  let joined = 0;
  let failed = 0;
  let firstAttemptAt = 0;
  let lastWelcomeAt = 0;
  let lastJoinedAt = 0;
  let rampDone = false;
  let closing = false;
  let cpuAtStart = process.cpuUsage();
  let progressTimer: NodeJS.Timeout | undefined;
  let sendTimer: NodeJS.Timeout | undefined;

  const count = (table: Record<string, number>, key: string) => {
    table[key] = (table[key] ?? 0) + 1;
  };

  const fail = (connection: Connection, reason: string) => {
    if (connection.joined || rampDone) return;
    if (connection.attemptAt < 0) return; // already counted
    connection.attemptAt = -1;
    clearTimeout(connection.joinTimer);
    failed++;
    count(failures, reason);
    connection.socket?.terminate();
    next();
  };

  /** Applies a room event's seq range to the receiver's continuity check. */
  const applySeq = (connection: Connection, fromSeq: number, seq: number, isChat: boolean) => {
    if (connection.lastSeq < 0) {
      connection.early.push(seq);
      return;
    }
    if (seq <= connection.lastSeq) {
      if (isChat) connection.counters.duplicates++;
      else staleEvents++;
      return;
    }
    if (fromSeq > connection.lastSeq + 1) {
      connection.counters.gaps++;
      connection.counters.missingSeqs += fromSeq - connection.lastSeq - 1;
    }
    connection.lastSeq = seq;
  };

  /** One presence frame: the member's view of the count moves, and the frame is counted. */
  const onPresence = (connection: Connection, count: number) => {
    if (!connection.joined) return;
    const t = now();
    connection.presenceFrames++;
    connection.presenceCount = count;
    if (connection.aboveSince > 0) connection.framesAboveThreshold++;
    else if (count > init!.presenceThreshold) connection.aboveSince = t;
    connection.lastPresenceAt = t;
  };

  const onWelcome = (connection: Connection) => {
    connected++;
    lastWelcomeAt = now();
    connectLatency.record((lastWelcomeAt - connection.attemptAt) * 1000);
    connection.joinSentAt = now();
    sendFrame(connection, 'join_room', `{"type":"join_room","id":"join","room":"${connection.spec.room}"}`, 'join');
  };

  /** Sends one Lectern frame, wrapped as a Socket.IO event with an ack id when that is the wire. */
  const sendFrame = (connection: Connection, type: string, json: string, ackId: string | number) => {
    const socket = connection.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    socket.send(framing ? framing.event(type, json, ackId === 'join' ? 0 : Number(ackId)) : json);
  };

  /** A frame's JSON: Lectern's frame as is, or the payload out of a Socket.IO event or ack. */
  const parse = <T>(data: Buffer): T => (framing ? framing.payload<T>(data) : (JSON.parse(data.toString('utf8')) as T));

  const onFrame = (connection: Connection, data: Buffer) => {
    if (framing) {
      const kind = framing.classify(data);
      if (kind === 'open') {
        connection.socket?.send(framing.connect(connection.token));
        return;
      }
      if (kind === 'ping') {
        connection.socket?.send(framing.pong());
        return;
      }
      if (kind === 'connected') {
        onWelcome(connection);
        return;
      }
      if (kind === 'connect_error') {
        fail(connection, `socket.io connect_error ${data.toString('utf8', 2, 120)}`);
        return;
      }
      if (kind !== 'message') return;
    }
    const type = frameType(data);
    switch (type) {
      case 'chat_message': {
        const t = sentAt(data);
        if (t === t) {
          (t < latencyFrom ? warmupLatency : latency).record((now() - t) * 1000);
          connection.counters.delivered++;
        }
        const seq = integerAfter(data, SEQ_KEY);
        if (seq >= 0) applySeq(connection, seq, seq, true);
        return;
      }
      case 'ack': {
        const id = integerAfter(data, ID_KEY);
        const sent = connection.pending.get(id);
        if (sent !== undefined) {
          connection.pending.delete(id);
          (sent < latencyFrom ? warmupAckLatency : ackLatency).record((now() - sent) * 1000);
          connection.counters.acked++;
          if (data.indexOf(DUPLICATE_KEY) >= 0) connection.counters.duplicateAcks++;
        }
        return;
      }
      case 'welcome':
        onWelcome(connection);
        return;
      case 'joined': {
        const config = init!;
        // Scanned, not parsed: in a presence storm every `joined` lists thousands of participants.
        const frame = scanJoined(data);
        if (frame.room !== connection.spec.room || connection.joined) return;
        connection.joined = true;
        clearTimeout(connection.joinTimer);
        joined++;
        lastJoinedAt = now();
        joinLatency.record((lastJoinedAt - connection.joinSentAt) * 1000);
        // Events can race the snapshot; continuity starts at the snapshot's seq.
        connection.lastSeq = typeof frame.seq === 'number' ? frame.seq : 0;
        connection.presenceCount = frame.participants;
        if (connection.presenceCount > config.presenceThreshold) connection.aboveSince = now();
        for (const seq of connection.early.sort((a, b) => a - b)) applySeq(connection, seq, seq, false);
        connection.early = [];
        next();
        return;
      }
      case 'error': {
        const frame = parse<{ id?: string; code?: string }>(data);
        count(errors, frame.code ?? 'unknown');
        if (frame.id === 'join') fail(connection, `join ${frame.code ?? 'error'}`);
        else if (frame.id !== undefined) connection.pending.delete(Number(frame.id));
        return;
      }
      case 'pong':
        return;
      case 'presence_diff': {
        const seq = integerAfter(data, SEQ_KEY);
        const fromSeq = integerAfter(data, FROM_SEQ_KEY);
        if (seq >= 0) applySeq(connection, fromSeq >= 0 ? fromSeq : seq, seq, false);
        onPresence(connection, integerAfter(data, COUNT_KEY));
        return;
      }
      case 'user_joined':
      case 'user_left': {
        const seq = integerAfter(data, SEQ_KEY);
        if (seq >= 0) applySeq(connection, seq, seq, false);
        // Per connection: the user appears at connections 1 and is gone at 0 (PROTOCOL.md §5).
        const connections = integerAfter(data, CONNECTIONS_KEY);
        const delta = type === 'user_joined' ? (connections === 1 ? 1 : 0) : connections === 0 ? -1 : 0;
        onPresence(connection, connection.presenceCount + delta);
        return;
      }
      default: {
        // Any other room event (user_joined, user_left, notification, ...) still takes a seq.
        const seq = integerAfter(data, SEQ_KEY);
        if (seq >= 0 && data.indexOf('"room":"') >= 0) applySeq(connection, seq, seq, false);
      }
    }
  };

  const open = (connection: Connection) => {
    const config = init!;
    const nowSeconds = Math.floor(Date.now() / 1000);
    const token = signHs256(
      {
        sub: connection.spec.user,
        name: connection.spec.user,
        role: 'learner',
        rooms: [config.roomPattern],
        iat: nowSeconds,
        exp: nowSeconds + Math.ceil(config.hardTimeoutMs / 1000) + 3600,
      },
      config.secret,
    );
    connection.attemptAt = now();
    connection.token = token;
    if (firstAttemptAt === 0) firstAttemptAt = connection.attemptAt;
    // Socket.IO takes the token in its CONNECT packet (`auth`), after Engine.IO's open.
    const base = config.urls[connection.index % config.urls.length]!;
    const address = framing ? framing.url(base) : `${base}?token=${token}`;
    const socket = new WebSocket(address, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: config.joinTimeoutMs,
      ...(config.localAddress ? { localAddress: config.localAddress } : {}),
    });
    connection.socket = socket;
    connection.joinTimer = setTimeout(() => fail(connection, 'join timeout'), config.joinTimeoutMs);
    socket.on('message', (data: Buffer) => onFrame(connection, data));
    // "Unexpected server response: 401" (an upgrade refused) arrives here too.
    socket.on('error', (error: NodeJS.ErrnoException) => fail(connection, error.code ?? error.message));
    socket.on('close', (code: number) => {
      if (!connection.joined) fail(connection, `closed ${code} before joined`);
      else if (!closing) count(closes, String(code));
    });
  };

  let cursor = 0;
  let inFlight = 0;
  /** Keeps `connectConcurrency` handshakes in flight until every connection was tried. */
  let paceStart = 0;
  let paceTimer: NodeJS.Timeout | undefined;
  /** With `connectRate`, connection i may open at paceStart + i / rate, not earlier. */
  const due = (i: number) => init!.connectRate <= 0 || paceStart + (i * 1000) / init!.connectRate <= now();
  const next = () => {
    const config = init!;
    if (config.connectRate > 0 && paceStart === 0) {
      paceStart = now();
      paceTimer = setInterval(() => {
        if (cursor >= connections.length) clearInterval(paceTimer);
        else next();
      }, 5);
    }
    inFlight = cursor - joined - failed;
    while (cursor < connections.length && inFlight < config.connectConcurrency && due(cursor)) {
      open(connections[cursor++]!);
      inFlight++;
    }
    if (!rampDone && joined + failed === connections.length) {
      rampDone = true;
      clearInterval(progressTimer);
      const joinedByRoom: Record<string, number> = {};
      for (const c of connections) if (c.joined) joinedByRoom[c.spec.room] = (joinedByRoom[c.spec.room] ?? 0) + 1;
      channel.send({
        type: 'ready',
        workerIndex: config.workerIndex,
        ramp: {
          planned: connections.length,
          connected,
          joined,
          firstAttemptAt,
          lastWelcomeAt,
          lastJoinedAt,
          failures,
          connectLatency: connectLatency.snapshot(),
          joinLatency: joinLatency.snapshot(),
          joinedByRoom,
        },
      });
    }
  };

  const startSending = (start: WorkerStart) => {
    const config = init!;
    const senders = connections
      .filter((c) => c.spec.sendOffsetMs >= 0 && c.joined)
      .sort((a, b) => a.spec.sendOffsetMs - b.spec.sendOffsetMs);
    cpuAtStart = process.cpuUsage();
    const startAt = start.startAt - Date.now() + now(); // into the performance clock
    latencyFrom = start.latencyFrom - Date.now() + now();
    const endAt = startAt + start.durationMs;
    if (senders.length === 0 || config.intervalMs <= 0) return;
    // Open loop: each sender's k-th message is due at start + k·interval + offset, whether or
    // not earlier ones were answered, so a slow server cannot slow the offered load down.
    let index = 0;
    let round = 0;
    const tick = () => {
      const t = now();
      for (;;) {
        const sender = senders[index]!;
        const due = startAt + round * config.intervalMs + sender.spec.sendOffsetMs;
        if (due > t || due >= endAt) break;
        sendLag.record((t - due) * 1000);
        const n = sender.nextMessage++;
        const sendTime = now();
        sender.pending.set(n, sendTime);
        sender.counters.sent++;
        sendFrame(
          sender,
          'chat_message',
          `{"type":"chat_message","id":"${n}","room":"${sender.spec.room}","text":"t:${sendTime.toFixed(3)}:${sender.spec.user}:${n}","mid":"m${n}"}`,
          n,
        );
        if (++index === senders.length) {
          index = 0;
          round++;
        }
      }
      if (t < endAt) sendTimer = setTimeout(tick, 1);
    };
    sendTimer = setTimeout(tick, Math.max(0, startAt - now()));
  };

  const presenceParts = (): PresenceParts => {
    const perMember = new Histogram();
    const above = new Histogram();
    const perSecond = new Histogram();
    const finalCounts: number[] = [];
    let totalFrames = 0;
    for (const c of connections) {
      if (!c.joined) continue;
      finalCounts.push(c.presenceCount);
      perMember.record(c.presenceFrames);
      totalFrames += c.presenceFrames;
      if (c.aboveSince > 0) {
        above.record(c.framesAboveThreshold);
        const seconds = Math.max(1, (c.lastPresenceAt - c.aboveSince) / 1000);
        perSecond.record((c.framesAboveThreshold / seconds) * 1000);
      }
    }
    return {
      members: finalCounts.length,
      finalCounts,
      framesPerMember: perMember.snapshot(),
      framesAboveThreshold: above.snapshot(),
      framesPerSecondAboveThresholdMilli: perSecond.snapshot(),
      totalFrames,
    };
  };

  const report = () => {
    const config = init!;
    const cpu = process.cpuUsage(cpuAtStart);
    let unacked = 0;
    for (const c of connections) unacked += c.pending.size;
    const roomTable: Record<string, RoomCounters> = {};
    for (const [room, counters] of rooms) roomTable[room] = counters;
    channel.send({
      type: 'report',
      workerIndex: config.workerIndex,
      rooms: roomTable,
      latency: latency.snapshot(),
      ackLatency: ackLatency.snapshot(),
      warmupLatency: warmupLatency.snapshot(),
      warmupAckLatency: warmupAckLatency.snapshot(),
      sendLag: sendLag.snapshot(),
      unacked,
      errors,
      closes,
      staleEvents,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      maxRssBytes: process.memoryUsage.rss(),
      presence: presenceParts(),
    });
  };

  const close = () => {
    closing = true;
    clearTimeout(sendTimer);
    clearInterval(progressTimer);
    clearInterval(paceTimer);
    let open = 0;
    for (const c of connections) {
      const socket = c.socket;
      if (!socket || socket.readyState === WebSocket.CLOSED) continue;
      open++;
      socket.once('close', () => {
        if (--open === 0) channel.exit(0);
      });
      if (socket.readyState === WebSocket.OPEN) socket.close(1000);
      else socket.terminate();
    }
    if (open === 0) channel.exit(0);
    // A server that never answers the close handshake must not keep the run alive.
    setTimeout(() => {
      for (const c of connections) c.socket?.terminate();
      channel.exit(0);
    }, 2000).unref();
  };

  channel.onMessage((message) => {
    switch (message.type) {
      case 'init': {
        init = message;
        framing = message.protocol === 'socketio' ? new SocketIoFraming() : undefined;
        setTimeout(() => channel.exit(3), message.hardTimeoutMs).unref();
        for (const spec of message.connections) {
          let counters = rooms.get(spec.room);
          if (!counters) rooms.set(spec.room, (counters = emptyCounters()));
          connections.push({
            spec,
            counters,
            lastSeq: -1,
            early: [],
            joined: false,
            nextMessage: 1,
            pending: new Map(),
            attemptAt: 0,
            joinSentAt: 0,
            token: '',
            index: connections.length,
            presenceCount: 0,
            presenceFrames: 0,
            framesAboveThreshold: 0,
            aboveSince: 0,
            lastPresenceAt: 0,
          });
        }
        progressTimer = setInterval(() => {
          channel.send({ type: 'progress', workerIndex: message.workerIndex, connected, joined, failed });
        }, 500);
        next();
        return;
      }
      case 'start':
        startSending(message);
        return;
      case 'collect':
        report();
        return;
      case 'close':
        close();
        return;
    }
  });
}
