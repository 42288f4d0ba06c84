// load-tests/k6/src/lecture.ts
import exec from "k6/execution";
import { sleep } from "k6";
import { clearInterval, setInterval } from "k6/experimental/timers";

// load-tests/k6/src/lib/lectern.ts
import { fail } from "k6";
import { hmac } from "k6/crypto";
import { b64encode } from "k6/encoding";
import { WebSocket } from "k6/experimental/websockets";
import { clearTimeout, setTimeout } from "k6/experimental/timers";
import http from "k6/http";
import { Counter, Rate, Trend } from "k6/metrics";
function env(name, fallback) {
  const value = __ENV[name];
  return value === void 0 || value === "" ? fallback : value;
}
function envNumber(name, fallback) {
  const raw = __ENV[name];
  if (raw === void 0 || raw === "") return fallback;
  const value = Number(raw);
  if (!isFinite(value) || value < 0) fail(`${name} must be a non-negative number, got "${raw}"`);
  return value;
}
var LECTERN_URL = env("LECTERN_URL", "ws://127.0.0.1:5000/ws");
function runPrefix(scenario) {
  return env("RUN_ID", `k6-${scenario}-${Date.now().toString(36)}`);
}
var metrics = {
  /** TCP + upgrade + `welcome`. */
  connectLatency: new Trend("lectern_connect_latency", true),
  /** `join_room` → `joined`. */
  joinLatency: new Trend("lectern_join_latency", true),
  /** Receive time − the send time written in the chat text (`t:<ms>:…`), at every receiver. */
  deliveryLatency: new Trend("lectern_delivery_latency", true),
  /** Request → `ack`, at the sender. */
  ackLatency: new Trend("lectern_ack_latency", true),
  /** A receiver saw seq N then more than N+1: events were lost. Must stay 0. */
  seqGaps: new Counter("lectern_seq_gaps"),
  /** How many seqs the gaps above skipped. */
  missingEvents: new Counter("lectern_missing_events"),
  /** A chat event at or below a seq the connection already had after `joined`. Must stay 0. */
  duplicates: new Counter("lectern_duplicates"),
  /** Chat events received (every receiver counts; the sender receives its own too). */
  delivered: new Counter("lectern_messages_delivered"),
  sent: new Counter("lectern_messages_sent"),
  acked: new Counter("lectern_messages_acked"),
  /** Requests still unanswered when their connection closed. */
  unacked: new Counter("lectern_messages_unacked"),
  /** Chat events a receiver should have had but did not (scenarios that know the expected count). */
  lostDeliveries: new Counter("lectern_lost_deliveries"),
  /** `error` frames, tagged with `code`. */
  errors: new Counter("lectern_errors"),
  connectOk: new Rate("lectern_connect_ok"),
  joinOk: new Rate("lectern_join_ok"),
  /** The connection saw its scenario's end marker and closed by itself. */
  completed: new Rate("lectern_completed"),
  /** `joined.recovered` after a resume with `since`. */
  recovered: new Rate("lectern_recovered"),
  /** Closes the client did not ask for, and socket errors (close codes other than 1000/1001 arrive as errors). */
  unexpectedCloses: new Counter("lectern_unexpected_closes")
};
var touched = false;
function touchMetrics() {
  if (touched) return;
  touched = true;
  const counters = [
    metrics.seqGaps,
    metrics.missingEvents,
    metrics.duplicates,
    metrics.delivered,
    metrics.sent,
    metrics.acked,
    metrics.unacked,
    metrics.lostDeliveries,
    metrics.errors,
    metrics.unexpectedCloses
  ];
  for (const counter of counters) counter.add(0);
}
var TOKEN_TTL_SECONDS = envNumber("TOKEN_TTL", 4 * 3600);
function signHs256(claims, secret) {
  const header = b64encode(JSON.stringify({ alg: "HS256", typ: "JWT" }), "rawurl");
  const payload = b64encode(JSON.stringify(claims), "rawurl");
  const signature = hmac("sha256", secret, `${header}.${payload}`, "base64rawurl");
  return `${header}.${payload}.${signature}`;
}
function tokenFor(who) {
  const secret = __ENV.JWT_SECRET;
  if (secret) {
    const now = Math.floor(Date.now() / 1e3);
    return signHs256(
      { sub: who.id, name: who.name || who.id, role: who.role || "learner", rooms: who.rooms, iat: now, exp: now + TOKEN_TTL_SECONDS },
      secret
    );
  }
  const endpoint = __ENV.LECTERN_TOKEN_URL;
  if (!endpoint) fail("set JWT_SECRET (the server's HS256 secret) or LECTERN_TOKEN_URL (a token endpoint)");
  const response = http.post(endpoint, JSON.stringify({ id: who.id, name: who.name || who.id, role: who.role || "learner" }), {
    headers: { "content-type": "application/json" },
    tags: { name: "token" }
  });
  const token = response.status === 200 ? response.json("token") : void 0;
  if (typeof token !== "string") fail(`token endpoint ${endpoint} answered ${response.status}: ${String(response.body).slice(0, 200)}`);
  return token;
}
function timedText(sender, n) {
  return `t:${Date.now()}:${sender}:${n}`;
}
function sentAtOf(text) {
  if (!text || text.charAt(0) !== "t" || text.charAt(1) !== ":") return NaN;
  return Number(text.slice(2, text.indexOf(":", 2)));
}
var LecternConnection = class {
  constructor(who, handlers, tags) {
    this.rooms = {};
    this.welcomed = false;
    this.closed = false;
    this.closing = false;
    this.pending = {};
    this.nextId = 1;
    /** `since` per room for the next `joined` (set by `resume`). */
    this.resumeFrom = {};
    this.identity = who;
    this.handlers = handlers;
    this.tags = tags || {};
    touchMetrics();
    const token = tokenFor(who);
    this.openedAt = Date.now();
    const separator = LECTERN_URL.indexOf("?") >= 0 ? "&" : "?";
    this.socket = new WebSocket(`${LECTERN_URL}${separator}token=${encodeURIComponent(token)}`, null, { tags: this.tags });
    this.socket.onopen = () => {
      if (this.closing) this.socket.close(1e3);
    };
    this.socket.onmessage = (event) => {
      if (event && typeof event.data === "string") this.receive(JSON.parse(event.data));
    };
    this.socket.onerror = (event) => {
      if (!this.welcomed) metrics.connectOk.add(false, this.tags);
      if (!this.closing) metrics.unexpectedCloses.add(1, { reason: event ? String(event.error).slice(0, 80) : "error" });
      this.finish(false);
    };
    this.socket.onclose = () => {
      if (!this.closing && !this.closed) metrics.unexpectedCloses.add(1, { reason: "closed by server" });
      this.finish(this.closing);
    };
  }
  get isOpen() {
    return Number(this.socket.readyState) === 1;
  }
  /** `join_room`; with `since`, the answer carries `missed` and `recovered`. */
  join(room, since) {
    const previous = this.rooms[room];
    this.rooms[room] = { lastSeq: -1, early: [], joinSentAt: Date.now(), chats: previous ? previous.chats : 0 };
    const frame = { type: "join_room", id: `join:${room}`, room };
    if (since !== void 0) frame.since = since;
    this.send(frame);
  }
  /** `chat_message`; `resend` for a queued message sent again (counted once in `lectern_messages_sent`). */
  chat(room, text, mid, resend) {
    const id = String(this.nextId++);
    this.pending[id] = { sentAt: Date.now(), kind: "chat", room, text, mid };
    if (!resend) metrics.sent.add(1, this.tags);
    const frame = { type: "chat_message", id, room, text };
    if (mid !== void 0) frame.mid = mid;
    this.send(frame);
  }
  sessionUpdate(room, state, data) {
    const id = String(this.nextId++);
    this.pending[id] = { sentAt: Date.now(), kind: "session", room };
    const frame = { type: "live_session_update", id, room };
    if (state !== void 0) frame.state = state;
    if (data !== void 0) frame.data = data;
    this.send(frame);
  }
  /** The highest seq processed in `room` (what to pass as `since` after a reconnect). */
  lastSeq(room) {
    const state = this.rooms[room];
    return state ? state.lastSeq : -1;
  }
  chatsReceived(room) {
    const state = this.rooms[room];
    return state ? state.chats : 0;
  }
  /**
   * Takes the unacknowledged chat messages out of this connection (they no longer count as
   * unacked when it closes), for resending with the same `mid` on the next connection.
   */
  takeQueue() {
    const queue = [];
    for (const id of Object.keys(this.pending)) {
      const pending = this.pending[id];
      if (pending.kind === "chat" && pending.text !== void 0) {
        queue.push({ room: pending.room, text: pending.text, mid: pending.mid });
        delete this.pending[id];
      }
    }
    return queue;
  }
  unanswered() {
    return Object.keys(this.pending).length;
  }
  /** Closes with 1000 (now, or as soon as the socket opens). Idempotent. */
  close() {
    if (this.closing || this.closed) return;
    this.closing = true;
    const state = Number(this.socket.readyState);
    if (state === 1) this.socket.close(1e3);
    else if (state !== 0) this.finish(true);
  }
  send(frame) {
    if (this.isOpen) this.socket.send(JSON.stringify(frame));
  }
  finish(expected) {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    const left = this.unanswered();
    if (left > 0) metrics.unacked.add(left, this.tags);
    if (this.handlers.onClose) this.handlers.onClose(this, expected);
  }
  receive(frame) {
    switch (frame.type) {
      case "welcome":
        this.welcomed = true;
        metrics.connectLatency.add(Date.now() - this.openedAt, this.tags);
        metrics.connectOk.add(true, this.tags);
        if (this.handlers.onWelcome) this.handlers.onWelcome(this);
        return;
      case "joined":
        this.joined(frame);
        return;
      case "ack": {
        const pending = frame.id !== void 0 ? this.pending[frame.id] : void 0;
        if (pending) {
          delete this.pending[frame.id];
          metrics.ackLatency.add(Date.now() - pending.sentAt, this.tags);
          if (pending.kind === "chat") metrics.acked.add(1, this.tags);
        }
        if (this.handlers.onAck) this.handlers.onAck(this, frame);
        return;
      }
      case "error": {
        metrics.errors.add(1, { code: frame.code || "unknown" });
        if (frame.id !== void 0) {
          if (frame.id.indexOf("join:") === 0) metrics.joinOk.add(false, this.tags);
          delete this.pending[frame.id];
        }
        if (this.handlers.onError) this.handlers.onError(this, frame);
        return;
      }
      case "pong":
      case "left":
        return;
      default:
        if (typeof frame.room === "string" && typeof frame.seq === "number") this.roomEvent(frame);
    }
  }
  joined(frame) {
    const room = frame.room;
    const state = this.rooms[room];
    if (!state || state.lastSeq >= 0) return;
    metrics.joinLatency.add(Date.now() - state.joinSentAt, this.tags);
    metrics.joinOk.add(true, this.tags);
    const head = typeof frame.seq === "number" ? frame.seq : 0;
    if (frame.recovered !== void 0) metrics.recovered.add(frame.recovered === true, this.tags);
    const since = this.resumeFrom[room];
    delete this.resumeFrom[room];
    if (since !== void 0 && frame.recovered === true) {
      state.lastSeq = since;
      for (const event of frame.missed || []) this.apply(state, event, false);
      if (state.lastSeq < head) {
        metrics.seqGaps.add(1, this.tags);
        metrics.missingEvents.add(head - state.lastSeq, this.tags);
        state.lastSeq = head;
      }
    } else {
      state.lastSeq = head;
    }
    const early = state.early.sort((a, b) => a.seq - b.seq);
    state.early = [];
    for (const event of early) if (event.seq > state.lastSeq) this.apply(state, event);
    if (this.handlers.onJoined) this.handlers.onJoined(this, room, frame);
  }
  /** `join_room` with `since` = the last seq another connection of this client processed. */
  resume(room, since, chatsSoFar) {
    this.resumeFrom[room] = since;
    this.join(room, since);
    this.rooms[room].chats = chatsSoFar;
  }
  roomEvent(frame) {
    const state = this.rooms[frame.room];
    if (!state) return;
    if (state.lastSeq < 0) {
      state.early.push(frame);
      return;
    }
    this.apply(state, frame);
  }
  apply(state, frame, live = true) {
    const seq = frame.seq;
    const isChat = frame.type === "chat_message";
    if (seq <= state.lastSeq) {
      if (isChat) metrics.duplicates.add(1, this.tags);
      return;
    }
    const from = frame.type === "presence_diff" && typeof frame.fromSeq === "number" ? frame.fromSeq : seq;
    if (from > state.lastSeq + 1) {
      metrics.seqGaps.add(1, this.tags);
      metrics.missingEvents.add(from - state.lastSeq - 1, this.tags);
    }
    state.lastSeq = seq;
    if (isChat) {
      state.chats++;
      metrics.delivered.add(1, this.tags);
      const sentAt = sentAtOf(frame.text);
      if (live && sentAt === sentAt) metrics.deliveryLatency.add(Date.now() - sentAt, this.tags);
    }
    if (this.handlers.onEvent) this.handlers.onEvent(this, frame);
  }
};
function after(ms, fn) {
  const id = setTimeout(fn, ms);
  return () => clearTimeout(id);
}

