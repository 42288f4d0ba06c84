import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// k6 is not installable here, so the scenarios are checked the two ways that can be: they
// type-check against @types/k6 0.48, and their bundles hold no syntax k6 v0.48 rejects.
const k6Dir = fileURLToPath(new URL('../k6/', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const SCENARIOS = ['lecture', 'classrooms', 'reconnect_storm', 'connect_ramp'];

/** The code without comments (they may say anything) and without string contents. */
function codeOnly(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:\\])\/\/.*$/gm, '$1')
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, '""');
}

describe('k6 scenarios', () => {
  it('type-check against @types/k6', () => {
    const tsc = join(repoRoot, 'node_modules/.bin/tsc');
    // Throws with tsc's diagnostics in the message when the check fails.
    execFileSync(tsc, ['--noEmit', '-p', join(k6Dir, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
  });

  it('bundle to ES2015 with no ??, ?. or object spread, and the committed bundles are current', async () => {
    const { bundle } = (await import(join(k6Dir, 'build.mjs'))) as { bundle: (outdir: string) => Promise<string[]> };
    const outdir = mkdtempSync(join(tmpdir(), 'lectern-k6-'));
    try {
      const files = await bundle(outdir);
      expect(files.map((f) => f.split('/').pop())).toEqual(SCENARIOS.map((s) => `${s}.js`));
      for (const name of SCENARIOS) {
        const fresh = readFileSync(join(outdir, `${name}.js`), 'utf8');
        const code = codeOnly(fresh);
        expect(code, `${name}: ??`).not.toMatch(/\?\?/);
        expect(code, `${name}: ?.`).not.toMatch(/\?\.(?!\d)/);
        expect(code, `${name}: spread`).not.toMatch(/\.\.\./);
        // Only k6's own modules are left to import.
        for (const match of fresh.matchAll(/^import .* from "([^"]+)";$/gm)) expect(match[1]).toMatch(/^k6(\/|$)/);
        expect(fresh).toMatch(/export \{[^}]*options/);
        const committed = readFileSync(join(k6Dir, 'dist', `${name}.js`), 'utf8');
        expect(committed, `load-tests/k6/dist/${name}.js is stale: run node load-tests/k6/build.mjs`).toBe(fresh);
      }
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 20_000);
});
