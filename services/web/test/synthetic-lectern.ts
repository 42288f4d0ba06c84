/**
 * A stand-in Lectern for measuring the browser side alone: it serves services/web/dist, hands
 * out development tokens, and on /ws speaks enough of PROTOCOL.md to push room events at a
 * fixed rate (chat plus presence). The real server's throughput is measured in load-tests/;
 * here the question is what applying a given event rate costs the tab.
 */
import { createServer, type Server } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { REPO } from './harness.js';

const DIST = join(REPO, 'services/web/dist');
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.map': 'application/json' };

export interface SyntheticLectern {
  port: number;
  /** Starts pushing `perSecond` events to every joined socket: `chatShare` of them chat, the rest presence. */
  startLoad(perSecond: number, chatShare: number): void;
  stopLoad(): void;
  sent(): number;
  close(): Promise<void>;
}

function fakeToken(name: string, role: string): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const sub = name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, name, role, exp: Math.floor(Date.now() / 1000) + 3600 })}.x`;
}

export async function startSyntheticLectern(): Promise<SyntheticLectern> {
  const http: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname === '/dev/token') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const { name, role } = JSON.parse(body) as { name: string; role: string };
        const token = fakeToken(name, role);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, user: { id: name.toLowerCase().replace(/[^a-z0-9]+/g, '-'), name, role } }));
      });
      return;
    }
    const file = normalize(join(DIST, url.pathname));
    const path = file.startsWith(DIST) && existsSync(file) && extname(file) !== '' ? file : join(DIST, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
  });
  const wss = new WebSocketServer({ server: http, path: '/ws' });
  const joined = new Map<WebSocket, string>();
  let seq = 0;
  let sent = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  const crowd = Array.from({ length: 40 }, (_, i) => ({ id: `p${i}`, name: `Person ${i}`, role: 'learner' }));
  const churn = Array.from({ length: 20 }, (_, i) => ({ id: `c${i}`, name: `Churner ${i}`, role: 'learner', present: false }));

  wss.on('connection', (ws, req) => {
    const token = new URL(req.url ?? '', 'http://x').searchParams.get('token') ?? '';
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString() || '{}') as { sub?: string; name?: string; role?: string };
    const user = { id: claims.sub ?? 'anon', name: claims.name ?? 'anon', role: claims.role ?? 'learner' };
    ws.send(JSON.stringify({ type: 'welcome', connectionId: 'synthetic', user, protocol: 1, heartbeatMs: 30000, limits: { maxFrameBytes: 16384, maxTextChars: 2000, maxRooms: 50, ratePerSecond: 20, burst: 40 } }));
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string; id?: string; room?: string; ts?: number };
      if (frame.type === 'join_room') {
        joined.set(ws, frame.room!);
        ws.send(JSON.stringify({ type: 'joined', id: frame.id, room: frame.room, seq, participants: [{ ...user, connections: 1 }, ...crowd.map((p) => ({ ...p, connections: 1 }))], session: { state: 'live', data: {}, updatedAt: Date.now() }, history: [] }));
      } else if (frame.type === 'leave_room') {
        joined.delete(ws);
        ws.send(JSON.stringify({ type: 'left', id: frame.id, room: frame.room }));
      } else if (frame.type === 'ping') {
        ws.send(JSON.stringify({ type: 'pong', id: frame.id, ts: frame.ts, serverTs: Date.now() }));
      }
    });
    ws.on('close', () => joined.delete(ws));
  });

  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as { port: number }).port;

  const broadcast = (event: Record<string, unknown>) => {
    for (const [ws, room] of joined) {
      ws.send(JSON.stringify({ ...event, room }));
      sent++;
    }
  };

  return {
    port,
    startLoad(perSecond, chatShare) {
      const tickMs = 10;
      let due = 0;
      let n = 0;
      const started = Date.now();
      timer = setInterval(() => {
        // Catch up to the exact rate whatever the timer's jitter.
        const target = Math.floor(((Date.now() - started) / 1000) * perSecond);
        for (; due < target; due++) {
          n++;
          if ((n % 100) / 100 < chatShare) {
            const from = crowd[n % crowd.length]!;
            broadcast({ type: 'chat_message', seq: ++seq, ts: Date.now(), from: { id: from.id, name: from.name, role: from.role }, text: `Question ${n}: could you go over the last step again?`, mid: `m${n}` });
          } else {
            const person = churn[n % churn.length]!;
            person.present = !person.present;
            broadcast({ type: person.present ? 'user_joined' : 'user_left', seq: ++seq, ts: Date.now(), user: { id: person.id, name: person.name, role: person.role }, connections: person.present ? 1 : 0, ...(person.present ? {} : { reason: 'disconnected' }) });
          }
        }
      }, tickMs);
    },
    stopLoad() {
      clearInterval(timer);
    },
    sent: () => sent,
    async close() {
      clearInterval(timer);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
