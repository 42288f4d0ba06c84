import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

// Tests import workspace packages from source, so `vitest` needs no build step for libs.
export default defineConfig({
  resolve: {
    alias: {
      '@lectern/protocol': src('./libs/protocol/src/index.ts'),
      '@lectern/auth': src('./libs/auth/src/index.ts'),
      '@lectern/room': src('./libs/room/src/index.ts'),
      '@lectern/event-store': src('./libs/event-store/src/index.ts'),
      '@lectern/bus': src('./libs/bus/src/index.ts'),
      '@lectern/test-support': src('./libs/test-support/src/index.ts'),
      '@lectern/rooms': src('./services/rooms/src/index.ts'),
      '@lectern/gateway': src('./services/gateway/src/index.ts'),
      '@lectern/cli': src('./services/cli/src/index.ts'),
      '@lectern/client': src('./libs/client/src/index.ts'),
      '@lectern/react': src('./libs/react/src/index.ts'),
    },
  },
  test: {
    include: ['libs/**/*.test.ts', 'libs/**/*.test.tsx', 'services/**/*.test.ts', 'load-tests/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
