// The committed client is what the admin API's code generates now: any change to a route, parameter or answer
// schema that is not regenerated (`pnpm build && pnpm --filter @gtc/client generate`) fails here.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateClientSources, OUTPUTS } from '../scripts/generate.mjs';

describe('@gtc/client generated sources', () => {
  it('openapi.json and src/generated/schema.ts match what the admin API generates', async () => {
    const now = (await generateClientSources()) as { document: string; types: string };
    const hint =
      'the client drifted from the admin API: run `pnpm build && pnpm --filter @gtc/client generate` and commit';
    expect(readFileSync(OUTPUTS.document, 'utf8'), hint).toBe(now.document);
    expect(readFileSync(OUTPUTS.types, 'utf8'), hint).toBe(now.types);
  });
});
