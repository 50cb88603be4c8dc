import { Command } from 'commander';
import { CliError } from '../errors';
import { out, table } from '../output';

/** The services and their default health URLs (ports of ARCHITECTURE.md). */
export const SERVICES = [
  { name: 'ingress', option: 'ingressUrl', env: 'GTC_INGRESS_URL', url: 'http://localhost:3000' },
  { name: 'admin', option: 'adminUrl', env: 'GTC_ADMIN_URL', url: 'http://localhost:3001' },
  { name: 'graph-sim', option: 'graphSimUrl', env: 'GTC_GRAPH_SIM_URL', url: 'http://localhost:3002' },
  { name: 'flow-runner', option: 'flowRunnerUrl', env: 'GTC_FLOW_RUNNER_URL', url: 'http://localhost:3010' },
  { name: 'sender', option: 'senderUrl', env: 'GTC_SENDER_URL', url: 'http://localhost:3020' },
] as const;

/** Health of one service: `ok`, `degraded` (answers, but not ready) or `down`. */
async function probe(url: string): Promise<{ status: string; detail: string }> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/health`, { signal: AbortSignal.timeout(3_000) });
    const body = (await res.json().catch(() => ({}))) as { checks?: Record<string, { status?: string }> };
    const checks = Object.entries(body.checks ?? {}).map(([k, v]) => `${k}:${v?.status ?? '?'}`).join(' ');
    return { status: res.ok ? 'ok' : 'degraded', detail: checks || `HTTP ${res.status}` };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    return { status: 'down', detail: cause?.code ?? (e as Error).message };
  }
}

/** Registers `gtc status`. */
export function statusCommand(program: Command): void {
  const cmd = program.command('status').description('health of every service (ingress, admin, graph-sim, flow-runner, sender)').option('--json', 'print JSON');
  for (const s of SERVICES) {
    if (s.name !== 'admin') cmd.option(`--${s.name}-url <url>`, `${s.name} base URL (env ${s.env}, default ${s.url})`);
  }
  cmd.action(async (o: Record<string, string | boolean | undefined>) => {
    const globals = program.opts<{ adminUrl?: string }>();
    const rows = await Promise.all(
      SERVICES.map(async (s) => {
        const url = (s.name === 'admin' ? globals.adminUrl : (o[s.option] as string | undefined)) || process.env[s.env] || s.url;
        return { service: s.name, url, ...(await probe(url)) };
      }),
    );
    if (o.json) out(JSON.stringify(rows, null, 2));
    else table(rows, ['service', 'url', 'status', 'detail']);
    const bad = rows.filter((r) => r.status !== 'ok');
    if (bad.length) throw new CliError(`${bad.length} service(s) not healthy: ${bad.map((r) => r.service).join(', ')}`);
  });
}
