/** The browser build of the client: no Node-only imports, and small (issue: < 8 KB min+gzip). */
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

it('bundles for the browser with no Node imports, under 8 KB min+gzip', async () => {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('../src/index.ts', import.meta.url))],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.contents;
  const gzipped = gzipSync(code, { level: 9 }).length;
  console.log(`@lectern/client bundle: ${code.length} B min, ${gzipped} B min+gzip`);
  expect(new TextDecoder().decode(code)).not.toMatch(/from\s*["']node:|require\(["'](fs|net|tls|http|crypto)["']\)/);
  expect(gzipped).toBeLessThan(8 * 1024);
});
