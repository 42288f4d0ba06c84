import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the app with hot reload and forwards the server's paths to a Lectern
// on :5000 (`npm start` at the root); `vite build` writes dist/, which `lectern start` serves.
const lectern = process.env.LECTERN_URL ?? 'http://localhost:5000';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/ws': { target: lectern.replace(/^http/, 'ws'), ws: true },
      '/dev': lectern,
      '/v1': lectern,
    },
  },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
});
