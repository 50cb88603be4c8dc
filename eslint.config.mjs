// One lint setup for the whole workspace.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'libs/db/src/generated/**', 'libs/client/src/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.name='eval']", message: 'No eval.' }],
    },
  },
  // Plain Node scripts (pnpm start, pnpm bench, test helpers run in threads).
  {
    files: ['scripts/**/*.mjs', '**/scripts/**/*.mjs', '**/test/**/*.mjs'],
    languageOptions: {
      globals: Object.fromEntries(
        ['process', 'console', 'fetch', 'crypto', 'setTimeout', 'clearTimeout', 'setImmediate', 'performance', 'URL', 'Buffer'].map((g) => [g, 'readonly']),
      ),
    },
  },
  // Tests read untyped JSON answers (graph-sim, admin API) field by field.
  {
    files: ['**/*.e2e.ts', '**/*.spec.ts', 'libs/testing/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
