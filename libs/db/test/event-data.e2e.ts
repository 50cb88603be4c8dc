import { afterAll, describe, expect, it } from 'vitest';
import { createPgPool, eventContactSql, eventInboundSql, eventOutboundSql } from '@gtc/db';
import { testEnv } from '@gtc/testing';

// The members of event `data` the producers build in SQL (EventData in event-outbox.ts), evaluated by the real
// Postgres over rows of the real tables' types (jsonb_populate_record: a renamed or retyped column fails here).
const pool = createPgPool(testEnv().databaseUrl);
afterAll(async () => {
  await pool.end();
});

async function build(table: string, alias: string, sql: string, row: Record<string, unknown>): Promise<unknown> {
  const { rows } = await pool.query<{ data: unknown }>(`SELECT ${sql} AS data FROM jsonb_populate_record(NULL::${table}, $1::jsonb) ${alias}`, [JSON.stringify(row)]);
  return rows[0]!.data;
}

const ID = '0b7e6a1c-3f2d-4c8e-9a51-7d2e4f6b8c90';
const OTHER = '11111111-2222-4333-8444-555555555555';

const contacts: { name: string; row: Record<string, unknown>; contact: unknown }[] = [
  {
    name: 'a contact with every field',
    row: { id: ID, tenant_id: OTHER, wa_id: '4917000', user_id: 'US.1', parent_user_id: 'US.ENT.1', profile_name: 'Ada', opted_out: true, next_seq: 7 },
    contact: { id: ID, wa_id: '4917000', user_id: 'US.1', name: 'Ada' },
  },
  { name: 'a username-only user (no wa_id)', row: { id: ID, user_id: 'US.2', profile_name: 'Zed' }, contact: { id: ID, wa_id: null, user_id: 'US.2', name: 'Zed' } },
  { name: 'a contact known by number only', row: { id: ID, wa_id: '4917000' }, contact: { id: ID, wa_id: '4917000', user_id: null, name: null } },
];

describe('eventContactSql: { id, wa_id, user_id, name }, nulls where unknown, nothing else', () => {
  it.each(contacts)('$name', async ({ row, contact }) => {
    expect(await build('contacts', 'c', eventContactSql('c'), row)).toEqual(contact);
  });
});

const body = { to: '4917000', type: 'text', text: { body: 'hi' } };
// jsonb_populate_record applies no column defaults: the state is always given.
const outbound = (over: Record<string, unknown>) => ({ id: ID, contact_id: OTHER, type: 'text', body, state: 'queued', seq: 3, attempts: 1, ...over });
const message = (over: Record<string, unknown>) => ({ id: ID, direction: 'outbound', wamid: null, type: 'text', content: body, state: 'queued', error: null, ...over });

const outbounds: { name: string; row: Record<string, unknown>; message: unknown }[] = [
  { name: 'queued', row: outbound({ state: 'queued' }), message: message({}) },
  { name: 'sent (wamid)', row: outbound({ state: 'sent', wamid: 'wamid.S' }), message: message({ state: 'sent', wamid: 'wamid.S' }) },
  {
    name: 'failed by Meta (code, class, message)',
    row: outbound({ state: 'failed', wamid: 'wamid.F', error_code: 131026, error_class: 'permanent', last_error: 'undeliverable' }),
    message: message({ state: 'failed', wamid: 'wamid.F', error: { code: 131026, class: 'permanent', message: 'undeliverable' } }),
  },
  {
    name: 'failed by us, without a code (window closed)',
    row: outbound({ state: 'failed', error_class: 'window_closed', last_error: 'the 24-hour window is closed' }),
    message: message({ state: 'failed', error: { code: null, class: 'window_closed', message: 'the 24-hour window is closed' } }),
  },
  {
    name: 'failed with nothing recorded',
    row: outbound({ state: 'failed' }),
    message: message({ state: 'failed', error: { code: null, class: null, message: null } }),
  },
  {
    name: 'delivered after a throttled attempt: the code of that attempt is still shown',
    row: outbound({ state: 'delivered', wamid: 'wamid.D', error_code: 130429, error_class: 'throttled', last_error: 'rate limit' }),
    message: message({ state: 'delivered', wamid: 'wamid.D', error: { code: 130429, class: 'throttled', message: 'rate limit' } }),
  },
  {
    name: 'retrying after a transient error without a code: no error member until it fails',
    row: outbound({ state: 'queued', error_class: 'transient', last_error: 'socket hang up' }),
    message: message({}),
  },
  {
    name: 'a template (content is the stored body)',
    row: outbound({ type: 'template', body: { to: '4917000', type: 'template', template: { name: 'hello', language: { code: 'en' } } } }),
    message: message({ type: 'template', content: { to: '4917000', type: 'template', template: { name: 'hello', language: { code: 'en' } } } }),
  },
];

describe('eventOutboundSql: { id, direction, wamid, type, content, state, error }', () => {
  it.each(outbounds)('$name', async ({ row, message: expected }) => {
    expect(await build('outbound_messages', 'o', eventOutboundSql('o'), row)).toEqual(expected);
  });
});

const inbounds: { name: string; row: Record<string, unknown>; message: unknown }[] = [
  {
    name: 'a text: content without Meta’s raw object',
    row: { id: ID, wamid: 'wamid.I', type: 'text', state: 'processed', payload: { text: 'hi', raw: { id: 'wamid.I', text: { body: 'hi' } } }, error: 'x' },
    message: { id: ID, direction: 'inbound', wamid: 'wamid.I', type: 'text', content: { text: 'hi' }, state: 'processed' },
  },
  {
    name: 'a payload without raw is kept whole',
    row: { id: ID, wamid: 'wamid.J', type: 'image', state: 'pending', payload: { media: { id: 'm1', mimeType: 'image/jpeg' } } },
    message: { id: ID, direction: 'inbound', wamid: 'wamid.J', type: 'image', content: { media: { id: 'm1', mimeType: 'image/jpeg' } }, state: 'pending' },
  },
];

describe('eventInboundSql: { id, direction, wamid, type, content, state }', () => {
  it.each(inbounds)('$name', async ({ row, message: expected }) => {
    expect(await build('inbound_messages', 'i', eventInboundSql('i'), row)).toEqual(expected);
  });
});
