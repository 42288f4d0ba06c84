#!/usr/bin/env node
// Bundles each scenario in src/ into dist/<name>.js for k6: ES2015 (k6 v0.48 rejects `??`,
// `?.` and object spread; esbuild lowers them), ESM, with k6's own modules left as imports.
// Run from anywhere: `node load-tests/k6/build.mjs`. The bundles are committed, so
// `k6 run load-tests/k6/dist/lecture.js` works without Node.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

export const SCENARIOS = ['lecture', 'classrooms', 'reconnect_storm', 'connect_ramp'];
const here = fileURLToPath(new URL('.', import.meta.url));

export async function bundle(outdir = `${here}dist`) {
  await build({
    entryPoints: SCENARIOS.map((name) => `${here}src/${name}.ts`),
    outdir,
    bundle: true,
    format: 'esm',
    target: 'es2015',
    platform: 'neutral',
    external: ['k6', 'k6/*'],
    legalComments: 'none',
    logLevel: 'warning',
  });
  return SCENARIOS.map((name) => `${outdir}/${name}.js`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = await bundle(process.argv[2]);
  console.log(`bundled ${files.length} k6 scenarios into ${process.argv[2] ?? `${here}dist`}`);
}
