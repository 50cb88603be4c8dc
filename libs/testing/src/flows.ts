import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PrismaClient } from '@gtc/db';
import { loadFlow } from '@gtc/flows';
import type { TestProvider } from './fixtures';

/** The repository's examples/flows directory. */
export const EXAMPLE_FLOWS_DIR = resolve(__dirname, '../../../examples/flows');

/** Loads .ygtc files (default: the examples bundle) as active flows of the provider's team. */
export async function installFlows(prisma: PrismaClient, provider: TestProvider, sources?: Record<string, string>): Promise<void> {
  const files =
    sources ??
    Object.fromEntries(
      readdirSync(EXAMPLE_FLOWS_DIR)
        .filter((f) => f.endsWith('.ygtc'))
        .map((f) => [f, readFileSync(resolve(EXAMPLE_FLOWS_DIR, f), 'utf8')]),
    );
  for (const [file, source] of Object.entries(files)) {
    const loaded = loadFlow(source, file);
    if (!loaded.ok) throw new Error(`${file}: ${loaded.errors.map((e) => `${e.line}:${e.column} ${e.message}`).join('; ')}`);
    await prisma.flow.create({
      data: {
        tenantId: provider.tenantId,
        teamId: provider.teamId,
        name: loaded.flow.name,
        version: loaded.flow.version,
        revision: 1,
        fileName: file,
        source,
        compiled: loaded.flow as object,
        active: true,
      },
    });
  }
}
