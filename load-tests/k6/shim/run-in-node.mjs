#!/usr/bin/env node
// Runs a k6 scenario of ../src in Node against a live server, with a small shim of the k6 APIs
// the scenarios use (shim/k6/*): a smoke test of the scripts' logic where k6 is not installable.
// It is not k6: `sleep` does nothing (starts are not staggered), VUs are concurrent async
// contexts in one process, executors are approximated, and only the threshold forms the
// scenarios use are evaluated. Keep sizes small.
//
//   JWT_SECRET=... LECTERN_URL=ws://127.0.0.1:5000/ws node load-tests/k6/shim/run-in-node.mjs lecture -e LEARNERS=20
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));
const [scenario, ...rest] = process.argv.slice(2);
if (!scenario) {
  console.error('usage: node run-in-node.mjs <lecture|classrooms|reconnect_storm|connect_ramp> [-e NAME=value ...]');
  process.exit(64);
}
const env = { ...process.env };
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '-e') {
    const [k, ...v] = rest[++i].split('=');
    env[k] = v.join('=');
  }
}
globalThis.__ENV = env;

// Next to this file, so the bundle resolves `ws` from the repository's node_modules.
const outfile = join(here, `.bundle-${process.pid}.mjs`);
await build({
  stdin: {
    contents: `export * as script from ${JSON.stringify(join(here, '../src', `${scenario}.ts`))};\nexport * as runtime from ${JSON.stringify(join(here, 'k6/runtime.ts'))};`,
    resolveDir: here,
    loader: 'ts',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  outfile,
  alias: { k6: join(here, 'k6') },
  external: ['ws'],
  logLevel: 'warning',
});
let loaded;
try {
  loaded = await import(pathToFileURL(outfile).href);
} finally {
  rmSync(outfile, { force: true });
}
const { script, runtime } = loaded;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const data = script.setup ? script.setup() : undefined;
let vuIds = 0;

function runVu(fn, scenarioName, iterationInTest) {
  return new Promise((resolve, reject) => {
    const context = { vu: ++vuIds, scenario: scenarioName, iterationInTest, pending: 1, done: resolve };
    runtime.als.run(context, () => {
      try {
        fn(data);
      } catch (error) {
        reject(error);
        return;
      }
      if (--context.pending === 0) resolve();
    });
  });
}

const seconds = (s) => (s ? Number(String(s).replace(/s$/, '')) : 0);
const startedAt = Date.now();
const runs = [];
for (const [name, config] of Object.entries(script.options.scenarios)) {
  const fn = config.exec ? script[config.exec] : script.default;
  runs.push((async () => {
    await sleep(seconds(config.startTime) * 1000);
    if (config.executor === 'per-vu-iterations') {
      await Promise.all(Array.from({ length: config.vus }, (_, i) => runVu(fn, name, i)));
    } else if (config.executor === 'ramping-arrival-rate') {
      // Linear from startRate to each stage's target, one iteration per arrival.
      const vus = [];
      let rate = config.startRate;
      let due = 0;
      let index = 0;
      const t0 = Date.now();
      let elapsed = 0;
      for (const stage of config.stages) {
        const duration = seconds(stage.duration);
        for (let t = 0; t < duration; t += 0.01) {
          const r = rate + ((stage.target - rate) * t) / duration;
          due += r * 0.01;
          while (due >= 1) {
            due -= 1;
            const at = (elapsed + t) * 1000;
            const wait = at - (Date.now() - t0);
            if (wait > 0) await sleep(wait);
            vus.push(runVu(fn, name, index++));
          }
        }
        elapsed += duration;
        rate = stage.target;
      }
      await Promise.all(vus);
    } else {
      throw new Error(`k6 shim: executor ${config.executor} not supported`);
    }
  })());
}
await Promise.all(runs);

// ---- summary and thresholds
const aggregate = (metric, filter) => {
  const values = runtime.samples.filter((s) => s.metric === metric && Object.entries(filter).every(([k, v]) => s.tags[k] === v));
  const type = runtime.declared.get(metric) ?? 'counter';
  const nums = values.map((s) => s.value).sort((a, b) => a - b);
  const percentile = (p) => (nums.length ? nums[Math.min(nums.length - 1, Math.ceil((p / 100) * nums.length) - 1)] : 0);
  return {
    type,
    count: type === 'counter' ? nums.reduce((a, b) => a + b, 0) : nums.length,
    rate: nums.length ? nums.filter((v) => v !== 0).length / nums.length : 0,
    avg: nums.length ? nums.reduce((a, b) => a + b, 0) / nums.length : 0,
    min: nums[0] ?? 0,
    max: nums[nums.length - 1] ?? 0,
    med: percentile(50),
    p: percentile,
  };
};
let failed = 0;
console.log(`\n${scenario}: ${((Date.now() - startedAt) / 1000).toFixed(1)} s in the shim`);
for (const [spec, expressions] of Object.entries(script.options.thresholds ?? {})) {
  const match = /^([\w]+)(?:\{(.*)\})?$/.exec(spec);
  const filter = Object.fromEntries((match[2] ?? '').split(',').filter(Boolean).map((kv) => kv.split(':').map((x) => x.trim())));
  const a = aggregate(match[1], filter);
  for (const expression of expressions) {
    const m = /^(count|rate|avg|min|max|med|p\((\d+(?:\.\d+)?)\))\s*(<=|>=|===|==|!=|<|>)\s*([\d.]+)$/.exec(expression);
    if (!m) throw new Error(`k6 shim: cannot evaluate threshold ${expression}`);
    const value = m[2] !== undefined ? a.p(Number(m[2])) : a[m[1]];
    const bound = Number(m[4]);
    const ok = { '<': value < bound, '<=': value <= bound, '>': value > bound, '>=': value >= bound, '==': value === bound, '===': value === bound, '!=': value !== bound }[m[3]];
    if (!ok) failed++;
    console.log(`${ok ? '  ✓' : '  ✗'} ${spec} ${expression}  (${m[1]} = ${Math.round(value * 1000) / 1000})`);
  }
}
for (const name of [...runtime.declared.keys()].sort()) {
  const a = aggregate(name, {});
  const shown = a.type === 'trend' ? `avg ${a.avg.toFixed(1)} p95 ${a.p(95)} p99 ${a.p(99)} max ${a.max} (n=${a.count})` : a.type === 'rate' ? `${(a.rate * 100).toFixed(2)}% of ${a.count}` : `${a.count}`;
  console.log(`  ${name.padEnd(30)} ${shown}`);
}
process.exit(failed ? 99 : 0);
