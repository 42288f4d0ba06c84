import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { createMemoryBus } from '@lectern/bus';
import { encodeEventMessage } from '@lectern/protocol';
import { RoomTopics } from './room-topics.js';
import type { TemplatedApp } from './uws.js';

const flush = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('RoomTopics', () => {
  it('relays each seq of a room once, in order, even when a frame is published twice', async () => {
    const bus = createMemoryBus();
    const relayed: string[] = [];
    const app = { publish: (topic: string, frame: Uint8Array) => relayed.push(`${topic}:${new TextDecoder().decode(frame)}`) } as unknown as TemplatedApp;
    const topics = new RoomTopics(app, bus, pino({ level: 'silent' }));
    await topics.acquire('r1');
    topics.endJoin('r1', 0);
    const publish = (fromSeq: number, seq: number) => bus.publish(bus.subjects.events('r1'), encodeEventMessage(fromSeq, seq, `{"seq":${seq}}`));
    publish(1, 1);
    publish(2, 2);
    // An actor that lost a race republishes what it found in the log (2), then the room goes on.
    publish(2, 2);
    publish(1, 1);
    publish(3, 5);
    publish(4, 4);
    publish(6, 6);
    await flush();
    expect(relayed).toEqual(['r1:{"seq":1}', 'r1:{"seq":2}', 'r1:{"seq":5}', 'r1:{"seq":6}']);
    topics.release('r1');
    await bus.close();
  });
});
