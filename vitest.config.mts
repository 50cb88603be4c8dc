import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// Libraries resolve to their TypeScript sources in tests; services under test run from their build (dist).
const __dirname = fileURLToPath(new URL('.', import.meta.url));
// `@gtc/<lib>` is its index; a subpath export `@gtc/<lib>/<file>` is that file (see the lib's package.json exports).
const libs = readdirSync(resolve(__dirname, 'libs')).join('|');
const alias = [
  { find: new RegExp(`^@gtc/(${libs})$`), replacement: resolve(__dirname, 'libs/$1/src/index.ts') },
  { find: new RegExp(`^@gtc/(${libs})/([\\w.-]+)$`), replacement: resolve(__dirname, 'libs/$1/src/$2.ts') },
];

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
