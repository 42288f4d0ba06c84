/**
 * The cluster test harness: a 3-node NATS cluster (extra `nats-server` processes on free
 * loopback ports), `lectern gateway` and `lectern rooms` processes of the real CLI, a TCP
 * proxy in front of Postgres (so a test can "stop Postgres" for Lectern without stopping the
 * database every other test uses), and simulated clients that fail over between gateways and
 * resume with `since`. Every process is started here and stopped by its pid in `stopAll`.
 *
 * Checks after each fault (`checkInvariants`): every acknowledged message is in the log once,
 * at the acked seq; the log's seqs are gapless; every member received every event of its
 * rooms after its first join, in seq order, with no gap (after resuming).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import pg from 'pg';
import { createTestSchema, uniqueSubjectPrefix } from '@lectern/test-support';
import { SECRET, token, type Frame } from './context.js';
import { CLI_MAIN, REPO_ROOT, freePort } from './processes.js';

export const NATS_SERVER = process.env.LECTERN_NATS_SERVER ?? '/usr/sbin/nats-server';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds; on timeout the error names `what` and, if given, `behind()`: what is still missing. */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, behind?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${behind === undefined ? '' : `: ${behind()}`}`);
    await sleep(50);
  }
}

// --- child processes --------------------------------------------------------------------------

const children = new Set<Child>();

export class Child {
  readonly output: string[] = [];
  exited: { code: number | null; signal: string | null } | undefined;
  private readonly exitPromise: Promise<void>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    children.add(this);
    child.stdout?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => this.output.push(chunk.toString()));
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = { code, signal };
        children.delete(this);
        resolve();
      });
    });
  }
  get pid(): number {
    return this.child.pid!;
  }
  get running(): boolean {
    return this.exited === undefined;
  }
  /** Signals this child by its pid and waits for it to be gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL', timeoutMs = 15_000): Promise<void> {
    if (this.running) process.kill(this.pid, signal);
    await Promise.race([this.exitPromise, sleep(timeoutMs)]);
    if (this.running) {
      process.kill(this.pid, 'SIGKILL');
      await this.exitPromise;
    }
  }
}

export class NatsNode {
  constructor(
    readonly child: Child,
    readonly port: number,
    readonly clusterPort: number,
    readonly dir: string,
  ) {}
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
}

async function waitForPort(port: number, child: Child, timeoutMs = 10_000): Promise<void> {
  await until(
    () =>
      new Promise<boolean>((resolve) => {
        if (!child.running) throw new Error(`${child.name} exited: ${child.output.join('')}`);
        const socket = createConnection({ host: '127.0.0.1', port }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(false));
      }),
    timeoutMs,
    `${child.name} on port ${port}`,
  );
}

/** Three nats-server processes routed to each other on loopback. */
export async function startNatsCluster(): Promise<NatsNode[]> {
  const ports = await Promise.all([0, 1, 2].map(async () => ({ port: await freePort(), cluster: await freePort() })));
  const nodes: NatsNode[] = [];
  for (const [index, { port, cluster }] of ports.entries()) {
    const dir = mkdtempSync(join(tmpdir(), 'lectern-nats-'));
    const routes = ports.filter((_, i) => i !== index).map((p) => `nats://127.0.0.1:${p.cluster}`).join(',');
    const args = ['-a', '127.0.0.1', '-p', String(port), '-n', `n${index + 1}`, '--cluster_name', 'lectern-test', '-cluster', `nats://127.0.0.1:${cluster}`, '-routes', routes, '-l', join(dir, 'nats.log')];
    const child = new Child(`nats-${index + 1}`, spawn(NATS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
    nodes.push(new NatsNode(child, port, cluster, dir));
  }
  for (const node of nodes) await waitForPort(node.port, node.child);
  await sleep(500); // routes connect
  return nodes;
}

// --- a TCP proxy in front of Postgres ------------------------------------------------------------