// load-tests/k6/src/lib/thresholds.ts
function correctnessThresholds() {
  return {
    lectern_seq_gaps: ["count==0"],
    lectern_duplicates: ["count==0"],
    lectern_lost_deliveries: ["count==0"],
    lectern_messages_unacked: ["count==0"],
    lectern_errors: ["count==0"],
    lectern_unexpected_closes: ["count==0"],
    lectern_connect_ok: ["rate==1"],
    lectern_join_ok: ["rate==1"],
    lectern_delivery_latency: [
      `p(95)<${envNumber("DELIVERY_P95_MS", 250)}`,
      `p(99)<${envNumber("DELIVERY_P99_MS", 1e3)}`
    ]
  };
}

// load-tests/k6/src/lecture.ts
var LEARNERS = envNumber("LEARNERS", 500);
var JOIN_RATE = envNumber("JOIN_RATE", 50);
var CHAT_RATE = envNumber("CHAT_RATE", 5);
var CHAT_SECONDS = envNumber("CHAT_SECONDS", 30);
var SLIDE_SECONDS = envNumber("SLIDE_SECONDS", 10);
var JOIN_SECONDS = Math.ceil(LEARNERS / Math.max(JOIN_RATE, 1e-3));
var GRACE_SECONDS = envNumber("GRACE_SECONDS", 30);
var TOTAL_SECONDS = JOIN_SECONDS + 5 + CHAT_SECONDS + GRACE_SECONDS;
var options = {
  scenarios: {
    learners: {
      executor: "per-vu-iterations",
      exec: "learner",
      vus: LEARNERS,
      iterations: 1,
      maxDuration: `${TOTAL_SECONDS + 30}s`
    },
    instructor: {
      executor: "per-vu-iterations",
      exec: "instructor",
      vus: 1,
      iterations: 1,
      // Starts once every learner should have joined.
      startTime: `${JOIN_SECONDS + 5}s`,
      maxDuration: `${CHAT_SECONDS + GRACE_SECONDS + 30}s`
    }
  },
  thresholds: Object.assign(correctnessThresholds(), {
    lectern_join_latency: [`p(95)<${envNumber("JOIN_P95_MS", 1e3)}`],
    // Every learner saw the session end after an unbroken run of seqs.
    lectern_completed: ["rate==1"],
    // At least one delivery per learner: a latency threshold alone passes when nothing arrives.
    lectern_messages_delivered: [`count>=${LEARNERS}`]
  })
};
function setup() {
  return { room: `${runPrefix("lecture")}-room` };
}
function learner(data) {
  sleep(exec.scenario.iterationInTest / JOIN_RATE);
  const id = `learner-${exec.scenario.iterationInTest}`;
  let cancelGiveUp = () => void 0;
  const connection = new LecternConnection(
    { id, role: "learner", rooms: [data.room] },
    {
      onWelcome: (c) => c.join(data.room),
      onEvent: (c, frame) => {
        if (frame.type === "live_session_update" && frame.state === "ended") {
          metrics.completed.add(true);
          cancelGiveUp();
          c.close();
        }
      },
      onClose: (_c, expected) => {
        if (!expected) metrics.completed.add(false);
        cancelGiveUp();
      }
    },
    { role: "learner" }
  );
  cancelGiveUp = after((TOTAL_SECONDS - exec.scenario.iterationInTest / JOIN_RATE) * 1e3, () => {
    metrics.completed.add(false);
    connection.close();
  });
}
function instructor(data) {
  const intervalMs = 1e3 / Math.max(CHAT_RATE, 1e-3);
  let sent = 0;
  let ticker = 0;
  let startedAt = 0;
  let nextSlideAt = 0;
  let slide = 0;
  let paused = false;
  let pausedOnce = false;
  const connection = new LecternConnection(
    { id: "instructor", role: "instructor", rooms: [data.room] },
    {
      onWelcome: (c) => c.join(data.room),
      onJoined: (c, room) => {
        c.sessionUpdate(room, "live", { slide });
        startedAt = Date.now();
        nextSlideAt = startedAt + SLIDE_SECONDS * 1e3;
        ticker = setInterval(() => {
          const now = Date.now();
          const elapsed = now - startedAt;
          if (elapsed >= CHAT_SECONDS * 1e3) {
            clearInterval(ticker);
            if (paused) {
              paused = false;
              c.sessionUpdate(room, "live");
            }
            after(1e3, () => c.sessionUpdate(room, "ended", { slide }));
            return;
          }
          while (sent * intervalMs <= elapsed) {
            c.chat(room, timedText("instructor", sent), `m${sent}`);
            sent++;
          }
          if (!pausedOnce && elapsed >= CHAT_SECONDS * 1e3 / 2) {
            pausedOnce = paused = true;
            c.sessionUpdate(room, "paused");
            after(1e3, () => {
              if (!paused) return;
              paused = false;
              c.sessionUpdate(room, "live");
            });
          }
          if (now >= nextSlideAt) {
            nextSlideAt += SLIDE_SECONDS * 1e3;
            c.sessionUpdate(room, void 0, { slide: slide++ });
          }
        }, 10);
      },
      onEvent: (c, frame) => {
        if (frame.type === "live_session_update" && frame.state === "ended") c.close();
      },
      onClose: () => {
        clearInterval(ticker);
        cancelGiveUp();
      }
    },
    { role: "instructor" }
  );
  const cancelGiveUp = after((CHAT_SECONDS + GRACE_SECONDS) * 1e3, () => connection.close());
}
export {
  instructor,
  learner,
  options,
  setup
};
