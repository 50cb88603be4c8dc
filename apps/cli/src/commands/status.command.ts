import { Command } from 'commander';
import { AdminClient, AdminOptions } from '../admin-client';
import { CliError } from '../errors';
import { out, table } from '../output';

/** The services and their health URLs: GTC_<SERVICE>_URL, else localhost on the service's port variable (ports of ARCHITECTURE.md). */
export const SERVICES = [
  { name: 'ingress', option: 'ingressUrl', env: 'GTC_INGRESS_URL', portEnv: 'INGRESS_PORT', port: 3000 },
  { name: 'admin', option: 'adminUrl', env: 'GTC_ADMIN_URL', portEnv: 'ADMIN_PORT', port: 3001 },
  {
    name: 'graph-sim',
    option: 'graphSimUrl',
    env: 'GTC_GRAPH_SIM_URL',
    portEnv: 'GRAPH_SIM_PORT',
    port: 3002,
  },
  {
    name: 'flow-runner',
    option: 'flowRunnerUrl',
    env: 'GTC_FLOW_RUNNER_URL',
    portEnv: 'FLOW_RUNNER_PORT',
    port: 3010,
  },
  { name: 'sender', option: 'senderUrl', env: 'GTC_SENDER_URL', portEnv: 'SENDER_PORT', port: 3020 },
  {
    name: 'event-dispatcher',
    option: 'eventDispatcherUrl',
    env: 'GTC_EVENT_DISPATCHER_URL',
    portEnv: 'EVENT_DISPATCHER_PORT',
    port: 3030,
  },
] as const;

/** A service's default URL: localhost on its port variable, else its default port. */
const defaultUrl = (s: (typeof SERVICES)[number]) => `http://localhost:${process.env[s.portEnv] || s.port}`;

/** Health of one service: `ok`, `degraded` (answers, but not ready) or `down`. */
async function probe(url: string): Promise<{ status: string; detail: string }> {
  try {
    const res = await fetch(`${url.replace(/\/+$/, '')}/health`, { signal: AbortSignal.timeout(3_000) });
    const body = (await res.json().catch(() => ({}))) as { checks?: Record<string, { status?: string }> };
    const checks = Object.entries(body.checks ?? {})
      .map(([k, v]) => `${k}:${v?.status ?? '?'}`)
      .join(' ');
    return { status: res.ok ? 'ok' : 'degraded', detail: checks || `HTTP ${res.status}` };
  } catch (e) {
    const cause = (e as { cause?: { code?: string } }).cause;
    return { status: 'down', detail: cause?.code ?? (e as Error).message };
  }
}

/** How a team's provider checks webhook signatures, as `gtc status` and `gtc setup` say it. */
export function signatures(p: { has_app_secret: boolean; insecure_skip_signature: boolean }): string {
  if (p.insecure_skip_signature) return 'NOT checked (insecure_skip_signature, local development only)';
  return p.has_app_secret ? 'checked with the app secret' : 'not configured';
}

/** Registers `gtc status`. */
export function statusCommand(program: Command, admin: () => AdminOptions): void {
  const cmd = program
    .command('status')
    .description(
      'health of every service (ingress, admin, graph-sim, flow-runner, sender, event-dispatcher); with --tenant and --team, also whether that provider checks webhook signatures',
    )
    .option('--tenant <slug>', "with --team: show this team's provider too")
    .option('--team <slug>', 'with --tenant')
    .option('--json', 'print JSON');
  for (const s of SERVICES) {
    if (s.name !== 'admin')
      cmd.option(
        `--${s.name}-url <url>`,
        `${s.name} base URL (env ${s.env}, default http://localhost:$${s.portEnv}, else :${s.port})`,
      );
  }
  cmd.action(async (o: Record<string, string | boolean | undefined>) => {
    const globals = program.opts<{ adminUrl?: string }>();
    const rows = await Promise.all(
      SERVICES.map(async (s) => {
        const url =
          (s.name === 'admin' ? globals.adminUrl : (o[s.option] as string | undefined)) ||
          process.env[s.env] ||
          defaultUrl(s);
        return { service: s.name, url, ...(await probe(url)) };
      }),
    );
    let provider: { tenant: string; team: string; signatures: string } | undefined;
    if (o.tenant || o.team) {
      if (!o.tenant || !o.team) throw new CliError('--tenant and --team go together', 2);
      const c = AdminClient.from(admin());
      const p = await c.call(
        c.api.GET('/v1/tenants/{tenant}/teams/{team}/provider', {
          params: { path: { tenant: String(o.tenant), team: String(o.team) } },
        }),
      );
      provider = { tenant: String(o.tenant), team: String(o.team), signatures: signatures(p) };
    }
    if (o.json) out(JSON.stringify(provider ? { services: rows, provider } : rows, null, 2));
    else {
      table(rows, ['service', 'url', 'status', 'detail']);
      if (provider) out(`provider ${provider.tenant}/${provider.team}: signatures: ${provider.signatures}`);
    }
    const problems: string[] = [];
    const bad = rows.filter((r) => r.status !== 'ok');
    if (bad.length)
      problems.push(`${bad.length} service(s) not healthy: ${bad.map((r) => r.service).join(', ')}`);
    if (provider?.signatures === 'not configured') {
      problems.push(
        `provider ${provider.tenant}/${provider.team}: no app secret, so ingress refuses its webhooks; add it with gtc setup --app-secret`,
      );
    }
    if (problems.length) throw new CliError(problems.join('; '));
  });
}
