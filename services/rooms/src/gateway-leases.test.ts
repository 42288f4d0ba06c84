import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { createMemoryBroker } from '@lectern/bus';
import { encodeReply, type RoomCommand } from '@lectern/protocol';
import type { ActorHost } from './actor-host.js';
import { GatewayLeases } from './gateway-leases.js';

/** A host that records the commands it gets and answers ok. */
function fakeHost(gatewaysByRoom: Record<string, string[]> = {}) {
  const sent: RoomCommand[] = [];
  const host = {
    dispatch(_room: string, command: RoomCommand, respond: (bytes: Uint8Array) => void) {
      sent.push(command);
      // As the room does: the gateway's connections are gone once gateway_down is applied.
      if (command.kind === 'gateway_down') gatewaysByRoom[command.room] = (gatewaysByRoom[command.room] ?? []).filter((g) => g !== command.gateway);
      respond(encodeReply({ ok: true }));
    },
    rooms: () => Object.keys(gatewaysByRoom).map((room) => [room, { gateways: () => gatewaysByRoom[room]! }] as const)[Symbol.iterator](),
  } as unknown as ActorHost;
  return { host, sent };
}

async function setup(gatewaysByRoom: Record<string, string[]> = {}) {
  let clock = 1_000_000;
  const { host, sent } = fakeHost(gatewaysByRoom);
  const leases = new GatewayLeases({
    bus: createMemoryBroker().connect({ prefix: 'lt' }),
    host,
    owns: () => true,
    logger: pino({ level: 'silent' }),
    now: () => clock,
    options: { leaseMs: 10_000, checkEveryMs: 1000 },
  });
  await leases.start();
  const advance = (ms: number) => {
    // Checks run every second of (fake) time, as the real timer would.
    for (let t = 0; t < ms; t += 1000) {
      clock += 1000;
      leases.check();
    }
  };
  return { leases, sent, advance, jump: (ms: number) => (clock += ms) };
}

describe('gateway leases', () => {
  it('given a gateway silent for the lease, when checked, then its rooms get gateway_down once', async () => {
    const { leases, sent, advance } = await setup();
    leases.announced({ gateway: 'gwa', rooms: ['r1', 'r2'] });
    advance(9000);
    expect(sent).toEqual([]);
    advance(2000);
    expect(sent.map((c) => [c.kind, c.room, (c as { gateway: string }).gateway])).toEqual([
      ['gateway_down', 'r1', 'gwa'],
      ['gateway_down', 'r2', 'gwa'],
    ]);
    advance(5000);
    expect(sent).toHaveLength(2);
    leases.stop();
  });

  it('a stall of this process does not count as the gateways\' silence', async () => {
    const { leases, sent, advance, jump } = await setup();
    leases.announced({ gateway: 'gwa', rooms: ['r1'] });
    jump(15_000); // the event loop was blocked; the announcements are still queued
    leases.check();
    leases.announced({ gateway: 'gwa', rooms: ['r1'] });
    advance(5000);
    expect(sent).toEqual([]);
    expect(leases.isAlive('gwa')).toBe(true);
    leases.stop();
  });

  it('members on a gateway never heard from in a full lease time out; a live one is kept', async () => {
    const { leases, sent, advance } = await setup({ r1: ['gwold', 'gwlive'] });
    for (let i = 0; i < 6; i++) {
      leases.announced({ gateway: 'gwlive', rooms: ['r1'] });
      advance(2000);
    }
    expect(sent.map((c) => (c as { gateway: string }).gateway)).toEqual(['gwold']);
    leases.stop();
  });
});
