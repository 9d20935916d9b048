import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

// The admin page: Preact with JSX compiled by Vite's own transformer (no framework plugin needed).
// `@vexil/core` is bundled from its TypeScript sources: it has no Node APIs, and the editor uses it for live
// validation and for previewing how a change affects sampled contexts.
const target = process.env.VEXIL_DEV_SERVER ?? 'http://127.0.0.1:1031';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  resolve: {
    alias: { '@vexil/core': fileURLToPath(new URL('../core/src/index.ts', import.meta.url)) },
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npm run dev -w @vexil/ui` next to a running `vexil serve`.
    proxy: Object.fromEntries(['/admin', '/ofrep', '/v1', '/health', '/openapi.json'].map((path) => [path, { target, changeOrigin: true }])),
  },
});
