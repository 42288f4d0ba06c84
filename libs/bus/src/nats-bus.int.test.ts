import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { NATS_URL, hasNats, uniqueSubjectPrefix } from '@lectern/test-support';
import { defineBusContract } from './bus.contract.js';
import type { BusStatusType } from './bus.js';
import { connectNatsBus, type NatsBus } from './nats-bus.js';

const natsUp = await hasNats();
const prefix = uniqueSubjectPrefix();
const NATS_SERVER = process.env.LECTERN_NATS_SERVER_BIN ?? '/usr/sbin/nats-server';
const text = (value: string) => new TextEncoder().encode(value);
const read = (data: Uint8Array) => new TextDecoder().decode(data);

describe.skipIf(!natsUp)('NatsBus: the bus contract', () => {
  defineBusContract({
    prefix,
    async connectPair(options) {
      const [a, b] = await Promise.all([
        connectNatsBus({ servers: NATS_URL, prefix, name: 'contract-a', ...options }),
        connectNatsBus({ servers: NATS_URL, prefix, name: 'contract-b', ...options }),
      ]);
      return { a, b };
    },
  });
});

// --- A NATS server of our own, to kill and restart -------------------------------------------

const started: ChildProcess[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Starts nats-server on the port and resolves once it says it is ready. */
function startNatsServer(port: number): Promise<ChildProcess> {
  const child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  started.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`nats-server on port ${port} not ready in 10 s:\n${output}`)), 10_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${NATS_SERVER} (set LECTERN_NATS_SERVER_BIN): ${error.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code} before it was ready:\n${output}`));
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Server is ready')) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve(child);
      }
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    process.kill(child.pid!, 'SIGKILL');
  });
}

function nextStatus(bus: NatsBus, type: BusStatusType): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${type}' status within 15 s`)), 15_000);
    const stopListening = bus.onStatus((status) => {
      if (status.type !== type) return;
      clearTimeout(timer);
      stopListening();
      resolve();
    });
  });
}

afterAll(async () => {
  await Promise.all(started.map(stop));
});

describe.skipIf(!natsUp)('NatsBus: reconnect', () => {
  it('reconnects after the server restarts, and its subscriptions resume', async () => {
    const port = await freePort();
    let server = await startNatsServer(port);
    const options = { servers: `nats://127.0.0.1:${port}`, prefix, reconnectTimeWaitMs: 50, reconnectJitterMs: 10 };
    const gateway = await connectNatsBus({ ...options, name: 'reconnect-gateway' });
    const rooms = await connectNatsBus({ ...options, name: 'reconnect-rooms' });
    try {
      const command = `${prefix}.reconnect.cmd`;
      const events = `${prefix}.reconnect.evt`;
      await rooms.subscribe(command, (message) => message.respond(text(`ack:${read(message.data)}`)));
      const received: string[] = [];
      let onEvent = () => {};
      await gateway.subscribe(events, (message) => {
        received.push(read(message.data));
        onEvent();
      });
      expect(read(await gateway.request(command, text('before'), { timeoutMs: 5_000 }))).toBe('ack:before');

      const disconnected = Promise.all([nextStatus(gateway, 'disconnected'), nextStatus(rooms, 'disconnected')]);
      await stop(server);
      await disconnected;
      expect(gateway.isConnected()).toBe(false);

      const reconnected = Promise.all([nextStatus(gateway, 'reconnected'), nextStatus(rooms, 'reconnected')]);
      server = await startNatsServer(port);
      await reconnected;
      expect(gateway.isConnected()).toBe(true);
      expect(rooms.isConnected()).toBe(true);

      // The client re-sent its SUBs on reconnect; a round trip makes sure the server has them.
      await Promise.all([gateway.flush(), rooms.flush()]);
      expect(read(await gateway.request(command, text('after'), { timeoutMs: 5_000 }))).toBe('ack:after');
      const eventArrived = new Promise<void>((resolve) => (onEvent = resolve));
      rooms.publish(events, text('event after restart'));
      await eventArrived;
      expect(received).toEqual(['event after restart']);
    } finally {
      await Promise.all([gateway.close(), rooms.close()]);
      await stop(server);
    }
  });

  it('fails to connect with a message naming the server when nothing listens', async () => {
    const port = await freePort();
    await expect(connectNatsBus({ servers: `nats://127.0.0.1:${port}`, connectTimeoutMs: 1_000 })).rejects.toMatchObject({
      code: 'disconnected',
      message: expect.stringContaining(`127.0.0.1:${port}`),
    });
  });
});
