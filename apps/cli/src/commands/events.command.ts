import { Command, InvalidArgumentError, Option } from 'commander';
import { AdminApiError, AdminClient, AdminOptions } from '../admin-client';
import { CliError } from '../errors';
import { out, table } from '../output';

/** Largest page of `gtc events deliveries` (the API's limit). */
const MAX_DELIVERIES = 100;

/** Parses `--limit` of deliveries: 1..100, else a usage error (exit 2). */
function deliveriesLimit(value: string): string {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > MAX_DELIVERIES)
    throw new InvalidArgumentError(`must be a whole number from 1 to ${MAX_DELIVERIES}`);
  return value;
}

/** Parses `--events a,b`: the comma-separated list, without blanks (the admin API checks the names). */
function eventList(value: string): string[] {
  const types = value
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (!types.length) throw new InvalidArgumentError('list at least one event type, or * for all');
  return types;
}

/** Runs an admin API call whose 400 means bad input from the command line: reported field by field, exit 2. */
async function input<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (e) {
    if (e instanceof AdminApiError && e.status === 400) {
      const lines = e.details.map((d) => `\n  ${String(d.path ?? '')}: ${String(d.message ?? '')}`).join('');
      throw new CliError(`${e.message}${lines}`, 2);
    }
    throw e;
  }
}

/** Registers `gtc events endpoints add|list|remove` and `gtc events deliveries ENDPOINT` (event webhooks). */
export function eventsCommand(program: Command, admin: () => AdminOptions): void {
  const api = () => AdminClient.from(admin());
  const events = program
    .command('events')
    .description("event webhooks: a tenant's endpoints and their deliveries");

  const endpoints = events
    .command('endpoints')
    .description('endpoints that receive signed events (Standard Webhooks)');
  endpoints
    .command('add')
    .description('add an endpoint; prints its signing secret (shown once)')
    .argument('<url>', 'where events are POSTed (https in production)')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .requiredOption(
      '--events <types>',
      'comma-separated event types (message.received,message.status,…) or * for all',
      eventList,
    )
    .option('--team <slug>', "only this team's events (default: every team)")
    .option('--description <text>', 'what the endpoint is for')
    .option('--json', 'print JSON')
    .action(
      async (
        url: string,
        o: { tenant: string; events: string[]; team?: string; description?: string; json?: boolean },
      ) => {
        const body = {
          url,
          events: o.events,
          ...(o.team ? { team: o.team } : {}),
          ...(o.description !== undefined ? { description: o.description } : {}),
        };
        const c = api();
        const e = await input(
          c.call(
            c.api.POST('/v1/tenants/{tenant}/event-endpoints', {
              params: { path: { tenant: o.tenant } },
              body,
            }),
          ),
        );
        if (o.json) return out(JSON.stringify(e, null, 2));
        out(`id:     ${e.id}`);
        out(`url:    ${e.url}`);
        out(`events: ${e.events.join(', ')}`);
        out(`team:   ${e.team ?? '(every team)'}`);
        out(`secret: ${e.secret}   (shown once: store it now; deliveries are signed with it)`);
      },
    );
  endpoints
    .command('list')
    .description("list a tenant's endpoints (never their secrets)")
    .requiredOption('--tenant <slug>', 'tenant slug')
    .option('--json', 'print JSON')
    .action(async (o: { tenant: string; json?: boolean }) => {
      const c = api();
      const res = await c.call(
        c.api.GET('/v1/tenants/{tenant}/event-endpoints', {
          params: { path: { tenant: o.tenant }, query: { limit: 200 } },
        }),
      );
      if (o.json) return out(JSON.stringify(res, null, 2));
      table(
        res.data.map((e) => ({ ...e, events: e.events.join(',') })),
        ['id', 'url', 'events', 'team', 'enabled', 'disabled_reason'],
      );
    });
  endpoints
    .command('remove')
    .description('delete an endpoint with its deliveries')
    .argument('<id>', 'endpoint id')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .action(async (id: string, o: { tenant: string }) => {
      const c = api();
      await c.call(
        c.api.DELETE('/v1/tenants/{tenant}/event-endpoints/{id}', {
          params: { path: { tenant: o.tenant, id } },
        }),
      );
      out(`endpoint ${id} removed`);
    });

  events
    .command('deliveries')
    .description("an endpoint's deliveries, newest first: each event's state, attempts and last error")
    .argument('<endpoint>', 'endpoint id')
    .requiredOption('--tenant <slug>', 'tenant slug')
    .addOption(
      new Option('--state <state>', 'only deliveries in this state').choices([
        'pending',
        'delivered',
        'failed',
      ]),
    )
    .option('--limit <n>', `page size (max ${MAX_DELIVERIES})`, deliveriesLimit, '50')
    .option('--cursor <c>', 'next page')
    .option('--json', 'print JSON (with every attempt)')
    .action(
      async (
        endpoint: string,
        o: {
          tenant: string;
          state?: 'pending' | 'delivered' | 'failed';
          limit: string;
          cursor?: string;
          json?: boolean;
        },
      ) => {
        const c = api();
        const query = {
          limit: Number(o.limit),
          ...(o.state ? { state: o.state } : {}),
          ...(o.cursor ? { cursor: o.cursor } : {}),
        };
        const res = await input(
          c.call(
            c.api.GET('/v1/tenants/{tenant}/event-endpoints/{id}/deliveries', {
              params: { path: { tenant: o.tenant, id: endpoint }, query },
            }),
          ),
        );
        if (o.json) return out(JSON.stringify(res, null, 2));
        table(res.data, ['id', 'type', 'state', 'attempt_count', 'last_status', 'last_error', 'created_at']);
        if (res.next_cursor) out(`(more: --cursor ${res.next_cursor})`);
      },
    );
}
