import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The console is served by admin at /console (apps/admin/src/console): hashed files under dist/assets are cached
// for a year there, index.html never. `pnpm --filter @gtc/console dev` proxies the API to a running admin.
const admin = process.env.GTC_ADMIN_URL ?? `http://127.0.0.1:${process.env.ADMIN_PORT ?? 3001}`;

export default defineConfig({
  base: '/console/',
  plugins: [react()],
  resolve: {
    // The typed client from its TypeScript source (its dist is CommonJS for Node).
    alias: { '@gtc/client': fileURLToPath(new URL('../../libs/client/src/index.ts', import.meta.url)) },
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
  },
  server: { proxy: { '/v1': { target: admin, changeOrigin: false } } },
});