/** Forwards to Postgres; `down()` cuts every connection and refuses new ones until `up()`. */
export class PostgresProxy {
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<PostgresProxy> {
    const port = await freePort();
    let proxy: PostgresProxy | undefined;
    const server = createServer((client) => {
      if (proxy!.refusing) {
        client.destroy();
        return;
      }
      const upstream = createConnection(target);
      // Without this Nagle holds the protocol's small writes back (~40 ms per round trip).
      client.setNoDelay(true);
      upstream.setNoDelay(true);
      proxy!.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        proxy!.sockets.delete(client);
        proxy!.sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    proxy = new PostgresProxy(server, port);
    return proxy;
  }

  down(): void {
    this.refusing = true;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  up(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// --- Lectern processes ---------------------------------------------------------------------------

export interface LecternProcess {
  child: Child;
  role: 'gateway' | 'rooms';
  /** HTTP port: the gateway's PORT, or the rooms process' metrics port. */
  port: number;
  url: string;
}

export class Cluster {
  readonly prefix = uniqueSubjectPrefix();
  readonly gateways: LecternProcess[] = [];
  readonly rooms: LecternProcess[] = [];
  nats: NatsNode[] = [];
  proxy!: PostgresProxy;
  databaseUrl!: string;
  directUrl!: string;
  schema!: string;
  private dropSchema: () => Promise<void> = async () => undefined;

  async start(): Promise<void> {
    this.nats = await startNatsCluster();
    const schema = await createTestSchema('cluster');
    this.schema = schema.schema;
    this.directUrl = schema.url;
    this.dropSchema = schema.drop;
    const direct = new URL(schema.url);
    this.proxy = await PostgresProxy.start({ host: direct.hostname, port: Number(direct.port || 5432) });
    const proxied = new URL(schema.url);
    proxied.port = String(this.proxy.port);
    this.databaseUrl = proxied.toString();
    const client = new pg.Client({ connectionString: this.directUrl });
    await client.connect();
    try {
      // Kysely's migrator looks for its tables in every schema (see processes.ts).
      await client.query(`create table if not exists "${this.schema}".event_store_migration (name varchar(255) not null primary key, timestamp varchar(255) not null)`);
      await client.query(`create table if not exists "${this.schema}".event_store_migration_lock (id varchar(255) not null primary key, is_locked integer not null default 0)`);
    } finally {
      await client.end();
    }
  }

  private baseEnv(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? tmpdir(),
      JWT_SECRET: SECRET,
      LOG_LEVEL: process.env.LECTERN_TEST_LOG_LEVEL ?? 'warn',
      LECTERN_SUBJECT_PREFIX: this.prefix,
      HOST: '127.0.0.1',
    };
  }

  /** `lectern rooms` on the given NATS node; resolves once it serves /metrics. */
  async startRooms(natsIndex: number, extraEnv: Record<string, string> = {}): Promise<LecternProcess> {
    const port = await freePort();
    const env = { ...this.baseEnv(), NATS_URL: this.nats[natsIndex]!.url, DATABASE_URL: this.databaseUrl, LECTERN_METRICS_PORT: String(port), ...extraEnv };
    const child = new Child(`rooms-${this.rooms.length + 1}`, spawn(process.execPath, [CLI_MAIN, 'rooms'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    const started: LecternProcess = { child, role: 'rooms', port, url: `http://127.0.0.1:${port}` };
    await until(async () => {
      if (!child.running) throw new Error(`${child.name} exited: ${child.output.join('')}`);
      return (await this.metric(started, 'lectern_shards_owned')) !== undefined;
    }, 30_000, `${child.name} ready`);
    this.rooms.push(started);
    return started;
  }

  /** `lectern gateway` on the given NATS node; resolves once /readyz answers 200. */
  async startGateway(natsIndex: number, extraEnv: Record<string, string> = {}): Promise<LecternProcess> {
    const port = await freePort();
    const env = { ...this.baseEnv(), NATS_URL: this.nats[natsIndex]!.url, PORT: String(port), LECTERN_REQUEST_TIMEOUT_MS: '2000', ...extraEnv };
    const child = new Child(`gateway-${this.gateways.length + 1}`, spawn(process.execPath, [CLI_MAIN, 'gateway'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    await until(async () => {
      if (!child.running) throw new Error(`${child.name} exited: ${child.output.join('')}`);
      try {
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
      } catch {
        return false;
      }
    }, 30_000, `${child.name} ready`);
    const started: LecternProcess = { child, role: 'gateway', port, url: `ws://127.0.0.1:${port}/ws` };
    this.gateways.push(started);
    return started;
  }

  /** A metric of a rooms process (first sample), or undefined when it does not answer. */
  async metric(process: LecternProcess, name: string): Promise<number | undefined> {
    try {
      const text = await (await fetch(`${process.url}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
      return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
    } catch {
      return undefined;
    }
  }

  /** Shards owned per live rooms process. */
  async shares(): Promise<number[]> {
    const live = this.rooms.filter((r) => r.child.running);
    return Promise.all(live.map(async (r) => (await this.metric(r, 'lectern_shards_owned')) ?? -1));
  }

  liveGatewayUrls(): string[] {
    return this.gateways.filter((g) => g.child.running).map((g) => g.url);
  }

  async query<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: this.directUrl });
    await client.connect();
    try {
      return (await client.query<T>(text, values)).rows;
    } finally {
      await client.end();
    }
  }

  /** Every process killed by pid, the proxy closed, the schema dropped. */
  async stopAll(): Promise<void> {
    const all = [...children, ...this.rooms.map((r) => r.child), ...this.gateways.map((g) => g.child)];
    await Promise.all([...children].map((child) => child.kill('SIGKILL').catch(() => undefined)));
    // LECTERN_CLUSTER_LOGS=<dir>: keep every process' output there, for reading a failure.
    const logDir = process.env.LECTERN_CLUSTER_LOGS;
    if (logDir !== undefined) {
      mkdirSync(logDir, { recursive: true });
      for (const child of new Set(all)) writeFileSync(join(logDir, `${child.name}.log`), child.output.join(''));
    }
    await this.proxy?.close().catch(() => undefined);
    for (const node of this.nats) rmSync(node.dir, { recursive: true, force: true });
    await this.dropSchema().catch(() => undefined);
  }
}

// --- simulated members ---------------------------------------------------------------------------

interface RoomView {
  /** Seq of the first `joined`: this member must see every event after it. */
  joinedAt: number | undefined;
  last: number;
  /** Seqs received in order (after dropping repeats). */
  received: number[];
  problems: string[];
}

interface Outgoing {
  room: string;
  mid: string;
  text: string;
  queuedAt: number;
}

/**
 * A member of some rooms that sends chats with mids, retries `unavailable` and unanswered
 * requests with the same mid, and on a lost socket (or a seq gap) reconnects to the next live
 * gateway and rejoins every room with `since`.
 */
export class Member {
  readonly rooms = new Map<string, RoomView>();
  readonly acked = new Map<string, { room: string; seq: number }>();
  readonly queue: Outgoing[] = [];
  unavailable = 0;
  reconnects = 0;
  /** Queue-to-ack time of each acked chat (ms): what a member waits through a fault. */
  latencies: number[] = [];
  private ws: WebSocket | undefined;
  private connected = false;
  private inFlight: { out: Outgoing; id: string; sentAt: number } | undefined;
  private counter = 0;
  private pendingJoins = new Map<string, string>();
  private stopped = false;
  private gatewayIndex: number;
  connectionId = '';
  gatewayUrl = '';
  private preferred: string | undefined;

  constructor(
    readonly id: string,
    private readonly cluster: Cluster,
    roomIds: string[],
    gatewayIndex: number,
  ) {
    this.gatewayIndex = gatewayIndex;
    for (const room of roomIds) this.rooms.set(room, { joinedAt: undefined, last: 0, received: [], problems: [] });
  }

  get ready(): boolean {
    return this.connected && this.pendingJoins.size === 0 && [...this.rooms.values()].every((r) => r.joinedAt !== undefined);
  }

  async connect(): Promise<void> {
    if (this.stopped) return;
    const urls = this.cluster.liveGatewayUrls();
    if (urls.length === 0) throw new Error('no live gateway');
    const preferred = this.preferred;
    this.preferred = undefined;
    const url = preferred !== undefined && urls.includes(preferred) ? preferred : urls[this.gatewayIndex % urls.length]!;
    this.gatewayUrl = url;
    const ws = new WebSocket(`${url}?token=${token({ sub: this.id, rooms: ['*'] })}`);
    this.ws = ws;
    this.connected = false;
    this.pendingJoins.clear();
    this.inFlight = undefined;
    ws.on('message', (data) => this.onFrame(ws, JSON.parse(data.toString()) as Frame));
    ws.on('close', () => this.onLost(ws));
    ws.on('error', () => undefined);
  }

  private onLost(ws: WebSocket): void {
    if (ws !== this.ws || this.stopped) return;
    this.ws = undefined;
    this.connected = false;
    this.reconnects++;
    this.gatewayIndex++;
    this.reconnectSoon();
  }

  private reconnectSoon(): void {
    setTimeout(() => {
      if (this.stopped) return;
      this.connect().catch(() => this.reconnectSoon());
    }, 100 + Math.random() * 200);
  }

  /** Drops the socket and resumes on the gateway at `url`. */
  moveTo(url: string): void {
    this.preferred = url;
    this.ws?.terminate();
  }

  /** Drops the socket and resumes elsewhere (a gap was seen). */
  private resume(): void {
    const ws = this.ws;
    if (ws === undefined) return;
    ws.terminate();
  }

  private onFrame(ws: WebSocket, frame: Frame): void {
    if (ws !== this.ws) return;
    if (frame.type === 'welcome') {
      this.connectionId = frame.connectionId as string;
      this.connected = true;
      for (const [room, view] of this.rooms) {
        const id = `j${++this.counter}`;
        this.pendingJoins.set(id, room);
        ws.send(JSON.stringify({ type: 'join_room', room, id, ...(view.joinedAt !== undefined ? { since: view.last } : {}) }));
      }
      return;
    }
    if (frame.type === 'joined' && this.pendingJoins.has(frame.id as string)) {
      this.pendingJoins.delete(frame.id as string);
      const view = this.rooms.get(frame.room as string)!;
      if (view.joinedAt === undefined) {
        view.joinedAt = frame.seq as number;
        view.last = frame.seq as number;
      } else if (frame.recovered !== true) {
        view.problems.push(`resume not recovered at ${String(frame.seq)} (since ${view.last})`);
        view.last = frame.seq as number;
      } else {
        for (const event of frame.missed as Frame[]) this.onEvent(view, event);
        if (view.last < (frame.seq as number)) view.problems.push(`missed ended at ${view.last}, joined at ${String(frame.seq)}`);
      }
      this.pump();
      return;
    }
    if (frame.type === 'error' && typeof frame.id === 'string' && frame.id.startsWith('j')) {
      // A join refused (unavailable while shards move): try again.
      const room = this.pendingJoins.get(frame.id);
      if (room !== undefined) {
        this.pendingJoins.delete(frame.id);
        setTimeout(() => {
          if (ws !== this.ws) return;
          const view = this.rooms.get(room)!;
          const id = `j${++this.counter}`;
          this.pendingJoins.set(id, room);
          ws.send(JSON.stringify({ type: 'join_room', room, id, ...(view.joinedAt !== undefined ? { since: view.last } : {}) }));
        }, 200);
      }
      return;
    }
    if (this.inFlight !== undefined && frame.id === this.inFlight.id) {
      const { out } = this.inFlight;
      this.inFlight = undefined;
      if (frame.type === 'ack') {
        this.acked.set(out.mid, { room: out.room, seq: frame.seq as number });
        this.latencies.push(Date.now() - out.queuedAt);
        this.queue.shift();
        this.pump();
      } else if (frame.type === 'error' && (frame.code === 'unavailable' || frame.code === 'rate_limited')) {
        this.unavailable++;
        setTimeout(() => this.pump(), (frame.retryAfterMs as number | undefined) ?? 200);
      } else {
        throw new Error(`${this.id}: unexpected answer ${JSON.stringify(frame)}`);
      }
      return;
    }
    if (typeof frame.seq === 'number' && typeof frame.room === 'string' && frame.type !== 'ack' && frame.type !== 'joined') {
      const view = this.rooms.get(frame.room);
      if (view === undefined || view.joinedAt === undefined) return;
      if (!this.onEvent(view, frame)) this.resume();
    }
  }

  /** False on a gap (the caller resumes). */
  private onEvent(view: RoomView, event: Frame): boolean {
    const first = event.type === 'presence_diff' ? ((event.fromSeq as number | undefined) ?? (event.seq as number)) : (event.seq as number);
    if ((event.seq as number) <= view.last) return true; // seen before a reconnect
    if (first !== view.last + 1) return false;
    for (let seq = first; seq <= (event.seq as number); seq++) view.received.push(seq);
    view.last = event.seq as number;
    return true;
  }

  send(room: string): void {
    const mid = `${this.id}-${this.queue.length + this.acked.size}-${Math.random().toString(36).slice(2, 6)}`;
    this.queue.push({ room, mid, text: mid, queuedAt: Date.now() });
    this.pump();
  }

  /** Sends the head of the queue, one request at a time (so acks come in send order). */
  pump(): void {
    const ws = this.ws;
    if (ws === undefined || !this.ready || this.inFlight !== undefined) return;
    const out = this.queue[0];
    if (out === undefined) return;
    const id = `c${++this.counter}`;
    this.inFlight = { out, id, sentAt: Date.now() };
    ws.send(JSON.stringify({ type: 'chat_message', room: out.room, text: out.text, mid: out.mid, id }));
  }

  /** A request unanswered for long (the socket died under it) is sent again with its mid. */
  watchdog(): void {
    if (this.inFlight !== undefined && Date.now() - this.inFlight.sentAt > 6000) {
      this.inFlight = undefined;
      this.pump();
    }
    if (this.ready) this.pump();
  }

  close(): void {
    this.stopped = true;
    this.ws?.terminate();
  }
}

/** Members, their rooms and a steady chat load. */
export class Workload {
  readonly members: Member[] = [];
  private timer: NodeJS.Timeout | undefined;
  private watchdogTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cluster: Cluster,
    readonly roomIds: string[],
    membersPerRoom: number,
  ) {
    let n = 0;
    for (const room of roomIds) {
      for (let i = 0; i < membersPerRoom; i++) this.members.push(new Member(`u${n}`, cluster, [room], n++));
    }
  }

  async connect(): Promise<void> {
    await Promise.all(this.members.map((member) => member.connect()));
    await until(() => this.members.every((member) => member.ready), 30_000, 'every member joined');
    this.watchdogTimer = setInterval(() => this.members.forEach((member) => member.watchdog()), 500);
  }

  /** Each member queues one chat every `everyMs`. */
  startLoad(everyMs: number): void {
    this.stopLoad();
    this.timer = setInterval(() => {
      for (const member of this.members) if (member.queue.length < 5) member.send([...member.rooms.keys()][0]!);
    }, everyMs);
  }

  stopLoad(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Waits until every queued chat is acked and every member is live at its rooms' heads. */
  async settle(timeoutMs = 30_000): Promise<void> {
    this.stopLoad();
    const unacked = (): string[] => this.members.filter((member) => member.queue.length > 0 || !member.ready).map((member) => `${member.id} (queued ${member.queue.length}, ready ${String(member.ready)})`);
    await until(() => unacked().length === 0, timeoutMs, 'every chat acked', () => unacked().slice(0, 10).join(', '));
    const heads = await this.heads();
    const lagging = (): string[] =>
      this.members.flatMap((member) => [...member.rooms].filter(([room, view]) => view.last < (heads.get(room) ?? 0)).map(([room, view]) => `${member.id} in ${room} at ${view.last} of ${heads.get(room) ?? 0}`));
    await until(() => lagging().length === 0, timeoutMs, "every member at its rooms' head", () => lagging().slice(0, 10).join(', '));
  }

  async heads(): Promise<Map<string, number>> {
    const rows = await this.cluster.query<{ room_id: string; head: string }>(`select room_id, max(seq) as head from "${this.cluster.schema}".room_events group by room_id`);
    return new Map(rows.map((row) => [row.room_id, Number(row.head)]));
  }

  close(): void {
    this.stopLoad();
    if (this.watchdogTimer !== undefined) clearInterval(this.watchdogTimer);
    for (const member of this.members) member.close();
  }

  /** Totals since the last call (latencies are taken, so each phase reports its own). */
  stats(): { acked: number; unavailable: number; reconnects: number; p50: number; p99: number; maxWaitMs: number } {
    let acked = 0;
    let unavailable = 0;
    let reconnects = 0;
    const latencies: number[] = [];
    for (const member of this.members) {
      acked += member.acked.size;
      unavailable += member.unavailable;
      reconnects += member.reconnects;
      latencies.push(...member.latencies.splice(0));
    }
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
    return { acked, unavailable, reconnects, p50: at(0.5), p99: at(0.99), maxWaitMs: latencies.at(-1) ?? 0 };
  }

  /** Every invariant of the cluster tests; returns the problems found (empty = all good). */
  async checkInvariants(): Promise<string[]> {
    const problems: string[] = [];
    const rows = await this.cluster.query<{ room_id: string; seq: string; type: string; mid: string | null }>(
      `select room_id, seq, type, data->>'mid' as mid from "${this.cluster.schema}".room_events order by room_id, seq`,
    );
    const byRoom = new Map<string, { seq: number; type: string; mid: string | null }[]>();
    for (const row of rows) {
      let list = byRoom.get(row.room_id);
      if (list === undefined) byRoom.set(row.room_id, (list = []));
      list.push({ seq: Number(row.seq), type: row.type, mid: row.mid });
    }
    const midAt = new Map<string, { room: string; seq: number; count: number }>();
    for (const [room, events] of byRoom) {
      events.forEach((event, i) => {
        if (event.seq !== i + 1) problems.push(`${room}: log seq ${event.seq} at position ${i + 1} (gap or fork)`);
        if (event.mid !== null) {
          const seen = midAt.get(event.mid);
          if (seen !== undefined) seen.count++;
          else midAt.set(event.mid, { room, seq: event.seq, count: 1 });
        }
      });
    }
    for (const [mid, at] of midAt) if (at.count > 1) problems.push(`mid ${mid} logged ${at.count} times`);
    // The correlation id follows every member's command from the gateway into the log.
    const withoutCid = await this.cluster.query<{ n: string }>(
      `select count(*) as n from "${this.cluster.schema}".room_events where meta ? 'connection' and not meta ? 'cid'`,
    );
    if (Number(withoutCid[0]!.n) > 0) problems.push(`${withoutCid[0]!.n} events of members' commands have no correlation id in meta`);
    for (const member of this.members) {
      for (const [mid, ack] of member.acked) {
        const at = midAt.get(mid);
        if (at === undefined) problems.push(`${member.id}: acked ${mid} (seq ${ack.seq}) is not in the log`);
        else if (at.room !== ack.room || at.seq !== ack.seq) problems.push(`${member.id}: acked ${mid} at seq ${ack.seq}, logged at ${at.seq}`);
      }
      for (const [room, view] of member.rooms) {
        problems.push(...view.problems.map((p) => `${member.id} ${room}: ${p}`));
        const head = byRoom.get(room)?.length ?? 0;
        const expected = Array.from({ length: head - (view.joinedAt ?? head) }, (_, i) => (view.joinedAt ?? 0) + i + 1);
        if (view.received.join(',') !== expected.join(',')) {
          problems.push(`${member.id} ${room}: received ${view.received.length} events after seq ${String(view.joinedAt)}, the log has ${expected.length}`);
        }
      }
    }
    return problems;
  }
}
