import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Libraries resolve to their TypeScript sources in tests; services under test run from their build (dist).
const __dirname = fileURLToPath(new URL('.', import.meta.url));
const libs = readdirSync(resolve(__dirname, 'libs'));
const alias = Object.fromEntries(libs.map((l) => [`@gtc/${l}`, resolve(__dirname, `libs/${l}/src/index.ts`)]));

export default defineConfig({
  plugins: [swc.vite({ module: { type: 'es6' } })],
  resolve: { alias },
  test: {
    include: ['libs/**/*.spec.ts', 'libs/**/*.e2e.ts', 'apps/**/*.spec.ts', 'apps/**/*.e2e.ts', 'test/**/*.e2e.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    globalSetup: ['libs/testing/src/global-setup.ts'],
    reporters: ['default', './libs/testing/src/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
