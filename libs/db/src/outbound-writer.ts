import { Prisma } from './generated/prisma/client';
import type { OutboundMessage } from './generated/prisma/client';
import { batchLocksSql, batchLocksTakenSql } from './advisory-locks';

// The one writer of outbound messages. The sender's ordering gate relies on each contact's messages having
// contiguous sequence numbers (1, 2, 3, …) in the order the recipient must see them: they are taken from
// contacts.next_seq, bumped under the contact's row lock, in the same statement that inserts the rows. Both
// writers compose the SQL below into a statement of their own: the flow-runner's step (which also writes
// sessions, inbound states and events: outboundWriteCtes) and insertOutboundMessages (one contact: the admin API).

/** The unique key that makes a write idempotent: one row per cause and ordinal. */
export const OUTBOUND_CAUSE_KEY = 'outbound_messages_cause_id_ordinal_key';

/** The relations an outbound write reads: names of CTEs (or tables) of the statement it is composed into. */
export interface OutboundWriteSql {
  /** One row per contact written to: `contact_id uuid`, `n int` (how many messages: it takes its next n seqs). */
  contacts: string;
  /**
   * One row per message: `contact_id`, `pos` (0 … n-1: its place among the contact's, so seq = first + pos),
   * `tenant_id`, `provider_id`, `cause_id` (text), `ordinal`, `type`, `body` (jsonb), `business_initiated`,
   * `retry_on_rate_limit`.
   */
  messages: string;
  /** More assignments on the contact row (`c`: the contact, `x`: its row of `contacts`), comma-separated. */
  setContact?: string;
  /** What `outb` returns (columns of outbound_messages); default `id, contact_id, ordinal`. */
  returning?: string;
}

/**
 * CTEs (to follow `WITH …,`) that write outbound messages: `contact_locks` takes the contacts' batch locks in key
 * order (batchLocksSql, as ingress takes them: concurrent writers never wait for each other in a circle), `seq` bumps
 * each contact's next_seq by its n and returns `id, first` (its first seq: the contact's seqs stay contiguous, and
 * the row lock orders concurrent writers), `outb` inserts the messages at `first + pos` and returns `returning`. A
 * message only goes to a contact whose row `seq` updated (outbound_messages.contact_id is no foreign key). A message
 * whose (cause_id, ordinal) exists fails the statement (unique violation, OUTBOUND_CAUSE_KEY), which then writes
 * nothing: no seq is taken without its row.
 */
export function outboundWriteCtes(o: OutboundWriteSql): string {
  return `contact_locks AS (
    ${batchLocksSql('contacts', o.contacts, 'contact_id')}
  ), seq AS (
    UPDATE contacts c SET next_seq = c.next_seq + x.n,${o.setContact ? ` ${o.setContact},` : ''} updated_at = now()
    FROM ${o.contacts} x WHERE c.id = x.contact_id AND ${batchLocksTakenSql('contact_locks')}
    RETURNING c.id, c.next_seq - x.n AS first
  ), outb AS (
    INSERT INTO outbound_messages (tenant_id, provider_id, contact_id, seq, cause_id, ordinal, type, body,
                                   business_initiated, retry_on_rate_limit, updated_at)
    SELECT m.tenant_id, m.provider_id, m.contact_id, seq.first + m.pos, m.cause_id, m.ordinal, m.type, m.body,
           m.business_initiated, m.retry_on_rate_limit, now()
    FROM ${o.messages} m JOIN seq ON seq.id = m.contact_id
    RETURNING ${o.returning ?? 'id, contact_id, ordinal'}
  )`;
}

/** An outbound message to write; the sequence number is assigned by insertOutboundMessages. */
export interface NewOutboundMessage {
  tenantId: string;
  providerId: string;
  /** Graph API message type (text, template, interactive, image, …). */
  type: string;
  /** The exact Graph API request body. */
  body: Prisma.InputJsonValue;
  /** Default false. */
  businessInitiated?: boolean;
  /** Default true. */
  retryOnRateLimit?: boolean;
  /** What caused it (inbound message id, or an API request id) and its position: makes re-runs idempotent. */
  causeId?: string;
  /** Default: its index in the list. */
  ordinal?: number;
}

// One contact's messages, passed as arrays (one per column). A batch statement: unnamed (libs/db/README.md).
const INSERT_FOR_CONTACT = `WITH x AS (
    SELECT $1::uuid AS contact_id, cardinality($2::uuid[]) AS n
  ), m AS (
    SELECT $1::uuid AS contact_id, m.pos - 1 AS pos, m.tenant_id, m.provider_id, m.cause_id, m.ordinal, m.type,
           m.body::jsonb AS body, m.business_initiated, m.retry_on_rate_limit
    FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::int[], $6::text[], $7::text[], $8::bool[], $9::bool[])
      WITH ORDINALITY AS m(tenant_id, provider_id, cause_id, ordinal, type, body, business_initiated, retry_on_rate_limit, pos)
  ), ${outboundWriteCtes({ contacts: 'x', messages: 'm', returning: '*' })}
  SELECT * FROM outb ORDER BY seq`;

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Writes outbound messages to one contact in one statement (outboundWriteCtes), taking the contact's next
 * sequence numbers. `db` is a Prisma client or the transaction client of the caller's transaction. After commit,
 * enqueue each row on the outbound queue (jobIds.outbound). A (cause_id, ordinal) that exists fails it and
 * writes nothing: isOutboundCauseTaken(err) tells. A contact that does not exist gets nothing: [].
 */
export async function insertOutboundMessages(
  db: Pick<Prisma.TransactionClient, '$queryRawUnsafe'>,
  contactId: string,
  messages: NewOutboundMessage[],
): Promise<OutboundMessage[]> {
  if (!messages.length) return [];
  const rows = await db.$queryRawUnsafe<Record<string, unknown>[]>(
    INSERT_FOR_CONTACT,
    contactId,
    messages.map((m) => m.tenantId),
    messages.map((m) => m.providerId),
    messages.map((m) => m.causeId ?? null),
    messages.map((m, i) => m.ordinal ?? i),
    messages.map((m) => m.type),
    messages.map((m) => JSON.stringify(m.body)),
    messages.map((m) => m.businessInitiated ?? false),
    messages.map((m) => m.retryOnRateLimit ?? true),
  );
  // Prisma's raw rows carry the model's values (Date, parsed JSON) under the columns' names.
  return rows.map(
    (r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [camel(k), v])) as unknown as OutboundMessage,
  );
}

/**
 * Whether a write failed because a message with its (cause_id, ordinal) exists: an idempotent retry, or a
 * concurrent one that won. As node-postgres reports it (23505), or Prisma (a raw statement's P2010 with the
 * driver's error as its cause).
 */
export function isOutboundCauseTaken(err: unknown): boolean {
  const pg = err as { code?: unknown; constraint?: unknown };
  if (pg?.code === '23505') return pg.constraint === OUTBOUND_CAUSE_KEY;
  if (!(err instanceof Prisma.PrismaClientKnownRequestError)) return false;
  const cause = (
    err.meta?.driverAdapterError as
      { cause?: { originalCode?: string; constraint?: { index?: string } } } | undefined
  )?.cause;
  return (
    err.code === 'P2010' && cause?.originalCode === '23505' && cause.constraint?.index === OUTBOUND_CAUSE_KEY
  );
}
