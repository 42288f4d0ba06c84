// @ts-check
/**
 * Request/reply round trips per second with a fixed number in flight: the gateway → room
 * owner hot path (one request per chat message). A measurement, not a test.
 *
 *   npx tsc -b libs/bus && node libs/bus/bench/request-reply.mjs [--inflight 100] [--seconds 5] [--nats nats://127.0.0.1:4222]
 *
 * Two connections on each bus, like a gateway and a rooms host; 64-byte payloads; the
 * responder answers at once. Each run warms up for 1 s first.
 */
import { parseArgs } from 'node:util';
import { connectNatsBus, createMemoryBroker } from '../dist/index.js';

const { values } = parseArgs({
  options: {
    inflight: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '5' },
    nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
    'async-traces': { type: 'boolean', default: false },
  },
});
const inflight = Number(values.inflight);
const seconds = Number(values.seconds);
const payload = new Uint8Array(64).fill(120);

/** @param {import('../dist/index.js').Bus} requester @param {import('../dist/index.js').Bus} responder */
async function measure(requester, responder, label) {
  const subject = `${requester.subjects.prefix}.bench.cmd`;
  await responder.subscribe(subject, (message) => message.respond(message.data));
  const latencies = [];
  async function run(ms, record) {
    const end = performance.now() + ms;
    let done = 0;
    async function worker() {
      while (performance.now() < end) {
        const start = performance.now();
        await requester.request(subject, payload, { timeoutMs: 5_000 });
        if (record) latencies.push(performance.now() - start);
        done++;
      }
    }
    const started = performance.now();
    await Promise.all(Array.from({ length: inflight }, worker));
    return done / ((performance.now() - started) / 1000);
  }
  await run(1_000, false);
  const perSecond = await run(seconds * 1_000, true);
  latencies.sort((x, y) => x - y);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(2);
  console.log(
    `${label.padEnd(34)} ${Math.round(perSecond).toLocaleString('en').padStart(9)} req/s   p50 ${at(0.5)} ms   p99 ${at(0.99)} ms`,
  );
}

console.log(`node ${process.version}, ${inflight} in flight, ${seconds} s per run`);
const broker = createMemoryBroker();
const memoryA = broker.connect({ prefix: 'bench' });
const memoryB = broker.connect({ prefix: 'bench' });
await measure(memoryA, memoryB, 'memory');
await Promise.all([memoryA.close(), memoryB.close()]);

const natsOptions = { servers: values.nats, prefix: `bench${process.pid}`, asyncTraces: values['async-traces'] };
const natsA = await connectNatsBus({ ...natsOptions, name: 'bench-requester' });
const natsB = await connectNatsBus({ ...natsOptions, name: 'bench-responder' });
await measure(natsA, natsB, `nats ${values.nats}${values['async-traces'] ? ' (asyncTraces)' : ''}`);
await Promise.all([natsA.close(), natsB.close()]);
