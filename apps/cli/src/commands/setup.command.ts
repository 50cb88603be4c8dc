import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { loadFlow } from '@gtc/flows';
import type { Schemas } from '@gtc/client';
import { AdminApiError, AdminClient, AdminOptions } from '../admin-client';
import { DEFAULTS, parseAnswers } from '../answers';
import { DEFAULT_TEAM, DEFAULT_TENANT, bundleFlows, bundleTarget, ensureBundle } from '../bundle';
import { CliError } from '../errors';
import { err, formatIssue, out } from '../output';
import { signatures } from './status.command';

interface SetupOptions extends AdminOptions {
  answers: string;
  tenant?: string;
  team?: string;
  appSecret?: string;
}

/** Where the Meta app secret may come from, in this order (the provider page's answers.json has none). */
export const APP_SECRET_SOURCES =
  '--app-secret <secret>, GTC_APP_SECRET=<secret>, or "app_secret" in the messaging-whatsapp section of answers.json';

const slug = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** `gtc setup --answers answers.json ./my-bundle`: tenant, team, provider and flows, idempotently. */
export async function runSetup(bundleArg: string, opts: SetupOptions): Promise<void> {
  // 1. Answers: every missing or invalid option is named before anything else happens.
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(resolve(opts.answers), 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new CliError(
      code === 'ENOENT'
        ? `answers file not found: ${opts.answers}`
        : `${opts.answers}: not valid JSON (${(e as Error).message})`,
    );
  }
  const answers = parseAnswers(doc);
  if (!answers.ok) {
    for (const p of answers.problems) err(p);
    throw new CliError(
      `${opts.answers}: ${answers.problems.length} problem(s) with the provider options; nothing was changed`,
    );
  }
  for (const k of answers.unknown)
    err(`warning: ${opts.answers}: unknown option messaging-whatsapp.${k} ignored`);

  // 2. Bundle: created with a starter flow when missing; tenant/team from flags, bundle file, or defaults.
  const dir = resolve(bundleArg);
  if (ensureBundle(dir)) out(`Created bundle ${bundleArg} with a starter flow (flows/welcome.ygtc)`);
  const fromFile = bundleTarget(dir);
  const tenant = opts.tenant ?? fromFile.tenant ?? DEFAULT_TENANT;
  const team = opts.team ?? fromFile.team ?? DEFAULT_TEAM;
  for (const [what, value] of [
    ['tenant', tenant],
    ['team', team],
  ] as const) {
    if (!slug.test(value))
      throw new CliError(`${what} "${value}": expected lower-case letters, digits, - or _ (e.g. "default")`);
  }

  // 3. Every flow validated before anything changes.
  const flows = bundleFlows(dir);
  const problems: string[] = [];
  for (const f of flows) {
    const result = loadFlow(f.source, f.file);
    if (!result.ok) problems.push(...result.errors.map(formatIssue));
  }
  if (problems.length) {
    for (const p of problems) err(p);
    throw new CliError(`${problems.length} error(s) in the bundle's flows; nothing was changed`);
  }

  const c = AdminClient.from(opts);
  const inTenant = { params: { path: { tenant } } };
  const inTeam = { params: { path: { tenant, team } } };
  const validate = (f: { file: string; source: string }) =>
    c.call(
      c.api.POST('/v1/tenants/{tenant}/teams/{team}/flows/validate', {
        ...inTeam,
        body: { file_name: f.file, source: f.source },
      }),
    );
  const tenantExists = async () => !!(await c.find(c.api.GET('/v1/tenants/{tenant}', inTenant)));
  const existingTeam = (await tenantExists())
    ? await c.find(c.api.GET('/v1/tenants/{tenant}/teams/{team}', inTeam))
    : undefined;
  // With an existing team, the server's own checks (synced templates) run too before anything changes.
  if (existingTeam) {
    for (const f of flows) {
      try {
        await validate(f);
      } catch (e) {
        if (!(e instanceof AdminApiError) || e.code !== 'invalid_flow') throw e;
        for (const d of e.details) problems.push(formatIssue(d));
      }
    }
    if (problems.length) {
      for (const p of problems) err(p);
      throw new CliError(`${problems.length} error(s) in the bundle's flows; nothing was changed`);
    }
  }

  // 4. Tenant, team, provider, flows. If a step fails, what this run created is deleted again (the tenant, or the
  // team in an existing tenant), so a failed setup of a new team leaves nothing behind. Server-side checks of the
  // flows run against the new team before the provider and flows are written.
  const changes: string[] = [];
  const createdTenant = !(await tenantExists());
  const appSecret = opts.appSecret ?? (process.env.GTC_APP_SECRET || undefined) ?? answers.options.app_secret;
  const options = { ...DEFAULTS, ...answers.options, ...(appSecret ? { app_secret: appSecret } : {}) };
  const flowLines: string[] = [];
  let provider: Schemas['Provider'] & { changed?: boolean };
  try {
    if (createdTenant) {
      await c.call(c.api.POST('/v1/tenants', { body: { slug: tenant, name: tenant } }));
      changes.push(`tenant ${tenant} created`);
    }
    if (!existingTeam) {
      await c.call(
        c.api.POST('/v1/tenants/{tenant}/teams', { ...inTenant, body: { slug: team, name: team } }),
      );
      changes.push(`team ${team} created`);
      for (const f of flows) await validate(f);
    }
    provider = await c.call(
      c.api.PUT('/v1/tenants/{tenant}/teams/{team}/provider', { ...inTeam, body: options }),
    );
    if (provider.changed) changes.push('provider configured');

    // 5. Flows: a new revision only when the source changed.
    for (const f of flows) {
      const r = await c.call(
        c.api.POST('/v1/tenants/{tenant}/teams/{team}/flows', {
          ...inTeam,
          body: { file_name: f.file, source: f.source },
        }),
      );
      flowLines.push(
        `  ${f.file}: ${r.flow.name} revision ${r.flow.revision}${r.created ? ' (new)' : r.changed ? ' (activated)' : ' (unchanged)'}`,
      );
      if (r.changed) changes.push(`flow ${r.flow.name} revision ${r.flow.revision}`);
      for (const w of r.warnings ?? []) err(`warning: ${formatIssue(w)}`);
    }
  } catch (e) {
    if (e instanceof AdminApiError) for (const d of e.details) err(formatIssue(d));
    const undo = createdTenant
      ? () => c.call(c.api.DELETE('/v1/tenants/{tenant}', inTenant))
      : !existingTeam
        ? () => c.call(c.api.DELETE('/v1/tenants/{tenant}/teams/{team}', inTeam))
        : undefined;
    let outcome: string;
    if (undo) {
      outcome = await undo().then(
        () => 'nothing was changed (what this setup had created was removed)',
        (u: Error) =>
          `could not remove the ${createdTenant ? 'tenant' : 'team'} this setup created (${u.message}); applied so far: ${changes.join(', ')}`,
      );
    } else {
      outcome = changes.length ? `applied before the failure: ${changes.join(', ')}` : 'nothing was changed';
    }
    throw new CliError(`${(e as Error).message}; ${outcome}`, e instanceof CliError ? e.exitCode : 1);
  }

  out(`Tenant: ${tenant}   Team: ${team}`);
  out(
    `Provider: phone number ${options.phone_number_id}, ${options.enabled ? 'enabled' : 'disabled'}, API ${options.api_version}`,
  );
  out(`Signatures: ${signatures(provider)}`);
  if (flowLines.length) {
    out('Flows:');
    for (const l of flowLines) out(l);
  } else out('Flows: none in flows/*.ygtc');
  out(
    changes.length ? `Changed: ${changes.join(', ')}` : 'Nothing changed: everything was already up to date.',
  );
  out('');
  out('Configure the webhook in Meta (WhatsApp → Configuration):');
  out(`  Callback URL: ${provider.webhook_url}`);
  out(`  Verify token: ${provider.verify_token}`);
  out('  Subscribe to: messages');
  if (!provider.has_app_secret && !provider.insecure_skip_signature) {
    err('');
    err(
      'WARNING: no app secret is configured: ingress refuses every webhook from Meta (401) until the provider has one.',
    );
    err('  Find it in Meta: your app → App settings → Basic → App secret. Then run this setup again with');
    err(`  ${APP_SECRET_SOURCES}.`);
  }
}

/** Registers `gtc setup`. */
export function setupCommand(program: Command, admin: () => AdminOptions): void {
  program
    .command('setup')
    .description(
      'create or update the tenant, team, WhatsApp provider and flows from answers.json and a bundle directory',
    )
    .argument(
      '<bundle>',
      'bundle directory (flows/*.ygtc, optional bundle.json or gtc.json with { "tenant", "team" }); created with a starter flow if missing',
    )
    .requiredOption('--answers <file>', 'answers.json with a "messaging-whatsapp" section')
    .option('--tenant <slug>', `tenant slug (default: bundle file, else "${DEFAULT_TENANT}")`)
    .option('--team <slug>', `team slug (default: bundle file, else "${DEFAULT_TEAM}")`)
    .option(
      '--app-secret <secret>',
      'the Meta app secret, to check webhook signatures (else GTC_APP_SECRET, else "app_secret" in answers.json)',
    )
    .action(async (bundle: string, opts: SetupOptions) => runSetup(bundle, { ...admin(), ...opts }));
}
