// The admin API's OpenAPI document is complete and lints clean: Redocly's recommended rules with no error, and on
// every /v1 operation a summary, a tag, the key it takes, its answers (JSON schema for every JSON success, the one
// error shape for the rest) and a description on every parameter. The document is printed by the built admin's
// docs/openapi.cli.js, which starts nothing.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { describe, expect, it } from 'vitest';

interface Operation {
  summary?: string;
  description?: string;
  tags?: string[];
  security?: unknown[];
  parameters?: Array<{ name: string; in: string; description?: string }>;
  responses: Record<string, { $ref?: string; content?: Record<string, { schema?: unknown }> }>;
  'x-gtc-key'?: string;
}

const root = resolve(__dirname, '../../..');
const text = execFileSync(process.execPath, [resolve(root, 'apps/admin/dist/docs/openapi.cli.js')], {
  env: { PATH: process.env.PATH },
  encoding: 'utf8',
});
const doc = JSON.parse(text) as {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
};
const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
  Object.entries(item).map(([method, op]) => ({ path, method, op })),
);
const v1 = operations.filter((o) => o.path.startsWith('/v1/'));

describe('the OpenAPI document', () => {
  it('lints with no error under Redocly recommended (warnings: only health routes without a 4xx)', async () => {
    const problems = await lintFromString({
      source: text,
      absoluteRef: '/openapi.json',
      config: await createConfig({ extends: ['recommended'] }),
    });
    const shown = problems.map((p) => `${p.severity} ${p.ruleId} ${p.location[0]?.pointer}: ${p.message}`);
    expect(shown.filter((s) => s.startsWith('error'))).toEqual([]);
    expect(shown.filter((s) => !s.startsWith('error')).sort()).toEqual([
      'warn operation-4xx-response #/paths/~1health/get/responses: Operation must have at least one `4XX` response.',
      'warn operation-4xx-response #/paths/~1health~1live/get/responses: Operation must have at least one `4XX` response.',
    ]);
  });

  it('every /v1 operation has a summary, one tag, the key it takes and bearer security', () => {
    expect(v1.length).toBeGreaterThan(45);
    for (const { path, method, op } of v1) {
      const at = `${method.toUpperCase()} ${path}`;
      expect(op.summary, at).toMatch(/^[A-Z]/);
      expect(op.tags, at).toHaveLength(1);
      expect(['admin', 'admin-or-tenant'], at).toContain(op['x-gtc-key']);
      expect(op.description, at).toContain('**Key:**');
      expect(op.security, at).toEqual([{ bearer: [] }]);
    }
    // Spot checks of the key rule against the guard.
    expect(doc.paths['/v1/tenants'].post['x-gtc-key']).toBe('admin');
    expect(doc.paths['/v1/tenants/{tenant}/api-keys'].get['x-gtc-key']).toBe('admin');
    expect(doc.paths['/v1/tenants/{tenant}/messages'].post['x-gtc-key']).toBe('admin-or-tenant');
  });

  it('every success answer has its schema, every error answer the error shape', () => {
    for (const { path, method, op } of v1) {
      const at = `${method.toUpperCase()} ${path}`;
      const success = Object.entries(op.responses).filter(([s]) => s.startsWith('2'));
      expect(success.length, at).toBeGreaterThan(0);
      for (const [status, r] of success) {
        if (status === '204') continue;
        const content = r.content ?? {};
        const schema = Object.values(content)[0]?.schema;
        expect(schema, `${at} ${status}`).toBeTruthy();
      }
      for (const status of ['400', '401', '403', '404', '429'])
        expect(op.responses[status]?.$ref, `${at} ${status}`).toMatch(/^#\/components\/responses\//);
    }
    expect(doc.components.schemas.Error).toBeTruthy();
  });

  it('every path and query parameter is described; lists take limit and cursor', () => {
    for (const { path, method, op } of v1) {
      for (const p of op.parameters ?? [])
        expect(p.description, `${method.toUpperCase()} ${path} ${p.in} ${p.name}`).toBeTruthy();
    }
    const messages = doc.paths['/v1/tenants/{tenant}/messages'].get.parameters!.map((p) => p.name);
    expect(messages).toEqual(
      expect.arrayContaining([
        'tenant',
        'direction',
        'state',
        'team',
        'contact',
        'since',
        'until',
        'limit',
        'cursor',
      ]),
    );
  });

  it('the auth scheme is an API key as a bearer token, not a JWT', () => {
    const schemes = (doc.components as { securitySchemes?: Record<string, Record<string, unknown>> })
      .securitySchemes;
    expect(schemes?.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(schemes?.bearer.bearerFormat).toBeUndefined();
  });
});
