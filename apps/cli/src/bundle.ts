import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './errors';

/** Tenant and team used when neither flags nor the bundle file name them. */
export const DEFAULT_TENANT = 'default';
export const DEFAULT_TEAM = 'default';

/** The bundle files that may name the tenant and team, in the order they are looked for. */
export const BUNDLE_FILES = ['bundle.json', 'gtc.json'];

/** The flow written into a new bundle. */
export const STARTER_FLOW = `# Starter flow created by \`gtc setup\`: answers every text message.
name: welcome
version: "1.0"
nodes:
  - id: greet
    type: reply
    config:
      message: "Hello! How can I help you today?"
triggers:
  - type: message
    target: greet
`;

/** One flow file of a bundle. */
export interface BundleFlow {
  file: string;
  path: string;
  source: string;
}

/** Creates a missing bundle directory with flows/welcome.ygtc; returns whether it was created. */
export function ensureBundle(dir: string): boolean {
  if (existsSync(dir)) return false;
  mkdirSync(join(dir, 'flows'), { recursive: true });
  writeFileSync(join(dir, 'flows', 'welcome.ygtc'), STARTER_FLOW);
  return true;
}

/** Reads `{ tenant, team }` from the bundle's bundle.json or gtc.json, if there is one. */
export function bundleTarget(dir: string): { tenant?: string; team?: string; file?: string } {
  for (const name of BUNDLE_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new CliError(`${path}: not valid JSON (${(err as Error).message})`);
    }
    const o = (json ?? {}) as Record<string, unknown>;
    const str = (v: unknown, key: string) => {
      if (v === undefined) return undefined;
      if (typeof v !== 'string' || !v) throw new CliError(`${path}: "${key}" must be a non-empty string`);
      return v;
    };
    return { tenant: str(o.tenant, 'tenant'), team: str(o.team, 'team'), file: path };
  }
  return {};
}

/** The bundle's flows/*.ygtc files, sorted by name. */
export function bundleFlows(dir: string): BundleFlow[] {
  const flowsDir = join(dir, 'flows');
  if (!existsSync(flowsDir)) return [];
  return readdirSync(flowsDir)
    .filter((f) => f.endsWith('.ygtc'))
    .sort()
    .map((f) => ({
      file: join('flows', f),
      path: join(flowsDir, f),
      source: readFileSync(join(flowsDir, f), 'utf8'),
    }));
}
