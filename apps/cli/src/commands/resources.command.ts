import { Command } from 'commander';
import { AdminClient, AdminOptions } from '../admin-client';
import { out, table } from '../output';

type Rows = { data: Array<Record<string, unknown>>; next_cursor: string | null };

/** Adds --limit and --cursor (the `next_cursor` of the page before) to a list command. */
function paged(cmd: Command): Command {
  return cmd
    .option('--limit <n>', 'page size (max 200)', '50')
    .option('--cursor <c>', 'the next page (the value the previous page printed)');
}

/** limit and cursor as query parameters (a --limit that is not a number reaches the API, which names it). */
function page(o: { limit: string; cursor?: string }): { limit: number; cursor?: string } {
  return { limit: Number(o.limit), ...(o.cursor ? { cursor: o.cursor } : {}) };
}

/** Prints a list answer as JSON or as a table, with a hint when more pages exist. */
function print(res: Rows, columns: string[], json?: boolean): void {
  if (json) return out(JSON.stringify(res, null, 2));
  table(res.data, columns);
  if (res.next_cursor) out(`(more: --cursor ${res.next_cursor})`);
}

/** Registers the operator's everyday read commands: tenants, teams, provider, contacts, messages, stats, api-keys. */
export function resourceCommands(program: Command, admin: () => AdminOptions): void {
  const api = () => AdminClient.from(admin());

  const tenants = program.command('tenants').description('tenants');
  paged(tenants.command('list').description('list tenants (admin key)'))
    .option('--json', 'print JSON')
    .action(async (o: { limit: string; cursor?: string; json?: boolean }) => {
      const c = api();
      print(
        await c.call(c.api.GET('/v1/tenants', { params: { query: page(o) } })),
        ['slug', 'name', 'created_at'],
        o.json,
      );
    });
  tenants
    .command('create')
    .description('create a tenant (admin key)')
    .argument('<slug>', 'tenant slug')
    .option('--name <name>', 'display name')
    .action(async (slug: string, o: { name?: string }) => {
      const c = api();
      const t = await c.call(c.api.POST('/v1/tenants', { body: { slug, name: o.name ?? slug } }));
      out(`tenant ${t.slug} created`);
    });

  paged(program.command('teams').description("list a tenant's teams"))
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--json', 'print JSON')
    .action(async (o: { tenant: string; limit: string; cursor?: string; json?: boolean }) => {
      const c = api();
      const res = await c.call(
        c.api.GET('/v1/tenants/{tenant}/teams', { params: { path: { tenant: o.tenant }, query: page(o) } }),
      );
      print(res, ['slug', 'name', 'phone_number_id', 'created_at'], o.json);
    });

  program
    .command('provider')
    .description("show a team's WhatsApp provider (secrets redacted) and its webhook URL")
    .requiredOption('--tenant <slug>', 'tenant slug')
    .requiredOption('--team <slug>', 'team slug')
    .action(async (o: { tenant: string; team: string }) => {
      const c = api();
      out(
        JSON.stringify(
          await c.call(
            c.api.GET('/v1/tenants/{tenant}/teams/{team}/provider', {
              params: { path: { tenant: o.tenant, team: o.team } },
            }),
          ),
          null,
          2,
        ),
      );
    });

  paged(program.command('contacts').description("search a tenant's contacts"))
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--team <slug>', 'only this team')
    .option('--q <text>', 'wa_id, user_id or name contains')
    .option('--json', 'print JSON')
    .action(
      async (o: {
        tenant: string;
        team?: string;
        q?: string;
        limit: string;
        cursor?: string;
        json?: boolean;
      }) => {
        const c = api();
        const query = { ...page(o), ...(o.team ? { team: o.team } : {}), ...(o.q ? { q: o.q } : {}) };
        print(
          await c.call(
            c.api.GET('/v1/tenants/{tenant}/contacts', { params: { path: { tenant: o.tenant }, query } }),
          ),
          ['id', 'team', 'wa_id', 'name', 'opted_out', 'window_open'],
          o.json,
        );
      },
    );

  const messages = program.command('messages').description('messages');
  paged(messages.command('list').description("list a tenant's messages, newest first"))
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--team <slug>', 'only this team')
    .option('--state <states>', 'comma-separated states (queued,sending,sent,delivered,read,failed,…)')
    .option('--contact <id>', 'only this contact')
    .option('--since <iso>', 'created at or after')
    .option('--inbound', 'inbound messages instead of outbound')
    .option('--json', 'print JSON')
    .action(
      async (o: {
        tenant: string;
        team?: string;
        state?: string;
        contact?: string;
        since?: string;
        inbound?: boolean;
        limit: string;
        cursor?: string;
        json?: boolean;
      }) => {
        const c = api();
        const query = {
          ...page(o),
          direction: o.inbound ? ('inbound' as const) : ('outbound' as const),
          team: o.team,
          state: o.state,
          contact: o.contact,
          since: o.since,
        };
        const cols = o.inbound
          ? ['id', 'type', 'state', 'wamid', 'received_at']
          : ['id', 'seq', 'type', 'state', 'attempts', 'wamid', 'created_at'];
        print(
          await c.call(
            c.api.GET('/v1/tenants/{tenant}/messages', { params: { path: { tenant: o.tenant }, query } }),
          ),
          cols,
          o.json,
        );
      },
    );
  messages
    .command('show')
    .description('one message with its status timeline')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .argument('<id>', 'message id')
    .action(async (id: string, o: { tenant: string }) => {
      const c = api();
      out(
        JSON.stringify(
          await c.call(
            c.api.GET('/v1/tenants/{tenant}/messages/{id}', { params: { path: { tenant: o.tenant, id } } }),
          ),
          null,
          2,
        ),
      );
    });

  program
    .command('stats')
    .description("a tenant's counts by state, queue depths, paused providers and tier usage")
    .requiredOption('--tenant <slug>', 'tenant slug')
    .action(async (o: { tenant: string }) => {
      const c = api();
      out(
        JSON.stringify(
          await c.call(c.api.GET('/v1/tenants/{tenant}/stats', { params: { path: { tenant: o.tenant } } })),
          null,
          2,
        ),
      );
    });

  const keys = program.command('api-keys').description('tenant API keys (admin key)');
  keys
    .command('create')
    .description('create a tenant API key (shown once)')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--name <name>', 'what the key is for')
    .action(async (o: { tenant: string; name?: string }) => {
      const c = api();
      const k = await c.call(
        c.api.POST('/v1/tenants/{tenant}/api-keys', {
          params: { path: { tenant: o.tenant } },
          body: o.name ? { name: o.name } : {},
        }),
      );
      out(`id:  ${k.id}`);
      out(`key: ${k.key}   (shown once: store it now)`);
    });
  paged(keys.command('list').description("list a tenant's API keys (no key material)"))
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--json', 'print JSON')
    .action(async (o: { tenant: string; limit: string; cursor?: string; json?: boolean }) => {
      const c = api();
      const res = await c.call(
        c.api.GET('/v1/tenants/{tenant}/api-keys', {
          params: { path: { tenant: o.tenant }, query: page(o) },
        }),
      );
      print(res, ['id', 'name', 'prefix', 'created_at', 'last_used_at', 'revoked_at'], o.json);
    });
}
