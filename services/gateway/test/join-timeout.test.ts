/**
 * Regression: a join whose answer timed out at the gateway left a ghost participant — the
 * owner had applied it, the client got `unavailable`, and nothing ever removed it (seen in
 * the W4 presence storm on NATS + Postgres). The gateway now undoes such a join.
 *
 * Black-box at the gateway's edges: a real uWS gateway on a free port, a plain WebSocket
 * client, and a stand-in room owner on the in-process bus that applies joins but answers late.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import pino from 'pino';
import WebSocket from 'ws';
import { createVerifier } from '@lectern/auth';
import { createMemoryBroker, type Bus } from '@lectern/bus';
import { encodeReply, type RoomCommand } from '@lectern/protocol';
import { startGateway, type Gateway } from '../src/index.js';

const SECRET = 'join-timeout-secret-0123456789';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
function token(sub: string): string {
  const data = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, rooms: ['*'], exp: Math.floor(Date.now() / 1000) + 600 })}`;
  return `${data}.${createHmac('sha256', SECRET).update(data).digest('base64url')}`;
}

describe('a join whose answer times out', () => {
  let gateway: Gateway;
  let owner: Bus;
  const commands: RoomCommand[] = [];

  beforeAll(async () => {
    const broker = createMemoryBroker();
    owner = broker.connect();
    // The stand-in owner applies every command; it answers joins only after the gateway gave up.
    await owner.subscribe(owner.subjects.shardCommands(owner.subjects.shardCount - 1).replace(/\.\d+\.>$/, '.*.>'), (message) => {
      const command = JSON.parse(new TextDecoder().decode(message.data)) as RoomCommand;
      commands.push(command);
      if (command.kind === 'join') setTimeout(() => message.respond(encodeReply({ ok: true, seq: 1 }, '"room":"r"}')), 600);
      else message.respond(encodeReply({ ok: true, seq: 2 }));
    });
    gateway = await startGateway({
      bus: broker.connect(),
      verifier: createVerifier({ secret: SECRET }),
      logger: pino({ level: 'silent' }),
      options: { host: '127.0.0.1', port: 0, gatewayId: 'gwtest', requestTimeoutMs: 200 },
    });
  });
  afterAll(async () => {
    await gateway?.stop(1000);
    await owner?.close();
  });

  it('answers unavailable and tells the owner the connection left, so no ghost stays in the room', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gateway.port}/ws?token=${token('alice')}`);
    const frames: Record<string, unknown>[] = [];
    ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'join_room', id: 'j1', room: 'lecture' }));
    await expect.poll(() => frames.find((f) => f.id === 'j1'), { timeout: 5000 }).toMatchObject({ type: 'error', code: 'unavailable' });
    await expect.poll(() => commands.map((c) => c.kind), { timeout: 5000 }).toEqual(['join', 'leave']);
    const [join, leave] = commands as [RoomCommand & { connection: { id: string } }, RoomCommand & { connection: { id: string }; reason: string }];
    expect(leave).toMatchObject({ room: 'lecture', reason: 'disconnected', connection: { id: join.connection.id } });
    ws.close();
  });
});
